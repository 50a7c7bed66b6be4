//! Webhooks: each published [`MwiEvent`] as an HTTP POST of its JSON, retried with a
//! back-off, each attempt under a timeout, at most N requests in flight.
//!
//! The body is the JSON object `imapvm watch --json` prints (`{mailbox, context, new, old,
//! urgent, at}`, `new` without urgent, `at` RFC 3339 UTC), `Content-Type:
//! application/json`. A 2xx status is delivered; 408, 429, 5xx, a connection error, an
//! answer that is not HTTP or a timeout is retried up to `retries` times with a doubling
//! back-off; any other status is a permanent refusal (reported, not retried): the rule is
//! [`AttemptError::is_retried`]. Events of one box are delivered in order:
//! one request per box at a time, and a newer state of a box replaces a waiting or
//! retrying older one (a receiver never sees counts go back in time). Memory is bounded by
//! the number of boxes.
//!
//! `https://` URLs are checked against the system roots plus `webhook_cafile`
//! ([`WebhookOptions::ca_file`]), by the one TLS set-up ([`imapvm_net::tls`]); a
//! certificate TLS refuses fails the event at once (it is not retried: trying again cannot
//! help), a connection that breaks during the handshake is retried like any other.
//!
//! With `webhook_secret` ([`WebhookOptions::secret`]) every POST carries
//! `X-Imapvm-Signature: sha256=<hex>`, the HMAC-SHA256 of the exact body bytes keyed with the
//! secret ([`signature`]), as GitHub (`X-Hub-Signature-256`) signs its webhooks: a receiver
//! recomputes it over the raw body and compares in constant time. The body's `at` lets it
//! refuse old deliveries. The secret itself never appears in a log, a report or Debug
//! output [INV-6].
//!
//! HTTP is hyper's client (HTTP/1.1, one connection per attempt, `Connection: close`) over
//! the TCP or TLS stream the outputs open ([`crate::output`]): no connector, no pool, no TLS
//! stack of its own. The
//! answer's status line and headers are bounded ([`MAX_RESPONSE_HEAD`]); its body is not
//! read. Report timestamps come from [`WebhookOptions::clock`].

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use http_body_util::Full;
use hyper::Request;
use hyper::body::Bytes;
use hyper::header::{CONNECTION, CONTENT_TYPE, HOST, USER_AGENT};
use hyper_util::rt::TokioIo;
use imapvm::clock::{SharedClock, SystemClock};
use imapvm::{ConfigError, Secret, TlsError};
use imapvm_config::{ImapvmSection, MAX_WEBHOOK_SECRET_BYTES, WebhookScheme, WebhookUrl};
use imapvm_net::tls::{ClientConfig, HandshakeError, Verification};
use imapvm_policy::Backoff;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{Semaphore, mpsc};

use crate::metrics::{Metrics, Outcome, Output};
use crate::output::{OpenError, Opened, OutputStartError, open, tls_config};
use crate::watch::{MwiEvent, backoff, rfc3339};

/// The longest status line plus headers read from a receiver (hyper's read buffer; at
/// least its minimum of 8 KiB).
pub const MAX_RESPONSE_HEAD: usize = 16 * 1024;

/// The header that carries the body's signature when `webhook_secret` is set.
pub const SIGNATURE_HEADER: &str = "X-Imapvm-Signature";

/// How webhooks are delivered. [`WebhookNotifier::start`] refuses a value out of bounds
/// (naming it) rather than repairing it.
#[derive(Debug, Clone)]
pub struct WebhookOptions {
    /// One attempt (connect, send, status line) may take this long (more than 0).
    pub timeout: Duration,
    /// Attempts after the first.
    pub retries: u32,
    /// Most requests at once (at least 1).
    pub inflight: usize,
    /// First back-off between attempts (more than 0; doubled up to `backoff_max`).
    pub backoff_first: Duration,
    /// Longest back-off (at least `backoff_first`).
    pub backoff_max: Duration,
    /// Reports buffered for a slow reader (at least 1); beyond that they are dropped.
    pub report_queue: usize,
    /// Where report times come from (the store's: [`imapvm::Store::clock`]).
    pub clock: SharedClock,
    /// `webhook_secret`: every POST is signed with it ([`SIGNATURE_HEADER`]); unsigned when
    /// `None`. 1 to [`MAX_WEBHOOK_SECRET_BYTES`] bytes.
    pub secret: Option<Secret>,
    /// `webhook_cafile`: CA certificates (PEM) trusted for `https://` besides the system
    /// roots.
    pub ca_file: Option<PathBuf>,
    /// Where deliveries are counted (`webhook`: `ok` for a 2xx, `refused` for a status not
    /// retried, `failed` when the retries ran out; a delivery given up for a newer state is
    /// not counted) and timed.
    pub metrics: Metrics,
}

