//! Connection settings: limits on everything the server controls, and the timers.
//!
//! [`Config::validate`] (called by [`crate::Connection::new`]) rejects a value the core would
//! otherwise have to repair or could not honour, naming the field: nothing is silently
//! changed.

pub use imapvm_types::sansio::ConfigError;
use std::time::Duration;

/// Upper bounds on what the server can make the core hold in memory [INV-7].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest line (without the literals it announces). Default 1 MiB (a `* SEARCH` with
    /// 100,000 UIDs is ~700 KB).
    pub max_line: u32,
    /// Largest literal the server may announce. Default 64 MiB.
    pub max_literal: u32,
    /// Largest whole response (lines + literals). Default 80 MiB.
    pub max_response: u32,
    /// Most items collected for one command: untagged responses, and for `SEARCH`/`ESEARCH`
    /// results and `VANISHED` answers every UID they name, summed over all of the command's
    /// responses. Beyond it the command fails with [`crate::LimitKind::UntaggedPerCommand`]
    /// (the connection stays usable) and further items are dropped. Default 200,000.
    pub max_untagged_per_command: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_line: 1024 * 1024,
            max_literal: 64 * 1024 * 1024,
            max_response: 80 * 1024 * 1024,
            max_untagged_per_command: 200_000,
        }
    }
}

/// Settings for one [`crate::Connection`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Size bounds.
    pub limits: Limits,
    /// How long a command may wait for the server (reset whenever one of its bytes goes out).
    /// Default 60 s.
    pub command_timeout: Duration,
    /// How long to wait for the greeting. Default 30 s.
    pub greeting_timeout: Duration,
    /// IDLE is ended and re-issued after this long: more than 0 and at most 29 minutes
    /// (RFC 2177). Default 28 min.
    pub idle_refresh: Duration,
    /// IDLE liveness: while an IDLE runs (the server's `+` received, `DONE` not yet sent), if
    /// not one byte has come from the server for this long, the IDLE is ended (`DONE`) and
    /// re-issued after the tagged OK, exactly like the `idle_refresh` renewal. A live server
    /// answers and the IDLE resumes unnoticed (no second [`crate::Event::IdleStarted`]); a
    /// dead peer leaves `DONE` unanswered and the IDLE fails with [`crate::Error::Timeout`]
    /// after `command_timeout`, so it is noticed within `idle_silence + command_timeout`
    /// instead of at the next refresh. Any input resets the timer (Dovecot's `* OK Still here`
    /// every 2 minutes, EXISTS, ...), so against a server that sends keepalives more often
    /// than this nothing extra is ever sent. Can be changed later with
    /// [`crate::Connection::set_idle_silence`]. `None` (and zero) turns it off. Default `None`.
    pub idle_silence: Option<Duration>,
    /// Send a NOOP after this much silence while authenticated and idle-handed; more than 0.
    /// Default `None`.
    pub keepalive: Option<Duration>,
    /// Largest piece handed out by `poll_transmit` for a streamed literal; more than 0.
    /// Default 64 KiB.
    pub transmit_chunk: usize,
    /// Use LITERAL+ / LITERAL- (RFC 7888) for APPEND when the server offers it. Default true.
    pub use_non_sync_literals: bool,
    /// Send the AUTHENTICATE initial response inline (RFC 4959) when `SASL-IR` is advertised.
    /// Default true.
    pub use_sasl_ir: bool,
    /// Tag prefix; tags are `<prefix><n>`. One or more ASCII letters and digits. Default `"a"`.
    pub tag_prefix: String,
    /// Send `UID SEARCH RETURN (ALL) ...` and read the tag-correlated `* ESEARCH` answer
    /// (RFC 4731) when the server advertises `ESEARCH`. Pipelined searches are then matched to
    /// their commands by tag, which stays right even when the server answers them out of order.
    /// Without it, the n-th `* SEARCH` goes to the n-th SEARCH in flight. Default true.
    pub use_esearch: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            command_timeout: Duration::from_secs(60),
            greeting_timeout: Duration::from_secs(30),
            idle_refresh: Duration::from_secs(28 * 60),
            idle_silence: None,
            keepalive: None,
            transmit_chunk: 64 * 1024,
            use_non_sync_literals: true,
            use_sasl_ir: true,
            tag_prefix: "a".to_owned(),
            use_esearch: true,
        }
    }
}

/// IDLE must be renewed before the server's 30-minute inactivity timer (RFC 2177 says 29).
const MAX_IDLE_REFRESH: Duration = Duration::from_secs(29 * 60);

impl Limits {
    /// Every limit must be more than 0.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (field, value) in [
            ("limits.max_line", self.max_line),
            ("limits.max_literal", self.max_literal),
            ("limits.max_response", self.max_response),
            (
                "limits.max_untagged_per_command",
                self.max_untagged_per_command,
            ),
        ] {
            if value == 0 {
                return Err(ConfigError::out_of_bounds(field, value, "more than 0"));
            }
        }
        Ok(())
    }
}

impl Config {
    /// Checks every setting; [`crate::Connection::new`] calls it. The first value out of
    /// bounds is the error. A zero [`idle_silence`](Self::idle_silence) is valid (it means
    /// off, as `None` does).
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.limits.validate()?;
        for (field, value) in [
            ("command_timeout", self.command_timeout),
            ("greeting_timeout", self.greeting_timeout),
        ] {
            if value.is_zero() {
                return Err(ConfigError::out_of_bounds(
                    field,
                    format!("{value:?}"),
                    "more than 0",
                ));
            }
        }
        if self.idle_refresh.is_zero() || self.idle_refresh > MAX_IDLE_REFRESH {
            return Err(ConfigError::out_of_bounds(
                "idle_refresh",
                format!("{:?}", self.idle_refresh),
                "more than 0 and at most 29 minutes (RFC 2177)",
            ));
        }
        if let Some(keepalive) = self.keepalive.filter(|k| k.is_zero()) {
            return Err(ConfigError::out_of_bounds(
                "keepalive",
                format!("{keepalive:?}"),
                "None, or more than 0",
            ));
        }
        if self.transmit_chunk == 0 {
            return Err(ConfigError::out_of_bounds(
                "transmit_chunk",
                0,
                "more than 0",
            ));
        }
        if self.tag_prefix.is_empty() || !self.tag_prefix.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(ConfigError::out_of_bounds(
                "tag_prefix",
                format!("{:?}", self.tag_prefix),
                "one or more ASCII letters and digits",
            ));
        }
        Ok(())
    }
}
