//! Where a forwarded voicemail came from: two extra `X-Asterisk-VM-Orig-*` header fields
//! that a forwarded copy carries after its own headers.
//!
//! A forwarded copy has a fresh `X-Asterisk-VM-Message-ID` of its own (Asterisk's id-based
//! APIs must not confuse it with the original), and keeps the original's caller id,
//! `Orig-time`, `Orig-date`, duration and audio. The lineage says which message it copies:
//!
//! ```text
//! X-Asterisk-VM-Orig-Mailbox: 1234@default
//! X-Asterisk-VM-Orig-Message-ID: 1795674116-00000000
//! ```
//!
//! Asterisk looks its headers up by a case-insensitive *substring* search for `"{Tag}:"`
//! in the raw header block, first hit wins (`docs/reference/asterisk-imap-behaviour.md`
//! §2.8). Neither field name contains a
//! tag Asterisk reads (`X-Asterisk-VM-Message-ID:`, `X-Asterisk-VM-Orig-time:`, ...), the
//! values are restricted to characters that cannot spell one, and the fields are inserted
//! at the **end** of the header block, after the real ones. So Asterisk reads the copy
//! exactly as it reads any message, and the lineage is there for whoever wants it.
//!
//! ```
//! use imapvm_message::lineage::Lineage;
//!
//! let lineage = Lineage::new("1234@default", Some("1795674116-00000000")).unwrap();
//! let mut message = b"Subject: x\r\nX-Asterisk-VM-Message-ID: 1795680000-0000002a\r\n\r\nbody".to_vec();
//! assert!(lineage.insert_into(&mut message));
//! assert_eq!(Lineage::from_header_block(&message), Some(lineage));
//! ```

/// The field naming the mailbox (`box@context`) the original was in.
pub const ORIG_MAILBOX_HEADER: &str = "X-Asterisk-VM-Orig-Mailbox";
/// The field carrying the original's `X-Asterisk-VM-Message-ID`.
pub const ORIG_MSG_ID_HEADER: &str = "X-Asterisk-VM-Orig-Message-ID";

/// Longest value accepted in either field (Asterisk truncates header values at 79 bytes).
pub const MAX_LINEAGE_VALUE: usize = 79;

/// The origin of a forwarded voicemail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lineage {
    mailbox: String,
    msg_id: Option<String>,
}

/// Why a lineage value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LineageError {
    /// The mailbox is empty, too long, or has a character outside `[A-Za-z0-9@._+-]`.
    #[error("lineage mailbox {0:?} is not a plain box@context")]
    Mailbox(String),
    /// The msg id is too long or has a character outside `[A-Za-z0-9._+-]`.
    #[error("lineage msg id {0:?} is not a plain Asterisk msg id")]
    MsgId(String),
}

fn plain(value: &str, extra: &[u8]) -> bool {
    !value.is_empty()
        && value.len() <= MAX_LINEAGE_VALUE
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b) || extra.contains(&b))
}

impl Lineage {
    /// The lineage of a copy of the message `msg_id` (`None` when the original has none,
    /// or Asterisk's `(null)`) from `mailbox` (`box@context`).
    pub fn new(mailbox: &str, msg_id: Option<&str>) -> Result<Lineage, LineageError> {
        if !plain(mailbox, b"@") {
            return Err(LineageError::Mailbox(mailbox.to_owned()));
        }
        let msg_id = match msg_id.map(str::trim) {
            None | Some("" | "(null)") => None,
            Some(id) if plain(id, b"") => Some(id.to_owned()),
            Some(id) => return Err(LineageError::MsgId(id.to_owned())),
        };
        Ok(Lineage {
            mailbox: mailbox.to_owned(),
            msg_id,
        })
    }

    /// `box@context` of the original.
    pub fn mailbox(&self) -> &str {
        &self.mailbox
    }

    /// The original's msg id, when it had one.
    pub fn msg_id(&self) -> Option<&str> {
        self.msg_id.as_deref()
    }

    /// The header fields, CRLF after each.
    pub fn header_fields(&self) -> String {
        let mut out = format!("{ORIG_MAILBOX_HEADER}: {}\r\n", self.mailbox);
        if let Some(id) = &self.msg_id {
            out.push_str(&format!("{ORIG_MSG_ID_HEADER}: {id}\r\n"));
        }
        out
    }

    /// Inserts the fields at the end of `message`'s header block (before the empty line).
    /// Returns false (and leaves `message` alone) when it has no header/body separator.
    pub fn insert_into(&self, message: &mut Vec<u8>) -> bool {
        let Some(end) = memchr::memmem::find(message, b"\r\n\r\n") else {
            return false;
        };
        let at = end + 2;
        message.splice(at..at, self.header_fields().into_bytes());
        true
    }

