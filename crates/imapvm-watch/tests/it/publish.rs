//! The publisher (the MWI of `imapvm agi`) on the private Dovecot through a proxy: it
//! recounts once per change (never on hearing its own count), and a recount the outage
//! made fail is retried with the back-off until the server is back, with the account's
//! health in the metrics meanwhile.

use std::time::Duration;

use imapvm::Folder;
use imapvm_testkit::proxy::Proxy;
use imapvm_watch::{Metrics, MwiEvent, Publisher, WatchEvent, WatchOptions};

use crate::watch::store_on;
use crate::{fixture, py, q, server, voicemail};

async fn next(p: &mut Publisher) -> WatchEvent {
    tokio::time::timeout(Duration::from_secs(20), p.next())
        .await
        .expect("a publisher event in time")
        .expect("the publisher runs")
}

async fn next_mwi(p: &mut Publisher) -> MwiEvent {
    match next(p).await {
        WatchEvent::Mwi(e) => e,
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_recount_is_retried_until_the_server_is_back_and_counts_are_not_announced() {
    let s = server();
    let proxy = Proxy::to(&s.host, s.port).start().await.unwrap();
    let (store, folder) = store_on("publish", "127.0.0.1", proxy.port(), "");
    let account = format!("vm1234@127.0.0.1:{}", proxy.port());
    let metrics = Metrics::new();
    let mut feed = store.changes();
    // Back-off 50 ms doubling to 200 ms: the budget is spent at the 4th failed recount.
    let mut p = Publisher::start(
        &store,
        &WatchOptions {
            backoff_first: Duration::from_millis(50),
            backoff_max: Duration::from_millis(200),
            metrics: metrics.clone(),
            ..WatchOptions::default()
        },
    )
    .unwrap();
    let mb = store.mailbox("1234@default").unwrap();
    mb.deposit(&voicemail("5551001", 300)).await.unwrap();
    assert_eq!(next_mwi(&mut p).await.counts.new, 1);
    assert!(feed.try_recv().is_some(), "the deposit is announced");
    // The publisher's own count is not: nothing more is announced, nothing recounted.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(feed.try_recv(), None);
    assert_eq!(
        metrics.health().text(),
        "ok\naccounts: 1 connected, 0 connecting, 0 down\n".to_owned()
    );

    // Cut off: an operation fails (and is announced), so does the recount it causes.
    proxy.set_refuse(true);
    proxy.cut_all();
    assert!(mb.list(Some(Folder::Inbox)).await.is_err());
    match next(&mut p).await {
        WatchEvent::Error(e) => assert_eq!(e.account.to_string(), account),
        other => panic!("{other:?}"),
    }
    // Meanwhile the mail client adds a message (straight to the server).
    py(&format!(
        "m = connect('vm1234')\n\
         check(m.append('\"%s\"' % {f}, None, None, open({path}, 'rb').read()), 'append')\n",
        f = q(&folder),
        path = q(&fixture("01-basic.eml")),
    ));
    // The retries go on; past the budget the account is unhealthy, named.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while metrics.health().is_healthy() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            metrics.health()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let text = metrics.health().text();
    assert!(
        text.starts_with("unhealthy\naccounts: 0 connected, ")
            && text.contains(&format!("\n{account} ")),
        "{text}"
    );

    // Back: the retry recounts without any new operation and publishes what changed; the
    // failed retries sent no more error events.
    proxy.set_refuse(false);
    let e = match next(&mut p).await {
        WatchEvent::Mwi(e) => e,
        other => panic!("one error event per outage, then the count: {other:?}"),
    };
    assert_eq!(e.counts.new, 2, "{e:?}");
    assert!(metrics.health().is_healthy(), "{:?}", metrics.health());
    p.stop();
    store.close().await;
}
