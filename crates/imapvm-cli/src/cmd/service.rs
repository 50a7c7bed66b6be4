//! systemd's notify protocol for the long-running subcommands (`watch`, `agi`), so that their
//! units can be `Type=notify` with a watchdog: `READY=1` once started, `WATCHDOG=1` every
//! half of `WATCHDOG_USEC`, `STATUS=` lines for `systemctl status`, `STOPPING=1` on the way
//! out. Without `NOTIFY_SOCKET` (not started by systemd as `Type=notify`) nothing is sent.
//!
//! `watch` is ready when every IMAP account it watches has been tried once: watched (every
//! box counted) or down (its error event printed). An account that is down at start is not a
//! start failure (it is retried with back-off, as before), so readiness does not wait for it.

use std::collections::BTreeSet;
use std::time::Duration;

use imapvm::AccountKey;
use sd_notify::NotifyState;

/// The service manager's side of a long-running subcommand.
pub(crate) struct Notifier {
    /// Half of `WATCHDOG_USEC`, when systemd asked for pings.
    watchdog: Option<Duration>,
    ready: bool,
    /// A failed send was logged already (logged once, not per ping).
    failed: bool,
}

impl Notifier {
    /// Reads `WATCHDOG_USEC` (and `WATCHDOG_PID`, which must be this process when set).
    pub(crate) fn from_env() -> Notifier {
        Notifier {
            watchdog: sd_notify::watchdog_enabled()
                .map(|d| d / 2)
                .filter(|d| !d.is_zero()),
            ready: false,
            failed: false,
        }
    }

    /// Sends `READY=1` with a status line (once; later calls only update the status).
    pub(crate) fn ready(&mut self, status: &str) {
        if self.ready {
            self.status(status);
        } else {
            self.ready = true;
            self.send(&[NotifyState::Ready, NotifyState::Status(status)]);
        }
    }

    /// Whether `READY=1` was sent.
    pub(crate) fn is_ready(&self) -> bool {
        self.ready
    }

    /// A `STATUS=` line.
    pub(crate) fn status(&mut self, status: &str) {
        self.send(&[NotifyState::Status(status)]);
    }

    /// `STOPPING=1`.
    pub(crate) fn stopping(&mut self) {
        self.send(&[NotifyState::Stopping]);
    }

    /// The pings' timer: every half of `WATCHDOG_USEC`; `None` when systemd wants none.
    pub(crate) fn watchdog_timer(&self) -> Option<tokio::time::Interval> {
        self.watchdog.map(|every| {
            let mut timer = tokio::time::interval(every);
            timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            timer
        })
    }

    /// `WATCHDOG=1`: the event loop is alive.
    pub(crate) fn ping(&mut self) {
        self.send(&[NotifyState::Watchdog]);
    }

    fn send(&mut self, states: &[NotifyState<'_>]) {
        if let Err(error) = sd_notify::notify(states) {
            if !self.failed {
                tracing::warn!(%error, "cannot notify the service manager (NOTIFY_SOCKET)");
            }
            self.failed = true;
        }
    }
}

/// The next tick of the watchdog timer; never, without one.
pub(crate) async fn watchdog_tick(timer: &mut Option<tokio::time::Interval>) {
    match timer {
        Some(t) => {
            t.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Which accounts of a watcher have been tried, and how they are now.
#[derive(Debug)]
pub(crate) struct Readiness {
    accounts: usize,
    boxes: usize,
    watching: BTreeSet<AccountKey>,
    down: BTreeSet<AccountKey>,
}

impl Readiness {
    /// A watcher over `accounts` IMAP accounts and `boxes` mailboxes.
    pub(crate) fn new(accounts: usize, boxes: usize) -> Readiness {
        Readiness {
            accounts,
            boxes,
            watching: BTreeSet::new(),
            down: BTreeSet::new(),
        }
    }

    /// An account is watched, every box counted.
    pub(crate) fn watching(&mut self, account: &AccountKey) {
        self.down.remove(account);
        self.watching.insert(account.clone());
    }

    /// An account is down (its error was printed).
    pub(crate) fn down(&mut self, account: &AccountKey) {
        self.watching.remove(account);
        self.down.insert(account.clone());
    }

    /// Every account was tried at least once.
    pub(crate) fn is_complete(&self) -> bool {
        self.watching.len() + self.down.len() >= self.accounts
    }

    /// The `STATUS=` line.
    pub(crate) fn status(&self) -> String {
        let mut text = format!(
            "watching {} of {} IMAP account(s), {} mailbox(es)",
            self.watching.len(),
            self.accounts,
            self.boxes
        );
        if !self.down.is_empty() {
            text.push_str(&format!("; {} down, retrying", self.down.len()));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(user: &str) -> AccountKey {
        AccountKey {
            user: user.to_owned(),
            server: "imap.example".to_owned(),
            port: 143,
        }
    }

    #[test]
    fn ready_when_every_account_was_tried_watched_or_down() {
        let mut r = Readiness::new(2, 3);
        assert!(!r.is_complete());
        r.watching(&key("a"));
        assert!(!r.is_complete());
        r.down(&key("b"));
        assert!(r.is_complete());
        assert_eq!(
            r.status(),
            "watching 1 of 2 IMAP account(s), 3 mailbox(es); 1 down, retrying"
        );
        r.watching(&key("b"));
        assert_eq!(r.status(), "watching 2 of 2 IMAP account(s), 3 mailbox(es)");
        assert!(Readiness::new(0, 0).is_complete(), "nothing to wait for");
    }
}
