//! Scripted-server transcripts: each command's wire form and typed outcome, pipelining and round trips.

use crate::support::{Pair, Step, config, logged_in, script};
use imapvm_proto::*;
use std::sync::Arc;
use std::time::Duration;

const DOVECOT_CAPS: &str = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE SAVEDATE LITERAL+ NOTIFY SPECIAL-USE QUOTA";

fn uid(n: u32) -> Uid {
    Uid::new(n).unwrap()
}

fn selected_inbox() -> Pair {
    let mut p = logged_in(DOVECOT_CAPS);
    let id = p.conn.select(&MailboxName::inbox()).unwrap();
    p.push(script(
        "C: a2 SELECT INBOX
         S: * FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)
         S: * OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted.
         S: * 3 EXISTS
         S: * 0 RECENT
         S: * OK [UNSEEN 1] First unseen.
         S: * OK [UIDVALIDITY 1795674092] UIDs valid
         S: * OK [UIDNEXT 4] Predicted next UID
         S: * OK [HIGHESTMODSEQ 7] Highest
         S: a2 OK [READ-WRITE] Select completed (0.001 + 0.000 secs).",
    ));
    assert!(p.run());
    let Outcome::Selected(sel) = p.ok(id) else {
        panic!("not selected")
    };
    assert_eq!(sel.exists, 3);
    assert_eq!(sel.uid_validity, UidValidity::new(1795674092));
    assert_eq!(sel.uid_next, Uid::new(4));
    assert_eq!(sel.highest_modseq, Some(7));
    assert!(!sel.read_only);
    assert_eq!(sel.flags.len(), 5);
    assert!(sel.permanent_flags.contains(&Flag::Other("\\*".into())));
    assert_eq!(p.conn.state(), State::Selected { read_only: false });
    p.events.clear();
    p
}

#[test]
fn greeting_capabilities_then_authenticate_plain_with_authzid_uses_sasl_ir() {
    let mut p = Pair::new(
        config(),
        script(
            "S: * OK [CAPABILITY IMAP4rev1 SASL-IR LITERAL+ AUTH=PLAIN AUTH=LOGIN] Dovecot (Debian) ready.",
        ),
    );
    p.run();
    assert_eq!(p.events, vec![Event::Greeting(Greeting::Ok)]);
    assert!(p.conn.capabilities().unwrap().contains(Capability::SaslIr));
    let id = p
        .conn
        .authenticate_plain(Some("alice"), "vmmaster", &Secret::new("masterpw"))
        .unwrap();
    p.push(script(&format!(
        "C: a1 AUTHENTICATE PLAIN YWxpY2UAdm1tYXN0ZXIAbWFzdGVycHc=
         S: a1 OK [CAPABILITY {DOVECOT_CAPS}] Logged in"
    )));
    assert!(p.run());
    assert_eq!(
        p.ok(id),
        &Outcome::Authenticated {
            capabilities_known: true
        }
    );
    assert_eq!(p.conn.state(), State::Authenticated);
    assert!(p.conn.capabilities().unwrap().has("notify"));
    assert!(p.conn.capabilities().unwrap().contains(Capability::UidPlus));
}

#[test]
fn authenticate_without_sasl_ir_waits_for_continuation() {
    let mut p = Pair::new(
        config(),
        script("S: * OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready"),
    );
    p.run();
    let id = p
        .conn
        .authenticate_plain(None, "alice", &Secret::new("pw"))
        .unwrap();
    p.push(script(
        "C: a1 AUTHENTICATE PLAIN
         S: +
         C: AGFsaWNlAHB3
         S: a1 OK Logged in",
    ));
    assert!(p.run());
    // Without a CAPABILITY code the capabilities are forgotten and must be re-read.
    assert_eq!(
        p.ok(id),
        &Outcome::Authenticated {
            capabilities_known: false
        }
    );
    assert!(p.conn.capabilities().is_none());
    assert_eq!(p.conn.stats().round_trips, 2);
}

#[test]
fn authentication_failure_is_a_refusal_with_its_code() {
    let mut p = Pair::new(config(), script("S: * OK ready"));
    p.run();
    let id = p.conn.login("alice", &Secret::new("wrong")).unwrap();
    p.push(script(
        "C: a1 LOGIN alice wrong
         S: a1 NO [AUTHENTICATIONFAILED] Authentication failed.",
    ));
    assert!(p.run());
    let err = p.err(id);
    assert_eq!(
        err.refusal_code(),
        Some(&ResponseCode::AuthenticationFailed)
    );
    assert!(!err.is_fatal());
}

#[test]
fn logindisabled_is_respected() {
    let mut p = Pair::new(
        config(),
        script("S: * OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED AUTH=PLAIN] ready"),
    );
    p.run();
    assert_eq!(
        p.conn.login("alice", &Secret::new("pw")),
        Err(Error::Misuse(Misuse::LoginDisabled))
    );
}

#[test]
fn credentials_never_show_in_debug_or_traces() {
    let mut p = Pair::new(config(), script("S: * OK ready"));
    p.run();
    let secret = Secret::new("hunter2-very-secret");
    p.conn.login("alice", &secret).unwrap();
    let queued = format!("{:?}", p.conn);
    assert!(!queued.contains("hunter2"), "queued LOGIN leaks in Debug");
    let t = p.conn.poll_transmit(p.now).unwrap();
    assert!(String::from_utf8_lossy(t.as_bytes()).contains("hunter2-very-secret"));
    assert_eq!(t.trace(), "a1 LOGIN ***");
    assert!(!format!("{t:?}").contains("hunter2"));
    assert_eq!(format!("{secret:?}"), "***");
    assert_eq!(format!("{secret}"), "***");
    let dbg = format!("{:?}", p.conn);
    assert!(
        !dbg.contains("hunter2"),
        "Connection Debug leaks the password"
    );
}

