//! A sans-IO client for the Asterisk Manager Interface (AMI): the doors
//! through which imapvm tells a running Asterisk that a mailbox changed.
//!
//! AMI is a line-based text protocol over TCP. The server greets with one
//! banner line (`Asterisk Call Manager/5.0.x`), then both sides exchange
//! *packets*: `Key: Value` lines closed by an empty line. The client sends
//! actions (`Action: Login`, `Action: VoicemailRefresh`, …) carrying an
//! `ActionID`; the server answers each with a `Response:` packet carrying the
//! same id, and may interleave `Event:` packets at any time.
//!
//! [`Client`] is the protocol engine, in the style of quinn-proto: bytes and
//! `now` go in ([`Client::handle_input`], [`Client::handle_timeout`]); bytes to
//! write, typed events and the next deadline come out ([`Client::poll_transmit`],
//! [`Client::poll_event`], [`Client::poll_timeout`]). It logs in as soon as the
//! banner arrives, queues actions until then, correlates responses by
//! `ActionID`, sends a keepalive `Ping` when the link is quiet, and fails
//! (sticky) when a response does not come in time, so the driver reconnects.
//!
//! This crate does **not** open sockets, read clocks, retry or back off: the
//! runtime (`imapvm`) drives it over TCP and decides when to reconnect. It does
//! not parse the payload of events beyond the packet structure.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use imapvm_ami::{Action, Client, ClientConfig, Credentials, Event, Secret};
//!
//! let now = Instant::now();
//! let creds = Credentials { username: "imapvm".into(), secret: Secret::new("s3cret") };
//! let mut ami = Client::new(creds, ClientConfig::default(), now);
//! let refresh = ami.send(Action::voicemail_refresh("default", "1234")?, now)?;
//!
//! ami.handle_input(b"Asterisk Call Manager/5.0.1\r\n", now);
//! let login = ami.poll_transmit().expect("login is sent after the banner");
//! assert!(login.to_string().contains("Secret: ***"));   // traces are redacted
//! ami.handle_input(b"Response: Success\r\nActionID: imapvm-1\r\nMessage: Authentication accepted\r\n\r\n", now);
//! let sent = ami.poll_transmit().expect("the queued action goes out once logged in");
//! assert!(sent.as_bytes().starts_with(b"Action: VoicemailRefresh\r\n"));
//! ami.handle_input(b"Response: Success\r\nActionID: imapvm-2\r\n\r\n", now);
//!
//! let mut events = std::iter::from_fn(|| ami.poll_event());
//! assert!(matches!(events.next(), Some(Event::Banner { .. })));
//! assert!(matches!(events.next(), Some(Event::LoggedIn)));
//! match events.next() {
//!     Some(Event::Response { id, response }) => { assert_eq!(id, refresh); assert!(response.is_success()); }
//!     other => panic!("unexpected {other:?}"),
//! }
//! # Ok::<(), imapvm_ami::Error>(())
//! ```
#![forbid(unsafe_code)]

mod client;
mod packet;

pub use client::{ActionId, Client, ClientConfig, Event, Limits, Response, State, Transmit};
pub use packet::{Action, Packet};

use std::fmt;

/// A password that never shows in Debug or Display output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Secret(secret.into())
    }

    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The AMI account imapvm logs in with (`manager.conf`).
#[derive(Debug, Clone)]
pub struct Credentials {
    /// `Username:` of the Login action.
    pub username: String,
    /// `Secret:` of the Login action.
    pub secret: Secret,
}

/// Everything that can go wrong talking AMI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The caller asked for something impossible (e.g. a header value with a
    /// line break, which would inject a header into the action).
    #[error("invalid action: {0}")]
    Misuse(String),
    /// The server refused the login.
    #[error("AMI login refused: {message}")]
    LoginRefused {
        /// The server's `Message:` text.
        message: String,
    },
    /// The server sent something that is not AMI. The offending bytes are
    /// kept (lossily decoded, shortened) so a log shows what came.
    #[error("AMI server misbehaved: {what} (received {received:?})")]
    Misbehaviour {
        /// What was wrong.
        what: String,
        /// The bytes in question.
        received: String,
    },
    /// A size bound was exceeded (line length, lines per packet, buffered bytes).
    #[error("AMI server exceeded a limit: {what} ({size} > {limit})")]
    LimitExceeded {
        /// Which limit.
        what: &'static str,
        /// What came.
        size: usize,
        /// The bound.
        limit: usize,
    },
    /// Nothing came back in time.
    #[error("AMI timeout waiting for {waiting_for}")]
    Timeout {
        /// What was awaited.
        waiting_for: String,
    },
    /// The connection closed.
    #[error("AMI connection closed{}", if *during_login { " during login" } else { "" })]
    Closed {
        /// Whether it closed before the login completed.
        during_login: bool,
    },
}
