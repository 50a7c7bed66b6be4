//! A private Cyrus IMAP 3.6 on loopback for the tests: the `/` hierarchy server.
//!
//! Everything lives in `target/imapvm-cyrus/` (configs, sasldb, spool, logs,
//! certificates, the unpacked `cyrus-imapd` package, `server.json`); nothing
//! from `/etc/imapd.conf` or `/etc/cyrus.conf` is read. Debian's
//! `cyrus-imapd` conflicts with `dovecot-imapd`, so only `cyrus-common`
//! (master, ctl_cyrusdb) and `sasl2-bin` are installed; `imapd` and `idled`
//! come from the `cyrus-imapd` `.deb`, fetched once with `apt-get download`
//! into `target/imapvm-debs/` and unpacked into the server's directory.
//!
//! It listens on free ports it picks:
//!
//! * `127.0.0.1:port`: IMAP with STARTTLS (plain login allowed, for tests);
//! * `127.0.0.1:imaps_port`: implicit TLS;
//! * `127.0.0.2:old_port`: the same store with an "old server" personality,
//!   an `imapd` with its own config that suppresses [`OLD_SUPPRESSED`].
//!
//! `unixhierarchysep: yes`, so the personal namespace is `INBOX/` with `/`
//! (`INBOX/Work`). `idled` runs, so IDLE pushes within milliseconds instead
//! of polling. Users come from a sasldb (the same names as
//! [`crate::dovecot::USERS`], random passwords); `vm5678` has the small quota
//! (200 KiB, 20 messages), the others 1 GiB; [`crate::dovecot::MASTER_USER`]
//! is a `proxyservers:` user that logs in on behalf of anyone with SASL PLAIN
//! and an authorization identity (Cyrus has no `user*master` LOGIN).

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::dovecot::{self, MASTER_USER};
use crate::server::{
    self, DirLock, HarnessError, MasterUser, Result, ServerInfo, mkdir, run_checked, write,
};

/// The Cyrus administrator (creates the mailboxes and sets quotas at start).
pub const ADMIN_USER: &str = "cyrusadmin";

/// What the old personality suppresses from CAPABILITY (`XMOVE` is Cyrus's
/// pre-RFC name for MOVE). Cyrus has no NOTIFY at all.
pub const OLD_SUPPRESSED: &str = "UIDPLUS MOVE XMOVE CONDSTORE QRESYNC";

/// The small-quota user's limits: storage in KiB, and messages.
pub const SMALL_QUOTA: (u32, u32) = (200, 20);

/// Everybody else's storage quota in KiB (1 GiB, like the Dovecot default).
pub const DEFAULT_QUOTA_KIB: u32 = 1_048_576;

const MASTER_BIN: &str = "/usr/lib/cyrus/bin/master";
const LOCK: &str = "imapvm-cyrus.lock";

/// Where the server lives: `target/imapvm-cyrus`.
pub fn dir() -> PathBuf {
    server::target_dir().join("imapvm-cyrus")
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
/// (stop it with [`stop`] or `cargo xtask cyrus stop`).
pub fn ensure_running() -> Result<ServerInfo> {
    let _lock = DirLock::acquire(&server::target_dir().join(LOCK))?;
    if let Some(info) = status()? {
        return Ok(info);
    }
    let (info, _child) = start_fresh()?;
    // The child handle is dropped, not killed: the server keeps running.
    Ok(info)
}

/// Start a fresh server (wiping any previous state) unless one is running,
/// and return it with the handles of the processes this call started (the
/// Cyrus master), so the caller can reap them after [`stop`].
pub fn start() -> Result<(ServerInfo, Vec<Child>)> {
    let _lock = DirLock::acquire(&server::target_dir().join(LOCK))?;
    if let Some(info) = status()? {
        return Ok((info, Vec::new()));
    }
    let (info, child) = start_fresh()?;
    Ok((info, vec![child]))
}

/// Stop the server and wait until none of its processes is left; reap
/// `children` (from [`start`]). Returns the master's pid, or `None` when
/// nothing was running.
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
    let mut stopped = None;
    if let Some(info) = &info
        && server::process_alive(info.pid)
    {
        // The master takes its services (imapd, idled) down with it.
        let left = server::terminate_all(&[info.pid], Duration::from_secs(15));
        if !left.is_empty() {
            return Err(HarnessError(format!(
                "cyrus master {} did not stop",
                info.pid
            )));
        }
        stopped = Some(info.pid);
    }
    let stray = server::processes_under(&home);
    let left = server::terminate_all(&stray, Duration::from_secs(5));
    server::reap(children);
    let _ = fs::remove_file(home.join("master.pid"));
    if !left.is_empty() {
        return Err(HarnessError(format!(
            "cyrus processes left after stop: {left:?}"
        )));
    }
    Ok(stopped)
}

