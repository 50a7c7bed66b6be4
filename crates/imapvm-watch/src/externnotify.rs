//! `externnotify`: the operator's program, run after every published MWI change with
//! Asterisk's arguments `context mailbox new old urgent`
//! (`docs/reference/asterisk-imap-behaviour.md` §4.11; `new` excludes urgent). Unlike Asterisk it is run **without a shell** (the configured
//! value is split on whitespace: program, then fixed leading arguments), with a timeout
//! after which it is killed, and never more than once at a time per mailbox: a change that
//! arrives while the program runs for that mailbox waits, and only the latest such state
//! is passed when the run ends. Runs happen on their own tasks and never block the watcher.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use imapvm::clock::SharedClock;

use crate::metrics::{Metrics, Outcome, Output};

/// How long one run may take before it is killed (Asterisk has no limit).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest `externnotify` value accepted.
pub const MAX_COMMAND_BYTES: usize = 4096;

/// An `externnotify` value that cannot be run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExternNotifyError {
    /// Empty (only blanks).
    #[error("externnotify is empty")]
    Empty,
    /// Longer than [`MAX_COMMAND_BYTES`] or holding a control character.
    #[error("externnotify is over {max} bytes or holds a control character")]
    Unusable {
        /// The length limit.
        max: usize,
    },
}

/// The program to run and how long it may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternNotify {
    program: String,
    leading: Vec<String>,
    timeout: Duration,
}

/// How one run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RunOutcome {
    /// The program exited with this code (`None`: killed by a signal).
    Exited(Option<i32>),
    /// It ran longer than the timeout and was killed.
    TimedOut,
    /// It could not be started.
    SpawnFailed(String),
}

/// One finished run, reported to the watcher's event stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternRun {
    /// `box@context`.
    pub mailbox: String,
    /// The five arguments passed (after the configured leading ones).
    pub args: Vec<String>,
    /// How it ended.
    pub outcome: RunOutcome,
}

impl ExternNotify {
    /// Parses a configured `externnotify` value: the first word is the program, further
    /// words are passed before Asterisk's five arguments. No shell: quotes, `$`, `;`, `&`
    /// and redirections are not interpreted.
    pub fn parse(command: &str, timeout: Duration) -> Result<ExternNotify, ExternNotifyError> {
        if command.len() > MAX_COMMAND_BYTES || command.chars().any(|c| c.is_control() && c != '\t')
        {
            return Err(ExternNotifyError::Unusable {
                max: MAX_COMMAND_BYTES,
            });
        }
        let mut words = command.split_whitespace().map(str::to_owned);
        let program = words.next().ok_or(ExternNotifyError::Empty)?;
        Ok(ExternNotify {
            program,
            leading: words.collect(),
            timeout,
        })
    }

    /// The program.
    pub fn program(&self) -> &str {
        &self.program
    }

    /// The timeout of one run.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The whole argument vector of a run (program first), as it will be executed.
    pub fn argv(&self, args: &[String]) -> Vec<String> {
        let mut argv = Vec::with_capacity(1 + self.leading.len() + args.len());
        argv.push(self.program.clone());
        argv.extend(self.leading.iter().cloned());
        argv.extend(args.iter().cloned());
        argv
    }

    /// Runs the program once with `args`, waiting at most the timeout (then kills it).
    /// Standard input, output and error are `/dev/null`.
    pub async fn run_once(&self, args: &[String]) -> RunOutcome {
        let mut command = tokio::process::Command::new(&self.program);
        command
            .args(&self.leading)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(e) => return RunOutcome::SpawnFailed(format!("{}: {e}", self.program)),
        };
        match tokio::time::timeout(self.timeout, child.wait()).await {
            Ok(Ok(status)) => RunOutcome::Exited(status.code()),
            Ok(Err(e)) => RunOutcome::SpawnFailed(format!("{}: waiting: {e}", self.program)),
            Err(_) => {
                let _ = child.kill().await;
                RunOutcome::TimedOut
            }
        }
    }
}

