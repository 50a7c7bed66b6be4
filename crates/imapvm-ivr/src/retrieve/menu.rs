//! The main menu (`vm_execmain`'s loop): its commands, the instructions and their
//! repeat counter, moving between messages and between the urgent and new lists,
//! delete marks, the folder prompt (`get_folder2`), changing folders, saving, and `#`.

use super::{
    AfterOutage, FolderUse, MENU_WAIT, MainFlow, Op, Session, State, Step, toggle_mark, unmark,
};
use crate::io::StoreOp;
use crate::listing::{Listing, Moved, StoreUnavailable};
use crate::outbox::Outbox;
use crate::prompt::Prompt;
use imapvm_policy::Folder;
use imapvm_types::Dtmf;
use std::time::Duration;

/// The folder prompt's wait after each folder's name.
const FOLDER_DIGIT_WAIT: Duration = Duration::from_millis(500);
/// The folder prompt's wait after `vm-tocancel`.
const FOLDER_LAST_WAIT: Duration = Duration::from_secs(4);
/// Rounds of the folder list before it gives up (as `#`).
const FOLDER_ROUNDS: u8 = 4;
/// Main-menu silences per session before goodbye (`vms.repeats > 2`).
const MENU_SILENCES: u32 = 3;

/// `vm-{box}` as the instructions and the empty-folder sentence say the open list. IMAP
/// mode says `vm-INBOX` for the urgent list (it is a view of `imapfolder`).
pub(super) fn box_prompt(folder: Folder) -> Prompt {
    match folder {
        Folder::Urgent => Prompt::VmInbox,
        other => Prompt::folder(other),
    }
}

impl MainFlow {
    /// Runs a main-menu command: a key, or `None` for "no key" (the instructions).
    pub(super) fn command(&mut self, key: Option<Dtmf>, out: &mut Outbox) {
        let Some(session) = self.session.as_mut() else {
            return;
        };
        match key {
            Some(Dtmf::One) => {
                session.cur = 0;
                self.browse(out);
            }
            Some(Dtmf::Five) => self.browse(out),
            Some(Dtmf::Two) => self.folder_prompt(FolderUse::Change, out),
            Some(Dtmf::Three) => self.advanced(out),
            Some(Dtmf::Four) => self.previous(out),
            Some(Dtmf::Six) => self.next(out),
            Some(Dtmf::Seven) => self.toggle(out),
            Some(Dtmf::Eight) => self.forward_command(out),
            Some(Dtmf::Nine) => self.save_command(out),
            Some(Dtmf::Zero) => self.options(out),
            Some(Dtmf::Star) if !session.starting => self.help(out),
            Some(Dtmf::Pound) => self.close(out, vec![Prompt::VmGoodbye], None),
            _ => self.instructions(out),
        }
    }

    // ---------------------------------------------------------------- instructions

    /// The instructions (`vm_instructions_en`), then a 6 s wait.
    pub(super) fn instructions(&mut self, out: &mut Outbox) {
        if let Some(s) = self.session.as_mut() {
            s.help = false;
        }
        self.say_instructions(Vec::new(), out);
    }

    /// `*` after a message: `vm-onefor` … `vm-opts`, then the long instructions.
    fn help(&mut self, out: &mut Outbox) {
        let Some(s) = self.session.as_mut() else {
            return;
        };
        s.help = true;
        let lead = vec![
            Prompt::VmOnefor,
            box_prompt(s.folder),
            Prompt::VmMessages,
            Prompt::VmOpts,
        ];
        self.say_instructions(lead, out);
    }

    fn say_instructions(&mut self, lead: Vec<Prompt>, out: &mut Outbox) {
        let Some(s) = self.session.as_ref() else {
            return;
        };
        let mut prompts = lead;
        prompts.extend(self.menu_prompts(s));
        self.say(
            out,
            State::Instructions,
            vec![Step::play(prompts), Step::wait(MENU_WAIT)],
        );
    }

