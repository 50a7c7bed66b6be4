//! The client state machine: commands in, bytes out; bytes in, events out; `now` in, deadlines out.

use crate::config::{Config, MAX_IDLE_REFRESH};
use crate::convert;
use crate::error::{
    Closed, Error, LimitExceeded, LimitKind, Misbehaviour, Misuse, Refusal, RefusalKind,
    ResponseCode,
};
use crate::esearch;
use crate::framing::Framer;
use crate::literals::LiteralPatches;
use crate::types::{
    AppendUid, CopyUid, FetchAttr, FetchedMessage, Flag, ListEntry, Mailbox, MailboxStatus,
    Namespaces, Quota, QuotaResource, QuotaRoots, RawBytes, SearchKey, Secret, Section,
    SelectedMailbox, StatusAttr, StoreMode, Uid, UidRange, UidSet, UidValidity,
};
use imap_codec::decode::Decoder;
use imap_codec::encode::{Encoder, Fragment};
use imap_codec::fragmentizer::FragmentInfo;
use imap_codec::imap_types as t;
use imap_codec::{CommandCodec, GreetingCodec, ResponseCodec};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};
use t::IntoStatic;
use t::command::{Command, CommandBody};
use t::core::{LiteralMode, Vec1};
use t::response::{Code, Data, Response, Status, StatusKind};

/// Handle of one command; every command ends in exactly one [`Event::Completed`] with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CommandId(u64);

/// Protocol state (RFC 3501 §3, plus the STARTTLS hand-off and failure).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Waiting for the server greeting.
    Greeting,
    /// Connected, not logged in.
    NotAuthenticated,
    /// Logged in, no mailbox selected.
    Authenticated,
    /// A mailbox is selected.
    Selected {
        /// EXAMINE, or the server said `[READ-ONLY]`.
        read_only: bool,
    },
    /// STARTTLS succeeded: swap the stream for TLS, then call [`Connection::tls_established`].
    UpgradePending,
    /// LOGOUT completed or the server said BYE.
    Logout,
    /// A fatal error happened (see [`Connection::error`]).
    Failed,
}

impl State {
    fn name(self) -> &'static str {
        match self {
            Self::Greeting => "greeting",
            Self::NotAuthenticated => "not-authenticated",
            Self::Authenticated => "authenticated",
            Self::Selected { .. } => "selected",
            Self::UpgradePending => "upgrade-pending",
            Self::Logout => "logout",
            Self::Failed => "failed",
        }
    }
}

/// The server's capabilities, upper-cased. Dropped (unknown) after STARTTLS and after
/// authentication unless the server sent them along.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Capabilities {
    known: bool,
    set: BTreeSet<String>,
}

impl Capabilities {
    fn from_codec<'x>(caps: impl IntoIterator<Item = &'x t::response::Capability<'x>>) -> Self {
        Self {
            known: true,
            set: caps
                .into_iter()
                .map(|c| c.to_string().to_ascii_uppercase())
                .collect(),
        }
    }

    /// Whether the server told us its capabilities since the last reset.
    pub fn known(&self) -> bool {
        self.known
    }

    /// Whether `name` (e.g. `"IDLE"`, `"AUTH=PLAIN"`) is advertised (case-insensitive).
    pub fn has(&self, name: &str) -> bool {
        self.set.contains(&name.to_ascii_uppercase())
    }

    /// All capabilities, upper-cased, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.set.iter().map(String::as_str)
    }

    /// `LITERAL+`
    pub fn literal_plus(&self) -> bool {
        self.has("LITERAL+")
    }
    /// `LITERAL-`
    pub fn literal_minus(&self) -> bool {
        self.has("LITERAL-")
    }
    /// `SASL-IR`
    pub fn sasl_ir(&self) -> bool {
        self.has("SASL-IR")
    }
    /// `IDLE`
    pub fn idle(&self) -> bool {
        self.has("IDLE")
    }
    /// `UIDPLUS`
    pub fn uidplus(&self) -> bool {
        self.has("UIDPLUS")
    }
    /// `MOVE`
    pub fn move_(&self) -> bool {
        self.has("MOVE")
    }
    /// `NOTIFY`
    pub fn notify(&self) -> bool {
        self.has("NOTIFY")
    }
    /// `LOGINDISABLED`
    pub fn login_disabled(&self) -> bool {
        self.has("LOGINDISABLED")
    }
    /// `STARTTLS`
    pub fn starttls(&self) -> bool {
        self.has("STARTTLS")
    }
    /// `QUOTA`
    pub fn quota(&self) -> bool {
        self.has("QUOTA")
    }
}

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
#[non_exhaustive]
pub enum Outcome {
    /// OK with nothing to report (NOOP, CREATE, UNSELECT, CLOSE, IDLE, NOTIFY, LOGOUT...).
    Done,
    /// CAPABILITY (also kept in [`Connection::capabilities`]).
    Capabilities(Capabilities),
    /// LOGIN/AUTHENTICATE succeeded. `capabilities_known` tells whether the server sent the
    /// new capabilities along; if not, issue CAPABILITY.
    Authenticated {
        /// Whether [`Connection::capabilities`] is fresh.
        capabilities_known: bool,
    },
    /// STARTTLS accepted: hand the stream to TLS now, then call [`Connection::tls_established`].
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
    /// [`Connection::uid_fetch_changed_since`].
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
#[non_exhaustive]
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

/// Output of [`Connection::poll_event`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
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

/// Bytes to write to the server. Literal data is shared with the caller's buffer, not copied.
/// `Debug` shows [`Transmit::trace`], so credentials never reach logs.
#[derive(Clone)]
pub struct Transmit {
    data: TransmitData,
    label: Option<String>,
}

#[derive(Clone, Debug)]
enum TransmitData {
    Owned(Vec<u8>),
    Shared(Arc<[u8]>, usize, usize),
}

impl std::fmt::Debug for Transmit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Transmit").field(&self.trace()).finish()
    }
}

/// Shows sizes only: pieces may carry credentials (LOGIN, AUTHENTICATE).
impl std::fmt::Debug for Piece {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            Self::Shared(d, o) => write!(f, "Shared({} bytes at {o})", d.len()),
            Self::Wait => f.write_str("Wait"),
        }
    }
}

impl Transmit {
    /// The bytes to write, in order, completely.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.data {
            TransmitData::Owned(v) => v,
            TransmitData::Shared(a, s, e) => &a[*s..*e],
        }
    }

    /// A log-safe rendering: credentials of LOGIN/AUTHENTICATE are replaced by `***` and
    /// literal data by its length.
    pub fn trace(&self) -> Cow<'_, str> {
        if let Some(l) = &self.label {
            return Cow::Borrowed(l);
        }
        match &self.data {
            TransmitData::Owned(v) => Cow::Owned(v.escape_ascii().to_string()),
            TransmitData::Shared(_, s, e) => Cow::Owned(format!("<{} literal bytes>", e - s)),
        }
    }
}

#[derive(Clone)]
enum Piece {
    Bytes(Vec<u8>),
    Shared(Arc<[u8]>, usize),
    /// Wait for `+` before the next piece (synchronising literal, AUTHENTICATE without IR).
    Wait,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Capability,
    Noop,
    Logout,
    Login,
    Authenticate,
    StartTls,
    Select,
    Examine,
    Unselect,
    Close,
    List,
    Namespace,
    Status,
    Create,
    Append,
    Search,
    Fetch,
    Store,
    Copy,
    Move,
    UidExpunge,
    Expunge,
    GetQuotaRoot,
    Idle,
    Enable,
    Notify,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Self::Capability => "CAPABILITY",
            Self::Noop => "NOOP",
            Self::Logout => "LOGOUT",
            Self::Login => "LOGIN",
            Self::Authenticate => "AUTHENTICATE",
            Self::StartTls => "STARTTLS",
            Self::Select => "SELECT",
            Self::Examine => "EXAMINE",
            Self::Unselect => "UNSELECT",
            Self::Close => "CLOSE",
            Self::List => "LIST",
            Self::Namespace => "NAMESPACE",
            Self::Status => "STATUS",
            Self::Create => "CREATE",
            Self::Append => "APPEND",
            Self::Search => "UID SEARCH",
            Self::Fetch => "UID FETCH",
            Self::Store => "UID STORE",
            Self::Copy => "UID COPY",
            Self::Move => "UID MOVE",
            Self::UidExpunge => "UID EXPUNGE",
            Self::Expunge => "EXPUNGE",
            Self::GetQuotaRoot => "GETQUOTAROOT",
            Self::Idle => "IDLE",
            Self::Enable => "ENABLE",
            Self::Notify => "NOTIFY",
        }
    }

    /// Nothing else may be in flight when this is sent.
    fn quiet_before(self) -> bool {
        matches!(
            self,
            Self::Login
                | Self::Authenticate
                | Self::StartTls
                | Self::Logout
                | Self::Idle
                | Self::Enable
                | Self::Notify
                | Self::Select
                | Self::Examine
                | Self::Unselect
                | Self::Close
        )
    }

    /// Nothing else may be sent until this completes: its result changes how later commands
    /// are read (capabilities, TLS, state) or the server reads nothing else meanwhile (IDLE).
    fn barrier_after(self) -> bool {
        matches!(
            self,
            Self::Login
                | Self::Authenticate
                | Self::StartTls
                | Self::Logout
                | Self::Idle
                | Self::Enable
                | Self::Notify
        )
    }
}

#[derive(Debug, Default)]
enum Acc {
    #[default]
    None,
    Select(SelectedMailbox),
    List(Vec<ListEntry>),
    Namespace(Namespaces),
    Status(MailboxStatus),
    Search(Vec<Uid>),
    Fetch {
        messages: BTreeMap<Uid, FetchedMessage>,
        /// `* VANISHED (EARLIER)` UIDs (CHANGEDSINCE ... VANISHED only).
        vanished: Vec<Uid>,
    },
    Store(BTreeMap<Uid, Vec<Flag>>),
    Expunge {
        uids: Vec<Uid>,
        unmapped: u32,
        copy_uid: Option<CopyUid>,
    },
    Quota(QuotaRoots),
    Enabled(Vec<String>),
    Copy(Option<CopyUid>),
}

/// What a command asked for, to tell its untagged answers from other commands' and from
/// unsolicited data.
#[derive(Debug, Default)]
struct Route {
    /// UID FETCH / UID STORE: the UIDs addressed.
    uids: Option<UidRange>,
    /// UID FETCH: the items asked for (besides UID).
    items: Vec<FetchAttr>,
    /// UID STORE: `.SILENT` (no FETCH answers expected).
    silent: bool,
    /// LIST: reference and pattern.
    list: Option<(String, String)>,
    /// UID SEARCH: send `RETURN (ALL)` if the server has ESEARCH when the command goes out.
    esearch_wanted: bool,
    /// UID FETCH with CHANGEDSINCE: the outcome is [`Outcome::FetchChanged`].
    changed_since: bool,
    /// UID FETCH with the VANISHED modifier: `* VANISHED (EARLIER)` answers belong to it.
    vanished: bool,
}

#[derive(Debug)]
struct Pending {
    id: CommandId,
    tag: String,
    kind: Kind,
    pieces: VecDeque<Piece>,
    /// Log rendering of the first line when it carries credentials.
    label: Option<String>,
    internal: bool,
    acc: Acc,
    mailbox: Option<Mailbox>,
    route: Route,
}

#[derive(Debug)]
struct InFlight {
    id: CommandId,
    tag: String,
    kind: Kind,
    internal: bool,
    acc: Acc,
    mailbox: Option<Mailbox>,
    deadline: Option<Instant>,
    untagged: u32,
    overflow: bool,
    /// Set while the `+` for a synchronising literal is awaited.
    awaiting_plus: bool,
    route: Route,
    /// Single-answer commands (SEARCH, STATUS, NAMESPACE, GETQUOTAROOT's QUOTAROOT): the answer
    /// arrived, so the next one of its kind belongs to a later command.
    answered: bool,
}

impl InFlight {
    /// Whether this command's UID set (if it has one) names `uid`.
    fn addresses(&self, uid: Uid) -> bool {
        match &self.route.uids {
            None | Some(UidRange::All) => true,
            Some(UidRange::Set(s)) => s.contains(uid),
        }
    }
}

#[derive(Debug)]
struct Sending {
    tag: String,
    pieces: VecDeque<Piece>,
    label: Option<String>,
}

#[derive(Debug)]
struct IdleState {
    id: CommandId,
    tag: String,
    accepted_at: Option<Instant>,
    done_sent: bool,
    /// The caller asked to stop.
    stop: bool,
    /// DONE was sent by the refresh timer; re-issue after the tagged OK.
    refreshing: bool,
}

#[derive(Debug, Default)]
struct MailboxView {
    exists: u32,
    /// Known sequence number -> UID pairs (only seqs <= exists).
    uids: BTreeMap<u32, Uid>,
}

impl MailboxView {
    fn expunge(&mut self, seq: u32) -> Option<Uid> {
        let mut tail = self.uids.split_off(&seq);
        let uid = tail.remove(&seq);
        for (k, v) in tail {
            self.uids.insert(k - 1, v);
        }
        self.exists = self.exists.saturating_sub(1);
        uid
    }