impl Default for WebhookOptions {
    fn default() -> Self {
        WebhookOptions::from_section(&ImapvmSection::default())
    }
}

impl WebhookOptions {
    /// Whether every option is within its bounds (the error names the first that is not).
    pub fn check(&self) -> Result<(), ConfigError> {
        ConfigError::require_nonzero("webhook_timeout", self.timeout)?;
        ConfigError::require_backoff(self.backoff_first, self.backoff_max)?;
        ConfigError::require_positive("webhook_inflight", self.inflight)?;
        ConfigError::require_positive("report_queue", self.report_queue)?;
        match self.secret.as_ref().map(|s| s.expose().len()) {
            // The length only: the value never goes into a message.
            Some(n) if n == 0 || n > MAX_WEBHOOK_SECRET_BYTES => Err(ConfigError::out_of_bounds(
                "webhook_secret",
                format!("{n} bytes"),
                "1 to 1024 bytes",
            )),
            _ => Ok(()),
        }
    }

    /// The options imapvm.conf sets (`webhook_timeout`, `webhook_retries`,
    /// `webhook_inflight`, `webhook_secret`, `webhook_cafile`), with the default back-off.
    pub fn from_section(section: &ImapvmSection) -> Self {
        WebhookOptions {
            timeout: section.webhook_timeout,
            retries: section.webhook_retries,
            inflight: section.webhook_inflight as usize,
            backoff_first: Duration::from_millis(250),
            backoff_max: Duration::from_secs(10),
            report_queue: 1024,
            clock: SystemClock::shared(),
            secret: section.webhook_secret.clone(),
            ca_file: section.webhook_cafile.clone(),
            metrics: Metrics::default(),
        }
    }
}

/// Why one attempt failed. [`AttemptError::is_retried`] says which are tried again.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum AttemptError {
    /// The TCP connection could not be made.
    #[error("connect: {0}")]
    Connect(#[source] Arc<std::io::Error>),
    /// TLS refused: the certificate (unknown issuer, another host's, expired) or the
    /// protocol.
    #[error("TLS: {0}")]
    Tls(#[source] TlsError),
    /// The connection broke during the TLS handshake.
    #[error(transparent)]
    Handshake(Arc<HandshakeError>),
    /// The request could not be built (a header value HTTP refuses).
    #[error("request: {0}")]
    Request(#[source] Arc<hyper::http::Error>),
    /// HTTP failed: the answer is not HTTP/1, its head is longer than
    /// [`MAX_RESPONSE_HEAD`], or the connection closed or broke before a status.
    #[error("HTTP: {0}")]
    Http(#[source] Arc<hyper::Error>),
    /// The receiver answered with this status (not 2xx).
    #[error("answered {0}")]
    Status(u16),
    /// No status within [`WebhookOptions::timeout`].
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

impl AttemptError {
    /// Whether trying again may help: 408, 429 and 5xx, a connection that failed or broke,
    /// a timeout. Other statuses, a refused certificate and a request HTTP refuses are
    /// permanent.
    pub fn is_retried(&self) -> bool {
        match self {
            AttemptError::Status(status) => retryable(*status),
            AttemptError::Connect(_)
            | AttemptError::Handshake(_)
            | AttemptError::Http(_)
            | AttemptError::Timeout(_) => true,
            AttemptError::Tls(_) | AttemptError::Request(_) => false,
        }
    }
}

/// When a delivery stopped trying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GaveUp {
    /// The failure is permanent ([`AttemptError::is_retried`] is false).
    NotRetryable,
    /// Every retry ([`WebhookOptions::retries`]) failed.
    RetriesSpent,
    /// A newer state of the box replaced this one, or the notifier is stopping.
    SupersededOrStopping,
}

/// Why an event was not delivered ([`WebhookReport::Failed`]).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{url}: {last}{}", match .gave_up {
    GaveUp::NotRetryable => "; not retried",
    GaveUp::RetriesSpent => "",
    GaveUp::SupersededOrStopping => "; not retried (superseded or stopping)",
})]
pub struct DeliveryError {
    /// The webhook (no secret: URLs with credentials are refused).
    pub url: String,
    /// The last attempt's failure.
    #[source]
    pub last: AttemptError,
    /// Why no further attempt was made.
    pub gave_up: GaveUp,
}

