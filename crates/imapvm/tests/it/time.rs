//! The store's one clock ([`Store::with_clock`]): the pool's login back-off and the dates
//! of what the store writes take `now` from it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use imapvm::clock::{SharedClock, SystemClock};
use imapvm::{Error, Store};
use imapvm_harness::time::FixedWall;

use crate::{private_store, voicemail};

/// A loopback port nobody listens on (bound, then released).
async fn closed_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// A store whose only box lives on `127.0.0.1:port`.
fn store_at(port: u16, clock: SharedClock) -> Store {
    let text = format!(
        "[general]\nimapserver=127.0.0.1\nimapport={port}\nimapflags=notls\n\
         imapopentimeout=60\n\n[default]\n1234 => 1234,A,,,imapuser=u|imappassword=p\n"
    );
    let parsed = imapvm_config::parse_bytes("voicemail.conf", text.as_bytes());
    Store::with_clock(parsed.config, clock)
}

/// Failed logins are retried after 0.5 s, 1 s, 2 s ... in simulated time: the store's
/// clock is tokio's, paused here, so the test sleeps 31.5 s without waiting for them.
#[tokio::test(start_paused = true)]
async fn failed_logins_back_off_doubling_in_simulated_time() {
    let store = store_at(closed_port().await, SystemClock::shared());
    let mb = store.mailbox("1234@default").unwrap();
    let started = Instant::now();
    let mut waits = Vec::new();
    for _ in 0..6 {
        let err = mb.count().await.unwrap_err();
        assert!(matches!(err, Error::Connect { .. }), "an attempt: {err}");
        match mb.count().await.unwrap_err() {
            Error::Backoff { retry_in, .. } => {
                waits.push(retry_in);
                tokio::time::sleep(retry_in).await;
            }
            other => panic!("expected the back-off, got {other}"),
        }
    }
    assert_eq!(
        waits,
        [500, 1000, 2000, 4000, 8000, 16000].map(Duration::from_millis)
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "slept for real"
    );
}

#[tokio::test]
async fn a_deposit_takes_its_date_and_msg_id_from_the_stores_clock() {
    let (system, _folder) = private_store("clock");
    let at: i64 = 1_795_674_094;
    let clock = Arc::new(FixedWall::at(at as u64));
    let store = Store::with_clock(system.config().clone(), clock);
    let mb = store.mailbox("1234@default").unwrap();
    let d = mb.deposit(&voicemail("5551001", 500)).await.unwrap();
    assert!(d.msg_id.starts_with(&format!("{at}-")), "{}", d.msg_id);
    let listing = mb.list(None).await.unwrap();
    let m = listing.messages.iter().find(|m| m.uid == d.uid).unwrap();
    assert_eq!(m.orig_time, at);
    store.close().await;
}
