//! The integration-test harness shared by the test binaries of `imapvm` (the runtime),
//! `imapvm-outbox`, `imapvm-deliver`, `imapvm-watch` and `imapvm-migrate`, so that none of them
//! copies another's set-up.
//!
//! It does: start (once per test process) and describe the private Dovecot, Cyrus and Courier
//! through `xtask`'s server harness, write a voicemail.conf for a test and open it as a [`Store`],
//! run Python `imaplib` scripts as the independent mail client, make voicemails with generated
//! tones, point at the Asterisk-written fixtures, proxy a connection with injected faults
//! ([`fault_proxy`], and the fault runs' shared pieces in [`cuts`]), serve the private Dovecot's
//! OAuth 2 token introspection and issue tokens ([`oauth`]), stand in for a server that misbehaves
//! in one exact way ([`scripted`]) or in one nasty way of many ([`hostile`]), run a scenario on
//! each of the six server personalities ([`servers`]), time back-offs on a simulated clock
//! ([`time`]), make a test CA with server certificates for the TLS tests ([`pki`]), and capture the
//! trace log of the secrecy tests ([`logs`]).
//!
//! It does **not** test anything itself, and it is never a normal dependency: only test
//! binaries use it (it sits above the runtime, as tokio-test sits above tokio).
//!
//! Tests run concurrently against one server: each uses its own folder (a unique
//! `imapfolder`) or its own unique message ids, never an assumption about an empty mailbox.
//!
//! ```no_run
//! # async fn demo() {
//! let (store, folder) = imapvm_harness::private_store("example");
//! let mailbox = store.mailbox("1234@default").unwrap();
//! mailbox.deposit(&imapvm_harness::voicemail("5551001", 500)).await.unwrap();
//! let count = imapvm_harness::py(&format!(
//!     "m = connect('vm1234')\nprint(sel(m, {}))",
//!     imapvm_harness::q(&folder)
//! ));
//! assert_eq!(count.trim(), "1");
//! # }
//! ```
#![allow(
    clippy::unwrap_used,
    reason = "test harness: a failed set-up step should stop the test loudly"
)]

pub mod cuts;
pub mod fault_proxy;
pub mod hostile;
pub mod logs;
pub mod oauth;
pub mod pki;
pub mod scripted;
pub mod servers;
pub mod time;

use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use imapvm::{Audio, NewVoicemail, Store};
use xtask::server::ServerInfo;

/// The running private Dovecot (started on first use; it outlives the tests).
pub fn server() -> &'static ServerInfo {
    static SERVER: OnceLock<ServerInfo> = OnceLock::new();
    // `RUST_LOG=imapvm=trace` shows the (redacted) protocol trace of a failing test.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    SERVER.get_or_init(|| xtask::dovecot::ensure_running().expect("private Dovecot"))
}

/// The password of a test user.
pub fn pw(user: &str) -> String {
    server().users.get(user).cloned().expect("known user")
}

/// A name no other test (or earlier run) uses.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Writes a voicemail.conf for the main listener (STARTTLS required, the generated CA) with
/// `general` lines added to `[general]`, then the mailbox sections `boxes`, and opens it.
pub fn store_with(name: &str, general: &str, boxes: &str) -> Store {
    let s = server();
    store_for(name, &s.host, s.port, general, boxes)
}

/// Like [`store_with`] for any listener.
pub fn store_for(name: &str, host: &str, port: u16, general: &str, boxes: &str) -> Store {
    let s = server();
    // Asterisk keeps the first value of a repeated option: the test's own lines come first.
    let text = format!(
        "[general]\n{general}\nformat=wav\nserveremail=imapvm@vm.example.test\nmaxmsg=100\n\
         maxsecs=300\nimapserver={host}\nimapport={port}\nimapflags=tls\nimapcafile={ca}\n\
         imapgreetings=yes\nimapopentimeout=10\nimapreadtimeout=10\n\
         imapwritetimeout=10\nimapclosetimeout=5\n\n{boxes}\n",
        ca = s.cert.display(),
    );
    open_conf(&scratch_dir("imapvm-it", name), &text)
}