/// `sha256=<hex>`: the HMAC-SHA256 of `body` keyed with `secret`, the value of
/// [`SIGNATURE_HEADER`].
///
/// ```
/// use imapvm::Secret;
/// // RFC 4231, test case 2.
/// let signed = imapvm_watch::webhook::signature(&Secret::new("Jefe"), b"what do ya want for nothing?");
/// assert_eq!(signed, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
/// ```
pub fn signature(secret: &Secret, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.expose().as_bytes());
    let tag = ring::hmac::sign(&key, body);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256=");
    for byte in tag.as_ref() {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// What happened to one event.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum WebhookReport {
    /// The receiver answered 2xx.
    Delivered {
        /// `box@context`.
        mailbox: String,
        /// The status.
        status: u16,
        /// Attempts it took.
        attempts: u32,
        /// When.
        at: SystemTime,
    },
    /// Given up: a permanent refusal, or every retry failed.
    Failed {
        /// `box@context`.
        mailbox: String,
        /// The last failure, and why it was the last.
        error: DeliveryError,
        /// Attempts made.
        attempts: u32,
        /// When.
        at: SystemTime,
    },
}

/// The JSON body of an event (the `imapvm watch --json` line).
pub fn event_json(event: &MwiEvent) -> String {
    serde_json::json!({
        "mailbox": event.mailbox,
        "context": event.context,
        "new": event.counts.new,
        "old": event.counts.old,
        "urgent": event.counts.urgent,
        "at": rfc3339(event.at),
    })
    .to_string()
}

enum Command {
    Notify(MwiEvent),
    Stop,
}

/// A running webhook output. Dropping it aborts deliveries; prefer [`WebhookNotifier::stop`].
#[derive(Debug)]
pub struct WebhookNotifier {
    commands: mpsc::UnboundedSender<Command>,
    reports: mpsc::Receiver<WebhookReport>,
    task: Option<tokio::task::JoinHandle<()>>,
    url: WebhookUrl,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Notify(e) => write!(f, "Notify({})", e.id()),
            Command::Stop => f.write_str("Stop"),
        }
    }
}

impl WebhookNotifier {
    /// Starts delivering to `url` (needs a tokio runtime). An option out of bounds is
    /// refused ([`WebhookOptions::check`]), and so is, for `https://`, a `ca_file` that
    /// cannot be read or holds no certificate.
    pub fn start(
        url: &WebhookUrl,
        options: WebhookOptions,
    ) -> Result<WebhookNotifier, OutputStartError> {
        options.check()?;
        let backoff = backoff(options.backoff_first, options.backoff_max)?;
        let tls = match url.scheme {
            WebhookScheme::Http => None,
            WebhookScheme::Https => Some(tls_config(
                &url.to_string(),
                "webhook_cafile",
                options.ca_file.as_deref(),
                Verification::Verify,
            )?),
        };
        let (commands, rx) = mpsc::unbounded_channel();
        let (report_tx, reports) = mpsc::channel(options.report_queue);
        let shared = Arc::new(Shared {
            url: url.clone(),
            tls,
            permits: Semaphore::new(options.inflight),
            backoff,
            options,
            reports: report_tx,
            stopping: AtomicBool::new(false),
        });
        let task = tokio::spawn(dispatch(shared, rx));
        Ok(WebhookNotifier {
            commands,
            reports,
            task: Some(task),
            url: url.clone(),
        })
    }

