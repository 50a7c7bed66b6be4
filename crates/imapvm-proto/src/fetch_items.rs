//! The data items of one untagged `* n FETCH (...)` response, as the core routes them, from
//! imap-codec's decoding or from a fast path for the shapes this client's own fetches bring.
//!
//! A listing brings `* n FETCH (UID u FLAGS (..) RFC822.SIZE s BODY[HEADER.FIELDS (..)] {len}`
//! and play `BODY[HEADER] {len}`, `BODY[2.MIME] {len}`, `BINARY[2] ~{len}`. imap-codec's nom
//! decoding of such a response, allocating every echoed field name and checking every literal
//! byte, was half of a listing's client CPU. [`parse_fast`] reads exactly these shapes (UID,
//! FLAGS, RFC822.SIZE, MODSEQ, `BODY[section]<origin>` and `BINARY[part]` with NIL, simple
//! quoted or literal data) with upper-case keywords, CRLF line endings and no leading zeros,
//! borrowing section data from the response; it answers `None` for anything else (an
//! `ENVELOPE`, a `BODYSTRUCTURE`, an escaped quoted string, a lower-case keyword, a `{n+}`
//! announcement...), and the response goes to imap-codec as before. Where it answers, the
//! items equal imap-codec's converted by [`from_codec`] (a property test and the `responses`
//! fuzz target compare the two); only NUL bytes in literals differ in route (imap-codec is
//! given a patched copy, `crate::literals`), not in result.
//!
//! Bounded by construction: it reads one response the framer already limited (line, literal
//! and response sizes); every length it reads is checked against the bytes it has.

use std::borrow::Cow;
use std::num::NonZeroU32;
use std::sync::Arc;

use imap_codec::imap_types as t;
use t::IntoStatic;

use crate::convert;
use crate::types::{BodyStructure, Flag, InternalDate, Section, Uid};

/// One data item of a FETCH response that the core routes (UID and MODSEQ included; items it
/// never asks for, like `ENVELOPE` or `RFC822`, are left out).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FetchItem<'a> {
    /// `UID`
    Uid(Uid),
    /// `FLAGS`
    Flags(Vec<Flag>),
    /// `RFC822.SIZE`
    Size(u32),
    /// `INTERNALDATE`
    Date(InternalDate),
    /// `BODYSTRUCTURE`, or `None` for the non-extensible `BODY` form (it claims like a
    /// structure and is stored nowhere).
    Structure(Option<Box<BodyStructure>>),
    /// `MODSEQ` (CONDSTORE)
    ModSeq(u64),
    /// `BODY[section]` or `BINARY[part]` with its data (`None` = NIL): the original bytes.
    Section(Section, Option<Cow<'a, [u8]>>),
}

/// imap-codec's items as [`FetchItem`]s; `restore` gives section data its original bytes
/// (`crate::literals::LiteralPatches::restore`).
pub(crate) fn from_codec<'a>(
    items: Vec<t::fetch::MessageDataItem<'_>>,
    restore: impl Fn(&[u8]) -> Vec<u8>,
) -> Vec<FetchItem<'a>> {
    use t::fetch::MessageDataItem as I;
    items
        .into_iter()
        .filter_map(|item| {
            Some(match item {
                I::Uid(u) => FetchItem::Uid(Uid::from(u)),
                I::Flags(f) => FetchItem::Flags(f.iter().map(convert::flag_from_fetch).collect()),
                I::Rfc822Size(n) => FetchItem::Size(n),
                I::InternalDate(d) => FetchItem::Date(convert::internal_date(&d)),
                I::BodyStructure(b) => FetchItem::Structure(Some(Box::new(b.into_static()))),
                I::Body(_) => FetchItem::Structure(None),
                I::ModSeq(m) => FetchItem::ModSeq(m.get()),
                I::BodyExt { section, data, .. } => FetchItem::Section(
                    convert::section_from_wire(&section),
                    data.0.map(|d| Cow::Owned(restore(d.as_ref()))),
                ),
                I::Binary { section, value } => {
                    let data = match value {
                        t::core::NString8::NString(n) => n.into_option(),
                        t::core::NString8::Literal8(l) => Some(l.data),
                    };
                    FetchItem::Section(
                        convert::binary_section(&section),
                        data.map(|d| Cow::Owned(restore(d.as_ref()))),
                    )
                }
                _ => return None,
            })
        })
        .collect()
}

