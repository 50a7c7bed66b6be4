//! Asterisk's `voicemail.conf`, parsed exactly as Asterisk's `app_voicemail` (IMAP storage)
//! reads it, into a typed [`Config`] plus [`Diagnostic`]s that say what is wrong, where
//! (file:line:column), and what to do.
//!
//! What it covers: Asterisk's config syntax (sections, `=`/`=>`/`+=`, `;` and `;-- --;`
//! comments, `\;`, `#include`/`#tryinclude`, templates `[x](!)`, inheritance `[x](a,b)`,
//! additions `[x](+)`), `[general]` with every IMAP option and every option that shapes a
//! stored message, Asterisk's defaults and yes/no rules, `[zonemessages]`, the
//! `aliasescontext` section, and mailbox lines `box => pin,name,email,pager,opt=v|opt=v`
//! split exactly as Asterisk splits them. The options of the telephone flows `VoiceMail()` and
//! `VoiceMailMain()` (review, operator, envelope, prompts, playback keys, password changes)
//! are typed too ([`Phone`], [`PhoneOptions`]). [`Config::settings`] resolves one mailbox with
//! Asterisk's precedence (mailbox option > `[general]` > default) and tells where each value
//! came from ([`MailboxSettings`], [`PhoneSettings`]). imapvm's own `imapoauthcmd` (the
//! command that prints an OAuth 2 token, in `[general]` or on a mailbox line) is a
//! [`CommandLine`]: split into program and arguments as a shell would, for a runtime that
//! runs it without one.
//!
//! imapvm's own options (AMI and webhook outputs, metrics, the FastAGI server) live in
//! `imapvm.conf` beside voicemail.conf, same syntax, one `[general]` section
//! ([`parse_with_imapvm_conf`], [`ImapvmSection`]); the `[imapvm]` section older installs
//! wrote into voicemail.conf is still read, with a warning naming the lines to move.
//!
//! A PIN change is computed, not written: [`change_password`] returns the new bytes of the
//! file holding the mailbox line (only the password field differs), [`render_secret_conf`]
//! and [`read_secret_conf`] handle the spool's `secret.conf` (`passwordlocation=spooldir`).
//!
//! What it does **not** do: read or write files (an injected [`ConfigFiles`] reader supplies
//! them; the runtime crate has a `std::fs` one and writes the edits), run `#exec` (refused) or
//! `externpass`/`externpasscheck` programs, speak IMAP, build messages, or read Asterisk's
//! realtime (database) mailboxes or `users.conf`.
//!
//! Parsing never fails on bad content: a malformed line is a diagnostic and the rest is still
//! read. Only an unreadable top-level file is an `Err`.
//!
//! ```
//! use imapvm_config::{parse_bytes, MailboxId, Severity};
//!
//! let text = b"[general]\nimapserver=imap.example.com\nimapflags=ssl\n\
//!              [default]\n1234 => 4242,Alice,alice@example.com,,imapuser=vm1234|imappassword=s3cret\n";
//! let parsed = parse_bytes("voicemail.conf", text);
//! assert!(parsed.diagnostics.iter().all(|d| d.severity != Severity::Error));
//!
//! let id: MailboxId = "1234@default".parse().unwrap();
//! let settings = parsed.config.settings(&id).unwrap();
//! assert_eq!(settings.imapserver.value, "imap.example.com");
//! assert_eq!(settings.imapport.value, 143); // Asterisk's default
//! assert_eq!(settings.imapuser.value.as_deref(), Some("vm1234"));
//! assert_eq!(format!("{:?}", settings.imappassword.value), "Some(***)");
//! assert_eq!(settings.imapserver.origin.to_string(), "[general] voicemail.conf:2:12");
//! assert!(settings.phone.envelope.value); // Asterisk's default
//!
//! // VoiceMailMain's "change password": only the PIN field of the line changes.
//! let edited = imapvm_config::change_password_bytes(
//!     "voicemail.conf", text, &id, &imapvm_config::Secret::new("8675"),
//! ).unwrap();
//! assert!(String::from_utf8(edited).unwrap().contains("1234 => 8675,Alice,"));
//! ```
#![forbid(unsafe_code)]

mod builder;
mod command_line;
mod diagnostic;
mod files;
mod imapvm_conf;
mod imapvm_section;
mod layer;
mod model;
mod password;
mod phone;
mod render;
mod semantics;
mod settings;
mod syntax;

use std::path::Path;

