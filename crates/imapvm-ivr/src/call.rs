//! [`Call`]: one call's state machine, and the bookkeeping every flow shares ([`Outbox`]):
//! action ids, the one outstanding channel action, the outstanding store ops, the hangup,
//! and the rule that [`Action::Finished`] comes last.

use crate::io::{
    Action, ActionId, ChannelAction, Exit, Input, RecordEnd, StoreOp, StoreReply, Tick, VmStatus,
};
use crate::keys::{Dtmf, Keys};
use crate::leave::{Leave, LeaveFlow};
use crate::listing::Marked;
use crate::retrieve::{Main, MainFlow};
use crate::settings::Settings;
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// Which call flow to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flow {
    /// `VoiceMail()`: leave a message.
    Leave(Leave),
    /// `VoiceMailMain()`: log in and listen to messages.
    Main(Main),
}

/// An input the call cannot take: a fault of the binding, never of the caller or a peer.
/// A refused input changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Misuse {
    /// The input answers an action that is not outstanding (never issued, or answered
    /// already).
    #[error("action {id} is not outstanding")]
    NotOutstanding {
        /// The id given.
        id: ActionId,
    },
    /// The input is the wrong kind of answer for the action.
    #[error("{input} cannot answer action {id} ({action})")]
    WrongAnswer {
        /// The action.
        id: ActionId,
        /// What the action is (`play`, `record`, `wait`, `store admit`, …).
        action: &'static str,
        /// What was given.
        input: &'static str,
    },
    /// A prompt or recording reported a key that was not among its escape keys.
    #[error("key {key} is not an escape key of action {id}")]
    KeyNotEscape {
        /// The action.
        id: ActionId,
        /// The key reported.
        key: Dtmf,
    },
    /// A channel answer came after [`Input::Hangup`].
    #[error("a channel answer came after the hangup")]
    AfterHangup,
    /// An input other than a repeated hangup came after [`Action::Finished`].
    #[error("the call is finished")]
    Finished,
}

/// What answers the outstanding channel action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Prompt(Keys),
    Record(Keys),
    Wait,
    Hangup,
}

impl Expect {
    fn of(action: &ChannelAction) -> Expect {
        if let Some(escape) = action.prompt_keys() {
            return Expect::Prompt(escape);
        }
        match action {
            ChannelAction::Record(spec) => Expect::Record(spec.escape),
            ChannelAction::WaitDigit(_) => Expect::Wait,
            _ => Expect::Hangup,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Expect::Prompt(_) => "play",
            Expect::Record(_) => "record",
            Expect::Wait => "wait",
            Expect::Hangup => "hangup",
        }
    }
}

/// Which op a store reply answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StoreKind {
    Admit,
    Greeting(crate::io::GreetingKind),
    Deposit,
    Discard,
    Lookup,
    Authenticate,
    Summary,
    List,
    Fetch,
    MarkSeen,
    Expunge,
    Move,
    Forward,
    Target,
    GreetingSet,
    GreetingDelete,
    ChangePassword,
}

impl StoreKind {
    fn of(op: &StoreOp) -> StoreKind {
        match op {
            StoreOp::Admit { .. } => StoreKind::Admit,
            StoreOp::Greeting { which, .. } => StoreKind::Greeting(*which),
            StoreOp::Deposit(_) => StoreKind::Deposit,
            StoreOp::Discard { .. } => StoreKind::Discard,
            StoreOp::Lookup { .. } => StoreKind::Lookup,
            StoreOp::Authenticate { .. } => StoreKind::Authenticate,
            StoreOp::Summary { .. } => StoreKind::Summary,
            StoreOp::List { .. } => StoreKind::List,
            StoreOp::Fetch { .. } => StoreKind::Fetch,
            StoreOp::MarkSeen { .. } => StoreKind::MarkSeen,
            StoreOp::Expunge { .. } => StoreKind::Expunge,
            StoreOp::Move { .. } => StoreKind::Move,
            StoreOp::Forward { .. } => StoreKind::Forward,
            StoreOp::CheckTarget { .. } => StoreKind::Target,
            StoreOp::GreetingSet { .. } => StoreKind::GreetingSet,
            StoreOp::GreetingDelete { .. } => StoreKind::GreetingDelete,
            StoreOp::ChangePassword { .. } => StoreKind::ChangePassword,
        }
    }

