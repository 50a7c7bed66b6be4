//! The report: `docs/performance.md` (tables, ratios, goals, the machine, the
//! command to reproduce) and one summary chart as a hand-written SVG.
//!
//! Rendering is pure: [`markdown`] and [`svg`] take a [`Report`] and return
//! text; gathering (the machine, criterion's estimates) is separate.

use std::fmt::Write as _;
use std::path::Path;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::measure::{Contender, OperationResult, Summary};
use crate::mwi::{self, KindLatency, MwiResults, PhaseResult};

/// The machine a run happened on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Machine {
    /// Logical CPUs (`nproc`).
    pub cpus: usize,
    /// CPU model name from `/proc/cpuinfo`.
    pub cpu_model: String,
    /// Kernel release.
    pub kernel: String,
    /// `dovecot --version`.
    pub dovecot: String,
    /// `rustc --version` of the toolchain that built the suite.
    pub rustc: String,
}

impl Machine {
    /// Reads `/proc` for this machine; the versions are passed in.
    pub fn this(dovecot: &str, rustc: &str) -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                (k.trim() == "model name").then(|| v.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown".into());
        Machine {
            cpus: std::thread::available_parallelism().map_or(0, usize::from),
            cpu_model,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_owned())
                .unwrap_or_else(|_| "unknown".into()),
            dovecot: dovecot.trim().to_owned(),
            rustc: rustc.trim().to_owned(),
        }
    }
}

/// One criterion measurement read back from `target/criterion`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CriterionFigure {
    /// Benchmark group.
    pub group: String,
    /// Function within the group.
    pub function: String,
    /// Median time per iteration, nanoseconds.
    pub median_ns: f64,
}

/// The criterion baseline name `cargo xtask bench` saves its runs under
/// (`--save-baseline`), so that another `cargo bench` in the same target
/// directory cannot replace the figures the report quotes.
pub const CRITERION_BASELINE: &str = "xtask-bench";

/// Reads every `*/<baseline>/{benchmark,estimates}.json` under `dir` written
/// at or after `since` (older results belong to another run and are skipped).
pub fn read_criterion(
    dir: &Path,
    baseline: &str,
    since: Option<SystemTime>,
) -> Vec<CriterionFigure> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if !path.is_dir() {
                continue;
            }
            if path.file_name().is_some_and(|n| n == baseline) {
                if let Some(f) = read_one(&path, since) {
                    out.push(f);
                }
            } else {
                stack.push(path);
            }
        }
    }
    out.sort_by(|a, b| (&a.group, &a.function).cmp(&(&b.group, &b.function)));
    out
}

fn read_one(new: &Path, since: Option<SystemTime>) -> Option<CriterionFigure> {
    let estimates = new.join("estimates.json");
    if let Some(since) = since {
        let modified = std::fs::metadata(&estimates).ok()?.modified().ok()?;
        if modified < since {
            return None;
        }
    }
    let bench: serde_json::Value =
        serde_json::from_slice(&std::fs::read(new.join("benchmark.json")).ok()?).ok()?;
    let est: serde_json::Value = serde_json::from_slice(&std::fs::read(estimates).ok()?).ok()?;
    Some(CriterionFigure {
        group: bench["group_id"].as_str()?.to_owned(),
        function: bench["function_id"].as_str().unwrap_or_default().to_owned(),
        median_ns: est["median"]["point_estimate"].as_f64()?,
    })
}

/// A codec comparison: ours against a baseline of the same run.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// What is compared.
    pub title: &'static str,
    /// Criterion group.
    pub group: &'static str,
    /// Function measuring ours.
    pub ours: &'static str,
    /// Function measuring the baseline.
    pub baseline: &'static str,
    /// How the ratio is read.
    pub ratio: RatioKind,
    /// The goal, in words.
    pub goal: &'static str,
    /// The goal as a bound on the ratio.
    pub bound: f64,
}

/// Which way a comparison's ratio is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RatioKind {
    /// baseline / ours: how many times faster ours is (goal: at least `bound`).
    Speedup,
    /// ours / baseline: our overhead (goal: at most `bound`).
    Overhead,
}

/// The codec and core comparisons the issue asks for.
pub const COMPARISONS: &[Comparison] = &[
    Comparison {
        title: "Header-block parse vs full mail-parser parse (01-basic.eml)",
        group: "voicemail_01_basic",
        ours: "header_block_full_message",
        baseline: "mail_parser_full",
        ratio: RatioKind::Speedup,
        goal: "≥ 10× faster",
        bound: 10.0,
    },
    Comparison {
        title: "Build a 60 s wav49 voicemail vs base64 of the audio alone",
        group: "voicemail_build_60s_wav49",
        ours: "build_message",
        baseline: "base64_audio_alone",
        ratio: RatioKind::Overhead,
        goal: "≤ 1.5×",
        bound: 1.5,
    },
    Comparison {
        title: "Decode a 1,000-item UID FETCH response vs imap-codec's raw decode",
        group: "uid_fetch_1000_header_fields",
        ours: "connection_typed_results",
        baseline: "imap_codec_raw_decode",
        ratio: RatioKind::Overhead,
        goal: "(our overhead, no goal set)",
        bound: f64::INFINITY,
    },
    Comparison {
        title: "Parse a 10,000-mailbox voicemail.conf vs splitting it into lines",
        group: "config_10000_mailboxes",
        ours: "parse",
        baseline: "split_lines",
        ratio: RatioKind::Overhead,
        goal: "(time reported, no goal set)",
        bound: f64::INFINITY,
    },
];

/// Peak memory of the 10,000-mailbox config parse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigMemory {
    /// Mailboxes in the generated file.
    pub mailboxes: u64,
    /// Size of the file.
    pub config_bytes: u64,
    /// Peak RSS of the probe without the parse, kB.
    pub baseline_peak_kb: u64,
    /// Peak RSS of the probe with the parse, kB.
    pub parse_peak_kb: u64,
    /// The difference, kB.
    pub parse_delta_kb: u64,
}