    /// Removes the messages of a `* VANISHED uids` (not EARLIER). With `all_existed` (QRESYNC
    /// enabled: VANISHED replaces EXPUNGE and names only messages that existed, RFC 7162
    /// §3.2.10) every UID counts, known or not: the count drops by the set's size and each
    /// known sequence number drops by the number of vanished UIDs below its UID (sequence
    /// numbers ascend with UIDs). Without it only the UIDs the view knows count, as with
    /// EXPUNGE. O((view + ranges) · log ranges).
    fn vanish(&mut self, set: &UidSet, all_existed: bool) {
        let mut ranges: Vec<(u32, u32)> = set
            .ranges()
            .iter()
            .map(|(a, b)| (a.get(), b.get()))
            .collect();
        ranges.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(ranges.len());
        for (a, b) in ranges {
            match merged.last_mut() {
                Some((_, hi)) if a <= hi.saturating_add(1) => *hi = (*hi).max(b),
                _ => merged.push((a, b)),
            }
        }
        // below[i]: how many UIDs the ranges before i hold.
        let mut below = Vec::with_capacity(merged.len() + 1);
        below.push(0u64);
        for (a, b) in &merged {
            let last = below.last().copied().unwrap_or(0);
            below.push(last + u64::from(b - a) + 1);
        }
        let old = std::mem::take(&mut self.uids);
        let mut known = 0u64;
        for (seq, uid) in old {
            let u = uid.get();
            let n = merged.partition_point(|(a, _)| *a <= u);
            let member = n
                .checked_sub(1)
                .and_then(|i| merged.get(i))
                .is_some_and(|(_, b)| *b >= u);
            if member {
                known += 1;
                continue;
            }
            let shift = if all_existed {
                below.get(n).copied().unwrap_or(0)
            } else {
                known
            };
            if let Some(s) = u64::from(seq).checked_sub(shift).filter(|s| *s >= 1)
                && let Ok(s) = u32::try_from(s)
            {
                self.uids.insert(s, uid);
            }
        }
        let gone = if all_existed {
            below.last().copied().unwrap_or(0)
        } else {
            known
        };
        self.exists = self
            .exists
            .saturating_sub(u32::try_from(gone).unwrap_or(u32::MAX));
    }

    fn learn(&mut self, seq: u32, uid: Uid) {
        if seq <= self.exists {
            self.uids.insert(seq, uid);
        }
    }
}

/// A sans-IO IMAP client connection.
///
/// Drive it like quinn-proto: after any input ([`handle_input`](Self::handle_input),
/// [`handle_eof`](Self::handle_eof), [`handle_timeout`](Self::handle_timeout)) or command,
/// drain [`poll_transmit`](Self::poll_transmit) until `None` (write each piece completely,
/// in order), drain [`poll_event`](Self::poll_event), and re-arm the timer from
/// [`poll_timeout`](Self::poll_timeout).
#[derive(Debug)]
pub struct Connection {
    config: Config,
    state: State,
    caps: Capabilities,
    /// Extensions the server reported `* ENABLED` (RFC 5161), upper-cased. They last for the
    /// whole connection.
    enabled: BTreeSet<String>,
    error: Option<Error>,
    next_id: u64,
    next_tag: u64,
    pending: VecDeque<Pending>,
    in_flight: Vec<InFlight>,
    sending: Option<Sending>,
    urgent: VecDeque<Vec<u8>>,
    events: VecDeque<Event>,
    idle: Option<IdleState>,
    mailbox: MailboxView,
    bye: Option<(Option<ResponseCode>, String)>,
    stats: Stats,
    sent_since_wait: bool,
    // inbound framing
    framer: Framer,
    enqueued: u64,
    framed: u64,
    message_len: u64,
    in_literal: bool,
    /// Literals of the current response not decoded as they are (NUL-bearing, large sections).
    literals: LiteralPatches,
    // time
    greeting_deadline: Option<Instant>,
    /// Last byte in or out (keepalive).
    last_io: Instant,
    /// Last byte in (IDLE liveness, [`Config::idle_silence`]).
    last_input: Instant,
    /// Projected state after the queued commands (for misuse checks).
    projected: State,
}

fn to_static_err(m: Misuse) -> Error {
    Error::Misuse(m)
}

