//! The MWI watcher: follows every watched mailbox's counts and publishes each change once.
//!
//! One task and one connection per IMAP account (separate from the operations pool, since
//! IDLE occupies it), shared by every box on that account (`imapvmshareid` boxes
//! included). The strategy comes from `imapvm_policy::watch::choose`: NOTIFY (RFC 5465)
//! with IDLE where the server offers it, else IDLE on the voicemail folder, else a recount
//! every `pollfreq`; a NOTIFY or IDLE refused at run time falls back as
//! [`WatchStrategy::fallback`] says. Whenever the server reports a change (EXISTS, EXPUNGE,
//! VANISHED, FETCH in the selected folder, or a NOTIFY `* STATUS` of a watched folder), the
//! boxes of that folder are recounted with the runtime's exact count, every box of the
//! folder in one pipelined flight (one round trip for all the boxes of a shared account,
//! see [`Session::count_boxes`]), and `imapvm_policy::MwiTracker` decides whether to
//! publish. Operations made through the same [`Store`] (deposit, play, flags, move, delete)
//! wake the watcher at once, without waiting for the server's echo: it subscribes once to
//! the store's change feed ([`Store::changes`]) and hands each change to its account.
//!
//! Scale: an account waiting for its turn to connect ([`WatchOptions::connect_concurrency`])
//! holds only its own state (its boxes hold no copy of their settings: [`Mailbox`] computes
//! them only when asked, and counting never asks); the session and the futures of
//! connecting and resyncing are allocated while they run. A watched connection then costs
//! its session (the runtime's read buffer waits at 256 bytes) and a small idle future:
//! `docs/performance.md` has the figures at 10,000.
//!
//! Every time (event timestamps, poll timers, IDLE deadlines) comes from the store's clock
//! ([`Store::clock`]).
//!
//! A lost connection is re-opened with a doubling back-off; the first failure of an outage
//! emits one [`WatchError`]; the last published state is kept (nothing is published as 0).
//! After reconnecting, the resync costs what changed ([`Resync`]): with CONDSTORE (ENABLEd,
//! QRESYNC where offered) a folder whose `HIGHESTMODSEQ` did not move is not counted at all;
//! otherwise one `UID FETCH 1:* (FLAGS identity) (CHANGEDSINCE m [VANISHED])` names the
//! changed, added and (QRESYNC) expunged messages, and only the boxes they belong to are
//! recounted. Without CONDSTORE every box is recounted; either way only differences are
//! published.
//!
//! A dead server is noticed without waiting for the 28-minute IDLE refresh: TCP keepalive
//! on every connection (about 90 s for a vanished host), and [`WatchOptions::idle_silence`]
//! (after that much silence during IDLE, DONE must be answered within `imapreadtimeout`).
//!
//! Not done here: boxes of one account whose `imapfolder` differs from the first box's are,
//! under IDLE, only recounted after our own operations and every `pollfreq` (NOTIFY covers
//! them).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use imapvm_policy::mwi::externnotify_args;
use imapvm_policy::watch::{
    FolderMark, ResyncPlan, WatchConfig, choose, expunges_unattributed, resync_plan,
};
use imapvm_policy::{
    Backoff, MailboxId, MailboxName, MessageSummary, MwiCounts, MwiDecision, MwiTracker, Recount,
    SummaryError, WatchStrategy,
};
use tokio::sync::mpsc;

use imapvm::clock::SharedClock;
use imapvm::{
    Account, AccountKey, ChangeFeed, ConfigError, Error, Folders, IdentityHeaders, Mailbox, Result,
    ServerChanges as Changes, Session, Store,
};

use crate::externnotify::{ExternNotify, ExternNotifyError, ExternRun, Runner};
use crate::metrics::{AccountTracker, Metrics};
pub use crate::stamp::rfc3339;

/// A box's counts changed (or are known for the first time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MwiEvent {
    /// The box number (`1234`).
    pub mailbox: String,
    /// Its context (`default`).
    pub context: String,
    /// The new counts (`new` excludes urgent, as Asterisk reports it).
    pub counts: MwiCounts,
    /// When it was observed.
    pub at: SystemTime,
    /// When the change was first seen, on the store's monotonic clock: the server's
    /// notification, our own operation, or the resync after a reconnect. The outputs
    /// measure `imapvm_mwi_latency_seconds` from it; `None` (an event made by hand): not
    /// measured.
    pub seen: Option<Instant>,
}

impl MwiEvent {
    /// `box@context`.
    pub fn id(&self) -> String {
        format!("{}@{}", self.mailbox, self.context)
    }

    /// The RFC 3842 `application/simple-message-summary` body of these counts.
    pub fn message_summary(&self, account_uri: Option<&str>) -> Result<String, SummaryError> {
        Ok(MessageSummary::new(self.counts, account_uri)?.to_string())
    }

    /// Asterisk's `externnotify` arguments: `context mailbox new old urgent`.
    pub fn externnotify_args(&self) -> Vec<String> {
        vec![
            self.context.clone(),
            self.mailbox.clone(),
            self.counts.new.to_string(),
            self.counts.old.to_string(),
            self.counts.urgent.to_string(),
        ]
    }
}

/// An account could not be watched (server down, login refused, command failed). The last
/// known state of its boxes stays as it was.
#[derive(Debug, Clone)]
pub struct WatchError {
    /// `user@server:port`.
    pub account: AccountKey,
    /// What went wrong.
    pub error: Error,
    /// When.
    pub at: SystemTime,
}

