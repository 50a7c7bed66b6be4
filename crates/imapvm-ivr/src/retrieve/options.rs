//! Key 0, the mailbox options (`vm_options`, `vm_tempgreeting`): the unavailable, busy,
//! name and temporary greetings, erasing the temporary one, and the password (also the
//! new-user setup's). The recorder with its review menu (`play_record_review`) serves the
//! greetings and the forward comment.

use super::{
    AfterOutage, ENTRY_FIRST, ENTRY_NEXT, MENU_WAIT, MainFlow, Op, PasswordStep, Purpose, State,
    Step,
};
use crate::io::{ChannelAction, GreetingKind, RecordEnd, RecordSpec, StoreOp};
use crate::listing::{PasswordChange, StoreUnavailable};
use crate::names::SpoolName;
use crate::outbox::Outbox;
use crate::prompt::Prompt;
use imapvm_types::Secret;
use imapvm_types::{Dtmf, DtmfSet};
use std::time::Duration;

/// Silent rounds of the options, temporary-greeting and review menus before they give up
/// (`retries > 3`, `attempts > 3`).
const SILENCES: u8 = 4;
/// A new user's failed password attempts before the call is hung up.
const NEW_USER_PASSWORD_TRIES: u8 = 3;

/// What a recording is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RecordingOf {
    Greeting(GreetingKind),
    /// The comment in front of a forwarded message.
    Comment,
}

/// Who started the recorder, and so where it goes back to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Owner {
    /// Options `1`-`3`.
    Options,
    /// Options `4` with a temporary greeting set: its menu's `1`.
    TempMenu,
    /// Options `4` without one: recorded at once.
    TempDirect,
    /// The new-user setup.
    NewUser,
    /// Forward `1`.
    Forward,
}

/// How a recording ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    /// Accepted (and, for a greeting, stored).
    Kept,
    /// Four silent review rounds: a greeting is dropped, a comment kept.
    TimedOut,
}

/// A greeting or comment being recorded and reviewed.
#[derive(Debug)]
pub(super) struct Recorder {
    of: RecordingOf,
    owner: Owner,
    file: SpoolName,
    /// The recorder's length of the last take, in whole seconds.
    secs: u32,
    /// Silent review rounds (never reset by a key).
    rounds: u8,
    /// The comment's review key 4: the forwarded copies are urgent.
    urgent: bool,
}

/// The password being changed.
#[derive(Debug, Default)]
pub(super) struct Password {
    /// The new-user setup's (else the options menu's).
    new_user: bool,
    /// The new-user setup's failed attempts.
    tries: u8,
    /// The first entry, until it is typed again.
    first: Option<Secret>,
}

fn record_prompt(kind: GreetingKind) -> Prompt {
    match kind {
        GreetingKind::Unavail => Prompt::VmRecUnv,
        GreetingKind::Busy => Prompt::VmRecBusy,
        GreetingKind::Name => Prompt::VmRecName,
        GreetingKind::Temp => Prompt::VmRecTemp,
    }
}

impl MainFlow {
    // ---------------------------------------------------------------- the options menu

    /// `0`: the mailbox options (whether a temporary greeting is set is asked first, once).
    pub(super) fn options(&mut self, out: &mut Outbox) {
        let Some(s) = self.session.as_ref() else {
            return;
        };
        self.menus.options = 0;
        if s.temp.is_some() {
            self.options_menu(out);
            return;
        }
        let mailbox = s.mailbox.clone();
        self.state = State::OptionsLoading;
        self.ask(
            out,
            Op::TempCheck,
            StoreOp::Greeting {
                mailbox,
                which: GreetingKind::Temp,
            },
        );
    }

    pub(super) fn temp_checked(&mut self, exists: bool, out: &mut Outbox) {
        if let Some(s) = self.session.as_mut() {
            s.temp = Some(exists);
        }
        if self.state == State::OptionsLoading {
            self.options_menu(out);
        }
    }

