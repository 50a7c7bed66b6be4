//! Mailbox isolation with the master user (`authuser`): every operation acts as the target
//! mailbox's `imapuser` only; boxes sharing one account never see each other's messages
//! through header collisions (`12` / `123`) or through the shared connection's selection.

use imapvm::{MessageRef, Store};

use crate::{py, q, server, store_for, unique, voicemail};

fn master_store(name: &str, general: &str, boxes: &str) -> Store {
    let s = server();
    let master = s.master.clone().expect("Dovecot has a master user");
    store_for(
        name,
        &s.host,
        s.imaps_port,
        &format!(
            "imapflags=ssl\nauthuser={}\nauthpassword={}\n{general}",
            master.user, master.password
        ),
        boxes,
    )
}

/// The msg ids in `folder` of `user`, as that user's own client sees them.
fn msg_ids_of(user: &str, folder: &str) -> Vec<String> {
    let out = py(&format!(
        r#"
m = connect({u})
typ, _ = m.select('"%s"' % {f})
ids = []
if typ == 'OK':
    typ, data = m.uid('FETCH', '1:*', '(BODY.PEEK[HEADER.FIELDS (X-Asterisk-VM-Message-ID)])')
    for d in data or []:
        if isinstance(d, tuple):
            v = d[1].decode().split(':', 1)
            if len(v) == 2 and v[1].strip():
                ids.append(v[1].strip())
print(' '.join(sorted(ids)))
"#,
        u = q(user),
        f = q(folder)
    ));
    out.split_whitespace().map(str::to_owned).collect()
}

#[tokio::test]
async fn with_the_master_user_each_box_acts_only_as_its_own_imapuser() {
    let folder = unique("iso-master");
    let store = master_store(
        "iso-master",
        &format!("imapfolder={folder}"),
        "[default]\n1234 => 1234,Alice,,,imapuser=vm1234\n4321 => 4321,Bob,,,imapuser=vm4321\n",
    );
    let alice = store.mailbox("1234@default").unwrap();
    let bob = store.mailbox("4321@default").unwrap();
    let a = alice.deposit(&voicemail("5552001", 200)).await.unwrap();
    let b1 = bob.deposit(&voicemail("5552002", 200)).await.unwrap();
    let b2 = bob.deposit(&voicemail("5552003", 200)).await.unwrap();
    assert_eq!(alice.count().await.unwrap().new, 1);
    assert_eq!(bob.count().await.unwrap().new, 2);
    assert_eq!(msg_ids_of("vm1234", &folder), vec![a.msg_id.clone()]);
    let mut bobs = vec![b1.msg_id.clone(), b2.msg_id.clone()];
    bobs.sort();
    assert_eq!(msg_ids_of("vm4321", &folder), bobs);
    // Bob's UIDs mean nothing in Alice's mailbox: never another account's message.
    let err = alice
        .peek(
            MessageRef::Uid(imapvm::Uid::new(b2.uid.max(a.uid).get() + 1000).unwrap()),
            None,
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no longer there"), "{err}");
    store.close().await;
}

#[tokio::test]
async fn boxes_12_and_123_on_one_master_session_never_see_each_other() {
    let folder = unique("iso-1212");
    let other = unique("iso-1212-b");
    let store = master_store(
        "iso-1212",
        &format!("imapfolder={folder}"),
        &format!(
            "[iso]\n12 => 12,Twelve,,,imapuser=vmshared\n123 => 123,OneTwoThree,,,imapuser=vmshared\n\
             1 => 1,One,,,imapuser=vmshared|imapfolder={other}\n"
        ),
    );
    let b12 = store.mailbox("12@iso").unwrap();
    let b123 = store.mailbox("123@iso").unwrap();
    let b1 = store.mailbox("1@iso").unwrap();
    let d12 = b12.deposit(&voicemail("5553012", 150)).await.unwrap();
    for i in 0..2 {
        b123.deposit(&voicemail(&format!("555312{i}"), 150))
            .await
            .unwrap();
    }
    b1.deposit(&voicemail("5553001", 150)).await.unwrap();
    // Interleaved on the one connection: each answer is its own box's, whatever is selected.
    for _ in 0..2 {
        assert_eq!(b12.count().await.unwrap().new, 1);
        assert_eq!(b1.count().await.unwrap().new, 1);
        assert_eq!(b123.count().await.unwrap().new, 2);
        let l12 = b12.list(None).await.unwrap();
        assert_eq!(l12.messages.len(), 1);
        assert_eq!(l12.messages[0].uid, d12.uid);
        assert_eq!(b1.list(None).await.unwrap().messages.len(), 1);
        assert_eq!(b123.list(None).await.unwrap().messages.len(), 2);
    }
    // 123 cannot touch 12's message by UID.
    let err = b123
        .delete(&[MessageRef::Uid(d12.uid)], None)
        .await
        .map(|r| r.done);
    assert!(err.as_ref().map_or(true, |done| done.is_empty()), "{err:?}");
    assert_eq!(b12.count().await.unwrap().new, 1, "12's message survived");
    store.close().await;
}
