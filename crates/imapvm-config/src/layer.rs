//! [`Layer`] resolves one option with Asterisk's precedence (mailbox option > `[general]` >
//! default) and its origin; [`SettingRow`] shows it in `imapvm config show`. Shared by the
//! mailbox settings (`settings`) and the telephone settings (`phone/settings`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::diagnostic::Location;
use crate::model::{OptionOrigins, Origin, Setting};

/// Where the values of one mailbox were written, by option name: resolves Asterisk's
/// precedence (mailbox option > `[general]` > default) with origins.
pub(crate) struct Layer<'a> {
    pub(crate) general: &'a BTreeMap<String, Location>,
    pub(crate) mailbox: &'a OptionOrigins,
}

impl Layer<'_> {
    /// A `[general]` value (or Asterisk's default when `[general]` does not set `name`).
    pub(crate) fn general<T>(&self, name: &str, value: T) -> Setting<T> {
        Setting {
            value,
            origin: match self.general.get(name) {
                Some(at) => Origin::General(at.clone()),
                None => Origin::Default,
            },
        }
    }

    /// The mailbox line's value where it has one, else `[general]`'s.
    pub(crate) fn layered<T>(&self, name: &str, mine: Option<T>, general: T) -> Setting<T> {
        match (mine, self.mailbox.get(name)) {
            (Some(value), Some(at)) => Setting {
                value,
                origin: Origin::Mailbox(at.clone()),
            },
            _ => self.general(name, general),
        }
    }

    /// A mailbox-only value: the line's, else `default`.
    pub(crate) fn mailbox<T>(&self, name: &str, mine: Option<T>, default: T) -> Setting<T> {
        match (mine, self.mailbox.get(name)) {
            (Some(value), Some(at)) => Setting {
                value,
                origin: Origin::Mailbox(at.clone()),
            },
            _ => Setting {
                value: default,
                origin: Origin::Default,
            },
        }
    }
}

/// One line of `imapvm config show`: option, value as text (secrets `***`), origin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SettingRow {
    /// Option name as in voicemail.conf.
    pub option: &'static str,
    /// The value as text; `None` when unset.
    pub value: Option<String>,
    /// Where it came from.
    pub origin: Origin,
}

pub(crate) fn row<T: ToString>(option: &'static str, s: &Setting<T>) -> SettingRow {
    SettingRow {
        option,
        value: Some(s.value.to_string()),
        origin: s.origin.clone(),
    }
}

pub(crate) fn row_opt<T: ToString>(option: &'static str, s: &Setting<Option<T>>) -> SettingRow {
    SettingRow {
        option,
        value: s.value.as_ref().map(ToString::to_string),
        origin: s.origin.clone(),
    }
}

pub(crate) fn row_bool(option: &'static str, s: &Setting<bool>) -> SettingRow {
    SettingRow {
        option,
        value: Some(if s.value { "yes" } else { "no" }.to_string()),
        origin: s.origin.clone(),
    }
}

pub(crate) fn row_secs(option: &'static str, s: &Setting<Duration>) -> SettingRow {
    SettingRow {
        option,
        value: Some(s.value.as_secs().to_string()),
        origin: s.origin.clone(),
    }
}

pub(crate) fn row_list(option: &'static str, s: &Setting<Vec<String>>) -> SettingRow {
    SettingRow {
        option,
        value: Some(s.value.join("|")),
        origin: s.origin.clone(),
    }
}
