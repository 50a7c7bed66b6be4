//! How to learn about mailbox changes: NOTIFY, IDLE, or polling every `pollfreq`.
//!
//! Reference: `asterisk-imap-behaviour.md` §4.11 (Asterisk only polls, and
//! only with `pollmailboxes=yes`), `ecosystem.md` (NOTIFY works on Dovecot
//! only, IDLE everywhere; servers drop IDLE after 30 minutes, RFC 2177).

use std::time::Duration;

use crate::capability::{Capabilities, Capability};

/// How long one IDLE may run before the client sends DONE and re-issues it:
/// under the 29 minutes RFC 2177 allows before the server may log out.
pub const IDLE_REFRESH: Duration = Duration::from_secs(28 * 60);

/// Shortest polling interval accepted (a `pollfreq=0` would busy-loop).
pub const MIN_POLL: Duration = Duration::from_secs(1);

/// Asterisk's default `pollfreq`.
pub const DEFAULT_POLLFREQ: Duration = Duration::from_secs(30);

/// What configuration says about watching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchConfig {
    /// `pollmailboxes`: follow changes made by mail clients. With `no` and
    /// no push capability, changes are only seen after our own operations.
    pub pollmailboxes: bool,
    /// `pollfreq` (default 30 s).
    pub pollfreq: Duration,
    /// Whether NOTIFY may be tried (an operator may turn it off).
    pub allow_notify: bool,
}

impl Default for WatchConfig {
    fn default() -> WatchConfig {
        WatchConfig {
            pollmailboxes: false,
            pollfreq: DEFAULT_POLLFREQ,
            allow_notify: true,
        }
    }
}

/// How the runtime watches one IMAP account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchStrategy {
    /// `NOTIFY SET STATUS (personal (MessageNew MessageExpunge FlagChange))`
    /// then IDLE: one connection sees every folder. IDLE is re-issued every
    /// `idle_refresh`.
    Notify {
        /// IDLE refresh interval.
        idle_refresh: Duration,
    },
    /// IDLE with `imapfolder` selected (MWI counts only that folder),
    /// re-issued every `idle_refresh`.
    Idle {
        /// IDLE refresh interval.
        idle_refresh: Duration,
    },
    /// Recount every `every` (Asterisk's only mode).
    Poll {
        /// The interval (`pollfreq`, at least [`MIN_POLL`]).
        every: Duration,
    },
    /// No watching: recount only after our own operations (Asterisk with
    /// `pollmailboxes=no`).
    OnDemand,
}

impl WatchStrategy {
    /// The strategy to use when this one fails at run time (e.g. `NOTIFY
    /// SET` answered `NO`, as Dovecot does without `mailbox_list_index`, or
    /// IDLE refused): NOTIFY → IDLE → polling (or on demand).
    pub fn fallback(self, caps: Capabilities, config: WatchConfig) -> Option<WatchStrategy> {
        match self {
            WatchStrategy::Notify { .. } => Some(choose(caps.without(Capability::Notify), config)),
            WatchStrategy::Idle { .. } => Some(choose(
                caps.without(Capability::Notify).without(Capability::Idle),
                config,
            )),
            WatchStrategy::Poll { .. } | WatchStrategy::OnDemand => None,
        }
    }
}

/// Chooses the watch strategy: NOTIFY when offered and allowed, else IDLE,
/// else polling every `pollfreq` when `pollmailboxes=yes`, else on demand.
/// Push costs nothing when idle, so it is used whatever `pollmailboxes` says.
pub fn choose(caps: Capabilities, config: WatchConfig) -> WatchStrategy {
    if config.allow_notify && caps.has(Capability::Notify) && caps.has(Capability::Idle) {
        WatchStrategy::Notify {
            idle_refresh: IDLE_REFRESH,
        }
    } else if caps.has(Capability::Idle) {
        WatchStrategy::Idle {
            idle_refresh: IDLE_REFRESH,
        }
    } else if config.pollmailboxes {
        WatchStrategy::Poll {
            every: config.pollfreq.max(MIN_POLL),
        }
    } else {
        WatchStrategy::OnDemand
    }
}
