//! The hostile IMAP server against the durable deposit: over quota, the three ways servers
//! say it, is a typed refusal kept in the outbox as refused; a BYE during the APPEND is
//! queued, never lost.

use std::time::Duration;

use imapvm_harness::hostile::{self, Nasty, plain_store};
use imapvm_outbox::{DepositOutcome, DurableDeposit, ItemState, OutboxStore};

use crate::voicemail;

/// A BYE while the APPEND is under way: the plain deposit fails, the durable one is queued
/// (the message is on disk; the flusher delivers it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bye_during_append_is_queued() {
    let server = hostile::start(Nasty::ByeDuringAppend).await;
    let store = plain_store("bye-durable", server.port());
    let mb = store.mailbox("1234@default").unwrap();
    let outcome = tokio::time::timeout(
        Duration::from_secs(15),
        mb.deposit_durable(&voicemail("5550002", 100)),
    )
    .await
    .expect("no hang");
    match outcome {
        Ok(DepositOutcome::Queued(q)) => {
            let listing = store.outbox().list().unwrap();
            assert_eq!(listing.items.len(), 1, "{listing:?}");
            assert_eq!(listing.items[0].id, q.item);
            assert_eq!(listing.items[0].state, ItemState::Pending);
        }
        other => panic!("not queued: {other:?}"),
    }
    store.close().await;
}

/// Over quota, the three ways servers say it: a typed "mailbox full" refusal, never a
/// success, and the recording kept in the outbox as refused (not retried by a flush).
#[tokio::test]
async fn over_quota_in_every_dialect_is_mailbox_full_and_kept_refused() {
    for nasty in [
        Nasty::OverQuotaBeforeContinuation,
        Nasty::CyrusOverQuota,
        Nasty::CourierOverQuota,
    ] {
        let server = hostile::start(nasty).await;
        let store = plain_store(&format!("{nasty:?}"), server.port());
        let mb = store.mailbox("1234@default").unwrap();
        let err = mb
            .deposit_durable(&voicemail("5550003", 100))
            .await
            .expect_err("over quota is never a success");
        match &err {
            imapvm::Error::DepositRefused { reasons, .. } => assert!(
                matches!(
                    reasons.as_slice(),
                    [imapvm::DepositRefusal::ServerOverQuota(_)]
                ),
                "{nasty:?}: {err}"
            ),
            other => panic!("{nasty:?}: {other}"),
        }
        let listing = store.outbox().list().unwrap();
        assert_eq!(listing.items.len(), 1, "{nasty:?}: {listing:?}");
        assert_eq!(listing.items[0].state, ItemState::Refused);
        let report = store.flush_outbox().await.unwrap();
        assert!(report.delivered.is_empty(), "{nasty:?}: {report:?}");
        assert_eq!(report.left_refused.len(), 1, "{nasty:?}: {report:?}");
        store.close().await;
    }
}
