//! `imapvm migrate import|export --spool DIR`: an Asterisk file-storage spool into IMAP and
//! back, with a progress bar (hidden with `--json` or when stderr is not a terminal).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};

use clap::{Args, Subcommand};
use imapvm_migrate::{self as migrate, ExportOptions, ImportOptions, MigrationReport, Progress};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

use crate::Global;
use crate::cmd::CliError;
use crate::cmd::voicemail::{block_on, open};

/// `imapvm migrate ...`.
#[derive(Debug, Args)]
pub(crate) struct MigrateArgs {
    #[command(subcommand)]
    direction: Direction,
}

#[derive(Debug, Subcommand)]
enum Direction {
    /// Copy the spool's voicemail (and greetings, with imapgreetings=yes) into IMAP.
    Import(SpoolArgs),
    /// Write the IMAP voicemail into a spool in Asterisk's file layout.
    Export(SpoolArgs),
}

#[derive(Debug, Args)]
struct SpoolArgs {
    /// Asterisk's spool directory (astspooldir, e.g. /var/spool/asterisk), whose voicemail/
    /// holds the mailboxes, or that voicemail directory itself.
    #[arg(long)]
    spool: PathBuf,
    /// Only this mailbox, as BOX@CONTEXT (repeatable); default: all.
    #[arg(long = "mailbox", value_name = "BOX@CONTEXT")]
    mailboxes: Vec<String>,
    /// Print the plan; copy nothing.
    #[arg(long)]
    dry_run: bool,
}

/// The bar: messages handled of messages found, throughput, bytes in the message.
struct Bar {
    bar: ProgressBar,
    bytes: AtomicU64,
}

impl Bar {
    fn new(hidden: bool) -> Bar {
        let target = if hidden {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let bar = ProgressBar::with_draw_target(Some(0), target);
        let style = ProgressStyle::with_template(
            "{elapsed_precise} [{bar:30}] {pos}/{len} messages, {per_sec}, eta {eta} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        Bar {
            bar,
            bytes: AtomicU64::new(0),
        }
    }
}

impl Progress for Bar {
    fn found(&self, n: u64) {
        self.bar.inc_length(n);
    }

    fn advanced(&self, messages: u64, bytes: u64) {
        let total = self.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        self.bar.inc(messages);
        self.bar
            .set_message(format!("{:.1} MiB", total as f64 / (1024.0 * 1024.0)));
    }
}

pub(crate) fn run(global: &Global, args: &MigrateArgs) -> Result<ExitCode, CliError> {
    let store = open(global)?;
    let (verb, spool_args) = match &args.direction {
        Direction::Import(a) => ("imported", a),
        Direction::Export(a) => ("exported", a),
    };
    let bar = Bar::new(global.json);
    let report = block_on(async {
        let r = match &args.direction {
            Direction::Import(a) => {
                let mut options = ImportOptions::new(&a.spool);
                options.mailboxes.clone_from(&a.mailboxes);
                options.dry_run = a.dry_run;
                migrate::import(&store, &options, &bar).await
            }
            Direction::Export(a) => {
                let mut options = ExportOptions::new(&a.spool);
                options.mailboxes.clone_from(&a.mailboxes);
                options.dry_run = a.dry_run;
                migrate::export(&store, &options, &bar).await
            }
        };
        store.close().await;
        r
    })??;
    bar.bar.finish_and_clear();
    print_report(global, verb, spool_args.dry_run, &report);
    if report.failed.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(CliError(format!(
            "{} of {} messages could not be {verb} (listed in the report)",
            report.failed.len(),
            report.found
        )))
    }
}

fn print_report(global: &Global, verb: &str, dry_run: bool, report: &MigrationReport) {
    let failed: Vec<_> = report
        .failed
        .iter()
        .map(|f| json!({"path": f.path, "reason": f.reason}))
        .collect();
    if global.json {
        let mut doc = json!({
            "found": report.found,
            "imported": report.copied,
            "skipped": report.skipped,
            "failed": failed,
            "greetings_left_on_disk": report.greetings_left_on_disk,
            "bytes": report.bytes,
            "dry_run": dry_run,
        });
        if verb == "exported" {
            doc["exported"] = json!(report.copied);
        }
        if dry_run {
            doc["plan"] = report
                .plan
                .iter()
                .map(|p| json!({"from": p.from, "to": p.to, "action": if p.copy { "copy" } else { "skip" }}))
                .collect();
        }
        println!("{doc}");
        return;
    }
    if dry_run {
        for p in &report.plan {
            let action = if p.copy {
                "copy"
            } else {
                "skip (already there)"
            };
            println!("{action}: {} -> {}", p.from, p.to);
        }
    }
    let done = if dry_run { "to copy" } else { verb };
    let to_copy = report.plan.iter().filter(|p| p.copy).count() as u64;
    println!(
        "found {}, {done} {}, skipped {} (already there), failed {}",
        report.found,
        if dry_run { to_copy } else { report.copied },
        report.skipped,
        report.failed.len()
    );
    if report.greetings_left_on_disk > 0 {
        println!(
            "{} greeting(s) left on disk (imapgreetings is off)",
            report.greetings_left_on_disk
        );
    }
    for f in &report.failed {
        println!("failed: {}: {}", f.path, f.reason);
    }
}
