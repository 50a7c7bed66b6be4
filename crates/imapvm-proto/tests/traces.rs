//! Replays of real Dovecot answers recorded between Asterisk 22 and Dovecot 2.3 (`fixtures/traces`).
//!
//! Each client command of the trace is re-issued through the typed API (UID variants; the
//! server's bytes are fed unchanged except for the tag), and every completion is checked
//! against the trace's own tagged status and untagged counts.

use crate::support::{Pair, config};
use imapvm_proto::*;
use std::collections::BTreeSet;
use std::sync::Arc;

struct Exchange {
    tag: String,
    command: String,
    client_extra: Vec<String>,
    server: Vec<String>,
}

fn is_command(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() > 9 && b[..8].iter().all(|c| c.is_ascii_hexdigit()) && b[8] == b' '
}

/// (greeting lines, exchanges)
fn parse(text: &str) -> (Vec<String>, Vec<Exchange>) {
    let mut pre = Vec::new();
    let mut ex: Vec<Exchange> = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let mut parts = line.splitn(3, ' ');
        let (_, side, rest) = (parts.next(), parts.next(), parts.next().unwrap_or(""));
        match side {
            Some("C") if is_command(rest) && ex.last().is_none_or(|e| !in_literal(e)) => {
                ex.push(Exchange {
                    tag: rest[..8].to_owned(),
                    command: rest[9..].to_owned(),
                    client_extra: Vec::new(),
                    server: Vec::new(),
                })
            }
            Some("C") => {
                if let Some(e) = ex.last_mut() {
                    e.client_extra.push(rest.to_owned());
                }
            }
            Some("S") => match ex.last_mut() {
                Some(e) => e.server.push(rest.to_owned()),
                None => pre.push(rest.to_owned()),
            },
            _ => {}
        }
    }
    (pre, ex)
}

fn literal_len(command: &str) -> Option<usize> {
    let open = command.rfind('{')?;
    command[open + 1..command.len() - 1]
        .trim_end_matches('+')
        .parse()
        .ok()
}

fn in_literal(e: &Exchange) -> bool {
    match literal_len(&e.command) {
        Some(n) if e.command.to_ascii_uppercase().starts_with("APPEND") => {
            let have: usize = e.client_extra.iter().map(|l| l.len() + 2).sum();
            // A rejected sync literal is never sent: the tagged answer already came.
            have < n && !e.server.iter().any(|s| s.starts_with(&e.tag))
        }
        _ => false,
    }
}

fn uid_set(s: &str) -> UidSet {
    let mut uids = Vec::new();
    for part in s.split(',') {
        let (a, b) = part.split_once(':').unwrap_or((part, part));
        let (a, b): (u32, u32) = (a.parse().unwrap(), b.parse().unwrap());
        uids.extend((a..=b).map(|n| Uid::new(n).unwrap()));
    }
    uids.into_iter().collect()
}

fn fetch_attrs(items: &str) -> Vec<FetchAttr> {
    let mut out = Vec::new();
    let items = items.trim_start_matches('(').trim_end_matches(')');
    if let Some(start) = items.find("HEADER.FIELDS (") {
        let rest = &items[start + 15..];
        let names = &rest[..rest.find(')').unwrap()];
        out.push(FetchAttr::HeaderFields(
            names.split(' ').map(str::to_owned).collect(),
        ));
    }
    for tok in items.split(' ') {
        match tok {
            "BODYSTRUCTURE" => out.push(FetchAttr::BodyStructure),
            "INTERNALDATE" => out.push(FetchAttr::InternalDate),
            "RFC822.SIZE" => out.push(FetchAttr::Rfc822Size),
            "FLAGS" => out.push(FetchAttr::Flags),
            "BODY.PEEK[HEADER]" => out.push(FetchAttr::Header),
            t if t.starts_with("BODY[") && t.ends_with(']') => {
                let n = &t[5..t.len() - 1];
                out.push(FetchAttr::Part(
                    n.split('.').map(|x| x.parse().unwrap()).collect(),
                ));
            }
            _ => {}
        }
    }
    out
}