pub use command_line::{CommandLine, CommandLineError, MAX_COMMAND_LINE};
pub use diagnostic::{Diagnostic, Location, Severity};
pub use files::{ConfigFiles, MemoryFiles};
pub use imapvm_conf::{
    IMAPVM_CONF, ImapvmConf, ImapvmConfPath, parse_imapvm_conf, parse_imapvm_conf_bytes,
};
pub use imapvm_section::{
    AmiMode, AmiTarget, AmiTransport, DEFAULT_AGI_LISTEN, DEFAULT_AGI_SPOOL, DEFAULT_AMI_PORT,
    DEFAULT_AMI_TLS_PORT, DEFAULT_WEBHOOK_INFLIGHT, DEFAULT_WEBHOOK_RETRIES,
    DEFAULT_WEBHOOK_TIMEOUT, IMAPVM_KEYS, IMAPVM_SECTION, ImapvmSection, MAX_PATH_BYTES,
    MAX_WEBHOOK_SECRET_BYTES, OutputError, REPEATABLE_KEYS, WebhookScheme, WebhookUrl,
};
/// The vocabulary this crate's API names, from `imapvm-types` (so callers need not depend on
/// it themselves).
pub use imapvm_types::{MailboxId, MailboxIdError, Secret};
pub use layer::SettingRow;
pub use model::{
    Alias, General, ImapFlags, ImapFlagsError, Mailbox, MailboxOptions, OptionOrigins, Origin,
    Origins, Setting, TlsMode, Zone,
};
pub use password::{
    MAX_PIN_CHARS, PasswordEdit, PasswordError, PinError, PinPolicyError, SECRET_CONF,
    change_password, change_password_bytes, check_new_pin, is_locked, read_secret_conf,
    render_secret_conf, secret_conf_path,
};
pub use phone::settings::PhoneSettings;
pub use phone::{
    DEFAULT_SILENCE_THRESHOLD, LISTEN_CONTROL_DTMF, MAX_CID_INTERNAL_CONTEXTS, PasswordChange,
    PasswordLocation, Phone, PhoneOptions, VolGain,
};
pub use semantics::substitute_escapes;
pub use settings::MailboxSettings;

/// Longest line Asterisk reads (its line buffer, newline included); longer lines are skipped.
pub const MAX_LINE_BYTES: usize = 8192;
/// Largest single file the parser accepts.
pub const MAX_FILE_BYTES: usize = 4 * 1024 * 1024;
/// Largest total of all files of one configuration.
pub const MAX_TOTAL_BYTES: usize = 16 * 1024 * 1024;
/// Deepest `#include` nesting (Asterisk's limit).
pub const MAX_INCLUDE_DEPTH: usize = 10;

/// The configuration could not be read at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The top-level file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The top-level file is larger than [`MAX_FILE_BYTES`].
    #[error("{path} is larger than {limit} bytes")]
    TooLarge {
        /// The file.
        path: String,
        /// The limit.
        limit: usize,
    },
}

/// A whole `voicemail.conf`, typed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Config {
    /// `[general]`.
    pub general: General,
    /// `[zonemessages]`, in file order.
    pub zones: Vec<Zone>,
    /// Every mailbox of every context, in file order (duplicates removed: the first wins).
    pub mailboxes: Vec<Mailbox>,
    /// The `aliasescontext` section's aliases.
    pub aliases: Vec<Alias>,
    /// imapvm's own options in force: imapvm.conf's `[general]` ([`parse_with_imapvm_conf`]),
    /// and for the keys it does not set, the legacy `[imapvm]` section of voicemail.conf.
    pub imapvm: ImapvmSection,
    /// Where values were written.
    pub origins: Origins,
}

impl Config {
    /// The mailbox `id` (ASCII case-insensitive, as Asterisk compares: [`MailboxId`]'s `Eq`).
    pub fn mailbox(&self, id: &MailboxId) -> Option<&Mailbox> {
        self.mailboxes.iter().find(|m| m.id == *id)
    }

    /// The `[zonemessages]` entry called `name` (exact match, as Asterisk compares).
    pub fn zone(&self, name: &str) -> Option<&Zone> {
        self.zones.iter().find(|z| z.name == name)
    }

    /// Follows an alias (`1234@devices`) to its mailbox id.
    pub fn resolve_alias(&self, alias: &str) -> Option<&MailboxId> {
        self.aliases
            .iter()
            .find(|a| a.alias.eq_ignore_ascii_case(alias))
            .map(|a| &a.target)
    }

    /// Where the mailbox line of `id` was written.
    pub fn mailbox_location(&self, id: &MailboxId) -> Option<&Location> {
        let index = self.mailboxes.iter().position(|m| m.id == *id)?;
        self.origins.mailbox_lines.get(index)
    }

