//! `imapvm move B@C N FOLDER` (or `--uid U FOLDER`): save a message into another folder.

use std::process::ExitCode;

use clap::Args;
use imapvm::MessageRef;

use crate::Global;
use crate::cmd::voicemail::{block_on, folder, open, print_report};
use crate::cmd::{CliError, parse_number, parse_uid};

/// `imapvm move ...`.
#[derive(Debug, Args)]
pub(crate) struct MoveArgs {
    /// The mailbox, as BOX@CONTEXT.
    mailbox: String,
    /// `N FOLDER`, or just `FOLDER` with `--uid`. Folders by Asterisk name: INBOX, Old, Urgent,
    /// Work, Family, Friends, Cust1..Cust5.
    #[arg(num_args = 1..=2, required = true)]
    rest: Vec<String>,
    /// The message's UID instead of its number.
    #[arg(long, value_parser = parse_uid)]
    uid: Option<imapvm::Uid>,
    /// The folder the number refers to (default: every state of imapfolder).
    #[arg(long = "from")]
    from: Option<String>,
}

pub(crate) fn run(global: &Global, args: &MoveArgs) -> Result<ExitCode, CliError> {
    let (target, to) = match (args.rest.as_slice(), args.uid) {
        ([n, to], None) => (MessageRef::Number(parse_number(n).map_err(CliError)?), to),
        ([to], Some(uid)) => (MessageRef::Uid(uid), to),
        _ => {
            return Err(CliError(
                "usage: move B@C N FOLDER, or move B@C --uid U FOLDER".into(),
            ));
        }
    };
    let to = folder(to)?;
    let scope = args.from.as_deref().map(folder).transpose()?;
    let store = open(global)?;
    let mb = store.mailbox(&args.mailbox)?;
    let report = block_on(async {
        let r = mb.move_to(target, scope, to).await;
        store.close().await;
        r
    })??;
    print_report(global, &args.mailbox, &format!("saved to {to}"), &report);
    Ok(ExitCode::SUCCESS)
}
