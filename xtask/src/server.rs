//! What every private test server shares: the JSON contract, free ports,
//! generated secrets and certificates, and process control by pid.
//!
//! The JSON printed by `cargo xtask dovecot start` (and later `cyrus`,
//! `courier`) is [`ServerInfo`]; integration tests read the same struct.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
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
        if let Ok(cmdline) = fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(needle) && process_alive(pid) {
                found.push(pid);
            }
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
