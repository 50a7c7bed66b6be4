//! A private Dovecot on loopback for the tests and the demo.
//!
//! Everything lives in `target/imapvm-dovecot/` (config, maildirs, logs,
//! certificates, pid, `server.json`); nothing from `/etc/dovecot` is read.
//! It listens on free ports it picks:
//!
//! * `127.0.0.1:port`: IMAP with STARTTLS (plain login allowed, for tests);
//! * `127.0.0.1:imaps_port`: implicit TLS;
//! * `127.0.0.2:old_port`: the same store with an "old server" personality
//!   that does not advertise UIDPLUS, MOVE, NOTIFY or CONDSTORE.
//!
//! Users come from a passwd-file (`vm1234`, `vm4321`, `vm5678` with a small
//! quota, `vmshared`), with a master user for proxy logins (`user*master`
//! with LOGIN, or SASL PLAIN with an authorization identity, as Asterisk's
//! `authuser` does). Plugins: quota + imap_quota, IDLE, NOTIFY (mailbox list
//! index), mail_log. [`start`] also writes a `voicemail.conf` that points at
//! this server.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::server::{
    self, DirLock, HarnessError, MasterUser, Result, ServerInfo, mkdir, run_checked, write,
};

/// The IMAP users of the private server, and the quota rules of each
/// (`None`: the default, generous quota).
pub const USERS: &[(&str, Option<&str>)] = &[
    ("vm1234", None),
    ("vm4321", None),
    (
        "vm5678",
        Some("userdb_quota_rule=*:storage=200K userdb_quota_rule2=*:messages=20"),
    ),
    ("vmshared", None),
];

/// The master user's login name.
pub const MASTER_USER: &str = "vmmaster";

/// The capabilities the old personality advertises (no UIDPLUS, MOVE,
/// NOTIFY, CONDSTORE). Dovecot still executes those commands; only the
/// advertisement changes, which is what a client decides on.
pub const OLD_CAPABILITY: &str =
    "IMAP4rev1 SASL-IR LITERAL+ ID ENABLE IDLE NAMESPACE CHILDREN UNSELECT QUOTA";

/// Where the server lives: `target/imapvm-dovecot`.
pub fn dir() -> PathBuf {
    server::target_dir().join("imapvm-dovecot")
}

fn info_path(dir: &Path) -> PathBuf {
    dir.join("server.json")
}

/// The running server's description, if it is running and answering.
pub fn status() -> Result<Option<ServerInfo>> {
    let path = info_path(&dir());
    let Ok(text) = fs::read_to_string(&path) else {
        return Ok(None);
    };
    let info: ServerInfo = serde_json::from_str(&text)
        .map_err(|e| HarnessError(format!("reading {}: {e}", path.display())))?;
    if !server::process_alive(info.pid) {
        return Ok(None);
    }
    let addr = format!("{}:{}", info.host, info.port)
        .parse()
        .map_err(|e| HarnessError(format!("bad address in {}: {e}", path.display())))?;
    match server::wait_for_greeting(addr, Duration::from_secs(2)) {
        Ok(()) => Ok(Some(info)),
        Err(_) => Ok(None),
    }
}

/// The running server, started first when it is not running. Concurrent
/// callers (several test binaries) are serialised by a lock file; the server
/// outlives the caller (stop it with [`stop`] or `cargo xtask dovecot stop`).
pub fn ensure_running() -> Result<ServerInfo> {
    let _lock = DirLock::acquire(&server::target_dir().join("imapvm-dovecot.lock"))?;
    if let Some(info) = status()? {
        return Ok(info);
    }
    let (info, _child) = start_fresh()?;
    // The child handle is dropped, not killed: the server keeps running.
    Ok(info)
}

/// Start a fresh server (wiping any previous state) and return it with the
/// master process's handle, so the caller can reap it after [`stop`].
pub fn start() -> Result<(ServerInfo, Option<Child>)> {
    let _lock = DirLock::acquire(&server::target_dir().join("imapvm-dovecot.lock"))?;
    if let Some(info) = status()? {
        return Ok((info, None));
    }
    let (info, child) = start_fresh()?;
    Ok((info, Some(child)))
}