/// The header field names of the last `HEADER.FIELDS` list read, as echoed and as read: the
/// answers of a listing all echo the same names, which are then read (and allocated) once.
/// Holds one list, no longer than the line it came from.
#[derive(Debug, Default)]
pub(crate) struct FieldNames {
    echoed: Vec<u8>,
    names: Option<Arc<[String]>>,
}

/// The sequence number and items of `response` (one complete framed response) if it is a
/// `* n FETCH` of a shape read here (module docs); `None` sends it to imap-codec.
pub(crate) fn parse_fast<'a>(
    response: &'a [u8],
    names: &mut FieldNames,
) -> Option<(NonZeroU32, Vec<FetchItem<'a>>)> {
    let mut p = Cursor {
        b: response,
        i: 0,
        names,
    };
    p.tag(b"* ")?;
    let seq = p.nz_number()?;
    p.tag(b" FETCH (")?;
    let mut items = Vec::with_capacity(4);
    loop {
        items.push(p.item()?);
        match p.next()? {
            b' ' => {}
            b')' => break,
            _ => return None,
        }
    }
    p.tag(b"\r\n")?;
    (p.i == response.len()).then_some((seq, items))
}

/// imap-codec's items for `response`, converted, when it decodes it as a whole FETCH.
fn codec(response: &[u8]) -> Option<(NonZeroU32, Vec<FetchItem<'static>>)> {
    use imap_codec::ResponseCodec;
    use imap_codec::decode::Decoder;
    match ResponseCodec::default().decode(response) {
        Ok((&[], t::response::Response::Data(t::response::Data::Fetch { seq, items }))) => {
            Some((seq, from_codec(items.into_inner(), <[u8]>::to_vec)))
        }
        _ => None,
    }
}

/// Fuzzing and property-test support, not API: whether the FETCH fast path read `response`
/// (`Ok(true)`) or left it to imap-codec (`Ok(false)`); `Err` says how the two differ where
/// the fast path read it. NUL bytes (imap-codec is given a patched copy in their place) are
/// compared as SOH, for both.
#[doc(hidden)]
pub fn fetch_fast_path_check(response: &[u8]) -> Result<bool, String> {
    let patched: Cow<'_, [u8]> = if response.contains(&0) {
        Cow::Owned(
            response
                .iter()
                .map(|b| if *b == 0 { 1 } else { *b })
                .collect(),
        )
    } else {
        Cow::Borrowed(response)
    };
    let mut names = FieldNames::default();
    if parse_fast(response, &mut names).is_some()
        != parse_fast(&patched, &mut FieldNames::default()).is_some()
    {
        return Err("NUL bytes changed whether the fast path reads the response".into());
    }
    let Some(fast) = parse_fast(&patched, &mut FieldNames::default()) else {
        return Ok(false);
    };
    // Read again with the names of the first reading remembered.
    if parse_fast(&patched, &mut names).as_ref() != Some(&fast) {
        return Err("the remembered field names changed the reading".into());
    }
    let slow = codec(&patched);
    if slow.as_ref() != Some(&fast) {
        return Err(format!(
            "fast path {fast:?}, imap-codec {slow:?} for {:?}",
            String::from_utf8_lossy(response)
        ));
    }
    Ok(true)
}

/// A position in a response.
struct Cursor<'a, 'n> {
    b: &'a [u8],
    i: usize,
    names: &'n mut FieldNames,
}

/// Whether `c` is an IMAP ATOM-CHAR (RFC 3501: CHAR except atom-specials), kept to the
/// printable ASCII range.
fn is_atom_char(c: u8) -> bool {
    matches!(c, 0x21..=0x7e) && !matches!(c, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
}

/// Whether `c` may be in a header field name read here (others go to imap-codec).
fn is_field_name_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.')
}

