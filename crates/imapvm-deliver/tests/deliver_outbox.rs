//! Multi-recipient deposits and forwards with the outbox (issue 13): a recipient whose
//! APPEND was sent but never confirmed is queued and delivered exactly once by a flush, an
//! over-quota recipient stays in the outbox as refused, every copy keeps the deposit's one
//! msg id; a forward to an unreachable destination is queued and flushed exactly once.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use imapvm::{Error, MessageRef, Store};
use imapvm_deliver::{Deliver, Forward, RecipientOutcome};
use imapvm_outbox::{Enqueue, FlushReport, ItemState, OutboxStore};

use crate::support::fault_proxy::{Action, Dir, Fault, FaultProxy};
use imapvm_harness::cuts::msg_ids_of;

use crate::{pw, server, store_with, unique, voicemail};

/// 1234@default (vm1234) and 5678@default (vm5678, 200K quota) straight to the server,
/// 4321@other (vm4321) in clear through `proxy_port`; one fresh folder, one fresh outbox.
fn store(name: &str, proxy_port: u16) -> (Store, String, PathBuf) {
    let folder = unique(name);
    let outbox = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("imapvm-it-outbox")
        .join(unique(name));
    let store = store_with(
        name,
        &format!(
            "imapfolder={folder}\nimapvm_outbox={}\nimapreadtimeout=5",
            outbox.display()
        ),
        &format!(
            "[default]\n1234 => 1234,Alice,,,imapuser=vm1234|imappassword={p1}\n\
             5678 => 5678,Bjorn Full,,,imapuser=vm5678|imappassword={p5}\n\
             [other]\n4321 => 4321,Bob Other,,,imapuser=vm4321|imappassword={p4}|\
             imapserver=127.0.0.1|imapport={proxy_port}|imapflags=notls\n",
            p1 = pw("vm1234"),
            p4 = pw("vm4321"),
            p5 = pw("vm5678"),
        ),
    );
    (store, folder, outbox)
}

