//! A tiny blocking IMAP client for benchmarks: plain TCP, `LOGIN`, tagged
//! replies, literals skipped, and counters for round trips and bytes.
//!
//! It parses nothing beyond what finding the tagged reply needs: the first
//! word of each line, and `{n}` at a line end (a literal of `n` bytes follows,
//! which is skipped). A *round trip* is each time the client has written all
//! it can and waits for the server: one per command sent alone, two for a
//! synchronising-literal `APPEND` (wait for `+`, then for the tagged reply),
//! one for a whole pipelined flight.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::ops::Sub;
use std::time::Duration;

use crate::error::{BenchError, Result, clip};

/// Longest line (between CRLFs, literals excluded) accepted from the server.
pub const MAX_LINE: usize = 32 * 1024 * 1024;
/// Largest literal accepted from the server.
pub const MAX_LITERAL: usize = 256 * 1024 * 1024;
/// Socket read and write timeout.
pub const IO_TIMEOUT: Duration = Duration::from_secs(120);

/// What crossed the wire: counted by the client, not estimated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WireStats {
    /// Times the client waited for the server after writing.
    pub round_trips: u64,
    /// Bytes written to the socket.
    pub bytes_out: u64,
    /// Bytes read from the socket.
    pub bytes_in: u64,
}

impl Sub for WireStats {
    type Output = WireStats;
    fn sub(self, rhs: WireStats) -> WireStats {
        WireStats {
            round_trips: self.round_trips.saturating_sub(rhs.round_trips),
            bytes_out: self.bytes_out.saturating_sub(rhs.bytes_out),
            bytes_in: self.bytes_in.saturating_sub(rhs.bytes_in),
        }
    }
}

/// The status word of a tagged reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// `OK`.
    Ok,
    /// `NO`.
    No,
    /// `BAD`.
    Bad,
}

/// Whether untagged lines are kept (the replayer needs `EXISTS` and `SEARCH`;
/// the floor keeps nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collect {
    /// Keep nothing but the tagged reply.
    Nothing,
    /// Keep every untagged line (literal contents left out).
    Untagged,
}

/// A command's completion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// OK, NO or BAD.
    pub status: Status,
    /// The tagged line after the status word.
    pub text: String,
    /// Untagged lines received while this command was the oldest outstanding
    /// one (only with [`Collect::Untagged`]), without the `* ` and CRLF.
    pub untagged: Vec<String>,
}

impl Reply {
    /// `Ok(self)` for OK, else [`BenchError::Refused`] naming `command`.
    pub fn ok(self, command: &str) -> Result<Reply> {
        if self.status == Status::Ok {
            Ok(self)
        } else {
            Err(BenchError::Refused {
                command: clip(command, 120),
                reply: clip(&self.text, 200),
            })
        }
    }

    /// The numbers of the untagged `SEARCH` line (empty if there was none).
    pub fn search_hits(&self) -> Vec<u32> {
        self.untagged
            .iter()
            .filter_map(|l| l.strip_prefix("SEARCH"))
            .flat_map(|rest| rest.split_ascii_whitespace())
            .filter_map(|n| n.parse().ok())
            .collect()
    }

    /// `n` of the last untagged `n EXISTS`.
    pub fn exists(&self) -> Option<u32> {
        self.untagged.iter().rev().find_map(|l| {
            let (n, word) = l.split_once(' ')?;
            word.eq_ignore_ascii_case("EXISTS")
                .then(|| n.parse().ok())?
        })
    }

    /// `(uidvalidity, uid)` of an `[APPENDUID v u]` response code.
    pub fn append_uid(&self) -> Option<(u32, u32)> {
        let rest = self.text.split_once("[APPENDUID ")?.1;
        let mut it = rest.split([' ', ']']);
        Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
    }

    /// The `COUNT n` of an untagged `ESEARCH` reply.
    pub fn esearch_count(&self) -> Option<u32> {
        self.untagged.iter().find_map(|l| {
            let rest = l.strip_prefix("ESEARCH")?;
            let mut words = rest.split_ascii_whitespace();
            while let Some(w) = words.next() {
                if w.eq_ignore_ascii_case("COUNT") {
                    return words.next()?.parse().ok();
                }
            }
            None
        })
    }
}

