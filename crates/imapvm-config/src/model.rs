//! The typed result: `[general]`, `[zonemessages]`, mailboxes, aliases, and where each value came from.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use imapvm_types::{MailboxId, Secret};
use serde::{Serialize, Serializer};

use crate::command_line::CommandLine;
use crate::diagnostic::Location;
use crate::phone::{Phone, PhoneOptions};

/// How the IMAP connection is secured, from `imapflags` (UW c-client semantics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum TlsMode {
    /// `ssl`: TLS from the first byte (imaps, usually port 993).
    Implicit,
    /// `tls`: STARTTLS is required; fail if the server does not offer it.
    StartTlsRequired,
    /// No flag: STARTTLS when the server offers it, plain text otherwise.
    StartTlsIfOffered,
    /// `notls`: never STARTTLS, plain text.
    Plain,
}

/// `imapflags`: c-client mailbox flags joined by `/`, typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "one bool per c-client flag, as the operator writes them"
)]
pub struct ImapFlags {
    /// `ssl`: TLS from connect.
    pub ssl: bool,
    /// `tls`: STARTTLS required.
    pub tls: bool,
    /// `notls`: never STARTTLS.
    pub notls: bool,
    /// `novalidate-cert`: do not check the server certificate.
    pub novalidate_cert: bool,
    /// `validate-cert`: check the certificate (c-client's default).
    pub validate_cert: bool,
    /// `secure`: never send a password in clear text.
    pub secure: bool,
    /// `readonly`: open folders read-only.
    pub readonly: bool,
    /// `debug`: protocol telemetry.
    pub debug: bool,
    /// `norsh`: do not try rsh pre-authentication.
    pub norsh: bool,
    /// `tryssl`: try TLS, fall back to plain.
    pub tryssl: bool,
}

/// An `imapflags` value that c-client (or imapvm) would not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImapFlagsError {
    /// A flag that is not known.
    #[error(
        "unknown imapflags flag `{0}`; known flags: ssl, tls, notls, novalidate-cert, validate-cert, secure, readonly, debug, norsh, tryssl"
    )]
    Unknown(String),
    /// Two flags that contradict each other.
    #[error("imapflags `{0}` and `{1}` contradict each other; keep one")]
    Conflict(&'static str, &'static str),
}

const FLAG_NAMES: [&str; 10] = [
    "ssl",
    "tls",
    "notls",
    "novalidate-cert",
    "validate-cert",
    "secure",
    "readonly",
    "debug",
    "norsh",
    "tryssl",
];

impl ImapFlags {
    fn slot(&mut self, name: &str) -> Option<&mut bool> {
        Some(match name {
            "ssl" => &mut self.ssl,
            "tls" => &mut self.tls,
            "notls" => &mut self.notls,
            "novalidate-cert" => &mut self.novalidate_cert,
            "validate-cert" => &mut self.validate_cert,
            "secure" => &mut self.secure,
            "readonly" => &mut self.readonly,
            "debug" => &mut self.debug,
            "norsh" => &mut self.norsh,
            "tryssl" => &mut self.tryssl,
            _ => return None,
        })
    }

    fn get(&self, name: &str) -> bool {
        let mut copy = *self;
        copy.slot(name).is_some_and(|b| *b)
    }

    /// Parses `ssl/novalidate-cert` (case-insensitive; empty segments are ignored).
    pub fn parse(value: &str) -> Result<ImapFlags, ImapFlagsError> {
        let mut flags = ImapFlags::default();
        for token in value.split('/').map(str::trim).filter(|t| !t.is_empty()) {
            let lower = token.to_ascii_lowercase();
            match flags.slot(&lower) {
                Some(slot) => *slot = true,
                None => return Err(ImapFlagsError::Unknown(token.to_string())),
            }
        }
        if flags.tls && flags.notls {
            return Err(ImapFlagsError::Conflict("tls", "notls"));
        }
        if flags.novalidate_cert && flags.validate_cert {
            return Err(ImapFlagsError::Conflict("validate-cert", "novalidate-cert"));
        }
        Ok(flags)
    }

    /// No flag set.
    pub fn is_empty(&self) -> bool {
        *self == ImapFlags::default()
    }

    /// How the connection is secured.
    pub fn tls_mode(&self) -> TlsMode {
        if self.ssl {
            TlsMode::Implicit
        } else if self.tls {
            TlsMode::StartTlsRequired
        } else if self.notls {
            TlsMode::Plain
        } else {
            TlsMode::StartTlsIfOffered
        }
    }

