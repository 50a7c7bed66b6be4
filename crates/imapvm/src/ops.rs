//! Every voicemail operation of [`Mailbox`]: each asks policy what to search, store or expunge,
//! asks the message crate for bytes, and pipelines the IMAP commands into few round trips.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use imapvm_message::{AudioPart, HeaderBlock, MessageType, Voicemail, parse};
use imapvm_policy::count::{all_search, count_search, listed_in};
use imapvm_policy::expunge::{ExpungeContext, Step, plan_delete, plan_save, verify_deleted};
use imapvm_policy::{
    AdmissionVerdict, Deposit, DepositKind, Folder, ForeignDeleted, Limits, MailboxName,
    MessageFacts, MessageFlags, MessageNumber, MessageNumbers, MessageState, MessageSummary,
    MwiCounts, QuotaResourceName, Resolution, UidValidity, Verified, admit, listing_search,
    recount_before_admission,
};
use imapvm_proto::{
    CommandId, FetchAttr, Flag, Mailbox as WireMailbox, Outcome, SearchKey as WireKey, StoreMode,
    Uid as WireUid, UidRange, UidSet as WireUidSet,
};

use crate::error::{DepositRefusal, Error, Result};
use crate::pool::{FolderMemory, Folders, IdentityHeaders, ListingKey};
use crate::session::Session;
use crate::store::{
    Deferred, Deposited, FlagOp, FolderCheck, Greeting, ListedMessage, Listing, Mailbox,
    MessageRef, NewVoicemail, Played, Probe, QuotaInfo, Report, Store, Urgency, on_account,
    scope_index,
};

/// The identity headers, fetched to filter exactly (and to tell greetings from messages).
const IDENTITY_FIELDS: &[&str] = &[
    "X-Asterisk-VM-Extension",
    "X-Asterisk-VM-Context",
    "X-Asterisk-VM-Message-Type",
];

/// The headers a listing shows.
const LIST_FIELDS: &[&str] = &[
    "Date",
    "From",
    "Subject",
    "Message-ID",
    "X-Asterisk-VM-Message-Num",
    "X-Asterisk-VM-Context",
    "X-Asterisk-VM-Extension",
    "X-Asterisk-VM-Flag",
    "X-Asterisk-VM-Priority",
    "X-Asterisk-VM-Caller-ID-Num",
    "X-Asterisk-VM-Caller-ID-Name",
    "X-Asterisk-VM-Duration",
    "X-Asterisk-VM-Message-Type",
    "X-Asterisk-VM-Orig-date",
    "X-Asterisk-VM-Orig-time",
    "X-Asterisk-VM-Message-ID",
    "X-Asterisk-CallerID",
    "X-Asterisk-CallerIDName",
];

const MSG_ID_HEADER: &str = "X-Asterisk-VM-Message-ID";

fn wire_keys(keys: &[imapvm_policy::SearchKey]) -> Vec<WireKey> {
    use imapvm_policy::SearchKey as P;
    keys.iter()
        .map(|k| match k {
            P::Undeleted => WireKey::Undeleted,
            P::Deleted => WireKey::Deleted,
            P::Seen => WireKey::Seen,
            P::Unseen => WireKey::Unseen,
            P::Flagged => WireKey::Flagged,
            P::Unflagged => WireKey::Unflagged,
            P::Header { name, value } => WireKey::Header((*name).to_owned(), value.clone()),
        })
        .collect()
}

pub(crate) fn wire_set(uids: impl IntoIterator<Item = u32>) -> Option<UidRange> {
    WireUidSet::from_uids(uids.into_iter().filter_map(WireUid::new)).map(UidRange::Set)
}

fn policy_set(uids: impl IntoIterator<Item = u32>) -> imapvm_policy::UidSet {
    uids.into_iter()
        .filter_map(imapvm_policy::Uid::new)
        .collect()
}

fn flags_of(flags: &[Flag]) -> MessageFlags {
    MessageFlags {
        seen: flags.contains(&Flag::Seen),
        flagged: flags.contains(&Flag::Flagged),
        deleted: flags.contains(&Flag::Deleted),
    }
}

pub(crate) fn search_result(s: &mut Session, context: &str, id: CommandId) -> Result<Vec<u32>> {
    match s.take(context, id)? {
        Outcome::Search(uids) => Ok(uids.into_iter().map(WireUid::get).collect()),
        _ => Err(Error::Unexpected {
            account: s.label().to_owned(),
            command: "UID SEARCH",
        }),
    }
}

pub(crate) fn fetch_result(
    s: &mut Session,
    context: &str,
    id: CommandId,
) -> Result<Vec<imapvm_proto::FetchedMessage>> {
    match s.take(context, id)? {
        Outcome::Fetch(m) => Ok(m),
        _ => Err(Error::Unexpected {
            account: s.label().to_owned(),
            command: "UID FETCH",
        }),
    }
}

fn is_greeting(message_type: Option<&str>) -> bool {
    message_type.is_some_and(|t| MessageType::from_header(t).is_greeting())
}

/// A unique-enough number for Message-ID, boundary and msg id (no clock in the lower crates;
/// here the clock and a per-process hash seed are fine).
pub(crate) fn random_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    (h.finish() & 0xffff_ffff) as u32
}

pub(crate) fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The count's pipelined commands (one round trip either way).
enum CountIds {
    /// Without ESEARCH: one `UID SEARCH UNDELETED HEADER …` and one `UID FETCH (FLAGS)`.
    SearchFetch { search: CommandId, fetch: CommandId },
    /// With ESEARCH (tag-correlated answers): Asterisk's three count searches (new, urgent,
    /// old) plus old-and-flagged (RFC 3842's old urgent), each `UID SEARCH RETURN (ALL)`.
    Esearch {
        new: CommandId,
        urgent: CommandId,
        old: CommandId,
        old_flagged: CommandId,
    },
}

impl CountIds {
    /// Every command to wait for.
    fn ids(&self) -> Vec<CommandId> {
        match *self {
            Self::SearchFetch { search, fetch } => vec![search, fetch],
            Self::Esearch {
                new,
                urgent,
                old,
                old_flagged,
            } => vec![new, urgent, old, old_flagged],
        }
    }

    /// Drops the answers (a count superseded by another one).
    fn discard(&self, s: &mut Session) {
        for id in self.ids() {
            let _ = s.take("count", id);
        }
    }
}

/// The fetch item of the identity headers.
pub(crate) fn identity_attr() -> FetchAttr {
    FetchAttr::HeaderFields(IDENTITY_FIELDS.iter().map(|s| (*s).to_owned()).collect())
}

/// The identity headers of a message fetched with [`identity_attr`].
pub(crate) fn identity_of(m: &imapvm_proto::FetchedMessage) -> IdentityHeaders {
    let block = HeaderBlock::parse(m.header_fields().unwrap_or_default());
    IdentityHeaders {
        extension: block.fields.extension,
        context: block.fields.context,
        message_type: block.fields.message_type,
    }
}

/// Reads the count's answers: the UIDs found (in answer order, each once) and the flags each
/// answer implies (ESEARCH) or the fetched flags (SEARCH + FETCH).
fn take_hits(s: &mut Session, ids: CountIds) -> Result<(Vec<u32>, HashMap<u32, MessageFlags>)> {
    Ok(match ids {
        CountIds::SearchFetch { search, fetch } => {
            let hits = search_result(s, "UID SEARCH (count)", search)?;
            let flags: HashMap<u32, MessageFlags> =
                fetch_result(s, "UID FETCH (count flags)", fetch)?
                    .into_iter()
                    .filter_map(|m| m.flags.as_deref().map(|f| (m.uid.get(), flags_of(f))))
                    .collect();
            (hits, flags)
        }
        CountIds::Esearch {
            new,
            urgent,
            old,
            old_flagged,
        } => {
            let flagged_old: BTreeSet<u32> =
                search_result(s, "UID SEARCH (count old urgent)", old_flagged)?
                    .into_iter()
                    .collect();
            let mut hits = Vec::new();
            let mut flags = HashMap::new();
            for (id, context, seen, flagged) in [
                (new, "UID SEARCH (count new)", false, false),
                (urgent, "UID SEARCH (count urgent)", false, true),
                (old, "UID SEARCH (count old)", true, false),
            ] {
                for uid in search_result(s, context, id)? {
                    let fl = MessageFlags {
                        seen,
                        flagged: flagged || (seen && flagged_old.contains(&uid)),
                        deleted: false,
                    };
                    // A message whose flags changed between two searches is found by
                    // both (or none): the first answer counts, once.
                    if let std::collections::hash_map::Entry::Vacant(e) = flags.entry(uid) {
                        e.insert(fl);
                        hits.push(uid);
                    }
                }
            }
            (hits, flags)
        }
    })
}

