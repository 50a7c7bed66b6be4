//! The async peer against real tokio clients: scripts played to the end,
//! departures reported with a diff, timeouts, several connections, refused
//! extra ones, responders with literals, stalls, `serve` on any stream, and
//! accepted streams upgraded before the play.

use std::time::{Duration, Instant};

use imapvm_testkit::{
    MismatchKind, Peer, PeerError, Reply, Responder, Script, ScriptPlay, lines, serve,
};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// The next line, within 5 s.
pub(crate) async fn read_line(reader: &mut BufReader<TcpStream>) -> String {
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(5), reader.read_line(&mut line))
        .await
        .expect("a line within 5 s")
        .expect("read");
    line
}

/// Writes `bytes` to the client's connection.
pub(crate) async fn say(client: &mut BufReader<TcpStream>, bytes: &[u8]) {
    client.get_mut().write_all(bytes).await.expect("write");
}

/// A client connected to `addr`.
pub(crate) async fn connect(addr: std::net::SocketAddr) -> BufReader<TcpStream> {
    BufReader::new(TcpStream::connect(addr).await.expect("connect"))
}

#[tokio::test]
async fn a_script_runs_to_its_end_and_the_transcript_has_what_came() {
    let peer = Peer::script("S: * OK hi\nC: a1 NOOP\nS: a1 OK done")
        .await
        .expect("peer");
    let mut client = BufReader::new(TcpStream::connect(peer.addr()).await.expect("connect"));
    assert_eq!(read_line(&mut client).await, "* OK hi\r\n");
    // Split writes still match.
    client.get_mut().write_all(b"a1 NO").await.expect("write");
    client.get_mut().write_all(b"OP\r\n").await.expect("write");
    assert_eq!(read_line(&mut client).await, "a1 OK done\r\n");
    client
        .get_mut()
        .write_all(b"a2 LOGOUT\r\n")
        .await
        .expect("write");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(peer.received_lines(0), ["a1 NOOP", "a2 LOGOUT"]);
    let transcript = peer.finish().await.expect("script played");
    let record = &transcript.connections[0];
    assert_eq!(record.sent, b"* OK hi\r\na1 OK done\r\n");
    assert_eq!(record.lines(), ["a1 NOOP", "a2 LOGOUT"]);
}

#[tokio::test]
async fn a_departure_closes_the_connection_and_finish_shows_the_difference() {
    let peer = Peer::script("S: * OK\nC: a1 SELECT INBOX\nS: a1 OK")
        .await
        .expect("peer");
    let mut client = BufReader::new(TcpStream::connect(peer.addr()).await.expect("connect"));
    read_line(&mut client).await;
    client
        .get_mut()
        .write_all(b"a1 SELECT \"INBOX\"\r\n")
        .await
        .expect("write");
    // The peer closes: the client sees EOF, not the scripted answer.
    assert_eq!(read_line(&mut client).await, "");
    let err = peer.finish().await.expect_err("a mismatch");
    let text = err.to_string();
    assert!(
        matches!(&err, PeerError::Mismatch { connection: 0, mismatch } if mismatch.line == 2),
        "{text}"
    );
    assert!(
        text.contains("expected: \"a1 SELECT INBOX\\r\\n\""),
        "{text}"
    );
    assert!(text.contains("first difference at byte 10"), "{text}");
}

#[tokio::test]
async fn a_silent_client_times_out_instead_of_hanging() {
    let peer = Peer::builder()
        .timeout(Duration::from_millis(200))
        .scripts([Script::parse("S: * OK\nC: a1 NOOP").expect("script")])
        .await
        .expect("peer");
    let _client = TcpStream::connect(peer.addr()).await.expect("connect");
    let started = Instant::now();
    let err = peer.finish().await.expect_err("a timeout");
    assert!(started.elapsed() < Duration::from_secs(3), "{err}");
    assert!(
        matches!(&err, PeerError::Mismatch { mismatch, .. }
            if mismatch.kind == MismatchKind::TimedOut(Duration::from_millis(200))),
        "{err}"
    );
}