    /// `vm-tmpexists` (while a temporary greeting is set), `vm-options`, a 6 s wait.
    pub(super) fn options_menu(&mut self, out: &mut Outbox) {
        let mut prompts = Vec::new();
        if self.session.as_ref().and_then(|s| s.temp) == Some(true) {
            prompts.push(Prompt::VmTmpexists);
        }
        prompts.push(Prompt::VmOptions);
        self.say(
            out,
            State::Options,
            vec![Step::play(prompts), Step::wait(MENU_WAIT)],
        );
    }

    /// Back to the main menu, which starts over (the list and its marks are kept).
    fn leave_options(&mut self, out: &mut Outbox) {
        if let Some(s) = self.session.as_mut() {
            s.starting = true;
        }
        self.command(None, out);
    }

    pub(super) fn options_key(&mut self, key: Option<Dtmf>, out: &mut Outbox) {
        let Some(key) = key else {
            self.menus.options += 1;
            if self.menus.options >= SILENCES {
                self.leave_options(out);
            } else {
                self.options_menu(out);
            }
            return;
        };
        self.menus.options = 0;
        match key {
            Dtmf::One => self.record_greeting(GreetingKind::Unavail, Owner::Options, out),
            Dtmf::Two => self.record_greeting(GreetingKind::Busy, Owner::Options, out),
            Dtmf::Three => self.record_greeting(GreetingKind::Name, Owner::Options, out),
            Dtmf::Four => {
                if self.session.as_ref().and_then(|s| s.temp) == Some(true) {
                    self.menus.temp = 0;
                    self.temp_menu(out);
                } else {
                    self.record_greeting(GreetingKind::Temp, Owner::TempDirect, out);
                }
            }
            Dtmf::Five => self.change_password(out),
            Dtmf::Star => self.leave_options(out),
            _ => self.options_menu(out),
        }
    }

    // ---------------------------------------------------------------- temporary greeting

    /// "1 to record your temporary greeting, 2 to erase it", a 6 s wait.
    fn temp_menu(&mut self, out: &mut Outbox) {
        self.say(
            out,
            State::TempMenu,
            vec![
                Step::play(vec![Prompt::VmTempgreeting2]),
                Step::wait(MENU_WAIT),
            ],
        );
    }

    pub(super) fn temp_key(&mut self, key: Option<Dtmf>, out: &mut Outbox) {
        let Some(key) = key else {
            self.menus.temp += 1;
            if self.menus.temp >= SILENCES {
                self.options_menu(out);
            } else {
                self.temp_menu(out);
            }
            return;
        };
        self.menus.temp = 0;
        match key {
            Dtmf::One => self.record_greeting(GreetingKind::Temp, Owner::TempMenu, out),
            Dtmf::Two => {
                let Some(mailbox) = self.session.as_ref().map(|s| s.mailbox.clone()) else {
                    return;
                };
                self.state = State::TempDeleting;
                self.ask(
                    out,
                    Op::GreetingDelete,
                    StoreOp::GreetingDelete {
                        mailbox,
                        which: GreetingKind::Temp,
                    },
                );
            }
            Dtmf::Star => self.options_menu(out),
            _ => self.temp_menu(out),
        }
    }

    pub(super) fn temp_deleted(&mut self, result: Result<(), StoreUnavailable>, out: &mut Outbox) {
        match result {
            Ok(()) => {
                if let Some(s) = self.session.as_mut() {
                    s.temp = Some(false);
                }
                self.say(
                    out,
                    State::OptionsAgain,
                    vec![Step::skippable(vec![Prompt::VmTempremoved])],
                );
            }
            Err(StoreUnavailable) => self.outage(out, AfterOutage::Options),
        }
    }

    // ---------------------------------------------------------------- password

    /// Options `5`: a locked password (`-`) says `vm-no`; else the new one, twice.
    fn change_password(&mut self, out: &mut Outbox) {
        if self.settings.password_locked {
            self.say(
                out,
                State::OptionsKeyed,
                vec![Step::play(vec![Prompt::VmNo])],
            );
            return;
        }
        self.password = super::options::Password::default();
        self.password_prompt(PasswordStep::New, out);
    }

