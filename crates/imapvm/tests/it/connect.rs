//! Connecting: implicit TLS, STARTTLS, plain on loopback, certificate checks, proxy login,
//! failed logins and the back-off, one connection per account.

use imapvm::Error;

use crate::{pw, py, q, server, store_for, store_with, unique, voicemail};

fn box_line(user: &str) -> String {
    format!(
        "[default]\n1234 => 1234,Alice,,,imapuser={user}|imappassword={}\n",
        pw(user)
    )
}

#[tokio::test]
async fn implicit_tls_verifies_against_the_ca_file() {
    let s = server();
    let folder = unique("ssl");
    let store = store_for(
        "ssl",
        &s.host,
        s.imaps_port,
        &format!("imapflags=ssl\nimapfolder={folder}"),
        &box_line("vm1234"),
    );
    let mb = store.mailbox("1234@default").unwrap();
    let d = mb.deposit(&voicemail("5557001", 400)).await.unwrap();
    assert_eq!(d.counts.new, 1);
    store.close().await;
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused_unless_novalidate_cert() {
    let s = server();
    // The private CA is not in the system store; trust something else instead.
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(unique("otherca"));
    std::fs::create_dir_all(&dir).unwrap();
    let other_ca = dir.join("ca.pem");
    let leaf = std::fs::read_to_string(&s.leaf_cert).unwrap();
    // The leaf is not a CA: trusting it as an anchor does not validate the chain.
    std::fs::write(&other_ca, leaf).unwrap();
    let conf = dir.join("voicemail.conf");
    std::fs::write(
        &conf,
        format!(
            "[general]\nimapserver={}\nimapport={}\nimapflags=ssl\nimapcafile={}\nimapfolder={}\n{}",
            s.host,
            s.imaps_port,
            other_ca.display(),
            unique("untrusted"),
            box_line("vm1234")
        ),
    )
    .unwrap();
    let store = imapvm::Store::open(&conf).unwrap();
    let err = store
        .mailbox("1234@default")
        .unwrap()
        .count()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Tls { .. }), "{err}");

    std::fs::write(
        &conf,
        format!(
            "[general]\nimapserver={}\nimapport={}\nimapflags=ssl/novalidate-cert\nimapfolder={}\n{}",
            s.host,
            s.imaps_port,
            unique("novalidate"),
            box_line("vm1234")
        ),
    )
    .unwrap();
    let store = imapvm::Store::open(&conf).unwrap();
    let counts = store
        .mailbox("1234@default")
        .unwrap()
        .count()
        .await
        .unwrap();
    assert_eq!(counts, imapvm::MwiCounts::default());
    store.close().await;
}

#[tokio::test]
async fn notls_logs_in_in_clear_on_loopback_and_default_mode_uses_starttls() {
    let folder = unique("notls");
    let store = store_with(
        "notls",
        &format!("imapflags=notls\nimapfolder={folder}"),
        &box_line("vm4321"),
    );
    let mb = store.mailbox("1234@default").unwrap();
    mb.deposit(&voicemail("5557002", 300)).await.unwrap();
    assert_eq!(mb.count().await.unwrap().new, 1);
    store.close().await;
    // No imapflags at all: STARTTLS because the server offers it (the CA file verifies it).
    let store = store_with(
        "starttls-default",
        &format!("imapflags=\nimapfolder={folder}"),
        &box_line("vm4321"),
    );
    assert_eq!(
        store
            .mailbox("1234@default")
            .unwrap()
            .count()
            .await
            .unwrap()
            .new,
        1
    );
    store.close().await;
}

#[tokio::test]
async fn authuser_logs_in_as_the_master_on_behalf_of_imapuser() {
    let s = server();
    let master = s
        .master
        .clone()
        .expect("the private Dovecot has a master user");
    let folder = unique("proxy");
    let store = store_with(
        "proxy",
        &format!(
            "imapfolder={folder}\nauthuser={}\nauthpassword={}",
            master.user, master.password
        ),
        "[default]\n1234 => 1234,Alice,,,imapuser=vm1234\n",
    );
    let mb = store.mailbox("1234@default").unwrap();
    let d = mb.deposit(&voicemail("5557003", 300)).await.unwrap();
    // The message is in vm1234's own mailbox.
    let out = py(&format!(
        "m = connect('vm1234')\nsel(m, {f})\nprint(uids(m, 'ALL'))\n",
        f = q(&folder)
    ));
    assert_eq!(out.trim(), format!("[{}]", d.uid));
    store.close().await;
}

#[tokio::test]
async fn a_failed_login_is_an_auth_error_then_backs_off() {
    let store = store_with(
        "badpw",
        &format!("imapfolder={}", unique("badpw")),
        "[default]\n1234 => 1234,Alice,,,imapuser=vm1234|imappassword=wrong-password\n",
    );
    let mb = store.mailbox("1234@default").unwrap();
    let err = mb.count().await.unwrap_err();
    assert!(matches!(err, Error::Auth { .. }), "{err}");
    assert!(!err.to_string().contains("wrong-password"), "{err}");
    let err = mb.count().await.unwrap_err();
    assert!(matches!(err, Error::Backoff { .. }), "{err}");
}

#[tokio::test]
async fn boxes_on_one_account_share_one_connection() {
    let folder = unique("pool");
    let store = store_with(
        "pool",
        &format!("imapfolder={folder}"),
        &format!(
            "[default]\n12 => 12,A,,,imapuser=vm4321|imappassword={pw}\n\
             123 => 123,B,,,imapuser=vm4321|imappassword={pw}\n",
            pw = pw("vm4321")
        ),
    );
    let a = store.mailbox("12@default").unwrap();
    let b = store.mailbox("123@default").unwrap();
    a.count().await.unwrap();
    let after_a = a.connection_stats().await.unwrap();
    b.count().await.unwrap();
    let after_b = b.connection_stats().await.unwrap();
    // The same connection: its counters continued, and no second login happened.
    assert_eq!(a.account_label(), b.account_label());
    assert!(after_b.commands_sent > after_a.commands_sent);
    assert_eq!(
        after_b.round_trips - after_a.round_trips,
        1,
        "box 123 reused the selected connection: {after_a:?} -> {after_b:?}"
    );
    store.close().await;
}
