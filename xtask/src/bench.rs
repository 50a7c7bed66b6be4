//! `cargo xtask bench`: the criterion benches, the MWI latency bench, then
//! the end-to-end suite against the private Dovecot, which writes
//! `docs/performance.md` and `docs/performance.svg`.
//!
//! Steps, in order:
//! 1. start (or find) the private Dovecot;
//! 2. run the criterion benches whose figures the report quotes (each bench
//!    that fails is reported and skipped, not fatal), with shortened
//!    warm-up/measurement times to keep the whole run short on
//!    2 cores;
//! 3. run the MWI latency bench (`benches/benches/mwi_latency.rs -- --budget`:
//!    NOTIFY, IDLE, polling at pollfreq 1 and 30, and the raw-IDLE floor, sized
//!    to about two minutes; no scale phases), unless `--no-mwi`; a failure is
//!    reported, not fatal;
//! 4. run `benches/benches/suite.rs`, handing it the time step 2 started so
//!    it quotes only criterion and MWI results of this run. The suite puts a
//!    latency proxy (`imapvm_testkit::latency`) in front of the server for
//!    every contender and runs every operation at each `--rtt` (default 0, 5,
//!    20 and 50 ms). Sizing: 50 timed iterations at 0 ms, then 50 × 5 / (5 +
//!    RTT) (25, 10, 4) at a distance after one warm-up, so each distance takes
//!    a few minutes (a round at 50 ms is about 420 round trips, Asterisk's
//!    84-round-trip deposit included); the count over 100 mailboxes runs at 0
//!    ms only and the folder-size scenarios (100 voicemails among 100,000
//!    e-mails, a folder kept on the server between runs) at 0 and 20 ms. The
//!    whole `cargo xtask bench` stays under about 15 minutes on 2 cores once
//!    the 100,000-mail folder exists (its first filling adds a minute or two).
//!
//! `cargo xtask ci` does not come here: it only compiles the benches.

use std::process::Command;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use xtask::dovecot;
use xtask::server::{HarnessError, Result, workspace_root};

/// The criterion baseline the report reads (kept equal to
/// `imapvm_benches::report::CRITERION_BASELINE`; xtask does not depend on the
/// benches crate).
pub const CRITERION_BASELINE: &str = "xtask-bench";

/// The criterion benches the report quotes: (package, bench target).
pub const CRITERION_BENCHES: &[(&str, &str)] = &[
    ("imapvm-message", "header_block"),
    ("imapvm-proto", "fetch_decode"),
    ("imapvm-config", "parse"),
    ("imapvm-benches", "codec"),
];

/// Options of `cargo xtask bench`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct BenchArgs {
    /// A fast, noisier run: 5 iterations, short criterion times.
    #[arg(long)]
    pub quick: bool,
    /// Timed iterations per contender and operation (default 50; 5 with --quick).
    #[arg(long)]
    pub iterations: Option<usize>,
    /// Only these end-to-end operations (comma-separated ids, e.g. count,list-100).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Keep the bench-* folders on the server for the next run (the
    /// 100,000-mail folder is always kept).
    #[arg(long)]
    pub keep: bool,
    /// Round-trip times (ms) the latency proxy adds, one suite pass each
    /// (default 0,5,20,50).
    #[arg(long, value_delimiter = ',')]
    pub rtt: Vec<u32>,
    /// Skip the criterion benches (the report then shows them as not measured).
    #[arg(long)]
    pub no_criterion: bool,
    /// Leave imapvm out of the end-to-end suite.
    #[arg(long)]
    pub no_imapvm: bool,
    /// Skip the MWI latency bench (the report then shows it as not measured).
    #[arg(long)]
    pub no_mwi: bool,
    /// Skip the phone bench (FastAGI: deposit latency, calls/s, key latency).
    #[arg(long)]
    pub no_phone: bool,
}

/// The heading of the phone bench's section of `docs/performance.md`.
const PHONE_HEADING: &str = "## The phone side (FastAGI)";

/// `report` with the section that has `section`'s heading (its first line: the phone
/// bench's, a kept one) replaced by `section`, or `section` appended: a section runs from
/// its heading to the next `## ` heading or the end.
pub fn splice_section(report: &str, section: &str) -> String {
    let section = section.trim_end();
    let heading = section.lines().next().unwrap_or(PHONE_HEADING);
    match section_span(report, heading) {
        Some((start, end)) => {
            format!("{}{section}\n\n{}", &report[..start], &report[end..])
                .trim_end()
                .to_owned()
                + "\n"
        }
        None => format!("{}\n\n{section}\n", report.trim_end()),
    }
}

