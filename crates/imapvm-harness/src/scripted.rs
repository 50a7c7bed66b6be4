//! Scripted IMAP servers, for the tests that need a server misbehaving in one exact way, on
//! the testkit's raw peer ([`imapvm_testkit::Peer`]).
//!
//! [`Imap`] is a [`Responder`] that knows just enough IMAP to let a client log in and select
//! a folder: it greets with a capability list, puts each command together from its lines and
//! literals (`{n+}` read at once, `{n}` after a `+` continuation), writes it to a [`Log`],
//! and answers it with the test's [`Script`], or else as [`usual`] says. The script holds
//! whatever the test is about: held answers, a refusal, a stall.
//!
//! ```no_run
//! # async fn demo() -> Result<(), imapvm_testkit::PeerError> {
//! use imapvm_harness::scripted::{Command, Imap, Log};
//! use imapvm_testkit::{Peer, Reply};
//!
//! let log = Log::default();
//! let l = log.clone();
//! let peer = Peer::builder()
//!     .respond(move || {
//!         Imap::new("IMAP4rev1 AUTH=PLAIN SASL-IR", &l, |c: &Command| {
//!             c.is("NOTIFY").then(|| Reply::send(format!("{} NO not today\r\n", c.tag)))
//!         })
//!     })
//!     .await?;
//! // ... point a store at peer.port(), then look at log.lines() ...
//! # Ok(())
//! # }
//! ```

use std::sync::{Arc, Mutex, PoisonError};

use imapvm_testkit::{Reply, Responder};

/// One command as the server received it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Command {
    /// Its tag (for a line that is not a command, such as `DONE` or an AUTHENTICATE
    /// response, the line's first word).
    pub tag: String,
    /// The rest, without line endings; each literal shows as its announcement (`{12+}`).
    pub text: String,
    /// The literals' contents, in order.
    pub literals: Vec<Vec<u8>>,
}

impl Command {
    /// Whether the command is `name` (upper case: `APPEND`, `UID SEARCH`), whatever the
    /// case the client wrote it in.
    pub fn is(&self, name: &str) -> bool {
        let upper = self.text.to_ascii_uppercase();
        upper == name || upper.starts_with(&format!("{name} "))
    }

    /// `tag text`, as logged.
    pub fn line(&self) -> String {
        if self.text.is_empty() {
            self.tag.clone()
        } else {
            format!("{} {}", self.tag, self.text)
        }
    }
}

/// Every command the servers sharing it received, in order (as [`Command::line`]).
#[derive(Debug, Clone, Default)]
pub struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    /// The commands so far.
    pub fn lines(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether any command so far contains `text`.
    pub fn any(&self, text: &str) -> bool {
        self.lines().iter().any(|l| l.contains(text))
    }

    /// Adds a line (a command, or a test's own note such as a refused TLS handshake).
    pub fn push(&self, line: String) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(line);
    }
}

/// What to do about a literal a command announces ([`Script::literal`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Literal {
    /// Read it, after sending these bytes (a continuation, or an answer that does not wait).
    Read(Vec<u8>),
    /// Send this instead and forget the command (after a refusal the client sends no
    /// literal; a stall never reads it).
    Instead(Reply),
}

/// What a test's server does beyond the usual.
pub trait Script: Send + 'static {
    /// The answer to `command`; `None`: the [`usual`] one.
    fn answer(&mut self, command: &Command) -> Option<Reply>;

    /// What to send on connect; `None`: `* OK [CAPABILITY …]`.
    fn greeting(&mut self) -> Option<Reply> {
        None
    }

    /// `so_far` ends in a literal's announcement, synchronising (`{n}`) or not (`{n+}`);
    /// `None`: read it, after a `+ go ahead` when it is synchronising.
    fn literal(&mut self, _so_far: &Command, _synchronising: bool) -> Option<Literal> {
        None
    }

    /// The client was silent for a [`Reply::quiet_after`] the script asked for.
    fn quiet(&mut self) -> Reply {
        Reply::nothing()
    }
}

impl<F> Script for F
where
    F: FnMut(&Command) -> Option<Reply> + Send + 'static,
{
    fn answer(&mut self, command: &Command) -> Option<Reply> {
        self(command)
    }
}

/// The usual answers: nothing special.
pub fn plain(_: &Command) -> Option<Reply> {
    None
}

