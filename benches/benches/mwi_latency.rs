//! MWI latency and scale of imapvm's watcher against the private Dovecot (issues 8 and 10).
//!
//! An independent raw-socket IMAP client (plain LOGIN on loopback, not imapvm) changes a
//! bulk user's INBOX; the latency of one change is from the moment the client's command
//! completed (tagged OK read) to the moment the watcher's `MwiEvent` for that box reached
//! the bench (the library stream that `imapvm watch` prints). Three kinds of change:
//! `UID STORE +FLAGS/-FLAGS (\Seen)`, APPEND of a voicemail, and delete+expunge
//! (`UID STORE +FLAGS.SILENT (\Deleted)` and `UID EXPUNGE` sent in one write; measured from
//! the EXPUNGE's completion; an event that arrives before it counts as 0). Strategies in the
//! same run: NOTIFY, IDLE, polling at pollfreq=1 and pollfreq=30 (imapvm's poll strategy,
//! which is Asterisk's method). Every box is its own IMAP user; the boxes of one phase are
//! measured in parallel.
//!
//! * **Floor**: during the NOTIFY and IDLE phases a raw IDLE client sits on each box's
//!   INBOX; its latency is from the same tagged OK to the first untagged response about the
//!   change (`FETCH` for \Seen, `EXPUNGE`, `EXISTS` for APPEND): the server's own delay.
//! * **Wire**: the watcher's connection of each measured box goes through a counting
//!   loopback proxy (`mwi_latency/proxy.rs`; the library does not expose the watcher
//!   connection's counters): round trips and bytes from just before the change until the
//!   connection is quiet again after the event.
//! * **pollfreq=30**: one change per box, at a random moment of the box's poll cycle, many
//!   boxes in parallel (so the phase lasts about one cycle).
//!
//! Scale (full run only): one watcher over N bulk users (one connection each, or
//! `IMAPVM_MWI_SCALE_PER_ACCOUNT` boxes per user): the time until every box is counted once,
//! resident memory of this process then (growth from just before the voicemail.conf is
//! parsed), the connections, the CPU of the watcher and of the private Dovecot until then,
//! idle CPU, and the latency p99 under 10 changes per second; then how far a second watcher
//! gets towards `IMAPVM_MWI_SCALE_MAX`. `IMAPVM_MWI_SCALE_SHARD=K/N` watches only shard K of N
//! of the N-box voicemail.conf (parsed whole, as a `--shard` process does) and reports how
//! the boxes fall into the N shards. The 10,000 figure of `docs/operations.md`:
//! `IMAPVM_MWI_SCALE=10000 IMAPVM_MWI_SKIP=push,poll1,poll30,max cargo bench -p
//! imapvm-benches --bench mwi_latency`.
//!
//! `cargo bench -p imapvm-benches --bench mwi_latency` (needs root for the private Dovecot)
//! is the full run: 200 changes per kind for NOTIFY, IDLE (one box per kind, one change
//! after the other) and pollfreq=1 (10 boxes per kind), 60 boxes per kind for pollfreq=30,
//! then the scale phases. `-- --budget` is the sized-down run `cargo xtask bench` makes
//! (no scale phases; NOTIFY and IDLE on 10 boxes per kind × 20 changes, pollfreq=1 on 20
//! boxes × 10, pollfreq=30 on 60 boxes × 1; about two minutes); `-- --budget --quick`
//! shrinks it further (50 changes per kind, 30 boxes per kind at pollfreq=30).
//! Environment (overrides): `IMAPVM_MWI_SAMPLES` (push/poll=1 changes per kind),
//! `IMAPVM_MWI_POLL30_SAMPLES` (pollfreq=30 boxes per kind, one change each),
//! `IMAPVM_MWI_SCALE` (default 1000), `IMAPVM_MWI_SCALE_PER_ACCOUNT` (default 1),
//! `IMAPVM_MWI_SCALE_SHARD` (`K/N`, unset: every box), `IMAPVM_MWI_SCALE_MAX` (the "how far" attempt,
//! default 10000; 0 skips it), `IMAPVM_MWI_SKIP` (comma list of
//! `push,poll1,poll30,scale,max`), `IMAPVM_MWI_SCALE_IDLE=1` (also scale with IDLE).
//! Results: stdout and `target/bench-mwi.json` (`imapvm_benches::mwi` reads it).
#![allow(clippy::print_stdout, clippy::print_stderr)]

#[path = "mwi_latency/floor.rs"]
mod floor;
#[path = "mwi_latency/proxy.rs"]
mod proxy;

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use imapvm::{MwiCounts, Store};
use imapvm_benches::mwi::{KindLatency, PhaseResult, WirePerChange};
use imapvm_watch::{Shard, StrategyChoice, WatchEvent, WatchOptions, Watcher};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;

