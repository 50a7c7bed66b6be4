//! Multi-recipient deposits (`VoiceMail(a&b)` done right): one message per recipient, each
//! built for that recipient, pipelined per account, accounts in parallel, one result each.
//!
//! Asterisk's IMAP storage sends `COPY 0 INBOX` on the first recipient's connection for the
//! others (`docs/reference/asterisk-imap-behaviour.md` §4.3 step 6,
//! `docs/reference/asterisk-observed.md` §6.2): they never get the message. Here every
//! recipient gets a message of its own (its Extension/Context headers, full name and
//! address, message number, folder, account and server) with the same
//! `X-Asterisk-VM-Message-ID`, as Asterisk's file storage gives the copies of one deposit.
//!
//! Per account (one connection, held for the whole delivery):
//!
//! 1. for each recipient: `GETQUOTAROOT` of its folder pipelined with its count (policy
//!    `admit`: quota, `maxmsg`, `minsecs`/`maxsecs`); the quota usage of the recipients
//!    admitted before on the same quota root is added, so two copies cannot both squeeze
//!    into the last kilobytes;
//! 2. the APPENDs of every admitted recipient, pipelined (LITERAL+): one round trip;
//! 3. the UIDs from APPENDUID (without UIDPLUS: a search by the copy's own `Message-ID`).
//!
//! Accounts are delivered concurrently (one task each). A recipient that is refused or
//! fails does not stop the others. Every stored recipient is announced on the change feed
//! (its MWI watcher recounts it).
//! The same code path delivers forwarded copies ([`Forward::forward`](crate::Forward::forward)).

use std::sync::Arc;

use imapvm_message::Voicemail;
use imapvm_message::lineage::Lineage;
use imapvm_policy::{
    AdmissionVerdict, Capability, Deposit, DepositKind, MessageNumber, MwiCounts, QuotaLedger,
    QuotaResource, SearchKey, Uid, UidValidity, admit,
};
use imapvm_proto::{Flag, Outcome};

use imapvm::parts::{Composed, quota_roots, random_u32, search_result};
use imapvm::{
    AccountKey, DepositRefusal, Deposited, Error, Folders, Mailbox, NewVoicemail, Result, Session,
    Store, Urgency,
};
use imapvm_outbox::{
    DepositOutcome, DurableDeposit, Enqueue, Held, ItemState, Outbox, OutboxStore, Queued,
};

/// How a copy reached its mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// A message built for the recipient, APPENDed.
    Append,
    /// `UID COPY` of the source message (a forward where nothing had to change).
    UidCopy,
}

/// What happened for one recipient.
#[derive(Debug)]
#[non_exhaustive]
pub enum RecipientOutcome {
    /// Stored. `deposited.number` is the message number Asterisk gives it (the box's
    /// count before plus one); `deposited.counts` are the counts before plus this message.
    Stored {
        /// UID, UIDVALIDITY, number, counts, msg id.
        deposited: Deposited,
        /// APPEND or UID COPY.
        via: Via,
    },
    /// The server could not be reached: the message waits in the outbox (durable
    /// deposits only).
    Queued(Queued),
    /// Refused ([`Error::DepositRefused`]: quota, `maxmsg`, duration) or failed.
    Failed(Error),
}

/// One recipient's result, in the order the recipients were given.
#[derive(Debug)]
pub struct RecipientResult {
    /// `box@context` as given.
    pub mailbox: String,
    /// What happened.
    pub outcome: RecipientOutcome,
}

