//! The phone side (issues 19 and 20), against the private Dovecot on loopback, with a
//! scripted Asterisk (`imapvm_testkit::asterisk`, answering as res_agi does) in the same
//! process:
//!
//! 1. **Deposit latency**: from the moment Asterisk answers `RECORD FILE` (the caller pressed
//!    `#`) to the moment the message is on the IMAP server (the runtime announces the
//!    mailbox on its change feed when the deposit's APPEND and recount are done), p50/p99
//!    over sequential calls; and the IMAP round trips of a whole call.
//! 2. **Calls per second** one process sustains: many short calls, 50 at a time.
//! 3. **Key latency** in VoiceMailMain sessions on a warm connection: from Asterisk's answer
//!    that carries a key to imapvm's next AGI command, p50/p99.
//! 4. **IMAP round trips of login plus intro** on a warm connection, next to c-client's for
//!    the same (counted in the recorded Asterisk trace `vmmain-read-delete-save.trace`).
//!
//! `cargo bench -p imapvm-benches --bench phone` prints the section and writes it to
//! `target/bench-phone.md` (and the figures to `target/bench-phone.json`); `cargo xtask
//! bench` puts the section into `docs/performance.md`.
#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a benchmark binary: a failed set-up stops it loudly; it prints its report"
)]

use std::time::{Duration, Instant};

use imapvm_phone::{Phone, PhoneOptions, PhoneStore, Spool};
use imapvm_testkit::asterisk::{self, Call, RecordEnd, Step};

const DEPOSITS: usize = 200;
const CALLS: usize = 1000;
const CONCURRENCY: usize = 50;
const SESSIONS: usize = 20;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// c-client's round trips for VoiceMailMain's login and intro in the recorded trace: every
/// command line (one round trip each: c-client does not pipeline) up to the first fetch of
/// a message body, and the SASL continuation.
fn cclient_login_intro(trace: &str) -> Option<usize> {
    let mut count = 0;
    for line in trace.lines() {
        let mut parts = line.splitn(3, ' ');
        let (_, dir, rest) = (parts.next()?, parts.next()?, parts.next().unwrap_or(""));
        if dir != "C" {
            continue;
        }
        if rest.contains("BODY[") || rest.contains("BODY.PEEK[HEADER]") {
            return Some(count);
        }
        count += 1;
    }
    None
}

fn conf(dir: &std::path::Path, folder: &str) -> std::path::PathBuf {
    let s = xtask::dovecot::ensure_running().expect("private Dovecot");
    let text = format!(
        "[general]\nimapserver={}\nimapport={}\nimapflags=tls\nimapcafile={}\nimapfolder={folder}\n\
         greetingsfolder={folder}-greetings\nimapgreetings=yes\nformat=wav\nmaxmsg=9999\n\
         imapvm_outbox={}\n[default]\n1234 => 4242,Alice,,,imapuser=vm1234|imappassword={}\n\
         4321 => 4242,Bob,,,imapuser=vm4321|imappassword={}\n",
        s.host,
        s.port,
        s.cert.display(),
        dir.join("outbox").display(),
        s.users["vm1234"],
        s.users["vm4321"],
    );
    let path = dir.join("voicemail.conf");
    std::fs::write(&path, text).unwrap();
    path
}

fn leave() -> Call {
    Call::voicemail(&["1234@default", "s"]).phone([Step::Speak {
        secs: 0.5,
        end: RecordEnd::Key('#'),
    }])
}

fn login_steps() -> Vec<Step> {
    vec![
        Step::During {
            prompt: "vm-password".into(),
            key: '4',
        },
        Step::Key('2'),
        Step::Key('4'),
        Step::Key('2'),
        Step::Key('#'),
    ]
}