/// Flushes until something was delivered (the reconnect back-off may hold the first tries
/// back), within 15 s.
async fn flush_until_delivered(store: &Store) -> FlushReport {
    let started = Instant::now();
    loop {
        let report = store.flush_outbox().await.unwrap();
        if !report.delivered.is_empty() || started.elapsed() > Duration::from_secs(15) {
            return report;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_append_is_queued_a_full_box_kept_refused_and_one_msg_id_everywhere() {
    let s = server();
    let proxy = FaultProxy::start(&s.host, s.port).await;
    let (store, folder, _outbox) = store("dlvq", proxy.port);
    // The server's answer to 4321's APPEND never arrives: the connection is cut as soon as
    // the APPEND (and its literal) went up.
    proxy.arm(Fault {
        dir: Dir::Down,
        after: 0,
        action: Action::Close,
        when: Some("APPEND"),
    });
    // 320 KB of audio: over vm5678's 200K quota, fine for the others.
    let vm = voicemail("5553130", 20_000);
    let results = store
        .deposit_to_durable(&["1234@default", "4321@other", "5678@default"], &vm)
        .await;
    assert_eq!(proxy.fired(), 1, "the cut happened");
    let statuses: Vec<&str> = results.iter().map(|r| r.status()).collect();
    assert_eq!(statuses, ["stored", "queued", "refused"], "{results:?}");
    let msg_id = results[0].stored().unwrap().msg_id.clone();
    let RecipientOutcome::Queued(queued) = &results[1].outcome else {
        unreachable!("checked above")
    };
    assert_eq!(queued.msg_id, msg_id);
    let RecipientOutcome::Failed(refusal @ Error::DepositRefused { .. }) = &results[2].outcome
    else {
        unreachable!("checked above")
    };
    assert!(
        refusal.to_string().to_lowercase().contains("quota"),
        "{refusal}"
    );

    // Written ahead: the unconfirmed copy is pending, the refused one refused; both carry
    // the deposit's msg id.
    let listing = store.outbox().list().unwrap();
    let mut kept: Vec<(String, ItemState, String)> = listing
        .items
        .iter()
        .map(|i| (i.mailbox.clone(), i.state, i.msg_id.clone()))
        .collect();
    kept.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        kept,
        vec![
            ("4321@other".to_owned(), ItemState::Pending, msg_id.clone()),
            (
                "5678@default".to_owned(),
                ItemState::Refused,
                msg_id.clone()
            ),
        ]
    );

    // The flush delivers the cut copy exactly once (it may have arrived already: the
    // lookup by msg id finds it) and leaves the refused one alone.
    proxy.disarm();
    let report = flush_until_delivered(&store).await;
    assert_eq!(report.delivered.len(), 1, "{report:?}");
    assert_eq!(report.delivered[0].mailbox, "4321@other");
    assert_eq!(report.left_refused.len(), 1, "{report:?}");
    let again = store.flush_outbox().await.unwrap();
    assert!(again.delivered.is_empty(), "{again:?}");

    assert_eq!(msg_ids_of("vm1234", &folder), vec![msg_id.clone()]);
    assert_eq!(msg_ids_of("vm4321", &folder), vec![msg_id.clone()]);
    assert!(msg_ids_of("vm5678", &folder).is_empty());
    let left = store.outbox().list().unwrap().items;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(
        (
            left[0].mailbox.as_str(),
            left[0].state,
            left[0].msg_id.as_str()
        ),
        ("5678@default", ItemState::Refused, msg_id.as_str())
    );
    assert!(
        left[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.to_lowercase().contains("quota")),
        "{left:?}"
    );
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_recipient_is_built_offline_with_the_deposits_msg_id() {
    let s = server();
    let proxy = FaultProxy::start(&s.host, s.port).await;
    let (store, folder, _outbox) = store("dlvdown", proxy.port);
    proxy.set_refuse(true);
    let vm = voicemail("5553131", 300);
    let results = store
        .deposit_to_durable(&["1234@default", "4321@other"], &vm)
        .await;
    let statuses: Vec<&str> = results.iter().map(|r| r.status()).collect();
    assert_eq!(statuses, ["stored", "queued"], "{results:?}");
    let msg_id = results[0].stored().unwrap().msg_id.clone();
    proxy.set_refuse(false);
    let report = flush_until_delivered(&store).await;
    assert_eq!(report.delivered.len(), 1, "{report:?}");
    assert!(!report.delivered[0].already_there);
    assert_eq!(msg_ids_of("vm1234", &folder), vec![msg_id.clone()]);
    assert_eq!(msg_ids_of("vm4321", &folder), vec![msg_id]);
    assert!(store.outbox().list().unwrap().items.is_empty());
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forward_to_an_unreachable_destination_is_queued_and_flushed_once() {
    let s = server();
    let proxy = FaultProxy::start(&s.host, s.port).await;
    let (store, folder, _outbox) = store("fwdq", proxy.port);
    let source = store.mailbox("1234@default").unwrap();
    let d = source.deposit(&voicemail("5553132", 300)).await.unwrap();
    proxy.set_refuse(true);
    let forwarded = source
        .forward(MessageRef::Uid(d.uid), None, &["4321@other"], None)
        .await
        .unwrap();
    assert_eq!(forwarded.results[0].status(), "queued", "{forwarded:?}");
    assert!(forwarded.all_ok());
    let listing = store.outbox().list().unwrap();
    assert_eq!(listing.items.len(), 1, "{listing:?}");
    assert_eq!(listing.items[0].mailbox, "4321@other");
    assert_eq!(listing.items[0].state, ItemState::Pending);

    // Still down: the flush keeps it.
    let report = store.flush_outbox().await.unwrap();
    assert!(
        report.delivered.is_empty() && report.failed.len() == 1,
        "{report:?}"
    );

    proxy.set_refuse(false);
    let report = flush_until_delivered(&store).await;
    assert_eq!(report.delivered.len(), 1, "{report:?}");
    let again = store.flush_outbox().await.unwrap();
    assert!(again.delivered.is_empty(), "{again:?}");
    let copies = msg_ids_of("vm4321", &folder);
    assert_eq!(
        copies,
        vec![listing.items[0].msg_id.clone()],
        "exactly one copy"
    );
    assert_ne!(
        Some(&copies[0]),
        Some(&d.msg_id),
        "a forward has a msg id of its own"
    );
    assert!(store.outbox().list().unwrap().items.is_empty());
    store.close().await;
}

#[tokio::test]
async fn enqueue_keeps_built_bytes_with_their_metadata_and_refuses_bad_items() {
    let s = server();
    let (store, _, outbox) = store("enq", s.port);
    let ob = store.outbox();
    assert_eq!(ob.dir(), outbox.as_path());
    let entry = |mailbox: &str, state| Enqueue {
        mailbox: mailbox.to_owned(),
        msg_id: "1764000000-0badcafe".to_owned(),
        message_id: "<x@example.test>".to_owned(),
        urgent: true,
        state,
        reason: Some("why".to_owned()),
    };
    // Two copies of one msg id for two boxes: two items.
    let a = ob
        .enqueue(
            &entry("1234@default", ItemState::Pending),
            b"Subject: a\r\n\r\na",
        )
        .unwrap();
    let b = ob
        .enqueue(
            &entry("4321@other", ItemState::Refused),
            b"Subject: b\r\n\r\nbb",
        )
        .unwrap();
    assert_ne!(a.id, b.id);
    // The same copy queued twice: a second item, never over the first.
    let twice = ob
        .enqueue(
            &entry("1234@default", ItemState::Pending),
            b"Subject: a\r\n\r\na",
        )
        .unwrap();
    assert_ne!(twice.id, a.id);
    ob.discard(&twice.id).unwrap();
    let listed = ob.list().unwrap();
    assert!(listed.problems.is_empty(), "{listed:?}");
    let mut items = listed.items;
    items.sort_by(|x, y| x.mailbox.cmp(&y.mailbox));
    assert_eq!(items, vec![a.clone(), b.clone()]);
    assert_eq!(
        (a.state, b.state, a.size, b.size, a.urgent),
        (ItemState::Pending, ItemState::Refused, 15, 16, true)
    );
    assert_eq!(a.last_error.as_deref(), Some("why"));
    let bytes = std::fs::read(outbox.join(format!("{}.eml", b.id))).unwrap();
    assert_eq!(bytes, b"Subject: b\r\n\r\nbb");
    // No msg id, no mailbox: refused, nothing written.
    let mut bad = entry("1234@default", ItemState::Pending);
    bad.msg_id = " ".into();
    assert!(matches!(ob.enqueue(&bad, b"x"), Err(Error::Outbox { .. })));
    let mut bad = entry("", ItemState::Pending);
    bad.msg_id = "1".into();
    assert!(matches!(ob.enqueue(&bad, b"x"), Err(Error::Outbox { .. })));
    assert_eq!(ob.list().unwrap().items.len(), 2);
    store.close().await;
}
