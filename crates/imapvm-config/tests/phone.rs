//! The telephone options: Asterisk 22's defaults, `[general]`, a mailbox line's override, and
//! a diagnostic at file:line:column for each bad value. Expectations come from
//! `apps/app_voicemail.c` (`actual_load_config`, `apply_option`, `populate_defaults`).

use imapvm_config::{
    MailboxId, MailboxSettings, Origin, Parsed, PasswordChange, PasswordLocation, PhoneSettings,
    Setting, Severity, VolGain, parse_bytes,
};

use crate::{errors, warnings};

const BOX: &str = "1 => 1,A,,,imapuser=u";

fn id() -> MailboxId {
    "1@default".parse().expect("an id")
}

/// `[general]` with `general`, then `[default]` with mailbox 1 carrying `options`.
fn conf(general: &str, options: &str) -> Parsed {
    let sep = if options.is_empty() { "" } else { "|" };
    let text = format!("[general]\n{general}\n[default]\n{BOX}{sep}{options}\n");
    parse_bytes("v.conf", text.as_bytes())
}

fn phone(parsed: &Parsed) -> PhoneSettings {
    settings(parsed).phone
}

fn settings(parsed: &Parsed) -> MailboxSettings {
    parsed.config.settings(&id()).expect("mailbox 1@default")
}

fn at_general(s: &Origin) -> bool {
    matches!(s, Origin::General(at) if at.file == "v.conf" && at.line == 2)
}

fn at_mailbox(s: &Origin) -> bool {
    matches!(s, Origin::Mailbox(at) if at.file == "v.conf" && at.line == 4)
}

fn only_diagnostic(parsed: &Parsed, severity: Severity) -> (u32, u32, String) {
    assert_eq!(parsed.diagnostics.len(), 1, "{:#?}", parsed.diagnostics);
    let d = &parsed.diagnostics[0];
    assert_eq!(d.severity, severity, "{d}");
    (d.line, d.column, d.message.clone())
}

/// Unset, `name` is Asterisk's `default`; `name=text` in `[general]` gives `value`, with the
/// `[general]` line as origin and no diagnostic.
fn default_then_general<T: PartialEq + std::fmt::Debug>(
    name: &str,
    get: fn(&PhoneSettings) -> &Setting<T>,
    default: T,
    text: &str,
    value: T,
) {
    let s = phone(&conf("", ""));
    assert_eq!(
        (&get(&s).value, &get(&s).origin),
        (&default, &Origin::Default),
        "{name}"
    );
    let parsed = conf(&format!("{name}={text}"), "");
    assert!(
        parsed.diagnostics.is_empty(),
        "{name}: {:#?}",
        parsed.diagnostics
    );
    let s = phone(&parsed);
    assert_eq!(get(&s).value, value, "{name}");
    assert!(at_general(&get(&s).origin), "{name}: {:?}", get(&s).origin);
}

type Flag = fn(&PhoneSettings) -> &Setting<bool>;

/// (option, Asterisk's default, may a mailbox line set it, the effective value)
const FLAGS: &[(&str, bool, bool, Flag)] = &[
    ("review", false, true, |p| &p.review),
    ("operator", false, true, |p| &p.operator),
    ("saycid", false, true, |p| &p.saycid),
    ("envelope", true, true, |p| &p.envelope),
    ("sayduration", true, true, |p| &p.sayduration),
    ("messagewrap", false, true, |p| &p.messagewrap),
    ("nextaftercmd", false, true, |p| &p.nextaftercmd),
    ("forcename", false, true, |p| &p.forcename),
    ("forcegreetings", false, true, |p| &p.forcegreetings),
    ("tempgreetwarn", false, true, |p| &p.tempgreetwarn),
    ("usedirectory", false, false, |p| &p.usedirectory),
    ("sendvoicemail", false, true, |p| &p.sendvoicemail),
    ("moveheard", true, true, |p| &p.moveheard),
    ("forward_urgent_auto", false, false, |p| {
        &p.forward_urgent_auto
    }),
    ("searchcontexts", false, false, |p| &p.searchcontexts),
];

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

