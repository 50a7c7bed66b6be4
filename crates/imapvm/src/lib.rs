//! The thin runtime: tokio + rustls. It connects, authenticates, drives `imapvm-proto`, and asks `imapvm-policy`, `imapvm-message` and `imapvm-config` for every decision, message and setting.
//!
//! This crate does **not** contain protocol grammar, message layout or policy rules; it asks the crates below.
//!
//! Status: the content of this crate is delivered by issue #7; until then it
//! exports nothing, so nothing here can pretend to work.
#![forbid(unsafe_code)]

pub mod config_files;