/// Stop the server by pid and wait until it is gone. Returns what was
/// stopped, or `None` when nothing was running.
pub fn stop(child: Option<Child>) -> Result<Option<u32>> {
    let dir = dir();
    let path = info_path(&dir);
    let Ok(text) = fs::read_to_string(&path) else {
        return Ok(None);
    };
    let info: ServerInfo = serde_json::from_str(&text)
        .map_err(|e| HarnessError(format!("reading {}: {e}", path.display())))?;
    let _ = fs::remove_file(&path);
    if !server::process_alive(info.pid) {
        return Ok(None);
    }
    server::signal(info.pid, "TERM")?;
    if !server::wait_gone(info.pid, Duration::from_secs(15)) {
        server::signal(info.pid, "KILL")?;
        if !server::wait_gone(info.pid, Duration::from_secs(5)) {
            return Err(HarnessError(format!("dovecot {} did not stop", info.pid)));
        }
    }
    if let Some(mut child) = child {
        // Reap our own child so no zombie is left behind.
        let _ = child.wait();
    }
    let _ = fs::remove_file(info.dir.join("dovecot.pid"));
    Ok(Some(info.pid))
}

/// Make sure the `dovecot` binary exists: install Debian's `dovecot-imapd`
/// when running as root (with a policy-rc.d that keeps services from
/// starting), else explain how.
pub fn ensure_installed() -> Result<()> {
    if Path::new("/usr/sbin/dovecot").exists() {
        return Ok(());
    }
    if server::euid() != 0 {
        return Err(HarnessError(
            "dovecot is not installed. As root run: apt-get install -y --no-install-recommends \
             dovecot-imapd dovecot-core (with a /usr/sbin/policy-rc.d that exits 101 so it does not \
             start as a system service)"
                .into(),
        ));
    }
    install_debian_packages(&["dovecot-imapd", "dovecot-core"])
}

