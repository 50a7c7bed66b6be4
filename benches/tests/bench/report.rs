//! The report writer: a golden markdown file and the chart's structure.

use std::time::Duration;

use imapvm_benches::measure::{Contender, Measured, OperationResult, summarize};
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
        not_measured: vec!["MWI latency (needs the watcher)".into()],
        elapsed_secs: Some(61),
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