/// What is queued for one mailbox.
#[derive(Debug, Default)]
struct Slot {
    /// The state to pass once the running program ends (the latest wins), and when its
    /// change was seen.
    next: Option<(Vec<String>, Option<Instant>)>,
}

/// Runs [`ExternNotify`] per mailbox: at most one run at a time for each, later states
/// coalesced into one follow-up run with the latest.
pub(crate) struct Runner {
    command: ExternNotify,
    running: Mutex<HashMap<String, Slot>>,
    report: Box<dyn Fn(ExternRun) + Send + Sync>,
    /// Each run is counted (`externnotify`, `ok` for exit status 0, else `failed`).
    metrics: Metrics,
    clock: SharedClock,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("command", &self.command)
            .finish_non_exhaustive()
    }
}

impl Runner {
    /// A runner that hands every finished run to `report` and counts it in `metrics`
    /// (latency on `clock`).
    pub(crate) fn new(
        command: ExternNotify,
        report: impl Fn(ExternRun) + Send + Sync + 'static,
        metrics: Metrics,
        clock: SharedClock,
    ) -> Arc<Runner> {
        Arc::new(Runner {
            command,
            running: Mutex::new(HashMap::new()),
            report: Box::new(report),
            metrics,
            clock,
        })
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        match self.running.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Runs the program for `mailbox` with `args` (a change `seen` then) now, or after the
    /// run in progress for the same mailbox (replacing whatever was waiting). Never blocks.
    pub(crate) fn notify(
        self: &Arc<Self>,
        mailbox: &str,
        args: Vec<String>,
        seen: Option<Instant>,
    ) {
        {
            let mut slots = self.slots();
            if let Some(slot) = slots.get_mut(mailbox) {
                slot.next = Some((args, seen));
                return;
            }
            slots.insert(mailbox.to_owned(), Slot::default());
        }
        let runner = Arc::clone(self);
        let mailbox = mailbox.to_owned();
        tokio::spawn(async move {
            let (mut args, mut seen) = (args, seen);
            loop {
                let outcome = runner.command.run_once(&args).await;
                let counted = match &outcome {
                    RunOutcome::Exited(Some(0)) => Outcome::Ok,
                    other => {
                        tracing::warn!(mailbox = %mailbox, program = %runner.command.program, outcome = ?other, "externnotify did not succeed");
                        Outcome::Failed
                    }
                };
                runner
                    .metrics
                    .output(Output::ExternNotify, counted, seen, runner.clock.now());
                (runner.report)(ExternRun {
                    mailbox: mailbox.clone(),
                    args: args.clone(),
                    outcome,
                });
                let mut slots = runner.slots();
                match slots.get_mut(&mailbox).and_then(|s| s.next.take()) {
                    Some(next) => (args, seen) = next,
                    None => {
                        slots.remove(&mailbox);
                        break;
                    }
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_splits_program_and_leading_words_without_a_shell() {
        let e = ExternNotify::parse("  /usr/bin/logger -t mwi  ", DEFAULT_TIMEOUT).unwrap();
        assert_eq!(e.program(), "/usr/bin/logger");
        let args: Vec<String> = ["default", "1234", "2", "1", "0"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        assert_eq!(
            e.argv(&args),
            [
                "/usr/bin/logger",
                "-t",
                "mwi",
                "default",
                "1234",
                "2",
                "1",
                "0"
            ]
        );
        let quoted = ExternNotify::parse("notify '$(rm -rf /)' ;", DEFAULT_TIMEOUT).unwrap();
        assert_eq!(quoted.argv(&[]), ["notify", "'$(rm", "-rf", "/)'", ";"]);
    }

    #[test]
    fn parse_refuses_empty_long_and_control_characters() {
        assert_eq!(
            ExternNotify::parse("   ", DEFAULT_TIMEOUT),
            Err(ExternNotifyError::Empty)
        );
        assert!(matches!(
            ExternNotify::parse(&"x".repeat(MAX_COMMAND_BYTES + 1), DEFAULT_TIMEOUT),
            Err(ExternNotifyError::Unusable { .. })
        ));
        assert!(matches!(
            ExternNotify::parse("a\nb", DEFAULT_TIMEOUT),
            Err(ExternNotifyError::Unusable { .. })
        ));
    }

    #[tokio::test]
    async fn run_once_reports_exit_codes_timeouts_and_missing_programs() {
        let ok = ExternNotify::parse("true", Duration::from_secs(5)).unwrap();
        assert_eq!(ok.run_once(&[]).await, RunOutcome::Exited(Some(0)));
        let fails = ExternNotify::parse("false", Duration::from_secs(5)).unwrap();
        assert_eq!(fails.run_once(&[]).await, RunOutcome::Exited(Some(1)));
        let hangs = ExternNotify::parse("sleep 30", Duration::from_millis(200)).unwrap();
        let started = std::time::Instant::now();
        assert_eq!(hangs.run_once(&[]).await, RunOutcome::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(5));
        let missing =
            ExternNotify::parse("/nonexistent/imapvm-notify", Duration::from_secs(1)).unwrap();
        assert!(matches!(
            missing.run_once(&[]).await,
            RunOutcome::SpawnFailed(_)
        ));
    }

    #[tokio::test]
    async fn runs_for_one_mailbox_never_overlap_and_coalesce_to_the_latest() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let metrics = Metrics::new();
        let clock = imapvm::clock::SystemClock::shared();
        let seen = clock.now();
        let runner = Runner::new(
            ExternNotify::parse("sleep 0.3", Duration::from_secs(5)).unwrap(),
            move |run| {
                let _ = tx.send((std::time::Instant::now(), run));
            },
            metrics.clone(),
            clock,
        );
        let started = std::time::Instant::now();
        for n in 0..5 {
            runner.notify("1234@default", vec![n.to_string()], Some(seen));
        }
        runner.notify("5678@default", vec!["other".into()], None);
        let mut runs = Vec::new();
        while runs.len() < 3 {
            let got = tokio::time::timeout(Duration::from_secs(5), rx.recv())
                .await
                .unwrap()
                .unwrap();
            runs.push(got);
        }
        // Nothing more comes: states 1, 2, 3 were replaced by 4.
        assert!(
            tokio::time::timeout(Duration::from_millis(800), rx.recv())
                .await
                .is_err()
        );
        let mine: Vec<_> = runs
            .iter()
            .filter(|(_, r)| r.mailbox == "1234@default")
            .collect();
        assert_eq!(mine.len(), 2);
        assert_eq!(mine[0].1.args, ["0"]);
        assert_eq!(mine[1].1.args, ["4"]);
        // The second run started after the first ended: two sleeps in sequence.
        assert!(mine[1].0 - started >= Duration::from_millis(600));
        let other: Vec<_> = runs
            .iter()
            .filter(|(_, r)| r.mailbox == "5678@default")
            .collect();
        assert_eq!(other.len(), 1);
        // The other mailbox ran in parallel with the first, not after it.
        assert!(other[0].0 - started < Duration::from_millis(550));
        // Three runs counted (`sleep 0.3 other` fails: not a number); the two with a time
        // seen were timed: `sleep 0.3 0` acknowledged 0.3 s after it, then `sleep 0.3 4`
        // (sleep adds its arguments) 4.6 s after it.
        let text = metrics.encode(crate::metrics::Format::Prometheus);
        for (result, n) in [("ok", 2), ("failed", 1)] {
            let line = format!(
                "imapvm_mwi_events_total{{output=\"externnotify\",result=\"{result}\"}} {n}\n"
            );
            assert!(text.contains(&line), "{line} in {text}");
        }
        assert!(
            text.contains("imapvm_mwi_latency_seconds_count 2\n"),
            "{text}"
        );
        for (le, n) in [("0.25", 0), ("0.5", 1), ("2.5", 1), ("5", 2)] {
            let line = format!("imapvm_mwi_latency_seconds_bucket{{le=\"{le}\"}} {n}\n");
            assert!(text.contains(&line), "{line} in {text}");
        }
    }
}
