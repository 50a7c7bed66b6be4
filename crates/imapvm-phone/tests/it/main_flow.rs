//! VoiceMailMain() over FastAGI: listen marks \Seen, delete expunges exactly the message,
//! save moves, a recorded greeting is on IMAP, a changed password is the next login's.

use imapvm_testkit::asterisk::{Call, RecordEnd, Step};

#[allow(dead_code, reason = "used by the recording tests")]
const END: RecordEnd = RecordEnd::Key('#');

use crate::{Rig, assert_clean, assert_said, py, q};

/// The login of box 1234 (PIN 4242) given in the arguments: the PIN typed into the
/// password prompt, then `#`.
fn login(pin: &str) -> Vec<Step> {
    let mut keys = pin.chars();
    let mut steps = vec![Step::During {
        prompt: "vm-password".into(),
        key: keys.next().unwrap(),
    }];
    steps.extend(keys.map(Step::Key));
    steps.push(Step::Key('#'));
    steps
}

/// Box 1234's login, `1` (listen) while vm-onefor plays, then `then`.
fn listen_then(then: impl IntoIterator<Item = Step>) -> Vec<Step> {
    let mut steps = login("4242");
    steps.push(Step::During {
        prompt: "vm-onefor".into(),
        key: '1',
    });
    steps.extend(then);
    steps
}

/// Deposits `n` messages into 1234's folder and returns their UIDs.
async fn messages(rig: &Rig, n: usize) -> Vec<u32> {
    let mb = rig.store.mailbox("1234@default").unwrap();
    let mut uids = Vec::new();
    for i in 0..n {
        let d = mb
            .deposit(&imapvm_harness::voicemail(&format!("555100{i}"), 1200))
            .await
            .unwrap();
        uids.push(d.uid.get());
    }
    uids
}

fn flags_of(folder: &str, user: &str) -> String {
    py(&format!(
        r#"
m = connect("{user}")
n = sel(m, {f})
for u in uids(m, "ALL"):
    print(u, flags(m, u))
"#,
        f = q(folder)
    ))
}

#[tokio::test]
async fn listening_marks_the_message_heard() {
    let mut rig = Rig::start("main-listen", "").await;
    let uids = messages(&rig, 1).await;
    // After the message, the menu: # leaves.
    let steps = listen_then([Step::Key('#')]);
    let (out, report) = rig
        .call(Call::voicemail_main(&["1234@default", ""]).phone(steps))
        .await;
    assert_clean(&out);
    assert_said(&out, "vm-youhave");
    assert!(
        out.prompts.iter().any(|p| p.contains("-msg")),
        "the message's audio was played: {:?}",
        out.prompts
    );
    assert_eq!(
        out.prompts.last().map(String::as_str),
        Some("vm-goodbye"),
        "{:?}",
        out.prompts
    );
    assert!(report.error.is_none(), "{report:?}");
    let flags = flags_of(&rig.folder, "vm1234");
    assert!(
        flags.contains(&format!("{} ", uids[0])) && flags.contains("\\Seen"),
        "{flags}"
    );
    assert!(rig.spool_files().is_empty(), "{:?}", rig.spool_files());
}

/// Appends an ordinary email (not a voicemail) flagged `\Deleted` by the user's mail client.
fn foreign_deleted(folder: &str) {
    py(&format!(
        r#"
m = connect("vm1234")
raw = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: keep me\r\n\r\nnot a voicemail\r\n"
append(m, {f}, raw, "(\\Deleted)")
"#,
        f = q(folder)
    ));
}

#[tokio::test]
async fn deleting_expunges_exactly_that_message_and_spares_foreign_deleted_mail() {
    let mut rig = Rig::start("main-delete", "").await;
    let uids = messages(&rig, 2).await;
    foreign_deleted(&rig.folder);
    let steps = listen_then([Step::Key('7'), Step::Key('#')]);
    let (out, _) = rig
        .call(Call::voicemail_main(&["1234@default", ""]).phone(steps))
        .await;
    assert_clean(&out);
    assert_said(&out, "vm-deleted");
    let after = py(&format!(
        r#"
m = connect("vm1234")
sel(m, {f})
print(" ".join(str(u) for u in uids(m, "ALL")))
print(len(uids(m, "DELETED")))
print(len(uids(m, "SUBJECT", '"keep me"')))
"#,
        f = q(&rig.folder)
    ));
    let lines: Vec<&str> = after.lines().collect();
    let left: Vec<u32> = lines[0]
        .split_whitespace()
        .map(|u| u.parse().unwrap())
        .collect();
    assert!(
        !left.contains(&uids[0]),
        "the first message is gone: {after}"
    );
    assert!(left.contains(&uids[1]), "the second stays: {after}");
    assert_eq!(
        lines[1], "1",
        "the foreign \\Deleted mail is still there: {after}"
    );
    assert_eq!(lines[2], "1", "{after}");
}

