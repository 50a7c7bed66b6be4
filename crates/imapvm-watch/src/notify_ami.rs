//! Tells Asterisk over AMI the moment a box changes: the sans-IO [`imapvm_ami::Client`] on
//! the one driver of the sans-IO cores ([`imapvm_net::driver::Driver`]).
//!
//! [`AmiNotifier::start`] spawns one task per AMI target (imapvm.conf's `ami = host:port,user,
//! secret,mode` or `imapvm watch --ami`). The task connects (with a timeout), over TLS for
//! `tls://host:port` (`manager.conf` `tlsenable`, port 5039), waits for the
//! `Asterisk Call Manager/…` banner, logs in, and then sends one action per published
//! [`MwiEvent`]:
//!
//! * mode `refresh`: `Action: VoicemailRefresh` with `Context` and `Mailbox`, so
//!   app_voicemail recounts that box and publishes MWI itself;
//! * mode `mwi`: `Action: MWIUpdate` with `Mailbox: box@context`, `NewMessages` (new plus
//!   urgent, as app_voicemail publishes MWI) and `OldMessages` (for `res_mwi_external_ami`).
//!
//! The client sends a `Ping` when the link is quiet and fails when a response is late; the
//! task then reconnects with a doubling back-off (reset once logged in again) and sends
//! again every action that got no response (both actions are idempotent; if the box changed
//! meanwhile, only its latest state is sent). While Asterisk is unreachable, changes are
//! coalesced per box, so memory is bounded by the number of boxes. Outcomes come back as
//! [`AmiReport`]s (login, each response, each outage, once per outage).
//!
//! Secrets never appear in logs: the client's traces and [`AmiTarget`]'s Debug show `***`
//! [INV-6].
//!
//! TLS is the one set-up ([`imapvm_net::tls`]), built once at start: the certificate
//! is checked against the system roots plus `ami_cafile` ([`AmiOptions::ca_file`]), or not
//! at all for `tls://host:port/novalidate-cert` (with a warning in the log), as
//! `imapflags=novalidate-cert` does for IMAP. A refused certificate is a `Down` report and
//! retried with the back-off like any outage (the PBX's certificate may be replaced).
//!
//! Every time (the client's `now`, report timestamps) comes from [`AmiOptions::clock`].

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use imapvm::clock::{SharedClock, SystemClock};
use imapvm_ami::{Action, ActionId, Client, ClientConfig, ConfigError, Credentials, Event};
use imapvm_config::{AmiMode, AmiTarget, AmiTransport, ImapvmSection};
use imapvm_net::driver::{Driver, Progress};
use imapvm_net::tls::{self, Verification};
use imapvm_policy::{Backoff, MwiCounts};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;

use crate::metrics::{Metrics, Outcome, Output};
use crate::output::{Opened, OutputStartError, open, tls_config};
use crate::watch::{MwiEvent, backoff};

/// How the AMI driver behaves. [`AmiNotifier::start`] refuses a value out of bounds
/// (naming it) rather than repairing it.
#[derive(Debug, Clone)]
pub struct AmiOptions {
    /// First reconnect back-off (more than 0; doubled per failure up to `backoff_max`).
    pub backoff_first: Duration,
    /// Longest reconnect back-off (at least `backoff_first`).
    pub backoff_max: Duration,
    /// Connect timeout (more than 0): the TCP connection and, for `tls://`, the TLS
    /// handshake.
    pub connect_timeout: Duration,
    /// How long a clean log-off may take when stopping (more than 0).
    pub logoff_timeout: Duration,
    /// The protocol engine's keepalive, response timeout and limits (checked by
    /// [`Client::new`](imapvm_ami::Client::new)).
    pub client: ClientConfig,
    /// Reports buffered for a slow reader (at least 1); beyond that they are dropped (and
    /// counted in the log), never blocking the notifications themselves.
    pub report_queue: usize,
    /// Where every `now` comes from (the store's: [`imapvm::Store::clock`]).
    pub clock: SharedClock,
    /// `ami_cafile`: CA certificates (PEM) trusted for `tls://` targets besides the system
    /// roots.
    pub ca_file: Option<PathBuf>,
    /// Where answers are counted (`ami`: `ok` for `Response: Success`, `refused` for an
    /// error response, `failed` for an action that cannot be written) and timed.
    pub metrics: Metrics,
}

