//! A voicemail as an email: Asterisk-compatible RFC 5322 building (mail-builder), full parsing (mail-parser), and a fast, never-failing header-block parser for listings.
//!
//! This crate does **not** open sockets, read clocks (time is an input) or speak IMAP.
//!
//! Status: the content of this crate is delivered by issue #3; until then it
//! exports nothing, so nothing here can pretend to work.
#![forbid(unsafe_code)]
