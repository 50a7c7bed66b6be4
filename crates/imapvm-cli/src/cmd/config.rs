//! `imapvm config check|show`: validate voicemail.conf and imapvm.conf, show a mailbox's
//! effective settings.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use imapvm_config::{Config, MailboxId, Parsed, Severity};
use serde_json::{Map, Value, json};

use crate::Global;
use crate::cmd::CliError;

/// `imapvm config ...`.
#[derive(Debug, Args)]
pub(crate) struct ConfigArgs {
    #[command(subcommand)]
    command: ConfigCommand,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Check voicemail.conf and imapvm.conf: print every error and warning (file:line:column),
    /// then a summary. Exit 1 on errors.
    Check,
    /// Show the effective settings of one mailbox and where each value comes from.
    Show {
        /// The mailbox, as BOX@CONTEXT (an alias from aliasescontext works too).
        mailbox: String,
    },
}

pub(crate) fn run(global: &Global, args: &ConfigArgs) -> Result<ExitCode, CliError> {
    let parsed = global.load()?;
    match &args.command {
        ConfigCommand::Check => check(global, &parsed),
        ConfigCommand::Show { mailbox } => show(global, &parsed, mailbox),
    }
}

fn mailbox_json(config: &Config, id: &MailboxId) -> Option<Value> {
    let mailbox = config.mailbox(id)?;
    let s = config.settings(id)?;
    Some(json!({
        "id": mailbox.id.to_string(),
        "fullname": mailbox.fullname,
        "email": mailbox.email,
        "imapuser": s.imapuser.value,
        "imapfolder": s.imapfolder.value,
        "imapvmshareid": s.imapvmshareid.value,
        "imapserver": s.imapserver.value,
        "imapport": s.imapport.value,
        "imapflags": s.imapflags.value.to_string(),
        "tz": s.tz.value,
        "options": serde_json::to_value(&mailbox.options).unwrap_or(Value::Null),
    }))
}

fn check(global: &Global, parsed: &Parsed) -> Result<ExitCode, CliError> {
    let (errors, warnings) = parsed.counts();
    let config = &parsed.config;
    if global.json {
        let mailboxes: Vec<Value> = config
            .mailboxes
            .iter()
            .filter_map(|m| mailbox_json(config, &m.id))
            .collect();
        let doc = json!({
            "diagnostics": parsed.diagnostics,
            "general": serde_json::to_value(&config.general).map_err(|e| CliError(e.to_string()))?,
            "mailboxes": mailboxes,
            "imapvm_conf": parsed.imapvm_conf,
        });
        println!("{doc}");
    } else {
        for d in &parsed.diagnostics {
            println!("{d}");
        }
        let mut contexts: Vec<&str> = config.mailboxes.iter().map(|m| m.id.context()).collect();
        contexts.dedup();
        contexts.sort_unstable();
        contexts.dedup();
        let files = match &parsed.imapvm_conf {
            Some(imapvm_conf) => format!("{} and {imapvm_conf}", global.config.display()),
            None => {
                let beside = global.imapvm_conf.resolve(&global.config);
                println!(
                    "{}: not present; imapvm's defaults apply to what voicemail.conf's [imapvm] does not set",
                    beside.display()
                );
                global.config.display().to_string()
            }
        };
        println!(
            "{files}: {errors} error(s), {warnings} warning(s); {} mailbox(es) in {} context(s)",
            config.mailboxes.len(),
            contexts.len()
        );
    }
    Ok(
        if parsed
            .diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
        {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        },
    )
}

fn show(global: &Global, parsed: &Parsed, mailbox: &str) -> Result<ExitCode, CliError> {
    // The runtime refuses a file with errors; so does `show` (issue 9: one clear line).
    if let Some(d) = parsed
        .diagnostics
        .iter()
        .find(|d| d.severity == Severity::Error)
    {
        return Err(CliError(format!(
            "{d} (run `imapvm config check` to list every problem)"
        )));
    }
    let config = &parsed.config;
    let id = match config.resolve_alias(mailbox) {
        Some(target) => target.clone(),
        None => mailbox.parse::<MailboxId>()?,
    };
    let settings = config.settings(&id).ok_or_else(|| {
        CliError(format!(
            "no mailbox {id} in {} (run `imapvm config check` to list problems)",
            global.config.display()
        ))
    })?;
    let rows = settings.rows();
    if global.json {
        let mut map = Map::new();
        map.insert(
            "mailbox".into(),
            json!({"value": settings.id.to_string(), "origin": "mailbox line"}),
        );
        for row in rows {
            map.insert(
                row.option.to_string(),
                json!({"value": row.value, "origin": row.origin.to_string()}),
            );
        }
        println!("{}", Value::Object(map));
    } else {
        println!("{}", settings.id);
        let width = rows.iter().map(|r| r.option.len()).max().unwrap_or(0);
        for row in rows {
            let value = match &row.value {
                Some(v) => format!("{v:?}"),
                None => "(unset)".to_string(),
            };
            println!("  {:width$}  {value}  ({})", row.option, row.origin);
        }
    }
    Ok(ExitCode::SUCCESS)
}
