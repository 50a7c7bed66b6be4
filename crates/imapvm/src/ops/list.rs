//! Listing: a box's messages numbered as Asterisk numbers them, and resolving a number
//! (or UID) to the UID it names now.

use std::collections::{BTreeSet, HashMap};

use imapvm_message::HeaderBlock;
use imapvm_policy::count::{all_search, listed_in};
use imapvm_policy::{
    Capability, Folder, MessageFlags, MessageNumbers, MessageState, Resolution, Uid, UidSet,
    listing_search, restrict,
};
use imapvm_proto::{CommandId, FetchAttr, UidRange};

use super::{SavedSearch, fetch_result, folder_kept_changing, new_uid_window, search_result};
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
enum ListFlight {
    Saved(SavedSearch),
    Plain {
        search: CommandId,
        classifier: Option<CommandId>,
        fetches: Vec<CommandId>,
    },
}

/// A listing's first answers: the hits, the messages fetched, and the hits of the header
/// keys alone (to learn from; `None` when there are none).
type ListAnswers = (
    Vec<Uid>,
    HashMap<Uid, imapvm_proto::FetchedMessage>,
    Option<Vec<Uid>>,
);

impl ListFlight {
    fn ids(&self) -> Vec<CommandId> {
        match self {
            ListFlight::Saved(q) => q.ids(),
            ListFlight::Plain {
                search,
                classifier,
                fetches,
            } => [*search]
                .into_iter()
                .chain(*classifier)
                .chain(fetches.iter().copied())
                .collect(),
        }
    }

    /// Takes every answer (each one, whatever happens to the others).
    fn take(self, s: &mut Session, mb: &Mailbox, headers_only: bool) -> Result<ListAnswers> {
        match self {
            ListFlight::Saved(q) => {
                let found = q.take(s)?;
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
                let classified = classifier
                    .and_then(|id| search_result(s, "UID SEARCH (list headers)", id).ok());
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
        (!known.is_empty())
            .then_some(UidRange::Set(known))
            .into_iter()
            .chain(new_uid_window(mem))
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
        let keys = match (listed, scope) {
            (Listed::WithDeleted, _) => self.identity.header_keys().to_vec(),
            (Listed::Present, None) => all_search(&self.identity),
            (Listed::Present, Some(folder)) => listing_search(folder, &self.identity),
        };
        let headers_only = listed == Listed::WithDeleted;
        let attrs = list_attrs();
        let key = self.listing_key(scope, listed);
        // Round trip 1 (on a cold connection behind the login, with the SELECT): with
        // SEARCHRES, a `SavedSearch` (the known UIDs fetched by UID, the rest searched by
        // the header keys alone and its hits fetched as `$`: every match, whatever its flags,
        // which are filtered here; the answer classifies, no second search). Without it,
        // the search (restricted to the candidates), the header keys alone to learn which
        // those are where the search has flag keys too (with ESEARCH only: without it, one
        // search per flight), and on a warm connection the header fields of the messages
        // known to be this box's plus a window of UIDs above everything known.
        let mut attempt = 0;
        let mut view_redone = false;
        let (hits, mut fetched, classified, stable, searched, known_before, uid_validity) = loop {
            attempt += 1;
            let selecting = self.queue_select(s, f, &name).await?;
            let changes = s.view_changes();
            let known_before = f.get(&name).headers.keys().max().copied();
            let saved = s.may_use_searchres();
            let (flight, searched) = if saved {
                let q = self.queue_saved_search(s, f, &name, &attrs, &attrs)?;
                let searched = q.searched.clone();
                (ListFlight::Saved(q), searched)
            } else {
                let searched = self.candidates(f, &name);
                let keys = restrict(searched.as_ref(), &keys);
                let classify = (!headers_only && s.capabilities().contains(Capability::Esearch))
                    .then(|| restrict(searched.as_ref(), &self.identity.header_keys()));
                let prefetch = self.list_prefetch(f.get(&name), &key);
                let search = s.queue("UID SEARCH (list)", |c| c.uid_search(&keys))?;
                let classifier = match &classify {
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
            let answers = flight.take(s, self, headers_only);
            let as_queued = self.selected_as_queued(s, f, &name, selecting).await?;
            // The server syncs our view (the pipelined NOOP) possibly after the search ran:
            // if it reported changes meanwhile, the answers may predate them (see
            // `count_many_in`). Ask once more on the synced view; and when the SELECT in
            // front changed what the flight was built on, or SEARCHRES was guessed and the
            // server turned out to lack it.
            let view_changed = s.view_changes() != changes && !view_redone;
            let searchres_refused = saved && !s.may_use_searchres() && answers.is_err();
            match as_queued {
                Some(uid_validity) if !((view_changed || searchres_refused) && attempt < 4) => {
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
                None if attempt >= 4 => return Err(folder_kept_changing(s)),
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
        let mut rows = Vec::new();
        for uid in hits {
            let Some(row) = parsed.remove(&uid) else {
                continue;
            };
            if !self.ours(&row.identity()) {
                continue;
            }
            let flags = row.flags;
            let shown = match (listed, scope) {
                (Listed::WithDeleted, _) => true,
                (Listed::Present, None) => !flags.deleted,
                (Listed::Present, Some(folder)) => listed_in(folder, flags),
            };
            if !shown {
                continue;
            }
            rows.push((uid, flags, row.size, row.fields));
        }
        let numbers = MessageNumbers::new(uid_validity, rows.iter().map(|r| r.0))
            .map_err(|e| self.policy_error(e.into()))?;
        let mut messages = Vec::with_capacity(rows.len());
        for (uid, flags, size, h) in rows {
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
                    self.learn_identities(s, mem, [uid]).await?;
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
