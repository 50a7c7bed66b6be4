//! Bad input to every subcommand: a malformed voicemail.conf, a missing audio file, an
//! unreadable spool, a truncated message. Each exits non-zero with one clear line on stderr
//! and changes nothing on the server (checked with the independent mail client).

use std::path::Path;
use std::process::Output;

use crate::{imapvm, scratch, stderr, stdout, wav};

/// A unique folder name on the private Dovecot.
fn folder(tag: &str) -> String {
    format!(
        "bad-{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    )
}

/// A voicemail.conf that would work against the private Dovecot, plus `extra` in [general].
fn conf(dir: &Path, folder: &str, extra: &str) -> String {
    let s = xtask::dovecot::ensure_running().expect("private Dovecot");
    let path = dir.join("voicemail.conf");
    std::fs::write(
        &path,
        format!(
            "[general]\n{extra}\nimapserver={}\nimapport={}\nimapflags=tls\nimapcafile={}\n\
             imapfolder={folder}\nformat=wav\nimapgreetings=yes\ngreetingsfolder={folder}-greet\n\
             imapvm_outbox={}\n\
             [default]\n1234 => 1234,Alice,,,imapuser=vm1234|imappassword={}\n",
            s.host,
            s.port,
            s.cert.display(),
            dir.join("outbox").display(),
            s.users["vm1234"],
        ),
    )
    .unwrap();
    path.to_string_lossy().into_owned()
}

/// How many messages `folder` and its greetings folder hold (-1: the folder does not exist).
fn on_server(folder: &str) -> String {
    let s = xtask::dovecot::ensure_running().expect("private Dovecot");
    xtask::mail_client::run(
        &s,
        &format!(
            r#"
m = connect('vm1234')
out = []
for f in [{f:?}, {g:?}]:
    typ, data = m.select('"%s"' % f, readonly=True)
    out.append(str(int(data[0])) if typ == 'OK' else '-1')
print(' '.join(out))
"#,
            f = folder,
            g = format!("{folder}-greet"),
        ),
    )
    .expect("mail client")
    .trim()
    .to_owned()
}

/// Non-zero exit, exactly one non-empty line on stderr (tracing off), no panic: `Err` says
/// what was wrong instead.
fn one_line_failure(args: &[&str], out: &Output) -> Result<String, String> {
    let err = stderr(out);
    if out.status.success() {
        return Err(format!("imapvm {args:?} succeeded: {err}"));
    }
    if err.contains("panicked") {
        return Err(format!("imapvm {args:?} panicked: {err}"));
    }
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.len() != 1 {
        return Err(format!("imapvm {args:?}: not one line: {err:?}"));
    }
    Ok(lines[0].to_owned())
}

/// Like [`one_line_failure`], failing the test at once.
fn fails_with_one_line(args: &[&str], out: &Output) -> String {
    one_line_failure(args, out).unwrap_or_else(|e| panic!("{e}"))
}

/// Every subcommand that reads voicemail.conf, with `c` as the config.
fn every_subcommand<'a>(
    c: &'a str,
    audio: &'a str,
    out: &'a str,
    spool: &'a str,
) -> Vec<Vec<&'a str>> {
    let m = "1234@default";
    vec![
        vec!["-c", c, "config", "show", m],
        vec![
            "-c",
            c,
            "message",
            "compose",
            "--mailbox",
            m,
            "--audio",
            audio,
            "-o",
            out,
        ],
        vec!["-c", c, "probe", m],
        vec!["-c", c, "deposit", m, "--audio", audio],
        vec!["-c", c, "list", m],
        vec!["-c", c, "play", m, "1", "-o", out],
        vec!["-c", c, "mark-read", m, "1"],
        vec!["-c", c, "mark-unread", m, "1"],
        vec!["-c", c, "urgent", m, "1"],
        vec!["-c", c, "not-urgent", m, "1"],
        vec!["-c", c, "move", m, "1", "Old"],
        vec!["-c", c, "delete", m, "1"],
        vec!["-c", c, "undelete", m, "1"],
        vec!["-c", c, "expunge", m],
        vec!["-c", c, "count", m],
        vec!["-c", c, "greeting", "get", m, "unavail", "-o", out],
        vec!["-c", c, "greeting", "set", m, "unavail", "--audio", audio],
        vec!["-c", c, "greeting", "delete", m, "unavail"],
        vec!["-c", c, "watch", "--mailbox", m],
        vec!["-c", c, "migrate", "import", "--spool", spool],
        vec!["-c", c, "migrate", "export", "--spool", spool],
        vec!["-c", c, "outbox", "list"],
        vec!["-c", c, "outbox", "flush"],
    ]
}

