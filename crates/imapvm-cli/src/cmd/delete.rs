//! `imapvm delete B@C N...`, `undelete B@C N`, `expunge B@C`.

use std::process::ExitCode;

use clap::Args;
use imapvm::MessageRef;

use crate::Global;
use crate::cmd::voicemail::{Target, block_on, folder, open, print_report};
use crate::cmd::{CliError, parse_number, parse_uid};

/// `imapvm delete ...`.
#[derive(Debug, Args)]
pub(crate) struct DeleteArgs {
    /// The mailbox, as BOX@CONTEXT.
    mailbox: String,
    /// Message numbers, as `list` shows them.
    #[arg(value_parser = parse_number)]
    numbers: Vec<imapvm::MessageNumber>,
    /// UIDs instead of numbers.
    #[arg(long, value_parser = parse_uid)]
    uid: Vec<imapvm::Uid>,
    /// The folder the numbers refer to (default: every state of imapfolder).
    #[arg(long)]
    folder: Option<String>,
}

/// `imapvm undelete ...` (numbers from `list --deleted`).
#[derive(Debug, Args)]
pub(crate) struct UndeleteArgs {
    /// The mailbox, as BOX@CONTEXT.
    mailbox: String,
    #[command(flatten)]
    target: Target,
}

/// `imapvm expunge ...`.
#[derive(Debug, Args)]
pub(crate) struct ExpungeArgs {
    /// The mailbox, as BOX@CONTEXT.
    mailbox: String,
    /// The folder (default: imapfolder).
    #[arg(long)]
    folder: Option<String>,
}

pub(crate) fn delete(global: &Global, args: &DeleteArgs) -> Result<ExitCode, CliError> {
    let mut targets: Vec<MessageRef> = args
        .numbers
        .iter()
        .map(|n| MessageRef::Number(*n))
        .collect();
    targets.extend(args.uid.iter().map(|u| MessageRef::Uid(*u)));
    if targets.is_empty() {
        return Err(CliError("give message numbers or --uid".into()));
    }
    let scope = args.folder.as_deref().map(folder).transpose()?;
    let store = open(global)?;
    let mb = store.mailbox(&args.mailbox)?;
    let report = block_on(async {
        let r = mb.delete(&targets, scope).await;
        store.close().await;
        r
    })??;
    print_report(global, &args.mailbox, "deleted", &report);
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn undelete(global: &Global, args: &UndeleteArgs) -> Result<ExitCode, CliError> {
    let target = args.target.message()?;
    let scope = args.target.scope()?;
    let store = open(global)?;
    let mb = store.mailbox(&args.mailbox)?;
    let report = block_on(async {
        let r = mb.undelete(target, scope).await;
        store.close().await;
        r
    })??;
    print_report(global, &args.mailbox, "undeleted", &report);
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn expunge(global: &Global, args: &ExpungeArgs) -> Result<ExitCode, CliError> {
    let scope = args.folder.as_deref().map(folder).transpose()?;
    let store = open(global)?;
    let mb = store.mailbox(&args.mailbox)?;
    let report = block_on(async {
        let r = mb.expunge(scope).await;
        store.close().await;
        r
    })??;
    print_report(global, &args.mailbox, "expunged", &report);
    Ok(ExitCode::SUCCESS)
}