/// Make sure Cyrus's pieces exist: `cyrus-common` and `sasl2-bin` from apt
/// (as root, with a policy-rc.d that keeps services from starting), and the
/// `cyrus-imapd` `.deb` matching `cyrus-common`, cached under `target/`.
/// Returns the `.deb`.
pub fn ensure_installed() -> Result<PathBuf> {
    let have = Path::new(MASTER_BIN).exists() && Path::new("/usr/sbin/saslpasswd2").exists();
    if !have {
        if server::euid() != 0 {
            return Err(HarnessError(
                "cyrus-common is not installed. As root run: apt-get install -y \
                 --no-install-recommends cyrus-common sasl2-bin (with a /usr/sbin/policy-rc.d \
                 that exits 101 so nothing starts as a system service)"
                    .into(),
            ));
        }
        dovecot::install_debian_packages(&["cyrus-common", "sasl2-bin"])?;
    }
    // imapd is best built together with the installed master; when apt no
    // longer has that exact version (a newer security update), its candidate.
    let version = server::installed_version("cyrus-common");
    server::cached_deb("cyrus-imapd", version.as_deref())
        .or_else(|_| server::cached_deb("cyrus-imapd", None))
}

fn start_fresh() -> Result<(ServerInfo, Child)> {
    let deb = ensure_installed()?;
    if server::euid() != 0 {
        return Err(HarnessError(
            "the private Cyrus must be started as root (its master switches to the cyrus user)"
                .into(),
        ));
    }
    let link = dir();
    let home = server::private_home("imapvm-cyrus", "config/socket/idle.4194304");
    // Whatever a crashed earlier instance left running goes first.
    let _ = server::terminate_all(&server::processes_under(&home), Duration::from_secs(5));
    server::fresh_home(&home, &link)?;
    for sub in [
        "config/socket",
        "spool",
        "run/socket",
        "run/lock",
        "run/proc",
        "log",
    ] {
        mkdir(&home.join(sub))?;
    }
    let pkg = home.join("pkg");
    server::extract_deb(&deb, &pkg)?;
    let bin = pkg.join("usr/lib/cyrus/bin");

    let certs = server::generate_certs(&home)?;
    // Served as a chain: leaf first, then the CA.
    let chain = home.join("chain.pem");
    let leaf_pem =
        fs::read_to_string(&certs.leaf_cert).map_err(|e| HarnessError::io("reading leaf", e))?;
    let ca_pem =
        fs::read_to_string(&certs.ca_cert).map_err(|e| HarnessError::io("reading CA", e))?;
    write(&chain, format!("{leaf_pem}{ca_pem}"))?;

    let mut users = BTreeMap::new();
    for (user, _) in dovecot::USERS {
        users.insert((*user).to_string(), server::random_hex(12)?);
    }
    let master = MasterUser {
        user: MASTER_USER.into(),
        password: server::random_hex(12)?,
    };
    let admin_password = server::random_hex(12)?;
    let sasldb = home.join("sasldb2");
    let logins = users.iter().map(|(u, p)| (u.as_str(), p.as_str())).chain([
        (master.user.as_str(), master.password.as_str()),
        (ADMIN_USER, admin_password.as_str()),
    ]);
    for (user, password) in logins {
        saslpasswd(&sasldb, user, password)?;
    }

    let port = server::free_port("127.0.0.1")?;
    let imaps_port = loop {
        let p = server::free_port("127.0.0.1")?;
        if p != port {
            break p;
        }
    };
    let old_port = server::free_port("127.0.0.2")?;
    let conf = home.join("imapd.conf");
    let conf_old = home.join("imapd-old.conf");
    let main_conf = imapd_conf(&home, &chain, &certs.leaf_key);
    write(&conf, &main_conf)?;
    write(
        &conf_old,
        format!(
            "{main_conf}# The \"old server\" personality (127.0.0.2): same store, fewer capabilities.\n\
             suppress_capabilities: {OLD_SUPPRESSED}\n"
        ),
    )?;
    let cyrus_conf = home.join("cyrus.conf");
    write(
        &cyrus_conf,
        cyrus_conf_text(&bin, &conf, &conf_old, port, imaps_port, old_port),
    )?;
    run_checked(Command::new("chown").args(["-R", "cyrus:mail"]).arg(&home))?;

    let stdout = fs::File::create(home.join("log/stdout.log"))
        .map_err(|e| HarnessError::io("log file", e))?;
    let stderr = stdout
        .try_clone()
        .map_err(|e| HarnessError::io("log file", e))?;
    let child = Command::new(MASTER_BIN)
        .arg("-C")
        .arg(&conf)
        .arg("-M")
        .arg(&cyrus_conf)
        .arg("-p")
        .arg(home.join("master.pid"))
        .arg("-L")
        .arg(home.join("log/master.log"))
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        // Its own process group: a Ctrl-C on the test run does not kill it half-way.
        .process_group(0)
        .spawn()
        .map_err(|e| HarnessError::io("starting the cyrus master", e))?;
    let pid = child.id();

    let fail = |e: HarnessError| {
        let log = fs::read_to_string(home.join("log/master.log")).unwrap_or_default();
        let _ = server::terminate_all(&[pid], Duration::from_secs(5));
        let _ = server::terminate_all(&server::processes_under(&home), Duration::from_secs(5));
        HarnessError(format!("cyrus did not come up: {e}\n{log}"))
    };
    for (host, p) in [("127.0.0.1", port), ("127.0.0.2", old_port)] {
        server::wait_for_greeting(server::socket_addr(host, p)?, Duration::from_secs(20))
            .map_err(fail)?;
    }
    server::wait_for_accept(
        server::socket_addr("127.0.0.1", imaps_port)?,
        Duration::from_secs(20),
    )
    .map_err(fail)?;

    // Every user gets an INBOX and a quota now, so the first test sees them.
    let mut commands = Vec::new();
    for (user, rule) in dovecot::USERS {
        commands.push(format!("CREATE user/{user}"));
        commands.push(match rule {
            Some(_) => format!(
                "SETQUOTA user/{user} (STORAGE {} MESSAGE {})",
                SMALL_QUOTA.0, SMALL_QUOTA.1
            ),
            None => format!("SETQUOTA user/{user} (STORAGE {DEFAULT_QUOTA_KIB})"),
        });
    }
    server::admin_session(
        server::socket_addr("127.0.0.1", port)?,
        ADMIN_USER,
        &admin_password,
        &commands,
    )
    .map_err(fail)?;

    let voicemail_conf = home.join("voicemail.conf");
    let voicemail_conf_old = home.join("voicemail-old.conf");
    write(
        &voicemail_conf,
        server::voicemail_conf_text("Cyrus", "cyrus", "127.0.0.1", port, &certs.ca_cert, &users),
    )?;
    write(
        &voicemail_conf_old,
        server::voicemail_conf_text(
            "Cyrus",
            "cyrus",
            "127.0.0.2",
            old_port,
            &certs.ca_cert,
            &users,
        ),
    )?;

    let info = ServerInfo {
        server: "cyrus".into(),
        host: "127.0.0.1".into(),
        port,
        imaps_port,
        old_host: "127.0.0.2".into(),
        old_port,
        cert: certs.ca_cert,
        leaf_cert: certs.leaf_cert,
        users,
        master: Some(master),
        voicemail_conf,
        voicemail_conf_old,
        pid,
        dir: home.clone(),
    };
    server::write_info(&info_path(&home), &info)?;
    Ok((info, child))
}

