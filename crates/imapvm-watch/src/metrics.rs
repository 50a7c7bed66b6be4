//! [`Metrics`]: what the services count, for Prometheus (`--metrics`, `[imapvm] metrics`),
//! and what `/healthz` answers ([`Health`]).
//!
//! One [`Metrics`] is shared (it is a handle: clones count into the same families) by the
//! [`Watcher`](crate::Watcher), the [`Publisher`](crate::Publisher) and the outputs
//! ([`AmiNotifier`](crate::AmiNotifier), [`WebhookNotifier`](crate::WebhookNotifier),
//! externnotify), through their options. It owns a `prometheus-client` registry with the
//! prefix `imapvm`; another service adds its own families with [`Metrics::register`] (the
//! phone's calls). The families:
//!
//! | name | type | what |
//! |---|---|---|
//! | `imapvm_build_info{version}` | info | the running version |
//! | `imapvm_mailboxes_watched` | gauge | boxes the watchers follow |
//! | `imapvm_imap_connections{state}` | gauge | watched accounts by connection state: `connecting` (TCP, TLS, login, resync), `connected` (watching), `down` (waiting to reconnect) |
//! | `imapvm_imap_reconnects_total` | counter | connection attempts after a failure |
//! | `imapvm_mwi_events_total{output,result}` | counter | MWI changes handed to an output (`ami`, `webhook`, `externnotify`) and how they ended (`ok`, `refused`: the receiver said no, `failed`: it could not be reached or gave up) |
//! | `imapvm_mwi_latency_seconds` | histogram | from the change seen (the server's notification, our own operation, a reconnect's resync) to an output's acknowledgement (AMI `Response: Success`, a webhook's 2xx, externnotify exiting 0) |
//! | `imapvm_outbox_items{state}` | gauge | deposits waiting in the outbox: `pending`, `refused`, `unreadable` (read from the spool at each scrape) |
//!
//! Every label value is one of a fixed set, so the number of series is bounded whatever the
//! configuration or the peers send. Times are the clock's that each caller is handed (the
//! store's, [`imapvm::Store::clock`]): this module reads none.
//!
//! **Health.** Every watched account is healthy while it is connected, connecting for the
//! first time, or reconnecting within its **retry budget**: the reconnect back-off
//! ([`WatchOptions::backoff_first`](crate::WatchOptions::backoff_first) doubling up to
//! [`WatchOptions::backoff_max`](crate::WatchOptions::backoff_max)) has not yet climbed to its
//! longest delay and seen the attempt after that delay fail too
//! ([`imapvm_policy::Backoff::exhausted`]). With the defaults (0.5 s to 30 s) that is 8 failed
//! attempts, about 62 s of outage. An account past its budget makes [`Health::is_healthy`]
//! false, and its line in [`Health::text`] names the account (`user@server:port`, never a
//! password), since when it is down, how many attempts failed and the last error.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Instant, SystemTime};

use imapvm::AccountKey;
use imapvm_outbox::{ItemState, Outbox};
use imapvm_policy::Backoff;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use crate::stamp::rfc3339;

/// The prefix of every metric name.
pub const PREFIX: &str = "imapvm";

/// At most this many accounts are named in [`Health::text`].
pub const MAX_HEALTH_LINES: usize = 100;

/// The buckets of `imapvm_mwi_latency_seconds`, in seconds: from a local AMI answer (a few
/// milliseconds) to a webhook retried for a minute.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

/// A watched account's connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConnectionState {
    /// TCP, TLS, login and the resync of the counts.
    Connecting,
    /// Watching: changes are seen.
    Connected,
    /// Lost; waiting for the next attempt.
    Down,
}

impl ConnectionState {
    /// Every state, in the order the label values are listed.
    pub const ALL: [ConnectionState; 3] = [
        ConnectionState::Connecting,
        ConnectionState::Connected,
        ConnectionState::Down,
    ];

    /// The label value: `connecting`, `connected`, `down`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionState::Connecting => "connecting",
            ConnectionState::Connected => "connected",
            ConnectionState::Down => "down",
        }
    }
}