    fn menu_prompts(&self, s: &Session) -> Vec<Prompt> {
        let help = s.help;
        let wrap = self.settings.messagewrap && s.rows.len() > 1;
        let mut prompts = Vec::new();
        if s.starting {
            if !s.rows.is_empty() {
                prompts.push(if help {
                    Prompt::VmOneforFull
                } else {
                    Prompt::VmOnefor
                });
                prompts.extend([box_prompt(s.folder), Prompt::VmMessages]);
            }
            prompts.push(if help {
                Prompt::VmOptsFull
            } else {
                Prompt::VmOpts
            });
        } else {
            if help {
                prompts.extend([
                    Prompt::VmOneforFull,
                    box_prompt(s.folder),
                    Prompt::VmMessages,
                    Prompt::VmOptsFull,
                ]);
            }
            if s.cur > 0 || (s.folder == Folder::Inbox && s.urgent > 0) || wrap {
                prompts.push(Prompt::VmPrev);
            }
            if !help {
                prompts.push(Prompt::VmAdvopts);
            }
            prompts.push(Prompt::VmRepeat);
            if Some(s.cur) != s.last() || (s.in_urgent() && s.new > 0) || wrap {
                prompts.push(Prompt::VmNext);
            }
            if !self.main.args.options().read_only {
                let marked = s.current().is_some_and(|m| s.is_marked(&m));
                prompts.push(if marked {
                    Prompt::VmUndelete
                } else {
                    Prompt::VmDelete
                });
            }
            prompts.extend([Prompt::VmToforward, Prompt::VmSavemessage]);
        }
        prompts.push(Prompt::VmHelpexit);
        prompts
    }

    /// The instructions ended: a key is the next command; a silence counts against the
    /// session's three.
    pub(super) fn instructions_done(&mut self, key: Option<Dtmf>, out: &mut Outbox) {
        if key.is_some() {
            self.command(key, out);
            return;
        }
        let Some(s) = self.session.as_mut() else {
            return;
        };
        s.repeats += 1;
        if s.repeats >= MENU_SILENCES {
            self.close(out, vec![Prompt::VmGoodbye], None);
        } else {
            self.say_instructions(Vec::new(), out);
        }
    }

    // ---------------------------------------------------------------- browsing

    /// `1` / `5`: the current message, or "you have no … messages".
    fn browse(&mut self, out: &mut Outbox) {
        if self.session.as_ref().is_some_and(|s| s.current().is_some()) {
            self.play_message(out);
        } else {
            let steps = self.no_messages();
            self.say(out, State::ThenCommand, steps);
        }
    }

    /// "You have no {box} messages".
    pub(super) fn no_messages(&self) -> Vec<Step> {
        let folder = self.session.as_ref().map_or(Folder::Inbox, |s| s.folder);
        vec![Step::play(vec![
            Prompt::VmYouhave,
            Prompt::VmNo,
            box_prompt(folder),
            Prompt::VmMessages,
        ])]
    }

    fn no_more(&mut self, out: &mut Outbox) {
        self.say(
            out,
            State::ThenCommand,
            vec![Step::play(vec![Prompt::VmNomore])],
        );
    }

    /// Switches between the urgent and the new list (the summary's), keeping the place
    /// and `starting` as Asterisk's `open_mailbox` does.
    fn switch_list(&mut self, folder: Folder) {
        let Some(s) = self.session.as_mut() else {
            return;
        };
        let rows = match folder {
            Folder::Urgent => s.urgent_list.clone(),
            _ => s.new_list.clone(),
        };
        s.folder = folder;
        s.uid_validity = s.imap_uv;
        s.rows = rows;
    }

    /// `4`.
    fn previous(&mut self, out: &mut Outbox) {
        let Some(s) = self.session.as_mut() else {
            return;
        };
        let wrap = self.settings.messagewrap;
        if s.cur > 0 && !s.rows.is_empty() {
            s.cur = (s.cur - 1).min(s.rows.len() - 1);
            self.play_message(out);
        } else if s.folder == Folder::Inbox && s.urgent > 0 {
            // From the first new message back to the last urgent one.
            self.switch_list(Folder::Urgent);
            match self.session.as_mut().and_then(|s| {
                let last = s.last()?;
                s.cur = last;
                Some(())
            }) {
                Some(()) => self.play_message(out),
                None => self.no_more(out),
            }
        } else if wrap && s.rows.len() > 1 {
            s.cur = s.rows.len() - 1;
            self.play_message(out);
        } else {
            self.no_more(out);
        }
    }

    /// `6`.
    fn next(&mut self, out: &mut Outbox) {
        let Some(s) = self.session.as_mut() else {
            return;
        };
        let wrap = self.settings.messagewrap;
        if s.cur + 1 < s.rows.len() {
            s.cur += 1;
            self.play_message(out);
        } else if s.in_urgent() && s.new > 0 {
            self.open_new_list(out);
        } else if wrap && s.rows.len() > 1 {
            s.cur = 0;
            self.play_message(out);
        } else {
            self.no_more(out);
        }
    }

