//! A peer that answers rather than follows a script: a [`Responder`] gets
//! each line the client sends (or a run of raw bytes it asked for, such as a
//! literal) and says what to send back and what to read next. The peer knows
//! no protocol: the responder does. [`LinePlay`] turns a responder into a
//! [`Play`] for the drivers; [`lines`] makes a responder of a greeting and a
//! function of the line.

use std::collections::VecDeque;
use std::time::Duration;

use crate::play::{Action, Mismatch, MismatchKind, Play};

/// Longest line a [`LinePlay`] reads (a longer one ends the connection with
/// [`MismatchKind::LineTooLong`]).
pub const MAX_LINE: usize = 1 << 20;

/// Most raw bytes one [`Reply::then_read`] may ask for.
pub const MAX_READ: usize = 64 << 20;

/// What to read after a [`Reply`], or how to end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Then {
    /// The next line (up to and with its `\n`).
    #[default]
    ReadLine,
    /// Exactly this many bytes, handed to [`Responder::bytes`].
    Read(usize),
    /// Close the connection.
    Close,
    /// Go silent, keeping the connection open.
    Stall,
}

/// A responder's answer: bytes to send, then what to do.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reply {
    /// Sent first (nothing when empty).
    pub send: Vec<u8>,
    /// Then.
    pub then: Then,
    /// When set and the client sends nothing for this long,
    /// [`Responder::quiet`] is asked (once).
    pub quiet_after: Option<Duration>,
}

impl Reply {
    /// Send nothing, read the next line.
    pub fn nothing() -> Reply {
        Reply::default()
    }

    /// Send `bytes`, read the next line.
    pub fn send(bytes: impl Into<Vec<u8>>) -> Reply {
        Reply {
            send: bytes.into(),
            ..Reply::default()
        }
    }

    /// Then read exactly `n` raw bytes (at most [`MAX_READ`]).
    pub fn then_read(mut self, n: usize) -> Reply {
        self.then = Then::Read(n);
        self
    }

    /// Then close the connection.
    pub fn then_close(mut self) -> Reply {
        self.then = Then::Close;
        self
    }

    /// Then go silent.
    pub fn then_stall(mut self) -> Reply {
        self.then = Then::Stall;
        self
    }

    /// Ask [`Responder::quiet`] when the client is silent for `d`.
    pub fn quiet_after(mut self, d: Duration) -> Reply {
        self.quiet_after = Some(d);
        self
    }
}

/// Answers a client, one line (or run of bytes) at a time.
pub trait Responder: Send + 'static {
    /// What to send when the client connects (a greeting).
    fn greeting(&mut self) -> Reply {
        Reply::nothing()
    }

    /// The client sent `line` (with its line ending).
    fn line(&mut self, line: &[u8]) -> Reply;

    /// The `n` bytes a [`Then::Read`] asked for.
    fn bytes(&mut self, _bytes: &[u8]) -> Reply {
        Reply::nothing()
    }

    /// The client was silent for a [`Reply::quiet_after`].
    fn quiet(&mut self) -> Reply {
        Reply::nothing()
    }
}

/// A responder made of a greeting and a function of each line.
pub struct Lines<F> {
    greeting: Vec<u8>,
    answer: F,
}

/// A responder that sends `greeting` on connect and `answer(line)` for each
/// line (`line` without its line ending, lossily UTF-8).
pub fn lines<F>(greeting: impl Into<Vec<u8>>, answer: F) -> Lines<F>
where
    F: FnMut(&str) -> Reply + Send + 'static,
{
    Lines {
        greeting: greeting.into(),
        answer,
    }
}

impl<F> Responder for Lines<F>
where
    F: FnMut(&str) -> Reply + Send + 'static,
{
    fn greeting(&mut self) -> Reply {
        Reply::send(self.greeting.clone())
    }

    fn line(&mut self, line: &[u8]) -> Reply {
        let text = String::from_utf8_lossy(line);
        (self.answer)(text.trim_end_matches(['\r', '\n']))
    }
}

/// Drives a [`Responder`] as a [`Play`].
pub struct LinePlay<R> {
    responder: R,
    greeted: bool,
    pending: Vec<u8>,
    reading: Then,
    quiet_after: Option<Duration>,
    actions: VecDeque<Action>,
    outcome: Option<Result<(), Mismatch>>,
    ended: bool,
}

impl<R: Responder> LinePlay<R> {
    /// Play `responder`.
    pub fn new(responder: R) -> LinePlay<R> {
        LinePlay {
            responder,
            greeted: false,
            pending: Vec::new(),
            reading: Then::ReadLine,
            quiet_after: None,
            actions: VecDeque::new(),
            outcome: None,
            ended: false,
        }
    }

    fn apply(&mut self, reply: Reply) {
        if !reply.send.is_empty() {
            self.actions.push_back(Action::Send(reply.send));
        }
        self.quiet_after = reply.quiet_after;
        match reply.then {
            Then::ReadLine => self.reading = Then::ReadLine,
            Then::Read(n) => self.reading = Then::Read(n.min(MAX_READ)),
            Then::Close => {
                self.actions.push_back(Action::Close);
                self.ended = true;
            }
            Then::Stall => {
                self.actions.push_back(Action::Stall);
                self.ended = true;
            }
        }
    }

