//! new/old/urgent counting, listing selection and the RFC 3842 message-summary body.
//!
//! Reference: `docs/reference/asterisk-imap-behaviour.md` §4.2 (SEARCH keys per
//! count, aggregations, what MWI publishes), §4.4 (listing keys);
//! `docs/reference/asterisk-observed.md` §5.1 (what each query reports).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;
use std::hash::Hash;

use thiserror::Error;

use crate::flags::MessageFlags;
use crate::folder::{Folder, FolderStorage};
use crate::identity::VoicemailIdentity;
use imapvm_types::{SearchKey, Uid};

/// The answers of a count made of Asterisk's three searches (new, urgent, old: with
/// ESEARCH each is answered by tag) plus old-and-flagged (RFC 3842's old urgent): every UID
/// found, in answer order and once, with the flags its answer implies. A message whose flags
/// changed between two searches is found by both (or by none): the first answer counts.
pub fn count_hits<U: Copy + Eq + Hash>(
    new: &[U],
    urgent: &[U],
    old: &[U],
    old_flagged: &[U],
) -> (Vec<U>, HashMap<U, MessageFlags>) {
    let mut hits = Vec::new();
    let mut flags = HashMap::new();
    for (found, seen, flagged) in [
        (new, false, false),
        (urgent, false, true),
        (old, true, false),
    ] {
        for &uid in found {
            if let Entry::Vacant(e) = flags.entry(uid) {
                e.insert(MessageFlags {
                    seen,
                    flagged: flagged || (seen && old_flagged.contains(&uid)),
                    deleted: false,
                });
                hits.push(uid);
            }
        }
    }
    (hits, flags)
}

/// What policy needs to know of one fetched message: its UID, flags and the
/// two identity header values (first occurrence, unfolded; `None` if absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageFacts<'a> {
    /// The message's UID.
    pub uid: Uid,
    /// Its system flags.
    pub flags: MessageFlags,
    /// `X-Asterisk-VM-Extension` value.
    pub extension: Option<&'a str>,
    /// `X-Asterisk-VM-Context` value.
    pub context: Option<&'a str>,
}

/// The state of a message in `imapfolder` (Asterisk's folders 0, 11, 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageState {
    /// Unseen, not flagged.
    New,
    /// Unseen, `\Flagged`.
    Urgent,
    /// `\Seen` (flagged or not: a heard urgent message is old).
    Old,
}

impl MessageState {
    /// The state of a message with these flags; `None` when `\Deleted`
    /// (a deleted message is in no count and no listing).
    pub const fn of(flags: MessageFlags) -> Option<MessageState> {
        if flags.deleted {
            None
        } else if flags.seen {
            Some(MessageState::Old)
        } else if flags.flagged {
            Some(MessageState::Urgent)
        } else {
            Some(MessageState::New)
        }
    }

    /// The word used in listings (`new`, `urgent`, `old`).
    pub const fn as_str(self) -> &'static str {
        match self {
            MessageState::New => "new",
            MessageState::Urgent => "urgent",
            MessageState::Old => "old",
        }
    }

    /// The Asterisk folder this state is shown as.
    pub const fn folder(self) -> Folder {
        match self {
            MessageState::New => Folder::Inbox,
            MessageState::Urgent => Folder::Urgent,
            MessageState::Old => Folder::Old,
        }
    }
}

impl fmt::Display for MessageState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a message with `flags` is counted for `folder` (§4.2): new =
/// unseen unflagged, urgent = unseen flagged, old = seen, other folders =
/// unseen; never when `\Deleted`.
pub const fn counts_in(folder: Folder, flags: MessageFlags) -> bool {
    if flags.deleted {
        return false;
    }
    match folder {
        Folder::Inbox => !flags.seen && !flags.flagged,
        Folder::Urgent => !flags.seen && flags.flagged,
        Folder::Old => flags.seen,
        _ => !flags.seen,
    }
}

