//! The hangup property: every transcript is run again with
//! `Hangup` injected after every step k. The store ops emitted must be the decisions made
//! up to k: a kept recording is deposited exactly once, a discarded one never, a recording
//! whose fate was still open is kept unless it is known to be shorter than `minsecs`; no
//! channel action follows the hangup; `Finished` comes once, last.

use crate::support::{self, Feed, Kind, Reply, Run, Script};
use imapvm_ivr::{Action, ChannelAction, DepositOutcome, RecordEnd, StoreOp, StoreReply, VmStatus};
use std::time::Duration;

/// The fate of the recording as the prefix left it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Take {
    /// No recorder started yet.
    None,
    /// A recorder runs (its length unknown).
    Running,
    /// The last recorder reported this length.
    Ended(Duration),
    /// The last recorder failed.
    Failed,
}

fn is_terminal(action: &Action) -> Option<bool> {
    match action {
        Action::Store {
            op: StoreOp::Deposit(_),
            ..
        } => Some(true),
        Action::Store {
            op: StoreOp::Discard { .. },
            ..
        } => Some(false),
        _ => None,
    }
}

fn hang_up_after(script: &Script, k: usize, mut run: Run, name: &str) {
    // Every recorder started is answered by a `recorded` input, unless it still runs.
    let recorders_started = run
        .actions
        .iter()
        .filter(|a| {
            matches!(
                a,
                Action::Channel {
                    action: ChannelAction::Record(_),
                    ..
                }
            )
        })
        .count();
    let recorded: Vec<(Duration, RecordEnd)> = script
        .feeds()
        .take(k)
        .filter_map(|f| match f {
            Feed::Recorded(d, end) => Some((*d, *end)),
            _ => None,
        })
        .collect();
    let take = match recorded.last() {
        _ if recorders_started > recorded.len() => Take::Running,
        Some((_, RecordEnd::Failed)) => Take::Failed,
        Some((d, _)) => Take::Ended(*d),
        None => Take::None,
    };
    let before = run.actions.len();
    run.hang_up_and_settle(name);
    let Some(Action::Finished { vmstatus, exit }) = run.actions.last() else {
        panic!("{name}: Finished is not last");
    };
    assert_eq!(*exit, None, "{name}: an exit after the hangup");

    // No channel action follows the hangup: the recorders are those started before it.
    let recorders = recorders_started;
    let terminal: Vec<bool> = run.actions.iter().filter_map(is_terminal).collect();
    let expected_len = usize::from(recorders > 0);
    assert_eq!(
        terminal.len(),
        expected_len,
        "{name}: {recorders} recorders but deposits/discards {terminal:?}"
    );
    let decided_before = run.actions[..before]
        .iter()
        .any(|a| is_terminal(a).is_some());
    if !decided_before && recorders > 0 {
        let keep = match take {
            Take::Running => true,
            Take::Ended(d) => d.as_secs() >= u64::from(script.settings.minsecs),
            Take::Failed | Take::None => false,
        };
        assert_eq!(terminal, [keep], "{name}: the open recording ({take:?})");
    }
    // The prefix may have answered the deposit with a failure; the auto-replies never do.
    let deposit_failed = script.feeds().take(k).any(|f| {
        matches!(
            f,
            Feed::Store(_, Reply::Plain(StoreReply::Deposit(DepositOutcome::Failed)))
        )
    });
    let kept = terminal == [true] && !deposit_failed;
    let allowed: &[VmStatus] = if kept {
        &[VmStatus::Success, VmStatus::UserExit]
    } else {
        &[VmStatus::Failed, VmStatus::UserExit]
    };
    assert!(
        vmstatus.is_some_and(|s| allowed.contains(&s)),
        "{name}: VMSTATUS {vmstatus:?} with kept={kept}"
    );
}

#[test]
fn a_hangup_after_any_step_keeps_exactly_what_was_decided() {
    let cases = support::every_hangup(Kind::Leave, hang_up_after);
    assert!(cases > 500, "only {cases} cases");
}