/// Where the section under `heading` (a `## ` line) is in `report`: from its heading to the
/// next `## ` heading or the end.
fn section_span(report: &str, heading: &str) -> Option<(usize, usize)> {
    let start = report.match_indices(heading).map(|(i, _)| i).find(|&i| {
        (i == 0 || report[..i].ends_with('\n'))
            && report[i + heading.len()..].starts_with(['\n', '\r'])
    })?;
    let after = &report[start + heading.len()..];
    let end = after
        .find("\n## ")
        .map_or(report.len(), |i| start + heading.len() + i + 1);
    Some((start, end))
}

/// Sections of docs/performance.md written from measurements the suite does not make (the
/// watcher's scale runs, the client-CPU profiles, the folder-size probe): the suite rewrites the file, and these
/// are put back as they were.
pub const KEPT_SECTIONS: &[&str] = &[
    "## Scale of the MWI watcher",
    "## Client CPU",
    "## Folder size: where the server's time goes",
];

/// The [`KEPT_SECTIONS`] of `report`, each with its heading.
pub fn kept_sections(report: &str) -> Vec<String> {
    KEPT_SECTIONS
        .iter()
        .filter_map(|heading| section_span(report, heading))
        .map(|(start, end)| report[start..end].trim_end().to_owned())
        .collect()
}

impl BenchArgs {
    /// The command line that reproduces this run.
    pub fn command(&self) -> String {
        let mut c = String::from("cargo xtask bench");
        if self.quick {
            c.push_str(" --quick");
        }
        if let Some(n) = self.iterations {
            c.push_str(&format!(" --iterations {n}"));
        }
        if !self.only.is_empty() {
            c.push_str(&format!(" --only {}", self.only.join(",")));
        }
        if self.keep {
            c.push_str(" --keep");
        }
        if !self.rtt.is_empty() {
            c.push_str(&format!(" --rtt {}", join(&self.rtt)));
        }
        if self.no_criterion {
            c.push_str(" --no-criterion");
        }
        if self.no_imapvm {
            c.push_str(" --no-imapvm");
        }
        if self.no_mwi {
            c.push_str(" --no-mwi");
        }
        if self.no_phone {
            c.push_str(" --no-phone");
        }
        c
    }

    /// The arguments for the suite binary (after `--`).
    pub fn suite_args(&self, criterion_since: u64) -> Vec<String> {
        let mut a = vec!["--criterion-since".to_owned(), criterion_since.to_string()];
        if !self.no_mwi {
            a.extend(["--mwi-since".to_owned(), criterion_since.to_string()]);
        }
        a.extend(["--command".to_owned(), self.command()]);
        match (self.iterations, self.quick) {
            (Some(n), _) => a.extend(["--iterations".to_owned(), n.to_string()]),
            (None, true) => a.push("--quick".to_owned()),
            (None, false) => a.extend(["--iterations".to_owned(), "50".to_owned()]),
        }
        if self.quick && self.iterations.is_some() {
            a.extend(["--warmup".to_owned(), "1".to_owned()]);
        }
        if !self.only.is_empty() {
            a.extend(["--only".to_owned(), self.only.join(",")]);
        }
        if self.keep {
            a.push("--keep".to_owned());
        }
        if !self.rtt.is_empty() {
            a.extend(["--rtt".to_owned(), join(&self.rtt)]);
        }
        if self.no_imapvm {
            a.push("--no-imapvm".to_owned());
        }
        a
    }

    /// The MWI bench's arguments (after `--`): the sized-down run.
    pub fn mwi_args(&self) -> Vec<String> {
        let mut a = vec!["--budget".to_owned()];
        if self.quick {
            a.push("--quick".to_owned());
        }
        a
    }

    /// criterion's own arguments: shorter than its defaults (3 s warm-up,
    /// 5 s measurement) to fit the time budget, and saved under the baseline
    /// name the report reads, so that another `cargo bench` in the same
    /// target directory cannot replace them.
    pub fn criterion_args(&self) -> Vec<String> {
        let (warm, measure) = if self.quick { ("0.5", "1") } else { ("1", "3") };
        vec![
            "--warm-up-time".into(),
            warm.into(),
            "--measurement-time".into(),
            measure.into(),
            // 10 samples (criterion's minimum): the slow benches (a 10,000-mailbox
            // config, a 1,000-item FETCH) otherwise need minutes for 100 samples.
            "--sample-size".into(),
            "10".into(),
            "--save-baseline".into(),
            CRITERION_BASELINE.into(),
        ]
    }
}

