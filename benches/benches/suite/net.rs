//! The network of the end-to-end suite: one latency proxy
//! (`imapvm_testkit::latency`) per contender in front of the private Dovecot,
//! all at the same distance, each counting its contender's round trips and
//! bytes on the socket. The proxies run on a tokio runtime of their own (one
//! worker thread), so that they forward while the contenders block.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use imapvm_benches::measure::Contender;
use imapvm_benches::suite::Network;
use imapvm_benches::wire::WireStats;
use imapvm_benches::{BenchError, Result};
use imapvm_testkit::latency::{Latency, Link};
use imapvm_testkit::proxy::Proxy;

/// How long a cold contender's connection may take to end after its
/// operation, beyond four round-trip times.
const SETTLE_LIMIT: Duration = Duration::from_secs(5);

/// Every contender's proxy.
pub struct Net {
    rt: tokio::runtime::Runtime,
    rtt_ms: AtomicU32,
    proxies: HashMap<Contender, (Proxy, Arc<Latency>)>,
}

impl Net {
    /// Starts a proxy per contender in front of `server` (the imaps
    /// contender's to its implicit-TLS port), with no delay yet.
    pub fn start(server: &xtask::server::ServerInfo) -> Result<Net> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| BenchError::io("starting the proxies' runtime", e))?;
        let mut proxies = HashMap::new();
        for c in Contender::ALL {
            let port = if c == Contender::ImapvmColdImaps {
                server.imaps_port
            } else {
                server.port
            };
            let latency = Latency::new(Link::default());
            let proxy = rt
                .block_on(Proxy::to(&server.host, port).latency(Arc::clone(&latency)))
                .map_err(|e| BenchError::io(format!("starting {}'s proxy", c.label()), e))?;
            proxies.insert(c, (proxy, latency));
        }
        Ok(Net {
            rt,
            rtt_ms: AtomicU32::new(0),
            proxies,
        })
    }

    /// Puts every proxy at `rtt_ms` of round-trip time (half each way),
    /// open connections included.
    pub fn set_rtt(&self, rtt_ms: u32) {
        self.rtt_ms.store(rtt_ms, Ordering::SeqCst);
        let link = Link::rtt(Duration::from_millis(u64::from(rtt_ms)));
        for (_, latency) in self.proxies.values() {
            latency.set_link(link);
        }
    }
}

impl Network for Net {
    fn rtt_ms(&self) -> u32 {
        self.rtt_ms.load(Ordering::SeqCst)
    }

    fn via(&self, contender: Contender) -> (String, u16) {
        let port = self.proxies.get(&contender).map_or(0, |(p, _)| p.port());
        ("127.0.0.1".to_owned(), port)
    }

    fn stats(&self, contender: Contender) -> WireStats {
        self.proxies
            .get(&contender)
            .map_or_else(WireStats::default, |(_, l)| {
                let t = l.totals();
                WireStats {
                    round_trips: t.round_trips,
                    bytes_out: t.bytes_up,
                    bytes_in: t.bytes_down,
                }
            })
    }

    fn settle(&self, contender: Contender) {
        // Warm contenders keep their connection; a cold one's must end.
        if matches!(
            contender,
            Contender::Imapvm | Contender::Asterisk | Contender::Floor
        ) {
            return;
        }
        let Some((_, latency)) = self.proxies.get(&contender) else {
            return;
        };
        let limit = SETTLE_LIMIT + Duration::from_millis(4 * u64::from(self.rtt_ms()));
        let ended = self
            .rt
            .block_on(latency.settle(0, Duration::from_millis(1), limit));
        if !ended {
            eprintln!(
                "suite: {}'s connection still open {} s after its operation",
                contender.label(),
                limit.as_secs()
            );
        }
    }
}