    /// The URL.
    pub fn url(&self) -> &WebhookUrl {
        &self.url
    }

    /// Delivers `event` (after the box's earlier event, if one is in flight).
    pub fn notify(&self, event: &MwiEvent) {
        let _ = self.commands.send(Command::Notify(event.clone()));
    }

    /// The next report; `None` once stopped.
    pub async fn next_report(&mut self) -> Option<WebhookReport> {
        self.reports.recv().await
    }

    /// A report if one is ready.
    pub fn try_report(&mut self) -> Option<WebhookReport> {
        self.reports.try_recv().ok()
    }

    /// Stops: requests in flight finish (each within the timeout), nothing is retried or
    /// started any more.
    pub async fn stop(mut self) {
        let _ = self.commands.send(Command::Stop);
        if let Some(mut task) = self.task.take() {
            loop {
                tokio::select! {
                    _ = &mut task => break,
                    r = self.reports.recv() => if r.is_none() { let _ = (&mut task).await; break; },
                }
            }
        }
    }
}

impl Drop for WebhookNotifier {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

struct Shared {
    url: WebhookUrl,
    /// For `https://`.
    tls: Option<Arc<ClientConfig>>,
    options: WebhookOptions,
    /// Each delivery's schedule starts from this.
    backoff: Backoff,
    permits: Semaphore,
    reports: mpsc::Sender<WebhookReport>,
    stopping: AtomicBool,
}

/// One box's delivery state.
struct BoxState {
    /// A newer event waits for the current delivery.
    next: Option<MwiEvent>,
    /// Tells the current delivery to give up its retries.
    superseded: Arc<AtomicBool>,
}

async fn dispatch(shared: Arc<Shared>, mut commands: mpsc::UnboundedReceiver<Command>) {
    let mut boxes: HashMap<String, BoxState> = HashMap::new();
    let mut tasks = tokio::task::JoinSet::new();
    let start = |tasks: &mut tokio::task::JoinSet<String>, event: MwiEvent| {
        let superseded = Arc::new(AtomicBool::new(false));
        let id = event.id();
        let shared = Arc::clone(&shared);
        let flag = Arc::clone(&superseded);
        tasks.spawn(async move {
            deliver(&shared, &event, &flag).await;
            id
        });
        BoxState {
            next: None,
            superseded,
        }
    };
    let mut open = true;
    while open || !tasks.is_empty() {
        tokio::select! {
            c = commands.recv(), if open => match c {
                Some(Command::Notify(event)) => {
                    match boxes.get_mut(&event.id()) {
                        Some(state) => {
                            state.superseded.store(true, Ordering::Relaxed);
                            state.next = Some(event);
                        }
                        None => {
                            let id = event.id();
                            let state = start(&mut tasks, event);
                            boxes.insert(id, state);
                        }
                    }
                }
                Some(Command::Stop) | None => {
                    open = false;
                    shared.stopping.store(true, Ordering::Relaxed);
                }
            },
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                let Ok(id) = done else { continue };
                let next = boxes.get_mut(&id).and_then(|s| s.next.take());
                match next {
                    Some(event) if open => {
                        let state = start(&mut tasks, event);
                        boxes.insert(id, state);
                    }
                    _ => {
                        boxes.remove(&id);
                    }
                }
            }
        }
    }
}

fn retryable(status: u16) -> bool {
    status == 408 || status == 429 || status >= 500
}

