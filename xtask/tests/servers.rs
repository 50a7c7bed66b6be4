//! The private Dovecot, Cyrus and Courier do what the tests rely on, checked
//! with an independent client (Python's imaplib). Every check runs against
//! each server; what differs between them is data ([`Expect`]): STARTTLS
//! with the generated certificate verified, every user, the master (proxy)
//! user or its absence, what an ordinary user's authorization identity gets,
//! the implicit-TLS port, the old personality's reduced capabilities on the
//! same store, the personal namespace, quota, IDLE push latency, the
//! generated `voicemail.conf`, and a stop that leaves no process behind.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{PoisonError, RwLock};

use xtask::courier::Courier;
use xtask::cyrus::Cyrus;
use xtask::dovecot::Dovecot;
use xtask::harness::{self, ImapServer};
use xtask::mail_client;
use xtask::server::{self, ServerInfo};

/// How a server's master user logs in on behalf of another, if it has one.
#[derive(Debug, Clone, Copy)]
enum Master {
    /// SASL PLAIN with an authorization identity, and LOGIN `user<SEP>master`.
    PlainAndLoginSeparator(&'static str),
    /// SASL PLAIN with an authorization identity only.
    Plain,
    /// No master user: `master` is `None` in the JSON.
    None,
}

/// What a server does with an ordinary user's foreign authorization identity.
#[derive(Debug, Clone, Copy)]
enum ForeignAuthzid {
    /// The AUTHENTICATE fails.
    Refused,
    /// Courier drops it: the session belongs to the authenticating user.
    Ignored,
}

/// Where the servers differ.
#[derive(Debug)]
struct Expect {
    master: Master,
    foreign_authzid: ForeignAuthzid,
    /// Capabilities the main listener advertises, and those it must not.
    main_has: &'static [&'static str],
    main_lacks: &'static [&'static str],
    /// The same for the old personality.
    old_has: &'static [&'static str],
    old_lacks: &'static [&'static str],
    /// The personal namespace's prefix and hierarchy separator.
    namespace: (&'static str, &'static str),
    /// Seconds within which IDLE reports an appended message.
    idle_push_within: f64,
    /// Processes at least running from (or naming) the server's folder or
    /// recorded by it, the recorded pid among them.
    min_processes: usize,
    /// Live processes the server records beside `server.json`'s pid
    /// ([`ImapServer::recorded_pids`]).
    recorded: usize,
}

const DOVECOT: Expect = Expect {
    master: Master::PlainAndLoginSeparator("*"),
    foreign_authzid: ForeignAuthzid::Refused,
    main_has: &[
        "UIDPLUS",
        "MOVE",
        "NOTIFY",
        "CONDSTORE",
        "QUOTA",
        "IDLE",
        "LITERAL+",
        "NAMESPACE",
    ],
    main_lacks: &[],
    old_has: &["IDLE", "QUOTA", "NAMESPACE"],
    old_lacks: &["UIDPLUS", "MOVE", "NOTIFY", "CONDSTORE"],
    namespace: ("", "/"),
    // Dovecot watches the maildir (inotify).
    idle_push_within: 1.5,
    min_processes: 1,
    recorded: 0,
};

const CYRUS: Expect = Expect {
    master: Master::Plain,
    foreign_authzid: ForeignAuthzid::Refused,
    main_has: &[
        "UIDPLUS",
        "MOVE",
        "CONDSTORE",
        "QRESYNC",
        "QUOTA",
        "IDLE",
        "LITERAL+",
        "NAMESPACE",
    ],
    // Cyrus has no NOTIFY at all: what the runtime must fall back from.
    main_lacks: &["NOTIFY"],
    old_has: &["IDLE", "QUOTA", "NAMESPACE"],
    old_lacks: &["UIDPLUS", "MOVE", "XMOVE", "CONDSTORE", "QRESYNC", "NOTIFY"],
    namespace: ("INBOX/", "/"),
    // idled pushes at once; without it Cyrus polls every imapidlepoll (2 s).
    idle_push_within: 1.5,
    // The master (its command line names the config) and idled.
    min_processes: 2,
    recorded: 0,
};

