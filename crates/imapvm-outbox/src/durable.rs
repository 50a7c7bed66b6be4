//! The outbox, its write-ahead journal and its flush: a deposit that cannot reach the IMAP
//! server (unreachable, timed out, connection dropped mid-APPEND) is kept on disk and
//! delivered later, exactly once.
//!
//! [`DurableDeposit::deposit_durable`] writes the built message to the spool (fsync'd) just
//! before its APPEND and removes it once the server confirmed; when the server cannot be
//! reached at all the message is built offline and queued. Either way the caller gets
//! [`DepositOutcome::Stored`] or [`DepositOutcome::Queued`], never a silent loss. A retry
//! first looks the message up in the target folder by `X-Asterisk-VM-Message-ID` (checked
//! exactly, together with `Message-ID`) and APPENDs only when it is not there, so a cut
//! after the server stored it does not double it. Refusals (over quota, `maxmsg`) stay in
//! the outbox as [`ItemState::Refused`] for the operator and are not retried in a loop.
//!
//! [`Outbox::flush`] delivers what is pending; [`Outbox::spawn_flusher`] does it in the
//! background.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use imapvm::clock::SharedClock;
use imapvm::parts::{Composed, Journal, MSG_ID_HEADER, random_u32, reasons_text};
use imapvm::{
    ConfigError, DepositRefusal, Deposited, Error, Folders, Mailbox, NewVoicemail, OutboxError,
    Result, Retry, Session, Store,
};
use imapvm_message::HeaderBlock;
use imapvm_policy::{Folder, SearchKey, Uid, UidSet, UidValidity};
use imapvm_proto::{FetchAttr, Flag, Outcome, UidRange};

use crate::spool::{Held, ItemState, MAX_ITEM_BYTES, OutboxItem, OutboxListing, SpoolProblem};
use crate::spool::{Spool, item_id, spool_error};

/// Where the outbox lives unless voicemail.conf says `imapvm_outbox=` (or the caller builds
/// its [`Outbox`] on another directory).
pub const DEFAULT_OUTBOX_DIR: &str = "/var/spool/imapvm/outbox";

/// The outbox journal: the message is on disk before the APPEND leaves.
struct WriteAhead<'a> {
    outbox: &'a Outbox,
    held: Mutex<Option<Held>>,
    /// Set once an item is written: a second run of the deposit could double it.
    committed: AtomicBool,
}

