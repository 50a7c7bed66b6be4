//! One integration-test binary (links once): real Asterisk transcripts, split-input and
//! round-trip properties, limits, deadlines, misuse, stickiness and redaction.
// Helpers outside #[test] fns fail the test by panicking, like assertions do.
#![allow(clippy::unwrap_used)]

mod faults;
mod props;
mod support;
mod transcripts;
