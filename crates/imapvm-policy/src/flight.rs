//! The plan of a count's or a listing's first flight, and how their answers are read: which
//! commands to pipeline (given the server's capabilities, the voicemail-UID cache's
//! known/tail split and whether SEARCHRES may be used), what the hits' flags are, which
//! answers count, and whether the flight must run again.
//!
//! This module never talks to a server: the runtime queues the commands it names and feeds
//! it the answers.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use imapvm_types::{SearchKey, Uid, UidSet};

use crate::count::{
    MessageFacts, MessageState, MwiCounts, all_search, count_search, listed_in, listing_search,
};
use crate::flags::MessageFlags;
use crate::folder::Folder;
use crate::identity::VoicemailIdentity;
use crate::voicemail_uids::{fetchable, restrict};

/// Which commands a count pipelines in its flight (one round trip either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountFlight {
    /// With SEARCHRES (RFC 5182): the known UIDs fetched by UID, the unclassified tail
    /// searched with `RETURN (SAVE)` and `UID FETCH $` of its hits, `(FLAGS
    /// identity-headers)` each, so the identity check needs no flight of its own.
    Saved,
    /// With ESEARCH (tag-correlated answers): [`CountSearches`], five `UID SEARCH`es whose
    /// answers imply the hits' flags.
    Esearch,
    /// Without either (untagged `* SEARCH` answers are matched by order only, and a server
    /// may run pipelined commands in parallel): one `UID SEARCH HEADER … HEADER …` (which
    /// also classifies) and one `UID FETCH (FLAGS)` of the candidates.
    SearchFetch,
}

impl CountFlight {
    /// The flight for a server that may take SEARCHRES (`searchres`) and offers ESEARCH.
    pub const fn choose(searchres: bool, esearch: bool) -> CountFlight {
        match (searchres, esearch) {
            (true, _) => CountFlight::Saved,
            (false, true) => CountFlight::Esearch,
            (false, false) => CountFlight::SearchFetch,
        }
    }
}

/// A box's voicemail looked up in one flight with SEARCHRES (RFC 5182), as queued (`Id`: the
/// runtime's handle of a queued command): the UIDs below the open tail of the box's
/// candidates ([`crate::voicemail_uids`]) fetched by UID (`known`; none while nothing is
/// known, see [`saved_split`]), and `UID SEARCH RETURN (SAVE)` of the header keys alone over
/// the rest (the whole folder while nothing is known) with `UID FETCH $` behind it. Dovecot
/// walks every message between a search's lowest and highest UID, so searching only the
/// tail keeps the work flat in the folder's size; the fetches bring every match, whatever
/// its flags (the caller filters them), so the answer also classifies (learnt as a
/// header-keys-only search over `searched`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedSearch<Id> {
    /// A count's `UID FETCH <known> (FLAGS) (CHANGEDSINCE m)` in front of the rest
    /// ([`crate::known_flags`]; `None`: not sent).
    pub changed: Option<Id>,
    /// The fetch of the known UIDs (`None`: none known, or all asked with CHANGEDSINCE).
    pub known: Option<Id>,
    /// `UID SEARCH RETURN (SAVE)`.
    pub search: Id,
    /// `UID FETCH $`.
    pub fetch: Id,
    /// The candidates (`None`: the whole folder).
    pub searched: Option<UidSet>,
}

impl<Id: Copy> SavedSearch<Id> {
    /// Every command to wait for, in queue order.
    pub fn ids(&self) -> Vec<Id> {
        self.changed
            .into_iter()
            .chain(self.known)
            .chain([self.search, self.fetch])
            .collect()
    }
}

/// A count's commands as queued, by [`CountFlight`], with the candidate UIDs they were
/// restricted to (`None`: the whole folder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountPlan<Id> {
    /// The commands.
    pub commands: CountCommands<Id>,
    /// The candidates.
    pub searched: Option<UidSet>,
}

/// The commands of a [`CountPlan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CountCommands<Id> {
    /// [`CountFlight::Saved`]: fetching `(FLAGS identity-headers)` of every hit (the known
    /// UIDs: their flags).
    Saved(SavedSearch<Id>),
    /// [`CountFlight::SearchFetch`].
    SearchFetch {
        /// The header search.
        search: Id,
        /// The flags' fetch.
        fetch: Id,
    },
    /// [`CountFlight::Esearch`]: the [`CountSearches`].
    Esearch {
        /// Unseen, unflagged.
        new: Id,
        /// Unseen, flagged.
        urgent: Id,
        /// Seen.
        old: Id,
        /// Seen and flagged.
        old_flagged: Id,
        /// The header keys alone.
        headers: Id,
    },
}

