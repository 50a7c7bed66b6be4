//! The runtime's one error type: which account or mailbox, and what went wrong there.

use std::time::Duration;

use imapvm_policy::Refusal;

/// Everything an operation of this crate can fail with. Every variant names the account
/// (`user@server:port`) or the mailbox (`box@context`) it happened on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The mailbox is not in voicemail.conf, or its settings cannot be used.
    #[error("{mailbox}: {reason}")]
    Config {
        /// `box@context`.
        mailbox: String,
        /// What is wrong.
        reason: String,
    },
    /// The TCP connection could not be made (or timed out: `imapopentimeout`).
    #[error("{account}: cannot connect: {source}")]
    Connect {
        /// `user@server:port`.
        account: String,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// Reading or writing the socket failed, or a read/write deadline passed.
    #[error("{account}: {what}: {source}")]
    Io {
        /// `user@server:port`.
        account: String,
        /// What was being done (`reading`, `writing`, `TLS handshake`).
        what: &'static str,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// TLS could not be set up (CA file, handshake, certificate).
    #[error("{account}: TLS: {reason}")]
    Tls {
        /// `user@server:port`.
        account: String,
        /// What failed.
        reason: String,
    },
    /// The connection would not be secure enough to send a password, or the server refused
    /// what the configuration requires (STARTTLS required but not offered, `LOGINDISABLED`).
    #[error("{account}: refusing to continue: {reason}")]
    Insecure {
        /// `user@server:port`.
        account: String,
        /// Why.
        reason: String,
    },
    /// Login failed.
    #[error("{account}: login failed: {source}")]
    Auth {
        /// `user@server:port`.
        account: String,
        /// The server's refusal or the protocol error.
        #[source]
        source: imapvm_proto::Error,
    },
    /// An IMAP command failed.
    #[error("{account}: {context}: {source}")]
    Protocol {
        /// `user@server:port`.
        account: String,
        /// The command and mailbox, e.g. `UID FETCH in INBOX`.
        context: String,
        /// The protocol error.
        #[source]
        source: imapvm_proto::Error,
    },
    /// The account failed recently; the next attempt is allowed after a back-off.
    #[error("{account}: connection failed recently, next attempt in {retry_in:?}: {last}")]
    Backoff {
        /// `user@server:port`.
        account: String,
        /// Time left before the next attempt.
        retry_in: Duration,
        /// The last failure, as text.
        last: String,
    },
    /// A folder, identity or plan decision failed.
    #[error("{mailbox}: {source}")]
    Policy {
        /// `box@context`.
        mailbox: String,
        /// The policy error.
        #[source]
        source: imapvm_policy::PolicyError,
    },
    /// The voicemail email could not be built.
    #[error("{mailbox}: building the message: {source}")]
    Build {
        /// `box@context`.
        mailbox: String,
        /// The build error.
        #[source]
        source: imapvm_message::BuildError,
    },
    /// The deposit was not stored. The recording is untouched: the caller still has it.
    #[error("{mailbox}: deposit refused: {}", reasons_text(.reasons))]
    DepositRefused {
        /// `box@context`.
        mailbox: String,
        /// Every reason (admission verdict, or the server's `NO [OVERQUOTA]`).
        reasons: Vec<DepositRefusal>,
    },
    /// A message number that the listing never gave out.
    #[error("{mailbox}: no message number {number} (the listing has {listed})")]
    NoSuchMessage {
        /// `box@context`.
        mailbox: String,
        /// The number asked for.
        number: u32,
        /// How many numbers the listing gave out.
        listed: usize,
    },
    /// The message is gone (expunged or moved by someone else) or is not this mailbox's.
    #[error("{mailbox}: message UID {uid} is no longer there (or is not this mailbox's)")]
    Vanished {
        /// `box@context`.
        mailbox: String,
        /// Its UID.
        uid: u32,
    },
    /// The folder was deleted and recreated (UIDVALIDITY changed) since the listing: numbers
    /// given out before mean nothing now. List again.
    #[error("{mailbox}: {folder} changed UIDVALIDITY ({listed} -> {current}); list again")]
    StaleListing {
        /// `box@context`.
        mailbox: String,
        /// The IMAP folder.
        folder: String,
        /// UIDVALIDITY of the listing.
        listed: u32,
        /// UIDVALIDITY now.
        current: u32,
    },
    /// The message has no audio part that could be decoded.
    #[error("{mailbox}: message UID {uid} has no readable audio: {reason}")]
    NoAudio {
        /// `box@context`.
        mailbox: String,
        /// Its UID.
        uid: u32,
        /// Why.
        reason: String,
    },
    /// Greetings on IMAP are off for this mailbox (`imapgreetings=no`).
    #[error("{mailbox}: imapgreetings is not enabled")]
    GreetingsDisabled {
        /// `box@context`.
        mailbox: String,
    },
    /// The outbox spool could not be read or written (see [`Outbox`](crate::Outbox)).
    #[error("outbox {path}: {reason}")]
    Outbox {
        /// The spool file or directory.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// The server answered something this runtime cannot use.
    #[error("{account}: unexpected answer to {command}")]
    Unexpected {
        /// `user@server:port`.
        account: String,
        /// The command.
        command: &'static str,
    },
}

/// One reason a deposit was not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DepositRefusal {
    /// The admission policy said no (quota, `maxmsg`, duration).
    Policy(Refusal),
    /// The server refused the APPEND (e.g. `NO [OVERQUOTA]`).
    Server {
        /// Whether the server said `OVERQUOTA`.
        over_quota: bool,
        /// The server's text.
        text: String,
    },
}

impl std::fmt::Display for DepositRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Policy(r) => r.fmt(f),
            Self::Server { over_quota, text } => {
                if *over_quota {
                    write!(f, "server: over quota: {text}")
                } else {
                    write!(f, "server refused the message: {text}")
                }
            }
        }
    }
}

