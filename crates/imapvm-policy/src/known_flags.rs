//! The flags of one box's known voicemail UIDs as last fetched, remembered with a
//! mod-sequence they are valid at, so that a warm count or listing asks the server only what
//! changed since (`UID FETCH <known> (FLAGS) (CHANGEDSINCE m)`, RFC 7162) instead of the
//! flags of every known UID: Dovecot walks every message between the lowest and the highest
//! UID of a plain `UID FETCH`, and skips that walk with CHANGEDSINCE. A count and a listing of
//! the same box share one memory; a listing takes the rest of each row from
//! [`crate::listed_rows`].
//!
//! Why it is exact. A memory holds, for a set `covered` of UIDs, the flags of those that
//! existed (those without flags did not), read while the folder was selected in one view
//! ([`ViewMark`]), and a mod-sequence `m` no higher than the folder's highest mod-sequence
//! when they were read. Any later change of a message's flags gets a mod-sequence above
//! that, so above `m`: a `CHANGEDSINCE m` fetch of covered UIDs answers every one whose flags
//! changed since, and the others keep the remembered flags. What CHANGEDSINCE cannot tell is
//! an expunge: so the memory holds only while the folder stayed selected in the same view and
//! every expunge since was seen with its UID (applied with [`KnownFlags::vanish`]). A new
//! SELECT, or an expunge whose UID the session could not tell, makes a new [`ViewMark`] and
//! the memory is not used; nor without CONDSTORE, or when the SELECT gave no HIGHESTMODSEQ
//! (NOMODSEQ, or a server that gives none).
//!
//! Which mod-sequence. The first memory takes the SELECT's `HIGHESTMODSEQ` (the SELECT went
//! before the fetch; per-message MODSEQs answered along may raise it). A CHANGEDSINCE answer
//! raises it to the highest MODSEQ it carries: the server answered from a view at least that
//! recent. The commands queued behind the first fetch of a flight (the fetch of known UIDs not
//! covered yet, `UID FETCH $` of the tail) run after it on the same session, so what they read
//! is at least as recent: their flags are remembered at the same mod-sequence (a lower
//! mod-sequence than needed only makes the next answer longer, never wrong).
//!
//! Bounded: at most [`MAX_REMEMBERED_FLAGS`] UIDs and as many UID ranges per box (a box with
//! more gets the plain fetch), 16 KiB; the memory lives in the box's [`crate::VoicemailUids`] entry, so at most 64
//! boxes per account are remembered.
//!
//! This module never talks to a server: the runtime queues the fetches [`KnownFetch`] names
//! and hands back the answers.

use std::collections::BTreeMap;
use std::num::NonZeroU64;

use imapvm_types::{Uid, UidSet, UidValidity};

use crate::flags::MessageFlags;

/// Most UIDs one box's memory remembers, and most UID ranges it covers: 8 bytes each (a UID
/// and its flags; a range), so at most 16 KiB per box and 1 MiB for the 64 boxes
/// [`crate::CacheBounds::DEFAULT`] keeps per account; under 1 KiB for a box of 100
/// voicemails.
pub const MAX_REMEMBERED_FLAGS: usize = 1024;

/// One selected view of a folder on one session: a new `selection` per SELECT, and within
/// it `blind_expunges` counts the expunges whose UID the session could not tell. A memory
/// taken under one mark holds only under the same mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ViewMark {
    /// Unique per SELECT (the runtime numbers them).
    pub selection: u64,
    /// Expunges without a UID seen since that SELECT.
    pub blind_expunges: u64,
}

/// What the runtime knows of the selected folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SelectedView {
    /// The view.
    pub mark: ViewMark,
    /// The folder's UIDVALIDITY.
    pub uid_validity: UidValidity,
    /// `[HIGHESTMODSEQ]` of the SELECT (`None`: NOMODSEQ, or none given).
    pub highest_modseq: Option<u64>,
    /// Whether the server offers CONDSTORE.
    pub condstore: bool,
}

/// How a count or a listing fetches the flags of the known UIDs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KnownFetch {
    /// `UID FETCH <uids> (FLAGS …)`, as without memory (`uids` may be empty: none).
    Plain(UidSet),
    /// `UID FETCH <changed> (FLAGS) (CHANGEDSINCE since)` first, then the plain fetch of
    /// `plain` (known UIDs the memory does not cover, or whose identity headers, for a
    /// listing whose row, are not remembered; may be empty: none).
    Changed {
        /// The mod-sequence to send.
        since: NonZeroU64,
        /// The UIDs asked with CHANGEDSINCE (never empty).
        changed: UidSet,
        /// The UIDs fetched plainly behind it.
        plain: UidSet,
    },
}