impl Connection {
    /// A new connection that waits for the server greeting (deadline `now + greeting_timeout`).
    pub fn new(mut config: Config, now: Instant) -> Self {
        if config.idle_refresh > MAX_IDLE_REFRESH {
            config.idle_refresh = MAX_IDLE_REFRESH;
        }
        if config.transmit_chunk == 0 {
            config.transmit_chunk = 64 * 1024;
        }
        config.idle_silence = config.idle_silence.filter(|d| !d.is_zero());
        if config.tag_prefix.is_empty()
            || !config.tag_prefix.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            config.tag_prefix = "a".to_owned();
        }
        Self {
            greeting_deadline: Some(now + config.greeting_timeout),
            config,
            state: State::Greeting,
            caps: Capabilities::default(),
            enabled: BTreeSet::new(),
            error: None,
            next_id: 0,
            next_tag: 1,
            pending: VecDeque::new(),
            in_flight: Vec::new(),
            sending: None,
            urgent: VecDeque::new(),
            events: VecDeque::new(),
            idle: None,
            mailbox: MailboxView::default(),
            bye: None,
            stats: Stats::default(),
            sent_since_wait: false,
            framer: Framer::new(),
            enqueued: 0,
            framed: 0,
            message_len: 0,
            in_literal: false,
            literals: LiteralPatches::default(),
            last_io: now,
            last_input: now,
            projected: State::Greeting,
        }
    }

    // ------------------------------------------------------------------ getters

    /// The current protocol state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The server's capabilities as last reported.
    pub fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// Whether the server reported `capability` (e.g. `"QRESYNC"`, any case) as `* ENABLED`
    /// in answer to [`enable`](Self::enable). Enabled extensions last for the connection.
    pub fn is_enabled(&self, capability: &str) -> bool {
        self.enabled.contains(&capability.to_ascii_uppercase())
    }

    /// Whether `ENABLE QRESYNC` succeeded (RFC 7162 §3.2.3). Then the server reports expunges
    /// as `* VANISHED uids` instead of `* n EXPUNGE` (the core keeps its sequence-number view
    /// right either way), and [`uid_fetch_changed_since`](Self::uid_fetch_changed_since) may
    /// ask for VANISHED.
    pub fn qresync_enabled(&self) -> bool {
        self.is_enabled("QRESYNC")
    }

    /// Whether CONDSTORE was enabled with `ENABLE CONDSTORE` or `ENABLE QRESYNC` (which
    /// implies it, RFC 7162 §3.2.3). Then every FETCH the server sends carries MODSEQ.
    pub fn condstore_enabled(&self) -> bool {
        self.is_enabled("CONDSTORE") || self.qresync_enabled()
    }

    /// Counters (round trips, bytes, commands).
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The sticky fatal error, if the connection failed.
    pub fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }

    /// Whether nothing is queued, in flight or waiting to be written.
    pub fn is_idle(&self) -> bool {
        self.pending.is_empty()
            && self.in_flight.is_empty()
            && self.sending.is_none()
            && self.urgent.is_empty()
    }

    /// The selected mailbox's message count as last reported (EXISTS minus EXPUNGEs).
    pub fn exists(&self) -> Option<u32> {
        matches!(self.state, State::Selected { .. }).then_some(self.mailbox.exists)
    }

    // ------------------------------------------------------------------ outputs

    /// The next bytes to write, or `None` when the core must wait for the server.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Transmit> {
        let out = self.next_transmit(now);
        match &out {
            Some(t) => {
                self.stats.bytes_out += t.as_bytes().len() as u64;
                self.last_io = now;
                self.sent_since_wait = true;
            }
            None => {
                if self.sent_since_wait && !self.in_flight.is_empty() {
                    self.stats.round_trips += 1;
                }
                self.sent_since_wait = false;
            }
        }
        out
    }

    fn next_transmit(&mut self, now: Instant) -> Option<Transmit> {
        if matches!(self.state, State::Failed | State::UpgradePending) {
            return None;
        }
        if let Some(bytes) = self.urgent.pop_front() {
            return Some(Transmit {
                data: TransmitData::Owned(bytes),
                label: None,
            });
        }
        loop {
            if let Some(sending) = &mut self.sending {
                let tag = sending.tag.clone();
                let chunk = self.config.transmit_chunk;
                let Some(piece) = sending.pieces.front_mut() else {
                    self.sending = None;
                    continue;
                };
                let label = sending.label.clone();
                let out = match piece {
                    Piece::Wait => {
                        if let Some(f) = self.in_flight.iter_mut().find(|f| f.tag == tag) {
                            f.awaiting_plus = true;
                        }
                        return None;
                    }
                    Piece::Bytes(b) => {
                        let b = std::mem::take(b);
                        sending.pieces.pop_front();
                        Transmit {
                            data: TransmitData::Owned(b),
                            label,
                        }
                    }
                    Piece::Shared(data, offset) => {
                        let start = *offset;
                        let end = (start + chunk).min(data.len());
                        let data = Arc::clone(data);
                        *offset = end;
                        if end >= data.len() {
                            sending.pieces.pop_front();
                        }
                        Transmit {
                            data: TransmitData::Shared(data, start, end),
                            label: None,
                        }
                    }
                };
                if sending.pieces.is_empty() {
                    self.sending = None;
                }
                let deadline = now + self.config.command_timeout;
                if let Some(f) = self.in_flight.iter_mut().find(|f| f.tag == tag) {
                    f.deadline = Some(deadline);
                }
                return Some(out);
            }
            // Start the next command if the pipelining rules allow it.
            let next = self.pending.front()?;
            if !matches!(
                self.state,
                State::NotAuthenticated | State::Authenticated | State::Selected { .. }
            ) {
                return None;
            }
            if self.in_flight.iter().any(|f| f.kind.barrier_after()) {
                return None;
            }
            if next.kind.quiet_before() && !self.in_flight.is_empty() {
                return None;
            }
            let mut p = self.pending.pop_front()?;
            if p.kind == Kind::Search
                && p.route.esearch_wanted
                && self.config.use_esearch
                && self.caps.has("ESEARCH")
            {
                add_return_all(&mut p.pieces, &p.tag);
            }
            if matches!(p.kind, Kind::Select | Kind::Examine) {
                self.mailbox = MailboxView::default();
            }
            if p.kind == Kind::Idle
                && let Some(idle) = &mut self.idle
            {
                idle.tag = p.tag.clone();
                idle.accepted_at = None;
                idle.done_sent = false;
            }
            self.stats.commands_sent += 1;
            self.in_flight.push(InFlight {
                id: p.id,
                tag: p.tag.clone(),
                kind: p.kind,
                internal: p.internal,
                acc: p.acc,
                mailbox: p.mailbox,
                deadline: Some(now + self.config.command_timeout),
                untagged: 0,
                overflow: false,
                awaiting_plus: false,
                route: p.route,
                answered: false,
            });
            self.sending = Some(Sending {
                tag: p.tag,
                pieces: p.pieces,
                label: p.label,
            });
        }
    }

    /// The next event (completions, unsolicited data, diagnostics, failure).
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if matches!(self.state, State::Failed | State::Logout) {
            return None;
        }
        let mut t: Option<Instant> = self.greeting_deadline;
        let mut consider = |x: Option<Instant>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |t| t.min(x)));
            }
        };
        for f in &self.in_flight {
            consider(f.deadline);
        }
        consider(self.idle_reissue_due());
        if let Some(k) = self.keepalive_due() {
            consider(Some(k));
        }
        t
    }

    /// When the running IDLE (accepted, DONE not sent) must be ended and re-issued: at the
    /// refresh, or earlier after [`Config::idle_silence`] without input.
    fn idle_reissue_due(&self) -> Option<Instant> {
        let idle = self.idle.as_ref()?;
        let at = idle.accepted_at.filter(|_| !idle.done_sent)?;
        let refresh = at + self.config.idle_refresh;
        Some(match self.config.idle_silence {
            Some(silence) => refresh.min(self.last_input.max(at) + silence),
            None => refresh,
        })
    }

    fn keepalive_due(&self) -> Option<Instant> {
        let k = self.config.keepalive?;
        let ok_state = matches!(self.state, State::Authenticated | State::Selected { .. });
        (ok_state && self.is_idle() && self.idle.is_none()).then_some(self.last_io + k)
    }

    // ------------------------------------------------------------------ inputs

    /// Time passed: fail commands past their deadline, refresh IDLE (every `idle_refresh`, or
    /// after `idle_silence` without input), send keepalive NOOPs.
    pub fn handle_timeout(&mut self, now: Instant) {
        if matches!(self.state, State::Failed | State::Logout) {
            return;
        }
        if let Some(d) = self.greeting_deadline
            && now >= d
        {
            self.fail(Error::Timeout {
                waiting_for: "greeting".into(),
            });
            return;
        }
        if let Some(f) = self
            .in_flight
            .iter()
            .find(|f| f.deadline.is_some_and(|d| now >= d))
        {
            let what = f.kind.name().to_owned();
            self.fail(Error::Timeout { waiting_for: what });
            return;
        }
        if self.idle_reissue_due().is_some_and(|due| now >= due)
            && let Some(idle) = &mut self.idle
        {
            idle.done_sent = true;
            idle.refreshing = true;
            let tag = idle.tag.clone();
            self.urgent.push_back(b"DONE\r\n".to_vec());
            self.set_deadline(&tag, now);
        }
        if self.keepalive_due().is_some_and(|k| now >= k) {
            self.enqueue_internal_noop();
        }
    }

    fn set_deadline(&mut self, tag: &str, now: Instant) {
        let d = now + self.config.command_timeout;
        if let Some(f) = self.in_flight.iter_mut().find(|f| f.tag == tag) {
            f.deadline = Some(d);
        }
    }

    fn enqueue_internal_noop(&mut self) {
        let id = self.alloc_id();
        let tag = self.alloc_tag();
        let line = format!("{tag} NOOP\r\n").into_bytes();
        self.pending.push_back(Pending {
            id,
            tag,
            kind: Kind::Noop,
            pieces: VecDeque::from([Piece::Bytes(line)]),
            label: None,
            internal: true,
            acc: Acc::None,
            mailbox: None,
            route: Route::default(),
        });
    }

    /// The stream ended (read returned 0). In-flight commands fail; after LOGOUT this is normal.
    pub fn handle_eof(&mut self) {
        match self.state {
            State::Failed => {}
            State::Logout => {
                // LOGOUT's tagged OK may be missing (server closed right after BYE).
                if let Some(pos) = self.in_flight.iter().position(|f| f.kind == Kind::Logout) {
                    let f = self.in_flight.remove(pos);
                    self.events.push_back(Event::Completed {
                        id: f.id,
                        result: Ok(Outcome::Done),
                    });
                }
                let err = Error::Closed(Closed::LoggedOut);
                self.abort_all(&err);
            }
            _ => {
                if self.in_flight.iter().any(|f| f.kind == Kind::Logout) && self.bye.is_some() {
                    self.state = State::Logout;
                    self.handle_eof();
                    return;
                }
                let err = match self.bye.take() {
                    Some((code, text)) => Error::Closed(Closed::Bye { code, text }),
                    None => Error::Closed(Closed::Eof {
                        inside_literal: self.in_literal,
                        inside_line: !self.in_literal && self.enqueued > self.framed,
                    }),
                };
                self.fail(err);
            }
        }
    }

    /// Bytes read from the server.
    pub fn handle_input(&mut self, bytes: &[u8], now: Instant) {
        if matches!(self.state, State::Failed) || bytes.is_empty() {
            return;
        }
        if self.state == State::UpgradePending {
            self.fail(Error::Misbehaviour(Misbehaviour::new(
                "plaintext data after STARTTLS OK (possible injection)",
                bytes,
            )));
            return;
        }
        self.stats.bytes_in += bytes.len() as u64;
        self.last_io = now;
        self.last_input = now;
        self.framer.enqueue_bytes(bytes);
        self.enqueued += bytes.len() as u64;
        let limits = self.config.limits.clone();
        loop {
            let Some(info) = self.framer.progress() else {
                let partial = self.enqueued - self.framed;
                if !self.in_literal && partial > u64::from(limits.max_line) {
                    self.fail_limit(LimitKind::LineLength, partial, limits.max_line.into());
                } else if self.message_len + partial > u64::from(limits.max_response) {
                    self.fail_limit(
                        LimitKind::ResponseSize,
                        self.message_len + partial,
                        limits.max_response.into(),
                    );
                }
                return;
            };
            let len = info.range().len() as u64;
            self.framed += len;
            self.message_len += len;
            match info {
                FragmentInfo::Line {
                    start,
                    announcement,
                    ..
                } => {
                    self.literals.on_line(
                        start,
                        self.framer.fragment_bytes(info),
                        announcement.map(|a| a.length),
                    );
                    if len > u64::from(limits.max_line) {
                        self.fail_limit(LimitKind::LineLength, len, limits.max_line.into());
                        return;
                    }
                    if let Some(a) = announcement {
                        if a.length > limits.max_literal {
                            self.fail_limit(
                                LimitKind::LiteralSize,
                                a.length.into(),
                                limits.max_literal.into(),
                            );
                            return;
                        }
                        self.in_literal = true;
                    } else if let Some(announced) =
                        overflowing_announcement(self.framer.fragment_bytes(info))
                    {
                        // The framing gave up on a length beyond u32 and saw a plain line.
                        self.fail_limit(
                            LimitKind::LiteralSize,
                            announced,
                            limits.max_literal.into(),
                        );
                        return;
                    }
                }
                FragmentInfo::Literal { start, .. } => {
                    self.in_literal = false;
                    self.literals
                        .on_literal(start, self.framer.fragment_bytes(info));
                }
            }
            if self.message_len > u64::from(limits.max_response) {
                self.fail_limit(
                    LimitKind::ResponseSize,
                    self.message_len,
                    limits.max_response.into(),
                );
                return;
            }
            if self.framer.is_message_complete() {
                self.message_len = 0;
                self.stats.responses += 1;
                let framer = std::mem::take(&mut self.framer);
                self.process_message(framer.message_bytes(), now);
                self.framer = framer;
                if self.state == State::Failed {
                    return;
                }
                if self.state == State::UpgradePending && self.enqueued > self.framed {
                    self.fail(Error::Misbehaviour(Misbehaviour::new(
                        "plaintext data after STARTTLS OK (possible injection)",
                        b"",
                    )));
                    return;
                }
            }
        }
    }

    fn fail_limit(&mut self, kind: LimitKind, actual: u64, max: u64) {
        self.fail(Error::Limit(LimitExceeded { kind, actual, max }));
    }

    /// The runtime finished the TLS handshake after [`Outcome::UpgradeNow`]: capabilities are
    /// forgotten (ask again with CAPABILITY) and commands flow over the new stream.
    pub fn tls_established(&mut self) -> Result<(), Error> {
        if self.state != State::UpgradePending {
            return Err(Misuse::NoUpgradePending.into());
        }
        self.state = State::NotAuthenticated;
        self.caps = Capabilities::default();
        self.framer = Framer::new();
        self.framed = self.enqueued;
        self.message_len = 0;
        self.in_literal = false;
        self.literals.clear();
        Ok(())
    }

    // ------------------------------------------------------------------ response handling

    /// Decodes one framed response. imap-codec's literal grammar is CHAR8 (no NUL), but
    /// servers pass message bytes through opaquely, and large FETCH section data need not go
    /// through imap-codec byte by byte: such literals are patched in a copy that is decoded
    /// (NUL swapped for a stand-in, large section data elided), and FETCH section data taken
    /// from them gets its original bytes back (`crate::literals`). `bytes` (the original) is
    /// what diagnostics and errors show.
    fn process_message(&mut self, bytes: &[u8], now: Instant) {
        match self.literals.patched(bytes) {
            None => self.decode_message(bytes, bytes, now),
            Some(patched) => {
                self.literals.decoding(&patched);
                self.decode_message(&patched, bytes, now);
            }
        }
        self.literals.clear();
    }

    fn decode_message(&mut self, decoded: &[u8], bytes: &[u8], now: Instant) {
        if self.state == State::Greeting {
            match GreetingCodec::default().decode(decoded) {
                Ok((&[], g)) => self.on_greeting(g),
                _ => self.fail(Error::Misbehaviour(Misbehaviour::new(
                    "undecodable greeting",
                    bytes,
                ))),
            }
            return;
        }
        if esearch::is_esearch(decoded) {
            self.on_esearch(decoded);
            return;
        }
        match ResponseCodec::default().decode(decoded) {
            Ok((&[], resp)) => self.on_response(resp, bytes, now),
            _ => {
                if bytes.starts_with(b"* ") {
                    self.events.push_back(Event::Diagnostic(Diagnostic {
                        reason: "undecodable untagged response skipped".into(),
                        bytes: RawBytes(bytes.to_vec()),
                    }));
                } else {
                    self.fail(Error::Misbehaviour(Misbehaviour::new(
                        "undecodable tagged or continuation response",
                        bytes,
                    )));
                }
            }
        }
    }

    fn on_greeting(&mut self, g: t::response::Greeting<'_>) {
        self.greeting_deadline = None;
        if let Some(Code::Capability(c)) = &g.code {
            self.caps = Capabilities::from_codec(c.as_ref());
        }
        match g.kind {
            t::response::GreetingKind::Ok => {
                self.state = State::NotAuthenticated;
                self.events.push_back(Event::Greeting(Greeting::Ok));
            }
            t::response::GreetingKind::PreAuth => {
                self.state = State::Authenticated;
                self.events.push_back(Event::Greeting(Greeting::PreAuth));
            }
            t::response::GreetingKind::Bye => {
                let code = g.code.as_ref().map(convert::code_from_wire);
                self.fail(Error::Closed(Closed::Bye {
                    code,
                    text: g.text.to_string(),
                }));
            }
        }
        if self.projected == State::Greeting {
            self.projected = self.state;
        }
    }

    fn on_response(&mut self, resp: Response<'_>, bytes: &[u8], now: Instant) {
        match resp {
            Response::CommandContinuationRequest(_) => self.on_continuation(bytes, now),
            Response::Status(Status::Tagged(tagged)) => self.on_tagged(tagged, bytes),
            Response::Status(Status::Untagged(body)) => self.on_untagged_status(body),
            Response::Status(Status::Bye(bye)) => {
                let code = bye.code.as_ref().map(convert::code_from_wire);
                let text = bye.text.to_string();
                self.bye = Some((code.clone(), text.clone()));
                self.events
                    .push_back(Event::Unsolicited(Unsolicited::Bye { code, text }));
            }
            Response::Data(d) => self.on_data(d, bytes),
        }
    }

    fn on_continuation(&mut self, bytes: &[u8], now: Instant) {
        if let Some(s) = &mut self.sending
            && matches!(s.pieces.front(), Some(Piece::Wait))
        {
            s.pieces.pop_front();
            let tag = s.tag.clone();
            if let Some(f) = self.in_flight.iter_mut().find(|f| f.tag == tag) {
                f.awaiting_plus = false;
            }
            self.set_deadline(&tag, now);
            return;
        }
        if let Some(idle) = &mut self.idle
            && idle.accepted_at.is_none()
            && self.in_flight.iter().any(|f| f.tag == idle.tag)
        {
            idle.accepted_at = Some(now);
            let (id, tag, stop, refreshing) =
                (idle.id, idle.tag.clone(), idle.stop, idle.refreshing);
            if let Some(f) = self.in_flight.iter_mut().find(|f| f.tag == tag) {
                f.deadline = None;
            }
            if stop {
                idle.done_sent = true;
                self.urgent.push_back(b"DONE\r\n".to_vec());
                self.set_deadline(&tag, now);
            } else if !refreshing {
                self.events.push_back(Event::IdleStarted { id });
            }
            if let Some(idle) = &mut self.idle {
                idle.refreshing = false;
            }
            return;
        }
        self.fail(Error::Misbehaviour(Misbehaviour::new(
            "continuation request nobody asked for",
            bytes,
        )));
    }

    fn route(&mut self, pred: impl Fn(&InFlight) -> bool) -> Option<usize> {
        let max = self.config.limits.max_untagged_per_command;
        let idx = self.in_flight.iter().position(pred)?;
        let f = &mut self.in_flight[idx];
        // Saturating: an ESEARCH may already have counted up to u32::MAX (found by fuzzing).
        f.untagged = f.untagged.saturating_add(1);
        if f.untagged > max {
            f.overflow = true;
            f.acc = Acc::None;
            return None;
        }
        Some(idx)
    }

    fn route_or_drop(&mut self, pred: impl Fn(&InFlight) -> bool) -> (bool, Option<usize>) {
        let claimed = self.in_flight.iter().any(&pred);
        (claimed, self.route(pred))
    }

    fn on_untagged_status(&mut self, body: t::response::StatusBody<'_>) {
        let text = body.text.to_string();
        let mut handled = false;
        if let Some(code) = &body.code {
            handled = true;
            match code {
                Code::Capability(c) => {
                    self.caps = Capabilities::from_codec(c.as_ref());
                    self.events
                        .push_back(Event::Unsolicited(Unsolicited::CapabilitiesChanged));
                }
                Code::Alert => self
                    .events
                    .push_back(Event::Unsolicited(Unsolicited::Alert(text.clone()))),
                Code::UidValidity(v) => {
                    if let Some(sel) = self.select_acc() {
                        sel.uid_validity = Some(UidValidity::from_nz(*v));
                    }
                }
                Code::UidNext(v) => {
                    if let Some(sel) = self.select_acc() {
                        sel.uid_next = Some(Uid::from_nz(*v));
                    }
                }
                Code::PermanentFlags(flags) => {
                    if let Some(sel) = self.select_acc() {
                        sel.permanent_flags = flags.iter().map(convert::flag_from_perm).collect();
                    }
                }
                Code::HighestModSeq(v) => {
                    if let Some(sel) = self.select_acc() {
                        sel.highest_modseq = Some(v.get());
                    }
                }
                Code::CopyUid {
                    uid_validity,
                    source,
                    destination,
                } => {
                    let cu = match (
                        convert::uidset_from_codec(source),
                        convert::uidset_from_codec(destination),
                    ) {
                        (Some(source), Some(destination)) => Some(CopyUid {
                            uid_validity: UidValidity::from_nz(*uid_validity),
                            source,
                            destination,
                        }),
                        _ => None,
                    };
                    if let Some(f) = self
                        .in_flight
                        .iter_mut()
                        .find(|f| matches!(f.kind, Kind::Move | Kind::Copy))
                    {
                        match &mut f.acc {
                            Acc::Expunge { copy_uid, .. } => *copy_uid = cu,
                            Acc::Copy(c) => *c = cu,
                            _ => {}
                        }
                    }
                }
                // Informational codes (UNSEEN carries a sequence number: never exposed).
                Code::Unseen(_) | Code::Closed | Code::ReadOnly | Code::ReadWrite => {}
                _ => handled = false,
            }
        }
        if body.kind != StatusKind::Ok || !handled && !matches!(body.code, Some(Code::Alert)) {
            let refusal = match body.kind {
                StatusKind::Ok => None,
                StatusKind::No => Some(RefusalKind::No),
                StatusKind::Bad => Some(RefusalKind::Bad),
            };
            if refusal.is_some() || !handled {
                self.events
                    .push_back(Event::Unsolicited(Unsolicited::Notice {
                        refusal,
                        code: body.code.as_ref().map(convert::code_from_wire),
                        text,
                    }));
            }
        }
    }

    fn select_acc(&mut self) -> Option<&mut SelectedMailbox> {
        self.in_flight.iter_mut().find_map(|f| match &mut f.acc {
            Acc::Select(s) => Some(s),
            _ => None,
        })
    }

    fn on_data(&mut self, d: Data<'_>, bytes: &[u8]) {
        match d {
            Data::Capability(c) => {
                self.caps = Capabilities::from_codec(c.as_ref());
                self.events
                    .push_back(Event::Unsolicited(Unsolicited::CapabilitiesChanged));
            }
            Data::List {
                items,
                delimiter,
                mailbox,
            } => {
                let entry = ListEntry {
                    mailbox: convert::mailbox_from_wire(&mailbox),
                    delimiter: delimiter.map(|d| d.inner()),
                    attributes: items.iter().map(|a| a.to_string()).collect(),
                };
                let target = self.list_target(&entry);
                match self.route_or_drop(|f| f.tag == target) {
                    (_, Some(i)) => {
                        if let Acc::List(v) = &mut self.in_flight[i].acc {
                            v.push(entry);
                        }
                    }
                    (true, None) => {}
                    (false, _) => self.diagnostic("LIST nobody asked for", bytes),
                }
            }
            Data::Status { mailbox, items } => {
                let mb = convert::mailbox_from_wire(&mailbox);
                let st = convert::status_items(mb.clone(), &items);
                let same = |a: &Option<Mailbox>| {
                    a.as_ref()
                        .is_some_and(|a| a == &mb || (a.is_inbox() && mb.is_inbox()))
                };
                let unanswered = self
                    .in_flight
                    .iter()
                    .any(|f| f.kind == Kind::Status && same(&f.mailbox) && !f.answered);
                let pred = |f: &InFlight| {
                    f.kind == Kind::Status && same(&f.mailbox) && (!f.answered || !unanswered)
                };
                match self.route_or_drop(pred) {
                    (_, Some(i)) => {
                        self.in_flight[i].answered = true;
                        self.in_flight[i].acc = Acc::Status(st);
                    }
                    (true, None) => {}
                    (false, _) => self
                        .events
                        .push_back(Event::Unsolicited(Unsolicited::Status(st))),
                }
            }
            Data::Search(uids, ..) => {
                // One `* SEARCH` per command (RFC 3501 7.2.5): the oldest SEARCH still without
                // one gets it. A lone SEARCH in flight also takes a split answer.
                let searches = self.in_flight.iter().filter(|f| f.kind == Kind::Search);
                let lone = searches.count() == 1;
                let pred = |f: &InFlight| f.kind == Kind::Search && (!f.answered || lone);
                let max = u64::from(self.config.limits.max_untagged_per_command);
                match self.route_or_drop(pred) {
                    (_, Some(i)) => {
                        // Every UID counts, across all the command's responses (split answers
                        // to a lone SEARCH included), as with ESEARCH and VANISHED; `route`
                        // counted this response as one, which an empty answer keeps, so a flood
                        // of empty answers stays bounded too.
                        let f = &mut self.in_flight[i];
                        f.answered = true;
                        let n = u64::try_from(uids.len()).unwrap_or(u64::MAX).max(1);
                        let total = u64::from(f.untagged).saturating_sub(1).saturating_add(n);
                        f.untagged = u32::try_from(total).unwrap_or(u32::MAX);
                        if total > max {
                            f.overflow = true;
                            f.acc = Acc::None;
                        } else if let Acc::Search(v) = &mut f.acc {
                            v.extend(uids.into_iter().map(Uid::from_nz));
                        }
                    }
                    (true, None) => {}
                    (false, _) => {
                        let reason = if self.in_flight.iter().any(|f| f.kind == Kind::Search) {
                            "surplus SEARCH response (every SEARCH in flight has its answer)"
                        } else {
                            "SEARCH nobody asked for"
                        };
                        self.diagnostic(reason, bytes);
                    }
                }
            }
            Data::Flags(flags) => {
                let flags: Vec<Flag> = flags
                    .iter()
                    .map(|f| Flag::from_wire(&f.to_string()))
                    .collect();
                match self.select_acc() {
                    Some(sel) => sel.flags = flags,
                    None => self
                        .events
                        .push_back(Event::Unsolicited(Unsolicited::Flags(flags))),
                }
            }
            Data::Exists(n) => {
                self.mailbox.exists = n;
                self.mailbox.uids.retain(|k, _| *k <= n);
                match self.select_acc() {
                    Some(sel) => sel.exists = n,
                    None => self
                        .events
                        .push_back(Event::Unsolicited(Unsolicited::Exists(n))),
                }
            }
            Data::Recent(n) => match self.select_acc() {
                Some(sel) => sel.recent = n,
                None => self
                    .events
                    .push_back(Event::Unsolicited(Unsolicited::Recent(n))),
            },
            Data::Expunge(seq) => {
                let uid = self.mailbox.expunge(seq.get());
                // EXPUNGE/CLOSE remove any \Deleted message; UID EXPUNGE and UID MOVE only
                // their own UIDs: another client's expunge meanwhile is unsolicited.
                let expunging = |f: &InFlight| match f.kind {
                    Kind::Expunge | Kind::Close => true,
                    Kind::UidExpunge | Kind::Move => uid.is_none_or(|u| f.addresses(u)),
                    _ => false,
                };
                match self.route_or_drop(expunging) {
                    (_, Some(i)) => {
                        if let Acc::Expunge { uids, unmapped, .. } = &mut self.in_flight[i].acc {
                            match uid {
                                Some(u) => uids.push(u),
                                None => *unmapped += 1,
                            }
                        }
                    }
                    (true, None) => {}
                    (false, _) => self
                        .events
                        .push_back(Event::Unsolicited(Unsolicited::Expunged { uid })),
                }
            }
            Data::Vanished {
                earlier,
                known_uids,
            } => {
                let Some(set) = convert::uidset_from_sequence_set(&known_uids) else {
                    self.diagnostic("VANISHED without usable UIDs", bytes);
                    return;
                };
                let first = set.iter().next();
                if earlier {
                    // History (RFC 7162 §3.2.10): the messages were gone before; sequence
                    // numbers do not change. The answer of a UID FETCH (VANISHED) whose set
                    // names them.
                    let pos = self.in_flight.iter().position(|f| {
                        f.kind == Kind::Fetch
                            && f.route.vanished
                            && first.is_none_or(|u| f.addresses(u))
                    });
                    if let Some(i) = pos {
                        self.vanished_earlier(i, &set);
                        return;
                    }
                } else {
                    let all_existed = self.qresync_enabled();
                    self.mailbox.vanish(&set, all_existed);
                }
                let max = u64::from(self.config.limits.max_untagged_per_command);
                let pred = |f: &InFlight| {
                    // With QRESYNC, EXPUNGE answers come as VANISHED: routed like EXPUNGE.
                    !earlier
                        && match f.kind {
                            Kind::Expunge | Kind::Close => true,
                            Kind::UidExpunge | Kind::Move => first.is_none_or(|u| f.addresses(u)),
                            _ => false,
                        }
                };
                match self.route_or_drop(pred) {
                    (_, Some(i)) => {
                        // Every UID counts, across all the command's responses, as one
                        // `* n EXPUNGE` each would (`route` counted this response as one).
                        let f = &mut self.in_flight[i];
                        let total = u64::from(f.untagged).saturating_sub(1) + set.len();
                        f.untagged = u32::try_from(total).unwrap_or(u32::MAX);
                        if total > max {
                            f.overflow = true;
                            f.acc = Acc::None;
                        } else if let Acc::Expunge { uids, .. } = &mut f.acc {
                            uids.extend(set.iter());
                        }
                    }
                    (true, None) => {}
                    (false, _) => {
                        self.events
                            .push_back(Event::Unsolicited(Unsolicited::Vanished {
                                uids: set,
                                earlier,
                            }))
                    }
                }
            }
            Data::Fetch { seq, items } => self.on_fetch(seq.get(), items, bytes),
            Data::Enabled { capabilities } => {
                let (claimed, target) = self.route_or_drop(|f| f.kind == Kind::Enable);
                if !claimed {
                    self.diagnostic("ENABLED without an ENABLE in flight", bytes);
                    return;
                }
                // In effect from here on (RFC 5161), whatever the tagged answer says.
                self.enabled.extend(
                    capabilities
                        .iter()
                        .map(|c| c.to_string().to_ascii_uppercase()),
                );
                if let Some(i) = target
                    && let Acc::Enabled(v) = &mut self.in_flight[i].acc
                {
                    v.extend(capabilities.iter().map(|c| c.to_string()));
                }
            }
            Data::Quota { root, quotas } => {
                let q = Quota {
                    root: String::from_utf8_lossy(root.as_ref()).into_owned(),
                    resources: quotas
                        .as_ref()
                        .iter()
                        .map(|q| QuotaResource {
                            name: q.resource.to_string().to_ascii_uppercase(),
                            usage: q.usage,
                            limit: q.limit,
                        })
                        .collect(),
                };
                let target = self.quota_target(&q.root);
                match self.route_or_drop(|f| f.tag == target) {
                    (_, Some(i)) => {
                        if let Acc::Quota(v) = &mut self.in_flight[i].acc {
                            v.quotas.push(q);
                        }
                    }
                    (true, None) => {}
                    (false, _) => self.diagnostic("QUOTA nobody asked for", bytes),
                }
            }
            Data::QuotaRoot { mailbox, roots } => {
                let mb = convert::mailbox_from_wire(&mailbox);
                let same = |f: &InFlight| {
                    f.mailbox
                        .as_ref()
                        .is_some_and(|a| a == &mb || (a.is_inbox() && mb.is_inbox()))
                };
                let quota_roots = self
                    .in_flight
                    .iter()
                    .filter(|f| f.kind == Kind::GetQuotaRoot);
                let unanswered: Vec<(bool, &str)> = quota_roots
                    .filter(|f| !f.answered)
                    .map(|f| (same(f), f.tag.as_str()))
                    .collect();
                // Same mailbox first, else the oldest without its QUOTAROOT, else the oldest.
                let target = unanswered
                    .iter()
                    .find(|(s, _)| *s)
                    .or(unanswered.first())
                    .map(|(_, t)| (*t).to_owned());
                let pred = |f: &InFlight| {
                    f.kind == Kind::GetQuotaRoot && target.as_ref().is_none_or(|t| &f.tag == t)
                };
                match self.route_or_drop(pred) {
                    (_, Some(i)) => {
                        self.in_flight[i].answered = true;
                        if let Acc::Quota(v) = &mut self.in_flight[i].acc {
                            v.roots.extend(
                                roots
                                    .iter()
                                    .map(|r| String::from_utf8_lossy(r.as_ref()).into_owned()),
                            );
                        }
                    }
                    (true, None) => {}
                    (false, _) => self.diagnostic("QUOTAROOT nobody asked for", bytes),
                }
            }
            Data::Namespace {
                personal,
                other,
                shared,
            } => {
                if let (_, Some(i)) = self.route_or_drop(|f| f.kind == Kind::Namespace) {
                    self.in_flight[i].acc = Acc::Namespace(Namespaces {
                        personal: convert::namespaces(&personal),
                        other: convert::namespaces(&other),
                        shared: convert::namespaces(&shared),
                    });
                }
            }
            _ => self.diagnostic("untagged data this client does not use", bytes),
        }
    }

    /// Adds a `* VANISHED (EARLIER)` to the UID FETCH (VANISHED) at `i`. Every UID counts
    /// against `max_untagged_per_command`, so a server's `1:4294967295` fails the command
    /// instead of filling memory.
    fn vanished_earlier(&mut self, i: usize, set: &UidSet) {
        let max = u64::from(self.config.limits.max_untagged_per_command);
        let f = &mut self.in_flight[i];
        if f.overflow {
            return;
        }
        let total = u64::from(f.untagged) + set.len();
        f.untagged = u32::try_from(total).unwrap_or(u32::MAX);
        if total > max {
            f.overflow = true;
            f.acc = Acc::None;
            return;
        }
        if let Acc::Fetch { vanished, .. } = &mut f.acc {
            vanished.extend(set.iter());
        }
    }

    fn diagnostic(&mut self, reason: &str, bytes: &[u8]) {
        self.events.push_back(Event::Diagnostic(Diagnostic {
            reason: reason.to_owned(),
            bytes: RawBytes(bytes.to_vec()),
        }));
    }

    fn on_fetch(&mut self, seq: u32, items: Vec1<t::fetch::MessageDataItem<'_>>, bytes: &[u8]) {
        use t::fetch::MessageDataItem as I;
        let items = items.into_inner();
        let explicit_uid = items.iter().find_map(|i| match i {
            I::Uid(u) => Some(Uid::from_nz(*u)),
            _ => None,
        });
        let uid = explicit_uid.or_else(|| self.mailbox.uids.get(&seq).copied());
        if let Some(u) = uid {
            self.mailbox.learn(seq, u);
        }
        let kinds: Vec<Item> = items.iter().filter_map(Item::of).collect();
        let has_flags = kinds.contains(&Item::Flags);
        let flags_of = |items: &[I<'_>]| -> Option<Vec<Flag>> {
            items.iter().find_map(|i| match i {
                I::Flags(f) => Some(f.iter().map(convert::flag_from_fetch).collect()),
                _ => None,
            })
        };
        let modseq = items.iter().find_map(|i| match i {
            I::ModSeq(m) => Some(m.get()),
            _ => None,
        });
        let Some(uid) = uid else {
            // Unattributable. If a UID FETCH waits for items like these, its answer is lost.
            let lost = self.in_flight.iter().any(|f| {
                f.kind == Kind::Fetch && kinds.iter().any(|k| k.wanted_by(&f.route.items))
            });
            if lost {
                self.diagnostic("FETCH item without UID for an unknown message", bytes);
            } else {
                self.events
                    .push_back(Event::Unsolicited(Unsolicited::Fetch {
                        uid: None,
                        flags: flags_of(&items),
                        modseq,
                    }));
            }
            return;
        };
        // The UID FETCH / non-silent UID STORE that addressed this UID and asked for an item
        // it carries and has not had for this UID yet (the oldest such). If every claimant has
        // had them all, this is a later change (another client, or the server's own report).
        // RFC 3501 6.4.8: every FETCH a UID command causes carries UID, so a flags-only FETCH
        // without it is a change report even when its sequence number maps into the set.
        // Message data (body, size, date, structure) is never pushed unasked: it is an answer.
        let data_items = kinds.iter().any(|k| *k != Item::Flags);
        let claims = |f: &InFlight| {
            (explicit_uid.is_some() || data_items)
                && f.addresses(uid)
                && match f.kind {
                    Kind::Fetch => {
                        kinds.iter().any(|k| k.wanted_by(&f.route.items))
                            || (f.route.items.is_empty() && explicit_uid.is_some())
                    }
                    Kind::Store => !f.route.silent && has_flags,
                    _ => false,
                }
        };
        let fresh = |f: &InFlight| match &f.acc {
            Acc::Fetch { messages: map, .. } => map.get(&uid).is_none_or(|e| {
                kinds
                    .iter()
                    .any(|k| k.wanted_by(&f.route.items) && !k.present_in(e))
            }),
            Acc::Store(map) => !map.contains_key(&uid),
            _ => false,
        };
        let target = (0..self.in_flight.len())
            .find(|i| claims(&self.in_flight[*i]) && fresh(&self.in_flight[*i]));
        let Some(i) = target else {
            self.events
                .push_back(Event::Unsolicited(Unsolicited::Fetch {
                    uid: Some(uid),
                    flags: flags_of(&items),
                    modseq,
                }));
            return;
        };
        let max = self.config.limits.max_untagged_per_command;
        let f = &mut self.in_flight[i];
        f.untagged = f.untagged.saturating_add(1);
        if f.untagged > max {
            f.overflow = true;
            f.acc = Acc::None;
            return;
        }
        let wants_flags = f.kind == Kind::Store || f.route.items.contains(&FetchAttr::Flags);
        // Flags nobody asked for riding along (the server reporting a change): an event.
        let unasked_flags = if wants_flags { None } else { flags_of(&items) };
        match &mut f.acc {
            Acc::Fetch { messages: map, .. } => {
                let entry = map.entry(uid).or_insert_with(|| FetchedMessage::new(uid));
                for item in items {
                    match item {
                        I::Flags(_) if !wants_flags => {}
                        I::Flags(f) => {
                            entry.flags = Some(f.iter().map(convert::flag_from_fetch).collect())
                        }
                        I::Rfc822Size(n) => entry.size = Some(n),
                        I::InternalDate(d) => {
                            entry.internal_date = Some(convert::internal_date(&d))
                        }
                        I::BodyStructure(b) => entry.body_structure = Some(b.into_static()),
                        I::ModSeq(m) => entry.modseq = Some(m.get()),
                        I::BodyExt { section, data, .. } => entry.sections.push((
                            convert::section_from_wire(&section),
                            data.0.map(|d| self.literals.restore(bytes, d.as_ref())),
                        )),
                        _ => {}
                    }
                }
            }
            Acc::Store(map) => {
                if let Some(fl) = flags_of(&items) {
                    map.insert(uid, fl);
                }
            }
            _ => {}
        }
        if unasked_flags.is_some() {
            self.events
                .push_back(Event::Unsolicited(Unsolicited::Fetch {
                    uid: Some(uid),
                    flags: unasked_flags,
                    modseq,
                }));
        }
    }

    /// The tag of the LIST an entry belongs to: the oldest whose pattern matches the name and
    /// that has not listed it yet, else the oldest whose pattern matches, else the oldest.
    fn list_target(&self, entry: &ListEntry) -> String {
        let delimiter = entry.delimiter.and_then(|d| u8::try_from(d).ok());
        let (mut fresh, mut matching, mut any) = (None, None, None);
        for f in self.in_flight.iter().filter(|f| f.kind == Kind::List) {
            any = any.or(Some(&f.tag));
            let matches = f.route.list.as_ref().is_none_or(|(reference, pattern)| {
                list_match(&format!("{reference}{pattern}"), &entry.mailbox, delimiter)
            });
            if !matches {
                continue;
            }
            matching = matching.or(Some(&f.tag));
            let listed =
                matches!(&f.acc, Acc::List(v) if v.iter().any(|e| e.mailbox == entry.mailbox));
            if !listed {
                fresh = fresh.or(Some(&f.tag));
            }
        }
        fresh.or(matching).or(any).cloned().unwrap_or_default()
    }

    /// The tag of the GETQUOTAROOT a `* QUOTA root` belongs to: the oldest that named this
    /// root in its QUOTAROOT and lacks its QUOTA, else the oldest without QUOTAROOT yet, else
    /// the oldest lacking this root's QUOTA, else the oldest.
    fn quota_target(&self, root: &str) -> String {
        let mut ranks: [Option<&String>; 4] = [None; 4];
        for f in self
            .in_flight
            .iter()
            .filter(|f| f.kind == Kind::GetQuotaRoot)
        {
            let Acc::Quota(q) = &f.acc else { continue };
            let named = q.roots.iter().any(|r| r == root);
            let has_quota = q.quotas.iter().any(|x| x.root == root);
            let rank = if named && !has_quota {
                0
            } else if q.roots.is_empty() && !has_quota {
                1
            } else if !has_quota {
                2
            } else {
                3
            };
            ranks[rank] = ranks[rank].or(Some(&f.tag));
        }
        ranks
            .iter()
            .flatten()
            .next()
            .map(|t| (*t).clone())
            .unwrap_or_default()
    }

    /// `* ESEARCH`: routed by its tag (RFC 4731), or without a tag to the oldest unanswered
    /// SEARCH. A malformed one while a SEARCH waits would silently change a result: fatal.
    fn on_esearch(&mut self, bytes: &[u8]) {
        let searching = self.in_flight.iter().any(|f| f.kind == Kind::Search);
        let e = match esearch::parse(bytes) {
            Ok(e) => e,
            Err(reason) if searching => {
                self.fail(Error::Misbehaviour(Misbehaviour::new(
                    format!("malformed ESEARCH ({reason})"),
                    bytes,
                )));
                return;
            }
            Err(reason) => {
                self.diagnostic(
                    &format!("malformed ESEARCH nobody asked for ({reason})"),
                    bytes,
                );
                return;
            }
        };
        let pos = match &e.tag {
            Some(tag) => self
                .in_flight
                .iter()
                .position(|f| f.kind == Kind::Search && f.tag == *tag),
            None => self
                .in_flight
                .iter()
                .position(|f| f.kind == Kind::Search && !f.answered),
        };
        let Some(i) = pos else {
            self.diagnostic("ESEARCH for a tag with no SEARCH in flight", bytes);
            return;
        };
        if !e.uid {
            self.fail(Error::Misbehaviour(Misbehaviour::new(
                "ESEARCH without UID answering a UID SEARCH (sequence numbers)",
                bytes,
            )));
            return;
        }
        let max = u64::from(self.config.limits.max_untagged_per_command);
        let f = &mut self.in_flight[i];
        f.answered = true;
        if f.overflow {
            return;
        }
        let total = u64::from(f.untagged) + e.all_len();
        f.untagged = u32::try_from(total).unwrap_or(u32::MAX);
        if total > max {
            f.overflow = true;
            f.acc = Acc::None;
            return;
        }
        if let Acc::Search(v) = &mut f.acc {
            for (a, b) in e.all {
                v.extend((a..=b).filter_map(Uid::new));
            }
        }
    }

    fn on_tagged(&mut self, tagged: t::response::Tagged<'_>, bytes: &[u8]) {
        let tag = tagged.tag.inner();
        let Some(pos) = self.in_flight.iter().position(|f| f.tag == tag) else {
            self.fail(Error::Misbehaviour(Misbehaviour::new(
                "tagged response with a tag not in flight",
                bytes,
            )));
            return;
        };
        let mut f = self.in_flight.remove(pos);
        // A NO/BAD instead of `+`: the rest of the command is never sent.
        let mut before_literal = false;
        if let Some(s) = &self.sending
            && s.tag == f.tag
        {
            if matches!(s.pieces.front(), Some(Piece::Wait)) {
                before_literal = true;
                self.sending = None;
            } else if tagged.body.kind != StatusKind::Ok {
                // Keep streaming: the server still reads the announced non-sync literal.
            }
        }
        let code = tagged.body.code.as_ref();
        if let Some(Code::Capability(c)) = code {
            self.caps = Capabilities::from_codec(c.as_ref());
        }
        let result = if tagged.body.kind == StatusKind::Ok {
            if f.overflow {
                Err(Error::Limit(LimitExceeded {
                    kind: LimitKind::UntaggedPerCommand,
                    actual: u64::from(f.untagged),
                    max: u64::from(self.config.limits.max_untagged_per_command),
                }))
            } else {
                Ok(self.ok_outcome(&mut f, code))
            }
        } else {
            self.refused_effects(&f);
            Err(Error::Refused(Refusal {
                command: f.kind.name(),
                kind: if tagged.body.kind == StatusKind::No {
                    RefusalKind::No
                } else {
                    RefusalKind::Bad
                },
                code: code.map(convert::code_from_wire),
                text: tagged.body.text.to_string(),
                before_literal,
            }))
        };
        if f.kind == Kind::Idle {
            let refresh = self
                .idle
                .as_ref()
                .is_some_and(|i| i.refreshing && !i.stop && i.tag == f.tag);
            if refresh && result.is_ok() {
                self.reissue_idle(f.id);
                return;
            }
            self.idle = None;
        }
        if f.kind == Kind::Logout {
            self.state = State::Logout;
        }
        if !f.internal {
            self.events.push_back(Event::Completed { id: f.id, result });
        }
    }

    fn reissue_idle(&mut self, id: CommandId) {
        let tag = self.alloc_tag();
        let line = format!("{tag} IDLE\r\n").into_bytes();
        if let Some(idle) = &mut self.idle {
            idle.tag = tag.clone();
            idle.accepted_at = None;
            idle.done_sent = false;
            idle.refreshing = true;
        }
        self.pending.push_front(Pending {
            id,
            tag,
            kind: Kind::Idle,
            pieces: VecDeque::from([Piece::Bytes(line)]),
            label: None,
            internal: false,
            acc: Acc::None,
            mailbox: None,
            route: Route::default(),
        });
    }

    fn refused_effects(&mut self, f: &InFlight) {
        // RFC 3501 6.3.1: a failed SELECT/EXAMINE leaves no mailbox selected.
        if matches!(f.kind, Kind::Select | Kind::Examine) {
            self.state = State::Authenticated;
            self.projected = State::Authenticated;
            self.mailbox = MailboxView::default();
        }
    }

    fn ok_outcome(&mut self, f: &mut InFlight, code: Option<&Code<'_>>) -> Outcome {
        match f.kind {
            Kind::Capability => Outcome::Capabilities(self.caps.clone()),
            Kind::Login | Kind::Authenticate => {
                self.state = State::Authenticated;
                if !matches!(code, Some(Code::Capability(_))) {
                    self.caps = Capabilities::default();
                }
                Outcome::Authenticated {
                    capabilities_known: self.caps.known,
                }
            }
            Kind::StartTls => {
                self.state = State::UpgradePending;
                self.caps = Capabilities::default();
                Outcome::UpgradeNow
            }
            Kind::Select | Kind::Examine => {
                let mut sel = match std::mem::take(&mut f.acc) {
                    Acc::Select(s) => s,
                    _ => SelectedMailbox::default(),
                };
                sel.read_only = f.kind == Kind::Examine || matches!(code, Some(Code::ReadOnly));
                sel.mailbox = f.mailbox.clone();
                self.mailbox.exists = sel.exists;
                self.state = State::Selected {
                    read_only: sel.read_only,
                };
                Outcome::Selected(sel)
            }
            Kind::Unselect | Kind::Close => {
                self.state = State::Authenticated;
                self.mailbox = MailboxView::default();
                Outcome::Done
            }
            Kind::List => match std::mem::take(&mut f.acc) {
                Acc::List(v) => Outcome::List(v),
                _ => Outcome::List(Vec::new()),
            },
            Kind::Namespace => match std::mem::take(&mut f.acc) {
                Acc::Namespace(n) => Outcome::Namespaces(n),
                _ => Outcome::Namespaces(Namespaces::default()),
            },
            Kind::Status => match std::mem::take(&mut f.acc) {
                Acc::Status(s) => Outcome::Status(s),
                _ => Outcome::Status(MailboxStatus {
                    mailbox: f.mailbox.clone(),
                    ..MailboxStatus::default()
                }),
            },
            Kind::Append => Outcome::Appended(match code {
                Some(Code::AppendUid { uid_validity, uid }) => Some(AppendUid {
                    uid_validity: UidValidity::from_nz(*uid_validity),
                    uid: Uid::from_nz(*uid),
                }),
                _ => None,
            }),
            Kind::Search => match std::mem::take(&mut f.acc) {
                Acc::Search(mut v) => {
                    v.sort();
                    v.dedup();
                    Outcome::Search(v)
                }
                _ => Outcome::Search(Vec::new()),
            },
            Kind::Fetch => {
                let (messages, mut vanished) = match std::mem::take(&mut f.acc) {
                    Acc::Fetch { messages, vanished } => (messages, vanished),
                    _ => (BTreeMap::new(), Vec::new()),
                };
                let messages = messages.into_values().collect();
                if f.route.changed_since {
                    vanished.sort_unstable();
                    vanished.dedup();
                    Outcome::FetchChanged {
                        messages,
                        vanished_earlier: vanished,
                    }
                } else {
                    Outcome::Fetch(messages)
                }
            }
            Kind::Store => match std::mem::take(&mut f.acc) {
                Acc::Store(m) => Outcome::Store(m.into_iter().collect()),
                _ => Outcome::Store(Vec::new()),
            },
            Kind::Copy => {
                let from_code = copy_uid_from_code(code);
                let from_acc = match std::mem::take(&mut f.acc) {
                    Acc::Copy(c) => c,
                    _ => None,
                };
                Outcome::Copied(from_code.or(from_acc))
            }
            Kind::Move => match std::mem::take(&mut f.acc) {
                Acc::Expunge { uids, copy_uid, .. } => Outcome::Moved {
                    copy_uid: copy_uid_from_code(code).or(copy_uid),
                    expunged: uids,
                },
                _ => Outcome::Moved {
                    copy_uid: copy_uid_from_code(code),
                    expunged: Vec::new(),
                },
            },
            Kind::UidExpunge | Kind::Expunge => match std::mem::take(&mut f.acc) {
                Acc::Expunge { uids, unmapped, .. } => Outcome::Expunged { uids, unmapped },
                _ => Outcome::Expunged {
                    uids: Vec::new(),
                    unmapped: 0,
                },
            },
            Kind::GetQuotaRoot => match std::mem::take(&mut f.acc) {
                Acc::Quota(q) => Outcome::QuotaRoots(q),
                _ => Outcome::QuotaRoots(QuotaRoots::default()),
            },
            Kind::Enable => match std::mem::take(&mut f.acc) {
                Acc::Enabled(v) => Outcome::Enabled(v),
                _ => Outcome::Enabled(Vec::new()),
            },
            Kind::Noop | Kind::Logout | Kind::Create | Kind::Idle | Kind::Notify => Outcome::Done,
        }
    }

    // ------------------------------------------------------------------ failure

    fn fail(&mut self, err: Error) {
        if self.state == State::Failed {
            return;
        }
        self.state = State::Failed;
        self.projected = State::Failed;
        self.error = Some(err.clone());
        self.events.push_back(Event::Failed(err.clone()));
        self.abort_all(&err);
    }

    fn abort_all(&mut self, err: &Error) {
        let in_flight = std::mem::take(&mut self.in_flight);
        let pending = std::mem::take(&mut self.pending);
        self.sending = None;
        self.urgent.clear();
        self.idle = None;
        let ids = in_flight
            .into_iter()
            .map(|f| (f.id, f.internal))
            .chain(pending.into_iter().map(|p| (p.id, p.internal)));
        for (id, internal) in ids {
            if !internal {
                self.events.push_back(Event::Completed {
                    id,
                    result: Err(err.clone()),
                });
            }
        }
    }

    // ------------------------------------------------------------------ commands

    fn alloc_id(&mut self) -> CommandId {
        self.next_id += 1;
        CommandId(self.next_id)
    }

    fn alloc_tag(&mut self) -> String {
        let t = format!("{}{}", self.config.tag_prefix, self.next_tag);
        self.next_tag += 1;
        t
    }

    fn check(&self, command: &'static str, allowed: &[fn(State) -> bool]) -> Result<(), Error> {
        if let Some(e) = &self.error {
            return Err(Misuse::ConnectionFailed(e.to_string()).into());
        }
        if self.idle.is_some() {
            return Err(Misuse::Idling.into());
        }
        let st = self.projected;
        if allowed.iter().any(|f| f(st)) {
            Ok(())
        } else {
            Err(Misuse::WrongState {
                command,
                state: st.name(),
            }
            .into())
        }
    }

    fn live(s: State) -> bool {
        matches!(
            s,
            State::NotAuthenticated | State::Authenticated | State::Selected { .. }
        )
    }
    fn not_auth(s: State) -> bool {
        s == State::NotAuthenticated
    }
    fn authed(s: State) -> bool {
        matches!(s, State::Authenticated | State::Selected { .. })
    }
    fn selected(s: State) -> bool {
        matches!(s, State::Selected { .. })
    }

    fn push_codec(
        &mut self,
        kind: Kind,
        body: CommandBody<'_>,
        acc: Acc,
        mailbox: Option<Mailbox>,
        label: bool,
    ) -> Result<CommandId, Error> {
        let tag = self.alloc_tag();
        let cmd = Command::new(tag.as_str(), body).map_err(|e| {
            to_static_err(Misuse::InvalidArgument {
                command: kind.name(),
                reason: format!("tag: {e}"),
            })
        })?;
        let mut pieces = VecDeque::new();
        for frag in CommandCodec::default().encode(&cmd) {
            match frag {
                Fragment::Line { data } => pieces.push_back(Piece::Bytes(data)),
                Fragment::Literal { data, mode } => {
                    if mode == LiteralMode::Sync {
                        pieces.push_back(Piece::Wait);
                    }
                    pieces.push_back(Piece::Bytes(data));
                }
            }
        }
        Ok(self.push_pieces(kind, tag, pieces, acc, mailbox, label))
    }

    fn push_pieces(
        &mut self,
        kind: Kind,
        tag: String,
        pieces: VecDeque<Piece>,
        acc: Acc,
        mailbox: Option<Mailbox>,
        label: bool,
    ) -> CommandId {
        let id = self.alloc_id();
        let label = label.then(|| format!("{tag} {} ***", kind.name()));
        self.pending.push_back(Pending {
            id,
            tag,
            kind,
            pieces,
            label,
            internal: false,
            acc,
            mailbox,
            route: Route::default(),
        });
        id
    }

    /// Attach routing information to the command just queued.
    fn set_route(&mut self, route: Route) {
        if let Some(p) = self.pending.back_mut() {
            p.route = route;
        }
    }

    /// `CAPABILITY`.
    pub fn capability(&mut self) -> Result<CommandId, Error> {
        self.check("CAPABILITY", &[Self::live])?;
        self.push_codec(
            Kind::Capability,
            CommandBody::Capability,
            Acc::None,
            None,
            false,
        )
    }

    /// `NOOP`: also collects unsolicited updates.
    pub fn noop(&mut self) -> Result<CommandId, Error> {
        self.check("NOOP", &[Self::live])?;
        self.push_codec(Kind::Noop, CommandBody::Noop, Acc::None, None, false)
    }

    /// `LOGOUT`. Completes on the tagged OK or when the stream ends after `* BYE`.
    pub fn logout(&mut self) -> Result<CommandId, Error> {
        self.check("LOGOUT", &[Self::live])?;
        self.projected = State::Logout;
        self.push_codec(Kind::Logout, CommandBody::Logout, Acc::None, None, false)
    }

    /// `LOGIN user password`. Refused locally if the server advertised `LOGINDISABLED`.
    /// The password never appears in traces, errors or `Debug` output.
    pub fn login(&mut self, user: &str, password: &Secret) -> Result<CommandId, Error> {
        self.check("LOGIN", &[Self::not_auth])?;
        if self.caps.login_disabled() {
            return Err(Misuse::LoginDisabled.into());
        }
        let body = CommandBody::login(user, password.expose()).map_err(|_| {
            to_static_err(Misuse::InvalidArgument {
                command: "LOGIN",
                reason: "user or password cannot be encoded".into(),
            })
        })?;
        let id = self.push_codec(Kind::Login, body, Acc::None, None, true)?;
        self.projected = State::Authenticated;
        Ok(id)
    }

    /// `AUTHENTICATE PLAIN` with optional authorization identity (proxy/master user:
    /// `authzid` = the mailbox user, `authcid` = the master). Uses SASL-IR when advertised.
    pub fn authenticate_plain(
        &mut self,
        authzid: Option<&str>,
        authcid: &str,
        password: &Secret,
    ) -> Result<CommandId, Error> {
        self.check("AUTHENTICATE", &[Self::not_auth])?;
        if self.caps.known() && !self.caps.has("AUTH=PLAIN") {
            return Err(Misuse::MissingCapability {
                command: "AUTHENTICATE",
                capability: "AUTH=PLAIN",
            }
            .into());
        }
        let mut raw = Vec::new();
        raw.extend_from_slice(authzid.unwrap_or("").as_bytes());
        raw.push(0);
        raw.extend_from_slice(authcid.as_bytes());
        raw.push(0);
        raw.extend_from_slice(password.expose().as_bytes());
        if raw.iter().filter(|b| **b == 0).count() != 2 {
            return Err(Misuse::InvalidArgument {
                command: "AUTHENTICATE",
                reason: "NUL inside an identity or password".into(),
            }
            .into());
        }
        let b64 = base64_encode(&raw);
        let tag = self.alloc_tag();
        let pieces = if self.config.use_sasl_ir && self.caps.sasl_ir() {
            VecDeque::from([Piece::Bytes(
                format!("{tag} AUTHENTICATE PLAIN {b64}\r\n").into_bytes(),
            )])
        } else {
            VecDeque::from([
                Piece::Bytes(format!("{tag} AUTHENTICATE PLAIN\r\n").into_bytes()),
                Piece::Wait,
                Piece::Bytes(format!("{b64}\r\n").into_bytes()),
            ])
        };
        let id = self.push_pieces(Kind::Authenticate, tag, pieces, Acc::None, None, true);
        self.projected = State::Authenticated;
        Ok(id)
    }

    /// `STARTTLS`. On success the outcome is [`Outcome::UpgradeNow`]: do the TLS handshake on
    /// the same socket, then call [`tls_established`](Self::tls_established).
    pub fn starttls(&mut self) -> Result<CommandId, Error> {
        self.check("STARTTLS", &[Self::not_auth])?;
        self.push_codec(
            Kind::StartTls,
            CommandBody::StartTLS,
            Acc::None,
            None,
            false,
        )
    }

    /// `SELECT mailbox` (read-write).
    pub fn select(&mut self, mailbox: &Mailbox) -> Result<CommandId, Error> {
        self.select_or_examine(mailbox, false)
    }

    /// `EXAMINE mailbox` (read-only).
    pub fn examine(&mut self, mailbox: &Mailbox) -> Result<CommandId, Error> {
        self.select_or_examine(mailbox, true)
    }

    fn select_or_examine(&mut self, mailbox: &Mailbox, examine: bool) -> Result<CommandId, Error> {
        let (kind, name) = if examine {
            (Kind::Examine, "EXAMINE")
        } else {
            (Kind::Select, "SELECT")
        };
        self.check(name, &[Self::authed])?;
        let mb = convert::mailbox_to_wire(mailbox, name)?;
        let body = if examine {
            CommandBody::Examine {
                mailbox: mb,
                parameters: Vec::new(),
            }
        } else {
            CommandBody::Select {
                mailbox: mb,
                parameters: Vec::new(),
            }
        };
        let id = self.push_codec(
            kind,
            body,
            Acc::Select(SelectedMailbox::default()),
            Some(mailbox.clone()),
            false,
        )?;
        self.projected = State::Selected { read_only: examine };
        Ok(id)
    }

    /// `UNSELECT` (RFC 3691): leave the mailbox without expunging.
    pub fn unselect(&mut self) -> Result<CommandId, Error> {
        self.check("UNSELECT", &[Self::selected])?;
        let id = self.push_codec(
            Kind::Unselect,
            CommandBody::Unselect,
            Acc::None,
            None,
            false,
        )?;
        self.projected = State::Authenticated;
        Ok(id)
    }

    /// `CLOSE`: leave the mailbox, expunging `\Deleted` messages (all of them: prefer
    /// UID EXPUNGE + UNSELECT when other clients' deletions must be spared).
    pub fn close(&mut self) -> Result<CommandId, Error> {
        self.check("CLOSE", &[Self::selected])?;
        let acc = Acc::Expunge {
            uids: Vec::new(),
            unmapped: 0,
            copy_uid: None,
        };
        let id = self.push_codec(Kind::Close, CommandBody::Close, acc, None, false)?;
        self.projected = State::Authenticated;
        Ok(id)
    }

    /// `LIST reference pattern`.
    pub fn list(&mut self, reference: &str, pattern: &str) -> Result<CommandId, Error> {
        self.check("LIST", &[Self::authed])?;
        let body = CommandBody::list(reference, pattern).map_err(|_| {
            to_static_err(Misuse::InvalidArgument {
                command: "LIST",
                reason: format!("reference {reference:?} or pattern {pattern:?}"),
            })
        })?;
        let id = self.push_codec(Kind::List, body, Acc::List(Vec::new()), None, false)?;
        self.set_route(Route {
            list: Some((reference.to_owned(), pattern.to_owned())),
            ..Route::default()
        });
        Ok(id)
    }

    /// `NAMESPACE` (RFC 2342).
    pub fn namespace(&mut self) -> Result<CommandId, Error> {
        self.check("NAMESPACE", &[Self::authed])?;
        self.push_codec(
            Kind::Namespace,
            CommandBody::Namespace,
            Acc::Namespace(Namespaces::default()),
            None,
            false,
        )
    }

    /// `STATUS mailbox (items)`. Several may be pipelined in one round trip.
    pub fn status(&mut self, mailbox: &Mailbox, items: &[StatusAttr]) -> Result<CommandId, Error> {
        self.check("STATUS", &[Self::authed])?;
        if items.is_empty() {
            return Err(Misuse::InvalidArgument {
                command: "STATUS",
                reason: "no items".into(),
            }
            .into());
        }
        let mb = convert::mailbox_to_wire(mailbox, "STATUS")?;
        let names: Vec<_> = items.iter().map(|a| convert::status_attr(*a)).collect();
        let body = CommandBody::Status {
            mailbox: mb,
            item_names: names.into(),
        };
        let acc = Acc::Status(MailboxStatus {
            mailbox: Some(mailbox.clone()),
            ..MailboxStatus::default()
        });
        self.push_codec(Kind::Status, body, acc, Some(mailbox.clone()), false)
    }

    /// `CREATE mailbox`.
    pub fn create(&mut self, mailbox: &Mailbox) -> Result<CommandId, Error> {
        self.check("CREATE", &[Self::authed])?;
        let mb = convert::mailbox_to_wire(mailbox, "CREATE")?;
        self.push_codec(
            Kind::Create,
            CommandBody::Create { mailbox: mb },
            Acc::None,
            None,
            false,
        )
    }

    /// `APPEND mailbox (flags) {n}`: the message is shared, not copied, and streamed out in
    /// chunks of `transmit_chunk`. Uses LITERAL+ (or LITERAL- up to 4096 bytes) when offered,
    /// else a synchronising literal; a NO/BAD instead of `+` completes the command.
    /// The server sets the internal date; see [`append_dated`](Self::append_dated).
    pub fn append(
        &mut self,
        mailbox: &Mailbox,
        flags: &[Flag],
        message: Arc<[u8]>,
    ) -> Result<CommandId, Error> {
        self.append_dated(mailbox, flags, None, message)
    }

    /// `APPEND mailbox (flags) "dd-Mon-yyyy hh:mm:ss +0000" {n}` (RFC 3501 §6.3.11): like
    /// [`append`](Self::append), with `date` (Unix seconds, sent as UTC) as the message's
    /// internal date; `None` sends no date-time (the server uses its clock). A date before
    /// 1970 or after 9999 is [`Misuse::InvalidArgument`] and nothing is sent.
    pub fn append_dated(
        &mut self,
        mailbox: &Mailbox,
        flags: &[Flag],
        date: Option<i64>,
        message: Arc<[u8]>,
    ) -> Result<CommandId, Error> {
        self.check("APPEND", &[Self::authed])?;
        let date_time = match date {
            None => None,
            Some(secs) => Some(append_date_time(secs).ok_or_else(|| {
                to_static_err(Misuse::InvalidArgument {
                    command: "APPEND",
                    reason: format!(
                        "internal date {secs} outside 1970-01-01..9999-12-31 (Unix seconds)"
                    ),
                })
            })?),
        };
        if message.contains(&0) {
            return Err(Misuse::InvalidArgument {
                command: "APPEND",
                reason: "message contains NUL (needs BINARY, unsupported)".into(),
            }
            .into());
        }
        let len = u32::try_from(message.len()).map_err(|_| {
            to_static_err(Misuse::InvalidArgument {
                command: "APPEND",
                reason: "message larger than 4 GiB".into(),
            })
        })?;
        let non_sync = self.config.use_non_sync_literals
            && (self.caps.literal_plus() || (self.caps.literal_minus() && len <= 4096));
        let mb = convert::mailbox_to_wire(mailbox, "APPEND")?;
        let fl: Result<Vec<_>, Misuse> = flags
            .iter()
            .map(|f| convert::flag_to_wire(f, "APPEND"))
            .collect();
        let mut placeholder = t::core::Literal::try_from(&b"x"[..]).map_err(|_| {
            to_static_err(Misuse::InvalidArgument {
                command: "APPEND",
                reason: "literal".into(),
            })
        })?;
        if non_sync {
            placeholder = placeholder.into_non_sync();
        }
        let body = CommandBody::Append {
            mailbox: mb,
            flags: fl?,
            date: None,
            message: t::extensions::binary::LiteralOrLiteral8::Literal(placeholder),
        };
        let tag = self.alloc_tag();
        let cmd = Command::new(tag.as_str(), body).map_err(|e| {
            to_static_err(Misuse::InvalidArgument {
                command: "APPEND",
                reason: format!("tag: {e}"),
            })
        })?;
        let frags: Vec<Fragment> = CommandCodec::default().encode(&cmd).collect();
        let last_lit = frags
            .iter()
            .rposition(|f| matches!(f, Fragment::Literal { .. }))
            .unwrap_or(usize::MAX);
        let mut pieces = VecDeque::new();
        for (i, frag) in frags.into_iter().enumerate() {
            match frag {
                Fragment::Line { mut data } => {
                    if i + 1 == last_lit
                        && let Some(open) = data.iter().rposition(|b| *b == b'{')
                    {
                        data.truncate(open);
                        if let Some(dt) = &date_time {
                            data.extend_from_slice(dt.as_bytes());
                            data.push(b' ');
                        }
                        let plus = if non_sync { "+" } else { "" };
                        data.extend_from_slice(format!("{{{len}{plus}}}\r\n").as_bytes());
                    }
                    pieces.push_back(Piece::Bytes(data));
                }
                Fragment::Literal { data, mode } => {
                    if mode == LiteralMode::Sync {
                        pieces.push_back(Piece::Wait);
                    }
                    if i == last_lit {
                        if !message.is_empty() {
                            pieces.push_back(Piece::Shared(Arc::clone(&message), 0));
                        }
                    } else {
                        pieces.push_back(Piece::Bytes(data));
                    }
                }
            }
        }
        Ok(self.push_pieces(Kind::Append, tag, pieces, Acc::None, None, false))
    }

    /// `UID SEARCH keys` (keys AND together). Pipeline it with `uid_fetch` for one round trip.
    pub fn uid_search(&mut self, keys: &[SearchKey]) -> Result<CommandId, Error> {
        self.check("UID SEARCH", &[Self::selected])?;
        let keys: Result<Vec<_>, Misuse> = keys
            .iter()
            .map(|k| convert::search_key(k, "UID SEARCH"))
            .collect();
        let keys = Vec1::try_from(keys?).map_err(|_| {
            to_static_err(Misuse::InvalidArgument {
                command: "UID SEARCH",
                reason: "no search keys".into(),
            })
        })?;
        let body = CommandBody::search(None, keys, true);
        let id = self.push_codec(Kind::Search, body, Acc::Search(Vec::new()), None, false)?;
        self.set_route(Route {
            esearch_wanted: true,
            ..Route::default()
        });
        Ok(id)
    }

    /// `UID FETCH set (UID items)`: typed per-UID results with raw section bytes.
    pub fn uid_fetch(&mut self, uids: &UidRange, items: &[FetchAttr]) -> Result<CommandId, Error> {
        self.check("UID FETCH", &[Self::selected])?;
        self.push_uid_fetch(uids, items, None, false)
    }

    /// `UID FETCH set (UID items) (CHANGEDSINCE n [VANISHED])` (RFC 7162 §3.1.4.1, §3.2.6):
    /// only the messages of `uids` whose MODSEQ is above `changed_since`, and with `vanished`
    /// also the UIDs of `uids` expunged since then. A reconnect resync costs O(changes).
    ///
    /// The outcome is [`Outcome::FetchChanged`]: the messages (with MODSEQ) and the
    /// `* VANISHED (EARLIER)` UIDs, which reach the caller only there (not as
    /// [`Unsolicited::Vanished`]). A plain `* VANISHED` (a message expunged meanwhile) stays an
    /// unsolicited event, as always.
    ///
    /// Misuse (nothing is sent): `changed_since` 0 ([`Misuse::InvalidArgument`]; mod-sequences
    /// start at 1), `CONDSTORE` known to be missing ([`Misuse::MissingCapability`]), `vanished`
    /// before `ENABLE QRESYNC` succeeded ([`Misuse::NotEnabled`], see
    /// [`qresync_enabled`](Self::qresync_enabled)).
    pub fn uid_fetch_changed_since(
        &mut self,
        uids: &UidRange,
        items: &[FetchAttr],
        changed_since: u64,
        vanished: bool,
    ) -> Result<CommandId, Error> {
        const COMMAND: &str = "UID FETCH";
        self.check(COMMAND, &[Self::selected])?;
        let since = std::num::NonZeroU64::new(changed_since).ok_or_else(|| {
            to_static_err(Misuse::InvalidArgument {
                command: COMMAND,
                reason: "CHANGEDSINCE 0: mod-sequences start at 1".into(),
            })
        })?;
        if self.caps.known() && !self.caps.has("CONDSTORE") {
            return Err(Misuse::MissingCapability {
                command: COMMAND,
                capability: "CONDSTORE",
            }
            .into());
        }
        if vanished && !self.qresync_enabled() {
            return Err(Misuse::NotEnabled {
                command: "UID FETCH (VANISHED)",
                capability: "QRESYNC",
            }
            .into());
        }
        self.push_uid_fetch(uids, items, Some(since), vanished)
    }

    fn push_uid_fetch(
        &mut self,
        uids: &UidRange,
        items: &[FetchAttr],
        changed_since: Option<std::num::NonZeroU64>,
        vanished: bool,
    ) -> Result<CommandId, Error> {
        let seq = convert::uid_sequence(uids, "UID FETCH")?;
        let mut names = vec![t::fetch::MessageDataItemName::Uid];
        for a in items {
            names.push(convert::fetch_attr(a, "UID FETCH")?);
        }
        let mut modifiers = Vec::new();
        if let Some(since) = changed_since {
            modifiers.push(t::command::FetchModifier::ChangedSince(since));
            if vanished {
                modifiers.push(t::command::FetchModifier::Vanished);
            }
        }
        let body = CommandBody::Fetch {
            sequence_set: seq,
            macro_or_item_names: t::fetch::MacroOrMessageDataItemNames::MessageDataItemNames(names),
            uid: true,
            modifiers,
        };
        let acc = Acc::Fetch {
            messages: BTreeMap::new(),
            vanished: Vec::new(),
        };
        let id = self.push_codec(Kind::Fetch, body, acc, None, false)?;
        self.set_route(Route {
            uids: Some(uids.clone()),
            items: items.to_vec(),
            changed_since: changed_since.is_some(),
            vanished: changed_since.is_some() && vanished,
            ..Route::default()
        });
        Ok(id)
    }

    /// `UID STORE set ±FLAGS[.SILENT] (flags)`.
    pub fn uid_store(
        &mut self,
        uids: &UidRange,
        mode: StoreMode,
        flags: &[Flag],
        silent: bool,
    ) -> Result<CommandId, Error> {
        self.check("UID STORE", &[Self::selected])?;
        let seq = convert::uid_sequence(uids, "UID STORE")?;
        let fl: Result<Vec<_>, Misuse> = flags
            .iter()
            .map(|f| convert::flag_to_wire(f, "UID STORE"))
            .collect();
        let kind = match mode {
            StoreMode::Add => t::flag::StoreType::Add,
            StoreMode::Remove => t::flag::StoreType::Remove,
            StoreMode::Replace => t::flag::StoreType::Replace,
        };
        let resp = if silent {
            t::flag::StoreResponse::Silent
        } else {
            t::flag::StoreResponse::Answer
        };
        let body = CommandBody::Store {
            sequence_set: seq,
            kind,
            response: resp,
            flags: fl?,
            uid: true,
            modifiers: Vec::new(),
        };
        let id = self.push_codec(Kind::Store, body, Acc::Store(BTreeMap::new()), None, false)?;
        self.set_route(Route {
            uids: Some(uids.clone()),
            silent,
            ..Route::default()
        });
        Ok(id)
    }

    /// `UID COPY set mailbox`; COPYUID when UIDPLUS.
    pub fn uid_copy(&mut self, uids: &UidRange, to: &Mailbox) -> Result<CommandId, Error> {
        self.check("UID COPY", &[Self::selected])?;
        let seq = convert::uid_sequence(uids, "UID COPY")?;
        let mb = convert::mailbox_to_wire(to, "UID COPY")?;
        let body = CommandBody::Copy {
            sequence_set: seq,
            mailbox: mb,
            uid: true,
        };
        self.push_codec(Kind::Copy, body, Acc::Copy(None), None, false)
    }

    /// `UID MOVE set mailbox` (RFC 6851). Refused locally if MOVE is known to be missing.
    pub fn uid_move(&mut self, uids: &UidRange, to: &Mailbox) -> Result<CommandId, Error> {
        self.check("UID MOVE", &[Self::selected])?;
        if self.caps.known() && !self.caps.move_() {
            return Err(Misuse::MissingCapability {
                command: "UID MOVE",
                capability: "MOVE",
            }
            .into());
        }
        let seq = convert::uid_sequence(uids, "UID MOVE")?;
        let mb = convert::mailbox_to_wire(to, "UID MOVE")?;
        let body = CommandBody::Move {
            sequence_set: seq,
            mailbox: mb,
            uid: true,
        };
        let acc = Acc::Expunge {
            uids: Vec::new(),
            unmapped: 0,
            copy_uid: None,
        };
        let id = self.push_codec(Kind::Move, body, acc, None, false)?;
        self.set_route(Route {
            uids: Some(uids.clone()),
            ..Route::default()
        });
        Ok(id)
    }

    /// `UID EXPUNGE set` (UIDPLUS): expunges only these UIDs.
    pub fn uid_expunge(&mut self, uids: &UidRange) -> Result<CommandId, Error> {
        self.check("UID EXPUNGE", &[Self::selected])?;
        if self.caps.known() && !self.caps.uidplus() {
            return Err(Misuse::MissingCapability {
                command: "UID EXPUNGE",
                capability: "UIDPLUS",
            }
            .into());
        }
        let seq = convert::uid_sequence(uids, "UID EXPUNGE")?;
        let acc = Acc::Expunge {
            uids: Vec::new(),
            unmapped: 0,
            copy_uid: None,
        };
        let id = self.push_codec(
            Kind::UidExpunge,
            CommandBody::ExpungeUid { sequence_set: seq },
            acc,
            None,
            false,
        )?;
        self.set_route(Route {
            uids: Some(uids.clone()),
            ..Route::default()
        });
        Ok(id)
    }

    /// `EXPUNGE`: removes *every* `\Deleted` message, other clients' too.
    pub fn expunge(&mut self) -> Result<CommandId, Error> {
        self.check("EXPUNGE", &[Self::selected])?;
        let acc = Acc::Expunge {
            uids: Vec::new(),
            unmapped: 0,
            copy_uid: None,
        };
        self.push_codec(Kind::Expunge, CommandBody::Expunge, acc, None, false)
    }

    /// `GETQUOTAROOT mailbox` (RFC 9208): every root and every resource.
    pub fn get_quota_root(&mut self, mailbox: &Mailbox) -> Result<CommandId, Error> {
        self.check("GETQUOTAROOT", &[Self::authed])?;
        let mb = convert::mailbox_to_wire(mailbox, "GETQUOTAROOT")?;
        self.push_codec(
            Kind::GetQuotaRoot,
            CommandBody::GetQuotaRoot { mailbox: mb },
            Acc::Quota(QuotaRoots::default()),
            Some(mailbox.clone()),
            false,
        )
    }

    /// `ENABLE caps` (RFC 5161), e.g. `["CONDSTORE"]`.
    pub fn enable(&mut self, capabilities: &[&str]) -> Result<CommandId, Error> {
        self.check("ENABLE", &[Self::authed])?;
        let caps: Result<Vec<_>, _> = capabilities
            .iter()
            .map(|c| t::extensions::enable::CapabilityEnable::try_from(*c))
            .collect();
        let caps = caps
            .ok()
            .and_then(|c| Vec1::try_from(c).ok())
            .ok_or_else(|| {
                to_static_err(Misuse::InvalidArgument {
                    command: "ENABLE",
                    reason: format!("{capabilities:?}"),
                })
            })?;
        self.push_codec(
            Kind::Enable,
            CommandBody::Enable { capabilities: caps },
            Acc::Enabled(Vec::new()),
            None,
            false,
        )
    }

    /// `NOTIFY <spec>` (RFC 5465); `spec` is the rest of the line, e.g.
    /// `SET STATUS (personal (MessageNew MessageExpunge FlagChange))` or `NONE`.
    /// The untagged STATUS/FETCH/EXPUNGE it causes arrive as [`Event::Unsolicited`].
    pub fn notify(&mut self, spec: &str) -> Result<CommandId, Error> {
        self.check("NOTIFY", &[Self::authed])?;
        if self.caps.known() && !self.caps.notify() {
            return Err(Misuse::MissingCapability {
                command: "NOTIFY",
                capability: "NOTIFY",
            }
            .into());
        }
        if spec.is_empty()
            || spec.len() > 4096
            || !spec.bytes().all(|b| (0x20..0x7f).contains(&b))
            || spec.contains('{')
        {
            return Err(Misuse::InvalidArgument {
                command: "NOTIFY",
                reason: "spec must be printable ASCII without literals, 1..4096 bytes".into(),
            }
            .into());
        }
        let tag = self.alloc_tag();
        let line = format!("{tag} NOTIFY {spec}\r\n").into_bytes();
        Ok(self.push_pieces(
            Kind::Notify,
            tag,
            VecDeque::from([Piece::Bytes(line)]),
            Acc::None,
            None,
            false,
        ))
    }

    /// `IDLE` (RFC 2177). [`Event::IdleStarted`] follows the server's `+`; unsolicited data
    /// then flows. The core re-issues IDLE every `idle_refresh` by itself, and after
    /// [`Config::idle_silence`] without input (a liveness probe). End with
    /// [`idle_done`](Self::idle_done); the command then completes.
    pub fn idle(&mut self) -> Result<CommandId, Error> {
        self.check("IDLE", &[Self::authed])?;
        if self.caps.known() && !self.caps.idle() {
            return Err(Misuse::MissingCapability {
                command: "IDLE",
                capability: "IDLE",
            }
            .into());
        }
        let id = self.push_codec(Kind::Idle, CommandBody::Idle, Acc::None, None, false)?;
        let tag = self
            .pending
            .back()
            .map(|p| p.tag.clone())
            .unwrap_or_default();
        self.idle = Some(IdleState {
            id,
            tag,
            accepted_at: None,
            done_sent: false,
            stop: false,
            refreshing: false,
        });
        Ok(id)
    }

    /// Set (or turn off with `None` or zero) [`Config::idle_silence`] on a live connection,
    /// e.g. once the runtime decides to IDLE on a connection opened for other work. Applies
    /// at once, to a running IDLE too: its silence is counted from the last input.
    pub fn set_idle_silence(&mut self, silence: Option<Duration>) {
        self.config.idle_silence = silence.filter(|d| !d.is_zero());
    }

    /// End IDLE (`DONE`). If the `+` has not arrived yet, DONE follows it.
    pub fn idle_done(&mut self, now: Instant) -> Result<(), Error> {
        let Some(idle) = &mut self.idle else {
            return Err(Misuse::NotIdling.into());
        };
        if idle.stop {
            return Ok(());
        }
        idle.stop = true;
        if idle.accepted_at.is_some() && !idle.done_sent {
            idle.done_sent = true;
            let tag = idle.tag.clone();
            self.urgent.push_back(b"DONE\r\n".to_vec());
            self.set_deadline(&tag, now);
        }
        Ok(())
    }
}

