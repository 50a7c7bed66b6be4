//! Which UIDs of an IMAP folder hold one box's voicemail, remembered so that a count or a
//! listing searches those UIDs and the mail that arrived since, not the whole folder.
//!
//! Why it is exact: within one UIDVALIDITY a UID is never reused and a message's headers
//! never change, so whether a UID matches a box's header keys (`HEADER
//! X-Asterisk-VM-Extension … HEADER X-Asterisk-VM-Context …`) is fixed for ever. An entry
//! holds, per (folder, box), the UIDVALIDITY, a set `uids` and a bound `classified_below`
//! such that **every message with a UID below `classified_below` that matches the header
//! keys is in `uids`** (the invariant). Then
//!
//! ```text
//! UID SEARCH UID <uids>,<classified_below>:4294967295 <keys>
//! ```
//!
//! finds exactly what `UID SEARCH <keys>` finds, for any keys that include the header keys
//! (flags may have changed in between: they are still searched). A message expunged since
//! simply no longer matches; a new UIDVALIDITY makes the entry useless and it is dropped.
//!
//! An entry is learnt from a header-keys-only search ([`Scan`]): its hits, the candidates it
//! was restricted to, and one UID known to exist in the folder when the search ran (the
//! folder's `UIDNEXT − 1` from a SELECT made before, or a UID another answer of the same
//! unchanged view named). Everything below that UID was classified by the search, so the
//! next search starts above it.
//!
//! Bounded ([`CacheBounds`]): at most `max_entries` (folder, box) entries, the least
//! recently used evicted first, and at most `max_ranges` UID ranges per entry: a set with
//! more is widened (the closest ranges merged), which costs the server a little more work
//! and never changes an answer (the candidates only need to include every match).
//!
//! Each entry also holds the box's [`KnownFlags`] (the flags of its known UIDs at a
//! mod-sequence, [`crate::known_flags`]), so the same bounds hold for them.
//!
//! This module never talks to a server: the runtime sends the searches it builds and hands
//! back the answers.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

use imapvm_types::{SearchKey, Uid, UidSet, UidValidity};

use crate::known_flags::KnownFlags;

/// How much a [`VoicemailUids`] cache may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheBounds {
    /// Most (folder, box) entries; the least recently used goes first.
    pub max_entries: usize,
    /// Most UID ranges one entry keeps (a wider set replaces a longer one).
    pub max_ranges: usize,
}

impl CacheBounds {
    /// The defaults: 64 entries of at most 1,024 ranges. A range is 8 bytes, so an entry
    /// holds at most 8 KiB of ranges and a cache at most 512 KiB of them (plus its keys);
    /// a box of a few hundred messages usually needs a few ranges to a few hundred.
    pub const DEFAULT: CacheBounds = CacheBounds {
        max_entries: 64,
        max_ranges: 1024,
    };

    /// Bytes of UID ranges a cache with these bounds holds at most (keys not counted).
    pub const fn max_range_bytes(self) -> usize {
        self.max_entries
            .saturating_mul(self.max_ranges)
            .saturating_mul(std::mem::size_of::<(Uid, Uid)>())
    }
}

impl Default for CacheBounds {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Most message sizes an entry remembers (of its known UIDs, the highest kept): 12 bytes
/// each, 12 KiB per entry.
pub const MAX_REMEMBERED_SIZES: usize = 1024;

/// One header-keys-only search and what is known of the folder it ran in: what
/// [`VoicemailUids::learn`] learns from.
#[derive(Debug, Clone, Copy)]
pub struct Scan<'a> {
    /// The folder's UIDVALIDITY when the search ran.
    pub uid_validity: UidValidity,
    /// The UIDs the search was restricted to (`UID <set> …`), `None` for the whole folder.
    pub searched: Option<&'a UidSet>,
    /// Its hits: the UIDs whose headers match the box's header keys (flags not searched).
    pub hits: &'a [Uid],
    /// A UID that existed in the folder (or was expunged from it already) when the search
    /// ran: the search saw every message below it. `UIDNEXT − 1` of a SELECT made before the
    /// search, or a UID an answer of the same flight named while the view did not change.
    /// `None` when nothing is known; the highest hit is used then.
    pub existing: Option<Uid>,
}

