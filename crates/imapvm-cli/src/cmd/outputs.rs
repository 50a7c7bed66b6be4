//! The MWI outputs `watch` and `agi` share: AMI (`VoicemailRefresh` / `MWIUpdate`) and
//! webhooks, from the command line or imapvm.conf (or the legacy `[imapvm]` section of
//! voicemail.conf), their reports logged to stderr; and the stop signal (Ctrl-C, SIGTERM).

use clap::Args;

use crate::cmd::CliError;
use imapvm::Store;
use imapvm_config::{AmiTarget, WebhookUrl};
use imapvm_watch::{
    AmiNotifier, AmiOptions, AmiReport, Metrics, MwiEvent, WebhookNotifier, WebhookOptions,
    WebhookReport,
};

/// The output flags.
#[derive(Debug, Args)]
pub(crate) struct OutputArgs {
    /// Tell Asterisk over AMI (repeatable; replaces imapvm.conf's `ami` lines). MODE: refresh
    /// (VoicemailRefresh) or mwi (MWIUpdate). `tls://HOST:PORT` for AMI over TLS (port 5039;
    /// imapvm.conf's `ami_cafile` applies; `tls://HOST:PORT/novalidate-cert` checks no
    /// certificate). The secret shows in `ps`: prefer imapvm.conf. (Parsed after clap, so
    /// that a usage error never echoes the secret.)
    #[arg(long = "ami", value_name = "[tls://]HOST:PORT,USER,SECRET,MODE")]
    ami: Vec<String>,
    /// POST each event's JSON to this http:// or https:// URL (repeatable; replaces
    /// imapvm.conf's `webhook` lines; `webhook_secret` and `webhook_cafile` apply).
    #[arg(long = "webhook", value_name = "URL")]
    webhooks: Vec<WebhookUrl>,
}

/// The running outputs.
pub(crate) struct Outputs {
    amis: Vec<AmiNotifier>,
    hooks: Vec<WebhookNotifier>,
}

impl Outputs {
    /// Starts the outputs the flags name, else those of imapvm.conf (needs a runtime);
    /// their reports carry the store's clock, their outcomes are counted in `metrics`.
    pub(crate) fn start(
        store: &Store,
        args: &OutputArgs,
        metrics: &Metrics,
    ) -> Result<Outputs, CliError> {
        let section = &store.config().imapvm;
        let ami: Vec<AmiTarget> = if args.ami.is_empty() {
            section.ami.clone()
        } else {
            args.ami.iter().map(|v| ami_flag(v)).collect()
        };
        let webhooks = if args.webhooks.is_empty() {
            section.webhooks.clone()
        } else {
            args.webhooks.clone()
        };
        let webhook_options = WebhookOptions {
            clock: store.clock().clone(),
            metrics: metrics.clone(),
            ..WebhookOptions::from_section(section)
        };
        let ami_options = AmiOptions {
            clock: store.clock().clone(),
            metrics: metrics.clone(),
            ..AmiOptions::from_section(section)
        };
        Ok(Outputs {
            amis: ami
                .iter()
                .map(|t| AmiNotifier::start(t, ami_options.clone()))
                .collect::<Result<_, _>>()?,
            hooks: webhooks
                .iter()
                .map(|u| WebhookNotifier::start(u, webhook_options.clone()))
                .collect::<Result<_, _>>()?,
        })
    }

    /// Hands a change to every output.
    pub(crate) fn notify(&self, e: &MwiEvent) {
        for a in &self.amis {
            a.notify(e);
        }
        for h in &self.hooks {
            h.notify(e);
        }
    }

    /// Output outcomes go to stderr: failures as warnings, the rest at debug level.
    pub(crate) fn log_reports(&mut self) {
        log_reports(&mut self.amis, &mut self.hooks);
    }

    /// Stops every output (what is queued is dropped).
    pub(crate) async fn stop(mut self) {
        self.log_reports();
        for a in self.amis {
            a.stop().await;
        }
        for h in self.hooks {
            h.stop().await;
        }
    }
}

/// One `--ami` value. A bad one is a usage error (exit 2) whose message names what is
/// wrong but, unlike clap's own, does not repeat the value (it holds the AMI secret).
fn ami_flag(value: &str) -> AmiTarget {
    match value.parse() {
        Ok(t) => t,
        Err(e) => clap::Error::raw(
            clap::error::ErrorKind::InvalidValue,
            format!("invalid value for '--ami <[tls://]HOST:PORT,USER,SECRET,MODE>': {e}\n"),
        )
        .exit(),
    }
}

/// Ctrl-C or SIGTERM (systemd's stop). SIGTERM is caught from this call on (inside a
/// runtime), not from the first poll: call it before telling systemd `READY=1`, and keep
/// the one future for the whole loop, so that no SIGTERM is lost.
pub(crate) fn stopped() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    async move {
        #[cfg(unix)]
        if let Some(mut term) = term {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Output outcomes go to stderr: failures as warnings, the rest at debug level.
fn log_reports(amis: &mut [AmiNotifier], hooks: &mut [WebhookNotifier]) {
    for a in amis.iter_mut() {
        while let Some(r) = a.try_report() {
            match r {
                AmiReport::LoggedIn {
                    target, version, ..
                } => tracing::info!(%target, %version, "AMI logged in"),
                AmiReport::Down { target, error, .. } => {
                    tracing::warn!(%target, %error, "AMI down; retrying")
                }
                AmiReport::Answered {
                    target,
                    mailbox,
                    action,
                    success: false,
                    message,
                    ..
                } => tracing::warn!(%target, %mailbox, action, ?message, "AMI action refused"),
                other => tracing::debug!(?other, "AMI"),
            }
        }
    }
    for h in hooks.iter_mut() {
        while let Some(r) = h.try_report() {
            match r {
                WebhookReport::Failed {
                    mailbox,
                    error,
                    attempts,
                    ..
                } => tracing::warn!(%mailbox, %error, attempts, "webhook not delivered"),
                other => tracing::debug!(?other, "webhook"),
            }
        }
    }
}
