//! A fast, never-failing parser for voicemail header blocks (`BODY.PEEK[HEADER.FIELDS (...)]`
//! or a whole message's header), for mailbox listings.
//!
//! It stops at the first empty line, matches names case-insensitively (Exchange lower-cases
//! them), unfolds, decodes RFC 2047, keeps the first of duplicate fields and reports every
//! oddity as a [`Diagnostic`] instead of failing. All sizes are bounded [INV-7].

use std::borrow::Cow;
use std::fmt;

use crate::rfc2047::{self, DecodeProblem};

/// At most this many bytes of input are looked at.
pub const MAX_BLOCK_BYTES: usize = 256 * 1024;
/// At most this many header fields are read.
pub const MAX_FIELDS: usize = 1000;
/// A field's raw (unfolded) value is cut at this many bytes.
pub const MAX_RAW_VALUE: usize = 16 * 1024;
/// A field's decoded value is cut at this many bytes.
pub const MAX_VALUE: usize = 1024;
/// At most this many diagnostics are kept.
pub const MAX_DIAGNOSTICS: usize = 64;

/// The header fields a voicemail carries. `None` means "not present" (or, for numbers, unreadable).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderFields {
    /// `Date`.
    pub date: Option<String>,
    /// `From` (decoded text).
    pub from: Option<String>,
    /// `To` (decoded text).
    pub to: Option<String>,
    /// `Subject` (decoded).
    pub subject: Option<String>,
    /// `Message-ID`.
    pub message_id: Option<String>,
    /// `X-Asterisk-VM-Message-Num`.
    pub msgnum: Option<u32>,
    /// `X-Asterisk-VM-Server-Name`.
    pub server_name: Option<String>,
    /// `X-Asterisk-VM-Context`.
    pub context: Option<String>,
    /// `X-Asterisk-VM-Extension`.
    pub extension: Option<String>,
    /// `X-Asterisk-VM-Flag`.
    pub flag: Option<String>,
    /// `X-Asterisk-VM-Priority`.
    pub priority: Option<i32>,
    /// `X-Asterisk-VM-Caller-channel` (Asterisk before 2016).
    pub caller_channel: Option<String>,
    /// `X-Asterisk-VM-Caller-ID-Num`.
    pub caller_id_num: Option<String>,
    /// `X-Asterisk-VM-Caller-ID-Name`.
    pub caller_id_name: Option<String>,
    /// `X-Asterisk-VM-Duration` (seconds).
    pub duration_secs: Option<u32>,
    /// `X-Asterisk-VM-Category`.
    pub category: Option<String>,
    /// `X-Asterisk-VM-Message-Type`.
    pub message_type: Option<String>,
    /// `X-Asterisk-VM-Orig-date`.
    pub orig_date: Option<String>,
    /// `X-Asterisk-VM-Orig-time` (Unix seconds).
    pub orig_time: Option<i64>,
    /// `X-Asterisk-VM-Message-ID`; `(null)` and empty are read as `None`.
    pub msg_id: Option<String>,
    /// `X-Asterisk-CallerID`.
    pub caller_id: Option<String>,
    /// `X-Asterisk-CallerIDName`.
    pub caller_id_name_alt: Option<String>,
    /// `Content-Type` of the message.
    pub content_type: Option<String>,
}

/// The fields of a header block plus what was odd about it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderBlock {
    /// The fields found.
    pub fields: HeaderFields,
    /// Oddities, in input order (at most [`MAX_DIAGNOSTICS`]).
    pub diagnostics: Vec<Diagnostic>,
    /// Bytes consumed, including the empty line that ends the block (if any).
    pub consumed: usize,
}

/// Something odd in a header block. Parsing continued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// 1-based line number where the field starts.
    pub line: usize,
    /// The header name as written (empty for block-level problems).
    pub field: String,
    /// What was odd.
    pub kind: DiagnosticKind,
}

