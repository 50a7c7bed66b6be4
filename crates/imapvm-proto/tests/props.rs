//! proptest: a transcript gives the same events however the server bytes are split or coalesced.

use crate::support::{Pair, Step, coalesce, config, script};
use imapvm_proto::*;
use proptest::prelude::*;
use std::sync::Arc;

/// A session touching most response kinds: greeting, auth, select, pipelined search+fetch with
/// literals, sync APPEND with NO instead of `+`, quota, IDLE, unsolicited data, logout.
fn session() -> Vec<Step> {
    script(
        "S: * OK [CAPABILITY IMAP4rev1 SASL-IR IDLE UIDPLUS MOVE QUOTA AUTH=PLAIN] Dovecot ready.
         C: a1 AUTHENTICATE PLAIN YWxpY2UAdm1tYXN0ZXIAcHc=
         S: a1 OK Logged in
         C: a2 SELECT INBOX
         S: * FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)
         S: * OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted.
         S: * 3 EXISTS
         S: * 0 RECENT
         S: * OK [UIDVALIDITY 1795674092] UIDs valid
         S: * OK [UIDNEXT 4] Predicted next UID
         S: a2 OK [READ-WRITE] Select completed
         C: a3 UID SEARCH UNDELETED HEADER X-Asterisk-VM-Extension 1234
         C: a4 UID FETCH 1:* (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (X-Asterisk-VM-Message-Num)])
         S: * SEARCH 1 2 3
         S: a3 OK Search completed
         S: * 1 FETCH (UID 1 FLAGS (\\Seen) RFC822.SIZE 7206 BODY[HEADER.FIELDS (X-ASTERISK-VM-MESSAGE-NUM)] {30}
         S: X-Asterisk-VM-Message-Num: 1
         S: )
         S: * 2 FETCH (UID 2 FLAGS () RFC822.SIZE 4919 BODY[HEADER.FIELDS (X-ASTERISK-VM-MESSAGE-NUM)] {30}
         S: X-Asterisk-VM-Message-Num: 2
         S: )
         S: * 3 FETCH (UID 3 FLAGS (\\Flagged) RFC822.SIZE 6052 BODY[HEADER.FIELDS (X-ASTERISK-VM-MESSAGE-NUM)] {2}
         S: 
         S: )
         S: a4 OK Fetch completed
         C: a5 APPEND INBOX {5}
         S: a5 NO [OVERQUOTA] Quota exceeded
         C: a6 GETQUOTAROOT INBOX
         S: * QUOTAROOT INBOX \"User quota\"
         S: * QUOTA \"User quota\" (STORAGE 16 24 MESSAGE 2 20)
         S: a6 OK Getquotaroot completed
         C: a7 IDLE
         S: + idling
         S: * 4 EXISTS
         S: * 1 EXPUNGE
         S: * 2 FETCH (FLAGS (\\Seen))
         S: * OK [ALERT] maintenance soon
         C: DONE
         S: a7 OK Idle completed
         C: a8 LOGOUT
         S: * BYE Logging out
         S: a8 OK Logout completed",
    )
}

/// Run the session with the given splits; commands are issued at the points the script needs them.
fn run(steps: Vec<Step>, splits: Vec<usize>) -> Vec<Event> {
    let mut p = Pair::new(config(), Vec::new()).with_splits(splits);
    let mut steps: std::collections::VecDeque<Step> = steps.into();
    // Greeting.
    p.push(vec![steps.pop_front().unwrap()]);
    p.run();
    p.conn
        .authenticate_plain(Some("alice"), "vmmaster", &Secret::new("pw"))
        .unwrap();
    let take = |steps: &mut std::collections::VecDeque<Step>, n: usize| -> Vec<Step> {
        steps.drain(..n).collect()
    };
    p.push(take(&mut steps, 2));
    assert!(p.run());
    p.conn.select(&Mailbox::new("INBOX")).unwrap();
    p.push(take(&mut steps, 2));
    assert!(p.run());
    p.conn
        .uid_search(&[
            SearchKey::Undeleted,
            SearchKey::Header("X-Asterisk-VM-Extension".into(), "1234".into()),
        ])
        .unwrap();
    p.conn
        .uid_fetch(
            &UidRange::All,
            &[
                FetchAttr::Flags,
                FetchAttr::Rfc822Size,
                FetchAttr::HeaderFields(vec!["X-Asterisk-VM-Message-Num".into()]),
            ],
        )
        .unwrap();
    p.push(take(&mut steps, 2));
    assert!(p.run());
    p.conn
        .append(&Mailbox::new("INBOX"), &[], Arc::from(&b"hello"[..]))
        .unwrap();
    p.conn.get_quota_root(&Mailbox::new("INBOX")).unwrap();
    p.push(take(&mut steps, 4));
    assert!(p.run());
    p.conn.idle().unwrap();
    p.push(take(&mut steps, 2));
    assert!(p.run());
    p.conn.idle_done(p.now).unwrap();
    p.push(take(&mut steps, 2));
    assert!(p.run());
    p.conn.logout().unwrap();
    p.push(steps.into_iter().collect());
    assert!(p.run());
    p.events
}

fn session_steps(coalesced: bool) -> Vec<Step> {
    let steps = session();
    if coalesced { coalesce(&steps) } else { steps }
}

#[test]
fn baseline_session_has_the_expected_shape() {
    let events = run(session_steps(false), vec![]);
    let completed = events
        .iter()
        .filter(|e| matches!(e, Event::Completed { .. }))
        .count();
    assert_eq!(completed, 8);
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::Failed(_) | Event::Diagnostic(_)))
    );
    assert!(events.iter().any(|e| matches!(
        e,
        Event::Completed { result: Err(Error::Refused(r)), .. } if r.before_literal
    )));
}

#[test]
fn one_byte_at_a_time_gives_the_same_events() {
    assert_eq!(
        run(session_steps(false), vec![1]),
        run(session_steps(false), vec![])
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_splits_give_the_same_events(splits in proptest::collection::vec(1usize..40, 1..20)) {
        let baseline = run(session_steps(false), vec![]);
        prop_assert_eq!(run(session_steps(false), splits.clone()), baseline.clone());
        prop_assert_eq!(run(session_steps(true), splits), baseline);
    }
}