/// Counts `boxes` (all on the account of `s`) exactly, pipelined: per IMAP folder at most
/// one SELECT (none when it is selected already) and one flight carrying every box's count,
/// so the boxes of a shared account cost one round trip together, not one each. Identity
/// headers not cached yet are fetched for all boxes at once (first count only).
///
/// A lost connection fails the whole call; a box whose folder cannot be selected gets an
/// error of its own. The answers are in the order of `boxes`.
pub(crate) async fn count_many_in(
    boxes: &[&Mailbox],
    s: &mut Session,
    f: &mut Folders,
) -> Result<Vec<Result<MwiCounts>>> {
    let mut out: Vec<Option<Result<MwiCounts>>> = boxes.iter().map(|_| None).collect();
    // The boxes by folder, in first-seen order.
    let mut groups: Vec<(MailboxName, Vec<usize>)> = Vec::new();
    for (i, mb) in boxes.iter().enumerate() {
        match mb.scope_mailbox(s, None) {
            Ok(name) => match groups.iter_mut().find(|(n, _)| n.same_mailbox(&name)) {
                Some((_, members)) => members.push(i),
                None => groups.push((name, vec![i])),
            },
            Err(e) => out[i] = Some(Err(e)),
        }
    }
    for (name, members) in groups {
        let Some(&lead) = members.first() else {
            continue;
        };
        let mut attempt = 0;
        let hits = loop {
            if let Err(e) = boxes[lead].select(s, f, &name).await {
                if e.is_connection_lost() {
                    return Err(e);
                }
                for &i in &members {
                    out[i] = Some(Err(Error::Config {
                        mailbox: boxes[i].id(),
                        reason: format!("cannot count in {name}: {e}"),
                    }));
                }
                break None;
            }
            let changes = s.view_changes();
            let mut queued = Vec::with_capacity(members.len());
            for &i in &members {
                queued.push(boxes[i].queue_count(s, f.get(&name))?);
            }
            // Mail another client added since we last looked: its identity comes in the same
            // flight, not in a round trip of its own when a hit turns out to be unknown.
            let identities = queue_new_identities(s, f.get(&name))?;
            let mut ids: Vec<CommandId> = queued.iter().flat_map(CountIds::ids).collect();
            ids.extend(identities);
            s.wait(&ids).await?;
            learn_new_identities(s, f.get(&name), identities);
            // The server syncs our view (pipelined NOOP) only after the count ran: if it
            // reported changes meanwhile, the count may predate them. Count once more.
            if s.view_changes() != changes && attempt == 0 {
                attempt += 1;
                for q in &queued {
                    q.discard(s);
                }
                continue;
            }
            let mut hits = Vec::with_capacity(queued.len());
            for q in queued {
                hits.push(take_hits(s, q)?);
            }
            break Some(hits);
        };
        let Some(mut hits) = hits else {
            continue;
        };
        let mem = f.get(&name);
        // One header fetch for every box's unknown hits (none once cached).
        let mut all_hits: Vec<u32> = hits.iter().flat_map(|(h, _)| h.iter().copied()).collect();
        let mut all_flags: HashMap<u32, MessageFlags> = hits
            .iter()
            .flat_map(|(_, fl)| fl.iter().map(|(u, f)| (*u, *f)))
            .collect();
        all_hits.sort_unstable();
        all_hits.dedup();
        boxes[lead]
            .learn(s, mem, all_hits, &mut all_flags, true)
            .await?;
        for (&i, (box_hits, box_flags)) in members.iter().zip(hits.iter_mut()) {
            for u in box_hits.iter() {
                if let (std::collections::hash_map::Entry::Vacant(e), Some(fl)) =
                    (box_flags.entry(*u), all_flags.get(u))
                {
                    e.insert(*fl);
                }
            }
            let counted = boxes[i].tally_hits(s, mem, box_hits, box_flags).await;
            out[i] = Some(counted.map(|(c, _)| c));
        }
    }
    Ok(out
        .into_iter()
        .map(|o| {
            o.unwrap_or(Err(Error::Unexpected {
                account: s.label().to_owned(),
                command: "the count",
            }))
        })
        .collect())
}

impl Store {
    /// The counts of many boxes at once, in the order given: the boxes are grouped by IMAP
    /// account, and each account's boxes are counted in one pipelined flight (one round trip
    /// on a warm connection for every box of a shared account, where [`Mailbox::count`] in a
    /// loop takes one each). Accounts are counted one after the other.
    ///
    /// Fails as a whole when an account cannot be reached (the error names it); a box whose
    /// folder cannot be counted gets an error of its own.
    pub async fn count_many(&self, boxes: &[Mailbox]) -> Result<Vec<Result<MwiCounts>>> {
        let mut groups: Vec<Vec<usize>> = Vec::new();
        for (i, mb) in boxes.iter().enumerate() {
            let key = mb.account.key();
            match groups.iter_mut().find(|g| boxes[g[0]].account.key() == key) {
                Some(g) => g.push(i),
                None => groups.push(vec![i]),
            }
        }
        let mut out: Vec<Option<Result<MwiCounts>>> = boxes.iter().map(|_| None).collect();
        for members in groups {
            let group: Vec<&Mailbox> = members.iter().map(|&i| &boxes[i]).collect();
            let lead = group[0];
            let counted = on_account!(lead, |s, f| count_many_in(&group, s, f).await)?;
            for (i, c) in members.into_iter().zip(counted) {
                out[i] = Some(c);
            }
        }
        Ok(out.into_iter().flatten().collect())
    }
}

/// How many UIDs above the highest one whose identity is known a warm listing or deposit
/// fetches along with its searches (mail that arrived since the folder was last looked at).
/// A bound: ordinary mail in a shared folder costs at most this many rows, once; a hit above
/// the window is fetched afterwards.
const NEW_UID_WINDOW: u32 = 500;

/// The [`NEW_UID_WINDOW`] UIDs above the highest UID whose identity is known; `None` when
/// nothing is known yet (a cold connection: the hits are fetched instead).
fn new_uid_window(mem: &FolderMemory) -> Option<UidRange> {
    let highest = *mem.headers.keys().max()?;
    let low = WireUid::new(highest.checked_add(1)?)?;
    let high = WireUid::new(highest.saturating_add(NEW_UID_WINDOW))?;
    Some(UidRange::Set(WireUidSet::range(low, high)))
}

/// Queues the fetch of the identity headers in the [`new_uid_window`] (sent with the next
/// flight): messages another client added since are then known without a round trip of
/// their own.
fn queue_new_identities(s: &mut Session, mem: &FolderMemory) -> Result<Option<CommandId>> {
    let Some(range) = new_uid_window(mem) else {
        return Ok(None);
    };
    let attrs = [identity_attr()];
    Ok(Some(s.queue("UID FETCH (new identities)", |c| {
        c.uid_fetch(&range, &attrs)
    })?))
}

/// Learns the answer of [`queue_new_identities`]. A refusal only costs the fetch of the
/// hits' headers later.
fn learn_new_identities(s: &mut Session, mem: &mut FolderMemory, id: Option<CommandId>) {
    let Some(id) = id else {
        return;
    };
    match fetch_result(s, "UID FETCH (new identities)", id) {
        Ok(fetched) => {
            for m in fetched {
                mem.headers.insert(m.uid.get(), identity_of(&m));
            }
        }
        Err(e) => tracing::debug!(account = %s.label(), error = %e, "new identities not fetched"),
    }
}

/// The fetch items of a listing.
fn list_attrs() -> [FetchAttr; 3] {
    [
        FetchAttr::Flags,
        FetchAttr::Rfc822Size,
        FetchAttr::HeaderFields(LIST_FIELDS.iter().map(|s| (*s).to_owned()).collect()),
    ]
}

/// One message a listing fetched.
struct ListedRow {
    flags: MessageFlags,
    size: u32,
    fields: imapvm_message::HeaderFields,
}