/// The kinds of [`Diagnostic`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DiagnosticKind {
    /// A second occurrence of a field; the first one was kept.
    Duplicate,
    /// A number field that does not hold a number; the field reads as absent.
    BadNumber {
        /// The text found.
        value: String,
    },
    /// A value longer than the limit; it was cut.
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// An RFC 2047 encoded-word that could not be decoded cleanly.
    BadEncoding {
        /// What was wrong.
        detail: String,
    },
    /// Raw 8-bit bytes that are not UTF-8 (read as Latin-1).
    NotUtf8,
    /// A line that is neither a field nor a continuation; skipped.
    MalformedLine,
    /// More fields than [`MAX_FIELDS`]; the rest was ignored.
    TooManyFields,
    /// More bytes than [`MAX_BLOCK_BYTES`] without an end of header; the rest was ignored.
    TooLarge,
    /// Diagnostics beyond [`MAX_DIAGNOSTICS`] were dropped.
    TooManyDiagnostics,
    /// (Full parse) A voicemail header is missing; its default is used.
    MissingField,
    /// (Full parse) An audio part whose file name has no known Asterisk format extension.
    UnknownFormat {
        /// The part's file name (may be empty).
        filename: String,
    },
    /// (Full parse) A MIME part after the recording and the intro; ignored.
    ExtraPart {
        /// Its 1-based MIME part number.
        part: usize,
    },
    /// (Full parse) A flag value other than `Urgent`/`PRIORITY`.
    UnknownFlag,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}", self.line)?;
        if !self.field.is_empty() {
            write!(f, " ({})", self.field)?;
        }
        f.write_str(": ")?;
        match &self.kind {
            DiagnosticKind::Duplicate => f.write_str("duplicate field, the first one is used"),
            DiagnosticKind::BadNumber { value } => write!(f, "not a number: {value:?}"),
            DiagnosticKind::TooLong { len } => write!(f, "value too long ({len} bytes), cut"),
            DiagnosticKind::BadEncoding { detail } => write!(f, "bad RFC 2047 encoding: {detail}"),
            DiagnosticKind::NotUtf8 => f.write_str("8-bit value is not UTF-8, read as Latin-1"),
            DiagnosticKind::MalformedLine => f.write_str("not a header field, skipped"),
            DiagnosticKind::TooManyFields => {
                write!(f, "more than {MAX_FIELDS} fields, the rest is ignored")
            }
            DiagnosticKind::TooLarge => write!(
                f,
                "header larger than {MAX_BLOCK_BYTES} bytes, the rest is ignored"
            ),
            DiagnosticKind::TooManyDiagnostics => {
                f.write_str("too many diagnostics, the rest is dropped")
            }
            DiagnosticKind::MissingField => f.write_str("missing, the default is used"),
            DiagnosticKind::UnknownFormat { filename } => {
                write!(f, "audio part {filename:?} has no known format extension")
            }
            DiagnosticKind::ExtraPart { part } => {
                write!(f, "MIME part {part} is not a voicemail part, ignored")
            }
            DiagnosticKind::UnknownFlag => f.write_str("unknown flag value"),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Field {
    Date,
    From,
    To,
    Subject,
    MessageId,
    MsgNum,
    ServerName,
    Context,
    Extension,
    Flag,
    Priority,
    CallerChannel,
    CallerIdNum,
    CallerIdName,
    Duration,
    Category,
    MessageType,
    OrigDate,
    OrigTime,
    MsgId,
    CallerId,
    CallerIdNameAlt,
    ContentType,
}

/// The header fields a voicemail listing fetches (what its rows show), for `BODY.PEEK[HEADER.FIELDS (…)]`.
pub const LISTING_FIELDS: &[&str] = &[
    "Date",
    "From",
    "Subject",
    "Message-ID",
    "X-Asterisk-VM-Message-Num",
    "X-Asterisk-VM-Context",
    "X-Asterisk-VM-Extension",
    "X-Asterisk-VM-Flag",
    "X-Asterisk-VM-Priority",
    "X-Asterisk-VM-Caller-ID-Num",
    "X-Asterisk-VM-Caller-ID-Name",
    "X-Asterisk-VM-Duration",
    "X-Asterisk-VM-Message-Type",
    "X-Asterisk-VM-Orig-date",
    "X-Asterisk-VM-Orig-time",
    "X-Asterisk-VM-Message-ID",
    "X-Asterisk-CallerID",
    "X-Asterisk-CallerIDName",
];

/// The identity header fields, fetched to filter exactly (and to tell greetings from messages).
pub const IDENTITY_FIELDS: &[&str] = &[
    "X-Asterisk-VM-Extension",
    "X-Asterisk-VM-Context",
    "X-Asterisk-VM-Message-Type",
];

/// Canonical names, in Asterisk's order (the order [`HeaderFields::render`] writes).
const FIELDS: [(Field, &str); 23] = [
    (Field::Date, "Date"),
    (Field::From, "From"),
    (Field::To, "To"),
    (Field::Subject, "Subject"),
    (Field::MessageId, "Message-ID"),
    (Field::MsgNum, "X-Asterisk-VM-Message-Num"),
    (Field::ServerName, "X-Asterisk-VM-Server-Name"),
    (Field::Context, "X-Asterisk-VM-Context"),
    (Field::Extension, "X-Asterisk-VM-Extension"),
    (Field::Flag, "X-Asterisk-VM-Flag"),
    (Field::Priority, "X-Asterisk-VM-Priority"),
    (Field::CallerChannel, "X-Asterisk-VM-Caller-channel"),
    (Field::CallerIdNum, "X-Asterisk-VM-Caller-ID-Num"),
    (Field::CallerIdName, "X-Asterisk-VM-Caller-ID-Name"),
    (Field::Duration, "X-Asterisk-VM-Duration"),
    (Field::Category, "X-Asterisk-VM-Category"),
    (Field::MessageType, "X-Asterisk-VM-Message-Type"),
    (Field::OrigDate, "X-Asterisk-VM-Orig-date"),
    (Field::OrigTime, "X-Asterisk-VM-Orig-time"),
    (Field::MsgId, "X-Asterisk-VM-Message-ID"),
    (Field::CallerId, "X-Asterisk-CallerID"),
    (Field::CallerIdNameAlt, "X-Asterisk-CallerIDName"),
    (Field::ContentType, "Content-Type"),
];

fn lookup(name: &[u8]) -> Option<Field> {
    // Cheap filters first: length, then first byte, then a case-insensitive compare.
    let first = name.first()?.to_ascii_lowercase();
    FIELDS
        .iter()
        .find(|(_, canonical)| {
            canonical.len() == name.len()
                && canonical.as_bytes()[0].to_ascii_lowercase() == first
                && canonical.as_bytes().eq_ignore_ascii_case(name)
        })
        .map(|(field, _)| *field)
}

struct Collector {
    fields: HeaderFields,
    seen: [bool; FIELDS.len()],
    diagnostics: Vec<Diagnostic>,
}

impl Collector {
    fn diag(&mut self, line: usize, field: &[u8], kind: DiagnosticKind) {
        if self.diagnostics.len() < MAX_DIAGNOSTICS {
            self.diagnostics.push(Diagnostic {
                line,
                field: String::from_utf8_lossy(field).into_owned(),
                kind,
            });
        } else if self.diagnostics.len() == MAX_DIAGNOSTICS {
            self.diagnostics.push(Diagnostic {
                line,
                field: String::new(),
                kind: DiagnosticKind::TooManyDiagnostics,
            });
        }
    }

    fn take(&mut self, field: Field, name: &[u8], raw: &[u8], line: usize) {
        let index = field as usize;
        if self.seen[index] {
            self.diag(line, name, DiagnosticKind::Duplicate);
            return;
        }
        self.seen[index] = true;
        let mut raw = raw;
        if raw.len() > MAX_RAW_VALUE {
            self.diag(line, name, DiagnosticKind::TooLong { len: raw.len() });
            raw = &raw[..MAX_RAW_VALUE];
        }
        let raw = trim(raw);
        let text = match std::str::from_utf8(raw) {
            Ok(text) => std::borrow::Cow::Borrowed(text),
            Err(_) => {
                self.diag(line, name, DiagnosticKind::NotUtf8);
                std::borrow::Cow::Owned(raw.iter().map(|&b| char::from(b)).collect::<String>())
            }
        };
        let (decoded, problem) = rfc2047::decode(&text);
        if let Some(problem) = problem {
            let detail = match problem {
                DecodeProblem::UnknownCharset(charset) => format!("unknown charset {charset:?}"),
                DecodeProblem::Malformed => "malformed encoded-word".to_owned(),
                DecodeProblem::MislabelledUtf8 => {
                    "UTF-8 bytes labelled as another charset".to_owned()
                }
            };
            self.diag(line, name, DiagnosticKind::BadEncoding { detail });
        }
        let mut decoded: &str = &decoded;
        if decoded.len() > MAX_VALUE {
            self.diag(line, name, DiagnosticKind::TooLong { len: decoded.len() });
            let mut cut = MAX_VALUE;
            while !decoded.is_char_boundary(cut) {
                cut -= 1;
            }
            decoded = &decoded[..cut];
        }
        // Numbers are read without allocating; text fields own their value.
        match field {
            Field::MsgNum => {
                self.fields.msgnum = self.number(decoded, name, line);
                return;
            }
            Field::Priority => {
                self.fields.priority = self.number(decoded, name, line);
                return;
            }
            Field::Duration => {
                self.fields.duration_secs = self.number(decoded, name, line);
                return;
            }
            Field::OrigTime => {
                self.fields.orig_time = self.number(decoded, name, line);
                return;
            }
            _ => {}
        }
        let value = decoded.to_owned();
        let f = &mut self.fields;
        match field {
            Field::Date => f.date = Some(value),
            Field::From => f.from = Some(value),
            Field::To => f.to = Some(value),
            Field::Subject => f.subject = Some(value),
            Field::MessageId => f.message_id = Some(value),
            Field::ServerName => f.server_name = Some(value),
            Field::Context => f.context = Some(value),
            Field::Extension => f.extension = Some(value),
            Field::Flag => f.flag = Some(value),
            Field::CallerChannel => f.caller_channel = Some(value),
            Field::CallerIdNum => f.caller_id_num = Some(value),
            Field::CallerIdName => f.caller_id_name = Some(value),
            Field::Category => f.category = Some(value),
            Field::MessageType => f.message_type = Some(value),
            Field::OrigDate => f.orig_date = Some(value),
            Field::CallerId => f.caller_id = Some(value),
            Field::CallerIdNameAlt => f.caller_id_name_alt = Some(value),
            Field::ContentType => f.content_type = Some(value),
            Field::MsgId => {
                let trimmed = value.trim();
                f.msg_id = if trimmed.is_empty() || trimmed == "(null)" {
                    None
                } else {
                    Some(value)
                };
            }
            // Read above, without allocating.
            Field::MsgNum | Field::Priority | Field::Duration | Field::OrigTime => {}
        }
    }

    fn number<T: std::str::FromStr>(&mut self, value: &str, name: &[u8], line: usize) -> Option<T> {
        match value.trim().parse::<T>() {
            Ok(number) => Some(number),
            Err(_) => {
                let mut shown = value.to_owned();
                let mut cut = shown.len().min(64);
                while !shown.is_char_boundary(cut) {
                    cut -= 1;
                }
                shown.truncate(cut);
                self.diag(line, name, DiagnosticKind::BadNumber { value: shown });
                None
            }
        }
    }
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |p| p + 1);
    bytes.get(start..end.max(start)).unwrap_or_default()
}

