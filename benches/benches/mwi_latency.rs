//! MWI latency and scale of imapvm's watcher against the private Dovecot (issue 8).
//!
//! An independent raw-socket IMAP client (plain LOGIN on loopback, not imapvm) changes a
//! bulk user's INBOX; the latency of one change is from the moment the client's command
//! completed (tagged OK read) to the moment the watcher's `MwiEvent` for that box reached
//! the bench (the library stream that `imapvm watch` prints). Three kinds of change:
//! `UID STORE +FLAGS/-FLAGS (\Seen)`, APPEND of a voicemail, and delete+expunge
//! (`UID STORE +FLAGS.SILENT (\Deleted)` and `UID EXPUNGE` sent in one write; measured from
//! the EXPUNGE's completion; an event that arrives before it counts as 0). Strategies in the
//! same run: NOTIFY, IDLE, polling at pollfreq=1 and pollfreq=30.
//!
//! Scale: one watcher over N bulk users (one connection each), resident memory and CPU of
//! this process while idle, and the latency p99 under 10 changes per second.
//!
//! `cargo bench -p imapvm-benches --bench mwi_latency` (needs root for the private Dovecot).
//! Environment: `IMAPVM_MWI_SAMPLES` (push/poll=1 samples per kind, default 200),
//! `IMAPVM_MWI_POLL30_SAMPLES` (per kind, default 20), `IMAPVM_MWI_SCALE` (default 1000),
//! `IMAPVM_MWI_SCALE_MAX` (the "how far" attempt, default 10000; 0 skips it),
//! `IMAPVM_MWI_SKIP` (comma list of `push,poll1,poll30,scale,max`).
//! Results: stdout and `target/bench-mwi.json`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use imapvm::{MwiCounts, Store, StrategyChoice, WatchEvent, WatchOptions};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;

type Res<T> = std::result::Result<T, String>;

/// Where a box's events go: (arrival, counts).
type Stamped = mpsc::UnboundedSender<(Instant, MwiCounts)>;

const PREFIX: &str = "vmbulk";

/// A voicemail for box `n@bulk` (the identity headers are what the count filters on).
fn voicemail_bytes(n: usize, seq: u64) -> Vec<u8> {
    format!(
        "Date: Thu, 26 Nov 2026 07:00:00 +0000\r\nFrom: \"Asterisk PBX\" <asterisk@vm.example.test>\r\n\
         To: \"Bulk {n}\" <bulk{n}@vm.example.test>\r\nSubject: New message {seq} in mailbox {n}\r\n\
         Message-ID: <mwi-bench-{n}-{seq}@vm.example.test>\r\nMIME-Version: 1.0\r\n\
         X-Asterisk-VM-Message-Num: 1\r\nX-Asterisk-VM-Server-Name: bench\r\n\
         X-Asterisk-VM-Context: bulk\r\nX-Asterisk-VM-Extension: {n}\r\nX-Asterisk-VM-Priority: 1\r\n\
         X-Asterisk-VM-Caller-ID-Num: 5551000\r\nX-Asterisk-VM-Caller-ID-Name: Bench\r\n\
         X-Asterisk-VM-Duration: 1\r\nX-Asterisk-VM-Category: \r\nX-Asterisk-VM-Message-Type: Message\r\n\
         X-Asterisk-VM-Orig-date: Thursday, November 26, 2026 at 07:00:00 AM\r\n\
         X-Asterisk-VM-Orig-time: 1795676400\r\nContent-Type: text/plain\r\n\r\nbench voicemail\r\n"
    )
    .into_bytes()
}

/// A minimal independent IMAP client: LOGIN, commands, APPEND with LITERAL+.
struct Client {
    r: BufReader<OwnedReadHalf>,
    w: OwnedWriteHalf,
    tag: u32,
}

