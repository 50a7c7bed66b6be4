//! [`Response`]: what Asterisk writes back, line by line. `200 result=N[ (data)][ endpos=E]`,
//! `510 ...`, `511 ...`, the multi-line `520-...` / `520 End of proper usage.` block (or its
//! one-line form), and the out-of-band `HANGUP` line.
//!
//! Lines end with LF only. A CR is data, as `res_agi` treats it: Asterisk never sends one, so
//! `200 result=0\r` has the result `0\r`, which no command accepts.

use crate::{Error, LimitKind, Limits, MisbehaviourReason, Misuse};

/// `200 result=...`: the command ran.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Success {
    /// The word after `result=`, possibly empty: a number (`0`, `-1`, a DTMF key's ASCII code)
    /// or, for `GET DATA`, the digits entered.
    pub result: String,
    /// The text in parentheses: `timeout`, `dtmf`, `hangup`, a variable's value...
    pub data: Option<String>,
    /// The `endpos=` value. `CONTROL STREAM FILE` says `-1` when the file played to its end
    /// (`control_streamfile` in Asterisk's `main/app.c` sets the offset to -8 samples).
    pub endpos: Option<i64>,
}

impl Success {
    /// The result as a number, when it is one.
    pub fn code(&self) -> Option<i64> {
        self.result.parse().ok()
    }
}

/// The usage text of a multi-line answer, between the first and the last line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Usage {
    /// The lines between `NNN-...` and `NNN ...`.
    pub lines: Vec<String>,
    /// The text of the last line, e.g. `End of proper usage.`.
    pub end: String,
}

/// A code other than 200: `510`, `511`, `520`, ...
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The code, 0-999 but never 200.
    pub code: u16,
    /// The text after the code on the first line.
    pub text: String,
    /// The rest of a multi-line (`NNN-`) answer.
    pub usage: Option<Usage>,
}

/// One thing Asterisk writes on the AGI socket after the environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
    /// `200 result=...`.
    Success(Success),
    /// Any other code.
    Failure(Failure),
    /// The out-of-band `HANGUP` line: the channel hung up. It answers no command; it may
    /// come between a command and its response, and twice.
    Hangup,
}

impl Response {
    /// Parses exactly one response: one line, or a multi-line block, each line ended by LF.
    pub fn parse(input: &[u8], limits: &Limits) -> Result<Response, Error> {
        let mut reader = ResponseReader::new();
        let mut rest = input;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            let (line, tail) = (&rest[..end], &rest[end + 1..]);
            rest = tail;
            if line.len() > limits.max_line {
                return Err(Error::limit(
                    LimitKind::LineLength,
                    line.len(),
                    limits.max_line,
                ));
            }
            if let Some(response) = reader.push_line(line, limits)? {
                if !rest.is_empty() {
                    return Err(Error::misbehaviour(MisbehaviourReason::BadResponse, rest));
                }
                return Ok(response);
            }
        }
        Err(Error::misbehaviour(MisbehaviourReason::Incomplete, rest))
    }

    /// The bytes Asterisk would write for this response. Fails for values that cannot be
    /// framed: a line feed anywhere, a space in `result`, code 200 or above 999 in a
    /// [`Failure`], a usage line that would end its block early.
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        let bad = |reason| {
            Error::Misuse(Misuse::InvalidArgument {
                what: "response",
                reason,
            })
        };
        let mut out = Vec::new();
        match self {
            Response::Hangup => out.extend_from_slice(b"HANGUP\n"),
            Response::Success(s) => {
                if s.result.contains([' ', '\n']) {
                    return Err(bad("result contains a space or line feed"));
                }
                out.extend_from_slice(b"200 result=");
                out.extend_from_slice(s.result.as_bytes());
                if let Some(data) = &s.data {
                    if data.contains('\n') {
                        return Err(bad("data contains a line feed"));
                    }
                    out.extend_from_slice(format!(" ({data})").as_bytes());
                }
                if let Some(endpos) = s.endpos {
                    out.extend_from_slice(format!(" endpos={endpos}").as_bytes());
                }
                out.push(b'\n');
            }
            Response::Failure(f) => {
                if f.code == 200 || f.code > 999 {
                    return Err(bad("a failure's code is 0-999 and not 200"));
                }
                let code = format!("{:03}", f.code);
                let end_prefix = format!("{code} ");
                let texts = std::iter::once(&f.text)
                    .chain(f.usage.iter().flat_map(|u| u.lines.iter().chain([&u.end])));
                if texts.clone().any(|t| t.contains('\n')) {
                    return Err(bad("text contains a line feed"));
                }
                match &f.usage {
                    None => out.extend_from_slice(format!("{code} {}\n", f.text).as_bytes()),
                    Some(usage) => {
                        if usage.lines.iter().any(|l| l.starts_with(&end_prefix)) {
                            return Err(bad("a usage line would end the block"));
                        }
                        out.extend_from_slice(format!("{code}-{}\n", f.text).as_bytes());
                        for line in &usage.lines {
                            out.extend_from_slice(line.as_bytes());
                            out.push(b'\n');
                        }
                        out.extend_from_slice(format!("{code} {}\n", usage.end).as_bytes());
                    }
                }
            }
        }
        Ok(out)
    }
}