impl RecipientResult {
    /// `stored`, `queued`, `refused` or `failed` (the CLI's `status`).
    pub fn status(&self) -> &'static str {
        match &self.outcome {
            RecipientOutcome::Stored { .. } => "stored",
            RecipientOutcome::Queued(_) => "queued",
            RecipientOutcome::Failed(Error::DepositRefused { .. }) => "refused",
            RecipientOutcome::Failed(_) => "failed",
        }
    }

    /// Whether the copy is stored (or safely queued).
    pub fn is_ok(&self) -> bool {
        !matches!(self.outcome, RecipientOutcome::Failed(_))
    }

    /// The stored copy, if any.
    pub fn stored(&self) -> Option<&Deposited> {
        match &self.outcome {
            RecipientOutcome::Stored { deposited, .. } => Some(deposited),
            _ => None,
        }
    }

    pub(crate) fn failed(mailbox: &str, e: Error) -> RecipientResult {
        RecipientResult {
            mailbox: mailbox.to_owned(),
            outcome: RecipientOutcome::Failed(e),
        }
    }
}

/// What a recipient's copy is: the voicemail built for it, its lineage, and whether it is
/// stored `\Flagged`.
pub(crate) struct Built {
    pub voicemail: Voicemail,
    pub lineage: Option<Lineage>,
    pub urgent: bool,
}

/// Builds the copy for a recipient: `(recipient, msgnum (1-based N), now, rand)`.
pub(crate) type Compose = dyn Fn(&Mailbox, u32, i64, u32) -> Result<Built> + Send + Sync;

/// What admission checks: a deposit checks the recording's length too; a forward only
/// quota and `maxmsg`, as Asterisk's `forward_message` does; a caller admitted before
/// recording ([`NewVoicemail::admitted`]) only quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    Deposit,
    Forward,
    Admitted,
}

/// A copy admitted and built, waiting for its APPEND.
struct Prepared {
    index: usize,
    mailbox: Mailbox,
    folder: imapvm_policy::MailboxName,
    /// The copy's bytes, msg id, Message-ID and urgency.
    c: Composed,
    msgnum: u32,
    counts: MwiCounts,
}

/// Multi-recipient deposits on a [`Store`]: `use imapvm_deliver::Deliver;` and call them as
/// `store.deposit_to(..)`.
pub trait Deliver {
    /// Stores `vm` in every mailbox of `recipients` (`box@context`), each copy built for its
    /// recipient, with one shared msg id. Recipients on one account share its connection
    /// and their APPENDs are pipelined; accounts are served concurrently. One result per
    /// recipient, in order: a refusal or failure of one does not affect the others.
    fn deposit_to<S: AsRef<str> + Sync>(
        &self,
        recipients: &[S],
        vm: &NewVoicemail,
    ) -> impl Future<Output = Vec<RecipientResult>> + Send;

    /// Like [`Deliver::deposit_to`], but nothing is lost to an outage: every recipient's
    /// copy (built for it, all with the one msg id) is written to the outbox before its
    /// APPEND leaves and removed once the server confirmed it. A copy whose APPEND was sent
    /// but not confirmed, or whose server could not be reached (then built offline, message
    /// number 1), stays pending: [`RecipientOutcome::Queued`], delivered by the flusher,
    /// which looks it up by msg id first (exactly once). A refused copy (over quota,
    /// `maxmsg`, duration) is [`Error::DepositRefused`] and stays in the outbox as
    /// [`ItemState::Refused`] for the operator. One recipient alone goes through
    /// [`DurableDeposit::deposit_durable`] (which also retries once at once).
    fn deposit_to_durable<S: AsRef<str> + Sync>(
        &self,
        recipients: &[S],
        vm: &NewVoicemail,
    ) -> impl Future<Output = Vec<RecipientResult>> + Send;
}

impl Deliver for Store {
    async fn deposit_to<S: AsRef<str> + Sync>(
        &self,
        recipients: &[S],
        vm: &NewVoicemail,
    ) -> Vec<RecipientResult> {
        deposit_to_journaled(self, recipients, vm, None).await
    }