impl KnownFetch {
    /// The UIDs fetched plainly.
    pub fn plain(&self) -> &UidSet {
        match self {
            KnownFetch::Plain(p) | KnownFetch::Changed { plain: p, .. } => p,
        }
    }
}

/// One message of a fetch's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fetched {
    /// The UID.
    pub uid: Uid,
    /// Its flags (`None`: the answer had none).
    pub flags: Option<MessageFlags>,
    /// Its MODSEQ, when the answer had one.
    pub modseq: Option<u64>,
}

/// The flags of one box's known UIDs at a mod-sequence (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownFlags {
    mark: ViewMark,
    uid_validity: UidValidity,
    modseq: NonZeroU64,
    /// The UIDs whose state is known: in `flags`, or gone.
    covered: UidSet,
    /// By UID, ascending (8 bytes each).
    flags: Vec<(Uid, MessageFlags)>,
}

impl KnownFlags {
    /// The mod-sequence the memory is valid at.
    pub fn modseq(&self) -> u64 {
        self.modseq.get()
    }

    /// The UIDs whose state is remembered.
    pub fn covered(&self) -> &UidSet {
        &self.covered
    }

    /// The remembered flags of `uid` (`None`: not covered, or gone).
    pub fn flags(&self, uid: Uid) -> Option<MessageFlags> {
        let at = self.flags.binary_search_by_key(&uid, |(u, _)| *u).ok()?;
        self.flags.get(at).map(|(_, f)| *f)
    }

    /// Whether the memory may answer for the folder as it is selected now.
    pub fn holds_in(&self, view: &SelectedView) -> bool {
        view.condstore
            && view.highest_modseq.is_some()
            && self.mark == view.mark
            && self.uid_validity == view.uid_validity
    }

    /// Records that `uids` were expunged (seen with their UIDs while the folder was
    /// selected): they are covered and gone.
    pub fn vanish(&mut self, uids: &UidSet) {
        self.flags.retain(|(u, _)| !uids.contains(*u));
    }

    /// How to fetch the flags of `known` (the box's known voicemail UIDs) in the folder as
    /// selected when the count or listing is queued (`view`; `None`: not selected yet, its
    /// SELECT goes in front): with CHANGEDSINCE for the UIDs the memory covers and whose
    /// other fetched items are remembered (`remembered`: a count's identity headers, a
    /// listing's row; a CHANGEDSINCE answer leaves the unchanged ones out, those too),
    /// plainly for the rest.
    pub fn plan(
        memory: Option<&KnownFlags>,
        view: Option<&SelectedView>,
        known: &UidSet,
        remembered: impl Fn(Uid) -> bool,
    ) -> KnownFetch {
        let Some((memory, _)) = memory.zip(view).filter(|(m, v)| m.holds_in(v)) else {
            return KnownFetch::Plain(known.clone());
        };
        let changed: UidSet = known
            .intersection(&memory.covered)
            .iter()
            .filter(|u| remembered(*u))
            .collect();
        if changed.is_empty() {
            return KnownFetch::Plain(known.clone());
        }
        KnownFetch::Changed {
            since: memory.modseq,
            plain: known.difference(&changed),
            changed,
        }
    }

