//! The change feed: every operation of a [`Store`](crate::Store) announces the mailbox it
//! touched, and services above the runtime subscribe (the MWI watcher of `imapvm-watch`
//! recounts that box at once instead of waiting for the server's echo).
//!
//! The runtime only emits: it never knows who listens. An announcement is sent to every
//! live subscriber of that account; a subscriber that went away is dropped on the next one.

use std::sync::Mutex;

use imapvm_policy::MailboxId;
use tokio::sync::mpsc;

use crate::account::AccountKey;

/// An operation through the store touched `mailbox` (of `account`): its counts may have
/// changed. Sent after every operation run through
/// [`Mailbox::with_account`](crate::Mailbox::with_account), whether it succeeded or not (a
/// failed one may still have changed something on the server), and after a
/// multi-recipient delivery for each copy it stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    /// The IMAP account the mailbox lives on.
    pub account: AccountKey,
    /// `box@context`.
    pub mailbox: MailboxId,
}

/// A subscription to the store's changes ([`Store::changes`](crate::Store::changes),
/// [`Store::changes_of`](crate::Store::changes_of)). Unbounded: announcements are small and
/// a subscriber reads them as it goes; dropping it unsubscribes.
#[derive(Debug)]
pub struct ChangeFeed {
    rx: mpsc::UnboundedReceiver<Changed>,
}

impl ChangeFeed {
    /// The next change; `None` once the store is gone.
    pub async fn recv(&mut self) -> Option<Changed> {
        self.rx.recv().await
    }

    /// A change if one is waiting.
    pub fn try_recv(&mut self) -> Option<Changed> {
        self.rx.try_recv().ok()
    }
}

/// The subscribers of one store: `None` hears every account.
type Subscribers = Vec<(Option<AccountKey>, mpsc::UnboundedSender<Changed>)>;

/// The sending side, owned by the store.
#[derive(Debug, Default)]
pub(crate) struct Feed {
    subscribers: Mutex<Subscribers>,
}

impl Feed {
    fn lock(&self) -> std::sync::MutexGuard<'_, Subscribers> {
        match self.subscribers.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Announces that `mailbox` of `account` was touched.
    pub(crate) fn touched(&self, account: &AccountKey, mailbox: &MailboxId) {
        let mut subs = self.lock();
        if subs.is_empty() {
            return;
        }
        subs.retain(|(_, tx)| !tx.is_closed());
        for (only, tx) in subs.iter() {
            if only.as_ref().is_none_or(|k| k == account) {
                let _ = tx.send(Changed {
                    account: account.clone(),
                    mailbox: mailbox.clone(),
                });
            }
        }
    }

    /// A new subscription to `account` (every account when `None`).
    pub(crate) fn subscribe(&self, account: Option<AccountKey>) -> ChangeFeed {
        let (tx, rx) = mpsc::unbounded_channel();
        self.lock().push((account, tx));
        ChangeFeed { rx }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(user: &str) -> AccountKey {
        AccountKey {
            server: "imap.example".into(),
            port: 143,
            user: user.into(),
        }
    }

    #[test]
    fn a_change_reaches_the_subscribers_of_its_account_and_of_all() {
        let feed = Feed::default();
        let mut mine = feed.subscribe(Some(key("a")));
        let mut other = feed.subscribe(Some(key("b")));
        let mut all = feed.subscribe(None);
        let id = MailboxId::new("1234", "default").unwrap();
        feed.touched(&key("a"), &id);
        let expected = Changed {
            account: key("a"),
            mailbox: id,
        };
        assert_eq!(mine.try_recv(), Some(expected.clone()));
        assert_eq!(all.try_recv(), Some(expected));
        assert_eq!(other.try_recv(), None);
        assert_eq!(mine.try_recv(), None);
    }

    #[test]
    fn a_dropped_subscription_is_forgotten() {
        let feed = Feed::default();
        drop(feed.subscribe(None));
        let id = MailboxId::new("1", "default").unwrap();
        feed.touched(&key("a"), &id);
        assert!(feed.lock().is_empty());
    }
}
