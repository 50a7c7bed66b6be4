//! Asterisk's file-storage message information file, `msgNNNN.txt`: the `[message]` section
//! `leave_voicemail` writes beside every recording in
//! `{spool}/voicemail/{context}/{mailbox}/{folder}/`, read and written here so a file spool
//! can move to IMAP and back (`imapvm migrate`).
//!
//! [`MessageInfo`] keeps every `key=value` entry in file order (unknown keys included), so an
//! unchanged file renders back byte for byte; typed getters read the fields voicemail needs.
//! The file-only fields (dialplan context, `callerchan`, `rdnis`...) have no
//! `X-Asterisk-VM-*` header: they travel in one extra header, [`SPOOL_INFO_HEADER`], so an
//! export can write the original file again.
//!
//! Parsing follows Asterisk's config reader (`ast_config_load`): `;` starts a comment unless
//! escaped as `\;`, keys are case-insensitive, blanks around keys and values are trimmed,
//! `=` and `=>` both separate. It never panics and bounds every size.
//!
//! ```
//! use imapvm_message::spool_info::{InfoFields, MessageInfo};
//!
//! let info = MessageInfo::asterisk(&InfoFields {
//!     origmailbox: "1234".into(),
//!     context: "from-internal".into(),
//!     exten: "1234".into(),
//!     priority: 2,
//!     callerchan: "PJSIP/1000-00000001".into(),
//!     callerid: MessageInfo::callerid_merge("Alice Example", "5551001"),
//!     origtime: 1_795_674_119,
//!     msg_id: Some("1795674116-00000000".into()),
//!     duration: 7,
//!     ..InfoFields::default()
//! })?;
//! let text = info.render();
//! let parsed = MessageInfo::parse(&text)?;
//! assert_eq!(parsed.info, info);
//! assert_eq!(parsed.info.caller_id(), ("Alice Example".to_owned(), "5551001".to_owned()));
//! assert_eq!(parsed.info.origdate(), Some("Thu Nov 26 06:21:59 AM UTC 2026"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use crate::datetime::MailboxZone;
use crate::error::BuildError;

/// Largest `.txt` accepted (Asterisk's are a few hundred bytes).
pub const MAX_INFO_BYTES: usize = 64 * 1024;
/// Most entries kept from one file.
pub const MAX_ENTRIES: usize = 128;
/// Longest key or value kept (longer ones are cut, with a diagnostic).
pub const MAX_VALUE_BYTES: usize = 1024;
/// The header that carries a spool message's whole `.txt` inside its IMAP copy.
pub const SPOOL_INFO_HEADER: &str = "X-Imapvm-Spool-Info";
/// Asterisk's `origdate` format (`get_date`: `%a %b %e %r UTC %Y`, always in UTC).
pub const ORIGDATE_FORMAT: &str = "%a %b %e %r UTC %Y";
/// What `ast_callerid_merge` writes when there is neither name nor number.
pub const UNKNOWN_CALLER: &str = "Unknown";

/// A `.txt` that cannot be used at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InfoError {
    /// Larger than [`MAX_INFO_BYTES`].
    #[error("message information file of {len} bytes (limit {limit})")]
    TooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// No `[message]` section (not a message information file).
    #[error("no [message] section")]
    NoMessageSection,
}

/// Something odd in a `.txt` that did not stop it from being read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoDiagnostic {
    /// 1-based line number.
    pub line: usize,
    /// What was odd.
    pub reason: String,
}

impl fmt::Display for InfoDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// A parsed `.txt`: the entries and what was odd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedInfo {
    /// The `[message]` entries.
    pub info: MessageInfo,
    /// Oddities (bad lines, non-UTF-8 bytes, cut values).
    pub diagnostics: Vec<InfoDiagnostic>,
}

