//! One message (`play_message`): the header ("first message", "urgent", "message 3"),
//! the envelope (date in the mailbox's zone, caller, length), then the forward comment
//! and the audio with the listen controls. The audio is fetched while the header is
//! said; it is marked `\Seen` when it starts. Also advanced `3` (the envelope alone).

use super::{AfterOutage, MainFlow, OnKey, Op, Session, State, Step};
use crate::io::{ChannelAction, GreetingKind, StoreOp};
use crate::listing::{Fetched, MAX_CALLER_ID, MessageInfo, MessageRef};
use crate::names::SpoolName;
use crate::outbox::Outbox;
use crate::prompt::Prompt;
use crate::settings::DEFAULT_DATE_FORMAT;
use imapvm_types::MailboxId;
use imapvm_types::{Dtmf, DtmfSet};
use std::time::Duration;

/// The keys that stop a message, `1`-`9`: `listen-control-stop-key` `13456789`, and `2`,
/// the restart key, which the IVR carries out by playing the file again.
fn stop_keys() -> DtmfSet {
    // `Dtmf::ALL` starts 0, 1, …, 9.
    DtmfSet::of(&Dtmf::ALL[1..10])
}

/// The caller's number as the envelope says it: the characters `ast_say_digit_str`
/// says, at most [`MAX_CALLER_ID`]; empty or `Unknown` is no number.
pub(super) fn caller_number(row: &MessageInfo) -> Option<String> {
    let raw = row.caller_id_num.trim();
    if raw.is_empty() || raw == "Unknown" {
        return None;
    }
    let said: String = raw
        .chars()
        .filter(|c| c.is_ascii_digit() || matches!(c, '*' | '#' | '-'))
        .take(MAX_CALLER_ID)
        .collect();
    (!said.is_empty()).then_some(said)
}

impl MainFlow {
    /// Plays the current message: header, envelope, audio.
    pub(super) fn play_message(&mut self, out: &mut Outbox) {
        self.menus.envelope_only = false;
        let Some(s) = self.session.as_mut() else {
            return;
        };
        s.starting = false;
        let (Some(message), Some(row)) = (s.current(), s.row().cloned()) else {
            return;
        };
        self.ensure_fetch(message, out);
        self.ensure_caller_name(&row, out);
        let Some(s) = self.session.as_ref() else {
            return;
        };
        let first = s.cur == 0;
        let last = Some(s.cur) == s.last();
        let mut steps = Vec::new();
        let lead = if first {
            Some(Prompt::VmFirst)
        } else if last {
            Some(Prompt::VmLast)
        } else {
            None
        };
        if let Some(lead) = lead {
            // Asterisk says "urgent" whatever the key that cut "first" short returned.
            steps.push(if row.urgent {
                Step::skippable(vec![lead])
            } else {
                Step::play(vec![lead])
            });
        }
        if row.urgent {
            steps.push(Step::play(vec![Prompt::VmUrgent]));
        }
        steps.push(Step::play(vec![Prompt::VmMessage]));
        if !first && !last {
            steps.push(Step::number(u32::try_from(s.cur + 1).unwrap_or(u32::MAX)));
        }
        if let Some(category) = row.category.as_deref().and_then(|c| SpoolName::new(c).ok()) {
            steps.push(Step::skippable(vec![Prompt::File(category)]));
        }
        if self.settings.envelope {
            steps.extend(self.date_step(&row));
        }
        self.say(out, State::MessageHeader, steps);
    }

    fn date_step(&self, row: &MessageInfo) -> Option<Step> {
        let epoch = row.origtime?;
        let (format, zone) = match &self.settings.zone {
            Some(zone) => (zone.format.clone(), Some(zone.timezone.clone())),
            None => (DEFAULT_DATE_FORMAT.to_owned(), None),
        };
        Some(Step {
            action: ChannelAction::SayDateTime {
                epoch,
                format,
                zone,
                escape: DtmfSet::ANY,
            },
            on_key: OnKey::End,
        })
    }

    fn ensure_fetch(&mut self, message: MessageRef, out: &mut Outbox) {
        let Some(s) = self.session.as_mut() else {
            return;
        };
        if s.fetched.contains_key(&message) {
            return;
        }
        s.fetched.insert(message, None);
        let mailbox = s.mailbox.clone();
        self.ask(out, Op::Fetch(message), StoreOp::Fetch { mailbox, message });
    }

    /// The box a caller of an internal context is (`cidinternalcontexts`), if any.
    fn internal_caller(&self, s: &Session, row: &MessageInfo) -> Option<MailboxId> {
        let context = s.mailbox.context();
        if !self
            .settings
            .cidinternalcontexts
            .iter()
            .any(|c| c == context)
        {
            return None;
        }
        MailboxId::new(&caller_number(row)?, context).ok()
    }

