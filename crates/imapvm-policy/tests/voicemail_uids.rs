//! [`VoicemailUids`]: a search restricted to the cached candidates finds exactly what the
//! search of the whole folder finds, over random histories of a simulated folder (voicemail
//! and other mail appended, expunges, flag changes, new UIDVALIDITYs, scans over odd
//! candidate sets, eviction and widening by tight bounds).

use imapvm_policy::{
    CacheBounds, Scan, SearchKey, Uid, UidSet, UidValidity, VoicemailUids, restrict,
};
use proptest::prelude::*;

use crate::uid;

/// One message of the simulated folder.
#[derive(Debug, Clone)]
struct Msg {
    uid: u32,
    /// Whose voicemail (`None`: ordinary mail).
    owner: Option<u8>,
    seen: bool,
    flagged: bool,
    deleted: bool,
}

/// The simulated folder: what a server's search looks at.
#[derive(Debug, Clone)]
struct Folder {
    uid_validity: u32,
    uid_next: u32,
    messages: Vec<Msg>,
}

impl Folder {
    fn validity(&self) -> UidValidity {
        UidValidity::new(self.uid_validity).unwrap()
    }

    /// The UIDs a `UID SEARCH keys` finds (every key must hold).
    fn search(&self, keys: &[SearchKey]) -> Vec<Uid> {
        self.messages
            .iter()
            .filter(|m| keys.iter().all(|k| holds(k, m)))
            .map(|m| uid(m.uid))
            .collect()
    }
}

fn holds(key: &SearchKey, m: &Msg) -> bool {
    match key {
        SearchKey::Seen => m.seen,
        SearchKey::Unseen => !m.seen,
        SearchKey::Flagged => m.flagged,
        SearchKey::Unflagged => !m.flagged,
        SearchKey::Deleted => m.deleted,
        SearchKey::Undeleted => !m.deleted,
        SearchKey::Uid(set) => set.contains(uid(m.uid)),
        SearchKey::Header(name, value) => {
            name == "X-Asterisk-VM-Extension" && m.owner.is_some_and(|o| o.to_string() == *value)
        }
        other => panic!("not simulated: {other}"),
    }
}

/// The header keys of box `b` (the context is left out: one key is enough for the model).
fn header_keys(b: u8) -> Vec<SearchKey> {
    vec![SearchKey::header("X-Asterisk-VM-Extension", b.to_string())]
}

/// The flag keys a count or listing adds (Asterisk's §4.2/§4.4 keys and none).
fn flag_variants() -> Vec<Vec<SearchKey>> {
    use SearchKey::*;
    vec![
        vec![],
        vec![Undeleted],
        vec![Undeleted, Unflagged, Unseen],
        vec![Undeleted, Flagged, Unseen],
        vec![Undeleted, Seen],
        vec![Undeleted, Flagged, Seen],
        vec![Deleted],
    ]
}

#[derive(Debug, Clone)]
enum Action {
    /// Another client (or a deposit) appends a message.
    Append {
        owner: Option<u8>,
        seen: bool,
        flagged: bool,
    },
    /// Another client expunges the n-th message (modulo the count).
    Expunge(usize),
    /// Another client sets the n-th message's flags.
    Flags {
        n: usize,
        seen: bool,
        flagged: bool,
        deleted: bool,
    },
    /// The folder is deleted and re-created: new UIDVALIDITY, UIDs from 1 again.
    Recreate,
    /// A count or listing of box `b`: compare, then learn from its header search.
    Query { b: u8, existing: Existing },
    /// A header search over some other candidates is learnt (a caller that restricted
    /// differently, or a stale candidate set).
    OddScan { b: u8, set: Vec<(u32, u32)> },
}

/// Which existing UID the runtime hands to [`Scan::existing`].
#[derive(Debug, Clone, Copy)]
enum Existing {
    None,
    /// UIDNEXT − 1 (maybe expunged already).
    UidNextLess1,
    /// The highest UID present.
    Highest,
    /// Some UID below UIDNEXT.
    Below(u32),
}

fn arb_action() -> impl Strategy<Value = Action> {
    let owner = prop_oneof![Just(None), (0u8..3).prop_map(Some)];
    let existing = prop_oneof![
        Just(Existing::None),
        Just(Existing::UidNextLess1),
        Just(Existing::Highest),
        any::<u32>().prop_map(Existing::Below),
    ];
    prop_oneof![
        6 => (owner, any::<bool>(), any::<bool>())
            .prop_map(|(owner, seen, flagged)| Action::Append { owner, seen, flagged }),
        2 => any::<usize>().prop_map(Action::Expunge),
        2 => (any::<usize>(), any::<bool>(), any::<bool>(), any::<bool>())
            .prop_map(|(n, seen, flagged, deleted)| Action::Flags { n, seen, flagged, deleted }),
        1 => Just(Action::Recreate),
        5 => (0u8..3, existing).prop_map(|(b, existing)| Action::Query { b, existing }),
        1 => (0u8..3, prop::collection::vec((1u32..60, 0u32..20), 0..4))
            .prop_map(|(b, set)| Action::OddScan { b, set }),
    ]
}

fn existing_uid(f: &Folder, e: Existing) -> Option<Uid> {
    match e {
        Existing::None => None,
        Existing::UidNextLess1 => Uid::new(f.uid_next - 1),
        Existing::Highest => f.messages.last().map(|m| uid(m.uid)),
        Existing::Below(n) => Uid::new(n % f.uid_next),
    }
}

