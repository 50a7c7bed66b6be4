//! Asterisk's per-operation command sequences: the data file that names the
//! trace and line range of each, its parser, the placeholder substitution the
//! replayer uses, and the check of each sequence against its trace.
//!
//! The file is `benches/fixtures/asterisk-sequences.txt` (its header documents
//! the format and the placeholders); [`SEQUENCES`] is its text.

use crate::error::{BenchError, Result};

/// The sequences file, compiled in.
pub const SEQUENCES: &str = include_str!("../fixtures/asterisk-sequences.txt");

/// c-client's `imap_lookahead` (IMAPLOOKAHEAD): messages whose structure one
/// `FETCH ... BODYSTRUCTURE` asks for, the target included.
pub const CCLIENT_LOOKAHEAD: u32 = 20;

/// The c-client envelope prefetch FETCH sent after a SEARCH with hits.
pub const PREFETCH_ITEMS: &str = "(UID ENVELOPE BODY.PEEK[HEADER.FIELDS (Newsgroups Content-MD5 \
     Content-Disposition Content-Language Content-Location Followup-To References)] INTERNALDATE \
     RFC822.SIZE FLAGS)";

/// One operation's recorded sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sequence {
    /// The operation (`deposit`, `count`, `list`, `play`, `delete`).
    pub operation: String,
    /// The trace file name (in `benches/fixtures/asterisk-traces/`).
    pub trace: String,
    /// First trace line of the range (1-based).
    pub first_line: usize,
    /// Last trace line of the range.
    pub last_line: usize,
    /// The command templates, in order.
    pub commands: Vec<String>,
}

impl Sequence {
    /// `trace lines a–b`, for reports.
    pub fn source(&self) -> String {
        format!(
            "{} lines {}–{}",
            self.trace, self.first_line, self.last_line
        )
    }
}

/// Parses the sequences file format (see the file's header).
pub fn parse(name: &str, text: &str) -> Result<Vec<Sequence>> {
    let mut out: Vec<Sequence> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end();
        let err = |message: String| BenchError::Sequence {
            file: name.to_owned(),
            line: i + 1,
            message,
        };
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let (operation, rest) = rest
                .split_once(']')
                .ok_or_else(|| err("missing ] after the operation".into()))?;
            let mut words = rest.split_ascii_whitespace();
            let trace = words
                .next()
                .ok_or_else(|| err("missing trace file".into()))?;
            let range = words
                .next()
                .ok_or_else(|| err("missing line range".into()))?;
            let (a, b) = range
                .split_once('-')
                .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
                .ok_or_else(|| err(format!("bad line range {range:?}")))?;
            if a > b || a == 0 {
                return Err(err(format!("empty line range {range:?}")));
            }
            if out.iter().any(|s| s.operation == operation) {
                return Err(err(format!("operation {operation} defined twice")));
            }
            out.push(Sequence {
                operation: operation.to_owned(),
                trace: trace.to_owned(),
                first_line: a,
                last_line: b,
                commands: Vec::new(),
            });
        } else {
            let seq = out
                .last_mut()
                .ok_or_else(|| err("command before the first [operation]".into()))?;
            seq.commands.push(line.to_owned());
        }
    }
    Ok(out)
}

/// The sequences compiled in, by operation name.
pub fn builtin(operation: &str) -> Result<Sequence> {
    parse("asterisk-sequences.txt", SEQUENCES)?
        .into_iter()
        .find(|s| s.operation == operation)
        .ok_or_else(|| BenchError::Scenario(format!("no Asterisk sequence for {operation}")))
}

/// The values substituted into a sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vars {
    /// `{folder}`.
    pub folder: String,
    /// `{greetings}`.
    pub greetings: String,
    /// `{ext}`.
    pub ext: String,
    /// `{ctx}`.
    pub ctx: String,
    /// `{seq}`.
    pub seq: u32,
    /// Messages in the folder (for `{lookahead}`).
    pub exists: u32,
}

