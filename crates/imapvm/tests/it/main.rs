//! Integration tests of the runtime against the private Dovecot (`xtask::dovecot`), with
//! Python's imaplib (`xtask::mail_client`) as the independent mail client; the set-up
//! helpers are `imapvm_harness`'s, shared with the service crates' tests.
//!
//! Tests run concurrently against one server: each uses its own folder (a unique
//! `imapfolder`) or its own unique message ids, never an assumption about an empty mailbox.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failed set-up step should stop the test loudly"
)]

mod budgets;
mod canary;
mod cold;
mod connect;
mod faults;
mod hostile;
mod interop;
mod isolation;
mod mail_client;
mod oauth;
mod ops;
mod races;
mod round_trips;
mod servers;
mod sharing;
mod support;
mod time;
mod tls_security;
mod voicemail_uids;

pub use imapvm_harness::{
    fixture, private_store, pw, py, q, server, store_for, store_with, unique, voicemail, wav,
};
