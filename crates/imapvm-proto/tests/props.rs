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
    p.conn.select(&MailboxName::inbox()).unwrap();
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
        .append(&MailboxName::inbox(), &[], Arc::from(&b"hello"[..]))
        .unwrap();
    p.conn.get_quota_root(&MailboxName::inbox()).unwrap();
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

// ------------------------------------------------------------------ routing under pipelining

/// Pipelined commands of one kind whose untagged answers must be told apart: three ESEARCHes
/// answered out of order, a plain SEARCH, two UID FETCHes with disjoint sets interleaved with
/// another client's flag change, a non-silent STORE, two STATUS and two LIST.
fn routing_session() -> Vec<Step> {
    script(
        "S: * PREAUTH [CAPABILITY IMAP4rev1 ESEARCH UIDPLUS MOVE IDLE LITERAL+] Dovecot ready.
         C: a1 SELECT INBOX
         S: * 4 EXISTS
         S: * OK [UIDVALIDITY 9] ok
         S: a1 OK [READ-WRITE] Select completed
         C: a2 UID SEARCH RETURN (ALL) UNSEEN
         C: a3 UID SEARCH RETURN (ALL) FLAGGED
         C: a4 UID SEARCH RETURN (ALL) SEEN
         C: a5 UID FETCH 1:2 (UID FLAGS)
         C: a6 UID FETCH 3,7 (UID FLAGS RFC822.SIZE)
         C: a7 UID STORE 2 +FLAGS (\\Seen)
         C: a8 STATUS Old (MESSAGES)
         C: a9 STATUS Work (MESSAGES)
         C: a10 LIST \"\" Old
         C: a11 LIST \"\" Work*
         S: * ESEARCH (TAG \"a4\") UID ALL 1:2
         S: * ESEARCH (TAG \"a2\") UID ALL 3,7
         S: a4 OK Search completed
         S: * ESEARCH (TAG \"a3\") UID
         S: a2 OK Search completed
         S: a3 OK Search completed
         S: * 3 FETCH (UID 3 FLAGS () RFC822.SIZE 30)
         S: * 1 FETCH (UID 1 FLAGS (\\Seen))
         S: * 4 FETCH (UID 7 FLAGS (\\Deleted))
         S: * 4 FETCH (UID 7 FLAGS (\\Deleted) RFC822.SIZE 70)
         S: * 2 FETCH (UID 2 FLAGS (\\Seen))
         S: a5 OK Fetch completed
         S: a6 OK Fetch completed
         S: * 2 FETCH (UID 2 FLAGS (\\Seen))
         S: * 2 FETCH (UID 2 FLAGS (\\Seen \\Flagged \\Answered))
         S: a7 OK Store completed
         S: * STATUS Work (MESSAGES 2)
         S: * STATUS Old (MESSAGES 1)
         S: * LIST () \"/\" Work/Sub
         S: * LIST () \"/\" Old
         S: a8 OK done
         S: a9 OK done
         S: a10 OK done
         S: a11 OK done",
    )
}

/// The routed results of [`routing_session`], in command order, and every event.
fn run_routing(steps: Vec<Step>, splits: Vec<usize>) -> (Vec<Outcome>, Vec<Event>) {
    let mut p = Pair::new(config(), Vec::new()).with_splits(splits);
    let mut steps: std::collections::VecDeque<Step> = steps.into();
    p.push(vec![steps.pop_front().unwrap()]);
    p.run();
    let mut ids = vec![p.conn.select(&MailboxName::inbox()).unwrap()];
    p.push(steps.drain(..2).collect());
    assert!(p.run());
    let uid = |n| Uid::new(n).unwrap();
    let c = &mut p.conn;
    ids.push(c.uid_search(&[SearchKey::Unseen]).unwrap());
    ids.push(c.uid_search(&[SearchKey::Flagged]).unwrap());
    ids.push(c.uid_search(&[SearchKey::Seen]).unwrap());
    let set = |v: &[u32]| UidRange::Set(v.iter().map(|n| uid(*n)).collect());
    ids.push(c.uid_fetch(&set(&[1, 2]), &[FetchAttr::Flags]).unwrap());
    ids.push(
        c.uid_fetch(&set(&[3, 7]), &[FetchAttr::Flags, FetchAttr::Rfc822Size])
            .unwrap(),
    );
    ids.push(
        c.uid_store(&set(&[2]), StoreMode::Add, &[Flag::Seen], false)
            .unwrap(),
    );
    ids.push(
        c.status(
            &MailboxName::from_wire("Old").unwrap(),
            &[StatusAttr::Messages],
        )
        .unwrap(),
    );
    ids.push(
        c.status(
            &MailboxName::from_wire("Work").unwrap(),
            &[StatusAttr::Messages],
        )
        .unwrap(),
    );
    ids.push(c.list("", "Old").unwrap());
    ids.push(c.list("", "Work*").unwrap());
    p.push(steps.into_iter().collect());
    assert!(p.run());
    let outcomes = ids.iter().map(|id| p.ok(*id).clone()).collect();
    (outcomes, p.events)
}

#[test]
fn routing_session_gives_each_command_its_own_answers() {
    let (o, events) = run_routing(routing_session(), vec![]);
    let uids = |v: &[u32]| -> Vec<Uid> { v.iter().map(|n| Uid::new(*n).unwrap()).collect() };
    assert_eq!(o[1], Outcome::Search(uids(&[3, 7])));
    assert_eq!(o[2], Outcome::Search(vec![]));
    assert_eq!(o[3], Outcome::Search(uids(&[1, 2])));
    let Outcome::Fetch(a) = &o[4] else { panic!() };
    let Outcome::Fetch(b) = &o[5] else { panic!() };
    assert_eq!(a.iter().map(|m| m.uid).collect::<Vec<_>>(), uids(&[1, 2]));
    assert_eq!(b.iter().map(|m| m.uid).collect::<Vec<_>>(), uids(&[3, 7]));
    assert_eq!(b[1].size, Some(70));
    assert_eq!(b[1].flags, Some(vec![Flag::Deleted]));
    assert_eq!(
        o[6],
        Outcome::Store(vec![(uids(&[2])[0], vec![Flag::Seen])])
    );
    let messages = |o: &Outcome| match o {
        Outcome::Status(s) => s.messages,
        _ => None,
    };
    assert_eq!((messages(&o[7]), messages(&o[8])), (Some(1), Some(2)));
    let names = |o: &Outcome| match o {
        Outcome::List(v) => v.iter().map(|e| e.mailbox.to_string()).collect(),
        _ => Vec::new(),
    };
    assert_eq!(names(&o[9]), vec!["Old"]);
    assert_eq!(names(&o[10]), vec!["Work/Sub"]);
    // UID 7's flag-only FETCH gave a6 its FLAGS; the full one after it still brought the size.
    // The STORE's second FETCH of UID 2 repeats what it already had: a later change.
    let unsolicited: Vec<_> = events
        .iter()
        .filter(|e| matches!(e, Event::Unsolicited(Unsolicited::Fetch { .. })))
        .collect();
    assert_eq!(
        unsolicited,
        vec![&Event::Unsolicited(Unsolicited::Fetch {
            uid: Uid::new(2),
            flags: Some(vec![Flag::Seen, Flag::Flagged, Flag::Answered]),
            modseq: None,
        })]
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
    fn routing_is_the_same_however_the_bytes_are_split(splits in proptest::collection::vec(1usize..40, 1..20)) {
        let baseline = run_routing(routing_session(), vec![]);
        prop_assert_eq!(run_routing(routing_session(), splits.clone()), baseline.clone());
        prop_assert_eq!(run_routing(coalesce(&routing_session()), splits), baseline);
    }

    /// k pipelined searches with arbitrary results: with ESEARCH answered in any order, and
    /// without ESEARCH answered in command order, each command gets exactly its own UIDs.
    #[test]
    fn pipelined_searches_get_their_own_results(
        results in proptest::collection::vec(proptest::collection::btree_set(1u32..60, 0..8), 1..6),
        order in Just(()).prop_perturb(|_, mut rng| rng.random::<u64>()),
        esearch in any::<bool>(),
        splits in proptest::collection::vec(1usize..30, 0..6),
    ) {
        let caps = if esearch { "IMAP4rev1 ESEARCH" } else { "IMAP4rev1" };
        let mut p = Pair::new(config(), script(&format!("S: * PREAUTH [CAPABILITY {caps}] hi")))
            .with_splits(splits);
        p.run();
        p.conn.select(&MailboxName::inbox()).unwrap();
        let ids: Vec<CommandId> = results
            .iter()
            .map(|_| p.conn.uid_search(&[SearchKey::All]).unwrap())
            .collect();
        let mut text = String::from("C: a1 SELECT INBOX\n");
        let ret = if esearch { "RETURN (ALL) " } else { "" };
        for i in 0..results.len() {
            text.push_str(&format!("C: a{} UID SEARCH {ret}ALL\n", i + 2));
        }
        text.push_str("S: a1 OK [READ-WRITE] ok\n");
        // ESEARCH answers come in a pseudo-random order; plain SEARCH answers in order.
        let mut idx: Vec<usize> = (0..results.len()).collect();
        if esearch {
            let mut x = order | 1;
            for i in (1..idx.len()).rev() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                idx.swap(i, (x % (i as u64 + 1)) as usize);
            }
        }
        for &i in &idx {
            let set: Vec<String> = results[i].iter().map(u32::to_string).collect();
            if esearch {
                let all = if set.is_empty() { String::new() } else { format!(" ALL {}", set.join(",")) };
                text.push_str(&format!("S: * ESEARCH (TAG \"a{}\") UID{all}\n", i + 2));
            } else {
                text.push_str(&format!("S: * SEARCH {}\n", set.join(" ")).replace(" \n", "\n"));
            }
        }
        for &i in &idx {
            text.push_str(&format!("S: a{} OK done\n", i + 2));
        }
        p.push(script(&text));
        prop_assert!(p.run());
        for (id, want) in ids.iter().zip(&results) {
            let want: Vec<Uid> = want.iter().map(|n| Uid::new(*n).unwrap()).collect();
            prop_assert_eq!(p.ok(*id), &Outcome::Search(want));
        }
    }

    /// UIDs split among pipelined UID FETCHes (disjoint sets), answered interleaved, with flag
    /// changes for UIDs outside every set mixed in: each FETCH gets exactly its UIDs and every
    /// foreign change comes out as an unsolicited event.
    #[test]
    fn pipelined_fetches_are_routed_by_uid(
        owner in proptest::collection::vec(0usize..3, 1..12),
        foreign in proptest::collection::btree_set(100u32..120, 0..5),
        order in Just(()).prop_perturb(|_, mut rng| rng.random::<u64>()),
    ) {
        let mut p = Pair::new(config(), script("S: * PREAUTH [CAPABILITY IMAP4rev1] hi"));
        p.run();
        p.conn.select(&MailboxName::inbox()).unwrap();
        // UID i+1 belongs to fetch owner[i]; sequence number = UID (foreign ones above EXISTS).
        let sets: Vec<Vec<u32>> = (0..3)
            .map(|k| (1..=owner.len() as u32).filter(|u| owner[*u as usize - 1] == k).collect())
            .collect();
        let mut ids = Vec::new();
        let mut text = String::from("C: a1 SELECT INBOX\n");
        let mut tag = 2;
        for s in &sets {
            let set: UidSet = s.iter().map(|n| Uid::new(*n).unwrap()).collect();
            if set.is_empty() {
                ids.push(None);
                continue;
            }
            text.push_str(&format!("C: a{tag} UID FETCH {set} (UID FLAGS)\n"));
            ids.push(Some((tag, p.conn.uid_fetch(&UidRange::Set(set), &[FetchAttr::Flags]).unwrap())));
            tag += 1;
        }
        text.push_str(&format!("S: * {} EXISTS\nS: a1 OK [READ-WRITE] ok\n", owner.len() + 20));
        let mut lines: Vec<String> = (1..=owner.len())
            .map(|u| format!("S: * {u} FETCH (UID {u} FLAGS ())"))
            .chain(foreign.iter().map(|u| format!("S: * {} FETCH (UID {u} FLAGS (\\Seen))", u - 99 + owner.len() as u32)))
            .collect();
        let mut x = order | 1;
        for i in (1..lines.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            lines.swap(i, (x % (i as u64 + 1)) as usize);
        }
        for l in &lines {
            text.push_str(l);
            text.push('\n');
        }
        for (t, _) in ids.iter().flatten() {
            text.push_str(&format!("S: a{t} OK done\n"));
        }
        p.push(script(&text));
        prop_assert!(p.run());
        for (want, id) in sets.iter().zip(&ids) {
            let Some((_, id)) = id else { continue };
            let Outcome::Fetch(got) = p.ok(*id) else { panic!() };
            let got: Vec<u32> = got.iter().map(|m| m.uid.get()).collect();
            prop_assert_eq!(&got, want);
        }
        let unsolicited: Vec<u32> = p
            .events
            .iter()
            .filter_map(|e| match e {
                Event::Unsolicited(Unsolicited::Fetch { uid: Some(u), .. }) => Some(u.get()),
                _ => None,
            })
            .collect();
        let mut sorted = unsolicited.clone();
        sorted.sort();
        prop_assert_eq!(sorted, foreign.iter().copied().collect::<Vec<_>>());
    }
}

/// A selected INBOX over a LITERAL+ server, input split by `splits`.
fn selected(splits: Vec<usize>) -> Pair {
    let mut p = crate::support::logged_in("IMAP4rev1 LITERAL+ UIDPLUS").with_splits(splits);
    p.conn.select(&MailboxName::inbox()).unwrap();
    p.push(script(
        "C: a2 SELECT INBOX
         S: * 2 EXISTS
         S: * OK [UIDVALIDITY 7] ok
         S: a2 OK [READ-WRITE] done",
    ));
    assert!(p.run());
    p
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Literal contents are opaque: any bytes (NUL included) in two FETCH literals, the
    /// second followed by more items, come back exactly, however the input is split.
    #[test]
    fn fetch_literals_with_any_bytes_come_back_exactly(
        a in proptest::collection::vec(any::<u8>(), 0..200),
        b in proptest::collection::vec(prop_oneof![Just(0u8), any::<u8>()], 0..200),
        splits in proptest::collection::vec(1usize..40, 0..8),
    ) {
        let mut p = selected(splits);
        let id = p.conn.uid_fetch(&UidRange::All, &[FetchAttr::Part(vec![1])]).unwrap();
        let mut server = b"* 1 FETCH (UID 1 BODY[1] {".to_vec();
        server.extend_from_slice(format!("{}}}\r\n", a.len()).as_bytes());
        server.extend_from_slice(&a);
        server.extend_from_slice(b")\r\n* 2 FETCH (UID 2 BODY[1] {");
        server.extend_from_slice(format!("{}}}\r\n", b.len()).as_bytes());
        server.extend_from_slice(&b);
        server.extend_from_slice(b" FLAGS (\\Seen))\r\na3 OK done\r\n");
        let mut steps = script("C: a3 UID FETCH 1:* (UID BODY.PEEK[1])");
        steps.push(Step::Send(server));
        p.push(steps);
        prop_assert!(p.run());
        let Outcome::Fetch(msgs) = p.ok(id) else { panic!("{:?}", p.result(id)) };
        prop_assert_eq!(msgs.len(), 2);
        prop_assert_eq!(msgs[0].part(&[1]), Some(&a[..]));
        prop_assert_eq!(msgs[1].part(&[1]), Some(&b[..]));
        prop_assert!(!p.events.iter().any(|e| matches!(e, Event::Diagnostic(_))));
    }

    /// The date-time `append_dated` writes is the instant asked for: read back as an
    /// INTERNALDATE by imap-codec (chrono), it gives the same Unix seconds at +0000.
    #[test]
    fn append_dated_writes_the_instant_it_was_given(secs in 0i64..=253_402_300_799) {
        let mut p = selected(Vec::new());
        p.strict = false;
        let id = p
            .conn
            .append_dated(&MailboxName::inbox(), &[], Some(secs), Arc::from(&b"x"[..]))
            .unwrap();
        p.push(script("C: a3 APPEND\nS: a3 OK done"));
        prop_assert!(p.run());
        prop_assert_eq!(p.ok(id), &Outcome::Appended(None));
        let line = String::from_utf8(p.all_written.clone()).unwrap();
        let line = line.lines().find(|l| l.starts_with("a3 APPEND")).unwrap().to_owned();
        let quoted = line.split('"').nth(1).unwrap().to_owned();
        prop_assert_eq!(quoted.len(), 26, "{}", line);
        prop_assert!(line.ends_with("\" {1+}"), "{}", line);
        let fetch = p.conn.uid_fetch(&UidRange::All, &[FetchAttr::InternalDate]).unwrap();
        p.push(script(&format!(
            "C: a4 UID FETCH
             S: * 1 FETCH (UID 1 INTERNALDATE \"{quoted}\")
             S: a4 OK done"
        )));
        prop_assert!(p.run());
        let Outcome::Fetch(msgs) = p.ok(fetch) else { panic!("{:?}", p.result(fetch)) };
        prop_assert_eq!(
            msgs[0].internal_date,
            Some(InternalDate { unix_seconds: secs, offset_seconds: 0 })
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Section literals large enough to be kept away from imap-codec (elided) come back
    /// exactly, NUL included, next to small ones with NUL, in one response or several,
    /// however the input is split.
    #[test]
    fn large_fetch_sections_come_back_exactly(
        big in proptest::collection::vec(prop_oneof![Just(0u8), any::<u8>()], 4090..6000),
        small in proptest::collection::vec(prop_oneof![Just(0u8), any::<u8>()], 0..40),
        other in proptest::collection::vec(any::<u8>(), 4096..4200),
        big_first in any::<bool>(),
        splits in proptest::collection::vec(1usize..5000, 0..8),
    ) {
        let mut p = selected(splits);
        let id = p
            .conn
            .uid_fetch(&UidRange::All, &[FetchAttr::Part(vec![1]), FetchAttr::Part(vec![2])])
            .unwrap();
        let (first, second) = if big_first { (&big, &small) } else { (&small, &big) };
        let mut server = b"* 1 FETCH (UID 1 BODY[1] {".to_vec();
        server.extend_from_slice(format!("{}}}\r\n", first.len()).as_bytes());
        server.extend_from_slice(first);
        server.extend_from_slice(b" BODY[2] {");
        server.extend_from_slice(format!("{}+}}\r\n", second.len()).as_bytes());
        server.extend_from_slice(second);
        server.extend_from_slice(b" FLAGS (\\Seen))\r\n* 2 FETCH (UID 2 BODY[1] {");
        server.extend_from_slice(format!("{}}}\r\n", other.len()).as_bytes());
        server.extend_from_slice(&other);
        server.extend_from_slice(b" BODY[2] {0}\r\n)\r\na3 OK done\r\n");
        let mut steps = script("C: a3 UID FETCH 1:* (UID BODY.PEEK[1] BODY.PEEK[2])");
        steps.push(Step::Send(server));
        p.push(steps);
        prop_assert!(p.run());
        let Outcome::Fetch(msgs) = p.ok(id) else { panic!("{:?}", p.result(id)) };
        prop_assert_eq!(msgs.len(), 2);
        prop_assert_eq!(msgs[0].part(&[1]), Some(&first[..]));
        prop_assert_eq!(msgs[0].part(&[2]), Some(&second[..]));
        prop_assert_eq!(msgs[0].flags.as_deref(), None);
        prop_assert_eq!(msgs[1].part(&[1]), Some(&other[..]));
        prop_assert_eq!(msgs[1].part(&[2]), Some(&b""[..]));
        prop_assert!(!p.events.iter().any(|e| matches!(e, Event::Diagnostic(_))));
    }
}
