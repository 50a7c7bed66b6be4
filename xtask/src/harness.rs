//! One life cycle for every private IMAP server.
//!
//! [`ImapServer`] says what is specific to one server: its packages, its
//! config files and users, how its processes start, what it provisions. The
//! functions here do everything else the same way for Dovecot, Cyrus and
//! Courier:
//!
//! * [`ensure_running`] finds the running server or starts a fresh one;
//!   concurrent callers (several test binaries) are serialised by the lock
//!   file `target/imapvm-NAME.lock`, and the server outlives the caller;
//! * [`start`] does the same for `cargo xtask NAME start` and hands back the
//!   processes it started, so that [`stop`] can reap them (no zombie);
//! * a fresh start installs what is missing, kills what an earlier instance
//!   left, wipes `target/imapvm-NAME/` (see [`server::private_home`]), makes
//!   certificates, random passwords for [`server::USERS`] (and the master
//!   user), picks free loopback ports ([`Ports`]), lets the server configure
//!   and launch itself, waits for its three listeners, lets it provision, and
//!   writes two `voicemail.conf`s and `server.json` ([`ServerInfo`]); a start
//!   that fails leaves no process behind and shows the server's logs;
//! * [`status`] reads `server.json` and checks that the server greets;
//! * [`stop`] terminates the server's processes (the master, those it
//!   records, anything still running from or naming its directory) and fails
//!   when one survives.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

use crate::server::{
    self, DirLock, GeneratedCerts, HarnessError, MASTER_USER, MasterUser, Result, ServerInfo,
    mkdir, write,
};

/// The main listener's address (STARTTLS and implicit TLS).
pub const HOST: &str = "127.0.0.1";

/// The "old server" personality's address.
pub const OLD_HOST: &str = "127.0.0.2";

/// How long a fresh server may take until each listener answers.
const READY_WITHIN: Duration = Duration::from_secs(20);

/// How long the server's own processes get to stop after TERM (then KILL).
const STOP_WITHIN: Duration = Duration::from_secs(15);

/// How long stray processes get to stop after TERM (then KILL).
const STRAYS_WITHIN: Duration = Duration::from_secs(5);

/// A package that is unpacked into the server's `pkg/` folder at each start
/// instead of being installed (it conflicts with `dovecot-imapd`).
#[derive(Debug, Clone, Copy)]
pub struct Unpacked {
    /// The Debian package, fetched once into `target/imapvm-debs/`.
    pub package: &'static str,
    /// An installed package whose version it should match, when apt still
    /// has that version (else apt's candidate).
    pub version_of: Option<&'static str>,
}

/// The three loopback ports a server listens on, free when picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    /// [`HOST`]: IMAP with STARTTLS.
    pub port: u16,
    /// [`HOST`]: implicit TLS.
    pub imaps_port: u16,
    /// [`OLD_HOST`]: the "old server" personality.
    pub old_port: u16,
}

impl Ports {
    /// Three ports the OS just reported free (the two on [`HOST`] differ).
    pub fn pick() -> Result<Ports> {
        let port = server::free_port(HOST)?;
        let imaps_port = loop {
            let p = server::free_port(HOST)?;
            if p != port {
                break p;
            }
        };
        let old_port = server::free_port(OLD_HOST)?;
        Ok(Ports {
            port,
            imaps_port,
            old_port,
        })
    }
}

/// What the life cycle prepared for a fresh server, handed to its
/// [`ImapServer`] methods.
#[derive(Debug)]
pub struct Setup {
    /// The server's (fresh, empty but for `SUBDIRS`) directory.
    pub home: PathBuf,
    /// Where [`ImapServer::UNPACKED`] was unpacked (`home/pkg`), if any.
    pub pkg: Option<PathBuf>,
    /// The generated CA and leaf.
    pub certs: GeneratedCerts,
    /// The leaf followed by the CA, as one PEM file (what servers present).
    pub chain: PathBuf,
    /// [`server::USERS`] with their fresh passwords.
    pub users: BTreeMap<String, String>,
    /// The master user with its fresh password, when [`ImapServer::HAS_MASTER`].
    pub master: Option<MasterUser>,
    /// The ports to listen on.
    pub ports: Ports,
}

