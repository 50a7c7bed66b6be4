//! The tokio-free peer against std clients: the same scripts, departures,
//! responders, LF line endings, another bind address, and `serve` playing a
//! connecting client (Asterisk towards a FastAGI server).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use imapvm_testkit::blocking::{Peer, serve};
use imapvm_testkit::{LineEnding, PeerError, Reply, Script, ScriptPlay, lines};

fn connect(addr: SocketAddr) -> (TcpStream, BufReader<TcpStream>) {
    let stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let reader = BufReader::new(stream.try_clone().expect("clone"));
    (stream, reader)
}

fn read_line(reader: &mut BufReader<TcpStream>) -> String {
    let mut line = String::new();
    reader.read_line(&mut line).expect("a line within 5 s");
    line
}

/// A FastAGI server under test, in miniature: reads the environment up to
/// the blank line, answers the call, reads the result, hangs up.
fn tiny_fastagi_server() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut writer = stream;
        while read_line(&mut reader) != "\n" {}
        writer.write_all(b"ANSWER\n").expect("write");
        assert_eq!(read_line(&mut reader), "200 result=0\n");
        writer.write_all(b"HANGUP\n").expect("write");
    });
    addr
}

#[test]
fn serve_plays_asterisk_connecting_to_a_fastagi_server_with_lf_endings() {
    // The peer's side is Asterisk's: it sends the environment and results.
    let script = Script::parse_with(
        "S: agi_network: yes
         S: agi_request: agi://127.0.0.1/vm
         S:
         C: ANSWER
         S: 200 result=0
         C: HANGUP",
        LineEnding::Lf,
    )
    .expect("script");
    let mut stream = TcpStream::connect(tiny_fastagi_server()).expect("connect");
    let record = serve(
        &mut stream,
        ScriptPlay::new(&script, Duration::from_secs(5)),
    );
    assert_eq!(record.outcome, Some(Ok(())));
    assert_eq!(record.lines(), ["ANSWER", "HANGUP"]);
    assert_eq!(
        record.sent,
        b"agi_network: yes\nagi_request: agi://127.0.0.1/vm\n\n200 result=0\n"
    );
}

#[test]
fn a_script_with_lf_endings_on_the_listening_peer() {
    let script = Script::parse_with("C: hello\nS: world", LineEnding::Lf).expect("script");
    let peer = Peer::builder().scripts([script]).expect("peer");
    let (mut stream, mut reader) = connect(peer.addr());
    stream.write_all(b"hello\n").expect("write");
    assert_eq!(read_line(&mut reader), "world\n");
    let transcript = peer.finish().expect("played");
    assert_eq!(transcript.connections[0].lines(), ["hello"]);
}

#[test]
fn a_departure_is_reported_and_the_client_sees_the_close() {
    let peer = Peer::script("C: a1 NOOP\nS: a1 OK").expect("peer");
    let (mut stream, mut reader) = connect(peer.addr());
    stream.write_all(b"a1 CHECK\r\n").expect("write");
    assert_eq!(read_line(&mut reader), "", "closed");
    let err = peer.finish().expect_err("a mismatch");
    assert!(
        matches!(err, PeerError::Mismatch { connection: 0, .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("first difference at byte 3"),
        "{err}"
    );
}

#[test]
fn a_responder_on_another_loopback_address() {
    let addr: SocketAddr = "127.0.0.2:0".parse().expect("address");
    let peer = Peer::builder()
        .bind(addr)
        .respond(|| {
            lines("* OK\r\n", |line| {
                Reply::send(format!("got {line}\r\n")).then_close()
            })
        })
        .expect("peer");
    assert_eq!(peer.addr().ip(), addr.ip());
    let (mut stream, mut reader) = connect(peer.addr());
    assert_eq!(read_line(&mut reader), "* OK\r\n");
    stream.write_all(b"x\r\n").expect("write");
    assert_eq!(read_line(&mut reader), "got x\r\n");
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).expect("EOF");
    assert!(rest.is_empty());
    assert_eq!(peer.received_lines(0), ["x"]);
    peer.finish().expect("no failure");
}

#[test]
fn a_silent_client_times_out() {
    let peer = Peer::builder()
        .timeout(Duration::from_millis(150))
        .scripts([Script::parse("C: hello").expect("script")])
        .expect("peer");
    let (_stream, _reader) = connect(peer.addr());
    let err = peer.finish().expect_err("timed out");
    assert!(
        err.to_string().contains("sent nothing more within 150ms"),
        "{err}"
    );
}
