//! `imapvm count B@C [--message-summary]`: MWI counts.

use std::process::ExitCode;

use clap::Args;
use serde_json::json;

use crate::Global;
use crate::cmd::CliError;
use crate::cmd::voicemail::{block_on, open};

/// `imapvm count ...`.
#[derive(Debug, Args)]
pub(crate) struct CountArgs {
    /// The mailbox, as BOX@CONTEXT.
    mailbox: String,
    /// Print the RFC 3842 application/simple-message-summary body instead.
    #[arg(long)]
    message_summary: bool,
    /// The Message-Account URI for the summary, e.g. sip:1234@pbx.example.
    #[arg(long)]
    account: Option<String>,
}

pub(crate) fn run(global: &Global, args: &CountArgs) -> Result<ExitCode, CliError> {
    let store = open(global)?;
    let mb = store.mailbox(&args.mailbox)?;
    if args.message_summary {
        let body = block_on(async {
            let b = mb.message_summary(args.account.as_deref()).await;
            store.close().await;
            b
        })??;
        print!("{body}");
        return Ok(ExitCode::SUCCESS);
    }
    let counts = block_on(async {
        let c = mb.count().await;
        store.close().await;
        c
    })??;
    if global.json {
        println!(
            "{}",
            json!({"mailbox": args.mailbox, "new": counts.new, "old": counts.old, "urgent": counts.urgent})
        );
    } else {
        println!(
            "{}: {} new, {} urgent, {} old",
            args.mailbox, counts.new, counts.urgent, counts.old
        );
    }
    Ok(ExitCode::SUCCESS)
}
