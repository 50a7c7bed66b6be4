//! Routing of untagged data among several pipelined commands of one kind: SEARCH/ESEARCH, FETCH and STORE (by UID and items), STATUS, LIST and QUOTA.

use crate::support::{Pair, logged_in, script};
use imapvm_proto::*;

/// Dovecot 2.3's capabilities after login (ESEARCH included).
pub const DOVECOT_CAPS: &str = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE SAVEDATE LITERAL+ NOTIFY SPECIAL-USE QUOTA";

/// The same server without ESEARCH (Courier, old Cyrus, Dovecot with ESEARCH turned off).
const NO_ESEARCH_CAPS: &str = "IMAP4rev1 IDLE UIDPLUS MOVE QUOTA NAMESPACE LITERAL+";

fn uid(n: u32) -> Uid {
    Uid::new(n).unwrap()
}

fn uids(v: &[u32]) -> Vec<Uid> {
    v.iter().map(|n| uid(*n)).collect()
}

fn set(v: &[u32]) -> UidRange {
    UidRange::Set(uids(v).into_iter().collect())
}

/// Logged in with `caps`, INBOX selected with UIDs 1, 2, 3, 7 at sequence numbers 1..4 (learnt).
fn selected(caps: &str) -> Pair {
    let mut p = logged_in(caps);
    let sel = p.conn.select(&MailboxName::inbox()).unwrap();
    let f = p.conn.uid_fetch(&UidRange::All, &[]).unwrap();
    p.push(script(
        "C: a2 SELECT INBOX
         C: a3 UID FETCH 1:* UID
         S: * 4 EXISTS
         S: * OK [UIDVALIDITY 9] ok
         S: a2 OK [READ-WRITE] Select completed
         S: * 1 FETCH (UID 1)
         S: * 2 FETCH (UID 2)
         S: * 3 FETCH (UID 3)
         S: * 4 FETCH (UID 7)
         S: a3 OK Fetch completed",
    ));
    assert!(p.run());
    p.ok(sel);
    assert!(matches!(p.ok(f), Outcome::Fetch(v) if v.len() == 4));
    p.events.clear();
    p
}

/// The three count searches Asterisk's flow needs (new, urgent, old).
fn three_searches(p: &mut Pair) -> [CommandId; 3] {
    let h = || SearchKey::Header("X-Asterisk-VM-Extension".into(), "1234".into());
    let a = p
        .conn
        .uid_search(&[
            SearchKey::Undeleted,
            SearchKey::Unflagged,
            SearchKey::Unseen,
            h(),
        ])
        .unwrap();
    let b = p
        .conn
        .uid_search(&[
            SearchKey::Undeleted,
            SearchKey::Flagged,
            SearchKey::Unseen,
            h(),
        ])
        .unwrap();
    let c = p
        .conn
        .uid_search(&[SearchKey::Undeleted, SearchKey::Seen, h()])
        .unwrap();
    [a, b, c]
}

fn unsolicited_fetches(p: &Pair) -> Vec<(Option<Uid>, Option<Vec<Flag>>)> {
    p.events
        .iter()
        .filter_map(|e| match e {
            Event::Unsolicited(Unsolicited::Fetch { uid, flags, .. }) => {
                Some((*uid, flags.clone()))
            }
            _ => None,
        })
        .collect()
}

fn no_failure_or_diagnostic(p: &Pair) {
    assert!(
        !p.events
            .iter()
            .any(|e| matches!(e, Event::Failed(_) | Event::Diagnostic(_))),
        "{:#?}",
        p.events
    );
}

// ------------------------------------------------------------------ SEARCH without ESEARCH

#[test]
fn pipelined_searches_each_get_their_own_search_response() {
    // The Dovecot transcript from the runtime's report: a14 got 1 2 3, a15 and a16 nothing.
    let mut p = selected(NO_ESEARCH_CAPS);
    let [a, b, c] = three_searches(&mut p);
    p.push(script(
        "C: a4 UID SEARCH UNDELETED UNFLAGGED UNSEEN HEADER X-Asterisk-VM-Extension 1234
         C: a5 UID SEARCH UNDELETED FLAGGED UNSEEN HEADER X-Asterisk-VM-Extension 1234
         C: a6 UID SEARCH UNDELETED SEEN HEADER X-Asterisk-VM-Extension 1234
         S: * SEARCH 3
         S: * SEARCH 1 2
         S: * SEARCH
         S: a4 OK Search completed (0.001 + 0.000 secs).
         S: a5 OK Search completed (0.001 + 0.000 secs).
         S: a6 OK Search completed (0.001 + 0.000 secs).",
    ));
    assert!(p.run());
    assert_eq!(p.ok(a), &Outcome::Search(uids(&[3])));
    assert_eq!(p.ok(b), &Outcome::Search(uids(&[1, 2])));
    assert_eq!(p.ok(c), &Outcome::Search(vec![]));
    no_failure_or_diagnostic(&p);
}

