//! Inputs that do not fit are refused with a typed [`Misuse`], change nothing, and never
//! panic; the API's other promises (time, ids, the one outstanding channel action).

use imapvm_ivr::*;
use std::time::{Duration, Instant};

fn tick() -> Tick {
    Tick {
        mono: Instant::now(),
        wall: 1_796_587_333,
    }
}

fn call(args: &[&str]) -> Call {
    let leave = Leave {
        args: LeaveArgs::parse(args).unwrap(),
        recording: SpoolName::new("msg").unwrap(),
    };
    Call::new(Flow::Leave(leave), Settings::default(), tick())
}

fn drain(call: &mut Call) -> Vec<Action> {
    std::iter::from_fn(|| call.poll_action()).collect()
}

/// Feeds an input that must be accepted; returns the actions it caused.
fn ok(call: &mut Call, input: Input, at: Tick) -> Vec<Action> {
    call.handle(input, at).unwrap();
    drain(call)
}

fn played(id: ActionId) -> Input {
    Input::PromptDone {
        id,
        interrupted_by: None,
    }
}

fn reply(id: ActionId, reply: StoreReply) -> Input {
    Input::StoreReply { id, reply }
}

fn store_ids(actions: &[Action]) -> Vec<ActionId> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Store { id, .. } => Some(*id),
            _ => None,
        })
        .collect()
}

/// The only action of `actions`, a channel action, rendered; and its id.
fn only_channel(actions: &[Action]) -> (ActionId, String) {
    match actions {
        [Action::Channel { id, action }] => (*id, action.to_string()),
        other => panic!("{other:?}"),
    }
}

/// A call (`VoiceMail(1234@default,OPTIONS)`, no greetings, room in the box) past its
/// lookups; returns it with the first channel action.
fn past_lookups(options: &str, at: Tick) -> (Call, ActionId, String) {
    let mut c = call(&["1234@default", options]);
    let ids = store_ids(&drain(&mut c));
    ok(
        &mut c,
        reply(ids[0], StoreReply::Admit(Admission::Admitted)),
        at,
    );
    let actions = ok(&mut c, reply(ids[1], StoreReply::Greeting(None)), at);
    let (id, action) = only_channel(&actions);
    assert_eq!(c.outstanding_channel(), Some(id));
    (c, id, action)
}

/// A call that waits for its intro prompt (`vm-intro`, escape `#`).
fn at_intro() -> (Call, ActionId) {
    let (c, id, action) = past_lookups("", tick());
    assert_eq!(action, "play vm-intro escape=#");
    (c, id)
}

/// A call whose recorder runs (`record msg wav escape=#`).
fn at_record() -> (Call, ActionId) {
    let (mut c, intro) = at_intro();
    let (beep, _) = only_channel(&ok(&mut c, played(intro), tick()));
    let (record, action) = only_channel(&ok(&mut c, played(beep), tick()));
    assert_eq!(action, "record msg wav escape=#");
    (c, record)
}

#[test]
fn an_answer_for_an_action_that_is_not_outstanding_is_refused() {
    let (mut c, intro) = at_intro();
    assert!(matches!(
        c.handle(reply(intro, StoreReply::Discarded), tick()),
        Err(Misuse::NotOutstanding { .. })
    ));
    // The admit op was answered already.
    let mut fresh = call(&["1234@default"]);
    let ids = store_ids(&drain(&mut fresh));
    let admit = reply(ids[0], StoreReply::Admit(Admission::Admitted));
    fresh.handle(admit.clone(), tick()).unwrap();
    assert_eq!(
        fresh.handle(admit, tick()),
        Err(Misuse::NotOutstanding { id: ids[0] })
    );
    // A prompt answer with the wrong id.
    assert!(matches!(
        c.handle(played(ids[1]), tick()),
        Err(Misuse::NotOutstanding { .. })
    ));
    // None of that changed anything: the intro is still outstanding and answers normally.
    assert_eq!(c.poll_action(), None);
    assert_eq!(c.outstanding_channel(), Some(intro));
    assert_eq!(
        only_channel(&ok(&mut c, played(intro), tick())).1,
        "play beep"
    );
}

#[test]
fn the_wrong_kind_of_answer_is_refused() {
    let (mut c, intro) = at_intro();
    for wrong in [
        Input::Digit {
            id: intro,
            key: Dtmf::One,
        },
        Input::Timeout { id: intro },
        Input::Recorded {
            id: intro,
            duration: Duration::from_secs(1),
            ended_by: RecordEnd::MaxLength,
        },
    ] {
        assert!(
            matches!(
                c.handle(wrong.clone(), tick()),
                Err(Misuse::WrongAnswer { action: "play", .. })
            ),
            "{wrong:?}"
        );
    }
    let mut fresh = call(&["1234@default"]);
    let ids = store_ids(&drain(&mut fresh));
    let err = fresh
        .handle(reply(ids[0], StoreReply::Greeting(None)), tick())
        .unwrap_err();
    assert!(matches!(
        err,
        Misuse::WrongAnswer {
            action: "store admit",
            ..
        }
    ));
    assert!(err.to_string().contains("store admit"), "{err}");
    assert_eq!(c.outstanding_channel(), Some(intro));
}

