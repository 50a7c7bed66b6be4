//! How to learn about mailbox changes: NOTIFY, IDLE, or polling every `pollfreq`.
//!
//! Reference: `docs/reference/asterisk-imap-behaviour.md` §4.11 (Asterisk only
//! polls, and only with `pollmailboxes=yes`); `docs/compatibility.md` (NOTIFY
//! works on Dovecot only, IDLE everywhere); RFC 2177 (a server may drop an
//! IDLE after 30 minutes).

use std::time::Duration;

use imapvm_types::{Capabilities, Capability, Uid, UidValidity};

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
    pub fn fallback(self, caps: &Capabilities, config: WatchConfig) -> Option<WatchStrategy> {
        match self {
            WatchStrategy::Notify { .. } => {
                Some(choose(&caps.clone().without(Capability::Notify), config))
            }
            WatchStrategy::Idle { .. } => Some(choose(
                &caps
                    .clone()
                    .without(Capability::Notify)
                    .without(Capability::Idle),
                config,
            )),
            WatchStrategy::Poll { .. } | WatchStrategy::OnDemand => None,
        }
    }
}

/// Chooses the watch strategy: NOTIFY when offered and allowed, else IDLE,
/// else polling every `pollfreq` when `pollmailboxes=yes`, else on demand.
/// Push costs nothing when idle, so it is used whatever `pollmailboxes` says.
pub fn choose(caps: &Capabilities, config: WatchConfig) -> WatchStrategy {
    if config.allow_notify && caps.contains(Capability::Notify) && caps.contains(Capability::Idle) {
        WatchStrategy::Notify {
            idle_refresh: IDLE_REFRESH,
        }
    } else if caps.contains(Capability::Idle) {
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

/// A watched folder's state as one SELECT reported it: what a later resync compares with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FolderMark {
    /// `[UIDVALIDITY]`.
    pub uid_validity: UidValidity,
    /// `[HIGHESTMODSEQ]` (CONDSTORE).
    pub highest_modseq: u64,
    /// `[UIDNEXT]`.
    pub uid_next: Uid,
    /// `* n EXISTS`.
    pub exists: u32,
}

/// What a resync after a reconnect does with one folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResyncPlan {
    /// Nothing changed since the mark: no count at all.
    Nothing,
    /// Something changed: ask for the changes since this mod-sequence
    /// (`UID FETCH 1:* ... (CHANGEDSINCE n [VANISHED])`) and recount only the boxes they
    /// belong to (see [`expunges_unattributed`]).
    ChangesSince(u64),
    /// Recount every box of the folder: no usable mark (first connect, a box failed to count
    /// last time), no CONDSTORE now, or UIDVALIDITY changed (every UID means something else).
    All,
}

/// Plans the resync of one folder from the mark left by its last complete count (`before`,
/// taken at the SELECT preceding that count) and the SELECT just made (`now`; `None` when
/// the server gave no `HIGHESTMODSEQ` or `UIDNEXT`).
pub fn resync_plan(before: Option<FolderMark>, now: Option<FolderMark>) -> ResyncPlan {
    match (before, now) {
        (Some(b), Some(n)) if b.uid_validity == n.uid_validity => {
            if b.highest_modseq == n.highest_modseq {
                ResyncPlan::Nothing
            } else {
                ResyncPlan::ChangesSince(b.highest_modseq)
            }
        }
        _ => ResyncPlan::All,
    }
}

/// After a [`ResyncPlan::ChangesSince`] fetch: whether messages were expunged that the
/// answer does not name, so that every box of the folder must be recounted. Without QRESYNC
/// the fetch names no expunged message; an expunge then shows in the arithmetic: every
/// message added since `before` has a UID at or above `before.uid_next` and a mod-sequence
/// above `before.highest_modseq`, so the answer holds all of them still there (`added`), and
/// `before.exists + added - now.exists` messages of the old ones are gone. With QRESYNC the
/// answer's `VANISHED (EARLIER)` names them, so nothing is unattributed.
pub fn expunges_unattributed(
    before: FolderMark,
    now: FolderMark,
    added: u64,
    qresync: bool,
) -> bool {
    !qresync && u64::from(before.exists) + added != u64::from(now.exists)
}
