//! Framing of server input into lines and literals, the job of imap-codec's `Fragmentizer`,
//! over one contiguous buffer.
//!
//! imap-codec's `Fragmentizer` queues input in a `VecDeque` and moves every framed byte,
//! one at a time, into a second buffer: a 130 KB `BODY[]` literal cost about 0.25 ms of
//! copying, more than imap-codec took to decode it. [`Framer`] appends input once
//! (`extend_from_slice`) and frames it in place: a message is a range of the buffer, a
//! literal is skipped by its length, a line is found by its `\n`. It returns imap-codec's own
//! [`FragmentInfo`] and finds exactly the fragments the `Fragmentizer` finds, for any input
//! split (a property test runs both side by side).
//!
//! It enforces no size: `Connection::handle_input` checks every line, literal and message
//! against the limits as fragments come out, and fails before anything beyond them is kept.

use imap_codec::fragmentizer::{FragmentInfo, LineEnding, LiteralAnnouncement};
use imap_codec::imap_types::core::LiteralMode;

/// The most capacity kept between messages: a larger message grows the buffer, and once it is
/// dropped the buffer shrinks back to this (it does not hold its largest size for the rest
/// of the connection).
const KEEP_CAPACITY: usize = 1024 * 1024;

/// The most room [`Framer::reserve_literal`] makes ahead of the data: a server's
/// announcement alone does not make the client allocate more than this.
const RESERVE_MAX: usize = 4 * 1024 * 1024;

/// What the next bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// A line (of the current message, or the first line of the next one).
    Line,
    /// The rest of a literal: this many bytes.
    Literal(u32),
    /// Nothing: the current message is complete; the next `progress` starts a new one.
    NextMessage,
}

/// Frames server input into messages made of lines and literals (see the module docs).
#[derive(Debug)]
pub(crate) struct Framer {
    /// Input: the current message from `start`, then bytes not framed yet from `parsed`.
    buf: Vec<u8>,
    /// Where the current message starts in `buf`.
    start: usize,
    /// Where the current fragment starts in `buf`.
    fragment: usize,
    /// How far `buf` has been looked at (a partial line is not looked at twice).
    parsed: usize,
    expect: Expect,
}

impl Default for Framer {
    fn default() -> Self {
        Self::new()
    }
}

impl Framer {
    /// An empty framer expecting the first line of a message.
    pub(crate) fn new() -> Self {
        Self {
            buf: Vec::new(),
            start: 0,
            fragment: 0,
            parsed: 0,
            expect: Expect::Line,
        }
    }

