//! Transcripts of real exchanges with Asterisk 22.10.1 (`docs/reference/asterisk-peer.md`,
//! "Measured"): the environment, the fake_agi dialogue with its hang-up probe, a hang-up in
//! the middle of STREAM FILE, and a 520 usage block in res_agi's framing.

use crate::support::{ENV, Harness, env_accountcode_space};
use imapvm_agi::*;
use std::time::Duration;

const DEAD: &str = "511 Command Not Permitted on a dead channel or intercept routine\n";
const REC: &str = "/tmp/run/var/spool/kit-agi/rec1";

pub fn stream(file: &str) -> Command {
    Command::StreamFile {
        file: SoundName::new(file).unwrap(),
        escape: Digits::NONE,
        offset: None,
    }
}

pub fn set(name: &str, value: &str) -> Command {
    Command::SetVariable {
        name: VarName::new(name).unwrap(),
        value: Text::new(value).unwrap(),
    }
}

pub fn wait(ms: u64) -> Command {
    Command::WaitForDigit {
        timeout: Some(Duration::from_millis(ms)),
    }
}

pub fn record() -> Command {
    Command::RecordFile {
        file: SoundName::new(REC).unwrap(),
        format: Format::new("wav").unwrap(),
        escape: Digits::new("#").unwrap(),
        timeout: Some(Duration::from_secs(10)),
        offset: None,
        beep: true,
        silence: Some(3),
    }
}

fn response(events: &[Event]) -> &Result<Outcome, Error> {
    match events {
        [Event::Response { outcome, .. }] => outcome,
        other => panic!("expected one response, got {other:?}"),
    }
}

fn digit(events: &[Event]) -> (Option<Dtmf>, Option<Endpos>) {
    match response(events) {
        Ok(Outcome::Digit { digit, endpos }) => (*digit.value(), *endpos),
        other => panic!("expected a digit outcome, got {other:?}"),
    }
}

