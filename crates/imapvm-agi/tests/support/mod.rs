//! Test support: the environment Asterisk 22.10.1 really sent, res_agi's `parse_args()` as a
//! test-side oracle, and a harness that drives a `Channel` against scripted peer bytes.

use imapvm_agi::{Channel, CommandId, Config, Event, Request, State};
use std::time::Instant;

/// The environment block Asterisk 22.10.1 sent to `fake_agi.py` for `agi-leave 1234`
/// (`docs/reference/asterisk-peer.md`, "Measured"), verbatim. Its accountcode line
/// has no trailing space there; `ENV_ACCOUNTCODE_SPACE` has the form `setup_env()` writes.
pub const ENV: &str = "agi_network: yes
agi_network_script: voicemail
agi_request: agi://127.0.0.1:4573/voicemail
agi_channel: Local/1234@agi-leave-00000003;2
agi_language: en
agi_type: Local
agi_uniqueid: kit-1796587381-8252-vm
agi_version: 22.10.1
agi_callerid: 5551001
agi_calleridname: Bob Caller
agi_callingpres: 0
agi_callingani2: 0
agi_callington: 0
agi_callingtns: 0
agi_dnid: unknown
agi_rdnis: unknown
agi_context: agi-leave
agi_extension: 1234
agi_priority: 2
agi_enhanced: 0.0
agi_accountcode:
agi_threadid: 140085402068672
agi_arg_1: 1234@default
agi_arg_2: u

";

/// [`ENV`] with `agi_accountcode: ` as `setup_env()` writes an empty account code.
pub fn env_accountcode_space() -> String {
    ENV.replace("agi_accountcode:\n", "agi_accountcode: \n")
}

/// `res_agi.c` `parse_args()`, byte for byte: the words of a command line (without its LF).
/// Space and tab separate words outside quotes; `"` toggles quoting and starts a word after
/// whitespace (so `""` is an empty word); `\` makes the next byte literal; at most
/// `MAX_ARGS - 1` = 127 words are kept, bytes of further words are dropped.
pub fn parse_args(line: &[u8]) -> Vec<Vec<u8>> {
    const MAX_ARGS: usize = 128;
    let mut words: Vec<Vec<u8>> = Vec::new();
    let (mut quoted, mut escaped, mut whitespace) = (false, false, true);
    for &c in line {
        match c {
            b'"' if !escaped => {
                quoted = !quoted;
                if quoted && whitespace {
                    words.push(Vec::new());
                    whitespace = false;
                }
            }
            b' ' | b'\t' if !quoted && !escaped => whitespace = true,
            b'\\' if !escaped => escaped = true,
            _ => {
                if whitespace {
                    if words.len() >= MAX_ARGS - 1 {
                        continue;
                    }
                    words.push(Vec::new());
                    whitespace = false;
                }
                words.last_mut().expect("a word was started").push(c);
                escaped = false;
            }
        }
    }
    words
}

/// The words of an encoded command line as strings; asserts the line is one LF-ended line.
pub fn words(line: &[u8]) -> Vec<String> {
    assert_eq!(line.last(), Some(&b'\n'), "ends with LF");
    assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1, "one line");
    assert!(!line.contains(&b'\r'), "no CR");
    parse_args(&line[..line.len() - 1])
        .into_iter()
        .map(|w| String::from_utf8(w).unwrap())
        .collect()
}

/// A channel driven against scripted peer bytes, with simulated time and the peer's bytes
/// cut into chunks of the given sizes (cycled; empty = whole).
pub struct Harness {
    pub ch: Channel,
    pub now: Instant,
    pub events: Vec<Event>,
    pub sent: Vec<String>,
    splits: Vec<usize>,
    cursor: usize,
}

impl Harness {
    pub fn new(config: Config) -> Self {
        let now = Instant::now();
        Harness {
            ch: Channel::new(config, now),
            now,
            events: Vec::new(),
            sent: Vec::new(),
            splits: Vec::new(),
            cursor: 0,
        }
    }

    pub fn with_splits(mut self, splits: Vec<usize>) -> Self {
        self.splits = splits;
        self
    }

    /// A harness that has read [`ENV`] and taken its event.
    pub fn ready() -> Self {
        let mut h = Harness::new(Config::default());
        h.peer(ENV);
        assert!(matches!(h.events.pop(), Some(Event::Environment(_))));
        assert_eq!(h.ch.state(), State::Ready);
        h
    }

    /// Feeds peer bytes in chunks, draining after each.
    pub fn peer(&mut self, bytes: impl AsRef<[u8]>) {
        let mut rest = bytes.as_ref();
        while !rest.is_empty() {
            let size = if self.splits.is_empty() {
                rest.len()
            } else {
                let s = self.splits[self.cursor % self.splits.len()].max(1);
                self.cursor += 1;
                s.min(rest.len())
            };
            let (chunk, tail) = rest.split_at(size);
            self.ch.handle_input(chunk, self.now);
            self.drain();
            rest = tail;
        }
    }

    /// Sends a command and checks the line that goes out.
    pub fn send(&mut self, request: impl Into<Request>, line: &str) -> CommandId {
        let id = self.ch.send(request, self.now).unwrap();
        self.drain();
        assert_eq!(self.sent.last().map(String::as_str), Some(line));
        id
    }

    pub fn drain(&mut self) {
        while let Some(t) = self.ch.poll_transmit(self.now) {
            self.sent
                .push(String::from_utf8(t.as_bytes().to_vec()).unwrap());
        }
        while let Some(e) = self.ch.poll_event() {
            self.events.push(e);
        }
    }

    /// The events since the last call.
    pub fn take(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }
}
