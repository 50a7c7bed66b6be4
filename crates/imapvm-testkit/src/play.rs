//! The peer's side of one connection as a sans-IO state machine: [`Play`]
//! says what to do next ([`Action`]) and is told what happened (bytes in,
//! the client's close, a timeout). [`ScriptPlay`] plays a [`Script`];
//! [`crate::LinePlay`] asks a [`crate::Responder`]. The drivers
//! ([`crate::Peer`], [`crate::blocking::Peer`], [`crate::serve`]) only do the
//! I/O, so both behave the same.

use std::collections::VecDeque;
use std::time::Duration;

use crate::script::{Script, Step, shown};

/// What the driver does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Write these bytes (all of them, then flush).
    Send(Vec<u8>),
    /// Wait for bytes from the client, at most `within` (`None`: as long as
    /// it takes), then report them, the close, or the timeout.
    Receive {
        /// How long to wait.
        within: Option<Duration>,
    },
    /// Wait this long.
    Sleep(Duration),
    /// Close the connection.
    Close,
    /// Keep the connection open, reading and writing nothing, until the peer
    /// is finished or dropped.
    Stall,
    /// Nothing more: drop the connection.
    Done,
}

/// One connection's behaviour, driven by a driver that does the I/O.
pub trait Play: Send {
    /// The next thing to do.
    fn poll(&mut self) -> Action;
    /// The client sent these bytes.
    fn received(&mut self, bytes: &[u8]);
    /// The client closed the connection (or it broke).
    fn closed_by_client(&mut self);
    /// A [`Action::Receive`] wait ran out.
    fn timed_out(&mut self);
    /// How it went, once that is known: a script that ran to its end, or the
    /// first mismatch.
    fn outcome(&self) -> Option<Result<(), Mismatch>>;
}

/// How a connection departed from its script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MismatchKind {
    /// The client sent other bytes than the script expects.
    Differs,
    /// The client sent nothing more for this long.
    TimedOut(Duration),
    /// The client closed the connection first.
    ClosedEarly,
    /// A line longer than the peer reads (a responder's connection).
    LineTooLong(usize),
}