    /// The new-user setup's password (Asterisk's `vm_newuser_setup`).
    pub(super) fn new_user_password(&mut self, out: &mut Outbox) {
        let tries = self.password.tries;
        self.password = Password {
            new_user: true,
            tries,
            first: None,
        };
        self.password_prompt(PasswordStep::New, out);
    }

    fn password_prompt(&mut self, step: PasswordStep, out: &mut Outbox) {
        let prompt = match step {
            PasswordStep::New => Prompt::VmNewpassword,
            PasswordStep::Confirm => Prompt::VmReenterpassword,
        };
        self.say_with(
            out,
            State::PasswordPrompt(step),
            vec![Step::play(vec![prompt])],
            true,
        );
    }

    /// The prompt ended: `#` is an empty password (the new user's ends the call); another
    /// key is its first digit.
    pub(super) fn password_prompt_done(
        &mut self,
        step: PasswordStep,
        key: Option<Dtmf>,
        out: &mut Outbox,
    ) {
        if key == Some(Dtmf::Pound) {
            if self.password.new_user {
                self.close(out, vec![Prompt::VmGoodbye], None);
            } else {
                match step {
                    PasswordStep::New => self.new_password_typed(Secret::default(), out),
                    PasswordStep::Confirm => self.confirm_password_typed(Secret::default(), out),
                }
            }
            return;
        }
        let purpose = match step {
            PasswordStep::New => Purpose::NewPassword,
            PasswordStep::Confirm => Purpose::ConfirmPassword,
        };
        self.read(out, purpose, Vec::new(), key, (ENTRY_FIRST, ENTRY_NEXT));
    }

    pub(super) fn new_password_typed(&mut self, pin: Secret, out: &mut Outbox) {
        let text = pin.expose();
        let too_short =
            u32::try_from(text.chars().count()).unwrap_or(u32::MAX) < self.settings.minpassword;
        if too_short || text.starts_with('*') {
            self.password_refused(Prompt::VmInvalidPassword, out);
            return;
        }
        self.password.first = Some(pin);
        self.password_prompt(PasswordStep::Confirm, out);
    }

    pub(super) fn confirm_password_typed(&mut self, again: Secret, out: &mut Outbox) {
        let Some(first) = self.password.first.take() else {
            return;
        };
        if first != again {
            self.password_refused(Prompt::VmMismatch, out);
            return;
        }
        let Some(mailbox) = self.session.as_ref().map(|s| s.mailbox.clone()) else {
            return;
        };
        self.state = State::ChangingPassword;
        self.ask(
            out,
            Op::Password,
            StoreOp::ChangePassword {
                mailbox,
                new: first,
            },
        );
    }

    /// Too short, starting with `*`, refused by `externpasscheck`, or mistyped.
    fn password_refused(&mut self, prompt: Prompt, out: &mut Outbox) {
        self.password.first = None;
        if self.password.new_user {
            self.password.tries += 1;
            self.say(
                out,
                State::NewUserRetry,
                vec![Step::skippable(vec![prompt])],
            );
        } else {
            self.say(
                out,
                State::OptionsKeyed,
                vec![Step::play(vec![prompt, Prompt::VmPlsTryAgain])],
            );
        }
    }

    /// After a new user's failed attempt: again, or the hangup after the third.
    pub(super) fn new_user_retry(&mut self, out: &mut Outbox) {
        if self.password.tries >= NEW_USER_PASSWORD_TRIES {
            self.hang_up(out);
        } else {
            self.new_user_password(out);
        }
    }

    pub(super) fn password_changed(&mut self, change: PasswordChange, out: &mut Outbox) {
        let new_user = self.password.new_user;
        match (change, new_user) {
            (PasswordChange::Changed, false) => self.say(
                out,
                State::OptionsKeyed,
                vec![Step::play(vec![Prompt::VmPasschanged])],
            ),
            (PasswordChange::Changed, true) => self.say(
                out,
                State::NewUserDone,
                vec![Step::skippable(vec![Prompt::VmPasschanged])],
            ),
            (PasswordChange::Refused, _) => {
                self.password_refused(Prompt::VmInvalidPassword, out);
            }
            (PasswordChange::Unavailable, false) => self.outage(out, AfterOutage::Options),
            (PasswordChange::Unavailable, true) => self.give_up(out),
        }
    }

