//! Key 3, the advanced menu (`advanced_options`, `dialout`): reply (a VoiceMail to the
//! sender's box), call back, the envelope, an outgoing call, send a new message; and
//! key 8, forward (`forward_message`, `vm_forwardoptions`), whose target entry the send
//! shares. Reply and send run the leave-message flow ([`LeaveFlow`]) inside the session.

use super::{
    AfterOutage, ENTRY_FIRST, ENTRY_NEXT, MENU_WAIT, MainFlow, OnKey, Op, Purpose, Session, State,
    Step,
};
use crate::args::{LeaveArgs, LeaveOptions};
use crate::io::{ChannelAction, Exit, ExitExtension, StoreOp};
use crate::leave::{Leave, LeaveFlow};
use crate::listing::{MAX_CALLER_ID, StoreUnavailable, TargetCheck};
use crate::names::SpoolName;
use crate::outbox::{Outbox, Verdict};
use crate::prompt::Prompt;
use imapvm_types::MailboxId;
use imapvm_types::{Dtmf, DtmfSet};
use std::time::Duration;

/// The dial-out number's wait between digits.
const DIALOUT_NEXT: Duration = Duration::from_secs(6);
/// Silent rounds of the advanced menu before the main menu comes back (`repeats > 3`).
const ADVANCED_SILENCES: u32 = 4;
/// Silent rounds of the forward options before they cancel, of the call-back menu before
/// it gives up.
const MENU_SILENCES: u8 = 4;
/// Silent rounds of the dial-out prompt before it gives up.
const DIALOUT_SILENCES: u8 = 3;
/// `vm-extension` prompts before the target entry gives up.
const TARGET_PROMPTS: u8 = 4;

/// The leave-message flow running inside the session (reply, send).
#[derive(Debug)]
pub(super) struct Sub {
    pub(super) flow: LeaveFlow,
    /// How it ended, once it has.
    pub(super) end: Option<(Verdict, Option<Exit>)>,
}

/// A forward (key 8) or a send (advanced 5) while its targets are entered and checked.
#[derive(Debug, Default)]
pub(super) struct Forward {
    /// Advanced 5: a new message, to which the sender's own box is a valid target.
    send: bool,
    /// `vm-extension` prompts so far.
    prompts: u8,
    /// The entered targets, in order.
    targets: Vec<Target>,
    /// The target whose confirmation is said next.
    next: usize,
    /// The forwarded copies are urgent.
    pub(super) urgent: bool,
}

#[derive(Debug)]
struct Target {
    /// As typed (said digit by digit when it has no recorded name).
    text: String,
    mailbox: Option<MailboxId>,
    /// `None` while the check is out.
    check: Option<TargetCheck>,
}

/// The raw caller-ID number (for reply and call back), at most [`MAX_CALLER_ID`]
/// characters; empty or `Unknown` is none.
fn raw_number(number: &str) -> Option<String> {
    let number = number.trim();
    (!number.is_empty() && number != "Unknown")
        .then(|| number.chars().take(MAX_CALLER_ID).collect())
}

impl MainFlow {
    // ---------------------------------------------------------------- the menu

    /// `3`: the advanced menu; its silences restart the session's count.
    pub(super) fn advanced(&mut self, out: &mut Outbox) {
        if let Some(s) = self.session.as_mut() {
            s.repeats = 0;
        }
        self.advanced_menu(out);
    }

    fn advanced_menu(&mut self, out: &mut Outbox) {
        let Some(s) = self.session.as_ref() else {
            return;
        };
        let played = !s.starting;
        let mut prompts = Vec::new();
        if played {
            prompts.push(Prompt::VmToreply);
            if self.settings.callback.is_some() {
                prompts.push(Prompt::VmTocallback);
            }
            prompts.push(Prompt::VmTohearenv);
        }
        if self.settings.dialout.is_some() {
            prompts.push(Prompt::VmTomakecall);
        }
        if self.settings.sendvoicemail {
            prompts.push(Prompt::VmLeavemsg);
        }
        prompts.push(Prompt::VmStarmain);
        self.say(
            out,
            State::Advanced,
            vec![Step::play(prompts), Step::wait(MENU_WAIT)],
        );
    }

    /// Back to the main menu from the advanced one (its silences count afresh).
    fn leave_advanced(&mut self, out: &mut Outbox) {
        if let Some(s) = self.session.as_mut() {
            s.repeats = 0;
        }
        self.command(None, out);
    }