/// What is known of one (folder, box): see the module docs.
/// One (folder, box) entry of a [`VoicemailUids`] cache as it is kept between processes
/// ([`VoicemailUids::remembered`], [`VoicemailUids::recall`], [`crate::uid_file`]): every
/// message with a UID below `classified_below` that matches the box's header keys is in
/// `uids`, in the folder whose UIDVALIDITY is `uid_validity`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remembered<K> {
    /// Which (folder, box).
    pub key: K,
    /// The folder's UIDVALIDITY the entry belongs to.
    pub uid_validity: UidValidity,
    /// The box's voicemail UIDs below `classified_below` (possibly widened: a superset).
    pub uids: UidSet,
    /// Every UID below this was classified (1: none; 2³²: all).
    pub classified_below: u64,
    /// The RFC822.SIZE of some of `uids` (a message's size never changes).
    pub sizes: Vec<(Uid, u32)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    uid_validity: UidValidity,
    /// Every UID below `classified_below` that matches is in here (maybe more: expunged
    /// ones, or the gaps of a widened set).
    uids: UidSet,
    /// Up to 2³²: everything below is classified.
    classified_below: u64,
    /// The cache's clock when last used.
    used: u64,
    /// The flags of the known UIDs at a mod-sequence, if remembered.
    flags: Option<KnownFlags>,
    /// The RFC822.SIZE of known UIDs (of `uids`; at most [`MAX_REMEMBERED_SIZES`]).
    sizes: BTreeMap<Uid, u32>,
}

impl Entry {
    fn candidates(&self) -> Option<UidSet> {
        let mut set = self.uids.clone();
        let low = u32::try_from(self.classified_below).ok().and_then(Uid::new);
        match low {
            Some(low) => {
                set.insert_range(low, Uid::MAX);
            }
            // Everything classified (a UID of 2³² − 1 was seen): the set alone.
            None if self.classified_below > u64::from(Uid::MAX.get()) => {}
            None => return None,
        }
        (!set.is_empty()).then_some(set)
    }
}

/// Which UIDs of each folder are which box's voicemail, per (folder, box) key `K`; see the
/// module docs.
#[derive(Debug, Clone)]
pub struct VoicemailUids<K> {
    entries: HashMap<K, Entry>,
    clock: u64,
    bounds: CacheBounds,
}

impl<K: Hash + Eq + Clone> Default for VoicemailUids<K> {
    fn default() -> Self {
        Self::new(CacheBounds::DEFAULT)
    }
}

impl<K: Hash + Eq + Clone> VoicemailUids<K> {
    /// An empty cache (bounds of 0 are taken as 1).
    pub fn new(bounds: CacheBounds) -> Self {
        VoicemailUids {
            entries: HashMap::new(),
            clock: 0,
            bounds: CacheBounds {
                max_entries: bounds.max_entries.max(1),
                max_ranges: bounds.max_ranges.max(1),
            },
        }
    }

    /// The bounds.
    pub fn bounds(&self) -> CacheBounds {
        self.bounds
    }

    /// How many entries are held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The UIDs a search for `key`'s box in a folder of `uid_validity` needs to look at
    /// (the known matches and everything not classified yet), or `None` when nothing is
    /// known: search the whole folder. An entry of another UIDVALIDITY is dropped.
    pub fn candidates(&mut self, key: &K, uid_validity: UidValidity) -> Option<UidSet> {
        self.clock += 1;
        let clock = self.clock;
        let entry = self.entries.get_mut(key)?;
        if entry.uid_validity != uid_validity {
            self.entries.remove(key);
            return None;
        }
        entry.used = clock;
        entry.candidates()
    }

    /// [`VoicemailUids::candidates`] in two: the UIDs known to match (maybe more: expunged
    /// ones, the gaps of a widened set), and the tail not classified yet
    /// (`n:4294967295`; `None` when everything is). A count or listing fetches the first by
    /// UID and searches only the tail; `None` when nothing is known (search the whole
    /// folder). Counts as a use, as `candidates` does.
    pub fn known_and_tail(
        &mut self,
        key: &K,
        uid_validity: UidValidity,
    ) -> Option<(UidSet, Option<UidSet>)> {
        let all = self.candidates(key, uid_validity)?;
        let entry = self.entries.get(key)?;
        let tail = u32::try_from(entry.classified_below)
            .ok()
            .and_then(Uid::new)
            .map(|low| UidSet::range(low, Uid::MAX));
        let known = match &tail {
            Some(tail) => all.difference(tail),
            None => all,
        };
        Some((known, tail))
    }