/// c-client's compressed sequence set of ascending numbers: `1:3,5,7:8`.
pub fn compress(numbers: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < numbers.len() {
        let start = numbers[i];
        let mut end = start;
        while i + 1 < numbers.len() && numbers[i + 1] == end + 1 {
            end += 1;
            i += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

/// `{lookahead}`: `,seq+1:last` (or `,last` when only one follows), empty at
/// the end of the folder.
pub fn lookahead(seq: u32, exists: u32) -> String {
    let last = exists.min(seq.saturating_add(CCLIENT_LOOKAHEAD - 1));
    if last <= seq {
        String::new()
    } else if last == seq + 1 {
        format!(",{last}")
    } else {
        format!(",{}:{last}", seq + 1)
    }
}

/// One template made concrete. `hits` are the previous SEARCH's hits: a
/// `{hits}` line with none is not sent (`None`).
pub fn substitute(template: &str, vars: &Vars, hits: &[u32]) -> Option<String> {
    if template.contains("{hits}") && hits.is_empty() {
        return None;
    }
    let mut out = template
        .replace("{folder}", &vars.folder)
        .replace("{greetings}", &vars.greetings)
        .replace("{ext}", &vars.ext)
        .replace("{ctx}", &vars.ctx)
        .replace("{lookahead}", &lookahead(vars.seq, vars.exists))
        .replace("{seq}", &vars.seq.to_string());
    if out.contains("{hits}") {
        out = out.replace("{hits}", &compress(hits));
    }
    Some(out)
}

/// The client commands (tags stripped) of `trace` in lines `first..=last`:
/// lines `<time> C <8-hex-digit tag> <command>`; literal payload lines have no
/// tag and are left out.
pub fn trace_commands(trace: &str, first: usize, last: usize) -> Vec<(usize, String)> {
    trace
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(n, _)| *n >= first && *n <= last)
        .filter_map(|(n, l)| {
            let mut parts = l.splitn(4, ' ');
            let _time = parts.next()?;
            (parts.next()? == "C").then_some(())?;
            let tag = parts.next()?;
            if tag.len() != 8 || !tag.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            Some((n, parts.next()?.to_owned()))
        })
        .collect()
}

/// Checks `seq` against the commands of its trace, with `vars` holding the
/// trace's own values: every template must match the next trace command in
/// order, a `{hits}` template may be absent (no hits), a `{literal}` template
/// matches the announced `{n}`, and nothing may be left over.
pub fn verify(seq: &Sequence, trace: &str, vars: &Vars) -> std::result::Result<(), String> {
    let actual = trace_commands(trace, seq.first_line, seq.last_line);
    let mut next = 0;
    for template in &seq.commands {
        let got = actual.get(next);
        if template.contains("{hits}") {
            let concrete = substitute(template, vars, &[1]).unwrap_or_default();
            let (prefix, suffix) = concrete
                .split_once(" 1 ")
                .ok_or_else(|| format!("odd prefetch template {template:?}"))?;
            let matches = got.is_some_and(|(_, line)| {
                line.strip_prefix(prefix)
                    .and_then(|r| r.strip_prefix(' '))
                    .and_then(|r| r.split_once(' '))
                    .is_some_and(|(set, rest)| {
                        set.bytes()
                            .all(|b| b.is_ascii_digit() || b == b':' || b == b',')
                            && rest == suffix
                    })
            });
            if matches {
                next += 1;
            }
            continue;
        }
        let expected = if let Some(head) = template.strip_suffix(" {literal}") {
            let head = substitute(head, vars, &[]).unwrap_or_default();
            match got {
                Some((_, line))
                    if line
                        .strip_prefix(head.as_str())
                        .and_then(|r| r.strip_prefix(" {"))
                        .and_then(|r| r.strip_suffix('}'))
                        .is_some_and(|n| n.parse::<usize>().is_ok()) =>
                {
                    next += 1;
                    continue;
                }
                _ => format!("{head} {{n}}"),
            }
        } else {
            substitute(template, vars, &[]).unwrap_or_default()
        };
        match got {
            Some((_, line)) if *line == expected => next += 1,
            Some((n, line)) => {
                return Err(format!(
                    "{}: line {n} is {line:?}, the sequence says {expected:?}",
                    seq.operation
                ));
            }
            None => {
                return Err(format!(
                    "{}: the trace range ends before {expected:?}",
                    seq.operation
                ));
            }
        }
    }
    if let Some((n, line)) = actual.get(next) {
        return Err(format!(
            "{}: trace line {n} {line:?} is not in the sequence",
            seq.operation
        ));
    }
    Ok(())
}