/// An MWI output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Output {
    /// `VoicemailRefresh` / `MWIUpdate` over AMI.
    Ami,
    /// An HTTP POST.
    Webhook,
    /// The `externnotify` program.
    ExternNotify,
}

impl Output {
    /// Every output.
    pub const ALL: [Output; 3] = [Output::Ami, Output::Webhook, Output::ExternNotify];

    /// The label value: `ami`, `webhook`, `externnotify`.
    pub fn as_str(self) -> &'static str {
        match self {
            Output::Ami => "ami",
            Output::Webhook => "webhook",
            Output::ExternNotify => "externnotify",
        }
    }
}

/// How one MWI change ended at one output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// Acknowledged: AMI `Response: Success`, a 2xx, exit status 0.
    Ok,
    /// The receiver answered no: AMI `Response: Error`, a 4xx that is not retried.
    Refused,
    /// Not delivered: unreachable after every retry, a non-zero exit, a timeout, a program
    /// that cannot be started.
    Failed,
}

impl Outcome {
    /// Every outcome.
    pub const ALL: [Outcome; 3] = [Outcome::Ok, Outcome::Refused, Outcome::Failed];

    /// The label value: `ok`, `refused`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
        }
    }
}

/// Which text format a scrape gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Format {
    /// Prometheus text 0.0.4 (`text/plain; version=0.0.4`), what any scraper reads.
    #[default]
    Prometheus,
    /// OpenMetrics 1.0 text, for a scraper that asks for it (`Accept:
    /// application/openmetrics-text`).
    OpenMetrics,
}

impl Format {
    /// The `Content-Type` of the format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }

    /// The format an HTTP `Accept` header asks for: OpenMetrics when it names it, else
    /// Prometheus text.
    pub fn from_accept(accept: Option<&str>) -> Format {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Prometheus,
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    output: &'static str,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabel {
    version: &'static str,
}

/// One watched account as `/healthz` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountHealth {
    /// `user@server:port`.
    pub account: AccountKey,
    /// Its connection.
    pub state: ConnectionState,
    /// Failed attempts since it was last connected.
    pub failures: u32,
    /// Whether those failures spent the retry budget (see the module docs).
    pub budget_spent: bool,
    /// When the outage began (the first failure), wall time.
    pub down_since: Option<SystemTime>,
    /// The last error (no password: errors never hold one [INV-6]).
    pub error: Option<String>,
}

impl AccountHealth {
    /// Connected, or still within the retry budget.
    pub fn is_healthy(&self) -> bool {
        !self.budget_spent
    }

    fn line(&self) -> String {
        let mut line = format!("{} {}", self.account, self.state.as_str());
        if self.failures > 0 {
            let _ = write!(line, ", {} failed attempt(s)", self.failures);
            if let Some(since) = self.down_since {
                let _ = write!(line, " since {}", rfc3339(since));
            }
            if self.budget_spent {
                line.push_str(", retry budget spent");
            }
            if let Some(e) = &self.error {
                let _ = write!(line, "; last error: {e}");
            }
        }
        line
    }
}

/// What `/healthz` answers: every watched account's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    /// The accounts, in order.
    pub accounts: Vec<AccountHealth>,
}

impl Health {
    /// Every account connected or within its retry budget (true with no account).
    pub fn is_healthy(&self) -> bool {
        self.accounts.iter().all(AccountHealth::is_healthy)
    }

    /// Plain text: `ok` or `unhealthy`; a line counting the accounts by state; then one
    /// line per account that is not connected, those past their budget first, at most
    /// [`MAX_HEALTH_LINES`] (then how many more there are). Connected accounts are only
    /// counted, so a probe of a watcher of thousands of accounts stays small.
    pub fn text(&self) -> String {
        let mut out = String::from(if self.is_healthy() {
            "ok\n"
        } else {
            "unhealthy\n"
        });
        let count = |s| self.accounts.iter().filter(|a| a.state == s).count();
        let _ = writeln!(
            out,
            "accounts: {} connected, {} connecting, {} down",
            count(ConnectionState::Connected),
            count(ConnectionState::Connecting),
            count(ConnectionState::Down)
        );
        let (bad, other): (Vec<_>, Vec<_>) = self
            .accounts
            .iter()
            .filter(|a| a.state != ConnectionState::Connected)
            .partition(|a| !a.is_healthy());
        let listed: Vec<_> = bad.into_iter().chain(other).collect();
        for a in listed.iter().take(MAX_HEALTH_LINES) {
            out.push_str(&a.line());
            out.push('\n');
        }
        if listed.len() > MAX_HEALTH_LINES {
            let _ = writeln!(out, "(and {} more)", listed.len() - MAX_HEALTH_LINES);
        }
        out
    }
}

