//! `VoiceMailMain()`: log in and listen to messages, step for step as Asterisk 22's
//! `vm_execmain` (reference `docs/reference/asterisk-voicemail-ivr.md` §2), with the differences the crate
//! documentation lists.
//!
//! This file holds what every part of the flow shares: [`Main`] (what the binding
//! starts a call with), the flow's state, the dispatch of answers, the *speech* runner
//! (a sequence of prompts, numbers and waits in which a key either ends the sequence or
//! only the current step), the digit reader (Asterisk's `ast_readstring`), the outage
//! prompt and the endings. The parts live beside it:
//! * `login.rs`: the mailbox and password, the summary, the new-user setup, the intro;
//! * `menu.rs`: the main menu, its instructions, navigation, delete, save, folders;
//! * `message.rs`: one message: header, envelope, audio;
//! * `advanced.rs`: key 3 (reply, call back, envelope, dial out, send) and key 8 (forward);
//! * `options.rs`: key 0 (greetings, temporary greeting, password) and the recorder with
//!   its review menu (greetings, the forward comment).

mod advanced;
mod login;
mod menu;
mod message;
mod options;

use crate::args::MainArgs;
use crate::io::{ActionId, ChannelAction, Exit, GreetingKind, StoreOp, StoreReply, Tick};
use crate::listing::{BoxLookup, Marked, MessageInfo, MessageRef, storage_of};
use crate::names::SpoolName;
use crate::outbox::{ChannelAnswer, Outbox, StoreKind, Verdict};
use crate::prompt::Prompt;
use crate::settings::Settings;
use imapvm_policy::Folder;
use imapvm_types::{Dtmf, DtmfSet};
use imapvm_types::{MailboxId, Secret, UidSet, UidValidity};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

use advanced::{Forward, Sub};
use options::Recorder;

/// The pause after a wrong password, before `vm-incorrect`: a guess costs at least this
/// much on top of the prompts (Asterisk answers at once). Two seconds is the usual
/// `pam_faildelay`; an owner who mistyped barely notices it. The lockout across calls is
/// [`crate::LoginGuard`]'s.
pub const WRONG_PIN_DELAY: Duration = Duration::from_secs(2);
/// The main menu's, the advanced menu's, the options menus', the review menus' and the
/// forward options' wait for a key.
const MENU_WAIT: Duration = Duration::from_secs(6);
/// The digit reader's wait for the first key (`ast_readstring`'s `ftimeout`).
const ENTRY_FIRST: Duration = Duration::from_secs(10);
/// The digit reader's wait for each later key.
const ENTRY_NEXT: Duration = Duration::from_secs(2);
/// The longest mailbox, password or number typed (Asterisk's 80-byte buffers).
const ENTRY_MAX: usize = 79;

/// A `VoiceMailMain` call: what it was asked, what the binding knows before it starts,
/// and where its recordings go.
///
/// ```
/// use imapvm_ivr::*;
/// use std::time::Instant;
///
/// let tick = Tick { mono: Instant::now(), wall: 1_796_587_333 };
/// let main = Main {
///     args: MainArgs::parse(&["1234@default"])?,
///     // The binding looked the box up in voicemail.conf: it has no password.
///     named: Some(BoxLookup::NoPin),
///     caller_id: Some("5551234".into()),
///     recordings: Recordings {
///         message: SpoolName::new("call-1-msg")?,
///         comment: SpoolName::new("call-1-comment")?,
///         greeting: SpoolName::new("call-1-greeting")?,
///     },
/// };
/// let mut call = Call::new(Flow::Main(main), Settings::default(), tick);
///
/// // Login: granted without a password.
/// let Some(Action::Store { id, op: StoreOp::Authenticate { pin: None, .. } }) = call.poll_action()
/// else { panic!("the box is authenticated first") };
/// let granted = Granted { settings: Settings::default(), new_user: false };
/// let reply = StoreReply::Authenticate(AuthReply::Granted(Box::new(granted)));
/// call.handle(Input::StoreReply { id, reply }, tick)?;
///
/// // One summary gives the counts and the starting list: a single new message.
/// let Some(Action::Store { id, op: StoreOp::Summary { .. } }) = call.poll_action()
/// else { panic!("then the summary") };
/// let message = MessageInfo {
///     uid: Uid::new(31).expect("non-zero"),
///     seen: false,
///     urgent: false,
///     origtime: Some(1_796_580_000),
///     caller_id_num: "5551234".into(),
///     caller_id_name: String::new(),
///     duration_secs: 42,
///     category: None,
/// };
/// let summary = Summary {
///     uid_validity: UidValidity::new(7).expect("non-zero"),
///     urgent: vec![],
///     new: vec![message],
///     old: vec![],
///     quota_full: false,
///     temp_greeting: false,
/// };
/// call.handle(Input::StoreReply { id, reply: StoreReply::Summary(Ok(Box::new(summary))) }, tick)?;
///
/// // The intro: "you have", "one", "new message".
/// let mut heard = Vec::new();
/// for _ in 0..3 {
///     let Some(Action::Channel { id, action }) = call.poll_action() else { panic!() };
///     heard.push(action.to_string());
///     call.handle(Input::PromptDone { id, interrupted_by: None }, tick)?;
/// }
/// assert_eq!(
///     heard,
///     ["play vm-youhave escape=any", "say-number 1 escape=any", "play vm-INBOX vm-message escape=any"]
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Main {
    /// The mailbox and options, usually from [`MainArgs::parse`].
    pub args: MainArgs,
    /// The binding's voicemail.conf lookup of [`MainArgs::mailbox`], made before the call
    /// so that a login with the box given costs no extra store op. `None` (or no box in
    /// the arguments) makes the call ask with [`StoreOp::Lookup`] when it needs to know.
    pub named: Option<BoxLookup>,
    /// The caller-ID number (`agi_callerid`): an empty mailbox entry logs in to it, as
    /// Asterisk does. `None` ends the call when the caller types nothing.
    pub caller_id: Option<String>,
    /// Where the session's recordings go.
    pub recordings: Recordings,
}

