//! The start of a VoiceMailMain call (`vm_authenticate`, then `vm_execmain` up to the main
//! loop): the mailbox and the password, the pause and the retries after a wrong one, the
//! summary that gives the counts and the starting list, the new-user setup, the
//! `vm-mailboxfull` and `vm-tempgreetactive` warnings, and the intro.

use super::{
    ENTRY_FIRST, ENTRY_NEXT, MainFlow, Op, Purpose, Session, State, Step, WRONG_PIN_DELAY,
};
use crate::io::{Exit, ExitExtension, GreetingKind, StoreOp};
use crate::listing::{
    AuthReply, BoxLookup, Listing, MAX_LISTED, MessageInfo, StoreUnavailable, Summary,
};
use crate::outbox::Outbox;
use crate::prompt::Prompt;
use imapvm_policy::Folder;
use imapvm_types::{MailboxId, Secret};
use std::collections::{BTreeMap, HashMap};

/// The login's progress.
#[derive(Debug, Default)]
pub(super) struct Login {
    /// The box being logged in to, when the typed text names one.
    mailbox: Option<MailboxId>,
    /// The arguments named an existing box (Asterisk's `skipuser`): a wrong password is
    /// asked again, never the mailbox.
    given: bool,
    /// The lookup out is for the arguments' box.
    looking_up_given: bool,
    /// Failed attempts.
    attempts: u32,
    /// The password equals the number (from the granted login).
    pub(super) new_user: bool,
    /// The new-user setup's greeting checks: whether each exists.
    pub(super) greetings: HashMap<GreetingKind, bool>,
    /// The new-user greetings already offered.
    pub(super) new_user_done: Vec<GreetingKind>,
    /// `tempgreetwarn`: the summary said a temporary greeting is set.
    temp_set: bool,
}

/// Keeps at most [`MAX_LISTED`] messages of a listing.
pub(super) fn bounded(mut rows: Vec<MessageInfo>) -> Vec<MessageInfo> {
    rows.truncate(MAX_LISTED);
    rows
}

impl MainFlow {
    /// The first step: the arguments' box (looked up, then its password) or the mailbox
    /// prompt.
    pub(super) fn begin(&mut self, out: &mut Outbox) {
        match self.main.args.mailbox().cloned() {
            Some(mailbox) => {
                self.login.mailbox = Some(mailbox.clone());
                match self.main.named {
                    Some(lookup) => self.given_looked_up(lookup, out),
                    None => {
                        self.login.looking_up_given = true;
                        self.state = State::Lookup;
                        self.ask(out, Op::Lookup, StoreOp::Lookup { mailbox });
                    }
                }
            }
            None => self.ask_mailbox(out),
        }
    }

    pub(super) fn looked_up(&mut self, lookup: BoxLookup, out: &mut Outbox) {
        if std::mem::take(&mut self.login.looking_up_given) {
            self.given_looked_up(lookup, out);
            return;
        }
        let Some(mailbox) = self.login.mailbox.clone() else {
            return;
        };
        match lookup {
            BoxLookup::NoPin => self.authenticate(mailbox, None, out),
            BoxLookup::Pin | BoxLookup::Unknown => self.ask_password(out),
        }
    }

    /// The arguments' box: unknown → the normal login; `s` or no password → in; else its
    /// password.
    fn given_looked_up(&mut self, lookup: BoxLookup, out: &mut Outbox) {
        let Some(mailbox) = self.login.mailbox.clone() else {
            return;
        };
        match lookup {
            BoxLookup::Unknown => {
                self.login.mailbox = None;
                self.ask_mailbox(out);
            }
            BoxLookup::NoPin => {
                self.login.given = true;
                self.authenticate(mailbox, None, out);
            }
            BoxLookup::Pin if self.main.args.options().skip_password => {
                self.login.given = true;
                self.authenticate(mailbox, None, out);
            }
            BoxLookup::Pin => {
                self.login.given = true;
                self.ask_password(out);
            }
        }
    }

