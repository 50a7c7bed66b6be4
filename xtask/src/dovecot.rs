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
//! `authuser` does). Beside them, an oauth2 passdb takes SASL OAUTHBEARER and
//! XOAUTH2 logins (imapvm's `imapoauthcmd`): it asks an introspection endpoint
//! on loopback ([`introspection_addr`]), which the test harness runs, whether a
//! token is valid and whose it is. [`OAUTH_USER`] logs in with tokens only
//! (its password is random and kept nowhere). Plugins: quota + imap_quota, IDLE, NOTIFY (mailbox list
//! index), mail_log. [`start`] also writes a `voicemail.conf` that points at
//! this server.
//!
//! This file holds what is Dovecot's own ([`Dovecot`]: its config, its
//! passwd-files, its scale-run helpers [`bulk_users`] and [`reload_config`]);
//! starting, finding and stopping it is [`harness`]'s, shared with Cyrus and
//! Courier.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use crate::harness::{self, ImapServer, Ports, Setup};
use crate::server::{self, DirLock, HarnessError, Result, ServerInfo, run_checked, write};

pub use crate::server::install_debian_packages;

/// The IMAP users of the private server ([`server::USERS`]), and the quota
/// rules of each (`None`: the default, generous quota).
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
pub const MASTER_USER: &str = server::MASTER_USER;

/// The user that logs in with OAuth 2 tokens only: it is in the passwd-file with a random
/// password that is kept nowhere (the master user can still open its mailbox).
pub const OAUTH_USER: &str = "vmoauth";

/// The oauth2 passdb's settings, in the server's directory.
const OAUTH_CONF: &str = "dovecot-oauth2.conf.ext";

/// The path of the introspection endpoint on [`introspection_addr`].
pub const INTROSPECTION_PATH: &str = "/introspect";

/// The capabilities the old personality advertises (no UIDPLUS, MOVE,
/// NOTIFY, CONDSTORE). Dovecot still executes those commands; only the
/// advertisement changes, which is what a client decides on.
pub const OLD_CAPABILITY: &str =
    "IMAP4rev1 SASL-IR LITERAL+ ID ENABLE IDLE NAMESPACE CHILDREN UNSELECT QUOTA";

const DOVECOT_BIN: &str = "/usr/sbin/dovecot";

/// The private Dovecot, for the generic life cycle in [`harness`].
#[derive(Debug, Clone, Copy)]
pub struct Dovecot;

impl ImapServer for Dovecot {
    const NAME: &'static str = "dovecot";
    const TITLE: &'static str = "Dovecot";
    const WHY_ROOT: &'static str =
        "it switches to the vmail user for mail and to dovecot/dovenull for its services";
    const PROGRAMS: &'static [&'static str] = &[DOVECOT_BIN];
    const PACKAGES: &'static [&'static str] = &["dovecot-imapd", "dovecot-core"];
    const SYSTEM_USERS: &'static [&'static str] = &["vmail"];
    const LONGEST_SOCKET: &'static str = "run/login/imap-urlauth-worker";
    const SUBDIRS: &'static [&'static str] = &["run", "state", "mail", "log"];
    const LOGS: &'static [&'static str] = &["log/dovecot.log", "log/stdout.log"];
    const PID_FILES: &'static [&'static str] = &["dovecot.pid"];
    const HAS_MASTER: bool = true;

    type Configured = ();

    fn configure(setup: &Setup) -> Result<()> {
        let home = &setup.home;
        run_checked(
            Command::new("chown")
                .args(["vmail:vmail"])
                .arg(home.join("mail")),
        )?;
        let mut passwd = String::new();
        for (user, extra) in USERS {
            let password = setup
                .users
                .get(*user)
                .ok_or_else(|| HarnessError(format!("no password was generated for {user}")))?;
            passwd.push_str(&format!(
                "{user}:{{PLAIN}}{password}::::::{}\n",
                extra.unwrap_or("")
            ));
        }
        passwd.push_str(&format!(
            "{OAUTH_USER}:{{PLAIN}}{}::::::\n",
            server::random_hex(16)?
        ));
        write(&home.join("users"), passwd)?;
        let master = setup
            .master
            .as_ref()
            .ok_or_else(|| HarnessError("Dovecot needs its master user".into()))?;
        write(
            &home.join("masters"),
            format!("{}:{{PLAIN}}{}\n", master.user, master.password),
        )?;
        for file in ["users", "masters"] {
            restrict_to_dovecot(&home.join(file))?;
        }
        write_conf(home, &setup.ports, pick_introspection_port()?)
    }

    fn launch(setup: &Setup, _: &(), children: &mut Vec<Child>) -> Result<u32> {
        let home = &setup.home;
        let child = server::spawn_logged(
            Command::new(DOVECOT_BIN)
                .arg("-F")
                .arg("-c")
                .arg(home.join("dovecot.conf")),
            &home.join("log/stdout.log"),
        )?;
        let pid = child.id();
        children.push(child);
        write(&home.join("dovecot.pid"), format!("{pid}\n"))?;
        Ok(pid)
    }
}

