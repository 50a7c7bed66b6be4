//! RFC 2047 encoded-words: Asterisk's exact Q encoder, a correct B encoder, and a tolerant decoder.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Asterisk's `check_mime`: does a header value need encoding?
///
/// On x86 `char` is signed, so every byte >= 0x80 counts as "< 32" and triggers it.
pub fn asterisk_needs_encoding(value: &[u8]) -> bool {
    value
        .iter()
        .any(|&b| !(32..=126).contains(&b) || b"()<>@,:;/\"[]?.=".contains(&b))
}

/// Asterisk's `ast_str_encode_mime`, byte for byte.
///
/// `preamble` is the length already used on the first line (`"Subject: "`),
/// `postamble` what follows the last word (`" <addr>"`). Sections are separated
/// by one space; a trailing space is added when the last section plus the
/// postamble would pass 74 characters (the callers then emit an extra line).
pub fn asterisk_encode(charset: &str, value: &[u8], preamble: usize, postamble: usize) -> String {
    let start = format!("=?{charset}?Q?");
    let mut end = String::new();
    let mut tmp = start.clone();
    let mut first_section = true;
    for &byte in value {
        // Signed char: bytes >= 0x80 are negative, hence "< 33".
        let need_encoding = !(33..=126).contains(&byte) || b"()<>@,:;/\"[]?.=_".contains(&byte);
        let used = if first_section {
            preamble + tmp.len()
        } else {
            tmp.len()
        };
        if (need_encoding && used > 70) || (!need_encoding && used > 72) {
            if !first_section {
                end.push(' ');
            }
            end.push_str(&tmp);
            end.push_str("?=");
            tmp.clone_from(&start);
            first_section = false;
        }
        if need_encoding && byte == b' ' {
            tmp.push('_');
        } else if need_encoding {
            tmp.push_str(&format!("={byte:02X}"));
        } else {
            tmp.push(char::from(byte));
        }
    }
    if !first_section {
        end.push(' ');
    }
    end.push_str(&tmp);
    end.push_str("?=");
    if tmp.len() + postamble > 74 {
        end.push(' ');
    }
    end
}

/// Encodes a value as UTF-8 `B` encoded-words of at most 75 characters, joined by `CRLF SP`.
pub fn encode_b_utf8(value: &str) -> String {
    const CHUNK: usize = 45;
    let mut out = String::new();
    let mut rest = value;
    while !rest.is_empty() {
        let mut cut = rest.len().min(CHUNK);
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (chunk, tail) = rest.split_at(cut);
        if !out.is_empty() {
            out.push_str("\r\n ");
        }
        out.push_str("=?UTF-8?B?");
        out.push_str(&STANDARD.encode(chunk.as_bytes()));
        out.push_str("?=");
        rest = tail;
    }
    out
}

/// What went wrong while decoding encoded-words (the value is still returned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeProblem {
    /// An encoded-word names a charset this decoder does not know; the word was kept as is.
    UnknownCharset(String),
    /// Bad base64 or quoted-printable, or bytes invalid in their charset (replaced by U+FFFD).
    Malformed,
    /// A Latin-1/ASCII label on bytes that are really UTF-8 (Asterisk's quirk); decoded as UTF-8.
    MislabelledUtf8,
}