    async fn deposit_to_durable<S: AsRef<str> + Sync>(
        &self,
        recipients: &[S],
        vm: &NewVoicemail,
    ) -> Vec<RecipientResult> {
        if let [only] = recipients {
            // One recipient: the outbox's write-ahead deposit, exactly as issue 9 has it (the
            // message is on disk before its APPEND, so even a cut mid-APPEND is retried once).
            let id = only.as_ref();
            let outcome = match self.mailbox(id) {
                Ok(mb) => mb.deposit_durable(vm).await,
                Err(e) => Err(e),
            };
            return vec![RecipientResult {
                mailbox: id.to_owned(),
                outcome: durable_outcome(outcome),
            }];
        }
        deposit_to_journaled(self, recipients, vm, Some(self.outbox())).await
    }
}

async fn deposit_to_journaled<S: AsRef<str>>(
    store: &Store,
    recipients: &[S],
    vm: &NewVoicemail,
    outbox: Option<Outbox>,
) -> Vec<RecipientResult> {
    let (mailboxes, mut results) = resolve_recipients(store, recipients);
    let now = vm.orig_time.unwrap_or_else(|| store.clock().unix_secs());
    let compose = deposit_compose(vm, now, random_u32(store.clock()));
    let admission = if vm.admitted {
        Admission::Admitted
    } else {
        Admission::Deposit
    };
    let delivered = deliver(mailboxes, compose, admission, now, outbox).await;
    for (index, result) in delivered {
        results[index] = Some(result);
    }
    finish(recipients, results)
}

/// The mailboxes of `recipients` (with their index), and a result slot per recipient,
/// already filled for names that are not configured or are given twice.
pub(crate) fn resolve_recipients<S: AsRef<str>>(
    store: &Store,
    recipients: &[S],
) -> (Vec<(usize, Mailbox)>, Vec<Option<RecipientResult>>) {
    let mut results: Vec<Option<RecipientResult>> = recipients.iter().map(|_| None).collect();
    let mut mailboxes: Vec<(usize, Mailbox)> = Vec::new();
    for (index, id) in recipients.iter().enumerate() {
        let id = id.as_ref();
        match store.mailbox(id) {
            Ok(mb)
                if mailboxes
                    .iter()
                    .any(|(_, m)| m.mailbox_id() == mb.mailbox_id()) =>
            {
                results[index] = Some(RecipientResult::failed(
                    id,
                    Error::DuplicateRecipient {
                        mailbox: mb.mailbox_id().clone(),
                    },
                ));
            }
            Ok(mb) => mailboxes.push((index, mb)),
            Err(e) => results[index] = Some(RecipientResult::failed(id, e)),
        }
    }
    (mailboxes, results)
}

fn durable_outcome(outcome: Result<DepositOutcome>) -> RecipientOutcome {
    match outcome {
        Ok(DepositOutcome::Stored(deposited)) => RecipientOutcome::Stored {
            deposited,
            via: Via::Append,
        },
        Ok(DepositOutcome::Queued(q)) => RecipientOutcome::Queued(q),
        Err(e) => RecipientOutcome::Failed(e),
    }
}

/// Fills the slots no task answered (a task that died) with a failure.
pub(crate) fn finish<S: AsRef<str>>(
    recipients: &[S],
    results: Vec<Option<RecipientResult>>,
) -> Vec<RecipientResult> {
    results
        .into_iter()
        .zip(recipients)
        .map(|(r, id)| {
            r.unwrap_or_else(|| {
                RecipientResult::failed(
                    id.as_ref(),
                    Error::NoResult {
                        recipient: id.as_ref().to_owned(),
                    },
                )
            })
        })
        .collect()
}

/// The copies of a deposit: the recording (and intro) renamed for each recipient's number,
/// the recipient's identity headers, one msg id for all.
fn deposit_compose(vm: &NewVoicemail, now: i64, shared: u32) -> Arc<Compose> {
    let vm = vm.clone();
    let msg_id = vm
        .msg_id
        .clone()
        .unwrap_or_else(|| format!("{now}-{shared:08x}"));
    Arc::new(move |mb: &Mailbox, msgnum: u32, now: i64, _rand: u32| {
        Ok(Built {
            voicemail: mb.new_voicemail(&vm, msgnum, now, msg_id.clone())?,
            lineage: None,
            urgent: vm.urgency == Urgency::Urgent,
        })
    })
}

