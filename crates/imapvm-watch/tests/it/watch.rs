//! The MWI watcher against the private Dovecot: every kind of mail-client change gives
//! exactly one event with the right counts, under NOTIFY (main listener), IDLE (the old
//! personality) and polling; own operations publish at once; an outage keeps the last state
//! and resyncs; externnotify runs with Asterisk's arguments, survives hangs and failures.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use imapvm::{MwiCounts, Store, Urgency, WatchStrategy};
use imapvm_deliver::{Deliver, RecipientResult};
use imapvm_testkit::proxy::Proxy;
use imapvm_watch::{
    ExternNotify, ExternRun, MwiEvent, RunOutcome, StrategyChoice, WatchEvent, WatchOptions,
    Watcher,
};

use crate::{fixture, pw, py, q, server, store_for, unique, voicemail};

fn counts(new: u32, urgent: u32, old: u32) -> MwiCounts {
    MwiCounts {
        new,
        urgent,
        old,
        old_urgent: 0,
    }
}

/// The next MWI event (skipping `Watching` and externnotify reports); an error event fails.
async fn next_mwi(w: &mut Watcher, within: Duration) -> MwiEvent {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, w.next()).await {
            Ok(Some(WatchEvent::Mwi(e))) => return e,
            Ok(Some(WatchEvent::Error(e))) => panic!("unexpected error event: {e:?}"),
            Ok(Some(_)) => {}
            Ok(None) => panic!("the watcher ended"),
            Err(_) => panic!("no MWI event within {within:?}"),
        }
    }
}

/// The next event of any kind but externnotify reports.
async fn next_event(w: &mut Watcher, within: Duration) -> WatchEvent {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, w.next()).await {
            Ok(Some(WatchEvent::ExternNotify(_))) => {}
            Ok(Some(e)) => return e,
            Ok(None) => panic!("the watcher ended"),
            Err(_) => panic!("no event within {within:?}"),
        }
    }
}

/// Asserts that no MWI or error event arrives for `quiet`.
async fn assert_quiet(w: &mut Watcher, quiet: Duration) {
    let deadline = tokio::time::Instant::now() + quiet;
    loop {
        match tokio::time::timeout_at(deadline, w.next()).await {
            Ok(Some(WatchEvent::Mwi(e))) => panic!("unexpected MWI event {e:?}"),
            Ok(Some(WatchEvent::Error(e))) => panic!("unexpected error event {e:?}"),
            Ok(Some(_)) => {}
            Ok(None) => panic!("the watcher ended"),
            Err(_) => return,
        }
    }
}