/// The spool names of a session's recordings: names the binding maps to paths that
/// Asterisk can write and the binding read. Each is recorded over in place when the caller
/// records again; the binding removes them (and every file it named in a reply) after
/// [`crate::Action::Finished`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recordings {
    /// A reply or a sent message (advanced `1` and `5`).
    pub message: SpoolName,
    /// The comment put in front of a forwarded message (`8`, then `1`).
    pub comment: SpoolName,
    /// A greeting or the name (`0`).
    pub greeting: SpoolName,
}

/// Where the flow is: what the outstanding channel action (or the awaited store reply or
/// timer) means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// A store reply about the mailbox (`Lookup`).
    Lookup,
    /// The digit reader owns the channel.
    Reading,
    /// `Authenticate` is out.
    Authenticating,
    /// The pause after a wrong password.
    LoginDelay,
    /// `vm-incorrect`.
    LoginIncorrect,
    /// `Summary` (and the new-user greeting checks) are out.
    Summarizing,
    /// `List` of the `a(N)` folder is out.
    StartListing,
    /// `vm-newuser`.
    NewUserIntro,
    /// `vm-mailboxfull` at login.
    FullWarning,
    /// `vm-tempgreetactive`.
    TempWarning,
    /// "You have …".
    Intro,
    /// `a(N)` found no message: "you have no … messages", then goodbye.
    AutoplayEmpty,
    /// The main menu's instructions and their wait.
    Instructions,
    /// A prompt whose key (if any) is the next main-menu command.
    ThenCommand,
    /// A message's header and date.
    MessageHeader,
    /// The caller's recorded name is looked up.
    AwaitCallerName,
    /// A message's caller and length.
    MessageTail,
    /// The audio is fetched.
    AwaitAudio,
    /// The forward comment plays.
    IntroAudio,
    /// The message plays.
    Audio,
    /// `vm-deleted` / `vm-undeleted`.
    Toggled,
    /// The folder prompt of `2` or `9`.
    FolderPrompt(FolderUse),
    /// `List` of the chosen folder is out.
    Listing,
    /// `Move` is out.
    Moving,
    /// The save confirmation (or `vm-mailboxfull`).
    Saved,
    /// The advanced menu and its wait.
    Advanced,
    /// A prompt after which the main menu comes back; its key is lost.
    BackToMenu,
    /// The reply or send sub-flow owns the channel.
    Sub,
    /// The sub-flow ended; its store ops are still out.
    SubWait,
    /// The call-back menu and its wait.
    Callback,
    /// `vm-sorry` in the call-back menu; its key is the next choice.
    CallbackSorry,
    /// The dial-out prompt and its wait.
    Dialout,
    /// `CheckTarget`s are out.
    Checking,
    /// A valid target's name or number.
    TargetName,
    /// `pbx-invalid` or `vm-mailboxfull` for a target; a key is the next main-menu
    /// command.
    TargetRefused,
    /// The forward options and their wait.
    ForwardOptions,
    /// `Forward` is out.
    Forwarding,
    /// The temporary greeting is looked up before the options menu.
    OptionsLoading,
    /// The mailbox options and their wait.
    Options,
    /// A prompt whose key (if any) is the next options choice.
    OptionsKeyed,
    /// A prompt after which the options menu comes back; its key is lost.
    OptionsAgain,
    /// The temporary-greeting menu and its wait.
    TempMenu,
    /// `GreetingDelete` is out.
    TempDeleting,
    /// `vm-newpassword` or `vm-reenterpassword`; a key is the first digit.
    PasswordPrompt(PasswordStep),
    /// `ChangePassword` is out.
    ChangingPassword,
    /// A new user's invalid or mismatched password was said.
    NewUserRetry,
    /// A new user's password is changed (`vm-passchanged`).
    NewUserDone,
    /// The recording prompt and the beep.
    RecIntro,
    /// The recorder runs.
    Recording,
    /// `auth-thankyou`.
    RecThanks,
    /// The review menu and its wait.
    Review,
    /// The recording plays back; a key is the next choice.
    ReviewListen,
    /// `vm-sorry` in the review menu; a key is the next choice.
    ReviewSorry,
    /// `vm-marked-urgent` / `-nonurgent`; the key is lost.
    ReviewMarked,
    /// `GreetingSet` is out.
    GreetingStoring,
    /// `vm-msgsaved`.
    GreetingSaved,
    /// `im-sorry` `please-try-again`, then the menu.
    Outage(AfterOutage),
    /// The last prompts (goodbye, `vm-dialout`, …), then the end.
    Closing,
    /// `Hangup` is out.
    HangingUp,
    /// The end is requested.
    Done,
}

