//! A voicemail as an email: Asterisk-compatible RFC 5322 building, full parsing (mail-parser),
//! and a fast, never-failing header-block parser for listings.
//!
//! * [`build()`] turns a [`Voicemail`] plus the mailbox's [`Settings`] and an [`Envelope`]
//!   (Date, Message-ID, boundary, host name: all inputs) into the bytes Asterisk's
//!   `app_voicemail_imap` would `APPEND`. [`Mode::AsteriskExact`] reproduces Asterisk 22
//!   byte for byte, quirks included; [`Mode::Default`] keeps the layout and headers but
//!   writes UTF-8 correctly and adds `Message-Context`/`Content-Duration`.
//! * [`parse()`] reads any voicemail Asterisk (1.4 to 22) or a mail client left: every model
//!   field, the decoded audio parts, plus [`Diagnostic`]s. [`parse_decoded`] gives the same
//!   from the pieces an IMAP server with `BINARY` sends (header, parts' MIME headers, decoded
//!   contents), without decoding base64 again.
//! * [`HeaderBlock::parse`] reads just a header block (`BODY.PEEK[HEADER.FIELDS (...)]`), never
//!   fails, bounds every size, and is what mailbox listings use.
//! * [`lineage::Lineage`] is the origin a forwarded copy carries (`X-Asterisk-VM-Orig-Mailbox`,
//!   `X-Asterisk-VM-Orig-Message-ID`), placed where Asterisk's header lookup never trips on it.
//!
//! This crate does **not** open sockets or files, read clocks (time is an input), read
//! `voicemail.conf` (the caller maps its options to [`Settings`]), or speak IMAP.
//!
//! ```
//! use imapvm_message::{AudioPart, Envelope, Mode, Settings, Voicemail, build, parse};
//!
//! let settings = Settings { full_name: "Alice Mailbox".into(), imap_user: "vm1234".into(), ..Settings::default() };
//! let voicemail = Voicemail {
//!     mailbox: "1234".into(),
//!     context: "default".into(),
//!     extension: "1234".into(),
//!     msgnum: 1,
//!     caller_id_num: "5551001".into(),
//!     duration_secs: 2,
//!     orig_time: 1_795_674_119,
//!     orig_date: settings.email_date(1_795_674_119)?,
//!     msg_id: Some("1795674116-00000000".into()),
//!     audio: vec![AudioPart::recording(1, "wav49", b"RIFF....".to_vec())],
//!     ..Voicemail::default()
//! };
//! let envelope = Envelope {
//!     date: 1_795_674_119,
//!     message_id: Envelope::asterisk_message_id(1, 719_206_884, "1234", 27960, "vm"),
//!     boundary: Envelope::asterisk_boundary(1, "1234", 27960, 1_097_739_035),
//!     hostname: "vm".into(),
//! };
//! let bytes = build(&voicemail, &settings, &envelope, Mode::Default)?;
//! let parsed = parse(&bytes)?;
//! assert_eq!(parsed.voicemail, voicemail);
//! assert_eq!(parsed.voicemail.audio[0].filename, "msg0000.WAV");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

mod build;
pub mod datetime;
mod error;
pub mod header_block;
pub mod lineage;
mod model;
mod parse;
pub mod rfc2047;
mod settings;
mod skeleton;
pub mod spool_info;
pub mod template;

pub use build::{MAX_AUDIO_BYTES, build};
pub use datetime::MailboxZone;
pub use error::{BuildError, ParseError};
pub use header_block::{
    Diagnostic, DiagnosticKind, HeaderBlock, HeaderFields, IDENTITY_FIELDS, LISTING_FIELDS,
};
pub use model::{
    AudioPart, Flag, KNOWN_FORMATS, MessageType, Voicemail, is_known_format, mime_type_for,
    stored_format,
};
pub use parse::{DecodedPart, MAX_MESSAGE_BYTES, ParsedVoicemail, parse, parse_decoded};
pub use settings::{Envelope, Mode, Settings};
