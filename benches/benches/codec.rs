//! Codec and core comparisons that need no server, each against the floor a
//! faster implementation could not beat, measured in the same run:
//!
//! * building a 60 s wav49 voicemail (`imapvm_message::build`) vs
//!   base64-encoding the same audio alone;
//! * parsing a generated 10,000-mailbox voicemail.conf vs splitting it into
//!   lines; plus the parse's peak memory, measured as the peak-RSS (`VmHWM`)
//!   difference between two child processes that differ only by the parse.
//!
//! The memory figures go to `target/imapvm-bench/config-memory.json` for the
//! report; criterion's estimates to `target/criterion/`.
#![allow(clippy::print_stdout, clippy::print_stderr, clippy::unwrap_used)]

use std::hint::black_box;
use std::process::Command;

use base64::Engine as _;
use criterion::{Criterion, criterion_group};
use imapvm_benches::fixture::{EPOCH, settings, wav49};
use imapvm_message::{AudioPart, Envelope, Mode, Voicemail, build};

/// Mailboxes in the generated configuration.
const CONFIG_MAILBOXES: usize = 10_000;
/// The environment variable that turns this binary into a memory probe.
const MEMORY_PROBE: &str = "IMAPVM_BENCH_MEMORY_PROBE";

fn large_config(boxes: usize) -> String {
    let mut text = String::from(
        "[general]\nimapserver=imap.example.com\nimapflags=ssl\nformat=wav49|gsm\nimapfolder=INBOX\n\
         [zonemessages]\neastern=America/New_York|'vm-received' Q 'digits/at' IMp\n[default]\n",
    );
    for i in 0..boxes {
        text.push_str(&format!(
            "{} => {},User {i},u{i}@example.com,,imapuser=vm{i}|imappassword=pw{i}|tz=eastern|attach=yes\n",
            10_000 + i,
            4000 + i
        ));
    }
    text
}

fn voicemail_60s() -> (Voicemail, Vec<u8>) {
    let audio = wav49(60, 60);
    let settings = settings("4321");
    let vm = Voicemail {
        mailbox: "4321".into(),
        context: "bench".into(),
        extension: "4321".into(),
        msgnum: 1,
        caller_id_num: "5551001".into(),
        caller_id_name: "Bench Caller".into(),
        duration_secs: 60,
        orig_time: EPOCH,
        orig_date: settings.email_date(EPOCH).unwrap(),
        msg_id: Some(format!("{EPOCH}-00000001")),
        audio: vec![AudioPart::recording(1, "wav49", audio.clone())],
        ..Voicemail::default()
    };
    (vm, audio)
}

fn build_vs_base64(c: &mut Criterion) {
    let (vm, audio) = voicemail_60s();
    let settings = settings("4321");
    let envelope = Envelope {
        date: EPOCH,
        message_id: Envelope::asterisk_message_id(1, 719_206_884, "4321", 27960, "vm"),
        boundary: Envelope::asterisk_boundary(1, "4321", 27960, 1_097_739_035),
        hostname: "vm".into(),
    };
    let mut group = c.benchmark_group("voicemail_build_60s_wav49");
    group.bench_function("base64_audio_alone", |b| {
        b.iter(|| base64::engine::general_purpose::STANDARD.encode(black_box(&audio)))
    });
    group.bench_function("build_message", |b| {
        b.iter(|| build(black_box(&vm), &settings, &envelope, Mode::Default).map(|m| m.len()))
    });
    group.finish();
}

fn config_parse(c: &mut Criterion) {
    let text = large_config(CONFIG_MAILBOXES);
    let mut group = c.benchmark_group("config_10000_mailboxes");
    group.sample_size(20);
    group.bench_function("split_lines", |b| {
        b.iter(|| black_box(text.as_str()).lines().count())
    });
    group.bench_function("parse", |b| {
        b.iter(|| imapvm_config::parse_bytes("voicemail.conf", black_box(text.as_bytes())))
    });
    group.finish();
}

criterion_group!(benches, build_vs_base64, config_parse);

/// Peak resident set size of this process, in kB (`VmHWM`).
fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Child mode: build the config text, parse it or not, print the peak RSS.
fn probe(mode: &str) {
    let text = large_config(CONFIG_MAILBOXES);
    if mode == "parse" {
        let parsed = imapvm_config::parse_bytes("voicemail.conf", text.as_bytes());
        black_box(&parsed);
        println!("peak_kb={}", peak_rss_kb().unwrap_or(0));
        drop(parsed);
    } else {
        black_box(&text);
        println!("peak_kb={}", peak_rss_kb().unwrap_or(0));
    }
}

fn run_probe(mode: &str) -> Option<u64> {
    let exe = std::env::current_exe().ok()?;
    let out = Command::new(exe).env(MEMORY_PROBE, mode).output().ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("peak_kb="))
        .and_then(|v| v.trim().parse().ok())
}

fn config_memory() {
    let (Some(baseline), Some(parse)) = (run_probe("baseline"), run_probe("parse")) else {
        eprintln!("config memory probe failed (no /proc/self/status?)");
        return;
    };
    let bytes = large_config(CONFIG_MAILBOXES).len();
    let delta = parse.saturating_sub(baseline);
    println!(
        "config 10,000 mailboxes ({bytes} bytes): peak RSS {parse} kB with the parse, \
         {baseline} kB without: the parse adds {delta} kB"
    );
    let json = serde_json::json!({
        "mailboxes": CONFIG_MAILBOXES,
        "config_bytes": bytes,
        "baseline_peak_kb": baseline,
        "parse_peak_kb": parse,
        "parse_delta_kb": delta,
    });
    let dir = xtask::server::target_dir().join("imapvm-bench");
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::write(dir.join("config-memory.json"), json.to_string());
    }
}

fn main() {
    if let Ok(mode) = std::env::var(MEMORY_PROBE) {
        probe(&mode);
        return;
    }
    let bench_run = std::env::args().any(|a| a == "--bench");
    benches();
    Criterion::default().configure_from_args().final_summary();
    if bench_run {
        config_memory();
    }
}
