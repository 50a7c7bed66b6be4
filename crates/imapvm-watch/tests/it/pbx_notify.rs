//! The PBX outputs of the watcher: AMI (`VoicemailRefresh`, `MWIUpdate`) against an AMI peer
//! that speaks Asterisk's framing (`xtask::pbx::AmiPeer`), webhooks against a recording HTTP
//! receiver (`xtask::pbx::WebhookReceiver`), and sharding of a voicemail.conf's boxes.

use std::time::{Duration, SystemTime};

use imapvm::MwiCounts;
use imapvm_config::{AmiMode, AmiTarget, AmiTransport, Secret, WebhookUrl};
use imapvm_watch::metrics::Format;
use imapvm_watch::{
    AmiNotifier, AmiOptions, AmiReport, Metrics, MwiEvent, Shard, WatchEvent, WatchOptions,
    Watcher, WebhookNotifier, WebhookOptions, WebhookReport,
};
use xtask::pbx::{AmiAction, AmiPeer, AmiPeerConfig, WebhookReceiver, WebhookReceiverConfig};

use crate::{fixture, pw, py, q, store_with, unique};

const WITHIN: Duration = Duration::from_secs(10);

fn target(peer: &AmiPeer, mode: AmiMode, secret: &str) -> AmiTarget {
    AmiTarget {
        host: peer.addr().ip().to_string(),
        port: peer.addr().port(),
        username: "imapvm".into(),
        secret: Secret::new(secret),
        mode,
        transport: AmiTransport::Tcp,
    }
}

fn quick() -> AmiOptions {
    AmiOptions {
        backoff_first: Duration::from_millis(100),
        backoff_max: Duration::from_millis(400),
        ..AmiOptions::default()
    }
}

fn event(mailbox: &str, new: u32, urgent: u32, old: u32) -> MwiEvent {
    MwiEvent {
        mailbox: mailbox.into(),
        context: "default".into(),
        counts: MwiCounts {
            new,
            urgent,
            old,
            old_urgent: 0,
        },
        at: SystemTime::now(),
        seen: None,
    }
}

async fn report(ami: &mut AmiNotifier) -> AmiReport {
    tokio::time::timeout(WITHIN, ami.next_report())
        .await
        .expect("an AMI report in time")
        .expect("the driver runs")
}

async fn hook_report(hook: &mut WebhookNotifier) -> WebhookReport {
    tokio::time::timeout(WITHIN * 2, hook.next_report())
        .await
        .expect("a webhook report in time")
        .expect("the notifier runs")
}

/// Blocking waits of the (thread-based) peers run off the async workers.
async fn wait_actions(peer: &AmiPeer, name: &'static str, count: usize) -> (bool, Vec<AmiAction>) {
    tokio::task::block_in_place(|| {
        peer.wait_for(WITHIN, |a| {
            a.iter().filter(|x| x.name() == name).count() >= count
        })
    })
}

