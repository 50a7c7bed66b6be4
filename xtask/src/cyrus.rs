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
//! [`crate::server::USERS`], random passwords); `vm5678` has the small quota
//! (200 KiB, 20 messages), the others 1 GiB; [`crate::server::MASTER_USER`]
//! is a `proxyservers:` user that logs in on behalf of anyone with SASL PLAIN
//! and an authorization identity (Cyrus has no `user*master` LOGIN).
//!
//! This file holds what is Cyrus's own ([`Cyrus`]: its configs, sasldb and
//! provisioning); starting, finding and stopping it is [`harness`]'s.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use crate::harness::{self, ImapServer, Ports, Setup, Unpacked};
use crate::server::{
    self, HarnessError, MASTER_USER, Quota, Result, ServerInfo, run_checked, write,
};

/// The Cyrus administrator (creates the mailboxes and sets quotas at start).
pub const ADMIN_USER: &str = "cyrusadmin";

/// What the old personality suppresses from CAPABILITY (`XMOVE` is Cyrus's
/// pre-RFC name for MOVE). Cyrus has no NOTIFY at all.
pub const OLD_SUPPRESSED: &str = "UIDPLUS MOVE XMOVE CONDSTORE QRESYNC";

/// The small-quota user's limits: storage in KiB, and messages.
pub const SMALL_QUOTA: (u32, u32) = server::SMALL_QUOTA;

/// Everybody else's storage quota in KiB (1 GiB, like the Dovecot default).
pub const DEFAULT_QUOTA_KIB: u32 = server::DEFAULT_QUOTA_KIB;

const MASTER_BIN: &str = "/usr/lib/cyrus/bin/master";

/// The private Cyrus, for the generic life cycle in [`harness`].
#[derive(Debug, Clone, Copy)]
pub struct Cyrus;

impl ImapServer for Cyrus {
    const NAME: &'static str = "cyrus";
    const TITLE: &'static str = "Cyrus";
    const WHY_ROOT: &'static str = "its master switches to the cyrus user";
    const PROGRAMS: &'static [&'static str] = &[MASTER_BIN, "/usr/sbin/saslpasswd2"];
    const PACKAGES: &'static [&'static str] = &["cyrus-common", "sasl2-bin"];
    // imapd is best built together with the installed master.
    const UNPACKED: Option<Unpacked> = Some(Unpacked {
        package: "cyrus-imapd",
        version_of: Some("cyrus-common"),
    });
    const LONGEST_SOCKET: &'static str = "config/socket/idle.4194304";
    const SUBDIRS: &'static [&'static str] = &[
        "config/socket",
        "spool",
        "run/socket",
        "run/lock",
        "run/proc",
        "log",
    ];
    const LOGS: &'static [&'static str] = &["log/master.log", "log/stdout.log"];
    const PID_FILES: &'static [&'static str] = &["master.pid"];
    const HAS_MASTER: bool = true;

    /// The administrator's password.
    type Configured = String;

    fn configure(setup: &Setup) -> Result<String> {
        let home = &setup.home;
        let bin = setup
            .pkg
            .as_ref()
            .ok_or_else(|| HarnessError("cyrus-imapd was not unpacked".into()))?
            .join("usr/lib/cyrus/bin");
        let admin_password = server::random_hex(12)?;
        let sasldb = home.join("sasldb2");
        let master = setup
            .master
            .as_ref()
            .ok_or_else(|| HarnessError("Cyrus needs its proxy user".into()))?;
        let logins = setup
            .users
            .iter()
            .map(|(u, p)| (u.as_str(), p.as_str()))
            .chain([
                (master.user.as_str(), master.password.as_str()),
                (ADMIN_USER, admin_password.as_str()),
            ]);
        for (user, password) in logins {
            saslpasswd(&sasldb, user, password)?;
        }
        let conf = home.join("imapd.conf");
        let conf_old = home.join("imapd-old.conf");
        let main_conf = imapd_conf(home, &setup.chain, &setup.certs.leaf_key);
        write(&conf, &main_conf)?;
        write(
            &conf_old,
            format!(
                "{main_conf}# The \"old server\" personality (127.0.0.2): same store, fewer capabilities.\n\
                 suppress_capabilities: {OLD_SUPPRESSED}\n"
            ),
        )?;
        write(
            &home.join("cyrus.conf"),
            cyrus_conf_text(&bin, &conf, &conf_old, &setup.ports),
        )?;
        run_checked(Command::new("chown").args(["-R", "cyrus:mail"]).arg(home))?;
        Ok(admin_password)
    }

    fn launch(setup: &Setup, _: &String, children: &mut Vec<Child>) -> Result<u32> {
        let home = &setup.home;
        let child = server::spawn_logged(
            Command::new(MASTER_BIN)
                .arg("-C")
                .arg(home.join("imapd.conf"))
                .arg("-M")
                .arg(home.join("cyrus.conf"))
                .arg("-p")
                .arg(home.join("master.pid"))
                .arg("-L")
                .arg(home.join("log/master.log")),
            &home.join("log/stdout.log"),
        )?;
        let pid = child.id();
        children.push(child);
        Ok(pid)
    }

    /// Every user gets an INBOX and a quota now, so the first test sees them.
    fn provision(setup: &Setup, admin_password: &String) -> Result<()> {
        let mut commands = Vec::new();
        for (user, quota) in server::USERS {
            commands.push(format!("CREATE user/{user}"));
            commands.push(match quota {
                Quota::Small => format!(
                    "SETQUOTA user/{user} (STORAGE {} MESSAGE {})",
                    SMALL_QUOTA.0, SMALL_QUOTA.1
                ),
                Quota::Default => format!("SETQUOTA user/{user} (STORAGE {DEFAULT_QUOTA_KIB})"),
            });
        }
        server::admin_session(
            server::socket_addr(harness::HOST, setup.ports.port)?,
            ADMIN_USER,
            admin_password,
            &commands,
        )
    }
}

