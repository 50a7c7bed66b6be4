//! Watch strategy (§4.11; the server table of `docs/compatibility.md`).

use std::time::Duration;

use imapvm_policy::watch::{IDLE_REFRESH, choose};
use imapvm_policy::{Capabilities, WatchConfig, WatchStrategy};

fn caps(line: &str) -> Capabilities {
    Capabilities::from_atoms(line.split(' '))
}

#[test]
fn servers_pick_their_best_push() {
    let cfg = WatchConfig::default();
    // Dovecot after login advertises NOTIFY and IDLE.
    let dovecot = caps("IMAP4rev1 IDLE UIDPLUS MOVE LITERAL+ NOTIFY QUOTA");
    assert_eq!(
        choose(&dovecot, cfg),
        WatchStrategy::Notify {
            idle_refresh: IDLE_REFRESH
        }
    );
    // Cyrus and Courier: IDLE, no NOTIFY.
    assert_eq!(
        choose(&caps("IMAP4rev1 UIDPLUS QUOTA IDLE"), cfg),
        WatchStrategy::Idle {
            idle_refresh: IDLE_REFRESH
        }
    );
    // NOTIFY can be turned off.
    let no_notify = WatchConfig {
        allow_notify: false,
        ..cfg
    };
    assert_eq!(
        choose(&dovecot, no_notify),
        WatchStrategy::Idle {
            idle_refresh: IDLE_REFRESH
        }
    );
    // RFC 2177: re-issue IDLE before 29 minutes.
    assert!(IDLE_REFRESH < Duration::from_secs(29 * 60));
}

#[test]
fn aib_4_11_no_push_polls_only_with_pollmailboxes() {
    let bare = caps("IMAP4rev1");
    assert_eq!(
        choose(&bare, WatchConfig::default()),
        WatchStrategy::OnDemand
    );
    let poll = WatchConfig {
        pollmailboxes: true,
        ..WatchConfig::default()
    };
    assert_eq!(
        choose(&bare, poll),
        WatchStrategy::Poll {
            every: Duration::from_secs(30)
        }
    );
    let zero = WatchConfig {
        pollfreq: Duration::ZERO,
        ..poll
    };
    assert_eq!(
        choose(&bare, zero),
        WatchStrategy::Poll {
            every: Duration::from_secs(1)
        },
        "pollfreq=0 must not busy-loop"
    );
    // NOTIFY without IDLE is not used (nothing to wait in).
    assert_eq!(
        choose(&caps("NOTIFY"), poll),
        WatchStrategy::Poll {
            every: Duration::from_secs(30)
        }
    );
}

#[test]
fn failures_fall_back_notify_idle_poll() {
    let dovecot = caps("IDLE NOTIFY");
    let cfg = WatchConfig {
        pollmailboxes: true,
        pollfreq: Duration::from_secs(10),
        allow_notify: true,
    };
    let first = choose(&dovecot, cfg);
    let second = first.fallback(&dovecot, cfg).unwrap();
    assert_eq!(
        second,
        WatchStrategy::Idle {
            idle_refresh: IDLE_REFRESH
        }
    );
    let third = second.fallback(&dovecot, cfg).unwrap();
    assert_eq!(
        third,
        WatchStrategy::Poll {
            every: Duration::from_secs(10)
        }
    );
    assert_eq!(third.fallback(&dovecot, cfg), None);
    assert_eq!(WatchStrategy::OnDemand.fallback(&dovecot, cfg), None);
}

mod resync {
    use imapvm_policy::watch::{expunges_unattributed, resync_plan};
    use imapvm_policy::{FolderMark, ResyncPlan};

    fn mark(uid_validity: u32, highest_modseq: u64, uid_next: u32, exists: u32) -> FolderMark {
        FolderMark {
            uid_validity: crate::uv(uid_validity),
            highest_modseq,
            uid_next: crate::uid(uid_next),
            exists,
        }
    }

    #[test]
    fn an_unmoved_modseq_means_no_count() {
        let m = mark(7, 40, 11, 10);
        assert_eq!(resync_plan(Some(m), Some(m)), ResyncPlan::Nothing);
        // UIDNEXT and EXISTS do not matter when nothing changed.
        assert_eq!(
            resync_plan(Some(m), Some(mark(7, 40, 12, 9))),
            ResyncPlan::Nothing
        );
    }

    #[test]
    fn a_moved_modseq_asks_for_the_changes_since_the_mark() {
        assert_eq!(
            resync_plan(Some(mark(7, 40, 11, 10)), Some(mark(7, 44, 12, 11))),
            ResyncPlan::ChangesSince(40)
        );
    }

    #[test]
    fn without_a_usable_mark_everything_is_recounted() {
        let m = mark(7, 40, 11, 10);
        // First connect, or the last count of a box failed.
        assert_eq!(resync_plan(None, Some(m)), ResyncPlan::All);
        // No CONDSTORE now.
        assert_eq!(resync_plan(Some(m), None), ResyncPlan::All);
        // UIDVALIDITY changed: every UID means another message.
        assert_eq!(
            resync_plan(Some(m), Some(mark(8, 40, 11, 10))),
            ResyncPlan::All
        );
        // A SELECT without UIDVALIDITY gives no mark at all (`FolderMark` cannot hold 0).
    }

    #[test]
    fn expunges_show_in_the_arithmetic_without_qresync() {
        let before = mark(7, 40, 11, 10);
        // Two added, none gone: 10 + 2 = 12.
        assert!(!expunges_unattributed(
            before,
            mark(7, 45, 13, 12),
            2,
            false
        ));
        // Two added, one gone: 10 + 2 != 11.
        assert!(expunges_unattributed(before, mark(7, 45, 13, 11), 2, false));
        // One gone, nothing added (a flag change would not move EXISTS).
        assert!(expunges_unattributed(before, mark(7, 45, 11, 9), 0, false));
        // QRESYNC names every expunged UID: never unattributed.
        assert!(!expunges_unattributed(before, mark(7, 45, 11, 9), 0, true));
    }
}