/// An account's entry while its task runs.
#[derive(Debug, Clone)]
struct Tracked {
    state: ConnectionState,
    failures: u32,
    budget_spent: bool,
    down_since: Option<SystemTime>,
    error: Option<String>,
    /// Trackers of this account alive (two watchers of one account count once).
    holders: usize,
}

struct Inner {
    registry: Mutex<Registry>,
    mailboxes_watched: Gauge,
    connections: Family<StateLabel, Gauge>,
    reconnects: Counter,
    events: Family<EventLabels, Counter>,
    latency: Histogram,
    outbox_items: Family<StateLabel, Gauge>,
    accounts: Mutex<BTreeMap<AccountKey, Tracked>>,
    outbox: Mutex<Option<Outbox>>,
}

/// The services' metrics and health (see the module docs). Cloning is cheap and shares
/// everything.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Metrics {
    /// Fresh families, registered in a registry of their own (nothing is global: two
    /// `Metrics` never share a count). Every label combination is there from the start, at
    /// 0, so a dashboard never sees a series appear from nothing.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix(PREFIX);
        let inner = Inner {
            registry: Mutex::new(Registry::default()),
            mailboxes_watched: Gauge::default(),
            connections: Family::default(),
            reconnects: Counter::default(),
            events: Family::default(),
            latency: Histogram::new(LATENCY_BUCKETS),
            outbox_items: Family::default(),
            accounts: Mutex::new(BTreeMap::new()),
            outbox: Mutex::new(None),
        };
        registry.register(
            "build",
            "The running imapvm",
            Info::new(VersionLabel {
                version: env!("CARGO_PKG_VERSION"),
            }),
        );
        registry.register(
            "mailboxes_watched",
            "Boxes the MWI watchers follow",
            inner.mailboxes_watched.clone(),
        );
        for s in ConnectionState::ALL {
            let _ = inner
                .connections
                .get_or_create_owned(&StateLabel { state: s.as_str() });
        }
        registry.register(
            "imap_connections",
            "Watched IMAP accounts by connection state",
            inner.connections.clone(),
        );
        registry.register(
            "imap_reconnects",
            "Watcher connection attempts after a failure",
            inner.reconnects.clone(),
        );
        for o in Output::ALL {
            for r in Outcome::ALL {
                let _ = inner.events.get_or_create_owned(&EventLabels {
                    output: o.as_str(),
                    result: r.as_str(),
                });
            }
        }
        registry.register(
            "mwi_events",
            "MWI changes handed to an output, by how they ended",
            inner.events.clone(),
        );
        registry.register(
            "mwi_latency_seconds",
            "From an MWI change seen to an output's acknowledgement",
            inner.latency.clone(),
        );
        for s in [ItemState::Pending, ItemState::Refused] {
            let _ = inner
                .outbox_items
                .get_or_create_owned(&StateLabel { state: s.as_str() });
        }
        let _ = inner.outbox_items.get_or_create_owned(&StateLabel {
            state: "unreadable",
        });
        registry.register(
            "outbox_items",
            "Deposits waiting in the outbox, by state",
            inner.outbox_items.clone(),
        );
        *lock(&inner.registry) = registry;
        Metrics {
            inner: Arc::new(inner),
        }
    }

    /// Adds another service's families (named under the `imapvm_` prefix), e.g.
    /// `imapvm_phone::PhoneMetrics::register`.
    pub fn register(&self, add: impl FnOnce(&mut Registry)) {
        add(&mut lock(&self.inner.registry));
    }

    /// Reports the outbox's items as `imapvm_outbox_items` at every [`Metrics::refresh`].
    pub fn track_outbox(&self, outbox: Outbox) {
        *lock(&self.inner.outbox) = Some(outbox);
    }

    /// Reads what is sampled rather than counted (the outbox spool; blocking file I/O):
    /// call before [`Metrics::encode`], off the async threads. An outbox that cannot be
    /// listed keeps its last values (and is logged).
    pub fn refresh(&self) {
        let Some(outbox) = lock(&self.inner.outbox).clone() else {
            return;
        };
        match outbox.list() {
            Ok(listing) => {
                let count = |state| listing.items.iter().filter(|i| i.state == state).count();
                let set = |state: &'static str, n: usize| {
                    self.inner
                        .outbox_items
                        .get_or_create_owned(&StateLabel { state })
                        .set(i64::try_from(n).unwrap_or(i64::MAX));
                };
                set(ItemState::Pending.as_str(), count(ItemState::Pending));
                set(ItemState::Refused.as_str(), count(ItemState::Refused));
                set("unreadable", listing.problems.len());
            }
            Err(e) => tracing::warn!(error = %e, "metrics: the outbox cannot be listed"),
        }
    }

    /// The exposition of every registered family.
    pub fn encode(&self, format: Format) -> String {
        let registry = lock(&self.inner.registry);
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = match format {
            Format::Prometheus => {
                prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)
            }
            Format::OpenMetrics => prometheus_client::encoding::text::encode(&mut out, &registry),
        };
        out
    }

    /// Every watched account's state, for `/healthz`.
    pub fn health(&self) -> Health {
        let accounts = lock(&self.inner.accounts);
        Health {
            accounts: accounts
                .iter()
                .map(|(key, t)| AccountHealth {
                    account: key.clone(),
                    state: t.state,
                    failures: t.failures,
                    budget_spent: t.budget_spent,
                    down_since: t.down_since,
                    error: t.error.clone(),
                })
                .collect(),
        }
    }

    /// `n` more boxes are watched (negative: fewer).
    pub(crate) fn watched_boxes(&self, n: i64) {
        self.inner.mailboxes_watched.inc_by(n);
    }

    /// Counts one MWI change at `output`; when it was acknowledged, observes the latency
    /// from `seen` to `now` (both the same clock's monotonic time).
    pub(crate) fn output(
        &self,
        output: Output,
        outcome: Outcome,
        seen: Option<Instant>,
        now: Instant,
    ) {
        self.inner
            .events
            .get_or_create_owned(&EventLabels {
                output: output.as_str(),
                result: outcome.as_str(),
            })
            .inc();
        if outcome == Outcome::Ok
            && let Some(seen) = seen
        {
            self.inner
                .latency
                .observe(now.saturating_duration_since(seen).as_secs_f64());
        }
    }

    /// Starts tracking `account` (connecting); the tracker's drop stops it.
    pub(crate) fn account(&self, account: &AccountKey) -> AccountTracker {
        let mut accounts = lock(&self.inner.accounts);
        let entry = accounts.entry(account.clone()).or_insert_with(|| {
            self.gauge(ConnectionState::Connecting).inc();
            Tracked {
                state: ConnectionState::Connecting,
                failures: 0,
                budget_spent: false,
                down_since: None,
                error: None,
                holders: 0,
            }
        });
        entry.holders += 1;
        AccountTracker {
            metrics: self.clone(),
            account: account.clone(),
        }
    }

    fn gauge(&self, state: ConnectionState) -> Gauge {
        self.inner.connections.get_or_create_owned(&StateLabel {
            state: state.as_str(),
        })
    }
}