    fn name(self) -> &'static str {
        match self {
            StoreKind::Admit => "store admit",
            StoreKind::Greeting(_) => "store greeting",
            StoreKind::Deposit => "store deposit",
            StoreKind::Discard => "store discard",
            StoreKind::Lookup => "store lookup",
            StoreKind::Authenticate => "store authenticate",
            StoreKind::Summary => "store summary",
            StoreKind::List => "store list",
            StoreKind::Fetch => "store fetch",
            StoreKind::MarkSeen => "store mark-seen",
            StoreKind::Expunge => "store expunge",
            StoreKind::Move => "store move",
            StoreKind::Forward => "store forward",
            StoreKind::Target => "store check-target",
            StoreKind::GreetingSet => "store greeting-set",
            StoreKind::GreetingDelete => "store greeting-delete",
            StoreKind::ChangePassword => "store change-password",
        }
    }

    fn answered_by(self, reply: &StoreReply) -> bool {
        matches!(
            (self, reply),
            (StoreKind::Admit, StoreReply::Admit(_))
                | (StoreKind::Greeting(_), StoreReply::Greeting(_))
                | (StoreKind::Deposit, StoreReply::Deposit(_))
                | (StoreKind::Discard, StoreReply::Discarded)
                | (StoreKind::Lookup, StoreReply::Lookup(_))
                | (StoreKind::Authenticate, StoreReply::Authenticate(_))
                | (StoreKind::Summary, StoreReply::Summary(_))
                | (StoreKind::List, StoreReply::List(_))
                | (StoreKind::Fetch, StoreReply::Fetch(_))
                | (StoreKind::MarkSeen, StoreReply::MarkSeen(_))
                | (StoreKind::Expunge, StoreReply::Expunge(_))
                | (StoreKind::Move, StoreReply::Move(_))
                | (StoreKind::Forward, StoreReply::Forward(_))
                | (StoreKind::Target, StoreReply::Target(_))
                | (StoreKind::GreetingSet, StoreReply::GreetingSet(_))
                | (StoreKind::GreetingDelete, StoreReply::GreetingDelete(_))
                | (StoreKind::ChangePassword, StoreReply::ChangePassword(_))
        )
    }
}

fn reply_name(reply: &StoreReply) -> &'static str {
    match reply {
        StoreReply::Admit(_) => "an admit reply",
        StoreReply::Greeting(_) => "a greeting reply",
        StoreReply::Deposit(_) => "a deposit reply",
        StoreReply::Discarded => "a discard reply",
        StoreReply::Lookup(_) => "a lookup reply",
        StoreReply::Authenticate(_) => "an authenticate reply",
        StoreReply::Summary(_) => "a summary reply",
        StoreReply::List(_) => "a list reply",
        StoreReply::Fetch(_) => "a fetch reply",
        StoreReply::MarkSeen(_) => "a mark-seen reply",
        StoreReply::Expunge(_) => "an expunge reply",
        StoreReply::Move(_) => "a move reply",
        StoreReply::Forward(_) => "a forward reply",
        StoreReply::Target(_) => "a check-target reply",
        StoreReply::GreetingSet(_) => "a greeting-set reply",
        StoreReply::GreetingDelete(_) => "a greeting-delete reply",
        StoreReply::ChangePassword(_) => "a change-password reply",
    }
}

/// The answer to the outstanding channel action, as a flow receives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChannelAnswer {
    /// A prompt ended, perhaps cut short by a key.
    Prompt(Option<Dtmf>),
    /// A wait got a key.
    Digit(Dtmf),
    /// A wait got none.
    Timeout,
    /// A recording ended.
    Recorded {
        duration: Duration,
        ended_by: RecordEnd,
    },
}

/// How `VMSTATUS` is decided when the call finishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// This value.
    Fixed(Option<VmStatus>),
    /// From what became of the message: SUCCESS if it was stored or queued, else FAILED.
    ByMessage,
}

/// What a flow asks for; the bookkeeping shared by every flow.
#[derive(Debug)]
pub(crate) struct Outbox {
    next_id: u64,
    queue: VecDeque<Action>,
    /// The outstanding channel action, what answers it, and whether its answer is part
    /// of a secret (a password's digits).
    channel: Option<(ActionId, Expect, bool)>,
    store: BTreeMap<ActionId, StoreKind>,
    hung_up: bool,
    finish: Option<(Verdict, Option<Exit>)>,
    finished: bool,
}

