//! `/metrics` and `/healthz` of a watcher on the private Dovecot (through a proxy that can
//! cut it off), scraped by Python's urllib: the build info, the box and the connection are
//! counted; a mail client's deposit moves the webhook's counter and the latency histogram;
//! an outage past the retry budget turns `/healthz` to 503 naming the account (and no
//! password), and the reconnection turns it back to 200.

use std::net::SocketAddr;
use std::time::Duration;

use imapvm_testkit::proxy::Proxy;
use imapvm_watch::{
    Exporter, Metrics, WatchEvent, WatchOptions, Watcher, WebhookNotifier, WebhookOptions,
};
use xtask::pbx::{WebhookReceiver, WebhookReceiverConfig};
use xtask::scrape::{self, Answer};

use crate::watch::store_on;
use crate::{fixture, pw, py, q, server};

async fn get(addr: SocketAddr, path: &'static str) -> Answer {
    tokio::task::spawn_blocking(move || scrape::get(addr, path, None).unwrap())
        .await
        .unwrap()
}

/// Scrapes `path` until `ok` holds (within `within`); the last answer.
async fn until(
    addr: SocketAddr,
    path: &'static str,
    within: Duration,
    ok: impl Fn(&Answer) -> bool,
) -> Answer {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let answer = get(addr, path).await;
        if ok(&answer) {
            return answer;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path} within {within:?}: {answer:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The watcher's next event; a change goes to the webhook too (and is counted).
async fn next(w: &mut Watcher, hook: &WebhookNotifier, published: &mut usize) -> WatchEvent {
    let e = tokio::time::timeout(Duration::from_secs(20), w.next())
        .await
        .expect("a watch event in time")
        .expect("the watcher runs");
    if let WatchEvent::Mwi(m) = &e {
        hook.notify(m);
        *published += 1;
    }
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrape_counts_the_watch_and_healthz_names_an_account_past_its_retry_budget() {
    let s = server();
    let proxy = Proxy::to(&s.host, s.port).start().await.unwrap();
    let (store, folder) = store_on("metrics", "127.0.0.1", proxy.port(), "");
    let account = format!("vm1234@127.0.0.1:{}", proxy.port());
    let metrics = Metrics::new();
    let exporter = Exporter::start("127.0.0.1:0".parse().unwrap(), metrics.clone())
        .await
        .unwrap();
    let addr = exporter.local_addr();
    let receiver = WebhookReceiver::start(WebhookReceiverConfig::default()).unwrap();
    let hook = WebhookNotifier::start(
        &receiver.url("/mwi").parse().unwrap(),
        WebhookOptions {
            clock: store.clock().clone(),
            metrics: metrics.clone(),
            ..WebhookOptions::default()
        },
    )
    .unwrap();
    // Back-off 50 ms doubling to 200 ms: the budget is spent at the 4th failed attempt.
    let mut w = Watcher::start(
        &store,
        WatchOptions {
            mailboxes: Some(vec!["1234@default".parse().unwrap()]),
            backoff_first: Duration::from_millis(50),
            backoff_max: Duration::from_millis(200),
            metrics: metrics.clone(),
            ..WatchOptions::default()
        },
    )
    .unwrap();
    let mut published = 0;
    while !matches!(
        next(&mut w, &hook, &mut published).await,
        WatchEvent::Watching { .. }
    ) {}

    let health = get(addr, "/healthz").await;
    assert_eq!(health.status, 200, "{health:?}");
    assert_eq!(
        health.body,
        "ok\naccounts: 1 connected, 0 connecting, 0 down\n".to_owned()
    );
    let m = until(addr, "/metrics", Duration::from_secs(10), |a| {
        a.sample(r#"imapvm_mwi_events_total{output="webhook",result="ok"}"#) == Some(1.0)
    })
    .await;
    assert_eq!(m.status, 200);
    assert!(
        m.content_type.starts_with("text/plain; version=0.0.4"),
        "{m:?}"
    );
    let version = format!(
        r#"imapvm_build_info{{version="{}"}}"#,
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(m.sample(&version), Some(1.0), "{}", m.body);
    assert_eq!(m.sample("imapvm_mailboxes_watched"), Some(1.0));
    assert_eq!(
        m.sample(r#"imapvm_imap_connections{state="connected"}"#),
        Some(1.0)
    );
    assert_eq!(m.sample("imapvm_imap_reconnects_total"), Some(0.0));
    assert_eq!(m.sample("imapvm_mwi_latency_seconds_count"), Some(1.0));

    // A mail client deposits: one more change, delivered and timed.
    py(&format!(
        "m = connect('vm1234')\nm.create('\"%s\"' % {f})\n\
         check(m.append('\"%s\"' % {f}, None, None, open({path}, 'rb').read()), 'append')\n",
        f = q(&folder),
        path = q(&fixture("01-basic.eml")),
    ));
    loop {
        if let WatchEvent::Mwi(e) = next(&mut w, &hook, &mut published).await {
            assert_eq!(e.counts.new, 1, "{e:?}");
            break;
        }
    }
    let m = until(addr, "/metrics", Duration::from_secs(10), |a| {
        a.sample(r#"imapvm_mwi_events_total{output="webhook",result="ok"}"#) == Some(2.0)
    })
    .await;
    assert_eq!(published, 2);
    assert_eq!(m.sample("imapvm_mwi_latency_seconds_count"), Some(2.0));
    let sum = m.sample("imapvm_mwi_latency_seconds_sum").unwrap();
    assert!(sum > 0.0 && sum < 20.0, "{sum}");
    assert_eq!(
        m.sample(r#"imapvm_mwi_latency_seconds_bucket{le="+Inf"}"#),
        Some(2.0)
    );
    // The same scrape in OpenMetrics for a scraper that asks for it.
    let open = tokio::task::spawn_blocking(move || {
        scrape::get(
            addr,
            "/metrics",
            Some("application/openmetrics-text; version=1.0.0"),
        )
        .unwrap()
    })
    .await
    .unwrap();
    assert!(
        open.content_type
            .starts_with("application/openmetrics-text"),
        "{open:?}"
    );
    assert!(open.body.ends_with("# EOF\n"), "{}", open.body);

    // The server is cut off: 503 once the budget is spent, naming the account.
    proxy.set_refuse(true);
    proxy.cut_all();
    assert!(matches!(
        next(&mut w, &hook, &mut published).await,
        WatchEvent::Error(_)
    ));
    let down = until(addr, "/healthz", Duration::from_secs(10), |a| {
        a.status == 503
    })
    .await;
    assert!(
        down.body.starts_with("unhealthy\naccounts: 0 connected, ")
            && down.body.contains(&format!("\n{account} ")),
        "{}",
        down.body
    );
    assert!(
        down.body.contains("retry budget spent; last error: "),
        "{}",
        down.body
    );
    assert!(!down.body.contains(&pw("vm1234")), "{}", down.body);
    let m = get(addr, "/metrics").await;
    assert_eq!(
        m.sample(r#"imapvm_imap_connections{state="connected"}"#),
        Some(0.0)
    );
    // The cut is the first failure; the budget (50, 100, 200 ms) is spent when three
    // reconnects have failed too. A fourth may already be under way by this scrape.
    assert!(
        m.sample("imapvm_imap_reconnects_total").unwrap() >= 3.0,
        "{}",
        m.body
    );

    // Back: 200 again once it watches.
    proxy.set_refuse(false);
    let up = until(addr, "/healthz", Duration::from_secs(10), |a| {
        a.status == 200
    })
    .await;
    assert_eq!(
        up.body,
        "ok\naccounts: 1 connected, 0 connecting, 0 down\n".to_owned()
    );
    assert_eq!(get(addr, "/").await.status, 404);

    w.stop().await;
    // The watcher is gone: no box, no account.
    let m = get(addr, "/metrics").await;
    assert_eq!(m.sample("imapvm_mailboxes_watched"), Some(0.0));
    assert_eq!(
        get(addr, "/healthz").await.body,
        "ok\naccounts: 0 connected, 0 connecting, 0 down\n"
    );
    hook.stop().await;
    exporter.stop();
    store.close().await;
}