/// Where the server lives: `target/imapvm-cyrus`.
pub fn dir() -> PathBuf {
    harness::dir::<Cyrus>()
}

/// The running server's description, if it is running and answering.
pub fn status() -> Result<Option<ServerInfo>> {
    harness::status::<Cyrus>()
}

/// The running server, started first when it is not running. Concurrent
/// callers are serialised by a lock file; the server outlives the caller
/// (stop it with [`stop`] or `cargo xtask cyrus stop`).
pub fn ensure_running() -> Result<ServerInfo> {
    harness::ensure_running::<Cyrus>()
}

/// Start a fresh server (wiping any previous state) unless one is running,
/// and return it with the handles of the processes this call started (the
/// Cyrus master), so the caller can reap them after [`stop`].
pub fn start() -> Result<(ServerInfo, Vec<Child>)> {
    harness::start::<Cyrus>()
}

/// Stop the server and wait until none of its processes is left (the master
/// takes imapd and idled down with it); reap `children` (from [`start`]).
/// Returns the master's pid, or `None` when nothing was running.
pub fn stop(children: Vec<Child>) -> Result<Option<u32>> {
    harness::stop::<Cyrus>(children)
}

/// Make sure Cyrus's pieces exist: `cyrus-common` and `sasl2-bin` from apt
/// (as root, with a policy-rc.d that keeps services from starting), and the
/// `cyrus-imapd` `.deb` matching `cyrus-common`, cached under `target/`.
/// Returns the `.deb`.
pub fn ensure_installed() -> Result<PathBuf> {
    harness::ensure_installed::<Cyrus>()?
        .ok_or_else(|| HarnessError("no cyrus-imapd package".into()))
}

/// Add `user` to the sasldb (realm `localhost`, the `servername`).
fn saslpasswd(sasldb: &Path, user: &str, password: &str) -> Result<()> {
    server::run_with_input(
        Command::new("saslpasswd2")
            .args(["-p", "-c", "-u", "localhost", "-f"])
            .arg(sasldb)
            .arg(user),
        password,
    )
    .map(drop)
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

fn cyrus_conf_text(bin: &Path, conf: &Path, conf_old: &Path, ports: &Ports) -> String {
    let Ports {
        port,
        imaps_port,
        old_port,
    } = *ports;
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
