//! Forwarding a voicemail to other mailboxes (VoiceMailMain key 8, done right), with an
//! optional recorded comment played first.
//!
//! Asterisk's IMAP forward (`docs/reference/asterisk-imap-behaviour.md` §4.8) composes the
//! copy from the *forwarding call*:
//! its caller id and time replace the original's, and the copy gets
//! `X-Asterisk-VM-Message-ID: (null)`; fetching the source marks it read. Here:
//!
//! * the source is read with `BODY.PEEK[]`: forwarding never marks it `\Seen`;
//! * each copy is built for its destination (Extension/Context headers, full name and
//!   address, message number, folder) and keeps the original's caller id, `Orig-time`,
//!   `Orig-date`, duration, flag, category and audio; it gets a fresh msg id of its own,
//!   and its lineage ([`imapvm_message::lineage`]: `X-Asterisk-VM-Orig-Mailbox` and
//!   `X-Asterisk-VM-Orig-Message-ID`) after its headers, where Asterisk's header lookup
//!   still finds the real fields first;
//! * a comment becomes the intro, MIME part 3 `msgintro{N-1:04}.{fmt}` after the recording
//!   in part 2, exactly where Asterisk puts it, so Asterisk plays it first (§2.7). Without a
//!   comment, an intro the source already had is kept; a new comment replaces it (a
//!   message holds one intro);
//! * admission (quota, `maxmsg`) per destination, the copies delivered like a
//!   multi-recipient deposit ([`Deliver`](crate::Deliver)): pipelined per account, accounts in
//!   parallel, one result per destination;
//! * `UID COPY` only where nothing in the message has to change: the destination is the
//!   source's own mailbox, there is no comment, and the source sits in another folder
//!   than `imapfolder` (forwarding a saved message from `Work` back to the box's own
//!   inbox). Every other destination has other Extension/Context headers, so its copy is
//!   rebuilt and APPENDed. The UID COPY keeps the message as it is (its msg id too: it is
//!   the same voicemail in the same box, as Asterisk's own save-to-folder COPY makes it),
//!   and the copy is made unheard.

use std::sync::Arc;

use imapvm_message::lineage::Lineage;
use imapvm_message::{AudioPart, Voicemail};
use imapvm_policy::{Folder, MailboxName, MessageNumber, QuotaLedger, SearchKey, Uid, UidValidity};
use imapvm_proto::{FetchAttr, Flag, Outcome, StoreMode, UidRange};

use imapvm::parts::{fetch_result, search_result};
use imapvm::{
    Audio, Deposited, Error, Folders, Mailbox, MessageRef, Misuse, Result, Retry, Session,
};
use imapvm_outbox::OutboxStore;

use crate::deliver::{
    Admission, Built, Compose, RecipientOutcome, RecipientResult, Via, admit_copy,
    counts_and_quota, deliver, finish, resolve_recipients,
};

/// What a forward did: the source, and one result per destination in the order given.
#[derive(Debug)]
pub struct Forwarded {
    /// The source message's UID.
    pub source_uid: Uid,
    /// The source folder's UIDVALIDITY.
    pub source_uid_validity: UidValidity,
    /// The source's `X-Asterisk-VM-Message-ID` (the copies' lineage), if it had one.
    pub source_msg_id: Option<String>,
    /// One result per destination.
    pub results: Vec<RecipientResult>,
}

impl Forwarded {
    /// Whether every destination got its copy.
    pub fn all_ok(&self) -> bool {
        self.results.iter().all(RecipientResult::is_ok)
    }
}

/// The source, as fetched (peeked).
struct Source {
    uid: Uid,
    uid_validity: UidValidity,
    folder: MailboxName,
    inbox: MailboxName,
    seen: bool,
    size: u64,
    message_id: Option<String>,
    voicemail: Voicemail,
}

/// Forwarding on a [`Mailbox`]: `use imapvm_deliver::Forward;` and call it as
/// `mailbox.forward(..)`.
pub trait Forward {
    /// Forwards the message `target` (numbered in `scope`, as the listing numbers it) to
    /// every mailbox of `to` (`box@context`), with `comment` as the intro when given. The
    /// source stays unread. Fails as a whole only when the source cannot be read; each
    /// destination has its own result otherwise.
    fn forward<S: AsRef<str> + Sync>(
        &self,
        target: MessageRef,
        scope: Option<Folder>,
        to: &[S],
        comment: Option<&Audio>,
    ) -> impl Future<Output = Result<Forwarded>> + Send;
}

