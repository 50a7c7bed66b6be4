//! The private Dovecot does what the tests and the demo rely on, checked with
//! an independent client (Python's imaplib): STARTTLS with the generated
//! certificate verified, every user, the master user on behalf of vm1234, the
//! implicit-TLS port, quota, and the old personality's reduced capabilities.

use xtask::{dovecot, mail_client};

#[test]
fn every_user_logs_in_with_starttls_and_a_verified_certificate() {
    let server = dovecot::ensure_running().expect("private dovecot");
    assert_eq!(server.users.len(), dovecot::USERS.len());
    let out = mail_client::run(
        &server,
        r#"
for user in sorted(INFO["users"]):
    m = connect(user)              # STARTTLS verified against the generated CA
    assert m.sock.version().startswith("TLS"), m.sock.version()
    check(m.select("INBOX"), "select")
    m.logout()
    print("ok", user)
m = connect_imaps("vm1234")
print("imaps", m.sock.version())
m.logout()
"#,
    )
    .expect("logins");
    for (user, _) in dovecot::USERS {
        assert!(
            out.contains(&format!("ok {user}\n")),
            "{user} did not log in: {out}"
        );
    }
    assert!(out.contains("imaps TLS"), "{out}");
}

#[test]
fn a_wrong_certificate_authority_is_refused_by_the_client() {
    let server = dovecot::ensure_running().expect("private dovecot");
    // Without the generated CA the verification must fail: proves the check is real.
    let out = mail_client::run(
        &server,
        r#"
ctx = ssl.create_default_context()   # system roots only
m = imaplib.IMAP4(INFO["host"], INFO["port"])
try:
    m.starttls(ssl_context=ctx)
    print("accepted")
except ssl.SSLCertVerificationError as e:
    print("refused", e.verify_message)
"#,
    )
    .expect("script");
    assert!(out.starts_with("refused"), "{out}");
}

#[test]
fn master_user_acts_on_behalf_of_vm1234() {
    let server = dovecot::ensure_running().expect("private dovecot");
    let out = mail_client::run(
        &server,
        r#"
import uuid
marker = "master-" + uuid.uuid4().hex
m = connect_master("vm1234")
check(m.append("INBOX", None, None, ("Subject: %s\r\n\r\nbody\r\n" % marker).encode()), "append")
m.logout()
# The message landed in vm1234's own mailbox, not the master's.
m = connect("vm1234")
check(m.select("INBOX"), "select")
typ, data = m.search(None, "SUBJECT", marker)
print("found", len(data[0].split()))
m.logout()
# LOGIN "user*master" works too (Dovecot's master separator).
m = imaplib.IMAP4(INFO["host"], INFO["port"])
m.starttls(ssl_context=CTX)
check(m.login("vm4321*" + INFO["master"]["user"], INFO["master"]["password"]), "master login")
print("login-separator ok")
"#,
    )
    .expect("master login");
    assert!(out.contains("found 1\n"), "{out}");
    assert!(out.contains("login-separator ok"), "{out}");
}

#[test]
fn old_personality_lacks_uidplus_move_notify_condstore() {
    let server = dovecot::ensure_running().expect("private dovecot");
    let out = mail_client::run(
        &server,
        r#"
new = connect("vm1234").capability()[1][0].decode().split()
old = connect_old("vm1234").capability()[1][0].decode().split()
print("NEW", " ".join(new))
print("OLD", " ".join(old))
"#,
    )
    .expect("capabilities");
    let caps = |prefix: &str| -> Vec<String> {
        out.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .expect("capability line")
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    let new = caps("NEW ");
    let old = caps("OLD ");
    for cap in [
        "UIDPLUS",
        "MOVE",
        "NOTIFY",
        "CONDSTORE",
        "QUOTA",
        "IDLE",
        "LITERAL+",
    ] {
        assert!(
            new.iter().any(|c| c == cap),
            "main listener lacks {cap}: {new:?}"
        );
    }
    for cap in ["UIDPLUS", "MOVE", "NOTIFY", "CONDSTORE"] {
        assert!(
            !old.iter().any(|c| c == cap),
            "old personality advertises {cap}: {old:?}"
        );
    }
    assert!(
        old.iter().any(|c| c == "IDLE") && old.iter().any(|c| c == "QUOTA"),
        "{old:?}"
    );
}

#[test]
fn small_quota_user_has_limits_and_others_do_not_share_them() {
    let server = dovecot::ensure_running().expect("private dovecot");
    let out = mail_client::run(
        &server,
        r#"
for user in ("vm5678", "vm1234"):
    m = connect(user)
    typ, data = m.getquotaroot("INBOX")
    print(user, [d.decode() if isinstance(d, bytes) else d for d in data[1]])
    m.logout()
"#,
    )
    .expect("quota");
    let line = |user: &str| {
        out.lines()
            .find(|l| l.starts_with(user))
            .expect("line")
            .to_string()
    };
    assert!(
        line("vm5678").contains("STORAGE") && line("vm5678").contains(" 200 "),
        "{out}"
    );
    assert!(
        line("vm5678").contains("MESSAGE") && line("vm5678").contains(" 20)"),
        "{out}"
    );
    assert!(!line("vm1234").contains(" 200 "), "{out}");
}

#[test]
fn generated_voicemail_conf_points_at_the_server() {
    let server = dovecot::ensure_running().expect("private dovecot");
    let conf = std::fs::read_to_string(&server.voicemail_conf).expect("voicemail.conf");
    assert!(
        conf.contains(&format!("imapport = {}", server.port)),
        "{conf}"
    );
    assert!(conf.contains("1234 => 1234,Alice Mailbox,,,imapuser=vm1234|imappassword="));
    assert!(conf.contains("imapfolder=Voicemail"));
    assert!(conf.contains("imapvmshareid=support"));
    let old = std::fs::read_to_string(&server.voicemail_conf_old).expect("old voicemail.conf");
    assert!(old.contains(&format!("imapserver = {}", server.old_host)));
    assert!(old.contains(&format!("imapport = {}", server.old_port)));
}
