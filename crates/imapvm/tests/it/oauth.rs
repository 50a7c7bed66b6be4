//! `imapoauthcmd` against the private Dovecot, whose oauth2 passdb asks the harness's token
//! introspection endpoint (`imapvm_harness::oauth`): logins by OAUTHBEARER and by XOAUTH2,
//! the token command run once for several logins, a refused or expired token replaced by
//! one more run, a failing command as a typed error, and the token in no log line, error or
//! `Debug` output. The command is a Python script the test writes into a scratch dir; it
//! prints the next of the tokens the test issued and notes each run.

use std::time::Duration;

use imapvm::{Error, Store, TokenCommandError};
use imapvm_harness::fault_proxy::FaultProxy;
use imapvm_harness::oauth::{Prints, TokenScript, Tokens, tokens};
use xtask::dovecot::OAUTH_USER;

use crate::support::{Capture, base64};
use crate::{py, q, server, store_for, unique, voicemail};

/// A store whose box 1234@default is [`OAUTH_USER`] logging in with `script`'s tokens, in a
/// fresh folder, on `port` of the main host (the STARTTLS listener unless `general` says
/// otherwise).
fn oauth_store(name: &str, port: u16, general: &str, script: &TokenScript) -> (Store, String) {
    let folder = unique(name);
    let store = store_for(
        name,
        &server().host,
        port,
        &format!("{general}\nimapfolder={folder}"),
        &format!(
            "[default]\n1234 => 1234,OAuth Box,,,imapuser={OAUTH_USER}|imapoauthcmd={}\n",
            script.command()
        ),
    );
    (store, folder)
}

/// Messages in `folder` of [`OAUTH_USER`], as an independent mail client sees them (it logs
/// in as the master user: the OAuth user's password is kept nowhere).
fn messages_seen_by_the_mail_client(folder: &str) -> u32 {
    py(&format!(
        "m = connect_master({})\nprint(sel(m, {}))",
        q(OAUTH_USER),
        q(folder)
    ))
    .trim()
    .parse()
    .unwrap()
}

fn assert_no_secret(script: &TokenScript, texts: &[String]) {
    script.assert_absent(&texts.join("\n"));
}

/// The token command of one test (in `target/tmp/imapvm-it-oauth/`).
fn token_script(name: &str, tokens: Vec<String>, prints: Prints) -> TokenScript {
    TokenScript::new("imapvm-it-oauth", name, tokens, prints)
}

fn issue(tokens: &Tokens, n: usize) -> Vec<String> {
    (0..n).map(|_| tokens.issue(OAUTH_USER)).collect()
}

/// OAUTHBEARER (Dovecot offers both; it is preferred): a count, a deposit and, after the
/// connection is closed, a second login — one run of the command, the token introspected
/// once per login, the message where the mail client sees it, and the token nowhere in the
/// trace-level log, the results or their `Debug`.
#[tokio::test]
async fn oauthbearer_login_counts_and_deposits_with_one_run_of_the_command() {
    let tokens = tokens();
    let script = token_script(
        "bearer",
        issue(tokens, 1),
        Prints::Json { expires_in: 3600 },
    );
    let (capture, guard) = Capture::trace();
    let (store, folder) = oauth_store("oauth-bearer", server().port, "", &script);
    let mb = store.mailbox("1234@default").unwrap();
    let mut texts = vec![
        format!("{mb:?} {:?}", mb.account()),
        format!("{:?}", mb.settings()),
    ];
    let before = mb.count().await.unwrap();
    assert_eq!(before.new, 0);
    let deposited = mb.deposit(&voicemail("5550101", 300)).await.unwrap();
    texts.push(format!("{deposited:?}"));
    store.close().await;
    let after = mb.count().await.unwrap();
    texts.push(format!("{after:?}"));
    assert_eq!(after.new, 1);
    store.close().await;
    drop(guard);

    assert_eq!(script.runs(), 1, "one run serves both logins");
    assert_eq!(tokens.calls(&script.tokens()[0]), 2, "one check per login");
    assert_eq!(messages_seen_by_the_mail_client(&folder), 1);
    let log = capture.text();
    assert_eq!(
        log.matches("AUTHENTICATE OAUTHBEARER ***").count(),
        2,
        "two logins, traced redacted"
    );
    assert!(!log.contains("AUTHENTICATE XOAUTH2"), "{log}");
    texts.push(log);
    assert_no_secret(&script, &texts);
}