impl<Id: Copy> CountPlan<Id> {
    /// Every command to wait for, in queue order.
    pub fn ids(&self) -> Vec<Id> {
        match &self.commands {
            CountCommands::Saved(saved) => saved.ids(),
            CountCommands::SearchFetch { search, fetch } => vec![*search, *fetch],
            CountCommands::Esearch {
                new,
                urgent,
                old,
                old_flagged,
                headers,
            } => vec![*new, *urgent, *old, *old_flagged, *headers],
        }
    }
}

/// A listing's first flight as queued (on a cold connection behind the login, with the
/// SELECT).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListCommands<Id> {
    /// With SEARCHRES: the known UIDs fetched by UID, the rest searched by the header keys
    /// alone and its hits fetched as `$`: every match with its listing fields, whatever its
    /// flags (the runtime filters them); the answer classifies, no second search.
    Saved(SavedSearch<Id>),
    /// Without: the listing's search (restricted to the candidates), the header keys alone
    /// to learn which those are where the search has flag keys too (with ESEARCH only:
    /// without it, one search per flight), and on a warm connection the header fields of
    /// the messages known to be this box's plus a window of UIDs above everything known
    /// ([`list_prefetch`]).
    Plain {
        /// The listing's search.
        search: Id,
        /// The header keys alone.
        classifier: Option<Id>,
        /// The prefetches.
        fetches: Vec<Id>,
    },
}

impl<Id: Copy> ListCommands<Id> {
    /// Every command to wait for, in queue order.
    pub fn ids(&self) -> Vec<Id> {
        match self {
            ListCommands::Saved(q) => q.ids(),
            ListCommands::Plain {
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
}

/// The searches of a [`CountFlight::Esearch`] count, each restricted to the candidates:
/// Asterisk's three (new, urgent, old), old-and-flagged (RFC 3842's old urgent) and the
/// header keys alone (which UIDs are this box's, whatever their flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountSearches {
    /// Unseen, unflagged.
    pub new: Vec<SearchKey>,
    /// Unseen, flagged.
    pub urgent: Vec<SearchKey>,
    /// Seen.
    pub old: Vec<SearchKey>,
    /// Seen and flagged.
    pub old_flagged: Vec<SearchKey>,
    /// The header keys alone.
    pub headers: Vec<SearchKey>,
}

impl CountSearches {
    /// The searches for `identity` over `searched` (`None`: the whole folder).
    pub fn new(identity: &VoicemailIdentity, searched: Option<&UidSet>) -> CountSearches {
        let within = |keys: Vec<SearchKey>| restrict(searched, &keys);
        let mut old_flagged = vec![SearchKey::Undeleted, SearchKey::Flagged, SearchKey::Seen];
        old_flagged.extend(identity.header_keys());
        CountSearches {
            new: within(count_search(Folder::Inbox, identity)),
            urgent: within(count_search(Folder::Urgent, identity)),
            old: within(count_search(Folder::Old, identity)),
            old_flagged: within(old_flagged),
            headers: within(identity.header_keys().to_vec()),
        }
    }
}

/// A saved search's split of the candidates, from the cache's known UIDs and open tail
/// (`VoicemailUids::known_and_tail`; `None` when nothing is known): the UIDs to fetch by UID
/// (possibly none) and the UIDs to search (`None`: the whole folder). When everything is
/// classified, the known UIDs are searched (nothing else can match) and none fetched by UID.
pub fn saved_split(split: Option<(UidSet, Option<UidSet>)>) -> (UidSet, Option<UidSet>) {
    match split {
        Some((known, None)) if !known.is_empty() => (UidSet::new(), Some(known)),
        Some((known, tail)) => (known, tail),
        None => (UidSet::new(), None),
    }
}

/// A count's answers, read: the UIDs that count (in answer order, each once), the flags known
/// of them, and the hits of the header keys alone (`classified`) with the candidates they
/// were restricted to (`searched`): what the voicemail-UID cache learns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CountAnswers {
    /// The UIDs found.
    pub hits: Vec<Uid>,
    /// Their flags, as far as known.
    pub flags: HashMap<Uid, MessageFlags>,
    /// The candidates (`None`: the whole folder).
    pub searched: Option<UidSet>,
    /// The hits of the header keys alone.
    pub classified: Vec<Uid>,
}

impl CountAnswers {
    /// [`CountFlight::Saved`]: every match fetched with its flags. `\Deleted` hits are kept:
    /// they count nowhere (the tally leaves them out) and the search classified them.
    pub fn saved(
        searched: Option<UidSet>,
        found: impl IntoIterator<Item = (Uid, Option<MessageFlags>)>,
    ) -> CountAnswers {
        let (hits, flags) = fetched_hits(found);
        CountAnswers {
            classified: hits.clone(),
            hits,
            flags,
            searched,
        }
    }

