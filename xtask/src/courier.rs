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
//! [`crate::dovecot::USERS`] with random passwords and maildirs under
//! `mail/`; `vm5678` has a maildir++ quota of 200 KiB / 20 messages, the
//! others 1 GiB. Courier with authuserdb has no master user: `master` is
//! `None` in the [`ServerInfo`].

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::dovecot;
use crate::server::{self, DirLock, HarnessError, Result, ServerInfo, mkdir, run_checked, write};

/// The capabilities the old personality advertises: Courier's own list
/// without UIDPLUS (it has no MOVE, CONDSTORE or NOTIFY to take away).
pub const OLD_CAPABILITY: &str =
    "IMAP4rev1 CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT THREAD=REFERENCES SORT QUOTA IDLE";

/// How often an IDLE session looks for new mail (`IMAP_IDLE_TIMEOUT`):
/// Courier polls, so this bounds the push latency.
pub const IDLE_POLL_SECONDS: u32 = 2;

/// The small-quota user's maildir++ quota: 200 KiB, 20 messages.
pub const SMALL_QUOTA: &str = "204800S,20C";

/// Everybody else's maildir++ quota: 1 GiB.
pub const DEFAULT_QUOTA: &str = "1073741824S";

const AUTHDAEMON_BIN: &str = "/usr/lib/courier/courier-authlib/authdaemond";
const AUTHDAEMON_RC: &str = "/etc/courier/authdaemonrc";
const AUTHDAEMON_SOCKET: &str = "/run/courier/authdaemon/socket";
const COURIERTCPD: &str = "/usr/sbin/couriertcpd";
const COURIERTLS: &str = "/usr/bin/couriertls";
const USERDB: &str = "/etc/courier/userdb";
const LOCK: &str = "imapvm-courier.lock";
const PIDS_FILE: &str = "courier.pids";

/// Where the server lives: `target/imapvm-courier`.
pub fn dir() -> PathBuf {
    server::target_dir().join("imapvm-courier")
}

fn info_path(dir: &Path) -> PathBuf {
    dir.join("server.json")
}

/// The running server's description, if it is running and answering.
pub fn status() -> Result<Option<ServerInfo>> {
    server::running_info(&info_path(&dir()))
}

/// The running server, started first when it is not running. Concurrent
/// callers are serialised by a lock file; the server outlives the caller
/// (stop it with [`stop`] or `cargo xtask courier stop`).
pub fn ensure_running() -> Result<ServerInfo> {
    let _lock = DirLock::acquire(&server::target_dir().join(LOCK))?;
    if let Some(info) = status()? {
        return Ok(info);
    }
    let (info, _children) = start_fresh()?;
    // The child handles are dropped, not killed: the server keeps running.
    Ok(info)
}

/// Start a fresh server (wiping any previous state) unless one is running,
/// and return it with the handles of the processes this call started
/// (authdaemond and three couriertcpd), so the caller can reap them after
/// [`stop`].
pub fn start() -> Result<(ServerInfo, Vec<Child>)> {
    let _lock = DirLock::acquire(&server::target_dir().join(LOCK))?;
    if let Some(info) = status()? {
        return Ok((info, Vec::new()));
    }
    start_fresh()
}

/// Stop every process of the server (the listeners, the authentication
/// daemon, imapd sessions still open) and wait until they are gone; reap
/// `children` (from [`start`]). Returns the main listener's pid, or `None`
/// when nothing was running.
pub fn stop(children: Vec<Child>) -> Result<Option<u32>> {
    let _lock = DirLock::acquire(&server::target_dir().join(LOCK))?;
    let dir = dir();
    let path = info_path(&dir);
    let info = server::read_info(&path)?;
    let _ = fs::remove_file(&path);
    let home = info
        .as_ref()
        .map(|i| i.dir.clone())
        .unwrap_or_else(|| dir.clone());
    let stopped = info
        .as_ref()
        .map(|i| i.pid)
        .filter(|pid| server::process_alive(*pid));
    let left = stop_processes(&home);
    server::reap(children);
    if !left.is_empty() {
        return Err(HarnessError(format!(
            "courier processes left after stop: {left:?}"
        )));
    }
    Ok(stopped)
}

/// TERM the recorded listeners and authdaemond, then whatever still runs
/// from `home`; returns survivors.
fn stop_processes(home: &Path) -> Vec<u32> {
    let recorded: Vec<u32> = fs::read_to_string(home.join(PIDS_FILE))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1)?.parse().ok())
        .filter(|pid| server::process_alive(*pid))
        .collect();
    let mut left = server::terminate_all(&recorded, Duration::from_secs(10));
    let stray = server::processes_under(home);
    left.extend(server::terminate_all(&stray, Duration::from_secs(5)));
    let _ = fs::remove_file(home.join(PIDS_FILE));
    left
}

