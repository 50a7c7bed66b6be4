//! `imapvm forward SRC@ctx N|--uid U DST@ctx [DST2 ...] [--comment FILE]`: copy a voicemail
//! to other mailboxes, keeping its caller id, time and audio; the comment is played first.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use imapvm::{Audio, MessageRef};
use imapvm_deliver::{Forward, RecipientOutcome, RecipientResult};
use serde_json::{Value, json};

use crate::Global;
use crate::cmd::deposit::result_json;
use crate::cmd::voicemail::{block_on, folder, open};
use crate::cmd::{CliError, parse_number, parse_uid};

/// `imapvm forward ...`.
#[derive(Debug, Args)]
pub(crate) struct ForwardArgs {
    /// The source mailbox, as BOX@CONTEXT.
    source: String,
    /// `N DST@CTX [DST2@CTX ...]`, or just the destinations with `--uid`.
    #[arg(required = true, num_args = 1..)]
    rest: Vec<String>,
    /// The message's UID instead of its number.
    #[arg(long, value_parser = parse_uid)]
    uid: Option<imapvm::Uid>,
    /// The folder the number refers to (default: every state of imapfolder).
    #[arg(long = "from")]
    from: Option<String>,
    /// A recorded comment: stored as the intro (MIME part 3), which Asterisk plays first.
    #[arg(long)]
    comment: Option<PathBuf>,
}

/// The message and the destinations from the positional arguments.
fn target(rest: &[String], uid: Option<imapvm::Uid>) -> Result<(MessageRef, &[String]), CliError> {
    let usage = || {
        CliError(
            "usage: forward SRC@C N DST@C [DST2@C ...], or forward SRC@C --uid U DST@C [...]"
                .into(),
        )
    };
    match (rest, uid) {
        ([], _) => Err(usage()),
        (dsts, Some(u)) => Ok((MessageRef::Uid(u), dsts)),
        ([n, dsts @ ..], None) if !dsts.is_empty() => {
            Ok((MessageRef::Number(parse_number(n).map_err(CliError)?), dsts))
        }
        _ => Err(usage()),
    }
}

pub(crate) fn run(global: &Global, args: &ForwardArgs) -> Result<ExitCode, CliError> {
    let (message, destinations) = target(&args.rest, args.uid)?;
    let scope = args.from.as_deref().map(folder).transpose()?;
    let comment = match &args.comment {
        Some(p) => Some(Audio::read(p).map_err(|e| CliError(format!("{}: {e}", p.display())))?),
        None => None,
    };
    let store = open(global)?;
    let source = store.mailbox(&args.source)?;
    let forwarded = block_on(async {
        let r = source
            .forward(message, scope, destinations, comment.as_ref())
            .await;
        store.close().await;
        r
    })??;
    let (ok, failed): (Vec<_>, Vec<_>) = forwarded.results.iter().partition(|r| r.is_ok());
    // Queued copies (an outbox is configured and the destination could not be reached)
    // are deferred: the outbox flush delivers them.
    let (deferred, done): (Vec<_>, Vec<_>) = ok
        .into_iter()
        .partition(|r| matches!(r.outcome, RecipientOutcome::Queued(_)));
    if global.json {
        let rows =
            |v: &[&RecipientResult]| v.iter().map(|r| result_json(r)).collect::<Vec<Value>>();
        println!(
            "{}",
            json!({
                "mailbox": args.source,
                "uid": forwarded.source_uid.get(),
                "uidvalidity": forwarded.source_uid_validity.get(),
                "msg_id": forwarded.source_msg_id,
                "done": rows(&done),
                "deferred": rows(&deferred),
                "failed": rows(&failed),
            })
        );
    } else {
        for r in &done {
            if let RecipientOutcome::Stored { deposited: d, .. } = &r.outcome {
                println!(
                    "{}: forwarded UID {} as message {} (UID {})",
                    r.mailbox,
                    forwarded.source_uid,
                    d.number.map_or_else(|| "?".to_owned(), |n| n.to_string()),
                    d.uid
                );
            }
        }
        for r in &deferred {
            if let RecipientOutcome::Queued(q) = &r.outcome {
                println!(
                    "{}: queued in the outbox as {} ({})",
                    r.mailbox, q.item, q.reason
                );
            }
        }
    }
    if failed.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(CliError(
            failed
                .iter()
                .map(|r| match &r.outcome {
                    RecipientOutcome::Failed(e) => e.to_string(),
                    _ => format!("{}: {}", r.mailbox, r.status()),
                })
                .collect::<Vec<_>>()
                .join("; "),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_number_comes_before_the_destinations_unless_uid_is_given() {
        let rest = strings(&["3", "4321@other", "2001@sales"]);
        let (m, d) = target(&rest, None).unwrap();
        assert_eq!(
            m,
            MessageRef::Number(imapvm::MessageNumber::new(3).unwrap())
        );
        assert_eq!(d, &rest[1..]);
        let rest = strings(&["4321@other"]);
        let uid = imapvm::Uid::new(17).unwrap();
        let (m, d) = target(&rest, Some(uid)).unwrap();
        assert_eq!(m, MessageRef::Uid(uid));
        assert_eq!(d, &rest[..]);
    }

    #[test]
    fn a_missing_number_or_destination_is_refused() {
        assert!(target(&strings(&["4321@other"]), None).is_err());
        assert!(target(&strings(&["3"]), None).is_err());
        assert!(target(&strings(&["x", "4321@other"]), None).is_err());
        assert!(target(&strings(&["0", "4321@other"]), None).is_err());
        assert!(target(&[], imapvm::Uid::new(1)).is_err());
    }
}
