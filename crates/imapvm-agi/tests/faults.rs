//! Limits, deadlines with simulated time, misuse, sticky failure, redaction, the environment's
//! edge cases, and the `Core` trait.

use crate::support::{ENV, Harness};
use crate::transcripts::{record, stream, wait};
use imapvm_agi::*;
use imapvm_types::sansio::{Core, Transmit as _};
use std::time::{Duration, Instant};

fn failed(events: &[Event]) -> &Error {
    match events {
        [.., Event::Failed(e)] => e,
        other => panic!("expected a failure, got {other:?}"),
    }
}

fn env_error(block: &str) -> Error {
    Env::parse(block.as_bytes(), &Limits::default()).unwrap_err()
}

fn misbehaviour(e: &Error) -> &MisbehaviourReason {
    match e {
        Error::Misbehaviour(m) => &m.reason,
        other => panic!("expected misbehaviour, got {other:?}"),
    }
}

// ------------------------------------------------------------------ environment

#[test]
fn environment_arguments_must_be_numbered_from_one_in_order() {
    let gap = ENV.replace("agi_arg_2: u", "agi_arg_3: u");
    assert_eq!(
        misbehaviour(&env_error(&gap)),
        &MisbehaviourReason::ArgumentOutOfOrder
    );
    let dup = ENV.replace("agi_arg_2: u", "agi_arg_1: u");
    assert_eq!(
        misbehaviour(&env_error(&dup)),
        &MisbehaviourReason::DuplicateKey("agi_arg_1".into())
    );
    let zero = ENV.replace("agi_arg_1: 1234@default", "agi_arg_0: x");
    assert!(env_error(&zero).to_string().contains("agi_arg"));
    let padded = ENV.replace("agi_arg_2: u", "agi_arg_02: u");
    assert_eq!(
        misbehaviour(&env_error(&padded)),
        &MisbehaviourReason::ArgumentOutOfOrder
    );
    // Empty values are kept, with or without the space.
    let empty = ENV.replace("agi_arg_2: u\n", "agi_arg_2: \nagi_arg_3:\n");
    let env = Env::parse(empty.as_bytes(), &Limits::default()).unwrap();
    assert_eq!(env.args, ["1234@default", "", ""]);
}

#[test]
fn environment_keys_missing_duplicated_unknown_or_unreadable() {
    let missing = ENV.replace("agi_channel: Local/1234@agi-leave-00000003;2\n", "");
    assert_eq!(
        misbehaviour(&env_error(&missing)),
        &MisbehaviourReason::MissingKey("agi_channel")
    );
    let twice = ENV.replace("agi_language: en\n", "agi_language: en\nagi_language: de\n");
    assert_eq!(
        misbehaviour(&env_error(&twice)),
        &MisbehaviourReason::DuplicateKey("agi_language".into())
    );
    let bad = ENV.replace("agi_priority: 2", "agi_priority: two");
    assert_eq!(
        misbehaviour(&env_error(&bad)),
        &MisbehaviourReason::BadValue("agi_priority")
    );
    let eagi = ENV.replace("agi_enhanced: 0.0", "agi_enhanced: 1.0");
    assert!(
        Env::parse(eagi.as_bytes(), &Limits::default())
            .unwrap()
            .enhanced
    );

    let unknown = ENV.replace("agi_arg_1:", "agi_future: 42\nagi_arg_1:");
    let env = Env::parse(unknown.as_bytes(), &Limits::default()).unwrap();
    assert_eq!(env.extra, [("agi_future".to_owned(), "42".to_owned())]);

    let no_script = ENV.replace("agi_network_script: voicemail\n", "");
    assert_eq!(
        Env::parse(no_script.as_bytes(), &Limits::default())
            .unwrap()
            .script,
        None
    );
    let query = ENV.replace(
        "agi_network_script: voicemail",
        "agi_network_script: voicemailmain?box=1234&skip",
    );
    let script = Env::parse(query.as_bytes(), &Limits::default())
        .unwrap()
        .script
        .unwrap();
    assert_eq!(script.path, "voicemailmain");
    assert_eq!(script.param("box"), Some("1234"));
    assert_eq!(script.params().count(), 2);
}

