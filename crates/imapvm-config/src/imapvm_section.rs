//! imapvm's own options: the `[general]` section of `imapvm.conf` (see [`crate::imapvm_conf`]
//! for the file), which older installs wrote as an `[imapvm]` section of voicemail.conf.
//!
//! ```text
//! ; /etc/asterisk/imapvm.conf
//! [general]
//! ami = 127.0.0.1:5038,imapvm,s3cret,refresh   ; or ,mwi (res_mwi_external_ami)
//! ami = tls://pbx.example.com:5039,imapvm,s3cret,mwi   ; manager.conf tlsenable
//! ami_cafile = /etc/imapvm/pbx-ca.pem     ; trusted for tls:// besides the system roots
//! webhook = https://hooks.example.com/mwi
//! webhook_cafile = /etc/imapvm/hooks-ca.pem   ; trusted for https:// besides the system roots
//! webhook_secret = 0123456789abcdef   ; signs each POST (X-Imapvm-Signature: sha256=...)
//! webhook_timeout = 5       ; seconds per attempt
//! webhook_retries = 4       ; attempts after the first
//! webhook_inflight = 8      ; requests at once
//! webhook_secret = 6f1d...  ; shared with the webhook receivers
//! webhook_cafile = /etc/ssl/certs/hooks-ca.pem
//! ami_cafile = /etc/asterisk/keys/ca.pem
//! metrics = 127.0.0.1:9464  ; Prometheus /metrics and /healthz (`imapvm watch`, `imapvm agi`)
//! agi_listen = 127.0.0.1:4573
//! agi_spool = /var/spool/asterisk/imapvm
//! agi_allow = 192.0.2.0/24  ; repeatable
//! cache_dir = /var/cache/imapvm   ; which UIDs are voicemail, kept between commands
//! ```
//!
//! **Why not voicemail.conf.** `app_voicemail` reads every section other than `[general]`,
//! `[zonemessages]` and the `aliasescontext` section as a voicemail context, so to Asterisk
//! an `[imapvm]` section's `ami = …` is a mailbox `ami@imapvm` (PIN `host:port`, full name
//! the AMI user, e-mail the AMI secret) and `webhook = …` a mailbox `webhook@imapvm`. The
//! legacy section is still read; [`crate::parse`] warns once per section, naming the lines to
//! move to imapvm.conf. Lines of `[imapvm]` whose key is not one of [`IMAPVM_KEYS`] (e.g.
//! `4324 => …`, as in Asterisk's own sample file, which uses `[imapvm]` as an ordinary
//! context) stay mailboxes, for Asterisk and for imapvm alike.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use imapvm_types::Secret;
use ipnet::IpNet;

/// The legacy section of voicemail.conf (compared case-insensitively, as Asterisk compares
/// section names).
pub const IMAPVM_SECTION: &str = "imapvm";

/// The keys imapvm reads in imapvm.conf's `[general]` and in the legacy `[imapvm]` (lower
/// case; compared case-insensitively).
pub const IMAPVM_KEYS: &[&str] = &[
    "ami",
    "webhook",
    "webhook_timeout",
    "webhook_retries",
    "webhook_inflight",
    "webhook_secret",
    "webhook_cafile",
    "ami_cafile",
    "metrics",
    "agi_listen",
    "agi_spool",
    "agi_allow",
    "cache_dir",
];

/// The keys of [`IMAPVM_KEYS`] that may be written more than once (each line adds one);
/// of the others, a later line replaces an earlier one.
pub const REPEATABLE_KEYS: &[&str] = &["ami", "webhook", "agi_allow"];

/// The AMI port Asterisk listens on by default (`manager.conf`).
pub const DEFAULT_AMI_PORT: u16 = 5038;
/// The AMI-over-TLS port Asterisk listens on by default (`manager.conf` `tlsbindport`).
pub const DEFAULT_AMI_TLS_PORT: u16 = 5039;
/// Longest accepted webhook URL.
pub const MAX_URL_BYTES: usize = 2048;
/// Longest accepted `webhook_secret` (an HMAC key longer than the hash's block is hashed
/// first anyway; this only bounds what a config line may hold).
pub const MAX_WEBHOOK_SECRET_BYTES: usize = 1024;
/// Longest accepted path (`webhook_cafile`, `ami_cafile`, `agi_spool`, `cache_dir`): Linux's `PATH_MAX`.
pub const MAX_PATH_BYTES: usize = 4096;