/// Decodes the encoded-words of an unfolded header value.
///
/// Whitespace between adjacent encoded-words is dropped, and adjacent words in the
/// same charset are joined before decoding (Asterisk splits UTF-8 sequences across words).
pub fn decode(value: &str) -> (Cow<'_, str>, Option<DecodeProblem>) {
    if !value.contains("=?") {
        return (Cow::Borrowed(value), None);
    }
    let mut out = String::with_capacity(value.len());
    let mut problem = None;
    // A pending run of decoded bytes in one charset.
    let mut run: Option<(String, Vec<u8>)> = None;
    let mut last_was_word = false;
    let mut pending_space = String::new();
    let mut rest = value;
    while !rest.is_empty() {
        if let Some((word, after)) = parse_word(rest) {
            // Whitespace between two encoded-words is dropped.
            if !last_was_word {
                flush(&mut run, &mut out, &mut problem);
                out.push_str(&pending_space);
            }
            pending_space.clear();
            let same_charset = run
                .as_ref()
                .is_some_and(|(cs, _)| cs.eq_ignore_ascii_case(word.charset));
            if !same_charset {
                flush(&mut run, &mut out, &mut problem);
            }
            match word.decode_bytes() {
                Some(bytes) => {
                    if let Some((_, buffer)) = run.as_mut() {
                        buffer.extend_from_slice(&bytes);
                    } else {
                        run = Some((word.charset.to_owned(), bytes));
                    }
                    last_was_word = true;
                }
                None => {
                    flush(&mut run, &mut out, &mut problem);
                    problem.get_or_insert(DecodeProblem::Malformed);
                    out.push_str(word.raw);
                    last_was_word = false;
                }
            }
            rest = after;
            continue;
        }
        let c = rest.chars().next().unwrap_or(' ');
        rest = &rest[c.len_utf8()..];
        if c == ' ' || c == '\t' {
            pending_space.push(c);
            continue;
        }
        flush(&mut run, &mut out, &mut problem);
        out.push_str(&pending_space);
        pending_space.clear();
        out.push(c);
        last_was_word = false;
    }
    flush(&mut run, &mut out, &mut problem);
    out.push_str(&pending_space);
    (Cow::Owned(out), problem)
}

fn flush(
    run: &mut Option<(String, Vec<u8>)>,
    out: &mut String,
    problem: &mut Option<DecodeProblem>,
) {
    let Some((charset, bytes)) = run.take() else {
        return;
    };
    match decode_charset(&charset, &bytes) {
        Ok((text, note)) => {
            if let Some(note) = note {
                problem.get_or_insert(note);
            }
            out.push_str(&text);
        }
        Err(()) => {
            problem.get_or_insert(DecodeProblem::UnknownCharset(charset.clone()));
            out.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
}

fn decode_charset(charset: &str, bytes: &[u8]) -> Result<(String, Option<DecodeProblem>), ()> {
    // RFC 2231 language suffix: charset*lang.
    let charset = charset
        .split('*')
        .next()
        .unwrap_or(charset)
        .to_ascii_lowercase();
    match charset.as_str() {
        "utf-8" | "utf8" => Ok(match std::str::from_utf8(bytes) {
            Ok(text) => (text.to_owned(), None),
            Err(_) => (
                String::from_utf8_lossy(bytes).into_owned(),
                Some(DecodeProblem::Malformed),
            ),
        }),
        "us-ascii" | "ascii" | "iso-8859-1" | "iso8859-1" | "latin1" | "latin-1" | "l1"
        | "iso_8859-1" | "windows-1252" | "cp1252" | "iso-8859-15" => {
            if bytes.is_ascii() {
                return Ok((bytes.iter().map(|&b| char::from(b)).collect(), None));
            }
            if let Ok(text) = std::str::from_utf8(bytes) {
                return Ok((text.to_owned(), Some(DecodeProblem::MislabelledUtf8)));
            }
            Ok((bytes.iter().map(|&b| char::from(b)).collect(), None))
        }
        _ => Err(()),
    }
}

struct Word<'a> {
    raw: &'a str,
    charset: &'a str,
    encoding: u8,
    text: &'a str,
}

impl Word<'_> {
    fn decode_bytes(&self) -> Option<Vec<u8>> {
        match self.encoding {
            b'B' | b'b' => {
                let cleaned: String = self
                    .text
                    .chars()
                    .filter(|c| !c.is_ascii_whitespace())
                    .collect();
                STANDARD.decode(cleaned.as_bytes()).ok().or_else(|| {
                    base64::engine::general_purpose::STANDARD_NO_PAD
                        .decode(cleaned.trim_end_matches('='))
                        .ok()
                })
            }
            _ => {
                let bytes = self.text.as_bytes();
                let mut out = Vec::with_capacity(bytes.len());
                let mut i = 0;
                while i < bytes.len() {
                    match bytes[i] {
                        b'_' => out.push(b' '),
                        b'=' => {
                            let hex = bytes.get(i + 1..i + 3)?;
                            let text = std::str::from_utf8(hex).ok()?;
                            out.push(u8::from_str_radix(text, 16).ok()?);
                            i += 2;
                        }
                        other => out.push(other),
                    }
                    i += 1;
                }
                Some(out)
            }
        }
    }
}