fn refused(events: &[Event]) -> &Refusal {
    match response(events) {
        Err(Error::Refused(r)) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn the_environment_asterisk_sent() {
    let env = Env::parse(ENV.as_bytes(), &Limits::default()).unwrap();
    let script = env.script.clone().unwrap();
    assert_eq!((script.path.as_str(), script.query), ("voicemail", None));
    assert_eq!(env.request, "agi://127.0.0.1:4573/voicemail");
    assert_eq!(env.channel, "Local/1234@agi-leave-00000003;2");
    assert_eq!(env.language, "en");
    assert_eq!(env.channel_type, "Local");
    assert_eq!(env.uniqueid, "kit-1796587381-8252-vm");
    assert_eq!(env.version, "22.10.1");
    assert_eq!(env.callerid.as_deref(), Some("5551001"));
    assert_eq!(env.calleridname.as_deref(), Some("Bob Caller"));
    assert_eq!(
        (
            env.callingpres,
            env.callingani2,
            env.callington,
            env.callingtns
        ),
        (0, 0, 0, 0)
    );
    assert_eq!((env.dnid.clone(), env.rdnis.clone()), (None, None));
    assert_eq!(
        (env.context.as_str(), env.extension.as_str(), env.priority),
        ("agi-leave", "1234", 2)
    );
    assert!(!env.enhanced);
    assert_eq!(env.accountcode, "");
    assert_eq!(env.threadid, 140_085_402_068_672);
    assert_eq!(env.args, ["1234@default", "u"]);
    assert!(env.extra.is_empty() && env.lossy.is_empty());

    // setup_env()'s own form of an empty account code, and the encoding back to it.
    let written = env_accountcode_space();
    assert_eq!(
        Env::parse(written.as_bytes(), &Limits::default()).unwrap(),
        env
    );
    assert_eq!(String::from_utf8(env.encode().unwrap()).unwrap(), written);
}

/// agi-leave 1234 through fake_agi.py: prompts, a recording ended by `#`, VMSTATUS, the
/// hang-up probe (WAIT FOR DIGIT until -1, HANGUP, then 200 for variables and NOOP and 511
/// for channel commands), the half-close and the second HANGUP.
pub fn fake_agi_dialogue(h: &mut Harness) {
    h.peer(ENV);
    let Some(Event::Environment(env)) = h.take().pop() else {
        panic!("no environment");
    };
    assert_eq!(env.args, ["1234@default", "u"]);

    h.send(stream("vm-intro"), "STREAM FILE vm-intro \"\"\n");
    h.peer("200 result=0 endpos=45235\n");
    assert_eq!(digit(&h.take()), (None, Some(Endpos::Samples(45235))));

    h.send(stream("beep"), "STREAM FILE beep \"\"\n");
    h.peer("200 result=0 endpos=3404\n");
    assert_eq!(digit(&h.take()), (None, Some(Endpos::Samples(3404))));

    h.send(
        record(),
        &format!("RECORD FILE {REC} wav \"#\" 10000 0 BEEP s=3\n"),
    );
    h.peer("200 result=35 (dtmf) endpos=11112\n");
    assert_eq!(
        response(&h.take()),
        &Ok(Outcome::Recorded {
            ended_by: RecordEnd::Dtmf(Dtmf::Pound),
            endpos: Some(Endpos::Samples(11112))
        })
    );

    h.send(stream(REC), &format!("STREAM FILE {REC} \"\"\n"));
    h.peer("200 result=0 endpos=11112\n");
    assert_eq!(digit(&h.take()), (None, Some(Endpos::Samples(11112))));

    h.send(
        set("VMSTATUS", "SUCCESS"),
        "SET VARIABLE VMSTATUS \"SUCCESS\"\n",
    );
    h.peer("200 result=1\n");
    assert_eq!(response(&h.take()), &Ok(Outcome::Done));

    for _ in 0..2 {
        h.send(wait(2000), "WAIT FOR DIGIT 2000\n");
        h.peer("200 result=0\n");
        assert_eq!(digit(&h.take()), (None, None));
    }
    h.send(wait(2000), "WAIT FOR DIGIT 2000\n");
    h.peer("200 result=-1\n");
    assert_eq!(response(&h.take()), &Ok(Outcome::Failed { endpos: None }));
    assert!(!h.ch.is_dead());
    h.peer("HANGUP\n");
    assert_eq!(h.take(), [Event::Hangup]);
    assert!(h.ch.is_dead());

    h.send(
        Command::GetVariable {
            name: VarName::new("VMSTATUS").unwrap(),
        },
        "GET VARIABLE VMSTATUS\n",
    );
    h.peer("200 result=1 (SUCCESS)\n");
    assert_eq!(
        response(&h.take()),
        &Ok(Outcome::Variable(Sensitive::plain(Some("SUCCESS".into()))))
    );
    h.send(
        set("KIT_AFTER_HANGUP", "yes"),
        "SET VARIABLE KIT_AFTER_HANGUP \"yes\"\n",
    );
    h.peer("200 result=1\n");
    assert_eq!(response(&h.take()), &Ok(Outcome::Done));

    h.send(stream("beep"), "STREAM FILE beep \"\"\n");
    h.peer(DEAD);
    let events = h.take();
    let r = refused(&events);
    assert_eq!(
        (r.command, r.kind, r.code),
        ("STREAM FILE", RefusalKind::DeadChannel, 511)
    );
    assert!(Error::Refused(r.clone()).is_hangup());
    assert!(!Error::Refused(r.clone()).is_fatal());

    h.send(wait(100), "WAIT FOR DIGIT 100\n");
    h.peer(DEAD);
    assert_eq!(refused(&h.take()).command, "WAIT FOR DIGIT");
    h.send(Command::Noop, "NOOP\n");
    h.peer("200 result=0\n");
    assert_eq!(response(&h.take()), &Ok(Outcome::Done));
    h.send(Command::ChannelStatus { channel: None }, "CHANNEL STATUS\n");
    h.peer(DEAD);
    assert_eq!(refused(&h.take()).kind, RefusalKind::DeadChannel);

    // shutdown(SHUT_WR), then Asterisk's second HANGUP and EOF.
    h.ch.close().unwrap();
    assert!(matches!(
        h.ch.send(Command::Noop, h.now),
        Err(Error::Misuse(Misuse::Closed))
    ));
    h.peer("HANGUP\n");
    h.ch.handle_eof();
    h.drain();
    assert_eq!(h.take(), [Event::Hangup]);
    assert_eq!(h.ch.state(), State::Closed);
    assert_eq!(h.ch.poll_timeout(), None);
}

#[test]
fn fake_agi_leave_dialogue_with_hangup_probe() {
    let mut h = Harness::new(Config::default());
    fake_agi_dialogue(&mut h);
    assert_eq!(h.sent.len(), 14);
}

/// Script `p2 h`: the caller hangs up during STREAM FILE; the next command's 511 comes after
/// the HANGUP line; SET VARIABLE still works; Asterisk then closes.
pub fn hangup_during_stream_file(h: &mut Harness) {
    h.peer(ENV);
    assert!(matches!(h.take().as_slice(), [Event::Environment(_)]));

    h.send(stream("vm-intro"), "STREAM FILE vm-intro \"\"\n");
    h.peer("200 result=-1 endpos=16000\n");
    assert_eq!(
        response(&h.take()),
        &Ok(Outcome::Failed {
            endpos: Some(Endpos::Samples(16000))
        })
    );
    let beep = h.send(stream("beep"), "STREAM FILE beep \"\"\n");
    h.peer(format!("HANGUP\n{DEAD}"));
    let events = h.take();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0], Event::Hangup);
    let Event::Response {
        id,
        outcome: Err(e),
    } = &events[1]
    else {
        panic!("expected the 511, got {events:?}");
    };
    assert_eq!(*id, beep);
    assert!(e.is_hangup());

    h.send(
        set("VMSTATUS", "SUCCESS"),
        "SET VARIABLE VMSTATUS \"SUCCESS\"\n",
    );
    h.peer("200 result=1\n");
    assert_eq!(response(&h.take()), &Ok(Outcome::Done));

    h.ch.handle_eof();
    h.drain();
    let events = h.take();
    let [Event::Failed(e)] = events.as_slice() else {
        panic!("expected the close, got {events:?}");
    };
    assert!(e.is_hangup());
    assert_eq!(
        e,
        &Error::Closed(Closed {
            waiting_for: None,
            partial_line: false,
            hangup_seen: true
        })
    );
    // Sticky: the same error again.
    assert_eq!(h.ch.send(Command::Noop, h.now), Err(e.clone()));
}