    /// `vm-login` (or `vm-incorrect-mailbox` after a failure), read while it plays.
    fn ask_mailbox(&mut self, out: &mut Outbox) {
        let prompt = if self.login.attempts == 0 {
            self.settings
                .login_prompt
                .clone()
                .map_or(Prompt::VmLogin, Prompt::File)
        } else {
            Prompt::VmIncorrectMailbox
        };
        self.read(
            out,
            Purpose::Mailbox,
            vec![prompt],
            None,
            (ENTRY_FIRST, ENTRY_NEXT),
        );
    }

    fn ask_password(&mut self, out: &mut Outbox) {
        let prompt = self
            .settings
            .password_prompt
            .clone()
            .map_or(Prompt::VmPassword, Prompt::File);
        self.read(
            out,
            Purpose::Password,
            vec![prompt],
            None,
            (ENTRY_FIRST, ENTRY_NEXT),
        );
    }

    /// `*` at a login prompt: extension `a` of the current context, if it exists.
    fn star_exit(&mut self, out: &mut Outbox) -> bool {
        if self.settings.dialplan.extension_a_current {
            self.finish(
                out,
                Some(Exit {
                    context: None,
                    extension: ExitExtension::A,
                }),
            );
            true
        } else {
            false
        }
    }

    pub(super) fn mailbox_typed(&mut self, text: String, out: &mut Outbox) {
        let text = if text.is_empty() {
            match self.main.caller_id.clone().filter(|c| !c.is_empty()) {
                Some(number) => number,
                None => {
                    // No entry and no caller ID: Asterisk returns, nothing said.
                    self.finish(out, None);
                    return;
                }
            }
        } else if text.starts_with('*') {
            if self.star_exit(out) {
                return;
            }
            String::new()
        } else {
            text
        };
        let full = format!("{}{text}", self.main.args.prefix());
        match MailboxId::new(&full, self.main.args.context()) {
            Ok(mailbox) => {
                self.login.mailbox = Some(mailbox.clone());
                self.state = State::Lookup;
                self.ask(out, Op::Lookup, StoreOp::Lookup { mailbox });
            }
            Err(_) => {
                // Not a mailbox at all: the password is asked all the same.
                self.login.mailbox = None;
                self.ask_password(out);
            }
        }
    }

    pub(super) fn password_typed(&mut self, pin: Secret, out: &mut Outbox) {
        let star = pin.expose().starts_with('*');
        if star && self.star_exit(out) {
            return;
        }
        match self.login.mailbox.clone() {
            Some(mailbox) if !star => self.authenticate(mailbox, Some(pin), out),
            _ => self.login_failed(out),
        }
    }

    fn authenticate(&mut self, mailbox: MailboxId, pin: Option<Secret>, out: &mut Outbox) {
        self.login.mailbox = Some(mailbox.clone());
        self.state = State::Authenticating;
        self.ask(
            out,
            Op::Authenticate,
            StoreOp::Authenticate { mailbox, pin },
        );
    }

    pub(super) fn authenticated(&mut self, reply: AuthReply, out: &mut Outbox) {
        match reply {
            AuthReply::Granted(granted) => {
                let granted = *granted;
                self.settings = granted.settings;
                self.login.new_user = granted.new_user;
                self.begin_session(out);
            }
            AuthReply::Wrong => self.login_failed(out),
            AuthReply::Locked { .. } | AuthReply::Unavailable => self.give_up(out),
        }
    }

    /// A failed attempt: the pause, then `vm-incorrect` or `vm-incorrect-mailbox`.
    fn login_failed(&mut self, out: &mut Outbox) {
        let _ = out;
        self.login.attempts += 1;
        self.state = State::LoginDelay;
        self.deadline = Some(self.now.mono + WRONG_PIN_DELAY);
    }

    fn max_logins(&self) -> u32 {
        self.settings.maxlogins.max(1)
    }

    pub(super) fn delay_over(&mut self, out: &mut Outbox) {
        if self.state != State::LoginDelay {
            return;
        }
        if self.login.given || self.login.attempts >= self.max_logins() {
            self.say(
                out,
                State::LoginIncorrect,
                vec![Step::fixed(vec![Prompt::VmIncorrect])],
            );
        } else {
            self.ask_mailbox(out);
        }
    }