    /// Reads a count's or a listing's answers with the memory (`memory`, as planned by
    /// [`KnownFlags::plan`] under the view `before`; `None`: the folder's SELECT was in the
    /// flight). `changed`: the CHANGEDSINCE answer; `later`: the answers of the commands
    /// queued behind it (the plain fetch of known UIDs, `UID FETCH $`), every UID they asked
    /// answered or gone. Returns the flags of the UIDs the CHANGEDSINCE fetch asked (the
    /// remembered ones unless answered; gone ones left out; none asked with a plain fetch),
    /// or `None` when the memory no longer holds (a blind expunge or another SELECT while
    /// the flight ran: the count or listing runs again, plainly); and the memory to keep: `None` when
    /// the folder's view changed under the flight, there is no usable mod-sequence, or too
    /// many UIDs.
    #[allow(clippy::too_many_arguments)]
    pub fn merge(
        memory: Option<KnownFlags>,
        fetch: &KnownFetch,
        before: Option<ViewMark>,
        view: Option<&SelectedView>,
        changed: &[Fetched],
        later_asked: &UidSet,
        later: &[Fetched],
    ) -> (Option<Vec<(Uid, MessageFlags)>>, Option<KnownFlags>) {
        let mut flags = BTreeMap::new();
        let mut covered = UidSet::new();
        let mut modseq = None;
        if let KnownFetch::Changed {
            since,
            changed: asked,
            ..
        } = fetch
        {
            let Some(old) = memory.filter(|m| view.is_some_and(|v| m.holds_in(v))) else {
                return (None, None);
            };
            for uid in asked.iter() {
                if let Some(f) = old.flags(uid) {
                    flags.insert(uid, f);
                }
            }
            for m in changed {
                if let Some(f) = m.flags
                    && asked.contains(m.uid)
                {
                    flags.insert(m.uid, f);
                }
            }
            covered = asked.clone();
            let answered = changed.iter().filter_map(|m| m.modseq).max();
            modseq = Some(answered.unwrap_or(0).max(since.get()));
        }
        let out: Option<Vec<(Uid, MessageFlags)>> =
            Some(flags.iter().map(|(u, f)| (*u, *f)).collect());
        let Some(view) = view else {
            return (out, None);
        };
        let same_view = match before {
            Some(b) => b == view.mark,
            None => view.mark.blind_expunges == 0,
        };
        let first = match fetch {
            KnownFetch::Changed { .. } => modseq,
            // The SELECT's, and any MODSEQ the plain answer carried (it ran first).
            KnownFetch::Plain(_) => view.highest_modseq.map(|h| {
                later
                    .iter()
                    .filter(|m| fetch.plain().contains(m.uid))
                    .filter_map(|m| m.modseq)
                    .max()
                    .unwrap_or(0)
                    .max(h)
            }),
        };
        let Some(modseq) = first
            .and_then(NonZeroU64::new)
            .filter(|_| same_view && view.highest_modseq.is_some())
        else {
            return (out, None);
        };
        let mut remembered = flags;
        for m in later {
            if let Some(f) = m.flags {
                remembered.insert(m.uid, f);
                covered.insert(m.uid);
            }
        }
        for &(a, b) in later_asked.ranges() {
            covered.insert_range(a, b);
        }
        if remembered.len() > MAX_REMEMBERED_FLAGS || covered.ranges().len() > MAX_REMEMBERED_FLAGS
        {
            return (out, None);
        }
        let memory = KnownFlags {
            mark: view.mark,
            uid_validity: view.uid_validity,
            modseq,
            covered,
            flags: remembered.into_iter().collect(),
        };
        (out, Some(memory))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn uid(n: u32) -> Uid {
        Uid::new(n).expect("non-zero")
    }

    fn set(uids: &[u32]) -> UidSet {
        uids.iter().map(|&u| uid(u)).collect()
    }

    const SEEN: MessageFlags = MessageFlags {
        seen: true,
        flagged: false,
        deleted: false,
    };
    const NEW: MessageFlags = MessageFlags {
        seen: false,
        flagged: false,
        deleted: false,
    };
    const URGENT: MessageFlags = MessageFlags {
        seen: false,
        flagged: true,
        deleted: false,
    };

    fn view(selection: u64, blind: u64, hms: Option<u64>) -> SelectedView {
        SelectedView {
            mark: ViewMark {
                selection,
                blind_expunges: blind,
            },
            uid_validity: UidValidity::new(7).expect("non-zero"),
            highest_modseq: hms,
            condstore: true,
        }
    }

    fn answer(u: u32, f: MessageFlags, modseq: Option<u64>) -> Fetched {
        Fetched {
            uid: uid(u),
            flags: Some(f),
            modseq,
        }
    }

    /// The memory of a first count (SELECT in the flight, HIGHESTMODSEQ 50): UIDs 3, 5, 9
    /// known and fetched plainly, all new.
    fn first() -> KnownFlags {
        let v = view(1, 0, Some(50));
        let known = set(&[3, 5, 9]);
        let fetch = KnownFlags::plan(None, None, &known, |_| true);
        assert_eq!(fetch, KnownFetch::Plain(known.clone()));
        let answers = [3, 5, 9].map(|u| answer(u, NEW, None));
        let (_, memory) = KnownFlags::merge(None, &fetch, None, Some(&v), &[], &known, &answers);
        memory.expect("remembered")
    }

    #[test]
    fn the_first_memory_is_valid_at_the_selects_highest_modseq() {
        let m = first();
        assert_eq!(m.modseq(), 50);
        assert_eq!(m.covered(), &set(&[3, 5, 9]));
        let v = view(1, 0, Some(50));
        assert_eq!(
            KnownFlags::plan(Some(&m), Some(&v), &set(&[3, 5, 9]), |_| true),
            KnownFetch::Changed {
                since: NonZeroU64::new(50).expect("non-zero"),
                changed: set(&[3, 5, 9]),
                plain: UidSet::new(),
            }
        );
    }

    #[test]
    fn unanswered_uids_keep_their_flags_and_answers_update_them() {
        let m = first();
        let v = view(1, 0, Some(50));
        let known = set(&[3, 5, 9]);
        let fetch = KnownFlags::plan(Some(&m), Some(&v), &known, |_| true);
        let changed = [answer(5, SEEN, Some(61)), answer(9, URGENT, Some(58))];
        let (flags, memory) = KnownFlags::merge(
            Some(m),
            &fetch,
            Some(v.mark),
            Some(&v),
            &changed,
            &UidSet::new(),
            &[],
        );
        assert_eq!(
            flags,
            Some(vec![(uid(3), NEW), (uid(5), SEEN), (uid(9), URGENT)])
        );
        let memory = memory.expect("kept");
        assert_eq!(memory.modseq(), 61, "the highest MODSEQ answered");
        assert_eq!(memory.flags(uid(5)), Some(SEEN));
    }

    #[test]
    fn an_expunge_seen_with_its_uid_removes_it() {
        let mut m = first();
        m.vanish(&set(&[5, 100]));
        let v = view(1, 0, Some(50));
        let known = set(&[3, 5, 9]);
        let fetch = KnownFlags::plan(Some(&m), Some(&v), &known, |_| true);
        let (flags, _) = KnownFlags::merge(
            Some(m),
            &fetch,
            Some(v.mark),
            Some(&v),
            &[],
            &UidSet::new(),
            &[],
        );
        assert_eq!(flags, Some(vec![(uid(3), NEW), (uid(9), NEW)]));
    }

    #[test]
    fn a_blind_expunge_a_new_select_or_no_modseq_means_the_plain_fetch() {
        let m = first();
        let known = set(&[3, 5, 9]);
        let plain = KnownFetch::Plain(known.clone());
        for v in [
            view(1, 1, Some(50)),
            view(2, 0, Some(50)),
            view(1, 0, None),
            SelectedView {
                condstore: false,
                ..view(1, 0, Some(50))
            },
            SelectedView {
                uid_validity: UidValidity::new(8).expect("non-zero"),
                ..view(1, 0, Some(50))
            },
        ] {
            assert_eq!(
                KnownFlags::plan(Some(&m), Some(&v), &known, |_| true),
                plain,
                "{v:?}"
            );
        }
        assert_eq!(KnownFlags::plan(Some(&m), None, &known, |_| true), plain);
    }

    #[test]
    fn a_view_that_changed_under_the_flight_is_not_remembered() {
        let m = first();
        let before = view(1, 0, Some(50));
        let known = set(&[3, 5, 9]);
        let fetch = KnownFlags::plan(Some(&m), Some(&before), &known, |_| true);
        // A blind expunge while the flight ran: nothing is kept, and the memory's flags are
        // not trusted for the answer either.
        let after = view(1, 1, Some(50));
        let (flags, memory) = KnownFlags::merge(
            Some(m),
            &fetch,
            Some(before.mark),
            Some(&after),
            &[],
            &UidSet::new(),
            &[],
        );
        assert_eq!(memory, None);
        assert_eq!(flags, None, "the count runs again");
        // A SELECT in the flight with a blind expunge behind it.
        let fetch = KnownFetch::Plain(known.clone());
        let answers = [answer(3, NEW, None)];
        let (_, memory) =
            KnownFlags::merge(None, &fetch, None, Some(&after), &[], &known, &answers);
        assert_eq!(memory, None);
    }

    #[test]
    fn uids_not_covered_or_without_headers_are_fetched_plainly_and_then_covered() {
        let m = first();
        let v = view(1, 0, Some(50));
        let known = set(&[3, 5, 9, 12]);
        let fetch = KnownFlags::plan(Some(&m), Some(&v), &known, |u| u != uid(3));
        assert_eq!(
            fetch,
            KnownFetch::Changed {
                since: NonZeroU64::new(50).expect("non-zero"),
                changed: set(&[5, 9]),
                plain: set(&[3, 12]),
            }
        );
        let later = [answer(3, SEEN, None), answer(12, NEW, None)];
        let (flags, memory) = KnownFlags::merge(
            Some(m),
            &fetch,
            Some(v.mark),
            Some(&v),
            &[],
            fetch.plain(),
            &later,
        );
        assert_eq!(flags, Some(vec![(uid(5), NEW), (uid(9), NEW)]));
        let memory = memory.expect("kept");
        assert_eq!(memory.covered(), &set(&[3, 5, 9, 12]));
        assert_eq!(memory.flags(uid(3)), Some(SEEN));
    }

    #[test]
    fn too_many_uids_are_not_remembered() {
        let v = view(1, 0, Some(5));
        let n = u32::try_from(MAX_REMEMBERED_FLAGS).expect("small") + 1;
        let known: UidSet = (1..=n).map(uid).collect();
        let answers: Vec<Fetched> = (1..=n).map(|u| answer(u, NEW, None)).collect();
        let fetch = KnownFetch::Plain(known.clone());
        let (_, memory) = KnownFlags::merge(None, &fetch, None, Some(&v), &[], &known, &answers);
        assert_eq!(memory, None);
    }

    /// What a server holds: per UID, flags and the mod-sequence of their last change.
    type Folder = BTreeMap<u32, (MessageFlags, u64)>;

    fn flags_of(bits: u8) -> MessageFlags {
        MessageFlags {
            seen: bits & 1 != 0,
            flagged: bits & 2 != 0,
            deleted: bits & 4 != 0,
        }
    }

    proptest! {
        /// Whatever flag changes and expunges (seen with their UIDs) happen between counts,
        /// the memory's answer equals a plain fetch of the known UIDs.
        #[test]
        fn the_memory_answers_as_a_plain_fetch(
            start in proptest::collection::btree_map(1u32..40, 0u8..8, 1..20),
            rounds in proptest::collection::vec(
                proptest::collection::vec((1u32..40, 0u8..9), 0..6), 1..6),
        ) {
            let mut folder: Folder = start.iter().map(|(u, b)| (*u, (flags_of(*b), 1))).collect();
            let mut hms = 1u64;
            let known: UidSet = start.keys().map(|&u| uid(u)).collect();
            let v = view(1, 0, Some(hms));
            let plain = |folder: &Folder| -> Vec<(Uid, MessageFlags)> {
                known.iter().filter_map(|u| folder.get(&u.get()).map(|(f, _)| (u, *f))).collect()
            };
            let answers: Vec<Fetched> = plain(&folder).into_iter().map(|(u, f)| Fetched { uid: u, flags: Some(f), modseq: None }).collect();
            let fetch = KnownFlags::plan(None, Some(&v), &known, |_| true);
            let (_, mut memory) = KnownFlags::merge(None, &fetch, Some(v.mark), Some(&v), &[], fetch.plain(), &answers);
            for changes in rounds {
                for (u, bits) in changes {
                    if bits == 8 {
                        if folder.remove(&u).is_some()
                            && let Some(m) = memory.as_mut()
                        {
                            m.vanish(&UidSet::single(uid(u)));
                        }
                    } else if let Some(e) = folder.get_mut(&u) {
                        hms += 1;
                        *e = (flags_of(bits), hms);
                    }
                }
                let v = view(1, 0, Some(1));
                let fetch = KnownFlags::plan(memory.as_ref(), Some(&v), &known, |_| true);
                let (got, later) = match &fetch {
                    KnownFetch::Changed { since, changed, .. } => {
                        let answer: Vec<Fetched> = changed.iter()
                            .filter_map(|u| folder.get(&u.get()).filter(|(_, m)| *m > since.get())
                                .map(|(f, m)| Fetched { uid: u, flags: Some(*f), modseq: Some(*m) }))
                            .collect();
                        let later: Vec<Fetched> = fetch.plain().iter()
                            .filter_map(|u| folder.get(&u.get()).map(|(f, _)| Fetched { uid: u, flags: Some(*f), modseq: None }))
                            .collect();
                        let (got, m) = KnownFlags::merge(memory.take(), &fetch, Some(v.mark), Some(&v), &answer, fetch.plain(), &later);
                        memory = m;
                        (got, later)
                    }
                    KnownFetch::Plain(p) => {
                        let later: Vec<Fetched> = p.iter()
                            .filter_map(|u| folder.get(&u.get()).map(|(f, _)| Fetched { uid: u, flags: Some(*f), modseq: None }))
                            .collect();
                        let (got, m) = KnownFlags::merge(memory.take(), &fetch, Some(v.mark), Some(&v), &[], p, &later);
                        memory = m;
                        (got, later)
                    }
                };
                let mut got = got.expect("the memory holds");
                got.extend(later.iter().filter_map(|m| Some((m.uid, m.flags?))));
                got.sort_by_key(|(u, _)| *u);
                prop_assert_eq!(got, plain(&folder));
            }
        }
    }
}
