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

    /// Failures it takes for the delay to reach `max`: 1 when `first` is `max`; 7 from
    /// 0.5 s to 30 s (0.5, 1, 2, 4, 8, 16, then 30).
    pub fn failures_to_max(&self) -> u32 {
        let mut n = 1;
        let mut delay = self.first;
        while delay < self.max && n < 32 {
            delay = delay.saturating_mul(2);
            n += 1;
        }
        n
    }

    /// Whether the retry budget is spent: the delay has climbed to `max` and the attempt
    /// made after waiting that longest delay failed too (more than
    /// [`Backoff::failures_to_max`] failures since the last success). Until then a failing
    /// peer is still "being retried"; after it, the outage is longer than the schedule was
    /// made to ride out (about `2 * max` plus the ramp: 61.5 s from 0.5 s to 30 s).
    pub fn exhausted(&self) -> bool {
        self.failures > self.failures_to_max()
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
    fn the_budget_is_spent_once_an_attempt_after_the_longest_delay_failed() {
        let ms = Duration::from_millis;
        let mut b = Backoff::new(ms(500), Duration::from_secs(30)).unwrap();
        assert_eq!(b.failures_to_max(), 7);
        let mut waited = Duration::ZERO;
        for _ in 0..7 {
            assert!(!b.exhausted());
            waited += b.failed();
        }
        assert_eq!(b.current(), Duration::from_secs(30));
        assert_eq!(waited, ms(61_500), "the ramp and one longest delay");
        assert!(
            !b.exhausted(),
            "the attempt after the longest delay is still owed"
        );
        b.failed();
        assert!(b.exhausted());
        b.succeeded();
        assert!(!b.exhausted());
        let flat = Backoff::new(ms(100), ms(100)).unwrap();
        assert_eq!(flat.failures_to_max(), 1);
        let uneven = Backoff::new(ms(300), ms(1000)).unwrap();
        // 300, 600, then 1000 (capped).
        assert_eq!(uneven.failures_to_max(), 3);
        let huge = Backoff::new(Duration::from_nanos(1), Duration::MAX).unwrap();
        assert_eq!(
            huge.failures_to_max(),
            32,
            "bounded like the doubling itself"
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
