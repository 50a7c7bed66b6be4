//! The `* ESEARCH` response (RFC 4731, RFC 9051 §7.3.4), parsed by hand: imap-codec cannot decode it.
//!
//! Bounded by construction: it reads one line the framer already limited to `max_line`, keeps
//! UID ranges (never expanded here) and refuses literals and nesting deeper than
//! [`MAX_DEPTH`].

/// How deep unknown parenthesised return values may nest before the line is refused.
const MAX_DEPTH: usize = 8;

/// A parsed `* ESEARCH` line.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Esearch {
    /// The correlator's tag, e.g. `a14` in `(TAG "a14")`.
    pub tag: Option<String>,
    /// Whether the `UID` indicator was present (the numbers are UIDs, not sequence numbers).
    pub uid: bool,
    /// `ALL`: inclusive ranges, low <= high, all non-zero, in the server's order.
    pub all: Vec<(u32, u32)>,
    /// `COUNT`.
    pub count: Option<u32>,
    /// `MIN`.
    pub min: Option<u32>,
    /// `MAX`.
    pub max: Option<u32>,
}

impl Esearch {
    /// How many numbers `ALL` names (without expanding it).
    pub fn all_len(&self) -> u64 {
        self.all
            .iter()
            .map(|(a, b)| u64::from(*b) - u64::from(*a) + 1)
            .sum()
    }
}

/// Whether a complete response message is an untagged ESEARCH (any case).
pub(crate) fn is_esearch(bytes: &[u8]) -> bool {
    const HEAD: &[u8] = b"* ESEARCH";
    bytes.len() > HEAD.len()
        && bytes[..HEAD.len()].eq_ignore_ascii_case(HEAD)
        && matches!(bytes[HEAD.len()], b' ' | b'\r' | b'\n')
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn sp(&mut self) -> Result<(), &'static str> {
        if self.eat(b' ') {
            Ok(())
        } else {
            Err("space expected")
        }
    }

    /// An atom-ish token: up to SP, `(`, `)`, `"` or the end.
    fn token(&mut self) -> Result<&'a [u8], &'static str> {
        let start = self.i;
        while let Some(c) = self.peek() {
            if matches!(c, b' ' | b'(' | b')' | b'"' | b'{' | b'\\') || c < 0x20 || c == 0x7f {
                break;
            }
            self.i += 1;
        }
        if self.i == start {
            Err("token expected")
        } else {
            Ok(&self.b[start..self.i])
        }
    }

    /// A quoted string (with `\"` and `\\` escapes) or an atom.
    fn string(&mut self) -> Result<String, &'static str> {
        if !self.eat(b'"') {
            return Ok(String::from_utf8_lossy(self.token()?).into_owned());
        }
        let mut out = Vec::new();
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.i += 1;
                    return Ok(String::from_utf8_lossy(&out).into_owned());
                }
                Some(b'\\') => {
                    self.i += 1;
                    match self.peek() {
                        Some(c @ (b'"' | b'\\')) => {
                            out.push(c);
                            self.i += 1;
                        }
                        _ => return Err("bad escape in quoted string"),
                    }
                }
                Some(b'\r' | b'\n') | None => return Err("unterminated quoted string"),
                Some(c) => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
    }

    fn number(&mut self) -> Result<u32, &'static str> {
        let t = self.token()?;
        if !t.iter().all(u8::is_ascii_digit) {
            return Err("number expected");
        }
        std::str::from_utf8(t)
            .ok()
            .and_then(|s| s.parse::<u32>().ok())
            .ok_or("number out of range")
    }

    fn nz_number(&mut self) -> Result<u32, &'static str> {
        match self.number()? {
            0 => Err("zero where a non-zero number is required"),
            n => Ok(n),
        }
    }

    /// A sequence set of non-zero numbers (no `*`: meaningless in a result).
    fn sequence_set(&mut self, out: &mut Vec<(u32, u32)>) -> Result<(), &'static str> {
        loop {
            let a = self.nz_number_until_colon()?;
            let b = if self.eat(b':') {
                self.nz_number_until_colon()?
            } else {
                a
            };
            out.push((a.min(b), a.max(b)));
            if !self.eat(b',') {
                return Ok(());
            }
        }
    }

    fn nz_number_until_colon(&mut self) -> Result<u32, &'static str> {
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        let digits = &self.b[start..self.i];
        if digits.is_empty() {
            return Err("number expected in sequence set");
        }
        match std::str::from_utf8(digits)
            .ok()
            .and_then(|s| s.parse::<u32>().ok())
        {
            Some(0) => Err("zero in sequence set"),
            Some(n) => Ok(n),
            None => Err("number out of range in sequence set"),
        }
    }

    /// An unknown return value: a token, a quoted string or a parenthesised list.
    fn skip_value(&mut self, depth: usize) -> Result<(), &'static str> {
        if depth > MAX_DEPTH {
            return Err("return value nested too deeply");
        }
        match self.peek() {
            Some(b'(') => {
                self.i += 1;
                if self.eat(b')') {
                    return Ok(());
                }
                loop {
                    self.skip_value(depth + 1)?;
                    if self.eat(b')') {
                        return Ok(());
                    }
                    self.sp()?;
                }
            }
            Some(b'"') => self.string().map(drop),
            _ => self.token().map(drop),
        }
    }
}

