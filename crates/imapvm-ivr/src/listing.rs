//! The plain data VoiceMailMain's store ops carry and return: messages named by
//! (folder, UIDVALIDITY, UID) ([`MessageRef`]), a folder's [`Listing`] of
//! [`MessageInfo`]s, the login [`Summary`], and the typed replies of the login, playback,
//! save, forward, greeting and password ops.

use crate::names::SpoolName;
use crate::settings::Settings;
use imapvm_policy::Folder;
use imapvm_types::{Uid, UidSet, UidValidity};
use std::fmt;
use std::time::Duration;

/// The most messages of one folder the IVR keeps; a longer listing is cut (Asterisk's
/// `MAXMSGLIMIT`, the highest `maxmsg` it accepts).
pub const MAX_LISTED: usize = 9999;
/// The longest caller-ID number said or replied to, in characters; a longer one is cut.
pub const MAX_CALLER_ID: usize = 80;

/// One message: the folder it was listed in, the folder's UIDVALIDITY and its UID.
///
/// `folder` is the list the caller was in: `Urgent`, `Inbox` ("new") and `Old` are
/// states of messages in `imapfolder` (the binding maps them there, as the runtime's
/// scopes do), the others are their own IMAP folders. A UID means nothing without its
/// UIDVALIDITY: the binding refuses (as [`Fetched::Gone`], [`Moved::Gone`], …) an op whose
/// UIDVALIDITY is no longer the folder's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageRef {
    /// The list the message was in.
    pub folder: Folder,
    /// The folder's UIDVALIDITY when it was listed.
    pub uid_validity: UidValidity,
    /// The message.
    pub uid: Uid,
}

impl MessageRef {
    /// The IMAP folder the message is stored in: `Inbox` (`imapfolder`) for the urgent,
    /// new and old lists, else the list's own folder. Deletes are grouped by it.
    pub fn storage(&self) -> Folder {
        storage_of(self.folder)
    }
}

/// `Inbox` for the lists kept in `imapfolder` (urgent, new, old), else the folder.
pub(crate) fn storage_of(folder: Folder) -> Folder {
    match folder {
        Folder::Urgent | Folder::Inbox | Folder::Old => Folder::Inbox,
        other => other,
    }
}

impl fmt::Display for MessageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} uv={} uid={}",
            self.folder, self.uid_validity, self.uid
        )
    }
}

/// What the IVR needs of a listed message: its UID and flags and the envelope it says
/// before the audio (`X-Asterisk-VM-*` headers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageInfo {
    /// The message's UID.
    pub uid: Uid,
    /// `\Seen`: the message was heard. Playing an unseen message issues
    /// [`crate::StoreOp::MarkSeen`].
    pub seen: bool,
    /// Urgent (`\Flagged`, or `X-Asterisk-VM-Flag: Urgent`): `vm-Urgent` before it.
    pub urgent: bool,
    /// `X-Asterisk-VM-Orig-time`: when it was left (seconds since the epoch); `None`
    /// when missing (the date is then not said).
    pub origtime: Option<u64>,
    /// `X-Asterisk-VM-Caller-ID-Num` (empty or `Unknown` when unknown).
    pub caller_id_num: String,
    /// `X-Asterisk-VM-Caller-ID-Name`.
    pub caller_id_name: String,
    /// `X-Asterisk-VM-Duration`, in seconds.
    pub duration_secs: u32,
    /// `X-Asterisk-VM-Category`, played as a sound file name when it is one.
    pub category: Option<String>,
}

/// A folder's messages, in Asterisk's order (oldest first), with its UIDVALIDITY.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    /// The folder's UIDVALIDITY.
    pub uid_validity: UidValidity,
    /// The messages; at most [`MAX_LISTED`] are kept.
    pub messages: Vec<MessageInfo>,
}