    /// From the end of the urgent list to the first new message.
    fn open_new_list(&mut self, out: &mut Outbox) {
        if self.new_list_opened(out) {
            self.play_message(out);
        }
    }

    /// Opens the new list at its first message; `vm-nomore` (and `false`) when it is
    /// empty.
    fn new_list_opened(&mut self, out: &mut Outbox) -> bool {
        self.switch_list(Folder::Inbox);
        let Some(s) = self.session.as_mut() else {
            return false;
        };
        s.cur = 0;
        if s.rows.is_empty() {
            self.no_more(out);
            return false;
        }
        true
    }

    /// After `7` or `9` with `nextaftercmd`: the next message, wrapping, or the new list
    /// after the urgent one.
    fn advance_after(&mut self, from_save: bool, out: &mut Outbox) {
        let Some(s) = self.session.as_mut() else {
            return;
        };
        if s.cur + 1 < s.rows.len() {
            s.cur += 1;
            self.play_message(out);
        } else if self.settings.messagewrap && s.rows.len() > 1 {
            s.cur = 0;
            self.play_message(out);
        } else if s.in_urgent() && (!from_save || s.new > 0) {
            self.open_new_list(out);
        } else {
            self.no_more(out);
        }
    }

    // ---------------------------------------------------------------- delete

    /// `7`: mark or unmark the current message.
    fn toggle(&mut self, out: &mut Outbox) {
        let read_only = self.main.args.options().read_only;
        let Some(s) = self.session.as_mut() else {
            return;
        };
        let Some(message) = s.current().filter(|_| !read_only) else {
            self.instructions(out);
            return;
        };
        let marked = toggle_mark(&mut s.marks, &message);
        let count = match s.folder {
            Folder::Urgent => Some(&mut s.urgent),
            Folder::Inbox => Some(&mut s.new),
            Folder::Old => Some(&mut s.old),
            _ => None,
        };
        if let Some(count) = count {
            *count = if marked {
                count.saturating_sub(1)
            } else {
                count.saturating_add(1)
            };
        }
        let prompt = if marked {
            Prompt::VmDeleted
        } else {
            Prompt::VmUndeleted
        };
        self.say(out, State::Toggled, vec![Step::play(vec![prompt])]);
    }

    pub(super) fn toggled(&mut self, key: Option<Dtmf>, out: &mut Outbox) {
        if self.settings.nextaftercmd {
            self.advance_after(false, out);
        } else {
            self.command(key, out);
        }
    }

    // ---------------------------------------------------------------- folders

    /// `vm-changeto` / `vm-savefolder`, then up to four rounds of the folder list.
    fn folder_prompt(&mut self, usage: FolderUse, out: &mut Outbox) {
        self.menus.folder_rounds = 0;
        let opening = match usage {
            FolderUse::Change => Prompt::VmChangeto,
            FolderUse::Save => Prompt::VmSavefolder,
        };
        self.say(
            out,
            State::FolderPrompt(usage),
            vec![Step::play(vec![opening])],
        );
    }

    fn folder_round(&mut self, usage: FolderUse, out: &mut Outbox) {
        let mut steps = Vec::new();
        for index in 0..5u8 {
            let folder = Folder::from_index(i32::from(index)).unwrap_or(Folder::Inbox);
            let mut prompts = Vec::new();
            if index == 0 {
                prompts.push(Prompt::VmPress);
            }
            prompts.extend(Prompt::digit(index));
            prompts.extend([Prompt::VmFor, Prompt::folder(folder), Prompt::VmMessages]);
            steps.push(Step::play(prompts));
            steps.push(Step::wait(FOLDER_DIGIT_WAIT));
        }
        steps.push(Step::play(vec![Prompt::VmTocancel]));
        steps.push(Step::wait(FOLDER_LAST_WAIT));
        self.say(out, State::FolderPrompt(usage), steps);
    }

    pub(super) fn folder_prompt_done(
        &mut self,
        usage: FolderUse,
        key: Option<Dtmf>,
        out: &mut Outbox,
    ) {
        match key.and_then(Dtmf::digit) {
            Some(index) => self.folder_chosen(usage, index, out),
            None if key == Some(Dtmf::Pound) => self.folder_cancelled(usage, out),
            None if self.menus.folder_rounds < FOLDER_ROUNDS => {
                self.menus.folder_rounds += 1;
                self.folder_round(usage, out);
            }
            None => self.folder_cancelled(usage, out),
        }
    }