/// Whether a message with `flags` is listed in `folder` (§4.4): like
/// [`counts_in`] for 0/1/11; folders 2–10 and greetings list every
/// undeleted message, seen or not.
pub const fn listed_in(folder: Folder, flags: MessageFlags) -> bool {
    match folder.storage() {
        FolderStorage::FlagStateInImapFolder => counts_in(folder, flags),
        FolderStorage::Mailbox | FolderStorage::GreetingFolder => !flags.deleted,
    }
}

fn flag_keys(folder: Folder, listing: bool) -> Vec<SearchKey> {
    // c-client's fixed order: UNDELETED, then FLAGGED/UNFLAGGED, then SEEN/UNSEEN.
    match folder {
        Folder::Inbox => vec![
            SearchKey::Undeleted,
            SearchKey::Unflagged,
            SearchKey::Unseen,
        ],
        Folder::Urgent => vec![SearchKey::Undeleted, SearchKey::Flagged, SearchKey::Unseen],
        Folder::Old => vec![SearchKey::Undeleted, SearchKey::Seen],
        _ if listing => vec![SearchKey::Undeleted],
        _ => vec![SearchKey::Undeleted, SearchKey::Unseen],
    }
}

/// The `UID SEARCH` keys that count `folder` for `identity`, exactly as
/// Asterisk sends them (§4.2). The hits still need [`VoicemailIdentity::matches`].
pub fn count_search(folder: Folder, identity: &VoicemailIdentity) -> Vec<SearchKey> {
    let mut keys = flag_keys(folder, false);
    keys.extend(identity.header_keys());
    keys
}

/// The `UID SEARCH` keys that list `folder` for `identity` (§4.4).
pub fn listing_search(folder: Folder, identity: &VoicemailIdentity) -> Vec<SearchKey> {
    let mut keys = flag_keys(folder, true);
    keys.extend(identity.header_keys());
    keys
}

/// One search for everything of `identity` in a mailbox, flags fetched
/// afterwards: `UNDELETED HEADER … HEADER …`. One round trip gives all
/// three counts with [`MwiCounts::tally`], where Asterisk sends three SEARCHes.
pub fn all_search(identity: &VoicemailIdentity) -> Vec<SearchKey> {
    let mut keys = vec![SearchKey::Undeleted];
    keys.extend(identity.header_keys());
    keys
}

/// The counts of one voicemail box's `imapfolder`. Unsigned: never −1 [INV-5].
///
/// `new` excludes urgent (AMI `MailboxCount` semantics,
/// `docs/reference/asterisk-observed.md` §5.1); `old` includes heard urgent messages;
/// `old_urgent` is the part of `old` still `\Flagged` (RFC 3842 needs it;
/// Asterisk does not report it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct MwiCounts {
    /// Unseen, unflagged, undeleted.
    pub new: u32,
    /// Unseen, flagged, undeleted.
    pub urgent: u32,
    /// Seen, undeleted.
    pub old: u32,
    /// Seen, flagged, undeleted (a subset of `old`).
    pub old_urgent: u32,
}

impl MwiCounts {
    /// Counts the messages of `identity` among `messages` (the fetched
    /// contents of `imapfolder`), applying the exact header filter.
    pub fn tally<'a, I>(identity: &VoicemailIdentity, messages: I) -> MwiCounts
    where
        I: IntoIterator<Item = &'a MessageFacts<'a>>,
    {
        let mut counts = MwiCounts::default();
        for m in messages {
            if !identity.matches(m.extension, m.context) {
                continue;
            }
            match MessageState::of(m.flags) {
                Some(MessageState::New) => counts.new = counts.new.saturating_add(1),
                Some(MessageState::Urgent) => counts.urgent = counts.urgent.saturating_add(1),
                Some(MessageState::Old) => {
                    counts.old = counts.old.saturating_add(1);
                    if m.flags.flagged {
                        counts.old_urgent = counts.old_urgent.saturating_add(1);
                    }
                }
                None => {}
            }
        }
        counts
    }

