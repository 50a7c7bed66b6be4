//! End-to-end latency of the AMI output (issue 14): from a mail-client change to the AMI
//! action being received by an AMI peer.
//!
//! The mail client is Python's imaplib (one process, one connection) against the private
//! Dovecot: it APPENDs a voicemail of 1234@default (Asterisk's own bytes, corpus
//! `01-basic.eml`) and then marks it `\Seen` with `UID STORE`, alternately, 100 changes by
//! default, 1 s apart (Dovecot delays change notifications by about 0.5 s; closer changes
//! would be coalesced into one recount, which is right for MWI but unmatchable here). Every change leaves unique counts (append k: new 1, old k-1;
//! seen k: new 0, old k), so each one is matched to the `MWIUpdate` (mode `mwi`) carrying
//! its counts: no pairing by order or by time window. The clock is the wall clock of this
//! machine on both sides (Python `time.time()` right after the command's tagged OK;
//! the peer's `SystemTime` when the action's closing empty line was read).
//!
//! Path measured: Dovecot → watcher (NOTIFY/IDLE as chosen) → recount → `MwiEvent` →
//! `AmiNotifier` → TCP → `xtask::pbx::AmiPeer`. Baseline in the same run: the moment the
//! `MwiEvent` reached the bench (the watcher alone), so the AMI hop is reported as the
//! difference and the ratio of the two.
//!
//! `cargo bench -p imapvm-benches --bench ami_latency` (needs the private Dovecot, i.e. root
//! or a running one). `IMAPVM_AMI_SAMPLES` sets the number of changes (even, default 100),
//! `IMAPVM_AMI_SPACING_MS` the pause after each change (default 1000).
//! Results: stdout and `target/bench-ami.json`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use imapvm::Store;
use imapvm_config::{AmiMode, AmiTarget, AmiTransport, Secret};
use imapvm_watch::{AmiNotifier, AmiOptions, AmiReport, WatchEvent, WatchOptions, Watcher};
use serde_json::json;
use xtask::pbx::{AmiPeer, AmiPeerConfig};

type Res<T> = std::result::Result<T, String>;

fn secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    // Nearest rank.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn stats(mut v: Vec<f64>) -> serde_json::Value {
    v.sort_by(|a, b| a.total_cmp(b));
    json!({
        "samples": v.len(),
        "p50_ms": percentile(&v, 50.0),
        "p99_ms": percentile(&v, 99.0),
        "min_ms": v.first().copied().unwrap_or(f64::NAN),
        "max_ms": v.last().copied().unwrap_or(f64::NAN),
    })
}

