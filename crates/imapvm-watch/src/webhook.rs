//! Webhooks: each published [`MwiEvent`] as an HTTP POST of its JSON, retried with a
//! back-off, each attempt under a timeout, at most N requests in flight.
//!
//! The body is the JSON object `imapvm watch --json` prints (`{mailbox, context, new, old,
//! urgent, at}`, `new` without urgent, `at` RFC 3339 UTC), `Content-Type:
//! application/json`. A 2xx status is delivered; 408, 429, 5xx, a connection error or a
//! timeout is retried up to `retries` times with a doubling back-off; any other status is
//! a permanent refusal (reported, not retried). Events of one box are delivered in order:
//! one request per box at a time, and a newer state of a box replaces a waiting or
//! retrying older one (a receiver never sees counts go back in time). Memory is bounded by
//! the number of boxes.
//!
//! The HTTP/1.1 client is written here, on purpose: what is needed is one `POST` with
//! `Connection: close` and the status line of the answer, to `http://` receivers (usually a
//! local sidecar). A general client (reqwest/hyper) would add a few dozen crates, and
//! reqwest's TLS default pulls aws-lc, which the workspace's tidy test forbids. HTTPS is
//! therefore not offered (the config refuses `https://`): put a TLS-terminating proxy on
//! localhost. Response bodies are not read, and the status line and headers are bounded
//! ([`MAX_RESPONSE_HEAD`]). Report timestamps come from [`WebhookOptions::clock`].

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use imapvm::ConfigError;
use imapvm::clock::{SharedClock, SystemClock};
use imapvm_config::{ImapvmSection, WebhookUrl};
use imapvm_policy::Backoff;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, mpsc};

use crate::watch::{MwiEvent, backoff, rfc3339};

/// The longest status line plus headers read from a receiver.
pub const MAX_RESPONSE_HEAD: usize = 16 * 1024;

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
        ConfigError::require_positive("report_queue", self.report_queue)
    }

    /// The options imapvm.conf sets (`webhook_timeout`, `webhook_retries`,
    /// `webhook_inflight`), with the default back-off.
    pub fn from_section(section: &ImapvmSection) -> Self {
        WebhookOptions {
            timeout: section.webhook_timeout,
            retries: section.webhook_retries,
            inflight: section.webhook_inflight as usize,
            backoff_first: Duration::from_millis(250),
            backoff_max: Duration::from_secs(10),
            report_queue: 1024,
            clock: SystemClock::shared(),
        }
    }
}

