//! The report writer: a golden markdown file and the chart's structure.

use std::time::Duration;

use imapvm_benches::measure::{Contender, Measured, OperationResult, summarize};
use imapvm_benches::mwi::{KindLatency, MwiResults, PhaseResult, WirePerChange};
use imapvm_benches::report::{
    ConfigMemory, CriterionFigure, Machine, Report, markdown, svg, utc_minute, why,
};
use imapvm_benches::wire::WireStats;

fn measured(c: Contender, ms: f64, rt: u64, bytes_in: u64) -> Measured {
    Measured {
        contender: c,
        summary: Some(summarize(
            &[Duration::from_secs_f64(ms / 1000.0)],
            &[WireStats {
                round_trips: rt,
                bytes_out: 100,
                bytes_in,
            }],
        )),
        note: String::new(),
    }
}

fn sample() -> Report {
    let op = |id: &str, title: &str, a: f64, i: Option<f64>, f: f64, irt: u64| OperationResult {
        id: id.into(),
        title: title.into(),
        asterisk_source: "poll-cycle-vm1234.trace lines 5–86".into(),
        results: vec![
            match i {
                Some(ms) => measured(Contender::Imapvm, ms, irt, 1000),
                None => Measured {
                    contender: Contender::Imapvm,
                    summary: None,
                    note: "not measured yet (runtime pending)".into(),
                },
            },
            measured(Contender::ImapvmCold, 20.0, 5, 4000),
            measured(Contender::Asterisk, a, 15, 8000),
            measured(Contender::Floor, f, 1, 1000),
        ],
        rtt_ms: 0,
    };
    Report {
        date: utc_minute(1_795_674_119),
        machine: Machine {
            cpus: 2,
            cpu_model: "Test CPU".into(),
            kernel: "6.0.0".into(),
            dovecot: "2.3.19.1".into(),
            rustc: "rustc 1.95.0".into(),
        },
        command: "cargo xtask bench".into(),
        iterations: 1,
        warmup: 0,
        operations: vec![
            op("count", "MWI count", 2.0, Some(0.15), 0.1, 1),
            op(
                "list-shared-empty",
                "List shared, empty",
                5.0,
                Some(2.0),
                1.9,
                2,
            ),
            op(
                "list-shared-10000",
                "List shared, 10,000",
                80.0,
                Some(2.5),
                2.0,
                2,
            ),
            op("deposit", "Deposit", 16.0, None, 2.0, 3),
        ],
        criterion: vec![
            CriterionFigure {
                group: "voicemail_01_basic".into(),
                function: "mail_parser_full".into(),
                median_ns: 40_000.0,
            },
            CriterionFigure {
                group: "voicemail_01_basic".into(),
                function: "header_block_full_message".into(),
                median_ns: 2_000.0,
            },
            CriterionFigure {
                group: "voicemail_build_60s_wav49".into(),
                function: "base64_audio_alone".into(),
                median_ns: 100_000.0,
            },
            CriterionFigure {
                group: "voicemail_build_60s_wav49".into(),
                function: "build_message".into(),
                median_ns: 200_000.0,
            },
        ],
        config_memory: Some(ConfigMemory {
            mailboxes: 10_000,
            config_bytes: 1_000_000,
            baseline_peak_kb: 5_000,
            parse_peak_kb: 25_000,
            parse_delta_kb: 20_000,
        }),
        not_measured: vec!["Something else (needs a server we do not have)".into()],
        elapsed_secs: Some(61),
        mwi: Some(sample_mwi()),
        rtts: vec![0],
        rtt_secs: vec![(0, 61)],
        filled: Vec::new(),
    }
}

fn kind(p50: f64, p99: f64, wire: Option<(f64, f64, f64)>) -> KindLatency {
    KindLatency {
        samples: 200,
        p50_ms: p50,
        p99_ms: p99,
        max_ms: p99 + 1.0,
        events_before_completion: 0,
        missing: 0,
        wire: wire.map(|(round_trips, bytes_out, bytes_in)| WirePerChange {
            changes: 200,
            round_trips,
            bytes_out,
            bytes_in,
        }),
    }
}