    fn folder_cancelled(&mut self, usage: FolderUse, out: &mut Outbox) {
        match usage {
            FolderUse::Change => {
                // `#` names the current folder again and starts it over.
                let Some(s) = self.session.as_mut() else {
                    return;
                };
                s.starting = true;
                s.cur = 0;
                let name = box_prompt(s.folder);
                self.say(
                    out,
                    State::ThenCommand,
                    vec![Step::play(vec![name, Prompt::VmMessages])],
                );
            }
            FolderUse::Save => self.instructions(out),
        }
    }

    fn folder_chosen(&mut self, usage: FolderUse, index: u8, out: &mut Outbox) {
        let folder = Folder::from_index(i32::from(index)).unwrap_or(Folder::Inbox);
        let Some(s) = self.session.as_ref() else {
            return;
        };
        let mailbox = s.mailbox.clone();
        match usage {
            FolderUse::Change => {
                self.state = State::Listing;
                self.ask(out, Op::List(folder), StoreOp::List { mailbox, folder });
            }
            FolderUse::Save => {
                let Some(message) = s.current() else {
                    self.instructions(out);
                    return;
                };
                self.menus.saving_to = Some(folder);
                self.state = State::Moving;
                self.ask(
                    out,
                    Op::Move,
                    StoreOp::Move {
                        mailbox,
                        message,
                        to: folder,
                    },
                );
            }
        }
    }

    /// The new folder is listed: it is open, its name is said.
    pub(super) fn listed(
        &mut self,
        folder: Folder,
        listing: Result<Listing, StoreUnavailable>,
        out: &mut Outbox,
    ) {
        let Ok(listing) = listing else {
            self.outage(out, AfterOutage::MainMenu);
            return;
        };
        let Some(s) = self.session.as_mut() else {
            return;
        };
        let rows = super::login::bounded(listing.messages);
        if listing.uid_validity == s.imap_uv {
            match folder {
                Folder::Inbox => s.new_list = rows.clone(),
                Folder::Old => s.old_list = rows.clone(),
                _ => {}
            }
        }
        s.open(folder, listing.uid_validity, rows);
        self.say(
            out,
            State::ThenCommand,
            vec![Step::play(vec![box_prompt(folder), Prompt::VmMessages])],
        );
    }

    // ---------------------------------------------------------------- save

    /// `9`.
    fn save_command(&mut self, out: &mut Outbox) {
        if self.session.as_ref().is_some_and(|s| s.current().is_some()) {
            self.folder_prompt(FolderUse::Save, out);
        } else {
            self.instructions(out);
        }
    }

    pub(super) fn moved(&mut self, moved: Moved, out: &mut Outbox) {
        let to = self.menus.saving_to.take().unwrap_or(Folder::Inbox);
        let Some(s) = self.session.as_mut() else {
            return;
        };
        let steps = match moved {
            Moved::Done => {
                if let Some(message) = s.current() {
                    unmark(&mut s.marks, &message);
                }
                let number = u32::try_from(s.cur + 1).unwrap_or(u32::MAX);
                vec![
                    Step::play(vec![Prompt::VmMessage]),
                    Step::number(number),
                    Step::play(vec![
                        Prompt::VmSavedto,
                        Prompt::folder(to),
                        Prompt::VmMessages,
                    ]),
                ]
            }
            Moved::Full => vec![Step::play(vec![Prompt::VmMailboxfull])],
            Moved::Gone => vec![Step::play(vec![Prompt::ImSorry])],
            Moved::Unavailable => {
                self.outage(out, AfterOutage::MainMenu);
                return;
            }
        };
        self.say(out, State::Saved, steps);
    }

    pub(super) fn saved(&mut self, key: Option<Dtmf>, out: &mut Outbox) {
        if self.settings.nextaftercmd {
            self.advance_after(true, out);
        } else {
            self.command(key, out);
        }
    }

    // ---------------------------------------------------------------- forward

    /// `8`: forward the current message (from the urgent list with nothing in it, the
    /// first new one).
    fn forward_command(&mut self, out: &mut Outbox) {
        let Some(s) = self.session.as_mut() else {
            return;
        };
        if !s.rows.is_empty() {
            self.start_forward(false, out);
        } else if s.in_urgent() && s.new > 0 {
            if self.new_list_opened(out) {
                self.start_forward(false, out);
            }
        } else {
            self.no_more(out);
        }
    }
}