/// What the folder prompt is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FolderUse {
    /// `2`: change to the folder.
    Change,
    /// `9`: save the message there.
    Save,
}

/// Which password prompt plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PasswordStep {
    /// `vm-newpassword`.
    New,
    /// `vm-reenterpassword`.
    Confirm,
}

/// Where the flow goes after the outage prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AfterOutage {
    /// The main menu's instructions.
    MainMenu,
    /// The mailbox options menu.
    Options,
}

/// What a store op of the flow's own was for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Lookup,
    Authenticate,
    Summary,
    NewUserGreeting(GreetingKind),
    StartList,
    List(Folder),
    Fetch(MessageRef),
    MarkSeen,
    Expunge,
    Move,
    Forward,
    Target(usize),
    CallerName(MailboxId),
    TempCheck,
    GreetingSet(GreetingKind),
    GreetingDelete,
    Password,
}

/// What a key does to a speech.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnKey {
    /// It ends the speech and is reported (Asterisk: `if (!res) res = play(...)`).
    End,
    /// It stops this step only; the speech goes on and the key is lost (Asterisk plays
    /// the next prompt whatever the previous one returned).
    Skip,
}

/// One step of a speech.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Step {
    action: ChannelAction,
    on_key: OnKey,
}

impl Step {
    /// Prompts any key interrupts, ending the speech.
    fn play(prompts: Vec<Prompt>) -> Step {
        Step::with(prompts, DtmfSet::ANY, OnKey::End)
    }

    /// Prompts any key cuts short, the speech going on.
    fn skippable(prompts: Vec<Prompt>) -> Step {
        Step::with(prompts, DtmfSet::ANY, OnKey::Skip)
    }

    /// Prompts no key interrupts.
    fn fixed(prompts: Vec<Prompt>) -> Step {
        Step::with(prompts, DtmfSet::NONE, OnKey::End)
    }

    fn with(prompts: Vec<Prompt>, escape: DtmfSet, on_key: OnKey) -> Step {
        Step {
            action: ChannelAction::Play { prompts, escape },
            on_key,
        }
    }

    /// `ast_say_number`, any key ending the speech.
    fn number(number: u32) -> Step {
        Step {
            action: ChannelAction::SayNumber {
                number: i64::from(number),
                escape: DtmfSet::ANY,
            },
            on_key: OnKey::End,
        }
    }

    /// A wait for a key, which ends the speech; silence goes on to the next step.
    fn wait(timeout: Duration) -> Step {
        Step {
            action: ChannelAction::WaitDigit(timeout),
            on_key: OnKey::End,
        }
    }
}

/// A running speech: the steps not yet issued.
#[derive(Debug)]
struct Speech {
    steps: VecDeque<Step>,
    /// What a key does to the step now playing.
    current: OnKey,
    /// The answers are password digits.
    secret: bool,
}

/// What the digit reader is reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Mailbox,
    Password,
    Target,
    Dialout,
    NewPassword,
    ConfirmPassword,
}

impl Purpose {
    fn secret(self) -> bool {
        matches!(
            self,
            Purpose::Password | Purpose::NewPassword | Purpose::ConfirmPassword
        )
    }
}

/// Typed digits: a password's are a [`Secret`] from the first digit on (its `Debug`
/// prints `***`).
#[derive(Debug)]
enum Typed {
    Plain(String),
    Secret(Secret),
}

impl Typed {
    fn new(secret: bool) -> Typed {
        if secret {
            Typed::Secret(Secret::default())
        } else {
            Typed::Plain(String::new())
        }
    }

    fn push(&mut self, key: Dtmf) {
        match self {
            Typed::Plain(text) => text.push(key.as_char()),
            Typed::Secret(secret) => {
                *secret = Secret::new(format!("{}{}", secret.expose(), key.as_char()));
            }
        }
    }