/// The bytes of a command with a non-synchronising literal: `head {n+}CRLF body`.
pub fn literal_plus(head: &str, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(head.len() + body.len() + 16);
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(format!(" {{{}+}}\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
    out
}

/// A quoted IMAP string.
pub fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Counts the bytes read through it.
#[derive(Debug)]
struct Counting {
    inner: TcpStream,
    read: u64,
}

impl Read for Counting {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

/// One incoming response, classified by its first segment.
enum Incoming {
    Continuation,
    Untagged,
    Tagged {
        tag: String,
        status: Status,
        text: String,
    },
}

/// A blocking IMAP connection over plain TCP.
#[derive(Debug)]
pub struct Wire {
    reader: BufReader<Counting>,
    writer: TcpStream,
    next_tag: u64,
    round_trips: u64,
    bytes_out: u64,
    line: Vec<u8>,
    /// Which endpoint, for error messages.
    peer: String,
}

impl Wire {
    /// Connects to `host:port` and reads the greeting.
    pub fn connect(host: &str, port: u16) -> Result<Wire> {
        let peer = format!("{host}:{port}");
        let addr = (host, port)
            .to_socket_addrs()
            .map_err(|e| BenchError::io(format!("resolving {peer}"), e))?
            .next()
            .ok_or_else(|| BenchError::Scenario(format!("{peer} resolves to nothing")))?;
        let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
            .map_err(|e| BenchError::io(format!("connecting to {peer}"), e))?;
        Wire::from_stream(stream, peer)
    }

    /// Wraps a connected stream and reads the greeting (`* OK`).
    pub fn from_stream(stream: TcpStream, peer: String) -> Result<Wire> {
        let setup = |e| BenchError::io(format!("configuring the socket to {peer}"), e);
        stream.set_nodelay(true).map_err(setup)?;
        stream.set_read_timeout(Some(IO_TIMEOUT)).map_err(setup)?;
        stream.set_write_timeout(Some(IO_TIMEOUT)).map_err(setup)?;
        let writer = stream.try_clone().map_err(setup)?;
        let mut wire = Wire {
            reader: BufReader::with_capacity(
                64 * 1024,
                Counting {
                    inner: stream,
                    read: 0,
                },
            ),
            writer,
            next_tag: 0,
            round_trips: 0,
            bytes_out: 0,
            line: Vec::with_capacity(4096),
            peer,
        };
        wire.round_trips += 1;
        let mut sink = Vec::new();
        match wire.next_response(Collect::Untagged, &mut sink)? {
            Incoming::Untagged if sink.first().is_some_and(|l| l.starts_with("OK")) => Ok(wire),
            _ => Err(BenchError::Protocol {
                context: format!("greeting of {}", wire.peer),
                line: sink.first().cloned().unwrap_or_default(),
            }),
        }
    }

    /// `LOGIN user "password"`; a refusal is an error.
    pub fn login(&mut self, user: &str, password: &str) -> Result<()> {
        let command = format!("LOGIN {} {}", quoted(user), quoted(password));
        self.command(&command, Collect::Nothing)
            .and_then(|r| r.ok(&format!("LOGIN {user}")))
            .map(drop)
    }

    /// Counters so far (take differences around an operation).
    pub fn stats(&self) -> WireStats {
        WireStats {
            round_trips: self.round_trips,
            bytes_out: self.bytes_out,
            bytes_in: self.reader.get_ref().read,
        }
    }

    fn tag(&mut self) -> String {
        self.next_tag += 1;
        format!("b{:05}", self.next_tag)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.writer
            .write_all(bytes)
            .map_err(|e| BenchError::io(format!("writing to {}", self.peer), e))?;
        self.bytes_out += bytes.len() as u64;
        Ok(())
    }

    /// Sends one command alone and waits for its tagged reply (one round trip).
    pub fn command(&mut self, command: &str, collect: Collect) -> Result<Reply> {
        let tag = self.tag();
        let mut bytes = Vec::with_capacity(tag.len() + command.len() + 3);
        bytes.extend_from_slice(tag.as_bytes());
        bytes.push(b' ');
        bytes.extend_from_slice(command.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        self.write(&bytes)?;
        self.round_trips += 1;
        self.await_tag(&tag, command, collect)
    }

    /// `head {n}`, waits for `+`, sends the literal, waits for the tagged reply
    /// (two round trips), as c-client does. A tagged reply instead of `+` (such
    /// as `NO [OVERQUOTA]`) ends the command after one round trip.
    pub fn append_sync(&mut self, head: &str, body: &[u8]) -> Result<Reply> {
        let tag = self.tag();
        self.write(format!("{tag} {head} {{{}}}\r\n", body.len()).as_bytes())?;
        self.round_trips += 1;
        let mut untagged = Vec::new();
        loop {
            match self.next_response(Collect::Untagged, &mut untagged)? {
                Incoming::Continuation => break,
                Incoming::Untagged => {}
                Incoming::Tagged {
                    tag: t,
                    status,
                    text,
                } if t == tag => {
                    return Ok(Reply {
                        status,
                        text,
                        untagged,
                    });
                }
                Incoming::Tagged { tag: t, .. } => {
                    return Err(BenchError::Protocol {
                        context: format!("{head}: waiting for +"),
                        line: t,
                    });
                }
            }
        }
        self.write(body)?;
        self.write(b"\r\n")?;
        self.round_trips += 1;
        let mut reply = self.await_tag(&tag, head, Collect::Untagged)?;
        untagged.append(&mut reply.untagged);
        reply.untagged = untagged;
        Ok(reply)
    }

    /// Writes every command in one flight (each gets a tag and CRLF; use
    /// [`literal_plus`] for literals), then reads until all are answered: one
    /// round trip. Replies come back in command order.
    pub fn pipeline(&mut self, commands: &[Vec<u8>], collect: Collect) -> Result<Vec<Reply>> {
        let mut tags = Vec::with_capacity(commands.len());
        let mut bytes = Vec::new();
        for command in commands {
            let tag = self.tag();
            bytes.extend_from_slice(tag.as_bytes());
            bytes.push(b' ');
            bytes.extend_from_slice(command);
            bytes.extend_from_slice(b"\r\n");
            tags.push(tag);
        }
        self.write(&bytes)?;
        self.round_trips += 1;
        let mut replies: Vec<Option<Reply>> = vec![None; commands.len()];
        let mut tagged_untagged: Vec<Vec<String>> = vec![Vec::new(); commands.len()];
        let mut untagged = Vec::new();
        let mut done = 0;
        while done < commands.len() {
            match self.next_response(collect, &mut untagged)? {
                Incoming::Untagged => {
                    // ESEARCH names its command: attribute it exactly.
                    let owner = untagged.last().and_then(|l| {
                        let rest = l.strip_prefix("ESEARCH (TAG \"")?;
                        let tag = rest.split('"').next()?;
                        tags.iter().position(|t| t == tag)
                    });
                    if let (Some(i), Some(line)) = (owner, untagged.pop()) {
                        tagged_untagged[i].push(line);
                    }
                }
                Incoming::Continuation => {
                    return Err(BenchError::Protocol {
                        context: "pipelined flight (a literal was not LITERAL+?)".into(),
                        line: "+".into(),
                    });
                }
                Incoming::Tagged { tag, status, text } => {
                    let index = tags.iter().position(|t| *t == tag).ok_or_else(|| {
                        BenchError::Protocol {
                            context: "pipelined flight: unknown tag".into(),
                            line: tag.clone(),
                        }
                    })?;
                    let mut mine = std::mem::take(&mut untagged);
                    mine.append(&mut tagged_untagged[index]);
                    replies[index] = Some(Reply {
                        status,
                        text,
                        untagged: mine,
                    });
                    done += 1;
                }
            }
        }
        Ok(replies.into_iter().flatten().collect())
    }

    /// Sends `LOGOUT` and waits for its reply; errors are ignored (the
    /// connection is going away).
    pub fn logout(mut self) {
        let _ = self.command("LOGOUT", Collect::Nothing);
    }

    fn await_tag(&mut self, tag: &str, command: &str, collect: Collect) -> Result<Reply> {
        let mut untagged = Vec::new();
        loop {
            match self.next_response(collect, &mut untagged)? {
                Incoming::Untagged => {}
                Incoming::Continuation => {
                    return Err(BenchError::Protocol {
                        context: format!("{}: unexpected continuation", clip(command, 80)),
                        line: "+".into(),
                    });
                }
                Incoming::Tagged {
                    tag: t,
                    status,
                    text,
                } if t == tag => {
                    return Ok(Reply {
                        status,
                        text,
                        untagged,
                    });
                }
                Incoming::Tagged { tag: t, .. } => {
                    return Err(BenchError::Protocol {
                        context: format!("{}: reply with a foreign tag", clip(command, 80)),
                        line: t,
                    });
                }
            }
        }
    }

    /// Reads one physical line (through CRLF) into `self.line`.
    fn read_segment(&mut self) -> Result<()> {
        self.line.clear();
        let limit = MAX_LINE as u64 + 1;
        let n = (&mut self.reader)
            .take(limit)
            .read_until(b'\n', &mut self.line)
            .map_err(|e| BenchError::io(format!("reading from {}", self.peer), e))?;
        if n == 0 {
            return Err(BenchError::Closed {
                context: format!("reading from {}", self.peer),
            });
        }
        if self.line.last() != Some(&b'\n') {
            return Err(BenchError::TooLarge {
                what: "server line",
                size: self.line.len(),
                limit: MAX_LINE,
            });
        }
        Ok(())
    }

    fn skip_literal(&mut self, n: usize) -> Result<()> {
        let copied = io::copy(&mut (&mut self.reader).take(n as u64), &mut io::sink())
            .map_err(|e| BenchError::io(format!("reading a literal from {}", self.peer), e))?;
        if copied < n as u64 {
            return Err(BenchError::Closed {
                context: format!("reading a {n}-byte literal from {}", self.peer),
            });
        }
        Ok(())
    }

    /// Reads one whole response (all its literals), classifying it by its
    /// first segment; untagged text goes to `untagged` when collected.
    fn next_response(&mut self, collect: Collect, untagged: &mut Vec<String>) -> Result<Incoming> {
        self.read_segment()?;
        let first = trim_crlf(&self.line);
        let kind = if first.first() == Some(&b'+') {
            0
        } else if first.starts_with(b"* ") {
            1
        } else {
            2
        };
        let keep = kind == 2 || (kind == 1 && collect == Collect::Untagged);
        let mut text: Vec<u8> = if keep { first.to_vec() } else { Vec::new() };
        while let Some(n) = literal_len(trim_crlf(&self.line)) {
            if n > MAX_LITERAL {
                return Err(BenchError::TooLarge {
                    what: "server literal",
                    size: n,
                    limit: MAX_LITERAL,
                });
            }
            self.skip_literal(n)?;
            self.read_segment()?;
            if keep {
                text.extend_from_slice(trim_crlf(&self.line));
            }
        }
        match kind {
            0 => Ok(Incoming::Continuation),
            1 => {
                if keep {
                    let s = String::from_utf8_lossy(&text);
                    untagged.push(s.strip_prefix("* ").unwrap_or(&s).to_owned());
                }
                Ok(Incoming::Untagged)
            }
            _ => {
                let s = String::from_utf8_lossy(&text).into_owned();
                let mut words = s.splitn(3, ' ');
                let tag = words.next().unwrap_or_default().to_owned();
                let status = match words.next().map(str::to_ascii_uppercase).as_deref() {
                    Some("OK") => Status::Ok,
                    Some("NO") => Status::No,
                    Some("BAD") => Status::Bad,
                    _ => {
                        return Err(BenchError::Protocol {
                            context: format!("reply from {}", self.peer),
                            line: clip(&s, 200),
                        });
                    }
                };
                let text = words.next().unwrap_or_default().to_owned();
                Ok(Incoming::Tagged { tag, status, text })
            }
        }
    }
}

fn trim_crlf(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// `n` when `line` ends with a literal announcement `{n}` (or `{n+}`).
pub fn literal_len(line: &[u8]) -> Option<usize> {
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    let digits = &inner[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || digits.len() > 12 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}
