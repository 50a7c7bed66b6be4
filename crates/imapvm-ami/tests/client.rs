//! The AMI client against scripted server transcripts in Asterisk's real
//! framing, with simulated time: login, actions, events, keepalive, faults,
//! limits, and input split at every byte boundary; configuration checks; the `Core` trait.

// A panic in a test is a failure with a message; helpers here may unwrap.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use imapvm_ami::{
    Action, Client, ClientConfig, Closed, ConfigError, Credentials, Error, Event, LimitExceeded,
    LimitKind, Limits, Misbehaviour, Refusal, Secret, State,
};
use imapvm_types::sansio::{Core, Transmit as _};
use proptest::prelude::*;

const BANNER: &[u8] = b"Asterisk Call Manager/5.0.6\r\n";
const CANARY: &str = "canary-pw-7f3e";

fn client(now: Instant) -> Client {
    let creds = Credentials {
        username: "imapvm".into(),
        secret: Secret::new(CANARY),
    };
    Client::new(creds, ClientConfig::default(), now).unwrap()
}

fn drain_transmits(c: &mut Client, now: Instant) -> Vec<String> {
    std::iter::from_fn(|| c.poll_transmit(now))
        .map(|t| String::from_utf8(t.as_bytes().to_vec()).unwrap())
        .collect()
}

fn drain_events(c: &mut Client) -> Vec<Event> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

fn logged_in(now: Instant) -> Client {
    let mut c = client(now);
    c.handle_input(BANNER, now);
    drain_transmits(&mut c, now);
    c.handle_input(
        b"Response: Success\r\nActionID: imapvm-1\r\nMessage: Authentication accepted\r\n\r\n",
        now,
    );
    c.handle_input(
        b"Event: FullyBooted\r\nPrivilege: system,all\r\nStatus: Fully Booted\r\n\r\n",
        now,
    );
    assert_eq!(c.state(), State::Ready);
    drain_events(&mut c);
    c
}

#[test]
fn login_is_sent_after_the_banner_with_events_off() {
    let now = Instant::now();
    let mut c = client(now);
    assert!(
        c.poll_transmit(now).is_none(),
        "nothing may be sent before the banner"
    );
    c.handle_input(BANNER, now);
    let sent = drain_transmits(&mut c, now);
    assert_eq!(
        sent,
        vec![format!(
            "Action: Login\r\nActionID: imapvm-1\r\nUsername: imapvm\r\nSecret: {CANARY}\r\nEvents: off\r\n\r\n"
        )]
    );
    assert_eq!(c.state(), State::LoggingIn);
    assert_eq!(
        drain_events(&mut c),
        vec![Event::Banner {
            version: "5.0.6".into()
        }]
    );
}

