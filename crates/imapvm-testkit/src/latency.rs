//! A latency proxy: the network distance between a client and a server on
//! loopback, without root. Each direction of a connection delivers every chunk
//! it read at *time read + one-way delay + jitter*, never before an earlier
//! chunk of that direction (release times are kept monotone), never reordering
//! or dropping bytes; a half-close (the sender's FIN) is passed on at its own
//! release time, and the connection ends when both directions have ended. The
//! delay can be changed while connections are open (a warm connection moves
//! from one distance to the next).
//!
//! The connect is modelled as on a real network: the client's `connect`
//! returns at once (the proxy is on loopback), but the server's first bytes
//! (its greeting, or its TLS ServerHello) reach the client no sooner than one
//! round trip after it, as they would after a real TCP handshake.
//!
//! It also counts what crossed it, on the socket, the same way for every
//! client: bytes each way, and **round trips**: the client's waits. The
//! connect is the client's first flight; every later flight is the client's
//! bytes since the server last spoke. A flight counts once when the server's
//! next bytes arrive before the client closed its side. So waiting for the
//! greeting counts one (a ClientHello or a login written before it joins that
//! first flight), and a last flight the client closes after without waiting
//! (a `LOGOUT` it does not wait for) does not count. [`Flights`] and
//! [`Schedule`] are the I/O-free rules; [`relay`] drives them on any pair of
//! streams.
//!
//! The proxy module's `ProxyBuilder::latency` starts one in front of a server.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Which way a direction of the relay carries bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    /// Client to server.
    Up,
    /// Server to client.
    Down,
}

/// Chunks read ahead of their release, per direction (each at most
/// [`CHUNK`] bytes): when full, the proxy stops reading and the sender waits.
pub const QUEUE_CHUNKS: usize = 256;
/// Largest chunk read at once.
pub const CHUNK: usize = 64 * 1024;

/// The distance: a one-way delay and an added jitter, both per direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Link {
    /// Added to every chunk, each way.
    pub one_way: Duration,
    /// Up to this much more, uniformly drawn per chunk.
    pub jitter: Duration,
}

impl Link {
    /// A link whose round-trip time is `rtt` (half of it each way), no jitter.
    pub fn rtt(rtt: Duration) -> Link {
        Link {
            one_way: rtt / 2,
            jitter: Duration::ZERO,
        }
    }

    /// The same link with `jitter`.
    pub fn with_jitter(mut self, jitter: Duration) -> Link {
        self.jitter = jitter;
        self
    }
}

/// When the chunks of one direction are released (I/O-free: time is passed in).
#[derive(Debug, Clone)]
pub struct Schedule {
    last: Option<Instant>,
    rng: u64,
}

impl Schedule {
    /// A schedule whose jitter draws start from `seed`.
    pub fn new(seed: u64) -> Schedule {
        Schedule {
            last: None,
            // xorshift needs a state other than 0.
            rng: seed | 1,
        }
    }

    fn draw(&mut self, below: Duration) -> Duration {
        if below.is_zero() {
            return Duration::ZERO;
        }
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let nanos = u64::try_from(below.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(self.rng % nanos.saturating_add(1))
    }

    /// No chunk is released before `at` (the server's side of a connection
    /// cannot answer before the connect's round trip is over).
    pub fn not_before(mut self, at: Instant) -> Schedule {
        self.last = Some(self.last.map_or(at, |last| last.max(at)));
        self
    }

    /// The release time of a chunk read at `read_at` over `link`: `read_at +
    /// one_way + jitter`, or the previous release if that is later.
    pub fn release(&mut self, link: Link, read_at: Instant) -> Instant {
        let at = read_at + link.one_way + self.draw(link.jitter);
        let at = self.last.map_or(at, |last| at.max(last));
        self.last = Some(at);
        at
    }
}

/// Round-trip counting of one connection (I/O-free): see the module doc.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flights {
    /// A client flight is waiting for the server.
    open: bool,
}

impl Flights {
    /// A connection just made: the connect is the client's first flight, which
    /// the server's first bytes answer.
    pub fn connected() -> Flights {
        Flights { open: true }
    }

    /// The client's bytes were read.
    pub fn client_data(&mut self) {
        self.open = true;
    }

    /// The server's bytes were read: `true` when they end a round trip.
    pub fn server_data(&mut self) -> bool {
        std::mem::replace(&mut self.open, false)
    }

    /// The client closed its side: a flight it did not wait for is no round trip.
    pub fn client_closed(&mut self) {
        self.open = false;
    }
}

/// What crossed a latency proxy, counted on its sockets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Round trips (see the module doc).
    pub round_trips: u64,
    /// Bytes from the clients.
    pub bytes_up: u64,
    /// Bytes from the server.
    pub bytes_down: u64,
    /// Connections relayed so far.
    pub connections: u64,
    /// Connections still open (one direction or both still going).
    pub open: u64,
}

impl std::ops::Sub for Totals {
    type Output = Totals;
    /// The counters' growth from `rhs` to `self` (`open` is `self`'s).
    fn sub(self, rhs: Totals) -> Totals {
        Totals {
            round_trips: self.round_trips.saturating_sub(rhs.round_trips),
            bytes_up: self.bytes_up.saturating_sub(rhs.bytes_up),
            bytes_down: self.bytes_down.saturating_sub(rhs.bytes_down),
            connections: self.connections.saturating_sub(rhs.connections),
            open: self.open,
        }
    }
}

