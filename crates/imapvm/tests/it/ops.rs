//! Every operation, checked from the mail client's side (flags, folders, message bytes).

use imapvm::{Audio, DepositRefusal, Error, FlagOp, Folder, MessageRef, MessageState, Urgency};

use crate::{private_store, pw, py, q, server, store_with, unique, voicemail, wav};

#[tokio::test]
async fn deposit_appends_a_flagged_voicemail_the_mail_client_sees() {
    let (store, folder) = private_store("deposit");
    let mb = store.mailbox("1234@default").unwrap();
    let mut vm = voicemail("5551001", 1500);
    vm.urgency = Urgency::Urgent;
    let d = mb.deposit(&vm).await.unwrap();
    assert!(d.from_appenduid, "Dovecot offers UIDPLUS");
    assert_eq!(d.number.map(|n| n.get()), Some(1));
    assert_eq!((d.counts.new, d.counts.urgent, d.counts.old), (0, 1, 0));
    let out = py(&format!(
        r#"
m = connect("vm1234")
sel(m, {f})
print(flags(m, {uid}))
print(header(m, {uid}, "X-Asterisk-VM-Extension"))
print(header(m, {uid}, "X-Asterisk-VM-Context"))
print(header(m, {uid}, "X-Asterisk-VM-Flag"))
print(header(m, {uid}, "X-Asterisk-VM-Caller-ID-Num"))
"#,
        f = q(&folder),
        uid = d.uid
    ));
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].contains("\\Flagged"), "{out}");
    assert!(!lines[0].contains("\\Seen"), "{out}");
    assert_eq!(
        &lines[1..],
        ["1234", "default", "Urgent", "5551001"],
        "{out}"
    );
    store.close().await;
}

