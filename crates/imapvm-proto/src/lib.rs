//! A sans-IO IMAP4rev1/rev2 client core on imap-codec: bytes and `now` go in; bytes to send, typed results and timer deadlines come out.
//!
//! This crate does **not** open sockets, use tokio, read clocks, or know anything about voicemail. Sequence numbers never leave it.
//!
//! Status: the content of this crate is delivered by issue #5; until then it
//! exports nothing, so nothing here can pretend to work.
#![forbid(unsafe_code)]
