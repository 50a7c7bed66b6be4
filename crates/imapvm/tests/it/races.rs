//! A mail client expunging during a listing, and a folder deleted and recreated.

use imapvm::Error;

use crate::{private_store, py, q, voicemail};

#[tokio::test]
async fn an_expunge_during_a_listing_never_makes_a_number_hit_another_message() {
    let (store, folder) = private_store("race");
    let mb = store.mailbox("1234@default").unwrap();
    let a = mb.deposit(&voicemail("5556001", 300)).await.unwrap();
    let b = mb.deposit(&voicemail("5556002", 300)).await.unwrap();
    let c = mb.deposit(&voicemail("5556003", 300)).await.unwrap();
    let listing = mb.list(None).await.unwrap();
    assert_eq!(
        listing
            .messages
            .iter()
            .map(|m| (m.number.get(), m.uid))
            .collect::<Vec<_>>(),
        vec![(1, a.uid), (2, b.uid), (3, c.uid)]
    );
    // The mail client expunges message 1 while the listing is open.
    py(&format!(
        "m = connect('vm1234')\nsel(m, {f})\n\
         check(m.uid('STORE', '{u}', '+FLAGS', '(\\\\Deleted)'), 'del')\ncheck(m.expunge(), 'expunge')\n",
        f = q(&folder),
        u = a.uid
    ));
    // Number 2 is still caller 5556002 (Asterisk's sequence numbers would now give 5556003).
    let played = mb.peek(crate::support::number(2), None).await.unwrap();
    assert_eq!(
        (played.uid, played.voicemail.caller_id_num.as_str()),
        (b.uid, "5556002")
    );
    // Number 1 is gone, not re-bound.
    let err = mb.peek(crate::support::number(1), None).await.unwrap_err();
    assert!(
        matches!(err, Error::Vanished { uid, .. } if uid == a.uid),
        "{err}"
    );
    // Deleting number 3 deletes caller 5556003 and nothing else.
    let report = mb.delete(&[crate::support::number(3)], None).await.unwrap();
    assert_eq!(report.expunged, vec![c.uid]);
    let left = py(&format!(
        "m = connect('vm1234')\nsel(m, {f})\nprint(uids(m, 'ALL'))\n",
        f = q(&folder)
    ));
    assert_eq!(left.trim(), format!("[{}]", b.uid));
    // The next listing numbers afresh.
    let listing = mb.list(None).await.unwrap();
    assert_eq!(
        listing
            .messages
            .iter()
            .map(|m| (m.number.get(), m.uid))
            .collect::<Vec<_>>(),
        vec![(1, b.uid)]
    );
    store.close().await;
}

#[tokio::test]
async fn a_uidvalidity_change_is_detected_and_the_listing_rebuilt() {
    let (store, folder) = private_store("uidvalidity");
    let mb = store.mailbox("1234@default").unwrap();
    mb.deposit(&voicemail("5556101", 300)).await.unwrap();
    mb.deposit(&voicemail("5556102", 300)).await.unwrap();
    let before = mb.list(None).await.unwrap();
    assert_eq!(before.messages.len(), 2);
    // The folder is deleted and recreated, with one voicemail from elsewhere in it.
    py(&format!(
        "m = connect('vm1234')\ncheck(m.delete('\"{f}\"'), 'delete folder')\n\
         check(m.create('\"{f}\"'), 'create')\nappend(m, {fq}, open({raw}, 'rb').read())\n",
        f = folder,
        fq = q(&folder),
        raw = q(&crate::fixture("01-basic.eml"))
    ));
    // Number 1 of the old listing must not silently become the new message.
    let err = mb.peek(crate::support::number(1), None).await.unwrap_err();
    assert!(matches!(err, Error::StaleListing { .. }), "{err}");
    // The listing was rebuilt: number 1 is now the new folder's message.
    let played = mb.peek(crate::support::number(1), None).await.unwrap();
    assert_eq!(played.voicemail.caller_id_num, "5551001");
    let after = mb.list(None).await.unwrap();
    assert_ne!(after.uid_validity, before.uid_validity);
    assert_eq!(after.messages.len(), 1);
    assert_eq!(mb.count().await.unwrap().new, 1);
    store.close().await;
}