    fn len(&self) -> usize {
        match self {
            Typed::Plain(text) => text.len(),
            Typed::Secret(secret) => secret.expose().len(),
        }
    }
}

/// Asterisk's `ast_readstring`: digits until `#`, a silence or the length limit; a key
/// that cuts the prompt short is the first digit.
#[derive(Debug)]
struct Entry {
    purpose: Purpose,
    typed: Typed,
    max: usize,
    /// The wait for the first key read here.
    first: Duration,
    /// The wait for each later key.
    next: Duration,
    /// A key was read here (the waits are `next` from now on).
    keyed: bool,
}

/// The counters of the menus that count silences or rounds, and choices waiting for a
/// store reply.
#[derive(Debug, Default)]
struct Menus {
    /// Rounds of the folder list so far.
    folder_rounds: u8,
    /// The folder `9` saves to, while `Move` is out.
    saving_to: Option<Folder>,
    /// Silent rounds of the options menu.
    options: u8,
    /// Silent rounds of the temporary-greeting menu.
    temp: u8,
    /// Silent rounds of the forward options.
    forward: u8,
    /// Silent rounds of the call-back menu.
    callback: u8,
    /// Silent rounds of the dial-out prompt.
    dialout: u8,
    /// The envelope being said is advanced `3`'s (no audio follows).
    envelope_only: bool,
    /// The call-back menu waits for the caller's recorded name.
    callback_waiting: bool,
}

/// The session, once logged in.
#[derive(Debug)]
struct Session {
    mailbox: MailboxId,
    /// Counted at login and changed by deletes only, as Asterisk's (they decide
    /// `vm-prev`/`vm-next` and the urgent/new switches).
    urgent: u32,
    new: u32,
    old: u32,
    /// `imapfolder`'s lists from the summary: the urgent/new switches use them.
    imap_uv: UidValidity,
    urgent_list: Vec<MessageInfo>,
    new_list: Vec<MessageInfo>,
    old_list: Vec<MessageInfo>,
    quota_full: bool,
    /// The open list.
    folder: Folder,
    uid_validity: UidValidity,
    rows: Vec<MessageInfo>,
    /// The current message (`vms.curmsg`).
    cur: usize,
    /// Nothing played since the list was opened (`vms.starting`).
    starting: bool,
    /// Main-menu silences this session (`vms.repeats`), reset by the advanced menu only.
    repeats: u32,
    /// The instructions now repeating are the help variant.
    help: bool,
    /// Delete marks by IMAP folder.
    marks: BTreeMap<(Folder, UidValidity), UidSet>,
    /// Fetches: `None` while out.
    fetched: HashMap<MessageRef, Option<crate::listing::Fetched>>,
    /// Callers' recorded names: `None` while out.
    names: HashMap<MailboxId, Option<Option<SpoolName>>>,
    /// Whether a temporary greeting is set, once known.
    temp: Option<bool>,
    /// The expunges were issued (at the end).
    expunged: bool,
}

impl Session {
    fn last(&self) -> Option<usize> {
        self.rows.len().checked_sub(1)
    }

    /// The current message's listing row.
    fn row(&self) -> Option<&MessageInfo> {
        self.rows.get(self.cur)
    }

    fn current(&self) -> Option<MessageRef> {
        self.rows.get(self.cur).map(|row| MessageRef {
            folder: self.folder,
            uid_validity: self.uid_validity,
            uid: row.uid,
        })
    }

    fn is_marked(&self, message: &MessageRef) -> bool {
        self.marks
            .get(&(message.storage(), message.uid_validity))
            .is_some_and(|set| set.contains(message.uid))
    }

    /// Opens a list (Asterisk's `open_mailbox`): the first message is current, nothing
    /// played yet.
    fn open(&mut self, folder: Folder, uid_validity: UidValidity, rows: Vec<MessageInfo>) {
        self.folder = folder;
        self.uid_validity = uid_validity;
        self.rows = rows;
        self.cur = 0;
        self.starting = true;
    }

    fn in_urgent(&self) -> bool {
        self.folder == Folder::Urgent
    }
}

/// The VoiceMailMain state machine.
#[derive(Debug)]
pub(crate) struct MainFlow {
    main: Main,
    /// The login phase's settings, then the logged-in box's.
    settings: Settings,
    state: State,
    speech: Option<Speech>,
    entry: Option<Entry>,
    login: login::Login,
    session: Option<Session>,
    sub: Option<Sub>,
    recorder: Option<Recorder>,
    forward: Option<Forward>,
    password: options::Password,
    /// The flow's own outstanding store ops and what they are for.
    ops: BTreeMap<ActionId, Op>,
    /// The sub-flow's outstanding store ops.
    sub_ops: BTreeSet<ActionId>,
    /// The menus' counters and pending choices.
    menus: Menus,
    deadline: Option<Instant>,
    /// Where the dialplan goes after the closing prompts.
    closing_exit: Option<Exit>,
    now: Tick,
}

