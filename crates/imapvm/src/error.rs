//! The runtime's one error type: which account or mailbox (typed), what went wrong there (a
//! typed source where there is one), and, next to it, what a caller does about it
//! ([`Error::is_connection_lost`], [`Error::is_mailbox_full`], `worth_queueing`).
//!
//! Errors are `Clone` (sources that are not, such as `std::io::Error`, are shared behind an
//! `Arc`): the pool's back-off reports the failure that started it, and a failure common to
//! several boxes or recipients is reported to each.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use imapvm_policy::{MailboxId, MailboxIdError, MailboxName, Refusal, Uid, UidValidity};
use imapvm_types::MessageNumber;
use imapvm_types::sansio::ConfigError;

pub use imapvm_net::tls::TlsError;

use crate::account::key::AccountKey;
use imapvm_net::oauth::TokenCommandError;

/// Everything an operation of this crate can fail with. Every variant names the account
/// ([`AccountKey`], `user@server:port`) or the mailbox ([`MailboxId`], `box@context`) it
/// happened on.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// voicemail.conf (or imapvm.conf) could not be read, or has an error (a diagnostic of
    /// severity error, which names its file).
    #[error("{}: {source}", path.display())]
    ConfigFile {
        /// The file given to [`Store::open`](crate::Store::open).
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: ConfigFileError,
    },
    /// A name that is not `box@context`.
    #[error("bad mailbox name: {source}")]
    MailboxName {
        /// Why (it holds the name as given).
        #[source]
        source: MailboxIdError,
    },
    /// The mailbox is not in voicemail.conf.
    #[error("{mailbox}: no such mailbox in voicemail.conf")]
    NoSuchMailbox {
        /// `box@context`.
        mailbox: MailboxId,
    },
    /// The mailbox's settings cannot be used.
    #[error("{mailbox}: {problem}")]
    Config {
        /// `box@context`.
        mailbox: MailboxId,
        /// What is wrong.
        #[source]
        problem: Box<ConfigProblem>,
    },
    /// The caller asked for something this mailbox cannot do (nothing was sent).
    #[error("{mailbox}: {misuse}")]
    Misuse {
        /// `box@context`.
        mailbox: MailboxId,
        /// What.
        misuse: Misuse,
    },
    /// An account's connection settings are out of bounds (an [`Account`](crate::Account)
    /// built by hand; voicemail.conf's values are checked by
    /// [`Account::from_settings`](crate::Account::from_settings)).
    #[error("{account}: IMAP connection settings: {source}")]
    Settings {
        /// `user@server:port`.
        account: AccountKey,
        /// The setting and its bounds.
        #[source]
        source: ConfigError,
    },
    /// The TCP connection could not be made (or timed out: `imapopentimeout`).
    #[error("{account}: cannot connect: {source}")]
    Connect {
        /// `user@server:port`.
        account: AccountKey,
        /// The socket error.
        #[source]
        source: Arc<std::io::Error>,
    },
    /// Reading or writing the socket failed, or a read/write deadline passed.
    #[error("{account}: {what}: {source}")]
    Io {
        /// `user@server:port`.
        account: AccountKey,
        /// What was being done (`reading`, `writing`, `TLS handshake`).
        what: &'static str,
        /// The error.
        #[source]
        source: Arc<std::io::Error>,
    },
    /// TLS could not be set up (CA file, server name, handshake, certificate).
    #[error("{account}: TLS: {source}")]
    Tls {
        /// `user@server:port`.
        account: AccountKey,
        /// What failed.
        #[source]
        source: Box<TlsError>,
    },
    /// The connection would not be secure enough to send a password, or the server refused
    /// what the configuration requires (STARTTLS required but not offered, `LOGINDISABLED`).
    #[error("{account}: refusing to continue: {reason}")]
    Insecure {
        /// `user@server:port`.
        account: AccountKey,
        /// Why.
        reason: Insecure,
    },
    /// `imapoauthcmd` gave no token, so no login was tried. The error names the command,
    /// never what it printed.
    #[error("{account}: imapoauthcmd `{command}`: {source}")]
    TokenCommand {
        /// `user@server:port`.
        account: AccountKey,
        /// The command line as configured.
        command: String,
        /// What went wrong.
        #[source]
        source: TokenCommandError,
    },
    /// Login failed.
    #[error("{account}: login failed: {source}")]
    Auth {
        /// `user@server:port`.
        account: AccountKey,
        /// The server's refusal or the protocol error.
        #[source]
        source: Box<imapvm_proto::Error>,
    },
    /// An IMAP command failed.
    #[error("{account}: {context}: {source}")]
    Protocol {
        /// `user@server:port`.
        account: AccountKey,
        /// The command and mailbox, e.g. `UID FETCH (list)` or `SELECT INBOX`.
        context: String,
        /// The protocol error.
        #[source]
        source: Box<imapvm_proto::Error>,
    },
    /// The account failed recently; the next attempt is allowed after a back-off.
    #[error("{account}: connection failed recently, next attempt in {retry_in:?}: {last}")]
    Backoff {
        /// `user@server:port`.
        account: AccountKey,
        /// Time left before the next attempt.
        retry_in: Duration,
        /// The failure that started the back-off.
        last: Box<Error>,
    },
    /// A folder, identity or plan decision failed.
    #[error("{mailbox}: {source}")]
    Policy {
        /// `box@context`.
        mailbox: MailboxId,
        /// The policy error.
        #[source]
        source: imapvm_policy::PolicyError,
    },
    /// The voicemail email could not be built.
    #[error("{mailbox}: building the message: {source}")]
    Build {
        /// `box@context`.
        mailbox: MailboxId,
        /// The build error.
        #[source]
        source: imapvm_message::BuildError,
    },
    /// The deposit was not stored. The recording is untouched: the caller still has it.
    #[error("{mailbox}: deposit refused: {}", reasons_text(.reasons))]
    DepositRefused {
        /// `box@context`.
        mailbox: MailboxId,
        /// Every reason (admission verdict, or the server's answer to the APPEND).
        reasons: Vec<DepositRefusal>,
    },
    /// A message number that the listing never gave out.
    #[error("{mailbox}: no message number {number} (the listing has {listed})")]
    NoSuchMessage {
        /// `box@context`.
        mailbox: MailboxId,
        /// The number asked for.
        number: MessageNumber,
        /// How many numbers the listing gave out.
        listed: usize,
    },
    /// The message is gone (expunged or moved by someone else) or is not this mailbox's.
    #[error("{mailbox}: message UID {uid} is no longer there (or is not this mailbox's)")]
    Vanished {
        /// `box@context`.
        mailbox: MailboxId,
        /// Its UID.
        uid: Uid,
    },
    /// The folder was deleted and recreated (UIDVALIDITY changed) since the listing: numbers
    /// given out before mean nothing now. List again.
    #[error("{mailbox}: {folder} changed UIDVALIDITY ({listed} -> {current}); list again")]
    StaleListing {
        /// `box@context`.
        mailbox: MailboxId,
        /// The IMAP folder.
        folder: MailboxName,
        /// UIDVALIDITY of the listing.
        listed: UidValidity,
        /// UIDVALIDITY now.
        current: UidValidity,
    },
    /// The message has no audio part that could be decoded.
    #[error("{mailbox}: message UID {uid} has no readable audio: {source}")]
    NoAudio {
        /// `box@context`.
        mailbox: MailboxId,
        /// Its UID.
        uid: Uid,
        /// Why.
        #[source]
        source: imapvm_message::ParseError,
    },
    /// Greetings on IMAP are off for this mailbox (`imapgreetings=no`).
    #[error("{mailbox}: imapgreetings is not enabled")]
    GreetingsDisabled {
        /// `box@context`.
        mailbox: MailboxId,
    },
    /// A box of a folder could not be counted because the folder could not be selected.
    #[error("{mailbox}: cannot count in {folder}: {source}")]
    CountFailed {
        /// `box@context`.
        mailbox: MailboxId,
        /// The IMAP folder.
        folder: MailboxName,
        /// Why the folder could not be used.
        #[source]
        source: Box<Error>,
    },
    /// A recipient named twice in one delivery (it gets one copy).
    #[error("{mailbox}: listed more than once; it gets one copy")]
    DuplicateRecipient {
        /// `box@context`.
        mailbox: MailboxId,
    },
    /// A delivery ended without a result for this recipient (its task died).
    #[error("{recipient}: the delivery ended without a result")]
    NoResult {
        /// The recipient as given.
        recipient: String,
    },
    /// The outbox spool could not be read or written (the outbox of `imapvm-outbox`).
    #[error("outbox {}: {source}", path.display())]
    Outbox {
        /// The spool file or directory.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: OutboxError,
    },
    /// The server answered something this runtime cannot use.
    #[error("{account}: unexpected answer to {command}")]
    Unexpected {
        /// `user@server:port`.
        account: AccountKey,
        /// The command.
        command: &'static str,
    },
}

