//! Typed errors of the message codec: building (caller input) and parsing (untrusted mail).

/// Building a message failed: the inputs cannot make a valid voicemail email.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A single-line header value contains CR, LF or another control character.
    #[error("field `{field}` contains a control character (byte {byte:#04x})")]
    ControlCharacter {
        /// Which field.
        field: &'static str,
        /// The offending byte.
        byte: u8,
    },
    /// The voicemail has no audio part (Asterisk always stores one).
    #[error("a voicemail needs at least one audio part")]
    NoAudio,
    /// More than two audio parts (recording + forward intro) were given.
    #[error("a voicemail has at most two audio parts (recording and intro), got {count}")]
    TooManyAudioParts {
        /// How many were given.
        count: usize,
    },
    /// The boundary is not a valid MIME boundary (1 to 70 characters of the RFC 2046 set).
    #[error("invalid MIME boundary {boundary:?}")]
    InvalidBoundary {
        /// The boundary given.
        boundary: String,
    },
    /// The Message-ID is not of the form `<left@right>`.
    #[error("invalid Message-ID {message_id:?} (expected <left@right>)")]
    InvalidMessageId {
        /// The Message-ID given.
        message_id: String,
    },
    /// The time zone is neither in the bundled tz database nor a POSIX TZ string.
    #[error("unknown time zone {name:?}")]
    UnknownTimeZone {
        /// The zone name.
        name: String,
    },
    /// The time is outside the range a date can be formatted for.
    #[error("time {epoch} is out of range")]
    TimeOutOfRange {
        /// The Unix time given.
        epoch: i64,
    },
    /// A header line would exceed RFC 5322's 998-byte limit.
    #[error("header `{field}` is too long ({len} bytes, limit 998)")]
    LineTooLong {
        /// Which header.
        field: String,
        /// Its line length.
        len: usize,
    },
    /// The audio is larger than Asterisk accepts (128 MiB).
    #[error("audio part `{filename}` is too large ({len} bytes, limit {limit})")]
    AudioTooLarge {
        /// The part's file name.
        filename: String,
        /// Its size.
        len: usize,
        /// The limit.
        limit: usize,
    },
}

/// Parsing a full message failed: the bytes are not a usable voicemail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Larger than the size this parser accepts.
    #[error("message is too large ({len} bytes, limit {limit})")]
    TooLarge {
        /// The input size.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// The bytes are not an RFC 5322 message at all.
    #[error("not an email message")]
    NotAMessage,
    /// No `X-Asterisk-VM-Context` and no `X-Asterisk-VM-Extension`: not a voicemail.
    #[error("not a voicemail: no X-Asterisk-VM-Context or X-Asterisk-VM-Extension header")]
    NotAVoicemail,
    /// The message is not `multipart/*` (Asterisk needs the audio as MIME part 2).
    #[error("voicemail is not multipart (content type {content_type:?})")]
    NotMultipart {
        /// The top-level content type found.
        content_type: String,
    },
    /// The multipart message has no second part, so no audio.
    #[error("voicemail has no audio part (MIME part 2 is missing)")]
    NoAudio,
}