fn search_keys(args: &str) -> Vec<SearchKey> {
    let toks: Vec<&str> = args.split(' ').collect();
    let mut keys = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        keys.push(match toks[i] {
            "UNDELETED" => SearchKey::Undeleted,
            "FLAGGED" => SearchKey::Flagged,
            "UNFLAGGED" => SearchKey::Unflagged,
            "UNSEEN" => SearchKey::Unseen,
            "SEEN" => SearchKey::Seen,
            "HEADER" => {
                i += 2;
                SearchKey::Header(toks[i - 1].into(), toks[i].into())
            }
            other => panic!("search key {other}"),
        });
        i += 1;
    }
    keys
}

fn issue(c: &mut Connection, e: &Exchange) -> CommandId {
    let cmd = e.command.as_str();
    let (verb, args) = cmd.split_once(' ').unwrap_or((cmd, ""));
    let r = match verb.to_ascii_uppercase().as_str() {
        "NOOP" => c.noop(),
        "LOGOUT" => c.logout(),
        "EXPUNGE" => c.expunge(),
        "SELECT" => c.select(&MailboxName::from_wire(args).unwrap()),
        "CREATE" => c.create(&MailboxName::from_wire(args).unwrap()),
        "GETQUOTAROOT" => c.get_quota_root(&MailboxName::from_wire(args).unwrap()),
        "STATUS" => {
            let mb = args.split(' ').next().unwrap();
            c.status(&MailboxName::from_wire(mb).unwrap(), &[StatusAttr::UidNext])
        }
        "SEARCH" => c.uid_search(&search_keys(args)),
        "FETCH" => {
            let (set, items) = args.split_once(' ').unwrap();
            c.uid_fetch(&UidRange::Set(uid_set(set)), &fetch_attrs(items))
        }
        "COPY" => {
            let (set, mb) = args.split_once(' ').unwrap();
            c.uid_copy(
                &UidRange::Set(uid_set(set)),
                &MailboxName::from_wire(mb).unwrap(),
            )
        }
        "STORE" => {
            let (set, _) = args.split_once(' ').unwrap();
            c.uid_store(
                &UidRange::Set(uid_set(set)),
                StoreMode::Add,
                &[Flag::Deleted],
                false,
            )
        }
        "AUTHENTICATE" => c.authenticate_plain(Some("1234"), "vmmaster", &Secret::new("x")),
        "APPEND" => {
            let mb = args.split(' ').next().unwrap();
            let flags = if args.contains("(\\FLAGGED)") {
                vec![Flag::Flagged]
            } else {
                vec![]
            };
            let n = literal_len(cmd).unwrap();
            let mut lit = e.client_extra.join("\r\n").into_bytes();
            lit.extend_from_slice(b"\r\n");
            lit.resize(n, b'x');
            c.append(&MailboxName::from_wire(mb).unwrap(), &flags, Arc::from(lit))
        }
        other => panic!("unmapped trace command {other}"),
    };
    r.unwrap_or_else(|err| panic!("{cmd}: {err}"))
}

struct Replay {
    pair: Pair,
    ids: Vec<(CommandId, String)>,
}

/// Replay every recorded window (`# ---` separates connections/windows) on its own connection.
fn replay(text: &str) -> Vec<Replay> {
    let mut sessions: Vec<String> = Vec::new();
    for line in text.lines() {
        if line.starts_with("# ---") || sessions.is_empty() {
            sessions.push(String::new());
        }
        if let Some(s) = sessions.last_mut() {
            s.push_str(line);
            s.push('\n');
        }
    }
    sessions
        .iter()
        .filter(|s| s.lines().any(|l| !l.starts_with('#')))
        .map(|s| replay_session(s))
        .collect()
}