impl Client {
    async fn connect(host: &str, port: u16, user: &str, password: &str) -> Res<Client> {
        let tcp = TcpStream::connect((host, port))
            .await
            .map_err(|e| format!("client connect: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let (r, w) = tcp.into_split();
        let mut c = Client {
            r: BufReader::new(r),
            w,
            tag: 0,
        };
        let mut greeting = String::new();
        c.r.read_line(&mut greeting)
            .await
            .map_err(|e| format!("greeting: {e}"))?;
        c.cmd(&format!("LOGIN {user} {password}")).await?;
        Ok(c)
    }

    async fn send(&mut self, bytes: &[u8]) -> Res<()> {
        self.w
            .write_all(bytes)
            .await
            .map_err(|e| format!("client write: {e}"))
    }

    fn next_tag(&mut self) -> String {
        self.tag += 1;
        format!("b{}", self.tag)
    }

    /// Reads until the tagged response of `tag`; returns it (OK required).
    async fn until(&mut self, tag: &str) -> Res<String> {
        let mut line = String::new();
        loop {
            line.clear();
            let n = tokio::time::timeout(Duration::from_secs(20), self.r.read_line(&mut line))
                .await
                .map_err(|_| format!("client: no answer to {tag} within 20 s"))?
                .map_err(|e| format!("client read: {e}"))?;
            if n == 0 {
                return Err("client: server closed".into());
            }
            if let Some(rest) = line.strip_prefix(tag).and_then(|r| r.strip_prefix(' ')) {
                if rest.starts_with("OK") {
                    return Ok(rest.trim_end().to_owned());
                }
                return Err(format!("client {tag}: {}", rest.trim_end()));
            }
        }
    }

    async fn cmd(&mut self, line: &str) -> Res<String> {
        let tag = self.next_tag();
        self.send(format!("{tag} {line}\r\n").as_bytes()).await?;
        self.until(&tag).await
    }

    /// APPEND to INBOX; returns the UID (APPENDUID).
    async fn append(&mut self, message: &[u8], flags: &str) -> Res<u32> {
        let tag = self.next_tag();
        let mut out =
            format!("{tag} APPEND INBOX ({flags}) {{{}+}}\r\n", message.len()).into_bytes();
        out.extend_from_slice(message);
        out.extend_from_slice(b"\r\n");
        self.send(&out).await?;
        let ok = self.until(&tag).await?;
        ok.split("APPENDUID ")
            .nth(1)
            .and_then(|s| s.split([' ', ']']).nth(1))
            .and_then(|u| u.parse().ok())
            .ok_or_else(|| format!("no APPENDUID in {ok:?}"))
    }

    /// Delete+expunge of `uid` in one write; returns when the EXPUNGE completed.
    async fn delete_expunge(&mut self, uid: u32) -> Res<()> {
        let t1 = self.next_tag();
        let t2 = self.next_tag();
        self.send(
            format!("{t1} UID STORE {uid} +FLAGS.SILENT (\\Deleted)\r\n{t2} UID EXPUNGE {uid}\r\n")
                .as_bytes(),
        )
        .await?;
        self.until(&t1).await?;
        self.until(&t2).await?;
        Ok(())
    }
}

/// Routes the watcher's MWI events to per-box channels, stamped on arrival.
#[derive(Clone, Default)]
struct Router {
    boxes: Arc<Mutex<HashMap<String, Stamped>>>,
    errors: Arc<Mutex<Vec<String>>>,
    watching: Arc<Mutex<usize>>,
}

impl Router {
    fn register(&self, id: &str) -> mpsc::UnboundedReceiver<(Instant, MwiCounts)> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.boxes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_owned(), tx);
        rx
    }

