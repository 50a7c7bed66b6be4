//! `cargo xtask`: the CI gate, the demo, private IMAP servers, fuzzing, benches.
//!
//! * `ci`: the whole gate, failing fast (see [`ci`]).
//! * `demo`: the main job on the embedded default (a private Dovecot).
//! * `dovecot start|stop|status`: the private Dovecot; `start` prints its JSON.
//! * `cyrus start|stop|status`, `courier start|stop|status`: the private Cyrus
//!   (`/` hierarchy) and Courier (`INBOX.` namespace), same JSON contract.
//! * `fuzz [TARGET..] [--seconds N]`: run cargo-fuzz targets on stable.
//! * `bench [--quick]`: criterion benches, the MWI latency bench (NOTIFY/IDLE
//!   against polling at pollfreq 1 and 30), then the end-to-end suite against
//!   the private Dovecot; writes `docs/performance.md` and its SVG chart.
//! * `tidy`: the repository checks (also part of `cargo test`).
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod demo;

use std::path::Path;
use std::process::{Child, Command, ExitCode};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};

mod bench;
use xtask::server::{self, HarnessError, Result, ServerInfo, workspace_root};
use xtask::{courier, cyrus, dovecot};

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "imapvm project automation")]
struct Args {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// The whole gate: fmt, clippy, tests (with private Dovecot, Cyrus, Courier), docs, benches compile, fuzz smoke.
    Ci {
        /// Seconds each fuzz target runs in the smoke step.
        #[arg(long, default_value_t = 20)]
        fuzz_seconds: u64,
    },
    /// Run the main job on the embedded default: a private Dovecot on loopback.
    Demo {
        /// Leave the private Dovecot running afterwards.
        #[arg(long)]
        keep: bool,
    },
    /// The private Dovecot for tests and the demo.
    Dovecot {
        #[command(subcommand)]
        action: ServerAction,
    },
    /// The private Cyrus IMAP 3.6 for tests ('/' hierarchy, idled, proxy user).
    Cyrus {
        #[command(subcommand)]
        action: ServerAction,
    },
    /// The private Courier-IMAP 5 for tests ('INBOX.' namespace, no MOVE, no master user).
    Courier {
        #[command(subcommand)]
        action: ServerAction,
    },
    /// Run cargo-fuzz targets (stable toolchain, no sanitizer).
    Fuzz {
        /// Targets to run (default: every target in fuzz/Cargo.toml).
        targets: Vec<String>,
        /// Seconds per target.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
    },
    /// Criterion benches, MWI latency, then the end-to-end suite on the private Dovecot (writes docs/performance.md).
    Bench(bench::BenchArgs),
    /// Repository checks: module docs, no ignored tests, dependency layering.
    Tidy,
}

#[derive(Debug, Subcommand)]
enum ServerAction {
    /// Start (or find) the server and print its JSON.
    Start,
    /// Stop it by pid and wait until it is gone.
    Stop,
    /// Print its JSON, or say it is not running.
    Status,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match args.task {
        Task::Ci { fuzz_seconds } => ci(fuzz_seconds),
        Task::Demo { keep } => demo::run(keep),
        Task::Dovecot { action } => dovecot_cmd(action),
        Task::Cyrus { action } => cyrus_cmd(action),
        Task::Courier { action } => courier_cmd(action),
        Task::Fuzz { targets, seconds } => fuzz(&targets, seconds),
        Task::Bench(args) => bench::run(&args),
        Task::Tidy => cargo(&["test", "--package", "xtask", "--lib", "tidy"], &[]),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: {err}");
            ExitCode::FAILURE
        }
    }
}

fn cargo_bin() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Run `cargo ARGS REST` in the workspace root; fail on a non-zero exit.
fn cargo(args: &[&str], rest: &[String]) -> Result<()> {
    let mut cmd = Command::new(cargo_bin());
    cmd.current_dir(workspace_root()).args(args).args(rest);
    run_status(&mut cmd)
}

fn run_status(cmd: &mut Command) -> Result<()> {
    let status = cmd
        .status()
        .map_err(|e| HarnessError::io(format_args!("running {cmd:?}"), e))?;
    if status.success() {
        Ok(())
    } else {
        Err(HarnessError(format!("{cmd:?} failed: {status}")))
    }
}

/// What a step of the gate runs.
type StepFn = Box<dyn Fn() -> Result<()>>;

/// One step of the gate, timed.
struct Step {
    name: &'static str,
    took: Duration,
    ok: bool,
}

