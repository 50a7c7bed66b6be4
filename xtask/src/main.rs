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
//! * `asterisk [build]`: imapvm's phone flows through a real Asterisk 22, compared with
//!   Asterisk's own VoiceMail()/VoiceMailMain() (see [`asterisk`]; not part of `ci`).
//! * `dist [--check]`: the .deb (cargo-deb), and with `--check` its contents verified in a
//!   scratch root (see [`dist`]; not part of `ci`: it needs a release build).
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod asterisk;
mod demo;
mod dist;

use std::path::Path;
use std::process::{Child, Command, ExitCode};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};

mod bench;
use xtask::courier::Courier;
use xtask::cyrus::Cyrus;
use xtask::dovecot::Dovecot;
use xtask::harness::{self, ImapServer};
use xtask::server::{self, HarnessError, Result, ServerInfo, workspace_root};

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
    /// imapvm's FastAGI voicemail against Asterisk's own apps, through a real Asterisk 22 (`build` builds one).
    Asterisk(asterisk::AsteriskArgs),
    /// The Debian package (cargo-deb) in target/debian/: binary, systemd units, imapvm.conf, man pages, completions.
    Dist {
        /// Then unpack it into a scratch root (dpkg -x) and check its contents and units.
        #[arg(long)]
        check: bool,
    },
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
        Task::Dovecot { action } => server_cmd::<Dovecot>(action),
        Task::Cyrus { action } => server_cmd::<Cyrus>(action),
        Task::Courier { action } => server_cmd::<Courier>(action),
        Task::Fuzz { targets, seconds } => fuzz(&targets, seconds),
        Task::Bench(args) => bench::run(&args),
        Task::Tidy => cargo(&["test", "--package", "xtask", "--lib", "tidy"], &[]),
        Task::Asterisk(args) => asterisk::run(&args),
        Task::Dist { check } => dist::run(check),
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
        // The .deb, unpacked into a scratch root and checked (`cargo xtask dist --check`);
        // after bench-build, whose release dependencies it reuses.
        ("dist", Box::new(|| dist::run(true))),
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
    // The phone tests' scripted Asterisk checks that every prompt imapvm plays exists, as
    // Asterisk would: Asterisk's English sounds (data only, no Asterisk).
    server::ensure_packages(
        "Asterisk's English sounds",
        &["/usr/share/asterisk/sounds/en/vm-intro.wav"],
        &["asterisk-core-sounds-en-wav", "asterisk-core-sounds-en"],
    )?;
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
struct RunningServers(Vec<Running>);

/// One server the gate started.
struct Running {
    name: &'static str,
    info: ServerInfo,
    children: Vec<Child>,
    stop: fn(Vec<Child>) -> Result<Option<u32>>,
}

impl RunningServers {
    fn start_all(&mut self) -> Result<()> {
        self.start::<Dovecot>()?;
        self.start::<Cyrus>()?;
        self.start::<Courier>()
    }

    fn start<S: ImapServer>(&mut self) -> Result<()> {
        let (info, children) = harness::start::<S>()?;
        eprintln!(
            "private {} pid {} on {}:{}",
            S::NAME,
            info.pid,
            info.host,
            info.port
        );
        self.0.push(Running {
            name: S::NAME,
            info,
            children,
            stop: harness::stop::<S>,
        });
        Ok(())
    }

    /// Stop them all (each even when another fails), then check that no
    /// process of theirs is left: a stop that leaves one is a harness bug.
    fn stop_all(self) -> Result<()> {
        let mut errors = Vec::new();
        for running in self.0 {
            if let Err(e) = (running.stop)(running.children) {
                errors.push(format!("{}: {e}", running.name));
            }
            let leftovers = server::processes_under(&running.info.dir);
            if !leftovers.is_empty() {
                errors.push(format!(
                    "{} processes left after stop: {leftovers:?}",
                    running.name
                ));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(HarnessError(errors.join("; ")))
        }
    }
}

/// `start|stop|status` of a private server. `start` leaves the server
/// running after this process exits (its child handles are dropped, not
/// killed or waited for).
fn server_cmd<S: ImapServer>(action: ServerAction) -> Result<()> {
    let name = S::NAME;
    let print = |info: &ServerInfo| -> Result<()> {
        println!(
            "{}",
            serde_json::to_string_pretty(info).map_err(|e| HarnessError(e.to_string()))?
        );
        Ok(())
    };
    match action {
        ServerAction::Start => {
            let (info, children) = harness::start::<S>()?;
            drop(children);
            print(&info)
        }
        ServerAction::Stop => {
            match harness::stop::<S>(Vec::new())? {
                Some(pid) => eprintln!("stopped {name} (pid {pid})"),
                None => eprintln!("{name} was not running"),
            }
            Ok(())
        }
        ServerAction::Status => match harness::status::<S>()? {
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
