//! Which messages belong to `box@context` ([`MailboxId`], from `imapvm-types`): server-side
//! SEARCH keys and the exact post-filter.
//!
//! The exact post-filter ([`VoicemailIdentity::matches`]) keeps [INV-4]: box
//! `12` never sees box `123`'s messages, context `default` never `default2`'s.
//!
//! Reference: `docs/reference/asterisk-imap-behaviour.md` §3.3 (Extension =
//! `imapvmshareid` or box; HEADER search is a case-insensitive substring
//! match) and §4.2 (the SEARCH keys Asterisk sends).

use imapvm_types::{MAX_ID_BYTES, MailboxId, SearchKey};
use thiserror::Error;

/// The header carrying the voicemail box (or `imapvmshareid`).
pub const EXTENSION_HEADER: &str = "X-Asterisk-VM-Extension";
/// The header carrying the voicemail context.
pub const CONTEXT_HEADER: &str = "X-Asterisk-VM-Context";

/// An `imapvmshareid` that cannot be used as the Extension header (the box and context
/// themselves are checked by [`MailboxId`]).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// A required part is empty.
    #[error("{part} is empty in {input:?}")]
    Empty {
        /// `imapvmshareid`.
        part: &'static str,
        /// The whole input (at most 200 characters).
        input: String,
    },
    /// A part is longer than [`MAX_ID_BYTES`].
    #[error("{part} is {len} bytes, over the {max} byte limit")]
    TooLong {
        /// Which part.
        part: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A part holds a character that cannot be written into a header value
    /// or searched for (control characters, `@` in a box, whitespace).
    #[error("{part} {value:?} holds the forbidden character {ch:?}")]
    BadCharacter {
        /// Which part.
        part: &'static str,
        /// The value (at most 200 characters).
        value: String,
        /// The first forbidden character.
        ch: char,
    },
}

fn check_part(part: &'static str, value: &str, input: &str) -> Result<(), IdentityError> {
    if value.is_empty() {
        return Err(IdentityError::Empty {
            part,
            input: input.chars().take(200).collect(),
        });
    }
    if value.len() > MAX_ID_BYTES {
        return Err(IdentityError::TooLong {
            part,
            len: value.len(),
            max: MAX_ID_BYTES,
        });
    }
    if let Some(ch) = value
        .chars()
        .find(|c| c.is_control() || c.is_whitespace() || *c == '@' || *c == '"' || *c == '\\')
    {
        return Err(IdentityError::BadCharacter {
            part,
            value: value.chars().take(200).collect(),
            ch,
        });
    }
    Ok(())
}

/// The header values a box is stored and found under: Extension
/// (`imapvmshareid`, else the box) and Context (§3.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VoicemailIdentity {
    extension: String,
    context: String,
}

impl VoicemailIdentity {
    /// The identity of `id`, using `share_id` (`imapvmshareid`) when set
    /// and non-empty.
    pub fn new(id: &MailboxId, share_id: Option<&str>) -> Result<VoicemailIdentity, IdentityError> {
        let extension = match share_id {
            Some(s) if !s.is_empty() => {
                check_part("imapvmshareid", s, s)?;
                s.to_owned()
            }
            _ => id.mailbox().to_owned(),
        };
        Ok(VoicemailIdentity {
            extension,
            context: id.context().to_owned(),
        })
    }

    /// Value written to and searched in `X-Asterisk-VM-Extension`.
    pub fn extension(&self) -> &str {
        &self.extension
    }

    /// Value written to and searched in `X-Asterisk-VM-Context`.
    pub fn context(&self) -> &str {
        &self.context
    }

    /// The two HEADER keys Asterisk sends (§4.2). They narrow the search on
    /// the server but over-match; always apply [`matches`](Self::matches) to
    /// the fetched header values.
    pub fn header_keys(&self) -> [SearchKey; 2] {
        [
            SearchKey::header(EXTENSION_HEADER, self.extension.as_str()),
            SearchKey::header(CONTEXT_HEADER, self.context.as_str()),
        ]
    }

    /// The exact post-filter on the fetched `X-Asterisk-VM-Extension` and
    /// `X-Asterisk-VM-Context` values (first occurrence each, unfolded):
    /// equal after trimming surrounding whitespace, ASCII case-insensitively
    /// (Asterisk's lookups are case-insensitive; Exchange lower-cases, §2.8).
    /// A missing header never matches (Asterisk: the message is invisible).
    pub fn matches(&self, extension: Option<&str>, context: Option<&str>) -> bool {
        let same = |got: Option<&str>, want: &str| {
            got.is_some_and(|g| g.trim().eq_ignore_ascii_case(want))
        };
        same(extension, &self.extension) && same(context, &self.context)
    }
}
