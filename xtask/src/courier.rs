//! A private Courier-IMAP 5 on loopback for the tests: the `INBOX.` server.
//!
//! Mail, logs, certificates, the unpacked `courier-imap` package and
//! `server.json` live in `target/imapvm-courier/`. Debian's `courier-imap`
//! conflicts with `dovecot-imapd`, so only `courier-base`,
//! `courier-authdaemon` and `courier-authlib-userdb` are installed; `imapd`
//! and `imaplogin` come from the `courier-imap` `.deb`, fetched once with
//! `apt-get download` into `target/imapvm-debs/` and unpacked here.
//!
//! Courier's authentication library has its paths compiled in, so two system
//! files are touched: `/etc/courier/authdaemonrc` gets `authuserdb` added to
//! its `authmodulelist` (nothing else changes), and our users are **added** to
//! `/etc/courier/userdb` with `userdb USER set` (other entries are kept; ours
//! are replaced on each start and left there on stop). Its socket
//! (`/run/courier/authdaemon/socket`) is machine-wide too: one private
//! Courier per machine.
//!
//! It listens on free ports it picks, one `couriertcpd` each:
//!
//! * `127.0.0.1:port`: IMAP with STARTTLS (plain login allowed, for tests);
//! * `127.0.0.1:imaps_port`: implicit TLS (`couriertls`);
//! * `127.0.0.2:old_port`: the same store with an "old server" personality
//!   whose `IMAP_CAPABILITY` is [`OLD_CAPABILITY`] (no UIDPLUS; Courier has no
//!   MOVE, CONDSTORE or NOTIFY anyway).
//!
//! The personal namespace is `INBOX.` with `.` (`INBOX.Work`). IDLE polls
//! every [`IDLE_POLL_SECONDS`]. Users are the names of
//! [`crate::server::USERS`] with random passwords and maildirs under
//! `mail/`; `vm5678` has a maildir++ quota of 200 KiB / 20 messages, the
//! others 1 GiB. Courier with authuserdb has no master user: `master` is
//! `None` in the [`ServerInfo`].
//!
//! This file holds what is Courier's own ([`Courier`]: its userdb, its
//! listener scripts, the authdaemond it runs); starting, finding and stopping
//! it is [`harness`]'s.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::harness::{self, ImapServer, Setup, Unpacked};
use crate::server::{self, HarnessError, Quota, Result, ServerInfo, run_checked, write};

/// The capabilities the old personality advertises: Courier's own list
/// without UIDPLUS (it has no MOVE, CONDSTORE or NOTIFY to take away).
pub const OLD_CAPABILITY: &str =
    "IMAP4rev1 CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT THREAD=REFERENCES SORT QUOTA IDLE";

/// How often an IDLE session looks for new mail (`IMAP_IDLE_TIMEOUT`):
/// Courier polls, so this bounds the push latency.
pub const IDLE_POLL_SECONDS: u32 = 2;

/// The small-quota user's maildir++ quota: 200 KiB, 20 messages
/// ([`server::SMALL_QUOTA`]).
pub const SMALL_QUOTA: &str = "204800S,20C";

/// Everybody else's maildir++ quota: 1 GiB ([`server::DEFAULT_QUOTA_KIB`]).
pub const DEFAULT_QUOTA: &str = "1073741824S";

const AUTHDAEMON_BIN: &str = "/usr/lib/courier/courier-authlib/authdaemond";
const AUTHDAEMON_RC: &str = "/etc/courier/authdaemonrc";
const AUTHDAEMON_SOCKET: &str = "/run/courier/authdaemon/socket";
const COURIERTCPD: &str = "/usr/sbin/couriertcpd";
const COURIERTLS: &str = "/usr/bin/couriertls";
const USERDB: &str = "/etc/courier/userdb";
const PIDS_FILE: &str = "courier.pids";

/// The private Courier, for the generic life cycle in [`harness`].
#[derive(Debug, Clone, Copy)]
pub struct Courier;

