//! Fault injection between the runtime and the private Dovecot (a TCP proxy we control):
//! durable deposits through random cuts end exactly once on the server with an empty outbox;
//! while the server is down deposits are queued and the flusher delivers them; an over-quota
//! refusal stays in the outbox as refused.
//!
//! `IMAPVM_FAULT_DEPOSITS` (default 150) and `IMAPVM_FAULT_SEED` choose the deposit run;
//! `--nocapture` prints its figures.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use imapvm::{Error, Store};
use imapvm_harness::cuts::{Rng, env_u64, msg_ids_on_server, store_via};
use imapvm_harness::fault_proxy::{Action, Dir, Fault, FaultProxy};
use imapvm_harness::{py, q};
use imapvm_outbox::{DepositOutcome, DurableDeposit, ItemState, OutboxStore};

use crate::{pw, server, store_for, unique, voicemail};

/// Empties the outbox (the flusher's job), within `limit`.
async fn flush_until_empty(store: &Store, limit: Duration) -> (u32, u32) {
    let started = Instant::now();
    let (mut delivered, mut already) = (0, 0);
    loop {
        let report = store.flush_outbox().await.unwrap();
        for d in &report.delivered {
            delivered += 1;
            already += u32::from(d.already_there);
        }
        let left = store.outbox().list().unwrap();
        assert!(left.problems.is_empty(), "{:?}", left.problems);
        if left.items.is_empty() {
            return (delivered, already);
        }
        assert!(
            started.elapsed() < limit,
            "outbox not empty after {limit:?}: {:?} {report:?}",
            left.items
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deposits_through_random_cuts_are_stored_exactly_once() {
    let s = server();
    let proxy = FaultProxy::start(&s.host, s.port).await;
    let (store, folder, _outbox) = store_via("cuts", proxy.port, "imapreadtimeout=5\nmaxmsg=9999");
    let mb = store.mailbox("1234@default").unwrap();
    let n = env_u64("IMAPVM_FAULT_DEPOSITS", 150);
    let seed = env_u64("IMAPVM_FAULT_SEED", 0x1a9d_2026);
    let mut rng = Rng::new(seed);
    let started = Instant::now();
    let (mut stored, mut queued, mut armed, mut found_on_retry) = (0u64, 0u64, 0u64, 0u64);
    let mut refused_retries = 0u64;
    let mut ids = std::collections::BTreeSet::new();
    for i in 0..n {
        if rng.percent(20) {
            armed += 1;
            // A quarter each: anywhere in what the client sends, anywhere in what the server
            // answers, near the end of the APPEND (the server may have stored it), and in the
            // APPEND's answer (stored, but the client never hears so).
            let (dir, after, when) = match rng.below(4) {
                0 => (Dir::Up, rng.below(7000), None),
                1 => (Dir::Down, rng.below(900), None),
                2 => (Dir::Up, 4000 + rng.below(3000), Some("APPEND")),
                _ => (Dir::Down, rng.below(120), Some("APPEND")),
            };
            let action = if rng.below(4) == 0 {
                Action::Reset
            } else {
                Action::Close
            };
            proxy.arm(Fault {
                dir,
                after,
                action,
                when,
            });
            // A third of the cuts: the server stays unreachable for the immediate retry, so
            // the deposit is queued and the flush must find what already arrived.
            if rng.below(3) == 0 {
                proxy.set_refuse(true);
                refused_retries += 1;
            }
        }
        let vm = voicemail(&format!("555{i:07}"), 200);
        match mb.deposit_durable(&vm).await {
            Ok(DepositOutcome::Stored(d)) => {
                stored += 1;
                found_on_retry += u64::from(!d.from_appenduid);
                assert!(ids.insert(d.msg_id.clone()), "msg id reused: {}", d.msg_id);
            }
            Ok(DepositOutcome::Queued(q)) => {
                queued += 1;
                assert!(ids.insert(q.msg_id.clone()), "msg id reused: {}", q.msg_id);
            }
            Err(e) => panic!("deposit {i} neither stored nor queued: {e}"),
        }
        proxy.disarm();
        if proxy.refusing() {
            proxy.set_refuse(false);
            // Let the reconnect back-off (500 ms after one failed attempt) pass, so that the
            // next deposits meet the server again instead of queueing behind the back-off.
            tokio::time::sleep(Duration::from_millis(600)).await;
        }
    }
    let deposit_time = started.elapsed();
    let fired = proxy.fired();
    let (flushed, already) = flush_until_empty(&store, Duration::from_secs(120)).await;
    let on_server = msg_ids_on_server(&folder);
    let unique_on_server: std::collections::BTreeSet<String> = on_server.iter().cloned().collect();
    let duplicates = on_server.len() - unique_on_server.len();
    eprintln!(
        "fault run: seed {seed:#x}, attempted {n}, cuts armed {armed} ({refused_retries} with the server then unreachable), cuts fired {fired}, \
         stored at once {stored} ({found_on_retry} of them found by msg id on the immediate retry), queued {queued}, delivered by flush {flushed} \
         ({already} found already on the server), on server {} ({} distinct), duplicates \
         {duplicates}, outbox left {}, deposit phase {deposit_time:?}, connections {}",
        on_server.len(),
        unique_on_server.len(),
        store.outbox().list().unwrap().items.len(),
        proxy.connections(),
    );
    assert_eq!(duplicates, 0);
    assert_eq!(on_server.len() as u64, n);
    assert_eq!(
        unique_on_server, ids,
        "the server holds exactly what was deposited"
    );
    assert!(fired > 0, "the plan injected no fault");
    store.close().await;
    py(&format!("m = connect('vm1234')\nm.delete({})", q(&folder)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_the_server_is_down_deposits_are_queued_and_flushed_when_it_is_back() {
    let s = server();
    let proxy = FaultProxy::start(&s.host, s.port).await;
    let (store, folder, outbox) = store_via("down", proxy.port, "imapopentimeout=2");
    let mb = store.mailbox("1234@default").unwrap();
    proxy.set_refuse(true);
    let mut ids = Vec::new();
    for i in 0..3 {
        match mb
            .deposit_durable(&voicemail(&format!("5557{i:03}"), 150))
            .await
            .unwrap()
        {
            DepositOutcome::Queued(q) => ids.push(q.msg_id),
            DepositOutcome::Stored(d) => panic!("stored while the server is down: {d:?}"),
        }
    }
    let listing = store.outbox().list().unwrap();
    assert_eq!(listing.items.len(), 3, "{listing:?}");
    assert!(listing.items.iter().all(|i| i.state == ItemState::Pending));
    assert_eq!(store.outbox().dir(), outbox.as_path());
    // Nothing can be delivered yet.
    let report = store.flush_outbox().await.unwrap();
    assert!(
        report.delivered.is_empty() && report.failed.len() == 3,
        "{report:?}"
    );
    proxy.set_refuse(false);
    // The background flusher delivers once the back-off has passed.
    let flusher = store.spawn_flusher(Duration::from_millis(200)).unwrap();
    let started = Instant::now();
    while !store.outbox().list().unwrap().items.is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "flusher did not deliver"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    flusher.stop();
    let mut on_server = msg_ids_on_server(&folder);
    on_server.sort();
    ids.sort();
    assert_eq!(on_server, ids);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_over_quota_refusal_is_mailbox_full_and_stays_in_the_outbox_as_refused() {
    // vm5678 has a 200K quota: a recording larger than that is refused by the server.
    let s = server();
    let outbox = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("imapvm-it-outbox")
        .join(unique("quota"));
    let store = store_for(
        "quota",
        &s.host,
        s.port,
        &format!(
            "imapfolder={}\nimapvm_outbox={}",
            unique("quota"),
            outbox.display()
        ),
        &format!(
            "[default]\n5678 => 5678,Carol,,,imapuser=vm5678|imappassword={}\n",
            pw("vm5678")
        ),
    );
    let mb = store.mailbox("5678@default").unwrap();
    let big = voicemail("5558000", 20_000); // 320 KB of audio
    let err = mb.deposit_durable(&big).await.unwrap_err();
    assert!(matches!(err, Error::DepositRefused { .. }), "{err}");
    assert!(err.to_string().to_lowercase().contains("quota"), "{err}");
    let listing = store.outbox().list().unwrap();
    assert_eq!(listing.items.len(), 1, "{listing:?}");
    assert_eq!(listing.items[0].state, ItemState::Refused);
    // A flush leaves it alone (no retry loop).
    let report = store.flush_outbox().await.unwrap();
    assert!(report.delivered.is_empty() && report.refused.is_empty());
    assert_eq!(report.left_refused, vec![listing.items[0].id.clone()]);
    // The operator may discard it.
    store.outbox().discard(&listing.items[0].id).unwrap();
    assert!(store.outbox().list().unwrap().items.is_empty());
    store.close().await;
}
