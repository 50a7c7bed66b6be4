//! Listing: a box's messages numbered as Asterisk numbers them, and resolving a number
//! (or UID) to the UID it names now.

use std::collections::{BTreeSet, HashMap};

use imapvm_message::{HeaderBlock, LISTING_FIELDS};
use imapvm_policy::{
    Capability, FlightOutcome, Folder, KnownFlags, ListCommands, ListSearches, MailboxName,
    MessageFlags, MessageNumbers, MessageState, Resolution, Uid, UidSet, list_prefetch,
    listing_shows,
};
use imapvm_proto::{CommandId, FetchAttr, UidRange};

use super::{
    FlagMemory, KnownPlan, fetch_result, folder_kept_changing, forget_gone, search_result,
    take_saved_known,
};
use crate::error::{Error, Misuse, Result};
use crate::pool::Listed;
use crate::pool::{FolderMemory, Folders, IdentityHeaders, ListingKey, RowFacts};
use crate::session::Session;
use crate::store::Retry;
use crate::store::{ListedMessage, Listing, Mailbox, MessageRef, scope_index};

/// Whether [`Mailbox::resolve`] checks that a UID it is given is this box's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ownership {
    /// Check now (its identity headers; one round trip when they are not known yet).
    Check,
    /// The caller fetches the message anyway and checks it then (play).
    CheckedByCaller,
}

/// The fetch items of a listing.
fn list_attrs() -> [FetchAttr; 3] {
    [
        FetchAttr::Flags,
        FetchAttr::Rfc822Size,
        FetchAttr::HeaderFields(LISTING_FIELDS.iter().map(|s| (*s).to_owned()).collect()),
    ]
}

/// One message of a listing: its flags and the rest of its row.
struct ListedRow {
    flags: MessageFlags,
    facts: RowFacts,
}

impl ListedRow {
    fn of(m: &imapvm_proto::FetchedMessage) -> Self {
        Self {
            flags: MessageFlags::from_flags(m.flags.iter().flatten()),
            facts: RowFacts {
                size: m.size.unwrap_or(0),
                fields: HeaderBlock::parse(m.header_fields().unwrap_or_default()).fields,
            },
        }
    }

    fn identity(&self) -> IdentityHeaders {
        let fields = &self.facts.fields;
        IdentityHeaders {
            extension: fields.extension.clone(),
            context: fields.context.clone(),
            message_type: fields.message_type.clone(),
        }
    }
}

/// The first flight of a listing (see [`Mailbox::list_in`]).
type ListFlight = ListCommands<CommandId>;

/// A listing's first answers.
struct ListAnswers {
    /// The hits (the UIDs of `remembered` among them).
    hits: Vec<Uid>,
    /// The messages fetched.
    fetched: HashMap<Uid, imapvm_proto::FetchedMessage>,
    /// The known UIDs asked only what changed (CHANGEDSINCE), with their flags: the rest of
    /// their rows is remembered (`FolderMemory::rows`).
    remembered: Vec<(Uid, MessageFlags)>,
    /// The hits of the header keys alone (to learn from; `None` when there are none).
    classified: Option<Vec<Uid>>,
    /// The remembered flags to keep (`None`: none were planned; `Some(None)`: forget them).
    memory: Option<Option<KnownFlags>>,
}

