//! CONDSTORE/QRESYNC resync (RFC 7162): ENABLE state, `UID FETCH ... (CHANGEDSINCE n VANISHED)` with `* VANISHED (EARLIER)` in the outcome, plain VANISHED after ENABLE QRESYNC.

use crate::support::{Pair, Step, coalesce, config, logged_in, script};
use imapvm_proto::*;
use proptest::prelude::*;

/// Dovecot 2.3's capabilities after login (CONDSTORE, QRESYNC, ENABLE).
const DOVECOT_CAPS: &str = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE SAVEDATE LITERAL+ NOTIFY SPECIAL-USE QUOTA";

fn uid(n: u32) -> Uid {
    Uid::new(n).unwrap()
}

fn uids(v: &[u32]) -> Vec<Uid> {
    v.iter().map(|n| uid(*n)).collect()
}

/// `ENABLE <what>` answered with `* ENABLED <what>`, then INBOX selected (10 messages).
fn enabled_and_selected(what: &str) -> Pair {
    let mut p = logged_in(DOVECOT_CAPS);
    let e = p.conn.enable(&[what]).unwrap();
    p.push(script(&format!(
        "C: a2 ENABLE {what}
         S: * ENABLED {what}
         S: a2 OK Enabled."
    )));
    assert!(p.run());
    assert_eq!(p.ok(e), &Outcome::Enabled(vec![what.to_owned()]));
    let s = p.conn.select(&MailboxName::inbox()).unwrap();
    p.push(script(
        "C: a3 SELECT INBOX
         S: * 10 EXISTS
         S: * OK [UIDVALIDITY 1795674092] UIDs valid
         S: * OK [UIDNEXT 20] Predicted next UID
         S: * OK [HIGHESTMODSEQ 30] Highest
         S: a3 OK [READ-WRITE] Select completed.",
    ));
    assert!(p.run());
    p.ok(s);
    p.events.clear();
    p
}

