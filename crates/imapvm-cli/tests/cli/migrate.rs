//! `imapvm migrate` as an operator runs it: `kill -9` in the middle of an import, then a
//! re-run that finishes the job without duplicates; the JSON report of docs/cli.md; dry run.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{imapvm, scratch, stderr, stdout};

const MESSAGES: u32 = 240;

/// A spool of `MESSAGES` voicemails (8 s of 16-bit WAV each) in 1234@default's INBOX, with
/// `.txt` files as Asterisk writes them.
fn spool(dir: &Path) -> String {
    let inbox = dir.join("spool/voicemail/default/1234/INBOX");
    std::fs::create_dir_all(&inbox).unwrap();
    for n in 0..MESSAGES {
        let origtime = 1_796_000_000 + i64::from(n);
        let id = if n % 4 == 0 {
            String::new()
        } else {
            format!("msg_id={origtime}-{n:08x}\n")
        };
        std::fs::write(
            inbox.join(format!("msg{n:04}.txt")),
            format!(
                ";\n; Message Information file\n;\n[message]\norigmailbox=1234\n\
                 context=from-internal\nmacrocontext=\nexten=1234\nrdnis=unknown\npriority=2\n\
                 callerchan=PJSIP/trunk-{n:08x}\ncallerid=\"Kill Test\" <555{n:04}>\n\
                 origdate=Thu Dec  3 12:00:00 AM UTC 2026\norigtime={origtime}\ncategory=\n\
                 {id}flag=\nduration=8\n"
            ),
        )
        .unwrap();
        let data: Vec<u8> = (0..8 * 16_000u32)
            .map(|i| ((i * 7 + n) % 251) as u8)
            .collect();
        let mut wav = b"RIFF".to_vec();
        wav.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
        wav.extend_from_slice(b"WAVEfmt ");
        wav.extend_from_slice(&[16, 0, 0, 0, 1, 0, 1, 0]);
        wav.extend_from_slice(&8000u32.to_le_bytes());
        wav.extend_from_slice(&16000u32.to_le_bytes());
        wav.extend_from_slice(&[2, 0, 16, 0]);
        wav.extend_from_slice(b"data");
        wav.extend_from_slice(&(data.len() as u32).to_le_bytes());
        wav.extend_from_slice(&data);
        std::fs::write(inbox.join(format!("msg{n:04}.wav")), wav).unwrap();
    }
    dir.join("spool").to_string_lossy().into_owned()
}

fn conf(dir: &Path, folder: &str) -> String {
    let s = xtask::dovecot::ensure_running().expect("private Dovecot");
    let path = dir.join("voicemail.conf");
    std::fs::write(
        &path,
        format!(
            "[general]\nimapserver={}\nimapport={}\nimapflags=tls\nimapcafile={}\n\
             imapfolder={folder}\nformat=wav\nimapgreetings=no\nmaxmsg=1000\n\
             [default]\n1234 => 1234,Alice,,,imapuser=vm1234|imappassword={}\n",
            s.host,
            s.port,
            s.cert.display(),
            s.users["vm1234"],
        ),
    )
    .unwrap();
    path.to_string_lossy().into_owned()
}

fn new_count(c: &str) -> u64 {
    let out = imapvm(&["-c", c, "--json", "count", "1234@default"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    v["new"].as_u64().unwrap()
}

#[test]
fn kill_9_in_the_middle_then_a_rerun_imports_the_rest_without_duplicates() {
    let dir = scratch("migrate-kill");
    let folder = format!("cli-migrate-{}", std::process::id());
    let c = conf(&dir, &folder);
    let sp = spool(&dir);

    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_imapvm"))
        .args(["-c", &c, "--json", "migrate", "import", "--spool", &sp])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill -9 as soon as some messages are on the server.
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the import finished ({status}) before it could be interrupted");
        }
        if new_count(&c) > 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "nothing arrived"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // An APPEND whose bytes all arrived before the kill may still be being stored.
    std::thread::sleep(Duration::from_millis(500));
    let present = new_count(&c);
    assert!(
        present > 0 && present < u64::from(MESSAGES),
        "interrupted with {present} of {MESSAGES} stored"
    );

    let out = imapvm(&["-c", &c, "--json", "migrate", "import", "--spool", &sp]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["found"], u64::from(MESSAGES));
    assert_eq!(v["skipped"], present, "{v}");
    assert_eq!(v["imported"], u64::from(MESSAGES) - present, "{v}");
    assert_eq!(v["failed"], Value::Array(Vec::new()));
    assert_eq!(
        new_count(&c),
        u64::from(MESSAGES),
        "no duplicates, none missing"
    );

    // A dry run now plans nothing but skips; the human text says so.
    let out = imapvm(&["-c", &c, "migrate", "import", "--spool", &sp, "--dry-run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "found {MESSAGES}, to copy 0, skipped {MESSAGES} (already there), failed 0"
        )),
        "{text}"
    );
    // `--spool` may name the voicemail directory itself: the same plan.
    let voicemail = format!("{sp}/voicemail");
    let out = imapvm(&[
        "-c",
        &c,
        "migrate",
        "import",
        "--spool",
        &voicemail,
        "--dry-run",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        text,
        "astspooldir and its voicemail/ plan alike"
    );

    let server = xtask::dovecot::ensure_running().unwrap();
    xtask::mail_client::run(
        &server,
        &format!("m = connect('vm1234')\nm.delete('\"{folder}\"')\n"),
    )
    .unwrap();
}

#[test]
fn bad_arguments_and_a_missing_spool_fail_with_one_line() {
    let dir = scratch("migrate-args");
    let c = conf(&dir, "cli-migrate-unused");
    let out = imapvm(&["-c", &c, "migrate", "import"]);
    assert_eq!(out.status.code(), Some(2), "--spool is required");
    let out = imapvm(&[
        "-c",
        &c,
        "migrate",
        "import",
        "--spool",
        &dir.join("nowhere").to_string_lossy(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    let nowhere = dir.join("nowhere").to_string_lossy().into_owned();
    assert_eq!(err.matches(&nowhere).count(), 1, "the path once: {err}");
    assert!(
        err.contains("astspooldir") && err.contains("voicemail directory"),
        "says what --spool takes: {err}"
    );
    // A directory that holds no voicemail is refused the same way, not read as empty.
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = imapvm(&[
        "-c",
        &c,
        "migrate",
        "import",
        "--spool",
        &empty.to_string_lossy(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no voicemail here"),
        "{}",
        stderr(&out)
    );
}
