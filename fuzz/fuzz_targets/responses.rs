//! Fuzz target `responses`: arbitrary server bytes into an imapvm-proto client with commands in flight.
//!
//! The first input byte picks a chunk size (low 6 bits, so framing across reads is exercised)
//! and how far the clock moves after each chunk (high 2 bits: 10 ms, 1 s, 25 s, 29 min; due
//! timers fire after each chunk); the rest is fed as server output after a scripted
//! greeting/login/`ENABLE QRESYNC`/select. Tags: a4..a13 the classic commands, a14 a
//! `UID FETCH ... (CHANGEDSINCE 1 VANISHED)`, a15 a `UID MOVE 4:6`, a16 a dated APPEND (first
//! byte 1..=253; out of range it is refused and IDLE takes a16), then an IDLE (a17) with a
//! 20 s silence probe. Literals may hold any byte (NUL included: seed `nul_literal`) and
//! announce any length (seed `huge_announcement`).
//! Must never panic; memory is bounded by small limits (a 4 KiB line, 64 KiB literal,
//! 128 KiB response). Invariants: expunge/move/changed-since outcomes hold at most
//! `max_untagged_per_command` UIDs in total, and `vanished_earlier` is ascending without repeats.
#![no_main]

use imapvm_proto::{
    Config, Connection, Event, FetchAttr, Flag, Limits, MailboxName, Outcome, SearchKey, Secret,
    StatusAttr, StoreMode, Uid, UidRange, UidSet,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `Limits::max_untagged_per_command` of this target.
const MAX_UNTAGGED: u32 = 1000;

fn drain(c: &mut Connection, now: Instant) {
    while c.poll_transmit(now).is_some() {}
    while let Some(e) = c.poll_event() {
        check(&e);
    }
}

/// Invariants of completed commands whatever the server sent.
fn check(e: &Event) {
    let Event::Completed { result: Ok(o), .. } = e else {
        return;
    };
    let max = MAX_UNTAGGED as usize;
    match o {
        Outcome::Expunged { uids, unmapped } => {
            assert!(
                uids.len() + *unmapped as usize <= max,
                "expunged beyond the limit"
            );
        }
        Outcome::Moved { expunged, .. } => {
            assert!(expunged.len() <= max, "moved beyond the limit");
        }
        Outcome::FetchChanged {
            messages,
            vanished_earlier,
        } => {
            assert!(
                messages.len() + vanished_earlier.len() <= max,
                "changed-since beyond the limit"
            );
            assert!(
                vanished_earlier.windows(2).all(|w| w[0] < w[1]),
                "vanished_earlier not ascending"
            );
        }
        _ => {}
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(first % 64) + 1;
    let step = [
        Duration::from_millis(10),
        Duration::from_secs(1),
        Duration::from_secs(25),
        Duration::from_secs(29 * 60),
    ][usize::from(first >> 6)];
    let now = Instant::now();
    let config = Config {
        limits: Limits {
            max_line: 4096,
            max_literal: 64 * 1024,
            max_response: 128 * 1024,
            max_untagged_per_command: MAX_UNTAGGED,
        },
        ..Config::default()
    };
    let mut c = Connection::new(config, now).expect("the target's configuration is valid");
    c.handle_input(
        b"* OK [CAPABILITY IMAP4rev1 IDLE UIDPLUS MOVE QUOTA NOTIFY ESEARCH ENABLE CONDSTORE QRESYNC] hi\r\n",
        now,
    );
    let _ = c.login("u", &Secret::new("p"));
    drain(&mut c, now);
    c.handle_input(b"a1 OK logged in\r\n", now);
    // QRESYNC on: plain VANISHED replaces EXPUNGE, CHANGEDSINCE ... VANISHED is allowed.
    let _ = c.enable(&["QRESYNC"]);
    drain(&mut c, now);
    c.handle_input(b"* ENABLED QRESYNC\r\na2 OK enabled\r\n", now);
    let _ = c.select(&MailboxName::inbox());
    drain(&mut c, now);
    c.handle_input(b"* 5 EXISTS\r\na3 OK [READ-WRITE] ok\r\n", now);
    // Commands in flight of every result shape.
    let _ = c.uid_search(&[
        SearchKey::Unseen,
        SearchKey::Header("X-A".into(), "1".into()),
    ]);
    let _ = c.uid_fetch(
        &UidRange::All,
        &[
            FetchAttr::Flags,
            FetchAttr::Rfc822Size,
            FetchAttr::InternalDate,
            FetchAttr::BodyStructure,
            FetchAttr::HeaderFields(vec!["X-A".into()]),
            FetchAttr::Part(vec![2]),
        ],
    );
    let _ = c.status(
        &MailboxName::from_wire("Old").unwrap(),
        &[StatusAttr::Messages, StatusAttr::UidNext],
    );
    let _ = c.get_quota_root(&MailboxName::inbox());
    let _ = c.list("", "*");
    let _ = c.append(&MailboxName::inbox(), &[], Arc::from(&b"msg"[..]));
    let _ = c.uid_expunge(&UidRange::All);
    // A second SEARCH, a FETCH of a UID subset and a non-silent STORE: untagged answers must
    // be told apart by tag (ESEARCH), order (SEARCH), UID set and requested items (FETCH).
    let _ = c.uid_search(&[SearchKey::Seen]);
    if let (Some(a), Some(b)) = (Uid::new(2), Uid::new(3)) {
        let _ = c.uid_fetch(&UidRange::Set(UidSet::range(a, b)), &[FetchAttr::Flags]);
        let _ = c.uid_store(&UidRange::from(a), StoreMode::Add, &[Flag::Seen], false);
    }
    // A reconnect resync (RFC 7162): what changed since MODSEQ 1, and what vanished earlier.
    let _ = c.uid_fetch_changed_since(&UidRange::All, &[FetchAttr::Flags], 1, true);
    // A UID MOVE of a subset: its VANISHED answer is told apart from UID EXPUNGE 1:*'s by UID.
    if let (Some(a), Some(b)) = (Uid::new(4), Uid::new(6)) {
        let _ = c.uid_move(&UidRange::Set(UidSet::range(a, b)), &MailboxName::from_wire("Old").unwrap());
    }
    // An APPEND with an internal date derived from the input (in and out of range).
    let date = i64::from(first) * 1_000_000_000 - 1;
    let _ = c.append_dated(
        &MailboxName::from_wire("Old").unwrap(),
        &[Flag::Seen],
        Some(date),
        Arc::from(&b"m"[..]),
    );
    // Last: an IDLE (sent once everything before it completed) with a silence probe, so
    // time passing without input ends and re-issues it.
    let _ = c.idle();
    c.set_idle_silence(Some(Duration::from_secs(20)));
    drain(&mut c, now);
    let mut t = now;
    for piece in rest.chunks(chunk) {
        c.handle_input(piece, t);
        drain(&mut c, t);
        t += step;
        if c.poll_timeout().is_some_and(|d| d <= t) {
            c.handle_timeout(t);
            drain(&mut c, t);
        }
    }
    if let Some(deadline) = c.poll_timeout() {
        c.handle_timeout(deadline);
        drain(&mut c, deadline);
    }
    c.handle_eof();
    drain(&mut c, t);
});
