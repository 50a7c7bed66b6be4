//! The effective settings of one mailbox: mailbox option > `[general]` > Asterisk's default,
//! each with its origin.

use std::time::Duration;

use serde::Serialize;

use crate::Config;
use crate::command_line::CommandLine;
use crate::layer::{Layer, SettingRow, row, row_bool, row_list, row_opt, row_secs};
use crate::model::{ImapFlags, Origin, Setting, Zone};
use crate::phone::settings::PhoneSettings;
use imapvm_types::{MailboxId, Secret};

/// Everything imapvm needs to know about one mailbox, resolved with Asterisk's precedence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MailboxSettings {
    /// `box@context`.
    pub id: MailboxId,
    /// Mailbox line: full name.
    pub fullname: Setting<String>,
    /// Mailbox line: e-mail addresses (`To:` of the stored copy; empty: Asterisk uses `imapuser`).
    pub email: Setting<Vec<String>>,
    /// Mailbox line: pager address.
    pub pager: Setting<String>,
    /// Mailbox line: the voicemail PIN.
    pub password: Setting<Secret>,
    /// `imapvmshareid`: the `X-Asterisk-VM-Extension` value (see [`MailboxSettings::extension`]).
    pub imapvmshareid: Setting<Option<String>>,
    /// `imapuser` (mailbox only).
    pub imapuser: Setting<Option<String>>,
    /// `imappassword` / `imapsecret` (mailbox only).
    pub imappassword: Setting<Option<Secret>>,
    /// `imapserver`.
    pub imapserver: Setting<String>,
    /// `imapport`.
    pub imapport: Setting<u16>,
    /// `imapflags`.
    pub imapflags: Setting<ImapFlags>,
    /// `imapfolder`.
    pub imapfolder: Setting<String>,
    /// `imapparentfolder` (general only).
    pub imapparentfolder: Setting<Option<String>>,
    /// `imapgreetings` (general only).
    pub imapgreetings: Setting<bool>,
    /// `greetingfolder` (general only; default: the general `imapfolder`).
    pub greetingfolder: Setting<String>,
    /// `authuser` (general only).
    pub authuser: Setting<Option<String>>,
    /// `authpassword` (general only).
    pub authpassword: Setting<Option<Secret>>,
    /// `imapoauthcmd` (imapvm only): the command that prints an OAuth 2 access token. When
    /// set, the box logs in with a token instead of any password.
    pub imapoauthcmd: Setting<Option<CommandLine>>,
    /// `imapcafile` (general only, imapvm only).
    pub imapcafile: Setting<Option<String>>,
    /// `imapvm_outbox` (general only, imapvm only): the outbox spool directory.
    pub imapvm_outbox: Setting<Option<String>>,
    /// `expungeonhangup`.
    pub expungeonhangup: Setting<bool>,
    /// `imapopentimeout`.
    pub imapopentimeout: Setting<Duration>,
    /// `imapreadtimeout`.
    pub imapreadtimeout: Setting<Duration>,
    /// `imapwritetimeout`.
    pub imapwritetimeout: Setting<Duration>,
    /// `imapclosetimeout`.
    pub imapclosetimeout: Setting<Duration>,
    /// `pollmailboxes`.
    pub pollmailboxes: Setting<bool>,
    /// `pollfreq`.
    pub pollfreq: Setting<Duration>,
    /// `imap_poll_logout`.
    pub imap_poll_logout: Setting<bool>,
    /// `format` (general only): the first entry is what gets stored.
    pub format: Setting<Vec<String>>,
    /// `serveremail`.
    pub serveremail: Setting<String>,
    /// `fromstring` (empty: the message says `Asterisk PBX`).
    pub fromstring: Setting<String>,
    /// `emailsubject`, escapes applied.
    pub emailsubject: Setting<Option<String>>,
    /// `emailbody`, escapes applied.
    pub emailbody: Setting<Option<String>>,
    /// `pbxskip` (general only).
    pub pbxskip: Setting<bool>,
    /// `charset` (general only).
    pub charset: Setting<String>,
    /// `emaildateformat` (general only).
    pub emaildateformat: Setting<String>,
    /// `tz`: the `[zonemessages]` name.
    pub tz: Setting<Option<String>>,
    /// The `[zonemessages]` entry `tz` names, if it exists.
    pub zone: Option<Setting<Zone>>,
    /// `locale`.
    pub locale: Setting<Option<String>>,
    /// `attach`.
    pub attach: Setting<bool>,
    /// `maxmsg`.
    pub maxmsg: Setting<u32>,
    /// `maxsecs`.
    pub maxsecs: Setting<u32>,
    /// `minsecs`.
    pub minsecs: Setting<u32>,
    /// `maxgreet` (general only).
    pub maxgreet: Setting<u32>,
    /// `externnotify` (general only).
    pub externnotify: Setting<Option<String>>,
    /// `leaveurgent`: the caller may mark a message urgent in the review menu.
    pub leaveurgent: Setting<bool>,
    /// `delete` (mailbox only).
    pub delete: Setting<bool>,
    /// The options of `VoiceMail()` and `VoiceMailMain()` for this mailbox.
    pub phone: PhoneSettings,
}