fn fields(a: &AmiAction) -> Vec<(String, String)> {
    a.headers
        .iter()
        .filter(|(k, _)| k != "ActionID")
        .cloned()
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The next MWI event of the watcher.
async fn next_mwi(w: &mut Watcher) -> MwiEvent {
    loop {
        match tokio::time::timeout(Duration::from_secs(20), w.next()).await {
            Ok(Some(WatchEvent::Mwi(e))) => return e,
            Ok(Some(WatchEvent::Error(e))) => panic!("unexpected error event {e:?}"),
            Ok(Some(_)) => {}
            Ok(None) => panic!("the watcher ended"),
            Err(_) => panic!("no MWI event in time"),
        }
    }
}

/// A mail-client change (Python imaplib) reaches Asterisk: `VoicemailRefresh` on one AMI
/// link, `MWIUpdate` with the counts on another, and the JSON on a webhook.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_client_changes_reach_ami_and_webhooks() {
    let folder = unique("pbx-e2e");
    let store = store_with(
        "pbx-e2e",
        &format!("imapfolder={folder}\ngreetingsfolder={folder}-greetings"),
        &format!(
            "[default]\n1234 => 1234,Alice Mailbox,,,imapuser=vm1234|imappassword={}\n",
            pw("vm1234")
        ),
    );
    let refresh_peer = AmiPeer::start(AmiPeerConfig::default()).unwrap();
    let mwi_peer = AmiPeer::start(AmiPeerConfig::default()).unwrap();
    let receiver = WebhookReceiver::start(WebhookReceiverConfig::default()).unwrap();
    let metrics = Metrics::new();
    let counted = AmiOptions {
        metrics: metrics.clone(),
        ..quick()
    };
    let mut refresh = AmiNotifier::start(
        &target(&refresh_peer, AmiMode::Refresh, "s3cret"),
        counted.clone(),
    )
    .unwrap();
    let mut mwi = AmiNotifier::start(&target(&mwi_peer, AmiMode::Mwi, "s3cret"), counted).unwrap();
    let hook = WebhookNotifier::start(
        &receiver.url("/mwi").parse::<WebhookUrl>().unwrap(),
        WebhookOptions::default(),
    )
    .unwrap();
    for ami in [&mut refresh, &mut mwi] {
        assert!(
            matches!(report(ami).await, AmiReport::LoggedIn { version, .. } if version == "5.0.2")
        );
    }
    let mut w = Watcher::start(
        &store,
        WatchOptions {
            mailboxes: Some(vec!["1234@default".parse().unwrap()]),
            ..WatchOptions::default()
        },
    )
    .unwrap();
    let publish = |e: &MwiEvent| {
        refresh.notify(e);
        mwi.notify(e);
        hook.notify(e);
    };
    let first = next_mwi(&mut w).await;
    publish(&first);

    // The mail client appends an unseen voicemail, then marks it read.
    let uid: u32 = py(&format!(
        "m = connect('vm1234')\nF = {f}\nm.create('\"%s\"' % F)\n\
         raw = open({path}, 'rb').read()\n\
         check(m.append('\"%s\"' % F, '', None, raw), 'append')\n\
         sel(m, F)\nprint(max(uids(m, 'ALL')))\nm.logout()\n",
        f = q(&folder),
        path = q(&fixture("01-basic.eml")),
    ))
    .trim()
    .parse()
    .unwrap();
    let appended = next_mwi(&mut w).await;
    assert_eq!((appended.counts.new, appended.counts.old), (1, 0));
    publish(&appended);
    py(&format!(
        "m = connect('vm1234')\nsel(m, {f})\ncheck(m.uid('STORE', '{uid}', '+FLAGS', '(\\\\Seen)'), 'store')\nm.logout()\n",
        f = q(&folder)
    ));
    let seen = next_mwi(&mut w).await;
    assert_eq!((seen.counts.new, seen.counts.old), (0, 1));
    publish(&seen);

    let (ok, actions) = wait_actions(&refresh_peer, "VoicemailRefresh", 3).await;
    assert!(ok, "{actions:?}");
    let refreshes: Vec<_> = actions
        .iter()
        .filter(|a| a.name() == "VoicemailRefresh")
        .map(fields)
        .collect();
    let expected = pairs(&[
        ("Action", "VoicemailRefresh"),
        ("Context", "default"),
        ("Mailbox", "1234"),
    ]);
    assert_eq!(refreshes, vec![expected.clone(); 3]);

    let (ok, actions) = wait_actions(&mwi_peer, "MWIUpdate", 3).await;
    assert!(ok, "{actions:?}");
    let updates: Vec<_> = actions
        .iter()
        .filter(|a| a.name() == "MWIUpdate")
        .map(|a| {
            (
                a.get("Mailbox").unwrap().to_owned(),
                a.get("NewMessages").unwrap().to_owned(),
                a.get("OldMessages").unwrap().to_owned(),
            )
        })
        .collect();
    let t = |n: &str, o: &str| ("1234@default".to_owned(), n.to_owned(), o.to_owned());
    assert_eq!(updates, [t("0", "0"), t("1", "0"), t("0", "1")]);
    // One login per link, with the configured user.
    let logins = mwi_peer.actions_named("Login");
    assert_eq!(logins.len(), 1);
    assert_eq!(logins[0].get("Username"), Some("imapvm"));
    assert_eq!(logins[0].get("Events"), Some("off"));

    let (ok, requests) =
        tokio::task::block_in_place(|| receiver.wait_for(WITHIN, |r| r.len() >= 3));
    assert!(ok, "{requests:?}");
    let bodies: Vec<serde_json::Value> = requests
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    let news: Vec<(u64, u64)> = bodies
        .iter()
        .map(|b| (b["new"].as_u64().unwrap(), b["old"].as_u64().unwrap()))
        .collect();
    // One request per box at a time, in order (the first may be superseded if still
    // queued; it is not here since each change waited for the watcher).
    assert_eq!(news.last(), Some(&(0, 1)), "{news:?}");
    assert!(news.windows(2).all(|w| w[0] != w[1]), "{news:?}");
    assert_eq!(bodies[0]["mailbox"], "1234");
    assert_eq!(bodies[0]["context"], "default");
    assert_eq!(requests[0].request_line, "POST /mwi HTTP/1.1");
    assert_eq!(requests[0].header("Content-Type"), Some("application/json"));

    // Every answer counted and timed from the change the watcher saw: 3 changes, 2 links.
    let ok_line = "imapvm_mwi_events_total{output=\"ami\",result=\"ok\"} 6\n";
    let deadline = tokio::time::Instant::now() + WITHIN;
    let mut text = metrics.encode(Format::Prometheus);
    while !text.contains(ok_line) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        text = metrics.encode(Format::Prometheus);
    }
    assert!(text.contains(ok_line), "{text}");
    assert!(
        text.contains("imapvm_mwi_latency_seconds_count 6\n"),
        "{text}"
    );

    w.stop().await;
    refresh.stop().await;
    mwi.stop().await;
    hook.stop().await;
    store.close().await;
    // A clean stop logs off.
    let (ok, _) = wait_actions(&mwi_peer, "Logoff", 1).await;
    assert!(ok);
}