/// What is specific to one private IMAP server; the rest of its life cycle
/// is the functions of this module.
pub trait ImapServer {
    /// Lower-case name: the JSON's `server`, the word in `cargo xtask NAME`,
    /// the folder `target/imapvm-NAME`.
    const NAME: &'static str;
    /// Its name in messages and file headers (`Dovecot`).
    const TITLE: &'static str;
    /// Why it must be started as root (shown when it is not).
    const WHY_ROOT: &'static str;
    /// Programs that must exist; when one is missing, [`Self::PACKAGES`] are
    /// installed.
    const PROGRAMS: &'static [&'static str];
    /// The Debian packages that provide [`Self::PROGRAMS`].
    const PACKAGES: &'static [&'static str];
    /// A package unpacked at each start rather than installed.
    const UNPACKED: Option<Unpacked> = None;
    /// System users that must exist before it starts.
    const SYSTEM_USERS: &'static [&'static str] = &[];
    /// The longest unix-socket path below its directory (a directory whose
    /// socket paths would be too long moves to `/tmp`).
    const LONGEST_SOCKET: &'static str;
    /// Folders made in its fresh directory.
    const SUBDIRS: &'static [&'static str];
    /// Log files (relative to its directory) shown when a start fails.
    const LOGS: &'static [&'static str];
    /// Files (relative to its directory) removed after a stop.
    const PID_FILES: &'static [&'static str] = &[];
    /// Whether it has a master (proxy) user ([`MASTER_USER`]).
    const HAS_MASTER: bool;

    /// What [`Self::configure`] hands on to [`Self::launch`] and
    /// [`Self::provision`] (Cyrus: its administrator's password).
    type Configured;

    /// Check the machine before a fresh start, after what an earlier
    /// instance left was killed (Courier: no other authdaemond).
    fn check_machine() -> Result<()> {
        Ok(())
    }

    /// Write the server's config files and users into `setup.home`.
    fn configure(setup: &Setup) -> Result<Self::Configured>;

    /// Start the server's processes, pushing each onto `children` as soon as
    /// it runs (a failure later kills them); returns the pid that
    /// `server.json` records.
    fn launch(
        setup: &Setup,
        configured: &Self::Configured,
        children: &mut Vec<Child>,
    ) -> Result<u32>;

    /// Once every listener answers: create what the tests expect to find
    /// (Cyrus: mailboxes and quotas).
    fn provision(_setup: &Setup, _configured: &Self::Configured) -> Result<()> {
        Ok(())
    }

    /// Live pids the server records in `home` beyond `server.json`'s and
    /// that [`server::processes_under`] cannot see (Courier's authdaemond).
    fn recorded_pids(_home: &Path) -> Vec<u32> {
        Vec::new()
    }
}

/// Where the server lives: `target/imapvm-NAME` (a link when the real folder
/// is elsewhere, see [`server::private_home`]).
pub fn dir<S: ImapServer>() -> PathBuf {
    server::target_dir().join(format!("imapvm-{}", S::NAME))
}

fn info_path(dir: &Path) -> PathBuf {
    dir.join("server.json")
}

fn lock<S: ImapServer>() -> Result<DirLock> {
    DirLock::acquire(&server::target_dir().join(format!("imapvm-{}.lock", S::NAME)))
}

/// The running server's description, if it is running and answering.
pub fn status<S: ImapServer>() -> Result<Option<ServerInfo>> {
    server::running_info(&info_path(&dir::<S>()))
}

/// The running server, started first when it is not running. Concurrent
/// callers are serialised by a lock file; the server outlives the caller
/// (stop it with [`stop`] or `cargo xtask NAME stop`).
pub fn ensure_running<S: ImapServer>() -> Result<ServerInfo> {
    let _lock = lock::<S>()?;
    if let Some(info) = status::<S>()? {
        return Ok(info);
    }
    let (info, _children) = start_fresh::<S>()?;
    // The child handles are dropped, not killed: the server keeps running.
    Ok(info)
}

/// Start a fresh server (wiping any previous state) unless one is running,
/// and return it with the handles of the processes this call started, so
/// the caller can reap them after [`stop`] (none when it was running).
pub fn start<S: ImapServer>() -> Result<(ServerInfo, Vec<Child>)> {
    let _lock = lock::<S>()?;
    if let Some(info) = status::<S>()? {
        return Ok((info, Vec::new()));
    }
    start_fresh::<S>()
}

/// Stop every process of the server and wait until they are gone; reap
/// `children` (from [`start`]). Returns the pid `server.json` recorded, or
/// `None` when nothing was running.
pub fn stop<S: ImapServer>(children: Vec<Child>) -> Result<Option<u32>> {
    let _lock = lock::<S>()?;
    let link = dir::<S>();
    let path = info_path(&link);
    let info = server::read_info(&path)?;
    let _ = fs::remove_file(&path);
    let home = info.as_ref().map_or(link, |i| i.dir.clone());
    let stopped = info
        .as_ref()
        .map(|i| i.pid)
        .filter(|pid| server::process_alive(*pid));
    let own: Vec<u32> = stopped.into_iter().chain(S::recorded_pids(&home)).collect();
    let mut left = server::terminate_all(&own, STOP_WITHIN);
    left.extend(server::terminate_all(
        &server::processes_under(&home),
        STRAYS_WITHIN,
    ));
    server::reap(children);
    for file in S::PID_FILES {
        let _ = fs::remove_file(home.join(file));
    }
    if !left.is_empty() {
        return Err(HarnessError(format!(
            "{} processes left after stop: {left:?}",
            S::NAME
        )));
    }
    Ok(stopped)
}