/// The length a line announces at its end (`{digits}` or `{digits+}` before the line ending),
/// saturating at `u64::MAX`. Called only for lines the framing (which frames as imap-codec's
/// does) saw no literal announcement in, which with this shape means a length beyond `u32`.
fn overflowing_announcement(line: &[u8]) -> Option<u64> {
    let digits = crate::literals::trailing_announcement(line)?;
    Some(line[digits].iter().fold(0u64, |n, d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

/// Latest instant APPEND can carry: 9999-12-31 23:59:59 UTC (four-digit years).
const LAST_APPEND_DATE: i64 = 253_402_300_799;

/// `"dd-Mon-yyyy hh:mm:ss +0000"` (RFC 3501 date-time, UTC, day as 2DIGIT) for Unix seconds
/// in `0..=LAST_APPEND_DATE`; `None` outside.
fn append_date_time(unix_seconds: i64) -> Option<String> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    if !(0..=LAST_APPEND_DATE).contains(&unix_seconds) {
        return None;
    }
    let days = unix_seconds / 86_400;
    let secs = unix_seconds % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's days_from_civil inverse).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let name = MONTHS.get(usize::try_from(month - 1).ok()?)?;
    Some(format!(
        "\"{day:02}-{name}-{year:04} {:02}:{:02}:{:02} +0000\"",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    ))
}

fn copy_uid_from_code(code: Option<&Code<'_>>) -> Option<CopyUid> {
    match code {
        Some(Code::CopyUid {
            uid_validity,
            source,
            destination,
        }) => Some(CopyUid {
            uid_validity: UidValidity::from_nz(*uid_validity),
            source: convert::uidset_from_codec(source)?,
            destination: convert::uidset_from_codec(destination)?,
        }),
        _ => None,
    }
}

/// The kind of one FETCH data item, to match it against the items a UID FETCH asked for.
#[derive(Debug, PartialEq)]
enum Item {
    Flags,
    Size,
    Date,
    Structure,
    /// `BODY[]`
    Full,
    /// `BODY[HEADER]` of the message (not of a part)
    Header,
    /// `BODY[HEADER.FIELDS (..)]` of the message
    HeaderFields,
    /// `BODY[n.m]`
    Part(Vec<u32>),
    /// Any other section: never asked for by this client.
    OtherSection,
}

impl Item {
    /// UID and MODSEQ accompany anything: not items of their own here.
    fn of(i: &t::fetch::MessageDataItem<'_>) -> Option<Self> {
        use t::fetch::MessageDataItem as I;
        Some(match i {
            I::Flags(_) => Self::Flags,
            I::Rfc822Size(_) => Self::Size,
            I::InternalDate(_) => Self::Date,
            I::BodyStructure(_) | I::Body(_) => Self::Structure,
            I::BodyExt { section, .. } => {
                use t::fetch::Section as S;
                match section {
                    None => Self::Full,
                    Some(S::Header(None)) => Self::Header,
                    Some(S::HeaderFields(None, _)) => Self::HeaderFields,
                    Some(S::Part(p)) => Self::Part(p.0.as_ref().iter().map(|n| n.get()).collect()),
                    Some(_) => Self::OtherSection,
                }
            }
            _ => return None,
        })
    }

    fn wanted_by(&self, attrs: &[FetchAttr]) -> bool {
        attrs.iter().any(|a| match (self, a) {
            (Self::Flags, FetchAttr::Flags)
            | (Self::Size, FetchAttr::Rfc822Size)
            | (Self::Date, FetchAttr::InternalDate)
            | (Self::Structure, FetchAttr::BodyStructure)
            | (Self::Full, FetchAttr::Full)
            | (Self::Header, FetchAttr::Header)
            | (Self::HeaderFields, FetchAttr::HeaderFields(_)) => true,
            (Self::Part(p), FetchAttr::Part(q)) => p == q,
            _ => false,
        })
    }

    fn present_in(&self, m: &FetchedMessage) -> bool {
        match self {
            Self::Flags => m.flags.is_some(),
            Self::Size => m.size.is_some(),
            Self::Date => m.internal_date.is_some(),
            Self::Structure => m.body_structure.is_some(),
            Self::Full => m.sections.iter().any(|(x, _)| *x == Section::Full),
            Self::Header => m
                .sections
                .iter()
                .any(|(x, _)| matches!(x, Section::Header(p) if p.is_empty())),
            Self::HeaderFields => m
                .sections
                .iter()
                .any(|(x, _)| matches!(x, Section::HeaderFields(p, _) if p.is_empty())),
            Self::Part(q) => m
                .sections
                .iter()
                .any(|(x, _)| matches!(x, Section::Part(p) if p == q)),
            Self::OtherSection => false,
        }
    }
}

/// Whether a LIST `pattern` (reference included) matches `mailbox`: `*` matches anything,
/// `%` anything but the hierarchy delimiter (RFC 3501 6.3.8); `INBOX` in any case. O(n*m).
fn list_match(pattern: &str, mailbox: &Mailbox, delimiter: Option<u8>) -> bool {
    let upper;
    let (pattern, name) = if mailbox.is_inbox() {
        upper = pattern.to_ascii_uppercase();
        (upper.as_bytes(), &b"INBOX"[..])
    } else {
        (pattern.as_bytes(), mailbox.as_str().as_bytes())
    };
    let m = pattern.len();
    // cur[j]: pattern[..j] matches the name read so far.
    let mut cur = vec![false; m + 1];
    let mut next = vec![false; m + 1];
    cur[0] = true;
    for j in 1..=m {
        cur[j] = cur[j - 1] && matches!(pattern[j - 1], b'*' | b'%');
    }
    for &c in name {
        next[0] = false;
        for j in 1..=m {
            next[j] = match pattern[j - 1] {
                b'*' => next[j - 1] || cur[j],
                b'%' => next[j - 1] || (cur[j] && Some(c) != delimiter),
                p => cur[j - 1] && p == c,
            };
        }
        std::mem::swap(&mut cur, &mut next);
    }
    cur[m]
}

/// Turn `tag UID SEARCH keys` into `tag UID SEARCH RETURN (ALL) keys` (RFC 4731).
fn add_return_all(pieces: &mut VecDeque<Piece>, tag: &str) {
    let prefix = format!("{tag} UID SEARCH ");
    match pieces.front_mut() {
        Some(Piece::Bytes(b)) if b.starts_with(prefix.as_bytes()) => {
            let rest = b.split_off(prefix.len());
            b.extend_from_slice(b"RETURN (ALL) ");
            b.extend_from_slice(&rest);
        }
        _ => {}
    }
}

fn base64_encode(raw: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        assert_eq!(base64_encode(b""), "");
        assert_eq!(base64_encode(b"f"), "Zg==");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert_eq!(base64_encode(b"foo"), "Zm9v");
        assert_eq!(base64_encode(b"foob"), "Zm9vYg==");
        assert_eq!(
            base64_encode(b"alice\0vmmaster\0masterpw"),
            "YWxpY2UAdm1tYXN0ZXIAbWFzdGVycHc="
        );
    }

    #[test]
    fn expunge_shifts_known_sequence_numbers() {
        let mut v = MailboxView {
            exists: 4,
            ..MailboxView::default()
        };
        for (s, u) in [(1, 10), (2, 20), (3, 30), (4, 40)] {
            v.learn(s, Uid::new(u).unwrap());
        }
        assert_eq!(v.expunge(2), Uid::new(20));
        assert_eq!(v.exists, 3);
        assert_eq!(v.uids.get(&2).copied(), Uid::new(30));
        assert_eq!(v.uids.get(&3).copied(), Uid::new(40));
        assert_eq!(v.uids.get(&4), None);
    }
}
