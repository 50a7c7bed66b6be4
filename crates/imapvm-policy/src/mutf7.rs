//! IMAP modified UTF-7 (RFC 3501 §5.1.3) for mailbox names: encode and strict decode.
//!
//! Printable US-ASCII except `&` stands for itself, `&` is `&-`, and every
//! other run of characters is UTF-16BE in base64 (with `,` for `/`, no
//! padding) between `&` and `-`. Decoding is strict: it accepts exactly the
//! strings [`encode`] produces, so `encode(decode(s)?) == s` always holds.

use thiserror::Error;

/// A mailbox name that is not valid modified UTF-7.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Utf7Error {
    /// A byte outside printable US-ASCII appears unencoded.
    #[error("byte 0x{byte:02x} at offset {offset} must be encoded")]
    RawByte {
        /// The offending byte.
        byte: u8,
        /// Its offset in the name.
        offset: usize,
    },
    /// A `&` shift sequence has no closing `-`.
    #[error("shift sequence at offset {offset} is not closed by '-'")]
    Unterminated {
        /// Offset of the `&`.
        offset: usize,
    },
    /// A shift sequence holds a byte that is not modified base64.
    #[error("byte 0x{byte:02x} at offset {offset} is not modified base64")]
    BadBase64 {
        /// The offending byte.
        byte: u8,
        /// Its offset in the name.
        offset: usize,
    },
    /// A shift sequence does not decode to whole, well-formed UTF-16.
    #[error("shift sequence at offset {offset} is not valid UTF-16")]
    BadUtf16 {
        /// Offset of the `&`.
        offset: usize,
    },
    /// A shift sequence encodes something that must be written directly, or
    /// directly follows another one (not the canonical form).
    #[error("shift sequence at offset {offset} is not in canonical form")]
    NotCanonical {
        /// Offset of the `&`.
        offset: usize,
    },
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

fn is_direct(c: char) -> bool {
    ('\u{20}'..='\u{7e}').contains(&c) && c != '&'
}

fn sextet(byte: u8) -> Option<u32> {
    ALPHABET
        .iter()
        .position(|b| *b == byte)
        .and_then(|p| u32::try_from(p).ok())
}

fn push_base64(out: &mut String, units: &[u16]) {
    let mut bits: u32 = 0;
    let mut count: u32 = 0;
    for unit in units {
        bits = (bits << 16) | u32::from(*unit);
        count += 16;
        while count >= 6 {
            count -= 6;
            out.push(char::from(ALPHABET[((bits >> count) & 0x3f) as usize]));
        }
        bits &= (1 << count) - 1;
    }
    if count > 0 {
        out.push(char::from(
            ALPHABET[((bits << (6 - count)) & 0x3f) as usize],
        ));
    }
}

/// Encodes a mailbox name (or one hierarchy level of it) as modified UTF-7.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending: Vec<u16> = Vec::new();
    for c in name.chars() {
        if is_direct(c) || c == '&' {
            if !pending.is_empty() {
                out.push('&');
                push_base64(&mut out, &pending);
                out.push('-');
                pending.clear();
            }
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut buf = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    if !pending.is_empty() {
        out.push('&');
        push_base64(&mut out, &pending);
        out.push('-');
    }
    out
}

/// Decodes a modified UTF-7 mailbox name, accepting only canonical encodings.
pub fn decode(wire: &str) -> Result<String, Utf7Error> {
    let bytes = wire.as_bytes();
    let mut out = String::with_capacity(wire.len());
    let mut i = 0;
    // Offset just past the last shift sequence that encoded characters, to
    // reject `&AGE-&AGE-` (two adjacent sequences are one in canonical form).
    let mut last_shift_end: Option<usize> = None;
    while i < bytes.len() {
        let b = bytes[i];
        if b != b'&' {
            if !(0x20..=0x7e).contains(&b) {
                return Err(Utf7Error::RawByte { byte: b, offset: i });
            }
            out.push(char::from(b));
            i += 1;
            continue;
        }
        let start = i;
        let close = bytes[start + 1..]
            .iter()
            .position(|c| *c == b'-')
            .map(|p| start + 1 + p)
            .ok_or(Utf7Error::Unterminated { offset: start })?;
        if close == start + 1 {
            out.push('&');
            i = close + 1;
            continue;
        }
        if last_shift_end == Some(start) {
            return Err(Utf7Error::NotCanonical { offset: start });
        }
        let mut units: Vec<u16> = Vec::new();
        let mut bits: u32 = 0;
        let mut count: u32 = 0;
        for (k, byte) in bytes[start + 1..close].iter().enumerate() {
            let value = sextet(*byte).ok_or(Utf7Error::BadBase64 {
                byte: *byte,
                offset: start + 1 + k,
            })?;
            bits = (bits << 6) | value;
            count += 6;
            if count >= 16 {
                count -= 16;
                units.push(((bits >> count) & 0xffff) as u16);
                bits &= (1 << count) - 1;
            }
        }
        // Leftover bits must be fewer than 6 and all zero (canonical padding).
        if count >= 6 || bits != 0 || units.is_empty() {
            return Err(Utf7Error::BadUtf16 { offset: start });
        }
        for decoded in char::decode_utf16(units.iter().copied()) {
            let c = decoded.map_err(|_| Utf7Error::BadUtf16 { offset: start })?;
            if is_direct(c) || c == '&' {
                return Err(Utf7Error::NotCanonical { offset: start });
            }
            out.push(c);
        }
        i = close + 1;
        last_shift_end = Some(i);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 3501 §5.1.3 example: "~peter/mail/台北/日本語".
    #[test]
    fn rfc3501_example() {
        let name = "~peter/mail/\u{53f0}\u{5317}/\u{65e5}\u{672c}\u{8a9e}";
        assert_eq!(encode(name), "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
        assert_eq!(
            decode("~peter/mail/&U,BTFw-/&ZeVnLIqe-").as_deref(),
            Ok(name)
        );
    }

    #[test]
    fn ampersand_and_latin1() {
        assert_eq!(encode("Tom & Jerry"), "Tom &- Jerry");
        assert_eq!(encode("Entwürfe"), "Entw&APw-rfe");
        assert_eq!(decode("Entw&APw-rfe").as_deref(), Ok("Entwürfe"));
        assert_eq!(encode("\u{1F600}"), "&2D3eAA-");
        assert_eq!(decode("&2D3eAA-").as_deref(), Ok("\u{1F600}"));
    }

    #[test]
    fn rejects_non_canonical_and_broken_input() {
        assert_eq!(decode("&AGE-"), Err(Utf7Error::NotCanonical { offset: 0 }));
        assert_eq!(
            decode("&APw-&APw-"),
            Err(Utf7Error::NotCanonical { offset: 5 })
        );
        assert_eq!(decode("a&APw"), Err(Utf7Error::Unterminated { offset: 1 }));
        assert_eq!(
            decode("&AP/-"),
            Err(Utf7Error::BadBase64 {
                byte: b'/',
                offset: 3
            })
        );
        assert_eq!(decode("&APx-"), Err(Utf7Error::BadUtf16 { offset: 0 }));
        assert_eq!(decode("&2D0-"), Err(Utf7Error::BadUtf16 { offset: 0 }));
        assert_eq!(
            decode("caf\u{e9}"),
            Err(Utf7Error::RawByte {
                byte: 0xc3,
                offset: 3
            })
        );
    }
}