/// Everything one run produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// When (UTC, `YYYY-MM-DD HH:MM`).
    pub date: String,
    /// Where.
    pub machine: Machine,
    /// The command that produced it.
    pub command: String,
    /// Timed iterations per contender and operation.
    pub iterations: usize,
    /// Untimed warm-up iterations.
    pub warmup: usize,
    /// End-to-end results.
    pub operations: Vec<OperationResult>,
    /// Criterion figures of this run.
    pub criterion: Vec<CriterionFigure>,
    /// The config parse's memory, if probed.
    pub config_memory: Option<ConfigMemory>,
    /// Things not measured, and why.
    pub not_measured: Vec<String>,
    /// Wall-clock seconds of the end-to-end part (set-up included).
    #[serde(default)]
    pub elapsed_secs: Option<u64>,
    /// MWI latency after a mail-client change, when measured in this run.
    #[serde(default)]
    pub mwi: Option<MwiResults>,
    /// The round-trip times the suite ran at, milliseconds, in order.
    #[serde(default)]
    pub rtts: Vec<u32>,
    /// Seconds the suite spent at each round-trip time.
    #[serde(default)]
    pub rtt_secs: Vec<(u32, u64)>,
    /// How each `bench-*` folder was made ready (filled or reused, and how long).
    #[serde(default)]
    pub filled: Vec<crate::suite::Filled>,
}

/// The operations measured at `rtt` ms.
fn at_rtt(r: &Report, rtt: u32) -> Vec<&OperationResult> {
    r.operations.iter().filter(|o| o.rtt_ms == rtt).collect()
}

/// The operation `id` at `rtt` ms.
fn find<'a>(r: &'a Report, id: &str, rtt: u32) -> Option<&'a OperationResult> {
    r.operations.iter().find(|o| o.id == id && o.rtt_ms == rtt)
}

/// The round-trip times of the report: those it ran at, or those its
/// operations carry.
fn rtts(r: &Report) -> Vec<u32> {
    if !r.rtts.is_empty() {
        return r.rtts.clone();
    }
    let mut v: Vec<u32> = r.operations.iter().map(|o| o.rtt_ms).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The RTT the round-trip targets are read at: 20 ms when measured, else
/// the largest measured.
fn target_rtt(r: &Report) -> Option<u32> {
    let all = rtts(r);
    if all.contains(&20) {
        Some(20)
    } else {
        all.iter().copied().max()
    }
}

/// A round-trip target: operation, contender, bound on round trips.
struct RtTarget {
    id: &'static str,
    contender: Contender,
    max: u64,
    what: &'static str,
}

/// The round-trip targets of issue 22 (cold: STARTTLS count/list ≤ 4,
/// play/deposit ≤ 5, implicit TLS one fewer, plain count ≤ 2; warm: deposit
/// with the MWI recount ≤ 2, count ≤ 1, list ≤ 2, play ≤ 2).
const RT_TARGETS: &[RtTarget] = &[
    RtTarget {
        id: "count",
        contender: Contender::ImapvmCold,
        max: 4,
        what: "cold STARTTLS count",
    },
    RtTarget {
        id: "list-100",
        contender: Contender::ImapvmCold,
        max: 4,
        what: "cold STARTTLS list (100 voicemails)",
    },
    RtTarget {
        id: "play",
        contender: Contender::ImapvmCold,
        max: 5,
        what: "cold STARTTLS play",
    },
    RtTarget {
        id: "deposit",
        contender: Contender::ImapvmCold,
        max: 5,
        what: "cold STARTTLS deposit",
    },
    RtTarget {
        id: "count",
        contender: Contender::ImapvmColdImaps,
        max: 3,
        what: "cold imaps count",
    },
    RtTarget {
        id: "list-100",
        contender: Contender::ImapvmColdImaps,
        max: 3,
        what: "cold imaps list (100 voicemails)",
    },
    RtTarget {
        id: "play",
        contender: Contender::ImapvmColdImaps,
        max: 4,
        what: "cold imaps play",
    },
    RtTarget {
        id: "deposit",
        contender: Contender::ImapvmColdImaps,
        max: 4,
        what: "cold imaps deposit",
    },
    RtTarget {
        id: "count",
        contender: Contender::ImapvmColdPlain,
        max: 2,
        what: "cold plaintext count",
    },
    RtTarget {
        id: "deposit",
        contender: Contender::Imapvm,
        max: 2,
        what: "warm deposit incl. MWI recount",
    },
    RtTarget {
        id: "count",
        contender: Contender::Imapvm,
        max: 1,
        what: "warm count",
    },
    RtTarget {
        id: "list-100",
        contender: Contender::Imapvm,
        max: 2,
        what: "warm list (100 voicemails)",
    },
    RtTarget {
        id: "play",
        contender: Contender::Imapvm,
        max: 2,
        what: "warm play",
    },
];

/// The "round trips vs targets" table.
fn targets_section(r: &Report) -> String {
    let mut o = String::new();
    let Some(rtt) = target_rtt(r) else {
        return o;
    };
    let _ = writeln!(
        o,
        "### Round trips vs targets
"
    );
    let _ = writeln!(
        o,
        "Round trips counted on the socket by each contender's proxy at {rtt} ms (the count does not depend on the distance; times are medians at {rtt} ms).
"
    );
    let _ = writeln!(o, "| what | measured | target | ms at {rtt} ms | result |");
    let _ = writeln!(o, "|---|---:|---:|---:|---|");
    for t in RT_TARGETS {
        let s = find(r, t.id, rtt).and_then(|op| op.summary(t.contender));
        let (measured, time, mark) = match s {
            Some(s) => (
                s.round_trips.to_string(),
                ms(s.median_us),
                if s.round_trips <= t.max {
                    "met"
                } else {
                    "**not met**"
                },
            ),
            None => ("—".into(), "—".into(), "not measured"),
        };
        let _ = writeln!(
            o,
            "| {} | {measured} | ≤ {} | {time} | {mark} |",
            t.what, t.max
        );
    }
    if let Some(op) = find(r, "deposit", rtt) {
        let v = op.ratio(Contender::Imapvm, Contender::Asterisk);
        let mark = match v {
            Some(v) if v <= 0.1 => "met",
            Some(_) => "**not met**",
            None => "not measured",
        };
        let _ = writeln!(
            o,
            "| warm deposit incl. MWI recount, time vs Asterisk's replayed sequence | {} | ≤ 0.1× | {} | {mark} |",
            ratio(v),
            cell(op.summary(Contender::Imapvm))
        );
    }
    let _ = writeln!(o);
    o
}

/// The folder-size ratios: the 100,000-mail folder over the empty one.
fn folder_size_section(r: &Report) -> String {
    let mut o = String::new();
    let pairs = [
        ("list", "list-shared-100000", "list-shared-empty"),
        ("count", "count-shared-100000", "count-shared-empty"),
        (
            "list (10,000 e-mails)",
            "list-shared-10000",
            "list-shared-empty",
        ),
    ];
    let mut rows = Vec::new();
    for rtt in rtts(r) {
        for (what, big, none) in pairs {
            let (Some(big), Some(none)) = (find(r, big, rtt), find(r, none, rtt)) else {
                continue;
            };
            for c in [
                Contender::Imapvm,
                Contender::ImapvmCold,
                Contender::Asterisk,
                Contender::Floor,
            ] {
                let (Some(a), Some(b)) = (big.summary(c), none.summary(c)) else {
                    continue;
                };
                let v = (b.median_us > 0.0).then(|| a.median_us / b.median_us);
                let mark = match (c, v) {
                    (Contender::Imapvm | Contender::ImapvmCold, Some(v))
                        if what != "list (10,000 e-mails)" =>
                    {
                        if v <= 1.5 {
                            "met"
                        } else {
                            "**not met**"
                        }
                    }
                    _ => "",
                };
                rows.push(format!(
                    "| {what} | {rtt} | {} | {} | {} | {} / {} | {} | {mark} |",
                    c.label(),
                    ms(a.median_us),
                    ms(b.median_us),
                    a.round_trips,
                    b.round_trips,
                    ratio(v)
                ));
            }
        }
    }
    if rows.is_empty() {
        return o;
    }
    let _ = writeln!(
        o,
        "### Folder size: 100 voicemails among 100,000 e-mails
"
    );
    let _ = writeln!(
        o,
        "The same 100 voicemails (mailbox 2001) alone in a folder, or spread among 100,000 ordinary e-mails (and, for reference, among 10,000). Target: imapvm ≤ 1.5× the time among none, at 0 and at 20 ms.
"
    );
    let _ = writeln!(
        o,
        "| operation | RTT ms | contender | among e-mails ms | alone ms | round trips (e-mails / alone) | ratio | target ≤ 1.5× |"
    );
    let _ = writeln!(o, "|---|---:|---|---:|---:|---:|---:|---|");
    for row in rows {
        let _ = writeln!(o, "{row}");
    }
    if let Some(f) = r
        .filled
        .iter()
        .find(|f| f.folder == crate::suite::BIG_FOLDER)
    {
        let how = if f.appended > 0 {
            format!(
                "filled in this run: {} messages appended in {:.1} s ({:.0} messages/s, MULTIAPPEND commands of {} LITERAL+ messages)",
                f.appended,
                f.secs,
                f64::from(f.appended) / f.secs.max(1e-9),
                crate::scenario::MULTIAPPEND_BATCH
            )
        } else {
            format!("reused from an earlier run (checked in {:.1} s)", f.secs)
        };
        let _ = writeln!(
            o,
            "
The folder `{}` ({} messages) is kept on the private server between runs; {how}.",
            f.folder, f.messages
        );
    }
    let _ = writeln!(o);
    o
}

/// The round trips of every contender per operation, one column per contender,
/// `a / b / c` over the round-trip times.
fn round_trips_section(r: &Report) -> String {
    let mut o = String::new();
    let all = rtts(r);
    let _ = writeln!(
        o,
        "### Round trips per operation
"
    );
    let _ = writeln!(
        o,
        "Median round trips per operation counted on the socket by each contender's proxy, at {} ms (one figure per round-trip time the operation ran at).
",
        all.iter().map(u32::to_string).collect::<Vec<_>>().join(" / ")
    );
    let _ = write!(o, "| operation |");
    for c in Contender::ALL {
        let _ = write!(o, " {} |", c.label());
    }
    let _ = writeln!(o);
    let _ = writeln!(o, "|---|{}", "---:|".repeat(Contender::ALL.len()));
    let mut seen = Vec::new();
    for op in &r.operations {
        if seen.contains(&op.id.as_str()) {
            continue;
        }
        seen.push(op.id.as_str());
        let _ = write!(o, "| {} |", op.title);
        for c in Contender::ALL {
            let counts: Vec<String> = all
                .iter()
                .filter_map(|&rtt| find(r, &op.id, rtt))
                .map(|op| {
                    op.summary(c)
                        .map_or_else(|| "—".to_owned(), |s| s.round_trips.to_string())
                })
                .collect();
            let _ = write!(o, " {} |", counts.join(" / "));
        }
        let _ = writeln!(o);
    }
    let _ = writeln!(o);
    o
}

/// `YYYY-MM-DD HH:MM` (UTC) of a Unix time.
pub fn utc_minute(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        secs / 3600,
        (secs % 3600) / 60
    )
}