fn replay_session(text: &str) -> Replay {
    let (pre, exchanges) = parse(text);
    let mut cfg = config();
    // Asterisk (c-client) did not use SASL-IR or LITERAL+; neither do we here, to follow its flow.
    cfg.use_sasl_ir = false;
    cfg.use_non_sync_literals = false;
    let mut pair = Pair::new(cfg, Vec::new());
    pair.strict = false;
    let now = pair.now;
    let greeting = if pre.is_empty() {
        // Mid-session window: start from an authenticated connection with Dovecot's caps.
        "* PREAUTH [CAPABILITY IMAP4rev1 LITERAL+ IDLE UIDPLUS MOVE QUOTA NAMESPACE] ready"
            .to_owned()
    } else {
        pre.join("\r\n")
    };
    pair.conn
        .handle_input(format!("{greeting}\r\n").as_bytes(), now);
    let mut ids = Vec::new();
    let mut expected = Vec::new();
    let mut known: BTreeSet<String> = BTreeSet::new();
    let mut unmappable = 0;
    for e in &exchanges {
        if e.command.to_ascii_uppercase().starts_with("SELECT") {
            known.clear();
        }
        // The core maps FETCH items without UID only through sequence numbers it learnt.
        let mut seqs = BTreeSet::new();
        for s in e
            .server
            .iter()
            .filter(|s| s.starts_with("* ") && s.contains(" FETCH ("))
        {
            let seq = s.split(' ').nth(1).unwrap_or_default().to_owned();
            if s.contains("(UID ") || known.contains(&seq) {
                known.insert(seq.clone());
                seqs.insert(seq);
            } else if e.command.to_ascii_uppercase().starts_with("FETCH") {
                unmappable += 1;
            }
        }
        expected.push(seqs.len());
        let id = issue(&mut pair.conn, e);
        let our_tag = format!("a{}", pair.conn.stats().commands_sent + 1);
        // Send the command, then feed the server's lines one at a time with output drained.
        while pair.conn.poll_transmit(now).is_some() {}
        for line in &e.server {
            let line = match line.strip_prefix(&e.tag) {
                Some(rest) => format!("{our_tag}{rest}"),
                None => line.clone(),
            };
            pair.conn
                .handle_input(format!("{line}\r\n").as_bytes(), now);
            while pair.conn.poll_transmit(now).is_some() {}
        }
        ids.push((id, e.command.clone()));
    }
    if text.contains(" - closed") {
        pair.conn.handle_eof();
    }
    while let Some(ev) = pair.conn.poll_event() {
        pair.events.push(ev);
    }
    // Generic checks: each command completed as the trace's tagged status says.
    for ((e, (id, cmd)), want) in exchanges.iter().zip(&ids).zip(&expected) {
        let status = e
            .server
            .iter()
            .find_map(|s| s.strip_prefix(&format!("{} ", e.tag)))
            .unwrap_or("OK (implicit: closed after BYE)");
        let result = pair
            .result(*id)
            .unwrap_or_else(|| panic!("{cmd} did not complete"));
        match (status.split(' ').next(), result) {
            (Some("OK"), Ok(outcome)) => check_counts(e, outcome, *want),
            (Some("NO" | "BAD"), Err(Error::Refused(_))) => {}
            (s, r) => panic!("{cmd}: trace says {s:?}, core says {r:?}"),
        }
    }
    let diagnostics = pair
        .events
        .iter()
        .filter(|e| matches!(e, Event::Diagnostic(d) if d.reason.contains("without UID")))
        .count();
    assert_eq!(diagnostics, unmappable);
    assert!(
        !pair.events.iter().any(|e| matches!(e, Event::Failed(_))
            || matches!(e, Event::Diagnostic(d) if !d.reason.contains("without UID"))),
        "{:#?}",
        pair.events
            .iter()
            .filter(|e| matches!(e, Event::Failed(_) | Event::Diagnostic(_)))
            .collect::<Vec<_>>()
    );
    Replay { pair, ids }
}

fn check_counts(e: &Exchange, outcome: &Outcome, fetched: usize) {
    match outcome {
        Outcome::Search(uids) => {
            let line = e.server.iter().find(|s| s.starts_with("* SEARCH")).unwrap();
            assert_eq!(uids.len(), line.split(' ').count() - 2, "{}", e.command);
        }
        Outcome::Fetch(msgs) => {
            assert_eq!(msgs.len(), fetched, "{}", e.command);
            for m in msgs {
                for (_, data) in &m.sections {
                    assert!(data.is_some());
                }
            }
        }
        _ => {}
    }
}

