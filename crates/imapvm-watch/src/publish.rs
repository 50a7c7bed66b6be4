//! [`Publisher`]: MWI for a process that changes mailboxes itself but watches no server
//! (`imapvm agi`): every change the runtime announces on its change feed
//! ([`imapvm::Store::changes`]) is recounted at once on the store's own connection and
//! published when the counts changed, with the same events and outputs as the [`Watcher`]
//! (externnotify here; AMI and webhooks by whoever reads [`Publisher::next`]).
//!
//! It holds no connection of its own and sees no change made by a mail client: run
//! `imapvm watch` for that. A phone that deposits lights its lamp within one round trip.
//!
//! [`Watcher`]: crate::Watcher

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use imapvm::{MwiCounts, Store};
use imapvm_policy::MailboxId;
use imapvm_policy::mwi::{MwiTracker, Recount, externnotify_args};
use tokio::sync::mpsc;

use crate::externnotify::{ExternNotify, Runner};
use crate::watch::{MwiEvent, StartError, WatchError, WatchEvent, WatchOptions};

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
    /// `options.externnotify` or voicemail.conf's). Needs a tokio runtime.
    pub fn start(store: &Store, options: &WatchOptions) -> Result<Publisher, StartError> {
        let only: Option<HashSet<MailboxId>> = match &options.mailboxes {
            Some(list) => Some(
                list.iter()
                    .map(|id| store.mailbox_of(id).map(|m| m.mailbox_id().clone()))
                    .collect::<imapvm::Result<_>>()?,
            ),
            None => None,
        };
        let externnotify = match (&options.externnotify, &store.config().general.externnotify) {
            (Some(e), _) => Some(e.clone()),
            (None, Some(cmd)) => Some(ExternNotify::parse(cmd, options.externnotify_timeout)?),
            (None, None) => None,
        };
        let (tx, events) = mpsc::channel(options.queue.max(1));
        let runner = externnotify.map(|cmd| {
            let tx = tx.clone();
            Runner::new(cmd, move |run| {
                let _ = tx.try_send(WatchEvent::ExternNotify(run));
            })
        });
        let feed = store.changes();
        let task = tokio::spawn(run(store.clone(), feed, only, runner, tx));
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

async fn run(
    store: Store,
    mut feed: imapvm::ChangeFeed,
    only: Option<HashSet<MailboxId>>,
    runner: Option<std::sync::Arc<Runner>>,
    events: mpsc::Sender<WatchEvent>,
) {
    let mut trackers: HashMap<MailboxId, MwiTracker> = HashMap::new();
    while let Some(first) = feed.recv().await {
        let mut touched = HashSet::from([first.mailbox]);
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
        for id in touched {
            if only.as_ref().is_some_and(|o| !o.contains(&id)) {
                continue;
            }
            let Ok(mailbox) = store.mailbox(&id.to_string()) else {
                continue;
            };
            let tracker = trackers.entry(id.clone()).or_default();
            let recount = match mailbox.count().await {
                Ok(c) => Recount::Counted(c),
                Err(e) => {
                    // An error event, never a count: the last published state stays [INV-5].
                    let event = WatchEvent::Error(WatchError {
                        account: mailbox.account().key(),
                        error: e,
                        at: store.clock().wall(),
                    });
                    if events.send(event).await.is_err() {
                        return;
                    }
                    Recount::Failed
                }
            };
            if let imapvm_policy::mwi::MwiDecision::Publish(counts) = tracker.observe(recount) {
                publish(&store, &events, runner.as_ref(), &id, counts).await;
            }
        }
    }
}

async fn publish(
    store: &Store,
    events: &mpsc::Sender<WatchEvent>,
    runner: Option<&std::sync::Arc<Runner>>,
    id: &MailboxId,
    counts: MwiCounts,
) {
    if let Some(runner) = runner {
        runner.notify(&id.to_string(), externnotify_args(id, counts).to_vec());
    }
    let _ = events
        .send(WatchEvent::Mwi(MwiEvent {
            mailbox: id.mailbox().to_owned(),
            context: id.context().to_owned(),
            counts,
            at: store.clock().wall(),
        }))
        .await;
}