    /// [`CountFlight::SearchFetch`]: the header search's `hits` and the fetched flags; the
    /// hits known to be `\Deleted` count nowhere (the search still classified them).
    pub fn search_fetch(
        searched: Option<UidSet>,
        hits: Vec<Uid>,
        fetched: impl IntoIterator<Item = (Uid, Option<MessageFlags>)>,
    ) -> CountAnswers {
        let flags: HashMap<Uid, MessageFlags> = fetched
            .into_iter()
            .filter_map(|(uid, fl)| Some((uid, fl?)))
            .collect();
        CountAnswers {
            hits: undeleted(&hits, &flags),
            flags,
            searched,
            classified: hits,
        }
    }

    /// [`CountFlight::Esearch`]: the [`CountSearches`]' hits, the flags each implies
    /// ([`crate::count::count_hits`]).
    pub fn esearch(
        searched: Option<UidSet>,
        [new, urgent, old, old_flagged]: [&[Uid]; 4],
        classified: Vec<Uid>,
    ) -> CountAnswers {
        let (hits, flags) = crate::count::count_hits(new, urgent, old, old_flagged);
        CountAnswers {
            hits,
            flags,
            searched,
            classified,
        }
    }
}

impl CountAnswers {
    /// Adds a hit the searches may have missed (a message just appended with known `flags`,
    /// the search run in parallel with the APPEND); flags already answered stay.
    pub fn found(&mut self, uid: Uid, flags: MessageFlags) {
        if !self.hits.contains(&uid) {
            self.hits.push(uid);
        }
        self.flags.entry(uid).or_insert(flags);
    }
}

/// A count's hits and their flags from fetched answers (`(UID, flags)`, `None` when the
/// answer had no flags: not a hit): each UID once, in answer order, with its last flags.
fn fetched_hits(
    found: impl IntoIterator<Item = (Uid, Option<MessageFlags>)>,
) -> (Vec<Uid>, HashMap<Uid, MessageFlags>) {
    let mut hits = Vec::new();
    let mut flags = HashMap::new();
    for (uid, fl) in found {
        if let Some(fl) = fl
            && flags.insert(uid, fl).is_none()
        {
            hits.push(uid);
        }
    }
    (hits, flags)
}

/// The UIDs a [`CountFlight::SearchFetch`] count fetches the flags of: the candidates
/// ([`fetchable`] with `window`), or while nothing is classified, from the oldest UID known to
/// be this box's (`oldest_ours`; else the first) to the newest.
pub fn flags_range(searched: Option<&UidSet>, oldest_ours: Option<Uid>, window: u32) -> UidSet {
    match searched {
        Some(set) => fetchable(set, window),
        None => UidSet::range(oldest_ours.unwrap_or(Uid::MIN), Uid::MAX),
    }
}

/// The hits that count: those not known to be `\Deleted` (the search still classified them).
fn undeleted(hits: &[Uid], flags: &HashMap<Uid, MessageFlags>) -> Vec<Uid> {
    hits.iter()
        .copied()
        .filter(|u| flags.get(u).is_none_or(|f| !f.deleted))
        .collect()
}

/// The indices of `items` grouped by key (`same`: whether two keys are one group), groups
/// and members in first-seen order: the boxes of one account, or of one folder, counted in
/// one flight.
pub fn groups<K>(
    items: impl IntoIterator<Item = (usize, K)>,
    same: impl Fn(&K, &K) -> bool,
) -> Vec<(K, Vec<usize>)> {
    let mut groups: Vec<(K, Vec<usize>)> = Vec::new();
    for (i, key) in items {
        match groups.iter_mut().find(|(k, _)| same(k, &key)) {
            Some((_, members)) => members.push(i),
            None => groups.push((key, vec![i])),
        }
    }
    groups
}

/// What an identity fetch must bring of `uids`: the UIDs whose identity is not known
/// (`identity_known`) or, with `known_flags`, whose flags are not in it, and whether to
/// fetch flags (only where some are unknown: an ESEARCH count knows them all).
pub fn to_learn(
    uids: impl IntoIterator<Item = Uid>,
    identity_known: impl Fn(&Uid) -> bool,
    known_flags: Option<&HashMap<Uid, MessageFlags>>,
) -> (UidSet, bool) {
    let flags_unknown = |u: &Uid| known_flags.is_some_and(|k| !k.contains_key(u));
    let missing: UidSet = uids
        .into_iter()
        .filter(|u| !identity_known(u) || flags_unknown(u))
        .collect();
    let flags = missing.iter().any(|u| flags_unknown(&u));
    (missing, flags)
}

/// Every box's hits of one folder together (ascending, each once) with every flag known, for
/// one identity fetch of them all.
pub fn merge_hits(
    boxes: &[(Vec<Uid>, HashMap<Uid, MessageFlags>)],
) -> (Vec<Uid>, HashMap<Uid, MessageFlags>) {
    let mut all: Vec<Uid> = boxes.iter().flat_map(|(h, _)| h.iter().copied()).collect();
    all.sort_unstable();
    all.dedup();
    let flags = boxes
        .iter()
        .flat_map(|(_, fl)| fl.iter().map(|(u, f)| (*u, *f)))
        .collect();
    (all, flags)
}

/// Adds to `flags` what `all` knows of `hits` and `flags` does not.
pub fn fill_flags(
    hits: &[Uid],
    flags: &mut HashMap<Uid, MessageFlags>,
    all: &HashMap<Uid, MessageFlags>,
) {
    for u in hits {
        if let (Entry::Vacant(e), Some(fl)) = (flags.entry(*u), all.get(u)) {
            e.insert(*fl);
        }
    }
}

/// The counts of `facts` (the hits with their flags and identity, greetings left out) and
/// every UID of this box among them (ascending, each once; deleted ones left out), for
/// message numbers.
pub fn tally_uids(
    identity: &VoicemailIdentity,
    facts: &[MessageFacts<'_>],
) -> (MwiCounts, Vec<Uid>) {
    let counts = MwiCounts::tally(identity, facts);
    let mut all: Vec<Uid> = facts
        .iter()
        .filter(|f| identity.matches(f.extension, f.context) && MessageState::of(f.flags).is_some())
        .map(|f| f.uid)
        .collect();
    all.sort_unstable();
    all.dedup();
    (counts, all)
}

/// How many UIDs above the highest one whose identity is known a warm listing or deposit
/// fetches along with its searches (mail that arrived since the folder was last looked at).
/// A bound: ordinary mail in a shared folder costs at most this many rows, once; a hit above
/// the window is fetched afterwards.
pub const NEW_UID_WINDOW: u32 = 500;

/// The [`NEW_UID_WINDOW`] UIDs above `highest_known`, the highest UID whose identity is
/// known; `None` when nothing is known yet (a cold connection: the hits are fetched instead)
/// or nothing is above it.
pub fn new_uid_window(highest_known: Option<Uid>) -> Option<UidSet> {
    let highest = highest_known?;
    let low = highest.next()?;
    let high = Uid::new(highest.get().saturating_add(NEW_UID_WINDOW))?;
    Some(UidSet::range(low, high))
}

/// What a warm listing fetches in the same flight as its search: `known`, the UIDs known to
/// be this box's (for a folder scope, those of its previous listing: the others would
/// mostly be fetched for nothing), and the [`new_uid_window`] (new mail). Never anything
/// else: a shared folder's ordinary mail is fetched at most once, when it is new. Nothing
/// while nothing is known about the folder (`highest_known` is `None`, a cold connection).
/// Hits not covered are fetched afterwards.
pub fn list_prefetch(known: UidSet, highest_known: Option<Uid>) -> Vec<UidSet> {
    if highest_known.is_none() {
        return Vec::new();
    }
    (!known.is_empty())
        .then_some(known)
        .into_iter()
        .chain(new_uid_window(highest_known))
        .collect()
}

/// What to do once a flight (behind a queued SELECT) is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlightOutcome {
    /// Use the answers.
    Done,
    /// Send the flight again.
    Again,
    /// The folder changed under every attempt: give up.
    KeptChanging,
}

/// Most attempts at a flight.
pub const MAX_FLIGHT_ATTEMPTS: u32 = 4;

impl FlightOutcome {
    /// After attempt number `attempt` (from 1): `as_queued` when the commands ran in the
    /// folder as remembered (else they must run again: it was created or re-created),
    /// `view_changed` when the server reported changes the answers may predate (asked once
    /// only), `searchres_refused` when SEARCHRES was guessed and turned out to be missing
    /// (or a count's CHANGEDSINCE fetch of its known UIDs failed or its view changed under it:
    /// [`crate::known_flags`], the memory is dropped and the flight runs plainly).
    /// Redone at most [`MAX_FLIGHT_ATTEMPTS`] times; a view change or refusal on the last
    /// attempt is taken as it is.
    pub const fn decide(
        attempt: u32,
        as_queued: bool,
        view_changed: bool,
        searchres_refused: bool,
    ) -> FlightOutcome {
        let last = attempt >= MAX_FLIGHT_ATTEMPTS;
        match (as_queued, last) {
            (false, true) => FlightOutcome::KeptChanging,
            (false, false) => FlightOutcome::Again,
            (true, false) if view_changed || searchres_refused => FlightOutcome::Again,
            (true, _) => FlightOutcome::Done,
        }
    }
}

/// The search of a listing of `identity` in `scope` (`None`: every state of `imapfolder`);
/// `with_deleted`: the `\Deleted` messages too (the header keys alone).
pub fn listing_keys(
    identity: &VoicemailIdentity,
    scope: Option<Folder>,
    with_deleted: bool,
) -> Vec<SearchKey> {
    match (with_deleted, scope) {
        (true, _) => identity.header_keys().to_vec(),
        (false, None) => all_search(identity),
        (false, Some(folder)) => listing_search(folder, identity),
    }
}

/// The searches of a listing without SEARCHRES ([`ListCommands::Plain`]), restricted to the
/// candidates: the listing's ([`listing_keys`]) and, with ESEARCH, where that search has flag
/// keys too (not `with_deleted`), the header keys alone (without ESEARCH, one search per
/// flight: untagged answers are matched by order only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListSearches {
    /// The listing's search.
    pub keys: Vec<SearchKey>,
    /// The header keys alone, to classify.
    pub classify: Option<Vec<SearchKey>>,
}