/// Waits for the `Watching` event of the (single) account; returns its strategy.
async fn watching(w: &mut Watcher) -> WatchStrategy {
    loop {
        match next_event(w, Duration::from_secs(20)).await {
            WatchEvent::Watching { strategy, .. } => return strategy,
            WatchEvent::Mwi(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// A store where 1234@default keeps its voicemail in a fresh folder, on `host:port`.
pub(crate) fn store_on(name: &str, host: &str, port: u16, general: &str) -> (Store, String) {
    let folder = unique(name);
    let store = store_for(
        name,
        host,
        port,
        &format!("imapfolder={folder}\ngreetingsfolder={folder}-greetings\n{general}"),
        &format!(
            "[default]\n1234 => 1234,Alice Mailbox,,,imapuser=vm1234|imappassword={}\n",
            pw("vm1234")
        ),
    );
    (store, folder)
}

fn options(strategy: StrategyChoice) -> WatchOptions {
    WatchOptions {
        mailboxes: Some(vec!["1234@default".parse().unwrap()]),
        strategy,
        ..WatchOptions::default()
    }
}

/// The mail client runs `action` with `m` connected and `F` selected (created if needed);
/// what it prints is returned.
fn client(folder: &str, action: &str) -> String {
    py(&format!(
        "m = connect('vm1234')\nF = {f}\nm.create('\"%s\"' % F)\nsel(m, F)\n{action}\nm.logout()\n",
        f = q(folder)
    ))
}

/// Appends the Asterisk-written message for 1234@default (unseen) and prints its UID.
fn append_voicemail(folder: &str, flags: &str) -> u32 {
    let out = client(
        folder,
        &format!(
            "raw = open({path}, 'rb').read()\n\
             check(m.append('\"%s\"' % F, {flags}, None, raw), 'append')\n\
             sel(m, F)\nprint(max(uids(m, 'ALL')))",
            path = q(&fixture("01-basic.eml")),
            flags = q(flags),
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

/// Every kind of change, one event each with the right counts, and silence otherwise.
async fn each_change_gives_one_event(
    host: &str,
    port: u16,
    strategy: StrategyChoice,
    expect: fn(WatchStrategy) -> bool,
    within: Duration,
) {
    let (store, folder) = store_on("watch-kinds", host, port, "");
    let elsewhere = unique("watch-elsewhere");
    let mut w = Watcher::start(&store, options(strategy)).unwrap();
    let first = next_mwi(&mut w, Duration::from_secs(20)).await;
    assert_eq!(
        (first.mailbox.as_str(), first.context.as_str()),
        ("1234", "default")
    );
    assert_eq!(first.counts, counts(0, 0, 0));
    let got = watching(&mut w).await;
    assert!(expect(got), "strategy {got:?}");
    let quiet = Duration::from_millis(700);

    // APPEND of a voicemail by the mail client.
    let a = append_voicemail(&folder, "");
    assert_eq!(next_mwi(&mut w, within).await.counts, counts(1, 0, 0));
    assert_quiet(&mut w, quiet).await;
    let b = append_voicemail(&folder, "");
    assert_eq!(next_mwi(&mut w, within).await.counts, counts(2, 0, 0));

    // Read, unread, urgent.
    store_flags(&folder, a, "+FLAGS", "\\\\Seen");
    assert_eq!(next_mwi(&mut w, within).await.counts, counts(1, 0, 1));
    store_flags(&folder, a, "-FLAGS", "\\\\Seen");
    assert_eq!(next_mwi(&mut w, within).await.counts, counts(2, 0, 0));
    store_flags(&folder, b, "+FLAGS", "\\\\Flagged");
    assert_eq!(next_mwi(&mut w, within).await.counts, counts(1, 1, 0));
    assert_quiet(&mut w, quiet).await;

    // A change that does not touch the counts: no event.
    store_flags(&folder, b, "+FLAGS", "$Label1");
    // Mail that is not a voicemail of this box: no event.
    client(
        &folder,
        "check(m.append('\"%s\"' % F, '', None, b'Subject: hi\\r\\n\\r\\nnot a voicemail\\r\\n'), 'append')",
    );
    assert_quiet(&mut w, quiet.max(within / 2)).await;

    // Moved out of the folder by the mail client.
    client(
        &folder,
        &format!(
            "check(m.create('\"%s\"' % {e}), 'create')\ncheck(m.uid('MOVE', '{b}', '\"%s\"' % {e}), 'move')",
            e = q(&elsewhere)
        ),
    );
    assert_eq!(next_mwi(&mut w, within).await.counts, counts(1, 0, 0));

    // Deleted and expunged.
    client(
        &folder,
        &format!("check(m.uid('STORE', '{a}', '+FLAGS', '(\\\\Deleted)'), 'delete')"),
    );
    assert_eq!(next_mwi(&mut w, within).await.counts, counts(0, 0, 0));
    client(&folder, "check(m.expunge(), 'expunge')");
    assert_quiet(&mut w, quiet.max(within / 2)).await;
    w.stop().await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_every_change_gives_exactly_one_event() {
    let s = server();
    each_change_gives_one_event(
        &s.host,
        s.port,
        StrategyChoice::Auto,
        |st| matches!(st, WatchStrategy::Notify { .. }),
        Duration::from_secs(5),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_every_change_gives_exactly_one_event() {
    let s = server();
    each_change_gives_one_event(
        &s.old_host,
        s.old_port,
        StrategyChoice::Auto,
        |st| matches!(st, WatchStrategy::Idle { .. }),
        Duration::from_secs(5),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_every_change_gives_exactly_one_event() {
    let s = server();
    each_change_gives_one_event(
        &s.host,
        s.port,
        StrategyChoice::Poll(Duration::from_secs(1)),
        |st| matches!(st, WatchStrategy::Poll { .. }),
        Duration::from_secs(5),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_urgent_message_waiting_is_published_once_not_every_poll() {
    let s = server();
    let (store, _folder) = store_on("watch-urgent", &s.host, s.port, "");
    let mb = store.mailbox("1234@default").unwrap();
    let mut vm = voicemail("5557001", 300);
    vm.urgency = Urgency::Urgent;
    mb.deposit(&vm).await.unwrap();
    let mut w = Watcher::start(
        &store,
        options(StrategyChoice::Poll(Duration::from_secs(1))),
    )
    .unwrap();
    assert_eq!(
        next_mwi(&mut w, Duration::from_secs(20)).await.counts,
        counts(0, 1, 0)
    );
    // Asterisk re-publishes this every poll (docs/reference/asterisk-imap-behaviour.md
    // §4.11); three polls pass here in silence.
    assert_quiet(&mut w, Duration::from_millis(3500)).await;
    w.stop().await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_operations_publish_at_once_and_only_once() {
    let s = server();
    // Polling every 30 s: only the operations' own wake-up can explain a quick event.
    let (store, _folder) = store_on("watch-own", &s.host, s.port, "");
    let mb = store.mailbox("1234@default").unwrap();
    let mut w = Watcher::start(
        &store,
        options(StrategyChoice::Poll(Duration::from_secs(30))),
    )
    .unwrap();
    assert_eq!(
        next_mwi(&mut w, Duration::from_secs(20)).await.counts,
        counts(0, 0, 0)
    );
    watching(&mut w).await;
    let started = Instant::now();
    let d = mb.deposit(&voicemail("5557002", 300)).await.unwrap();
    let e = next_mwi(&mut w, Duration::from_secs(5)).await;
    assert_eq!(e.counts, counts(1, 0, 0));
    assert!(started.elapsed() < Duration::from_secs(5));
    mb.set_flag(
        imapvm::MessageRef::Uid(d.uid),
        None,
        imapvm::FlagOp::MarkRead,
    )
    .await
    .unwrap();
    assert_eq!(
        next_mwi(&mut w, Duration::from_secs(5)).await.counts,
        counts(0, 0, 1)
    );
    // A read-only operation wakes the watcher too, but nothing changed: no event.
    mb.list(None).await.unwrap();
    assert_quiet(&mut w, Duration::from_millis(700)).await;
    w.stop().await;
    store.close().await;
}

/// A multi-recipient deposit through the same store publishes every destination's counts
/// at once (the runtime announces each stored copy on its change feed), not at the next
/// poll. Moved here from the runtime's forward tests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_destination_publishes_its_mwi() {
    let folder = unique("fwd-mwi");
    let s = server();
    let store = store_for(
        "fwd-mwi",
        &s.host,
        s.port,
        &format!("imapfolder={folder}\ngreetingsfolder={folder}-greetings"),
        &format!(
            "[default]\n1234 => 1234,Alice Mailbox,,,imapuser=vm1234|imappassword={p1}\n\
             [other]\n4321 => 4321,Bob Other,,,imapuser=vm4321|imappassword={p4}\n",
            p1 = pw("vm1234"),
            p4 = pw("vm4321"),
        ),
    );
    // Polling every 30 s: only the operation's own wake-up explains quick events.
    let mut w = Watcher::start(
        &store,
        WatchOptions {
            mailboxes: Some(vec![
                "1234@default".parse().unwrap(),
                "4321@other".parse().unwrap(),
            ]),
            strategy: StrategyChoice::Poll(Duration::from_secs(30)),
            ..WatchOptions::default()
        },
    )
    .unwrap();
    let mut seen: BTreeMap<String, MwiCounts> = BTreeMap::new();
    let mut watching = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while watching < 2 || seen.len() < 2 {
        match tokio::time::timeout_at(deadline, w.next()).await {
            Ok(Some(WatchEvent::Mwi(e))) => {
                seen.insert(e.id(), e.counts);
            }
            Ok(Some(WatchEvent::Watching { .. })) => watching += 1,
            Ok(Some(WatchEvent::Error(e))) => panic!("{e:?}"),
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => panic!("the watcher did not start: {seen:?}"),
        }
    }
    assert!(
        seen.values().all(|c| *c == MwiCounts::default()),
        "{seen:?}"
    );
    let started = std::time::Instant::now();
    let results = store
        .deposit_to(&["1234@default", "4321@other"], &voicemail("5551700", 300))
        .await;
    assert!(results.iter().all(RecipientResult::is_ok));
    let mut published: BTreeMap<String, MwiCounts> = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while published.len() < 2 {
        match tokio::time::timeout_at(deadline, w.next()).await {
            Ok(Some(WatchEvent::Mwi(e))) => {
                published.insert(e.id(), e.counts);
            }
            Ok(Some(WatchEvent::Error(e))) => panic!("{e:?}"),
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => panic!("not every destination published: {published:?}"),
        }
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(published["1234@default"], counts(1, 0, 0));
    assert_eq!(published["4321@other"], counts(1, 0, 0));
    w.stop().await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_account_boxes_are_watched_over_one_connection() {
    let s = server();
    let folder = unique("watch-shared");
    let store = store_for(
        "watch-shared",
        &s.host,
        s.port,
        &format!("imapfolder={folder}\ngreetingsfolder={folder}-greetings"),
        &format!(
            "[sales]\n2001 => 2001,Sales,,,imapuser=vmshared|imappassword={p}\n\
             2002 => 2002,Support,,,imapuser=vmshared|imappassword={p}|imapvmshareid=support\n",
            p = pw("vmshared")
        ),
    );
    let mut w = Watcher::start(&store, WatchOptions::default()).unwrap();
    assert_eq!(w.accounts(), 1);
    let mut initial = vec![
        next_mwi(&mut w, Duration::from_secs(20)).await.id(),
        next_mwi(&mut w, Duration::from_secs(20)).await.id(),
    ];
    initial.sort();
    assert_eq!(initial, ["2001@sales", "2002@sales"]);
    watching(&mut w).await;
    py(&format!(
        "m = connect('vmshared')\nF = {f}\nraw = open({path}, 'rb').read()\n\
         check(m.append('\"%s\"' % F, '', None, raw), 'append')\n",
        f = q(&folder),
        path = q(&fixture("10-shared-account-2001.eml"))
    ));
    let e = next_mwi(&mut w, Duration::from_secs(5)).await;
    assert_eq!(
        (e.id(), e.counts),
        ("2001@sales".to_owned(), counts(1, 0, 0))
    );
    assert_quiet(&mut w, Duration::from_millis(700)).await;
    w.stop().await;
    store.close().await;
}

/// The outage: every connection through `proxy` closed, new ones refused.
fn cut(proxy: &Proxy) {
    proxy.set_refuse(true);
    proxy.cut_all();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_keeps_the_last_state_and_a_resync_publishes_only_differences() {
    let s = server();
    // A proxy in front of Dovecot, to simulate an outage without stopping the shared server.
    let proxy = Proxy::to(&s.host, s.port).start().await.unwrap();
    let (store, folder) = store_on("watch-outage", "127.0.0.1", proxy.port(), "");
    let account = format!("vm1234@127.0.0.1:{}", proxy.port());
    let a = append_voicemail(&folder, "");
    let mut w = Watcher::start(
        &store,
        WatchOptions {
            backoff_first: Duration::from_millis(200),
            backoff_max: Duration::from_millis(400),
            ..options(StrategyChoice::Auto)
        },
    )
    .unwrap();
    assert_eq!(
        next_mwi(&mut w, Duration::from_secs(20)).await.counts,
        counts(1, 0, 0)
    );
    watching(&mut w).await;

    // Down: one error event naming the account; no count is published.
    cut(&proxy);
    match next_event(&mut w, Duration::from_secs(10)).await {
        WatchEvent::Error(e) => assert_eq!(e.account.to_string(), account),
        other => panic!("expected an error event, got {other:?}"),
    }
    // The mail client reads the message while we cannot see it.
    store_flags(&folder, a, "+FLAGS", "\\\\Seen");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // Repeated failed reconnects during the same outage stay silent.
    assert_quiet(&mut w, Duration::from_millis(500)).await;

    // Back: resync, and the difference is published once.
    proxy.set_refuse(false);
    let mut saw_watching = false;
    let e = loop {
        match next_event(&mut w, Duration::from_secs(10)).await {
            WatchEvent::Mwi(e) => break e,
            WatchEvent::Watching { .. } => saw_watching = true,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(e.counts, counts(0, 0, 1));
    if !saw_watching {
        watching(&mut w).await;
    }

    // Another outage with no change meanwhile: the resync publishes nothing.
    cut(&proxy);
    assert!(matches!(
        next_event(&mut w, Duration::from_secs(10)).await,
        WatchEvent::Error(_)
    ));
    proxy.set_refuse(false);
    assert!(matches!(
        next_event(&mut w, Duration::from_secs(10)).await,
        WatchEvent::Watching { .. }
    ));
    assert_quiet(&mut w, Duration::from_millis(700)).await;
    w.stop().await;
    store.close().await;
}

/// Writes an executable shell script (the program under test; imapvm itself runs it
/// without a shell).
fn script(name: &str, body: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(unique(name));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.sh"));
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Reads events until the account is watched and one externnotify report arrived (in
/// either order); returns the report.
async fn watching_and_run(w: &mut Watcher) -> ExternRun {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let (mut watched, mut run) = (false, None);
    while !watched || run.is_none() {
        match tokio::time::timeout_at(deadline, w.next()).await {
            Ok(Some(WatchEvent::ExternNotify(r))) => run = Some(r),
            Ok(Some(WatchEvent::Watching { .. })) => watched = true,
            Ok(Some(WatchEvent::Error(e))) => panic!("unexpected error event {e:?}"),
            Ok(Some(_)) => {}
            _ => panic!("not watching, or no externnotify report"),
        }
    }
    run.unwrap()
}

/// The next externnotify report.
async fn next_run(w: &mut Watcher) -> ExternRun {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline, w.next()).await {
            Ok(Some(WatchEvent::ExternNotify(r))) => return r,
            Ok(Some(_)) => {}
            _ => panic!("no externnotify report"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn externnotify_gets_asterisks_arguments_from_the_config() {
    let s = server();
    let record = script(
        "record",
        "printf '%s|' \"$@\" >> \"$0.args\"; echo >> \"$0.args\"",
    );
    let (store, folder) = store_on(
        "watch-extern",
        &s.host,
        s.port,
        &format!("externnotify={} fixed-word", record.display()),
    );
    let mut w = Watcher::start(&store, options(StrategyChoice::Auto)).unwrap();
    let run = watching_and_run(&mut w).await;
    assert_eq!(run.mailbox, "1234@default");
    assert_eq!(run.outcome, RunOutcome::Exited(Some(0)));
    let uid = append_voicemail(&folder, "");
    next_run(&mut w).await;
    store_flags(&folder, uid, "+FLAGS", "\\\\Flagged");
    next_run(&mut w).await;
    let args = std::fs::read_to_string(format!("{}.args", record.display())).unwrap();
    assert_eq!(
        args.lines().collect::<Vec<_>>(),
        [
            "fixed-word|default|1234|0|0|0|",
            "fixed-word|default|1234|1|0|0|",
            "fixed-word|default|1234|0|0|1|",
        ]
    );
    w.stop().await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn externnotify_that_hangs_or_fails_does_not_stop_the_watcher() {
    let s = server();
    let (store, folder) = store_on("watch-extern-bad", &s.host, s.port, "");
    let hang = script("hang", "exec sleep 30");
    let mut w = Watcher::start(
        &store,
        WatchOptions {
            externnotify: Some(
                ExternNotify::parse(&hang.display().to_string(), Duration::from_millis(300))
                    .unwrap(),
            ),
            ..options(StrategyChoice::Auto)
        },
    )
    .unwrap();
    let started = Instant::now();
    assert_eq!(watching_and_run(&mut w).await.outcome, RunOutcome::TimedOut);
    assert!(started.elapsed() < Duration::from_secs(8));
    // Events keep flowing while (and after) the program hangs.
    append_voicemail(&folder, "");
    assert_eq!(
        next_mwi(&mut w, Duration::from_secs(5)).await.counts,
        counts(1, 0, 0)
    );
    assert_eq!(next_run(&mut w).await.outcome, RunOutcome::TimedOut);
    w.stop().await;

    let fail = script("fail", "exit 3");
    let mut w = Watcher::start(
        &store,
        WatchOptions {
            externnotify: Some(
                ExternNotify::parse(&fail.display().to_string(), Duration::from_secs(5)).unwrap(),
            ),
            ..options(StrategyChoice::Auto)
        },
    )
    .unwrap();
    assert_eq!(
        watching_and_run(&mut w).await.outcome,
        RunOutcome::Exited(Some(3))
    );
    append_voicemail(&folder, "\\Seen");
    assert_eq!(
        next_mwi(&mut w, Duration::from_secs(5)).await.counts,
        counts(1, 0, 1)
    );
    assert_eq!(next_run(&mut w).await.outcome, RunOutcome::Exited(Some(3)));
    w.stop().await;
    store.close().await;
}

/// `MailboxId` compares as Asterisk does, without ASCII case: a box named twice in two
/// spellings is one box, counted and published once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_box_named_in_two_cases_is_watched_once() {
    let s = server();
    let (store, _folder) = store_on("watch-case", &s.host, s.port, "");
    let mut w = Watcher::start(
        &store,
        WatchOptions {
            mailboxes: Some(vec![
                "1234@Default".parse().unwrap(),
                "1234@default".parse().unwrap(),
                "1234@DEFAULT".parse().unwrap(),
            ]),
            ..WatchOptions::default()
        },
    )
    .unwrap();
    assert_eq!(w.accounts(), 1);
    let mut published = Vec::new();
    loop {
        match next_event(&mut w, Duration::from_secs(20)).await {
            WatchEvent::Mwi(e) => published.push(e.id()),
            WatchEvent::Watching { .. } => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        published,
        ["1234@default"],
        "one box, in voicemail.conf's spelling"
    );
    assert_quiet(&mut w, Duration::from_millis(700)).await;
    w.stop().await;
}
