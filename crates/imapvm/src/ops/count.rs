//! Counting: new / urgent / old of a box exactly, every box of a folder in one pipelined
//! flight ([`Session::count_boxes`], which the MWI watcher uses on its own connection), and
//! what changed in a folder since a mod-sequence ([`Session::changed_since`], for the
//! watcher's resync).

use std::collections::HashMap;

use imapvm_policy::count::{count_hits, count_search};
use imapvm_policy::{
    Capability, Folder, MailboxName, MessageFacts, MessageFlags, MessageState, MessageSummary,
    MwiCounts, SearchKey, Uid, UidSet, fetchable, restrict,
};
use imapvm_proto::{CommandId, FetchAttr, Outcome, UidRange};

use super::{
    NEW_UID_WINDOW, SavedSearch, fetch_result, identity_attr, identity_of, is_greeting,
    learn_new_identities, queue_new_identities, search_result,
};
use crate::error::{Error, Result};
use crate::pool::{FolderMemory, Folders, IdentityHeaders};
use crate::session::Session;
use crate::store::Retry;
use crate::store::{Mailbox, Store};

/// The count's pipelined commands (one round trip either way), with the candidate UIDs they
/// were restricted to (`imapvm_policy::voicemail_uids`; `None`: the whole folder).
pub(super) struct CountIds {
    kind: CountKind,
    searched: Option<UidSet>,
}

enum CountKind {
    /// With SEARCHRES: a [`SavedSearch`] fetching `(FLAGS identity-headers)` of every hit
    /// (the known UIDs: their flags), so the identity check needs no flight of its own.
    Saved(SavedSearch),
    /// Without ESEARCH: one `UID SEARCH HEADER … HEADER …` (which also classifies) and one
    /// `UID FETCH (FLAGS)`.
    SearchFetch { search: CommandId, fetch: CommandId },
    /// With ESEARCH (tag-correlated answers): Asterisk's three count searches (new, urgent,
    /// old) plus old-and-flagged (RFC 3842's old urgent), each `UID SEARCH RETURN (ALL)`, and
    /// the header keys alone (which UIDs are this box's, whatever their flags).
    Esearch {
        new: CommandId,
        urgent: CommandId,
        old: CommandId,
        old_flagged: CommandId,
        headers: CommandId,
    },
}

impl CountIds {
    /// Every command to wait for.
    pub(super) fn ids(&self) -> Vec<CommandId> {
        match &self.kind {
            CountKind::Saved(saved) => saved.ids(),
            CountKind::SearchFetch { search, fetch } => vec![*search, *fetch],
            CountKind::Esearch {
                new,
                urgent,
                old,
                old_flagged,
                headers,
            } => vec![*new, *urgent, *old, *old_flagged, *headers],
        }
    }

    /// Drops the answers (a count superseded by another one).
    pub(super) fn discard(&self, s: &mut Session) {
        for id in self.ids() {
            let _ = s.take("count", id);
        }
    }
}

/// A count's answers: the UIDs found with their flags, and the header search's hits with
/// the candidates it was restricted to (to learn from).
struct CountHits {
    hits: Vec<Uid>,
    flags: HashMap<Uid, MessageFlags>,
    searched: Option<UidSet>,
    classified: Vec<Uid>,
}

