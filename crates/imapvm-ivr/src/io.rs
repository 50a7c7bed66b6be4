//! The vocabulary a call speaks with its binding: [`Tick`] (both clocks), [`Input`]s in,
//! [`Action`]s out ([`ChannelAction`] for the caller's channel, [`StoreOp`] for the
//! voicemail store), and the ends of a call ([`VmStatus`], [`Exit`]).
//!
//! Everything here is plain data. `Display` renders each action in one line (the form
//! the transcript tests and trace logs use); ids are not part of it.

use crate::listing::{
    AuthReply, BoxLookup, Fetched, Listing, MessageRef, Moved, PasswordChange, StoreUnavailable,
    Summary, TargetCheck,
};
use crate::names::{RecordFormat, SpoolName};
use crate::prompt::Prompt;
use imapvm_policy::Folder;
use imapvm_types::{Dtmf, DtmfSet};
use imapvm_types::{MailboxId, Secret, Uid, UidSet, UidValidity};
use std::fmt;
use std::time::{Duration, Instant};

/// The two clocks, read by the binding and passed in with every input.
///
/// `mono` orders events and arms deadlines ([`crate::Call::poll_timeout`]); it must never
/// go backwards between calls (a smaller value is treated as the last one seen). `wall`
/// is the time of day, in seconds since the Unix epoch: it dates a message
/// ([`Deposit::origtime`]) and says "received today at …".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tick {
    /// Monotonic time.
    pub mono: Instant,
    /// Wall-clock time, in seconds since 1970-01-01 UTC.
    pub wall: u64,
}

/// Names one action, so that its answer ([`Input`]) can say which action it answers.
///
/// Ids are unique within a call and increase; channel and store actions share the space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ActionId(pub(crate) u64);

impl ActionId {
    /// The id as a number (for logs).
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ActionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// What the call wants done next. Drained with [`crate::Call::poll_action`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Do something on the caller's channel, then answer with the matching [`Input`]. At
    /// most one is outstanding at a time.
    Channel {
        /// Answer with this id.
        id: ActionId,
        /// What to do.
        action: ChannelAction,
    },
    /// Ask the voicemail store, then answer with [`Input::StoreReply`]. Several may be
    /// outstanding at once; run them concurrently.
    Store {
        /// Answer with this id.
        id: ActionId,
        /// What to ask.
        op: StoreOp,
    },
    /// The call is over; nothing follows. Set `VMSTATUS` (if given: `SET VARIABLE` works on
    /// a hung-up channel too), then continue the dialplan at `exit` (if given), then end the
    /// AGI session. Every store action has been answered before this comes.
    Finished {
        /// The value for the channel variable `VMSTATUS`; `None` leaves it unset
        /// (VoiceMailMain never sets it).
        vmstatus: Option<VmStatus>,
        /// Where the dialplan goes on (`*` → `a`, `0` → `o`); `None` continues at the next
        /// priority. Never given after a hangup.
        exit: Option<Exit>,
    },
}

