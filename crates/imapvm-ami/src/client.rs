//! The AMI client state machine: banner, login, actions and their responses,
//! keepalive, limits, timeouts.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use crate::packet::{Action, Packet};
use crate::{
    Closed, ConfigError, Credentials, Error, LimitExceeded, LimitKind, Misbehaviour, Misuse,
    Refusal,
};

/// Bounds on what the server may make us hold in memory [INV-7].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest line accepted, in bytes (without the line end).
    pub max_line: usize,
    /// Most header lines in one packet.
    pub max_packet_lines: usize,
    /// Most actions waiting (queued before login plus awaiting a response).
    pub max_outstanding: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line: 8 * 1024,
            max_packet_lines: 512,
            max_outstanding: 4096,
        }
    }
}

impl Limits {
    /// Every bound must be more than 0.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (field, value) in [
            ("limits.max_line", self.max_line),
            ("limits.max_packet_lines", self.max_packet_lines),
            ("limits.max_outstanding", self.max_outstanding),
        ] {
            if value == 0 {
                return Err(ConfigError::out_of_bounds(field, value, "more than 0"));
            }
        }
        Ok(())
    }
}

/// How the client behaves in time and what it asks for at login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Send a `Ping` after this long without traffic.
    pub keepalive: Duration,
    /// Fail when the banner or a response takes longer than this.
    pub response_timeout: Duration,
    /// Ask for events at login (`Events: on`). imapvm only sends actions, so
    /// the default is off: a busy PBX's event stream is not read for nothing.
    pub events: bool,
    /// Size bounds.
    pub limits: Limits,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            keepalive: Duration::from_secs(30),
            response_timeout: Duration::from_secs(10),
            events: false,
            limits: Limits::default(),
        }
    }
}

impl ClientConfig {
    /// Checks every setting; [`Client::new`] calls it. `keepalive` and `response_timeout`
    /// must be more than 0, and so must every limit.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (field, value) in [
            ("keepalive", self.keepalive),
            ("response_timeout", self.response_timeout),
        ] {
            if value.is_zero() {
                return Err(ConfigError::out_of_bounds(
                    field,
                    format!("{value:?}"),
                    "more than 0",
                ));
            }
        }
        self.limits.validate()
    }
}

/// The Login action for `credentials`, or which credential cannot be sent (a line break
/// would inject lines into the action). The secret is never shown, not even in the error.
fn login_action(credentials: &Credentials, events: bool) -> Result<Action, ConfigError> {
    let reject = |e: Error| match e {
        Error::Misuse(Misuse::LineBreak { key }) if key == "Secret" => {
            ConfigError::out_of_bounds("credentials.secret", "***", "no line breaks")
        }
        _ => ConfigError::out_of_bounds(
            "credentials.username",
            format!("{:?}", credentials.username),
            "no line breaks",
        ),
    };
    Action::new("Login")
        .and_then(|a| a.header("Username", credentials.username.clone()))
        .and_then(|a| a.header("Secret", credentials.secret.expose().to_string()))
        .and_then(|a| a.header("Events", if events { "on" } else { "off" }))
        .map_err(reject)
}

/// Names one action sent through [`Client::send`]; its response carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ActionId(u64);

impl ActionId {
    fn wire(self) -> String {
        format!("imapvm-{}", self.0)
    }
}

impl fmt::Display for ActionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "imapvm-{}", self.0)
    }
}

/// Where the session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Connected; the `Asterisk Call Manager/…` line has not come yet.
    AwaitingBanner,
    /// The Login action is out.
    LoggingIn,
    /// Logged in: actions go out as they are sent.
    Ready,
    /// A fatal error happened (see [`Client::error`]); make a new client.
    Failed,
    /// Logged off.
    Closed,
}

/// A response to one of our actions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    packet: Packet,
}

impl Response {
    /// `Response: Success` (or `Goodbye` for Logoff).
    pub fn is_success(&self) -> bool {
        matches!(self.packet.response(), Some(r) if r.eq_ignore_ascii_case("Success") || r.eq_ignore_ascii_case("Goodbye"))
    }

    /// The `Message:` text, if any.
    pub fn message(&self) -> Option<&str> {
        self.packet.get("Message")
    }