    pub(super) fn incorrect_said(&mut self, out: &mut Outbox) {
        if self.login.attempts >= self.max_logins() {
            self.close(out, vec![Prompt::VmGoodbye], None);
        } else {
            self.ask_password(out);
        }
    }

    // ---------------------------------------------------------------- session start

    /// Logged in: one summary for the counts and the starting list (and, for a new user
    /// who must record, which greetings exist).
    fn begin_session(&mut self, out: &mut Outbox) {
        let Some(mailbox) = self.login.mailbox.clone() else {
            return;
        };
        self.state = State::Summarizing;
        self.ask(
            out,
            Op::Summary,
            StoreOp::Summary {
                mailbox: mailbox.clone(),
                temp_greeting: self.settings.tempgreetwarn,
            },
        );
        if self.new_user_setup() {
            let mut kinds = Vec::new();
            if self.settings.forcename {
                kinds.push(GreetingKind::Name);
            }
            if self.settings.forcegreetings {
                kinds.extend([GreetingKind::Unavail, GreetingKind::Busy]);
            }
            for which in kinds {
                self.ask(
                    out,
                    Op::NewUserGreeting(which),
                    StoreOp::Greeting {
                        mailbox: mailbox.clone(),
                        which,
                    },
                );
            }
        }
    }

    fn new_user_setup(&self) -> bool {
        self.login.new_user && (self.settings.forcename || self.settings.forcegreetings)
    }

    pub(super) fn summarized(
        &mut self,
        summary: Result<Box<Summary>, StoreUnavailable>,
        out: &mut Outbox,
    ) {
        let Ok(summary) = summary else {
            self.give_up(out);
            return;
        };
        let Some(mailbox) = self.login.mailbox.clone() else {
            return;
        };
        let summary = *summary;
        let count = |rows: &[MessageInfo]| u32::try_from(rows.len()).unwrap_or(u32::MAX);
        self.login.temp_set = summary.temp_greeting;
        let mut session = Session {
            mailbox,
            urgent: count(&summary.urgent),
            new: count(&summary.new),
            old: count(&summary.old),
            imap_uv: summary.uid_validity,
            urgent_list: bounded(summary.urgent),
            new_list: bounded(summary.new),
            old_list: bounded(summary.old),
            quota_full: summary.quota_full,
            folder: Folder::Urgent,
            uid_validity: summary.uid_validity,
            rows: Vec::new(),
            cur: 0,
            starting: true,
            repeats: 0,
            help: false,
            marks: BTreeMap::new(),
            fetched: HashMap::new(),
            names: HashMap::new(),
            temp: self.settings.tempgreetwarn.then_some(summary.temp_greeting),
            expunged: false,
        };
        let start = match self.main.args.options().autoplay {
            Some(_) if session.urgent > 0 => Folder::Urgent,
            Some(folder) => folder,
            None if session.urgent > 0 => Folder::Urgent,
            None if session.new > 0 => Folder::Inbox,
            None if session.old > 0 => Folder::Old,
            None => Folder::Urgent,
        };
        let uv = session.imap_uv;
        match start {
            Folder::Urgent => {
                let rows = session.urgent_list.clone();
                session.open(Folder::Urgent, uv, rows);
            }
            Folder::Inbox => {
                let rows = session.new_list.clone();
                session.open(Folder::Inbox, uv, rows);
            }
            Folder::Old => {
                let rows = session.old_list.clone();
                session.open(Folder::Old, uv, rows);
            }
            other => {
                session.folder = other;
                self.state = State::StartListing;
                let mailbox = session.mailbox.clone();
                self.session = Some(session);
                self.ask(
                    out,
                    Op::StartList,
                    StoreOp::List {
                        mailbox,
                        folder: other,
                    },
                );
                return;
            }
        }
        self.session = Some(session);
        self.start_ready(out);
    }

    pub(super) fn start_listed(
        &mut self,
        listing: Result<Listing, StoreUnavailable>,
        out: &mut Outbox,
    ) {
        let Ok(listing) = listing else {
            self.give_up(out);
            return;
        };
        if let Some(session) = self.session.as_mut() {
            let folder = session.folder;
            session.open(folder, listing.uid_validity, bounded(listing.messages));
        }
        self.state = State::Summarizing;
        self.start_ready(out);
    }

