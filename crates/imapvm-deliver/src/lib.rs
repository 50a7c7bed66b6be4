//! Operations over several mailboxes, composed above the imapvm runtime: one voicemail for
//! several boxes ([`Deliver::deposit_to`], [`Deliver::deposit_to_durable`]:
//! `VoiceMail(a&b)`, which Asterisk's IMAP storage cannot do) and forwarding
//! ([`Forward::forward`]: VoiceMailMain's key 8, with the original's caller id, time and
//! audio, a fresh msg id and an optional comment as the intro).
//!
//! Each copy is built for its recipient (its Extension/Context headers, full name, message
//! number, folder), admitted by policy (quota, `maxmsg`, durations; the quota promised to
//! earlier copies on the same root counted), and APPENDed; the APPENDs of one account are
//! pipelined on its one connection, accounts are served in parallel, and every recipient
//! gets a [`RecipientResult`] of its own. A durable delivery writes each copy to the
//! outbox (`imapvm-outbox`) before its APPEND. Every stored copy is announced on the store's
//! change feed.
//!
//! This crate does **not** connect, log in, speak IMAP grammar, build message bytes or
//! decide admission itself: it runs on the runtime's pooled connections through
//! [`imapvm::parts`] (a [`Lease`](imapvm::parts::Lease) of an account's connection,
//! [`Mailbox::with_account`](imapvm::Mailbox::with_account)), asks `imapvm-message` and the
//! runtime to build each copy and `imapvm-policy` to admit it. The runtime never depends on
//! it.
//!
//! ```no_run
//! use imapvm::{Audio, MessageRef, MessageNumber, NewVoicemail, Store};
//! use imapvm_deliver::{Deliver, Forward};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let store = Store::open(std::path::Path::new("/etc/asterisk/voicemail.conf"))?;
//! let vm = NewVoicemail {
//!     recording: Some(Audio::read(std::path::Path::new("message.wav"))?),
//!     duration_secs: 7,
//!     ..NewVoicemail::default()
//! };
//! for result in store.deposit_to(&["1234@default", "5678@default"], &vm).await {
//!     println!("{}: {}", result.mailbox, result.status());
//! }
//! let first = MessageRef::Number(MessageNumber::new(1).ok_or("no message 1")?);
//! let forwarded = store.mailbox("1234@default")?.forward(first, None, &["5678@default"], None).await?;
//! assert!(forwarded.all_ok());
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod deliver;
mod forward;

pub use deliver::{Deliver, RecipientOutcome, RecipientResult, Via};
pub use forward::{Forward, Forwarded};
