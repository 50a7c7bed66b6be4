//! What both drivers share: the peer's options, the plays it hands to new
//! connections, the record of each connection (what it received and sent,
//! how its play went), and the errors of a finished peer.

use std::marker::PhantomData;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::play::{Mismatch, Play, ScriptPlay};
use crate::respond::{LinePlay, Responder};
use crate::script::{Script, ScriptError, shown};

/// The peer's options.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Config {
    pub bind: SocketAddr,
    pub timeout: Duration,
    /// Scripted connections to wait for (`None`: a responder's peer).
    pub expected: Option<usize>,
    /// Most bytes a record keeps each way (`None`: all).
    pub keep: Option<usize>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            timeout: Duration::from_secs(10),
            expected: None,
            keep: None,
        }
    }
}

/// A factory of responder plays.
pub(crate) type MakePlay = Box<dyn FnMut() -> Box<dyn Play> + Send>;

/// What the next connection plays.
pub(crate) enum Plays {
    /// One script per connection, in order.
    Scripts(Vec<Script>),
    /// A fresh responder for each.
    Respond(MakePlay),
}

impl Plays {
    /// A fresh [`LinePlay`] of `make()` for each connection.
    pub fn respond<R, F>(mut make: F) -> Plays
    where
        R: Responder,
        F: FnMut() -> R + Send + 'static,
    {
        Plays::Respond(Box::new(move || Box::new(LinePlay::new(make()))))
    }

    /// The next connection's play; `None` when no connection is expected.
    pub fn next(&mut self, timeout: Duration) -> Option<Box<dyn Play>> {
        match self {
            Plays::Scripts(scripts) if scripts.is_empty() => None,
            Plays::Scripts(scripts) => Some(Box::new(ScriptPlay::new(&scripts.remove(0), timeout))),
            Plays::Respond(make) => Some(make()),
        }
    }
}

/// How to start a peer: options first (address, timeout), then
/// `scripts(..)` or `respond(..)`; `D` is the driver ([`crate::Peer`]'s or
/// [`crate::blocking::Peer`]'s).
#[derive(Clone)]
pub struct Builder<D> {
    pub(crate) config: Config,
    /// What each accepted stream goes through before its play (TLS).
    #[cfg(feature = "tokio")]
    pub(crate) upgrade: Option<crate::upgrade::Upgrade>,
    driver: PhantomData<D>,
}

impl<D> std::fmt::Debug for Builder<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Builder");
        d.field("config", &self.config);
        #[cfg(feature = "tokio")]
        d.field("upgrade", &self.upgrade.is_some());
        d.finish()
    }
}

impl<D> Builder<D> {
    pub(crate) fn new() -> Builder<D> {
        Builder {
            config: Config::default(),
            #[cfg(feature = "tokio")]
            upgrade: None,
            driver: PhantomData,
        }
    }

    /// Listen on `addr` (a non-loopback address, a fixed port) instead of
    /// `127.0.0.1:0`.
    pub fn bind(mut self, addr: SocketAddr) -> Builder<D> {
        self.config.bind = addr;
        self
    }

    /// Keep at most `bytes` of what each connection received and of what it
    /// sent in its [`Record`] (the rest still flows, it is not kept): for a
    /// peer that moves more than a test should hold, such as one under a
    /// memory measurement.
    pub fn keep_at_most(mut self, bytes: usize) -> Builder<D> {
        self.config.keep = Some(bytes);
        self
    }

    /// How long the client may take to send what a script expects, and to
    /// connect at all (default 10 s).
    pub fn timeout(mut self, timeout: Duration) -> Builder<D> {
        self.config.timeout = timeout;
        self
    }
}

/// What a running peer shows, whichever its driver (both peers dereference
/// to it): its address, and what each connection has received so far.
pub struct Listening {
    pub(crate) addr: SocketAddr,
    pub(crate) shared: Arc<Shared>,
    pub(crate) config: Config,
}

impl Listening {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.connections()
    }

    /// What connection `n` (0-based) has received so far.
    pub fn received(&self, n: usize) -> Vec<u8> {
        self.shared.received(n)
    }

    /// The lines connection `n` has received so far (line endings cut).
    pub fn received_lines(&self, n: usize) -> Vec<String> {
        lines_of(&self.received(n))
    }
}

/// One connection, as the peer saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    /// Every byte the client sent (the first [`Builder::keep_at_most`]).
    pub received: Vec<u8>,
    /// Every byte the peer sent (the first [`Builder::keep_at_most`]).
    pub sent: Vec<u8>,
    /// How its play went (`None`: not known yet, or a responder that
    /// stalled).
    pub outcome: Option<Result<(), Mismatch>>,
    /// Whether the connection has ended.
    pub ended: bool,
}

impl Record {
    /// The lines the client sent (line endings cut).
    pub fn lines(&self) -> Vec<String> {
        lines_of(&self.received)
    }
}

