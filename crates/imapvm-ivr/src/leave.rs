//! `VoiceMail()`: leaving a message, step by step as Asterisk 22's `leave_voicemail` and
//! `play_record_review` do it (reference `docs/reference/asterisk-voicemail-ivr.md` §1),
//! with the differences the crate documentation lists.
//!
//! The flow, in order:
//! 1. Ask the store at once, concurrently: may a message be left (`Admit`), and which
//!    greetings exist (`temp`, and `busy`/`unavail` for `b`/`u`; the name `greet` only
//!    when the `b`/`u` greeting is missing). An unknown mailbox ends the call here,
//!    FAILED, with nothing played.
//! 2. The greeting: `temp` wins; else `busy`/`unavail` for `b`/`u`; else, for `b`/`u`,
//!    the invented one (the name, or `vm-theperson` and the digits, then
//!    `vm-isonphone`/`vm-isunavail`); else none. Interruptible by `#`, `*` (extension `a`)
//!    and `0` (`operator=yes` and extension `o`).
//! 3. `vm-intro`, unless `s`, `S` after a recorded greeting, a greetings-only mailbox, or
//!    `#` during the greeting. Same keys.
//! 4. `*` → exit to `a`; `0` → `transfer`, exit to `o`; greetings only → SUCCESS; a full
//!    mailbox → `vm-mailboxfull`, FAILED.
//! 5. The beep (uninterruptible), then the recording (`#` accepts, `0` goes to the
//!    operator with `operator=yes`), then `auth-thankyou` (not after `0` or a hangup).
//! 6. The review menu with `review=yes`; the operator save menu after `0`.
//! 7. Keep (deposit) or discard, as soon as that is decided; then the end.

use crate::args::{Beep, GreetingOption, LeaveArgs};
use crate::io::{
    Admission, ChannelAction, Deposit, DepositOutcome, Exit, ExitExtension, GreetingKind,
    RecordEnd, RecordSpec, StoreOp, StoreReply, Tick, Urgency, VmStatus,
};
use crate::names::SpoolName;
use crate::outbox::{ChannelAnswer, Outbox, StoreKind, Verdict};
use crate::prompt::Prompt;
use crate::settings::Settings;
use imapvm_types::{Dtmf, DtmfSet};
use std::time::Duration;

/// The review menu's wait for a key.
const REVIEW_WAIT: Duration = Duration::from_millis(6000);
/// The extra wait after `vm-reachoper` (Asterisk waits 0.6 s, then 6 s; imapvm waits once).
const REACHOPER_WAIT: Duration = Duration::from_millis(600);
/// The operator save menu's wait for a key.
const SAVEOPER_WAIT: Duration = Duration::from_millis(3000);
/// Silent review rounds before the message is kept and the call ends with `vm-goodbye`.
const REVIEW_ROUNDS: u8 = 4;

/// A leave-message call: what `VoiceMail` was asked, and where to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leave {
    /// The mailboxes and options, usually from [`LeaveArgs::parse`].
    pub args: LeaveArgs,
    /// Where the caller's recording goes: a name the binding maps to a path that Asterisk
    /// can write (and the binding read). Recorded again in place on a re-record.
    pub recording: SpoolName,
}

/// Where the flow is: which channel action is outstanding, or what it waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// The admission and greeting lookups.
    Lookup,
    /// The greeting plays; `real` when it is a greeting file (not the invented one).
    Greeting { real: bool },
    /// `vm-intro` plays.
    Intro,
    /// `transfer` plays after `0` in the greeting or intro.
    ExitTransfer,
    /// `vm-mailboxfull` plays.
    MailboxFull,
    /// The beep plays.
    Beep,
    /// The recorder runs.
    Recording,
    /// `auth-thankyou` plays.
    ThankYou,
    /// The review menu plays.
    ReviewMenu,
    /// The review menu waits for a key.
    ReviewWait,
    /// The recording plays back (review `2`).
    Listen,
    /// `vm-sorry` plays; a key is the next choice.
    Sorry,
    /// `vm-marked-urgent` / `-nonurgent` plays.
    Marked,
    /// Review `3`: `vm-intro` plays.
    RerecordIntro,
    /// Review `3`: `beep` plays.
    RerecordBeep,
    /// Review `1`: `vm-msgsaved` plays.
    Saved,
    /// After the fourth silent review round: `vm-goodbye` plays.
    Goodbye,
    /// `vm-saveoper` plays.
    SaveOper,
    /// The operator save menu waits for a key.
    SaveOperWait,
    /// Operator `4`: `vm-marked-urgent` plays, then `vm-msgsaved`.
    OperMarked,
    /// Operator `1` (or after `4`): `vm-msgsaved` plays.
    OperSaved,
    /// The operator path deleted the recording: `vm-deleted` plays.
    OperDeleted,
    /// `transfer` plays after the operator path.
    OperTransfer,
    /// The end is requested.
    Done,
}

