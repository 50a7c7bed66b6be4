//! Fault injection between the runtime and the private Dovecot (a TCP proxy we control):
//! deletes and moves through cuts never expunge mail that is not ours and flagged (a move
//! leaves one copy of each of ours in Work); a server restart in the middle of listings;
//! timeouts that fire on time. (Deposits through cuts and the outbox while the server is down
//! are `imapvm-outbox`'s tests.)
//!
//! `IMAPVM_FAULT_SEED` chooses the cuts.

use std::time::{Duration, Instant};

use imapvm::{Error, MessageRef, Store};

use crate::support::Rng;
use crate::support::fault_proxy::{Action, Dir, Fault, FaultProxy};
use crate::support::hostile::{self, Nasty};
use crate::{py, q, server, store_for, voicemail};
use imapvm_harness::cuts::{env_u64, store_via};

/// What runs through the cuts: both end in an expunge in the voicemail folder.
#[derive(Debug, Clone, Copy)]
enum CutOp {
    /// `delete` (the policy's plan: `UID STORE \Deleted` + `UID EXPUNGE` here).
    Delete,
    /// `move_to(Work)` (the policy's plan: `UID MOVE` here).
    MoveToWork,
    /// `move_to(Work)` on the old personality (no MOVE, no UIDPLUS advertised): the plan is
    /// COPY + `\Deleted` + an EXPUNGE verified to touch only ours. A cut after the COPY can
    /// leave a second copy in Work (IMAP cannot make COPY + EXPUNGE atomic); foreign mail
    /// must still never be expunged.
    MoveToWorkWithoutMove,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletes_through_cuts_never_expunge_foreign_or_unflagged_mail() {
    ops_through_cuts(CutOp::Delete).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moves_through_cuts_never_expunge_foreign_mail_and_move_ours_once() {
    ops_through_cuts(CutOp::MoveToWork).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moves_without_move_through_cuts_never_expunge_foreign_mail() {
    ops_through_cuts(CutOp::MoveToWorkWithoutMove).await;
}

/// 12 of our voicemails beside 4 of the user's own messages (2 flagged `\Deleted` by their
/// client) in one folder; each of ours is deleted or moved with a 50 % chance of a cut at a
/// random byte in either direction, then the interrupted ones are finished without faults.
/// Only our messages may leave the folder; a move leaves exactly one copy of each in Work.
#[allow(
    clippy::print_stderr,
    reason = "the run's figures, shown with --nocapture"
)]
async fn ops_through_cuts(op: CutOp) {
    let s = server();
    let proxy = match op {
        CutOp::MoveToWorkWithoutMove => FaultProxy::start(&s.old_host, s.old_port).await,
        CutOp::Delete | CutOp::MoveToWork => FaultProxy::start(&s.host, s.port).await,
    };
    let name = match op {
        CutOp::Delete => "delcuts",
        CutOp::MoveToWork => "movecuts",
        CutOp::MoveToWorkWithoutMove => "oldmovecuts",
    };
    let (store, folder, _outbox) = store_via(name, proxy.port, "imapreadtimeout=5");
    let mb = store.mailbox("1234@default").unwrap();
    py(&format!(
        r#"
m = connect('vm1234')
m.create('"%s"' % {f})
for i in range(4):
    raw = ('From: friend@example.test\r\nSubject: foreign %d\r\nMessage-ID: <foreign-%d@x>\r\n\r\nhello\r\n' % (i, i)).encode()
    append(m, {f}, raw, '(\\Deleted)' if i < 2 else '')
"#,
        f = q(&folder)
    ));
    let mut ours = Vec::new();
    let mut msg_ids = Vec::new();
    for i in 0..12 {
        let d = mb
            .deposit(&voicemail(&format!("5556{i:03}"), 150))
            .await
            .unwrap();
        ours.push(d.uid);
        msg_ids.push(d.msg_id.clone());
    }
    let run = |uid: imapvm::Uid| {
        let mb = &mb;
        async move {
            match op {
                CutOp::Delete => mb.delete(&[MessageRef::Uid(uid)], None).await.map(drop),
                CutOp::MoveToWork | CutOp::MoveToWorkWithoutMove => mb
                    .move_to(MessageRef::Uid(uid), None, imapvm::Folder::Work)
                    .await
                    .map(drop),
            }
        }
    };
    let mut rng = Rng::new(env_u64("IMAPVM_FAULT_SEED", 0x1a9d_2026) ^ 0xde1);
    let (mut cuts, mut failed) = (0, 0);
    for uid in &ours {
        if rng.percent(50) {
            cuts += 1;
            let dir = if rng.below(2) == 0 {
                Dir::Up
            } else {
                Dir::Down
            };
            proxy.arm(Fault {
                dir,
                after: rng.below(400),
                action: Action::Close,
                when: None,
            });
        }
        if run(*uid).await.is_err() {
            failed += 1;
        }
        proxy.disarm();
    }
    // Finish what the cuts interrupted, without faults (a message already gone is an error).
    tokio::time::sleep(Duration::from_millis(600)).await;
    for uid in &ours {
        let _ = run(*uid).await;
    }
    let _ = mb.expunge(None).await;
    let ids = msg_ids
        .iter()
        .map(|id| format!("'{id}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let out = py(&format!(
        r#"
m = connect('vm1234')
sel(m, {f})
left = uids(m, 'ALL')
foreign_deleted = uids(m, 'DELETED', 'HEADER', 'Subject', 'foreign')
foreign = uids(m, 'HEADER', 'Subject', 'foreign')
ours_undeleted = [u for u in uids(m, 'UNDELETED') if u not in foreign]
copies = []
if {is_move}:
    sel(m, 'Work')
    for mid in [{ids}]:
        found = uids(m, 'HEADER', 'X-Asterisk-VM-Message-ID', mid)
        copies.append(len(found))
        for u in found:
            m.uid('STORE', str(u), '+FLAGS.SILENT', '(\\Deleted)')
            m.uid('EXPUNGE', str(u))
print(len(left), len(foreign), len(foreign_deleted), len(ours_undeleted), sorted(set(copies)))
m.select('INBOX')
m.delete({f})
"#,
        f = q(&folder),
        is_move = if matches!(op, CutOp::Delete) {
            "False"
        } else {
            "True"
        },
    ));
    eprintln!(
        "{op:?} run: 12 operations, cuts armed {cuts}, fired {}, failed {failed}; server: {out}",
        proxy.fired()
    );
    let out = out.trim();
    match op {
        CutOp::Delete => assert_eq!(
            out, "4 4 2 0 []",
            "only the 4 foreign messages remain (2 still \\Deleted)"
        ),
        CutOp::MoveToWork => assert_eq!(
            out, "4 4 2 0 [1]",
            "only the foreign messages remain; UID MOVE leaves exactly one copy of each of ours in Work"
        ),
        CutOp::MoveToWorkWithoutMove => {
            // The user's own \Deleted mail is in the folder, so the verified expunge defers:
            // ours stay behind flagged \Deleted (never expunged blindly), the foreign mail is
            // untouched, and every one of ours is in Work — at least once, since a cut between
            // COPY and STORE can make the retry copy again.
            let fields: Vec<&str> = out.splitn(5, ' ').collect();
            assert_eq!(
                fields[1..4],
                ["4", "2", "0"],
                "foreign mail intact, ours all flagged: {out}"
            );
            assert!(
                fields[4].starts_with('[') && !fields[4].contains('0') && fields[4] != "[]",
                "every voicemail has a copy in Work: {out}"
            );
            // Moving a message already copied and flagged does not copy it again
            // (regression: every retry used to add one more copy).
            assert!(
                fields[4] == "[1]" || fields[4] == "[1, 2]" || fields[4] == "[2]",
                "at most one extra copy, from a cut between COPY and STORE: {out}"
            );
        }
    }
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_in_the_middle_of_listings_is_survived() {
    let s = server();
    let proxy = FaultProxy::start(&s.host, s.port).await;
    let (store, folder, _) = store_via(
        "restart",
        proxy.port,
        "imapopentimeout=2\nimapreadtimeout=3",
    );
    let mb = store.mailbox("1234@default").unwrap();
    for i in 0..20 {
        mb.deposit(&voicemail(&format!("5559{i:03}"), 100))
            .await
            .unwrap();
    }
    // Slow the server down so that the restart lands inside a listing.
    proxy.set_delay(Duration::from_millis(20));
    let lister = {
        let mb = mb.clone();
        tokio::spawn(async move {
            let (mut ok, mut err) = (0u32, Vec::new());
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(4) {
                match mb.list(None).await {
                    Ok(l) => {
                        assert_eq!(l.messages.len(), 20);
                        ok += 1;
                    }
                    Err(e) => {
                        err.push(e.to_string());
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
            (ok, err)
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    proxy.set_refuse(true);
    proxy.kill_all();
    tokio::time::sleep(Duration::from_millis(800)).await;
    proxy.set_refuse(false);
    proxy.set_delay(Duration::ZERO);
    let (ok, errors) = lister.await.expect("no panic in the lister");
    eprintln!(
        "restart: {ok} listings completed, {} failed during the outage: {:?}",
        errors.len(),
        errors.first()
    );
    assert!(!errors.is_empty(), "the restart was not noticed");
    // After the back-off, the runtime reconnects by itself.
    let started = Instant::now();
    let listing = loop {
        match mb.list(None).await {
            Ok(l) => break l,
            Err(e) => {
                assert!(started.elapsed() < Duration::from_secs(30), "{e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    assert_eq!(listing.messages.len(), 20);
    store.close().await;
    py(&format!("m = connect('vm1234')\nm.delete({})", q(&folder)));
}

/// Whether the error says a deadline passed.
fn timed_out(err: &Error) -> bool {
    let text = err.to_string();
    text.contains("imapreadtimeout") || text.contains("timed out")
}

/// Runs `op` and returns how long it took to fail, with the error.
async fn time_failure<T: std::fmt::Debug>(
    op: impl std::future::Future<Output = Result<T, Error>>,
) -> (Duration, Error) {
    let started = Instant::now();
    let err = op.await.expect_err("must fail");
    (started.elapsed(), err)
}

fn hostile_store(name: &str, port: u16) -> Store {
    store_for(
        name,
        "127.0.0.1",
        port,
        "imapflags=notls\nimapopentimeout=2\nimapreadtimeout=2\nimapwritetimeout=2",
        "[default]\n1234 => 1234,Alice,,,imapuser=vm1234|imappassword=hostile-canary-pw\n",
    )
}

#[tokio::test]
async fn a_server_that_never_greets_fails_within_imapopentimeout() {
    let server = hostile::start(Nasty::NeverGreets).await;
    let store = hostile_store("nogreet", server.port());
    let mb = store.mailbox("1234@default").unwrap();
    let (took, err) = time_failure(mb.count()).await;
    eprintln!("timeout: never greets -> {took:?}: {err}");
    assert!(err.is_connection_lost(), "{err}");
    assert!(
        took >= Duration::from_millis(1800) && took < Duration::from_secs(4),
        "{took:?}"
    );
}

#[tokio::test]
async fn a_server_that_stops_mid_response_fails_within_imapreadtimeout() {
    let server = hostile::start(Nasty::StopsMidResponse).await;
    let store = hostile_store("midresp", server.port());
    let mb = store.mailbox("1234@default").unwrap();
    let (took, err) = time_failure(mb.count()).await;
    eprintln!("timeout: stops mid-response -> {took:?}: {err}");
    assert!(timed_out(&err), "{err}");
    assert!(
        took >= Duration::from_millis(1800) && took < Duration::from_secs(4),
        "{took:?}"
    );
}

#[tokio::test]
async fn a_server_that_never_sends_the_continuation_fails_within_imapreadtimeout() {
    let server = hostile::start(Nasty::NeverContinues).await;
    let store = hostile_store("noplus", server.port());
    let mb = store.mailbox("1234@default").unwrap();
    let (took, err) = time_failure(mb.deposit(&voicemail("5550000", 100))).await;
    eprintln!("timeout: never sends + -> {took:?}: {err}");
    assert!(timed_out(&err), "{err}");
    assert!(
        took >= Duration::from_millis(1800) && took < Duration::from_secs(4),
        "{took:?}"
    );
    assert!(server.seen.any("APPEND"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dovecot_stalled_mid_response_by_the_proxy_fails_within_imapreadtimeout() {
    let s = server();
    let proxy = FaultProxy::start(&s.host, s.port).await;
    let (store, _, _) = store_via("stall", proxy.port, "imapreadtimeout=2");
    let mb = store.mailbox("1234@default").unwrap();
    mb.count().await.unwrap();
    proxy.arm(Fault {
        dir: Dir::Down,
        after: 20,
        action: Action::Stall,
        when: None,
    });
    // The runtime retries a lost warm connection once: the "server" stays unreachable.
    proxy.set_refuse(true);
    let (took, err) = time_failure(mb.list(None)).await;
    eprintln!("timeout: Dovecot stalled by the proxy -> {took:?}: {err}");
    // The read deadline (2 s) ends the stalled attempt; the one retry finds no server.
    assert!(err.is_connection_lost(), "{err}");
    assert!(
        took >= Duration::from_millis(1800) && took < Duration::from_secs(6),
        "{took:?}"
    );
}
