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
//! [`Client`] is the protocol engine, in the style of quinn-proto and with
//! `imapvm-proto`'s shape: bytes and `now` go in ([`Client::handle_input`],
//! [`Client::handle_eof`], [`Client::handle_timeout`]); bytes to write, typed
//! events and the next deadline come out ([`Client::poll_transmit`],
//! [`Client::poll_event`], [`Client::poll_timeout`]), drained in that order
//! after every input or action. `now` is monotonic and never read by the
//! client. It logs in as soon as the banner arrives, queues actions until then,
//! correlates responses by `ActionID`, sends a keepalive `Ping` when the link is
//! quiet, and fails when a response does not come in time, so the driver
//! reconnects. [`Client`] implements [`imapvm_types::sansio::Core`], so the
//! driver that runs the IMAP core runs this one too.
//!
//! The contracts are checked by the compiler where they can be: [`Event`] is
//! exhaustive (a driver matches it with no wildcard), `poll_*` and [`Transmit`]
//! are `#[must_use]`, a fatal error is sticky and comes back as itself, and
//! [`Client::new`] rejects a [`ClientConfig`] value out of bounds (or
//! credentials that cannot be sent) with a [`ConfigError`] instead of failing
//! later.
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
//! let mut ami = Client::new(creds, ClientConfig::default(), now)?;
//! let refresh = ami.send(Action::voicemail_refresh("default", "1234")?, now)?;
//!
//! ami.handle_input(b"Asterisk Call Manager/5.0.1\r\n", now);
//! let login = ami.poll_transmit(now).expect("login is sent after the banner");
//! assert!(login.to_string().contains("Secret: ***"));   // traces are redacted
//! ami.handle_input(b"Response: Success\r\nActionID: imapvm-1\r\nMessage: Authentication accepted\r\n\r\n", now);
//! let sent = ami.poll_transmit(now).expect("the queued action goes out once logged in");
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
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

mod client;
mod error;
mod packet;

pub use client::{ActionId, Client, ClientConfig, Event, Limits, Response, State, Transmit};
pub use error::{Closed, Error, LimitExceeded, LimitKind, Misbehaviour, Misuse, Refusal};
pub use imapvm_types::Secret;
pub use imapvm_types::sansio::ConfigError;
pub use packet::{Action, Packet};

/// The AMI account imapvm logs in with (`manager.conf`).
#[derive(Debug, Clone)]
pub struct Credentials {
    /// `Username:` of the Login action.
    pub username: String,
    /// `Secret:` of the Login action.
    pub secret: Secret,
}