    // ---------------------------------------------------------------- the recorder

    /// Records a greeting: its prompt (a key cuts it short), the beep, the recorder.
    pub(super) fn record_greeting(&mut self, kind: GreetingKind, owner: Owner, out: &mut Outbox) {
        self.recorder = Some(Recorder {
            of: RecordingOf::Greeting(kind),
            owner,
            file: self.main.recordings.greeting.clone(),
            secs: 0,
            rounds: 0,
            urgent: false,
        });
        self.record_intro(out);
    }

    /// Forward `1`: the comment.
    pub(super) fn record_comment(&mut self, out: &mut Outbox) {
        let urgent = self.forward.as_ref().is_some_and(|f| f.urgent);
        self.recorder = Some(Recorder {
            of: RecordingOf::Comment,
            owner: Owner::Forward,
            file: self.main.recordings.comment.clone(),
            secs: 0,
            rounds: 0,
            urgent,
        });
        self.record_intro(out);
    }

    /// Before each take: `vm-rec-*` and the beep (a greeting), or `vm-record-prepend` and
    /// the beep (a comment; both cut short by any key).
    fn record_intro(&mut self, out: &mut Outbox) {
        let Some(recorder) = &self.recorder else {
            return;
        };
        let steps = match recorder.of {
            RecordingOf::Greeting(kind) => vec![
                Step::skippable(vec![record_prompt(kind)]),
                Step::fixed(vec![Prompt::Beep]),
            ],
            RecordingOf::Comment => vec![
                Step::skippable(vec![Prompt::VmRecordPrepend]),
                Step::skippable(vec![Prompt::Beep]),
            ],
        };
        self.say(out, State::RecIntro, steps);
    }

    pub(super) fn record(&mut self, out: &mut Outbox) {
        let Some(recorder) = &self.recorder else {
            return;
        };
        let settings = &self.settings;
        let max = match recorder.of {
            RecordingOf::Greeting(_) => settings.maxgreet,
            RecordingOf::Comment => settings.maxsecs,
        };
        let seconds = |s: u32| (s > 0).then(|| Duration::from_secs(u64::from(s)));
        let spec = RecordSpec {
            file: recorder.file.clone(),
            format: settings.format.clone(),
            max: seconds(max),
            silence: seconds(settings.maxsilence),
            silence_threshold: settings.silencethreshold,
            escape: DtmfSet::of(&[Dtmf::Pound]),
        };
        self.state = State::Recording;
        out.channel(ChannelAction::Record(spec));
    }

    pub(super) fn recorded(&mut self, duration: Duration, ended_by: RecordEnd, out: &mut Outbox) {
        match ended_by {
            RecordEnd::Hangup => self.hung_up(out),
            RecordEnd::Failed => {
                let owner = self.recorder.take().map(|r| r.owner);
                match owner {
                    Some(Owner::NewUser) => self.give_up(out),
                    Some(Owner::Forward) => {
                        self.forward = None;
                        self.outage(out, AfterOutage::MainMenu);
                    }
                    _ => self.outage(out, AfterOutage::Options),
                }
            }
            RecordEnd::Dtmf(_) | RecordEnd::MaxLength | RecordEnd::Silence => {
                if let Some(recorder) = &mut self.recorder {
                    recorder.secs = u32::try_from(duration.as_secs()).unwrap_or(u32::MAX);
                }
                self.say(
                    out,
                    State::RecThanks,
                    vec![Step::fixed(vec![Prompt::AuthThankyou])],
                );
            }
        }
    }

    /// `vm-review` (+ the urgent choice for a comment), a 6 s wait.
    pub(super) fn review_menu(&mut self, out: &mut Outbox) {
        let Some(recorder) = &self.recorder else {
            return;
        };
        let mut prompts = vec![Prompt::VmReview];
        if recorder.of == RecordingOf::Comment && self.settings.leaveurgent {
            prompts.push(if recorder.urgent {
                Prompt::VmReviewNonurgent
            } else {
                Prompt::VmReviewUrgent
            });
        }
        self.say(
            out,
            State::Review,
            vec![Step::play(prompts), Step::wait(MENU_WAIT)],
        );
    }