/// A server that offers XOAUTH2 only (as Microsoft 365 does; the fault proxy hides
/// Dovecot's `AUTH=OAUTHBEARER`) gets XOAUTH2, with a token printed alone on a line.
#[tokio::test]
async fn xoauth2_when_the_server_offers_only_that() {
    let tokens = tokens();
    let s = server();
    let proxy = FaultProxy::start(&s.host, s.port).await;
    proxy.hide_capability("AUTH=OAUTHBEARER");
    proxy.record();
    let script = token_script("xoauth2", issue(tokens, 1), Prints::Plain);
    let (capture, guard) = Capture::trace();
    // Plain text to the loopback proxy (a token, like a password, may go in clear only to
    // loopback or with notls).
    let (store, folder) = oauth_store("oauth-xoauth2", proxy.port, "imapflags=notls", &script);
    let mb = store.mailbox("1234@default").unwrap();
    mb.deposit(&voicemail("5550102", 300)).await.unwrap();
    let counts = mb.count().await.unwrap();
    store.close().await;
    drop(guard);

    assert_eq!(counts.new, 1);
    assert_eq!(messages_seen_by_the_mail_client(&folder), 1);
    assert_eq!(script.runs(), 1);
    assert_eq!(tokens.calls(&script.tokens()[0]), 1);
    let sent = String::from_utf8_lossy(&proxy.sent_by_client()).into_owned();
    let wire_form = base64(
        format!(
            "user={OAUTH_USER}\x01auth=Bearer {}\x01\x01",
            script.tokens()[0]
        )
        .as_bytes(),
    );
    // The wire carries the form the secret checks look for (so they can fail).
    assert!(
        sent.contains(&format!(" AUTHENTICATE XOAUTH2 {wire_form}\r\n")),
        "{sent}"
    );
    assert!(!sent.contains("OAUTHBEARER"), "{sent}");
    let log = capture.text();
    assert!(log.contains("AUTHENTICATE XOAUTH2 ***"), "{log}");
    assert_no_secret(&script, &[log, format!("{counts:?}")]);
}

/// The identity provider revoked the cached token: the server refuses it (its error
/// challenge answered), the token is dropped, the command runs once more, the login is
/// retried once with the new token and the operation succeeds.
#[tokio::test]
async fn a_revoked_token_is_dropped_and_the_command_runs_once_more() {
    let tokens = tokens();
    let script = token_script(
        "revoked",
        issue(tokens, 2),
        Prints::Json { expires_in: 3600 },
    );
    let (capture, guard) = Capture::trace();
    let (store, _folder) = oauth_store("oauth-revoked", server().port, "", &script);
    let mb = store.mailbox("1234@default").unwrap();
    mb.count().await.unwrap();
    store.close().await;
    tokens.revoke(&script.tokens()[0]);
    let counts = mb.count().await.unwrap();
    store.close().await;
    drop(guard);

    assert_eq!(counts.new, 0);
    assert_eq!(
        script.runs(),
        2,
        "one more run after the refusal, and no more"
    );
    assert_eq!(
        tokens.calls(&script.tokens()[0]),
        2,
        "used, then refused once"
    );
    assert_eq!(tokens.calls(&script.tokens()[1]), 1);
    let log = capture.text();
    assert!(
        log.contains("the server refused the cached token"),
        "the retry is logged"
    );
    assert_no_secret(&script, &[log]);
}

/// A token whose `expires_in` has passed (less the minute of margin) is not offered again:
/// the command runs before the next login, and the server never sees the old token again.
#[tokio::test]
async fn an_expired_token_is_replaced_before_the_next_login() {
    let tokens = tokens();
    let script = token_script("expiry", issue(tokens, 2), Prints::Json { expires_in: 61 });
    let (store, _folder) = oauth_store("oauth-expiry", server().port, "", &script);
    let mb = store.mailbox("1234@default").unwrap();
    mb.count().await.unwrap();
    store.close().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    mb.count().await.unwrap();
    store.close().await;

    assert_eq!(script.runs(), 2);
    assert_eq!(tokens.calls(&script.tokens()[0]), 1);
    assert_eq!(tokens.calls(&script.tokens()[1]), 1);
}

/// A command that fails is an error naming the command and its exit status, never what it
/// printed (here: a valid token); no login is tried with its output.
#[tokio::test]
async fn a_failing_command_is_a_typed_error_naming_the_command_not_its_output() {
    let tokens = tokens();
    let script = token_script("fails", issue(tokens, 1), Prints::TokenThenFails);
    let (capture, guard) = Capture::trace();
    let (store, _folder) = oauth_store("oauth-fails", server().port, "", &script);
    let mb = store.mailbox("1234@default").unwrap();
    let err = mb.count().await.unwrap_err();
    drop(guard);

    let Error::TokenCommand {
        command, source, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(*command, script.command());
    assert!(
        matches!(source, TokenCommandError::Exit { code: Some(3) }),
        "{source:?}"
    );
    let text = err.to_string();
    assert!(text.contains(&script.command()), "{text}");
    assert!(text.contains("exited with status 3"), "{text}");
    assert_eq!(tokens.calls(&script.tokens()[0]), 0, "no login was tried");
    assert_no_secret(&script, &[text, format!("{err:?}"), capture.text()]);
}

/// A token the command has just printed and the server refuses is an error at once (no
/// second run: a fresh token that is refused is a configuration problem), carrying the
/// server's SASL error.
#[tokio::test]
async fn a_fresh_token_that_is_refused_is_an_error_without_another_run() {
    let script = token_script(
        "unknown",
        vec![format!("never_issued_{}", unique("t").replace('-', "_"))],
        Prints::Plain,
    );
    let (store, _folder) = oauth_store("oauth-unknown", server().port, "", &script);
    let mb = store.mailbox("1234@default").unwrap();
    let err = mb.count().await.unwrap_err();

    assert_eq!(script.runs(), 1);
    let Error::Auth { source, .. } = &err else {
        panic!("{err:?}")
    };
    let imapvm_proto::Error::Refused(refusal) = &**source else {
        panic!("{source:?}")
    };
    assert_eq!(
        refusal.sasl_error.as_ref().map(|e| e.0.clone()),
        Some(br#"{"status":"invalid_token"}"#.to_vec()),
        "{err}"
    );
    assert_no_secret(&script, &[err.to_string(), format!("{err:?}")]);
}