/// Parse one complete `* ESEARCH ...` message (CRLF optional). `Err` names what is wrong.
pub(crate) fn parse(bytes: &[u8]) -> Result<Esearch, &'static str> {
    if !is_esearch(bytes) {
        return Err("not an ESEARCH response");
    }
    let line = bytes
        .strip_suffix(b"\r\n")
        .or_else(|| bytes.strip_suffix(b"\n"))
        .unwrap_or(bytes);
    if line.iter().any(|c| matches!(c, b'\r' | b'\n')) {
        return Err("ESEARCH with a literal or a bare line break");
    }
    let mut c = Cursor {
        b: &line[9..],
        i: 0,
    };
    let mut out = Esearch::default();
    // Correlator: `(TAG "a14" [MAILBOX "x" UIDVALIDITY n ...])`.
    if c.b.get(..2) == Some(b" (") {
        c.i = 2;
        let key = c.token()?;
        if !key.eq_ignore_ascii_case(b"TAG") {
            return Err("correlator without TAG");
        }
        c.sp()?;
        out.tag = Some(c.string()?);
        while c.eat(b' ') {
            c.token()?;
            c.sp()?;
            c.string()?;
        }
        if !c.eat(b')') {
            return Err("unterminated correlator");
        }
    }
    while c.eat(b' ') {
        let name = c.token()?.to_ascii_uppercase();
        if name == b"UID" && !out.uid && out.all.is_empty() && out.count.is_none() {
            out.uid = true;
            continue;
        }
        c.sp()?;
        match name.as_slice() {
            b"ALL" => c.sequence_set(&mut out.all)?,
            b"COUNT" => out.count = Some(c.number()?),
            b"MIN" => out.min = Some(c.nz_number()?),
            b"MAX" => out.max = Some(c.nz_number()?),
            _ => c.skip_value(0)?,
        }
    }
    if c.i != c.b.len() {
        return Err("unexpected bytes in ESEARCH");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4731_examples() {
        let e = parse(b"* ESEARCH (TAG \"A282\") MIN 2 COUNT 3\r\n").unwrap();
        assert_eq!(e.tag.as_deref(), Some("A282"));
        assert!(!e.uid);
        assert_eq!((e.min, e.count, e.max), (Some(2), Some(3), None));
        let e = parse(b"* ESEARCH (TAG \"A283\") ALL 2,10:11\r\n").unwrap();
        assert_eq!(e.all, vec![(2, 2), (10, 11)]);
        assert_eq!(e.all_len(), 3);
        let e = parse(b"* ESEARCH (TAG \"A285\") UID MIN 7 MAX 3800\r\n").unwrap();
        assert!(e.uid);
        assert_eq!((e.min, e.max), (Some(7), Some(3800)));
        let e = parse(b"* ESEARCH (TAG \"A286\") COUNT 15\r\n").unwrap();
        assert_eq!(e.count, Some(15));
        assert_eq!(parse(b"* ESEARCH\r\n").unwrap(), Esearch::default());
    }

    #[test]
    fn quoted_tags_with_escapes_and_unknown_values_are_skipped() {
        let e = parse(
            b"* ESEARCH (TAG \"a\\\"1\") UID X-FOO (1 (2 \"x\") ()) ALL 4 PARTIAL (1:5 4)\r\n",
        )
        .unwrap();
        assert_eq!(e.tag.as_deref(), Some("a\"1"));
        assert_eq!(e.all, vec![(4, 4)]);
    }

    #[test]
    fn refuses_what_it_cannot_trust() {
        for bad in [
            &b"* ESEARCH (TAG \"a\") UID ALL 1:*\r\n"[..],
            b"* ESEARCH (TAG \"a\") UID ALL 0\r\n",
            b"* ESEARCH (TAG \"a\") UID ALL 4294967296\r\n",
            b"* ESEARCH (TAG \"a\") UID ALL\r\n",
            b"* ESEARCH (TAG \"a\") UID ALL 1,\r\n",
            b"* ESEARCH (TAG \"a\") UID COUNT x\r\n",
            b"* ESEARCH (TAG \"a\" UID\r\n",
            b"* ESEARCH (MAILBOX \"a\") UID\r\n",
            b"* ESEARCH (TAG \"a) UID\r\n",
            b"* ESEARCH (TAG \"a\") UID X ((((((((((1))))))))))\r\n",
            b"* ESEARCH (TAG \"a\") UID X {3}\r\nabc\r\n",
            b"* ESEARCHX\r\n",
        ] {
            assert!(parse(bad).is_err(), "{}", bad.escape_ascii());
        }
    }
}