const COURIER: Expect = Expect {
    master: Master::None,
    foreign_authzid: ForeignAuthzid::Ignored,
    main_has: &["UIDPLUS", "QUOTA", "IDLE", "NAMESPACE", "CHILDREN"],
    // What Courier never has: the runtime's fallbacks start here.
    main_lacks: &["MOVE", "LITERAL+", "NOTIFY", "CONDSTORE"],
    old_has: &["IDLE", "QUOTA", "NAMESPACE"],
    old_lacks: &["UIDPLUS", "MOVE", "NOTIFY", "CONDSTORE"],
    namespace: ("INBOX.", "."),
    // Courier polls every IMAP_IDLE_TIMEOUT seconds during IDLE.
    idle_push_within: xtask::courier::IDLE_POLL_SECONDS as f64 + 2.0,
    // Three listeners (they name the unpacked package) and authdaemond.
    min_processes: 4,
    // The same four, from courier.pids (authdaemond runs from /usr).
    recorded: 4,
};

/// One module of tests per server, each test one check of [`checks`].
macro_rules! server_tests {
    ($($module:ident: $server:ty, $expect:expr;)*) => {$(
        mod $module {
            use super::*;

            /// Tests share one server; the stop test takes it exclusively.
            static SERVER: RwLock<()> = RwLock::new(());

            fn with_server<T>(body: impl FnOnce(&ServerInfo) -> T) -> T {
                let _shared = SERVER.read().unwrap_or_else(PoisonError::into_inner);
                let server = harness::ensure_running::<$server>().expect("private server");
                body(&server)
            }

            #[test]
            fn every_user_logs_in_with_starttls_and_a_verified_certificate() {
                with_server(|s| checks::logins::<$server>(s));
            }

            #[test]
            fn a_wrong_certificate_authority_is_refused_by_the_client() {
                with_server(checks::wrong_ca);
            }

            #[test]
            fn the_master_user_acts_on_behalf_of_a_user_where_there_is_one() {
                with_server(|s| checks::master(s, &$expect));
            }

            #[test]
            fn an_ordinary_user_cannot_act_for_another() {
                with_server(|s| checks::foreign_authzid(s, &$expect));
            }

            #[test]
            fn the_old_personality_hides_capabilities_on_the_same_store() {
                with_server(|s| checks::capabilities(s, &$expect));
            }

            #[test]
            fn folders_nest_in_the_personal_namespace() {
                with_server(|s| checks::namespace(s, &$expect));
            }

            #[test]
            fn the_small_quota_user_has_limits_and_others_do_not_share_them() {
                with_server(checks::quota);
            }

            #[test]
            fn an_over_quota_append_is_refused() {
                with_server(checks::over_quota);
            }

            #[test]
            fn idle_pushes_a_new_message_quickly() {
                with_server(|s| checks::idle(s, &$expect));
            }

            #[test]
            fn the_generated_voicemail_conf_points_at_the_server() {
                with_server(checks::voicemail_conf);
            }

            #[test]
            fn stop_leaves_no_process_and_a_restart_works() {
                let _exclusive = SERVER.write().unwrap_or_else(PoisonError::into_inner);
                checks::stop_and_restart::<$server>(&$expect);
            }
        }
    )*};
}

server_tests! {
    dovecot: Dovecot, DOVECOT;
    cyrus: Cyrus, CYRUS;
    courier: Courier, COURIER;
}

/// The checks, each against one server.
mod checks {
    use super::*;

    fn run(server: &ServerInfo, script: &str) -> String {
        mail_client::run(server, script)
            .unwrap_or_else(|e| panic!("{} mail client: {e}", server.server))
    }

