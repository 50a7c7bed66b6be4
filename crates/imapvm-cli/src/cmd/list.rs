//! `imapvm list B@C [--folder F] [--deleted]`: the mailbox's messages.

use std::process::ExitCode;

use clap::Args;
use serde_json::json;

use crate::Global;
use crate::cmd::CliError;
use crate::cmd::voicemail::{block_on, folder, open};

/// `imapvm list ...`.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// The mailbox, as BOX@CONTEXT.
    mailbox: String,
    /// Only this Asterisk folder (INBOX = new, Old, Urgent, Work, ..., Cust5).
    #[arg(long)]
    folder: Option<String>,
    /// Also number messages flagged \Deleted (the numbers `undelete` takes).
    #[arg(long)]
    deleted: bool,
}

pub(crate) fn run(global: &Global, args: &ListArgs) -> Result<ExitCode, CliError> {
    let scope = args.folder.as_deref().map(folder).transpose()?;
    let store = open(global)?;
    let mb = store.mailbox(&args.mailbox)?;
    let listing = block_on(async {
        let l = if args.deleted {
            mb.list_with_deleted(scope).await
        } else {
            mb.list(scope).await
        };
        store.close().await;
        l
    })??;
    if global.json {
        let messages: Vec<_> = listing
            .messages
            .iter()
            .map(|m| {
                json!({
                    "number": m.number.get(),
                    "uid": m.uid.get(),
                    "folder": listing.folder,
                    "state": m.state.map_or("deleted", |s| s.as_str()),
                    "flagged": m.flagged,
                    "caller_id_num": m.caller_id_num,
                    "caller_id_name": m.caller_id_name,
                    "duration_secs": m.duration_secs,
                    "orig_time": m.orig_time,
                    "orig_date": m.orig_date,
                    "size": m.size,
                    "msg_id": m.msg_id,
                })
            })
            .collect();
        println!(
            "{}",
            json!({ "mailbox": args.mailbox, "folder": listing.folder, "uidvalidity": listing.uid_validity.get(), "messages": messages })
        );
    } else if listing.messages.is_empty() {
        println!("{} ({}): no messages", args.mailbox, listing.folder);
    } else {
        println!("{} ({}):", args.mailbox, listing.folder);
        println!(
            "{:>4} {:>6}  {:<7} {:<28} {:>5}  {:<40} {:>8}",
            "N", "UID", "state", "caller", "secs", "date", "bytes"
        );
        for m in &listing.messages {
            let caller = if m.caller_id_name.is_empty() {
                m.caller_id_num.clone()
            } else {
                format!("{} <{}>", m.caller_id_name, m.caller_id_num)
            };
            println!(
                "{:>4} {:>6}  {:<7} {:<28} {:>5}  {:<40} {:>8}",
                m.number,
                m.uid,
                m.state.map_or("deleted", |s| s.as_str()),
                caller,
                m.duration_secs,
                m.orig_date,
                m.size
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
