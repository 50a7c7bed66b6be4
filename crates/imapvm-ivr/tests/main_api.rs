//! VoiceMailMain's promises beyond the transcripts: PINs never show in any action, input,
//! error or the call's own `Debug`, and the binding can tell which answers are secret;
//! login plus intro cost two store ops; the pause after a wrong password is the call's
//! one deadline.

use crate::support::recordings;
use imapvm_ivr::*;
use std::time::{Duration, Instant};

fn tick() -> Tick {
    Tick {
        mono: Instant::now(),
        wall: 1_796_587_333,
    }
}

fn main_call(args: &[&str], named: Option<BoxLookup>, at: Tick) -> Call {
    let main = Main {
        args: MainArgs::parse(args).unwrap(),
        named,
        caller_id: None,
        recordings: recordings(),
    };
    Call::new(Flow::Main(main), Settings::default(), at)
}

/// Drives a call, recording how everything it says and hears renders.
struct Witness {
    call: Call,
    at: Tick,
    /// Every action, input, error and `Debug` of the call, rendered.
    seen: Vec<String>,
    pending: Vec<Action>,
}

impl Witness {
    fn new(call: Call, at: Tick) -> Witness {
        let mut w = Witness {
            call,
            at,
            seen: Vec::new(),
            pending: Vec::new(),
        };
        w.drain();
        w
    }

    fn drain(&mut self) {
        while let Some(action) = self.call.poll_action() {
            self.seen.push(format!("{action} {action:?}"));
            self.pending.push(action);
        }
        self.seen.push(format!("{:?}", self.call));
    }

    /// The outstanding channel action's id, and whether its answer is secret.
    fn channel(&self) -> (ActionId, bool) {
        (
            self.call.outstanding_channel().expect("a channel action"),
            self.call.expects_secret(),
        )
    }

    fn store_id(&self, want: impl Fn(&StoreOp) -> bool) -> ActionId {
        self.pending
            .iter()
            .rev()
            .find_map(|a| match a {
                Action::Store { id, op } if want(op) => Some(*id),
                _ => None,
            })
            .expect("the store op was issued")
    }

    fn feed(&mut self, input: Input) {
        self.seen.push(format!("{input:?}"));
        self.at.mono += Duration::from_millis(100);
        if let Err(e) = self.call.handle(input, self.at) {
            panic!("refused: {e}");
        }
        self.drain();
    }

    /// Types `digits` as a caller does: the first cuts the prompt short, the others
    /// answer the waits, `#` ends.
    fn type_digits(&mut self, digits: &str, expect_secret: bool) {
        for (i, c) in digits.chars().chain(['#']).enumerate() {
            let (id, secret) = self.channel();
            assert_eq!(secret, expect_secret, "digit {i} of {digits:?}");
            let key = Dtmf::from_char(c).unwrap();
            let input = if i == 0 {
                Input::PromptDone {
                    id,
                    interrupted_by: Some(key),
                }
            } else {
                Input::Digit { id, key }
            };
            self.feed(input);
        }
    }

    fn played(&mut self) {
        let (id, _) = self.channel();
        self.feed(Input::PromptDone {
            id,
            interrupted_by: None,
        });
    }

    fn key(&mut self, key: Dtmf) {
        let (id, _) = self.channel();
        self.feed(Input::PromptDone {
            id,
            interrupted_by: Some(key),
        });
    }

    fn reply(&mut self, id: ActionId, reply: StoreReply) {
        self.feed(Input::StoreReply { id, reply });
    }

    fn assert_never_shown(&self, secret: &str) {
        for text in &self.seen {
            let text = without_clock_readings(text);
            assert!(!text.contains(secret), "{secret} shown in: {text}");
        }
    }
}

/// `text` with the numbers of the clock readings (`Tick`'s monotonic
/// `Instant` and wall seconds) blanked: they are the machine's clock, not
/// the caller's digits, and a reading such as `tv_sec: 21900` would
/// otherwise "show" the PIN fragment 190 by chance.
fn without_clock_readings(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = ["tv_sec: ", "tv_nsec: ", "wall: "]
        .iter()
        .filter_map(|label| rest.find(label).map(|i| i + label.len()))
        .min()
    {
        out.push_str(&rest[..at]);
        rest = rest[at..].trim_start_matches(|c: char| c.is_ascii_digit());
        out.push('_');
    }
    out.push_str(rest);
    out
}

