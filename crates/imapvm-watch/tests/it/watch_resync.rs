//! The watcher after an outage (issue 8), against the private Dovecot through a fault proxy:
//! with CONDSTORE/QRESYNC a resync costs what changed — nothing when nothing changed, only
//! the boxes whose messages changed otherwise — and never publishes what did not change;
//! without CONDSTORE (the old personality) every box is recounted, still publishing nothing
//! unchanged. A server that stops answering in the middle of IDLE (the host is up, the
//! connection open, nothing arrives) is noticed within `idle_silence` plus
//! `imapreadtimeout`, not at the 28-minute IDLE refresh.

use std::time::Duration;

use imapvm::{MwiCounts, Store};
use imapvm_watch::{Resync, StrategyChoice, WatchEvent, WatchOptions, Watcher};

use crate::{fixture, pw, py, q, server, store_for, unique};
use imapvm_harness::fault_proxy::{Action, Dir, Fault, FaultProxy};

fn counts(new: u32, urgent: u32, old: u32) -> MwiCounts {
    MwiCounts {
        new,
        urgent,
        old,
        ..MwiCounts::default()
    }
}

/// Boxes 2001@sales and 2003@sales, both on the shared account `vmshared`, in a folder of
/// their own, reached through `port`.
fn shared_store(name: &str, host: &str, port: u16, general: &str) -> (Store, String) {
    let folder = unique(name);
    let store = store_for(
        name,
        host,
        port,
        &format!("imapfolder={folder}\ngreetingsfolder={folder}-greetings\n{general}"),
        &format!(
            "[sales]\n2001 => 2001,Sales,,,imapuser=vmshared|imappassword={p}\n\
             2003 => 2003,Desk,,,imapuser=vmshared|imappassword={p}\n",
            p = pw("vmshared")
        ),
    );
    (store, folder)
}

/// The mail client (imaplib, straight to Dovecot) runs `action` with `m` logged in as
/// `vmshared` and `F` selected; returns what it printed.
fn client(folder: &str, action: &str) -> String {
    py(&format!(
        "m = connect('vmshared')\nF = {f}\nm.create('\"%s\"' % F)\nsel(m, F)\n{action}\nm.logout()\n",
        f = q(folder)
    ))
}

/// Appends a voicemail of box `ext` (the Asterisk-written message of 2001, re-addressed),
/// or an ordinary e-mail when `ext` is `None`; returns its UID.
fn append(folder: &str, ext: Option<&str>) -> u32 {
    let body = match ext {
        Some(ext) => format!(
            "raw = open({path}, 'rb').read().replace(b'X-Asterisk-VM-Extension: 2001', b'X-Asterisk-VM-Extension: {ext}')",
            path = q(&fixture("10-shared-account-2001.eml"))
        ),
        None => "raw = b'From: a@example.test\\r\\nTo: sales@example.test\\r\\nSubject: lunch\\r\\n\\r\\nordinary mail\\r\\n'".to_owned(),
    };
    let out = client(
        folder,
        &format!(
            "{body}\ncheck(m.append('\"%s\"' % F, '', None, raw), 'append')\nsel(m, F)\nprint(max(uids(m, 'ALL')))"
        ),
    );
    out.trim().parse().unwrap()
}

fn store_flags(folder: &str, uid: u32, op: &str, flag: &str) {
    client(
        folder,
        &format!("check(m.uid('STORE', '{uid}', '{op}', '({flag})'), 'store')"),
    );
}

fn expunge(folder: &str, uid: u32) {
    client(
        folder,
        &format!(
            "check(m.uid('STORE', '{uid}', '+FLAGS.SILENT', '(\\\\Deleted)'), 'store')\n\
             check(m.expunge(), 'expunge')"
        ),
    );
}

fn options() -> WatchOptions {
    WatchOptions {
        strategy: StrategyChoice::Auto,
        backoff_first: Duration::from_millis(200),
        backoff_max: Duration::from_millis(400),
        ..WatchOptions::default()
    }
}

/// Reads events until the account is watched again; returns the MWI events published on
/// the way (as `(box@context, counts)`) and the resync's figures. An error event before
/// that fails the test.
async fn until_watching(w: &mut Watcher) -> (Vec<(String, MwiCounts)>, Resync) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut published = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, w.next()).await {
            Ok(Some(WatchEvent::Mwi(e))) => published.push((e.id(), e.counts)),
            Ok(Some(WatchEvent::Watching { resync, .. })) => return (published, resync),
            Ok(Some(WatchEvent::Error(e))) => panic!("unexpected error event {e:?}"),
            Ok(Some(_)) => {}
            Ok(None) => panic!("the watcher ended"),
            Err(_) => panic!("not watching again within 20 s; published {published:?}"),
        }
    }
}

