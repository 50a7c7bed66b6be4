//! The latency proxy: its I/O-free rules (release schedule, round-trip
//! counting), the relay on in-memory streams in paused time (the delay each
//! way, byte-exact order under jitter, half-close and close passing through),
//! and the proxy on real sockets in front of a peer.

use std::sync::Arc;
use std::time::Duration;

use imapvm_testkit::latency::{Flights, Latency, Link, Schedule, relay};
use imapvm_testkit::proxy::Proxy;
use imapvm_testkit::{Peer, Reply, lines};
use proptest::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex};
use tokio::time::Instant;

use crate::peer::{connect, read_line, say};

const MS: Duration = Duration::from_millis(1);

/// A client end and a server end with a relay over `link` between them.
fn link_up(link: Link, seed: u64) -> (DuplexStream, DuplexStream, Arc<Latency>) {
    let (client, proxy_client) = duplex(256 * 1024);
    let (proxy_server, server) = duplex(256 * 1024);
    let latency = Latency::new(link);
    tokio::spawn(relay(
        proxy_client,
        proxy_server,
        Arc::clone(&latency),
        seed,
    ));
    (client, server, latency)
}

/// Reads exactly `n` bytes (within a minute of paused time: a test that
/// waits for bytes that never come fails instead of hanging).
async fn read_n(stream: &mut DuplexStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    tokio::time::timeout(Duration::from_secs(60), stream.read_exact(&mut buf))
        .await
        .expect("the bytes within a minute")
        .expect("read");
    buf
}

#[test]
fn release_times_add_the_delay_and_never_go_back() {
    let link = Link::rtt(20 * MS).with_jitter(30 * MS);
    let mut schedule = Schedule::new(7);
    let start = Instant::now();
    let mut last = start;
    for i in 0..1000u32 {
        let read_at = start + Duration::from_micros(u64::from(i) * 100);
        let at = schedule.release(link, read_at);
        assert!(at >= read_at + 10 * MS, "never before the one-way delay");
        assert!(at >= last, "never before an earlier chunk");
        assert!(
            at <= (read_at + 40 * MS).max(last),
            "no more than delay + jitter, unless held back by an earlier chunk"
        );
        last = at;
    }
    let plain = Schedule::new(1).release(Link::rtt(20 * MS), start);
    assert_eq!(
        plain,
        start + 10 * MS,
        "no jitter: exactly the one-way delay"
    );
}

#[test]
fn a_round_trip_is_a_client_flight_the_server_answers_before_the_client_closes() {
    let mut f = Flights::connected();
    assert!(f.server_data(), "the greeting answers the connect");
    let mut f = Flights::connected();
    f.client_data();
    assert!(f.server_data(), "a ClientHello joins the connect's flight");
    assert!(!f.server_data(), "the rest of the server's first answer");
    let mut f = Flights::default();
    assert!(!f.server_data(), "server bytes with no flight waiting");
    f.client_data();
    f.client_data();
    assert!(f.server_data(), "two chunks, one flight, one answer");
    assert!(!f.server_data(), "more of the same answer");
    f.client_data();
    assert!(f.server_data());
    f.client_data();
    f.client_closed();
    assert!(!f.server_data(), "a LOGOUT not waited for is no round trip");
}

#[tokio::test(start_paused = true)]
async fn each_direction_adds_its_one_way_delay() {
    let (mut client, mut server, latency) = link_up(Link::rtt(20 * MS), 1);
    let t0 = Instant::now();
    client.write_all(b"ping\r\n").await.expect("write");
    let early = tokio::time::timeout(9 * MS, read_n(&mut server, 6)).await;
    assert!(early.is_err(), "not there before the one-way delay");
    assert_eq!(read_n(&mut server, 6).await, b"ping\r\n");
    assert_eq!(t0.elapsed(), 10 * MS, "up: one way");
    server.write_all(b"pong\r\n").await.expect("write");
    assert_eq!(read_n(&mut client, 6).await, b"pong\r\n");
    assert_eq!(t0.elapsed(), 20 * MS, "up and down: the round-trip time");
    let totals = latency.totals();
    assert_eq!(
        (totals.round_trips, totals.bytes_up, totals.bytes_down),
        (1, 6, 6)
    );

    // A new distance applies to the chunks read from then on.
    latency.set_link(Link::rtt(100 * MS));
    let t1 = Instant::now();
    client.write_all(b"again\r\n").await.expect("write");
    assert_eq!(read_n(&mut server, 7).await, b"again\r\n");
    assert_eq!(t1.elapsed(), 50 * MS);
    assert_eq!(latency.totals().round_trips, 1, "not answered yet");
    server.write_all(b"ok\r\n").await.expect("write");
    assert_eq!(read_n(&mut client, 4).await, b"ok\r\n");
    assert_eq!(latency.totals().round_trips, 2);
}

