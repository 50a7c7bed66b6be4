//! What the options mean: app_voicemail's reading of `[general]`, `[zonemessages]`, aliases
//! and mailbox lines, with Asterisk's defaults, yes/no rules and limits.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::Config;
use crate::builder::{Builder, ast_false, ast_true, general_entry};
use crate::command_line::CommandLine;
use crate::diagnostic::{Diagnostic, Location};
use crate::model::{Alias, General, ImapFlags, Mailbox, MailboxOptions, Origins, Zone};
use crate::syntax::{RawConfig, RawEntry};
use imapvm_types::Secret;
use imapvm_types::{MailboxId, MailboxIdError};

/// `[general]` options imapvm reads (lower case).
pub(crate) const GENERAL_TYPED: &[&str] = &[
    "imapserver",
    "imapport",
    "imapflags",
    "imapfolder",
    "imapparentfolder",
    "imapgreetings",
    "greetingfolder",
    "greetingsfolder",
    "authuser",
    "authpassword",
    "imapoauthcmd",
    "expungeonhangup",
    "imapopentimeout",
    "imapreadtimeout",
    "imapwritetimeout",
    "imapclosetimeout",
    "imap_poll_logout",
    "pollmailboxes",
    "pollfreq",
    "imapcafile",
    "imapvm_outbox",
    "format",
    "serveremail",
    "fromstring",
    "emailsubject",
    "emailbody",
    "pbxskip",
    "charset",
    "emaildateformat",
    "tz",
    "locale",
    "attach",
    "maxmsg",
    "maxsecs",
    "maxmessage",
    "minsecs",
    "minmessage",
    "maxgreet",
    "maxsilence",
    "externnotify",
    "leaveurgent",
    "forward_urgent_auto",
    "moveheard",
    "searchcontexts",
    "aliasescontext",
    // The telephone options (crate::phone).
    "review",
    "operator",
    "saycid",
    "envelope",
    "sayduration",
    "saydurationm",
    "skipms",
    "messagewrap",
    "nextaftercmd",
    "forcename",
    "forcegreetings",
    "tempgreetwarn",
    "usedirectory",
    "sendvoicemail",
    "callback",
    "dialout",
    "exitcontext",
    "cidinternalcontexts",
    "maxlogins",
    "minpassword",
    "passwordlocation",
    "silencethreshold",
    "volgain",
    "externpass",
    "externpassnotify",
    "externpasscheck",
    "vm-login",
    "vm-newuser",
    "vm-password",
    "vm-newpassword",
    "vm-passchanged",
    "vm-reenterpassword",
    "vm-mismatch",
    "vm-invalid-password",
    "vm-pls-try-again",
    "vm-prepend-timeout",
    "listen-control-forward-key",
    "listen-control-reverse-key",
    "listen-control-pause-key",
    "listen-control-restart-key",
    "listen-control-stop-key",
];

/// `[general]` options Asterisk uses for ADSI phones, pager mails, the Directory or its
/// file storage: accepted without a warning, no effect in imapvm.
const GENERAL_MENU: &[&str] = &[
    "adsifdn",
    "adsisec",
    "adsiver",
    "attachextrecs",
    "attachfmt",
    "backupdeleted",
    "directoryintro",
    "pagerbody",
    "pagerdateformat",
    "pagerfromstring",
    "pagersubject",
    "tps_queue_high",
    "tps_queue_low",
    "userscontext",
    "emailonly",
];

/// `[general]` options imapvm ignores, and why (the operator might expect an effect).
const GENERAL_IGNORED: &[(&str, &str)] = &[
    (
        "odbcstorage",
        "it configures ODBC storage; imapvm stores voicemail on IMAP",
    ),
    (
        "odbctable",
        "it configures ODBC storage; imapvm stores voicemail on IMAP",
    ),
    (
        "odbc_audio_on_disk",
        "it configures ODBC storage; imapvm stores voicemail on IMAP",
    ),
    (
        "mailcmd",
        "imapvm sends no notification e-mails; the voicemail itself is stored on IMAP",
    ),
    (
        "smdienable",
        "imapvm does not drive SMDI message-waiting; use externnotify or its MWI events",
    ),
    (
        "smdiport",
        "imapvm does not drive SMDI message-waiting; use externnotify or its MWI events",
    ),
    (
        "opentimeout",
        "Asterisk only reads imapopentimeout (the old name is ignored by Asterisk too): rename it",
    ),
    (
        "readtimeout",
        "Asterisk only reads imapreadtimeout (the old name is ignored by Asterisk too): rename it",
    ),
    (
        "writetimeout",
        "Asterisk only reads imapwritetimeout (the old name is ignored by Asterisk too): rename it",
    ),
    (
        "closetimeout",
        "Asterisk only reads imapclosetimeout (the old name is ignored by Asterisk too): rename it",
    ),
];