/// `bytes` split into lines without their endings (lossily UTF-8).
pub(crate) fn lines_of(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Every connection of a finished peer, in the order they came.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transcript {
    /// The connections.
    pub connections: Vec<Record>,
}

/// A peer that could not start, or a client that did not do what the
/// scripts expect.
#[derive(Debug)]
pub enum PeerError {
    /// A line of a script is malformed.
    Script(ScriptError),
    /// The listener could not be bound.
    Bind(std::io::Error),
    /// Connection `connection` departed from its script.
    Mismatch {
        /// 0-based.
        connection: usize,
        /// How.
        mismatch: Mismatch,
    },
    /// Connection `connection` never came.
    NeverConnected {
        /// 0-based.
        connection: usize,
        /// How long the peer waited for a change in
        /// [`crate::blocking::Peer::finish`].
        within: Duration,
    },
    /// Connection `connection` is still inside its script.
    Unfinished {
        /// 0-based.
        connection: usize,
        /// What it received so far.
        received: Vec<u8>,
    },
}

impl std::fmt::Display for PeerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PeerError::Script(e) => write!(f, "{e}"),
            PeerError::Bind(e) => write!(f, "binding the peer's listener: {e}"),
            PeerError::Mismatch {
                connection,
                mismatch,
            } => write!(f, "connection {connection}: {mismatch}"),
            PeerError::NeverConnected { connection, within } => {
                write!(f, "connection {connection} never came within {within:?}")
            }
            PeerError::Unfinished {
                connection,
                received,
            } => write!(
                f,
                "connection {connection} has not finished its script; it received {}",
                shown(received, 0).0
            ),
        }
    }
}

impl std::error::Error for PeerError {}

impl From<ScriptError> for PeerError {
    fn from(e: ScriptError) -> PeerError {
        PeerError::Script(e)
    }
}

/// The records, shared between the peer and its connections' drivers.
#[derive(Default)]
pub(crate) struct Shared {
    records: Mutex<Vec<Record>>,
    /// Counts changes (bytes, connections, outcomes).
    generation: AtomicU64,
    condvar: Condvar,
    #[cfg(feature = "tokio")]
    notify: tokio::sync::Notify,
    /// Most bytes a record keeps each way (`None`: all).
    keep: Option<usize>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Vec<Record>> {
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn changed_now(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.condvar.notify_all();
        #[cfg(feature = "tokio")]
        self.notify.notify_waiters();
    }

    /// Records that keep at most `keep` bytes each way (`None`: all).
    pub fn keeping(keep: Option<usize>) -> Shared {
        Shared {
            keep,
            ..Shared::default()
        }
    }

    /// `bytes` appended to `kept`, up to the limit.
    fn keep(&self, kept: &mut Vec<u8>, bytes: &[u8]) {
        let room = self
            .keep
            .map_or(bytes.len(), |k| k.saturating_sub(kept.len()));
        kept.extend_from_slice(&bytes[..room.min(bytes.len())]);
    }

    /// How many changes there were so far.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// How long [`crate::Peer::finish`] waits for a change before it gives
    /// up on connections still playing: a script's own timeout and a margin.
    pub fn patience(timeout: Duration) -> Duration {
        timeout + Duration::from_millis(500)
    }

    /// Woken on every change (async waiters).
    #[cfg(feature = "tokio")]
    pub fn changed(&self) -> &tokio::sync::Notify {
        &self.notify
    }

    /// Wait for a change, at most `limit` (blocking waiters).
    pub fn wait_change(&self, limit: Duration) {
        let guard = self.lock();
        let _ = self.condvar.wait_timeout(guard, limit);
    }

    /// A new connection; returns its number.
    pub fn connected(&self) -> usize {
        let mut records = self.lock();
        records.push(Record::default());
        let n = records.len() - 1;
        drop(records);
        self.changed_now();
        n
    }

    pub fn connections(&self) -> usize {
        self.lock().len()
    }

    pub fn received(&self, n: usize) -> Vec<u8> {
        self.lock()
            .get(n)
            .map(|r| r.received.clone())
            .unwrap_or_default()
    }

    pub fn received_bytes(&self, n: usize, bytes: &[u8]) {
        if let Some(r) = self.lock().get_mut(n) {
            self.keep(&mut r.received, bytes);
        }
        self.changed_now();
    }

    pub fn sent(&self, n: usize, bytes: &[u8]) {
        if let Some(r) = self.lock().get_mut(n) {
            self.keep(&mut r.sent, bytes);
        }
        self.changed_now();
    }

    /// Record the play's outcome once it is known.
    pub fn settle(&self, n: usize, outcome: Option<Result<(), Mismatch>>) {
        let Some(outcome) = outcome else {
            return;
        };
        let mut records = self.lock();
        if let Some(r) = records.get_mut(n)
            && r.outcome.is_none()
        {
            r.outcome = Some(outcome);
            drop(records);
            self.changed_now();
        }
    }

    pub fn ended(&self, n: usize) {
        if let Some(r) = self.lock().get_mut(n) {
            r.ended = true;
        }
        self.changed_now();
    }

    /// Whether every expected scripted connection has an outcome (always,
    /// for a responder's peer).
    pub fn settled(&self, expected: Option<usize>) -> bool {
        let Some(expected) = expected else {
            return true;
        };
        let records = self.lock();
        records.len() >= expected && records[..expected].iter().all(|r| r.outcome.is_some())
    }

    pub fn take(&self, n: usize) -> Record {
        self.lock()
            .get_mut(n)
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// The transcript, or the first connection (in order) that failed.
    pub fn transcript(
        &self,
        expected: Option<usize>,
        within: Duration,
    ) -> Result<Transcript, PeerError> {
        let connections = self.lock().clone();
        for (n, record) in connections.iter().enumerate() {
            match &record.outcome {
                Some(Err(mismatch)) => {
                    return Err(PeerError::Mismatch {
                        connection: n,
                        mismatch: mismatch.clone(),
                    });
                }
                None if expected.is_some_and(|e| n < e) => {
                    return Err(PeerError::Unfinished {
                        connection: n,
                        received: record.received.clone(),
                    });
                }
                _ => {}
            }
        }
        if let Some(expected) = expected
            && connections.len() < expected
        {
            return Err(PeerError::NeverConnected {
                connection: connections.len(),
                within,
            });
        }
        Ok(Transcript { connections })
    }
}
