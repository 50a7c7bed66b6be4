//! Listing: a box's messages numbered as Asterisk numbers them, and resolving a number
//! (or UID) to the UID it names now.

use std::collections::{BTreeSet, HashMap};

use imapvm_message::{HeaderBlock, LISTING_FIELDS};
use imapvm_policy::{
    Capability, FlightOutcome, Folder, ListCommands, ListSearches, MessageFlags, MessageNumbers,
    MessageState, Resolution, Uid, UidSet, list_prefetch, listing_shows,
};
use imapvm_proto::{CommandId, FetchAttr, UidRange};

use super::{FlagMemory, fetch_result, folder_kept_changing, search_result, take_saved};
use crate::error::{Error, Misuse, Result};
use crate::pool::Listed;
use crate::pool::{FolderMemory, Folders, IdentityHeaders, ListingKey};
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

/// One message a listing fetched.
struct ListedRow {
    flags: MessageFlags,
    size: u32,
    fields: imapvm_message::HeaderFields,
}

impl ListedRow {
    fn of(m: &imapvm_proto::FetchedMessage) -> Self {
        Self {
            flags: MessageFlags::from_flags(m.flags.iter().flatten()),
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

/// The first flight of a listing (see [`Mailbox::list_in`]).
type ListFlight = ListCommands<CommandId>;

/// A listing's first answers: the hits, the messages fetched, and the hits of the header
/// keys alone (to learn from; `None` when there are none).
type ListAnswers = (
    Vec<Uid>,
    HashMap<Uid, imapvm_proto::FetchedMessage>,
    Option<Vec<Uid>>,
);

/// Takes every answer of `flight` (each one, whatever happens to the others).
fn take_list(
    flight: ListFlight,
    s: &mut Session,
    mb: &Mailbox,
    headers_only: bool,
) -> Result<ListAnswers> {
    match flight {
        ListFlight::Saved(q) => {
            let found = take_saved(s, &q)?;
            let hits: Vec<Uid> = found.iter().map(|m| m.uid).collect();
            let fetched = found.into_iter().map(|m| (m.uid, m)).collect();
            Ok((hits.clone(), fetched, Some(hits)))
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
            Ok((hits, fetched, classified))
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
    /// mail, pipelined), two on a cold one or when the folder changed meanwhile.
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
        let (hits, mut fetched, classified, stable, searched, known_before, uid_validity) = loop {
            attempt += 1;
            let selecting = self.queue_select(s, f, &name).await?;
            let changes = s.view_changes();
            let known_before = f.get(&name).headers.keys().max().copied();
            let saved = s.may_use_searchres();
            let (flight, searched) = if saved {
                let (q, _) =
                    self.queue_saved_search(s, f, &name, &attrs, &attrs, FlagMemory::Ignore)?;
                let searched = q.searched.clone();
                (ListFlight::Saved(q), searched)
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
                (flight, searched)
            };
            let mut wait = flight.ids();
            wait.extend(selecting.id);
            s.wait(&wait).await?;
            let answers = take_list(flight, s, self, headers_only);
            let as_queued = self.selected_as_queued(s, f, &name, selecting).await?;
            // The server syncs our view (the pipelined NOOP) possibly after the search ran:
            // if it reported changes meanwhile, the answers may predate them (see
            // `count_many_in`). Ask once more on the synced view; and when the SELECT in
            // front changed what the flight was built on, or SEARCHRES was guessed and the
            // server turned out to lack it.
            let view_changed = s.view_changes() != changes && !view_redone;
            let searchres_refused = saved && !s.may_use_searchres() && answers.is_err();
            let decided = FlightOutcome::decide(
                attempt,
                as_queued.is_some(),
                view_changed,
                searchres_refused,
            );
            match (decided, as_queued) {
                (FlightOutcome::Done, Some(uid_validity)) => {
                    let stable = s.view_changes() == changes;
                    let (hits, fetched, classified) = answers?;
                    break (
                        hits,
                        fetched,
                        classified,
                        stable,
                        searched,
                        known_before,
                        uid_validity,
                    );
                }
                (FlightOutcome::KeptChanging, _) => return Err(folder_kept_changing(s)),
                _ => view_redone |= view_changed,
            }
        };
        // Fetched in this flight while the view stood still, or before it: existed when
        // the search ran.
        let fetched_max = fetched.keys().max().copied().filter(|_| stable);
        if let Some(classified) = classified {
            let existing = known_before.max(fetched_max);
            self.learn_voicemail(s, f, &name, searched.as_ref(), &classified, existing);
        }
        let mem = f.get(&name);
        // Every fetched message's identity is learnt (not only the hits'): the next warm
        // listing's window starts above them, so ordinary mail is fetched once at most.
        let mut parsed: HashMap<Uid, ListedRow> = HashMap::with_capacity(fetched.len());
        for (uid, m) in fetched.drain() {
            let row = ListedRow::of(&m);
            mem.headers.insert(uid, row.identity());
            parsed.insert(uid, row);
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
                let row = ListedRow::of(&m);
                mem.headers.insert(m.uid, row.identity());
                parsed.insert(m.uid, row);
            }
        }
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
                size,
                fields: h,
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