    /// Hand complete input to the responder; `false` when it needs more.
    fn answer_pending(&mut self) -> bool {
        match self.reading {
            Then::ReadLine => match self.pending.iter().position(|&b| b == b'\n') {
                Some(end) => {
                    let line: Vec<u8> = self.pending.drain(..=end).collect();
                    let reply = self.responder.line(&line);
                    self.apply(reply);
                    true
                }
                None if self.pending.len() > MAX_LINE => {
                    self.outcome = Some(Err(Mismatch {
                        kind: MismatchKind::LineTooLong(MAX_LINE),
                        line: 0,
                        expected: Vec::new(),
                        prefix_only: false,
                        received: self.pending[..256].to_vec(),
                    }));
                    self.actions.push_back(Action::Close);
                    self.ended = true;
                    true
                }
                None => false,
            },
            Then::Read(n) if self.pending.len() >= n => {
                let bytes: Vec<u8> = self.pending.drain(..n).collect();
                self.reading = Then::ReadLine;
                let reply = self.responder.bytes(&bytes);
                self.apply(reply);
                true
            }
            _ => false,
        }
    }
}

impl<R: Responder> Play for LinePlay<R> {
    fn poll(&mut self) -> Action {
        if !self.greeted {
            self.greeted = true;
            let reply = self.responder.greeting();
            self.apply(reply);
        }
        loop {
            if let Some(action) = self.actions.pop_front() {
                return action;
            }
            if self.ended {
                self.outcome.get_or_insert(Ok(()));
                return Action::Done;
            }
            if !self.answer_pending() {
                return Action::Receive {
                    within: self.quiet_after,
                };
            }
        }
    }

    fn received(&mut self, bytes: &[u8]) {
        self.quiet_after = None;
        self.pending.extend_from_slice(bytes);
    }

    fn closed_by_client(&mut self) {
        self.ended = true;
    }

    fn timed_out(&mut self) {
        self.quiet_after = None;
        let reply = self.responder.quiet();
        self.apply(reply);
    }

    fn outcome(&self) -> Option<Result<(), Mismatch>> {
        self.outcome.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers `tag OK` to every line; reads a `{n}` literal after a line
    /// ending in one; on a quiet 10 ms after `HOLD`, says `* held`.
    struct Echo {
        literal: Vec<u8>,
    }

    impl Responder for Echo {
        fn greeting(&mut self) -> Reply {
            Reply::send("* OK\r\n")
        }

        fn line(&mut self, line: &[u8]) -> Reply {
            let text = String::from_utf8_lossy(line);
            let tag = text.split(' ').next().unwrap_or("*").trim_end();
            if let Some(n) = text
                .trim_end()
                .strip_suffix('}')
                .and_then(|t| t.rsplit_once('{'))
                .and_then(|(_, n)| n.parse().ok())
            {
                return Reply::send("+ go\r\n").then_read(n);
            }
            if text.contains("HOLD") {
                return Reply::nothing().quiet_after(Duration::from_millis(10));
            }
            if text.contains("BYE") {
                return Reply::send("* BYE\r\n").then_close();
            }
            Reply::send(format!("{tag} OK\r\n"))
        }

        fn bytes(&mut self, bytes: &[u8]) -> Reply {
            self.literal = bytes.to_vec();
            Reply::send("+ got it\r\n")
        }

        fn quiet(&mut self) -> Reply {
            Reply::send("* held\r\n")
        }
    }

    #[test]
    fn lines_literals_quiet_and_close_follow_the_replies() {
        let mut p = LinePlay::new(Echo {
            literal: Vec::new(),
        });
        assert_eq!(p.poll(), Action::Send(b"* OK\r\n".to_vec()));
        assert_eq!(p.poll(), Action::Receive { within: None });
        p.received(b"a1 APPEND {5}\r\nab");
        assert_eq!(p.poll(), Action::Send(b"+ go\r\n".to_vec()));
        assert_eq!(p.poll(), Action::Receive { within: None });
        p.received(b"c\r\na2 NO");
        assert_eq!(p.poll(), Action::Send(b"+ got it\r\n".to_vec()));
        assert_eq!(p.responder.literal, b"abc\r\n");
        assert_eq!(p.poll(), Action::Receive { within: None });
        p.received(b"OP\r\na3 HOLD\r\n");
        assert_eq!(p.poll(), Action::Send(b"a2 OK\r\n".to_vec()));
        let quiet = Action::Receive {
            within: Some(Duration::from_millis(10)),
        };
        assert_eq!(p.poll(), quiet);
        p.timed_out();
        assert_eq!(p.poll(), Action::Send(b"* held\r\n".to_vec()));
        assert_eq!(p.poll(), Action::Receive { within: None });
        p.received(b"a4 BYE\r\n");
        assert_eq!(p.poll(), Action::Send(b"* BYE\r\n".to_vec()));
        assert_eq!(p.poll(), Action::Close);
        assert_eq!(p.poll(), Action::Done);
        assert_eq!(p.outcome(), Some(Ok(())));
    }

    #[test]
    fn an_endless_line_ends_the_connection() {
        let mut p = LinePlay::new(lines("", |_| Reply::nothing()));
        assert_eq!(p.poll(), Action::Receive { within: None });
        p.received(&vec![b'x'; MAX_LINE + 1]);
        assert_eq!(p.poll(), Action::Close);
        assert!(matches!(
            p.outcome(),
            Some(Err(Mismatch {
                kind: MismatchKind::LineTooLong(MAX_LINE),
                ..
            }))
        ));
    }
}