impl<'a> Cursor<'a, '_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    /// Consumes `t` if the input continues with it.
    fn tag(&mut self, t: &[u8]) -> Option<()> {
        self.try_tag(t).then_some(())
    }

    fn try_tag(&mut self, t: &[u8]) -> bool {
        let found = self.b.get(self.i..).is_some_and(|rest| rest.starts_with(t));
        if found {
            self.i += t.len();
        }
        found
    }

    /// `number` (RFC 3501) within `u64`, at most `max_digits` digits, no leading zero.
    fn digits(&mut self, max_digits: usize) -> Option<u64> {
        let rest = self.b.get(self.i..)?;
        let n = rest.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 || n > max_digits || (n > 1 && rest[0] == b'0') {
            return None;
        }
        let value = rest[..n]
            .iter()
            .fold(0u64, |v, c| v * 10 + u64::from(c - b'0'));
        self.i += n;
        Some(value)
    }

    fn number(&mut self) -> Option<u32> {
        u32::try_from(self.digits(10)?).ok()
    }

    fn nz_number(&mut self) -> Option<NonZeroU32> {
        NonZeroU32::new(self.number()?)
    }

    fn item(&mut self) -> Option<FetchItem<'a>> {
        if self.try_tag(b"UID ") {
            Some(FetchItem::Uid(Uid::from(self.nz_number()?)))
        } else if self.try_tag(b"FLAGS (") {
            self.flags().map(FetchItem::Flags)
        } else if self.try_tag(b"RFC822.SIZE ") {
            self.number().map(FetchItem::Size)
        } else if self.try_tag(b"MODSEQ (") {
            // mod-sequence-value (RFC 7162) is below 2^63: 18 digits always are.
            let m = self.digits(18).filter(|m| *m != 0)?;
            self.tag(b")")?;
            Some(FetchItem::ModSeq(m))
        } else if self.try_tag(b"BODY[") {
            let section = self.section()?;
            if self.try_tag(b"<") {
                self.number()?;
                self.tag(b">")?;
            }
            self.tag(b" ")?;
            let data = self.nstring(false)?;
            Some(FetchItem::Section(section, data))
        } else if self.try_tag(b"BINARY[") {
            let part = if self.peek() == Some(b']') {
                Vec::new()
            } else {
                self.part()?
            };
            self.tag(b"] ")?;
            let data = self.nstring(true)?;
            Some(FetchItem::Section(Section::Binary(part), data))
        } else {
            None
        }
    }

    /// The flags of `FLAGS (` up to and including `)`.
    fn flags(&mut self) -> Option<Vec<Flag>> {
        let mut flags = Vec::new();
        if self.try_tag(b")") {
            return Some(flags);
        }
        loop {
            let start = self.i;
            if self.peek() == Some(b'\\') {
                self.i += 1;
            }
            let atom = self.b.get(self.i..)?;
            let n = atom.iter().take_while(|c| is_atom_char(**c)).count();
            if n == 0 {
                return None;
            }
            self.i += n;
            // Atom characters are ASCII: the conversion cannot fail.
            flags.push(Flag::from_wire(
                std::str::from_utf8(&self.b[start..self.i]).ok()?,
            ));
            match self.next()? {
                b' ' => {}
                b')' => return Some(flags),
                _ => return None,
            }
        }
    }

    /// A section part, `1*("." nz-number)` after the first: stops before a `.` that is
    /// not followed by a digit.
    fn part(&mut self) -> Option<Vec<u32>> {
        let mut part = vec![self.nz_number()?.get()];
        while self.peek() == Some(b'.')
            && self.b.get(self.i + 1).is_some_and(|c| c.is_ascii_digit())
        {
            self.i += 1;
            part.push(self.nz_number()?.get());
        }
        Some(part)
    }

    /// The section of `BODY[` up to and including `]`.
    fn section(&mut self) -> Option<Section> {
        if self.try_tag(b"]") {
            return Some(Section::Full);
        }
        let part = if self.peek().is_some_and(|c| c.is_ascii_digit()) {
            let part = self.part()?;
            if self.try_tag(b"]") {
                return Some(Section::Part(part));
            }
            self.tag(b".")?;
            if self.try_tag(b"MIME]") {
                return Some(Section::Mime(part));
            }
            part
        } else {
            Vec::new()
        };
        if self.try_tag(b"HEADER.FIELDS.NOT (") {
            let names = self.field_names()?;
            return Some(Section::HeaderFieldsNot(part, names));
        }
        if self.try_tag(b"HEADER.FIELDS (") {
            let names = self.field_names()?;
            return Some(Section::HeaderFields(part, names));
        }
        if self.try_tag(b"HEADER]") {
            return Some(Section::Header(part));
        }
        self.tag(b"TEXT]")?;
        Some(Section::Text(part))
    }

    /// The names of a header list up to and including `)]`: at least one, separated by
    /// single spaces.
    fn field_names(&mut self) -> Option<Arc<[String]>> {
        let rest = self.b.get(self.i..)?;
        let len = rest
            .iter()
            .take_while(|c| is_field_name_char(**c) || **c == b' ')
            .count();
        let echoed = &rest[..len];
        if rest.get(len..len + 2) != Some(b")]") {
            return None;
        }
        self.i += len + 2;
        if let Some(names) = &self.names.names
            && self.names.echoed == echoed
        {
            return Some(Arc::clone(names));
        }
        let mut names = Vec::new();
        for name in echoed.split(|c| *c == b' ') {
            if name.is_empty() {
                return None;
            }
            // Field name characters are ASCII: the conversion cannot fail.
            names.push(std::str::from_utf8(name).ok()?.to_owned());
        }
        let names: Arc<[String]> = names.into();
        self.names.echoed.clear();
        self.names.echoed.extend_from_slice(echoed);
        self.names.names = Some(Arc::clone(&names));
        Some(names)
    }

    /// `nstring`: NIL, a quoted string without escapes, or a literal; with `literal8`, also
    /// a `~{n}` literal8 (RFC 3516).
    fn nstring(&mut self, literal8: bool) -> Option<Option<Cow<'a, [u8]>>> {
        if self.try_tag(b"NIL") {
            return Some(None);
        }
        if self.try_tag(b"\"") {
            let rest = self.b.get(self.i..)?;
            let n = rest
                .iter()
                .take_while(|c| matches!(c, 0x20..=0x7e) && !matches!(c, b'"' | b'\\'))
                .count();
            if rest.get(n) != Some(&b'"') {
                return None;
            }
            self.i += n + 1;
            return Some(Some(Cow::Borrowed(&rest[..n])));
        }
        if literal8 {
            self.try_tag(b"~");
        }
        self.tag(b"{")?;
        let len = usize::try_from(self.number()?).ok()?;
        self.tag(b"}\r\n")?;
        let data = self.b.get(self.i..self.i.checked_add(len)?)?;
        self.i += len;
        Some(Some(Cow::Borrowed(data)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Wherever the fast path answers, imap-codec decodes the same items.
    fn agrees(response: &[u8]) {
        if let Err(e) = fetch_fast_path_check(response) {
            panic!("{e}");
        }
    }

    #[test]
    fn a_listing_answer_is_read_on_the_fast_path() {
        let r = b"* 3 FETCH (UID 17 FLAGS (\\Seen $Junk) RFC822.SIZE 6012 BODY[HEADER.FIELDS (DATE X-ASTERISK-VM-FLAG)] {33}\r\nDate: x\r\nX-Asterisk-VM-Flag: \r\n\r\n)\r\n";
        let (seq, items) = parse_fast(r, &mut FieldNames::default()).expect("fast path");
        assert_eq!(seq.get(), 3);
        assert_eq!(
            items,
            vec![
                FetchItem::Uid(Uid::new(17).expect("nonzero")),
                FetchItem::Flags(vec![Flag::Seen, Flag::Other("$Junk".into())]),
                FetchItem::Size(6012),
                FetchItem::Section(
                    Section::HeaderFields(
                        vec![],
                        ["DATE".to_owned(), "X-ASTERISK-VM-FLAG".to_owned()].into()
                    ),
                    Some(Cow::Borrowed(
                        &b"Date: x\r\nX-Asterisk-VM-Flag: \r\n\r\n"[..]
                    ))
                ),
            ]
        );
        assert_eq!(fetch_fast_path_check(r), Ok(true));
    }

    /// Real answers of Dovecot 2.3 to a listing's and to play's fetches (the audio cut to
    /// 512 bytes) are read on the fast path, as imap-codec reads them.
    #[test]
    fn dovecots_listing_and_play_answers_take_the_fast_path() {
        for (name, r) in [
            (
                "listing",
                &include_bytes!("../tests/fixtures/dovecot-listing-fetch.txt")[..],
            ),
            (
                "play",
                include_bytes!("../tests/fixtures/dovecot-play-fetch.txt"),
            ),
        ] {
            assert_eq!(fetch_fast_path_check(r), Ok(true), "{name}");
        }
    }

    /// Answers that echo the same names share them; other names are read anew.
    #[test]
    fn echoed_names_are_read_once_per_list() {
        let names_of = |r: &[u8], cache: &mut FieldNames| match parse_fast(r, cache) {
            Some((_, items)) => match items.into_iter().next() {
                Some(FetchItem::Section(Section::HeaderFields(_, n), _)) => n,
                other => panic!("{other:?}"),
            },
            None => panic!("not read"),
        };
        let mut cache = FieldNames::default();
        let a = names_of(b"* 1 FETCH (BODY[HEADER.FIELDS (A B)] NIL)\r\n", &mut cache);
        let b = names_of(b"* 2 FETCH (BODY[HEADER.FIELDS (A B)] NIL)\r\n", &mut cache);
        assert!(Arc::ptr_eq(&a, &b));
        let c = names_of(b"* 3 FETCH (BODY[HEADER.FIELDS (A C)] NIL)\r\n", &mut cache);
        assert_eq!(&c[..], ["A".to_owned(), "C".to_owned()]);
        assert_eq!(&a[..], ["A".to_owned(), "B".to_owned()]);
        assert_eq!(
            parse_fast(
                b"* 4 FETCH (BODY[HEADER.FIELDS (A C )] NIL)\r\n",
                &mut cache
            ),
            None
        );
    }

    #[test]
    fn play_answers_are_read_on_the_fast_path() {
        let r = b"* 1 FETCH (UID 5 MODSEQ (12) BODY[HEADER] {4}\r\nA:b\n BODY[2.MIME] NIL BINARY[2] ~{3}\r\n\0\x01\xff BINARY[3] {2}\r\nab BODY[1.2.HEADER] \"q\" BODY[]<7> {0}\r\n)\r\n";
        let (_, items) = parse_fast(r, &mut FieldNames::default()).expect("fast path");
        assert_eq!(
            items[1..],
            [
                FetchItem::ModSeq(12),
                FetchItem::Section(Section::Header(vec![]), Some(Cow::Borrowed(&b"A:b\n"[..]))),
                FetchItem::Section(Section::Mime(vec![2]), None),
                FetchItem::Section(
                    Section::Binary(vec![2]),
                    Some(Cow::Borrowed(&b"\0\x01\xff"[..]))
                ),
                FetchItem::Section(Section::Binary(vec![3]), Some(Cow::Borrowed(&b"ab"[..]))),
                FetchItem::Section(Section::Header(vec![1, 2]), Some(Cow::Borrowed(&b"q"[..]))),
                FetchItem::Section(Section::Full, Some(Cow::Borrowed(&b""[..]))),
            ]
        );
        // Without the NUL, imap-codec reads it the same.
        agrees(
            &r.iter()
                .map(|b| if *b == 0 { 1 } else { *b })
                .collect::<Vec<_>>(),
        );
    }

    #[test]
    fn unusual_shapes_go_to_imap_codec() {
        for r in [
            &b"* 1 FETCH (UID 5 ENVELOPE NIL)\r\n"[..],
            b"* 1 FETCH (uid 5)\r\n",
            b"* 1 fetch (UID 5)\r\n",
            b"* 0 FETCH (UID 5)\r\n",
            b"* 1 FETCH (UID 05)\r\n",
            b"* 1 FETCH (UID 5)\n",
            b"* 1 FETCH ()\r\n",
            b"* 1 FETCH (UID 5 )\r\n",
            b"* 1 FETCH (UID 5)\r\nx",
            b"* 1 FETCH (BODY[] \"a\\\"b\")\r\n",
            b"* 1 FETCH (BODY[] {3+}\r\nabc)\r\n",
            b"* 1 FETCH (BODY[] {4}\r\nabc)\r\n",
            b"* 1 FETCH (BODY[HEADER.FIELDS (\"A B\")] NIL)\r\n",
            b"* 1 FETCH (BODY[HEADER.FIELDS ()] NIL)\r\n",
            b"* 1 FETCH (BODY[1.0] NIL)\r\n",
            b"* 1 FETCH (BODY ((\"text\" \"plain\" NIL NIL NIL \"7bit\" 0 0)))\r\n",
            b"* 1 FETCH (FLAGS (\\*))\r\n",
            b"* 1 FETCH (FLAGS (\\Seen)\r\n",
            b"* 1 FETCH (MODSEQ (0))\r\n",
            b"* 1 FETCH (RFC822.SIZE 4294967296)\r\n",
            b"* 1 FETCH (BINARY.SIZE[1] 4)\r\n",
            b"* 1 FETCH (BODY[] ~{1}\r\na)\r\n",
        ] {
            assert_eq!(
                parse_fast(r, &mut FieldNames::default()),
                None,
                "{:?}",
                String::from_utf8_lossy(r)
            );
        }
    }

    /// Pieces of FETCH responses, most in shapes the fast path reads, some not.
    fn item() -> impl Strategy<Value = Vec<u8>> {
        let number = prop_oneof![
            Just("0".to_owned()),
            Just("01".to_owned()),
            (1u32..).prop_map(|n| n.to_string()),
            Just("4294967296".to_owned())
        ];
        let flag = prop_oneof![
            Just("\\Seen"),
            Just("\\seen"),
            Just("\\Deleted"),
            Just("\\Recent"),
            Just("\\RECENT"),
            Just("\\Foo"),
            Just("$Junk"),
            Just("Old"),
            Just("\\*"),
            Just("a]b"),
            Just("\\"),
        ];
        let name = prop_oneof![
            Just("DATE"),
            Just("X-Asterisk-VM-Flag"),
            Just("a.b_c"),
            Just("\"A\""),
            Just("A]"),
            Just(""),
        ];
        let part = proptest::collection::vec(
            prop_oneof![Just("1"), Just("2"), Just("0"), Just("12")],
            0..3,
        )
        .prop_map(|p| p.join("."));
        let section = (
            part,
            prop_oneof![
                Just(String::new()),
                Just("HEADER".into()),
                Just("TEXT".into()),
                Just("MIME".into()),
                Just("header".into()),
                proptest::collection::vec(name.clone(), 0..3)
                    .prop_map(|n| format!("HEADER.FIELDS ({})", n.join(" "))),
                proptest::collection::vec(name, 1..3)
                    .prop_map(|n| format!("HEADER.FIELDS.NOT ({})", n.join(" "))),
            ],
        )
            .prop_map(|(p, s)| match (p.is_empty(), s.is_empty()) {
                (true, _) => s,
                (false, true) => p,
                (false, false) => format!("{p}.{s}"),
            });
        let data = proptest::collection::vec(any::<u8>(), 0..12);
        let nstring = (0..6u8, data, 0..3usize).prop_map(|(kind, d, skew)| -> Vec<u8> {
            let mut out = Vec::new();
            match kind {
                0 => out.extend_from_slice(b"NIL"),
                1 | 2 => {
                    out.push(b'"');
                    out.extend(d.iter().map(|b| if kind == 1 { b'a' + b % 26 } else { *b }));
                    out.push(b'"');
                }
                3 => {
                    out.extend_from_slice(format!("~{{{}}}\r\n", d.len()).as_bytes());
                    out.extend_from_slice(&d);
                }
                _ => {
                    let len = if kind == 5 { d.len() + skew } else { d.len() };
                    out.extend_from_slice(format!("{{{len}}}\r\n").as_bytes());
                    out.extend_from_slice(&d);
                }
            }
            out
        });
        prop_oneof![
            number.clone().prop_map(|n| format!("UID {n}").into_bytes()),
            number
                .clone()
                .prop_map(|n| format!("RFC822.SIZE {n}").into_bytes()),
            number
                .clone()
                .prop_map(|n| format!("MODSEQ ({n})").into_bytes()),
            proptest::collection::vec(flag, 0..4)
                .prop_map(|f| format!("FLAGS ({})", f.join(" ")).into_bytes()),
            (section, proptest::option::of(number), nstring.clone()).prop_map(|(s, o, d)| {
                let mut out = format!("BODY[{s}]").into_bytes();
                if let Some(o) = o {
                    out.extend_from_slice(format!("<{o}>").as_bytes());
                }
                out.push(b' ');
                out.extend_from_slice(&d);
                out
            }),
            (proptest::collection::vec(1u32..4, 0..3), nstring).prop_map(|(p, d)| {
                let p: Vec<String> = p.iter().map(u32::to_string).collect();
                let mut out = format!("BINARY[{}] ", p.join(".")).into_bytes();
                out.extend_from_slice(&d);
                out
            }),
            Just(b"INTERNALDATE \"07-Dec-2026 06:00:00 +0000\"".to_vec()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// Wherever the fast path reads a response, imap-codec reads the same items.
        #[test]
        fn the_fast_path_agrees_with_imap_codec(
            seq in prop_oneof![Just("0".to_owned()), (1u32..100).prop_map(|n| n.to_string())],
            items in proptest::collection::vec(item(), 1..5),
        ) {
            let mut r = format!("* {seq} FETCH (").into_bytes();
            for (i, it) in items.iter().enumerate() {
                if i > 0 {
                    r.push(b' ');
                }
                r.extend_from_slice(it);
            }
            r.extend_from_slice(b")\r\n");
            agrees(&r);
        }

        /// Arbitrary bytes after a FETCH head never panic the fast path, and where it reads
        /// them imap-codec agrees.
        #[test]
        fn arbitrary_fetch_tails_agree(tail in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut r = b"* 1 FETCH (".to_vec();
            r.extend(tail);
            agrees(&r);
        }
    }
}