/// Make sure the server's programs exist (installing its packages as root),
/// and fetch its [`ImapServer::UNPACKED`] package; returns that `.deb`.
pub fn ensure_installed<S: ImapServer>() -> Result<Option<PathBuf>> {
    server::ensure_packages(S::NAME, S::PROGRAMS, S::PACKAGES)?;
    let Some(unpacked) = S::UNPACKED else {
        return Ok(None);
    };
    let deb = match unpacked.version_of.and_then(server::installed_version) {
        // Best the version built with the installed pieces; when apt no
        // longer has it (a newer security update), its candidate.
        Some(version) => server::cached_deb(unpacked.package, Some(&version))
            .or_else(|_| server::cached_deb(unpacked.package, None)),
        None => server::cached_deb(unpacked.package, None),
    }?;
    Ok(Some(deb))
}

/// Kill what an earlier instance living in `home` left running.
fn kill_leftovers<S: ImapServer>(home: &Path) {
    let _ = server::terminate_all(&S::recorded_pids(home), STRAYS_WITHIN);
    let _ = server::terminate_all(&server::processes_under(home), STRAYS_WITHIN);
}

fn start_fresh<S: ImapServer>() -> Result<(ServerInfo, Vec<Child>)> {
    let deb = ensure_installed::<S>()?;
    if server::euid() != 0 {
        return Err(HarnessError(format!(
            "the private {} must be started as root ({})",
            S::TITLE,
            S::WHY_ROOT
        )));
    }
    for user in S::SYSTEM_USERS {
        server::ensure_system_user(user)?;
    }
    let link = dir::<S>();
    let home = server::private_home(&format!("imapvm-{}", S::NAME), S::LONGEST_SOCKET);
    kill_leftovers::<S>(&home);
    S::check_machine()?;
    server::fresh_home(&home, &link)?;
    for sub in S::SUBDIRS {
        mkdir(&home.join(sub))?;
    }
    let pkg = match deb {
        Some(deb) => {
            let pkg = home.join("pkg");
            server::extract_deb(&deb, &pkg)?;
            Some(pkg)
        }
        None => None,
    };

    let certs = server::generate_certs(&home)?;
    let chain = home.join("chain.pem");
    let read = |path: &Path| {
        fs::read_to_string(path)
            .map_err(|e| HarnessError::io(format_args!("reading {}", path.display()), e))
    };
    write(
        &chain,
        format!("{}{}", read(&certs.leaf_cert)?, read(&certs.ca_cert)?),
    )?;
    let mut users = BTreeMap::new();
    for (user, _) in server::USERS {
        users.insert((*user).to_string(), server::random_hex(12)?);
    }
    let master = if S::HAS_MASTER {
        Some(MasterUser {
            user: MASTER_USER.into(),
            password: server::random_hex(12)?,
        })
    } else {
        None
    };
    let setup = Setup {
        home,
        pkg,
        certs,
        chain,
        users,
        master,
        ports: Ports::pick()?,
    };

    let configured = S::configure(&setup)?;
    let mut children = Vec::new();
    let up = S::launch(&setup, &configured, &mut children).and_then(|pid| {
        wait_ready(&setup.ports)?;
        S::provision(&setup, &configured)?;
        Ok(pid)
    });
    let pid = match up {
        Ok(pid) => pid,
        Err(e) => {
            let mut pids: Vec<u32> = children.iter().map(Child::id).collect();
            pids.extend(S::recorded_pids(&setup.home));
            let _ = server::terminate_all(&pids, STRAYS_WITHIN);
            kill_leftovers::<S>(&setup.home);
            server::reap(children);
            let logs: String = S::LOGS
                .iter()
                .map(|log| fs::read_to_string(setup.home.join(log)).unwrap_or_default())
                .collect();
            return Err(HarnessError(format!(
                "{} did not come up: {e}\n{logs}",
                S::NAME
            )));
        }
    };

    let Setup {
        home,
        certs,
        users,
        master,
        ports,
        ..
    } = setup;
    let voicemail_conf = home.join("voicemail.conf");
    let voicemail_conf_old = home.join("voicemail-old.conf");
    for (path, host, port) in [
        (&voicemail_conf, HOST, ports.port),
        (&voicemail_conf_old, OLD_HOST, ports.old_port),
    ] {
        let text =
            server::voicemail_conf_text(S::TITLE, S::NAME, host, port, &certs.ca_cert, &users);
        write(path, text)?;
    }
    let info = ServerInfo {
        server: S::NAME.into(),
        host: HOST.into(),
        port: ports.port,
        imaps_port: ports.imaps_port,
        old_host: OLD_HOST.into(),
        old_port: ports.old_port,
        cert: certs.ca_cert,
        leaf_cert: certs.leaf_cert,
        users,
        master,
        voicemail_conf,
        voicemail_conf_old,
        pid,
        dir: home.clone(),
    };
    server::write_info(&info_path(&home), &info)?;
    Ok((info, children))
}

/// Wait until the two plain listeners greet and the implicit-TLS one accepts
/// (it sends no plaintext greeting).
fn wait_ready(ports: &Ports) -> Result<()> {
    for (host, port) in [(HOST, ports.port), (OLD_HOST, ports.old_port)] {
        server::wait_for_greeting(server::socket_addr(host, port)?, READY_WITHIN)?;
    }
    server::wait_for_accept(server::socket_addr(HOST, ports.imaps_port)?, READY_WITHIN)
}
