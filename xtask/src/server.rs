//! What every private test server shares: the JSON contract, the test users,
//! free ports, generated secrets and certificates, packages, and process
//! control by pid. The life cycle built from these pieces is
//! [`crate::harness`].
//!
//! The JSON printed by `cargo xtask dovecot start` (and `cyrus`, `courier`)
//! is [`ServerInfo`]; integration tests read the same struct.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// A running private IMAP server, as printed by `cargo xtask <server> start`.
///
/// Passwords in here are throw-away test secrets generated at set-up; they
/// never protect anything but a loopback test server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerInfo {
    /// Which server software: `dovecot`, `cyrus`, `courier`.
    pub server: String,
    /// Host of the main listener (STARTTLS offered).
    pub host: String,
    /// Port of the main listener (plain IMAP with STARTTLS).
    pub port: u16,
    /// Port of the implicit-TLS listener on `host`.
    pub imaps_port: u16,
    /// Host of the "old server" personality (no UIDPLUS, MOVE, NOTIFY, CONDSTORE).
    pub old_host: String,
    /// Port of the "old server" personality.
    pub old_port: u16,
    /// PEM file of the CA that signed the server certificate (trust this).
    pub cert: PathBuf,
    /// PEM file of the server's leaf certificate.
    pub leaf_cert: PathBuf,
    /// Users and their passwords.
    pub users: BTreeMap<String, String>,
    /// The master (proxy) user: log in as it on behalf of any user. `None`
    /// where the server has no such login (Courier with authuserdb).
    pub master: Option<MasterUser>,
    /// A voicemail.conf pointing at the main listener.
    pub voicemail_conf: PathBuf,
    /// The same voicemail.conf pointing at the old personality.
    pub voicemail_conf_old: PathBuf,
    /// Process id of the server's master process.
    pub pid: u32,
    /// The directory holding config, mail, logs and pid.
    pub dir: PathBuf,
}

/// The master user of a [`ServerInfo`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MasterUser {
    /// Its login name.
    pub user: String,
    /// Its password.
    pub password: String,
}

/// The IMAP users of every private server (each start gives them fresh
/// random passwords), with their quota.
pub const USERS: &[(&str, Quota)] = &[
    ("vm1234", Quota::Default),
    ("vm4321", Quota::Default),
    ("vm5678", Quota::Small),
    ("vmshared", Quota::Default),
];

/// Which quota a test user has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quota {
    /// [`DEFAULT_QUOTA_KIB`] of storage, no message limit.
    Default,
    /// [`SMALL_QUOTA`]: little room, for the over-quota tests.
    Small,
}

/// The small quota: storage in KiB, and messages.
pub const SMALL_QUOTA: (u32, u32) = (200, 20);

/// Everybody else's storage quota in KiB (1 GiB).
pub const DEFAULT_QUOTA_KIB: u32 = 1_048_576;

/// The master (proxy) user's login name, where a server has one.
pub const MASTER_USER: &str = "vmmaster";

/// Something went wrong while setting up, starting or stopping a server.
#[derive(Debug)]
pub struct HarnessError(pub String);

impl std::fmt::Display for HarnessError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HarnessError {}

impl HarnessError {
    /// An I/O error with what was being done.
    pub fn io(what: impl std::fmt::Display, err: io::Error) -> Self {
        HarnessError(format!("{what}: {err}"))
    }
}

/// Result type of the harness.
pub type Result<T> = std::result::Result<T, HarnessError>;

/// The workspace root (the folder holding the top `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The cargo target directory (honours `CARGO_TARGET_DIR`).
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                workspace_root().join(dir)
            }
        }
        None => workspace_root().join("target"),
    }
}