/// The fields `leave_voicemail` writes, for [`MessageInfo::asterisk`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InfoFields {
    /// `origmailbox`: the mailbox the message was left for.
    pub origmailbox: String,
    /// `context`: the caller's *dialplan* context (not the voicemail context).
    pub context: String,
    /// `macrocontext` (Asterisk before 21); `None` omits the line.
    pub macrocontext: Option<String>,
    /// `exten`: the dialplan extension.
    pub exten: String,
    /// `rdnis`: the redirecting number, `unknown` when none.
    pub rdnis: String,
    /// `priority`: the dialplan priority of `VoiceMail()`.
    pub priority: i32,
    /// `callerchan`: the calling channel's name.
    pub callerchan: String,
    /// `callerid`: `"Name" <num>` as [`MessageInfo::callerid_merge`] writes it.
    pub callerid: String,
    /// `origdate`; `None` renders `origtime` in Asterisk's format.
    pub origdate: Option<String>,
    /// `origtime`: Unix seconds.
    pub origtime: i64,
    /// `category`.
    pub category: String,
    /// `msg_id` (Asterisk 11+); `None` omits the line.
    pub msg_id: Option<String>,
    /// `flag`: `Urgent`, `PRIORITY` or empty.
    pub flag: String,
    /// `duration`: whole seconds.
    pub duration: u32,
}

/// The `[message]` section of a `msgNNNN.txt`, entries in file order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageInfo {
    entries: Vec<(String, String)>,
}

impl MessageInfo {
    /// An empty section.
    pub fn new() -> MessageInfo {
        MessageInfo::default()
    }

    /// The file Asterisk (13 to 22) writes: every key in `leave_voicemail`'s order.
    pub fn asterisk(fields: &InfoFields) -> Result<MessageInfo, BuildError> {
        let origdate = match &fields.origdate {
            Some(d) => d.clone(),
            None => MessageInfo::format_origdate(fields.origtime)?,
        };
        let mut info = MessageInfo::new();
        info.push("origmailbox", &fields.origmailbox);
        info.push("context", &fields.context);
        if let Some(m) = &fields.macrocontext {
            info.push("macrocontext", m);
        }
        info.push("exten", &fields.exten);
        info.push("rdnis", &fields.rdnis);
        info.push("priority", &fields.priority.to_string());
        info.push("callerchan", &fields.callerchan);
        info.push("callerid", &fields.callerid);
        info.push("origdate", &origdate);
        info.push("origtime", &fields.origtime.to_string());
        info.push("category", &fields.category);
        if let Some(id) = &fields.msg_id {
            info.push("msg_id", id);
        }
        info.push("flag", &fields.flag);
        info.push("duration", &fields.duration.to_string());
        Ok(info)
    }

    /// `origtime` as Asterisk's `origdate` (`Thu Nov 26 06:21:59 AM UTC 2026`).
    pub fn format_origdate(origtime: i64) -> Result<String, BuildError> {
        MailboxZone::utc().strftime(ORIGDATE_FORMAT, origtime)
    }

    /// `ast_callerid_merge`: `"Name" <num>`, or the one that is there, or `Unknown`.
    pub fn callerid_merge(name: &str, num: &str) -> String {
        match (name.is_empty(), num.is_empty()) {
            (false, false) => format!("\"{name}\" <{num}>"),
            (false, true) => name.to_owned(),
            (true, false) => num.to_owned(),
            (true, true) => UNKNOWN_CALLER.to_owned(),
        }
    }

