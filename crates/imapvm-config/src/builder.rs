//! [`Builder`]: collects diagnostics while values are read, with the readers both
//! `[general]`/mailbox lines (`semantics`) and the telephone options (`phone/read`) use:
//! Asterisk's yes/no words, its buffer limits and `[general]` lookups.

use std::collections::BTreeMap;

use crate::diagnostic::{Diagnostic, Location};
use crate::syntax::RawEntry;

/// Asterisk's fixed buffer sizes (characters kept) for options imapvm uses.
const LIMITS: &[(&str, usize)] = &[
    ("imapserver", 47),
    ("imapport", 7),
    ("imapflags", 127),
    ("imapfolder", 63),
    ("imapparentfolder", 63),
    ("greetingfolder", 63),
    ("authuser", 31),
    ("authpassword", 41),
    ("imapuser", 79),
    ("imappassword", 79),
    ("imapvmshareid", 79),
    ("serveremail", 79),
    ("fromstring", 99),
    ("charset", 31),
    ("emaildateformat", 31),
    ("fullname", 79),
    ("password", 79),
    ("pager", 79),
    ("language", 39),
    ("callback", 79),
    ("dialout", 79),
    ("exitcontext", 79),
    ("externpass", 127),
    ("externpassnotify", 127),
    ("externpasscheck", 127),
    ("vm-login", 79),
    ("vm-newuser", 79),
    ("vm-password", 79),
    ("vm-newpassword", 79),
    ("vm-passchanged", 79),
    ("vm-reenterpassword", 79),
    ("vm-mismatch", 79),
    ("vm-invalid-password", 79),
    ("vm-pls-try-again", 79),
    ("vm-prepend-timeout", 79),
    ("listen-control-forward-key", 11),
    ("listen-control-reverse-key", 11),
    ("listen-control-pause-key", 11),
    ("listen-control-restart-key", 11),
    ("listen-control-stop-key", 11),
];

/// Asterisk's `ast_true`.
pub(crate) fn ast_true(v: &str) -> bool {
    ["yes", "true", "y", "t", "1", "on"]
        .iter()
        .any(|w| v.eq_ignore_ascii_case(w))
}

/// Asterisk's `ast_false`.
pub(crate) fn ast_false(v: &str) -> bool {
    ["no", "false", "n", "f", "0", "off"]
        .iter()
        .any(|w| v.eq_ignore_ascii_case(w))
}

/// Collects diagnostics while values are read.
pub(crate) struct Builder<'d> {
    pub(crate) diagnostics: &'d mut Vec<Diagnostic>,
}

/// Typed readers for one value; each reports problems at `at` and returns Asterisk's reading.
impl Builder<'_> {
    pub(crate) fn error(&mut self, at: &Location, message: String) {
        self.diagnostics.push(Diagnostic::error(at, message));
    }

    pub(crate) fn warn(&mut self, at: &Location, message: String) {
        self.diagnostics.push(Diagnostic::warning(at, message));
    }

    pub(crate) fn boolean(&mut self, name: &str, value: &str, at: &Location) -> bool {
        if ast_true(value) {
            true
        } else {
            if !ast_false(value) {
                self.error(at, format!("{name}: `{value}` is not a yes/no value; Asterisk reads it as no: write yes or no"));
            }
            false
        }
    }

    pub(crate) fn limit(&mut self, name: &str, value: &str, at: &Location) {
        if let Some((_, max)) = LIMITS.iter().find(|(n, _)| *n == name) {
            let len = value.chars().count();
            if len > *max {
                self.warn(
                    at,
                    format!("{name} is {len} characters long; Asterisk keeps only the first {max}, imapvm uses all: shorten it so both agree"),
                );
            }
        }
    }
}

/// The first `[general]` entry named one of `names` (Asterisk's `ast_variable_retrieve`), its
/// length checked; its place is recorded in `origins` under `canonical`.
pub(crate) fn general_entry<'e>(
    b: &mut Builder<'_>,
    first: &BTreeMap<String, &'e RawEntry>,
    origins: &mut BTreeMap<String, Location>,
    canonical: &str,
    names: &[&str],
) -> Option<(&'e str, Location)> {
    let entry: &'e RawEntry = names.iter().find_map(|n| first.get(*n).copied())?;
    b.limit(canonical, &entry.value, &entry.value_at);
    origins.insert(canonical.to_string(), entry.value_at.clone());
    Some((entry.value.as_str(), entry.value_at.clone()))
}
