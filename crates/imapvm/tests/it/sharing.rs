//! Shared accounts: boxes `12` and `123` never see each other's messages, and deleting a
//! voicemail never expunges the user's own mail, also on a server without UIDPLUS/MOVE.

use imapvm::MessageRef;

use crate::{pw, py, q, server, store_for, store_with, unique, voicemail};

#[tokio::test]
async fn boxes_12_and_123_in_one_folder_never_see_each_other() {
    let folder = unique("exact");
    let store = store_with(
        "exact",
        &format!("imapfolder={folder}"),
        &format!(
            "[default]\n12 => 12,Twelve,,,imapuser=vm4321|imappassword={pw}\n\
             123 => 123,One-two-three,,,imapuser=vm4321|imappassword={pw}\n\
             [default2]\n12 => 12,Other context,,,imapuser=vm4321|imappassword={pw}\n",
            pw = pw("vm4321")
        ),
    );
    let b12 = store.mailbox("12@default").unwrap();
    let b123 = store.mailbox("123@default").unwrap();
    let b12x = store.mailbox("12@default2").unwrap();
    let d12 = b12.deposit(&voicemail("5551212", 300)).await.unwrap();
    let d123 = b123.deposit(&voicemail("5551230", 300)).await.unwrap();
    b123.deposit(&voicemail("5551231", 300)).await.unwrap();
    let d12x = b12x.deposit(&voicemail("5551299", 300)).await.unwrap();
    assert_eq!(d12.counts.new, 1);
    assert_eq!(d123.number.map(|n| n.get()), Some(1));

    assert_eq!(b12.count().await.unwrap().new, 1);
    assert_eq!(b123.count().await.unwrap().new, 2);
    assert_eq!(b12x.count().await.unwrap().new, 1);
    let l12 = b12.list(None).await.unwrap();
    assert_eq!(
        l12.messages.iter().map(|m| m.uid).collect::<Vec<_>>(),
        vec![d12.uid]
    );
    let l12x = b12x.list(None).await.unwrap();
    assert_eq!(
        l12x.messages.iter().map(|m| m.uid).collect::<Vec<_>>(),
        vec![d12x.uid]
    );
    // Box 12 cannot address 123's message by UID either.
    assert!(b12.peek(MessageRef::Uid(d123.uid), None).await.is_err());
    assert!(
        b12.delete(&[MessageRef::Uid(d123.uid)], None)
            .await
            .unwrap()
            .done
            .is_empty()
    );
    b12.delete(&[crate::support::number(1)], None)
        .await
        .unwrap();
    assert_eq!(b12.count().await.unwrap().new, 0);
    assert_eq!(b123.count().await.unwrap().new, 2);
    assert_eq!(b12x.count().await.unwrap().new, 1);
    store.close().await;
}

/// Ordinary mail (one of it `\Deleted` by the user) beside two boxes on `vmshared`; box 2001
/// deletes and expunges; the mail client checks what is left.
async fn shared_scenario(host: &str, port: u16, folder: &str, old_personality: bool) {
    let tag = unique("ordinary");
    if folder == "INBOX" {
        // Only this test uses vmshared's INBOX (sequentially); clear what earlier runs left.
        py(r#"
m = connect("vmshared")
sel(m, "INBOX")
old = set(uids(m, 'HEADER', 'X-Asterisk-VM-Context', 'sales')) | set(uids(m, 'SUBJECT', 'ordinary-'))
for u in old:
    check(m.uid('STORE', str(u), '+FLAGS', '(\\Deleted)'), 'clean')
check(m.expunge(), 'clean')
"#);
    }
    let store = store_for(
        "shared",
        host,
        port,
        &format!("imapfolder={folder}"),
        &format!(
            "[sales]\n2001 => 2001,Sales,,,imapuser=vmshared|imappassword={pw}\n\
             2002 => 2002,Support,,,imapuser=vmshared|imappassword={pw}|imapvmshareid=support\n",
            pw = pw("vmshared")
        ),
    );
    py(&format!(
        r#"
m = connect("vmshared")
m.create('"{f}"')
for i in range(3):
    append(m, {fq}, ("From: friend@example.com\r\nSubject: {tag} %d\r\n\r\nhello\r\n" % i).encode())
sel(m, {fq})
u = uids(m, 'SUBJECT', '"{tag} 1"')
check(m.uid('STORE', str(u[0]), '+FLAGS', '(\\Deleted)'), 'user deletes')
"#,
        f = folder,
        fq = q(folder),
        tag = tag
    ));
    let sales = store.mailbox("2001@sales").unwrap();
    let support = store.mailbox("2002@sales").unwrap();
    let mine = sales.deposit(&voicemail("5552001", 300)).await.unwrap();
    let theirs = support.deposit(&voicemail("5552002", 300)).await.unwrap();
    // Dovecot sends APPENDUID even where it does not advertise UIDPLUS; either way the UID
    // is the one the mail client sees below.
    let listing = sales.list(None).await.unwrap();
    assert_eq!(
        listing.messages.iter().map(|m| m.uid).collect::<Vec<_>>(),
        vec![mine.uid]
    );
    let deleted = sales
        .delete(&[MessageRef::Uid(mine.uid)], None)
        .await
        .unwrap();
    let expunged = sales.expunge(None).await.unwrap();
    let out = py(&format!(
        r#"
m = connect("vmshared")
sel(m, {fq})
print(len(uids(m, 'SUBJECT', '"{tag}"')), len(uids(m, 'DELETED', 'SUBJECT', '"{tag}"')))
print(uids(m, 'UID', '{theirs}'), uids(m, 'UID', '{mine}'), flags(m, {mine}) if uids(m, 'UID', '{mine}') else '')
"#,
        fq = q(folder),
        tag = tag,
        theirs = theirs.uid,
        mine = mine.uid
    ));
    let lines: Vec<&str> = out.lines().collect();
    // Every ordinary message is still there, the user's \Deleted one included.
    assert_eq!(lines[0], "3 1", "{out}");
    // The other box's voicemail is untouched.
    assert!(lines[1].starts_with(&format!("[{}]", theirs.uid)), "{out}");
    if old_personality {
        // No UIDPLUS: imapvm deferred instead of a plain EXPUNGE; its message stays \Deleted.
        assert!(!deleted.deferred.is_empty(), "{deleted:?}");
        assert!(!expunged.deferred.is_empty(), "{expunged:?}");
        assert!(lines[1].contains("\\Deleted"), "{out}");
    } else {
        assert_eq!(deleted.expunged, vec![mine.uid], "{deleted:?}");
        assert!(lines[1].ends_with("[] "), "{out}");
    }
    assert_eq!(sales.count().await.unwrap(), imapvm::MwiCounts::default());
    assert_eq!(support.count().await.unwrap().new, 1);
    store.close().await;
}

#[tokio::test]
async fn shared_account_keeps_ordinary_mail_in_inbox_with_and_without_uidplus() {
    let s = server();
    shared_scenario(&s.host, s.port, "INBOX", false).await;
    shared_scenario(&s.old_host, s.old_port, "INBOX", true).await;
}

#[tokio::test]
async fn shared_account_keeps_ordinary_mail_without_uidplus_in_a_voicemail_folder() {
    let s = server();
    shared_scenario(&s.old_host, s.old_port, &unique("shared-old"), true).await;
}