    /// The whole packet.
    pub fn packet(&self) -> &Packet {
        &self.packet
    }
}

/// What the client has to tell its driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The server greeted; `version` is what follows `Asterisk Call Manager/`.
    Banner {
        /// The AMI protocol version.
        version: String,
    },
    /// Login accepted; queued actions are going out.
    LoggedIn,
    /// The response to an action of ours.
    Response {
        /// Which action.
        id: ActionId,
        /// What the server said.
        response: Response,
    },
    /// An unsolicited event packet (`Event: …`).
    Event(Packet),
    /// A packet that answers nothing we sent (unknown ActionID, or neither
    /// a response nor an event). Kept for diagnostics, otherwise ignored.
    Unmatched(Packet),
    /// The session failed; every action in `unanswered` got no response and
    /// may be sent again on a new connection.
    Failed {
        /// The cause.
        error: Error,
        /// Actions that were sent or queued but not answered.
        unanswered: Vec<ActionId>,
    },
    /// Logged off cleanly.
    Closed,
}

/// Bytes to write, with a redacted rendering for traces (`Display`/`Debug`
/// never show a secret).
#[derive(Clone, PartialEq, Eq)]
#[must_use = "the bytes must be written to the server, completely and in order"]
pub struct Transmit {
    bytes: Vec<u8>,
    redacted: String,
}

impl Transmit {
    /// The bytes to write.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// A log-safe rendering: the values of `Secret` (and `Key`) headers are `***` [INV-6].
    pub fn trace(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.redacted)
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

impl fmt::Display for Transmit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

impl fmt::Debug for Transmit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Transmit").field(&self.redacted).finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Login,
    Ping,
    Logoff,
    Caller,
}

#[derive(Debug)]
struct Pending {
    id: ActionId,
    kind: Kind,
    name: String,
    sent_at: Instant,
}

/// The AMI protocol engine. See the crate docs for the driving pattern.
#[derive(Debug)]
pub struct Client {
    config: ClientConfig,
    /// Built (and so checked) by [`Client::new`]; its `Debug` hides the secret.
    login: Action,
    state: State,
    error: Option<Error>,
    created: Instant,
    last_activity: Instant,
    next_id: u64,
    login_id: ActionId,
    inbuf: Vec<u8>,
    lines: Vec<(String, String)>,
    queued: VecDeque<(ActionId, Action, Kind)>,
    pending: Vec<Pending>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
}

impl Client {
    /// A client for a freshly opened connection, created at `now`.
    ///
    /// The configuration is checked first ([`ClientConfig::validate`]), and so are the
    /// credentials (a line break cannot be sent): a bad value is an error naming the field,
    /// never repaired and never a failure discovered after connecting.
    pub fn new(
        credentials: Credentials,
        config: ClientConfig,
        now: Instant,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        let login = login_action(&credentials, config.events)?;
        Ok(Client {
            config,
            login,
            state: State::AwaitingBanner,
            error: None,
            created: now,
            last_activity: now,
            next_id: 2,
            login_id: ActionId(1),
            inbuf: Vec::new(),
            lines: Vec::new(),
            queued: VecDeque::new(),
            pending: Vec::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        })
    }

    /// Where the session is.
    pub fn state(&self) -> State {
        self.state
    }

