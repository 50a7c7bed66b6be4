//! One logged-in IMAP connection: the sans-IO `imapvm-proto` core on a tokio socket (plain
//! or rustls), run by the runtime's one [`Driver`] (it writes while it reads, with
//! `imapwritetimeout` as its write timeout and `imapreadtimeout` as each turn's read
//! timeout). It remembers what is selected, so no NOOP/SELECT ritual precedes a command.
//!
//! [`Session`] is public as the runtime's connection-level seam for the services above it:
//! the MWI watcher (`imapvm-watch`) opens its own sessions for IDLE and NOTIFY, and
//! migration (`imapvm-migrate`) pipelines APPENDs on the pooled one
//! ([`Mailbox::with_account`](crate::Mailbox::with_account)). Commands are the
//! `imapvm-proto` [`Connection`]'s, queued with [`Session::queue`] and sent, pipelined, by
//! [`Session::wait`].

use std::any::Any;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use std::sync::Arc;

use imapvm_policy::login::{GREETING_BYTES, PasswordPath, ignores_authzid, may_send_password};
use imapvm_policy::{Capabilities, Capability, Hierarchy, MailboxName, Uid, UidValidity};
use imapvm_proto::{
    CommandId, Config as ProtoConfig, Connection, Event, OAuthMechanism, Outcome, RefusalKind,
    SelectedMailbox, State, Stats, Unsolicited,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::account::{Account, AccountKey, Credentials, Security};
use crate::clock::SharedClock;
use crate::driver::{DriveError, Driver, Progress};
use crate::error::{Error, Insecure, Result, TlsError};
use crate::oauth::{self, TokenCommand};
use crate::tls;

/// The socket under a session: TCP, or TCP in rustls (implicit TLS, STARTTLS).
trait Socket: AsyncRead + AsyncWrite + Unpin + Send + Sync + Any {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync + Any> Socket for T {}

type Stream = Box<dyn Socket>;

/// Whether `stream` is the rustls one.
fn is_tls(stream: &dyn Socket) -> bool {
    (stream as &dyn Any).is::<TlsStream<TcpStream>>()
}

/// What the connection has selected.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Selected {
    /// The mailbox (wire name).
    pub name: MailboxName,
    /// Its UIDVALIDITY (`None` when the server gave none, which RFC 3501 does not allow:
    /// then no UID of it can be named, and the operations refuse to work in it).
    pub uid_validity: Option<UidValidity>,
    /// `[HIGHESTMODSEQ]` at SELECT (CONDSTORE; `None` when the server gave none).
    pub highest_modseq: Option<u64>,
    /// `[UIDNEXT]` at SELECT.
    pub uid_next: Option<Uid>,
    /// `* n EXISTS` at SELECT.
    pub exists: u32,
}

/// A UID the server reported gone while this session was selected on `mailbox`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Gone {
    pub mailbox: MailboxName,
    pub uid: Uid,
}

/// A logged-in IMAP connection (see the module docs).
pub struct Session {
    label: String,
    key: AccountKey,
    account: Account,
    /// The proto core on the socket.
    driver: Driver<Connection, Stream>,
    done: HashMap<CommandId, std::result::Result<Outcome, imapvm_proto::Error>>,
    /// Commands whose results nobody takes (the pipelined NOOP before a batch).
    background: Vec<CommandId>,
    /// How many times the server reported a change of the selected view (EXISTS, EXPUNGE,
    /// VANISHED, FETCH): an answer computed while this moved may predate the change.
    view_changes: u64,
    selected: Option<Selected>,
    gone: Vec<Gone>,
    hierarchy: Hierarchy,
    /// Change signals for the MWI watcher (`imapvm-watch`).
    changes: ServerChanges,
    /// The first bytes of the server's greeting (which implementation it is:
    /// `imapvm_policy::login`).
    greeting: Vec<u8>,
}

/// Largest number of distinct folders [`ServerChanges`] names; beyond it, `overflow` is set.
const MAX_CHANGED_FOLDERS: usize = 256;

/// What the server said changed since the last [`Session::take_changes`]: unsolicited
/// EXISTS/EXPUNGE/VANISHED/FETCH in the selected folder, or a NOTIFY `* STATUS` of a folder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerChanges {
    /// Wire names of the folders that changed (the selected one included).
    pub folders: std::collections::BTreeSet<String>,
    /// More folders changed than are named: treat every folder as changed.
    pub overflow: bool,
}

impl ServerChanges {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.folders.is_empty() && !self.overflow
    }

    fn note(&mut self, folder: &str) {
        if self.folders.len() >= MAX_CHANGED_FOLDERS && !self.folders.contains(folder) {
            self.overflow = true;
        } else {
            self.folders.insert(folder.to_owned());
        }
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("account", &self.label)
            .field("state", &self.conn().state())
            .field("selected", &self.selected)
            .finish_non_exhaustive()
    }
}

/// Idle time before the kernel's first keepalive probe.
pub(crate) const KEEPALIVE_TIME: Duration = Duration::from_secs(60);
/// Between probes.
pub(crate) const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
/// Unanswered probes before the kernel gives up on the connection.
pub(crate) const KEEPALIVE_PROBES: u32 = 3;

