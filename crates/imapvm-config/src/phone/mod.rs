//! The telephone side of voicemail.conf: the options Asterisk's `VoiceMail()` and
//! `VoiceMailMain()` read (review, operator, the envelope, login and password prompts,
//! playback keys, password changes), typed with Asterisk 22's defaults.
//!
//! [`Phone`] is `[general]`'s part, [`PhoneOptions`] what a mailbox line may override (exactly
//! the options Asterisk's `apply_option` accepts there), and [`PhoneSettings`](settings::PhoneSettings) the effective
//! values of one mailbox with their origins (mailbox option > `[general]` > default, as
//! Asterisk's `populate_defaults` then `apply_options` do).

// The readers and the effective settings are named from outside (`semantics`, `settings`,
// the crate root), never from here: this module holds the types only, so `model` may use them
// without a module cycle.
pub(crate) mod read;
pub(crate) mod settings;

use std::fmt;

use serde::{Serialize, Serializer};

/// Asterisk keeps at most this many `cidinternalcontexts` (`MAX_NUM_CID_CONTEXTS`).
pub const MAX_CID_INTERNAL_CONTEXTS: usize = 10;
/// Asterisk's default `silencethreshold`: dsp.conf's, 256 unless dsp.conf sets another.
pub const DEFAULT_SILENCE_THRESHOLD: u32 = 256;
/// The keys a `listen-control-*-key` option may hold (Asterisk's `VALID_DTMF`).
pub const LISTEN_CONTROL_DTMF: &str = "1234567890*#";

/// `passwordlocation`: where `VoiceMailMain` keeps a mailbox's PIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[non_exhaustive]
pub enum PasswordLocation {
    /// `voicemail.conf` (the default): the first field of the mailbox line; a change rewrites
    /// that field ([`crate::change_password`]).
    #[default]
    #[serde(rename = "voicemail.conf")]
    VoicemailConf,
    /// `spooldir`: `{astspooldir}/voicemail/{context}/{mailbox}/secret.conf`, when it exists
    /// and has a password ([`crate::read_secret_conf`]); a change writes that file
    /// ([`crate::render_secret_conf`]) and falls back to voicemail.conf if it cannot.
    #[serde(rename = "spooldir")]
    Spooldir,
}

impl fmt::Display for PasswordLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PasswordLocation::VoicemailConf => "voicemail.conf",
            PasswordLocation::Spooldir => "spooldir",
        })
    }
}

/// What `VoiceMailMain` does with a new PIN (`externpass`, `externpassnotify`; see
/// [`PhoneSettings::password_change`](crate::PhoneSettings::password_change)).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "mode", content = "command", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum PasswordChange {
    /// Neither option: app_voicemail saves the PIN itself, where `passwordlocation` says.
    Internal,
    /// `externpass=COMMAND`: only `COMMAND context mailbox newpin` runs; nothing is saved.
    /// (An empty COMMAND runs nothing and saves nothing, though the caller hears
    /// `vm-passchanged`.)
    External(String),
    /// `externpassnotify=COMMAND`: the PIN is saved, then `COMMAND context mailbox newpin` runs.
    InternalAndExternal(String),
}

impl PasswordChange {
    /// True when app_voicemail writes the PIN itself (voicemail.conf or secret.conf).
    pub fn saves(&self) -> bool {
        !matches!(self, PasswordChange::External(_))
    }

    /// The external command to run after a change, if any (never an empty one).
    pub fn command(&self) -> Option<&str> {
        match self {
            PasswordChange::Internal => None,
            PasswordChange::External(c) | PasswordChange::InternalAndExternal(c) => {
                Some(c.as_str()).filter(|c| !c.is_empty())
            }
        }
    }
}

/// `volgain`: the volume gain (dB) Asterisk applies to the audio of notification e-mails.
/// Typed so that a bad value is reported; imapvm sends no such e-mails and ignores it.
///
/// Equality is bit equality of the `f64`, so the type can be `Eq`.
#[derive(Debug, Clone, Copy, Default)]
pub struct VolGain(pub f64);

impl PartialEq for VolGain {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

impl Eq for VolGain {}

impl fmt::Display for VolGain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Serialize for VolGain {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.0)
    }
}