    /// Appends input. Bytes of messages already handed out are dropped first, so the buffer
    /// holds at most the current message and what follows it.
    pub(crate) fn enqueue_bytes(&mut self, bytes: &[u8]) {
        if self.drop_handed_out()
            && self.buf.capacity() > KEEP_CAPACITY
            && self.buf.len() + bytes.len() <= KEEP_CAPACITY
        {
            self.buf.shrink_to(KEEP_CAPACITY);
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Drops the bytes of messages already handed out; whether there were any.
    fn drop_handed_out(&mut self) -> bool {
        if self.start == 0 {
            return false;
        }
        self.buf.drain(..self.start);
        self.fragment -= self.start;
        self.parsed -= self.start;
        self.start = 0;
        true
    }

    /// Keeps no more capacity than the bytes not handed out yet need.
    pub(crate) fn shrink(&mut self) {
        self.drop_handed_out();
        self.buf.shrink_to_fit();
    }

    /// Makes room for the rest of a literal of `len` bytes that the line just framed
    /// announced (at most [`RESERVE_MAX`] at once), so that a large literal lands in one
    /// allocation instead of a buffer that doubles as it arrives (each doubling copies
    /// everything held). The caller has checked `len` against its limit.
    pub(crate) fn reserve_literal(&mut self, len: u32) {
        let len = usize::try_from(len).unwrap_or(usize::MAX).min(RESERVE_MAX);
        let have = self.buf.len() - self.parsed;
        self.buf.reserve(len.saturating_sub(have));
    }

    /// The next fragment of the current message, or `None` until more input arrives. After
    /// a fragment that completes the message ([`Framer::is_message_complete`]), the next call
    /// starts the next message.
    pub(crate) fn progress(&mut self) -> Option<FragmentInfo> {
        if self.expect == Expect::NextMessage {
            self.start = self.parsed;
            self.fragment = self.parsed;
            self.expect = Expect::Line;
        }
        match self.expect {
            Expect::Literal(remaining) => {
                let available = self.buf.len() - self.parsed;
                let wanted = usize::try_from(remaining).unwrap_or(usize::MAX);
                if available < wanted {
                    self.parsed = self.buf.len();
                    // available < wanted <= u32::MAX: the conversion cannot fail.
                    let got = u32::try_from(available).unwrap_or(remaining);
                    self.expect = Expect::Literal(remaining - got);
                    return None;
                }
                self.parsed += wanted;
                let info = FragmentInfo::Literal {
                    start: self.fragment - self.start,
                    end: self.parsed - self.start,
                };
                self.fragment = self.parsed;
                self.expect = Expect::Line;
                Some(info)
            }
            Expect::Line | Expect::NextMessage => {
                let Some(lf) = self.buf[self.parsed..].iter().position(|&b| b == b'\n') else {
                    self.parsed = self.buf.len();
                    return None;
                };
                self.parsed += lf + 1;
                let line = &self.buf[self.fragment..self.parsed];
                let (ending, announcement) = line_end(line);
                let info = FragmentInfo::Line {
                    start: self.fragment - self.start,
                    end: self.parsed - self.start,
                    announcement,
                    ending,
                };
                self.fragment = self.parsed;
                self.expect = match announcement {
                    Some(a) => Expect::Literal(a.length),
                    None => Expect::NextMessage,
                };
                Some(info)
            }
        }
    }

    /// Whether the last fragment completed a message ([`Framer::message_bytes`] is whole).
    pub(crate) fn is_message_complete(&self) -> bool {
        self.expect == Expect::NextMessage
    }

    /// The bytes of a fragment of the current message.
    pub(crate) fn fragment_bytes(&self, info: FragmentInfo) -> &[u8] {
        let range = info.range();
        let message = self.message_bytes();
        let end = range.end.min(message.len());
        let start = range.start.min(end);
        &message[start..end]
    }

    /// The current message, as far as it is framed.
    pub(crate) fn message_bytes(&self) -> &[u8] {
        &self.buf[self.start..self.fragment]
    }
}

/// A complete line's ending and the literal it announces: `{n}` or `{n+}` right before the
/// ending, `n` within `u32` (a longer one announces nothing, as in imap-codec's framing).
fn line_end(line: &[u8]) -> (LineEnding, Option<LiteralAnnouncement>) {
    let Some(body) = line.strip_suffix(b"\n") else {
        return (LineEnding::Lf, None);
    };
    let (ending, body) = match body.strip_suffix(b"\r") {
        Some(body) => (LineEnding::CrLf, body),
        None => (LineEnding::Lf, body),
    };
    let Some(body) = body.strip_suffix(b"}") else {
        return (ending, None);
    };
    let (mode, body) = match body.strip_suffix(b"+") {
        Some(body) => (LiteralMode::NonSync, body),
        None => (LiteralMode::Sync, body),
    };
    let digits_from = body
        .iter()
        .rposition(|b| !b.is_ascii_digit())
        .map_or(0, |i| i + 1);
    let (head, digits) = body.split_at(digits_from);
    if digits.is_empty() || !head.ends_with(b"{") {
        return (ending, None);
    }
    let length = digits.iter().try_fold(0u32, |n, d| {
        n.checked_mul(10)?.checked_add(u32::from(d - b'0'))
    });
    (
        ending,
        length.map(|length| LiteralAnnouncement { mode, length }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use imap_codec::fragmentizer::Fragmentizer;
    use proptest::prelude::*;

    /// Every fragment with its bytes, and every complete message, in order.
    #[derive(Debug, PartialEq, Eq)]
    enum Seen {
        Fragment(FragmentInfo, Vec<u8>),
        Message(Vec<u8>),
    }

    fn run_framer(chunks: &[Vec<u8>]) -> Vec<Seen> {
        let mut f = Framer::new();
        let mut seen = Vec::new();
        for chunk in chunks {
            f.enqueue_bytes(chunk);
            while let Some(info) = f.progress() {
                seen.push(Seen::Fragment(info, f.fragment_bytes(info).to_vec()));
                if f.is_message_complete() {
                    seen.push(Seen::Message(f.message_bytes().to_vec()));
                }
            }
        }
        seen
    }

    fn run_fragmentizer(chunks: &[Vec<u8>]) -> Vec<Seen> {
        let mut f = Fragmentizer::without_max_message_size();
        let mut seen = Vec::new();
        for chunk in chunks {
            f.enqueue_bytes(chunk);
            while let Some(info) = f.progress() {
                seen.push(Seen::Fragment(info, f.fragment_bytes(info).to_vec()));
                if f.is_message_complete() {
                    seen.push(Seen::Message(f.message_bytes().to_vec()));
                }
            }
        }
        seen
    }

    fn split(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
        cuts.sort_unstable();
        let mut out = Vec::new();
        let mut from = 0;
        for c in cuts {
            out.push(bytes[from..c].to_vec());
            from = c;
        }
        out.push(bytes[from..].to_vec());
        out
    }

    /// Shrinking at any point (what a connection about to wait does) frames exactly as
    /// without, and keeps no more capacity than the unframed bytes.
    #[test]
    fn shrinking_keeps_what_is_not_handed_out() {
        let wire = b"* 1 EXISTS\r\n* 2 FETCH (BODY[] {5}\r\nhello)\r\nA1 OK done\r\n";
        let chunks = split(wire, &[3, 20, 33, 40]);
        let mut f = Framer::new();
        let mut seen = Vec::new();
        for chunk in &chunks {
            f.enqueue_bytes(chunk);
            f.shrink();
            assert_eq!(f.buf.capacity(), f.buf.len());
            while let Some(info) = f.progress() {
                seen.push(Seen::Fragment(info, f.fragment_bytes(info).to_vec()));
                if f.is_message_complete() {
                    seen.push(Seen::Message(f.message_bytes().to_vec()));
                    f.shrink();
                }
            }
        }
        assert_eq!(seen, run_framer(&chunks));
    }

    #[test]
    fn a_fetch_with_a_literal_is_two_lines_and_a_literal() {
        let input = b"* 1 FETCH (BODY[] {5}\r\nab\ncd)\r\na1 OK done\r\n";
        let seen = run_framer(&[input.to_vec()]);
        assert_eq!(
            seen,
            vec![
                Seen::Fragment(
                    FragmentInfo::Line {
                        start: 0,
                        end: 23,
                        announcement: Some(LiteralAnnouncement {
                            mode: LiteralMode::Sync,
                            length: 5
                        }),
                        ending: LineEnding::CrLf,
                    },
                    b"* 1 FETCH (BODY[] {5}\r\n".to_vec()
                ),
                Seen::Fragment(
                    FragmentInfo::Literal { start: 23, end: 28 },
                    b"ab\ncd".to_vec()
                ),
                Seen::Fragment(
                    FragmentInfo::Line {
                        start: 28,
                        end: 31,
                        announcement: None,
                        ending: LineEnding::CrLf,
                    },
                    b")\r\n".to_vec()
                ),
                Seen::Message(b"* 1 FETCH (BODY[] {5}\r\nab\ncd)\r\n".to_vec()),
                Seen::Fragment(
                    FragmentInfo::Line {
                        start: 0,
                        end: 12,
                        announcement: None,
                        ending: LineEnding::CrLf,
                    },
                    b"a1 OK done\r\n".to_vec()
                ),
                Seen::Message(b"a1 OK done\r\n".to_vec()),
            ]
        );
    }

    #[test]
    fn announcements_as_imap_codec_frames_them() {
        let cases: &[&[u8]] = &[
            b"x {3+}\nabc\n",
            b"x {0}\r\n\r\n",
            b"x {4294967295}\r\n",
            b"x {4294967296}\r\nrest\r\n",
            b"x {00012}\r\n123456789012\r\n",
            b"x {1{2}\r\n12\r\n",
            b"x {12}\r\r\n",
            b"x {}\r\n{+}\r\n{1+2}\r\n{ 1}\r\n",
            b"\n\r\n\r\r\n",
        ];
        for case in cases {
            assert_eq!(
                run_framer(&[case.to_vec()]),
                run_fragmentizer(&[case.to_vec()]),
                "{}",
                case.escape_ascii()
            );
        }
    }

    #[test]
    fn a_zero_length_literal_needs_no_input() {
        let mut f = Framer::new();
        f.enqueue_bytes(b"x {0}\r\n");
        assert!(matches!(f.progress(), Some(FragmentInfo::Line { .. })));
        assert_eq!(
            f.progress(),
            Some(FragmentInfo::Literal { start: 7, end: 7 })
        );
        assert_eq!(f.progress(), None);
        assert!(!f.is_message_complete());
    }

    #[test]
    fn a_large_literal_is_framed_in_place_and_its_capacity_given_back() {
        let body = vec![b'A'; 3 * KEEP_CAPACITY];
        let mut input = format!("* 1 FETCH (BODY[] {{{}}}\r\n", body.len()).into_bytes();
        input.extend_from_slice(&body);
        input.extend_from_slice(b")\r\n");
        let mut f = Framer::new();
        let mut literal = None;
        let mut message = None;
        for chunk in input.chunks(64 * 1024) {
            f.enqueue_bytes(chunk);
            while let Some(info) = f.progress() {
                if let FragmentInfo::Literal { .. } = info {
                    literal = Some(f.fragment_bytes(info).len());
                }
                if f.is_message_complete() {
                    message = Some(f.message_bytes().len());
                }
            }
        }
        assert_eq!(literal, Some(body.len()));
        assert_eq!(message, Some(input.len()));
        assert!(f.buf.capacity() > KEEP_CAPACITY);
        f.enqueue_bytes(b"a1 OK");
        assert_eq!(f.progress(), None);
        f.enqueue_bytes(b" done\r\n");
        assert!(f.buf.capacity() <= KEEP_CAPACITY);
        assert!(matches!(f.progress(), Some(FragmentInfo::Line { .. })));
        assert_eq!(f.message_bytes(), b"a1 OK done\r\n");
    }

    #[test]
    fn a_literal_is_reserved_for_up_to_its_bound() {
        let mut f = Framer::new();
        f.enqueue_bytes(b"* 1 FETCH (BODY[] {200000}\r\nabc");
        assert!(matches!(f.progress(), Some(FragmentInfo::Line { .. })));
        f.reserve_literal(200_000);
        assert!(f.buf.capacity() >= f.parsed + 200_000);
        let before = f.buf.as_ptr();
        f.enqueue_bytes(&vec![b'x'; 199_997]);
        assert_eq!(
            f.buf.as_ptr(),
            before,
            "the literal landed without a reallocation"
        );
        let mut g = Framer::new();
        g.enqueue_bytes(b"x {4000000000}\r\n");
        assert!(g.progress().is_some());
        g.reserve_literal(4_000_000_000);
        assert!(g.buf.capacity() <= RESERVE_MAX + 64);
    }

    fn wire_bytes() -> impl Strategy<Value = Vec<u8>> {
        let token = prop_oneof![
            Just(b"{".to_vec()),
            Just(b"}".to_vec()),
            Just(b"+".to_vec()),
            Just(b"\r".to_vec()),
            Just(b"\n".to_vec()),
            Just(b"\r\n".to_vec()),
            Just(b"}\r\n".to_vec()),
            Just(b"* 1 FETCH (BODY[] ".to_vec()),
            Just(b"{4294967296}".to_vec()),
            (0u32..20).prop_map(|n| format!("{{{n}}}\r\n").into_bytes()),
            (0u32..20).prop_map(|n| format!("{{{n}+}}\n").into_bytes()),
            (0u8..10).prop_map(|d| vec![b'0' + d]),
            any::<u8>().prop_map(|b| vec![b]),
        ];
        proptest::collection::vec(token, 0..40).prop_map(|t| t.concat())
    }

    proptest! {
        /// The framer finds what imap-codec's Fragmentizer finds, however the input is split.
        #[test]
        fn frames_like_imap_codec(
            bytes in wire_bytes(),
            cuts in proptest::collection::vec(any::<usize>(), 0..6),
        ) {
            let chunks = split(&bytes, &cuts);
            prop_assert_eq!(run_framer(&chunks), run_fragmentizer(std::slice::from_ref(&bytes)));
            prop_assert_eq!(run_framer(&chunks), run_fragmentizer(&chunks));
        }
    }
}