/// A port that was free on `ip` a moment ago (the OS picked it).
pub fn free_port(ip: &str) -> Result<u16> {
    let listener = TcpListener::bind((ip, 0))
        .map_err(|e| HarnessError::io(format_args!("finding a free port on {ip}"), e))?;
    let port = listener
        .local_addr()
        .map_err(|e| HarnessError::io("reading the picked port", e))?
        .port();
    Ok(port)
}

/// `n` random bytes from the OS, hex-encoded (for throw-away test passwords).
pub fn random_hex(n: usize) -> Result<String> {
    let mut bytes = vec![0u8; n];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| HarnessError::io("reading /dev/urandom", e))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Is a process with this pid alive (and not a zombie waiting to be reaped)?
pub fn process_alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the field after the parenthesised command name.
        Ok(stat) => match stat.rfind(')') {
            Some(end) => !matches!(stat[end + 1..].trim_start().chars().next(), Some('Z' | 'X')),
            None => false,
        },
        Err(_) => false,
    }
}

/// Send `signal` (e.g. `TERM`) to `pid` with the system's `kill`.
pub fn signal(pid: u32, signal: &str) -> Result<()> {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .map_err(|e| HarnessError::io("running kill", e))?;
    if status.success() || !process_alive(pid) {
        Ok(())
    } else {
        Err(HarnessError(format!(
            "kill -{signal} {pid} failed: {status}"
        )))
    }
}

/// Wait until `pid` is gone (or a zombie), up to `limit`.
pub fn wait_gone(pid: u32, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if !process_alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    !process_alive(pid)
}

/// Live processes whose command line mentions `needle` (e.g. a config path).
pub fn processes_mentioning(needle: &str) -> Vec<u32> {
    live_processes(|_, cmdline| cmdline.contains(needle))
}

/// The live (not zombie) processes for which `select(pid_dir, command_line)`
/// holds; the command line has its NULs turned into spaces.
fn live_processes(select: impl Fn(&Path, &str) -> bool) -> Vec<u32> {
    let mut found = Vec::new();
    let Ok(entries) = fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let cmdline = fs::read(entry.path().join("cmdline"))
            .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
            .unwrap_or_default();
        if select(&entry.path(), &cmdline) && process_alive(pid) {
            found.push(pid);
        }
    }
    found
}

/// Wait until `addr` accepts a TCP connection and sends a line starting with
/// `* OK` (an IMAP greeting), up to `limit`.
pub fn wait_for_greeting(addr: SocketAddr, limit: Duration) -> Result<()> {
    let start = Instant::now();
    let mut last = String::from("no attempt");
    while start.elapsed() < limit {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(mut stream) => {
                let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
                let mut buf = [0u8; 256];
                match stream.read(&mut buf) {
                    Ok(n) if buf[..n].starts_with(b"* OK") => return Ok(()),
                    Ok(n) => {
                        last = format!(
                            "unexpected greeting {:?}",
                            String::from_utf8_lossy(&buf[..n])
                        )
                    }
                    Err(e) => last = e.to_string(),
                }
            }
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(HarnessError(format!(
        "no IMAP greeting on {addr} within {limit:?} ({last})"
    )))
}

/// A CA certificate and a leaf it signed, as PEM files.
#[derive(Debug)]
pub struct GeneratedCerts {
    /// The CA certificate (trust anchor for clients).
    pub ca_cert: PathBuf,
    /// The leaf certificate (what the server presents).
    pub leaf_cert: PathBuf,
    /// The leaf's private key.
    pub leaf_key: PathBuf,
}

/// Generate a CA and a `CA:FALSE` server leaf for `localhost` / `127.0.0.1` /
/// `127.0.0.2` into `dir` (rustls refuses a CA certificate used as a leaf).
pub fn generate_certs(dir: &Path) -> Result<GeneratedCerts> {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, KeyUsagePurpose,
    };
    let err = |e: rcgen::Error| HarnessError(format!("generating test certificates: {e}"));

    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "imapvm test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate().map_err(err)?;
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).map_err(err)?;

    let names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "127.0.0.2".to_string(),
    ];
    let mut leaf_params = CertificateParams::new(names).map_err(err)?;
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    leaf_params.is_ca = IsCa::ExplicitNoCa;
    leaf_params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_key = KeyPair::generate().map_err(err)?;
    let leaf = leaf_params.signed_by(&leaf_key, &ca).map_err(err)?;

    let certs = GeneratedCerts {
        ca_cert: dir.join("ca.pem"),
        leaf_cert: dir.join("cert.pem"),
        leaf_key: dir.join("key.pem"),
    };
    write(&certs.ca_cert, ca.pem())?;
    write(&certs.leaf_cert, leaf.pem())?;
    write(&certs.leaf_key, leaf_key.serialize_pem())?;
    Ok(certs)
}

