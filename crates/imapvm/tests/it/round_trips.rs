//! Round trips of listings and deposits on a warm connection (issue #10): a warm listing is
//! one round trip and lists exactly what a cold (search, then fetch) listing lists, whatever
//! an independent client changed in between; its fetch does not grow with ordinary mail.

use imapvm::{Folder, Listing, Mailbox, Store, Urgency};

use crate::{pw, py, q, store_with, unique, voicemail};

/// Every scope of `imapfolder` a listing can have.
const SCOPES: [(Option<Folder>, bool); 5] = [
    (None, false),
    (Some(Folder::Inbox), false),
    (Some(Folder::Old), false),
    (Some(Folder::Urgent), false),
    (None, true),
];

async fn round_trips(mb: &Mailbox) -> u64 {
    mb.connection_stats()
        .await
        .expect("a connection")
        .round_trips
}

async fn bytes_in(mb: &Mailbox) -> u64 {
    mb.connection_stats().await.expect("a connection").bytes_in
}

/// Boxes 1234@default, 12345@default (its extension contains `1234`: a server-side header
/// search for box 1234 finds its mail too) and 1234@default2 (context `default2` contains
/// `default`), all in `folder` of vm1234, greetings in the same folder.
fn mixed_store(name: &str, folder: &str) -> Store {
    let p = pw("vm1234");
    store_with(
        name,
        &format!("imapfolder={folder}\ngreetingsfolder={folder}"),
        &format!(
            "[default]\n1234 => 1234,Alice,,,imapuser=vm1234|imappassword={p}\n\
             12345 => 12345,Eve,,,imapuser=vm1234|imappassword={p}\n\
             [default2]\n1234 => 1234,Mallory,,,imapuser=vm1234|imappassword={p}\n"
        ),
    )
}

/// What a cold store (a new connection, nothing known: search, then fetch the hits) lists.
async fn cold_listing(name: &str, folder: &str, scope: Option<Folder>, deleted: bool) -> Listing {
    let store = mixed_store(name, folder);
    let listing = store
        .mailbox("1234@default")
        .unwrap()
        .list_or_with_deleted(scope, deleted)
        .await
        .unwrap();
    store.close().await;
    listing
}

/// `list` or `list_with_deleted`, as the scope table says.
trait ListEither {
    async fn list_or_with_deleted(
        &self,
        scope: Option<Folder>,
        deleted: bool,
    ) -> imapvm::Result<Listing>;
}

impl ListEither for Mailbox {
    async fn list_or_with_deleted(
        &self,
        scope: Option<Folder>,
        deleted: bool,
    ) -> imapvm::Result<Listing> {
        if deleted {
            self.list_with_deleted(scope).await
        } else {
            self.list(scope).await
        }
    }
}

/// Lists every scope warm and cold and checks they are equal; returns the warm listings'
/// round trips, by scope.
async fn warm_equals_cold(mb: &Mailbox, folder: &str, step: &str) -> Vec<u64> {
    let mut trips = Vec::new();
    for (scope, deleted) in SCOPES {
        let before = round_trips(mb).await;
        let warm = mb.list_or_with_deleted(scope, deleted).await.unwrap();
        trips.push(round_trips(mb).await - before);
        let cold = cold_listing("rt-cold", folder, scope, deleted).await;
        assert_eq!(
            warm, cold,
            "{step}: the warm listing of {scope:?} (deleted: {deleted}) differs from a cold one"
        );
    }
    trips
}

/// One line of Python: a plain e-mail appended to `folder` by the user's mail client.
fn ordinary_mail(folder: &str, subject: &str) -> String {
    format!(
        "append(m, {f}, b'From: a@example.test\\r\\nTo: vm1234@example.test\\r\\n\
         Subject: {subject}\\r\\nX-Asterisk-VM-Extension-Note: 1234 default\\r\\n\\r\\nhello 1234 default\\r\\n')",
        f = q(folder)
    )
}