/// The start of a session in one reply: the messages of `imapfolder`, split as Asterisk
/// counts them (urgent = unseen and flagged, new = unseen and not flagged, old = seen),
/// which gives both the intro's counts and the starting list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// `imapfolder`'s UIDVALIDITY.
    pub uid_validity: UidValidity,
    /// Unseen, flagged.
    pub urgent: Vec<MessageInfo>,
    /// Unseen, not flagged.
    pub new: Vec<MessageInfo>,
    /// Seen.
    pub old: Vec<MessageInfo>,
    /// The IMAP quota is used up (`vm-mailboxfull` is said as a warning).
    pub quota_full: bool,
    /// A temporary greeting is set (asked only with `tempgreetwarn=yes`; `false`
    /// otherwise).
    pub temp_greeting: bool,
}

/// The store could not be asked (server down, connection lost). Nothing was changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StoreUnavailable;

impl fmt::Display for StoreUnavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unavailable")
    }
}

/// What voicemail.conf says of a mailbox ([`crate::StoreOp::Lookup`], or looked up by
/// the binding before the call for the box the arguments name, [`crate::Main::named`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BoxLookup {
    /// No such mailbox. A password is asked all the same (Asterisk does not say which
    /// boxes exist); the login then fails.
    Unknown,
    /// It exists and its password is empty or `-`: no password is asked.
    NoPin,
    /// It exists and has a password.
    Pin,
}

/// A granted login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Granted {
    /// The settings of the box that logged in; the session runs with them.
    pub settings: Settings,
    /// Its password equals its number: with `forcename` or `forcegreetings` the caller
    /// goes through the new-user setup first.
    pub new_user: bool,
}

/// The answer to [`crate::StoreOp::Authenticate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthReply {
    /// The password is right (or none was needed).
    Granted(Box<Granted>),
    /// Wrong password, or no such mailbox (the two are not told apart). The binding has
    /// counted the failure against the box ([`crate::LoginGuard::failed`]).
    Wrong,
    /// Too many wrong passwords lately: the box refuses every login for `retry_in`,
    /// whatever the password ([`crate::LoginGuard`]).
    Locked {
        /// How long until it accepts logins again.
        retry_in: Duration,
    },
    /// voicemail.conf could not be read.
    Unavailable,
}

/// The answer to [`crate::StoreOp::Fetch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// The audio, playable from the spool: the forward comment first if there is one.
    Audio {
        /// The recording.
        audio: SpoolName,
        /// The comment a forward put in front of it (Asterisk's `msgNNNNintro`).
        intro: Option<SpoolName>,
    },
    /// No longer there (expunged by another client, UIDVALIDITY changed), or no audio.
    Gone,
    /// The store could not be asked.
    Unavailable,
}

/// The answer to [`crate::StoreOp::Move`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Moved {
    /// Moved (or, between new and old, its `\Seen` flag changed).
    Done,
    /// The destination is over quota.
    Full,
    /// The message is no longer there.
    Gone,
    /// The store could not be asked; nothing moved.
    Unavailable,
}

/// The answer to [`crate::StoreOp::CheckTarget`]: may a message be forwarded or sent
/// there?
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetCheck {
    /// Yes; its recorded name (`greet`) is said, else its number.
    Valid {
        /// The recorded name, playable from the spool.
        name: Option<SpoolName>,
    },
    /// No such mailbox (`pbx-invalid`).
    Unknown,
    /// Full, by `maxmsg` or by quota (`vm-mailboxfull`).
    Full,
    /// The store could not be asked.
    Unavailable,
}

/// The answer to [`crate::StoreOp::ChangePassword`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PasswordChange {
    /// Written where `passwordlocation` says.
    Changed,
    /// `externpasscheck` refused it.
    Refused,
    /// It could not be written; the old password stays.
    Unavailable,
}

/// Messages marked for deletion in one folder, not yet expunged
/// ([`crate::Call::pending_deletes`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marked {
    /// The IMAP folder ([`MessageRef::storage`]).
    pub folder: Folder,
    /// Its UIDVALIDITY.
    pub uid_validity: UidValidity,
    /// The marked messages.
    pub uids: UidSet,
}