/// Reads the count's answers: the UIDs found (in answer order, each once), the flags each
/// answer implies (ESEARCH) or the fetched flags (SEARCH + FETCH, SEARCHRES), and the header
/// search. Identity headers fetched along are learnt in `mem`.
fn take_hits(s: &mut Session, ids: CountIds, mem: &mut FolderMemory) -> Result<CountHits> {
    let searched = ids.searched;
    Ok(match ids.kind {
        CountKind::Saved(saved) => {
            let mut hits = Vec::new();
            let mut flags = HashMap::new();
            for m in saved.take(s)? {
                if m.header_fields().is_some() {
                    mem.headers.insert(m.uid, identity_of(&m));
                }
                let Some(fl) = &m.flags else {
                    continue;
                };
                if flags.insert(m.uid, MessageFlags::from_flags(fl)).is_none() {
                    hits.push(m.uid);
                }
            }
            // Deleted hits count nowhere (policy's tally); the search still classified them.
            CountHits {
                classified: hits.clone(),
                hits,
                flags,
                searched,
            }
        }
        CountKind::SearchFetch { search, fetch } => {
            let hits = search_result(s, "UID SEARCH (count)", search)?;
            let flags: HashMap<Uid, MessageFlags> =
                fetch_result(s, "UID FETCH (count flags)", fetch)?
                    .into_iter()
                    .filter_map(|m| {
                        let flags = m.flags.as_ref()?;
                        Some((m.uid, MessageFlags::from_flags(flags)))
                    })
                    .collect();
            // Deleted hits count nowhere; the search still classified them.
            let counted = hits
                .iter()
                .copied()
                .filter(|u| flags.get(u).is_none_or(|f| !f.deleted))
                .collect();
            CountHits {
                hits: counted,
                flags,
                searched,
                classified: hits,
            }
        }
        CountKind::Esearch {
            new,
            urgent,
            old,
            old_flagged,
            headers,
        } => {
            // Taken in this order so that the first failure is the one reported.
            let old_flagged = search_result(s, "UID SEARCH (count old urgent)", old_flagged)?;
            let new = search_result(s, "UID SEARCH (count new)", new)?;
            let urgent = search_result(s, "UID SEARCH (count urgent)", urgent)?;
            let old = search_result(s, "UID SEARCH (count old)", old)?;
            let classified = search_result(s, "UID SEARCH (count headers)", headers)?;
            let (hits, flags) = count_hits(&new, &urgent, &old, &old_flagged);
            CountHits {
                hits,
                flags,
                searched,
                classified,
            }
        }
    })
}

impl Session {
    /// Counts `boxes` (all on this connection's account) exactly, pipelined: per IMAP folder
    /// at most one SELECT (none when it is selected already) and one flight carrying every
    /// box's count, so the boxes of a shared account cost one round trip together, not one
    /// each. Identity headers not known to `folders` yet are fetched for all boxes at once
    /// (first count only).
    ///
    /// A lost connection fails the whole call; a box whose folder cannot be selected gets an
    /// error of its own. The answers are in the order of `boxes`.
    pub async fn count_boxes(
        &mut self,
        folders: &mut Folders,
        boxes: &[&Mailbox],
    ) -> Result<Vec<Result<MwiCounts>>> {
        count_many_in(boxes, self, folders).await
    }

    /// What changed in `folder` (selected) since mod-sequence `since`, with CONDSTORE: one
    /// `UID FETCH 1:* (FLAGS identity-headers) (CHANGEDSINCE since [VANISHED])`. Its answer
    /// holds only the messages changed or added since (any mail, so the identity headers
    /// tell whose), and with QRESYNC ENABLEd the UIDs expunged since. What is learnt is
    /// remembered in `folders`.
    pub async fn changed_since(
        &mut self,
        folders: &mut Folders,
        folder: &MailboxName,
        since: u64,
    ) -> Result<ChangedSince> {
        let qresync = self.qresync_enabled();
        let attrs = [FetchAttr::Flags, identity_attr()];
        let context = "UID FETCH (CHANGEDSINCE)";
        let id = self.queue(context, |c| {
            c.uid_fetch_changed_since(&UidRange::All, &attrs, since, qresync)
        })?;
        self.wait(&[id]).await?;
        let (messages, vanished) = match self.take(context, id)? {
            Outcome::FetchChanged {
                messages,
                vanished_earlier,
            } => (messages, vanished_earlier),
            Outcome::Fetch(messages) => (messages, Vec::new()),
            _ => {
                return Err(Error::Unexpected {
                    account: self.key().clone(),
                    command: context,
                });
            }
        };
        let mem = folders.get(folder);
        let mut changed = ChangedSince::default();
        for m in &messages {
            let h = identity_of(m);
            mem.headers.insert(m.uid, h.clone());
            changed.messages.push((m.uid, h));
        }
        // Vanished UIDs whose headers were never learned were never counted (a count
        // learns the headers of every hit): they change nothing.
        for uid in vanished {
            if let Some(h) = mem.headers.remove(&uid) {
                changed.vanished.push((uid, h));
            }
        }
        Ok(changed)
    }
}