    /// Reads the lineage from a header block (a whole message or a `HEADER.FIELDS` fetch):
    /// `None` when there is no well-formed `X-Asterisk-VM-Orig-Mailbox` field. Only the
    /// header block is looked at; the first occurrence of each field counts.
    pub fn from_header_block(block: &[u8]) -> Option<Lineage> {
        let end = memchr::memmem::find(block, b"\r\n\r\n")
            .or_else(|| memchr::memmem::find(block, b"\n\n"))
            .unwrap_or(block.len());
        let header = block.get(..end)?;
        let mut mailbox = None;
        let mut msg_id = None;
        for line in header.split(|b| *b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let Some(colon) = line.iter().position(|b| *b == b':') else {
                continue;
            };
            let (name, value) = (&line[..colon], &line[colon + 1..]);
            let Ok(value) = std::str::from_utf8(value) else {
                continue;
            };
            if name.eq_ignore_ascii_case(ORIG_MAILBOX_HEADER.as_bytes()) && mailbox.is_none() {
                mailbox = Some(value.trim().to_owned());
            } else if name.eq_ignore_ascii_case(ORIG_MSG_ID_HEADER.as_bytes()) && msg_id.is_none() {
                msg_id = Some(value.trim().to_owned());
            }
        }
        Lineage::new(&mailbox?, msg_id.as_deref()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The tags Asterisk's `get_header_by_tag` looks for (reference §2.8).
    const ASTERISK_TAGS: &[&str] = &[
        "X-Asterisk-VM-Context:",
        "X-Asterisk-VM-Extension:",
        "X-Asterisk-VM-Flag:",
        "X-Asterisk-VM-Caller-ID-Num:",
        "X-Asterisk-VM-Caller-ID-Name:",
        "X-Asterisk-VM-Duration:",
        "X-Asterisk-VM-Category:",
        "X-Asterisk-VM-Orig-time:",
        "X-Asterisk-VM-Orig-date:",
        "X-Asterisk-VM-Message-ID:",
    ];

    #[test]
    fn no_asterisk_tag_is_found_inside_the_lineage_fields() {
        let fields = Lineage::new("1234@default", Some("1795674116-00000000"))
            .unwrap()
            .header_fields()
            .to_ascii_lowercase();
        for tag in ASTERISK_TAGS {
            assert!(
                !fields.contains(&tag.to_ascii_lowercase()),
                "{tag} in {fields}"
            );
        }
    }

    #[test]
    fn null_and_empty_msg_ids_are_no_msg_id() {
        for id in [None, Some(""), Some("(null)"), Some("  ")] {
            let l = Lineage::new("1@a", id).unwrap();
            assert_eq!(l.msg_id(), None);
            assert!(!l.header_fields().contains(ORIG_MSG_ID_HEADER));
        }
    }

    #[test]
    fn values_that_could_break_a_header_are_refused() {
        assert!(matches!(
            Lineage::new("1234@default\r\nX-Asterisk-VM-Context: evil", None),
            Err(LineageError::Mailbox(_))
        ));
        assert!(matches!(
            Lineage::new("1234@default", Some("x: y")),
            Err(LineageError::MsgId(_))
        ));
        assert!(Lineage::new("", None).is_err());
        assert!(Lineage::new(&"9".repeat(MAX_LINEAGE_VALUE + 1), None).is_err());
    }

    #[test]
    fn a_message_without_header_end_is_left_alone() {
        let mut m = b"Subject: x\r\n".to_vec();
        assert!(!Lineage::new("1@a", None).unwrap().insert_into(&mut m));
        assert_eq!(m, b"Subject: x\r\n");
        assert_eq!(Lineage::from_header_block(&m), None);
    }

    #[test]
    fn fields_in_the_body_do_not_count() {
        let m = b"Subject: x\r\n\r\nX-Asterisk-VM-Orig-Mailbox: 1@a\r\n";
        assert_eq!(Lineage::from_header_block(m), None);
    }

    proptest! {
        #[test]
        fn insert_then_read_round_trips_and_keeps_the_rest(
            mailbox in "[0-9]{1,8}@[a-z0-9_-]{1,20}",
            msg_id in proptest::option::of("[0-9]{1,12}-[0-9a-f]{8}"),
            before in "[A-Za-z]{1,10}: [ -~]{0,40}",
            body in "[ -~]{0,40}",
        ) {
            let lineage = Lineage::new(&mailbox, msg_id.as_deref()).unwrap();
            let original = format!("{before}\r\n\r\n{body}").into_bytes();
            let mut m = original.clone();
            prop_assert!(lineage.insert_into(&mut m));
            prop_assert_eq!(Lineage::from_header_block(&m), Some(lineage.clone()));
            let fields = lineage.header_fields();
            let text = String::from_utf8(m).unwrap();
            prop_assert_eq!(text.replacen(&fields, "", 1).into_bytes(), original);
        }

        #[test]
        fn reading_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = Lineage::from_header_block(&bytes);
        }
    }
}
