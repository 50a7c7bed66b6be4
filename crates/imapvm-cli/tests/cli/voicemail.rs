//! The voicemail subcommands against the private Dovecot: exit codes and the JSON field
//! names of docs/cli.md (a contract), checked end to end.

use std::path::Path;

use serde_json::Value;

use crate::{imapvm, scratch, stderr, stdout, wav};

fn conf(dir: &Path) -> String {
    let s = xtask::dovecot::ensure_running().expect("private Dovecot");
    let folder = format!(
        "cli-{}-{}",
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
             format=wav\nimapgreetings=yes\ngreetingsfolder={folder}-greet\n\
             [default]\n1234 => 1234,Alice,,,imapuser=vm1234|imappassword={}\n\
             5678 => 5678,Bjorn,,,imapuser=vm5678|imappassword={}\n",
            s.host,
            s.port,
            s.cert.display(),
            s.users["vm1234"],
            s.users["vm5678"],
        ),
    )
    .unwrap();
    path.to_string_lossy().into_owned()
}

fn json(args: &[&str]) -> Value {
    let out = imapvm(args);
    assert!(out.status.success(), "imapvm {args:?}: {}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)))
}

#[test]
fn deposit_list_count_play_flags_delete_with_the_json_contract() {
    let dir = scratch("voicemail");
    let c = conf(&dir);
    let audio = dir.join("in.wav");
    std::fs::write(&audio, wav(1500, 0)).unwrap();
    let a = audio.to_string_lossy().into_owned();

    let v = json(&[
        "-c",
        &c,
        "deposit",
        "1234@default",
        "--audio",
        &a,
        "--caller",
        "\"Bob\" <5551001>",
        "--urgent",
        "--json",
    ]);
    let r = &v["results"][0];
    for key in ["mailbox", "uid", "uidvalidity", "msgnum", "status"] {
        assert!(r.get(key).is_some(), "deposit result lacks {key}: {v}");
    }
    assert_eq!(r["status"], "stored");
    assert_eq!(r["msgnum"], 1);
    let uid = r["uid"].as_u64().unwrap();

    let v = json(&["-c", &c, "list", "1234@default", "--json"]);
    let m = &v["messages"][0];
    for key in [
        "number",
        "uid",
        "folder",
        "state",
        "caller_id_num",
        "caller_id_name",
        "duration_secs",
        "orig_time",
        "size",
    ] {
        assert!(m.get(key).is_some(), "list message lacks {key}: {v}");
    }
    assert_eq!(
        (m["uid"].as_u64(), m["state"].as_str()),
        (Some(uid), Some("urgent"))
    );
    assert_eq!(
        (m["caller_id_num"].as_str(), m["caller_id_name"].as_str()),
        (Some("5551001"), Some("Bob"))
    );
    assert_eq!(m["duration_secs"], 2);

    let v = json(&["-c", &c, "count", "1234@default", "--json"]);
    assert_eq!(
        v,
        serde_json::json!({"mailbox": "1234@default", "new": 0, "old": 0, "urgent": 1})
    );
    let summary = imapvm(&["-c", &c, "count", "1234@default", "--message-summary"]);
    assert_eq!(
        stdout(&summary),
        "Messages-Waiting: yes\r\nVoice-Message: 1/0 (1/0)\r\n"
    );

    let out_file = dir.join("out.wav");
    let o = out_file.to_string_lossy().into_owned();
    let v = json(&["-c", &c, "play", "1234@default", "1", "-o", &o, "--json"]);
    for key in ["uid", "file", "format", "bytes"] {
        assert!(v.get(key).is_some(), "play lacks {key}: {v}");
    }
    assert_eq!(
        std::fs::read(&out_file).unwrap(),
        std::fs::read(&audio).unwrap()
    );
    assert_eq!(
        json(&["-c", &c, "count", "1234@default", "--json"])["old"],
        1
    );

    let uid_text = uid.to_string();
    let v = json(&[
        "-c",
        &c,
        "mark-unread",
        "1234@default",
        "--uid",
        &uid_text,
        "--json",
    ]);
    assert_eq!(v["done"], serde_json::json!([uid]));
    assert_eq!(v["deferred"], serde_json::json!([]));
    let v = json(&["-c", &c, "move", "1234@default", "1", "Family", "--json"]);
    assert_eq!(v["done"], serde_json::json!([uid]));
    let v = json(&[
        "-c",
        &c,
        "list",
        "1234@default",
        "--folder",
        "Family",
        "--json",
    ]);
    assert_eq!(v["messages"].as_array().map(Vec::len), Some(1));
    let v = json(&[
        "-c",
        &c,
        "delete",
        "1234@default",
        "1",
        "--folder",
        "Family",
        "--json",
    ]);
    assert_eq!(v["done"].as_array().map(Vec::len), Some(1));
    assert_eq!(v["expunged"].as_array().map(Vec::len), Some(1));

    let v = json(&["-c", &c, "probe", "1234@default", "--json"]);
    for key in ["capabilities", "namespace", "delimiter", "quota", "folders"] {
        assert!(v.get(key).is_some(), "probe lacks {key}: {v}");
    }
}

#[test]
fn an_over_quota_deposit_exits_1_with_the_reason_and_keeps_the_recording() {
    let dir = scratch("quota");
    let c = conf(&dir);
    let audio = dir.join("big.wav");
    std::fs::write(&audio, wav(20_000, 0)).unwrap(); // 320 KB, the quota is 200 KB
    let a = audio.to_string_lossy().into_owned();
    let out = imapvm(&["-c", &c, "deposit", "5678@default", "--audio", &a]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("quota") && err.contains("kept"), "{err}");
    assert!(audio.exists());
}

#[test]
fn a_message_reference_is_required() {
    let out = imapvm(&[
        "-c",
        "/nonexistent.conf",
        "play",
        "1234@default",
        "-o",
        "x.wav",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn the_protocol_trace_never_shows_the_password() {
    let dir = scratch("trace");
    let c = conf(&dir);
    let password = xtask::dovecot::ensure_running()
        .expect("private Dovecot")
        .users["vm1234"]
        .clone();
    let out = imapvm(&["-vv", "-c", &c, "count", "1234@default"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("AUTHENTICATE"), "the trace is on: {err}");
    assert!(!err.contains(&password), "password in the trace");
    let b64 = {
        // base64 of "\0vm1234\0password", as SASL PLAIN would carry it
        let raw = format!("\0vm1234\0{password}");
        let table = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut s = String::new();
        for chunk in raw.as_bytes().chunks(3) {
            let n = chunk.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b))
                << (8 * (3 - chunk.len()));
            for i in 0..=chunk.len() {
                s.push(table[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        s
    };
    assert!(
        !err.contains(&b64[..b64.len() - 2]),
        "SASL blob in the trace"
    );
}

/// `--cache-dir DIR` (or imapvm.conf's `cache_dir`): each command writes which UIDs are
/// voicemail at its end and the next one starts from them, with the same answers as a
/// command without it.
#[test]
fn cache_dir_keeps_voicemail_uids_between_commands() {
    let dir = scratch("cache-dir");
    let c = conf(&dir);
    let cache = dir.join("uids");
    let d = cache.to_string_lossy().into_owned();
    let audio = dir.join("in.wav");
    std::fs::write(&audio, wav(500, 1)).unwrap();
    let a = audio.to_string_lossy().into_owned();
    for caller in ["5551001", "5551002"] {
        json(&[
            "-c",
            &c,
            "--cache-dir",
            &d,
            "deposit",
            "1234@default",
            "--audio",
            &a,
            "--caller",
            caller,
            "--json",
        ]);
    }
    let files: Vec<String> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].ends_with(".uids"), "{files:?}");
    let text = std::fs::read_to_string(cache.join(&files[0])).unwrap();
    assert!(text.starts_with("imapvm voicemail-uids 1\n"), "{text}");
    assert!(!text.contains(&xtask::dovecot::ensure_running().unwrap().users["vm1234"]));

    // The next command reads the file (its debug trace says so) and answers as one without.
    let cached = |args: &[&str]| imapvm(&[&["-c", &c, "--cache-dir", &d, "--json"], args].concat());
    let traced = cached(&["-vv", "count", "1234@default"]);
    assert!(traced.status.success(), "{}", stderr(&traced));
    assert!(
        stderr(&traced).contains("voicemail UIDs recalled"),
        "{}",
        stderr(&traced)
    );
    for cmd in ["count", "list"] {
        let with = serde_json::from_str::<Value>(&stdout(&cached(&[cmd, "1234@default"])));
        let without = json(&["-c", &c, "--json", cmd, "1234@default"]);
        assert_eq!(with.ok(), Some(without), "{cmd}");
    }
    let counted: Value =
        serde_json::from_str(&stdout(&cached(&["count", "1234@default"]))).unwrap();
    assert_eq!(counted["new"], 2);

    // From imapvm.conf beside voicemail.conf.
    let conf_cache = dir.join("from-conf");
    std::fs::write(
        dir.join("imapvm.conf"),
        format!("[general]\ncache_dir = {}\n", conf_cache.display()),
    )
    .unwrap();
    json(&["-c", &c, "--json", "count", "1234@default"]);
    assert_eq!(std::fs::read_dir(&conf_cache).unwrap().count(), 1);
}
