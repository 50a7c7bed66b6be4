//! The connection driven only through `imapvm_types::sansio::Core`, as a generic driver does:
//! the trait methods are the inherent ones (input, drain order, timer, end of stream).

use crate::support::config;
use imapvm_proto::*;
use imapvm_types::sansio::{Core, Transmit as _};
use std::time::{Duration, Instant};

/// Feeds `input` at `now`, then drains in the documented order: every transmit, then every
/// event. Knows nothing of IMAP.
fn step<C: Core>(
    core: &mut C,
    input: &[u8],
    now: Instant,
) -> (Vec<u8>, Vec<String>, Vec<C::Event>) {
    if !input.is_empty() {
        core.handle_input(input, now);
    }
    let mut wire = Vec::new();
    let mut traces = Vec::new();
    while let Some(t) = core.poll_transmit(now) {
        wire.extend_from_slice(t.as_bytes());
        traces.push(t.trace().into_owned());
    }
    let events = std::iter::from_fn(|| core.poll_event()).collect();
    (wire, traces, events)
}

/// Fires the core's timer: `handle_timeout` at `poll_timeout`, then drains.
fn fire<C: Core>(core: &mut C) -> Option<(Instant, Vec<u8>, Vec<C::Event>)> {
    let at = core.poll_timeout()?;
    core.handle_timeout(at);
    let (wire, _, events) = step(core, b"", at);
    Some((at, wire, events))
}

#[test]
fn a_short_exchange_through_the_core_trait() {
    let t0 = Instant::now();
    let mut cfg = config();
    cfg.keepalive = Some(Duration::from_secs(300));
    let mut conn = Connection::new(cfg, t0).unwrap();

    let (wire, _, events) = step(
        &mut conn,
        b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n",
        t0,
    );
    assert!(wire.is_empty());
    assert_eq!(events, vec![Event::Greeting(Greeting::Ok)]);

    let login = conn.login("alice", &Secret::new("canary-pw")).unwrap();
    let (wire, traces, _) = step(&mut conn, b"", t0);
    assert_eq!(wire, b"a1 LOGIN alice canary-pw\r\n");
    assert_eq!(
        traces,
        vec!["a1 LOGIN ***".to_owned()],
        "the trait's trace redacts"
    );

    let (_, _, events) = step(&mut conn, b"a1 OK logged in\r\n", t0);
    assert_eq!(
        events,
        vec![Event::Completed {
            id: login,
            result: Ok(Outcome::Authenticated {
                capabilities_known: false
            })
        }]
    );

    // Quiet and authenticated: the core's timer is the keepalive, and it writes a NOOP.
    let (at, wire, events) = fire(&mut conn).unwrap();
    assert_eq!(at, t0 + Duration::from_secs(300));
    assert_eq!(wire, b"a2 NOOP\r\n");
    assert!(events.is_empty(), "an internal NOOP reports nothing");

    // The peer goes away: the failure is an event and sticks.
    conn.handle_eof();
    let (_, _, events) = step(&mut conn, b"", at);
    let error = Error::Closed(Closed::Eof {
        inside_literal: false,
        inside_line: false,
    });
    assert_eq!(events, vec![Event::Failed(error.clone())]);
    assert_eq!(conn.poll_timeout(), None);
    assert_eq!(conn.noop(), Err(error));
}