fn outcome_of<'a>(r: &'a [Replay], verb: &str) -> Vec<&'a Result<Outcome, Error>> {
    r.iter()
        .flat_map(|r| {
            r.ids
                .iter()
                .filter(|(_, c)| c.to_ascii_uppercase().starts_with(verb))
                .filter_map(|(id, _)| r.pair.result(*id))
        })
        .collect()
}

#[test]
fn deposit_urgent_append_returns_appenduid() {
    let r = replay(include_str!("fixtures/traces/deposit-04-urgent.trace"));
    let appends = outcome_of(&r, "APPEND");
    assert_eq!(
        appends,
        vec![&Ok(Outcome::Appended(Some(AppendUid {
            uid_validity: UidValidity::new(1795674092).unwrap(),
            uid: Uid::new(4).unwrap()
        })))]
    );
}

#[test]
fn overquota_append_is_refused_before_the_literal() {
    let r = replay(include_str!(
        "fixtures/traces/deposit-08-overquota-append-rejected.trace"
    ));
    let appends = outcome_of(&r, "APPEND");
    let [Err(Error::Refused(refusal))] = appends.as_slice() else {
        panic!("{appends:?}")
    };
    assert_eq!(refusal.code, Some(ResponseCode::OverQuota));
    assert!(refusal.before_literal);
    let quotas = outcome_of(&r, "GETQUOTAROOT");
    let Ok(Outcome::QuotaRoots(q)) = quotas[0] else {
        panic!()
    };
    assert_eq!(q.roots, vec!["User quota".to_owned()]);
    assert_eq!(
        q.quotas[0].resources,
        vec![QuotaResource {
            name: "STORAGE".into(),
            usage: 16,
            limit: 24
        }]
    );
}

#[test]
fn greeting_recording_session_authenticates_and_appends_to_greetings() {
    let r = replay(include_str!("fixtures/traces/greeting-record-vmmain.trace"));
    assert!(matches!(
        outcome_of(&r, "AUTHENTICATE")[..],
        [Ok(Outcome::Authenticated {
            capabilities_known: true
        })]
    ));
    assert!(r[0].pair.conn.capabilities().unwrap().has("QUOTA"));
    assert!(matches!(
        outcome_of(&r, "APPEND")[..],
        [Ok(Outcome::Appended(Some(AppendUid { .. })))]
    ));
    assert_eq!(r[0].pair.conn.state(), State::Logout);
}

#[test]
fn master_user_session_replays() {
    let r = replay(include_str!("fixtures/traces/master-user-authuser.trace"));
    assert_eq!(r.len(), 2, "two recorded windows");
    assert!(matches!(
        outcome_of(&r, "AUTHENTICATE")[..],
        [Ok(Outcome::Authenticated { .. })]
    ));
    assert!(matches!(
        outcome_of(&r, "APPEND")[..],
        [Ok(Outcome::Appended(Some(AppendUid { .. })))]
    ));
}

#[test]
fn poll_cycle_replays() {
    let r = replay(include_str!("fixtures/traces/poll-cycle-vm1234.trace"));
    assert!(!outcome_of(&r, "SEARCH").is_empty());
}

#[test]
fn read_delete_save_session_fetches_audio_copies_and_expunges() {
    let r = replay(include_str!(
        "fixtures/traces/vmmain-read-delete-save.trace"
    ));
    let fetches = outcome_of(&r, "FETCH");
    let audio: Vec<usize> = fetches
        .iter()
        .filter_map(|f| match f {
            Ok(Outcome::Fetch(m)) => m.first().and_then(|m| m.part(&[2])).map(<[u8]>::len),
            _ => None,
        })
        .collect();
    assert_eq!(audio.len(), 3, "three BODY[2] fetches");
    assert!(audio.iter().all(|n| *n > 1000));
    assert!(matches!(
        outcome_of(&r, "CREATE")[..],
        [Ok(Outcome::Done) | Err(Error::Refused(_))]
    ));
    assert!(matches!(
        outcome_of(&r, "COPY")[..],
        [Ok(Outcome::Copied(Some(_)))]
    ));
    let expunged: Vec<_> = outcome_of(&r, "EXPUNGE");
    assert!(expunged.iter().any(|e| matches!(e, Ok(Outcome::Expunged { uids, unmapped }) if uids.len() as u32 + unmapped == 1)));
}