/// Takes every answer of `flight` (each one, whatever happens to the others); a saved search
/// with the remembered flags as `plan` says (`gone`: see `take_saved_known`).
#[allow(clippy::too_many_arguments)]
fn take_list(
    flight: ListFlight,
    plan: Option<&KnownPlan>,
    s: &mut Session,
    f: &mut Folders,
    name: &MailboxName,
    mb: &Mailbox,
    headers_only: bool,
    gone: &UidSet,
) -> Result<ListAnswers> {
    match flight {
        ListFlight::Saved(q) => {
            let k = take_saved_known(s, f, name, &mb.voicemail_key(name), &q, plan, gone)?;
            let mut hits: Vec<Uid> = k.remembered.iter().map(|(u, _)| *u).collect();
            hits.extend(k.found.iter().map(|m| m.uid));
            Ok(ListAnswers {
                classified: Some(hits.clone()),
                hits,
                fetched: k.found.into_iter().map(|m| (m.uid, m)).collect(),
                remembered: k.remembered,
                memory: k.memory,
            })
        }
        ListFlight::Plain {
            search,
            classifier,
            fetches,
        } => {
            let hits = search_result(s, "UID SEARCH (list)", search);
            // A refused header search only means nothing is learnt.
            let classified =
                classifier.and_then(|id| search_result(s, "UID SEARCH (list headers)", id).ok());
            let mut fetched = HashMap::new();
            for id in fetches {
                // A refused prefetch only means its hits are fetched afterwards.
                match fetch_result(s, "UID FETCH (list)", id) {
                    Ok(ms) => fetched.extend(ms.into_iter().map(|m| (m.uid, m))),
                    Err(e) => {
                        tracing::debug!(mailbox = %mb.id(), error = %e, "listing prefetch refused")
                    }
                }
            }
            let hits = hits?;
            let classified = if headers_only {
                Some(hits.clone())
            } else {
                classified
            };
            Ok(ListAnswers {
                hits,
                fetched,
                remembered: Vec::new(),
                classified,
                memory: None,
            })
        }
    }
}

impl Mailbox {
    pub(super) fn listing_key(&self, scope: Option<Folder>, listed: Listed) -> ListingKey {
        ListingKey {
            extension: self.identity.extension().to_owned(),
            context: self.identity.context().to_owned(),
            scope: scope_index(scope),
            listed,
        }
    }

    // ------------------------------------------------------------------ list

    /// The messages of this box in `scope` (`None`: every state of `imapfolder`), numbered
    /// as Asterisk numbers them, whatever the size in one round trip on a warm connection
    /// (the search and the fetch of the messages already known to be this box's and of new
    /// mail, pipelined; with CONDSTORE the known rows are asked only which flags changed
    /// since, the rest of each row remembered), two on a cold one or when the folder changed
    /// meanwhile.
    pub async fn list(&self, scope: Option<Folder>) -> Result<Listing> {
        self.list_as(scope, Listed::Present).await
    }

    /// [`Mailbox::list`], numbering the `\Deleted` messages too (for `undelete`).
    pub async fn list_with_deleted(&self, scope: Option<Folder>) -> Result<Listing> {
        self.list_as(scope, Listed::WithDeleted).await
    }

    async fn list_as(&self, scope: Option<Folder>, listed: Listed) -> Result<Listing> {
        self.with_account(Retry::IfWarm, |a| {
            Box::pin(self.list_in(a.session, a.folders, scope, listed))
        })
        .await
    }

    /// The row of a message a listing fetched; its identity is learnt, and the rest of its row
    /// remembered when it is this box's (`FolderMemory::rows`, sized by its header block).
    /// `sizes`: the remembered RFC822.SIZE of messages fetched without it.
    fn learn_row(
        &self,
        mem: &mut FolderMemory,
        m: &imapvm_proto::FetchedMessage,
        sizes: &HashMap<Uid, u32>,
    ) -> ListedRow {
        let mut row = ListedRow::of(m);
        if m.size.is_none()
            && let Some(size) = sizes.get(&m.uid)
        {
            row.facts.size = *size;
        }
        mem.headers.insert(m.uid, row.identity());
        let fields = &row.facts.fields;
        if self
            .identity
            .matches(fields.extension.as_deref(), fields.context.as_deref())
        {
            let bytes = m.header_fields().map_or(0, <[u8]>::len) + size_of::<RowFacts>();
            mem.rows.remember(m.uid, row.facts.clone(), bytes);
        }
        row
    }

