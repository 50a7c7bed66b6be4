//! Counting: new / urgent / old of a box exactly, every box of a folder in one pipelined
//! flight ([`Session::count_boxes`], which the MWI watcher uses on its own connection), and
//! what changed in a folder since a mod-sequence ([`Session::changed_since`], for the
//! watcher's resync).

use std::collections::HashMap;

use imapvm_policy::{
    Capability, CountAnswers, CountCommands, CountFlight, CountPlan, CountSearches, FlightOutcome,
    KnownFlags, MailboxName, MessageFacts, MessageFlags, MessageSummary, MwiCounts, NEW_UID_WINDOW,
    Uid, UidSet, fill_flags, flags_range, groups, merge_hits, tally_uids,
};
use imapvm_proto::{CommandId, FetchAttr, Outcome, UidRange};

use super::{
    FlagMemory, KnownPlan, fetch_result, forget_gone, identity_attr, identity_of, is_greeting,
    learn_new_identities, queue_new_identities, search_result, take_saved_known,
};
use crate::error::{Error, Result};
use crate::pool::{FolderMemory, Folders, IdentityHeaders};
use crate::session::Session;
use crate::store::Retry;
use crate::store::{Mailbox, Store};

/// The count's pipelined commands (one round trip either way): policy's [`CountPlan`], and
/// with SEARCHRES how the known UIDs' flags are fetched (`imapvm_policy::known_flags`).
pub(super) struct CountIds(CountPlan<CommandId>, Option<KnownPlan>);

impl CountIds {
    /// Every command to wait for.
    pub(super) fn ids(&self) -> Vec<CommandId> {
        self.0.ids()
    }

    /// Whether the known UIDs were asked only what changed (CHANGEDSINCE): when that fails
    /// (refused, or the view changed under it), the count runs again, plainly.
    fn asked_changes(&self) -> bool {
        self.1.as_ref().is_some_and(KnownPlan::asked_changes)
    }

    /// Drops the answers (a count superseded by another one).
    pub(super) fn discard(&self, s: &mut Session) {
        for id in self.ids() {
            let _ = s.take("count", id);
        }
    }
}

/// A count's answers, and the remembered flags to keep once the count learnt its UIDs
/// (`None` inside: forget them).
struct Taken {
    answers: CountAnswers,
    flags: Option<Option<KnownFlags>>,
}