/// What imapvm tells Asterisk over AMI when a box's counts change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AmiMode {
    /// `Action: VoicemailRefresh` (Context, Mailbox): app_voicemail recounts the box and
    /// publishes MWI itself (Asterisk 12+, `app_voicemail_imap`).
    #[default]
    Refresh,
    /// `Action: MWIUpdate` (Mailbox, NewMessages, OldMessages) with imapvm's counts, for
    /// Asterisk with `res_mwi_external_ami` (no app_voicemail).
    Mwi,
}

impl fmt::Display for AmiMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AmiMode::Refresh => "refresh",
            AmiMode::Mwi => "mwi",
        })
    }
}

/// How imapvm reaches Asterisk's manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AmiTransport {
    /// Plain TCP (`manager.conf` `enabled`, port [`DEFAULT_AMI_PORT`]).
    #[default]
    Tcp,
    /// TLS (`manager.conf` `tlsenable`, port [`DEFAULT_AMI_TLS_PORT`]): `tls://`, the
    /// certificate checked against the system roots plus `ami_cafile`.
    Tls,
    /// TLS without checking the certificate: `tls://host:port/novalidate-cert`, as
    /// `imapflags=ssl/novalidate-cert` for IMAP.
    TlsNoValidateCert,
}

impl AmiTransport {
    /// Whether the link is TLS.
    pub fn is_tls(self) -> bool {
        !matches!(self, AmiTransport::Tcp)
    }
}

/// An AMI target: `[tls://]host[:port][/novalidate-cert],user,secret[,mode]`. Debug and
/// Display never show the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmiTarget {
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// TCP port ([`DEFAULT_AMI_PORT`], or [`DEFAULT_AMI_TLS_PORT`] with `tls://`, when not
    /// written).
    pub port: u16,
    /// The `manager.conf` user.
    pub username: String,
    /// Its secret.
    pub secret: Secret,
    /// Which action to send.
    pub mode: AmiMode,
    /// TCP or TLS.
    pub transport: AmiTransport,
}

impl AmiTarget {
    /// `[tls://]host:port[/novalidate-cert]`: where it connects (no user, no secret).
    pub fn address(&self) -> String {
        let scheme = if self.transport.is_tls() {
            "tls://"
        } else {
            ""
        };
        let flag = match self.transport {
            AmiTransport::TlsNoValidateCert => "/novalidate-cert",
            AmiTransport::Tcp | AmiTransport::Tls => "",
        };
        if self.host.contains(':') {
            format!("{scheme}[{}]:{}{flag}", self.host, self.port)
        } else {
            format!("{scheme}{}:{}{flag}", self.host, self.port)
        }
    }

    /// The value as a config line writes it, with `secret` in the secret's place.
    fn written_with(&self, secret: &str) -> String {
        format!(
            "{},{},{secret},{}",
            self.address(),
            self.username,
            self.mode
        )
    }
}

impl fmt::Display for AmiTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written_with("***"))
    }
}

/// Why an `ami` or `webhook` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OutputError {
    /// The `ami` value is malformed.
    #[error(
        "ami: {0}; write [tls://]host:port[/novalidate-cert],user,secret,mode (mode: refresh or mwi)"
    )]
    Ami(String),
    /// The webhook URL is malformed or not supported.
    #[error("webhook: {0}")]
    Webhook(String),
}

fn host_port(text: &str, default_port: u16) -> Result<(String, u16), String> {
    let text = text.trim();
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("`{text}` has no closing `]`"))?;
        match after {
            "" => (host, None),
            p => match p.strip_prefix(':') {
                Some(p) => (host, Some(p)),
                None => return Err(format!("`{text}`: expected `:port` after `]`")),
            },
        }
    } else {
        match text.split_once(':') {
            Some((h, p)) if !p.contains(':') => (h, Some(p)),
            // Several colons without brackets: a bare IPv6 address, no port.
            Some(_) => (text, None),
            None => (text, None),
        }
    };
    if host.is_empty() {
        return Err("the host is empty".into());
    }
    // A DNS name or IPv4 address (letters, digits, `.`, `-`, `_`), or an IPv6 address.
    let name_ok = host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if !name_ok && host.parse::<std::net::Ipv6Addr>().is_err() {
        return Err(format!("`{host}` is not a host name or address"));
    }
    let port = match port {
        None => default_port,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => n,
            _ => return Err(format!("`{p}` is not a TCP port (1 to 65535)")),
        },
    };
    Ok((host.to_owned(), port))
}

impl FromStr for AmiTarget {
    type Err = OutputError;