impl ListedRow {
    fn of(m: &imapvm_proto::FetchedMessage) -> Self {
        Self {
            flags: flags_of(m.flags.as_deref().unwrap_or_default()),
            size: m.size.unwrap_or(0),
            fields: HeaderBlock::parse(m.header_fields().unwrap_or_default()).fields,
        }
    }

    fn identity(&self) -> IdentityHeaders {
        IdentityHeaders {
            extension: self.fields.extension.clone(),
            context: self.fields.context.clone(),
            message_type: self.fields.message_type.clone(),
        }
    }
}

impl Mailbox {
    fn listing_key(&self, scope: Option<Folder>, with_deleted: bool) -> ListingKey {
        ListingKey {
            extension: self.identity.extension().to_owned(),
            context: self.identity.context().to_owned(),
            scope: scope_index(scope),
            with_deleted,
        }
    }

    fn ours(&self, h: &IdentityHeaders) -> bool {
        self.identity
            .matches(h.extension.as_deref(), h.context.as_deref())
            && !is_greeting(h.message_type.as_deref())
    }

    /// The IMAP folder of a scope.
    pub(crate) fn scope_mailbox(&self, s: &Session, scope: Option<Folder>) -> Result<MailboxName> {
        let layout = self.layout(s)?;
        Ok(layout.mailbox_name(scope.unwrap_or(Folder::Inbox)))
    }

    pub(crate) async fn select(
        &self,
        s: &mut Session,
        f: &mut Folders,
        name: &MailboxName,
    ) -> Result<u32> {
        let sel = s.select(name).await?;
        f.get(name).check_validity(sel.uid_validity);
        Ok(sel.uid_validity)
    }

    /// Fetches the identity headers of the UIDs not cached yet (one round trip, none when
    /// everything is cached). With `flags`, also fetches the flags of `uids` that are not in
    /// `known_flags`, and adds them there.
    async fn learn_identities(
        &self,
        s: &mut Session,
        mem: &mut FolderMemory,
        uids: impl IntoIterator<Item = u32>,
    ) -> Result<()> {
        let mut none = HashMap::new();
        self.learn(s, mem, uids, &mut none, false).await
    }

    async fn learn(
        &self,
        s: &mut Session,
        mem: &mut FolderMemory,
        uids: impl IntoIterator<Item = u32>,
        known_flags: &mut HashMap<u32, MessageFlags>,
        flags: bool,
    ) -> Result<()> {
        let missing: BTreeSet<u32> = uids
            .into_iter()
            .filter(|u| !mem.headers.contains_key(u) || (flags && !known_flags.contains_key(u)))
            .collect();
        let Some(range) = wire_set(missing.iter().copied()) else {
            return Ok(());
        };
        let mut attrs = vec![identity_attr()];
        // Flags only where some are unknown (an ESEARCH count knows them all).
        if flags && missing.iter().any(|u| !known_flags.contains_key(u)) {
            attrs.push(FetchAttr::Flags);
        }
        let fetched = {
            let id = s.queue("UID FETCH (identity)", |c| c.uid_fetch(&range, &attrs))?;
            s.wait(&[id]).await?;
            fetch_result(s, "UID FETCH (identity)", id)?
        };
        for m in fetched {
            mem.headers.insert(m.uid.get(), identity_of(&m));
            if let Some(fl) = &m.flags {
                known_flags.insert(m.uid.get(), flags_of(fl));
            }
        }
        Ok(())
    }

    /// Queues the count, pipelined (one round trip). With ESEARCH, Asterisk's three count
    /// searches and an old-and-flagged one, each answered by tag: the flags of every hit are
    /// known from which search found it, and nothing grows with the user's other mail.
    /// Without ESEARCH (untagged `* SEARCH` answers are matched by order only, and a server
    /// may run pipelined commands in parallel): one `UID SEARCH UNDELETED HEADER … HEADER …`
    /// and one `UID FETCH (FLAGS)` of the UIDs known to be this box's plus anything newer.
    fn queue_count(&self, s: &mut Session, mem: &FolderMemory) -> Result<CountIds> {
        if s.capabilities().has("ESEARCH") {
            let mut old_flagged = vec![
                imapvm_policy::SearchKey::Undeleted,
                imapvm_policy::SearchKey::Flagged,
                imapvm_policy::SearchKey::Seen,
            ];
            old_flagged.extend(self.identity.header_keys());
            let mut queue = |context: &str, keys: Vec<imapvm_policy::SearchKey>| {
                let keys = wire_keys(&keys);
                s.queue(context, |c| c.uid_search(&keys))
            };
            return Ok(CountIds::Esearch {
                new: queue(
                    "UID SEARCH (count new)",
                    count_search(Folder::Inbox, &self.identity),
                )?,
                urgent: queue(
                    "UID SEARCH (count urgent)",
                    count_search(Folder::Urgent, &self.identity),
                )?,
                old: queue(
                    "UID SEARCH (count old)",
                    count_search(Folder::Old, &self.identity),
                )?,
                old_flagged: queue("UID SEARCH (count old urgent)", old_flagged)?,
            });
        }
        let keys = wire_keys(&all_search(&self.identity));
        let search = s.queue("UID SEARCH (count)", |c| c.uid_search(&keys))?;
        // From the oldest message known to be ours (or the first) to the newest: flags only.
        let first = mem
            .headers
            .iter()
            .filter(|(_, h)| self.ours(h))
            .map(|(u, _)| *u)
            .min()
            .unwrap_or(1);
        let range = match (WireUid::new(first), WireUid::new(u32::MAX)) {
            (Some(a), Some(b)) => UidRange::Set(WireUidSet::range(a, b)),
            _ => UidRange::All,
        };
        let attrs = [FetchAttr::Flags];
        let fetch = s.queue("UID FETCH (count flags)", |c| c.uid_fetch(&range, &attrs))?;
        Ok(CountIds::SearchFetch { search, fetch })
    }

    /// Turns the count's answers into exact counts (via policy's tally); returns them and
    /// every UID of this box (ascending), for message numbers. `appended` is a message just
    /// appended with known flags, which a search run in parallel with the APPEND may miss.
    async fn finish_counts(
        &self,
        s: &mut Session,
        mem: &mut FolderMemory,
        ids: CountIds,
        appended: Option<(u32, MessageFlags)>,
    ) -> Result<(MwiCounts, Vec<u32>)> {
        let (mut hits, mut flags) = take_hits(s, ids)?;
        if let Some((uid, fl)) = appended {
            if !hits.contains(&uid) {
                hits.push(uid);
            }
            flags.entry(uid).or_insert(fl);
        }
        self.tally_hits(s, mem, &hits, &mut flags).await
    }

    /// The exact counts of `hits` (UIDs the count's searches found, with the flags known so
    /// far): identity headers not cached yet are fetched (one round trip, none when every
    /// header is known), then policy tallies.
    async fn tally_hits(
        &self,
        s: &mut Session,
        mem: &mut FolderMemory,
        hits: &[u32],
        flags: &mut HashMap<u32, MessageFlags>,
    ) -> Result<(MwiCounts, Vec<u32>)> {
        self.learn(s, mem, hits.iter().copied(), flags, true)
            .await?;
        let facts: Vec<MessageFacts<'_>> = hits
            .iter()
            .filter_map(|u| {
                let h = mem.headers.get(u)?;
                if is_greeting(h.message_type.as_deref()) {
                    return None;
                }
                Some(MessageFacts {
                    uid: imapvm_policy::Uid::new(*u)?,
                    flags: *flags.get(u)?,
                    extension: h.extension.as_deref(),
                    context: h.context.as_deref(),
                })
            })
            .collect();
        let counts = MwiCounts::tally(&self.identity, &facts);
        let mut all: Vec<u32> = facts
            .iter()
            .filter(|f| {
                self.identity.matches(f.extension, f.context) && MessageState::of(f.flags).is_some()
            })
            .map(|f| f.uid.get())
            .collect();
        all.sort_unstable();
        all.dedup();
        Ok((counts, all))
    }

    // ------------------------------------------------------------------ count

    /// new / urgent / old of `imapfolder`, exactly (one round trip on a warm connection).
    pub async fn count(&self) -> Result<MwiCounts> {
        on_account!(self, |s, f| self.count_in(s, f).await)
    }

    pub(crate) async fn count_in(&self, s: &mut Session, f: &mut Folders) -> Result<MwiCounts> {
        let mut counted = count_many_in(&[self], s, f).await?;
        counted.pop().unwrap_or(Err(Error::Unexpected {
            account: s.label().to_owned(),
            command: "the count",
        }))
    }

