//! The private Courier does what the tests rely on, checked with an
//! independent client (Python's imaplib): STARTTLS with the generated
//! certificate verified, every user, no master user, the implicit-TLS port,
//! the `INBOX.` namespace with `.`, maildir++ quota, the old personality
//! without UIDPLUS, IDLE (polling), and a stop that leaves no process behind.

use std::sync::{PoisonError, RwLock};

use xtask::server::{self, ServerInfo};
use xtask::{courier, dovecot, mail_client};

/// Tests share one server; the stop test takes it exclusively.
static SERVER: RwLock<()> = RwLock::new(());

/// Run `body` with the running server, shared with the other tests.
fn with_server<T>(body: impl FnOnce(&ServerInfo) -> T) -> T {
    let _shared = SERVER.read().unwrap_or_else(PoisonError::into_inner);
    let server = courier::ensure_running().expect("private courier");
    body(&server)
}

#[test]
fn every_user_logs_in_with_starttls_and_a_verified_certificate() {
    let out = with_server(|server| {
        assert_eq!(server.server, "courier");
        assert_eq!(server.users.len(), dovecot::USERS.len());
        mail_client::run(
            server,
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
try:
    m = imaplib.IMAP4(INFO["host"], INFO["port"])
    m.starttls(ssl_context=CTX)
    m.login("vm1234", "wrong-" + INFO["users"]["vm1234"])
    print("wrong password accepted")
except imaplib.IMAP4.error:
    print("wrong password refused")
"#,
        )
        .expect("logins")
    });
    for (user, _) in dovecot::USERS {
        assert!(
            out.contains(&format!("ok {user}\n")),
            "{user} did not log in: {out}"
        );
    }
    assert!(out.contains("imaps TLS"), "{out}");
    assert!(out.contains("wrong password refused"), "{out}");
}