    /// The remembered RFC822.SIZE of each UID known to be this box's in `name` (see
    /// `imapvm_policy::voicemail_uids`); `None` when one has none (or nothing is known).
    fn known_sizes(&self, f: &mut Folders, name: &MailboxName) -> Option<HashMap<Uid, u32>> {
        let v = f.get(name).uid_validity?;
        let key = self.voicemail_key(name);
        let (known, _) = f.voicemail.known_and_tail(&key, v)?;
        f.voicemail.sizes_of(&key, v, &known)
    }

    /// What a warm listing fetches in the same flight as its search (policy's
    /// [`list_prefetch`]): for a folder scope, the UIDs of its previous listing; else every
    /// UID known to be this box's.
    fn list_prefetch(&self, mem: &FolderMemory, key: &ListingKey) -> Vec<UidRange> {
        let ours = |u: &Uid| mem.headers.get(u).is_some_and(|h| self.ours(h));
        let known: UidSet = match key.scope {
            Some(_) if key.listed == Listed::Present => mem
                .listings
                .get(key)
                .filter(|l| Some(l.uidvalidity()) == mem.uid_validity)
                .map(|l| l.present().map(|(_, u)| u).filter(ours).collect())
                .unwrap_or_default(),
            _ => mem.headers.keys().copied().filter(ours).collect(),
        };
        let highest = mem.headers.keys().max().copied();
        list_prefetch(known, highest)
            .into_iter()
            .map(UidRange::Set)
            .collect()
    }

