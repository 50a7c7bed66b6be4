//! The file form of one account's [`VoicemailUids`](crate::VoicemailUids) cache, so that a new process (every
//! `imapvm count` or `list` a dialplan or a script runs is one) starts from what the last
//! one learnt instead of searching the whole folder (issue 22: 100 voicemails among
//! 100,000 e-mails).
//!
//! ```text
//! imapvm voicemail-uids 1
//! account vmshared@mail.example.com:143
//! 1733500000 100201 INBOX 2001 default 17,203,1000:1003 17=5210,203=48113
//! 1733500000 42 INBOX.Old 2001 default ~ ~
//! end 2
//! ```
//!
//! After the two header lines, one line per (folder, box) entry, the most recently used
//! first: UIDVALIDITY, `classified_below`, the folder's wire name, the extension, the
//! context, the UID set, and the RFC822.SIZE of some of those UIDs (see [`Remembered`]; a
//! listing needs no size from the server for them, which on Dovecot's maildir costs a read
//! of the folder's whole `dovecot-uidlist`). A field is percent-encoded (every byte
//! outside `!`–`~`, and `%` and `~`); `~` is the empty string or set. The `end` line counts
//! the entries: a file cut short (a crash while it was written, a full disk) is refused as a
//! whole, never read as fewer or shorter entries, since a UID set cut in the middle
//! (`1:5,700` read as `1:5,70`) would make a search skip a voicemail.
//!
//! Why any complete file is safe to read, however old and whichever process wrote it last:
//! an entry's invariant holds for ever within its UIDVALIDITY (see
//! [`crate::voicemail_uids`]), and an entry of an older UIDVALIDITY is dropped at the first
//! SELECT. It relies on the rule every IMAP server keeps (RFC 3501 §2.3.1.1): a UID is never
//! given to a second message under one UIDVALIDITY.
//!
//! This module only encodes and decodes text; the runtime reads and writes the file.

use imapvm_types::{Uid, UidSet, UidValidity};
use thiserror::Error;

use crate::voicemail_uids::{CacheBounds, MAX_REMEMBERED_SIZES, Remembered};

/// The (folder, extension, context) key the runtime's caches use.
pub type FolderBox = (String, String, String);

/// The first line of every file of this form (and its version).
pub const MAGIC: &str = "imapvm voicemail-uids 1";

/// Largest file [`decode`] reads: 64 entries of 1,024 ranges of two 10-digit UIDs, with
/// their names, fit with room to spare.
pub const MAX_FILE_BYTES: usize = 4 << 20;

/// Why a file was not read (the cache then starts empty: a whole-folder search, once).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UidFileError {
    /// Larger than [`MAX_FILE_BYTES`].
    #[error("{0} bytes, more than the {MAX_FILE_BYTES} a voicemail-UID file may have")]
    TooLarge(usize),
    /// Not this form, or another version of it.
    #[error("not an imapvm voicemail-UID file of version 1 (first line `{MAGIC}`)")]
    NotThisForm,
    /// Written for another account (a renamed file).
    #[error("written for another account")]
    OtherAccount,
    /// A line that is not an entry.
    #[error("line {line}: {problem}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// No `end` line, or one that counts other entries: the file was cut short.
    #[error("cut short (no `end` line counting its entries)")]
    CutShort,
}

/// The file of `account` (its `Display` form, `user@server:port`) holding `entries`.
pub fn encode(account: &str, entries: &[Remembered<FolderBox>]) -> String {
    let mut text = format!("{MAGIC}\naccount {}\n", field(account));
    for r in entries {
        let (folder, extension, context) = &r.key;
        let uids = r.uids.to_string();
        let sizes: Vec<String> = r.sizes.iter().map(|(u, n)| format!("{u}={n}")).collect();
        text.push_str(&format!(
            "{} {} {} {} {} {} {}\n",
            r.uid_validity,
            r.classified_below,
            field(folder),
            field(extension),
            field(context),
            field(&uids),
            field(&sizes.join(",")),
        ));
    }
    text.push_str(&format!("end {}\n", entries.len()));
    text
}

