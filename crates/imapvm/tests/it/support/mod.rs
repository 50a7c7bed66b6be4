//! Test harness pieces of the reliability and security tests: a TCP fault proxy (shared
//! with the watcher's tests) and a hostile IMAP server (shared with the outbox's tests), both
//! in `imapvm_harness`, a seeded random generator, a log capture for the secret checks.

pub use imapvm_harness::cuts::Rng;
pub use imapvm_harness::{base64, fault_proxy, hostile};

/// Peak resident set size of this process (VmHWM), in KiB.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Message number `n` of a listing (tests name them by literal).
pub fn number(n: u32) -> imapvm::MessageRef {
    imapvm::MessageRef::Number(imapvm::MessageNumber::new(n).expect("numbers start at 1"))
}

pub use imapvm_harness::logs::Capture;