    /// A prompt, then the main menu (the key is lost, as the advanced menu's `'t'`
    /// overwrites it).
    fn advanced_sorry(&mut self, prompt: Prompt, out: &mut Outbox) {
        if let Some(s) = self.session.as_mut() {
            s.repeats = 0;
        }
        self.say(out, State::BackToMenu, vec![Step::skippable(vec![prompt])]);
    }

    pub(super) fn advanced_key(&mut self, key: Option<Dtmf>, out: &mut Outbox) {
        let Some(s) = self.session.as_mut() else {
            return;
        };
        let played = !s.starting && s.current().is_some();
        match key {
            None => {
                s.repeats += 1;
                if s.repeats >= ADVANCED_SILENCES {
                    self.leave_advanced(out);
                } else {
                    self.advanced_menu(out);
                }
            }
            Some(Dtmf::One) if played => self.reply(out),
            Some(Dtmf::Two) if played && self.settings.callback.is_some() => {
                self.callback(out);
            }
            Some(Dtmf::Three) if played => {
                s.repeats = 0;
                self.envelope(out);
            }
            Some(Dtmf::Four) if self.settings.dialout.is_some() => {
                s.repeats = 0;
                self.dialout(out);
            }
            Some(Dtmf::Five) if self.settings.sendvoicemail => {
                s.repeats = 0;
                self.start_forward(true, out);
            }
            Some(Dtmf::One | Dtmf::Two | Dtmf::Three | Dtmf::Four | Dtmf::Five) => {
                self.advanced_sorry(Prompt::VmSorry, out);
            }
            Some(Dtmf::Star) => self.leave_advanced(out),
            Some(Dtmf::Pound) => self.close(out, vec![Prompt::VmGoodbye], None),
            Some(_) => self.advanced_menu(out),
        }
    }

    // ---------------------------------------------------------------- reply

    /// `1`: leave a message in the sender's box (same context as the session's box).
    fn reply(&mut self, out: &mut Outbox) {
        let Some(s) = self.session.as_ref() else {
            return;
        };
        let Some(row) = s.row() else {
            return;
        };
        let Some(number) = raw_number(&row.caller_id_num) else {
            self.advanced_sorry(Prompt::VmNonumber, out);
            return;
        };
        match MailboxId::new(&number, s.mailbox.context()) {
            Ok(target) => self.start_sub(vec![target], out),
            Err(_) => self.advanced_sorry(Prompt::VmNobox, out),
        }
    }

    /// Runs `VoiceMail(recipients)` with no options inside the session.
    fn start_sub(&mut self, recipients: Vec<MailboxId>, out: &mut Outbox) {
        let Ok(args) = LeaveArgs::new(recipients, LeaveOptions::default()) else {
            self.leave_advanced(out);
            return;
        };
        let leave = Leave {
            args,
            recording: self.main.recordings.message.clone(),
        };
        let mark = out.mark();
        let flow = LeaveFlow::start(leave, self.settings.clone(), out, self.now);
        self.sub_ops.extend(out.store_since(mark));
        self.sub = Some(Sub { flow, end: None });
        self.state = State::Sub;
        self.check_sub(out);
    }

    /// The reply or send ended and its store ops are answered.
    pub(super) fn sub_done(&mut self, out: &mut Outbox) {
        let Some(sub) = self.sub.take() else {
            return;
        };
        if let Some(s) = self.session.as_mut() {
            s.repeats = 0;
        }
        let exit = sub.end.and_then(|(_, exit)| exit);
        if let Some(
            exit @ Exit {
                extension: ExitExtension::O,
                ..
            },
        ) = exit
        {
            // The operator: no goodbye, the dialplan goes on at `o`.
            self.close(out, Vec::new(), Some(exit));
        } else if sub.flow.unknown_mailbox() {
            self.advanced_sorry(Prompt::VmNobox, out);
        } else if sub.flow.deposit_failed() {
            self.outage(out, AfterOutage::MainMenu);
        } else {
            self.command(None, out);
        }
    }

    // ---------------------------------------------------------------- call back

    /// `2`: call the sender back.
    fn callback(&mut self, out: &mut Outbox) {
        if let Some(s) = self.session.as_mut() {
            s.repeats = 0;
        }
        self.menus.callback = 0;
        if let Some(row) = self.session.as_ref().and_then(Session::row).cloned() {
            self.lookup_caller_name(&row, out);
        }
        self.callback_menu(out);
    }

