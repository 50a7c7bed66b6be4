//! VoiceMail() over FastAGI: what the caller hears, what is stored, VMSTATUS, the spool.

use imapvm_testkit::asterisk::{Call, RecordEnd, Step};

use crate::{Rig, assert_clean, assert_said, problems, py, q};

/// The message as the mail client sees it: (count in the folder, caller id, duration, flag,
/// audio part bytes' length).
fn stored(folder: &str) -> Vec<String> {
    py(&format!(
        r#"
m = connect("vm1234")
n = sel(m, {f})
print(n)
for u in uids(m, "ALL"):
    print(header(m, u, "X-Asterisk-VM-Caller-ID-Num"), header(m, u, "X-Asterisk-VM-Duration"), header(m, u, "X-Asterisk-VM-Flag") or "-", flags(m, u))
"#,
        f = q(folder)
    ))
    .lines()
    .map(str::to_owned)
    .collect()
}

#[tokio::test]
async fn a_caller_leaves_a_message_after_the_unavailable_greeting() {
    let mut rig = Rig::start("leave-u", "").await;
    let (out, report) = rig
        .call(Call::voicemail(&["1234@default", "u"]).phone([Step::Speak {
            secs: 2.0,
            end: RecordEnd::Key('#'),
        }]))
        .await;
    assert_clean(&out);
    assert_eq!(
        out.prompts,
        [
            "vm-theperson",
            "digits/1",
            "digits/2",
            "digits/3",
            "digits/4",
            "vm-isunavail",
            "vm-intro",
            "beep",
            "auth-thankyou"
        ],
        "{:#?}",
        out.transcript
    );
    assert_eq!(
        out.variables.get("VMSTATUS").map(String::as_str),
        Some("SUCCESS")
    );
    assert_eq!(report.status.as_deref(), Some("SUCCESS"));
    assert!(report.uid.is_some(), "{report:?}");
    let lines = stored(&rig.folder);
    assert_eq!(lines[0], "1", "{lines:?}");
    assert!(
        lines[1].starts_with("5551001 1 - "),
        "caller, duration, no flag: {lines:?}"
    );
    assert!(!lines[1].contains("\\Seen"), "new: {lines:?}");
    assert!(
        rig.spool_files().is_empty(),
        "nothing stays in the spool: {:?}",
        rig.spool_files()
    );
}

#[tokio::test]
async fn the_stored_audio_is_the_recording_byte_for_byte() {
    let mut rig = Rig::start("leave-bytes", "").await;
    let mut call = Call::voicemail(&["1234@default", "s"]).phone([Step::Speak {
        secs: 3.0,
        end: RecordEnd::Key('#'),
    }]);
    call.marker = 4242;
    let (out, _) = rig.call(call).await;
    assert_clean(&out);
    assert_eq!(
        out.prompts,
        ["beep", "auth-thankyou"],
        "s skips the instructions"
    );
    let (_, secs) = out.recordings[0].clone();
    let expected = {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(crate::unique("expected"));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("expected.wav");
        imapvm_testkit::asterisk::write_wav(&path, secs, 4242).unwrap();
        std::fs::read(&path).unwrap()
    };
    let sha = py(&format!(
        r#"
import hashlib, email
m = connect("vm1234")
sel(m, {f})
u = uids(m, "ALL")[0]
data = check(m.uid("FETCH", str(u), "(BODY.PEEK[])"), "fetch")
msg = email.message_from_bytes(data[0][1])
for part in msg.walk():
    if part.get_content_maintype() == "audio":
        print(hashlib.sha256(part.get_payload(decode=True)).hexdigest())
"#,
        f = q(&rig.folder)
    ));
    assert_eq!(sha.trim(), sha2_hex(&expected));
}

fn sha2_hex(bytes: &[u8]) -> String {
    let out = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(bytes)?;
            c.wait_with_output()
        })
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_hangup_while_recording_still_leaves_the_message() {
    let mut rig = Rig::start("leave-hangup", "").await;
    let (out, report) = rig
        .call(Call::voicemail(&["1234@default", "s"]).phone([Step::Speak {
            secs: 2.5,
            end: RecordEnd::Hangup,
        }]))
        .await;
    assert_clean(&out);
    assert!(out.hung_up);
    assert_eq!(
        out.variables.get("VMSTATUS").map(String::as_str),
        Some("SUCCESS")
    );
    assert_eq!(report.status.as_deref(), Some("SUCCESS"));
    assert_eq!(stored(&rig.folder)[0], "1");
    assert!(rig.spool_files().is_empty(), "{:?}", rig.spool_files());
}

#[tokio::test]
async fn a_recording_shorter_than_minsecs_is_discarded_and_fails() {
    let mut rig = Rig::start("leave-short", "minsecs=3").await;
    let (out, report) = rig
        .call(Call::voicemail(&["1234@default", "s"]).phone([Step::Speak {
            secs: 1.0,
            end: RecordEnd::Key('#'),
        }]))
        .await;
    assert_clean(&out);
    assert_eq!(
        out.variables.get("VMSTATUS").map(String::as_str),
        Some("FAILED")
    );
    assert_eq!(report.status.as_deref(), Some("FAILED"));
    assert_eq!(stored(&rig.folder)[0], "0");
    assert!(rig.spool_files().is_empty(), "{:?}", rig.spool_files());
}

