//! MWI latency results: what `benches/benches/mwi_latency.rs` writes to
//! `target/bench-mwi.json` and the suite's report quotes.
//!
//! The bench measures, against the private Dovecot, the time from an
//! independent client's change (its tagged OK) to the watcher's MWI event,
//! per kind of change and strategy, and the floor: a raw IDLE client's first
//! notification of the same change. This module holds the typed results, the
//! per-kind summary, and the check that a results file belongs to the current
//! run; it does no I/O beyond reading that file.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::measure::percentile;

/// Where the bench writes its results, relative to the target directory.
pub const RESULTS_FILE: &str = "bench-mwi.json";

/// The kinds of change, in report order: (JSON key, short name, what the
/// client did).
pub const KINDS: [(&str, &str, &str); 3] = [
    (
        "store_seen",
        "\\Seen",
        "`UID STORE +FLAGS (\\Seen)` or `-FLAGS (\\Seen)` (a read or unread message)",
    ),
    (
        "expunge",
        "expunge",
        "`UID STORE +FLAGS.SILENT (\\Deleted)` and `UID EXPUNGE` in one write, timed from \
         the EXPUNGE's OK",
    ),
    ("append", "APPEND", "`APPEND` of a new voicemail"),
];

/// Wire traffic per change on one contender's connection, counted on the
/// socket (means over the measured changes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WirePerChange {
    /// Changes counted.
    pub changes: usize,
    /// Client flights that followed server data (a round trip each).
    pub round_trips: f64,
    /// Bytes the client sent.
    pub bytes_out: f64,
    /// Bytes the client received.
    pub bytes_in: f64,
}

impl WirePerChange {
    /// Means of per-change `(round_trips, bytes_out, bytes_in)`; `None` when
    /// nothing was counted.
    pub fn mean(per_change: &[(u64, u64, u64)]) -> Option<WirePerChange> {
        if per_change.is_empty() {
            return None;
        }
        let n = per_change.len() as f64;
        let sum = |f: fn(&(u64, u64, u64)) -> u64| per_change.iter().map(f).sum::<u64>() as f64;
        Some(WirePerChange {
            changes: per_change.len(),
            round_trips: round1(sum(|c| c.0) / n),
            bytes_out: round1(sum(|c| c.1) / n),
            bytes_in: round1(sum(|c| c.2) / n),
        })
    }
}

/// Latency of one kind of change under one strategy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KindLatency {
    /// Measured changes.
    pub samples: usize,
    /// Median, milliseconds.
    pub p50_ms: f64,
    /// 99th percentile (nearest rank), milliseconds.
    pub p99_ms: f64,
    /// Slowest, milliseconds.
    pub max_ms: f64,
    /// Events that arrived before the change's tagged OK (counted as 0 ms).
    #[serde(default)]
    pub events_before_completion: usize,
    /// Changes whose notification never came within the wait (not in the samples).
    #[serde(default)]
    pub missing: usize,
    /// Wire traffic per change, where it was counted.
    #[serde(default)]
    pub wire: Option<WirePerChange>,
}

impl KindLatency {
    /// Summarises latencies in milliseconds (any order).
    pub fn of(
        mut ms: Vec<f64>,
        early: usize,
        missing: usize,
        wire: Option<WirePerChange>,
    ) -> KindLatency {
        ms.retain(|v| v.is_finite());
        ms.sort_by(f64::total_cmp);
        KindLatency {
            samples: ms.len(),
            p50_ms: round1(percentile(&ms, 50.0)),
            p99_ms: round1(percentile(&ms, 99.0)),
            max_ms: round1(ms.last().copied().unwrap_or(0.0)),
            events_before_completion: early,
            missing,
            wire,
        }
    }
}

