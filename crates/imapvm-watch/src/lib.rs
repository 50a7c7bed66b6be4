//! The MWI watcher of imapvm, a service above the runtime: it follows every watched
//! mailbox's new / old / urgent counts and publishes each change once, to a stream of
//! [`WatchEvent`]s and to the outputs a PBX listens to.
//!
//! * [`Watcher`]: one task and one connection per IMAP account, NOTIFY (RFC 5465) where it
//!   works, else IDLE on the voicemail folder, else polling every `pollfreq` (the choice is
//!   `imapvm_policy::watch`'s); a reconnect resync that costs what changed (CONDSTORE /
//!   QRESYNC); the store's own operations wake it at once through the runtime's change feed
//!   ([`imapvm::Store::changes`]).
//! * Outputs: [`externnotify`] (Asterisk's arguments, no shell), [`AmiNotifier`]
//!   (`VoicemailRefresh` or `MWIUpdate` over `imapvm-ami`, on TCP or TLS), [`WebhookNotifier`]
//!   (HTTP POST of the event as JSON, `http://` or `https://`, optionally signed with
//!   HMAC-SHA256); TLS is `imapvm-net`'s ([`imapvm_net::tls`]).
//! * [`Publisher`]: MWI for a process that changes mailboxes but watches no server (the
//!   phone service): the runtime's change feed, recounted and published through the same
//!   events and outputs.
//! * [`shard`]: `--shard K/N`, so several watcher processes split the boxes.
//! * [`Metrics`] and [`Exporter`]: what the watcher, the publisher and the outputs count
//!   (Prometheus, with `prometheus-client`), each account's [`Health`] (connected, or
//!   within its retry budget), and the HTTP/1 server of `/metrics` and `/healthz`.
//!
//! What this crate does **not** do: connecting, logging in, counting and the IMAP commands
//! themselves are the runtime's ([`imapvm::Session`], [`imapvm::Session::count_boxes`],
//! [`imapvm::Session::changed_since`]); the strategy, resync plan and "publish or not"
//! decisions are `imapvm-policy`'s. It never changes a mailbox, and the runtime never
//! depends on it.
//!
//! ```no_run
//! use imapvm::Store;
//! use imapvm_watch::{WatchEvent, WatchOptions, Watcher};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let store = Store::open(std::path::Path::new("/etc/asterisk/voicemail.conf"))?;
//! let mut watcher = Watcher::start(&store, WatchOptions::default())?;
//! while let Some(event) = watcher.next().await {
//!     if let WatchEvent::Mwi(e) = event {
//!         println!("{}: {} new, {} old", e.id(), e.counts.new, e.counts.old);
//!     }
//! }
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

pub mod exporter;
pub mod externnotify;
pub mod metrics;
pub mod notify_ami;
pub mod output;
pub mod publish;
pub mod shard;
mod stamp;
pub mod watch;
pub mod webhook;

pub use exporter::Exporter;
pub use externnotify::{ExternNotify, ExternNotifyError, ExternRun, RunOutcome};
pub use metrics::{Health, Metrics};
pub use notify_ami::{AmiNotifier, AmiOptions, AmiReport};
pub use output::OutputStartError;
pub use publish::Publisher;
pub use shard::{Shard, ShardError, watched_boxes};
pub use watch::{
    MwiEvent, Resync, StartError, StrategyChoice, WatchError, WatchEvent, WatchOptions, Watcher,
    rfc3339,
};
pub use webhook::{
    AttemptError, DeliveryError, GaveUp, WebhookNotifier, WebhookOptions, WebhookReport,
};