    /// Parses a `.txt`. Only the `[message]` section is kept (the first one; later
    /// duplicates of a key are kept but the getters read the first, as Asterisk does).
    pub fn parse(bytes: &[u8]) -> Result<ParsedInfo, InfoError> {
        if bytes.len() > MAX_INFO_BYTES {
            return Err(InfoError::TooLarge {
                len: bytes.len(),
                limit: MAX_INFO_BYTES,
            });
        }
        let mut diagnostics = Vec::new();
        let mut info = MessageInfo::new();
        let mut in_message = false;
        let mut seen_message = false;
        for (index, raw) in bytes.split(|b| *b == b'\n').enumerate() {
            let line_no = index + 1;
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            let line = match std::str::from_utf8(raw) {
                Ok(s) => std::borrow::Cow::Borrowed(s),
                Err(_) => {
                    diagnostics.push(InfoDiagnostic {
                        line: line_no,
                        reason: "bytes that are not UTF-8 were replaced".into(),
                    });
                    String::from_utf8_lossy(raw)
                }
            };
            let text = strip_comment(&line);
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            if let Some(rest) = text.strip_prefix('[') {
                let name = rest.split(']').next().unwrap_or_default().trim();
                in_message = name.eq_ignore_ascii_case("message") && !seen_message;
                seen_message |= in_message;
                continue;
            }
            if !in_message {
                continue;
            }
            let Some(eq) = text.find('=') else {
                diagnostics.push(InfoDiagnostic {
                    line: line_no,
                    reason: "a line without `=` was skipped".into(),
                });
                continue;
            };
            let key = text[..eq].trim();
            let value = text[eq + 1..].strip_prefix('>').unwrap_or(&text[eq + 1..]);
            let value = value.trim();
            if key.is_empty() {
                diagnostics.push(InfoDiagnostic {
                    line: line_no,
                    reason: "an entry without a key was skipped".into(),
                });
                continue;
            }
            if info.entries.len() >= MAX_ENTRIES {
                diagnostics.push(InfoDiagnostic {
                    line: line_no,
                    reason: format!("more than {MAX_ENTRIES} entries; the rest was skipped"),
                });
                break;
            }
            let (key, cut_key) = cut(key);
            let (value, cut_value) = cut(value);
            if cut_key || cut_value {
                diagnostics.push(InfoDiagnostic {
                    line: line_no,
                    reason: format!("cut to {MAX_VALUE_BYTES} bytes"),
                });
            }
            info.entries.push((key.to_owned(), value.to_owned()));
        }
        if !seen_message {
            return Err(InfoError::NoMessageSection);
        }
        Ok(ParsedInfo { info, diagnostics })
    }

    /// The file as Asterisk writes it: the three comment lines, `[message]`, then one
    /// `key=value` line per entry (LF line ends; `;` in values escaped as `\;`).
    pub fn render(&self) -> Vec<u8> {
        let mut out = String::with_capacity(64 + self.entries.len() * 32);
        out.push_str(";\n; Message Information file\n;\n[message]\n");
        for (k, v) in &self.entries {
            out.push_str(&k.replace(';', "\\;"));
            out.push('=');
            if v.starts_with('>') {
                // `key=>` would read as Asterisk's `=>` separator.
                out.push(' ');
            }
            out.push_str(&v.replace(';', "\\;"));
            out.push('\n');
        }
        out.into_bytes()
    }

    /// Every entry, in order.
    pub fn entries(&self) -> &[(String, String)] {
        &self.entries
    }

    /// Adds an entry at the end (no check for an existing key).
    pub fn push(&mut self, key: &str, value: &str) {
        self.entries.push((key.to_owned(), value.to_owned()));
    }

    /// Replaces the first entry named `key` (case-insensitive), or adds it.
    pub fn set(&mut self, key: &str, value: &str) {
        match self
            .entries
            .iter_mut()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
        {
            Some(entry) => entry.1 = value.to_owned(),
            None => self.push(key, value),
        }
    }

    /// The first value of `key` (case-insensitive).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// `origtime`, if it is a number.
    pub fn origtime(&self) -> Option<i64> {
        self.get("origtime").and_then(|v| v.parse().ok())
    }

    /// `origdate`.
    pub fn origdate(&self) -> Option<&str> {
        self.get("origdate")
    }

    /// `duration` in seconds, if it is a number (Asterisk reads a missing one as 0).
    pub fn duration(&self) -> Option<u32> {
        self.get("duration").and_then(|v| v.parse().ok())
    }

    /// `priority`, if it is a number.
    pub fn priority(&self) -> Option<i32> {
        self.get("priority").and_then(|v| v.parse().ok())
    }

    /// `msg_id`; empty and `(null)` read as none.
    pub fn msg_id(&self) -> Option<&str> {
        self.get("msg_id")
            .filter(|v| !v.is_empty() && *v != "(null)")
    }