    /// The words after `prefix` on the line of `out` that starts with it.
    fn words(out: &str, prefix: &str) -> Vec<String> {
        out.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} line in {out}"))
            .split_whitespace()
            .map(str::to_string)
            .collect()
    }

    pub fn logins<S: ImapServer>(server: &ServerInfo) {
        assert_eq!(server.server, S::NAME);
        let names: BTreeSet<&str> = server::USERS.iter().map(|(user, _)| *user).collect();
        assert_eq!(
            server
                .users
                .keys()
                .map(String::as_str)
                .collect::<BTreeSet<_>>(),
            names
        );
        let out = run(
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
        );
        for user in names {
            assert!(
                out.contains(&format!("ok {user}\n")),
                "{user} did not log in: {out}"
            );
        }
        assert!(out.contains("imaps TLS"), "{out}");
        assert!(out.contains("wrong password refused"), "{out}");
    }

    pub fn wrong_ca(server: &ServerInfo) {
        // Without the generated CA the verification must fail: proves the check is real.
        let out = run(
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
        );
        assert!(out.starts_with("refused"), "{out}");
    }

    pub fn master(server: &ServerInfo, expect: &Expect) {
        let separator = match expect.master {
            Master::None => {
                assert!(server.master.is_none(), "{:?}", server.master);
                let out = run(
                    server,
                    r#"
try:
    connect_master("vm1234")
    print("connect_master worked")
except AssertionError as e:
    print("connect_master:", e)
"#,
                );
                assert!(
                    out.contains("connect_master: this server has no master user"),
                    "{out}"
                );
                return;
            }
            Master::Plain => None,
            Master::PlainAndLoginSeparator(separator) => Some(separator),
        };
        let master = server.master.as_ref().expect("a master user in the JSON");
        assert_eq!(master.user, server::MASTER_USER);
        let out = run(
            server,
            &format!(
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
separator = {separator}
if separator is not None:
    m = imaplib.IMAP4(INFO["host"], INFO["port"])
    m.starttls(ssl_context=CTX)
    check(m.login("vm4321" + separator + INFO["master"]["user"], INFO["master"]["password"]), "master login")
    print("login-separator ok")
"#,
                separator = separator.map_or("None".to_string(), |s| format!("{s:?}")),
            ),
        );
        assert!(out.contains("found 1\n"), "{out}");
        assert_eq!(
            out.contains("login-separator ok"),
            separator.is_some(),
            "{out}"
        );
    }

    pub fn foreign_authzid(server: &ServerInfo, expect: &Expect) {
        // vm4321 authenticates, asking to act as vm1234.
        let out = run(
            server,
            r#"
import uuid
m = imaplib.IMAP4(INFO["host"], INFO["port"])
m.starttls(ssl_context=CTX)
blob = ("vm1234\0vm4321\0%s" % INFO["users"]["vm4321"]).encode()
try:
    print("authenticate", m.authenticate("PLAIN", lambda _challenge: blob)[0])
except imaplib.IMAP4.error:
    print("authenticate refused")
    sys.exit(0)
marker = "authzid-" + uuid.uuid4().hex
check(m.append("INBOX", None, None, ("Subject: %s\r\n\r\nbody\r\n" % marker).encode()), "append")
for user in ("vm1234", "vm4321"):
    c = connect(user)
    check(c.select("INBOX"), "select")
    print("landed", user, len(c.search(None, "SUBJECT", marker)[1][0].split()))
"#,
        );
        match expect.foreign_authzid {
            ForeignAuthzid::Refused => {
                assert!(out.contains("authenticate refused"), "{out}")
            }
            // A client that sends an authzid (as Asterisk's authuser does)
            // must not assume it acts for the authzid here.
            ForeignAuthzid::Ignored => {
                assert!(out.contains("authenticate OK"), "{out}");
                assert!(out.contains("landed vm1234 0\n"), "{out}");
                assert!(out.contains("landed vm4321 1\n"), "{out}");
            }
        }
    }

    pub fn capabilities(server: &ServerInfo, expect: &Expect) {
        let out = run(
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
        );
        for (listener, caps, has, lacks) in [
            (
                "main listener",
                words(&out, "NEW "),
                expect.main_has,
                expect.main_lacks,
            ),
            (
                "old personality",
                words(&out, "OLD "),
                expect.old_has,
                expect.old_lacks,
            ),
        ] {
            for cap in has {
                assert!(
                    caps.iter().any(|c| c == cap),
                    "{listener} lacks {cap}: {caps:?}"
                );
            }
            for cap in lacks {
                assert!(
                    !caps.iter().any(|c| c == cap),
                    "{listener} advertises {cap}: {caps:?}"
                );
            }
        }
        assert!(out.contains("same-store 1\n"), "{out}");
    }

    pub fn namespace(server: &ServerInfo, expect: &Expect) {
        let (prefix, separator) = expect.namespace;
        let out = run(
            server,
            &format!(
                r#"
import uuid
prefix = {prefix:?}
m = connect("vm4321")
print("NAMESPACE", check(m.namespace(), "namespace")[0].decode())
folder = prefix + "Work" + uuid.uuid4().hex[:8]
print("FOLDER", folder)
check(m.create(folder), "create")
for line in check(m.list('""', folder), "list"):
    print("LIST", line.decode())
if prefix:
    # A top-level name outside the prefix is not a personal folder.
    typ, data = m.create("Work" + uuid.uuid4().hex[:8])
    print("TOPLEVEL", typ)
check(m.delete(folder), "delete")
"#
            ),
        );
        let namespace = words(&out, "NAMESPACE ").join(" ");
        assert!(
            namespace.starts_with(&format!("((\"{prefix}\" \"{separator}\"))")),
            "personal namespace: {namespace}"
        );
        let folder = words(&out, "FOLDER ").join(" ");
        let list = words(&out, "LIST ").join(" ");
        assert!(list.contains(&format!("\"{separator}\" ")), "{list}");
        assert!(
            list.ends_with(&format!(" {folder}")) || list.ends_with(&format!(" \"{folder}\"")),
            "{list}"
        );
        if !prefix.is_empty() {
            assert!(out.contains("TOPLEVEL NO"), "{out}");
        }
    }

    pub fn quota(server: &ServerInfo) {
        let out = run(
            server,
            r#"
for user in ("vm5678", "vm1234"):
    m = connect(user)
    typ, data = m.getquotaroot("INBOX")
    print(user, [d.decode() if isinstance(d, bytes) else d for d in data[1]])
    m.logout()
"#,
        );
        let line = |user: &str| words(&out, &format!("{user} ")).join(" ");
        let (storage, messages) = server::SMALL_QUOTA;
        let small = line("vm5678");
        assert!(
            small.contains("(STORAGE ") && small.contains(&format!(" {storage} MESSAGE ")),
            "{out}"
        );
        assert!(small.contains(&format!(" {messages})")), "{out}");
        assert!(
            line("vm1234").contains(&format!(" {})", server::DEFAULT_QUOTA_KIB)),
            "{out}"
        );
    }

    pub fn over_quota(server: &ServerInfo) {
        let out = run(
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
        );
        assert!(out.contains("APPEND NO"), "{out}");
        assert!(out.to_lowercase().contains("quota"), "{out}");
    }

    pub fn idle(server: &ServerInfo, expect: &Expect) {
        let out = run(
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
        );
        let latency: f64 = out
            .trim()
            .strip_prefix("IDLE latency ")
            .and_then(|s| s.strip_suffix(" s"))
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no latency in {out}"));
        assert!(
            latency < expect.idle_push_within,
            "{}: IDLE push took {latency} s",
            server.server
        );
    }

    pub fn voicemail_conf(server: &ServerInfo) {
        let conf = std::fs::read_to_string(&server.voicemail_conf).expect("voicemail.conf");
        let old = std::fs::read_to_string(&server.voicemail_conf_old).expect("old voicemail.conf");
        assert!(
            conf.contains(&format!("imapserver = {}\n", server.host)),
            "{conf}"
        );
        assert!(
            conf.contains(&format!("imapport = {}\n", server.port)),
            "{conf}"
        );
        assert!(conf.contains(&format!("imapcafile = {}\n", server.cert.display())));
        assert!(conf.contains(&format!(
            "1234 => 1234,Alice Mailbox,,,imapuser=vm1234|imappassword={}\n",
            server.users["vm1234"]
        )));
        assert!(conf.contains("imapfolder=Voicemail"));
        assert!(conf.contains("imapvmshareid=support"));
        assert!(old.contains(&format!("imapserver = {}\n", server.old_host)));
        assert!(old.contains(&format!("imapport = {}\n", server.old_port)));
    }

    /// The live processes whose parent chain leads to `pid`.
    fn descendants(pid: u32) -> Vec<u32> {
        let parent_of = |p: u32| -> Option<u32> {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
            // pid (comm) state ppid ...
            stat.rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        };
        let mut found = Vec::new();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(p) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
                continue;
            };
            let mut at = p;
            while let Some(parent) = parent_of(at).filter(|pp| *pp > 1) {
                if parent == pid {
                    if server::process_alive(p) {
                        found.push(p);
                    }
                    break;
                }
                at = parent;
            }
        }
        found
    }

    fn processes_of<S: ImapServer>(info: &ServerInfo, dir: &Path) -> BTreeSet<u32> {
        server::processes_under(dir)
            .into_iter()
            .chain(S::recorded_pids(dir))
            .chain(descendants(info.pid))
            .collect()
    }

    pub fn stop_and_restart<S: ImapServer>(expect: &Expect) {
        let before = harness::ensure_running::<S>().expect("private server");
        assert_eq!(S::recorded_pids(&before.dir).len(), expect.recorded);
        let pids = processes_of::<S>(&before, &before.dir);
        assert!(
            pids.contains(&before.pid) && pids.len() >= expect.min_processes,
            "{pids:?}"
        );
        assert_eq!(
            harness::stop::<S>(Vec::new()).expect("stop"),
            Some(before.pid)
        );
        for pid in &pids {
            assert!(!server::process_alive(*pid), "pid {pid} survived stop");
        }
        assert!(server::processes_under(&before.dir).is_empty());
        assert!(harness::status::<S>().expect("status").is_none());
        assert_eq!(harness::stop::<S>(Vec::new()).expect("second stop"), None);
        // Leave a running server for whoever comes next; it is a fresh one.
        let after = harness::ensure_running::<S>().expect("restart");
        assert_ne!(after.pid, before.pid);
        assert_ne!(after.users, before.users, "fresh passwords");
    }
}
