//! [`Publisher`]: MWI for a process that changes mailboxes itself but watches no server
//! (`imapvm agi`): every change the runtime announces on its change feed
//! ([`imapvm::Store::changes`]) is recounted at once on the store's own connection and
//! published when the counts changed, with the same events and outputs as the [`Watcher`]
//! (externnotify here; AMI and webhooks by whoever reads [`Publisher::next`]).
//!
//! It holds no connection of its own and sees no change made by a mail client: run
//! `imapvm watch` for that. A phone that deposits lights its lamp within one round trip.
//!
//! A recount that fails (the server is unreachable) publishes nothing [INV-5], sends one
//! error event per box and outage, and is tried again with the watcher's back-off ([`WatchOptions::backoff_first`] doubling up to
//! [`WatchOptions::backoff_max`]), together with every other box of that account that
//! failed, until it works: the lamp catches up once the server is back, without waiting
//! for the next call. Each account the publisher recounted is in
//! [`WatchOptions::metrics`]: `connected` while its recounts work, `down` while they are
//! retried, and past its retry budget for `/healthz` as a watched account would be.
//!
//! [`Watcher`]: crate::Watcher

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use imapvm::{AccountKey, MwiCounts, Store};
use imapvm_policy::mwi::{MwiTracker, Recount, externnotify_args};
use imapvm_policy::{Backoff, MailboxId};
use tokio::sync::mpsc;

use crate::externnotify::Runner;
use crate::metrics::{AccountTracker, Metrics};
use crate::watch::{
    MwiEvent, StartError, WatchError, WatchEvent, WatchOptions, backoff, externnotify_runner,
};

/// How long announcements are gathered before recounting, so that the several operations
/// of one call (a deposit and its recount, deletes at the end) cost one count per box.
const GATHER: Duration = Duration::from_millis(20);

/// A running publisher. Dropping it stops its task.
#[derive(Debug)]
pub struct Publisher {
    events: mpsc::Receiver<WatchEvent>,
    task: tokio::task::JoinHandle<()>,
}

impl Publisher {
    /// Starts publishing the changes of `store`'s boxes (`options.mailboxes`, or every box;
    /// `options.externnotify` or voicemail.conf's), retrying failed recounts with
    /// `options`' back-off and counting into `options.metrics`. Needs a tokio runtime.
    pub fn start(store: &Store, options: &WatchOptions) -> Result<Publisher, StartError> {
        options.check()?;
        let retry = backoff(options.backoff_first, options.backoff_max)?;
        let only: Option<HashSet<MailboxId>> = match &options.mailboxes {
            Some(list) => Some(
                list.iter()
                    .map(|id| store.mailbox_of(id).map(|m| m.mailbox_id().clone()))
                    .collect::<imapvm::Result<_>>()?,
            ),
            None => None,
        };
        let (tx, events) = mpsc::channel(options.queue);
        let runner = externnotify_runner(store, options, &tx)?;
        let feed = store.changes();
        let task = tokio::spawn(
            Publishing {
                store: store.clone(),
                only,
                runner,
                events: tx,
                metrics: options.metrics.clone(),
                retry,
                trackers: HashMap::new(),
                accounts: HashMap::new(),
                failing: HashMap::new(),
            }
            .run(feed),
        );
        Ok(Publisher { events, task })
    }

    /// The next event (count changes, recount errors, externnotify runs).
    pub async fn next(&mut self) -> Option<WatchEvent> {
        self.events.recv().await
    }

    /// An event if one is ready.
    pub fn try_next(&mut self) -> Option<WatchEvent> {
        self.events.try_recv().ok()
    }

