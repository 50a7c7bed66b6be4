//! Test doubles of what imapvm's watcher talks to on the PBX side: an AMI peer that speaks
//! Asterisk's manager framing and records every action, and an HTTP webhook receiver that
//! records every request. Plain threads and blocking sockets (no async runtime), so tests
//! and benches of any kind can use them; each listens on an ephemeral loopback port and
//! stops when dropped.
//!
//! The AMI framing follows Asterisk: the banner line `Asterisk Call Manager/5.0.2` on
//! connect, packets of `Key: Value` lines closed by an empty line, `Response: Success` or
//! `Response: Error` with the action's `ActionID`, `Event: FullyBooted` after a login, and
//! the connection closed after a refused login.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// How the AMI peer behaves.
#[derive(Debug, Clone)]
pub struct AmiPeerConfig {
    /// The first line sent (without CR LF).
    pub banner: String,
    /// The accepted user.
    pub username: String,
    /// Its secret.
    pub secret: String,
    /// Actions answered `Response: Success` (others get `Response: Error`, as Asterisk
    /// answers an action whose module is not loaded). `Login`, `Logoff`, `Ping` always work.
    pub known_actions: Vec<String>,
    /// Close the connection, without answering, on each of the first N actions other than
    /// Login/Ping/Logoff (a PBX restart mid-request).
    pub drop_first: usize,
    /// Never answer `Ping` (a hung PBX).
    pub ignore_ping: bool,
}

impl Default for AmiPeerConfig {
    fn default() -> Self {
        AmiPeerConfig {
            banner: "Asterisk Call Manager/5.0.2".into(),
            username: "imapvm".into(),
            secret: "s3cret".into(),
            known_actions: vec!["VoicemailRefresh".into(), "MWIUpdate".into()],
            drop_first: 0,
            ignore_ping: false,
        }
    }
}

/// One action the peer received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmiAction {
    /// Its header lines in order.
    pub headers: Vec<(String, String)>,
    /// When its closing empty line arrived.
    pub at: SystemTime,
    /// Which connection (0-based, in accept order) carried it.
    pub connection: usize,
}

impl AmiAction {
    /// The first header named `key` (case-insensitive).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// The `Action:` value.
    pub fn name(&self) -> &str {
        self.get("Action").unwrap_or("")
    }
}

#[derive(Default)]
struct PeerState {
    actions: Vec<AmiAction>,
    connections: usize,
    dropped: usize,
    raw: Vec<u8>,
}

/// A fake Asterisk manager interface on `127.0.0.1`.
pub struct AmiPeer {
    addr: SocketAddr,
    state: Arc<(Mutex<PeerState>, Condvar)>,
    stop: Arc<AtomicBool>,
    streams: Arc<Mutex<Vec<TcpStream>>>,
}

