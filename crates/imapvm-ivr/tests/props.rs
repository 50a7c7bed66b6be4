//! Random calls: random settings, options, greetings and store answers, a random caller
//! (keys, silences, lengths, hangups) answering whatever is outstanding. Every input a
//! correct binding could give is accepted, the call ends, and the recording's fate is
//! decided exactly once.

use crate::support::{self, Kind, Run, Script};
use imapvm_ivr::*;
use proptest::prelude::*;
use std::time::Duration;

#[derive(Debug, Clone)]
struct Setup {
    settings: Settings,
    options: String,
    greetings: [bool; 4],
    admission: u8,
    deposit: u8,
}

fn setup() -> impl Strategy<Value = Setup> {
    (
        (
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            0u32..4,
            any::<bool>(),
        ),
        (
            any::<bool>(),
            any::<bool>(),
            proptest::option::of("[a-z]{1,6}"),
        ),
        proptest::collection::vec(
            proptest::sample::select(vec!['u', 'b', 's', 'S', 'U', 'P', 't', 'x']),
            0..5,
        ),
        any::<[bool; 4]>(),
        0u8..16,
        0u8..3,
    )
        .prop_map(
            |(
                (review, operator, leaveurgent, minsecs, greetings_only),
                (a, o, ctx),
                letters,
                greetings,
                admission,
                deposit,
            )| {
                let settings = Settings {
                    review,
                    operator,
                    leaveurgent,
                    minsecs,
                    maxmsg: if greetings_only { 0 } else { 100 },
                    maxsecs: 120,
                    dialplan: Dialplan {
                        exitcontext: ctx,
                        extension_a: a,
                        extension_o: o,
                        extension_a_current: false,
                    },
                    ..Settings::default()
                };
                Setup {
                    settings,
                    options: letters.into_iter().collect(),
                    greetings,
                    admission,
                    deposit,
                }
            },
        )
}

fn store_reply(setup: &Setup, op: &StoreOp) -> StoreReply {
    match op {
        StoreOp::Admit { .. } => StoreReply::Admit(match setup.admission {
            0 => Admission::Full(FullBy::MaxMsg),
            1 => Admission::Full(FullBy::Quota),
            2 => Admission::UnknownMailbox,
            3 => Admission::Unavailable,
            _ => Admission::Admitted,
        }),
        StoreOp::Greeting { which, .. } => {
            let i = match which {
                GreetingKind::Temp => 0,
                GreetingKind::Busy => 1,
                GreetingKind::Unavail => 2,
                GreetingKind::Name => 3,
            };
            StoreReply::Greeting(
                setup.greetings[i].then(|| SpoolName::new(which.file_name()).unwrap()),
            )
        }
        StoreOp::Deposit(_) => StoreReply::Deposit(match setup.deposit {
            0 => DepositOutcome::Failed,
            1 => DepositOutcome::Queued,
            _ => DepositOutcome::Stored { uid: Uid::new(1) },
        }),
        other => support::auto_reply(other),
    }
}

/// The caller's (or the channel's) answer to `action`, chosen by `c`.
fn channel_answer(id: ActionId, action: &ChannelAction, c: u8) -> Input {
    let pick = |keys: DtmfSet| {
        keys.iter()
            .nth(usize::from(c / 4) % keys.iter().count().max(1))
    };
    if let Some(escape) = action.prompt_keys() {
        return Input::PromptDone {
            id,
            interrupted_by: if c.is_multiple_of(2) {
                None
            } else {
                pick(escape)
            },
        };
    }
    match action {
        ChannelAction::WaitDigit(_) => match c % 3 {
            0 => Input::Timeout { id },
            _ => Input::Digit {
                id,
                key: Dtmf::ALL[usize::from(c / 3) % 16],
            },
        },
        ChannelAction::Record(spec) => Input::Recorded {
            id,
            duration: Duration::from_millis(u64::from(c) * 40),
            ended_by: match c % 6 {
                0 => RecordEnd::MaxLength,
                1 => RecordEnd::Silence,
                2 => RecordEnd::Hangup,
                3 => RecordEnd::Failed,
                _ => pick(spec.escape).map_or(RecordEnd::MaxLength, RecordEnd::Dtmf),
            },
        },
        _ => Input::Hangup,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn random_calls_end_and_decide_the_recording_exactly_once(
        setup in setup(),
        choices in proptest::collection::vec(any::<u8>(), 4..120),
    ) {
        let script = Script::synthetic(
            Kind::Leave,
            setup.settings.clone(),
            vec!["1234@default&77".into(), setup.options.clone()],
        );
        let mut run = Run::new(&script);
        let mut choices = choices.into_iter();
        // Steps until the caller is out of choices: then a hangup, then the store answers.
        for _ in 0..400 {
            if run.finished() {
                break;
            }
            let c = choices.next();
            let reply = |(id, op): &(ActionId, StoreOp)| Input::StoreReply {
                id: *id,
                reply: store_reply(&setup, op),
            };
            let input = match c {
                None => match run.store().first() {
                    Some(pending) if run.call.is_hung_up() => reply(pending),
                    _ => Input::Hangup,
                },
                Some(c) => match (run.store().first(), run.channel()) {
                    (Some(pending), None) => reply(pending),
                    (Some(pending), Some(_)) if c.is_multiple_of(3) => reply(pending),
                    (_, Some(_)) if c == 255 => Input::Hangup,
                    (_, Some((id, action))) => channel_answer(*id, action, c),
                    (None, None) => panic!("the call waits for nothing"),
                },
            };
            run.feed(input);
        }
        prop_assert!(run.finished(), "no end after 400 steps: {:?}", run.actions.last());
        let recorders = run.actions.iter().filter(|a| matches!(a, Action::Channel { action: ChannelAction::Record(_), .. })).count();
        let terminal: Vec<&StoreOp> = run.actions.iter().filter_map(|a| match a {
            Action::Store { op: op @ (StoreOp::Deposit(_) | StoreOp::Discard { .. }), .. } => Some(op),
            _ => None,
        }).collect();
        prop_assert_eq!(terminal.len(), usize::from(recorders > 0), "{:?}", terminal);
        let Some(Action::Finished { vmstatus, exit }) = run.actions.last() else {
            panic!("Finished is not last");
        };
        prop_assert!(vmstatus.is_some());
        if exit.is_some() {
            prop_assert_eq!(*vmstatus, Some(VmStatus::UserExit));
        }
        if let Some(StoreOp::Deposit(d)) = terminal.first() {
            prop_assert_eq!(d.recipients.len(), 2);
            prop_assert!(d.duration_secs.is_none_or(|s| s >= setup.settings.minsecs));
        }
        if setup.admission == 2 {
            prop_assert!(!run.actions.iter().any(|a| matches!(a, Action::Channel { .. })),
                "an unknown mailbox heard something");
        }
    }
}
