//! Saving a message into another Asterisk folder (`UID MOVE`, or COPY + flag + expunge
//! where MOVE is missing).

use imapvm_policy::expunge::plan_save;
use imapvm_policy::{Folder, ForeignDeleted, MessageFlags, MessageState, UidSet};
use imapvm_proto::{FetchAttr, Outcome, UidRange};

use super::Ownership;
use super::delete::Expunging;
use crate::error::{Error, Result};
use crate::pool::Listed;
use crate::store::{Deferred, Mailbox, MessageRef, Report, Retry};

impl Mailbox {
    /// Saves a message into another Asterisk folder (Old, Work, Family, Friends, Cust1–5, or
    /// back to INBOX/Urgent), creating the folder when missing.
    pub async fn move_to(
        &self,
        target: MessageRef,
        scope: Option<Folder>,
        to: Folder,
    ) -> Result<Report> {
        self.with_account(Retry::IfWarm, |a| {
            Box::pin(async move {
                let (s, f) = (a.session, a.folders);
                let uid = self
                    .resolve(s, f, target, scope, Listed::Present, Ownership::Check)
                    .await?;
                let name = self.scope_mailbox(s, scope)?;
                let uv = self.select(s, f, &name).await?;
                let range = UidRange::from(uid);
                let out = s
                    .exec("UID FETCH (flags)", |c| {
                        c.uid_fetch(&range, &[FetchAttr::Flags])
                    })
                    .await?;
                let Outcome::Fetch(msgs) = out else {
                    return Err(Error::Unexpected {
                        account: s.key().clone(),
                        command: "UID FETCH",
                    });
                };
                let Some(m) = msgs.into_iter().find(|m| m.uid == uid) else {
                    return Err(Error::Vanished {
                        mailbox: self.id.clone(),
                        uid,
                    });
                };
                let flags = MessageFlags::from_flags(m.flags.iter().flatten());
                if flags.deleted {
                    // Already flagged \Deleted: an earlier save copied it and its expunge was
                    // deferred (foreign \Deleted mail in the folder, no UIDPLUS), or the user
                    // deleted it. Copying it again would leave a duplicate in the destination.
                    return Ok(Report {
                        deferred: vec![Deferred {
                            uid,
                            reason: "already flagged \\Deleted (copied by an earlier save whose \
                                 expunge was deferred, or deleted by the user); not copied again"
                                .into(),
                        }],
                        destination: Some(self.layout(s)?.mailbox_name(to).as_wire().to_owned()),
                        ..Report::default()
                    });
                }
                let from = match scope {
                    Some(folder)
                        if !matches!(folder, Folder::Inbox | Folder::Old | Folder::Urgent) =>
                    {
                        folder
                    }
                    _ => MessageState::of(flags).map_or(Folder::Inbox, MessageState::folder),
                };
                let layout = self.layout(s)?;
                let ctx = self.expunge_context(s, &name, uv, Expunging::Now);
                let plan = plan_save(
                    &ctx,
                    &layout,
                    &UidSet::single(uid),
                    &ForeignDeleted::Unknown,
                    from,
                    to,
                )
                .map_err(|e| self.policy_error(e.into()))?;
                let mut report = self.execute(s, f, &plan).await?;
                if report.destination.is_none() {
                    report.destination = Some(layout.mailbox_name(to).as_wire().to_owned());
                }
                if report.done.is_empty() && report.deferred.is_empty() && from == to {
                    report.done.push(uid);
                }
                Ok(report)
            })
        })
        .await
    }
}
