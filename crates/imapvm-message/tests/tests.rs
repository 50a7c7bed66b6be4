//! Integration tests of imapvm-message, in one binary so CI links once.
#![allow(
    clippy::unwrap_used,
    reason = "a failed unwrap in a test helper is a test failure with a message"
)]

mod common;
mod corpus;
mod decoded;
mod fixtures;
mod roundtrip;