use floor::{FloorIdle, Note};
use proxy::{Counters, Proxy};

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
    stop: Arc<tokio::sync::Notify>,
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

    fn errors(&self) -> Vec<String> {
        self.errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Reads the watcher's events until [`Router::stop`] is notified; returns the watcher.
    fn spawn(&self, mut watcher: Watcher) -> tokio::task::JoinHandle<Watcher> {
        let router = self.clone();
        tokio::spawn(async move {
            loop {
                let e = tokio::select! {
                    e = watcher.next() => e,
                    () = router.stop.notified() => None,
                };
                let Some(e) = e else { break };
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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

/// One change the independent client makes.
#[derive(Clone, Copy, Debug)]
enum Op {
    /// `UID STORE uid +FLAGS (\Seen)` (`on`) or `-FLAGS`.
    Seen { uid: u32, on: bool },
    /// APPEND of voicemail number `seq`.
    Append { seq: u64 },
    /// Delete + expunge of `uid`.
    Expunge { uid: u32 },
}

impl Op {
    /// The floor's notification of this change.
    fn note(self) -> Note {
        match self {
            Op::Seen { .. } => Note::Fetch,
            Op::Append { .. } => Note::Exists,
            Op::Expunge { .. } => Note::Expunge,
        }
    }
}

/// One box under test: its client, its event channel, and optionally the floor client and
/// the counters of the watcher's connection.
struct Subject {
    n: usize,
    client: Client,
    rx: mpsc::UnboundedReceiver<(Instant, MwiCounts)>,
    floor: Option<FloorIdle>,
    wire: Option<Arc<Counters>>,
}

/// Samples of one kind on one contender.
#[derive(Default)]
struct Samples {
    ms: Vec<f64>,
    early: usize,
    missing: usize,
    wire: Vec<(u64, u64, u64)>,
}

impl Samples {
    fn extend(&mut self, other: Samples) {
        self.ms.extend(other.ms);
        self.early += other.early;
        self.missing += other.missing;
        self.wire.extend(other.wire);
    }

    fn summary(self) -> KindLatency {
        KindLatency::of(
            self.ms,
            self.early,
            self.missing,
            WirePerChange::mean(&self.wire),
        )
    }
}

/// What one box's changes gave: the watcher's samples and the floor's.
#[derive(Default)]
struct Measured {
    watcher: Samples,
    floor: Samples,
}

/// The floor's wait for its notification (the server sends it about 0.5 s after the change).
const FLOOR_WITHIN: Duration = Duration::from_secs(5);

/// Makes one change, waits for the watcher's event `want` (and the floor's notification);
/// records latency and wire counts in `out` when given. Returns the APPENDed UID.
async fn step(
    s: &mut Subject,
    op: Op,
    want: MwiCounts,
    within: Duration,
    out: Option<&mut Measured>,
) -> Res<Option<u32>> {
    if let Some(f) = &mut s.floor {
        f.drain();
    }
    let w0 = s.wire.as_ref().map(|c| c.snapshot());
    let mut appended = None;
    match op {
        Op::Seen { uid, on } => {
            let sign = if on { '+' } else { '-' };
            s.client
                .cmd(&format!("UID STORE {uid} {sign}FLAGS (\\Seen)"))
                .await?;
        }
        Op::Append { seq } => {
            appended = Some(s.client.append(&voicemail_bytes(s.n, seq), "").await?);
        }
        Op::Expunge { uid } => s.client.delete_expunge(uid).await?,
    }
    let t0 = Instant::now();
    let at = expect(&mut s.rx, want, within).await?;
    let mut floor = None;
    if let Some(f) = &mut s.floor {
        let (seen, bytes) = f.wait(op.note(), FLOOR_WITHIN).await;
        floor = Some((seen, bytes));
        if seen.is_none() {
            // No notification: stop measuring the floor on this box (counted as missing).
            s.floor = None;
        }
    }
    if let Some(c) = &s.wire {
        c.settle(Duration::from_millis(40), Duration::from_secs(2))
            .await;
    }
    let Some(out) = out else {
        return Ok(appended);
    };
    let w = &mut out.watcher;
    w.ms.push(ms(at, t0, &mut w.early));
    if let (Some(c), Some(w0)) = (&s.wire, w0) {
        w.wire.push(proxy::delta(w0, c.snapshot()));
    }
    if let Some((seen, mut bytes)) = floor {
        let f = &mut out.floor;
        if let Some(fl) = &mut s.floor {
            bytes += fl.drain();
        }
        match seen {
            Some(seen) => {
                f.ms.push(ms(seen, t0, &mut f.early));
                // The floor sends nothing: the server pushes.
                f.wire.push((0, 0, bytes));
            }
            None => f.missing += 1,
        }
    }
    Ok(appended)
}

/// `per_box` changes of `kind` on one box, one after the other.
async fn series(
    s: &mut Subject,
    kind: Kind,
    per_box: usize,
    seen_uid: u32,
    within: Duration,
    jitter: Duration,
) -> Res<Measured> {
    // A random pause before each change, so that polling is sampled at every phase.
    let mut rng = Lcg(s.n as u64 * 7919 + kind as u64);
    let mut pause = async || {
        if !jitter.is_zero() {
            tokio::time::sleep(jitter.mul_f64(rng.unit())).await;
        }
    };
    let mut out = Measured::default();
    let first_seq = 1_000_000 * (kind as u64 + 1) + 1;
    // State: one unseen message (seen_uid) in INBOX.
    let mut seen = false;
    for seq in first_seq..first_seq + per_box as u64 {
        match kind {
            Kind::Seen => {
                pause().await;
                seen = !seen;
                let want = if seen { counts(0, 1) } else { counts(1, 0) };
                let op = Op::Seen {
                    uid: seen_uid,
                    on: seen,
                };
                step(s, op, want, within, Some(&mut out)).await?;
            }
            Kind::Append | Kind::Expunge => {
                pause().await;
                let record = (kind == Kind::Append).then_some(&mut out);
                let uid = step(s, Op::Append { seq }, counts(2, 0), within, record)
                    .await?
                    .ok_or("APPEND gave no UID")?;
                pause().await;
                let record = (kind == Kind::Expunge).then_some(&mut out);
                step(s, Op::Expunge { uid }, counts(1, 0), within, record).await?;
            }
        }
    }
    if seen {
        let op = Op::Seen {
            uid: seen_uid,
            on: false,
        };
        step(s, op, counts(1, 0), within, None).await?;
    }
    Ok(out)
}

/// One change on a box whose initial event arrived at `ready`, at a random moment of the
/// next `period` after it (the box's poll cycle starts just after that event).
async fn single(
    s: &mut Subject,
    kind: Kind,
    uids: (u32, u32),
    ready: Instant,
    period: Duration,
    within: Duration,
) -> Res<Measured> {
    let mut rng = Lcg(s.n as u64 * 104_729 + kind as u64);
    let mut at = ready + period.mul_f64(rng.unit());
    while at < Instant::now() {
        // Set-up took longer than the offset: the same phase, one cycle later.
        at += period;
    }
    tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
    let (op, want) = match kind {
        Kind::Seen => (
            Op::Seen {
                uid: uids.0,
                on: true,
            },
            counts(0, 1),
        ),
        Kind::Append => (Op::Append { seq: 2_000_001 }, counts(2, 0)),
        Kind::Expunge => (Op::Expunge { uid: uids.1 }, counts(1, 0)),
    };
    let mut out = Measured::default();
    step(s, op, want, within, Some(&mut out)).await?;
    Ok(out)
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

fn summary(v: Vec<f64>, early: usize) -> Value {
    serde_json::to_value(KindLatency::of(v, early, 0, None)).unwrap_or(Value::Null)
}

fn round(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

struct Env {
    host: String,
    port: u16,
    users: Vec<(String, String)>,
    conf: std::path::PathBuf,
    /// The private Dovecot's master process.
    master: u32,
}

/// A store over the bulk conf (every bulk box), or over a copy of it in which the boxes
/// of `ports` connect through their proxies.
fn store(env: &Env, ports: &HashMap<usize, u16>) -> Res<Store> {
    if ports.is_empty() {
        return Store::open(&env.conf).map_err(|e| e.to_string());
    }
    let text =
        std::fs::read_to_string(&env.conf).map_err(|e| format!("{}: {e}", env.conf.display()))?;
    let mut out = String::with_capacity(text.len() + ports.len() * 20);
    for line in text.lines() {
        out.push_str(line);
        let n = line
            .split_once(" => ")
            .and_then(|(n, _)| n.trim().parse::<usize>().ok());
        if let Some(port) = n.and_then(|n| ports.get(&n)) {
            out.push_str(&format!("|imapport={port}"));
        }
        out.push('\n');
    }
    let path = xtask::server::target_dir().join("imapvm-bench/mwi-proxied.conf");
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(&path, out).map_err(|e| format!("{}: {e}", path.display()))?;
    Store::open(&path).map_err(|e| e.to_string())
}

/// A running watcher and what stops it.
struct Running {
    store: Store,
    task: tokio::task::JoinHandle<Watcher>,
    router: Router,
    /// IMAP connections it holds (one per account).
    accounts: usize,
}

/// Starts a watcher of `boxes` and waits until every account is watched.
async fn start(
    env: &Env,
    boxes: &[usize],
    strategy: StrategyChoice,
    router: &Router,
    ports: &HashMap<usize, u16>,
) -> Res<Running> {
    start_on(store(env, ports)?, boxes, strategy, router).await
}

/// [`start`] on a given store: waits until every account is watched (every box counted once).
async fn start_on(
    store: Store,
    boxes: &[usize],
    strategy: StrategyChoice,
    router: &Router,
) -> Res<Running> {
    let w = Watcher::start(
        &store,
        WatchOptions {
            mailboxes: Some(
                boxes
                    .iter()
                    .map(|n| format!("{n}@bulk").parse().expect("a box"))
                    .collect(),
            ),
            strategy,
            ..WatchOptions::default()
        },
    )
    .map_err(|e| e.to_string())?;
    let accounts = w.accounts();
    let task = router.spawn(w);
    let deadline = Instant::now() + Duration::from_secs(600);
    while router.watching() < accounts {
        if Instant::now() > deadline {
            return Err(format!(
                "only {} of {accounts} accounts watched",
                router.watching(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(Running {
        store,
        task,
        router: router.clone(),
        accounts,
    })
}

/// Stops the watcher (every account logs out) and closes the store.
async fn stop(running: Running) {
    let Running {
        store,
        task,
        router,
        ..
    } = running;
    router.stop.notify_one();
    if let Ok(watcher) = task.await {
        let _ = tokio::time::timeout(Duration::from_secs(20), watcher.stop()).await;
    }
    store.close().await;
}

/// One latency phase.
struct Phase {
    label: &'static str,
    /// How, in words (the report's "how").
    strategy_text: &'static str,
    strategy: StrategyChoice,
    /// Boxes per kind of change (in parallel).
    boxes_per_kind: usize,
    /// Sequential changes on each box.
    per_box: usize,
    /// Longest wait for one event.
    within: Duration,
    /// The first bulk box used.
    first_box: usize,
    /// Random pause before each change, up to this (polling phases); with `single`, the
    /// poll period the one change is placed in.
    jitter: Duration,
    /// One change per box at a random moment of its poll cycle (`per_box` is ignored).
    single: bool,
    /// A raw IDLE client beside the watcher on each box.
    floor: bool,
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

/// The latency of each kind under one strategy, and the floor's when asked.
async fn latency(env: &Env, phase: Phase) -> Res<(PhaseResult, Option<[Samples; 3]>)> {
    let Phase {
        label,
        strategy_text,
        strategy,
        boxes_per_kind,
        per_box,
        within,
        first_box,
        jitter,
        single: one_change,
        floor: with_floor,
    } = phase;
    let set_up = Instant::now();
    let kinds = [Kind::Seen, Kind::Append, Kind::Expunge];
    let router = Router::default();
    let mut proxies = Vec::new();
    let mut ports = HashMap::new();
    let mut subjects = Vec::new();
    for (k, kind) in kinds.iter().enumerate() {
        for b in 0..boxes_per_kind {
            let n = first_box + k * boxes_per_kind + b;
            let (user, pw) = &env.users[n - 1];
            let (mut client, uid) = prepare(&env.host, env.port, n, user, pw).await?;
            // For a single expunge: a second message to expunge, there before the watcher.
            let second = if one_change && *kind == Kind::Expunge {
                client.append(&voicemail_bytes(n, 1), "").await?
            } else {
                0
            };
            let proxy = Proxy::start(&env.host, (env.host.clone(), env.port)).await?;
            ports.insert(n, proxy.port);
            let floor = if with_floor {
                Some(FloorIdle::start(&env.host, env.port, user, pw).await?)
            } else {
                None
            };
            let rx = router.register(&format!("{n}@bulk"));
            let wire = Some(Arc::clone(&proxy.counters));
            proxies.push(proxy);
            let s = Subject {
                n,
                client,
                rx,
                floor,
                wire,
            };
            subjects.push((*kind, (uid, second), s));
        }
    }
    let ids: Vec<usize> = subjects.iter().map(|p| p.2.n).collect();
    // Each box's task waits for its initial event (one unseen message; two in a
    // single-expunge box). A single change is placed in the box's poll cycle at once (the
    // cycle starts with that event); a series waits until every account is watched.
    let (all_watched, gate) = tokio::sync::watch::channel(false);
    let mut joins = Vec::new();
    for (kind, uids, mut s) in subjects {
        let mut gate = gate.clone();
        joins.push(tokio::spawn(async move {
            let want = if one_change && kind == Kind::Expunge {
                counts(2, 0)
            } else {
                counts(1, 0)
            };
            let r = async {
                let ready = expect(&mut s.rx, want, Duration::from_secs(600)).await?;
                if one_change {
                    single(&mut s, kind, uids, ready, jitter, within).await
                } else {
                    gate.wait_for(|all| *all)
                        .await
                        .map_err(|_| "the phase ended before it started".to_owned())?;
                    series(&mut s, kind, per_box, uids.0, within, jitter).await
                }
            }
            .await;
            (kind, r)
        }));
    }
    let running = match start(env, &ids, strategy, &router, &ports).await {
        Ok(r) => r,
        Err(e) => {
            for j in &joins {
                j.abort();
            }
            return Err(format!("{label}: {e}"));
        }
    };
    let setup_seconds = set_up.elapsed();
    eprintln!(
        "  {label}: {} boxes watched after {setup_seconds:?}",
        ids.len()
    );
    let _ = all_watched.send(true);
    let started = Instant::now();
    let mut watcher: HashMap<Kind, Samples> = HashMap::new();
    let mut floor: HashMap<Kind, Samples> = HashMap::new();
    let mut failed = None;
    for j in joins {
        let (kind, r) = j.await.map_err(|e| e.to_string())?;
        match r {
            Ok(m) => {
                watcher.entry(kind).or_default().extend(m.watcher);
                floor.entry(kind).or_default().extend(m.floor);
            }
            Err(e) => {
                failed.get_or_insert(format!("{label} {}: {e}", kind.name()));
            }
        }
    }
    let elapsed = started.elapsed();
    let errors = router.errors();
    stop(running).await;
    drop(proxies);
    if let Some(e) = failed {
        return Err(e);
    }
    let mut take = |k: Kind| watcher.remove(&k).unwrap_or_default().summary();
    let result = PhaseResult {
        strategy: strategy_text.into(),
        boxes_per_kind,
        changes_per_box: if one_change { 1 } else { per_box },
        setup_seconds: round(setup_seconds.as_secs_f64()),
        seconds: round(elapsed.as_secs_f64()),
        store_seen: take(Kind::Seen),
        append: take(Kind::Append),
        expunge: take(Kind::Expunge),
        watch_errors: errors,
    };
    println!(
        "{label}: {}",
        serde_json::to_string(&result).unwrap_or_default()
    );
    let floor = with_floor.then(|| kinds.map(|k| floor.remove(&k).unwrap_or_default()));
    Ok((result, floor))
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

/// CPU time of the private Dovecot (its master, what it reaped, and its live processes), in
/// clock ticks.
fn dovecot_cpu_ticks(master: u32) -> Option<u64> {
    let fields = |pid: &str| -> Option<(u32, Vec<u64>)> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let f: Vec<&str> = text.rsplit_once(')')?.1.split_whitespace().collect();
        let ppid = f.get(1)?.parse().ok()?;
        // utime stime cutime cstime
        let t = f
            .get(11..15)?
            .iter()
            .filter_map(|v| v.parse().ok())
            .collect();
        Some((ppid, t))
    };
    let (_, own) = fields(&master.to_string())?;
    let mut total: u64 = own.iter().sum();
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        if let Some((ppid, t)) = fields(pid)
            && ppid == master
        {
            total += t.iter().take(2).sum::<u64>();
        }
    }
    Some(total)
}

/// Busy time of every CPU of the machine (user, nice, system, irq, softirq), in clock ticks.
fn machine_busy_ticks() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq ...
    Some(f.first()? + f.get(1)? + f.get(2)? + f.get(5)? + f.get(6)?)
}

/// Dovecot's imap and imap-hibernate processes: how many, and their RSS in MiB.
fn dovecot_processes() -> Value {
    let mut imap = (0u64, 0u64);
    let mut hibernate = (0u64, 0u64);
    let mut login = 0u64;
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
                "imap-login" => login += 1,
                _ => {}
            }
        }
    }
    json!({"imap": imap.0, "imap_rss_mib": imap.1 / 1024, "imap_login": login, "imap_hibernate": hibernate.0, "imap_hibernate_rss_mib": hibernate.1 / 1024})
}

/// What one scale phase watches.
#[derive(Debug, Clone, Copy)]
struct ScaleRun {
    /// Boxes in its voicemail.conf: `1@bulk`..`N@bulk`.
    conf_boxes: usize,
    /// Boxes per IMAP account (1: every box its own user; more: `imapuser` shared, as
    /// Asterisk's shared accounts, told apart by the X-Asterisk-VM headers).
    per_account: usize,
    /// Only this shard's boxes (`--shard K/N`), with the whole voicemail.conf parsed, as a
    /// shard process does.
    shard: Option<Shard>,
}

/// The voicemail.conf of a scale run: `boxes` boxes, box `n` on bulk user
/// `(n - 1) / per_account + 1` (plain LOGIN on loopback, INBOX). The boxes are in
/// `#include`d parts of 20,000 (a file is read up to `imapvm_config::MAX_FILE_BYTES`).
fn scale_conf(env: &Env, boxes: usize, per_account: usize) -> Res<std::path::PathBuf> {
    const PART: usize = 20_000;
    let bulk =
        std::fs::read_to_string(&env.conf).map_err(|e| format!("{}: {e}", env.conf.display()))?;
    let head = bulk
        .split_once("[bulk]\n")
        .map(|(head, _)| head)
        .ok_or("the bulk conf has no [bulk]")?;
    let dir = xtask::server::target_dir().join("imapvm-bench");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let write = |path: &std::path::Path, text: &str| {
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
    };
    let mut main = format!("{head}[bulk]\n");
    for (i, first) in (1..=boxes).step_by(PART).enumerate() {
        let mut part = String::with_capacity(PART * 80);
        for n in first..=(first + PART - 1).min(boxes) {
            let (user, pw) = env
                .users
                .get((n - 1) / per_account)
                .ok_or("not enough bulk users")?;
            part.push_str(&format!(
                "{n} => {n},Bulk {n},,,imapuser={user}|imappassword={pw}\n"
            ));
        }
        let path = dir.join(format!("mwi-scale-{boxes}-{per_account}-part{i}.conf"));
        write(&path, &part)?;
        main.push_str(&format!("#include \"{}\"\n", path.display()));
    }
    let path = dir.join(format!("mwi-scale-{boxes}-{per_account}.conf"));
    write(&path, &main)?;
    Ok(path)
}

/// How evenly boxes `1@bulk`..`boxes@bulk` fall into `count` shards: boxes per shard.
fn shard_sizes(boxes: usize, count: u32) -> Vec<usize> {
    let mut sizes = vec![0usize; count as usize];
    for n in 1..=boxes {
        let k = Shard::of(&n.to_string(), "bulk", count) as usize;
        sizes[k - 1] += 1;
    }
    sizes
}

/// Watches a [`ScaleRun`]'s boxes: time until every box is counted once (every account
/// watching), resident memory of this process at that moment and once settled, idle CPU,
/// and latency under `rate` changes/s for `secs`.
async fn scale(
    env: &Env,
    run: ScaleRun,
    strategy: StrategyChoice,
    rate: u32,
    secs: u64,
) -> Res<Value> {
    let router = Router::default();
    let all: Vec<usize> = (1..=run.conf_boxes).collect();
    let boxes: Vec<usize> = match run.shard {
        Some(shard) => all
            .into_iter()
            .filter(|n| shard.owns(&n.to_string(), "bulk"))
            .collect(),
        None => all,
    };
    let count = boxes.len();
    // Load generator boxes: the last 50 boxes that are the first of their account (emptying
    // one's INBOX then removes no other load box's voicemail), prepared before the watcher
    // starts.
    let mut load: Vec<usize> = boxes
        .iter()
        .copied()
        .filter(|n| (n - 1) % run.per_account == 0)
        .rev()
        .take(50)
        .collect();
    load.reverse();
    let mut clients = Vec::new();
    for &n in &load {
        let (user, pw) = &env.users[(n - 1) / run.per_account];
        let (client, uid) = prepare(&env.host, env.port, n, user, pw).await?;
        let rx = router.register(&format!("{n}@bulk"));
        let s = Subject {
            n,
            client,
            rx,
            floor: None,
            wire: None,
        };
        clients.push((s, uid, false));
    }
    let conf = scale_conf(env, run.conf_boxes, run.per_account)?;
    // From here on, what grows is the watcher's: the voicemail.conf parsed, the boxes, the
    // connections.
    let rss_before = proc_status("VmRSS:").unwrap_or(0);
    let cpu_before = cpu_ticks().unwrap_or(0);
    let busy_before = machine_busy_ticks().unwrap_or(0);
    let dovecot_before = dovecot_cpu_ticks(env.master).unwrap_or(0);
    let t = Instant::now();
    let store = Store::open(&conf).map_err(|e| e.to_string())?;
    let running = start_on(store, &boxes, strategy, &router).await?;
    let ready = t.elapsed();
    // This process's CPU until ready (the rest of the machine's was the server's and others').
    let cpu_to_ready = cpu_ticks().unwrap_or(0).saturating_sub(cpu_before) as f64 / 100.0;
    let busy_to_ready = machine_busy_ticks()
        .unwrap_or(0)
        .saturating_sub(busy_before) as f64
        / 100.0;
    let dovecot_to_ready = dovecot_cpu_ticks(env.master)
        .unwrap_or(0)
        .saturating_sub(dovecot_before) as f64
        / 100.0;
    let rss_ready = proc_status("VmRSS:").unwrap_or(0);
    let connections = running.accounts;
    eprintln!("  scale {count} {strategy:?}: {connections} connections, ready after {ready:?}");
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
    let errors = router.errors();
    stop(running).await;
    let kib_per_box = |rss: u64| round(rss.saturating_sub(rss_before) as f64 / count as f64);
    let out = json!({
        "mailboxes": count,
        "voicemail_conf_boxes": run.conf_boxes,
        "boxes_per_account": run.per_account,
        "shard": run.shard.map(|s| format!("{}/{}", s.index(), s.count())),
        "shard_sizes": run.shard.map(|s| shard_sizes(run.conf_boxes, s.count())),
        "connections": connections,
        "strategy": format!("{strategy:?}"),
        "ready_s": round(ready.as_secs_f64()),
        "cpu_s_to_ready": round(cpu_to_ready),
        "machine_busy_cpu_s_to_ready": round(busy_to_ready),
        "dovecot_cpu_s_to_ready": round(dovecot_to_ready),
        "rss_before_mib": rss_before / 1024,
        "rss_ready_mib": rss_ready / 1024,
        "rss_ready_per_mailbox_kib": kib_per_box(rss_ready),
        "rss_watching_mib": rss_watching / 1024,
        "rss_per_mailbox_kib": kib_per_box(rss_watching),
        "idle_cpu_percent_of_one_core": round(idle_cpu_pct * 100.0) / 100.0,
        "idle_seconds": idle_secs,
        "load_changes_per_s": rate,
        "load_latency": summary(lat, early),
        "load_mismatched_or_lost": failed,
        "watch_errors": errors.len(),
        "watch_error_kinds": error_kinds(&errors),
        "dovecot": server,
    });
    println!("scale {count} {strategy:?}: {out}");
    Ok(out)
}

/// Watch errors by kind (the text after the account, digits as `#`, cut at 120
/// characters): how many.
fn error_kinds(errors: &[String]) -> HashMap<String, usize> {
    let mut kinds: HashMap<String, usize> = HashMap::new();
    for e in errors {
        let key: String = e
            .split_once(": ")
            .map_or(e.as_str(), |x| x.1)
            .chars()
            .map(|c| if c.is_ascii_digit() { '#' } else { c })
            .take(120)
            .collect();
        *kinds.entry(key).or_default() += 1;
    }
    kinds
}

/// How far a watcher over `count` boxes gets in `limit`.
async fn how_far(env: &Env, count: usize, limit: Duration) -> Res<Value> {
    let router = Router::default();
    let store = store(env, &HashMap::new())?;
    let rss_before = proc_status("VmRSS:").unwrap_or(0);
    let w = Watcher::start(
        &store,
        WatchOptions {
            mailboxes: Some(
                (1..=count)
                    .map(|n| format!("{n}@bulk").parse().expect("a box"))
                    .collect(),
            ),
            strategy: StrategyChoice::Auto,
            ..WatchOptions::default()
        },
    )
    .map_err(|e| e.to_string())?;
    let accounts = w.accounts();
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
    let errors = router.errors();
    let server = dovecot_processes();
    let kinds = error_kinds(&errors);
    stop(Running {
        store,
        task,
        router: router.clone(),
        accounts,
    })
    .await;
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

/// How the run is sized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `cargo bench` alone: large samples, scale phases.
    Full,
    /// `cargo xtask bench`: sized for its 10-minute budget, no scale phases.
    Budget,
}

const DOVECOT_SETTINGS: &str = "imap_hibernate_timeout=5s, default_client_limit=30000, \
     service imap process_limit=12000, imap-hibernate client_limit=30000; IDLE/NOTIFY delay: \
     Dovecot waits a compile-time NOTIFY_DELAY_MSECS=500 after a change before notifying \
     (src/lib-storage/mailbox-watch.c); no setting changes it";

const WIRE_NOTE: &str = "Round trips and bytes of imapvm and the polling rows are counted on a \
     loopback proxy in front of each watched box's watcher connection (the library does not \
     expose that connection's counters), from just before the change until the connection is \
     quiet again after the event (so an IDLE re-issue is included); a round trip is a client \
     flight that follows server data. The floor sends nothing (the server pushes); its bytes \
     are the untagged lines it read. The proxy adds two loopback hops to imapvm's latency, \
     not to the floor's";

async fn run(mode: Mode, quick: bool) -> Res<Value> {
    let begun = Instant::now();
    let skip = std::env::var("IMAPVM_MWI_SKIP").unwrap_or_default();
    let mut skip: Vec<&str> = skip.split(',').collect();
    if mode == Mode::Budget {
        skip.extend(["scale", "max"]);
    }
    let samples = env_usize("IMAPVM_MWI_SAMPLES", if quick { 50 } else { 200 });
    let poll30 = env_usize("IMAPVM_MWI_POLL30_SAMPLES", if quick { 30 } else { 60 });
    let scale_n = env_usize("IMAPVM_MWI_SCALE", 1000);
    let scale_run = ScaleRun {
        conf_boxes: scale_n,
        per_account: env_usize("IMAPVM_MWI_SCALE_PER_ACCOUNT", 1).max(1),
        shard: match std::env::var("IMAPVM_MWI_SCALE_SHARD") {
            Ok(v) if !v.is_empty() => Some(
                v.parse::<Shard>()
                    .map_err(|e| format!("IMAPVM_MWI_SCALE_SHARD: {e}"))?,
            ),
            _ => None,
        },
    };
    let max_n = env_usize("IMAPVM_MWI_SCALE_MAX", 10_000);
    // Boxes per kind: NOTIFY/IDLE, pollfreq=1, pollfreq=30.
    let (push_boxes, poll1_boxes) = match mode {
        Mode::Full => (1, 10),
        Mode::Budget => (10, 20),
    };
    let push_first = [1, 1 + 3 * push_boxes];
    let poll1_first = push_first[1] + 3 * push_boxes;
    let poll30_first = poll1_first + 3 * poll1_boxes;
    let latency_users = poll30_first + 3 * poll30;
    let info = xtask::dovecot::ensure_running().map_err(|e| e.to_string())?;
    let scaling = !skip.contains(&"scale") || (!skip.contains(&"max") && max_n > 0);
    if scaling {
        // The scale phases need today's limits. A reload ends other sessions' idle
        // connections to the shared server, so the latency phases alone (which need no more
        // than the defaults) do not reload.
        xtask::dovecot::reload_config(&info).map_err(|e| e.to_string())?;
    }
    let mut users_needed = latency_users;
    if !skip.contains(&"scale") {
        users_needed = users_needed.max(scale_n.div_ceil(scale_run.per_account));
    }
    if !skip.contains(&"max") {
        users_needed = users_needed.max(max_n);
    }
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
        master: std::fs::read_to_string(info.dir.join("dovecot.pid"))
            .ok()
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or(0),
    };
    let mut report = serde_json::Map::new();
    report.insert(
        "mode".into(),
        json!(match mode {
            Mode::Full => "full",
            Mode::Budget => "budget",
        }),
    );
    report.insert(
        "inotify_max_user_instances".into(),
        json!({"before": inotify.0, "after": inotify.1}),
    );
    report.insert(
        "dovecot_settings".into(),
        json!(if scaling {
            DOVECOT_SETTINGS.to_owned()
        } else {
            format!(
                "{DOVECOT_SETTINGS} (the settings of xtask's dovecot.conf; this run did not \
                 reload the server)"
            )
        }),
    );
    report.insert("wire_note".into(), json!(WIRE_NOTE));
    let to_json = |p: &PhaseResult| serde_json::to_value(p).map_err(|e| e.to_string());
    let push_within = Duration::from_secs(10);
    if !skip.contains(&"push") {
        let mut floor: [Samples; 3] = Default::default();
        for (i, (key, text, strategy)) in [
            ("notify", "NOTIFY", StrategyChoice::Auto),
            ("idle", "IDLE", StrategyChoice::NoNotify),
        ]
        .into_iter()
        .enumerate()
        {
            let phase = Phase {
                label: key,
                strategy_text: text,
                strategy,
                boxes_per_kind: push_boxes,
                per_box: samples.div_ceil(push_boxes),
                within: push_within,
                first_box: push_first[i],
                jitter: Duration::ZERO,
                single: false,
                floor: true,
            };
            let (result, f) = latency(&env, phase).await?;
            report.insert(key.into(), to_json(&result)?);
            if let Some(f) = f {
                for (acc, s) in floor.iter_mut().zip(f) {
                    acc.extend(s);
                }
            }
        }
        let [seen, append, expunge] = floor;
        let floor = PhaseResult {
            strategy: "raw IDLE client".into(),
            boxes_per_kind: push_boxes,
            changes_per_box: samples.div_ceil(push_boxes),
            setup_seconds: 0.0,
            seconds: 0.0,
            store_seen: seen.summary(),
            append: append.summary(),
            expunge: expunge.summary(),
            watch_errors: Vec::new(),
        };
        println!(
            "floor: {}",
            serde_json::to_string(&floor).unwrap_or_default()
        );
        report.insert("floor".into(), to_json(&floor)?);
    }
    if !skip.contains(&"poll1") {
        // Many boxes per kind in parallel, a few changes each, at random phases.
        let phase = Phase {
            label: "poll_1s",
            strategy_text: "polling, pollfreq=1",
            strategy: StrategyChoice::Poll(Duration::from_secs(1)),
            boxes_per_kind: poll1_boxes,
            per_box: samples.div_ceil(poll1_boxes),
            within: Duration::from_secs(15),
            first_box: poll1_first,
            jitter: Duration::from_secs(1),
            single: false,
            floor: false,
        };
        report.insert("poll_1s".into(), to_json(&latency(&env, phase).await?.0)?);
    }
    if !skip.contains(&"poll30") {
        // One change per box at a random moment of its 30 s cycle: about one cycle in all.
        let phase = Phase {
            label: "poll_30s",
            strategy_text: "polling, pollfreq=30",
            strategy: StrategyChoice::Poll(Duration::from_secs(30)),
            boxes_per_kind: poll30,
            per_box: 1,
            within: Duration::from_secs(45),
            first_box: poll30_first,
            jitter: Duration::from_secs(30),
            single: true,
            floor: false,
        };
        report.insert("poll_30s".into(), to_json(&latency(&env, phase).await?.0)?);
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
                report.insert(key.into(), scale(&env, scale_run, strategy, 10, 60).await?);
            }
        }
    }
    if !skip.contains(&"max") && max_n > 0 {
        report.insert(
            "scale_max".into(),
            how_far(&env, max_n, Duration::from_secs(240)).await?,
        );
    }
    report.insert(
        "elapsed_seconds".into(),
        json!(round(begun.elapsed().as_secs_f64())),
    );
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    report.insert("written_unix".into(), json!(now));
    Ok(Value::Object(report))
}

fn main() -> ExitCode {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing useful: only a
    // real bench run measures.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--bench") {
        println!("mwi_latency: run with `cargo bench -p imapvm-benches --bench mwi_latency`");
        return ExitCode::SUCCESS;
    }
    let mut mode = Mode::Full;
    let mut quick = false;
    for a in &args {
        match a.as_str() {
            "--bench" => {}
            "--budget" => mode = Mode::Budget,
            "--quick" => quick = true,
            other => {
                eprintln!("mwi_latency: unknown argument {other:?} (have --budget, --quick)");
                return ExitCode::FAILURE;
            }
        }
    }
    // Two runs at once would change each other's boxes: the second waits.
    let lock = xtask::server::target_dir().join("imapvm-bench-mwi.lock");
    eprintln!(
        "mwi_latency: taking {} (another run may hold it)",
        lock.display()
    );
    let _lock = match xtask::server::DirLock::acquire(&lock) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("mwi_latency: {e}");
            return ExitCode::FAILURE;
        }
    };
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
    match rt.block_on(run(mode, quick)) {
        Ok(report) => {
            let path = xtask::server::target_dir().join(imapvm_benches::mwi::RESULTS_FILE);
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
