//! A counting loopback proxy in front of the private Dovecot, so that the wire traffic of
//! the watcher's own connection (which the library does not expose) is counted on the
//! socket: bytes each way, and round trips as the client's flights that follow server data
//! (the client wrote, the server answered, the client writes again).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

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
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        for t in self
            .tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            t.abort();
        }
    }
}

impl Proxy {
    /// Listens on `host`, port chosen by the system, forwarding to `upstream`.
    pub async fn start(host: &str, upstream: (String, u16)) -> Result<Proxy, String> {
        let listener = TcpListener::bind((host, 0))
            .await
            .map_err(|e| format!("proxy bind: {e}"))?;
        let port = listener
            .local_addr()
            .map_err(|e| format!("proxy address: {e}"))?
            .port();
        let counters = Arc::new(Counters::default());
        let tasks: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (c, t) = (Arc::clone(&counters), Arc::clone(&tasks));
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (c, up) = (Arc::clone(&c), upstream.clone());
                let conn = tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect((up.0.as_str(), up.1)).await {
                        pump(client, server, c).await;
                    }
                });
                t.lock().unwrap_or_else(|p| p.into_inner()).push(conn);
            }
        });
        tasks.lock().unwrap_or_else(|p| p.into_inner()).push(accept);
        Ok(Proxy {
            port,
            counters,
            tasks,
        })
    }
}

/// Copies both ways until either side closes, counting.
async fn pump(client: TcpStream, server: TcpStream, c: Arc<Counters>) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let up = {
        let c = Arc::clone(&c);
        async move {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = match cr.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                if c.server_spoke.swap(false, Ordering::SeqCst) {
                    c.flights.fetch_add(1, Ordering::SeqCst);
                }
                c.out.fetch_add(n as u64, Ordering::SeqCst);
                if sw.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
            let _ = sw.shutdown().await;
        }
    };
    let down = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match sr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            c.inn.fetch_add(n as u64, Ordering::SeqCst);
            c.server_spoke.store(true, Ordering::SeqCst);
            if cw.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = cw.shutdown().await;
    };
    tokio::join!(up, down);
}