async fn deliver(shared: &Shared, event: &MwiEvent, superseded: &AtomicBool) {
    let body = Bytes::from(event_json(event));
    let signed = shared.options.secret.as_ref().map(|s| signature(s, &body));
    let mailbox = event.id();
    let options = &shared.options;
    let mut backoff = shared.backoff;
    let mut attempts = 0;
    let failed = |last: AttemptError, gave_up: GaveUp| DeliveryError {
        url: shared.url.to_string(),
        last,
        gave_up,
    };
    let report = loop {
        attempts += 1;
        let outcome = {
            let Ok(_permit) = shared.permits.acquire().await else {
                return;
            };
            let attempt = post(shared, body.clone(), signed.as_deref());
            match tokio::time::timeout(options.timeout, attempt).await {
                Ok(r) => r,
                Err(_) => Err(AttemptError::Timeout(options.timeout)),
            }
        };
        let error = match outcome {
            Ok(status) if (200..300).contains(&status) => {
                tracing::debug!(%mailbox, url = %shared.url, status, attempts, signed = signed.is_some(), "webhook delivered");
                break WebhookReport::Delivered {
                    mailbox,
                    status,
                    attempts,
                    at: options.clock.wall(),
                };
            }
            Ok(status) => AttemptError::Status(status),
            Err(e) => e,
        };
        if !error.is_retried() {
            break WebhookReport::Failed {
                mailbox,
                error: failed(error, GaveUp::NotRetryable),
                attempts,
                at: options.clock.wall(),
            };
        }
        let stopping =
            || shared.stopping.load(Ordering::Relaxed) || superseded.load(Ordering::Relaxed);
        if attempts > options.retries || stopping() {
            let gave_up = if attempts > options.retries {
                GaveUp::RetriesSpent
            } else {
                GaveUp::SupersededOrStopping
            };
            break WebhookReport::Failed {
                mailbox,
                error: failed(error, gave_up),
                attempts,
                at: options.clock.wall(),
            };
        }
        let delay = backoff.failed();
        tracing::debug!(%mailbox, url = %shared.url, %error, backoff = ?delay, "webhook attempt failed; retrying");
        tokio::time::sleep(delay).await;
        if stopping() {
            break WebhookReport::Failed {
                mailbox,
                error: failed(error, GaveUp::SupersededOrStopping),
                attempts,
                at: options.clock.wall(),
            };
        }
    };
    if let WebhookReport::Failed { mailbox, error, .. } = &report {
        // Reported; whoever reads the reports logs it, once.
        tracing::debug!(%mailbox, %error, "webhook not delivered");
    }
    // How the delivery ends for the metrics (`None`: given up for a newer state or a stop).
    let counted = match &report {
        WebhookReport::Delivered { .. } => Some(Outcome::Ok),
        WebhookReport::Failed { error, .. } => match error.gave_up {
            GaveUp::NotRetryable => Some(Outcome::Refused),
            GaveUp::RetriesSpent => Some(Outcome::Failed),
            GaveUp::SupersededOrStopping => None,
        },
    };
    if let Some(outcome) = counted {
        let now = options.clock.now();
        options
            .metrics
            .output(Output::Webhook, outcome, event.seen, now);
    }
    let _ = shared.reports.try_send(report);
}

/// One `POST` on a new connection (TLS for `https://`); the status of the answer.
async fn post(shared: &Shared, body: Bytes, signed: Option<&str>) -> Result<u16, AttemptError> {
    let url = &shared.url;
    let mut request = Request::post(url.path.as_str())
        .header(HOST, url.host_header())
        .header(USER_AGENT, concat!("imapvm/", env!("CARGO_PKG_VERSION")))
        .header(CONTENT_TYPE, "application/json")
        .header(CONNECTION, "close");
    if let Some(signed) = signed {
        request = request.header(SIGNATURE_HEADER, signed);
    }
    let request = request
        .body(Full::new(body))
        .map_err(|e| AttemptError::Request(Arc::new(e)))?;
    match open(&url.host, url.port, shared.tls.as_ref()).await {
        Ok(Opened::Tcp(stream)) => exchange(stream, request).await,
        Ok(Opened::Tls(stream)) => exchange(*stream, request).await,
        Err(OpenError::Connect(e)) => Err(AttemptError::Connect(Arc::new(e))),
        Err(OpenError::Handshake(HandshakeError::Tls(e))) => Err(AttemptError::Tls(e)),
        Err(OpenError::Handshake(e)) => Err(AttemptError::Handshake(Arc::new(e))),
    }
}