/// `apt-get install` the packages non-interactively, without starting services.
pub fn install_debian_packages(packages: &[&str]) -> Result<()> {
    let policy = Path::new("/usr/sbin/policy-rc.d");
    if !policy.exists() {
        write(policy, "#!/bin/sh\nexit 101\n")?;
        fs::set_permissions(policy, fs::Permissions::from_mode(0o755))
            .map_err(|e| HarnessError::io("chmod policy-rc.d", e))?;
    }
    run_checked(Command::new("apt-get").args(["update", "-qq"]))?;
    run_checked(
        Command::new("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(packages),
    )?;
    Ok(())
}

fn start_fresh() -> Result<(ServerInfo, Child)> {
    ensure_installed()?;
    if server::euid() != 0 {
        return Err(HarnessError(
            "the private Dovecot must be started as root (it switches to the vmail user for mail \
             and to dovecot/dovenull for its services)"
                .into(),
        ));
    }
    ensure_system_user("vmail")?;
    let home = home_dir()?;
    let link = dir();
    if home != link {
        // The real directory lives elsewhere (see `home_dir`); keep a link so
        // everything is still found under target/.
        let _ = fs::remove_file(&link);
        let _ = fs::remove_dir_all(&link);
        mkdir(link.parent().unwrap_or(Path::new(".")))?;
        std::os::unix::fs::symlink(&home, &link)
            .map_err(|e| HarnessError::io(format_args!("linking {}", link.display()), e))?;
    }
    if home.exists() {
        fs::remove_dir_all(&home)
            .map_err(|e| HarnessError::io(format_args!("wiping {}", home.display()), e))?;
    }
    for sub in ["run", "state", "mail", "log"] {
        mkdir(&home.join(sub))?;
    }
    fs::set_permissions(&home, fs::Permissions::from_mode(0o755))
        .map_err(|e| HarnessError::io("chmod server dir", e))?;
    run_checked(
        Command::new("chown")
            .args(["vmail:vmail"])
            .arg(home.join("mail")),
    )?;

    let certs = server::generate_certs(&home)?;
    // Dovecot serves the chain: leaf first, then the CA.
    let chain = home.join("chain.pem");
    let leaf_pem =
        fs::read_to_string(&certs.leaf_cert).map_err(|e| HarnessError::io("reading leaf", e))?;
    let ca_pem =
        fs::read_to_string(&certs.ca_cert).map_err(|e| HarnessError::io("reading CA", e))?;
    write(&chain, format!("{leaf_pem}{ca_pem}"))?;

    let mut users = BTreeMap::new();
    let mut passwd = String::new();
    for (user, extra) in USERS {
        let password = server::random_hex(12)?;
        passwd.push_str(&format!(
            "{user}:{{PLAIN}}{password}::::::{}\n",
            extra.unwrap_or("")
        ));
        users.insert((*user).to_string(), password);
    }
    let master = MasterUser {
        user: MASTER_USER.into(),
        password: server::random_hex(12)?,
    };
    write(&home.join("users"), passwd)?;
    write(
        &home.join("masters"),
        format!("{}:{{PLAIN}}{}\n", master.user, master.password),
    )?;
    for file in ["users", "masters"] {
        let path = home.join(file);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640))
            .map_err(|e| HarnessError::io("chmod passwd file", e))?;
        run_checked(Command::new("chgrp").arg("dovecot").arg(&path))?;
    }

    let port = server::free_port("127.0.0.1")?;
    let imaps_port = loop {
        let p = server::free_port("127.0.0.1")?;
        if p != port {
            break p;
        }
    };
    let old_port = server::free_port("127.0.0.2")?;
    let conf = home.join("dovecot.conf");
    write(
        &conf,
        dovecot_conf(&home, &chain, &certs.leaf_key, port, imaps_port, old_port),
    )?;
    run_checked(Command::new("doveconf").arg("-c").arg(&conf).arg("-n"))
        .map_err(|e| HarnessError(format!("the generated dovecot.conf is invalid: {e}")))?;

    let stdout = fs::File::create(home.join("log/stdout.log"))
        .map_err(|e| HarnessError::io("log file", e))?;
    let stderr = stdout
        .try_clone()
        .map_err(|e| HarnessError::io("log file", e))?;
    let child = Command::new("/usr/sbin/dovecot")
        .arg("-F")
        .arg("-c")
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        // Its own process group: a Ctrl-C on the test run does not kill it half-way.
        .process_group(0)
        .spawn()
        .map_err(|e| HarnessError::io("starting dovecot", e))?;
    let pid = child.id();
    write(&home.join("dovecot.pid"), format!("{pid}\n"))?;

    for (host, p) in [
        ("127.0.0.1", port),
        ("127.0.0.1", imaps_port),
        ("127.0.0.2", old_port),
    ] {
        let addr = format!("{host}:{p}")
            .parse()
            .map_err(|e| HarnessError(format!("{e}")))?;
        // The implicit-TLS port sends no plaintext greeting: just wait for it to accept.
        let ready = if p == imaps_port {
            wait_for_accept(addr, Duration::from_secs(20))
        } else {
            server::wait_for_greeting(addr, Duration::from_secs(20))
        };
        if let Err(e) = ready {
            let log = fs::read_to_string(home.join("log/dovecot.log")).unwrap_or_default();
            let _ = server::signal(pid, "KILL");
            return Err(HarnessError(format!("dovecot did not come up: {e}\n{log}")));
        }
    }

    let voicemail_conf = home.join("voicemail.conf");
    let voicemail_conf_old = home.join("voicemail-old.conf");
    write(
        &voicemail_conf,
        voicemail_conf_text("127.0.0.1", port, &certs.ca_cert, &users),
    )?;
    write(
        &voicemail_conf_old,
        voicemail_conf_text("127.0.0.2", old_port, &certs.ca_cert, &users),
    )?;

    let info = ServerInfo {
        server: "dovecot".into(),
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
    let json = serde_json::to_string_pretty(&info).map_err(|e| HarnessError(e.to_string()))?;
    write(&info_path(&home), json)?;
    Ok((info, child))
}

fn wait_for_accept(addr: std::net::SocketAddr, limit: Duration) -> Result<()> {
    server::wait_for_accept(addr, limit)
}

