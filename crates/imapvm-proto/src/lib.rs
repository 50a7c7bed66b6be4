//! A sans-IO IMAP4rev1/rev2 client core on imap-codec: bytes and `now` go in; bytes to send, typed results and timer deadlines come out.
//!
//! **What it does.** [`Connection`] tracks the protocol state (greeting, not authenticated,
//! authenticated, selected, logout), the server's capabilities, tags, synchronising and
//! non-synchronising literals (LITERAL+/LITERAL-; a tagged NO/BAD sent instead of `+`
//! completes the command), pipelining (several commands in flight where RFC 3501/9051 allow
//! it; a cold command's NAMESPACE, SELECT and the commands behind it go behind its password
//! login in one flight, APPEND excepted, and a refused login fails them with its own error),
//! IDLE with automatic re-issue before 29 minutes (and after [`Config::idle_silence`]
//! without input, so a dead peer is noticed), keepalive NOOPs, per-command deadlines,
//! STARTTLS hand-off, AUTHENTICATE PLAIN (with authzid, SASL-IR), OAUTHBEARER and XOAUTH2
//! (OAuth 2 bearer tokens, the server's error challenge answered: [`sasl`]) and LOGIN,
//! NOTIFY (RFC 5465, encoded by hand) and every command the voicemail flows need. Each
//! command returns a [`CommandId`]; its typed [`Outcome`] (or [`Error`]) arrives as
//! [`Event::Completed`].
//! Unsolicited data becomes [`Event::Unsolicited`], with sequence numbers mapped to [`Uid`]s.
//!
//! **Routing untagged data among pipelined commands.** With `ESEARCH` advertised (and
//! [`Config::use_esearch`]), searches go out as `UID SEARCH RETURN (ALL)` and each
//! `* ESEARCH (TAG ..)` is matched by tag, whatever the order; otherwise the n-th `* SEARCH`
//! belongs to the n-th SEARCH in flight (one each, RFC 3501 §7.2.5). An untagged FETCH belongs
//! to a `UID FETCH` only if its UID is in that command's set and it carries an item the
//! command asked for (and to a non-silent `UID STORE` only with FLAGS of its UIDs); a
//! flags-only FETCH must also name its UID, as answers to UID commands do (RFC 3501 §6.4.8);
//! anything
//! else, or a repeat of items already received, is an [`Unsolicited::Fetch`] (a flag change).
//! STATUS goes by mailbox, LIST by pattern, QUOTAROOT by mailbox and QUOTA by root, EXPUNGE
//! and VANISHED to the `UID EXPUNGE`/`UID MOVE` whose set names the UID (or to an `EXPUNGE`).
//! `* VANISHED (EARLIER)` (history, not news) goes into the [`Outcome::FetchChanged`] of the
//! `UID FETCH ... (CHANGEDSINCE n VANISHED)` whose set names it
//! ([`Connection::uid_fetch_changed_since`]); after `ENABLE QRESYNC`
//! ([`Connection::qresync_enabled`]) a plain `* VANISHED` replaces EXPUNGE and moves the
//! sequence numbers the core knows accordingly.
//! Everything the server controls is bounded by [`Limits`]; a literal announced beyond
//! `u32` is a [`LimitKind::LiteralSize`] error like any other too-large literal.
//!
//! **Literal bytes are opaque.** imap-codec's literal grammar excludes NUL, but servers store
//! and return what mail clients APPENDed: a NUL inside a literal is decoded as the stand-in
//! byte 0x1A (SUB), and FETCH section data (`BODY[...]`) from such a literal is handed back
//! with its original bytes, so such a message is neither skipped nor altered. Other strings
//! sent as literals (envelope fields, mailbox names) keep the stand-in. Large section literals
//! (a whole voicemail) are framed in place and never scanned by imap-codec: a fetched message
//! costs one copy of its bytes.
//!
//! **FETCH answers of the usual shapes skip imap-codec.** A `* n FETCH` made only of `UID`,
//! `FLAGS`, `RFC822.SIZE`, `MODSEQ`, `BODY[section]` and `BINARY[part]` items (what this
//! client's listings and plays bring) is read by a small parser that borrows section data
//! from the response and reads echoed header field names once per list; any other shape goes
//! to imap-codec. Where the small parser reads a response, its items are imap-codec's (a
//! property test and the `fetch_fast` fuzz target compare the two).
//!
//! **What it does not do.** No sockets, no tokio, no TLS, no clock reads (time is an
//! `Instant` you pass in), no voicemail semantics, and no sequence numbers in its API.
//!
//! **Driving it** (like quinn-proto): after any `handle_*` call or command, drain
//! [`Connection::poll_transmit`] until `None` (write each [`Transmit`] fully, in order), drain
//! [`Connection::poll_event`], and arm a timer for [`Connection::poll_timeout`] that calls
//! [`Connection::handle_timeout`]. Feed bytes read with [`Connection::handle_input`] and a
//! closed stream with [`Connection::handle_eof`]. `now` is monotonic and never read by the
//! core; each deadline has a name ([`Timer`], [`Connection::deadline`]).
//! [`Connection::stats`] counts round trips. [`Connection`] implements
//! [`imapvm_types::sansio::Core`], so one generic driver runs it, as it runs the AMI core.
//!
//! **Contracts the compiler checks.** [`Event`], [`Outcome`] and [`Unsolicited`] are
//! exhaustive: a new variant breaks the driver's build instead of being dropped by a
//! wildcard. `poll_*` and [`Transmit`] are `#[must_use]`. A fatal error is sticky and comes
//! back as itself ([`Error::is_fatal`] is true for it). [`Connection::new`] rejects a
//! [`Config`] value out of bounds with a [`ConfigError`] naming the field; nothing is
//! repaired silently.
//!
//! ```
//! use imapvm_proto::*;
//! use std::time::Instant;
//!
//! let now = Instant::now(); // the runtime's clock; the core never reads one
//! let mut conn = Connection::new(Config::default(), now)?; // a bad setting is an error
//! let mut wire = Vec::new();
//! let mut pump = |conn: &mut Connection, server: &[u8], wire: &mut Vec<u8>| {
//!     conn.handle_input(server, now);
//!     while let Some(t) = conn.poll_transmit(now) {
//!         wire.extend_from_slice(t.as_bytes());
//!     }
//! };
//!
//! pump(&mut conn, b"* OK [CAPABILITY IMAP4rev1 SASL-IR LITERAL+ AUTH=PLAIN] ready\r\n", &mut wire);
//! let login = conn.authenticate_plain(Some("alice"), "vmmaster", &Secret::new("pw")).unwrap();
//! pump(&mut conn, b"", &mut wire);
//! assert_eq!(wire, b"a1 AUTHENTICATE PLAIN YWxpY2UAdm1tYXN0ZXIAcHc=\r\n");
//!
//! pump(&mut conn, b"a1 OK [CAPABILITY IMAP4rev1 UIDPLUS MOVE IDLE] Logged in\r\n", &mut wire);
//! let select = conn.select(&MailboxName::inbox()).unwrap();
//! let search = conn.uid_search(&[SearchKey::Unseen]).unwrap();
//! let fetch = conn.uid_fetch(&UidRange::All, &[FetchAttr::Flags]).unwrap();
//! wire.clear();
//! pump(&mut conn, b"", &mut wire);
//! // SELECT, SEARCH and FETCH go out together: one round trip.
//! assert_eq!(
//!     wire,
//!     b"a2 SELECT INBOX\r\na3 UID SEARCH UNSEEN\r\na4 UID FETCH 1:* (UID FLAGS)\r\n"
//! );
//! pump(
//!     &mut conn,
//!     b"* 2 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\na2 OK [READ-WRITE] done\r\n\
//!       * SEARCH 12\r\na3 OK done\r\n\
//!       * 1 FETCH (UID 11 FLAGS (\\Seen))\r\n* 2 FETCH (UID 12 FLAGS ())\r\na4 OK done\r\n",
//!     &mut wire,
//! );
//!
//! let mut results = Vec::new();
//! while let Some(event) = conn.poll_event() {
//!     if let Event::Completed { id, result } = event {
//!         results.push((id, result.unwrap()));
//!     }
//! }
//! assert_eq!(results[0].0, login);
//! assert!(matches!(&results[1], (id, Outcome::Selected(s)) if *id == select && s.exists == 2));
//! assert_eq!(results[2], (search, Outcome::Search(vec![Uid::new(12).unwrap()])));
//! let (id, Outcome::Fetch(messages)) = &results[3] else { panic!() };
//! assert_eq!(*id, fetch);
//! assert_eq!(messages[0].uid, Uid::new(11).unwrap());
//! assert_eq!(messages[0].flags, Some(vec![Flag::Seen]));
//! assert_eq!(conn.stats().round_trips, 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

