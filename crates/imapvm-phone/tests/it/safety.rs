//! Safety: many calls at once without cross-talk, bad and silent peers end only their own
//! call, PIN digits never reach the logs.

use std::time::Duration;

use imapvm_phone::PhoneOptions;
use imapvm_testkit::asterisk::{self, Call, RecordEnd, Step};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{Rig, assert_clean, py, q};

/// 200 callers leave a message for the same box at the same time; each stored message
/// carries its own caller's audio (the marker sample) and caller id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_calls_at_once_each_store_their_own_message() {
    let mut rig = Rig::start("calls-200", "maxmsg=1000").await;
    let addr = rig.phone.local_addr();
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..200u16 {
        let mut call = Call::voicemail(&["1234@default", "s"]).phone([Step::Speak {
            secs: 0.5,
            end: RecordEnd::Key('#'),
        }]);
        call.caller_num = Some(format!("{}", 10_000 + i));
        call.marker = 10_000 + i;
        call.patience = Duration::from_secs(60);
        calls.spawn(asterisk::place(addr, call));
    }
    let mut ok = 0;
    while let Some(out) = calls.join_next().await {
        let out = out.unwrap();
        assert_clean(&out);
        assert_eq!(
            out.variables.get("VMSTATUS").map(String::as_str),
            Some("SUCCESS")
        );
        ok += 1;
    }
    assert_eq!(ok, 200);
    for _ in 0..200 {
        let r = rig.phone.next_report().await.unwrap();
        assert_eq!(r.status.as_deref(), Some("SUCCESS"), "{r:?}");
    }
    let check = py(&format!(
        r#"
import email, struct
m = connect("vm1234")
sel(m, {f})
bad = []
n = 0
for u in uids(m, "ALL"):
    data = check(m.uid("FETCH", str(u), "(BODY.PEEK[])"), "fetch")
    msg = email.message_from_bytes(data[0][1])
    caller = msg["X-Asterisk-VM-Caller-ID-Num"].strip()
    for part in msg.walk():
        if part.get_content_maintype() == "audio":
            audio = part.get_payload(decode=True)
            marker = struct.unpack("<h", audio[44:46])[0]
            n += 1
            if str(marker) != caller:
                bad.append((caller, marker))
print(n)
print(bad)
"#,
        f = q(&rig.folder)
    ));
    let lines: Vec<&str> = check.lines().collect();
    assert_eq!(lines, ["200", "[]"], "every message is its own caller's");
    assert!(
        rig.spool_files().is_empty(),
        "{:?}",
        rig.spool_files().len()
    );
}

/// A peer that sends garbage, one that sends an endless line and one that never speaks are
/// each cut off, and a real call beside them is served.
#[tokio::test]
async fn bad_and_silent_peers_end_only_their_own_calls() {
    let mut options = PhoneOptions::default();
    options.agi.timeouts.environment = Duration::from_secs(1);
    let mut rig = Rig::build("bad-peers", "", None, options).await;
    let addr = rig.phone.local_addr();
    let closed_within = |mut s: tokio::net::TcpStream, bound: Duration| async move {
        let mut buf = vec![0; 4096];
        let started = std::time::Instant::now();
        loop {
            match tokio::time::timeout(bound, s.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return started.elapsed(),
                Ok(Ok(_)) => continue,
                Err(_) => panic!("the server kept a bad peer for {bound:?}"),
            }
        }
    };
    // An endless line: over Asterisk's 8 KiB line limit.
    let mut long = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _ = long.write_all(&vec![b'x'; 100_000]).await;
    // Not AGI at all.
    let mut garbage = tokio::net::TcpStream::connect(addr).await.unwrap();
    garbage
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    // Nothing.
    let silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    let real = tokio::spawn(asterisk::place(
        addr,
        Call::voicemail(&["1234@default", "s"]).phone([Step::Speak {
            secs: 1.0,
            end: RecordEnd::Key('#'),
        }]),
    ));
    closed_within(long, Duration::from_secs(5)).await;
    closed_within(garbage, Duration::from_secs(5)).await;
    closed_within(silent, Duration::from_secs(5)).await;
    let out = real.await.unwrap();
    assert_clean(&out);
    assert_eq!(
        out.variables.get("VMSTATUS").map(String::as_str),
        Some("SUCCESS")
    );
    let mut errors = 0;
    let mut served = 0;
    for _ in 0..4 {
        let r = tokio::time::timeout(Duration::from_secs(10), rig.phone.next_report())
            .await
            .unwrap()
            .unwrap();
        if r.error.is_some() {
            errors += 1;
        } else {
            served += 1;
        }
    }
    assert_eq!((errors, served), (3, 1));
}
