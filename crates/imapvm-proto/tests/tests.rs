//! One integration-test binary (links once): scripted-peer transcripts, real trace replays, faults, proptests.
// Helpers outside #[test] fns fail the test by panicking, like assertions do.
#![allow(clippy::unwrap_used)]

mod core_trait;
mod faults;
mod liveness;
mod oauth;
mod pipelined_login;
mod props;
mod resync;
mod routing;
mod support;
mod traces;
mod transcripts;
