//! Watch strategy (AIB §4.11; ecosystem server table).

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
        choose(dovecot, cfg),
        WatchStrategy::Notify {
            idle_refresh: IDLE_REFRESH
        }
    );
    // Cyrus and Courier: IDLE, no NOTIFY.
    assert_eq!(
        choose(caps("IMAP4rev1 UIDPLUS QUOTA IDLE"), cfg),
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
        choose(dovecot, no_notify),
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
        choose(bare, WatchConfig::default()),
        WatchStrategy::OnDemand
    );
    let poll = WatchConfig {
        pollmailboxes: true,
        ..WatchConfig::default()
    };
    assert_eq!(
        choose(bare, poll),
        WatchStrategy::Poll {
            every: Duration::from_secs(30)
        }
    );
    let zero = WatchConfig {
        pollfreq: Duration::ZERO,
        ..poll
    };
    assert_eq!(
        choose(bare, zero),
        WatchStrategy::Poll {
            every: Duration::from_secs(1)
        },
        "pollfreq=0 must not busy-loop"
    );
    // NOTIFY without IDLE is not used (nothing to wait in).
    assert_eq!(
        choose(caps("NOTIFY"), poll),
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
    let first = choose(dovecot, cfg);
    let second = first.fallback(dovecot, cfg).unwrap();
    assert_eq!(
        second,
        WatchStrategy::Idle {
            idle_refresh: IDLE_REFRESH
        }
    );
    let third = second.fallback(dovecot, cfg).unwrap();
    assert_eq!(
        third,
        WatchStrategy::Poll {
            every: Duration::from_secs(10)
        }
    );
    assert_eq!(third.fallback(dovecot, cfg), None);
    assert_eq!(WatchStrategy::OnDemand.fallback(dovecot, cfg), None);
}