/// The answer of [`Session::changed_since`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChangedSince {
    /// The messages changed or added since (UID, identity headers), whoever's they are.
    pub messages: Vec<(Uid, IdentityHeaders)>,
    /// The messages expunged since (QRESYNC) whose identity was known.
    pub vanished: Vec<(Uid, IdentityHeaders)>,
}

/// [`Session::count_boxes`].
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
        let mut view_recounted = false;
        let hits = loop {
            attempt += 1;
            // The SELECT goes in the count's flight (on a cold connection behind the login):
            // what the count took from the folder's memory is checked once it is answered.
            let selecting = boxes[lead].queue_select(s, f, &name).await?;
            let changes = s.view_changes();
            let known_before = f.get(&name).headers.keys().max().copied();
            let saved = s.may_use_searchres();
            let mut queued = Vec::with_capacity(members.len());
            for &i in &members {
                queued.push(boxes[i].queue_count_as(s, f, &name, saved)?);
            }
            // Mail another client added since we last looked: its identity comes in the same
            // flight, not in a round trip of its own when a hit turns out to be unknown
            // (with SEARCHRES every hit's identity comes with it).
            let identities = match saved {
                true => None,
                false => queue_new_identities(s, f.get(&name))?,
            };
            let mut ids: Vec<CommandId> = queued.iter().flat_map(CountIds::ids).collect();
            ids.extend(identities);
            ids.extend(selecting.id);
            s.wait(&ids).await?;
            learn_new_identities(s, f.get(&name), identities);
            let as_queued = match boxes[lead].selected_as_queued(s, f, &name, selecting).await {
                Ok(as_queued) => as_queued.is_some(),
                Err(e) if e.is_connection_lost() => return Err(e),
                Err(e) => {
                    for q in &queued {
                        q.discard(s);
                    }
                    for &i in &members {
                        out[i] = Some(Err(Error::CountFailed {
                            mailbox: boxes[i].id.clone(),
                            folder: name.clone(),
                            source: Box::new(e.clone()),
                        }));
                    }
                    break None;
                }
            };
            // The server syncs our view (pipelined NOOP) only after the count ran: if it
            // reported changes meanwhile, the count may predate them. Count once more. And
            // once more when the SELECT in front changed what the count was built on, or
            // SEARCHRES was guessed (capabilities unknown) and refused.
            let taken: Vec<Result<CountHits>> = queued
                .into_iter()
                .map(|q| take_hits(s, q, f.get(&name)))
                .collect();
            let view_changed = s.view_changes() != changes && !view_recounted;
            // SEARCHRES guessed from the greeting, refused by a server that turned out not
            // to offer it (one that does not advertise it but runs it is taken at its word).
            let searchres_refused =
                saved && !s.may_use_searchres() && taken.iter().any(Result::is_err);
            if !as_queued && attempt >= 4 {
                return Err(super::folder_kept_changing(s));
            }
            if (view_changed || !as_queued || searchres_refused) && attempt < 4 {
                view_recounted |= view_changed;
                continue;
            }
            // A UID whose headers were fetched before this flight, or in it while the view
            // stood still, existed when the searches ran.
            let existing = if s.view_changes() == changes {
                f.get(&name).headers.keys().max().copied()
            } else {
                known_before
            };
            let mut hits = Vec::with_capacity(taken.len());
            for (h, &i) in taken.into_iter().zip(&members) {
                let h = h?;
                boxes[i].learn_voicemail(s, f, &name, h.searched.as_ref(), &h.classified, existing);
                hits.push((h.hits, h.flags));
            }
            break Some(hits);
        };
        let Some(mut hits) = hits else {
            continue;
        };
        let mem = f.get(&name);
        // One header fetch for every box's unknown hits (none once cached).
        let mut all_hits: Vec<Uid> = hits.iter().flat_map(|(h, _)| h.iter().copied()).collect();
        let mut all_flags: HashMap<Uid, MessageFlags> = hits
            .iter()
            .flat_map(|(_, fl)| fl.iter().map(|(u, f)| (*u, *f)))
            .collect();
        all_hits.sort_unstable();
        all_hits.dedup();
        boxes[lead]
            .learn_with_flags(s, mem, all_hits, &mut all_flags)
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
                account: s.key().clone(),
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
            // A count changes nothing: not announced on the change feed.
            let counted = lead
                .on_account(Retry::IfWarm, |a| {
                    Box::pin(count_many_in(&group, a.session, a.folders))
                })
                .await?;
            for (i, c) in members.into_iter().zip(counted) {
                out[i] = Some(c);
            }
        }
        Ok(out.into_iter().flatten().collect())
    }
}

