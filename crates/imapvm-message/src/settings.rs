//! The mailbox settings that shape a message (a plain struct: this crate does not read voicemail.conf),
//! the per-message envelope inputs, and the building mode.

use crate::datetime::{DEFAULT_EMAIL_DATE_FORMAT, MailboxZone};

/// The effective `voicemail.conf` options of one mailbox that shape its messages.
///
/// Per-mailbox values must already override the global ones where Asterisk does so
/// (`serveremail`, `fromstring`, `emailsubject`, `emailbody`). Templates hold the text
/// after Asterisk's backslash escapes (see [`crate::template::substitute_escapes`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The mailbox's full name (`To:` display name, `${VM_NAME}`).
    pub full_name: String,
    /// The mailbox's `email` addresses (split on `|`); one `To:` line each.
    pub emails: Vec<String>,
    /// `imapuser`: the `To:` address for the stored copy when `emails` is empty.
    pub imap_user: String,
    /// Effective `serveremail` (default `asterisk`); `@{hostname}` is appended when it has no `@`.
    pub server_email: String,
    /// Effective `fromstring`; empty means the built-in `Asterisk PBX`.
    pub from_string: String,
    /// Effective `emailsubject`; `None` (or empty) means the built-in subject.
    pub email_subject: Option<String>,
    /// Effective `emailbody`; `None` means the built-in body.
    pub email_body: Option<String>,
    /// `pbxskip`: drop `[PBX]: ` from the built-in subject.
    pub pbx_skip: bool,
    /// `charset` (default `ISO-8859-1`): text part label and RFC 2047 charset.
    pub charset: String,
    /// `emaildateformat` (strftime, default `%A, %B %d, %Y at %r`).
    pub email_date_format: String,
    /// The mailbox's zone (`tz=` → `[zonemessages]`), UTC when unset.
    pub zone: MailboxZone,
}

impl Default for Settings {
    /// Asterisk's defaults for a mailbox with nothing set.
    fn default() -> Settings {
        Settings {
            full_name: String::new(),
            emails: Vec::new(),
            imap_user: String::new(),
            server_email: "asterisk".to_owned(),
            from_string: String::new(),
            email_subject: None,
            email_body: None,
            pbx_skip: false,
            charset: "ISO-8859-1".to_owned(),
            email_date_format: DEFAULT_EMAIL_DATE_FORMAT.to_owned(),
            zone: MailboxZone::utc(),
        }
    }
}

impl Settings {
    /// `X-Asterisk-VM-Orig-date` / `${VM_DATE}` for a time: `emaildateformat` in the mailbox's zone.
    pub fn email_date(&self, epoch: i64) -> Result<String, crate::BuildError> {
        self.zone.strftime(&self.email_date_format, epoch)
    }
}

/// Per-message inputs Asterisk would invent from the clock, `ast_random()`, `getpid()` and
/// `gethostname()`: passed in, so building is deterministic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The time of the `Date:` header (Unix seconds).
    pub date: i64,
    /// The full `Message-ID` header value, with angle brackets.
    pub message_id: String,
    /// The MIME boundary (without the leading `--`).
    pub boundary: String,
    /// The host name appended to a `serveremail` without `@`.
    pub hostname: String,
}

impl Envelope {
    /// Asterisk's Message-ID: `<Asterisk-{N}-{rand}-{mailbox}-{pid}@{host}>`.
    pub fn asterisk_message_id(
        msgnum: u32,
        random: u32,
        mailbox: &str,
        pid: u32,
        hostname: &str,
    ) -> String {
        format!("<Asterisk-{msgnum}-{random}-{mailbox}-{pid}@{hostname}>")
    }

    /// Asterisk's boundary: `----voicemail_{N}{mailbox}{pid}{rand}`.
    pub fn asterisk_boundary(msgnum: u32, mailbox: &str, pid: u32, random: u32) -> String {
        format!("----voicemail_{msgnum}{mailbox}{pid}{random}")
    }
}

/// How faithfully to copy Asterisk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Same layout and header set, quirks fixed: UTF-8 kept and labelled, correct RFC 2047,
    /// no `.` epilogue line, CRLF bodies, plus `Message-Context: voice-message` and `Content-Duration`.
    #[default]
    Default,
    /// Asterisk 22's bytes, quirks included (for byte-compatibility tests and strict peers).
    AsteriskExact,
}