#[test]
fn yes_no_options_default_general_mailbox_and_bad_value() {
    for &(name, default, per_mailbox, get) in FLAGS {
        default_then_general(name, get, default, yes(!default), !default);

        let parsed = conf(
            &format!("{name}={}", yes(!default)),
            &format!("{name}={}", yes(default)),
        );
        let s = phone(&parsed);
        if per_mailbox {
            assert!(
                parsed.diagnostics.is_empty(),
                "{name}: {:#?}",
                parsed.diagnostics
            );
            assert_eq!(get(&s).value, default, "{name}: the mailbox line wins");
            assert!(at_mailbox(&get(&s).origin), "{name}: {:?}", get(&s).origin);
        } else {
            let (line, _, message) = only_diagnostic(&parsed, Severity::Warning);
            assert_eq!(line, 4);
            assert!(
                message.contains("can only be set in [general]"),
                "{message}"
            );
            assert_eq!(
                get(&s).value,
                !default,
                "{name}: the line's value is ignored"
            );
            assert!(at_general(&get(&s).origin));
        }

        let parsed = conf(&format!("{name}=maybe"), "");
        let (line, column, message) = only_diagnostic(&parsed, Severity::Error);
        assert_eq!((line, column as usize), (2, name.len() + 2), "{name}");
        assert!(message.contains("Asterisk reads it as no"), "{message}");
        assert!(
            !get(&phone(&parsed)).value,
            "{name}: Asterisk's ast_true(maybe) is no"
        );
    }
}

#[test]
fn leaveurgent_is_a_mailbox_option_too() {
    // apply_option() accepts leaveurgent on a mailbox line (VM_MARK_URGENT).
    let parsed = conf("leaveurgent=no", "leaveurgent=yes");
    assert!(parsed.diagnostics.is_empty(), "{:#?}", parsed.diagnostics);
    let s = settings(&parsed);
    assert!(s.leaveurgent.value);
    assert!(at_mailbox(&s.leaveurgent.origin));
    let s = settings(&conf("leaveurgent=no", ""));
    assert!(!s.leaveurgent.value);
    assert!(at_general(&s.leaveurgent.origin));
}

type Count = fn(&PhoneSettings) -> &Setting<u32>;

/// (option, Asterisk's default, may a mailbox line set it, the effective value)
const COUNTS: &[(&str, u32, bool, Count)] = &[
    ("saydurationm", 2, true, |p| &p.saydurationm),
    ("skipms", 3000, false, |p| &p.skipms),
    ("maxlogins", 3, false, |p| &p.maxlogins),
    ("minpassword", 0, false, |p| &p.minpassword),
    ("silencethreshold", 256, false, |p| &p.silencethreshold),
    ("maxsilence", 0, false, |p| &p.maxsilence),
];

#[test]
fn number_options_default_general_mailbox_and_bad_values() {
    for &(name, default, per_mailbox, get) in COUNTS {
        default_then_general(name, get, default, "7", 7);

        let parsed = conf(&format!("{name}=7"), &format!("{name}=9"));
        let s = phone(&parsed);
        if per_mailbox {
            assert!(
                parsed.diagnostics.is_empty(),
                "{name}: {:#?}",
                parsed.diagnostics
            );
            assert_eq!(get(&s).value, 9, "{name}: the mailbox line wins");
            assert!(at_mailbox(&get(&s).origin), "{name}");
        } else {
            assert_eq!(get(&s).value, 7, "{name}: general only");
            let (_, _, message) = only_diagnostic(&parsed, Severity::Warning);
            assert!(
                message.contains("can only be set in [general]"),
                "{message}"
            );
        }

        // Not a number: an error; Asterisk keeps its default (atoi reads silencethreshold as 0).
        let parsed = conf(&format!("{name}=lots"), "");
        let (line, column, message) = only_diagnostic(&parsed, Severity::Error);
        assert_eq!((line, column as usize), (2, name.len() + 2), "{name}");
        assert!(message.contains(name), "{message}");
        let expected = if name == "silencethreshold" {
            0
        } else {
            default
        };
        assert_eq!(get(&phone(&parsed)).value, expected, "{name}");
    }
}

#[test]
fn numbers_with_trailing_text_read_as_sscanf_reads_them() {
    for name in [
        "saydurationm",
        "skipms",
        "maxlogins",
        "minpassword",
        "silencethreshold",
    ] {
        let parsed = conf(&format!("{name}=5x"), "");
        let (_, _, message) = only_diagnostic(&parsed, Severity::Warning);
        assert!(message.contains("reads `5x` as 5"), "{name}: {message}");
        let s = phone(&parsed);
        let value = COUNTS.iter().find(|c| c.0 == name).map(|c| (c.3)(&s).value);
        assert_eq!(value, Some(5), "{name}");
    }
    let parsed = conf("maxlogins=0", "");
    let (_, _, message) = only_diagnostic(&parsed, Severity::Warning);
    assert!(message.contains("every login fails"), "{message}");
    let parsed = conf("maxlogins=-1", "");
    let (_, _, message) = only_diagnostic(&parsed, Severity::Error);
    assert!(message.contains("imapvm uses 3"), "{message}");
    assert_eq!(phone(&parsed).maxlogins.value, 3);
    // On a mailbox line a bad saydurationm keeps the [general] value.
    let parsed = conf("saydurationm=4", "saydurationm=soon");
    let (line, _, _) = only_diagnostic(&parsed, Severity::Error);
    assert_eq!(line, 4);
    let s = phone(&parsed);
    assert_eq!(s.saydurationm.value, 4);
    assert!(at_general(&s.saydurationm.origin));
}