/// The link and the counters of a latency proxy, shared by its connections.
#[derive(Debug, Default)]
pub struct Latency {
    link: Mutex<Link>,
    round_trips: AtomicU64,
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
    opened: AtomicU64,
    closed: AtomicU64,
}

impl Latency {
    /// A shared handle with `link`.
    pub fn new(link: Link) -> Arc<Latency> {
        Arc::new(Latency {
            link: Mutex::new(link),
            ..Latency::default()
        })
    }

    /// The link chunks read from now on get.
    pub fn link(&self) -> Link {
        *self.link.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes the link for chunks read from now on (chunks already read keep
    /// their release time; monotony still holds).
    pub fn set_link(&self, link: Link) {
        *self.link.lock().unwrap_or_else(PoisonError::into_inner) = link;
    }

    /// The counters now.
    pub fn totals(&self) -> Totals {
        let closed = self.closed.load(Ordering::SeqCst);
        let opened = self.opened.load(Ordering::SeqCst);
        Totals {
            round_trips: self.round_trips.load(Ordering::SeqCst),
            bytes_up: self.bytes_up.load(Ordering::SeqCst),
            bytes_down: self.bytes_down.load(Ordering::SeqCst),
            connections: opened,
            open: opened.saturating_sub(closed),
        }
    }

    /// Waits until at most `open` connections are open, checking every
    /// `poll`, for at most `limit`; `true` when reached.
    pub async fn settle(&self, open: u64, poll: Duration, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            if self.totals().open <= open {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(poll).await;
        }
    }
}

/// Relays `client` and `server` through `latency`'s link until both
/// directions have ended; `seed` starts the jitter draws.
pub async fn relay<C, S>(client: C, server: S, latency: Arc<Latency>, seed: u64)
where
    C: AsyncRead + AsyncWrite + Send + Unpin,
    S: AsyncRead + AsyncWrite + Send + Unpin,
{
    latency.opened.fetch_add(1, Ordering::SeqCst);
    // Counted closed however the relay ends (both directions done, or dropped by a cut).
    let _closed = Closed(&latency);
    let (client_r, client_w) = tokio::io::split(client);
    let (server_r, server_w) = tokio::io::split(server);
    let flights = Mutex::new(Flights::connected());
    // The server's first bytes reach the client a round trip after the connect.
    let connected = Instant::now() + latency.link().one_way * 2;
    let up = Schedule::new(seed);
    let down = Schedule::new(seed.rotate_left(32) ^ 0x9e37_79b9_7f4a_7c15).not_before(connected);
    tokio::join!(
        direction(Dir::Up, client_r, server_w, &latency, &flights, up),
        direction(Dir::Down, server_r, client_w, &latency, &flights, down),
    );
}

/// Counts a connection closed when dropped.
struct Closed<'a>(&'a Latency);

impl Drop for Closed<'_> {
    fn drop(&mut self) {
        self.0.closed.fetch_add(1, Ordering::SeqCst);
    }
}

/// One direction: a reader that stamps each chunk with its release time, and
/// a writer that delivers it then (a `None` chunk is the sender's FIN).
async fn direction<R, W>(
    dir: Dir,
    mut from: R,
    mut to: W,
    latency: &Latency,
    flights: &Mutex<Flights>,
    mut schedule: Schedule,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let (tx, mut rx) = mpsc::channel::<(Instant, Option<Vec<u8>>)>(QUEUE_CHUNKS);
    let reader = async move {
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = from.read(&mut buf).await.unwrap_or(0);
            {
                let mut flights = flights.lock().unwrap_or_else(PoisonError::into_inner);
                match (dir, n) {
                    (Dir::Up, 0) => flights.client_closed(),
                    (Dir::Up, n) => {
                        flights.client_data();
                        latency.bytes_up.fetch_add(n as u64, Ordering::SeqCst);
                    }
                    (Dir::Down, 0) => {}
                    (Dir::Down, n) => {
                        if flights.server_data() {
                            latency.round_trips.fetch_add(1, Ordering::SeqCst);
                        }
                        latency.bytes_down.fetch_add(n as u64, Ordering::SeqCst);
                    }
                }
            }
            let at = schedule.release(latency.link(), Instant::now());
            let chunk = (n > 0).then(|| buf[..n].to_vec());
            if tx.send((at, chunk)).await.is_err() || n == 0 {
                return;
            }
        }
    };
    let writer = async move {
        while let Some((at, chunk)) = rx.recv().await {
            // Only a real wait goes through the timer: it rounds up to whole
            // milliseconds, which would add a millisecond per hop at 0 ms.
            if at > Instant::now() {
                tokio::time::sleep_until(at).await;
            }
            match chunk {
                Some(bytes) => {
                    if to.write_all(&bytes).await.is_err() {
                        return;
                    }
                }
                None => {
                    let _ = to.shutdown().await;
                    return;
                }
            }
        }
    };
    tokio::join!(reader, writer);
}
