//! The measurement harness: latency percentiles, wire counters, results.
//!
//! Contenders of one operation run interleaved (iteration 1 of each, then
//! iteration 2 of each, ...), so slow drifts of the machine hit all alike.
//! Only the operation itself is timed; the per-iteration preparation (such as
//! putting a message in place to delete) is not.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::wire::WireStats;

/// Who performed an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Contender {
    /// imapvm's library API on a warm (connected, logged-in) store.
    Imapvm,
    /// imapvm including connect, STARTTLS and login (a new store per iteration).
    ImapvmCold,
    /// imapvm including connect, implicit TLS (imaps) and login.
    ImapvmColdImaps,
    /// imapvm including connect and login, plain text (no TLS).
    ImapvmColdPlain,
    /// Asterisk 22's recorded command sequence, replayed.
    Asterisk,
    /// The least a perfect client exchanges.
    Floor,
}

impl Contender {
    /// Every contender, in report order.
    pub const ALL: [Contender; 6] = [
        Contender::Imapvm,
        Contender::ImapvmCold,
        Contender::ImapvmColdImaps,
        Contender::ImapvmColdPlain,
        Contender::Asterisk,
        Contender::Floor,
    ];

    /// The name used in tables and the chart.
    pub fn label(self) -> &'static str {
        match self {
            Contender::Imapvm => "imapvm (warm)",
            Contender::ImapvmCold => "imapvm (cold, STARTTLS)",
            Contender::ImapvmColdImaps => "imapvm (cold, imaps)",
            Contender::ImapvmColdPlain => "imapvm (cold, plain)",
            Contender::Asterisk => "Asterisk 22",
            Contender::Floor => "floor",
        }
    }
}

/// Order statistics of one contender on one operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Timed iterations.
    pub iterations: usize,
    /// Median latency, microseconds.
    pub median_us: f64,
    /// 99th percentile latency (nearest rank), microseconds.
    pub p99_us: f64,
    /// Fastest iteration, microseconds.
    pub min_us: f64,
    /// Median round trips per operation.
    pub round_trips: u64,
    /// Median bytes sent per operation.
    pub bytes_out: u64,
    /// Median bytes received per operation.
    pub bytes_in: u64,
}

/// The value at percentile `p` (0–100) of ascending `sorted`, nearest rank;
/// 0 for an empty slice.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The median of ascending `sorted` (mean of the middle two for even counts).
pub fn median(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

fn median_u64(mut values: Vec<u64>) -> u64 {
    values.sort_unstable();
    values.get(values.len() / 2).copied().unwrap_or(0)
}

/// Summarises timed samples and their wire counters.
pub fn summarize(latencies: &[Duration], wire: &[WireStats]) -> Summary {
    let mut us: Vec<f64> = latencies.iter().map(|d| d.as_secs_f64() * 1e6).collect();
    us.sort_by(f64::total_cmp);
    Summary {
        iterations: us.len(),
        median_us: median(&us),
        p99_us: percentile(&us, 99.0),
        min_us: us.first().copied().unwrap_or(0.0),
        round_trips: median_u64(wire.iter().map(|w| w.round_trips).collect()),
        bytes_out: median_u64(wire.iter().map(|w| w.bytes_out).collect()),
        bytes_in: median_u64(wire.iter().map(|w| w.bytes_in).collect()),
    }
}

/// One contender's result on one operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    /// Who.
    pub contender: Contender,
    /// The numbers, or `None` when not measured.
    pub summary: Option<Summary>,
    /// Why it was not measured, or a remark on how.
    pub note: String,
}

/// Everything measured for one operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperationResult {
    /// Short id (`deposit`, `list-100`, ...).
    pub id: String,
    /// What the row means.
    pub title: String,
    /// Where Asterisk's sequence comes from (trace and lines).
    pub asterisk_source: String,
    /// One entry per contender.
    pub results: Vec<Measured>,
    /// The round-trip time the latency proxy added, milliseconds (0: none).
    #[serde(default)]
    pub rtt_ms: u32,
}

