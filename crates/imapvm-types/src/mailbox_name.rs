//! [`MailboxName`]: an IMAP mailbox name exactly as it travels on the wire.

use std::fmt;

/// Longest mailbox name (in wire bytes) accepted, built or sent.
pub const MAX_MAILBOX_NAME_BYTES: usize = 1024;

/// A name that cannot be an IMAP mailbox name on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MailboxNameError {
    /// Longer than [`MAX_MAILBOX_NAME_BYTES`].
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// NUL, CR or LF: no command or response can carry it.
    BadCharacter {
        /// The name (at most 200 characters).
        name: String,
        /// The first forbidden character.
        ch: char,
    },
}

impl fmt::Display for MailboxNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MailboxNameError::TooLong { len } => write!(
                f,
                "a mailbox name of {len} bytes is over the {MAX_MAILBOX_NAME_BYTES} byte limit"
            ),
            MailboxNameError::BadCharacter { name, ch } => {
                write!(
                    f,
                    "mailbox name {name:?} holds the forbidden character {ch:?}"
                )
            }
        }
    }
}

impl std::error::Error for MailboxNameError {}

/// An IMAP mailbox name as sent on the wire (modified UTF-7 for IMAP4rev1 servers, the full
/// path with the server's prefix and delimiter), e.g. `INBOX`, `INBOX.Work`, `user/vm/Old`.
///
/// Validated when built: at most [`MAX_MAILBOX_NAME_BYTES`], no NUL, CR or LF. The protocol
/// core sends and reports names of this type and policy builds them ([`MailboxName::from_wire`]
/// is the one constructor), so the runtime hands one to the other as it is. `INBOX` is
/// case-insensitive in IMAP: [`MailboxName::same_mailbox`] knows that; `Eq` compares exactly
/// (two spellings of another name are two mailboxes).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MailboxName(String);

impl MailboxName {
    /// A name exactly as it goes on (or came from) the wire.
    pub fn from_wire(wire: impl Into<String>) -> Result<MailboxName, MailboxNameError> {
        let wire = wire.into();
        if wire.len() > MAX_MAILBOX_NAME_BYTES {
            return Err(MailboxNameError::TooLong { len: wire.len() });
        }
        if let Some(ch) = wire.chars().find(|c| matches!(c, '\0' | '\r' | '\n')) {
            return Err(MailboxNameError::BadCharacter {
                name: wire.chars().take(200).collect(),
                ch,
            });
        }
        Ok(MailboxName(wire))
    }

    /// `INBOX`.
    pub fn inbox() -> MailboxName {
        MailboxName("INBOX".to_owned())
    }

    /// The wire form (what goes into SELECT, CREATE, APPEND, MOVE...).
    pub fn as_wire(&self) -> &str {
        &self.0
    }

    /// Whether this is `INBOX` (case-insensitive, RFC 3501 §5.1).
    pub fn is_inbox(&self) -> bool {
        self.0.eq_ignore_ascii_case("INBOX")
    }

    /// Same mailbox by IMAP rules: `INBOX` is case-insensitive, every other name is
    /// compared exactly.
    pub fn same_mailbox(&self, other: &MailboxName) -> bool {
        if self.is_inbox() || other.is_inbox() {
            return self.is_inbox() && other.is_inbox();
        }
        self.0 == other.0
    }
}

impl fmt::Display for MailboxName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for MailboxName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl TryFrom<&str> for MailboxName {
    type Error = MailboxNameError;

    fn try_from(wire: &str) -> Result<MailboxName, MailboxNameError> {
        MailboxName::from_wire(wire)
    }
}

impl TryFrom<String> for MailboxName {
    type Error = MailboxNameError;

    fn try_from(wire: String) -> Result<MailboxName, MailboxNameError> {
        MailboxName::from_wire(wire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_cannot_travel_are_refused() {
        assert_eq!(
            MailboxName::from_wire("INBOX.Work").unwrap().as_wire(),
            "INBOX.Work"
        );
        assert!(
            MailboxName::from_wire("").is_ok(),
            "the empty name is LIST's reference"
        );
        for bad in ["a\r\nb", "nul\0", "line\n"] {
            assert!(
                matches!(
                    MailboxName::from_wire(bad),
                    Err(MailboxNameError::BadCharacter { .. })
                ),
                "{bad:?}"
            );
        }
        let long = "x".repeat(MAX_MAILBOX_NAME_BYTES + 1);
        assert_eq!(
            MailboxName::from_wire(long),
            Err(MailboxNameError::TooLong {
                len: MAX_MAILBOX_NAME_BYTES + 1
            })
        );
    }

    #[test]
    fn inbox_is_one_mailbox_in_any_case_and_others_are_exact() {
        let inbox = MailboxName::from_wire("inbox").unwrap();
        assert!(inbox.is_inbox() && inbox.same_mailbox(&MailboxName::inbox()));
        assert_ne!(inbox, MailboxName::inbox(), "Eq compares exactly");
        let work = MailboxName::from_wire("Work").unwrap();
        assert!(!work.same_mailbox(&MailboxName::from_wire("work").unwrap()));
        assert!(!work.same_mailbox(&inbox));
    }
}