    pub(super) async fn list_in(
        &self,
        s: &mut Session,
        f: &mut Folders,
        scope: Option<Folder>,
        listed: Listed,
    ) -> Result<Listing> {
        if scope == Some(Folder::Greetings) {
            return Err(Error::Misuse {
                mailbox: self.id.clone(),
                misuse: Misuse::GreetingsListed,
            });
        }
        let name = self.scope_mailbox(s, scope)?;
        let headers_only = listed == Listed::WithDeleted;
        let attrs = list_attrs();
        let key = self.listing_key(scope, listed);
        // Round trip 1 (on a cold connection behind the login, with the SELECT): policy's
        // `ListCommands`; their hits are filtered by flags here.
        let mut attempt = 0;
        let mut view_redone = false;
        let mut sizes = HashMap::new();
        let (answers, stable, searched, known_before, uid_validity) = loop {
            attempt += 1;
            let selecting = self.queue_select(s, f, &name).await?;
            let changes = s.view_changes();
            let known_before = f.get(&name).headers.keys().max().copied();
            let saved = s.may_use_searchres();
            let (flight, plan, searched) = if saved {
                // The known rows asked only what changed, where their flags and rows are
                // remembered (`imapvm_policy::known_flags`, `imapvm_policy::listed_rows`);
                // where every known size is remembered, nothing is asked RFC822.SIZE, not even
                // the new mail (the `$` fetch, which holds the folder's last message whenever
                // that is this box's: `UID n:*` names it when nothing is above n): a size
                // never changes, and on Dovecot's maildir a session's first fetch that asks it
                // reads the folder's whole `dovecot-uidlist` (60-90 ms among 100,000
                // e-mails). A voicemail that arrived since is asked its size behind
                // (`sizeless` below), once.
                sizes = self.known_sizes(f, &name).unwrap_or_default();
                let sized: Vec<FetchAttr> = attrs
                    .iter()
                    .filter(|a| sizes.is_empty() || !matches!(a, FetchAttr::Rfc822Size))
                    .cloned()
                    .collect();
                let (q, plan) =
                    self.queue_saved_search(s, f, &name, &sized, &sized, FlagMemory::UseWithRows)?;
                let searched = q.searched.clone();
                (ListFlight::Saved(q), Some(plan), searched)
            } else {
                let searched = self.candidates(f, &name);
                let esearch = s.capabilities().contains(Capability::Esearch);
                let q = ListSearches::new(&self.identity, scope, headers_only, esearch, &searched);
                let prefetch = self.list_prefetch(f.get(&name), &key);
                let search = s.queue("UID SEARCH (list)", |c| c.uid_search(&q.keys))?;
                let classifier = match &q.classify {
                    Some(k) => Some(s.queue("UID SEARCH (list headers)", |c| c.uid_search(k))?),
                    None => None,
                };
                let mut fetches = Vec::with_capacity(prefetch.len());
                for range in &prefetch {
                    fetches.push(s.queue("UID FETCH (list)", |c| c.uid_fetch(range, &attrs))?);
                }
                let flight = ListFlight::Plain {
                    search,
                    classifier,
                    fetches,
                };
                (flight, None, searched)
            };
            let mut wait = flight.ids();
            wait.extend(selecting.id);
            s.wait(&wait).await?;
            let gone = forget_gone(s, f, &name);
            let answers = take_list(
                flight,
                plan.as_ref(),
                s,
                f,
                &name,
                self,
                headers_only,
                &gone,
            );
            let as_queued = self.selected_as_queued(s, f, &name, selecting).await?;
            // The server syncs our view (the pipelined NOOP) possibly after the search ran:
            // if it reported changes meanwhile, the answers may predate them (see
            // `count_many_in`). Ask once more on the synced view; and when the SELECT in
            // front changed what the flight was built on, or SEARCHRES was guessed and the
            // server turned out to lack it, or the known rows were asked only what changed
            // and that failed (the memory is gone: plainly then).
            let view_changed = s.view_changes() != changes && !view_redone;
            let searchres_refused = saved && !s.may_use_searchres() && answers.is_err();
            let changes_failed =
                plan.as_ref().is_some_and(KnownPlan::asked_changes) && answers.is_err();
            let decided = FlightOutcome::decide(
                attempt,
                as_queued.is_some(),
                view_changed,
                searchres_refused || changes_failed,
            );
            match (decided, as_queued) {
                (FlightOutcome::Done, Some(uid_validity)) => {
                    let stable = s.view_changes() == changes;
                    break (answers?, stable, searched, known_before, uid_validity);
                }
                (FlightOutcome::KeptChanging, _) => return Err(folder_kept_changing(s)),
                _ => view_redone |= view_changed,
            }
        };
        let ListAnswers {
            hits,
            mut fetched,
            remembered,
            classified,
            memory,
        } = answers;
        // Fetched in this flight while the view stood still, or before it: existed when
        // the search ran.
        let fetched_max = fetched.keys().max().copied().filter(|_| stable);
        if let Some(classified) = classified {
            let existing = known_before.max(fetched_max);
            self.learn_voicemail(s, f, &name, searched.as_ref(), &classified, existing);
        }
        if let Some(memory) = memory {
            f.voicemail
                .remember_flags(&self.voicemail_key(&name), uid_validity, memory);
        }
        // This box's messages fetched without their size and not remembered: asked now.
        let sizeless: UidSet = fetched
            .values()
            .filter(|m| m.size.is_none() && !sizes.contains_key(&m.uid))
            .filter(|m| self.ours(&ListedRow::of(m).identity()))
            .map(|m| m.uid)
            .collect();
        if !sizeless.is_empty() {
            let range = UidRange::Set(sizeless);
            let id = s.queue("UID FETCH (list sizes)", |c| {
                c.uid_fetch(&range, &[FetchAttr::Rfc822Size])
            })?;
            s.wait(&[id]).await?;
            for m in fetch_result(s, "UID FETCH (list sizes)", id)? {
                sizes.extend(m.size.map(|n| (m.uid, n)));
            }
        }
        let mem = f.get(&name);
        // Every fetched message's identity is learnt (not only the hits'): the next warm
        // listing's window starts above them, so ordinary mail is fetched once at most.
        let mut parsed: HashMap<Uid, ListedRow> =
            HashMap::with_capacity(fetched.len() + remembered.len());
        // The known rows whose flags were remembered or answered by CHANGEDSINCE, taken before
        // the rows fetched here are learnt (which may push them out of the bounded memory);
        // one not remembered after all is fetched below.
        for (uid, flags) in remembered {
            if let Some(facts) = mem.rows.get(uid) {
                let facts = facts.clone();
                parsed.insert(uid, ListedRow { flags, facts });
            }
        }
        for (uid, m) in fetched.drain() {
            parsed.insert(uid, self.learn_row(mem, &m, &sizes));
        }
        let hits: BTreeSet<Uid> = hits.into_iter().collect();
        // Round trip 2, only when needed: hits the first flight did not cover, except those
        // known to be another box's or greetings (never listed, their identity cannot change).
        let missing: UidSet = hits
            .iter()
            .copied()
            .filter(|u| !parsed.contains_key(u) && mem.headers.get(u).is_none_or(|h| self.ours(h)))
            .collect();
        if !missing.is_empty() {
            let range = UidRange::Set(missing);
            let id = s.queue("UID FETCH (list)", |c| c.uid_fetch(&range, &attrs))?;
            s.wait(&[id]).await?;
            for m in fetch_result(s, "UID FETCH (list)", id)? {
                parsed.insert(m.uid, self.learn_row(mem, &m, &sizes));
            }
        }
        // The sizes of this box's rows, for a listing without them (see above).
        let sizes: Vec<(Uid, u32)> = parsed
            .iter()
            .filter(|(_, r)| self.ours(&r.identity()))
            .map(|(u, r)| (*u, r.facts.size))
            .collect();
        let rows: Vec<(Uid, ListedRow)> = hits
            .into_iter()
            .filter_map(|uid| Some((uid, parsed.remove(&uid)?)))
            .filter(|(_, r)| {
                self.ours(&r.identity()) && listing_shows(scope, headers_only, r.flags)
            })
            .collect();
        let numbers = MessageNumbers::new(uid_validity, rows.iter().map(|r| r.0))
            .map_err(|e| self.policy_error(e.into()))?;
        let mut messages = Vec::with_capacity(rows.len());
        for (
            uid,
            ListedRow {
                flags,
                facts: RowFacts { size, fields: h },
            },
        ) in rows
        {
            // Every row was numbered just above.
            let Some(number) = numbers.number_of(uid) else {
                continue;
            };
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
        f.voicemail
            .remember_sizes(&self.voicemail_key(&name), uid_validity, sizes);
        Ok(Listing {
            folder: name.as_wire().to_owned(),
            scope,
            uid_validity,
            messages,
        })
    }

    /// The UID a reference names now. A number is resolved against the listing this store
    /// made of `listed` messages (listing first when there is none); it never re-binds to
    /// another message. A UID is checked to be this box's as `ownership` says.
    pub(crate) async fn resolve(
        &self,
        s: &mut Session,
        f: &mut Folders,
        target: MessageRef,
        scope: Option<Folder>,
        listed: Listed,
        ownership: Ownership,
    ) -> Result<Uid> {
        let name = self.scope_mailbox(s, scope)?;
        let uid_validity = self.select(s, f, &name).await?;
        match target {
            MessageRef::Uid(uid) => {
                if ownership == Ownership::Check {
                    let mem = f.get(&name);
                    self.learn_identities(s, mem, [uid], None).await?;
                    if !mem.headers.get(&uid).is_some_and(|h| self.ours(h)) {
                        return Err(Error::Vanished {
                            mailbox: self.id.clone(),
                            uid,
                        });
                    }
                }
                Ok(uid)
            }
            MessageRef::Number(n) => {
                let key = self.listing_key(scope, listed);
                if !f.get(&name).listings.contains_key(&key) {
                    self.list_in(s, f, scope, listed).await?;
                }
                let mem = f.get(&name);
                let Some(listing) = mem.listings.get(&key) else {
                    return Err(Error::NoSuchMessage {
                        mailbox: self.id.clone(),
                        number: n,
                        listed: 0,
                    });
                };
                let count = listing.len();
                match listing.resolve(n, uid_validity) {
                    Resolution::Message { uid, .. } => Ok(uid),
                    Resolution::Vanished { uid } => Err(Error::Vanished {
                        mailbox: self.id.clone(),
                        uid,
                    }),
                    Resolution::NoSuchNumber => Err(Error::NoSuchMessage {
                        mailbox: self.id.clone(),
                        number: n,
                        listed: count,
                    }),
                    Resolution::StaleListing {
                        listed: before,
                        current,
                    } => {
                        // The old numbers mean nothing now: rebuild the listing, and refuse
                        // to act on a number the caller took from the old one.
                        mem.listings.remove(&key);
                        self.list_in(s, f, scope, listed).await?;
                        Err(Error::StaleListing {
                            mailbox: self.id.clone(),
                            folder: name,
                            listed: before,
                            current,
                        })
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::test_support::{folder, known_fetches, server, store_on, trips};

    use imapvm_harness::scripted::Log;
    use imapvm_policy::MessageState;

    use crate::store::ListedMessage;

    /// What a fresh store (a cold connection, nothing remembered) lists on `port`.
    async fn fresh(port: u16) -> Vec<ListedMessage> {
        let store = store_on(port);
        let listed = store.mailbox("1234@default").unwrap().list(None).await;
        store.close().await;
        listed.unwrap().messages
    }

    /// Whether a command logged since `from` asked what changed since a mod-sequence.
    fn asked_changes(log: &Log, from: usize) -> bool {
        log.lines()[from..]
            .iter()
            .any(|l| l.contains("CHANGEDSINCE"))
    }

    /// Issue 22: once a listing has fetched the known voicemail's rows, the next warm listing
    /// asks them only what changed since (CHANGEDSINCE, one round trip) and takes the rest of
    /// each row from memory; a flag a mail client changed meanwhile comes in the answer, and
    /// the listing equals a fresh store's.
    #[tokio::test]
    async fn a_warm_listing_asks_the_known_rows_only_what_changed_since() {
        let f = folder();
        let (peer, log) = server(f.clone()).await;
        let store = store_on(peer.port());
        let mb = store.mailbox("1234@default").unwrap();
        let cold = mb.list(None).await.unwrap().messages;
        let uids: Vec<u32> = cold.iter().map(|m| m.uid.get()).collect();
        assert_eq!(uids, [3, 5]);
        assert_eq!(
            (cold[1].caller_id_num.as_str(), cold[1].size),
            ("5555", 1005)
        );
        let (from, before) = (log.lines().len(), trips(&mb).await);
        let warm = mb.list(None).await.unwrap().messages;
        assert_eq!(trips(&mb).await - before, 1, "{:#?}", log.lines());
        assert_eq!(
            known_fetches(&log, from),
            ["UID FETCH 3,5 (UID FLAGS) (CHANGEDSINCE 10)"]
        );
        assert_eq!(warm, cold);
        // A mail client reads UID 5 (MODSEQ 11): answered, the rest of its row remembered.
        f.lock().unwrap().messages[2] = (5, "\\Seen", 11, true);
        f.lock().unwrap().highest = 11;
        let (from, before) = (log.lines().len(), trips(&mb).await);
        let warm = mb.list(None).await.unwrap().messages;
        assert_eq!(trips(&mb).await - before, 1);
        assert_eq!(
            known_fetches(&log, from),
            ["UID FETCH 3,5 (UID FLAGS) (CHANGEDSINCE 10)"]
        );
        assert_eq!(warm[1].state, Some(MessageState::Old));
        assert_eq!(
            (warm[1].caller_id_num.as_str(), warm[1].size),
            ("5555", 1005)
        );
        assert_eq!(warm, fresh(peer.port()).await);
        let from = log.lines().len();
        let warm = mb.list(None).await.unwrap().messages;
        assert_eq!(
            known_fetches(&log, from),
            ["UID FETCH 3,5 (UID FLAGS) (CHANGEDSINCE 11)"]
        );
        assert_eq!(warm, fresh(peer.port()).await, "UID 5 kept its flags");
        // UID 3 (sequence number 1, its UID known to the session) is expunged: gone from
        // the listing, the memory still used.
        f.lock().unwrap().expunge_at_noop = Some(1);
        let from = log.lines().len();
        let warm = mb.list(None).await.unwrap().messages;
        assert_eq!(warm, fresh(peer.port()).await);
        assert_eq!(warm.len(), 1);
        assert!(asked_changes(&log, from), "{:#?}", &log.lines()[from..]);
        store.close().await;
    }

    /// A memory of rows too small for the listing: the rows it holds are taken before those
    /// fetched are learnt (which push them out), so the listing still takes one round trip.
    #[tokio::test]
    async fn rows_pushed_out_by_this_listing_are_still_taken() {
        let f = folder();
        let (peer, log) = server(f.clone()).await;
        let store = store_on(peer.port());
        let mb = store.mailbox("1234@default").unwrap();
        let cold = mb.list(None).await.unwrap().messages;
        mb.with_account(crate::store::Retry::Never, |a| {
            Box::pin(async move {
                let inbox = imapvm_policy::MailboxName::inbox();
                let rows = &mut a.folders.get(&inbox).rows;
                *rows = imapvm_policy::ListedRows::new(1, 1 << 20);
                Ok(())
            })
        })
        .await
        .unwrap();
        // The first warm listing keeps one row (5); then each asks 5 only what changed and
        // fetches 3, whose row pushes 5's out.
        for round in 0..3 {
            let (from, before) = (log.lines().len(), trips(&mb).await);
            assert_eq!(mb.list(None).await.unwrap().messages, cold, "round {round}");
            assert_eq!(
                trips(&mb).await - before,
                1,
                "round {round}: {:#?}",
                &log.lines()[from..]
            );
        }
        store.close().await;
    }

    /// An `* n EXPUNGE` of a message whose UID the session never learnt: what was remembered
    /// of the flags no longer holds, so the listing runs again with the plain fetch of the
    /// known rows, and the next one asks only what changed again.
    #[tokio::test]
    async fn an_expunge_without_a_known_uid_means_the_plain_listing() {
        let f = folder();
        let (peer, log) = server(f.clone()).await;
        let store = store_on(peer.port());
        let mb = store.mailbox("1234@default").unwrap();
        let cold = mb.list(None).await.unwrap().messages;
        assert_eq!(mb.list(None).await.unwrap().messages, cold, "warm");
        // The e-mail at sequence number 2 (never fetched: its UID is unknown) is expunged.
        f.lock().unwrap().expunge_at_noop = Some(2);
        let from = log.lines().len();
        assert_eq!(mb.list(None).await.unwrap().messages, cold);
        let fetches = known_fetches(&log, from);
        let last = fetches.last().map(String::as_str).unwrap_or_default();
        // The plain fetch of the rows; their sizes are remembered (they never change), so
        // it asks none, and the listing still shows them.
        assert!(
            last.starts_with("UID FETCH 3,5 (UID FLAGS BODY.PEEK[HEADER.FIELDS")
                && !last.contains("CHANGEDSINCE"),
            "{fetches:#?}"
        );
        assert_eq!(cold, fresh(peer.port()).await);
        let from = log.lines().len();
        assert_eq!(mb.list(None).await.unwrap().messages, cold);
        assert_eq!(
            known_fetches(&log, from),
            ["UID FETCH 3,5 (UID FLAGS) (CHANGEDSINCE 10)"]
        );
        store.close().await;
    }
}
