//! [`PhoneSettings`]: the telephone options in force for one mailbox, with their origins.

use serde::Serialize;

use crate::layer::{Layer, SettingRow, row, row_bool, row_opt};
use crate::model::{General, MailboxOptions, Setting};
use crate::phone::{PasswordChange, PasswordLocation, VolGain};

/// The options of `VoiceMail()` and `VoiceMailMain()` for one mailbox, each with its origin:
/// the mailbox line's value where Asterisk accepts one there, else `[general]`'s, else
/// Asterisk 22's default. Options marked "general only" cannot be set per mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PhoneSettings {
    /// `review`: offer the review menu after recording.
    pub review: Setting<bool>,
    /// `operator`: `0` reaches extension `o`.
    pub operator: Setting<bool>,
    /// `saycid`: announce the caller before a message.
    pub saycid: Setting<bool>,
    /// `envelope`: announce date and time before a message.
    pub envelope: Setting<bool>,
    /// `sayduration`: announce the length before a message.
    pub sayduration: Setting<bool>,
    /// `saydurationm`: the shortest length (minutes) that is announced.
    pub saydurationm: Setting<u32>,
    /// `skipms` (general only): milliseconds skipped by the forward and reverse keys.
    pub skipms: Setting<u32>,
    /// `messagewrap`: next after the last message is the first, and back.
    pub messagewrap: Setting<bool>,
    /// `nextaftercmd`: play the next message after delete (7) or save (9).
    pub nextaftercmd: Setting<bool>,
    /// `forcename`: a new user must record a name.
    pub forcename: Setting<bool>,
    /// `forcegreetings`: a new user must record the busy and unavailable greetings.
    pub forcegreetings: Setting<bool>,
    /// `tempgreetwarn`: remind the user of an active temporary greeting.
    pub tempgreetwarn: Setting<bool>,
    /// `usedirectory` (general only): forward offers the Directory.
    pub usedirectory: Setting<bool>,
    /// `sendvoicemail`: advanced option 5 (compose a message).
    pub sendvoicemail: Setting<bool>,
    /// `callback`: the dialplan context of "call back"; `None`: not offered.
    pub callback: Setting<Option<String>>,
    /// `dialout`: the dialplan context of "dial out"; `None`: not offered.
    pub dialout: Setting<Option<String>>,
    /// `exitcontext`: where `*` and `0` leave to; `None`: the caller's current context.
    pub exitcontext: Setting<Option<String>>,
    /// `cidinternalcontexts` (general only); see [`PhoneSettings::is_cid_internal`].
    pub cidinternalcontexts: Setting<Vec<String>>,
    /// `maxlogins` (general only): failed logins before goodbye.
    pub maxlogins: Setting<u32>,
    /// `minpassword` (general only): the shortest new PIN ([`crate::check_new_pin`]).
    pub minpassword: Setting<u32>,
    /// `passwordlocation`: where the PIN is kept and changed.
    pub passwordlocation: Setting<PasswordLocation>,
    /// `silencethreshold` (general only).
    pub silencethreshold: Setting<u32>,
    /// `maxsilence` (general only): seconds of silence that end a recording; 0 = none.
    pub maxsilence: Setting<u32>,
    /// `volgain` (typed, ignored by imapvm).
    pub volgain: Setting<VolGain>,
    /// `language` (mailbox only): the session's language; `None`: the channel's.
    pub language: Setting<Option<String>>,
    /// `hidefromdir` (mailbox only): `Directory()` does not list the box.
    pub hidefromdir: Setting<bool>,
    /// `moveheard`: heard messages move to Old (file storage; with IMAP "heard" is `\Seen`).
    pub moveheard: Setting<bool>,
    /// `forward_urgent_auto` (general only): a forwarded urgent message stays urgent.
    pub forward_urgent_auto: Setting<bool>,
    /// `searchcontexts` (general only): a mailbox without `@context` is looked up in every context.
    pub searchcontexts: Setting<bool>,
    /// `externpass` (general only); see [`PhoneSettings::password_change`].
    pub externpass: Setting<Option<String>>,
    /// `externpassnotify` (general only); see [`PhoneSettings::password_change`].
    pub externpassnotify: Setting<Option<String>>,
    /// `externpasscheck` (general only): run as `COMMAND mailbox context oldpin newpin`; the
    /// PIN is accepted when it prints `VALID` (or `FAILURE…`, a failed run).
    pub externpasscheck: Setting<Option<String>>,
    /// `vm-login` (general only).
    pub vm_login: Setting<String>,
    /// `vm-newuser` (general only).
    pub vm_newuser: Setting<String>,
    /// `vm-password` (general only).
    pub vm_password: Setting<String>,
    /// `vm-newpassword` (general only).
    pub vm_newpassword: Setting<String>,
    /// `vm-passchanged` (general only).
    pub vm_passchanged: Setting<String>,
    /// `vm-reenterpassword` (general only).
    pub vm_reenterpassword: Setting<String>,
    /// `vm-mismatch` (general only).
    pub vm_mismatch: Setting<String>,
    /// `vm-invalid-password` (general only).
    pub vm_invalid_password: Setting<String>,
    /// `vm-pls-try-again` (general only).
    pub vm_pls_try_again: Setting<String>,
    /// `vm-prepend-timeout` (general only).
    pub vm_prepend_timeout: Setting<String>,
    /// `listen-control-forward-key` (general only).
    pub listen_control_forward_key: Setting<String>,
    /// `listen-control-reverse-key` (general only).
    pub listen_control_reverse_key: Setting<String>,
    /// `listen-control-pause-key` (general only).
    pub listen_control_pause_key: Setting<String>,
    /// `listen-control-restart-key` (general only).
    pub listen_control_restart_key: Setting<String>,
    /// `listen-control-stop-key` (general only).
    pub listen_control_stop_key: Setting<String>,
}

