//! The durable outbox above the imapvm runtime: a deposit that cannot reach the IMAP server
//! (unreachable, timed out, connection dropped mid-APPEND) is kept on disk and delivered
//! later, exactly once.
//!
//! The runtime's deposit declares the journal it reports to
//! ([`imapvm::parts::Journal`]: the APPEND is about to leave, the message was refused);
//! this crate implements it with a write-ahead spool ([`Outbox`]: one `.eml` and one
//! `.meta` per item, fsync'd, locked while delivered), so [`Outbox::deposit`] (or
//! [`DurableDeposit::deposit_durable`] on a mailbox) answers [`DepositOutcome::Stored`] or
//! [`DepositOutcome::Queued`], never a silent loss. [`Outbox::flush`] and
//! [`Outbox::spawn_flusher`] deliver what is pending, each item looked up by its msg id
//! first so that an APPEND cut after the server stored it is not doubled. The outbox of a
//! store is the directory its voicemail.conf names (`imapvm_outbox`, else
//! [`DEFAULT_OUTBOX_DIR`]): [`Outbox::of`], or [`OutboxStore::outbox`] on the store.
//!
//! This crate does **not** connect, log in, build messages or decide admission: the
//! deposit runs in the runtime ([`Mailbox::deposit_in`](imapvm::Mailbox::deposit_in) on the
//! account's pooled connection) and reports to the journal; the runtime never depends on
//! this crate and keeps no outbox state.
//!
//! ```no_run
//! use imapvm::{Audio, NewVoicemail, Store};
//! use imapvm_outbox::{DepositOutcome, DurableDeposit, OutboxStore};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let store = Store::open(std::path::Path::new("/etc/asterisk/voicemail.conf"))?;
//! let vm = NewVoicemail {
//!     recording: Some(Audio::read(std::path::Path::new("message.wav"))?),
//!     duration_secs: 7,
//!     ..NewVoicemail::default()
//! };
//! match store.mailbox("1234@default")?.deposit_durable(&vm).await? {
//!     DepositOutcome::Stored(d) => println!("stored as UID {}", d.uid),
//!     DepositOutcome::Queued(q) => println!("queued as {}", q.item),
//! }
//! let _flusher = store.spawn_flusher(std::time::Duration::from_secs(60))?;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod durable;
mod spool;

pub use durable::{
    DEFAULT_OUTBOX_DIR, Delivered, DepositOutcome, DurableDeposit, Enqueue, FlushReport, Flusher,
    Outbox, OutboxStore, Queued,
};
pub use spool::{Held, ItemState, MAX_ITEM_BYTES, OutboxItem, OutboxListing, SpoolProblem};
