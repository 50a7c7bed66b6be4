//! The `imapvm` binary as an operator runs it: arguments, exit codes, human
//! and JSON output. One test binary; one module per subcommand family.

// A panic in a test is a failure with a message; helpers here may unwrap.
#![allow(clippy::unwrap_used)]

mod agi;
mod bad_input;
mod config;
mod forward;
mod metrics;
mod migrate;
mod oauth;
mod service;
mod voicemail;
mod watch_outputs;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Run `imapvm ARGS` and capture everything.
pub fn imapvm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_imapvm"))
        .args(args)
        .output()
        .expect("run imapvm")
}

/// A running `imapvm -c CONF --json ARGS` (a service: `watch`, `agi`): its JSON lines on
/// stdout as they come, and what it says on stderr. Dropping it kills it.
pub struct Running {
    /// The process.
    pub child: Child,
    /// Its `--json` lines.
    pub lines: mpsc::Receiver<Value>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Running {
    /// Starts it; stdout and stderr are read as they come.
    pub fn start(conf: &Path, args: &[&str]) -> Running {
        let mut child = Command::new(env!("CARGO_BIN_EXE_imapvm"))
            .arg("-c")
            .arg(conf)
            .arg("--json")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run imapvm");
        let said = Arc::new(Mutex::new(Vec::new()));
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let keep = Arc::clone(&said);
        std::thread::spawn(move || {
            for line in stderr.lines() {
                let Ok(line) = line else { return };
                keep.lock().unwrap().push(line);
            }
        });
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines() {
                let Ok(line) = line else { return };
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    let _ = tx.send(v);
                }
            }
        });
        Running {
            child,
            lines,
            stderr: said,
        }
    }

    /// The address a stderr line gives after `marker` (`"FastAGI on "`), within 30 s.
    pub fn address(&self, marker: &str) -> SocketAddr {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let found = self.stderr.lock().unwrap().iter().find_map(|l| {
                let (_, addr) = l.split_once(marker)?;
                addr.trim().parse().ok()
            });
            if let Some(addr) = found {
                return addr;
            }
            assert!(Instant::now() < deadline, "imapvm never said `{marker}`");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// SIGTERM, as systemd stops a service; its exit status (a panic after 15 s).
pub fn terminate(child: &mut Child) -> ExitStatus {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -TERM");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("imapvm did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Standard output as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A fixture shipped with the config crate's tests (one copy in the repo).
pub fn config_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../imapvm-config/tests/fixtures")
        .join(name)
}

/// A fresh directory for one test's files.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("imapvm-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// An 8 kHz 16-bit mono WAV of `millis` ms; its samples are a ramp offset by `seed`, so
/// two recordings differ (the bytes only need to round-trip).
pub fn wav(millis: u32, seed: u8) -> Vec<u8> {
    let data: Vec<u8> = (0..millis * 16)
        .map(|i| ((i % 251) as u8).wrapping_add(seed))
        .collect();
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&8000u32.to_le_bytes());
    out.extend_from_slice(&16000u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&data);
    out
}
