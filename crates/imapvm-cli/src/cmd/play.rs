//! `imapvm play B@C N|--uid U -o FILE [--peek]`: write the audio (and the forward intro).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use serde_json::json;

use crate::Global;
use crate::cmd::CliError;
use crate::cmd::voicemail::{Target, block_on, open};

/// `imapvm play ...`.
#[derive(Debug, Args)]
pub(crate) struct PlayArgs {
    /// The mailbox, as BOX@CONTEXT.
    mailbox: String,
    #[command(flatten)]
    target: Target,
    /// Where to write the recording; a forward intro goes beside it (`NAME-intro.EXT`).
    #[arg(short, long)]
    output: PathBuf,
    /// Do not mark the message heard (\Seen).
    #[arg(long)]
    peek: bool,
}

fn intro_path(output: &Path) -> PathBuf {
    let stem = output
        .file_stem()
        .map_or_else(|| "message".into(), |s| s.to_string_lossy().into_owned());
    let name = match output.extension() {
        Some(ext) => format!("{stem}-intro.{}", ext.to_string_lossy()),
        None => format!("{stem}-intro"),
    };
    output.with_file_name(name)
}

pub(crate) fn run(global: &Global, args: &PlayArgs) -> Result<ExitCode, CliError> {
    let target = args.target.message()?;
    let scope = args.target.scope()?;
    let store = open(global)?;
    let mb = store.mailbox(&args.mailbox)?;
    let played = block_on(async {
        let p = if args.peek {
            mb.peek(target, scope).await
        } else {
            mb.play(target, scope).await
        };
        store.close().await;
        p
    })??;
    let mut audio = played.voicemail.audio.iter();
    let recording = audio
        .next()
        .ok_or_else(|| CliError("the message has no audio".into()))?;
    std::fs::write(&args.output, &recording.bytes)
        .map_err(|e| CliError(format!("{}: {e}", args.output.display())))?;
    let intro = match audio.next() {
        Some(intro) => {
            let path = intro_path(&args.output);
            std::fs::write(&path, &intro.bytes)
                .map_err(|e| CliError(format!("{}: {e}", path.display())))?;
            Some(path)
        }
        None => None,
    };
    if global.json {
        println!(
            "{}",
            json!({
                "uid": played.uid.get(),
                "file": args.output,
                "format": recording.format,
                "bytes": recording.bytes.len(),
                "intro_file": intro,
                "caller_id_num": played.voicemail.caller_id_num,
                "duration_secs": played.voicemail.duration_secs,
                "marked_seen": played.marked_seen,
            })
        );
    } else {
        println!(
            "{}: wrote message UID {} ({} s from {}) to {} ({} bytes, {}){}",
            args.mailbox,
            played.uid,
            played.voicemail.duration_secs,
            played.voicemail.caller_id_num,
            args.output.display(),
            recording.bytes.len(),
            recording.format,
            if played.marked_seen {
                "; marked heard"
            } else {
                ""
            }
        );
        if let Some(p) = intro {
            println!("{}: forward intro written to {}", args.mailbox, p.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_intro_goes_beside_the_recording() {
        assert_eq!(
            intro_path(Path::new("/tmp/a.wav")),
            PathBuf::from("/tmp/a-intro.wav")
        );
        assert_eq!(intro_path(Path::new("out")), PathBuf::from("out-intro"));
    }
}
