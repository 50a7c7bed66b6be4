//! Every decision the runtime must make, as pure functions: folder names, mailbox filters, counting, message numbers, expunge plans, admission, MWI change detection, watch strategy.
//!
//! This crate does **not** perform I/O of any kind, read clocks, or speak IMAP grammar.
//!
//! Status: the content of this crate is delivered by issue #6; until then it
//! exports nothing, so nothing here can pretend to work.
#![forbid(unsafe_code)]