    /// `flag` (empty when missing).
    pub fn flag(&self) -> &str {
        self.get("flag").unwrap_or_default()
    }

    /// `category` (empty when missing).
    pub fn category(&self) -> &str {
        self.get("category").unwrap_or_default()
    }

    /// `callerid` as written (empty when missing).
    pub fn callerid(&self) -> &str {
        self.get("callerid").unwrap_or_default()
    }

    /// The caller's (name, number), split like `ast_callerid_parse`: `"Name" <num>`,
    /// `Name <num>`, `<num>`, a bare number, or a bare name. `Unknown` (what Asterisk writes
    /// for no caller id) gives two empty strings.
    pub fn caller_id(&self) -> (String, String) {
        split_callerid(self.callerid())
    }

    /// The [`SPOOL_INFO_HEADER`] field carrying every entry (values percent-encoded, one
    /// entry per folded line, CRLF line ends), or `None` when an entry is too long for a
    /// header line.
    pub fn header_field(&self) -> Option<String> {
        let mut out = format!("{SPOOL_INFO_HEADER}:");
        for (i, (k, v)) in self.entries.iter().enumerate() {
            if k.is_empty()
                || !k
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return None;
            }
            let line = format!(" {k}={}", percent_encode(v));
            if line.len() > 900 {
                return None;
            }
            if i > 0 {
                out.push_str(";\r\n");
            }
            out.push_str(&line);
        }
        out.push_str("\r\n");
        Some(out)
    }

    /// Inserts [`header_field`](Self::header_field) at the end of `message`'s header block.
    /// Returns whether it was added (not when an entry is too long or there is no header/body
    /// separator).
    pub fn insert_into(&self, message: &mut Vec<u8>) -> bool {
        let Some(field) = self.header_field() else {
            return false;
        };
        let Some(end) = memchr::memmem::find(message, b"\r\n\r\n") else {
            return false;
        };
        let at = end + 2;
        message.splice(at..at, field.into_bytes());
        true
    }

    /// Reads the [`SPOOL_INFO_HEADER`] from a header block (a whole message or
    /// `BODY.PEEK[HEADER.FIELDS (...)]`), if present and well-formed.
    pub fn from_header_block(block: &[u8]) -> Option<MessageInfo> {
        let end = memchr::memmem::find(block, b"\r\n\r\n")
            .or_else(|| memchr::memmem::find(block, b"\n\n"))
            .unwrap_or(block.len());
        let header = block.get(..end)?;
        let text = String::from_utf8_lossy(header);
        let mut value: Option<String> = None;
        for line in text.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if let Some(v) = value.as_mut() {
                if line.starts_with([' ', '\t']) {
                    v.push_str(line);
                    continue;
                }
                break;
            }
            if let Some((name, rest)) = line.split_once(':')
                && name.trim().eq_ignore_ascii_case(SPOOL_INFO_HEADER)
            {
                value = Some(rest.to_owned());
            }
        }
        let value = value?;
        if value.len() > MAX_INFO_BYTES {
            return None;
        }
        let mut info = MessageInfo::new();
        for pair in value.split(';') {
            let pair = pair.trim();
            if pair.is_empty() {
                continue;
            }
            let (k, v) = pair.split_once('=')?;
            if info.entries.len() >= MAX_ENTRIES {
                return None;
            }
            info.push(k.trim(), &percent_decode(v.trim())?);
        }
        Some(info)
    }
}

/// Splits a `callerid` value into (name, number), like `ast_callerid_parse`.
pub fn split_callerid(raw: &str) -> (String, String) {
    let raw = raw.trim();
    if raw.is_empty() || raw == UNKNOWN_CALLER {
        return (String::new(), String::new());
    }
    if let Some(open) = raw.rfind('<')
        && let Some(close) = raw[open..].find('>')
    {
        let num = raw[open + 1..open + close].trim().to_owned();
        let name = raw[..open].trim();
        let name = name
            .strip_prefix('"')
            .and_then(|n| n.strip_suffix('"'))
            .unwrap_or(name);
        return (name.to_owned(), num);
    }
    let unquoted = raw
        .strip_prefix('"')
        .and_then(|n| n.strip_suffix('"'))
        .unwrap_or(raw);
    if unquoted
        .bytes()
        .all(|b| b.is_ascii_digit() || b"+*#-.() ".contains(&b))
        && unquoted.bytes().any(|b| b.is_ascii_digit())
    {
        (String::new(), unquoted.to_owned())
    } else {
        (unquoted.to_owned(), String::new())
    }
}