/// One account's entry in [`Metrics`]: its task reports each transition; dropping it removes
/// the account.
#[derive(Debug)]
pub(crate) struct AccountTracker {
    metrics: Metrics,
    account: AccountKey,
}

impl AccountTracker {
    fn update(&self, f: impl FnOnce(&mut Tracked)) {
        let mut accounts = lock(&self.metrics.inner.accounts);
        if let Some(t) = accounts.get_mut(&self.account) {
            let before = t.state;
            f(t);
            if t.state != before {
                self.metrics.gauge(before).dec();
                self.metrics.gauge(t.state).inc();
            }
        }
    }

    /// An attempt starts; after a failure it counts as a reconnect.
    pub(crate) fn connecting(&self, backoff: &Backoff) {
        if backoff.failures() > 0 {
            self.metrics.inner.reconnects.inc();
        }
        self.update(|t| t.state = ConnectionState::Connecting);
    }

    /// Watching: the outage (if any) is over.
    pub(crate) fn connected(&self) {
        self.update(|t| {
            t.state = ConnectionState::Connected;
            t.failures = 0;
            t.budget_spent = false;
            t.down_since = None;
            t.error = None;
        });
    }

    /// The attempt or the connection failed (`backoff` has counted it) at wall time `at`.
    pub(crate) fn down(&self, backoff: &Backoff, error: &imapvm::Error, at: SystemTime) {
        self.update(|t| {
            t.state = ConnectionState::Down;
            t.failures = backoff.failures();
            t.budget_spent = backoff.exhausted();
            t.down_since.get_or_insert(at);
            t.error = Some(error.to_string());
        });
    }
}

