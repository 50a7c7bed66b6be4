//! A sans-IO IMAP4rev1/rev2 client core on imap-codec: bytes and `now` go in; bytes to send, typed results and timer deadlines come out.
//!
//! This crate does **not** open sockets, use tokio, read clocks, or know anything about voicemail. Sequence numbers never leave it.
#![forbid(unsafe_code)]

mod config;
mod connection;
mod convert;
mod error;
mod types;

pub use config::{Config, Limits};
pub use connection::{
    Capabilities, CommandId, Connection, Diagnostic, Event, Greeting, Outcome, State, Stats,
    Transmit, Unsolicited,
};
pub use error::{
    Closed, Error, LimitExceeded, LimitKind, Misbehaviour, Misuse, Refusal, RefusalKind,
    ResponseCode,
};
pub use types::{
    AppendUid, BodyStructure, CopyUid, FetchAttr, FetchedMessage, Flag, InternalDate, ListEntry,
    Mailbox, MailboxStatus, NamespaceEntry, Namespaces, Quota, QuotaResource, QuotaRoots, RawBytes,
    SearchKey, Secret, Section, SelectedMailbox, StatusAttr, StoreMode, Uid, UidRange, UidSet,
    UidValidity,
};
