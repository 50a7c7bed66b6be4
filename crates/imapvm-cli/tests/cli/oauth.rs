//! `imapoauthcmd` through the binary: `imapvm -vv deposit` and `count` log in with the
//! token a script prints (OAUTHBEARER, against the private Dovecot's oauth2 passdb, whose
//! introspection endpoint this test process serves), and neither the `-vv` protocol trace
//! on stderr nor stdout holds the token; a failing command is one line on stderr naming
//! the command, exit status 1; `config show` names the command and where it was set.

use std::path::Path;
use std::process::{Command, Output};

use imapvm_harness::oauth::{Prints, TokenScript, tokens};
use serde_json::Value;
use xtask::dovecot::OAUTH_USER;

use crate::{scratch, stderr, stdout, wav};

/// A voicemail.conf whose box 1234@default is the OAuth user with `script`'s tokens.
fn conf(dir: &Path, script: &TokenScript) -> String {
    let s = imapvm_harness::server();
    let path = dir.join("voicemail.conf");
    std::fs::write(
        &path,
        format!(
            "[general]\nimapserver={}\nimapport={}\nimapflags=tls\nimapcafile={}\n\
             imapfolder={}\nformat=wav\n\
             [default]\n1234 => 1234,OAuth Box,,,imapuser={OAUTH_USER}|imapoauthcmd={}\n",
            s.host,
            s.port,
            s.cert.display(),
            imapvm_harness::unique("cli-oauth"),
            script.command(),
        ),
    )
    .unwrap();
    path.to_string_lossy().into_owned()
}

/// `imapvm ARGS` with `-vv` and no `RUST_LOG` from the environment: the full trace.
fn traced(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_imapvm"))
        .arg("-vv")
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run imapvm")
}

#[test]
fn deposit_and_count_log_in_with_the_token_and_the_trace_never_shows_it() {
    let tokens = tokens();
    let issued = vec![tokens.issue(OAUTH_USER), tokens.issue(OAUTH_USER)];
    let script = TokenScript::new("imapvm-cli-oauth", "trace", issued, Prints::Plain);
    let dir = scratch("oauth-trace");
    let c = conf(&dir, &script);
    let audio = dir.join("in.wav");
    std::fs::write(&audio, wav(800, 3)).unwrap();

    let deposit = traced(&[
        "-c",
        &c,
        "--json",
        "deposit",
        "1234@default",
        "--audio",
        &audio.to_string_lossy(),
    ]);
    assert!(deposit.status.success(), "{}", stderr(&deposit));
    let count = traced(&["-c", &c, "--json", "count", "1234@default"]);
    assert!(count.status.success(), "{}", stderr(&count));
    let counts: Value = serde_json::from_str(&stdout(&count)).unwrap();
    assert_eq!(counts["new"], 1, "{counts}");

    // Two processes, two runs: the cache lives in the process.
    assert_eq!(script.runs(), 2);
    for (out, token) in [
        (&deposit, &script.tokens()[0]),
        (&count, &script.tokens()[1]),
    ] {
        assert_eq!(tokens.calls(token), 1);
        let err = stderr(out);
        assert!(err.contains("AUTHENTICATE OAUTHBEARER ***"), "{err}");
        assert!(err.contains("logging in with an OAuth token"), "{err}");
        script.assert_absent(&format!("{err}\n{}", stdout(out)));
    }
}

#[test]
fn a_failing_token_command_is_one_line_naming_it_and_exit_1() {
    let tokens = tokens();
    let issued = vec![tokens.issue(OAUTH_USER)];
    let script = TokenScript::new("imapvm-cli-oauth", "fails", issued, Prints::TokenThenFails);
    let dir = scratch("oauth-fails");
    let c = conf(&dir, &script);

    let out = Command::new(env!("CARGO_BIN_EXE_imapvm"))
        .args(["-c", &c, "count", "1234@default"])
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!(
            "imapoauthcmd `{}`: exited with status 3",
            script.command()
        )),
        "{err}"
    );
    script.assert_absent(&err);
    assert_eq!(tokens.calls(&script.tokens()[0]), 0);

    let show = Command::new(env!("CARGO_BIN_EXE_imapvm"))
        .args(["-c", &c, "--json", "config", "show", "1234@default"])
        .output()
        .unwrap();
    assert!(show.status.success(), "{}", stderr(&show));
    let v: Value = serde_json::from_str(&stdout(&show)).unwrap();
    assert_eq!(v["imapoauthcmd"]["value"], script.command(), "{v}");
    assert!(
        v["imapoauthcmd"]["origin"]
            .as_str()
            .is_some_and(|o| o.starts_with("mailbox ")),
        "{v}"
    );
}