#[test]
fn a_key_outside_the_escape_set_is_refused() {
    let (mut c, intro) = at_intro();
    assert_eq!(
        c.handle(
            Input::PromptDone {
                id: intro,
                interrupted_by: Some(Dtmf::Star)
            },
            tick()
        ),
        Err(Misuse::KeyNotEscape {
            id: intro,
            key: Dtmf::Star
        })
    );
    let (mut c, record) = at_record();
    // 0 ends the recorder only with operator=yes.
    assert!(matches!(
        c.handle(
            Input::Recorded {
                id: record,
                duration: Duration::from_secs(3),
                ended_by: RecordEnd::Dtmf(Dtmf::Zero)
            },
            tick()
        ),
        Err(Misuse::KeyNotEscape {
            key: Dtmf::Zero,
            ..
        })
    ));
}

#[test]
fn channel_answers_after_the_hangup_and_inputs_after_the_end_are_refused() {
    let (mut c, record) = at_record();
    let recorded = Input::Recorded {
        id: record,
        duration: Duration::from_secs(4),
        ended_by: RecordEnd::Dtmf(Dtmf::Pound),
    };
    let deposit = store_ids(&ok(&mut c, recorded, tick()))[0];
    let thanks = c.outstanding_channel().unwrap();
    c.handle(Input::Hangup, tick()).unwrap();
    assert!(c.is_hung_up());
    assert_eq!(c.outstanding_channel(), None);
    // The thank-you was cut short by the hangup; an answer to it now is the binding's bug.
    assert_eq!(c.handle(played(thanks), tick()), Err(Misuse::AfterHangup));
    assert_eq!(c.poll_action(), None, "Finished waits for the deposit");
    let outcome = StoreReply::Deposit(DepositOutcome::Queued);
    assert_eq!(
        ok(&mut c, reply(deposit, outcome), tick()),
        [Action::Finished {
            vmstatus: Some(VmStatus::Success),
            exit: None
        }]
    );
    assert!(c.is_finished());
    // Asterisk may send HANGUP twice; a second one is fine, anything else is not.
    c.handle(Input::Hangup, tick()).unwrap();
    assert_eq!(
        c.handle(Input::Timeout { id: thanks }, tick()),
        Err(Misuse::Finished)
    );
    assert_eq!(c.poll_action(), None);
}

#[test]
fn there_is_never_a_second_channel_action_to_poll_before_the_answer() {
    let (mut c, intro) = at_intro();
    for _ in 0..3 {
        assert_eq!(c.poll_action(), None);
    }
    assert_eq!(c.outstanding_channel(), Some(intro));
    assert_eq!(c.outstanding_store().count(), 0);
}

#[test]
fn a_leave_message_call_owns_no_deadline_and_time_may_stand_still_or_step_back() {
    let (mut c, intro) = at_intro();
    assert_eq!(c.poll_timeout(), None);
    let t = tick();
    c.handle_timeout(t);
    assert_eq!(c.poll_action(), None);
    // An earlier monotonic instant is taken as "no time passed", not as an error.
    let earlier = Tick {
        mono: t.mono.checked_sub(Duration::from_secs(5)).unwrap_or(t.mono),
        wall: t.wall,
    };
    assert_eq!(
        only_channel(&ok(&mut c, played(intro), earlier)).1,
        "play beep"
    );
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn origtime_is_the_wall_clock_when_recording_first_started() {
    let t0 = tick();
    let (mut c, beep, action) = past_lookups("s", t0);
    assert_eq!(action, "play beep");
    let at_beep_end = Tick {
        mono: t0.mono + Duration::from_secs(1),
        wall: t0.wall + 42,
    };
    let (record, _) = only_channel(&ok(&mut c, played(beep), at_beep_end));
    let later = Tick {
        mono: t0.mono + Duration::from_secs(60),
        wall: t0.wall + 100,
    };
    let recorded = Input::Recorded {
        id: record,
        duration: Duration::from_millis(59_900),
        ended_by: RecordEnd::Dtmf(Dtmf::Pound),
    };
    let deposit = ok(&mut c, recorded, later)
        .into_iter()
        .find_map(|a| match a {
            Action::Store {
                op: StoreOp::Deposit(d),
                ..
            } => Some(d),
            _ => None,
        })
        .unwrap();
    assert_eq!(deposit.origtime, t0.wall + 42);
    assert_eq!(deposit.duration_secs, Some(59));
    assert_eq!(deposit.recipients, vec![MailboxId::parse("1234").unwrap()]);
}