#[test]
fn says_duration_follows_sayduration_and_saydurationm() {
    let s = phone(&conf("", ""));
    assert!(!s.says_duration(119), "under 2 minutes");
    assert!(s.says_duration(120));
    let s = phone(&conf("sayduration=no", ""));
    assert!(!s.says_duration(600));
    let s = phone(&conf("", "saydurationm=0"));
    assert!(s.says_duration(0));
}

type Context = fn(&PhoneSettings) -> &Setting<Option<String>>;

const CONTEXTS: &[(&str, Context)] = &[
    ("callback", |p| &p.callback),
    ("dialout", |p| &p.dialout),
    ("exitcontext", |p| &p.exitcontext),
];

#[test]
fn dialplan_contexts_default_general_mailbox_and_emptied() {
    for &(name, get) in CONTEXTS {
        let s = phone(&conf("", ""));
        assert_eq!(get(&s).value, None, "{name}");
        let s = phone(&conf(&format!("{name}=fromvm"), ""));
        assert_eq!(get(&s).value.as_deref(), Some("fromvm"), "{name}");
        assert!(at_general(&get(&s).origin));
        let parsed = conf(&format!("{name}=fromvm"), &format!("{name}=other"));
        assert!(parsed.diagnostics.is_empty(), "{:#?}", parsed.diagnostics);
        let s = phone(&parsed);
        assert_eq!(get(&s).value.as_deref(), Some("other"), "{name}");
        assert!(at_mailbox(&get(&s).origin));
        // An empty value on the line empties the [general] value, as ast_copy_string does.
        let s = phone(&conf(&format!("{name}=fromvm"), &format!("{name}=")));
        assert_eq!(get(&s).value, None, "{name}");
        assert!(at_mailbox(&get(&s).origin));
        // A context name with a blank cannot be a dialplan context.
        let parsed = conf(&format!("{name}=from vm"), "");
        let (line, _, message) = only_diagnostic(&parsed, Severity::Warning);
        assert_eq!(line, 2);
        assert!(message.contains("white space"), "{message}");
    }
}

#[test]
fn cidinternalcontexts_are_split_as_asterisk_splits_them() {
    let parsed = conf("cidinternalcontexts=intern, \tsales,office", "");
    assert!(parsed.diagnostics.is_empty(), "{:#?}", parsed.diagnostics);
    let s = phone(&parsed);
    assert_eq!(s.cidinternalcontexts.value, ["intern", "sales", "office"]);
    assert!(at_general(&s.cidinternalcontexts.origin));
    assert!(s.is_cid_internal("sales"));
    assert!(!s.is_cid_internal("Sales"), "Asterisk compares with strcmp");
    assert!(!s.is_cid_internal("default"));
    assert!(phone(&conf("", "")).cidinternalcontexts.value.is_empty());

    // Blanks after a name are kept by Asterisk: that context never matches.
    let parsed = conf("cidinternalcontexts=intern ,sales", "");
    let (_, _, message) = only_diagnostic(&parsed, Severity::Warning);
    assert!(message.contains("after `intern`"), "{message}");
    assert_eq!(
        phone(&parsed).cidinternalcontexts.value,
        ["intern ", "sales"]
    );

    // At most ten.
    let many: Vec<String> = (0..12).map(|i| format!("c{i}")).collect();
    let parsed = conf(&format!("cidinternalcontexts={}", many.join(",")), "");
    let (_, _, message) = only_diagnostic(&parsed, Severity::Warning);
    assert!(message.contains("more than 10"), "{message}");
    assert_eq!(phone(&parsed).cidinternalcontexts.value, many[..10]);

    // General only.
    let parsed = conf("", "cidinternalcontexts=intern");
    let (_, _, message) = only_diagnostic(&parsed, Severity::Warning);
    assert!(
        message.contains("can only be set in [general]"),
        "{message}"
    );
}

