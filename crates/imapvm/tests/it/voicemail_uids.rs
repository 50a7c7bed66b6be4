//! The voicemail UID cache (`imapvm_policy::voicemail_uids`) against the real Dovecot: a
//! warm store's counts and listings search only the UIDs it knows to be the box's and the
//! mail that arrived since, and after every change the user's mail client makes between
//! two calls (ordinary mail added, a voicemail appended as Asterisk would, an expunge, flag
//! changes, the folder deleted and re-created under a new UIDVALIDITY) they are exactly
//! what a full search by the mail client gives.

use imapvm::{Mailbox, MwiCounts, Store};

use crate::{fixture, private_store, pw, py, q, server, store_for, unique};

/// What the mail client sees of box 1234@default in `folder`: every voicemail's UID and
/// flags, by a full `UID SEARCH HEADER … HEADER …` (no restriction), in UID order.
fn truth(folder: &str) -> Vec<(u32, String)> {
    let out = py(&format!(
        "m = connect('vm1234')\nsel(m, {f})\n\
         for u in uids(m, 'HEADER', 'X-Asterisk-VM-Extension', '1234', 'HEADER', 'X-Asterisk-VM-Context', 'default'):\n\
         \x20   print(u, flags(m, u))\n",
        f = q(folder)
    ));
    out.lines()
        .map(|l| {
            let (uid, flags) = l.split_once(' ').unwrap();
            (uid.parse().unwrap(), flags.to_owned())
        })
        .collect()
}

/// The counts the mail client's view gives.
fn truth_counts(t: &[(u32, String)]) -> MwiCounts {
    let mut c = MwiCounts::default();
    for (_, flags) in t {
        let has = |f: &str| flags.contains(f);
        if has("\\Deleted") {
            continue;
        }
        if has("\\Seen") {
            c.old += 1;
            c.old_urgent += u32::from(has("\\Flagged"));
        } else if has("\\Flagged") {
            c.urgent += 1;
        } else {
            c.new += 1;
        }
    }
    c
}

/// Count and list (every state) agree with a full search by the mail client.
async fn agrees(mb: &Mailbox, folder: &str, step: &str) {
    let t = truth(folder);
    assert_eq!(mb.count().await.unwrap(), truth_counts(&t), "{step}: count");
    let listed: Vec<u32> = mb
        .list(None)
        .await
        .unwrap()
        .messages
        .iter()
        .map(|m| m.uid.get())
        .collect();
    let want: Vec<u32> = t
        .iter()
        .filter(|(_, f)| !f.contains("\\Deleted"))
        .map(|(u, _)| *u)
        .collect();
    assert_eq!(listed, want, "{step}: list");
    // And again on the warm connection, now answered from the cache.
    assert_eq!(
        mb.count().await.unwrap(),
        truth_counts(&t),
        "{step}: warm count"
    );
}

/// A script that appends `n` ordinary e-mails to the folder.
fn foreign_mail(folder: &str, n: u32, tag: &str) -> String {
    format!(
        "m = connect('vm1234')\n\
         for i in range({n}):\n\
         \x20   append(m, {f}, ('From: a@example.com\\r\\nSubject: mail {tag} %d\\r\\nMessage-ID: <{tag}-%d@example>\\r\\n\\r\\nhello\\r\\n' % (i, i)).encode())\n",
        f = q(folder)
    )
}

#[tokio::test]
async fn counts_and_listings_from_the_cache_equal_a_full_search_whatever_the_client_does() {
    let (store, folder) = private_store("uid-cache");
    scenario(store, folder).await;
}

/// The same on the old personality (no ESEARCH: one search and a flags fetch per count; a
/// listing learns nothing of its own but uses what the counts learnt).
#[tokio::test]
async fn without_esearch_too() {
    let s = server();
    let folder = unique("uid-cache-old");
    let store = store_for(
        "uid-cache-old",
        &s.old_host,
        s.old_port,
        &format!("imapfolder={folder}\ngreetingsfolder={folder}-greetings"),
        &format!(
            "[default]\n1234 => 1234,Alice Mailbox,,,imapuser=vm1234|imappassword={}\n",
            pw("vm1234")
        ),
    );
    scenario(store, folder).await;
}

