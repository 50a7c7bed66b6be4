//! [`Channel`]: the sans-IO state machine of one FastAGI connection. The environment first,
//! then one command at a time (AGI is lock-step), `HANGUP` lines wherever they come, a
//! deadline for everything awaited, bounded buffers, sticky failure.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use crate::codec::command::Command;
use crate::codec::env::{Env, EnvReader};
use crate::codec::outcome::{Outcome, Shape, unexpected};
use crate::codec::response::{Failure, Response, ResponseReader};
use crate::{Closed, Error, LimitKind, Limits, Misuse, Refusal, RefusalKind, WaitingFor};

/// How long the channel waits. Every command has a deadline: the caller's
/// ([`Request::timeout`]) or one derived from the command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// From [`Channel::new`] to the environment's blank line (Asterisk sends it at once).
    pub environment: Duration,
    /// Commands Asterisk answers at once: `ANSWER`, `SET VARIABLE`, `GET VARIABLE`,
    /// `VERBOSE`, `HANGUP`, `CHANNEL STATUS`, `SET CONTEXT`..., `NOOP`.
    pub response: Duration,
    /// Commands that play, record or wait with no bound of their own: `STREAM FILE`,
    /// `CONTROL STREAM FILE`, `GET DATA`, the `SAY` commands, `EXEC`, and `WAIT FOR DIGIT` /
    /// `RECORD FILE` without a timeout. A long message or greeting may need more: give the
    /// bound per command with [`Request::timeout`].
    pub media: Duration,
    /// Added to a command's own timeout (`WAIT FOR DIGIT`, `RECORD FILE`, the wait of
    /// `GET OPTION`) for the beep, the file's close and the round trip.
    pub slack: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            environment: Duration::from_secs(10),
            response: Duration::from_secs(10),
            media: Duration::from_secs(30 * 60),
            slack: Duration::from_secs(10),
        }
    }
}

/// Everything a [`Channel`] is configured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Config {
    /// Size bounds.
    pub limits: Limits,
    /// Deadlines.
    pub timeouts: Timeouts,
}

/// `GET OPTION` waits this long after playing when no timeout is given (the channel's
/// digit timeout, 5 s by default in Asterisk).
const GET_OPTION_DEFAULT_WAIT: Duration = Duration::from_secs(5);

/// A command as [`Channel::send`] takes it, with how to treat it.
#[derive(Clone, PartialEq, Eq)]
pub struct Request {
    command: Command,
    sensitive: bool,
    timeout: Option<Duration>,
}

impl Request {
    /// `command` with the default deadline, not sensitive.
    pub fn new(command: Command) -> Self {
        Request {
            command,
            sensitive: false,
            timeout: None,
        }
    }

    /// Marks the command sensitive (PIN entry with `GET DATA` / `WAIT FOR DIGIT`, or a
    /// command that carries a PIN): its transmit's trace shows only the command's name, and
    /// the digits and values of its response show as `***` in `Debug` [INV-6].
    #[must_use]
    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }

    /// Gives the deadline: the response must come within `timeout` after sending.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The command.
    pub fn command(&self) -> &Command {
        &self.command
    }

    /// Whether it is sensitive.
    pub fn is_sensitive(&self) -> bool {
        self.sensitive
    }

    /// The deadline after sending, from the caller or derived from the command.
    pub fn bound(&self, timeouts: &Timeouts) -> Duration {
        self.timeout
            .unwrap_or_else(|| default_bound(&self.command, timeouts))
    }
}

impl From<Command> for Request {
    fn from(command: Command) -> Self {
        Request::new(command)
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Request");
        if self.sensitive {
            d.field("command", &format_args!("{} ***", self.command.name()));
        } else {
            d.field("command", &self.command);
        }
        d.field("sensitive", &self.sensitive)
            .field("timeout", &self.timeout)
            .finish()
    }
}

fn default_bound(command: &Command, t: &Timeouts) -> Duration {
    match command {
        Command::WaitForDigit { timeout: Some(d) }
        | Command::RecordFile {
            timeout: Some(d), ..
        } => d.saturating_add(t.slack),
        Command::GetOption { timeout, .. } => t
            .media
            .saturating_add(timeout.unwrap_or(GET_OPTION_DEFAULT_WAIT))
            .saturating_add(t.slack),
        Command::WaitForDigit { timeout: None }
        | Command::RecordFile { timeout: None, .. }
        | Command::StreamFile { .. }
        | Command::ControlStreamFile { .. }
        | Command::GetData { .. }
        | Command::SayNumber { .. }
        | Command::SayDigits { .. }
        | Command::SayDateTime { .. }
        | Command::Exec { .. } => t.media,
        Command::Answer
        | Command::SetVariable { .. }
        | Command::GetVariable { .. }
        | Command::GetFullVariable { .. }
        | Command::Verbose { .. }
        | Command::Hangup { .. }
        | Command::ChannelStatus { .. }
        | Command::SetContext { .. }
        | Command::SetExtension { .. }
        | Command::SetPriority { .. }
        | Command::Noop => t.response,
    }
}