/// The text before an unescaped `;`, with `\;` unescaped.
fn strip_comment(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&';') => {
                out.push(';');
                chars.next();
            }
            ';' => break,
            other => out.push(other),
        }
    }
    out
}

fn cut(s: &str) -> (&str, bool) {
    if s.len() <= MAX_VALUE_BYTES {
        return (s, false);
    }
    let mut end = MAX_VALUE_BYTES;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    // Blanks before the cut would be trimmed when the file is read again.
    (s[..end].trim_end(), true)
}

fn percent_encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_graphic() && !matches!(b, b'%' | b';' | b'=' | b'"' | b'\\') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(v: &str) -> Option<String> {
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file as Asterisk 20 writes it (with macrocontext), LF line ends.
    const ASTERISK_20: &[u8] = b";\n; Message Information file\n;\n[message]\n\
origmailbox=1234\ncontext=from-internal\nmacrocontext=\nexten=1234\nrdnis=unknown\n\
priority=2\ncallerchan=PJSIP/1000-00000001\ncallerid=\"Alice Example\" <5551001>\n\
origdate=Thu Nov 26 06:21:59 AM UTC 2026\norigtime=1795674119\ncategory=\n\
msg_id=1795674116-00000000\nflag=\nduration=7\n";

    #[test]
    fn an_asterisk_file_renders_back_byte_for_byte() {
        let parsed = MessageInfo::parse(ASTERISK_20).unwrap();
        assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
        assert_eq!(parsed.info.render(), ASTERISK_20);
        assert_eq!(parsed.info.origtime(), Some(1_795_674_119));
        assert_eq!(parsed.info.duration(), Some(7));
        assert_eq!(parsed.info.priority(), Some(2));
        assert_eq!(parsed.info.msg_id(), Some("1795674116-00000000"));
        assert_eq!(parsed.info.flag(), "");
        assert_eq!(
            parsed.info.caller_id(),
            ("Alice Example".into(), "5551001".into())
        );
    }

    #[test]
    fn the_generated_origdate_matches_asterisks_format() {
        assert_eq!(
            MessageInfo::format_origdate(1_795_674_119).unwrap(),
            "Thu Nov 26 06:21:59 AM UTC 2026"
        );
        // %e pads single-digit days with a space.
        assert_eq!(
            MessageInfo::format_origdate(1_767_312_000).unwrap(),
            "Fri Jan  2 12:00:00 AM UTC 2026"
        );
    }

    #[test]
    fn comments_blank_lines_crlf_and_arrows_are_read_like_asterisk() {
        let text = b"; hi\r\n[general]\r\nfoo=bar\r\n[message]\r\n  Origtime => 42 ; a comment\r\n\
callerid=\"A\\;B\" <1>\r\nnonsense\r\n";
        let parsed = MessageInfo::parse(text).unwrap();
        assert_eq!(parsed.info.origtime(), Some(42));
        assert_eq!(parsed.info.get("foo"), None);
        assert_eq!(parsed.info.caller_id(), ("A;B".into(), "1".into()));
        assert_eq!(parsed.diagnostics.len(), 1);
        assert_eq!(parsed.diagnostics[0].line, 7);
    }

    #[test]
    fn files_that_are_not_message_information_are_errors() {
        assert_eq!(
            MessageInfo::parse(b"origtime=1\n"),
            Err(InfoError::NoMessageSection)
        );
        assert!(matches!(
            MessageInfo::parse(&vec![b'a'; MAX_INFO_BYTES + 1]),
            Err(InfoError::TooLarge { .. })
        ));
    }

    /// Fuzz find: a value cut at the limit must not end in blanks (they would be trimmed
    /// on the next read).
    #[test]
    fn a_cut_value_does_not_end_in_blanks() {
        let text = format!("[message]\nk={}\u{b}x\n", "a".repeat(MAX_VALUE_BYTES - 1));
        let parsed = MessageInfo::parse(text.as_bytes()).unwrap();
        assert_eq!(
            parsed.info.get("k").map(str::len),
            Some(MAX_VALUE_BYTES - 1)
        );
        assert_eq!(
            MessageInfo::parse(&parsed.info.render()).unwrap().info,
            parsed.info
        );
    }

    /// Fuzz find: a `;` in a key (from `\;`) must be escaped when rendered, like in values.
    #[test]
    fn a_semicolon_in_a_key_survives_render_and_parse() {
        let parsed = MessageInfo::parse(b"[message]\ncallerc\\;han=x\n").unwrap();
        assert_eq!(
            parsed.info.entries(),
            [("callerc;han".to_owned(), "x".to_owned())]
        );
        assert_eq!(
            MessageInfo::parse(&parsed.info.render()).unwrap().info,
            parsed.info
        );
    }

    #[test]
    fn callerid_forms() {
        for (raw, name, num) in [
            ("\"Alice\" <5551001>", "Alice", "5551001"),
            ("Bob <200>", "Bob", "200"),
            ("<300>", "", "300"),
            ("5551234", "", "5551234"),
            ("+49 30 1234", "", "+49 30 1234"),
            ("Carol", "Carol", ""),
            ("Unknown", "", ""),
            ("", "", ""),
        ] {
            assert_eq!(split_callerid(raw), (name.into(), num.into()), "{raw}");
        }
        assert_eq!(MessageInfo::callerid_merge("", ""), "Unknown");
        assert_eq!(MessageInfo::callerid_merge("A", "1"), "\"A\" <1>");
    }

    #[test]
    fn the_header_field_carries_every_entry() {
        let mut info = MessageInfo::parse(ASTERISK_20).unwrap().info;
        info.set("callerid", "\"Zoë; =%\" <1>");
        let mut message = b"Subject: x\r\nMIME-Version: 1.0\r\n\r\nbody\r\n".to_vec();
        assert!(info.insert_into(&mut message));
        let text = String::from_utf8(message.clone()).unwrap();
        assert!(text.starts_with("Subject: x\r\nMIME-Version: 1.0\r\nX-Imapvm-Spool-Info: origmailbox=1234;\r\n context=from-internal;"), "{text}");
        assert!(text.ends_with("\r\n\r\nbody\r\n"), "{text}");
        assert!(text.lines().all(|l| l.len() < 998));
        assert_eq!(MessageInfo::from_header_block(&message), Some(info));
    }

    #[test]
    fn a_header_block_without_the_field_gives_none() {
        assert_eq!(MessageInfo::from_header_block(b"Subject: x\r\n\r\n"), None);
        assert_eq!(
            MessageInfo::from_header_block(b"X-Imapvm-Spool-Info: a=%G1\r\n\r\n"),
            None
        );
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        fn value() -> impl Strategy<Value = String> {
            // Printable text without leading/trailing blanks (Asterisk trims them).
            "[ -~éü]{0,40}".prop_map(|s| s.trim().to_owned())
        }

        proptest! {
            #[test]
            fn render_then_parse_is_identity(
                entries in proptest::collection::vec(("[a-z_]{1,12}", value()), 0..20)
            ) {
                let mut info = MessageInfo::new();
                for (k, v) in &entries {
                    info.push(k, v);
                }
                let parsed = MessageInfo::parse(&info.render()).unwrap();
                prop_assert_eq!(&parsed.info, &info);
                let mut message = b"A: b\r\n\r\n".to_vec();
                prop_assert!(info.insert_into(&mut message));
                prop_assert_eq!(MessageInfo::from_header_block(&message), Some(info));
            }

            #[test]
            fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
                let _ = MessageInfo::parse(&bytes);
                let _ = MessageInfo::from_header_block(&bytes);
            }
        }
    }
}