impl Outbox {
    fn new() -> Outbox {
        Outbox {
            next_id: 1,
            queue: VecDeque::new(),
            channel: None,
            store: BTreeMap::new(),
            hung_up: false,
            finish: None,
            finished: false,
        }
    }

    fn id(&mut self) -> ActionId {
        let id = ActionId(self.next_id);
        self.next_id += 1;
        id
    }

    /// Issues a channel action. A flow issues one only when none is outstanding and the
    /// caller is still there; anything else is a bug of the flow, caught in tests, and the
    /// action is dropped so that the binding never sees the invariant broken.
    pub(crate) fn channel(&mut self, action: ChannelAction) {
        self.channel_with(action, false);
    }

    /// [`Outbox::channel`], for an action whose answer is a digit of a password.
    pub(crate) fn secret_channel(&mut self, action: ChannelAction) {
        self.channel_with(action, true);
    }

    fn channel_with(&mut self, action: ChannelAction, secret: bool) {
        debug_assert!(self.channel.is_none(), "a second channel action: {action}");
        debug_assert!(!self.hung_up, "a channel action after the hangup: {action}");
        debug_assert!(
            self.finish.is_none(),
            "a channel action after finishing: {action}"
        );
        if self.channel.is_some() || self.hung_up || self.finish.is_some() {
            return;
        }
        let id = self.id();
        self.channel = Some((id, Expect::of(&action), secret));
        self.queue.push_back(Action::Channel { id, action });
    }

    pub(crate) fn play(&mut self, prompts: Vec<crate::Prompt>, escape: Keys) {
        self.channel(ChannelAction::Play { prompts, escape });
    }

    /// Issues a store op; returns its id (`None` only after the end, a bug of the flow).
    pub(crate) fn store(&mut self, op: StoreOp) -> Option<ActionId> {
        debug_assert!(!self.finished, "a store op after Finished: {op}");
        if self.finished {
            return None;
        }
        let id = self.id();
        self.store.insert(id, StoreKind::of(&op));
        self.queue.push_back(Action::Store { id, op });
        Some(id)
    }

    /// The id the next action will get: the store ops issued from here on have ids at
    /// or above it ([`Outbox::store_since`]).
    pub(crate) fn mark(&self) -> ActionId {
        ActionId(self.next_id)
    }

    /// The outstanding store ops issued since `mark`.
    pub(crate) fn store_since(&self, mark: ActionId) -> Vec<ActionId> {
        self.store.range(mark..).map(|(id, _)| *id).collect()
    }

    /// Whether the caller has hung up.
    pub(crate) fn hung_up(&self) -> bool {
        self.hung_up
    }

    /// Ends the call once every store op is answered. The first request wins.
    pub(crate) fn finish(&mut self, verdict: Verdict, exit: Option<Exit>) {
        if self.finish.is_none() {
            self.finish = Some((verdict, exit));
        }
    }
}

/// One call: a flow from [`Flow`], driven by [`Input`]s, asking for [`Action`]s.
///
/// # Driving it
///
/// In the style of quinn-proto's `Connection`:
/// * **Inputs**: [`Call::handle`] with the answer to an action or a hangup, and
///   [`Call::handle_timeout`] when [`Call::poll_timeout`]'s deadline passes (only
///   VoiceMailMain's pause after a wrong password). Each takes a [`Tick`] with both
///   clocks; the call never reads a clock.
/// * **Outputs**: after [`Call::new`] and after every input, drain [`Call::poll_action`]
///   until `None`. Carry out each [`Action::Channel`] on the channel and each
///   [`Action::Store`] against the store (concurrently), and feed their answers back as
///   they come. Then arm a timer at [`Call::poll_timeout`].
///
/// # Invariants (checked, never panicking)
///
/// * At most one [`Action::Channel`] is outstanding: the call decides its next channel
///   action only from the answer to the previous one, so `poll_action` has none to give
///   until then.
/// * [`Action::Store`] actions may be outstanding together (the greeting lookups run
///   beside the capacity check).
/// * After [`Input::Hangup`] (or a recording that ended with a hangup) only `Store`
///   actions and `Finished` follow: the decisions already made (a kept recording,
///   VoiceMailMain's delete marks), nothing new.
/// * No channel action is outstanding only while the call waits for a store reply or
///   its deadline.
/// * [`Action::Finished`] comes exactly once, last, after every store op is answered.
/// * An input that does not fit ([`Misuse`]) is refused and changes nothing.
#[derive(Debug)]
pub struct Call {
    flow: FlowState,
    out: Outbox,
    now: Tick,
}