#[test]
fn voicemail_refresh_and_mwi_update_have_asterisks_framing() {
    let now = Instant::now();
    let mut c = logged_in(now);
    let refresh = c
        .send(Action::voicemail_refresh("default", "1234").unwrap(), now)
        .unwrap();
    let update = c
        .send(Action::mwi_update("1234", "default", 2, 5).unwrap(), now)
        .unwrap();
    assert_eq!(
        drain_transmits(&mut c, now),
        vec![
            "Action: VoicemailRefresh\r\nActionID: imapvm-2\r\nContext: default\r\nMailbox: 1234\r\n\r\n".to_string(),
            "Action: MWIUpdate\r\nActionID: imapvm-3\r\nMailbox: 1234@default\r\nNewMessages: 2\r\nOldMessages: 5\r\n\r\n"
                .to_string(),
        ]
    );
    // Responses in the other order, with an event in between.
    c.handle_input(
        b"Response: Error\r\nActionID: imapvm-3\r\nMessage: Invalid command\r\n\r\n\
          Event: MessageWaiting\r\nMailbox: 1234@default\r\nWaiting: 1\r\n\r\n\
          Response: Success\r\nActionID: imapvm-2\r\nMessage: Refreshed\r\n\r\n",
        now,
    );
    let events = drain_events(&mut c);
    assert_eq!(events.len(), 3, "{events:?}");
    match &events[0] {
        Event::Response { id, response } => {
            assert_eq!(*id, update);
            assert!(!response.is_success());
            assert_eq!(response.message(), Some("Invalid command"));
        }
        other => panic!("{other:?}"),
    }
    match &events[1] {
        Event::Event(p) => {
            assert_eq!(p.event(), Some("MessageWaiting"));
            assert_eq!(
                p.get("mailbox"),
                Some("1234@default"),
                "keys are case-insensitive"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(&events[2], Event::Response { id, response } if *id == refresh && response.is_success())
    );
}

#[test]
fn actions_sent_before_login_wait_for_it() {
    let now = Instant::now();
    let mut c = client(now);
    let id = c
        .send(Action::voicemail_refresh("sales", "2001").unwrap(), now)
        .unwrap();
    c.handle_input(BANNER, now);
    let sent = drain_transmits(&mut c, now);
    assert_eq!(
        sent.len(),
        1,
        "only the login before it is accepted: {sent:?}"
    );
    c.handle_input(b"Response: Success\r\nActionID: imapvm-1\r\n\r\n", now);
    let sent = drain_transmits(&mut c, now);
    assert_eq!(sent.len(), 1);
    assert!(sent[0].contains(&format!("ActionID: {id}\r\n")), "{sent:?}");
}

#[test]
fn refused_login_fails_and_reports_the_queued_actions() {
    let now = Instant::now();
    let mut c = client(now);
    let id = c
        .send(Action::voicemail_refresh("default", "1234").unwrap(), now)
        .unwrap();
    c.handle_input(BANNER, now);
    c.handle_input(
        b"Response: Error\r\nActionID: imapvm-1\r\nMessage: Authentication failed\r\n\r\n",
        now,
    );
    assert_eq!(c.state(), State::Failed);
    let events = drain_events(&mut c);
    assert_eq!(
        events.last(),
        Some(&Event::Failed {
            error: Error::Refused(Refusal {
                action: "Login",
                message: "Authentication failed".into()
            }),
            unanswered: vec![id],
        })
    );
    // A failed client refuses further work with the same error.
    let err = c.send(Action::ping(), now).unwrap_err();
    assert_eq!(
        err,
        Error::Refused(Refusal {
            action: "Login",
            message: "Authentication failed".into()
        })
    );
    assert!(err.is_fatal());
}

#[test]
fn quiet_link_sends_a_ping_and_swallows_the_pong() {
    let t0 = Instant::now();
    let mut c = logged_in(t0);
    let keepalive = ClientConfig::default().keepalive;
    assert_eq!(c.poll_timeout(), Some(t0 + keepalive));
    c.handle_timeout(t0 + keepalive - Duration::from_millis(1));
    assert!(
        c.poll_transmit(t0 + keepalive - Duration::from_millis(1))
            .is_none(),
        "no ping before the keepalive interval"
    );
    let t1 = t0 + keepalive;
    c.handle_timeout(t1);
    let sent = drain_transmits(&mut c, t1);
    assert_eq!(
        sent,
        vec!["Action: Ping\r\nActionID: imapvm-2\r\n\r\n".to_string()]
    );
    c.handle_input(
        b"Response: Success\r\nActionID: imapvm-2\r\nPing: Pong\r\nTimestamp: 1.0\r\n\r\n",
        t1,
    );
    assert!(
        drain_events(&mut c).is_empty(),
        "the keepalive's answer is internal"
    );
    assert_eq!(c.poll_timeout(), Some(t1 + keepalive));
}

#[test]
fn an_unanswered_ping_fails_the_session_so_the_driver_reconnects() {
    let t0 = Instant::now();
    let mut c = logged_in(t0);
    let cfg = ClientConfig::default();
    c.handle_timeout(t0 + cfg.keepalive);
    drain_transmits(&mut c, t0 + cfg.keepalive);
    let deadline = c.poll_timeout().unwrap();
    assert_eq!(deadline, t0 + cfg.keepalive + cfg.response_timeout);
    c.handle_timeout(deadline);
    assert_eq!(c.state(), State::Failed);
    assert!(
        matches!(c.error(), Some(Error::Timeout { waiting_for }) if waiting_for.contains("Ping"))
    );
}

#[test]
fn a_server_that_never_greets_times_out() {
    let t0 = Instant::now();
    let mut c = client(t0);
    let deadline = c.poll_timeout().unwrap();
    assert_eq!(deadline, t0 + ClientConfig::default().response_timeout);
    c.handle_timeout(deadline);
    assert!(matches!(c.error(), Some(Error::Timeout { .. })));
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn something_that_is_not_ami_is_refused_with_the_bytes() {
    let now = Instant::now();
    let mut c = client(now);
    c.handle_input(b"* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n", now);
    match c.error() {
        Some(Error::Misbehaviour(Misbehaviour { received, .. })) => {
            assert!(received.contains("Dovecot"))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn line_and_packet_limits_are_enforced_without_growing_memory() {
    let now = Instant::now();
    let limits = Limits {
        max_line: 64,
        max_packet_lines: 4,
        max_outstanding: 2,
    };
    let config = ClientConfig {
        limits,
        ..ClientConfig::default()
    };
    let creds = || Credentials {
        username: "u".into(),
        secret: Secret::new("p"),
    };

    // A line that never ends.
    let mut c = Client::new(creds(), config.clone(), now).unwrap();
    c.handle_input(BANNER, now);
    c.handle_input(&[b'x'; 65], now);
    assert!(
        matches!(
            c.error(),
            Some(Error::Limit(LimitExceeded {
                kind: LimitKind::LineLength,
                ..
            }))
        ),
        "{:?}",
        c.error()
    );

    // A packet with too many lines.
    let mut c = Client::new(creds(), config.clone(), now).unwrap();
    c.handle_input(BANNER, now);
    c.handle_input(b"Event: X\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n", now);
    assert!(matches!(
        c.error(),
        Some(Error::Limit(LimitExceeded {
            kind: LimitKind::PacketLines,
            ..
        }))
    ));

    // Too many outstanding actions is the caller's problem, reported as misuse.
    let mut c = Client::new(creds(), config, now).unwrap();
    c.send(Action::ping(), now).unwrap();
    c.send(Action::ping(), now).unwrap();
    assert!(matches!(c.send(Action::ping(), now), Err(Error::Misuse(_))));
}

#[test]
fn header_values_cannot_inject_lines() {
    let err = Action::voicemail_refresh("default\r\nAction: Originate", "1234").unwrap_err();
    assert!(matches!(err, Error::Misuse(_)));
    assert!(Action::new("Bad Name").is_err());
    assert!(
        Action::new("X").unwrap().header("ActionID", "1").is_err(),
        "the client owns ActionID"
    );
}

#[test]
fn secrets_never_show_in_debug_or_traces() {
    let now = Instant::now();
    let mut c = client(now);
    c.handle_input(BANNER, now);
    let login = c.poll_transmit(now).unwrap();
    assert!(
        String::from_utf8_lossy(login.as_bytes()).contains(CANARY),
        "the wire carries it"
    );
    let shown = [format!("{login}"), format!("{login:?}"), format!("{c:?}")];
    for text in shown {
        assert!(!text.contains(CANARY), "secret leaked: {text}");
    }
    let action = Action::new("Login")
        .unwrap()
        .header("Secret", CANARY)
        .unwrap();
    assert!(!format!("{action:?}").contains(CANARY));
}

#[test]
fn unknown_action_ids_are_unmatched_not_misattributed() {
    let now = Instant::now();
    let mut c = logged_in(now);
    let _id = c.send(Action::ping(), now).unwrap();
    c.handle_input(
        b"Response: Success\r\nActionID: someone-else-9\r\n\r\n",
        now,
    );
    assert!(matches!(
        drain_events(&mut c).as_slice(),
        [Event::Unmatched(_)]
    ));
}

#[test]
fn eof_during_login_and_logoff() {
    let now = Instant::now();
    let mut c = client(now);
    c.handle_input(BANNER, now);
    c.handle_eof();
    assert_eq!(
        c.error(),
        Some(&Error::Closed(Closed::Eof { during_login: true }))
    );

    let mut c = logged_in(now);
    c.logoff(now).unwrap();
    let sent = drain_transmits(&mut c, now);
    assert_eq!(
        sent,
        vec!["Action: Logoff\r\nActionID: imapvm-2\r\n\r\n".to_string()]
    );
    c.handle_input(
        b"Response: Goodbye\r\nActionID: imapvm-2\r\nMessage: Thanks for all the fish.\r\n\r\n",
        now,
    );
    assert_eq!(c.state(), State::Closed);
    assert_eq!(drain_events(&mut c), vec![Event::Closed]);
    c.handle_eof();
    assert_eq!(c.state(), State::Closed, "EOF after logoff is not an error");
}

/// The server's side of a whole session: banner, login OK, an event, the
/// responses to two actions.
const SESSION: &[u8] = b"Asterisk Call Manager/5.0.6\r\n\
Response: Success\r\nActionID: imapvm-1\r\nMessage: Authentication accepted\r\n\r\n\
Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: 10\r\n\r\n\
Response: Success\r\nActionID: imapvm-2\r\nMessage: Refreshed\r\n\r\n\
Response: Success\r\nActionID: imapvm-3\r\n\r\n";

fn run_session(chunks: &[&[u8]]) -> (Vec<Event>, Vec<String>) {
    let now = Instant::now();
    let mut c = client(now);
    c.send(Action::voicemail_refresh("default", "1234").unwrap(), now)
        .unwrap();
    c.send(Action::mwi_update("1234", "default", 1, 0).unwrap(), now)
        .unwrap();
    for chunk in chunks {
        c.handle_input(chunk, now);
    }
    (drain_events(&mut c), drain_transmits(&mut c, now))
}

#[test]
fn lf_only_line_ends_are_accepted() {
    let lf: Vec<u8> = SESSION.iter().copied().filter(|&b| b != b'\r').collect();
    assert_eq!(run_session(&[&lf]), run_session(&[SESSION]));
}

proptest! {
    #[test]
    fn any_split_of_the_input_gives_the_same_session(cuts in proptest::collection::vec(0..SESSION.len(), 0..40)) {
        let whole = run_session(&[SESSION]);
        prop_assert_eq!(whole.0.len(), 5, "banner, logged in, event, two responses: {:?}", whole.0);
        let mut cuts = cuts;
        cuts.sort_unstable();
        cuts.dedup();
        let mut chunks = Vec::new();
        let mut last = 0;
        for cut in cuts {
            chunks.push(&SESSION[last..cut]);
            last = cut;
        }
        chunks.push(&SESSION[last..]);
        prop_assert_eq!(run_session(&chunks), whole);
    }

    #[test]
    fn arbitrary_server_bytes_never_panic_and_stay_bounded(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let now = Instant::now();
        let mut c = client(now);
        c.handle_input(BANNER, now);
        c.handle_input(&bytes, now);
        c.handle_timeout(now + Duration::from_secs(3600));
        // Whatever happened, the client either works or failed with a typed error.
        prop_assert!(c.state() != State::Failed || c.error().is_some());
    }
}

#[test]
fn one_byte_at_a_time() {
    let chunks: Vec<&[u8]> = SESSION.chunks(1).collect();
    assert_eq!(run_session(&chunks), run_session(&[SESSION]));
}

#[test]
fn config_values_out_of_bounds_are_rejected_naming_the_field() {
    let now = Instant::now();
    let creds = || Credentials {
        username: "imapvm".into(),
        secret: Secret::new(CANARY),
    };
    let field_of = |config: ClientConfig, creds: Credentials| match Client::new(creds, config, now)
    {
        Err(ConfigError::OutOfBounds { field, value, .. }) => (field, value),
        other => panic!("{other:?}"),
    };
    let zero_keepalive = ClientConfig {
        keepalive: Duration::ZERO,
        ..ClientConfig::default()
    };
    assert_eq!(field_of(zero_keepalive, creds()).0, "keepalive");
    let zero_timeout = ClientConfig {
        response_timeout: Duration::ZERO,
        ..ClientConfig::default()
    };
    assert_eq!(field_of(zero_timeout, creds()).0, "response_timeout");
    let no_actions = ClientConfig {
        limits: Limits {
            max_outstanding: 0,
            ..Limits::default()
        },
        ..ClientConfig::default()
    };
    assert_eq!(field_of(no_actions, creds()).0, "limits.max_outstanding");

    // Credentials that would inject lines into the Login action: refused before connecting,
    // and the secret is not shown even then.
    let mut bad_user = creds();
    bad_user.username = "imapvm\r\nAction: Originate".into();
    assert_eq!(
        field_of(ClientConfig::default(), bad_user).0,
        "credentials.username"
    );
    let bad_secret = Credentials {
        username: "imapvm".into(),
        secret: Secret::new(format!("{CANARY}\r\nAction: Originate")),
    };
    let (field, value) = field_of(ClientConfig::default(), bad_secret.clone());
    assert_eq!(field, "credentials.secret");
    let shown = Client::new(bad_secret, ClientConfig::default(), now)
        .unwrap_err()
        .to_string();
    assert!(
        !value.contains(CANARY) && !shown.contains(CANARY),
        "{shown}"
    );
}

#[test]
fn a_failed_session_returns_its_own_error_and_it_is_fatal() {
    let t0 = Instant::now();
    let mut c = client(t0);
    let deadline = c.poll_timeout().unwrap();
    c.handle_timeout(deadline);
    let error = c.error().cloned().unwrap();
    assert!(error.is_fatal());
    assert_eq!(c.send(Action::ping(), deadline), Err(error.clone()));
    assert_eq!(c.logoff(deadline), Err(error));
    // Misuse is the one error that leaves the session usable.
    let misuse = Action::new("Bad Name").unwrap_err();
    assert!(!misuse.is_fatal());
}

/// Feeds `input` at `now` and drains in the documented order (transmits, then events),
/// knowing nothing of AMI.
fn core_step<C: Core>(core: &mut C, input: &[u8], now: Instant) -> (Vec<String>, Vec<C::Event>) {
    if !input.is_empty() {
        core.handle_input(input, now);
    }
    let traces = std::iter::from_fn(|| core.poll_transmit(now))
        .map(|t| t.trace().into_owned())
        .collect();
    (traces, std::iter::from_fn(|| core.poll_event()).collect())
}

#[test]
fn a_short_session_through_the_core_trait() {
    let t0 = Instant::now();
    let mut c = client(t0);
    let refresh = c
        .send(Action::voicemail_refresh("default", "1234").unwrap(), t0)
        .unwrap();
    let (sent, events) = core_step(&mut c, BANNER, t0);
    assert_eq!(
        sent,
        vec![
            "Action: Login\r\nActionID: imapvm-1\r\nUsername: imapvm\r\nSecret: ***\r\nEvents: off\r\n\r\n"
                .to_string()
        ],
        "the trait's trace redacts"
    );
    assert_eq!(
        events,
        vec![Event::Banner {
            version: "5.0.6".into()
        }]
    );
    let (sent, events) = core_step(
        &mut c,
        b"Response: Success\r\nActionID: imapvm-1\r\n\r\n",
        t0,
    );
    assert_eq!(sent.len(), 1, "the queued action goes out: {sent:?}");
    assert_eq!(events, vec![Event::LoggedIn]);
    let (_, events) = core_step(
        &mut c,
        b"Response: Success\r\nActionID: imapvm-2\r\n\r\n",
        t0,
    );
    assert!(matches!(&events[..], [Event::Response { id, .. }] if *id == refresh));

    // The timer: a keepalive Ping when quiet.
    let at = Core::poll_timeout(&c).unwrap();
    assert_eq!(at, t0 + ClientConfig::default().keepalive);
    Core::handle_timeout(&mut c, at);
    let (sent, _) = core_step(&mut c, b"", at);
    assert_eq!(
        sent,
        vec!["Action: Ping\r\nActionID: imapvm-3\r\n\r\n".to_string()]
    );

    // The end of the stream fails the session; the unanswered Ping is internal.
    Core::handle_eof(&mut c);
    let (_, events) = core_step(&mut c, b"", at);
    assert_eq!(
        events,
        vec![Event::Failed {
            error: Error::Closed(Closed::Eof {
                during_login: false
            }),
            unanswered: Vec::new(),
        }]
    );
}