impl ImapServer for Courier {
    const NAME: &'static str = "courier";
    const TITLE: &'static str = "Courier";
    const WHY_ROOT: &'static str = "it edits /etc/courier and imapd switches to the vmail user";
    const PROGRAMS: &'static [&'static str] = &[
        AUTHDAEMON_BIN,
        COURIERTCPD,
        COURIERTLS,
        "/usr/sbin/userdb",
        "/usr/sbin/makeuserdb",
        "/usr/sbin/userdbpw",
        "/usr/bin/maildirmake.courier",
    ];
    const PACKAGES: &'static [&'static str] = &[
        "courier-base",
        "courier-authdaemon",
        "courier-authlib-userdb",
    ];
    const UNPACKED: Option<Unpacked> = Some(Unpacked {
        package: "courier-imap",
        version_of: None,
    });
    const SYSTEM_USERS: &'static [&'static str] = &["vmail"];
    const LONGEST_SOCKET: &'static str = "mail/vmshared/Maildir";
    const SUBDIRS: &'static [&'static str] = &["log", "mail"];
    const LOGS: &'static [&'static str] = &[
        "log/authdaemond.log",
        "log/imap.log",
        "log/imapold.log",
        "log/imaps.log",
    ];
    const PID_FILES: &'static [&'static str] = &[PIDS_FILE];
    // Courier with authuserdb has no proxy login.
    const HAS_MASTER: bool = false;

    type Configured = ();

    /// authdaemond's socket is machine-wide: one private Courier per machine.
    fn check_machine() -> Result<()> {
        if UnixStream::connect(AUTHDAEMON_SOCKET).is_ok() {
            return Err(HarnessError(format!(
                "another courier authdaemond answers on {AUTHDAEMON_SOCKET} (a system \
                 courier-authdaemon?); stop it first (authdaemond stop)"
            )));
        }
        Ok(())
    }

    fn configure(setup: &Setup) -> Result<()> {
        let home = &setup.home;
        // couriertls wants key and certificate in one PEM, readable by group courier.
        let pem = home.join("imapd.pem");
        let key_pem = fs::read_to_string(&setup.certs.leaf_key)
            .map_err(|e| HarnessError::io("reading key", e))?;
        let leaf_pem = fs::read_to_string(&setup.certs.leaf_cert)
            .map_err(|e| HarnessError::io("reading leaf", e))?;
        write(&pem, format!("{key_pem}{leaf_pem}"))?;
        run_checked(Command::new("chgrp").arg("courier").arg(&pem))?;
        fs::set_permissions(&pem, fs::Permissions::from_mode(0o640))
            .map_err(|e| HarnessError::io("chmod imapd.pem", e))?;

        let uid = id_of("-u", "vmail")?;
        let gid = id_of("-g", "vmail")?;
        for (user, quota) in server::USERS {
            let password = setup
                .users
                .get(*user)
                .ok_or_else(|| HarnessError(format!("no password was generated for {user}")))?;
            let user_home = home.join("mail").join(user);
            let maildir = user_home.join("Maildir");
            server::mkdir(&user_home)?;
            run_checked(Command::new("maildirmake.courier").arg(&maildir))?;
            let quota = match quota {
                Quota::Small => SMALL_QUOTA,
                Quota::Default => DEFAULT_QUOTA,
            };
            run_checked(
                Command::new("maildirmake.courier")
                    .args(["-q", quota])
                    .arg(&maildir),
            )?;
            run_checked(
                Command::new("userdb")
                    .arg(user)
                    .arg("set")
                    .arg(format!("uid={uid}"))
                    .arg(format!("gid={gid}"))
                    .arg(format!("home={}", user_home.display()))
                    .arg(format!("mail={}", maildir.display())),
            )?;
            let hash = server::run_with_input(
                Command::new("userdbpw").arg("-md5"),
                &format!("{password}\n{password}\n"),
            )?;
            server::run_with_input(
                Command::new("userdb").arg(user).args(["set", "systempw"]),
                &hash,
            )?;
        }
        fs::set_permissions(USERDB, fs::Permissions::from_mode(0o600))
            .map_err(|e| HarnessError::io(format_args!("chmod {USERDB}"), e))?;
        run_checked(&mut Command::new("makeuserdb"))?;
        run_checked(
            Command::new("chown")
                .args(["-R", "vmail:vmail"])
                .arg(home.join("mail")),
        )?;
        enable_authuserdb()
    }

    /// authdaemond, then one `couriertcpd` per listener; each pid goes into
    /// `courier.pids` as it starts. The main listener's pid is the server's.
    fn launch(setup: &Setup, _: &(), children: &mut Vec<Child>) -> Result<u32> {
        let home = &setup.home;
        let pkg = setup
            .pkg
            .as_ref()
            .ok_or_else(|| HarnessError("courier-imap was not unpacked".into()))?;
        let ports = &setup.ports;
        let mut pids = String::new();
        let mut record = |name: &str, child: Child, children: &mut Vec<Child>| {
            pids.push_str(&format!("{name} {}\n", child.id()));
            children.push(child);
            write(&home.join(PIDS_FILE), &pids)
        };
        let auth = server::spawn_logged(
            Command::new(AUTHDAEMON_BIN).env_clear().env("PATH", PATH),
            &home.join("log/authdaemond.log"),
        )?;
        record("authdaemond", auth, children)?;
        wait_for_authdaemon(Duration::from_secs(10))?;
        let mut main = None;
        for (name, host, port, personality) in [
            ("imap", harness::HOST, ports.port, Personality::Main),
            (
                "imapold",
                harness::OLD_HOST,
                ports.old_port,
                Personality::Old,
            ),
            (
                "imaps",
                harness::HOST,
                ports.imaps_port,
                Personality::ImplicitTls,
            ),
        ] {
            let child = server::spawn_logged(
                Command::new("/bin/sh")
                    .env_clear()
                    .env("PATH", PATH)
                    .arg("-c")
                    .arg(listener_script(home, pkg, host, port, personality)),
                &home.join(format!("log/{name}.log")),
            )?;
            main = main.or(Some(child.id()));
            record(name, child, children)?;
        }
        main.ok_or_else(|| HarnessError("no courier listener started".into()))
    }

    /// The listeners and authdaemond as recorded in `courier.pids` (authdaemond
    /// runs from /usr and does not name the server's folder).
    fn recorded_pids(home: &Path) -> Vec<u32> {
        fs::read_to_string(home.join(PIDS_FILE))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1)?.parse().ok())
            .filter(|pid| server::process_alive(*pid))
            .collect()
    }
}

