//! `imapvm config check|show` (issue 4): exit codes, compiler-style
//! diagnostics, the JSON contract of docs/cli.md, and secrets shown as `***`.

use serde_json::Value;

use crate::{config_fixture, imapvm, scratch, stderr, stdout};

const CANARY: &str = "canary-imap-pw-93c1";

#[test]
fn check_of_asterisks_sample_succeeds_with_the_json_contract() {
    let sample = config_fixture("voicemail.conf.sample");
    let out = imapvm(&["-c", sample.to_str().unwrap(), "config", "check", "--json"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let doc: Value = serde_json::from_str(&stdout(&out)).expect("one JSON document");
    let diagnostics = doc["diagnostics"].as_array().expect("diagnostics");
    for d in diagnostics {
        for field in ["severity", "file", "line", "column", "message"] {
            assert!(d.get(field).is_some(), "diagnostic lacks {field}: {d}");
        }
        assert_ne!(d["severity"], "error", "the sample has no errors: {d}");
    }
    let mailboxes = doc["mailboxes"].as_array().expect("mailboxes");
    let alice = mailboxes
        .iter()
        .find(|m| m["id"] == "1234@default")
        .expect("1234@default");
    assert_eq!(alice["fullname"], "Example Mailbox");
    for field in [
        "email",
        "imapuser",
        "imapfolder",
        "imapvmshareid",
        "imapserver",
        "imapport",
        "imapflags",
        "tz",
        "options",
    ] {
        assert!(alice.get(field).is_some(), "mailbox lacks {field}: {alice}");
    }
    assert!(
        mailboxes.iter().any(|m| m["id"] == "1234@other"),
        "the [other] context's 1234"
    );
    assert!(doc["general"].is_object());
}

#[test]
fn errors_exit_1_and_print_like_a_compiler() {
    let dir = scratch("errors");
    let conf = dir.join("voicemail.conf");
    std::fs::write(
        &conf,
        "[general]\nimapflags = ssl/bogus-flag\nmaxmsg = lots\n\n[default]\n1234 => 1,A,,,imapuser=a\n1234 => 2,B,,,imapuser=b\n",
    )
    .unwrap();
    let out = imapvm(&["-c", conf.to_str().unwrap(), "config", "check"]);
    assert_eq!(out.status.code(), Some(1), "stdout: {}", stdout(&out));
    let text = stdout(&out);
    let path = conf.display().to_string();
    assert!(
        text.contains(&format!("{path}:2:")) && text.contains("error"),
        "bad imapflags at line 2: {text}"
    );
    assert!(
        text.contains(&format!("{path}:3:")),
        "bad number at line 3: {text}"
    );
    assert!(
        text.contains(&format!("{path}:7:")),
        "duplicate mailbox at line 7: {text}"
    );
    assert!(
        text.lines().last().unwrap_or("").contains("error(s)"),
        "summary last: {text}"
    );
}

#[test]
fn secrets_never_appear_in_check_or_show() {
    let dir = scratch("secrets");
    let conf = dir.join("voicemail.conf");
    std::fs::write(
        &conf,
        format!(
            "[general]\nimapserver = 127.0.0.1\nauthuser = vmmaster\nauthpassword = {CANARY}-master\n\n[default]\n1234 => {CANARY}-pin,Alice,,,imapuser=vm1234|imappassword={CANARY}\n"
        ),
    )
    .unwrap();
    let path = conf.to_str().unwrap();
    for args in [
        vec!["-c", path, "config", "check"],
        vec!["-c", path, "config", "check", "--json"],
        vec!["-c", path, "config", "show", "1234@default"],
        vec!["-c", path, "config", "show", "1234@default", "--json"],
    ] {
        let out = imapvm(&args);
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert!(!all.contains(CANARY), "{args:?} leaked a secret:\n{all}");
    }
    let out = imapvm(&["-c", path, "config", "check", "--json"]);
    assert!(
        stdout(&out).contains("***"),
        "secrets are shown as ***: {}",
        stdout(&out)
    );
}

#[test]
fn show_gives_each_value_with_its_origin() {
    let dir = scratch("show");
    let conf = dir.join("voicemail.conf");
    std::fs::write(
        &conf,
        "[general]\nimapfolder = Voicemail\nimapport = 993\n\n[default]\n1234 => 1,Alice,,,imapuser=vm1234|imapport=10143\n",
    )
    .unwrap();
    let out = imapvm(&[
        "-c",
        conf.to_str().unwrap(),
        "config",
        "show",
        "1234@default",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let doc: Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(doc["imapuser"]["value"], "vm1234");
    assert_eq!(
        doc["imapport"]["value"], "10143",
        "the mailbox overrides [general]: {doc}"
    );
    let port_origin = doc["imapport"]["origin"].as_str().unwrap();
    assert!(
        port_origin.contains(":6"),
        "from the mailbox line (line 6): {port_origin}"
    );
    let folder_origin = doc["imapfolder"]["origin"].as_str().unwrap();
    assert!(
        folder_origin.contains(":2"),
        "from [general] line 2: {folder_origin}"
    );
}

#[test]
fn unknown_mailbox_and_missing_file_fail_with_one_line() {
    let sample = config_fixture("voicemail.conf.sample");
    let out = imapvm(&[
        "-c",
        sample.to_str().unwrap(),
        "config",
        "show",
        "9999@nowhere",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out).trim().lines().count(), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("9999@nowhere"));

    let out = imapvm(&["-c", "/nonexistent/voicemail.conf", "config", "check"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out).trim().lines().count(), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("/nonexistent/voicemail.conf"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn usage_errors_exit_2() {
    let out = imapvm(&["config", "frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    let out = imapvm(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).starts_with("imapvm "));
}
