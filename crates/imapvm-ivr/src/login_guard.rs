//! [`LoginGuard`]: the lockout after repeated wrong passwords, across calls.
//!
//! Asterisk has none: a caller may try `maxlogins` passwords per call, and call again at
//! once. imapvm counts the failures of each mailbox over all calls: after
//! [`LockoutPolicy::failures`] wrong passwords within [`LockoutPolicy::window`], the box
//! refuses every login for [`LockoutPolicy::lock_for`], the right password included
//! ([`crate::AuthReply::Locked`]; the caller hears `im-sorry` `please-try-call-later`
//! `vm-goodbye`). A granted login clears the count.
//!
//! The state outlives a call, so it is not the call's: the binding owns one guard for
//! all calls and consults it when it answers [`crate::StoreOp::Authenticate`]. It is
//! pure: time is passed in, nothing is read or written elsewhere.

use imapvm_types::MailboxId;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// When a mailbox locks, and for how long.
///
/// The default, five wrong passwords within 15 minutes lock the box for 15 minutes,
/// lets an owner who mistypes through two calls (three tries each) in, and holds a
/// guesser to about 20 tries an hour per box. The price: anyone who knows a box number
/// can lock its owner out for a quarter of an hour at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Wrong passwords within `window` that lock the box (at least 1 is used).
    pub failures: u32,
    /// How far back failures count.
    pub window: Duration,
    /// How long a locked box refuses logins.
    pub lock_for: Duration,
    /// The most mailboxes tracked at once; beyond it the oldest unlocked record is
    /// dropped (a lock in force is dropped only when every tracked box is locked).
    pub max_tracked: usize,
}

impl Default for LockoutPolicy {
    fn default() -> LockoutPolicy {
        LockoutPolicy {
            failures: 5,
            window: Duration::from_secs(15 * 60),
            lock_for: Duration::from_secs(15 * 60),
            max_tracked: 10_000,
        }
    }
}

/// A mailbox refuses logins for now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locked {
    /// How long until it accepts logins again.
    pub retry_in: Duration,
}

#[derive(Debug, Clone)]
struct Record {
    /// Recent failures, oldest first (at most `failures`).
    failures: VecDeque<Instant>,
    /// The lock in force, if any.
    locked_until: Option<Instant>,
}

impl Record {
    /// The newest event the record holds.
    fn latest(&self) -> Option<Instant> {
        self.locked_until.or(self.failures.back().copied())
    }
}

/// Failed logins per mailbox, with the lock they cause. See the module documentation.
///
/// ```
/// use imapvm_ivr::{LockoutPolicy, LoginGuard, MailboxId};
/// use std::time::{Duration, Instant};
///
/// let policy = LockoutPolicy { failures: 2, ..LockoutPolicy::default() };
/// let mut guard = LoginGuard::new(policy);
/// let box1234: MailboxId = "1234@default".parse()?;
/// let t0 = Instant::now();
/// assert!(guard.check(&box1234, t0).is_ok());
/// assert_eq!(guard.failed(&box1234, t0), None);
/// let locked = guard.failed(&box1234, t0 + Duration::from_secs(10)).expect("locked");
/// assert_eq!(locked.retry_in, policy.lock_for);
/// assert!(guard.check(&box1234, t0 + Duration::from_secs(20)).is_err());
/// assert!(guard.check(&box1234, t0 + Duration::from_secs(10) + policy.lock_for).is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct LoginGuard {
    policy: LockoutPolicy,
    boxes: HashMap<MailboxId, Record>,
}

impl LoginGuard {
    /// An empty guard.
    pub fn new(policy: LockoutPolicy) -> LoginGuard {
        LoginGuard {
            policy,
            boxes: HashMap::new(),
        }
    }

    /// The policy.
    pub fn policy(&self) -> &LockoutPolicy {
        &self.policy
    }