#[tokio::test]
async fn list_numbers_messages_with_state_caller_and_duration() {
    let (store, folder) = private_store("list");
    let mb = store.mailbox("1234@default").unwrap();
    let a = mb.deposit(&voicemail("5550001", 1000)).await.unwrap();
    let mut urgent = voicemail("5550002", 2000);
    urgent.urgency = Urgency::Urgent;
    let b = mb.deposit(&urgent).await.unwrap();
    let c = mb.deposit(&voicemail("5550003", 3000)).await.unwrap();
    assert_eq!(c.number.map(|n| n.get()), Some(3));
    py(&format!(
        "m = connect('vm1234')\nsel(m, {f})\ncheck(m.uid('STORE', '{uid}', '+FLAGS', '(\\\\Seen)'), 'seen')\n",
        f = q(&folder),
        uid = c.uid
    ));
    let listing = mb.list(None).await.unwrap();
    let got: Vec<(u32, imapvm::Uid, Option<MessageState>, &str, u32)> = listing
        .messages
        .iter()
        .map(|m| {
            (
                m.number.get(),
                m.uid,
                m.state,
                m.caller_id_num.as_str(),
                m.duration_secs,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (1, a.uid, Some(MessageState::New), "5550001", 1),
            (2, b.uid, Some(MessageState::Urgent), "5550002", 2),
            (3, c.uid, Some(MessageState::Old), "5550003", 3),
        ]
    );
    assert!(
        listing
            .messages
            .iter()
            .all(|m| m.size > 1000 && m.orig_time > 1_700_000_000)
    );
    let old = mb.list(Some(Folder::Old)).await.unwrap();
    assert_eq!(old.messages.len(), 1);
    assert_eq!(
        (old.messages[0].number.get(), old.messages[0].uid),
        (1, c.uid)
    );
    store.close().await;
}

#[tokio::test]
async fn play_returns_the_audio_and_marks_seen_unless_peeking() {
    let (store, folder) = private_store("play");
    let mb = store.mailbox("1234@default").unwrap();
    let vm = voicemail("5551234", 1200);
    let audio = vm.recording.clone().unwrap().bytes;
    let d = mb.deposit(&vm).await.unwrap();
    let peeked = mb.peek(crate::support::number(1), None).await.unwrap();
    assert_eq!(peeked.uid, d.uid);
    assert_eq!(peeked.voicemail.audio[0].bytes, audio);
    assert_eq!(peeked.voicemail.caller_id_num, "5551234");
    let script = format!(
        "m = connect('vm1234')\nsel(m, {f})\nprint(flags(m, {uid}))\n",
        f = q(&folder),
        uid = d.uid
    );
    assert!(!py(&script).contains("\\Seen"));
    let played = mb.play(MessageRef::Uid(d.uid), None).await.unwrap();
    assert!(played.marked_seen);
    assert!(py(&script).contains("\\Seen"));
    assert_eq!(mb.count().await.unwrap().old, 1);
    store.close().await;
}

/// Issue 22, item 5: a warm play sends its fetch alone (no NOOP in front). A message newer
/// than the session's view (deposited by another process) is still found, asked again
/// behind a NOOP; one the mail client expunged is gone.
#[tokio::test]
async fn a_warm_play_sends_no_noop_and_still_finds_a_newer_message() {
    let folder = unique("play-noop");
    let (sent, proxy) = crate::voicemail_uids::tapped().await;
    let store = crate::voicemail_uids::plain_store("play-noop", proxy.port(), &folder);
    let mb = store.mailbox("1234@default").unwrap();
    let first = mb.deposit(&voicemail("5552001", 900)).await.unwrap();
    mb.play(MessageRef::Uid(first.uid), None).await.unwrap();
    // Warm, the folder selected, the message heard: the fetch alone.
    let from = sent.len();
    let again = mb.play(MessageRef::Uid(first.uid), None).await.unwrap();
    assert_eq!(again.uid, first.uid);
    let wire = sent.since(from);
    assert!(wire.contains("UID FETCH"), "{wire}");
    assert!(
        !wire.contains("NOOP"),
        "a NOOP in front of the play: {wire}"
    );
    // Another process deposits; this session has not seen it yet.
    let other = crate::voicemail_uids::plain_store("play-noop-other", server().port, &folder);
    let vm = voicemail("5552002", 700);
    let audio = vm.recording.clone().unwrap().bytes;
    let newer = other
        .mailbox("1234@default")
        .unwrap()
        .deposit(&vm)
        .await
        .unwrap();
    other.close().await;
    let played = mb.play(MessageRef::Uid(newer.uid), None).await.unwrap();
    assert_eq!(played.voicemail.audio[0].bytes, audio);
    assert_eq!(played.voicemail.caller_id_num, "5552002");
    // The mail client deletes the first one: the warm play says it is gone.
    py(&format!(
        "m = connect('vm1234')\nsel(m, {f})\nm.uid('STORE', '{uid}', '+FLAGS', '(\\\\Deleted)')\nm.expunge()\n",
        f = q(&folder),
        uid = first.uid
    ));
    let gone = mb.play(MessageRef::Uid(first.uid), None).await;
    assert!(matches!(gone, Err(Error::Vanished { .. })), "{gone:?}");
    store.close().await;
}

#[tokio::test]
async fn flag_changes_are_what_the_mail_client_sees() {
    let (store, folder) = private_store("flags");
    let mb = store.mailbox("1234@default").unwrap();
    let d = mb.deposit(&voicemail("5550100", 800)).await.unwrap();
    let script = format!(
        "m = connect('vm1234')\nsel(m, {f})\nprint(flags(m, {uid}))\n",
        f = q(&folder),
        uid = d.uid
    );
    let r = mb
        .set_flag(crate::support::number(1), None, FlagOp::MarkRead)
        .await
        .unwrap();
    assert_eq!(r.done, vec![d.uid]);
    assert!(py(&script).contains("\\Seen"));
    mb.set_flag(MessageRef::Uid(d.uid), None, FlagOp::MarkUnread)
        .await
        .unwrap();
    assert!(!py(&script).contains("\\Seen"));
    mb.set_flag(MessageRef::Uid(d.uid), None, FlagOp::Urgent)
        .await
        .unwrap();
    let f = py(&script);
    assert!(f.contains("\\Flagged") && !f.contains("\\Seen"), "{f}");
    assert_eq!(mb.count().await.unwrap().urgent, 1);
    mb.set_flag(MessageRef::Uid(d.uid), None, FlagOp::NotUrgent)
        .await
        .unwrap();
    assert!(!py(&script).contains("\\Flagged"));
    assert_eq!(mb.count().await.unwrap().new, 1);
    store.close().await;
}

#[tokio::test]
async fn move_saves_into_a_folder_it_creates_and_leaves_no_original() {
    let parent = unique("parent");
    let folder = unique("move");
    let store = store_with(
        "move",
        &format!("imapfolder={folder}\nimapparentfolder={parent}"),
        &format!(
            "[default]\n1234 => 1234,Alice,,,imapuser=vm1234|imappassword={}\n",
            pw("vm1234")
        ),
    );
    let mb = store.mailbox("1234@default").unwrap();
    let d = mb.deposit(&voicemail("5550200", 900)).await.unwrap();
    let r = mb
        .move_to(crate::support::number(1), None, Folder::Work)
        .await
        .unwrap();
    assert_eq!(
        r.destination.as_deref(),
        Some(format!("{parent}/Work").as_str())
    );
    assert_eq!(r.done, vec![d.uid]);
    let out = py(&format!(
        r#"
m = connect("vm1234")
sel(m, {f})
print(len(uids(m, "ALL")))
sel(m, {w})
u = uids(m, "ALL")
print(len(u), header(m, u[0], "X-Asterisk-VM-Message-ID"))
"#,
        f = q(&folder),
        w = q(&format!("{parent}/Work"))
    ));
    assert_eq!(out.trim(), format!("0\n1 {}", d.msg_id));
    let work = mb.list(Some(Folder::Work)).await.unwrap();
    assert_eq!(work.messages.len(), 1);
    assert_eq!(work.messages[0].caller_id_num, "5550200");
    // Moving into Old is a flag change inside imapfolder.
    let d2 = mb.deposit(&voicemail("5550201", 900)).await.unwrap();
    mb.move_to(MessageRef::Uid(d2.uid), None, Folder::Old)
        .await
        .unwrap();
    assert_eq!(mb.count().await.unwrap().old, 1);
    store.close().await;
}

#[tokio::test]
async fn delete_expunges_only_ours_and_undelete_and_expunge_work_when_deferred() {
    let folder = unique("delete");
    let store = store_with(
        "delete",
        &format!("imapfolder={folder}\nexpungeonhangup=no"),
        &format!(
            "[default]\n1234 => 1234,Alice,,,imapuser=vm1234|imappassword={}\n",
            pw("vm1234")
        ),
    );
    let mb = store.mailbox("1234@default").unwrap();
    let a = mb.deposit(&voicemail("5550300", 700)).await.unwrap();
    let b = mb.deposit(&voicemail("5550301", 700)).await.unwrap();
    // expungeonhangup=no: flagged, deferred.
    let r = mb.delete(&[crate::support::number(1)], None).await.unwrap();
    assert_eq!(r.deferred.len(), 1, "{r:?}");
    assert_eq!(r.deferred[0].uid, a.uid);
    let script = format!(
        "m = connect('vm1234')\nsel(m, {f})\nprint(uids(m, 'ALL'), uids(m, 'DELETED'))\n",
        f = q(&folder)
    );
    assert_eq!(
        py(&script).trim(),
        format!("[{}, {}] [{}]", a.uid, b.uid, a.uid)
    );
    assert_eq!(mb.count().await.unwrap().new, 1);
    // Undelete by number in the listing that includes deleted messages.
    let all = mb.list_with_deleted(None).await.unwrap();
    assert!(all.messages.iter().any(|m| m.uid == a.uid && m.deleted));
    let num = all.messages.iter().find(|m| m.uid == a.uid).unwrap().number;
    mb.undelete(MessageRef::Number(num), None).await.unwrap();
    assert_eq!(py(&script).trim(), format!("[{}, {}] []", a.uid, b.uid));
    // Delete again, then the explicit expunge.
    mb.delete(&[MessageRef::Uid(a.uid)], None).await.unwrap();
    let r = mb.expunge(None).await.unwrap();
    assert_eq!(r.expunged, vec![a.uid], "{r:?}");
    assert_eq!(py(&script).trim(), format!("[{}] []", b.uid));
    store.close().await;
}

#[tokio::test]
async fn count_and_rfc3842_summary() {
    let (store, _folder) = private_store("count");
    let mb = store.mailbox("1234@default").unwrap();
    assert_eq!(mb.count().await.unwrap(), imapvm::MwiCounts::default());
    mb.deposit(&voicemail("5550400", 500)).await.unwrap();
    let mut u = voicemail("5550401", 500);
    u.urgency = Urgency::Urgent;
    mb.deposit(&u).await.unwrap();
    let body = mb
        .message_summary(Some("sip:1234@pbx.example"))
        .await
        .unwrap();
    assert_eq!(
        body,
        "Messages-Waiting: yes\r\nMessage-Account: sip:1234@pbx.example\r\nVoice-Message: 2/0 (1/0)\r\n"
    );
    store.close().await;
}

#[tokio::test]
async fn greetings_set_get_replace_delete_beside_foreign_mail() {
    let (store, folder) = private_store("greet");
    let greetings = format!("{folder}-greetings");
    let mb = store.mailbox("1234@default").unwrap();
    // Foreign mail in the greetings folder: a plain text mail and a one-part multipart.
    py(&format!(
        r#"
m = connect("vm1234")
m.create('"{g}"')
append(m, {gq}, b"From: a@b\r\nSubject: hello\r\nX-Asterisk-VM-Extension: 1234\r\nX-Asterisk-VM-Context: default\r\nX-Asterisk-VM-Message-Type: unavail\r\n\r\nplain text\r\n")
append(m, {gq}, b"From: a@b\r\nSubject: one part\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nonly\r\n--x--\r\n")
"#,
        g = greetings,
        gq = q(&greetings)
    ));
    assert_eq!(mb.greeting_get("unavail").await.unwrap(), None);
    let first = Audio {
        format: "wav".into(),
        bytes: wav(600, 300.0),
    };
    mb.greeting_set("unavail", &first, 1).await.unwrap();
    let got = mb.greeting_get("unavail").await.unwrap().unwrap();
    assert_eq!(got.audio.bytes, first.bytes);
    assert_eq!(got.audio.filename, "unavail.wav");
    let second = Audio {
        format: "wav".into(),
        bytes: wav(700, 600.0),
    };
    mb.greeting_set("unavail", &second, 1).await.unwrap();
    assert_eq!(
        mb.greeting_get("unavail")
            .await
            .unwrap()
            .unwrap()
            .audio
            .bytes,
        second.bytes
    );
    assert_eq!(mb.greeting_get("busy").await.unwrap(), None);
    let count = format!(
        "m = connect('vm1234')\nsel(m, {gq})\nprint(len(uids(m, 'UNDELETED')))\n",
        gq = q(&greetings)
    );
    // Two foreign mails and exactly one greeting.
    assert_eq!(py(&count).trim(), "3");
    mb.greeting_delete("unavail").await.unwrap();
    assert_eq!(mb.greeting_get("unavail").await.unwrap(), None);
    assert_eq!(py(&count).trim(), "2");
    // Greetings never count as voicemail.
    assert_eq!(mb.count().await.unwrap(), imapvm::MwiCounts::default());
    store.close().await;
}

#[tokio::test]
async fn probe_reports_the_server_and_creates_missing_folders() {
    let parent = unique("probe");
    let store = store_with(
        "probe",
        &format!(
            "imapfolder={parent}-vm\nimapparentfolder={parent}\ngreetingsfolder={parent}-greet"
        ),
        &format!(
            "[default]\n1234 => 1234,Alice,,,imapuser=vm1234|imappassword={}\n",
            pw("vm1234")
        ),
    );
    let mb = store.mailbox("1234@default").unwrap();
    let p = mb.probe().await.unwrap();
    assert!(p.capabilities.iter().any(|c| c == "UIDPLUS"), "{p:?}");
    assert_eq!(p.delimiter, Some('/'));
    assert!(p.quota.iter().any(|q| q.resource == "STORAGE"), "{p:?}");
    assert!(p.folders.iter().all(|f| !f.exists), "{p:?}");
    let p = mb.probe_creating_folders().await.unwrap();
    assert_eq!(p.folders.len(), 10, "{p:?}");
    assert!(p.folders.iter().all(|f| f.exists && f.created), "{p:?}");
    let out = py(&format!(
        "m = connect('vm1234')\ntyp, data = m.list('\"\"', '\"{parent}*\"')\nprint(len(data))\n"
    ));
    // imapfolder + greetings + parent + 8 folders under it.
    assert_eq!(out.trim(), "11");
    store.close().await;
}

#[tokio::test]
async fn a_deposit_over_quota_is_refused_and_nothing_is_stored() {
    let folder = unique("quota");
    let store = store_with(
        "quota",
        &format!("imapfolder={folder}"),
        &format!(
            "[default]\n5678 => 5678,Bjorn,,,imapuser=vm5678|imappassword={}\n",
            pw("vm5678")
        ),
    );
    let mb = store.mailbox("5678@default").unwrap();
    let big = voicemail("5550500", 30_000); // ~480 KB of audio, quota is 200 KB
    let before = big.clone();
    let err = mb.deposit(&big).await.unwrap_err();
    match &err {
        Error::DepositRefused { reasons, .. } => assert!(
            reasons.iter().any(|r| matches!(
                r,
                DepositRefusal::Policy(imapvm_policy::Refusal::OverQuotaStorage { .. })
            )),
            "{err}"
        ),
        other => panic!("expected a refusal, got {other}"),
    }
    // The recording is still the caller's, and nothing reached the folder.
    assert_eq!(big, before);
    assert_eq!(mb.count().await.unwrap(), imapvm::MwiCounts::default());
    // A small one fits.
    mb.deposit(&voicemail("5550501", 300)).await.unwrap();
    store.close().await;
}

#[tokio::test]
async fn a_large_recording_goes_through_tls_and_comes_back_intact() {
    let (store, _folder) = private_store("large");
    let mb = store.mailbox("1234@default").unwrap();
    // 3.2 MB of audio: a literal of ~4.3 MB over STARTTLS (far past rustls' 64 KiB buffer).
    let mut vm = voicemail("5550600", 200_000);
    vm.duration_secs = 200;
    let audio = vm.recording.clone().unwrap().bytes;
    assert!(audio.len() > 3_000_000);
    let d = mb.deposit(&vm).await.unwrap();
    let played = mb.peek(MessageRef::Uid(d.uid), None).await.unwrap();
    assert_eq!(played.voicemail.audio[0].bytes.len(), audio.len());
    assert!(played.voicemail.audio[0].bytes == audio, "audio differs");
    store.close().await;
}

#[tokio::test]
async fn a_forward_intro_is_part_3_and_plays_after_the_recording() {
    let (store, folder) = private_store("intro");
    let mb = store.mailbox("1234@default").unwrap();
    let mut vm = voicemail("5550700", 600);
    vm.intro = Some(Audio {
        format: "wav".into(),
        bytes: wav(300, 880.0),
    });
    let d = mb.deposit(&vm).await.unwrap();
    let played = mb.peek(MessageRef::Uid(d.uid), None).await.unwrap();
    let names: Vec<&str> = played
        .voicemail
        .audio
        .iter()
        .map(|a| a.filename.as_str())
        .collect();
    assert_eq!(names, ["msg0000.wav", "msgintro0000.wav"]);
    assert_eq!(played.voicemail.audio[1].bytes, vm.intro.unwrap().bytes);
    let mime = py(&format!(
        "m = connect('vm1234')\nsel(m, {f})\n\
         print(check(m.uid('FETCH', '{uid}', '(BODY.PEEK[3.MIME])'), 'mime')[0][1].decode())\n",
        f = q(&folder),
        uid = d.uid
    ));
    assert!(mime.contains("name=\"msgintro0000.wav\""), "{mime}");
    store.close().await;
}

/// A caller is judged before recording as Asterisk judges it before the beep: the last free
/// slot admits, a full box refuses; a recording made by an admitted caller is stored even
/// when the box filled up meanwhile (no message lost to the race for the last slot).
#[tokio::test]
async fn admission_before_recording_and_the_admitted_deposit() {
    let folder = unique("admission");
    let store = store_with(
        "admission",
        &format!("imapfolder={folder}\ngreetingsfolder={folder}-greetings\nmaxmsg=2"),
        &format!(
            "[default]\n1234 => 1234,Alice,,,imapuser=vm1234|imappassword={}\n",
            pw("vm1234")
        ),
    );
    let mb = store.mailbox("1234@default").unwrap();
    assert!(mb.admission().await.unwrap().is_admitted(), "empty box");
    mb.deposit(&voicemail("5550001", 500)).await.unwrap();
    assert!(
        mb.admission().await.unwrap().is_admitted(),
        "the last free slot"
    );
    // The caller was admitted; meanwhile another caller takes the last slot.
    mb.deposit(&voicemail("5550002", 500)).await.unwrap();
    let full = mb.admission().await.unwrap();
    assert!(
        matches!(
            full.primary(),
            Some(imapvm_policy::Refusal::MailboxFull { count: 2, .. })
        ),
        "{full:?}"
    );
    // A plain deposit is refused now; the admitted caller's recording is stored anyway.
    assert!(matches!(
        mb.deposit(&voicemail("5550003", 500)).await,
        Err(Error::DepositRefused { .. })
    ));
    let mut spoken = voicemail("5550004", 500);
    spoken.admitted = true;
    let stored = mb.deposit(&spoken).await.unwrap();
    assert_eq!(stored.counts.total(), 3, "one over maxmsg, nothing lost");
    store.close().await;
}

/// A deposit resent under its msg id (a recording recovered after a crash) is stored once:
/// the second attempt finds the first by its msg id, checked exactly and for this box only.
#[tokio::test]
async fn a_deposit_under_a_given_msg_id_is_stored_once() {
    let (store, folder) = private_store("msgid");
    let mb = store.mailbox("1234@default").unwrap();
    let mut vm = voicemail("5551001", 700);
    vm.msg_id = Some("1796587333-0badcafe".into());
    vm.orig_time = Some(1_796_587_333);
    let first = mb.deposit(&vm).await.unwrap();
    // A msg id that merely contains this one is another message.
    let mut longer = voicemail("5551002", 700);
    longer.msg_id = Some("21796587333-0badcafe".into());
    let other = mb.deposit(&longer).await.unwrap();
    assert_ne!(other.uid, first.uid);
    let mut resent = vm.clone();
    resent.resent = true;
    let again = mb.deposit(&resent).await.unwrap();
    assert_eq!(again.uid, first.uid, "not stored twice");
    let out = py(&format!(
        "m = connect('vm1234')\nsel(m, {f})\nprint(len(uids(m, 'ALL')))\nprint(header(m, {uid}, 'X-Asterisk-VM-Orig-time'))\nprint(header(m, {uid}, 'X-Asterisk-VM-Message-ID'))\n",
        f = q(&folder),
        uid = first.uid
    ));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines, ["2", "1796587333", "1796587333-0badcafe"], "{out}");
    store.close().await;
}