/// One strategy's latencies for the three kinds of change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseResult {
    /// How the watcher (or the floor client) learnt of changes, in words.
    #[serde(default)]
    pub strategy: String,
    /// Boxes per kind of change, measured in parallel.
    #[serde(default)]
    pub boxes_per_kind: usize,
    /// Changes made one after the other on each box.
    #[serde(default)]
    pub changes_per_box: usize,
    /// Seconds spent preparing the boxes and starting the watcher.
    #[serde(default)]
    pub setup_seconds: f64,
    /// Seconds of the measurement itself.
    pub seconds: f64,
    /// `UID STORE (\Seen)` toggles.
    pub store_seen: KindLatency,
    /// APPENDs.
    pub append: KindLatency,
    /// Delete + expunge.
    pub expunge: KindLatency,
    /// The watcher's error events during the phase.
    #[serde(default)]
    pub watch_errors: Vec<String>,
}

impl PhaseResult {
    /// The latency of a kind by its JSON key (see [`KINDS`]).
    pub fn kind(&self, key: &str) -> Option<&KindLatency> {
        match key {
            "store_seen" => Some(&self.store_seen),
            "append" => Some(&self.append),
            "expunge" => Some(&self.expunge),
            _ => None,
        }
    }

    /// The kind with the highest p99: (JSON key, latency).
    pub fn worst_p99(&self) -> (&'static str, &KindLatency) {
        let mut worst = ("store_seen", &self.store_seen);
        for (key, k) in [("expunge", &self.expunge), ("append", &self.append)] {
            if k.p99_ms > worst.1.p99_ms {
                worst = (key, k);
            }
        }
        worst
    }

    /// Whether every kind has samples.
    pub fn complete(&self) -> bool {
        [&self.store_seen, &self.append, &self.expunge]
            .iter()
            .all(|k| k.samples > 0)
    }
}

/// What one run of the MWI bench produced (the fields the report quotes; the
/// file holds more, such as the scale phases of a full run).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MwiResults {
    /// `budget` (the sized-down run of `cargo xtask bench`) or `full`.
    #[serde(default)]
    pub mode: String,
    /// When the file was written (Unix seconds).
    #[serde(default)]
    pub written_unix: u64,
    /// Wall-clock seconds of the whole bench.
    #[serde(default)]
    pub elapsed_seconds: f64,
    /// The Dovecot settings that matter, in words.
    #[serde(default)]
    pub dovecot_settings: String,
    /// How the imapvm watcher's wire traffic was counted, in words.
    #[serde(default)]
    pub wire_note: String,
    /// The watcher with NOTIFY.
    #[serde(default)]
    pub notify: Option<PhaseResult>,
    /// The watcher with IDLE (NOTIFY not used).
    #[serde(default)]
    pub idle: Option<PhaseResult>,
    /// A raw IDLE client on the same folders, during the NOTIFY and IDLE phases.
    #[serde(default)]
    pub floor: Option<PhaseResult>,
    /// The poll strategy at pollfreq=1.
    #[serde(default)]
    pub poll_1s: Option<PhaseResult>,
    /// The poll strategy at pollfreq=30.
    #[serde(default)]
    pub poll_30s: Option<PhaseResult>,
}

/// Why a results file is not quoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stale {
    /// No file (the bench did not run, or failed).
    Missing,
    /// Written before `since`: another run's.
    Older {
        /// Its `written_unix`.
        written: u64,
    },
    /// Not parseable.
    Invalid(String),
}

impl std::fmt::Display for Stale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stale::Missing => write!(f, "no results file"),
            Stale::Older { written } => write!(
                f,
                "the results file is from an earlier run (written at Unix time {written})"
            ),
            Stale::Invalid(e) => write!(f, "the results file is not readable: {e}"),
        }
    }
}

/// Parses results and accepts them only if written at or after `since`
/// (Unix seconds).
pub fn parse(bytes: &[u8], since: u64) -> Result<MwiResults, Stale> {
    let r: MwiResults = serde_json::from_slice(bytes).map_err(|e| Stale::Invalid(e.to_string()))?;
    if r.written_unix < since {
        return Err(Stale::Older {
            written: r.written_unix,
        });
    }
    Ok(r)
}