#[test]
fn environment_cr_is_data() {
    let crlf = ENV.replace("agi_language: en\n", "agi_language: en\r\n");
    assert_eq!(
        Env::parse(crlf.as_bytes(), &Limits::default())
            .unwrap()
            .language,
        "en\r"
    );
    let number = ENV.replace("agi_priority: 2\n", "agi_priority: 2\r\n");
    assert_eq!(
        misbehaviour(&env_error(&number)),
        &MisbehaviourReason::BadValue("agi_priority")
    );
    // A CRLF peer's "\r" line is not the blank line.
    let blank = format!("{}\r\n", &ENV[..ENV.len() - 1]);
    assert_eq!(
        misbehaviour(&env_error(&blank)),
        &MisbehaviourReason::NotAnEnvironmentLine
    );
}

#[test]
fn environment_values_that_are_not_utf8_are_listed() {
    let mut bytes = ENV.as_bytes().to_vec();
    let at = ENV.find("Bob Caller").unwrap();
    bytes[at + 1] = 0xf6; // Latin-1 "ö"
    let env = Env::parse(&bytes, &Limits::default()).unwrap();
    assert_eq!(env.lossy, ["agi_calleridname"]);
    assert_eq!(env.calleridname.as_deref(), Some("B\u{fffd}b Caller"));
}

// ------------------------------------------------------------------ limits

#[test]
fn a_line_longer_than_the_limit_fails_before_its_lf_arrives() {
    let mut h = Harness::ready();
    h.send(
        Command::GetVariable {
            name: VarName::new("X").unwrap(),
        },
        "GET VARIABLE X\n",
    );
    h.peer(format!("200 result=1 ({}", "x".repeat(8192)));
    let e = failed(&h.take()).clone();
    assert!(matches!(
        e,
        Error::Limit(LimitExceeded {
            kind: LimitKind::LineLength,
            max: 8192,
            ..
        })
    ));
    assert!(e.is_fatal());
    // Nothing more is read or buffered.
    h.peer("x".repeat(100_000));
    assert!(h.take().is_empty());

    let mut h = Harness::ready();
    h.send(Command::Noop, "NOOP\n");
    h.peer(format!("200 result=1 ({})\n", "x".repeat(8200)));
    assert!(matches!(failed(&h.take()), Error::Limit(_)));
}

#[test]
fn the_environment_is_bounded_in_lines_and_bytes() {
    let lines = Limits {
        max_env_lines: 10,
        ..Limits::default()
    };
    let mut h = Harness::new(Config {
        limits: lines,
        ..Config::default()
    });
    h.peer(ENV);
    assert!(matches!(
        failed(&h.take()),
        Error::Limit(LimitExceeded {
            kind: LimitKind::EnvironmentLines,
            actual: 11,
            max: 10
        })
    ));

    let bytes = Limits {
        max_env_bytes: 200,
        ..Limits::default()
    };
    assert!(matches!(
        Env::parse(ENV.as_bytes(), &bytes),
        Err(Error::Limit(LimitExceeded {
            kind: LimitKind::EnvironmentBytes,
            ..
        }))
    ));
    // A peer that never ends the block cannot make the channel hold more.
    let mut h = Harness::new(Config::default());
    let mut n = 0;
    while h.ch.state() == State::AwaitingEnvironment {
        n += 1;
        h.peer(format!("agi_x{n}: {}\n", "v".repeat(100)));
    }
    assert!(n < 1000);
    assert!(matches!(failed(&h.take()), Error::Limit(_)));
}

#[test]
fn usage_text_is_bounded() {
    let mut h = Harness::new(Config {
        limits: Limits {
            max_usage_lines: 3,
            ..Limits::default()
        },
        ..Config::default()
    });
    h.peer(ENV);
    h.take();
    h.send(Command::Answer, "ANSWER\n");
    h.peer("520-Invalid command syntax.  Proper usage follows:\n1\n2\n3\n4\n");
    assert!(matches!(
        failed(&h.take()),
        Error::Limit(LimitExceeded {
            kind: LimitKind::UsageLines,
            ..
        })
    ));
}

#[test]
fn commands_beyond_res_agi_line_limit_are_refused_not_sent() {
    let mut h = Harness::ready();
    let long = Command::SetVariable {
        name: VarName::new("X").unwrap(),
        value: Text::new(&"v".repeat(MAX_COMMAND_LINE)).unwrap(),
    };
    let e = h.ch.send(long, h.now).unwrap_err();
    assert!(matches!(
        e,
        Error::Limit(LimitExceeded {
            kind: LimitKind::CommandLine,
            ..
        })
    ));
    assert!(!e.is_fatal());
    h.drain();
    assert!(h.sent.is_empty());
    assert_eq!(h.ch.state(), State::Ready);
    h.send(Command::Noop, "NOOP\n");
}