fn ms(us: f64) -> String {
    let v = us / 1000.0;
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else if v >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

fn bytes(n: u64) -> String {
    if n >= 10 * 1024 * 1024 {
        format!("{:.1} MiB", n as f64 / 1_048_576.0)
    } else if n >= 10 * 1024 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{n} B")
    }
}

fn ratio(r: Option<f64>) -> String {
    match r {
        Some(r) if r >= 10.0 => format!("{r:.0}×"),
        Some(r) => format!("{r:.2}×"),
        None => "—".into(),
    }
}

fn cell(s: Option<&Summary>) -> String {
    s.map_or_else(|| "not measured".into(), |s| ms(s.median_us))
}

fn figure<'a>(r: &'a Report, group: &str, function: &str) -> Option<&'a CriterionFigure> {
    r.criterion
        .iter()
        .find(|f| f.group == group && f.function == function)
}

fn ns(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2} ms", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1} µs", v / 1e3)
    } else {
        format!("{v:.0} ns")
    }
}

/// What imapvm (warm) exchanged beyond the floor, in words.
pub fn why(op: &OperationResult) -> String {
    let (Some(i), Some(f)) = (op.summary(Contender::Imapvm), op.summary(Contender::Floor)) else {
        return String::new();
    };
    let mut parts = Vec::new();
    if i.round_trips > f.round_trips {
        parts.push(format!(
            "{} round trips where the floor needs {}",
            i.round_trips, f.round_trips
        ));
    }
    let (iw, fw) = (i.bytes_in + i.bytes_out, f.bytes_in + f.bytes_out);
    if iw as f64 > fw as f64 * 1.1 {
        parts.push(format!("{} on the wire vs {}", bytes(iw), bytes(fw)));
    }
    if parts.is_empty() {
        "same round trips and about the same bytes as the floor: the extra time is spent in the \
         client"
            .into()
    } else {
        parts.join("; ")
    }
}

