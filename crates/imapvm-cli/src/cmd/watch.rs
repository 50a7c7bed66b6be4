//! `imapvm watch [--mailbox B@C ...]`: MWI events until stopped (Ctrl-C), one line each.
//!
//! With `--json`, one JSON object per line: `{mailbox, context, new, old, urgent, at}` for a
//! count change, `{error, account, at}` when an account is down (`docs/cli.md`). `new` excludes
//! urgent, as Asterisk reports it; `at` is RFC 3339 UTC.
//!
//! Outputs (`docs/operations.md`): `--ami` / imapvm.conf's `ami` (VoicemailRefresh or
//! MWIUpdate), `--webhook` / imapvm.conf's `webhook`, externnotify; `--shard K/N` watches one
//! shard of the boxes; `--metrics ADDR` / imapvm.conf's `metrics` serves Prometheus
//! `/metrics` and `/healthz`. Diagnostics and output failures go to stderr (tracing); SIGTERM
//! and Ctrl-C stop cleanly (exit 0). Under systemd (`Type=notify`) it says `READY=1` once
//! every account has been tried, pings the watchdog and says `STOPPING=1`
//! ([`super::service`]).

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use imapvm_watch::{
    Metrics, Shard, StrategyChoice, WatchEvent, WatchOptions, Watcher, rfc3339, watched_boxes,
};
use serde_json::json;

use crate::Global;
use crate::cmd::CliError;
use crate::cmd::metrics::{MetricsArgs, serve};
use crate::cmd::outputs::{OutputArgs, Outputs, stopped};
use crate::cmd::service::{Notifier, Readiness, watchdog_tick};
use crate::cmd::voicemail::{block_on, open};

/// `imapvm watch ...`.
#[derive(Debug, Args)]
pub(crate) struct WatchArgs {
    /// Watch only these boxes (BOX@CONTEXT; repeatable). Default: every box.
    #[arg(long = "mailbox", value_name = "BOX@CONTEXT")]
    mailboxes: Vec<String>,
    /// Poll every SECS seconds instead of NOTIFY/IDLE (Asterisk's way, for comparisons).
    #[arg(long, value_name = "SECS", conflicts_with = "no_notify")]
    poll: Option<f64>,
    /// Do not use NOTIFY (IDLE where offered).
    #[arg(long)]
    no_notify: bool,
    /// Seconds an externnotify run may take before it is killed.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    externnotify_timeout: f64,
    #[command(flatten)]
    outputs: OutputArgs,
    #[command(flatten)]
    metrics: MetricsArgs,
    /// Watch only the boxes whose box@context hashes to shard K of N (1 <= K <= N).
    #[arg(long, value_name = "K/N")]
    shard: Option<Shard>,
}

fn seconds(value: f64, what: &str) -> Result<Duration, CliError> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            CliError(format!(
                "{what}: {value} is not a positive number of seconds"
            ))
        })
}

pub(crate) fn run(global: &Global, args: &WatchArgs) -> Result<ExitCode, CliError> {
    let store = open(global)?;
    let strategy = match (args.poll, args.no_notify) {
        (Some(secs), _) => StrategyChoice::Poll(seconds(secs, "--poll")?),
        (None, true) => StrategyChoice::NoNotify,
        (None, false) => StrategyChoice::Auto,
    };
    let chosen = args
        .mailboxes
        .iter()
        .map(|m| m.parse::<imapvm::MailboxId>())
        .collect::<Result<Vec<_>, _>>()?;
    let mailboxes = watched_boxes(&store, &chosen, args.shard);
    if let Some(shard) = args.shard {
        tracing::info!(%shard, boxes = mailboxes.len(), "watching one shard");
    }
    let metrics = Metrics::new();
    let options = WatchOptions {
        mailboxes: Some(mailboxes.clone()),
        strategy,
        externnotify_timeout: seconds(args.externnotify_timeout, "--externnotify-timeout")?,
        metrics: metrics.clone(),
        ..WatchOptions::default()
    };
    let json = global.json;
    let mut notifier = Notifier::from_env();
    block_on(async move {
        let exporter = serve("watch", &store, &args.metrics, &metrics).await?;
        let mut outputs = Outputs::start(&store, &args.outputs, &metrics)?;
        let mut watcher = Watcher::start(&store, options)?;
        let mut readiness = Readiness::new(watcher.accounts(), mailboxes.len());
        let mut watchdog = notifier.watchdog_timer();
        // One stop signal listener, caught from before READY=1 to the end of the loop.
        let stop = stopped();
        tokio::pin!(stop);
        if mailboxes.is_empty() {
            // Nothing to watch (e.g. an empty shard): stay up until stopped, so a service
            // manager does not restart us in a loop.
            tracing::warn!("no mailbox to watch; waiting to be stopped");
            notifier.ready("no mailbox to watch");
        } else if readiness.is_complete() {
            notifier.ready(&readiness.status());
        }
        let mut drain = tokio::time::interval(Duration::from_millis(200));
        loop {
            let event = tokio::select! {
                e = watcher.next(), if !mailboxes.is_empty() => e,
                () = &mut stop => None,
                _ = drain.tick() => {
                    outputs.log_reports();
                    continue;
                }
                () = watchdog_tick(&mut watchdog) => {
                    notifier.ping();
                    continue;
                }
            };
            let Some(event) = event else { break };
            match &event {
                WatchEvent::Mwi(e) => outputs.notify(e),
                WatchEvent::Watching { account, .. } => {
                    readiness.watching(account);
                    tell(&mut notifier, &readiness);
                }
                WatchEvent::Error(e) => {
                    readiness.down(&e.account);
                    tell(&mut notifier, &readiness);
                }
                _ => {}
            }
            print_event(&event, json);
        }
        notifier.stopping();
        watcher.stop().await;
        outputs.stop().await;
        if let Some(exporter) = exporter {
            exporter.stop();
        }
        store.close().await;
        Ok::<_, CliError>(ExitCode::SUCCESS)
    })?
}

/// `READY=1` once every account was tried, a new `STATUS=` after that.
fn tell(notifier: &mut Notifier, readiness: &Readiness) {
    if notifier.is_ready() || readiness.is_complete() {
        notifier.ready(&readiness.status());
    }
}

fn print_event(event: &WatchEvent, json: bool) {
    match event {
        WatchEvent::Mwi(e) => {
            let at = rfc3339(e.at);
            if json {
                println!(
                    "{}",
                    json!({
                        "mailbox": e.mailbox,
                        "context": e.context,
                        "new": e.counts.new,
                        "old": e.counts.old,
                        "urgent": e.counts.urgent,
                        "at": at,
                    })
                );
            } else {
                println!(
                    "{at} {}@{}: {} new, {} urgent, {} old",
                    e.mailbox, e.context, e.counts.new, e.counts.urgent, e.counts.old
                );
            }
        }
        WatchEvent::Error(e) => {
            let at = rfc3339(e.at);
            if json {
                println!(
                    "{}",
                    json!({"error": e.error.to_string(), "account": e.account.to_string(), "at": at})
                );
            } else {
                println!("{at} {} is down: {}", e.account, e.error);
            }
        }
        WatchEvent::Watching {
            account,
            strategy,
            resync,
            ..
        } => {
            tracing::info!(%account, ?strategy, ?resync, "watching");
        }
        WatchEvent::ExternNotify(run) => {
            tracing::debug!(mailbox = %run.mailbox, outcome = ?run.outcome, "externnotify ran");
        }
        other => tracing::debug!(?other, "watch event"),
    }
}