    /// Whether the server certificate is checked.
    pub fn verifies_certificate(&self) -> bool {
        !self.novalidate_cert
    }
}

/// Canonical form: the set flags joined by `/`, in a fixed order.
impl fmt::Display for ImapFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for name in FLAG_NAMES {
            if self.get(name) {
                if !first {
                    f.write_str("/")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        Ok(())
    }
}

impl Serialize for ImapFlags {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Durations appear in JSON as whole seconds, as they are written in voicemail.conf.
fn as_seconds<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(value.as_secs())
}

/// A `[zonemessages]` entry: `name = Olson-zone|format`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Zone {
    /// The name that `tz=` refers to, e.g. `european`.
    pub name: String,
    /// The Olson time zone, e.g. `Europe/Copenhagen`.
    pub timezone: String,
    /// The spoken envelope format, e.g. `'vm-received' a d b 'digits/at' HM`.
    pub format: String,
}

/// `[general]`, typed, with Asterisk's defaults ([`General::default`]).
///
/// The options of the telephone flows (review, operator, prompts, playback keys, password
/// changes) are in [`General::phone`]. Options for ADSI phones, pager mails and file storage
/// are not typed (imapvm accepts them without a warning and without effect).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "mirrors Asterisk's yes/no options one by one"
)]
pub struct General {
    // ---- IMAP ----
    /// `imapserver` (default `localhost`).
    pub imapserver: String,
    /// `imapport` (default 143).
    pub imapport: u16,
    /// `imapflags` (default none).
    pub imapflags: ImapFlags,
    /// `imapfolder` (default `INBOX`): where new, old and urgent messages live.
    pub imapfolder: String,
    /// `imapparentfolder` (default none): prefix of Work, Family, ... folders.
    pub imapparentfolder: Option<String>,
    /// `imapgreetings` (default no): greetings stored on IMAP.
    pub imapgreetings: bool,
    /// `greetingfolder` / `greetingsfolder` (default: the value of `imapfolder`).
    pub greetingfolder: Option<String>,
    /// `authuser`: master user for SASL PLAIN (authcid), all boxes log in as it.
    pub authuser: Option<String>,
    /// `authpassword`: when set, used for every login.
    pub authpassword: Option<Secret>,
    /// `imapoauthcmd` (imapvm only; Asterisk ignores it): the command that prints an OAuth 2
    /// access token; every box without its own logs in with a token (SASL OAUTHBEARER or
    /// XOAUTH2) instead of a password.
    pub imapoauthcmd: Option<CommandLine>,
    /// `expungeonhangup` (default yes; anything but a false word is yes).
    pub expungeonhangup: bool,
    /// `imapopentimeout` (default 60 s).
    #[serde(serialize_with = "as_seconds")]
    pub imapopentimeout: Duration,
    /// `imapreadtimeout` (default 60 s).
    #[serde(serialize_with = "as_seconds")]
    pub imapreadtimeout: Duration,
    /// `imapwritetimeout` (default 60 s).
    #[serde(serialize_with = "as_seconds")]
    pub imapwritetimeout: Duration,
    /// `imapclosetimeout` (default 60 s).
    #[serde(serialize_with = "as_seconds")]
    pub imapclosetimeout: Duration,
    /// `imap_poll_logout` (default no).
    pub imap_poll_logout: bool,
    /// `pollmailboxes` (default no).
    pub pollmailboxes: bool,
    /// `pollfreq` (default 30 s).
    #[serde(serialize_with = "as_seconds")]
    pub pollfreq: Duration,
    /// `imapcafile` (imapvm only; Asterisk ignores it): CA certificates to trust, PEM.
    pub imapcafile: Option<String>,
    /// `imapvm_outbox` (imapvm only; Asterisk ignores it): the spool directory of deposits
    /// waiting for the IMAP server (default: the runtime's, `/var/spool/imapvm/outbox`).
    pub imapvm_outbox: Option<String>,
    // ---- the stored message and the flow ----
    /// `format` split on `|` (default `wav`); with IMAP only the first is stored.
    pub format: Vec<String>,
    /// `serveremail` (default `asterisk`).
    pub serveremail: String,
    /// `fromstring` (default empty; the message then says `Asterisk PBX`).
    pub fromstring: String,
    /// `emailsubject`, escapes applied (see [`crate::substitute_escapes`]).
    pub emailsubject: Option<String>,
    /// `emailbody`, escapes applied.
    pub emailbody: Option<String>,
    /// `pbxskip` (default no).
    pub pbxskip: bool,
    /// `charset` (default `ISO-8859-1`).
    pub charset: String,
    /// `emaildateformat` (default `%A, %B %d, %Y at %r`).
    pub emaildateformat: String,
    /// `tz`: a `[zonemessages]` name (default: the system zone).
    pub tz: Option<String>,
    /// `locale` (default: the system locale).
    pub locale: Option<String>,
    /// `attach` (default yes): only the separate notification e-mail; the IMAP copy always has audio.
    pub attach: bool,
    /// `maxmsg` (default 100, at most 9999; 0 = greetings only).
    pub maxmsg: u32,
    /// `maxsecs` (old name `maxmessage`; default 0 = no limit).
    pub maxsecs: u32,
    /// `minsecs` (old name `minmessage`; default 0).
    pub minsecs: u32,
    /// `maxgreet` (default 0 = no limit).
    pub maxgreet: u32,
    /// `maxsilence` (default 0).
    pub maxsilence: u32,
    /// `externnotify`: program run on MWI changes.
    pub externnotify: Option<String>,
    /// `leaveurgent` (default yes).
    pub leaveurgent: bool,
    /// `forward_urgent_auto` (default no).
    pub forward_urgent_auto: bool,
    /// `moveheard` (default yes).
    pub moveheard: bool,
    /// `searchcontexts` (default no).
    pub searchcontexts: bool,
    /// `aliasescontext`: the section holding `alias => box@context` lines.
    pub aliasescontext: Option<String>,
    /// The options of `VoiceMail()` and `VoiceMailMain()` (in JSON: at this level, named as
    /// in voicemail.conf).
    #[serde(flatten)]
    pub phone: Phone,
}

