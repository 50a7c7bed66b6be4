//! The async driver (tokio): [`Peer`] listens on a loopback port and plays
//! one [`Script`] per connection, or a [`Responder`] for every connection,
//! on each accepted stream or on what [`Builder::upgrade`] makes of it (a
//! TLS stream, say); [`serve`] plays on a stream the test holds.

use std::future::Future;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::play::{Action, Play};
use crate::record::{Builder, Listening, PeerError, Plays, Record, Shared, Transcript};
use crate::respond::Responder;
use crate::script::Script;
use crate::upgrade::Upgrade;

/// A scripted TCP peer on a port of its own; it stops (every connection
/// dropped) when finished or dropped. Its address and what it received so
/// far are on [`Listening`], which it dereferences to.
pub struct Peer {
    listening: Listening,
    task: tokio::task::JoinHandle<()>,
}

/// The tokio driver, for [`Builder`].
#[derive(Debug, Clone, Copy)]
pub enum Tokio {}

impl Peer {
    /// A peer on `127.0.0.1:0` that plays `script` on its one connection.
    pub async fn script(script: &str) -> Result<Peer, PeerError> {
        let script = Script::parse(script)?;
        Peer::builder().scripts([script]).await
    }

    /// Options first: address, timeout.
    pub fn builder() -> Builder<Tokio> {
        Builder::new()
    }

    /// Wait until every scripted connection has played its script (or
    /// departed from it), then stop and return what each received. A
    /// responder's peer stops at once. Fails with the first departure, or
    /// when an expected connection never came (nothing happened for the
    /// timeout and a margin).
    pub async fn finish(self) -> Result<Transcript, PeerError> {
        let shared = &self.listening.shared;
        let expected = self.listening.config.expected;
        let patience = Shared::patience(self.listening.config.timeout);
        loop {
            // Created before the check: a change in between still wakes it.
            let changed = shared.changed().notified();
            if shared.settled(expected) {
                break;
            }
            let before = shared.generation();
            let quiet = tokio::time::timeout(patience, changed).await.is_err();
            if quiet && shared.generation() == before {
                break;
            }
        }
        self.task.abort();
        shared.transcript(expected, patience)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl std::ops::Deref for Peer {
    type Target = Listening;

    fn deref(&self) -> &Listening {
        &self.listening
    }
}

impl Builder<Tokio> {
    /// Run each accepted connection through `upgrade` (a TLS acceptor's
    /// handshake, say: the peer itself does no TLS) and play on the stream it
    /// gives. A connection whose upgrade fails is dropped; it counts in
    /// [`Listening::connections`], and has no outcome (a scripted one is then
    /// reported [`PeerError::Unfinished`]).
    pub fn upgrade<F, Fut, S>(mut self, upgrade: F) -> Builder<Tokio>
    where
        F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::io::Result<S>> + Send + 'static,
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        self.upgrade = Some(Upgrade::new(upgrade));
        self
    }

    /// Play `scripts[n]` on the `n`th connection; later connections are
    /// refused (the listener closes).
    pub async fn scripts(
        mut self,
        scripts: impl IntoIterator<Item = Script>,
    ) -> Result<Peer, PeerError> {
        let scripts: Vec<Script> = scripts.into_iter().collect();
        self.config.expected = Some(scripts.len());
        self.start(Plays::Scripts(scripts)).await
    }

    /// Answer every connection with a fresh responder from `make`.
    pub async fn respond<R, F>(self, make: F) -> Result<Peer, PeerError>
    where
        R: Responder,
        F: FnMut() -> R + Send + 'static,
    {
        self.start(Plays::respond(make)).await
    }

    async fn start(self, mut plays: Plays) -> Result<Peer, PeerError> {
        let (config, upgrade) = (self.config, self.upgrade);
        let listener = TcpListener::bind(config.bind)
            .await
            .map_err(PeerError::Bind)?;
        let addr = listener.local_addr().map_err(PeerError::Bind)?;
        let shared = Arc::new(Shared::keeping(config.keep));
        let state = Arc::clone(&shared);
        let timeout = config.timeout;
        let task = tokio::spawn(async move {
            // Dropped with this task: every connection ends with the peer.
            let mut connections = JoinSet::new();
            loop {
                let Some(play) = plays.next(timeout) else {
                    drop(listener);
                    std::future::pending::<()>().await;
                    return;
                };
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let _ = stream.set_nodelay(true);
                let n = state.connected();
                let (state, upgrade) = (Arc::clone(&state), upgrade.clone());
                connections.spawn(async move {
                    match upgrade {
                        None => drive(stream, play, &state, n, OnStall::Wait).await,
                        Some(upgrade) => match upgrade.run(stream).await {
                            Ok(stream) => drive(stream, play, &state, n, OnStall::Wait).await,
                            Err(_) => state.ended(n),
                        },
                    }
                });
            }
        });
        Ok(Peer {
            listening: Listening {
                addr,
                shared,
                config,
            },
            task,
        })
    }
}

/// Play `play` on `stream` (a connection the test accepted, after a TLS
/// handshake say, or opened itself) until it is done; returns what the other
/// side sent and how it went. A [`Action::Stall`] returns at once: the stream
/// stays open as long as the caller keeps it. To play a client (Asterisk
/// connecting to a FastAGI server under test), connect and serve: `S:` is
/// still what the peer sends, `C:` what the other side must send.
pub async fn serve<S>(stream: &mut S, play: impl Play + 'static) -> Record
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let shared = Shared::default();
    let n = shared.connected();
    drive(stream, Box::new(play), &shared, n, OnStall::Return).await;
    shared.take(n)
}

/// What a driver does on [`Action::Stall`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnStall {
    /// Hold the connection until the peer is finished or dropped.
    Wait,
    /// Return (the caller holds the stream).
    Return,
}

async fn drive<S>(
    mut stream: S,
    mut play: Box<dyn Play>,
    shared: &Shared,
    n: usize,
    on_stall: OnStall,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let action = play.poll();
        shared.settle(n, play.outcome());
        match action {
            Action::Send(bytes) => {
                let sent = stream.write_all(&bytes).await.is_ok() && stream.flush().await.is_ok();
                if sent {
                    shared.sent(n, &bytes);
                } else {
                    play.closed_by_client();
                }
            }
            Action::Receive { within } => {
                let read = stream.read(&mut buf);
                let got = match within {
                    Some(limit) => tokio::time::timeout(limit, read).await.ok(),
                    None => Some(read.await),
                };
                match got {
                    None => play.timed_out(),
                    Some(Ok(0) | Err(_)) => play.closed_by_client(),
                    Some(Ok(k)) => {
                        shared.received_bytes(n, &buf[..k]);
                        play.received(&buf[..k]);
                    }
                }
            }
            Action::Sleep(d) => tokio::time::sleep(d).await,
            Action::Close => {
                let _ = stream.shutdown().await;
                break;
            }
            Action::Stall if on_stall == OnStall::Return => return,
            Action::Stall => std::future::pending::<()>().await,
            Action::Done => break,
        }
    }
    shared.settle(n, play.outcome());
    shared.ended(n);
}
