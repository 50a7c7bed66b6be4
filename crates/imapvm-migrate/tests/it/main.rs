//! Integration tests of the migration (file spool ⇄ IMAP) against the private Dovecot, with
//! Python's imaplib as the independent mail client. The set-up helpers are
//! `imapvm_harness`'s, shared with the runtime's tests.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failed set-up step should stop the test loudly"
)]

mod migrate;

pub use imapvm_harness::{pw, py, q, store_with, unique, wav};