fn context(value: Option<&String>) -> Option<Option<String>> {
    value.map(|v| Some(v.clone()).filter(|v| !v.is_empty()))
}

impl PhoneSettings {
    pub(crate) fn new(layer: &Layer<'_>, g: &General, o: &MailboxOptions) -> PhoneSettings {
        let p = &g.phone;
        let m = &o.phone;
        PhoneSettings {
            review: layer.layered("review", m.review, p.review),
            operator: layer.layered("operator", m.operator, p.operator),
            saycid: layer.layered("saycid", m.saycid, p.saycid),
            envelope: layer.layered("envelope", m.envelope, p.envelope),
            sayduration: layer.layered("sayduration", m.sayduration, p.sayduration),
            saydurationm: layer.layered("saydurationm", m.saydurationm, p.saydurationm),
            skipms: layer.general("skipms", p.skipms),
            messagewrap: layer.layered("messagewrap", m.messagewrap, p.messagewrap),
            nextaftercmd: layer.layered("nextaftercmd", m.nextaftercmd, p.nextaftercmd),
            forcename: layer.layered("forcename", m.forcename, p.forcename),
            forcegreetings: layer.layered("forcegreetings", m.forcegreetings, p.forcegreetings),
            tempgreetwarn: layer.layered("tempgreetwarn", m.tempgreetwarn, p.tempgreetwarn),
            usedirectory: layer.general("usedirectory", p.usedirectory),
            sendvoicemail: layer.layered("sendvoicemail", m.sendvoicemail, p.sendvoicemail),
            callback: layer.layered("callback", context(m.callback.as_ref()), p.callback.clone()),
            dialout: layer.layered("dialout", context(m.dialout.as_ref()), p.dialout.clone()),
            exitcontext: layer.layered(
                "exitcontext",
                context(m.exitcontext.as_ref()),
                p.exitcontext.clone(),
            ),
            cidinternalcontexts: layer
                .general("cidinternalcontexts", p.cidinternalcontexts.clone()),
            maxlogins: layer.general("maxlogins", p.maxlogins),
            minpassword: layer.general("minpassword", p.minpassword),
            passwordlocation: layer.layered(
                "passwordlocation",
                m.passwordlocation,
                p.passwordlocation,
            ),
            silencethreshold: layer.general("silencethreshold", p.silencethreshold),
            maxsilence: layer.general("maxsilence", g.maxsilence),
            volgain: layer.layered("volgain", m.volgain, p.volgain),
            language: layer.mailbox("language", o.language.clone().map(Some), None),
            hidefromdir: layer.mailbox("hidefromdir", m.hidefromdir, false),
            moveheard: layer.layered("moveheard", m.moveheard, g.moveheard),
            forward_urgent_auto: layer.general("forward_urgent_auto", g.forward_urgent_auto),
            searchcontexts: layer.general("searchcontexts", g.searchcontexts),
            externpass: layer.general("externpass", p.externpass.clone()),
            externpassnotify: layer.general("externpassnotify", p.externpassnotify.clone()),
            externpasscheck: layer.general("externpasscheck", p.externpasscheck.clone()),
            vm_login: layer.general("vm-login", p.vm_login.clone()),
            vm_newuser: layer.general("vm-newuser", p.vm_newuser.clone()),
            vm_password: layer.general("vm-password", p.vm_password.clone()),
            vm_newpassword: layer.general("vm-newpassword", p.vm_newpassword.clone()),
            vm_passchanged: layer.general("vm-passchanged", p.vm_passchanged.clone()),
            vm_reenterpassword: layer.general("vm-reenterpassword", p.vm_reenterpassword.clone()),
            vm_mismatch: layer.general("vm-mismatch", p.vm_mismatch.clone()),
            vm_invalid_password: layer
                .general("vm-invalid-password", p.vm_invalid_password.clone()),
            vm_pls_try_again: layer.general("vm-pls-try-again", p.vm_pls_try_again.clone()),
            vm_prepend_timeout: layer.general("vm-prepend-timeout", p.vm_prepend_timeout.clone()),
            listen_control_forward_key: layer.general(
                "listen-control-forward-key",
                p.listen_control_forward_key.clone(),
            ),
            listen_control_reverse_key: layer.general(
                "listen-control-reverse-key",
                p.listen_control_reverse_key.clone(),
            ),
            listen_control_pause_key: layer.general(
                "listen-control-pause-key",
                p.listen_control_pause_key.clone(),
            ),
            listen_control_restart_key: layer.general(
                "listen-control-restart-key",
                p.listen_control_restart_key.clone(),
            ),
            listen_control_stop_key: layer
                .general("listen-control-stop-key", p.listen_control_stop_key.clone()),
        }
    }

