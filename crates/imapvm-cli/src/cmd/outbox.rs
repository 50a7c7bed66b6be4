//! `imapvm outbox list|flush|release|discard`: the deposits waiting in the durable outbox
//! (`imapvm_outbox=` in `[general]`, default `/var/spool/imapvm/outbox`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use imapvm_outbox::{FlushReport, Outbox, OutboxItem, OutboxStore, SpoolProblem};
use serde_json::{Value, json};

use crate::Global;
use crate::cmd::CliError;
use crate::cmd::voicemail::{block_on, open};

/// `imapvm outbox ...`.
#[derive(Debug, Args)]
pub(crate) struct OutboxArgs {
    /// The spool directory instead of voicemail.conf's `imapvm_outbox`.
    #[arg(long, global = true)]
    dir: Option<PathBuf>,
    #[command(subcommand)]
    action: OutboxAction,
}

#[derive(Debug, Subcommand)]
enum OutboxAction {
    /// The queued deposits (pending and refused) and unreadable spool files.
    List,
    /// Deliver every pending deposit now (each exactly once: looked up by msg id first).
    Flush,
    /// Make a refused deposit pending again (after the operator made room).
    Release {
        /// The item, as `outbox list` shows it.
        item: String,
    },
    /// Remove a deposit without delivering it.
    Discard {
        /// The item, as `outbox list` shows it.
        item: String,
    },
}

fn item_json(item: &OutboxItem) -> Value {
    json!({
        "id": item.id,
        "mailbox": item.mailbox,
        "msg_id": item.msg_id,
        "message_id": item.message_id,
        "urgent": item.urgent,
        "queued_at": item.queued_at,
        "attempts": item.attempts,
        "state": item.state.as_str(),
        "last_error": item.last_error,
        "size": item.size,
    })
}

fn problems_json(problems: &[SpoolProblem]) -> Vec<Value> {
    problems
        .iter()
        .map(|p| json!({"path": p.path.display().to_string(), "reason": p.reason}))
        .collect()
}

fn flush_json(r: &FlushReport) -> Value {
    let pairs = |v: &[(String, String)]| -> Vec<Value> {
        v.iter()
            .map(|(id, reason)| json!({"id": id, "reason": reason}))
            .collect()
    };
    json!({
        "items": r.delivered.iter().map(|d| json!({
            "id": d.item, "mailbox": d.mailbox, "status": "delivered", "uid": d.uid.get(),
            "uidvalidity": d.uid_validity.get(), "already_there": d.already_there,
        })).chain(r.refused.iter().map(|(id, reason)| json!({
            "id": id, "status": "refused", "reason": reason,
        }))).chain(r.failed.iter().map(|(id, reason)| json!({
            "id": id, "status": "pending", "reason": reason,
        }))).chain(r.busy.iter().map(|id| json!({"id": id, "status": "busy"})))
        .chain(r.left_refused.iter().map(|id| json!({"id": id, "status": "refused"})))
        .collect::<Vec<_>>(),
        "delivered": r.delivered.len(),
        "refused": pairs(&r.refused),
        "pending": pairs(&r.failed),
        "problems": problems_json(&r.problems),
    })
}

pub(crate) fn run(global: &Global, args: &OutboxArgs) -> Result<ExitCode, CliError> {
    let store = open(global)?;
    let outbox = match &args.dir {
        Some(dir) => Outbox::new(dir.clone(), store.clock().clone()),
        None => store.outbox(),
    };
    match &args.action {
        OutboxAction::List => {
            let listing = outbox.list()?;
            if global.json {
                println!(
                    "{}",
                    json!({
                        "dir": outbox.dir().display().to_string(),
                        "items": listing.items.iter().map(item_json).collect::<Vec<_>>(),
                        "problems": problems_json(&listing.problems),
                    })
                );
            } else {
                if listing.items.is_empty() && listing.problems.is_empty() {
                    println!("{}: empty", outbox.dir().display());
                }
                for i in &listing.items {
                    println!(
                        "{}  {}  {}  {} bytes  {} attempt(s){}",
                        i.id,
                        i.mailbox,
                        i.state.as_str(),
                        i.size,
                        i.attempts,
                        i.last_error
                            .as_deref()
                            .map(|e| format!("  last error: {e}"))
                            .unwrap_or_default()
                    );
                }
                for p in &listing.problems {
                    println!("{}  unreadable: {}", p.path.display(), p.reason);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        OutboxAction::Flush => {
            let report = block_on(async {
                let r = outbox.flush(&store).await;
                store.close().await;
                r
            })??;
            if global.json {
                println!("{}", flush_json(&report));
            } else {
                for d in &report.delivered {
                    println!(
                        "{}  delivered to {} as UID {}{}",
                        d.item,
                        d.mailbox,
                        d.uid,
                        if d.already_there {
                            " (already on the server: not sent again)"
                        } else {
                            ""
                        }
                    );
                }
                for (id, reason) in &report.refused {
                    println!("{id}  refused (kept): {reason}");
                }
                for (id, reason) in &report.failed {
                    println!("{id}  still pending: {reason}");
                }
                for id in &report.busy {
                    println!("{id}  being delivered by another process");
                }
                for id in &report.left_refused {
                    println!("{id}  refused earlier (use `outbox release {id}` to retry)");
                }
                for p in &report.problems {
                    println!("{}  unreadable: {}", p.path.display(), p.reason);
                }
            }
            // Something still waits (the server is down) or is unreadable: not a success.
            if report.failed.is_empty() && report.refused.is_empty() && report.problems.is_empty() {
                Ok(ExitCode::SUCCESS)
            } else {
                let mut reasons: Vec<String> = report
                    .failed
                    .iter()
                    .chain(report.refused.iter())
                    .map(|(id, r)| format!("{id}: {r}"))
                    .collect();
                reasons.extend(
                    report
                        .problems
                        .iter()
                        .map(|p| format!("{}: {}", p.path.display(), p.reason)),
                );
                Err(CliError(format!(
                    "{} deposit(s) not delivered; first: {}",
                    reasons.len(),
                    reasons.first().map_or("", String::as_str)
                )))
            }
        }
        OutboxAction::Release { item } => {
            outbox.release(item)?;
            if global.json {
                println!("{}", json!({"items": [{"id": item, "state": "pending"}]}));
            } else {
                println!("{item}: pending");
            }
            Ok(ExitCode::SUCCESS)
        }
        OutboxAction::Discard { item } => {
            outbox.discard(item)?;
            if global.json {
                println!("{}", json!({"items": [{"id": item, "state": "discarded"}]}));
            } else {
                println!("{item}: discarded");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