/// What is wrong with voicemail.conf as a whole ([`Error::ConfigFile`]).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigFileError {
    /// It could not be read.
    #[error("{0}")]
    Unreadable(#[source] Arc<imapvm_config::ConfigError>),
    /// A diagnostic of severity error (it names the file and line).
    #[error("{0}")]
    Invalid(Box<imapvm_config::Diagnostic>),
}

/// What is wrong with a mailbox's settings ([`Error::Config`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigProblem {
    /// No `imapuser`: the box is not stored on IMAP.
    #[error("no imapuser: this mailbox is not stored on IMAP")]
    NoImapUser,
    /// Neither `imappassword`, nor `authuser`/`authpassword`, nor `imapoauthcmd`.
    #[error("no imappassword (and no authuser/authpassword, no imapoauthcmd)")]
    NoPassword,
    /// `imapserver` is empty.
    #[error("imapserver is empty")]
    NoServer,
    /// An option is out of bounds (e.g. a zero `imapreadtimeout`: imapvm never waits
    /// forever and does not guess a value).
    #[error("{0}")]
    OutOfBounds(ConfigError),
    /// `imapvmshareid` cannot be the Extension header.
    #[error("{0}")]
    ShareId(imapvm_policy::IdentityError),
    /// `tz=` names no `[zonemessages]` entry.
    #[error("tz={tz} names no [zonemessages] entry")]
    NoSuchZone {
        /// The `tz` value.
        tz: String,
    },
    /// The `[zonemessages]` entry names a time zone the bundled database does not know.
    #[error("tz={tz}: [zonemessages] names `{zone}`: {source}")]
    UnknownTimeZone {
        /// The `tz` value.
        tz: String,
        /// The time zone the entry names.
        zone: String,
        /// Why it cannot be used.
        #[source]
        source: imapvm_message::BuildError,
    },
}