#[tokio::test]
async fn each_connection_plays_its_script_and_more_are_refused() {
    let peer = Peer::builder()
        .scripts([
            Script::parse("S: first\nC: one").expect("script"),
            Script::parse("S: second\nC: two\nEOF").expect("script"),
        ])
        .await
        .expect("peer");
    for (greeting, answer) in [("first\r\n", "one\r\n"), ("second\r\n", "two\r\n")] {
        let mut client = BufReader::new(TcpStream::connect(peer.addr()).await.expect("connect"));
        assert_eq!(read_line(&mut client).await, greeting);
        client
            .get_mut()
            .write_all(answer.as_bytes())
            .await
            .expect("write");
        if greeting == "second\r\n" {
            assert_eq!(read_line(&mut client).await, "", "closed by the script");
        }
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        TcpStream::connect(peer.addr()).await.is_err(),
        "a third connection is refused"
    );
    let transcript = peer.finish().await.expect("both played");
    assert_eq!(transcript.connections.len(), 2);
    assert_eq!(transcript.connections[1].lines(), ["two"]);
}

#[tokio::test]
async fn a_connection_that_never_comes_is_reported() {
    let peer = Peer::builder()
        .timeout(Duration::from_millis(100))
        .scripts([Script::parse("S: hi").expect("script")])
        .await
        .expect("peer");
    let err = peer.finish().await.expect_err("nobody came");
    assert!(
        matches!(err, PeerError::NeverConnected { connection: 0, .. }),
        "{err}"
    );
}

/// An IMAP-ish server that reads a `{n}` literal, as the runtime's inline
/// servers do for APPEND.
struct Appends {
    tag: String,
}

impl Responder for Appends {
    fn greeting(&mut self) -> Reply {
        Reply::send("* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n")
    }

    fn line(&mut self, line: &[u8]) -> Reply {
        let text = String::from_utf8_lossy(line).trim_end().to_string();
        let (tag, rest) = text.split_once(' ').unwrap_or((&text, ""));
        let literal = rest
            .strip_suffix("+}")
            .and_then(|r| r.rsplit_once('{'))
            .and_then(|(_, n)| n.parse().ok());
        match literal {
            Some(n) => {
                self.tag = tag.to_string();
                Reply::nothing().then_read(n)
            }
            None if rest.starts_with("LOGOUT") => {
                Reply::send(format!("* BYE\r\n{tag} OK\r\n")).then_close()
            }
            None if self.tag.is_empty() => Reply::send(format!("{tag} OK\r\n")),
            // The end of the APPEND line after its literal.
            None => Reply::send(format!(
                "{} OK [APPENDUID 7 1] done\r\n",
                std::mem::take(&mut self.tag)
            )),
        }
    }
}

#[tokio::test]
async fn a_responder_answers_every_connection_and_reads_literals() {
    let peer = Peer::builder()
        .respond(|| Appends { tag: String::new() })
        .await
        .expect("peer");
    for _ in 0..2 {
        let mut client = BufReader::new(TcpStream::connect(peer.addr()).await.expect("connect"));
        assert!(read_line(&mut client).await.starts_with("* OK"));
        client
            .get_mut()
            .write_all(b"a1 APPEND INBOX {7+}\r\nab\ncd\n\r\n")
            .await
            .expect("write");
        assert_eq!(
            read_line(&mut client).await,
            "a1 OK [APPENDUID 7 1] done\r\n"
        );
        client
            .get_mut()
            .write_all(b"a2 LOGOUT\r\n")
            .await
            .expect("write");
        assert_eq!(read_line(&mut client).await, "* BYE\r\n");
        assert_eq!(read_line(&mut client).await, "a2 OK\r\n");
        assert_eq!(read_line(&mut client).await, "", "closed");
    }
    assert_eq!(peer.connections(), 2);
    let transcript = peer.finish().await.expect("no failure");
    assert_eq!(
        transcript.connections[1].received,
        b"a1 APPEND INBOX {7+}\r\nab\ncd\n\r\na2 LOGOUT\r\n"
    );
}

#[tokio::test]
async fn a_stall_keeps_the_connection_open_and_silent() {
    let peer = Peer::script("S| * 3 EXI\nstall").await.expect("peer");
    let mut client = TcpStream::connect(peer.addr()).await.expect("connect");
    let mut buf = [0u8; 64];
    let n = client.read(&mut buf).await.expect("read");
    assert_eq!(&buf[..n], b"* 3 EXI");
    client
        .write_all(b"a1 NOOP\r\n")
        .await
        .expect("write still works");
    let more = tokio::time::timeout(Duration::from_millis(200), client.read(&mut buf)).await;
    assert!(more.is_err(), "no EOF and no bytes while stalled: {more:?}");
    peer.finish().await.expect("a stall ends the script");
    let n = tokio::time::timeout(Duration::from_secs(2), client.read(&mut buf))
        .await
        .expect("closed once the peer is finished")
        .unwrap_or(0);
    assert_eq!(n, 0);
}