/// TCP keepalive on every connection: a server host that vanishes without closing the
/// connection (power loss, a dropped NAT mapping) is noticed after about
/// `KEEPALIVE_TIME + KEEPALIVE_PROBES * KEEPALIVE_INTERVAL` (90 s) of silence, also while
/// IDLE waits with no read deadline. A server process that hangs with its host up is the
/// proto core's `idle_silence` probe's to notice. Failing to set it is not an error.
fn set_keepalive(tcp: &TcpStream) {
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(KEEPALIVE_TIME)
        .with_interval(KEEPALIVE_INTERVAL);
    #[cfg(any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_os = "macos"
    ))]
    let keepalive = keepalive.with_retries(KEEPALIVE_PROBES);
    if let Err(e) = socket2::SockRef::from(tcp).set_tcp_keepalive(&keepalive) {
        tracing::debug!(error = %e, "cannot set TCP keepalive");
    }
}

impl Session {
    /// Connects, secures, logs in and learns the hierarchy; every `now` (the core's
    /// deadlines, IDLE refresh) comes from `clock`.
    pub async fn open(account: &Account, clock: &SharedClock) -> Result<Session> {
        let key = account.key();
        account.check().map_err(|source| Error::Settings {
            account: key.clone(),
            source,
        })?;
        let label = key.to_string();
        let addr = format!(
            "{}:{}",
            account.server.trim_start_matches('[').trim_end_matches(']'),
            account.port
        );
        tracing::debug!(account = %label, "connecting");
        let tcp = match tokio::time::timeout(account.open_timeout, TcpStream::connect(&addr)).await
        {
            Ok(Ok(tcp)) => tcp,
            Ok(Err(source)) => {
                return Err(Error::Connect {
                    account: key,
                    source: Arc::new(source),
                });
            }
            Err(_) => {
                return Err(Error::Connect {
                    account: key,
                    source: Arc::new(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!(
                            "no connection within imapopentimeout ({:?})",
                            account.open_timeout
                        ),
                    )),
                });
            }
        };
        let _ = tcp.set_nodelay(true);
        set_keepalive(&tcp);
        let proto_config = ProtoConfig {
            command_timeout: account.read_timeout,
            greeting_timeout: account.open_timeout,
            ..ProtoConfig::default()
        };
        // The account's timeouts were checked above; the core checks its whole configuration.
        let conn = match Connection::new(proto_config, clock.now()) {
            Ok(conn) => conn,
            Err(source) => {
                return Err(Error::Settings {
                    account: key,
                    source,
                });
            }
        };
        let driver = Driver::new(conn, Box::new(tcp) as Stream, clock.clone())
            .with_label(label.clone())
            .with_write_timeout(account.write_timeout);
        let mut session = Session {
            label,
            key,
            account: account.clone(),
            driver,
            done: HashMap::new(),
            background: Vec::new(),
            view_changes: 0,
            selected: None,
            gone: Vec::new(),
            hierarchy: Hierarchy::dovecot(),
            changes: ServerChanges::default(),
            greeting: Vec::new(),
        };
        if account.security == Security::ImplicitTls {
            session.handshake().await?;
        }
        session.wait_greeting().await?;
        session.secure_and_login().await?;
        session.learn_hierarchy().await?;
        tracing::debug!(account = %session.label, "logged in");
        Ok(session)
    }

    /// `user@server:port`.
    pub fn label(&self) -> &str {
        &self.label
    }

    fn conn(&self) -> &Connection {
        self.driver.core()
    }

    /// The account, typed (errors name it).
    pub fn key(&self) -> &AccountKey {
        &self.key
    }

    /// Whether the connection can take commands.
    pub fn is_usable(&self) -> bool {
        matches!(
            self.conn().state(),
            State::Authenticated | State::Selected { .. }
        )
    }

    /// The proto core's counters (round trips, bytes, commands).
    pub fn stats(&self) -> Stats {
        self.conn().stats()
    }

    /// The server's capabilities (known once logged in; empty while they are not), as the
    /// protocol core and the policy decisions both read them.
    pub fn capabilities(&self) -> &Capabilities {
        static UNKNOWN: Capabilities = Capabilities::new();
        self.conn().capabilities().unwrap_or(&UNKNOWN)
    }

    /// The personal namespace prefix and delimiter.
    pub fn hierarchy(&self) -> &Hierarchy {
        &self.hierarchy
    }

    /// What is selected now.
    pub fn selected(&self) -> Option<&Selected> {
        self.selected.as_ref()
    }

    /// The view-change counter (see the field).
    pub(crate) fn view_changes(&self) -> u64 {
        self.view_changes
    }

    /// UIDs the server reported expunged since the last call.
    pub(crate) fn take_gone(&mut self) -> Vec<Gone> {
        std::mem::take(&mut self.gone)
    }

    /// Wraps a proto error with this account and a context.
    fn protocol_error(&self, context: impl Into<String>, source: imapvm_proto::Error) -> Error {
        Error::Protocol {
            account: self.key.clone(),
            context: context.into(),
            source: Box::new(source),
        }
    }

    /// Queues a command (nothing is sent until [`Session::wait`]).
    pub fn queue(
        &mut self,
        context: &str,
        f: impl FnOnce(&mut Connection) -> std::result::Result<CommandId, imapvm_proto::Error>,
    ) -> Result<CommandId> {
        f(self.driver.core_mut()).map_err(|e| self.protocol_error(context, e))
    }

    /// Sends what is queued and waits until every command in `ids` completed.
    pub async fn wait(&mut self, ids: &[CommandId]) -> Result<()> {
        loop {
            self.drain_events();
            let background_done = self.background.iter().all(|id| self.done.contains_key(id));
            if background_done && ids.iter().all(|id| self.done.contains_key(id)) {
                // What is queued still goes out (commands queued meanwhile, the rest of a
                // literal the server refused early).
                self.flush().await?;
                for id in std::mem::take(&mut self.background) {
                    if let Some(Err(e)) = self.done.remove(&id) {
                        tracing::debug!(account = %self.label, error = %e, "NOOP failed");
                    }
                }
                return Ok(());
            }
            if self.conn().state() == State::UpgradePending {
                return Ok(());
            }
            if self.conn().state() == State::Failed {
                return Err(self.failure("connection"));
            }
            self.read_some().await?;
        }
    }

    /// The result of a completed command.
    pub fn take(&mut self, context: &str, id: CommandId) -> Result<Outcome> {
        match self.done.remove(&id) {
            Some(Ok(outcome)) => Ok(outcome),
            Some(Err(e)) => Err(self.protocol_error(context, e)),
            None => Err(Error::Unexpected {
                account: self.key.clone(),
                command: "a command that did not complete",
            }),
        }
    }

    /// Runs one command to completion.
    pub async fn exec(
        &mut self,
        context: &str,
        f: impl FnOnce(&mut Connection) -> std::result::Result<CommandId, imapvm_proto::Error>,
    ) -> Result<Outcome> {
        let id = self.queue(context, f)?;
        self.wait(&[id]).await?;
        self.take(context, id)
    }

    /// Writes everything queued (reading meanwhile), then takes the events.
    async fn flush(&mut self) -> Result<()> {
        let flushed = self.driver.flush().await;
        flushed.map_err(|e| self.drive_error(e))?;
        self.drain_events();
        Ok(())
    }

    /// One turn of the driver: writes what is queued, then waits at most
    /// `imapreadtimeout` for the server (the core's own timers fire on the way).
    async fn read_some(&mut self) -> Result<()> {
        let greeting = self.conn().state() == State::Greeting;
        match self.driver.turn_within(self.account.read_timeout).await {
            Ok(Progress::Read(_)) => {
                if greeting {
                    let room = GREETING_BYTES.saturating_sub(self.greeting.len());
                    let read = self.driver.last_read();
                    self.greeting
                        .extend_from_slice(&read[..read.len().min(room)]);
                }
                Ok(())
            }
            Ok(Progress::Eof | Progress::Timer) => Ok(()),
            Ok(Progress::Deadline) => Err(self.io_error(
                "reading",
                std::io::Error::new(std::io::ErrorKind::TimedOut, "imapreadtimeout passed"),
            )),
            Err(e) => Err(self.drive_error(e)),
        }
    }

    /// The connection's sticky failure as this session's error.
    fn failure(&self, context: &str) -> Error {
        let err = self
            .conn()
            .error()
            .cloned()
            .unwrap_or(imapvm_proto::Error::Closed(imapvm_proto::Closed::LoggedOut));
        self.protocol_error(context, err)
    }

    fn drain_events(&mut self) {
        while let Some(event) = self.driver.core_mut().poll_event() {
            match event {
                Event::Completed { id, result } => {
                    if let Ok(Outcome::Selected(sel)) = &result {
                        self.note_selected(sel);
                    }
                    self.done.insert(id, result);
                }
                Event::Unsolicited(u) => self.note_unsolicited(u),
                Event::Diagnostic(d) => {
                    tracing::debug!(account = %self.label, reason = %d.reason, bytes = %d.bytes, "skipped a server response");
                }
                Event::Failed(e) => {
                    tracing::debug!(account = %self.label, error = %e, "connection failed");
                    self.selected = None;
                }
                Event::Greeting(_) | Event::IdleStarted { .. } => {}
            }
        }
    }

    fn note_selected(&mut self, sel: &SelectedMailbox) {
        let Some(mailbox) = &sel.mailbox else {
            return;
        };
        self.selected = Some(Selected {
            name: mailbox.clone(),
            uid_validity: sel.uid_validity,
            highest_modseq: sel.highest_modseq,
            uid_next: sel.uid_next,
            exists: sel.exists,
        });
    }

    fn note_unsolicited(&mut self, u: Unsolicited) {
        self.note_change(&u);
        if matches!(
            u,
            Unsolicited::Exists(_)
                | Unsolicited::Expunged { .. }
                | Unsolicited::Vanished { .. }
                | Unsolicited::Fetch { .. }
        ) {
            self.view_changes = self.view_changes.wrapping_add(1);
        }
        match u {
            Unsolicited::Expunged { uid: Some(uid) } => {
                if let Some(sel) = &self.selected {
                    self.gone.push(Gone {
                        mailbox: sel.name.clone(),
                        uid,
                    });
                }
            }
            Unsolicited::Vanished { uids, .. } => {
                if let Some(sel) = &self.selected {
                    for uid in uids.iter() {
                        self.gone.push(Gone {
                            mailbox: sel.name.clone(),
                            uid,
                        });
                    }
                }
            }
            Unsolicited::Alert(text) => {
                tracing::warn!(account = %self.label, "server alert: {text}");
            }
            Unsolicited::Bye { text, .. } => {
                tracing::debug!(account = %self.label, "server said BYE: {text}");
                self.selected = None;
            }
            other @ (Unsolicited::Exists(_)
            | Unsolicited::Recent(_)
            | Unsolicited::Expunged { uid: None }
            | Unsolicited::Fetch { .. }
            | Unsolicited::Status(_)
            | Unsolicited::Flags(_)
            | Unsolicited::Notice { .. }
            | Unsolicited::CapabilitiesChanged) => {
                tracing::trace!(account = %self.label, ?other, "unsolicited");
            }
        }
    }

    /// Records what the MWI watcher needs to know about `u`.
    fn note_change(&mut self, u: &Unsolicited) {
        match u {
            Unsolicited::Exists(_)
            | Unsolicited::Expunged { .. }
            | Unsolicited::Vanished { .. }
            | Unsolicited::Fetch { .. } => {
                if let Some(sel) = &self.selected {
                    self.changes.note(sel.name.as_wire());
                }
            }
            Unsolicited::Status(status) => match &status.mailbox {
                Some(mailbox) => self.changes.note(mailbox.as_wire()),
                None => self.changes.overflow = true,
            },
            Unsolicited::Recent(_)
            | Unsolicited::Flags(_)
            | Unsolicited::Alert(_)
            | Unsolicited::Notice { .. }
            | Unsolicited::Bye { .. }
            | Unsolicited::CapabilitiesChanged => {}
        }
    }

    /// Gives back memory kept from the last commands (results nobody took, the proto
    /// core's queues, the driver's buffers): before a long wait (IDLE), when thousands of
    /// connections wait at once (the MWI watcher).
    pub fn shrink_buffers(&mut self) {
        self.done.shrink_to_fit();
        self.background.shrink_to_fit();
        self.gone.shrink_to_fit();
        self.driver.shrink_buffers();
        self.driver.core_mut().shrink_buffers();
    }

    /// Probe the server after this much silence while IDLE waits (see
    /// `imapvm_proto::Config::idle_silence`).
    pub fn set_idle_silence(&mut self, silence: Option<Duration>) {
        self.driver.core_mut().set_idle_silence(silence);
    }

    /// Whether `ENABLE QRESYNC` succeeded on this connection.
    pub fn qresync_enabled(&self) -> bool {
        self.conn().qresync_enabled()
    }

    /// The changes the server reported since the last call (for the MWI watcher).
    pub fn take_changes(&mut self) -> ServerChanges {
        std::mem::take(&mut self.changes)
    }

    /// Queues `IDLE` (the watcher); end it with [`Session::idle_done`].
    pub fn idle(&mut self) -> Result<CommandId> {
        self.queue("IDLE", Connection::idle)
    }

    /// Sends `DONE` for the running IDLE (it then completes; [`Session::wait`] for it).
    pub fn idle_done(&mut self) -> Result<()> {
        let now = self.driver.now();
        let done = self.driver.core_mut().idle_done(now);
        done.map_err(|e| self.protocol_error("IDLE DONE", e))
    }

    /// Waits for server data with no read deadline (while IDLE or NOTIFY runs), until
    /// `until`: `Ok(true)` when something was read, `Ok(false)` when `until` passed. The
    /// core's own timers (IDLE refresh, command deadlines) are honoured on the way.
    pub async fn read_until(&mut self, until: Instant) -> Result<bool> {
        self.flush().await?;
        let got = match self.driver.turn(Some(until)).await {
            Ok(progress) => matches!(progress, Progress::Read(_)),
            Err(e) => return Err(self.drive_error(e)),
        };
        self.flush().await?;
        if self.conn().state() == State::Failed || self.conn().state() == State::Logout {
            return Err(self.failure("waiting for changes"));
        }
        Ok(got)
    }

    fn io_error(&mut self, what: &'static str, source: std::io::Error) -> Error {
        self.selected = None;
        self.driver.core_mut().handle_eof();
        Error::Io {
            account: self.key.clone(),
            what,
            source: Arc::new(source),
        }
    }

    fn drive_error(&mut self, e: DriveError) -> Error {
        match e {
            DriveError::Read(source) => self.io_error("reading", source),
            DriveError::Write(source) => self.io_error("writing", source),
            DriveError::WriteTimeout(_) => self.io_error(
                "writing",
                std::io::Error::new(std::io::ErrorKind::TimedOut, "imapwritetimeout passed"),
            ),
        }
    }

    async fn wait_greeting(&mut self) -> Result<()> {
        while self.conn().state() == State::Greeting {
            self.read_some().await?;
        }
        self.drain_events();
        match self.conn().state() {
            State::NotAuthenticated | State::Authenticated => Ok(()),
            State::Failed => Err(self.failure("greeting")),
            _ => Err(Error::Unexpected {
                account: self.key.clone(),
                command: "the greeting",
            }),
        }
    }

    async fn handshake(&mut self) -> Result<()> {
        let taken = std::mem::replace(self.driver.stream_mut(), Box::new(tokio::io::empty()));
        let Ok(tcp) = (taken as Box<dyn Any>).downcast::<TcpStream>() else {
            return Err(Error::Unexpected {
                account: self.key.clone(),
                command: "TLS (requested twice)",
            });
        };
        let tls_error = |source: TlsError| Error::Tls {
            account: self.key.clone(),
            source: Box::new(source),
        };
        if !self.account.verify_certificate {
            tracing::warn!(account = %self.label, "imapflags=novalidate-cert: the server certificate is NOT verified");
        }
        let ca_file = self
            .account
            .ca_file
            .as_deref()
            .map(|path| tls::CaFile::new("imapcafile", path));
        let verification = if self.account.verify_certificate {
            tls::Verification::Verify
        } else {
            tls::Verification::NoValidateCert
        };
        let config = tls::client_config(ca_file, verification).map_err(tls_error)?;
        let handshake = tls::handshake(config, &self.account.server, *tcp);
        let tls = match tokio::time::timeout(self.account.open_timeout, handshake).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(tls::HandshakeError::Tls(e))) => return Err(tls_error(e)),
            Ok(Err(tls::HandshakeError::Io(e))) => return Err(self.io_error("TLS handshake", e)),
            Err(_) => return Err(tls_error(TlsError::HandshakeTimeout)),
        };
        *self.driver.stream_mut() = Box::new(tls);
        tracing::debug!(account = %self.label, "TLS established");
        Ok(())
    }

    async fn refresh_capabilities(&mut self) -> Result<()> {
        if self.conn().capabilities().is_none() {
            self.exec("CAPABILITY", |c| c.capability()).await?;
        }
        Ok(())
    }

    async fn secure_and_login(&mut self) -> Result<()> {
        if self.conn().state() == State::Authenticated {
            // PREAUTH: the server already knows who we are.
            return self.refresh_capabilities().await;
        }
        self.refresh_capabilities().await?;
        let offers_starttls = self.capabilities().contains(Capability::StartTls);
        let want_starttls = match self.account.security {
            Security::ImplicitTls | Security::Plain => false,
            Security::StartTlsRequired => {
                if !offers_starttls {
                    return Err(Error::Insecure {
                        account: self.key.clone(),
                        reason: Insecure::StartTlsNotOffered,
                    });
                }
                true
            }
            Security::StartTlsIfOffered => offers_starttls,
        };
        if want_starttls {
            let outcome = self.exec("STARTTLS", |c| c.starttls()).await?;
            if !matches!(outcome, Outcome::UpgradeNow) {
                return Err(Error::Unexpected {
                    account: self.key.clone(),
                    command: "STARTTLS",
                });
            }
            self.handshake().await?;
            let upgraded = self.driver.core_mut().tls_established();
            upgraded.map_err(|e| self.protocol_error("STARTTLS", e))?;
            self.refresh_capabilities().await?;
        }
        if !may_send_password(PasswordPath {
            encrypted: is_tls(&**self.driver.stream_mut()),
            clear_text_accepted: self.account.security == Security::Plain,
            loopback: self.account.is_loopback(),
        }) {
            return Err(Error::Insecure {
                account: self.key.clone(),
                reason: Insecure::ClearText,
            });
        }
        let caps = self.capabilities().clone();
        let plain = caps.contains(Capability::AuthPlain);
        let credentials = self.account.credentials.clone();
        let outcome = match &credentials {
            Credentials::Proxy {
                user,
                auth_user,
                password,
            } => {
                if !plain {
                    return Err(Error::Insecure {
                        account: self.key.clone(),
                        reason: Insecure::NoSaslPlain,
                    });
                }
                if let Some(server) = ignores_authzid(&self.greeting) {
                    // It would answer OK and open authuser's own mailbox: refuse before any
                    // credential is sent, rather than store voicemail in the wrong mailbox.
                    return Err(Error::Insecure {
                        account: self.key.clone(),
                        reason: Insecure::IgnoresAuthzid {
                            server,
                            auth_user: auth_user.clone(),
                            user: user.clone(),
                        },
                    });
                }
                self.login_step(|c| c.authenticate_plain(Some(user), auth_user, password))
                    .await?
            }
            Credentials::User { user, password } => {
                if plain {
                    self.login_step(|c| c.authenticate_plain(None, user, password))
                        .await?
                } else if caps.contains(Capability::LoginDisabled) {
                    return Err(Error::Insecure {
                        account: self.key.clone(),
                        reason: Insecure::LoginDisabled,
                    });
                } else {
                    self.login_step(|c| c.login(user, password)).await?
                }
            }
            Credentials::OAuth2 { user, token } => self.oauth_login(&caps, user, token).await?,
        };
        if let Outcome::Authenticated {
            capabilities_known: false,
        } = outcome
        {
            self.exec("CAPABILITY", |c| c.capability()).await?;
        }
        Ok(())
    }

    /// Logs in with a token from `imapoauthcmd` (OAUTHBEARER where offered, else XOAUTH2).
    /// A cached token the server refuses is dropped, the command runs once more and the
    /// login is retried once, on this connection (`crate::oauth`).
    async fn oauth_login(
        &mut self,
        caps: &Capabilities,
        user: &str,
        token: &TokenCommand,
    ) -> Result<Outcome> {
        let mechanism = OAuthMechanism::choose(caps).map_err(|_| Error::Insecure {
            account: self.key.clone(),
            reason: Insecure::NoOAuthMechanism,
        })?;
        let clock = self.driver.clock().clone();
        let (host, port) = (self.account.server.clone(), self.account.port);
        let login = oauth::Login {
            user,
            server: &host,
            timeout: self.account.open_timeout,
        };
        let server = Some((host.as_str(), port));
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (secret, origin) =
                token
                    .token(login, &clock)
                    .await
                    .map_err(|source| Error::TokenCommand {
                        account: self.key.clone(),
                        command: token.command().to_string(),
                        source,
                    })?;
            tracing::debug!(account = %self.label, %mechanism, ?origin, "logging in with an OAuth token");
            let result = self
                .login_step(|c| c.authenticate_oauth(mechanism, user, server, &secret))
                .await;
            let refused = matches!(
                &result,
                Err(Error::Auth { source, .. })
                    if matches!(&**source, imapvm_proto::Error::Refused(r) if r.kind == RefusalKind::No)
            );
            if refused {
                token.refused(&secret).await;
                if origin == oauth::Origin::Cache && attempt == 1 && self.is_not_authenticated() {
                    tracing::debug!(account = %self.label, "the server refused the cached token; running imapoauthcmd again");
                    continue;
                }
            }
            return result;
        }
    }

    /// Whether the connection waits for a login (another attempt may follow a refused one).
    fn is_not_authenticated(&self) -> bool {
        self.conn().state() == State::NotAuthenticated
    }

    async fn login_step(
        &mut self,
        f: impl FnOnce(&mut Connection) -> std::result::Result<CommandId, imapvm_proto::Error>,
    ) -> Result<Outcome> {
        let label = self.key.clone();
        let id = f(self.driver.core_mut()).map_err(|source| Error::Auth {
            account: label.clone(),
            source: Box::new(source),
        })?;
        self.wait(&[id]).await?;
        match self.done.remove(&id) {
            Some(Ok(o)) => Ok(o),
            Some(Err(source)) => Err(Error::Auth {
                account: label,
                source: Box::new(source),
            }),
            None => Err(Error::Unexpected {
                account: label,
                command: "LOGIN",
            }),
        }
    }

    async fn learn_hierarchy(&mut self) -> Result<()> {
        if self.capabilities().has("NAMESPACE")
            && let Outcome::Namespaces(ns) = self.exec("NAMESPACE", |c| c.namespace()).await?
        {
            if let Some(personal) = ns.personal.first()
                && let Ok(h) = Hierarchy::new(&personal.prefix, personal.delimiter)
            {
                self.hierarchy = h;
            }
            return Ok(());
        }
        if let Outcome::List(entries) = self.exec("LIST", |c| c.list("", "")).await? {
            let delimiter = entries.first().and_then(|e| e.delimiter);
            if let Ok(h) = Hierarchy::new("", delimiter) {
                self.hierarchy = h;
            }
        }
        Ok(())
    }

    /// Selects `name` read-write unless it is already selected; creates it when the server
    /// says it does not exist (Asterisk's auto-creation,
    /// `docs/reference/asterisk-imap-behaviour.md` §3.5).
    ///
    /// When it is already selected, a NOOP is queued (not sent): it goes out pipelined in
    /// front of the caller's next commands, at no extra round trip, so that the server
    /// brings the selected view up to date (Dovecot shows other sessions' new messages to a
    /// SEARCH only after such a sync).
    pub async fn select(&mut self, name: &MailboxName) -> Result<Selected> {
        if let Some(sel) = &self.selected
            && sel.name.same_mailbox(name)
            && matches!(self.conn().state(), State::Selected { read_only: false })
        {
            let sel = sel.clone();
            if self.background.is_empty() {
                let id = self.queue("NOOP", |c| c.noop())?;
                self.background.push(id);
            }
            return Ok(sel);
        }
        let context = format!("SELECT {name}");
        match self.exec(&context, |c| c.select(name)).await {
            Ok(_) => {}
            Err(Error::Protocol { source, .. }) if !source.is_fatal() => {
                tracing::debug!(account = %self.label, mailbox = %name, "SELECT failed ({source}); creating it");
                self.create(name).await?;
                self.exec(&context, |c| c.select(name)).await?;
            }
            Err(e) => return Err(e),
        }
        self.selected.clone().ok_or(Error::Unexpected {
            account: self.key.clone(),
            command: "SELECT",
        })
    }

    /// `CREATE name`; an existing mailbox is not an error.
    pub async fn create(&mut self, name: &MailboxName) -> Result<()> {
        match self
            .exec(&format!("CREATE {name}"), |c| c.create(name))
            .await
        {
            Ok(_) => Ok(()),
            Err(Error::Protocol { source, .. }) if !source.is_fatal() => {
                // ALREADYEXISTS (or a race with another creator): check that it is there.
                if self.exists(name).await? {
                    Ok(())
                } else {
                    Err(self.protocol_error(format!("CREATE {name}"), *source))
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Whether `name` exists (`LIST "" name`).
    pub async fn exists(&mut self, name: &MailboxName) -> Result<bool> {
        match self
            .exec(&format!("LIST {name}"), |c| c.list("", name.as_wire()))
            .await?
        {
            Outcome::List(entries) => Ok(entries.iter().any(|e| {
                e.mailbox.same_mailbox(name)
                    && !e.attributes.iter().any(|a| {
                        a.eq_ignore_ascii_case("\\NonExistent")
                            || a.eq_ignore_ascii_case("\\Noselect")
                    })
            })),
            _ => Ok(false),
        }
    }

    /// `LOGOUT`, bounded by `imapclosetimeout`; errors are ignored (the socket closes anyway).
    pub async fn logout(mut self) {
        let timeout = self.account.close_timeout;
        let fut = async {
            if let Ok(id) = self.driver.core_mut().logout() {
                let _ = self.wait(&[id]).await;
            }
        };
        let _ = tokio::time::timeout(timeout, fut).await;
    }
}

#[cfg(test)]
mod tests {
    //! Refusals that need a server misbehaving in a specific way: a scripted peer on loopback.

    use imapvm_harness::scripted::{Command, Imap, Literal, Log, Script, plain};
    use imapvm_testkit::{Peer, Reply};

    use super::*;
    use crate::account::{Account, Credentials, Security};
    use crate::clock::SystemClock;
    use imapvm_types::Secret;

    /// A peer that accepts and says nothing.
    async fn silent() -> Peer {
        Peer::script("stall").await.unwrap()
    }

    #[tokio::test]
    async fn connections_carry_tcp_keepalive() {
        let peer = silent().await;
        let tcp = TcpStream::connect(peer.addr()).await.unwrap();
        let sock = socket2::SockRef::from(&tcp);
        assert!(
            !sock.keepalive().unwrap(),
            "off by default, so the check below means something"
        );
        set_keepalive(&tcp);
        assert!(sock.keepalive().unwrap());
        assert_eq!(sock.tcp_keepalive_time().unwrap(), KEEPALIVE_TIME);
        #[cfg(target_os = "linux")]
        {
            assert_eq!(sock.tcp_keepalive_interval().unwrap(), KEEPALIVE_INTERVAL);
            assert_eq!(sock.tcp_keepalive_retries().unwrap(), KEEPALIVE_PROBES);
        }
    }

    /// The boxed socket keeps its type: STARTTLS takes the TCP stream back out of it, and
    /// the password policy asks whether it is the rustls one.
    #[tokio::test]
    async fn a_boxed_socket_is_told_apart_by_its_type() {
        let peer = silent().await;
        let tcp = TcpStream::connect(peer.addr()).await.unwrap();
        let stream: Stream = Box::new(tcp);
        assert!(!is_tls(&*stream));
        assert!((stream as Box<dyn Any>).downcast::<TcpStream>().is_ok());
    }

    /// A server offering `caps` that answers as usual, and every command it received.
    async fn scripted(caps: &'static str) -> (Peer, Log) {
        let log = Log::default();
        let l = log.clone();
        let peer = Peer::builder()
            .respond(move || Imap::new(caps, &l, plain))
            .await
            .unwrap();
        (peer, log)
    }

    fn account(port: u16, security: Security, credentials: Credentials) -> Account {
        Account {
            server: "127.0.0.1".into(),
            port,
            security,
            verify_certificate: true,
            ca_file: None,
            credentials,
            open_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(5),
            close_timeout: Duration::from_secs(1),
        }
    }

    fn user() -> Credentials {
        Credentials::User {
            user: "vm1".into(),
            password: Secret::new("s3cret"),
        }
    }

    /// On a non-loopback address (when this host has one) a server without STARTTLS gets no
    /// password in the default mode.
    #[tokio::test]
    async fn no_password_in_clear_to_a_non_loopback_server() {
        let probe = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
        let local = probe
            .connect("192.0.2.1:9")
            .ok()
            .and_then(|()| probe.local_addr().ok())
            .map(|a| a.ip())
            .filter(|ip| !ip.is_loopback() && !ip.is_unspecified());
        let Some(ip) = local else {
            // No non-loopback interface here: the decision is covered by the table test.
            return;
        };
        let log = Log::default();
        let l = log.clone();
        let peer = Peer::builder()
            .bind((ip, 0).into())
            .respond(move || Imap::new("IMAP4rev1 AUTH=PLAIN", &l, plain))
            .await
            .unwrap();
        let mut a = account(peer.port(), Security::StartTlsIfOffered, user());
        a.server = ip.to_string();
        let err = Session::open(&a, &SystemClock::shared()).await.unwrap_err();
        assert!(matches!(err, Error::Insecure { .. }), "{err}");
        assert!(
            !log.any("AUTHENTICATE") && !log.any("LOGIN"),
            "{:?}",
            log.lines()
        );
    }

    #[tokio::test]
    async fn starttls_required_but_not_offered_is_refused_before_any_credential() {
        let (peer, log) = scripted("IMAP4rev1 AUTH=PLAIN").await;
        let err = Session::open(
            &account(peer.port(), Security::StartTlsRequired, user()),
            &SystemClock::shared(),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, Error::Insecure { .. }), "{err}");
        assert!(err.to_string().contains("STARTTLS"), "{err}");
        assert!(log.lines().is_empty(), "{:?}", log.lines());
    }

    #[tokio::test]
    async fn logindisabled_without_sasl_plain_is_refused() {
        let (peer, log) = scripted("IMAP4rev1 LOGINDISABLED").await;
        let err = Session::open(
            &account(peer.port(), Security::Plain, user()),
            &SystemClock::shared(),
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("LOGINDISABLED"), "{err}");
        assert!(!log.any("LOGIN"), "{:?}", log.lines());
    }

    #[tokio::test]
    async fn authuser_sends_sasl_plain_with_imapuser_as_authzid() {
        let (peer, log) = scripted("IMAP4rev1 SASL-IR AUTH=PLAIN NAMESPACE").await;
        let creds = Credentials::Proxy {
            user: "vm1".into(),
            auth_user: "master".into(),
            password: Secret::new("mpw"),
        };
        let session = Session::open(
            &account(peer.port(), Security::Plain, creds),
            &SystemClock::shared(),
        )
        .await
        .unwrap();
        assert!(session.is_usable());
        let lines = log.lines();
        let auth = lines
            .iter()
            .find(|l| l.contains("AUTHENTICATE PLAIN"))
            .expect("an AUTHENTICATE");
        // base64("vm1\0master\0mpw")
        assert!(auth.ends_with("dm0xAG1hc3RlcgBtcHc="), "{auth}");
    }

    /// A server that answers an APPEND before reading its literal (here: 16 MiB of
    /// untagged data first), as a server may when it refuses a message early. A session that
    /// wrote the whole literal before reading would deadlock once both directions' socket
    /// buffers are full, and fail on `imapwritetimeout`; the driver reads while it writes.
    #[tokio::test]
    async fn a_large_append_is_written_while_the_server_already_answers() {
        use std::sync::atomic::{AtomicBool, Ordering};
        const LITERAL: usize = 16 << 20;
        const CHATTER: usize = 16 << 20;
        const CAPS: &str = "IMAP4rev1 SASL-IR AUTH=PLAIN LITERAL+ NAMESPACE";

        /// Answers an APPEND's literal with untagged chatter before reading it, and notes
        /// whether the whole literal came, all `x`.
        struct AnswerFirst(Arc<AtomicBool>);

        impl Script for AnswerFirst {
            fn answer(&mut self, c: &Command) -> Option<Reply> {
                let literal = c.literals.first()?;
                self.0.store(
                    literal.len() == LITERAL && literal.iter().all(|b| *b == b'x'),
                    Ordering::SeqCst,
                );
                Some(Reply::send(format!(
                    "{} OK [APPENDUID 7 1] stored\r\n",
                    c.tag
                )))
            }

            fn literal(&mut self, _: &Command, _: bool) -> Option<Literal> {
                let filler = format!("* OK {}\r\n", "f".repeat(1000));
                Some(Literal::Read(
                    filler.repeat(CHATTER.div_ceil(filler.len())).into_bytes(),
                ))
            }
        }

        let got_all = Arc::new(AtomicBool::new(false));
        let (log, got) = (Log::default(), Arc::clone(&got_all));
        let l = log.clone();
        let peer = Peer::builder()
            .respond(move || Imap::new(CAPS, &l, AnswerFirst(Arc::clone(&got))))
            .await
            .unwrap();
        let port = peer.port();
        let mut session = Session::open(
            &account(port, Security::Plain, user()),
            &SystemClock::shared(),
        )
        .await
        .unwrap();
        let message: std::sync::Arc<[u8]> = vec![b'x'; LITERAL].into();
        let inbox = imapvm_types::MailboxName::from_wire("INBOX").unwrap();
        let outcome = session
            .exec("APPEND", |c| c.append(&inbox, &[], message))
            .await
            .unwrap();
        assert!(matches!(outcome, Outcome::Appended(Some(_))), "{outcome:?}");
        let append = log.lines().into_iter().find(|l| l.contains(" APPEND "));
        assert!(
            append.is_some_and(|l| l.ends_with(&format!("{{{LITERAL}+}}"))),
            "LITERAL+: {:?}",
            log.lines()
        );
        assert!(
            got_all.load(Ordering::SeqCst),
            "the server got the whole literal"
        );
    }

    #[tokio::test]
    async fn a_silent_server_hits_the_open_timeout_not_a_hang() {
        let peer = silent().await;
        let mut a = account(peer.port(), Security::Plain, user());
        a.open_timeout = Duration::from_millis(300);
        a.read_timeout = Duration::from_millis(300);
        let started = std::time::Instant::now();
        let err = Session::open(&a, &SystemClock::shared()).await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(3), "{err}");
        assert!(err.is_connection_lost(), "{err}");
    }
}
