//! Deleting and expunging by the policy's expunge plans, and the executor of those plans
//! (also behind moves and greetings): never a plain EXPUNGE of mail we did not flag
//! [INV-3].

use imapvm_policy::expunge::{ExpungeContext, Step, plan_delete, verify_deleted};
use imapvm_policy::{
    Folder, ForeignDeleted, MailboxName, SearchKey, Sharing, UidSet, UidValidity, Verified,
};
use imapvm_proto::{Flag, Outcome, StoreMode, UidRange};

use super::{Ownership, search_result};
use crate::error::{Error, Result};
use crate::pool::Folders;
use crate::pool::Listed;
use crate::session::Session;
use crate::store::{Deferred, Mailbox, MessageRef, Report, Retry};

/// When a plan may expunge what it flagged `\Deleted`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expunging {
    /// As `expungeonhangup` says (a caller's delete).
    AsConfigured,
    /// Now, whatever `expungeonhangup` says (an operator's expunge, a move, a greeting).
    Now,
}

impl Mailbox {
    // ------------------------------------------------------------------ plans

    /// Runs `plan` step by step as policy wrote it: `UID EXPUNGE` only of the plan's UIDs, a
    /// plain `EXPUNGE` only after `UID SEARCH DELETED` found nothing but ours [INV-3].
    pub(super) async fn execute(
        &self,
        s: &mut Session,
        f: &mut Folders,
        plan: &imapvm_policy::ExpungePlan,
    ) -> Result<Report> {
        let mut report = Report::default();
        let current = self.select(s, f, &plan.mailbox).await?;
        if current != plan.uidvalidity {
            return Err(Error::StaleListing {
                mailbox: self.id.clone(),
                folder: plan.mailbox.clone(),
                listed: plan.uidvalidity,
                current,
            });
        }
        let mut touched = UidSet::new();
        let mut gone = UidSet::new();
        for step in &plan.steps {
            match step {
                Step::EnsureMailbox { mailbox } => {
                    if !s.exists(mailbox).await? {
                        s.create(mailbox).await?;
                    }
                }
                Step::StoreFlags { uids, add, remove } => {
                    if uids.is_empty() {
                        continue;
                    }
                    touched.extend(uids.iter());
                    let range = UidRange::Set(uids.clone());
                    let to_flags = |c: imapvm_policy::FlagChange| {
                        let mut v = Vec::new();
                        if c.seen {
                            v.push(Flag::Seen);
                        }
                        if c.flagged {
                            v.push(Flag::Flagged);
                        }
                        if c.deleted {
                            v.push(Flag::Deleted);
                        }
                        v
                    };
                    let (add, remove) = (to_flags(*add), to_flags(*remove));
                    let mut ids = Vec::new();
                    if !add.is_empty() {
                        ids.push(s.queue("UID STORE +FLAGS", |c| {
                            c.uid_store(&range, StoreMode::Add, &add, true)
                        })?);
                    }
                    if !remove.is_empty() {
                        ids.push(s.queue("UID STORE -FLAGS", |c| {
                            c.uid_store(&range, StoreMode::Remove, &remove, true)
                        })?);
                    }
                    s.wait(&ids).await?;
                    for id in ids {
                        s.take("UID STORE", id)?;
                    }
                }
                Step::UidCopy { uids, to } => {
                    if uids.is_empty() {
                        continue;
                    }
                    let range = UidRange::Set(uids.clone());
                    s.exec("UID COPY", |c| c.uid_copy(&range, to)).await?;
                    report.destination = Some(to.as_wire().to_owned());
                }
                Step::UidMove { uids, to } => {
                    if uids.is_empty() {
                        continue;
                    }
                    let range = UidRange::Set(uids.clone());
                    let out = s.exec("UID MOVE", |c| c.uid_move(&range, to)).await?;
                    report.destination = Some(to.as_wire().to_owned());
                    touched.extend(uids.iter());
                    if let Outcome::Moved { expunged, .. } = out {
                        gone.extend(expunged);
                    }
                    gone.extend(uids.iter());
                }
                Step::UidExpunge { uids } => {
                    if uids.is_empty() {
                        continue;
                    }
                    let range = UidRange::Set(uids.clone());
                    s.exec("UID EXPUNGE", |c| c.uid_expunge(&range)).await?;
                    gone.extend(uids.iter());
                }
                Step::VerifyDeletedThenExpunge { expected } => {
                    let found = {
                        let keys = [SearchKey::Deleted];
                        let id = s.queue("UID SEARCH DELETED", |c| c.uid_search(&keys))?;
                        s.wait(&[id]).await?;
                        search_result(s, "UID SEARCH DELETED", id)?
                    };
                    match verify_deleted(expected, &found.into_iter().collect()) {
                        Verified::Expunge => {
                            s.exec("EXPUNGE", |c| c.expunge()).await?;
                            gone.extend(expected.iter());
                        }
                        Verified::Defer { foreign } => {
                            for uid in expected.iter() {
                                report.deferred.push(Deferred {
                                    uid,
                                    reason: format!(
                                        "{} message(s) flagged \\Deleted by someone else are in the folder",
                                        foreign.len()
                                    ),
                                });
                            }
                        }
                    }
                }
                Step::Defer { uids, reason } => {
                    for uid in uids.iter() {
                        report.deferred.push(Deferred {
                            uid,
                            reason: reason.to_string(),
                        });
                    }
                }
                _ => {
                    return Err(Error::Unexpected {
                        account: s.key().clone(),
                        command: "a plan step this runtime does not know",
                    });
                }
            }
        }
        let deferred: UidSet = report.deferred.iter().map(|d| d.uid).collect();
        let mut done = touched;
        done.extend(gone.iter());
        report.done = done.difference(&deferred).iter().collect();
        report.expunged = gone.iter().collect();
        f.get(&plan.mailbox).vanish(&gone);
        Ok(report)
    }