#[derive(Debug)]
enum FlowState {
    Leave(Box<LeaveFlow>),
    Main(Box<MainFlow>),
}

impl Call {
    /// Starts a call. Its first actions are ready at once.
    pub fn new(flow: Flow, settings: Settings, tick: Tick) -> Call {
        let mut out = Outbox::new();
        let flow = match flow {
            Flow::Leave(leave) => {
                FlowState::Leave(Box::new(LeaveFlow::start(leave, settings, &mut out, tick)))
            }
            Flow::Main(main) => {
                FlowState::Main(Box::new(MainFlow::start(main, settings, &mut out, tick)))
            }
        };
        let mut call = Call {
            flow,
            out,
            now: tick,
        };
        call.settle();
        call
    }

    /// Takes an input: the answer to an outstanding action, or a hangup.
    pub fn handle(&mut self, input: Input, tick: Tick) -> Result<(), Misuse> {
        if self.out.finished {
            return match input {
                Input::Hangup => Ok(()),
                _ => Err(Misuse::Finished),
            };
        }
        self.advance(tick);
        let now = self.now;
        match input {
            Input::Hangup => {
                if !self.out.hung_up {
                    self.out.hung_up = true;
                    self.out.channel = None;
                    match &mut self.flow {
                        FlowState::Leave(flow) => flow.on_hangup(&mut self.out, now),
                        FlowState::Main(flow) => flow.on_hangup(&mut self.out, now),
                    }
                }
            }
            Input::StoreReply { id, reply } => {
                let Some(kind) = self.out.store.get(&id).copied() else {
                    return Err(Misuse::NotOutstanding { id });
                };
                if !kind.answered_by(&reply) {
                    return Err(Misuse::WrongAnswer {
                        id,
                        action: kind.name(),
                        input: reply_name(&reply),
                    });
                }
                self.out.store.remove(&id);
                match &mut self.flow {
                    FlowState::Leave(flow) => flow.on_store(kind, reply, &mut self.out, now),
                    FlowState::Main(flow) => flow.on_store(id, kind, reply, &mut self.out, now),
                }
            }
            Input::Digit { id, .. }
            | Input::Timeout { id }
            | Input::PromptDone { id, .. }
            | Input::Recorded { id, .. } => {
                let answer = self.check_channel_answer(id, &input)?;
                self.out.channel = None;
                if let ChannelAnswer::Recorded {
                    ended_by: RecordEnd::Hangup,
                    ..
                } = answer
                {
                    self.out.hung_up = true;
                }
                match &mut self.flow {
                    FlowState::Leave(flow) => flow.on_channel(answer, &mut self.out, now),
                    FlowState::Main(flow) => flow.on_channel(answer, &mut self.out, now),
                }
            }
        }
        self.settle();
        Ok(())
    }

