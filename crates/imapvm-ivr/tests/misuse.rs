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

fn call(args: &[&str], settings: Settings) -> Call {
    let leave = Leave {
        args: LeaveArgs::parse(args).unwrap(),
        recording: SpoolName::new("msg").unwrap(),
    };
    Call::new(Flow::Leave(leave), settings, tick())
}

fn drain(call: &mut Call) -> Vec<Action> {
    std::iter::from_fn(|| call.poll_action()).collect()
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

/// A call that waits for its intro prompt (`vm-intro`, escape `#`).
fn at_intro() -> (Call, ActionId) {
    let mut c = call(&["1234@default"], Settings::default());
    let ids = store_ids(&drain(&mut c));
    c.handle(
        Input::StoreReply {
            id: ids[0],
            reply: StoreReply::Admit(Admission::Admitted),
        },
        tick(),
    )
    .unwrap();
    c.handle(
        Input::StoreReply {
            id: ids[1],
            reply: StoreReply::Greeting(None),
        },
        tick(),
    )
    .unwrap();
    let actions = drain(&mut c);
    let [Action::Channel { id, action }] = actions.as_slice() else {
        panic!("{actions:?}")
    };
    assert_eq!(action.to_string(), "play vm-intro escape=#");
    assert_eq!(c.outstanding_channel(), Some(*id));
    (c, *id)
}

#[test]
fn an_answer_for_an_action_that_is_not_outstanding_is_refused() {
    let (mut c, intro) = at_intro();
    let later = ActionId::clone(&intro);
    assert!(matches!(
        c.handle(
            Input::StoreReply {
                id: intro,
                reply: StoreReply::Discarded
            },
            tick()
        ),
        Err(Misuse::NotOutstanding { .. })
    ));
    // The admit op was answered already.
    let mut fresh = call(&["1234@default"], Settings::default());
    let ids = store_ids(&drain(&mut fresh));
    let admit = Input::StoreReply {
        id: ids[0],
        reply: StoreReply::Admit(Admission::Admitted),
    };
    fresh.handle(admit.clone(), tick()).unwrap();
    assert_eq!(
        fresh.handle(admit, tick()),
        Err(Misuse::NotOutstanding { id: ids[0] })
    );
    // A prompt answer with the wrong id.
    assert!(matches!(
        c.handle(
            Input::PromptDone {
                id: ids[1],
                interrupted_by: None
            },
            tick()
        ),
        Err(Misuse::NotOutstanding { .. })
    ));
    // None of that changed anything: the intro is still outstanding and answers normally.
    assert_eq!(c.poll_action(), None);
    assert_eq!(c.outstanding_channel(), Some(later));
    c.handle(
        Input::PromptDone {
            id: later,
            interrupted_by: None,
        },
        tick(),
    )
    .unwrap();
    assert_eq!(drain(&mut c)[0].to_string(), "play beep");
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
    let mut fresh = call(&["1234@default"], Settings::default());
    let ids = store_ids(&drain(&mut fresh));
    let err = fresh
        .handle(
            Input::StoreReply {
                id: ids[0],
                reply: StoreReply::Greeting(None),
            },
            tick(),
        )
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
    c.handle(
        Input::PromptDone {
            id: intro,
            interrupted_by: None,
        },
        tick(),
    )
    .unwrap();
    let beep = match drain(&mut c).as_slice() {
        [Action::Channel { id, .. }] => *id,
        other => panic!("{other:?}"),
    };
    c.handle(
        Input::PromptDone {
            id: beep,
            interrupted_by: None,
        },
        tick(),
    )
    .unwrap();
    let record = match drain(&mut c).as_slice() {
        [Action::Channel { id, action }] => {
            assert_eq!(action.to_string(), "record msg wav escape=#");
            *id
        }
        other => panic!("{other:?}"),
    };
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
    let (mut c, intro) = at_intro();
    c.handle(
        Input::PromptDone {
            id: intro,
            interrupted_by: None,
        },
        tick(),
    )
    .unwrap();
    drain(&mut c);
    let beep = c.outstanding_channel().unwrap();
    c.handle(
        Input::PromptDone {
            id: beep,
            interrupted_by: None,
        },
        tick(),
    )
    .unwrap();
    drain(&mut c);
    let record = c.outstanding_channel().unwrap();
    c.handle(
        Input::Recorded {
            id: record,
            duration: Duration::from_secs(4),
            ended_by: RecordEnd::Dtmf(Dtmf::Pound),
        },
        tick(),
    )
    .unwrap();
    let actions = drain(&mut c);
    let deposit = store_ids(&actions)[0];
    let thanks = c.outstanding_channel().unwrap();
    c.handle(Input::Hangup, tick()).unwrap();
    assert!(c.is_hung_up());
    assert_eq!(c.outstanding_channel(), None);
    // The thank-you was cut short by the hangup; an answer to it now is the binding's bug.
    assert_eq!(
        c.handle(
            Input::PromptDone {
                id: thanks,
                interrupted_by: None
            },
            tick()
        ),
        Err(Misuse::AfterHangup)
    );
    assert_eq!(c.poll_action(), None, "Finished waits for the deposit");
    c.handle(
        Input::StoreReply {
            id: deposit,
            reply: StoreReply::Deposit(DepositOutcome::Queued),
        },
        tick(),
    )
    .unwrap();
    assert_eq!(
        drain(&mut c),
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
    c.handle(
        Input::PromptDone {
            id: intro,
            interrupted_by: None,
        },
        earlier,
    )
    .unwrap();
    assert_eq!(c.poll_timeout(), None);
    assert_eq!(drain(&mut c)[0].to_string(), "play beep");
}

#[test]
fn origtime_is_the_wall_clock_when_recording_first_started() {
    let mut c = call(&["1234@default", "s"], Settings::default());
    let ids = store_ids(&drain(&mut c));
    let t0 = tick();
    for (id, reply) in [
        (ids[0], StoreReply::Admit(Admission::Admitted)),
        (ids[1], StoreReply::Greeting(None)),
    ] {
        c.handle(Input::StoreReply { id, reply }, t0).unwrap();
    }
    let beep = c.outstanding_channel().unwrap();
    drain(&mut c);
    let at_beep_end = Tick {
        mono: t0.mono + Duration::from_secs(1),
        wall: t0.wall + 42,
    };
    c.handle(
        Input::PromptDone {
            id: beep,
            interrupted_by: None,
        },
        at_beep_end,
    )
    .unwrap();
    drain(&mut c);
    let record = c.outstanding_channel().unwrap();
    let later = Tick {
        mono: t0.mono + Duration::from_secs(60),
        wall: t0.wall + 100,
    };
    c.handle(
        Input::Recorded {
            id: record,
            duration: Duration::from_millis(59_900),
            ended_by: RecordEnd::Dtmf(Dtmf::Pound),
        },
        later,
    )
    .unwrap();
    let deposit = drain(&mut c)
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