    /// Writes the configuration back as a voicemail.conf that parses to the same values,
    /// [`Config::imapvm`] aside: that is imapvm.conf's ([`ImapvmSection::render`]), and is
    /// never written into voicemail.conf, where Asterisk would read it as mailboxes.
    ///
    /// Values cannot carry what the syntax cannot: leading or trailing white space, line
    /// breaks outside `emailsubject`/`emailbody`, `,` in the first four mailbox fields, `|`
    /// in mailbox options or e-mail addresses.
    pub fn render(&self) -> String {
        render::render(self)
    }
}

/// A parsed configuration and everything found wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Parsed {
    /// The configuration as Asterisk would use it.
    pub config: Config,
    /// Errors and warnings, in file order (voicemail.conf's, then imapvm.conf's).
    pub diagnostics: Vec<Diagnostic>,
    /// The imapvm.conf that was read, as named in its diagnostics (`None`: none was read,
    /// and the options in force are the legacy `[imapvm]`'s and imapvm's defaults).
    pub imapvm_conf: Option<String>,
}

impl Parsed {
    /// True if any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }

    /// How many errors and warnings.
    pub fn counts(&self) -> (usize, usize) {
        let errors = self
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count();
        (errors, self.diagnostics.len() - errors)
    }
}

/// Parses the voicemail.conf at `path`, reading it and its includes through `files`; no
/// imapvm.conf (see [`parse_with_imapvm_conf`]): [`Config::imapvm`] is the legacy `[imapvm]`
/// section's.
///
/// Relative `#include` names are resolved against the directory of `path` (Asterisk resolves
/// them against its configuration directory, where voicemail.conf lives).
pub fn parse(files: &dyn ConfigFiles, path: &Path) -> Result<Parsed, ConfigError> {
    let mut diagnostics = Vec::new();
    let raw = syntax::load(files, path, &mut diagnostics)?;
    let target = ImapvmConfPath::Beside.resolve(path);
    Ok(finish(&raw, None, &target, None, diagnostics))
}

/// Parses the voicemail.conf at `path` and the imapvm.conf `imapvm_conf` names: one
/// [`Config`], whose [`Config::imapvm`] takes each key from imapvm.conf when it sets it, else
/// from voicemail.conf's legacy `[imapvm]` (with a warning naming the lines to move), else
/// imapvm's default; the diagnostics of both files.
///
/// An `Err` when voicemail.conf cannot be read, or the imapvm.conf named by
/// [`ImapvmConfPath::File`]; a missing [`ImapvmConfPath::Beside`] file is no error.
pub fn parse_with_imapvm_conf(
    files: &dyn ConfigFiles,
    path: &Path,
    imapvm_conf: &ImapvmConfPath,
) -> Result<Parsed, ConfigError> {
    let mut diagnostics = Vec::new();
    let raw = syntax::load(files, path, &mut diagnostics)?;
    let imapvm_raw = imapvm_conf::load(files, path, imapvm_conf, &mut diagnostics)?;
    let target = imapvm_conf.resolve(path);
    let read = imapvm_raw.as_ref().map(|_| target.display().to_string());
    Ok(finish(
        &raw,
        imapvm_raw.as_ref(),
        &target,
        read,
        diagnostics,
    ))
}

/// Parses one file's bytes, named `name` in diagnostics. `#include`s cannot be followed
/// (they are reported as unreadable); no imapvm.conf is read.
pub fn parse_bytes(name: &str, bytes: &[u8]) -> Parsed {
    let mut diagnostics = Vec::new();
    let raw = syntax::load_text(name, bytes, &mut diagnostics);
    let target = ImapvmConfPath::Beside.resolve(Path::new(name));
    finish(&raw, None, &target, None, diagnostics)
}

/// The typed configuration of the loaded files, its diagnostics sorted.
fn finish(
    raw: &syntax::RawConfig,
    imapvm_raw: Option<&syntax::RawConfig>,
    target: &Path,
    imapvm_conf: Option<String>,
    mut diagnostics: Vec<Diagnostic>,
) -> Parsed {
    let mut config = semantics::build(raw, &mut diagnostics);
    let mut b = builder::Builder {
        diagnostics: &mut diagnostics,
    };
    config.imapvm = imapvm_conf::effective(raw, imapvm_raw, &target.display().to_string(), &mut b);
    sort(&mut diagnostics);
    Parsed {
        config,
        diagnostics,
        imapvm_conf,
    }
}

/// Diagnostics in file order: by file (first appearance), then line and column.
pub(crate) fn sort(diagnostics: &mut [Diagnostic]) {
    let mut files: Vec<String> = Vec::new();
    for d in diagnostics.iter() {
        if !files.contains(&d.file) {
            files.push(d.file.clone());
        }
    }
    diagnostics.sort_by_key(|d| (files.iter().position(|f| *f == d.file), d.line, d.column));
}