#[test]
fn starttls_hands_off_and_forgets_capabilities() {
    let mut p = Pair::new(
        config(),
        script("S: * OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready"),
    );
    p.run();
    let id = p.conn.starttls().unwrap();
    p.push(script(
        "C: a1 STARTTLS\nS: a1 OK Begin TLS negotiation now.",
    ));
    assert!(p.run());
    assert_eq!(p.ok(id), &Outcome::UpgradeNow);
    assert_eq!(p.conn.state(), State::UpgradePending);
    assert!(p.conn.capabilities().is_none());
    assert!(p.conn.poll_transmit(p.now).is_none());
    p.conn.tls_established().unwrap();
    let caps = p.conn.capability().unwrap();
    p.push(script(
        "C: a2 CAPABILITY
         S: * CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR
         S: a2 OK done",
    ));
    assert!(p.run());
    assert!(matches!(p.ok(caps), Outcome::Capabilities(c) if c.has("AUTH=PLAIN")));
    assert!(
        !p.conn
            .capabilities()
            .unwrap()
            .contains(Capability::LoginDisabled)
    );
}

#[test]
fn select_reports_uidvalidity_uidnext_exists_permanentflags_highestmodseq() {
    let p = selected_inbox();
    assert_eq!(p.conn.exists(), Some(3));
}

#[test]
fn examine_is_read_only() {
    let mut p = logged_in(DOVECOT_CAPS);
    let id = p
        .conn
        .examine(&MailboxName::from_wire("Old").unwrap())
        .unwrap();
    p.push(script(
        "C: a2 EXAMINE Old
         S: * 0 EXISTS
         S: * OK [UIDVALIDITY 5] ok
         S: a2 OK [READ-ONLY] Examine completed",
    ));
    assert!(p.run());
    assert!(matches!(p.ok(id), Outcome::Selected(s) if s.read_only && s.exists == 0));
    assert_eq!(p.conn.state(), State::Selected { read_only: true });
}

#[test]
fn pipelined_search_and_fetch_cost_one_round_trip() {
    let mut p = selected_inbox();
    let before = p.conn.stats().round_trips;
    let search = p
        .conn
        .uid_search(&[
            SearchKey::Undeleted,
            SearchKey::Header("X-Asterisk-VM-Extension".into(), "1234".into()),
        ])
        .unwrap();
    let fetch = p
        .conn
        .uid_fetch(
            &UidRange::All,
            &[
                FetchAttr::Flags,
                FetchAttr::Rfc822Size,
                FetchAttr::InternalDate,
                FetchAttr::HeaderFields(vec!["X-Asterisk-VM-Message-Num".into()]),
            ],
        )
        .unwrap();
    p.push(script(
        "C: a3 UID SEARCH RETURN (ALL) UNDELETED HEADER X-Asterisk-VM-Extension 1234
         C: a4 UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS (X-Asterisk-VM-Message-Num)])
         S: * ESEARCH (TAG \"a3\") UID ALL 3,1
         S: a3 OK Search completed
         S: * 1 FETCH (UID 1 FLAGS (\\Seen) RFC822.SIZE 7206 INTERNALDATE \"26-Nov-2026 06:21:59 +0000\" BODY[HEADER.FIELDS (X-ASTERISK-VM-MESSAGE-NUM)] {30}
         S: X-Asterisk-VM-Message-Num: 1
         S: )
         S: * 3 FETCH (UID 3 FLAGS () RFC822.SIZE 6052 INTERNALDATE \"26-Nov-2026 06:22:18 +0100\" BODY[HEADER.FIELDS (X-ASTERISK-VM-MESSAGE-NUM)] {2}
         S: 
         S: )
         S: a4 OK Fetch completed",
    ));
    assert!(p.run());
    assert_eq!(p.conn.stats().round_trips - before, 1);
    assert_eq!(p.ok(search), &Outcome::Search(vec![uid(1), uid(3)]));
    let Outcome::Fetch(msgs) = p.ok(fetch) else {
        panic!()
    };
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0].uid, uid(1));
    assert_eq!(msgs[0].flags, Some(vec![Flag::Seen]));
    assert_eq!(msgs[0].size, Some(7206));
    assert_eq!(
        msgs[0].header_fields(),
        Some(&b"X-Asterisk-VM-Message-Num: 1\r\n"[..])
    );
    assert_eq!(
        msgs[0].internal_date,
        Some(InternalDate {
            unix_seconds: 1795674119,
            offset_seconds: 0
        })
    );
    assert_eq!(msgs[1].internal_date.map(|d| d.offset_seconds), Some(3600));
    assert_eq!(msgs[1].header_fields(), Some(&b"\r\n"[..]));
}

#[test]
fn a_saved_search_and_the_fetch_of_its_result_go_in_one_flight() {
    let mut p = selected_inbox();
    let before = p.conn.stats().round_trips;
    // A plain search in the same flight keeps its untagged answer: the saving one has none.
    let search = p
        .conn
        .uid_search_save(&[
            SearchKey::Uid(UidSet::range(uid(2), Uid::MAX)),
            SearchKey::Header("X-Asterisk-VM-Extension".into(), "1234".into()),
        ])
        .unwrap();
    let fetch = p
        .conn
        .uid_fetch_saved(&[
            FetchAttr::Flags,
            FetchAttr::HeaderFields(vec!["X-Asterisk-VM-Extension".into()]),
        ])
        .unwrap();
    p.push(script(
        "C: a3 UID SEARCH RETURN (SAVE) UID 2:* HEADER X-Asterisk-VM-Extension 1234
         C: a4 UID FETCH $ (UID FLAGS BODY.PEEK[HEADER.FIELDS (X-Asterisk-VM-Extension)])
         S: a3 OK Search completed
         S: * 3 FETCH (UID 3 FLAGS (\\Seen) BODY[HEADER.FIELDS (X-ASTERISK-VM-EXTENSION)] {31}
         S: X-Asterisk-VM-Extension: 1234
         S: )
         S: a4 OK Fetch completed",
    ));
    assert!(p.run());
    assert_eq!(p.conn.stats().round_trips - before, 1);
    assert_eq!(p.ok(search), &Outcome::Search(vec![]));
    let Outcome::Fetch(msgs) = p.ok(fetch) else {
        panic!()
    };
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].uid, uid(3));
    assert_eq!(msgs[0].flags, Some(vec![Flag::Seen]));
}

