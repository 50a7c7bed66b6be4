//! Flags: mark read / unread, urgent / not urgent, undelete.

use imapvm_policy::{Folder, Uid};
use imapvm_proto::{Flag, Outcome, StoreMode, UidRange};

use super::Ownership;
use crate::error::Result;
use crate::pool::Folders;
use crate::pool::Listed;
use crate::session::Session;
use crate::store::{FlagOp, Mailbox, MessageRef, Report, Retry};

impl Mailbox {
    // ------------------------------------------------------------------ flags

    /// mark-read, mark-unread, urgent, not-urgent.
    pub async fn set_flag(
        &self,
        target: MessageRef,
        scope: Option<Folder>,
        op: FlagOp,
    ) -> Result<Report> {
        self.with_account(Retry::IfWarm, |a| {
            Box::pin(self.set_flag_in(a.session, a.folders, target, scope, op))
        })
        .await
    }

    async fn set_flag_in(
        &self,
        s: &mut Session,
        f: &mut Folders,
        target: MessageRef,
        scope: Option<Folder>,
        op: FlagOp,
    ) -> Result<Report> {
        let uid = self
            .resolve(s, f, target, scope, Listed::Present, Ownership::Check)
            .await?;
        let (mode, flag) = match op {
            FlagOp::MarkRead => (StoreMode::Add, Flag::Seen),
            FlagOp::MarkUnread => (StoreMode::Remove, Flag::Seen),
            FlagOp::Urgent => (StoreMode::Add, Flag::Flagged),
            FlagOp::NotUrgent => (StoreMode::Remove, Flag::Flagged),
        };
        self.store_flags(s, uid, mode, flag).await
    }

    async fn store_flags(
        &self,
        s: &mut Session,
        uid: Uid,
        mode: StoreMode,
        flag: Flag,
    ) -> Result<Report> {
        let range = UidRange::from(uid);
        let out = s
            .exec("UID STORE", |c| c.uid_store(&range, mode, &[flag], false))
            .await?;
        let mut report = Report::default();
        match out {
            Outcome::Store(changed) if changed.iter().any(|(u, _)| *u == uid) => {
                report.done.push(uid);
            }
            _ => report.vanished.push(uid),
        }
        Ok(report)
    }

    /// Removes `\Deleted` from a message (numbers from a listing made `with_deleted`).
    pub async fn undelete(&self, target: MessageRef, scope: Option<Folder>) -> Result<Report> {
        self.with_account(Retry::IfWarm, |a| {
            Box::pin(async move {
                let (s, f) = (a.session, a.folders);
                let uid = self
                    .resolve(s, f, target, scope, Listed::WithDeleted, Ownership::Check)
                    .await?;
                self.store_flags(s, uid, StoreMode::Remove, Flag::Deleted)
                    .await
            })
        })
        .await
    }
}