/// Something to do on the caller's channel.
///
/// Each is answered by exactly one input, or cut short by [`Input::Hangup`]:
///
/// | action | answer |
/// |---|---|
/// | `Play`, `SayNumber`, `SayDigits`, `SayDateTime` | [`Input::PromptDone`], with the key that cut it short, which must be one of `escape` |
/// | `ControlStream` | [`Input::PromptDone`], with the stop key that ended it, which must be one of `stop` |
/// | `Record` | [`Input::Recorded`] |
/// | `WaitDigit` | [`Input::Digit`] or [`Input::Timeout`] |
/// | `Hangup` | [`Input::Hangup`] |
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelAction {
    /// Play `prompts` in order. A key in `escape` stops the whole sequence and is
    /// reported; other keys are discarded (AGI: one `STREAM FILE p "escape"` per prompt,
    /// stopping at the first key). A missing file counts as played.
    Play {
        /// The sounds, in order.
        prompts: Vec<Prompt>,
        /// The keys that stop the sequence.
        escape: DtmfSet,
    },
    /// Say a number ("twenty three"). AGI: `SAY NUMBER n "escape"`. Defined for
    /// VoiceMailMain; VoiceMail says none.
    SayNumber {
        /// The number.
        number: i64,
        /// The keys that stop it.
        escape: DtmfSet,
    },
    /// Say a string digit by digit. AGI: `SAY DIGITS d "escape"`. Defined for
    /// VoiceMailMain; VoiceMail plays the digits as [`Prompt::Digit`]s.
    SayDigits {
        /// The digits (`0`-`9`, `*`, `#`, `-`).
        digits: String,
        /// The keys that stop it.
        escape: DtmfSet,
    },
    /// Say a date and time in an Asterisk date format. AGI: `SAY DATETIME epoch "escape"
    /// "format" zone`. Defined for VoiceMailMain (the message envelope).
    SayDateTime {
        /// Seconds since the epoch.
        epoch: u64,
        /// Asterisk's format, e.g. `'vm-received' q 'digits/at' IMp`.
        format: String,
        /// A time zone name (`America/New_York`); `None` is the server's zone.
        zone: Option<String>,
        /// The keys that stop it.
        escape: DtmfSet,
    },
    /// Play a message with Asterisk's listen controls (VoiceMailMain). AGI: `CONTROL
    /// STREAM FILE file "stop" skipms forward rewind pause`. `forward` and `rewind` skip by
    /// `skip`, `pause` pauses and resumes, inside the command; a key of `stop` ends it and
    /// is reported. `2` is a stop key: the IVR restarts the file by issuing it again
    /// (AGI's command has no restart key).
    ControlStream {
        /// The audio.
        file: SpoolName,
        /// The keys that end it.
        stop: DtmfSet,
        /// How far `forward` and `rewind` skip (`skipms`).
        skip: Duration,
        /// Skip forward (`#`).
        forward: Dtmf,
        /// Skip back (`*`).
        rewind: Dtmf,
        /// Pause and resume (`0`).
        pause: Dtmf,
    },
    /// Record the caller.
    Record(RecordSpec),
    /// Wait up to this long for one key (AGI: `WAIT FOR DIGIT ms`).
    WaitDigit(Duration),
    /// Hang the channel up. Defined for VoiceMailMain; VoiceMail never hangs up (the
    /// dialplan goes on after it).
    Hangup,
}

impl ChannelAction {
    /// For an action answered by [`Input::PromptDone`] (`Play`, `Say*`, `ControlStream`):
    /// the keys that may end it. `None` for the others.
    pub fn prompt_keys(&self) -> Option<DtmfSet> {
        match self {
            ChannelAction::Play { escape, .. }
            | ChannelAction::SayNumber { escape, .. }
            | ChannelAction::SayDigits { escape, .. }
            | ChannelAction::SayDateTime { escape, .. }
            | ChannelAction::ControlStream { stop: escape, .. } => Some(*escape),
            ChannelAction::Record(_) | ChannelAction::WaitDigit(_) | ChannelAction::Hangup => None,
        }
    }
}

/// How to record: Asterisk's `__ast_play_and_record` parameters.
///
/// AGI: `RECORD FILE file format "escape" {max ms, or -1} s={silence}`, **without** the
/// `BEEP` argument (the IVR plays the beep itself, as a separate prompt; `BEEP` would play
/// a second one). AGI cannot pass `silence_threshold` (res_agi takes dsp.conf's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSpec {
    /// Where to record (overwritten if it exists).
    pub file: SpoolName,
    /// The audio format.
    pub format: RecordFormat,
    /// The longest recording (`maxsecs`); `None` records until a key or a hangup.
    pub max: Option<Duration>,
    /// Stop after this much silence (`maxsilence`); `None` disables silence detection.
    pub silence: Option<Duration>,
    /// The level below which audio counts as silence (`silencethreshold`).
    pub silence_threshold: u32,
    /// The keys that end the recording: `#` accepts it, `0` (with `operator=yes`) goes to
    /// the operator.
    pub escape: DtmfSet,
}

/// Which greeting file to look for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GreetingKind {
    /// `temp`: the temporary greeting, which wins over the others.
    Temp,
    /// `busy`: option `b`.
    Busy,
    /// `unavail`: option `u`.
    Unavail,
    /// `greet`: the recorded name.
    Name,
}

impl GreetingKind {
    /// Asterisk's file name in the mailbox directory (`temp`, `busy`, `unavail`, `greet`).
    pub fn file_name(self) -> &'static str {
        match self {
            GreetingKind::Temp => "temp",
            GreetingKind::Busy => "busy",
            GreetingKind::Unavail => "unavail",
            GreetingKind::Name => "greet",
        }
    }
}