/// A request a mailbox cannot honour ([`Error::Misuse`]); nothing was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Misuse {
    /// A deposit (or a forward's source) without a recording.
    #[error("a deposit needs a recording")]
    NoRecording,
    /// Greetings are not listed as messages.
    #[error("greetings are listed with `greeting get`")]
    GreetingsListed,
}

/// Why the runtime refused to go on with a connection ([`Error::Insecure`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Insecure {
    /// `imapflags=tls` and the server does not offer STARTTLS.
    #[error("imapflags=tls requires STARTTLS but the server does not offer it")]
    StartTlsNotOffered,
    /// No encryption, a server not on loopback and no `notls`.
    #[error(
        "the connection is not encrypted and the server is not on loopback; no password is sent in clear unless imapflags has notls"
    )]
    ClearText,
    /// `authuser` needs SASL PLAIN.
    #[error("authuser needs SASL PLAIN, which the server does not offer")]
    NoSaslPlain,
    /// `imapoauthcmd` needs SASL OAUTHBEARER or XOAUTH2.
    #[error("imapoauthcmd needs SASL OAUTHBEARER or XOAUTH2, which the server does not offer")]
    NoOAuthMechanism,
    /// The server said `LOGINDISABLED` and offers no SASL PLAIN.
    #[error("the server says LOGINDISABLED and offers no SASL PLAIN")]
    LoginDisabled,
    /// The server (told by its greeting) would ignore the SASL authorization identity and
    /// open `authuser`'s own mailbox.
    #[error(
        "{server} ignores the SASL authorization identity: a login as authuser {auth_user} would open {auth_user}'s own mailbox, not {user}'s; configure imapuser/imappassword for this mailbox instead"
    )]
    IgnoresAuthzid {
        /// The server implementation.
        server: &'static str,
        /// `authuser`.
        auth_user: String,
        /// `imapuser`.
        user: String,
    },
}