    fn watching(&self) -> usize {
        *self.watching.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn spawn(&self, mut watcher: imapvm::Watcher) -> tokio::task::JoinHandle<imapvm::Watcher> {
        let router = self.clone();
        tokio::spawn(async move {
            while let Some(e) = watcher.next().await {
                let now = Instant::now();
                match e {
                    WatchEvent::Mwi(m) => {
                        let boxes = router.boxes.lock().unwrap_or_else(|p| p.into_inner());
                        if let Some(tx) = boxes.get(&m.id()) {
                            let _ = tx.send((now, m.counts));
                        }
                    }
                    WatchEvent::Error(e) => router
                        .errors
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(format!("{}: {}", e.account, e.error)),
                    WatchEvent::Watching { .. } => {
                        *router.watching.lock().unwrap_or_else(|p| p.into_inner()) += 1;
                    }
                    _ => {}
                }
            }
            watcher
        })
    }
}

fn counts(new: u32, old: u32) -> MwiCounts {
    MwiCounts {
        new,
        old,
        ..MwiCounts::default()
    }
}

/// Waits for the box's event with `want` counts; returns its arrival time.
async fn expect(
    rx: &mut mpsc::UnboundedReceiver<(Instant, MwiCounts)>,
    want: MwiCounts,
    within: Duration,
) -> Res<Instant> {
    match tokio::time::timeout(within, rx.recv()).await {
        Ok(Some((at, c))) if c == want => Ok(at),
        Ok(Some((_, c))) => Err(format!("unexpected counts {c:?}, wanted {want:?}")),
        Ok(None) => Err("watcher ended".into()),
        Err(_) => Err(format!("no event {want:?} within {within:?}")),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Seen,
    Append,
    Expunge,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Seen => "store_seen",
            Kind::Append => "append",
            Kind::Expunge => "expunge",
        }
    }
}

/// One box under test: its client and its event channel.
struct Subject {
    n: usize,
    client: Client,
    rx: mpsc::UnboundedReceiver<(Instant, MwiCounts)>,
}

/// Empties the user's INBOX and leaves one unseen voicemail in it (for the \Seen toggles).
async fn prepare(host: &str, port: u16, n: usize, user: &str, pw: &str) -> Res<(Client, u32)> {
    let mut c = Client::connect(host, port, user, pw).await?;
    c.cmd("SELECT INBOX").await?;
    c.cmd("UID STORE 1:* +FLAGS.SILENT (\\Deleted)").await?;
    c.cmd("EXPUNGE").await?;
    let uid = c.append(&voicemail_bytes(n, 0), "").await?;
    Ok((c, uid))
}

/// `samples` changes of `kind` on one box, one after the other; latencies in ms.
async fn series(
    s: &mut Subject,
    kind: Kind,
    samples: usize,
    seen_uid: u32,
    within: Duration,
    jitter: Duration,
) -> Res<(Vec<f64>, usize)> {
    // A random pause before each change, so that polling is sampled at every phase.
    let mut rng = Lcg(s.n as u64 * 7919 + kind as u64);
    let mut pause = async || {
        if !jitter.is_zero() {
            tokio::time::sleep(jitter.mul_f64(rng.unit())).await;
        }
    };
    let mut out = Vec::with_capacity(samples);
    let mut early = 0;
    let mut seq = 1_000_000 * (kind as u64 + 1);
    // State: one unseen message (seen_uid) in INBOX.
    let mut seen = false;
    for _ in 0..samples {
        seq += 1;
        match kind {
            Kind::Seen => {
                pause().await;
                let op = if seen { "-FLAGS" } else { "+FLAGS" };
                s.client
                    .cmd(&format!("UID STORE {seen_uid} {op} (\\Seen)"))
                    .await?;
                let t0 = Instant::now();
                seen = !seen;
                let want = if seen { counts(0, 1) } else { counts(1, 0) };
                let at = expect(&mut s.rx, want, within).await?;
                out.push(ms(at, t0, &mut early));
            }
            Kind::Append | Kind::Expunge => {
                pause().await;
                let uid = s.client.append(&voicemail_bytes(s.n, seq), "").await?;
                let t0 = Instant::now();
                let at = expect(&mut s.rx, counts(2, 0), within).await?;
                if kind == Kind::Append {
                    out.push(ms(at, t0, &mut early));
                }
                pause().await;
                s.client.delete_expunge(uid).await?;
                let t0 = Instant::now();
                let at = expect(&mut s.rx, counts(1, 0), within).await?;
                if kind == Kind::Expunge {
                    out.push(ms(at, t0, &mut early));
                }
            }
        }
    }
    if seen {
        s.client
            .cmd(&format!("UID STORE {seen_uid} -FLAGS (\\Seen)"))
            .await?;
        expect(&mut s.rx, counts(1, 0), within).await?;
    }
    Ok((out, early))
}