fn phase(
    strategy: &str,
    seen: KindLatency,
    expunge: KindLatency,
    append: KindLatency,
) -> PhaseResult {
    PhaseResult {
        strategy: strategy.into(),
        boxes_per_kind: 10,
        changes_per_box: 20,
        setup_seconds: 2.0,
        seconds: 25.0,
        store_seen: seen,
        append,
        expunge,
        watch_errors: Vec::new(),
    }
}

fn sample_mwi() -> MwiResults {
    let w = Some((3.0, 150.0, 420.5));
    MwiResults {
        mode: "budget".into(),
        written_unix: 1_795_674_000,
        elapsed_seconds: 130.0,
        dovecot_settings: "NOTIFY_DELAY_MSECS=500 (compile-time)".into(),
        wire_note: "imapvm's watcher connection is counted on a loopback proxy".into(),
        notify: Some(phase(
            "NOTIFY",
            kind(540.0, 620.0, w),
            kind(545.0, 700.0, w),
            kind(550.0, 640.0, w),
        )),
        idle: Some(phase(
            "IDLE",
            kind(560.0, 900.0, None),
            kind(565.0, 1200.0, None),
            kind(570.0, 950.0, None),
        )),
        floor: Some(phase(
            "raw IDLE client",
            kind(505.0, 520.0, Some((0.0, 0.0, 20.0))),
            kind(506.0, 530.0, Some((0.0, 0.0, 40.0))),
            kind(507.0, 540.0, Some((0.0, 0.0, 30.0))),
        )),
        poll_1s: None,
        poll_30s: Some(phase(
            "poll every 30 s",
            kind(15_000.0, 29_700.0, w),
            kind(14_000.0, 29_500.0, w),
            kind(16_000.0, 29_900.0, w),
        )),
    }
}

#[test]
fn markdown_matches_the_golden_file() {
    let got = markdown(&sample(), "performance.svg");
    let path = format!("{}/tests/golden/report.md", env!("CARGO_MANIFEST_DIR"));
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    if got != want {
        std::fs::write(format!("{path}.new"), &got).unwrap();
        panic!("the report differs from {path}; the new output is in {path}.new");
    }
}

#[test]
fn goals_are_judged_from_the_ratios() {
    let md = markdown(&sample(), "performance.svg");
    // count: 0.15/0.1 = 1.5 > 1.2, one round trip like the floor.
    assert!(
        md.contains("| imapvm/floor ≤ 1.2: MWI count (1.50×) — same round trips"),
        "{md}"
    );
    // 0.15/2.0 = 0.075 ≤ 0.1.
    assert!(
        md.contains("| imapvm/Asterisk ≤ 0.1: MWI count (0.07×) | met |"),
        "{md}"
    );
    // 2.5/2.0 = 1.25 ≤ 1.5.
    assert!(
        md.contains("imapvm ≤ 1.5 (1.25×; Asterisk 16×, floor 1.05×) | met |"),
        "{md}"
    );
    assert!(
        md.contains("| imapvm/Asterisk ≤ 0.1: Deposit (—) | not measured |"),
        "{md}"
    );
    assert!(md.contains("| 20.0× faster | ≥ 10× faster | met |"), "{md}");
    assert!(md.contains("| 2.00× | ≤ 1.5× | **missed** |"), "{md}");
    assert!(md.contains("not measured yet (runtime pending)"));
    assert!(md.contains("raises the peak resident set by **20000 kB**"));
}