#[test]
fn a_wrong_certificate_authority_is_refused_by_the_client() {
    let out = with_server(|server| {
        mail_client::run(
            server,
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
        .expect("script")
    });
    assert!(out.starts_with("refused"), "{out}");
}

#[test]
fn there_is_no_master_user_and_an_authzid_is_silently_ignored() {
    let out = with_server(|server| {
        // Courier with authuserdb has no proxy login: the JSON says so.
        assert!(server.master.is_none(), "{:?}", server.master);
        mail_client::run(
            server,
            r#"
import uuid
try:
    connect_master("vm1234")
    print("connect_master worked")
except AssertionError as e:
    print("connect_master:", e)
# SASL PLAIN with a foreign authorization identity is NOT refused: Courier
# drops the authzid and the session belongs to the authenticating user.
# (A client that sends an authzid, as Asterisk's authuser does, must not
# assume it acts for the authzid here.)
m = imaplib.IMAP4(INFO["host"], INFO["port"])
m.starttls(ssl_context=CTX)
blob = ("vm1234\0vm4321\0%s" % INFO["users"]["vm4321"]).encode()
print("authenticate", m.authenticate("PLAIN", lambda _challenge: blob)[0])
marker = "authzid-" + uuid.uuid4().hex
check(m.append("INBOX", None, None, ("Subject: %s\r\n\r\nbody\r\n" % marker).encode()), "append")
for user in ("vm1234", "vm4321"):
    c = connect(user)
    check(c.select("INBOX"), "select")
    print("landed", user, len(c.search(None, "SUBJECT", marker)[1][0].split()))
"#,
        )
        .expect("no master")
    });
    assert!(
        out.contains("connect_master: this server has no master user"),
        "{out}"
    );
    assert!(out.contains("authenticate OK"), "{out}");
    assert!(out.contains("landed vm1234 0\n"), "{out}");
    assert!(out.contains("landed vm4321 1\n"), "{out}");
}

fn capabilities(out: &str, prefix: &str) -> Vec<String> {
    out.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .expect("capability line")
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

#[test]
fn old_personality_lacks_uidplus() {
    let out = with_server(|server| {
        mail_client::run(
            server,
            r#"
new = connect("vm1234").capability()[1][0].decode().split()
old = connect_old("vm1234").capability()[1][0].decode().split()
print("NEW", " ".join(new))
print("OLD", " ".join(old))
# Same store behind both: a message appended on one is seen on the other.
import uuid
marker = "old-" + uuid.uuid4().hex
m = connect_old("vm4321")
check(m.append("INBOX", None, None, ("Subject: %s\r\n\r\nbody\r\n" % marker).encode()), "append")
m = connect("vm4321")
check(m.select("INBOX"), "select")
print("same-store", len(m.search(None, "SUBJECT", marker)[1][0].split()))
"#,
        )
        .expect("capabilities")
    });
    let new = capabilities(&out, "NEW ");
    let old = capabilities(&out, "OLD ");
    for cap in ["UIDPLUS", "QUOTA", "IDLE", "NAMESPACE", "CHILDREN"] {
        assert!(
            new.iter().any(|c| c == cap),
            "main listener lacks {cap}: {new:?}"
        );
    }
    // What Courier never has: the runtime's fallbacks start here.
    for cap in ["MOVE", "LITERAL+", "NOTIFY", "CONDSTORE"] {
        assert!(
            !new.iter().any(|c| c == cap),
            "courier advertises {cap}: {new:?}"
        );
    }
    for cap in ["UIDPLUS", "MOVE", "NOTIFY", "CONDSTORE"] {
        assert!(
            !old.iter().any(|c| c == cap),
            "old personality advertises {cap}: {old:?}"
        );
    }
    for cap in ["IDLE", "QUOTA", "NAMESPACE"] {
        assert!(old.iter().any(|c| c == cap), "old lacks {cap}: {old:?}");
    }
    assert!(out.contains("same-store 1\n"), "{out}");
}

#[test]
fn namespace_is_inbox_dot_and_folders_nest_under_inbox() {
    let out = with_server(|server| {
        mail_client::run(
            server,
            r#"
import uuid
m = connect("vm4321")
print("NAMESPACE", check(m.namespace(), "namespace")[0].decode())
folder = "INBOX.Work" + uuid.uuid4().hex[:8]
check(m.create(folder), "create")
for line in check(m.list('""', folder), "list"):
    print("LIST", line.decode())
# A top-level name outside INBOX. is not a personal folder on Courier.
typ, data = m.create("Work" + uuid.uuid4().hex[:8])
print("TOPLEVEL", typ)
check(m.delete(folder), "delete")
"#,
        )
        .expect("namespace")
    });
    let namespace = out
        .lines()
        .find_map(|l| l.strip_prefix("NAMESPACE "))
        .expect("namespace line");
    assert!(
        namespace.starts_with(r#"(("INBOX." "."))"#),
        "personal namespace: {namespace}"
    );
    let list = out
        .lines()
        .find_map(|l| l.strip_prefix("LIST "))
        .expect("list line");
    assert!(list.contains(r#""." "INBOX.Work"#), "{list}");
    assert!(out.contains("TOPLEVEL NO"), "{out}");
}

#[test]
fn small_quota_user_has_limits_and_others_do_not_share_them() {
    let out = with_server(|server| {
        mail_client::run(
            server,
            r#"
for user in ("vm5678", "vm1234"):
    m = connect(user)
    typ, data = m.getquotaroot("INBOX")
    print(user, [d.decode() if isinstance(d, bytes) else d for d in data[1]])
    m.logout()
"#,
        )
        .expect("quota")
    });
    let line = |user: &str| {
        out.lines()
            .find(|l| l.starts_with(user))
            .expect("line")
            .to_string()
    };
    // maildir++ 204800S,20C is reported in KiB: 200 KiB, 20 messages.
    assert_eq!(courier::SMALL_QUOTA, "204800S,20C");
    assert!(
        line("vm5678").contains("(STORAGE ") && line("vm5678").contains(" 200 MESSAGE "),
        "{out}"
    );
    assert!(line("vm5678").contains(" 20)"), "{out}");
    assert!(line("vm1234").contains(" 1048576)"), "{out}");
}

#[test]
fn over_quota_append_is_refused() {
    let out = with_server(|server| {
        mail_client::run(
            server,
            r#"
m = connect("vm5678")
big = b"Subject: too big\r\n\r\n" + b"x" * (300 * 1024) + b"\r\n"
try:
    typ, data = m.append("INBOX", None, None, big)
    print("APPEND", typ, data)
except imaplib.IMAP4.error as e:
    print("APPEND NO", e)
"#,
        )
        .expect("over quota")
    });
    assert!(out.contains("APPEND NO"), "{out}");
    assert!(out.to_lowercase().contains("quota"), "{out}");
}

#[test]
fn idle_pushes_a_new_message_quickly() {
    let out = with_server(|server| {
        mail_client::run(
            server,
            r#"
import time
watcher = connect("vmshared")
check(watcher.select("INBOX"), "select")
tag = watcher._new_tag().decode()
watcher.send(("%s IDLE\r\n" % tag).encode())
assert watcher.readline().startswith(b"+"), "no IDLE continuation"
sender = connect("vmshared")
started = time.monotonic()
check(sender.append("INBOX", None, None, b"Subject: idle\r\n\r\nbody\r\n"), "append")
watcher.sock.settimeout(30)
while True:
    line = watcher.readline()
    assert line, "connection closed during IDLE"
    if line.endswith(b"EXISTS\r\n"):
        break
latency = time.monotonic() - started
watcher.send(b"DONE\r\n")
print("IDLE latency %.3f s" % latency)
"#,
        )
        .expect("idle")
    });
    eprintln!("courier: {}", out.trim());
    let latency: f64 = out
        .trim()
        .strip_prefix("IDLE latency ")
        .and_then(|s| s.strip_suffix(" s"))
        .and_then(|s| s.parse().ok())
        .expect("latency");
    // Courier polls every IMAP_IDLE_TIMEOUT seconds during IDLE.
    let bound = f64::from(courier::IDLE_POLL_SECONDS) + 2.0;
    assert!(latency < bound, "IDLE push took {latency} s");
}

#[test]
fn generated_voicemail_conf_points_at_the_server() {
    let (server, conf, old) = with_server(|server| {
        let conf = std::fs::read_to_string(&server.voicemail_conf).expect("voicemail.conf");
        let old = std::fs::read_to_string(&server.voicemail_conf_old).expect("old voicemail.conf");
        (server.clone(), conf, old)
    });
    assert!(
        conf.contains(&format!("imapport = {}", server.port)),
        "{conf}"
    );
    assert!(conf.contains(&format!("imapcafile = {}", server.cert.display())));
    assert!(conf.contains(&format!(
        "1234 => 1234,Alice Mailbox,,,imapuser=vm1234|imappassword={}\n",
        server.users["vm1234"]
    )));
    assert!(conf.contains("imapfolder=Voicemail"));
    assert!(conf.contains("imapvmshareid=support"));
    assert!(old.contains(&format!("imapserver = {}", server.old_host)));
    assert!(old.contains(&format!("imapport = {}", server.old_port)));
}

#[test]
fn stop_leaves_no_process_and_a_restart_works() {
    let _exclusive = SERVER.write().unwrap_or_else(PoisonError::into_inner);
    let before = courier::ensure_running().expect("private courier");
    let mut pids = server::processes_under(&before.dir);
    // The three listeners name the unpacked package on their command lines.
    assert!(pids.contains(&before.pid) && pids.len() >= 3, "{pids:?}");
    let authdaemond: u32 = std::fs::read_to_string(before.dir.join("courier.pids"))
        .expect("pids file")
        .lines()
        .find_map(|l| l.strip_prefix("authdaemond "))
        .and_then(|p| p.trim().parse().ok())
        .expect("authdaemond pid");
    assert!(server::process_alive(authdaemond));
    pids.push(authdaemond);
    assert_eq!(courier::stop(Vec::new()).expect("stop"), Some(before.pid));
    for pid in &pids {
        assert!(!server::process_alive(*pid), "pid {pid} survived stop");
    }
    assert!(server::processes_under(&before.dir).is_empty());
    assert!(courier::status().expect("status").is_none());
    assert_eq!(courier::stop(Vec::new()).expect("second stop"), None);
    // Leave a running server for whoever comes next; it is a fresh one.
    let after = courier::ensure_running().expect("restart");
    assert_ne!(after.pid, before.pid);
    assert_ne!(after.users, before.users, "fresh passwords");
}
