//! The network plumbing of imapvm, under the runtime and the services: it runs an
//! [`imapvm_types::sansio::Core`] (the IMAP, AMI and AGI cores) on a tokio stream, with one
//! injected clock, and sets up TCP and TLS the one way every connection of imapvm uses.
//!
//! * [`driver`]: [`Driver`](driver::Driver), the one driver of every sans-IO core, after
//!   quinn's `ConnectionDriver` and imap-next's `Stream`: it writes while it reads, feeds
//!   the core with `now` from the clock, fires the core's timer, bounds writes and reads.
//!   The runtime's IMAP `Session`, the AMI output of `imapvm-watch` and each FastAGI call of
//!   `imapvm-phone` run on it.
//! * [`clock`]: [`Clock`](clock::Clock) and [`SharedClock`](clock::SharedClock), the one
//!   source of `now` (deadlines, back-offs, timestamps), injected everywhere; the only clock
//!   read in `crates/*/src` [INV-1]. The runtime re-exports it as `imapvm::clock`.
//! * [`tls`]: the rustls client set-up (ring provider, never aws-lc [INV-9]): system roots
//!   plus a CA file or `novalidate-cert`, and a handshake that tells a TLS refusal from a
//!   broken connection.
//! * [`tcp`]: TCP keepalive.
//! * [`oauth`]: `imapoauthcmd`, the operator's command that prints an OAuth 2 token for a
//!   login, run without a shell, bounded in time and output, and the token it printed,
//!   cached until it expires or the server refuses it (the runtime decides when to log in
//!   and retry).
//!
//! This crate does **not** know any protocol (events stay in the core; the caller matches
//! them), does not log in (the token command only prints a token), retry, back off or pool connections (the runtime and the
//! services decide that), and holds no voicemail logic.
//!
//! ```
//! use std::time::Duration;
//! use imapvm_net::clock::SystemClock;
//! use imapvm_net::driver::{Driver, Progress};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let clock = SystemClock::shared();
//! let imap = imapvm_proto::Connection::new(imapvm_proto::Config::default(), clock.now())?;
//! let (ours, mut server) = tokio::io::duplex(4096);
//! tokio::io::AsyncWriteExt::write_all(&mut server, b"* OK IMAP4rev1 ready\r\n").await?;
//!
//! let mut driver = Driver::new(imap, ours, clock).with_label("demo");
//! assert!(matches!(driver.turn_within(Duration::from_secs(5)).await?, Progress::Read(_)));
//! let mut greeted = false;
//! while let Some(event) = driver.core_mut().poll_event() {
//!     greeted |= matches!(event, imapvm_proto::Event::Greeting(_));
//! }
//! assert!(greeted);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

pub mod clock;
pub mod driver;
pub mod oauth;
pub mod tcp;
pub mod tls;