#[test]
fn mwi_goal_is_judged_per_push_strategy_on_the_worst_kind() {
    let md = markdown(&sample(), "performance.svg");
    assert!(
        md.contains(
            "| MWI p99 under 1 s after a mail-client change, imapvm with NOTIFY: worst kind \
             expunge, p99 700 ms (the floor, the server's own notification: p99 530 ms) | met |"
        ),
        "{md}"
    );
    assert!(
        md.contains("imapvm with IDLE: worst kind expunge, p99 1200 ms"),
        "{md}"
    );
    assert!(md.contains("p99 530 ms) | **missed** |"), "{md}");
    // 540/15000 and 620/29700; 540/505 and 620/520.
    assert!(
        md.contains(
            "| imapvm | NOTIFY | 540 | 620 | 200 | 3 | 150 | 420 | 0.04× | 0.02× | 1.07× | 1.19× |"
        ),
        "{md}"
    );
    assert!(
        md.contains("| imapvm | IDLE | 560 | 900 | 200 | not counted |"),
        "{md}"
    );
    assert!(
        md.contains("| Asterisk | polling, pollfreq=1 | not measured |"),
        "{md}"
    );
    // Asterisk's own poll cycle is quoted from the count row of the same run.
    assert!(md.contains("(15 round trips, 100 B out, 8000 B in"), "{md}");
}

#[test]
fn mwi_not_measured_says_so() {
    let mut r = sample();
    r.mwi = None;
    let md = markdown(&r, "performance.svg");
    assert!(md.contains("## MWI latency after a mail-client change\n\nNot measured in this run"));
    assert!(md.contains(
        "| MWI p99 under 1 s after a mail-client change (the MWI bench did not run in this run) \
         | not measured |"
    ));
    let mut r = sample();
    if let Some(m) = r.mwi.as_mut() {
        m.idle = None;
    }
    let md = markdown(&r, "performance.svg");
    assert!(md.contains(
        "| MWI p99 under 1 s after a mail-client change, imapvm with IDLE | not measured |"
    ));
}

#[test]
fn why_names_round_trips_and_bytes() {
    let r = sample();
    assert!(why(&r.operations[1]).contains("2 round trips where the floor needs 1"));
}

#[test]
fn chart_has_one_bar_per_measured_contender() {
    let r = sample();
    let chart = svg(&r.operations);
    assert!(chart.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(chart.trim_end().ends_with("</svg>"));
    let bars = chart.matches("<title>").count();
    assert_eq!(bars, 4 * 4 - 1, "deposit has no imapvm (warm) bar");
    assert!(chart.contains("imapvm (warm) not measured"));
    assert!(chart.contains("List shared, 10,000"));
    assert_eq!(chart.matches('<').count(), chart.matches('>').count());
}

#[test]
fn utc_dates() {
    assert_eq!(utc_minute(0), "1970-01-01 00:00");
    assert_eq!(utc_minute(1_795_674_119), "2026-11-26 06:21");
    assert_eq!(utc_minute(951_782_400), "2000-02-29 00:00");
}

#[test]
fn a_goal_the_floor_cannot_meet_says_so() {
    let mut r = sample();
    let deposit = r.operations.iter_mut().find(|o| o.id == "deposit").unwrap();
    deposit.results[0] = measured(Contender::Imapvm, 8.0, 3, 1000);
    let md = markdown(&r, "performance.svg");
    // imapvm 8/16 = 0.5 > 0.1, floor 2/16 = 0.125 > 0.1.
    assert!(
        md.contains(
            "| imapvm/Asterisk ≤ 0.1: Deposit (0.50×) — out of reach on this server: even the \
             floor takes 0.12× of Asterisk's time | **missed** |"
        ),
        "{md}"
    );
}

#[test]
fn an_empty_not_measured_list_says_nothing_is_missing() {
    let mut r = sample();
    r.not_measured.clear();
    let md = markdown(&r, "performance.svg");
    assert!(md.contains(
        "## Not measured\n\nNothing beyond what the tables above mark as not measured or not \
         counted.\n"
    ));
}