#[test]
fn hangup_in_the_middle_of_stream_file() {
    let mut h = Harness::new(Config::default());
    hangup_during_stream_file(&mut h);
}

#[test]
fn agisighup_no_goes_straight_to_511() {
    let mut h = Harness::ready();
    h.send(stream("vm-intro"), "STREAM FILE vm-intro \"\"\n");
    h.peer("200 result=-1 endpos=16000\n");
    h.take();
    assert!(!h.ch.is_dead());
    h.send(
        record(),
        &format!("RECORD FILE {REC} wav \"#\" 10000 0 BEEP s=3\n"),
    );
    h.peer(DEAD);
    assert_eq!(refused(&h.take()).command, "RECORD FILE");
    assert!(h.ch.is_dead());
    assert_eq!(h.ch.state(), State::Ready);
}

#[test]
fn usage_block_520_is_kept_whole() {
    let mut h = Harness::ready();
    h.send(
        Command::SayDigits {
            digits: SpokenDigits::new("1234").unwrap(),
            escape: Digits::ANY,
        },
        "SAY DIGITS 1234 \"0123456789*#\"\n",
    );
    // res_agi's framing (agi_handle_command, RESULT_SHOWUSAGE): a line naming HANGUP inside
    // the usage text is usage, not the out-of-band line.
    h.peer(concat!(
        "520-Invalid command syntax.  Proper usage follows:\n",
        " Usage: SAY DIGITS <number> <escape digits>\n",
        "HANGUP\n",
        "  Say a given digit string, returning early if any of the given DTMF digits\n",
        "520 End of proper usage.\n",
    ));
    let events = h.take();
    let r = refused(&events);
    assert_eq!((r.kind, r.code), (RefusalKind::Usage, 520));
    assert_eq!(r.text, "Invalid command syntax.  Proper usage follows:");
    assert_eq!(r.usage.len(), 3);
    assert_eq!(r.usage[1], "HANGUP");
    assert!(!h.ch.is_dead());

    h.send(Command::Answer, "ANSWER\n");
    h.peer("520 Invalid command syntax.  Proper usage not available.\n");
    let events = h.take();
    let r = refused(&events);
    assert_eq!((r.kind, r.usage.len()), (RefusalKind::Usage, 0));

    h.send(Command::Answer, "ANSWER\n");
    h.peer("510 Invalid or unknown command\n");
    assert_eq!(refused(&h.take()).kind, RefusalKind::InvalidCommand);
    h.send(Command::Answer, "ANSWER\n");
    h.peer("200 result=0\n");
    assert_eq!(response(&h.take()), &Ok(Outcome::Done));
}

#[test]
fn a_hangup_line_may_come_twice_and_before_the_response() {
    let mut h = Harness::ready();
    h.send(wait(5000), "WAIT FOR DIGIT 5000\n");
    h.peer("HANGUP\nHANGUP\n200 result=-1\n");
    let events = h.take();
    assert_eq!(&events[..2], [Event::Hangup, Event::Hangup]);
    assert_eq!(
        response(&events[2..]),
        &Ok(Outcome::Failed { endpos: None })
    );
}