impl<'a> WriteAhead<'a> {
    fn new(outbox: &'a Outbox) -> Self {
        WriteAhead {
            outbox,
            held: Mutex::new(None),
            committed: AtomicBool::new(false),
        }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Option<Held>> {
        match self.held.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn take(&self) -> Option<Held> {
        self.held().take()
    }

    fn put(&self, mailbox: &Mailbox, c: &Composed, state: ItemState) -> Result<()> {
        let entry = Enqueue::of(c, mailbox, state, None);
        *self.held() = Some(self.outbox.hold_new(&entry, &c.bytes)?);
        self.committed.store(true, Ordering::SeqCst);
        Ok(())
    }
}

/// What [`Outbox::enqueue`] records with a built message.
///
/// The message is delivered to the mailbox's `imapfolder` (the folder every deposit and
/// forward goes to), `\Flagged` when `urgent`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enqueue {
    /// `box@context`.
    pub mailbox: String,
    /// The message's `X-Asterisk-VM-Message-ID` (shared by every copy of one deposit): how
    /// a retry finds an earlier APPEND. Must not be empty.
    pub msg_id: String,
    /// The message's own `Message-ID` (unique per copy), compared too.
    pub message_id: String,
    /// APPEND it `\Flagged`.
    pub urgent: bool,
    /// [`ItemState::Pending`] (the next flush delivers it) or [`ItemState::Refused`] (kept
    /// for the operator).
    pub state: ItemState,
    /// Why it was not delivered now (the item's `last-error`).
    pub reason: Option<String>,
}

impl Enqueue {
    /// The outbox metadata of the built message `c` for `mailbox`.
    pub fn of(
        c: &Composed,
        mailbox: &Mailbox,
        state: ItemState,
        reason: Option<String>,
    ) -> Enqueue {
        Enqueue {
            mailbox: mailbox.id(),
            msg_id: c.msg_id.clone(),
            message_id: c.message_id.clone(),
            urgent: c.urgent,
            state,
            reason,
        }
    }
}

/// Writes a new item durably (temp file, fsync, rename, directory fsync) and returns it held
/// (its `.eml` locked). The item's name holds its mailbox, so the copies of one deposit
/// (one msg id) never share a name.
fn put_entry(spool: &Spool, entry: &Enqueue, bytes: &[u8], queued_at: i64) -> Result<Held> {
    if entry.msg_id.trim().is_empty() || entry.mailbox.trim().is_empty() {
        return Err(spool_error(&spool.dir, OutboxError::Incomplete));
    }
    if bytes.len() as u64 > MAX_ITEM_BYTES {
        return Err(spool_error(
            &spool.dir,
            OutboxError::TooLarge {
                mailbox: entry.mailbox.clone(),
                size: bytes.len() as u64,
                limit: MAX_ITEM_BYTES,
            },
        ));
    }
    let base = item_id(queued_at, &format!("{}-{}", entry.msg_id, entry.mailbox));
    // Never over another item (a long msg id cut short, the same copy queued twice).
    let id = (1u32..)
        .map(|n| {
            if n == 1 {
                base.clone()
            } else {
                format!("{base}-{n}")
            }
        })
        .find(|id| !spool.taken(id))
        .unwrap_or(base);
    let item = OutboxItem {
        id,
        mailbox: entry.mailbox.clone(),
        msg_id: entry.msg_id.clone(),
        message_id: entry.message_id.clone(),
        urgent: entry.urgent,
        queued_at,
        attempts: 0,
        state: entry.state,
        last_error: entry.reason.clone(),
        size: bytes.len() as u64,
    };
    spool.put(item, bytes)
}

impl Journal for WriteAhead<'_> {
    fn appending(&self, mailbox: &Mailbox, c: &Composed) -> Result<()> {
        self.put(mailbox, c, ItemState::Pending)
    }

    fn refused(&self, mailbox: &Mailbox, c: &Composed, reasons: &[DepositRefusal]) -> Result<()> {
        if self.held().is_none() {
            self.put(mailbox, c, ItemState::Refused)?;
        }
        match &mut *self.held() {
            Some(held) => {
                held.item.state = ItemState::Refused;
                held.item.last_error = Some(reasons_text(reasons));
                self.outbox.spool.update(held)
            }
            None => Ok(()),
        }
    }
}

/// What happened to a durable deposit.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum DepositOutcome {
    /// On the server.
    Stored(Deposited),
    /// Accepted and queued in the outbox: the server could not be reached or the connection
    /// dropped before it confirmed. The flusher delivers it (exactly once).
    Queued(Queued),
}

/// A deposit accepted into the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    /// The outbox item.
    pub item: String,
    /// `X-Asterisk-VM-Message-ID`.
    pub msg_id: String,
    /// Why it was not delivered now.
    pub reason: String,
}

/// The result of delivering one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// The outbox item (now removed).
    pub item: String,
    /// `box@context`.
    pub mailbox: String,
    /// The message's UID on the server.
    pub uid: Uid,
    /// The folder's UIDVALIDITY.
    pub uid_validity: UidValidity,
    /// `true` when an earlier, interrupted APPEND had stored it already (found by msg id):
    /// nothing was sent again.
    pub already_there: bool,
}

/// What one [`Outbox::flush`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FlushReport {
    /// Delivered (and removed from the outbox).
    pub delivered: Vec<Delivered>,
    /// Refused by the server this time (kept, flagged refused).
    pub refused: Vec<(String, String)>,
    /// Still pending: the server could not be reached, or another error (item, reason).
    pub failed: Vec<(String, String)>,
    /// Being delivered by someone else right now (a deposit in flight, another flusher).
    pub busy: Vec<String>,
    /// Refused items left alone (use [`Outbox::release`] to retry them).
    pub left_refused: Vec<String>,
    /// Unreadable files (never delivered).
    pub problems: Vec<SpoolProblem>,
}

/// The outbox: a spool directory of items, stamped with a clock. [`Outbox::of`] a store is
/// the one its voicemail.conf names; [`Outbox::new`] is any other.
#[derive(Debug, Clone)]
pub struct Outbox {
    spool: Spool,
    /// Stamps `queued_at`.
    clock: SharedClock,
}