#[tokio::test]
async fn a_warm_listing_equals_a_cold_one_after_any_change_by_another_client() {
    let folder = unique("rt-list");
    let store = mixed_store("rt-list", &folder);
    let mb = store.mailbox("1234@default").unwrap();
    let eve = store.mailbox("12345@default").unwrap();
    let mallory = store.mailbox("1234@default2").unwrap();
    let mut mine = Vec::new();
    for i in 0..5 {
        let mut vm = voicemail(&format!("555700{i}"), 200);
        if i == 3 {
            vm.urgency = Urgency::Urgent;
        }
        mine.push(mb.deposit(&vm).await.unwrap().uid);
    }
    eve.deposit(&voicemail("5557100", 200)).await.unwrap();
    mallory.deposit(&voicemail("5557200", 200)).await.unwrap();
    let tone = imapvm::Audio {
        format: "wav".into(),
        bytes: crate::wav(300, 440.0),
    };
    mb.greeting_set("unavail", &tone, 1).await.unwrap();
    py(&format!(
        "m = connect('vm1234')\nsel(m, {f})\n{mail}\n",
        f = q(&folder),
        mail = ordinary_mail(&folder, "before")
    ));

    // The first listings learn the folder; from then on, nothing changed: one round trip.
    warm_equals_cold(&mb, &folder, "start").await;
    let trips = warm_equals_cold(&mb, &folder, "unchanged").await;
    assert!(
        trips.iter().all(|t| *t == 1),
        "warm listings of an unchanged folder took {trips:?} round trips (budget 1 each)"
    );

    // Another client: a new voicemail of this box (a copy), foreign mail, an ordinary
    // e-mail, one of ours expunged, flags changed (seen, unseen, urgent, deleted).
    py(&format!(
        r#"
m = connect('vm1234')
sel(m, {f})
data = check(m.uid('FETCH', '{first}', '(BODY.PEEK[])'), 'fetch')
raw = [d for d in data if isinstance(d, tuple)][0][1]
append(m, {f}, raw, '(\\Seen)')
append(m, {f}, raw.replace(b'X-Asterisk-VM-Extension: 1234', b'X-Asterisk-VM-Extension: 123456'))
append(m, {f}, raw.replace(b'X-Asterisk-VM-Context: default', b'X-Asterisk-VM-Context: default3'))
{mail}
check(m.uid('STORE', '{gone}', '+FLAGS', '(\\Deleted)'), 'delete')
check(m.uid('EXPUNGE', '{gone}'), 'expunge')
check(m.uid('STORE', '{seen}', '+FLAGS', '(\\Seen)'), 'seen')
check(m.uid('STORE', '{urgent}', '+FLAGS', '(\\Flagged)'), 'urgent')
check(m.uid('STORE', '{deleted}', '+FLAGS', '(\\Deleted)'), 'deleted')
"#,
        f = q(&folder),
        first = mine[0],
        mail = ordinary_mail(&folder, "after"),
        gone = mine[1],
        seen = mine[2],
        urgent = mine[4],
        deleted = mine[0],
    ));
    let trips = warm_equals_cold(&mb, &folder, "changed").await;
    assert!(
        trips.iter().all(|t| *t <= 2),
        "warm listings after changes took {trips:?} round trips (budget 2 each)"
    );
    py(&format!(
        "m = connect('vm1234')\nsel(m, {f})\n\
         check(m.uid('STORE', '{seen}', '-FLAGS', '(\\\\Seen)'), 'unseen')\n\
         check(m.uid('STORE', '{urgent}', '+FLAGS', '(\\\\Seen)'), 'old')\n",
        f = q(&folder),
        seen = mine[2],
        urgent = mine[3],
    ));
    warm_equals_cold(&mb, &folder, "flags again").await;
    // And quiet again: one round trip.
    let trips = warm_equals_cold(&mb, &folder, "unchanged again").await;
    assert!(
        trips.iter().all(|t| *t == 1),
        "warm listings of an unchanged folder took {trips:?} round trips (budget 1 each)"
    );
    store.close().await;
}

#[tokio::test]
async fn ordinary_mail_is_fetched_at_most_once_and_mail_beyond_the_window_still_listed() {
    let folder = unique("rt-shared");
    let store = mixed_store("rt-shared", &folder);
    let mb = store.mailbox("1234@default").unwrap();
    for i in 0..3 {
        mb.deposit(&voicemail(&format!("555800{i}"), 200))
            .await
            .unwrap();
    }
    // Learn the folder, then measure a warm listing of three voicemails alone.
    mb.list(None).await.unwrap();
    let before = bytes_in(&mb).await;
    mb.list(None).await.unwrap();
    let alone = bytes_in(&mb).await - before;

    // 1,024 ordinary e-mails (one appended, then copied onto itself), then a voicemail of
    // this box above them: beyond the window of new UIDs the listing fetches with its search.
    py(&format!(
        "m = connect('vm1234')\nsel(m, {f})\n{mail}\n\
         first = uids(m, 'SUBJECT', 'bulk')[0]\n\
         for _ in range(10):\n    check(m.uid('COPY', '%d:*' % first, {f}), 'copy')\n",
        f = q(&folder),
        mail = ordinary_mail(&folder, "bulk"),
    ));
    let other = store_with(
        "rt-shared-other",
        &format!("imapfolder={folder}"),
        &format!(
            "[default]\n1234 => 1234,Alice,,,imapuser=vm1234|imappassword={}\n",
            pw("vm1234")
        ),
    );
    let late = other
        .mailbox("1234@default")
        .unwrap()
        .deposit(&voicemail("5558100", 200))
        .await
        .unwrap();
    other.close().await;

    let listing = mb.list(None).await.unwrap();
    assert_eq!(listing.messages.len(), 4);
    assert_eq!(
        listing.messages[3].uid, late.uid,
        "the voicemail above the window"
    );
    assert_eq!(
        listing,
        cold_listing("rt-shared-cold", &folder, None, false).await
    );
    // Then the window has moved above everything: ordinary mail is not fetched again.
    let mut costs = Vec::new();
    for _ in 0..2 {
        let (trips, bytes) = (round_trips(&mb).await, bytes_in(&mb).await);
        mb.list(None).await.unwrap();
        costs.push((round_trips(&mb).await - trips, bytes_in(&mb).await - bytes));
    }
    // Four voicemails instead of three, each row about the same size.
    let budget = alone * 2;
    for (trips, bytes) in costs {
        assert_eq!(trips, 1, "a warm listing takes one round trip");
        assert!(
            bytes <= budget,
            "a warm listing read {bytes} bytes (three voicemails alone: {alone})"
        );
    }
    store.close().await;
}