#[test]
fn clock_readings_are_blanked_and_nothing_else() {
    let shown =
        "Tick { mono: Instant { tv_sec: 21900, tv_nsec: 85017330 }, wall: 1796587333 } pin 190";
    assert_eq!(
        without_clock_readings(shown),
        "Tick { mono: Instant { tv_sec: _, tv_nsec: _ }, wall: _ } pin 190"
    );
}

fn granted() -> StoreReply {
    StoreReply::Authenticate(AuthReply::Granted(Box::new(Granted {
        settings: Settings::default(),
        new_user: false,
    })))
}

fn summary() -> StoreReply {
    StoreReply::Summary(Ok(Box::new(Summary {
        uid_validity: UidValidity::new(7).unwrap(),
        urgent: Vec::new(),
        new: Vec::new(),
        old: Vec::new(),
        quota_full: false,
        temp_greeting: false,
    })))
}

#[test]
fn a_pin_is_never_shown_and_its_digits_are_marked_secret() {
    let mut w = Witness::new(main_call(&[], None, tick()), tick());
    // The mailbox is not secret.
    w.type_digits("1234", false);
    let lookup = w.store_id(|op| matches!(op, StoreOp::Lookup { .. }));
    w.reply(lookup, StoreReply::Lookup(BoxLookup::Pin));
    // A wrong PIN, then the right one: every digit is secret, none is ever shown.
    w.type_digits("7391", true);
    let auth = w.store_id(|op| matches!(op, StoreOp::Authenticate { .. }));
    // A misuse (a wrong answer for the op) renders no PIN either.
    let err = w
        .call
        .handle(
            Input::StoreReply {
                id: auth,
                reply: StoreReply::Discarded,
            },
            w.at,
        )
        .unwrap_err();
    w.seen.push(format!("{err} {err:?}"));
    w.reply(auth, StoreReply::Authenticate(AuthReply::Wrong));
    w.call.handle_timeout(Tick {
        mono: w.at.mono + WRONG_PIN_DELAY,
        wall: w.at.wall,
    });
    w.drain();
    w.type_digits("1234", false);
    let lookup = w.store_id(|op| matches!(op, StoreOp::Lookup { .. }));
    w.reply(lookup, StoreReply::Lookup(BoxLookup::Pin));
    w.type_digits("8264", true);
    let auth = w.store_id(|op| matches!(op, StoreOp::Authenticate { .. }));
    w.reply(auth, granted());
    let sum = w.store_id(|op| matches!(op, StoreOp::Summary { .. }));
    w.reply(sum, summary());
    // The intro and the instructions are not secret.
    assert!(!w.call.expects_secret());
    w.played();
    w.key(Dtmf::Zero);
    let temp = w.store_id(|op| matches!(op, StoreOp::Greeting { .. }));
    w.reply(temp, StoreReply::Greeting(None));
    // Options 5: the new password, twice, is secret too.
    w.key(Dtmf::Five);
    w.type_digits("5190", true);
    w.type_digits("5190", true);
    let change = w.store_id(|op| matches!(op, StoreOp::ChangePassword { .. }));
    w.reply(change, StoreReply::ChangePassword(PasswordChange::Changed));
    for pin in [
        "7391", "739", "391", "8264", "826", "264", "5190", "519", "190",
    ] {
        w.assert_never_shown(pin);
    }
    // The PINs did reach the store, where they belong.
    let pins: Vec<String> = w
        .pending
        .iter()
        .filter_map(|a| match a {
            Action::Store {
                op: StoreOp::Authenticate { pin: Some(pin), .. },
                ..
            } => Some(pin.expose().to_owned()),
            Action::Store {
                op: StoreOp::ChangePassword { new, .. },
                ..
            } => Some(new.expose().to_owned()),
            _ => None,
        })
        .collect();
    assert_eq!(pins, ["7391", "8264", "5190"]);
}