/// Delivers one copy per mailbox (each with its index in the caller's list): grouped by
/// account, accounts concurrently. Returns `(index, result)` for every mailbox.
pub(crate) async fn deliver(
    mailboxes: Vec<(usize, Mailbox)>,
    compose: Arc<Compose>,
    admission: Admission,
    now: i64,
    outbox: Option<Outbox>,
) -> Vec<(usize, RecipientResult)> {
    let mut groups: Vec<(AccountKey, Vec<(usize, Mailbox)>)> = Vec::new();
    for (index, mb) in mailboxes {
        let key = mb.account().key();
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, group)) => group.push((index, mb)),
            None => groups.push((key, vec![(index, mb)])),
        }
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (_, group) in groups {
        let compose = Arc::clone(&compose);
        let outbox = outbox.clone();
        tasks.spawn(async move { deliver_account(group, compose, admission, now, outbox).await });
    }
    let mut out = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(results) => out.extend(results),
            Err(e) => tracing::warn!(error = %e, "a delivery task ended abnormally"),
        }
    }
    out
}

/// Every recipient of one account, on its one connection.
async fn deliver_account(
    group: Vec<(usize, Mailbox)>,
    compose: Arc<Compose>,
    admission: Admission,
    now: i64,
    outbox: Option<Outbox>,
) -> Vec<(usize, RecipientResult)> {
    let Some((_, first)) = group.first() else {
        return Vec::new();
    };
    let store = first.store().clone();
    let mut lease = store.lease(first.account()).await;
    let mut results: Vec<(usize, RecipientResult)> = Vec::new();

    // Phase 1: admission and build, per recipient (its folder, its counts).
    let mut prepared: Vec<Prepared> = Vec::new();
    let mut ledger = QuotaLedger::default();
    for (index, mb) in &group {
        let result = async {
            let (s, f) = lease.session().await?;
            prepare(*index, mb, s, f, &*compose, admission, now, &mut ledger).await
        }
        .await;
        lease.settle(result.as_ref().is_err_and(Error::is_connection_lost));
        match result {
            Ok((p, None)) => prepared.push(p),
            Ok((p, Some(refusal))) => {
                results.push((*index, kept_refused(outbox.as_ref(), &p, refusal)))
            }
            Err(e) => {
                let result = match &outbox {
                    Some(o) if e.worth_queueing() => queue_offline(o, mb, &*compose, now, e),
                    _ => RecipientResult::failed(&mb.id(), e),
                };
                results.push((*index, result));
            }
        }
    }

    // The journal: every copy is on disk before its APPEND leaves.
    let mut helds: Vec<Option<Held>> = Vec::new();
    if let Some(o) = &outbox {
        let mut kept = Vec::new();
        for p in prepared {
            match o.hold_new(
                &Enqueue::of(&p.c, &p.mailbox, ItemState::Pending, None),
                &p.c.bytes,
            ) {
                Ok(h) => {
                    helds.push(Some(h));
                    kept.push(p);
                }
                Err(e) => results.push((p.index, RecipientResult::failed(&p.mailbox.id(), e))),
            }
        }
        prepared = kept;
    } else {
        helds.resize_with(prepared.len(), || None);
    }

    // Phase 2: every APPEND of this account in one round trip.
    if !prepared.is_empty() {
        match lease.session().await {
            Ok((s, f)) => {
                let outcomes = append_all(s, &prepared).await;
                for ((p, outcome), held) in prepared.into_iter().zip(outcomes).zip(helds) {
                    let result = match outcome {
                        Ok(o) => finish_append(s, f, &p, o).await,
                        Err(e) => Err(e),
                    };
                    let result = match (outbox.as_ref(), held) {
                        (Some(o), Some(held)) => journaled_result(o, &p, held, result),
                        _ => recipient_result(&p, result),
                    };
                    results.push((p.index, result));
                }
                let lost = !lease.is_live();
                lease.settle(lost);
            }
            Err(e) => {
                // The connection could not be had again: every copy of the account fails (or
                // waits) with that one error.
                for (p, held) in prepared.into_iter().zip(helds) {
                    let e = e.clone();
                    let result = match (outbox.as_ref(), held) {
                        // Nothing was sent: the copy waits in the outbox, built as it is.
                        (Some(o), Some(held)) => keep_pending(o, held, p.mailbox.id(), &e),
                        _ => RecipientResult::failed(&p.mailbox.id(), e),
                    };
                    results.push((p.index, result));
                }
            }
        }
    }
    drop(lease);
    for (index, mb) in &group {
        if results
            .iter()
            .any(|(i, r)| i == index && r.stored().is_some())
        {
            // Its MWI watcher publishes the new counts now.
            store.announce(mb);
        }
    }
    results
}