/// The gate, in order, failing fast. Prints a summary line per step.
fn ci(fuzz_seconds: u64) -> Result<()> {
    let started = Instant::now();
    let mut steps: Vec<Step> = Vec::new();
    let mut outcome = Ok(());
    let plan: Vec<(&'static str, StepFn)> = vec![
        ("fmt", Box::new(|| cargo(&["fmt", "--all", "--check"], &[]))),
        (
            "clippy",
            Box::new(|| {
                cargo(
                    &[
                        "clippy",
                        "--workspace",
                        "--all-targets",
                        "--",
                        "-D",
                        "warnings",
                    ],
                    &[],
                )
            }),
        ),
        ("test", Box::new(test_with_servers)),
        (
            "doc",
            Box::new(|| {
                let mut cmd = Command::new(cargo_bin());
                cmd.current_dir(workspace_root())
                    .env("RUSTDOCFLAGS", "-D warnings")
                    .args(["doc", "--workspace", "--no-deps"]);
                run_status(&mut cmd)
            }),
        ),
        (
            "bench-build",
            Box::new(|| cargo(&["bench", "--workspace", "--no-run"], &[])),
        ),
        ("fuzz-smoke", Box::new(move || fuzz(&[], fuzz_seconds))),
    ];
    for (name, run) in plan {
        eprintln!("==> xtask ci: {name}");
        let t = Instant::now();
        let result = run();
        let step = Step {
            name,
            took: t.elapsed(),
            ok: result.is_ok(),
        };
        eprintln!(
            "==> xtask ci: {name} {} in {:.1}s",
            if step.ok { "ok" } else { "FAILED" },
            step.took.as_secs_f64()
        );
        steps.push(step);
        if let Err(e) = result {
            outcome = Err(HarnessError(format!("step `{name}` failed: {e}")));
            break;
        }
    }
    eprintln!("\nxtask ci summary:");
    for step in &steps {
        eprintln!(
            "  {:<12} {:>8.1}s  {}",
            step.name,
            step.took.as_secs_f64(),
            if step.ok { "ok" } else { "FAILED" }
        );
    }
    eprintln!(
        "  {:<12} {:>8.1}s",
        "total",
        started.elapsed().as_secs_f64()
    );
    outcome
}

/// `cargo test --workspace` with the private Dovecot, Cyrus and Courier
/// started for the integration tests and all stopped afterwards, also when
/// the tests (or starting one of the servers) fail.
fn test_with_servers() -> Result<()> {
    let mut running = RunningServers::default();
    let started = running.start_all();
    let tests = match &started {
        Ok(()) => cargo(&["test", "--workspace"], &[]),
        Err(_) => Ok(()),
    };
    let stopped = running.stop_all();
    started?;
    tests?;
    stopped
}

/// The servers the gate started, with their child handles to reap.
#[derive(Default)]
struct RunningServers {
    dovecot: Option<(ServerInfo, Option<Child>)>,
    cyrus: Option<(ServerInfo, Vec<Child>)>,
    courier: Option<(ServerInfo, Vec<Child>)>,
}

impl RunningServers {
    fn start_all(&mut self) -> Result<()> {
        let (info, child) = dovecot::start()?;
        eprintln!(
            "private dovecot pid {} on {}:{}",
            info.pid, info.host, info.port
        );
        self.dovecot = Some((info, child));
        let (info, children) = cyrus::start()?;
        eprintln!(
            "private cyrus pid {} on {}:{}",
            info.pid, info.host, info.port
        );
        self.cyrus = Some((info, children));
        let (info, children) = courier::start()?;
        eprintln!(
            "private courier pid {} on {}:{}",
            info.pid, info.host, info.port
        );
        self.courier = Some((info, children));
        Ok(())
    }

    /// Stop all three (each even when another fails), then check that no
    /// process of theirs is left: a stop that leaves one is a harness bug.
    fn stop_all(self) -> Result<()> {
        let mut errors = Vec::new();
        let mut dirs = Vec::new();
        if let Some((info, child)) = self.dovecot {
            if let Err(e) = dovecot::stop(child) {
                errors.push(format!("dovecot: {e}"));
            }
            let conf = info.dir.join("dovecot.conf");
            let leftovers = server::processes_mentioning(&conf.display().to_string());
            if !leftovers.is_empty() {
                errors.push(format!("dovecot processes left after stop: {leftovers:?}"));
            }
        }
        if let Some((info, children)) = self.cyrus {
            if let Err(e) = cyrus::stop(children) {
                errors.push(format!("cyrus: {e}"));
            }
            dirs.push(("cyrus", info.dir));
        }
        if let Some((info, children)) = self.courier {
            if let Err(e) = courier::stop(children) {
                errors.push(format!("courier: {e}"));
            }
            dirs.push(("courier", info.dir));
        }
        for (name, dir) in dirs {
            let leftovers = server::processes_under(&dir);
            if !leftovers.is_empty() {
                errors.push(format!("{name} processes left after stop: {leftovers:?}"));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(HarnessError(errors.join("; ")))
        }
    }
}

fn dovecot_cmd(action: ServerAction) -> Result<()> {
    match action {
        ServerAction::Start => {
            let (info, child) = dovecot::start()?;
            // Let the server outlive this process: do not kill or wait for it.
            drop(child);
            println!(
                "{}",
                serde_json::to_string_pretty(&info).map_err(|e| HarnessError(e.to_string()))?
            );
            Ok(())
        }
        ServerAction::Stop => {
            match dovecot::stop(None)? {
                Some(pid) => eprintln!("stopped dovecot (pid {pid})"),
                None => eprintln!("dovecot was not running"),
            }
            Ok(())
        }
        ServerAction::Status => match dovecot::status()? {
            Some(info) => {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&info).map_err(|e| HarnessError(e.to_string()))?
                );
                Ok(())
            }
            None => Err(HarnessError(
                "dovecot is not running (cargo xtask dovecot start)".into(),
            )),
        },
    }
}