#[tokio::test(start_paused = true)]
async fn a_pipelined_flight_counts_once_and_the_greeting_answers_the_connect() {
    let (mut client, mut server, latency) = link_up(Link::rtt(10 * MS), 2);
    server.write_all(b"* OK hello\r\n").await.expect("greeting");
    let t0 = Instant::now();
    assert_eq!(read_n(&mut client, 12).await, b"* OK hello\r\n");
    assert_eq!(
        t0.elapsed(),
        10 * MS,
        "the greeting comes a round trip after the connect"
    );
    assert_eq!(latency.totals().round_trips, 1, "waiting for the greeting");
    for command in ["a LOGIN u p\r\n", "b SELECT x\r\n", "c SEARCH y\r\n"] {
        client.write_all(command.as_bytes()).await.expect("write");
    }
    assert_eq!(
        read_n(&mut server, 37).await,
        b"a LOGIN u p\r\nb SELECT x\r\nc SEARCH y\r\n"
    );
    for reply in ["a OK\r\n", "b OK\r\n", "c OK\r\n"] {
        server.write_all(reply.as_bytes()).await.expect("write");
    }
    read_n(&mut client, 18).await;
    assert_eq!(
        latency.totals().round_trips,
        2,
        "three commands, one flight"
    );
    client.write_all(b"d LOGOUT\r\n").await.expect("write");
    client.shutdown().await.expect("close");
    read_n(&mut server, 10).await;
    server.write_all(b"* BYE\r\n").await.expect("write");
    drop(server);
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).await.expect("read");
    assert_eq!(rest, b"* BYE\r\n");
    assert!(
        latency.settle(0, MS, 100 * MS).await,
        "the connection ended"
    );
    assert_eq!(
        latency.totals().round_trips,
        2,
        "the LOGOUT the client did not wait for is not counted"
    );
}

#[tokio::test(start_paused = true)]
async fn a_half_close_passes_through_late_and_the_other_way_goes_on() {
    let (mut client, mut server, latency) = link_up(Link::rtt(40 * MS), 3);
    client.write_all(b"last words").await.expect("write");
    client.shutdown().await.expect("half-close");
    let t0 = Instant::now();
    let mut got = Vec::new();
    server.read_to_end(&mut got).await.expect("read to the FIN");
    assert_eq!(got, b"last words");
    assert_eq!(t0.elapsed(), 20 * MS, "the FIN comes one way later");
    assert_eq!(latency.totals().open, 1, "the other direction is open");
    server.write_all(b"reply").await.expect("write");
    drop(server);
    let mut back = Vec::new();
    client.read_to_end(&mut back).await.expect("read");
    assert_eq!(back, b"reply", "the server's bytes, then its close");
    assert!(latency.settle(0, MS, 100 * MS).await);
    assert_eq!(latency.totals().connections, 1);
}

/// Writes `chunks` with `gaps` between them, then closes; returns nothing.
async fn send_all(mut to: tokio::io::WriteHalf<DuplexStream>, chunks: Vec<(Vec<u8>, u64)>) {
    for (bytes, gap) in chunks {
        to.write_all(&bytes).await.expect("write");
        tokio::time::sleep(Duration::from_micros(gap)).await;
    }
    to.shutdown().await.expect("close");
}

fn chunks() -> impl Strategy<Value = Vec<(Vec<u8>, u64)>> {
    prop::collection::vec(
        (prop::collection::vec(any::<u8>(), 1..4096), 0u64..20_000),
        0..24,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn under_jitter_every_byte_arrives_once_and_in_order_both_ways(
        up in chunks(),
        down in chunks(),
        one_way_ms in 0u32..30,
        jitter_ms in 0u32..50,
        seed in any::<u64>(),
    ) {
        let want_up: Vec<u8> = up.iter().flat_map(|(b, _)| b.clone()).collect();
        let want_down: Vec<u8> = down.iter().flat_map(|(b, _)| b.clone()).collect();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .expect("runtime");
        let (got_up, got_down, open) = rt.block_on(async {
            let link = Link { one_way: one_way_ms * MS, jitter: jitter_ms * MS };
            let (client, server, latency) = link_up(link, seed);
            let (mut client_r, client_w) = tokio::io::split(client);
            let (mut server_r, server_w) = tokio::io::split(server);
            let writers = tokio::spawn(async move {
                tokio::join!(send_all(client_w, up), send_all(server_w, down));
            });
            let (mut got_up, mut got_down) = (Vec::new(), Vec::new());
            let (a, b) = tokio::join!(
                server_r.read_to_end(&mut got_up),
                client_r.read_to_end(&mut got_down)
            );
            a.expect("read up");
            b.expect("read down");
            writers.await.expect("writers");
            latency.settle(0, MS, Duration::from_secs(5)).await;
            (got_up, got_down, latency.totals().open)
        });
        prop_assert_eq!(got_up, want_up);
        prop_assert_eq!(got_down, want_down);
        prop_assert_eq!(open, 0, "both directions ended");
    }
}

#[tokio::test]
async fn on_real_sockets_it_forwards_counts_and_cuts() {
    let server = Peer::builder()
        .respond(|| {
            lines("* hello\r\n", |line| {
                Reply::send(format!("echo {line}\r\n"))
            })
        })
        .await
        .expect("peer");
    let latency = Latency::new(Link::rtt(2 * MS));
    let proxy = Proxy::to("127.0.0.1", server.port())
        .latency(Arc::clone(&latency))
        .await
        .expect("proxy");
    let mut client = connect(proxy.addr()).await;
    assert_eq!(read_line(&mut client).await, "* hello\r\n");
    for word in ["one", "two"] {
        say(&mut client, format!("{word}\r\n").as_bytes()).await;
        assert_eq!(read_line(&mut client).await, format!("echo {word}\r\n"));
    }
    let totals = latency.totals();
    assert_eq!(
        (totals.round_trips, totals.connections, totals.open),
        (3, 1, 1),
        "the greeting and two echoes"
    );
    assert_eq!(totals.bytes_up, 10);
    proxy.cut_all();
    assert_eq!(read_line(&mut client).await, "", "cut");
    assert!(
        latency.settle(0, MS, Duration::from_secs(5)).await,
        "a cut connection is no longer open"
    );
}
