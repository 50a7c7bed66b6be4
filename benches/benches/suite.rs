//! The end-to-end suite against the private Dovecot: Asterisk's replayed
//! sequences, the floor and imapvm, side by side; writes
//! `docs/performance.md` and `docs/performance.svg`.
//!
//! Every contender connects through its own latency proxy
//! (`imapvm_testkit::latency`, see `suite/net.rs`), all at the same distance;
//! the suite runs at each round-trip time of `--rtt` (default 0,5,20,50 ms),
//! warm connections staying open across them, and the proxies count round
//! trips and bytes for every contender the same way.
//!
//! `cargo xtask bench` runs it after the criterion benches. Arguments (after
//! `--`): `--rtt MS[,MS]`, `--iterations N` (at 0 ms; fewer at a distance,
//! see `suite::iterations_at`), `--warmup N`, `--quick`, `--only ID[,ID]`,
//! `--keep` (leave the `bench-*` folders for the next run), `--no-imapvm`,
//! `--doc PATH`, `--criterion-since UNIX-SECONDS`, `--mwi-since UNIX-SECONDS`
//! (quote `target/bench-mwi.json`, the MWI latency bench's results, only if
//! written at or after then; without it the MWI section says "not
//! measured"), `--command TEXT` (the command the report names),
//! `--render-only` (write the report again from the last run's
//! `target/imapvm-bench/results.json`, measuring nothing).
#![allow(clippy::print_stdout, clippy::print_stderr)]

#[path = "suite/net.rs"]
mod net;
mod runtime;

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use imapvm_benches::mwi;
use imapvm_benches::report::{self, ConfigMemory, Machine, Report};
use imapvm_benches::scenario::Account;
use imapvm_benches::suite::{self, Options, Plan, Runtime};
use imapvm_benches::{BenchError, Result};
use net::Net;

#[derive(Debug)]
struct Args {
    iterations: usize,
    warmup: usize,
    only: Vec<String>,
    keep: bool,
    render_only: bool,
    imapvm: bool,
    doc: PathBuf,
    since: Option<SystemTime>,
    mwi_since: Option<u64>,
    command: String,
    rtts: Vec<u32>,
}

