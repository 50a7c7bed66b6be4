//! Deleting and expunging by the policy's expunge plans, and the executor of those plans
//! (also behind moves and greetings): never a plain EXPUNGE of mail we did not flag.

use std::collections::BTreeSet;

use imapvm_policy::expunge::{ExpungeContext, Step, plan_delete, verify_deleted};
use imapvm_policy::{Folder, ForeignDeleted, MailboxName, Sharing, UidValidity, Verified};
use imapvm_proto::{Flag, Mailbox as WireMailbox, Outcome, SearchKey as WireKey, StoreMode};

use super::{policy_set, search_result, wire_keys, wire_set};
use crate::error::{Error, Result};
use crate::pool::Folders;
use crate::session::Session;
use crate::store::Retry;
use crate::store::{Deferred, Mailbox, MessageRef, Report};

impl Mailbox {
    // ------------------------------------------------------------------ plans

    pub(super) async fn execute(
        &self,
        s: &mut Session,
        f: &mut Folders,
        plan: &imapvm_policy::ExpungePlan,
    ) -> Result<Report> {
        let mut report = Report::default();
        let sel = s.select(&plan.mailbox).await?;
        f.get(&plan.mailbox).check_validity(sel.uid_validity);
        if sel.uid_validity != plan.uidvalidity.0 {
            return Err(Error::StaleListing {
                mailbox: self.id(),
                folder: plan.mailbox.as_wire().to_owned(),
                listed: plan.uidvalidity.0,
                current: sel.uid_validity,
            });
        }
        let mut touched: BTreeSet<u32> = BTreeSet::new();
        let mut gone: BTreeSet<u32> = BTreeSet::new();
        for step in &plan.steps {
            match step {
                Step::EnsureMailbox { mailbox } => {
                    if !s.exists(mailbox).await? {
                        s.create(mailbox).await?;
                    }
                }
                Step::StoreFlags { uids, add, remove } => {
                    touched.extend(uids.iter().map(imapvm_policy::Uid::get));
                    let range = wire_set(uids.iter().map(imapvm_policy::Uid::get));
                    let Some(range) = range else { continue };
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
                    let Some(range) = wire_set(uids.iter().map(imapvm_policy::Uid::get)) else {
                        continue;
                    };
                    let to = WireMailbox::new(to.as_wire());
                    s.exec("UID COPY", |c| c.uid_copy(&range, &to)).await?;
                    report.destination = Some(to.as_str().to_owned());
                }
                Step::UidMove { uids, to } => {
                    let Some(range) = wire_set(uids.iter().map(imapvm_policy::Uid::get)) else {
                        continue;
                    };
                    let wire_to = WireMailbox::new(to.as_wire());
                    let out = s.exec("UID MOVE", |c| c.uid_move(&range, &wire_to)).await?;
                    report.destination = Some(to.as_wire().to_owned());
                    touched.extend(uids.iter().map(imapvm_policy::Uid::get));
                    if let Outcome::Moved { expunged, .. } = out {
                        gone.extend(expunged.iter().map(|u| u.get()));
                    }
                    gone.extend(uids.iter().map(imapvm_policy::Uid::get));
                }
                Step::UidExpunge { uids } => {
                    let Some(range) = wire_set(uids.iter().map(imapvm_policy::Uid::get)) else {
                        continue;
                    };
                    s.exec("UID EXPUNGE", |c| c.uid_expunge(&range)).await?;
                    gone.extend(uids.iter().map(imapvm_policy::Uid::get));
                }
                Step::VerifyDeletedThenExpunge { expected } => {
                    let found = {
                        let keys = [WireKey::Deleted];
                        let id = s.queue("UID SEARCH DELETED", |c| c.uid_search(&keys))?;
                        s.wait(&[id]).await?;
                        search_result(s, "UID SEARCH DELETED", id)?
                    };
                    match verify_deleted(expected, &policy_set(found)) {
                        Verified::Expunge => {
                            s.exec("EXPUNGE", |c| c.expunge()).await?;
                            gone.extend(expected.iter().map(imapvm_policy::Uid::get));
                        }
                        Verified::Defer { foreign } => {
                            for uid in expected.iter() {
                                report.deferred.push(Deferred {
                                    uid: uid.get(),
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
                            uid: uid.get(),
                            reason: reason.to_string(),
                        });
                    }
                }
                other => {
                    return Err(Error::Config {
                        mailbox: self.id(),
                        reason: format!("this runtime cannot run the plan step {other:?}"),
                    });
                }
            }
        }
        let deferred: BTreeSet<u32> = report.deferred.iter().map(|d| d.uid).collect();
        report.done = touched
            .union(&gone)
            .copied()
            .filter(|u| !deferred.contains(u))
            .collect();
        report.expunged = gone.iter().copied().collect();
        f.get(&plan.mailbox).vanish(&gone.into_iter().collect());
        Ok(report)
    }

    pub(super) fn expunge_context(
        &self,
        s: &Session,
        mailbox: &MailboxName,
        uid_validity: u32,
        expunge_on_hangup: bool,
    ) -> ExpungeContext {
        ExpungeContext {
            mailbox: mailbox.clone(),
            uidvalidity: UidValidity(uid_validity),
            capabilities: s.policy_capabilities(),
            sharing: Sharing::of(mailbox),
            expunge_on_hangup,
        }
    }

    /// Deletes messages: `\Deleted`, then the policy's expunge plan (UID EXPUNGE, a verified
    /// EXPUNGE in a dedicated folder, or a deferral). Never expunges mail it did not flag.
    pub async fn delete(&self, targets: &[MessageRef], scope: Option<Folder>) -> Result<Report> {
        self.with_account(Retry::IfWarm, |a| {
            Box::pin(async move {
                let (s, f) = (a.session, a.folders);
                let mut uids = Vec::new();
                let mut vanished = Vec::new();
                for t in targets {
                    match self.resolve(s, f, *t, scope, false, true).await {
                        Ok(u) => uids.push(u),
                        Err(Error::Vanished { uid, .. }) => vanished.push(uid),
                        Err(e) => return Err(e),
                    }
                }
                let name = self.scope_mailbox(s, scope)?;
                let uv = self.select(s, f, &name).await?;
                let ctx = self.expunge_context(s, &name, uv, self.settings.expungeonhangup.value);
                let plan = plan_delete(&ctx, &policy_set(uids), &ForeignDeleted::Unknown)
                    .map_err(|e| self.policy_error(e.into()))?;
                let mut report = self.execute(s, f, &plan).await?;
                report.vanished.extend(vanished);
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
                let mut keys = vec![WireKey::Deleted];
                keys.extend(wire_keys(&self.identity.header_keys()));
                let id = s.queue("UID SEARCH (deleted)", |c| c.uid_search(&keys))?;
                s.wait(&[id]).await?;
                let hits = search_result(s, "UID SEARCH (deleted)", id)?;
                let mem = f.get(&name);
                self.learn_identities(s, mem, hits.iter().copied()).await?;
                let ours: Vec<u32> = hits
                    .into_iter()
                    .filter(|u| mem.headers.get(u).is_some_and(|h| self.ours(h)))
                    .collect();
                let ctx = self.expunge_context(s, &name, uv, true);
                let plan = plan_delete(&ctx, &policy_set(ours), &ForeignDeleted::Unknown)
                    .map_err(|e| self.policy_error(e.into()))?;
                self.execute(s, f, &plan).await
            })
        })
        .await
    }
}