#[test]
fn results_per_command() {
    let mut h = Harness::ready();
    h.send(wait(5000), "WAIT FOR DIGIT 5000\n");
    h.peer("200 result=42\n");
    assert_eq!(digit(&h.take()), (Some(Dtmf::Star), None));

    h.send(
        Command::ControlStreamFile {
            file: SoundName::new("msg0000").unwrap(),
            stop: Digits::new("123456789").unwrap(),
            skip: Duration::from_secs(3),
            forward: Dtmf::Pound,
            rewind: Dtmf::Star,
            pause: Some(Dtmf::Zero),
            offset: None,
        },
        "CONTROL STREAM FILE msg0000 \"123456789\" 3000 \"#\" \"*\" \"0\"\n",
    );
    h.peer("200 result=50 endpos=1530\n");
    assert_eq!(
        digit(&h.take()),
        (Some(Dtmf::Two), Some(Endpos::Millis(1530)))
    );

    h.send(
        Command::GetData {
            file: SoundName::new("vm-password").unwrap(),
            timeout: Some(Duration::from_secs(10)),
            max_digits: Some(79),
        },
        "GET DATA vm-password 10000 79\n",
    );
    h.peer("200 result= (timeout)\n");
    let events = h.take();
    let Ok(Outcome::Entered { digits, timed_out }) = response(&events) else {
        panic!("{events:?}");
    };
    assert_eq!((digits.value().as_str(), *timed_out), ("", true));

    h.send(
        Command::Exec {
            application: AppName::new("Goto").unwrap(),
            args: Text::new("vm-uut,a,1").unwrap(),
        },
        "EXEC Goto \"vm-uut,a,1\"\n",
    );
    h.peer("200 result=-2\n");
    assert_eq!(response(&h.take()), &Ok(Outcome::NoSuchApplication));

    h.send(Command::ChannelStatus { channel: None }, "CHANNEL STATUS\n");
    h.peer("200 result=6\n");
    assert_eq!(
        response(&h.take()),
        &Ok(Outcome::ChannelStatus(ChannelState::Up))
    );

    // A well-framed result that does not fit fails that command only.
    h.send(wait(5000), "WAIT FOR DIGIT 5000\n");
    h.peer("200 result=7\n");
    let events = h.take();
    let Err(e) = response(&events) else {
        panic!("{events:?}");
    };
    assert!(!e.is_fatal());
    assert_eq!(h.ch.state(), State::Ready);
}

/// Asterisk 22.10.1 answers a `CONTROL STREAM FILE` that played to its end with
/// `endpos=-1` (`control_streamfile` sets the offset to -8 samples; the AGI divides by 8).
/// Seen in `cargo xtask asterisk`'s full.log; the session must go on.
#[test]
fn control_stream_file_played_to_its_end_answers_endpos_minus_one() {
    use imapvm_agi::{Channel, Command, Config, Digits, Dtmf, Endpos, Event, Outcome, SoundName};
    use std::time::{Duration, Instant};
    let now = Instant::now();
    let mut agi = Channel::new(Config::default(), now);
    agi.handle_input(
        concat!(
            "agi_network: yes\nagi_request: agi://127.0.0.1/voicemailmain\nagi_channel: x\n",
            "agi_language: en\nagi_type: Local\nagi_uniqueid: 1\nagi_version: 22.10.1\n",
            "agi_callerid: 5551001\nagi_calleridname: Bob\nagi_callingpres: 0\nagi_callingani2: 0\n",
            "agi_callington: 0\nagi_callingtns: 0\nagi_dnid: unknown\nagi_rdnis: unknown\n",
            "agi_context: agi-main\nagi_extension: 1234\nagi_priority: 2\nagi_enhanced: 0.0\n",
            "agi_accountcode: \nagi_threadid: 1\n\n",
        )
        .as_bytes(),
        now,
    );
    assert!(matches!(agi.poll_event(), Some(Event::Environment(_))));
    let id = agi
        .send(
            Command::ControlStreamFile {
                file: SoundName::new("/spool/x-msg1").unwrap(),
                stop: Digits::new("123456789").unwrap(),
                skip: Duration::from_secs(3),
                forward: Dtmf::Pound,
                rewind: Dtmf::Star,
                pause: Some(Dtmf::Zero),
                offset: None,
            },
            now,
        )
        .unwrap();
    let _ = agi.poll_transmit(now);
    agi.handle_input(b"200 result=0 endpos=-1\n", now);
    match agi.poll_event() {
        Some(Event::Response {
            id: got,
            outcome: Ok(Outcome::Digit { digit, endpos }),
        }) => {
            assert_eq!(got, id);
            assert_eq!(*digit.value(), None);
            assert_eq!(endpos, Some(Endpos::End));
        }
        other => panic!("{other:?}"),
    }
    assert!(!agi.is_dead());
}