    /// The remembered flags of `key`'s known UIDs in a folder of `uid_validity`.
    pub fn known_flags(&self, key: &K, uid_validity: UidValidity) -> Option<&KnownFlags> {
        self.entries
            .get(key)
            .filter(|e| e.uid_validity == uid_validity)?
            .flags
            .as_ref()
    }

    /// Keeps `flags` as `key`'s remembered flags (`None`: forgets them); nothing when `key`
    /// has no entry of `uid_validity`.
    pub fn remember_flags(
        &mut self,
        key: &K,
        uid_validity: UidValidity,
        flags: Option<KnownFlags>,
    ) {
        if let Some(e) = self
            .entries
            .get_mut(key)
            .filter(|e| e.uid_validity == uid_validity)
        {
            e.flags = flags;
        }
    }

    /// Applies expunges seen with their UIDs to the remembered flags of every key `of`
    /// selects (the keys of the folder they were seen in).
    pub fn vanish(&mut self, of: impl Fn(&K) -> bool, uids: &UidSet) {
        for (_, e) in self.entries.iter_mut().filter(|(k, _)| of(k)) {
            if let Some(f) = e.flags.as_mut() {
                f.vanish(uids);
            }
        }
    }

    /// The remembered RFC822.SIZE of each of `uids` in `key`'s entry, or `None` when one of
    /// them has none (or the entry is of another UIDVALIDITY).
    pub fn sizes_of(
        &self,
        key: &K,
        uid_validity: UidValidity,
        uids: &UidSet,
    ) -> Option<HashMap<Uid, u32>> {
        let e = self
            .entries
            .get(key)
            .filter(|e| e.uid_validity == uid_validity)?;
        uids.iter().map(|u| Some((u, *e.sizes.get(&u)?))).collect()
    }

    /// Remembers the RFC822.SIZE of messages of `key`'s entry (those not among its known
    /// UIDs are left out; the highest [`MAX_REMEMBERED_SIZES`] kept).
    pub fn remember_sizes(
        &mut self,
        key: &K,
        uid_validity: UidValidity,
        sizes: impl IntoIterator<Item = (Uid, u32)>,
    ) {
        if let Some(e) = self
            .entries
            .get_mut(key)
            .filter(|e| e.uid_validity == uid_validity)
        {
            let mut all = std::mem::take(&mut e.sizes);
            all.extend(sizes);
            e.sizes = bounded_sizes(&e.uids, all);
        }
    }

    /// What this cache knows, one [`Remembered`] per entry, the most recently used first:
    /// what [`crate::uid_file`] writes so that the next process starts where this one ended.
    /// The remembered flags are not included: they hold only within one selected view.
    pub fn remembered(&self) -> Vec<Remembered<K>> {
        let mut entries: Vec<(&K, &Entry)> = self.entries.iter().collect();
        entries.sort_by_key(|(_, e)| std::cmp::Reverse(e.used));
        entries
            .into_iter()
            .map(|(k, e)| Remembered {
                key: k.clone(),
                uid_validity: e.uid_validity,
                uids: e.uids.clone(),
                classified_below: e.classified_below,
                sizes: e.sizes.iter().map(|(u, n)| (*u, *n)).collect(),
            })
            .collect()
    }

