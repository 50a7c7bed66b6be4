//! Greetings on IMAP (`imapgreetings=yes`): get, set (replacing older ones), delete.

use std::sync::Arc;

use imapvm_message::{AudioPart, MessageType, Voicemail, parse};
use imapvm_policy::expunge::plan_delete;
use imapvm_policy::{
    AdmissionVerdict, Capability, Deposit, DepositKind, Folder, ForeignDeleted, MailboxName,
    SearchKey, Uid, UidSet, UidValidity, admit,
};
use imapvm_proto::{FetchAttr, Outcome, UidRange};

use super::delete::Expunging;
use super::deposit::quota_of;
use super::{fetch_result, random_u32, search_result};
use crate::error::{DepositRefusal, Error, Result};
use crate::pool::Folders;
use crate::session::Session;
use crate::store::Retry;
use crate::store::{Greeting, Mailbox, Report};

impl Mailbox {
    // ------------------------------------------------------------------ greetings

    fn greetings_enabled(&self) -> Result<()> {
        if self.settings().imapgreetings.value {
            Ok(())
        } else {
            Err(Error::GreetingsDisabled {
                mailbox: self.id.clone(),
            })
        }
    }

    /// The greetings named `name` of this box: identity headers *and* part-2 attachment name
    /// must match; foreign or malformed mail in the folder is skipped.
    async fn find_greetings(
        &self,
        s: &mut Session,
        f: &mut Folders,
        name: &str,
    ) -> Result<(MailboxName, UidValidity, Vec<(Uid, Voicemail)>)> {
        let folder = self.layout(s)?.mailbox_name(Folder::Greetings);
        let uv = self.select(s, f, &folder).await?;
        let mut keys = vec![SearchKey::Undeleted];
        keys.extend(self.identity.header_keys());
        let id = s.queue("UID SEARCH (greetings)", |c| c.uid_search(&keys))?;
        s.wait(&[id]).await?;
        let hits = search_result(s, "UID SEARCH (greetings)", id)?;
        let mem = f.get(&folder);
        self.learn_identities(s, mem, hits.iter().copied(), None)
            .await?;
        let candidates: UidSet = hits
            .into_iter()
            .filter(|u| {
                mem.headers.get(u).is_some_and(|h| {
                    self.identity
                        .matches(h.extension.as_deref(), h.context.as_deref())
                        && h.message_type
                            .as_deref()
                            .is_some_and(|t| t.trim().eq_ignore_ascii_case(name))
                })
            })
            .collect();
        let mut found = Vec::new();
        if !candidates.is_empty() {
            let range = UidRange::Set(candidates);
            let id = s.queue("UID FETCH (greetings)", |c| {
                c.uid_fetch(&range, &[FetchAttr::Full])
            })?;
            s.wait(&[id]).await?;
            for m in fetch_result(s, "UID FETCH (greetings)", id)? {
                let Ok(parsed) = parse(m.full().unwrap_or_default()) else {
                    tracing::debug!(
                        uid = m.uid.get(),
                        "skipping an unreadable message in the greetings folder"
                    );
                    continue;
                };
                let named = parsed.voicemail.audio.first().is_some_and(|a| {
                    a.filename
                        .split('.')
                        .next()
                        .is_some_and(|stem| stem.eq_ignore_ascii_case(name))
                });
                if named {
                    found.push((m.uid, parsed.voicemail));
                }
            }
        }
        Ok((folder, uv, found))
    }

    /// The greeting `name` (`unavail`, `busy`, `greet`, `temp`), if stored.
    pub async fn greeting_get(&self, name: &str) -> Result<Option<Greeting>> {
        self.greetings_enabled()?;
        self.with_account(Retry::IfWarm, |a| {
            Box::pin(async move {
                let (s, f) = (a.session, a.folders);
                let (_, _, mut found) = self.find_greetings(s, f, name).await?;
                found.sort_by_key(|(uid, _)| *uid);
                Ok(found.pop().and_then(|(uid, vm)| {
                    let duration_secs = vm.duration_secs;
                    vm.audio.into_iter().next().map(|audio| Greeting {
                        uid,
                        name: name.to_owned(),
                        audio,
                        duration_secs,
                    })
                }))
            })
        })
        .await
    }

    /// Stores the greeting `name` (replacing older ones: the new one is appended first, then
    /// the old ones deleted by the policy's plan).
    pub async fn greeting_set(
        &self,
        name: &str,
        audio: &crate::store::Audio,
        duration_secs: u32,
    ) -> Result<Report> {
        self.greetings_enabled()?;
        self.with_account(Retry::IfWarm, |a| {
            Box::pin(async move {
                let (s, f) = (a.session, a.folders);
                let (folder, uv, old) = self.find_greetings(s, f, name).await?;
                let quota = if s.capabilities().contains(Capability::Quota) {
                    let out = s.exec("GETQUOTAROOT", |c| c.get_quota_root(&folder)).await;
                    out.map(quota_of).unwrap_or_default()
                } else {
                    Vec::new()
                };
                let now = self.store.clock().unix_secs();
                let rand = random_u32(self.store.clock());
                let vm = Voicemail {
                    duration_secs,
                    message_type: MessageType::Greeting(name.to_owned()),
                    orig_date: self.email_date(now)?,
                    orig_time: now,
                    audio: vec![AudioPart::greeting(
                        name,
                        &audio.format,
                        audio.bytes.clone(),
                    )],
                    ..self.voicemail_of(0)
                };
                let bytes = self.build_message(vm, now, rand)?;
                let verdict = admit(
                    Deposit {
                        kind: DepositKind::Greeting,
                        size_bytes: bytes.len() as u64,
                        duration_secs,
                    },
                    self.limits(),
                    imapvm_policy::MwiState::Unknown,
                    0,
                    &quota,
                );
                if let AdmissionVerdict::Refuse(reasons) = verdict {
                    return Err(Error::DepositRefused {
                        mailbox: self.id.clone(),
                        reasons: reasons.into_iter().map(DepositRefusal::Policy).collect(),
                    });
                }
                let message: Arc<[u8]> = Arc::from(bytes);
                let out = s
                    .exec("APPEND (greeting)", |c| c.append(&folder, &[], message))
                    .await?;
                let mut report = if old.is_empty() {
                    Report::default()
                } else {
                    let ctx = self.expunge_context(s, &folder, uv, Expunging::Now);
                    let old: UidSet = old.iter().map(|(u, _)| *u).collect();
                    let plan = plan_delete(&ctx, &old, &ForeignDeleted::Unknown)
                        .map_err(|e| self.policy_error(e.into()))?;
                    self.execute(s, f, &plan).await?
                };
                if let Outcome::Appended(Some(a)) = out {
                    report.done.push(a.uid);
                }
                report.destination = Some(folder.as_wire().to_owned());
                Ok(report)
            })
        })
        .await
    }

    /// Deletes the greeting `name`.
    pub async fn greeting_delete(&self, name: &str) -> Result<Report> {
        self.greetings_enabled()?;
        self.with_account(Retry::IfWarm, |a| {
            Box::pin(async move {
                let (s, f) = (a.session, a.folders);
                let (folder, uv, old) = self.find_greetings(s, f, name).await?;
                let ctx = self.expunge_context(s, &folder, uv, Expunging::Now);
                let old: UidSet = old.iter().map(|(u, _)| *u).collect();
                let plan = plan_delete(&ctx, &old, &ForeignDeleted::Unknown)
                    .map_err(|e| self.policy_error(e.into()))?;
                self.execute(s, f, &plan).await
            })
        })
        .await
    }
}