    /// "The number I have is …, press 1 to call it, 2 for another number, star to
    /// cancel", or "no number".
    pub(super) fn callback_menu(&mut self, out: &mut Outbox) {
        let Some(row) = self.session.as_ref().and_then(Session::row).cloned() else {
            return;
        };
        let dialout = self.settings.dialout.is_some();
        let mut steps = Vec::new();
        if raw_number(&row.caller_id_num).is_some() {
            steps.push(Step::play(vec![Prompt::VmNumIHave]));
            match self.caller_steps(&row, true) {
                Some(caller) => steps.extend(caller),
                None => {
                    self.menus.callback_waiting = true;
                    self.state = State::AwaitCallerName;
                    return;
                }
            }
            steps.push(Step::play(vec![Prompt::VmTocallnum]));
            if dialout {
                steps.push(Step::play(vec![Prompt::VmCalldiffnum]));
            }
        } else {
            steps.push(Step::play(vec![Prompt::VmNonumber]));
            if dialout {
                steps.push(Step::play(vec![Prompt::VmToenternumber]));
            }
        }
        steps.push(Step::play(vec![Prompt::VmStarCancel]));
        steps.push(Step::wait(MENU_WAIT));
        self.say(out, State::Callback, steps);
    }

    pub(super) fn callback_key(&mut self, key: Option<Dtmf>, out: &mut Outbox) {
        let number = self
            .session
            .as_ref()
            .and_then(Session::row)
            .and_then(|row| raw_number(&row.caller_id_num));
        match key {
            None => {
                self.menus.callback += 1;
                if self.menus.callback >= MENU_SILENCES {
                    self.leave_advanced(out);
                } else {
                    self.callback_menu(out);
                }
            }
            Some(Dtmf::One) if number.is_some() => {
                let (Some(number), Some(context)) = (number, self.settings.callback.clone()) else {
                    return;
                };
                if number.ends_with('*') {
                    self.callback_menu(out);
                } else {
                    self.dial(context, number, out);
                }
            }
            Some(Dtmf::One | Dtmf::Two) => {
                if self.settings.dialout.is_some() {
                    self.dialout(out);
                } else {
                    self.advanced_sorry(Prompt::VmSorry, out);
                }
            }
            Some(Dtmf::Star) => self.leave_advanced(out),
            Some(
                Dtmf::Zero
                | Dtmf::Three
                | Dtmf::Four
                | Dtmf::Five
                | Dtmf::Six
                | Dtmf::Seven
                | Dtmf::Eight
                | Dtmf::Nine,
            ) => {
                self.menus.callback += 1;
                self.say(
                    out,
                    State::CallbackSorry,
                    vec![Step::play(vec![Prompt::VmSorry])],
                );
            }
            Some(_) => self.callback_menu(out),
        }
    }

    pub(super) fn callback_sorry_done(&mut self, key: Option<Dtmf>, out: &mut Outbox) {
        match key {
            Some(key) => self.callback_key(Some(key), out),
            None if self.menus.callback >= MENU_SILENCES => self.leave_advanced(out),
            None => self.callback_menu(out),
        }
    }

    /// Leaves the session for a call: `vm-dialout`, then the dialplan at `number`.
    fn dial(&mut self, context: String, number: String, out: &mut Outbox) {
        self.close(
            out,
            vec![Prompt::VmDialout],
            Some(Exit {
                context: Some(context),
                extension: ExitExtension::Dial(number),
            }),
        );
    }

    // ---------------------------------------------------------------- dial out

    /// `4` (or call back `2`): "enter the number to call, then pound; star to cancel".
    fn dialout(&mut self, out: &mut Outbox) {
        self.menus.dialout = 0;
        self.dialout_menu(out);
    }

    fn dialout_menu(&mut self, out: &mut Outbox) {
        self.say(
            out,
            State::Dialout,
            vec![
                Step::play(vec![
                    Prompt::VmEnterNumToCall,
                    Prompt::VmThenPound,
                    Prompt::VmStarCancel,
                ]),
                Step::wait(MENU_WAIT),
            ],
        );
    }

