//! A counting loopback proxy in front of the private Dovecot, so that the wire traffic of
//! the watcher's own connection (which the library does not expose) is counted on the
//! socket: bytes each way, and round trips as the client's flights that follow server data
//! (the client wrote, the server answered, the client writes again). It is the testkit's
//! proxy with a counting tap.

use std::net::ToSocketAddrs;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use imapvm_testkit::proxy::{Dir, Pass, Tap};

/// Counters of every connection made through one proxy.
#[derive(Debug, Default)]
pub struct Counters {
    out: AtomicU64,
    inn: AtomicU64,
    flights: AtomicU64,
    server_spoke: AtomicBool,
}

/// A reading of the counters: (round trips, bytes out, bytes in).
pub type Snapshot = (u64, u64, u64);

impl Counters {
    /// The counters now.
    pub fn snapshot(&self) -> Snapshot {
        (
            self.flights.load(Ordering::SeqCst),
            self.out.load(Ordering::SeqCst),
            self.inn.load(Ordering::SeqCst),
        )
    }

    /// Waits until no byte has moved for `quiet` (at most `limit`): the connection has
    /// finished reacting to the last change (e.g. the watcher re-issued IDLE).
    pub async fn settle(&self, quiet: Duration, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        let mut last = self.snapshot();
        loop {
            tokio::time::sleep(quiet).await;
            let now = self.snapshot();
            if now == last || tokio::time::Instant::now() >= deadline {
                return;
            }
            last = now;
        }
    }
}

/// `after - before`.
pub fn delta(before: Snapshot, after: Snapshot) -> Snapshot {
    (
        after.0.saturating_sub(before.0),
        after.1.saturating_sub(before.1),
        after.2.saturating_sub(before.2),
    )
}

/// A listening proxy; dropping it ends its listener and connections.
pub struct Proxy {
    /// The local port to connect to.
    pub port: u16,
    /// What went through it.
    pub counters: Arc<Counters>,
    _proxy: imapvm_testkit::proxy::Proxy,
}

impl Proxy {
    /// Listens on `host`, port chosen by the system, forwarding to `upstream`.
    pub async fn start(host: &str, upstream: (String, u16)) -> Result<Proxy, String> {
        let bind = (host, 0)
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| format!("proxy address: {host} does not resolve"))?;
        let counters = Arc::new(Counters::default());
        let c = Arc::clone(&counters);
        let proxy = imapvm_testkit::proxy::Proxy::to(&upstream.0, upstream.1)
            .bind(bind)
            .tap(move || Count(Arc::clone(&c)))
            .await
            .map_err(|e| format!("proxy bind: {e}"))?;
        Ok(Proxy {
            port: proxy.port(),
            counters,
            _proxy: proxy,
        })
    }
}

/// Every connection's tap: counts into the proxy's counters, forwards as it comes.
struct Count(Arc<Counters>);

impl Tap for Count {
    fn chunk(&mut self, dir: Dir, bytes: &[u8]) -> Pass {
        let (c, n) = (&self.0, bytes.len() as u64);
        match dir {
            Dir::Up => {
                if c.server_spoke.swap(false, Ordering::SeqCst) {
                    c.flights.fetch_add(1, Ordering::SeqCst);
                }
                c.out.fetch_add(n, Ordering::SeqCst);
            }
            Dir::Down => {
                c.inn.fetch_add(n, Ordering::SeqCst);
                c.server_spoke.store(true, Ordering::SeqCst);
            }
        }
        Pass::forward(bytes)
    }
}