/// One change as the mail client made it.
struct Change {
    kind: String,
    done: f64,
    new: u32,
    old: u32,
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ami_latency: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Res<()> {
    // `cargo bench` passes `--bench`; a filter that does not name us means "not this one".
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(filter) = args.iter().find(|a| !a.starts_with('-'))
        && !"ami_latency".contains(filter.as_str())
    {
        return Ok(());
    }
    let samples: usize = std::env::var("IMAPVM_AMI_SAMPLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100)
        .max(2)
        & !1;
    // Dovecot delays its change notifications by about 0.5 s (NOTIFY and IDLE alike; see
    // target/bench-mwi.json): changes closer than that are coalesced into one recount.
    let spacing_ms: u64 = std::env::var("IMAPVM_AMI_SPACING_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let server = xtask::dovecot::ensure_running().map_err(|e| format!("Dovecot: {e}"))?;
    let password = server
        .users
        .get("vm1234")
        .cloned()
        .ok_or("no vm1234 user")?;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let folder = format!("ami-bench-{}-{nanos}", std::process::id());
    let dir = xtask::server::target_dir().join("bench-ami").join(&folder);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let conf = dir.join("voicemail.conf");
    std::fs::write(
        &conf,
        format!(
            "[general]\nimapserver={}\nimapport={}\nimapflags=tls\nimapcafile={}\n\
             imapfolder={folder}\nimapopentimeout=10\nimapreadtimeout=10\n\n\
             [default]\n1234 => 1234,Alice Mailbox,,,imapuser=vm1234|imappassword={password}\n",
            server.host,
            server.port,
            server.cert.display()
        ),
    )
    .map_err(|e| e.to_string())?;
    let eml = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/imapvm/tests/fixtures/asterisk/01-basic.eml");
    // The folder exists before the watcher starts.
    xtask::mail_client::run(
        &server,
        &format!("m = connect('vm1234')\nm.create('\"{folder}\"')\nm.logout()\n"),
    )
    .map_err(|e| format!("mail client: {e}"))?;

    let peer = AmiPeer::start(AmiPeerConfig::default()).map_err(|e| e.to_string())?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let store = Store::open(&conf).map_err(|e| e.to_string())?;
    let events: Arc<Mutex<HashMap<(u32, u32), f64>>> = Arc::default();

    let (strategy, changes) = rt.block_on(async {
        let target = AmiTarget {
            host: peer.addr().ip().to_string(),
            port: peer.addr().port(),
            username: "imapvm".into(),
            secret: Secret::new("s3cret"),
            mode: AmiMode::Mwi,
            transport: AmiTransport::Tcp,
        };
        let mut ami = AmiNotifier::start(&target, AmiOptions::default())
            .map_err(|e| format!("AMI options: {e}"))?;
        match tokio::time::timeout(Duration::from_secs(10), ami.next_report()).await {
            Ok(Some(AmiReport::LoggedIn { .. })) => {}
            other => return Err(format!("AMI login: {other:?}")),
        }
        let mut watcher = Watcher::start(
            &store,
            WatchOptions {
                mailboxes: Some(vec!["1234@default".parse().map_err(|e| format!("{e}"))?]),
                ..WatchOptions::default()
            },
        )
        .map_err(|e| e.to_string())?;
        // Wait until watching (the first count is published before `Watching`).
        let strategy = loop {
            match tokio::time::timeout(Duration::from_secs(20), watcher.next()).await {
                Ok(Some(WatchEvent::Watching { strategy, .. })) => break format!("{strategy:?}"),
                Ok(Some(WatchEvent::Mwi(e))) => ami.notify(&e),
                Ok(Some(WatchEvent::Error(e))) => return Err(format!("watch: {}", e.error)),
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return Err("the watcher did not start".into()),
            }
        };
        let seen = Arc::clone(&events);
        let forward = tokio::spawn(async move {
            while let Some(event) = watcher.next().await {
                if let WatchEvent::Mwi(e) = event {
                    let at = secs(SystemTime::now());
                    ami.notify(&e);
                    if let Ok(mut m) = seen.lock() {
                        m.entry((e.counts.new + e.counts.urgent, e.counts.old))
                            .or_insert(at);
                    }
                }
            }
            ami.stop().await;
        });
        let script = format!(
            "import time, re\n\
             m = connect('vm1234')\nF = '\"{folder}\"'\ncheck(m.select(F), 'select')\n\
             raw = open({eml:?}, 'rb').read()\n\
             for k in range(1, {n} + 1):\n\
             \x20   t0 = time.time()\n\
             \x20   typ, data = m.append(F, '', None, raw)\n\
             \x20   t1 = time.time()\n\
             \x20   check((typ, data), 'append')\n\
             \x20   uid = re.search(rb'APPENDUID \\d+ (\\d+)', data[0]).group(1).decode()\n\
             \x20   print('append', t0, t1, 1, k - 1, flush=True)\n\
             \x20   time.sleep({spacing})\n\
             \x20   t0 = time.time()\n\
             \x20   r = m.uid('STORE', uid, '+FLAGS', '(\\\\Seen)')\n\
             \x20   t1 = time.time()\n\
             \x20   check(r, 'store')\n\
             \x20   print('seen', t0, t1, 0, k, flush=True)\n\
             \x20   time.sleep({spacing})\n\
             m.logout()\n",
            n = samples / 2,
            spacing = spacing_ms as f64 / 1000.0,
            eml = eml.display().to_string(),
        );
        let srv = server.clone();
        let out = tokio::task::spawn_blocking(move || xtask::mail_client::run(&srv, &script))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("mail client: {e}"))?;
        let mut changes = Vec::new();
        for line in out.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if let [kind, _sent, done, new, old] = f.as_slice() {
                changes.push(Change {
                    kind: (*kind).to_owned(),
                    done: done.parse().map_err(|_| format!("bad line {line}"))?,
                    new: new.parse().map_err(|_| format!("bad line {line}"))?,
                    old: old.parse().map_err(|_| format!("bad line {line}"))?,
                });
            }
        }
        // Let the last actions arrive.
        let want = changes.len();
        let (_, _) = tokio::task::block_in_place(|| {
            peer.wait_for(Duration::from_secs(10), |a| {
                a.iter().filter(|x| x.name() == "MWIUpdate").count() > want
            })
        });
        forward.abort();
        Ok::<_, String>((strategy, changes))
    })?;
    store_close(&rt, store);

    let actions = peer.actions_named("MWIUpdate");
    let mut arrived: HashMap<(u32, u32), f64> = HashMap::new();
    for a in &actions {
        let new = a.get("NewMessages").and_then(|v| v.parse().ok());
        let old = a.get("OldMessages").and_then(|v| v.parse().ok());
        if let (Some(new), Some(old)) = (new, old) {
            arrived.entry((new, old)).or_insert(secs(a.at));
        }
    }
    let seen = events.lock().map(|m| m.clone()).unwrap_or_default();
    let (mut e2e, mut watcher_only, mut hop) = (Vec::new(), Vec::new(), Vec::new());
    let mut by_kind: HashMap<String, Vec<f64>> = HashMap::new();
    let mut missing = 0;
    for c in &changes {
        let Some(at) = arrived.get(&(c.new, c.old)) else {
            missing += 1;
            continue;
        };
        let ms = (at - c.done) * 1000.0;
        e2e.push(ms);
        by_kind.entry(c.kind.clone()).or_default().push(ms);
        if let Some(ev) = seen.get(&(c.new, c.old)) {
            watcher_only.push((ev - c.done) * 1000.0);
            hop.push((at - ev) * 1000.0);
        }
    }
    let e2e_stats = stats(e2e);
    let watcher_stats = stats(watcher_only);
    let ratio = |k: &str| {
        e2e_stats[k].as_f64().unwrap_or(f64::NAN) / watcher_stats[k].as_f64().unwrap_or(f64::NAN)
    };
    let report = json!({
        "bench": "ami_latency",
        "what": "mail-client change (imaplib tagged OK) -> MWIUpdate received by the AMI peer",
        "server": "private Dovecot (loopback, STARTTLS)",
        "strategy": strategy,
        "changes": changes.len(),
        "spacing_ms": spacing_ms,
        "unmatched": missing,
        "end_to_end": e2e_stats,
        "baseline_watcher_event": watcher_stats,
        "ami_hop": stats(hop),
        "ratio_end_to_end_over_watcher": {"p50": ratio("p50_ms"), "p99": ratio("p99_ms")},
        "by_kind": by_kind.into_iter().map(|(k, v)| (k, stats(v))).collect::<serde_json::Map<_, _>>(),
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
    );
    let path = xtask::server::target_dir().join("bench-ami.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&report).unwrap_or_default(),
    )
    .map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!("ami_latency: wrote {}", path.display());
    let _ = std::fs::remove_dir_all(&dir);
    if missing > 0 {
        return Err(format!(
            "{missing} of {} changes never reached the AMI peer",
            changes.len()
        ));
    }
    Ok(())
}

fn store_close(rt: &tokio::runtime::Runtime, store: Store) {
    rt.block_on(store.close());
}