    /// With `saycid`, a caller from an internal context is said by name: look it up now,
    /// while the header plays.
    fn ensure_caller_name(&mut self, row: &MessageInfo, out: &mut Outbox) {
        if !self.settings.saycid {
            return;
        }
        self.lookup_caller_name(row, out);
    }

    pub(super) fn lookup_caller_name(&mut self, row: &MessageInfo, out: &mut Outbox) {
        let Some(s) = self.session.as_ref() else {
            return;
        };
        let Some(caller) = self.internal_caller(s, row) else {
            return;
        };
        if s.names.contains_key(&caller) {
            return;
        }
        if let Some(s) = self.session.as_mut() {
            s.names.insert(caller.clone(), None);
        }
        self.ask(
            out,
            Op::CallerName(caller.clone()),
            StoreOp::Greeting {
                mailbox: caller,
                which: GreetingKind::Name,
            },
        );
    }

    /// Who called (`play_message_callerid`); `callback` is the call-back menu's form
    /// (no "from" words). `None` while the caller's recorded name is still looked up.
    pub(super) fn caller_steps(&self, row: &MessageInfo, callback: bool) -> Option<Vec<Step>> {
        let s = self.session.as_ref()?;
        let Some(number) = caller_number(row) else {
            return Some(vec![Step::play(vec![Prompt::VmUnknownCaller])]);
        };
        let mut steps = Vec::new();
        if let Some(caller) = self.internal_caller(s, row) {
            let name = s.names.get(&caller)?.clone()?;
            match name {
                Some(file) => {
                    if !callback {
                        steps.push(Step::skippable(vec![Prompt::VmFrom]));
                    }
                    steps.push(Step::fixed(vec![Prompt::File(file)]));
                }
                None => {
                    if !callback {
                        steps.push(Step::skippable(vec![Prompt::VmFromExtension]));
                    }
                    steps.push(Step {
                        action: ChannelAction::SayDigits {
                            digits: number,
                            escape: DtmfSet::NONE,
                        },
                        on_key: OnKey::End,
                    });
                }
            }
        } else {
            if !callback {
                steps.push(Step::skippable(vec![Prompt::VmFromPhonenumber]));
            }
            steps.push(Step {
                action: ChannelAction::SayDigits {
                    digits: number,
                    escape: DtmfSet::ANY,
                },
                on_key: OnKey::End,
            });
        }
        Some(steps)
    }

    /// The header and date are said: `1` plays the audio now, another key is a command;
    /// otherwise the caller and the length.
    pub(super) fn header_done(&mut self, key: Option<Dtmf>, out: &mut Outbox) {
        match key {
            None => self.tail(out),
            Some(key) if self.menus.envelope_only => {
                // Advanced `3`: the key is lost; back to the menu.
                let _ = key;
                self.command(None, out);
            }
            Some(Dtmf::One) => self.audio(out),
            Some(key) => self.command(Some(key), out),
        }
    }

    /// The caller (`saycid`) and the length (`sayduration`), once the caller's name is
    /// known.
    fn tail(&mut self, out: &mut Outbox) {
        let Some(row) = self.session.as_ref().and_then(Session::row).cloned() else {
            return;
        };
        let mut steps = Vec::new();
        let say_caller = self.settings.saycid || self.menus.envelope_only;
        if say_caller {
            match self.caller_steps(&row, false) {
                Some(caller) => steps.extend(caller),
                None => {
                    self.state = State::AwaitCallerName;
                    return;
                }
            }
        }
        let minutes = row.duration_secs / 60;
        if self.settings.sayduration
            && !self.menus.envelope_only
            && minutes >= self.settings.saydurationm
        {
            steps.push(Step::skippable(vec![Prompt::VmDuration]));
            steps.push(Step {
                action: ChannelAction::SayNumber {
                    number: i64::from(minutes),
                    escape: DtmfSet::ANY,
                },
                on_key: OnKey::Skip,
            });
            steps.push(Step::play(vec![Prompt::VmMinutes]));
        }
        self.say(out, State::MessageTail, steps);
    }

    pub(super) fn caller_name(
        &mut self,
        caller: MailboxId,
        file: Option<SpoolName>,
        out: &mut Outbox,
    ) {
        if let Some(s) = self.session.as_mut() {
            s.names.insert(caller, Some(file));
        }
        if self.state == State::AwaitCallerName {
            if std::mem::take(&mut self.menus.callback_waiting) {
                self.callback_menu(out);
            } else {
                self.tail(out);
            }
        }
    }

    pub(super) fn tail_done(&mut self, key: Option<Dtmf>, out: &mut Outbox) {
        if self.menus.envelope_only {
            self.command(None, out);
            return;
        }
        match key {
            None | Some(Dtmf::One) => self.audio(out),
            Some(key) => self.command(Some(key), out),
        }
    }

