//! The `imapvm` binary as an operator runs it: arguments, exit codes, human
//! and JSON output. One test binary; one module per subcommand family.

// A panic in a test is a failure with a message; helpers here may unwrap.
#![allow(clippy::unwrap_used)]

mod agi;
mod bad_input;
mod config;
mod forward;
mod migrate;
mod service;
mod voicemail;
mod watch_outputs;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output};
use std::time::{Duration, Instant};

/// Run `imapvm ARGS` and capture everything.
pub fn imapvm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_imapvm"))
        .args(args)
        .output()
        .expect("run imapvm")
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
