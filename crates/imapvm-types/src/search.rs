//! [`SearchKey`]: one key of a `UID SEARCH`, as policy decides it and the protocol core sends
//! it.

use std::fmt;

use crate::uid::UidSet;

/// One key of an IMAP `UID SEARCH` (the subset voicemail needs). Several keys given together
/// AND; `Not` and `Or` nest.
///
/// `imapvm-policy` decides the keys (which flags, which identity headers) and
/// `imapvm-proto` encodes them, so both name the same type. `Display` renders the IMAP
/// text, header values quoted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SearchKey {
    /// `ALL`
    All,
    /// `SEEN`
    Seen,
    /// `UNSEEN`
    Unseen,
    /// `FLAGGED`
    Flagged,
    /// `UNFLAGGED`
    Unflagged,
    /// `DELETED`
    Deleted,
    /// `UNDELETED`
    Undeleted,
    /// `ANSWERED`
    Answered,
    /// `UNANSWERED`
    Unanswered,
    /// `KEYWORD kw`
    Keyword(String),
    /// `UNKEYWORD kw`
    Unkeyword(String),
    /// `HEADER name value`: a case-insensitive **substring** match on the server (RFC 3501
    /// §6.4.4), so filter exactly afterwards.
    Header(String, String),
    /// `UID set`
    Uid(UidSet),
    /// `NOT key`
    Not(Box<SearchKey>),
    /// `OR a b`
    Or(Box<SearchKey>, Box<SearchKey>),
}

impl SearchKey {
    /// `HEADER name value`.
    pub fn header(name: impl Into<String>, value: impl Into<String>) -> SearchKey {
        SearchKey::Header(name.into(), value.into())
    }
}

/// `text` as an IMAP quoted string.
fn quoted(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in text.chars() {
        if c == '"' || c == '\\' {
            f.write_str("\\")?;
        }
        write!(f, "{c}")?;
    }
    f.write_str("\"")
}

impl fmt::Display for SearchKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SearchKey::All => f.write_str("ALL"),
            SearchKey::Seen => f.write_str("SEEN"),
            SearchKey::Unseen => f.write_str("UNSEEN"),
            SearchKey::Flagged => f.write_str("FLAGGED"),
            SearchKey::Unflagged => f.write_str("UNFLAGGED"),
            SearchKey::Deleted => f.write_str("DELETED"),
            SearchKey::Undeleted => f.write_str("UNDELETED"),
            SearchKey::Answered => f.write_str("ANSWERED"),
            SearchKey::Unanswered => f.write_str("UNANSWERED"),
            SearchKey::Keyword(k) => write!(f, "KEYWORD {k}"),
            SearchKey::Unkeyword(k) => write!(f, "UNKEYWORD {k}"),
            SearchKey::Header(name, value) => {
                write!(f, "HEADER {name} ")?;
                quoted(f, value)
            }
            SearchKey::Uid(set) => write!(f, "UID {set}"),
            SearchKey::Not(key) => write!(f, "NOT {key}"),
            SearchKey::Or(a, b) => write!(f, "OR {a} {b}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Uid;

    #[test]
    fn keys_render_as_imap_text() {
        let header = SearchKey::header("X-Asterisk-VM-Extension", "12");
        assert_eq!(header.to_string(), "HEADER X-Asterisk-VM-Extension \"12\"");
        assert_eq!(
            SearchKey::header("Subject", "a \"b\" \\c").to_string(),
            "HEADER Subject \"a \\\"b\\\" \\\\c\""
        );
        let set: UidSet = [1, 2, 3, 7].into_iter().filter_map(Uid::new).collect();
        let or = SearchKey::Or(
            Box::new(SearchKey::Not(Box::new(SearchKey::Seen))),
            Box::new(SearchKey::Uid(set)),
        );
        assert_eq!(or.to_string(), "OR NOT SEEN UID 1:3,7");
    }
}
