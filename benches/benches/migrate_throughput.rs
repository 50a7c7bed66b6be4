//! `imapvm migrate import` throughput against the private Dovecot, next to its floor.
//!
//! The spool: 1,000 voicemails of 30 s wav49 (`msgNNNN.WAV` + an Asterisk `.txt`) in
//! `4321@bench`'s INBOX. Per iteration:
//!
//! * **imapvm**: `imapvm_migrate::import` into a fresh folder (new store: connect, login,
//!   SELECT/CREATE, the "what is already there" search, then reading the files, building each
//!   message and APPENDing them pipelined, 64 per flight).
//! * **floor**: the same 1,000 message bytes (built once, in memory) APPENDed to a fresh,
//!   selected folder over a raw socket in pipelined LITERAL+ flights of 64: what the server
//!   can take.
//!
//! Both run over plain TCP on loopback (`imapflags=notls`), so TLS cost is not in the ratio.
//! Folders are `bench-migrate-*` in vm4321's account and are deleted after each iteration.
//! The run ends with one line: messages per second of each and the ratio.
#![allow(
    clippy::print_stderr,
    reason = "the bench reports its figures on stderr"
)]

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput};
use imapvm::Store;
use imapvm_benches::fixture::wav49;
use imapvm_benches::scenario::Account;
use imapvm_benches::wire::{Collect, literal_plus};
use imapvm_message::spool_info::{InfoFields, MessageInfo};
use imapvm_migrate::{self as migrate, ImportOptions, Silent};

const MESSAGES: u32 = 1_000;
const SECONDS: u32 = 30;
const FLIGHT: usize = 64;
/// Interleaved (floor, imapvm) pairs measured after criterion's groups.
const PAIRS: usize = 5;
const CONTEXT: &str = "bench";
const MAILBOX: &str = "4321";

fn spool(root: &Path, audio: &[u8]) -> PathBuf {
    let spool = root.join("spool");
    let inbox = spool
        .join("voicemail")
        .join(CONTEXT)
        .join(MAILBOX)
        .join("INBOX");
    if inbox.join(format!("msg{:04}.txt", MESSAGES - 1)).exists() {
        return spool;
    }
    std::fs::create_dir_all(&inbox).expect("spool dir");
    for n in 0..MESSAGES {
        let origtime = 1_795_000_000 + i64::from(n);
        let info = MessageInfo::asterisk(&InfoFields {
            origmailbox: MAILBOX.into(),
            context: "from-internal".into(),
            exten: MAILBOX.into(),
            rdnis: "unknown".into(),
            priority: 2,
            callerchan: format!("PJSIP/trunk-{n:08x}"),
            callerid: MessageInfo::callerid_merge("Bench Caller", &format!("555{n:04}")),
            origtime,
            msg_id: Some(format!("{origtime}-{n:08x}")),
            duration: SECONDS,
            ..InfoFields::default()
        })
        .expect("info");
        std::fs::write(inbox.join(format!("msg{n:04}.txt")), info.render()).expect("txt");
        std::fs::write(inbox.join(format!("msg{n:04}.WAV")), audio).expect("audio");
    }
    spool
}

fn config(dir: &Path, server: &xtask::server::ServerInfo, folder: &str) -> PathBuf {
    let text = format!(
        "[general]\nformat=wav49\nimapserver={host}\nimapport={port}\nimapflags=notls\n\
         imapfolder={folder}\nimapgreetings=no\nmaxmsg=100000\n\n[{CONTEXT}]\n\
         {MAILBOX} => {MAILBOX},Bench,,,imapuser=vm4321|imappassword={pw}\n",
        host = server.host,
        port = server.port,
        pw = server.users.get("vm4321").cloned().unwrap_or_default(),
    );
    let path = dir.join(format!("{folder}.conf"));
    std::fs::write(&path, text).expect("voicemail.conf");
    path
}

fn delete(account: &Account, folder: &str) {
    if let Ok(mut wire) = account.connect() {
        let _ = wire.command(&format!("DELETE {folder}"), Collect::Nothing);
        wire.logout();
    }
}

