//! Criterion bench: a 1,000-item `UID FETCH` with header fields, through `Connection` vs imap-codec's raw decoder.
//!
//! The ratio `connection / raw` is the core's overhead (framing, limits, routing, conversion to
//! owned typed results).

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use imap_codec::ResponseCodec;
use imap_codec::decode::Decoder;
use imapvm_proto::{Config, Connection, Event, FetchAttr, MailboxName, Outcome, UidRange};
use std::hint::black_box;
use std::time::Instant;

const ITEMS: u32 = 1000;

fn fetch_response() -> Vec<u8> {
    let mut out = Vec::new();
    for n in 1..=ITEMS {
        let hdr = format!(
            "X-Asterisk-VM-Message-Num: {n}\r\nX-Asterisk-VM-Duration: {}\r\nX-Asterisk-VM-Caller-ID-Num: 555{n:04}\r\nX-Asterisk-VM-Flag: \r\n\r\n",
            n % 97
        );
        out.extend_from_slice(
            format!(
                "* {n} FETCH (UID {} FLAGS (\\Seen) RFC822.SIZE {} BODY[HEADER.FIELDS (X-ASTERISK-VM-MESSAGE-NUM X-ASTERISK-VM-DURATION X-ASTERISK-VM-CALLER-ID-NUM X-ASTERISK-VM-FLAG)] {{{}}}\r\n",
                n + 100,
                6000 + n,
                hdr.len()
            )
            .as_bytes(),
        );
        out.extend_from_slice(hdr.as_bytes());
        out.extend_from_slice(b")\r\n");
    }
    out.extend_from_slice(b"a2 OK Fetch completed\r\n");
    out
}

fn ready_connection(now: Instant) -> Connection {
    let mut c =
        Connection::new(Config::default(), now).expect("the default configuration is valid");
    c.handle_input(b"* PREAUTH [CAPABILITY IMAP4rev1 UIDPLUS] ready\r\n", now);
    let _ = c.select(&MailboxName::inbox());
    while c.poll_transmit(now).is_some() {}
    c.handle_input(b"* 1000 EXISTS\r\na1 OK [READ-WRITE] done\r\n", now);
    let _ = c.uid_fetch(
        &UidRange::All,
        &[
            FetchAttr::Flags,
            FetchAttr::Rfc822Size,
            FetchAttr::HeaderFields(vec![
                "X-Asterisk-VM-Message-Num".into(),
                "X-Asterisk-VM-Duration".into(),
                "X-Asterisk-VM-Caller-ID-Num".into(),
                "X-Asterisk-VM-Flag".into(),
            ]),
        ],
    );
    while c.poll_transmit(now).is_some() {}
    while c.poll_event().is_some() {}
    c
}

fn bench(c: &mut Criterion) {
    let bytes = fetch_response();
    let now = Instant::now();
    let mut group = c.benchmark_group("uid_fetch_1000_header_fields");
    group.throughput(Throughput::Bytes(bytes.len() as u64));

    group.bench_function("imap_codec_raw_decode", |b| {
        b.iter(|| {
            let codec = ResponseCodec::default();
            let mut rest: &[u8] = black_box(&bytes);
            let mut n = 0;
            while !rest.is_empty() {
                match codec.decode(rest) {
                    Ok((r, resp)) => {
                        black_box(&resp);
                        rest = r;
                        n += 1;
                    }
                    Err(_) => break,
                }
            }
            assert_eq!(n, ITEMS + 1);
        })
    });

    group.bench_function("connection_typed_results", |b| {
        b.iter_batched(
            || ready_connection(now),
            |mut conn| {
                for chunk in bytes.chunks(16 * 1024) {
                    conn.handle_input(black_box(chunk), now);
                }
                let mut got = 0;
                while let Some(e) = conn.poll_event() {
                    if let Event::Completed {
                        result: Ok(Outcome::Fetch(m)),
                        ..
                    } = e
                    {
                        got = m.len();
                    }
                }
                assert_eq!(got, ITEMS as usize);
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