/// Asterisk restarts mid-request: the action without a response is sent again on the new
/// connection, after a back-off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_action_is_resent_after_reconnecting() {
    let peer = AmiPeer::start(AmiPeerConfig {
        drop_first: 1,
        ..AmiPeerConfig::default()
    })
    .unwrap();
    let mut ami = AmiNotifier::start(&target(&peer, AmiMode::Refresh, "s3cret"), quick()).unwrap();
    ami.notify(&event("1234", 1, 0, 0));
    let (ok, actions) = wait_actions(&peer, "VoicemailRefresh", 2).await;
    assert!(ok, "{actions:?}");
    let refreshes: Vec<_> = actions
        .iter()
        .filter(|a| a.name() == "VoicemailRefresh")
        .collect();
    assert_eq!(refreshes.len(), 2);
    assert_eq!(
        (refreshes[0].connection, refreshes[1].connection),
        (0, 1),
        "the second went out on a new connection"
    );
    assert_eq!(fields(refreshes[0]), fields(refreshes[1]));
    let mut seen = Vec::new();
    loop {
        let r = report(&mut ami).await;
        let answered = matches!(&r, AmiReport::Answered { success: true, .. });
        seen.push(r);
        if answered {
            break;
        }
    }
    assert!(
        matches!(
            seen.as_slice(),
            [
                AmiReport::LoggedIn { .. },
                AmiReport::Down { .. },
                AmiReport::LoggedIn { .. },
                AmiReport::Answered { mailbox, action: "VoicemailRefresh", .. }
            ] if mailbox == "1234@default"
        ),
        "{seen:?}"
    );
    ami.stop().await;
}

/// A refused login is reported once, retried with back-off, and the secret shows nowhere
/// but on the wire.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_login_is_reported_and_retried_without_leaking_the_secret() {
    let peer = AmiPeer::start(AmiPeerConfig::default()).unwrap();
    let t = target(&peer, AmiMode::Refresh, "wrong-s3cret-xyz");
    assert!(!format!("{t:?} {t}").contains("wrong-s3cret-xyz"));
    let mut ami = AmiNotifier::start(&t, quick()).unwrap();
    assert!(!format!("{ami:?}").contains("wrong-s3cret-xyz"));
    let down = report(&mut ami).await;
    match &down {
        AmiReport::Down { error, .. } => {
            assert!(error.contains("Authentication failed"), "{error}");
            assert!(!error.contains("wrong-s3cret-xyz"), "{error}");
        }
        other => panic!("{other:?}"),
    }
    let (ok, logins) = wait_actions(&peer, "Login", 3).await;
    assert!(ok, "retried: {logins:?}");
    assert_eq!(logins[0].get("Secret"), Some("wrong-s3cret-xyz"));
    // Down once per outage, not once per attempt.
    assert!(ami.try_report().is_none());
    ami.stop().await;
}