    /// `[tls://]host[:port][/novalidate-cert],user,secret[,mode]`. The secret may contain
    /// commas when the mode is written (the last field is the mode only if it is `refresh`
    /// or `mwi`).
    fn from_str(value: &str) -> Result<Self, OutputError> {
        let bad = |m: String| OutputError::Ami(m);
        let mut parts = value.splitn(3, ',');
        let address = parts.next().unwrap_or_default().trim();
        let user = parts
            .next()
            .ok_or_else(|| bad("the user and secret are missing".into()))?
            .trim();
        let rest = parts
            .next()
            .ok_or_else(|| bad("the secret is missing".into()))?;
        let (host, port, transport) = ami_address(address).map_err(bad)?;
        if user.is_empty() {
            return Err(bad("the user is empty".into()));
        }
        if user.contains(['\r', '\n']) {
            return Err(bad("the user contains a line break".into()));
        }
        let (secret, mode) = match rest.rsplit_once(',') {
            Some((secret, mode)) => {
                let mode = match mode.trim().to_ascii_lowercase().as_str() {
                    "refresh" => AmiMode::Refresh,
                    "mwi" => AmiMode::Mwi,
                    other => {
                        return Err(bad(format!(
                            "the mode `{other}` is neither refresh nor mwi"
                        )));
                    }
                };
                (secret, mode)
            }
            None => (rest, AmiMode::Refresh),
        };
        if secret.is_empty() {
            return Err(bad("the secret is empty".into()));
        }
        if secret.contains(['\r', '\n']) {
            return Err(bad("the secret contains a line break".into()));
        }
        Ok(AmiTarget {
            host,
            port,
            username: user.to_owned(),
            secret: Secret::new(secret),
            mode,
            transport,
        })
    }
}

/// `[tls://]host[:port][/flag...]` of an `ami` value.
fn ami_address(text: &str) -> Result<(String, u16, AmiTransport), String> {
    let (tls, rest) = match text.get(..6) {
        Some(scheme) if scheme.eq_ignore_ascii_case("tls://") => (true, &text[6..]),
        _ if text.contains("://") => {
            return Err(format!(
                "`{text}`: the only scheme is tls:// (plain TCP has none)"
            ));
        }
        _ => (false, text),
    };
    let (authority, flags) = rest.split_once('/').unwrap_or((rest, ""));
    let mut verify = None;
    for flag in flags.split('/').map(str::trim).filter(|f| !f.is_empty()) {
        let wanted = match flag.to_ascii_lowercase().as_str() {
            "novalidate-cert" => false,
            "validate-cert" => true,
            _ => {
                return Err(format!(
                    "unknown flag `{flag}` (known: novalidate-cert, validate-cert)"
                ));
            }
        };
        if verify.is_some_and(|v| v != wanted) {
            return Err("validate-cert and novalidate-cert contradict each other".into());
        }
        verify = Some(wanted);
    }
    let default_port = if tls {
        DEFAULT_AMI_TLS_PORT
    } else {
        DEFAULT_AMI_PORT
    };
    let (host, port) = host_port(authority, default_port)?;
    let transport = match (tls, verify) {
        (false, None) => AmiTransport::Tcp,
        (false, Some(_)) => {
            return Err(format!(
                "`{flags}` is a TLS flag: write tls://{authority}/{flags}"
            ));
        }
        (true, None | Some(true)) => AmiTransport::Tls,
        (true, Some(false)) => AmiTransport::TlsNoValidateCert,
    };
    Ok((host, port, transport))
}

/// `http` or `https`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WebhookScheme {
    /// Plain HTTP (port 80 by default).
    #[default]
    Http,
    /// HTTP over TLS (port 443 by default): the certificate is checked against the system
    /// roots plus `webhook_cafile`.
    Https,
}

impl WebhookScheme {
    /// The port when the URL names none.
    pub fn default_port(self) -> u16 {
        match self {
            WebhookScheme::Http => 80,
            WebhookScheme::Https => 443,
        }
    }
}

impl fmt::Display for WebhookScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WebhookScheme::Http => "http",
            WebhookScheme::Https => "https",
        })
    }
}

/// A webhook URL: `http://host[:port][/path]` or `https://…`. The path (with its query) is
/// made of the characters RFC 3986 allows, so it goes on a request line as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl {
    /// `http` or `https`.
    pub scheme: WebhookScheme,
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// TCP port (the scheme's default when not written).
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

impl WebhookUrl {
    /// The `Host:` header value (without the port when it is the scheme's default).
    pub fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == self.scheme.default_port() {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

impl fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}{}", self.scheme, self.host_header(), self.path)
    }
}

/// A character RFC 3986 allows in a path or query (`pchar`, `/`, `?`, and `%` of a
/// percent-encoding).
fn uri_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:@/?%".contains(c)
}

impl FromStr for WebhookUrl {
    type Err = OutputError;

