//! The script format: what the peer sends and what it expects the client to
//! send, one line of script per line of protocol.
//!
//! It is the `C:`/`S:` format of `crates/imapvm-proto/tests/support/mod.rs`
//! (indentation before a step is ignored, each `C:`/`S:` line gets the line
//! ending appended, consecutive lines of one side form one step, `EOF`
//! closes), with a few additions:
//!
//! | line | step |
//! |---|---|
//! | `S: text` | the peer sends `text` and the line ending |
//! | `C: text` | the client must send exactly `text` and the line ending |
//! | `C~ text` | the client must send one line starting with `text` (the rest of it, whatever it is, up to its line feed) |
//! | `S\| text` | the peer sends `text` as it is, no line ending added; escapes `\r` `\n` `\t` `\0` `\\` `\xNN` |
//! | `C\| text` | the client must send exactly those bytes (same escapes) |
//! | `EOF` or `close` | the peer closes the connection |
//! | `stall` | the peer goes silent: it neither reads nor writes, and keeps the connection open until it is finished or dropped |
//! | `sleep N` | the peer waits `N` milliseconds |
//! | `# text`, blank | nothing |
//!
//! The line ending is CRLF (IMAP, AMI) unless the script is parsed with
//! [`LineEnding::Lf`] (FastAGI).

use std::time::Duration;

/// What ends a `C:`/`S:` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LineEnding {
    /// `\r\n`.
    #[default]
    CrLf,
    /// `\n`.
    Lf,
}

impl LineEnding {
    fn bytes(self) -> &'static [u8] {
        match self {
            LineEnding::CrLf => b"\r\n",
            LineEnding::Lf => b"\n",
        }
    }
}

/// One step of a [`Script`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The peer writes these bytes.
    Send(Vec<u8>),
    /// The client must have written exactly these bytes next.
    Expect(Vec<u8>),
    /// The client must write a line (up to and with its `\n`) that starts
    /// with these bytes.
    ExpectLineStarting(Vec<u8>),
    /// The peer closes the connection.
    Close,
    /// The peer neither reads nor writes any more; the connection stays open.
    Stall,
    /// The peer waits.
    Sleep(Duration),
}

/// A parsed script: its steps, each with the number of the script line it
/// starts on (for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    steps: Vec<(usize, Step)>,
}

/// A line of script that is none of the forms in the module doc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptError {
    /// Its 1-based line number.
    pub line: usize,
    /// The line.
    pub text: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl std::fmt::Display for ScriptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "script line {}: {} ({:?})",
            self.line, self.reason, self.text
        )
    }
}

impl std::error::Error for ScriptError {}

impl Script {
    /// Parse `text` with CRLF line endings.
    pub fn parse(text: &str) -> Result<Script, ScriptError> {
        Script::parse_with(text, LineEnding::CrLf)
    }

    /// Parse `text`; `C:`/`S:` lines end in `ending`.
    pub fn parse_with(text: &str, ending: LineEnding) -> Result<Script, ScriptError> {
        let mut steps: Vec<(usize, Step)> = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            let number = n + 1;
            let line = raw.trim_start();
            let error = |reason| ScriptError {
                line: number,
                text: raw.to_string(),
                reason,
            };
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let step = match line.trim_end() {
                "EOF" | "close" => Step::Close,
                "stall" => Step::Stall,
                other if other.starts_with("sleep ") => {
                    let millis = other["sleep ".len()..]
                        .trim()
                        .parse()
                        .map_err(|_| error("`sleep` wants whole milliseconds"))?;
                    Step::Sleep(Duration::from_millis(millis))
                }
                _ => {
                    let (side, rest) = split_side(line).ok_or_else(|| {
                        error("expected `S:`, `C:`, `C~`, `S|`, `C|`, `EOF`, `stall` or `sleep N`")
                    })?;
                    let with_ending = |text: &str| {
                        let mut bytes = text.as_bytes().to_vec();
                        bytes.extend_from_slice(ending.bytes());
                        bytes
                    };
                    match side {
                        "S:" => Step::Send(with_ending(rest)),
                        "C:" => Step::Expect(with_ending(rest)),
                        "C~" => Step::ExpectLineStarting(rest.as_bytes().to_vec()),
                        "S|" => Step::Send(unescape(rest).map_err(error)?),
                        _ => Step::Expect(unescape(rest).map_err(error)?),
                    }
                }
            };
            match (step, steps.last_mut()) {
                (Step::Send(more), Some((_, Step::Send(bytes))))
                | (Step::Expect(more), Some((_, Step::Expect(bytes)))) => bytes.extend(more),
                (step, _) => steps.push((number, step)),
            }
        }
        Ok(Script { steps })
    }

    /// The steps, in order, each with its script line number.
    pub fn steps(&self) -> &[(usize, Step)] {
        &self.steps
    }

    /// The script with adjacent sends merged (responses coalesced into one
    /// write, as a server may do).
    pub fn coalesced(&self) -> Script {
        let mut steps: Vec<(usize, Step)> = Vec::new();
        for (line, step) in &self.steps {
            match (step, steps.last_mut()) {
                (Step::Send(more), Some((_, Step::Send(bytes)))) => bytes.extend_from_slice(more),
                _ => steps.push((*line, step.clone())),
            }
        }
        Script { steps }
    }
}

/// `("S:", rest)` for `S: rest` (the one space after the marker is not
/// part of the text; `S:` alone is an empty line).
fn split_side(line: &str) -> Option<(&str, &str)> {
    let side = line.get(..2)?;
    if !matches!(side, "S:" | "C:" | "C~" | "S|" | "C|") {
        return None;
    }
    let rest = &line[2..];
    match rest.strip_prefix(' ') {
        Some(text) => Some((side, text)),
        None if rest.is_empty() => Some((side, "")),
        None => None,
    }
}

/// The bytes of a `S|`/`C|` line: `\r`, `\n`, `\t`, `\0`, `\\`, `\xNN`.
fn unescape(text: &str) -> Result<Vec<u8>, &'static str> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        out.push(match bytes.next() {
            Some(b'r') => b'\r',
            Some(b'n') => b'\n',
            Some(b't') => b'\t',
            Some(b'0') => 0,
            Some(b'\\') => b'\\',
            Some(b'x') => {
                let hex = [bytes.next(), bytes.next()];
                let digits: Option<Vec<u8>> = hex.into_iter().collect();
                digits
                    .and_then(|d| std::str::from_utf8(&d).ok().map(str::to_owned))
                    .and_then(|d| u8::from_str_radix(&d, 16).ok())
                    .ok_or("`\\x` wants two hex digits")?
            }
            _ => return Err("unknown escape (use \\r \\n \\t \\0 \\\\ \\xNN)"),
        });
    }
    Ok(out)
}

/// `bytes` as a quoted string with control and non-ASCII bytes escaped, and
/// the offset in that string where byte `at` starts (to point at it).
pub(crate) fn shown(bytes: &[u8], at: usize) -> (String, usize) {
    let mut out = String::from("\"");
    let mut offset = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if i == at {
            offset = out.len();
        }
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    if at >= bytes.len() {
        offset = out.len();
    }
    out.push('"');
    (out, offset)
}
