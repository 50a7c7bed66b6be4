//! Validated names that leave the IVR as command arguments: [`SpoolName`] (a sound file
//! the binding can play or record into) and [`RecordFormat`] (`wav`, `wav49`, `gsm`).
//!
//! Both end up as words of an AGI command line (`STREAM FILE name ""`, `RECORD FILE name
//! wav …`), so neither may hold whitespace, quotes, backslashes or control characters.

use std::fmt;

/// Longest [`SpoolName`] accepted, in bytes (a `PATH_MAX`-style bound).
pub const MAX_SPOOL_NAME: usize = 1024;
/// Longest [`RecordFormat`] accepted, in bytes.
pub const MAX_FORMAT: usize = 16;

/// A name that cannot be a [`SpoolName`] or a [`RecordFormat`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// The name is empty.
    #[error("a {what} cannot be empty")]
    Empty {
        /// `sound file name` or `record format`.
        what: &'static str,
    },
    /// The name is longer than the bound.
    #[error("the {what} is {len} bytes, over the {limit} byte limit")]
    TooLong {
        /// `sound file name` or `record format`.
        what: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The bound.
        limit: usize,
    },
    /// The name holds a character that cannot appear in an AGI argument.
    #[error("the {what} `{shown}` holds the forbidden character {ch:?}")]
    BadCharacter {
        /// `sound file name` or `record format`.
        what: &'static str,
        /// The name (at most 200 characters).
        shown: String,
        /// The first forbidden character.
        ch: char,
    },
}

fn check(
    what: &'static str,
    text: &str,
    limit: usize,
    ok: impl Fn(char) -> bool,
) -> Result<(), NameError> {
    if text.is_empty() {
        return Err(NameError::Empty { what });
    }
    if text.len() > limit {
        return Err(NameError::TooLong {
            what,
            len: text.len(),
            limit,
        });
    }
    match text.chars().find(|c| !ok(*c)) {
        Some(ch) => Err(NameError::BadCharacter {
            what,
            shown: text.chars().take(200).collect(),
            ch,
        }),
        None => Ok(()),
    }
}

/// A sound file outside Asterisk's prompt set: a greeting, a recorded name, the caller's
/// recording, or a custom beep.
///
/// Asterisk names such a file by its path without extension
/// (`/var/spool/asterisk/voicemail/default/1234/busy`). The binding chooses these names
/// (the recording's in [`crate::Leave`], a greeting's in its reply to
/// [`crate::StoreOp::Greeting`]) and maps them to paths Asterisk can read or write; the IVR
/// only hands them back. At most [`MAX_SPOOL_NAME`] bytes, with no whitespace, control
/// character, `"` or `\`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpoolName(String);

impl SpoolName {
    /// A validated name.
    pub fn new(name: &str) -> Result<SpoolName, NameError> {
        check("sound file name", name, MAX_SPOOL_NAME, |c| {
            !(c.is_control() || c.is_whitespace() || c == '"' || c == '\\')
        })?;
        Ok(SpoolName(name.to_owned()))
    }

    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SpoolName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The audio format a recording is written in: the first entry of voicemail.conf's
/// `format=` (`wav49|gsm|wav` → `wav49`), as Asterisk's IMAP storage keeps only the first.
/// ASCII letters, digits and `_`, at most [`MAX_FORMAT`] bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RecordFormat(String);

impl RecordFormat {
    /// A validated format name.
    pub fn new(name: &str) -> Result<RecordFormat, NameError> {
        check("record format", name, MAX_FORMAT, |c| {
            c.is_ascii_alphanumeric() || c == '_'
        })?;
        Ok(RecordFormat(name.to_owned()))
    }

    /// Asterisk's default, `wav`.
    pub fn wav() -> RecordFormat {
        RecordFormat("wav".to_owned())
    }

    /// The format name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RecordFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spool_names_refuse_what_would_break_an_agi_line() {
        assert_eq!(
            SpoolName::new("/var/spool/asterisk/voicemail/default/1234/busy")
                .unwrap()
                .as_str(),
            "/var/spool/asterisk/voicemail/default/1234/busy"
        );
        for bad in ["", "a b", "a\"b", "a\\b", "a\nb", "a\tb"] {
            assert!(SpoolName::new(bad).is_err(), "{bad:?}");
        }
        assert!(matches!(
            SpoolName::new(&"x".repeat(MAX_SPOOL_NAME + 1)),
            Err(NameError::TooLong { .. })
        ));
        assert!(SpoolName::new(&"x".repeat(MAX_SPOOL_NAME)).is_ok());
    }

    #[test]
    fn record_formats_are_short_words() {
        for good in ["wav", "wav49", "WAV", "gsm", "sln16"] {
            assert_eq!(RecordFormat::new(good).unwrap().as_str(), good);
        }
        for bad in ["", "wav|gsm", "w v", "wav.", "abcdefghijklmnopq"] {
            assert!(RecordFormat::new(bad).is_err(), "{bad:?}");
        }
        assert_eq!(RecordFormat::wav().to_string(), "wav");
    }
}