    pub(super) fn dialout_key(&mut self, key: Option<Dtmf>, out: &mut Outbox) {
        match key {
            None => {
                self.menus.dialout += 1;
                if self.menus.dialout >= DIALOUT_SILENCES {
                    self.leave_advanced(out);
                } else {
                    self.dialout_menu(out);
                }
            }
            Some(Dtmf::Star) => self.leave_advanced(out),
            Some(first) => self.read(
                out,
                Purpose::Dialout,
                Vec::new(),
                Some(first),
                (ENTRY_FIRST, DIALOUT_NEXT),
            ),
        }
    }

    pub(super) fn dialout_typed(&mut self, number: String, out: &mut Outbox) {
        match self.settings.dialout.clone() {
            Some(context) if !number.is_empty() && !number.ends_with('*') => {
                self.dial(context, number, out);
            }
            _ => self.leave_advanced(out),
        }
    }

    // ---------------------------------------------------------------- forward and send

    /// `8` (or advanced `5`): the target entry.
    pub(super) fn start_forward(&mut self, send: bool, out: &mut Outbox) {
        let urgent = !send
            && self.settings.forward_urgent_auto
            && self.session.as_ref().is_some_and(|s| s.in_urgent());
        self.forward = Some(Forward {
            send,
            urgent,
            ..Forward::default()
        });
        self.ask_targets(out);
    }

    /// `vm-extension`, read while it plays; after four prompts, back to the menu.
    fn ask_targets(&mut self, out: &mut Outbox) {
        let Some(forward) = &mut self.forward else {
            return;
        };
        forward.prompts += 1;
        forward.targets.clear();
        forward.next = 0;
        if forward.prompts > TARGET_PROMPTS {
            let send = forward.send;
            self.forward = None;
            if send {
                self.leave_advanced(out);
            } else {
                self.command(None, out);
            }
            return;
        }
        self.read(
            out,
            Purpose::Target,
            vec![Prompt::VmExtension],
            None,
            (ENTRY_FIRST, ENTRY_NEXT),
        );
    }

    /// The targets are typed, `*` between them: each is checked (concurrently).
    pub(super) fn targets_typed(&mut self, text: &str, out: &mut Outbox) {
        if text.is_empty() {
            self.ask_targets(out);
            return;
        }
        let Some(session) = self.session.as_ref() else {
            return;
        };
        let own = session.mailbox.mailbox().to_owned();
        let context = self.main.args.context().to_owned();
        let send = self.forward.as_ref().is_some_and(|f| f.send);
        let mut targets = Vec::new();
        for segment in text.split('*') {
            let mailbox = MailboxId::new(segment, &context).ok();
            // Asterisk compares the number alone with the sender's.
            let refused = mailbox.is_none() || (!send && segment == own);
            targets.push(Target {
                text: segment.to_owned(),
                mailbox: mailbox.filter(|_| !refused),
                check: refused.then_some(TargetCheck::Unknown),
            });
        }
        let asks: Vec<(usize, MailboxId)> = targets
            .iter()
            .enumerate()
            .filter_map(|(i, t)| {
                t.mailbox
                    .clone()
                    .filter(|_| t.check.is_none())
                    .map(|m| (i, m))
            })
            .collect();
        if let Some(forward) = &mut self.forward {
            forward.targets = targets;
            forward.next = 0;
        }
        self.state = State::Checking;
        for (index, mailbox) in asks {
            self.ask(out, Op::Target(index), StoreOp::CheckTarget { mailbox });
        }
        self.next_target_check(out);
    }

    pub(super) fn target_checked(&mut self, index: usize, check: TargetCheck, out: &mut Outbox) {
        if let Some(target) = self.forward.as_mut().and_then(|f| f.targets.get_mut(index)) {
            target.check = Some(check);
        }
        if self.state == State::Checking {
            self.next_target_check(out);
        }
    }

    /// Confirms the targets in order, as Asterisk checks them: a valid one's name (or
    /// number), until one is refused.
    fn next_target_check(&mut self, out: &mut Outbox) {
        let Some(forward) = &self.forward else {
            return;
        };
        let Some(target) = forward.targets.get(forward.next) else {
            self.targets_confirmed(out);
            return;
        };
        let Some(check) = target.check.clone() else {
            self.state = State::Checking;
            return;
        };
        match check {
            TargetCheck::Valid { name } => {
                let step = match name {
                    Some(file) => Step::fixed(vec![Prompt::File(file)]),
                    None => Step {
                        action: ChannelAction::SayDigits {
                            digits: target.text.clone(),
                            escape: DtmfSet::NONE,
                        },
                        on_key: OnKey::End,
                    },
                };
                self.say(out, State::TargetName, vec![step]);
            }
            TargetCheck::Unknown => self.say(
                out,
                State::TargetRefused,
                vec![Step::play(vec![Prompt::PbxInvalid])],
            ),
            TargetCheck::Full => self.say(
                out,
                State::TargetRefused,
                vec![Step::play(vec![Prompt::VmMailboxfull])],
            ),
            TargetCheck::Unavailable => {
                self.forward = None;
                self.outage(out, AfterOutage::MainMenu);
            }
        }
    }

