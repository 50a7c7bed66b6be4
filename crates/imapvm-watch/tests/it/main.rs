//! Integration tests of the MWI watcher and its outputs against the private servers
//! (`xtask`), with Python's imaplib as the independent mail client, an AMI peer and a
//! webhook receiver (`xtask::pbx`), and their TLS forms (an HTTPS receiver, an AMI peer
//! behind rustls). The set-up helpers are `imapvm_harness`'s, shared with
//! the runtime's tests.
//!
//! Tests run concurrently against one server: each uses its own folder (a unique
//! `imapfolder`) or its own unique message ids, never an assumption about an empty mailbox.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failed set-up step should stop the test loudly"
)]

mod metrics;
mod pbx_notify;
mod publish;
mod servers;
mod tls_outputs;
mod watch;
mod watch_resync;

pub use imapvm_harness::{fixture, pw, py, q, server, store_for, store_with, unique, voicemail};