/// A departure from the script, with what was expected and what came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// What happened.
    pub kind: MismatchKind,
    /// The script line of the step (0 for a responder).
    pub line: usize,
    /// What the step expects: the exact bytes, or a line's start.
    pub expected: Vec<u8>,
    /// Whether `expected` is only the start of a line (`C~`).
    pub prefix_only: bool,
    /// What the client sent towards this step.
    pub received: Vec<u8>,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.kind {
            MismatchKind::Differs => "the client sent bytes the script does not expect".into(),
            MismatchKind::TimedOut(after) => {
                format!("the client sent nothing more within {after:?}")
            }
            MismatchKind::ClosedEarly => "the client closed the connection first".into(),
            MismatchKind::LineTooLong(max) => format!("the client sent a line over {max} bytes"),
        };
        let at = self
            .expected
            .iter()
            .zip(&self.received)
            .position(|(a, b)| a != b)
            .unwrap_or(self.expected.len().min(self.received.len()));
        let (expected, _) = shown(&self.expected, at);
        let (received, offset) = shown(&self.received, at);
        let label = if self.prefix_only {
            "expected a line starting"
        } else {
            "expected"
        };
        writeln!(f, "script line {}: {what}", self.line)?;
        writeln!(f, "  {label}: {expected}")?;
        write!(f, "  received: {received}")?;
        if self.kind == MismatchKind::Differs {
            write!(
                f,
                "\n            {}^ first difference at byte {at}",
                " ".repeat(offset)
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for Mismatch {}

/// Plays a [`Script`] (see [`crate::script`] for its steps). Once the script
/// has run to its end the connection stays open, and whatever the client
/// still sends is kept ([`ScriptPlay::trailing`]) until it closes.
#[derive(Debug)]
pub struct ScriptPlay {
    steps: VecDeque<(usize, Step)>,
    /// How long a `C:` step waits for the client.
    timeout: Duration,
    /// Bytes received that no step has taken yet.
    pending: Vec<u8>,
    trailing: Vec<u8>,
    outcome: Option<Result<(), Mismatch>>,
    /// The next poll closes (after a mismatch) or ends (after the client's
    /// close).
    closing: bool,
    closed: bool,
}

impl ScriptPlay {
    /// `script`, waiting at most `timeout` for each thing the client must send.
    pub fn new(script: &Script, timeout: Duration) -> ScriptPlay {
        ScriptPlay {
            steps: script.steps().iter().cloned().collect(),
            timeout,
            pending: Vec::new(),
            trailing: Vec::new(),
            outcome: None,
            closing: false,
            closed: false,
        }
    }

    /// What the client sent after the script's last step.
    pub fn trailing(&self) -> &[u8] {
        &self.trailing
    }

    fn fail(&mut self, kind: MismatchKind) {
        let (line, expected, prefix_only) = match self.steps.front() {
            Some((line, Step::Expect(bytes))) => (*line, bytes.clone(), false),
            Some((line, Step::ExpectLineStarting(bytes))) => (*line, bytes.clone(), true),
            Some((line, _)) => (*line, Vec::new(), false),
            None => (0, Vec::new(), false),
        };
        if self.outcome.is_none() {
            self.outcome = Some(Err(Mismatch {
                kind,
                line,
                expected,
                prefix_only,
                received: std::mem::take(&mut self.pending),
            }));
        }
        self.closing = true;
    }

    /// Whether the front step (an expectation) is met now; `None` when more
    /// bytes are needed. Takes the bytes it matched.
    fn expectation_met(&mut self) -> Option<bool> {
        let pending = &self.pending;
        let (met, taken) = match self.steps.front() {
            Some((_, Step::Expect(want))) if pending.len() >= want.len() => {
                (pending.starts_with(want), want.len())
            }
            Some((_, Step::Expect(want))) => {
                return (!want.starts_with(pending)).then_some(false);
            }
            Some((_, Step::ExpectLineStarting(start))) => {
                match pending.iter().position(|&b| b == b'\n') {
                    Some(end) => (pending[..=end].starts_with(start), end + 1),
                    None if pending.len() >= start.len() && !pending.starts_with(start) => {
                        (false, 0)
                    }
                    None => return None,
                }
            }
            _ => return Some(true),
        };
        if met {
            self.pending.drain(..taken);
        }
        Some(met)
    }
}

impl Play for ScriptPlay {
    fn poll(&mut self) -> Action {
        if self.closing {
            self.closing = false;
            self.closed = true;
            return Action::Close;
        }
        if self.closed {
            return Action::Done;
        }
        loop {
            let Some((_, step)) = self.steps.front() else {
                if self.outcome.is_none() {
                    self.trailing = std::mem::take(&mut self.pending);
                    self.outcome = Some(Ok(()));
                }
                return Action::Receive { within: None };
            };
            let action = match step {
                Step::Send(bytes) => Action::Send(bytes.clone()),
                Step::Sleep(d) => Action::Sleep(*d),
                Step::Close => {
                    self.closed = true;
                    Action::Close
                }
                Step::Stall => Action::Stall,
                Step::Expect(_) | Step::ExpectLineStarting(_) => match self.expectation_met() {
                    Some(true) => {
                        self.steps.pop_front();
                        continue;
                    }
                    Some(false) => {
                        self.fail(MismatchKind::Differs);
                        return self.poll();
                    }
                    None => {
                        return Action::Receive {
                            within: Some(self.timeout),
                        };
                    }
                },
            };
            self.steps.pop_front();
            if matches!(action, Action::Close | Action::Stall) && self.steps.is_empty() {
                self.outcome.get_or_insert(Ok(()));
            } else if matches!(action, Action::Close | Action::Stall) {
                // Steps after a close or a stall can never run.
                self.outcome.get_or_insert(Ok(()));
                self.steps.clear();
            }
            return action;
        }
    }

    fn received(&mut self, bytes: &[u8]) {
        if self.steps.is_empty() && self.outcome.is_some() {
            self.trailing.extend_from_slice(bytes);
        } else {
            self.pending.extend_from_slice(bytes);
        }
    }

    fn closed_by_client(&mut self) {
        if self.steps.is_empty() || self.outcome.is_some() {
            self.closed = true;
            return;
        }
        self.fail(MismatchKind::ClosedEarly);
        self.closing = false;
        self.closed = true;
    }

    fn timed_out(&mut self) {
        self.fail(MismatchKind::TimedOut(self.timeout));
    }

    fn outcome(&self) -> Option<Result<(), Mismatch>> {
        self.outcome.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn play(text: &str) -> ScriptPlay {
        ScriptPlay::new(
            &Script::parse(text).expect("script"),
            Duration::from_secs(1),
        )
    }

    #[test]
    fn a_script_sends_waits_and_matches_split_input() {
        let mut p = play("S: * OK hi\nC: a1 NOOP\nS: a1 OK done");
        assert_eq!(p.poll(), Action::Send(b"* OK hi\r\n".to_vec()));
        assert_eq!(
            p.poll(),
            Action::Receive {
                within: Some(Duration::from_secs(1))
            }
        );
        for byte in b"a1 NOOP\r\n" {
            p.received(&[*byte]);
            if *byte != b'\n' {
                assert!(matches!(p.poll(), Action::Receive { .. }));
            }
        }
        assert_eq!(p.poll(), Action::Send(b"a1 OK done\r\n".to_vec()));
        assert_eq!(p.poll(), Action::Receive { within: None });
        assert_eq!(p.outcome(), Some(Ok(())));
        p.received(b"a2 LOGOUT\r\n");
        assert_eq!(p.trailing(), b"a2 LOGOUT\r\n");
        p.closed_by_client();
        assert_eq!(p.poll(), Action::Done);
    }

    #[test]
    fn a_wrong_byte_fails_at_once_and_closes() {
        let mut p = play("C: a1 SELECT INBOX\nS: a1 OK");
        assert!(matches!(p.poll(), Action::Receive { .. }));
        p.received(b"a1 SELECT \"");
        assert_eq!(p.poll(), Action::Close);
        assert_eq!(p.poll(), Action::Done);
        let Some(Err(m)) = p.outcome() else {
            panic!("{:?}", p.outcome())
        };
        assert_eq!((&m.kind, m.line), (&MismatchKind::Differs, 1));
        let text = m.to_string();
        assert!(
            text.contains("expected: \"a1 SELECT INBOX\\r\\n\""),
            "{text}"
        );
        assert!(text.contains("received: \"a1 SELECT \\\"\""), "{text}");
        assert!(text.contains("^ first difference at byte 10"), "{text}");
        // The caret sits under the first differing byte.
        let lines: Vec<&str> = text.lines().collect();
        let caret = lines[3].find('^').expect("caret");
        assert_eq!(&lines[2][caret..caret + 2], "\\\"", "{text}");
    }

    #[test]
    fn a_line_prefix_takes_the_whole_line() {
        let mut p = play("C~ a1 APPEND INBOX\nC: a2 NOOP\nS: ok");
        p.poll();
        p.received(b"a1 APPEND INBOX (\\Seen) {3+}\r\nabc\r\n");
        // The next line (the literal `abc`) is not what `C: a2 NOOP` expects.
        assert_eq!(p.poll(), Action::Close);
        let mut q = play("C~ a1 APPEND\nC: abc\nS: ok");
        q.poll();
        q.received(b"a1 APPEND INBOX {3+}\r\nabc\r\n");
        assert_eq!(q.poll(), Action::Send(b"ok\r\n".to_vec()));
    }

    #[test]
    fn a_timeout_and_an_early_close_are_mismatches() {
        let mut p = play("C: a1 NOOP");
        p.poll();
        p.received(b"a1 NO");
        p.timed_out();
        assert_eq!(p.poll(), Action::Close);
        let Some(Err(m)) = p.outcome() else {
            panic!("no mismatch")
        };
        assert_eq!(m.kind, MismatchKind::TimedOut(Duration::from_secs(1)));
        assert_eq!(m.received, b"a1 NO");

        let mut q = play("S: hi\nC: bye");
        q.poll();
        q.poll();
        q.closed_by_client();
        assert_eq!(q.poll(), Action::Done);
        assert!(matches!(
            q.outcome(),
            Some(Err(Mismatch {
                kind: MismatchKind::ClosedEarly,
                ..
            }))
        ));
    }

    #[test]
    fn close_stall_and_sleep_are_actions() {
        let mut p = play("S: * OK\nsleep 20\nstall");
        p.poll();
        assert_eq!(p.poll(), Action::Sleep(Duration::from_millis(20)));
        assert_eq!(p.poll(), Action::Stall);
        assert_eq!(p.outcome(), Some(Ok(())));
        let mut q = play("S: * BYE\nEOF");
        q.poll();
        assert_eq!(q.poll(), Action::Close);
        assert_eq!(q.poll(), Action::Done);
        assert_eq!(q.outcome(), Some(Ok(())));
    }
}