#[tokio::test]
async fn serve_plays_on_a_stream_the_test_accepted() {
    let (mut client, mut server) = tokio::io::duplex(1024);
    let script = Script::parse("S: hello\nC: world\nS: bye").expect("script");
    let served = tokio::spawn(async move {
        serve(
            &mut server,
            ScriptPlay::new(&script, Duration::from_secs(5)),
        )
        .await
    });
    let mut buf = [0u8; 7];
    client.read_exact(&mut buf).await.expect("read");
    assert_eq!(&buf, b"hello\r\n");
    client.write_all(b"world\r\n").await.expect("write");
    let mut bye = [0u8; 5];
    client.read_exact(&mut bye).await.expect("read");
    drop(client);
    let record = served.await.expect("served");
    assert_eq!(record.outcome, Some(Ok(())));
    assert_eq!(record.received, b"world\r\n");
}

#[tokio::test]
async fn lines_makes_a_responder_of_a_function() {
    let peer = Peer::builder()
        .respond(|| {
            lines("+OK ready\r\n", |line| {
                Reply::send(format!("echo {line}\r\n"))
            })
        })
        .await
        .expect("peer");
    let mut client = BufReader::new(TcpStream::connect(peer.addr()).await.expect("connect"));
    assert_eq!(read_line(&mut client).await, "+OK ready\r\n");
    client
        .get_mut()
        .write_all(b"ping\r\n")
        .await
        .expect("write");
    assert_eq!(read_line(&mut client).await, "echo ping\r\n");
}

/// A stand-in for a TLS handshake: the client must say `HELLO` first, and
/// gets `WELCOME`; anything else fails the upgrade.
async fn handshake(mut tcp: TcpStream) -> std::io::Result<TcpStream> {
    let mut hello = [0u8; 7];
    tcp.read_exact(&mut hello).await?;
    if &hello != b"HELLO\r\n" {
        return Err(std::io::Error::other("no HELLO"));
    }
    tcp.write_all(b"WELCOME\r\n").await?;
    Ok(tcp)
}

#[tokio::test]
async fn an_upgrade_runs_before_the_play_and_a_failed_one_drops_the_connection() {
    let peer = Peer::builder()
        .upgrade(handshake)
        .respond(|| lines("* OK\r\n", |line| Reply::send(format!("got {line}\r\n"))))
        .await
        .expect("peer");
    let mut client = connect(peer.addr()).await;
    say(&mut client, b"HELLO\r\n").await;
    assert_eq!(read_line(&mut client).await, "WELCOME\r\n");
    assert_eq!(
        read_line(&mut client).await,
        "* OK\r\n",
        "the greeting after"
    );
    say(&mut client, b"x\r\n").await;
    assert_eq!(read_line(&mut client).await, "got x\r\n");
    assert_eq!(
        peer.received_lines(0),
        ["x"],
        "the handshake is not recorded"
    );

    let mut refused = connect(peer.addr()).await;
    say(&mut refused, b"HOWDY\r\n").await;
    assert_eq!(read_line(&mut refused).await, "", "dropped, no greeting");
    assert_eq!(peer.connections(), 2);
    let transcript = peer.finish().await.expect("a responder's peer");
    assert!(transcript.connections[1].ended);
    assert!(transcript.connections[1].outcome.is_none());
}

#[tokio::test]
async fn a_record_keeps_at_most_what_it_is_told() {
    let peer = Peer::builder()
        .keep_at_most(8)
        .respond(|| {
            lines("", |line| {
                Reply::send(format!("got {}\r\n", line.repeat(10)))
            })
        })
        .await
        .expect("peer");
    let mut client = connect(peer.addr()).await;
    say(&mut client, b"abcdefghij\r\n").await;
    assert_eq!(read_line(&mut client).await.len(), 106, "all of it flows");
    assert_eq!(peer.received(0), b"abcdefgh");
    let transcript = peer.finish().await.expect("a responder's peer");
    assert_eq!(transcript.connections[0].sent, b"got abcd");
}
