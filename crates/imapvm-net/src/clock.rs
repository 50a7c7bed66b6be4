//! The one clock of the runtime and of the services above it: every deadline, back-off,
//! timestamp and IMAP `now` comes from an injected [`Clock`], after quinn's
//! `Runtime::now()` ("allows simulating the flow of time for testing").
//!
//! This module is the only place in `crates/*/src` that reads a clock [INV-1]; `xtask
//! tidy` checks that. The runtime re-exports it as `imapvm::clock`. [`SystemClock`] takes monotonic time from tokio's clock, so a test under
//! `#[tokio::test(start_paused = true)]` runs every timer of the runtime in simulated
//! time, and wall time from the system.

use std::fmt;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

/// A source of time.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// Monotonic time: deadlines, timers, back-offs, the sans-IO cores' `now`.
    fn now(&self) -> Instant;

    /// Wall time: message dates, event timestamps.
    fn wall(&self) -> SystemTime;

    /// Wall time as whole seconds since the Unix epoch (0 before it).
    fn unix_secs(&self) -> i64 {
        self.wall()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    }
}

/// A shared clock, as the runtime passes it around.
pub type SharedClock = Arc<dyn Clock>;

/// The real clock: tokio's monotonic clock (simulated under paused tokio time) and the
/// system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }

    fn wall(&self) -> SystemTime {
        SystemTime::now()
    }
}

impl SystemClock {
    /// The system clock as a [`SharedClock`].
    pub fn shared() -> SharedClock {
        Arc::new(SystemClock)
    }
}

/// A unique-enough number for Message-ID, MIME boundary and msg id: the wall time, a
/// per-process counter, the process id and a per-call hash seed (no clock in the lower
/// crates, so the runtime and the services above it take it from here).
pub fn random_u32(clock: &SharedClock) -> u32 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        clock
            .wall()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    (h.finish() & 0xffff_ffff) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn monotonic_time_follows_paused_tokio_time() {
        let clock = SystemClock::shared();
        let before = clock.now();
        tokio::time::sleep(Duration::from_secs(3600)).await;
        let passed = clock.now() - before;
        assert!(passed >= Duration::from_secs(3600), "{passed:?}");
        assert!(passed < Duration::from_secs(3601), "{passed:?}");
    }

    #[test]
    fn random_values_differ() {
        let clock = SystemClock::shared();
        let a: std::collections::HashSet<u32> = (0..100).map(|_| random_u32(&clock)).collect();
        assert!(a.len() > 95);
    }

    /// A wall clock that stands still.
    #[derive(Debug)]
    struct Frozen;

    impl Clock for Frozen {
        fn now(&self) -> Instant {
            SystemClock.now()
        }
        fn wall(&self) -> SystemTime {
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_674_094)
        }
    }

    #[test]
    fn random_values_differ_on_a_clock_that_stands_still() {
        let clock: SharedClock = Arc::new(Frozen);
        let a: std::collections::HashSet<u32> = (0..100).map(|_| random_u32(&clock)).collect();
        assert!(a.len() > 95);
    }

    #[test]
    fn unix_seconds_are_after_2020() {
        assert!(SystemClock.unix_secs() > 1_577_836_800);
    }
}
