//! The one error type of the crate, split by whose fault it is: the caller's (misuse), Asterisk's
//! answer (refused), the peer's (misbehaviour), a size bound, time, or the connection's end.

use std::fmt;

/// Everything that can go wrong on an AGI channel.
///
/// Per-command failures (`510`, `511`, `520`, a result the command cannot have) arrive in
/// [`crate::Event::Response`] and leave the channel usable. Fatal ones arrive in
/// [`crate::Event::Failed`] and are sticky: every later [`crate::Channel::send`] returns the
/// same error. [`Error::is_fatal`] tells them apart; [`Error::is_hangup`] tells "the call is
/// over" apart from real faults.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The caller asked for something the protocol or the channel's state does not allow.
    /// Nothing was sent.
    #[error("misuse: {0}")]
    Misuse(#[from] Misuse),
    /// Asterisk answered the command with `510`, `511`, `520` (or another non-200 code).
    #[error("{0}")]
    Refused(#[from] Refusal),
    /// The peer sent something Asterisk's `res_agi` never sends; the offending bytes are kept
    /// (bounded, and `***` when the command in flight was sensitive).
    #[error("{0}")]
    Misbehaviour(#[from] Misbehaviour),
    /// A size bound ([`crate::Limits`], or Asterisk's own command-line limits) was hit.
    #[error("{0}")]
    Limit(#[from] LimitExceeded),
    /// A deadline passed.
    #[error("timed out waiting for {waiting_for}")]
    Timeout {
        /// What the channel was waiting for.
        waiting_for: WaitingFor,
    },
    /// The peer closed the connection.
    #[error("{0}")]
    Closed(#[from] Closed),
}

impl Error {
    /// Whether this error ended the channel (every later call returns it again).
    ///
    /// Misuse and refusals are not fatal; neither is a well-framed response whose result does
    /// not fit its command ([`MisbehaviourReason::UnexpectedResult`]): Asterisk is still in
    /// step, so the next command can go out.
    pub fn is_fatal(&self) -> bool {
        match self {
            Self::Misuse(_) | Self::Refused(_) => false,
            Self::Misbehaviour(m) => !matches!(m.reason, MisbehaviourReason::UnexpectedResult),
            Self::Limit(l) => !matches!(l.kind, LimitKind::CommandLine | LimitKind::CommandWords),
            Self::Timeout { .. } | Self::Closed(_) => true,
        }
    }

    /// Whether this error only says that the call is over: a `511` (the command is not
    /// permitted on a dead channel) or the connection closed. After a caller hangs up,
    /// Asterisk answers channel commands with `511`; that is the normal end of a call, not a
    /// fault.
    pub fn is_hangup(&self) -> bool {
        match self {
            Self::Refused(r) => r.kind == RefusalKind::DeadChannel,
            Self::Closed(_) => true,
            _ => false,
        }
    }

    /// The same error with its kept bytes replaced by `***` (for a sensitive command).
    pub(crate) fn redacted(self) -> Self {
        match self {
            Self::Misbehaviour(m) => Self::Misbehaviour(Misbehaviour {
                reason: m.reason,
                bytes: RawBytes(b"***".to_vec()),
            }),
            other => other,
        }
    }

    pub(crate) fn invalid(what: &'static str, reason: &'static str) -> Self {
        Self::Misuse(Misuse::InvalidArgument { what, reason })
    }

    pub(crate) fn misbehaviour(reason: MisbehaviourReason, bytes: &[u8]) -> Self {
        Self::Misbehaviour(Misbehaviour::new(reason, bytes))
    }

    pub(crate) fn limit(kind: LimitKind, actual: usize, max: usize) -> Self {
        Self::Limit(LimitExceeded {
            kind,
            actual: actual as u64,
            max: max as u64,
        })
    }
}

/// Caller misuse: nothing was sent. Never caused by what the peer sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Misuse {
    /// AGI is lock-step: a command is still waiting for its response. Asterisk would take a
    /// second line as an interruption of the first command, so it is never sent.
    #[error("{in_flight} is still waiting for its response (AGI is lock-step)")]
    Busy {
        /// The command in flight.
        in_flight: &'static str,
    },
    /// The environment has not arrived yet; Asterisk reads commands only after sending it.
    #[error("the AGI environment has not arrived yet")]
    NotReady,
    /// [`crate::Channel::close`] was called: no more commands.
    #[error("the channel was closed by this side")]
    Closed,
    /// A value cannot be put on the wire (a space in a sound name, a line break in a text,
    /// a timeout beyond Asterisk's `int`...).
    #[error("invalid {what}: {reason}")]
    InvalidArgument {
        /// Which value or command.
        what: &'static str,
        /// Why.
        reason: &'static str,
    },
}

/// How Asterisk refused a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefusalKind {
    /// `510 Invalid or unknown command`.
    InvalidCommand,
    /// `511 Command Not Permitted on a dead channel or intercept routine`: the caller hung up.
    DeadChannel,
    /// `520`: wrong argument count or format (with usage text in the multi-line form).
    Usage,
    /// Another code (`503 result=-2 Memory allocation failure`, ...).
    Other,
}

/// A command answered with a code other than 200.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{command} refused: {code} {text}")]
pub struct Refusal {
    /// The command that was refused, e.g. `STREAM FILE`.
    pub command: &'static str,
    /// What kind of refusal.
    pub kind: RefusalKind,
    /// The numeric code (510, 511, 520, ...).
    pub code: u16,
    /// The text of the first line after the code.
    pub text: String,
    /// The usage lines of a multi-line `520-` answer (bounded by [`crate::Limits`]).
    pub usage: Vec<String>,
}

/// Why the peer's bytes are not what Asterisk sends.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MisbehaviourReason {
    /// A line of the environment is not `agi_key: value`.
    NotAnEnvironmentLine,
    /// An environment key appeared twice.
    DuplicateKey(String),
    /// An environment key Asterisk always sends is missing.
    MissingKey(&'static str),
    /// An environment value cannot be read (a priority that is not a number, ...).
    BadValue(&'static str),
    /// `agi_arg_N` out of order: a gap, a duplicate, or not numbered from 1.
    ArgumentOutOfOrder,
    /// The response line does not follow `NNN text` / `NNN-text` / `200 result=...`.
    BadResponse,
    /// A response line is not UTF-8.
    NotUtf8,
    /// A line arrived while no command was waiting for a response.
    UnexpectedLine,
    /// The input ends inside a line, inside a block, or before the environment's blank line.
    Incomplete,
    /// The response is well formed but not a result this command can have (e.g.
    /// `result=7` for `WAIT FOR DIGIT`). Not fatal: only that command fails.
    UnexpectedResult,
}

impl fmt::Display for MisbehaviourReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAnEnvironmentLine => {
                f.write_str("an environment line is not `agi_key: value`")
            }
            Self::DuplicateKey(k) => write!(f, "environment key {k} appears twice"),
            Self::MissingKey(k) => write!(f, "environment key {k} is missing"),
            Self::BadValue(k) => write!(f, "environment key {k} has an unreadable value"),
            Self::ArgumentOutOfOrder => f.write_str("agi_arg_N lines are not numbered 1, 2, 3..."),
            Self::BadResponse => f.write_str("not an AGI response line"),
            Self::NotUtf8 => f.write_str("a response line is not UTF-8"),
            Self::UnexpectedLine => f.write_str("a line arrived while no command was in flight"),
            Self::Incomplete => f.write_str("the input ends before the line or block does"),
            Self::UnexpectedResult => f.write_str("a result this command cannot have"),
        }
    }
}