/// Why a [`Watcher`] did not start: a configuration problem, never a connection problem
/// (those become [`WatchEvent::Error`]s and are retried).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// A box to watch cannot be used (not in voicemail.conf, not on IMAP...).
    #[error(transparent)]
    Mailbox(#[from] Error),
    /// An option of [`WatchOptions`] (or voicemail.conf's `pollfreq`) is out of bounds.
    #[error("watch: {0}")]
    Option(#[from] ConfigError),
    /// voicemail.conf's `externnotify` cannot be run.
    #[error("[general] externnotify: {0}")]
    ExternNotify(#[from] ExternNotifyError),
}

/// What the watcher reports.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum WatchEvent {
    /// A box's counts changed.
    Mwi(MwiEvent),
    /// An account is down or failing.
    Error(WatchError),
    /// An account is (again) watched, every box counted: changes from now on are seen.
    Watching {
        /// `user@server:port`.
        account: AccountKey,
        /// How.
        strategy: WatchStrategy,
        /// What re-synchronising the counts cost on this (re)connect.
        resync: Resync,
        /// When.
        at: SystemTime,
    },
    /// An `externnotify` run finished.
    ExternNotify(ExternRun),
}

/// What one (re)connect's resync did: per watched IMAP folder, nothing (its
/// `HIGHESTMODSEQ` had not moved), a recount of only the boxes whose messages changed (found
/// with `UID FETCH ... (CHANGEDSINCE ...)`), or a recount of every box in it (first connect,
/// no CONDSTORE, UIDVALIDITY changed, or an expunge that could not be attributed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Resync {
    /// Folders checked.
    pub folders: usize,
    /// Folders found unchanged (no count sent).
    pub unchanged: usize,
    /// Folders whose changes were fetched with CHANGEDSINCE.
    pub incremental: usize,
    /// Messages those fetches reported changed or vanished.
    pub changed_messages: usize,
    /// Boxes recounted.
    pub recounted: usize,
}

/// How to choose the strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum StrategyChoice {
    /// As policy chooses from the server's capabilities and voicemail.conf.
    #[default]
    Auto,
    /// Never NOTIFY (IDLE where offered, else as configured).
    NoNotify,
    /// Poll every interval, whatever the server offers (Asterisk's way; for comparisons).
    Poll(Duration),
}

/// What to watch and how. [`Watcher::start`] refuses a value out of bounds (naming it)
/// rather than repairing it.
#[derive(Clone)]
pub struct WatchOptions {
    /// The boxes; `None`: every box in voicemail.conf. A box named twice (in any case, as
    /// Asterisk compares them) is watched once.
    pub mailboxes: Option<Vec<MailboxId>>,
    /// The strategy.
    pub strategy: StrategyChoice,
    /// The `externnotify` program; `None`: voicemail.conf's, if any.
    pub externnotify: Option<ExternNotify>,
    /// Timeout of one `externnotify` run when it comes from voicemail.conf (more than 0).
    pub externnotify_timeout: Duration,
    /// First reconnect back-off (more than 0; doubled per failure up to `backoff_max`).
    pub backoff_first: Duration,
    /// Longest reconnect back-off (at least `backoff_first`).
    pub backoff_max: Duration,
    /// Events buffered for a slow reader before the account tasks wait (at least 1).
    pub queue: usize,
    /// While IDLE waits: after this long without a byte from the server, end IDLE and
    /// expect its tagged OK within `imapreadtimeout`, else the connection is taken as dead
    /// (error event, reconnect). Servers that send keepalives while idling (Dovecot's
    /// `* OK Still here` every 2 minutes) never see the probe. `None`: only the 28-minute
    /// IDLE refresh and TCP keepalive notice a dead server. When set, more than 0.
    pub idle_silence: Option<Duration>,
    /// At most this many accounts connect (TCP, TLS, login) at the same time, so that
    /// starting a watcher over thousands of accounts, or reconnecting them all after a
    /// server restart, does not flood the server's login processes (at least 1).
    pub connect_concurrency: usize,
    /// Where the watcher counts (boxes, connection states, reconnects, externnotify runs)
    /// and reports each account's health; by default a [`Metrics`] of its own that nobody
    /// reads.
    pub metrics: Metrics,
}

/// The default [`WatchOptions::connect_concurrency`].
pub const DEFAULT_CONNECT_CONCURRENCY: usize = 32;

/// The default [`WatchOptions::idle_silence`]: longer than Dovecot's 2-minute IDLE
/// keepalive, so a healthy Dovecot is never probed.
pub const DEFAULT_IDLE_SILENCE: Duration = Duration::from_secs(150);

impl std::fmt::Debug for WatchOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchOptions")
            .field("mailboxes", &self.mailboxes)
            .field("strategy", &self.strategy)
            .field("externnotify", &self.externnotify)
            .field("idle_silence", &self.idle_silence)
            .field("connect_concurrency", &self.connect_concurrency)
            .finish_non_exhaustive()
    }
}

impl WatchOptions {
    /// Whether every option is within its bounds (the error names the first that is not).
    /// Nothing is repaired: a zero queue, interval or concurrency is refused.
    pub fn check(&self) -> std::result::Result<(), ConfigError> {
        ConfigError::require_nonzero("externnotify_timeout", self.externnotify_timeout)?;
        ConfigError::require_backoff(self.backoff_first, self.backoff_max)?;
        ConfigError::require_positive("queue", self.queue)?;
        ConfigError::require_positive("connect_concurrency", self.connect_concurrency)?;
        if let Some(d) = self.idle_silence {
            ConfigError::require_nonzero("idle_silence", d)?;
        }
        if let StrategyChoice::Poll(every) = self.strategy
            && every < imapvm_policy::watch::MIN_POLL
        {
            return Err(ConfigError::out_of_bounds(
                "strategy (poll interval)",
                format!("{}s", every.as_secs_f64()),
                "at least 1 second",
            ));
        }
        Ok(())
    }
}

impl Default for WatchOptions {
    fn default() -> WatchOptions {
        WatchOptions {
            mailboxes: None,
            strategy: StrategyChoice::Auto,
            externnotify: None,
            externnotify_timeout: crate::externnotify::DEFAULT_TIMEOUT,
            backoff_first: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            queue: 4096,
            idle_silence: Some(DEFAULT_IDLE_SILENCE),
            connect_concurrency: DEFAULT_CONNECT_CONCURRENCY,
            metrics: Metrics::default(),
        }
    }
}

/// A running watcher: read its events with [`Watcher::next`]; [`Watcher::stop`] ends it
/// (dropping it stops it too).
#[derive(Debug)]
pub struct Watcher {
    events: mpsc::Receiver<WatchEvent>,
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    accounts: usize,
    /// Where `boxes` are counted as watched, until the watcher is dropped.
    metrics: Metrics,
    boxes: i64,
}

impl Watcher {
    /// The next event; `None` once every account task ended.
    pub async fn next(&mut self) -> Option<WatchEvent> {
        self.events.recv().await
    }