/// The real directory of the server. Normally `target/imapvm-dovecot`; when
/// that path is too long for Dovecot's unix sockets, or a parent folder is not
/// traversable by the `vmail`/`dovecot` users (a checkout under `/root`), a
/// folder under `/tmp` named after the target dir, linked from there.
fn home_dir() -> Result<PathBuf> {
    Ok(server::private_home(
        "imapvm-dovecot",
        "run/login/imap-urlauth-worker",
    ))
}

fn ensure_system_user(name: &str) -> Result<()> {
    server::ensure_system_user(name)
}

fn dovecot_conf(
    home: &Path,
    chain: &Path,
    key: &Path,
    port: u16,
    imaps_port: u16,
    old_port: u16,
) -> String {
    let d = home.display();
    let instance = home
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("imapvm-dovecot");
    format!(
        r#"# Private Dovecot for imapvm's tests and demo, written by `cargo xtask dovecot start`.
# Nothing from /etc/dovecot is read.
base_dir = {d}/run
state_dir = {d}/state
instance_name = {instance}
protocols = imap
listen = 127.0.0.1
log_path = {d}/log/dovecot.log
info_log_path = {d}/log/dovecot.log
auth_verbose = yes
ssl = yes
ssl_cert = <{chain}
ssl_key = <{key}
ssl_dh = </usr/share/dovecot/dh.pem
# Tests log in over plain loopback too (imapflags=notls); TLS is offered and tested.
disable_plaintext_auth = no
auth_mechanisms = plain login
# Master (proxy) logins: LOGIN "user*vmmaster", or SASL PLAIN with an authzid.
auth_master_user_separator = *
mail_location = maildir:~/Maildir
mail_uid = vmail
mail_gid = vmail
first_valid_uid = 1
first_valid_gid = 1
# NOTIFY needs the mailbox list index.
mailbox_list_index = yes
mail_plugins = $mail_plugins quota notify mail_log
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb {{
  driver = passwd-file
  master = yes
  args = scheme=PLAIN {d}/masters
  pass = yes
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%n {d}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%n {d}/users
  default_fields = home={d}/mail/%n
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imap_old {{
    # the "old server" personality: same store, fewer capabilities (see `local` below)
    address = 127.0.0.2
    port = {old_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
protocol imap {{
  mail_plugins = $mail_plugins imap_quota
  mail_max_userip_connections = 500
}}
# Scale runs (the MWI benchmark watches 1,000-10,000 users at once, `bulk_users`): room for
# many concurrent sessions; sessions idle in IDLE for 5 s hibernate into imap-hibernate.
default_client_limit = 30000
imap_hibernate_timeout = 5s
service imap {{
  process_limit = 12000
  unix_listener imap-master {{
    user = $default_internal_user
  }}
}}
service imap-hibernate {{
  client_limit = 30000
  unix_listener imap-hibernate {{
    mode = 0666
  }}
}}
local 127.0.0.2 {{
  protocol imap {{
    imap_capability = {OLD_CAPABILITY}
  }}
}}
plugin {{
  quota = maildir:User quota
  quota_rule = *:storage=1G
  quota_exceeded_message = Quota exceeded (mailbox full)
  mail_log_events = delete undelete expunge copy mailbox_delete mailbox_rename flag_change save
  mail_log_fields = uid box msgid size flags
}}
"#,
        chain = chain.display(),
        key = key.display(),
    )
}

fn voicemail_conf_text(
    host: &str,
    port: u16,
    ca: &Path,
    users: &BTreeMap<String, String>,
) -> String {
    server::voicemail_conf_text("Dovecot", "dovecot", host, port, ca, users)
}

/// IMAP users added for scale runs by [`bulk_users`], with a voicemail.conf for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkUsers {
    /// `(user, password)`, in order.
    pub users: Vec<(String, String)>,
    /// A voicemail.conf with one box per user: box `N` (1-based) in context `bulk` is user
    /// N, on the main listener without TLS (loopback; thousands of TLS handshakes would
    /// measure TLS, not the watcher).
    pub voicemail_conf: PathBuf,
}

/// Appends `count` users `{prefix}00001`... to the running server's passwd-file (users that
/// already exist keep their password; Dovecot re-reads the file when it changes) and writes
/// `bulk-{prefix}-{count}.conf`. The users' voicemail folder is INBOX.
pub fn bulk_users(info: &ServerInfo, prefix: &str, count: usize) -> Result<BulkUsers> {
    if prefix.is_empty() || !prefix.chars().all(|c| c.is_ascii_lowercase()) {
        return Err(HarnessError(format!(
            "bulk user prefix {prefix:?} must be lower-case ASCII letters"
        )));
    }
    let _lock = DirLock::acquire(&server::target_dir().join("imapvm-dovecot-users.lock"))?;
    let path = info.dir.join("users");
    let text = fs::read_to_string(&path).map_err(|e| HarnessError::io("reading users", e))?;
    let mut known: BTreeMap<String, String> = BTreeMap::new();
    for line in text.lines() {
        let mut fields = line.splitn(3, ':');
        if let (Some(user), Some(pass)) = (fields.next(), fields.next())
            && let Some(pw) = pass.strip_prefix("{PLAIN}")
        {
            known.insert(user.to_owned(), pw.to_owned());
        }
    }
    let mut users = Vec::with_capacity(count);
    let mut added = String::new();
    for n in 1..=count {
        let user = format!("{prefix}{n:05}");
        let password = match known.get(&user) {
            Some(pw) => pw.clone(),
            None => {
                let pw = server::random_hex(8)?;
                added.push_str(&format!("{user}:{{PLAIN}}{pw}::::::\n"));
                pw
            }
        };
        users.push((user, password));
    }
    if !added.is_empty() {
        let mut all = text;
        if !all.ends_with('\n') && !all.is_empty() {
            all.push('\n');
        }
        all.push_str(&added);
        // Write beside and rename: Dovecot never sees a half-written file.
        let tmp = info.dir.join("users.tmp");
        write(&tmp, all)?;
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o640))
            .map_err(|e| HarnessError::io("chmod passwd file", e))?;
        run_checked(Command::new("chgrp").arg("dovecot").arg(&tmp))?;
        fs::rename(&tmp, &path).map_err(|e| HarnessError::io("replacing users", e))?;
    }
    let mut conf = format!(
        "; {count} bulk users of imapvm's private Dovecot, written by xtask::dovecot::bulk_users.\n\
         [general]\nformat = wav\nserveremail = imapvm@vm.example.test\nimapserver = {host}\n\
         imapport = {port}\nimapflags = notls\nimapfolder = INBOX\nimapopentimeout = 30\n\
         imapreadtimeout = 30\nimapwritetimeout = 30\nimapclosetimeout = 5\n\
         pollmailboxes = yes\npollfreq = 30\n\n[bulk]\n",
        host = info.host,
        port = info.port,
    );
    for (n, (user, password)) in users.iter().enumerate() {
        conf.push_str(&format!(
            "{box_} => {box_},Bulk {box_},,,imapuser={user}|imappassword={password}\n",
            box_ = n + 1
        ));
    }
    let voicemail_conf = info.dir.join(format!("bulk-{prefix}-{count}.conf"));
    write(&voicemail_conf, conf)?;
    Ok(BulkUsers {
        users,
        voicemail_conf,
    })
}

/// Rewrites the running server's dovecot.conf from today's template (same ports and files)
/// and makes Dovecot reload it (SIGHUP): open sessions stay, new limits apply to new ones.
pub fn reload_config(info: &ServerInfo) -> Result<()> {
    let home = &info.dir;
    let conf = home.join("dovecot.conf");
    write(
        &conf,
        dovecot_conf(
            home,
            &home.join("chain.pem"),
            &home.join("key.pem"),
            info.port,
            info.imaps_port,
            info.old_port,
        ),
    )?;
    run_checked(Command::new("doveconf").arg("-c").arg(&conf).arg("-n"))
        .map_err(|e| HarnessError(format!("the generated dovecot.conf is invalid: {e}")))?;
    server::signal(info.pid, "HUP")
}