    /// Unseen messages, urgent included (`VM_INFO(box,count)`, RFC 3842 "new").
    pub const fn unseen(self) -> u32 {
        self.new.saturating_add(self.urgent)
    }

    /// Every undeleted message (the number `maxmsg` limits, §4.3 step 3).
    pub const fn total(self) -> u32 {
        self.new
            .saturating_add(self.urgent)
            .saturating_add(self.old)
    }

    /// What Asterisk publishes as MWI (`queue_mwi_event`, §4.2): `(new +
    /// urgent, old)`; its urgent field is always 0.
    pub const fn asterisk_published(self) -> (u32, u32) {
        (self.unseen(), self.old)
    }

    /// The triple Asterisk's `inboxcount2` returns: `(urgent, new, old)`.
    pub const fn inboxcount2(self) -> (u32, u32, u32) {
        (self.urgent, self.new, self.old)
    }
}

/// The MWI state of a box: known counts, or unknown (never yet counted, or
/// counting failed with no earlier result). Unknown is never shown as 0 or −1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MwiState {
    /// No count is known.
    Unknown,
    /// The last good count.
    Known(MwiCounts),
}

/// Counts unseen, undeleted messages of `identity` in a folder other than
/// `imapfolder` (Work…Cust5; §4.2 "other folders count unseen").
pub fn count_unseen<'a, I>(identity: &VoicemailIdentity, messages: I) -> u32
where
    I: IntoIterator<Item = &'a MessageFacts<'a>>,
{
    let mut n: u32 = 0;
    for m in messages {
        if identity.matches(m.extension, m.context) && !m.flags.deleted && !m.flags.seen {
            n = n.saturating_add(1);
        }
    }
    n
}

/// Longest `Message-Account` URI accepted in a message summary.
pub const MAX_ACCOUNT_BYTES: usize = 512;

/// A `Message-Account` value that cannot go into a message summary.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SummaryError {
    /// Empty, too long, or holding a control character.
    #[error(
        "Message-Account {account:?} is not a usable URI (empty, over {max} bytes, or with control characters)"
    )]
    BadAccount {
        /// The value (at most 200 characters).
        account: String,
        /// The length limit.
        max: usize,
    },
}

/// An RFC 3842 `application/simple-message-summary` body for known counts.
///
/// ```text
/// Messages-Waiting: yes
/// Message-Account: sip:1234@pbx.example
/// Voice-Message: 3/2 (1/0)
/// ```
/// `Voice-Message: new/old (urgent-new/urgent-old)` where new counts every
/// unseen message (urgent included) and the bracketed counts are the
/// urgent subsets. Built only from [`MwiCounts`]: an unknown state has no summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageSummary {
    counts: MwiCounts,
    account: Option<String>,
}

impl MessageSummary {
    /// A summary of `counts`, with an optional `Message-Account` URI.
    pub fn new(counts: MwiCounts, account: Option<&str>) -> Result<MessageSummary, SummaryError> {
        let account = account.map(str::trim);
        if let Some(a) = account
            && (a.is_empty() || a.len() > MAX_ACCOUNT_BYTES || a.chars().any(char::is_control))
        {
            return Err(SummaryError::BadAccount {
                account: a.chars().take(200).collect(),
                max: MAX_ACCOUNT_BYTES,
            });
        }
        Ok(MessageSummary {
            counts,
            account: account.map(str::to_owned),
        })
    }

    /// `Messages-Waiting: yes` when any message is unseen.
    pub fn messages_waiting(&self) -> bool {
        self.counts.unseen() > 0
    }
}

impl fmt::Display for MessageSummary {
    /// The body, CRLF line ends.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let waiting = if self.messages_waiting() { "yes" } else { "no" };
        write!(f, "Messages-Waiting: {waiting}\r\n")?;
        if let Some(account) = &self.account {
            write!(f, "Message-Account: {account}\r\n")?;
        }
        let c = self.counts;
        write!(
            f,
            "Voice-Message: {}/{} ({}/{})\r\n",
            c.unseen(),
            c.old,
            c.urgent,
            c.old_urgent
        )
    }
}