fn run(bounds: CacheBounds, actions: &[Action]) -> Result<(), TestCaseError> {
    let mut folder = Folder {
        uid_validity: 1,
        uid_next: 1,
        messages: Vec::new(),
    };
    let mut cache: VoicemailUids<u8> = VoicemailUids::new(bounds);
    let mut restricted_queries = 0;
    for action in actions {
        match action.clone() {
            Action::Append {
                owner,
                seen,
                flagged,
            } => {
                folder.messages.push(Msg {
                    uid: folder.uid_next,
                    owner,
                    seen,
                    flagged,
                    deleted: false,
                });
                folder.uid_next += 1;
            }
            Action::Expunge(n) => {
                if !folder.messages.is_empty() {
                    let i = n % folder.messages.len();
                    folder.messages.remove(i);
                }
            }
            Action::Flags {
                n,
                seen,
                flagged,
                deleted,
            } => {
                let len = folder.messages.len();
                if let Some(m) = folder.messages.get_mut(n % len.max(1)) {
                    (m.seen, m.flagged, m.deleted) = (seen, flagged, deleted);
                }
            }
            Action::Recreate => {
                folder = Folder {
                    uid_validity: folder.uid_validity + 1,
                    uid_next: 1,
                    messages: Vec::new(),
                };
            }
            Action::Query { b, existing } => {
                let v = folder.validity();
                let candidates = cache.candidates(&b, v);
                restricted_queries += usize::from(candidates.is_some());
                for flags in flag_variants() {
                    let mut keys = flags.clone();
                    keys.extend(header_keys(b));
                    let full = folder.search(&keys);
                    let restricted = folder.search(&restrict(candidates.as_ref(), &keys));
                    prop_assert_eq!(&restricted, &full, "box {} keys {:?}", b, keys);
                }
                let hits = folder.search(&restrict(candidates.as_ref(), &header_keys(b)));
                cache.learn(
                    b,
                    Scan {
                        uid_validity: v,
                        searched: candidates.as_ref(),
                        hits: &hits,
                        existing: existing_uid(&folder, existing),
                    },
                );
            }
            Action::OddScan { b, set } => {
                let mut searched = UidSet::new();
                for (start, width) in set {
                    searched.insert_range(uid(start), uid(start + width));
                }
                let hits = folder.search(&restrict(Some(&searched), &header_keys(b)));
                cache.learn(
                    b,
                    Scan {
                        uid_validity: folder.validity(),
                        searched: Some(&searched),
                        hits: &hits,
                        existing: None,
                    },
                );
            }
        }
        prop_assert!(cache.len() <= bounds.max_entries);
    }
    // Not a vacuous run: with enough queries some were answered from the cache.
    let queries = actions
        .iter()
        .filter(|a| matches!(a, Action::Query { .. }))
        .count();
    if queries > 20 && bounds.max_entries >= 3 {
        prop_assert!(restricted_queries > 0);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    /// With room for every box: restricted searches equal full searches.
    #[test]
    fn restricted_searches_find_what_full_searches_find(
        actions in prop::collection::vec(arb_action(), 0..80),
    ) {
        run(CacheBounds { max_entries: 8, max_ranges: 64 }, &actions)?;
    }

    /// With tight bounds (one or two entries, a few ranges): evictions and widened sets
    /// still give the same answers.
    #[test]
    fn evictions_and_widening_change_no_answer(
        max_entries in 1usize..3,
        max_ranges in 1usize..4,
        actions in prop::collection::vec(arb_action(), 0..80),
    ) {
        run(CacheBounds { max_entries, max_ranges }, &actions)?;
    }
}

#[test]
fn a_warm_search_looks_at_the_voicemails_and_the_new_mail_only() {
    // 3 voicemails among 1,000 ordinary mails, then 5 more mails and 1 voicemail.
    let mut folder = Folder {
        uid_validity: 9,
        uid_next: 1,
        messages: Vec::new(),
    };
    let append = |f: &mut Folder, owner| {
        f.messages.push(Msg {
            uid: f.uid_next,
            owner,
            seen: false,
            flagged: false,
            deleted: false,
        });
        f.uid_next += 1;
    };
    for i in 0..1003 {
        append(&mut folder, (i % 400 == 0).then_some(0));
    }
    let mut cache = VoicemailUids::default();
    let v = folder.validity();
    let hits = folder.search(&header_keys(0));
    assert_eq!(hits, [uid(1), uid(401), uid(801)]);
    cache.learn(
        0u8,
        Scan {
            uid_validity: v,
            searched: None,
            hits: &hits,
            existing: Uid::new(folder.uid_next - 1),
        },
    );
    for _ in 0..5 {
        append(&mut folder, None);
    }
    append(&mut folder, Some(0));
    let candidates = cache.candidates(&0, v).expect("learnt");
    let looked_at = folder
        .messages
        .iter()
        .filter(|m| candidates.contains(uid(m.uid)))
        .count();
    assert_eq!(
        looked_at,
        3 + 6,
        "the three known voicemails and the six new messages"
    );
    let keys = header_keys(0);
    assert_eq!(
        folder.search(&restrict(Some(&candidates), &keys)),
        [uid(1), uid(401), uid(801), uid(1009)]
    );
}