/// The current recording, once the recorder has started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Take {
    /// Its length; `None` if the caller hung up before the recorder reported it.
    duration: Option<Duration>,
}

/// What became of the recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    /// Handed to the store; the outcome once it replies.
    Deposited(Option<DepositOutcome>),
    /// Deleted.
    Discarded,
}

#[derive(Debug)]
pub(crate) struct LeaveFlow {
    leave: Leave,
    settings: Settings,
    state: State,
    /// Skip `vm-intro`.
    silent: bool,
    /// The keys that interrupt the greeting and the intro.
    ecodes: DtmfSet,
    urgency: Urgency,
    admission: Option<Admission>,
    /// `None` until answered; `Some(None)` for "no such greeting" (or not asked).
    temp: Option<Option<SpoolName>>,
    chosen: Option<Option<SpoolName>>,
    name: Option<Option<SpoolName>>,
    name_asked: bool,
    /// When the first recording started.
    origtime: Option<u64>,
    take: Option<Take>,
    decision: Option<Decision>,
    /// Silent review rounds so far (never reset by a key, as in Asterisk).
    review_rounds: u8,
    /// The time of the input being handled.
    now: Tick,
    /// How the flow ended, until the caller of the flow takes it ([`LeaveFlow::take_end`]).
    end: Option<(Verdict, Option<Exit>)>,
}

impl LeaveFlow {
    pub(crate) fn start(leave: Leave, settings: Settings, out: &mut Outbox, now: Tick) -> Self {
        let options = leave.args.options();
        let dialplan = &settings.dialplan;
        let mut ecodes = DtmfSet::of(&[Dtmf::Pound]);
        if settings.operator && dialplan.extension_o {
            ecodes = ecodes.with(Dtmf::Zero);
        }
        if dialplan.extension_a {
            ecodes = ecodes.with(Dtmf::Star);
        }
        let primary = leave.args.primary().clone();
        out.store(StoreOp::Admit {
            mailbox: primary.clone(),
        });
        out.store(StoreOp::Greeting {
            mailbox: primary.clone(),
            which: GreetingKind::Temp,
        });
        let chosen = match options.greeting {
            GreetingOption::None => Some(None),
            GreetingOption::Busy | GreetingOption::Unavail => {
                let which = if options.greeting == GreetingOption::Busy {
                    GreetingKind::Busy
                } else {
                    GreetingKind::Unavail
                };
                out.store(StoreOp::Greeting {
                    mailbox: primary,
                    which,
                });
                None
            }
        };
        LeaveFlow {
            silent: options.silent || settings.maxmsg == 0,
            urgency: options.urgency,
            ecodes,
            state: State::Lookup,
            admission: None,
            temp: None,
            chosen,
            name: None,
            name_asked: false,
            origtime: None,
            take: None,
            decision: None,
            review_rounds: 0,
            now,
            end: None,
            leave,
            settings,
        }
    }

    /// How the flow ended, once: `VoiceMail()` passes it to the call's end, VoiceMailMain's
    /// reply and send go back to their menu.
    pub(crate) fn take_end(&mut self) -> Option<(Verdict, Option<Exit>)> {
        self.end.take()
    }

    /// Whether the store said the mailbox does not exist (the flow then ended silently).
    pub(crate) fn unknown_mailbox(&self) -> bool {
        self.admission == Some(Admission::UnknownMailbox)
    }