/// The caller hangs up after deleting the first of two messages: the delete already made is
/// applied (that message expunged), nothing else changes (the second stays new, the foreign
/// `\Deleted` mail stays), and nothing stays in the spool.
#[tokio::test]
async fn a_hangup_applies_the_decisions_made_and_nothing_else() {
    let mut rig = Rig::start("main-hangup", "").await;
    let uids = messages(&rig, 2).await;
    foreign_deleted(&rig.folder);
    let steps = listen_then([Step::Key('7'), Step::Hangup]);
    let (out, report) = rig
        .call(Call::voicemail_main(&["1234@default", ""]).phone(steps))
        .await;
    assert_clean(&out);
    assert!(
        out.hung_up,
        "the scripted caller hung up: {:#?}",
        out.transcript
    );
    assert!(
        !out.prompts.contains(&"vm-goodbye".to_owned()),
        "{:?}",
        out.prompts
    );
    assert!(report.error.is_none(), "a hangup is no fault: {report:?}");
    let flags = flags_of(&rig.folder, "vm1234");
    let lines: Vec<&str> = flags.lines().collect();
    assert!(
        !lines
            .iter()
            .any(|l| l.starts_with(&format!("{} ", uids[0]))),
        "the deleted message is expunged: {flags}"
    );
    let second = lines
        .iter()
        .find(|l| l.starts_with(&format!("{} ", uids[1])))
        .unwrap_or_else(|| panic!("the second message stays: {flags}"));
    assert!(!second.contains("\\Seen"), "and stays new: {flags}");
    assert_eq!(
        lines.iter().filter(|l| l.contains("\\Deleted")).count(),
        1,
        "the foreign \\Deleted mail stays: {flags}"
    );
    assert!(rig.spool_files().is_empty(), "{:?}", rig.spool_files());
}

