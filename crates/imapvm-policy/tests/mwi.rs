//! MWI change detection and externnotify (§4.11; observed §5.2; [INV-5]).

use imapvm_policy::count::MwiState;
use imapvm_policy::mwi::{decide, externnotify_args, externnotify_args_from_poller};
use imapvm_policy::{MailboxId, MwiCounts, MwiDecision, MwiTracker, Recount};
use proptest::prelude::*;

const fn c(new: u32, urgent: u32, old: u32) -> MwiCounts {
    MwiCounts {
        new,
        urgent,
        old,
        old_urgent: 0,
    }
}

#[test]
fn aib_4_11_first_count_publishes_then_only_changes() {
    let mut t = MwiTracker::new();
    assert_eq!(t.state(), MwiState::Unknown);
    assert_eq!(
        t.observe(Recount::Counted(c(0, 0, 0))),
        MwiDecision::Publish(c(0, 0, 0)),
        "0/0 is a real state, published once"
    );
    assert_eq!(
        t.observe(Recount::Counted(c(0, 0, 0))),
        MwiDecision::Unchanged
    );
    // Asterisk re-publishes every poll while an urgent message exists; we do not.
    assert_eq!(
        t.observe(Recount::Counted(c(2, 1, 0))),
        MwiDecision::Publish(c(2, 1, 0))
    );
    for _ in 0..3 {
        assert_eq!(
            t.observe(Recount::Counted(c(2, 1, 0))),
            MwiDecision::Unchanged
        );
    }
}

#[test]
fn ao_5_2_urgent_to_new_is_published_although_new_plus_urgent_is_unchanged() {
    assert_eq!(
        decide(MwiState::Known(c(3, 1, 2)), Recount::Counted(c(4, 0, 2))),
        MwiDecision::Publish(c(4, 0, 2))
    );
    let heard_urgent = MwiCounts {
        old_urgent: 1,
        ..c(0, 0, 1)
    };
    assert_eq!(
        decide(MwiState::Known(c(0, 0, 1)), Recount::Counted(heard_urgent)),
        MwiDecision::Publish(heard_urgent)
    );
}

#[test]
fn aib_6_13_an_outage_keeps_the_last_good_state() {
    let mut t = MwiTracker::new();
    assert_eq!(
        t.observe(Recount::Failed),
        MwiDecision::KeepLastGood(MwiState::Unknown),
        "never a 0 or -1"
    );
    t.observe(Recount::Counted(c(1, 0, 4)));
    assert_eq!(
        t.observe(Recount::Failed),
        MwiDecision::KeepLastGood(MwiState::Known(c(1, 0, 4)))
    );
    assert_eq!(t.state(), MwiState::Known(c(1, 0, 4)));
    // Recovery with the same counts is not a change.
    assert_eq!(
        t.observe(Recount::Counted(c(1, 0, 4))),
        MwiDecision::Unchanged
    );
}

#[test]
fn aib_4_11_externnotify_arguments() {
    let id = MailboxId::parse("1234@default").unwrap();
    let counts = c(2, 1, 3);
    assert_eq!(
        externnotify_args(&id, counts),
        ["default", "1234", "2", "3", "1"],
        "new excludes urgent"
    );
    assert_eq!(
        externnotify_args_from_poller(&id, counts),
        ["", "1234@default", "2", "3", "1"]
    );
}

proptest! {
    /// Publishes exactly when the counted state differs from the last published one; failures never publish.
    #[test]
    fn tracker_publishes_exactly_the_changes(seq in prop::collection::vec(prop::option::of((0u32..3, 0u32..3, 0u32..3)), 0..40)) {
        let mut t = MwiTracker::new();
        let mut last: Option<MwiCounts> = None;
        for item in seq {
            match item {
                None => {
                    let want = last.map_or(MwiState::Unknown, MwiState::Known);
                    prop_assert_eq!(t.observe(Recount::Failed), MwiDecision::KeepLastGood(want));
                }
                Some((n, u, o)) => {
                    let now = c(n, u, o);
                    let d = t.observe(Recount::Counted(now));
                    if last == Some(now) {
                        prop_assert_eq!(d, MwiDecision::Unchanged);
                    } else {
                        prop_assert_eq!(d, MwiDecision::Publish(now));
                        last = Some(now);
                    }
                }
            }
            prop_assert_eq!(t.state(), last.map_or(MwiState::Unknown, MwiState::Known));
        }
    }
}
