//! `imapvm greeting get|set|delete B@C NAME`: greetings on IMAP (`imapgreetings=yes`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use imapvm::Audio;
use serde_json::json;

use crate::Global;
use crate::cmd::CliError;
use crate::cmd::voicemail::{block_on, open, print_report};

/// `imapvm greeting ...`.
#[derive(Debug, Args)]
pub(crate) struct GreetingArgs {
    #[command(subcommand)]
    command: GreetingCommand,
}

#[derive(Debug, Subcommand)]
enum GreetingCommand {
    /// Write the greeting's audio to a file.
    Get {
        /// The mailbox, as BOX@CONTEXT.
        mailbox: String,
        /// unavail, busy, greet or temp.
        name: String,
        /// Where to write it.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Store a greeting (replacing the old one).
    Set {
        /// The mailbox, as BOX@CONTEXT.
        mailbox: String,
        /// unavail, busy, greet or temp.
        name: String,
        /// The recording.
        #[arg(long)]
        audio: PathBuf,
        /// Its length in seconds.
        #[arg(long, default_value_t = 0)]
        duration: u32,
    },
    /// Delete a greeting.
    Delete {
        /// The mailbox, as BOX@CONTEXT.
        mailbox: String,
        /// unavail, busy, greet or temp.
        name: String,
    },
}

pub(crate) fn run(global: &Global, args: &GreetingArgs) -> Result<ExitCode, CliError> {
    let store = open(global)?;
    match &args.command {
        GreetingCommand::Get {
            mailbox,
            name,
            output,
        } => {
            let mb = store.mailbox(mailbox)?;
            let found = block_on(async {
                let g = mb.greeting_get(name).await;
                store.close().await;
                g
            })??;
            let Some(g) = found else {
                return Err(CliError(format!("{mailbox}: no {name} greeting on IMAP")));
            };
            std::fs::write(output, &g.audio.bytes)
                .map_err(|e| CliError(format!("{}: {e}", output.display())))?;
            if global.json {
                println!(
                    "{}",
                    json!({"mailbox": mailbox, "name": name, "uid": g.uid.get(), "file": output, "format": g.audio.format, "bytes": g.audio.bytes.len()})
                );
            } else {
                println!(
                    "{mailbox}: {name} greeting (UID {}) written to {} ({} bytes)",
                    g.uid,
                    output.display(),
                    g.audio.bytes.len()
                );
            }
        }
        GreetingCommand::Set {
            mailbox,
            name,
            audio,
            duration,
        } => {
            let audio =
                Audio::read(audio).map_err(|e| CliError(format!("{}: {e}", audio.display())))?;
            let mb = store.mailbox(mailbox)?;
            let report = block_on(async {
                let r = mb.greeting_set(name, &audio, *duration).await;
                store.close().await;
                r
            })??;
            print_report(
                global,
                mailbox,
                &format!("stored the {name} greeting as"),
                &report,
            );
        }
        GreetingCommand::Delete { mailbox, name } => {
            let mb = store.mailbox(mailbox)?;
            let report = block_on(async {
                let r = mb.greeting_delete(name).await;
                store.close().await;
                r
            })??;
            print_report(
                global,
                mailbox,
                &format!("deleted the {name} greeting"),
                &report,
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
