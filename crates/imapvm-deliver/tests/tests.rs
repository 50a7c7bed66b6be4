//! Tests of imapvm-deliver: multi-recipient deposits and forwards against the private
//! Dovecot (`xtask::dovecot`, started by the harness), checked with Python's imaplib, with
//! the outbox and a fault proxy; and the pipelining of one account's APPENDs against a
//! scripted IMAP server.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failed set-up step should stop the test loudly"
)]

mod deliver_outbox;
mod forward;
mod pipelining;

pub use imapvm_harness::{fixture, pw, py, q, server, store_with, unique, voicemail, wav};

/// The harness pieces the tests share with the runtime's.
pub mod support {
    pub use imapvm_harness::fault_proxy;

    /// Message number `n` of a listing (tests name them by literal).
    pub fn number(n: u32) -> imapvm::MessageRef {
        imapvm::MessageRef::Number(imapvm::MessageNumber::new(n).expect("numbers start at 1"))
    }
}