// ------------------------------------------------------------------ time

#[test]
fn the_environment_has_a_deadline() {
    let mut h = Harness::new(Config::default());
    let start = h.now;
    assert_eq!(h.ch.poll_timeout(), Some(start + Duration::from_secs(10)));
    h.peer("agi_network: yes\n");
    h.ch.handle_timeout(start + Duration::from_secs(9));
    h.drain();
    assert!(h.take().is_empty());
    h.ch.handle_timeout(start + Duration::from_secs(10));
    h.drain();
    assert_eq!(
        failed(&h.take()),
        &Error::Timeout {
            waiting_for: WaitingFor::Environment
        }
    );
    assert_eq!(h.ch.poll_timeout(), None);
}

#[test]
fn each_command_gets_a_deadline_from_itself_or_the_caller() {
    let t = Timeouts::default();
    let cases: Vec<(Request, Duration)> = vec![
        (Command::Answer.into(), t.response),
        (wait(2000).into(), Duration::from_secs(2) + t.slack),
        (record().into(), Duration::from_secs(10) + t.slack),
        (stream("vm-intro").into(), t.media),
        (
            Request::new(stream("msg0000")).timeout(Duration::from_secs(3600)),
            Duration::from_secs(3600),
        ),
        (Command::WaitForDigit { timeout: None }.into(), t.media),
        (
            Command::GetOption {
                file: SoundName::new("vm-options").unwrap(),
                escape: Digits::ANY,
                timeout: Some(Duration::from_secs(3)),
            }
            .into(),
            t.media + Duration::from_secs(3) + t.slack,
        ),
    ];
    for (request, bound) in cases {
        let mut h = Harness::ready();
        let name = request.command().name();
        h.ch.send(request, h.now).unwrap();
        assert_eq!(h.ch.poll_timeout(), Some(h.now + bound), "{name}");
        h.ch.handle_timeout(h.now + bound - Duration::from_millis(1));
        h.drain();
        assert!(h.take().is_empty(), "{name}");
        h.ch.handle_timeout(h.now + bound);
        h.drain();
        let e = failed(&h.take()).clone();
        assert_eq!(
            e,
            Error::Timeout {
                waiting_for: WaitingFor::Response { command: name }
            }
        );
        // Sticky.
        assert_eq!(h.ch.send(Command::Noop, h.now), Err(e));
    }
}

#[test]
fn an_idle_channel_has_no_deadline() {
    let h = Harness::ready();
    assert_eq!(h.ch.poll_timeout(), None);
}

#[test]
fn absurd_bounds_do_not_panic() {
    let mut h = Harness::new(Config {
        timeouts: Timeouts {
            environment: Duration::MAX,
            ..Timeouts::default()
        },
        ..Config::default()
    });
    assert!(h.ch.poll_timeout().is_some());
    h.peer(ENV);
    h.ch.send(Request::new(Command::Noop).timeout(Duration::MAX), h.now)
        .unwrap();
    assert!(h.ch.poll_timeout().unwrap() > h.now);
}

// ------------------------------------------------------------------ misuse and stickiness

#[test]
fn misuse_is_refused_and_nothing_is_sent() {
    let mut h = Harness::new(Config::default());
    assert_eq!(
        h.ch.send(Command::Answer, h.now),
        Err(Error::Misuse(Misuse::NotReady))
    );
    h.peer(ENV);
    h.take();
    let first = h.send(stream("vm-intro"), "STREAM FILE vm-intro \"\"\n");
    assert_eq!(h.ch.in_flight(), Some(first));
    assert_eq!(
        h.ch.send(Command::Answer, h.now),
        Err(Error::Misuse(Misuse::Busy {
            in_flight: "STREAM FILE"
        }))
    );
    assert_eq!(
        h.ch.close(),
        Err(Error::Misuse(Misuse::Busy {
            in_flight: "STREAM FILE"
        }))
    );
    h.drain();
    assert_eq!(h.sent.len(), 1);
    h.peer("200 result=0 endpos=100\n");
    assert!(matches!(h.take().as_slice(), [Event::Response { id, .. }] if *id == first));
    let second = h.send(Command::Answer, "ANSWER\n");
    assert!(second > first);
}

