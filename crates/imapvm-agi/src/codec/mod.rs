//! The codec: pure functions from bytes to typed values and back, no state beyond one
//! environment or response being read. Fuzzed (`fuzz/fuzz_targets/agi.rs`).

pub mod command;
pub mod env;
pub mod outcome;
pub mod response;
pub mod values;