async fn scenario(store: Store, folder: String) {
    let mb = store.mailbox("1234@default").unwrap();
    let a = mb.deposit(&crate::voicemail("5559001", 300)).await.unwrap();
    py(&foreign_mail(&folder, 20, "first"));
    let b = mb.deposit(&crate::voicemail("5559002", 300)).await.unwrap();
    agrees(&mb, &folder, "two voicemails among twenty e-mails").await;

    py(&foreign_mail(&folder, 15, "more"));
    agrees(&mb, &folder, "e-mails added").await;

    // A voicemail appended by another client, as Asterisk writes it (the corpus message).
    py(&format!(
        "m = connect('vm1234')\nappend(m, {f}, open({c}, 'rb').read())\n",
        f = q(&folder),
        c = q(&fixture("01-basic.eml"))
    ));
    py(&foreign_mail(&folder, 5, "after"));
    let before = truth(&folder);
    assert_eq!(before.len(), 3, "{before:?}");
    agrees(&mb, &folder, "a voicemail appended by another client").await;

    // Expunged, heard and flagged, deleted without expunge by the mail client.
    py(&format!(
        "m = connect('vm1234')\nsel(m, {f})\n\
         check(m.uid('STORE', '{a}', '+FLAGS', '(\\\\Deleted)'), 'delete')\ncheck(m.expunge(), 'expunge')\n\
         check(m.uid('STORE', '{b}', '+FLAGS', '(\\\\Seen \\\\Flagged)'), 'read and flag')\n",
        f = q(&folder),
        a = a.uid,
        b = b.uid
    ));
    agrees(&mb, &folder, "one expunged, one heard and flagged").await;
    let third = truth(&folder).last().unwrap().0;
    py(&format!(
        "m = connect('vm1234')\nsel(m, {f})\n\
         check(m.uid('STORE', '{third}', '+FLAGS', '(\\\\Deleted)'), 'delete')\n",
        f = q(&folder)
    ));
    agrees(&mb, &folder, "one deleted, not expunged").await;
    py(&format!(
        "m = connect('vm1234')\nsel(m, {f})\n\
         check(m.uid('STORE', '{third}', '-FLAGS', '(\\\\Deleted)'), 'undelete')\n",
        f = q(&folder)
    ));
    agrees(&mb, &folder, "undeleted").await;

    // The folder deleted and re-created: a new UIDVALIDITY, UIDs from 1 again, and a
    // voicemail at a UID the old folder's cache knew as something else.
    let old_validity = mb.list(None).await.unwrap().uid_validity;
    recreate_with_voicemail(&folder, "recreated", "(\\\\Seen)");
    let t = truth(&folder);
    assert_eq!(t.len(), 1, "{t:?}");
    agrees(&mb, &folder, "folder re-created").await;
    let listing = mb.list(None).await.unwrap();
    assert_ne!(listing.uid_validity, old_validity);
    assert_eq!(listing.messages.len(), 1);
    store.close().await;
}

/// The mail client deletes `folder` and creates it again (a new UIDVALIDITY, UIDs from 1),
/// appends three e-mails and then the corpus voicemail with `flags` (at UID 4).
fn recreate_with_voicemail(folder: &str, tag: &str, flags: &str) {
    py(&format!(
        "m = connect('vm1234')\ncheck(m.delete('\"{folder}\"'), 'delete folder')\n\
         check(m.create('\"{folder}\"'), 'create folder')\n"
    ));
    py(&foreign_mail(folder, 3, tag));
    py(&format!(
        "m = connect('vm1234')\nappend(m, {f}, open({c}, 'rb').read(), '{flags}')\n",
        f = q(folder),
        c = q(&fixture("01-basic.eml"))
    ));
}

/// Deposits one voicemail from each of `callers` through `mb`, each followed by ten e-mails
/// the mail client appends; their UIDs.
async fn deposit_among_mail(mb: &Mailbox, folder: &str, callers: &[&str]) -> Vec<imapvm::Uid> {
    let mut uids = Vec::new();
    for caller in callers {
        uids.push(
            mb.deposit(&crate::voicemail(caller, 200))
                .await
                .unwrap()
                .uid,
        );
        py(&foreign_mail(folder, 10, caller));
    }
    uids
}

