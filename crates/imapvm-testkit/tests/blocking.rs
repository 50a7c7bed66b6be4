//! The tokio-free peer against std clients: the same scripts, departures,
//! responders, LF line endings and another bind address.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use imapvm_testkit::blocking::Peer;
use imapvm_testkit::{LineEnding, PeerError, Reply, Script, lines};

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

#[test]
fn a_fastagi_style_script_with_lf_endings() {
    let script = Script::parse_with(
        "C: agi_network: yes\nC: agi_request: agi://127.0.0.1/vm\nC:\nS: ANSWER\nC: 200 result=0\nS: HANGUP",
        LineEnding::Lf,
    )
    .expect("script");
    // The peer plays Asterisk's side here: it is the client that listens.
    let peer = Peer::builder().scripts([script]).expect("peer");
    let (mut stream, mut reader) = connect(peer.addr());
    stream
        .write_all(b"agi_network: yes\nagi_request: agi://127.0.0.1/vm\n\n")
        .expect("write");
    assert_eq!(read_line(&mut reader), "ANSWER\n");
    stream.write_all(b"200 result=0\n").expect("write");
    assert_eq!(read_line(&mut reader), "HANGUP\n");
    let transcript = peer.finish().expect("played");
    assert_eq!(
        transcript.connections[0].lines(),
        [
            "agi_network: yes",
            "agi_request: agi://127.0.0.1/vm",
            "",
            "200 result=0"
        ]
    );
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