#[test]
fn a_saved_search_leaves_untagged_answers_to_the_plain_search_beside_it() {
    let mut p = logged_in("IMAP4rev1 SEARCHRES");
    p.conn.select(&MailboxName::inbox()).unwrap();
    p.push(script(
        "C: a2 SELECT INBOX
         S: * 3 EXISTS
         S: * OK [UIDVALIDITY 5] ok
         S: a2 OK [READ-WRITE] done",
    ));
    assert!(p.run());
    let saved = p.conn.uid_search_save(&[SearchKey::Seen]).unwrap();
    let plain = p.conn.uid_search(&[SearchKey::Unseen]).unwrap();
    p.push(script(
        "C: a3 UID SEARCH RETURN (SAVE) SEEN
         C: a4 UID SEARCH UNSEEN
         S: a3 OK saved
         S: * SEARCH 2 3
         S: a4 OK done",
    ));
    assert!(p.run());
    assert_eq!(p.ok(saved), &Outcome::Search(vec![]));
    assert_eq!(p.ok(plain), &Outcome::Search(vec![uid(2), uid(3)]));
}

#[test]
fn searchres_is_not_used_where_the_server_lacks_it() {
    let mut p = logged_in("IMAP4rev1 ESEARCH");
    p.conn.select(&MailboxName::inbox()).unwrap();
    for result in [
        p.conn.uid_search_save(&[SearchKey::Seen]),
        p.conn.uid_fetch_saved(&[FetchAttr::Flags]),
    ] {
        assert!(
            matches!(
                result,
                Err(Error::Misuse(Misuse::MissingCapability {
                    capability: "SEARCHRES",
                    ..
                }))
            ),
            "{result:?}"
        );
    }
}