impl Outbox {
    /// The outbox in `dir` (created on first write, mode 0700), stamping items with
    /// `clock`'s time.
    pub fn new(dir: impl Into<PathBuf>, clock: SharedClock) -> Outbox {
        Outbox {
            spool: Spool { dir: dir.into() },
            clock,
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.spool.dir
    }

    /// Every item, oldest first, and every file that is not a readable item. A directory
    /// that does not exist is an empty outbox; one that cannot be read is an error.
    pub fn list(&self) -> Result<OutboxListing> {
        self.spool.list()
    }

    /// Puts an already built message in the outbox for `entry.mailbox`, with the same
    /// durable write and locking as a deposit's write-ahead. A pending item is delivered by
    /// the next flush (looked up by msg id first, so an APPEND that did reach the server is
    /// not doubled); a refused one waits for [`Outbox::release`].
    pub fn enqueue(&self, entry: &Enqueue, bytes: &[u8]) -> Result<OutboxItem> {
        Ok(self.hold_new(entry, bytes)?.item.clone())
    }

    /// Queues `c`, built offline for `mailbox` because its server could not be reached
    /// (`e`, kept as the item's reason): the flusher delivers it.
    pub fn queue_offline(&self, mailbox: &Mailbox, c: &Composed, e: &Error) -> Result<Queued> {
        let entry = Enqueue::of(c, mailbox, ItemState::Pending, Some(e.to_string()));
        let item = self.enqueue(&entry, &c.bytes)?;
        tracing::info!(mailbox = %mailbox.id(), item = %item.id, error = %e, "server unreachable: queued");
        Ok(Queued {
            item: item.id,
            msg_id: item.msg_id,
            reason: e.to_string(),
        })
    }

    /// [`Outbox::enqueue`], keeping the item held (locked) for a delivery in flight.
    pub fn hold_new(&self, entry: &Enqueue, bytes: &[u8]) -> Result<Held> {
        put_entry(&self.spool, entry, bytes, self.clock.unix_secs())
    }

    /// Records a held item's new state and reason.
    pub fn mark(&self, held: &mut Held, state: ItemState, reason: String) -> Result<()> {
        held.item.state = state;
        held.item.last_error = Some(reason);
        self.spool.update(held)
    }

    /// Removes a held item (its message is on the server).
    pub fn settle(&self, held: Held) -> Result<()> {
        self.spool.remove(held)
    }

    /// Makes a refused item pending again (the next flush tries it).
    pub fn release(&self, id: &str) -> Result<()> {
        let mut held = self.hold_or_busy(id)?;
        held.item.state = ItemState::Pending;
        self.spool.update(&held)
    }

    /// Removes an item without delivering it (the operator's decision).
    pub fn discard(&self, id: &str) -> Result<()> {
        let held = self.hold_or_busy(id)?;
        self.spool.remove(held)
    }

    fn hold_or_busy(&self, id: &str) -> Result<Held> {
        self.spool
            .hold(id)?
            .ok_or_else(|| spool_error(&self.spool.dir, OutboxError::Busy { id: id.to_owned() }))
    }
}

impl Outbox {
    /// The outbox of `store`: `imapvm_outbox` of `[general]`, else [`DEFAULT_OUTBOX_DIR`],
    /// stamped with the store's clock.
    pub fn of(store: &Store) -> Outbox {
        let dir = store
            .config()
            .general
            .imapvm_outbox
            .clone()
            .unwrap_or_else(|| DEFAULT_OUTBOX_DIR.to_owned());
        Outbox::new(dir, store.clock().clone())
    }