#[test]
fn passwordlocation_general_is_case_sensitive_a_mailbox_line_is_not() {
    let s = phone(&conf("", ""));
    assert_eq!(s.passwordlocation.value, PasswordLocation::VoicemailConf);
    assert_eq!(s.passwordlocation.origin, Origin::Default);

    let parsed = conf("passwordlocation=spooldir", "");
    assert!(parsed.diagnostics.is_empty());
    assert_eq!(
        phone(&parsed).passwordlocation.value,
        PasswordLocation::Spooldir
    );

    // [general] uses strcmp: `SpoolDir` is voicemail.conf there.
    let parsed = conf("passwordlocation=SpoolDir", "");
    let (_, _, message) = only_diagnostic(&parsed, Severity::Warning);
    assert!(message.contains("lower-case"), "{message}");
    assert_eq!(
        phone(&parsed).passwordlocation.value,
        PasswordLocation::VoicemailConf
    );

    // A mailbox line uses strcasecmp.
    let parsed = conf("", "passwordlocation=SpoolDir");
    assert!(parsed.diagnostics.is_empty(), "{:#?}", parsed.diagnostics);
    let s = phone(&parsed);
    assert_eq!(s.passwordlocation.value, PasswordLocation::Spooldir);
    assert!(at_mailbox(&s.passwordlocation.origin));
    let parsed = conf(
        "passwordlocation=spooldir",
        "passwordlocation=voicemail.conf",
    );
    assert_eq!(
        phone(&parsed).passwordlocation.value,
        PasswordLocation::VoicemailConf
    );

    // Anything else is voicemail.conf, with a warning.
    for (general, options) in [("passwordlocation=disk", ""), ("", "passwordlocation=disk")] {
        let parsed = conf(general, options);
        let (_, _, message) = only_diagnostic(&parsed, Severity::Warning);
        assert!(
            message.contains("Asterisk uses voicemail.conf"),
            "{message}"
        );
        assert_eq!(
            phone(&parsed).passwordlocation.value,
            PasswordLocation::VoicemailConf
        );
    }
}

#[test]
fn volgain_is_typed_and_checked() {
    let s = phone(&conf("", ""));
    assert_eq!(s.volgain.value, VolGain(0.0));
    let s = phone(&conf("volgain=1.5", "volgain=-2"));
    assert_eq!(s.volgain.value, VolGain(-2.0));
    assert!(at_mailbox(&s.volgain.origin));
    let s = phone(&conf("volgain=1.5", ""));
    assert_eq!(s.volgain.value, VolGain(1.5));
    let parsed = conf("volgain=loud", "");
    let (line, column, _) = only_diagnostic(&parsed, Severity::Error);
    assert_eq!((line, column), (2, 9));
    assert_eq!(phone(&parsed).volgain.value, VolGain(0.0));
    let parsed = conf("volgain=1.5", "volgain=loud");
    let (line, _, message) = only_diagnostic(&parsed, Severity::Error);
    assert_eq!(line, 4);
    assert!(message.contains("[general] value"), "{message}");
    assert_eq!(phone(&parsed).volgain.value, VolGain(1.5));
    let parsed = conf("volgain=3dB", "");
    let (_, _, message) = only_diagnostic(&parsed, Severity::Warning);
    assert!(message.contains("as 3"), "{message}");
    assert_eq!(phone(&parsed).volgain.value, VolGain(3.0));
}

#[test]
fn externpass_externpassnotify_and_externpasscheck() {
    let s = phone(&conf("", ""));
    assert_eq!(s.password_change(), PasswordChange::Internal);
    assert!(s.password_change().saves());
    assert_eq!(s.externpasscheck.value, None);

    let parsed = conf("externpass=/usr/bin/pw", "");
    assert!(parsed.diagnostics.is_empty());
    let s = phone(&parsed);
    assert_eq!(
        s.password_change(),
        PasswordChange::External("/usr/bin/pw".into())
    );
    assert!(!s.password_change().saves());
    assert_eq!(s.password_change().command(), Some("/usr/bin/pw"));
    assert!(at_general(&s.externpass.origin));

    let s = phone(&conf("externpassnotify=/usr/bin/pw", ""));
    let change = s.password_change();
    assert_eq!(
        change,
        PasswordChange::InternalAndExternal("/usr/bin/pw".into())
    );
    assert!(change.saves());

    // Both: Asterisk reads only externpass.
    let parsed = conf("externpass=/a\nexternpassnotify=/b", "");
    let (line, _, message) = only_diagnostic(&parsed, Severity::Warning);
    assert_eq!(line, 3);
    assert!(message.contains("externpassnotify is ignored"), "{message}");
    assert_eq!(
        phone(&parsed).password_change(),
        PasswordChange::External("/a".into())
    );

    // Empty: nothing is saved and nothing runs.
    let parsed = conf("externpass=", "");
    let (_, _, message) = only_diagnostic(&parsed, Severity::Warning);
    assert!(message.contains("saves no new PIN"), "{message}");
    let change = phone(&parsed).password_change();
    assert_eq!((change.saves(), change.command()), (false, None));

    let s = phone(&conf("externpasscheck=/usr/local/bin/check", ""));
    assert_eq!(
        s.externpasscheck.value.as_deref(),
        Some("/usr/local/bin/check")
    );

    // General only.
    let parsed = conf("", "externpass=/x");
    let (_, _, message) = only_diagnostic(&parsed, Severity::Warning);
    assert!(
        message.contains("can only be set in [general]"),
        "{message}"
    );
}