#[test]
fn pipelined_searches_interleaved_with_their_tagged_answers() {
    let mut p = selected(NO_ESEARCH_CAPS);
    let [a, b, c] = three_searches(&mut p);
    p.push(script(
        "C: a4 UID SEARCH UNDELETED UNFLAGGED UNSEEN HEADER X-Asterisk-VM-Extension 1234
         C: a5 UID SEARCH UNDELETED FLAGGED UNSEEN HEADER X-Asterisk-VM-Extension 1234
         C: a6 UID SEARCH UNDELETED SEEN HEADER X-Asterisk-VM-Extension 1234
         S: * SEARCH
         S: a4 OK Search completed
         S: * SEARCH 7
         S: a5 OK Search completed
         S: * SEARCH 2 1
         S: a6 OK Search completed",
    ));
    assert!(p.run());
    assert_eq!(p.ok(a), &Outcome::Search(vec![]));
    assert_eq!(p.ok(b), &Outcome::Search(uids(&[7])));
    assert_eq!(p.ok(c), &Outcome::Search(uids(&[1, 2])));
    no_failure_or_diagnostic(&p);
}

#[test]
fn a_surplus_search_response_is_a_diagnostic_not_a_merge() {
    let mut p = selected(NO_ESEARCH_CAPS);
    let a = p.conn.uid_search(&[SearchKey::Seen]).unwrap();
    let b = p.conn.uid_search(&[SearchKey::Unseen]).unwrap();
    p.push(script(
        "C: a4 UID SEARCH SEEN
         C: a5 UID SEARCH UNSEEN
         S: * SEARCH 1
         S: * SEARCH 2
         S: * SEARCH 3
         S: a4 OK done
         S: a5 OK done",
    ));
    assert!(p.run());
    assert_eq!(p.ok(a), &Outcome::Search(uids(&[1])));
    assert_eq!(p.ok(b), &Outcome::Search(uids(&[2])));
    assert!(
        p.events
            .iter()
            .any(|e| matches!(e, Event::Diagnostic(d) if d.reason.contains("SEARCH")))
    );
}

/// Preauthenticated with `caps`, INBOX selected (tag a1), `max_untagged_per_command` = 4.
fn selected_with_limit_4(caps: &str) -> Pair {
    let mut cfg = crate::support::config();
    cfg.limits.max_untagged_per_command = 4;
    let mut p = Pair::new(cfg, script(&format!("S: * PREAUTH [CAPABILITY {caps}] hi")));
    p.run();
    let sel = p.conn.select(&MailboxName::inbox()).unwrap();
    p.push(script(
        "C: a1 SELECT INBOX
         S: * 20 EXISTS
         S: a1 OK [READ-WRITE] ok",
    ));
    assert!(p.run());
    p.ok(sel);
    p.events.clear();
    p
}

/// The NOOP after a failed command: the connection is still usable.
fn noop_works(p: &mut Pair, tag: &str) {
    assert!(p.conn.error().is_none());
    assert_ne!(p.conn.state(), State::Failed);
    let n = p.conn.noop().unwrap();
    p.push(script(&format!("C: {tag} NOOP\nS: {tag} OK done")));
    assert!(p.run());
    assert_eq!(p.ok(n), &Outcome::Done);
}

#[test]
fn split_search_answers_count_every_uid_against_the_limit_in_total() {
    // Each answer is within the limit (3 UIDs), the two together are not (6 > 4).
    let mut p = selected_with_limit_4(NO_ESEARCH_CAPS);
    let a = p.conn.uid_search(&[SearchKey::All]).unwrap();
    p.push(script(
        "C: a2 UID SEARCH ALL
         S: * SEARCH 1 2 3
         S: * SEARCH 4 5 6
         S: a2 OK done",
    ));
    assert!(p.run());
    assert_eq!(
        p.err(a),
        &Error::Limit(LimitExceeded {
            kind: LimitKind::UntaggedPerCommand,
            actual: 6,
            max: 4,
        })
    );
    assert!(!p.err(a).is_fatal());
    assert!(
        !p.events.iter().any(|e| matches!(e, Event::Diagnostic(_))),
        "claimed, not surplus: {:#?}",
        p.events
    );
    noop_works(&mut p, "a3");
}

#[test]
fn one_search_answer_beyond_the_limit_fails_the_search_instead_of_truncating() {
    let mut p = selected_with_limit_4(NO_ESEARCH_CAPS);
    let a = p.conn.uid_search(&[SearchKey::All]).unwrap();
    p.push(script(
        "C: a2 UID SEARCH ALL
         S: * SEARCH 1 2 3 4 5
         S: a2 OK done",
    ));
    assert!(p.run());
    assert_eq!(
        p.err(a),
        &Error::Limit(LimitExceeded {
            kind: LimitKind::UntaggedPerCommand,
            actual: 5,
            max: 4,
        })
    );
    noop_works(&mut p, "a3");
}

#[test]
fn split_search_answers_up_to_the_limit_in_total_are_all_kept() {
    let mut p = selected_with_limit_4(NO_ESEARCH_CAPS);
    let a = p.conn.uid_search(&[SearchKey::All]).unwrap();
    p.push(script(
        "C: a2 UID SEARCH ALL
         S: * SEARCH 9 2
         S: * SEARCH 7
         S: * SEARCH 3
         S: a2 OK done",
    ));
    assert!(p.run());
    assert_eq!(p.ok(a), &Outcome::Search(uids(&[2, 3, 7, 9])));
    no_failure_or_diagnostic(&p);
}