    /// Whether the recording was kept but could be neither stored nor queued.
    pub(crate) fn deposit_failed(&self) -> bool {
        self.decision == Some(Decision::Deposited(Some(DepositOutcome::Failed)))
    }

    /// `VMSTATUS` from what became of the message.
    pub(crate) fn message_status(&self) -> VmStatus {
        match self.decision {
            Some(Decision::Deposited(Some(
                DepositOutcome::Stored { .. } | DepositOutcome::Queued,
            ))) => VmStatus::Success,
            _ => VmStatus::Failed,
        }
    }

    pub(crate) fn on_store(
        &mut self,
        kind: StoreKind,
        reply: StoreReply,
        out: &mut Outbox,
        now: Tick,
    ) {
        self.now = now;
        match (kind, reply) {
            (StoreKind::Admit, StoreReply::Admit(admission)) => self.admission = Some(admission),
            (StoreKind::Greeting(GreetingKind::Temp), StoreReply::Greeting(file)) => {
                self.temp = Some(file);
            }
            (StoreKind::Greeting(GreetingKind::Name), StoreReply::Greeting(file)) => {
                self.name = Some(file);
            }
            (StoreKind::Greeting(_), StoreReply::Greeting(file)) => self.chosen = Some(file),
            (StoreKind::Deposit, StoreReply::Deposit(outcome)) => {
                self.decision = Some(Decision::Deposited(Some(outcome)));
            }
            _ => {}
        }
        if self.state == State::Lookup {
            self.lookup(out);
        }
    }

    /// Step 1: decide once the lookups are in.
    fn lookup(&mut self, out: &mut Outbox) {
        if self.admission == Some(Admission::UnknownMailbox) {
            self.done(out, Verdict::Fixed(Some(VmStatus::Failed)), None);
            return;
        }
        let (Some(_), Some(temp), Some(chosen)) = (&self.admission, &self.temp, &self.chosen)
        else {
            return;
        };
        let options = self.leave.args.options();
        let (prompts, real) = if let Some(file) = temp.clone().or_else(|| chosen.clone()) {
            (vec![Prompt::File(file)], true)
        } else if options.greeting == GreetingOption::None {
            (Vec::new(), false)
        } else {
            let Some(name) = &self.name else {
                if !self.name_asked {
                    self.name_asked = true;
                    out.store(StoreOp::Greeting {
                        mailbox: self.leave.args.primary().clone(),
                        which: GreetingKind::Name,
                    });
                }
                return;
            };
            let mut prompts = match name {
                Some(file) => vec![Prompt::File(file.clone())],
                None => std::iter::once(Prompt::VmTheperson)
                    .chain(Prompt::say_digits(self.leave.args.primary().mailbox()))
                    .collect(),
            };
            prompts.push(if options.greeting == GreetingOption::Busy {
                Prompt::VmIsonphone
            } else {
                Prompt::VmIsunavail
            });
            (prompts, false)
        };
        if prompts.is_empty() {
            self.after_greeting(None, out);
        } else {
            self.state = State::Greeting { real };
            out.play(prompts, self.ecodes);
        }
    }