impl Default for General {
    /// Asterisk's defaults (app_voicemail with IMAP storage).
    fn default() -> Self {
        General {
            imapserver: "localhost".into(),
            imapport: 143,
            imapflags: ImapFlags::default(),
            imapfolder: "INBOX".into(),
            imapparentfolder: None,
            imapgreetings: false,
            greetingfolder: None,
            authuser: None,
            authpassword: None,
            imapoauthcmd: None,
            expungeonhangup: true,
            imapopentimeout: Duration::from_secs(60),
            imapreadtimeout: Duration::from_secs(60),
            imapwritetimeout: Duration::from_secs(60),
            imapclosetimeout: Duration::from_secs(60),
            imap_poll_logout: false,
            pollmailboxes: false,
            pollfreq: Duration::from_secs(30),
            imapcafile: None,
            imapvm_outbox: None,
            format: vec!["wav".into()],
            serveremail: "asterisk".into(),
            fromstring: String::new(),
            emailsubject: None,
            emailbody: None,
            pbxskip: false,
            charset: "ISO-8859-1".into(),
            emaildateformat: "%A, %B %d, %Y at %r".into(),
            tz: None,
            locale: None,
            attach: true,
            maxmsg: 100,
            maxsecs: 0,
            minsecs: 0,
            maxgreet: 0,
            maxsilence: 0,
            externnotify: None,
            leaveurgent: true,
            forward_urgent_auto: false,
            moveheard: true,
            searchcontexts: false,
            aliasescontext: None,
            phone: Phone::default(),
        }
    }
}

impl General {
    /// The greetings folder: `greetingfolder`, else `imapfolder`.
    pub fn greetingfolder(&self) -> &str {
        self.greetingfolder.as_deref().unwrap_or(&self.imapfolder)
    }
}

