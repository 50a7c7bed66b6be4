//! Multi-recipient deposit (issue 13) against the private Dovecot: `Deliver::deposit_to` next
//! to its baseline, the same recipients deposited one after the other with
//! `Mailbox::deposit` (what the CLI did before), in the same run.
//!
//! Two groups of four recipients:
//!
//! * **one account**: 2001..2004@sales, all on vmshared: `deposit_to` uses one connection,
//!   one admission round per box and one round trip for the four pipelined APPENDs;
//! * **two accounts**: 1234@default + 5001@default on vm1234, 4321@other + 5002@other on
//!   vm4321: the accounts are served concurrently.
//!
//! Every run gets a fresh folder (created and the connections opened before the clock
//! starts; deleted afterwards), so both contenders see the same empty folder. Plain TCP on
//! loopback (`imapflags=notls`). The run ends with one line per group: the median time of
//! each and the ratio baseline/deposit_to, from interleaved pairs.
#![allow(
    clippy::print_stderr,
    reason = "the bench reports its figures on stderr"
)]

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode};
use imapvm::{Audio, NewVoicemail, Store};
use imapvm_benches::scenario::Account;
use imapvm_benches::wire::Collect;
use imapvm_deliver::Deliver;

const PAIRS: usize = 15;

fn config(dir: &Path, server: &xtask::server::ServerInfo, folder: &str) -> PathBuf {
    let pw = |u: &str| server.users.get(u).cloned().unwrap_or_default();
    let text = format!(
        "[general]\nformat=wav\nimapserver={host}\nimapport={port}\nimapflags=notls\n\
         imapfolder={folder}\nimapgreetings=no\nmaxmsg=100000\n\n\
         [sales]\n2001 => 2001,S1,,,imapuser=vmshared|imappassword={ps}\n\
         2002 => 2002,S2,,,imapuser=vmshared|imappassword={ps}\n\
         2003 => 2003,S3,,,imapuser=vmshared|imappassword={ps}\n\
         2004 => 2004,S4,,,imapuser=vmshared|imappassword={ps}\n\
         [default]\n1234 => 1234,A,,,imapuser=vm1234|imappassword={p1}\n\
         5001 => 5001,B,,,imapuser=vm1234|imappassword={p1}\n\
         [other]\n4321 => 4321,C,,,imapuser=vm4321|imappassword={p4}\n\
         5002 => 5002,D,,,imapuser=vm4321|imappassword={p4}\n",
        host = server.host,
        port = server.port,
        ps = pw("vmshared"),
        p1 = pw("vm1234"),
        p4 = pw("vm4321"),
    );
    let path = dir.join(format!("{folder}.conf"));
    std::fs::write(&path, text).expect("voicemail.conf");
    path
}

fn delete(server: &xtask::server::ServerInfo, users: &[&str], folder: &str) {
    for user in users {
        let account = Account {
            host: server.host.clone(),
            port: server.port,
            user: (*user).into(),
            password: server.users.get(*user).cloned().unwrap_or_default(),
        };
        if let Ok(mut wire) = account.connect() {
            let _ = wire.command(&format!("DELETE {folder}"), Collect::Nothing);
            wire.logout();
        }
    }
}

/// 2 s of 8 kHz 16-bit mono PCM in a WAV header.
fn recording() -> Vec<u8> {
    let data: Vec<u8> = (0..32_000u32).map(|i| (i % 251) as u8).collect();
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&8000u32.to_le_bytes());
    out.extend_from_slice(&16000u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&data);
    out
}

#[derive(Clone, Copy)]
enum Contender {
    Sequential,
    DepositTo,
}

fn main() {
    let server = match xtask::dovecot::ensure_running() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("multi_deposit: no private Dovecot ({e}); skipped");
            return;
        }
    };
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("multi-deposit");
    std::fs::create_dir_all(&root).expect("bench dir");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio");
    let vm = NewVoicemail {
        recording: Some(Audio {
            format: "wav".into(),
            bytes: recording(),
        }),
        caller_id_num: "5551000".into(),
        duration_secs: 2,
        ..NewVoicemail::default()
    };
    let pid = std::process::id();
    let counter = std::sync::atomic::AtomicU32::new(0);
    let groups: [(&str, [&str; 4], &[&str]); 2] = [
        (
            "one_account_4_boxes",
            ["2001@sales", "2002@sales", "2003@sales", "2004@sales"],
            &["vmshared"],
        ),
        (
            "two_accounts_4_boxes",
            ["1234@default", "4321@other", "5001@default", "5002@other"],
            &["vm1234", "vm4321"],
        ),
    ];
    // One timed delivery into a fresh folder: the store is opened and every account's
    // connection made (a count per box, which also creates the folder) before the clock.
    let run = |boxes: &[&str; 4], users: &[&str], who: Contender| -> Duration {
        let folder = format!(
            "bench-multi-{pid}-{}",
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let conf = config(&root, &server, &folder);
        let took = rt.block_on(async {
            let store = Store::open(&conf).expect("store");
            let mailboxes: Vec<_> = boxes
                .iter()
                .map(|id| store.mailbox(id).expect("mailbox"))
                .collect();
            for mb in &mailboxes {
                mb.count().await.expect("warm-up count");
            }
            let started = Instant::now();
            match who {
                Contender::Sequential => {
                    for mb in &mailboxes {
                        mb.deposit(&vm).await.expect("deposit");
                    }
                }
                Contender::DepositTo => {
                    let results = store.deposit_to(boxes, &vm).await;
                    assert!(results.iter().all(|r| r.stored().is_some()), "{results:?}");
                }
            }
            let took = started.elapsed();
            store.close().await;
            took
        });
        delete(&server, users, &folder);
        took
    };

    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    for (name, boxes, users) in &groups {
        let mut group = c.benchmark_group(format!("multi_deposit_{name}"));
        group.sampling_mode(SamplingMode::Flat);
        for (label, who) in [
            ("baseline_sequential_deposit", Contender::Sequential),
            ("deposit_to", Contender::DepositTo),
        ] {
            group.bench_function(label, |b| {
                b.iter_custom(|iters| (0..iters).map(|_| run(boxes, users, who)).sum());
            });
        }
        group.finish();
    }
    c.final_summary();

    // Interleaved pairs: both contenders see the same machine load.
    for (name, boxes, users) in &groups {
        let seq = Mutex::new(Vec::new());
        let ours = Mutex::new(Vec::new());
        for _ in 0..PAIRS {
            seq.lock()
                .expect("times")
                .push(run(boxes, users, Contender::Sequential));
            ours.lock()
                .expect("times")
                .push(run(boxes, users, Contender::DepositTo));
        }
        let median = |times: &Mutex<Vec<Duration>>| {
            let mut t: Vec<f64> = times
                .lock()
                .expect("times")
                .iter()
                .map(Duration::as_secs_f64)
                .collect();
            t.sort_by(f64::total_cmp);
            t.get(t.len() / 2).copied().unwrap_or(f64::NAN)
        };
        let (s, o) = (median(&seq), median(&ours));
        eprintln!(
            "multi_deposit [{name}, interleaved pairs]: sequential deposits {:.2} ms, \
             deposit_to {:.2} ms, sequential/deposit_to = {:.2} (medians of {PAIRS} pairs)",
            s * 1000.0,
            o * 1000.0,
            s / o
        );
    }
}