    /// The RFC 3842 `application/simple-message-summary` body of the current counts.
    pub async fn message_summary(&self, account_uri: Option<&str>) -> Result<String> {
        let counts = self.count().await?;
        let summary =
            MessageSummary::new(counts, account_uri).map_err(|e| self.policy_error(e.into()))?;
        Ok(summary.to_string())
    }

    // ------------------------------------------------------------------ list

    /// The messages of this box in `scope` (`None`: every state of `imapfolder`), numbered
    /// as Asterisk numbers them, whatever the size in one round trip on a warm connection
    /// (the search and the fetch of the messages already known to be this box's and of new
    /// mail, pipelined), two on a cold one or when the folder changed meanwhile. `with_deleted`
    /// also numbers `\Deleted` messages (for `undelete`).
    pub async fn list(&self, scope: Option<Folder>, with_deleted: bool) -> Result<Listing> {
        on_account!(self, |s, f| self.list_in(s, f, scope, with_deleted).await)
    }

    /// What a warm listing fetches in the same flight as its search (empty on a cold
    /// connection, where nothing is known about the folder): the messages known to be this
    /// box's (for a folder scope, those of its previous listing: the others would mostly be
    /// fetched for nothing) and the [`new_uid_window`] (new mail). Never anything else: a
    /// shared folder's ordinary mail is fetched at most once, when it is new. Hits not
    /// covered are fetched afterwards.
    fn list_prefetch(&self, mem: &FolderMemory, key: &ListingKey) -> Vec<UidRange> {
        if mem.headers.is_empty() {
            return Vec::new();
        }
        let ours = |u: &u32| mem.headers.get(u).is_some_and(|h| self.ours(h));
        let known: Vec<u32> = match key.scope {
            Some(_) if !key.with_deleted => mem
                .listings
                .get(key)
                .filter(|l| l.uidvalidity() == UidValidity(mem.uid_validity))
                .map(|l| l.present().map(|(_, u)| u.get()).filter(ours).collect())
                .unwrap_or_default(),
            _ => mem.headers.keys().copied().filter(ours).collect(),
        };
        wire_set(known)
            .into_iter()
            .chain(new_uid_window(mem))
            .collect()
    }

    async fn list_in(
        &self,
        s: &mut Session,
        f: &mut Folders,
        scope: Option<Folder>,
        with_deleted: bool,
    ) -> Result<Listing> {
        if scope == Some(Folder::Greetings) {
            return Err(Error::Config {
                mailbox: self.id(),
                reason: "greetings are listed with `greeting get`".into(),
            });
        }
        let name = self.scope_mailbox(s, scope)?;
        let uid_validity = self.select(s, f, &name).await?;
        let keys = if with_deleted {
            wire_keys(&self.identity.header_keys())
        } else {
            match scope {
                None => wire_keys(&all_search(&self.identity)),
                Some(folder) => wire_keys(&listing_search(folder, &self.identity)),
            }
        };
        let attrs = list_attrs();
        let key = self.listing_key(scope, with_deleted);
        let prefetch = self.list_prefetch(f.get(&name), &key);
        // Round trip 1: the search, and on a warm connection the header fields of the
        // messages known to be this box's plus a window of UIDs above everything known.
        let mut attempt = 0;
        let (hits, mut fetched) = loop {
            let changes = s.view_changes();
            let search = s.queue("UID SEARCH (list)", |c| c.uid_search(&keys))?;
            let mut fetches = Vec::with_capacity(prefetch.len());
            for range in &prefetch {
                fetches.push(s.queue("UID FETCH (list)", |c| c.uid_fetch(range, &attrs))?);
            }
            let mut wait = vec![search];
            wait.extend(fetches.iter().copied());
            s.wait(&wait).await?;
            let hits = search_result(s, "UID SEARCH (list)", search);
            let mut fetched: HashMap<u32, imapvm_proto::FetchedMessage> = HashMap::new();
            for id in fetches {
                // A refused prefetch only means its hits are fetched afterwards.
                match fetch_result(s, "UID FETCH (list)", id) {
                    Ok(ms) => fetched.extend(ms.into_iter().map(|m| (m.uid.get(), m))),
                    Err(e) => {
                        tracing::debug!(mailbox = %self.id(), error = %e, "listing prefetch refused")
                    }
                }
            }
            // The server syncs our view (the pipelined NOOP) possibly after the search ran:
            // if it reported changes meanwhile, the answers may predate them (see
            // `count_many_in`). Ask once more on the synced view.
            if s.view_changes() != changes && attempt == 0 {
                attempt += 1;
                continue;
            }
            break (hits?, fetched);
        };
        let mem = f.get(&name);
        // Every fetched message's identity is learnt (not only the hits'): the next warm
        // listing's window starts above them, so ordinary mail is fetched once at most.
        let mut parsed: HashMap<u32, ListedRow> = HashMap::with_capacity(fetched.len());
        for (uid, m) in fetched.drain() {
            let row = ListedRow::of(&m);
            mem.headers.insert(uid, row.identity());
            parsed.insert(uid, row);
        }
        let hits: BTreeSet<u32> = hits.into_iter().collect();
        // Round trip 2, only when needed: hits the first flight did not cover, except those
        // known to be another box's or greetings (never listed, their identity cannot change).
        let missing: Vec<u32> = hits
            .iter()
            .copied()
            .filter(|u| !parsed.contains_key(u) && mem.headers.get(u).is_none_or(|h| self.ours(h)))
            .collect();
        if let Some(range) = wire_set(missing.iter().copied()) {
            let id = s.queue("UID FETCH (list)", |c| c.uid_fetch(&range, &attrs))?;
            s.wait(&[id]).await?;
            for m in fetch_result(s, "UID FETCH (list)", id)? {
                let row = ListedRow::of(&m);
                mem.headers.insert(m.uid.get(), row.identity());
                parsed.insert(m.uid.get(), row);
            }
        }
        let mut rows = Vec::new();
        for uid in hits {
            let Some(row) = parsed.remove(&uid) else {
                continue;
            };
            if !self.ours(&row.identity()) {
                continue;
            }
            let flags = row.flags;
            let shown = match scope {
                _ if with_deleted => true,
                None => !flags.deleted,
                Some(folder) => listed_in(folder, flags),
            };
            if !shown {
                continue;
            }
            rows.push((uid, flags, row.size, row.fields));
        }
        let numbers = MessageNumbers::new(
            UidValidity(uid_validity),
            rows.iter().filter_map(|r| imapvm_policy::Uid::new(r.0)),
        )
        .map_err(|e| self.policy_error(e.into()))?;
        let mut messages = Vec::with_capacity(rows.len());
        for (uid, flags, size, h) in rows {
            let number = imapvm_policy::Uid::new(uid)
                .and_then(|u| numbers.number_of(u))
                .map_or(0, MessageNumber::get);
            messages.push(ListedMessage {
                number,
                uid,
                state: MessageState::of(flags),
                flagged: flags.flagged,
                deleted: flags.deleted,
                caller_id_num: h.caller_id_num.or(h.caller_id).unwrap_or_default(),
                caller_id_name: h
                    .caller_id_name
                    .or(h.caller_id_name_alt)
                    .unwrap_or_default(),
                duration_secs: h.duration_secs.unwrap_or(0),
                orig_time: h.orig_time.unwrap_or(0),
                orig_date: h.orig_date.unwrap_or_default(),
                size,
                msg_id: h.msg_id,
            });
        }
        messages.sort_by_key(|m| m.number);
        mem.listings.insert(key, numbers);
        Ok(Listing {
            folder: name.as_wire().to_owned(),
            scope,
            uid_validity,
            messages,
        })
    }

    /// Parses a fetched message (`uid`) that must be one of this box's voicemails with
    /// audio: another box's message is reported as gone (it is not this box's to show), one
    /// without audio as [`Error::NoAudio`] (`purpose` is added to its reason, e.g. " to
    /// forward").
    pub(crate) fn parse_own_voicemail(
        &self,
        uid: u32,
        bytes: &[u8],
        purpose: &str,
    ) -> Result<imapvm_message::ParsedVoicemail> {
        let parsed = parse(bytes).map_err(|e| Error::NoAudio {
            mailbox: self.id(),
            uid,
            reason: e.to_string(),
        })?;
        if !self.identity.matches(
            parsed.headers.extension.as_deref(),
            parsed.headers.context.as_deref(),
        ) {
            return Err(Error::Vanished {
                mailbox: self.id(),
                uid,
            });
        }
        if parsed.voicemail.audio.is_empty() {
            return Err(Error::NoAudio {
                mailbox: self.id(),
                uid,
                reason: format!("no audio attachment{purpose}"),
            });
        }
        Ok(parsed)
    }