impl MailboxSettings {
    /// The value written to and searched in `X-Asterisk-VM-Extension`: `imapvmshareid`, else the mailbox.
    pub fn extension(&self) -> &str {
        self.imapvmshareid
            .value
            .as_deref()
            .unwrap_or(self.id.mailbox())
    }

    /// The password for the IMAP login: `authpassword` when set (Asterisk then uses it for every
    /// box), else this box's `imappassword`.
    pub fn login_password(&self) -> Option<&Secret> {
        self.authpassword
            .value
            .as_ref()
            .or(self.imappassword.value.as_ref())
    }

    /// The first `format`: the one stored on IMAP.
    pub fn stored_format(&self) -> &str {
        self.format.value.first().map_or("wav", String::as_str)
    }

    /// All settings as rows, in a stable order, secrets as `***` [INV-6].
    pub fn rows(&self) -> Vec<SettingRow> {
        let mut rows = vec![
            row("fullname", &self.fullname),
            row_list("email", &self.email),
            row("pager", &self.pager),
            row("password", &self.password),
            row_opt("imapuser", &self.imapuser),
            row_opt("imappassword", &self.imappassword),
            row_opt("imapvmshareid", &self.imapvmshareid),
            row("imapserver", &self.imapserver),
            row("imapport", &self.imapport),
            row("imapflags", &self.imapflags),
            row("imapfolder", &self.imapfolder),
            row_opt("imapparentfolder", &self.imapparentfolder),
            row_bool("imapgreetings", &self.imapgreetings),
            row("greetingfolder", &self.greetingfolder),
            row_opt("authuser", &self.authuser),
            row_opt("authpassword", &self.authpassword),
            row_opt("imapoauthcmd", &self.imapoauthcmd),
            row_opt("imapcafile", &self.imapcafile),
            row_opt("imapvm_outbox", &self.imapvm_outbox),
            row_bool("expungeonhangup", &self.expungeonhangup),
            row_secs("imapopentimeout", &self.imapopentimeout),
            row_secs("imapreadtimeout", &self.imapreadtimeout),
            row_secs("imapwritetimeout", &self.imapwritetimeout),
            row_secs("imapclosetimeout", &self.imapclosetimeout),
            row_bool("pollmailboxes", &self.pollmailboxes),
            row_secs("pollfreq", &self.pollfreq),
            row_bool("imap_poll_logout", &self.imap_poll_logout),
            row_list("format", &self.format),
            row("serveremail", &self.serveremail),
            row("fromstring", &self.fromstring),
            row_opt("emailsubject", &self.emailsubject),
            row_opt("emailbody", &self.emailbody),
            row_bool("pbxskip", &self.pbxskip),
            row("charset", &self.charset),
            row("emaildateformat", &self.emaildateformat),
            row_opt("tz", &self.tz),
        ];
        if let Some(zone) = &self.zone {
            rows.push(SettingRow {
                option: "zonemessages",
                value: Some(format!("{}|{}", zone.value.timezone, zone.value.format)),
                origin: zone.origin.clone(),
            });
        }
        rows.extend([
            row_opt("locale", &self.locale),
            row_bool("attach", &self.attach),
            row("maxmsg", &self.maxmsg),
            row("maxsecs", &self.maxsecs),
            row("minsecs", &self.minsecs),
            row("maxgreet", &self.maxgreet),
            row_opt("externnotify", &self.externnotify),
            row_bool("leaveurgent", &self.leaveurgent),
            row_bool("delete", &self.delete),
        ]);
        rows.extend(self.phone.rows());
        rows
    }
}

impl Config {
    /// The effective settings of `id` (mailbox option > `[general]` > default), or `None` if
    /// there is no such mailbox. Names are compared without regard to ASCII case.
    pub fn settings(&self, id: &MailboxId) -> Option<MailboxSettings> {
        let index = self.mailboxes.iter().position(|m| m.id == *id)?;
        self.settings_at(index)
    }

    /// The effective settings of each of `ids`, in that order (`None` where an id names no
    /// mailbox), as [`Config::settings`] gives them: with one index of the boxes by id, not
    /// a scan of every box for each (a watcher of 10,000 boxes).
    pub fn settings_of_each(&self, ids: &[MailboxId]) -> Vec<Option<MailboxSettings>> {
        let mut index = std::collections::HashMap::with_capacity(self.mailboxes.len());
        for (i, m) in self.mailboxes.iter().enumerate() {
            index.entry(&m.id).or_insert(i);
        }
        let at = |id| index.get(id).and_then(|&i| self.settings_at(i));
        ids.iter().map(at).collect()
    }

