//! A TCP proxy between the runtime and the server that injects faults: close the connection
//! after N more bytes in either direction, reset it (RST), stall a direction forever, delay
//! every chunk, refuse new connections, cut every live connection (a server restart), strip
//! `STARTTLS` from what the server says, and record what the client sent.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Which way bytes flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// Client to server.
    Up,
    /// Server to client.
    Down,
}

/// What happens when an armed fault's byte count is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Both sockets closed (FIN).
    Close,
    /// Both sockets reset (RST: linger 0).
    Reset,
    /// That direction stops forwarding forever; the sockets stay open.
    Stall,
}

/// A fault: after `after` more bytes in `dir` (counted from arming), do `action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    /// The direction counted.
    pub dir: Dir,
    /// Bytes let through first.
    pub after: u64,
    /// What then.
    pub action: Action,
    /// Counting starts only once the client has sent a chunk containing this (e.g.
    /// `APPEND`, to cut right around a command's answer); `None`: at once.
    pub when: Option<&'static str>,
}

#[derive(Debug, Default)]
struct State {
    /// The fault, bytes left, whether counting has started.
    armed: Option<(Fault, u64, bool)>,
    fired: u64,
    delay: Duration,
    refuse: bool,
    generation: u64,
    strip_starttls: bool,
    record_up: bool,
    up_log: Vec<u8>,
    connections: u64,
}

/// The proxy (it runs until the test's runtime ends).
#[derive(Clone)]
pub struct FaultProxy {
    /// Its port on 127.0.0.1.
    pub port: u16,
    state: Arc<Mutex<State>>,
    kill: Arc<tokio::sync::watch::Sender<u64>>,
}

/// Largest recorded client output.
const MAX_LOG: usize = 1 << 20;

impl FaultProxy {
    /// A proxy to `host:port`.
    pub async fn start(host: &str, port: u16) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let local = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let (tx, _) = tokio::sync::watch::channel(0u64);
        let kill = Arc::new(tx);
        let target = format!("{host}:{port}");
        let (st, k) = (Arc::clone(&state), Arc::clone(&kill));
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let refuse = {
                    let mut s = st.lock().unwrap();
                    s.connections += 1;
                    s.refuse
                };
                if refuse {
                    drop(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&target).await else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                tokio::spawn(serve(client, server, Arc::clone(&st), k.subscribe()));
            }
        });
        FaultProxy {
            port: local,
            state,
            kill,
        }
    }

    /// Arms `fault` (replacing an armed one that has not fired).
    pub fn arm(&self, fault: Fault) {
        self.state.lock().unwrap().armed = Some((fault, fault.after, fault.when.is_none()));
    }

    /// Disarms; `true` when the armed fault had fired (or none was armed and one fired).
    pub fn disarm(&self) -> bool {
        let mut s = self.state.lock().unwrap();
        let had = s.armed.take();
        had.is_none()
    }

    /// How many faults fired so far.
    pub fn fired(&self) -> u64 {
        self.state.lock().unwrap().fired
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.state.lock().unwrap().connections
    }

    /// Delays every chunk by `d`.
    pub fn set_delay(&self, d: Duration) {
        self.state.lock().unwrap().delay = d;
    }

    /// Refuses (closes at once) new connections while `true`.
    pub fn set_refuse(&self, refuse: bool) {
        self.state.lock().unwrap().refuse = refuse;
    }

    /// Whether new connections are refused now.
    pub fn refusing(&self) -> bool {
        self.state.lock().unwrap().refuse
    }

    /// Closes every live connection (a server restart).
    pub fn kill_all(&self) {
        self.state.lock().unwrap().generation += 1;
        self.kill.send_modify(|g| *g += 1);
    }

    /// Removes `STARTTLS` from everything the server says (a downgrade attack).
    pub fn strip_starttls(&self) {
        self.state.lock().unwrap().strip_starttls = true;
    }

    /// Records what clients send (up to 1 MiB).
    pub fn record(&self) {
        self.state.lock().unwrap().record_up = true;
    }

    /// What clients sent so far.
    pub fn sent_by_client(&self) -> Vec<u8> {
        self.state.lock().unwrap().up_log.clone()
    }
}