/// The usual answer of a server offering `caps`: logged in (with the capabilities), the
/// capabilities, one personal namespace with `/`, an empty folder (UIDVALIDITY 7) selected,
/// an empty search, `BYE` and a close on LOGOUT, and `OK` to anything else.
pub fn usual(caps: &str, c: &Command) -> Reply {
    let tag = &c.tag;
    if c.is("AUTHENTICATE") || c.is("LOGIN") {
        Reply::send(format!("{tag} OK [CAPABILITY {caps}] logged in\r\n"))
    } else if c.is("CAPABILITY") {
        Reply::send(format!("* CAPABILITY {caps}\r\n{tag} OK done\r\n"))
    } else if c.is("NAMESPACE") {
        Reply::send(format!(
            "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n{tag} OK done\r\n"
        ))
    } else if c.is("SELECT") || c.is("EXAMINE") {
        Reply::send(format!(
            "* 0 EXISTS\r\n* OK [UIDVALIDITY 7] v\r\n{tag} OK [READ-WRITE] selected\r\n"
        ))
    } else if c.is("UID SEARCH") {
        Reply::send(format!("* SEARCH\r\n{tag} OK done\r\n"))
    } else if c.is("LOGOUT") {
        Reply::send(format!("* BYE bye\r\n{tag} OK done\r\n")).then_close()
    } else {
        Reply::send(format!("{tag} OK done\r\n"))
    }
}

/// `(n, synchronising)` for a line ending in `{n}` or `{n+}`.
fn literal_at_end(text: &str) -> Option<(usize, bool)> {
    let open = text.rfind('{')?;
    let inner = text[open + 1..].strip_suffix('}')?;
    let (digits, sync) = match inner.strip_suffix('+') {
        Some(d) => (d, false),
        None => (inner, true),
    };
    Some((digits.parse().ok()?, sync))
}

/// A scripted IMAP server's side of one connection.
pub struct Imap<S> {
    caps: String,
    greeting_text: String,
    log: Log,
    script: S,
    /// A command whose literal is being read.
    partial: Option<Command>,
}

impl<S: Script> Imap<S> {
    /// A server offering `caps`, writing to `log`, answering with `script`.
    pub fn new(caps: impl Into<String>, log: &Log, script: S) -> Imap<S> {
        Imap {
            caps: caps.into(),
            greeting_text: "scripted".into(),
            log: log.clone(),
            script,
            partial: None,
        }
    }

    /// The greeting's text after the capabilities (a server's name, say).
    pub fn greeting_text(mut self, text: &str) -> Imap<S> {
        self.greeting_text = text.into();
        self
    }
}

impl<S: Script> Responder for Imap<S> {
    fn greeting(&mut self) -> Reply {
        self.script.greeting().unwrap_or_else(|| {
            Reply::send(format!(
                "* OK [CAPABILITY {}] {}\r\n",
                self.caps, self.greeting_text
            ))
        })
    }

    fn line(&mut self, line: &[u8]) -> Reply {
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches(['\r', '\n']);
        let command = match self.partial.take() {
            Some(mut c) => {
                c.text.push_str(text);
                c
            }
            None => {
                let (tag, rest) = text.split_once(' ').unwrap_or((text, ""));
                Command {
                    tag: tag.into(),
                    text: rest.into(),
                    literals: Vec::new(),
                }
            }
        };
        if let Some((n, sync)) = literal_at_end(text) {
            let go_ahead = if sync { &b"+ go ahead\r\n"[..] } else { b"" };
            match self.script.literal(&command, sync) {
                Some(Literal::Instead(reply)) => {
                    self.log.push(command.line());
                    return reply;
                }
                Some(Literal::Read(first)) => {
                    self.partial = Some(command);
                    return Reply::send(first).then_read(n);
                }
                None => {
                    self.partial = Some(command);
                    return Reply::send(go_ahead).then_read(n);
                }
            }
        }
        self.log.push(command.line());
        let caps = &self.caps;
        self.script
            .answer(&command)
            .unwrap_or_else(|| usual(caps, &command))
    }

    fn bytes(&mut self, literal: &[u8]) -> Reply {
        if let Some(c) = &mut self.partial {
            c.literals.push(literal.to_vec());
        }
        // The command goes on on the next line.
        Reply::nothing()
    }

    fn quiet(&mut self) -> Reply {
        self.script.quiet()
    }
}

#[cfg(test)]
mod tests {
    use imapvm_testkit::{Action, LinePlay, Play};

    use super::*;

