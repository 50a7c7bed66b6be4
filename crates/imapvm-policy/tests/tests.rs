//! Integration tests of imapvm-policy: table tests pinned to the Asterisk reference sections, and proptests for the invariants.
//!
//! One test binary (ripgrep style) so CI links once; each module covers one
//! decision area. A section number "§x" refers to
//! `docs/reference/asterisk-imap-behaviour.md`, "observed §x" to
//! `docs/reference/asterisk-observed.md`, and `[INV-n]` to the invariants of
//! `docs/ARCHITECTURE.md`.
// Helpers outside `#[test]` fns unwrap too: a panic there is a test failure
// (clippy.toml already allows it inside test fns).
#![allow(clippy::unwrap_used)]

mod admission;
mod counting;
mod expunge;
mod folders;
mod identity;
mod mutf7;
mod mwi;
mod numbers;
mod voicemail_uids;
mod watch;

use imapvm_policy::{Uid, UidSet, UidValidity};

/// A UID from a literal that is known to be non-zero.
pub fn uid(n: u32) -> Uid {
    Uid::new(n).expect("test UIDs are non-zero")
}

/// A UID set from literals.
pub fn uids(ns: &[u32]) -> UidSet {
    ns.iter().map(|n| uid(*n)).collect()
}

/// A UIDVALIDITY from a literal that is known to be non-zero (`const`, for the tests'
/// constants).
pub const fn uv(n: u32) -> UidValidity {
    match UidValidity::new(n) {
        Some(v) => v,
        None => panic!("test UIDVALIDITYs are non-zero"),
    }
}
