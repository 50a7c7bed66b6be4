//! `imapvm deposit B@C [B2@C2 ...] --audio FILE [--audio INTRO]`: store a voicemail.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use imapvm::{Audio, NewVoicemail, Urgency};
use serde_json::json;

use crate::Global;
use crate::cmd::CliError;
use crate::cmd::voicemail::{block_on, open};

/// `imapvm deposit ...`.
#[derive(Debug, Args)]
pub(crate) struct DepositArgs {
    /// The mailboxes, as BOX@CONTEXT.
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
    };
    let store = open(global)?;
    let durable = store.config().general.imapvm_outbox.is_some();
    let outcome = block_on(async {
        let mut results = Vec::new();
        let mut failures = Vec::new();
        for id in &args.mailboxes {
            // With an outbox configured (`imapvm_outbox`), an unreachable server queues the
            // deposit instead of failing it (issue 9).
            let result = match store.mailbox(id) {
                Ok(mb) if durable => mb.deposit_durable(&vm).await,
                Ok(mb) => mb.deposit(&vm).await.map(imapvm::DepositOutcome::Stored),
                Err(e) => Err(e),
            };
            match result {
                Ok(imapvm::DepositOutcome::Queued(q)) => results.push(json!({
                    "mailbox": id, "uid": null, "uidvalidity": null, "msgnum": null,
                    "status": "queued", "msg_id": q.msg_id, "item": q.item, "reason": q.reason,
                })),
                Ok(imapvm::DepositOutcome::Stored(d)) => results.push(json!({
                    "mailbox": id, "uid": d.uid, "uidvalidity": d.uid_validity,
                    "msgnum": d.number, "status": "stored", "msg_id": d.msg_id,
                    "new": d.counts.new, "old": d.counts.old, "urgent": d.counts.urgent,
                })),
                Err(e) => {
                    results.push(json!({
                        "mailbox": id, "uid": null, "uidvalidity": null, "msgnum": null,
                        "status": if matches!(e, imapvm::Error::DepositRefused { .. }) { "refused" } else { "failed" },
                        "reason": e.to_string(),
                    }));
                    failures.push(e.to_string());
                }
            }
        }
        store.close().await;
        (results, failures)
    })?;
    let (results, failures) = outcome;
    if global.json {
        println!("{}", json!({ "results": results }));
    } else {
        for r in &results {
            if r["status"] == "queued" {
                println!(
                    "{}: accepted, queued in the outbox as {} ({})",
                    r["mailbox"].as_str().unwrap_or_default(),
                    r["item"].as_str().unwrap_or_default(),
                    r["reason"].as_str().unwrap_or_default()
                );
            }
            if r["status"] == "stored" {
                println!(
                    "{}: stored as message {} (UID {}); now {} new, {} urgent, {} old",
                    r["mailbox"].as_str().unwrap_or_default(),
                    r["msgnum"],
                    r["uid"],
                    r["new"],
                    r["urgent"],
                    r["old"]
                );
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
