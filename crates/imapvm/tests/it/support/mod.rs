//! Test harness pieces of the reliability and security tests: a TCP fault proxy (shared
//! with the watcher's tests, in `imapvm_harness`), a hostile IMAP server, a seeded random
//! generator, a log capture for the secret checks.

pub use imapvm_harness::{base64, fault_proxy};
pub mod hostile;

/// A small seeded generator (xorshift64*): reproducible fault plans without a dependency.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (0 is replaced by a fixed odd constant).
    pub fn new(seed: u64) -> Rng {
        Rng(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// `true` with probability `percent`/100.
    pub fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

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
