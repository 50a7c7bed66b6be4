//! The building blocks that crates above the runtime compose operations of their own from
//! (`imapvm-deliver`: one voicemail for several boxes, and forwarding): an account's pooled
//! connection held across several boxes ([`Lease`]), the change announcement
//! ([`Store::announce`]), a built message ([`Composed`]), and the steps of an operation on a
//! [`Session`] that the runtime's own operations use.
//!
//! The deposit declares the [`Journal`] it reports to; `imapvm-outbox` implements it (its
//! write-ahead spool) and runs [`Mailbox::deposit_in`] with it, builds a message offline
//! with [`Mailbox::compose`], and finds an earlier APPEND by [`MSG_ID_HEADER`].
//!
//! An operation on one box runs through [`Mailbox::with_account`]; a [`Lease`] is for a
//! composition that serves several boxes of one account on one connection and reports per
//! box (so it decides itself what to retry and what to announce).

use imapvm_message::ParsedVoicemail;
use imapvm_policy::{Folder, MwiCounts, Uid};
use tokio::sync::OwnedMutexGuard;

pub use crate::error::reasons_text;
pub use crate::ops::{Composed, fetch_result, quota_roots, random_u32, search_result};
pub use crate::ops::{Journal, MSG_ID_HEADER};

use crate::account::Account;
use crate::error::Result;
use crate::ops::Ownership;
use crate::pool::{Folders, Listed, Slot};
use crate::session::Session;
use crate::store::{Mailbox, MessageRef, Store};

/// An account's pooled connection, held (locked) until dropped: the same connection
/// [`Mailbox::with_account`] runs on, with its folder memory and its login back-off.
#[derive(Debug)]
pub struct Lease {
    slot: OwnedMutexGuard<Slot>,
    account: Account,
    store: Store,
}

impl Store {
    /// Holds `account`'s pooled connection (waiting while another operation holds it).
    pub async fn lease(&self, account: &Account) -> Lease {
        let mut slot = self.inner.pool.slot(&account.key()).lock_owned().await;
        self.recall_uids(&account.key(), &mut slot);
        Lease {
            slot,
            account: account.clone(),
            store: self.clone(),
        }
    }

    /// Announces on the change feed that `mailbox` was touched ([`Store::changes`]).
    pub fn announce(&self, mailbox: &Mailbox) {
        self.inner
            .feed
            .touched(&mailbox.account().key(), mailbox.mailbox_id());
    }
}

impl Lease {
    /// The logged-in session (opened, after the back-off, when there is no live one) and
    /// the account's folder memory.
    pub async fn session(&mut self) -> Result<(&mut Session, &mut Folders)> {
        let slot = &mut *self.slot;
        let session = slot.conn.session(&self.account, self.store.clock()).await?;
        Ok((session, &mut slot.folders))
    }

    /// Whether a live session is held.
    pub fn is_live(&self) -> bool {
        self.slot.conn.has_live_session()
    }

    /// After a run on the session: applies the expunges the server reported to the folder
    /// memory, and drops the session when the run `lost` it (the next
    /// [`Lease::session`] opens a fresh one).
    pub fn settle(&mut self, lost: bool) {
        let slot = &mut *self.slot;
        slot.conn.absorb_gone(&mut slot.folders);
        if lost {
            slot.conn.drop_session();
        }
    }
}

impl Mailbox {
    /// This box's counts (new, urgent, old) in its `imapfolder`, on a session the caller
    /// holds.
    pub async fn count_on(&self, s: &mut Session, f: &mut Folders) -> Result<MwiCounts> {
        self.count_in(s, f).await
    }

    /// The UID that `target` (numbered in `scope` as the listing numbers it) names now,
    /// checked to be this box's, on a session the caller holds.
    pub async fn resolve_own(
        &self,
        s: &mut Session,
        f: &mut Folders,
        target: MessageRef,
        scope: Option<Folder>,
    ) -> Result<Uid> {
        self.resolve(s, f, target, scope, Listed::Present, Ownership::Check)
            .await
    }

    /// Parses a fetched message (`uid`) that must be one of this box's voicemails with
    /// audio ([`Error::Vanished`](crate::Error::Vanished) for another box's,
    /// [`Error::NoAudio`](crate::Error::NoAudio) without audio).
    pub fn parse_own(&self, uid: Uid, bytes: &[u8]) -> Result<ParsedVoicemail> {
        self.parse_own_voicemail(uid, bytes)
    }
}
