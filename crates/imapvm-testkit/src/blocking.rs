//! The same peer without tokio: std sockets, one thread per connection. For
//! tests of blocking code, or crates that do not want an async runtime.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::play::{Action, Play};
use crate::record::{Builder, Listening, PeerError, Plays, Record, Shared, Transcript};
use crate::respond::Responder;
use crate::script::Script;

/// How often a waiting thread looks whether the peer stopped.
const TICK: Duration = Duration::from_millis(20);

/// A scripted TCP peer on a port of its own, on threads; it stops (every
/// connection dropped) when finished or dropped. Its address and what it
/// received so far are on [`Listening`], which it dereferences to.
pub struct Peer {
    listening: Listening,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

/// The std-thread driver, for [`Builder`].
#[derive(Debug, Clone, Copy)]
pub enum Threads {}

impl Peer {
    /// A peer on `127.0.0.1:0` that plays `script` on its one connection.
    pub fn script(script: &str) -> Result<Peer, PeerError> {
        let script = Script::parse(script)?;
        Peer::builder().scripts([script])
    }

    /// Options first: address, timeout.
    pub fn builder() -> Builder<Threads> {
        Builder::new()
    }

    /// As [`crate::Peer::finish`].
    pub fn finish(mut self) -> Result<Transcript, PeerError> {
        let Listening { shared, config, .. } = &self.listening;
        let shared = Arc::clone(shared);
        let expected = config.expected;
        let patience = Shared::patience(config.timeout);
        let (mut seen, mut since) = (shared.generation(), Instant::now());
        while !shared.settled(expected) && since.elapsed() < patience {
            shared.wait_change(TICK);
            if shared.generation() != seen {
                (seen, since) = (shared.generation(), Instant::now());
            }
        }
        self.stop();
        shared.transcript(expected, patience)
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.stop();
    }
}

impl std::ops::Deref for Peer {
    type Target = Listening;

    fn deref(&self) -> &Listening {
        &self.listening
    }
}

impl Builder<Threads> {
    /// Play `scripts[n]` on the `n`th connection; later connections are
    /// refused.
    pub fn scripts(mut self, scripts: impl IntoIterator<Item = Script>) -> Result<Peer, PeerError> {
        let scripts: Vec<Script> = scripts.into_iter().collect();
        self.config.expected = Some(scripts.len());
        self.start(Plays::Scripts(scripts))
    }

    /// Answer every connection with a fresh responder from `make`.
    pub fn respond<R, F>(self, make: F) -> Result<Peer, PeerError>
    where
        R: Responder,
        F: FnMut() -> R + Send + 'static,
    {
        self.start(Plays::respond(make))
    }

    fn start(self, mut plays: Plays) -> Result<Peer, PeerError> {
        let config = self.config;
        let listener = TcpListener::bind(config.bind).map_err(PeerError::Bind)?;
        let addr = listener.local_addr().map_err(PeerError::Bind)?;
        listener.set_nonblocking(true).map_err(PeerError::Bind)?;
        let shared = Arc::new(Shared::keeping(config.keep));
        let stop = Arc::new(AtomicBool::new(false));
        let (state, stopping) = (Arc::clone(&shared), Arc::clone(&stop));
        let accept = std::thread::spawn(move || {
            let mut connections = Vec::new();
            let mut listener = Some(listener);
            while !stopping.load(Ordering::SeqCst) {
                let Some(open) = &listener else {
                    std::thread::sleep(TICK);
                    continue;
                };
                match open.accept() {
                    Ok((stream, _)) => {
                        let Some(play) = plays.next(config.timeout) else {
                            continue;
                        };
                        let n = state.connected();
                        let (state, stopping) = (Arc::clone(&state), Arc::clone(&stopping));
                        connections.push(std::thread::spawn(move || {
                            let mut stream = stream;
                            drive(&mut stream, play, &state, n, Some(&stopping));
                        }));
                        if matches!(&plays, Plays::Scripts(left) if left.is_empty()) {
                            // No more connections are expected: refuse them.
                            listener = None;
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(TICK),
                    Err(_) => break,
                }
            }
            for connection in connections {
                let _ = connection.join();
            }
        });
        Ok(Peer {
            listening: Listening {
                addr,
                shared,
                config,
            },
            stop,
            accept: Some(accept),
        })
    }
}

/// Play `play` on `stream` (a connection the test opened or accepted
/// itself) until it is done; returns what the other side sent and how it
/// went. A stall returns at once: the stream stays open as long as the
/// caller keeps it. To play a client (Asterisk connecting to a FastAGI
/// server under test), connect and serve: `S:` is still what the peer sends,
/// `C:` what the other side must send.
pub fn serve(stream: &mut TcpStream, play: impl Play + 'static) -> Record {
    let shared = Shared::default();
    let n = shared.connected();
    drive(stream, Box::new(play), &shared, n, None);
    shared.take(n)
}

/// Play `play` on a blocking `stream` until it is done or `stop` is set.
fn drive(
    stream: &mut TcpStream,
    mut play: Box<dyn Play>,
    shared: &Shared,
    n: usize,
    stop: Option<&AtomicBool>,
) {
    let stopped = || stop.is_some_and(|s| s.load(Ordering::SeqCst));
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0u8; 64 * 1024];
    while !stopped() {
        let action = play.poll();
        shared.settle(n, play.outcome());
        match action {
            Action::Send(bytes) => {
                if stream
                    .write_all(&bytes)
                    .and_then(|()| stream.flush())
                    .is_ok()
                {
                    shared.sent(n, &bytes);
                } else {
                    play.closed_by_client();
                }
            }
            Action::Receive { within } => {
                let deadline = within.map(|w| Instant::now() + w);
                loop {
                    if stopped() {
                        return;
                    }
                    let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                    if left == Some(Duration::ZERO) {
                        play.timed_out();
                        break;
                    }
                    let wait = left.map_or(TICK, |l| l.min(TICK));
                    let _ = stream.set_read_timeout(Some(wait));
                    match stream.read(&mut buf) {
                        Ok(0) => {
                            play.closed_by_client();
                            break;
                        }
                        Ok(k) => {
                            shared.received_bytes(n, &buf[..k]);
                            play.received(&buf[..k]);
                            break;
                        }
                        Err(e)
                            if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                        Err(_) => {
                            play.closed_by_client();
                            break;
                        }
                    }
                }
            }
            Action::Sleep(d) => std::thread::sleep(d),
            Action::Close => {
                let _ = stream.shutdown(Shutdown::Write);
                break;
            }
            // `serve`'s caller holds the stream.
            Action::Stall if stop.is_none() => return,
            Action::Stall => {
                while !stopped() {
                    std::thread::sleep(TICK);
                }
                return;
            }
            Action::Done => break,
        }
    }
    shared.settle(n, play.outcome());
    shared.ended(n);
}