    pub(super) fn next_target(&mut self, out: &mut Outbox) {
        if let Some(forward) = &mut self.forward {
            forward.next += 1;
        }
        self.next_target_check(out);
    }

    /// A target was refused: a key is a main-menu command (Asterisk returns it), else the
    /// entry again.
    pub(super) fn target_refused(&mut self, key: Option<Dtmf>, out: &mut Outbox) {
        if self.waiting_for_targets() {
            // Checks still out for later targets: their answers are not needed.
            self.ops.retain(|_, op| !matches!(op, Op::Target(_)));
        }
        match key {
            Some(key) => {
                self.forward = None;
                self.command(Some(key), out);
            }
            None => self.ask_targets(out),
        }
    }

    fn waiting_for_targets(&self) -> bool {
        self.ops.values().any(|op| matches!(op, Op::Target(_)))
    }

    /// Every target is valid: a send records the message, a forward offers the comment.
    fn targets_confirmed(&mut self, out: &mut Outbox) {
        let Some(forward) = &self.forward else {
            return;
        };
        let recipients: Vec<MailboxId> = forward
            .targets
            .iter()
            .filter_map(|t| t.mailbox.clone())
            .collect();
        if forward.send {
            self.forward = None;
            self.start_sub(recipients, out);
        } else {
            self.menus.forward = 0;
            self.forward_options(out);
        }
    }

    /// "1 to prepend a message, 2 to forward as it is; star for the main menu".
    fn forward_options(&mut self, out: &mut Outbox) {
        self.say(
            out,
            State::ForwardOptions,
            vec![
                Step::play(vec![Prompt::VmForwardoptions, Prompt::VmStarmain]),
                Step::wait(MENU_WAIT),
            ],
        );
    }

    pub(super) fn forward_options_key(&mut self, key: Option<Dtmf>, out: &mut Outbox) {
        match key {
            None => {
                self.menus.forward += 1;
                if self.menus.forward >= MENU_SILENCES {
                    self.cancel_forward(out);
                } else {
                    self.forward_options(out);
                }
            }
            Some(Dtmf::One) => self.record_comment(out),
            Some(Dtmf::Two) => self.deliver(None, out),
            Some(Dtmf::Star) => self.cancel_forward(out),
            Some(_) => {
                self.menus.forward = 0;
                self.forward_options(out);
            }
        }
    }

    /// `*` (or four silences): no forward; the main menu takes the `*` (help).
    fn cancel_forward(&mut self, out: &mut Outbox) {
        self.forward = None;
        self.command(Some(Dtmf::Star), out);
    }

    /// Forwards the current message to the targets, with the comment if one was kept.
    pub(super) fn deliver(&mut self, comment: Option<SpoolName>, out: &mut Outbox) {
        let Some(forward) = self.forward.take() else {
            return;
        };
        let Some(s) = self.session.as_ref() else {
            return;
        };
        let Some(message) = s.current() else {
            self.command(None, out);
            return;
        };
        let mailbox = s.mailbox.clone();
        let to = forward
            .targets
            .into_iter()
            .filter_map(|t| t.mailbox)
            .collect();
        self.state = State::Forwarding;
        self.ask(
            out,
            Op::Forward,
            StoreOp::Forward {
                mailbox,
                message,
                to,
                comment,
                urgent: forward.urgent,
            },
        );
    }

    pub(super) fn forwarded(&mut self, result: Result<(), StoreUnavailable>, out: &mut Outbox) {
        match result {
            Ok(()) => self.say(
                out,
                State::ThenCommand,
                vec![Step::play(vec![Prompt::VmMsgforwarded])],
            ),
            Err(StoreUnavailable) => self.outage(out, AfterOutage::MainMenu),
        }
    }
}
