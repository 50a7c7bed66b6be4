//! The typed voicemail: what Asterisk's `X-Asterisk-VM-*` headers and MIME parts carry.

use std::fmt;

/// One voicemail (or greeting) as Asterisk stores it in an IMAP mailbox.
///
/// Building writes every field; parsing fills every field it finds (missing
/// headers leave the [`Default`] value and a diagnostic).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Voicemail {
    /// The mailbox number (`1234` in `1234@default`).
    pub mailbox: String,
    /// The voicemail context (`X-Asterisk-VM-Context`).
    pub context: String,
    /// The `X-Asterisk-VM-Extension` value: `imapvmshareid` if set, else the mailbox.
    pub extension: String,
    /// The message number `N` as shown to humans (1-based; 0 for greetings).
    pub msgnum: u32,
    /// `X-Asterisk-VM-Server-Name`: the global `fromstring` (usually empty).
    pub server_name: String,
    /// Urgent / PRIORITY / none.
    pub flag: Flag,
    /// The dialplan priority of the `VoiceMail()` call (not a message priority).
    pub priority: i32,
    /// Caller id number (may be empty).
    pub caller_id_num: String,
    /// Caller id name (may be empty).
    pub caller_id_name: String,
    /// Length of the recording in whole seconds.
    pub duration_secs: u32,
    /// `X-Asterisk-VM-Category` (always empty in Asterisk's IMAP deposits).
    pub category: String,
    /// `Message` or the greeting's name.
    pub message_type: MessageType,
    /// `X-Asterisk-VM-Orig-date`: the `emaildateformat` text (also `${VM_DATE}`).
    pub orig_date: String,
    /// `X-Asterisk-VM-Orig-time`: Unix epoch seconds at composition.
    pub orig_time: i64,
    /// `X-Asterisk-VM-Message-ID`; `None` is written as Asterisk's `(null)`.
    pub msg_id: Option<String>,
    /// `X-Asterisk-VM-Caller-channel`, written by Asterisk before 2016 (read only).
    pub caller_channel: Option<String>,
    /// The audio: the recording (MIME part 2) and an optional forward intro (part 3).
    pub audio: Vec<AudioPart>,
}

impl Voicemail {
    /// True when the message is flagged `Urgent` (it is then stored `\Flagged`).
    pub fn is_urgent(&self) -> bool {
        self.flag == Flag::Urgent
    }

    /// The `M:SS` duration text Asterisk puts in bodies (`${VM_DUR}`).
    pub fn duration_text(&self) -> String {
        format!("{}:{:02}", self.duration_secs / 60, self.duration_secs % 60)
    }
}

/// `X-Asterisk-VM-Flag`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Flag {
    /// Empty value.
    #[default]
    None,
    /// `Urgent` (VoiceMail option `U`).
    Urgent,
    /// `PRIORITY` (VoiceMail option `P`).
    Priority,
    /// Any other text found in a message.
    Other(String),
}

impl Flag {
    /// The header text, as Asterisk writes it.
    pub fn as_str(&self) -> &str {
        match self {
            Flag::None => "",
            Flag::Urgent => "Urgent",
            Flag::Priority => "PRIORITY",
            Flag::Other(text) => text,
        }
    }

    /// Reads a header value (case-insensitive for the known words).
    pub fn from_header(value: &str) -> Flag {
        let value = value.trim();
        if value.is_empty() {
            Flag::None
        } else if value.eq_ignore_ascii_case("urgent") {
            Flag::Urgent
        } else if value.eq_ignore_ascii_case("priority") {
            Flag::Priority
        } else {
            Flag::Other(value.to_owned())
        }
    }
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `X-Asterisk-VM-Message-Type`: a message, or a greeting by name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum MessageType {
    /// A voicemail message.
    #[default]
    Message,
    /// A greeting: `unavail`, `busy`, `greet` (recorded name), `temp`, or another name.
    Greeting(String),
}

impl MessageType {
    /// The header text.
    pub fn as_str(&self) -> &str {
        match self {
            MessageType::Message => "Message",
            MessageType::Greeting(name) => name,
        }
    }

    /// Reads a header value.
    pub fn from_header(value: &str) -> MessageType {
        let value = value.trim();
        if value.eq_ignore_ascii_case("message") {
            MessageType::Message
        } else {
            MessageType::Greeting(value.to_owned())
        }
    }

    /// True for greetings.
    pub fn is_greeting(&self) -> bool {
        matches!(self, MessageType::Greeting(_))
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One audio attachment.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct AudioPart {
    /// The file extension Asterisk uses as format (`WAV` for wav49, `wav`, `gsm`, ...).
    pub format: String,
    /// `name=`/`filename=` of the part (`msg0000.WAV`, `unavail.wav`, `msgintro0000.gsm`).
    pub filename: String,
    /// The MIME type (`audio/x-WAV`, `application/ogg`, ...).
    pub content_type: String,
    /// The decoded audio bytes.
    pub bytes: Vec<u8>,
}

impl fmt::Debug for AudioPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AudioPart")
            .field("format", &self.format)
            .field("filename", &self.filename)
            .field("content_type", &self.content_type)
            .field("bytes", &format_args!("{} bytes", self.bytes.len()))
            .finish()
    }
}

impl AudioPart {
    /// The SHA-256 of the decoded bytes, lower-case hex.
    pub fn sha256_hex(&self) -> String {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(&self.bytes);
        let mut out = String::with_capacity(64);
        for byte in digest {
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
        out
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Asterisk's name for a `format=` entry as stored: `wav49` becomes `WAV`.
pub fn stored_format(format: &str) -> &str {
    if format == "wav49" { "WAV" } else { format }
}

/// The MIME type Asterisk writes for a stored format: `audio/x-{fmt}`, but `application/ogg` for ogg.
pub fn mime_type_for(stored_format: &str) -> String {
    if stored_format.eq_ignore_ascii_case("ogg") {
        format!("application/{stored_format}")
    } else {
        format!("audio/x-{stored_format}")
    }
}

/// The audio formats Asterisk can store (by file extension, case-insensitive).
pub const KNOWN_FORMATS: &[&str] = &[
    "wav", "WAV", "gsm", "g722", "g723", "g726", "g729", "ulaw", "alaw", "sln", "sln16", "sln48",
    "ogg", "mp3", "h263", "h264", "ilbc", "siren7", "siren14", "speex", "opus", "vox", "au",
];

/// True if the extension is a format Asterisk knows.
pub fn is_known_format(ext: &str) -> bool {
    KNOWN_FORMATS
        .iter()
        .any(|known| known.eq_ignore_ascii_case(ext))
}