/// Names one command sent through [`Channel::send`]; its [`Event::Response`] carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CommandId(u64);

impl fmt::Display for CommandId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "agi-{}", self.0)
    }
}

/// Where the channel is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Connected; the environment's blank line has not come yet.
    AwaitingEnvironment,
    /// The environment arrived; no command is in flight.
    Ready,
    /// A command is waiting for its response.
    InFlight,
    /// [`Channel::close`] was called: no more commands; `HANGUP` lines still arrive.
    Closing,
    /// The peer closed after [`Channel::close`].
    Closed,
    /// A fatal error happened (see [`Channel::error`]).
    Failed,
}

/// What the channel has to tell its driver. Drivers match it exhaustively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The environment, once, after its blank line (boxed: it is the largest event).
    Environment(Box<Env>),
    /// The response to a command: its outcome, or why it failed (`510`, `511`, `520`, a
    /// result that does not fit the command). The channel goes on either way.
    Response {
        /// Which command.
        id: CommandId,
        /// What came of it.
        outcome: Result<Outcome, Error>,
    },
    /// The out-of-band `HANGUP` line: the caller hung up. It may come between a command and
    /// its response, and twice (again when the AGI ends). Channel commands now get `511`;
    /// `SET VARIABLE`, `GET VARIABLE`, `EXEC`, `VERBOSE` and `NOOP` still work.
    Hangup,
    /// The channel failed; every later [`Channel::send`] returns this error. A command in
    /// flight got no response.
    Failed(Error),
}

/// Bytes to write, with a log-safe trace (`Debug` shows only the trace).
#[derive(Clone, PartialEq, Eq)]
pub struct Transmit {
    bytes: Vec<u8>,
    trace: String,
}

impl Transmit {
    /// The bytes to write: one command line.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The line without its LF, or only the command's name and `***` for a sensitive one.
    pub fn trace(&self) -> &str {
        &self.trace
    }
}

impl fmt::Debug for Transmit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Transmit").field(&self.trace).finish()
    }
}

impl imapvm_types::sansio::Transmit for Transmit {
    fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn trace(&self) -> std::borrow::Cow<'_, str> {
        std::borrow::Cow::Borrowed(&self.trace)
    }
}

#[derive(Debug)]
struct InFlight {
    id: CommandId,
    name: &'static str,
    shape: Shape,
    sensitive: bool,
    deadline: Instant,
}

/// One FastAGI connection, I/O-free. See the crate docs for the driving pattern; the method
/// families are those of [`imapvm_types::sansio::Core`], which it implements.
#[derive(Debug)]
pub struct Channel {
    config: Config,
    state: State,
    error: Option<Error>,
    env_deadline: Instant,
    env: EnvReader,
    responses: ResponseReader,
    inbuf: Vec<u8>,
    /// Bytes of `inbuf` already searched for a LF.
    scanned: usize,
    in_flight: Option<InFlight>,
    next_id: u64,
    hangup_seen: bool,
    dead: bool,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
}

