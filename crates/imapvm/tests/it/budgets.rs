//! Round-trip budgets on a warm, selected connection, counted by the proto core
//! (`Stats::round_trips`: flush-then-wait boundaries). These fail when an operation grows.

use imapvm::{Mailbox, MessageRef, Urgency};

use crate::{private_store, voicemail};

async fn round_trips(mb: &Mailbox) -> u64 {
    mb.connection_stats()
        .await
        .expect("a connection")
        .round_trips
}

#[tokio::test]
async fn warm_operations_stay_within_their_round_trip_budgets() {
    let (store, _folder) = private_store("budget");
    let mb = store.mailbox("1234@default").unwrap();
    // Warm up: log in, select imapfolder, learn what is there.
    mb.count().await.unwrap();

    let before = round_trips(&mb).await;
    let mut vm = voicemail("5559000", 1000);
    vm.urgency = Urgency::Urgent;
    let d = mb.deposit(&vm).await.unwrap();
    let deposit = round_trips(&mb).await - before;
    assert_eq!(d.counts.urgent, 1, "the recount includes the deposit");
    assert!(
        deposit <= 2,
        "deposit with MWI recount took {deposit} round trips (budget 2)"
    );

    // A few more so that the listing is not trivially small.
    for i in 0..5 {
        mb.deposit(&voicemail(&format!("555910{i}"), 300))
            .await
            .unwrap();
    }

    let before = round_trips(&mb).await;
    let counts = mb.count().await.unwrap();
    let count = round_trips(&mb).await - before;
    assert_eq!((counts.new, counts.urgent, counts.old), (5, 1, 0));
    assert!(count <= 1, "count took {count} round trips (budget 1)");

    let before = round_trips(&mb).await;
    let listing = mb.list(None).await.unwrap();
    let list = round_trips(&mb).await - before;
    assert_eq!(listing.messages.len(), 6);
    assert!(
        list <= 1,
        "a warm list took {list} round trips (budget 1: search and fetch pipelined)"
    );

    let before = round_trips(&mb).await;
    let played = mb.play(crate::support::number(3), None).await.unwrap();
    let play = round_trips(&mb).await - before;
    assert!(played.marked_seen);
    assert!(play <= 2, "play took {play} round trips (budget 2)");

    let before = round_trips(&mb).await;
    mb.peek(MessageRef::Uid(d.uid), None).await.unwrap();
    let peek = round_trips(&mb).await - before;
    assert!(
        peek <= 1,
        "play --peek by UID took {peek} round trips (budget 1)"
    );

    eprintln!(
        "round trips: deposit+recount {deposit}, count {count}, list {list}, play {play}, peek {peek}"
    );
    store.close().await;
}
