//! What the connection reports: [`Event`] (the output of `poll_event`), the typed
//! [`Outcome`] of each command, [`Unsolicited`] data, the [`Greeting`], [`Diagnostic`]s and
//! the [`Stats`] counters.
//!
//! Data only: nothing in this file changes the connection.

use super::{Capabilities, CommandId};
use crate::error::{Error, RefusalKind, ResponseCode};
use crate::types::{
    AppendUid, CopyUid, FetchedMessage, Flag, ListEntry, MailboxStatus, Namespaces, QuotaRoots,
    RawBytes, SelectedMailbox, Uid, UidSet,
};

/// Counters for tests and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Times the client had sent everything it could and then had to wait for the server
    /// (flush-then-wait boundaries). A pipelined SEARCH+FETCH costs 1; a synchronising-literal
    /// APPEND costs 2, a LITERAL+ APPEND 1.
    pub round_trips: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// Bytes handed out by `poll_transmit`.
    pub bytes_out: u64,
    /// Commands whose first byte went out (internal NOOPs and IDLE re-issues included).
    pub commands_sent: u64,
    /// Complete server responses processed.
    pub responses: u64,
}

/// The greeting's kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Greeting {
    /// `* OK`: log in next.
    Ok,
    /// `* PREAUTH`: already authenticated.
    PreAuth,
}

/// What a successful command produced.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// OK with nothing to report (NOOP, CREATE, UNSELECT, CLOSE, IDLE, NOTIFY, LOGOUT...).
    Done,
    /// CAPABILITY (also kept in [`Connection::capabilities`](crate::Connection::capabilities)).
    Capabilities(Capabilities),
    /// LOGIN/AUTHENTICATE succeeded. `capabilities_known` tells whether the server sent the
    /// new capabilities along; if not, issue CAPABILITY.
    Authenticated {
        /// Whether [`Connection::capabilities`](crate::Connection::capabilities) is fresh.
        capabilities_known: bool,
    },
    /// STARTTLS accepted: hand the stream to TLS now, then call [`Connection::tls_established`].
    ///
    /// [`Connection::tls_established`]: crate::Connection::tls_established
    UpgradeNow,
    /// SELECT/EXAMINE.
    Selected(SelectedMailbox),
    /// LIST.
    List(Vec<ListEntry>),
    /// NAMESPACE.
    Namespaces(Namespaces),
    /// STATUS.
    Status(MailboxStatus),
    /// APPEND; `None` without UIDPLUS.
    Appended(Option<AppendUid>),
    /// UID SEARCH, ascending.
    Search(Vec<Uid>),
    /// UID FETCH, one entry per UID, ascending.
    Fetch(Vec<FetchedMessage>),
    /// `UID FETCH ... (CHANGEDSINCE n [VANISHED])` (RFC 7162), from
    /// [`Connection::uid_fetch_changed_since`](crate::Connection::uid_fetch_changed_since).
    FetchChanged {
        /// The messages of the set whose MODSEQ is above `n`, one entry per UID, ascending
        /// (`modseq` is set: the server adds MODSEQ to every answer).
        messages: Vec<FetchedMessage>,
        /// The UIDs of the set that the server reported expunged since `n`
        /// (`* VANISHED (EARLIER) ...`), ascending, without repeats. History, not news: these
        /// messages were gone before the command, so no [`Unsolicited::Vanished`] is emitted for
        /// them. May name UIDs the caller never saw (servers that forget expunge mod-sequences
        /// report every expunged UID of the set). Always empty without the VANISHED modifier.
        /// Counted with the messages against [`crate::Limits::max_untagged_per_command`]: beyond
        /// it the command fails with [`crate::LimitKind::UntaggedPerCommand`].
        vanished_earlier: Vec<Uid>,
    },
    /// UID STORE: the new flags per UID (empty for `.SILENT`).
    Store(Vec<(Uid, Vec<Flag>)>),
    /// UID COPY; `None` without UIDPLUS.
    Copied(Option<CopyUid>),
    /// UID MOVE: COPYUID if given, and the UIDs reported gone.
    Moved {
        /// `[COPYUID ...]`
        copy_uid: Option<CopyUid>,
        /// UIDs expunged from the source (those the core could map).
        expunged: Vec<Uid>,
    },
    /// UID EXPUNGE / EXPUNGE: UIDs the core could map, and how many it could not.
    Expunged {
        /// Mapped UIDs.
        uids: Vec<Uid>,
        /// EXPUNGEs for messages whose UID the core never learnt.
        unmapped: u32,
    },
    /// GETQUOTAROOT with every resource of every root.
    QuotaRoots(QuotaRoots),
    /// ENABLE: what the server enabled.
    Enabled(Vec<String>),
}

/// Data the server sent on its own (or that no command claims).
#[derive(Clone, Debug, PartialEq)]
pub enum Unsolicited {
    /// `* n EXISTS` outside SELECT.
    Exists(u32),
    /// `* n RECENT` outside SELECT.
    Recent(u32),
    /// A message was expunged; `uid` is `None` if the core never learnt it.
    Expunged {
        /// The UID, when known.
        uid: Option<Uid>,
    },
    /// `* VANISHED` (QRESYNC).
    Vanished {
        /// The UIDs.
        uids: UidSet,
        /// `(EARLIER)`.
        earlier: bool,
    },
    /// A FETCH nobody asked for: usually a flag change.
    Fetch {
        /// The UID, when known.
        uid: Option<Uid>,
        /// New flags.
        flags: Option<Vec<Flag>>,
        /// MODSEQ.
        modseq: Option<u64>,
    },
    /// `* STATUS` nobody asked for (NOTIFY).
    Status(MailboxStatus),
    /// `* FLAGS` outside SELECT.
    Flags(Vec<Flag>),
    /// `[ALERT]` text: must be shown to a human.
    Alert(String),
    /// An untagged OK/NO/BAD with text (e.g. Courier's stray `* NO Error in IMAP command`).
    Notice {
        /// OK, NO or BAD (OK as `None`).
        refusal: Option<RefusalKind>,
        /// Response code.
        code: Option<ResponseCode>,
        /// Text.
        text: String,
    },
    /// `* BYE`: the server is closing. In-flight commands fail when the stream ends.
    Bye {
        /// Response code.
        code: Option<ResponseCode>,
        /// Text.
        text: String,
    },
    /// Capabilities changed (untagged CAPABILITY or a code).
    CapabilitiesChanged,
}

/// Something the core skipped, with the bytes it discarded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// What was skipped and why.
    pub reason: String,
    /// The discarded bytes.
    pub bytes: RawBytes,
}

/// Output of [`Connection::poll_event`](crate::Connection::poll_event).
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// The greeting arrived.
    Greeting(Greeting),
    /// A command finished.
    Completed {
        /// Its handle.
        id: CommandId,
        /// Outcome or error.
        result: Result<Outcome, Error>,
    },
    /// The server accepted IDLE (`+`): unsolicited events now flow until `idle_done`.
    IdleStarted {
        /// The IDLE command.
        id: CommandId,
    },
    /// Unsolicited data.
    Unsolicited(Unsolicited),
    /// A skipped response.
    Diagnostic(Diagnostic),
    /// The connection failed for good; the same error is sticky.
    Failed(Error),
}