impl Channel {
    /// A channel for a connection Asterisk just opened, at `now`.
    pub fn new(config: Config, now: Instant) -> Self {
        Channel {
            config,
            state: State::AwaitingEnvironment,
            error: None,
            env_deadline: deadline(now, config.timeouts.environment),
            env: EnvReader::new(),
            responses: ResponseReader::new(),
            inbuf: Vec::new(),
            scanned: 0,
            in_flight: None,
            next_id: 1,
            hangup_seen: false,
            dead: false,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    // ------------------------------------------------------------------ getters

    /// Where the channel is.
    pub fn state(&self) -> State {
        self.state
    }

    /// The fatal error, once [`State::Failed`].
    pub fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }

    /// The command waiting for its response, if any.
    pub fn in_flight(&self) -> Option<CommandId> {
        self.in_flight.as_ref().map(|f| f.id)
    }

    /// Whether the caller is gone: a `HANGUP` line or a `511` came. Channel commands will get
    /// `511`; variables, `EXEC`, `VERBOSE` and `NOOP` still work.
    pub fn is_dead(&self) -> bool {
        self.dead
    }

    /// Bytes of an incomplete line held from the peer; never more than
    /// [`Limits::max_line`] (beyond it the channel fails).
    pub fn buffered(&self) -> usize {
        self.inbuf.len()
    }

    // ------------------------------------------------------------------ commands

    /// Sends a command (a [`Command`], or a [`Request`] for a sensitive one or an own
    /// deadline). Its response comes as [`Event::Response`] with the returned id.
    ///
    /// Errors: [`Misuse::NotReady`] before the environment, [`Misuse::Busy`] while another
    /// command is in flight (AGI is lock-step; a second line would interrupt the first
    /// command in Asterisk), [`Misuse::Closed`] after [`Channel::close`], a value that
    /// cannot be encoded, or the sticky error after a failure. Nothing is sent then.
    pub fn send(&mut self, request: impl Into<Request>, now: Instant) -> Result<CommandId, Error> {
        let request = request.into();
        match self.state {
            State::Failed => {
                return Err(self.error.clone().unwrap_or(Error::Misuse(Misuse::Closed)));
            }
            State::Closing | State::Closed => return Err(Misuse::Closed.into()),
            State::AwaitingEnvironment => return Err(Misuse::NotReady.into()),
            State::InFlight => {
                let in_flight = self.in_flight.as_ref().map_or("a command", |f| f.name);
                return Err(Misuse::Busy { in_flight }.into());
            }
            State::Ready => {}
        }
        let command = &request.command;
        let bytes = command.encode()?;
        let trace = if request.sensitive {
            format!("{} ***", command.name())
        } else {
            String::from_utf8_lossy(&bytes[..bytes.len() - 1]).into_owned()
        };
        let id = CommandId(self.next_id);
        self.next_id += 1;
        self.in_flight = Some(InFlight {
            id,
            name: command.name(),
            shape: Shape::of(command),
            sensitive: request.sensitive,
            deadline: deadline(now, request.bound(&self.config.timeouts)),
        });
        self.state = State::InFlight;
        self.transmits.push_back(Transmit { bytes, trace });
        Ok(id)
    }

    /// This side is done: no more commands. The driver may now half-close the socket;
    /// Asterisk answers with a last `HANGUP` line ([`Event::Hangup`]) and closes, which moves
    /// the channel to [`State::Closed`] without an error. Refused with [`Misuse::Busy`] while
    /// a command is in flight.
    pub fn close(&mut self) -> Result<(), Error> {
        match self.state {
            State::Failed => Err(self.error.clone().unwrap_or(Error::Misuse(Misuse::Closed))),
            State::InFlight => Err(Misuse::Busy {
                in_flight: self.in_flight.as_ref().map_or("a command", |f| f.name),
            }
            .into()),
            State::Closing | State::Closed => Ok(()),
            State::AwaitingEnvironment | State::Ready => {
                self.state = State::Closing;
                Ok(())
            }
        }
    }

    // ------------------------------------------------------------------ outputs

    /// The next bytes to write, in order.
    #[must_use]
    pub fn poll_transmit(&mut self, _now: Instant) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Channel::handle_timeout`] must be called next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::AwaitingEnvironment => Some(self.env_deadline),
            State::InFlight => self.in_flight.as_ref().map(|f| f.deadline),
            State::Ready | State::Closing | State::Closed | State::Failed => None,
        }
    }

    // ------------------------------------------------------------------ inputs

    /// Time has come to `now`: fails the channel if what it waits for is late.
    pub fn handle_timeout(&mut self, now: Instant) {
        let waiting_for = match (&self.state, &self.in_flight) {
            (State::AwaitingEnvironment, _) if now >= self.env_deadline => WaitingFor::Environment,
            (State::InFlight, Some(f)) if now >= f.deadline => {
                WaitingFor::Response { command: f.name }
            }
            _ => return,
        };
        self.fail(Error::Timeout { waiting_for });
    }

    /// The peer closed the connection.
    pub fn handle_eof(&mut self) {
        let waiting_for = match self.state {
            State::Failed | State::Closed => return,
            State::Closing => {
                self.state = State::Closed;
                return;
            }
            State::AwaitingEnvironment => Some(WaitingFor::Environment),
            State::InFlight => self
                .in_flight
                .as_ref()
                .map(|f| WaitingFor::Response { command: f.name }),
            State::Ready => None,
        };
        let closed = Closed {
            waiting_for,
            partial_line: !self.inbuf.is_empty() || self.responses.inside_block(),
            hangup_seen: self.hangup_seen,
        };
        self.fail(closed.into());
    }

    /// Bytes read from the peer at `now`.
    pub fn handle_input(&mut self, bytes: &[u8], _now: Instant) {
        if matches!(self.state, State::Failed | State::Closed) {
            return;
        }
        self.inbuf.extend_from_slice(bytes);
        let max_line = self.config.limits.max_line;
        let mut start = 0;
        while let Some(offset) = self.inbuf[self.scanned..].iter().position(|&b| b == b'\n') {
            let end = self.scanned + offset;
            self.scanned = end + 1;
            let length = end - start;
            if length > max_line {
                self.fail(Error::limit(LimitKind::LineLength, length, max_line));
                return;
            }
            let line = self.inbuf[start..end].to_vec();
            start = end + 1;
            self.on_line(&line);
            if matches!(self.state, State::Failed | State::Closed) {
                return;
            }
        }
        self.inbuf.drain(..start);
        self.scanned = self.inbuf.len();
        if self.inbuf.len() > max_line {
            let length = self.inbuf.len();
            self.fail(Error::limit(LimitKind::LineLength, length, max_line));
        }
    }

    fn on_line(&mut self, line: &[u8]) {
        let limits = self.config.limits;
        if self.state == State::AwaitingEnvironment {
            match self.env.push_line(line, &limits) {
                Ok(None) => {}
                Ok(Some(env)) => {
                    self.state = State::Ready;
                    self.events.push_back(Event::Environment(Box::new(env)));
                }
                Err(e) => self.fail(e),
            }
            return;
        }
        if self.state == State::Closing {
            // Leaving: only a HANGUP still matters; whatever else Asterisk says does not.
            if line == b"HANGUP" {
                self.on_hangup();
            }
            return;
        }
        let sensitive = self.in_flight.as_ref().is_some_and(|f| f.sensitive);
        let response = match self.responses.push_line(line, &limits) {
            Ok(None) => return,
            Ok(Some(response)) => response,
            Err(e) => {
                self.fail(if sensitive { e.redacted() } else { e });
                return;
            }
        };
        if response == Response::Hangup {
            self.on_hangup();
            return;
        }
        let Some(f) = self.in_flight.take() else {
            self.fail(Error::misbehaviour(
                crate::MisbehaviourReason::UnexpectedLine,
                line,
            ));
            return;
        };
        self.state = State::Ready;
        let outcome = match response {
            Response::Success(s) => f
                .shape
                .read(&s, f.sensitive)
                .ok_or_else(|| unexpected(&s, f.sensitive)),
            Response::Failure(Failure { code, text, usage }) => {
                let kind = match code {
                    510 => RefusalKind::InvalidCommand,
                    511 => RefusalKind::DeadChannel,
                    520 => RefusalKind::Usage,
                    _ => RefusalKind::Other,
                };
                if kind == RefusalKind::DeadChannel {
                    self.dead = true;
                }
                Err(Error::Refused(Refusal {
                    command: f.name,
                    kind,
                    code,
                    text,
                    usage: usage.map(|u| u.lines).unwrap_or_default(),
                }))
            }
            Response::Hangup => return,
        };
        self.events.push_back(Event::Response { id: f.id, outcome });
    }

    fn on_hangup(&mut self) {
        self.hangup_seen = true;
        self.dead = true;
        self.events.push_back(Event::Hangup);
    }

    fn fail(&mut self, error: Error) {
        self.state = State::Failed;
        self.in_flight = None;
        self.inbuf = Vec::new();
        self.scanned = 0;
        self.error = Some(error.clone());
        self.events.push_back(Event::Failed(error));
    }
}

/// `now + bound`; a bound beyond what `Instant` can hold is taken as a year.
fn deadline(now: Instant, bound: Duration) -> Instant {
    const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);
    now.checked_add(bound.min(YEAR)).unwrap_or(now)
}

impl imapvm_types::sansio::Core for Channel {
    type Transmit = Transmit;
    type Event = Event;

    fn handle_input(&mut self, bytes: &[u8], now: Instant) {
        Channel::handle_input(self, bytes, now);
    }

    fn handle_eof(&mut self) {
        Channel::handle_eof(self);
    }

    fn handle_timeout(&mut self, now: Instant) {
        Channel::handle_timeout(self, now);
    }

    fn poll_transmit(&mut self, now: Instant) -> Option<Transmit> {
        Channel::poll_transmit(self, now)
    }

    fn poll_event(&mut self) -> Option<Event> {
        Channel::poll_event(self)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        Channel::poll_timeout(self)
    }
}