    /// The UID a reference names now. A number is resolved against the listing this store
    /// made (listing first when there is none); it never re-binds to another message.
    pub(crate) async fn resolve(
        &self,
        s: &mut Session,
        f: &mut Folders,
        target: MessageRef,
        scope: Option<Folder>,
        with_deleted: bool,
        verify_uid: bool,
    ) -> Result<u32> {
        let name = self.scope_mailbox(s, scope)?;
        let uid_validity = self.select(s, f, &name).await?;
        match target {
            MessageRef::Uid(uid) => {
                if verify_uid {
                    let mem = f.get(&name);
                    self.learn_identities(s, mem, [uid]).await?;
                    if !mem.headers.get(&uid).is_some_and(|h| self.ours(h)) {
                        return Err(Error::Vanished {
                            mailbox: self.id(),
                            uid,
                        });
                    }
                }
                Ok(uid)
            }
            MessageRef::Number(n) => {
                let key = self.listing_key(scope, with_deleted);
                if !f.get(&name).listings.contains_key(&key) {
                    self.list_in(s, f, scope, with_deleted).await?;
                }
                let mem = f.get(&name);
                let Some(listing) = mem.listings.get(&key) else {
                    return Err(Error::NoSuchMessage {
                        mailbox: self.id(),
                        number: n,
                        listed: 0,
                    });
                };
                let listed = listing.len();
                let Some(number) = MessageNumber::new(n) else {
                    return Err(Error::NoSuchMessage {
                        mailbox: self.id(),
                        number: n,
                        listed,
                    });
                };
                match listing.resolve(number, UidValidity(uid_validity)) {
                    Resolution::Message { uid, .. } => Ok(uid.get()),
                    Resolution::Vanished { uid } => Err(Error::Vanished {
                        mailbox: self.id(),
                        uid: uid.get(),
                    }),
                    Resolution::NoSuchNumber => Err(Error::NoSuchMessage {
                        mailbox: self.id(),
                        number: n,
                        listed,
                    }),
                    Resolution::StaleListing { listed, current } => {
                        // The old numbers mean nothing now: rebuild the listing, and refuse
                        // to act on a number the caller took from the old one.
                        mem.listings.remove(&key);
                        self.list_in(s, f, scope, with_deleted).await?;
                        Err(Error::StaleListing {
                            mailbox: self.id(),
                            folder: name.as_wire().to_owned(),
                            listed: listed.0,
                            current: current.0,
                        })
                    }
                }
            }
        }
    }

    // ------------------------------------------------------------------ play

    /// The message with its audio (recording, then the forward intro); marks it `\Seen`
    /// unless `peek`. Two round trips on a warm connection.
    pub async fn play(
        &self,
        target: MessageRef,
        scope: Option<Folder>,
        peek: bool,
    ) -> Result<Played> {
        on_account!(self, |s, f| self.play_in(s, f, target, scope, peek).await)
    }

    async fn play_in(
        &self,
        s: &mut Session,
        f: &mut Folders,
        target: MessageRef,
        scope: Option<Folder>,
        peek: bool,
    ) -> Result<Played> {
        let uid = self.resolve(s, f, target, scope, false, false).await?;
        let name = self.scope_mailbox(s, scope)?;
        let uid_validity = self.select(s, f, &name).await?;
        let vanished = || Error::Vanished {
            mailbox: self.id(),
            uid,
        };
        let range = wire_set([uid]).ok_or_else(vanished)?;
        let attrs = [FetchAttr::Flags, FetchAttr::Full];
        let changes = s.view_changes();
        let id = s.queue("UID FETCH (play)", |c| c.uid_fetch(&range, &attrs))?;
        s.wait(&[id]).await?;
        let mut fetched = fetch_result(s, "UID FETCH (play)", id)?;
        if fetched.is_empty() && s.view_changes() != changes {
            // A message newer than our view: fetch again from the synced view.
            let id = s.queue("UID FETCH (play)", |c| c.uid_fetch(&range, &attrs))?;
            s.wait(&[id]).await?;
            fetched = fetch_result(s, "UID FETCH (play)", id)?;
        }
        let Some(m) = fetched.into_iter().find(|m| m.uid.get() == uid) else {
            f.get(&name).vanish(&[uid].into_iter().collect());
            return Err(vanished());
        };
        let parsed = self.parse_own_voicemail(uid, m.full().unwrap_or_default(), "")?;
        let already_seen = m
            .flags
            .as_deref()
            .is_some_and(|fl| fl.contains(&Flag::Seen));
        if !peek && !already_seen {
            s.exec("UID STORE (seen)", |c| {
                c.uid_store(&range, StoreMode::Add, &[Flag::Seen], true)
            })
            .await?;
        }
        Ok(Played {
            uid,
            uid_validity,
            voicemail: parsed.voicemail,
            marked_seen: !peek,
        })
    }

    // ------------------------------------------------------------------ flags

    /// mark-read, mark-unread, urgent, not-urgent.
    pub async fn set_flag(
        &self,
        target: MessageRef,
        scope: Option<Folder>,
        op: FlagOp,
    ) -> Result<Report> {
        on_account!(self, |s, f| self.set_flag_in(s, f, target, scope, op).await)
    }

    async fn set_flag_in(
        &self,
        s: &mut Session,
        f: &mut Folders,
        target: MessageRef,
        scope: Option<Folder>,
        op: FlagOp,
    ) -> Result<Report> {
        let uid = self.resolve(s, f, target, scope, false, true).await?;
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
        uid: u32,
        mode: StoreMode,
        flag: Flag,
    ) -> Result<Report> {
        let range = wire_set([uid]).ok_or(Error::Vanished {
            mailbox: self.id(),
            uid,
        })?;
        let out = s
            .exec("UID STORE", |c| c.uid_store(&range, mode, &[flag], false))
            .await?;
        let mut report = Report::default();
        match out {
            Outcome::Store(changed) if changed.iter().any(|(u, _)| u.get() == uid) => {
                report.done.push(uid);
            }
            _ => report.vanished.push(uid),
        }
        Ok(report)
    }

    /// Removes `\Deleted` from a message (numbers from a listing made `with_deleted`).
    pub async fn undelete(&self, target: MessageRef, scope: Option<Folder>) -> Result<Report> {
        on_account!(self, |s, f| {
            let uid = self.resolve(s, f, target, scope, true, true).await?;
            self.store_flags(s, uid, StoreMode::Remove, Flag::Deleted)
                .await
        })
    }

    // ------------------------------------------------------------------ plans

    async fn execute(
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

    fn expunge_context(
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
            sharing: Mailbox::sharing(mailbox),
            expunge_on_hangup,
        }
    }