    /// What a PIN change does: `externpass` (the command only) wins over `externpassnotify`
    /// (save, then the command); neither: app_voicemail saves it.
    pub fn password_change(&self) -> PasswordChange {
        match (&self.externpass.value, &self.externpassnotify.value) {
            (Some(command), _) => PasswordChange::External(command.clone()),
            (None, Some(command)) => PasswordChange::InternalAndExternal(command.clone()),
            (None, None) => PasswordChange::Internal,
        }
    }

    /// Whether a message left from voicemail `context` announces its caller by recorded name
    /// (`cidinternalcontexts`; Asterisk compares exactly, case included).
    pub fn is_cid_internal(&self, context: &str) -> bool {
        self.cidinternalcontexts.value.iter().any(|c| c == context)
    }

    /// Whether a message of `duration_secs` has its length announced (`sayduration` and at
    /// least `saydurationm` whole minutes).
    pub fn says_duration(&self, duration_secs: u64) -> bool {
        self.sayduration.value && duration_secs / 60 >= u64::from(self.saydurationm.value)
    }

    /// The rows of `imapvm config show`, in a stable order.
    pub fn rows(&self) -> Vec<SettingRow> {
        vec![
            row_bool("review", &self.review),
            row_bool("operator", &self.operator),
            row_bool("saycid", &self.saycid),
            row_bool("envelope", &self.envelope),
            row_bool("sayduration", &self.sayduration),
            row("saydurationm", &self.saydurationm),
            row("skipms", &self.skipms),
            row_bool("messagewrap", &self.messagewrap),
            row_bool("nextaftercmd", &self.nextaftercmd),
            row_bool("forcename", &self.forcename),
            row_bool("forcegreetings", &self.forcegreetings),
            row_bool("tempgreetwarn", &self.tempgreetwarn),
            row_bool("usedirectory", &self.usedirectory),
            row_bool("sendvoicemail", &self.sendvoicemail),
            row_opt("callback", &self.callback),
            row_opt("dialout", &self.dialout),
            row_opt("exitcontext", &self.exitcontext),
            SettingRow {
                option: "cidinternalcontexts",
                value: Some(self.cidinternalcontexts.value.join(",")).filter(|v| !v.is_empty()),
                origin: self.cidinternalcontexts.origin.clone(),
            },
            row("maxlogins", &self.maxlogins),
            row("minpassword", &self.minpassword),
            row("passwordlocation", &self.passwordlocation),
            row("silencethreshold", &self.silencethreshold),
            row("maxsilence", &self.maxsilence),
            row("volgain", &self.volgain),
            row_opt("language", &self.language),
            row_bool("hidefromdir", &self.hidefromdir),
            row_bool("moveheard", &self.moveheard),
            row_bool("forward_urgent_auto", &self.forward_urgent_auto),
            row_bool("searchcontexts", &self.searchcontexts),
            row_opt("externpass", &self.externpass),
            row_opt("externpassnotify", &self.externpassnotify),
            row_opt("externpasscheck", &self.externpasscheck),
            row("vm-login", &self.vm_login),
            row("vm-newuser", &self.vm_newuser),
            row("vm-password", &self.vm_password),
            row("vm-newpassword", &self.vm_newpassword),
            row("vm-passchanged", &self.vm_passchanged),
            row("vm-reenterpassword", &self.vm_reenterpassword),
            row("vm-mismatch", &self.vm_mismatch),
            row("vm-invalid-password", &self.vm_invalid_password),
            row("vm-pls-try-again", &self.vm_pls_try_again),
            row("vm-prepend-timeout", &self.vm_prepend_timeout),
            row(
                "listen-control-forward-key",
                &self.listen_control_forward_key,
            ),
            row(
                "listen-control-reverse-key",
                &self.listen_control_reverse_key,
            ),
            row("listen-control-pause-key", &self.listen_control_pause_key),
            row(
                "listen-control-restart-key",
                &self.listen_control_restart_key,
            ),
            row("listen-control-stop-key", &self.listen_control_stop_key),
        ]
    }
}