/// Reads responses line by line (lines without their LF), keeping the state of a multi-line
/// block in between. The caller bounds each line's length.
#[derive(Clone, Debug, Default)]
pub struct ResponseReader {
    block: Option<Block>,
}

#[derive(Clone, Debug)]
struct Block {
    code: u16,
    text: String,
    lines: Vec<String>,
}

impl ResponseReader {
    /// A reader between responses.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether a multi-line block has begun and not ended.
    pub fn inside_block(&self) -> bool {
        self.block.is_some()
    }

    /// One line (without its LF). `Some` when it completes a response.
    pub fn push_line(&mut self, line: &[u8], limits: &Limits) -> Result<Option<Response>, Error> {
        let text = std::str::from_utf8(line)
            .map_err(|_| Error::misbehaviour(MisbehaviourReason::NotUtf8, line))?;
        if let Some(block) = &mut self.block {
            let end = text
                .strip_prefix(&format!("{:03} ", block.code))
                .map(str::to_owned);
            if let Some(end) = end {
                let Some(block) = self.block.take() else {
                    return Ok(None);
                };
                return Ok(Some(Response::Failure(Failure {
                    code: block.code,
                    text: block.text,
                    usage: Some(Usage {
                        lines: block.lines,
                        end,
                    }),
                })));
            }
            if block.lines.len() >= limits.max_usage_lines {
                let lines = block.lines.len() + 1;
                return Err(Error::limit(
                    LimitKind::UsageLines,
                    lines,
                    limits.max_usage_lines,
                ));
            }
            block.lines.push(text.to_owned());
            return Ok(None);
        }
        if text == "HANGUP" {
            return Ok(Some(Response::Hangup));
        }
        let bad = || Error::misbehaviour(MisbehaviourReason::BadResponse, line);
        let (code, sep, rest) = match line {
            [a, b, c, rest @ ..] if [a, b, c].iter().all(|d| d.is_ascii_digit()) => {
                let code =
                    u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0');
                match rest.first() {
                    None => (code, b' ', ""),
                    Some(&sep @ (b' ' | b'-')) => (code, sep, &text[4..]),
                    Some(_) => return Err(bad()),
                }
            }
            _ => return Err(bad()),
        };
        if code == 200 {
            if sep != b' ' {
                return Err(bad());
            }
            return parse_success(rest)
                .map(|s| Some(Response::Success(s)))
                .ok_or_else(bad);
        }
        if sep == b'-' {
            self.block = Some(Block {
                code,
                text: rest.to_owned(),
                lines: Vec::new(),
            });
            return Ok(None);
        }
        Ok(Some(Response::Failure(Failure {
            code,
            text: rest.to_owned(),
            usage: None,
        })))
    }
}