/// What went wrong with the outbox spool ([`Error::Outbox`]).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum OutboxError {
    /// A file operation failed.
    #[error("{}{source}", if .what.is_empty() { String::new() } else { format!("{}: ", .what) })]
    Io {
        /// What was being done (`cannot create`, `fsync`, `lock`, `cannot read`), or empty.
        what: &'static str,
        /// The error.
        #[source]
        source: Arc<std::io::Error>,
    },
    /// An item needs a mailbox and a msg id.
    #[error("an item needs a mailbox and a msg id")]
    Incomplete,
    /// A message over the outbox's size limit.
    #[error("{mailbox}: a message of {size} bytes is over the outbox limit of {limit}")]
    TooLarge {
        /// The item's mailbox.
        mailbox: String,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The stored message is not the size its item records.
    #[error("truncated or changed: {size} bytes, the item says {recorded}; not delivered")]
    Changed {
        /// Bytes found.
        size: u64,
        /// Bytes recorded.
        recorded: u64,
    },
    /// Not an item name.
    #[error("bad item name {id:?}")]
    BadName {
        /// The name.
        id: String,
    },
    /// An item's metadata cannot be read.
    #[error("{0}")]
    Unreadable(String),
    /// The item is being delivered right now (locked), or gone.
    #[error("{id} is being delivered right now (or is gone)")]
    Busy {
        /// The item.
        id: String,
    },
}

impl OutboxError {
    /// A failed file operation.
    pub fn io(what: &'static str, source: std::io::Error) -> OutboxError {
        OutboxError::Io {
            what,
            source: Arc::new(source),
        }
    }
}

/// One reason a deposit was not stored.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum DepositRefusal {
    /// The admission policy said no (quota, `maxmsg`, duration).
    Policy(Refusal),
    /// The server refused the APPEND because the mailbox is full, as policy reads its answer
    /// ([`imapvm_policy::server_says_over_quota`]: Dovecot's `NO [OVERQUOTA]`, Cyrus's
    /// `NO Over quota`, Courier's `NO [ALERT] ... quota`).
    ServerOverQuota(imapvm_proto::Error),
    /// The server refused the APPEND for another reason.
    Server(imapvm_proto::Error),
}

impl DepositRefusal {
    /// The refusal of an APPEND the server answered with a (non-fatal) error: over quota or
    /// not, as policy decides from the response code and text. The one place that reads a
    /// refused APPEND.
    pub fn of_append(source: imapvm_proto::Error) -> DepositRefusal {
        let over_quota = match &source {
            imapvm_proto::Error::Refused(r) => {
                imapvm_policy::server_says_over_quota(r.code.as_ref(), &r.text)
            }
            _ => false,
        };
        if over_quota {
            DepositRefusal::ServerOverQuota(source)
        } else {
            DepositRefusal::Server(source)
        }
    }
}