impl MainFlow {
    pub(crate) fn start(main: Main, settings: Settings, out: &mut Outbox, now: Tick) -> MainFlow {
        let mut flow = MainFlow {
            main,
            settings,
            state: State::Lookup,
            speech: None,
            entry: None,
            login: login::Login::default(),
            session: None,
            sub: None,
            recorder: None,
            forward: None,
            password: options::Password::default(),
            ops: BTreeMap::new(),
            sub_ops: BTreeSet::new(),
            menus: Menus::default(),
            deadline: None,
            closing_exit: None,
            now,
        };
        flow.begin(out);
        flow
    }

    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    pub(crate) fn pending_deletes(&self) -> Vec<Marked> {
        let Some(session) = &self.session else {
            return Vec::new();
        };
        if session.expunged {
            return Vec::new();
        }
        session
            .marks
            .iter()
            .filter(|(_, uids)| !uids.is_empty())
            .map(|((folder, uid_validity), uids)| Marked {
                folder: *folder,
                uid_validity: *uid_validity,
                uids: uids.clone(),
            })
            .collect()
    }

    pub(crate) fn on_timer(&mut self, out: &mut Outbox, now: Tick) {
        self.now = now;
        if let Some(deadline) = self.deadline
            && now.mono >= deadline
        {
            self.deadline = None;
            self.delay_over(out);
        }
    }

    pub(crate) fn on_channel(&mut self, answer: ChannelAnswer, out: &mut Outbox, now: Tick) {
        self.now = now;
        if self.state == State::Sub {
            self.sub_channel(answer, out);
            return;
        }
        if self.speech.is_some() {
            self.speech_answer(answer, out);
            return;
        }
        match (self.state, answer) {
            (State::Reading, answer) => self.entry_answer(answer, out),
            (State::Recording, ChannelAnswer::Recorded { duration, ended_by }) => {
                self.recorded(duration, ended_by, out);
            }
            (State::IntroAudio, ChannelAnswer::Prompt(key)) => self.intro_audio_done(key, out),
            (State::Audio, ChannelAnswer::Prompt(key)) => self.audio_done(key, out),
            (state, answer) => {
                debug_assert!(false, "{answer:?} cannot answer {state:?}");
            }
        }
    }

    pub(crate) fn on_store(
        &mut self,
        id: ActionId,
        kind: StoreKind,
        reply: StoreReply,
        out: &mut Outbox,
        now: Tick,
    ) {
        self.now = now;
        if self.sub_ops.remove(&id) {
            if let Some(sub) = &mut self.sub {
                let mark = out.mark();
                sub.flow.on_store(kind, reply, out, now);
                self.sub_ops.extend(out.store_since(mark));
            }
            self.check_sub(out);
            return;
        }
        let Some(op) = self.ops.remove(&id) else {
            return;
        };
        if self.state == State::Done {
            // After the end only the answers matter, not what they say.
            return;
        }
        self.store_reply(op, reply, out);
    }

    pub(crate) fn on_hangup(&mut self, out: &mut Outbox, now: Tick) {
        self.now = now;
        if self.state == State::Sub
            && let Some(sub) = &mut self.sub
        {
            let mark = out.mark();
            sub.flow.on_hangup(out, now);
            self.sub_ops.extend(out.store_since(mark));
        }
        self.hung_up(out);
    }

    /// The caller is gone: apply the delete marks, keep every other decision already
    /// made (the ops already out), make no new one.
    fn hung_up(&mut self, out: &mut Outbox) {
        if self.state == State::Done {
            return;
        }
        self.speech = None;
        self.entry = None;
        self.deadline = None;
        self.emit_expunges(out);
        self.finish(out, None);
    }