impl Forward for Mailbox {
    async fn forward<S: AsRef<str> + Sync>(
        &self,
        target: MessageRef,
        scope: Option<Folder>,
        to: &[S],
        comment: Option<&Audio>,
    ) -> Result<Forwarded> {
        let source = self
            .with_account(Retry::IfWarm, |a| {
                Box::pin(fetch_source(self, a.session, a.folders, target, scope))
            })
            .await?;
        let store = self.store();
        let (mailboxes, mut results) = resolve_recipients(store, to);
        let mut rebuilt = Vec::new();
        for (index, mb) in mailboxes {
            let unchanged = comment.is_none()
                && mb.mailbox_id() == self.mailbox_id()
                && mb.account().key() == self.account().key()
                && !source.folder.same_mailbox(&source.inbox);
            if unchanged {
                // Nothing in the message changes: the server copies it (no upload).
                let result = copy_forward(self, &source).await;
                results[index] = Some(match result {
                    Ok(deposited) => RecipientResult {
                        mailbox: mb.id(),
                        outcome: RecipientOutcome::Stored {
                            deposited,
                            via: Via::UidCopy,
                        },
                    },
                    Err(e) => RecipientResult::failed(&mb.id(), e),
                });
            } else {
                rebuilt.push((index, mb));
            }
        }
        let lineage = match Lineage::new(&self.id(), source.voicemail.msg_id.as_deref()) {
            Ok(l) => Some(l),
            Err(e) => {
                tracing::warn!(mailbox = %self.id(), error = %e, "the copies carry no lineage");
                None
            }
        };
        let compose = forward_compose(
            Arc::new(source.voicemail.clone()),
            comment.cloned(),
            lineage,
        );
        // With an outbox configured, a copy that could not be delivered waits there.
        let outbox = store.outbox_configured().then(|| store.outbox());
        let now = store.clock().unix_secs();
        for (index, result) in deliver(rebuilt, compose, Admission::Forward, now, outbox).await {
            results[index] = Some(result);
        }
        Ok(Forwarded {
            source_uid: source.uid,
            source_uid_validity: source.uid_validity,
            source_msg_id: source.voicemail.msg_id.clone().filter(|id| id != "(null)"),
            results: finish(to, results),
        })
    }
}

/// Resolves and peeks the source: flags and the whole message, never `\Seen`.
async fn fetch_source(
    mb: &Mailbox,
    s: &mut Session,
    f: &mut Folders,
    target: MessageRef,
    scope: Option<Folder>,
) -> Result<Source> {
    let uid = mb.resolve_own(s, f, target, scope).await?;
    let folder = mb.scope_mailbox(s, scope)?;
    let inbox = mb.scope_mailbox(s, None)?;
    let uid_validity = mb.select(s, f, &folder).await?;
    let vanished = || Error::Vanished {
        mailbox: mb.mailbox_id().clone(),
        uid,
    };
    let range = UidRange::from(uid);
    let attrs = [FetchAttr::Flags, FetchAttr::Full];
    let id = s.queue("UID FETCH (forward source)", |c| {
        c.uid_fetch(&range, &attrs)
    })?;
    s.wait(&[id]).await?;
    let m = fetch_result(s, "UID FETCH (forward source)", id)?
        .into_iter()
        .find(|m| m.uid == uid)
        .ok_or_else(vanished)?;
    let bytes = m.full().unwrap_or_default();
    let parsed = mb.parse_own(uid, bytes)?;
    Ok(Source {
        uid,
        uid_validity,
        folder,
        inbox,
        seen: m
            .flags
            .as_deref()
            .is_some_and(|fl| fl.contains(&Flag::Seen)),
        size: bytes.len() as u64,
        message_id: parsed.headers.message_id.clone(),
        voicemail: parsed.voicemail,
    })
}

/// `UID COPY` of the source into `mb`'s `imapfolder`, after admission; the copy is made
/// unheard. Never retried: a COPY that reached the server must not be doubled.
async fn copy_forward(mb: &Mailbox, source: &Source) -> Result<Deposited> {
    mb.with_account_once(|a| Box::pin(copy_in(mb, a.session, a.folders, source)))
        .await
}

