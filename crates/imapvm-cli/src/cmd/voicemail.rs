//! What the voicemail subcommands share: the tokio runtime, the store, message references,
//! and the `{done, deferred}` report.

use std::future::Future;

use clap::Args;
use imapvm::{Folder, MessageRef, Report, Store};
use serde_json::{Value, json};

use crate::Global;
use crate::cmd::{CliError, parse_number, parse_uid, uid_numbers};

/// Runs `f` to completion on a single-threaded tokio runtime.
pub(crate) fn block_on<F: Future>(f: F) -> Result<F::Output, CliError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(rt.block_on(f))
}

/// The store of `-c voicemail.conf` (and its imapvm.conf), keeping voicemail UIDs in
/// `--cache-dir` when given (else in imapvm.conf's `cache_dir`, if set).
pub(crate) fn open(global: &Global) -> Result<Store, CliError> {
    let store = Store::open_with(&global.config, &global.imapvm_conf)?;
    if let Some(dir) = &global.cache_dir {
        store.set_cache_dir(Some(dir.clone()));
    }
    Ok(store)
}

/// An Asterisk folder by name (`INBOX`, `Old`, `Work`, ..., `Cust5`, or its index).
pub(crate) fn folder(name: &str) -> Result<Folder, CliError> {
    Ok(Folder::from_name(name)?)
}

/// Which message: its number in the listing, or `--uid`.
#[derive(Debug, Args)]
pub(crate) struct Target {
    /// The message number, as `list` shows it.
    #[arg(required_unless_present = "uid", value_parser = parse_number)]
    pub number: Option<imapvm::MessageNumber>,
    /// The message's IMAP UID instead of its number.
    #[arg(long, conflicts_with = "number", value_parser = parse_uid)]
    pub uid: Option<imapvm::Uid>,
    /// The folder the number refers to (default: every state of imapfolder).
    #[arg(long)]
    pub folder: Option<String>,
}

impl Target {
    /// The reference.
    pub(crate) fn message(&self) -> Result<MessageRef, CliError> {
        match (self.number, self.uid) {
            (_, Some(uid)) => Ok(MessageRef::Uid(uid)),
            (Some(n), None) => Ok(MessageRef::Number(n)),
            (None, None) => Err(CliError("give a message number or --uid".into())),
        }
    }

    /// The folder scope.
    pub(crate) fn scope(&self) -> Result<Option<Folder>, CliError> {
        self.folder.as_deref().map(folder).transpose()
    }
}

/// `{mailbox, done, deferred, expunged, vanished, destination}`.
pub(crate) fn report_json(mailbox: &str, report: &Report) -> Value {
    json!({
        "mailbox": mailbox,
        "done": uid_numbers(&report.done),
        "deferred": report.deferred.iter().map(|d| json!({"uid": d.uid.get(), "reason": d.reason})).collect::<Vec<_>>(),
        "expunged": uid_numbers(&report.expunged),
        "vanished": uid_numbers(&report.vanished),
        "destination": report.destination,
    })
}

/// Prints a report as JSON or as a sentence per fact.
pub(crate) fn print_report(global: &Global, mailbox: &str, what: &str, report: &Report) {
    if global.json {
        println!("{}", report_json(mailbox, report));
        return;
    }
    let list = |v: &[imapvm::Uid]| {
        v.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !report.done.is_empty() {
        match &report.destination {
            Some(to) => println!("{mailbox}: {what} UID {} (to {to})", list(&report.done)),
            None => println!("{mailbox}: {what} UID {}", list(&report.done)),
        }
    }
    if !report.expunged.is_empty() {
        println!("{mailbox}: expunged UID {}", list(&report.expunged));
    }
    for d in &report.deferred {
        println!(
            "{mailbox}: UID {} left flagged \\Deleted: {}",
            d.uid, d.reason
        );
    }
    if !report.vanished.is_empty() {
        println!("{mailbox}: already gone: UID {}", list(&report.vanished));
    }
    if report.done.is_empty() && report.deferred.is_empty() && report.vanished.is_empty() {
        println!("{mailbox}: nothing to do");
    }
}
