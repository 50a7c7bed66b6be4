//! TLS and login security: certificates for the wrong host, expired, or self-signed and not
//! in the CA file are refused unless `novalidate-cert`; a proxy that strips STARTTLS cannot
//! downgrade a `tls` account; nothing secret crosses the wire before TLS; `LOGINDISABLED`
//! is honoured.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use imapvm::{Error, Store};
use imapvm_harness::pki::Pki;

use crate::support::fault_proxy::FaultProxy;
use crate::support::hostile::{self, Nasty};
use crate::{pw, server, store_for, unique};

fn tls_store(name: &str, port: u16, flags: &str, ca: &Path) -> Store {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(unique(name));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("voicemail.conf");
    std::fs::write(
        &conf,
        format!(
            "[general]\nimapserver=127.0.0.1\nimapport={port}\nimapflags={flags}\nimapcafile={}\n\
             imapopentimeout=3\nimapreadtimeout=3\n[default]\n\
             1234 => 1234,Alice,,,imapuser=vm1234|imappassword=tls-canary-pw\n",
            ca.display()
        ),
    )
    .unwrap();
    Store::open(&conf).unwrap()
}

/// Connects with verification, then with `novalidate-cert`: (refusal, accepted count).
async fn refused_then_accepted(name: &str, config: Arc<rustls::ServerConfig>, ca: &Path) -> Error {
    let server = hostile::start_tls(config).await;
    let store = tls_store(name, server.port(), "ssl", ca);
    let err = store
        .mailbox("1234@default")
        .unwrap()
        .count()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Tls { .. }), "{name}: {err}");
    assert!(
        !server.seen.any("AUTHENTICATE") && !server.seen.any("LOGIN"),
        "{name}: a credential was sent: {:?}",
        server.seen.lines()
    );
    let store = tls_store(name, server.port(), "ssl/novalidate-cert", ca);
    let counts = store.mailbox("1234@default").unwrap().count().await;
    assert!(counts.is_ok(), "{name} with novalidate-cert: {counts:?}");
    store.close().await;
    err
}

#[tokio::test]
async fn a_certificate_for_another_host_is_refused_unless_novalidate_cert() {
    let pki = Pki::new("wronghost");
    let err = refused_then_accepted(
        "wronghost",
        pki.signed(&["mail.other.example.test"], false),
        &pki.ca_file(),
    )
    .await;
    assert!(err.to_string().to_lowercase().contains("name"), "{err}");
}

#[tokio::test]
async fn an_expired_certificate_is_refused_unless_novalidate_cert() {
    let pki = Pki::new("expired");
    let err = refused_then_accepted(
        "expired",
        pki.signed(&["127.0.0.1", "localhost"], true),
        &pki.ca_file(),
    )
    .await;
    assert!(err.to_string().to_lowercase().contains("expired"), "{err}");
}

#[tokio::test]
async fn a_self_signed_certificate_not_in_the_ca_file_is_refused_unless_novalidate_cert() {
    let pki = Pki::new("selfsigned");
    let err = refused_then_accepted(
        "selfsigned",
        Pki::self_signed(&["127.0.0.1", "localhost"]),
        &pki.ca_file(),
    )
    .await;
    assert!(err.to_string().to_lowercase().contains("issuer"), "{err}");
}

#[tokio::test]
async fn a_correct_certificate_is_accepted() {
    // The control: the same harness with a good leaf connects with verification on.
    let pki = Pki::new("good");
    let server = hostile::start_tls(pki.signed(&["127.0.0.1", "localhost"], false)).await;
    let store = tls_store("good", server.port(), "ssl", &pki.ca_file());
    let counts = store
        .mailbox("1234@default")
        .unwrap()
        .count()
        .await
        .unwrap();
    assert_eq!(counts.new, 3);
    store.close().await;
}

fn dovecot_box() -> String {
    format!(
        "[default]\n1234 => 1234,Alice,,,imapuser=vm1234|imappassword={}\n",
        pw("vm1234")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripping_starttls_cannot_downgrade_a_tls_account() {
    let s = server();
    let proxy = FaultProxy::start(&s.host, s.port).await;
    proxy.strip_starttls();
    proxy.record();
    let store = store_for(
        "strip",
        "127.0.0.1",
        proxy.port,
        &format!("imapfolder={}", unique("strip")),
        &dovecot_box(),
    );
    let err = store
        .mailbox("1234@default")
        .unwrap()
        .count()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Insecure { .. }), "{err}");
    assert!(err.to_string().contains("STARTTLS"), "{err}");
    let sent = String::from_utf8_lossy(&proxy.sent_by_client()).into_owned();
    assert!(
        !sent.contains("AUTHENTICATE") && !sent.contains("LOGIN"),
        "{sent}"
    );
    assert!(
        !sent.contains(&pw("vm1234")),
        "the password crossed in clear"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_secret_is_sent_before_tls() {
    let s = server();
    let proxy = FaultProxy::start(&s.host, s.port).await;
    proxy.record();
    let store = store_for(
        "beforetls",
        "127.0.0.1",
        proxy.port,
        &format!("imapfolder={}", unique("beforetls")),
        &dovecot_box(),
    );
    store
        .mailbox("1234@default")
        .unwrap()
        .count()
        .await
        .unwrap();
    store.close().await;
    let sent = proxy.sent_by_client();
    // Everything up to the STARTTLS command is clear text; after it, only TLS records.
    let text = String::from_utf8_lossy(&sent);
    let starttls = text.find("STARTTLS\r\n").expect("STARTTLS was sent");
    let clear = &text[..starttls];
    assert!(
        !clear.contains("AUTHENTICATE") && !clear.contains("LOGIN"),
        "{clear}"
    );
    let after = &sent[starttls + "STARTTLS\r\n".len()..];
    assert_eq!(
        after.first(),
        Some(&0x16),
        "a TLS handshake record follows STARTTLS"
    );
    let password = pw("vm1234");
    assert!(
        !sent
            .windows(password.len())
            .any(|w| w == password.as_bytes()),
        "the password is visible on the wire"
    );
}

#[tokio::test]
async fn logindisabled_is_honoured() {
    let server = hostile::start(Nasty::LoginDisabled).await;
    let port = server.port();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(unique("logindisabled"));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("voicemail.conf");
    std::fs::write(
        &conf,
        format!(
            "[general]\nimapserver=127.0.0.1\nimapport={port}\nimapflags=notls\nimapopentimeout=3\n\
             imapreadtimeout=3\n[default]\n1234 => 1234,Alice,,,imapuser=vm1234|imappassword=pw\n"
        ),
    )
    .unwrap();
    let store = Store::open(&conf).unwrap();
    let err = store
        .mailbox("1234@default")
        .unwrap()
        .count()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Insecure { .. }), "{err}");
    assert!(err.to_string().contains("LOGINDISABLED"), "{err}");
    assert!(
        !server
            .seen
            .lines()
            .iter()
            .any(|l| l.to_ascii_uppercase().contains("LOGIN ")),
        "{:?}",
        server.seen.lines()
    );
}
