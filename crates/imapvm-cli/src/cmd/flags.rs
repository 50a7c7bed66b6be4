//! `imapvm mark-read|mark-unread|urgent|not-urgent B@C N|--uid U`.

use std::process::ExitCode;

use clap::Args;
use imapvm::FlagOp;

use crate::Global;
use crate::cmd::CliError;
use crate::cmd::voicemail::{Target, block_on, open, print_report};

/// Arguments of the flag subcommands.
#[derive(Debug, Args)]
pub(crate) struct FlagArgs {
    /// The mailbox, as BOX@CONTEXT.
    mailbox: String,
    #[command(flatten)]
    target: Target,
}

pub(crate) fn run(global: &Global, args: &FlagArgs, op: FlagOp) -> Result<ExitCode, CliError> {
    let target = args.target.message()?;
    let scope = args.target.scope()?;
    let store = open(global)?;
    let mb = store.mailbox(&args.mailbox)?;
    let report = block_on(async {
        let r = mb.set_flag(target, scope, op).await;
        store.close().await;
        r
    })??;
    let what = match op {
        FlagOp::MarkRead => "marked heard",
        FlagOp::MarkUnread => "marked new",
        FlagOp::Urgent => "marked urgent",
        FlagOp::NotUrgent => "marked not urgent",
    };
    print_report(global, &args.mailbox, what, &report);
    Ok(ExitCode::SUCCESS)
}