/// Reads the count's answers: the UIDs found (in answer order, each once), the flags each
/// answer implies (ESEARCH) or the fetched flags (SEARCH + FETCH, SEARCHRES, with the
/// remembered flags of the known UIDs not answered by a CHANGEDSINCE fetch), and the header
/// search. Identity headers fetched along are learnt in `f`. `gone`: the UIDs of `name` the
/// session saw expunged up to the answers (see [`forget_gone`]), which the flags to
/// remember leave out.
fn take_hits(
    s: &mut Session,
    ids: CountIds,
    f: &mut Folders,
    name: &MailboxName,
    key: &(String, String, String),
    gone: &UidSet,
) -> Result<Taken> {
    let flags_of =
        |m: &imapvm_proto::FetchedMessage| (m.uid, m.flags.as_ref().map(MessageFlags::from_flags));
    let CountIds(CountPlan { commands, searched }, known) = ids;
    let mut memory = None;
    let answers = match commands {
        CountCommands::Saved(saved) => {
            let k = take_saved_known(s, f, name, key, &saved, known.as_ref(), gone)?;
            let mem = f.get(name);
            for m in k.found.iter().filter(|m| m.header_fields().is_some()) {
                mem.headers.insert(m.uid, identity_of(m));
            }
            memory = k.memory;
            let mut hits: Vec<_> = k
                .remembered
                .into_iter()
                .map(|(u, fl)| (u, Some(fl)))
                .collect();
            hits.extend(k.found.iter().map(flags_of));
            CountAnswers::saved(searched, hits)
        }
        CountCommands::SearchFetch { search, fetch } => {
            let hits = search_result(s, "UID SEARCH (count)", search)?;
            let fetched = fetch_result(s, "UID FETCH (count flags)", fetch)?;
            CountAnswers::search_fetch(searched, hits, fetched.iter().map(flags_of))
        }
        CountCommands::Esearch {
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
            CountAnswers::esearch(searched, [&new, &urgent, &old, &old_flagged], classified)
        }
    };
    Ok(Taken {
        answers,
        flags: memory,
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
        let counted = count_many_in(boxes, self, folders).await;
        // A connection of its own (the MWI watcher's) has no pool to hand the expunges it saw
        // to after an operation: they are applied here, so the session's list of them does
        // not grow for as long as the connection lives.
        folders.absorb_gone(self.take_gone());
        counted
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
    let mut named = Vec::with_capacity(boxes.len());
    for (i, mb) in boxes.iter().enumerate() {
        match mb.scope_mailbox(s, None) {
            Ok(name) => named.push((i, name)),
            Err(e) => out[i] = Some(Err(e)),
        }
    }
    for (name, members) in groups(named, MailboxName::same_mailbox) {
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
                queued.push(boxes[i].queue_count_as(s, f, &name, saved, FlagMemory::Use)?);
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
            let changes_asked = queued.iter().any(CountIds::asked_changes);
            let gone = forget_gone(s, f, &name);
            let taken: Vec<Result<Taken>> = queued
                .into_iter()
                .zip(&members)
                .map(|(q, &i)| take_hits(s, q, f, &name, &boxes[i].voicemail_key(&name), &gone))
                .collect();
            let view_changed = s.view_changes() != changes && !view_recounted;
            // SEARCHRES guessed from the greeting, refused by a server that turned out not
            // to offer it (one that does not advertise it but runs it is taken at its word).
            let searchres_refused =
                saved && !s.may_use_searchres() && taken.iter().any(Result::is_err);
            // Known UIDs asked only what changed, and that failed (refused, or the view
            // changed under it): the memory is gone, the count runs again plainly.
            let changes_failed = changes_asked && taken.iter().any(Result::is_err);
            let refused = searchres_refused || changes_failed;
            match FlightOutcome::decide(attempt, as_queued, view_changed, refused) {
                FlightOutcome::KeptChanging => return Err(super::folder_kept_changing(s)),
                FlightOutcome::Again => {
                    view_recounted |= view_changed;
                    continue;
                }
                FlightOutcome::Done => {}
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
                let Taken { answers: h, flags } = h?;
                boxes[i].learn_voicemail(s, f, &name, h.searched.as_ref(), &h.classified, existing);
                if let (Some(flags), Some(v)) = (flags, f.get(&name).uid_validity) {
                    let key = boxes[i].voicemail_key(&name);
                    f.voicemail.remember_flags(&key, v, flags);
                }
                hits.push((h.hits, h.flags));
            }
            break Some(hits);
        };
        let Some(mut hits) = hits else {
            continue;
        };
        let mem = f.get(&name);
        // One header fetch for every box's unknown hits (none once cached).
        let (all_hits, mut all_flags) = merge_hits(&hits);
        boxes[lead]
            .learn_identities(s, mem, all_hits, Some(&mut all_flags))
            .await?;
        for (&i, (box_hits, box_flags)) in members.iter().zip(hits.iter_mut()) {
            fill_flags(box_hits, box_flags, &all_flags);
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
        let keys = boxes
            .iter()
            .enumerate()
            .map(|(i, mb)| (i, mb.account.key()));
        let mut out: Vec<Option<Result<MwiCounts>>> = boxes.iter().map(|_| None).collect();
        for (_, members) in groups(keys, |a, b| a == b) {
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
    /// since, never the rest of a shared folder): policy's [`CountFlight`] for the server's
    /// capabilities, without SEARCHRES.
    pub(super) fn queue_count(
        &self,
        s: &mut Session,
        f: &mut Folders,
        name: &MailboxName,
    ) -> Result<CountIds> {
        self.queue_count_as(s, f, name, false, FlagMemory::Ignore)
    }

    /// [`Mailbox::queue_count`]; with `saved` (the server offers SEARCHRES, or is guessed to:
    /// `Session::may_use_searchres`), the count is [`CountFlight::Saved`], and then with
    /// [`FlagMemory::Use`] the known UIDs whose flags are remembered are asked only what
    /// changed since (`imapvm_policy::known_flags`).
    pub(super) fn queue_count_as(
        &self,
        s: &mut Session,
        f: &mut Folders,
        name: &MailboxName,
        saved: bool,
        memory: FlagMemory,
    ) -> Result<CountIds> {
        let esearch = s.capabilities().contains(Capability::Esearch);
        let flight = CountFlight::choose(saved, esearch);
        if flight == CountFlight::Saved {
            let attrs = [FetchAttr::Flags, identity_attr()];
            let (saved, known) =
                self.queue_saved_search(s, f, name, &attrs, &[FetchAttr::Flags], memory)?;
            return Ok(CountIds(
                CountPlan {
                    searched: saved.searched.clone(),
                    commands: CountCommands::Saved(saved),
                },
                Some(known),
            ));
        }
        let searched = self.candidates(f, name);
        let keys = CountSearches::new(&self.identity, searched.as_ref());
        if flight == CountFlight::Esearch {
            let mut queue = |context: &str, keys| s.queue(context, |c| c.uid_search(keys));
            let commands = CountCommands::Esearch {
                new: queue("UID SEARCH (count new)", &keys.new)?,
                urgent: queue("UID SEARCH (count urgent)", &keys.urgent)?,
                old: queue("UID SEARCH (count old)", &keys.old)?,
                old_flagged: queue("UID SEARCH (count old urgent)", &keys.old_flagged)?,
                headers: queue("UID SEARCH (count headers)", &keys.headers)?,
            };
            return Ok(CountIds(CountPlan { commands, searched }, None));
        }
        let search = s.queue("UID SEARCH (count)", |c| c.uid_search(&keys.headers))?;
        let mem = f.get(name);
        let oldest = mem
            .headers
            .iter()
            .filter(|(_, h)| self.ours(h))
            .map(|(u, _)| *u)
            .min();
        let range = UidRange::Set(flags_range(searched.as_ref(), oldest, NEW_UID_WINDOW));
        let attrs = [FetchAttr::Flags];
        let fetch = s.queue("UID FETCH (count flags)", |c| c.uid_fetch(&range, &attrs))?;
        Ok(CountIds(
            CountPlan {
                commands: CountCommands::SearchFetch { search, fetch },
                searched,
            },
            None,
        ))
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
        // The remembered flags are neither used (FlagMemory::Ignore) nor kept here.
        let gone = forget_gone(s, f, name);
        let mut a = take_hits(s, ids, f, name, &self.voicemail_key(name), &gone)?.answers;
        self.learn_voicemail(s, f, name, a.searched.as_ref(), &a.classified, None);
        if let Some((uid, fl)) = appended {
            a.found(uid, fl);
        }
        self.tally_hits(s, f.get(name), &a.hits, &mut a.flags).await
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
        self.learn_identities(s, mem, hits.iter().copied(), Some(flags))
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
        Ok(tally_uids(&self.identity, &facts))
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

#[cfg(test)]
mod tests {
    use crate::ops::test_support::{folder, known_fetches, server, store_on, trips};
    use std::sync::Arc;

    use crate::pool::Folders;
    use crate::session::Session;
    use imapvm_policy::{MailboxName, Uid};

    /// Issue 22, item 3: once a count has fetched the known voicemail's flags, the next warm
    /// count asks only what changed since (CHANGEDSINCE, one round trip), and the flags a
    /// mail client changed meanwhile come in its answer.
    #[tokio::test]
    async fn a_warm_count_asks_only_what_changed_since() {
        let f = folder();
        let (peer, log) = server(Arc::clone(&f)).await;
        let store = store_on(peer.port());
        let mb = store.mailbox("1234@default").unwrap();
        assert_eq!(mb.count().await.unwrap().new, 2, "cold");
        // The first warm count: the known UIDs asked what changed since the SELECT's
        // HIGHESTMODSEQ.
        let (from, before) = (log.lines().len(), trips(&mb).await);
        assert_eq!(mb.count().await.unwrap().new, 2);
        assert_eq!(trips(&mb).await - before, 1, "{:#?}", log.lines());
        assert_eq!(
            known_fetches(&log, from),
            ["UID FETCH 3,5 (UID FLAGS) (CHANGEDSINCE 10)"]
        );
        // A mail client reads UID 5 (MODSEQ 11): answered, and remembered at 11.
        f.lock().unwrap().messages[2] = (5, "\\Seen", 11, true);
        f.lock().unwrap().highest = 11;
        let (from, before) = (log.lines().len(), trips(&mb).await);
        let c = mb.count().await.unwrap();
        assert_eq!((c.new, c.old), (1, 1));
        assert_eq!(trips(&mb).await - before, 1);
        assert_eq!(
            known_fetches(&log, from),
            ["UID FETCH 3,5 (UID FLAGS) (CHANGEDSINCE 10)"]
        );
        let from = log.lines().len();
        let c = mb.count().await.unwrap();
        assert_eq!((c.new, c.old), (1, 1), "UID 5 kept its remembered flags");
        assert_eq!(
            known_fetches(&log, from),
            ["UID FETCH 3,5 (UID FLAGS) (CHANGEDSINCE 11)"]
        );
        store.close().await;
    }

    /// A session of its own (the MWI watcher's) counting with `count_boxes`: the expunges it
    /// saw are applied to its folder memory and not kept on the session, however many counts
    /// it makes.
    #[tokio::test]
    async fn count_boxes_applies_the_expunges_it_saw_and_keeps_none() {
        let f = folder();
        let (peer, _log) = server(Arc::clone(&f)).await;
        let store = store_on(peer.port());
        let mb = store.mailbox("1234@default").unwrap();
        let clock = crate::clock::SystemClock::shared();
        let mut session = Session::open(mb.account(), &clock).await.unwrap();
        let mut folders = Folders::default();
        let counted = session.count_boxes(&mut folders, &[&mb]).await.unwrap();
        assert_eq!(counted[0].as_ref().unwrap().new, 2);
        // Voicemail UID 3 (sequence number 1, its UID known to the session) is expunged.
        f.lock().unwrap().expunge_at_noop = Some(1);
        let counted = session.count_boxes(&mut folders, &[&mb]).await.unwrap();
        assert_eq!(counted[0].as_ref().unwrap().new, 1);
        assert!(
            session.take_gone().is_empty(),
            "the session keeps no expunges"
        );
        let inbox = MailboxName::from_wire("INBOX").unwrap();
        let uid3 = Uid::new(3).unwrap();
        assert!(
            !folders.get(&inbox).headers.contains_key(&uid3),
            "UID 3 forgotten"
        );
        session.logout().await;
    }

    /// An `* n EXPUNGE` of a message whose UID the session never learnt: what was
    /// remembered no longer holds (it may have been a known voicemail), so the count runs
    /// again with the plain fetch, and the next one remembers anew.
    #[tokio::test]
    async fn an_expunge_without_a_known_uid_means_the_plain_fetch() {
        let f = folder();
        let (peer, log) = server(Arc::clone(&f)).await;
        let store = store_on(peer.port());
        let mb = store.mailbox("1234@default").unwrap();
        assert_eq!(mb.count().await.unwrap().new, 2, "cold");
        assert_eq!(mb.count().await.unwrap().new, 2, "warm");
        // The e-mail at sequence number 2 (never fetched: its UID is unknown) is expunged.
        f.lock().unwrap().expunge_at_noop = Some(2);
        let from = log.lines().len();
        assert_eq!(mb.count().await.unwrap().new, 2);
        let fetches = known_fetches(&log, from);
        assert_eq!(
            fetches.last().map(String::as_str),
            Some("UID FETCH 3,5 (UID FLAGS)"),
            "{fetches:#?}"
        );
        let from = log.lines().len();
        assert_eq!(mb.count().await.unwrap().new, 2);
        assert_eq!(
            known_fetches(&log, from),
            ["UID FETCH 3,5 (UID FLAGS) (CHANGEDSINCE 10)"]
        );
        store.close().await;
    }
}