impl Drop for AccountTracker {
    fn drop(&mut self) {
        let mut accounts = lock(&self.metrics.inner.accounts);
        if let Some(t) = accounts.get_mut(&self.account) {
            t.holders = t.holders.saturating_sub(1);
            if t.holders == 0 {
                self.metrics.gauge(t.state).dec();
                accounts.remove(&self.account);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn key(user: &str) -> AccountKey {
        AccountKey {
            server: "127.0.0.1".into(),
            port: 143,
            user: user.into(),
        }
    }

    /// The sample lines of `name` (with labels) and their values.
    fn samples(text: &str, name: &str) -> Vec<(String, f64)> {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let (series, value) = l.rsplit_once(' ')?;
                let bare = series.split('{').next()?;
                let value = value.parse().ok()?;
                (bare == name).then(|| (series.to_owned(), value))
            })
            .collect()
    }

    #[test]
    fn every_family_is_served_from_the_start_in_both_formats() {
        let m = Metrics::new();
        let text = m.encode(Format::Prometheus);
        for name in [
            "imapvm_build_info",
            "imapvm_mailboxes_watched",
            "imapvm_imap_connections",
            "imapvm_imap_reconnects_total",
            "imapvm_mwi_events_total",
            "imapvm_mwi_latency_seconds_bucket",
            "imapvm_mwi_latency_seconds_count",
            "imapvm_outbox_items",
        ] {
            assert!(!samples(&text, name).is_empty(), "{name} in\n{text}");
        }
        assert_eq!(
            samples(&text, "imapvm_build_info"),
            [(
                format!(
                    "imapvm_build_info{{version=\"{}\"}}",
                    env!("CARGO_PKG_VERSION")
                ),
                1.0
            )]
        );
        assert_eq!(samples(&text, "imapvm_mwi_events_total").len(), 9);
        assert_eq!(samples(&text, "imapvm_imap_connections").len(), 3);
        let open = m.encode(Format::OpenMetrics);
        assert!(open.ends_with("# EOF\n"), "{open}");
        assert!(open.contains("# TYPE imapvm_build info\n"), "{open}");
    }

    #[test]
    fn outputs_count_by_result_and_only_acknowledgements_are_timed() {
        let m = Metrics::new();
        let t0 = Instant::now();
        let later = t0 + Duration::from_millis(300);
        m.output(Output::Ami, Outcome::Ok, Some(t0), later);
        m.output(Output::Webhook, Outcome::Refused, Some(t0), later);
        m.output(Output::ExternNotify, Outcome::Ok, None, later);
        let text = m.encode(Format::Prometheus);
        let value = |series: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
                .map(|v| v.parse::<f64>().unwrap())
        };
        assert_eq!(
            value(r#"imapvm_mwi_events_total{output="ami",result="ok"}"#),
            Some(1.0)
        );
        assert_eq!(
            value(r#"imapvm_mwi_events_total{output="webhook",result="refused"}"#),
            Some(1.0)
        );
        assert_eq!(
            value(r#"imapvm_mwi_events_total{output="externnotify",result="ok"}"#),
            Some(1.0)
        );
        assert_eq!(value("imapvm_mwi_latency_seconds_count"), Some(1.0));
        assert_eq!(value("imapvm_mwi_latency_seconds_sum"), Some(0.3));
        assert_eq!(
            value(r#"imapvm_mwi_latency_seconds_bucket{le="0.25"}"#),
            Some(0.0)
        );
        assert_eq!(
            value(r#"imapvm_mwi_latency_seconds_bucket{le="0.5"}"#),
            Some(1.0)
        );
    }

    #[test]
    fn an_account_is_healthy_until_its_retry_budget_is_spent() {
        let m = Metrics::new();
        let mut backoff =
            Backoff::new(Duration::from_millis(500), Duration::from_secs(30)).unwrap();
        let tracker = m.account(&key("vm1234"));
        let other = m.account(&key("vm4321"));
        other.connected();
        assert!(m.health().is_healthy());
        let err = imapvm::Error::Connect {
            account: key("vm1234"),
            source: Arc::new(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
        };
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_674_094);
        for n in 1..=8 {
            tracker.connecting(&backoff);
            backoff.failed();
            tracker.down(&backoff, &err, at + Duration::from_secs(n));
            assert_eq!(m.health().is_healthy(), n < 8, "after {n} failures");
        }
        let health = m.health();
        let text = health.text();
        assert!(
            text.starts_with(
                "unhealthy\naccounts: 1 connected, 0 connecting, 1 down\n\
                 vm1234@127.0.0.1:143 down, 8 failed attempt(s) since 2026-11-26T06:21:35.000Z, \
                 retry budget spent; last error: vm1234@127.0.0.1:143: cannot connect: "
            ),
            "{text}"
        );
        assert!(
            !text.contains("vm4321"),
            "connected accounts are only counted: {text}"
        );
        let scrape = m.encode(Format::Prometheus);
        assert!(
            scrape.contains("imapvm_imap_reconnects_total 7\n"),
            "{scrape}"
        );
        assert!(
            scrape.contains("imapvm_imap_connections{state=\"down\"} 1\n"),
            "{scrape}"
        );
        assert!(
            scrape.contains("imapvm_imap_connections{state=\"connected\"} 1\n"),
            "{scrape}"
        );
        // Back: healthy, the outage forgotten.
        backoff.succeeded();
        tracker.connecting(&backoff);
        tracker.connected();
        assert!(m.health().is_healthy());
        assert_eq!(
            m.health().text(),
            "ok\naccounts: 2 connected, 0 connecting, 0 down\n"
        );
        drop(tracker);
        drop(other);
        assert_eq!(m.health(), Health::default());
        let scrape = m.encode(Format::Prometheus);
        assert!(
            scrape.contains("imapvm_imap_connections{state=\"connected\"} 0\n"),
            "{scrape}"
        );
    }

    /// However many accounts are down, the answer names at most [`MAX_HEALTH_LINES`], those
    /// past their budget first.
    #[test]
    fn the_health_text_is_bounded() {
        let m = Metrics::new();
        let mut trackers = Vec::new();
        let spent = {
            let mut b = Backoff::new(Duration::from_millis(1), Duration::from_millis(1)).unwrap();
            b.failed();
            b.failed();
            b
        };
        let err = imapvm::Error::Connect {
            account: key("x"),
            source: Arc::new(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
        };
        for n in 0..250 {
            let t = m.account(&key(&format!("u{n:03}")));
            if n == 249 {
                t.down(&spent, &err, SystemTime::UNIX_EPOCH);
            }
            trackers.push(t);
        }
        let text = m.health().text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2 + MAX_HEALTH_LINES + 1, "{text}");
        assert_eq!(lines[0], "unhealthy");
        assert_eq!(lines[1], "accounts: 0 connected, 249 connecting, 1 down");
        assert!(
            lines[2].starts_with("u249@127.0.0.1:143 down, 2 failed"),
            "{}",
            lines[2]
        );
        assert_eq!(lines[3], "u000@127.0.0.1:143 connecting");
        assert_eq!(lines[2 + MAX_HEALTH_LINES], "(and 150 more)");
    }
}