/// Make sure Courier's pieces exist: `courier-base`, `courier-authdaemon`
/// and `courier-authlib-userdb` from apt (as root, with a policy-rc.d that
/// keeps services from starting), and the `courier-imap` `.deb`, cached
/// under `target/`. Returns the `.deb`.
pub fn ensure_installed() -> Result<PathBuf> {
    let have = [
        AUTHDAEMON_BIN,
        COURIERTCPD,
        COURIERTLS,
        "/usr/sbin/userdb",
        "/usr/sbin/makeuserdb",
        "/usr/sbin/userdbpw",
        "/usr/bin/maildirmake.courier",
    ]
    .iter()
    .all(|p| Path::new(p).exists());
    if !have {
        if server::euid() != 0 {
            return Err(HarnessError(
                "courier is not installed. As root run: apt-get install -y \
                 --no-install-recommends courier-base courier-authdaemon courier-authlib-userdb \
                 (with a /usr/sbin/policy-rc.d that exits 101 so nothing starts as a system \
                 service)"
                    .into(),
            ));
        }
        dovecot::install_debian_packages(&[
            "courier-base",
            "courier-authdaemon",
            "courier-authlib-userdb",
        ])?;
    }
    server::cached_deb("courier-imap", None)
}

fn start_fresh() -> Result<(ServerInfo, Vec<Child>)> {
    let deb = ensure_installed()?;
    if server::euid() != 0 {
        return Err(HarnessError(
            "the private Courier must be started as root (it edits /etc/courier and imapd \
             switches to the vmail user)"
                .into(),
        ));
    }
    server::ensure_system_user("vmail")?;
    let link = dir();
    let home = server::private_home("imapvm-courier", "mail/vmshared/Maildir");
    // Whatever an earlier instance left running goes first (authdaemond too:
    // its socket is machine-wide).
    let _ = stop_processes(&home);
    if UnixStream::connect(AUTHDAEMON_SOCKET).is_ok() {
        return Err(HarnessError(format!(
            "another courier authdaemond answers on {AUTHDAEMON_SOCKET} (a system \
             courier-authdaemon?); stop it first (authdaemond stop)"
        )));
    }
    server::fresh_home(&home, &link)?;
    for sub in ["log", "mail"] {
        mkdir(&home.join(sub))?;
    }
    let pkg = home.join("pkg");
    server::extract_deb(&deb, &pkg)?;

    let certs = server::generate_certs(&home)?;
    // couriertls wants key and certificate in one PEM, readable by group courier.
    let pem = home.join("imapd.pem");
    let key_pem =
        fs::read_to_string(&certs.leaf_key).map_err(|e| HarnessError::io("reading key", e))?;
    let leaf_pem =
        fs::read_to_string(&certs.leaf_cert).map_err(|e| HarnessError::io("reading leaf", e))?;
    write(&pem, format!("{key_pem}{leaf_pem}"))?;
    run_checked(Command::new("chgrp").arg("courier").arg(&pem))?;
    fs::set_permissions(&pem, fs::Permissions::from_mode(0o640))
        .map_err(|e| HarnessError::io("chmod imapd.pem", e))?;

    let uid = id_of("-u", "vmail")?;
    let gid = id_of("-g", "vmail")?;
    let mut users = BTreeMap::new();
    for (user, rule) in dovecot::USERS {
        let password = server::random_hex(12)?;
        let user_home = home.join("mail").join(user);
        let maildir = user_home.join("Maildir");
        mkdir(&user_home)?;
        run_checked(Command::new("maildirmake.courier").arg(&maildir))?;
        let quota = if rule.is_some() {
            SMALL_QUOTA
        } else {
            DEFAULT_QUOTA
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
        let hash = pipe(
            Command::new("userdbpw").arg("-md5"),
            &format!("{password}\n{password}\n"),
        )?;
        pipe(
            Command::new("userdb").arg(user).args(["set", "systempw"]),
            &hash,
        )?;
        users.insert((*user).to_string(), password);
    }
    fs::set_permissions(USERDB, fs::Permissions::from_mode(0o600))
        .map_err(|e| HarnessError::io(format_args!("chmod {USERDB}"), e))?;
    run_checked(&mut Command::new("makeuserdb"))?;
    run_checked(
        Command::new("chown")
            .args(["-R", "vmail:vmail"])
            .arg(home.join("mail")),
    )?;
    enable_authuserdb()?;

    let port = server::free_port("127.0.0.1")?;
    let imaps_port = loop {
        let p = server::free_port("127.0.0.1")?;
        if p != port {
            break p;
        }
    };
    let old_port = server::free_port("127.0.0.2")?;

    let mut children: Vec<Child> = Vec::new();
    let mut pids = String::new();
    let started = (|| -> Result<()> {
        let auth = spawn_logged(
            Command::new(AUTHDAEMON_BIN).env_clear().env("PATH", PATH),
            &home.join("log/authdaemond.log"),
        )?;
        pids.push_str(&format!("authdaemond {}\n", auth.id()));
        children.push(auth);
        wait_for_authdaemon(Duration::from_secs(10))?;
        for (name, script) in [
            (
                "imap",
                listener_script(&home, &pkg, "127.0.0.1", port, Personality::Main),
            ),
            (
                "imapold",
                listener_script(&home, &pkg, "127.0.0.2", old_port, Personality::Old),
            ),
            (
                "imaps",
                listener_script(
                    &home,
                    &pkg,
                    "127.0.0.1",
                    imaps_port,
                    Personality::ImplicitTls,
                ),
            ),
        ] {
            let child = spawn_logged(
                Command::new("/bin/sh")
                    .env_clear()
                    .env("PATH", PATH)
                    .arg("-c")
                    .arg(script),
                &home.join(format!("log/{name}.log")),
            )?;
            pids.push_str(&format!("{name} {}\n", child.id()));
            children.push(child);
        }
        write(&home.join(PIDS_FILE), &pids)?;
        for (host, p) in [("127.0.0.1", port), ("127.0.0.2", old_port)] {
            server::wait_for_greeting(server::socket_addr(host, p)?, Duration::from_secs(20))?;
        }
        server::wait_for_accept(
            server::socket_addr("127.0.0.1", imaps_port)?,
            Duration::from_secs(20),
        )
    })();
    if let Err(e) = started {
        let _ = write(&home.join(PIDS_FILE), &pids);
        let _ = stop_processes(&home);
        server::reap(children);
        let mut logs = String::new();
        for log in ["authdaemond", "imap", "imapold", "imaps"] {
            logs.push_str(
                &fs::read_to_string(home.join(format!("log/{log}.log"))).unwrap_or_default(),
            );
        }
        return Err(HarnessError(format!(
            "courier did not come up: {e}\n{logs}"
        )));
    }
    let pid = children.get(1).map(Child::id).unwrap_or_default();

    let voicemail_conf = home.join("voicemail.conf");
    let voicemail_conf_old = home.join("voicemail-old.conf");
    write(
        &voicemail_conf,
        server::voicemail_conf_text(
            "Courier",
            "courier",
            "127.0.0.1",
            port,
            &certs.ca_cert,
            &users,
        ),
    )?;
    write(
        &voicemail_conf_old,
        server::voicemail_conf_text(
            "Courier",
            "courier",
            "127.0.0.2",
            old_port,
            &certs.ca_cert,
            &users,
        ),
    )?;

    let info = ServerInfo {
        server: "courier".into(),
        host: "127.0.0.1".into(),
        port,
        imaps_port,
        old_host: "127.0.0.2".into(),
        old_port,
        cert: certs.ca_cert,
        leaf_cert: certs.leaf_cert,
        users,
        master: None,
        voicemail_conf,
        voicemail_conf_old,
        pid,
        dir: home.clone(),
    };
    server::write_info(&info_path(&home), &info)?;
    Ok((info, children))
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

fn spawn_logged(cmd: &mut Command, log: &Path) -> Result<Child> {
    let out = fs::File::create(log)
        .map_err(|e| HarnessError::io(format_args!("{}", log.display()), e))?;
    let err = out
        .try_clone()
        .map_err(|e| HarnessError::io("log file", e))?;
    cmd.stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        // Its own process group: a Ctrl-C on the test run does not kill it half-way.
        .process_group(0)
        .spawn()
        .map_err(|e| HarnessError::io(format_args!("starting {cmd:?}"), e))
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

/// Run `cmd` with `input` on stdin; return its stdout.
fn pipe(cmd: &mut Command, input: &str) -> Result<String> {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| HarnessError::io(format_args!("running {cmd:?}"), e))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input.as_bytes())
            .map_err(|e| HarnessError::io(format_args!("writing to {cmd:?}"), e))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| HarnessError::io(format_args!("waiting for {cmd:?}"), e))?;
    if !out.status.success() {
        return Err(HarnessError(format!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEBIAN_RC: &str = "##NAME: authmodulelist:2\n\
        authmodulelist=\"authpam\"\n\
        authmodulelistorig=\"authuserdb authpam authpgsql\"\n\
        daemons=5\n";

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