/// The `|`-separated options of one mailbox line, typed. `None`: not given on the line.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct MailboxOptions {
    /// `imapuser`: the IMAP login (authzid with `authuser`). Required by Asterisk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imapuser: Option<String>,
    /// `imappassword` / `imapsecret`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imappassword: Option<Secret>,
    /// `imapoauthcmd` (imapvm only): the command that prints this box's OAuth 2 access token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imapoauthcmd: Option<CommandLine>,
    /// `imapvmshareid`: the `X-Asterisk-VM-Extension` value written and searched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imapvmshareid: Option<String>,
    /// `imapfolder`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imapfolder: Option<String>,
    /// `imapserver`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imapserver: Option<String>,
    /// `imapport`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imapport: Option<u16>,
    /// `imapflags`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imapflags: Option<ImapFlags>,
    /// `tz`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tz: Option<String>,
    /// `locale`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// `language`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// `attach`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attach: Option<bool>,
    /// `attachfmt`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachfmt: Option<String>,
    /// `serveremail`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serveremail: Option<String>,
    /// `fromstring`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fromstring: Option<String>,
    /// `emailsubject`, escapes applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emailsubject: Option<String>,
    /// `emailbody`, escapes applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emailbody: Option<String>,
    /// `maxmsg`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maxmsg: Option<u32>,
    /// `maxsecs` (old name `maxmessage`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maxsecs: Option<u32>,
    /// `minsecs`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minsecs: Option<u32>,
    /// `delete` / `deletevoicemail`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete: Option<bool>,
    /// The telephone options of the line (`review`, `operator`, `saycid`, ...; in JSON at this
    /// level).
    #[serde(flatten)]
    pub phone: PhoneOptions,
    /// Options Asterisk reads that imapvm keeps untyped (`attachextrecs`, `backupdeleted`,
    /// `alias`), as written, keyed by lower-case name. imapvm accepts them without effect.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub menu: BTreeMap<String, String>,
    /// Options neither Asterisk nor imapvm knows, as written (already reported as warnings).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub unknown: BTreeMap<String, String>,
}

/// One mailbox line: `box => password,full name,email,pager,options`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mailbox {
    /// `box@context`.
    pub id: MailboxId,
    /// The voicemail PIN (a leading `-` means the user may not change it, `*` that it is disabled).
    pub password: Secret,
    /// Full name (second field).
    pub fullname: String,
    /// E-mail addresses (third field, split on `|`).
    pub email: Vec<String>,
    /// Pager address (fourth field).
    pub pager: String,
    /// Everything after the fourth comma.
    pub options: MailboxOptions,
}

/// An `aliasescontext` line: `1234@devices => 1234@default`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alias {
    /// The alias as written (left side).
    pub alias: String,
    /// The mailbox it stands for.
    pub target: MailboxId,
}

/// Where an effective value came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Origin {
    /// Asterisk's built-in default.
    Default,
    /// An option in `[general]` (or a file it includes).
    General(Location),
    /// The mailbox line itself (a field or one of its `|` options).
    Mailbox(Location),
    /// A `[zonemessages]` entry.
    Zone(Location),
    /// A mailbox's spool `secret.conf` (`passwordlocation=spooldir`).
    SecretConf(Location),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::General(at) => write!(f, "[general] {at}"),
            Origin::Mailbox(at) => write!(f, "mailbox {at}"),
            Origin::Zone(at) => write!(f, "[zonemessages] {at}"),
            Origin::SecretConf(at) => write!(f, "secret.conf {at}"),
        }
    }
}

impl Serialize for Origin {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// An effective value and its origin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Setting<T> {
    /// The value in force.
    pub value: T,
    /// Where it came from.
    pub origin: Origin,
}

/// Where the `|` options of one mailbox line were written, by lower-case canonical name.
///
/// A sorted slice, not a map: a line has a few options, and a `BTreeMap` allocates a node of
/// eleven entries (about 640 bytes) for the first one; a process that holds 10,000 mailbox
/// lines (the MWI watcher) holds one of these per line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OptionOrigins(Box<[(String, Location)]>);

impl OptionOrigins {
    /// Where option `name` (lower-case canonical) was written, if the line has it.
    pub fn get(&self, name: &str) -> Option<&Location> {
        let found = self.0.binary_search_by(|(k, _)| k.as_str().cmp(name));
        found.ok().and_then(|i| self.0.get(i)).map(|(_, at)| at)
    }

    /// The options, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Location)> {
        self.0.iter().map(|(k, at)| (k.as_str(), at))
    }
}

impl From<BTreeMap<String, Location>> for OptionOrigins {
    fn from(map: BTreeMap<String, Location>) -> Self {
        OptionOrigins(map.into_iter().collect())
    }
}

/// Where each value of a [`crate::Config`] was written (file:line:column).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Origins {
    /// `[general]` options by lower-case canonical name (`greetingfolder` for both spellings).
    pub general: BTreeMap<String, Location>,
    /// Each mailbox line, by the mailbox's position in [`crate::Config::mailboxes`].
    pub mailbox_lines: Vec<Location>,
    /// Each mailbox's `|` options by lower-case canonical name, same positions.
    pub mailbox_options: Vec<OptionOrigins>,
    /// `[zonemessages]` entries by name.
    pub zones: BTreeMap<String, Location>,
}
