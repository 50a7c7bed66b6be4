//! [`Call`]: one call's state machine. It composes the flows ([`LeaveFlow`], [`MainFlow`])
//! with the bookkeeping they share ([`Outbox`]): inputs are checked there, handed to the
//! flow, and the actions the flow issued are drained from there.

use crate::io::{Action, ActionId, Input, Tick};
use crate::leave::{Leave, LeaveFlow};
use crate::listing::Marked;
use crate::outbox::{Misuse, Outbox};
use crate::retrieve::{Main, MainFlow};
use crate::settings::Settings;
use std::time::Instant;

/// Which call flow to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flow {
    /// `VoiceMail()`: leave a message.
    Leave(Leave),
    /// `VoiceMailMain()`: log in and listen to messages.
    Main(Main),
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
        if self.out.is_finished() {
            return match input {
                Input::Hangup => Ok(()),
                _ => Err(Misuse::Finished),
            };
        }
        self.advance(tick);
        let now = self.now;
        match input {
            Input::Hangup => {
                if self.out.hang_up() {
                    match &mut self.flow {
                        FlowState::Leave(flow) => flow.on_hangup(&mut self.out, now),
                        FlowState::Main(flow) => flow.on_hangup(&mut self.out, now),
                    }
                }
            }
            Input::StoreReply { id, reply } => {
                let kind = self.out.take_store_reply(id, &reply)?;
                match &mut self.flow {
                    FlowState::Leave(flow) => flow.on_store(kind, reply, &mut self.out, now),
                    FlowState::Main(flow) => flow.on_store(id, kind, reply, &mut self.out, now),
                }
            }
            Input::Digit { id, .. }
            | Input::Timeout { id }
            | Input::PromptDone { id, .. }
            | Input::Recorded { id, .. } => {
                let answer = self.out.take_channel_answer(id, &input)?;
                match &mut self.flow {
                    FlowState::Leave(flow) => flow.on_channel(answer, &mut self.out, now),
                    FlowState::Main(flow) => flow.on_channel(answer, &mut self.out, now),
                }
            }
        }
        self.settle();
        Ok(())
    }

    /// The next action, if any. Drain until `None` after every input.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<Action> {
        self.out.pop()
    }

    /// When [`Call::handle_timeout`] must be called, if ever. Every wait for a key is a
    /// [`ChannelAction::WaitDigit`](crate::ChannelAction::WaitDigit) the channel times; the call owns one deadline only:
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
        if self.out.is_finished() {
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
    /// never in an action, but each arrives in an [`Input`] [INV-6].
    pub fn expects_secret(&self) -> bool {
        self.out.expects_secret()
    }

    /// VoiceMailMain's delete marks not yet applied, one entry per folder: what the
    /// [`StoreOp::Expunge`](crate::StoreOp::Expunge)s at the end of the session will name (empty for a
    /// leave-message call).
    pub fn pending_deletes(&self) -> Vec<Marked> {
        match &self.flow {
            FlowState::Leave(_) => Vec::new(),
            FlowState::Main(flow) => flow.pending_deletes(),
        }
    }

    /// Whether [`Action::Finished`] has been issued (it may still wait in the queue).
    pub fn is_finished(&self) -> bool {
        self.out.is_finished()
    }

    /// Whether the caller has hung up.
    pub fn is_hung_up(&self) -> bool {
        self.out.hung_up()
    }

    /// The outstanding channel action, if any.
    pub fn outstanding_channel(&self) -> Option<ActionId> {
        self.out.outstanding_channel()
    }

    /// The outstanding store ops, in the order they were issued.
    pub fn outstanding_store(&self) -> impl Iterator<Item = ActionId> + '_ {
        self.out.outstanding_store()
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
        let flow = &self.flow;
        self.out.try_finish(|| match flow {
            FlowState::Leave(flow) => Some(flow.message_status()),
            FlowState::Main(_) => None,
        });
    }
}