fn vanished_events(p: &Pair) -> Vec<(UidSet, bool)> {
    p.events
        .iter()
        .filter_map(|e| match e {
            Event::Unsolicited(Unsolicited::Vanished { uids, earlier }) => {
                Some((uids.clone(), *earlier))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn enable_qresync_is_known_to_the_core_and_implies_condstore() {
    let mut p = logged_in(DOVECOT_CAPS);
    assert!(!p.conn.qresync_enabled());
    assert!(!p.conn.condstore_enabled());
    let e = p.conn.enable(&["QRESYNC"]).unwrap();
    p.push(script(
        "C: a2 ENABLE QRESYNC
         S: * ENABLED QRESYNC
         S: a2 OK Enabled.",
    ));
    assert!(p.run());
    assert_eq!(p.ok(e), &Outcome::Enabled(vec!["QRESYNC".into()]));
    assert!(p.conn.qresync_enabled());
    assert!(p.conn.condstore_enabled());
    assert!(p.conn.is_enabled("qresync"));
}

#[test]
fn enable_condstore_alone_does_not_enable_qresync() {
    let mut p = logged_in(DOVECOT_CAPS);
    let e = p.conn.enable(&["CONDSTORE"]).unwrap();
    p.push(script(
        "C: a2 ENABLE CONDSTORE
         S: * ENABLED CONDSTORE
         S: a2 OK Enabled.",
    ));
    assert!(p.run());
    p.ok(e);
    assert!(p.conn.condstore_enabled());
    assert!(!p.conn.qresync_enabled());
}

#[test]
fn enable_that_the_server_does_not_confirm_enables_nothing() {
    // A server without QRESYNC answers OK with an empty (or no) ENABLED.
    let mut p = logged_in("IMAP4rev1 ENABLE CONDSTORE");
    let e = p.conn.enable(&["CONDSTORE", "QRESYNC"]).unwrap();
    p.push(script(
        "C: a2 ENABLE CONDSTORE QRESYNC
         S: * ENABLED CONDSTORE
         S: a2 OK Enabled.",
    ));
    assert!(p.run());
    assert_eq!(p.ok(e), &Outcome::Enabled(vec!["CONDSTORE".into()]));
    assert!(p.conn.condstore_enabled());
    assert!(!p.conn.qresync_enabled());
}

#[test]
fn changed_since_with_vanished_returns_changes_and_earlier_expunges_in_the_outcome() {
    let mut p = enabled_and_selected("QRESYNC");
    let f = p
        .conn
        .uid_fetch_changed_since(&UidRange::All, &[FetchAttr::Flags], 25, true)
        .unwrap();
    p.push(script(
        "C: a4 UID FETCH 1:* (UID FLAGS) (CHANGEDSINCE 25 VANISHED)
         S: * VANISHED (EARLIER) 3:5,9
         S: * 1 FETCH (UID 2 FLAGS (\\Seen) MODSEQ (28))
         S: * 6 FETCH (UID 12 FLAGS (\\Flagged) MODSEQ (30))
         S: a4 OK Fetch completed (0.001 + 0.000 secs).",
    ));
    assert!(p.run());
    let Outcome::FetchChanged {
        messages,
        vanished_earlier,
    } = p.ok(f)
    else {
        panic!("{:?}", p.ok(f))
    };
    assert_eq!(vanished_earlier, &uids(&[3, 4, 5, 9]));
    assert_eq!(messages.len(), 2);
    assert_eq!(
        (messages[0].uid, &messages[0].flags, messages[0].modseq),
        (uid(2), &Some(vec![Flag::Seen]), Some(28))
    );
    assert_eq!(
        (messages[1].uid, &messages[1].flags, messages[1].modseq),
        (uid(12), &Some(vec![Flag::Flagged]), Some(30))
    );
    // History: no "expunged now" event, the message count is untouched.
    assert_eq!(vanished_events(&p), vec![]);
    assert!(
        !p.events
            .iter()
            .any(|e| matches!(e, Event::Unsolicited(_) | Event::Diagnostic(_)))
    );
    assert_eq!(p.conn.exists(), Some(10));
}

#[test]
fn several_vanished_earlier_responses_are_merged_sorted_without_repeats() {
    let mut p = enabled_and_selected("QRESYNC");
    let set = UidRange::Set(UidSet::range(uid(1), uid(15)));
    let f = p.conn.uid_fetch_changed_since(&set, &[], 1, true).unwrap();
    p.push(script(
        "C: a4 UID FETCH 1:15 UID (CHANGEDSINCE 1 VANISHED)
         S: * VANISHED (EARLIER) 9,11:12
         S: * VANISHED (EARLIER) 3,11
         S: * 5 FETCH (UID 10 MODSEQ (2))
         S: a4 OK Fetch completed.",
    ));
    assert!(p.run());
    let Outcome::FetchChanged {
        messages,
        vanished_earlier,
    } = p.ok(f)
    else {
        panic!()
    };
    assert_eq!(vanished_earlier, &uids(&[3, 9, 11, 12]));
    assert_eq!(messages.len(), 1);
    assert_eq!((messages[0].uid, messages[0].modseq), (uid(10), Some(2)));
}

#[test]
fn changed_since_without_vanished_needs_only_condstore() {
    let mut p = enabled_and_selected("CONDSTORE");
    let f = p
        .conn
        .uid_fetch_changed_since(&UidRange::All, &[FetchAttr::Flags], 7, false)
        .unwrap();
    p.push(script(
        "C: a4 UID FETCH 1:* (UID FLAGS) (CHANGEDSINCE 7)
         S: * 2 FETCH (UID 4 FLAGS () MODSEQ (8))
         S: a4 OK Fetch completed.",
    ));
    assert!(p.run());
    assert_eq!(
        p.ok(f),
        &Outcome::FetchChanged {
            messages: vec![FetchedMessage {
                flags: Some(vec![]),
                modseq: Some(8),
                ..FetchedMessage::new(uid(4))
            }],
            vanished_earlier: vec![],
        }
    );
}

#[test]
fn changed_since_with_nothing_changed_is_an_empty_outcome() {
    let mut p = enabled_and_selected("QRESYNC");
    let f = p
        .conn
        .uid_fetch_changed_since(&UidRange::All, &[FetchAttr::Flags], 30, true)
        .unwrap();
    p.push(script(
        "C: a4 UID FETCH 1:* (UID FLAGS) (CHANGEDSINCE 30 VANISHED)
         S: a4 OK Fetch completed.",
    ));
    assert!(p.run());
    assert_eq!(
        p.ok(f),
        &Outcome::FetchChanged {
            messages: vec![],
            vanished_earlier: vec![],
        }
    );
}

#[test]
fn plain_vanished_during_a_changed_since_fetch_stays_an_unsolicited_expunge() {
    let mut p = enabled_and_selected("QRESYNC");
    let f = p
        .conn
        .uid_fetch_changed_since(&UidRange::All, &[FetchAttr::Flags], 25, true)
        .unwrap();
    p.push(script(
        "C: a4 UID FETCH 1:* (UID FLAGS) (CHANGEDSINCE 25 VANISHED)
         S: * VANISHED (EARLIER) 3
         S: * VANISHED 7
         S: a4 OK Fetch completed.",
    ));
    assert!(p.run());
    let Outcome::FetchChanged {
        vanished_earlier, ..
    } = p.ok(f)
    else {
        panic!()
    };
    assert_eq!(vanished_earlier, &uids(&[3]));
    assert_eq!(vanished_events(&p), vec![(UidSet::single(uid(7)), false)]);
    // With QRESYNC the server names only messages that existed: one fewer.
    assert_eq!(p.conn.exists(), Some(9));
}

#[test]
fn vanished_earlier_without_a_vanished_fetch_is_reported_as_before() {
    let mut p = enabled_and_selected("QRESYNC");
    let f = p
        .conn
        .uid_fetch(&UidRange::All, &[FetchAttr::Flags])
        .unwrap();
    p.push(script(
        "C: a4 UID FETCH 1:* (UID FLAGS)
         S: * VANISHED (EARLIER) 3
         S: a4 OK Fetch completed.",
    ));
    assert!(p.run());
    assert_eq!(p.ok(f), &Outcome::Fetch(vec![]));
    assert_eq!(vanished_events(&p), vec![(UidSet::single(uid(3)), true)]);
    assert_eq!(p.conn.exists(), Some(10));
}

#[test]
fn vanished_earlier_outside_the_fetched_set_is_not_the_fetch_answer() {
    let mut p = enabled_and_selected("QRESYNC");
    let set = UidRange::Set(UidSet::range(uid(10), uid(19)));
    let f = p
        .conn
        .uid_fetch_changed_since(&set, &[FetchAttr::Flags], 25, true)
        .unwrap();
    p.push(script(
        "C: a4 UID FETCH 10:19 (UID FLAGS) (CHANGEDSINCE 25 VANISHED)
         S: * VANISHED (EARLIER) 3
         S: * VANISHED (EARLIER) 11
         S: a4 OK Fetch completed.",
    ));
    assert!(p.run());
    let Outcome::FetchChanged {
        vanished_earlier, ..
    } = p.ok(f)
    else {
        panic!()
    };
    assert_eq!(vanished_earlier, &uids(&[11]));
    assert_eq!(vanished_events(&p), vec![(UidSet::single(uid(3)), true)]);
}

#[test]
fn plain_vanished_after_enable_qresync_keeps_sequence_numbers_right() {
    // Known: seq 1 -> UID 10, 3 -> 30, 5 -> 50 of 5. `* VANISHED 20` names a message whose
    // sequence number the core never learnt (2): everything above it moves down one.
    let mut p = logged_in(DOVECOT_CAPS);
    p.conn.enable(&["QRESYNC"]).unwrap();
    p.conn.select(&MailboxName::inbox()).unwrap();
    let f = p
        .conn
        .uid_fetch(&UidRange::Set(UidSet::single(uid(10))), &[])
        .unwrap();
    p.push(script(
        "C: a2 ENABLE QRESYNC
         S: * ENABLED QRESYNC
         S: a2 OK Enabled.
         C: a3 SELECT INBOX
         C: a4 UID FETCH 10 UID
         S: * 5 EXISTS
         S: a3 OK [READ-WRITE] Select completed.
         S: * 1 FETCH (UID 10)
         S: * 3 FETCH (UID 30)
         S: * 5 FETCH (UID 50)
         S: a4 OK Fetch completed.",
    ));
    assert!(p.run());
    p.ok(f);
    p.events.clear();
    let n = p.conn.noop().unwrap();
    p.push(script(
        "C: a5 NOOP
         S: * VANISHED 20
         S: * 4 FETCH (FLAGS (\\Seen))
         S: * 2 FETCH (FLAGS (\\Flagged))
         S: a5 OK NOOP completed.",
    ));
    assert!(p.run());
    p.ok(n);
    assert_eq!(p.conn.exists(), Some(4));
    let changes: Vec<(Option<Uid>, Option<Vec<Flag>>)> = p
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Unsolicited(Unsolicited::Fetch { uid, flags, .. }) => {
                Some((*uid, flags.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        changes,
        vec![
            (Some(uid(50)), Some(vec![Flag::Seen])),
            (Some(uid(30)), Some(vec![Flag::Flagged])),
        ]
    );
    assert_eq!(vanished_events(&p), vec![(UidSet::single(uid(20)), false)]);
}

#[test]
fn with_qresync_an_expunge_command_gets_its_vanished_answer() {
    let mut p = enabled_and_selected("QRESYNC");
    let x = p.conn.expunge().unwrap();
    p.push(script(
        "C: a4 EXPUNGE
         S: * VANISHED 4:5
         S: a4 OK Expunge completed.",
    ));
    assert!(p.run());
    assert_eq!(
        p.ok(x),
        &Outcome::Expunged {
            uids: uids(&[4, 5]),
            unmapped: 0
        }
    );
    assert_eq!(vanished_events(&p), vec![]);
    assert_eq!(p.conn.exists(), Some(8));
}

#[test]
fn misuse_is_refused_before_anything_is_sent() {
    // Not selected.
    let mut p = logged_in(DOVECOT_CAPS);
    assert!(matches!(
        p.conn
            .uid_fetch_changed_since(&UidRange::All, &[FetchAttr::Flags], 1, false),
        Err(Error::Misuse(Misuse::WrongState { .. }))
    ));
    // VANISHED before ENABLE QRESYNC (CONDSTORE alone is not enough).
    let mut p = enabled_and_selected("CONDSTORE");
    let before = p.all_written.len();
    assert_eq!(
        p.conn
            .uid_fetch_changed_since(&UidRange::All, &[FetchAttr::Flags], 5, true),
        Err(Error::Misuse(Misuse::NotEnabled {
            command: "UID FETCH (VANISHED)",
            capability: "QRESYNC"
        }))
    );
    // CHANGEDSINCE 0.
    assert!(matches!(
        p.conn
            .uid_fetch_changed_since(&UidRange::All, &[FetchAttr::Flags], 0, false),
        Err(Error::Misuse(Misuse::InvalidArgument {
            command: "UID FETCH",
            ..
        }))
    ));
    assert!(p.run());
    assert_eq!(p.all_written.len(), before, "nothing may be sent");
    assert!(p.conn.is_idle());

    // A server without CONDSTORE.
    let mut p = logged_in("IMAP4rev1 IDLE UIDPLUS");
    p.conn.select(&MailboxName::inbox()).unwrap();
    p.push(script(
        "C: a2 SELECT INBOX\nS: * 1 EXISTS\nS: a2 OK [READ-WRITE] ok",
    ));
    assert!(p.run());
    assert_eq!(
        p.conn
            .uid_fetch_changed_since(&UidRange::All, &[FetchAttr::Flags], 5, false),
        Err(Error::Misuse(Misuse::MissingCapability {
            command: "UID FETCH",
            capability: "CONDSTORE"
        }))
    );
}

#[test]
fn a_huge_vanished_earlier_fails_the_command_not_the_connection() {
    let mut p = qresync_selected(100, 1);
    let f = p
        .conn
        .uid_fetch_changed_since(&UidRange::All, &[FetchAttr::Flags], 1, true)
        .unwrap();
    p.push(script(
        "C: a3 UID FETCH 1:* (UID FLAGS) (CHANGEDSINCE 1 VANISHED)
         S: * VANISHED (EARLIER) 1:4294967295
         S: * VANISHED (EARLIER) 7
         S: a3 OK Fetch completed.",
    ));
    assert!(p.run());
    assert!(matches!(
        p.err(f),
        Error::Limit(LimitExceeded {
            kind: LimitKind::UntaggedPerCommand,
            max: 100,
            ..
        })
    ));
    assert!(!p.err(f).is_fatal());
    assert!(p.conn.error().is_none());
    let n = p.conn.noop().unwrap();
    p.push(script("C: a4 NOOP\nS: a4 OK done"));
    assert!(p.run());
    p.ok(n);
}

/// QRESYNC enabled, INBOX selected with `exists` messages, `max_untagged_per_command` =
/// `limit`; events so far cleared.
fn qresync_selected(limit: u32, exists: u32) -> Pair {
    let mut cfg = config();
    cfg.limits.max_untagged_per_command = limit;
    let mut p = Pair::new(
        cfg,
        script("S: * PREAUTH [CAPABILITY IMAP4rev1 ENABLE CONDSTORE QRESYNC UIDPLUS MOVE] hi"),
    );
    p.run();
    p.conn.enable(&["QRESYNC"]).unwrap();
    p.conn.select(&MailboxName::inbox()).unwrap();
    p.push(script(&format!(
        "C: a1 ENABLE QRESYNC
         S: * ENABLED QRESYNC
         S: a1 OK Enabled.
         C: a2 SELECT INBOX
         S: * {exists} EXISTS
         S: a2 OK [READ-WRITE] ok"
    )));
    assert!(p.run());
    p.events.clear();
    p
}

/// [`qresync_selected`] with 20 messages and a limit of 4.
fn qresync_selected_with_limit_4() -> Pair {
    qresync_selected(4, 20)
}

#[test]
fn vanished_answers_to_uid_expunge_and_uid_move_are_bounded_in_total() {
    // Each response is within the limit (3 UIDs), the two together are not (6 > 4): the
    // command fails, the connection goes on, and the messages are still gone from the view.
    for mv in [false, true] {
        let mut p = qresync_selected_with_limit_4();
        let (id, line) = if mv {
            let id = p
                .conn
                .uid_move(&UidRange::All, &MailboxName::from_wire("Old").unwrap());
            (id.unwrap(), "C: a3 UID MOVE 1:* Old")
        } else {
            (
                p.conn.uid_expunge(&UidRange::All).unwrap(),
                "C: a3 UID EXPUNGE 1:*",
            )
        };
        p.push(script(&format!(
            "{line}
             S: * VANISHED 1:3
             S: * VANISHED 4:6
             S: a3 OK done"
        )));
        assert!(p.run());
        assert_eq!(
            p.err(id),
            &Error::Limit(LimitExceeded {
                kind: LimitKind::UntaggedPerCommand,
                actual: 6,
                max: 4,
            }),
            "move: {mv}"
        );
        assert!(!p.err(id).is_fatal());
        assert!(p.conn.error().is_none());
        assert_eq!(p.conn.exists(), Some(14));
        assert_eq!(vanished_events(&p), vec![], "claimed, not unsolicited");
        let n = p.conn.noop().unwrap();
        p.push(script("C: a4 NOOP\nS: a4 OK done"));
        assert!(p.run());
        p.ok(n);
    }
}

#[test]
fn one_vanished_answer_beyond_the_limit_fails_the_expunge_instead_of_truncating() {
    let mut p = qresync_selected_with_limit_4();
    let x = p.conn.uid_expunge(&UidRange::All).unwrap();
    p.push(script(
        "C: a3 UID EXPUNGE 1:*
         S: * VANISHED 1:4294967295
         S: a3 OK done",
    ));
    assert!(p.run());
    assert!(matches!(
        p.err(x),
        Error::Limit(LimitExceeded {
            kind: LimitKind::UntaggedPerCommand,
            max: 4,
            ..
        })
    ));
    assert!(p.conn.error().is_none());
    assert_eq!(p.conn.exists(), Some(0));
}

#[test]
fn vanished_answers_up_to_the_limit_in_total_are_all_kept() {
    let mut p = qresync_selected_with_limit_4();
    let x = p.conn.uid_expunge(&UidRange::All).unwrap();
    p.push(script(
        "C: a3 UID EXPUNGE 1:*
         S: * VANISHED 2:3
         S: * VANISHED 7
         S: * VANISHED 9
         S: a3 OK done",
    ));
    assert!(p.run());
    assert_eq!(
        p.ok(x),
        &Outcome::Expunged {
            uids: uids(&[2, 3, 7, 9]),
            unmapped: 0
        }
    );
    assert_eq!(p.conn.exists(), Some(16));
}

// ------------------------------------------------------------------ splitting

/// A reconnect resync: ENABLE QRESYNC, SELECT, then CHANGEDSINCE with VANISHED answered by
/// VANISHED (EARLIER), FETCH with MODSEQ, a plain VANISHED and a stray flag change.
fn resync_session() -> Vec<Step> {
    script(
        "S: * PREAUTH [CAPABILITY IMAP4rev1 ENABLE CONDSTORE QRESYNC IDLE] Dovecot ready.
         C: a1 ENABLE QRESYNC
         S: * ENABLED QRESYNC
         S: a1 OK Enabled.
         C: a2 SELECT INBOX
         S: * 6 EXISTS
         S: * OK [UIDVALIDITY 9] ok
         S: * OK [HIGHESTMODSEQ 40] ok
         S: a2 OK [READ-WRITE] Select completed
         C: a3 UID FETCH 1:* (UID FLAGS) (CHANGEDSINCE 31 VANISHED)
         S: * VANISHED (EARLIER) 2:4,8,11:13
         S: * 1 FETCH (UID 1 FLAGS (\\Seen) MODSEQ (33))
         S: * VANISHED 5
         S: * 4 FETCH (UID 9 FLAGS (\\Flagged \\Seen) MODSEQ (40))
         S: * 2 FETCH (UID 6 FLAGS () MODSEQ (39))
         S: * 2 FETCH (UID 6 FLAGS (\\Seen) MODSEQ (41))
         S: a3 OK Fetch completed",
    )
}

fn run_resync(steps: Vec<Step>, splits: Vec<usize>) -> (Outcome, Vec<Event>) {
    let mut p = Pair::new(config(), Vec::new()).with_splits(splits);
    let mut steps: std::collections::VecDeque<Step> = steps.into();
    p.push(vec![steps.pop_front().unwrap()]);
    p.run();
    p.conn.enable(&["QRESYNC"]).unwrap();
    p.push(steps.drain(..2).collect());
    assert!(p.run());
    p.conn.select(&MailboxName::inbox()).unwrap();
    p.push(steps.drain(..2).collect());
    assert!(p.run());
    let f = p
        .conn
        .uid_fetch_changed_since(&UidRange::All, &[FetchAttr::Flags], 31, true)
        .unwrap();
    p.push(steps.into_iter().collect());
    assert!(p.run());
    (p.ok(f).clone(), p.events)
}

#[test]
fn resync_session_has_the_expected_shape() {
    let (outcome, events) = run_resync(resync_session(), vec![]);
    let Outcome::FetchChanged {
        messages,
        vanished_earlier,
    } = outcome
    else {
        panic!()
    };
    assert_eq!(vanished_earlier, uids(&[2, 3, 4, 8, 11, 12, 13]));
    let got: Vec<(Uid, Option<u64>)> = messages.iter().map(|m| (m.uid, m.modseq)).collect();
    assert_eq!(
        got,
        vec![(uid(1), Some(33)), (uid(6), Some(39)), (uid(9), Some(40))]
    );
    let unsolicited: Vec<&Unsolicited> = events
        .iter()
        .filter_map(|e| match e {
            Event::Unsolicited(u) => Some(u),
            _ => None,
        })
        .collect();
    assert_eq!(
        unsolicited,
        vec![
            &Unsolicited::Vanished {
                uids: UidSet::single(uid(5)),
                earlier: false
            },
            &Unsolicited::Fetch {
                uid: Some(uid(6)),
                flags: Some(vec![Flag::Seen]),
                modseq: Some(41)
            },
        ]
    );
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::Failed(_) | Event::Diagnostic(_)))
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn resync_is_the_same_however_the_bytes_are_split(
        splits in proptest::collection::vec(1usize..40, 1..20),
    ) {
        let baseline = run_resync(resync_session(), vec![]);
        prop_assert_eq!(run_resync(resync_session(), splits.clone()), baseline.clone());
        prop_assert_eq!(run_resync(coalesce(&resync_session()), splits), baseline);
    }

    /// Any VANISHED (EARLIER) sets (ranges in any order, overlapping, repeated) come back
    /// as exactly their UIDs, ascending, once each.
    #[test]
    fn vanished_earlier_sets_come_back_exactly(
        answers in proptest::collection::vec(
            proptest::collection::vec((1u32..300, 0u32..20), 1..6),
            0..5,
        ),
    ) {
        let mut p = enabled_and_selected("QRESYNC");
        let f = p
            .conn
            .uid_fetch_changed_since(&UidRange::All, &[], 3, true)
            .unwrap();
        let mut text = String::from("C: a4 UID FETCH 1:* UID (CHANGEDSINCE 3 VANISHED)\n");
        let mut want = std::collections::BTreeSet::new();
        for ranges in &answers {
            let wire: Vec<String> = ranges
                .iter()
                .map(|(a, n)| {
                    want.extend(*a..=a + n);
                    // Ranges may be written high:low (RFC 3501 seq-range).
                    if n % 2 == 1 { format!("{}:{a}", a + n) } else { format!("{a}:{}", a + n) }
                })
                .collect();
            text.push_str(&format!("S: * VANISHED (EARLIER) {}\n", wire.join(",")));
        }
        text.push_str("S: a4 OK done");
        p.push(script(&text));
        prop_assert!(p.run());
        let Outcome::FetchChanged { messages, vanished_earlier } = p.ok(f) else {
            panic!()
        };
        prop_assert!(messages.is_empty());
        prop_assert_eq!(vanished_earlier, &uids(&want.into_iter().collect::<Vec<_>>()));
        prop_assert_eq!(vanished_events(&p), vec![]);
    }

    /// With QRESYNC, a plain VANISHED keeps the known sequence numbers exactly where a
    /// message-by-message EXPUNGE would put them, whichever UIDs the core had learnt.
    #[test]
    fn plain_vanished_matches_expunge_one_by_one(
        present in proptest::collection::btree_set(1u32..60, 1..30),
        known_mask in proptest::collection::vec(any::<bool>(), 30),
        gone_mask in proptest::collection::vec(any::<bool>(), 30),
    ) {
        let present: Vec<u32> = present.into_iter().collect();
        let mut p = logged_in(DOVECOT_CAPS);
        p.conn.enable(&["QRESYNC"]).unwrap();
        p.conn.select(&MailboxName::inbox()).unwrap();
        let learn = p.conn.uid_fetch(&UidRange::All, &[]).unwrap();
        let mut text = format!(
            "C: a2 ENABLE QRESYNC\nS: * ENABLED QRESYNC\nS: a2 OK ok\n\
             C: a3 SELECT INBOX\nC: a4 UID FETCH 1:* UID\nS: * {} EXISTS\nS: a3 OK ok\n",
            present.len()
        );
        for (i, u) in present.iter().enumerate() {
            if known_mask[i] {
                text.push_str(&format!("S: * {} FETCH (UID {u})\n", i + 1));
            }
        }
        text.push_str("S: a4 OK ok");
        p.push(script(&text));
        prop_assert!(p.run());
        p.ok(learn);
        let gone: Vec<u32> = present
            .iter()
            .enumerate()
            .filter(|(i, _)| gone_mask[*i])
            .map(|(_, u)| *u)
            .collect();
        let set: UidSet = gone.iter().map(|u| uid(*u)).collect();
        if set.is_empty() {
            return Ok(());
        }
        let left: Vec<u32> = present.iter().copied().filter(|u| !gone.contains(u)).collect();
        p.conn.noop().unwrap();
        // Ask about each remaining message by sequence number; the known ones must map right.
        let mut text = format!("C: a5 NOOP\nS: * VANISHED {set}\n");
        for seq in 1..=left.len() {
            text.push_str(&format!("S: * {seq} FETCH (FLAGS (\\Seen))\n"));
        }
        text.push_str("S: a5 OK ok");
        p.events.clear();
        p.push(script(&text));
        prop_assert!(p.run());
        prop_assert_eq!(p.conn.exists(), Some(left.len() as u32));
        let mapped: Vec<Option<Uid>> = p
            .events
            .iter()
            .filter_map(|e| match e {
                Event::Unsolicited(Unsolicited::Fetch { uid, .. }) => Some(*uid),
                _ => None,
            })
            .collect();
        prop_assert_eq!(mapped.len(), left.len());
        for (i, m) in mapped.iter().enumerate() {
            let u = left[i];
            let was_known = present
                .iter()
                .position(|x| *x == u)
                .is_some_and(|j| known_mask[j]);
            if was_known {
                prop_assert_eq!(*m, Some(uid(u)));
            } else {
                prop_assert_eq!(*m, None);
            }
        }
    }
}
