//! Tests of the benchmark machinery: the raw client against a scripted peer
//! and the private Dovecot, the Asterisk sequences against their traces, the
//! floor flights, the statistics and the report.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;

use imapvm_benches::sequence::{self, Vars, compress, lookahead, substitute, verify};
use imapvm_benches::wire::{Collect, Status, Wire, literal_len};

mod live;
mod report;
mod stats;

/// A scripted server: for each expected client line (or byte count), the
/// bytes to answer with. Returns what the client sent.
fn scripted(script: Vec<(Expect, &'static [u8])>) -> (Wire, thread::JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut writer = stream.try_clone().unwrap();
        let mut reader = BufReader::new(stream);
        writer.write_all(b"* OK scripted ready\r\n").unwrap();
        let mut seen = Vec::new();
        for (expect, answer) in script {
            match expect {
                Expect::Line => {
                    let mut line = Vec::new();
                    reader.read_until(b'\n', &mut line).unwrap();
                    seen.extend_from_slice(&line);
                }
                Expect::Bytes(n) => {
                    let mut buf = vec![0; n];
                    reader.read_exact(&mut buf).unwrap();
                    seen.extend_from_slice(&buf);
                }
            }
            writer.write_all(answer).unwrap();
        }
        seen
    });
    let stream = TcpStream::connect(addr).unwrap();
    let wire = Wire::from_stream(stream, "scripted".into()).unwrap();
    (wire, handle)
}

enum Expect {
    Line,
    Bytes(usize),
}

#[test]
fn command_skips_literals_and_counts_one_round_trip() {
    let (mut wire, server) = scripted(vec![(
        Expect::Line,
        b"* 1 FETCH (BODY[HEADER] {5}\r\nab\r\nc)\r\n* 2 EXISTS\r\nb00001 OK done\r\n",
    )]);
    let before = wire.stats();
    let reply = wire
        .command("FETCH 1 BODY.PEEK[HEADER]", Collect::Untagged)
        .unwrap();
    let used = wire.stats() - before;
    assert_eq!(reply.status, Status::Ok);
    assert_eq!(reply.text, "done");
    assert_eq!(
        reply.untagged,
        vec!["1 FETCH (BODY[HEADER] {5})", "2 EXISTS"]
    );
    assert_eq!(reply.exists(), Some(2));
    assert_eq!(used.round_trips, 1);
    assert_eq!(
        used.bytes_out,
        "b00001 FETCH 1 BODY.PEEK[HEADER]\r\n".len() as u64
    );
    assert_eq!(
        used.bytes_in,
        "* 1 FETCH (BODY[HEADER] {5}\r\nab\r\nc)\r\n* 2 EXISTS\r\nb00001 OK done\r\n".len() as u64
    );
    drop(wire);
    assert_eq!(
        server.join().unwrap(),
        b"b00001 FETCH 1 BODY.PEEK[HEADER]\r\n"
    );
}

#[test]
fn sync_append_waits_for_the_continuation_two_round_trips() {
    let (mut wire, server) = scripted(vec![
        (Expect::Line, b"+ OK\r\n"),
        (
            Expect::Bytes(7),
            b"* 4 EXISTS\r\nb00001 OK [APPENDUID 17 4] Append completed.\r\n",
        ),
    ]);
    let reply = wire
        .append_sync("APPEND INBOX (\\FLAGGED)", b"hello")
        .unwrap();
    assert_eq!(reply.append_uid(), Some((17, 4)));
    assert_eq!(wire.stats().round_trips, 3, "greeting + 2");
    drop(wire);
    assert_eq!(
        server.join().unwrap(),
        b"b00001 APPEND INBOX (\\FLAGGED) {5}\r\nhello\r\n"
    );
}

#[test]
fn refused_sync_append_stops_after_one_round_trip() {
    let (mut wire, server) = scripted(vec![(
        Expect::Line,
        b"b00001 NO [OVERQUOTA] Quota exceeded\r\n",
    )]);
    let reply = wire.append_sync("APPEND INBOX", b"0123456789").unwrap();
    assert_eq!(reply.status, Status::No);
    assert!(reply.clone().ok("APPEND").is_err());
    assert_eq!(wire.stats().round_trips, 2, "greeting + 1");
    drop(wire);
    assert_eq!(server.join().unwrap(), b"b00001 APPEND INBOX {10}\r\n");
}

#[test]
fn pipeline_is_one_flight_and_replies_come_back_in_order() {
    let (mut wire, server) = scripted(vec![
        (Expect::Line, b""),
        (Expect::Bytes(3 + 2), b""),
        (
            Expect::Line,
            b"* ESEARCH (TAG \"b00002\") UID COUNT 7\r\nb00002 OK s\r\nb00001 OK [APPENDUID 1 9] a\r\n",
        ),
    ]);
    let flight = vec![
        imapvm_benches::wire::literal_plus("APPEND INBOX", b"abc"),
        b"UID SEARCH RETURN (COUNT) UNSEEN".to_vec(),
    ];
    let replies = wire.pipeline(&flight, Collect::Untagged).unwrap();
    assert_eq!(replies.len(), 2);
    assert_eq!(replies[0].append_uid(), Some((1, 9)));
    assert_eq!(replies[1].esearch_count(), Some(7));
    assert_eq!(wire.stats().round_trips, 2, "greeting + 1 flight");
    drop(wire);
    assert_eq!(
        server.join().unwrap(),
        b"b00001 APPEND INBOX {3+}\r\nabc\r\nb00002 UID SEARCH RETURN (COUNT) UNSEEN\r\n"
    );
}

