//! The client state machine: commands in, bytes out; bytes in, events out; `now` in,
//! deadlines out.
//!
//! [`Connection`] (this file) is the orchestrator: its state, its constructor, the getters
//! and the `handle_*`/`poll_*` families. Every piece of sub-state with an invariant of its
//! own sits in a sibling file with a narrow API, as in quinn-proto's `connection/`:
//!
//! * `event.rs`: what comes out ([`Event`], [`Outcome`], [`Unsolicited`], [`Greeting`],
//!   [`Diagnostic`], [`Stats`]); data only, and exhaustive, so a driver matches it with no
//!   wildcard.
//! * `state.rs`: [`State`], [`Capabilities`], the IDLE sub-state, the state predicates.
//! * `commands.rs`: family C, the commands ([`CommandId`], `Kind` and its pipelining
//!   tables, `check`, tag allocation); a command only queues.
//! * `send.rs`: the send flow (queued command → in flight → [`Transmit`]), the wait for `+`.
//! * `route.rs` and `route/fetch.rs`: the receive flow, which in-flight command each
//!   response belongs to, and the typed outcome at its tagged completion.
//! * `view.rs`: the sequence-number view of the selected mailbox, the only place that knows
//!   sequence numbers [INV-2].
//! * `timer.rs`: [`Timer`] and the timer table, every deadline by name; `poll_timeout` is
//!   its minimum.

use crate::config::{Config, ConfigError};
use crate::convert;
use crate::error::{Closed, Error, LimitExceeded, LimitKind, Misbehaviour, Misuse, ResponseCode};
use crate::esearch;
use crate::framing::Framer;
use crate::literals::LiteralPatches;
use crate::types::RawBytes;
use imap_codec::decode::Decoder;
use imap_codec::fragmentizer::FragmentInfo;
use imap_codec::imap_types as t;
use imap_codec::{GreetingCodec, ResponseCodec};
use imapvm_types::Capabilities;
use std::collections::{BTreeSet, VecDeque};
use std::time::Instant;
use t::response::Code;

mod commands;
mod event;
mod route;
mod send;
mod state;
mod timer;
mod view;

pub use commands::CommandId;
pub use event::{Diagnostic, Event, Greeting, Outcome, Stats, Unsolicited};
pub use send::Transmit;
pub use state::State;
pub use timer::Timer;

use commands::Kind;
use route::{Acc, InFlight, Route};
use send::{Pending, Piece, Sending, insert_after_verb};
use state::IdleState;
use view::MailboxView;