/// One row of the goals table.
fn goal_line(ok: Option<bool>, text: &str) -> String {
    let mark = match ok {
        Some(true) => "met",
        Some(false) => "**missed**",
        None => "not measured",
    };
    format!("| {text} | {mark} |\n")
}

/// The whole `docs/performance.md`; `chart` is the SVG's file name beside it.
pub fn markdown(r: &Report, chart: &str) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# Performance\n");
    let _ = writeln!(
        o,
        "Generated by `{}` on {} UTC. Every figure below comes from that one run on one \
         machine; compare ratios, not absolute times, across machines.\n",
        r.command, r.date
    );
    let _ = writeln!(
        o,
        "![median latency per operation and contender]({chart})\n"
    );
    let _ = writeln!(o, "## Machine\n");
    let _ = writeln!(o, "| CPUs | CPU | kernel | IMAP server | Rust |");
    let _ = writeln!(o, "|---|---|---|---|---|");
    let m = &r.machine;
    let _ = writeln!(
        o,
        "| {} | {} | {} | Dovecot {} (private, loopback) | {} |\n",
        m.cpus, m.cpu_model, m.kernel, m.dovecot, m.rustc
    );

    let _ = writeln!(o, "## End-to-end operations\n");
    let _ = writeln!(
        o,
        "Median latency in milliseconds over {} timed iterations (after {} untimed warm-up \
         iterations); contenders run interleaved, one iteration each per round, in an order \
         that changes each round (over every few rounds each runs at each place, and right \
         after each other one, equally often). Ratios are of medians. p99 is nearest-rank: \
         with fewer than 100 iterations it is the slowest \
         iteration.{}\n",
        r.iterations,
        r.warmup,
        r.elapsed_secs.map_or_else(String::new, |s| format!(
            " The end-to-end part (folder set-up included) took {s} s."
        ))
    );
    if !r.rtt_secs.is_empty() {
        let _ = writeln!(
            o,
            "Every contender connects through a latency proxy of its own (a one-way delay \
             of half the round-trip time added to every chunk, each way; no jitter), which \
             counts its round trips and bytes on the socket. Seconds spent per round-trip \
             time: {}.\n",
            r.rtt_secs
                .iter()
                .map(|(rtt, secs)| format!("{rtt} ms: {secs} s"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    for rtt in rtts(r) {
        let ops = at_rtt(r, rtt);
        if ops.is_empty() {
            continue;
        }
        let iterations = ops
            .iter()
            .flat_map(|op| op.results.iter().filter_map(|m| m.summary.as_ref()))
            .map(|s| s.iterations)
            .max()
            .unwrap_or(0);
        let _ = writeln!(
            o,
            "### At {rtt} ms round-trip time ({iterations} timed iterations)\n"
        );
        let _ = writeln!(
            o,
            "| operation | Asterisk 22 | imapvm (warm) | imapvm (cold, STARTTLS) | imapvm (cold, imaps) | imapvm (cold, plain) | floor | imapvm/Asterisk | imapvm/floor | Asterisk/floor |"
        );
        let _ = writeln!(o, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for op in ops {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                op.title,
                cell(op.summary(Contender::Asterisk)),
                cell(op.summary(Contender::Imapvm)),
                cell(op.summary(Contender::ImapvmCold)),
                cell(op.summary(Contender::ImapvmColdImaps)),
                cell(op.summary(Contender::ImapvmColdPlain)),
                cell(op.summary(Contender::Floor)),
                ratio(op.ratio(Contender::Imapvm, Contender::Asterisk)),
                ratio(op.ratio(Contender::Imapvm, Contender::Floor)),
                ratio(op.ratio(Contender::Asterisk, Contender::Floor)),
            );
        }
        let _ = writeln!(o);
    }
    o.push_str(&targets_section(r));
    o.push_str(&round_trips_section(r));
    o.push_str(&folder_size_section(r));
    let _ = writeln!(o, "### Per operation: p99, round trips, bytes\n");
    let mut seen: Vec<&str> = Vec::new();
    for first in &r.operations {
        if seen.contains(&first.id.as_str()) {
            continue;
        }
        seen.push(first.id.as_str());
        let _ = writeln!(o, "**{}** (`{}`)\n", first.title, first.id);
        let _ = writeln!(
            o,
            "| RTT ms | contender | median ms | p99 ms | round trips | bytes out | bytes in | note |"
        );
        let _ = writeln!(o, "|---:|---|---:|---:|---:|---:|---:|---|");
        for op in r.operations.iter().filter(|op| op.id == first.id) {
            for c in Contender::ALL {
                let Some(m) = op.results.iter().find(|m| m.contender == c) else {
                    continue;
                };
                match &m.summary {
                    Some(s) => {
                        let _ = writeln!(
                            o,
                            "| {} | {} | {} | {} | {} | {} | {} | {} |",
                            op.rtt_ms,
                            c.label(),
                            ms(s.median_us),
                            ms(s.p99_us),
                            s.round_trips,
                            bytes(s.bytes_out),
                            bytes(s.bytes_in),
                            m.note
                        );
                    }
                    None => {
                        let _ = writeln!(
                            o,
                            "| {} | {} | — | — | — | — | — | {} |",
                            op.rtt_ms,
                            c.label(),
                            m.note
                        );
                    }
                }
            }
        }
        let _ = writeln!(o);
    }

    o.push_str(&mwi_section(r));

    let _ = writeln!(o, "## Goals\n");
    let _ = writeln!(
        o,
        "Where imapvm misses the floor goal, the row says what it exchanged beyond the \
         floor: more round trips or more bytes point at the protocol, the same round trips \
         and bytes at time spent inside the client.\n"
    );
    let _ = writeln!(
        o,
        "The goals below are judged at 0 ms (loopback); the round-trip and folder-size \
         targets at a distance are in the tables above.\n"
    );
    let _ = writeln!(o, "| goal | result |\n|---|---|");
    let zero = at_rtt(r, 0);
    for op in &zero {
        let v = op.ratio(Contender::Imapvm, Contender::Floor);
        let mut text = format!("imapvm/floor ≤ 1.2: {} ({})", op.title, ratio(v));
        if v.is_some_and(|v| v > 1.2) {
            text.push_str(&format!(" — {}", why(op)));
        }
        o.push_str(&goal_line(v.map(|v| v <= 1.2), &text));
    }
    for id in ["deposit", "count"] {
        if let Some(op) = find(r, id, 0) {
            let v = op.ratio(Contender::Imapvm, Contender::Asterisk);
            let mut text = format!("imapvm/Asterisk ≤ 0.1: {} ({})", op.title, ratio(v));
            let floor = op.ratio(Contender::Floor, Contender::Asterisk);
            if v.is_some_and(|v| v > 0.1)
                && let Some(f) = floor.filter(|f| *f > 0.1)
            {
                text.push_str(&format!(
                    " — out of reach on this server: even the floor takes {} of Asterisk's time",
                    ratio(Some(f))
                ));
            }
            o.push_str(&goal_line(v.map(|v| v <= 0.1), &text));
        }
    }
    let full = find(r, "list-shared-10000", 0);
    let empty = find(r, "list-shared-empty", 0);
    let flat = |c: Contender| -> Option<f64> {
        let (a, b) = (full?.summary(c)?, empty?.summary(c)?);
        (b.median_us > 0.0).then(|| a.median_us / b.median_us)
    };
    let v = flat(Contender::Imapvm);
    let mut text = format!(
        "listing flat in ordinary mail: shared folder with 10,000 e-mails / without, imapvm \
         ≤ 1.5 ({}; Asterisk {}, floor {})",
        ratio(v),
        ratio(flat(Contender::Asterisk)),
        ratio(flat(Contender::Floor))
    );
    if v.is_some_and(|v| v > 1.5) && flat(Contender::Floor).is_some_and(|f| f > 1.5) {
        text.push_str(
            " — the floor grows too: the server's `SEARCH HEADER` reads every message of the \
             folder, which no client-side change avoids",
        );
    }
    o.push_str(&goal_line(v.map(|v| v <= 1.5), &text));
    o.push_str(&mwi_goals(r.mwi.as_ref()));
    let _ = writeln!(o);

    let _ = writeln!(o, "## Codec and core (criterion)\n");
    let _ = writeln!(
        o,
        "Medians from criterion (`target/criterion/*/xtask-bench/estimates.json`, saved by \
         this run as baseline `xtask-bench`; HTML reports in \
         `target/criterion/report/index.html`). Each line compares two functions \
         of one benchmark binary, measured in the same run.\n"
    );
    let _ = writeln!(
        o,
        "| comparison | ours | baseline | ratio | goal | result |"
    );
    let _ = writeln!(o, "|---|---:|---:|---:|---|---|");
    for c in COMPARISONS {
        let (ours, base) = (figure(r, c.group, c.ours), figure(r, c.group, c.baseline));
        match (ours, base) {
            (Some(a), Some(b)) if a.median_ns > 0.0 && b.median_ns > 0.0 => {
                let (value, ok) = match c.ratio {
                    RatioKind::Speedup => {
                        let v = b.median_ns / a.median_ns;
                        (format!("{v:.1}× faster"), v >= c.bound)
                    }
                    RatioKind::Overhead => {
                        let v = a.median_ns / b.median_ns;
                        (format!("{v:.2}×"), v <= c.bound)
                    }
                };
                let result = if c.bound.is_finite() {
                    if ok { "met" } else { "**missed**" }
                } else {
                    "—"
                };
                let _ = writeln!(
                    o,
                    "| {} | {} | {} | {} | {} | {} |",
                    c.title,
                    ns(a.median_ns),
                    ns(b.median_ns),
                    value,
                    c.goal,
                    result
                );
            }
            _ => {
                let _ = writeln!(
                    o,
                    "| {} | — | — | — | {} | not measured in this run |",
                    c.title, c.goal
                );
            }
        }
    }
    let _ = writeln!(o);
    match &r.config_memory {
        Some(m) => {
            let _ = writeln!(
                o,
                "Config memory: parsing the {}-mailbox voicemail.conf ({}) raises the peak \
                 resident set by **{} kB** ({} kB peak with the parse, {} kB for a probe that \
                 builds the same text and does not parse it).\n",
                m.mailboxes,
                bytes(m.config_bytes),
                m.parse_delta_kb,
                m.parse_peak_kb,
                m.baseline_peak_kb
            );
        }
        None => {
            let _ = writeln!(o, "Config memory: not measured in this run.\n");
        }
    }

    let _ = writeln!(o, "## Not measured\n");
    if r.not_measured.is_empty() {
        let _ = writeln!(
            o,
            "Nothing beyond what the tables above mark as not measured or not counted."
        );
    }
    for n in &r.not_measured {
        let _ = writeln!(o, "* {n}");
    }
    let _ = writeln!(o);

    let _ = writeln!(o, "## How it was measured\n");
    let _ = writeln!(
        o,
        "* **Server**: the private Dovecot of `cargo xtask dovecot` on loopback. The warm \
         comparisons run over **plain TCP without TLS** for every contender (the same \
         socket costs for all); the cold imapvm rows include connect, TLS (STARTTLS on the \
         main port, or implicit TLS on the imaps port; none for *plain*), login, the \
         operation and `Store::close` (LOGOUT) per iteration, as a command of the CLI does.\n\
         * **Distance**: every contender connects through its own latency proxy \
         (`imapvm_testkit::latency`, started by the suite): each direction delivers every \
         chunk half the round-trip time after it was read, in order, half-closes passed \
         on; warm connections stay open while the delay changes. Timed iterations at a \
         distance: the 0 ms count × 5 / (5 + RTT), at least 3, after one warm-up; \
         *MWI count, all 100 mailboxes* runs at 0 ms only (Asterisk's 1,500 round trips), \
         the shared-folder scenarios at 0 and 20 ms.\n\
         * **Asterisk 22**: a replayer sends, over a raw socket, the exact command sequence \
         Asterisk 22.10.1 (app_voicemail_imap on c-client) sent in the recorded traces, one \
         command at a time, waiting for each tagged reply as c-client does, including \
         c-client's envelope prefetch after every SEARCH with hits and its BODYSTRUCTURE \
         lookahead. The mailbox, folder and message size are the scenario's. Sources are in \
         `benches/fixtures/asterisk-sequences.txt` and checked against the traces by a test.\n\
         * **floor**: the least a perfect client exchanges for the same result on a warm \
         connection with the folder selected, as one pipelined flight (LITERAL+ APPEND, \
         ESEARCH `RETURN (COUNT)`, SEARCHRES `RETURN (SAVE)` + `UID FETCH $`, \
         `UID FETCH BODY.PEEK[2]`, `UID STORE` + `UID EXPUNGE`), parsing nothing beyond the \
         tagged replies.\n\
         * **Round trips** and **bytes** are counted on the socket by each contender's proxy, \
         the same way for all: a round trip is a client flight (its bytes since the server \
         last spoke) that the server answers before the client closes; the TCP connect and \
         an unasked greeting are free, a TLS 1.3 handshake costs one, a LOGOUT the client \
         does not wait for costs none. Bytes include TLS records. At 0 ms a flight split \
         by the scheduler can count twice; the medians hide such rare splits.\n\
         * Each operation runs in a `bench-*` folder of its own (created, filled by MULTIAPPEND commands \
         of LITERAL+ messages, deleted at the end; the 100,000-mail folder is kept). Per-iteration preparation (a message to \
         delete, removing the deposited message) is not timed.\n\
         * **Deposit**: an urgent 30 s wav49 voicemail (about 49 KB of audio, 67 KB as a \
         message) into a folder holding 10 voicemails; Asterisk's sequence includes its greeting \
         lookup, counts, quota checks and the EXPUNGE at hangup, imapvm's deposit returns the \
         new counts, the floor pipelines the APPEND with the three counts.\n\
         * **Counts**: *one mailbox* counts new/old/urgent in a folder of 10 voicemails. *All \
         100 mailboxes*: the private server has four users, so the 100 mailboxes share one \
         account and one folder (3 voicemails each); Asterisk's count sequence is replayed once \
         per mailbox on one connection, imapvm counts all 100 with `Store::count_many` (the boxes \
         of one account in one pipelined flight) on its warm connection, the floor sends all \
         300 `ESEARCH COUNT`s in one flight.\n\
         * **Listings**: Asterisk's figure is VoiceMailMain opening the mailbox (the Old, New and \
         Urgent searches with c-client's envelope prefetch of every hit, quota checks), which is \
         what it does before it can say how many messages there are; imapvm's `list()` and the \
         floor fetch the listing's header fields of every voicemail. The shared folders hold \
         voicemails of mailbox 2001 spread among 10,000 ordinary e-mails, or alone.\n\
         * **Play**: the first of three messages, 60 s of wav49 (about 97 KB of audio).\n\
         * **Delete**: one message, added before each iteration to a folder of 10.\n"
    );
    let _ = writeln!(o, "| operation | Asterisk sequence from |");
    let _ = writeln!(o, "|---|---|");
    let mut listed: Vec<&str> = Vec::new();
    for op in &r.operations {
        if listed.contains(&op.id.as_str()) {
            continue;
        }
        listed.push(op.id.as_str());
        let _ = writeln!(o, "| {} | {} |", op.title, op.asterisk_source);
    }
    let _ = writeln!(o);
    let _ = writeln!(o, "## Reproduce\n");
    let _ = writeln!(
        o,
        "```sh\ncargo xtask bench            # the default run (this file and {chart})\n\
         cargo xtask bench --quick    # a fast, noisier run\n\
         cargo xtask bench --iterations 100\n\
         cargo xtask bench --rtt 0,20 # only these round-trip times (ms)\n\
         cargo xtask bench --no-mwi   # without the MWI latency bench (about 2 minutes less)\n\
         # the MWI bench alone, full size with the scale phases (target/bench-mwi.json):\n\
         cargo bench -p imapvm-benches --bench mwi_latency\n```"
    );
    o
}

/// The push strategies the MWI goal is judged on: (label, phase).
fn push_phases(m: &MwiResults) -> [(&'static str, Option<&PhaseResult>); 2] {
    [
        ("imapvm with NOTIFY", m.notify.as_ref()),
        ("imapvm with IDLE", m.idle.as_ref()),
    ]
}

/// The goal rows "MWI p99 under 1 s", one per push strategy.
fn mwi_goals(m: Option<&MwiResults>) -> String {
    let Some(m) = m else {
        return goal_line(
            None,
            "MWI p99 under 1 s after a mail-client change (the MWI bench did not run in this run)",
        );
    };
    let mut o = String::new();
    for (label, phase) in push_phases(m) {
        match phase.filter(|p| p.complete()) {
            Some(p) => {
                let (key, worst) = p.worst_p99();
                let mut text = format!(
                    "MWI p99 under 1 s after a mail-client change, {label}: worst kind {}, p99 \
                     {} ms",
                    kind_name(key),
                    ms_ms(worst.p99_ms)
                );
                if let Some(f) = m.floor.as_ref().and_then(|f| f.kind(key)) {
                    text.push_str(&format!(
                        " (the floor, the server's own notification: p99 {} ms)",
                        ms_ms(f.p99_ms)
                    ));
                }
                o.push_str(&goal_line(Some(worst.p99_ms < 1000.0), &text));
            }
            None => o.push_str(&goal_line(
                None,
                &format!("MWI p99 under 1 s after a mail-client change, {label}"),
            )),
        }
    }
    o
}

fn kind_name(key: &str) -> &'static str {
    mwi::KINDS.iter().find(|k| k.0 == key).map_or("?", |k| k.1)
}

/// Milliseconds given in milliseconds.
fn ms_ms(v: f64) -> String {
    ms(v * 1000.0)
}

/// `a / b` of two latencies, if `b` is positive.
fn over(a: f64, b: f64) -> Option<f64> {
    (b > 0.0).then(|| a / b)
}

fn per_change(v: f64) -> String {
    if v >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// The section "MWI latency after a mail-client change".
fn mwi_section(r: &Report) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "## MWI latency after a mail-client change\n");
    let Some(m) = &r.mwi else {
        let _ = writeln!(
            o,
            "Not measured in this run (see *Not measured* below). `cargo xtask bench` runs the \
             MWI bench (`benches/benches/mwi_latency.rs`) before the end-to-end suite and \
             quotes its results only when they were written during the same run.\n"
        );
        return o;
    };
    let _ = writeln!(
        o,
        "An independent client (a raw socket, not imapvm) changes a voicemail box's INBOX on \
         the private Dovecot. Each latency runs from the moment that client read its change's \
         tagged OK to the moment the contender knew of the change: for imapvm and the polling \
         rows, the watcher's MWI event (`imapvm_watch::Watcher`, the stream `imapvm watch` prints); for \
         the floor, the first untagged response about that change on a raw IDLE connection \
         (`FETCH` for a flag change, `EXPUNGE` for an expunge, `EXISTS` for an APPEND). Each \
         mailbox is its own IMAP user; boxes of one phase are measured in parallel, changes on \
         one box one after the other.\n"
    );
    let _ = writeln!(
        o,
        "* **imapvm**: the watcher with NOTIFY (RFC 5465), and the watcher with IDLE \
         (NOTIFY not used).\n\
         * **Asterisk**: Asterisk learns of a mail client's change only by polling \
         (`pollmailboxes=yes`) every `pollfreq` seconds, 30 by default. The rows are imapvm's \
         poll strategy, which is Asterisk's method (a recount every `pollfreq`), at \
         `pollfreq=30` (Asterisk's default; the imapvm/Asterisk ratios are against it) and at \
         `pollfreq=1`; each change comes at a random moment of the poll cycle.\n\
         * **floor**: a raw-socket IDLE client on the same folder, during the NOTIFY and IDLE \
         phases (the same changes): the server's own notification delay, which no client \
         can beat.\n"
    );
    if !m.dovecot_settings.is_empty() {
        let _ = writeln!(
            o,
            "Dovecot: {}.\n",
            m.dovecot_settings.trim_end_matches('.')
        );
    }
    let _ = writeln!(o, "Kinds of change:\n");
    for (_, short, long) in mwi::KINDS {
        let _ = writeln!(o, "* **{short}**: {long}.");
    }
    let _ = writeln!(o);

    let rows: [(&str, &str, Option<&PhaseResult>); 5] = [
        ("imapvm", "NOTIFY", m.notify.as_ref()),
        ("imapvm", "IDLE", m.idle.as_ref()),
        ("Asterisk", "polling, pollfreq=30", m.poll_30s.as_ref()),
        ("Asterisk", "polling, pollfreq=1", m.poll_1s.as_ref()),
        ("floor", "raw IDLE client", m.floor.as_ref()),
    ];
    let _ = writeln!(
        o,
        "Sample sizes ({}{}):\n",
        if m.mode == "budget" {
            "the sized-down MWI run of `cargo xtask bench`"
        } else {
            "a full run of the MWI bench"
        },
        if m.elapsed_seconds > 0.0 {
            format!(", {:.0} s in all", m.elapsed_seconds)
        } else {
            String::new()
        }
    );
    let _ = writeln!(
        o,
        "| contender | how | boxes per kind | changes per box | set-up s | measured s |"
    );
    let _ = writeln!(o, "|---|---|---:|---:|---:|---:|");
    for (who, how, phase) in rows {
        match phase {
            Some(_) if who == "floor" => {
                let _ = writeln!(
                    o,
                    "| {who} | {how} | the NOTIFY and IDLE phases' boxes and changes | | | |"
                );
            }
            Some(p) => {
                let _ = writeln!(
                    o,
                    "| {who} | {how} | {} | {} | {:.0} | {:.0} |",
                    p.boxes_per_kind, p.changes_per_box, p.setup_seconds, p.seconds
                );
            }
            None => {
                let _ = writeln!(o, "| {who} | {how} | not measured | | | |");
            }
        }
    }
    let _ = writeln!(o);

    let asterisk = m.poll_30s.as_ref();
    for (key, short, _) in mwi::KINDS {
        let _ = writeln!(o, "**{short}**\n");
        let _ = writeln!(
            o,
            "| contender | how | p50 ms | p99 ms | samples | round trips / change | bytes out / \
             change | bytes in / change | imapvm/Asterisk p50 | imapvm/Asterisk p99 | \
             imapvm/floor p50 | imapvm/floor p99 |"
        );
        let _ = writeln!(
            o,
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        let base = |p: Option<&PhaseResult>| -> Option<KindLatency> {
            p.and_then(|p| p.kind(key))
                .filter(|k| k.samples > 0)
                .cloned()
        };
        let (a, f) = (base(asterisk), base(m.floor.as_ref()));
        for (who, how, phase) in rows {
            let Some(k) = base(phase) else {
                let _ = writeln!(o, "| {who} | {how} | not measured | | | | | | | | | |");
                continue;
            };
            let (rt, out, inn) = match &k.wire {
                Some(w) => (
                    per_change(w.round_trips),
                    per_change(w.bytes_out),
                    per_change(w.bytes_in),
                ),
                None => (
                    "not counted".into(),
                    "not counted".into(),
                    "not counted".into(),
                ),
            };
            let ratios = if who == "imapvm" {
                let r = |x: Option<&KindLatency>, p99: bool| {
                    ratio(x.and_then(|x| {
                        if p99 {
                            over(k.p99_ms, x.p99_ms)
                        } else {
                            over(k.p50_ms, x.p50_ms)
                        }
                    }))
                };
                format!(
                    "{} | {} | {} | {}",
                    r(a.as_ref(), false),
                    r(a.as_ref(), true),
                    r(f.as_ref(), false),
                    r(f.as_ref(), true)
                )
            } else {
                "| | |".into()
            };
            let mut samples = k.samples.to_string();
            if k.missing > 0 {
                samples.push_str(&format!(" ({} missing)", k.missing));
            }
            let _ = writeln!(
                o,
                "| {who} | {how} | {} | {} | {samples} | {rt} | {out} | {inn} | {ratios} |",
                ms_ms(k.p50_ms),
                ms_ms(k.p99_ms)
            );
        }
        let _ = writeln!(o);
    }

    let mut notes = Vec::new();
    if !m.wire_note.is_empty() {
        notes.push(m.wire_note.trim_end_matches('.').to_owned() + ".");
    }
    notes.push(
        "A polling connection pays its cycle every `pollfreq` for every mailbox whether or not \
         anything changed; with NOTIFY or IDLE the connection is silent until the server \
         reports a change."
            .to_owned(),
    );
    if let Some(s) = r
        .operations
        .iter()
        .find(|op| op.id == "count")
        .and_then(|op| op.summary(Contender::Asterisk))
    {
        notes.push(format!(
            "Asterisk 22's own poll cycle for one mailbox is the count sequence of \
             `poll-cycle-vm1234.trace` ({} round trips, {} out, {} in: the row *MWI count, one \
             mailbox* above); the polling rows here count imapvm's cycle.",
            s.round_trips,
            bytes(s.bytes_out),
            bytes(s.bytes_in)
        ));
    }
    let early: usize = rows
        .iter()
        .filter_map(|r| r.2)
        .flat_map(|p| [&p.store_seen, &p.append, &p.expunge])
        .map(|k| k.events_before_completion)
        .sum();
    if early > 0 {
        notes.push(format!(
            "{early} notification(s) arrived before the change's tagged OK reached the client \
             and count as 0 ms."
        ));
    }
    let errors: Vec<String> = rows
        .iter()
        .filter_map(|(who, how, p)| {
            let p = (*p)?;
            (!p.watch_errors.is_empty()).then(|| {
                format!(
                    "{who} ({how}): {} watcher error event(s), first: {}",
                    p.watch_errors.len(),
                    p.watch_errors[0]
                )
            })
        })
        .collect();
    notes.extend(errors);
    if m.mode == "budget" {
        notes.push(
            "The scale phases (1,000 and 10,000 watched mailboxes) are not part of this run: \
             `cargo bench -p imapvm-benches --bench mwi_latency` runs them."
                .to_owned(),
        );
    }
    for n in notes {
        let _ = writeln!(o, "* {n}");
    }
    let _ = writeln!(o);
    o
}

const COLORS: [(Contender, &str); 5] = [
    (Contender::Asterisk, "#d62728"),
    (Contender::Imapvm, "#1f77b4"),
    (Contender::ImapvmCold, "#9ecae1"),
    (Contender::ImapvmColdImaps, "#9467bd"),
    (Contender::Floor, "#2ca02c"),
];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// [`svg`] of every operation at every round-trip time, each operation's
/// distances together, titled with their RTT.
pub fn svg_by_rtt(operations: &[OperationResult]) -> String {
    let mut order: Vec<&str> = Vec::new();
    for op in operations {
        if !order.contains(&op.id.as_str()) {
            order.push(op.id.as_str());
        }
    }
    let mut ops: Vec<OperationResult> = operations.to_vec();
    ops.sort_by_key(|op| (order.iter().position(|id| *id == op.id), op.rtt_ms));
    for op in &mut ops {
        op.title = format!("{} at {} ms", op.title, op.rtt_ms);
    }
    svg(&ops)
}

/// A horizontal bar chart of median latency (log scale) per operation and
/// contender; contenders not measured get no bar and a note.
pub fn svg(operations: &[OperationResult]) -> String {
    // About 6 px per character at font-size 11, plus a margin.
    let longest = operations
        .iter()
        .map(|op| op.title.chars().count())
        .max()
        .unwrap_or(0);
    let label_w = (longest as f64 * 6.0 + 24.0).max(200.0);
    let plot_w = 560.0;
    let bar_h = 11.0;
    let group_gap = 14.0;
    let top = 56.0;
    let values: Vec<f64> = operations
        .iter()
        .flat_map(|op| op.results.iter().filter_map(|m| m.summary.as_ref()))
        .map(|s| s.median_us / 1000.0)
        .filter(|v| *v > 0.0)
        .collect();
    let lo = values
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min)
        .log10()
        .floor()
        .min(0.0);
    let hi = values
        .iter()
        .copied()
        .fold(0.01f64, f64::max)
        .log10()
        .ceil()
        .max(lo + 1.0);
    let x = |v: f64| label_w + (v.log10() - lo) / (hi - lo) * plot_w;
    let group_h = bar_h * COLORS.len() as f64 + group_gap;
    let height = top + group_h * operations.len() as f64 + 40.0;
    let width = label_w + plot_w + 80.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" \
         viewBox=\"0 0 {width:.0} {height:.0}\" font-family=\"sans-serif\" font-size=\"11\">"
    );
    let _ = writeln!(
        s,
        "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"10\" y=\"18\" font-size=\"14\" font-weight=\"bold\">Median latency per \
         operation (ms, log scale; lower is better)</text>"
    );
    for (i, (c, color)) in COLORS.iter().enumerate() {
        let lx = 10.0 + i as f64 * 170.0;
        let _ = writeln!(
            s,
            "<rect x=\"{lx:.0}\" y=\"28\" width=\"12\" height=\"10\" fill=\"{color}\"/>\
             <text x=\"{:.0}\" y=\"37\">{}</text>",
            lx + 16.0,
            esc(c.label())
        );
    }
    let bottom = top + group_h * operations.len() as f64;
    let mut decade = lo as i32;
    while f64::from(decade) <= hi {
        let v = 10f64.powi(decade);
        let gx = x(v);
        let label = if v >= 1.0 {
            format!("{v:.0}")
        } else {
            format!("{v}")
        };
        let _ = writeln!(
            s,
            "<line x1=\"{gx:.1}\" y1=\"{:.0}\" x2=\"{gx:.1}\" y2=\"{bottom:.0}\" stroke=\"#ddd\"/>\
             <text x=\"{gx:.1}\" y=\"{:.0}\" text-anchor=\"middle\">{label} ms</text>",
            top - 6.0,
            bottom + 14.0
        );
        decade += 1;
    }
    for (g, op) in operations.iter().enumerate() {
        let gy = top + g as f64 * group_h;
        let _ = writeln!(
            s,
            "<text x=\"{:.0}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            label_w - 8.0,
            gy + bar_h * 2.0 + 3.0,
            esc(&op.title)
        );
        for (i, (c, color)) in COLORS.iter().enumerate() {
            let y = gy + i as f64 * bar_h;
            match op.summary(*c) {
                Some(sm) if sm.median_us > 0.0 => {
                    let v = sm.median_us / 1000.0;
                    let w = (x(v) - label_w).max(1.0);
                    let _ = writeln!(
                        s,
                        "<rect x=\"{label_w:.0}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{:.1}\" \
                         fill=\"{color}\"><title>{}: {} ms</title></rect>\
                         <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"9\">{}</text>",
                        bar_h - 1.0,
                        esc(c.label()),
                        ms(sm.median_us),
                        label_w + w + 3.0,
                        y + bar_h - 2.0,
                        ms(sm.median_us)
                    );
                }
                _ => {
                    if op.results.iter().any(|m| m.contender == *c) {
                        let _ = writeln!(
                            s,
                            "<text x=\"{:.0}\" y=\"{:.1}\" font-size=\"9\" fill=\"#888\">{} not measured</text>",
                            label_w + 3.0,
                            y + bar_h - 2.0,
                            esc(c.label())
                        );
                    }
                }
            }
        }
    }
    s.push_str("</svg>\n");
    s
}