/// Mailbox-line options imapvm reads (lower case).
const MAILBOX_TYPED: &[&str] = &[
    "imapuser",
    "imappassword",
    "imapsecret",
    "imapoauthcmd",
    "imapvmshareid",
    "imapfolder",
    "imapserver",
    "imapport",
    "imapflags",
    "tz",
    "locale",
    "language",
    "attach",
    "attachfmt",
    "serveremail",
    "fromstring",
    "emailsubject",
    "emailbody",
    "maxmsg",
    "maxsecs",
    "maxmessage",
    "minsecs",
    "delete",
    "deletevoicemail",
    // `options=NAME=VALUE` applies NAME=VALUE.
    "options",
    // The telephone options (crate::phone).
    "review",
    "operator",
    "saycid",
    "envelope",
    "sayduration",
    "saydurationm",
    "messagewrap",
    "nextaftercmd",
    "forcename",
    "forcegreetings",
    "tempgreetwarn",
    "sendvoicemail",
    "moveheard",
    "leaveurgent",
    "callback",
    "dialout",
    "exitcontext",
    "passwordlocation",
    "volgain",
    "hidefromdir",
];

/// Mailbox-line options Asterisk (or its `Directory()`) reads that imapvm keeps untyped.
const MAILBOX_MENU: &[&str] = &["attachextrecs", "backupdeleted", "alias"];

const MAXMSG_DEFAULT: u32 = 100;
const MAXMSG_LIMIT: u32 = 9999;

/// Applies Asterisk's escapes to an `emailsubject`/`emailbody` value, as an IMAP build does:
/// `\\` → `\`, `\r` → CR, `\t` → TAB, `\n` → CR LF (LF alone when a CR precedes it).
/// An unknown escape is dropped with its backslash; a lone backslash at the end ends the value.
pub fn substitute_escapes(value: &str) -> String {
    substitute_escapes_checked(value).0
}

fn substitute_escapes_checked(value: &str) -> (String, Vec<String>) {
    let mut out = String::with_capacity(value.len());
    let mut problems = Vec::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            None => {
                problems.push("the value ends with a lone backslash, which Asterisk drops: write `\\\\` for a backslash".to_string());
                break;
            }
            Some('\\') => out.push('\\'),
            Some('r') => out.push('\r'),
            Some('n') => {
                if !out.ends_with('\r') {
                    out.push('\r');
                }
                out.push('\n');
            }
            Some('t') => out.push('\t'),
            Some(other) => problems.push(format!(
                "`\\{other}` is not an escape Asterisk knows; it drops both characters: use \\n, \\r, \\t or \\\\"
            )),
        }
    }
    (out, problems)
}

/// Edit distance, for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

pub(crate) fn suggestion<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let lower = name.trim().to_ascii_lowercase();
    if lower.is_empty() || lower.len() > 64 {
        return None;
    }
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        let d = distance(&lower, candidate);
        let allowed = if candidate.len() <= 4 { 1 } else { 2 };
        if d <= allowed && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, candidate));
        }
    }
    best.map(|(_, c)| c)
}