/// Parses one encoded-word at the start of `input`.
fn parse_word(input: &str) -> Option<(Word<'_>, &str)> {
    let body = input.strip_prefix("=?")?;
    let q1 = body.find('?')?;
    let charset = &body[..q1];
    if charset.is_empty() || charset.contains(|c: char| c.is_whitespace() || c == '=') {
        return None;
    }
    let after_charset = &body[q1 + 1..];
    let encoding = *after_charset.as_bytes().first()?;
    if !matches!(encoding, b'B' | b'b' | b'Q' | b'q')
        || after_charset.as_bytes().get(1) != Some(&b'?')
    {
        return None;
    }
    let text_and_rest = &after_charset[2..];
    let close = text_and_rest.find("?=")?;
    let text = &text_and_rest[..close];
    if text.contains([' ', '\t', '?']) {
        return None;
    }
    let raw_len = 2 + q1 + 1 + 2 + close + 2;
    Some((
        Word {
            raw: &input[..raw_len],
            charset,
            encoding,
            text,
        },
        &input[raw_len..],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asterisk_subject_example() {
        // The example of docs/reference/asterisk-imap-behaviour.md §2.6:
        // `[PBX]: New message 1 in mailbox 1234`.
        assert_eq!(
            asterisk_encode("ISO-8859-1", b"[PBX]: New message 1 in mailbox 1234", 9, 0),
            "=?ISO-8859-1?Q?=5BPBX=5D=3A_New_message_1_in_mailbox_1234?="
        );
    }

    #[test]
    fn asterisk_splits_long_values_and_marks_overflow() {
        let long = "Ünïcödé ".repeat(8);
        let encoded = asterisk_encode("ISO-8859-1", long.as_bytes(), 6, 30);
        for section in encoded.split(' ').filter(|s| !s.is_empty()) {
            assert!(
                section.starts_with("=?ISO-8859-1?Q?") && section.ends_with("?="),
                "{section}"
            );
            assert!(section.len() <= 76, "{section}");
        }
        let (decoded, problem) = decode(encoded.trim_end());
        assert_eq!(decoded, long);
        assert_eq!(problem, Some(DecodeProblem::MislabelledUtf8));
    }

    #[test]
    fn check_mime_triggers() {
        assert!(asterisk_needs_encoding(b"a.b"));
        assert!(asterisk_needs_encoding("Björn".as_bytes()));
        assert!(!asterisk_needs_encoding(b"Alice Mailbox"));
    }

    #[test]
    fn decodes_words_and_keeps_plain_text() {
        assert_eq!(decode("=?utf-8?q?Bj=C3=B6rn?= Quota").0, "Björn Quota");
        assert_eq!(
            decode("=?UTF-8?B?QmrDtnJu?=  =?UTF-8?B?IFg=?=").0,
            "Björn X"
        );
        assert_eq!(
            decode("a =?x-unknown?Q?b?= c"),
            (
                Cow::Borrowed("a b c"),
                Some(DecodeProblem::UnknownCharset("x-unknown".to_owned()))
            )
        );
        assert_eq!(decode("=?ISO-8859-1?Q?Bj=F6rn?=").0, "Björn");
        assert_eq!(
            decode("=?utf-8?Q?bad=Z?=").1,
            Some(DecodeProblem::Malformed)
        );
        assert_eq!(decode("no words =? here").0, "no words =? here");
    }

    #[test]
    fn b_encoder_round_trips() {
        let text = "ß".repeat(100) + " tail ";
        let encoded = encode_b_utf8(&text);
        let unfolded = encoded.replace("\r\n", "");
        assert_eq!(decode(&unfolded), (Cow::Owned(text), None));
    }
}