/// `0,5,20`.
fn join(values: &[u32]) -> String {
    values
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

fn cargo_bin() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Runs everything and writes the report.
pub fn run(args: &BenchArgs) -> Result<()> {
    // Two runs at once share the server's bench folders and bulk users and would
    // disturb each other's figures: the second waits for the first.
    let lock = xtask::server::target_dir().join("imapvm-bench.lock");
    eprintln!(
        "==> xtask bench: taking {} (waits while another run holds it)",
        lock.display()
    );
    let _lock = xtask::server::DirLock::acquire(&lock)?;
    let server = dovecot::ensure_running()?;
    eprintln!("private dovecot on {}:{}", server.host, server.port);
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let root = workspace_root();
    // Compile first, so that the timings below are of the runs alone.
    let started = Instant::now();
    let mut targets: Vec<(&str, &str)> = Vec::new();
    if !args.no_criterion {
        targets.extend_from_slice(CRITERION_BENCHES);
    }
    if !args.no_mwi {
        targets.push(("imapvm-benches", "mwi_latency"));
    }
    targets.push(("imapvm-benches", "suite"));
    if !args.no_phone {
        targets.push(("imapvm-benches", "phone"));
    }
    for (package, bench) in &targets {
        eprintln!("==> xtask bench: compiling {package}/{bench}");
        let status = Command::new(cargo_bin())
            .current_dir(&root)
            .args(["bench", "--no-run", "-p", package, "--bench", bench])
            .status()
            .map_err(|e| HarnessError::io(format_args!("compiling bench {bench}"), e))?;
        if !status.success() && *bench == "suite" {
            return Err(HarnessError(format!(
                "compiling the suite failed: {status}"
            )));
        }
    }
    let compiled = started.elapsed();
    let started = Instant::now();
    let mut skipped = Vec::new();
    if !args.no_criterion {
        for (package, bench) in CRITERION_BENCHES {
            eprintln!("==> xtask bench: criterion {package}/{bench}");
            let status = Command::new(cargo_bin())
                .current_dir(&root)
                .args(["bench", "-p", package, "--bench", bench, "--"])
                .args(args.criterion_args())
                .status()
                .map_err(|e| HarnessError::io(format_args!("running cargo bench {bench}"), e))?;
            if !status.success() {
                eprintln!(
                    "xtask bench: {package}/{bench} failed ({status}); its figures will be missing"
                );
                skipped.push(format!("{package}/{bench}"));
            }
        }
    }
    let criterion_took = started.elapsed();
    let mwi_started = std::time::Instant::now();
    if !args.no_mwi {
        eprintln!("==> xtask bench: MWI latency (imapvm-benches/mwi_latency -- --budget)");
        let status = Command::new(cargo_bin())
            .current_dir(&root)
            .args([
                "bench",
                "-p",
                "imapvm-benches",
                "--bench",
                "mwi_latency",
                "--",
            ])
            .args(args.mwi_args())
            .status()
            .map_err(|e| HarnessError::io("running the MWI latency bench", e))?;
        if !status.success() {
            eprintln!("xtask bench: the MWI latency bench failed ({status}); the report says so");
            skipped.push("imapvm-benches/mwi_latency".to_owned());
        }
    }
    let mwi_took = mwi_started.elapsed();
    let suite_started = std::time::Instant::now();
    let report_path = root.join("docs/performance.md");
    let kept = kept_sections(&std::fs::read_to_string(&report_path).unwrap_or_default());
    eprintln!("==> xtask bench: end-to-end suite");
    let status = Command::new(cargo_bin())
        .current_dir(&root)
        .args(["bench", "-p", "imapvm-benches", "--bench", "suite", "--"])
        .args(args.suite_args(since))
        .status()
        .map_err(|e| HarnessError::io("running the benchmark suite", e))?;
    if !status.success() {
        return Err(HarnessError(format!(
            "the benchmark suite failed: {status}"
        )));
    }
    if !kept.is_empty() {
        let report = std::fs::read_to_string(&report_path)
            .map_err(|e| HarnessError::io("reading docs/performance.md", e))?;
        let report = kept
            .iter()
            .fold(report, |report, section| splice_section(&report, section));
        std::fs::write(&report_path, report)
            .map_err(|e| HarnessError::io("writing docs/performance.md", e))?;
    }
    let phone_started = std::time::Instant::now();
    if !args.no_phone {
        eprintln!("==> xtask bench: the phone side (imapvm-benches/phone)");
        let status = Command::new(cargo_bin())
            .current_dir(&root)
            .args(["bench", "-p", "imapvm-benches", "--bench", "phone"])
            .status()
            .map_err(|e| HarnessError::io("running the phone bench", e))?;
        let section = std::fs::read_to_string(xtask::server::target_dir().join("bench-phone.md"));
        match (status.success(), section) {
            (true, Ok(section)) => {
                let path = root.join("docs/performance.md");
                let report = std::fs::read_to_string(&path)
                    .map_err(|e| HarnessError::io("reading docs/performance.md", e))?;
                std::fs::write(&path, splice_section(&report, &section))
                    .map_err(|e| HarnessError::io("writing docs/performance.md", e))?;
            }
            _ => {
                eprintln!(
                    "xtask bench: the phone bench failed ({status}); its section is left as it was"
                );
                skipped.push("imapvm-benches/phone".to_owned());
            }
        }
    }
    let phone_took = phone_started.elapsed();
    if !skipped.is_empty() {
        eprintln!("xtask bench: benches that failed: {}", skipped.join(", "));
    }
    eprintln!(
        "xtask bench: wrote docs/performance.md and docs/performance.svg; criterion's HTML \
         reports are in target/criterion/report/index.html"
    );
    eprintln!(
        "xtask bench: compilation {:.0} s, then criterion {:.0} s, MWI latency {:.0} s, the \
         end-to-end suite {:.0} s and the phone {:.0} s",
        compiled.as_secs_f64(),
        criterion_took.as_secs_f64(),
        mwi_took.as_secs_f64(),
        (suite_started.elapsed() - phone_took).as_secs_f64(),
        phone_took.as_secs_f64(),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_phone_section_is_replaced_in_place_or_appended() {
        let section = "## The phone side (FastAGI)\n\nnew figures\n";
        let appended = splice_section("# Perf\n\n## Suite\n\nrows\n", section);
        assert_eq!(
            appended,
            "# Perf\n\n## Suite\n\nrows\n\n## The phone side (FastAGI)\n\nnew figures\n"
        );
        let replaced = splice_section(
            "# Perf\n\n## The phone side (FastAGI)\n\nold\n\n## Later\n\nkept\n",
            section,
        );
        assert_eq!(
            replaced,
            "# Perf\n\n## The phone side (FastAGI)\n\nnew figures\n\n## Later\n\nkept\n"
        );
        assert_eq!(splice_section(&appended, section), appended, "idempotent");
    }

    #[test]
    fn hand_written_sections_survive_a_rewrite() {
        let old = "# Perf\n\n## Suite\n\nold rows\n\n## Scale of the MWI watcher\n\n309 MiB\n\n\
                   ## Client CPU\n\nprofiles\n\n## Scale of the MWI watcher, mentioned\n";
        let kept = kept_sections(old);
        assert_eq!(
            kept,
            [
                "## Scale of the MWI watcher\n\n309 MiB",
                "## Client CPU\n\nprofiles"
            ]
        );
        let rewritten = kept.iter().fold(
            "# Perf\n\n## Suite\n\nnew rows\n".to_owned(),
            |report, section| splice_section(&report, section),
        );
        assert_eq!(
            rewritten,
            "# Perf\n\n## Suite\n\nnew rows\n\n## Scale of the MWI watcher\n\n309 MiB\n\n\
             ## Client CPU\n\nprofiles\n"
        );
    }

    #[test]
    fn default_run_names_itself_and_asks_for_50_iterations() {
        let a = BenchArgs::default();
        assert_eq!(a.command(), "cargo xtask bench");
        let s = a.suite_args(42);
        assert_eq!(
            s,
            [
                "--criterion-since",
                "42",
                "--mwi-since",
                "42",
                "--command",
                "cargo xtask bench",
                "--iterations",
                "50"
            ]
        );
        assert_eq!(a.criterion_args()[3], "3");
        assert_eq!(a.mwi_args(), ["--budget"]);
    }

    #[test]
    fn no_mwi_leaves_the_report_without_mwi_figures() {
        let a = BenchArgs {
            no_mwi: true,
            quick: true,
            ..BenchArgs::default()
        };
        assert_eq!(a.command(), "cargo xtask bench --quick --no-mwi");
        assert!(!a.suite_args(7).contains(&"--mwi-since".to_owned()));
        assert_eq!(a.mwi_args(), ["--budget", "--quick"]);
    }

    #[test]
    fn quick_and_filters_reach_the_suite() {
        let a = BenchArgs {
            quick: true,
            only: vec!["count".into(), "list-10".into()],
            keep: true,
            ..BenchArgs::default()
        };
        assert_eq!(
            a.command(),
            "cargo xtask bench --quick --only count,list-10 --keep"
        );
        let s = a.suite_args(1);
        assert!(s.contains(&"--quick".to_owned()));
        assert!(s.windows(2).any(|w| w == ["--only", "count,list-10"]));
        assert!(s.contains(&"--keep".to_owned()));
        assert_eq!(a.criterion_args()[1], "0.5");
    }

    #[test]
    fn round_trip_times_reach_the_suite() {
        let a = BenchArgs {
            rtt: vec![0, 20],
            ..BenchArgs::default()
        };
        assert_eq!(a.command(), "cargo xtask bench --rtt 0,20");
        assert!(a.suite_args(1).windows(2).any(|w| w == ["--rtt", "0,20"]));
        assert!(
            !BenchArgs::default()
                .suite_args(1)
                .contains(&"--rtt".to_owned())
        );
    }
}
