//! Multi-recipient deposits and forwards (issue 13) against the private Dovecot, checked by
//! Python's imaplib: every copy is in its own box only (Asterisk's own count SEARCH), built
//! for its recipient, with the original's caller id, times, duration and audio bytes; the
//! comment is part 3; the source stays unread; a full box refuses without failing others.

use imapvm::{Audio, Error, Folder, MessageRef, MwiCounts, Store};
use imapvm_deliver::{Deliver, Forward, RecipientOutcome, RecipientResult, Via};
use serde_json::Value;

use crate::{fixture, pw, py, q, store_with, unique, voicemail, wav};

/// One store with every box of these tests, all keeping voicemail in a fresh folder:
/// 1234@default (vm1234), 4321@other (vm4321), 2001@sales + 2002@sales (one shared account,
/// vmshared), 5678@default (vm5678, 200K quota).
fn store(name: &str) -> (Store, String) {
    let folder = unique(name);
    let store = store_with(
        name,
        &format!("imapfolder={folder}\ngreetingsfolder={folder}-greetings"),
        &format!(
            "[default]\n1234 => 1234,Alice Mailbox,,,imapuser=vm1234|imappassword={p1}\n\
             5678 => 5678,Bjorn Full,,,imapuser=vm5678|imappassword={p5}\n\
             [other]\n4321 => 4321,Bob Other,,,imapuser=vm4321|imappassword={p4}\n\
             [sales]\n2001 => 2001,Sales One,,,imapuser=vmshared|imappassword={ps}\n\
             2002 => 2002,Sales Two,,,imapuser=vmshared|imappassword={ps}\n",
            p1 = pw("vm1234"),
            p4 = pw("vm4321"),
            p5 = pw("vm5678"),
            ps = pw("vmshared"),
        ),
    );
    (store, folder)
}

/// SHA-256 of `bytes` in hex, by Python's hashlib (the independent side computes both the
/// expected and the found value the same way).
fn sha256(bytes: &[u8]) -> String {
    let path = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(unique("sha-input"));
    std::fs::write(&path, bytes).unwrap();
    let out = py(&format!(
        "import hashlib\nprint(hashlib.sha256(open({}, 'rb').read()).hexdigest())",
        q(&path.display().to_string())
    ));
    let _ = std::fs::remove_file(&path);
    out.trim().to_owned()
}

/// What the mail client sees of the messages of box `ext@ctx` (user `user`, folder
/// `folder`): Asterisk's own new-count SEARCH, then for each hit its headers, flags and
/// MIME parts (content type, `name=`, sha256 of the decoded bytes), in part order.
fn client_view(user: &str, folder: &str, ext: &str, ctx: &str) -> Vec<Value> {
    let out = py(&format!(
        r#"
import email, hashlib, json
m = connect({user})
sel(m, {folder})
typ, data = m.search(None, 'UNDELETED', 'UNFLAGGED', 'UNSEEN',
                     'HEADER', 'X-Asterisk-VM-Extension', {ext},
                     'HEADER', 'X-Asterisk-VM-Context', {ctx})
assert typ == 'OK', data
seqs = data[0].split()
out = []
for seq in seqs:
    typ, d = m.fetch(seq, '(UID FLAGS BODY.PEEK[])')
    assert typ == 'OK', d
    raw = [x[1] for x in d if isinstance(x, tuple)][0]
    meta = [x[0] for x in d if isinstance(x, tuple)][0].decode()
    msg = email.message_from_bytes(raw)
    parts = []
    for p in msg.walk():
        if p.is_multipart():
            continue
        body = p.get_payload(decode=True) or b''
        parts.append([p.get_content_type(), p.get_param('name'), hashlib.sha256(body).hexdigest()])
    headers = {{}}
    for h in ['To', 'Subject', 'Message-ID', 'X-Asterisk-VM-Message-Num', 'X-Asterisk-VM-Context',
              'X-Asterisk-VM-Extension', 'X-Asterisk-VM-Flag', 'X-Asterisk-VM-Caller-ID-Num',
              'X-Asterisk-VM-Caller-ID-Name', 'X-Asterisk-VM-Duration', 'X-Asterisk-VM-Orig-date',
              'X-Asterisk-VM-Orig-time', 'X-Asterisk-VM-Message-ID', 'X-Asterisk-VM-Orig-Mailbox',
              'X-Asterisk-VM-Orig-Message-ID']:
        headers[h] = msg[h]
    out.append({{'meta': meta, 'headers': headers, 'parts': parts}})
print(json.dumps(out))
m.logout()
"#,
        user = q(user),
        folder = q(folder),
        ext = q(ext),
        ctx = q(ctx),
    ));
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    v.as_array().unwrap().clone()
}