#[tokio::test]
async fn a_full_mailbox_hears_mailboxfull_records_nothing_and_fails() {
    let mut rig = Rig::start("leave-full", "maxmsg=1").await;
    let speak = || {
        [Step::Speak {
            secs: 1.5,
            end: RecordEnd::Key('#'),
        }]
    };
    let (first, _) = rig
        .call(Call::voicemail(&["1234@default", "s"]).phone(speak()))
        .await;
    assert_eq!(
        first.variables.get("VMSTATUS").map(String::as_str),
        Some("SUCCESS"),
        "{}",
        problems(&first)
    );
    let (out, report) = rig
        .call(Call::voicemail(&["1234@default", "s"]).phone(speak()))
        .await;
    assert_eq!(out.prompts, ["vm-mailboxfull"], "{:#?}", out.transcript);
    assert_eq!(
        out.variables.get("VMSTATUS").map(String::as_str),
        Some("FAILED")
    );
    assert_eq!(report.status.as_deref(), Some("FAILED"));
    assert!(out.recordings.is_empty(), "nothing recorded");
    assert!(
        !out.hung_up,
        "the dialplan goes on (file storage's behaviour, not IMAP's hangup)"
    );
    assert_eq!(stored(&rig.folder)[0], "1");
}

#[tokio::test]
async fn an_unknown_mailbox_fails_with_nothing_played() {
    let mut rig = Rig::start("leave-unknown", "").await;
    let (out, report) = rig.call(Call::voicemail(&["9999@default", "u"])).await;
    assert!(out.prompts.is_empty(), "{:?}", out.prompts);
    assert_eq!(
        out.variables.get("VMSTATUS").map(String::as_str),
        Some("FAILED")
    );
    assert_eq!(report.status.as_deref(), Some("FAILED"));
}

#[tokio::test]
async fn star_in_the_greeting_leaves_to_extension_a_with_userexit() {
    let mut rig = Rig::start("leave-star", "").await;
    let (out, _) = rig
        .call(
            Call::voicemail(&["1234@default", "u"])
                .with_extension("vm-uut", "a")
                .phone([Step::During {
                    prompt: "vm-theperson".into(),
                    key: '*',
                }]),
        )
        .await;
    assert_clean(&out);
    assert_eq!(out.prompts, ["vm-theperson"]);
    assert_eq!(
        out.variables.get("VMSTATUS").map(String::as_str),
        Some("USEREXIT")
    );
    assert_eq!(out.goto.1.as_deref(), Some("a"));
    assert_eq!(out.goto.2.as_deref(), Some("1"));
}

#[tokio::test]
async fn an_urgent_message_is_flagged_and_several_recipients_each_get_one() {
    let mut rig = Rig::start("leave-multi", "").await;
    let (out, report) = rig
        .call(
            Call::voicemail(&["1234@default&5678@default", "sU"]).phone([Step::Speak {
                secs: 1.5,
                end: RecordEnd::Key('#'),
            }]),
        )
        .await;
    assert_clean(&out);
    assert_eq!(report.status.as_deref(), Some("SUCCESS"));
    let mine = stored(&rig.folder);
    assert_eq!(mine[0], "1");
    assert!(
        mine[1].contains("Urgent") && mine[1].contains("\\Flagged"),
        "{mine:?}"
    );
    let other = py(&format!(
        "m = connect('vm4321')\nprint(sel(m, {f}))\n",
        f = q(&rig.folder)
    ));
    assert_eq!(other.trim(), "1", "5678 got its own copy");
}

/// The IMAP server is down for the whole call: the caller still leaves the message, it waits
/// in the outbox (fsync'd) for the server, VMSTATUS is SUCCESS, and nothing stays in the
/// spool.
#[tokio::test]
async fn with_the_imap_server_down_the_message_waits_in_the_outbox() {
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut rig = Rig::build_at(
        "leave-outage",
        "imapopentimeout=1\nimapreadtimeout=1",
        None,
        imapvm_phone::PhoneOptions::default(),
        Some(dead),
    )
    .await;
    let (out, report) = rig
        .call(Call::voicemail(&["1234@default", "u"]).phone([Step::Speak {
            secs: 1.5,
            end: RecordEnd::Key('#'),
        }]))
        .await;
    assert_clean(&out);
    assert_said(&out, "beep");
    assert_eq!(
        out.variables.get("VMSTATUS").map(String::as_str),
        Some("SUCCESS")
    );
    assert_eq!(report.status.as_deref(), Some("SUCCESS"));
    let outbox = imapvm_outbox::OutboxStore::outbox(&rig.store)
        .list()
        .unwrap();
    assert_eq!(outbox.items.len(), 1, "{outbox:?}");
    assert_eq!(outbox.items[0].mailbox, "1234@default");
    assert!(rig.spool_files().is_empty(), "{:?}", rig.spool_files());
}
