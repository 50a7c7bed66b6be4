//! `imapvm deposit B@C [B2@C2 ...] --audio FILE [--audio INTRO]`: store a voicemail.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use imapvm::{Audio, NewVoicemail, Urgency};
use imapvm_deliver::{Deliver, RecipientOutcome, RecipientResult, Via};
use serde_json::{Value, json};

use crate::Global;
use crate::cmd::CliError;
use crate::cmd::voicemail::{block_on, open};

/// `imapvm deposit ...`.
#[derive(Debug, Args)]
pub(crate) struct DepositArgs {
    /// The mailboxes, as BOX@CONTEXT: each gets a copy built for it; one refused (over
    /// quota, maxmsg) does not stop the others; exit 1 if any failed.
    #[arg(required = true)]
    mailboxes: Vec<String>,
    /// The recording; a second `--audio` is a forward intro (MIME part 3).
    #[arg(long, required = true)]
    audio: Vec<PathBuf>,
    /// Caller id, e.g. '"Bob" <5551001>' or just the number.
    #[arg(long, default_value = "")]
    caller: String,
    /// Length in seconds (default: from the WAV header when readable, else 0).
    #[arg(long)]
    duration: Option<u32>,
    /// Mark it urgent (stored \Flagged).
    #[arg(long, conflicts_with = "priority")]
    urgent: bool,
    /// Mark it PRIORITY.
    #[arg(long)]
    priority: bool,
}

/// `"Name" <num>` → (num, name); a bare value is the number.
fn split_caller(caller: &str) -> (String, String) {
    match (caller.find('<'), caller.rfind('>')) {
        (Some(a), Some(b)) if a < b => {
            let name = caller[..a].trim().trim_matches('"').trim().to_owned();
            (caller[a + 1..b].trim().to_owned(), name)
        }
        _ => (caller.trim().to_owned(), String::new()),
    }
}

/// Seconds of a PCM WAV from its header (`None` when it is not one).
fn wav_seconds(bytes: &[u8]) -> Option<u32> {
    if bytes.len() < 44 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return None;
    }
    let byte_rate = u32::from_le_bytes(bytes.get(28..32)?.try_into().ok()?);
    if byte_rate == 0 {
        return None;
    }
    let data = u32::try_from(bytes.len().saturating_sub(44)).ok()?;
    // Whole seconds, rounded; a recording with any sound lasts at least 1 s.
    Some((data.saturating_add(byte_rate / 2) / byte_rate).max(u32::from(data > 0)))
}

/// One recipient's JSON row (docs/cli.md: `mailbox, uid, uidvalidity, msgnum, status`; status
/// `stored`, `queued`, `refused` or `failed`).
pub(crate) fn result_json(r: &RecipientResult) -> Value {
    match &r.outcome {
        RecipientOutcome::Stored { deposited: d, via } => json!({
            "mailbox": r.mailbox, "uid": d.uid.get(), "uidvalidity": d.uid_validity.get(),
            "msgnum": d.number.map(|n| n.get()), "status": r.status(), "msg_id": d.msg_id,
            "new": d.counts.new, "old": d.counts.old, "urgent": d.counts.urgent,
            "via": if *via == Via::UidCopy { "uid-copy" } else { "append" },
        }),
        RecipientOutcome::Queued(q) => json!({
            "mailbox": r.mailbox, "uid": null, "uidvalidity": null, "msgnum": null,
            "status": r.status(), "msg_id": q.msg_id, "item": q.item, "reason": q.reason,
        }),
        RecipientOutcome::Failed(e) => json!({
            "mailbox": r.mailbox, "uid": null, "uidvalidity": null, "msgnum": null,
            "status": r.status(), "reason": e.to_string(),
        }),
        _ => {
            json!({ "mailbox": r.mailbox, "uid": null, "uidvalidity": null, "msgnum": null, "status": r.status() })
        }
    }
}

pub(crate) fn run(global: &Global, args: &DepositArgs) -> Result<ExitCode, CliError> {
    let recording = Audio::read(&args.audio[0])
        .map_err(|e| CliError(format!("{}: {e}", args.audio[0].display())))?;
    let intro = match args.audio.get(1) {
        Some(p) => Some(Audio::read(p).map_err(|e| CliError(format!("{}: {e}", p.display())))?),
        None => None,
    };
    let (num, name) = split_caller(&args.caller);
    let duration = args
        .duration
        .or_else(|| wav_seconds(&recording.bytes))
        .unwrap_or(0);
    let vm = NewVoicemail {
        recording: Some(recording),
        intro,
        caller_id_num: num,
        caller_id_name: name,
        duration_secs: duration,
        urgency: if args.urgent {
            Urgency::Urgent
        } else if args.priority {
            Urgency::Priority
        } else {
            Urgency::Normal
        },
        ..NewVoicemail::default()
    };
    let store = open(global)?;
    // With an outbox configured (`imapvm_outbox`), every copy is written to it before its
    // APPEND: one whose server cannot be reached, or whose APPEND was not confirmed, is
    // queued instead of failed; a refused one stays there as refused (issues 9, 13). Every recipient gets its own copy, the
    // recipients of one account over one connection with their APPENDs pipelined (issue 13).
    let durable = store.config().general.imapvm_outbox.is_some();
    let results = block_on(async {
        let results = if durable {
            store.deposit_to_durable(&args.mailboxes, &vm).await
        } else {
            store.deposit_to(&args.mailboxes, &vm).await
        };
        store.close().await;
        results
    })?;
    let failures: Vec<String> = results
        .iter()
        .filter_map(|r| match &r.outcome {
            RecipientOutcome::Failed(e) => Some(e.to_string()),
            _ => None,
        })
        .collect();
    if global.json {
        let rows: Vec<Value> = results.iter().map(result_json).collect();
        println!("{}", json!({ "results": rows }));
    } else {
        for r in &results {
            match &r.outcome {
                RecipientOutcome::Stored { deposited: d, .. } => println!(
                    "{}: stored as message {} (UID {}); now {} new, {} urgent, {} old",
                    r.mailbox,
                    d.number.map_or_else(|| "?".to_owned(), |n| n.to_string()),
                    d.uid,
                    d.counts.new,
                    d.counts.urgent,
                    d.counts.old
                ),
                RecipientOutcome::Queued(q) => println!(
                    "{}: accepted, queued in the outbox as {} ({})",
                    r.mailbox, q.item, q.reason
                ),
                _ => {}
            }
        }
    }
    if failures.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(CliError(format!(
            "{} (the recording {} is kept)",
            failures.join("; "),
            args.audio[0].display()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_ids_split_like_asterisk_writes_them() {
        assert_eq!(
            split_caller("\"Bob Smith\" <5551001>"),
            ("5551001".into(), "Bob Smith".into())
        );
        assert_eq!(split_caller("5551001"), ("5551001".into(), String::new()));
        assert_eq!(split_caller(""), (String::new(), String::new()));
    }

    #[test]
    fn wav_length_from_the_header() {
        let mut wav = b"RIFF\0\0\0\0WAVEfmt ".to_vec();
        wav.resize(44, 0);
        wav[28..32].copy_from_slice(&16000u32.to_le_bytes());
        wav.extend(std::iter::repeat_n(0u8, 32000));
        assert_eq!(wav_seconds(&wav), Some(2));
        wav.truncate(44 + 1000);
        assert_eq!(wav_seconds(&wav), Some(1));
        assert_eq!(wav_seconds(b"not a wav"), None);
    }
}