/// What the client sent through a [`WireTap`] proxy.
#[derive(Clone, Default)]
pub(crate) struct Sent(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Sent {
    pub(crate) fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    /// What the client sent since `from` bytes.
    pub(crate) fn since(&self, from: usize) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()[from..]).into_owned()
    }

    /// Fails `step` unless a command sent since `from` bytes asks only what changed.
    fn assert_changedsince_from(&self, from: usize, step: &str) {
        let sent = String::from_utf8_lossy(&self.0.lock().unwrap()[from..]).into_owned();
        assert!(
            sent.lines().any(|l| l.contains("CHANGEDSINCE")),
            "{step}: CHANGEDSINCE not used: {sent}"
        );
    }
}

/// A proxy tap that keeps what the client sends.
struct WireTap(Sent);

impl imapvm_testkit::proxy::Tap for WireTap {
    fn chunk(
        &mut self,
        dir: imapvm_testkit::proxy::Dir,
        bytes: &[u8],
    ) -> imapvm_testkit::proxy::Pass {
        if dir == imapvm_testkit::proxy::Dir::Up {
            self.0.0.lock().unwrap().extend_from_slice(bytes);
        }
        imapvm_testkit::proxy::Pass::forward(bytes)
    }
}

/// A proxy in front of the private Dovecot (clear text) that keeps what the client sends.
pub(crate) async fn tapped() -> (Sent, imapvm_testkit::proxy::Proxy) {
    let s = server();
    let sent = Sent::default();
    let tap = sent.clone();
    let proxy = imapvm_testkit::proxy::Proxy::to(&s.host, s.port)
        .tap(move || WireTap(tap.clone()))
        .await
        .unwrap();
    (sent, proxy)
}

/// A store for box 1234@default with voicemail in `folder`, in clear text on loopback
/// through `port`.
pub(crate) fn plain_store(name: &str, port: u16, folder: &str) -> Store {
    let s = server();
    store_for(
        name,
        &s.host,
        port,
        &format!("imapflags=notls\nimapfolder={folder}\ngreetingsfolder={folder}-greetings"),
        &format!(
            "[default]\n1234 => 1234,Alice Mailbox,,,imapuser=vm1234|imappassword={}\n",
            pw("vm1234")
        ),
    )
}

/// Issue 22, item 3: a warm store's count asks the known voicemail only what changed since
/// (`UID FETCH … (CHANGEDSINCE m)`, `imapvm_policy::known_flags`), and whatever the mail
/// client does between two counts (reads one, flags one urgent, deletes and expunges one,
/// appends a new one) the warm count equals a fresh store's and a full search's.
#[tokio::test]
async fn a_warm_count_from_what_changed_since_equals_a_fresh_count() {
    let s = server();
    let folder = unique("modseq");
    let (sent, proxy) = tapped().await;
    let store = plain_store("modseq", proxy.port(), &folder);
    let mb = store.mailbox("1234@default").unwrap();
    let uids = deposit_among_mail(&mb, &folder, &["5558001", "5558002", "5558003"]).await;
    // What a fresh store counts.
    let fresh = || async {
        let store = plain_store("modseq-fresh", s.port, &folder);
        let counted = store
            .mailbox("1234@default")
            .unwrap()
            .count()
            .await
            .unwrap();
        store.close().await;
        counted
    };
    let warm = |step: &'static str, changedsince: bool| {
        let mb = &mb;
        let sent = &sent;
        let folder = &folder;
        async move {
            let from = sent.len();
            let counted = mb.count().await.unwrap();
            assert_eq!(counted, fresh().await, "{step}: a fresh store's count");
            assert_eq!(
                counted,
                truth_counts(&truth(folder)),
                "{step}: a full search"
            );
            if changedsince {
                sent.assert_changedsince_from(from, step);
            }
            counted
        }
    };
    warm("after the deposits", false).await;
    let c = warm("warm", true).await;
    assert_eq!(c.new, 3);
    let script = |what: &str| {
        py(&format!(
            "m = connect('vm1234')\nsel(m, {f})\n{what}\n",
            f = q(&folder)
        ))
    };
    script(&format!(
        "check(m.uid('STORE', '{}', '+FLAGS', '(\\\\Seen)'), 'read')",
        uids[0]
    ));
    let c = warm("one read", true).await;
    assert_eq!((c.new, c.old), (2, 1));
    script(&format!(
        "check(m.uid('STORE', '{}', '+FLAGS', '(\\\\Flagged)'), 'urgent')",
        uids[1]
    ));
    let c = warm("one flagged urgent", true).await;
    assert_eq!((c.new, c.urgent, c.old), (1, 1, 1));
    script(&format!(
        "check(m.uid('STORE', '{}', '+FLAGS', '(\\\\Deleted)'), 'delete')\ncheck(m.expunge(), 'expunge')",
        uids[2]
    ));
    // The expunge reaches the warm session with the UID (the count fetched it) or without
    // (then the plain fetch): either way the count is exact.
    let c = warm("one deleted and expunged", false).await;
    assert_eq!((c.new, c.urgent, c.old), (0, 1, 1));
    warm("after the expunge", true).await;
    py(&format!(
        "m = connect('vm1234')\nappend(m, {f}, open({c}, 'rb').read())\n",
        f = q(&folder),
        c = q(&fixture("01-basic.eml"))
    ));
    let c = warm("a voicemail appended by another client", true).await;
    assert_eq!((c.new, c.urgent, c.old), (1, 1, 1));
    warm("again", true).await;
    store.close().await;
}

