//! What the user's mail client does (read, unread, flag, delete+expunge, move away, copy in)
//! is what imapvm counts and lists next.

use imapvm::MwiCounts;

use crate::{private_store, py, q, unique, voicemail};

fn counts(new: u32, urgent: u32, old: u32) -> MwiCounts {
    MwiCounts {
        new,
        urgent,
        old,
        old_urgent: 0,
    }
}

#[tokio::test]
async fn counts_follow_the_mail_client() {
    let (store, folder) = private_store("client");
    let elsewhere = unique("client-elsewhere");
    let mb = store.mailbox("1234@default").unwrap();
    let a = mb.deposit(&voicemail("5558001", 400)).await.unwrap();
    let b = mb.deposit(&voicemail("5558002", 400)).await.unwrap();
    let c = mb.deposit(&voicemail("5558003", 400)).await.unwrap();
    assert_eq!(mb.count().await.unwrap(), counts(3, 0, 0));
    let client = |action: &str| {
        py(&format!(
            "m = connect('vm1234')\nsel(m, {f})\n{action}\n",
            f = q(&folder)
        ))
    };

    client(&format!(
        "check(m.uid('STORE', '{}', '+FLAGS', '(\\\\Seen)'), 'read')",
        a.uid
    ));
    assert_eq!(mb.count().await.unwrap(), counts(2, 0, 1));

    client(&format!(
        "check(m.uid('STORE', '{}', '-FLAGS', '(\\\\Seen)'), 'unread')",
        a.uid
    ));
    assert_eq!(mb.count().await.unwrap(), counts(3, 0, 0));

    client(&format!(
        "check(m.uid('STORE', '{}', '+FLAGS', '(\\\\Flagged)'), 'flag')",
        b.uid
    ));
    assert_eq!(mb.count().await.unwrap(), counts(2, 1, 0));

    client(&format!(
        "check(m.uid('STORE', '{}', '+FLAGS', '(\\\\Deleted)'), 'delete')\ncheck(m.expunge(), 'expunge')",
        c.uid
    ));
    assert_eq!(mb.count().await.unwrap(), counts(1, 1, 0));
    let listing = mb.list(None).await.unwrap();
    assert_eq!(
        listing.messages.iter().map(|m| m.uid).collect::<Vec<_>>(),
        vec![a.uid, b.uid]
    );

    // Moved away by the client (COPY + delete + expunge, as clients without MOVE do).
    client(&format!(
        "m.create('\"{e}\"')\ncheck(m.uid('COPY', '{u}', '\"{e}\"'), 'copy')\n\
         check(m.uid('STORE', '{u}', '+FLAGS', '(\\\\Deleted)'), 'delete')\ncheck(m.expunge(), 'expunge')",
        e = elsewhere,
        u = a.uid
    ));
    assert_eq!(mb.count().await.unwrap(), counts(0, 1, 0));

    // A copy of a voicemail put back into the folder by the client counts again.
    py(&format!(
        "m = connect('vm1234')\nsel(m, {e})\nu = uids(m, 'ALL')[0]\n\
         check(m.uid('COPY', str(u), '\"{f}\"'), 'copy back')\n",
        e = q(&elsewhere),
        f = folder
    ));
    assert_eq!(mb.count().await.unwrap(), counts(1, 1, 0));
    let listing = mb.list(None).await.unwrap();
    assert_eq!(listing.messages.len(), 2);
    assert!(
        listing
            .messages
            .iter()
            .any(|m| m.caller_id_num == "5558001")
    );
    store.close().await;
}