fn recipient_result(p: &Prepared, result: Result<(Uid, UidValidity, bool)>) -> RecipientResult {
    match result {
        Ok((uid, uid_validity, from_appenduid)) => {
            let mut counts = p.counts;
            if p.c.urgent {
                counts.urgent = counts.urgent.saturating_add(1);
            } else {
                counts.new = counts.new.saturating_add(1);
            }
            RecipientResult {
                mailbox: p.mailbox.id(),
                outcome: RecipientOutcome::Stored {
                    deposited: Deposited {
                        uid,
                        uid_validity,
                        number: MessageNumber::new(p.msgnum),
                        counts,
                        msg_id: p.c.msg_id.clone(),
                        from_appenduid,
                    },
                    via: Via::Append,
                },
            }
        }
        Err(e) => RecipientResult::failed(&p.mailbox.id(), e),
    }
}

/// A held (written-ahead) copy that was not confirmed stays pending: the flusher delivers
/// it, looking it up by msg id first.
fn keep_pending(outbox: &Outbox, mut held: Held, mailbox: String, e: &Error) -> RecipientResult {
    let reason = e.to_string();
    if let Err(write) = outbox.mark(&mut held, ItemState::Pending, reason.clone()) {
        tracing::warn!(item = %held.item.id, error = %write, "cannot record the failure");
    }
    tracing::info!(mailbox = %mailbox, item = %held.item.id, error = %reason, "copy queued");
    RecipientResult {
        mailbox,
        outcome: RecipientOutcome::Queued(Queued {
            item: held.item.id.clone(),
            msg_id: held.item.msg_id.clone(),
            reason,
        }),
    }
}

/// The result of a written-ahead copy: stored (the item is removed), refused (kept as
/// refused) or anything else (kept pending).
fn journaled_result(
    outbox: &Outbox,
    p: &Prepared,
    mut held: Held,
    result: Result<(Uid, UidValidity, bool)>,
) -> RecipientResult {
    match result {
        Ok(stored) => {
            let id = held.item.id.clone();
            if let Err(e) = outbox.settle(held) {
                // A leftover item is harmless: a flush finds the copy by msg id and removes it.
                tracing::warn!(item = %id, error = %e, "stored, but the outbox item stays");
            }
            recipient_result(p, Ok(stored))
        }
        Err(e @ Error::DepositRefused { .. }) => {
            let reason = e.refusal_text();
            if let Err(write) = outbox.mark(&mut held, ItemState::Refused, reason) {
                tracing::warn!(item = %held.item.id, error = %write, "cannot record the refusal");
            }
            RecipientResult::failed(&p.mailbox.id(), e)
        }
        Err(e) => keep_pending(outbox, held, p.mailbox.id(), &e),
    }
}

/// A copy refused by admission: with an outbox it is kept there as refused.
fn kept_refused(outbox: Option<&Outbox>, p: &Prepared, refusal: Error) -> RecipientResult {
    if let Some(o) = outbox
        && let Err(e) = o.enqueue(
            &Enqueue::of(
                &p.c,
                &p.mailbox,
                ItemState::Refused,
                Some(refusal.refusal_text()),
            ),
            &p.c.bytes,
        )
    {
        tracing::warn!(mailbox = %p.mailbox.id(), error = %e, "refused, and not kept in the outbox");
    }
    RecipientResult::failed(&p.mailbox.id(), refusal)
}