/// A small deterministic generator for the pauses.
struct Lcg(u64);

impl Lcg {
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn ms(at: Instant, t0: Instant, early: &mut usize) -> f64 {
    match at.checked_duration_since(t0) {
        Some(d) => d.as_secs_f64() * 1000.0,
        None => {
            *early += 1;
            0.0
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn summary(mut v: Vec<f64>, early: usize) -> Value {
    v.sort_by(f64::total_cmp);
    json!({
        "samples": v.len(),
        "p50_ms": round(percentile(&v, 50.0)),
        "p99_ms": round(percentile(&v, 99.0)),
        "max_ms": round(v.last().copied().unwrap_or(f64::NAN)),
        "events_before_completion": early,
    })
}

fn round(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

struct Env {
    host: String,
    port: u16,
    users: Vec<(String, String)>,
    conf: std::path::PathBuf,
}

/// A store over the bulk conf restricted to boxes `1..=count`... (the conf has them all).
fn store(env: &Env) -> Res<Store> {
    Store::open(&env.conf).map_err(|e| e.to_string())
}

/// Starts a watcher of `boxes` and waits until every account is watched.
async fn start(
    env: &Env,
    boxes: &[usize],
    strategy: StrategyChoice,
    router: &Router,
) -> Res<(Store, tokio::task::JoinHandle<imapvm::Watcher>)> {
    let store = store(env)?;
    let w = store
        .watch(WatchOptions {
            mailboxes: Some(boxes.iter().map(|n| format!("{n}@bulk")).collect()),
            strategy,
            ..WatchOptions::default()
        })
        .map_err(|e| e.to_string())?;
    let task = router.spawn(w);
    let deadline = Instant::now() + Duration::from_secs(600);
    while router.watching() < boxes.len() {
        if Instant::now() > deadline {
            return Err(format!(
                "only {} of {} accounts watched",
                router.watching(),
                boxes.len()
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok((store, task))
}

async fn stop(store: Store, task: tokio::task::JoinHandle<imapvm::Watcher>) {
    // Dropping the router's senders is not needed: stopping the watcher ends the task.
    task.abort();
    let _ = task.await;
    store.close().await;
}

/// Latency of each kind under one strategy: `per_box` sequential samples on each of the
/// `boxes` (one box per kind when `per_box` is the whole sample count), kinds in parallel
/// on separate boxes.
/// One latency phase.
struct Phase {
    label: &'static str,
    strategy: StrategyChoice,
    /// Boxes per kind of change (in parallel).
    boxes_per_kind: usize,
    /// Sequential changes on each box.
    per_box: usize,
    /// Longest wait for one event.
    within: Duration,
    /// The first bulk box used.
    first_box: usize,
    /// Random pause before each change, up to this (polling phases).
    jitter: Duration,
}

async fn latency(env: &Env, phase: Phase) -> Res<Value> {
    let Phase {
        label,
        strategy,
        boxes_per_kind,
        per_box,
        within,
        first_box,
        jitter,
    } = phase;
    let kinds = [Kind::Seen, Kind::Append, Kind::Expunge];
    let router = Router::default();
    let mut plan: Vec<(Kind, usize, u32, Client)> = Vec::new();
    for (k, kind) in kinds.iter().enumerate() {
        for b in 0..boxes_per_kind {
            let n = first_box + k * boxes_per_kind + b;
            let (user, pw) = &env.users[n - 1];
            let (client, uid) = prepare(&env.host, env.port, n, user, pw).await?;
            plan.push((*kind, n, uid, client));
        }
    }
    let ids: Vec<usize> = plan.iter().map(|p| p.1).collect();
    let mut subjects = Vec::new();
    for (kind, n, uid, client) in plan {
        let rx = router.register(&format!("{n}@bulk"));
        subjects.push((kind, uid, Subject { n, client, rx }));
    }
    let (store, task) = start(env, &ids, strategy, &router).await?;
    // Initial state: one unseen message per box.
    for (_, _, s) in &mut subjects {
        expect(&mut s.rx, counts(1, 0), Duration::from_secs(60)).await?;
    }
    let started = Instant::now();
    let mut joins = Vec::new();
    for (kind, uid, mut s) in subjects {
        joins.push(tokio::spawn(async move {
            let r = series(&mut s, kind, per_box, uid, within, jitter).await;
            (kind, r)
        }));
    }
    let mut by_kind: HashMap<&'static str, (Vec<f64>, usize)> = HashMap::new();
    for j in joins {
        let (kind, r) = j.await.map_err(|e| e.to_string())?;
        let (v, early) = r.map_err(|e| format!("{label} {}: {e}", kind.name()))?;
        let entry = by_kind.entry(kind.name()).or_default();
        entry.0.extend(v);
        entry.1 += early;
    }
    let elapsed = started.elapsed();
    let errors = router
        .errors
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    stop(store, task).await;
    let mut out = serde_json::Map::new();
    for kind in kinds {
        let (v, early) = by_kind.remove(kind.name()).unwrap_or_default();
        out.insert(kind.name().into(), summary(v, early));
    }
    out.insert("seconds".into(), json!(round(elapsed.as_secs_f64())));
    out.insert("watch_errors".into(), json!(errors));
    println!("{label}: {}", Value::Object(out.clone()));
    Ok(Value::Object(out))
}

fn proc_status(field: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    text.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// utime+stime of this process in clock ticks (100 Hz on Linux).
fn cpu_ticks() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = text.rsplit_once(')')?.1;
    let f: Vec<&str> = after.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// Dovecot's imap and imap-hibernate processes: how many, and their RSS in MiB.
fn dovecot_processes() -> Value {
    let mut imap = (0u64, 0u64);
    let mut hibernate = (0u64, 0u64);
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let p = e.path();
            let Ok(comm) = std::fs::read_to_string(p.join("comm")) else {
                continue;
            };
            let rss = std::fs::read_to_string(p.join("status"))
                .ok()
                .and_then(|t| {
                    t.lines()
                        .find(|l| l.starts_with("VmRSS:"))
                        .and_then(|l| l.split_whitespace().nth(1))
                        .and_then(|v| v.parse::<u64>().ok())
                })
                .unwrap_or(0);
            match comm.trim() {
                "imap" => {
                    imap.0 += 1;
                    imap.1 += rss;
                }
                "imap-hibernate" => {
                    hibernate.0 += 1;
                    hibernate.1 += rss;
                }
                _ => {}
            }
        }
    }
    json!({"imap": imap.0, "imap_rss_mib": imap.1 / 1024, "imap_hibernate": hibernate.0, "imap_hibernate_rss_mib": hibernate.1 / 1024})
}

/// Watches `count` boxes; RSS, idle CPU, and latency under `rate` changes/s for `secs`.
async fn scale(
    env: &Env,
    count: usize,
    strategy: StrategyChoice,
    rate: u32,
    secs: u64,
) -> Res<Value> {
    let router = Router::default();
    let rss_before = proc_status("VmRSS:").unwrap_or(0);
    // Load generator boxes: the last 50 of the range, prepared before the watcher starts.
    let load: Vec<usize> = (count.saturating_sub(49).max(1)..=count).collect();
    let mut clients = Vec::new();
    for &n in &load {
        let (user, pw) = &env.users[n - 1];
        let (client, uid) = prepare(&env.host, env.port, n, user, pw).await?;
        let rx = router.register(&format!("{n}@bulk"));
        clients.push((Subject { n, client, rx }, uid, false));
    }
    let boxes: Vec<usize> = (1..=count).collect();
    let t = Instant::now();
    let (store, task) = start(env, &boxes, strategy, &router).await?;
    let startup = t.elapsed();
    eprintln!("  scale {count} {strategy:?}: watching after {startup:?}");
    for (s, _, _) in &mut clients {
        expect(&mut s.rx, counts(1, 0), Duration::from_secs(60)).await?;
    }
    // Let Dovecot hibernate the idle sessions (imap_hibernate_timeout = 5 s).
    tokio::time::sleep(Duration::from_secs(8)).await;
    let rss_watching = proc_status("VmRSS:").unwrap_or(0);
    let idle_secs = 20;
    let c0 = cpu_ticks().unwrap_or(0);
    tokio::time::sleep(Duration::from_secs(idle_secs)).await;
    let c1 = cpu_ticks().unwrap_or(0);
    let idle_cpu_pct = (c1.saturating_sub(c0)) as f64 / (idle_secs as f64 * 100.0) * 100.0;
    let server = dovecot_processes();
    eprintln!("  scale {count} {strategy:?}: idle measured, load starts");
    // Load: `rate` \Seen toggles per second on the load boxes, round robin.
    let mut lat = Vec::new();
    let mut early = 0;
    let mut pending: Vec<(usize, Instant, MwiCounts)> = Vec::new();
    let total = rate as u64 * secs;
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate));
    let mut tick = tokio::time::interval(interval);
    let mut failed = 0usize;
    for i in 0..total as usize {
        tick.tick().await;
        let k = i % clients.len();
        let (s, uid, seen) = &mut clients[k];
        // Collect whatever arrived for boxes with a pending change.
        let op = if *seen { "-FLAGS" } else { "+FLAGS" };
        s.client
            .cmd(&format!("UID STORE {uid} {op} (\\Seen)"))
            .await?;
        let t0 = Instant::now();
        *seen = !*seen;
        pending.push((k, t0, if *seen { counts(0, 1) } else { counts(1, 0) }));
        pending.retain(|(k, t0, want)| {
            let s = &mut clients[*k].0;
            match s.rx.try_recv() {
                Ok((at, c)) if c == *want => {
                    lat.push(ms(at, *t0, &mut early));
                    false
                }
                Ok(_) => {
                    failed += 1;
                    false
                }
                Err(_) => true,
            }
        });
    }
    for (k, t0, want) in pending {
        match expect(&mut clients[k].0.rx, want, Duration::from_secs(30)).await {
            Ok(at) => lat.push(ms(at, t0, &mut early)),
            Err(_) => failed += 1,
        }
    }
    let errors = router
        .errors
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .len();
    stop(store, task).await;
    let out = json!({
        "mailboxes": count,
        "strategy": format!("{strategy:?}"),
        "startup_s": round(startup.as_secs_f64()),
        "rss_before_mib": rss_before / 1024,
        "rss_watching_mib": rss_watching / 1024,
        "rss_per_mailbox_kib": round((rss_watching.saturating_sub(rss_before)) as f64 / count as f64),
        "idle_cpu_percent_of_one_core": round(idle_cpu_pct * 100.0) / 100.0,
        "idle_seconds": idle_secs,
        "load_changes_per_s": rate,
        "load_latency": summary(lat, early),
        "load_mismatched_or_lost": failed,
        "watch_errors": errors,
        "dovecot": server,
    });
    println!("scale {count} {strategy:?}: {out}");
    Ok(out)
}

/// How far a watcher over `count` boxes gets in `limit`.
async fn how_far(env: &Env, count: usize, limit: Duration) -> Res<Value> {
    let router = Router::default();
    let store = store(env)?;
    let rss_before = proc_status("VmRSS:").unwrap_or(0);
    let w = store
        .watch(WatchOptions {
            mailboxes: Some((1..=count).map(|n| format!("{n}@bulk")).collect()),
            strategy: StrategyChoice::Auto,
            ..WatchOptions::default()
        })
        .map_err(|e| e.to_string())?;
    let task = router.spawn(w);
    let t = Instant::now();
    let mut progress = Vec::new();
    let mut stopped_by = "time limit";
    while router.watching() < count {
        if t.elapsed() >= limit {
            break;
        }
        // Every Dovecot session here is one imap process (~6 MB): stop before the shared
        // machine runs out of memory.
        if mem_available_mib() < MIN_AVAILABLE_MIB {
            stopped_by = "machine memory (MemAvailable below the guard)";
            break;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        progress.push(json!({"s": t.elapsed().as_secs(), "watching": router.watching()}));
        eprintln!(
            "  {count}: {} watching after {:?}",
            router.watching(),
            t.elapsed()
        );
    }
    let watching = router.watching();
    let rss = proc_status("VmRSS:").unwrap_or(0);
    let errors = router
        .errors
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let server = dovecot_processes();
    let mut kinds: HashMap<String, usize> = HashMap::new();
    for e in &errors {
        let key: String = e
            .split_once(": ")
            .map_or(e.as_str(), |x| x.1)
            .chars()
            .take(120)
            .collect();
        *kinds.entry(key).or_default() += 1;
    }
    stop(store, task).await;
    let out = json!({
        "mailboxes": count,
        "watching": watching,
        "stopped_by": if watching >= count { "done" } else { stopped_by },
        "mem_available_mib_at_stop": mem_available_mib(),
        "seconds": round(t.elapsed().as_secs_f64()),
        "rss_mib": rss / 1024,
        "rss_before_mib": rss_before / 1024,
        "errors": errors.len(),
        "error_kinds": kinds,
        "progress": progress,
        "dovecot": server,
    });
    println!("scale-max {count}: {out}");
    Ok(out)
}

/// The memory guard of the "how far" attempt.
const MIN_AVAILABLE_MIB: u64 = 8 * 1024;

fn mem_available_mib() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("MemAvailable:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or(0, |kib| kib / 1024)
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Raises `fs.inotify.max_user_instances` (every Dovecot imap process runs as `vmail` and
/// needs one inotify instance to notice changes at once; past the limit it falls back to
/// polling every `mailbox_idle_check_interval`). Returns (before, after).
fn raise_inotify(want: u64) -> (u64, u64) {
    let path = "/proc/sys/fs/inotify/max_user_instances";
    let before = std::fs::read_to_string(path)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    if before < want {
        let _ = std::fs::write(path, want.to_string());
    }
    let after = std::fs::read_to_string(path)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    (before, after)
}

async fn run() -> Res<Value> {
    let skip = std::env::var("IMAPVM_MWI_SKIP").unwrap_or_default();
    let skip: Vec<&str> = skip.split(',').collect();
    let samples = env_usize("IMAPVM_MWI_SAMPLES", 200);
    let poll30 = env_usize("IMAPVM_MWI_POLL30_SAMPLES", 20);
    let scale_n = env_usize("IMAPVM_MWI_SCALE", 1000);
    let max_n = env_usize("IMAPVM_MWI_SCALE_MAX", 10_000);
    let info = xtask::dovecot::ensure_running().map_err(|e| e.to_string())?;
    xtask::dovecot::reload_config(&info).map_err(|e| e.to_string())?;
    let users_needed = scale_n
        .max(if skip.contains(&"max") { 0 } else { max_n })
        .max(200);
    let inotify = raise_inotify(users_needed as u64 + 1024);
    let bulk =
        xtask::dovecot::bulk_users(&info, PREFIX, users_needed).map_err(|e| e.to_string())?;
    // Dovecot notices the passwd-file change on the next lookup; give the HUP a moment.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let env = Env {
        host: info.host.clone(),
        port: info.port,
        users: bulk.users,
        conf: bulk.voicemail_conf,
    };
    let mut report = serde_json::Map::new();
    report.insert(
        "inotify_max_user_instances".into(),
        json!({"before": inotify.0, "after": inotify.1}),
    );
    report.insert(
        "dovecot_settings".into(),
        json!("imap_hibernate_timeout=5s, default_client_limit=30000, service imap process_limit=12000, imap-hibernate client_limit=30000; IDLE/NOTIFY delay: Dovecot waits a compile-time NOTIFY_DELAY_MSECS=500 after a change before notifying (src/lib-storage/mailbox-watch.c); no setting changes it"),
    );
    let push_within = Duration::from_secs(10);
    if !skip.contains(&"push") {
        for (key, label, strategy, first_box) in [
            ("notify", "notify", StrategyChoice::Auto, 1),
            ("idle", "idle", StrategyChoice::NoNotify, 4),
        ] {
            let phase = Phase {
                label,
                strategy,
                boxes_per_kind: 1,
                per_box: samples,
                within: push_within,
                first_box,
                jitter: Duration::ZERO,
            };
            report.insert(key.into(), latency(&env, phase).await?);
        }
    }
    if !skip.contains(&"poll1") {
        // 10 boxes per kind in parallel, samples/10 changes each, at random phases.
        let phase = Phase {
            label: "poll_1s",
            strategy: StrategyChoice::Poll(Duration::from_secs(1)),
            boxes_per_kind: 10,
            per_box: samples.div_ceil(10),
            within: Duration::from_secs(15),
            first_box: 10,
            jitter: Duration::from_secs(1),
        };
        report.insert("poll_1s".into(), latency(&env, phase).await?);
    }
    if !skip.contains(&"poll30") {
        let phase = Phase {
            label: "poll_30s",
            strategy: StrategyChoice::Poll(Duration::from_secs(30)),
            boxes_per_kind: 10,
            per_box: poll30.div_ceil(10),
            within: Duration::from_secs(75),
            first_box: 40,
            jitter: Duration::from_secs(30),
        };
        report.insert("poll_30s".into(), latency(&env, phase).await?);
    }
    if !skip.contains(&"scale") {
        // NOTIFY sessions cannot hibernate in Dovecot (imap-state export refuses NOTIFY);
        // IDLE sessions can: both are measured.
        for (key, strategy) in [
            ("scale_notify", StrategyChoice::Auto),
            ("scale_idle", StrategyChoice::NoNotify),
        ] {
            // The IDLE variant is opt-in: with Dovecot's hibernation it stalled (see the report).
            let opted_in = std::env::var("IMAPVM_MWI_SCALE_IDLE").is_ok_and(|v| v == "1");
            if !skip.contains(&key) && (key != "scale_idle" || opted_in) {
                report.insert(key.into(), scale(&env, scale_n, strategy, 10, 60).await?);
            }
        }
    }
    if !skip.contains(&"max") && max_n > 0 {
        report.insert(
            "scale_max".into(),
            how_far(&env, max_n, Duration::from_secs(240)).await?,
        );
    }
    Ok(Value::Object(report))
}

fn main() -> ExitCode {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing useful: only a
    // real bench run measures.
    if !std::env::args().any(|a| a == "--bench") {
        println!("mwi_latency: run with `cargo bench -p imapvm-benches --bench mwi_latency`");
        return ExitCode::SUCCESS;
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mwi_latency: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run()) {
        Ok(report) => {
            let path = xtask::server::target_dir().join("bench-mwi.json");
            let text = serde_json::to_string_pretty(&report).unwrap_or_default();
            if let Err(e) = std::fs::write(&path, text) {
                eprintln!("mwi_latency: writing {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
            println!("written to {}", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mwi_latency: {e}");
            ExitCode::FAILURE
        }
    }
}
