//! One IMAP account: where it is, how it is secured, who logs in. The pool's key.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use imapvm_config::{MailboxSettings, TlsMode};
use imapvm_proto::Secret;

use crate::error::{Error, Result};

/// How to secure the connection (`imapflags`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Security {
    /// `ssl`: TLS from the first byte.
    ImplicitTls,
    /// `tls`: STARTTLS, refused when the server does not offer it.
    StartTlsRequired,
    /// Default: STARTTLS when offered, else plain text (then no password is sent unless the
    /// server is on loopback).
    StartTlsIfOffered,
    /// `notls`: plain text; the operator accepts clear-text passwords.
    Plain,
}

/// How to log in.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// `imapuser` + `imappassword`: SASL PLAIN when offered, else LOGIN.
    User {
        /// `imapuser`.
        user: String,
        /// `imappassword`.
        password: Secret,
    },
    /// `authuser` + `authpassword` on behalf of `imapuser` (SASL PLAIN with authzid).
    Proxy {
        /// `imapuser` (authorization identity).
        user: String,
        /// `authuser` (authentication identity).
        auth_user: String,
        /// `authpassword`.
        password: Secret,
    },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::User { user, .. } => write!(f, "User({user}, ***)"),
            Self::Proxy {
                user, auth_user, ..
            } => write!(f, "Proxy({user} as {auth_user}, ***)"),
        }
    }
}

impl Credentials {
    /// The mailbox owner (`imapuser`).
    pub fn user(&self) -> &str {
        match self {
            Self::User { user, .. } | Self::Proxy { user, .. } => user,
        }
    }
}

/// Everything needed to open and log in to one IMAP account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// `imapserver` (host name or address).
    pub server: String,
    /// `imapport`.
    pub port: u16,
    /// `imapflags` as a security mode.
    pub security: Security,
    /// `novalidate-cert`: accept any certificate (logged as a warning).
    pub verify_certificate: bool,
    /// `imapcafile`: an extra CA (PEM) trusted besides the system store.
    pub ca_file: Option<PathBuf>,
    /// Who logs in.
    pub credentials: Credentials,
    /// `imapopentimeout`.
    pub open_timeout: Duration,
    /// `imapreadtimeout`.
    pub read_timeout: Duration,
    /// `imapwritetimeout`.
    pub write_timeout: Duration,
    /// `imapclosetimeout`.
    pub close_timeout: Duration,
}

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

impl Account {
    /// The account a mailbox's effective settings describe.
    pub fn from_settings(settings: &MailboxSettings) -> Result<Account> {
        let mailbox = settings.id.to_string();
        let config = |reason: &str| Error::Config {
            mailbox: mailbox.clone(),
            reason: reason.to_owned(),
        };
        let user = settings
            .imapuser
            .value
            .clone()
            .filter(|u| !u.is_empty())
            .ok_or_else(|| config("no imapuser: this mailbox is not stored on IMAP"))?;
        let credentials = match (&settings.authuser.value, &settings.authpassword.value) {
            (Some(auth_user), Some(password)) if !auth_user.is_empty() => Credentials::Proxy {
                user,
                auth_user: auth_user.clone(),
                password: Secret::new(password.expose()),
            },
            _ => {
                let password = settings
                    .imappassword
                    .value
                    .as_ref()
                    .ok_or_else(|| config("no imappassword (and no authuser/authpassword)"))?;
                Credentials::User {
                    user,
                    password: Secret::new(password.expose()),
                }
            }
        };
        let flags = settings.imapflags.value;
        let security = match flags.tls_mode() {
            TlsMode::Implicit => Security::ImplicitTls,
            TlsMode::StartTlsRequired => Security::StartTlsRequired,
            TlsMode::Plain => Security::Plain,
            _ => Security::StartTlsIfOffered,
        };
        if settings.imapserver.value.is_empty() {
            return Err(config("imapserver is empty"));
        }
        Ok(Account {
            server: settings.imapserver.value.clone(),
            port: settings.imapport.value,
            security,
            verify_certificate: flags.verifies_certificate(),
            ca_file: settings
                .imapcafile
                .value
                .as_ref()
                .filter(|p| !p.is_empty())
                .map(PathBuf::from),
            credentials,
            open_timeout: nonzero(settings.imapopentimeout.value),
            read_timeout: nonzero(settings.imapreadtimeout.value),
            write_timeout: nonzero(settings.imapwritetimeout.value),
            close_timeout: nonzero(settings.imapclosetimeout.value),
        })
    }

    /// The pool key of this account.
    pub fn key(&self) -> AccountKey {
        AccountKey {
            server: self.server.clone(),
            port: self.port,
            user: self.credentials.user().to_owned(),
        }
    }

    /// Whether the server is on this host (127.0.0.0/8, ::1, `localhost`): a clear-text
    /// password never leaves the machine.
    pub fn is_loopback(&self) -> bool {
        if self.server.eq_ignore_ascii_case("localhost") {
            return true;
        }
        self.server
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
    }
}

/// Asterisk treats 0 as "c-client's default"; never wait forever.
fn nonzero(d: Duration) -> Duration {
    if d.is_zero() {
        Duration::from_secs(60)
    } else {
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(text: &str, id: &str) -> MailboxSettings {
        let parsed = imapvm_config::parse_bytes("voicemail.conf", text.as_bytes());
        let id: imapvm_config::MailboxId = id.parse().unwrap();
        parsed.config.settings(&id).unwrap()
    }

    #[test]
    fn proxy_login_uses_authuser_with_imapuser_as_authzid() {
        let s = settings(
            "[general]\nimapserver=10.0.0.1\nimapflags=ssl\nimapport=993\nauthuser=master\nauthpassword=mpw\n\
             [default]\n1 => 1,A,,,imapuser=vm1|imappassword=pw\n",
            "1@default",
        );
        let a = Account::from_settings(&s).unwrap();
        assert_eq!(a.security, Security::ImplicitTls);
        assert_eq!(
            a.credentials,
            Credentials::Proxy {
                user: "vm1".into(),
                auth_user: "master".into(),
                password: Secret::new("mpw")
            }
        );
        assert_eq!(a.key().to_string(), "vm1@10.0.0.1:993");
        assert!(!a.is_loopback());
        assert!(!format!("{a:?}").contains("mpw"));
    }

    #[test]
    fn a_mailbox_without_imapuser_is_a_config_error() {
        let s = settings(
            "[general]\nimapserver=127.0.0.1\n[default]\n1 => 1,A\n",
            "1@default",
        );
        let err = Account::from_settings(&s).unwrap_err();
        assert!(err.to_string().contains("no imapuser"), "{err}");
    }

    #[test]
    fn loopback_detection() {
        let s = settings(
            "[general]\nimapserver=127.0.0.2\nimapflags=notls\n[default]\n1 => 1,A,,,imapuser=u|imappassword=p\n",
            "1@default",
        );
        let a = Account::from_settings(&s).unwrap();
        assert!(a.is_loopback());
        assert_eq!(a.security, Security::Plain);
    }
}