/// One physical line: its content without line end, and the offset after it.
fn next_line(input: &[u8], at: usize) -> (&[u8], usize) {
    let rest = input.get(at..).unwrap_or_default();
    let (mut line, next) = match memchr::memchr(b'\n', rest) {
        Some(pos) => (&rest[..pos], at + pos + 1),
        None => (rest, input.len()),
    };
    while let [head @ .., b'\r'] = line {
        line = head;
    }
    (line, next)
}

/// The field being collected: which one (if wanted), its name, start line, unfolded raw value.
type Pending<'a> = (Option<Field>, &'a [u8], usize, Cow<'a, [u8]>);

impl HeaderBlock {
    /// Parses a header block. Never fails and never panics; see the module docs.
    pub fn parse(input: &[u8]) -> HeaderBlock {
        let mut collector = Collector {
            fields: HeaderFields::default(),
            seen: [false; FIELDS.len()],
            diagnostics: Vec::new(),
        };
        let limited = if input.len() > MAX_BLOCK_BYTES {
            &input[..MAX_BLOCK_BYTES]
        } else {
            input
        };
        let mut at = 0;
        let mut line_no = 0;
        let mut field_count = 0;
        // The field being collected: (field, name, start line, unfolded value).
        let mut current: Option<Pending<'_>> = None;
        let mut ended = false;
        while at < limited.len() {
            let (line, next) = next_line(limited, at);
            line_no += 1;
            at = next;
            if line.is_empty() {
                ended = true;
                break;
            }
            if matches!(line[0], b' ' | b'\t') {
                match current.as_mut() {
                    Some((Some(_), _, _, value)) => {
                        if value.len() <= MAX_RAW_VALUE {
                            value.to_mut().extend_from_slice(line);
                        }
                    }
                    Some((None, _, _, _)) => {}
                    None => collector.diag(line_no, b"", DiagnosticKind::MalformedLine),
                }
                continue;
            }
            if let Some((Some(field), name, start, value)) = current.take() {
                collector.take(field, name, &value, start);
            }
            let Some(colon) = memchr::memchr(b':', line) else {
                collector.diag(line_no, b"", DiagnosticKind::MalformedLine);
                continue;
            };
            let name = trim(&line[..colon]);
            if name.is_empty() || name.iter().any(|&b| b <= b' ' || b >= 0x7f) {
                collector.diag(line_no, b"", DiagnosticKind::MalformedLine);
                continue;
            }
            field_count += 1;
            if field_count > MAX_FIELDS {
                collector.diag(line_no, b"", DiagnosticKind::TooManyFields);
                break;
            }
            let field = lookup(name);
            let value = if field.is_some() {
                Cow::Borrowed(&line[colon + 1..])
            } else {
                Cow::Borrowed(&b""[..])
            };
            current = Some((field, name, line_no, value));
        }
        if let Some((Some(field), name, start, value)) = current.take() {
            collector.take(field, name, &value, start);
        }
        if !ended && input.len() > MAX_BLOCK_BYTES && field_count <= MAX_FIELDS {
            collector.diag(line_no, b"", DiagnosticKind::TooLarge);
        }
        HeaderBlock {
            fields: collector.fields,
            diagnostics: collector.diagnostics,
            consumed: at,
        }
    }
}