#[tokio::test]
async fn a_deposit_costs_two_round_trips_even_when_another_client_added_a_voicemail() {
    let folder = unique("rt-deposit");
    let store = mixed_store("rt-deposit", &folder);
    let mb = store.mailbox("1234@default").unwrap();
    for i in 0..3 {
        mb.deposit(&voicemail(&format!("555900{i}"), 200))
            .await
            .unwrap();
    }
    for round in 0..3u32 {
        let before = round_trips(&mb).await;
        let mut vm = voicemail("5559100", 1000);
        vm.urgency = Urgency::Urgent;
        let d = mb.deposit(&vm).await.unwrap();
        let took = round_trips(&mb).await - before;
        assert_eq!(
            (d.counts.new, d.counts.urgent),
            (3 + round, 1),
            "round {round}: the recount sees the deposit and the other client's voicemails"
        );
        assert_eq!(d.number.map(|n| n.get()), Some(4 + round), "round {round}");
        assert!(
            took <= 2,
            "round {round}: the deposit took {took} round trips (budget 2)"
        );
        // Another client (another PBX, say) deposits a voicemail of this box, and the
        // urgent one is removed again: the next deposit meets mail it has never seen.
        py(&format!(
            r#"
m = connect('vm1234')
sel(m, {f})
data = check(m.uid('FETCH', '{u}', '(BODY.PEEK[])'), 'fetch')
raw = [d for d in data if isinstance(d, tuple)][0][1]
append(m, {f}, raw)
check(m.uid('STORE', '{u}', '+FLAGS', '(\\Deleted)'), 'delete')
check(m.uid('EXPUNGE', '{u}'), 'expunge')
"#,
            f = q(&folder),
            u = d.uid
        ));
    }
    store.close().await;
}

#[tokio::test]
async fn a_deposit_at_maxmsg_after_another_client_expunged_one_is_admitted() {
    let folder = unique("rt-maxmsg");
    let p = pw("vm1234");
    let store = store_with(
        "rt-maxmsg",
        &format!("imapfolder={folder}\ngreetingsfolder={folder}-greetings\nmaxmsg=3"),
        &format!("[default]\n1234 => 1234,Alice,,,imapuser=vm1234|imappassword={p}\n"),
    );
    let mb = store.mailbox("1234@default").unwrap();
    let mut uids = Vec::new();
    for i in 0..3 {
        uids.push(
            mb.deposit(&voicemail(&format!("555800{i}"), 200))
                .await
                .unwrap()
                .uid,
        );
    }
    // Full: refused.
    let refused = mb.deposit(&voicemail("5558009", 200)).await;
    assert!(
        matches!(refused, Err(imapvm::Error::DepositRefused { .. })),
        "{refused:?}"
    );
    for round in 0..3 {
        // The mail client deletes one; the server tells our connection only when it next
        // syncs, possibly after it answered the admission count. The deposit must see the
        // room (and the mailbox must not go over maxmsg).
        py(&format!(
            "m = connect('vm1234')\nsel(m, {f})\n\
             check(m.uid('STORE', '{u}', '+FLAGS', '(\\\\Deleted)'), 'delete')\n\
             check(m.uid('EXPUNGE', '{u}'), 'expunge')\n",
            f = q(&folder),
            u = uids.remove(0)
        ));
        let d = mb
            .deposit(&voicemail(&format!("555801{round}"), 200))
            .await
            .unwrap_or_else(|e| panic!("round {round}: refused with room for one: {e}"));
        assert_eq!(d.counts.total(), 3, "round {round}");
        uids.push(d.uid);
        let refused = mb.deposit(&voicemail("5558019", 200)).await;
        assert!(
            matches!(refused, Err(imapvm::Error::DepositRefused { .. })),
            "round {round}: {refused:?}"
        );
    }
    store.close().await;
}