    /// Deletes messages: `\Deleted`, then the policy's expunge plan (UID EXPUNGE, a verified
    /// EXPUNGE in a dedicated folder, or a deferral). Never expunges mail it did not flag.
    pub async fn delete(&self, targets: &[MessageRef], scope: Option<Folder>) -> Result<Report> {
        on_account!(self, |s, f| {
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
    }

    /// Expunges this box's `\Deleted` messages in `scope` (an operator's explicit expunge:
    /// runs even with `expungeonhangup=no`), reporting what it did and what it deferred.
    pub async fn expunge(&self, scope: Option<Folder>) -> Result<Report> {
        on_account!(self, |s, f| {
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
    }

    /// Saves a message into another Asterisk folder (Old, Work, Family, Friends, Cust1–5, or
    /// back to INBOX/Urgent), creating the folder when missing.
    pub async fn move_to(
        &self,
        target: MessageRef,
        scope: Option<Folder>,
        to: Folder,
    ) -> Result<Report> {
        on_account!(self, |s, f| {
            let uid = self.resolve(s, f, target, scope, false, true).await?;
            let name = self.scope_mailbox(s, scope)?;
            let uv = self.select(s, f, &name).await?;
            let range = wire_set([uid]).ok_or(Error::Vanished {
                mailbox: self.id(),
                uid,
            })?;
            let out = s
                .exec("UID FETCH (flags)", |c| {
                    c.uid_fetch(&range, &[FetchAttr::Flags])
                })
                .await?;
            let Outcome::Fetch(msgs) = out else {
                return Err(Error::Unexpected {
                    account: s.label().to_owned(),
                    command: "UID FETCH",
                });
            };
            let Some(m) = msgs.into_iter().find(|m| m.uid.get() == uid) else {
                return Err(Error::Vanished {
                    mailbox: self.id(),
                    uid,
                });
            };
            let flags = flags_of(m.flags.as_deref().unwrap_or_default());
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
                Some(folder) if !matches!(folder, Folder::Inbox | Folder::Old | Folder::Urgent) => {
                    folder
                }
                _ => MessageState::of(flags).map_or(Folder::Inbox, MessageState::folder),
            };
            let layout = self.layout(s)?;
            let ctx = self.expunge_context(s, &name, uv, true);
            let plan = plan_save(
                &ctx,
                &layout,
                &policy_set([uid]),
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
    }

    // ------------------------------------------------------------------ deposit

    /// Stores a voicemail: admission (quota and `maxmsg`, by policy), build (message crate,
    /// default mode), APPEND (`\Flagged` when urgent), UID from APPENDUID (else a search by
    /// message id), and the MWI recount. Two round trips on a warm connection. When refused,
    /// nothing is stored and nothing is deleted: the caller still has the recording.
    pub async fn deposit(&self, vm: &NewVoicemail) -> Result<Deposited> {
        // Never retried automatically: an APPEND that reached the server must not be doubled.
        let slot_arc = self.store.pool.slot(&self.account.key());
        let mut guard = slot_arc.lock().await;
        let slot = &mut *guard;
        let result = async {
            let s = slot.conn.session(&self.account).await?;
            self.deposit_in(s, &mut slot.folders, vm, &mut crate::outbox::NoJournal)
                .await
        }
        .await;
        slot.conn.absorb_gone(&mut slot.folders);
        if let Err(e) = &result
            && e.is_connection_lost()
        {
            slot.conn.drop_session();
        }
        drop(guard);
        // A running MWI watcher publishes the new counts now.
        self.store.bus.touched(&self.account, &self.id);
        result
    }

    pub(crate) fn limits(&self) -> Limits {
        Limits {
            maxmsg: self.settings.maxmsg.value,
            minsecs: self.settings.minsecs.value,
            maxsecs: self.settings.maxsecs.value,
            maxgreet: self.settings.maxgreet.value,
        }
    }

    fn quota_of(outcome: Outcome) -> Vec<imapvm_policy::QuotaResource> {
        match outcome {
            Outcome::QuotaRoots(roots) => roots
                .quotas
                .iter()
                .flat_map(|q| q.resources.iter())
                .map(|r| imapvm_policy::QuotaResource {
                    name: QuotaResourceName::from_atom(&r.name),
                    usage: r.usage,
                    limit: r.limit,
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    pub(crate) fn message_id(&self, now: i64, rand: u32) -> String {
        format!(
            "<imapvm-{now}-{rand:08x}-{}@{}>",
            self.id.mailbox(),
            self.store.hostname
        )
    }

    pub(crate) fn build_message(&self, vm: Voicemail, now: i64, rand: u32) -> Result<Vec<u8>> {
        let envelope = imapvm_message::Envelope {
            date: now,
            message_id: self.message_id(now, rand),
            boundary: format!("----voicemail_imapvm{now}{rand:08x}"),
            hostname: self.store.hostname.clone(),
        };
        imapvm_message::build(
            &vm,
            &self.message_settings()?,
            &envelope,
            imapvm_message::Mode::Default,
        )
        .map_err(|source| Error::Build {
            mailbox: self.id(),
            source,
        })
    }

    /// The message bytes of a deposit, with message number `msgnum`, at `now` (Unix
    /// seconds), `rand` making Message-ID, boundary and msg id unique.
    pub(crate) fn compose(
        &self,
        new: &NewVoicemail,
        msgnum: u32,
        now: i64,
        rand: u32,
    ) -> Result<crate::outbox::Composed> {
        let Some(recording) = &new.recording else {
            return Err(Error::Config {
                mailbox: self.id(),
                reason: "a deposit needs a recording".into(),
            });
        };
        let msg_id = format!("{now}-{rand:08x}");
        let settings = self.message_settings()?;
        let mut audio = vec![AudioPart::recording(
            msgnum,
            &recording.format,
            recording.bytes.clone(),
        )];
        if let Some(intro) = &new.intro {
            audio.push(AudioPart::intro(msgnum, &intro.format, intro.bytes.clone()));
        }
        let vm = Voicemail {
            mailbox: self.id.mailbox().to_owned(),
            context: self.id.context().to_owned(),
            extension: self.identity.extension().to_owned(),
            msgnum,
            server_name: self.settings.fromstring.value.clone(),
            flag: match new.urgency {
                Urgency::Normal => imapvm_message::Flag::None,
                Urgency::Urgent => imapvm_message::Flag::Urgent,
                Urgency::Priority => imapvm_message::Flag::Priority,
            },
            priority: 1,
            caller_id_num: new.caller_id_num.clone(),
            caller_id_name: new.caller_id_name.clone(),
            duration_secs: new.duration_secs,
            category: String::new(),
            message_type: MessageType::Message,
            orig_date: settings.email_date(now).map_err(|source| Error::Build {
                mailbox: self.id(),
                source,
            })?,
            orig_time: now,
            msg_id: Some(msg_id.clone()),
            caller_channel: None,
            audio,
        };
        let bytes = self.build_message(vm, now, rand)?;
        Ok(crate::outbox::Composed {
            bytes: Arc::from(bytes),
            msg_id,
            message_id: self.message_id(now, rand),
            urgent: new.urgency == Urgency::Urgent,
        })
    }

    /// The deposit itself; `journal` keeps the bytes durable from just before the APPEND
    /// (the outbox) or does nothing (plain [`Mailbox::deposit`]).
    pub(crate) async fn deposit_in(
        &self,
        s: &mut Session,
        f: &mut Folders,
        new: &NewVoicemail,
        journal: &mut (dyn crate::outbox::Journal + Send),
    ) -> Result<Deposited> {
        if new.recording.is_none() {
            return Err(Error::Config {
                mailbox: self.id(),
                reason: "a deposit needs a recording".into(),
            });
        }
        let name = self.scope_mailbox(s, None)?;
        self.select(s, f, &name).await?;
        let wire = WireMailbox::new(name.as_wire());
        // Round trip 1: quota and the counts (for maxmsg and the message number), and the
        // identity headers of mail added since the folder was last looked at (else a hit
        // the count finds there costs a round trip of its own).
        let quota_id = if s.capabilities().quota() {
            Some(s.queue("GETQUOTAROOT", |c| c.get_quota_root(&wire))?)
        } else {
            None
        };
        let changes = s.view_changes();
        let ids = self.queue_count(s, f.get(&name))?;
        let news = queue_new_identities(s, f.get(&name))?;
        let mut wait: Vec<CommandId> = ids.ids();
        wait.extend(quota_id);
        wait.extend(news);
        s.wait(&wait).await?;
        learn_new_identities(s, f.get(&name), news);
        let quota = match quota_id {
            Some(id) => match s.take("GETQUOTAROOT", id) {
                Ok(o) => Mailbox::quota_of(o),
                Err(e) => {
                    tracing::debug!(mailbox = %self.id(), error = %e, "no quota information");
                    Vec::new()
                }
            },
            None => Vec::new(),
        };
        let (mut counts, _) = self.finish_counts(s, f.get(&name), ids, None).await?;
        // The server may sync our view (the pipelined NOOP) after the count ran: if it
        // reported changes meanwhile and that could decide maxmsg, count once more on the
        // synced view (policy: `recount_before_admission`).
        let delta = s.view_changes().saturating_sub(changes);
        if recount_before_admission(counts.total(), delta, self.limits()) {
            let again = self.queue_count(s, f.get(&name))?;
            s.wait(&again.ids()).await?;
            counts = self.finish_counts(s, f.get(&name), again, None).await?.0;
        }

        let now = now_secs();
        let rand = random_u32();
        let msgnum = counts.total().saturating_add(1);
        let composed = self.compose(new, msgnum, now, rand)?;
        let msg_id = composed.msg_id.clone();
        let verdict = admit(
            Deposit {
                kind: DepositKind::Voicemail,
                size_bytes: composed.bytes.len() as u64,
                duration_secs: new.duration_secs,
            },
            self.limits(),
            imapvm_policy::MwiState::Known(counts),
            0,
            &quota,
        );
        if let AdmissionVerdict::Refuse(reasons) = verdict {
            let reasons: Vec<DepositRefusal> =
                reasons.into_iter().map(DepositRefusal::Policy).collect();
            journal.refused(self, &composed, &reasons)?;
            return Err(Error::DepositRefused {
                mailbox: self.id(),
                reasons,
            });
        }

        // Round trip 2: APPEND (LITERAL+) and the recount pipelined behind it. Dovecot runs
        // the recount in parallel with the APPEND, so the new message (whose flags we know)
        // is added when the recount's view predates it.
        let urgent = new.urgency == Urgency::Urgent;
        let flags = if urgent {
            vec![Flag::Flagged]
        } else {
            Vec::new()
        };
        let message: Arc<[u8]> = Arc::clone(&composed.bytes);
        journal.appending(self, &composed)?;
        let append_id = s.queue("APPEND", |c| c.append(&wire, &flags, Arc::clone(&message)))?;
        // Courier reports the EXISTS of our own APPEND only at the next command that syncs:
        // a NOOP here (pipelined, no extra round trip) takes it in now, so that the next
        // count does not see a "change" and count twice.
        let sync_id = s.queue("NOOP", |c| c.noop())?;
        let ids = self.queue_count(s, f.get(&name))?;
        // Mail another client added meanwhile (its identity is needed for the recount).
        let news = queue_new_identities(s, f.get(&name))?;
        let mut wait = ids.ids();
        wait.extend([append_id, sync_id]);
        wait.extend(news);
        s.wait(&wait).await?;
        learn_new_identities(s, f.get(&name), news);
        let _ = s.take("NOOP", sync_id);
        let appended = match s.take("APPEND", append_id) {
            Ok(o) => o,
            Err(Error::Protocol { source, .. }) if !source.is_fatal() => {
                let over_quota = crate::outbox::says_over_quota(&source);
                ids.discard(s);
                let reasons = vec![DepositRefusal::Server {
                    over_quota,
                    text: source.to_string(),
                }];
                journal.refused(self, &composed, &reasons)?;
                return Err(Error::DepositRefused {
                    mailbox: self.id(),
                    reasons,
                });
            }
            Err(e) => return Err(e),
        };
        let (uid, uid_validity, from_appenduid) = match appended {
            Outcome::Appended(Some(a)) => (a.uid.get(), a.uid_validity.get(), true),
            _ => {
                // No UIDPLUS: find it by its msg id, after the APPEND completed.
                let keys = [WireKey::Header(MSG_ID_HEADER.to_owned(), msg_id.clone())];
                let found = match s
                    .exec("UID SEARCH (msg id)", |c| c.uid_search(&keys))
                    .await?
                {
                    Outcome::Search(u) => u.into_iter().map(WireUid::get).collect::<Vec<_>>(),
                    _ => Vec::new(),
                };
                let uid = found.into_iter().max().ok_or(Error::Unexpected {
                    account: s.label().to_owned(),
                    command: "APPEND (the new message was not found by its msg id)",
                })?;
                (uid, s.selected().map_or(0, |sel| sel.uid_validity), false)
            }
        };
        let mem = f.get(&name);
        if uid_validity == mem.uid_validity {
            mem.headers.insert(
                uid,
                IdentityHeaders {
                    extension: Some(self.identity.extension().to_owned()),
                    context: Some(self.identity.context().to_owned()),
                    message_type: Some("Message".to_owned()),
                },
            );
        }
        let new_flags = MessageFlags {
            flagged: urgent,
            ..MessageFlags::default()
        };
        let (counts, all) = self
            .finish_counts(s, mem, ids, Some((uid, new_flags)))
            .await?;
        let number = all
            .iter()
            .position(|u| *u == uid)
            .and_then(|i| u32::try_from(i + 1).ok());
        Ok(Deposited {
            uid,
            uid_validity,
            number,
            counts,
            msg_id,
            from_appenduid,
        })
    }

    // ------------------------------------------------------------------ greetings

    fn greetings_enabled(&self) -> Result<()> {
        if self.settings.imapgreetings.value {
            Ok(())
        } else {
            Err(Error::GreetingsDisabled { mailbox: self.id() })
        }
    }

    /// The greetings named `name` of this box: identity headers *and* part-2 attachment name
    /// must match; foreign or malformed mail in the folder is skipped.
    async fn find_greetings(
        &self,
        s: &mut Session,
        f: &mut Folders,
        name: &str,
    ) -> Result<(MailboxName, u32, Vec<(u32, Voicemail)>)> {
        let folder = self.layout(s)?.mailbox_name(Folder::Greetings);
        let uv = self.select(s, f, &folder).await?;
        let mut keys = vec![WireKey::Undeleted];
        keys.extend(wire_keys(&self.identity.header_keys()));
        let id = s.queue("UID SEARCH (greetings)", |c| c.uid_search(&keys))?;
        s.wait(&[id]).await?;
        let hits = search_result(s, "UID SEARCH (greetings)", id)?;
        let mem = f.get(&folder);
        self.learn_identities(s, mem, hits.iter().copied()).await?;
        let candidates: Vec<u32> = hits
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
        if let Some(range) = wire_set(candidates.iter().copied()) {
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
                    found.push((m.uid.get(), parsed.voicemail));
                }
            }
        }
        Ok((folder, uv, found))
    }

    /// The greeting `name` (`unavail`, `busy`, `greet`, `temp`), if stored.
    pub async fn greeting_get(&self, name: &str) -> Result<Option<Greeting>> {
        self.greetings_enabled()?;
        on_account!(self, |s, f| {
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
        on_account!(self, |s, f| {
            let (folder, uv, old) = self.find_greetings(s, f, name).await?;
            let wire = WireMailbox::new(folder.as_wire());
            let quota = if s.capabilities().quota() {
                let out = s.exec("GETQUOTAROOT", |c| c.get_quota_root(&wire)).await;
                out.map(Mailbox::quota_of).unwrap_or_default()
            } else {
                Vec::new()
            };
            let now = now_secs();
            let rand = random_u32();
            let settings = self.message_settings()?;
            let vm = Voicemail {
                mailbox: self.id.mailbox().to_owned(),
                context: self.id.context().to_owned(),
                extension: self.identity.extension().to_owned(),
                msgnum: 0,
                server_name: self.settings.fromstring.value.clone(),
                priority: 1,
                duration_secs,
                message_type: MessageType::Greeting(name.to_owned()),
                orig_date: settings.email_date(now).map_err(|source| Error::Build {
                    mailbox: self.id(),
                    source,
                })?,
                orig_time: now,
                msg_id: None,
                audio: vec![AudioPart::greeting(
                    name,
                    &audio.format,
                    audio.bytes.clone(),
                )],
                ..Voicemail::default()
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
                    mailbox: self.id(),
                    reasons: reasons.into_iter().map(DepositRefusal::Policy).collect(),
                });
            }
            let message: Arc<[u8]> = Arc::from(bytes);
            let out = s
                .exec("APPEND (greeting)", |c| c.append(&wire, &[], message))
                .await?;
            let mut report = if old.is_empty() {
                Report::default()
            } else {
                let ctx = self.expunge_context(s, &folder, uv, true);
                let plan = plan_delete(
                    &ctx,
                    &policy_set(old.iter().map(|(u, _)| *u)),
                    &ForeignDeleted::Unknown,
                )
                .map_err(|e| self.policy_error(e.into()))?;
                self.execute(s, f, &plan).await?
            };
            if let Outcome::Appended(Some(a)) = out {
                report.done.push(a.uid.get());
            }
            report.destination = Some(folder.as_wire().to_owned());
            Ok(report)
        })
    }

    /// Deletes the greeting `name`.
    pub async fn greeting_delete(&self, name: &str) -> Result<Report> {
        self.greetings_enabled()?;
        on_account!(self, |s, f| {
            let (folder, uv, old) = self.find_greetings(s, f, name).await?;
            let ctx = self.expunge_context(s, &folder, uv, true);
            let plan = plan_delete(
                &ctx,
                &policy_set(old.iter().map(|(u, _)| *u)),
                &ForeignDeleted::Unknown,
            )
            .map_err(|e| self.policy_error(e.into()))?;
            self.execute(s, f, &plan).await
        })
    }

    // ------------------------------------------------------------------ probe

    /// Capabilities, namespace, delimiter, quota and the voicemail folders; with `create`, the
    /// missing folders are created.
    pub async fn probe(&self, create: bool) -> Result<Probe> {
        on_account!(self, |s, f| {
            let _ = &f;
            let layout = self.layout(s)?;
            let mut wanted = vec![
                Folder::Inbox,
                Folder::Work,
                Folder::Family,
                Folder::Friends,
                Folder::Cust1,
                Folder::Cust2,
                Folder::Cust3,
                Folder::Cust4,
                Folder::Cust5,
            ];
            if self.settings.imapgreetings.value {
                wanted.push(Folder::Greetings);
            }
            let listed = match s.exec("LIST", |c| c.list("", "*")).await? {
                Outcome::List(entries) => entries,
                _ => Vec::new(),
            };
            let mailboxes: Vec<String> = listed
                .iter()
                .map(|e| e.mailbox.as_str().to_owned())
                .collect();
            let exists = |name: &MailboxName| {
                name.is_inbox()
                    || listed.iter().any(|e| {
                        MailboxName::from_wire(e.mailbox.as_str())
                            .is_ok_and(|n| n.same_mailbox(name))
                    })
            };
            let mut folders = Vec::new();
            let mut seen: Vec<MailboxName> = Vec::new();
            for folder in wanted {
                let mailbox = layout.mailbox_name(folder);
                if seen.iter().any(|n| n.same_mailbox(&mailbox)) {
                    continue;
                }
                seen.push(mailbox.clone());
                let mut check = FolderCheck {
                    folder: folder.asterisk_name().to_owned(),
                    mailbox: mailbox.as_wire().to_owned(),
                    exists: exists(&mailbox),
                    created: false,
                };
                if create && !check.exists {
                    s.create(&mailbox).await?;
                    check.exists = true;
                    check.created = true;
                }
                folders.push(check);
            }
            let inbox = WireMailbox::new(layout.mailbox_name(Folder::Inbox).as_wire());
            let mut quota = Vec::new();
            if s.capabilities().quota()
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
                account: s.label().to_owned(),
                capabilities: s.capabilities().iter().map(str::to_owned).collect(),
                namespace: s.hierarchy().prefix().to_owned(),
                delimiter: s.hierarchy().delimiter(),
                quota,
                folders,
                mailboxes,
            })
        })
    }
}

/// For tests of this module: the listing keys are per scope and deletion mode.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_keys_become_wire_keys_in_order() {
        let id = imapvm_policy::MailboxId::parse("12@default").unwrap();
        let me = imapvm_policy::VoicemailIdentity::new(&id, None).unwrap();
        let keys = wire_keys(&imapvm_policy::count_search(Folder::Inbox, &me));
        assert_eq!(
            keys,
            vec![
                WireKey::Undeleted,
                WireKey::Unflagged,
                WireKey::Unseen,
                WireKey::Header("X-Asterisk-VM-Extension".into(), "12".into()),
                WireKey::Header("X-Asterisk-VM-Context".into(), "default".into()),
            ]
        );
    }

    #[test]
    fn greetings_are_told_apart_from_messages() {
        assert!(!is_greeting(None));
        assert!(!is_greeting(Some("Message")));
        assert!(is_greeting(Some("unavail")));
    }

    #[test]
    fn uid_sets_skip_zero() {
        assert_eq!(wire_set([0]), None);
        assert_eq!(
            wire_set([3, 1, 2]).map(|r| match r {
                UidRange::Set(s) => s.to_wire(),
                UidRange::All => String::new(),
            }),
            Some("1:3".to_owned())
        );
    }

    #[test]
    fn random_values_differ() {
        let a: HashMap<u32, ()> = (0..100).map(|_| (random_u32(), ())).collect();
        assert!(a.len() > 95);
    }

    /// A server that never sends APPENDUID (Dovecot always does, so this path needs a
    /// scripted peer): the UID comes from a search by msg id, after the APPEND completed.
    #[tokio::test]
    async fn without_appenduid_the_uid_is_found_by_msg_id() {
        use std::sync::Mutex;
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let seen = Arc::clone(&log);
        tokio::spawn(async move {
            let (sock, _) = listener.accept().await.unwrap();
            let (r, mut w) = sock.into_split();
            let mut r = BufReader::new(r);
            let caps = "IMAP4rev1 AUTH=PLAIN SASL-IR LITERAL+ NAMESPACE";
            w.write_all(format!("* OK [CAPABILITY {caps}] scripted\r\n").as_bytes())
                .await
                .unwrap();
            let mut appended = false;
            loop {
                let mut line = Vec::new();
                if r.read_until(b'\n', &mut line).await.unwrap_or(0) == 0 {
                    break;
                }
                let text = String::from_utf8_lossy(&line).trim_end().to_owned();
                // A LITERAL+ literal: skip its bytes and the rest of the command line.
                if let Some(n) = text
                    .strip_suffix("+}")
                    .and_then(|t| t.rsplit_once('{'))
                    .and_then(|(_, n)| n.parse::<usize>().ok())
                {
                    let mut body = vec![0; n];
                    r.read_exact(&mut body).await.unwrap();
                    let mut rest = Vec::new();
                    r.read_until(b'\n', &mut rest).await.unwrap();
                }
                seen.lock().unwrap().push(text.clone());
                let (tag, cmd) = text.split_once(' ').unwrap_or((&text, ""));
                let reply = if cmd.starts_with("AUTHENTICATE") {
                    format!("{tag} OK [CAPABILITY {caps}] logged in\r\n")
                } else if cmd.starts_with("NAMESPACE") {
                    format!("* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n{tag} OK done\r\n")
                } else if cmd.starts_with("SELECT") {
                    format!(
                        "* 0 EXISTS\r\n* OK [UIDVALIDITY 7] v\r\n{tag} OK [READ-WRITE] selected\r\n"
                    )
                } else if cmd.starts_with("APPEND") {
                    appended = true;
                    format!("* 1 EXISTS\r\n{tag} OK Append completed\r\n")
                } else if cmd.starts_with("UID SEARCH") {
                    let hit = if appended { " 5" } else { "" };
                    format!("* SEARCH{hit}\r\n{tag} OK done\r\n")
                } else if cmd.starts_with("UID FETCH") && appended {
                    format!("* 1 FETCH (UID 5 FLAGS ())\r\n{tag} OK done\r\n")
                } else if cmd.starts_with("LOGOUT") {
                    format!("* BYE\r\n{tag} OK done\r\n")
                } else {
                    format!("{tag} OK done\r\n")
                };
                if w.write_all(reply.as_bytes()).await.is_err() {
                    break;
                }
            }
        });
        let conf = format!(
            "[general]\nimapserver=127.0.0.1\nimapport={port}\nimapflags=notls\nformat=wav\n\
             [default]\n1234 => 1234,A,,,imapuser=vm|imappassword=pw\n"
        );
        let parsed = imapvm_config::parse_bytes("voicemail.conf", conf.as_bytes());
        let store = crate::Store::new(parsed.config);
        let mb = store.mailbox("1234@default").unwrap();
        let d = mb
            .deposit(&NewVoicemail {
                recording: Some(crate::Audio {
                    format: "wav".into(),
                    bytes: b"RIFF....WAVE".to_vec(),
                }),
                duration_secs: 1,
                ..NewVoicemail::default()
            })
            .await
            .unwrap();
        assert_eq!((d.uid, d.uid_validity, d.from_appenduid), (5, 7, false));
        assert_eq!(d.counts.new, 1);
        let lines = log.lock().unwrap().clone();
        let append = lines.iter().position(|l| l.contains("APPEND")).unwrap();
        let by_id = lines
            .iter()
            .position(|l| {
                l.contains(&format!("X-Asterisk-VM-Message-ID \"{}\"", d.msg_id))
                    || l.contains(&format!("X-Asterisk-VM-Message-ID {}", d.msg_id))
            })
            .unwrap_or_else(|| panic!("no search by msg id in {lines:#?}"));
        assert!(by_id > append, "{lines:#?}");
        store.close().await;
    }
}
