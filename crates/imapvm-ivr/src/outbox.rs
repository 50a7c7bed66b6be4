//! [`Outbox`]: the bookkeeping every flow shares, below [`crate::Call`] and the flows it
//! composes: action ids, the one outstanding channel action, the outstanding store ops,
//! the hangup, the rule that [`Action::Finished`] comes last, and the check of every
//! answer against what is outstanding ([`Misuse`]). The flows issue actions through it;
//! the call feeds it the inputs and drains it.

use crate::io::{
    Action, ActionId, ChannelAction, Exit, GreetingKind, Input, RecordEnd, StoreOp, StoreReply,
    VmStatus,
};
use crate::prompt::Prompt;
use imapvm_types::{Dtmf, DtmfSet};
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

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
    Prompt(DtmfSet),
    Record(DtmfSet),
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
    Greeting(GreetingKind),
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
    /// The bookkeeping of a call that has issued nothing yet.
    pub(crate) fn new() -> Outbox {
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

    pub(crate) fn play(&mut self, prompts: Vec<Prompt>, escape: DtmfSet) {
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

/// The call's side: inputs checked and taken, actions drained, the end.
impl Outbox {
    /// Whether [`Action::Finished`] has been issued (it may still wait in the queue).
    pub(crate) fn is_finished(&self) -> bool {
        self.finished
    }

    /// The caller hung up: the outstanding channel action, if any, will never be
    /// answered. Returns whether this is news (a repeated hangup is not).
    pub(crate) fn hang_up(&mut self) -> bool {
        if self.hung_up {
            return false;
        }
        self.hung_up = true;
        self.channel = None;
        true
    }

    /// Checks a store reply against the outstanding op `id` and takes it: the op is
    /// answered. A refused reply changes nothing.
    pub(crate) fn take_store_reply(
        &mut self,
        id: ActionId,
        reply: &StoreReply,
    ) -> Result<StoreKind, Misuse> {
        let Some(kind) = self.store.get(&id).copied() else {
            return Err(Misuse::NotOutstanding { id });
        };
        if !kind.answered_by(reply) {
            return Err(Misuse::WrongAnswer {
                id,
                action: kind.name(),
                input: reply_name(reply),
            });
        }
        self.store.remove(&id);
        Ok(kind)
    }

    /// Checks a channel answer (a digit, a timeout, a prompt done, a recording) against
    /// the outstanding channel action `id` and takes it: no channel action is outstanding
    /// afterwards, and a recording that ended with a hangup is the hangup. A refused
    /// answer changes nothing.
    pub(crate) fn take_channel_answer(
        &mut self,
        id: ActionId,
        input: &Input,
    ) -> Result<ChannelAnswer, Misuse> {
        let answer = self.check_channel_answer(id, input)?;
        self.channel = None;
        if let ChannelAnswer::Recorded {
            ended_by: RecordEnd::Hangup,
            ..
        } = answer
        {
            self.hung_up = true;
        }
        Ok(answer)
    }

    fn check_channel_answer(&self, id: ActionId, input: &Input) -> Result<ChannelAnswer, Misuse> {
        if self.hung_up {
            return Err(Misuse::AfterHangup);
        }
        let Some((outstanding, expect, _)) = self.channel else {
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

    /// The next action for the binding, if any.
    pub(crate) fn pop(&mut self) -> Option<Action> {
        self.queue.pop_front()
    }

    /// Whether the answer to the outstanding channel action is a digit of a password.
    pub(crate) fn expects_secret(&self) -> bool {
        self.channel.is_some_and(|(_, _, secret)| secret)
    }

    /// The outstanding channel action, if any.
    pub(crate) fn outstanding_channel(&self) -> Option<ActionId> {
        self.channel.map(|(id, _, _)| id)
    }

    /// The outstanding store ops, in the order they were issued.
    pub(crate) fn outstanding_store(&self) -> impl Iterator<Item = ActionId> + '_ {
        self.store.keys().copied()
    }

    /// Issues [`Action::Finished`] if a flow asked to finish and nothing is outstanding.
    /// `by_message` gives `VMSTATUS` for [`Verdict::ByMessage`].
    pub(crate) fn try_finish(&mut self, by_message: impl FnOnce() -> Option<VmStatus>) {
        if self.finished || !self.store.is_empty() || self.channel.is_some() {
            return;
        }
        let Some((verdict, exit)) = self.finish.take() else {
            return;
        };
        let vmstatus = match verdict {
            Verdict::Fixed(status) => status,
            Verdict::ByMessage => by_message(),
        };
        // A hung-up channel cannot move in the dialplan (AGI answers `SET CONTEXT` with 511).
        let exit = exit.filter(|_| !self.hung_up);
        self.finished = true;
        self.queue.push_back(Action::Finished { vmstatus, exit });
    }
}