/// `X-Asterisk-VM-Flag` of a message: options `U`, `P`, review key `4`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Urgency {
    /// No flag.
    #[default]
    Normal,
    /// `Urgent`: stored `\Flagged`, counted and played first.
    Urgent,
    /// `PRIORITY`: only written into the header; otherwise a normal message.
    Priority,
}

impl Urgency {
    /// The header value Asterisk writes (`""`, `Urgent`, `PRIORITY`).
    pub fn as_flag(self) -> &'static str {
        match self {
            Urgency::Normal => "",
            Urgency::Urgent => "Urgent",
            Urgency::Priority => "PRIORITY",
        }
    }
}

/// A message to store: the recording, kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deposit {
    /// The mailboxes, the first being the one whose greeting played. One message per
    /// recipient (one APPEND each); a recipient the binding does not know, or whose
    /// mailbox is full, is skipped, as Asterisk skips it.
    pub recipients: Vec<MailboxId>,
    /// The recording ([`RecordSpec::file`]).
    pub recording: SpoolName,
    /// Its length in whole seconds; `None` when the caller hung up before the recorder
    /// reported it (the binding measures the file).
    pub duration_secs: Option<u32>,
    /// The flag.
    pub urgency: Urgency,
    /// When the recording started ([`Tick::wall`]): `X-Asterisk-VM-Orig-time`.
    pub origtime: u64,
}