    /// The audio, once fetched.
    fn audio(&mut self, out: &mut Outbox) {
        let Some(s) = self.session.as_ref() else {
            return;
        };
        let Some(message) = s.current() else {
            return;
        };
        match s.fetched.get(&message) {
            Some(Some(fetched)) => {
                let fetched = fetched.clone();
                self.start_audio(message, fetched, out);
            }
            Some(None) => self.state = State::AwaitAudio,
            None => {
                self.state = State::AwaitAudio;
                self.ensure_fetch(message, out);
            }
        }
    }

    pub(super) fn fetched(&mut self, message: MessageRef, fetched: Fetched, out: &mut Outbox) {
        let Some(s) = self.session.as_mut() else {
            return;
        };
        let awaited = self.state == State::AwaitAudio && s.current() == Some(message);
        if fetched == Fetched::Unavailable {
            // Asked again next time.
            s.fetched.remove(&message);
        } else {
            s.fetched.insert(message, Some(fetched.clone()));
        }
        if awaited {
            self.start_audio(message, fetched, out);
        }
    }

    fn start_audio(&mut self, message: MessageRef, fetched: Fetched, out: &mut Outbox) {
        match fetched {
            Fetched::Audio { audio, intro } => {
                self.mark_seen(message, out);
                match intro {
                    Some(intro) => {
                        self.state = State::IntroAudio;
                        self.control_stream(intro, out);
                    }
                    None => {
                        self.state = State::Audio;
                        self.control_stream(audio, out);
                    }
                }
            }
            // A message that vanished plays as a missing file does: not at all.
            Fetched::Gone => self.command(None, out),
            Fetched::Unavailable => self.outage(out, AfterOutage::MainMenu),
        }
    }

    /// Listening makes the message heard (`\Seen`), once.
    fn mark_seen(&mut self, message: MessageRef, out: &mut Outbox) {
        let Some(s) = self.session.as_mut() else {
            return;
        };
        let Some(row) = s.rows.get_mut(s.cur) else {
            return;
        };
        if row.seen {
            return;
        }
        row.seen = true;
        if message.storage() == imapvm_policy::Folder::Inbox && message.uid_validity == s.imap_uv {
            // The summary's lists, which the urgent/new switches reopen, know it too.
            for list in [&mut s.urgent_list, &mut s.new_list, &mut s.old_list] {
                for row in list.iter_mut().filter(|r| r.uid == message.uid) {
                    row.seen = true;
                }
            }
        }
        let mailbox = s.mailbox.clone();
        self.ask(out, Op::MarkSeen, StoreOp::MarkSeen { mailbox, message });
    }

    fn control_stream(&mut self, file: SpoolName, out: &mut Outbox) {
        out.channel(ChannelAction::ControlStream {
            file,
            stop: stop_keys(),
            skip: Duration::from_millis(u64::from(self.settings.skipms)),
            forward: Dtmf::Pound,
            rewind: Dtmf::Star,
            pause: Dtmf::Zero,
        });
    }

    fn current_audio(&self) -> Option<(SpoolName, Option<SpoolName>)> {
        let s = self.session.as_ref()?;
        match s.fetched.get(&s.current()?)? {
            Some(Fetched::Audio { audio, intro }) => Some((audio.clone(), intro.clone())),
            _ => None,
        }
    }

    /// The forward comment ended: `2` plays it again; any other way, the message follows
    /// (Asterisk ignores how the comment ended).
    pub(super) fn intro_audio_done(&mut self, key: Option<Dtmf>, out: &mut Outbox) {
        let Some((audio, intro)) = self.current_audio() else {
            self.command(None, out);
            return;
        };
        match (key, intro) {
            (Some(Dtmf::Two), Some(intro)) => self.control_stream(intro, out),
            _ => {
                self.state = State::Audio;
                self.control_stream(audio, out);
            }
        }
    }

    /// The message ended: `2` plays it again, another stop key is a command, the end
    /// brings the instructions.
    pub(super) fn audio_done(&mut self, key: Option<Dtmf>, out: &mut Outbox) {
        match key {
            Some(Dtmf::Two) => match self.current_audio() {
                Some((audio, _)) => self.control_stream(audio, out),
                None => self.command(None, out),
            },
            key => self.command(key, out),
        }
    }

    /// Advanced `3`: the date and the caller (always said here), then the main menu.
    pub(super) fn envelope(&mut self, out: &mut Outbox) {
        let Some(row) = self.session.as_ref().and_then(Session::row).cloned() else {
            self.command(None, out);
            return;
        };
        self.menus.envelope_only = true;
        self.lookup_caller_name(&row, out);
        let steps = self.date_step(&row).into_iter().collect();
        self.say(out, State::MessageHeader, steps);
    }
}