    /// Drains what the play sends until it waits for the client again.
    fn sent(p: &mut impl Play) -> Vec<Action> {
        let mut out = Vec::new();
        loop {
            match p.poll() {
                Action::Receive { .. } => return out,
                a @ (Action::Close | Action::Stall | Action::Done) => {
                    out.push(a);
                    return out;
                }
                a => out.push(a),
            }
        }
    }

    fn send(text: &str) -> Action {
        Action::Send(text.as_bytes().to_vec())
    }

    /// Refuses NOTIFY, holds APPEND's literal contents for the test, stalls on a
    /// synchronising literal of `STALL`.
    struct Test(Arc<Mutex<Vec<Vec<u8>>>>);

    impl Script for Test {
        fn answer(&mut self, c: &Command) -> Option<Reply> {
            if c.is("NOTIFY") {
                return Some(Reply::send(format!("{} NO not today\r\n", c.tag)));
            }
            if c.is("APPEND") {
                self.0.lock().unwrap().extend(c.literals.iter().cloned());
            }
            None
        }

        fn literal(&mut self, so_far: &Command, synchronising: bool) -> Option<Literal> {
            (so_far.is("STALL") && synchronising)
                .then(|| Literal::Instead(Reply::nothing().then_stall()))
        }
    }

    #[test]
    fn commands_are_put_together_from_lines_and_literals_logged_and_answered() {
        let (log, literals) = (Log::default(), Arc::default());
        let mut p = LinePlay::new(Imap::new("IMAP4rev1 X", &log, Test(Arc::clone(&literals))));
        assert_eq!(
            sent(&mut p),
            [send("* OK [CAPABILITY IMAP4rev1 X] scripted\r\n")]
        );
        p.received(b"a1 login u p\r\na2 NOTIFY SET\r\n");
        assert_eq!(
            sent(&mut p),
            [
                send("a1 OK [CAPABILITY IMAP4rev1 X] logged in\r\n"),
                send("a2 NO not today\r\n"),
            ]
        );
        // A LITERAL+ literal, then a synchronising one in the same command.
        p.received(b"a3 APPEND INBOX {3+}\r\nab");
        assert_eq!(sent(&mut p), []);
        p.received(b"c {2}\r\n");
        assert_eq!(sent(&mut p), [send("+ go ahead\r\n")]);
        p.received(b"de\r\n");
        assert_eq!(sent(&mut p), [send("a3 OK done\r\n")]);
        assert_eq!(*literals.lock().unwrap(), [b"abc".to_vec(), b"de".to_vec()]);
        p.received(b"a4 STALL {5}\r\n");
        assert_eq!(sent(&mut p), [Action::Stall]);
        assert_eq!(
            log.lines(),
            [
                "a1 login u p",
                "a2 NOTIFY SET",
                "a3 APPEND INBOX {3+} {2}",
                "a4 STALL {5}"
            ]
        );
        assert!(log.any("NOTIFY") && !log.any("LOGOUT"));
    }

    #[test]
    fn the_usual_answers() {
        let caps = "IMAP4rev1 NAMESPACE";
        let answer = |line: &str| {
            let (tag, text) = line.split_once(' ').unwrap_or((line, ""));
            let c = Command {
                tag: tag.into(),
                text: text.into(),
                literals: Vec::new(),
            };
            let reply = usual(caps, &c);
            (String::from_utf8(reply.send).unwrap(), reply.then)
        };
        let read = imapvm_testkit::Then::ReadLine;
        assert_eq!(
            answer("a capability"),
            (
                "* CAPABILITY IMAP4rev1 NAMESPACE\r\na OK done\r\n".into(),
                read
            )
        );
        assert_eq!(
            answer("b NAMESPACE"),
            (
                "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\nb OK done\r\n".into(),
                read
            )
        );
        assert!(answer("c EXAMINE INBOX").0.contains("[UIDVALIDITY 7]"));
        assert_eq!(
            answer("d UID SEARCH ALL"),
            ("* SEARCH\r\nd OK done\r\n".into(), read)
        );
        assert_eq!(answer("e UIDPLUS").0, "e OK done\r\n", "anything else");
        assert_eq!(
            answer("f LOGOUT"),
            (
                "* BYE bye\r\nf OK done\r\n".into(),
                imapvm_testkit::Then::Close
            )
        );
        assert_eq!(literal_at_end("a APPEND x {12}"), Some((12, true)));
        assert_eq!(literal_at_end("a APPEND x {12+}"), Some((12, false)));
        assert_eq!(literal_at_end("a NOOP {x}"), None);
    }
}