/// A question for the voicemail store. The binding maps each onto the runtime; the reply
/// comes back as [`Input::StoreReply`] with the variant of [`StoreReply`] named here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreOp {
    /// Does the mailbox exist, and may a message be left in it (maxmsg, IMAP quota)?
    /// Reply: [`StoreReply::Admit`].
    Admit {
        /// The mailbox.
        mailbox: MailboxId,
    },
    /// Find a greeting and make it playable: from IMAP with `imapgreetings=yes`, otherwise
    /// from the spool directory. Reply: [`StoreReply::Greeting`].
    Greeting {
        /// The mailbox.
        mailbox: MailboxId,
        /// Which greeting.
        which: GreetingKind,
    },
    /// Store the message. From this moment the recording is the binding's: it must
    /// reach the store (through its outbox if the store is down), whatever happens to the
    /// call. Reply: [`StoreReply::Deposit`].
    Deposit(Deposit),
    /// Delete a recording that is not kept (too short, or deleted by the caller).
    /// Reply: [`StoreReply::Discarded`].
    Discard {
        /// The recording.
        recording: SpoolName,
    },
    /// VoiceMailMain: does a typed mailbox exist, and does it have a password?
    /// voicemail.conf only, no IMAP. Reply: [`StoreReply::Lookup`].
    Lookup {
        /// The mailbox.
        mailbox: MailboxId,
    },
    /// VoiceMailMain: check the password. `pin` is `None` when none is to be checked:
    /// the box has no password ([`BoxLookup::NoPin`]) or the dialplan gave option `s`
    /// for it ([`crate::MainOptions::skip_password`]); the binding grants those only. The
    /// binding owns the lockout ([`crate::LoginGuard`]): a locked box is refused whatever
    /// the password, and a wrong password is counted. Reply: [`StoreReply::Authenticate`].
    Authenticate {
        /// The mailbox.
        mailbox: MailboxId,
        /// What the caller typed (never shown: `Secret` prints `***`).
        pin: Option<Secret>,
    },
    /// VoiceMailMain, once logged in: the urgent, new and old messages of `imapfolder`
    /// (one listing gives the counts and the starting list) and the quota state.
    /// Reply: [`StoreReply::Summary`].
    Summary {
        /// The mailbox.
        mailbox: MailboxId,
        /// Also say whether a temporary greeting is set (`tempgreetwarn=yes`).
        temp_greeting: bool,
    },
    /// VoiceMailMain: a folder's messages (`2`, change folder; `a(N)`). `Urgent`, `Inbox`
    /// and `Old` are the flag states of `imapfolder`. Reply: [`StoreReply::List`].
    List {
        /// The mailbox.
        mailbox: MailboxId,
        /// The folder (0-9, or `Urgent`).
        folder: Folder,
    },
    /// VoiceMailMain: fetch a message's audio into the spool, **without** marking it
    /// `\Seen` (issued when the message's header starts, so that the fetch runs while the
    /// envelope is said). Reply: [`StoreReply::Fetch`].
    Fetch {
        /// The mailbox.
        mailbox: MailboxId,
        /// The message.
        message: MessageRef,
    },
    /// VoiceMailMain: set `\Seen` (issued when the audio starts: a message skipped at its
    /// envelope stays new). Reply: [`StoreReply::MarkSeen`].
    MarkSeen {
        /// The mailbox.
        mailbox: MailboxId,
        /// The message.
        message: MessageRef,
    },
    /// VoiceMailMain: delete exactly these messages (`\Deleted`, then `UID EXPUNGE` of
    /// them, or the policy's plan where UIDPLUS is missing; never other mail). Issued once
    /// per folder at the end of the session, exit or hangup. Reply: [`StoreReply::Expunge`].
    Expunge {
        /// The mailbox.
        mailbox: MailboxId,
        /// The IMAP folder ([`MessageRef::storage`]: `Inbox` for `imapfolder`).
        folder: Folder,
        /// Its UIDVALIDITY when the messages were listed.
        uid_validity: UidValidity,
        /// The messages.
        uids: UidSet,
    },
    /// VoiceMailMain `9`: save a message into a folder (`MOVE`, or `UID COPY` + `UID
    /// EXPUNGE` of it; between new and old only `\Seen` changes). Reply: [`StoreReply::Move`].
    Move {
        /// The mailbox.
        mailbox: MailboxId,
        /// The message.
        message: MessageRef,
        /// The destination (0-9).
        to: Folder,
    },
    /// VoiceMailMain `8`: forward a message to other mailboxes, with the recorded comment
    /// in front when given. Reply: [`StoreReply::Forward`].
    Forward {
        /// The mailbox.
        mailbox: MailboxId,
        /// The message.
        message: MessageRef,
        /// The destinations (checked with [`StoreOp::CheckTarget`]).
        to: Vec<MailboxId>,
        /// The comment recording, if one was accepted.
        comment: Option<SpoolName>,
        /// Store the copies as urgent.
        urgent: bool,
    },
    /// VoiceMailMain: may a message be forwarded or sent to this mailbox? Its recorded name
    /// comes back for the confirmation. Reply: [`StoreReply::Target`].
    CheckTarget {
        /// The mailbox.
        mailbox: MailboxId,
    },
    /// VoiceMailMain `0`: store a recorded greeting (in the greetings folder with
    /// `imapgreetings=yes`, else in the spool directory). Reply: [`StoreReply::GreetingSet`].
    GreetingSet {
        /// The mailbox.
        mailbox: MailboxId,
        /// Which greeting.
        which: GreetingKind,
        /// The recording.
        recording: SpoolName,
        /// Its length in whole seconds.
        duration_secs: u32,
    },
    /// VoiceMailMain `0` `4` `2`: erase a greeting. Reply: [`StoreReply::GreetingDelete`].
    GreetingDelete {
        /// The mailbox.
        mailbox: MailboxId,
        /// Which greeting.
        which: GreetingKind,
    },
    /// VoiceMailMain `0` `5`: write a new password where `passwordlocation` says
    /// (`externpass` and `externpasscheck` are the binding's). Reply:
    /// [`StoreReply::ChangePassword`].
    ChangePassword {
        /// The mailbox.
        mailbox: MailboxId,
        /// The new password (never shown).
        new: Secret,
    },
}

impl StoreOp {
    /// The op's name, the first word of its `Display` (`admit`, `greeting`, `fetch`,
    /// `change-password`, …): for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            StoreOp::Admit { .. } => "admit",
            StoreOp::Greeting { .. } => "greeting",
            StoreOp::Deposit(_) => "deposit",
            StoreOp::Discard { .. } => "discard",
            StoreOp::Lookup { .. } => "lookup",
            StoreOp::Authenticate { .. } => "authenticate",
            StoreOp::Summary { .. } => "summary",
            StoreOp::List { .. } => "list",
            StoreOp::Fetch { .. } => "fetch",
            StoreOp::MarkSeen { .. } => "seen",
            StoreOp::Expunge { .. } => "expunge",
            StoreOp::Move { .. } => "move",
            StoreOp::Forward { .. } => "forward",
            StoreOp::CheckTarget { .. } => "target",
            StoreOp::GreetingSet { .. } => "greeting-set",
            StoreOp::GreetingDelete { .. } => "greeting-delete",
            StoreOp::ChangePassword { .. } => "change-password",
        }
    }
}