/// Issue 22, item 3, for cold commands: with a `cache_dir`, a new store (a new `imapvm
/// count` or `list` process) starts from the voicemail UIDs the last one wrote at close and
/// searches only those and the mail above them, not the whole folder; whatever the mail
/// client did in between (an expunge, a flag, a voicemail and e-mails appended, the folder
/// deleted and re-created under a new UIDVALIDITY with a voicemail at a UID the old file
/// knew as an e-mail), its count and listing equal a full search and a store without one.
#[tokio::test]
async fn a_new_store_starts_from_the_uids_the_last_one_kept() {
    let s = server();
    let folder = unique("uid-file");
    let cache = imapvm_harness::scratch_dir("imapvm-it-uid-file", "cache").join("cache");
    let (sent, proxy) = tapped().await;
    let cold = || {
        let store = plain_store("uid-file", proxy.port(), &folder);
        store.set_cache_dir(Some(cache.clone()));
        store
    };
    // A store without the file, straight to the server: what a cold command finds today.
    let uncached = || async {
        let store = plain_store("uid-file-none", s.port, &folder);
        let mb = store.mailbox("1234@default").unwrap();
        let found = (mb.count().await.unwrap(), uids_listed(&mb).await);
        store.close().await;
        found
    };
    // `sizes`: every voicemail's size is in the file (none arrived since it was written).
    let check = |step: &'static str, restricted: bool, sizes: bool| {
        let sent = &sent;
        let folder = &folder;
        async move {
            let from = sent.len();
            let store = cold();
            let mb = store.mailbox("1234@default").unwrap();
            let found = (mb.count().await.unwrap(), uids_listed(&mb).await);
            store.close().await;
            let t = truth(folder);
            let present: Vec<u32> = t
                .iter()
                .filter(|(_, f)| !f.contains("\\Deleted"))
                .map(|(u, _)| *u)
                .collect();
            let listed: Vec<u32> = found.1.iter().map(|(u, _)| *u).collect();
            assert_eq!(
                (found.0, listed),
                (truth_counts(&t), present),
                "{step}: a full search"
            );
            assert_eq!(found, uncached().await, "{step}: a store without the file");
            let bytes = sent.0.lock().unwrap()[from..].to_vec();
            let text = String::from_utf8_lossy(&bytes);
            let searches: Vec<&str> = text.lines().filter(|l| l.contains("SEARCH")).collect();
            assert!(!searches.is_empty(), "{step}: {text}");
            // Restricted: each search names UIDs (the remembered ones and those above them,
            // or only those above when the remembered ones are fetched by UID).
            let names_uids = |l: &&str| {
                l.split("SEARCH")
                    .nth(1)
                    .is_some_and(|k| k.contains(" UID "))
            };
            assert_eq!(
                searches.iter().all(names_uids),
                restricted,
                "{step}: {searches:#?}"
            );
            // From the file, the known voicemail's sizes too: the listing asks them none
            // (a voicemail that arrived since the file was written has no size in it).
            let sized: Vec<&str> = text
                .lines()
                .filter(|l| l.contains("UID FETCH") && !l.contains("FETCH $"))
                .filter(|l| l.contains("RFC822.SIZE"))
                .collect();
            assert_eq!(sized.is_empty(), sizes, "{step}: {sized:#?}");
            found
        }
    };
    // Deposited by a store that keeps no file.
    let mb = plain_store("uid-file-deposit", s.port, &folder)
        .mailbox("1234@default")
        .unwrap();
    let first = mb.deposit(&crate::voicemail("5557001", 200)).await.unwrap();
    py(&foreign_mail(&folder, 10, "a"));
    let second = mb.deposit(&crate::voicemail("5557002", 200)).await.unwrap();
    py(&foreign_mail(&folder, 10, "b"));
    mb.store().close().await;

    check("no file yet", false, false).await;
    let files: Vec<_> = std::fs::read_dir(&cache).unwrap().collect();
    assert_eq!(files.len(), 1, "one file for the account: {files:?}");
    let (counts, _) = check("from the file", true, true).await;
    assert_eq!(counts.new, 2);

    // A voicemail appended since, listed first by a new store: the new mail is fetched
    // without its size (the known ones' are in the file), then asked it alone.
    py(&format!(
        "m = connect('vm1234')\nappend(m, {f}, open({c}, 'rb').read())\n",
        f = q(&folder),
        c = q(&fixture("04-urgent.eml"))
    ));
    let from = sent.len();
    let store = cold();
    let listed = uids_listed(&store.mailbox("1234@default").unwrap()).await;
    store.close().await;
    let text = String::from_utf8_lossy(&sent.0.lock().unwrap()[from..]).into_owned();
    let store = plain_store("uid-file-list", s.port, &folder);
    assert_eq!(
        listed,
        uids_listed(&store.mailbox("1234@default").unwrap()).await
    );
    store.close().await;
    assert_eq!(listed.len(), 3);
    let asked: Vec<&str> = text.lines().filter(|l| l.contains("RFC822.SIZE")).collect();
    assert_eq!(asked.len(), 1, "{text}");
    assert!(
        asked[0].ends_with(&format!("UID FETCH {} (UID RFC822.SIZE)", listed[2].0)),
        "{text}"
    );

    py(&format!(
        "m = connect('vm1234')\nsel(m, {f})\n\
         check(m.uid('STORE', '{a}', '+FLAGS', '(\\\\Deleted)'), 'delete')\ncheck(m.expunge(), 'expunge')\n\
         check(m.uid('STORE', '{b}', '+FLAGS', '(\\\\Seen)'), 'read')\n\
         append(m, {f}, open({c}, 'rb').read())\n",
        f = q(&folder),
        a = first.uid,
        b = second.uid,
        c = q(&fixture("01-basic.eml"))
    ));
    py(&foreign_mail(&folder, 5, "c"));
    let (counts, listed) = check("one expunged, one read, one appended", true, false).await;
    assert_eq!((counts.new, counts.old, listed.len()), (2, 1, 3));

    // A new folder under the old name: UIDs from 1 again, the voicemail at UID 4, which the
    // file knew as an e-mail. The file's UIDVALIDITY is not the folder's: a full search.
    recreate_with_voicemail(&folder, "d", "()");
    let (counts, listed) = check("folder re-created", false, false).await;
    assert_eq!((counts.new, listed.len(), listed[0].0), (1, 1, 4));
    check("from the new folder's file", true, true).await;
}