#[test]
fn fetch_body_part_and_bodystructure() {
    let mut p = selected_inbox();
    let id = p
        .conn
        .uid_fetch(
            &UidRange::Set(UidSet::single(uid(2))),
            &[FetchAttr::Part(vec![2]), FetchAttr::BodyStructure],
        )
        .unwrap();
    p.push(script(
        "C: a3 UID FETCH 2 (UID BODY.PEEK[2] BODYSTRUCTURE)
         S: * 2 FETCH (UID 2 BODY[2] {8}
         S: UklGRg==)
         S: * 2 FETCH (UID 2 BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"ISO-8859-1\") NIL NIL \"8bit\" 10 1 NIL NIL NIL NIL)(\"audio\" \"x-wav\" (\"name\" \"msg0000.wav\") NIL \"Voicemail sound attachment.\" \"base64\" 8 NIL (\"attachment\" (\"filename\" \"msg0000.wav\")) NIL NIL) \"mixed\" (\"boundary\" \"b\") NIL NIL NIL))
         S: a3 OK done",
    ));
    assert!(p.run());
    let Outcome::Fetch(msgs) = p.ok(id) else {
        panic!()
    };
    assert_eq!(msgs.len(), 1, "two FETCH responses for one UID are merged");
    assert_eq!(msgs[0].part(&[2]), Some(&b"UklGRg=="[..]));
    assert!(msgs[0].body_structure.is_some());
}

/// `BINARY.PEEK[n]` (RFC 3516) with `BODY.PEEK[HEADER]` and `BODY.PEEK[n.MIME]`: a literal8
/// holding NUL bytes comes back exactly, large (kept away from imap-codec) or small (NUL
/// stood in for while decoding), and a missing part is an empty literal.
#[test]
fn fetch_binary_parts_with_their_mime_headers() {
    let mut p = selected_inbox();
    let attrs = [
        FetchAttr::Header,
        FetchAttr::Mime(vec![2]),
        FetchAttr::Binary(vec![2]),
        FetchAttr::Mime(vec![3]),
        FetchAttr::Binary(vec![3]),
        FetchAttr::Binary(vec![1]),
    ];
    let id = p
        .conn
        .uid_fetch(&UidRange::Set(UidSet::single(uid(2))), &attrs)
        .unwrap();
    p.push(script(
        "C: a3 UID FETCH 2 (UID BODY.PEEK[HEADER] BODY.PEEK[2.MIME] BINARY.PEEK[2] BODY.PEEK[3.MIME] BINARY.PEEK[3] BINARY.PEEK[1])",
    ));
    assert!(p.run());
    let large: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    let small = b"RIFF\0\0\x01";
    let mime = b"Content-Type: audio/x-WAV\r\nContent-Transfer-Encoding: base64\r\n\r\n";
    let mut reply = b"* 2 FETCH (UID 2 BODY[HEADER] {11}\r\nSubject: x\n".to_vec();
    reply.extend_from_slice(format!(" BODY[2.MIME] {{{}}}\r\n", mime.len()).as_bytes());
    reply.extend_from_slice(mime);
    reply.extend_from_slice(format!(" BINARY[2] ~{{{}}}\r\n", large.len()).as_bytes());
    reply.extend_from_slice(&large);
    reply.extend_from_slice(b" BODY[3.MIME] {0}\r\n BINARY[3] {0}\r\n");
    reply.extend_from_slice(format!(" BINARY[1] ~{{{}}}\r\n", small.len()).as_bytes());
    reply.extend_from_slice(small);
    reply.extend_from_slice(b")\r\na3 OK Fetch completed.\r\n");
    p.push(vec![Step::Send(reply)]);
    assert!(p.run());
    let Outcome::Fetch(msgs) = p.ok(id) else {
        panic!("not a fetch")
    };
    assert_eq!(msgs.len(), 1);
    let m = &msgs[0];
    assert_eq!(m.header(), Some(&b"Subject: x\n"[..]));
    assert_eq!(m.mime(&[2]), Some(&mime[..]));
    assert_eq!(m.binary(&[2]), Some(&large[..]));
    assert_eq!(m.mime(&[3]), Some(&b""[..]));
    assert_eq!(m.binary(&[3]), Some(&b""[..]));
    assert_eq!(m.binary(&[1]), Some(&small[..]));
    assert_eq!(m.part(&[2]), None);
}

/// A part the server cannot decode: Dovecot sends the message's UID alone, then NO
/// `[UNKNOWN-CTE]`; the command is refused with that code and the connection goes on.
#[test]
fn binary_of_an_unknown_transfer_encoding_is_refused_with_its_code() {
    let mut p = selected_inbox();
    let id = p
        .conn
        .uid_fetch(
            &UidRange::Set(UidSet::single(uid(2))),
            &[FetchAttr::Flags, FetchAttr::Binary(vec![2])],
        )
        .unwrap();
    p.push(script(
        "C: a3 UID FETCH 2 (UID FLAGS BINARY.PEEK[2])
         S: * 2 FETCH (UID 2)
         S: a3 NO [UNKNOWN-CTE] Unknown Content-Transfer-Encoding (0.001 + 0.000 secs).",
    ));
    assert!(p.run());
    let Error::Refused(r) = p.err(id) else {
        panic!("not refused")
    };
    assert_eq!(r.code, Some(ResponseCode::Other("UNKNOWN-CTE".into())));
    assert_eq!(p.conn.state(), State::Selected { read_only: false });
}

#[test]
fn append_with_literal_plus_is_one_round_trip_and_returns_appenduid() {
    let mut p = logged_in(DOVECOT_CAPS);
    let before = p.conn.stats().round_trips;
    let msg: Arc<[u8]> = Arc::from(&b"Subject: vm\r\n\r\nhello\r\n"[..]);
    let id = p
        .conn
        .append(&MailboxName::inbox(), &[Flag::Flagged], msg)
        .unwrap();
    p.push(script(
        "C: a2 APPEND INBOX (\\Flagged) {22+}
         C: Subject: vm
         C: 
         C: hello
         C: 
         S: a2 OK [APPENDUID 1795674092 4] Append completed",
    ));
    assert!(p.run());
    assert_eq!(
        p.ok(id),
        &Outcome::Appended(Some(AppendUid {
            uid_validity: UidValidity::new(1795674092).unwrap(),
            uid: uid(4)
        }))
    );
    assert_eq!(p.conn.stats().round_trips - before, 1);
}

fn no_literal_plus() -> Pair {
    logged_in("IMAP4rev1 IDLE UIDPLUS MOVE QUOTA NAMESPACE")
}

#[test]
fn append_with_synchronising_literal_waits_for_plus() {
    let mut p = no_literal_plus();
    let before = p.conn.stats().round_trips;
    let id = p
        .conn
        .append(
            &MailboxName::from_wire("Greetings").unwrap(),
            &[],
            Arc::from(&b"abc"[..]),
        )
        .unwrap();
    p.push(script(
        "C: a2 APPEND Greetings {3}
         S: + OK
         C: abc
         S: a2 OK [APPENDUID 1795674093 1] Append completed",
    ));
    assert!(p.run());
    assert!(matches!(p.ok(id), Outcome::Appended(Some(a)) if a.uid == uid(1)));
    assert_eq!(p.conn.stats().round_trips - before, 2);
}

#[test]
fn no_instead_of_plus_completes_the_append_and_the_connection_goes_on() {
    // Dovecot over quota (trace deposit-08): the tagged NO comes instead of `+`.
    let mut p = no_literal_plus();
    let id = p
        .conn
        .append(&MailboxName::inbox(), &[], Arc::from(&b"abc"[..]))
        .unwrap();
    let noop = p.conn.noop().unwrap();
    p.push(script(
        "C: a2 APPEND INBOX {3}
         S: a2 NO [OVERQUOTA] Quota exceeded (mailbox for user is full) (0.001 + 0.000 secs).
         C: a3 NOOP
         S: a3 OK NOOP completed",
    ));
    assert!(p.run());
    let Error::Refused(r) = p.err(id) else {
        panic!()
    };
    assert_eq!(r.code, Some(ResponseCode::OverQuota));
    assert!(r.before_literal);
    assert_eq!(p.ok(noop), &Outcome::Done);
    assert!(
        !p.all_written.windows(3).any(|w| w == b"abc"),
        "literal must not be sent"
    );
}

#[test]
fn large_append_is_streamed_in_chunks_without_copying_it_whole() {
    let mut cfg = config();
    cfg.transmit_chunk = 1000;
    let mut p = Pair::new(cfg, script("S: * OK [CAPABILITY IMAP4rev1 LITERAL+] ready"));
    p.run();
    p.conn.login("a", &Secret::new("b")).unwrap();
    p.push(script(
        "C: a1 LOGIN a b\nS: a1 OK [CAPABILITY IMAP4rev1 LITERAL+] ok",
    ));
    assert!(p.run());
    let body: Vec<u8> = (0..10_500u32).map(|i| b'A' + (i % 26) as u8).collect();
    let msg: Arc<[u8]> = Arc::from(body.clone());
    let id = p
        .conn
        .append(&MailboxName::inbox(), &[], Arc::clone(&msg))
        .unwrap();
    let mut pieces = Vec::new();
    while let Some(t) = p.conn.poll_transmit(p.now) {
        pieces.push(t.as_bytes().to_vec());
    }
    assert_eq!(pieces[0], b"a2 APPEND INBOX {10500+}\r\n");
    let literal_pieces = &pieces[1..pieces.len() - 1];
    assert_eq!(literal_pieces.len(), 11);
    assert!(literal_pieces.iter().all(|c| c.len() <= 1000));
    assert_eq!(literal_pieces.concat(), body);
    assert_eq!(pieces.last().unwrap(), b"\r\n");
    p.conn
        .handle_input(b"a2 OK [APPENDUID 1 9] done\r\n", p.now);
    let ev = p.conn.poll_event().unwrap();
    assert!(
        matches!(ev, Event::Completed { id: i, result: Ok(Outcome::Appended(Some(_))) } if i == id)
    );
}

#[test]
fn store_copy_move_expunge_report_uids() {
    let mut p = selected_inbox();
    // Learn seq -> UID for all three messages.
    let f = p
        .conn
        .uid_fetch(&UidRange::All, &[FetchAttr::Flags])
        .unwrap();
    p.push(script(
        "C: a3 UID FETCH 1:* (UID FLAGS)
         S: * 1 FETCH (UID 4 FLAGS ())
         S: * 2 FETCH (UID 5 FLAGS ())
         S: * 3 FETCH (UID 6 FLAGS (\\Seen))
         S: a3 OK done",
    ));
    assert!(p.run());
    assert!(matches!(p.ok(f), Outcome::Fetch(v) if v.len() == 3));

    let silent = p
        .conn
        .uid_store(
            &uid(4).into(),
            StoreMode::Add,
            &[Flag::Seen, Flag::Deleted],
            true,
        )
        .unwrap();
    let loud = p
        .conn
        .uid_store(&uid(5).into(), StoreMode::Remove, &[Flag::Seen], false)
        .unwrap();
    let copy = p
        .conn
        .uid_copy(
            &UidRange::Set([uid(5), uid(6)].into_iter().collect()),
            &MailboxName::from_wire("Work").unwrap(),
        )
        .unwrap();
    let mv = p
        .conn
        .uid_move(&uid(6).into(), &MailboxName::from_wire("Old").unwrap())
        .unwrap();
    let ex = p.conn.uid_expunge(&uid(4).into()).unwrap();
    p.push(script(
        "C: a4 UID STORE 4 +FLAGS.SILENT (\\Seen \\Deleted)
         C: a5 UID STORE 5 -FLAGS (\\Seen)
         C: a6 UID COPY 5:6 Work
         C: a7 UID MOVE 6 Old
         C: a8 UID EXPUNGE 4
         S: a4 OK Store completed
         S: * 2 FETCH (UID 5 FLAGS ())
         S: a5 OK Store completed
         S: a6 OK [COPYUID 77 5:6 10:11] Copy completed
         S: * OK [COPYUID 78 6 3] Moved UIDs.
         S: * 3 EXPUNGE
         S: a7 OK Move completed
         S: * 1 EXPUNGE
         S: a8 OK Expunge completed",
    ));
    assert!(p.run());
    assert_eq!(p.ok(silent), &Outcome::Store(vec![]));
    assert_eq!(p.ok(loud), &Outcome::Store(vec![(uid(5), vec![])]));
    let Outcome::Copied(Some(cu)) = p.ok(copy) else {
        panic!()
    };
    assert_eq!(
        cu.pairs().collect::<Vec<_>>(),
        vec![(uid(5), uid(10)), (uid(6), uid(11))]
    );
    let Outcome::Moved { copy_uid, expunged } = p.ok(mv) else {
        panic!()
    };
    assert_eq!(copy_uid.as_ref().map(|c| c.uid_validity.get()), Some(78));
    assert_eq!(expunged, &vec![uid(6)]);
    assert_eq!(
        p.ok(ex),
        &Outcome::Expunged {
            uids: vec![uid(4)],
            unmapped: 0
        }
    );
    assert_eq!(p.conn.exists(), Some(1));
}

/// RFC 4315 pairs COPYUID's two sets in the order the server wrote them, which need not be
/// ascending: that order is kept, while `source()`/`destination()` are plain sets.
#[test]
fn copyuid_pairs_follow_the_servers_order() {
    let mut p = logged_in("IMAP4rev1 UIDPLUS");
    let sel = p.conn.select(&MailboxName::inbox()).unwrap();
    let copy = p
        .conn
        .uid_copy(
            &UidRange::Set([uid(1), uid(3)].into_iter().collect()),
            &MailboxName::from_wire("Work").unwrap(),
        )
        .unwrap();
    p.push(script(
        "C: a2 SELECT INBOX
         C: a3 UID COPY 1,3 Work
         S: * 3 EXISTS
         S: * OK [UIDVALIDITY 7] ok
         S: a2 OK [READ-WRITE] done
         S: a3 OK [COPYUID 77 3,1 10:11] Copy completed",
    ));
    assert!(p.run());
    assert!(matches!(p.ok(sel), Outcome::Selected(_)));
    let Outcome::Copied(Some(cu)) = p.ok(copy) else {
        panic!()
    };
    assert_eq!(
        cu.pairs().collect::<Vec<_>>(),
        vec![(uid(3), uid(10)), (uid(1), uid(11))]
    );
    assert_eq!(cu.source().to_string(), "1,3");
    assert_eq!(cu.destination().to_string(), "10:11");
}

#[test]
fn quota_roots_keep_every_resource_for_dovecot_cyrus_and_courier() {
    for (reply, roots, quota_root, resources) in [
        (
            "S: * QUOTAROOT INBOX \"User quota\"\nS: * QUOTA \"User quota\" (STORAGE 1 200 MESSAGE 1 20)",
            vec!["User quota"],
            "User quota",
            vec![("STORAGE", 1, 200), ("MESSAGE", 1, 20)],
        ),
        (
            "S: * QUOTAROOT INBOX INBOX\nS: * QUOTA INBOX (STORAGE 0 200 MESSAGE 0 20)",
            vec!["INBOX"],
            "INBOX",
            vec![("STORAGE", 0, 200), ("MESSAGE", 0, 20)],
        ),
        (
            "S: * QUOTAROOT \"INBOX\" \"ROOT\"\nS: * QUOTA \"ROOT\" (STORAGE 0 200 MESSAGE 0 20)",
            vec!["ROOT"],
            "ROOT",
            vec![("STORAGE", 0, 200), ("MESSAGE", 0, 20)],
        ),
    ] {
        let mut p = logged_in(DOVECOT_CAPS);
        let id = p.conn.get_quota_root(&MailboxName::inbox()).unwrap();
        p.push(script(&format!(
            "C: a2 GETQUOTAROOT INBOX\n{reply}\nS: a2 OK Getquotaroot completed"
        )));
        assert!(p.run());
        let Outcome::QuotaRoots(q) = p.ok(id) else {
            panic!()
        };
        assert_eq!(q.roots, roots);
        assert_eq!(q.quotas.len(), 1);
        assert_eq!(q.quotas[0].root, quota_root);
        let got: Vec<_> = q.quotas[0]
            .resources
            .iter()
            .map(|r| (r.name.as_str(), r.usage, r.limit))
            .collect();
        assert_eq!(got, resources);
    }
}

#[test]
fn no_quota_is_an_empty_answer() {
    let mut p = logged_in(DOVECOT_CAPS);
    let id = p.conn.get_quota_root(&MailboxName::inbox()).unwrap();
    p.push(script(
        "C: a2 GETQUOTAROOT INBOX\nS: a2 OK No quota (0.001 + 0.000 secs).",
    ));
    assert!(p.run());
    assert_eq!(p.ok(id), &Outcome::QuotaRoots(QuotaRoots::default()));
}

#[test]
fn namespaces_of_dovecot_cyrus_and_courier() {
    for (reply, personal_prefix, delim, others, shared) in [
        ("(\"\" \"/\")) NIL NIL", "", '/', 0, 0),
        (
            "((\"INBOX/\" \"/\")) ((\"user/\" \"/\")) ((\"\" \"/\"))",
            "INBOX/",
            '/',
            1,
            1,
        ),
        (
            "((\"INBOX.\" \".\")) NIL ((\"#shared.\" \".\")(\"shared.\" \".\"))",
            "INBOX.",
            '.',
            0,
            2,
        ),
    ] {
        let reply = if reply.starts_with("(\"\"") {
            format!("(({reply}")
        } else {
            reply.to_owned()
        };
        let reply = reply.replacen("(((", "((", 1);
        let mut p = logged_in(DOVECOT_CAPS);
        let id = p.conn.namespace().unwrap();
        p.push(script(&format!(
            "C: a2 NAMESPACE\nS: * NAMESPACE {reply}\nS: a2 OK Namespace completed"
        )));
        assert!(p.run(), "{reply}");
        let Outcome::Namespaces(ns) = p.ok(id) else {
            panic!()
        };
        assert_eq!(ns.personal[0].prefix, personal_prefix);
        assert_eq!(ns.personal[0].delimiter, Some(delim));
        assert_eq!(ns.other.len(), others);
        assert_eq!(ns.shared.len(), shared);
    }
}

#[test]
fn list_reports_delimiter_and_attributes() {
    let mut p = logged_in(DOVECOT_CAPS);
    let id = p.conn.list("", "*").unwrap();
    p.push(script(
        "C: a2 LIST \"\" *
         S: * LIST (\\HasNoChildren) \"/\" Old
         S: * LIST (\\HasNoChildren \\Marked) \"/\" INBOX
         S: * LIST (\\Noselect \\HasChildren) \".\" \"INBOX.Work\"
         S: a2 OK List completed",
    ));
    assert!(p.run());
    let Outcome::List(v) = p.ok(id) else { panic!() };
    assert_eq!(v.len(), 3);
    assert_eq!(v[0].mailbox, MailboxName::from_wire("Old").unwrap());
    assert_eq!(v[0].delimiter, Some('/'));
    assert!(v[1].mailbox.is_inbox());
    assert_eq!(v[2].delimiter, Some('.'));
    assert!(
        v[2].attributes
            .iter()
            .any(|a| a.eq_ignore_ascii_case("\\Noselect"))
    );
}

#[test]
fn several_status_commands_pipeline_in_one_round_trip() {
    let mut p = logged_in(DOVECOT_CAPS);
    let before = p.conn.stats().round_trips;
    let items = [
        StatusAttr::Messages,
        StatusAttr::Unseen,
        StatusAttr::UidNext,
        StatusAttr::UidValidity,
    ];
    let a = p.conn.status(&MailboxName::inbox(), &items).unwrap();
    let b = p
        .conn
        .status(&MailboxName::from_wire("Old").unwrap(), &items)
        .unwrap();
    p.push(script(
        "C: a2 STATUS INBOX (MESSAGES UNSEEN UIDNEXT UIDVALIDITY)
         C: a3 STATUS Old (MESSAGES UNSEEN UIDNEXT UIDVALIDITY)
         S: * STATUS INBOX (MESSAGES 3 UNSEEN 1 UIDNEXT 4 UIDVALIDITY 1795674092)
         S: a2 OK Status completed
         S: * STATUS Old (MESSAGES 0 UNSEEN 0 UIDNEXT 1 UIDVALIDITY 1795674094)
         S: a3 OK Status completed",
    ));
    assert!(p.run());
    assert_eq!(p.conn.stats().round_trips - before, 1);
    let Outcome::Status(s) = p.ok(a) else {
        panic!()
    };
    assert_eq!(
        (s.messages, s.unseen, s.uid_next),
        (Some(3), Some(1), Uid::new(4))
    );
    let Outcome::Status(s) = p.ok(b) else {
        panic!()
    };
    assert_eq!(s.mailbox, Some(MailboxName::from_wire("Old").unwrap()));
    assert_eq!(s.uid_validity, UidValidity::new(1795674094));
}

#[test]
fn idle_flows_unsolicited_events_and_done_completes_it() {
    let mut p = selected_inbox();
    let id = p.conn.idle().unwrap();
    assert_eq!(p.conn.noop(), Err(Error::Misuse(Misuse::Idling)));
    p.push(script(
        "C: a3 IDLE
         S: + idling
         S: * 4 EXISTS
         S: * 2 FETCH (FLAGS (\\Seen))",
    ));
    assert!(p.run());
    assert!(p.events.contains(&Event::IdleStarted { id }));
    assert!(
        p.events
            .contains(&Event::Unsolicited(Unsolicited::Exists(4)))
    );
    assert!(p.events.iter().any(|e| matches!(e, Event::Unsolicited(Unsolicited::Fetch { uid: None, flags: Some(f), .. }) if f == &vec![Flag::Seen])));
    p.conn.idle_done(p.now).unwrap();
    p.push(script("C: DONE\nS: a3 OK Idle completed"));
    assert!(p.run());
    assert_eq!(p.ok(id), &Outcome::Done);
    assert_eq!(p.conn.exists(), Some(4));
}

#[test]
fn idle_is_reissued_before_29_minutes_without_completing() {
    let mut cfg = config();
    // Beyond 29 minutes is rejected, not capped.
    cfg.idle_refresh = Duration::from_secs(45 * 60);
    assert!(matches!(
        Connection::new(cfg.clone(), std::time::Instant::now()),
        Err(ConfigError::OutOfBounds {
            field: "idle_refresh",
            ..
        })
    ));
    cfg.idle_refresh = Duration::from_secs(29 * 60);
    let mut p = Pair::new(cfg, script("S: * PREAUTH [CAPABILITY IMAP4rev1 IDLE] hi"));
    p.run();
    assert_eq!(p.conn.state(), State::Authenticated);
    let id = p.conn.idle().unwrap();
    p.push(script("C: a1 IDLE\nS: + idling"));
    assert!(p.run());
    assert_eq!(
        p.conn.poll_timeout(),
        Some(p.now + Duration::from_secs(29 * 60))
    );
    p.advance(Duration::from_secs(29 * 60));
    p.push(script(
        "C: DONE
         S: a1 OK Idle completed
         C: a2 IDLE
         S: + idling",
    ));
    assert!(p.run());
    assert!(
        p.result(id).is_none(),
        "refresh must not complete the caller's IDLE"
    );
    assert_eq!(
        p.events
            .iter()
            .filter(|e| matches!(e, Event::IdleStarted { .. }))
            .count(),
        1
    );
    p.conn.idle_done(p.now).unwrap();
    p.push(script("C: DONE\nS: a2 OK Idle completed"));
    assert!(p.run());
    assert_eq!(p.ok(id), &Outcome::Done);
}

#[test]
fn notify_is_sent_raw_and_its_status_responses_become_events() {
    let mut p = logged_in(DOVECOT_CAPS);
    let id = p
        .conn
        .notify("SET STATUS (personal (MessageNew MessageExpunge FlagChange))")
        .unwrap();
    p.push(script(
        "C: a2 NOTIFY SET STATUS (personal (MessageNew MessageExpunge FlagChange))
         S: a2 OK NOTIFY completed",
    ));
    assert!(p.run());
    assert_eq!(p.ok(id), &Outcome::Done);
    let idle = p.conn.idle().unwrap();
    p.push(script(
        "C: a3 IDLE
         S: + idling
         S: * STATUS Old (MESSAGES 1 UIDNEXT 2 UIDVALIDITY 1795674094 UNSEEN 1 HIGHESTMODSEQ 2)",
    ));
    assert!(p.run());
    assert!(p.events.contains(&Event::IdleStarted { id: idle }));
    let st = p.events.iter().find_map(|e| match e {
        Event::Unsolicited(Unsolicited::Status(s)) => Some(s.clone()),
        _ => None,
    });
    let st = st.expect("STATUS event");
    assert_eq!(st.mailbox, Some(MailboxName::from_wire("Old").unwrap()));
    assert_eq!(
        (st.messages, st.unseen, st.highest_modseq),
        (Some(1), Some(1), Some(2))
    );
    assert_eq!(p.conn.notify("SET {5}"), Err(Error::Misuse(Misuse::Idling)));
}

#[test]
fn keepalive_noop_after_silence_is_internal() {
    let mut cfg = config();
    cfg.keepalive = Some(Duration::from_secs(300));
    let mut p = Pair::new(cfg, script("S: * PREAUTH ok"));
    p.run();
    p.advance(Duration::from_secs(299));
    assert!(p.all_written.is_empty());
    p.advance(Duration::from_secs(2));
    p.push(script("C: a1 NOOP\nS: * 2 EXISTS\nS: a1 OK NOOP completed"));
    assert!(p.run());
    assert!(
        !p.events
            .iter()
            .any(|e| matches!(e, Event::Completed { .. }))
    );
    assert!(
        p.events
            .contains(&Event::Unsolicited(Unsolicited::Exists(2)))
    );
}

#[test]
fn enable_reports_what_was_enabled() {
    let mut p = logged_in(DOVECOT_CAPS);
    let id = p.conn.enable(&["CONDSTORE"]).unwrap();
    p.push(script(
        "C: a2 ENABLE CONDSTORE\nS: * ENABLED CONDSTORE\nS: a2 OK Enabled",
    ));
    assert!(p.run());
    assert_eq!(p.ok(id), &Outcome::Enabled(vec!["CONDSTORE".into()]));
}

#[test]
fn create_close_unselect_and_logout() {
    let mut p = selected_inbox();
    let c = p
        .conn
        .create(&MailboxName::from_wire("Work").unwrap())
        .unwrap();
    let u = p.conn.unselect().unwrap();
    p.push(script(
        "C: a3 CREATE Work
         S: a3 OK Create completed
         C: a4 UNSELECT
         S: a4 OK Unselect completed",
    ));
    assert!(p.run());
    assert_eq!(p.ok(c), &Outcome::Done);
    assert_eq!(p.ok(u), &Outcome::Done);
    assert_eq!(p.conn.state(), State::Authenticated);
    assert!(matches!(
        p.conn.uid_search(&[SearchKey::All]),
        Err(Error::Misuse(Misuse::WrongState { .. }))
    ));
    let l = p.conn.logout().unwrap();
    p.push(script(
        "C: a5 LOGOUT\nS: * BYE Logging out\nS: a5 OK Logout completed\nEOF",
    ));
    assert!(p.run());
    assert_eq!(p.ok(l), &Outcome::Done);
    assert_eq!(p.conn.state(), State::Logout);
    assert!(!p.events.iter().any(|e| matches!(e, Event::Failed(_))));
}

#[test]
fn logout_completes_when_the_server_closes_after_bye() {
    let mut p = logged_in(DOVECOT_CAPS);
    let l = p.conn.logout().unwrap();
    p.push(script("C: a2 LOGOUT\nS: * BYE Logging out\nEOF"));
    assert!(p.run());
    assert_eq!(p.ok(l), &Outcome::Done);
}

#[test]
fn failed_select_leaves_no_mailbox_selected() {
    let mut p = selected_inbox();
    let id = p
        .conn
        .select(&MailboxName::from_wire("Nope").unwrap())
        .unwrap();
    p.push(script(
        "C: a3 SELECT Nope\nS: a3 NO [NONEXISTENT] Mailbox doesn't exist: Nope",
    ));
    assert!(p.run());
    assert_eq!(p.err(id).refusal_code(), Some(&ResponseCode::NonExistent));
    assert_eq!(p.conn.state(), State::Authenticated);
}

#[test]
fn unsolicited_expunge_maps_to_uid_and_vanished_is_reported() {
    let mut p = selected_inbox();
    let f = p
        .conn
        .uid_fetch(&UidRange::All, &[FetchAttr::Flags])
        .unwrap();
    p.push(script(
        "C: a3 UID FETCH 1:* (UID FLAGS)
         S: * 1 FETCH (UID 7 FLAGS ())
         S: * 2 FETCH (UID 8 FLAGS ())
         S: a3 OK done",
    ));
    assert!(p.run());
    p.ok(f);
    let n = p.conn.noop().unwrap();
    p.push(script(
        "C: a4 NOOP
         S: * 1 EXPUNGE
         S: * 1 FETCH (FLAGS (\\Flagged))
         S: * VANISHED 40:41
         S: a4 OK NOOP completed",
    ));
    assert!(p.run());
    p.ok(n);
    assert!(
        p.events
            .contains(&Event::Unsolicited(Unsolicited::Expunged {
                uid: Uid::new(7)
            }))
    );
    assert!(p.events.contains(&Event::Unsolicited(Unsolicited::Fetch {
        uid: Uid::new(8),
        flags: Some(vec![Flag::Flagged]),
        modseq: None
    })));
    assert!(p.events.iter().any(|e| matches!(e, Event::Unsolicited(Unsolicited::Vanished { uids, earlier: false }) if uids.len() == 2)));
}

#[test]
fn alert_and_stray_untagged_no_are_notices() {
    let mut p = logged_in(DOVECOT_CAPS);
    let n = p.conn.noop().unwrap();
    p.push(script(
        "C: a2 NOOP
         S: * OK [ALERT] You exceeded your mail quota.
         S: * NO Error in IMAP command received by server.
         S: a2 OK done",
    ));
    assert!(p.run());
    p.ok(n);
    assert!(p.events.contains(&Event::Unsolicited(Unsolicited::Alert(
        "You exceeded your mail quota.".into()
    ))));
    assert!(p.events.iter().any(|e| matches!(
        e,
        Event::Unsolicited(Unsolicited::Notice {
            refusal: Some(RefusalKind::No),
            ..
        })
    )));
}

#[test]
fn append_dated_sends_the_internal_date_before_the_literal() {
    let mut p = logged_in(DOVECOT_CAPS);
    let msg: Arc<[u8]> = Arc::from(&b"Subject: vm\r\n\r\nhello\r\n"[..]);
    let id = p
        .conn
        .append_dated(
            &MailboxName::inbox(),
            &[Flag::Flagged],
            Some(1_795_674_119),
            msg,
        )
        .unwrap();
    // Single-digit day: two digits (RFC 3501 date-day-fixed allows 2DIGIT); UTC as +0000.
    let early = p
        .conn
        .append_dated(
            &MailboxName::from_wire("Old").unwrap(),
            &[],
            Some(0),
            Arc::from(&b"x"[..]),
        )
        .unwrap();
    let undated = p
        .conn
        .append_dated(
            &MailboxName::from_wire("Old").unwrap(),
            &[],
            None,
            Arc::from(&b"y"[..]),
        )
        .unwrap();
    p.push(script(
        "C: a2 APPEND INBOX (\\Flagged) \"26-Nov-2026 06:21:59 +0000\" {22+}
         C: Subject: vm
         C: 
         C: hello
         C: 
         C: a3 APPEND Old \"01-Jan-1970 00:00:00 +0000\" {1+}
         C: x
         C: a4 APPEND Old {1+}
         C: y
         S: a2 OK [APPENDUID 1795674092 4] Append completed
         S: a3 OK [APPENDUID 1795674092 5] Append completed
         S: a4 OK Append completed",
    ));
    assert!(p.run());
    assert!(matches!(p.ok(id), Outcome::Appended(Some(a)) if a.uid == uid(4)));
    assert!(matches!(p.ok(early), Outcome::Appended(Some(a)) if a.uid == uid(5)));
    assert_eq!(p.ok(undated), &Outcome::Appended(None));
}

#[test]
fn append_dated_with_a_synchronising_literal_and_the_last_representable_second() {
    let mut p = no_literal_plus();
    let id = p
        .conn
        .append_dated(
            &MailboxName::from_wire("Greetings").unwrap(),
            &[Flag::Seen],
            Some(253_402_300_799),
            Arc::from(&b"abc"[..]),
        )
        .unwrap();
    p.push(script(
        "C: a2 APPEND Greetings (\\Seen) \"31-Dec-9999 23:59:59 +0000\" {3}
         S: + OK
         C: abc
         S: a2 OK Append completed",
    ));
    assert!(p.run());
    assert_eq!(p.ok(id), &Outcome::Appended(None));
}

#[test]
fn append_dated_refuses_dates_outside_1970_to_9999_without_sending() {
    let mut p = logged_in(DOVECOT_CAPS);
    let sent = p.conn.stats().bytes_out;
    for bad in [-1, 253_402_300_800, i64::MIN, i64::MAX] {
        let r = p
            .conn
            .append_dated(&MailboxName::inbox(), &[], Some(bad), Arc::from(&b"x"[..]));
        assert!(
            matches!(
                r,
                Err(Error::Misuse(Misuse::InvalidArgument {
                    command: "APPEND",
                    ..
                }))
            ),
            "{bad}: {r:?}"
        );
    }
    assert!(p.conn.poll_transmit(p.now).is_none());
    assert_eq!(p.conn.stats().bytes_out, sent);
}

#[test]
fn nul_bytes_inside_a_fetch_literal_are_returned_exactly() {
    let mut p = selected_inbox();
    let id = p
        .conn
        .uid_fetch(
            &UidRange::All,
            &[FetchAttr::HeaderFields(vec![
                "X-Asterisk-VM-Message-Num".into(),
            ])],
        )
        .unwrap();
    // 32 bytes with a NUL in the middle; the second message's literal is NUL-free; the
    // third's is all NULs and is followed by more items on the line.
    p.push(script(
        "C: a3 UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (X-Asterisk-VM-Message-Num)])
         S: * 1 FETCH (UID 1 BODY[HEADER.FIELDS (X-ASTERISK-VM-MESSAGE-NUM)] {32}
         S: X-Asterisk-VM-Message-Num: a\0b
         S: )
         S: * 2 FETCH (UID 2 BODY[HEADER.FIELDS (X-ASTERISK-VM-MESSAGE-NUM)] {30}
         S: X-Asterisk-VM-Message-Num: 2
         S: )
         S: * 3 FETCH (UID 3 BODY[HEADER.FIELDS (X-ASTERISK-VM-MESSAGE-NUM)] {3}
         S: \0\0\0 FLAGS (\\Seen))
         S: a3 OK Fetch completed",
    ));
    assert!(p.run());
    assert!(
        !p.events.iter().any(|e| matches!(e, Event::Diagnostic(_))),
        "{:?}",
        p.events
    );
    let Outcome::Fetch(msgs) = p.ok(id) else {
        panic!()
    };
    assert_eq!(msgs.len(), 3, "no message disappears");
    assert_eq!(
        msgs[0].header_fields(),
        Some(&b"X-Asterisk-VM-Message-Num: a\0b\r\n"[..])
    );
    assert_eq!(
        msgs[1].header_fields(),
        Some(&b"X-Asterisk-VM-Message-Num: 2\r\n"[..])
    );
    assert_eq!(msgs[2].header_fields(), Some(&b"\0\0\0"[..]));
}