/// HTTP/1.1 on `io`: sends `request`, returns the answer's status (its body is not read).
async fn exchange<S>(io: S, request: Request<Full<Bytes>>) -> Result<u16, AttemptError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let http = |e: hyper::Error| AttemptError::Http(Arc::new(e));
    let (mut sender, connection) = hyper::client::conn::http1::Builder::new()
        .max_buf_size(MAX_RESPONSE_HEAD)
        .handshake(TokioIo::new(io))
        .await
        .map_err(http)?;
    let response = sender.send_request(request);
    tokio::pin!(response, connection);
    // The connection is driven while the answer is awaited; when it ends first, the
    // answer's future says why (closed before a status, or the status that came with it).
    tokio::select! {
        biased;
        answer = &mut response => answer.map(|r| r.status().as_u16()).map_err(http),
        ended = &mut connection => match ended {
            Err(e) => Err(http(e)),
            Ok(()) => response.await.map(|r| r.status().as_u16()).map_err(http),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use imapvm::clock::Clock;
    use imapvm_harness::time::FixedWall;
    use imapvm_policy::MwiCounts;

    #[test]
    fn which_statuses_are_retried() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(retryable(s), "{s}");
        }
        for s in [400, 401, 403, 404, 410, 413] {
            assert!(!retryable(s), "{s}");
        }
    }

    fn event() -> MwiEvent {
        MwiEvent {
            mailbox: "1234".into(),
            context: "default".into(),
            counts: MwiCounts::default(),
            at: SystemTime::UNIX_EPOCH,
            seen: None,
        }
    }

    /// A receiver that is not there: every retry after its back-off (simulated), then one
    /// report stamped by the options' clock.
    #[tokio::test(start_paused = true)]
    async fn reports_take_their_time_from_the_options_clock() {
        let port = {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            l.local_addr().unwrap().port()
        };
        let wall = FixedWall::at(1_795_674_094);
        let metrics = Metrics::new();
        let options = WebhookOptions {
            retries: 3,
            clock: Arc::new(wall),
            metrics: metrics.clone(),
            ..WebhookOptions::default()
        };
        let url: WebhookUrl = format!("http://127.0.0.1:{port}/hook").parse().unwrap();
        let mut hook = WebhookNotifier::start(&url, options).unwrap();
        let started = SystemClock.now();
        hook.notify(&event());
        match hook.next_report().await {
            Some(WebhookReport::Failed { attempts, at, .. }) => {
                assert_eq!((attempts, at), (4, wall.0));
            }
            other => panic!("{other:?}"),
        }
        // 0.25 s + 0.5 s + 1 s of back-off between the four attempts.
        let waited = SystemClock.now() - started;
        assert!(waited >= Duration::from_millis(1750), "{waited:?}");
        hook.stop().await;
        // One delivery given up: counted as failed, not timed.
        let text = metrics.encode(crate::metrics::Format::Prometheus);
        assert!(
            text.contains("imapvm_mwi_events_total{output=\"webhook\",result=\"failed\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("imapvm_mwi_latency_seconds_count 0\n"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn bad_backoff_bounds_are_refused_not_repaired() {
        let options = WebhookOptions {
            backoff_first: Duration::ZERO,
            ..WebhookOptions::default()
        };
        let url: WebhookUrl = "http://127.0.0.1:1/hook".parse().unwrap();
        let err = WebhookNotifier::start(&url, options).unwrap_err();
        assert!(
            matches!(
                err,
                OutputStartError::Option(ConfigError::OutOfBounds {
                    field: "backoff_first",
                    ..
                })
            ),
            "{err}"
        );
    }

    #[test]
    fn body_is_the_watch_json_line() {
        let e = MwiEvent {
            mailbox: "1234".into(),
            context: "de\"fault".into(),
            counts: MwiCounts {
                new: 2,
                urgent: 1,
                old: 3,
                old_urgent: 0,
            },
            at: SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_674_094_123),
            seen: None,
        };
        assert_eq!(
            event_json(&e),
            r#"{"at":"2026-11-26T06:21:34.123Z","context":"de\"fault","mailbox":"1234","new":2,"old":3,"urgent":1}"#
        );
    }
}