impl ListSearches {
    /// The searches of a listing of `identity` in `scope` over `searched` (`None`: the whole
    /// folder), on a server that offers ESEARCH or not.
    pub fn new(
        identity: &VoicemailIdentity,
        scope: Option<Folder>,
        with_deleted: bool,
        esearch: bool,
        searched: &Option<UidSet>,
    ) -> ListSearches {
        let searched = searched.as_ref();
        ListSearches {
            keys: restrict(searched, &listing_keys(identity, scope, with_deleted)),
            classify: (esearch && !with_deleted)
                .then(|| restrict(searched, &identity.header_keys())),
        }
    }
}

/// Whether a listing of [`listing_keys`] shows a message with `flags` (the search may have
/// run before a flag changed).
pub const fn listing_shows(scope: Option<Folder>, with_deleted: bool, flags: MessageFlags) -> bool {
    match (with_deleted, scope) {
        (true, _) => true,
        (false, None) => !flags.deleted,
        (false, Some(folder)) => listed_in(folder, flags),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use imapvm_types::MailboxId;

    fn me() -> VoicemailIdentity {
        let id = MailboxId::parse("12@default").unwrap();
        VoicemailIdentity::new(&id, None).unwrap()
    }

    fn uid(n: u32) -> Uid {
        Uid::new(n).unwrap()
    }

    fn fl(seen: bool, flagged: bool, deleted: bool) -> MessageFlags {
        MessageFlags {
            seen,
            flagged,
            deleted,
        }
    }

    #[test]
    fn every_queued_command_is_waited_for_in_queue_order() {
        let saved = |known| SavedSearch {
            changed: None,
            known,
            search: 2,
            fetch: 3,
            searched: None,
        };
        assert_eq!(saved(Some(1)).ids(), vec![1, 2, 3]);
        assert_eq!(saved(None).ids(), vec![2, 3]);
        let changed = SavedSearch {
            changed: Some(0),
            ..saved(Some(1))
        };
        assert_eq!(changed.ids(), vec![0, 1, 2, 3], "CHANGEDSINCE first");
        let plan = |commands| CountPlan {
            commands,
            searched: None,
        };
        assert_eq!(
            plan(CountCommands::Saved(saved(Some(1)))).ids(),
            vec![1, 2, 3]
        );
        let search_fetch = CountCommands::SearchFetch {
            search: 4,
            fetch: 5,
        };
        assert_eq!(plan(search_fetch).ids(), vec![4, 5]);
        let esearch = CountCommands::Esearch {
            new: 1,
            urgent: 2,
            old: 3,
            old_flagged: 4,
            headers: 5,
        };
        assert_eq!(plan(esearch).ids(), vec![1, 2, 3, 4, 5]);
        assert_eq!(ListCommands::Saved(saved(None)).ids(), vec![2, 3]);
        let plain = |classifier| ListCommands::Plain {
            search: 1,
            classifier,
            fetches: vec![7, 8],
        };
        assert_eq!(plain(Some(2)).ids(), vec![1, 2, 7, 8]);
        assert_eq!(plain(None).ids(), vec![1, 7, 8]);
    }

    #[test]
    fn the_flight_follows_the_capabilities() {
        assert_eq!(CountFlight::choose(true, true), CountFlight::Saved);
        assert_eq!(CountFlight::choose(true, false), CountFlight::Saved);
        assert_eq!(CountFlight::choose(false, true), CountFlight::Esearch);
        assert_eq!(CountFlight::choose(false, false), CountFlight::SearchFetch);
    }

    #[test]
    fn esearch_counts_are_restricted_to_the_candidates() {
        let whole = CountSearches::new(&me(), None);
        assert_eq!(whole.new, count_search(Folder::Inbox, &me()));
        assert_eq!(whole.urgent, count_search(Folder::Urgent, &me()));
        assert_eq!(whole.old, count_search(Folder::Old, &me()));
        assert_eq!(whole.headers, me().header_keys().to_vec());
        assert_eq!(
            &whole.old_flagged[..3],
            &[SearchKey::Undeleted, SearchKey::Flagged, SearchKey::Seen]
        );
        let set = UidSet::range(uid(5), uid(9));
        let within = CountSearches::new(&me(), Some(&set));
        for keys in [
            &within.new,
            &within.urgent,
            &within.old,
            &within.old_flagged,
            &within.headers,
        ] {
            assert_eq!(keys[0], SearchKey::Uid(set.clone()));
        }
        assert_eq!(within.headers[1..], whole.headers[..]);
    }

    #[test]
    fn a_saved_search_fetches_the_known_and_searches_the_tail() {
        let known = UidSet::range(uid(1), uid(3));
        let tail = UidSet::range(uid(10), Uid::MAX);
        assert_eq!(saved_split(None), (UidSet::new(), None));
        assert_eq!(
            saved_split(Some((known.clone(), Some(tail.clone())))),
            (known.clone(), Some(tail.clone()))
        );
        assert_eq!(
            saved_split(Some((UidSet::new(), Some(tail.clone())))),
            (UidSet::new(), Some(tail))
        );
        // Everything classified: the known UIDs are searched, none fetched by UID.
        assert_eq!(
            saved_split(Some((known.clone(), None))),
            (UidSet::new(), Some(known))
        );
        assert_eq!(
            saved_split(Some((UidSet::new(), None))),
            (UidSet::new(), None)
        );
    }

    #[test]
    fn fetched_hits_are_each_once_in_answer_order_with_their_last_flags() {
        let (hits, flags) = fetched_hits([
            (uid(4), Some(fl(true, false, false))),
            (uid(2), None),
            (uid(1), Some(fl(false, true, false))),
            (uid(4), Some(fl(false, false, false))),
        ]);
        assert_eq!(hits, vec![uid(4), uid(1)]);
        assert_eq!(flags[&uid(4)], fl(false, false, false));
        assert!(!flags.contains_key(&uid(2)));
    }

    #[test]
    fn flags_are_fetched_for_the_candidates_or_from_the_oldest_known() {
        let set = UidSet::range(uid(4), uid(6));
        assert_eq!(
            flags_range(Some(&set), Some(uid(1)), 500),
            fetchable(&set, 500)
        );
        assert_eq!(
            flags_range(None, Some(uid(7)), 500),
            UidSet::range(uid(7), Uid::MAX)
        );
        assert_eq!(
            flags_range(None, None, 500),
            UidSet::range(Uid::MIN, Uid::MAX)
        );
    }

    #[test]
    fn answers_classify_every_hit_and_count_the_undeleted() {
        let set = UidSet::range(uid(1), uid(9));
        let saved = CountAnswers::saved(
            Some(set.clone()),
            [(uid(3), Some(fl(false, false, true))), (uid(4), None)],
        );
        assert_eq!(
            (saved.hits.clone(), saved.classified),
            (vec![uid(3)], vec![uid(3)])
        );
        assert_eq!(saved.searched, Some(set));
        let fetched = CountAnswers::search_fetch(
            None,
            vec![uid(5), uid(6), uid(7)],
            [
                (uid(5), Some(fl(false, false, true))),
                (uid(6), Some(fl(true, false, false))),
                (uid(8), None),
            ],
        );
        assert_eq!(fetched.hits, vec![uid(6), uid(7)]);
        assert_eq!(fetched.classified, vec![uid(5), uid(6), uid(7)]);
        assert_eq!(fetched.flags.len(), 2);
        let esearch = CountAnswers::esearch(
            None,
            [&[uid(1)], &[uid(2)], &[uid(3), uid(4)], &[uid(4)]],
            vec![uid(1), uid(2), uid(3), uid(4), uid(9)],
        );
        assert_eq!(esearch.hits, vec![uid(1), uid(2), uid(3), uid(4)]);
        assert_eq!(esearch.flags[&uid(2)], fl(false, true, false));
        assert_eq!(esearch.flags[&uid(4)], fl(true, true, false));
        assert_eq!(esearch.classified.len(), 5);
    }

    #[test]
    fn the_new_uid_window_starts_above_the_highest_known_uid() {
        assert_eq!(new_uid_window(None), None);
        assert_eq!(
            new_uid_window(Some(uid(7))),
            Some(UidSet::range(uid(8), uid(7 + NEW_UID_WINDOW)))
        );
        assert_eq!(
            new_uid_window(Some(Uid::MAX)),
            None,
            "nothing above the largest UID"
        );
    }

    #[test]
    fn a_warm_listing_prefetches_the_known_and_new_mail_only() {
        let known = UidSet::range(uid(2), uid(4));
        assert_eq!(list_prefetch(known.clone(), None), Vec::<UidSet>::new());
        let window = new_uid_window(Some(uid(9))).unwrap();
        assert_eq!(
            list_prefetch(known.clone(), Some(uid(9))),
            vec![known, window.clone()]
        );
        assert_eq!(list_prefetch(UidSet::new(), Some(uid(9))), vec![window]);
        assert_eq!(
            list_prefetch(UidSet::new(), Some(Uid::MAX)),
            Vec::<UidSet>::new()
        );
    }

    #[test]
    fn groups_keep_the_first_seen_order() {
        let items = [(0, "a"), (1, "B"), (2, "A"), (3, "c"), (4, "b")];
        let grouped = groups(items, |x: &&str, y: &&str| x.eq_ignore_ascii_case(y));
        assert_eq!(
            grouped,
            vec![("a", vec![0, 2]), ("B", vec![1, 4]), ("c", vec![3])]
        );
        assert!(groups(Vec::<(usize, u8)>::new(), |a, b| a == b).is_empty());
    }

    #[test]
    fn an_identity_fetch_brings_what_is_unknown_and_flags_only_when_needed() {
        let known = |u: &Uid| u.get() < 5;
        let uids = [uid(7), uid(2), uid(3), uid(6)];
        let (missing, flags) = to_learn(uids, known, None);
        assert_eq!((missing, flags), (UidSet::range(uid(6), uid(7)), false));
        let all = HashMap::from([
            (uid(2), fl(false, false, false)),
            (uid(3), fl(false, false, false)),
            (uid(6), fl(true, false, false)),
            (uid(7), fl(true, false, false)),
        ]);
        assert_eq!(
            to_learn(uids, known, Some(&all)),
            (UidSet::range(uid(6), uid(7)), false)
        );
        let some = HashMap::from([(uid(6), fl(true, false, false))]);
        let (missing, flags) = to_learn(uids, known, Some(&some));
        assert_eq!(
            missing.iter().collect::<Vec<_>>(),
            vec![uid(2), uid(3), uid(6), uid(7)]
        );
        assert!(flags);
        assert_eq!(to_learn([uid(1)], known, None), (UidSet::new(), false));
    }

    #[test]
    fn an_appended_message_is_a_hit_once_with_the_answered_flags_first() {
        let mut a = CountAnswers::search_fetch(
            None,
            vec![uid(2)],
            [(uid(2), Some(fl(true, false, false)))],
        );
        a.found(uid(2), fl(false, false, false));
        a.found(uid(3), fl(false, true, false));
        assert_eq!(a.hits, vec![uid(2), uid(3)]);
        assert_eq!(a.flags[&uid(2)], fl(true, false, false));
        assert_eq!(a.flags[&uid(3)], fl(false, true, false));
    }

    #[test]
    fn a_listing_classifies_alongside_only_with_esearch_and_flag_keys() {
        let set = Some(UidSet::range(uid(3), Uid::MAX));
        let q = ListSearches::new(&me(), Some(Folder::Old), false, true, &set);
        assert_eq!(
            q.keys,
            restrict(set.as_ref(), &listing_search(Folder::Old, &me()))
        );
        assert_eq!(
            q.classify,
            Some(restrict(set.as_ref(), &me().header_keys()))
        );
        assert_eq!(
            ListSearches::new(&me(), None, false, false, &None).classify,
            None
        );
        let deleted = ListSearches::new(&me(), None, true, true, &None);
        assert_eq!(
            (deleted.keys, deleted.classify),
            (me().header_keys().to_vec(), None)
        );
    }

    #[test]
    fn deleted_hits_do_not_count_and_unknown_flags_do() {
        let flags = HashMap::from([
            (uid(1), fl(false, false, true)),
            (uid(2), fl(true, false, false)),
        ]);
        assert_eq!(
            undeleted(&[uid(1), uid(2), uid(3)], &flags),
            vec![uid(2), uid(3)]
        );
    }

    #[test]
    fn merged_hits_are_sorted_once_and_fill_each_box() {
        let a = (
            vec![uid(3), uid(1)],
            HashMap::from([(uid(3), fl(true, false, false))]),
        );
        let b = (
            vec![uid(1), uid(2)],
            HashMap::from([(uid(1), fl(false, true, false))]),
        );
        let (all, flags) = merge_hits(&[a.clone(), b]);
        assert_eq!(all, vec![uid(1), uid(2), uid(3)]);
        let (hits, mut own) = a;
        fill_flags(&hits, &mut own, &flags);
        assert_eq!(own[&uid(1)], fl(false, true, false));
        assert_eq!(own[&uid(3)], fl(true, false, false));
        assert!(!own.contains_key(&uid(2)), "not this box's hit");
    }

    #[test]
    fn the_tally_lists_this_box_undeleted_uids_once() {
        let fact = |n, flags, ext| MessageFacts {
            uid: uid(n),
            flags,
            extension: Some(ext),
            context: Some("default"),
        };
        let facts = [
            fact(5, fl(false, false, false), "12"),
            fact(2, fl(true, true, false), "12"),
            fact(3, fl(false, false, true), "12"),
            fact(4, fl(false, false, false), "13"),
            fact(2, fl(true, true, false), "12"),
        ];
        let (counts, uids) = tally_uids(&me(), &facts);
        assert_eq!(uids, vec![uid(2), uid(5)]);
        assert_eq!((counts.new, counts.old, counts.old_urgent), (1, 2, 2));
    }

    #[test]
    fn a_flight_runs_again_until_it_ran_as_queued_on_a_still_view() {
        use FlightOutcome::*;
        assert_eq!(FlightOutcome::decide(1, true, false, false), Done);
        assert_eq!(FlightOutcome::decide(1, false, false, false), Again);
        assert_eq!(FlightOutcome::decide(1, true, true, false), Again);
        assert_eq!(FlightOutcome::decide(3, true, false, true), Again);
        assert_eq!(
            FlightOutcome::decide(4, true, true, true),
            Done,
            "the last is taken"
        );
        assert_eq!(FlightOutcome::decide(4, false, false, false), KeptChanging);
    }

    #[test]
    fn listings_search_and_show_by_scope() {
        assert_eq!(listing_keys(&me(), None, true), me().header_keys().to_vec());
        assert_eq!(listing_keys(&me(), None, false), all_search(&me()));
        assert_eq!(
            listing_keys(&me(), Some(Folder::Old), false),
            listing_search(Folder::Old, &me())
        );
        let deleted = fl(true, false, true);
        let old = fl(true, false, false);
        assert!(listing_shows(None, true, deleted));
        assert!(!listing_shows(None, false, deleted));
        assert!(listing_shows(None, false, old));
        assert!(listing_shows(Some(Folder::Old), false, old));
        assert!(!listing_shows(Some(Folder::Inbox), false, old));
    }
}