#[test]
fn a_line_with_nothing_in_flight_fails_for_good() {
    let mut h = Harness::ready();
    h.peer("200 result=0\n");
    let e = failed(&h.take()).clone();
    assert_eq!(misbehaviour(&e), &MisbehaviourReason::UnexpectedLine);
    assert!(e.is_fatal() && !e.is_hangup());
    assert_eq!(h.ch.state(), State::Failed);
    assert_eq!(h.ch.error(), Some(&e));
    assert_eq!(h.ch.send(Command::Noop, h.now), Err(e.clone()));
    assert_eq!(h.ch.close(), Err(e));
    h.peer("HANGUP\n");
    h.ch.handle_eof();
    h.ch.handle_timeout(h.now + Duration::from_secs(3600));
    h.drain();
    assert!(h.take().is_empty());
}

#[test]
fn garbage_instead_of_a_response_is_fatal() {
    for garbage in [
        "hello\n",
        "200 result=0 Gosub complete\n",
        "200-x\n",
        "HANGUP\r\n",
    ] {
        let mut h = Harness::ready();
        h.send(Command::Answer, "ANSWER\n");
        h.peer(garbage);
        assert!(failed(&h.take()).is_fatal(), "{garbage:?}");
    }
}

#[test]
fn eof_in_the_middle_says_what_was_awaited() {
    let mut h = Harness::new(Config::default());
    h.peer("agi_network: yes\nagi_req");
    h.ch.handle_eof();
    h.drain();
    assert_eq!(
        failed(&h.take()),
        &Error::Closed(Closed {
            waiting_for: Some(WaitingFor::Environment),
            partial_line: true,
            hangup_seen: false
        })
    );
}

#[test]
fn eof_while_a_command_is_in_flight() {
    let mut h = Harness::ready();
    h.ch.send(record(), h.now).unwrap();
    h.drain();
    h.peer("520-usage\nline\n");
    h.ch.handle_eof();
    h.drain();
    let e = failed(&h.take()).clone();
    assert_eq!(
        e,
        Error::Closed(Closed {
            waiting_for: Some(WaitingFor::Response {
                command: "RECORD FILE"
            }),
            partial_line: true,
            hangup_seen: false
        })
    );
    assert!(e.is_hangup() && e.is_fatal());
}

// ------------------------------------------------------------------ redaction

const PIN: &str = "4711";

#[test]
fn a_pin_entered_with_get_data_never_shows() {
    let mut h = Harness::ready();
    let get = Command::GetData {
        file: SoundName::new("vm-password").unwrap(),
        timeout: Some(Duration::from_secs(10)),
        max_digits: Some(79),
    };
    let id = h.ch.send(Request::new(get).sensitive(), h.now).unwrap();
    let t = h.ch.poll_transmit(h.now).unwrap();
    assert_eq!(t.as_bytes(), b"GET DATA vm-password 10000 79\n");
    assert_eq!(t.trace(), "GET DATA ***");
    assert_eq!(imapvm_types::sansio::Transmit::trace(&t), "GET DATA ***");
    assert!(!format!("{t:?}").contains("vm-password"));

    h.peer(format!("200 result={PIN} (timeout)\n"));
    let events = h.take();
    let shown = format!("{events:?}");
    assert!(!shown.contains(PIN), "{shown}");
    let [
        Event::Response {
            id: got,
            outcome:
                Ok(Outcome::Entered {
                    digits,
                    timed_out: true,
                }),
        },
    ] = events.as_slice()
    else {
        panic!("{events:?}");
    };
    assert_eq!(*got, id);
    assert!(digits.is_redacted());
    assert_eq!(digits.value(), PIN);
    let secret = digits.clone().into_secret();
    assert_eq!(format!("{secret:?}"), "***");
    assert_eq!(secret.expose(), PIN);

    // The same response to a command that is not sensitive shows: the check above can fail.
    let mut h = Harness::ready();
    h.send(
        Command::GetData {
            file: SoundName::new("vm-extension").unwrap(),
            timeout: None,
            max_digits: None,
        },
        "GET DATA vm-extension\n",
    );
    h.peer(format!("200 result={PIN}\n"));
    assert!(format!("{:?}", h.take()).contains(PIN));
}