/// Writes `text` as `dir/voicemail.conf` and opens it.
fn open_conf(dir: &std::path::Path, text: &str) -> Store {
    let path = dir.join("voicemail.conf");
    std::fs::write(&path, text).unwrap();
    Store::open(&path).unwrap()
}

/// A fresh directory `target/tmp/{area}/{unique(name)}` (where Cargo puts integration
/// tests' scratch files).
pub fn scratch_dir(area: &str, name: &str) -> PathBuf {
    let dir = xtask::server::target_dir()
        .join("tmp")
        .join(area)
        .join(unique(name));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A store where box 1234@default (vm1234) keeps its voicemail in a fresh folder.
pub fn private_store(name: &str) -> (Store, String) {
    let folder = unique(name);
    let store = store_with(
        name,
        &format!("imapfolder={folder}\ngreetingsfolder={folder}-greetings"),
        &format!(
            "[default]\n1234 => 1234,Alice Mailbox,,,imapuser=vm1234|imappassword={}\n",
            pw("vm1234")
        ),
    );
    (store, folder)
}

/// Helpers for the scripts, on top of xtask's prelude.
pub(crate) const PY_HELPERS: &str = r#"
def sel(m, folder):
    return int(check(m.select('"%s"' % folder), "select " + folder)[0])

def uids(m, *crit):
    data = check(m.uid('SEARCH', None, *crit), "search")
    return [int(x) for x in data[0].split()]

def flags(m, uid):
    data = check(m.uid('FETCH', str(uid), '(FLAGS)'), 'fetch flags')
    return b" ".join(d if isinstance(d, bytes) else d[0] for d in data if d).decode()

def header(m, uid, name):
    data = check(m.uid('FETCH', str(uid), '(BODY.PEEK[HEADER.FIELDS (%s)])' % name), 'fetch header')
    for d in data:
        if isinstance(d, tuple):
            return d[1].decode().split(":", 1)[1].strip() if b":" in d[1] else ""
    return None

def append(m, folder, raw, fl=""):
    return check(m.append('"%s"' % folder, fl, None, raw), "append")
"#;

/// Runs a Python imaplib script (the prelude's `connect(user)` etc. and the helpers above
/// are available).
pub fn py(script: &str) -> String {
    xtask::mail_client::run(server(), &format!("{PY_HELPERS}\n{script}"))
        .expect("mail client script")
}

/// A 16-bit mono 8 kHz WAV of a sine tone.
pub fn wav(millis: u32, freq: f64) -> Vec<u8> {
    let rate = 8000u32;
    let samples = rate * millis / 1000;
    let mut data = Vec::with_capacity(samples as usize * 2);
    for i in 0..samples {
        let t = f64::from(i) / f64::from(rate);
        let v = (t * freq * std::f64::consts::TAU).sin() * 8000.0;
        data.extend_from_slice(&(v as i16).to_le_bytes());
    }
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&data);
    out
}

/// A voicemail with a short tone from `caller`.
pub fn voicemail(caller: &str, millis: u32) -> NewVoicemail {
    NewVoicemail {
        recording: Some(Audio {
            format: "wav".into(),
            bytes: wav(millis, 440.0),
        }),
        caller_id_num: caller.into(),
        caller_id_name: format!("Caller {caller}"),
        duration_secs: millis.div_ceil(1000),
        ..NewVoicemail::default()
    }
}

/// Python string literal of `s` (for folder names and ids in scripts).
pub fn q(s: &str) -> String {
    format!("{s:?}")
}

/// The path of a corpus fixture (Asterisk-written messages, copied from the shared corpus
/// into `crates/imapvm/tests/fixtures/asterisk/`).
pub fn fixture(name: &str) -> String {
    format!(
        "{}/../imapvm/tests/fixtures/asterisk/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// Standard base64 (RFC 4648), for the forms in which a secret could leak: SASL responses
/// are base64.
pub fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