#[test]
fn closed_connection_and_bad_status_are_errors() {
    let (mut wire, _server) = scripted(vec![(Expect::Line, b"b00001 MAYBE\r\n")]);
    assert!(wire.command("NOOP", Collect::Nothing).is_err());
    let (mut wire, server) = scripted(vec![(Expect::Line, b"")]);
    let closed = wire.command("NOOP", Collect::Nothing);
    server.join().unwrap();
    assert!(
        matches!(closed, Err(imapvm_benches::BenchError::Closed { .. })),
        "{closed:?}"
    );
}

#[test]
fn literal_announcements() {
    assert_eq!(literal_len(b"* 1 FETCH (BODY[2] {5610}"), Some(5610));
    assert_eq!(literal_len(b"APPEND INBOX {12+}"), Some(12));
    assert_eq!(literal_len(b"* OK [APPENDUID 1 2] {x}"), None);
    assert_eq!(literal_len(b"* SEARCH 1 2 3"), None);
    assert_eq!(literal_len(b"{}"), None);
}

fn trace(name: &str) -> String {
    let path = format!(
        "{}/fixtures/asterisk-traces/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap()
}

fn trace_vars(seq: u32, exists: u32) -> Vars {
    Vars {
        folder: "INBOX".into(),
        greetings: "Greetings".into(),
        ext: "1234".into(),
        ctx: "default".into(),
        seq,
        exists,
    }
}

#[test]
fn sequences_match_their_traces() {
    let all = sequence::parse("asterisk-sequences.txt", sequence::SEQUENCES).unwrap();
    let names: Vec<&str> = all.iter().map(|s| s.operation.as_str()).collect();
    assert_eq!(names, ["deposit", "count", "list", "play", "delete"]);
    for seq in &all {
        // The play trace acts on message 1 of 8 (`FETCH 1,2:8`).
        let vars = trace_vars(1, 8);
        verify(seq, &trace(&seq.trace), &vars).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn verification_catches_a_changed_command() {
    let mut seq = sequence::builtin("count").unwrap();
    seq.commands[1] = "EXAMINE {folder}".into();
    let err = verify(&seq, &trace(&seq.trace), &trace_vars(1, 8)).unwrap_err();
    assert!(err.contains("EXAMINE INBOX"), "{err}");
    let mut seq = sequence::builtin("delete").unwrap();
    seq.commands.pop();
    assert!(verify(&seq, &trace(&seq.trace), &trace_vars(1, 8)).is_err());
}

#[test]
fn deposit_sequence_shape_matches_the_reference_count() {
    // docs/reference/asterisk-observed.md §4: 11 to 14 SEARCHes, about 16 opens, 2
    // GETQUOTAROOT, 1 APPEND and 1 EXPUNGE for one voicemail (this recording: 14 SEARCHes,
    // 17 opens).
    let seq = sequence::builtin("deposit").unwrap();
    let count = |p: &str| seq.commands.iter().filter(|c| c.starts_with(p)).count();
    assert_eq!(count("SEARCH "), 14);
    assert_eq!(count("SELECT "), 17);
    assert_eq!(count("GETQUOTAROOT "), 2);
    assert_eq!(count("APPEND "), 1);
    assert_eq!(count("EXPUNGE"), 1);
}

#[test]
fn sequence_file_errors_name_the_line() {
    let err = sequence::parse("s.txt", "# x\nNOOP\n").unwrap_err();
    assert!(err.to_string().starts_with("s.txt:2:"), "{err}");
    let err = sequence::parse("s.txt", "[a] t.trace 9-3\n").unwrap_err();
    assert!(err.to_string().contains("empty line range"), "{err}");
    let err = sequence::parse("s.txt", "[a] t.trace 1-3\n[a] t.trace 4-5\n").unwrap_err();
    assert!(err.to_string().contains("twice"), "{err}");
}

#[test]
fn c_client_sets_and_lookahead() {
    assert_eq!(compress(&[1, 2, 3, 5, 6, 7, 8]), "1:3,5:8");
    assert_eq!(compress(&[4]), "4");
    assert_eq!(compress(&[1, 3, 5]), "1,3,5");
    assert_eq!(compress(&[]), "");
    assert_eq!(lookahead(1, 8), ",2:8");
    assert_eq!(lookahead(1, 100), ",2:20");
    assert_eq!(lookahead(7, 8), ",8");
    assert_eq!(lookahead(8, 8), "");
    let vars = trace_vars(3, 3);
    assert_eq!(
        substitute("FETCH {seq}{lookahead} (UID)", &vars, &[]).unwrap(),
        "FETCH 3 (UID)"
    );
    assert_eq!(
        substitute("FETCH {hits} (UID)", &vars, &[1, 2, 3, 9]).unwrap(),
        "FETCH 1:3,9 (UID)"
    );
}

proptest::proptest! {
    #[test]
    fn compress_names_exactly_its_numbers(mut numbers in proptest::collection::vec(1u32..500, 0..60)) {
        numbers.sort_unstable();
        numbers.dedup();
        let set = compress(&numbers);
        let mut back = Vec::new();
        for part in set.split(',').filter(|p| !p.is_empty()) {
            match part.split_once(':') {
                Some((a, b)) => back.extend(a.parse::<u32>().unwrap()..=b.parse::<u32>().unwrap()),
                None => back.push(part.parse::<u32>().unwrap()),
            }
        }
        proptest::prop_assert_eq!(back, numbers);
    }
}