/// The UIDs `mb` lists, in order, with their sizes.
async fn uids_listed(mb: &Mailbox) -> Vec<(u32, u32)> {
    let listing = mb.list(None).await.unwrap();
    listing
        .messages
        .iter()
        .map(|m| (m.uid.get(), m.size))
        .collect()
}

/// Issue 22: a warm store's listing asks the known voicemail only which flags changed since
/// (`UID FETCH … (CHANGEDSINCE m)`) and takes the rest of each row from memory
/// (`imapvm_policy::listed_rows`); whatever the mail client does between two listings (reads
/// one, flags one urgent, marks one unread again, deletes one without and one with expunge,
/// appends a new one) the warm listing equals a fresh store's, with and without the
/// `\Deleted` messages, and a full search's.
#[tokio::test]
async fn a_warm_listing_from_what_changed_since_equals_a_fresh_listing() {
    let s = server();
    let folder = unique("modseq-list");
    let (sent, proxy) = tapped().await;
    let store = plain_store("modseq-list", proxy.port(), &folder);
    let mb = store.mailbox("1234@default").unwrap();
    let uids = deposit_among_mail(&mb, &folder, &["5557001", "5557002", "5557003"]).await;
    // What a fresh store lists: every state, and with the `\Deleted` messages.
    let fresh = || async {
        let store = plain_store("modseq-list-fresh", s.port, &folder);
        let mb = store.mailbox("1234@default").unwrap();
        let listed = mb.list(None).await.unwrap().messages;
        let with_deleted = mb.list_with_deleted(None).await.unwrap().messages;
        store.close().await;
        (listed, with_deleted)
    };
    let warm = |step: &'static str, changedsince: bool| {
        let mb = &mb;
        let sent = &sent;
        let folder = &folder;
        async move {
            let from = sent.len();
            let listed = mb.list(None).await.unwrap().messages;
            let with_deleted = mb.list_with_deleted(None).await.unwrap().messages;
            let (want, want_deleted) = fresh().await;
            assert_eq!(listed, want, "{step}: a fresh store's listing");
            assert_eq!(with_deleted, want_deleted, "{step}: with the deleted");
            let truth: Vec<u32> = truth(folder)
                .into_iter()
                .filter(|(_, f)| !f.contains("\\Deleted"))
                .map(|(u, _)| u)
                .collect();
            let uids: Vec<u32> = listed.iter().map(|m| m.uid.get()).collect();
            assert_eq!(uids, truth, "{step}: a full search");
            if changedsince {
                sent.assert_changedsince_from(from, step);
            }
            listed
        }
    };
    warm("after the deposits", false).await;
    let l = warm("warm", true).await;
    assert_eq!(l.len(), 3);
    let script = |what: &str| {
        py(&format!(
            "m = connect('vm1234')\nsel(m, {f})\n{what}\n",
            f = q(&folder)
        ))
    };
    let store_flags = |uid: imapvm::Uid, change: &str, flags: &str| {
        script(&format!(
            "check(m.uid('STORE', '{uid}', '{change}', '({flags})'), 'store')"
        ))
    };
    store_flags(uids[0], "+FLAGS", "\\\\Seen");
    let l = warm("one read", true).await;
    assert!(l[0].state == Some(imapvm::MessageState::Old), "{l:?}");
    store_flags(uids[1], "+FLAGS", "\\\\Flagged");
    let l = warm("one flagged urgent", true).await;
    assert!(l[1].flagged, "{l:?}");
    store_flags(uids[0], "-FLAGS", "\\\\Seen");
    store_flags(uids[1], "-FLAGS", "\\\\Flagged");
    let l = warm("both cleared", true).await;
    assert!(
        l.iter().all(|m| m.state == Some(imapvm::MessageState::New)),
        "{l:?}"
    );
    store_flags(uids[2], "+FLAGS", "\\\\Deleted");
    let l = warm("one deleted, not expunged", true).await;
    assert_eq!(l.len(), 2);
    store_flags(uids[2], "-FLAGS", "\\\\Deleted");
    let l = warm("undeleted", true).await;
    assert_eq!(l.len(), 3);
    script(&format!(
        "check(m.uid('STORE', '{}', '+FLAGS', '(\\\\Deleted)'), 'delete')\ncheck(m.expunge(), 'expunge')",
        uids[1]
    ));
    // The expunge reaches the warm session with the UID (the listing fetched it) or without
    // (then the plain fetch): either way the listing is exact.
    let l = warm("one deleted and expunged", false).await;
    assert_eq!(l.len(), 2);
    warm("after the expunge", true).await;
    py(&format!(
        "m = connect('vm1234')\nappend(m, {f}, open({c}, 'rb').read())\n",
        f = q(&folder),
        c = q(&fixture("01-basic.eml"))
    ));
    py(&foreign_mail(&folder, 5, "after"));
    let l = warm("a voicemail appended by another client", true).await;
    assert_eq!(l.len(), 3);
    warm("again", true).await;
    store.close().await;
}
