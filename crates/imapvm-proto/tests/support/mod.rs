//! The scripted-peer harness (quinn's `Pair` idea): the client core against a scripted server
//! transcript, stepped until idle, with simulated time and configurable input splitting.

use imapvm_proto::{CommandId, Config, Connection, Event, Outcome};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// One step of a server script.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// The client must have written exactly these bytes next.
    Expect(Vec<u8>),
    /// The server writes these bytes.
    Send(Vec<u8>),
    /// The server closes the stream.
    Eof,
}

/// Parse `C: ` / `S: ` lines (each gets CRLF appended); consecutive lines of one side form one
/// step. `C:` lines may be compared loosely with `C~ ` (prefix match of the line).
pub fn script(text: &str) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    for line in text.lines() {
        let line = line.trim_start();
        if line.is_empty() {
            continue;
        }
        if line == "EOF" {
            steps.push(Step::Eof);
            continue;
        }
        let (side, rest) = line.split_at(3);
        let mut bytes = rest.as_bytes().to_vec();
        bytes.extend_from_slice(b"\r\n");
        match (side, steps.last_mut()) {
            ("C: ", Some(Step::Expect(v))) => v.extend(bytes),
            ("C: ", _) => steps.push(Step::Expect(bytes)),
            ("S: ", Some(Step::Send(v))) => v.extend(bytes),
            ("S: ", _) => steps.push(Step::Send(bytes)),
            _ => panic!("bad script line {line:?}"),
        }
    }
    steps
}

/// Merge adjacent server sends (responses coalesced into one read).
pub fn coalesce(steps: &[Step]) -> Vec<Step> {
    let mut out: Vec<Step> = Vec::new();
    for s in steps {
        match (s, out.last_mut()) {
            (Step::Send(b), Some(Step::Send(prev))) => prev.extend_from_slice(b),
            _ => out.push(s.clone()),
        }
    }
    out
}

/// The client plus a scripted server.
pub struct Pair {
    pub conn: Connection,
    pub now: Instant,
    script: VecDeque<Step>,
    /// Bytes the client wrote that no `Expect` consumed yet.
    pub written: Vec<u8>,
    /// Every byte the client wrote.
    pub all_written: Vec<u8>,
    /// Every event, in order.
    pub events: Vec<Event>,
    /// Input chunk sizes, cycled (empty = whole sends).
    pub splits: Vec<usize>,
    split_i: usize,
    /// Whether client output must match `Expect` steps byte for byte.
    pub strict: bool,
}

impl Pair {
    pub fn new(config: Config, steps: Vec<Step>) -> Self {
        // The only clock read: a base instant; everything after is simulated offsets.
        let t0 = Instant::now();
        Self {
            conn: Connection::new(config, t0).expect("a valid test configuration"),
            now: t0,
            script: steps.into(),
            written: Vec::new(),
            all_written: Vec::new(),
            events: Vec::new(),
            splits: Vec::new(),
            split_i: 0,
            strict: true,
        }
    }

    pub fn with_splits(mut self, splits: Vec<usize>) -> Self {
        self.splits = splits.into_iter().map(|s| s.max(1)).collect();
        self
    }

    fn drain(&mut self) {
        while let Some(t) = self.conn.poll_transmit(self.now) {
            self.written.extend_from_slice(t.as_bytes());
            self.all_written.extend_from_slice(t.as_bytes());
        }
        while let Some(e) = self.conn.poll_event() {
            self.events.push(e);
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        if self.splits.is_empty() {
            self.conn.handle_input(bytes, self.now);
            self.drain();
            return;
        }
        let mut rest = bytes;
        while !rest.is_empty() {
            let n = self.splits[self.split_i % self.splits.len()].min(rest.len());
            self.split_i += 1;
            self.conn.handle_input(&rest[..n], self.now);
            rest = &rest[n..];
            self.drain();
        }
    }

    /// Step until the script is exhausted or the client waits for something the script
    /// does not give. Returns whether the script ran to its end.
    pub fn run(&mut self) -> bool {
        loop {
            self.drain();
            let Some(step) = self.script.front().cloned() else {
                return true;
            };
            match step {
                Step::Expect(want) => {
                    if self.written.len() < want.len() {
                        if self.strict {
                            assert!(
                                want.starts_with(&self.written),
                                "client wrote {:?}, script expects {:?}",
                                String::from_utf8_lossy(&self.written),
                                String::from_utf8_lossy(&want)
                            );
                        }
                        return false;
                    }
                    if self.strict {
                        assert_eq!(
                            String::from_utf8_lossy(&self.written[..want.len()]),
                            String::from_utf8_lossy(&want),
                            "client output differs from the script"
                        );
                        self.written.drain(..want.len());
                    } else {
                        self.written.clear();
                    }
                    self.script.pop_front();
                }
                Step::Send(bytes) => {
                    self.script.pop_front();
                    self.feed(&bytes);
                }
                Step::Eof => {
                    self.script.pop_front();
                    self.conn.handle_eof();
                }
            }
        }
    }

    /// Append more script (e.g. after issuing further commands).
    pub fn push(&mut self, steps: Vec<Step>) {
        self.script.extend(steps);
    }

    /// Advance simulated time, firing timers that are due.
    pub fn advance(&mut self, d: Duration) {
        let target = self.now + d;
        while let Some(t) = self.conn.poll_timeout() {
            if t > target {
                break;
            }
            self.now = t.max(self.now);
            self.conn.handle_timeout(self.now);
            self.drain();
        }
        self.now = target;
        self.drain();
    }

    /// The result for command `id`, if it completed.
    pub fn result(&self, id: CommandId) -> Option<&Result<Outcome, imapvm_proto::Error>> {
        self.events.iter().find_map(|e| match e {
            Event::Completed { id: i, result } if *i == id => Some(result),
            _ => None,
        })
    }

    /// The successful outcome of `id`; panics (test failure) otherwise.
    pub fn ok(&self, id: CommandId) -> &Outcome {
        match self.result(id) {
            Some(Ok(o)) => o,
            other => panic!("command {id:?}: {other:?}; events {:#?}", self.events),
        }
    }

    /// The error of `id`; panics (test failure) otherwise.
    pub fn err(&self, id: CommandId) -> &imapvm_proto::Error {
        match self.result(id) {
            Some(Err(e)) => e,
            other => panic!("command {id:?} expected to fail: {other:?}"),
        }
    }
}

/// Default config for tests.
pub fn config() -> Config {
    Config::default()
}

/// A connection that already read the Dovecot greeting and logged in (LOGIN), for tests that
/// start later in the conversation. Returns the pair with the login exchange done.
pub fn logged_in(caps_after: &str) -> Pair {
    let mut p = Pair::new(
        config(),
        script(
            "S: * OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN] Dovecot ready.",
        ),
    );
    p.run();
    let pw = imapvm_proto::Secret::new("pw");
    let id = p.conn.login("alice", &pw).unwrap();
    p.push(script(&format!(
        "C: a1 LOGIN alice pw\nS: a1 OK [CAPABILITY {caps_after}] Logged in"
    )));
    assert!(p.run());
    p.ok(id);
    p.events.clear();
    p
}