    /// An event if one is ready.
    pub fn try_next(&mut self) -> Option<WatchEvent> {
        self.events.try_recv().ok()
    }

    /// How many accounts (connections) are watched.
    pub fn accounts(&self) -> usize {
        self.accounts
    }

    /// Stops every account task (each logs out) and waits for them.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        self.metrics.watched_boxes(-self.boxes);
    }
}

impl Watcher {
    /// Starts watching `store`'s boxes (see the module docs). Fails only on configuration
    /// errors (an unknown box, an option out of bounds, an unusable externnotify);
    /// connection problems become [`WatchEvent::Error`]s and are retried. Needs a tokio
    /// runtime.
    pub fn start(store: &Store, options: WatchOptions) -> std::result::Result<Watcher, StartError> {
        options.check()?;
        let backoff = backoff(options.backoff_first, options.backoff_max)?;
        let general = &store.config().general;
        if general.pollfreq < imapvm_policy::watch::MIN_POLL {
            return Err(ConfigError::out_of_bounds(
                "pollfreq",
                format!("{}s", general.pollfreq.as_secs_f64()),
                "at least 1 second",
            )
            .into());
        }
        let ids: Vec<MailboxId> = match &options.mailboxes {
            Some(list) => list.clone(),
            None => store.mailbox_ids(),
        };
        // One entry per box: `MailboxId` compares (and orders) as Asterisk does, without
        // ASCII case, so `1234@Default` and `1234@default` are one box.
        let mut seen = std::collections::BTreeSet::new();
        let ids: Vec<MailboxId> = ids
            .into_iter()
            .filter(|id| seen.insert(id.clone()))
            .collect();
        let mut by_account: BTreeMap<AccountKey, Vec<Mailbox>> = BTreeMap::new();
        for mb in store.mailboxes_of(&ids)? {
            by_account.entry(mb.account().key()).or_default().push(mb);
        }
        let (tx, rx) = mpsc::channel(options.queue);
        let runner = externnotify_runner(store, &options, &tx)?;
        let config = WatchConfig {
            pollmailboxes: general.pollmailboxes,
            pollfreq: general.pollfreq,
            allow_notify: options.strategy != StrategyChoice::NoNotify,
        };
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let connecting = Arc::new(tokio::sync::Semaphore::new(options.connect_concurrency));
        let accounts = by_account.len();
        let boxes: usize = by_account.values().map(Vec::len).sum();
        let boxes = i64::try_from(boxes).unwrap_or(i64::MAX);
        options.metrics.watched_boxes(boxes);
        let mut tasks = Vec::with_capacity(accounts + 1);
        // One subscription to the store's change feed, routed to the accounts (a feed per
        // account would cost each account a channel of its own).
        let mut routes: BTreeMap<AccountKey, Arc<Touched>> = BTreeMap::new();
        for (key, boxes) in by_account {
            let Some(first) = boxes.first() else {
                continue;
            };
            let touched = Arc::new(Touched::default());
            routes.insert(key.clone(), Arc::clone(&touched));
            let task = AccountWatch {
                tracker: options.metrics.account(&key),
                account: first.account().clone(),
                label: key.to_string(),
                key,
                boxes: boxes
                    .into_iter()
                    .map(|mailbox| Watched {
                        mailbox,
                        tracker: MwiTracker::new(),
                        folder: None,
                    })
                    .collect(),
                choice: options.strategy,
                config,
                clock: store.clock().clone(),
                events: tx.clone(),
                runner: runner.clone(),
                touched,
                stop: stop_rx.clone(),
                backoff,
                idle_silence: options.idle_silence,
                connecting: Arc::clone(&connecting),
                down: false,
                folders: Folders::default(),
                marks: HashMap::new(),
            };
            tasks.push(tokio::spawn(task.run()));
        }
        tasks.push(tokio::spawn(route_changes(
            store.changes(),
            routes,
            stop_rx.clone(),
        )));
        Ok(Watcher {
            events: rx,
            stop: stop_tx,
            tasks,
            accounts,
            metrics: options.metrics,
            boxes,
        })
    }
}

/// One account's share of the store's change feed: the boxes our own operations touched,
/// not taken yet (each box once).
#[derive(Debug, Default)]
struct Touched {
    boxes: std::sync::Mutex<Vec<MailboxId>>,
    notify: tokio::sync::Notify,
    /// The store is gone: nothing more will come.
    closed: std::sync::atomic::AtomicBool,
}

impl Touched {
    fn boxes(&self) -> std::sync::MutexGuard<'_, Vec<MailboxId>> {
        self.boxes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn push(&self, id: MailboxId) {
        {
            let mut boxes = self.boxes();
            if boxes.contains(&id) {
                return;
            }
            boxes.push(id);
        }
        self.notify.notify_one();
    }

    fn close(&self) {
        self.closed
            .store(true, std::sync::atomic::Ordering::Release);
        self.notify.notify_one();
    }

    /// The next touched box, if one is waiting.
    fn try_recv(&self) -> Option<MailboxId> {
        let mut boxes = self.boxes();
        (!boxes.is_empty()).then(|| boxes.remove(0))
    }

    /// The next touched box; `None` once the store is gone. Cancel-safe: a box is taken
    /// only when this returns it.
    async fn recv(&self) -> Option<MailboxId> {
        loop {
            let notified = self.notify.notified();
            if let Some(id) = self.try_recv() {
                return Some(id);
            }
            if self.closed.load(std::sync::atomic::Ordering::Acquire) {
                return None;
            }
            notified.await;
        }
    }
}

/// Routes the store's change feed to the accounts' [`Touched`] until the watcher stops;
/// when the store is gone, tells them so.
async fn route_changes(
    mut feed: ChangeFeed,
    routes: BTreeMap<AccountKey, Arc<Touched>>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            changed = feed.recv() => match changed {
                Some(c) => {
                    if let Some(touched) = routes.get(&c.account) {
                        touched.push(c.mailbox);
                    }
                }
                None => break,
            },
            _ = stop.wait_for(|s| *s) => return,
        }
    }
    for touched in routes.values() {
        touched.close();
    }
}

/// Logs out of the session in `slot`, if it is still usable.
async fn log_out(slot: &mut Option<Session>) {
    if let Some(s) = slot.take()
        && s.is_usable()
    {
        s.logout().await;
    }
}