fn did_you_mean(name: &str, candidates: &[&'static str]) -> String {
    match suggestion(name, candidates.iter().copied()) {
        Some(s) if s != name => format!(" (did you mean `{s}`?)"),
        _ => String::new(),
    }
}

/// The readers only `[general]` and mailbox lines need (the shared ones are in `builder`).
impl Builder<'_> {
    /// Asterisk's "anything but a false word is yes" (`expungeonhangup`).
    fn boolean_default_yes(&mut self, name: &str, value: &str, at: &Location) -> bool {
        if ast_false(value) {
            false
        } else {
            if !ast_true(value) {
                self.error(at, format!("{name}: `{value}` is not a yes/no value; Asterisk reads it as yes: write yes or no"));
            }
            true
        }
    }

    fn number(&mut self, name: &str, value: &str, at: &Location, fallback: u64, max: u64) -> u64 {
        match value.trim().parse::<u64>() {
            Ok(n) if n <= max => n,
            Ok(_) => {
                self.error(at, format!("{name}: {value} is larger than {max}; using {fallback}: write a smaller number"));
                fallback
            }
            Err(_) => {
                self.error(
                    at,
                    format!("{name}: `{value}` is not a whole number of 0 or more; using {fallback}: write digits only"),
                );
                fallback
            }
        }
    }

    fn seconds(&mut self, name: &str, value: &str, at: &Location, fallback: u64) -> Duration {
        Duration::from_secs(self.number(name, value, at, fallback, u64::from(u32::MAX)))
    }

    /// A duration that must not be 0 (a timeout or an interval): 0 is an error, kept as
    /// written; imapvm refuses it rather than wait forever, spin, or guess a value.
    fn positive_seconds(
        &mut self,
        name: &str,
        value: &str,
        at: &Location,
        fallback: u64,
    ) -> Duration {
        let d = self.seconds(name, value, at, fallback);
        if d.is_zero() {
            self.error(
                at,
                format!("{name}=0: imapvm never waits forever nor polls without a pause, and does not guess another value: write the seconds (Asterisk's default is {fallback})"),
            );
        }
        d
    }

    fn small(&mut self, name: &str, value: &str, at: &Location, fallback: u32) -> u32 {
        u32::try_from(self.number(name, value, at, u64::from(fallback), u64::from(u32::MAX)))
            .unwrap_or(fallback)
    }

    fn port(&mut self, name: &str, value: &str, at: &Location) -> Option<u16> {
        match value.trim().parse::<u16>() {
            Ok(p) if p > 0 => Some(p),
            _ => {
                self.error(at, format!("{name}: `{value}` is not a TCP port; write a number from 1 to 65535 (143 for IMAP, 993 with ssl)"));
                None
            }
        }
    }

    fn maxmsg(&mut self, value: &str, at: &Location) -> u32 {
        match value.trim().parse::<i64>() {
            Ok(n) if n < 0 => {
                self.error(at, format!("maxmsg={value} is negative; Asterisk uses {MAXMSG_DEFAULT}: write 0 to {MAXMSG_LIMIT}"));
                MAXMSG_DEFAULT
            }
            Ok(n) if n > i64::from(MAXMSG_LIMIT) => {
                self.warn(at, format!("maxmsg={value} is above Asterisk's limit; it uses {MAXMSG_LIMIT}: write {MAXMSG_LIMIT} or less"));
                MAXMSG_LIMIT
            }
            Ok(n) => u32::try_from(n).unwrap_or(MAXMSG_DEFAULT),
            Err(_) => {
                self.error(at, format!("maxmsg: `{value}` is not a number; using {MAXMSG_DEFAULT}: write 0 to {MAXMSG_LIMIT}"));
                MAXMSG_DEFAULT
            }
        }
    }

    fn flags(&mut self, value: &str, at: &Location) -> Option<ImapFlags> {
        match ImapFlags::parse(value) {
            Ok(flags) => Some(flags),
            Err(err) => {
                self.error(at, format!("imapflags: {err}"));
                None
            }
        }
    }

    /// A command line run without a shell (`imapoauthcmd`); `None` (and an error) when it
    /// cannot be split into a program and its arguments.
    fn command_line(&mut self, name: &str, value: &str, at: &Location) -> Option<CommandLine> {
        match CommandLine::parse(value) {
            Ok(command) => Some(command),
            Err(err) => {
                self.error(
                    at,
                    format!("{name}: {err}; it is run without a shell: write the program, then its arguments (quote an argument with blanks)"),
                );
                None
            }
        }
    }

    fn escaped(&mut self, name: &str, value: &str, at: &Location) -> String {
        let (out, problems) = substitute_escapes_checked(value);
        for problem in problems {
            self.warn(at, format!("{name}: {problem}"));
        }
        out
    }
}