type Text = fn(&PhoneSettings) -> &Setting<String>;

/// (option, Asterisk's default, the effective value)
const PROMPTS: &[(&str, &str, Text)] = &[
    ("vm-login", "vm-login", |p| &p.vm_login),
    ("vm-newuser", "vm-newuser", |p| &p.vm_newuser),
    ("vm-password", "vm-password", |p| &p.vm_password),
    ("vm-newpassword", "vm-newpassword", |p| &p.vm_newpassword),
    ("vm-passchanged", "vm-passchanged", |p| &p.vm_passchanged),
    ("vm-reenterpassword", "vm-reenterpassword", |p| {
        &p.vm_reenterpassword
    }),
    ("vm-mismatch", "vm-mismatch", |p| &p.vm_mismatch),
    ("vm-invalid-password", "vm-invalid-password", |p| {
        &p.vm_invalid_password
    }),
    ("vm-pls-try-again", "vm-pls-try-again", |p| {
        &p.vm_pls_try_again
    }),
    ("vm-prepend-timeout", "vm-then-pound", |p| {
        &p.vm_prepend_timeout
    }),
];

/// A `[general]`-only text option: its default, a value in `[general]` with its origin, and
/// `value` on a mailbox line ignored with a warning.
fn general_text_option(name: &str, default: &str, get: Text, value: &str) {
    default_then_general(name, get, default.to_string(), value, value.to_string());
    let parsed = conf("", &format!("{name}={value}"));
    let (_, _, message) = only_diagnostic(&parsed, Severity::Warning);
    assert!(
        message.contains("can only be set in [general]"),
        "{name}: {message}"
    );
    assert_eq!(get(&phone(&parsed)).value, default, "{name}");
}

#[test]
fn prompt_overrides() {
    for &(name, default, get) in PROMPTS {
        general_text_option(name, default, get, &format!("custom/{name}"));
        let parsed = conf(&format!("{name}="), "");
        let (_, _, message) = only_diagnostic(&parsed, Severity::Warning);
        assert!(message.contains("is empty"), "{name}: {message}");
    }
}

const KEYS: &[(&str, &str, Text)] = &[
    ("listen-control-forward-key", "#", |p| {
        &p.listen_control_forward_key
    }),
    ("listen-control-reverse-key", "*", |p| {
        &p.listen_control_reverse_key
    }),
    ("listen-control-pause-key", "0", |p| {
        &p.listen_control_pause_key
    }),
    ("listen-control-restart-key", "2", |p| {
        &p.listen_control_restart_key
    }),
    ("listen-control-stop-key", "13456789", |p| {
        &p.listen_control_stop_key
    }),
];

#[test]
fn listen_control_keys() {
    for &(name, default, get) in KEYS {
        general_text_option(name, default, get, "9#");
        // is_valid_dtmf() refuses A-D and anything else: Asterisk keeps the default.
        let parsed = conf(&format!("{name}=1A"), "");
        let (line, column, message) = only_diagnostic(&parsed, Severity::Warning);
        assert_eq!((line, column as usize), (2, name.len() + 2));
        assert!(message.contains("'A' is not a DTMF key"), "{message}");
        assert_eq!(get(&phone(&parsed)).value, default);
        let parsed = conf(&format!("{name}="), "");
        let (_, _, message) = only_diagnostic(&parsed, Severity::Warning);
        assert!(message.contains("no key"), "{message}");
        assert_eq!(get(&phone(&parsed)).value, "");
    }
}

#[test]
fn language_and_hidefromdir_are_mailbox_options() {
    let s = phone(&conf("", ""));
    assert_eq!(
        (s.language.value.clone(), s.hidefromdir.value),
        (None, false)
    );
    let parsed = conf("", "language=de|hidefromdir=yes");
    assert!(parsed.diagnostics.is_empty(), "{:#?}", parsed.diagnostics);
    let s = phone(&parsed);
    assert_eq!(s.language.value.as_deref(), Some("de"));
    assert!(s.hidefromdir.value);
    assert!(at_mailbox(&s.language.origin) && at_mailbox(&s.hidefromdir.origin));
    // Directory() looks for the text `hidefromdir=yes`: other true words do not hide.
    let parsed = conf("", "hidefromdir=true");
    let (_, _, message) = only_diagnostic(&parsed, Severity::Warning);
    assert!(message.contains("only for `hidefromdir=yes`"), "{message}");
    assert!(!phone(&parsed).hidefromdir.value);
    assert!(phone(&conf("", "hidefromdir=YES")).hidefromdir.value);
    let parsed = conf("", "hidefromdir=perhaps");
    only_diagnostic(&parsed, Severity::Error);
    // Asterisk ignores both in [general].
    for name in ["language", "hidefromdir"] {
        let parsed = conf(&format!("{name}=yes"), "");
        let (_, _, message) = only_diagnostic(&parsed, Severity::Warning);
        assert!(message.contains("is a mailbox option"), "{name}: {message}");
    }
}

