//! The thin runtime of imapvm: voicemail stored on IMAP, the way Asterisk's
//! `app_voicemail` IMAP storage stores it, over tokio and rustls.
//!
//! It connects (TCP with `imapopentimeout`, implicit TLS or STARTTLS with rustls and the
//! ring provider, read/write deadlines), logs in (SASL PLAIN, with `authuser` as a proxy
//! login, else LOGIN; with `imapoauthcmd`, SASL OAUTHBEARER or XOAUTH2 with the OAuth 2 token
//! the operator's command prints, see [`oauth`]; never a clear-text password or token to a
//! non-loopback server unless the operator wrote `notls`), keeps one connection per (server, port, user) shared by every
//! mailbox of that account, and drives the sans-IO `imapvm-proto` core. A [`Store`] is a
//! voicemail.conf plus that pool; a [`Mailbox`] is one `box@context` with every operation:
//! [`deposit`](Mailbox::deposit), [`list`](Mailbox::list), [`play`](Mailbox::play),
//! [`set_flag`](Mailbox::set_flag), [`move_to`](Mailbox::move_to),
//! [`delete`](Mailbox::delete), [`undelete`](Mailbox::undelete),
//! [`expunge`](Mailbox::expunge), [`count`](Mailbox::count),
//! [`message_summary`](Mailbox::message_summary), the greetings and
//! [`probe`](Mailbox::probe).
//!
//! This crate does **not** contain protocol grammar (`imapvm-proto`), message layout
//! (`imapvm-message`), configuration syntax (`imapvm-config`) or policy rules such as
//! folder names, exact filters, counting, admission and expunge plans (`imapvm-policy`):
//! it asks those crates.
//!
//! Every operation runs through one seam, [`Mailbox::with_account`]: the account's pooled
//! [`Session`] (a logged-in connection), one retry on a fresh connection where that is safe,
//! and an announcement on the store's change feed ([`Store::changes`], [`Changed`]). The
//! services above the runtime build on that seam and on [`Session`]'s public methods:
//! `imapvm-watch` (the MWI watcher and its AMI, webhook and externnotify outputs) subscribes
//! to the feed and keeps sessions of its own for IDLE and NOTIFY; `imapvm-migrate` (file
//! spool ⇄ IMAP) pipelines its APPENDs through the seam. The runtime never depends on them.
//!
//! Operations over several boxes are composed above the runtime from its public
//! [`parts`] (a [`Lease`](parts::Lease) of an account's connection, the change
//! announcement, the built message): `imapvm-deliver` stores one voicemail for several
//! mailboxes and forwards.
//!
//! The deposit declares the journal it reports to ([`parts::Journal`]: the APPEND is about
//! to leave, the message was refused); the durable outbox (`imapvm-outbox`, above the
//! runtime) implements it, so that a deposit is never lost to an outage.
//!
//! ```no_run
//! use imapvm::{Audio, NewVoicemail, Store, Urgency};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let store = Store::open(std::path::Path::new("/etc/asterisk/voicemail.conf"))?;
//! let mailbox = store.mailbox("1234@default")?;
//! let deposited = mailbox
//!     .deposit(&NewVoicemail {
//!         recording: Some(Audio::read(std::path::Path::new("message.wav"))?),
//!         caller_id_num: "5551001".into(),
//!         duration_secs: 7,
//!         urgency: Urgency::Urgent,
//!         ..NewVoicemail::default()
//!     })
//!     .await?;
//! println!("stored as UID {}; {} new", deposited.uid, deposited.counts.new);
//! for message in mailbox.list(None).await?.messages {
//!     println!("{} {} {}", message.number, message.caller_id_num, message.duration_secs);
//! }
//! store.close().await;
//! # Ok(()) }
//! ```
//!
//! Connections are set up and driven by `imapvm-net`, shared with the services: its TLS
//! set-up (rustls on ring, the system roots plus a CA file, or `novalidate-cert`), its one
//! driver of the sans-IO cores, and its clock: every `now` (the cores' deadlines, the login
//! back-off, message dates, outbox stamps, the services' event times) comes from the
//! store's [`clock`] ([`Store::with_clock`] injects one; tests simulate time with tokio's
//! paused clock).
//!
//! Messages are named by [`Uid`] (never 0) in a folder's [`UidValidity`] [INV-2];
//! Asterisk's numbers are [`MessageNumber`]s (never 0) of a listing. These, [`MailboxId`] and
//! the other shared types come from `imapvm-types` and are re-exported here.
//!
//! Errors never panic and always name the account ([`AccountKey`]) or mailbox ([`MailboxId`]):
//! see [`Error`]; what to do about one is decided next to it ([`Error::is_connection_lost`],
//! [`Error::is_mailbox_full`]).
#![forbid(unsafe_code)]

mod account;
pub mod config_files;
mod error;
pub mod feed;
mod limits;
mod ops;
pub mod parts;
mod pool;
mod session;
mod store;
mod uid_memory;

/// The one clock, from `imapvm-net` (the store's API names it: [`Store::with_clock`]).
pub use imapvm_net::clock;
use imapvm_net::{driver, tls};

pub use account::{Account, AccountKey, Credentials, Security};
pub use error::{
    ConfigFileError, ConfigProblem, DepositRefusal, Error, Insecure, Misuse, OutboxError, Result,
};
pub use feed::{ChangeFeed, Changed};
pub use imapvm_net::oauth;
pub use imapvm_net::oauth::{TokenCommand, TokenCommandError};
pub use imapvm_net::tls::TlsError;
pub use imapvm_policy::{Folder, MessageState, MwiCounts, WatchStrategy};
pub use imapvm_proto::Stats;
/// The vocabulary this crate's API names, from `imapvm-types` (so callers need not depend on
/// it themselves).
pub use imapvm_types::sansio::ConfigError;
pub use imapvm_types::{
    Capabilities, Capability, MailboxId, MailboxIdError, MessageNumber, Secret, Uid, UidSet,
    UidValidity,
};
pub use limits::MAX_AUDIO_FILE_BYTES;
pub use ops::ChangedSince;
pub use pool::{Folders, IdentityHeaders};
pub use session::{Selected, ServerChanges, Session, ViewSync};
pub use store::{
    Attempt, AttemptFuture, Audio, Deferred, Deposited, FlagOp, FolderCheck, Greeting,
    ListedMessage, Listing, Mailbox, MessageRef, NewVoicemail, Played, Probe, QuotaInfo,
    REMEMBERED_BOXES, Report, Retry, Store, Urgency, local_hostname, message_settings,
};