#[test]
fn empty_search_answers_still_count_as_one_response_each() {
    // No UID to count, but a server repeating `* SEARCH` cannot go on without bound.
    let mut p = selected_with_limit_4(NO_ESEARCH_CAPS);
    let a = p.conn.uid_search(&[SearchKey::All]).unwrap();
    p.push(script(
        "C: a2 UID SEARCH ALL
         S: * SEARCH
         S: * SEARCH 1 2
         S: * SEARCH
         S: a2 OK done",
    ));
    assert!(p.run());
    // 1 + 2 + 1 = 4: at the limit.
    assert_eq!(p.ok(a), &Outcome::Search(uids(&[1, 2])));
    let c = p.conn.uid_search(&[SearchKey::Unseen]).unwrap();
    p.push(script(
        "C: a3 UID SEARCH UNSEEN
         S: * SEARCH
         S: * SEARCH
         S: * SEARCH
         S: * SEARCH
         S: * SEARCH
         S: a3 OK done",
    ));
    assert!(p.run());
    assert_eq!(
        p.err(c),
        &Error::Limit(LimitExceeded {
            kind: LimitKind::UntaggedPerCommand,
            actual: 5,
            max: 4,
        })
    );
    noop_works(&mut p, "a4");
}

#[test]
fn a_search_over_the_limit_leaves_the_next_pipelined_search_its_answer() {
    let mut p = selected_with_limit_4(NO_ESEARCH_CAPS);
    let a = p.conn.uid_search(&[SearchKey::All]).unwrap();
    let b = p.conn.uid_search(&[SearchKey::Seen]).unwrap();
    p.push(script(
        "C: a2 UID SEARCH ALL
         C: a3 UID SEARCH SEEN
         S: * SEARCH 1 2 3 4 5 6 7
         S: * SEARCH 2 4 6 8
         S: a2 OK done
         S: a3 OK done",
    ));
    assert!(p.run());
    assert_eq!(
        p.err(a),
        &Error::Limit(LimitExceeded {
            kind: LimitKind::UntaggedPerCommand,
            actual: 7,
            max: 4,
        })
    );
    assert_eq!(p.ok(b), &Outcome::Search(uids(&[2, 4, 6, 8])));
    noop_works(&mut p, "a4");
}

