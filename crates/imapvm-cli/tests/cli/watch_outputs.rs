//! `imapvm watch` as a service runs it: outputs from imapvm.conf, `--shard K/N` split between
//! three processes (one with no box), SIGTERM stops cleanly (AMI log-off, exit 0).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use imapvm_watch::Shard;
use xtask::pbx::{AmiPeer, AmiPeerConfig, WebhookReceiver, WebhookReceiverConfig};

use crate::{Running, imapvm, scratch, stderr, stdout, terminate};

const BOXES: [&str; 3] = ["1234", "4321", "5678"];

fn watch(conf: &str, shard: &str) -> Running {
    Running::start(std::path::Path::new(conf), &["watch", "--shard", shard])
}

#[test]
fn three_shards_split_the_boxes_and_tell_ami_and_the_webhook() {
    let s = xtask::dovecot::ensure_running().expect("private Dovecot");
    let peer = AmiPeer::start(AmiPeerConfig::default()).unwrap();
    let receiver = WebhookReceiver::start(WebhookReceiverConfig::default()).unwrap();
    let dir = scratch("watch-shards");
    let folder = format!(
        "cli-shard-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    let mut text = format!(
        "[general]\nimapserver={}\nimapport={}\nimapflags=tls\nimapcafile={}\nimapfolder={folder}\n\
         [default]\n",
        s.host,
        s.port,
        s.cert.display()
    );
    for b in BOXES {
        text.push_str(&format!(
            "{b} => {b},Box {b},,,imapuser=vm{b}|imappassword={}\n",
            s.users[&format!("vm{b}")]
        ));
    }
    // The outputs in imapvm.conf, beside voicemail.conf, where `watch` finds it.
    std::fs::write(
        dir.join("imapvm.conf"),
        format!(
            "[general]\nami = {},imapvm,s3cret,refresh\nwebhook = {}\n",
            peer.addr(),
            receiver.url("/mwi")
        ),
    )
    .unwrap();
    let conf = dir.join("voicemail.conf");
    std::fs::write(&conf, text).unwrap();
    let conf = conf.to_string_lossy().into_owned();

    let check = imapvm(&["-c", &conf, "config", "check"]);
    assert!(check.status.success(), "{}", stderr(&check));
    assert!(
        stdout(&check).contains("imapvm.conf: 0 error(s), 0 warning(s);"),
        "both files read, no warning: {}",
        stdout(&check)
    );

    let owned = |k: u32| -> Vec<&str> {
        BOXES
            .iter()
            .copied()
            .filter(|b| Shard::new(k, 3).unwrap().owns(b, "default"))
            .collect()
    };
    let mut seen: Vec<String> = Vec::new();
    let mut children = Vec::new();
    // Pinned by the hash: 1/3 owns 1234 and 5678, 2/3 nothing, 3/3 owns 4321.
    assert_eq!(
        (owned(1), owned(2), owned(3)),
        (vec!["1234", "5678"], vec![], vec!["4321"])
    );
    for k in 1..=3u32 {
        let run = watch(&conf, &format!("{k}/3"));
        let rx = &run.lines;
        let want = owned(k);
        let mut got: Vec<String> = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while got.len() < want.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = rx.recv_timeout(left).expect("an MWI line in time");
            assert!(v.get("error").is_none(), "{v}");
            got.push(v["mailbox"].as_str().unwrap().to_owned());
        }
        got.sort();
        assert_eq!(got, want, "shard {k}/3 publishes exactly its boxes");
        seen.extend(got);
        children.push(run);
    }
    seen.sort();
    assert_eq!(seen, BOXES, "together, every box once");

    let (ok, actions) = peer.wait_for(Duration::from_secs(10), |a| {
        a.iter().filter(|x| x.name() == "VoicemailRefresh").count() >= 3
    });
    assert!(ok, "{actions:?}");
    let mut refreshed: Vec<&str> = actions
        .iter()
        .filter(|a| a.name() == "VoicemailRefresh")
        .map(|a| a.get("Mailbox").unwrap())
        .collect();
    refreshed.sort();
    assert_eq!(refreshed, BOXES);
    let (ok, requests) = receiver.wait_for(Duration::from_secs(10), |r| r.len() >= 3);
    assert!(ok, "{requests:?}");

    for mut run in children {
        let status = terminate(&mut run.child);
        assert!(status.success(), "exit status {status:?} after SIGTERM");
    }
    let (ok, actions) = peer.wait_for(Duration::from_secs(5), |a| {
        a.iter().filter(|x| x.name() == "Logoff").count() >= 3
    });
    assert!(ok, "every process logs off, the idle one too: {actions:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_output_flags_are_usage_errors() {
    for args in [
        ["watch", "--shard", "3/2"],
        ["watch", "--webhook", "ftp://x/"],
    ] {
        let out = imapvm(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(args[2]), "{}", stderr(&out));
    }
    // A bad --ami is a usage error that says why without repeating the secret.
    let dir = scratch("watch-bad-ami");
    let conf = dir.join("voicemail.conf");
    std::fs::write(&conf, "[default]\n1234 => 1,A,,,imapuser=vm1234\n").unwrap();
    let conf = conf.to_string_lossy().into_owned();
    let out = imapvm(&[
        "-c",
        &conf,
        "watch",
        "--ami",
        "pbx:5038,user,t0ps3cret,loud",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("`loud` is neither refresh nor mwi"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("t0ps3cret"), "{}", stderr(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

/// An AMI `Response: Error` (MWIUpdate without res_mwi_external_ami) is logged once, by the
/// command; the library reports it and does not log it a second time.
#[test]
fn an_ami_refusal_is_logged_once() {
    let s = xtask::dovecot::ensure_running().expect("private Dovecot");
    let peer = AmiPeer::start(AmiPeerConfig {
        known_actions: vec!["VoicemailRefresh".into()],
        ..AmiPeerConfig::default()
    })
    .unwrap();
    let dir = scratch("watch-ami-refused");
    let conf = dir.join("voicemail.conf");
    std::fs::write(
        &conf,
        format!(
            "[general]\nimapserver={}\nimapport={}\nimapflags=tls\nimapcafile={}\n\
             imapfolder=cli-ami-refused-{}\n[default]\n1234 => 1234,A,,,imapuser=vm1234|imappassword={}\n",
            s.host,
            s.port,
            s.cert.display(),
            std::process::id(),
            s.users["vm1234"]
        ),
    )
    .unwrap();
    let log = dir.join("stderr.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_imapvm"))
        .args(["-c", &conf.to_string_lossy(), "watch", "--ami"])
        .arg(format!("{},imapvm,s3cret,mwi", peer.addr()))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let (ok, actions) = peer.wait_for(Duration::from_secs(30), |a| {
        a.iter().any(|x| x.name() == "MWIUpdate")
    });
    assert!(ok, "{actions:?}");
    let refused = || {
        std::fs::read_to_string(&log)
            .unwrap()
            .matches("AMI action refused")
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while refused() == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    // Give a second log line the time it would need to appear.
    std::thread::sleep(Duration::from_millis(300));
    let status = terminate(&mut child);
    assert!(status.success(), "{status:?}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(refused(), 1, "{text}");
    assert!(!text.contains("s3cret"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A CA file that cannot be read stops `watch` at start (exit 1) with one line naming the
/// setting and the file, for an `https://` webhook and a `tls://` AMI target alike; the
/// secrets stay out of it.
#[test]
fn an_unreadable_ca_file_stops_watch_at_start_naming_it() {
    let dir = scratch("watch-bad-cafile");
    for (lines, setting) in [
        (
            "webhook = https://127.0.0.1:9/hook\nwebhook_secret = hook-s3cret\n\
             webhook_cafile = /nonexistent/hooks-ca.pem\n",
            "webhook_cafile /nonexistent/hooks-ca.pem",
        ),
        (
            "ami = tls://127.0.0.1:9,imapvm,ami-s3cret,mwi\nami_cafile = /nonexistent/pbx-ca.pem\n",
            "ami_cafile /nonexistent/pbx-ca.pem",
        ),
    ] {
        let conf = dir.join("voicemail.conf");
        std::fs::write(
            &conf,
            format!(
                "[general]\nimapserver=127.0.0.1\nimapport=9\n[default]\n1234 => 1,A,,,imapuser=vm1234\n\
                 [imapvm]\n{lines}"
            ),
        )
        .unwrap();
        let out = imapvm(&["-c", &conf.to_string_lossy(), "watch"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains(setting), "{err}");
        assert!(!err.contains("s3cret"), "{err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