/// One watched box.
struct Watched {
    mailbox: Mailbox,
    tracker: MwiTracker,
    /// Its `imapfolder` on the wire (known once connected).
    folder: Option<MailboxName>,
}

/// Why a watch loop ended without an error.
enum Ended {
    Stopped,
}

/// The task of one account.
struct AccountWatch {
    account: Account,
    label: String,
    key: AccountKey,
    boxes: Vec<Watched>,
    choice: StrategyChoice,
    config: WatchConfig,
    clock: SharedClock,
    events: mpsc::Sender<WatchEvent>,
    runner: Option<Arc<Runner>>,
    /// The store's announcements for this account: our own operations.
    touched: Arc<Touched>,
    stop: tokio::sync::watch::Receiver<bool>,
    /// Reconnects; reset once a connection is watching.
    backoff: Backoff,
    /// See [`WatchOptions::idle_silence`].
    idle_silence: Option<Duration>,
    /// Shared by every account task: bounds concurrent connection set-ups.
    connecting: Arc<tokio::sync::Semaphore>,
    /// In an outage (an error event was sent, no `Watching` since).
    down: bool,
    /// What is remembered per folder (identity headers by UID), across reconnects.
    folders: Folders,
    /// Per folder (wire name): the state at the SELECT before the last recount of every box
    /// in it, for the next resync.
    marks: HashMap<String, FolderMark>,
    /// This account's connection state and health in the metrics.
    tracker: AccountTracker,
}

/// What woke a waiting watcher.
enum Wake {
    Stop,
    Touched(MailboxId),
    Server,
    Timer,
}

impl AccountWatch {
    fn stopped(&self) -> bool {
        *self.stop.borrow()
    }

    async fn run(mut self) {
        loop {
            if self.stopped() {
                return;
            }
            self.tracker.connecting(&self.backoff);
            // Waiting for a turn to connect holds nothing but this task's own state: the
            // connection (its session and futures) is allocated once it has its turn
            // (10,000 accounts waiting would otherwise hold 10,000 of them).
            let mut stop = self.stop.clone();
            let turn = Box::pin(Arc::clone(&self.connecting).acquire_owned());
            let permit = tokio::select! {
                // Closed only if the watcher is gone; then connect anyway (it stops right after).
                p = turn => p.ok(),
                _ = stop.wait_for(|s| *s) => return,
            };
            let connection = Box::pin(self.connection(permit));
            let result = connection.await;
            match result {
                Ok(Ended::Stopped) => return,
                Err(e) => {
                    for w in &mut self.boxes {
                        // Policy: keep the last good state; never publish on failure [INV-5].
                        let _ = w.tracker.observe(Recount::Failed);
                    }
                    let backoff = self.backoff.failed();
                    self.tracker.down(&self.backoff, &e, self.clock.wall());
                    tracing::debug!(account = %self.label, error = %e, ?backoff, "watch connection failed");
                    if !self.down {
                        self.down = true;
                        let event = WatchEvent::Error(WatchError {
                            account: self.key.clone(),
                            error: e,
                            at: self.clock.wall(),
                        });
                        if Box::pin(self.events.send(event)).await.is_err() {
                            return;
                        }
                    }
                    let mut stop = self.stop.clone();
                    let pause = Box::pin(tokio::time::sleep(backoff));
                    tokio::select! {
                        _ = pause => {}
                        _ = stop.wait_for(|s| *s) => return,
                    }
                }
            }
        }
    }

    fn strategy(&self, session: &Session) -> WatchStrategy {
        match self.choice {
            // At least `MIN_POLL`: `WatchOptions::check`.
            StrategyChoice::Poll(every) => WatchStrategy::Poll { every },
            StrategyChoice::Auto | StrategyChoice::NoNotify => {
                choose(session.capabilities(), self.config)
            }
        }
    }

    /// One connection's life: [`AccountWatch::connect_and_watch`], then a logout if the
    /// connection is still usable. The session lives in this future, which is boxed while
    /// it runs: the task itself holds none between connections.
    async fn connection(
        &mut self,
        permit: Option<tokio::sync::OwnedSemaphorePermit>,
    ) -> Result<Ended> {
        let mut session = None;
        let result = self.connect_and_watch(&mut session, permit).await;
        // Boxed: the session taken out for the logout is a copy that lives only then.
        Box::pin(log_out(&mut session)).await;
        result
    }

