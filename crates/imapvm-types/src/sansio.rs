//! [`Core`]: the one interface of imapvm's sans-IO protocol cores (IMAP in
//! `imapvm-proto`, AMI in `imapvm-ami`, AGI in `imapvm-agi`), so that one driver
//! (`imapvm_net::driver`) runs every one of them.
//!
//! The shape is quinn-proto's: inputs through `handle_*` with `now` passed in, outputs
//! through `#[must_use]` `poll_*`, no socket and no clock inside the core.
//!
//! **Drain order.** After every input (`handle_input`, `handle_eof`, `handle_timeout`, or
//! a command given to the core), a driver:
//! 1. writes every [`Core::poll_transmit`] until `None`, completely and in order;
//! 2. takes every [`Core::poll_event`] until `None`;
//! 3. arms its timer at [`Core::poll_timeout`] and calls [`Core::handle_timeout`] when it
//!    fires.
//!
//! **Time.** `now` is a monotonic [`Instant`] that never goes backwards between calls;
//! a core never reads a clock itself. Tests pass simulated instants.
//!
//! **Reading and writing.** A driver reads while it writes (a peer that answers a large
//! command before reading all of it must not deadlock the connection).
//!
//! **Configuration.** A core validates its configuration when it is built and rejects a bad
//! value with a [`ConfigError`] instead of repairing it.

use std::borrow::Cow;
use std::time::{Duration, Instant};

/// Bytes a core wants written.
pub trait Transmit {
    /// The bytes to write, completely and in order.
    fn as_bytes(&self) -> &[u8];

    /// A log-safe rendering: credentials and PINs are replaced by `***` [INV-6].
    fn trace(&self) -> Cow<'_, str>;
}

/// A sans-IO protocol core: bytes and time in; bytes, events and deadlines out.
pub trait Core {
    /// What [`Core::poll_transmit`] hands out.
    type Transmit: Transmit;
    /// What [`Core::poll_event`] hands out. Drivers match it exhaustively.
    type Event;

    /// Bytes read from the peer.
    fn handle_input(&mut self, bytes: &[u8], now: Instant);

    /// The peer closed its side (end of file).
    fn handle_eof(&mut self);

    /// The deadline from [`Core::poll_timeout`] has passed.
    fn handle_timeout(&mut self, now: Instant);

    /// The next bytes to write, if any.
    #[must_use]
    fn poll_transmit(&mut self, now: Instant) -> Option<Self::Transmit>;

    /// The next event, if any.
    #[must_use]
    fn poll_event(&mut self) -> Option<Self::Event>;

    /// When [`Core::handle_timeout`] must next be called, if at all.
    #[must_use]
    fn poll_timeout(&self) -> Option<Instant>;
}

/// A core's configuration was rejected: the core is not built with a value it would have
/// to repair or could not honour (quinn-proto's `ConfigError::OutOfBounds`). Every core
/// validates its whole configuration when it is constructed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// `field` is `value`, which is outside `allowed`.
    OutOfBounds {
        /// The setting as the configuration type names it, e.g. `idle_refresh` or
        /// `limits.max_line`.
        field: &'static str,
        /// The value given, rendered for the message (`2700s`, `0`, `"a-1"`).
        value: String,
        /// What the core accepts, e.g. `more than 0 and at most 29 minutes`.
        allowed: &'static str,
    },
}

impl ConfigError {
    /// [`ConfigError::OutOfBounds`] for `field`, with `value` rendered by `Display` (render
    /// a secret as `***`, never itself).
    pub fn out_of_bounds(
        field: &'static str,
        value: impl std::fmt::Display,
        allowed: &'static str,
    ) -> Self {
        Self::OutOfBounds {
            field,
            value: value.to_string(),
            allowed,
        }
    }
}

/// The checks every option struct of imapvm makes, so that each names its field the same way.
impl ConfigError {
    /// `Ok` when `value` (a timeout, an interval) is more than zero.
    pub fn require_nonzero(field: &'static str, value: Duration) -> Result<(), ConfigError> {
        if value.is_zero() {
            return Err(ConfigError::out_of_bounds(
                field,
                format!("{}s", value.as_secs_f64()),
                "more than 0",
            ));
        }
        Ok(())
    }

    /// `Ok` when `value` (a queue length, a concurrency) is at least 1.
    pub fn require_positive(field: &'static str, value: usize) -> Result<(), ConfigError> {
        if value == 0 {
            return Err(ConfigError::out_of_bounds(field, 0, "at least 1"));
        }
        Ok(())
    }

    /// `Ok` for a doubling back-off: `backoff_first` more than zero and `backoff_max` at
    /// least `backoff_first`.
    pub fn require_backoff(first: Duration, max: Duration) -> Result<(), ConfigError> {
        ConfigError::require_nonzero("backoff_first", first)?;
        if max < first {
            return Err(ConfigError::out_of_bounds(
                "backoff_max",
                format!("{}s", max.as_secs_f64()),
                "at least backoff_first",
            ));
        }
        Ok(())
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::OutOfBounds {
                field,
                value,
                allowed,
            } => write!(f, "{field} = {value} is out of bounds: {allowed}"),
        }
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::ConfigError;

    #[test]
    fn the_shared_checks_name_the_field() {
        use std::time::Duration;
        assert!(ConfigError::require_nonzero("t", Duration::from_millis(1)).is_ok());
        assert_eq!(
            ConfigError::require_nonzero("t", Duration::ZERO)
                .unwrap_err()
                .to_string(),
            "t = 0s is out of bounds: more than 0"
        );
        assert!(ConfigError::require_positive("q", 1).is_ok());
        assert!(ConfigError::require_positive("q", 0).is_err());
        let (a, b) = (Duration::from_secs(1), Duration::from_secs(2));
        assert!(ConfigError::require_backoff(a, b).is_ok());
        assert!(matches!(
            ConfigError::require_backoff(b, a),
            Err(ConfigError::OutOfBounds {
                field: "backoff_max",
                ..
            })
        ));
        assert!(matches!(
            ConfigError::require_backoff(Duration::ZERO, a),
            Err(ConfigError::OutOfBounds {
                field: "backoff_first",
                ..
            })
        ));
    }

    #[test]
    fn a_config_error_names_the_field_the_value_and_what_is_allowed() {
        let e = ConfigError::out_of_bounds("transmit_chunk", 0, "more than 0");
        assert_eq!(
            e.to_string(),
            "transmit_chunk = 0 is out of bounds: more than 0"
        );
    }
}
