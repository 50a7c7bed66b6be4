//! The send flow: queued commands (`Pending`) go in flight and out as [`Transmit`]s when the
//! pipelining rules allow (`Kind::quiet_before`, `Kind::barrier_after`), one piece at a time.
//! A synchronising literal (and AUTHENTICATE without SASL-IR) waits for the server's `+`
//! (`on_continuation`), which also starts an IDLE, or is an OAuth mechanism's error
//! challenge, answered at once. Literal data is shared with the caller's
//! buffer, never copied, and handed out in chunks of [`Config::transmit_chunk`].
//!
//! API to the rest of the connection: `next_transmit` (behind `poll_transmit`),
//! `on_continuation` (from the receive flow), and the records `Pending`, `Piece`, `Sending`.

use super::{Acc, CommandId, Connection, Event, InFlight, Kind, MailboxView, Route, State};
use crate::error::{Error, Misbehaviour};
use crate::types::{MailboxName, RawBytes};
use imapvm_types::Capability;
use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

/// Bytes to write to the server. Literal data is shared with the caller's buffer, not copied.
/// `Debug` shows [`Transmit::trace`], so credentials never reach logs.
#[derive(Clone)]
#[must_use = "the bytes must be written to the server, completely and in order"]
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
    /// literal data by its length [INV-6].
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

impl imapvm_types::sansio::Transmit for Transmit {
    fn as_bytes(&self) -> &[u8] {
        Transmit::as_bytes(self)
    }

    fn trace(&self) -> Cow<'_, str> {
        Transmit::trace(self)
    }
}

#[derive(Clone)]
pub(super) enum Piece {
    Bytes(Vec<u8>),
    Shared(Arc<[u8]>, usize),
    /// Wait for `+` before the next piece (synchronising literal, AUTHENTICATE without IR).
    Wait,
}

#[derive(Debug)]
pub(super) struct Pending {
    pub(super) id: CommandId,
    pub(super) tag: String,
    pub(super) kind: Kind,
    pub(super) pieces: VecDeque<Piece>,
    /// Log rendering of the first line when it carries credentials.
    pub(super) label: Option<String>,
    pub(super) internal: bool,
    pub(super) acc: Acc,
    pub(super) mailbox: Option<MailboxName>,
    pub(super) route: Route,
}

#[derive(Debug)]
pub(super) struct Sending {
    pub(super) tag: String,
    pub(super) pieces: VecDeque<Piece>,
    pub(super) label: Option<String>,
}

impl Connection {
    pub(super) fn next_transmit(&mut self, now: Instant) -> Option<Transmit> {
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
            if !may_follow(next.kind, &self.in_flight) {
                return None;
            }
            let mut p = self.pending.pop_front()?;
            if p.kind == Kind::Search
                && p.route.esearch_wanted
                && self.config.use_esearch
                && self.offers(Capability::Esearch)
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
            if self.in_flight.capacity() == 0 {
                // As for `pending`: room for one after `shrink_buffers`, not four.
                self.in_flight.reserve_exact(1);
            }
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

    pub(super) fn on_continuation(&mut self, bytes: &[u8], now: Instant) {
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
        if self.on_sasl_error_challenge(bytes, now) {
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

    /// A `+` while an OAuth AUTHENTICATE waits for its answer is the server's error
    /// challenge (`crate::sasl`): keep it, answer it with the mechanism's abort line, and
    /// wait for the tagged NO. A second challenge is a misbehaviour. `false`: not such a
    /// challenge.
    fn on_sasl_error_challenge(&mut self, bytes: &[u8], now: Instant) -> bool {
        let Some((f, abort)) = self.in_flight.iter_mut().find_map(|f| {
            let abort = f.route.sasl_abort?;
            (f.kind == Kind::Authenticate).then_some((f, abort))
        }) else {
            return false;
        };
        let Acc::Sasl(challenge) = &mut f.acc else {
            return false;
        };
        if challenge.is_some() {
            let err = Misbehaviour::new("a second SASL error challenge", bytes);
            self.fail(Error::Misbehaviour(err));
            return true;
        }
        *challenge = Some(RawBytes(crate::sasl::decode_challenge(bytes)));
        let tag = f.tag.clone();
        self.urgent.push_back(abort.to_vec());
        self.set_deadline(&tag, now);
        true
    }
}

/// Whether a command of kind `next` may be sent while `in_flight` are unanswered: never
/// behind a barrier (`Kind::barrier_after`), and a `Kind::quiet_before` command only when
/// nothing is in flight.
///
/// Two exceptions pipeline a cold command behind its login. A password login (LOGIN, or
/// AUTHENTICATE without an OAuth error challenge to answer) is no barrier: the commands
/// behind it go in the same flight, and a refused login fails them with its own error
/// (`route.rs`). Except APPEND: a server that refused the login would read the message of a
/// non-synchronising literal as commands. And SELECT/EXAMINE may follow a login, NAMESPACE
/// or CAPABILITY in flight: none of these carries data of a selected mailbox.
fn may_follow(next: Kind, in_flight: &[InFlight]) -> bool {
    let password_login = |f: &InFlight| {
        matches!(f.kind, Kind::Login | Kind::Authenticate) && f.route.sasl_abort.is_none()
    };
    let blocked = in_flight.iter().any(|f| {
        if password_login(f) {
            next == Kind::Append
        } else {
            f.kind.barrier_after()
        }
    });
    if blocked {
        return false;
    }
    if !next.quiet_before() || in_flight.is_empty() {
        return true;
    }
    matches!(next, Kind::Select | Kind::Examine)
        && in_flight
            .iter()
            .all(|f| password_login(f) || matches!(f.kind, Kind::Namespace | Kind::Capability))
}

/// Turn `tag UID SEARCH keys` into `tag UID SEARCH RETURN (ALL) keys` (RFC 4731).
fn add_return_all(pieces: &mut VecDeque<Piece>, tag: &str) {
    insert_after_verb(pieces, tag, "UID SEARCH ", "RETURN (ALL) ");
}

/// Turn `tag VERB rest` (the first line of `pieces`) into `tag VERB insert rest`.
pub(super) fn insert_after_verb(pieces: &mut VecDeque<Piece>, tag: &str, verb: &str, insert: &str) {
    let prefix = format!("{tag} {verb}");
    match pieces.front_mut() {
        Some(Piece::Bytes(b)) if b.starts_with(prefix.as_bytes()) => {
            let rest = b.split_off(prefix.len());
            b.extend_from_slice(insert.as_bytes());
            b.extend_from_slice(&rest);
        }
        _ => {}
    }
}