#[test]
fn options_option_applies_its_value_as_an_option() {
    // apply_option("options", "review=yes") calls apply_options("review=yes").
    let parsed = conf("", "options=review=yes|options=operator");
    let w = warnings(&parsed);
    assert_eq!(w.len(), 1, "{w:#?}");
    assert!(w[0].message.contains("options=operator has no '='"));
    let s = phone(&parsed);
    assert!(s.review.value);
    let at = match &s.review.origin {
        Origin::Mailbox(at) => at.clone(),
        other => panic!("{other:?}"),
    };
    // `1 => 1,A,,,imapuser=u|options=review=yes`: the value `yes` is at column 38.
    assert_eq!((at.line, at.column), (4, 38));
    assert!(parsed.config.mailboxes[0].options.menu.is_empty());
}

#[test]
fn untyped_mailbox_options_stay_in_menu() {
    let parsed = conf("", "attachextrecs=yes|backupdeleted=10|review=yes");
    assert!(parsed.diagnostics.is_empty(), "{:#?}", parsed.diagnostics);
    let menu = &parsed.config.mailboxes[0].options.menu;
    let keys: Vec<&str> = menu.keys().map(String::as_str).collect();
    assert_eq!(keys, ["attachextrecs", "backupdeleted"]);
    assert_eq!(parsed.config.mailboxes[0].options.phone.review, Some(true));
    assert!(
        parsed.config.mailboxes[0].options.unknown.is_empty(),
        "typed and untyped known options are not unknown"
    );
}

#[test]
fn config_show_rows_list_every_phone_option_with_its_origin() {
    let parsed = conf("review=yes\nvm-login=custom", "operator=yes");
    let rows = settings(&parsed).rows();
    let names: Vec<&str> = rows.iter().map(|r| r.option).collect();
    for name in FLAGS.iter().map(|f| f.0).chain(COUNTS.iter().map(|c| c.0)) {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    for name in PROMPTS.iter().chain(KEYS).map(|p| p.0).chain([
        "callback",
        "dialout",
        "exitcontext",
        "cidinternalcontexts",
        "passwordlocation",
        "volgain",
        "language",
        "hidefromdir",
        "externpass",
        "externpassnotify",
        "externpasscheck",
        "leaveurgent",
    ]) {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    let mut sorted = names.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), names.len(), "no option twice: {names:?}");
    let find = |n: &str| rows.iter().find(|r| r.option == n).expect(n);
    assert_eq!(find("review").value.as_deref(), Some("yes"));
    assert_eq!(find("review").origin.to_string(), "[general] v.conf:2:8");
    assert_eq!(find("operator").origin.to_string(), "mailbox v.conf:5:32");
    assert_eq!(find("vm-login").value.as_deref(), Some("custom"));
    assert_eq!(find("skipms").origin, Origin::Default);
    assert_eq!(
        find("passwordlocation").value.as_deref(),
        Some("voicemail.conf")
    );
    assert_eq!(find("callback").value, None);
}

#[test]
fn check_json_names_the_options_as_voicemail_conf_does() {
    let parsed = conf(
        "review=yes\nvm-login=custom\nlisten-control-stop-key=19",
        "saycid=yes",
    );
    let general = serde_json::to_value(&parsed.config.general).unwrap();
    assert_eq!(general["review"], true);
    assert_eq!(general["envelope"], true);
    assert_eq!(general["vm-login"], "custom");
    assert_eq!(general["listen-control-stop-key"], "19");
    assert_eq!(general["passwordlocation"], "voicemail.conf");
    assert_eq!(general["skipms"], 3000);
    assert_eq!(
        general["imapserver"], "localhost",
        "the IMAP options are still there"
    );
    let options = serde_json::to_value(&parsed.config.mailboxes[0].options).unwrap();
    assert_eq!(options["saycid"], true);
    assert!(options.get("review").is_none(), "not on the line");
    let change = serde_json::to_value(PasswordChange::External("/x".into())).unwrap();
    assert_eq!(
        change,
        serde_json::json!({"mode": "external", "command": "/x"})
    );
}