    pub(super) fn review_key(&mut self, key: Option<Dtmf>, out: &mut Outbox) {
        let Some(recorder) = &mut self.recorder else {
            return;
        };
        let comment = recorder.of == RecordingOf::Comment;
        match key {
            None => {
                recorder.rounds += 1;
                if recorder.rounds >= SILENCES {
                    self.recorder_done(Outcome::TimedOut, out);
                } else {
                    self.review_menu(out);
                }
            }
            Some(Dtmf::One) => match recorder.of {
                RecordingOf::Comment => self.recorder_done(Outcome::Kept, out),
                RecordingOf::Greeting(which) => {
                    let recording = recorder.file.clone();
                    let duration_secs = recorder.secs;
                    let Some(mailbox) = self.session.as_ref().map(|s| s.mailbox.clone()) else {
                        return;
                    };
                    self.state = State::GreetingStoring;
                    self.ask(
                        out,
                        Op::GreetingSet(which),
                        StoreOp::GreetingSet {
                            mailbox,
                            which,
                            recording,
                            duration_secs,
                        },
                    );
                }
            },
            Some(Dtmf::Two) => {
                let file = recorder.file.clone();
                self.say(
                    out,
                    State::ReviewListen,
                    vec![Step::play(vec![Prompt::File(file)])],
                );
            }
            Some(Dtmf::Three) => self.record_intro(out),
            Some(Dtmf::Four) if comment && self.settings.leaveurgent => {
                recorder.urgent = !recorder.urgent;
                let prompt = if recorder.urgent {
                    Prompt::VmMarkedUrgent
                } else {
                    Prompt::VmMarkedNonurgent
                };
                self.say(
                    out,
                    State::ReviewMarked,
                    vec![Step::skippable(vec![prompt])],
                );
            }
            Some(Dtmf::A | Dtmf::B | Dtmf::C | Dtmf::D) => self.review_menu(out),
            Some(_) => self.say(
                out,
                State::ReviewSorry,
                vec![Step::play(vec![Prompt::VmSorry])],
            ),
        }
    }

    pub(super) fn greeting_stored(
        &mut self,
        which: GreetingKind,
        result: Result<(), StoreUnavailable>,
        out: &mut Outbox,
    ) {
        match result {
            Ok(()) => {
                if which == GreetingKind::Temp
                    && let Some(s) = self.session.as_mut()
                {
                    s.temp = Some(true);
                }
                self.say(
                    out,
                    State::GreetingSaved,
                    vec![Step::fixed(vec![Prompt::VmMsgsaved])],
                );
            }
            Err(StoreUnavailable) => {
                let owner = self.recorder.take().map(|r| r.owner);
                if owner == Some(Owner::NewUser) {
                    self.give_up(out);
                } else {
                    self.outage(out, AfterOutage::Options);
                }
            }
        }
    }

    /// The recording is kept (stored) or timed out: back to whoever started it.
    pub(super) fn recorder_done(&mut self, outcome: Outcome, out: &mut Outbox) {
        let Some(recorder) = self.recorder.take() else {
            return;
        };
        match (recorder.owner, outcome) {
            (Owner::Options, Outcome::Kept) => self.options_menu(out),
            // A greeting's review timing out leaves the options menu too.
            (Owner::Options, Outcome::TimedOut) => self.leave_options(out),
            (Owner::TempMenu, Outcome::Kept) => self.temp_menu(out),
            (Owner::TempMenu | Owner::TempDirect, _) => self.options_menu(out),
            (Owner::NewUser, Outcome::Kept) => self.new_user_next(out),
            (Owner::NewUser, Outcome::TimedOut) => self.close(out, vec![Prompt::VmGoodbye], None),
            (Owner::Forward, _) => {
                if let Some(forward) = &mut self.forward {
                    forward.urgent = recorder.urgent;
                }
                self.deliver(Some(recorder.file), out);
            }
        }
    }
}