/// `result=R[ (data)][ endpos=E]`, R up to the first space.
fn parse_success(text: &str) -> Option<Success> {
    let text = text.strip_prefix("result=")?;
    let (result, rest) = text.split_at(text.find(' ').unwrap_or(text.len()));
    let parenthesised = |s: &str| {
        s.strip_prefix(" (")
            .and_then(|s| s.strip_suffix(')'))
            .map(str::to_owned)
    };
    let (data, endpos) = if rest.is_empty() {
        (None, None)
    } else if let Some(data) = parenthesised(rest) {
        (Some(data), None)
    } else {
        let at = rest.rfind(" endpos=")?;
        let digits = &rest[at + " endpos=".len()..];
        let unsigned = digits.strip_prefix('-').unwrap_or(digits);
        if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let endpos = digits.parse().ok()?;
        let before = &rest[..at];
        let data = if before.is_empty() {
            None
        } else {
            Some(parenthesised(before)?)
        };
        (data, Some(endpos))
    };
    Some(Success {
        result: result.to_owned(),
        data,
        endpos,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Response {
        Response::parse(s.as_bytes(), &Limits::default()).unwrap()
    }

    fn success(result: &str, data: Option<&str>, endpos: Option<i64>) -> Response {
        Response::Success(Success {
            result: result.into(),
            data: data.map(Into::into),
            endpos,
        })
    }

    #[test]
    fn success_forms() {
        assert_eq!(parse("200 result=0\n"), success("0", None, None));
        assert_eq!(
            parse("200 result=-1 endpos=16000\n"),
            success("-1", None, Some(16000))
        );
        assert_eq!(
            parse("200 result=35 (dtmf) endpos=11112\n"),
            success("35", Some("dtmf"), Some(11112))
        );
        assert_eq!(
            parse("200 result= (timeout)\n"),
            success("", Some("timeout"), None)
        );
        assert_eq!(parse("200 result=\n"), success("", None, None));
        assert_eq!(
            parse("200 result=1 (SUCCESS)\n"),
            success("1", Some("SUCCESS"), None)
        );
        // A variable's value may hold anything but a line feed.
        assert_eq!(
            parse("200 result=1 (a) endpos=5)\n"),
            success("1", Some("a) endpos=5"), None)
        );
        assert_eq!(parse("200 result=0\r\n"), success("0\r", None, None));
    }

    #[test]
    fn failure_forms() {
        let f = |code, text: &str| {
            Response::Failure(Failure {
                code,
                text: text.into(),
                usage: None,
            })
        };
        assert_eq!(
            parse("510 Invalid or unknown command\n"),
            f(510, "Invalid or unknown command")
        );
        assert_eq!(
            parse("511 Command Not Permitted on a dead channel or intercept routine\n"),
            f(
                511,
                "Command Not Permitted on a dead channel or intercept routine"
            )
        );
        assert_eq!(
            parse("520 Invalid command syntax.  Proper usage not available.\n"),
            f(520, "Invalid command syntax.  Proper usage not available.")
        );
        assert_eq!(parse("HANGUP\n"), Response::Hangup);
    }

    #[test]
    fn malformed_lines_are_refused() {
        for bad in [
            "200 result=0 Gosub complete\n",
            "200-result=0\n",
            "200 result=0 endpos=\n",
            "200 result=0 endpos=x\n",
            "2000 x\n",
            "20 x\n",
            "hangup\n",
            "HANGUP\r\n",
            "200 result=0",
            "200 result=0\n200 result=0\n",
        ] {
            assert!(
                Response::parse(bad.as_bytes(), &Limits::default()).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn usage_blocks_are_bounded() {
        let limits = Limits {
            max_usage_lines: 2,
            ..Limits::default()
        };
        let ok =
            "520-Invalid command syntax.  Proper usage follows:\na\nb\n520 End of proper usage.\n";
        assert!(Response::parse(ok.as_bytes(), &limits).is_ok());
        let long = "520-x\na\nb\nc\n520 end\n";
        assert!(matches!(
            Response::parse(long.as_bytes(), &limits),
            Err(Error::Limit(_))
        ));
    }
}