/// What a pump does with one chunk.
enum Step {
    Forward(usize),
    ForwardThen(usize, Action),
}

fn plan(state: &Mutex<State>, dir: Dir, chunk: &[u8]) -> (Step, Duration) {
    let n = chunk.len();
    let mut s = state.lock().unwrap();
    let delay = s.delay;
    if let Some((fault, _, started)) = &mut s.armed
        && !*started
        && dir == Dir::Up
        && let Some(marker) = fault.when
        && chunk.windows(marker.len()).any(|w| w == marker.as_bytes())
    {
        *started = true;
    }
    let step = match &mut s.armed {
        Some((fault, left, true)) if fault.dir == dir => {
            if (n as u64) >= *left {
                let take = usize::try_from(*left).unwrap_or(n);
                let action = fault.action;
                s.armed = None;
                s.fired += 1;
                Step::ForwardThen(take, action)
            } else {
                *left -= n as u64;
                Step::Forward(n)
            }
        }
        _ => Step::Forward(n),
    };
    (step, delay)
}

fn strip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(b" STARTTLS") {
            i += b" STARTTLS".len();
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

async fn serve(
    client: TcpStream,
    server: TcpStream,
    state: Arc<Mutex<State>>,
    mut kill: tokio::sync::watch::Receiver<u64>,
) {
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let (done_tx, mut done_rx) = tokio::sync::mpsc::channel::<Action>(2);
    let up = {
        let (state, done) = (Arc::clone(&state), done_tx.clone());
        tokio::spawn(async move {
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                let n = match cr.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let (step, delay) = plan(&state, Dir::Up, &buf[..n]);
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                let (take, then) = match step {
                    Step::Forward(k) => (k, None),
                    Step::ForwardThen(k, a) => (k, Some(a)),
                };
                {
                    let mut s = state.lock().unwrap();
                    if s.record_up && s.up_log.len() < MAX_LOG {
                        s.up_log.extend_from_slice(&buf[..take]);
                    }
                }
                if sw.write_all(&buf[..take]).await.is_err() {
                    break;
                }
                if let Some(action) = then {
                    if action == Action::Stall {
                        std::future::pending::<()>().await;
                    }
                    if action == Action::Reset {
                        // Closed with linger 0: the kernel sends RST, not FIN.
                        let _ = cr.as_ref().set_zero_linger();
                        let _ = sw.as_ref().set_zero_linger();
                    }
                    let _ = done.send(action).await;
                    std::future::pending::<()>().await;
                }
            }
            let _ = done.send(Action::Close).await;
        })
    };
    let down = {
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                let n = match sr.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let (step, delay) = plan(&state, Dir::Down, &buf[..n]);
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                let (take, then) = match step {
                    Step::Forward(k) => (k, None),
                    Step::ForwardThen(k, a) => (k, Some(a)),
                };
                let strip_it = state.lock().unwrap().strip_starttls;
                let out = if strip_it {
                    strip(&buf[..take])
                } else {
                    buf[..take].to_vec()
                };
                if cw.write_all(&out).await.is_err() {
                    break;
                }
                if let Some(action) = then {
                    if action == Action::Stall {
                        std::future::pending::<()>().await;
                    }
                    if action == Action::Reset {
                        let _ = cw.as_ref().set_zero_linger();
                        let _ = sr.as_ref().set_zero_linger();
                    }
                    let _ = done_tx.send(action).await;
                    std::future::pending::<()>().await;
                }
            }
            let _ = done_tx.send(Action::Close).await;
        })
    };
    tokio::select! {
        _ = done_rx.recv() => {}
        _ = kill.changed() => {}
    }
    // Aborted pumps drop their halves: both sockets close (RST when a pump set linger 0).
    up.abort();
    down.abort();
}