fn parse_args() -> std::result::Result<Args, String> {
    let root = xtask::server::workspace_root();
    let mut a = Args {
        iterations: 50,
        warmup: 3,
        only: Vec::new(),
        keep: false,
        render_only: false,
        imapvm: true,
        doc: root.join("docs/performance.md"),
        since: None,
        mwi_since: None,
        command: "cargo xtask bench".into(),
        rtts: suite::DEFAULT_RTTS.to_vec(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--bench" => {}
            "--quick" => {
                a.iterations = 5;
                a.warmup = 1;
            }
            "--iterations" => {
                a.iterations = value("--iterations")?
                    .parse()
                    .map_err(|e| format!("--iterations: {e}"))?;
            }
            "--warmup" => {
                a.warmup = value("--warmup")?
                    .parse()
                    .map_err(|e| format!("--warmup: {e}"))?;
            }
            "--only" => {
                a.only = value("--only")?.split(',').map(str::to_owned).collect();
            }
            "--keep" => a.keep = true,
            "--rtt" => {
                a.rtts = value("--rtt")?
                    .split(',')
                    .map(|v| v.trim().parse().map_err(|e| format!("--rtt {v:?}: {e}")))
                    .collect::<std::result::Result<_, _>>()?;
                if a.rtts.is_empty() || a.rtts.iter().any(|&r| r > 1000) {
                    return Err("--rtt takes milliseconds from 0 to 1000".into());
                }
            }
            "--render-only" => a.render_only = true,
            "--no-imapvm" => a.imapvm = false,
            "--doc" => a.doc = PathBuf::from(value("--doc")?),
            "--command" => a.command = value("--command")?,
            "--criterion-since" => {
                let secs: u64 = value("--criterion-since")?
                    .parse()
                    .map_err(|e| format!("--criterion-since: {e}"))?;
                a.since = Some(UNIX_EPOCH + Duration::from_secs(secs));
            }
            "--mwi-since" => {
                a.mwi_since = Some(
                    value("--mwi-since")?
                        .parse()
                        .map_err(|e| format!("--mwi-since: {e}"))?,
                );
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if a.iterations == 0 {
        return Err("--iterations must be at least 1".into());
    }
    let known = suite::operation_ids();
    if let Some(bad) = a.only.iter().find(|o| !known.contains(&o.as_str())) {
        return Err(format!(
            "unknown operation {bad:?} (have {})",
            known.join(", ")
        ));
    }
    Ok(a)
}

fn version(cmd: &str, arg: &str) -> String {
    Command::new(cmd)
        .arg(arg)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".into())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("suite: {e}");
            return ExitCode::FAILURE;
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("suite: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Writes the markdown and the chart of `report`.
fn write_docs(args: &Args, report: &Report) -> Result<()> {
    let chart = args.doc.with_extension("svg");
    let chart_name = chart
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "performance.svg".into());
    std::fs::write(&chart, report::svg_by_rtt(&report.operations))
        .map_err(|e| BenchError::io(chart.display().to_string(), e))?;
    std::fs::write(&args.doc, report::markdown(report, &chart_name))
        .map_err(|e| BenchError::io(args.doc.display().to_string(), e))?;
    eprintln!("wrote {} and {}", args.doc.display(), chart.display());
    Ok(())
}

fn results_path() -> PathBuf {
    xtask::server::target_dir().join("imapvm-bench/results.json")
}

fn run(args: &Args) -> Result<()> {
    if args.render_only {
        let path = results_path();
        let bytes =
            std::fs::read(&path).map_err(|e| BenchError::io(path.display().to_string(), e))?;
        let report: Report = serde_json::from_slice(&bytes)
            .map_err(|e| BenchError::Scenario(format!("{}: {e}", path.display())))?;
        return write_docs(args, &report);
    }
    let server = xtask::dovecot::ensure_running()
        .map_err(|e| BenchError::Scenario(format!("private Dovecot: {e}")))?;
    let password =
        |user: &str| {
            server.users.get(user).cloned().ok_or_else(|| {
                BenchError::Scenario(format!("the private Dovecot has no user {user}"))
            })
        };
    let plan = Plan {
        personal: Account {
            host: server.host.clone(),
            port: server.port,
            user: "vm4321".into(),
            password: password("vm4321")?,
        },
        shared: Account {
            host: server.host.clone(),
            port: server.port,
            user: "vmshared".into(),
            password: password("vmshared")?,
        },
    };
    let started = std::time::Instant::now();
    let mut progress = |line: &str| eprintln!("{line}");
    eprintln!(
        "preparing the bench-* folders on {}:{}",
        server.host, server.port
    );
    let filled = suite::prepare(&plan, &mut progress)?;

    let net = Net::start(&server)?;
    let mut rt = if args.imapvm {
        Some(runtime::ImapvmRuntime::new(&server, &plan, &net)?)
    } else {
        None
    };
    let runtime_note = if args.imapvm {
        String::new()
    } else {
        "not measured in this run (--no-imapvm)".to_owned()
    };
    let mut outcome = Ok(Vec::new());
    let mut rtt_secs = Vec::new();
    for &rtt in &args.rtts {
        net.set_rtt(rtt);
        let opts = Options {
            iterations: suite::iterations_at(args.iterations, rtt),
            warmup: suite::warmup_at(args.warmup, rtt),
        };
        progress(&format!(
            "== {rtt} ms round-trip time: {} iterations after {} warm-up",
            opts.iterations, opts.warmup
        ));
        let began = std::time::Instant::now();
        let ran = suite::run(
            &plan,
            &net,
            opts,
            &args.only,
            rt.as_mut().map(|r| r as &mut dyn Runtime),
            &runtime_note,
            &mut progress,
        );
        rtt_secs.push((rtt, began.elapsed().as_secs()));
        match (ran, &mut outcome) {
            (Ok(ops), Ok(all)) => all.extend(ops),
            (Err(e), _) => {
                outcome = Err(e);
                break;
            }
            (Ok(_), Err(_)) => {}
        }
    }
    if let Some(rt) = rt {
        rt.close();
    }
    if !args.keep {
        suite::cleanup(&plan)?;
    }
    let operations = outcome?;

    let target = xtask::server::target_dir();
    let criterion = report::read_criterion(
        &target.join("criterion"),
        report::CRITERION_BASELINE,
        args.since,
    );
    let config_memory: Option<ConfigMemory> =
        std::fs::read(target.join("imapvm-bench/config-memory.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
    let mut not_measured = Vec::new();
    let mwi = match args.mwi_since {
        Some(since) => match mwi::read(&target.join(mwi::RESULTS_FILE), since) {
            Ok(m) => Some(m),
            Err(why) => {
                not_measured.push(format!(
                    "MWI latency after a mail-client change: the MWI bench gave no results in \
                     this run ({why}; did it fail? its output is above the suite's in the \
                     `cargo xtask bench` log)."
                ));
                None
            }
        },
        None => {
            not_measured.push(
                "MWI latency after a mail-client change: not run in this run (`cargo xtask \
                 bench` runs it unless `--no-mwi`; alone: `cargo bench -p imapvm-benches \
                 --bench mwi_latency`)."
                    .into(),
            );
            None
        }
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let report = Report {
        date: report::utc_minute(now),
        machine: Machine::this(
            &version("/usr/sbin/dovecot", "--version"),
            &version("rustc", "--version"),
        ),
        command: args.command.clone(),
        iterations: args.iterations,
        warmup: args.warmup,
        operations,
        criterion,
        config_memory,
        not_measured,
        elapsed_secs: Some(started.elapsed().as_secs()),
        mwi,
        rtts: args.rtts.clone(),
        rtt_secs,
        filled,
    };
    let results = results_path();
    if let Some(dir) = results.parent() {
        std::fs::create_dir_all(dir).map_err(|e| BenchError::io(dir.display().to_string(), e))?;
    }
    let json = serde_json::to_string_pretty(&report)
        .map_err(|e| BenchError::Scenario(format!("serialising the results: {e}")))?;
    std::fs::write(&results, json).map_err(|e| BenchError::io(results.display().to_string(), e))?;
    eprintln!("wrote {}", results.display());
    write_docs(args, &report)?;
    Ok(())
}