impl AmiOptions {
    /// The options `[imapvm]` sets (`ami_cafile`), with the defaults for the rest.
    pub fn from_section(section: &ImapvmSection) -> Self {
        AmiOptions {
            ca_file: section.ami_cafile.clone(),
            ..AmiOptions::default()
        }
    }

    /// Whether every option is within its bounds (the error names the first that is not).
    pub fn check(&self) -> Result<(), ConfigError> {
        ConfigError::require_backoff(self.backoff_first, self.backoff_max)?;
        ConfigError::require_nonzero("connect_timeout", self.connect_timeout)?;
        ConfigError::require_nonzero("logoff_timeout", self.logoff_timeout)?;
        ConfigError::require_positive("report_queue", self.report_queue)
    }
}

impl Default for AmiOptions {
    fn default() -> Self {
        AmiOptions {
            backoff_first: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            logoff_timeout: Duration::from_secs(2),
            client: ClientConfig::default(),
            report_queue: 1024,
            clock: SystemClock::shared(),
            ca_file: None,
            metrics: Metrics::default(),
        }
    }
}

/// What happened on the AMI link.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AmiReport {
    /// Logged in (again); queued actions are going out.
    LoggedIn {
        /// `[tls://]host:port[/novalidate-cert]`.
        target: String,
        /// The AMI version from the banner (`5.0.2`).
        version: String,
        /// When.
        at: SystemTime,
    },
    /// Asterisk answered an action of ours.
    Answered {
        /// `[tls://]host:port[/novalidate-cert]`.
        target: String,
        /// `box@context` the action was about.
        mailbox: String,
        /// `VoicemailRefresh` or `MWIUpdate`.
        action: &'static str,
        /// `Response: Success`.
        success: bool,
        /// Asterisk's `Message:` (the reason, on an error).
        message: Option<String>,
        /// When.
        at: SystemTime,
    },
    /// The link failed (connect, banner, login refused, a late response, closed). Sent once
    /// per outage; the driver keeps retrying.
    Down {
        /// `[tls://]host:port[/novalidate-cert]`.
        target: String,
        /// Why.
        error: String,
        /// When.
        at: SystemTime,
    },
}

/// One box's wanted state.
#[derive(Debug, Clone)]
struct Job {
    mailbox: String,
    context: String,
    counts: MwiCounts,
    /// When the change was seen (the latency is measured from it).
    seen: Option<Instant>,
}

impl Job {
    fn id(&self) -> String {
        format!("{}@{}", self.mailbox, self.context)
    }
}

enum Command {
    Notify(Job),
    Stop,
}

/// A running AMI output. Dropping it stops the task (without a clean log-off); prefer
/// [`AmiNotifier::stop`].
#[derive(Debug)]
pub struct AmiNotifier {
    commands: mpsc::UnboundedSender<Command>,
    reports: mpsc::Receiver<AmiReport>,
    task: Option<tokio::task::JoinHandle<()>>,
    target: String,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Notify(job) => write!(f, "Notify({})", job.id()),
            Command::Stop => f.write_str("Stop"),
        }
    }
}

impl AmiNotifier {
    /// Starts the driver for `target` (needs a tokio runtime). It connects at once and
    /// stays connected, so the first change does not wait for a login. An option out of
    /// bounds is refused ([`AmiOptions::check`]), and so is, for `tls://`, a `ca_file` that
    /// cannot be read or holds no certificate.
    pub fn start(target: &AmiTarget, options: AmiOptions) -> Result<AmiNotifier, OutputStartError> {
        options.check()?;
        let backoff = backoff(options.backoff_first, options.backoff_max)?;
        let label = target.address();
        let verification = match target.transport {
            AmiTransport::Tcp => None,
            AmiTransport::Tls => Some(Verification::Verify),
            AmiTransport::TlsNoValidateCert => Some(Verification::NoValidateCert),
        };
        let tls = match verification {
            None => None,
            Some(v) => Some(tls_config(
                &label,
                "ami_cafile",
                options.ca_file.as_deref(),
                v,
            )?),
        };
        let (commands, rx) = mpsc::unbounded_channel();
        let (report_tx, reports) = mpsc::channel(options.report_queue);
        let link = Link {
            host: target.host.clone(),
            port: target.port,
            tls,
            label: label.clone(),
            credentials: Credentials {
                username: target.username.clone(),
                secret: target.secret.clone(),
            },
            mode: target.mode,
            backoff,
            options,
            commands: rx,
            reports: report_tx,
            pending: BTreeMap::new(),
            stopping: false,
            dropped_reports: 0,
            last_version: String::new(),
        };
        Ok(AmiNotifier {
            commands,
            reports,
            task: Some(tokio::spawn(link.run())),
            target: label,
        })
    }