    /// Takes back what an earlier cache [`remembered`](Self::remembered) (in its order, the
    /// most recently used first), as many as `max_entries` leaves room for; an entry this
    /// cache holds already is kept as it is (it is at least as new), and of two entries for
    /// one key the first is taken. Each entry's UID set is widened to
    /// `max_ranges`. Sound for any entry that once held the invariant: it holds for ever
    /// within its UIDVALIDITY (see the module's documentation).
    pub fn recall(&mut self, entries: impl IntoIterator<Item = Remembered<K>>) {
        let room = self.bounds.max_entries.saturating_sub(self.entries.len());
        let mut taken: Vec<Remembered<K>> = Vec::new();
        for r in entries {
            if taken.len() >= room {
                break;
            }
            if !self.entries.contains_key(&r.key) && !taken.iter().any(|t| t.key == r.key) {
                taken.push(r);
            }
        }
        // Used now, in their order: the first recalled is the most recently used.
        for r in taken.into_iter().rev() {
            self.clock += 1;
            let sizes = bounded_sizes(&r.uids, r.sizes);
            let entry = Entry {
                uid_validity: r.uid_validity,
                uids: widen(r.uids, self.bounds.max_ranges),
                classified_below: r.classified_below,
                used: self.clock,
                flags: None,
                sizes,
            };
            self.entries.insert(r.key, entry);
        }
    }

    /// Forgets `key` (its folder was deleted, or an answer could not be trusted).
    pub fn forget(&mut self, key: &K) {
        self.entries.remove(key);
    }

    /// Learns from a header-keys-only search for `key`'s box (see [`Scan`]). Sound whatever
    /// the candidates were: what was known outside them is kept, and the bound only moves
    /// when the search covered everything from the old bound up.
    pub fn learn(&mut self, key: K, scan: Scan<'_>) {
        self.clock += 1;
        let old = self
            .entries
            .remove(&key)
            .filter(|e| e.uid_validity == scan.uid_validity);
        let (old_uids, old_below, old_flags, old_sizes) = old
            .map_or((UidSet::new(), 1, None, BTreeMap::new()), |e| {
                (e.uids, e.classified_below, e.flags, e.sizes)
            });
        let hits: UidSet = scan.hits.iter().copied().collect();
        let (uids, tail_searched) = match scan.searched {
            None => (hits.clone(), true),
            Some(searched) => {
                let tail_searched = match u32::try_from(old_below).ok().and_then(Uid::new) {
                    Some(low) => UidSet::range(low, Uid::MAX).is_subset(searched),
                    None => true,
                };
                let mut uids = old_uids.difference(searched);
                for &(a, b) in hits.ranges() {
                    uids.insert_range(a, b);
                }
                (uids, tail_searched)
            }
        };
        let classified_below = if tail_searched {
            let seen = [hits.last(), scan.existing]
                .into_iter()
                .flatten()
                .map(|u| u64::from(u.get()) + 1)
                .max()
                .unwrap_or(1);
            seen.max(old_below)
        } else {
            old_below
        };
        let entry = Entry {
            uid_validity: scan.uid_validity,
            uids: widen(uids, self.bounds.max_ranges),
            classified_below,
            used: self.clock,
            flags: old_flags,
            sizes: BTreeMap::new(),
        };
        let mut entry = entry;
        entry.sizes = bounded_sizes(&entry.uids, old_sizes);
        if self.entries.len() >= self.bounds.max_entries
            && let Some(lru) = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone())
        {
            self.entries.remove(&lru);
        }
        self.entries.insert(key, entry);
    }
}

/// `keys` restricted to `candidates` (`UID <set>` in front), or `keys` as they are when
/// there are none (search the whole folder).
pub fn restrict(candidates: Option<&UidSet>, keys: &[SearchKey]) -> Vec<SearchKey> {
    candidates
        .map(|c| SearchKey::Uid(c.clone()))
        .into_iter()
        .chain(keys.iter().cloned())
        .collect()
}

/// `candidates` for a `UID FETCH`: the open tail (`n:4294967295`, sent as `n:*`) cut `window`
/// UIDs above its start and below 2³² − 1. A `UID FETCH n:*` answers the highest message even
/// when its UID is below `n`, an answer that would look unsolicited; and mail beyond the
/// window is better searched than fetched.
pub fn fetchable(candidates: &UidSet, window: u32) -> UidSet {
    let Some(&(start, end)) = candidates.ranges().last() else {
        return UidSet::new();
    };
    if end != Uid::MAX {
        return candidates.clone();
    }
    let below_max = Uid::new(Uid::MAX.get() - 1).unwrap_or(Uid::MIN);
    let cut = Uid::new(start.get().saturating_add(window))
        .unwrap_or(below_max)
        .min(below_max);
    candidates.intersection(&UidSet::range(Uid::MIN, cut))
}