    pub(super) fn expunge_context(
        &self,
        s: &Session,
        mailbox: &MailboxName,
        uid_validity: UidValidity,
        expunging: Expunging,
    ) -> ExpungeContext {
        ExpungeContext {
            mailbox: mailbox.clone(),
            uidvalidity: uid_validity,
            capabilities: s.capabilities().clone(),
            sharing: Sharing::of(mailbox),
            expunge_on_hangup: match expunging {
                Expunging::AsConfigured => self.settings().expungeonhangup.value,
                Expunging::Now => true,
            },
        }
    }

    /// Deletes messages: `\Deleted`, then the policy's expunge plan (UID EXPUNGE, a verified
    /// EXPUNGE in a dedicated folder, or a deferral). Never expunges mail it did not flag.
    pub async fn delete(&self, targets: &[MessageRef], scope: Option<Folder>) -> Result<Report> {
        self.with_account(Retry::IfWarm, |a| {
            Box::pin(async move {
                let (s, f) = (a.session, a.folders);
                let mut uids = UidSet::new();
                let mut vanished = UidSet::new();
                for t in targets {
                    match self
                        .resolve(s, f, *t, scope, Listed::Present, Ownership::Check)
                        .await
                    {
                        Ok(u) => uids.insert(u),
                        Err(Error::Vanished { uid, .. }) => vanished.insert(uid),
                        Err(e) => return Err(e),
                    };
                }
                let name = self.scope_mailbox(s, scope)?;
                let uv = self.select(s, f, &name).await?;
                let ctx = self.expunge_context(s, &name, uv, Expunging::AsConfigured);
                let plan = plan_delete(&ctx, &uids, &ForeignDeleted::Unknown)
                    .map_err(|e| self.policy_error(e.into()))?;
                let mut report = self.execute(s, f, &plan).await?;
                report.vanished.extend(vanished.iter());
                Ok(report)
            })
        })
        .await
    }

    /// Expunges this box's `\Deleted` messages in `scope` (an operator's explicit expunge:
    /// runs even with `expungeonhangup=no`), reporting what it did and what it deferred.
    pub async fn expunge(&self, scope: Option<Folder>) -> Result<Report> {
        self.with_account(Retry::IfWarm, |a| {
            Box::pin(async move {
                let (s, f) = (a.session, a.folders);
                let name = self.scope_mailbox(s, scope)?;
                let uv = self.select(s, f, &name).await?;
                let mut keys = vec![SearchKey::Deleted];
                keys.extend(self.identity.header_keys());
                let id = s.queue("UID SEARCH (deleted)", |c| c.uid_search(&keys))?;
                s.wait(&[id]).await?;
                let hits = search_result(s, "UID SEARCH (deleted)", id)?;
                let mem = f.get(&name);
                self.learn_identities(s, mem, hits.iter().copied(), None)
                    .await?;
                let ours: UidSet = hits
                    .into_iter()
                    .filter(|u| mem.headers.get(u).is_some_and(|h| self.ours(h)))
                    .collect();
                let ctx = self.expunge_context(s, &name, uv, Expunging::Now);
                let plan = plan_delete(&ctx, &ours, &ForeignDeleted::Unknown)
                    .map_err(|e| self.policy_error(e.into()))?;
                self.execute(s, f, &plan).await
            })
        })
        .await
    }
}
