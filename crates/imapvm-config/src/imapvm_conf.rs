//! imapvm.conf: imapvm's own options in a file of their own, beside voicemail.conf, as
//! Asterisk keeps one file per module in its configuration directory (`astetcdir`,
//! `/etc/asterisk`).
//!
//! The file has Asterisk's syntax (the same parser as voicemail.conf: comments, `#include`,
//! templates) and one section, `[general]`, whose keys are [`crate::IMAPVM_KEYS`]; it types
//! into an [`ImapvmSection`]. Where it is: [`ImapvmConfPath`]; by default `imapvm.conf` in
//! the directory of the voicemail.conf being read, so `--config /opt/pbx/voicemail.conf`
//! finds `/opt/pbx/imapvm.conf`, as Asterisk started with `astetcdir=/opt/pbx` would. A
//! missing default file is no error (imapvm's defaults apply); a missing file named
//! explicitly is.
//!
//! Older installs wrote these options as an `[imapvm]` section of voicemail.conf, where
//! Asterisk sees them as mailboxes. That section is still read, key by key: a key that
//! imapvm.conf sets is taken from imapvm.conf only (its `[imapvm]` lines are ignored, with a
//! warning), any other key from `[imapvm]`. A warning at the section names the lines to move
//! and where to.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::builder::Builder;
use crate::diagnostic::{Diagnostic, Location};
use crate::files::ConfigFiles;
use crate::imapvm_section::{IMAPVM_KEYS, IMAPVM_SECTION, ImapvmSection, REPEATABLE_KEYS};
use crate::semantics::{GENERAL_TYPED, suggestion};
use crate::syntax::{self, RawConfig, RawEntry, RawSection};
use crate::{ConfigError, sort};

/// The file's name, looked for in voicemail.conf's directory.
pub const IMAPVM_CONF: &str = "imapvm.conf";

/// Which imapvm.conf goes with a voicemail.conf.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ImapvmConfPath {
    /// `imapvm.conf` in the directory of voicemail.conf (Asterisk's configuration
    /// directory); when there is no such file, imapvm's defaults apply.
    #[default]
    Beside,
    /// This file (the command line's `--imapvm-conf`); it must exist.
    File(PathBuf),
}

impl ImapvmConfPath {
    /// The file meant, for the voicemail.conf at `voicemail_conf`.
    pub fn resolve(&self, voicemail_conf: &Path) -> PathBuf {
        match self {
            ImapvmConfPath::Beside => voicemail_conf
                .parent()
                .map_or_else(|| PathBuf::from(IMAPVM_CONF), |d| d.join(IMAPVM_CONF)),
            ImapvmConfPath::File(path) => path.clone(),
        }
    }
}

/// An imapvm.conf on its own: its `[general]` typed, and everything found wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImapvmConf {
    /// `[general]`, with imapvm's defaults for what it does not set.
    pub general: ImapvmSection,
    /// Errors and warnings, in file order.
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses the imapvm.conf at `path` (and its `#include`s) on its own. Only an unreadable
/// file is an `Err`.
pub fn parse_imapvm_conf(files: &dyn ConfigFiles, path: &Path) -> Result<ImapvmConf, ConfigError> {
    let mut diagnostics = Vec::new();
    let raw = syntax::load(files, path, &mut diagnostics)?;
    Ok(imapvm_conf_of(&raw, diagnostics))
}

/// Parses one imapvm.conf's bytes, named `name` in diagnostics (no `#include`s).
pub fn parse_imapvm_conf_bytes(name: &str, bytes: &[u8]) -> ImapvmConf {
    let mut diagnostics = Vec::new();
    let raw = syntax::load_text(name, bytes, &mut diagnostics);
    imapvm_conf_of(&raw, diagnostics)
}