    /// Connects (`permit`: this account's turn, given back once logged in), resyncs, and
    /// watches until stopped or the connection fails.
    async fn connect_and_watch(
        &mut self,
        slot: &mut Option<Session>,
        permit: Option<tokio::sync::OwnedSemaphorePermit>,
    ) -> Result<Ended> {
        let opened = Box::pin(Session::open(&self.account, &self.clock)).await;
        drop(permit);
        let opened = opened?;
        let session = slot.insert(opened);
        session.set_idle_silence(self.idle_silence);
        for w in &mut self.boxes {
            let layout = w.mailbox.layout(session)?;
            w.folder = Some(layout.mailbox_name(imapvm_policy::Folder::Inbox));
        }
        // Boxed: the futures of the set-up steps are allocated while they run, not kept in
        // this one for as long as the connection is watched.
        Box::pin(self.enable_modseq(session)).await?;
        // Resync: recount what changed while we were away (everything the first time);
        // publish only what differs from the last published state. Those changes are seen now.
        let seen = self.clock.now();
        let resync = Box::pin(self.resync(session, seen)).await?;
        self.backoff.succeeded();
        let mut strategy = self.strategy(session);
        if let WatchStrategy::Notify { .. } = strategy {
            let spec = notify_spec();
            match Box::pin(session.exec("NOTIFY", |c| c.notify(&spec))).await {
                Ok(_) => {}
                Err(e) if !e.is_connection_lost() => {
                    tracing::info!(account = %self.label, error = %e, "NOTIFY refused; falling back");
                    strategy = strategy
                        .fallback(session.capabilities(), self.config)
                        .unwrap_or(WatchStrategy::OnDemand);
                }
                Err(e) => return Err(e),
            }
        }
        self.down = false;
        let at = self.clock.wall();
        if self
            .events
            .send(WatchEvent::Watching {
                account: self.key.clone(),
                strategy,
                resync,
                at,
            })
            .await
            .is_err()
        {
            return Ok(Ended::Stopped);
        }
        self.tracker.connected();
        tracing::debug!(account = %self.label, ?strategy, "watching");
        let poll_every = match strategy {
            WatchStrategy::Poll { every } => Some(every),
            // Boxes outside the IDLE folder are recounted every pollfreq.
            // At least `MIN_POLL`: checked by `Watcher::start`.
            WatchStrategy::Idle { .. } if self.has_other_folders() => Some(self.config.pollfreq),
            _ => None,
        };
        let mut next_poll = poll_every.map(|d| self.clock.now() + d);
        loop {
            let (wake, mut changes, seen) = match strategy {
                WatchStrategy::Notify { .. } | WatchStrategy::Idle { .. } => {
                    self.idle(session, next_poll).await?
                }
                WatchStrategy::Poll { .. } | WatchStrategy::OnDemand => {
                    session.shrink_buffers();
                    let wake = self.wait(next_poll).await;
                    (wake, Changes::default(), self.clock.now())
                }
            };
            let mut touched: Vec<MailboxId> = Vec::new();
            match wake {
                Wake::Stop => return Ok(Ended::Stopped),
                Wake::Touched(id) => touched.push(id),
                Wake::Server => {}
                Wake::Timer => {
                    changes.overflow = true;
                    next_poll = poll_every.map(|d| self.clock.now() + d);
                }
            }
            while let Some(changed) = self.touched.try_recv() {
                touched.push(changed);
            }
            changes.folders.extend(session.take_changes().folders);
            if changes.is_empty() && touched.is_empty() {
                continue;
            }
            let mut selected = |w: &Watched| {
                changes.overflow
                    || touched.contains(w.mailbox.mailbox_id())
                    || w.folder.as_ref().is_some_and(|f| {
                        changes
                            .folders
                            .iter()
                            .any(|c| MailboxName::from_wire(c).is_ok_and(|c| c.same_mailbox(f)))
                    })
            };
            Box::pin(self.recount(session, &mut selected, seen)).await?;
        }
    }