#[test]
fn pin_digits_with_wait_for_digit_never_show() {
    let mut h = Harness::ready();
    let mut shown = String::new();
    for d in PIN.chars() {
        h.ch.send(Request::new(wait(10_000)).sensitive(), h.now)
            .unwrap();
        let t = h.ch.poll_transmit(h.now).unwrap();
        shown += &format!("{t:?}{}", t.trace());
        h.peer(format!("200 result={}\n", u32::from(d)));
        let events = h.take();
        let [
            Event::Response {
                outcome: Ok(Outcome::Digit { digit, .. }),
                ..
            },
        ] = events.as_slice()
        else {
            panic!("{events:?}");
        };
        assert_eq!(digit.value().map(Dtmf::as_char), Some(d));
        shown += &format!("{events:?}");
    }
    for d in PIN.chars() {
        let code = u32::from(d).to_string();
        assert!(!shown.contains(&code), "{shown}");
    }
    // Nor the keys' names (`Four`, `Seven`, `One`).
    for d in PIN.chars() {
        let name = format!("{:?}", Dtmf::from_char(d).unwrap());
        assert!(!shown.contains(&name), "{name} in {shown}");
    }
}

#[test]
fn errors_about_a_sensitive_response_hide_its_bytes() {
    // A well-framed result that does not fit: that command fails, bytes hidden.
    let mut h = Harness::ready();
    h.ch.send(Request::new(wait(1000)).sensitive(), h.now)
        .unwrap();
    h.peer(format!("200 result={PIN}\n"));
    let shown = format!("{:?}", h.take());
    assert!(
        shown.contains("UnexpectedResult") && !shown.contains(PIN),
        "{shown}"
    );
    assert_eq!(h.ch.state(), State::Ready);

    // A line that is not a response at all: fatal, bytes hidden.
    let mut h = Harness::ready();
    h.ch.send(Request::new(wait(1000)).sensitive(), h.now)
        .unwrap();
    h.peer(format!("PIN {PIN}\n"));
    let events = h.take();
    let e = failed(&events);
    assert!(!format!("{e:?}{e}").contains(PIN));
    assert!(!format!("{:?}", h.ch.error()).contains(PIN));
}

#[test]
fn a_sensitive_request_does_not_debug_its_command() {
    let say = Command::SayDigits {
        digits: SpokenDigits::new(PIN).unwrap(),
        escape: Digits::NONE,
    };
    let plain = format!("{:?}", Request::new(say.clone()));
    assert!(plain.contains(PIN));
    let hidden = format!("{:?}", Request::new(say.clone()).sensitive());
    assert!(!hidden.contains(PIN) && hidden.contains("SAY DIGITS ***"));
    let mut h = Harness::ready();
    h.ch.send(Request::new(say).sensitive(), h.now).unwrap();
    let t = h.ch.poll_transmit(h.now).unwrap();
    assert_eq!(t.as_bytes(), format!("SAY DIGITS {PIN} \"\"\n").as_bytes());
    assert_eq!(t.trace(), "SAY DIGITS ***");
}

// ------------------------------------------------------------------ the Core trait

/// A generic driver step, as `imapvm`'s one driver will run every core.
fn drive<C: Core>(core: &mut C, input: &[u8], now: Instant) -> (Vec<String>, Vec<C::Event>) {
    core.handle_input(input, now);
    let mut traces = Vec::new();
    while let Some(t) = core.poll_transmit(now) {
        traces.push(t.trace().into_owned());
    }
    (traces, std::iter::from_fn(|| core.poll_event()).collect())
}

#[test]
fn the_channel_is_a_core() {
    let now = Instant::now();
    let mut ch = Channel::new(Config::default(), now);
    let (traces, events) = drive(&mut ch, ENV.as_bytes(), now);
    assert!(traces.is_empty());
    assert!(matches!(events.as_slice(), [Event::Environment(_)]));
    ch.send(Command::Answer, now).unwrap();
    let (traces, events) = drive(&mut ch, b"200 result=0\n", now);
    assert_eq!(traces, ["ANSWER"]);
    assert!(matches!(
        events.as_slice(),
        [Event::Response {
            outcome: Ok(Outcome::Done),
            ..
        }]
    ));
    assert_eq!(Core::poll_timeout(&ch), None);
}