    pub(crate) fn on_channel(&mut self, answer: ChannelAnswer, out: &mut Outbox, now: Tick) {
        self.now = now;
        match (self.state, answer) {
            (State::Greeting { real }, ChannelAnswer::Prompt(key)) => {
                if real && self.leave.args.options().silent_if_greeting {
                    self.silent = true;
                }
                self.after_greeting(key, out);
            }
            (State::Intro, ChannelAnswer::Prompt(key)) => {
                self.after_intro(key.filter(|k| *k != Dtmf::Pound), out);
            }
            (State::ExitTransfer, _) => self.done(
                out,
                Verdict::Fixed(Some(VmStatus::UserExit)),
                Some(self.exit(ExitExtension::O)),
            ),
            (State::MailboxFull, _) => {
                self.done(out, Verdict::Fixed(Some(VmStatus::Failed)), None);
            }
            (State::Beep | State::RerecordBeep, _) => self.record(out),
            (State::Recording, ChannelAnswer::Recorded { duration, ended_by }) => {
                self.recorded(duration, ended_by, out);
            }
            (State::ThankYou, _) => {
                if self.settings.review {
                    self.review_menu(out);
                } else {
                    self.done(out, Verdict::ByMessage, None);
                }
            }
            (
                State::ReviewMenu | State::Listen | State::Sorry,
                ChannelAnswer::Prompt(Some(key)),
            )
            | (State::ReviewWait, ChannelAnswer::Digit(key)) => self.review_key(key, out),
            (State::ReviewMenu, _) => {
                let wait = if self.settings.operator {
                    REVIEW_WAIT + REACHOPER_WAIT
                } else {
                    REVIEW_WAIT
                };
                self.state = State::ReviewWait;
                out.channel(ChannelAction::WaitDigit(wait));
            }
            (State::ReviewWait, _) => {
                self.review_rounds += 1;
                if self.review_rounds >= REVIEW_ROUNDS {
                    self.keep(out);
                    self.state = State::Goodbye;
                    out.play(vec![Prompt::VmGoodbye], DtmfSet::ANY);
                } else {
                    self.review_menu(out);
                }
            }
            (State::Listen | State::Sorry | State::Marked, _) => self.review_menu(out),
            (State::RerecordIntro, _) => {
                self.state = State::RerecordBeep;
                out.play(vec![Prompt::Beep], DtmfSet::ANY);
            }
            (State::Saved | State::Goodbye, _) => self.done(out, Verdict::ByMessage, None),
            (State::SaveOper, ChannelAnswer::Prompt(Some(key)))
            | (State::SaveOperWait, ChannelAnswer::Digit(key)) => self.saveoper_key(Some(key), out),
            (State::SaveOper, _) => {
                self.state = State::SaveOperWait;
                out.channel(ChannelAction::WaitDigit(SAVEOPER_WAIT));
            }
            (State::SaveOperWait, _) => self.saveoper_key(None, out),
            (State::OperMarked, _) => {
                self.state = State::OperSaved;
                out.play(vec![Prompt::VmMsgsaved], DtmfSet::ANY);
            }
            (State::OperSaved | State::OperDeleted, _) => {
                if self.settings.dialplan.extension_o {
                    self.state = State::OperTransfer;
                    out.play(vec![Prompt::Transfer], DtmfSet::ANY);
                } else {
                    self.done(out, Verdict::ByMessage, None);
                }
            }
            (State::OperTransfer, _) => self.done(
                out,
                Verdict::Fixed(Some(VmStatus::UserExit)),
                Some(self.exit(ExitExtension::O)),
            ),
            // `Call` only passes an answer of the kind the outstanding action expects, and
            // the flow issues channel actions only in the states above.
            (State::Lookup | State::Done | State::Greeting { .. } | State::Intro, _)
            | (State::Recording, _) => {
                debug_assert!(false, "{answer:?} cannot answer {:?}", self.state);
            }
        }
    }

    pub(crate) fn on_hangup(&mut self, out: &mut Outbox, now: Tick) {
        self.now = now;
        match self.state {
            State::Lookup
            | State::Greeting { .. }
            | State::Intro
            | State::MailboxFull
            | State::Beep => self.done(out, Verdict::Fixed(Some(VmStatus::Failed)), None),
            State::ExitTransfer => self.done(out, Verdict::Fixed(Some(VmStatus::UserExit)), None),
            State::Recording => {
                // The recorder could not say how long: the file holds what the caller said.
                self.take = Some(Take { duration: None });
                self.keep(out);
                self.done(out, Verdict::ByMessage, None);
            }
            State::ThankYou
            | State::ReviewMenu
            | State::ReviewWait
            | State::Listen
            | State::Sorry
            | State::Marked
            | State::RerecordIntro
            | State::RerecordBeep
            | State::SaveOper
            | State::SaveOperWait
            | State::Saved
            | State::Goodbye => {
                self.keep(out);
                self.done(out, Verdict::ByMessage, None);
            }
            State::OperMarked | State::OperSaved | State::OperDeleted | State::OperTransfer => {
                let verdict = if self.settings.dialplan.extension_o {
                    Verdict::Fixed(Some(VmStatus::UserExit))
                } else {
                    Verdict::ByMessage
                };
                self.done(out, verdict, None);
            }
            State::Done => {}
        }
    }