impl Mailbox {
    /// Queues the count, pipelined (one round trip), restricted to the UIDs that can be
    /// this box's (`imapvm_policy::voicemail_uids`: what it found before and what arrived
    /// since, never the rest of a shared folder). With ESEARCH, Asterisk's three count
    /// searches, an old-and-flagged one and the header keys alone, each answered by tag: the
    /// flags of every hit are known from which search found it. Without ESEARCH (untagged
    /// `* SEARCH` answers are matched by order only, and a server may run pipelined commands
    /// in parallel): one `UID SEARCH HEADER … HEADER …` and one `UID FETCH (FLAGS)` of the
    /// candidates (before anything is known: of the UIDs known to be this box's plus
    /// anything newer).
    pub(super) fn queue_count(
        &self,
        s: &mut Session,
        f: &mut Folders,
        name: &MailboxName,
    ) -> Result<CountIds> {
        self.queue_count_as(s, f, name, false)
    }

    /// [`Mailbox::queue_count`]; with `saved` (the server offers SEARCHRES, or is guessed to:
    /// `Session::may_use_searchres`), the count is `CountKind::Saved`: the hits' flags and
    /// identities come in the same flight as the search, and only the UIDs not classified
    /// yet are searched.
    pub(super) fn queue_count_as(
        &self,
        s: &mut Session,
        f: &mut Folders,
        name: &MailboxName,
        saved: bool,
    ) -> Result<CountIds> {
        if saved {
            let attrs = [FetchAttr::Flags, identity_attr()];
            let saved = self.queue_saved_search(s, f, name, &attrs, &[FetchAttr::Flags])?;
            return Ok(CountIds {
                searched: saved.searched.clone(),
                kind: CountKind::Saved(saved),
            });
        }
        let searched = self.candidates(f, name);
        let within = |keys: Vec<SearchKey>| restrict(searched.as_ref(), &keys);
        let headers = within(self.identity.header_keys().to_vec());
        if s.capabilities().contains(Capability::Esearch) {
            let mut old_flagged = vec![SearchKey::Undeleted, SearchKey::Flagged, SearchKey::Seen];
            old_flagged.extend(self.identity.header_keys());
            let mut queue =
                |context: &str, keys: Vec<SearchKey>| s.queue(context, |c| c.uid_search(&keys));
            let kind = CountKind::Esearch {
                new: queue(
                    "UID SEARCH (count new)",
                    within(count_search(Folder::Inbox, &self.identity)),
                )?,
                urgent: queue(
                    "UID SEARCH (count urgent)",
                    within(count_search(Folder::Urgent, &self.identity)),
                )?,
                old: queue(
                    "UID SEARCH (count old)",
                    within(count_search(Folder::Old, &self.identity)),
                )?,
                old_flagged: queue("UID SEARCH (count old urgent)", within(old_flagged))?,
                headers: queue("UID SEARCH (count headers)", headers)?,
            };
            return Ok(CountIds { kind, searched });
        }
        let search = s.queue("UID SEARCH (count)", |c| c.uid_search(&headers))?;
        let range = match &searched {
            Some(set) => fetchable(set, NEW_UID_WINDOW),
            None => {
                // From the oldest message known to be ours (or the first) to the newest.
                let first = f
                    .get(name)
                    .headers
                    .iter()
                    .filter(|(_, h)| self.ours(h))
                    .map(|(u, _)| *u)
                    .min()
                    .unwrap_or(Uid::MIN);
                UidSet::range(first, Uid::MAX)
            }
        };
        let range = UidRange::Set(range);
        let attrs = [FetchAttr::Flags];
        let fetch = s.queue("UID FETCH (count flags)", |c| c.uid_fetch(&range, &attrs))?;
        Ok(CountIds {
            kind: CountKind::SearchFetch { search, fetch },
            searched,
        })
    }