    /// Dispatches a store reply to the part of the flow that asked.
    fn store_reply(&mut self, op: Op, reply: StoreReply, out: &mut Outbox) {
        match (op, reply) {
            (Op::Lookup, StoreReply::Lookup(lookup)) => self.looked_up(lookup, out),
            (Op::Authenticate, StoreReply::Authenticate(auth)) => self.authenticated(auth, out),
            (Op::Summary, StoreReply::Summary(summary)) => self.summarized(summary, out),
            (Op::NewUserGreeting(kind), StoreReply::Greeting(file)) => {
                self.login.greetings.insert(kind, file.is_some());
                self.start_ready(out);
            }
            (Op::StartList, StoreReply::List(listing)) => self.start_listed(listing, out),
            (Op::List(folder), StoreReply::List(listing)) => self.listed(folder, listing, out),
            (Op::Fetch(message), StoreReply::Fetch(fetched)) => {
                self.fetched(message, fetched, out);
            }
            (Op::CallerName(mailbox), StoreReply::Greeting(file)) => {
                self.caller_name(mailbox, file, out);
            }
            (Op::MarkSeen | Op::Expunge, _) => {}
            (Op::Move, StoreReply::Move(moved)) => self.moved(moved, out),
            (Op::Target(index), StoreReply::Target(check)) => {
                self.target_checked(index, check, out)
            }
            (Op::Forward, StoreReply::Forward(result)) => self.forwarded(result, out),
            (Op::TempCheck, StoreReply::Greeting(file)) => self.temp_checked(file.is_some(), out),
            (Op::GreetingSet(kind), StoreReply::GreetingSet(result)) => {
                self.greeting_stored(kind, result, out);
            }
            (Op::GreetingDelete, StoreReply::GreetingDelete(result)) => {
                self.temp_deleted(result, out);
            }
            (Op::Password, StoreReply::ChangePassword(change)) => {
                self.password_changed(change, out);
            }
            (op, reply) => {
                // `Call` checked that the reply answers the op's kind.
                debug_assert!(false, "{reply:?} cannot answer {op:?}");
            }
        }
    }

    /// Issues a store op of the flow's own.
    fn ask(&mut self, out: &mut Outbox, op: Op, store: StoreOp) {
        if let Some(id) = out.store(store) {
            self.ops.insert(id, op);
        }
    }

    // ---------------------------------------------------------------- speeches

    /// Runs `steps` in order; a key ends it (or only its step, [`OnKey::Skip`]); then
    /// [`MainFlow::after_speech`] goes on from `state` with the key.
    fn say(&mut self, out: &mut Outbox, state: State, steps: Vec<Step>) {
        self.say_with(out, state, steps, false);
    }

    fn say_with(&mut self, out: &mut Outbox, state: State, steps: Vec<Step>, secret: bool) {
        self.state = state;
        let mut merged: VecDeque<Step> = VecDeque::new();
        for step in steps {
            if let (
                Some(Step {
                    action:
                        ChannelAction::Play {
                            prompts: before,
                            escape: e1,
                        },
                    on_key: k1,
                }),
                ChannelAction::Play {
                    prompts,
                    escape: e2,
                },
            ) = (merged.back_mut(), &step.action)
                && *e1 == *e2
                && *k1 == OnKey::End
                && step.on_key == OnKey::End
            {
                // Only steps a key ends the speech at are merged: a skippable step must
                // stay alone, so that a key stops it and the next one still plays.
                before.extend(prompts.iter().cloned());
                continue;
            }
            let empty =
                matches!(&step.action, ChannelAction::Play { prompts, .. } if prompts.is_empty());
            if !empty {
                merged.push_back(step);
            }
        }
        self.speech = Some(Speech {
            steps: merged,
            current: OnKey::End,
            secret,
        });
        self.next_step(out);
    }

    /// Issues the speech's next step, or ends it.
    fn next_step(&mut self, out: &mut Outbox) {
        let Some(speech) = &mut self.speech else {
            return;
        };
        match speech.steps.pop_front() {
            Some(step) => {
                speech.current = step.on_key;
                if speech.secret {
                    out.secret_channel(step.action);
                } else {
                    out.channel(step.action);
                }
            }
            None => {
                self.speech = None;
                self.after_speech(None, out);
            }
        }
    }

    fn speech_answer(&mut self, answer: ChannelAnswer, out: &mut Outbox) {
        let current = self.speech.as_ref().map_or(OnKey::End, |s| s.current);
        match answer {
            ChannelAnswer::Prompt(None) | ChannelAnswer::Timeout => self.next_step(out),
            ChannelAnswer::Prompt(Some(key)) | ChannelAnswer::Digit(key) => {
                if current == OnKey::Skip {
                    self.next_step(out);
                } else {
                    self.speech = None;
                    self.after_speech(Some(key), out);
                }
            }
            ChannelAnswer::Recorded { .. } => {
                debug_assert!(false, "a recording answered a speech");
            }
        }
    }