#[test]
fn esearch_counts_every_uid_against_the_limit_as_before() {
    let mut p = selected_with_limit_4("IMAP4rev1 ESEARCH");
    let a = p.conn.uid_search(&[SearchKey::All]).unwrap();
    let b = p.conn.uid_search(&[SearchKey::Seen]).unwrap();
    p.push(script(
        "C: a2 UID SEARCH RETURN (ALL) ALL
         C: a3 UID SEARCH RETURN (ALL) SEEN
         S: * ESEARCH (TAG \"a2\") UID ALL 1:4
         S: * ESEARCH (TAG \"a3\") UID ALL 1:3,9:10
         S: a2 OK done
         S: a3 OK done",
    ));
    assert!(p.run());
    assert_eq!(p.ok(a), &Outcome::Search(uids(&[1, 2, 3, 4])));
    assert_eq!(
        p.err(b),
        &Error::Limit(LimitExceeded {
            kind: LimitKind::UntaggedPerCommand,
            actual: 5,
            max: 4,
        })
    );
    noop_works(&mut p, "a4");
}

// ------------------------------------------------------------------ ESEARCH (RFC 4731)

#[test]
fn esearch_is_used_when_advertised_and_routed_by_tag_in_any_order() {
    let mut p = selected(DOVECOT_CAPS);
    let [a, b, c] = three_searches(&mut p);
    // Dovecot may run read-only commands in parallel: answers come in any order.
    p.push(script(
        "C: a4 UID SEARCH RETURN (ALL) UNDELETED UNFLAGGED UNSEEN HEADER X-Asterisk-VM-Extension 1234
         C: a5 UID SEARCH RETURN (ALL) UNDELETED FLAGGED UNSEEN HEADER X-Asterisk-VM-Extension 1234
         C: a6 UID SEARCH RETURN (ALL) UNDELETED SEEN HEADER X-Asterisk-VM-Extension 1234
         S: * ESEARCH (TAG \"a6\") UID ALL 1:2
         S: a6 OK Search completed
         S: * ESEARCH (TAG \"a4\") UID ALL 3,7
         S: * ESEARCH (TAG \"a5\") UID
         S: a5 OK Search completed
         S: a4 OK Search completed",
    ));
    assert!(p.run());
    assert_eq!(p.ok(a), &Outcome::Search(uids(&[3, 7])));
    assert_eq!(p.ok(b), &Outcome::Search(vec![]));
    assert_eq!(p.ok(c), &Outcome::Search(uids(&[1, 2])));
    no_failure_or_diagnostic(&p);
}

#[test]
fn esearch_tolerates_count_min_max_ranges_case_and_correlator_extras() {
    let mut p = selected(DOVECOT_CAPS);
    let a = p.conn.uid_search(&[SearchKey::All]).unwrap();
    let b = p.conn.uid_search(&[SearchKey::Deleted]).unwrap();
    let c = p.conn.uid_search(&[SearchKey::Flagged]).unwrap();
    p.push(script(
        "C: a4 UID SEARCH RETURN (ALL) ALL
         C: a5 UID SEARCH RETURN (ALL) DELETED
         C: a6 UID SEARCH RETURN (ALL) FLAGGED
         S: * ESEARCH (TAG \"a4\") UID MIN 1 MAX 7 COUNT 4 ALL 1:3,7
         S: a4 OK done
         S: * esearch (tag \"a5\" MAILBOX \"INBOX\" UIDVALIDITY 9) uid COUNT 0
         S: a5 OK done
         S: * ESEARCH (TAG a6) UID ALL 7:6 MODSEQ 12 COUNT 2
         S: a6 OK done",
    ));
    assert!(p.run());
    assert_eq!(p.ok(a), &Outcome::Search(uids(&[1, 2, 3, 7])));
    assert_eq!(p.ok(b), &Outcome::Search(vec![]));
    assert_eq!(p.ok(c), &Outcome::Search(uids(&[6, 7])));
    no_failure_or_diagnostic(&p);
}

#[test]
fn esearch_can_be_turned_off() {
    let mut cfg = crate::support::config();
    cfg.use_esearch = false;
    let mut p = Pair::new(
        cfg,
        script("S: * PREAUTH [CAPABILITY IMAP4rev1 ESEARCH] hi"),
    );
    p.run();
    p.conn.select(&MailboxName::inbox()).unwrap();
    let a = p.conn.uid_search(&[SearchKey::Unseen]).unwrap();
    p.push(script(
        "C: a1 SELECT INBOX
         C: a2 UID SEARCH UNSEEN
         S: * 1 EXISTS
         S: a1 OK [READ-WRITE] ok
         S: * SEARCH 5
         S: a2 OK done",
    ));
    assert!(p.run());
    assert_eq!(p.ok(a), &Outcome::Search(uids(&[5])));
}

#[test]
fn a_plain_search_answer_to_an_esearch_command_is_accepted() {
    let mut p = selected(DOVECOT_CAPS);
    let a = p.conn.uid_search(&[SearchKey::Seen]).unwrap();
    let b = p.conn.uid_search(&[SearchKey::Unseen]).unwrap();
    p.push(script(
        "C: a4 UID SEARCH RETURN (ALL) SEEN
         C: a5 UID SEARCH RETURN (ALL) UNSEEN
         S: * ESEARCH (TAG \"a5\") UID ALL 2
         S: * SEARCH 1 3
         S: a4 OK done
         S: a5 OK done",
    ));
    assert!(p.run());
    assert_eq!(p.ok(a), &Outcome::Search(uids(&[1, 3])));
    assert_eq!(p.ok(b), &Outcome::Search(uids(&[2])));
    no_failure_or_diagnostic(&p);
}

#[test]
fn esearch_with_too_many_uids_fails_only_its_command() {
    let mut cfg = crate::support::config();
    cfg.limits.max_untagged_per_command = 100;
    let mut p = Pair::new(
        cfg,
        script("S: * PREAUTH [CAPABILITY IMAP4rev1 ESEARCH] hi"),
    );
    p.run();
    p.conn.select(&MailboxName::inbox()).unwrap();
    let a = p.conn.uid_search(&[SearchKey::All]).unwrap();
    let b = p.conn.uid_search(&[SearchKey::Seen]).unwrap();
    // 15 bytes naming four billion UIDs must not make the core allocate them.
    p.push(script(
        "C: a1 SELECT INBOX
         C: a2 UID SEARCH RETURN (ALL) ALL
         C: a3 UID SEARCH RETURN (ALL) SEEN
         S: a1 OK [READ-WRITE] ok
         S: * ESEARCH (TAG \"a2\") UID ALL 1:4294967295
         S: * ESEARCH (TAG \"a3\") UID ALL 4,9:10
         S: a2 OK done
         S: a3 OK done",
    ));
    assert!(p.run());
    assert!(matches!(
        p.err(a),
        Error::Limit(LimitExceeded {
            kind: LimitKind::UntaggedPerCommand,
            ..
        })
    ));
    assert_eq!(p.ok(b), &Outcome::Search(uids(&[4, 9, 10])));
    assert_ne!(p.conn.state(), State::Failed);
}

#[test]
fn more_answers_after_an_esearch_that_counted_four_billion_uids_do_not_overflow() {
    // Found by the `responses` fuzz target: the count saturated at u32::MAX, and the next
    // `* SEARCH` for the same (lone) command overflowed the counter.
    let mut p = selected(DOVECOT_CAPS);
    let a = p.conn.uid_search(&[SearchKey::All]).unwrap();
    p.push(script(
        "C: a4 UID SEARCH RETURN (ALL) ALL
         S: * ESEARCH (TAG \"a4\") UID ALL 1:4294967295,1:4294967295
         S: * SEARCH 4
         S: * ESEARCH (TAG \"a4\") UID ALL 1:4294967295
         S: a4 OK done",
    ));
    assert!(p.run());
    assert!(matches!(
        p.err(a),
        Error::Limit(LimitExceeded { kind: LimitKind::UntaggedPerCommand, actual, .. }) if *actual == u64::from(u32::MAX)
    ));
    assert_ne!(p.conn.state(), State::Failed);
}

#[test]
fn esearch_for_a_tag_not_in_flight_is_a_diagnostic() {
    let mut p = selected(DOVECOT_CAPS);
    let a = p.conn.uid_search(&[SearchKey::Seen]).unwrap();
    p.push(script(
        "C: a4 UID SEARCH RETURN (ALL) SEEN
         S: * ESEARCH (TAG \"zz9\") UID ALL 1
         S: * ESEARCH (TAG \"a4\") UID ALL 2
         S: a4 OK done",
    ));
    assert!(p.run());
    assert_eq!(p.ok(a), &Outcome::Search(uids(&[2])));
    assert!(
        p.events
            .iter()
            .any(|e| matches!(e, Event::Diagnostic(d) if d.reason.contains("ESEARCH")))
    );
}

#[test]
fn malformed_esearch_for_an_in_flight_search_fails_the_connection() {
    for bad in [
        "* ESEARCH (TAG \"a4\") UID ALL 1:x",
        "* ESEARCH (TAG \"a4\") UID ALL 0",
        "* ESEARCH (TAG \"a4\") UID ALL 3:*",
        "* ESEARCH (TAG \"a4\" UID ALL 1",
        // Sequence numbers for a UID SEARCH: the numbers cannot be trusted as UIDs.
        "* ESEARCH (TAG \"a4\") ALL 1:3",
    ] {
        let mut p = selected(DOVECOT_CAPS);
        let a = p.conn.uid_search(&[SearchKey::Seen]).unwrap();
        p.push(script(&format!(
            "C: a4 UID SEARCH RETURN (ALL) SEEN
             S: {bad}
             S: a4 OK done"
        )));
        p.run();
        assert!(
            matches!(p.err(a), Error::Misbehaviour(_)),
            "{bad}: {:?}",
            p.result(a)
        );
        assert_eq!(p.conn.state(), State::Failed, "{bad}");
    }
}

#[test]
fn esearch_nobody_waits_for_is_a_diagnostic_even_when_malformed() {
    let mut p = selected(DOVECOT_CAPS);
    let n = p.conn.noop().unwrap();
    p.push(script(
        "C: a4 NOOP
         S: * ESEARCH (TAG \"x1\") UID ALL 1:x
         S: * ESEARCH garbage (
         S: a4 OK done",
    ));
    assert!(p.run());
    p.ok(n);
    let diags = p
        .events
        .iter()
        .filter(|e| matches!(e, Event::Diagnostic(_)))
        .count();
    assert_eq!(diags, 2);
}

// ------------------------------------------------------------------ FETCH and STORE

#[test]
fn unsolicited_flag_change_for_a_uid_outside_the_fetch_set_is_an_event() {
    let mut p = selected(NO_ESEARCH_CAPS);
    let f = p
        .conn
        .uid_fetch(&set(&[1, 2]), &[FetchAttr::Flags, FetchAttr::Rfc822Size])
        .unwrap();
    p.push(script(
        "C: a4 UID FETCH 1:2 (UID FLAGS RFC822.SIZE)
         S: * 1 FETCH (UID 1 FLAGS () RFC822.SIZE 10)
         S: * 4 FETCH (UID 7 FLAGS (\\Seen))
         S: * 3 FETCH (FLAGS (\\Deleted))
         S: * 2 FETCH (UID 2 FLAGS (\\Flagged) RFC822.SIZE 20)
         S: a4 OK Fetch completed",
    ));
    assert!(p.run());
    let Outcome::Fetch(msgs) = p.ok(f) else {
        panic!()
    };
    assert_eq!(
        msgs.iter().map(|m| m.uid).collect::<Vec<_>>(),
        uids(&[1, 2])
    );
    assert_eq!(msgs[1].flags, Some(vec![Flag::Flagged]));
    assert_eq!(
        unsolicited_fetches(&p),
        vec![
            (Some(uid(7)), Some(vec![Flag::Seen])),
            (Some(uid(3)), Some(vec![Flag::Deleted])),
        ]
    );
    no_failure_or_diagnostic(&p);
}

#[test]
fn flag_change_inside_the_set_of_a_fetch_without_flags_is_an_event() {
    let mut p = selected(NO_ESEARCH_CAPS);
    let f = p
        .conn
        .uid_fetch(&set(&[2]), &[FetchAttr::Part(vec![2])])
        .unwrap();
    p.push(script(
        "C: a4 UID FETCH 2 (UID BODY.PEEK[2])
         S: * 2 FETCH (FLAGS (\\Seen \\Deleted))
         S: * 2 FETCH (UID 2 BODY[2] {4}
         S: UklG)
         S: a4 OK Fetch completed",
    ));
    assert!(p.run());
    let Outcome::Fetch(msgs) = p.ok(f) else {
        panic!()
    };
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].part(&[2]), Some(&b"UklG"[..]));
    assert_eq!(msgs[0].flags, None, "flags were not asked for");
    assert_eq!(
        unsolicited_fetches(&p),
        vec![(Some(uid(2)), Some(vec![Flag::Seen, Flag::Deleted]))]
    );
}

#[test]
fn unrequested_flags_riding_along_a_fetch_answer_are_reported_as_a_change() {
    let mut p = selected(NO_ESEARCH_CAPS);
    let f = p
        .conn
        .uid_fetch(&set(&[3]), &[FetchAttr::Rfc822Size])
        .unwrap();
    p.push(script(
        "C: a4 UID FETCH 3 (UID RFC822.SIZE)
         S: * 3 FETCH (UID 3 RFC822.SIZE 99 FLAGS (\\Seen))
         S: a4 OK Fetch completed",
    ));
    assert!(p.run());
    let Outcome::Fetch(msgs) = p.ok(f) else {
        panic!()
    };
    assert_eq!(msgs[0].size, Some(99));
    assert_eq!(msgs[0].flags, None);
    assert_eq!(
        unsolicited_fetches(&p),
        vec![(Some(uid(3)), Some(vec![Flag::Seen]))]
    );
}

#[test]
fn open_ended_fetch_takes_uids_at_or_above_its_start_only() {
    let mut p = selected(NO_ESEARCH_CAPS);
    // The runtime's `3:4294967295` goes out as `3:*`, which also names the highest UID when
    // it is below 3 (RFC 3501 6.4.8): only UIDs >= 3 belong to the answer.
    let f = p
        .conn
        .uid_fetch(
            &UidRange::Set(UidSet::range(uid(3), uid(u32::MAX))),
            &[FetchAttr::Flags],
        )
        .unwrap();
    p.push(script(
        "C: a4 UID FETCH 3:* (UID FLAGS)
         S: * 1 FETCH (UID 1 FLAGS (\\Seen))
         S: * 3 FETCH (UID 3 FLAGS ())
         S: * 4 FETCH (UID 7 FLAGS (\\Flagged))
         S: a4 OK Fetch completed",
    ));
    assert!(p.run());
    let Outcome::Fetch(msgs) = p.ok(f) else {
        panic!()
    };
    assert_eq!(
        msgs.iter().map(|m| m.uid).collect::<Vec<_>>(),
        uids(&[3, 7])
    );
    assert_eq!(
        unsolicited_fetches(&p),
        vec![(Some(uid(1)), Some(vec![Flag::Seen]))]
    );
}

#[test]
fn two_pipelined_fetches_with_disjoint_sets_are_routed_by_uid() {
    let mut p = selected(NO_ESEARCH_CAPS);
    let a = p
        .conn
        .uid_fetch(&set(&[1, 2]), &[FetchAttr::Flags])
        .unwrap();
    let b = p
        .conn
        .uid_fetch(&set(&[3, 7]), &[FetchAttr::Flags])
        .unwrap();
    p.push(script(
        "C: a4 UID FETCH 1:2 (UID FLAGS)
         C: a5 UID FETCH 3,7 (UID FLAGS)
         S: * 3 FETCH (UID 3 FLAGS (\\Seen))
         S: * 1 FETCH (UID 1 FLAGS ())
         S: * 4 FETCH (UID 7 FLAGS (\\Flagged))
         S: * 2 FETCH (UID 2 FLAGS (\\Deleted))
         S: a5 OK Fetch completed
         S: a4 OK Fetch completed",
    ));
    assert!(p.run());
    let (Outcome::Fetch(ma), Outcome::Fetch(mb)) = (p.ok(a), p.ok(b)) else {
        panic!()
    };
    assert_eq!(ma.iter().map(|m| m.uid).collect::<Vec<_>>(), uids(&[1, 2]));
    assert_eq!(mb.iter().map(|m| m.uid).collect::<Vec<_>>(), uids(&[3, 7]));
    assert_eq!(ma[1].flags, Some(vec![Flag::Deleted]));
    assert_eq!(mb[1].flags, Some(vec![Flag::Flagged]));
    assert!(unsolicited_fetches(&p).is_empty());
    no_failure_or_diagnostic(&p);
}

#[test]
fn two_pipelined_fetches_of_the_same_uids_each_get_one_answer() {
    let mut p = selected(NO_ESEARCH_CAPS);
    let a = p.conn.uid_fetch(&set(&[1]), &[FetchAttr::Flags]).unwrap();
    let b = p.conn.uid_fetch(&set(&[1]), &[FetchAttr::Flags]).unwrap();
    p.push(script(
        "C: a4 UID FETCH 1 (UID FLAGS)
         C: a5 UID FETCH 1 (UID FLAGS)
         S: * 1 FETCH (UID 1 FLAGS ())
         S: a4 OK Fetch completed
         S: * 1 FETCH (UID 1 FLAGS (\\Seen))
         S: a5 OK Fetch completed",
    ));
    assert!(p.run());
    let (Outcome::Fetch(ma), Outcome::Fetch(mb)) = (p.ok(a), p.ok(b)) else {
        panic!()
    };
    assert_eq!(ma[0].flags, Some(vec![]));
    assert_eq!(mb[0].flags, Some(vec![Flag::Seen]));
}

#[test]
fn store_takes_only_flags_of_its_own_uids() {
    let mut p = selected(NO_ESEARCH_CAPS);
    let loud = p
        .conn
        .uid_store(&uid(2).into(), StoreMode::Add, &[Flag::Seen], false)
        .unwrap();
    let silent = p
        .conn
        .uid_store(&uid(3).into(), StoreMode::Add, &[Flag::Deleted], true)
        .unwrap();
    p.push(script(
        "C: a4 UID STORE 2 +FLAGS (\\Seen)
         C: a5 UID STORE 3 +FLAGS.SILENT (\\Deleted)
         S: * 4 FETCH (UID 7 FLAGS (\\Answered))
         S: * 2 FETCH (UID 2 FLAGS (\\Seen))
         S: a4 OK Store completed
         S: * 1 FETCH (FLAGS (\\Flagged))
         S: a5 OK Store completed",
    ));
    assert!(p.run());
    assert_eq!(
        p.ok(loud),
        &Outcome::Store(vec![(uid(2), vec![Flag::Seen])])
    );
    assert_eq!(p.ok(silent), &Outcome::Store(vec![]));
    assert_eq!(
        unsolicited_fetches(&p),
        vec![
            (Some(uid(7)), Some(vec![Flag::Answered])),
            (Some(uid(1)), Some(vec![Flag::Flagged])),
        ]
    );
}

#[test]
fn store_and_fetch_pipelined_share_a_uid_in_command_order() {
    let mut p = selected(NO_ESEARCH_CAPS);
    let st = p
        .conn
        .uid_store(&uid(1).into(), StoreMode::Add, &[Flag::Seen], false)
        .unwrap();
    let f = p.conn.uid_fetch(&set(&[1]), &[FetchAttr::Flags]).unwrap();
    p.push(script(
        "C: a4 UID STORE 1 +FLAGS (\\Seen)
         C: a5 UID FETCH 1 (UID FLAGS)
         S: * 1 FETCH (UID 1 FLAGS (\\Seen))
         S: a4 OK Store completed
         S: * 1 FETCH (UID 1 FLAGS (\\Seen \\Flagged))
         S: a5 OK Fetch completed",
    ));
    assert!(p.run());
    assert_eq!(p.ok(st), &Outcome::Store(vec![(uid(1), vec![Flag::Seen])]));
    let Outcome::Fetch(m) = p.ok(f) else { panic!() };
    assert_eq!(m[0].flags, Some(vec![Flag::Seen, Flag::Flagged]));
    assert!(unsolicited_fetches(&p).is_empty());
}

// ------------------------------------------------------------------ STATUS, LIST, QUOTA

#[test]
fn pipelined_status_is_routed_by_mailbox_and_one_answer_each() {
    let mut p = logged_in(DOVECOT_CAPS);
    let items = [StatusAttr::Messages];
    let a = p.conn.status(&MailboxName::inbox(), &items).unwrap();
    let b = p
        .conn
        .status(&MailboxName::from_wire("Old").unwrap(), &items)
        .unwrap();
    let c = p
        .conn
        .status(&MailboxName::from_wire("Old").unwrap(), &items)
        .unwrap();
    p.push(script(
        "C: a2 STATUS INBOX (MESSAGES)
         C: a3 STATUS Old (MESSAGES)
         C: a4 STATUS Old (MESSAGES)
         S: * STATUS Old (MESSAGES 5)
         S: * STATUS inbox (MESSAGES 2)
         S: * STATUS Old (MESSAGES 6)
         S: a2 OK done
         S: a3 OK done
         S: a4 OK done",
    ));
    assert!(p.run());
    let msgs = |id| match p.ok(id) {
        Outcome::Status(s) => s.messages,
        o => panic!("{o:?}"),
    };
    assert_eq!((msgs(a), msgs(b), msgs(c)), (Some(2), Some(5), Some(6)));
    no_failure_or_diagnostic(&p);
}

#[test]
fn pipelined_lists_are_routed_by_pattern() {
    let mut p = logged_in(DOVECOT_CAPS);
    let a = p.conn.list("", "INBOX").unwrap();
    let b = p.conn.list("", "Old%").unwrap();
    let c = p.conn.list("", "*").unwrap();
    p.push(script(
        "C: a2 LIST \"\" INBOX
         C: a3 LIST \"\" Old%
         C: a4 LIST \"\" *
         S: * LIST (\\HasNoChildren) \".\" INBOX
         S: a2 OK done
         S: * LIST (\\HasChildren) \".\" Old
         S: * LIST (\\HasNoChildren) \".\" OldVoicemail
         S: a3 OK done
         S: * LIST (\\HasNoChildren) \".\" INBOX
         S: * LIST (\\HasChildren) \".\" Old
         S: * LIST (\\HasNoChildren) \".\" Old.Work
         S: a4 OK done",
    ));
    assert!(p.run());
    let names = |id| match p.ok(id) {
        Outcome::List(v) => v.iter().map(|e| e.mailbox.to_string()).collect::<Vec<_>>(),
        o => panic!("{o:?}"),
    };
    assert_eq!(names(a), vec!["INBOX"]);
    assert_eq!(names(b), vec!["Old", "OldVoicemail"]);
    assert_eq!(names(c), vec!["INBOX", "Old", "Old.Work"]);
    no_failure_or_diagnostic(&p);
}

#[test]
fn pipelined_lists_answered_before_their_tags_still_route_by_pattern() {
    let mut p = logged_in(DOVECOT_CAPS);
    let a = p.conn.list("", "INBOX").unwrap();
    let b = p.conn.list("", "Old").unwrap();
    p.push(script(
        "C: a2 LIST \"\" INBOX
         C: a3 LIST \"\" Old
         S: * LIST (\\HasChildren) \".\" Old
         S: * LIST (\\HasNoChildren) \".\" INBOX
         S: a3 OK done
         S: a2 OK done",
    ));
    assert!(p.run());
    assert!(matches!(p.ok(a), Outcome::List(v) if v.len() == 1 && v[0].mailbox.is_inbox()));
    assert!(matches!(p.ok(b), Outcome::List(v) if v.len() == 1 && v[0].mailbox.as_wire() == "Old"));
}

#[test]
fn pipelined_getquotaroot_is_routed_by_mailbox_and_root() {
    let mut p = logged_in(DOVECOT_CAPS);
    let a = p.conn.get_quota_root(&MailboxName::inbox()).unwrap();
    let b = p
        .conn
        .get_quota_root(&MailboxName::from_wire("Shared").unwrap())
        .unwrap();
    p.push(script(
        "C: a2 GETQUOTAROOT INBOX
         C: a3 GETQUOTAROOT Shared
         S: * QUOTAROOT Shared \"Shared quota\"
         S: * QUOTA \"Shared quota\" (STORAGE 100 1000)
         S: * QUOTAROOT INBOX \"User quota\"
         S: * QUOTA \"User quota\" (STORAGE 16 24 MESSAGE 2 20)
         S: a3 OK done
         S: a2 OK done",
    ));
    assert!(p.run());
    let Outcome::QuotaRoots(qa) = p.ok(a) else {
        panic!()
    };
    let Outcome::QuotaRoots(qb) = p.ok(b) else {
        panic!()
    };
    assert_eq!(qa.roots, vec!["User quota"]);
    assert_eq!(qa.quotas.len(), 1);
    assert_eq!(qa.quotas[0].root, "User quota");
    assert_eq!(qa.quotas[0].resources.len(), 2);
    assert_eq!(qb.roots, vec!["Shared quota"]);
    assert_eq!(qb.quotas.len(), 1);
    assert_eq!(qb.quotas[0].root, "Shared quota");
    no_failure_or_diagnostic(&p);
}

// ------------------------------------------------------------------ EXPUNGE and VANISHED

#[test]
fn uid_expunge_takes_only_its_own_uids() {
    let mut p = selected(DOVECOT_CAPS);
    let a = p.conn.uid_expunge(&uid(1).into()).unwrap();
    let b = p.conn.uid_expunge(&uid(2).into()).unwrap();
    p.push(script(
        "C: a4 UID EXPUNGE 1
         C: a5 UID EXPUNGE 2
         S: * 4 EXPUNGE
         S: * 1 EXPUNGE
         S: * 1 EXPUNGE
         S: a4 OK Expunge completed
         S: a5 OK Expunge completed",
    ));
    assert!(p.run());
    let expunged = |id| match p.ok(id) {
        Outcome::Expunged { uids, unmapped } => (uids.clone(), *unmapped),
        o => panic!("{o:?}"),
    };
    assert_eq!(expunged(a), (uids(&[1]), 0));
    assert_eq!(expunged(b), (uids(&[2]), 0));
    assert!(
        p.events
            .contains(&Event::Unsolicited(Unsolicited::Expunged {
                uid: Uid::new(7)
            }))
    );
    assert_eq!(p.conn.exists(), Some(1));
}

#[test]
fn vanished_goes_to_the_uid_expunge_that_named_those_uids() {
    let mut p = selected(DOVECOT_CAPS);
    let a = p.conn.uid_expunge(&uid(1).into()).unwrap();
    let b = p
        .conn
        .uid_move(&uid(3).into(), &MailboxName::from_wire("Old").unwrap())
        .unwrap();
    p.push(script(
        "C: a4 UID EXPUNGE 1
         C: a5 UID MOVE 3 Old
         S: * VANISHED 7
         S: * VANISHED 3
         S: * VANISHED 1
         S: a4 OK Expunge completed
         S: a5 OK [COPYUID 5 3 9] Move completed",
    ));
    assert!(p.run());
    assert!(matches!(p.ok(a), Outcome::Expunged { uids: u, .. } if u == &uids(&[1])));
    assert!(matches!(p.ok(b), Outcome::Moved { expunged, .. } if expunged == &uids(&[3])));
    assert!(p.events.iter().any(|e| matches!(
        e,
        Event::Unsolicited(Unsolicited::Vanished { uids: s, earlier: false }) if s.to_string() == "7"
    )));
}

#[test]
fn a_flags_only_fetch_without_uid_is_a_change_even_inside_the_set() {
    // RFC 3501 6.4.8: answers to a UID command always carry UID. Dovecot reports another
    // client's flag change as `* 2 FETCH (FLAGS (..))` (no UID without QRESYNC).
    let mut p = selected(NO_ESEARCH_CAPS);
    let f = p
        .conn
        .uid_fetch(&set(&[1, 2]), &[FetchAttr::Flags])
        .unwrap();
    p.push(script(
        "C: a4 UID FETCH 1:2 (UID FLAGS)
         S: * 2 FETCH (FLAGS (\\Deleted))
         S: * 1 FETCH (UID 1 FLAGS ())
         S: * 2 FETCH (UID 2 FLAGS (\\Seen))
         S: a4 OK Fetch completed",
    ));
    assert!(p.run());
    let Outcome::Fetch(msgs) = p.ok(f) else {
        panic!()
    };
    assert_eq!(msgs[1].flags, Some(vec![Flag::Seen]));
    assert_eq!(
        unsolicited_fetches(&p),
        vec![(Some(uid(2)), Some(vec![Flag::Deleted]))]
    );
}