/// Write a file, with the path in the error.
pub fn write(path: &Path, contents: impl AsRef<[u8]>) -> Result<()> {
    fs::write(path, contents)
        .map_err(|e| HarnessError::io(format_args!("writing {}", path.display()), e))
}

/// Create a directory and its parents, with the path in the error.
pub fn mkdir(path: &Path) -> Result<()> {
    fs::create_dir_all(path)
        .map_err(|e| HarnessError::io(format_args!("creating {}", path.display()), e))
}

/// Run a command to completion; its stderr goes into the error.
pub fn run_checked(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .output()
        .map_err(|e| HarnessError::io(format_args!("running {cmd:?}"), e))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(HarnessError(format!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Run `cmd` with `input` on its stdin to completion; return its stdout
/// (its stderr goes into the error). For secrets that must not appear on a
/// command line.
pub fn run_with_input(cmd: &mut Command, input: &str) -> Result<String> {
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

/// The effective user id of this process (0 = root).
pub fn euid() -> u32 {
    Command::new("id")
        .arg("-u")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(u32::MAX)
}

/// An exclusive lock on a file, held until dropped (serialises concurrent
/// test binaries that all want to start the same server).
pub struct DirLock(#[allow(dead_code, reason = "held for its Drop")] fs::File);

impl DirLock {
    /// Take the lock at `path`, blocking until it is free.
    pub fn acquire(path: &Path) -> Result<DirLock> {
        if let Some(parent) = path.parent() {
            mkdir(parent)?;
        }
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| HarnessError::io(format_args!("opening lock {}", path.display()), e))?;
        file.lock()
            .map_err(|e| HarnessError::io(format_args!("locking {}", path.display()), e))?;
        Ok(DirLock(file))
    }
}

/// The `voicemail.conf` every private server writes: the same mailboxes,
/// contexts and options for each, pointing at `host:port` with TLS verified
/// against `ca`. `title` and `command` name the server in the header comment
/// (`"Dovecot"`, `"dovecot"`).
pub fn voicemail_conf_text(
    title: &str,
    command: &str,
    host: &str,
    port: u16,
    ca: &Path,
    users: &BTreeMap<String, String>,
) -> String {
    let pw = |user: &str| users.get(user).cloned().unwrap_or_default();
    format!(
        r#"; voicemail.conf for imapvm's private {title}, written by `cargo xtask {command} start`.
; Asterisk reads it too: imapcafile is imapvm's own option and Asterisk ignores it.
[general]
format = wav49|gsm|wav
serveremail = imapvm@vm.example.test
maxmsg = 100
maxsecs = 300
minsecs = 0
imapserver = {host}
imapport = {port}
imapflags = tls
imapcafile = {ca}
imapfolder = INBOX
imapgreetings = yes
greetingsfolder = Greetings
expungeonhangup = yes
imapopentimeout = 10
imapreadtimeout = 10
imapwritetimeout = 10
imapclosetimeout = 10
pollmailboxes = yes
pollfreq = 30

[zonemessages]
european = Europe/Berlin|'vm-received' a d b 'digits/at' HM

[default]
1234 => 1234,Alice Mailbox,,,imapuser=vm1234|imappassword={vm1234}
5678 => 5678,Bjorn Quota-Test,,,imapuser=vm5678|imappassword={vm5678}

[other]
4321 => 4321,Carol Folder,,,imapuser=vm4321|imappassword={vm4321}|imapfolder=Voicemail|tz=european

[sales]
2001 => 2001,Sales Desk,,,imapuser=vmshared|imappassword={vmshared}
2002 => 2002,Support Desk,,,imapuser=vmshared|imappassword={vmshared}|imapvmshareid=support
"#,
        ca = ca.display(),
        vm1234 = pw("vm1234"),
        vm5678 = pw("vm5678"),
        vm4321 = pw("vm4321"),
        vmshared = pw("vmshared"),
    )
}

/// Wait until something accepts TCP connections on `addr` (an implicit-TLS
/// port sends no plaintext greeting), up to `limit`.
pub fn wait_for_accept(addr: SocketAddr, limit: Duration) -> Result<()> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(HarnessError(format!("nothing accepts on {addr}")))
}

/// Parse `host:port` into a socket address.
pub fn socket_addr(host: &str, port: u16) -> Result<SocketAddr> {
    format!("{host}:{port}")
        .parse()
        .map_err(|e| HarnessError(format!("bad address {host}:{port}: {e}")))
}

/// Create the system user `name` (no home, no shell) unless it exists.
pub fn ensure_system_user(name: &str) -> Result<()> {
    if Command::new("id")
        .arg(name)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
    {
        return Ok(());
    }
    run_checked(Command::new("useradd").args([
        "--system",
        "--home-dir",
        "/nonexistent",
        "--shell",
        "/usr/sbin/nologin",
        name,
    ]))?;
    Ok(())
}

/// The real directory of a private server named `name` (`imapvm-dovecot`).
/// Normally `target/NAME`; when `target/NAME/longest_socket` would be too long
/// for a unix socket path, or a parent folder is not traversable by the
/// server's unprivileged users (a checkout under `/root`), a folder under
/// `/tmp` named after the target dir (see [`fresh_home`] for the link).
pub fn private_home(name: &str, longest_socket: &str) -> PathBuf {
    let canonical_target = fs::canonicalize(target_dir()).unwrap_or_else(|_| target_dir());
    let candidate = canonical_target.join(name);
    let too_long = candidate.join(longest_socket).as_os_str().len() > 100;
    if too_long || !traversable_by_others(&canonical_target) {
        let tag: u64 = candidate
            .as_os_str()
            .as_encoded_bytes()
            .iter()
            .fold(0xcbf29ce484222325u64, |h, b| {
                (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)
            });
        return PathBuf::from(format!("/tmp/{name}-{tag:016x}"));
    }
    candidate
}

fn traversable_by_others(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.ancestors().all(|p| match fs::metadata(p) {
        Ok(meta) => meta.permissions().mode() & 0o001 != 0,
        Err(_) => true,
    })
}

/// Wipe and re-create `home` (mode 755). When `home` is not `link` (see
/// [`private_home`]), `link` becomes a symlink to it so everything is still
/// found under `target/`.
pub fn fresh_home(home: &Path, link: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if home != link {
        let _ = fs::remove_file(link);
        let _ = fs::remove_dir_all(link);
        mkdir(link.parent().unwrap_or(Path::new(".")))?;
        std::os::unix::fs::symlink(home, link)
            .map_err(|e| HarnessError::io(format_args!("linking {}", link.display()), e))?;
    }
    if home.exists() {
        fs::remove_dir_all(home)
            .map_err(|e| HarnessError::io(format_args!("wiping {}", home.display()), e))?;
    }
    mkdir(home)?;
    fs::set_permissions(home, fs::Permissions::from_mode(0o755))
        .map_err(|e| HarnessError::io("chmod server dir", e))?;
    Ok(())
}

/// Read a `server.json`; `None` when there is none.
pub fn read_info(path: &Path) -> Result<Option<ServerInfo>> {
    let Ok(text) = fs::read_to_string(path) else {
        return Ok(None);
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| HarnessError(format!("reading {}: {e}", path.display())))
}

/// Write `info` as pretty JSON to `path`.
pub fn write_info(path: &Path, info: &ServerInfo) -> Result<()> {
    let json = serde_json::to_string_pretty(info).map_err(|e| HarnessError(e.to_string()))?;
    write(path, json)
}

/// The server described by the `server.json` at `path`, if its master
/// process is alive and its main listener greets.
pub fn running_info(path: &Path) -> Result<Option<ServerInfo>> {
    let Some(info) = read_info(path)? else {
        return Ok(None);
    };
    if !process_alive(info.pid) {
        return Ok(None);
    }
    match wait_for_greeting(socket_addr(&info.host, info.port)?, Duration::from_secs(2)) {
        Ok(()) => Ok(Some(info)),
        Err(_) => Ok(None),
    }
}

/// Live processes that run a program from under `dir` or mention `dir` on
/// their command line: what is left of a private server living there.
pub fn processes_under(dir: &Path) -> Vec<u32> {
    let needle = dir.display().to_string();
    live_processes(|proc_dir, cmdline| {
        let exe_inside = fs::read_link(proc_dir.join("exe"))
            .is_ok_and(|exe| exe.display().to_string().starts_with(&needle));
        exe_inside || cmdline.contains(&needle)
    })
}

/// TERM every pid, wait up to `limit` for them to go, then KILL what is left.
/// Returns the pids that survived even that.
pub fn terminate_all(pids: &[u32], limit: Duration) -> Vec<u32> {
    for pid in pids {
        let _ = signal(*pid, "TERM");
    }
    let start = Instant::now();
    for pid in pids {
        let left = limit.saturating_sub(start.elapsed());
        if !wait_gone(*pid, left) {
            let _ = signal(*pid, "KILL");
        }
    }
    pids.iter()
        .copied()
        .filter(|pid| !wait_gone(*pid, Duration::from_secs(5)))
        .collect()
}

/// Reap our own children (so no zombie is left behind); they must be gone.
pub fn reap(children: Vec<Child>) {
    for mut child in children {
        if !process_alive(child.id()) {
            let _ = child.wait();
        }
    }
}

/// Make sure every program in `programs` exists: when one is missing,
/// install `packages` (as root; see [`install_debian_packages`]), else explain
/// how. `name` names the server in the message.
pub fn ensure_packages(name: &str, programs: &[&str], packages: &[&str]) -> Result<()> {
    let Some(missing) = programs.iter().find(|p| !Path::new(p).exists()) else {
        return Ok(());
    };
    if euid() != 0 {
        return Err(HarnessError(format!(
            "{name} is not installed ({missing} is missing). As root run: apt-get install -y \
             --no-install-recommends {} (with a /usr/sbin/policy-rc.d that exits 101 so nothing \
             starts as a system service)",
            packages.join(" ")
        )));
    }
    install_debian_packages(packages)
}

/// `apt-get install` the packages non-interactively, without starting services.
pub fn install_debian_packages(packages: &[&str]) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
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

/// Start `cmd` with no stdin, stdout and stderr into the file `log`, in a
/// process group of its own (a Ctrl-C on the test run does not kill it
/// half-way).
pub fn spawn_logged(cmd: &mut Command, log: &Path) -> Result<Child> {
    let out = fs::File::create(log)
        .map_err(|e| HarnessError::io(format_args!("{}", log.display()), e))?;
    let err = out
        .try_clone()
        .map_err(|e| HarnessError::io("log file", e))?;
    cmd.stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| HarnessError::io(format_args!("starting {cmd:?}"), e))
}

/// The Debian package `package` (at `version`, or apt's candidate) as a
/// `.deb` cached in `target/imapvm-debs/`, fetched with `apt-get download`
/// the first time (after an `apt-get update` if apt does not know it yet).
pub fn cached_deb(package: &str, version: Option<&str>) -> Result<PathBuf> {
    let cache = target_dir().join("imapvm-debs");
    mkdir(&cache)?;
    let prefix = match version {
        // apt writes an epoch's `:` as `%3a` in the file name.
        Some(v) => format!("{package}_{}_", v.replace(':', "%3a")),
        None => format!("{package}_"),
    };
    let find = || -> Option<PathBuf> {
        let mut debs: Vec<PathBuf> = fs::read_dir(&cache)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".deb"))
            })
            .collect();
        debs.sort();
        debs.pop()
    };
    if let Some(deb) = find() {
        return Ok(deb);
    }
    let spec = match version {
        Some(v) => format!("{package}={v}"),
        None => package.to_string(),
    };
    let download = || {
        run_checked(
            Command::new("apt-get")
                .current_dir(&cache)
                .args(["download", "-qq"])
                .arg(&spec),
        )
    };
    if download().is_err() {
        run_checked(Command::new("apt-get").args(["update", "-qq"]))?;
        download()?;
    }
    find().ok_or_else(|| {
        HarnessError(format!(
            "apt-get download {spec} left no {prefix}*.deb in {}",
            cache.display()
        ))
    })
}