    /// Delivers every pending item of this outbox (oldest first) through `store`'s
    /// connections, each exactly once: it is looked up by msg id in its folder before it is
    /// APPENDed. Refused items are left alone. Items whose account is unreachable stay
    /// pending.
    pub async fn flush(&self, store: &Store) -> Result<FlushReport> {
        let listing = self.list()?;
        let mut report = FlushReport {
            problems: listing.problems,
            ..FlushReport::default()
        };
        for item in listing.items {
            if item.state == ItemState::Refused {
                report.left_refused.push(item.id);
                continue;
            }
            let Some(held) = self.spool.hold(&item.id)? else {
                report.busy.push(item.id);
                continue;
            };
            let mailbox = match store.mailbox(&held.item.mailbox) {
                Ok(m) => m,
                Err(e) => {
                    report.failed.push((item.id, e.to_string()));
                    continue;
                }
            };
            match deliver_held(&mailbox, &self.spool, held).await {
                Ok(d) => report.delivered.push(d),
                Err((id, Error::DepositRefused { reasons, .. })) => {
                    report.refused.push((id, reasons_text(&reasons)));
                }
                Err((id, e)) => report.failed.push((id, e.to_string())),
            }
        }
        Ok(report)
    }

    /// Runs [`Outbox::flush`] through `store` every `every` (more than 0) in a background
    /// task (first run at once) until the returned [`Flusher`] is stopped or dropped.
    pub fn spawn_flusher(
        &self,
        store: &Store,
        every: Duration,
    ) -> std::result::Result<Flusher, ConfigError> {
        ConfigError::require_nonzero("every", every)?;
        let (outbox, store) = (self.clone(), store.clone());
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match outbox.flush(&store).await {
                    Ok(r) => {
                        if !r.delivered.is_empty() || !r.refused.is_empty() {
                            tracing::info!(
                                delivered = r.delivered.len(),
                                refused = r.refused.len(),
                                pending = r.failed.len(),
                                "outbox flushed"
                            );
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "outbox flush failed"),
                }
            }
        });
        Ok(Flusher { task })
    }

    /// Stores a voicemail in `mailbox` like [`Mailbox::deposit`], but never loses it to an
    /// outage: the message is written to this outbox (fsync'd) before its APPEND and removed
    /// when the server confirmed. When the server cannot be reached, or the connection drops
    /// before the confirmation, one immediate retry on a fresh connection looks the message
    /// up by msg id before sending it again; if that fails too the result is
    /// [`DepositOutcome::Queued`] and the flusher delivers it later.
    ///
    /// A refusal (over quota, `maxmsg`) is [`Error::DepositRefused`]; the message stays in
    /// the outbox as [`ItemState::Refused`] for the operator.
    pub async fn deposit(&self, mailbox: &Mailbox, vm: &NewVoicemail) -> Result<DepositOutcome> {
        let (outbox, this) = (self, mailbox);
        let journal = WriteAhead::new(outbox);
        // Lost before the APPEND left (nothing is on disk yet): once more on a fresh
        // connection, as every other operation does.
        let result = this
            .with_account(Retry::IfWarmUnless(&journal.committed), |a| {
                Box::pin(this.deposit_in(a.session, a.folders, vm, &journal))
            })
            .await;
        match result {
            Ok(d) => {
                if let Some(held) = journal.take() {
                    // Stored: a leftover item is harmless (a flush finds it by msg id and
                    // removes it), an error here would invite the caller to deposit again.
                    let id = held.item.id.clone();
                    if let Err(e) = outbox.spool.remove(held) {
                        tracing::warn!(item = %id, error = %e, "stored, but the outbox item stays");
                    }
                }
                Ok(DepositOutcome::Stored(d))
            }
            Err(e @ Error::DepositRefused { .. }) => Err(e),
            Err(e) => {
                let held = match journal.take() {
                    // The APPEND may or may not have reached the server: retry, exactly once.
                    Some(held) => held,
                    None if e.worth_queueing() => {
                        let clock = this.store().clock();
                        let composed = this.compose(vm, 1, clock.unix_secs(), random_u32(clock))?;
                        return Ok(DepositOutcome::Queued(
                            outbox.queue_offline(this, &composed, &e)?,
                        ));
                    }
                    None => return Err(e),
                };
                tracing::debug!(mailbox = %this.id(), item = %held.item.id, error = %e, "deposit interrupted; retrying once");
                let (item, msg_id) = (held.item.id.clone(), held.item.msg_id.clone());
                match deliver_held(this, &outbox.spool, held).await {
                    Ok(d) => {
                        let counts = this.count().await.unwrap_or_default();
                        Ok(DepositOutcome::Stored(Deposited {
                            uid: d.uid,
                            uid_validity: d.uid_validity,
                            number: None,
                            counts,
                            msg_id,
                            from_appenduid: !d.already_there,
                        }))
                    }
                    Err((_, refused @ Error::DepositRefused { .. })) => Err(refused),
                    Err((_, again)) => {
                        tracing::info!(mailbox = %this.id(), item = %item, error = %again, "deposit queued");
                        Ok(DepositOutcome::Queued(Queued {
                            item,
                            msg_id,
                            reason: again.to_string(),
                        }))
                    }
                }
            }
        }
    }
}

