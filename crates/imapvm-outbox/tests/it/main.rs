//! The outbox's integration tests, one binary: deposits through random cuts between the
//! runtime and the private Dovecot end exactly once on the server with an empty outbox; the
//! outbox while the server is down; over-quota refusals kept as refused; the hostile server's
//! BYE during APPEND queued.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failed set-up step should stop the test loudly"
)]

mod faults;
mod hostile;

pub use imapvm_harness::{pw, server, store_for, unique, voicemail};