/// Reads `path` (see [`parse`]); at most 16 MiB.
pub fn read(path: &Path, since: u64) -> Result<MwiResults, Stale> {
    const LIMIT: u64 = 16 << 20;
    let len = std::fs::metadata(path).map_err(|_| Stale::Missing)?.len();
    if len > LIMIT {
        return Err(Stale::Invalid(format!("{len} bytes (limit {LIMIT})")));
    }
    let bytes = std::fs::read(path).map_err(|_| Stale::Missing)?;
    parse(&bytes, since)
}

/// What an untagged response on the floor's IDLE connection said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Note {
    /// `* n EXISTS`
    Exists,
    /// `* n EXPUNGE`
    Expunge,
    /// `* n FETCH (...)`
    Fetch,
    /// Anything else (`* n RECENT`, `* OK Still here`, a tagged line, ...).
    Other,
}

/// The kind of a line the floor read.
pub fn classify(line: &str) -> Note {
    let mut words = line.split_ascii_whitespace();
    if words.next() != Some("*") || words.next().and_then(|n| n.parse::<u32>().ok()).is_none() {
        return Note::Other;
    }
    match words.next().map(str::to_ascii_uppercase).as_deref() {
        Some("EXISTS") => Note::Exists,
        Some("EXPUNGE") => Note::Expunge,
        Some("FETCH") => Note::Fetch,
        _ => Note::Other,
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_is_nearest_rank_and_drops_non_finite() {
        let mut v: Vec<f64> = (1..=200).map(f64::from).collect();
        v.push(f64::NAN);
        let k = KindLatency::of(v, 2, 1, None);
        assert_eq!(k.samples, 200);
        assert_eq!(k.p50_ms, 100.0);
        assert_eq!(k.p99_ms, 198.0);
        assert_eq!(k.max_ms, 200.0);
        assert_eq!((k.events_before_completion, k.missing), (2, 1));
        let empty = KindLatency::of(Vec::new(), 0, 0, None);
        assert_eq!((empty.samples, empty.p99_ms), (0, 0.0));
    }

    #[test]
    fn floor_lines_are_classified_by_their_third_word() {
        assert_eq!(classify("* 2 EXISTS\r\n"), Note::Exists);
        assert_eq!(classify("* 2 Expunge\r\n"), Note::Expunge);
        assert_eq!(classify("* 1 FETCH (FLAGS (\\Seen))\r\n"), Note::Fetch);
        assert_eq!(classify("* 1 RECENT\r\n"), Note::Other);
        assert_eq!(classify("* OK Still here\r\n"), Note::Other);
        assert_eq!(classify("f3 OK Idle completed.\r\n"), Note::Other);
        assert_eq!(classify("* x EXISTS"), Note::Other);
        assert_eq!(classify(""), Note::Other);
    }

    #[test]
    fn wire_means() {
        assert_eq!(WirePerChange::mean(&[]), None);
        let w = WirePerChange::mean(&[(3, 100, 200), (4, 101, 300)]);
        assert_eq!(
            w,
            Some(WirePerChange {
                changes: 2,
                round_trips: 3.5,
                bytes_out: 100.5,
                bytes_in: 250.0
            })
        );
    }

    #[test]
    fn only_files_of_this_run_are_quoted() {
        let json = br#"{"mode":"budget","written_unix":100,"dovecot_settings":"x",
            "notify":{"seconds":1.0,
              "store_seen":{"samples":1,"p50_ms":1.0,"p99_ms":1.0,"max_ms":1.0},
              "append":{"samples":1,"p50_ms":2.0,"p99_ms":9.0,"max_ms":9.0},
              "expunge":{"samples":1,"p50_ms":3.0,"p99_ms":3.0,"max_ms":3.0}},
            "scale_notify":{"mailboxes":1000}}"#;
        let r = parse(json, 100).unwrap_or_else(|e| panic!("{e}"));
        let notify = r.notify.as_ref().map(|p| p.worst_p99().0);
        assert_eq!(notify, Some("append"));
        assert_eq!(parse(json, 101), Err(Stale::Older { written: 100 }));
        assert!(matches!(parse(b"{", 0), Err(Stale::Invalid(_))));
        assert_eq!(
            read(Path::new("/nonexistent/bench-mwi.json"), 0),
            Err(Stale::Missing)
        );
    }
}
