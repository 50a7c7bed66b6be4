//! The FastAGI server: one listener, one task per call, peers outside the allow-list
//! refused, at most `max_calls` calls at once (the rest wait in the listen queue), a
//! report per finished call.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc};

use crate::call::{self, CallReport, Shared};
use crate::error::{Error, Result};
use crate::metrics::PhoneMetrics;
use crate::store::PhoneStore;

/// FastAGI's port.
pub const DEFAULT_PORT: u16 = 4573;

/// How the server runs.
#[derive(Debug, Clone)]
pub struct PhoneOptions {
    /// Peers allowed to connect, besides loopback (FastAGI has no authentication).
    pub allow: Vec<IpNet>,
    /// Calls served at once.
    pub max_calls: usize,
    /// Bounds on the AGI conversation (line lengths, deadlines).
    pub agi: imapvm_agi::Config,
    /// How long a write to Asterisk may block.
    pub write_timeout: Duration,
    /// Where calls are counted (in progress, finished by script and `VMSTATUS`, duration);
    /// by default metrics of its own that nobody reads.
    pub metrics: PhoneMetrics,
}

impl Default for PhoneOptions {
    fn default() -> PhoneOptions {
        PhoneOptions {
            allow: Vec::new(),
            max_calls: 512,
            agi: imapvm_agi::Config::default(),
            write_timeout: Duration::from_secs(30),
            metrics: PhoneMetrics::default(),
        }
    }
}

/// Whether `ip` may connect: loopback always, others only inside `allow`.
pub fn allowed(ip: IpAddr, allow: &[IpNet]) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    ip.is_loopback() || allow.iter().any(|net| net.contains(&ip))
}

/// A running FastAGI server.
#[derive(Debug)]
pub struct Phone {
    local: SocketAddr,
    reports: mpsc::UnboundedReceiver<CallReport>,
    task: tokio::task::JoinHandle<()>,
}

impl Phone {
    /// Listens on `listen` and serves calls until [`Phone::stop`] (needs a tokio runtime).
    /// Time comes from the store's clock ([`imapvm::Store::clock`]).
    pub async fn start(
        listen: SocketAddr,
        store: PhoneStore,
        options: PhoneOptions,
    ) -> Result<Phone> {
        let clock = store.store().clock().clone();
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|source| Error::Listen {
                addr: listen.to_string(),
                source,
            })?;
        let local = listener.local_addr().map_err(|source| Error::Listen {
            addr: listen.to_string(),
            source,
        })?;
        let shared = Arc::new(Shared {
            store,
            clock,
            agi: options.agi,
            write_timeout: options.write_timeout,
        });
        let (tx, reports) = mpsc::unbounded_channel();
        let task = tokio::spawn(accept(listener, shared, options, tx));
        tracing::info!(%local, "FastAGI server listening");
        Ok(Phone {
            local,
            reports,
            task,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The next finished call.
    pub async fn next_report(&mut self) -> Option<CallReport> {
        self.reports.recv().await
    }

    /// Stops accepting; calls in progress are dropped with their tasks.
    pub fn stop(self) {
        self.task.abort();
    }
}

async fn accept(
    listener: TcpListener,
    shared: Arc<Shared>,
    options: PhoneOptions,
    reports: mpsc::UnboundedSender<CallReport>,
) {
    let calls = Arc::new(Semaphore::new(options.max_calls.max(1)));
    loop {
        let Ok(permit) = Arc::clone(&calls).acquire_owned().await else {
            return;
        };
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "accepting a FastAGI connection failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if !allowed(peer.ip(), &options.allow) {
            tracing::warn!(%peer, "refused a FastAGI connection from outside --allow");
            drop(stream);
            continue;
        }
        let _ = stream.set_nodelay(true);
        let shared = Arc::clone(&shared);
        let reports = reports.clone();
        let metrics = options.metrics.clone();
        metrics.started();
        tokio::spawn(async move {
            let report = call::serve(shared, stream, peer).await;
            drop(permit);
            metrics.finished(&report);
            let _ = reports.send(report);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_always_others_only_when_allowed() {
        let lan: IpNet = "192.0.2.0/24".parse().unwrap();
        assert!(allowed("127.0.0.1".parse().unwrap(), &[]));
        assert!(allowed("::1".parse().unwrap(), &[]));
        assert!(allowed("::ffff:127.0.0.1".parse().unwrap(), &[]));
        assert!(!allowed("192.0.2.7".parse().unwrap(), &[]));
        assert!(allowed(
            "192.0.2.7".parse().unwrap(),
            std::slice::from_ref(&lan)
        ));
        assert!(allowed(
            "::ffff:192.0.2.7".parse().unwrap(),
            std::slice::from_ref(&lan)
        ));
        assert!(!allowed("198.51.100.1".parse().unwrap(), &[lan]));
    }
}
