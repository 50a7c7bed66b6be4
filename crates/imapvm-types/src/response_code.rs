//! [`ResponseCode`]: the bracketed code of an IMAP server's answer (`NO [OVERQUOTA] ...`).

use std::fmt;

/// Response codes a caller may act on; others are kept by name and raw text.
///
/// `imapvm-proto` reads them off the wire; `imapvm-policy` decides from them (e.g. whether a
/// refused APPEND means "mailbox full"), so both name the same type.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseCode {
    /// `ALERT`
    Alert,
    /// `OVERQUOTA` (RFC 9208)
    OverQuota,
    /// `AUTHENTICATIONFAILED` (RFC 5530)
    AuthenticationFailed,
    /// `AUTHORIZATIONFAILED` (RFC 5530)
    AuthorizationFailed,
    /// `UNAVAILABLE` (RFC 5530)
    Unavailable,
    /// `TRYCREATE`
    TryCreate,
    /// `TOOBIG`
    TooBig,
    /// `READ-ONLY`
    ReadOnly,
    /// `READ-WRITE`
    ReadWrite,
    /// `NONEXISTENT` (RFC 5530)
    NonExistent,
    /// `LIMIT` (RFC 5530)
    LimitCode,
    /// Anything else: the code's text as sent.
    Other(String),
}

impl fmt::Display for ResponseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Alert => f.write_str("ALERT"),
            Self::OverQuota => f.write_str("OVERQUOTA"),
            Self::AuthenticationFailed => f.write_str("AUTHENTICATIONFAILED"),
            Self::AuthorizationFailed => f.write_str("AUTHORIZATIONFAILED"),
            Self::Unavailable => f.write_str("UNAVAILABLE"),
            Self::TryCreate => f.write_str("TRYCREATE"),
            Self::TooBig => f.write_str("TOOBIG"),
            Self::ReadOnly => f.write_str("READ-ONLY"),
            Self::ReadWrite => f.write_str("READ-WRITE"),
            Self::NonExistent => f.write_str("NONEXISTENT"),
            Self::LimitCode => f.write_str("LIMIT"),
            Self::Other(s) => f.write_str(s),
        }
    }
}