/// The store's answer to [`StoreOp::Admit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// A message may be left.
    Admitted,
    /// The mailbox is full.
    Full(FullBy),
    /// No such mailbox.
    UnknownMailbox,
    /// The store could not be asked (server down). The IVR takes the message anyway; the
    /// deposit goes through the binding's outbox.
    Unavailable,
}

/// Why a mailbox is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FullBy {
    /// New + urgent + old messages reached `maxmsg`.
    MaxMsg,
    /// The IMAP quota is used up.
    Quota,
}

/// What became of a [`StoreOp::Deposit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DepositOutcome {
    /// Stored; the UID in the first recipient's folder when the server reported it.
    Stored {
        /// `APPENDUID`'s UID.
        uid: Option<Uid>,
    },
    /// The store is down; the message waits in the binding's outbox and will be stored.
    Queued,
    /// The message could not be stored nor queued.
    Failed,
}

/// The answer to a [`StoreOp`], one variant per op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreReply {
    /// Answers [`StoreOp::Admit`].
    Admit(Admission),
    /// Answers [`StoreOp::Greeting`]: a playable file, or `None` when there is no such
    /// greeting (or it could not be fetched).
    Greeting(Option<SpoolName>),
    /// Answers [`StoreOp::Deposit`].
    Deposit(DepositOutcome),
    /// Answers [`StoreOp::Discard`] (whether or not the file could be removed).
    Discarded,
    /// Answers [`StoreOp::Lookup`].
    Lookup(BoxLookup),
    /// Answers [`StoreOp::Authenticate`].
    Authenticate(AuthReply),
    /// Answers [`StoreOp::Summary`].
    Summary(Result<Box<Summary>, StoreUnavailable>),
    /// Answers [`StoreOp::List`].
    List(Result<Listing, StoreUnavailable>),
    /// Answers [`StoreOp::Fetch`].
    Fetch(Fetched),
    /// Answers [`StoreOp::MarkSeen`].
    MarkSeen(Result<(), StoreUnavailable>),
    /// Answers [`StoreOp::Expunge`].
    Expunge(Result<(), StoreUnavailable>),
    /// Answers [`StoreOp::Move`].
    Move(Moved),
    /// Answers [`StoreOp::Forward`]: `Ok` when every copy was stored or queued.
    Forward(Result<(), StoreUnavailable>),
    /// Answers [`StoreOp::CheckTarget`].
    Target(TargetCheck),
    /// Answers [`StoreOp::GreetingSet`].
    GreetingSet(Result<(), StoreUnavailable>),
    /// Answers [`StoreOp::GreetingDelete`].
    GreetingDelete(Result<(), StoreUnavailable>),
    /// Answers [`StoreOp::ChangePassword`].
    ChangePassword(PasswordChange),
}

/// How a recording ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordEnd {
    /// A key of [`RecordSpec::escape`] (`#`, or `0` with `operator=yes`).
    Dtmf(Dtmf),
    /// [`RecordSpec::max`] was reached.
    MaxLength,
    /// [`RecordSpec::silence`] of silence (AGI reports it like `MaxLength`).
    Silence,
    /// The caller hung up. The recording so far is kept.
    Hangup,
    /// Nothing could be recorded (the file could not be written).
    Failed,
}