    fn from_str(value: &str) -> Result<Self, OutputError> {
        let bad = |m: String| OutputError::Webhook(m);
        let value = value.trim();
        if value.len() > MAX_URL_BYTES {
            return Err(bad(format!(
                "the URL is {} bytes long; at most {MAX_URL_BYTES}",
                value.len()
            )));
        }
        let lower = value.to_ascii_lowercase();
        let (scheme, rest) = if lower.starts_with("https://") {
            (WebhookScheme::Https, &value["https://".len()..])
        } else if lower.starts_with("http://") {
            (WebhookScheme::Http, &value["http://".len()..])
        } else {
            return Err(bad(format!("`{value}` is not an http:// or https:// URL")));
        };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest[i..].starts_with('/') => (&rest[..i], rest[i..].to_owned()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_owned()),
        };
        if authority.contains('@') {
            return Err(bad(format!(
                "`{value}`: credentials in the URL are not supported"
            )));
        }
        let path = path.split('#').next().unwrap_or("/").to_owned();
        // The path goes into the request line as it is.
        if let Some(c) = path.chars().find(|&c| !uri_char(c)) {
            return Err(bad(format!(
                "`{value}`: the path contains {c:?}, which a URL cannot hold; percent-encode it"
            )));
        }
        let (host, port) = host_port(authority, scheme.default_port())
            .map_err(|m| bad(format!("`{value}`: {m}")))?;
        Ok(WebhookUrl {
            scheme,
            host,
            port,
            path,
        })
    }
}

/// imapvm.conf's `[general]` (or the legacy `[imapvm]` of voicemail.conf), typed, with
/// imapvm's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapvmSection {
    /// `ami` lines (each one a target that gets every change).
    pub ami: Vec<AmiTarget>,
    /// `webhook` lines.
    pub webhooks: Vec<WebhookUrl>,
    /// `webhook_timeout`: one attempt (connect, send, status line) may take this long.
    pub webhook_timeout: Duration,
    /// `webhook_retries`: attempts after the first, with doubling back-off.
    pub webhook_retries: u32,
    /// `webhook_inflight`: most requests at once (per webhook).
    pub webhook_inflight: u32,
    /// `webhook_secret`: when set, every POST carries `X-Imapvm-Signature: sha256=<hex>`,
    /// the HMAC-SHA256 of the body with this key.
    pub webhook_secret: Option<Secret>,
    /// `webhook_cafile`: CA certificates (PEM) trusted for `https://` webhooks besides the
    /// system roots.
    pub webhook_cafile: Option<PathBuf>,
    /// `ami_cafile`: CA certificates (PEM) trusted for `tls://` AMI targets besides the
    /// system roots.
    pub ami_cafile: Option<PathBuf>,
    /// `metrics`: where `imapvm watch` and `imapvm agi` serve Prometheus `/metrics` and
    /// `/healthz` (an IP address and port: `127.0.0.1:9464`, `[::1]:9464`); `None`: not
    /// served.
    pub metrics: Option<SocketAddr>,
    /// `agi_listen`: where `imapvm agi` listens for Asterisk's FastAGI connections.
    pub agi_listen: SocketAddr,
    /// `agi_spool`: the directory Asterisk and `imapvm agi` share for audio.
    pub agi_spool: PathBuf,
    /// `agi_allow` lines: networks besides loopback that may connect to `imapvm agi`.
    pub agi_allow: Vec<IpNet>,
    /// `cache_dir`: where every imapvm process keeps, per account, which UIDs of each
    /// folder are which box's voicemail, so that the next command (a new process) searches
    /// only those and the mail that arrived since (`None`: nothing kept between processes).
    pub cache_dir: Option<PathBuf>,
}

/// Default of `webhook_timeout`.
pub const DEFAULT_WEBHOOK_TIMEOUT: Duration = Duration::from_secs(5);
/// Default of `webhook_retries`.
pub const DEFAULT_WEBHOOK_RETRIES: u32 = 4;
/// Default of `webhook_inflight`.
pub const DEFAULT_WEBHOOK_INFLIGHT: u32 = 8;
/// Default of `agi_listen`: loopback, FastAGI's port.
pub const DEFAULT_AGI_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 4573);
/// Default of `agi_spool`.
pub const DEFAULT_AGI_SPOOL: &str = "/var/spool/asterisk/imapvm";

impl Default for ImapvmSection {
    fn default() -> Self {
        ImapvmSection {
            ami: Vec::new(),
            webhooks: Vec::new(),
            webhook_timeout: DEFAULT_WEBHOOK_TIMEOUT,
            webhook_retries: DEFAULT_WEBHOOK_RETRIES,
            webhook_inflight: DEFAULT_WEBHOOK_INFLIGHT,
            webhook_secret: None,
            webhook_cafile: None,
            ami_cafile: None,
            metrics: None,
            agi_listen: DEFAULT_AGI_LISTEN,
            agi_spool: PathBuf::from(DEFAULT_AGI_SPOOL),
            agi_allow: Vec::new(),
            cache_dir: None,
        }
    }
}