    /// Goes on once the summary (and the lookups the start needs) are in.
    pub(super) fn start_ready(&mut self, out: &mut Outbox) {
        if self.state != State::Summarizing || self.session.is_none() {
            return;
        }
        if self
            .ops
            .values()
            .any(|op| matches!(op, Op::NewUserGreeting(_) | Op::StartList | Op::Summary))
        {
            return;
        }
        let autoplay = self.main.args.options().autoplay.is_some();
        if autoplay && self.session.as_ref().is_some_and(|s| s.rows.is_empty()) {
            // Nothing to play: "you have no … messages", goodbye.
            let steps = self.no_messages();
            self.say(out, State::AutoplayEmpty, steps);
            return;
        }
        if self.new_user_setup() {
            self.say(
                out,
                State::NewUserIntro,
                vec![Step::skippable(vec![Prompt::VmNewuser])],
            );
            return;
        }
        self.after_new_user(out);
    }

    /// The new-user setup: each missing greeting the settings force, then the password.
    pub(super) fn new_user_next(&mut self, out: &mut Outbox) {
        let mut wanted = Vec::new();
        if self.settings.forcename {
            wanted.push(GreetingKind::Name);
        }
        if self.settings.forcegreetings {
            wanted.extend([GreetingKind::Unavail, GreetingKind::Busy]);
        }
        let next = wanted.into_iter().find(|kind| {
            !self.login.greetings.get(kind).copied().unwrap_or(false)
                && !self.login.new_user_done.contains(kind)
        });
        match next {
            Some(kind) => {
                self.login.new_user_done.push(kind);
                self.record_greeting(kind, super::options::Owner::NewUser, out);
            }
            None => self.new_user_password(out),
        }
    }

    /// After the setup (or without one): the warnings, then the intro (or the first
    /// message with `a`).
    pub(super) fn after_new_user(&mut self, out: &mut Outbox) {
        let full = self.session.as_ref().is_some_and(|s| {
            s.quota_full
                || s.urgent.saturating_add(s.new).saturating_add(s.old) >= self.settings.maxmsg
        });
        if full {
            self.say(
                out,
                State::FullWarning,
                vec![Step::skippable(vec![Prompt::VmMailboxfull])],
            );
        } else {
            self.after_full_warning(out);
        }
    }

    pub(super) fn after_full_warning(&mut self, out: &mut Outbox) {
        if self.main.args.options().autoplay.is_some() {
            self.command(Some(imapvm_types::Dtmf::One), out);
        } else if self.settings.tempgreetwarn && self.login.temp_set {
            self.say(
                out,
                State::TempWarning,
                vec![Step::skippable(vec![Prompt::VmTempgreetactive])],
            );
        } else {
            self.intro(out);
        }
    }

    /// "You have N urgent and N new and N old messages" (`vm_intro_en`); a key is the
    /// first command.
    pub(super) fn intro(&mut self, out: &mut Outbox) {
        let Some(s) = self.session.as_ref() else {
            return;
        };
        let (u, n, o) = (s.urgent, s.new, s.old);
        let plural = |count: u32| {
            if count == 1 {
                Prompt::VmMessage
            } else {
                Prompt::VmMessages
            }
        };
        let mut steps = vec![Step::play(vec![Prompt::VmYouhave])];
        if u > 0 {
            steps.push(Step::number(u));
            steps.push(Step::play(vec![Prompt::VmUrgent]));
            steps.push(Step::play(vec![if n > 0 || o > 0 {
                Prompt::VmAnd
            } else {
                plural(u)
            }]));
        }
        if n > 0 {
            steps.push(Step::number(n));
            steps.push(Step::play(vec![Prompt::VmInbox]));
            steps.push(Step::play(vec![if o > 0 {
                Prompt::VmAnd
            } else {
                plural(n)
            }]));
        }
        if o > 0 {
            steps.push(Step::number(o));
            steps.push(Step::play(vec![Prompt::VmOld, plural(o)]));
        }
        if u == 0 && n == 0 && o == 0 {
            steps.push(Step::play(vec![Prompt::VmNo, Prompt::VmMessages]));
        }
        self.say(out, State::Intro, steps);
    }
}
