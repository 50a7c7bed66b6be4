//! A counting tap for [`Proxy`](crate::proxy::Proxy): round trips as the client's
//! *flights*, each run of client bytes that follows server bytes on one connection (the
//! client wrote, the server answered, the client writes again). The client's first bytes
//! after the server's greeting are a flight too, so with a server that speaks first (IMAP)
//! every wait of the client counts once, a TLS handshake included (one flight per client
//! handshake flight); the TCP connect counts nothing. A flight the client closes the
//! connection after without any answer having come back (a LOGOUT sent and not waited
//! for) is not a wait: [`Flights::waits`] leaves it out, [`Flights::count`] has it.
//!
//! Counts are deterministic only when the server speaks once per client flight: data the
//! server sends on its own between two flights of the client (a TLS 1.3 session ticket
//! after the handshake, say) splits what the client wrote in one go into two flights when
//! the second part reaches the proxy after it.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use imapvm_testkit::flights::Flights;
//! use imapvm_testkit::proxy::Proxy;
//!
//! let flights = Flights::default();
//! let proxy = Proxy::to("127.0.0.1", 143).tap(flights.tap()).await?;
//! // ... connect a client to proxy.port() ...
//! let (round_trips, connections) = (flights.waits(), flights.connections());
//! # let _ = (proxy, round_trips, connections);
//! # Ok(()) }
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::proxy::{Dir, Pass, Tap};

/// The flights of every connection through one proxy (clones share the counters).
#[derive(Debug, Clone, Default)]
pub struct Flights(Arc<Counters>);

#[derive(Debug, Default)]
struct Counters {
    flights: AtomicU64,
    /// Flights the client closed the connection after, unanswered.
    unanswered: AtomicU64,
    connections: AtomicU64,
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
}

impl Flights {
    /// A maker of per-connection taps counting into these counters, for
    /// [`ProxyBuilder::tap`](crate::proxy::ProxyBuilder::tap).
    pub fn tap(&self) -> impl FnMut() -> FlightTap + Send + 'static {
        let counters = Arc::clone(&self.0);
        move || {
            counters.connections.fetch_add(1, Ordering::SeqCst);
            FlightTap {
                counters: Arc::clone(&counters),
                server_spoke: false,
                awaiting: false,
            }
        }
    }

    /// Client flights so far, all connections together.
    pub fn count(&self) -> u64 {
        self.0.flights.load(Ordering::SeqCst)
    }

    /// Round trips the client waited for: [`Flights::count`] less the flights it closed
    /// the connection after without an answer.
    pub fn waits(&self) -> u64 {
        self.count()
            .saturating_sub(self.0.unanswered.load(Ordering::SeqCst))
    }

    /// Connections that got a tap so far.
    pub fn connections(&self) -> u64 {
        self.0.connections.load(Ordering::SeqCst)
    }

    /// Bytes forwarded (client to server, server to client).
    pub fn bytes(&self) -> (u64, u64) {
        (
            self.0.bytes_up.load(Ordering::SeqCst),
            self.0.bytes_down.load(Ordering::SeqCst),
        )
    }
}

/// The tap of one connection (see [`Flights::tap`]): forwards everything as it comes.
#[derive(Debug)]
pub struct FlightTap {
    counters: Arc<Counters>,
    /// The server sent something since the client's last chunk.
    server_spoke: bool,
    /// The client's last flight has had no answer yet.
    awaiting: bool,
}

impl Tap for FlightTap {
    fn chunk(&mut self, dir: Dir, bytes: &[u8]) -> Pass {
        let n = bytes.len() as u64;
        match dir {
            Dir::Up => {
                if std::mem::take(&mut self.server_spoke) {
                    self.counters.flights.fetch_add(1, Ordering::SeqCst);
                    self.awaiting = true;
                }
                self.counters.bytes_up.fetch_add(n, Ordering::SeqCst);
            }
            Dir::Down => {
                self.server_spoke = true;
                self.awaiting = false;
                self.counters.bytes_down.fetch_add(n, Ordering::SeqCst);
            }
        }
        Pass::forward(bytes)
    }

    fn end(&mut self, dir: Dir) -> Vec<u8> {
        if dir == Dir::Up && std::mem::take(&mut self.awaiting) {
            self.counters.unanswered.fetch_add(1, Ordering::SeqCst);
        }
        Vec::new()
    }
}
