//! [`Settings`]: what the binding reads from voicemail.conf (for the mailbox of the call)
//! and knows of the dialplan ([`Dialplan`]), as plain data.

use crate::names::{RecordFormat, SpoolName};

/// Asterisk's English envelope date format (`play_message_datetime`), used when the
/// mailbox has no `tz=` zone.
pub const DEFAULT_DATE_FORMAT: &str = "'vm-received' q 'digits/at' IMp";

/// voicemail.conf's options for the mailbox the call is about (the box's own value where
/// it has one, else `[general]`'s), plus the dialplan facts the flow needs.
///
/// [`Settings::default`] gives Asterisk's defaults. A `VoiceMailMain` call starts with
/// the settings of the box its argument names (or `[general]`'s when it names none) and
/// runs the session with those of the box that logged in ([`crate::Granted::settings`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `maxsecs` (old name `maxmessage`): the longest message in seconds; 0 = no limit.
    pub maxsecs: u32,
    /// `minsecs` (old name `minmessage`): a shorter message is discarded.
    pub minsecs: u32,
    /// `maxsilence`: seconds of silence that end a recording; 0 = no silence detection.
    pub maxsilence: u32,
    /// `silencethreshold` (Asterisk's default: dsp.conf's 256).
    pub silencethreshold: u32,
    /// `review`: offer the review menu after recording.
    pub review: bool,
    /// `operator`: `0` reaches the operator (extension `o`).
    pub operator: bool,
    /// `leaveurgent`: the caller may mark the message urgent in review.
    pub leaveurgent: bool,
    /// `maxmsg`. VoiceMail only uses 0 ("greetings only": play the greeting, take no
    /// message); the capacity check is the store's ([`crate::StoreOp::Admit`]).
    /// VoiceMailMain warns with `vm-mailboxfull` at login when urgent + new + old reach it.
    pub maxmsg: u32,
    /// The first `format=` entry: the recording's format.
    pub format: RecordFormat,
    /// What the dialplan holds.
    pub dialplan: Dialplan,
    /// `maxlogins`: wrong logins before `vm-goodbye` (at least 1 is used).
    pub maxlogins: u32,
    /// `minpassword`: the shortest new password accepted.
    pub minpassword: u32,
    /// The box's password starts with `-`: the caller may not change it (`vm-no`).
    pub password_locked: bool,
    /// `envelope`: say the date and time before each message.
    pub envelope: bool,
    /// `saycid`: say who called before each message.
    pub saycid: bool,
    /// `sayduration`: say the length of long messages.
    pub sayduration: bool,
    /// `saydurationm`: the length, in minutes, from which it is said.
    pub saydurationm: u32,
    /// `skipms`: how far `#` and `*` skip while a message plays, in milliseconds.
    pub skipms: u32,
    /// `messagewrap`: `4` at the first message goes to the last, `6` at the last to the
    /// first.
    pub messagewrap: bool,
    /// `nextaftercmd`: after `7` (delete) and `9` (save), play the next message.
    pub nextaftercmd: bool,
    /// `forcename`: a new user (password = mailbox number) records the name first.
    pub forcename: bool,
    /// `forcegreetings`: a new user records the unavailable and busy greetings first.
    pub forcegreetings: bool,
    /// `tempgreetwarn`: say `vm-tempgreetactive` at login while a temporary greeting is set.
    pub tempgreetwarn: bool,
    /// `usedirectory`: forwarding would offer Asterisk's `Directory()`. Accepted and not
    /// acted on: the caller always types the extension (AGI cannot hand the channel to
    /// `Directory()` and read back the chosen extension).
    pub usedirectory: bool,
    /// `callback`: the context for calling a message's sender back (advanced `2`).
    pub callback: Option<String>,
    /// `dialout`: the context for outgoing calls (advanced `4`, callback `2`).
    pub dialout: Option<String>,
    /// `sendvoicemail`: advanced `5` composes a new message to other mailboxes.
    pub sendvoicemail: bool,
    /// `cidinternalcontexts`: message contexts whose callers are mailboxes of the same
    /// context (their recorded name is said, or "extension" and the digits).
    pub cidinternalcontexts: Vec<String>,
    /// `forward_urgent_auto`: a message forwarded from the urgent list stays urgent.
    pub forward_urgent_auto: bool,
    /// `maxgreet`: the longest greeting in seconds; 0 = no limit.
    pub maxgreet: u32,
    /// The `[zonemessages]` entry named by the box's `tz=`: the envelope's zone and format.
    pub zone: Option<ZoneMessages>,
    /// `vm-login=`: the mailbox prompt instead of `vm-login`.
    pub login_prompt: Option<SpoolName>,
    /// `vm-password=`: the password prompt instead of `vm-password`.
    pub password_prompt: Option<SpoolName>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            maxsecs: 0,
            minsecs: 0,
            maxsilence: 0,
            silencethreshold: 256,
            review: false,
            operator: false,
            leaveurgent: true,
            maxmsg: 100,
            format: RecordFormat::wav(),
            dialplan: Dialplan::default(),
            maxlogins: 3,
            minpassword: 0,
            password_locked: false,
            envelope: true,
            saycid: false,
            sayduration: true,
            saydurationm: 2,
            skipms: 3000,
            messagewrap: false,
            nextaftercmd: false,
            forcename: false,
            forcegreetings: false,
            tempgreetwarn: false,
            usedirectory: false,
            callback: None,
            dialout: None,
            sendvoicemail: false,
            cidinternalcontexts: Vec::new(),
            forward_urgent_auto: false,
            maxgreet: 0,
            zone: None,
            login_prompt: None,
            password_prompt: None,
        }
    }
}

/// A `[zonemessages]` entry: `name = timezone|format`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneMessages {
    /// The time zone (`America/New_York`), as `SAY DATETIME` takes it.
    pub timezone: String,
    /// Asterisk's date format (`'vm-received' q 'digits/at' IMp`).
    pub format: String,
}

/// Dialplan facts. AGI cannot ask Asterisk whether an extension exists, so the binding
/// supplies them (from its configuration).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dialplan {
    /// voicemail.conf's `exitcontext` for the mailbox; `None` = the caller's current
    /// context.
    pub exitcontext: Option<String>,
    /// Extension `a` exists in the exit context (or the current one): `*` leaves to it.
    pub extension_a: bool,
    /// Extension `o` exists there: with `operator=yes`, `0` leaves to it.
    pub extension_o: bool,
    /// Extension `a` exists in the caller's **current** context: VoiceMailMain's `*` at
    /// the mailbox or password prompt leaves to it (`exitcontext` does not apply there).
    pub extension_a_current: bool,
}
