//! [`Backoff`]: the one retry schedule of imapvm (IMAP logins, the MWI watcher's
//! reconnects, the AMI link, webhook deliveries): the first delay after a failure, doubled
//! per further failure up to a cap, back to the start after a success.
//!
//! Pure: it returns delays; the runtime sleeps on its own clock.

use std::fmt;
use std::time::Duration;

/// A back-off whose bounds cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackoffError {
    /// The first delay is zero: a failing peer would be retried in a busy loop.
    ZeroFirst,
    /// The cap is below the first delay.
    MaxBelowFirst {
        /// The first delay.
        first: Duration,
        /// The cap.
        max: Duration,
    },
}

impl fmt::Display for BackoffError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackoffError::ZeroFirst => f.write_str("the first back-off delay must be above zero"),
            BackoffError::MaxBelowFirst { first, max } => write!(
                f,
                "the longest back-off delay ({max:?}) is below the first ({first:?})"
            ),
        }
    }
}

impl std::error::Error for BackoffError {}

/// Doubling delays between retries, capped: `first, 2·first, 4·first, …, max, max, …`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    /// A schedule from `first` up to `max`; refused (not repaired) when `first` is zero or
    /// `max` is below `first`. `const`, so fixed bounds are checked when the program is
    /// built.
    pub const fn new(first: Duration, max: Duration) -> Result<Backoff, BackoffError> {
        if first.is_zero() {
            return Err(BackoffError::ZeroFirst);
        }
        if max.as_nanos() < first.as_nanos() {
            return Err(BackoffError::MaxBelowFirst { first, max });
        }
        Ok(Backoff {
            first,
            max,
            failures: 0,
        })
    }

    /// Records a failure; the delay to wait before the next attempt.
    pub fn failed(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        self.current()
    }

    /// The delay the last failure asked for (`first` before any failure).
    pub fn current(&self) -> Duration {
        let exp = self.failures.saturating_sub(1).min(31);
        self.first.saturating_mul(1 << exp).min(self.max)
    }

    /// Records a success: the next failure waits `first` again.
    pub fn succeeded(&mut self) {
        self.failures = 0;
    }

    /// Failures since the last success.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// The first delay.
    pub fn first(&self) -> Duration {
        self.first
    }

    /// The cap.
    pub fn max(&self) -> Duration {
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_resets_on_success() {
        let ms = Duration::from_millis;
        let mut b = Backoff::new(ms(500), Duration::from_secs(60)).unwrap();
        let delays: Vec<_> = (0..10).map(|_| b.failed()).collect();
        assert_eq!(
            delays,
            [
                500, 1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000
            ]
            .map(ms)
        );
        assert_eq!(b.failures(), 10);
        b.succeeded();
        assert_eq!(b.failed(), ms(500));
        for _ in 0..100 {
            b.failed();
        }
        assert_eq!(
            b.current(),
            Duration::from_secs(60),
            "no overflow after many failures"
        );
    }

    #[test]
    fn bad_bounds_are_refused_not_repaired() {
        assert_eq!(
            Backoff::new(Duration::ZERO, Duration::from_secs(1)),
            Err(BackoffError::ZeroFirst)
        );
        assert!(matches!(
            Backoff::new(Duration::from_secs(2), Duration::from_secs(1)),
            Err(BackoffError::MaxBelowFirst { .. })
        ));
        assert!(Backoff::new(Duration::from_secs(1), Duration::from_secs(1)).is_ok());
    }
}
