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

/// voicemail.conf with the legacy `[imapvm]` section (lines 4 to 6).
const LEGACY: &str = "[general]\nimapserver = imap.example\n\n[imapvm]\n\
ami = 127.0.0.1:5038,imapvm,ami-s3cret,refresh\n\
webhook = http://127.0.0.1:8080/old\n\
\n[default]\n1234 => 4242,Alice,,,imapuser=alice\n";

#[test]
fn check_validates_imapvm_conf_too_and_says_where_the_legacy_lines_go() {
    let dir = scratch("check-imapvm-conf");
    let conf = dir.join("voicemail.conf");
    std::fs::write(&conf, LEGACY).unwrap();
    let imapvm_conf = dir.join("imapvm.conf");
    std::fs::write(
        &imapvm_conf,
        "[general]\nwebhook = http://127.0.0.1:8080/new\nagi_allow = everyone\n\
         webhook_secret = hook-s3cret\nmetrics = 127.0.0.1:9090\n",
    )
    .unwrap();
    let out = imapvm(&["-c", conf.to_str().unwrap(), "config", "check"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    let vm = conf.display().to_string();
    let im = imapvm_conf.display().to_string();
    // imapvm.conf's bad value, compiler style.
    assert!(
        text.contains(&format!("{im}:3:13: error: agi_allow: `everyone`")),
        "{text}"
    );
    // The legacy section: what to move where, and the line imapvm.conf overrides.
    assert!(
        text.contains(&format!(
            "{vm}:4:1: warning: [imapvm] in voicemail.conf is read for compatibility: move line 5 `ami` to the [general] section of {im}; delete line 6 `webhook`"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "{vm}:6:1: warning: `webhook` here is ignored: {im}:2 sets `webhook`"
        )),
        "{text}"
    );
    assert!(
        text.lines()
            .last()
            .unwrap_or_default()
            .starts_with(&format!("{vm} and {im}: 1 error(s), 2 warning(s);")),
        "{text}"
    );
    for secret in ["ami-s3cret", "hook-s3cret"] {
        assert!(!text.contains(secret), "{text}");
    }
    // --json names the imapvm.conf read.
    let out = imapvm(&["-c", conf.to_str().unwrap(), "--json", "config", "check"]);
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["imapvm_conf"], im.as_str());
    let files: Vec<&str> = doc["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["file"].as_str().unwrap())
        .collect();
    assert!(
        files.contains(&vm.as_str()) && files.contains(&im.as_str()),
        "{files:?}"
    );

    // Fixed, the files check clean; the legacy section alone is a warning, not an error.
    std::fs::write(&imapvm_conf, "[general]\nmetrics = 127.0.0.1:9090\n").unwrap();
    let out = imapvm(&["-c", conf.to_str().unwrap(), "config", "check"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_explicit_imapvm_conf_fails_a_missing_default_one_does_not() {
    let dir = scratch("imapvm-conf-missing");
    let conf = dir.join("voicemail.conf");
    std::fs::write(&conf, "[default]\n1234 => 4242,Alice,,,imapuser=alice\n").unwrap();
    let conf = conf.to_str().unwrap();
    let out = imapvm(&["-c", conf, "config", "check"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let beside = dir.join("imapvm.conf").display().to_string();
    assert!(
        stdout(&out).contains(&format!("{beside}: not present; imapvm's defaults apply")),
        "{}",
        stdout(&out)
    );
    let out = imapvm(&["-c", conf, "--json", "config", "check"]);
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(doc["imapvm_conf"].is_null(), "{doc}");

    let typo = dir.join("imapvm-typo.conf").display().to_string();
    let out = imapvm(&["-c", conf, "--imapvm-conf", &typo, "config", "check"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(&format!("cannot read {typo}")), "{err}");
    // The runtime's subcommands refuse it the same way.
    let out = imapvm(&["-c", conf, "--imapvm-conf", &typo, "count", "1234@default"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(&typo), "{}", stderr(&out));

    // An explicit file elsewhere is read instead of the one beside voicemail.conf.
    let elsewhere = dir.join("elsewhere.conf");
    std::fs::write(&elsewhere, "[general]\nmetrics = nowhere\n").unwrap();
    std::fs::write(dir.join("imapvm.conf"), "[general]\n").unwrap();
    let out = imapvm(&[
        "-c",
        conf,
        "--imapvm-conf",
        elsewhere.to_str().unwrap(),
        "config",
        "check",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains(&format!("{}:2:11: error: metrics:", elsewhere.display())),
        "{}",
        stdout(&out)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