    /// A speech ended, with the key that ended it.
    fn after_speech(&mut self, key: Option<Dtmf>, out: &mut Outbox) {
        match self.state {
            State::LoginIncorrect => self.incorrect_said(out),
            State::NewUserIntro => self.new_user_next(out),
            State::FullWarning => self.after_full_warning(out),
            State::TempWarning => self.intro(out),
            State::Intro | State::ThenCommand => self.command(key, out),
            State::AutoplayEmpty => self.close(out, vec![Prompt::VmGoodbye], None),
            State::Instructions => self.instructions_done(key, out),
            State::MessageHeader => self.header_done(key, out),
            State::MessageTail => self.tail_done(key, out),
            State::Toggled => self.toggled(key, out),
            State::FolderPrompt(usage) => self.folder_prompt_done(usage, key, out),
            State::Saved => self.saved(key, out),
            State::Advanced => self.advanced_key(key, out),
            State::BackToMenu => self.command(None, out),
            State::Callback => self.callback_key(key, out),
            State::CallbackSorry => self.callback_sorry_done(key, out),
            State::Dialout => self.dialout_key(key, out),
            State::TargetName => self.next_target(out),
            State::TargetRefused => self.target_refused(key, out),
            State::ForwardOptions => self.forward_options_key(key, out),
            State::Options => self.options_key(key, out),
            State::OptionsKeyed => match key {
                Some(key) => self.options_key(Some(key), out),
                None => self.options_menu(out),
            },
            State::OptionsAgain => self.options_menu(out),
            State::TempMenu => self.temp_key(key, out),
            State::PasswordPrompt(step) => self.password_prompt_done(step, key, out),
            State::NewUserRetry => self.new_user_retry(out),
            State::NewUserDone => self.after_new_user(out),
            State::RecIntro => self.record(out),
            State::RecThanks => self.review_menu(out),
            State::Review => self.review_key(key, out),
            State::ReviewListen | State::ReviewSorry => match key {
                Some(key) => self.review_key(Some(key), out),
                None => self.review_menu(out),
            },
            State::ReviewMarked => self.review_menu(out),
            State::GreetingSaved => self.recorder_done(options::Outcome::Kept, out),
            State::Outage(after) => match after {
                AfterOutage::MainMenu => self.command(None, out),
                AfterOutage::Options => self.options_menu(out),
            },
            State::Closing => {
                let exit = self.closing_exit.take();
                self.finish(out, exit);
            }
            State::Lookup
            | State::Reading
            | State::Authenticating
            | State::LoginDelay
            | State::Summarizing
            | State::StartListing
            | State::AwaitCallerName
            | State::AwaitAudio
            | State::IntroAudio
            | State::Audio
            | State::Listing
            | State::Moving
            | State::Sub
            | State::SubWait
            | State::Checking
            | State::Forwarding
            | State::OptionsLoading
            | State::TempDeleting
            | State::ChangingPassword
            | State::Recording
            | State::GreetingStoring
            | State::HangingUp
            | State::Done => {
                debug_assert!(false, "a speech ended in {:?}", self.state);
            }
        }
    }

    // ---------------------------------------------------------------- digit reader

    /// Reads digits. `prompt` plays first, any key cutting it short as the first digit
    /// (Asterisk streams the prompt and reads during it); `initial` is a digit read
    /// before (by a prompt of the caller's own).
    fn read(
        &mut self,
        out: &mut Outbox,
        purpose: Purpose,
        prompt: Vec<Prompt>,
        initial: Option<Dtmf>,
        waits: (Duration, Duration),
    ) {
        let mut entry = Entry {
            purpose,
            typed: Typed::new(purpose.secret()),
            max: ENTRY_MAX,
            first: waits.0,
            next: waits.1,
            keyed: false,
        };
        if purpose == Purpose::Target {
            // forward_message's `username[70]`.
            entry.max = 69;
        }
        if let Some(key) = initial {
            entry.typed.push(key);
        }
        self.entry = Some(entry);
        self.state = State::Reading;
        if prompt.is_empty() {
            self.entry_wait(out);
        } else {
            let action = ChannelAction::Play {
                prompts: prompt,
                escape: DtmfSet::ANY,
            };
            if purpose.secret() {
                out.secret_channel(action);
            } else {
                out.channel(action);
            }
        }
    }

    fn entry_wait(&mut self, out: &mut Outbox) {
        let Some(entry) = &self.entry else {
            return;
        };
        let timeout = if entry.keyed { entry.next } else { entry.first };
        if entry.purpose.secret() {
            out.secret_channel(ChannelAction::WaitDigit(timeout));
        } else {
            out.channel(ChannelAction::WaitDigit(timeout));
        }
    }

    fn entry_answer(&mut self, answer: ChannelAnswer, out: &mut Outbox) {
        match answer {
            ChannelAnswer::Prompt(Some(key)) | ChannelAnswer::Digit(key) => {
                let Some(entry) = &mut self.entry else {
                    return;
                };
                entry.keyed = true;
                if key == Dtmf::Pound {
                    self.entry_complete(out);
                    return;
                }
                entry.typed.push(key);
                if entry.typed.len() >= entry.max {
                    self.entry_complete(out);
                } else {
                    self.entry_wait(out);
                }
            }
            ChannelAnswer::Prompt(None) => self.entry_wait(out),
            ChannelAnswer::Timeout => self.entry_complete(out),
            ChannelAnswer::Recorded { .. } => debug_assert!(false, "a recording answered a read"),
        }
    }

