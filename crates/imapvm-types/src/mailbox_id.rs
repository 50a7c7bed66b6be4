//! [`MailboxId`]: a voicemail box as operators and Asterisk name it, `box@context`.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

/// Asterisk's context when none is given.
pub const DEFAULT_CONTEXT: &str = "default";
/// Longest box or context accepted (Asterisk keeps them under 80 bytes).
pub const MAX_ID_BYTES: usize = 79;

/// A name that cannot be a voicemail box.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MailboxIdError {
    /// The box or the context is empty.
    Empty {
        /// `mailbox` or `context`.
        part: &'static str,
        /// The whole input (at most 200 characters).
        input: String,
    },
    /// A part is longer than [`MAX_ID_BYTES`].
    TooLong {
        /// `mailbox` or `context`.
        part: &'static str,
        /// Its length in bytes.
        len: usize,
    },
    /// A part holds a character that cannot be written into a header value or searched
    /// for: a control character, whitespace, `@` in the box, `"` or `\`.
    BadCharacter {
        /// `mailbox` or `context`.
        part: &'static str,
        /// The value (at most 200 characters).
        value: String,
        /// The first forbidden character.
        ch: char,
    },
}

impl fmt::Display for MailboxIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MailboxIdError::Empty { part, input } => write!(
                f,
                "`{input}` is not a mailbox: the {part} is empty (write BOX@CONTEXT, e.g. 1234@default)"
            ),
            MailboxIdError::TooLong { part, len } => {
                write!(
                    f,
                    "the {part} is {len} bytes, over the {MAX_ID_BYTES} byte limit"
                )
            }
            MailboxIdError::BadCharacter { part, value, ch } => {
                write!(
                    f,
                    "the {part} `{value}` holds the forbidden character {ch:?}"
                )
            }
        }
    }
}

impl std::error::Error for MailboxIdError {}

fn check_part(part: &'static str, value: &str, input: &str) -> Result<(), MailboxIdError> {
    if value.is_empty() {
        return Err(MailboxIdError::Empty {
            part,
            input: input.chars().take(200).collect(),
        });
    }
    if value.len() > MAX_ID_BYTES {
        return Err(MailboxIdError::TooLong {
            part,
            len: value.len(),
        });
    }
    if let Some(ch) = value
        .chars()
        .find(|c| c.is_control() || c.is_whitespace() || *c == '@' || *c == '"' || *c == '\\')
    {
        return Err(MailboxIdError::BadCharacter {
            part,
            value: value.chars().take(200).collect(),
            ch,
        });
    }
    Ok(())
}

/// A voicemail box: `box@context` (context `default` when omitted).
///
/// Asterisk's `find_user` compares box and context without regard to ASCII case, so
/// `Eq`, `Ord` and `Hash` do too: `1234@Default` and `1234@default` are the same box and
/// the same key in a map. `Display` keeps the spelling it was built with.
#[derive(Debug, Clone)]
pub struct MailboxId {
    mailbox: String,
    context: String,
}

impl MailboxId {
    /// A box in a context, both validated.
    pub fn new(mailbox: &str, context: &str) -> Result<MailboxId, MailboxIdError> {
        let input = format!("{mailbox}@{context}");
        check_part("mailbox", mailbox, &input)?;
        check_part("context", context, &input)?;
        Ok(MailboxId {
            mailbox: mailbox.to_owned(),
            context: context.to_owned(),
        })
    }

    /// Parses `box@context`, or `box` (context `default`). Splits at the first `@`, as
    /// Asterisk does.
    pub fn parse(text: &str) -> Result<MailboxId, MailboxIdError> {
        match text.split_once('@') {
            Some((mailbox, context)) => MailboxId::new(mailbox, context),
            None => MailboxId::new(text, DEFAULT_CONTEXT),
        }
    }

    /// The box (`1234`).
    pub fn mailbox(&self) -> &str {
        &self.mailbox
    }

    /// The context (`default`).
    pub fn context(&self) -> &str {
        &self.context
    }

    fn folded(&self) -> impl Iterator<Item = u8> + '_ {
        self.mailbox
            .bytes()
            .chain(std::iter::once(b'@'))
            .chain(self.context.bytes())
            .map(|b| b.to_ascii_lowercase())
    }
}

impl PartialEq for MailboxId {
    fn eq(&self, other: &MailboxId) -> bool {
        self.mailbox.eq_ignore_ascii_case(&other.mailbox)
            && self.context.eq_ignore_ascii_case(&other.context)
    }
}

impl Eq for MailboxId {}

impl Hash for MailboxId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for b in self.folded() {
            state.write_u8(b);
        }
    }
}

impl Ord for MailboxId {
    fn cmp(&self, other: &MailboxId) -> Ordering {
        self.folded().cmp(other.folded())
    }
}

impl PartialOrd for MailboxId {
    fn partial_cmp(&self, other: &MailboxId) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for MailboxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.mailbox, self.context)
    }
}

impl FromStr for MailboxId {
    type Err = MailboxIdError;

    fn from_str(s: &str) -> Result<MailboxId, MailboxIdError> {
        MailboxId::parse(s)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for MailboxId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeSet, HashSet};

    #[test]
    fn context_defaults_and_splits_at_the_first_at() {
        let id = MailboxId::parse("1234").unwrap();
        assert_eq!((id.mailbox(), id.context()), ("1234", "default"));
        assert!(matches!(
            MailboxId::parse("12@a@b"),
            Err(MailboxIdError::BadCharacter { ch: '@', .. })
        ));
    }

    #[test]
    fn bad_names_are_refused() {
        for bad in ["", "@default", "1234@", "12 34@x", "12\"@x", "1\n2@x"] {
            assert!(MailboxId::parse(bad).is_err(), "{bad:?}");
        }
        let long = "9".repeat(MAX_ID_BYTES + 1);
        assert!(matches!(
            MailboxId::new(&long, "default"),
            Err(MailboxIdError::TooLong { .. })
        ));
    }

    #[test]
    fn compared_and_hashed_without_ascii_case() {
        let a = MailboxId::parse("Sales1@Default").unwrap();
        let b = MailboxId::parse("sales1@default").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.cmp(&b), Ordering::Equal);
        assert_eq!(HashSet::from([a.clone(), b.clone()]).len(), 1);
        assert_eq!(BTreeSet::from([a.clone(), b]).len(), 1);
        assert_eq!(a.to_string(), "Sales1@Default");
        assert_ne!(a, MailboxId::parse("sales12@default").unwrap());
        // `12@3` and `123@` style collisions cannot happen: the separator is part of the key.
        assert_ne!(
            MailboxId::new("12", "3x").unwrap(),
            MailboxId::new("123", "x").unwrap()
        );
    }
}
