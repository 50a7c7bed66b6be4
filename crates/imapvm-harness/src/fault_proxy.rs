//! A TCP proxy between the runtime and the server that injects faults: close the connection
//! after N more bytes in either direction, reset it (RST), stall a direction forever, delay
//! every chunk, refuse new connections, cut every live connection (a server restart), strip
//! `STARTTLS` (or any capability) from what the server says, and record what the client sent. It is the
//! testkit's [`Proxy`] with a tap that decides each chunk from the armed fault.

use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use imapvm_testkit::proxy::{Cut as Action, Dir};
use imapvm_testkit::proxy::{Pass, Proxy, Tap};

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
    /// Capabilities removed from what the server says (` ATOM` wherever it appears).
    hidden: Vec<&'static str>,
    record_up: bool,
    up_log: Vec<u8>,
}

/// The proxy (a handle: clones share it; it stops when the last one is dropped).
#[derive(Clone)]
pub struct FaultProxy {
    /// Its port on 127.0.0.1.
    pub port: u16,
    proxy: Proxy,
    state: Arc<Mutex<State>>,
}

/// Largest recorded client output.
const MAX_LOG: usize = 1 << 20;

impl FaultProxy {
    /// A proxy to `host:port`.
    pub async fn start(host: &str, port: u16) -> FaultProxy {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        let proxy = Proxy::to(host, port)
            .tap(move || Faults(Arc::clone(&shared)))
            .await
            .unwrap();
        FaultProxy {
            port: proxy.port(),
            proxy,
            state,
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
        self.proxy.connections()
    }

    /// Delays every chunk by `d`.
    pub fn set_delay(&self, d: Duration) {
        self.state.lock().unwrap().delay = d;
    }

    /// Refuses (closes at once) new connections while `true`.
    pub fn set_refuse(&self, refuse: bool) {
        self.proxy.set_refuse(refuse);
    }

    /// Whether new connections are refused now.
    pub fn refusing(&self) -> bool {
        self.proxy.refusing()
    }

    /// Closes every live connection (a server restart).
    pub fn kill_all(&self) {
        self.proxy.cut_all();
    }

    /// Removes `STARTTLS` from everything the server says (a downgrade attack).
    pub fn strip_starttls(&self) {
        self.hide_capability("STARTTLS");
    }

    /// Removes the capability `atom` (` ATOM` wherever it appears) from everything the
    /// server says: a server that does not offer it (e.g. `AUTH=OAUTHBEARER`, leaving
    /// XOAUTH2 as Microsoft 365 offers it).
    pub fn hide_capability(&self, atom: &'static str) {
        self.state.lock().unwrap().hidden.push(atom);
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

/// The tap of every connection: the state all of them share.
struct Faults(Arc<Mutex<State>>);

impl Tap for Faults {
    fn chunk(&mut self, dir: Dir, chunk: &[u8]) -> Pass {
        let (take, then, delay) = plan(&self.0, dir, chunk);
        let mut s = self.0.lock().unwrap();
        if dir == Dir::Up && s.record_up && s.up_log.len() < MAX_LOG {
            s.up_log.extend_from_slice(&chunk[..take]);
        }
        let forward = if dir == Dir::Down {
            s.hidden
                .iter()
                .fold(chunk[..take].to_vec(), |bytes, atom| strip(&bytes, atom))
        } else {
            chunk[..take].to_vec()
        };
        Pass {
            forward,
            delay,
            then,
        }
    }
}

/// How much of `chunk` goes through, what then (the armed fault, when it fires), and after
/// which delay.
fn plan(state: &Mutex<State>, dir: Dir, chunk: &[u8]) -> (usize, Option<Action>, Duration) {
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
    match &mut s.armed {
        Some((fault, left, true)) if fault.dir == dir => {
            if (n as u64) >= *left {
                let take = usize::try_from(*left).unwrap_or(n);
                let action = fault.action;
                s.armed = None;
                s.fired += 1;
                (take, Some(action), delay)
            } else {
                *left -= n as u64;
                (n, None, delay)
            }
        }
        _ => (n, None, delay),
    }
}

/// `bytes` without ` ATOM`.
fn strip(bytes: &[u8], atom: &str) -> Vec<u8> {
    let needle = format!(" {atom}");
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(needle.as_bytes()) {
            i += needle.len();
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}