/// Unpack a `.deb`'s files into `dest` (no maintainer scripts run).
pub fn extract_deb(deb: &Path, dest: &Path) -> Result<()> {
    mkdir(dest)?;
    run_checked(Command::new("dpkg-deb").arg("-x").arg(deb).arg(dest))?;
    Ok(())
}

/// The installed version of a Debian package, if it is installed.
pub fn installed_version(package: &str) -> Option<String> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${db:Status-Status} ${Version}", package])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.strip_prefix("installed ")
        .map(|v| v.trim().to_string())
}

/// Log in on a plaintext loopback listener as `user` and run `commands`
/// (each must end in a tagged OK), then log out. For provisioning a server
/// at set-up (an admin creating mailboxes and quotas), never for tests.
pub fn admin_session(
    addr: SocketAddr,
    user: &str,
    password: &str,
    commands: &[String],
) -> Result<()> {
    use std::io::{BufRead, BufReader, Write};
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| HarnessError::io(format_args!("connecting to {addr}"), e))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| HarnessError::io("socket timeout", e))?;
    let mut writer = stream
        .try_clone()
        .map_err(|e| HarnessError::io("socket clone", e))?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader
        .read_line(&mut line)
        .map_err(|e| HarnessError::io(format_args!("greeting from {addr}"), e))?;
    let login = format!("LOGIN {user} {password}");
    let all = std::iter::once(&login)
        .chain(commands)
        .chain(std::iter::once(&"LOGOUT".to_string()))
        .cloned()
        .collect::<Vec<_>>();
    for (n, command) in all.iter().enumerate() {
        let tag = format!("x{n}");
        writer
            .write_all(format!("{tag} {command}\r\n").as_bytes())
            .map_err(|e| HarnessError::io(format_args!("sending to {addr}"), e))?;
        loop {
            line.clear();
            let read = reader
                .read_line(&mut line)
                .map_err(|e| HarnessError::io(format_args!("reading from {addr}"), e))?;
            if read == 0 {
                return Err(HarnessError(format!("{addr} closed during `{command}`")));
            }
            if let Some(rest) = line.strip_prefix(&format!("{tag} ")) {
                if rest.starts_with("OK") {
                    break;
                }
                let shown = if n == 0 { "LOGIN ***" } else { command };
                return Err(HarnessError(format!(
                    "{addr}: `{shown}` answered {}",
                    rest.trim_end()
                )));
            }
        }
    }
    Ok(())
}