fn opt(value: &str) -> Option<String> {
    if value.is_empty() {
        None
    } else {
        Some(value.to_string())
    }
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

pub(crate) fn build(raw: &RawConfig, diagnostics: &mut Vec<Diagnostic>) -> Config {
    let mut b = Builder { diagnostics };
    let mut config = Config::default();
    let sections: Vec<_> = raw.sections.iter().filter(|s| !s.template).collect();

    // ---- [general] ----
    let general_entries: Vec<&RawEntry> = sections
        .iter()
        .filter(|s| s.name.eq_ignore_ascii_case("general"))
        .flat_map(|s| s.entries.iter())
        .collect();
    let mut first: BTreeMap<String, &RawEntry> = BTreeMap::new();
    for entry in &general_entries {
        let lower = entry.key.to_ascii_lowercase();
        if let Some(earlier) = first.get(&lower) {
            if earlier.key_at != entry.key_at {
                b.warn(
                    &entry.key_at,
                    format!(
                        "{} is set again; Asterisk uses the first value (line {} of {}) and ignores this one: remove one of them",
                        entry.key, earlier.key_at.line, earlier.key_at.file
                    ),
                );
            }
            continue;
        }
        first.insert(lower.clone(), entry);
        let known =
            GENERAL_TYPED.contains(&lower.as_str()) || GENERAL_MENU.contains(&lower.as_str());
        if let Some((_, why)) = GENERAL_IGNORED.iter().find(|(n, _)| *n == lower) {
            b.warn(
                &entry.key_at,
                format!("{} is ignored by imapvm: {why}", entry.key),
            );
        } else if lower == "maxmessage" || lower == "minmessage" {
            let new = if lower == "maxmessage" {
                "maxsecs"
            } else {
                "minsecs"
            };
            b.warn(
                &entry.key_at,
                format!(
                    "{} is deprecated in Asterisk: rename it to {new}",
                    entry.key
                ),
            );
        } else if MAILBOX_TYPED.contains(&lower.as_str()) && !known {
            b.warn(
                &entry.key_at,
                format!("{} is a mailbox option; Asterisk ignores it in [general]: put it on the mailbox lines (`...,,{}=...`)", entry.key, lower),
            );
        } else if !known {
            let mut all: Vec<&'static str> = GENERAL_TYPED.to_vec();
            all.extend_from_slice(GENERAL_MENU);
            all.extend(GENERAL_IGNORED.iter().map(|(n, _)| *n));
            b.warn(
                &entry.key_at,
                format!(
                    "unknown option `{}` in [general]; Asterisk ignores it{}",
                    entry.key,
                    did_you_mean(&entry.key, &all)
                ),
            );
        }
    }
    let mut origins = Origins::default();
    let get = |names: &[&str]| names.iter().find_map(|n| first.get(*n).copied());
    let mut g = General::default();
    macro_rules! with {
        ($canon:literal, [$($name:literal),+], |$v:ident, $at:ident| $body:expr) => {
            if let Some((value, location)) =
                general_entry(&mut b, &first, &mut origins.general, $canon, &[$($name),+])
            {
                let $v: &str = value;
                let $at: &Location = &location;
                let _ = $at;
                $body;
            }
        };
    }
    with!("imapserver", ["imapserver"], |v, at| g.imapserver =
        v.to_string());
    with!(
        "imapport",
        ["imapport"],
        |v, at| if let Some(p) = b.port("imapport", v, at) {
            g.imapport = p
        }
    );
    with!(
        "imapflags",
        ["imapflags"],
        |v, at| if let Some(f) = b.flags(v, at) {
            g.imapflags = f
        }
    );
    with!("imapfolder", ["imapfolder"], |v, at| if !v.is_empty() {
        g.imapfolder = v.to_string()
    });
    with!("imapparentfolder", ["imapparentfolder"], |v, at| g
        .imapparentfolder =
        opt(v));
    with!("imapgreetings", ["imapgreetings"], |v, at| g
        .imapgreetings =
        b.boolean("imapgreetings", v, at));
    with!(
        "greetingfolder",
        ["greetingfolder", "greetingsfolder"],
        |v, at| g.greetingfolder = opt(v)
    );
    with!("authuser", ["authuser"], |v, at| g.authuser = opt(v));
    with!("authpassword", ["authpassword"], |v, at| g.authpassword =
        opt(v).map(Secret::new));
    with!("imapoauthcmd", ["imapoauthcmd"], |v, at| g.imapoauthcmd =
        b.command_line("imapoauthcmd", v, at));
    with!("expungeonhangup", ["expungeonhangup"], |v, at| g
        .expungeonhangup =
        b.boolean_default_yes("expungeonhangup", v, at));
    with!("imapopentimeout", ["imapopentimeout"], |v, at| g
        .imapopentimeout =
        b.positive_seconds("imapopentimeout", v, at, 60));
    with!("imapreadtimeout", ["imapreadtimeout"], |v, at| g
        .imapreadtimeout =
        b.positive_seconds("imapreadtimeout", v, at, 60));
    with!("imapwritetimeout", ["imapwritetimeout"], |v, at| g
        .imapwritetimeout =
        b.positive_seconds("imapwritetimeout", v, at, 60));
    with!("imapclosetimeout", ["imapclosetimeout"], |v, at| g
        .imapclosetimeout =
        b.positive_seconds("imapclosetimeout", v, at, 60));
    with!("imap_poll_logout", ["imap_poll_logout"], |v, at| g
        .imap_poll_logout =
        b.boolean("imap_poll_logout", v, at));
    with!("pollmailboxes", ["pollmailboxes"], |v, at| g
        .pollmailboxes =
        b.boolean("pollmailboxes", v, at));
    with!("pollfreq", ["pollfreq"], |v, at| g.pollfreq =
        b.positive_seconds("pollfreq", v, at, 30));
    with!("imapcafile", ["imapcafile"], |v, at| g.imapcafile = opt(v));
    with!("imapvm_outbox", ["imapvm_outbox"], |v, at| g
        .imapvm_outbox =
        opt(v));
    with!("format", ["format"], |v, at| {
        let formats: Vec<String> = v
            .split('|')
            .filter(|f| !f.is_empty())
            .map(str::to_string)
            .collect();
        if formats.is_empty() {
            b.error(
                at,
                "format is empty; Asterisk needs at least one: write e.g. format=wav49|gsm|wav"
                    .to_string(),
            );
        } else {
            g.format = formats;
        }
    });
    with!("serveremail", ["serveremail"], |v, at| g.serveremail =
        v.to_string());
    with!("fromstring", ["fromstring"], |v, at| g.fromstring =
        v.to_string());
    with!("emailsubject", ["emailsubject"], |v, at| g.emailsubject =
        Some(b.escaped("emailsubject", v, at)));
    with!("emailbody", ["emailbody"], |v, at| g.emailbody =
        Some(b.escaped("emailbody", v, at)));
    with!("pbxskip", ["pbxskip"], |v, at| g.pbxskip =
        b.boolean("pbxskip", v, at));
    with!("charset", ["charset"], |v, at| if !v.is_empty() {
        g.charset = v.to_string()
    });
    with!("emaildateformat", ["emaildateformat"], |v, at| g
        .emaildateformat =
        v.to_string());
    with!("tz", ["tz"], |v, at| g.tz = opt(v));
    with!("locale", ["locale"], |v, at| g.locale = opt(v));
    with!("attach", ["attach"], |v, at| g.attach =
        b.boolean("attach", v, at));
    with!("maxmsg", ["maxmsg"], |v, at| g.maxmsg = b.maxmsg(v, at));
    with!("maxsecs", ["maxsecs", "maxmessage"], |v, at| g.maxsecs =
        b.small("maxsecs", v, at, 0));
    with!("minsecs", ["minsecs", "minmessage"], |v, at| g.minsecs =
        b.small("minsecs", v, at, 0));
    with!("maxgreet", ["maxgreet"], |v, at| g.maxgreet =
        b.small("maxgreet", v, at, 0));
    with!("maxsilence", ["maxsilence"], |v, at| g.maxsilence =
        b.small("maxsilence", v, at, 0));
    with!("externnotify", ["externnotify"], |v, at| g.externnotify =
        opt(v));
    with!("leaveurgent", ["leaveurgent"], |v, at| g.leaveurgent =
        b.boolean("leaveurgent", v, at));
    with!("forward_urgent_auto", ["forward_urgent_auto"], |v, at| g
        .forward_urgent_auto =
        b.boolean("forward_urgent_auto", v, at));
    with!("moveheard", ["moveheard"], |v, at| g.moveheard =
        b.boolean("moveheard", v, at));
    with!("searchcontexts", ["searchcontexts"], |v, at| g
        .searchcontexts =
        b.boolean("searchcontexts", v, at));
    with!("aliasescontext", ["aliasescontext"], |v, at| g
        .aliasescontext =
        opt(v));
    g.phone = crate::phone::read::general(&mut b, &first, &mut origins.general);
    if let (Some(min), Some(max)) = (
        get(&["minsecs", "minmessage"]),
        get(&["maxsecs", "maxmessage"]),
    ) && g.maxsecs > 0
        && g.minsecs > g.maxsecs
    {
        b.warn(
            &min.value_at,
            format!(
                "minsecs ({}) is above maxsecs ({}, line {}): no recording can be kept",
                g.minsecs, g.maxsecs, max.value_at.line
            ),
        );
    }

    // ---- [zonemessages] ----
    for section in sections
        .iter()
        .filter(|s| s.name.eq_ignore_ascii_case("zonemessages"))
    {
        for entry in &section.entries {
            match entry.value.split_once(['|', ',']) {
                Some((tz, format)) if !tz.is_empty() => {
                    config.zones.push(Zone { name: entry.key.clone(), timezone: tz.to_string(), format: format.to_string() });
                    origins.zones.entry(entry.key.clone()).or_insert_with(|| entry.key_at.clone());
                }
                _ => b.error(
                    &entry.value_at,
                    format!("zone `{}`: Asterisk ignores this line: write `{} = Olson/Zone|'vm-received' q 'digits/at' IMp`", entry.key, entry.key),
                ),
            }
        }
    }
    if let (Some(tz), Some(at)) = (&g.tz, origins.general.get("tz"))
        && !config.zones.iter().any(|z| z.name == *tz)
    {
        b.warn(at, format!("tz={tz}: there is no [zonemessages] entry `{tz}`; Asterisk uses the system time zone: add it or fix the name"));
    }

    // ---- contexts ----
    let aliases_name = g.aliasescontext.clone();
    let mut alias_entries: Vec<&RawEntry> = Vec::new();
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    let mut first_line: BTreeMap<(String, String), Location> = BTreeMap::new();
    let mut all_mailbox_names: Vec<&'static str> = MAILBOX_TYPED.to_vec();
    all_mailbox_names.extend_from_slice(MAILBOX_MENU);
    for section in &sections {
        let name = &section.name;
        if name.eq_ignore_ascii_case("general") || name.eq_ignore_ascii_case("zonemessages") {
            continue;
        }
        if aliases_name
            .as_deref()
            .is_some_and(|a| a.eq_ignore_ascii_case(name))
        {
            alias_entries.extend(section.entries.iter());
            continue;
        }
        // The legacy [imapvm]: its imapvm lines are options, not mailboxes (`imapvm_conf`
        // says where to move them and takes the values in force).
        let imapvm_section = name.eq_ignore_ascii_case(crate::IMAPVM_SECTION);
        for entry in &section.entries {
            if imapvm_section {
                match config.imapvm.read(&entry.key, &entry.value) {
                    Ok(true) => continue,
                    Err(message) => {
                        b.error(&entry.value_at, message);
                        continue;
                    }
                    Ok(false) => {
                        if let Some(s) = suggestion(&entry.key, crate::IMAPVM_KEYS.iter().copied())
                        {
                            b.warn(&entry.key_at, format!("`{}` in [{name}] is not an imapvm option, so it is read as a mailbox (did you mean `{s}`?)", entry.key));
                        }
                    }
                }
            }
            let key_lower = entry.key.to_ascii_lowercase();
            if GENERAL_TYPED.contains(&key_lower.as_str())
                || GENERAL_MENU.contains(&key_lower.as_str())
                || MAILBOX_TYPED.contains(&key_lower.as_str())
            {
                b.warn(
                    &entry.key_at,
                    format!(
                        "`{}` in context [{name}] is read by Asterisk as a mailbox named `{}`, not as an option: options go in [general] or after the fourth comma of a mailbox line",
                        entry.key, entry.key
                    ),
                );
            }
            let id = match MailboxId::new(&entry.key, name) {
                Ok(id) => id,
                Err(MailboxIdError::BadCharacter {
                    ch: '@',
                    part: "mailbox",
                    ..
                }) => {
                    b.warn(
                        &entry.key_at,
                        format!(
                            "`{}` in context [{name}] is read by Asterisk as a mailbox whose name contains '@', which cannot be addressed as box@context, so imapvm skips it; if [{name}] holds aliases, set aliasescontext={name} in [general]",
                            entry.key
                        ),
                    );
                    continue;
                }
                Err(err) => {
                    b.error(
                        &entry.key_at,
                        format!(
                            "`{}` in context [{name}] cannot be a mailbox imapvm stores: {err}; imapvm skips this line: rename the mailbox or the context",
                            entry.key
                        ),
                    );
                    continue;
                }
            };
            let key = (entry.key.to_ascii_lowercase(), name.to_ascii_lowercase());
            if seen.contains(&key) {
                let earlier = first_line.get(&key).cloned().unwrap_or_default();
                b.error(
                    &entry.key_at,
                    format!(
                        "mailbox {id} is defined again; Asterisk keeps the first definition ({earlier}) and ignores this one: remove or renumber one of them"
                    ),
                );
                continue;
            }
            seen.insert(key.clone());
            first_line.insert(key, entry.key_at.clone());
            let (mailbox, option_origins) = mailbox_line(&mut b, id, entry, &all_mailbox_names);
            config.mailboxes.push(mailbox);
            origins.mailbox_lines.push(entry.key_at.clone());
            origins.mailbox_options.push(option_origins.into());
        }
    }

    // ---- aliases ----
    if let Some(alias_section) = &aliases_name {
        let exists = sections
            .iter()
            .any(|s| s.name.eq_ignore_ascii_case(alias_section));
        if !exists && let Some(at) = origins.general.get("aliasescontext") {
            b.warn(at, format!("aliasescontext={alias_section}, but there is no section [{alias_section}]: add it or remove the option"));
        }
    }
    for entry in alias_entries {
        match entry.value.parse::<MailboxId>() {
            Ok(target) => {
                if !config.mailboxes.iter().any(|m| m.id == target) {
                    b.warn(
                        &entry.value_at,
                        format!(
                            "alias {} points to {target}, which is not defined: fix the target",
                            entry.key
                        ),
                    );
                }
                config.aliases.push(Alias {
                    alias: entry.key.clone(),
                    target,
                });
            }
            Err(err) => b.error(&entry.value_at, format!("alias {}: {err}", entry.key)),
        }
    }

    // ---- cross checks per mailbox ----
    for (index, mailbox) in config.mailboxes.iter().enumerate() {
        let line = &origins.mailbox_lines[index];
        let opts = &origins.mailbox_options[index];
        let o = &mailbox.options;
        if o.imapuser.as_deref().is_none_or(str::is_empty) {
            b.warn(
                line,
                format!(
                    "mailbox {} has no imapuser; Asterisk with IMAP storage cannot find such a box (counts fail, deposits are lost): add `|imapuser=LOGIN` to its options",
                    mailbox.id
                ),
            );
        }
        if let (Some(_), Some(_)) = (&g.authpassword, &o.imappassword) {
            let at = opts.get("imappassword").unwrap_or(line);
            b.warn(
                at,
                format!(
                    "mailbox {}: authpassword is set in [general], so Asterisk logs every box in with it and ignores this imappassword: remove one of them",
                    mailbox.id
                ),
            );
        }
        let flags = o.imapflags.unwrap_or(g.imapflags);
        let server = o.imapserver.as_deref().unwrap_or(&g.imapserver);
        let token = o.imapoauthcmd.is_some() || g.imapoauthcmd.is_some();
        let has_password = g.authpassword.is_some() || o.imappassword.is_some();
        if flags.notls && !flags.ssl && (has_password || token) && !is_loopback(server) {
            let at = opts
                .get("imapflags")
                .or_else(|| origins.general.get("imapflags"))
                .unwrap_or(line);
            b.warn(
                at,
                format!(
                    "mailbox {}: imapflags has notls, so the {} goes to {server} in clear text: use ssl or tls (or remove notls)",
                    mailbox.id,
                    if token { "OAuth token" } else { "password" }
                ),
            );
        }
        if let Some(tz) = &o.tz
            && !config.zones.iter().any(|z| z.name == *tz)
        {
            let at = opts.get("tz").unwrap_or(line);
            b.warn(at, format!("tz={tz}: there is no [zonemessages] entry `{tz}`; Asterisk uses the system time zone: add it or fix the name"));
        }
    }

    config.general = g;
    config.origins = origins;
    config
}

fn mailbox_line(
    b: &mut Builder<'_>,
    id: MailboxId,
    entry: &RawEntry,
    all_names: &[&'static str],
) -> (Mailbox, BTreeMap<String, Location>) {
    let value = entry.value.as_str();
    let base_col = entry.value_at.column;
    let at_offset = |offset: usize| {
        let chars = u32::try_from(value[..offset].chars().count()).unwrap_or(u32::MAX);
        Location::new(
            entry.value_at.file.clone(),
            entry.value_at.line,
            base_col.saturating_add(chars),
        )
    };
    // Four comma-separated fields, then the options string (commas kept).
    let mut fields: Vec<(usize, &str)> = Vec::with_capacity(5);
    let mut start = 0usize;
    for (i, c) in value.char_indices() {
        if fields.len() == 4 {
            break;
        }
        if c == ',' {
            fields.push((start, &value[start..i]));
            start = i + 1;
        }
    }
    fields.push((start, &value[start..]));
    let field = |i: usize| fields.get(i).map_or("", |f| f.1);
    let password = field(0);
    if password.starts_with('*') {
        b.warn(&entry.value_at, format!("mailbox {id}: a password starting with `*` marks it invalid; Asterisk asks for it to be reset in voicemail.conf"));
    }
    b.limit("password", password, &entry.value_at);
    if let Some((offset, name)) = fields.get(1) {
        b.limit("fullname", name, &at_offset(*offset));
    }
    if let Some((offset, pager)) = fields.get(3) {
        b.limit("pager", pager, &at_offset(*offset));
    }
    let email: Vec<String> = field(2)
        .split('|')
        .filter(|e| !e.is_empty())
        .map(str::to_string)
        .collect();
    let mut options = MailboxOptions::default();
    let mut option_origins = BTreeMap::new();
    if let Some((options_start, options_text)) = fields.get(4) {
        let mut offset = *options_start;
        'tokens: for token in options_text.split('|') {
            let at = at_offset(offset);
            offset += token.len() + 1;
            if token.is_empty() {
                continue;
            }
            let Some((mut key, mut v)) = token.split_once('=') else {
                b.warn(&at, format!("mailbox {id}: option `{token}` has no '='; Asterisk ignores it: write name=value"));
                continue;
            };
            let mut value_offset = offset - token.len() - 1 + key.len() + 1;
            // `options=NAME=VALUE` is NAME=VALUE: Asterisk's apply_option hands it back to
            // apply_options.
            while key.eq_ignore_ascii_case("options") {
                let Some((inner, rest)) = v.split_once('=') else {
                    b.warn(&at, format!("mailbox {id}: options={v} has no '='; Asterisk ignores it: write options=NAME=VALUE, or NAME=VALUE alone"));
                    continue 'tokens;
                };
                value_offset += inner.len() + 1;
                key = inner;
                v = rest;
            }
            let lower = key.to_ascii_lowercase();
            let value_at = at_offset(value_offset);
            let canonical = match lower.as_str() {
                "imapsecret" => "imappassword",
                "maxmessage" => "maxsecs",
                "deletevoicemail" => "delete",
                other => other,
            }
            .to_string();
            b.limit(&canonical, v, &value_at);
            let mut typed = true;
            match canonical.as_str() {
                "imapuser" => options.imapuser = Some(v.to_string()),
                "imappassword" => options.imappassword = Some(Secret::new(v)),
                "imapoauthcmd" => match b.command_line("imapoauthcmd", v, &value_at) {
                    Some(command) => options.imapoauthcmd = Some(command),
                    None => typed = false,
                },
                "imapvmshareid" => options.imapvmshareid = Some(v.to_string()),
                "imapfolder" => options.imapfolder = Some(v.to_string()),
                "imapserver" => options.imapserver = Some(v.to_string()),
                "imapport" => match b.port("imapport", v, &value_at) {
                    Some(p) => options.imapport = Some(p),
                    None => typed = false,
                },
                "imapflags" => match b.flags(v, &value_at) {
                    Some(f) => options.imapflags = Some(f),
                    None => typed = false,
                },
                "tz" => options.tz = Some(v.to_string()),
                "locale" => options.locale = Some(v.to_string()),
                "language" => options.language = Some(v.to_string()),
                "attach" => options.attach = Some(b.boolean("attach", v, &value_at)),
                "attachfmt" => options.attachfmt = Some(v.to_string()),
                "serveremail" => options.serveremail = Some(v.to_string()),
                "fromstring" => options.fromstring = Some(v.to_string()),
                "emailsubject" => {
                    options.emailsubject = Some(b.escaped("emailsubject", v, &value_at))
                }
                "emailbody" => options.emailbody = Some(b.escaped("emailbody", v, &value_at)),
                "maxmsg" => options.maxmsg = Some(b.maxmsg(v, &value_at)),
                "maxsecs" => {
                    if lower == "maxmessage" {
                        b.warn(
                            &at,
                            "maxmessage is deprecated in Asterisk: rename it to maxsecs"
                                .to_string(),
                        );
                    }
                    match v.trim().parse::<i64>() {
                        Ok(n) if n > 0 => options.maxsecs = u32::try_from(n).ok(),
                        _ => {
                            b.error(&value_at, format!("maxsecs: `{v}` is not a number above 0; Asterisk uses the [general] value: write a number of seconds"));
                            typed = false;
                        }
                    }
                }
                "minsecs" => match v.trim().parse::<u32>() {
                    Ok(n) => options.minsecs = Some(n),
                    Err(_) => {
                        b.error(&value_at, format!("minsecs: `{v}` is not a number of 0 or more; Asterisk uses the [general] value: write a number of seconds"));
                        typed = false;
                    }
                },
                "delete" => {
                    let on = b.boolean("delete", v, &value_at);
                    if on {
                        b.warn(&at, format!("mailbox {id}: delete=yes is unsafe with IMAP storage (Asterisk deletes by a stale message number); imapvm ignores it"));
                    }
                    options.delete = Some(on);
                }
                other => {
                    typed = false;
                    if let Some(read) = crate::phone::read::mailbox_option(
                        b,
                        other,
                        v,
                        &value_at,
                        &mut options.phone,
                    ) {
                        typed = read;
                    } else if MAILBOX_MENU.contains(&other) {
                        options.menu.insert(other.to_string(), v.to_string());
                    } else if GENERAL_TYPED.contains(&other) || GENERAL_MENU.contains(&other) {
                        b.warn(&at, format!("mailbox {id}: `{key}` can only be set in [general]; Asterisk ignores it on a mailbox line"));
                        options.unknown.insert(key.to_string(), v.to_string());
                    } else {
                        let hint = if key.trim() != key {
                            " (Asterisk does not trim spaces around option names: remove them)"
                                .to_string()
                        } else {
                            did_you_mean(key, all_names)
                        };
                        b.warn(
                            &at,
                            format!(
                                "mailbox {id}: unknown option `{key}`; Asterisk ignores it{hint}"
                            ),
                        );
                        options.unknown.insert(key.to_string(), v.to_string());
                    }
                }
            }
            if typed {
                option_origins.insert(canonical, value_at);
            }
        }
    }
    let mailbox = Mailbox {
        id,
        password: Secret::new(password),
        fullname: field(1).to_string(),
        email,
        pager: field(3).to_string(),
        options,
    };
    (mailbox, option_origins)
}