/// `[general]`'s telephone options, with Asterisk 22's defaults ([`Phone::default`]).
///
/// In JSON the fields are named as in voicemail.conf (`vm-login`, `listen-control-stop-key`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "mirrors Asterisk's yes/no options one by one"
)]
pub struct Phone {
    /// `review` (default no): the caller may review the message before it is saved.
    pub review: bool,
    /// `operator` (default no): `0` reaches extension `o` before, during and after recording.
    pub operator: bool,
    /// `saycid` (default no): the caller is announced before a message is played.
    pub saycid: bool,
    /// `envelope` (default yes): date and time are announced before a message is played.
    pub envelope: bool,
    /// `sayduration` (default yes): the length is announced before a message is played.
    pub sayduration: bool,
    /// `saydurationm` (default 2): the shortest length in minutes that is announced.
    pub saydurationm: u32,
    /// `skipms` (default 3000, general only): milliseconds skipped by the forward and reverse keys.
    pub skipms: u32,
    /// `messagewrap` (default no): next after the last message is the first, and back.
    pub messagewrap: bool,
    /// `nextaftercmd` (default no): after delete (7) or save (9), play the next message.
    pub nextaftercmd: bool,
    /// `forcename` (default no): a new user (PIN = mailbox number) must record a name.
    pub forcename: bool,
    /// `forcegreetings` (default no): a new user must record the busy and unavailable greetings.
    pub forcegreetings: bool,
    /// `tempgreetwarn` (default no): remind the user at login that a temporary greeting is set.
    pub tempgreetwarn: bool,
    /// `usedirectory` (default no, general only): forward (8) offers the Directory.
    pub usedirectory: bool,
    /// `sendvoicemail` (default no): advanced option 5 (compose a message) is offered.
    pub sendvoicemail: bool,
    /// `callback` (default none): the dialplan context of advanced option 2 (call back).
    pub callback: Option<String>,
    /// `dialout` (default none): the dialplan context of advanced option 4 (dial out).
    pub dialout: Option<String>,
    /// `exitcontext` (default none: the current context): where `*` and `0` leave to.
    pub exitcontext: Option<String>,
    /// `cidinternalcontexts` (general only): contexts whose callers are announced by their
    /// recorded name; at most [`MAX_CID_INTERNAL_CONTEXTS`], as Asterisk stores them (leading
    /// blanks removed).
    pub cidinternalcontexts: Vec<String>,
    /// `maxlogins` (default 3, general only): failed logins before `vm-goodbye`.
    pub maxlogins: u32,
    /// `minpassword` (default 0, general only): the shortest new PIN accepted.
    pub minpassword: u32,
    /// `passwordlocation` (default `voicemail.conf`).
    pub passwordlocation: PasswordLocation,
    /// `silencethreshold` (general only; default [`DEFAULT_SILENCE_THRESHOLD`]).
    pub silencethreshold: u32,
    /// `volgain` (default 0; typed, ignored by imapvm).
    pub volgain: VolGain,
    /// `externpass` (general only): the command that changes a PIN instead of app_voicemail.
    pub externpass: Option<String>,
    /// `externpassnotify` (general only): the command run after app_voicemail changed a PIN.
    pub externpassnotify: Option<String>,
    /// `externpasscheck` (general only): the command that must print `VALID` for a new PIN.
    pub externpasscheck: Option<String>,
    /// `vm-login` (default `vm-login`): the "mailbox?" prompt.
    #[serde(rename = "vm-login")]
    pub vm_login: String,
    /// `vm-newuser` (default `vm-newuser`): the new-user welcome.
    #[serde(rename = "vm-newuser")]
    pub vm_newuser: String,
    /// `vm-password` (default `vm-password`): the "password?" prompt.
    #[serde(rename = "vm-password")]
    pub vm_password: String,
    /// `vm-newpassword` (default `vm-newpassword`).
    #[serde(rename = "vm-newpassword")]
    pub vm_newpassword: String,
    /// `vm-passchanged` (default `vm-passchanged`).
    #[serde(rename = "vm-passchanged")]
    pub vm_passchanged: String,
    /// `vm-reenterpassword` (default `vm-reenterpassword`).
    #[serde(rename = "vm-reenterpassword")]
    pub vm_reenterpassword: String,
    /// `vm-mismatch` (default `vm-mismatch`).
    #[serde(rename = "vm-mismatch")]
    pub vm_mismatch: String,
    /// `vm-invalid-password` (default `vm-invalid-password`).
    #[serde(rename = "vm-invalid-password")]
    pub vm_invalid_password: String,
    /// `vm-pls-try-again` (default `vm-pls-try-again`).
    #[serde(rename = "vm-pls-try-again")]
    pub vm_pls_try_again: String,
    /// `vm-prepend-timeout` (default `vm-then-pound`): after a prepend that timed out.
    #[serde(rename = "vm-prepend-timeout")]
    pub vm_prepend_timeout: String,
    /// `listen-control-forward-key` (default `#`): skip forward during playback.
    #[serde(rename = "listen-control-forward-key")]
    pub listen_control_forward_key: String,
    /// `listen-control-reverse-key` (default `*`): skip back.
    #[serde(rename = "listen-control-reverse-key")]
    pub listen_control_reverse_key: String,
    /// `listen-control-pause-key` (default `0`): pause and resume.
    #[serde(rename = "listen-control-pause-key")]
    pub listen_control_pause_key: String,
    /// `listen-control-restart-key` (default `2`): play from the start.
    #[serde(rename = "listen-control-restart-key")]
    pub listen_control_restart_key: String,
    /// `listen-control-stop-key` (default `13456789`): stop; the key becomes a menu command.
    #[serde(rename = "listen-control-stop-key")]
    pub listen_control_stop_key: String,
}

