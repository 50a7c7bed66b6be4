//! Faults: every misbehaving server or lost connection gives a typed error, never a panic or unbounded memory.

use crate::support::{Pair, config, logged_in, script};
use imapvm_proto::*;
use std::sync::Arc;
use std::time::Duration;

fn failed_with(p: &Pair) -> &Error {
    p.events
        .iter()
        .find_map(|e| match e {
            Event::Failed(err) => Some(err),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no Failed event in {:#?}", p.events))
}

#[test]
fn bye_in_the_middle_of_a_command_fails_it_with_the_bye_text() {
    let mut p = logged_in("IMAP4rev1 IDLE");
    let id = p.conn.list("", "*").unwrap();
    p.push(script(
        "C: a2 LIST \"\" *
         S: * LIST () \"/\" INBOX
         S: * BYE [UNAVAILABLE] Server shutting down.
         EOF",
    ));
    assert!(p.run());
    let err = p.err(id);
    assert_eq!(
        err,
        &Error::Closed(Closed::Bye {
            code: Some(ResponseCode::Unavailable),
            text: "Server shutting down.".into()
        })
    );
    assert!(err.is_fatal());
    // Sticky: later commands get the same error back, still fatal.
    let err = err.clone();
    assert_eq!(p.conn.noop(), Err(err.clone()));
    assert_eq!(p.conn.error(), Some(&err));
}

#[test]
fn connection_closed_inside_a_literal() {
    let mut p = logged_in("IMAP4rev1");
    p.conn.select(&MailboxName::inbox()).unwrap();
    p.push(script("C: a2 SELECT INBOX\nS: * 1 EXISTS\nS: a2 OK done"));
    assert!(p.run());
    let id = p
        .conn
        .uid_fetch(&UidRange::All, &[FetchAttr::Part(vec![2])])
        .unwrap();
    p.push(vec![
        crate::support::Step::Expect(b"a3 UID FETCH 1:* (UID BODY.PEEK[2])\r\n".to_vec()),
        crate::support::Step::Send(b"* 1 FETCH (UID 1 BODY[2] {100}\r\nonly a part".to_vec()),
        crate::support::Step::Eof,
    ]);
    assert!(p.run());
    assert_eq!(
        p.err(id),
        &Error::Closed(Closed::Eof {
            inside_literal: true,
            inside_line: false
        })
    );
}

#[test]
fn plus_never_coming_times_out() {
    let mut p = logged_in("IMAP4rev1");
    let id = p
        .conn
        .append(&MailboxName::inbox(), &[], Arc::from(&b"abc"[..]))
        .unwrap();
    p.push(script("C: a2 APPEND INBOX {3}"));
    assert!(p.run());
    p.advance(Duration::from_secs(59));
    assert!(p.result(id).is_none());
    p.advance(Duration::from_secs(2));
    assert_eq!(
        p.err(id),
        &Error::Timeout {
            waiting_for: "APPEND".into()
        }
    );
    assert_eq!(p.conn.state(), State::Failed);
    assert_eq!(p.conn.poll_timeout(), None);
}

#[test]
fn greeting_that_never_comes_times_out() {
    let mut p = Pair::new(config(), vec![]);
    p.advance(Duration::from_secs(31));
    assert_eq!(
        failed_with(&p),
        &Error::Timeout {
            waiting_for: "greeting".into()
        }
    );
}

#[test]
fn a_4gb_literal_announced_is_refused_at_once() {
    let mut p = logged_in("IMAP4rev1");
    p.conn.select(&MailboxName::inbox()).unwrap();
    p.push(script("C: a2 SELECT INBOX\nS: * 1 EXISTS\nS: a2 OK done"));
    assert!(p.run());
    let id = p
        .conn
        .uid_fetch(&UidRange::All, &[FetchAttr::Full])
        .unwrap();
    p.push(script(
        "C: a3 UID FETCH 1:* (UID BODY.PEEK[])
         S: * 1 FETCH (UID 1 BODY[] {4294967295}",
    ));
    assert!(p.run());
    let err = p.err(id);
    assert_eq!(
        err,
        &Error::Limit(LimitExceeded {
            kind: LimitKind::LiteralSize,
            actual: 4_294_967_295,
            max: 64 * 1024 * 1024
        })
    );
    // Further bytes are ignored, not buffered.
    p.conn.handle_input(&vec![b'x'; 1 << 20], p.now);
    assert_eq!(p.conn.state(), State::Failed);
}

#[test]
fn a_literal_announced_beyond_u32_is_a_literal_size_error_for_its_command() {
    // imap-codec's framing stops reading the announcement at u32 overflow and sees a plain
    // line; without a check the next line would be decoded as a stray tagged response.
    for (announced, actual) in [
        ("{4294967296}", 4_294_967_296_u64),
        ("{4294967296+}", 4_294_967_296),
        ("{99999999999999999999999}", u64::MAX),
    ] {
        let mut p = logged_in("IMAP4rev1");
        p.conn.select(&MailboxName::inbox()).unwrap();
        p.push(script("C: a2 SELECT INBOX\nS: * 1 EXISTS\nS: a2 OK done"));
        assert!(p.run());
        let id = p
            .conn
            .uid_fetch(&UidRange::All, &[FetchAttr::Full])
            .unwrap();
        p.push(script(&format!(
            "C: a3 UID FETCH 1:* (UID BODY.PEEK[])
             S: * 1 FETCH (UID 1 BODY[] {announced}
             S: xxxx"
        )));
        assert!(p.run());
        assert_eq!(
            p.err(id),
            &Error::Limit(LimitExceeded {
                kind: LimitKind::LiteralSize,
                actual,
                max: 64 * 1024 * 1024
            }),
            "{announced}"
        );
        assert_eq!(p.conn.error(), Some(p.err(id)));
        assert_eq!(p.conn.state(), State::Failed);
    }
}

#[test]
fn an_endless_line_hits_the_line_limit_without_waiting_for_its_end() {
    let mut cfg = config();
    cfg.limits.max_line = 1000;
    let mut p = Pair::new(cfg, script("S: * OK ready"));
    p.run();
    p.conn.handle_input(b"* OK ", p.now);
    for _ in 0..10 {
        p.conn.handle_input(&[b'a'; 200], p.now);
    }
    let mut failed = None;
    while let Some(e) = p.conn.poll_event() {
        if let Event::Failed(err) = e {
            failed = Some(err);
        }
    }
    assert!(matches!(
        failed,
        Some(Error::Limit(LimitExceeded {
            kind: LimitKind::LineLength,
            ..
        }))
    ));
}

#[test]
fn response_size_limit_counts_lines_and_literals() {
    let mut cfg = config();
    cfg.limits.max_response = 100;
    let mut p = Pair::new(cfg, script("S: * OK ready"));
    p.run();
    p.conn.handle_input(b"* 1 FETCH (BODY[] {60}\r\n", p.now);
    p.conn.handle_input(&[b'y'; 60], p.now);
    p.conn.handle_input(b" BODY[1] {60}\r\n", p.now);
    p.conn.handle_input(&[b'y'; 30], p.now);
    let mut failed = None;
    while let Some(e) = p.conn.poll_event() {
        if let Event::Failed(err) = e {
            failed = Some(err);
        }
    }
    assert!(matches!(
        failed,
        Some(Error::Limit(LimitExceeded {
            kind: LimitKind::ResponseSize,
            ..
        }))
    ));
}

#[test]
fn too_many_untagged_items_fail_only_that_command() {
    let mut cfg = config();
    cfg.limits.max_untagged_per_command = 2;
    let mut p = Pair::new(cfg, script("S: * PREAUTH ok"));
    p.run();
    let id = p.conn.list("", "*").unwrap();
    let next = p.conn.noop().unwrap();
    p.push(script(
        "C: a1 LIST \"\" *
         C: a2 NOOP
         S: * LIST () \"/\" A
         S: * LIST () \"/\" B
         S: * LIST () \"/\" C
         S: * LIST () \"/\" D
         S: a1 OK done
         S: a2 OK done",
    ));
    assert!(p.run());
    assert!(matches!(
        p.err(id),
        Error::Limit(LimitExceeded {
            kind: LimitKind::UntaggedPerCommand,
            ..
        })
    ));
    assert!(!p.err(id).is_fatal());
    assert_eq!(p.ok(next), &Outcome::Done);
}

#[test]
fn garbage_untagged_line_is_skipped_with_its_bytes() {
    let mut p = logged_in("IMAP4rev1");
    let id = p.conn.noop().unwrap();
    p.push(script(
        "C: a2 NOOP
         S: * FROBNICATE ((( garbage
         S: a2 OK done",
    ));
    assert!(p.run());
    assert_eq!(p.ok(id), &Outcome::Done);
    let diag = p.events.iter().find_map(|e| match e {
        Event::Diagnostic(d) => Some(d),
        _ => None,
    });
    assert_eq!(
        diag.map(|d| d.bytes.0.clone()),
        Some(b"* FROBNICATE ((( garbage\r\n".to_vec())
    );
}

#[test]
fn garbage_tagged_line_is_a_sticky_protocol_error_with_the_bytes() {
    let mut p = logged_in("IMAP4rev1");
    let id = p.conn.noop().unwrap();
    let later = p.conn.noop().unwrap();
    p.push(script("C: a2 NOOP\nC: a3 NOOP\nS: a2 WHAT? ]]]"));
    assert!(p.run());
    let Error::Misbehaviour(m) = p.err(id) else {
        panic!()
    };
    assert_eq!(m.bytes.0, b"a2 WHAT? ]]]\r\n");
    assert!(matches!(p.err(later), Error::Misbehaviour(_)));
    assert_eq!(p.conn.error(), Some(p.err(id)));
}

#[test]
fn unknown_tag_and_unexpected_continuation_are_misbehaviour() {
    for bad in ["zz9 OK who?", "+ go on"] {
        let mut p = logged_in("IMAP4rev1");
        p.conn.noop().unwrap();
        p.push(script(&format!("C: a2 NOOP\nS: {bad}")));
        assert!(p.run());
        assert!(matches!(failed_with(&p), Error::Misbehaviour(_)), "{bad}");
    }
}

#[test]
fn plaintext_after_starttls_ok_is_rejected() {
    let mut p = Pair::new(
        config(),
        script("S: * OK [CAPABILITY IMAP4rev1 STARTTLS] ready"),
    );
    p.run();
    p.conn.starttls().unwrap();
    p.push(script(
        "C: a1 STARTTLS\nS: a1 OK Begin TLS\nS: * OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] injected",
    ));
    assert!(p.run());
    assert!(matches!(failed_with(&p), Error::Misbehaviour(m) if m.reason.contains("STARTTLS")));
}

#[test]
fn bye_greeting_is_closed() {
    let mut p = Pair::new(config(), script("S: * BYE Too many connections"));
    p.run();
    assert!(matches!(failed_with(&p), Error::Closed(Closed::Bye { .. })));
}

#[test]
fn eof_mid_line_and_misuse_after_failure() {
    let mut p = logged_in("IMAP4rev1");
    let id = p.conn.noop().unwrap();
    p.push(vec![
        crate::support::Step::Expect(b"a2 NOOP\r\n".to_vec()),
        crate::support::Step::Send(b"a2 OK NO".to_vec()),
        crate::support::Step::Eof,
    ]);
    assert!(p.run());
    assert_eq!(
        p.err(id),
        &Error::Closed(Closed::Eof {
            inside_literal: false,
            inside_line: true
        })
    );
    let sticky = p.conn.capability().unwrap_err();
    assert_eq!(&sticky, p.err(id));
    assert!(sticky.is_fatal());
}

#[test]
fn invalid_arguments_are_misuse_not_panics() {
    let mut p = logged_in("IMAP4rev1 MOVE UIDPLUS NOTIFY");
    assert!(matches!(
        p.conn
            .append(&MailboxName::inbox(), &[], Arc::from(&b"a\0b"[..])),
        Err(Error::Misuse(Misuse::InvalidArgument { .. }))
    ));
    // A mailbox name with a NUL cannot even be built, so no command can send it.
    assert!(matches!(
        MailboxName::from_wire("bad\0name"),
        Err(MailboxNameError::BadCharacter { ch: '\0', .. })
    ));
    assert!(matches!(
        p.conn.status(&MailboxName::inbox(), &[]),
        Err(Error::Misuse(Misuse::InvalidArgument { .. }))
    ));
    assert!(matches!(
        p.conn.notify("SET\r\nX"),
        Err(Error::Misuse(Misuse::InvalidArgument { .. }))
    ));
    assert_eq!(
        p.conn.idle_done(p.now),
        Err(Error::Misuse(Misuse::NotIdling))
    );
    assert_eq!(
        p.conn.tls_established(),
        Err(Error::Misuse(Misuse::NoUpgradePending))
    );
}

#[test]
fn config_values_out_of_bounds_are_rejected_not_repaired() {
    let now = std::time::Instant::now();
    let rejected = |change: fn(&mut Config)| {
        let mut cfg = config();
        change(&mut cfg);
        match Connection::new(cfg, now) {
            Err(ConfigError::OutOfBounds { field, .. }) => field,
            Ok(_) => panic!("accepted"),
            Err(other) => panic!("{other}"),
        }
    };
    // Values Connection::new used to repair silently.
    assert_eq!(rejected(|c| c.transmit_chunk = 0), "transmit_chunk");
    assert_eq!(rejected(|c| c.tag_prefix = String::new()), "tag_prefix");
    assert_eq!(rejected(|c| c.tag_prefix = "a-1".into()), "tag_prefix");
    assert_eq!(
        rejected(|c| c.idle_refresh = Duration::from_secs(29 * 60 + 1)),
        "idle_refresh"
    );
    // Values it could not honour.
    assert_eq!(
        rejected(|c| c.idle_refresh = Duration::ZERO),
        "idle_refresh"
    );
    assert_eq!(
        rejected(|c| c.keepalive = Some(Duration::ZERO)),
        "keepalive"
    );
    assert_eq!(
        rejected(|c| c.command_timeout = Duration::ZERO),
        "command_timeout"
    );
    assert_eq!(
        rejected(|c| c.greeting_timeout = Duration::ZERO),
        "greeting_timeout"
    );
    assert_eq!(rejected(|c| c.limits.max_line = 0), "limits.max_line");
    assert_eq!(
        rejected(|c| c.limits.max_untagged_per_command = 0),
        "limits.max_untagged_per_command"
    );
    // The bounds themselves are fine, and a zero idle_silence means off, as documented.
    let mut cfg = config();
    cfg.idle_refresh = Duration::from_secs(29 * 60);
    cfg.tag_prefix = "Vm7".into();
    cfg.idle_silence = Some(Duration::ZERO);
    assert!(Connection::new(cfg, now).is_ok());
    // The message names the field, the value and what is allowed.
    let mut cfg = config();
    cfg.transmit_chunk = 0;
    assert_eq!(
        Connection::new(cfg, now).unwrap_err().to_string(),
        "transmit_chunk = 0 is out of bounds: more than 0"
    );
}