    /// Step 3: after the greeting (or none), with the key that cut it short.
    fn after_greeting(&mut self, key: Option<Dtmf>, out: &mut Outbox) {
        match key {
            Some(Dtmf::Pound) => {
                self.silent = true;
                self.after_intro(None, out);
            }
            Some(key) => self.after_intro(Some(key), out),
            None if self.silent => self.after_intro(None, out),
            None => {
                self.state = State::Intro;
                out.play(vec![Prompt::VmIntro], self.ecodes);
            }
        }
    }

    /// Step 4: the exits, greetings only, a full mailbox, or on to the beep.
    fn after_intro(&mut self, key: Option<Dtmf>, out: &mut Outbox) {
        match key {
            Some(Dtmf::Star) => self.done(
                out,
                Verdict::Fixed(Some(VmStatus::UserExit)),
                Some(self.exit(ExitExtension::A)),
            ),
            Some(_) => {
                // `0`: the only other key of the escape set.
                self.state = State::ExitTransfer;
                out.play(vec![Prompt::Transfer], DtmfSet::ANY);
            }
            None if self.settings.maxmsg == 0 => {
                self.done(out, Verdict::Fixed(Some(VmStatus::Success)), None);
            }
            None if matches!(self.admission, Some(Admission::Full(_))) => {
                self.state = State::MailboxFull;
                out.play(vec![Prompt::VmMailboxfull], DtmfSet::NONE);
            }
            None => {
                let beep = match &self.leave.args.options().beep {
                    Beep::Default => Some(Prompt::Beep),
                    Beep::File(file) => Some(Prompt::File(file.clone())),
                    Beep::Silent => None,
                };
                match beep {
                    Some(beep) => {
                        self.state = State::Beep;
                        out.play(vec![beep], DtmfSet::NONE);
                    }
                    None => self.record(out),
                }
            }
        }
    }

    /// Step 5: start (or restart) the recorder.
    fn record(&mut self, out: &mut Outbox) {
        self.origtime.get_or_insert(self.now.wall);
        let settings = &self.settings;
        let mut escape = DtmfSet::of(&[Dtmf::Pound]);
        if settings.operator {
            escape = escape.with(Dtmf::Zero);
        }
        let seconds = |s: u32| (s > 0).then(|| Duration::from_secs(u64::from(s)));
        let spec = RecordSpec {
            file: self.leave.recording.clone(),
            format: settings.format.clone(),
            max: seconds(settings.maxsecs),
            silence: seconds(settings.maxsilence),
            silence_threshold: settings.silencethreshold,
            escape,
        };
        self.state = State::Recording;
        out.channel(ChannelAction::Record(spec));
    }

    /// The recorder stopped.
    fn recorded(&mut self, duration: Duration, ended_by: RecordEnd, out: &mut Outbox) {
        match ended_by {
            RecordEnd::Failed => {
                // Nothing usable was recorded; the binding cleans up whatever is there.
                self.take = None;
                self.discard(out);
                self.done(out, Verdict::Fixed(Some(VmStatus::Failed)), None);
            }
            RecordEnd::Hangup => {
                self.take = Some(Take {
                    duration: Some(duration),
                });
                self.keep(out);
                self.done(out, Verdict::ByMessage, None);
            }
            RecordEnd::Dtmf(Dtmf::Zero) => {
                self.take = Some(Take {
                    duration: Some(duration),
                });
                self.saveoper(out);
            }
            RecordEnd::Dtmf(_) | RecordEnd::MaxLength | RecordEnd::Silence => {
                self.take = Some(Take {
                    duration: Some(duration),
                });
                if !self.settings.review {
                    self.keep(out);
                }
                self.state = State::ThankYou;
                out.play(vec![Prompt::AuthThankyou], DtmfSet::NONE);
            }
        }
    }

    /// Step 6: the review menu.
    fn review_menu(&mut self, out: &mut Outbox) {
        let mut prompts = vec![Prompt::VmReview];
        if self.settings.leaveurgent {
            prompts.push(if self.urgency == Urgency::Urgent {
                Prompt::VmReviewNonurgent
            } else {
                Prompt::VmReviewUrgent
            });
        }
        if self.settings.operator {
            prompts.push(Prompt::VmReachoper);
        }
        self.state = State::ReviewMenu;
        out.play(prompts, DtmfSet::ANY);
    }