async fn copy_in(
    mb: &Mailbox,
    s: &mut Session,
    f: &mut Folders,
    source: &Source,
) -> Result<Deposited> {
    let (counts, quota) = counts_and_quota(mb, s, f, &source.inbox).await?;
    admit_copy(
        mb,
        source.size,
        source.voicemail.duration_secs,
        Admission::Forward,
        counts,
        &quota,
        &QuotaLedger::default(),
    )?;
    mb.select(s, f, &source.folder).await?;
    let range = UidRange::from(source.uid);
    let copied = s
        .exec("UID COPY (forward)", |c| c.uid_copy(&range, &source.inbox))
        .await?;
    let inbox_validity = mb.select(s, f, &source.inbox).await?;
    let copy_uid = match copied {
        Outcome::Copied(Some(c)) => c.pairs().next().map(|(_, new)| (new, c.uid_validity)),
        _ => None,
    };
    let from_copyuid = copy_uid.is_some();
    let (uid, uid_validity) = if let Some(found) = copy_uid {
        found
    } else {
        // No UIDPLUS: the newest message with the source's Message-ID in imapfolder.
        let message_id = source.message_id.clone().ok_or(Error::Unexpected {
            account: s.key().clone(),
            command: "UID COPY (no COPYUID and no Message-ID to find the copy)",
        })?;
        let keys = [SearchKey::header("Message-ID", message_id)];
        let id = s.queue("UID SEARCH (copy)", |c| c.uid_search(&keys))?;
        s.wait(&[id]).await?;
        search_result(s, "UID SEARCH (copy)", id)?
            .into_iter()
            .max()
            .ok_or(Error::Unexpected {
                account: s.key().clone(),
                command: "UID COPY (the copy was not found)",
            })
            .map(|uid| (uid, inbox_validity))?
    };
    if source.seen {
        let range = UidRange::from(uid);
        s.exec("UID STORE (forwarded copy unheard)", |c| {
            c.uid_store(&range, StoreMode::Remove, &[Flag::Seen], true)
        })
        .await?;
    }
    let mut counts = counts;
    if source.voicemail.is_urgent() {
        counts.urgent = counts.urgent.saturating_add(1);
    } else {
        counts.new = counts.new.saturating_add(1);
    }
    Ok(Deposited {
        uid,
        uid_validity,
        number: MessageNumber::new(counts.total()),
        counts,
        msg_id: source.voicemail.msg_id.clone().unwrap_or_default(),
        from_appenduid: from_copyuid,
    })
}

/// The copy of `original` for each destination: its identity, number and a fresh msg id;
/// the original's caller id, times, duration, flag and audio; `comment` (or the original's
/// own intro) as part 3.
fn forward_compose(
    original: Arc<Voicemail>,
    comment: Option<Audio>,
    lineage: Option<Lineage>,
) -> Arc<Compose> {
    Arc::new(move |mb: &Mailbox, msgnum: u32, now: i64, rand: u32| {
        let Some(recording) = original.audio.first() else {
            return Err(Error::Misuse {
                mailbox: mb.mailbox_id().clone(),
                misuse: Misuse::NoRecording,
            });
        };
        let mut audio = vec![AudioPart::recording(
            msgnum,
            &recording.format,
            recording.bytes.clone(),
        )];
        match (&comment, original.audio.get(1)) {
            (Some(c), _) => audio.push(AudioPart::intro(msgnum, &c.format, c.bytes.clone())),
            (None, Some(intro)) => {
                audio.push(AudioPart::intro(msgnum, &intro.format, intro.bytes.clone()));
            }
            (None, None) => {}
        }
        Ok(Built {
            voicemail: Voicemail {
                flag: original.flag.clone(),
                priority: original.priority,
                caller_id_num: original.caller_id_num.clone(),
                caller_id_name: original.caller_id_name.clone(),
                duration_secs: original.duration_secs,
                category: original.category.clone(),
                orig_date: original.orig_date.clone(),
                orig_time: original.orig_time,
                msg_id: Some(format!("{now}-{rand:08x}")),
                audio,
                ..mb.voicemail_of(msgnum)
            },
            lineage: lineage.clone(),
            urgent: original.is_urgent(),
        })
    })
}