    /// `[tls://]host:port[/novalidate-cert]` of the target.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Sends the action for `event` (at once when logged in, else after the login).
    pub fn notify(&self, event: &MwiEvent) {
        let _ = self.commands.send(Command::Notify(Job {
            mailbox: event.mailbox.clone(),
            context: event.context.clone(),
            counts: event.counts,
            seen: event.seen,
        }));
    }

    /// The next report; `None` once the driver ended.
    pub async fn next_report(&mut self) -> Option<AmiReport> {
        self.reports.recv().await
    }

    /// A report if one is ready.
    pub fn try_report(&mut self) -> Option<AmiReport> {
        self.reports.try_recv().ok()
    }

    /// Logs off (when logged in) and ends the driver. Changes not yet sent are dropped.
    pub async fn stop(mut self) {
        let _ = self.commands.send(Command::Stop);
        // Keep draining reports so the driver never waits on us.
        if let Some(task) = self.task.take() {
            let mut task = task;
            loop {
                tokio::select! {
                    _ = &mut task => break,
                    r = self.reports.recv() => if r.is_none() { let _ = (&mut task).await; break; },
                }
            }
        }
    }
}

impl Drop for AmiNotifier {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// The task of one AMI target.
struct Link {
    host: String,
    port: u16,
    /// For `tls://`.
    tls: Option<Arc<tls::ClientConfig>>,
    label: String,
    credentials: Credentials,
    mode: AmiMode,
    /// Reconnects; reset once logged in.
    backoff: Backoff,
    options: AmiOptions,
    commands: mpsc::UnboundedReceiver<Command>,
    reports: mpsc::Sender<AmiReport>,
    /// Boxes whose latest state is not sent yet (latest wins).
    pending: BTreeMap<String, Job>,
    stopping: bool,
    dropped_reports: u64,
    /// The AMI version of the last banner.
    last_version: String,
}

/// Why a connection ended.
enum Ended {
    Failed(String),
    Stopped,
}

impl Link {
    fn now(&self) -> SystemTime {
        self.options.clock.wall()
    }

    fn report(&mut self, report: AmiReport) {
        if self.reports.try_send(report).is_err() {
            self.dropped_reports += 1;
            if self.dropped_reports.is_power_of_two() {
                tracing::warn!(target_ = %self.label, dropped = self.dropped_reports, "AMI reports dropped: nobody reads them");
            }
        }
    }

    fn action(&self, job: &Job) -> Result<Action, imapvm_ami::Error> {
        match self.mode {
            AmiMode::Refresh => Action::voicemail_refresh(&job.context, &job.mailbox),
            AmiMode::Mwi => Action::mwi_update(
                &job.mailbox,
                &job.context,
                job.counts.new.saturating_add(job.counts.urgent),
                job.counts.old,
            ),
        }
    }

    fn action_name(&self) -> &'static str {
        match self.mode {
            AmiMode::Refresh => "VoicemailRefresh",
            AmiMode::Mwi => "MWIUpdate",
        }
    }

    /// Takes a command while disconnected; false when the driver should end.
    fn absorb(&mut self, command: Option<Command>) -> bool {
        match command {
            Some(Command::Notify(job)) => {
                self.pending.insert(job.id(), job);
                true
            }
            Some(Command::Stop) | None => {
                self.stopping = true;
                false
            }
        }
    }

    async fn run(mut self) {
        let mut down = false;
        loop {
            if self.stopping {
                return;
            }
            let ended = self.connection(&mut down).await;
            let backoff = self.backoff.failed();
            match ended {
                Ended::Stopped => return,
                Ended::Failed(error) => {
                    tracing::debug!(target_ = %self.label, %error, ?backoff, "AMI link failed");
                    if !down {
                        down = true;
                        let (target, at) = (self.label.clone(), self.now());
                        self.report(AmiReport::Down { target, error, at });
                    }
                }
            }
            let sleep = tokio::time::sleep(backoff);
            tokio::pin!(sleep);
            loop {
                tokio::select! {
                    () = &mut sleep => break,
                    c = self.commands.recv() => if !self.absorb(c) { return },
                }
            }
        }
    }