#[test]
fn render_writes_the_phone_options_back() {
    let parsed = conf(
        "review=yes\nenvelope=no\nskipms=1500\ncallback=fromvm\ncidinternalcontexts=a,b\n\
         passwordlocation=spooldir\nvolgain=1.25\nexternpassnotify=/bin/pw\nvm-login=hello\n\
         listen-control-pause-key=5",
        "operator=yes|exitcontext=|hidefromdir=yes|saydurationm=0|volgain=-1|leaveurgent=no",
    );
    assert!(parsed.diagnostics.is_empty(), "{:#?}", parsed.diagnostics);
    let text = parsed.config.render();
    let back = parse_bytes("rendered.conf", text.as_bytes());
    assert!(errors(&back).is_empty(), "{text}");
    assert_eq!(back.config.general, parsed.config.general, "{text}");
    assert_eq!(back.config.mailboxes, parsed.config.mailboxes, "{text}");
}

const SAMPLE: &[u8] = include_bytes!("fixtures/voicemail.conf.sample");

#[test]
fn asterisk_sample_phone_options() {
    let parsed = parse_bytes("voicemail.conf.sample", SAMPLE);
    assert!(errors(&parsed).is_empty(), "{:#?}", errors(&parsed));
    let p = &parsed.config.general.phone;
    // Uncommented lines 60, 64, 66 and 359 of the sample; the rest are Asterisk's defaults.
    assert_eq!((p.skipms, p.silencethreshold, p.maxlogins), (3000, 128, 3));
    assert!(p.sendvoicemail);
    assert!(p.envelope && p.sayduration && !p.review && !p.operator && !p.saycid);
    assert_eq!(p.passwordlocation, PasswordLocation::VoicemailConf);
    assert_eq!(p.vm_prepend_timeout, "vm-then-pound");
    let s = parsed
        .config
        .settings(&"1234@default".parse().unwrap())
        .unwrap()
        .phone;
    assert!(matches!(&s.sendvoicemail.origin, Origin::General(at) if at.line == 359));
    assert!(matches!(&s.silencethreshold.origin, Origin::General(at) if at.line == 64));
}

#[test]
fn asterisk_sample_example_mailbox_line_with_its_options() {
    // Line 535 of the sample, uncommented: every option on it is read, typed, without warnings.
    let text = String::from_utf8(SAMPLE.to_vec())
        .unwrap()
        .replace(";4069 => 6522", "4069 => 6522");
    let parsed = parse_bytes("voicemail.conf", text.as_bytes());
    assert!(errors(&parsed).is_empty(), "{:#?}", errors(&parsed));
    let w: Vec<_> = warnings(&parsed)
        .into_iter()
        .filter(|d| d.line == 535 && !d.message.contains("has no imapuser"))
        .collect();
    assert!(w.is_empty(), "{w:#?}");
    let s = parsed
        .config
        .settings(&"4069@default".parse().unwrap())
        .unwrap();
    let p = &s.phone;
    assert!(p.saycid.value && p.review.value && p.operator.value && p.envelope.value);
    assert!(p.moveheard.value && p.sayduration.value);
    assert_eq!(p.saydurationm.value, 1);
    assert_eq!(p.dialout.value.as_deref(), Some("fromvm"));
    assert_eq!(p.callback.value.as_deref(), Some("fromvm"));
    assert!(at_line(&p.review.origin, 535));
    assert_eq!(s.tz.value.as_deref(), Some("central"));
    assert!(s.attach.value);
}

fn at_line(origin: &Origin, line: u32) -> bool {
    matches!(origin, Origin::Mailbox(at) if at.line == line)
}

mod roundtrip {
    //! proptest: random telephone options, rendered and parsed, come back the same.

    use imapvm_config::{
        Config, General, Mailbox, MailboxId, MailboxOptions, PasswordLocation, Phone, PhoneOptions,
        Secret, VolGain, parse_bytes,
    };
    use proptest::prelude::*;

    fn context() -> impl Strategy<Value = Option<String>> {
        prop::option::of("[a-z][a-z0-9-]{0,10}")
    }

    fn location() -> impl Strategy<Value = PasswordLocation> {
        prop_oneof![
            Just(PasswordLocation::VoicemailConf),
            Just(PasswordLocation::Spooldir)
        ]
    }

    fn gain() -> impl Strategy<Value = VolGain> {
        (-400i32..400).prop_map(|g| VolGain(f64::from(g) / 8.0))
    }

    fn prompt() -> impl Strategy<Value = String> {
        "[a-z][a-z0-9/_-]{0,20}"
    }

    fn keys() -> impl Strategy<Value = String> {
        "[0-9*#]{1,4}"
    }