impl HeaderFields {
    /// Writes the present fields as a header block (canonical names, Asterisk's order, CRLF,
    /// ending with the empty line). Values that would not survive as raw text are written as
    /// UTF-8 encoded-words, so [`HeaderBlock::parse`] of the result gives these fields back.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1024);
        for (field, name) in FIELDS {
            let value: Option<String> = match field {
                Field::Date => self.date.clone(),
                Field::From => self.from.clone(),
                Field::To => self.to.clone(),
                Field::Subject => self.subject.clone(),
                Field::MessageId => self.message_id.clone(),
                Field::MsgNum => self.msgnum.map(|n| n.to_string()),
                Field::ServerName => self.server_name.clone(),
                Field::Context => self.context.clone(),
                Field::Extension => self.extension.clone(),
                Field::Flag => self.flag.clone(),
                Field::Priority => self.priority.map(|n| n.to_string()),
                Field::CallerChannel => self.caller_channel.clone(),
                Field::CallerIdNum => self.caller_id_num.clone(),
                Field::CallerIdName => self.caller_id_name.clone(),
                Field::Duration => self.duration_secs.map(|n| n.to_string()),
                Field::Category => self.category.clone(),
                Field::MessageType => self.message_type.clone(),
                Field::OrigDate => self.orig_date.clone(),
                Field::OrigTime => self.orig_time.map(|n| n.to_string()),
                Field::MsgId => self.msg_id.clone(),
                Field::CallerId => self.caller_id.clone(),
                Field::CallerIdNameAlt => self.caller_id_name_alt.clone(),
                Field::ContentType => self.content_type.clone(),
            };
            let Some(value) = value else { continue };
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            if survives_raw(field, &value) {
                out.extend_from_slice(value.as_bytes());
            } else {
                out.extend_from_slice(rfc2047::encode_b_utf8(&value).as_bytes());
            }
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out
    }
}

