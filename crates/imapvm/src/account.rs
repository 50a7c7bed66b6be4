//! One IMAP account: where it is, how it is secured, who logs in. The pool's key.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use imapvm_config::{CommandLine, MailboxSettings, TlsMode};
use imapvm_types::Secret;
use imapvm_types::sansio::ConfigError;

use imapvm_net::oauth::TokenCommand;

use crate::error::{ConfigProblem, Error, Result};

// The key is a module of its own: errors name it, and this module names the errors.
pub(crate) mod key;
pub use key::AccountKey;

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
    /// `imapuser` + an OAuth 2 access token that `imapoauthcmd` prints (SASL OAUTHBEARER
    /// where offered, else XOAUTH2; see [`crate::oauth`]).
    OAuth2 {
        /// `imapuser`.
        user: String,
        /// `imapoauthcmd` and the token it printed last.
        token: TokenCommand,
    },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::User { user, .. } => write!(f, "User({user}, ***)"),
            Self::Proxy {
                user, auth_user, ..
            } => write!(f, "Proxy({user} as {auth_user}, ***)"),
            Self::OAuth2 { user, token } => {
                write!(f, "OAuth2({user}, token from `{}`)", token.command())
            }
        }
    }
}

impl Credentials {
    /// The mailbox owner (`imapuser`).
    pub fn user(&self) -> &str {
        match self {
            Self::User { user, .. } | Self::Proxy { user, .. } | Self::OAuth2 { user, .. } => user,
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

impl Account {
    /// The account a mailbox's effective settings describe. A zero `imap*timeout` is an
    /// error naming the option (imapvm never waits forever and does not guess a value; the
    /// configuration's own check reports it at its line too).
    pub fn from_settings(settings: &MailboxSettings) -> Result<Account> {
        let config = |problem: ConfigProblem| Error::Config {
            mailbox: settings.id.clone(),
            problem: Box::new(problem),
        };
        let user = settings
            .imapuser
            .value
            .clone()
            .filter(|u| !u.is_empty())
            .ok_or_else(|| config(ConfigProblem::NoImapUser))?;
        let credentials = match (
            &settings.imapoauthcmd.value,
            &settings.authuser.value,
            &settings.authpassword.value,
        ) {
            // A token command, the box's own or [general]'s, wins over every password.
            (Some(command), _, _) => Credentials::OAuth2 {
                user,
                token: TokenCommand::new(command.clone()),
            },
            (None, Some(auth_user), Some(password)) if !auth_user.is_empty() => {
                Credentials::Proxy {
                    user,
                    auth_user: auth_user.clone(),
                    password: password.clone(),
                }
            }
            _ => {
                let password = settings
                    .imappassword
                    .value
                    .clone()
                    .ok_or_else(|| config(ConfigProblem::NoPassword))?;
                Credentials::User { user, password }
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
            return Err(config(ConfigProblem::NoServer));
        }
        let account = Account {
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
            open_timeout: settings.imapopentimeout.value,
            read_timeout: settings.imapreadtimeout.value,
            write_timeout: settings.imapwritetimeout.value,
            close_timeout: settings.imapclosetimeout.value,
        };
        account
            .check()
            .map_err(|e| config(ConfigProblem::OutOfBounds(e)))?;
        Ok(account)
    }

    /// Whether the settings can be used as they are: every timeout more than 0 (imapvm never
    /// waits forever). Nothing is repaired; [`Session::open`](crate::Session::open) refuses an
    /// account that fails this.
    pub fn check(&self) -> std::result::Result<(), ConfigError> {
        ConfigError::require_nonzero("imapopentimeout", self.open_timeout)?;
        ConfigError::require_nonzero("imapreadtimeout", self.read_timeout)?;
        ConfigError::require_nonzero("imapwritetimeout", self.write_timeout)?;
        ConfigError::require_nonzero("imapclosetimeout", self.close_timeout)
    }

    /// Makes this account's token command (if it logs in with one) the one `caches` hands
    /// to every account with the same key and command, so that they share its token.
    pub(crate) fn share_token(&mut self, caches: &TokenCaches) {
        let key = self.key();
        if let Credentials::OAuth2 { token, .. } = &mut self.credentials {
            *token = caches.shared(key, token);
        }
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

/// The token commands of a store's accounts, by account and command: every mailbox of the
/// store on one account with one `imapoauthcmd` gets the same [`TokenCommand`], so they
/// share its cache.
#[derive(Debug, Default)]
pub(crate) struct TokenCaches(Mutex<HashMap<(AccountKey, CommandLine), TokenCommand>>);

impl TokenCaches {
    /// The store's token command of account `key` for `token`'s command line: `token`
    /// itself the first time, the one handed out before ever after.
    pub(crate) fn shared(&self, key: AccountKey, token: &TokenCommand) -> TokenCommand {
        let mut caches = match self.0.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        caches
            .entry((key, token.command().clone()))
            .or_insert_with(|| token.clone())
            .clone()
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

    /// A token command, the box's own or else [general]'s, wins over every password.
    #[test]
    fn imapoauthcmd_wins_over_passwords_and_the_box_own_over_general() {
        let text = "[general]\nimapserver=outlook.office365.com\nimapflags=ssl\nimapport=993\n\
                    authuser=master\nauthpassword=mpw\nimapoauthcmd=oama access shared\n\
                    [default]\n1 => 1,A,,,imapuser=a@example.com|imappassword=pw\n\
                    2 => 2,B,,,imapuser=b@example.com|imapoauthcmd=pizauth show b\n";
        let one = Account::from_settings(&settings(text, "1@default")).unwrap();
        let Credentials::OAuth2 { user, token } = &one.credentials else {
            panic!("{:?}", one.credentials)
        };
        assert_eq!(user, "a@example.com");
        assert_eq!(token.command().argv(), ["oama", "access", "shared"]);
        let two = Account::from_settings(&settings(text, "2@default")).unwrap();
        let Credentials::OAuth2 { token, .. } = &two.credentials else {
            panic!("{:?}", two.credentials)
        };
        assert_eq!(token.command().as_str(), "pizauth show b");
        let shown = format!("{one:?} {two:?}");
        assert!(
            shown.contains("OAuth2(a@example.com, token from `oama access shared`)"),
            "{shown}"
        );
        assert!(!shown.contains("mpw") && !shown.contains("pw\""), "{shown}");
        assert_eq!(
            one.key().to_string(),
            "a@example.com@outlook.office365.com:993"
        );
    }

    /// The boxes of one account with one command share its cache (a store hands them the
    /// same token command); another account runs the command for itself.
    #[tokio::test]
    async fn the_boxes_of_one_account_share_one_token() {
        use imapvm_net::oauth::Origin;
        let clock = crate::clock::SystemClock::shared();
        let text = "[general]\nimapserver=imap.example.com\nimapoauthcmd=echo tok\n[default]\n\
                    1 => 1,A,,,imapuser=shared\n2 => 2,B,,,imapuser=shared\n\
                    3 => 3,C,,,imapuser=other\n";
        let parsed = imapvm_config::parse_bytes("voicemail.conf", text.as_bytes());
        let caches = TokenCaches::default();
        let account = |id: &str| {
            let id: imapvm_config::MailboxId = id.parse().unwrap();
            let mut a = Account::from_settings(&parsed.config.settings(&id).unwrap()).unwrap();
            a.share_token(&caches);
            a
        };
        let token_of = |a: &Account| match &a.credentials {
            Credentials::OAuth2 { token, .. } => token.clone(),
            other => panic!("{other:?}"),
        };
        let (one, two, three) = (
            account("1@default"),
            account("2@default"),
            account("3@default"),
        );
        let l = imapvm_net::oauth::Login {
            user: "shared",
            server: "imap.example.com",
            timeout: Duration::from_secs(20),
        };
        assert_eq!(
            token_of(&one).token(l, &clock).await.unwrap().1,
            Origin::Command
        );
        assert_eq!(
            token_of(&two).token(l, &clock).await.unwrap().1,
            Origin::Cache
        );
        assert_eq!(
            token_of(&three).token(l, &clock).await.unwrap().1,
            Origin::Command
        );
    }

    #[test]
    fn a_mailbox_without_imapuser_is_a_config_error() {
        let s = settings(
            "[general]\nimapserver=127.0.0.1\n[default]\n1 => 1,A\n",
            "1@default",
        );
        let err = Account::from_settings(&s).unwrap_err();
        assert!(err.to_string().contains("no imapuser"), "{err}");
        assert!(
            matches!(err, Error::Config { problem, .. } if *problem == ConfigProblem::NoImapUser)
        );
    }

    /// A zero timeout was once repaired to 60 s without a word; now it is an error naming
    /// the option (and the configuration check reports its line).
    #[test]
    fn a_zero_timeout_is_refused_naming_the_option() {
        let s = settings(
            "[general]
imapserver=127.0.0.1
imapreadtimeout=0
[default]
1 => 1,A,,,imapuser=u|imappassword=p
",
            "1@default",
        );
        let err = Account::from_settings(&s).unwrap_err();
        let Error::Config { problem, .. } = &err else {
            panic!("{err}");
        };
        let ConfigProblem::OutOfBounds(ConfigError::OutOfBounds { field, .. }) = &**problem else {
            panic!("{err}");
        };
        assert_eq!(*field, "imapreadtimeout");
        assert!(
            err.to_string()
                .starts_with("1@default: imapreadtimeout = 0s"),
            "{err}"
        );
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
