//! `imapvm probe [B@C] [--create-folders]`: what the server offers and which folders exist.

use std::process::ExitCode;

use clap::Args;
use serde_json::json;

use crate::Global;
use crate::cmd::CliError;
use crate::cmd::voicemail::{block_on, open};

/// `imapvm probe ...`.
#[derive(Debug, Args)]
pub(crate) struct ProbeArgs {
    /// The mailbox whose account and folders to probe (default: the first IMAP mailbox).
    mailbox: Option<String>,
    /// Create the missing voicemail folders.
    #[arg(long)]
    create_folders: bool,
}

pub(crate) fn run(global: &Global, args: &ProbeArgs) -> Result<ExitCode, CliError> {
    let store = open(global)?;
    let id = match &args.mailbox {
        Some(m) => m.clone(),
        None => store
            .mailbox_ids()
            .into_iter()
            .find(|id| store.mailbox_of(id).is_ok())
            .ok_or_else(|| CliError("no mailbox with imapuser in voicemail.conf".into()))?
            .to_string(),
    };
    let mb = store.mailbox(&id)?;
    let probe = block_on(async {
        let p = if args.create_folders {
            mb.probe_creating_folders().await
        } else {
            mb.probe().await
        };
        store.close().await;
        p
    })??;
    if global.json {
        println!(
            "{}",
            json!({
                "mailbox": id,
                "account": probe.account.to_string(),
                "capabilities": probe.capabilities,
                "namespace": probe.namespace,
                "delimiter": probe.delimiter.map(String::from),
                "quota": probe.quota.iter().map(|q| json!({"root": q.root, "resource": q.resource, "usage": q.usage, "limit": q.limit})).collect::<Vec<_>>(),
                "folders": probe.folders.iter().map(|f| json!({"folder": f.folder, "mailbox": f.mailbox, "exists": f.exists, "created": f.created})).collect::<Vec<_>>(),
                "mailboxes": probe.mailboxes,
            })
        );
    } else {
        println!("{id} on {}", probe.account);
        println!("capabilities: {}", probe.capabilities.join(" "));
        println!(
            "namespace: {:?}, delimiter: {}",
            probe.namespace,
            probe.delimiter.map_or("none".into(), |d| format!("{d:?}"))
        );
        for q in &probe.quota {
            println!(
                "quota {}: {} {} of {}",
                q.root, q.resource, q.usage, q.limit
            );
        }
        for f in &probe.folders {
            let state = match (f.exists, f.created) {
                (true, true) => "created",
                (true, false) => "exists",
                _ => "missing",
            };
            println!("folder {:<10} {:<30} {state}", f.folder, f.mailbox);
        }
    }
    Ok(ExitCode::SUCCESS)
}
