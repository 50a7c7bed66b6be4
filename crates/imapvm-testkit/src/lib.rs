//! Test support for imapvm's crates: a raw scripted TCP peer, after
//! imap-next's `integration-test/src/mock.rs`.
//!
//! A [`Peer`] listens on `127.0.0.1:0` (or an address you give it), accepts
//! connections and, on each, either plays a [`Script`] of `S:` (send) and
//! `C:` (expect exactly these bytes) lines, in the format of imapvm-proto's
//! transcript tests (see [`script`] for every step: line prefixes, raw
//! bytes, `close`, `stall`, `sleep`), or answers with a [`Responder`] that
//! decides per line (and can ask for raw bytes, a literal, next). A client
//! that departs from the script gets its connection closed, and
//! [`Peer::finish`] says where, with both sides' bytes escaped and a caret at
//! the first difference; a client that sends nothing hits the peer's timeout
//! instead of hanging the test.
//!
//! [`serve`] (and [`blocking::serve`]) play the same on a stream the test
//! holds: one it opened to a server under test (Asterisk's side of a FastAGI
//! call), say. [`Builder::upgrade`] puts each accepted stream through a
//! function first (a TLS handshake the test brings).
//!
//! [`proxy::Proxy`] stands between a client and a real server: it forwards
//! each connection through a [`proxy::Tap`] that may rewrite, record, delay
//! or cut the bytes, refuses new connections or cuts live ones on demand.
//!
//! [`latency`] puts a network distance in between: a one-way delay and
//! jitter per direction, and the round trips and bytes counted on the socket
//! (the benchmarks' proxy at 5, 20, 50 ms).
//!
//! [`asterisk`] is the one peer that does know its protocol: Asterisk 22's side of a FastAGI
//! call (`res_agi`), with a scripted phone, for the phone service's tests and benchmarks.
//!
//! Otherwise it does **not** know any protocol (IMAP, AMI or FastAGI semantics live in
//! the scripts and responders), does no TLS itself, and is only ever a
//! dev-dependency.
//! The connection logic is a sans-IO [`Play`]; the async driver needs the
//! default `tokio` feature, [`blocking::Peer`] needs only std.
//!
//! ```
//! use std::io::{BufRead, BufReader, Write};
//! use imapvm_testkit::blocking::Peer;
//!
//! let peer = Peer::script(
//!     "S: * OK ready
//!      C: a1 NOOP
//!      S: a1 OK done",
//! )?;
//! let mut client = std::net::TcpStream::connect(peer.addr())?;
//! let mut reader = BufReader::new(client.try_clone()?);
//! let mut line = String::new();
//! reader.read_line(&mut line)?;
//! assert_eq!(line, "* OK ready\r\n");
//! client.write_all(b"a1 NOOP\r\n")?;
//! line.clear();
//! reader.read_line(&mut line)?;
//! assert_eq!(line, "a1 OK done\r\n");
//! let transcript = peer.finish()?;
//! assert_eq!(transcript.connections[0].lines(), ["a1 NOOP"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

#[cfg(feature = "tokio")]
pub mod asterisk;
pub mod blocking;
#[cfg(feature = "tokio")]
pub mod latency;
#[cfg(feature = "tokio")]
mod peer;
mod play;
#[cfg(feature = "tokio")]
pub mod proxy;
mod record;
mod respond;
pub mod script;
#[cfg(feature = "tokio")]
mod upgrade;

#[cfg(feature = "tokio")]
pub use peer::{Peer, Tokio, serve};
pub use play::{Action, Mismatch, MismatchKind, Play, ScriptPlay};
pub use record::{Builder, Listening, PeerError, Record, Transcript};
pub use respond::{LinePlay, Lines, MAX_LINE, MAX_READ, Reply, Responder, Then, lines};
pub use script::{LineEnding, Script, ScriptError, Step};