    /// One connection: until it fails or the driver stops.
    async fn connection(&mut self, down: &mut bool) -> Ended {
        let (host, tls) = (self.host.clone(), self.tls.clone());
        let connect = tokio::time::timeout(
            self.options.connect_timeout,
            open(&host, self.port, tls.as_ref()),
        );
        tokio::pin!(connect);
        let opened = loop {
            tokio::select! {
                r = &mut connect => match r {
                    Ok(Ok(s)) => break s,
                    Ok(Err(e)) => return Ended::Failed(format!("{}: {e}", self.label)),
                    Err(_) => return Ended::Failed(format!(
                        "connect to {}: timed out after {:?}",
                        self.label, self.options.connect_timeout
                    )),
                },
                // Keep coalescing while connecting; a stop ends at once.
                c = self.commands.recv() => if !self.absorb(c) { return Ended::Stopped },
            }
        };
        match opened {
            Opened::Tcp(stream) => self.session(stream, down).await,
            Opened::Tls(stream) => self.session(*stream, down).await,
        }
    }

    /// The login and the actions on one open connection.
    async fn session<S>(&mut self, stream: S, down: &mut bool) -> Ended
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let clock = self.options.clock.clone();
        let client = match Client::new(
            self.credentials.clone(),
            self.options.client.clone(),
            clock.now(),
        ) {
            Ok(client) => client,
            Err(e) => {
                return Ended::Failed(format!("{}: AMI client settings: {e}", self.label));
            }
        };
        let mut driver =
            Driver::new(client, stream, clock).with_label(format!("ami {}", self.label));
        let mut inflight: HashMap<ActionId, Job> = HashMap::new();
        // Everything that waited goes out after the login (the client queues it).
        while let Some((_, job)) = self.pending.pop_first() {
            if !self.send(&mut driver, &mut inflight, job) {
                break;
            }
        }
        let mut logoff_deadline: Option<Instant> = None;
        loop {
            while let Some(event) = driver.core_mut().poll_event() {
                match event {
                    Event::Banner { version } => {
                        tracing::debug!(target_ = %self.label, %version, "AMI banner");
                        self.last_version = version;
                    }
                    Event::LoggedIn => {
                        self.backoff.succeeded();
                        *down = false;
                        let (target, version) = (self.label.clone(), self.last_version.clone());
                        let at = self.now();
                        self.report(AmiReport::LoggedIn {
                            target,
                            version,
                            at,
                        });
                    }
                    Event::Response { id, response } => {
                        if let Some(job) = inflight.remove(&id) {
                            let outcome = if response.is_success() {
                                Outcome::Ok
                            } else {
                                Outcome::Refused
                            };
                            let now = driver.now();
                            self.options
                                .metrics
                                .output(Output::Ami, outcome, job.seen, now);
                            let report = AmiReport::Answered {
                                target: self.label.clone(),
                                mailbox: job.id(),
                                action: self.action_name(),
                                success: response.is_success(),
                                message: response.message().map(str::to_owned),
                                at: self.now(),
                            };
                            if !response.is_success() {
                                // Reported (`Answered { success: false }`); whoever reads the
                                // reports logs it, once.
                                tracing::debug!(target_ = %self.label, mailbox = %job.id(), message = ?response.message(), "AMI action refused");
                            }
                            self.report(report);
                        }
                    }
                    Event::Failed { error, unanswered } => {
                        for id in unanswered {
                            if let Some(job) = inflight.remove(&id) {
                                // A newer state of the same box, if any, wins.
                                self.pending.entry(job.id()).or_insert(job);
                            }
                        }
                        for (_, job) in inflight.drain() {
                            self.pending.entry(job.id()).or_insert(job);
                        }
                        if self.stopping {
                            return Ended::Stopped;
                        }
                        return Ended::Failed(format!("{}: {error}", self.label));
                    }
                    Event::Closed => return Ended::Stopped,
                    Event::Event(p) | Event::Unmatched(p) => {
                        tracing::trace!(target_ = %self.label, packet = ?p, "AMI packet ignored");
                    }
                }
            }
            if driver.core().state() == imapvm_ami::State::Ready {
                // Held back at the outstanding limit: send now that answers came.
                while let Some((_, job)) = self.pending.pop_first() {
                    if !self.send(&mut driver, &mut inflight, job) {
                        break;
                    }
                }
            }
            tokio::select! {
                r = driver.turn(logoff_deadline) => match r {
                    // Only the log-off sets a deadline.
                    Ok(Progress::Deadline) => return Ended::Stopped,
                    Ok(Progress::Read(_) | Progress::Eof | Progress::Timer) => {}
                    Err(e) => {
                        tracing::debug!(target_ = %self.label, error = %e, "AMI link I/O failed");
                        driver.core_mut().handle_eof();
                    }
                },
                c = self.commands.recv(), if !self.stopping => match c {
                    Some(Command::Notify(job)) => {
                        // A newer state replaces one held back.
                        self.pending.remove(&job.id());
                        self.send(&mut driver, &mut inflight, job);
                    }
                    Some(Command::Stop) | None => {
                        self.stopping = true;
                        let now = driver.now();
                        if driver.core().state() == imapvm_ami::State::Ready
                            && driver.core_mut().logoff(now).is_ok()
                        {
                            logoff_deadline = Some(now + self.options.logoff_timeout);
                        } else {
                            return Ended::Stopped;
                        }
                    }
                },
            }
        }
    }

    /// Hands `job` to the client; false when it had to wait in `pending`.
    fn send<S>(
        &mut self,
        driver: &mut Driver<Client, S>,
        inflight: &mut HashMap<ActionId, Job>,
        job: Job,
    ) -> bool
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let action = match self.action(&job) {
            Ok(a) => a,
            Err(e) => {
                // A box or context with a line break cannot be sent; voicemail.conf
                // cannot produce one, so this is reported and dropped.
                tracing::warn!(target_ = %self.label, mailbox = %job.id(), error = %e, "AMI action not sent");
                let now = driver.now();
                self.options
                    .metrics
                    .output(Output::Ami, Outcome::Failed, job.seen, now);
                return true;
            }
        };
        let now = driver.now();
        match driver.core_mut().send(action, now) {
            Ok(id) => {
                inflight.insert(id, job);
                true
            }
            Err(_) => {
                // Failed or at the outstanding limit: keep the latest state for later.
                self.pending.entry(job.id()).or_insert(job);
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use imapvm_harness::time::{FixedWall, HangUp, assert_doubling};

    fn target(port: u16) -> AmiTarget {
        AmiTarget {
            host: "127.0.0.1".into(),
            port,
            username: "imapvm".into(),
            secret: imapvm_config::Secret::new("s3cret"),
            mode: AmiMode::Refresh,
            transport: imapvm_config::AmiTransport::Tcp,
        }
    }

    /// A PBX that hangs up at once is retried 0.5 s, 1 s, 2 s, 4 s apart in simulated time;
    /// one `Down` report per outage, stamped by the options' clock.
    #[tokio::test(start_paused = true)]
    async fn reconnects_back_off_doubling_in_simulated_time() {
        let mut peer = HangUp::start().await;
        let wall = FixedWall::at(1_795_674_094);
        let options = AmiOptions {
            clock: std::sync::Arc::new(wall),
            ..AmiOptions::default()
        };
        let started = std::time::Instant::now();
        let mut ami = AmiNotifier::start(&target(peer.port), options).unwrap();
        match ami.next_report().await {
            Some(AmiReport::Down { at, .. }) => assert_eq!(at, wall.0),
            other => panic!("{other:?}"),
        }
        assert_doubling(&peer.attempts(5).await, Duration::from_millis(500));
        assert!(ami.try_report().is_none(), "one report per outage");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "slept for real"
        );
        ami.stop().await;
    }

    #[tokio::test]
    async fn bad_backoff_bounds_are_refused_not_repaired() {
        let options = AmiOptions {
            backoff_first: Duration::from_secs(2),
            backoff_max: Duration::from_secs(1),
            ..AmiOptions::default()
        };
        let err = AmiNotifier::start(&target(1), options).unwrap_err();
        assert!(
            matches!(
                err,
                OutputStartError::Option(ConfigError::OutOfBounds {
                    field: "backoff_max",
                    ..
                })
            ),
            "{err}"
        );
    }
}