/// Where the server lives: `target/imapvm-courier`.
pub fn dir() -> PathBuf {
    harness::dir::<Courier>()
}

/// The running server's description, if it is running and answering.
pub fn status() -> Result<Option<ServerInfo>> {
    harness::status::<Courier>()
}

/// The running server, started first when it is not running. Concurrent
/// callers are serialised by a lock file; the server outlives the caller
/// (stop it with [`stop`] or `cargo xtask courier stop`).
pub fn ensure_running() -> Result<ServerInfo> {
    harness::ensure_running::<Courier>()
}

/// Start a fresh server (wiping any previous state) unless one is running,
/// and return it with the handles of the processes this call started
/// (authdaemond and three couriertcpd), so the caller can reap them after
/// [`stop`].
pub fn start() -> Result<(ServerInfo, Vec<Child>)> {
    harness::start::<Courier>()
}

/// Stop every process of the server (the listeners, the authentication
/// daemon, imapd sessions still open) and wait until they are gone; reap
/// `children` (from [`start`]). Returns the main listener's pid, or `None`
/// when nothing was running.
pub fn stop(children: Vec<Child>) -> Result<Option<u32>> {
    harness::stop::<Courier>(children)
}

/// Make sure Courier's pieces exist: `courier-base`, `courier-authdaemon`
/// and `courier-authlib-userdb` from apt (as root, with a policy-rc.d that
/// keeps services from starting), and the `courier-imap` `.deb`, cached
/// under `target/`. Returns the `.deb`.
pub fn ensure_installed() -> Result<PathBuf> {
    harness::ensure_installed::<Courier>()?
        .ok_or_else(|| HarnessError("no courier-imap package".into()))
}

const PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";

/// Which listener a `couriertcpd` is.
#[derive(Clone, Copy)]
enum Personality {
    /// STARTTLS on the main address.
    Main,
    /// STARTTLS with [`OLD_CAPABILITY`].
    Old,
    /// Implicit TLS through couriertls.
    ImplicitTls,
}

/// The shell line that reads the package's `imapd`/`imapd-ssl` settings
/// (as Courier's own init script does), overrides what the harness needs
/// and execs `couriertcpd` (so the child's pid is the listener's).
fn listener_script(
    home: &Path,
    pkg: &Path,
    address: &str,
    port: u16,
    personality: Personality,
) -> String {
    let r = pkg.display();
    let pem = home.join("imapd.pem");
    let (settings, program) = match personality {
        Personality::Main => ("IMAP_STARTTLS=YES;".to_string(), String::new()),
        Personality::Old => (
            format!(
                "IMAP_STARTTLS=YES; IMAP_CAPABILITY='{OLD_CAPABILITY}'; \
                 IMAP_CAPABILITY_TLS=\"$IMAP_CAPABILITY AUTH=PLAIN\";"
            ),
            String::new(),
        ),
        Personality::ImplicitTls => (
            "IMAP_TLS=1; TLS_CACHEFILE=;".to_string(),
            format!("{COURIERTLS} -server -tcpd "),
        ),
    };
    format!(
        "set -a; . {r}/etc/courier/imapd; . {r}/etc/courier/imapd-ssl; \
         {settings} IMAP_IDLE_TIMEOUT={IDLE_POLL_SECONDS}; TLS_CERTFILE={pem}; \
         exec {COURIERTCPD} -address={address} -nodnslookup -noidentlookup \
         -maxprocs=40 -maxperip=40 {port} {program}{r}/usr/lib/courier/courier/imaplogin \
         {r}/usr/bin/imapd Maildir",
        pem = pem.display(),
    )
}

