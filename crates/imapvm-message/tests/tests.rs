//! Integration tests of imapvm-message, in one binary so CI links once.

mod common;
mod corpus;
mod fixtures;
mod roundtrip;