/// `set` with at most `max_ranges` ranges: the narrowest gaps are filled first. A superset,
/// so candidates widened this way still include every match.
/// The sizes of UIDs in `uids`, the highest [`MAX_REMEMBERED_SIZES`].
fn bounded_sizes(uids: &UidSet, sizes: impl IntoIterator<Item = (Uid, u32)>) -> BTreeMap<Uid, u32> {
    let mut kept: BTreeMap<Uid, u32> = sizes
        .into_iter()
        .filter(|(u, _)| uids.contains(*u))
        .collect();
    while kept.len() > MAX_REMEMBERED_SIZES {
        kept.pop_first();
    }
    kept
}

fn widen(set: UidSet, max_ranges: usize) -> UidSet {
    let ranges = set.ranges();
    let excess = ranges.len().saturating_sub(max_ranges.max(1));
    if excess == 0 {
        return set;
    }
    // The gaps between neighbouring ranges, narrowest first (ties: lowest first).
    let mut gaps: Vec<(u32, Uid, Uid)> = ranges
        .windows(2)
        .map(|w| (w[1].0.get() - w[0].1.get(), w[0].1, w[1].0))
        .collect();
    gaps.sort_unstable_by_key(|&(width, start, _)| (width, start));
    let mut wide = set.clone();
    for &(_, end, next) in gaps.iter().take(excess) {
        wide.insert_range(end, next);
    }
    wide
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uid(n: u32) -> Uid {
        Uid::new(n).expect("non-zero")
    }

    fn validity(n: u32) -> UidValidity {
        UidValidity::new(n).expect("non-zero")
    }

    /// `cache.learn(key, Scan { .. })`.
    fn learn<'k>(
        cache: &mut VoicemailUids<&'k str>,
        key: &'k str,
        uid_validity: UidValidity,
        searched: Option<&UidSet>,
        hits: &[Uid],
        existing: Option<Uid>,
    ) {
        cache.learn(
            key,
            Scan {
                uid_validity,
                searched,
                hits,
                existing,
            },
        );
    }

    fn set(ranges: &[(u32, u32)]) -> UidSet {
        let mut s = UidSet::new();
        for &(a, b) in ranges {
            s.insert_range(uid(a), uid(b));
        }
        s
    }

    #[test]
    fn nothing_known_means_the_whole_folder() {
        let mut c: VoicemailUids<&str> = VoicemailUids::default();
        assert_eq!(c.candidates(&"a", validity(1)), None);
        assert_eq!(restrict(None, &[SearchKey::Seen]), vec![SearchKey::Seen]);
    }

    #[test]
    fn a_full_search_leaves_the_hits_and_everything_above_the_existing_uid() {
        let mut c = VoicemailUids::default();
        learn(
            &mut c,
            "a",
            validity(7),
            None,
            &[uid(3), uid(10)],
            Some(uid(100)),
        );
        let want = set(&[(3, 3), (10, 10), (101, u32::MAX)]);
        assert_eq!(c.candidates(&"a", validity(7)), Some(want.clone()));
        assert_eq!(
            restrict(Some(&want), &[SearchKey::Unseen]),
            vec![SearchKey::Uid(want), SearchKey::Unseen]
        );
    }

    #[test]
    fn without_an_existing_uid_the_highest_hit_bounds_what_was_classified() {
        let mut c = VoicemailUids::default();
        learn(&mut c, "a", validity(7), None, &[uid(3), uid(10)], None);
        assert_eq!(
            c.candidates(&"a", validity(7)),
            Some(set(&[(3, 3), (10, u32::MAX)]))
        );
        // An empty folder: everything is still a candidate.
        learn(&mut c, "b", validity(7), None, &[], None);
        assert_eq!(c.candidates(&"b", validity(7)), Some(set(&[(1, u32::MAX)])));
    }

    #[test]
    fn a_restricted_search_prunes_expunged_uids_and_moves_the_bound() {
        let mut c = VoicemailUids::default();
        let v = validity(7);
        learn(&mut c, "a", v, None, &[uid(3), uid(10)], Some(uid(20)));
        let searched = c.candidates(&"a", v).expect("known");
        // 3 was expunged, 25 arrived (a voicemail), 30 is the newest mail.
        learn(
            &mut c,
            "a",
            v,
            Some(&searched),
            &[uid(10), uid(25)],
            Some(uid(30)),
        );
        assert_eq!(
            c.candidates(&"a", v),
            Some(set(&[(10, 10), (25, 25), (31, u32::MAX)]))
        );
    }

    #[test]
    fn a_search_that_missed_the_tail_keeps_the_bound_and_what_it_did_not_see() {
        let mut c = VoicemailUids::default();
        let v = validity(7);
        learn(&mut c, "a", v, None, &[uid(3), uid(10)], Some(uid(20)));
        let only = set(&[(10, 10)]);
        learn(&mut c, "a", v, Some(&only), &[], Some(uid(50)));
        assert_eq!(c.candidates(&"a", v), Some(set(&[(3, 3), (21, u32::MAX)])));
    }

    #[test]
    fn a_new_uidvalidity_drops_the_entry() {
        let mut c = VoicemailUids::default();
        learn(&mut c, "a", validity(7), None, &[uid(3)], Some(uid(9)));
        assert_eq!(c.candidates(&"a", validity(8)), None);
        assert!(c.is_empty());
        // And an answer under a new UIDVALIDITY ignores the old entry.
        learn(&mut c, "a", validity(7), None, &[uid(3)], Some(uid(9)));
        let wide = set(&[(1, u32::MAX)]);
        learn(
            &mut c,
            "a",
            validity(8),
            Some(&wide),
            &[uid(1)],
            Some(uid(2)),
        );
        assert_eq!(
            c.candidates(&"a", validity(8)),
            Some(set(&[(1, 1), (3, u32::MAX)]))
        );
    }

    #[test]
    fn the_least_recently_used_entry_goes_first() {
        let mut c = VoicemailUids::new(CacheBounds {
            max_entries: 2,
            max_ranges: 8,
        });
        let v = validity(1);
        learn(&mut c, "a", v, None, &[], Some(uid(5)));
        learn(&mut c, "b", v, None, &[], Some(uid(5)));
        assert!(c.candidates(&"a", v).is_some());
        learn(&mut c, "c", v, None, &[], Some(uid(5)));
        assert_eq!(c.len(), 2);
        assert!(
            c.candidates(&"b", v).is_none(),
            "b was the least recently used"
        );
        assert!(c.candidates(&"a", v).is_some());
        assert!(c.candidates(&"c", v).is_some());
    }

    #[test]
    fn too_many_ranges_are_widened_never_narrowed() {
        let mut c = VoicemailUids::new(CacheBounds {
            max_entries: 4,
            max_ranges: 3,
        });
        let v = validity(1);
        let hits = [1, 3, 10, 12, 40, 100].map(uid);
        learn(&mut c, "a", v, None, &hits, Some(uid(200)));
        let got = c.candidates(&"a", v).expect("known");
        for h in hits {
            assert!(got.contains(h), "{h} kept");
        }
        // Three ranges of known UIDs (the narrowest gaps filled), and the unclassified tail.
        assert_eq!(got, set(&[(1, 12), (40, 40), (100, 100), (201, u32::MAX)]));
    }

    #[test]
    fn a_fetch_of_the_candidates_has_no_open_tail() {
        let open = set(&[(3, 3), (10, u32::MAX)]);
        assert_eq!(fetchable(&open, 500), set(&[(3, 3), (10, 510)]));
        let closed = set(&[(3, 3), (10, 12)]);
        assert_eq!(fetchable(&closed, 500), closed);
        let high = set(&[(u32::MAX - 3, u32::MAX)]);
        assert_eq!(fetchable(&high, 500), set(&[(u32::MAX - 3, u32::MAX - 1)]));
        assert_eq!(fetchable(&UidSet::new(), 500), UidSet::new());
    }

    #[test]
    fn the_known_uids_are_told_from_the_tail_even_where_they_touch() {
        let mut c = VoicemailUids::default();
        let v = validity(7);
        assert_eq!(c.known_and_tail(&"a", v), None);
        // Every UID up to 100 is the box's: the candidates are one range, 1:*, yet the
        // known ones are fetched and only 101:* is searched.
        let hits: Vec<Uid> = (1..=100).map(uid).collect();
        learn(&mut c, "a", v, None, &hits, Some(uid(100)));
        assert_eq!(c.candidates(&"a", v), Some(set(&[(1, u32::MAX)])));
        assert_eq!(
            c.known_and_tail(&"a", v),
            Some((set(&[(1, 100)]), Some(set(&[(101, u32::MAX)]))))
        );
        // Spread among other mail.
        learn(&mut c, "b", v, None, &[uid(3), uid(40)], Some(uid(90)));
        assert_eq!(
            c.known_and_tail(&"b", v),
            Some((set(&[(3, 3), (40, 40)]), Some(set(&[(91, u32::MAX)]))))
        );
        // A new UIDVALIDITY: nothing known.
        assert_eq!(c.known_and_tail(&"b", validity(8)), None);
    }

    #[test]
    fn the_memory_bound_is_stated() {
        assert_eq!(CacheBounds::DEFAULT.max_range_bytes(), 512 * 1024);
    }

    #[test]
    fn recall_respects_the_bounds_keeps_what_is_known_and_the_order_of_use() {
        let bounds = CacheBounds {
            max_entries: 2,
            max_ranges: 1,
        };
        let mut cache = VoicemailUids::new(bounds);
        learn(&mut cache, "a", validity(1), None, &[uid(5)], Some(uid(9)));
        let remembered = |key, uids: UidSet| Remembered {
            key,
            uid_validity: validity(1),
            uids,
            classified_below: 50,
            sizes: vec![(uid(2), 700), (uid(3), 9)],
        };
        cache.recall([
            remembered("a", set(&[(1, 1)])),
            remembered("b", set(&[(2, 2), (40, 40)])),
            remembered("c", set(&[(3, 3)])),
        ]);
        // "a" was known: kept as it was; "b" recalled and widened to one range; "c": no room.
        assert_eq!(cache.len(), 2);
        assert_eq!(
            cache.candidates(&"a", validity(1)),
            Some(set(&[(5, 5), (10, u32::MAX)]))
        );
        assert_eq!(
            cache.candidates(&"b", validity(1)),
            Some(set(&[(2, 40), (50, u32::MAX)]))
        );
        assert_eq!(cache.candidates(&"c", validity(1)), None);
        // Most recently used first; recalled flags are never made up.
        let order: Vec<&str> = cache.remembered().iter().map(|r| r.key).collect();
        assert_eq!(order, ["b", "a"]);
        assert!(cache.known_flags(&"b", validity(1)).is_none());
        // Sizes are kept for known UIDs only (3 is not one of "b"'s).
        let b: UidSet = [uid(2)].into_iter().collect();
        assert_eq!(
            cache.sizes_of(&"b", validity(1), &b),
            Some([(uid(2), 700)].into_iter().collect())
        );
        assert_eq!(cache.sizes_of(&"b", validity(1), &set(&[(2, 3)])), None);
        assert_eq!(cache.sizes_of(&"b", validity(2), &b), None);
    }

    #[test]
    fn sizes_follow_the_known_uids_and_are_bounded() {
        let mut cache = VoicemailUids::default();
        let hits: Vec<Uid> = (1..=2000).map(uid).collect();
        learn(&mut cache, "a", validity(1), None, &hits, None);
        cache.remember_sizes(&"a", validity(1), hits.iter().map(|u| (*u, u.get())));
        cache.remember_sizes(&"a", validity(1), [(uid(5000), 1)]);
        let all: UidSet = hits.iter().copied().collect();
        assert_eq!(cache.sizes_of(&"a", validity(1), &all), None, "bounded");
        let high = set(&[(977, 2000)]);
        assert_eq!(
            cache.sizes_of(&"a", validity(1), &high).map(|m| m.len()),
            Some(1024)
        );
        // A search that no longer finds 1999 (expunged): its size goes with it.
        let searched = set(&[(1999, 1999)]);
        learn(&mut cache, "a", validity(1), Some(&searched), &[], None);
        assert_eq!(
            cache.sizes_of(&"a", validity(1), &set(&[(1999, 1999)])),
            None
        );
        assert!(
            cache
                .sizes_of(&"a", validity(1), &set(&[(2000, 2000)]))
                .is_some()
        );
    }
}