/// Where the server lives: `target/imapvm-dovecot`.
pub fn dir() -> PathBuf {
    harness::dir::<Dovecot>()
}

/// The running server's description, if it is running and answering.
pub fn status() -> Result<Option<ServerInfo>> {
    harness::status::<Dovecot>()
}

/// The running server, started first when it is not running. Concurrent
/// callers (several test binaries) are serialised by a lock file; the server
/// outlives the caller (stop it with [`stop`] or `cargo xtask dovecot stop`).
pub fn ensure_running() -> Result<ServerInfo> {
    harness::ensure_running::<Dovecot>()
}

/// Start a fresh server (wiping any previous state) and return it with the
/// master process's handle, so the caller can reap it after [`stop`].
pub fn start() -> Result<(ServerInfo, Option<Child>)> {
    let (info, children) = harness::start::<Dovecot>()?;
    Ok((info, children.into_iter().next()))
}

/// Stop the server by pid and wait until it is gone. Returns what was
/// stopped, or `None` when nothing was running.
pub fn stop(child: Option<Child>) -> Result<Option<u32>> {
    harness::stop::<Dovecot>(child.into_iter().collect())
}

/// Make sure the `dovecot` binary exists: install Debian's `dovecot-imapd`
/// when running as root (with a policy-rc.d that keeps services from
/// starting), else explain how.
pub fn ensure_installed() -> Result<()> {
    harness::ensure_installed::<Dovecot>().map(drop)
}

/// A passwd-file readable by Dovecot's auth process only.
fn restrict_to_dovecot(path: &Path) -> Result<()> {
    fs::set_permissions(path, fs::Permissions::from_mode(0o640))
        .map_err(|e| HarnessError::io("chmod passwd file", e))?;
    run_checked(Command::new("chgrp").arg("dovecot").arg(path))?;
    Ok(())
}

/// Where the running server's oauth2 passdb asks about tokens (`POST` to
/// [`INTROSPECTION_PATH`] with `token=...`, JSON `{"active":...,"username":...}` back): the
/// test harness serves it there. An error for a server started before OAuth support
/// (restart it: `cargo xtask dovecot stop`).
pub fn introspection_addr(info: &ServerInfo) -> Result<std::net::SocketAddr> {
    let port = introspection_port(&info.dir)?;
    server::socket_addr(harness::HOST, port)
}

/// The introspection port written in `home`'s oauth2 settings.
fn introspection_port(home: &Path) -> Result<u16> {
    let path = home.join(OAUTH_CONF);
    let text = fs::read_to_string(&path).map_err(|e| {
        HarnessError::io(
            format_args!(
                "reading {} (a Dovecot started before OAuth support? `cargo xtask dovecot stop`, then run again)",
                path.display()
            ),
            e,
        )
    })?;
    let prefix = format!("introspection_url = http://{}:", harness::HOST);
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|rest| rest.strip_suffix(INTROSPECTION_PATH))
        .and_then(|port| port.parse().ok())
        .ok_or_else(|| HarnessError(format!("{} names no introspection port", path.display())))
}

