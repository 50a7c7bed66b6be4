//! Message numbers ⇄ UIDs (§4.4, §6 #17).

use imapvm_policy::numbers::opening_folder;
use imapvm_policy::{Folder, MessageNumber, MessageNumbers, MwiCounts, Resolution, UidValidity};
use proptest::prelude::*;

use crate::{uid, uv};

fn n(x: u32) -> MessageNumber {
    MessageNumber::new(x).unwrap()
}

const V: UidValidity = uv(1_700_000_000);

#[test]
fn aib_4_4_numbers_follow_search_order_from_one() {
    // The server's SEARCH may answer in any order; Asterisk's order is ascending sequence = ascending UID.
    let list = MessageNumbers::new(V, [uid(40), uid(7), uid(12), uid(7)]).unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(
        list.resolve(n(1), V),
        Resolution::Message {
            uidvalidity: V,
            uid: uid(7)
        }
    );
    assert_eq!(
        list.resolve(n(2), V),
        Resolution::Message {
            uidvalidity: V,
            uid: uid(12)
        }
    );
    assert_eq!(
        list.resolve(n(3), V),
        Resolution::Message {
            uidvalidity: V,
            uid: uid(40)
        }
    );
    assert_eq!(list.resolve(n(4), V), Resolution::NoSuchNumber);
    assert_eq!(list.number_of(uid(12)), Some(n(2)));
    assert_eq!(list.number_of(uid(13)), None);
    assert_eq!(n(1).asterisk_index(), 0);
    assert_eq!(MessageNumber::new(0), None);
}

#[test]
fn aib_6_17_concurrent_expunge_does_not_shift_numbers() {
    // Asterisk keeps sequence numbers: after a mail client expunges message 1,
    // "message 2" silently becomes the old message 3. Here it does not.
    let mut list = MessageNumbers::new(V, [uid(7), uid(12), uid(40)]).unwrap();
    assert_eq!(list.vanish([uid(7), uid(99)]), 1);
    assert_eq!(list.vanish([uid(7)]), 0, "already gone");
    assert_eq!(list.resolve(n(1), V), Resolution::Vanished { uid: uid(7) });
    assert_eq!(
        list.resolve(n(2), V),
        Resolution::Message {
            uidvalidity: V,
            uid: uid(12)
        }
    );
    assert_eq!(
        list.present().collect::<Vec<_>>(),
        [(n(2), uid(12)), (n(3), uid(40))]
    );
    // The next open of the folder closes the gap.
    let next = list.renumbered();
    assert_eq!(
        next.present().collect::<Vec<_>>(),
        [(n(1), uid(12)), (n(2), uid(40))]
    );
}

#[test]
fn uidvalidity_change_makes_the_listing_stale() {
    let list = MessageNumbers::new(V, [uid(1)]).unwrap();
    let now = uv(1_700_000_001);
    assert_eq!(
        list.resolve(n(1), now),
        Resolution::StaleListing {
            listed: V,
            current: now
        }
    );
}

#[test]
fn aib_4_4_voicemailmain_opens_urgent_then_new_then_old() {
    let c = |new, urgent, old| MwiCounts {
        new,
        urgent,
        old,
        old_urgent: 0,
    };
    assert_eq!(opening_folder(c(3, 1, 2)), Folder::Urgent);
    assert_eq!(opening_folder(c(3, 0, 2)), Folder::Inbox);
    assert_eq!(opening_folder(c(0, 0, 2)), Folder::Old);
    assert_eq!(opening_folder(c(0, 0, 0)), Folder::Old);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Whatever UIDs vanish, in whatever batches, a number never names another message.
    #[test]
    fn numbering_stays_consistent_when_arbitrary_uids_vanish(
        listed in prop::collection::btree_set(1u32..500, 0..80),
        batches in prop::collection::vec(prop::collection::vec(1u32..520, 0..10), 0..8),
    ) {
        let original: Vec<u32> = listed.iter().copied().collect();
        let mut list = MessageNumbers::new(V, original.iter().rev().map(|u| uid(*u))).unwrap();
        let mut gone = std::collections::BTreeSet::new();
        for batch in &batches {
            list.vanish(batch.iter().map(|u| uid(*u)));
            gone.extend(batch.iter().copied().filter(|u| listed.contains(u)));
            for (i, u) in original.iter().enumerate() {
                let number = n(u32::try_from(i).unwrap() + 1);
                let want = if gone.contains(u) {
                    Resolution::Vanished { uid: uid(*u) }
                } else {
                    Resolution::Message { uidvalidity: V, uid: uid(*u) }
                };
                prop_assert_eq!(list.resolve(number, V), want);
                prop_assert_eq!(list.number_of(uid(*u)), Some(number));
            }
            let beyond = n(u32::try_from(original.len()).unwrap() + 1);
            prop_assert_eq!(list.resolve(beyond, V), Resolution::NoSuchNumber);
        }
        let remaining: Vec<u32> = original.iter().copied().filter(|u| !gone.contains(u)).collect();
        let fresh: Vec<(u32, u32)> = list.renumbered().present().map(|(k, u)| (k.get(), u.get())).collect();
        let want: Vec<(u32, u32)> = remaining.iter().enumerate().map(|(i, u)| (u32::try_from(i).unwrap() + 1, *u)).collect();
        prop_assert_eq!(fresh, want);
    }
}