    fn phone() -> impl Strategy<Value = Phone> {
        (
            prop::array::uniform12(any::<bool>()),
            (0u32..20, 0u32..10_000, 1u32..10, 0u32..12, 0u32..2000),
            (context(), context(), context()),
            prop::collection::vec("[a-z][a-z0-9]{0,8}", 0..4),
            (location(), gain()),
            // externpass and externpassnotify together are a warning: at most one.
            (0u8..3, prompt(), prop::option::of(prompt())),
            prop::collection::vec(prompt(), 10),
            prop::collection::vec(keys(), 5),
        )
            .prop_map(|(f, n, c, cid, (loc, gain), ext, prompts, keys)| Phone {
                review: f[0],
                operator: f[1],
                saycid: f[2],
                envelope: f[3],
                sayduration: f[4],
                messagewrap: f[5],
                nextaftercmd: f[6],
                forcename: f[7],
                forcegreetings: f[8],
                tempgreetwarn: f[9],
                usedirectory: f[10],
                sendvoicemail: f[11],
                saydurationm: n.0,
                skipms: n.1,
                maxlogins: n.2,
                minpassword: n.3,
                silencethreshold: n.4,
                callback: c.0,
                dialout: c.1,
                exitcontext: c.2,
                cidinternalcontexts: cid,
                passwordlocation: loc,
                volgain: gain,
                externpass: Some(ext.1.clone()).filter(|_| ext.0 == 1),
                externpassnotify: Some(ext.1).filter(|_| ext.0 == 2),
                externpasscheck: ext.2,
                vm_login: prompts[0].clone(),
                vm_newuser: prompts[1].clone(),
                vm_password: prompts[2].clone(),
                vm_newpassword: prompts[3].clone(),
                vm_passchanged: prompts[4].clone(),
                vm_reenterpassword: prompts[5].clone(),
                vm_mismatch: prompts[6].clone(),
                vm_invalid_password: prompts[7].clone(),
                vm_pls_try_again: prompts[8].clone(),
                vm_prepend_timeout: prompts[9].clone(),
                listen_control_forward_key: keys[0].clone(),
                listen_control_reverse_key: keys[1].clone(),
                listen_control_pause_key: keys[2].clone(),
                listen_control_restart_key: keys[3].clone(),
                listen_control_stop_key: keys[4].clone(),
            })
    }

    fn flag() -> impl Strategy<Value = Option<bool>> {
        prop::option::of(any::<bool>())
    }

    fn phone_options() -> impl Strategy<Value = PhoneOptions> {
        (
            prop::array::uniform14(flag()),
            prop::option::of(0u32..20),
            (
                prop::option::of("[a-z0-9-]{0,8}"),
                prop::option::of("[a-z0-9-]{0,8}"),
                prop::option::of("[a-z0-9-]{0,8}"),
            ),
            prop::option::of(location()),
            prop::option::of(gain()),
        )
            .prop_map(
                |(f, saydurationm, c, passwordlocation, volgain)| PhoneOptions {
                    review: f[0],
                    operator: f[1],
                    saycid: f[2],
                    envelope: f[3],
                    sayduration: f[4],
                    messagewrap: f[5],
                    nextaftercmd: f[6],
                    forcename: f[7],
                    forcegreetings: f[8],
                    tempgreetwarn: f[9],
                    sendvoicemail: f[10],
                    moveheard: f[11],
                    leaveurgent: f[12],
                    hidefromdir: f[13],
                    saydurationm,
                    callback: c.0,
                    dialout: c.1,
                    exitcontext: c.2,
                    passwordlocation,
                    volgain,
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn render_then_parse_keeps_the_phone_options(
            phone in phone(),
            options in prop::collection::vec(phone_options(), 1..4),
        ) {
            let mailboxes = options
                .into_iter()
                .enumerate()
                .map(|(i, phone)| Mailbox {
                    id: MailboxId::new(&format!("{}", 100 + i), "default").unwrap(),
                    password: Secret::new("1234"),
                    fullname: "A".into(),
                    email: Vec::new(),
                    pager: String::new(),
                    options: MailboxOptions {
                        imapuser: Some(format!("u{i}")),
                        language: Some("de".into()),
                        phone,
                        ..MailboxOptions::default()
                    },
                })
                .collect();
            let config = Config {
                general: General { phone, ..General::default() },
                mailboxes,
                ..Config::default()
            };
            let text = config.render();
            let parsed = parse_bytes("rendered.conf", text.as_bytes());
            prop_assert!(parsed.diagnostics.is_empty(), "{:#?}\n{}", parsed.diagnostics, text);
            prop_assert_eq!(&parsed.config.general, &config.general, "{}", text);
            prop_assert_eq!(&parsed.config.mailboxes, &config.mailboxes, "{}", text);
        }
    }
}