/// Cuts every connection and refuses new ones until `change` ran, then lets the watcher
/// back in; returns what it published and its resync figures.
async fn outage(
    w: &mut Watcher,
    proxy: &FaultProxy,
    change: impl FnOnce(),
) -> (Vec<(String, MwiCounts)>, Resync) {
    proxy.set_refuse(true);
    proxy.kill_all();
    match tokio::time::timeout(Duration::from_secs(10), w.next()).await {
        Ok(Some(WatchEvent::Error(_))) => {}
        other => panic!("expected an error event, got {other:?}"),
    }
    change();
    proxy.set_refuse(false);
    until_watching(w).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_condstore_a_resync_costs_only_what_changed() {
    let s = server();
    let proxy = FaultProxy::start(&s.host, s.port).await;
    let (store, folder) = shared_store("resync-modseq", "127.0.0.1", proxy.port, "");
    let v2001 = append(&folder, Some("2001"));
    let v2003 = append(&folder, Some("2003"));
    let mail = append(&folder, None);
    let mut w = Watcher::start(&store, options()).unwrap();
    let (mut first, resync) = until_watching(&mut w).await;
    first.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        first,
        [
            ("2001@sales".to_owned(), counts(1, 0, 0)),
            ("2003@sales".to_owned(), counts(1, 0, 0))
        ]
    );
    assert_eq!((resync.folders, resync.recounted), (1, 2), "{resync:?}");

    // Nothing changed: no count at all, nothing published.
    let (published, resync) = outage(&mut w, &proxy, || {}).await;
    assert_eq!(published, []);
    assert_eq!(
        (resync.folders, resync.unchanged, resync.recounted),
        (1, 1, 0),
        "{resync:?}"
    );

    // The user reads an ordinary e-mail in the shared folder: one changed message, not a
    // voicemail; no box recounted.
    let (published, resync) = outage(&mut w, &proxy, || {
        store_flags(&folder, mail, "+FLAGS", "\\\\Seen")
    })
    .await;
    assert_eq!(published, []);
    assert_eq!(
        (
            resync.incremental,
            resync.changed_messages,
            resync.recounted
        ),
        (1, 1, 0),
        "{resync:?}"
    );

    // 2001's voicemail is read: only 2001 is recounted and published.
    let (published, resync) = outage(&mut w, &proxy, || {
        store_flags(&folder, v2001, "+FLAGS", "\\\\Seen")
    })
    .await;
    assert_eq!(published, [("2001@sales".to_owned(), counts(0, 0, 1))]);
    assert_eq!((resync.incremental, resync.recounted), (1, 1), "{resync:?}");

    // 2003's voicemail is deleted and expunged: QRESYNC names the vanished UID, so only
    // 2003 is recounted.
    let (published, resync) = outage(&mut w, &proxy, || expunge(&folder, v2003)).await;
    assert_eq!(published, [("2003@sales".to_owned(), counts(0, 0, 0))]);
    assert_eq!(
        (
            resync.incremental,
            resync.changed_messages,
            resync.recounted
        ),
        (1, 1, 1),
        "{resync:?}"
    );

    // A new voicemail for 2003 arrives while we are away.
    let (published, resync) = outage(&mut w, &proxy, || {
        append(&folder, Some("2003"));
    })
    .await;
    assert_eq!(published, [("2003@sales".to_owned(), counts(1, 0, 0))]);
    assert_eq!(resync.recounted, 1, "{resync:?}");
    w.stop().await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_condstore_a_resync_recounts_everything_and_publishes_only_differences() {
    let s = server();
    let proxy = FaultProxy::start(&s.old_host, s.old_port).await;
    let (store, folder) = shared_store("resync-old", "127.0.0.1", proxy.port, "");
    let v2001 = append(&folder, Some("2001"));
    append(&folder, Some("2003"));
    let mut w = Watcher::start(&store, options()).unwrap();
    let (first, _) = until_watching(&mut w).await;
    assert_eq!(first.len(), 2, "{first:?}");

    let (published, resync) = outage(&mut w, &proxy, || {}).await;
    assert_eq!(published, []);
    assert_eq!(
        (
            resync.folders,
            resync.unchanged,
            resync.incremental,
            resync.recounted
        ),
        (1, 0, 0, 2),
        "{resync:?}"
    );
    let (published, _) = outage(&mut w, &proxy, || {
        store_flags(&folder, v2001, "+FLAGS", "\\\\Seen")
    })
    .await;
    assert_eq!(published, [("2001@sales".to_owned(), counts(0, 0, 1))]);
    w.stop().await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_goes_silent_during_idle_is_noticed_within_the_silence_probe() {
    let s = server();
    let proxy = FaultProxy::start(&s.host, s.port).await;
    // imapreadtimeout=2: the probe's DONE must be answered within 2 s.
    let (store, folder) = shared_store(
        "resync-silent",
        "127.0.0.1",
        proxy.port,
        "imapreadtimeout=2",
    );
    append(&folder, Some("2001"));
    let mut w = Watcher::start(
        &store,
        WatchOptions {
            idle_silence: Some(Duration::from_secs(1)),
            ..options()
        },
    )
    .unwrap();
    until_watching(&mut w).await;
    // A live server answers the probes: still watching, no error, for several probes.
    match tokio::time::timeout(Duration::from_millis(3500), w.next()).await {
        Err(_) => {}
        Ok(other) => panic!("a live server produced {other:?}"),
    }
    // The server stops sending (sockets stay open, nothing is closed or reset).
    proxy.arm(Fault {
        dir: Dir::Down,
        after: 0,
        action: Action::Stall,
        when: None,
    });
    let stalled = std::time::Instant::now();
    match tokio::time::timeout(Duration::from_secs(8), w.next()).await {
        Ok(Some(WatchEvent::Error(e))) => {
            assert!(
                e.error.to_string().contains("timed out")
                    || e.error.to_string().contains("timeout"),
                "{e:?}"
            )
        }
        other => panic!("expected an error event, got {other:?}"),
    }
    // At most silence (1 s) + read timeout (2 s), plus scheduling slack.
    assert!(
        stalled.elapsed() < Duration::from_secs(6),
        "{:?}",
        stalled.elapsed()
    );
    // Back: a new connection resyncs; nothing changed, nothing is published.
    proxy.disarm();
    proxy.kill_all();
    let (published, _) = until_watching(&mut w).await;
    assert_eq!(published, []);
    w.stop().await;
    store.close().await;
}

/// How many connections four accounts have opened 300 ms after the watcher started, through
/// a proxy that delays every chunk by 150 ms (a login then takes well over 300 ms); and how
/// many accounts ended up watched.
async fn connections_early(concurrency: usize) -> (u64, usize) {
    let s = server();
    let proxy = FaultProxy::start(&s.host, s.port).await;
    proxy.set_delay(Duration::from_millis(150));
    let folder = unique("resync-connecting");
    let line = |b: &str, ctx: &str, user: &str| {
        format!(
            "[{ctx}]\n{b} => {b},Box,,,imapuser={user}|imappassword={}\n",
            pw(user)
        )
    };
    let store = store_for(
        "resync-connecting",
        "127.0.0.1",
        proxy.port,
        &format!("imapfolder={folder}\ngreetingsfolder={folder}-greetings"),
        &[
            line("1234", "default", "vm1234"),
            line("4321", "other", "vm4321"),
            line("5678", "third", "vm5678"),
            line("2001", "sales", "vmshared"),
        ]
        .concat(),
    );
    let mut w = Watcher::start(
        &store,
        WatchOptions {
            connect_concurrency: concurrency,
            ..options()
        },
    )
    .unwrap();
    assert_eq!(w.accounts(), 4);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let early = proxy.connections();
    let mut watching = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while watching < 4 {
        match tokio::time::timeout_at(deadline, w.next()).await {
            Ok(Some(WatchEvent::Watching { .. })) => watching += 1,
            Ok(Some(WatchEvent::Error(e))) => panic!("unexpected error event {e:?}"),
            Ok(Some(_)) => {}
            _ => break,
        }
    }
    w.stop().await;
    store.close().await;
    (early, watching)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_connect_at_most_connect_concurrency_at_a_time() {
    // One at a time: the second account connects only once the first is logged in.
    assert_eq!(connections_early(1).await, (1, 4));
    // The default lets all four connect at once (so the check above means something).
    let (early, watching) =
        connections_early(imapvm_watch::watch::DEFAULT_CONNECT_CONCURRENCY).await;
    assert_eq!((early, watching), (4, 4));
}