fn wait_for_authdaemon(limit: Duration) -> Result<()> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if UnixStream::connect(AUTHDAEMON_SOCKET).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(HarnessError(format!(
        "authdaemond did not answer on {AUTHDAEMON_SOCKET} within {limit:?}"
    )))
}

/// Put `authuserdb` first in authdaemonrc's `authmodulelist` (only that line
/// changes, and only when the module is missing).
fn enable_authuserdb() -> Result<()> {
    let text = fs::read_to_string(AUTHDAEMON_RC)
        .map_err(|e| HarnessError::io(format_args!("reading {AUTHDAEMON_RC}"), e))?;
    if let Some(changed) = with_authuserdb(&text) {
        write(Path::new(AUTHDAEMON_RC), changed)?;
    }
    Ok(())
}

/// `text` (an authdaemonrc) with `authuserdb` added to the front of its
/// `authmodulelist`, or `None` when it is already listed (or there is no
/// such line: authlib's default list then includes it).
fn with_authuserdb(text: &str) -> Option<String> {
    let mut changed = false;
    let mut out = String::with_capacity(text.len() + 16);
    for line in text.lines() {
        match line.strip_prefix("authmodulelist=\"") {
            Some(rest) if !rest.split(['"', ' ']).any(|m| m == "authuserdb") => {
                out.push_str("authmodulelist=\"authuserdb ");
                out.push_str(rest);
                changed = true;
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    changed.then_some(out)
}

fn id_of(flag: &str, user: &str) -> Result<u32> {
    let out = run_checked(Command::new("id").arg(flag).arg(user))?;
    out.trim()
        .parse()
        .map_err(|e| HarnessError(format!("id {flag} {user}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEBIAN_RC: &str = "##NAME: authmodulelist:2\n\
        authmodulelist=\"authpam\"\n\
        authmodulelistorig=\"authuserdb authpam authpgsql\"\n\
        daemons=5\n";

    #[test]
    fn the_maildir_quotas_are_the_shared_quotas_in_bytes() {
        let (kib, messages) = server::SMALL_QUOTA;
        assert_eq!(SMALL_QUOTA, format!("{}S,{messages}C", kib * 1024));
        assert_eq!(
            DEFAULT_QUOTA,
            format!("{}S", u64::from(server::DEFAULT_QUOTA_KIB) * 1024)
        );
    }

    #[test]
    fn authuserdb_is_added_to_the_module_list_and_nothing_else_changes() {
        let changed = with_authuserdb(DEBIAN_RC).expect("changed");
        assert_eq!(
            changed,
            DEBIAN_RC.replace(
                "authmodulelist=\"authpam\"",
                "authmodulelist=\"authuserdb authpam\""
            )
        );
        // Idempotent: a second start leaves the file alone.
        assert_eq!(with_authuserdb(&changed), None);
    }

    #[test]
    fn a_list_that_has_authuserdb_is_left_alone() {
        assert_eq!(
            with_authuserdb("authmodulelist=\"authpam authuserdb\"\n"),
            None
        );
        assert_eq!(with_authuserdb("daemons=5\n"), None);
    }

    #[test]
    fn the_implicit_tls_listener_wraps_imaplogin_in_couriertls() {
        let home = Path::new("/h");
        let pkg = Path::new("/h/pkg");
        let tls = listener_script(home, pkg, "127.0.0.1", 993, Personality::ImplicitTls);
        assert!(tls.contains("IMAP_TLS=1;"), "{tls}");
        assert!(
            tls.contains("993 /usr/bin/couriertls -server -tcpd /h/pkg/usr/lib/courier/courier/imaplogin /h/pkg/usr/bin/imapd Maildir"),
            "{tls}"
        );
        let old = listener_script(home, pkg, "127.0.0.2", 143, Personality::Old);
        assert!(
            old.contains(&format!("IMAP_CAPABILITY='{OLD_CAPABILITY}'")),
            "{old}"
        );
        assert!(old.contains("-address=127.0.0.2 "), "{old}");
        assert!(!OLD_CAPABILITY.contains("UIDPLUS"));
        let main = listener_script(home, pkg, "127.0.0.1", 143, Personality::Main);
        assert!(
            main.contains("IMAP_STARTTLS=YES;") && !main.contains("IMAP_CAPABILITY="),
            "{main}"
        );
        assert!(
            main.contains(&format!("IMAP_IDLE_TIMEOUT={IDLE_POLL_SECONDS};")),
            "{main}"
        );
    }
}