/// The background flusher of [`Outbox::spawn_flusher`]; dropping it stops it.
#[derive(Debug)]
pub struct Flusher {
    task: tokio::task::JoinHandle<()>,
}

impl Flusher {
    /// Stops the flusher (a delivery in progress is abandoned; the item stays queued and the
    /// next flush finds it by msg id if it had reached the server).
    pub fn stop(self) {
        self.task.abort();
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The durable deposit on a [`Mailbox`], in its store's outbox ([`Outbox::of`]): the call
/// site reads as it did when the runtime held the outbox.
pub trait DurableDeposit {
    /// [`Outbox::deposit`] of this mailbox's voicemail in its store's outbox.
    fn deposit_durable(
        &self,
        vm: &NewVoicemail,
    ) -> impl Future<Output = Result<DepositOutcome>> + Send;
}

impl DurableDeposit for Mailbox {
    async fn deposit_durable(&self, vm: &NewVoicemail) -> Result<DepositOutcome> {
        Outbox::of(self.store()).deposit(self, vm).await
    }
}

/// A [`Store`]'s outbox ([`Outbox::of`]: the one its voicemail.conf names).
pub trait OutboxStore {
    /// [`Outbox::of`] this store.
    fn outbox(&self) -> Outbox;
    /// Whether voicemail.conf names an outbox (`imapvm_outbox`): then a forward queues the
    /// copies it could not deliver.
    fn outbox_configured(&self) -> bool;
    /// [`Outbox::flush`] of this store's outbox.
    fn flush_outbox(&self) -> impl Future<Output = Result<FlushReport>> + Send;
    /// [`Outbox::spawn_flusher`] of this store's outbox.
    fn spawn_flusher(&self, every: Duration) -> std::result::Result<Flusher, ConfigError>;
}

impl OutboxStore for Store {
    fn outbox(&self) -> Outbox {
        Outbox::of(self)
    }

    fn outbox_configured(&self) -> bool {
        self.config().general.imapvm_outbox.is_some()
    }

    async fn flush_outbox(&self) -> Result<FlushReport> {
        Outbox::of(self).flush(self).await
    }

    fn spawn_flusher(&self, every: Duration) -> std::result::Result<Flusher, ConfigError> {
        Outbox::of(self).spawn_flusher(self, every)
    }
}

/// Delivers a held item: look up by msg id, APPEND only when absent. On success the item
/// is removed; on a refusal it is flagged refused; otherwise its attempt is recorded and
/// it stays pending. The error comes with the item's id.
async fn deliver_held(
    mb: &Mailbox,
    spool: &Spool,
    mut held: Held,
) -> std::result::Result<Delivered, (String, Error)> {
    let id = held.item.id.clone();
    let bytes = match held.read_bytes(spool) {
        Ok(b) => b,
        Err(e) => return Err((id, e)),
    };
    held.item.attempts = held.item.attempts.saturating_add(1);
    let item = &held.item;
    let result = mb
        .with_account_once(move |a| Box::pin(deliver_in(mb, a.session, a.folders, item, bytes)))
        .await;
    match result {
        Ok((uid, uid_validity, already_there)) => {
            let delivered = Delivered {
                item: id.clone(),
                mailbox: held.item.mailbox.clone(),
                uid,
                uid_validity,
                already_there,
            };
            if let Err(e) = spool.remove(held) {
                tracing::warn!(item = %id, error = %e, "delivered, but the outbox item stays");
            }
            Ok(delivered)
        }
        Err(e) => {
            if let Error::DepositRefused { .. } = &e {
                held.item.state = ItemState::Refused;
            }
            held.item.last_error = Some(e.refusal_text());
            if let Err(write) = spool.update(&held) {
                tracing::warn!(item = %id, error = %write, "cannot record the attempt");
            }
            Err((id, e))
        }
    }
}

/// Looks the item up in `imapfolder` by msg id (exactly: both `X-Asterisk-VM-Message-ID`
/// and `Message-ID` must match); APPENDs it when absent. Returns (UID, UIDVALIDITY,
/// whether it was already there).
async fn deliver_in(
    mb: &Mailbox,
    s: &mut Session,
    f: &mut Folders,
    item: &OutboxItem,
    bytes: Vec<u8>,
) -> Result<(Uid, UidValidity, bool)> {
    let name = mb.layout(s)?.mailbox_name(Folder::Inbox);
    let uid_validity = mb.select(s, f, &name).await?;
    if let Some(uid) = find_by_msg_id(s, item).await? {
        tracing::debug!(mailbox = %mb.id(), item = %item.id, %uid, "already on the server; not sent again");
        return Ok((uid, uid_validity, true));
    }
    let flags = if item.urgent {
        vec![Flag::Flagged]
    } else {
        Vec::new()
    };
    let message: Arc<[u8]> = Arc::from(bytes);
    match s
        .exec("APPEND (outbox)", |c| c.append(&name, &flags, message))
        .await
    {
        Ok(Outcome::Appended(Some(a))) => Ok((a.uid, a.uid_validity, false)),
        Ok(_) => {
            let uid = find_by_msg_id(s, item).await?.ok_or(Error::Unexpected {
                account: s.key().clone(),
                command: "APPEND (the new message was not found by its msg id)",
            })?;
            let uid_validity = s
                .selected()
                .and_then(|x| x.uid_validity)
                .unwrap_or(uid_validity);
            Ok((uid, uid_validity, false))
        }
        Err(Error::Protocol { source, .. }) if !source.is_fatal() => Err(Error::DepositRefused {
            mailbox: mb.mailbox_id().clone(),
            reasons: vec![DepositRefusal::of_append(*source)],
        }),
        Err(e) => Err(e),
    }
}

/// The UID of the message with the item's msg id in the selected folder, if any (deleted
/// ones included: a message the user already deleted was delivered).
async fn find_by_msg_id(s: &mut Session, item: &OutboxItem) -> Result<Option<Uid>> {
    let keys = [SearchKey::header(MSG_ID_HEADER, item.msg_id.as_str())];
    let set: UidSet = match s
        .exec("UID SEARCH (outbox msg id)", |c| c.uid_search(&keys))
        .await?
    {
        Outcome::Search(u) => u.into_iter().collect(),
        _ => UidSet::new(),
    };
    if set.is_empty() {
        return Ok(None);
    }
    // HEADER search is a substring match: check the values exactly.
    let attrs = [FetchAttr::HeaderFields(vec![
        MSG_ID_HEADER.to_owned(),
        "Message-ID".to_owned(),
    ])];
    let fetched = match s
        .exec("UID FETCH (outbox msg id)", |c| {
            c.uid_fetch(&UidRange::Set(set), &attrs)
        })
        .await?
    {
        Outcome::Fetch(m) => m,
        _ => Vec::new(),
    };
    Ok(fetched
        .iter()
        .filter(|m| {
            let block = HeaderBlock::parse(m.header_fields().unwrap_or_default());
            block.fields.msg_id.as_deref().map(str::trim) == Some(item.msg_id.as_str())
                && (item.message_id.is_empty()
                    || block.fields.message_id.as_deref().map(str::trim)
                        == Some(item.message_id.as_str()))
        })
        .map(|m| m.uid)
        .min())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A zero interval was once raised to 10 ms without a word; it is refused, naming it.
    #[tokio::test]
    async fn a_flusher_every_zero_is_refused() {
        let conf =
            "[general]\nimapserver=127.0.0.1\n[default]\n1 => 1,A,,,imapuser=u|imappassword=p\n";
        let store = Store::new(imapvm_config::parse_bytes("v.conf", conf.as_bytes()).config);
        assert!(matches!(
            Outbox::of(&store).spawn_flusher(&store, Duration::ZERO),
            Err(ConfigError::OutOfBounds { field: "every", .. })
        ));
    }
}