/// A free port for the introspection endpoint, below the ephemeral range: nothing holds it
/// between test runs, and the ephemeral ports that tests bind by the hundred never take it.
fn pick_introspection_port() -> Result<u16> {
    let low = ephemeral_low();
    for _ in 0..64 {
        let random = u16::from_str_radix(&server::random_hex(2)?, 16).unwrap_or(0);
        let port = 20_000 + random % (low - 20_000);
        if std::net::TcpListener::bind((harness::HOST, port)).is_ok() {
            return Ok(port);
        }
    }
    server::free_port(harness::HOST)
}

/// The first port of the kernel's ephemeral range (Linux's default 32768 when it cannot be
/// read or starts below 20000).
fn ephemeral_low() -> u16 {
    fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .filter(|low| *low > 20_000)
        .unwrap_or(32_768)
}

/// Write `home/dovecot.conf` for `ports` (and the oauth2 passdb's settings for an
/// introspection endpoint on `oauth_port`) and let `doveconf` check it.
fn write_conf(home: &Path, ports: &Ports, oauth_port: u16) -> Result<()> {
    write(&home.join(OAUTH_CONF), oauth2_conf(oauth_port))?;
    let conf = home.join("dovecot.conf");
    write(
        &conf,
        dovecot_conf(home, &home.join("chain.pem"), &home.join("key.pem"), ports),
    )?;
    run_checked(Command::new("doveconf").arg("-c").arg(&conf).arg("-n"))
        .map_err(|e| HarnessError(format!("the generated dovecot.conf is invalid: {e}")))?;
    Ok(())
}

/// The oauth2 passdb's settings: ask the harness's endpoint on `port` (RFC 7662 style,
/// `POST token=...`), and accept a token only when it says `"active": true`; the user is
/// its `username`.
fn oauth2_conf(port: u16) -> String {
    format!(
        "# OAuth 2 token checks of the private Dovecot: the test harness answers on this port.\n\
         introspection_mode = post\n\
         introspection_url = http://{host}:{port}{INTROSPECTION_PATH}\n\
         username_attribute = username\n\
         active_attribute = active\n\
         active_value = true\n\
         timeout_msecs = 5000\n",
        host = harness::HOST,
    )
}

