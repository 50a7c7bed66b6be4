//! The "user's mail client" for integration tests: Python's `imaplib`, an
//! IMAP implementation independent of ours.
//!
//! [`run`] executes a Python script with a prelude that defines
//! `connect(user)` (STARTTLS, verifying the server certificate against the
//! generated CA, then LOGIN), `connect_old(user)` (the old personality) and
//! `connect_master(user)` (SASL PLAIN with `user` as authorization identity and
//! the master user's credentials). Whatever the script prints is returned;
//! a non-zero exit (an uncaught exception, a failed `assert`) is an error that
//! carries the script's stderr.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::server::{HarnessError, Result, ServerInfo};

const PRELUDE: &str = r#"
import imaplib, json, os, ssl, sys
INFO = json.loads(os.environ["IMAPVM_SERVER_JSON"])
CTX = ssl.create_default_context(cafile=INFO["cert"])

def _login(m, user):
    m.login(user, INFO["users"][user])
    return m

def connect(user, tls=True):
    m = imaplib.IMAP4(INFO["host"], INFO["port"])
    if tls:
        m.starttls(ssl_context=CTX)
    return _login(m, user)

def connect_imaps(user):
    return _login(imaplib.IMAP4_SSL(INFO["host"], INFO["imaps_port"], ssl_context=CTX), user)

def connect_old(user, tls=True):
    m = imaplib.IMAP4(INFO["old_host"], INFO["old_port"])
    if tls:
        m.starttls(ssl_context=CTX)
    return _login(m, user)

def connect_master(user):
    m = imaplib.IMAP4(INFO["host"], INFO["port"])
    m.starttls(ssl_context=CTX)
    master = INFO["master"]
    assert master is not None, "this server has no master user"
    blob = ("%s\0%s\0%s" % (user, master["user"], master["password"])).encode()
    m.authenticate("PLAIN", lambda _challenge: blob)
    return m

def check(typ_data, what):
    typ, data = typ_data
    assert typ == "OK", "%s: %s %r" % (what, typ, data)
    return data
"#;

/// Run `script` (Python 3, after the prelude) against `server`; return stdout.
pub fn run(server: &ServerInfo, script: &str) -> Result<String> {
    let json = serde_json::to_string(server).map_err(|e| HarnessError(e.to_string()))?;
    let mut child = Command::new("python3")
        .arg("-")
        .env("IMAPVM_SERVER_JSON", json)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| HarnessError::io("starting python3", e))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(format!("{PRELUDE}\n{script}\n").as_bytes())
            .map_err(|e| HarnessError::io("writing the script to python3", e))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| HarnessError::io("waiting for python3", e))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(HarnessError(format!(
            "mail client script failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )))
    }
}