    /// The sticky fatal error, once [`State::Failed`]: later calls to [`Client::send`]
    /// return it as it is.
    pub fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }

    /// Send `action`: at once when logged in, else after the login. The
    /// response arrives as [`Event::Response`] with the returned id.
    pub fn send(&mut self, action: Action, now: Instant) -> Result<ActionId, Error> {
        self.send_kind(action, Kind::Caller, now)
    }

    /// Log off; [`Event::Closed`] follows the server's `Goodbye`.
    pub fn logoff(&mut self, now: Instant) -> Result<ActionId, Error> {
        self.send_kind(Action::logoff(), Kind::Logoff, now)
    }

    fn send_kind(&mut self, action: Action, kind: Kind, now: Instant) -> Result<ActionId, Error> {
        if let Some(error) = &self.error {
            return Err(error.clone());
        }
        if self.state == State::Closed {
            return Err(Closed::LoggedOff.into());
        }
        let outstanding = self.queued.len() + self.pending.len();
        if outstanding >= self.config.limits.max_outstanding {
            return Err(Misuse::TooManyOutstanding {
                outstanding,
                limit: self.config.limits.max_outstanding,
            }
            .into());
        }
        let id = ActionId(self.next_id);
        self.next_id += 1;
        if self.state == State::Ready {
            self.transmit(id, &action, kind, now);
        } else {
            self.queued.push_back((id, action, kind));
        }
        Ok(id)
    }

    fn transmit(&mut self, id: ActionId, action: &Action, kind: Kind, now: Instant) {
        let wire = id.wire();
        self.transmits.push_back(Transmit {
            bytes: action.encode(&wire),
            redacted: action.redacted(&wire),
        });
        self.pending.push(Pending {
            id,
            kind,
            name: action.name().to_string(),
            sent_at: now,
        });
        self.last_activity = now;
    }

    /// Bytes to write next, in order; `now` is when they go out (the keepalive counts
    /// from the last byte in or out).
    #[must_use]
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Transmit> {
        let out = self.transmits.pop_front();
        if out.is_some() {
            self.last_activity = self.last_activity.max(now);
        }
        out
    }

    /// The next event for the driver.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Client::handle_timeout`] must be called next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Failed | State::Closed => None,
            State::AwaitingBanner => Some(self.created + self.config.response_timeout),
            State::LoggingIn | State::Ready => {
                let response = self
                    .pending
                    .iter()
                    .map(|p| p.sent_at + self.config.response_timeout)
                    .min();
                let keepalive = (self.state == State::Ready && self.pending.is_empty())
                    .then(|| self.last_activity + self.config.keepalive);
                response.into_iter().chain(keepalive).min()
            }
        }
    }

    /// Time has come to `now`: fail late responses, send keepalives.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.state {
            State::Failed | State::Closed => {}
            State::AwaitingBanner => {
                if now >= self.created + self.config.response_timeout {
                    self.fail(Error::Timeout {
                        waiting_for: "the AMI banner".into(),
                    });
                }
            }
            State::LoggingIn | State::Ready => {
                if let Some(late) = self
                    .pending
                    .iter()
                    .find(|p| now >= p.sent_at + self.config.response_timeout)
                {
                    let waiting_for = format!("the response to {} ({})", late.name, late.id);
                    self.fail(Error::Timeout { waiting_for });
                } else if self.state == State::Ready
                    && self.pending.is_empty()
                    && now >= self.last_activity + self.config.keepalive
                {
                    let id = ActionId(self.next_id);
                    self.next_id += 1;
                    self.transmit(id, &Action::ping(), Kind::Ping, now);
                }
            }
        }
    }

    /// The server closed the connection.
    pub fn handle_eof(&mut self) {
        if matches!(self.state, State::Failed | State::Closed) {
            return;
        }
        let during_login = self.state != State::Ready;
        self.fail(Closed::Eof { during_login }.into());
    }

    /// Bytes arrived from the server at `now`.
    pub fn handle_input(&mut self, bytes: &[u8], now: Instant) {
        if matches!(self.state, State::Failed | State::Closed) {
            return;
        }
        self.last_activity = now;
        self.inbuf.extend_from_slice(bytes);
        let mut start = 0;
        while let Some(offset) = self.inbuf[start..].iter().position(|&b| b == b'\n') {
            let end = start + offset;
            let mut line = &self.inbuf[start..end];
            if let [rest @ .., b'\r'] = line {
                line = rest;
            }
            if line.len() > self.config.limits.max_line {
                let size = line.len();
                self.fail_limit(LimitKind::LineLength, size, self.config.limits.max_line);
                return;
            }
            let text = String::from_utf8_lossy(line).into_owned();
            start = end + 1;
            self.handle_line(text, now);
            if matches!(self.state, State::Failed | State::Closed) {
                return;
            }
        }
        self.inbuf.drain(..start);
        if self.inbuf.len() > self.config.limits.max_line {
            let size = self.inbuf.len();
            self.fail_limit(LimitKind::LineLength, size, self.config.limits.max_line);
        }
    }

    fn handle_line(&mut self, line: String, now: Instant) {
        if self.state == State::AwaitingBanner {
            match line.strip_prefix("Asterisk Call Manager/") {
                Some(version) => {
                    self.events.push_back(Event::Banner {
                        version: version.trim().to_string(),
                    });
                    self.state = State::LoggingIn;
                    self.send_login(now);
                }
                None => self.fail(
                    Misbehaviour {
                        reason: "the first line is not an AMI banner".into(),
                        received: shorten(&line),
                    }
                    .into(),
                ),
            }
            return;
        }
        if line.is_empty() {
            if !self.lines.is_empty() {
                let packet = Packet::from_headers(std::mem::take(&mut self.lines));
                self.dispatch(packet, now);
            }
            return;
        }
        if self.lines.len() >= self.config.limits.max_packet_lines {
            let size = self.lines.len() + 1;
            self.fail_limit(
                LimitKind::PacketLines,
                size,
                self.config.limits.max_packet_lines,
            );
            return;
        }
        self.lines.push(Packet::parse_line(&line));
    }

    fn send_login(&mut self, now: Instant) {
        let login = self.login.clone();
        self.transmit(self.login_id, &login, Kind::Login, now);
    }

    fn dispatch(&mut self, packet: Packet, now: Instant) {
        if packet.response().is_some() {
            let index = packet
                .get("ActionID")
                .and_then(|wire| self.pending.iter().position(|p| p.id.wire() == wire));
            let Some(index) = index else {
                self.events.push_back(Event::Unmatched(packet));
                return;
            };
            let pending = self.pending.remove(index);
            let response = Response { packet };
            match pending.kind {
                Kind::Login if response.is_success() => {
                    self.state = State::Ready;
                    self.events.push_back(Event::LoggedIn);
                    while let Some((id, action, kind)) = self.queued.pop_front() {
                        self.transmit(id, &action, kind, now);
                    }
                }
                Kind::Login => {
                    let message = response.message().unwrap_or("no reason given").to_string();
                    self.fail(
                        Refusal {
                            action: "Login",
                            message,
                        }
                        .into(),
                    );
                }
                Kind::Ping => {}
                Kind::Logoff => {
                    self.state = State::Closed;
                    self.events.push_back(Event::Closed);
                }
                Kind::Caller => self.events.push_back(Event::Response {
                    id: pending.id,
                    response,
                }),
            }
        } else if packet.event().is_some() {
            self.events.push_back(Event::Event(packet));
        } else {
            self.events.push_back(Event::Unmatched(packet));
        }
    }

    fn fail_limit(&mut self, kind: LimitKind, actual: usize, max: usize) {
        self.fail(LimitExceeded { kind, actual, max }.into());
    }

    fn fail(&mut self, error: Error) {
        let mut unanswered: Vec<ActionId> = self
            .pending
            .iter()
            .filter(|p| p.kind == Kind::Caller)
            .map(|p| p.id)
            .collect();
        unanswered.extend(
            self.queued
                .iter()
                .filter(|(_, _, k)| *k == Kind::Caller)
                .map(|(id, _, _)| *id),
        );
        self.pending.clear();
        self.queued.clear();
        self.state = State::Failed;
        self.error = Some(error.clone());
        self.events.push_back(Event::Failed { error, unanswered });
    }
}

/// The one interface of imapvm's sans-IO cores, for a generic driver: each method is the
/// inherent method of the same name (actions stay inherent).
impl imapvm_types::sansio::Core for Client {
    type Transmit = Transmit;
    type Event = Event;

    fn handle_input(&mut self, bytes: &[u8], now: Instant) {
        Client::handle_input(self, bytes, now);
    }

    fn handle_eof(&mut self) {
        Client::handle_eof(self);
    }

    fn handle_timeout(&mut self, now: Instant) {
        Client::handle_timeout(self, now);
    }

    fn poll_transmit(&mut self, now: Instant) -> Option<Transmit> {
        Client::poll_transmit(self, now)
    }

    fn poll_event(&mut self) -> Option<Event> {
        Client::poll_event(self)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        Client::poll_timeout(self)
    }
}

fn shorten(text: &str) -> String {
    const MAX: usize = 200;
    if text.len() <= MAX {
        return text.to_string();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}
