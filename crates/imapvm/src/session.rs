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
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use std::sync::Arc;

use imapvm_policy::login::{
    GREETING_BYTES, PasswordPath, ignores_authzid, may_send_password, pipelines_after_login,
};
use imapvm_policy::{
    Capabilities, Capability, Hierarchy, MailboxName, SelectedView, Uid, UidSet, UidValidity,
    ViewMark,
};
use imapvm_proto::{
    CommandId, Config as ProtoConfig, Connection, Event, OAuthMechanism, Outcome, RefusalKind,
    SelectedMailbox, State, Stats, Unsolicited,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::account::{Account, AccountKey, Credentials, Security};
use crate::clock::SharedClock;
use crate::driver::{DriveError, Driver, Progress};
use crate::error::{Error, Insecure, Result, TlsError};
use crate::tls;
use imapvm_net::oauth::{self, TokenCommand};

/// The socket under a session: TCP, or TCP in rustls (implicit TLS, STARTTLS).
trait Socket: AsyncRead + AsyncWrite + Unpin + Send + Sync + Any {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync + Any> Socket for T {}

type Stream = Box<dyn Socket>;

/// Whether `stream` is the rustls one.
fn is_tls(stream: &dyn Socket) -> bool {
    (stream as &dyn Any).is::<tls::TlsStream>()
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

/// The next selection's number (`imapvm_policy::ViewMark::selection`): unique in the process,
/// so a view of one session is never taken for another's.
static NEXT_SELECTION: AtomicU64 = AtomicU64::new(1);

/// A UID the server reported gone while this session was selected on `mailbox`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Gone {
    pub mailbox: MailboxName,
    pub uid: Uid,
}

/// What [`Session::select_as`] sends for a mailbox that is already selected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewSync {
    /// A NOOP, pipelined in front of the caller's commands: the server brings the selected
    /// view up to date first (a SEARCH then sees other sessions' new messages).
    Noop,
    /// Nothing: the caller's commands name their messages by UID and ask again behind a NOOP
    /// when they find nothing (a play).
    AsIs,
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
    /// The selected view (`imapvm_policy::ViewMark`): a new one per SELECT, its blind
    /// expunges counted (`None` while nothing is selected).
    view_mark: Option<ViewMark>,
    hierarchy: Hierarchy,
    /// Change signals for the MWI watcher (`imapvm-watch`).
    changes: ServerChanges,
    /// The first bytes of the server's greeting (which implementation it is:
    /// `imapvm_policy::login`).
    greeting: Vec<u8>,
    /// The login and NAMESPACE [`Session::open_pipelined`] queued, not answered yet.
    pending: Option<PendingLogin>,
    /// The hierarchy was read while it was still a guess (NAMESPACE unanswered).
    guess_read: AtomicBool,
    /// A name computed from the guess may be wrong: the operation runs again.
    guess_wrong: bool,
    /// The pipelined login was refused: the error of the operation behind it.
    refusal: Option<Error>,
}

/// What a cold session sends in its first flight, before any answer: the login (none after
/// PREAUTH or an OAuth login, which are waited for) and NAMESPACE; the operation's SELECT
/// goes behind them ([`Session::select`]).
#[derive(Debug, Clone, Copy)]
struct PendingLogin {
    login: Option<CommandId>,
    namespace: CommandId,
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

impl Session {
    /// Connects, secures, logs in and learns the hierarchy; every `now` (the core's
    /// deadlines, IDLE refresh) comes from `clock`. The login and NAMESPACE go in one flight.
    pub async fn open(account: &Account, clock: &SharedClock) -> Result<Session> {
        let mut session = Session::open_pipelined(account, clock).await?;
        session.finish_login().await?;
        tracing::debug!(account = %session.label, "logged in");
        Ok(session)
    }

    /// [`Session::open`] up to the login, which is queued with NAMESPACE and not waited
    /// for: the operation's first commands go behind them in the same flight (see
    /// [`Session::select`]), and a refused login is the [`Error::Auth`] of the first
    /// [`Session::wait`]. Until then the hierarchy is a guess (Dovecot's).
    pub(crate) async fn open_pipelined(account: &Account, clock: &SharedClock) -> Result<Session> {
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
        imapvm_net::tcp::set_keepalive(&tcp);
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
            view_mark: None,
            background: Vec::new(),
            view_changes: 0,
            selected: None,
            gone: Vec::new(),
            hierarchy: Hierarchy::dovecot(),
            changes: ServerChanges::default(),
            greeting: Vec::new(),
            pending: None,
            guess_read: AtomicBool::new(false),
            guess_wrong: false,
            refusal: None,
        };
        if account.security == Security::ImplicitTls {
            session.handshake().await?;
        }
        session.wait_greeting().await?;
        session.secure_and_login().await?;
        Ok(session)
    }

    /// Waits for the pipelined login and NAMESPACE, if they are still unanswered.
    pub(crate) async fn finish_login(&mut self) -> Result<()> {
        if self.pending.is_some() {
            self.wait(&[]).await?;
        }
        Ok(())
    }

    /// Whether a name computed from the guessed hierarchy may be wrong (then the operation
    /// that computed it runs again; nothing but a SELECT went out meanwhile).
    pub(crate) fn take_guess_wrong(&mut self) -> bool {
        std::mem::take(&mut self.guess_wrong)
    }

    /// The [`Error::Auth`] of a refused pipelined login, once: whatever the operation behind
    /// it made of its failure, this is its error.
    pub(crate) fn take_login_refusal(&mut self) -> Option<Error> {
        self.refusal.take()
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

    /// Whether the connection can take commands (a pipelined login not answered yet
    /// included).
    pub fn is_usable(&self) -> bool {
        match self.conn().state() {
            State::Authenticated | State::Selected { .. } => true,
            State::NotAuthenticated => self.pending.is_some(),
            _ => false,
        }
    }

    /// Whether the login was answered (not pipelined and pending) and the connection works.
    pub(crate) fn is_logged_in(&self) -> bool {
        self.pending.is_none() && self.is_usable()
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

    /// The personal namespace prefix and delimiter (a guess, Dovecot's, while a pipelined
    /// NAMESPACE is unanswered: a name computed from it meanwhile is checked once it is).
    pub fn hierarchy(&self) -> &Hierarchy {
        if self.pending.is_some() {
            self.guess_read.store(true, Ordering::Relaxed);
        }
        &self.hierarchy
    }

    /// Whether commands may use SEARCHRES (`imapvm_policy::login::may_use_searchres`: the
    /// capabilities once logged in, before that the greeting).
    pub(crate) fn may_use_searchres(&self) -> bool {
        let login_pending = self.pending.is_some_and(|p| p.login.is_some());
        let caps = self.conn().capabilities().filter(|_| !login_pending);
        imapvm_policy::login::may_use_searchres(caps, &self.greeting)
    }

    /// What is selected now.
    pub fn selected(&self) -> Option<&Selected> {
        self.selected.as_ref()
    }

    /// The view-change counter (see the field).
    pub(crate) fn view_changes(&self) -> u64 {
        self.view_changes
    }

    /// The selected folder as the remembered flags of known UIDs need it
    /// (`imapvm_policy::known_flags`), when `name` is selected with a UIDVALIDITY.
    pub(crate) fn selected_view(&self, name: &MailboxName) -> Option<SelectedView> {
        let sel = self
            .selected
            .as_ref()
            .filter(|s| s.name.same_mailbox(name))?;
        Some(SelectedView {
            mark: self.view_mark?,
            uid_validity: sel.uid_validity?,
            highest_modseq: sel.highest_modseq,
            condstore: self.capabilities().contains(Capability::CondStore),
        })
    }

    /// The selected view's mark when `name` is selected.
    pub(crate) fn view_mark_of(&self, name: &MailboxName) -> Option<ViewMark> {
        self.selected
            .as_ref()
            .filter(|s| s.name.same_mailbox(name))
            .and(self.view_mark)
    }

    /// An expunge whose UID is unknown: what was remembered of the view's flags no longer
    /// holds.
    fn blind_expunge(&mut self) {
        if let Some(m) = self.view_mark.as_mut() {
            m.blind_expunges += 1;
        }
    }

    /// The UIDs of `name` the server reported expunged since the last
    /// [`Session::take_gone`], left there.
    pub(crate) fn gone_in(&self, name: &MailboxName) -> UidSet {
        self.gone
            .iter()
            .filter(|g| g.mailbox.same_mailbox(name))
            .map(|g| g.uid)
            .collect()
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

    /// Sends what is queued and waits until every command in `ids` completed (and the
    /// pipelined login: when it was refused, its [`Error::Auth`] is the answer).
    pub async fn wait(&mut self, ids: &[CommandId]) -> Result<()> {
        let first = self
            .pending
            .map(|p| p.login.into_iter().chain([p.namespace]).collect::<Vec<_>>())
            .unwrap_or_default();
        loop {
            self.drain_events();
            if let Some(login) = self.pending.and_then(|p| p.login)
                && matches!(self.done.get(&login), Some(Err(_)))
            {
                return self.settle_login().await;
            }
            let background_done = self.background.iter().all(|id| self.done.contains_key(id));
            let first_done = first.iter().all(|id| self.done.contains_key(id));
            if background_done && first_done && ids.iter().all(|id| self.done.contains_key(id)) {
                // What is queued still goes out (commands queued meanwhile, the rest of a
                // literal the server refused early).
                self.flush().await?;
                for id in std::mem::take(&mut self.background) {
                    if let Some(Err(e)) = self.done.remove(&id) {
                        tracing::debug!(account = %self.label, error = %e, "NOOP failed");
                    }
                }
                return self.settle_login().await;
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
                    match &result {
                        Ok(Outcome::Selected(sel)) => self.note_selected(sel),
                        // Expunges answered to a command of ours (theirs too, while it ran)
                        // are gone as the unsolicited ones are.
                        Ok(Outcome::Expunged { uids, unmapped }) => {
                            self.note_gone(uids.iter().copied());
                            if *unmapped > 0 {
                                self.blind_expunge();
                            }
                        }
                        // MOVE does not say how many expunges it could not map.
                        Ok(Outcome::Moved { expunged, .. }) => {
                            self.note_gone(expunged.iter().copied());
                            self.blind_expunge();
                        }
                        _ => {}
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

    /// Notes `uids` gone from the selected folder.
    fn note_gone(&mut self, uids: impl IntoIterator<Item = Uid>) {
        if let Some(sel) = &self.selected {
            for uid in uids {
                self.gone.push(Gone {
                    mailbox: sel.name.clone(),
                    uid,
                });
            }
        }
    }

    fn note_selected(&mut self, sel: &SelectedMailbox) {
        let Some(mailbox) = &sel.mailbox else {
            return;
        };
        self.view_mark = Some(ViewMark {
            selection: NEXT_SELECTION.fetch_add(1, Ordering::Relaxed),
            blind_expunges: 0,
        });
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
            Unsolicited::Expunged { uid: Some(uid) } => self.note_gone([uid]),
            Unsolicited::Vanished { uids, .. } => self.note_gone(uids.iter()),
            Unsolicited::Expunged { uid: None } => self.blind_expunge(),
            Unsolicited::Alert(text) => {
                tracing::warn!(account = %self.label, "server alert: {text}");
            }
            Unsolicited::Bye { text, .. } => {
                tracing::debug!(account = %self.label, "server said BYE: {text}");
                self.selected = None;
            }
            other @ (Unsolicited::Exists(_)
            | Unsolicited::Recent(_)
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

    /// Secures the connection and queues the login and NAMESPACE (see [`PendingLogin`]).
    ///
    /// Capabilities come from the greeting (a CAPABILITY only when it has none). After
    /// STARTTLS the pre-TLS list is discarded (RFC 3501 §6.2.1) and the new one is learnt
    /// from the login's tagged OK: when the discarded list had SASL-IR, the password goes at
    /// once as AUTHENTICATE PLAIN with an initial response (RFC 3501 requires AUTH=PLAIN of
    /// every server, and a server with SASL-IR is no older one); else, and for OAuth, a
    /// CAPABILITY over TLS chooses the mechanism, as before. Every check happens first: the
    /// password goes only over TLS or to loopback (`may_send_password`), never to a server
    /// that ignores an authzid, never as LOGIN where LOGINDISABLED is known.
    async fn secure_and_login(&mut self) -> Result<()> {
        if self.conn().state() == State::Authenticated {
            // PREAUTH: the server already knows who we are.
            self.refresh_capabilities().await?;
            return self.queue_first(None).await;
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
        let credentials = self.account.credentials.clone();
        if want_starttls {
            let sasl_ir = self.capabilities().contains(Capability::SaslIr);
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
            if !sasl_ir || matches!(credentials, Credentials::OAuth2 { .. }) {
                self.refresh_capabilities().await?;
            }
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
        // Unknown only after STARTTLS with SASL-IR announced before it (see above).
        let known = self.conn().capabilities().is_some();
        let caps = self.capabilities().clone();
        let plain = caps.contains(Capability::AuthPlain) || !known;
        let login = match &credentials {
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
                self.queue_login(|c| c.authenticate_plain(Some(user), auth_user, password))?
            }
            Credentials::User { user, password } => {
                if plain {
                    self.queue_login(|c| c.authenticate_plain(None, user, password))?
                } else if caps.contains(Capability::LoginDisabled) {
                    return Err(Error::Insecure {
                        account: self.key.clone(),
                        reason: Insecure::LoginDisabled,
                    });
                } else {
                    self.queue_login(|c| c.login(user, password))?
                }
            }
            Credentials::OAuth2 { user, token } => {
                // Waited for: a refused cached token is retried once on this connection.
                let outcome = self.oauth_login(&caps, user, token).await?;
                if let Outcome::Authenticated {
                    capabilities_known: false,
                } = outcome
                {
                    self.exec("CAPABILITY", |c| c.capability()).await?;
                }
                return self.queue_first(None).await;
            }
        };
        self.queue_first(Some(login)).await
    }

    /// Queues a password login (its refusal is an [`Error::Auth`]).
    fn queue_login(
        &mut self,
        f: impl FnOnce(&mut Connection) -> std::result::Result<CommandId, imapvm_proto::Error>,
    ) -> Result<CommandId> {
        f(self.driver.core_mut()).map_err(|source| Error::Auth {
            account: self.key.clone(),
            source: Box::new(source),
        })
    }

    /// Queues NAMESPACE behind `login` and notes both as the first flight; on a server
    /// that drops what follows a login (`pipelines_after_login`), the login is waited for
    /// first.
    async fn queue_first(&mut self, mut login: Option<CommandId>) -> Result<()> {
        if let Some(id) = login
            && !pipelines_after_login(&self.greeting)
        {
            self.login_answer(id).await?;
            login = None;
        }
        let namespace = self.queue("NAMESPACE", |c| c.namespace())?;
        self.pending = Some(PendingLogin { login, namespace });
        Ok(())
    }

    /// Takes the answers of the first flight once they are in: a refused login is an
    /// [`Error::Auth`] (the commands behind it failed with it); NAMESPACE gives the
    /// hierarchy (a refused one: `LIST "" ""`, one more round trip); capabilities the login
    /// did not tell are asked for. A hierarchy other than the guess that was read meanwhile
    /// fails the operation (see [`Session::take_guess_wrong`]).
    async fn settle_login(&mut self) -> Result<()> {
        let Some(first) = self.pending.take() else {
            return Ok(());
        };
        if let Some(login) = first.login {
            match self.done.remove(&login) {
                Some(Ok(_)) => {}
                Some(Err(source)) => {
                    let _ = self.done.remove(&first.namespace);
                    let refused = Error::Auth {
                        account: self.key.clone(),
                        source: Box::new(source),
                    };
                    self.refusal = Some(refused.clone());
                    return Err(refused);
                }
                None => {
                    return Err(Error::Unexpected {
                        account: self.key.clone(),
                        command: "LOGIN",
                    });
                }
            }
        }
        let guess = self.hierarchy.clone();
        match self.done.remove(&first.namespace) {
            Some(Ok(Outcome::Namespaces(ns))) => {
                if let Some(personal) = ns.personal.first()
                    && let Ok(h) = Hierarchy::new(&personal.prefix, personal.delimiter)
                {
                    self.hierarchy = h;
                }
            }
            Some(Err(e)) if e.is_fatal() => return Err(self.protocol_error("NAMESPACE", e)),
            _ => Box::pin(self.hierarchy_from_list()).await?,
        }
        if self.conn().capabilities().is_none() {
            Box::pin(self.exec("CAPABILITY", |c| c.capability())).await?;
        }
        if self.hierarchy != guess && self.guess_read.swap(false, Ordering::Relaxed) {
            self.guess_wrong = true;
            return Err(Error::Unexpected {
                account: self.key.clone(),
                command: "a folder name computed before NAMESPACE was answered",
            });
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
        let id = self.queue_login(f)?;
        self.login_answer(id).await
    }

    /// Waits for the login `id` (a refusal is an [`Error::Auth`]).
    async fn login_answer(&mut self, id: CommandId) -> Result<Outcome> {
        self.wait(&[id]).await?;
        match self.done.remove(&id) {
            Some(Ok(o)) => Ok(o),
            Some(Err(source)) => Err(Error::Auth {
                account: self.key.clone(),
                source: Box::new(source),
            }),
            None => Err(Error::Unexpected {
                account: self.key.clone(),
                command: "LOGIN",
            }),
        }
    }

    /// The delimiter from `LIST "" ""`, for a server without NAMESPACE.
    async fn hierarchy_from_list(&mut self) -> Result<()> {
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
    ///
    /// On a session whose pipelined login is unanswered, the SELECT goes in the same flight.
    /// A name computed from the guessed hierarchy is checked once NAMESPACE answered: when
    /// the guess was wrong, this fails before anything else is sent (no CREATE), and the
    /// operation runs again (the store's `Mailbox::on_account`); a SELECT changes nothing.
    pub async fn select(&mut self, name: &MailboxName) -> Result<Selected> {
        self.select_as(name, ViewSync::Noop).await
    }

    /// [`Session::select`], with `sync` saying whether a NOOP goes in front of the next
    /// commands when `name` is already selected.
    pub async fn select_as(&mut self, name: &MailboxName, sync: ViewSync) -> Result<Selected> {
        if let Some(sel) = &self.selected
            && sel.name.same_mailbox(name)
            && matches!(self.conn().state(), State::Selected { read_only: false })
        {
            let sel = sel.clone();
            if sync == ViewSync::Noop && self.background.is_empty() {
                let id = self.queue("NOOP", |c| c.noop())?;
                self.background.push(id);
            }
            return Ok(sel);
        }
        let context = format!("SELECT {name}");
        let first = self.queue_select(name)?;
        self.wait(&[first]).await?;
        match self.take(&context, first) {
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

    /// Queues `SELECT name`, with the CONDSTORE parameter where the server offers it or is
    /// guessed to (`imapvm_policy::login::may_select_condstore`): its answer then reports
    /// HIGHESTMODSEQ, which the remembered flags of a count's known UIDs need
    /// (`imapvm_policy::known_flags`), at no round trip of its own.
    pub(crate) fn queue_select(&mut self, name: &MailboxName) -> Result<CommandId> {
        let login_pending = self.pending.is_some_and(|p| p.login.is_some());
        let caps = self.conn().capabilities().filter(|_| !login_pending);
        let context = format!("SELECT {name}");
        if imapvm_policy::login::may_select_condstore(caps, &self.greeting) {
            self.queue(&context, |c| c.select_condstore(name))
        } else {
            self.queue(&context, |c| c.select(name))
        }
    }

    /// Whether the server offers `cap`, or may: while a pipelined password login is
    /// unanswered, the capabilities known (the greeting's, or none after STARTTLS) say
    /// nothing of the authenticated session's (its answer brings those), so a command
    /// that needs `cap` is sent behind the login and a refusal of it is tolerated.
    pub(crate) fn may_offer(&self, cap: Capability) -> bool {
        self.capabilities().contains(cap) || self.pending.is_some_and(|p| p.login.is_some())
    }

    /// `CREATE name`; an existing mailbox is not an error.
    pub async fn create(&mut self, name: &MailboxName) -> Result<()> {
        self.finish_login().await?;
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
        self.finish_login().await?;
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

    /// `LOGOUT`, written and not waited for (its answer changes nothing), then the socket
    /// is shut down; bounded by `imapclosetimeout`, errors ignored.
    pub async fn logout(mut self) {
        let timeout = self.account.close_timeout;
        let fut = async {
            if self.driver.core_mut().logout().is_ok() {
                let _ = self.driver.flush().await;
            }
            let _ = tokio::io::AsyncWriteExt::shutdown(self.driver.stream_mut()).await;
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
            .respond(move || Imap::new(caps, &l, plain).greeting_text("Dovecot ready."))
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

    /// A scripted server: greeting `greeting` (`None`: `* OK [CAPABILITY caps]`), answers
    /// from `answer` or else the usual ones.
    async fn server_with(
        caps: &'static str,
        greeting: Option<&'static str>,
        answer: impl FnMut(&Command) -> Option<Reply> + Send + Clone + 'static,
    ) -> (Peer, Log) {
        struct Server<F> {
            greeting: Option<&'static str>,
            answer: F,
        }
        impl<F: FnMut(&Command) -> Option<Reply> + Send + 'static> Script for Server<F> {
            fn answer(&mut self, c: &Command) -> Option<Reply> {
                (self.answer)(c)
            }
            fn greeting(&mut self) -> Option<Reply> {
                self.greeting.map(Reply::send)
            }
        }
        let log = Log::default();
        let l = log.clone();
        let peer = Peer::builder()
            .respond(move || {
                let answer = answer.clone();
                Imap::new(caps, &l, Server { greeting, answer }).greeting_text("Dovecot ready.")
            })
            .await
            .unwrap();
        (peer, log)
    }

    /// The commands the server got, without their tags.
    fn commands(log: &Log) -> Vec<String> {
        log.lines()
            .iter()
            .map(|l| l.split_once(' ').map_or(l.as_str(), |(_, c)| c).to_owned())
            .collect()
    }

    /// Opens a cold session the way the pool does and selects INBOX.
    async fn cold_select(peer: &Peer) -> (Result<Selected>, Option<Session>) {
        let a = account(peer.port(), Security::Plain, user());
        let mut session = match Session::open_pipelined(&a, &SystemClock::shared()).await {
            Ok(s) => s,
            Err(e) => return (Err(e), None),
        };
        let selected = session.select(&MailboxName::inbox()).await;
        (selected, Some(session))
    }

    #[tokio::test]
    async fn a_cold_session_logs_in_and_selects_in_one_round_trip() {
        let (peer, log) = scripted("IMAP4rev1 SASL-IR AUTH=PLAIN NAMESPACE").await;
        let (selected, session) = cold_select(&peer).await;
        assert!(selected.is_ok(), "{selected:?}");
        let session = session.unwrap();
        assert_eq!(session.stats().round_trips, 1, "{:?}", log.lines());
        let lines = commands(&log);
        assert!(lines[0].starts_with("AUTHENTICATE PLAIN "), "{lines:?}");
        // CONDSTORE guessed from Dovecot's greeting (`login::may_select_condstore`).
        assert_eq!(lines[1..], ["NAMESPACE", "SELECT INBOX (CONDSTORE)"]);
    }

    /// Without SASL-IR the initial response waits for the server's `+`; the commands behind
    /// still go before the login's answer.
    #[tokio::test]
    async fn without_sasl_ir_the_login_takes_one_more_round_trip() {
        let (peer, log) = server_with("IMAP4rev1 AUTH=PLAIN NAMESPACE", None, |c: &Command| {
            if c.is("AUTHENTICATE") {
                // The tag waits for the response line (which the log shows as a command).
                return Some(Reply::send("+ \r\n"));
            }
            (c.tag == "AHZtMQBzM2NyZXQ=")
                .then(|| Reply::send("a1 OK [CAPABILITY IMAP4rev1 AUTH=PLAIN NAMESPACE] in\r\n"))
        })
        .await;
        let (selected, session) = cold_select(&peer).await;
        assert!(selected.is_ok(), "{selected:?} {:?}", log.lines());
        assert_eq!(session.unwrap().stats().round_trips, 2);
        assert_eq!(commands(&log)[0], "AUTHENTICATE PLAIN");
    }

    /// A greeting without capabilities (older servers): one CAPABILITY before the login, and
    /// one after it when its answer does not tell them either.
    #[tokio::test]
    async fn capabilities_missing_from_the_greeting_and_the_login_are_asked_for() {
        let (peer, log) = server_with(
            "IMAP4rev1 SASL-IR AUTH=PLAIN NAMESPACE",
            Some("* OK Dovecot ready\r\n"),
            |c: &Command| {
                (c.is("AUTHENTICATE") || c.is("LOGIN"))
                    .then(|| Reply::send(format!("{} OK logged in\r\n", c.tag)))
            },
        )
        .await;
        let (selected, session) = cold_select(&peer).await;
        assert!(selected.is_ok(), "{selected:?}");
        let lines = commands(&log);
        assert_eq!(lines[0], "CAPABILITY", "{lines:?}");
        assert!(lines[1].starts_with("AUTHENTICATE PLAIN "), "{lines:?}");
        assert_eq!(
            lines[2..],
            ["NAMESPACE", "SELECT INBOX (CONDSTORE)", "CAPABILITY"]
        );
        let session = session.unwrap();
        assert!(session.capabilities().has("NAMESPACE"));
        assert_eq!(session.stats().round_trips, 3);
    }

    /// The login is refused with NAMESPACE and SELECT behind it: the select fails with the
    /// typed login error, nothing is reported selected, and no second login is tried.
    #[tokio::test]
    async fn a_refused_pipelined_login_is_the_operations_auth_error() {
        let (peer, log) = server_with(
            "IMAP4rev1 SASL-IR AUTH=PLAIN NAMESPACE",
            None,
            |c: &Command| {
                if c.is("AUTHENTICATE") {
                    Some(Reply::send(format!(
                        "{} NO [AUTHENTICATIONFAILED] Authentication failed.\r\n",
                        c.tag
                    )))
                } else if c.is("LOGOUT") {
                    None
                } else {
                    Some(Reply::send(format!("{} BAD Not logged in\r\n", c.tag)))
                }
            },
        )
        .await;
        let (selected, session) = cold_select(&peer).await;
        let err = selected.unwrap_err();
        assert!(matches!(&err, Error::Auth { .. }), "{err:?}");
        assert!(err.to_string().contains("Authentication failed"), "{err}");
        assert!(
            !err.is_connection_lost(),
            "not retried as a lost connection"
        );
        let session = session.unwrap();
        assert!(session.selected().is_none());
        assert!(!session.is_usable());
        let logins = commands(&log)
            .iter()
            .filter(|l| l.starts_with("AUTHENTICATE") || l.starts_with("LOGIN"))
            .count();
        assert_eq!(logins, 1, "{:?}", log.lines());
    }

    /// A server not known to read what follows a login before answering it (Cyrus drops
    /// it): the login is answered first, then NAMESPACE and SELECT go together.
    #[tokio::test]
    async fn other_servers_answer_the_login_before_anything_follows_it() {
        let log = Log::default();
        let l = log.clone();
        let peer = Peer::builder()
            .respond(move || {
                Imap::new("IMAP4rev1 SASL-IR AUTH=PLAIN NAMESPACE", &l, plain)
                    .greeting_text("localhost Cyrus IMAP 3.6.1 server ready")
            })
            .await
            .unwrap();
        let (selected, session) = cold_select(&peer).await;
        assert!(selected.is_ok(), "{selected:?}");
        assert_eq!(session.unwrap().stats().round_trips, 2);
        assert_eq!(commands(&log)[1..], ["NAMESPACE", "SELECT INBOX"]);
    }

    #[tokio::test]
    async fn preauth_sends_no_credential_and_pipelines_namespace_with_select() {
        let (peer, log) = server_with(
            "IMAP4rev1 NAMESPACE",
            Some("* PREAUTH [CAPABILITY IMAP4rev1 NAMESPACE] welcome\r\n"),
            |_: &Command| None,
        )
        .await;
        let (selected, session) = cold_select(&peer).await;
        assert!(selected.is_ok(), "{selected:?}");
        assert_eq!(commands(&log), ["NAMESPACE", "SELECT INBOX"]);
        assert_eq!(session.unwrap().stats().round_trips, 1);
    }

    /// A hierarchy other than the guess, read before NAMESPACE answered: the operation is
    /// told to run again, and nothing but the SELECT went out.
    #[tokio::test]
    async fn a_wrong_hierarchy_guess_fails_before_anything_else_is_sent() {
        let (peer, log) = server_with(
            "IMAP4rev1 SASL-IR AUTH=PLAIN NAMESPACE",
            None,
            |c: &Command| {
                c.is("NAMESPACE").then(|| {
                    Reply::send(format!(
                        "* NAMESPACE ((\"INBOX.\" \".\")) NIL NIL\r\n{} OK done\r\n",
                        c.tag
                    ))
                })
            },
        )
        .await;
        let a = account(peer.port(), Security::Plain, user());
        let mut session = Session::open_pipelined(&a, &SystemClock::shared())
            .await
            .unwrap();
        let guessed = session.hierarchy().join("x", &["Old"]).unwrap();
        let err = session.select(&guessed).await.unwrap_err();
        assert!(matches!(err, Error::Unexpected { .. }), "{err:?}");
        assert!(session.take_guess_wrong());
        assert_eq!(
            session.hierarchy().join("x", &["Old"]).unwrap().as_wire(),
            "INBOX.Old"
        );
        assert_eq!(commands(&log)[1..], ["NAMESPACE", "SELECT Old (CONDSTORE)"]);
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