impl Default for Phone {
    /// Asterisk 22's defaults (`actual_load_config`).
    fn default() -> Self {
        Phone {
            review: false,
            operator: false,
            saycid: false,
            envelope: true,
            sayduration: true,
            saydurationm: 2,
            skipms: 3000,
            messagewrap: false,
            nextaftercmd: false,
            forcename: false,
            forcegreetings: false,
            tempgreetwarn: false,
            usedirectory: false,
            sendvoicemail: false,
            callback: None,
            dialout: None,
            exitcontext: None,
            cidinternalcontexts: Vec::new(),
            maxlogins: 3,
            minpassword: 0,
            passwordlocation: PasswordLocation::VoicemailConf,
            silencethreshold: DEFAULT_SILENCE_THRESHOLD,
            volgain: VolGain(0.0),
            externpass: None,
            externpassnotify: None,
            externpasscheck: None,
            vm_login: "vm-login".into(),
            vm_newuser: "vm-newuser".into(),
            vm_password: "vm-password".into(),
            vm_newpassword: "vm-newpassword".into(),
            vm_passchanged: "vm-passchanged".into(),
            vm_reenterpassword: "vm-reenterpassword".into(),
            vm_mismatch: "vm-mismatch".into(),
            vm_invalid_password: "vm-invalid-password".into(),
            vm_pls_try_again: "vm-pls-try-again".into(),
            vm_prepend_timeout: "vm-then-pound".into(),
            listen_control_forward_key: "#".into(),
            listen_control_reverse_key: "*".into(),
            listen_control_pause_key: "0".into(),
            listen_control_restart_key: "2".into(),
            listen_control_stop_key: "13456789".into(),
        }
    }
}

/// The telephone options of one mailbox line (`...,opt=v|opt=v`). `None`: not on the line.
///
/// `Some("")` for `callback`, `dialout` and `exitcontext` means the line empties the
/// `[general]` value.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct PhoneOptions {
    /// `review`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review: Option<bool>,
    /// `operator`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator: Option<bool>,
    /// `saycid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub saycid: Option<bool>,
    /// `envelope`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub envelope: Option<bool>,
    /// `sayduration`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sayduration: Option<bool>,
    /// `saydurationm`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub saydurationm: Option<u32>,
    /// `messagewrap`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messagewrap: Option<bool>,
    /// `nextaftercmd`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nextaftercmd: Option<bool>,
    /// `forcename`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forcename: Option<bool>,
    /// `forcegreetings`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forcegreetings: Option<bool>,
    /// `tempgreetwarn`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tempgreetwarn: Option<bool>,
    /// `sendvoicemail`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sendvoicemail: Option<bool>,
    /// `moveheard`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moveheard: Option<bool>,
    /// `leaveurgent`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leaveurgent: Option<bool>,
    /// `callback`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback: Option<String>,
    /// `dialout`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dialout: Option<String>,
    /// `exitcontext`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exitcontext: Option<String>,
    /// `passwordlocation`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passwordlocation: Option<PasswordLocation>,
    /// `volgain`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volgain: Option<VolGain>,
    /// `hidefromdir` (read by Asterisk's `Directory()`, which hides the box only for the
    /// literal `yes`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hidefromdir: Option<bool>,
}
