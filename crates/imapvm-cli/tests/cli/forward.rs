//! `imapvm deposit A B ...` (one result per recipient; exit 1 when any failed) and
//! `imapvm forward` (with and without `--comment`) against the private Dovecot.

use std::path::Path;

use serde_json::Value;

use crate::{imapvm, scratch, stderr, stdout, wav};

fn conf(dir: &Path) -> String {
    let s = xtask::dovecot::ensure_running().expect("private Dovecot");
    let folder = format!(
        "cli-fwd-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    let path = dir.join("voicemail.conf");
    std::fs::write(
        &path,
        format!(
            "[general]\nimapserver={}\nimapport={}\nimapflags=tls\nimapcafile={}\nimapfolder={folder}\n\
             format=wav\n\
             [default]\n1234 => 1234,Alice,,,imapuser=vm1234|imappassword={}\n\
             5678 => 5678,Bjorn,,,imapuser=vm5678|imappassword={}\n\
             [other]\n4321 => 4321,Bob,,,imapuser=vm4321|imappassword={}\n",
            s.host,
            s.port,
            s.cert.display(),
            s.users["vm1234"],
            s.users["vm5678"],
            s.users["vm4321"],
        ),
    )
    .unwrap();
    path.to_string_lossy().into_owned()
}

fn parse(out: &std::process::Output) -> Value {
    serde_json::from_str(&stdout(out)).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

#[test]
fn a_multi_recipient_deposit_reports_each_and_exits_1_when_one_is_refused() {
    let dir = scratch("multi-deposit");
    let c = conf(&dir);
    let small = dir.join("small.wav");
    std::fs::write(&small, wav(800, 0)).unwrap();
    let s = small.to_string_lossy().into_owned();
    let out = imapvm(&[
        "-c",
        &c,
        "--json",
        "deposit",
        "1234@default",
        "4321@other",
        "--audio",
        &s,
        "--caller",
        "5551001",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = parse(&out);
    let rows = v["results"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{v}");
    for (row, mailbox) in rows.iter().zip(["1234@default", "4321@other"]) {
        assert_eq!(row["mailbox"], mailbox);
        assert_eq!(row["status"], "stored");
        for key in ["uid", "uidvalidity", "msgnum"] {
            assert!(row[key].is_u64(), "{key}: {row}");
        }
    }
    assert_eq!(rows[0]["msg_id"], rows[1]["msg_id"]);

    // 320 KB: over vm5678's 200K quota, fine for vm1234.
    let big = dir.join("big.wav");
    std::fs::write(&big, wav(20_000, 1)).unwrap();
    let b = big.to_string_lossy().into_owned();
    let out = imapvm(&[
        "-c",
        &c,
        "--json",
        "deposit",
        "5678@default",
        "1234@default",
        "--audio",
        &b,
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("5678@default") && err.contains("quota"),
        "{err}"
    );
    let v = parse(&out);
    assert_eq!(v["results"][0]["status"], "refused", "{v}");
    assert_eq!(v["results"][1]["status"], "stored", "{v}");
    assert_eq!(v["results"][1]["msgnum"], 2, "{v}");
}

#[test]
fn forward_with_and_without_a_comment() {
    let dir = scratch("forward");
    let c = conf(&dir);
    let audio = dir.join("in.wav");
    let recording = wav(1500, 7);
    std::fs::write(&audio, &recording).unwrap();
    let a = audio.to_string_lossy().into_owned();
    let comment = dir.join("comment.wav");
    std::fs::write(&comment, wav(500, 99)).unwrap();
    let cm = comment.to_string_lossy().into_owned();
    let out = imapvm(&[
        "-c",
        &c,
        "--json",
        "deposit",
        "1234@default",
        "--audio",
        &a,
        "--caller",
        "\"Carol\" <5552002>",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let uid = parse(&out)["results"][0]["uid"]
        .as_u64()
        .unwrap()
        .to_string();

    // By number, without comment.
    let out = imapvm(&[
        "-c",
        &c,
        "--json",
        "forward",
        "1234@default",
        "1",
        "4321@other",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = parse(&out);
    assert_eq!(v["done"][0]["mailbox"], "4321@other", "{v}");
    assert_eq!(v["done"][0]["status"], "stored", "{v}");
    assert_eq!(v["deferred"].as_array().map(Vec::len), Some(0), "{v}");
    assert_eq!(v["uid"].as_u64().map(|u| u.to_string()), Some(uid.clone()));

    // By UID, with a comment.
    let out = imapvm(&[
        "-c",
        &c,
        "--json",
        "forward",
        "1234@default",
        "--uid",
        &uid,
        "4321@other",
        "--comment",
        &cm,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(parse(&out)["done"][0]["msgnum"], 2);

    // Both copies keep the caller; both play back the original recording.
    let out = imapvm(&["-c", &c, "--json", "list", "4321@other"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = parse(&out);
    let messages = v["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2, "{v}");
    for m in messages {
        assert_eq!(m["caller_id_num"], "5552002", "{m}");
        assert_eq!(m["caller_id_name"], "Carol", "{m}");
    }
    for n in ["1", "2"] {
        let file = dir.join(format!("copy{n}.wav"));
        let f = file.to_string_lossy().into_owned();
        let out = imapvm(&["-c", &c, "play", "4321@other", n, "-o", &f, "--peek"]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(std::fs::read(&file).unwrap(), recording);
    }
    // The source is still new: forwarding never marks it read.
    let out = imapvm(&["-c", &c, "--json", "count", "1234@default"]);
    assert_eq!(parse(&out)["new"], 1, "{}", stdout(&out));

    // Usage errors exit 2 (clap) or 1 with one line (a number that is not one).
    let out = imapvm(&["-c", &c, "forward", "1234@default"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = imapvm(&["-c", &c, "forward", "1234@default", "x", "4321@other"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("not a message number"));
}