fn cyrus_cmd(action: ServerAction) -> Result<()> {
    server_cmd("cyrus", action, cyrus::start, cyrus::stop, cyrus::status)
}

fn courier_cmd(action: ServerAction) -> Result<()> {
    server_cmd(
        "courier",
        action,
        courier::start,
        courier::stop,
        courier::status,
    )
}

/// `start|stop|status` for a server whose `start` hands back the child
/// processes it started (left running here: the server outlives us).
fn server_cmd(
    name: &str,
    action: ServerAction,
    start: fn() -> Result<(ServerInfo, Vec<Child>)>,
    stop: fn(Vec<Child>) -> Result<Option<u32>>,
    status: fn() -> Result<Option<ServerInfo>>,
) -> Result<()> {
    let print = |info: &ServerInfo| -> Result<()> {
        println!(
            "{}",
            serde_json::to_string_pretty(info).map_err(|e| HarnessError(e.to_string()))?
        );
        Ok(())
    };
    match action {
        ServerAction::Start => {
            let (info, children) = start()?;
            // Let the server outlive this process: do not kill or wait for it.
            drop(children);
            print(&info)
        }
        ServerAction::Stop => {
            match stop(Vec::new())? {
                Some(pid) => eprintln!("stopped {name} (pid {pid})"),
                None => eprintln!("{name} was not running"),
            }
            Ok(())
        }
        ServerAction::Status => match status()? {
            Some(info) => print(&info),
            None => Err(HarnessError(format!(
                "{name} is not running (cargo xtask {name} start)"
            ))),
        },
    }
}

/// The `[[bin]]` names in `fuzz/Cargo.toml`.
fn fuzz_targets(manifest: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(manifest)
        .map_err(|e| HarnessError::io("reading fuzz/Cargo.toml", e))?;
    let mut targets = Vec::new();
    let mut in_bin = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if in_bin && let Some(value) = line.strip_prefix("name") {
            let name = value
                .trim_start()
                .trim_start_matches('=')
                .trim()
                .trim_matches('"');
            targets.push(name.to_string());
        }
    }
    Ok(targets)
}

fn ensure_cargo_fuzz() -> Result<()> {
    let found = Command::new(cargo_bin())
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Ok(());
    }
    eprintln!("installing cargo-fuzz (cargo install cargo-fuzz --locked)");
    cargo(&["install", "cargo-fuzz", "--locked"], &[])
}

/// Run each fuzz target for `seconds` on stable (`--sanitizer none`), with
/// its committed seeds in `fuzz/seeds/TARGET` as an extra corpus and its
/// dictionary `fuzz/dicts/TARGET.dict` when there is one.
fn fuzz(targets: &[String], seconds: u64) -> Result<()> {
    let root = workspace_root();
    let all = fuzz_targets(&root.join("fuzz/Cargo.toml"))?;
    let chosen: Vec<String> = if targets.is_empty() {
        all.clone()
    } else {
        targets.to_vec()
    };
    if chosen.is_empty() {
        eprintln!("no fuzz targets in fuzz/Cargo.toml yet");
        return Ok(());
    }
    if let Some(unknown) = chosen.iter().find(|t| !all.contains(t)) {
        return Err(HarnessError(format!(
            "unknown fuzz target `{unknown}` (have: {})",
            all.join(", ")
        )));
    }
    ensure_cargo_fuzz()?;
    for target in &chosen {
        let corpus = root.join("fuzz/corpus").join(target);
        server::mkdir(&corpus)?;
        let mut cmd = Command::new(cargo_bin());
        cmd.current_dir(&root)
            .args(["fuzz", "run", "--sanitizer", "none", target])
            .arg(&corpus);
        let seeds = root.join("fuzz/seeds").join(target);
        if seeds.is_dir() {
            cmd.arg(&seeds);
        }
        cmd.arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .arg("-print_final_stats=1");
        // A target's libFuzzer dictionary, if it has one (`fuzz/dicts/TARGET.dict`).
        let dict = root.join("fuzz/dicts").join(format!("{target}.dict"));
        if dict.is_file() {
            cmd.arg(format!("-dict={}", dict.display()));
        }
        eprintln!("fuzzing {target} for {seconds}s");
        run_status(&mut cmd)?;
    }
    Ok(())
}