fn imapvm_conf_of(raw: &RawConfig, mut diagnostics: Vec<Diagnostic>) -> ImapvmConf {
    let mut b = Builder {
        diagnostics: &mut diagnostics,
    };
    let empty = RawConfig::default();
    let general = effective(&empty, Some(raw), "", &mut b);
    sort(&mut diagnostics);
    ImapvmConf {
        general,
        diagnostics,
    }
}

/// Reads imapvm.conf at `path` for the combined parse: `None` when `path` is the default
/// one and does not exist (or is voicemail.conf itself).
pub(crate) fn load(
    files: &dyn ConfigFiles,
    voicemail_conf: &Path,
    which: &ImapvmConfPath,
    diagnostics: &mut Vec<Diagnostic>,
) -> Result<Option<RawConfig>, ConfigError> {
    let path = which.resolve(voicemail_conf);
    if *which == ImapvmConfPath::Beside && path == voicemail_conf {
        // A voicemail.conf that is itself called imapvm.conf has no imapvm.conf beside it.
        return Ok(None);
    }
    match syntax::load(files, &path, diagnostics) {
        Ok(raw) => Ok(Some(raw)),
        Err(ConfigError::Read { source, .. })
            if *which == ImapvmConfPath::Beside
                && source.kind() == std::io::ErrorKind::NotFound =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// The options in force: imapvm.conf's `[general]` key by key, else voicemail.conf's legacy
/// `[imapvm]` (whose bad values `semantics` has already reported), else the defaults.
/// Diagnoses imapvm.conf's lines and says, at each legacy section, which lines to move to
/// `target` (the imapvm.conf path, as the operator would write it).
pub(crate) fn effective(
    voicemail: &RawConfig,
    imapvm: Option<&RawConfig>,
    target: &str,
    b: &mut Builder<'_>,
) -> ImapvmSection {
    let general = imapvm.map(|raw| general_lines(raw, b)).unwrap_or_default();
    let mut set: BTreeMap<String, &Location> = BTreeMap::new();
    for entry in &general {
        set.entry(entry.key.to_ascii_lowercase())
            .or_insert(&entry.key_at);
    }
    let mut section = ImapvmSection::default();
    for (legacy, lines) in legacy_sections(voicemail) {
        let (overridden, moved): (Vec<&RawEntry>, Vec<&RawEntry>) = lines
            .into_iter()
            .partition(|e| set.contains_key(&e.key.to_ascii_lowercase()));
        for entry in &moved {
            // A bad value was reported (as an error) where voicemail.conf was read.
            let _ = section.read(&entry.key, &entry.value);
        }
        for entry in &overridden {
            let lower = entry.key.to_ascii_lowercase();
            if let Some(at) = set.get(&lower) {
                b.warn(
                    &entry.key_at,
                    format!(
                        "`{}` here is ignored: {} sets `{lower}` (imapvm.conf wins over [{}] of voicemail.conf): delete this line",
                        entry.key,
                        at_line(at),
                        legacy.name
                    ),
                );
            }
        }
        b.warn(
            &legacy.at,
            legacy_message(legacy, &moved, &overridden, target),
        );
    }
    let mut seen: BTreeMap<String, &Location> = BTreeMap::new();
    for entry in general {
        let lower = entry.key.to_ascii_lowercase();
        if !REPEATABLE_KEYS.contains(&lower.as_str())
            && let Some(earlier) = seen.get(&lower)
        {
            b.warn(
                &entry.key_at,
                format!(
                    "`{lower}` is set again (first at {}); this later line wins: remove one of them",
                    at_line(earlier)
                ),
            );
        }
        seen.insert(lower, &entry.key_at);
        if let Err(message) = section.read(&entry.key, &entry.value) {
            b.error(&entry.value_at, message);
        }
    }
    section
}

/// `file:line`.
fn at_line(at: &Location) -> String {
    format!("{}:{}", at.file, at.line)
}

/// The lines of imapvm.conf imapvm reads (`[general]`, known keys), in file order; every
/// other line is diagnosed.
fn general_lines<'r>(raw: &'r RawConfig, b: &mut Builder<'_>) -> Vec<&'r RawEntry> {
    let mut lines = Vec::new();
    for section in raw.sections.iter().filter(|s| !s.template) {
        if !section.name.eq_ignore_ascii_case("general") {
            b.warn(
                &section.at,
                format!(
                    "imapvm.conf has one section, [general]; [{}] and its {} line(s) are ignored: move them under [general]",
                    section.name,
                    section.entries.len()
                ),
            );
            continue;
        }
        for entry in &section.entries {
            let lower = entry.key.to_ascii_lowercase();
            if IMAPVM_KEYS.contains(&lower.as_str()) {
                lines.push(entry);
            } else if GENERAL_TYPED.contains(&lower.as_str()) {
                b.warn(
                    &entry.key_at,
                    format!(
                        "`{}` is a voicemail.conf option (Asterisk reads it there too); imapvm.conf ignores it: move it to [general] of voicemail.conf",
                        entry.key
                    ),
                );
            } else {
                let hint = match suggestion(&entry.key, IMAPVM_KEYS.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("the options are {}", IMAPVM_KEYS.join(", ")),
                };
                b.warn(
                    &entry.key_at,
                    format!(
                        "`{}` is not an imapvm.conf option and is ignored ({hint})",
                        entry.key
                    ),
                );
            }
        }
    }
    lines
}

/// voicemail.conf's `[imapvm]` sections with their imapvm lines (the other lines are
/// mailboxes).
fn legacy_sections(raw: &RawConfig) -> Vec<(&RawSection, Vec<&RawEntry>)> {
    raw.sections
        .iter()
        .filter(|s| !s.template && s.name.eq_ignore_ascii_case(IMAPVM_SECTION))
        .map(|s| {
            let lines: Vec<&RawEntry> = s
                .entries
                .iter()
                .filter(|e| IMAPVM_KEYS.contains(&e.key.to_ascii_lowercase().as_str()))
                .collect();
            (s, lines)
        })
        .filter(|(_, lines)| !lines.is_empty())
        .collect()
}

/// The warning at a legacy `[imapvm]` header: what to move where, what to delete, and why.
fn legacy_message(
    section: &RawSection,
    moved: &[&RawEntry],
    overridden: &[&RawEntry],
    target: &str,
) -> String {
    let name = &section.name;
    let list = |entries: &[&RawEntry]| -> String {
        let parts: Vec<String> = entries
            .iter()
            .map(|e| {
                if e.key_at.file == section.at.file {
                    format!("line {} `{}`", e.key_at.line, e.key)
                } else {
                    format!("{} `{}`", at_line(&e.key_at), e.key)
                }
            })
            .collect();
        parts.join(", ")
    };
    let mut text = format!("[{name}] in voicemail.conf is read for compatibility: ");
    if !moved.is_empty() {
        let _ = write!(
            text,
            "move {} to the [general] section of {target}",
            list(moved)
        );
    }
    if !overridden.is_empty() {
        if !moved.is_empty() {
            text.push_str("; ");
        }
        let _ = write!(text, "delete {} ({target} sets them)", list(overridden));
    }
    let boxes: Vec<String> = moved
        .iter()
        .chain(overridden)
        .map(|e| format!("{}@{name}", e.key))
        .collect();
    let _ = write!(
        text,
        ". Asterisk reads every section of voicemail.conf other than [general] and [zonemessages] as a voicemail context: to it {} {}",
        if boxes.len() == 1 {
            "this line is the mailbox"
        } else {
            "these lines are the mailboxes"
        },
        boxes.join(", ")
    );
    if moved
        .iter()
        .chain(overridden)
        .any(|e| e.key.eq_ignore_ascii_case("ami"))
    {
        text.push_str(" (the `ami` secret is its e-mail field)");
    }
    text
}