struct Figures {
    deposit_p50: f64,
    deposit_p99: f64,
    deposit_max: f64,
    mwi_p50: f64,
    mwi_p99: f64,
    call_round_trips: f64,
    calls_per_sec: f64,
    calls_failed: usize,
    key_p50: f64,
    key_p99: f64,
    key_samples: usize,
    login_intro_round_trips: u64,
    cclient_login_intro: Option<usize>,
}

async fn run() -> Figures {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("imapvm-bench-phone-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("vm")).unwrap();
    let folder = format!("bench-phone-{}", std::process::id());
    let store = imapvm::Store::open(&conf(&dir, &folder)).unwrap();
    let phone_store = PhoneStore::new(
        store.clone(),
        Spool::open(dir.join("spool")).unwrap(),
        dir.join("vm"),
    );
    let phone = Phone::start(
        "127.0.0.1:0".parse().unwrap(),
        phone_store,
        PhoneOptions::default(),
    )
    .await
    .unwrap();
    let addr = phone.local_addr();
    let mailbox = store.mailbox("1234@default").unwrap();

    // MWI as `imapvm agi` publishes it (no watcher): the time each event comes out.
    let mut publisher =
        imapvm_watch::Publisher::start(&store, &imapvm_watch::WatchOptions::default()).unwrap();
    let (mwi_tx, mut mwi) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    tokio::spawn(async move {
        while let Some(e) = publisher.next().await {
            if matches!(e, imapvm_watch::WatchEvent::Mwi(_)) {
                let _ = mwi_tx.send(Instant::now());
            }
        }
    });
    // The change feed, timestamped.
    let mut feed = store.changes();
    let (tx, mut stored) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    tokio::spawn(async move {
        while feed.recv().await.is_some() {
            let _ = tx.send(Instant::now());
        }
    });

    // 1. Deposit latency, one call at a time (after a warm-up).
    for _ in 0..10 {
        asterisk::place(addr, leave()).await;
    }
    while stored.try_recv().is_ok() {}
    tokio::time::sleep(Duration::from_millis(200)).await;
    while mwi.try_recv().is_ok() {}
    let rt_before = mailbox
        .connection_stats()
        .await
        .map_or(0, |s| s.round_trips);
    let mut latencies = Vec::with_capacity(DEPOSITS);
    let mut mwi_latencies = Vec::with_capacity(DEPOSITS);
    for _ in 0..DEPOSITS {
        let out = asterisk::place(addr, leave()).await;
        assert!(out.problems.is_empty(), "{:?}", out.problems);
        let i = out
            .transcript
            .iter()
            .position(|l| l.starts_with("> 200 result=35 (dtmf)"))
            .expect("the recording ended with #");
        let recorded = out.times[i];
        // The deposit's announcement is the first after the recording's end.
        let at = loop {
            let t = tokio::time::timeout(Duration::from_secs(10), stored.recv())
                .await
                .expect("the deposit is announced")
                .unwrap();
            if t >= recorded {
                break t;
            }
        };
        latencies.push(ms(at - recorded));
        let lit = loop {
            let t = tokio::time::timeout(Duration::from_secs(10), mwi.recv())
                .await
                .expect("MWI is published")
                .unwrap();
            if t >= recorded {
                break t;
            }
        };
        mwi_latencies.push(ms(lit - recorded));
        while stored.try_recv().is_ok() {}
        while mwi.try_recv().is_ok() {}
    }
    let rt_after = mailbox
        .connection_stats()
        .await
        .map_or(0, |s| s.round_trips);
    latencies.sort_by(f64::total_cmp);
    mwi_latencies.sort_by(f64::total_cmp);

    // 2. Calls per second, 50 at a time.
    let started = Instant::now();
    let mut failed = 0;
    let mut done = 0;
    let mut running = tokio::task::JoinSet::new();
    let mut next = 0;
    while done < CALLS {
        while next < CALLS && running.len() < CONCURRENCY {
            running.spawn(asterisk::place(addr, leave()));
            next += 1;
        }
        let out = running.join_next().await.unwrap().unwrap();
        if !out.problems.is_empty()
            || out.variables.get("VMSTATUS").map(String::as_str) != Some("SUCCESS")
        {
            failed += 1;
        }
        done += 1;
    }
    let calls_per_sec = CALLS as f64 / started.elapsed().as_secs_f64();

    // 3. Key latency in VoiceMailMain sessions, on a box of its own with 5 messages to step
    // through (box 1234 holds the 1,200 messages the calls above left).
    let session_box = store.mailbox("4321@default").unwrap();
    for i in 0..5 {
        session_box
            .deposit(&imapvm::NewVoicemail {
                recording: Some(imapvm::Audio {
                    format: "wav".into(),
                    bytes: std::fs::read("/usr/share/asterisk/sounds/en/beep.wav")
                        .unwrap_or_else(|_| vec![0; 1000]),
                }),
                caller_id_num: format!("55510{i}"),
                duration_secs: 1,
                ..imapvm::NewVoicemail::default()
            })
            .await
            .unwrap();
    }
    let mut keys = Vec::new();
    for _ in 0..SESSIONS {
        let mut steps = login_steps();
        steps.push(Step::During {
            prompt: "vm-onefor".into(),
            key: '1',
        });
        for _ in 0..4 {
            steps.push(Step::Key('6'));
        }
        steps.push(Step::Key('#'));
        let out = asterisk::place(
            addr,
            Call::voicemail_main(&["4321@default", ""]).phone(steps),
        )
        .await;
        assert!(out.problems.is_empty(), "{:?}", out.problems);
        for (i, line) in out.transcript.iter().enumerate() {
            let carries_key = line.starts_with("> 200 result=")
                && line["> 200 result=".len()..]
                    .split_whitespace()
                    .next()
                    .and_then(|r| r.parse::<u32>().ok())
                    .is_some_and(|c| c == 35 || c == 42 || (48..=57).contains(&c));
            if carries_key
                && out
                    .transcript
                    .get(i + 1)
                    .is_some_and(|n| n.starts_with("< "))
            {
                let d = ms(out.times[i + 1] - out.times[i]);
                if std::env::var_os("PHONE_BENCH_SLOW").is_some() && d > 5.0 {
                    eprintln!(
                        "slow {d:.2} ms: {} | {} | {}",
                        out.transcript[i - 1],
                        out.transcript[i],
                        out.transcript[i + 1]
                    );
                }
                keys.push(d);
            }
        }
    }
    keys.sort_by(f64::total_cmp);

    // 4. Round trips of login + intro on a warm connection: log in, leave at the menu.
    let before = session_box
        .connection_stats()
        .await
        .map_or(0, |s| s.round_trips);
    let mut steps = login_steps();
    steps.push(Step::During {
        prompt: "vm-onefor".into(),
        key: '#',
    });
    let out = asterisk::place(
        addr,
        Call::voicemail_main(&["4321@default", ""]).phone(steps),
    )
    .await;
    assert!(out.problems.is_empty(), "{:?}", out.problems);
    let after = session_box
        .connection_stats()
        .await
        .map_or(0, |s| s.round_trips);
    let trace = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/asterisk-traces/vmmain-read-delete-save.trace"
    ))
    .ok();

    phone.stop();
    store.close().await;
    // This run's folders go (earlier runs' too), so the mailboxes stay small.
    let server = xtask::dovecot::ensure_running().expect("private Dovecot");
    let _ = xtask::mail_client::run(
        &server,
        r#"
for user in ("vm1234", "vm4321"):
    m = connect(user)
    typ, folders = m.list()
    for f in folders or []:
        name = f.decode().rsplit(' "', 1)[-1].rstrip('"') if f else ""
        if name.startswith("bench-phone-"):
            m.delete('"%s"' % name)
"#,
    );
    let _ = std::fs::remove_dir_all(&dir);
    Figures {
        deposit_p50: percentile(&latencies, 0.50),
        deposit_p99: percentile(&latencies, 0.99),
        deposit_max: latencies.last().copied().unwrap_or(f64::NAN),
        mwi_p50: percentile(&mwi_latencies, 0.50),
        mwi_p99: percentile(&mwi_latencies, 0.99),
        call_round_trips: (rt_after - rt_before) as f64 / DEPOSITS as f64,
        calls_per_sec,
        calls_failed: failed,
        key_p50: percentile(&keys, 0.50),
        key_p99: percentile(&keys, 0.99),
        key_samples: keys.len(),
        login_intro_round_trips: after - before,
        cclient_login_intro: trace.as_deref().and_then(cclient_login_intro),
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        // `cargo bench -- --list` (and `cargo test --benches`) ask for the list only.
        println!("phone: bench");
        return;
    }
    let figures = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(run());
    let f = &figures;
    let goal = |ok: bool| if ok { "met" } else { "missed" };
    let md = format!(
        "## The phone side (FastAGI)\n\n\
         `cargo bench -p imapvm-benches --bench phone`: `imapvm agi`'s server with the private Dovecot on \
         loopback, a scripted Asterisk (res_agi's answers) in the same process, 2 cores.\n\n\
         | measure | p50 | p99 | goal |\n|---|---:|---:|---|\n\
         | end of recording → message on the IMAP server ({DEPOSITS} calls, one at a time; max {:.2} ms) | {:.2} ms | {:.2} ms | p99 ≤ 50 ms: {} |\n\
         | end of recording → MWI published (externnotify, AMI, webhooks; no `imapvm watch` running) | {:.2} ms | {:.2} ms | p99 ≤ 1 s: {} |\n\
         | a key → imapvm's next AGI command, VoiceMailMain on a warm connection ({} samples) | {:.3} ms | {:.3} ms | p99 ≤ 5 ms: {} |\n\n\
         | figure | imapvm | Asterisk (c-client) |\n|---|---:|---:|\n\
         | IMAP round trips of a whole VoiceMail() call (admission, deposit, recount) | {:.1} | 84 (Asterisk 22's deposit + recount, the `deposit` table above) |\n\
         | IMAP round trips of VoiceMailMain's login + intro, warm connection | {} (goal ≤ 3: {}) | {} (`vmmain-read-delete-save.trace`) |\n\
         | calls per second, {CALLS} calls, {CONCURRENCY} at a time (failed: {}) | {:.0} | — |\n",
        f.deposit_max,
        f.deposit_p50,
        f.deposit_p99,
        goal(f.deposit_p99 <= 50.0),
        f.mwi_p50,
        f.mwi_p99,
        goal(f.mwi_p99 <= 1000.0),
        f.key_samples,
        f.key_p50,
        f.key_p99,
        goal(f.key_p99 <= 5.0),
        f.call_round_trips,
        f.login_intro_round_trips,
        goal(f.login_intro_round_trips <= 3),
        f.cclient_login_intro
            .map_or_else(|| "not measured".to_owned(), |n| n.to_string()),
        f.calls_failed,
        f.calls_per_sec,
    );
    println!("{md}");
    let target = xtask::server::target_dir();
    let _ = std::fs::write(target.join("bench-phone.md"), &md);
    let json = serde_json::json!({
        "deposit_ms": {"p50": f.deposit_p50, "p99": f.deposit_p99, "max": f.deposit_max},
        "mwi_ms": {"p50": f.mwi_p50, "p99": f.mwi_p99},
        "key_ms": {"p50": f.key_p50, "p99": f.key_p99, "samples": f.key_samples},
        "call_round_trips": f.call_round_trips,
        "login_intro_round_trips": f.login_intro_round_trips,
        "cclient_login_intro_round_trips": f.cclient_login_intro,
        "calls_per_sec": f.calls_per_sec,
        "calls_failed": f.calls_failed,
    });
    let _ = std::fs::write(target.join("bench-phone.json"), json.to_string());
}
