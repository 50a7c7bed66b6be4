//! `imapvm agi [--listen ADDR] [--spool DIR] [--allow CIDR]...`: the FastAGI server, the
//! phone side of voicemail for any Asterisk (`docs/phone.md`). The three flags default to
//! imapvm.conf's `agi_listen`, `agi_spool` and `agi_allow`; a flag given wins (`--allow`
//! replaces the file's list).
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
//! run `watch` as well for changes made by mail clients). `--metrics ADDR` / imapvm.conf's
//! `metrics` serves Prometheus `/metrics` (calls, MWI outputs, the outbox) and `/healthz`
//! (the accounts MWI recounts reach). SIGTERM and Ctrl-C stop it. Under systemd
//! (`Type=notify`) it says `READY=1` once it listens, pings the watchdog and says
//! `STOPPING=1` ([`super::service`]).

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
use crate::cmd::service::{Notifier, watchdog_tick};
use crate::cmd::voicemail::open;

/// How often pending work (the outbox, recordings left by a killed run) is retried.
const RETRY_EVERY: Duration = Duration::from_secs(30);

/// `imapvm agi ...`.
#[derive(Debug, Args)]
pub(crate) struct AgiArgs {
    /// Where Asterisk connects (FastAGI's port is 4573). Default: imapvm.conf's
    /// agi_listen, else 127.0.0.1:4573.
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// The directory Asterisk and imapvm share for recordings and playback (the same path
    /// on the Asterisk host; the Asterisk user must read and write it). Default:
    /// imapvm.conf's agi_spool, else /var/spool/asterisk/imapvm.
    #[arg(long, value_name = "DIR")]
    spool: Option<PathBuf>,
    /// Also accept FastAGI connections from this network (repeatable; loopback always).
    /// Replaces imapvm.conf's agi_allow lines.
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

/// Where to listen, the spool and who may connect: each flag given, else imapvm.conf's.
#[derive(Debug, PartialEq)]
struct Server {
    listen: SocketAddr,
    spool: PathBuf,
    allow: Vec<IpNet>,
}

impl Server {
    fn of(args: &AgiArgs, conf: &imapvm_config::ImapvmSection) -> Server {
        Server {
            listen: args.listen.unwrap_or(conf.agi_listen),
            spool: args.spool.clone().unwrap_or_else(|| conf.agi_spool.clone()),
            allow: if args.allow.is_empty() {
                conf.agi_allow.clone()
            } else {
                args.allow.clone()
            },
        }
    }
}

pub(crate) fn run(global: &Global, args: &AgiArgs) -> Result<ExitCode, CliError> {
    let store = open(global)?;
    let server = Server::of(args, &store.config().imapvm);
    let spool = Spool::open(&server.spool)?;
    let phone_store = PhoneStore::new(store.clone(), spool, &args.vm_spool)
        .with_config(&global.config, imapvm_ivr::LockoutPolicy::default());
    let metrics = Metrics::new();
    let phone_metrics = PhoneMetrics::default();
    metrics.register(|r| phone_metrics.register(r));
    let options = PhoneOptions {
        allow: server.allow.clone(),
        max_calls: args.max_calls,
        metrics: phone_metrics,
        ..PhoneOptions::default()
    };
    let mut notifier = Notifier::from_env();
    let json = global.json;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let recovered = imapvm_phone::recover(&phone_store, journal::SETTLE).await;
        if recovered != imapvm_phone::Recovered::default() {
            tracing::info!(?recovered, "recordings left by an earlier run");
        }
        let flusher = imapvm_outbox::OutboxStore::spawn_flusher(&store, RETRY_EVERY)?;
        let exporter = serve("agi", &store, &args.metrics, &metrics).await?;
        let mut outputs = Outputs::start(&store, &args.outputs, &metrics)?;
        let publisher_options = WatchOptions {
            metrics: metrics.clone(),
            ..WatchOptions::default()
        };
        let mut publisher = Publisher::start(&store, &publisher_options)?;
        let mut phone = Phone::start(
            server.listen,
            phone_store.clone(),
            options,
        )
        .await?;
        // One stop signal listener, caught from before READY=1 to the end of the loop.
        let stop = stopped();
        tokio::pin!(stop);
        eprintln!("imapvm agi: FastAGI on {}", phone.local_addr());
        notifier.ready(&format!("FastAGI on {}", phone.local_addr()));
        let mut watchdog = notifier.watchdog_timer();
        let mut retry = tokio::time::interval(RETRY_EVERY);
        retry.tick().await;
        loop {
            tokio::select! {
                () = &mut stop => break,
                () = watchdog_tick(&mut watchdog) => notifier.ping(),
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
        notifier.stopping();
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

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        agi: AgiArgs,
    }

    fn server(flags: &[&str], conf: &str) -> Server {
        let args = Cli::try_parse_from(std::iter::once("agi").chain(flags.iter().copied()))
            .unwrap()
            .agi;
        let parsed = imapvm_config::parse_imapvm_conf_bytes("imapvm.conf", conf.as_bytes());
        assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
        Server::of(&args, &parsed.general)
    }

    #[test]
    fn flags_win_over_imapvm_conf_which_wins_over_the_defaults() {
        let conf = "[general]\nagi_listen = 127.0.0.1:4600\nagi_spool = /srv/agi\n\
                    agi_allow = 192.0.2.0/24\nagi_allow = 198.51.100.0/24\n";
        let from_file = server(&[], conf);
        assert_eq!(from_file.listen, "127.0.0.1:4600".parse().unwrap());
        assert_eq!(from_file.spool, PathBuf::from("/srv/agi"));
        assert_eq!(from_file.allow.len(), 2);
        let flags = server(
            &[
                "--listen",
                "0.0.0.0:4601",
                "--spool",
                "/tmp/s",
                "--allow",
                "203.0.113.0/24",
            ],
            conf,
        );
        assert_eq!(
            flags,
            Server {
                listen: "0.0.0.0:4601".parse().unwrap(),
                spool: PathBuf::from("/tmp/s"),
                allow: vec!["203.0.113.0/24".parse().unwrap()],
            }
        );
        let defaults = server(&[], "[general]\n");
        assert_eq!(defaults.listen, imapvm_config::DEFAULT_AGI_LISTEN);
        assert_eq!(
            defaults.spool,
            PathBuf::from(imapvm_config::DEFAULT_AGI_SPOOL)
        );
        assert!(defaults.allow.is_empty());
    }
}
