//! [`AccountKey`]: which IMAP account, `user@server:port`; the pool's key and what every
//! error of an account names.

use std::fmt;

/// The pool's key: one connection per (server, port, user).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountKey {
    /// Server.
    pub server: String,
    /// Port.
    pub port: u16,
    /// `imapuser`.
    pub user: String,
}

impl fmt::Display for AccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}:{}", self.user, self.server, self.port)
    }
}
