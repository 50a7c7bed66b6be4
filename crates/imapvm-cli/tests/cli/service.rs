//! `watch` and `agi` as systemd runs them (`Type=notify`, `WatchdogSec=`): a Unix datagram
//! socket bound by the test is their `NOTIFY_SOCKET`; they say READY=1, ping WATCHDOG=1 at
//! half of `WATCHDOG_USEC`, and say STOPPING=1 on SIGTERM. `agi`'s flags win over imapvm.conf.

use std::net::TcpListener;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{scratch, terminate};

/// The service manager's end: the datagrams the service sent, one string each.
struct Manager {
    socket: UnixDatagram,
    got: Vec<String>,
}

impl Manager {
    fn bind(dir: &Path) -> Manager {
        let socket = UnixDatagram::bind(dir.join("notify.sock")).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        Manager {
            socket,
            got: Vec::new(),
        }
    }

    /// Reads datagrams until one has `line` among its lines (true), or `limit` passes.
    fn wait_for(&mut self, line: &str, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        if self.count(line) > 0 {
            return true;
        }
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline {
            if let Ok(n) = self.socket.recv(&mut buf) {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                let found = text.lines().any(|l| l == line);
                self.got.push(text);
                if found {
                    return true;
                }
            }
        }
        false
    }

    /// How many datagrams carried `line`.
    fn count(&self, line: &str) -> usize {
        self.got
            .iter()
            .filter(|d| d.lines().any(|l| l == line))
            .count()
    }
}

fn under_systemd(dir: &Path, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_imapvm"))
        .args(args)
        .env("NOTIFY_SOCKET", dir.join("notify.sock"))
        .env("WATCHDOG_USEC", "400000")
        .env_remove("WATCHDOG_PID")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// READY=1 within 30 s; the datagram that carried it.
fn ready(manager: &mut Manager) -> String {
    assert!(
        manager.wait_for("READY=1", Duration::from_secs(30)),
        "READY=1: {:?}",
        manager.got
    );
    manager
        .got
        .iter()
        .find(|d| d.lines().any(|l| l == "READY=1"))
        .cloned()
        .unwrap_or_default()
}

/// SIGTERM: exit 0, and STOPPING=1 said.
fn stop(manager: &mut Manager, child: &mut Child) {
    let status = terminate(child);
    assert!(status.success(), "{status:?}");
    assert!(
        manager.wait_for("STOPPING=1", Duration::from_secs(2)),
        "STOPPING=1: {:?}",
        manager.got
    );
}

#[test]
fn watch_says_ready_when_its_boxes_are_watched_pings_the_watchdog_and_says_stopping() {
    let s = xtask::dovecot::ensure_running().expect("private Dovecot");
    let dir = scratch("notify-watch");
    let conf = dir.join("voicemail.conf");
    std::fs::write(
        &conf,
        format!(
            "[general]\nimapserver={}\nimapport={}\nimapflags=tls\nimapcafile={}\n\
             [default]\n1234 => 1234,A,,,imapuser=vm1234|imappassword={}\n\
             4321 => 4321,B,,,imapuser=vm4321|imappassword={}\n",
            s.host,
            s.port,
            s.cert.display(),
            s.users["vm1234"],
            s.users["vm4321"]
        ),
    )
    .unwrap();
    let mut manager = Manager::bind(&dir);
    let mut child = under_systemd(&dir, &["-c", conf.to_str().unwrap(), "watch"]);
    let ready = ready(&mut manager);
    assert!(
        ready.contains("STATUS=watching 2 of 2 IMAP account(s), 2 mailbox(es)"),
        "{ready:?}"
    );
    // Pings every 0.2 s (half of WATCHDOG_USEC): at least three in 1.5 s.
    manager.wait_for("never sent", Duration::from_millis(1500));
    assert!(
        manager.count("WATCHDOG=1") >= 3,
        "WATCHDOG=1 pings: {:?}",
        manager.got
    );
    stop(&mut manager, &mut child);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn agi_listens_where_the_flag_says_over_imapvm_conf_and_says_ready() {
    let dir = scratch("notify-agi");
    let conf = dir.join("voicemail.conf");
    // No IMAP server is needed to start listening.
    std::fs::write(
        &conf,
        "[general]\nimapserver=127.0.0.1\nimapport=9\n\
         [default]\n1234 => 1234,A,,,imapuser=vm1234|imappassword=x\n",
    )
    .unwrap();
    let file_spool = dir.join("spool-from-imapvm-conf");
    let flag_spool = dir.join("spool-from-the-flag");
    std::fs::write(
        dir.join("imapvm.conf"),
        format!(
            "[general]\nagi_listen = 127.0.0.1:0\nagi_spool = {}\n",
            file_spool.display()
        ),
    )
    .unwrap();
    let port = {
        let probe = TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let listen = format!("127.0.0.1:{port}");
    let vm_spool = dir.join("vm");
    std::fs::create_dir_all(&vm_spool).unwrap();
    let mut manager = Manager::bind(&dir);
    let mut child = under_systemd(
        &dir,
        &[
            "-c",
            conf.to_str().unwrap(),
            "agi",
            "--listen",
            &listen,
            "--spool",
            flag_spool.to_str().unwrap(),
            "--vm-spool",
            vm_spool.to_str().unwrap(),
        ],
    );
    let ready = ready(&mut manager);
    assert!(
        ready.contains(&format!("STATUS=FastAGI on {listen}")),
        "{ready:?}"
    );
    assert!(
        manager.wait_for("WATCHDOG=1", Duration::from_secs(2)),
        "{:?}",
        manager.got
    );
    assert!(
        std::net::TcpStream::connect(&listen).is_ok(),
        "listening on the flag's address"
    );
    assert!(flag_spool.is_dir(), "the flag's spool is used");
    assert!(!file_spool.exists(), "imapvm.conf's spool is not");
    stop(&mut manager, &mut child);
    let _ = std::fs::remove_dir_all(&dir);
}
