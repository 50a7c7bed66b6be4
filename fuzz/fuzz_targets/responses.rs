//! Fuzz target `responses`: arbitrary server bytes into an imapvm-proto client with commands in flight.
//!
//! The first input byte picks a chunk size (so framing across reads is exercised), the rest is
//! fed as server output after a scripted greeting/login/select. Literals may hold any byte
//! (NUL included: seed `nul_literal`) and announce any length (seed `huge_announcement`).
//! Must never panic; memory is bounded by small limits (a 4 KiB line, 64 KiB literal,
//! 128 KiB response).
#![no_main]

use imapvm_proto::{
    Config, Connection, FetchAttr, Flag, Limits, Mailbox, SearchKey, Secret, StatusAttr, StoreMode,
    Uid, UidRange, UidSet,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn drain(c: &mut Connection, now: Instant) {
    while c.poll_transmit(now).is_some() {}
    while c.poll_event().is_some() {}
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(first % 64) + 1;
    let now = Instant::now();
    let config = Config {
        limits: Limits {
            max_line: 4096,
            max_literal: 64 * 1024,
            max_response: 128 * 1024,
            max_untagged_per_command: 1000,
        },
        ..Config::default()
    };
    let mut c = Connection::new(config, now);
    c.handle_input(
        b"* OK [CAPABILITY IMAP4rev1 IDLE UIDPLUS MOVE QUOTA NOTIFY ESEARCH] hi\r\n",
        now,
    );
    let _ = c.login("u", &Secret::new("p"));
    drain(&mut c, now);
    c.handle_input(b"a1 OK logged in\r\n", now);
    let _ = c.select(&Mailbox::new("INBOX"));
    drain(&mut c, now);
    c.handle_input(b"* 5 EXISTS\r\na2 OK [READ-WRITE] ok\r\n", now);
    // Commands in flight of every result shape.
    let _ = c.uid_search(&[SearchKey::Unseen, SearchKey::Header("X-A".into(), "1".into())]);
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
    let _ = c.status(&Mailbox::new("Old"), &[StatusAttr::Messages, StatusAttr::UidNext]);
    let _ = c.get_quota_root(&Mailbox::new("INBOX"));
    let _ = c.list("", "*");
    let _ = c.append(&Mailbox::new("INBOX"), &[], Arc::from(&b"msg"[..]));
    let _ = c.uid_expunge(&UidRange::All);
    // A second SEARCH, a FETCH of a UID subset and a non-silent STORE: untagged answers must
    // be told apart by tag (ESEARCH), order (SEARCH), UID set and requested items (FETCH).
    let _ = c.uid_search(&[SearchKey::Seen]);
    if let (Some(a), Some(b)) = (Uid::new(2), Uid::new(3)) {
        let _ = c.uid_fetch(&UidRange::Set(UidSet::range(a, b)), &[FetchAttr::Flags]);
        let _ = c.uid_store(&UidRange::from(a), StoreMode::Add, &[Flag::Seen], false);
    }
    // An APPEND with an internal date derived from the input (in and out of range).
    let date = i64::from(first) * 1_000_000_000 - 1;
    let _ = c.append_dated(
        &Mailbox::new("Old"),
        &[Flag::Seen],
        Some(date),
        Arc::from(&b"m"[..]),
    );
    drain(&mut c, now);
    let mut t = now;
    for piece in rest.chunks(chunk) {
        c.handle_input(piece, t);
        drain(&mut c, t);
        t += Duration::from_millis(10);
    }
    if let Some(deadline) = c.poll_timeout() {
        c.handle_timeout(deadline);
        drain(&mut c, deadline);
    }
    c.handle_eof();
    drain(&mut c, t);
});