/// Add `user` to the sasldb (realm `localhost`, the `servername`).
fn saslpasswd(sasldb: &Path, user: &str, password: &str) -> Result<()> {
    use std::io::Write;
    let mut child = Command::new("saslpasswd2")
        .args(["-p", "-c", "-u", "localhost", "-f"])
        .arg(sasldb)
        .arg(user)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| HarnessError::io("running saslpasswd2", e))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(password.as_bytes())
            .map_err(|e| HarnessError::io("writing to saslpasswd2", e))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| HarnessError::io("waiting for saslpasswd2", e))?;
    if !out.status.success() {
        return Err(HarnessError(format!(
            "saslpasswd2 {user} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

fn imapd_conf(home: &Path, chain: &Path, key: &Path) -> String {
    let d = home.display();
    format!(
        r#"# Private Cyrus for imapvm's tests, written by `cargo xtask cyrus start`.
configdirectory: {d}/config
partition-default: {d}/spool
defaultpartition: default
proc_path: {d}/run/proc
mboxname_lockpath: {d}/run/lock
lmtpsocket: {d}/run/socket/lmtp
notifysocket: {d}/run/socket/notify
# imapd binds its IDLE client socket at {{configdirectory}}/socket/idle.<pid> (hard-coded).
idlesocket: {d}/config/socket/idle
imapidlepoll: 2
servername: localhost
# '/' as the hierarchy separator: INBOX/Work.
unixhierarchysep: yes
altnamespace: no
admins: {ADMIN_USER}
# The master user: AUTHENTICATE PLAIN with an authorization identity.
proxyservers: {MASTER_USER}
# Tests log in over plain loopback too (imapflags=notls); TLS is offered and tested.
allowplaintext: yes
sasl_pwcheck_method: auxprop
sasl_auxprop_plugin: sasldb
sasl_sasldb_path: {d}/sasldb2
sasl_mech_list: PLAIN LOGIN
# An INBOX made on first login gets the default quota; set-up sets them all anyway.
autocreate_quota: {DEFAULT_QUOTA_KIB}
tls_server_cert: {chain}
tls_server_key: {key}
umask: 077
"#,
        chain = chain.display(),
        key = key.display(),
    )
}

fn cyrus_conf_text(
    bin: &Path,
    conf: &Path,
    conf_old: &Path,
    port: u16,
    imaps_port: u16,
    old_port: u16,
) -> String {
    let b = bin.display();
    let c = conf.display();
    let o = conf_old.display();
    format!(
        r#"# Private Cyrus for imapvm's tests, written by `cargo xtask cyrus start`.
START {{
  recover cmd="ctl_cyrusdb -C {c} -r"
}}
SERVICES {{
  imap    cmd="{b}/imapd -C {c}" listen="127.0.0.1:{port}" prefork=0
  imaps   cmd="{b}/imapd -s -C {c}" listen="127.0.0.1:{imaps_port}" prefork=0
  imapold cmd="{b}/imapd -C {o}" listen="127.0.0.2:{old_port}" prefork=0
}}
EVENTS {{
}}
DAEMON {{
  idled cmd="{b}/idled -C {c}"
}}
"#
    )
}