    fn check_channel_answer(&self, id: ActionId, input: &Input) -> Result<ChannelAnswer, Misuse> {
        if self.out.hung_up {
            return Err(Misuse::AfterHangup);
        }
        let Some((outstanding, expect, _)) = self.out.channel else {
            return Err(Misuse::NotOutstanding { id });
        };
        if outstanding != id {
            return Err(Misuse::NotOutstanding { id });
        }
        let wrong = |input: &'static str| Misuse::WrongAnswer {
            id,
            action: expect.name(),
            input,
        };
        match (input, expect) {
            (Input::PromptDone { interrupted_by, .. }, Expect::Prompt(escape)) => {
                match *interrupted_by {
                    Some(key) if !escape.contains(key) => Err(Misuse::KeyNotEscape { id, key }),
                    by => Ok(ChannelAnswer::Prompt(by)),
                }
            }
            (Input::Digit { key, .. }, Expect::Wait) => Ok(ChannelAnswer::Digit(*key)),
            (Input::Timeout { .. }, Expect::Wait) => Ok(ChannelAnswer::Timeout),
            (
                Input::Recorded {
                    duration, ended_by, ..
                },
                Expect::Record(escape),
            ) => match *ended_by {
                RecordEnd::Dtmf(key) if !escape.contains(key) => {
                    Err(Misuse::KeyNotEscape { id, key })
                }
                ended_by => Ok(ChannelAnswer::Recorded {
                    duration: *duration,
                    ended_by,
                }),
            },
            (Input::PromptDone { .. }, _) => Err(wrong("a prompt-done")),
            (Input::Digit { .. }, _) => Err(wrong("a digit")),
            (Input::Timeout { .. }, _) => Err(wrong("a timeout")),
            (Input::Recorded { .. }, _) => Err(wrong("a recording")),
            (Input::Hangup | Input::StoreReply { .. }, _) => Err(wrong("this input")),
        }
    }

    /// The next action, if any. Drain until `None` after every input.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<Action> {
        self.out.queue.pop_front()
    }

    /// When [`Call::handle_timeout`] must be called, if ever. Every wait for a key is a
    /// [`ChannelAction::WaitDigit`] the channel times; the call owns one deadline only:
    /// VoiceMailMain's pause after a wrong password (`WRONG_PIN_DELAY`, during which
    /// no action is outstanding). A leave-message call always answers `None`.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.flow {
            FlowState::Leave(_) => None,
            FlowState::Main(flow) => flow.deadline(),
        }
    }

    /// The deadline from [`Call::poll_timeout`] has passed (an earlier call changes
    /// nothing). Drain [`Call::poll_action`] afterwards.
    pub fn handle_timeout(&mut self, tick: Tick) {
        self.advance(tick);
        let now = self.now;
        if self.out.finished {
            return;
        }
        match &mut self.flow {
            FlowState::Leave(_) => {}
            FlowState::Main(flow) => flow.on_timer(&mut self.out, now),
        }
        self.settle();
    }

    /// Whether the answer to the outstanding channel action is a digit of a password
    /// (the key that cuts a password prompt short, or a wait's digit while one is typed).
    /// A binding that logs its inputs writes `***` for such an answer: the digits are
    /// never in an action, but each arrives in an [`Input`].
    pub fn expects_secret(&self) -> bool {
        self.out.channel.is_some_and(|(_, _, secret)| secret)
    }

    /// VoiceMailMain's delete marks not yet applied, one entry per folder: what the
    /// [`StoreOp::Expunge`]s at the end of the session will name (empty for a
    /// leave-message call).
    pub fn pending_deletes(&self) -> Vec<Marked> {
        match &self.flow {
            FlowState::Leave(_) => Vec::new(),
            FlowState::Main(flow) => flow.pending_deletes(),
        }
    }

    /// Whether [`Action::Finished`] has been issued (it may still wait in the queue).
    pub fn is_finished(&self) -> bool {
        self.out.finished
    }

    /// Whether the caller has hung up.
    pub fn is_hung_up(&self) -> bool {
        self.out.hung_up
    }

    /// The outstanding channel action, if any.
    pub fn outstanding_channel(&self) -> Option<ActionId> {
        self.out.channel.map(|(id, _, _)| id)
    }

    /// The outstanding store ops, in the order they were issued.
    pub fn outstanding_store(&self) -> impl Iterator<Item = ActionId> + '_ {
        self.out.store.keys().copied()
    }

    fn advance(&mut self, tick: Tick) {
        if tick.mono >= self.now.mono {
            self.now = tick;
        } else {
            self.now.wall = tick.wall;
        }
    }

    /// Passes a leave-message flow's end to the outbox, then finishes if nothing is
    /// outstanding.
    fn settle(&mut self) {
        if let FlowState::Leave(flow) = &mut self.flow
            && let Some((verdict, exit)) = flow.take_end()
        {
            self.out.finish(verdict, exit);
        }
        self.try_finish();
    }

    fn try_finish(&mut self) {
        if self.out.finished || !self.out.store.is_empty() || self.out.channel.is_some() {
            return;
        }
        let Some((verdict, exit)) = self.out.finish.take() else {
            return;
        };
        let vmstatus = match verdict {
            Verdict::Fixed(status) => status,
            Verdict::ByMessage => match &self.flow {
                FlowState::Leave(flow) => Some(flow.message_status()),
                FlowState::Main(_) => None,
            },
        };
        // A hung-up channel cannot move in the dialplan (AGI answers `SET CONTEXT` with 511).
        let exit = exit.filter(|_| !self.out.hung_up);
        self.out.finished = true;
        self.out
            .queue
            .push_back(Action::Finished { vmstatus, exit });
    }
}