mod config;
mod connection;
mod convert;
mod error;
mod esearch;
mod fetch_items;
mod framing;
mod literals;
pub mod sasl;
mod types;

pub use config::{Config, ConfigError, Limits};
pub use connection::{
    CommandId, Connection, Diagnostic, Event, Greeting, Outcome, State, Stats, Timer, Transmit,
    Unsolicited,
};
pub use error::{
    Closed, Error, LimitExceeded, LimitKind, Misbehaviour, Misuse, Refusal, RefusalKind,
    ResponseCode,
};
#[doc(hidden)]
pub use fetch_items::fetch_fast_path_check;
/// The vocabulary this crate's API names, from `imapvm-types` (so callers need not depend on
/// it themselves).
pub use imapvm_types::{
    Capabilities, Capability, MailboxName, MailboxNameError, SearchKey, Secret, Uid, UidSet,
    UidValidity,
};
pub use sasl::{NoOAuthMechanism, OAuthMechanism};
pub use types::{
    AppendUid, BodyStructure, CopyUid, FetchAttr, FetchedMessage, Flag, InternalDate, ListEntry,
    MailboxStatus, NamespaceEntry, Namespaces, Quota, QuotaResource, QuotaRoots, RawBytes, Section,
    SelectedMailbox, StatusAttr, StoreMode, UidRange,
};
