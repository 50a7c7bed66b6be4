//! End-to-end benchmarks of imapvm against a real IMAP server, next to
//! Asterisk's recorded command sequences and the wire floor.
//!
//! This crate does **not** hold the codec and core micro-benchmarks: those live
//! beside their crates (`crates/*/benches`).
//!
//! Status: the benchmark suite is delivered by issue #10 (`cargo xtask bench`).
#![forbid(unsafe_code)]
