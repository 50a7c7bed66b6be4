//! A forwarding TCP proxy for tests that need a real server with something in
//! between: [`Proxy`] accepts on a port of its own, connects each client to
//! the target, and copies the bytes both ways through a [`Tap`] that may
//! rewrite, record, delay or cut them. It can refuse new connections and cut
//! every live one (a server outage or restart). Like the peer, it knows no
//! protocol: rewriting IMAP capabilities or arming a fault after an `APPEND`
//! is the tap's business.
//!
//! [`ProxyBuilder::latency`] starts a latency proxy instead (see
//! [`crate::latency`]): delay and jitter each way, half-closes passed on,
//! round trips counted.
//!
//! A connection of a tapped proxy ends when either direction ends (the client or the server
//! closes, or a write fails): both sockets are then closed. Dropping the last
//! handle of a proxy stops its listener and every connection.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::latency::Latency;

/// Which way bytes flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// Client to server.
    Up,
    /// Server to client.
    Down,
}

/// What a tap does to a connection after forwarding a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Both sockets closed (FIN).
    Close,
    /// Both sockets reset (RST: closed with linger 0).
    Reset,
    /// This direction forwards nothing more; the sockets stay open and the
    /// other direction goes on.
    Stall,
}

/// A tap's verdict on one chunk: the bytes to forward (the chunk itself, a
/// rewrite, a part of it, or nothing yet), after how long, and what then.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pass {
    /// Written to the other side (nothing when empty).
    pub forward: Vec<u8>,
    /// Waited before writing.
    pub delay: Duration,
    /// Done to the connection after writing (`None`: go on).
    pub then: Option<Cut>,
}

impl Pass {
    /// Forward `bytes` at once and go on.
    pub fn forward(bytes: impl Into<Vec<u8>>) -> Pass {
        Pass {
            forward: bytes.into(),
            ..Pass::default()
        }
    }

    /// Wait `delay` first.
    pub fn delayed(mut self, delay: Duration) -> Pass {
        self.delay = delay;
        self
    }

    /// Then `cut` the connection.
    pub fn then(mut self, cut: Cut) -> Pass {
        self.then = Some(cut);
        self
    }
}

/// Sees every chunk of one connection, both ways, and says what goes through.
/// Each connection gets its own (state shared across connections lives
/// behind an `Arc` the tap holds). Its two directions run concurrently, and
/// a chunk is decided before the next one of that direction is read.
pub trait Tap: Send + 'static {
    /// `bytes` arrived going `dir`.
    fn chunk(&mut self, dir: Dir, bytes: &[u8]) -> Pass;

    /// Direction `dir` has ended (its sender closed): the bytes the tap
    /// still holds for it (a partial line), written before the connection
    /// closes.
    fn end(&mut self, _dir: Dir) -> Vec<u8> {
        Vec::new()
    }
}

/// The tap of a plain proxy: everything goes through as it comes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Plain;

impl Tap for Plain {
    fn chunk(&mut self, _dir: Dir, bytes: &[u8]) -> Pass {
        Pass::forward(bytes)
    }
}

/// How to start a [`Proxy`]: its target, where it listens, then its tap.
#[derive(Debug, Clone)]
pub struct ProxyBuilder {
    target: (String, u16),
    bind: SocketAddr,
}

impl ProxyBuilder {
    /// Listen on `addr` instead of `127.0.0.1:0`.
    pub fn bind(mut self, addr: SocketAddr) -> ProxyBuilder {
        self.bind = addr;
        self
    }

    /// Start, forwarding everything as it comes.
    pub async fn start(self) -> std::io::Result<Proxy> {
        self.tap(|| Plain).await
    }

    /// Start, with a tap from `make` on each connection.
    pub async fn tap<T, F>(self, mut make: F) -> std::io::Result<Proxy>
    where
        T: Tap,
        F: FnMut() -> T + Send + 'static,
    {
        self.serve(move |client, server, cut| relay(client, server, make(), cut))
            .await
    }

    /// Start as a latency proxy: every connection goes through `latency`'s
    /// link and counters ([`crate::latency`]: per-direction delay and jitter,
    /// half-closes passed on, round trips counted). Cutting every connection
    /// closes them at once, without delay.
    pub async fn latency(self, latency: Arc<Latency>) -> std::io::Result<Proxy> {
        let mut seed = 0u64;
        self.serve(move |client, server, mut cut| {
            seed += 1;
            let latency = Arc::clone(&latency);
            async move {
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                tokio::select! {
                    () = crate::latency::relay(client, server, latency, seed) => {}
                    _ = cut.changed() => {}
                }
            }
        })
        .await
    }