/// Bytes kept for a log line: at most [`RawBytes::KEEP`] of them, shown escaped.
#[derive(Clone, PartialEq, Eq)]
pub struct RawBytes(Vec<u8>);

impl RawBytes {
    /// How many bytes are kept at most.
    pub const KEEP: usize = 256;

    /// The kept bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for RawBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.0.escape_ascii())
    }
}

impl fmt::Debug for RawBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The peer broke the protocol.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("AGI peer misbehaved: {reason}: {bytes}")]
pub struct Misbehaviour {
    /// What was wrong.
    pub reason: MisbehaviourReason,
    /// The offending bytes (the first [`RawBytes::KEEP`]).
    pub bytes: RawBytes,
}

impl Misbehaviour {
    pub(crate) fn new(reason: MisbehaviourReason, bytes: &[u8]) -> Self {
        Self {
            reason,
            bytes: RawBytes(bytes[..bytes.len().min(RawBytes::KEEP)].to_vec()),
        }
    }
}

/// Which bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LimitKind {
    /// One line from the peer, without its LF ([`crate::Limits::max_line`]).
    LineLength,
    /// Lines of the environment ([`crate::Limits::max_env_lines`]).
    EnvironmentLines,
    /// Bytes of the environment ([`crate::Limits::max_env_bytes`]).
    EnvironmentBytes,
    /// Usage lines of one `520-` answer ([`crate::Limits::max_usage_lines`]).
    UsageLines,
    /// An encoded command line, LF included, beyond what `res_agi` reads
    /// ([`crate::MAX_COMMAND_LINE`]). Not fatal: nothing was sent.
    CommandLine,
    /// Words of an encoded command beyond `res_agi`'s `parse_args`
    /// ([`crate::MAX_COMMAND_WORDS`]). Not fatal: nothing was sent.
    CommandWords,
}

/// A bound was exceeded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("AGI limit exceeded: {kind:?} {actual} > {max}")]
pub struct LimitExceeded {
    /// Which bound.
    pub kind: LimitKind,
    /// What came (or would have been sent).
    pub actual: u64,
    /// The bound.
    pub max: u64,
}

/// What the channel was waiting for when time ran out or the connection closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitingFor {
    /// The `agi_*` environment block.
    Environment,
    /// The response to a command, e.g. `RECORD FILE`.
    Response {
        /// The command's name.
        command: &'static str,
    },
}

impl fmt::Display for WaitingFor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Environment => f.write_str("the AGI environment"),
            Self::Response { command } => write!(f, "the response to {command}"),
        }
    }
}

/// The peer closed the connection.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "AGI connection closed{}{}{}",
    .waiting_for.map(|w| format!(" while waiting for {w}")).unwrap_or_default(),
    if *.partial_line { " inside a line" } else { "" },
    if *.hangup_seen { " after HANGUP" } else { "" }
)]
pub struct Closed {
    /// What was awaited; `None` when the channel was idle (Asterisk ended the AGI).
    pub waiting_for: Option<WaitingFor>,
    /// Whether an incomplete line was buffered.
    pub partial_line: bool,
    /// Whether a `HANGUP` line had arrived before.
    pub hangup_seen: bool,
}