    /// A key chosen in the review menu (or pressed during a prompt that takes it as the
    /// next choice).
    fn review_key(&mut self, key: Dtmf, out: &mut Outbox) {
        match key {
            Dtmf::One => {
                self.keep(out);
                self.state = State::Saved;
                out.play(vec![Prompt::VmMsgsaved], DtmfSet::NONE);
            }
            Dtmf::Two => {
                self.state = State::Listen;
                out.play(
                    vec![Prompt::File(self.leave.recording.clone())],
                    DtmfSet::ANY,
                );
            }
            Dtmf::Three => {
                self.state = State::RerecordIntro;
                out.play(vec![Prompt::VmIntro], DtmfSet::ANY);
            }
            Dtmf::Four if self.settings.leaveurgent => {
                let prompt = if self.urgency == Urgency::Urgent {
                    self.urgency = Urgency::Normal;
                    Prompt::VmMarkedNonurgent
                } else {
                    self.urgency = Urgency::Urgent;
                    Prompt::VmMarkedUrgent
                };
                self.state = State::Marked;
                out.play(vec![prompt], DtmfSet::ANY);
            }
            Dtmf::Zero if self.settings.operator => self.saveoper(out),
            Dtmf::A | Dtmf::B | Dtmf::C | Dtmf::D => self.review_menu(out),
            _ => {
                self.state = State::Sorry;
                out.play(vec![Prompt::VmSorry], DtmfSet::ANY);
            }
        }
    }

    /// `0` during or after the recording: the operator save menu.
    fn saveoper(&mut self, out: &mut Outbox) {
        self.state = State::SaveOper;
        out.play(vec![Prompt::VmSaveoper], DtmfSet::ANY);
    }

    fn saveoper_key(&mut self, key: Option<Dtmf>, out: &mut Outbox) {
        match key {
            Some(Dtmf::One) => {
                self.keep(out);
                self.state = State::OperSaved;
                out.play(vec![Prompt::VmMsgsaved], DtmfSet::ANY);
            }
            Some(Dtmf::Four) => {
                self.urgency = Urgency::Urgent;
                self.keep(out);
                self.state = State::OperMarked;
                out.play(vec![Prompt::VmMarkedUrgent], DtmfSet::ANY);
            }
            _ => {
                self.discard(out);
                self.state = State::OperDeleted;
                out.play(vec![Prompt::VmDeleted], DtmfSet::ANY);
            }
        }
    }

    /// Step 7: the recording is kept, unless it is shorter than `minsecs`. Issued once, as
    /// soon as it is decided.
    fn keep(&mut self, out: &mut Outbox) {
        let Some(take) = self.take else {
            return;
        };
        if self.decision.is_some() {
            return;
        }
        let secs = take
            .duration
            .map(|d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX));
        if secs.is_some_and(|s| s < self.settings.minsecs) {
            self.discard(out);
            return;
        }
        self.decision = Some(Decision::Deposited(None));
        out.store(StoreOp::Deposit(Deposit {
            recipients: self.leave.args.recipients().to_vec(),
            recording: self.leave.recording.clone(),
            duration_secs: secs,
            urgency: self.urgency,
            origtime: self.origtime.unwrap_or(self.now.wall),
        }));
    }

    /// The recording is deleted. Issued once.
    fn discard(&mut self, out: &mut Outbox) {
        if self.decision.is_some() {
            return;
        }
        self.decision = Some(Decision::Discarded);
        out.store(StoreOp::Discard {
            recording: self.leave.recording.clone(),
        });
    }

    fn exit(&self, extension: ExitExtension) -> Exit {
        Exit {
            context: self.settings.dialplan.exitcontext.clone(),
            extension,
        }
    }

    fn done(&mut self, _out: &mut Outbox, verdict: Verdict, exit: Option<Exit>) {
        if self.state != State::Done {
            self.state = State::Done;
            self.end = Some((verdict, exit));
        }
    }
}