impl OperationResult {
    /// The summary of `contender`, if measured.
    pub fn summary(&self, contender: Contender) -> Option<&Summary> {
        self.results
            .iter()
            .find(|m| m.contender == contender)
            .and_then(|m| m.summary.as_ref())
    }

    /// median(a) / median(b), if both were measured.
    pub fn ratio(&self, a: Contender, b: Contender) -> Option<f64> {
        let (a, b) = (self.summary(a)?, self.summary(b)?);
        (b.median_us > 0.0).then(|| a.median_us / b.median_us)
    }
}

/// Untimed preparation of one iteration (argument: iteration index).
pub type Prepare<'a> = Box<dyn FnMut(usize) -> Result<()> + 'a>;
/// The timed operation; returns the wire counters it caused.
pub type Operate<'a> = Box<dyn FnMut(usize) -> Result<WireStats> + 'a>;

/// Untimed, after the timed operation: given what `operate` returned, the
/// wire counters to record (e.g. read on a proxy once the connection settled).
pub type Settle<'a> = Box<dyn FnMut(WireStats) -> Result<WireStats> + 'a>;

/// One contender of an operation: preparation and operation.
pub struct Runner<'a> {
    /// Who.
    pub contender: Contender,
    /// Untimed, before each iteration.
    pub prepare: Prepare<'a>,
    /// Timed.
    pub operate: Operate<'a>,
    /// Untimed, after each iteration (`None`: record what `operate` returned).
    pub settle: Option<Settle<'a>>,
}

impl std::fmt::Debug for Runner<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("contender", &self.contender)
            .finish_non_exhaustive()
    }
}

/// The order in which round `round` runs `len` runners: the rows of a balanced Latin
/// square (Williams' design), one per round. Over any [`order_period`] consecutive rounds
/// every runner runs at every position, and right after every other runner, equally often.
/// In a fixed order each contender always ran right after the same one, and what that one
/// left the server doing (its session's work after the tagged reply, a cold contender's
/// logout) fell on it: on the 2-core machine warm `play` read 1.29–1.32× the floor in the
/// fixed order and 1.17× twice with the order turned by one each round, nothing else changed.
pub fn round_order(len: usize, round: usize) -> Vec<usize> {
    if len == 0 {
        return Vec::new();
    }
    // The first row: 0, 1, len-1, 2, len-2, ...
    let (mut up, mut down) = (1, len - 1);
    let first = (0..len).map(|i| match i {
        0 => 0,
        i if i % 2 == 1 => {
            up += 1;
            up - 1
        }
        _ => {
            down -= 1;
            down + 1
        }
    });
    let k = round % order_period(len);
    let shift = k % len;
    let mut row: Vec<usize> = first.map(|r| (r + shift) % len).collect();
    // With an odd number the square's rows and their reverses together are balanced.
    if k >= len {
        row.reverse();
    }
    row
}

/// How many rounds [`round_order`] takes to balance `len` runners: `len` when even, twice
/// that when odd.
pub fn order_period(len: usize) -> usize {
    if len.is_multiple_of(2) {
        len.max(1)
    } else {
        2 * len
    }
}

/// Runs `warmup` untimed then `iterations` timed rounds, each round running
/// every runner once, in the round's [`round_order`]; returns one summary per
/// runner, in the runners' order.
pub fn run_interleaved(
    runners: &mut [Runner<'_>],
    warmup: usize,
    iterations: usize,
) -> Result<Vec<(Contender, Summary)>> {
    let mut latencies = vec![Vec::with_capacity(iterations); runners.len()];
    let mut wires = vec![Vec::with_capacity(iterations); runners.len()];
    for round in 0..warmup + iterations {
        for i in round_order(runners.len(), round) {
            let runner = &mut runners[i];
            (runner.prepare)(round)?;
            let start = Instant::now();
            let wire = (runner.operate)(round)?;
            let took = start.elapsed();
            let wire = match runner.settle.as_mut() {
                Some(settle) => settle(wire)?,
                None => wire,
            };
            if round >= warmup {
                latencies[i].push(took);
                wires[i].push(wire);
            }
        }
    }
    Ok(runners
        .iter()
        .enumerate()
        .map(|(i, r)| (r.contender, summarize(&latencies[i], &wires[i])))
        .collect())
}