#[test]
fn login_and_intro_cost_two_store_ops_when_the_box_is_given() {
    let mut w = Witness::new(
        main_call(&["1234@default"], Some(BoxLookup::Pin), tick()),
        tick(),
    );
    w.type_digits("4242", true);
    let auth = w.store_id(|op| matches!(op, StoreOp::Authenticate { .. }));
    w.reply(auth, granted());
    let sum = w.store_id(|op| matches!(op, StoreOp::Summary { .. }));
    w.reply(sum, summary());
    // The intro is playing: exactly Authenticate and Summary were asked.
    assert!(matches!(
        w.pending.last(),
        Some(Action::Channel {
            action: ChannelAction::Play { .. },
            ..
        })
    ));
    let ops: Vec<&StoreOp> = w
        .pending
        .iter()
        .filter_map(|a| match a {
            Action::Store { op, .. } => Some(op),
            _ => None,
        })
        .collect();
    assert!(
        matches!(
            ops.as_slice(),
            [StoreOp::Authenticate { .. }, StoreOp::Summary { .. }]
        ),
        "{ops:?}"
    );
    // Without the binding's lookup, one more op (voicemail.conf only, no IMAP).
    let mut w = Witness::new(main_call(&["1234@default"], None, tick()), tick());
    let lookup = w.store_id(|op| matches!(op, StoreOp::Lookup { .. }));
    w.reply(lookup, StoreReply::Lookup(BoxLookup::Pin));
    w.type_digits("4242", true);
    let auth = w.store_id(|op| matches!(op, StoreOp::Authenticate { .. }));
    w.reply(auth, granted());
    let sum = w.store_id(|op| matches!(op, StoreOp::Summary { .. }));
    w.reply(sum, summary());
    let count = w
        .pending
        .iter()
        .filter(|a| matches!(a, Action::Store { .. }))
        .count();
    assert_eq!(count, 3);
}

#[test]
fn the_pause_after_a_wrong_pin_is_the_only_deadline() {
    let t0 = tick();
    let mut w = Witness::new(main_call(&["1234@default"], Some(BoxLookup::Pin), t0), t0);
    assert_eq!(w.call.poll_timeout(), None);
    w.type_digits("1", true);
    let auth = w.store_id(|op| matches!(op, StoreOp::Authenticate { .. }));
    w.reply(auth, StoreReply::Authenticate(AuthReply::Wrong));
    let deadline = w.call.poll_timeout().expect("the pause is armed");
    assert_eq!(deadline, w.at.mono + WRONG_PIN_DELAY);
    assert_eq!(
        w.call.outstanding_channel(),
        None,
        "silence during the pause"
    );
    assert_eq!(w.call.poll_action(), None);
    // Too early: nothing.
    w.call.handle_timeout(Tick {
        mono: deadline - Duration::from_millis(1),
        wall: t0.wall,
    });
    assert_eq!(w.call.poll_action(), None);
    assert_eq!(w.call.poll_timeout(), Some(deadline));
    // On time: vm-incorrect (the box was given).
    w.call.handle_timeout(Tick {
        mono: deadline,
        wall: t0.wall,
    });
    match w.call.poll_action() {
        Some(Action::Channel {
            action: ChannelAction::Play { prompts, .. },
            ..
        }) => assert_eq!(prompts, [Prompt::VmIncorrect]),
        other => panic!("{other:?}"),
    }
    assert_eq!(w.call.poll_timeout(), None);
    // A hangup during a pause ends it.
    let mut w = Witness::new(main_call(&["1234@default"], Some(BoxLookup::Pin), t0), t0);
    w.type_digits("1", true);
    let auth = w.store_id(|op| matches!(op, StoreOp::Authenticate { .. }));
    w.reply(auth, StoreReply::Authenticate(AuthReply::Wrong));
    w.feed(Input::Hangup);
    assert_eq!(w.call.poll_timeout(), None);
    assert!(w.call.is_finished());
    w.call.handle_timeout(Tick {
        mono: deadline + Duration::from_secs(10),
        wall: t0.wall,
    });
    assert_eq!(w.call.poll_action(), None);
}

#[test]
fn a_leave_message_call_reports_no_pending_deletes_and_no_secret() {
    let leave = Leave {
        args: LeaveArgs::parse(&["1234"]).unwrap(),
        recording: SpoolName::new("msg").unwrap(),
    };
    let call = Call::new(Flow::Leave(leave), Settings::default(), tick());
    assert!(call.pending_deletes().is_empty());
    assert!(!call.expects_secret());
}