/// Would `value` come back unchanged if written raw?
fn survives_raw(field: Field, value: &str) -> bool {
    let plain = value.bytes().all(|b| (0x20..0x7f).contains(&b))
        && !value.starts_with([' ', '\t'])
        && !value.ends_with([' ', '\t'])
        && !value.contains("=?")
        && value.len() <= 900;
    // `(null)` and empty would read back as "no id".
    let msg_id_ok = field != Field::MsgId || (!value.trim().is_empty() && value.trim() != "(null)");
    plain && msg_id_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetched_field_lists_name_only_fields_the_parser_reads() {
        for name in LISTING_FIELDS.iter().chain(IDENTITY_FIELDS) {
            assert!(lookup(name.as_bytes()).is_some(), "{name}");
        }
    }

    #[test]
    fn lower_cased_folded_and_encoded() {
        let block = b"x-asterisk-vm-context: default\r\nX-ASTERISK-VM-EXTENSION: 1234\r\n\
x-asterisk-vm-caller-id-name: =?utf-8?q?Bj=C3=B6rn?=\r\n =?utf-8?q?_Quota?=\r\nX-Asterisk-VM-Duration: 7\r\n\r\nbody";
        let parsed = HeaderBlock::parse(block);
        assert_eq!(parsed.fields.context.as_deref(), Some("default"));
        assert_eq!(parsed.fields.extension.as_deref(), Some("1234"));
        assert_eq!(parsed.fields.caller_id_name.as_deref(), Some("Björn Quota"));
        assert_eq!(parsed.fields.duration_secs, Some(7));
        assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
        assert_eq!(&block[parsed.consumed..], b"body");
    }

    #[test]
    fn duplicates_bad_numbers_and_null_ids() {
        let block =
            b"X-Asterisk-VM-Context: a\nX-Asterisk-VM-Context: b\nX-Asterisk-VM-Duration: 1x\n\
X-Asterisk-VM-Message-ID: (null)\nnot a header\n\n";
        let parsed = HeaderBlock::parse(block);
        assert_eq!(parsed.fields.context.as_deref(), Some("a"));
        assert_eq!(parsed.fields.duration_secs, None);
        assert_eq!(parsed.fields.msg_id, None);
        let kinds: Vec<_> = parsed
            .diagnostics
            .iter()
            .map(|d| (d.line, d.kind.clone()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (2, DiagnosticKind::Duplicate),
                (
                    3,
                    DiagnosticKind::BadNumber {
                        value: "1x".to_owned()
                    }
                ),
                (5, DiagnosticKind::MalformedLine)
            ]
        );
    }

    #[test]
    fn long_and_eight_bit_values() {
        let mut block = b"X-Asterisk-VM-Caller-ID-Name: ".to_vec();
        block.extend(std::iter::repeat_n(b'a', 5000));
        block.extend_from_slice(b"\r\nX-Asterisk-VM-Context: caf\xe9\r\n\r\n");
        let parsed = HeaderBlock::parse(&block);
        assert_eq!(
            parsed.fields.caller_id_name.as_ref().map(String::len),
            Some(MAX_VALUE)
        );
        assert_eq!(parsed.fields.context.as_deref(), Some("café"));
        assert_eq!(parsed.diagnostics.len(), 2);
    }

    #[test]
    fn render_round_trips() {
        let fields = HeaderFields {
            subject: Some(" leading space".to_owned()),
            context: Some("default".to_owned()),
            caller_id_name: Some("Zoë \"Z\" =?x?= \r\n".to_owned()),
            msgnum: Some(3),
            orig_time: Some(-5),
            msg_id: Some("1-0000000a".to_owned()),
            server_name: Some(String::new()),
            ..HeaderFields::default()
        };
        let parsed = HeaderBlock::parse(&fields.render());
        assert_eq!(parsed.fields, fields);
    }

    #[test]
    fn field_table_matches_the_enum_order() {
        for (index, (field, _)) in FIELDS.iter().enumerate() {
            assert_eq!(*field as usize, index);
        }
    }

    #[test]
    fn garbage_never_panics() {
        for input in [
            &b""[..],
            b"\r",
            b"\n",
            b":",
            b" x",
            b"\xff\xfe:\xff",
            b"X-Asterisk-VM-Duration:\r\n\t9",
        ] {
            let _ = HeaderBlock::parse(input);
        }
        assert_eq!(
            HeaderBlock::parse(b"X-Asterisk-VM-Duration:\r\n\t9")
                .fields
                .duration_secs,
            Some(9)
        );
    }
}
