//! The one error type of the crate, split by whose fault it is: caller, server, time or limits.

use crate::types::RawBytes;
pub use imapvm_types::ResponseCode;

/// Everything that can go wrong. Per-command failures arrive in [`crate::Event::Completed`];
/// connection-fatal ones in [`crate::Event::Failed`] and are sticky: [`crate::Connection::error`]
/// keeps it, and every later command (and [`crate::Connection::idle_done`],
/// [`crate::Connection::tls_established`]) returns that same error, for which
/// [`Error::is_fatal`] is true.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The caller asked for something the protocol state or capabilities do not allow.
    #[error("misuse: {0}")]
    Misuse(#[from] Misuse),
    /// The server answered NO or BAD (tagged), e.g. `NO [OVERQUOTA]`.
    #[error("{0}")]
    Refused(#[from] Refusal),
    /// The server broke the protocol; the offending bytes are kept. Fatal.
    #[error("{0}")]
    Misbehaviour(#[from] Misbehaviour),
    /// A configured size or count limit was hit.
    #[error("{0}")]
    Limit(#[from] LimitExceeded),
    /// A deadline passed (command, greeting, continuation).
    #[error("timed out waiting for {waiting_for}")]
    Timeout {
        /// What the core was waiting for, e.g. `APPEND` or `greeting`.
        waiting_for: String,
    },
    /// The connection ended: the server said BYE or closed the stream.
    #[error("{0}")]
    Closed(#[from] Closed),
}

impl Error {
    /// Whether this error ended the connection (the runtime must reconnect).
    pub fn is_fatal(&self) -> bool {
        match self {
            Self::Misuse(_) | Self::Refused(_) => false,
            Self::Limit(l) => l.kind != LimitKind::UntaggedPerCommand,
            Self::Misbehaviour(_) | Self::Timeout { .. } | Self::Closed(_) => true,
        }
    }

    /// The response code of a refusal, if any.
    pub fn refusal_code(&self) -> Option<&ResponseCode> {
        match self {
            Self::Refused(r) => r.code.as_ref(),
            _ => None,
        }
    }
}

/// Caller misuse: the command was not sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Misuse {
    /// The command is not valid in the connection's (projected) state.
    #[error("{command} is not allowed in state {state}")]
    WrongState {
        /// The command.
        command: &'static str,
        /// The state name.
        state: &'static str,
    },
    /// The server advertised `LOGINDISABLED`.
    #[error("the server advertised LOGINDISABLED; use STARTTLS or AUTHENTICATE")]
    LoginDisabled,
    /// The command needs a capability the server did not advertise.
    #[error("{command} needs the {capability} capability")]
    MissingCapability {
        /// The command.
        command: &'static str,
        /// The capability.
        capability: &'static str,
    },
    /// The command needs an extension that must first be turned on with `ENABLE` (RFC 5161),
    /// e.g. the VANISHED fetch modifier before `ENABLE QRESYNC` succeeded.
    #[error("{command} needs {capability} to be ENABLEd first")]
    NotEnabled {
        /// The command.
        command: &'static str,
        /// The extension to ENABLE.
        capability: &'static str,
    },
    /// An argument cannot be encoded (NUL, CR/LF, empty list...).
    #[error("{command}: invalid argument: {reason}")]
    InvalidArgument {
        /// The command.
        command: &'static str,
        /// Why.
        reason: String,
    },
    /// `idle_done` without an active IDLE.
    #[error("no IDLE is active")]
    NotIdling,
    /// A command was issued while IDLE is active; call `idle_done` first.
    #[error("IDLE is active; call idle_done first")]
    Idling,
    /// `tls_established` without a STARTTLS hand-off pending.
    #[error("no STARTTLS upgrade is pending")]
    NoUpgradePending,
}

/// NO or BAD.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefusalKind {
    /// `NO`: the command failed.
    No,
    /// `BAD`: the server did not understand the command.
    Bad,
}

/// A tagged NO/BAD with its response code and text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{command} refused: {kind:?}{} {text}{}", .code.as_ref().map(|c| format!(" [{c}]")).unwrap_or_default(), .sasl_error.as_ref().map(|e| format!(" (SASL error: {})", printable(&e.0))).unwrap_or_default())]
pub struct Refusal {
    /// The command that was refused.
    pub command: &'static str,
    /// NO or BAD.
    pub kind: RefusalKind,
    /// The response code (`OVERQUOTA`, `AUTHENTICATIONFAILED`, `TRYCREATE`...).
    pub code: Option<ResponseCode>,
    /// Human-readable text.
    pub text: String,
    /// Whether the refusal came in place of the `+` for a synchronising literal.
    pub before_literal: bool,
    /// AUTHENTICATE with OAUTHBEARER or XOAUTH2: the error the server sent as a challenge
    /// before its NO, decoded from base64 (a JSON object such as `{"status":"invalid_token"}`,
    /// RFC 7628 §3.2.2), at most 1 KiB. `None` for every other refusal.
    pub sasl_error: Option<RawBytes>,
}

/// `bytes` from the server as text for an error message: UTF-8 as it is (lossily), control
/// characters escaped.
fn printable(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for c in String::from_utf8_lossy(bytes).chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The server broke the protocol.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("server misbehaved: {reason}: {bytes}")]
pub struct Misbehaviour {
    /// What was wrong.
    pub reason: String,
    /// The offending bytes (truncated to 8 KiB).
    pub bytes: RawBytes,
}

impl Misbehaviour {
    pub(crate) fn new(reason: impl Into<String>, bytes: &[u8]) -> Self {
        const KEEP: usize = 8 * 1024;
        Self {
            reason: reason.into(),
            bytes: RawBytes(bytes[..bytes.len().min(KEEP)].to_vec()),
        }
    }
}

/// Which limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LimitKind {
    /// One line (without its literals).
    LineLength,
    /// One literal's announced size.
    LiteralSize,
    /// One whole response (lines and literals).
    ResponseSize,
    /// Untagged responses collected for one command (not fatal: that command fails).
    UntaggedPerCommand,
}

/// A limit was exceeded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("limit exceeded: {kind:?} {actual} > {max}")]
pub struct LimitExceeded {
    /// Which limit.
    pub kind: LimitKind,
    /// The value seen (or announced).
    pub actual: u64,
    /// The configured maximum.
    pub max: u64,
}

/// How the connection ended.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Closed {
    /// The server said `* BYE`.
    #[error("server said BYE{}: {text}", .code.as_ref().map(|c| format!(" [{c}]")).unwrap_or_default())]
    Bye {
        /// Response code.
        code: Option<ResponseCode>,
        /// Text.
        text: String,
    },
    /// The stream ended.
    #[error("connection closed by peer{}", if *.inside_literal { " inside a literal" } else if *.inside_line { " inside a line" } else { "" })]
    Eof {
        /// Whether it ended while a literal was being received.
        inside_literal: bool,
        /// Whether it ended in the middle of a line.
        inside_line: bool,
    },
    /// LOGOUT completed.
    #[error("logged out")]
    LoggedOut,
}