/// A sans-IO IMAP client connection.
///
/// It reads no clock and touches no socket: the runtime moves bytes and time in and out.
/// Its methods come in four families, as quinn-proto's `Connection`'s do:
///
/// * **A. Getters** ([`state`](Self::state), [`capabilities`](Self::capabilities),
///   [`stats`](Self::stats), [`error`](Self::error), ...): read only.
/// * **B. `handle_*`, the inputs**: [`handle_input`](Self::handle_input) (bytes read from
///   the server), [`handle_eof`](Self::handle_eof) (the stream ended),
///   [`handle_timeout`](Self::handle_timeout) (the deadline from `poll_timeout` passed),
///   and [`tls_established`](Self::tls_established) after a STARTTLS hand-off.
/// * **C. Commands** ([`select`](Self::select), [`uid_fetch`](Self::uid_fetch), ...,
///   [`idle_done`](Self::idle_done)): each is checked and queued at once and returns a
///   [`CommandId`] (or a [`Misuse`](crate::Misuse) error, and nothing is queued). Nothing is
///   written until the driver polls. Every `CommandId` ends in exactly one
///   [`Event::Completed`].
/// * **D. `poll_*`, the outputs**: [`poll_transmit`](Self::poll_transmit) (bytes to write),
///   [`poll_event`](Self::poll_event) (results, unsolicited data, diagnostics, failure) and
///   [`poll_timeout`](Self::poll_timeout) (when to call `handle_timeout`).
///
/// **Drain order.** After every B or C call the driver
/// 1. writes every [`poll_transmit`](Self::poll_transmit) until `None`, each completely and
///    in order;
/// 2. takes every [`poll_event`](Self::poll_event) until `None`;
/// 3. arms its one timer at [`poll_timeout`](Self::poll_timeout) (none for `None`) and calls
///    [`handle_timeout`](Self::handle_timeout) when it fires.
///
/// **Time.** `now` is an `Instant` of one monotonic clock that never goes backwards from one
/// call to the next; the core never reads a clock, so tests pass simulated instants. The
/// deadlines `poll_timeout` returns are instants of the same clock; each has a name
/// ([`Timer`], [`deadline`](Self::deadline)).
///
/// **Failure is sticky.** A fatal error arrives once as [`Event::Failed`] (and as the
/// result of every command in flight or queued); then [`error`](Self::error) keeps it and
/// every later command returns that same error.
///
/// The B and D families are also the [`imapvm_types::sansio::Core`] implementation, so one
/// generic driver runs this core and the AMI one.
#[derive(Debug)]
pub struct Connection {
    config: Config,
    state: State,
    /// `None` while unknown.
    caps: Option<Capabilities>,
    /// The capabilities discarded at STARTTLS offered SASL-IR: while the new ones are not
    /// known, AUTHENTICATE sends its initial response inline (`commands.rs`).
    sasl_ir_before_tls: bool,
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

impl Connection {
    /// A new connection that waits for the server greeting (deadline `now + greeting_timeout`).
    ///
    /// The configuration is checked first ([`Config::validate`]): a value out of bounds is
    /// an error naming the field, never silently repaired.
    pub fn new(config: Config, now: Instant) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            greeting_deadline: Some(now + config.greeting_timeout),
            config,
            state: State::Greeting,
            caps: None,
            sasl_ir_before_tls: false,
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
        })
    }

    /// The current protocol state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The server's capabilities as last reported; `None` until the server told them, and
    /// again after STARTTLS and after a login whose answer did not carry them (ask with
    /// [`capability`](Self::capability)).
    pub fn capabilities(&self) -> Option<&Capabilities> {
        self.caps.as_ref()
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

    /// Gives back the capacity the queues and the input buffer grew to (a pipelined flight
    /// grows them, and they otherwise keep it for the connection's life), keeping what they
    /// hold. For a connection about to wait long (IDLE), when thousands wait at once.
    pub fn shrink_buffers(&mut self) {
        self.pending.shrink_to_fit();
        self.in_flight.shrink_to_fit();
        self.urgent.shrink_to_fit();
        self.events.shrink_to_fit();
        self.framer.shrink();
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

    /// When `timer` fires, if it is armed (see [`Timer`]); [`poll_timeout`](Self::poll_timeout)
    /// is the earliest of these.
    pub fn deadline(&self, timer: Timer) -> Option<Instant> {
        self.timers().find(|(t, _)| *t == timer).map(|(_, at)| at)
    }

    /// The next bytes to write, or `None` when the core must wait for the server.
    #[must_use]
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

    /// The next event (completions, unsolicited data, diagnostics, failure).
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers().map(|(_, at)| at).min()
    }

    /// Time passed: every [`Timer`] whose deadline is `now` or earlier fires, in the order of
    /// the timer table. A command past its deadline (or the greeting) fails the connection;
    /// a running IDLE is renewed (every `idle_refresh`, or after `idle_silence` without
    /// input); a keepalive NOOP is queued.
    pub fn handle_timeout(&mut self, now: Instant) {
        let expired: Vec<Timer> = self
            .timers()
            .filter(|(_, at)| now >= *at)
            .map(|(timer, _)| timer)
            .collect();
        for timer in expired {
            // An earlier one may have disarmed it (a failure, or both IDLE timers at once).
            if self.deadline(timer).is_none_or(|at| now < at) {
                continue;
            }
            match timer {
                Timer::Greeting => self.fail(Error::Timeout {
                    waiting_for: "greeting".into(),
                }),
                Timer::Command(id) => {
                    let what = self
                        .in_flight
                        .iter()
                        .find(|f| f.id == id)
                        .map_or("a command", |f| f.kind.name());
                    self.fail(Error::Timeout {
                        waiting_for: what.to_owned(),
                    });
                }
                Timer::IdleRefresh | Timer::IdleSilence => {
                    if let Some(idle) = &mut self.idle {
                        idle.done_sent = true;
                        idle.refreshing = true;
                        let tag = idle.tag.clone();
                        self.urgent.push_back(b"DONE\r\n".to_vec());
                        self.set_deadline(&tag, now);
                    }
                }
                Timer::Keepalive => self.enqueue_internal_noop(),
            }
        }
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
                        self.framer.reserve_literal(a.length);
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
    /// forgotten (ask again with CAPABILITY, or learn them from the login's tagged OK; only
    /// whether the forgotten list had SASL-IR is kept, for the login's syntax) and commands
    /// flow over the new stream.
    pub fn tls_established(&mut self) -> Result<(), Error> {
        self.sticky()?;
        if self.state != State::UpgradePending {
            return Err(Misuse::NoUpgradePending.into());
        }
        self.state = State::NotAuthenticated;
        self.caps = None;
        self.framer = Framer::new();
        self.framed = self.enqueued;
        self.message_len = 0;
        self.in_literal = false;
        self.literals.clear();
        Ok(())
    }

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
            self.caps = Some(state::capabilities_from_codec(c.as_ref()));
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

    /// `Err` with the sticky error once the connection failed: later commands return it
    /// as it is (rustls: "yield the same error").
    pub(super) fn sticky(&self) -> Result<(), Error> {
        match &self.error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

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
}

/// The one interface of imapvm's sans-IO cores, for a generic driver: each method is the
/// inherent method of the same name (B and D of the four families; commands stay inherent).
impl imapvm_types::sansio::Core for Connection {
    type Transmit = Transmit;
    type Event = Event;

    fn handle_input(&mut self, bytes: &[u8], now: Instant) {
        Connection::handle_input(self, bytes, now);
    }

    fn handle_eof(&mut self) {
        Connection::handle_eof(self);
    }

    fn handle_timeout(&mut self, now: Instant) {
        Connection::handle_timeout(self, now);
    }

    fn poll_transmit(&mut self, now: Instant) -> Option<Transmit> {
        Connection::poll_transmit(self, now)
    }

    fn poll_event(&mut self) -> Option<Event> {
        Connection::poll_event(self)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        Connection::poll_timeout(self)
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
