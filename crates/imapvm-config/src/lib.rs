//! Asterisk's `voicemail.conf`, parsed exactly as Asterisk reads it, into a typed `Config` plus diagnostics with file:line.
//!
//! This crate does **not** read files itself (an injected reader supplies them), speak IMAP, or build messages.
//!
//! Status: the content of this crate is delivered by issue #4; until then it
//! exports nothing, so nothing here can pretend to work.
#![forbid(unsafe_code)]