/// A proxy tap that takes the IMAP server down the moment imapvm marks a message `\Seen`:
/// that command is answered by a reset, and from then on every connection is reset at its
/// greeting (the server is down).
struct DownAtSeen(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl imapvm_testkit::proxy::Tap for DownAtSeen {
    fn chunk(
        &mut self,
        dir: imapvm_testkit::proxy::Dir,
        bytes: &[u8],
    ) -> imapvm_testkit::proxy::Pass {
        use imapvm_testkit::proxy::{Cut, Dir, Pass};
        use std::sync::atomic::Ordering;
        let text = String::from_utf8_lossy(bytes);
        if dir == Dir::Up && text.contains("+FLAGS") && text.contains("\\Seen") {
            self.0.store(true, Ordering::SeqCst);
        }
        if self.0.load(Ordering::SeqCst) {
            return Pass::default().then(Cut::Reset);
        }
        Pass::forward(bytes)
    }
}

/// The IMAP server goes down in the middle of a VoiceMailMain call: the caller hears
/// "I'm sorry. Please try again." instead of silence, the call goes on to its goodbye, the
/// message is still in the mailbox (nothing lost, not marked), and the spool is empty.
#[tokio::test]
async fn an_imap_outage_mid_call_is_said_and_loses_nothing() {
    let s = imapvm_harness::server();
    let down = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tap_down = std::sync::Arc::clone(&down);
    let proxy = imapvm_testkit::proxy::Proxy::to(&s.host, s.port)
        .tap(move || DownAtSeen(std::sync::Arc::clone(&tap_down)))
        .await
        .unwrap();
    let mut rig = Rig::build_at(
        "main-outage",
        // In clear on loopback, so that the tap sees the commands.
        "imapflags=notls\nimapopentimeout=1\nimapreadtimeout=1",
        None,
        imapvm_phone::PhoneOptions::default(),
        Some(proxy.port()),
    )
    .await;
    let uids = messages(&rig, 1).await;
    let steps = listen_then([
        // The server went down as the audio started; changing to the Old folder (2, 1)
        // needs it again.
        Step::Key('2'),
        Step::Key('1'),
        Step::Key('#'),
    ]);
    let (out, report) = rig
        .call(Call::voicemail_main(&["1234@default", ""]).phone(steps))
        .await;
    assert!(
        down.load(std::sync::atomic::Ordering::SeqCst),
        "the outage happened: {:?} {report:?}",
        out.prompts
    );
    assert_clean(&out);
    let sorry = out
        .prompts
        .windows(2)
        .any(|w| w[0] == "im-sorry" && w[1] == "please-try-again");
    assert!(sorry, "the outage is said: {:?}", out.prompts);
    assert_eq!(
        out.prompts.last().map(String::as_str),
        Some("vm-goodbye"),
        "{:?}",
        out.prompts
    );
    assert!(report.error.is_none(), "{report:?}");
    let flags = flags_of(&rig.folder, "vm1234");
    let line = flags
        .lines()
        .find(|l| l.starts_with(&format!("{} ", uids[0])))
        .unwrap_or_else(|| panic!("the message is still there: {flags}"));
    assert!(!line.contains("\\Seen"), "and not marked heard: {flags}");
    assert!(rig.spool_files().is_empty(), "{:?}", rig.spool_files());
}

#[tokio::test]
async fn saving_moves_the_message_to_the_folder() {
    let mut rig = Rig::start("main-save", "").await;
    let uids = messages(&rig, 1).await;
    let steps = listen_then([Step::Key('9'), Step::Key('2'), Step::Key('#')]);
    let (out, _) = rig
        .call(Call::voicemail_main(&["1234@default", ""]).phone(steps))
        .await;
    assert_clean(&out);
    assert_said(&out, "vm-savedto");
    let msg_id = py(&format!(
        "m = connect('vm1234')\nsel(m, {f})\nprint(len(uids(m, 'ALL')))\n",
        f = q(&rig.folder)
    ));
    assert_eq!(msg_id.trim(), "0", "moved, not copied: the source is gone");
    let listing = rig
        .store
        .mailbox("1234@default")
        .unwrap()
        .list(Some(imapvm::Folder::Work))
        .await
        .unwrap();
    assert!(
        listing
            .messages
            .iter()
            .any(|m| m.caller_id_num == "5551000"),
        "in Work: {:?}",
        listing.messages
    );
    let _ = uids;
}

#[tokio::test]
async fn a_greeting_recorded_on_the_phone_is_the_one_on_imap() {
    let mut rig = Rig::start("main-greeting", "").await;
    let mut steps = login("4242");
    steps.extend([
        Step::Key('0'),
        Step::Key('1'),
        Step::Speak {
            secs: 2.0,
            end: RecordEnd::Key('#'),
        },
        Step::Key('1'),
        Step::Key('*'),
        Step::Key('#'),
    ]);
    let (out, _) = rig
        .call(Call::voicemail_main(&["1234@default", ""]).phone(steps))
        .await;
    assert_clean(&out);
    assert_said(&out, "vm-msgsaved");
    let greeting = rig
        .store
        .mailbox("1234@default")
        .unwrap()
        .greeting_get("unavail")
        .await
        .unwrap()
        .expect("the unavailable greeting is on IMAP");
    let (_, secs) = out.recordings[0].clone();
    assert_eq!(
        greeting.audio.bytes.len(),
        44 + (secs * 8000.0).round() as usize * 2
    );
    assert!(rig.spool_files().is_empty(), "{:?}", rig.spool_files());
}

#[tokio::test]
async fn a_changed_password_is_the_one_the_next_login_needs() {
    let mut rig = Rig::start("main-password", "").await;
    let mut steps = login("4242");
    steps.extend([
        Step::Key('0'),
        Step::Key('5'),
        Step::Key('7'),
        Step::Key('7'),
        Step::Key('1'),
        Step::Key('#'),
        Step::Key('7'),
        Step::Key('7'),
        Step::Key('1'),
        Step::Key('#'),
        Step::Key('*'),
        Step::Key('#'),
    ]);
    let (out, _) = rig
        .call(Call::voicemail_main(&["1234@default", ""]).phone(steps))
        .await;
    assert_clean(&out);
    assert_said(&out, "vm-passchanged");
    let conf = std::fs::read_to_string(&rig.conf).unwrap();
    assert!(conf.contains("1234 => 771,"), "{conf}");
    // The old PIN no longer opens the box; the new one does.
    let (old, _) = rig
        .call(Call::voicemail_main(&["1234@default", ""]).phone(login("4242")))
        .await;
    assert_said(&old, "vm-incorrect");
    assert!(
        !old.prompts.contains(&"vm-youhave".to_owned()),
        "{:?}",
        old.prompts
    );
    let mut steps = login("771");
    steps.push(Step::Key('#'));
    let (new, _) = rig
        .call(Call::voicemail_main(&["1234@default", ""]).phone(steps))
        .await;
    assert_said(&new, "vm-youhave");
}