/// Without res_mwi_external_ami Asterisk answers `Response: Error`: reported, not resent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_action_is_reported_not_resent() {
    let peer = AmiPeer::start(AmiPeerConfig {
        known_actions: vec!["VoicemailRefresh".into()],
        ..AmiPeerConfig::default()
    })
    .unwrap();
    let metrics = Metrics::new();
    let options = AmiOptions {
        metrics: metrics.clone(),
        ..quick()
    };
    let mut ami = AmiNotifier::start(&target(&peer, AmiMode::Mwi, "s3cret"), options).unwrap();
    ami.notify(&event("1234", 2, 1, 3));
    let answer = loop {
        match report(&mut ami).await {
            AmiReport::LoggedIn { .. } => {}
            other => break other,
        }
    };
    match answer {
        AmiReport::Answered {
            success: false,
            message: Some(m),
            action: "MWIUpdate",
            ..
        } => assert!(m.contains("Invalid/unknown command"), "{m}"),
        other => panic!("{other:?}"),
    }
    let updates = peer.actions_named("MWIUpdate");
    assert_eq!(updates.len(), 1);
    // New = new + urgent, as app_voicemail publishes MWI.
    assert_eq!(updates[0].get("NewMessages"), Some("3"));
    assert_eq!(updates[0].get("OldMessages"), Some("3"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(peer.actions_named("MWIUpdate").len(), 1);
    let text = metrics.encode(Format::Prometheus);
    assert!(
        text.contains("imapvm_mwi_events_total{output=\"ami\",result=\"refused\"} 1\n"),
        "{text}"
    );
    ami.stop().await;
}

/// While Asterisk is unreachable, changes are kept per box, latest wins; all go out once it
/// is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_while_down_are_coalesced_per_box() {
    // A port with nothing listening, then a peer on it.
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = probe.local_addr().unwrap();
    drop(probe);
    let t = AmiTarget {
        host: "127.0.0.1".into(),
        port: addr.port(),
        username: "imapvm".into(),
        secret: Secret::new("s3cret"),
        mode: AmiMode::Mwi,
        transport: AmiTransport::Tcp,
    };
    let mut ami = AmiNotifier::start(
        &t,
        AmiOptions {
            backoff_first: Duration::from_millis(300),
            backoff_max: Duration::from_millis(300),
            ..AmiOptions::default()
        },
    )
    .unwrap();
    assert!(matches!(report(&mut ami).await, AmiReport::Down { .. }));
    ami.notify(&event("1234", 1, 0, 0));
    ami.notify(&event("1234", 2, 0, 0));
    ami.notify(&event("4321", 5, 0, 1));
    ami.notify(&event("1234", 3, 0, 0));
    let peer = match xtask::pbx::AmiPeer::start_on(addr, AmiPeerConfig::default()) {
        Ok(p) => p,
        Err(e) => panic!("could not listen on {addr} again: {e}"),
    };
    let (ok, _) = wait_actions(&peer, "MWIUpdate", 2).await;
    assert!(ok);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut got: Vec<(String, String)> = peer
        .actions_named("MWIUpdate")
        .iter()
        .map(|a| {
            (
                a.get("Mailbox").unwrap().to_owned(),
                a.get("NewMessages").unwrap().to_owned(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("1234@default".to_owned(), "3".to_owned()),
            ("4321@default".to_owned(), "5".to_owned())
        ]
    );
    ami.stop().await;
}

/// A PBX that stops answering (no `Pong`) is detected by the keepalive and reconnected;
/// a PBX restart (connection closed) likewise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keepalive_detects_a_hung_pbx_and_a_restart_reconnects() {
    let hung = AmiPeer::start(AmiPeerConfig {
        ignore_ping: true,
        ..AmiPeerConfig::default()
    })
    .unwrap();
    let mut options = quick();
    options.client.keepalive = Duration::from_millis(200);
    options.client.response_timeout = Duration::from_millis(300);
    let mut ami = AmiNotifier::start(&target(&hung, AmiMode::Refresh, "s3cret"), options).unwrap();
    assert!(matches!(report(&mut ami).await, AmiReport::LoggedIn { .. }));
    match report(&mut ami).await {
        AmiReport::Down { error, .. } => assert!(error.contains("Ping"), "{error}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(report(&mut ami).await, AmiReport::LoggedIn { .. }));
    assert!(hung.connections() >= 2);
    assert!(!hung.actions_named("Ping").is_empty());
    ami.stop().await;

    let peer = AmiPeer::start(AmiPeerConfig::default()).unwrap();
    let mut ami = AmiNotifier::start(&target(&peer, AmiMode::Refresh, "s3cret"), quick()).unwrap();
    assert!(matches!(report(&mut ami).await, AmiReport::LoggedIn { .. }));
    peer.kick();
    assert!(matches!(report(&mut ami).await, AmiReport::Down { .. }));
    assert!(matches!(report(&mut ami).await, AmiReport::LoggedIn { .. }));
    ami.notify(&event("1234", 1, 0, 0));
    let (ok, actions) = wait_actions(&peer, "VoicemailRefresh", 1).await;
    assert!(ok, "{actions:?}");
    assert_eq!(
        actions
            .iter()
            .rev()
            .find(|a| a.name() == "VoicemailRefresh")
            .unwrap()
            .connection,
        1
    );
    ami.stop().await;
}

fn hook_to(receiver: &WebhookReceiver, options: WebhookOptions) -> WebhookNotifier {
    WebhookNotifier::start(&receiver.url("/hook").parse().unwrap(), options).unwrap()
}

fn fast_hooks() -> WebhookOptions {
    WebhookOptions {
        timeout: Duration::from_millis(500),
        retries: 3,
        inflight: 4,
        backoff_first: Duration::from_millis(50),
        backoff_max: Duration::from_millis(200),
        report_queue: 64,
        ..WebhookOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_posts_the_event_json() {
    let receiver = WebhookReceiver::start(WebhookReceiverConfig::default()).unwrap();
    let mut hook = hook_to(&receiver, fast_hooks());
    let e = event("1234", 2, 1, 4);
    hook.notify(&e);
    assert!(
        matches!(hook_report(&mut hook).await, WebhookReport::Delivered { status: 200, attempts: 1, ref mailbox, .. } if mailbox == "1234@default")
    );
    let r = &receiver.requests()[0];
    assert_eq!(r.request_line, "POST /hook HTTP/1.1");
    assert_eq!(
        r.header("Host"),
        Some(receiver.url("").trim_start_matches("http://"))
    );
    assert_eq!(r.header("Connection"), Some("close"));
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"mailbox": "1234", "context": "default", "new": 2, "old": 4,
            "urgent": 1, "at": imapvm_watch::watch::rfc3339(e.at)})
    );
    hook.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_retries_server_errors_and_timeouts() {
    let receiver = WebhookReceiver::start(WebhookReceiverConfig {
        statuses: vec![0, 503, 500],
        hang_first: 1,
        ..WebhookReceiverConfig::default()
    })
    .unwrap();
    let mut hook = hook_to(&receiver, fast_hooks());
    hook.notify(&event("1234", 1, 0, 0));
    match hook_report(&mut hook).await {
        WebhookReport::Delivered {
            status: 200,
            attempts: 4,
            ..
        } => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(receiver.requests().len(), 4);
    hook.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_gives_up_after_retries_and_does_not_retry_4xx() {
    let receiver = WebhookReceiver::start(WebhookReceiverConfig {
        statuses: vec![503; 10],
        ..WebhookReceiverConfig::default()
    })
    .unwrap();
    let mut hook = hook_to(
        &receiver,
        WebhookOptions {
            retries: 2,
            ..fast_hooks()
        },
    );
    hook.notify(&event("1234", 1, 0, 0));
    match hook_report(&mut hook).await {
        WebhookReport::Failed {
            attempts: 3, error, ..
        } => assert!(error.to_string().contains("503"), "{error}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(receiver.requests().len(), 3);
    hook.stop().await;

    let receiver = WebhookReceiver::start(WebhookReceiverConfig {
        statuses: vec![404],
        ..WebhookReceiverConfig::default()
    })
    .unwrap();
    let mut hook = hook_to(&receiver, fast_hooks());
    hook.notify(&event("1234", 1, 0, 0));
    match hook_report(&mut hook).await {
        WebhookReport::Failed {
            attempts: 1, error, ..
        } => assert!(error.to_string().contains("404"), "{error}"),
        other => panic!("{other:?}"),
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.requests().len(), 1);
    hook.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_requests_in_flight_are_bounded() {
    let receiver = WebhookReceiver::start(WebhookReceiverConfig {
        delay: Duration::from_millis(250),
        ..WebhookReceiverConfig::default()
    })
    .unwrap();
    let mut hook = hook_to(
        &receiver,
        WebhookOptions {
            inflight: 2,
            timeout: Duration::from_secs(5),
            ..fast_hooks()
        },
    );
    for i in 0..8 {
        hook.notify(&event(&format!("10{i}"), 1, 0, 0));
    }
    for _ in 0..8 {
        assert!(matches!(
            hook_report(&mut hook).await,
            WebhookReport::Delivered { .. }
        ));
    }
    assert_eq!(receiver.requests().len(), 8);
    assert_eq!(
        receiver.max_concurrent(),
        2,
        "parallel, but never more than 2"
    );
    hook.stop().await;
}

/// One request per box at a time: a receiver never sees a box's counts go back in time,
/// and the latest state always arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_keeps_each_box_in_order_and_latest_wins() {
    let receiver = WebhookReceiver::start(WebhookReceiverConfig {
        delay: Duration::from_millis(150),
        ..WebhookReceiverConfig::default()
    })
    .unwrap();
    let mut hook = hook_to(&receiver, fast_hooks());
    for new in 1..=6 {
        hook.notify(&event("1234", new, 0, 0));
    }
    let (ok, requests) = tokio::task::block_in_place(|| {
        receiver.wait_for(WITHIN, |r| {
            r.last().is_some_and(|r| {
                serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["new"] == 6
            })
        })
    });
    assert!(ok, "{requests:?}");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let news: Vec<u64> = receiver
        .requests()
        .iter()
        .map(|r| {
            serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["new"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert!(news.windows(2).all(|w| w[0] < w[1]), "{news:?}");
    assert_eq!(news.last(), Some(&6));
    assert!(
        news.len() < 6,
        "intermediate states were superseded: {news:?}"
    );
    assert_eq!(receiver.max_concurrent(), 1);
    let _ = hook.try_report();
    hook.stop().await;
}

/// `--shard K/N` over a real voicemail.conf: every box is watched by exactly one of the N
/// processes, for N = 1..5.
#[test]
fn shards_cover_every_mailbox_exactly_once() {
    let mut text = String::from("[general]\nimapserver=localhost\n");
    for context in ["default", "sales", "Support", "imapvm"] {
        text.push_str(&format!("[{context}]\n"));
        for i in 0..40 {
            text.push_str(&format!("{}{i:02} => 1,N,,,imapuser=u{i}\n", 1000 + i * 7));
        }
    }
    let config = imapvm_config::parse_bytes("voicemail.conf", text.as_bytes()).config;
    assert_eq!(config.mailboxes.len(), 160);
    for n in 1..=5u32 {
        let mut owners = vec![0usize; config.mailboxes.len()];
        let mut sizes = Vec::new();
        for k in 1..=n {
            let shard = Shard::new(k, n).unwrap();
            let mut size = 0;
            for (i, m) in config.mailboxes.iter().enumerate() {
                if shard.owns(m.id.mailbox(), m.id.context()) {
                    owners[i] += 1;
                    size += 1;
                }
            }
            sizes.push(size);
        }
        assert!(owners.iter().all(|&c| c == 1), "N={n}: {owners:?}");
        // Roughly even: no shard holds more than twice its share.
        let share = config.mailboxes.len() / n as usize;
        assert!(sizes.iter().all(|&s| s <= 2 * share), "N={n}: {sizes:?}");
    }
}

/// Values the outputs once repaired without a word (a zero queue or concurrency became 1, a
/// back-off maximum below its first step was raised) are refused, naming the option.
#[test]
fn output_options_out_of_bounds_are_refused_naming_the_option() {
    use imapvm::ConfigError;
    let field = |e: ConfigError| match e {
        ConfigError::OutOfBounds { field, .. } => field,
        other => panic!("{other:?}"),
    };
    assert!(AmiOptions::default().check().is_ok());
    let ami = |o: AmiOptions| field(o.check().unwrap_err());
    assert_eq!(
        ami(AmiOptions {
            report_queue: 0,
            ..quick()
        }),
        "report_queue"
    );
    assert_eq!(
        ami(AmiOptions {
            backoff_max: Duration::from_millis(50),
            ..quick()
        }),
        "backoff_max"
    );
    assert_eq!(
        ami(AmiOptions {
            connect_timeout: Duration::ZERO,
            ..quick()
        }),
        "connect_timeout"
    );
    assert!(WebhookOptions::default().check().is_ok());
    let hook = |o: WebhookOptions| field(o.check().unwrap_err());
    assert_eq!(
        hook(WebhookOptions {
            inflight: 0,
            ..WebhookOptions::default()
        }),
        "webhook_inflight"
    );
    assert_eq!(
        hook(WebhookOptions {
            timeout: Duration::ZERO,
            ..WebhookOptions::default()
        }),
        "webhook_timeout"
    );
    assert_eq!(
        hook(WebhookOptions {
            report_queue: 0,
            ..WebhookOptions::default()
        }),
        "report_queue"
    );
}