    fn entry_complete(&mut self, out: &mut Outbox) {
        let Some(entry) = self.entry.take() else {
            return;
        };
        match (entry.purpose, entry.typed) {
            (Purpose::Mailbox, Typed::Plain(text)) => self.mailbox_typed(text, out),
            (Purpose::Target, Typed::Plain(text)) => self.targets_typed(&text, out),
            (Purpose::Dialout, Typed::Plain(text)) => self.dialout_typed(text, out),
            (Purpose::Password, Typed::Secret(pin)) => self.password_typed(pin, out),
            (Purpose::NewPassword, Typed::Secret(pin)) => self.new_password_typed(pin, out),
            (Purpose::ConfirmPassword, Typed::Secret(pin)) => {
                self.confirm_password_typed(pin, out);
            }
            (purpose, typed) => {
                debug_assert!(false, "{purpose:?} read as {typed:?}");
            }
        }
    }

    // ---------------------------------------------------------------- the sub-flow

    /// Passes a channel answer to the reply or send sub-flow.
    fn sub_channel(&mut self, answer: ChannelAnswer, out: &mut Outbox) {
        if let Some(sub) = &mut self.sub {
            let mark = out.mark();
            sub.flow.on_channel(answer, out, self.now);
            self.sub_ops.extend(out.store_since(mark));
        }
        if out.hung_up() {
            // The recorder reported the hangup.
            self.hung_up(out);
            return;
        }
        self.check_sub(out);
    }

    /// Once the sub-flow has ended and its store ops are answered, the main menu goes on.
    fn check_sub(&mut self, out: &mut Outbox) {
        if !matches!(self.state, State::Sub | State::SubWait) {
            return;
        }
        let Some(sub) = &mut self.sub else {
            return;
        };
        if sub.end.is_none() {
            sub.end = sub.flow.take_end();
        }
        if sub.end.is_none() {
            return;
        }
        if !self.sub_ops.is_empty() {
            self.state = State::SubWait;
            return;
        }
        self.sub_done(out);
    }

    // ---------------------------------------------------------------- endings

    /// Issues the delete marks as one `Expunge` per folder, once.
    fn emit_expunges(&mut self, out: &mut Outbox) {
        let deletes = self.pending_deletes();
        let Some(session) = &mut self.session else {
            return;
        };
        session.expunged = true;
        let mailbox = session.mailbox.clone();
        for marked in deletes {
            self.ask(
                out,
                Op::Expunge,
                StoreOp::Expunge {
                    mailbox: mailbox.clone(),
                    folder: marked.folder,
                    uid_validity: marked.uid_validity,
                    uids: marked.uids,
                },
            );
        }
    }

    /// Leaves: the delete marks are applied, `prompts` play (a key cuts them short and is
    /// lost), then the call ends and the dialplan goes on at `exit`.
    fn close(&mut self, out: &mut Outbox, prompts: Vec<Prompt>, exit: Option<Exit>) {
        self.emit_expunges(out);
        self.closing_exit = exit;
        self.say(out, State::Closing, vec![Step::skippable(prompts)]);
    }

    /// Hangs the channel up (a new user who could not set a password).
    fn hang_up(&mut self, out: &mut Outbox) {
        self.emit_expunges(out);
        self.state = State::HangingUp;
        out.channel(ChannelAction::Hangup);
    }

    fn finish(&mut self, out: &mut Outbox, exit: Option<Exit>) {
        self.state = State::Done;
        self.speech = None;
        self.entry = None;
        out.finish(Verdict::Fixed(None), exit);
    }

    /// A store op failed mid-call: the caller hears so, nothing changed, and the menu
    /// comes back.
    fn outage(&mut self, out: &mut Outbox, after: AfterOutage) {
        self.say(
            out,
            State::Outage(after),
            vec![Step::skippable(vec![
                Prompt::ImSorry,
                Prompt::PleaseTryAgain,
            ])],
        );
    }

    /// The session cannot start (or go on): the caller hears so, then goodbye.
    fn give_up(&mut self, out: &mut Outbox) {
        self.close(
            out,
            vec![
                Prompt::ImSorry,
                Prompt::PleaseTryCallLater,
                Prompt::VmGoodbye,
            ],
            None,
        );
    }
}

/// Marks or unmarks a message for deletion; returns whether it is now marked.
fn toggle_mark(marks: &mut BTreeMap<(Folder, UidValidity), UidSet>, message: &MessageRef) -> bool {
    let set = marks
        .entry((storage_of(message.folder), message.uid_validity))
        .or_default();
    if set.contains(message.uid) {
        *set = set.difference(&UidSet::single(message.uid));
        false
    } else {
        set.insert(message.uid);
        true
    }
}

/// Removes a mark (a saved message is no longer to be deleted).
fn unmark(marks: &mut BTreeMap<(Folder, UidValidity), UidSet>, message: &MessageRef) {
    if let Some(set) = marks.get_mut(&(storage_of(message.folder), message.uid_validity))
        && set.contains(message.uid)
    {
        *set = set.difference(&UidSet::single(message.uid));
    }
}