/// An event for the call: the answer to an outstanding action, or a hangup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A [`ChannelAction::WaitDigit`] got a key.
    Digit {
        /// The wait.
        id: ActionId,
        /// The key.
        key: Dtmf,
    },
    /// A [`ChannelAction::WaitDigit`] got no key in time (AGI's `result=0`).
    Timeout {
        /// The wait.
        id: ActionId,
    },
    /// A `Play` or `Say*` ended: played through (`None`), or cut short by a key of its
    /// escape set.
    PromptDone {
        /// The prompt.
        id: ActionId,
        /// The key that stopped it.
        interrupted_by: Option<Dtmf>,
    },
    /// A [`ChannelAction::Record`] ended.
    Recorded {
        /// The recording.
        id: ActionId,
        /// The length recorded (AGI: `endpos` / 8000 for 8 kHz audio).
        duration: Duration,
        /// How it ended. With [`RecordEnd::Hangup`] the call counts as hung up.
        ended_by: RecordEnd,
    },
    /// The caller hung up. It ends the outstanding channel action; afterwards only store
    /// actions and [`Action::Finished`] follow. A second `Hangup` is ignored. If a
    /// recording is outstanding, answer it with [`Input::Recorded`] (`RecordEnd::Hangup`)
    /// first when its length is known.
    Hangup,
    /// The answer to a [`StoreOp`].
    StoreReply {
        /// The op.
        id: ActionId,
        /// Its answer.
        reply: StoreReply,
    },
}

/// The values of `VMSTATUS`. VoiceMailMain sets none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VmStatus {
    /// A message was left (or the mailbox is greetings-only).
    Success,
    /// The caller left with `*` or `0`.
    UserExit,
    /// No message was left.
    Failed,
}

impl VmStatus {
    /// The variable's value (`SUCCESS`, `USEREXIT`, `FAILED`).
    pub fn as_str(self) -> &'static str {
        match self {
            VmStatus::Success => "SUCCESS",
            VmStatus::UserExit => "USEREXIT",
            VmStatus::Failed => "FAILED",
        }
    }
}

impl fmt::Display for VmStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The extension a caller leaves to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ExitExtension {
    /// `a`: `*` during the greeting (an attendant, or VoiceMailMain), or `*` at
    /// VoiceMailMain's login.
    A,
    /// `o`: `0`, the operator.
    O,
    /// VoiceMailMain's call back and dial-out: the number, in the `callback` or `dialout`
    /// context.
    Dial(String),
}

impl ExitExtension {
    /// `a`, `o` or the number.
    pub fn as_str(&self) -> &str {
        match self {
            ExitExtension::A => "a",
            ExitExtension::O => "o",
            ExitExtension::Dial(number) => number,
        }
    }
}

/// Where the dialplan continues: priority 1 of `extension`, in `context` if given (the
/// `exitcontext`, or VoiceMailMain's `callback`/`dialout` context), else in the current
/// context. AGI: `SET CONTEXT`, `SET EXTENSION`,
/// `SET PRIORITY 1`, then end the session.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Exit {
    /// voicemail.conf's `exitcontext` (or `callback`/`dialout`), or `None` for the
    /// caller's current context.
    pub context: Option<String>,
    /// `a`, `o` or a number.
    pub extension: ExitExtension,
}

impl Exit {
    /// The dialplan priority, always 1 (Asterisk sets 0 and the PBX steps to 1).
    pub fn priority(&self) -> u32 {
        1
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(context) = &self.context {
            write!(f, "{context},")?;
        }
        write!(f, "{},{}", self.extension.as_str(), self.priority())
    }
}

fn escape_suffix(f: &mut fmt::Formatter<'_>, escape: DtmfSet) -> fmt::Result {
    if escape == DtmfSet::ANY {
        write!(f, " escape=any")
    } else if escape.is_empty() {
        Ok(())
    } else {
        write!(f, " escape={escape}")
    }
}

fn secs(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

impl fmt::Display for ChannelAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChannelAction::Play { prompts, escape } => {
                write!(f, "play")?;
                for p in prompts {
                    write!(f, " {p}")?;
                }
                escape_suffix(f, *escape)
            }
            ChannelAction::SayNumber { number, escape } => {
                write!(f, "say-number {number}")?;
                escape_suffix(f, *escape)
            }
            ChannelAction::SayDigits { digits, escape } => {
                write!(f, "say-digits {digits}")?;
                escape_suffix(f, *escape)
            }
            ChannelAction::SayDateTime {
                epoch,
                format,
                zone,
                escape,
            } => {
                write!(f, "say-datetime {epoch} {format:?}")?;
                if let Some(zone) = zone {
                    write!(f, " zone={zone}")?;
                }
                escape_suffix(f, *escape)
            }
            ChannelAction::ControlStream {
                file,
                stop,
                skip,
                forward,
                rewind,
                pause,
            } => write!(
                f,
                "control-stream {file} stop={stop} skip={} ff={forward} rew={rewind} pause={pause}",
                secs(*skip)
            ),
            ChannelAction::Record(spec) => {
                write!(f, "record {} {}", spec.file, spec.format)?;
                if let Some(max) = spec.max {
                    write!(f, " max={}", secs(max))?;
                }
                if let Some(silence) = spec.silence {
                    write!(
                        f,
                        " silence={} threshold={}",
                        secs(silence),
                        spec.silence_threshold
                    )?;
                }
                escape_suffix(f, spec.escape)
            }
            ChannelAction::WaitDigit(timeout) => write!(f, "wait {}", secs(*timeout)),
            ChannelAction::Hangup => write!(f, "hangup"),
        }
    }
}