    /// Turns the count's answers into exact counts (via policy's tally); returns them and
    /// every UID of this box (ascending), for message numbers. `appended` is a message just
    /// appended with known flags, which a search run in parallel with the APPEND may miss.
    pub(super) async fn finish_counts(
        &self,
        s: &mut Session,
        f: &mut Folders,
        name: &MailboxName,
        ids: CountIds,
        appended: Option<(Uid, MessageFlags)>,
    ) -> Result<(MwiCounts, Vec<Uid>)> {
        let CountHits {
            mut hits,
            mut flags,
            searched,
            classified,
        } = take_hits(s, ids, f.get(name))?;
        self.learn_voicemail(s, f, name, searched.as_ref(), &classified, None);
        let mem = f.get(name);
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
    pub(super) async fn tally_hits(
        &self,
        s: &mut Session,
        mem: &mut FolderMemory,
        hits: &[Uid],
        flags: &mut HashMap<Uid, MessageFlags>,
    ) -> Result<(MwiCounts, Vec<Uid>)> {
        self.learn_with_flags(s, mem, hits.iter().copied(), flags)
            .await?;
        let facts: Vec<MessageFacts<'_>> = hits
            .iter()
            .filter_map(|u| {
                let h = mem.headers.get(u)?;
                if is_greeting(h.message_type.as_deref()) {
                    return None;
                }
                Some(MessageFacts {
                    uid: *u,
                    flags: *flags.get(u)?,
                    extension: h.extension.as_deref(),
                    context: h.context.as_deref(),
                })
            })
            .collect();
        let counts = MwiCounts::tally(&self.identity, &facts);
        let mut all: Vec<Uid> = facts
            .iter()
            .filter(|f| {
                self.identity.matches(f.extension, f.context) && MessageState::of(f.flags).is_some()
            })
            .map(|f| f.uid)
            .collect();
        all.sort_unstable();
        all.dedup();
        Ok((counts, all))
    }

    // ------------------------------------------------------------------ count

    /// new / urgent / old of `imapfolder`, exactly (one round trip on a warm connection).
    /// Not announced on the change feed: a count changes nothing.
    pub async fn count(&self) -> Result<MwiCounts> {
        self.on_account(Retry::IfWarm, |a| {
            Box::pin(self.count_in(a.session, a.folders))
        })
        .await
    }

    pub(crate) async fn count_in(&self, s: &mut Session, f: &mut Folders) -> Result<MwiCounts> {
        let mut counted = count_many_in(&[self], s, f).await?;
        counted.pop().unwrap_or(Err(Error::Unexpected {
            account: s.key().clone(),
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
}
