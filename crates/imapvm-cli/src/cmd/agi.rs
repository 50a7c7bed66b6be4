//! `imapvm agi [--listen ADDR] [--spool DIR] [--allow CIDR]...`: the FastAGI server, the
//! phone side of voicemail for any Asterisk (`docs/phone.md`).
//!
//! Dialplan: `AGI(agi://127.0.0.1:4573/voicemail,BOX@CONTEXT[&...],OPTIONS)` is Asterisk's
//! `VoiceMail()`, `AGI(agi://127.0.0.1:4573/voicemailmain,[BOX][@CONTEXT],OPTIONS)` its
//! `VoiceMailMain()`. It listens on loopback unless `--allow` widens who may connect
//! (FastAGI has no authentication). With `--json`, one line per finished call:
//! `{app, mailbox, status, uid (null when none), secs}`.
//!
//! Beside the calls it runs what keeps their promises: the outbox flusher (deposits queued
//! while the IMAP server was unreachable), the recovery of recordings a killed earlier run
//! left in the spool (every 30 s), and MWI: every change a call makes is recounted and
//! published at once to externnotify and the AMI/webhook outputs (as `imapvm watch` would;
//! run `watch` as well for changes made by mail clients). `--metrics ADDR` / `[imapvm]
//! metrics` serves Prometheus `/metrics` (calls, MWI outputs, the outbox) and `/healthz`
//! (the accounts MWI recounts reach). SIGTERM and Ctrl-C stop it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use imapvm_phone::{Phone, PhoneMetrics, PhoneOptions, PhoneStore, Spool, journal};
use imapvm_watch::{Metrics, Publisher, WatchEvent, WatchOptions};
use ipnet::IpNet;
use serde_json::json;

use crate::Global;
use crate::cmd::CliError;
use crate::cmd::metrics::{MetricsArgs, serve};
use crate::cmd::outputs::{OutputArgs, Outputs, stopped};
use crate::cmd::voicemail::open;

/// How often pending work (the outbox, recordings left by a killed run) is retried.
const RETRY_EVERY: Duration = Duration::from_secs(30);

/// `imapvm agi ...`.
#[derive(Debug, Args)]
pub(crate) struct AgiArgs {
    /// Where Asterisk connects (FastAGI's port is 4573).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4573")]
    listen: SocketAddr,
    /// The directory Asterisk and imapvm share for recordings and playback (the same path
    /// on the Asterisk host; the Asterisk user must read and write it).
    #[arg(long, value_name = "DIR", default_value = "/var/spool/asterisk/imapvm")]
    spool: PathBuf,
    /// Also accept FastAGI connections from this network (repeatable; loopback always).
    #[arg(long = "allow", value_name = "CIDR")]
    allow: Vec<IpNet>,
    /// Asterisk's voicemail spool: greetings when `imapgreetings=no`, and `secret.conf`
    /// with `passwordlocation=spooldir`.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "/var/spool/asterisk/voicemail"
    )]
    vm_spool: PathBuf,
    /// Calls served at once (more wait in the listen queue).
    #[arg(long, value_name = "N", default_value_t = 512)]
    max_calls: usize,
    #[command(flatten)]
    outputs: OutputArgs,
    #[command(flatten)]
    metrics: MetricsArgs,
}

pub(crate) fn run(global: &Global, args: &AgiArgs) -> Result<ExitCode, CliError> {
    let store = open(global)?;
    let spool = Spool::open(&args.spool)?;
    let phone_store = PhoneStore::new(store.clone(), spool, &args.vm_spool)
        .with_config(&global.config, imapvm_ivr::LockoutPolicy::default());
    let metrics = Metrics::new();
    let phone_metrics = PhoneMetrics::default();
    metrics.register(|r| phone_metrics.register(r));
    let options = PhoneOptions {
        allow: args.allow.clone(),
        max_calls: args.max_calls,
        metrics: phone_metrics,
        ..PhoneOptions::default()
    };
    let json = global.json;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let recovered = imapvm_phone::recover(&phone_store, journal::SETTLE).await;
        if recovered != imapvm_phone::Recovered::default() {
            tracing::info!(?recovered, "recordings left by an earlier run");
        }
        let flusher = store.spawn_flusher(RETRY_EVERY)?;
        let exporter = serve("agi", &store, &args.metrics, &metrics).await?;
        let mut outputs = Outputs::start(&store, &args.outputs, &metrics)?;
        let publisher_options = WatchOptions {
            metrics: metrics.clone(),
            ..WatchOptions::default()
        };
        let mut publisher = Publisher::start(&store, &publisher_options)?;
        let mut phone = Phone::start(
            args.listen,
            phone_store.clone(),
            options,
        )
        .await?;
        eprintln!("imapvm agi: FastAGI on {}", phone.local_addr());
        let mut retry = tokio::time::interval(RETRY_EVERY);
        retry.tick().await;
        loop {
            tokio::select! {
                () = stopped() => break,
                report = phone.next_report() => {
                    let Some(r) = report else { break };
                    if json {
                        println!("{}", json!({
                            "app": r.app,
                            "mailbox": r.mailbox,
                            "status": r.status,
                            "uid": r.uid,
                            "secs": (r.secs * 1000.0).round() / 1000.0,
                        }));
                    } else {
                        println!(
                            "{} {} {} uid={} {:.3}s{}",
                            r.app,
                            r.mailbox.as_deref().unwrap_or("-"),
                            r.status.as_deref().unwrap_or("-"),
                            r.uid.map_or_else(|| "-".to_owned(), |u| u.to_string()),
                            r.secs,
                            r.error.map(|e| format!(" ({e})")).unwrap_or_default(),
                        );
                    }
                }
                event = publisher.next() => match event {
                    Some(WatchEvent::Mwi(e)) => {
                        tracing::info!(mailbox = %e.id(), new = e.counts.new, urgent = e.counts.urgent, old = e.counts.old, "MWI");
                        outputs.notify(&e);
                    }
                    Some(WatchEvent::Error(e)) => tracing::warn!(account = %e.account, error = %e.error, "MWI recount failed"),
                    Some(other) => tracing::debug!(?other, "MWI"),
                    None => break,
                },
                _ = retry.tick() => {
                    outputs.log_reports();
                    let recovered = imapvm_phone::recover(&phone_store, journal::SETTLE).await;
                    if recovered.deposited > 0 || !recovered.failed.is_empty() {
                        tracing::info!(?recovered, "recordings left by an earlier run");
                    }
                }
            }
        }
        phone.stop();
        publisher.stop();
        if let Some(exporter) = exporter {
            exporter.stop();
        }
        flusher.stop();
        outputs.stop().await;
        store.close().await;
        Ok::<_, CliError>(ExitCode::SUCCESS)
    })
}
