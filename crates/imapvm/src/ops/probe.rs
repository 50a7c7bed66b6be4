//! Probing: capabilities, namespace, quota and the voicemail folders (created on request).

use imapvm_policy::{Capability, Folder, MailboxName};
use imapvm_proto::Outcome;

use crate::error::Result;
use crate::store::Retry;
use crate::store::{FolderCheck, Mailbox, Probe, QuotaInfo};

/// What a probe does about missing voicemail folders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MissingFolders {
    /// Report them.
    Report,
    /// Create them.
    Create,
}

impl Mailbox {
    // ------------------------------------------------------------------ probe

    /// Capabilities, namespace, delimiter, quota and the voicemail folders (which exist).
    pub async fn probe(&self) -> Result<Probe> {
        self.probe_as(MissingFolders::Report).await
    }

    /// [`Mailbox::probe`], creating the voicemail folders that are missing.
    pub async fn probe_creating_folders(&self) -> Result<Probe> {
        self.probe_as(MissingFolders::Create).await
    }

    async fn probe_as(&self, missing: MissingFolders) -> Result<Probe> {
        self.with_account(Retry::IfWarm, |a| {
            Box::pin(async move {
                let s = a.session;
                let layout = self.layout(s)?;
                let listed = match s.exec("LIST", |c| c.list("", "*")).await? {
                    Outcome::List(entries) => entries,
                    _ => Vec::new(),
                };
                let mailboxes: Vec<String> = listed
                    .iter()
                    .map(|e| e.mailbox.as_wire().to_owned())
                    .collect();
                let exists = |name: &MailboxName| {
                    name.is_inbox() || listed.iter().any(|e| e.mailbox.same_mailbox(name))
                };
                let mut folders = Vec::new();
                let wanted = layout.voicemail_mailboxes(self.settings().imapgreetings.value);
                for (folder, mailbox) in wanted {
                    let mut check = FolderCheck {
                        folder: folder.asterisk_name().to_owned(),
                        mailbox: mailbox.as_wire().to_owned(),
                        exists: exists(&mailbox),
                        created: false,
                    };
                    if missing == MissingFolders::Create && !check.exists {
                        s.create(&mailbox).await?;
                        check.exists = true;
                        check.created = true;
                    }
                    folders.push(check);
                }
                let inbox = layout.mailbox_name(Folder::Inbox);
                let mut quota = Vec::new();
                if s.capabilities().contains(Capability::Quota)
                    && let Ok(Outcome::QuotaRoots(roots)) =
                        s.exec("GETQUOTAROOT", |c| c.get_quota_root(&inbox)).await
                {
                    for q in roots.quotas {
                        for r in q.resources {
                            quota.push(QuotaInfo {
                                root: q.root.clone(),
                                resource: r.name.clone(),
                                usage: r.usage,
                                limit: r.limit,
                            });
                        }
                    }
                }
                Ok(Probe {
                    account: s.key().clone(),
                    capabilities: s.capabilities().iter().map(str::to_owned).collect(),
                    namespace: s.hierarchy().prefix().to_owned(),
                    delimiter: s.hierarchy().delimiter(),
                    quota,
                    folders,
                    mailboxes,
                })
            })
        })
        .await
    }
}