#[test]
fn a_malformed_voicemail_conf_fails_every_subcommand_and_touches_nothing() {
    let dir = scratch("bad-conf");
    let f = folder("conf");
    let audio = dir.join("in.wav");
    std::fs::write(&audio, wav(100, 0)).unwrap();
    let spool = dir.join("spool");
    std::fs::create_dir_all(&spool).unwrap();
    let out = dir.join("out.wav");
    let (a, o, sp) = (
        audio.to_string_lossy().into_owned(),
        out.to_string_lossy().into_owned(),
        spool.to_string_lossy().into_owned(),
    );
    // An error-severity diagnostic (empty format) in an otherwise working file; then a file
    // that is not text at all; then one that does not exist.
    let broken = conf(&dir, &f, "format=");
    let garbage = dir.join("garbage.conf");
    std::fs::write(&garbage, b"\0\xff\xfe[general\n=>=>\0").unwrap();
    let garbage = garbage.to_string_lossy().into_owned();
    let missing = dir.join("missing.conf").to_string_lossy().into_owned();
    let mut wrong = Vec::new();
    for c in [&broken, &garbage, &missing] {
        for args in every_subcommand(c, &a, &o, &sp) {
            let run = imapvm(&args);
            match one_line_failure(&args, &run) {
                Ok(line) if line.len() < 2000 => {}
                Ok(line) => wrong.push(format!("{args:?}: a {}-byte line", line.len())),
                Err(e) => wrong.push(e),
            }
        }
        // config check reports the diagnostics (its job) and fails.
        let run = imapvm(&["-c", c, "config", "check"]);
        assert!(!run.status.success(), "config check {c}");
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!(on_server(&f), "-1 -1", "nothing was created on the server");
}

#[test]
fn a_missing_audio_file_fails_with_its_name_and_touches_nothing() {
    let dir = scratch("bad-audio");
    let f = folder("audio");
    let c = conf(&dir, &f, "");
    let missing = dir
        .join("no-such-recording.wav")
        .to_string_lossy()
        .into_owned();
    let out = dir.join("out.eml").to_string_lossy().into_owned();
    for args in [
        vec!["-c", &c, "deposit", "1234@default", "--audio", &missing],
        vec![
            "-c",
            &c,
            "greeting",
            "set",
            "1234@default",
            "busy",
            "--audio",
            &missing,
        ],
        vec![
            "-c",
            &c,
            "message",
            "compose",
            "--mailbox",
            "1234@default",
            "--audio",
            &missing,
            "-o",
            &out,
        ],
    ] {
        let run = imapvm(&args);
        let line = fails_with_one_line(&args, &run);
        assert!(line.contains("no-such-recording.wav"), "{args:?}: {line}");
    }
    assert!(!Path::new(&out).exists());
    assert_eq!(on_server(&f), "-1 -1");
    // Nothing was queued either.
    let list = imapvm(&["-c", &c, "--json", "outbox", "list"]);
    assert!(list.status.success(), "{}", stderr(&list));
    let v: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(v["items"].as_array().map(Vec::len), Some(0), "{v}");
}

#[test]
fn an_unreadable_spool_fails_with_one_line() {
    let dir = scratch("bad-spool");
    let f = folder("spool");
    let c = conf(&dir, &f, "");
    // A spool "directory" that is a file (root reads any mode, so permissions prove nothing).
    let not_a_dir = dir.join("spool-file");
    std::fs::write(&not_a_dir, b"not a directory").unwrap();
    let nd = not_a_dir.to_string_lossy().into_owned();
    for args in [
        vec!["-c", &c, "outbox", "--dir", &nd, "list"],
        vec!["-c", &c, "outbox", "--dir", &nd, "flush"],
        vec!["-c", &c, "migrate", "import", "--spool", &nd],
    ] {
        let run = imapvm(&args);
        let line = fails_with_one_line(&args, &run);
        assert!(line.contains("spool-file"), "{args:?}: {line}");
    }
    assert_eq!(on_server(&f), "-1 -1");
}

#[test]
fn a_truncated_queued_message_is_never_delivered() {
    let dir = scratch("bad-trunc");
    let f = folder("trunc");
    // Queue a deposit while the "server" is a closed port, then truncate its message file.
    let c = conf(&dir, &f, "imapport=1\nimapopentimeout=2");
    let audio = dir.join("in.wav");
    std::fs::write(&audio, wav(100, 0)).unwrap();
    let a = audio.to_string_lossy().into_owned();
    let run = imapvm(&["-c", &c, "--json", "deposit", "1234@default", "--audio", &a]);
    assert!(run.status.success(), "{}", stderr(&run));
    let v: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(v["results"][0]["status"], "queued", "{v}");
    let item = v["results"][0]["item"].as_str().unwrap().to_owned();
    let eml = dir.join("outbox").join(format!("{item}.eml"));
    let bytes = std::fs::read(&eml).unwrap();
    std::fs::write(&eml, &bytes[..bytes.len() / 2]).unwrap();
    // Now point at the real server: the flush refuses the truncated item.
    let good = conf(&dir, &f, "");
    let args = ["-c", good.as_str(), "outbox", "flush"];
    let run = imapvm(&args);
    let line = fails_with_one_line(&args, &run);
    assert!(line.contains("truncated"), "{line}");
    assert_eq!(
        on_server(&f),
        "-1 -1",
        "the truncated message was not delivered"
    );
    // The listing shows it as a problem, not as an item.
    let list = imapvm(&["-c", &good, "--json", "outbox", "list"]);
    let v: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(v["items"].as_array().map(Vec::len), Some(0), "{v}");
    assert_eq!(v["problems"].as_array().map(Vec::len), Some(1), "{v}");
}

/// UID 0 names no message (RFC 3501: UIDs start at 1). Given on the command line it is a
/// usage error, exit 2 with one line, before any connection; `delete --uid 0` was once
/// reported as "already gone". So is message number 0 where clap reads the number.
#[test]
fn uid_0_is_a_usage_error_everywhere_a_uid_is_given() {
    let c = "/nonexistent/voicemail.conf";
    let m = "1234@default";
    let uid0: Vec<Vec<&str>> = vec![
        vec!["-c", c, "play", m, "--uid", "0", "-o", "/dev/null"],
        vec!["-c", c, "mark-read", m, "--uid", "0"],
        vec!["-c", c, "mark-unread", m, "--uid", "0"],
        vec!["-c", c, "urgent", m, "--uid", "0"],
        vec!["-c", c, "not-urgent", m, "--uid", "0"],
        vec!["-c", c, "undelete", m, "--uid", "0"],
        vec!["-c", c, "delete", m, "--uid", "0"],
        vec!["-c", c, "delete", m, "--uid", "7", "--uid", "0"],
        vec!["-c", c, "move", m, "--uid", "0", "Work"],
        vec!["-c", c, "forward", m, "--uid", "0", "4321@other"],
        vec!["--json", "-c", c, "delete", m, "--uid", "0"],
    ];
    for args in &uid0 {
        let out = imapvm(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let line = fails_with_one_line(args, &out);
        assert!(line.contains("UID 0 names no message"), "{args:?}: {line}");
        assert!(stdout(&out).is_empty(), "{args:?}: nothing on stdout");
    }
    for args in [
        vec!["-c", c, "play", m, "0", "-o", "/dev/null"],
        vec!["-c", c, "delete", m, "0"],
    ] {
        let out = imapvm(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let line = fails_with_one_line(&args, &out);
        assert!(line.contains("message number 0"), "{args:?}: {line}");
    }
}

/// Logs written into a pipe (journald, a log file) are plain text: `-v` debug lines come
/// out, with no terminal colour codes in them.
#[test]
fn logs_into_a_pipe_carry_no_colour_codes() {
    let dir = scratch("nocolour");
    let f = folder("nocolour");
    let c = conf(&dir, &f, "");
    let out = imapvm(&["-c", &c, "-v", "count", "1234@default"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("DEBUG"), "-v logs at debug: {err}");
    assert!(
        !err.contains('\u{1b}'),
        "colour codes in piped logs: {err:?}"
    );
}
