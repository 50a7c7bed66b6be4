//! `imapvm watch --metrics 127.0.0.1:0` as Prometheus sees it: urllib scrapes `/metrics`
//! while a mail client deposits (the webhook's counter and the latency histogram move, the
//! build info carries the version), and `/healthz` answers 200, then 503 naming the account
//! once the IMAP server (behind a proxy the test cuts) stays unreachable past the retry
//! budget (about a minute with the default back-off), then 200 again. `imapvm agi` with
//! `metrics =` in `[imapvm]`: a call is counted by script and VMSTATUS, its MWI by output.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use imapvm_testkit::proxy::Proxy;
use serde_json::Value;
use xtask::pbx::{WebhookReceiver, WebhookReceiverConfig};
use xtask::scrape::{self, Answer};

use crate::{Running, scratch};

/// `imapvm -c CONF --json ARGS` and the address it serves metrics on (stderr `imapvm CMD:
/// metrics on ADDR`).
fn serve(conf: &std::path::Path, args: &[&str]) -> (Running, SocketAddr) {
    let run = Running::start(conf, args);
    let addr = run.address(": metrics on ");
    (run, addr)
}

/// Scrapes `path` until `ok` holds (within `within`); the last answer.
pub fn until(
    addr: SocketAddr,
    path: &str,
    within: Duration,
    ok: impl Fn(&Answer) -> bool,
) -> Answer {
    let deadline = Instant::now() + within;
    loop {
        let answer = scrape::get(addr, path, None).unwrap();
        if ok(&answer) {
            return answer;
        }
        assert!(
            Instant::now() < deadline,
            "{path} within {within:?}: {answer:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The next `--json` line that is a count (not an error line).
fn next_count(w: &Running) -> Value {
    loop {
        let v = w
            .lines
            .recv_timeout(Duration::from_secs(30))
            .expect("a watch line in time");
        if v.get("error").is_none() {
            return v;
        }
    }
}

#[test]
fn watch_serves_metrics_and_healthz_names_an_unreachable_account() {
    let s = xtask::dovecot::ensure_running().expect("private Dovecot");
    // The proxy runs on a runtime of its own, for the whole test.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let proxy = rt.block_on(Proxy::to(&s.host, s.port).start()).unwrap();
    let receiver = WebhookReceiver::start(WebhookReceiverConfig::default()).unwrap();
    let dir = scratch("watch-metrics");
    let folder = format!("cli-metrics-{}", std::process::id());
    let conf = dir.join("voicemail.conf");
    std::fs::write(
        &conf,
        format!(
            "[general]\nimapserver=127.0.0.1\nimapport={}\nimapflags=tls\nimapcafile={}\n\
             imapfolder={folder}\nimapvm_outbox={}\n\
             [default]\n1234 => 4242,Alice,,,imapuser=vm1234|imappassword={}\n\
             \n[imapvm]\nwebhook = {}\n",
            proxy.port(),
            s.cert.display(),
            dir.join("outbox").display(),
            s.users["vm1234"],
            receiver.url("/mwi"),
        ),
    )
    .unwrap();
    let account = format!("vm1234@127.0.0.1:{}", proxy.port());
    let (w, metrics) = serve(&conf, &["watch", "--metrics", "127.0.0.1:0"]);
    assert_eq!(next_count(&w)["new"], 0);

    let healthy = "ok\naccounts: 1 connected, 0 connecting, 0 down\n".to_owned();
    let ok = until(metrics, "/healthz", Duration::from_secs(30), |a| {
        a.status == 200 && a.body == healthy
    });
    assert!(ok.content_type.starts_with("text/plain"), "{ok:?}");
    let webhook_ok = r#"imapvm_mwi_events_total{output="webhook",result="ok"}"#;
    let m = until(metrics, "/metrics", Duration::from_secs(30), |a| {
        a.sample(webhook_ok) == Some(1.0)
    });
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
    assert_eq!(m.sample("imapvm_mwi_latency_seconds_count"), Some(1.0));
    assert_eq!(
        m.sample(r#"imapvm_outbox_items{state="pending"}"#),
        Some(0.0)
    );

    // A mail client deposits: one more change, posted, acknowledged and timed.
    xtask::mail_client::run(
        &s,
        &format!(
            "m = connect('vm1234')\nm.create('\"{folder}\"')\n\
             raw = open({eml:?}, 'rb').read()\nm.append('\"{folder}\"', None, None, raw)\n",
            eml = format!(
                "{}/../imapvm/tests/fixtures/asterisk/01-basic.eml",
                env!("CARGO_MANIFEST_DIR")
            ),
        ),
    )
    .unwrap();
    assert_eq!(next_count(&w)["new"], 1);
    let m = until(metrics, "/metrics", Duration::from_secs(30), |a| {
        a.sample(webhook_ok) == Some(2.0)
    });
    assert_eq!(m.sample("imapvm_mwi_latency_seconds_count"), Some(2.0));
    let sum = m.sample("imapvm_mwi_latency_seconds_sum").unwrap();
    assert!(sum > 0.0 && sum < 30.0, "{sum}");

    // Unreachable: 503 once the back-off (0.5 s doubling to 30 s) is spent, about a
    // minute later, naming the account and no password.
    proxy.set_refuse(true);
    proxy.cut_all();
    let started = Instant::now();
    let down = until(metrics, "/healthz", Duration::from_secs(120), |a| {
        a.status == 503
    });
    let after = started.elapsed();
    assert!(
        after > Duration::from_secs(50),
        "not before the budget: {after:?}"
    );
    // The 9th attempt comes 30 s after the 8th: the account is down, between attempts.
    assert!(
        down.body.starts_with(&format!(
            "unhealthy\naccounts: 0 connected, 0 connecting, 1 down\n\
             {account} down, 8 failed attempt(s) since "
        )),
        "{}",
        down.body
    );
    assert!(!down.body.contains(&s.users["vm1234"]), "{}", down.body);
    let m = scrape::get(metrics, "/metrics", None).unwrap();
    assert_eq!(
        m.sample(r#"imapvm_imap_connections{state="down"}"#),
        Some(1.0)
    );
    assert_eq!(m.sample("imapvm_imap_reconnects_total"), Some(7.0));

    // Reachable again: 200 within the longest back-off.
    proxy.set_refuse(false);
    until(metrics, "/healthz", Duration::from_secs(60), |a| {
        a.status == 200 && a.body == healthy
    });
    drop(w);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn agi_counts_calls_and_their_mwi() {
    use imapvm_testkit::asterisk::{self, Call, RecordEnd, Step};

    let s = xtask::dovecot::ensure_running().expect("private Dovecot");
    let receiver = WebhookReceiver::start(WebhookReceiverConfig::default()).unwrap();
    let dir = scratch("agi-metrics");
    let folder = format!("cli-agi-metrics-{}", std::process::id());
    let conf = dir.join("voicemail.conf");
    std::fs::write(
        &conf,
        format!(
            "[general]\nimapserver={}\nimapport={}\nimapflags=tls\nimapcafile={}\n\
             imapfolder={folder}\nformat=wav\nimapvm_outbox={}\n\
             [default]\n1234 => 4242,Alice,,,imapuser=vm1234|imappassword={}\n\
             \n[imapvm]\nwebhook = {}\nmetrics = 127.0.0.1:0\n",
            s.host,
            s.port,
            s.cert.display(),
            dir.join("outbox").display(),
            s.users["vm1234"],
            receiver.url("/mwi"),
        ),
    )
    .unwrap();
    let spool = dir.join("spool");
    let vm_spool = dir.join("voicemail");
    std::fs::create_dir_all(&vm_spool).unwrap();
    let (spool_arg, vm_spool_arg) = (spool.display().to_string(), vm_spool.display().to_string());
    let (agi, metrics) = serve(
        &conf,
        &[
            "agi",
            "--listen",
            "127.0.0.1:0",
            "--spool",
            &spool_arg,
            "--vm-spool",
            &vm_spool_arg,
        ],
    );
    let out = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(asterisk::place(
            agi.address("imapvm agi: FastAGI on "),
            Call::voicemail(&["1234@default", "s"]).phone([Step::Speak {
                secs: 1.0,
                end: RecordEnd::Key('#'),
            }]),
        ));
    assert!(out.problems.is_empty(), "{:?}", out.problems);
    let success = r#"imapvm_phone_calls_total{script="voicemail",result="success"}"#;
    let webhook_ok = r#"imapvm_mwi_events_total{output="webhook",result="ok"}"#;
    let m = until(metrics, "/metrics", Duration::from_secs(30), |a| {
        a.sample(success) == Some(1.0) && a.sample(webhook_ok) == Some(1.0)
    });
    let version = format!(
        r#"imapvm_build_info{{version="{}"}}"#,
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(m.sample(&version), Some(1.0), "{}", m.body);
    assert_eq!(m.sample("imapvm_phone_calls_in_progress"), Some(0.0));
    assert_eq!(
        m.sample("imapvm_phone_call_duration_seconds_count"),
        Some(1.0)
    );
    assert_eq!(m.sample("imapvm_mwi_latency_seconds_count"), Some(1.0));
    assert_eq!(
        m.sample(r#"imapvm_outbox_items{state="pending"}"#),
        Some(0.0)
    );
    // The account the call's MWI recount reached is healthy.
    let health = scrape::get(metrics, "/healthz", None).unwrap();
    assert_eq!(
        (health.status, health.body),
        (
            200,
            "ok\naccounts: 1 connected, 0 connecting, 0 down\n".to_owned()
        )
    );
    drop(agi);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_or_busy_metrics_address_is_refused() {
    let out = crate::imapvm(&["watch", "--metrics", "localhost:9464"]);
    assert_eq!(out.status.code(), Some(2), "{}", crate::stderr(&out));
    assert!(
        crate::stderr(&out).contains("--metrics"),
        "{}",
        crate::stderr(&out)
    );
    // A port already taken: an error naming the flag (exit 1), before anything connects.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let dir = scratch("metrics-busy");
    let conf = dir.join("voicemail.conf");
    std::fs::write(
        &conf,
        "[default]\n1234 => 1,A,,,imapuser=vm1234|imappassword=x\n",
    )
    .unwrap();
    let conf = conf.to_string_lossy().into_owned();
    for args in [
        vec!["-c", &conf, "watch", "--metrics", &addr],
        vec![
            "-c",
            &conf,
            "agi",
            "--listen",
            "127.0.0.1:0",
            "--spool",
            dir.to_str().unwrap(),
            "--metrics",
            &addr,
        ],
    ] {
        let out = crate::imapvm(&args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?}: {}",
            crate::stderr(&out)
        );
        assert!(
            crate::stderr(&out).contains(&format!("--metrics {addr}: ")),
            "{}",
            crate::stderr(&out)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
