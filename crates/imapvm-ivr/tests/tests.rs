//! One integration-test binary (links once): the transcripts, the hangup property, random
//! walks, argument parsing and the misuse checks.
// Helpers outside #[test] fns fail the test by panicking, like assertions do.
#![allow(clippy::unwrap_used)]

mod args;
mod hangup;
mod hangup_main;
mod main_api;
mod misuse;
mod props;
mod props_main;
mod support;
mod transcripts;