    /// The accept loop: each accepted client is connected to the target and
    /// handed with it to `handle`.
    async fn serve<F, Fut>(self, mut handle: F) -> std::io::Result<Proxy>
    where
        F: FnMut(TcpStream, TcpStream, watch::Receiver<u64>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind(self.bind).await?;
        let addr = listener.local_addr()?;
        let (cut, _) = watch::channel(0u64);
        let shared = Arc::new(Shared {
            refuse: AtomicBool::new(false),
            connections: AtomicU64::new(0),
            cut,
        });
        let state = Arc::clone(&shared);
        let target = self.target;
        let task = tokio::spawn(async move {
            // Dropped with this task: every connection ends with the proxy.
            let mut connections = JoinSet::new();
            while let Ok((client, _)) = listener.accept().await {
                state.connections.fetch_add(1, Ordering::SeqCst);
                if state.refuse.load(Ordering::SeqCst) {
                    continue;
                }
                let cut = state.cut.subscribe();
                if let Ok(server) = TcpStream::connect((target.0.as_str(), target.1)).await {
                    connections.spawn(handle(client, server, cut));
                }
                // Forget the connections that have ended.
                while connections.try_join_next().is_some() {}
            }
        });
        Ok(Proxy {
            addr,
            shared,
            _task: Arc::new(AbortOnDrop(task)),
        })
    }
}

/// What the handles and the accept loop share.
#[derive(Debug)]
struct Shared {
    refuse: AtomicBool,
    connections: AtomicU64,
    /// Bumped to close every live connection.
    cut: watch::Sender<u64>,
}

#[derive(Debug)]
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A running proxy (a handle: clones share it; it stops when the last one is
/// dropped).
#[derive(Debug, Clone)]
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    _task: Arc<AbortOnDrop>,
}

impl Proxy {
    /// A proxy to `host:port` (connected anew for each client).
    pub fn to(host: &str, port: u16) -> ProxyBuilder {
        ProxyBuilder {
            target: (host.to_owned(), port),
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        }
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Connections accepted so far, refused ones included.
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// While `true`, new connections are closed as soon as they are accepted.
    pub fn set_refuse(&self, refuse: bool) {
        self.shared.refuse.store(refuse, Ordering::SeqCst);
    }

    /// Whether new connections are refused now.
    pub fn refusing(&self) -> bool {
        self.shared.refuse.load(Ordering::SeqCst)
    }

    /// Closes every live connection (a server restart); new ones are let in
    /// unless refused.
    pub fn cut_all(&self) {
        self.shared.cut.send_modify(|g| *g += 1);
    }
}

/// Copies between `client` and `server` through `tap` until either direction
/// ends, a tap cuts, or the proxy cuts every connection.
async fn relay<T: Tap>(
    client: TcpStream,
    server: TcpStream,
    tap: T,
    mut cut: watch::Receiver<u64>,
) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let tap = Mutex::new(tap);
    let (mut client_r, mut client_w) = client.into_split();
    let (mut server_r, mut server_w) = server.into_split();
    let end = tokio::select! {
        end = pump(Dir::Up, &mut client_r, &mut server_w, &tap) => end,
        end = pump(Dir::Down, &mut server_r, &mut client_w, &tap) => end,
        _ = cut.changed() => Cut::Close,
    };
    if end == Cut::Reset {
        // Closed with linger 0 and no shutdown first: the kernel sends RST, not FIN.
        let _ = client_r.as_ref().set_zero_linger();
        let _ = server_r.as_ref().set_zero_linger();
        client_w.forget();
        server_w.forget();
    }
}

/// One direction: read a chunk, let the tap decide, write, until the end (a
/// close either way, or the tap's cut); a stall never returns.
async fn pump<T: Tap>(
    dir: Dir,
    from: &mut OwnedReadHalf,
    to: &mut OwnedWriteHalf,
    tap: &Mutex<T>,
) -> Cut {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => {
                let rest = tap.lock().unwrap_or_else(PoisonError::into_inner).end(dir);
                let _ = to.write_all(&rest).await;
                return Cut::Close;
            }
            Ok(n) => n,
        };
        let pass = tap
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .chunk(dir, &buf[..n]);
        if !pass.delay.is_zero() {
            tokio::time::sleep(pass.delay).await;
        }
        if to.write_all(&pass.forward).await.is_err() {
            return Cut::Close;
        }
        match pass.then {
            None => {}
            Some(Cut::Stall) => std::future::pending::<()>().await,
            Some(end) => return end,
        }
    }
}
