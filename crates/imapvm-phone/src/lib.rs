//! The phone side of imapvm: Asterisk's `VoiceMail()` and `VoiceMailMain()` served over
//! FastAGI, with IMAP as the only store, so that any Asterisk (16 or later, built with or
//! without IMAP support) can use imapvm as its voicemail with no c-client at all.
//!
//! ```text
//! exten => 1234,1,Answer()
//!  same => n,AGI(agi://127.0.0.1:4573/voicemail,1234@default,u)
//!  same => n,NoOp(VMSTATUS=${VMSTATUS})
//! exten => *98,1,AGI(agi://127.0.0.1:4573/voicemailmain,,)
//! ```
//!
//! [`Phone::start`] listens (loopback only, unless [`PhoneOptions::allow`] widens it:
//! FastAGI has no authentication) and serves each connection as its own task:
//!
//! * `imapvm-agi` speaks the wire (environment, one command at a time, `HANGUP`), driven by
//!   the generic [`imapvm_net::driver::Driver`] with the runtime's clock;
//! * `imapvm-ivr` decides the call (greeting, beep, record, review; login, menus, playback)
//!   and asks for store operations;
//! * this crate turns the flow's channel actions into AGI commands and runs its store
//!   operations on the runtime ([`imapvm::Store`]): the deposit is the runtime's durable
//!   deposit (policy, UIDs, outbox, several recipients), so there is one way to store a
//!   voicemail.
//!
//! Audio crosses through the [`Spool`], a directory Asterisk and imapvm share: Asterisk
//! records into it (`RECORD FILE`) and plays from it. Every file of a call has a name
//! nobody can guess and is removed when the call ends. What the caller said is never lost:
//! a recording is journaled before Asterisk starts it ([`journal`]), and a recording whose
//! call died with imapvm is deposited, once, by [`recover`] at the next start.
//!
//! What it does **not** do: no AGI syntax (that is `imapvm-agi`), no call-flow decision
//! (`imapvm-ivr`), no IMAP (`imapvm`, the runtime), no MWI publishing (the runtime's change
//! feed announces every change; `imapvm-watch`'s outputs, wired by the CLI, publish it).
//!
//! ```no_run
//! use imapvm_phone::{Phone, PhoneOptions, PhoneStore, Spool};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let store = imapvm::Store::open(std::path::Path::new("/etc/asterisk/voicemail.conf"))?;
//! let spool = Spool::open("/var/spool/asterisk/imapvm")?;
//! let phone_store = PhoneStore::new(store, spool, "/var/spool/asterisk/voicemail");
//! let mut phone = Phone::start(
//!     "127.0.0.1:4573".parse()?,
//!     phone_store,
//!     PhoneOptions::default(),
//! )
//! .await?;
//! while let Some(report) = phone.next_report().await {
//!     println!("{} {:?} {:?}", report.app, report.mailbox, report.status);
//! }
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod agi;
mod call;
mod channel;
mod error;
mod flow;
pub mod journal;
mod metrics;
mod recover;
mod retrieve;
mod server;
mod spool;
mod store;

pub use call::CallReport;
pub use error::{Error, Result};
pub use metrics::PhoneMetrics;
pub use recover::{Recovered, recover};
pub use server::{DEFAULT_PORT, Phone, PhoneOptions, allowed};
pub use spool::{CallSpool, MAX_SPOOL_FILE, Spool};
pub use store::PhoneStore;