/// What happened to one event.
#[derive(Debug, Clone, PartialEq, Eq)]
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
        /// The last failure.
        error: String,
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
    /// refused ([`WebhookOptions::check`]).
    pub fn start(
        url: &WebhookUrl,
        options: WebhookOptions,
    ) -> Result<WebhookNotifier, ConfigError> {
        options.check()?;
        let backoff = backoff(options.backoff_first, options.backoff_max)?;
        let (commands, rx) = mpsc::unbounded_channel();
        let (report_tx, reports) = mpsc::channel(options.report_queue);
        let shared = Arc::new(Shared {
            url: url.clone(),
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
    let body = event_json(event);
    let mailbox = event.id();
    let options = &shared.options;
    let mut backoff = shared.backoff;
    let mut attempts = 0;
    let report = loop {
        attempts += 1;
        let outcome = {
            let Ok(_permit) = shared.permits.acquire().await else {
                return;
            };
            match tokio::time::timeout(options.timeout, post(&shared.url, &body)).await {
                Ok(r) => r,
                Err(_) => Err(format!("no answer within {:?}", options.timeout)),
            }
        };
        let error = match outcome {
            Ok(status) if (200..300).contains(&status) => {
                break WebhookReport::Delivered {
                    mailbox,
                    status,
                    attempts,
                    at: options.clock.wall(),
                };
            }
            Ok(status) if !retryable(status) => {
                break WebhookReport::Failed {
                    mailbox,
                    error: format!("{} answered {status}; not retried", shared.url),
                    attempts,
                    at: options.clock.wall(),
                };
            }
            Ok(status) => format!("{} answered {status}", shared.url),
            Err(e) => format!("{}: {e}", shared.url),
        };
        let give_up = attempts > options.retries
            || shared.stopping.load(Ordering::Relaxed)
            || superseded.load(Ordering::Relaxed);
        if give_up {
            break WebhookReport::Failed {
                mailbox,
                error,
                attempts,
                at: options.clock.wall(),
            };
        }
        let delay = backoff.failed();
        tracing::debug!(%mailbox, %error, backoff = ?delay, "webhook attempt failed; retrying");
        tokio::time::sleep(delay).await;
        if superseded.load(Ordering::Relaxed) || shared.stopping.load(Ordering::Relaxed) {
            break WebhookReport::Failed {
                mailbox,
                error: format!("{error}; not retried (superseded or stopping)"),
                attempts,
                at: options.clock.wall(),
            };
        }
    };
    if let WebhookReport::Failed { mailbox, error, .. } = &report {
        tracing::warn!(%mailbox, %error, "webhook not delivered");
    }
    let _ = shared.reports.try_send(report);
}

/// One `POST`; the status code of the answer.
async fn post(url: &WebhookUrl, body: &str) -> Result<u16, String> {
    let mut stream = TcpStream::connect((url.host.as_str(), url.port))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = stream.set_nodelay(true);
    let request = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: imapvm/{}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        url.path,
        url.host_header(),
        env!("CARGO_PKG_VERSION"),
        body.len(),
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("send: {e}"))?;
    let mut head = Vec::with_capacity(256);
    let mut buf = [0u8; 1024];
    loop {
        if let Some(end) = head.iter().position(|&b| b == b'\n') {
            return parse_status(&head[..end]);
        }
        if head.len() > MAX_RESPONSE_HEAD {
            return Err(format!(
                "the status line is longer than {MAX_RESPONSE_HEAD} bytes"
            ));
        }
        let n = stream
            .read(&mut buf)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("closed before a status line".into());
        }
        head.extend_from_slice(&buf[..n]);
    }
}

/// `HTTP/1.1 204 No Content` → 204.
fn parse_status(line: &[u8]) -> Result<u16, String> {
    let text = String::from_utf8_lossy(line);
    let text = text.trim_end();
    let mut parts = text.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    let code = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") || code.len() != 3 {
        let shown: String = text.chars().take(80).collect();
        return Err(format!("not an HTTP/1 status line: {shown:?}"));
    }
    match code.parse::<u16>() {
        Ok(c) if (100..600).contains(&c) => Ok(c),
        _ => Err(format!("bad status code {code:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use imapvm::clock::Clock;
    use imapvm_harness::time::FixedWall;
    use imapvm_policy::MwiCounts;

    #[test]
    fn status_lines() {
        assert_eq!(parse_status(b"HTTP/1.1 204 No Content\r"), Ok(204));
        assert_eq!(parse_status(b"HTTP/1.0 503"), Ok(503));
        assert!(parse_status(b"SSH-2.0-OpenSSH").is_err());
        assert!(parse_status(b"HTTP/1.1 20 x").is_err());
        assert!(parse_status(b"HTTP/1.1 999 x").is_err());
        assert!(parse_status(b"HTTP/2 200").is_err());
    }

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
        let options = WebhookOptions {
            retries: 3,
            clock: Arc::new(wall),
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
                ConfigError::OutOfBounds {
                    field: "backoff_first",
                    ..
                }
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
        };
        assert_eq!(
            event_json(&e),
            r#"{"at":"2026-11-26T06:21:34.123Z","context":"de\"fault","mailbox":"1234","new":2,"old":3,"urgent":1}"#
        );
    }
}
