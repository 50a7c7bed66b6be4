//! One integration-test binary (links once): scripted-peer transcripts, real trace replays, faults, proptests.

mod faults;
mod props;
mod support;
mod traces;
mod transcripts;