    /// Stops publishing.
    pub fn stop(self) {
        self.task.abort();
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An account whose recounts fail: its boxes to recount again, and when.
struct Failing {
    backoff: Backoff,
    boxes: HashSet<MailboxId>,
    next: Instant,
}

/// The publisher's task.
struct Publishing {
    store: Store,
    only: Option<HashSet<MailboxId>>,
    runner: Option<std::sync::Arc<Runner>>,
    events: mpsc::Sender<WatchEvent>,
    metrics: Metrics,
    /// The schedule every failing account starts from.
    retry: Backoff,
    trackers: HashMap<MailboxId, MwiTracker>,
    /// The metrics' entries of the accounts recounted so far.
    accounts: HashMap<AccountKey, AccountTracker>,
    failing: HashMap<AccountKey, Failing>,
}

impl Publishing {
    async fn run(mut self, mut feed: imapvm::ChangeFeed) {
        loop {
            let clock = self.store.clock().clone();
            let retry_at = self.failing.values().map(|f| f.next).min();
            let retry = async {
                match retry_at {
                    Some(at) => tokio::time::sleep(at.saturating_duration_since(clock.now())).await,
                    None => std::future::pending().await,
                }
            };
            let first = tokio::select! {
                c = feed.recv() => match c {
                    Some(c) => Some(c),
                    None => return,
                },
                () = retry => None,
            };
            let seen = clock.now();
            let mut touched: HashSet<MailboxId> = HashSet::new();
            if let Some(first) = first {
                touched.insert(first.mailbox);
                let gather = tokio::time::sleep(GATHER);
                tokio::pin!(gather);
                loop {
                    tokio::select! {
                        () = &mut gather => break,
                        next = feed.recv() => match next {
                            Some(c) => { touched.insert(c.mailbox); }
                            None => break,
                        },
                    }
                }
            }
            if !self.recount(touched, seen).await {
                return;
            }
        }
    }

    /// Recounts `touched`, the failing boxes of the accounts they belong to and those of the
    /// accounts whose retry is due; publishes what changed. False once nobody listens.
    async fn recount(&mut self, mut touched: HashSet<MailboxId>, seen: Instant) -> bool {
        let now = self.store.clock().now();
        let mut by_account: HashMap<AccountKey, Vec<imapvm::Mailbox>> = HashMap::new();
        for id in std::mem::take(&mut touched) {
            if self.only.as_ref().is_some_and(|o| !o.contains(&id)) {
                continue;
            }
            let Ok(mailbox) = self.store.mailbox_of(&id) else {
                continue;
            };
            by_account
                .entry(mailbox.account().key())
                .or_default()
                .push(mailbox);
        }
        for (key, f) in &self.failing {
            if f.next <= now || by_account.contains_key(key) {
                for id in &f.boxes {
                    if let Ok(mailbox) = self.store.mailbox_of(id) {
                        let boxes = by_account.entry(key.clone()).or_default();
                        if !boxes.iter().any(|m| m.mailbox_id() == id) {
                            boxes.push(mailbox);
                        }
                    }
                }
            }
        }
        for (key, boxes) in by_account {
            // One error event per box and outage; the retries of an outage stay silent.
            let retrying = self.failing.get(&key).map(|f| f.boxes.clone());
            let mut failed: Vec<MailboxId> = Vec::new();
            let mut last_error = None;
            // Published once the account's health says what these counts show (a listener
            // that hears a count sees the account connected).
            let mut counted: Vec<(MailboxId, MwiCounts)> = Vec::new();
            for mailbox in boxes {
                let id = mailbox.mailbox_id().clone();
                let recount = match mailbox.count().await {
                    Ok(c) => Recount::Counted(c),
                    Err(e) => {
                        failed.push(id.clone());
                        // An error event, never a count: the last published state stays [INV-5].
                        let event = WatchEvent::Error(WatchError {
                            account: key.clone(),
                            error: e.clone(),
                            at: self.store.clock().wall(),
                        });
                        last_error = Some(e);
                        let reported = retrying.as_ref().is_some_and(|r| r.contains(&id));
                        if !reported && self.events.send(event).await.is_err() {
                            return false;
                        }
                        Recount::Failed
                    }
                };
                let decision = self
                    .trackers
                    .entry(id.clone())
                    .or_default()
                    .observe(recount);
                if let imapvm_policy::mwi::MwiDecision::Publish(counts) = decision {
                    counted.push((id, counts));
                }
            }
            let tracker = self
                .accounts
                .entry(key.clone())
                .or_insert_with(|| self.metrics.account(&key));
            match last_error {
                None => {
                    if self.failing.remove(&key).is_some() {
                        tracing::info!(account = %key, "MWI recounts work again");
                    }
                    tracker.connected();
                }
                Some(e) => {
                    let retry = self.retry;
                    let f = self.failing.entry(key.clone()).or_insert_with(|| Failing {
                        backoff: retry,
                        boxes: HashSet::new(),
                        next: now,
                    });
                    f.boxes.retain(|id| failed.contains(id));
                    f.boxes.extend(failed);
                    let delay = f.backoff.failed();
                    f.next = now + delay;
                    tracker.down(&f.backoff, &e, self.store.clock().wall());
                    tracing::debug!(account = %key, error = %e, ?delay, "MWI recount failed; retrying");
                }
            }
            for (id, counts) in counted {
                if !self.publish(&id, counts, seen).await {
                    return false;
                }
            }
        }
        true
    }

    /// Publishes `counts` of `id` (a change seen at `seen`). False once nobody listens.
    async fn publish(&self, id: &MailboxId, counts: MwiCounts, seen: Instant) -> bool {
        let event = MwiEvent {
            mailbox: id.mailbox().to_owned(),
            context: id.context().to_owned(),
            counts,
            at: self.store.clock().wall(),
            seen: Some(seen),
        };
        if let Some(runner) = &self.runner {
            runner.notify(
                &id.to_string(),
                externnotify_args(id, counts).to_vec(),
                event.seen,
            );
        }
        self.events.send(WatchEvent::Mwi(event)).await.is_ok()
    }
}