impl AmiPeer {
    /// Starts listening on an ephemeral loopback port.
    pub fn start(config: AmiPeerConfig) -> std::io::Result<AmiPeer> {
        AmiPeer::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), config)
    }

    /// Starts listening on `addr` (e.g. a port a client is already retrying).
    pub fn start_on(addr: SocketAddr, config: AmiPeerConfig) -> std::io::Result<AmiPeer> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let state = Arc::new((Mutex::new(PeerState::default()), Condvar::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let streams = Arc::new(Mutex::new(Vec::new()));
        let config = Arc::new(config);
        {
            let (state, stop, streams) = (state.clone(), stop.clone(), streams.clone());
            thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    let connection = {
                        let mut s = lock(&state.0);
                        s.connections += 1;
                        s.connections - 1
                    };
                    if let Ok(clone) = stream.try_clone() {
                        lock(&streams).push(clone);
                    }
                    let (state, config) = (state.clone(), config.clone());
                    thread::spawn(move || {
                        let _ = serve_ami(stream, connection, &config, &state);
                    });
                }
            });
        }
        Ok(AmiPeer {
            addr,
            state,
            stop,
            streams,
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every action received so far (Login included; its secret as sent).
    pub fn actions(&self) -> Vec<AmiAction> {
        lock(&self.state.0).actions.clone()
    }

    /// The actions named `name`.
    pub fn actions_named(&self, name: &str) -> Vec<AmiAction> {
        self.actions()
            .into_iter()
            .filter(|a| a.name().eq_ignore_ascii_case(name))
            .collect()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        lock(&self.state.0).connections
    }

    /// Every byte received, all connections in arrival order.
    pub fn raw(&self) -> Vec<u8> {
        lock(&self.state.0).raw.clone()
    }

    /// Waits until `done(actions)` holds or `within` passes; returns the actions either way
    /// and whether it held.
    pub fn wait_for(
        &self,
        within: Duration,
        mut done: impl FnMut(&[AmiAction]) -> bool,
    ) -> (bool, Vec<AmiAction>) {
        let deadline = Instant::now() + within;
        let mut s = lock(&self.state.0);
        loop {
            if done(&s.actions) {
                return (true, s.actions.clone());
            }
            let now = Instant::now();
            if now >= deadline {
                return (false, s.actions.clone());
            }
            s = match self.state.1.wait_timeout(s, deadline - now) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }

    /// Closes every open connection (an Asterisk restart).
    pub fn kick(&self) {
        for s in lock(&self.streams).drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for AmiPeer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.kick();
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve_ami(
    stream: TcpStream,
    connection: usize,
    config: &AmiPeerConfig,
    state: &(Mutex<PeerState>, Condvar),
) -> std::io::Result<()> {
    let mut out = stream.try_clone()?;
    out.write_all(format!("{}\r\n", config.banner).as_bytes())?;
    let mut reader = BufReader::new(stream);
    let mut logged_in = false;
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        lock(&state.0).raw.extend_from_slice(line.as_bytes());
        let text = line.trim_end_matches(['\r', '\n']);
        if !text.is_empty() {
            let (k, v) = text.split_once(':').unwrap_or((text, ""));
            headers.push((k.trim().to_owned(), v.trim_start().to_owned()));
            continue;
        }
        if headers.is_empty() {
            continue;
        }
        let action = AmiAction {
            headers: std::mem::take(&mut headers),
            at: SystemTime::now(),
            connection,
        };
        let id = action.get("ActionID").unwrap_or("").to_owned();
        let name = action.name().to_owned();
        {
            let mut s = lock(&state.0);
            s.actions.push(action.clone());
            state.1.notify_all();
        }
        let reply = |msg: &str| format!("Response: {msg}\r\nActionID: {id}\r\n");
        match name.to_ascii_lowercase().as_str() {
            "login" => {
                let ok = action.get("Username") == Some(config.username.as_str())
                    && action.get("Secret") == Some(config.secret.as_str());
                if ok {
                    logged_in = true;
                    out.write_all(
                        format!(
                            "{}Message: Authentication accepted\r\n\r\n",
                            reply("Success")
                        )
                        .as_bytes(),
                    )?;
                    out.write_all(
                        b"Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: 12\r\n\
                          LastReload: 12\r\nStatus: Fully Booted\r\n\r\n",
                    )?;
                } else {
                    out.write_all(
                        format!("{}Message: Authentication failed\r\n\r\n", reply("Error"))
                            .as_bytes(),
                    )?;
                    // Asterisk hangs up after a failed login.
                    let _ = out.shutdown(Shutdown::Both);
                    return Ok(());
                }
            }
            "ping" if config.ignore_ping => {}
            "ping" => out.write_all(
                format!(
                    "{}Ping: Pong\r\nTimestamp: 1795674094.123456\r\n\r\n",
                    reply("Success")
                )
                .as_bytes(),
            )?,
            "logoff" => {
                out.write_all(
                    format!("Response: Goodbye\r\nActionID: {id}\r\nMessage: Thanks for all the fish.\r\n\r\n")
                        .as_bytes(),
                )?;
                let _ = out.shutdown(Shutdown::Both);
                return Ok(());
            }
            _ if !logged_in => out.write_all(
                format!("{}Message: Permission denied\r\n\r\n", reply("Error")).as_bytes(),
            )?,
            _ => {
                let drop_now = {
                    let mut s = lock(&state.0);
                    if s.dropped < config.drop_first {
                        s.dropped += 1;
                        true
                    } else {
                        false
                    }
                };
                if drop_now {
                    let _ = out.shutdown(Shutdown::Both);
                    return Ok(());
                }
                if config
                    .known_actions
                    .iter()
                    .any(|k| k.eq_ignore_ascii_case(&name))
                {
                    out.write_all(
                        format!("{}Message: {name} done\r\n\r\n", reply("Success")).as_bytes(),
                    )?;
                } else {
                    out.write_all(
                        format!("{}Message: Invalid/unknown command: {name}. Use Action: ListCommands to show available commands.\r\n\r\n", reply("Error"))
                            .as_bytes(),
                    )?;
                }
            }
        }
    }
}

/// How the webhook receiver answers.
#[derive(Debug, Clone, Default)]
pub struct WebhookReceiverConfig {
    /// Status of the Nth request (in arrival order); after the list, 200.
    pub statuses: Vec<u16>,
    /// Never answer the first N requests (they hang until the client gives up).
    pub hang_first: usize,
    /// Wait this long before answering each request.
    pub delay: Duration,
}

/// One request the receiver got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// `POST /path HTTP/1.1`.
    pub request_line: String,
    /// Header lines in order.
    pub headers: Vec<(String, String)>,
    /// The body (by `Content-Length`).
    pub body: Vec<u8>,
    /// When it was complete.
    pub at: SystemTime,
}

impl HttpRequest {
    /// The first header named `key` (case-insensitive).
    pub fn header(&self, key: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct ReceiverState {
    requests: Vec<HttpRequest>,
    arrived: usize,
    active: usize,
    max_active: usize,
}

/// A fake webhook endpoint on `127.0.0.1`.
pub struct WebhookReceiver {
    addr: SocketAddr,
    state: Arc<(Mutex<ReceiverState>, Condvar)>,
    stop: Arc<AtomicBool>,
    hung: Arc<Mutex<VecDeque<TcpStream>>>,
}

impl WebhookReceiver {
    /// Starts listening.
    pub fn start(config: WebhookReceiverConfig) -> std::io::Result<WebhookReceiver> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let state = Arc::new((Mutex::new(ReceiverState::default()), Condvar::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let hung = Arc::new(Mutex::new(VecDeque::new()));
        let config = Arc::new(config);
        {
            let (state, stop, hung) = (state.clone(), stop.clone(), hung.clone());
            thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    let (state, config, hung) = (state.clone(), config.clone(), hung.clone());
                    thread::spawn(move || {
                        let _ = serve_http(stream, &config, &state, &hung);
                    });
                }
            });
        }
        Ok(WebhookReceiver {
            addr,
            state,
            stop,
            hung,
        })
    }

    /// `http://127.0.0.1:PORT/PATH`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Every complete request so far.
    pub fn requests(&self) -> Vec<HttpRequest> {
        lock(&self.state.0).requests.clone()
    }

    /// The most requests that were open at the same time.
    pub fn max_concurrent(&self) -> usize {
        lock(&self.state.0).max_active
    }

    /// Waits until `done(requests)` holds or `within` passes.
    pub fn wait_for(
        &self,
        within: Duration,
        mut done: impl FnMut(&[HttpRequest]) -> bool,
    ) -> (bool, Vec<HttpRequest>) {
        let deadline = Instant::now() + within;
        let mut s = lock(&self.state.0);
        loop {
            if done(&s.requests) {
                return (true, s.requests.clone());
            }
            let now = Instant::now();
            if now >= deadline {
                return (false, s.requests.clone());
            }
            s = match self.state.1.wait_timeout(s, deadline - now) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for s in lock(&self.hung).drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve_http(
    stream: TcpStream,
    config: &WebhookReceiverConfig,
    state: &(Mutex<ReceiverState>, Condvar),
    hung: &Mutex<VecDeque<TcpStream>>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut out = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line)? == 0 {
        return Ok(());
    }
    {
        let mut s = lock(&state.0);
        s.active += 1;
        s.max_active = s.max_active.max(s.active);
    }
    let result = (|| {
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                return Ok(None);
            }
            let text = line.trim_end_matches(['\r', '\n']);
            if text.is_empty() {
                break;
            }
            let (k, v) = text.split_once(':').unwrap_or((text, ""));
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
        let length = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("Content-Length"))
            .and_then(|(_, v)| v.parse::<usize>().ok())
            .unwrap_or(0)
            .min(1 << 20);
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body)?;
        Ok::<_, std::io::Error>(Some(HttpRequest {
            request_line: request_line.trim_end().to_owned(),
            headers,
            body,
            at: SystemTime::now(),
        }))
    })();
    let index = {
        let mut s = lock(&state.0);
        let index = s.arrived;
        s.arrived += 1;
        if let Ok(Some(r)) = &result {
            s.requests.push(r.clone());
        }
        state.1.notify_all();
        index
    };
    let done = || {
        let mut s = lock(&state.0);
        s.active -= 1;
    };
    if index < config.hang_first {
        // Hold the connection open, unanswered, until the client gives up or we stop.
        if let Ok(clone) = out.try_clone() {
            lock(hung).push_back(clone);
        }
        let mut sink = [0u8; 64];
        while matches!(reader.read(&mut sink), Ok(n) if n > 0) {}
        done();
    } else {
        thread::sleep(config.delay);
        let status = config.statuses.get(index).copied().unwrap_or(200);
        // No longer open once the answer is on its way (the client may send the next
        // request the moment it reads it).
        done();
        let _ = out.write_all(
            format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        );
    }
    result.map(|_| ())
}