fn header<'a>(copy: &'a Value, name: &str) -> &'a str {
    copy["headers"][name].as_str().unwrap_or("")
}

fn parts(copy: &Value) -> Vec<(String, String, String)> {
    copy["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p[0].as_str().unwrap_or("").to_owned(),
                p[1].as_str().unwrap_or("").to_owned(),
                p[2].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

/// The same messages (headers and parts; `\Recent` may differ), none `\Seen`.
fn assert_unchanged_and_unread(now: &[Value], before: &[Value]) {
    assert_eq!(now.len(), before.len(), "{now:?}");
    for (a, b) in now.iter().zip(before) {
        assert_eq!(a["headers"], b["headers"]);
        assert_eq!(a["parts"], b["parts"]);
        assert!(!a["meta"].as_str().unwrap_or("").contains("Seen"), "{a}");
    }
}

fn stored(r: &RecipientResult) -> &imapvm::Deposited {
    r.stored()
        .unwrap_or_else(|| panic!("{} not stored: {:?}", r.mailbox, r.outcome))
}

fn new_only(n: u32) -> MwiCounts {
    MwiCounts {
        new: n,
        ..MwiCounts::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_and_b_across_two_accounts_each_get_a_copy_built_for_them() {
    let (store, folder) = store("vm-a-b");
    let vm = voicemail("5551300", 700);
    let audio = vm.recording.clone().unwrap().bytes;
    let results = store.deposit_to(&["1234@default", "4321@other"], &vm).await;
    assert_eq!(results.len(), 2);
    assert_eq!(results[0].mailbox, "1234@default");
    assert_eq!(results[1].mailbox, "4321@other");
    let (a, b) = (stored(&results[0]), stored(&results[1]));
    assert!(results.iter().all(|r| r.status() == "stored"));
    assert_eq!(
        (a.number.map(|n| n.get()), b.number.map(|n| n.get())),
        (Some(1), Some(1))
    );
    assert_eq!(a.msg_id, b.msg_id, "one deposit, one msg id lineage");
    assert_eq!(a.counts, new_only(1));

    // Each account's mail client: Asterisk's count SEARCH finds exactly one copy, built for
    // that box (its headers, its full name), with the same audio bytes.
    let want = sha256(&audio);
    for (user, ext, ctx, name, uid) in [
        ("vm1234", "1234", "default", "Alice Mailbox", a.uid),
        ("vm4321", "4321", "other", "Bob Other", b.uid),
    ] {
        let copies = client_view(user, &folder, ext, ctx);
        assert_eq!(copies.len(), 1, "{user}: {copies:?}");
        let c = &copies[0];
        assert!(
            c["meta"].as_str().unwrap().contains(&format!("UID {uid}")),
            "{c}"
        );
        assert_eq!(header(c, "X-Asterisk-VM-Extension"), ext);
        assert_eq!(header(c, "X-Asterisk-VM-Context"), ctx);
        assert_eq!(header(c, "X-Asterisk-VM-Message-Num"), "1");
        assert!(header(c, "To").contains(name), "{c}");
        assert_eq!(header(c, "X-Asterisk-VM-Caller-ID-Num"), "5551300");
        assert_eq!(header(c, "X-Asterisk-VM-Message-ID"), a.msg_id);
        let p = parts(c);
        assert_eq!(p.len(), 2, "{p:?}");
        assert_eq!(p[1].1, "msg0000.wav");
        assert_eq!(p[1].2, want);
    }
    // ...and never in the other box.
    assert!(client_view("vm1234", &folder, "4321", "other").is_empty());
    assert!(client_view("vm4321", &folder, "1234", "default").is_empty());
    // Two accounts, two connections.
    for id in ["1234@default", "4321@other"] {
        let mb = store.mailbox(id).unwrap();
        assert!(mb.connection_stats().await.is_some(), "{id}");
        assert_eq!(mb.count().await.unwrap(), new_only(1));
    }
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_and_b_on_one_shared_account_share_its_folder_and_stay_apart() {
    let (store, folder) = store("vm-shared-ab");
    let vm = voicemail("5551301", 500);
    let results = store.deposit_to(&["2001@sales", "2002@sales"], &vm).await;
    let (a, b) = (stored(&results[0]), stored(&results[1]));
    assert_ne!(a.uid, b.uid);
    assert_eq!(
        a.uid_validity, b.uid_validity,
        "the same folder of one account"
    );
    for (ext, uid, other) in [("2001", a.uid, b.uid), ("2002", b.uid, a.uid)] {
        let copies = client_view("vmshared", &folder, ext, "sales");
        assert_eq!(copies.len(), 1, "{ext}: {copies:?}");
        let meta = copies[0]["meta"].as_str().unwrap();
        assert!(meta.contains(&format!("UID {uid} ")) || meta.contains(&format!("UID {uid})")));
        assert!(!meta.contains(&format!("UID {other} ")), "{meta}");
        assert_eq!(header(&copies[0], "X-Asterisk-VM-Extension"), ext);
    }
    for id in ["2001@sales", "2002@sales"] {
        let mb = store.mailbox(id).unwrap();
        assert_eq!(mb.count().await.unwrap(), new_only(1), "{id}");
        assert_eq!(mb.list(None).await.unwrap().messages.len(), 1);
    }
    // A second deposit numbers each box on its own: message 2 in both.
    let again = store.deposit_to(&["2001@sales", "2002@sales"], &vm).await;
    assert_eq!(stored(&again[0]).number.map(|n| n.get()), Some(2));
    assert_eq!(stored(&again[1]).number.map(|n| n.get()), Some(2));
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_repeated_recipients_fail_alone() {
    let (store, _folder) = store("vm-bad-rcpt");
    let vm = voicemail("5551302", 300);
    // `1234@DEFAULT` is the same box: Asterisk compares boxes without ASCII case, and so
    // does `MailboxId`, which keys the recipients.
    let results = store
        .deposit_to(
            &[
                "1234@default",
                "999@nowhere",
                "1234@default",
                "1234@DEFAULT",
            ],
            &vm,
        )
        .await;
    assert_eq!(results.len(), 4);
    assert_eq!(results[0].status(), "stored");
    assert_eq!(results[1].status(), "failed");
    assert!(matches!(
        results[1].outcome,
        RecipientOutcome::Failed(Error::NoSuchMailbox { .. })
    ));
    for repeated in &results[2..] {
        assert_eq!(repeated.status(), "failed");
        assert!(
            matches!(
                repeated.outcome,
                RecipientOutcome::Failed(Error::DuplicateRecipient { .. })
            ),
            "{repeated:?}"
        );
    }
    let mb = store.mailbox("1234@default").unwrap();
    assert_eq!(mb.count().await.unwrap(), new_only(1));
    store.close().await;
}

/// Deposits the original into 1234@default and returns (store, folder, msg id, uid).
async fn original(name: &str) -> (Store, String, imapvm::NewVoicemail, imapvm::Deposited) {
    let (store, folder) = store(name);
    let mut vm = voicemail("5551400", 1200);
    vm.caller_id_name = "Original Caller".into();
    vm.duration_secs = 2;
    let mb = store.mailbox("1234@default").unwrap();
    let d = mb.deposit(&vm).await.unwrap();
    (store, folder, vm, d)
}

fn source_flags(folder: &str, uid: imapvm::Uid) -> String {
    py(&format!(
        "m = connect('vm1234')\nsel(m, {f})\nprint(flags(m, {uid}))\nm.logout()",
        f = q(folder)
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forward_keeps_the_original_and_leaves_the_source_unread() {
    let (store, folder, vm, d) = original("fwd-plain").await;
    let src = store.mailbox("1234@default").unwrap();
    let before = client_view("vm1234", &folder, "1234", "default");
    assert_eq!(before.len(), 1);
    let forwarded = src
        .forward(
            crate::support::number(1),
            None,
            &["4321@other", "2001@sales"],
            None,
        )
        .await
        .unwrap();
    assert!(forwarded.all_ok(), "{forwarded:?}");
    assert_eq!(forwarded.source_uid, d.uid);
    assert_eq!(forwarded.source_msg_id.as_deref(), Some(d.msg_id.as_str()));
    let copy_ids: Vec<String> = forwarded
        .results
        .iter()
        .map(|r| stored(r).msg_id.clone())
        .collect();
    assert!(matches!(
        forwarded.results[0].outcome,
        RecipientOutcome::Stored {
            via: Via::Append,
            ..
        }
    ));

    // Not marked read: the flags the client sees have no \Seen, and the count still
    // finds the source as new.
    assert!(!source_flags(&folder, d.uid).contains("Seen"));
    assert_unchanged_and_unread(&client_view("vm1234", &folder, "1234", "default"), &before);

    let want = sha256(&vm.recording.unwrap().bytes);
    let orig = &before[0];
    for ((user, ext, ctx), msg_id) in [("vm4321", "4321", "other"), ("vmshared", "2001", "sales")]
        .into_iter()
        .zip(&copy_ids)
    {
        let copies = client_view(user, &folder, ext, ctx);
        assert_eq!(copies.len(), 1, "{ext}: {copies:?}");
        let c = &copies[0];
        assert_eq!(header(c, "X-Asterisk-VM-Extension"), ext);
        assert_eq!(header(c, "X-Asterisk-VM-Context"), ctx);
        for kept in [
            "X-Asterisk-VM-Caller-ID-Num",
            "X-Asterisk-VM-Caller-ID-Name",
            "X-Asterisk-VM-Duration",
            "X-Asterisk-VM-Orig-time",
            "X-Asterisk-VM-Orig-date",
        ] {
            assert_eq!(header(c, kept), header(orig, kept), "{kept}");
        }
        assert_eq!(header(c, "X-Asterisk-VM-Caller-ID-Name"), "Original Caller");
        assert_eq!(header(c, "X-Asterisk-VM-Duration"), "2");
        // A fresh msg id of its own, and the lineage.
        assert_eq!(header(c, "X-Asterisk-VM-Message-ID"), msg_id.as_str());
        assert_ne!(msg_id, &d.msg_id);
        assert_ne!(msg_id, "(null)");
        assert_eq!(header(c, "X-Asterisk-VM-Orig-Message-ID"), d.msg_id);
        assert_eq!(header(c, "X-Asterisk-VM-Orig-Mailbox"), "1234@default");
        assert_ne!(header(c, "Message-ID"), header(orig, "Message-ID"));
        // Text, then the recording: byte for byte the original's.
        let p = parts(c);
        assert_eq!(p.len(), 2, "{p:?}");
        assert_eq!(p[0].0, "text/plain");
        assert_eq!(
            (p[1].0.as_str(), p[1].1.as_str()),
            ("audio/x-wav", "msg0000.wav")
        );
        assert_eq!(p[1].2, want);
    }
    // The copies are in their boxes only.
    assert!(client_view("vmshared", &folder, "2002", "sales").is_empty());
    assert!(client_view("vm1234", &folder, "4321", "other").is_empty());
    // The copy plays back through imapvm too, with the original's audio.
    let dst = store.mailbox("4321@other").unwrap();
    let played = dst.peek(crate::support::number(1), None).await.unwrap();
    assert_eq!(played.voicemail.caller_id_num, "5551400");
    assert_eq!(played.voicemail.audio.len(), 1);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forward_with_a_comment_puts_it_in_part_3_where_asterisk_plays_it_first() {
    let (store, folder, vm, d) = original("fwd-comment").await;
    let src = store.mailbox("1234@default").unwrap();
    let comment = Audio {
        format: "wav".into(),
        bytes: wav(600, 880.0),
    };
    let forwarded = src
        .forward(
            MessageRef::Uid(d.uid),
            None,
            &["4321@other"],
            Some(&comment),
        )
        .await
        .unwrap();
    assert!(forwarded.all_ok(), "{forwarded:?}");
    let copies = client_view("vm4321", &folder, "4321", "other");
    assert_eq!(copies.len(), 1, "{copies:?}");
    let c = &copies[0];
    let p = parts(c);
    assert_eq!(p.len(), 3, "{p:?}");
    assert_eq!(p[0].0, "text/plain");
    assert_eq!(
        (p[1].0.as_str(), p[1].1.as_str(), p[1].2.as_str()),
        (
            "audio/x-wav",
            "msg0000.wav",
            sha256(&vm.recording.unwrap().bytes).as_str()
        )
    );
    assert_eq!(
        (p[2].0.as_str(), p[2].1.as_str(), p[2].2.as_str()),
        (
            "audio/x-wav",
            "msgintro0000.wav",
            sha256(&comment.bytes).as_str()
        )
    );
    // The duration stays the original's (Asterisk would write the comment's).
    assert_eq!(header(c, "X-Asterisk-VM-Duration"), "2");
    assert_eq!(header(c, "X-Asterisk-VM-Caller-ID-Num"), "5551400");
    assert!(!source_flags(&folder, d.uid).contains("Seen"));
    // imapvm's play returns recording then intro, as the message crate parses them.
    let played = store
        .mailbox("4321@other")
        .unwrap()
        .peek(crate::support::number(1), None)
        .await
        .unwrap();
    assert_eq!(played.voicemail.audio.len(), 2);
    assert_eq!(played.voicemail.audio[1].bytes, comment.bytes);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forward_to_a_full_mailbox_is_refused_there_only() {
    let (store, folder) = store("fwd-full");
    let src = store.mailbox("1234@default").unwrap();
    // ~480 KB of audio: more than vm5678's whole 200K quota.
    let big = voicemail("5551500", 30_000);
    let d = src.deposit(&big).await.unwrap();
    let forwarded = src
        .forward(
            MessageRef::Uid(d.uid),
            None,
            &["5678@default", "4321@other"],
            None,
        )
        .await
        .unwrap();
    assert!(!forwarded.all_ok());
    let full = &forwarded.results[0];
    assert_eq!(full.status(), "refused", "{full:?}");
    match &full.outcome {
        RecipientOutcome::Failed(Error::DepositRefused { reasons, .. }) => assert!(
            reasons
                .iter()
                .any(|r| r.to_string().to_lowercase().contains("quota")),
            "{reasons:?}"
        ),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(forwarded.results[1].status(), "stored");
    assert!(client_view("vm5678", &folder, "5678", "default").is_empty());
    assert_eq!(client_view("vm4321", &folder, "4321", "other").len(), 1);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forward_to_a_box_at_maxmsg_is_refused_by_admission() {
    let folder = unique("fwd-maxmsg");
    let store = store_with(
        "fwd-maxmsg",
        &format!("imapfolder={folder}"),
        &format!(
            "[default]\n1234 => 1234,Alice,,,imapuser=vm1234|imappassword={p1}\n\
             [other]\n4321 => 4321,Bob,,,imapuser=vm4321|imappassword={p4}|maxmsg=1\n",
            p1 = pw("vm1234"),
            p4 = pw("vm4321"),
        ),
    );
    let src = store.mailbox("1234@default").unwrap();
    let d = src.deposit(&voicemail("5551600", 300)).await.unwrap();
    let first = src
        .forward(MessageRef::Uid(d.uid), None, &["4321@other"], None)
        .await
        .unwrap();
    assert!(first.all_ok(), "{first:?}");
    let second = src
        .forward(MessageRef::Uid(d.uid), None, &["4321@other"], None)
        .await
        .unwrap();
    match &second.results[0].outcome {
        RecipientOutcome::Failed(Error::DepositRefused { reasons, .. }) => {
            assert!(
                format!("{reasons:?}").contains("MailboxFull"),
                "{reasons:?}"
            );
        }
        other => panic!("expected maxmsg to refuse, got {other:?}"),
    }
    assert_eq!(client_view("vm4321", &folder, "4321", "other").len(), 1);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_a_saved_message_back_to_its_own_box_is_a_uid_copy() {
    let (store, folder, _vm, d) = original("fwd-copy").await;
    let mb = store.mailbox("1234@default").unwrap();
    // Heard, then saved to Work (Asterisk's save leaves no copy behind with MOVE).
    mb.set_flag(MessageRef::Uid(d.uid), None, imapvm::FlagOp::MarkRead)
        .await
        .unwrap();
    mb.move_to(MessageRef::Uid(d.uid), None, Folder::Work)
        .await
        .unwrap();
    // Work is one folder of the account, shared with earlier runs: find ours by msg id.
    let work = mb.list(Some(Folder::Work)).await.unwrap();
    let saved = work
        .messages
        .iter()
        .find(|m| m.msg_id.as_deref() == Some(d.msg_id.as_str()))
        .unwrap_or_else(|| panic!("not saved to Work: {work:?}"));
    let forwarded = mb
        .forward(
            MessageRef::Number(saved.number),
            Some(Folder::Work),
            &["1234@default"],
            None,
        )
        .await
        .unwrap();
    let r = &forwarded.results[0];
    assert!(
        matches!(
            r.outcome,
            RecipientOutcome::Stored {
                via: Via::UidCopy,
                ..
            }
        ),
        "{r:?}"
    );
    // Unchanged bytes (same msg id: the same voicemail of the same box), and new again.
    let copies = client_view("vm1234", &folder, "1234", "default");
    assert_eq!(copies.len(), 1, "{copies:?}");
    assert_eq!(header(&copies[0], "X-Asterisk-VM-Message-ID"), d.msg_id);
    assert!(
        copies[0]["meta"]
            .as_str()
            .unwrap()
            .contains(&format!("UID {}", stored(r).uid))
    );
    assert_eq!(mb.count().await.unwrap(), new_only(1));
    store.close().await;
}

/// Every stored destination of a multi-recipient deposit is announced on the store's
/// change feed (what a running MWI watcher subscribes to), each once, with its account; a
/// feed of one account hears only its own boxes; counts are not announced. (The watcher's side is
/// `imapvm-watch`'s `every_destination_publishes_its_mwi`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_destination_is_announced_on_the_change_feed() {
    let (store, _folder) = store("fwd-feed");
    let mut all = store.changes();
    let other = store.mailbox("4321@other").unwrap();
    let mut only_other = store.changes_of(&other.account().key());
    let results = store
        .deposit_to(&["1234@default", "4321@other"], &voicemail("5551700", 300))
        .await;
    assert!(results.iter().all(RecipientResult::is_ok));
    let mut announced = Vec::new();
    while let Some(c) = all.try_recv() {
        announced.push((c.mailbox.to_string(), c.account.user));
    }
    announced.sort();
    assert_eq!(
        announced,
        [
            ("1234@default".to_owned(), "vm1234".to_owned()),
            ("4321@other".to_owned(), "vm4321".to_owned())
        ]
    );
    let heard = only_other.try_recv().map(|c| c.mailbox.to_string());
    assert_eq!(heard.as_deref(), Some("4321@other"));
    assert_eq!(only_other.try_recv(), None);
    // Counting changes nothing and is not announced: a publisher that recounts on each
    // announcement would otherwise hear its own counts for ever.
    let mine = store.mailbox("1234@default").unwrap();
    mine.count().await.unwrap();
    store.count_many(&[mine, other]).await.unwrap();
    assert_eq!(all.try_recv(), None);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_asterisk_written_message_forwards_with_its_own_time_caller_and_audio() {
    let (store, folder) = store("fwd-asterisk");
    // The mail client stores a message exactly as Asterisk 22 APPENDed it (2026 orig-time).
    let raw = std::fs::read(fixture("01-basic.eml")).unwrap();
    let path = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(unique("eml"));
    std::fs::write(&path, &raw).unwrap();
    py(&format!(
        "m = connect('vm1234')\nm.create('\"%s\"' % {f})\nappend(m, {f}, open({p}, 'rb').read())\nm.logout()",
        f = q(&folder),
        p = q(&path.display().to_string())
    ));
    let source = client_view("vm1234", &folder, "1234", "default");
    assert_eq!(source.len(), 1, "{source:?}");
    let comment = Audio {
        format: "WAV".into(),
        bytes: wav(400, 660.0),
    };
    let forwarded = store
        .mailbox("1234@default")
        .unwrap()
        .forward(
            crate::support::number(1),
            None,
            &["4321@other"],
            Some(&comment),
        )
        .await
        .unwrap();
    assert!(forwarded.all_ok(), "{forwarded:?}");
    assert_eq!(
        forwarded.source_msg_id.as_deref(),
        Some("1795674116-00000000")
    );
    let copies = client_view("vm4321", &folder, "4321", "other");
    assert_eq!(copies.len(), 1, "{copies:?}");
    let c = &copies[0];
    assert_eq!(header(c, "X-Asterisk-VM-Orig-time"), "1795674119");
    assert_eq!(header(c, "X-Asterisk-VM-Caller-ID-Num"), "5551001");
    assert_eq!(header(c, "X-Asterisk-VM-Duration"), "2");
    assert_eq!(
        header(c, "X-Asterisk-VM-Orig-Message-ID"),
        "1795674116-00000000"
    );
    assert_ne!(header(c, "X-Asterisk-VM-Message-ID"), "1795674116-00000000");
    let (src, copy) = (parts(&source[0]), parts(c));
    assert_eq!(copy.len(), 3, "{copy:?}");
    // Part 2: Asterisk's wav49 recording, same bytes, named for the copy's number.
    assert_eq!(
        (copy[1].0.as_str(), copy[1].1.as_str()),
        ("audio/x-wav", "msg0000.WAV")
    );
    assert_eq!(copy[1].2, src[1].2);
    assert_eq!(copy[2].1, "msgintro0000.WAV");
    assert_eq!(copy[2].2, sha256(&comment.bytes));
    // The source stays unread.
    assert_unchanged_and_unread(&client_view("vm1234", &folder, "1234", "default"), &source);
    store.close().await;
}