/// The entries of `account`'s file `text`, checked line by line. An entry with more UID
/// ranges than `bounds.max_ranges` is refused (this form is written from a cache of those
/// bounds); entries beyond `bounds.max_entries` are left out (the least recently used).
pub fn decode(
    account: &str,
    text: &str,
    bounds: CacheBounds,
) -> Result<Vec<Remembered<FolderBox>>, UidFileError> {
    if text.len() > MAX_FILE_BYTES {
        return Err(UidFileError::TooLarge(text.len()));
    }
    let mut lines = text.split('\n');
    if lines.next() != Some(MAGIC) {
        return Err(UidFileError::NotThisForm);
    }
    match lines.next().and_then(|l| l.strip_prefix("account ")) {
        Some(a) if unfield(a).as_deref() == Some(account) => {}
        Some(_) => return Err(UidFileError::OtherAccount),
        None => return Err(UidFileError::NotThisForm),
    }
    let mut entries = Vec::new();
    for (count, line) in lines.enumerate() {
        if let Some(n) = line.strip_prefix("end ") {
            // The end line, then only the final newline.
            let rest_empty = text.ends_with(&format!("\n{line}\n"));
            return match n.parse::<usize>() {
                Ok(n) if n == count && rest_empty => Ok(entries),
                _ => Err(UidFileError::CutShort),
            };
        }
        let at = count + 3;
        let entry =
            entry(line, bounds).map_err(|problem| UidFileError::Line { line: at, problem })?;
        if entries.len() < bounds.max_entries {
            entries.push(entry);
        }
    }
    Err(UidFileError::CutShort)
}

/// One entry line.
fn entry(line: &str, bounds: CacheBounds) -> Result<Remembered<FolderBox>, &'static str> {
    let fields: Vec<&str> = line.split(' ').collect();
    let [validity, below, folder, extension, context, uids, sizes] = fields[..] else {
        return Err(
            "not seven fields (UIDVALIDITY, classified below, folder, extension, context, UIDs, sizes)",
        );
    };
    let uid_validity = digits(validity)
        .and_then(|n| u32::try_from(n).ok())
        .and_then(UidValidity::new)
        .ok_or("the UIDVALIDITY is not a number from 1 to 4294967295")?;
    let classified_below = digits(below)
        .filter(|n| (1..=u64::from(Uid::MAX.get()) + 1).contains(n))
        .ok_or("the classified bound is not a number from 1 to 4294967296")?;
    let text = |f: &str| unfield(f).ok_or("a name is not percent-encoded UTF-8");
    let uids_text = text(uids)?;
    if uids_text.split(',').count() > bounds.max_ranges {
        return Err("more UID ranges than a cache keeps");
    }
    let uids: UidSet = uids_text
        .parse()
        .map_err(|_| "the UIDs are not a UID set")?;
    if uids
        .last()
        .is_some_and(|u| u64::from(u.get()) >= classified_below)
    {
        return Err("a UID at or above the classified bound");
    }
    let sizes_text = text(sizes)?;
    let mut sizes_read = Vec::new();
    for pair in sizes_text.split(',').filter(|p| !p.is_empty()) {
        if sizes_read.len() >= MAX_REMEMBERED_SIZES {
            return Err("more sizes than a cache keeps");
        }
        let size = pair
            .split_once('=')
            .and_then(|(u, n)| {
                let uid = Uid::new(u32::try_from(digits(u)?).ok()?)?;
                Some((uid, u32::try_from(digits(n)?).ok()?))
            })
            .filter(|(u, _)| uids.contains(*u))
            .ok_or("a size is not UID=bytes of a known UID")?;
        sizes_read.push(size);
    }
    Ok(Remembered {
        key: (text(folder)?, text(extension)?, text(context)?),
        uid_validity,
        uids,
        classified_below,
        sizes: sizes_read,
    })
}