impl std::fmt::Display for DepositRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Policy(r) => r.fmt(f),
            Self::ServerOverQuota(e) => write!(f, "server: over quota: {e}"),
            Self::Server(e) => write!(f, "server refused the message: {e}"),
        }
    }
}

/// The reasons of a refusal, on one line.
pub fn reasons_text(reasons: &[DepositRefusal]) -> String {
    reasons
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    /// Whether this is a deposit refused because the mailbox is full, whoever said so: the
    /// admission policy (quota, `maxmsg`) or the server's answer to the APPEND
    /// ([`DepositRefusal::ServerOverQuota`]). Asterisk plays `vm-mailboxfull` for these.
    pub fn is_mailbox_full(&self) -> bool {
        match self {
            Self::DepositRefused { reasons, .. } => reasons.iter().any(|r| match r {
                DepositRefusal::Policy(p) => p.prompt() == Some("vm-mailboxfull"),
                DepositRefusal::ServerOverQuota(_) => true,
                DepositRefusal::Server(_) => false,
            }),
            _ => false,
        }
    }

    /// Whether the connection is gone after this error (the pool reconnects next time).
    pub fn is_connection_lost(&self) -> bool {
        match self {
            Self::Connect { .. } | Self::Io { .. } | Self::Tls { .. } => true,
            Self::Protocol { source, .. } | Self::Auth { source, .. } => source.is_fatal(),
            _ => false,
        }
    }

    /// Whether a deposit that failed with this error is queued in the outbox rather than
    /// failed: the server could not be reached, the connection broke, or `imapoauthcmd`
    /// gave no token (its identity provider may be the one that is unreachable).
    pub fn worth_queueing(&self) -> bool {
        self.is_connection_lost()
            || matches!(self, Self::Backoff { .. } | Self::TokenCommand { .. })
    }

    /// The reasons of a refused deposit on one line (the outbox's `last-error`); any other
    /// error as it displays.
    pub fn refusal_text(&self) -> String {
        match self {
            Self::DepositRefused { reasons, .. } => reasons_text(reasons),
            other => other.to_string(),
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(code: Option<imapvm_proto::ResponseCode>, text: &str) -> imapvm_proto::Error {
        imapvm_proto::Error::Refused(imapvm_proto::Refusal {
            command: "APPEND",
            kind: imapvm_proto::RefusalKind::No,
            code,
            text: text.to_owned(),
            before_literal: false,
            sasl_error: None,
        })
    }

    fn mailbox_full(source: imapvm_proto::Error) -> bool {
        Error::DepositRefused {
            mailbox: MailboxId::parse("1234@default").unwrap(),
            reasons: vec![DepositRefusal::of_append(source)],
        }
        .is_mailbox_full()
    }

    /// The three dialects (docs/compatibility.md) are "mailbox full"; a refusal for another
    /// reason is not, whatever its code.
    #[test]
    fn a_refused_append_is_mailbox_full_as_policy_reads_it() {
        use imapvm_proto::ResponseCode;
        assert!(mailbox_full(refused(
            Some(ResponseCode::OverQuota),
            "Quota exceeded (mailbox full)"
        )));
        assert!(mailbox_full(refused(None, "Over quota")));
        assert!(mailbox_full(refused(
            Some(ResponseCode::Alert),
            "You exceeded your mail quota"
        )));
        assert!(!mailbox_full(refused(
            Some(ResponseCode::TryCreate),
            "No such mailbox"
        )));
        // Not a refusal at all: the text is never read.
        assert!(!mailbox_full(imapvm_proto::Error::Timeout {
            waiting_for: "quota".into()
        }));
    }

    #[test]
    fn a_refusal_displays_as_before() {
        let r = DepositRefusal::of_append(refused(None, "Over quota"));
        assert_eq!(
            r.to_string(),
            "server: over quota: APPEND refused: No Over quota"
        );
    }
}