/// A recipient whose server could not be reached: its copy is built offline (message number
/// 1, the count is unknown; the deposit's one msg id) and queued.
fn queue_offline(
    outbox: &Outbox,
    mb: &Mailbox,
    compose: &Compose,
    now: i64,
    e: Error,
) -> RecipientResult {
    match build(mb, compose, 1, now).and_then(|(c, _)| outbox.queue_offline(mb, &c, &e)) {
        Ok(queued) => RecipientResult {
            mailbox: mb.id(),
            outcome: RecipientOutcome::Queued(queued),
        },
        Err(write) => {
            tracing::warn!(mailbox = %mb.id(), error = %write, "cannot queue the copy");
            RecipientResult::failed(&mb.id(), e)
        }
    }
}

/// The admission inputs of `mb` on this connection: its counts (which select its folder)
/// and its folder's quota, pipelined. Without QUOTA (or when GETQUOTAROOT fails) no quota
/// is checked, as in Asterisk.
pub(crate) async fn counts_and_quota(
    mb: &Mailbox,
    s: &mut Session,
    f: &mut Folders,
    folder: &imapvm_policy::MailboxName,
) -> Result<(MwiCounts, Vec<(String, QuotaResource)>)> {
    let quota_id = if s.capabilities().contains(Capability::Quota) {
        Some(s.queue("GETQUOTAROOT", |c| c.get_quota_root(folder))?)
    } else {
        None
    };
    let counts = mb.count_on(s, f).await;
    let quota = match quota_id {
        Some(id) => {
            let taken = match s.wait(&[id]).await {
                Ok(()) => s.take("GETQUOTAROOT", id),
                Err(e) => Err(e),
            };
            match taken {
                Ok(o) => quota_roots(o),
                Err(e) if e.is_connection_lost() => return Err(e),
                Err(e) => {
                    tracing::debug!(mailbox = %mb.id(), error = %e, "no quota information");
                    Vec::new()
                }
            }
        }
        None => Vec::new(),
    };
    Ok((counts?, quota))
}

/// Admission of a copy, counting the quota already promised to earlier copies (`ledger`).
pub(crate) fn admit_copy(
    mb: &Mailbox,
    size: u64,
    duration_secs: u32,
    admission: Admission,
    counts: MwiCounts,
    quota: &[(String, QuotaResource)],
    ledger: &QuotaLedger,
) -> Result<()> {
    let limits = match admission {
        Admission::Deposit => mb.limits(),
        Admission::Forward => mb.limits().for_forward(),
        Admission::Admitted => mb.limits().after_admission(),
    };
    let verdict = admit(
        Deposit {
            kind: DepositKind::Voicemail,
            size_bytes: size,
            duration_secs,
        },
        limits,
        imapvm_policy::MwiState::Known(counts),
        0,
        &ledger.adjusted(quota),
    );
    match verdict {
        AdmissionVerdict::Refuse(reasons) => Err(Error::DepositRefused {
            mailbox: mb.mailbox_id().clone(),
            reasons: reasons.into_iter().map(DepositRefusal::Policy).collect(),
        }),
        _ => Ok(()),
    }
}

#[allow(
    clippy::too_many_arguments,
    reason = "one recipient's whole admission context"
)]
async fn prepare(
    index: usize,
    mb: &Mailbox,
    s: &mut Session,
    f: &mut Folders,
    compose: &Compose,
    admission: Admission,
    now: i64,
    ledger: &mut QuotaLedger,
) -> Result<(Prepared, Option<Error>)> {
    let folder = mb.scope_mailbox(s, None)?;
    let (counts, quota) = counts_and_quota(mb, s, f, &folder).await?;
    let msgnum = counts.total().saturating_add(1);
    let (c, duration) = build(mb, compose, msgnum, now)?;
    let p = Prepared {
        index,
        mailbox: mb.clone(),
        folder,
        c,
        msgnum,
        counts,
    };
    let size = p.c.bytes.len() as u64;
    if let Err(refusal) = admit_copy(mb, size, duration, admission, counts, &quota, ledger) {
        return Ok((p, Some(refusal)));
    }
    ledger.promise(&quota, size);
    Ok((p, None))
}

