//! The private Cyrus does what the tests rely on, checked with an independent
//! client (Python's imaplib): STARTTLS with the generated certificate
//! verified, every user, the proxy (master) user on behalf of vm1234, the
//! implicit-TLS port, the `INBOX/` namespace with `/`, quota, the old
//! personality's reduced capabilities, IDLE pushes from idled, and a stop
//! that leaves no process behind.

use std::sync::{PoisonError, RwLock};

use xtask::server::{self, ServerInfo};
use xtask::{cyrus, dovecot, mail_client};

/// Tests share one server; the stop test takes it exclusively.
static SERVER: RwLock<()> = RwLock::new(());

/// Run `body` with the running server, shared with the other tests.
fn with_server<T>(body: impl FnOnce(&ServerInfo) -> T) -> T {
    let _shared = SERVER.read().unwrap_or_else(PoisonError::into_inner);
    let server = cyrus::ensure_running().expect("private cyrus");
    body(&server)
}

#[test]
fn every_user_logs_in_with_starttls_and_a_verified_certificate() {
    let out = with_server(|server| {
        assert_eq!(server.server, "cyrus");
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
fn proxy_user_acts_on_behalf_of_vm1234() {
    let out = with_server(|server| {
        assert!(server.master.is_some(), "cyrus has a proxy user");
        mail_client::run(
            server,
            r#"
import uuid
marker = "master-" + uuid.uuid4().hex
m = connect_master("vm1234")
check(m.append("INBOX", None, None, ("Subject: %s\r\n\r\nbody\r\n" % marker).encode()), "append")
m.logout()
# The message landed in vm1234's own mailbox.
m = connect("vm1234")
check(m.select("INBOX"), "select")
typ, data = m.search(None, "SUBJECT", marker)
print("found", len(data[0].split()))
m.logout()
# An ordinary user cannot do the same.
m = imaplib.IMAP4(INFO["host"], INFO["port"])
m.starttls(ssl_context=CTX)
blob = ("vm1234\0vm4321\0%s" % INFO["users"]["vm4321"]).encode()
try:
    m.authenticate("PLAIN", lambda _challenge: blob)
    print("non-proxy authzid accepted")
except imaplib.IMAP4.error:
    print("non-proxy authzid refused")
"#,
        )
        .expect("proxy login")
    });
    assert!(out.contains("found 1\n"), "{out}");
    assert!(out.contains("non-proxy authzid refused"), "{out}");
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
fn old_personality_lacks_uidplus_move_condstore_qresync() {
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
    for cap in [
        "UIDPLUS",
        "MOVE",
        "CONDSTORE",
        "QRESYNC",
        "QUOTA",
        "IDLE",
        "LITERAL+",
        "NAMESPACE",
    ] {
        assert!(
            new.iter().any(|c| c == cap),
            "main listener lacks {cap}: {new:?}"
        );
    }
    for cap in ["UIDPLUS", "MOVE", "XMOVE", "CONDSTORE", "QRESYNC", "NOTIFY"] {
        assert!(
            !old.iter().any(|c| c == cap),
            "old personality advertises {cap}: {old:?}"
        );
    }
    for cap in ["IDLE", "QUOTA", "NAMESPACE"] {
        assert!(old.iter().any(|c| c == cap), "old lacks {cap}: {old:?}");
    }
    // Cyrus has no NOTIFY at all: what the runtime must fall back from.
    assert!(!new.iter().any(|c| c == "NOTIFY"), "{new:?}");
    assert!(out.contains("same-store 1\n"), "{out}");
}

#[test]
fn namespace_is_inbox_slash_and_folders_nest_under_inbox() {
    let out = with_server(|server| {
        mail_client::run(
            server,
            r#"
import uuid
m = connect("vm4321")
print("NAMESPACE", check(m.namespace(), "namespace")[0].decode())
folder = "INBOX/Work" + uuid.uuid4().hex[:8]
check(m.create(folder), "create")
for line in check(m.list('""', folder), "list"):
    print("LIST", line.decode())
# A top-level name outside INBOX/ is not a personal folder on Cyrus.
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
        namespace.starts_with(r#"(("INBOX/" "/"))"#),
        "personal namespace: {namespace}"
    );
    let list = out
        .lines()
        .find_map(|l| l.strip_prefix("LIST "))
        .expect("list line");
    assert!(list.contains(r#""/" INBOX/Work"#), "{list}");
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
    let (storage, messages) = cyrus::SMALL_QUOTA;
    assert!(
        line("vm5678").contains("(STORAGE ")
            && line("vm5678").contains(&format!(" {storage} MESSAGE ")),
        "{out}"
    );
    assert!(line("vm5678").contains(&format!(" {messages})")), "{out}");
    assert!(
        line("vm1234").contains(&format!(" {})", cyrus::DEFAULT_QUOTA_KIB)),
        "{out}"
    );
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
    eprintln!("cyrus: {}", out.trim());
    let latency: f64 = out
        .trim()
        .strip_prefix("IDLE latency ")
        .and_then(|s| s.strip_suffix(" s"))
        .and_then(|s| s.parse().ok())
        .expect("latency");
    // idled pushes at once; without it Cyrus polls every imapidlepoll (2 s).
    assert!(latency < 1.5, "IDLE push took {latency} s");
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
    let before = cyrus::ensure_running().expect("private cyrus");
    let pids = server::processes_under(&before.dir);
    // At least the master (its command line names the config) and idled.
    assert!(pids.contains(&before.pid) && pids.len() >= 2, "{pids:?}");
    assert_eq!(cyrus::stop(Vec::new()).expect("stop"), Some(before.pid));
    for pid in &pids {
        assert!(!server::process_alive(*pid), "pid {pid} survived stop");
    }
    assert!(server::processes_under(&before.dir).is_empty());
    assert!(cyrus::status().expect("status").is_none());
    assert_eq!(cyrus::stop(Vec::new()).expect("second stop"), None);
    // Leave a running server for whoever comes next; it is a fresh one.
    let after = cyrus::ensure_running().expect("restart");
    assert_ne!(after.pid, before.pid);
    assert_ne!(after.users, before.users, "fresh passwords");
}
