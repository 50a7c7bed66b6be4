//! The forwarding proxy in front of a scripted peer: plain copying, a tap that
//! rewrites lines and records, the three cuts, delays, refusing, cutting
//! every connection, and stopping when dropped.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use imapvm_testkit::proxy::{Cut, Dir, Pass, Proxy, Tap};
use imapvm_testkit::{Peer, Reply, lines};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::peer::{connect, read_line, say};
use tokio::net::TcpStream;

/// A server that greets and echoes every line.
async fn echo() -> Peer {
    Peer::builder()
        .respond(|| {
            lines("* hello\r\n", |line| {
                Reply::send(format!("echo {line}\r\n"))
            })
        })
        .await
        .expect("peer")
}

/// The echo server, and a plain proxy in front of it.
async fn echo_through_a_plain_proxy() -> (Peer, Proxy) {
    let server = echo().await;
    let proxy = Proxy::to("127.0.0.1", server.port())
        .start()
        .await
        .expect("proxy");
    (server, proxy)
}

#[tokio::test]
async fn a_plain_proxy_forwards_both_ways_and_counts_connections() {
    let (server, proxy) = echo_through_a_plain_proxy().await;
    for n in 0..2 {
        let mut client = connect(proxy.addr()).await;
        assert_eq!(read_line(&mut client).await, "* hello\r\n");
        say(&mut client, b"ping\r\n").await;
        assert_eq!(read_line(&mut client).await, "echo ping\r\n");
        assert_eq!(server.received_lines(n), ["ping"]);
    }
    assert_eq!(proxy.connections(), 2);
}

/// Renames `hello` to `howdy` in whole lines from the server (holding a
/// partial line until its end comes) and records what the client sends.
struct Rename {
    partial: Vec<u8>,
    up: Arc<Mutex<Vec<u8>>>,
}

impl Tap for Rename {
    fn chunk(&mut self, dir: Dir, bytes: &[u8]) -> Pass {
        if dir == Dir::Up {
            self.up.lock().expect("log").extend_from_slice(bytes);
            return Pass::forward(bytes);
        }
        self.partial.extend_from_slice(bytes);
        let Some(end) = self.partial.iter().rposition(|&b| b == b'\n') else {
            return Pass::default();
        };
        let whole: Vec<u8> = self.partial.drain(..=end).collect();
        Pass::forward(String::from_utf8_lossy(&whole).replace("hello", "howdy"))
    }

    fn end(&mut self, dir: Dir) -> Vec<u8> {
        match dir {
            Dir::Down => std::mem::take(&mut self.partial),
            Dir::Up => Vec::new(),
        }
    }
}

#[tokio::test]
async fn a_tap_rewrites_whole_lines_records_and_flushes_at_the_end() {
    // The greeting comes in two writes, split inside the word.
    let server =
        Peer::script("S| * hel\nsleep 100\nS| lo there\\r\\n\nC: bye\nS| tail without end\nclose")
            .await
            .expect("peer");
    let up = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&up);
    let proxy = Proxy::to("127.0.0.1", server.port())
        .tap(move || Rename {
            partial: Vec::new(),
            up: Arc::clone(&log),
        })
        .await
        .expect("proxy");
    let mut client = connect(proxy.addr()).await;
    assert_eq!(read_line(&mut client).await, "* howdy there\r\n");
    say(&mut client, b"bye\r\n").await;
    let mut rest = String::new();
    tokio::time::timeout(Duration::from_secs(5), client.read_to_string(&mut rest))
        .await
        .expect("closed")
        .expect("read");
    assert_eq!(
        rest, "tail without end",
        "the held part is written at the end"
    );
    assert_eq!(*up.lock().expect("log"), b"bye\r\n");
    server.finish().await.expect("played");
}

/// Lets `after` bytes from the server through, then cuts; everything else
/// as it comes.
struct CutAfter {
    after: usize,
    cut: Cut,
}