/// Builds `mb`'s copy as message `msgnum`; and its duration.
fn build(mb: &Mailbox, compose: &Compose, msgnum: u32, now: i64) -> Result<(Composed, u32)> {
    let rand = random_u32(mb.store().clock());
    let built = compose(mb, msgnum, now, rand)?;
    let msg_id = built.voicemail.msg_id.clone().unwrap_or_default();
    let duration = built.voicemail.duration_secs;
    let message_id = mb.message_id(now, rand);
    let mut bytes = mb.build_message(built.voicemail, now, rand)?;
    if let Some(lineage) = &built.lineage {
        lineage.insert_into(&mut bytes);
    }
    Ok((
        Composed {
            bytes: Arc::from(bytes),
            msg_id,
            message_id,
            urgent: built.urgent,
        },
        duration,
    ))
}

/// Queues every APPEND (LITERAL+ sends them without waiting), waits for all; one outcome
/// per copy. A command that did not complete (the connection broke) fails with the reason.
async fn append_all(s: &mut Session, prepared: &[Prepared]) -> Vec<Result<Outcome>> {
    let mut ids = Vec::with_capacity(prepared.len());
    for p in prepared {
        let flags = if p.c.urgent {
            vec![Flag::Flagged]
        } else {
            Vec::new()
        };
        ids.push(s.queue("APPEND", |c| {
            c.append(&p.folder, &flags, Arc::clone(&p.c.bytes))
        }));
    }
    let queued: Vec<_> = ids
        .iter()
        .filter_map(|r| r.as_ref().ok().copied())
        .collect();
    let waited = s.wait(&queued).await;
    let broken = waited.err().map(Box::new);
    ids.into_iter()
        .zip(prepared)
        .map(|(id, p)| {
            let id = id?;
            match (s.take("APPEND", id), &broken) {
                // Sent, not confirmed: the connection's failure (kept as the source) says why.
                (Err(Error::Unexpected { account, .. }), Some(broken)) => Err(Error::Io {
                    account,
                    what: "APPEND (sent, not confirmed: the copy may or may not be stored)",
                    source: Arc::new(std::io::Error::other(broken.clone())),
                }),
                (Err(Error::Protocol { source, .. }), _) if !source.is_fatal() => {
                    Err(Error::DepositRefused {
                        mailbox: p.mailbox.mailbox_id().clone(),
                        reasons: vec![DepositRefusal::of_append(*source)],
                    })
                }
                (other, _) => other,
            }
        })
        .collect()
}

/// (UID, UIDVALIDITY, from APPENDUID) of an APPENDed copy; without APPENDUID, a search by
/// its own `Message-ID` (unique per copy) in its folder.
async fn finish_append(
    s: &mut Session,
    f: &mut Folders,
    p: &Prepared,
    outcome: Outcome,
) -> Result<(Uid, UidValidity, bool)> {
    if let Outcome::Appended(Some(a)) = outcome {
        return Ok((a.uid, a.uid_validity, true));
    }
    let uid_validity = p.mailbox.select(s, f, &p.folder).await?;
    let keys = [SearchKey::header("Message-ID", p.c.message_id.as_str())];
    let id = s.queue("UID SEARCH (Message-ID)", |c| c.uid_search(&keys))?;
    s.wait(&[id]).await?;
    let uid = search_result(s, "UID SEARCH (Message-ID)", id)?
        .into_iter()
        .max()
        .ok_or(Error::Unexpected {
            account: s.key().clone(),
            command: "APPEND (the copy was not found by its Message-ID)",
        })?;
    Ok((uid, uid_validity, false))
}