/// The reasons of a refusal, on one line.
pub(crate) fn reasons_text(reasons: &[DepositRefusal]) -> String {
    reasons
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    /// Whether this is a deposit refused because the mailbox is full, whoever said so: the
    /// admission policy (quota, `maxmsg`) or the server's answer to the APPEND (Dovecot's
    /// `NO [OVERQUOTA]`, Cyrus's `NO Over quota`, Courier's `NO [ALERT]`...). Asterisk plays
    /// `vm-mailboxfull` for these.
    pub fn is_mailbox_full(&self) -> bool {
        match self {
            Self::DepositRefused { reasons, .. } => reasons.iter().any(|r| match r {
                DepositRefusal::Policy(p) => p.prompt() == Some("vm-mailboxfull"),
                DepositRefusal::Server { over_quota, .. } => *over_quota,
            }),
            _ => false,
        }
    }

    /// The reasons of a refused deposit on one line (the outbox's `last-error`); any other
    /// error as it displays.
    pub(crate) fn refusal_text(&self) -> String {
        match self {
            Self::DepositRefused { reasons, .. } => reasons_text(reasons),
            other => other.to_string(),
        }
    }

    /// Whether a deposit that failed with this error is queued in the outbox rather than
    /// failed: the server could not be reached or the connection broke.
    pub(crate) fn worth_queueing(&self) -> bool {
        self.is_connection_lost() || matches!(self, Self::Backoff { .. })
    }

    /// Whether the connection is gone after this error (the pool reconnects next time).
    pub fn is_connection_lost(&self) -> bool {
        match self {
            Self::Connect { .. } | Self::Io { .. } | Self::Tls { .. } => true,
            Self::Protocol { source, .. } | Self::Auth { source, .. } => source.is_fatal(),
            _ => false,
        }
    }
}

/// Whether a server refusal means "mailbox full": `NO [OVERQUOTA]` (RFC 9208, Dovecot),
/// Cyrus's plain `NO Over quota`, Courier's `NO [ALERT] ...quota...`.
pub(crate) fn says_over_quota(source: &imapvm_proto::Error) -> bool {
    matches!(
        source.refusal_code(),
        Some(imapvm_proto::ResponseCode::OverQuota)
    ) || source.to_string().to_ascii_lowercase().contains("quota")
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
