//! Changing a PIN: golden before/after files (only the password field changes), the refusals,
//! the spool's secret.conf, and a proptest that no other byte moves.

use std::path::{Path, PathBuf};

use imapvm_config::{
    MailboxId, MemoryFiles, Origin, PasswordError, PasswordLocation, PinError, PinPolicyError,
    Secret, change_password, change_password_bytes, check_new_pin, is_locked, parse_bytes,
    read_secret_conf, render_secret_conf, secret_conf_path,
};
use proptest::prelude::*;

const PIN: &str = "86753";

fn id(s: &str) -> MailboxId {
    s.parse().expect("an id")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/password")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Changes the PIN of `mailbox` in `before` and compares with the golden `after` file.
fn golden(before: &str, mailbox: &str, after: &str) {
    let old = fixture(before);
    let new = change_password_bytes("voicemail.conf", &old, &id(mailbox), &Secret::new(PIN))
        .unwrap_or_else(|e| panic!("{before} {mailbox}: {e}"));
    assert_eq!(
        text(&new),
        text(&fixture(after)),
        "{before} {mailbox} → {after}"
    );
    // The same with CRLF line ends: CRLF stays CRLF.
    let crlf = |b: &[u8]| text(b).replace('\n', "\r\n").into_bytes();
    let new = change_password_bytes(
        "voicemail.conf",
        &crlf(&old),
        &id(mailbox),
        &Secret::new(PIN),
    )
    .unwrap_or_else(|e| panic!("{before} {mailbox} (CRLF): {e}"));
    assert_eq!(
        text(&new),
        text(&crlf(&fixture(after))),
        "{before} {mailbox} (CRLF)"
    );
    // Read back: the PIN changed, nothing else.
    let parsed = parse_bytes("voicemail.conf", &new);
    let mailbox = parsed.config.mailbox(&id(mailbox)).expect("still there");
    assert_eq!(mailbox.password.expose(), PIN);
}

#[test]
fn golden_comments_tabs_forms_and_contexts_with_the_same_box() {
    golden(
        "comments.before.conf",
        "1234@other",
        "comments.other-1234.after.conf",
    );
    golden(
        "comments.before.conf",
        "1235@default",
        "comments.default-1235.after.conf",
    );
    golden(
        "comments.before.conf",
        "1236@default",
        "comments.default-1236.after.conf",
    );
    golden(
        "comments.before.conf",
        "1237@other",
        "comments.other-1237.after.conf",
    );
    golden(
        "comments.before.conf",
        "1238@other",
        "comments.other-1238.after.conf",
    );
}

#[test]
fn the_same_box_in_another_context_is_not_touched() {
    let old = fixture("comments.before.conf");
    let new = change_password_bytes("v.conf", &old, &id("1234@other"), &Secret::new(PIN)).unwrap();
    let parsed = parse_bytes("v.conf", &new);
    let default = parsed.config.mailbox(&id("1234@default")).unwrap();
    assert_eq!(default.password.expose(), "4242");
    // Names are compared without regard to case, as Asterisk does.
    let again =
        change_password_bytes("v.conf", &old, &id("1234@OTHER"), &Secret::new(PIN)).unwrap();
    assert_eq!(again, new);
}

#[test]
fn golden_templates_and_additions() {
    golden(
        "templates.before.conf",
        "1234@default",
        "templates.default-1234.after.conf",
    );
    golden(
        "templates.before.conf",
        "2001@sales",
        "templates.sales-2001.after.conf",
    );
    golden(
        "templates.before.conf",
        "1240@default",
        "templates.default-1240.after.conf",
    );
}

#[test]
fn a_mailbox_inherited_from_a_template_is_refused() {
    let old = fixture("templates.before.conf");
    let err =
        change_password_bytes("v.conf", &old, &id("1234@sales"), &Secret::new(PIN)).unwrap_err();
    match &err {
        PasswordError::Inherited { id, at } => {
            assert_eq!(id.to_string(), "1234@sales");
            assert_eq!(
                (at.file.as_str(), at.line),
                ("v.conf", 6),
                "the template's line"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("template"), "{err}");
}

#[test]
fn golden_include_names_the_included_file() {
    let files = MemoryFiles::new()
        .with("/etc/asterisk/voicemail.conf", fixture("include-main.conf"))
        .with(
            "/etc/asterisk/users.conf",
            fixture("include-users.before.conf"),
        );
    let main = Path::new("/etc/asterisk/voicemail.conf");
    let edit = change_password(&files, main, &id("1234@default"), &Secret::new(PIN)).unwrap();
    assert_eq!(edit.file, PathBuf::from("/etc/asterisk/users.conf"));
    assert_eq!(
        (edit.line.file.as_str(), edit.line.line),
        ("/etc/asterisk/users.conf", 3)
    );
    assert_eq!(
        text(&edit.bytes),
        text(&fixture("include-users.after.conf"))
    );
    assert!(!format!("{edit:?}").contains(PIN), "Debug hides the bytes");
    // A box in the top-level file: the top-level file is edited.
    let edit = change_password(&files, main, &id("1234@other"), &Secret::new(PIN)).unwrap();
    assert_eq!(edit.file, main);
    let expected = text(&fixture("include-main.conf"))
        .replace("=> 4242,Alice elsewhere", "=> 86753,Alice elsewhere");
    assert_eq!(text(&edit.bytes), expected);
    // The bytes of the top-level file alone cannot show the included box.
    let err = change_password_bytes(
        "voicemail.conf",
        &fixture("include-main.conf"),
        &id("1234@default"),
        &Secret::new(PIN),
    )
    .unwrap_err();
    assert!(matches!(err, PasswordError::NoMailbox { .. }), "{err:?}");
}

#[test]
fn refusals_are_typed_and_never_show_the_pin() {
    let conf = b"[default]\n1 => -4242,Locked,,,imapuser=a\n2 => 42\\;42,Escaped,,,imapuser=b\n\
                 3 => 42;-- c --;42,Block,,,imapuser=c\n4 => 4242,Fine,,,imapuser=d\n";
    let change = |mailbox: &str, pin: &str| {
        change_password_bytes("v.conf", conf, &id(mailbox), &Secret::new(pin))
    };
    match change("1@default", PIN) {
        Err(PasswordError::Locked { id, at }) => {
            assert_eq!(id.to_string(), "1@default");
            assert_eq!(at.line, 2);
        }
        other => panic!("{other:?}"),
    }
    for mailbox in ["2@default", "3@default"] {
        match change(mailbox, PIN) {
            Err(PasswordError::Unsafe { reason, .. }) => {
                assert!(reason.contains("comment, an escape"), "{mailbox}: {reason}")
            }
            other => panic!("{mailbox}: {other:?}"),
        }
    }
    assert!(matches!(
        change("9@default", PIN),
        Err(PasswordError::NoMailbox { .. })
    ));
    assert!(matches!(
        change("4@other", PIN),
        Err(PasswordError::NoMailbox { .. })
    ));
    for (pin, what) in [
        ("12,34", "a comma"),
        ("12\n34", "white space or a control character"),
        ("12\r", "white space or a control character"),
        ("12 34", "white space or a control character"),
        ("12;34", "a semicolon"),
        ("12\\34", "a backslash"),
        ("12é", "a non-ASCII character"),
    ] {
        let err = change("4@default", pin).unwrap_err();
        match &err {
            PasswordError::Pin(PinError::Forbidden { what: w }) => assert_eq!(*w, what, "{pin:?}"),
            other => panic!("{pin:?}: {other:?}"),
        }
        assert!(!err.to_string().contains(pin), "{err}");
    }
    let long = "1".repeat(80);
    assert!(matches!(
        change("4@default", &long),
        Err(PasswordError::Pin(PinError::TooLong { len: 80 }))
    ));
    // 79 characters and the empty PIN are fine (Asterisk allows an empty PIN with minpassword=0).
    let new = change("4@default", &"1".repeat(79)).unwrap();
    assert!(text(&new).contains(&format!("4 => {},Fine", "1".repeat(79))));
    let new = change("4@default", "").unwrap();
    assert!(text(&new).contains("\n4 => ,Fine,"), "{}", text(&new));
}

#[test]
fn plus_equals_continuations() {
    // The password is whole on the first line: it is edited there.
    let conf = b"[default]\n1 => 4242\n1 +=,Alice,,,imapuser=a\n";
    let new = change_password_bytes("v.conf", conf, &id("1@default"), &Secret::new(PIN)).unwrap();
    assert_eq!(
        text(&new),
        "[default]\n1 => 86753\n1 +=,Alice,,,imapuser=a\n"
    );
    // `+= ,Alice` appends " ,Alice" (the blank included): the password is `4242 ` and the
    // first line alone cannot hold the new one.
    let conf = b"[default]\n1 => 4242\n1 += ,Alice,,,imapuser=a\n";
    let err =
        change_password_bytes("v.conf", conf, &id("1@default"), &Secret::new(PIN)).unwrap_err();
    assert!(matches!(err, PasswordError::Unsafe { .. }), "{err:?}");
    // The password is split over two lines: refused.
    let conf = b"[default]\n1 => 42\n1 += 42,Alice,,,imapuser=a\n";
    let err =
        change_password_bytes("v.conf", conf, &id("1@default"), &Secret::new(PIN)).unwrap_err();
    assert!(matches!(err, PasswordError::Unsafe { .. }), "{err:?}");
}

#[test]
fn a_missing_top_level_file_is_an_error() {
    let err = change_password(
        &MemoryFiles::new(),
        Path::new("/nowhere.conf"),
        &id("1@default"),
        &Secret::new(PIN),
    )
    .unwrap_err();
    assert!(matches!(err, PasswordError::Config(_)), "{err:?}");
}

#[test]
fn check_new_pin_is_asterisks_check_password() {
    assert_eq!(check_new_pin(&Secret::new(""), 0), Ok(()));
    assert_eq!(check_new_pin(&Secret::new("1234"), 4), Ok(()));
    assert_eq!(
        check_new_pin(&Secret::new("123"), 4),
        Err(PinPolicyError::TooShort { len: 3, min: 4 })
    );
    assert_eq!(
        check_new_pin(&Secret::new("*123"), 0),
        Err(PinPolicyError::StartsWithStar)
    );
    assert!(is_locked(&Secret::new("-1234")));
    assert!(!is_locked(&Secret::new("1234")));
}

#[test]
fn secret_conf_read_render_and_path() {
    let written = render_secret_conf(&Secret::new("2468")).unwrap();
    assert_eq!(
        text(&written),
        ";!\n;! Automatically generated configuration file\n;! Filename: secret.conf\n;! Generator: imapvm\n;!\n[general]\npassword = 2468\n"
    );
    let read = read_secret_conf("secret.conf", &written).unwrap();
    assert_eq!(read.value.expose(), "2468");
    assert_eq!(read.origin.to_string(), "secret.conf secret.conf:7:12");
    assert!(matches!(read.origin, Origin::SecretConf(_)));
    assert!(matches!(
        render_secret_conf(&Secret::new("1\n[x]")),
        Err(PinError::Forbidden { .. })
    ));

    // As Asterisk reads it: the first [general], its first `password` in any case.
    let read =
        |t: &str| read_secret_conf("s.conf", t.as_bytes()).map(|s| s.value.expose().to_string());
    assert_eq!(
        read("[general]\r\nPassword = 11 ; old\r\npassword=22\r\n").as_deref(),
        Some("11")
    );
    assert_eq!(
        read("[general]\n[general]\npassword=33\n"),
        None,
        "only the first [general]"
    );
    assert_eq!(
        read("[tpl](!)\npassword=1\n[general](tpl)\n").as_deref(),
        Some("1")
    );
    assert_eq!(read("[other]\npassword=44\n"), None);
    assert_eq!(read(""), None);
    assert_eq!(
        read(&format!("[general]\npassword={}\n", "5".repeat(100))).map(|p| p.len()),
        Some(79)
    );

    let spool = Path::new("/var/spool/asterisk");
    assert_eq!(
        secret_conf_path(spool, &id("1234@default")),
        Some(PathBuf::from(
            "/var/spool/asterisk/voicemail/default/1234/secret.conf"
        ))
    );
    for bad in [
        MailboxId::new("..", "default"),
        MailboxId::new("1", "a/b"),
        MailboxId::new("1", "."),
    ] {
        let bad = bad.unwrap();
        assert_eq!(secret_conf_path(spool, &bad), None, "{bad}");
    }
    // An empty box cannot even be named.
    assert!(MailboxId::new("", "x").is_err());
}

#[test]
fn the_effective_pin_comes_from_secret_conf_with_passwordlocation_spooldir() {
    let spool = read_secret_conf("secret.conf", b"[general]\npassword=9999\n");
    let conf = |general: &str| {
        let t = format!("[general]\n{general}\n[default]\n1 => 1111,A,,,imapuser=a\n");
        parse_bytes("v.conf", t.as_bytes())
            .config
            .settings(&id("1@default"))
            .unwrap()
    };
    let s = conf("passwordlocation=spooldir");
    assert_eq!(s.phone.passwordlocation.value, PasswordLocation::Spooldir);
    let pin = s.effective_password(spool.clone());
    assert_eq!(pin.value.expose(), "9999");
    assert!(matches!(pin.origin, Origin::SecretConf(_)));
    // No secret.conf (or none with a password): the mailbox line's PIN.
    assert_eq!(s.effective_password(None).value.expose(), "1111");
    // passwordlocation=voicemail.conf ignores secret.conf.
    let s = conf("");
    let pin = s.effective_password(spool);
    assert_eq!(pin.value.expose(), "1111");
    assert!(matches!(pin.origin, Origin::Mailbox(_)));
}

/// One mailbox line in a random but valid spelling.
fn mailbox_line() -> impl Strategy<Value = (String, String, String)> {
    (
        "[0-9]{1,4}",
        "[0-9]{0,6}",
        prop_oneof![
            Just(" => "),
            Just("=>"),
            Just(" = "),
            Just("\t=>\t"),
            Just("=")
        ],
        "[A-Za-z][A-Za-z ]{0,8}[a-z]",
        prop_oneof![
            Just(""),
            Just(",a@example.com,,imapuser=x|tz=eastern"),
            Just(",,,imapuser=y")
        ],
        prop_oneof![Just(""), Just("   ; a comment"), Just(" ;-- block --;")],
        any::<bool>(),
    )
        .prop_map(|(number, pin, sep, name, rest, comment, no_comma)| {
            let value = if no_comma && !pin.is_empty() {
                pin.clone()
            } else {
                format!("{pin},{name}{rest}")
            };
            let line = format!("{number}{sep}{value}{comment}");
            (number, pin, line)
        })
}

fn config_text() -> impl Strategy<Value = (String, Vec<(MailboxId, String)>)> {
    (
        prop::collection::vec(
            (
                prop_oneof![Just("default"), Just("sales"), Just("other")],
                prop::collection::vec(mailbox_line(), 1..5),
                prop_oneof![Just(""), Just("; between\n"), Just("\n\n")],
            ),
            1..4,
        ),
        any::<bool>(),
    )
        .prop_map(|(sections, crlf)| {
            let mut text = String::from("; random\n[general]\nimapserver = imap.example.com ; x\n");
            let mut boxes: Vec<(MailboxId, String)> = Vec::new();
            for (context, lines, filler) in sections {
                text.push_str(&format!("[{context}]\n"));
                for (number, pin, line) in lines {
                    let id = MailboxId::new(&number, context).expect("a valid box");
                    if boxes.iter().any(|(b, _)| *b == id) {
                        continue;
                    }
                    text.push_str(&line);
                    text.push('\n');
                    text.push_str(filler);
                    boxes.push((id, pin));
                }
            }
            if crlf {
                text = text.replace('\n', "\r\n");
            }
            (text, boxes)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Only the password field of the chosen mailbox changes: the new file is the old one
    /// with that one range replaced by the new PIN, and it reads back with only that PIN new.
    #[test]
    fn no_other_byte_changes(
        (text, boxes) in config_text(),
        pick in any::<prop::sample::Index>(),
        pin in "[0-9#*]{0,10}",
    ) {
        let (target, old_pin) = pick.get(&boxes).clone();
        let old = text.as_bytes();
        let new = change_password_bytes("v.conf", old, &target, &Secret::new(&pin))
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(new.len() + old_pin.len(), old.len() + pin.len());
        let replaced_at = (0..=old.len() - old_pin.len()).any(|k| {
            old[..k] == new[..k]
                && new[k..k + pin.len()] == *pin.as_bytes()
                && old[k + old_pin.len()..] == new[k + pin.len()..]
        });
        prop_assert!(replaced_at, "{}\n--\n{}", text, String::from_utf8_lossy(&new));
        let parsed = parse_bytes("v.conf", &new);
        for (id, pin_before) in &boxes {
            let m = parsed.config.mailbox(id).expect("every mailbox reads back");
            let expected = if id == &target { pin.as_str() } else { pin_before.as_str() };
            prop_assert_eq!(m.password.expose(), expected);
        }
    }
}
