//! MWI change detection (publish only real changes, keep the last good state on errors) and externnotify arguments.
//!
//! [`MwiTracker`] keeps [INV-5]: a failed recount is never published, the
//! last good state stays.
//!
//! Reference: `docs/reference/asterisk-imap-behaviour.md` §4.11 (Asterisk
//! re-publishes every poll while urgent messages exist, because it caches
//! `new+urgent` with urgent 0), `docs/reference/asterisk-observed.md` §5.2.

use crate::count::{MwiCounts, MwiState};
use imapvm_types::MailboxId;

/// The outcome of one recount, as the runtime saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recount {
    /// Counting worked.
    Counted(MwiCounts),
    /// Counting failed (connection lost, server error, timeout).
    Failed,
}

/// What to do after a recount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MwiDecision {
    /// The state changed (or is known for the first time): publish it.
    Publish(MwiCounts),
    /// Same as what was last published: publish nothing.
    Unchanged,
    /// Counting failed: keep showing the last good state (or nothing, if
    /// none is known), emit an error event, and never publish a 0 or −1.
    KeepLastGood(MwiState),
}

/// The pure decision: `previous` is what was last published.
///
/// Every field counts as a change, urgent included (moving a message from
/// urgent to new is published, §5.2 last row), but an unchanged state is
/// never re-published (Asterisk re-publishes every poll while urgent
/// messages exist, §4.11).
pub const fn decide(previous: MwiState, recount: Recount) -> MwiDecision {
    match (previous, recount) {
        (previous, Recount::Failed) => MwiDecision::KeepLastGood(previous),
        (MwiState::Unknown, Recount::Counted(now)) => MwiDecision::Publish(now),
        (MwiState::Known(before), Recount::Counted(now)) => {
            if before.new == now.new
                && before.urgent == now.urgent
                && before.old == now.old
                && before.old_urgent == now.old_urgent
            {
                MwiDecision::Unchanged
            } else {
                MwiDecision::Publish(now)
            }
        }
    }
}

/// The per-box MWI memory: last published state plus the decision rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MwiTracker {
    published: MwiState,
}

impl Default for MwiTracker {
    fn default() -> MwiTracker {
        MwiTracker::new()
    }
}

impl MwiTracker {
    /// Nothing published yet.
    pub const fn new() -> MwiTracker {
        MwiTracker {
            published: MwiState::Unknown,
        }
    }

    /// The state last published (the last good state).
    pub const fn state(&self) -> MwiState {
        self.published
    }

    /// Decides, and remembers a published state.
    pub fn observe(&mut self, recount: Recount) -> MwiDecision {
        let decision = decide(self.published, recount);
        if let MwiDecision::Publish(counts) = decision {
            self.published = MwiState::Known(counts);
        }
        decision
    }
}

/// The arguments Asterisk passes to `externnotify` (§4.11):
/// `{context} {mailbox} {new} {old} {urgent}`, `new` excluding urgent.
///
/// Asterisk's poller passes `""` as context and `box@context` as mailbox;
/// that quirk is [`externnotify_args_from_poller`].
pub fn externnotify_args(id: &MailboxId, counts: MwiCounts) -> [String; 5] {
    [
        id.context().to_owned(),
        id.mailbox().to_owned(),
        counts.new.to_string(),
        counts.old.to_string(),
        counts.urgent.to_string(),
    ]
}

/// The poller's variant of [`externnotify_args`]: an empty context
/// argument (Asterisk writes `""` into the shell command line, which the
/// shell turns into an empty argument) and mailbox `box@context`.
pub fn externnotify_args_from_poller(id: &MailboxId, counts: MwiCounts) -> [String; 5] {
    [
        String::new(),
        id.to_string(),
        counts.new.to_string(),
        counts.old.to_string(),
        counts.urgent.to_string(),
    ]
}
