//! The one error type of the crate, in `imapvm-proto`'s shape: split by whose fault it is
//! (the caller, the server, time, limits) so one driver can treat both cores alike.

/// Everything that can go wrong talking AMI. A fatal error ([`Error::is_fatal`]) arrives once
/// as [`crate::Event::Failed`] and is sticky: [`crate::Client::error`] keeps it and every later
/// [`crate::Client::send`] returns that same error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The caller asked for something impossible; nothing was sent.
    #[error("misuse: {0}")]
    Misuse(#[from] Misuse),
    /// The server refused the login. Fatal.
    #[error("{0}")]
    Refused(#[from] Refusal),
    /// The server sent something that is not AMI. Fatal.
    #[error("{0}")]
    Misbehaviour(#[from] Misbehaviour),
    /// The server exceeded a size bound. Fatal.
    #[error("{0}")]
    Limit(#[from] LimitExceeded),
    /// Nothing came back in time. Fatal.
    #[error("AMI timeout waiting for {waiting_for}")]
    Timeout {
        /// What was awaited.
        waiting_for: String,
    },
    /// The session ended. Fatal.
    #[error("{0}")]
    Closed(#[from] Closed),
}

impl Error {
    /// Whether this error ended the session (the driver must reconnect). Only caller misuse
    /// leaves the session usable.
    pub fn is_fatal(&self) -> bool {
        match self {
            Self::Misuse(_) => false,
            Self::Refused(_)
            | Self::Misbehaviour(_)
            | Self::Limit(_)
            | Self::Timeout { .. }
            | Self::Closed(_) => true,
        }
    }
}

/// Caller misuse: the action was not built or not queued. Never caused by the server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Misuse {
    /// A header (or action) name that is not an AMI token (letters, digits, `-`, `_`).
    #[error("`{key}` is not a valid AMI header name")]
    InvalidHeaderName {
        /// The name given.
        key: String,
    },
    /// `Action` or `ActionID` given as a header: the client sets them.
    #[error("`{key}` is set by the client, not by the caller")]
    ReservedHeader {
        /// The header.
        key: String,
    },
    /// A header value with CR or LF, which would inject lines into the action.
    #[error("the value of `{key}` contains a line break")]
    LineBreak {
        /// The header whose value it is.
        key: String,
    },
    /// [`crate::Limits::max_outstanding`] actions are already queued or awaiting a response.
    #[error("{outstanding} actions are already outstanding (limit {limit})")]
    TooManyOutstanding {
        /// Actions queued or awaiting a response.
        outstanding: usize,
        /// The bound.
        limit: usize,
    },
}

/// The server refused an action the session depends on (the login).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("AMI {action} refused: {message}")]
pub struct Refusal {
    /// The action, e.g. `Login`.
    pub action: &'static str,
    /// The server's `Message:` text.
    pub message: String,
}

/// The server sent something that is not AMI. The offending bytes are kept (lossily
/// decoded, shortened to 200 bytes) so a log shows what came.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("AMI server misbehaved: {reason} (received {received:?})")]
pub struct Misbehaviour {
    /// What was wrong.
    pub reason: String,
    /// The bytes in question.
    pub received: String,
}

/// Which bound the server exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LimitKind {
    /// One line ([`crate::Limits::max_line`]).
    LineLength,
    /// Header lines in one packet ([`crate::Limits::max_packet_lines`]).
    PacketLines,
}

/// A size bound was exceeded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("AMI server exceeded a limit: {kind:?} {actual} > {max}")]
pub struct LimitExceeded {
    /// Which bound.
    pub kind: LimitKind,
    /// What came.
    pub actual: usize,
    /// The bound.
    pub max: usize,
}

/// How the session ended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Closed {
    /// The server closed the connection.
    #[error("AMI connection closed{}", if *during_login { " during login" } else { "" })]
    Eof {
        /// Whether it closed before the login completed.
        during_login: bool,
    },
    /// The session logged off ([`crate::Client::logoff`] answered).
    #[error("AMI session logged off")]
    LoggedOff,
}