    /// Turns on CONDSTORE (QRESYNC where offered) so that SELECT reports `HIGHESTMODSEQ`
    /// and a resync can ask for changes only. A refusal is not an error: resyncs then
    /// recount everything.
    async fn enable_modseq(&mut self, session: &mut Session) -> Result<()> {
        let caps = session.capabilities();
        let what: &[&str] = if caps.has("QRESYNC") {
            &["QRESYNC"]
        } else if caps.has("CONDSTORE") {
            &["CONDSTORE"]
        } else {
            return Ok(());
        };
        if !caps.has("ENABLE") {
            return Ok(());
        }
        match session.exec("ENABLE", |c| c.enable(what)).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_connection_lost() => Err(e),
            Err(e) => {
                tracing::debug!(account = %self.label, error = %e, "ENABLE refused; resyncs recount everything");
                Ok(())
            }
        }
    }

    /// Re-synchronises every watched folder after a (re)connect; see [`Resync`]. What it
    /// publishes was `seen` then.
    async fn resync(&mut self, session: &mut Session, seen: Instant) -> Result<Resync> {
        let mut stats = Resync::default();
        let mut folders: Vec<MailboxName> = Vec::new();
        for w in &self.boxes {
            if let Some(f) = &w.folder
                && !folders.iter().any(|x| x.same_mailbox(f))
            {
                folders.push(f.clone());
            }
        }
        for folder in folders {
            stats.folders += 1;
            let in_folder =
                |w: &Watched| w.folder.as_ref().is_some_and(|f| f.same_mailbox(&folder));
            let sel = match session.select(&folder).await {
                Ok(sel) => sel,
                Err(e) if e.is_connection_lost() => return Err(e),
                Err(e) => {
                    // The count reports it per box; nothing to compare against.
                    tracing::debug!(account = %self.label, %folder, error = %e, "resync: cannot select");
                    self.marks.remove(folder.as_wire());
                    stats.recounted += self.boxes.iter().filter(|w| in_folder(w)).count();
                    self.recount(session, in_folder, seen).await?;
                    continue;
                }
            };
            if let Some(uid_validity) = sel.uid_validity {
                self.folders.check_validity(&folder, uid_validity);
            }
            let now = match (sel.uid_validity, sel.highest_modseq, sel.uid_next) {
                (Some(uid_validity), Some(h), Some(n)) => Some(FolderMark {
                    uid_validity,
                    highest_modseq: h,
                    uid_next: n,
                    exists: sel.exists,
                }),
                _ => None,
            };
            let before = self.marks.get(folder.as_wire()).copied();
            let which: Option<Vec<MailboxId>> = match (resync_plan(before, now), before, now) {
                (ResyncPlan::Nothing, _, _) => {
                    stats.unchanged += 1;
                    Some(Vec::new())
                }
                (ResyncPlan::ChangesSince(_), Some(b), Some(n)) => {
                    stats.incremental += 1;
                    self.changed_boxes(session, &folder, b, n, &mut stats)
                        .await?
                }
                _ => None,
            };
            let all_ok = match which {
                Some(ids) => {
                    stats.recounted += ids.len();
                    self.recount(session, |w| ids.contains(w.mailbox.mailbox_id()), seen)
                        .await?
                }
                None => {
                    stats.recounted += self.boxes.iter().filter(|w| in_folder(w)).count();
                    self.recount(session, in_folder, seen).await?
                }
            };
            match now {
                // A box that failed to count must be counted next time: no mark.
                Some(n) if all_ok => {
                    self.marks.insert(folder.as_wire().to_owned(), n);
                }
                _ => {
                    self.marks.remove(folder.as_wire());
                }
            }
        }
        Ok(stats)
    }

    /// The boxes of `folder` (selected) whose messages changed between the marks `before`
    /// and `now` (`None`: cannot tell, recount them all). One `UID FETCH 1:* (FLAGS
    /// identity-headers) (CHANGEDSINCE before [VANISHED])`: its answer holds only the
    /// messages changed or added since (any mail, so the identity headers tell whose), and
    /// with QRESYNC the UIDs expunged since. Without QRESYNC an expunge is detected by
    /// arithmetic (`EXISTS` before + messages added and still there - `EXISTS` now) but not
    /// attributed, so then every box of the folder is recounted.
    async fn changed_boxes(
        &mut self,
        session: &mut Session,
        folder: &MailboxName,
        before: FolderMark,
        now: FolderMark,
        stats: &mut Resync,
    ) -> Result<Option<Vec<MailboxId>>> {
        let qresync = session.qresync_enabled();
        let changed = session
            .changed_since(&mut self.folders, folder, before.highest_modseq)
            .await?;
        let in_folder: Vec<(MailboxId, &imapvm_policy::VoicemailIdentity)> = self
            .boxes
            .iter()
            .filter(|w| w.folder.as_ref().is_some_and(|f| f.same_mailbox(folder)))
            .map(|w| (w.mailbox.mailbox_id().clone(), w.mailbox.identity()))
            .collect();
        let mut affected: Vec<MailboxId> = Vec::new();
        let mut note = |h: &IdentityHeaders| {
            for (id, identity) in &in_folder {
                if identity.matches(h.extension.as_deref(), h.context.as_deref())
                    && !affected.contains(id)
                {
                    affected.push(id.clone());
                }
            }
        };
        let mut added = 0u64;
        for (uid, h) in &changed.messages {
            if *uid >= before.uid_next {
                added += 1;
            }
            note(h);
        }
        for (_, h) in &changed.vanished {
            note(h);
        }
        let gone = changed.vanished.len();
        stats.changed_messages += changed.messages.len() + gone;
        let unattributed = expunges_unattributed(before, now, added, qresync);
        tracing::debug!(
            account = %self.label, %folder, changed = changed.messages.len(), gone, unattributed,
            "resync: changes since HIGHESTMODSEQ {}", before.highest_modseq
        );
        if unattributed {
            return Ok(None);
        }
        Ok(Some(affected))
    }

    fn has_other_folders(&self) -> bool {
        let first = self.boxes.first().and_then(|w| w.folder.as_ref());
        self.boxes.iter().any(|w| match (&w.folder, first) {
            (Some(f), Some(first)) => !f.same_mailbox(first),
            _ => false,
        })
    }

    /// Waits (no connection in use) for our own operations, the poll timer or stop.
    async fn wait(&mut self, until: Option<Instant>) -> Wake {
        let mut stop = self.stop.clone();
        let timer = async {
            match until {
                Some(at) => {
                    tokio::time::sleep(at.saturating_duration_since(self.clock.now())).await
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = stop.wait_for(|s| *s) => Wake::Stop,
            changed = self.touched.recv() => match changed {
                Some(changed) => Wake::Touched(changed),
                None => Wake::Stop,
            },
            () = timer => Wake::Timer,
        }
    }

    /// Selects the first box's folder, runs IDLE until the server reports a change, an
    /// operation touches a box, the poll timer fires or the watcher stops; then ends IDLE.
    /// Also returns when the change was seen (before the round trip that ends IDLE).
    async fn idle(
        &mut self,
        session: &mut Session,
        next_poll: Option<Instant>,
    ) -> Result<(Wake, Changes, Instant)> {
        if let Some(first) = self.boxes.first()
            && let Some(folder) = first.folder.clone()
            && !session
                .selected()
                .is_some_and(|s| s.name.same_mailbox(&folder))
        {
            let sel = Box::pin(session.select(&folder)).await?;
            if let Some(uid_validity) = sel.uid_validity {
                self.folders.check_validity(&folder, uid_validity);
            }
        }
        let mut changes = session.take_changes();
        if !changes.is_empty() {
            // Something arrived with the last command's responses: recount first.
            return Ok((Wake::Server, changes, self.clock.now()));
        }
        // Waiting starts: what the set-up and recounts grew is given back.
        session.shrink_buffers();
        let id = session.idle()?;
        // Far enough that only the proto core's IDLE refresh timer matters.
        let far = self.clock.now() + Duration::from_secs(24 * 3600);
        let until = next_poll.unwrap_or(far);
        let mut stop = self.stop.clone();
        let wake = loop {
            let read = session.read_until(until);
            let wake = tokio::select! {
                r = read => {
                    let _ = r?;
                    if self.clock.now() >= until { Some(Wake::Timer) } else { None }
                }
                _ = stop.wait_for(|s| *s) => Some(Wake::Stop),
                changed = self.touched.recv() => Some(match changed {
                    Some(changed) => Wake::Touched(changed),
                    None => Wake::Stop,
                }),
            };
            changes.folders.extend(session.take_changes().folders);
            if let Some(w) = wake {
                break w;
            }
            if !changes.is_empty() {
                break Wake::Server;
            }
        };
        let seen = self.clock.now();
        session.idle_done()?;
        Box::pin(session.wait(&[id])).await?;
        session.take("IDLE", id)?;
        let more = session.take_changes();
        changes.overflow |= more.overflow;
        changes.folders.extend(more.folders);
        Ok((wake, changes, seen))
    }

    /// Recounts the boxes `which` selects, all in one pipelined flight per folder (see
    /// [`Session::count_boxes`]), and publishes their changes (`seen` then). Returns whether
    /// every box counted.
    async fn recount(
        &mut self,
        session: &mut Session,
        mut which: impl FnMut(&Watched) -> bool,
        seen: Instant,
    ) -> Result<bool> {
        let chosen: Vec<usize> = (0..self.boxes.len())
            .filter(|&i| which(&self.boxes[i]))
            .collect();
        if chosen.is_empty() {
            return Ok(true);
        }
        let boxes: Vec<&Mailbox> = chosen.iter().map(|&i| &self.boxes[i].mailbox).collect();
        let counted = match session.count_boxes(&mut self.folders, &boxes).await {
            Ok(counted) => counted,
            Err(e) if e.is_connection_lost() => return Err(e),
            Err(e) => {
                // The flight failed without losing the connection: report, keep every state.
                for &i in &chosen {
                    let _ = self.boxes[i].tracker.observe(Recount::Failed);
                }
                self.report(e).await;
                return Ok(false);
            }
        };
        let mut all_ok = true;
        for (i, counted) in chosen.into_iter().zip(counted) {
            let counts = match counted {
                Ok(c) => c,
                Err(e) => {
                    // One box failed (e.g. its folder cannot be selected): report, keep state.
                    all_ok = false;
                    let _ = self.boxes[i].tracker.observe(Recount::Failed);
                    self.report(e).await;
                    continue;
                }
            };
            let w = &mut self.boxes[i];
            if let MwiDecision::Publish(counts) = w.tracker.observe(Recount::Counted(counts)) {
                let event = MwiEvent {
                    mailbox: w.mailbox.mailbox_id().mailbox().to_owned(),
                    context: w.mailbox.mailbox_id().context().to_owned(),
                    counts,
                    at: self.clock.wall(),
                    seen: Some(seen),
                };
                if let Some(runner) = &self.runner {
                    runner.notify(
                        &event.id(),
                        externnotify_args(w.mailbox.mailbox_id(), counts).to_vec(),
                        event.seen,
                    );
                }
                let _ = self.events.send(WatchEvent::Mwi(event)).await;
            }
        }
        Ok(all_ok)
    }

    /// Sends an error event for this account (the connection stays up).
    async fn report(&self, e: Error) {
        let event = WatchEvent::Error(WatchError {
            account: self.key.clone(),
            error: e,
            at: self.clock.wall(),
        });
        let _ = self.events.send(event).await;
    }
}

/// The `externnotify` of `options`, else voicemail.conf's (none when neither), ready to run:
/// its runs are reported on `events` and counted in `options.metrics`.
pub(crate) fn externnotify_runner(
    store: &Store,
    options: &WatchOptions,
    events: &mpsc::Sender<WatchEvent>,
) -> std::result::Result<Option<Arc<Runner>>, ExternNotifyError> {
    let command = match (&options.externnotify, &store.config().general.externnotify) {
        (Some(e), _) => e.clone(),
        (None, Some(cmd)) => ExternNotify::parse(cmd, options.externnotify_timeout)?,
        (None, None) => return Ok(None),
    };
    let events = events.clone();
    Ok(Some(Runner::new(
        command,
        move |run| {
            let _ = events.try_send(WatchEvent::ExternNotify(run));
        },
        options.metrics.clone(),
        store.clock().clone(),
    )))
}

/// The back-off of an options struct (`options`, e.g. `AmiOptions`) from its
/// `backoff_first`/`backoff_max`; bounds it cannot use are a configuration error naming them.
/// The back-off of checked options (`ConfigError::require_backoff` passed): bounds policy's
/// [`Backoff`] refuses are the options' error too.
pub(crate) fn backoff(first: Duration, max: Duration) -> std::result::Result<Backoff, ConfigError> {
    ConfigError::require_backoff(first, max)?;
    Backoff::new(first, max).map_err(|_| {
        ConfigError::out_of_bounds(
            "backoff_max",
            format!("{}s", max.as_secs_f64()),
            "at least backoff_first, which is above zero",
        )
    })
}

/// The NOTIFY request: the selected folder's changes as EXISTS/EXPUNGE/FETCH, every other
/// personal folder's as `* STATUS`.
fn notify_spec() -> String {
    "SET (selected (MessageNew MessageExpunge FlagChange)) \
     (personal (MessageNew MessageExpunge FlagChange))"
        .to_owned()
}

/// Counts by box of a set of events (helper for summaries and tests).
pub fn latest_counts<'a>(
    events: impl IntoIterator<Item = &'a WatchEvent>,
) -> HashMap<String, MwiCounts> {
    let mut out = HashMap::new();
    for e in events {
        if let WatchEvent::Mwi(m) = e {
            out.insert(m.id(), m.counts);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use imapvm_harness::scripted::{Command, Imap, Log};
    use imapvm_testkit::{Peer, Reply};

    /// Values the watcher once repaired without a word (`queue` and `connect_concurrency`
    /// 0 became 1, a poll interval under a second became one, a back-off maximum below its
    /// first step was raised) are refused, naming the option.
    #[test]
    fn options_out_of_bounds_are_refused_naming_the_option() {
        assert!(WatchOptions::default().check().is_ok());
        let field = |o: WatchOptions| match o.check() {
            Err(ConfigError::OutOfBounds { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field(WatchOptions {
                queue: 0,
                ..WatchOptions::default()
            }),
            "queue"
        );
        assert_eq!(
            field(WatchOptions {
                connect_concurrency: 0,
                ..WatchOptions::default()
            }),
            "connect_concurrency"
        );
        assert_eq!(
            field(WatchOptions {
                strategy: StrategyChoice::Poll(Duration::from_millis(10)),
                ..WatchOptions::default()
            }),
            "strategy (poll interval)"
        );
        assert_eq!(
            field(WatchOptions {
                backoff_first: Duration::from_secs(5),
                backoff_max: Duration::from_secs(1),
                ..WatchOptions::default()
            }),
            "backoff_max"
        );
        assert_eq!(
            field(WatchOptions {
                idle_silence: Some(Duration::ZERO),
                ..WatchOptions::default()
            }),
            "idle_silence"
        );
    }

    /// `pollfreq=0` in voicemail.conf (its check reports the line) stops the watcher from
    /// starting, instead of polling every second.
    #[tokio::test]
    async fn a_zero_pollfreq_is_refused_at_start() {
        let conf = "[general]\nimapserver=127.0.0.1\npollfreq=0\n[default]\n1 => 1,A,,,imapuser=u|imappassword=p\n";
        let store = Store::new(imapvm_config::parse_bytes("v.conf", conf.as_bytes()).config);
        match Watcher::start(&store, WatchOptions::default()) {
            Err(StartError::Option(ConfigError::OutOfBounds { field, .. })) => {
                assert_eq!(field, "pollfreq");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn event_arguments_follow_asterisk() {
        let e = MwiEvent {
            mailbox: "1234".into(),
            context: "default".into(),
            counts: MwiCounts {
                new: 2,
                urgent: 1,
                old: 3,
                old_urgent: 1,
            },
            at: SystemTime::UNIX_EPOCH,
            seen: None,
        };
        assert_eq!(e.externnotify_args(), ["default", "1234", "2", "3", "1"]);
        assert_eq!(
            e.message_summary(Some("sip:1234@pbx.example")).unwrap(),
            "Messages-Waiting: yes\r\nMessage-Account: sip:1234@pbx.example\r\nVoice-Message: 3/3 (1/1)\r\n"
        );
        let id = MailboxId::new("1234", "default").unwrap();
        assert_eq!(
            externnotify_args(&id, e.counts).to_vec(),
            e.externnotify_args()
        );
    }

    /// An IMAP peer that offers NOTIFY but refuses it, then accepts IDLE; returns it and
    /// every command it received.
    async fn notify_refusing_server() -> (Peer, Log) {
        const CAPS: &str = "IMAP4rev1 IDLE NOTIFY NAMESPACE";
        let log = Log::default();
        let l = log.clone();
        let peer = Peer::builder()
            .respond(move || {
                let mut idle_tag = String::new();
                Imap::new(CAPS, &l, move |c: &Command| {
                    let tag = &c.tag;
                    if tag == "DONE" {
                        Some(Reply::send(format!("{idle_tag} OK idle done\r\n")))
                    } else if c.is("NOTIFY") {
                        Some(Reply::send(format!(
                            "{tag} NO [NOTIFICATIONOVERFLOW] not today\r\n"
                        )))
                    } else if c.is("IDLE") {
                        idle_tag.clone_from(tag);
                        Some(Reply::send("+ idling\r\n"))
                    } else {
                        None
                    }
                })
            })
            .await
            .unwrap();
        (peer, log)
    }

    #[tokio::test]
    async fn a_refused_notify_falls_back_to_idle_on_the_voicemail_folder() {
        let (peer, log) = notify_refusing_server().await;
        let port = peer.port();
        let dir = std::env::temp_dir().join(format!("imapvm-watch-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let conf = dir.join("voicemail.conf");
        std::fs::write(
            &conf,
            format!(
                "[general]\nimapserver=127.0.0.1\nimapport={port}\nimapflags=notls\n\
                 imapfolder=Voicemail\nimapreadtimeout=5\n\n\
                 [default]\n1234 => 1234,A,,,imapuser=u1|imappassword=p1\n"
            ),
        )
        .unwrap();
        let store = Store::open(&conf).unwrap();
        let mut w = Watcher::start(&store, WatchOptions::default()).unwrap();
        let within = Duration::from_secs(5);
        let first = tokio::time::timeout(within, w.next())
            .await
            .unwrap()
            .unwrap();
        assert!(
            matches!(&first, WatchEvent::Mwi(e) if e.counts == MwiCounts::default()),
            "{first:?}"
        );
        let second = tokio::time::timeout(within, w.next())
            .await
            .unwrap()
            .unwrap();
        assert!(
            matches!(
                second,
                WatchEvent::Watching {
                    strategy: WatchStrategy::Idle { .. },
                    ..
                }
            ),
            "{second:?}"
        );
        // IDLE goes out after the refused NOTIFY.
        let deadline = std::time::Instant::now() + within;
        while !log.lines().iter().any(|l| l.ends_with(" IDLE")) {
            assert!(std::time::Instant::now() < deadline, "{:?}", log.lines());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let lines = log.lines();
        let notify = lines
            .iter()
            .position(|l| l.contains(" NOTIFY SET "))
            .unwrap();
        let idle = lines.iter().position(|l| l.ends_with(" IDLE")).unwrap();
        assert!(notify < idle, "{lines:?}");
        assert!(
            lines.iter().any(|l| l.contains("SELECT Voicemail")),
            "{lines:?}"
        );
        w.stop().await;
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A store on the system clock whose box 1234@default lives on `127.0.0.1:port`.
    fn store_at(port: u16) -> Store {
        let text = format!(
            "[general]\nimapserver=127.0.0.1\nimapport={port}\nimapflags=notls\n\
             imapopentimeout=60\nimapreadtimeout=60\n\n\
             [default]\n1234 => 1234,A,,,imapuser=u1|imappassword=p1\n"
        );
        let parsed = imapvm_config::parse_bytes("voicemail.conf", text.as_bytes());
        Store::with_clock(parsed.config, imapvm::clock::SystemClock::shared())
    }

    /// Reconnects back off 0.5 s, 1 s, 2 s, 4 s, 8 s in simulated time (the store's clock
    /// is tokio's, paused here): a server that hangs up at once sees the attempts that far
    /// apart, and the test does not wait for them.
    #[tokio::test(start_paused = true)]
    async fn reconnects_back_off_doubling_in_simulated_time() {
        let mut peer = imapvm_harness::time::HangUp::start().await;
        let store = store_at(peer.port);
        let started = std::time::Instant::now();
        let mut w = Watcher::start(&store, WatchOptions::default()).unwrap();
        let first = w.next().await.unwrap();
        assert!(matches!(first, WatchEvent::Error(_)), "{first:?}");
        let at = peer.attempts(6).await;
        imapvm_harness::time::assert_doubling(&at, Duration::from_millis(500));
        assert!(w.try_next().is_none(), "one error event per outage");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "15.5 s of back-off were simulated, not slept"
        );
        w.stop().await;
    }

    #[test]
    fn bad_backoff_bounds_are_refused_not_repaired() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _guard = rt.enter();
        let store = store_at(1);
        let options = WatchOptions {
            backoff_first: Duration::from_secs(2),
            backoff_max: Duration::from_secs(1),
            ..WatchOptions::default()
        };
        let err = Watcher::start(&store, options).unwrap_err();
        assert!(
            matches!(
                err,
                StartError::Option(ConfigError::OutOfBounds {
                    field: "backoff_max",
                    ..
                })
            ),
            "{err}"
        );
        let options = WatchOptions {
            backoff_first: Duration::ZERO,
            ..WatchOptions::default()
        };
        assert!(matches!(
            Watcher::start(&store, options),
            Err(StartError::Option(ConfigError::OutOfBounds {
                field: "backoff_first",
                ..
            }))
        ));
    }

    #[test]
    fn the_notify_request_is_accepted_by_the_proto_core() {
        let mut conn = imapvm_proto::Connection::new(
            imapvm_proto::Config::default(),
            std::time::Instant::now(),
        )
        .unwrap();
        // Not logged in: refused for the state, not for the spec.
        let err = conn.notify(&notify_spec()).unwrap_err();
        assert!(!err.to_string().contains("spec"), "{err}");
    }
}