impl Tap for CutAfter {
    fn chunk(&mut self, dir: Dir, bytes: &[u8]) -> Pass {
        if dir == Dir::Up {
            return Pass::forward(bytes);
        }
        if bytes.len() < self.after {
            self.after -= bytes.len();
            return Pass::forward(bytes);
        }
        Pass::forward(&bytes[..self.after]).then(self.cut)
    }
}

async fn cut_proxy(server: &Peer, cut: Cut) -> Proxy {
    Proxy::to("127.0.0.1", server.port())
        .tap(move || CutAfter { after: 4, cut })
        .await
        .expect("proxy")
}

#[tokio::test]
async fn close_and_reset_end_the_connection_after_the_bytes_let_through() {
    for (cut, reset) in [(Cut::Close, false), (Cut::Reset, true)] {
        let server = echo().await;
        let proxy = cut_proxy(&server, cut).await;
        let mut client = TcpStream::connect(proxy.addr()).await.expect("connect");
        let mut got = [0u8; 4];
        client
            .read_exact(&mut got)
            .await
            .expect("the bytes let through");
        assert_eq!(&got, b"* he", "{cut:?}");
        let mut more = [0u8; 16];
        let read = tokio::time::timeout(Duration::from_secs(5), client.read(&mut more))
            .await
            .expect("ended");
        match read {
            Err(e) => assert!(reset, "{cut:?}: {e}"),
            Ok(n) => assert!(
                !reset && n == 0,
                "{cut:?}: {n} bytes, or a reset read as EOF"
            ),
        }
    }
}

#[tokio::test]
async fn a_stall_keeps_the_connection_open_and_the_other_direction_going() {
    let server = echo().await;
    let proxy = cut_proxy(&server, Cut::Stall).await;
    let mut client = TcpStream::connect(proxy.addr()).await.expect("connect");
    let mut buf = [0u8; 64];
    let n = client.read(&mut buf).await.expect("read");
    assert_eq!(&buf[..n], b"* he");
    client.write_all(b"ping\r\n").await.expect("write");
    let more = tokio::time::timeout(Duration::from_millis(300), client.read(&mut buf)).await;
    assert!(more.is_err(), "no EOF and no bytes: {more:?}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.received_lines(0) != ["ping"] {
        assert!(Instant::now() < deadline, "the client's line went up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Delays every chunk from the server.
struct Slow(Duration);

impl Tap for Slow {
    fn chunk(&mut self, dir: Dir, bytes: &[u8]) -> Pass {
        match dir {
            Dir::Down => Pass::forward(bytes).delayed(self.0),
            Dir::Up => Pass::forward(bytes),
        }
    }
}

#[tokio::test]
async fn a_delayed_chunk_arrives_late() {
    let server = echo().await;
    let proxy = Proxy::to("127.0.0.1", server.port())
        .tap(|| Slow(Duration::from_millis(300)))
        .await
        .expect("proxy");
    let started = Instant::now();
    let mut client = connect(proxy.addr()).await;
    assert_eq!(read_line(&mut client).await, "* hello\r\n");
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn refused_and_cut_connections_close_and_dropping_stops_the_proxy() {
    let (server, proxy) = echo_through_a_plain_proxy().await;
    let mut live = connect(proxy.addr()).await;
    assert_eq!(read_line(&mut live).await, "* hello\r\n");

    proxy.set_refuse(true);
    assert!(proxy.refusing());
    let mut refused = connect(proxy.addr()).await;
    assert_eq!(read_line(&mut refused).await, "", "closed at once");
    assert_eq!(proxy.connections(), 2, "a refused connection counts");
    assert_eq!(server.connections(), 1, "and never reaches the server");

    proxy.cut_all();
    assert_eq!(read_line(&mut live).await, "", "a live connection is cut");
    proxy.set_refuse(false);
    let mut again = connect(proxy.addr()).await;
    assert_eq!(read_line(&mut again).await, "* hello\r\n");

    let addr = proxy.addr();
    let clone = proxy.clone();
    drop(proxy);
    assert!(TcpStream::connect(addr).await.is_ok(), "a clone keeps it");
    drop(clone);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(read_line(&mut again).await, "", "its connections end");
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "its listener is gone"
    );
}