fn main() {
    let server = match xtask::dovecot::ensure_running() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("migrate_throughput: no private Dovecot ({e}); skipped");
            return;
        }
    };
    let account = Account {
        host: server.host.clone(),
        port: server.port,
        user: "vm4321".into(),
        password: server.users.get("vm4321").cloned().unwrap_or_default(),
    };
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("migrate-throughput");
    std::fs::create_dir_all(&root).expect("bench dir");
    let audio = wav49(SECONDS, 49);
    let spool = spool(&root, &audio);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio");
    let pid = std::process::id();
    let counter = std::sync::atomic::AtomicU32::new(0);
    let fresh = || {
        format!(
            "bench-migrate-{pid}-{}",
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        )
    };

    // The floor's bytes: exactly what import APPENDs, built once.
    let messages: Vec<Vec<u8>> = {
        let store = Store::open(&config(&root, &server, "bench-migrate-bytes")).expect("store");
        let mb = store
            .mailbox(&format!("{MAILBOX}@{CONTEXT}"))
            .expect("mailbox");
        let inbox = spool
            .join("voicemail")
            .join(CONTEXT)
            .join(MAILBOX)
            .join("INBOX");
        (0..MESSAGES)
            .map(|n| {
                let txt = std::fs::read(inbox.join(format!("msg{n:04}.txt"))).expect("txt");
                let info = MessageInfo::parse(&txt).expect("parse").info;
                migrate::message_bytes(&mb, imapvm::Folder::Inbox, n, &info, "WAV", audio.clone())
                    .expect("message bytes")
            })
            .collect()
    };
    let total_bytes: usize = messages.iter().map(Vec::len).sum();
    eprintln!(
        "migrate_throughput: {MESSAGES} messages of {SECONDS} s wav49, {:.1} MiB to APPEND",
        total_bytes as f64 / 1048576.0
    );

    // One run of each contender into a fresh folder (deleted afterwards); returns the time
    // of the APPEND phase (floor) or of the whole import (imapvm: connect, login, plan, read,
    // build, APPEND).
    // A run that hits a server restart (other benches reload the shared Dovecot's
    // configuration, which closes every connection) is discarded and done again.
    let floor_once = || -> Option<Duration> {
        let folder = fresh();
        let mut wire = account.connect().ok()?;
        let setup = wire
            .command(&format!("CREATE {folder}"), Collect::Nothing)
            .and_then(|r| r.ok("CREATE"))
            // APPEND into the selected mailbox, as imapvm does: Dovecot then keeps the
            // mailbox open across APPENDs instead of opening it for each one.
            .and_then(|_| wire.command(&format!("SELECT {folder}"), Collect::Nothing))
            .and_then(|r| r.ok("SELECT"));
        let started = Instant::now();
        let mut ok = setup.is_ok();
        for flight in messages.chunks(FLIGHT) {
            if !ok {
                break;
            }
            let commands: Vec<Vec<u8>> = flight
                .iter()
                .map(|m| literal_plus(&format!("APPEND {folder}"), m))
                .collect();
            ok = wire
                .pipeline(&commands, Collect::Nothing)
                .is_ok_and(|replies| replies.into_iter().all(|r| r.ok("APPEND").is_ok()));
        }
        let took = started.elapsed();
        wire.logout();
        delete(&account, &folder);
        if !ok {
            eprintln!("migrate_throughput: a floor run was interrupted; running it again");
        }
        ok.then_some(took)
    };
    let imapvm_once = || -> Option<Duration> {
        let folder = fresh();
        let conf = config(&root, &server, &folder);
        let started = Instant::now();
        let report = rt.block_on(async {
            let store = Store::open(&conf).expect("store");
            let r = migrate::import(&store, &ImportOptions::new(&spool), &Silent).await;
            store.close().await;
            r
        });
        let took = started.elapsed();
        delete(&account, &folder);
        match report {
            Ok(r) if r.copied == u64::from(MESSAGES) && r.failed.is_empty() => Some(took),
            other => {
                eprintln!(
                    "migrate_throughput: an imapvm run was interrupted ({other:?}); running it again"
                );
                None
            }
        }
    };
    let retry = |f: &dyn Fn() -> Option<Duration>| {
        (0..5)
            .find_map(|_| f())
            .expect("five interrupted runs in a row")
    };
    let floor_run = || retry(&floor_once);
    let imapvm_run = || retry(&imapvm_once);
    let imapvm_times = Mutex::new(Vec::new());
    let floor_times = Mutex::new(Vec::new());
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(1))
        .configure_from_args();
    {
        let mut group = c.benchmark_group("migrate_import_1000x30s_wav49");
        group.sampling_mode(SamplingMode::Flat);
        group.throughput(Throughput::Elements(u64::from(MESSAGES)));
        group.bench_function("floor_raw_pipelined_append", |b| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    let took = floor_run();
                    spent += took;
                    floor_times.lock().expect("times").push(took);
                }
                spent
            });
        });
        group.bench_function("imapvm_migrate_import", |b| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    let took = imapvm_run();
                    spent += took;
                    imapvm_times.lock().expect("times").push(took);
                }
                spent
            });
        });
        group.finish();
    }
    c.final_summary();
    // Interleaved pairs (floor, then imapvm, then floor...): both see the same machine load,
    // which on a shared machine drifts between criterion's two sequential groups.
    let paired_imapvm = Mutex::new(Vec::new());
    let paired_floor = Mutex::new(Vec::new());
    for _ in 0..PAIRS {
        paired_floor.lock().expect("times").push(floor_run());
        paired_imapvm.lock().expect("times").push(imapvm_run());
    }
    let median_rate = |times: &Mutex<Vec<Duration>>| {
        let mut t: Vec<f64> = times
            .lock()
            .expect("times")
            .iter()
            .map(Duration::as_secs_f64)
            .collect();
        t.sort_by(f64::total_cmp);
        t.get(t.len() / 2).map(|m| f64::from(MESSAGES) / m)
    };
    for (what, ours, floor) in [
        ("criterion groups (sequential)", &imapvm_times, &floor_times),
        ("interleaved pairs", &paired_imapvm, &paired_floor),
    ] {
        if let (Some(o), Some(f)) = (median_rate(ours), median_rate(floor)) {
            eprintln!(
                "migrate_throughput [{what}]: imapvm {o:.0} msg/s, floor {f:.0} msg/s, \
                 imapvm/floor = {:.2} (medians of {} and {} runs of {MESSAGES} messages)",
                o / f,
                ours.lock().map(|t| t.len()).unwrap_or(0),
                floor.lock().map(|t| t.len()).unwrap_or(0),
            );
        }
    }
}