fn dovecot_conf(home: &Path, chain: &Path, key: &Path, ports: &Ports) -> String {
    let Ports {
        port,
        imaps_port,
        old_port,
    } = *ports;
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
# OAUTHBEARER and XOAUTH2 carry OAuth 2 tokens (imapoauthcmd); the oauth2 passdb checks them.
auth_mechanisms = plain login oauthbearer xoauth2
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
# Beside the passwords: a token from OAUTHBEARER or XOAUTH2 is checked by the test harness's
# introspection endpoint ({OAUTH_CONF}); no other login reaches this passdb.
passdb {{
  driver = oauth2
  mechanisms = oauthbearer xoauth2
  args = {d}/{OAUTH_CONF}
}}
userdb {{
  driver = passwd-file
  args = username_format=%n {d}/users
  default_fields = home={d}/mail/%n
}}
service imap-login {{
  # High-performance mode (Dovecot's advice for busy servers): two long-lived login
  # processes serve every connection instead of a new process per connection (the scale
  # runs log in 10,000 users at once).
  service_count = 0
  process_min_avail = 2
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
# Scale runs (the MWI benchmark watches 10,000 users at once, `bulk_users`): room for
# many concurrent sessions; sessions idle in IDLE for 5 s hibernate into imap-hibernate.
default_client_limit = 30000
imap_hibernate_timeout = 5s
service imap {{
  process_limit = 12000
  # Up to 50 sessions per imap process (every user runs as vmail), so 10,000 sessions are
  # 200 processes, not 10,000 forks and execs.
  client_limit = 50
  service_count = 0
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
        restrict_to_dovecot(&tmp)?;
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
    let ports = Ports {
        port: info.port,
        imaps_port: info.imaps_port,
        old_port: info.old_port,
    };
    let oauth_port = match introspection_port(&info.dir) {
        Ok(port) => port,
        Err(_) => pick_introspection_port()?,
    };
    write_conf(&info.dir, &ports, oauth_port)?;
    server::signal(info.pid, "HUP")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::{Quota, SMALL_QUOTA};

    #[test]
    fn the_passwd_users_are_the_shared_users_with_the_small_quota_on_the_same_one() {
        let names: Vec<&str> = USERS.iter().map(|(user, _)| *user).collect();
        let shared: Vec<&str> = server::USERS.iter().map(|(user, _)| *user).collect();
        assert_eq!(names, shared);
        let (storage, messages) = SMALL_QUOTA;
        for ((user, rule), (_, quota)) in USERS.iter().zip(server::USERS) {
            match quota {
                Quota::Small => assert_eq!(
                    *rule,
                    Some(
                        format!(
                            "userdb_quota_rule=*:storage={storage}K userdb_quota_rule2=*:messages={messages}"
                        )
                        .as_str()
                    ),
                    "{user}"
                ),
                Quota::Default => assert_eq!(*rule, None, "{user}"),
            }
        }
    }

    /// The config for home `/h` and ports 10143 (STARTTLS), 10993 (implicit TLS), 20143 (old).
    fn sample_conf() -> String {
        let ports = Ports {
            port: 10143,
            imaps_port: 10993,
            old_port: 20143,
        };
        dovecot_conf(
            Path::new("/h"),
            Path::new("/h/chain.pem"),
            Path::new("/h/key.pem"),
            &ports,
        )
    }

    #[test]
    fn the_config_listens_on_the_picked_ports_and_hides_capabilities_on_the_old_address() {
        let conf = sample_conf();
        for listener in [
            "address = 127.0.0.1\n    port = 10143\n",
            "address = 127.0.0.2\n    port = 20143\n",
            "address = 127.0.0.1\n    port = 10993\n    ssl = yes\n",
        ] {
            assert!(conf.contains(listener), "{listener:?} in {conf}");
        }
        assert!(conf.contains(&format!(
            "local 127.0.0.2 {{\n  protocol imap {{\n    imap_capability = {OLD_CAPABILITY}\n"
        )));
        assert!(conf.contains("quota_rule = *:storage=1G\n"), "{conf}");
    }

    /// The oauth2 passdb is beside the password ones (which stay first and unchanged) and
    /// only the token mechanisms reach it; its settings name the harness's endpoint.
    #[test]
    fn tokens_are_checked_by_an_oauth2_passdb_beside_the_passwords() {
        let conf = sample_conf();
        assert!(conf.contains("auth_mechanisms = plain login oauthbearer xoauth2\n"));
        let users = conf
            .find("args = scheme=PLAIN username_format=%n /h/users")
            .unwrap();
        let oauth = conf
            .find("  driver = oauth2\n  mechanisms = oauthbearer xoauth2\n  args = /h/dovecot-oauth2.conf.ext\n")
            .unwrap();
        assert!(users < oauth, "{conf}");
        let ext = oauth2_conf(23456);
        assert!(ext.contains("introspection_url = http://127.0.0.1:23456/introspect\n"));
        assert!(ext.contains("introspection_mode = post\n"));
        assert!(!ext.contains("tokeninfo_url"));

        let home = server::target_dir()
            .join("tmp")
            .join(format!("oauth-conf-{}", std::process::id()));
        fs::create_dir_all(&home).unwrap();
        write(&home.join(OAUTH_CONF), ext).unwrap();
        assert_eq!(introspection_port(&home).unwrap(), 23456);
        fs::remove_dir_all(&home).unwrap();
        let err = introspection_port(Path::new("/nonexistent")).unwrap_err();
        assert!(err.to_string().contains("dovecot stop"), "{err}");
        let port = pick_introspection_port().unwrap();
        assert!((20_000..ephemeral_low()).contains(&port), "{port}");
    }
}