    /// The effective settings of the mailbox at `index` of [`Config::mailboxes`], or `None`
    /// past the end.
    fn settings_at(&self, index: usize) -> Option<MailboxSettings> {
        let mailbox = self.mailboxes.get(index)?;
        let g = &self.general;
        let line = self
            .origins
            .mailbox_lines
            .get(index)
            .cloned()
            .unwrap_or_default();
        let empty = Default::default();
        let opts = self.origins.mailbox_options.get(index).unwrap_or(&empty);
        let layer = Layer {
            general: &self.origins.general,
            mailbox: opts,
        };
        macro_rules! line_set {
            ($value:expr) => {
                Setting {
                    value: $value,
                    origin: Origin::Mailbox(line.clone()),
                }
            };
        }

        let o = &mailbox.options;
        let tz = layer.layered("tz", o.tz.clone().map(Some), g.tz.clone());
        let zone = tz.value.as_ref().and_then(|name| {
            let zone = self.zone(name)?;
            let at = self
                .origins
                .zones
                .get(&zone.name)
                .cloned()
                .unwrap_or_default();
            Some(Setting {
                value: zone.clone(),
                origin: Origin::Zone(at),
            })
        });
        let greetingfolder = match self.origins.general.get("greetingfolder") {
            Some(at) => Setting {
                value: g.greetingfolder().to_string(),
                origin: Origin::General(at.clone()),
            },
            None => layer.general("imapfolder", g.imapfolder.clone()),
        };
        Some(MailboxSettings {
            id: mailbox.id.clone(),
            fullname: line_set!(mailbox.fullname.clone()),
            email: line_set!(mailbox.email.clone()),
            pager: line_set!(mailbox.pager.clone()),
            password: line_set!(mailbox.password.clone()),
            imapvmshareid: layer.mailbox("imapvmshareid", o.imapvmshareid.clone().map(Some), None),
            imapuser: layer.mailbox("imapuser", o.imapuser.clone().map(Some), None),
            imappassword: layer.mailbox("imappassword", o.imappassword.clone().map(Some), None),
            imapserver: layer.layered("imapserver", o.imapserver.clone(), g.imapserver.clone()),
            imapport: layer.layered("imapport", o.imapport, g.imapport),
            imapflags: layer.layered("imapflags", o.imapflags, g.imapflags),
            imapfolder: layer.layered("imapfolder", o.imapfolder.clone(), g.imapfolder.clone()),
            imapparentfolder: layer.general("imapparentfolder", g.imapparentfolder.clone()),
            imapgreetings: layer.general("imapgreetings", g.imapgreetings),
            greetingfolder,
            authuser: layer.general("authuser", g.authuser.clone()),
            authpassword: layer.general("authpassword", g.authpassword.clone()),
            imapoauthcmd: layer.layered(
                "imapoauthcmd",
                o.imapoauthcmd.clone().map(Some),
                g.imapoauthcmd.clone(),
            ),
            imapcafile: layer.general("imapcafile", g.imapcafile.clone()),
            imapvm_outbox: layer.general("imapvm_outbox", g.imapvm_outbox.clone()),
            expungeonhangup: layer.general("expungeonhangup", g.expungeonhangup),
            imapopentimeout: layer.general("imapopentimeout", g.imapopentimeout),
            imapreadtimeout: layer.general("imapreadtimeout", g.imapreadtimeout),
            imapwritetimeout: layer.general("imapwritetimeout", g.imapwritetimeout),
            imapclosetimeout: layer.general("imapclosetimeout", g.imapclosetimeout),
            pollmailboxes: layer.general("pollmailboxes", g.pollmailboxes),
            pollfreq: layer.general("pollfreq", g.pollfreq),
            imap_poll_logout: layer.general("imap_poll_logout", g.imap_poll_logout),
            format: layer.general("format", g.format.clone()),
            serveremail: layer.layered("serveremail", o.serveremail.clone(), g.serveremail.clone()),
            fromstring: layer.layered("fromstring", o.fromstring.clone(), g.fromstring.clone()),
            emailsubject: layer.layered(
                "emailsubject",
                o.emailsubject.clone().map(Some),
                g.emailsubject.clone(),
            ),
            emailbody: layer.layered(
                "emailbody",
                o.emailbody.clone().map(Some),
                g.emailbody.clone(),
            ),
            pbxskip: layer.general("pbxskip", g.pbxskip),
            charset: layer.general("charset", g.charset.clone()),
            emaildateformat: layer.general("emaildateformat", g.emaildateformat.clone()),
            tz,
            zone,
            locale: layer.layered("locale", o.locale.clone().map(Some), g.locale.clone()),
            attach: layer.layered("attach", o.attach, g.attach),
            maxmsg: layer.layered("maxmsg", o.maxmsg, g.maxmsg),
            maxsecs: layer.layered("maxsecs", o.maxsecs, g.maxsecs),
            minsecs: layer.layered("minsecs", o.minsecs, g.minsecs),
            maxgreet: layer.general("maxgreet", g.maxgreet),
            externnotify: layer.general("externnotify", g.externnotify.clone()),
            leaveurgent: layer.layered("leaveurgent", o.phone.leaveurgent, g.leaveurgent),
            delete: layer.mailbox("delete", o.delete, false),
            phone: PhoneSettings::new(&layer, g, o),
        })
    }
}