    /// Whether `mailbox` accepts a login at `now`. Ask before comparing the password: a
    /// locked box is refused whatever was typed.
    pub fn check(&mut self, mailbox: &MailboxId, now: Instant) -> Result<(), Locked> {
        let Some(record) = self.boxes.get_mut(mailbox) else {
            return Ok(());
        };
        match record.locked_until {
            Some(until) if until > now => Err(Locked {
                retry_in: until.saturating_duration_since(now),
            }),
            Some(_) => {
                self.boxes.remove(mailbox);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Counts a wrong password for `mailbox` at `now`; `Some` when it locks the box.
    pub fn failed(&mut self, mailbox: &MailboxId, now: Instant) -> Option<Locked> {
        if let Err(locked) = self.check(mailbox, now) {
            return Some(locked);
        }
        if !self.boxes.contains_key(mailbox) {
            self.make_room(now);
        }
        let policy = self.policy;
        let record = self.boxes.entry(mailbox.clone()).or_insert(Record {
            failures: VecDeque::new(),
            locked_until: None,
        });
        while record
            .failures
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= policy.window)
        {
            record.failures.pop_front();
        }
        record.failures.push_back(now);
        if record.failures.len() >= usize::try_from(policy.failures.max(1)).unwrap_or(usize::MAX) {
            record.failures.clear();
            record.locked_until = Some(now.checked_add(policy.lock_for).unwrap_or(now));
            return Some(Locked {
                retry_in: policy.lock_for,
            });
        }
        None
    }

    /// A granted login: the box's failures are forgotten.
    pub fn succeeded(&mut self, mailbox: &MailboxId) {
        self.boxes.remove(mailbox);
    }

    /// How many mailboxes have failures or a lock on record.
    pub fn tracked(&self) -> usize {
        self.boxes.len()
    }

    /// Keeps the record count under `max_tracked` before a new box is added: drops what
    /// no longer matters, then the oldest unlocked record, then the lock nearest its end.
    fn make_room(&mut self, now: Instant) {
        let window = self.policy.window;
        if self.boxes.len() < self.policy.max_tracked.max(1) {
            return;
        }
        self.boxes.retain(|_, r| match r.locked_until {
            Some(until) => until > now,
            None => r
                .failures
                .back()
                .is_some_and(|t| now.saturating_duration_since(*t) < window),
        });
        while self.boxes.len() >= self.policy.max_tracked.max(1) {
            let victim = self
                .boxes
                .iter()
                .min_by_key(|(_, r)| (r.locked_until.is_some(), r.latest()))
                .map(|(id, _)| id.clone());
            match victim {
                Some(id) => {
                    self.boxes.remove(&id);
                }
                None => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(text: &str) -> MailboxId {
        MailboxId::parse(text).unwrap()
    }

    #[test]
    fn failures_outside_the_window_do_not_count() {
        let policy = LockoutPolicy {
            failures: 3,
            window: Duration::from_secs(60),
            lock_for: Duration::from_secs(300),
            max_tracked: 10,
        };
        let mut guard = LoginGuard::new(policy);
        let b = id("1234");
        let t0 = Instant::now();
        assert_eq!(guard.failed(&b, t0), None);
        assert_eq!(guard.failed(&b, t0 + Duration::from_secs(30)), None);
        // The first failure is 60 s old: two in the window, not three.
        assert_eq!(guard.failed(&b, t0 + Duration::from_secs(60)), None);
        let locked = guard.failed(&b, t0 + Duration::from_secs(61)).unwrap();
        assert_eq!(locked.retry_in, Duration::from_secs(300));
        // Locked: the right password is refused too, with the time left.
        assert_eq!(
            guard.check(&b, t0 + Duration::from_secs(161)),
            Err(Locked {
                retry_in: Duration::from_secs(200)
            })
        );
        // A failure while locked does not extend the lock.
        assert_eq!(
            guard.failed(&b, t0 + Duration::from_secs(161)),
            Some(Locked {
                retry_in: Duration::from_secs(200)
            })
        );
        assert_eq!(guard.check(&b, t0 + Duration::from_secs(361)), Ok(()));
        assert_eq!(guard.tracked(), 0, "an expired lock is forgotten");
    }

    #[test]
    fn a_granted_login_clears_the_count_and_boxes_are_told_apart_without_case() {
        let policy = LockoutPolicy {
            failures: 2,
            ..LockoutPolicy::default()
        };
        let mut guard = LoginGuard::new(policy);
        let t0 = Instant::now();
        assert_eq!(guard.failed(&id("1234@Default"), t0), None);
        guard.succeeded(&id("1234@default"));
        assert_eq!(guard.failed(&id("1234@default"), t0), None);
        assert_eq!(guard.failed(&id("5678@default"), t0), None);
        assert!(guard.failed(&id("1234@DEFAULT"), t0).is_some());
        assert!(guard.check(&id("5678@default"), t0).is_ok());
    }

    #[test]
    fn the_record_count_is_bounded_and_locks_are_dropped_last() {
        let policy = LockoutPolicy {
            failures: 2,
            window: Duration::from_secs(60),
            lock_for: Duration::from_secs(600),
            max_tracked: 3,
        };
        let mut guard = LoginGuard::new(policy);
        let t0 = Instant::now();
        let locked = id("1");
        guard.failed(&locked, t0);
        assert!(guard.failed(&locked, t0).is_some());
        for (i, name) in ["2", "3", "4", "5", "6"].into_iter().enumerate() {
            let at = t0 + Duration::from_secs(1 + i as u64);
            assert_eq!(guard.failed(&id(name), at), None);
            assert!(guard.tracked() <= 3, "{} tracked", guard.tracked());
        }
        assert!(guard.check(&locked, t0 + Duration::from_secs(10)).is_err());
        // The newest unlocked boxes stayed; the oldest went.
        assert!(
            guard
                .failed(&id("6"), t0 + Duration::from_secs(11))
                .is_some()
        );
    }
}
