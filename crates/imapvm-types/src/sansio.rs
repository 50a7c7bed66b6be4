//! [`Core`]: the one interface of imapvm's sans-IO protocol cores (IMAP in
//! `imapvm-proto`, AMI in `imapvm-ami`, AGI in `imapvm-agi`), so that one driver
//! (`imapvm::driver`) runs every one of them.
//!
//! The shape is quinn-proto's: inputs through `handle_*` with `now` passed in, outputs
//! through `#[must_use]` `poll_*`, no socket and no clock inside the core.
//!
//! **Drain order.** After every input (`handle_input`, `handle_eof`, `handle_timeout`, or
//! a command given to the core), a driver:
//! 1. writes every [`Core::poll_transmit`] until `None`, completely and in order;
//! 2. takes every [`Core::poll_event`] until `None`;
//! 3. arms its timer at [`Core::poll_timeout`] and calls [`Core::handle_timeout`] when it
//!    fires.
//!
//! **Time.** `now` is a monotonic [`Instant`] that never goes backwards between calls;
//! a core never reads a clock itself. Tests pass simulated instants.
//!
//! **Reading and writing.** A driver reads while it writes (a peer that answers a large
//! command before reading all of it must not deadlock the connection).

use std::borrow::Cow;
use std::time::Instant;

/// Bytes a core wants written.
pub trait Transmit {
    /// The bytes to write, completely and in order.
    fn as_bytes(&self) -> &[u8];

    /// A log-safe rendering: credentials and PINs are replaced by `***` [INV-6].
    fn trace(&self) -> Cow<'_, str>;
}

/// A sans-IO protocol core: bytes and time in; bytes, events and deadlines out.
pub trait Core {
    /// What [`Core::poll_transmit`] hands out.
    type Transmit: Transmit;
    /// What [`Core::poll_event`] hands out. Drivers match it exhaustively.
    type Event;

    /// Bytes read from the peer.
    fn handle_input(&mut self, bytes: &[u8], now: Instant);

    /// The peer closed its side (end of file).
    fn handle_eof(&mut self);

    /// The deadline from [`Core::poll_timeout`] has passed.
    fn handle_timeout(&mut self, now: Instant);

    /// The next bytes to write, if any.
    #[must_use]
    fn poll_transmit(&mut self, now: Instant) -> Option<Self::Transmit>;

    /// The next event, if any.
    #[must_use]
    fn poll_event(&mut self) -> Option<Self::Event>;

    /// When [`Core::handle_timeout`] must next be called, if at all.
    #[must_use]
    fn poll_timeout(&self) -> Option<Instant>;
}