/// A decimal number of at most 10 digits, nothing else.
fn digits(s: &str) -> Option<u64> {
    (!s.is_empty() && s.len() <= 10 && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// `s` percent-encoded, `~` when empty.
fn field(s: &str) -> String {
    if s.is_empty() {
        return "~".to_owned();
    }
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if (b'!'..=b'~').contains(&b) && b != b'%' && b != b'~' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// What [`field`] encoded; `None` for anything it cannot have written.
fn unfield(s: &str) -> Option<String> {
    if s == "~" {
        return Some(String::new());
    }
    let mut bytes = Vec::with_capacity(s.len());
    let mut rest = s.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        match b {
            b'%' => {
                let hex = tail.get(..2)?;
                let hex = std::str::from_utf8(hex).ok()?;
                bytes.push(u8::from_str_radix(hex, 16).ok()?);
                rest = &tail[2..];
            }
            b'!'..=b'}' => {
                bytes.push(b);
                rest = tail;
            }
            _ => return None,
        }
    }
    (!bytes.is_empty()).then_some(())?;
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voicemail_uids::{Scan, VoicemailUids};
    use proptest::prelude::*;

    const ACCOUNT: &str = "vmshared@mail.example.com:143";

    fn uid(n: u32) -> Uid {
        Uid::new(n).expect("non-zero")
    }

    fn key(folder: &str, ext: &str, ctx: &str) -> FolderBox {
        (folder.to_owned(), ext.to_owned(), ctx.to_owned())
    }

    fn remembered(folder: &str, uids: &str, below: u64) -> Remembered<FolderBox> {
        Remembered {
            key: key(folder, "2001", "default"),
            uid_validity: UidValidity::new(1_733_500_000).expect("non-zero"),
            uids: uids.parse().expect("a set"),
            classified_below: below,
            sizes: Vec::new(),
        }
    }

    #[test]
    fn the_documented_example_is_what_encode_writes() {
        let mut inbox = remembered("INBOX", "17,203,1000:1003", 100_201);
        inbox.sizes = vec![(uid(17), 5210), (uid(203), 48113)];
        let entries = [inbox, remembered("INBOX.Old", "", 42)];
        let text = encode(ACCOUNT, &entries);
        assert_eq!(
            text,
            "imapvm voicemail-uids 1\naccount vmshared@mail.example.com:143\n\
             1733500000 100201 INBOX 2001 default 17,203,1000:1003 17=5210,203=48113\n\
             1733500000 42 INBOX.Old 2001 default ~ ~\nend 2\n"
        );
        assert_eq!(
            decode(ACCOUNT, &text, CacheBounds::DEFAULT),
            Ok(entries.to_vec())
        );
    }

    #[test]
    fn names_with_spaces_percent_tildes_and_non_ascii_survive() {
        let mut r = remembered("Voice Mail/100%~ü", "5", 6);
        r.key.1 = String::new();
        r.key.2 = "ctx with\nnewline".to_owned();
        let text = encode(ACCOUNT, std::slice::from_ref(&r));
        assert_eq!(text.lines().count(), 4, "one line per entry: {text}");
        assert_eq!(decode(ACCOUNT, &text, CacheBounds::DEFAULT), Ok(vec![r]));
    }

    #[test]
    fn a_file_cut_anywhere_is_refused_as_a_whole() {
        let entries = [
            remembered("INBOX", "1:5,700", 1000),
            remembered("Work", "9", 12),
        ];
        let text = encode(ACCOUNT, &entries);
        for cut in 0..text.len() {
            let short = &text[..cut];
            assert!(
                decode(ACCOUNT, short, CacheBounds::DEFAULT).is_err(),
                "a file cut at byte {cut} was read: {short:?}"
            );
        }
    }

    #[test]
    fn another_account_another_form_and_bad_lines_are_refused() {
        let text = encode(ACCOUNT, &[remembered("INBOX", "3", 4)]);
        let text = text.replace("default 3 ~", "default 3 3=10");
        let b = CacheBounds::DEFAULT;
        assert_eq!(
            decode("other@x:143", &text, b),
            Err(UidFileError::OtherAccount)
        );
        assert_eq!(
            decode(ACCOUNT, &text.replace(" 1\n", " 2\n"), b),
            Err(UidFileError::NotThisForm)
        );
        for (bad, line) in [
            ("0 4 INBOX 2001 default 3", "UIDVALIDITY 0"),
            ("1733500000 4 INBOX 2001 default 4", "a UID at the bound"),
            ("1733500000 4 INBOX 2001 default 0", "UID 0"),
            (
                "1733500000 4294967297 INBOX 2001 default 3",
                "bound above 2^32",
            ),
            ("1733500000 4 INBOX 2001 default", "five fields"),
            ("1733500000 4 IN%G0 2001 default 3", "bad percent"),
            ("1733500000 4 IN%FF 2001 default 3", "not UTF-8"),
            ("1733500000 4  2001 default 3", "an empty field"),
        ] {
            let t = text.replace("1733500000 4 INBOX 2001 default 3", bad);
            assert!(
                matches!(
                    decode(ACCOUNT, &t, b),
                    Err(UidFileError::Line { line: 3, .. })
                ),
                "{line}: {t:?} was read"
            );
        }
        let big = "x".repeat(MAX_FILE_BYTES + 1);
        assert_eq!(
            decode(ACCOUNT, &big, b),
            Err(UidFileError::TooLarge(MAX_FILE_BYTES + 1))
        );
        let trailing = format!("{text}garbage\n");
        assert_eq!(decode(ACCOUNT, &trailing, b), Err(UidFileError::CutShort));
    }

    #[test]
    fn the_bounds_hold_on_reading() {
        let tight = CacheBounds {
            max_entries: 1,
            max_ranges: 2,
        };
        let text = encode(
            ACCOUNT,
            &[remembered("INBOX", "1,3", 9), remembered("Old", "5", 9)],
        );
        let read = decode(ACCOUNT, &text, tight).expect("read");
        assert_eq!(read, vec![remembered("INBOX", "1,3", 9)]);
        let wide = encode(ACCOUNT, &[remembered("INBOX", "1,3,5", 9)]);
        assert!(matches!(
            decode(ACCOUNT, &wide, tight),
            Err(UidFileError::Line { line: 3, .. })
        ));
    }

    /// A cache written and read back finds the same candidates: a new process searches
    /// exactly what the old one would have.
    #[test]
    fn a_cache_written_and_recalled_gives_the_same_candidates() {
        let v = UidValidity::new(7).expect("non-zero");
        let mut cache: VoicemailUids<FolderBox> = VoicemailUids::default();
        let hits = [uid(3), uid(90), uid(91)];
        cache.learn(
            key("INBOX", "2001", "default"),
            Scan {
                uid_validity: v,
                searched: None,
                hits: &hits,
                existing: Some(uid(120)),
            },
        );
        cache.learn(
            key("Old", "2001", "default"),
            Scan {
                uid_validity: v,
                searched: None,
                hits: &[],
                existing: None,
            },
        );
        let text = encode(ACCOUNT, &cache.remembered());
        let mut fresh: VoicemailUids<FolderBox> = VoicemailUids::default();
        fresh.recall(decode(ACCOUNT, &text, CacheBounds::DEFAULT).expect("read"));
        for k in [
            key("INBOX", "2001", "default"),
            key("Old", "2001", "default"),
        ] {
            assert_eq!(fresh.candidates(&k, v), cache.candidates(&k, v), "{k:?}");
        }
        let inbox = fresh.candidates(&key("INBOX", "2001", "default"), v);
        assert_eq!(
            inbox.map(|s| s.to_string()).as_deref(),
            Some("3,90:91,121:4294967295")
        );
        // Another UIDVALIDITY: nothing is known.
        let other = UidValidity::new(8).expect("non-zero");
        assert_eq!(
            fresh.candidates(&key("INBOX", "2001", "default"), other),
            None
        );
    }

    proptest! {
        /// Any entries survive the round trip, and text that is not a file is refused with
        /// an error, never a panic.
        #[test]
        fn round_trip(
            entries in proptest::collection::vec(
                (
                    1u32..,
                    proptest::collection::vec(1u32..1_000_000, 0..20),
                    "[ -~é]{0,12}",
                    "[0-9]{0,5}",
                    "[a-z ~%]{0,8}",
                ),
                0..8,
            ),
            junk in "\\PC{0,200}",
        ) {
            let mut seen = std::collections::HashSet::new();
            let entries: Vec<Remembered<FolderBox>> = entries
                .into_iter()
                .filter(|e| seen.insert((e.2.clone(), e.3.clone(), e.4.clone())))
                .map(|(v, uids, folder, ext, ctx)| {
                    let uids: UidSet = uids.into_iter().filter_map(Uid::new).collect();
                    let below = uids.last().map_or(1, |u| u64::from(u.get()) + 1);
                    let sizes = uids.iter().step_by(2).map(|u| (u, u.get() * 7)).collect();
                    Remembered {
                        key: (folder, ext, ctx),
                        uid_validity: UidValidity::new(v).expect("non-zero"),
                        uids,
                        classified_below: below,
                        sizes,
                    }
                })
                .collect();
            let text = encode(ACCOUNT, &entries);
            prop_assert_eq!(decode(ACCOUNT, &text, CacheBounds::DEFAULT), Ok(entries));
            let _ = decode(ACCOUNT, &junk, CacheBounds::DEFAULT);
            let spliced = format!("{MAGIC}\naccount {ACCOUNT}\n{junk}\nend 1\n");
            let _ = decode(ACCOUNT, &spliced, CacheBounds::DEFAULT);
        }
    }
}