impl fmt::Display for StoreOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreOp::Admit { mailbox } => write!(f, "admit {mailbox}"),
            StoreOp::Greeting { mailbox, which } => {
                write!(f, "greeting {mailbox} {}", which.file_name())
            }
            StoreOp::Deposit(d) => {
                write!(f, "deposit ")?;
                for (i, r) in d.recipients.iter().enumerate() {
                    write!(f, "{}{r}", if i == 0 { "" } else { "&" })?;
                }
                write!(f, " {}", d.recording)?;
                match d.duration_secs {
                    Some(s) => write!(f, " {s}s")?,
                    None => write!(f, " unknown-length")?,
                }
                match d.urgency {
                    Urgency::Normal => {}
                    u => write!(f, " {}", u.as_flag())?,
                }
                write!(f, " origtime={}", d.origtime)
            }
            StoreOp::Discard { recording } => write!(f, "discard {recording}"),
            StoreOp::Lookup { mailbox } => write!(f, "lookup {mailbox}"),
            StoreOp::Authenticate { mailbox, pin } => match pin {
                Some(pin) => write!(f, "authenticate {mailbox} pin={pin}"),
                None => write!(f, "authenticate {mailbox} without-pin"),
            },
            StoreOp::Summary {
                mailbox,
                temp_greeting,
            } => {
                write!(f, "summary {mailbox}")?;
                if *temp_greeting {
                    write!(f, " +temp")?;
                }
                Ok(())
            }
            StoreOp::List { mailbox, folder } => write!(f, "list {mailbox} {folder}"),
            StoreOp::Fetch { mailbox, message } => write!(f, "fetch {mailbox} {message}"),
            StoreOp::MarkSeen { mailbox, message } => write!(f, "seen {mailbox} {message}"),
            StoreOp::Expunge {
                mailbox,
                folder,
                uid_validity,
                uids,
            } => write!(
                f,
                "expunge {mailbox} {folder} uv={uid_validity} uids={uids}"
            ),
            StoreOp::Move {
                mailbox,
                message,
                to,
            } => write!(f, "move {mailbox} {message} to={to}"),
            StoreOp::Forward {
                mailbox,
                message,
                to,
                comment,
                urgent,
            } => {
                write!(f, "forward {mailbox} {message} to=")?;
                for (i, r) in to.iter().enumerate() {
                    write!(f, "{}{r}", if i == 0 { "" } else { "&" })?;
                }
                if let Some(comment) = comment {
                    write!(f, " comment={comment}")?;
                }
                if *urgent {
                    write!(f, " Urgent")?;
                }
                Ok(())
            }
            StoreOp::CheckTarget { mailbox } => write!(f, "target {mailbox}"),
            StoreOp::GreetingSet {
                mailbox,
                which,
                recording,
                duration_secs,
            } => write!(
                f,
                "greeting-set {mailbox} {} {recording} {duration_secs}s",
                which.file_name()
            ),
            StoreOp::GreetingDelete { mailbox, which } => {
                write!(f, "greeting-delete {mailbox} {}", which.file_name())
            }
            StoreOp::ChangePassword { mailbox, new } => {
                write!(f, "change-password {mailbox} {new}")
            }
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Channel { action, .. } => write!(f, "{action}"),
            Action::Store { op, .. } => write!(f, "store {op}"),
            Action::Finished { vmstatus, exit } => {
                write!(f, "finished")?;
                if let Some(status) = vmstatus {
                    write!(f, " VMSTATUS={status}")?;
                }
                if let Some(exit) = exit {
                    write!(f, " exit={exit}")?;
                }
                Ok(())
            }
        }
    }
}