impl ImapvmSection {
    /// True when nothing differs from the defaults (nothing to render).
    pub fn is_default(&self) -> bool {
        *self == ImapvmSection::default()
    }

    /// Reads one `key = value` of imapvm.conf's `[general]` (or the legacy `[imapvm]`).
    /// `Ok(false)`: not an imapvm key (in `[imapvm]`, the line is a mailbox); `Err`: an imapvm
    /// key with a bad value (the value before it stays).
    pub(crate) fn read(&mut self, key: &str, value: &str) -> Result<bool, String> {
        let number = |max: u64| -> Result<u64, String> {
            match value.trim().parse::<u64>() {
                Ok(n) if n <= max => Ok(n),
                _ => Err(format!(
                    "{key}: `{value}` is not a whole number from 0 to {max}; using the default"
                )),
            }
        };
        match key.to_ascii_lowercase().as_str() {
            "ami" => self
                .ami
                .push(value.parse().map_err(|e: OutputError| e.to_string())?),
            "webhook" => self
                .webhooks
                .push(value.parse().map_err(|e: OutputError| e.to_string())?),
            "webhook_timeout" => match number(3600)? {
                0 => {
                    return Err(format!(
                        "{key}: 0 seconds would fail every request; write 1 or more"
                    ));
                }
                n => self.webhook_timeout = Duration::from_secs(n),
            },
            "webhook_retries" => self.webhook_retries = number(100)? as u32,
            "webhook_inflight" => match number(1024)? {
                0 => return Err(format!("{key}: 0 would send nothing; write 1 or more")),
                n => self.webhook_inflight = n as u32,
            },
            "webhook_secret" => self.webhook_secret = Some(secret(value)?),
            "webhook_cafile" => self.webhook_cafile = Some(absolute_path(key, value)?),
            "ami_cafile" => self.ami_cafile = Some(absolute_path(key, value)?),
            "metrics" => self.metrics = Some(socket_address(key, value, "127.0.0.1:9464")?),
            "agi_listen" => self.agi_listen = socket_address(key, value, "127.0.0.1:4573")?,
            "agi_spool" => self.agi_spool = absolute_path(key, value)?,
            "agi_allow" => self.agi_allow.push(network(value)?),
            "cache_dir" => self.cache_dir = Some(absolute_path(key, value)?),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The section as an imapvm.conf: `[general]` and one line per value that differs from
    /// the default; it parses back ([`crate::parse_imapvm_conf_bytes`]) to the same values.
    /// Secrets are written in clear: this is a configuration file. `;` is written `\;` (else
    /// it starts a comment).
    pub fn render(&self) -> String {
        let mut text = String::from("[general]\n");
        for l in self.render_raw().lines() {
            let (k, v) = l.split_once(" = ").unwrap_or((l, ""));
            text.push_str(&format!("{k} = {}\n", v.replace(';', "\\;")));
        }
        text
    }

    fn render_raw(&self) -> String {
        let mut out = String::new();
        for a in &self.ami {
            out.push_str(&format!("ami = {}\n", a.written_with(a.secret.expose())));
        }
        for w in &self.webhooks {
            out.push_str(&format!("webhook = {w}\n"));
        }
        let d = ImapvmSection::default();
        if self.webhook_timeout != d.webhook_timeout {
            out.push_str(&format!(
                "webhook_timeout = {}\n",
                self.webhook_timeout.as_secs()
            ));
        }
        if self.webhook_retries != d.webhook_retries {
            out.push_str(&format!("webhook_retries = {}\n", self.webhook_retries));
        }
        if self.webhook_inflight != d.webhook_inflight {
            out.push_str(&format!("webhook_inflight = {}\n", self.webhook_inflight));
        }
        if let Some(s) = &self.webhook_secret {
            out.push_str(&format!("webhook_secret = {}\n", s.expose()));
        }
        if let Some(p) = &self.webhook_cafile {
            out.push_str(&format!("webhook_cafile = {}\n", p.display()));
        }
        if let Some(p) = &self.ami_cafile {
            out.push_str(&format!("ami_cafile = {}\n", p.display()));
        }
        if let Some(a) = &self.metrics {
            out.push_str(&format!("metrics = {a}\n"));
        }
        if self.agi_listen != d.agi_listen {
            out.push_str(&format!("agi_listen = {}\n", self.agi_listen));
        }
        if self.agi_spool != d.agi_spool {
            out.push_str(&format!("agi_spool = {}\n", self.agi_spool.display()));
        }
        for n in &self.agi_allow {
            out.push_str(&format!("agi_allow = {n}\n"));
        }
        if let Some(p) = &self.cache_dir {
            out.push_str(&format!("cache_dir = {}\n", p.display()));
        }
        out
    }
}

/// `webhook_secret`: not empty, bounded, no control characters (a value is one line).
fn secret(value: &str) -> Result<Secret, String> {
    if value.is_empty() {
        return Err("webhook_secret is empty; write the secret or remove the line".into());
    }
    if value.len() > MAX_WEBHOOK_SECRET_BYTES {
        return Err(format!(
            "webhook_secret is {} bytes long; at most {MAX_WEBHOOK_SECRET_BYTES}",
            value.len()
        ));
    }
    if value.chars().any(char::is_control) {
        return Err("webhook_secret contains a control character; use printable characters".into());
    }
    Ok(Secret::new(value))
}

/// A file or directory: absolute (a service's working directory is not the operator's),
/// bounded, no control characters.
fn absolute_path(key: &str, value: &str) -> Result<PathBuf, String> {
    let value = value.trim();
    if value.is_empty() {
        return Err(format!(
            "{key} is empty; write an absolute path or remove the line"
        ));
    }
    if value.len() > MAX_PATH_BYTES {
        return Err(format!(
            "{key} is {} bytes long; at most {MAX_PATH_BYTES}",
            value.len()
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(format!("{key} contains a control character"));
    }
    if !value.starts_with('/') {
        return Err(format!(
            "{key}: `{value}` is a relative path; write it from / (a service's working directory is not yours)"
        ));
    }
    Ok(PathBuf::from(value))
}

/// `address:port`, IPv6 in brackets.
fn socket_address(key: &str, value: &str, example: &str) -> Result<SocketAddr, String> {
    value.trim().parse().map_err(|_| {
        format!(
            "{key}: `{value}` is not an address:port; write e.g. {example} or [::1]:{}",
            example.rsplit(':').next().unwrap_or_default()
        )
    })
}

/// One `agi_allow` network in CIDR notation.
fn network(value: &str) -> Result<IpNet, String> {
    value.trim().parse().map_err(|_| {
        format!("agi_allow: `{value}` is not a network in CIDR notation; write e.g. 192.0.2.0/24, or 192.0.2.7/32 for one host")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ami_values() {
        let a: AmiTarget = "127.0.0.1:5039,imapvm,s3cret,mwi".parse().unwrap();
        assert_eq!(
            (
                a.host.as_str(),
                a.port,
                a.username.as_str(),
                a.secret.expose(),
                a.mode
            ),
            ("127.0.0.1", 5039, "imapvm", "s3cret", AmiMode::Mwi)
        );
        let a: AmiTarget = "pbx.example,u,se,cr,et,refresh".parse().unwrap();
        assert_eq!(
            (a.port, a.secret.expose(), a.mode),
            (5038, "se,cr,et", AmiMode::Refresh)
        );
        let a: AmiTarget = "[::1]:6000,u,pw".parse().unwrap();
        assert_eq!(
            (a.host.as_str(), a.port, a.mode),
            ("::1", 6000, AmiMode::Refresh)
        );
        assert_eq!(a.to_string(), "[::1]:6000,u,***,refresh");
        assert!(!format!("{a:?}").contains("pw"));
        for bad in [
            "",
            "host",
            "host,user",
            "host:0,u,s",
            "host:x,u,s",
            ",u,s",
            "h,,s",
            "h,u,",
            "h,u,s,loud",
            "[::1,u,s",
            "[:=:=\"J]:1,u,s",
            "ho st,u,s",
            "[fe80::1%eth0]:1,u,s",
        ] {
            let err = bad.parse::<AmiTarget>().unwrap_err();
            assert!(matches!(err, OutputError::Ami(_)), "{bad}: {err}");
        }
    }

    #[test]
    fn webhook_urls() {
        let w: WebhookUrl = "http://127.0.0.1:8080/mwi?x=1".parse().unwrap();
        assert_eq!(
            (w.host.as_str(), w.port, w.path.as_str()),
            ("127.0.0.1", 8080, "/mwi?x=1")
        );
        assert_eq!(w.to_string(), "http://127.0.0.1:8080/mwi?x=1");
        let w: WebhookUrl = "HTTP://hooks.example".parse().unwrap();
        assert_eq!(
            (w.port, w.path.as_str(), w.host_header()),
            (80, "/", "hooks.example".to_owned())
        );
        let w: WebhookUrl = "http://[::1]:81?q".parse().unwrap();
        assert_eq!(
            (w.host_header(), w.path.as_str()),
            ("[::1]:81".to_owned(), "/?q")
        );
        for bad in [
            "ftp://x/",
            "http://x/a|b",
            "https://x/caf\u{e9}",
            "https:///p",
            "http://",
            "http://u:p@x/",
            "http://x/a b",
            "http://x/a\r\nHost: y",
            "http://x:99999/",
        ] {
            assert!(bad.parse::<WebhookUrl>().is_err(), "{bad}");
        }
        let long = format!("http://x/{}", "a".repeat(MAX_URL_BYTES));
        assert!(long.parse::<WebhookUrl>().is_err());
    }

    #[test]
    fn ami_over_tls() {
        let a: AmiTarget = "tls://pbx.example,imapvm,s3cret,mwi".parse().unwrap();
        assert_eq!(
            (a.host.as_str(), a.port, a.transport, a.mode),
            (
                "pbx.example",
                DEFAULT_AMI_TLS_PORT,
                AmiTransport::Tls,
                AmiMode::Mwi
            )
        );
        assert_eq!(a.to_string(), "tls://pbx.example:5039,imapvm,***,mwi");
        let a: AmiTarget = "TLS://[::1]:6039/novalidate-cert,u,pw".parse().unwrap();
        assert_eq!(
            (a.host.as_str(), a.port, a.transport),
            ("::1", 6039, AmiTransport::TlsNoValidateCert)
        );
        assert_eq!(a.address(), "tls://[::1]:6039/novalidate-cert");
        let a: AmiTarget = "tls://pbx/validate-cert,u,pw".parse().unwrap();
        assert_eq!(a.transport, AmiTransport::Tls);
        let a: AmiTarget = "pbx,u,pw".parse().unwrap();
        assert_eq!((a.port, a.transport), (DEFAULT_AMI_PORT, AmiTransport::Tcp));
        for bad in [
            "pbx/novalidate-cert,u,s",
            "tls://pbx/loose,u,s",
            "tls://pbx/validate-cert/novalidate-cert,u,s",
            "ssl://pbx,u,s",
            "tcp://pbx,u,s",
            "tls://,u,s",
            "tls://pbx:0,u,s",
        ] {
            let err = bad.parse::<AmiTarget>().unwrap_err();
            assert!(matches!(err, OutputError::Ami(_)), "{bad}: {err}");
        }
    }

    #[test]
    fn https_webhooks() {
        let w: WebhookUrl = "https://hooks.example/mwi".parse().unwrap();
        assert_eq!(
            (w.scheme, w.port, w.host_header(), w.path.as_str()),
            (
                WebhookScheme::Https,
                443,
                "hooks.example".to_owned(),
                "/mwi"
            )
        );
        assert_eq!(w.to_string(), "https://hooks.example/mwi");
        let w: WebhookUrl = "HTTPS://127.0.0.1:8443".parse().unwrap();
        assert_eq!(w.to_string(), "https://127.0.0.1:8443/");
        // 80 is not https's default: it is written.
        let w: WebhookUrl = "https://h:80/x%20y?a=1&b=%2F".parse().unwrap();
        assert_eq!(w.to_string(), "https://h:80/x%20y?a=1&b=%2F");
    }

    #[test]
    fn webhook_secret_and_ca_files() {
        let mut s = ImapvmSection::default();
        assert!(s.read("webhook_secret", "It's a secret; 42").unwrap());
        assert!(
            s.read("Webhook_CAfile", "/etc/imapvm/hooks-ca.pem")
                .unwrap()
        );
        assert!(s.read("ami_cafile", " /etc/imapvm/pbx-ca.pem ").unwrap());
        assert_eq!(
            s.webhook_secret.as_ref().map(Secret::expose),
            Some("It's a secret; 42")
        );
        assert_eq!(
            s.webhook_cafile.as_deref(),
            Some(std::path::Path::new("/etc/imapvm/hooks-ca.pem"))
        );
        assert_eq!(
            s.ami_cafile.as_deref(),
            Some(std::path::Path::new("/etc/imapvm/pbx-ca.pem"))
        );
        assert!(!format!("{s:?}").contains("It's a secret"));
        for key in ["webhook_cafile", "ami_cafile", "webhook_secret"] {
            assert!(s.read(key, "").is_err(), "{key}");
        }
        let long = "k".repeat(MAX_WEBHOOK_SECRET_BYTES + 1);
        let err = s.read("webhook_secret", &long).unwrap_err();
        assert!(!err.contains("kkkk"), "{err}");
        // A refused value leaves the one before.
        assert_eq!(
            s.webhook_secret.as_ref().map(Secret::expose),
            Some("It's a secret; 42")
        );
        // In the file, `;` is escaped (else it starts a comment).
        assert!(
            s.render()
                .contains("webhook_secret = It's a secret\\; 42\n")
        );
    }

    #[test]
    fn render_reads_back() {
        let mut s = ImapvmSection::default();
        assert!(s.read("AMI", "[::1]:1,u,p,mwi").unwrap());
        assert!(s.read("webhook", "http://h:81/p").unwrap());
        assert!(s.read("webhook_timeout", "7").unwrap());
        assert!(s.read("webhook_retries", "0").unwrap());
        assert!(s.read("webhook_inflight", "3").unwrap());
        assert!(
            s.read("ami", "tls://pbx:6039/novalidate-cert,u,p,w,refresh")
                .unwrap()
        );
        assert!(s.read("ami", "tls://pbx2,u,p").unwrap());
        assert!(s.read("webhook", "https://h/p?q=1").unwrap());
        assert!(s.read("webhook_secret", "k3y").unwrap());
        assert!(s.read("webhook_cafile", "/etc/h.pem").unwrap());
        assert!(s.read("ami_cafile", "/etc/a.pem").unwrap());
        assert!(s.read("Metrics", " [::1]:9464 ").unwrap());
        assert_eq!(s.metrics, Some("[::1]:9464".parse().unwrap()));
        assert!(s.read("webhook_secret", "hook s3cret;x").unwrap());
        assert!(s.read("webhook_cafile", "/etc/ssl/hooks.pem").unwrap());
        assert!(s.read("AMI_cafile", "/etc/asterisk/keys/ca.pem").unwrap());
        assert!(s.read("metrics", "[::1]:9464").unwrap());
        assert!(s.read("agi_listen", "0.0.0.0:4573").unwrap());
        assert!(s.read("agi_spool", "/srv/agi").unwrap());
        assert!(s.read("agi_allow", "192.0.2.0/24").unwrap());
        assert!(s.read("agi_allow", "2001:db8::/32").unwrap());
        assert!(!s.read("1234", "4242,Alice").unwrap());
        assert!(s.read("webhook_inflight", "0").is_err());
        assert!(s.read("webhook_timeout", "soon").is_err());
        for (key, bad) in [
            ("webhook_secret", ""),
            ("webhook_secret", "a\u{7}b"),
            ("webhook_cafile", "certs/ca.pem"),
            ("ami_cafile", ""),
            ("metrics", "localhost:9090"),
            ("metrics", "127.0.0.1"),
            ("agi_listen", "127.0.0.1:99999"),
            ("agi_spool", "spool"),
            ("agi_allow", "192.0.2.7"),
            ("agi_allow", "192.0.2.0/33"),
        ] {
            assert!(s.read(key, bad).is_err(), "{key} = {bad:?}");
        }
        assert!(
            s.read("webhook_secret", &"x".repeat(MAX_WEBHOOK_SECRET_BYTES + 1))
                .is_err()
        );
        let long_path = format!("/{}", "p".repeat(MAX_PATH_BYTES));
        assert!(s.read("agi_spool", &long_path).is_err());
        assert!(
            !format!("{s:?}").contains("s3cret"),
            "Debug redacts the webhook secret"
        );
        let mut back = ImapvmSection::default();
        for line in s.render_raw().lines() {
            let (k, v) = line.split_once(" = ").unwrap();
            assert!(back.read(k, v).unwrap());
        }
        assert_eq!(back, s);
    }

    /// `metrics` is a socket address: an IP and a port, never a host name (the listener
    /// binds it, it does not resolve it); a bad value is an error naming the key and the
    /// section keeps serving nothing.
    #[test]
    fn metrics_is_an_ip_address_and_port() {
        let mut s = ImapvmSection::default();
        assert!(s.read("metrics", "127.0.0.1:9464").unwrap());
        assert_eq!(s.metrics, Some("127.0.0.1:9464".parse().unwrap()));
        assert!(s.render_raw().contains("metrics = 127.0.0.1:9464\n"));
        for bad in [
            "",
            "9464",
            "localhost:9464",
            "127.0.0.1",
            "127.0.0.1:99999",
            "::1:9464",
        ] {
            let mut s = ImapvmSection::default();
            let err = s.read("metrics", bad).unwrap_err();
            assert!(err.starts_with("metrics: "), "{bad}: {err}");
            assert_eq!(s.metrics, None, "{bad}");
        }
        assert!(ImapvmSection::default().is_default());
        assert!(!s.is_default());
    }
}
