//! The hangup property (architecture review §6.1): every transcript is run again with
//! `Hangup` injected after every step k. The store ops emitted must be the decisions made
//! up to k: a kept recording is deposited exactly once, a discarded one never, a recording
//! whose fate was still open is kept unless it is known to be shorter than `minsecs`; no
//! channel action follows the hangup; `Finished` comes once, last.

use crate::support::{self, Feed, Kind, Reply, Run, Script, auto_reply};
use imapvm_ivr::{
    Action, ChannelAction, DepositOutcome, Input, RecordEnd, StoreOp, StoreReply, VmStatus,
};
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

pub fn full_run(script: &Script) -> Vec<Action> {
    let mut run = Run::new(script);
    for feed in script.feeds() {
        run.step(feed).unwrap();
    }
    run.actions
}

fn hang_up_after(script: &Script, k: usize, full: &[Action]) {
    let name = format!("{} with a hangup after input {k}", script.path.display());
    let mut run = Run::new(script);
    let mut take = Take::None;
    for feed in script.feeds().take(k) {
        if let Feed::Recorded(d, end) = feed {
            take = if *end == RecordEnd::Failed {
                Take::Failed
            } else {
                Take::Ended(*d)
            };
        }
        for action in run.step(feed).unwrap() {
            if let Action::Channel {
                action: ChannelAction::Record(_),
                ..
            } = action
            {
                take = Take::Running;
            }
        }
    }
    let before = run.actions.len();
    assert_eq!(
        run.actions,
        full[..before],
        "{name}: the prefix differs from the full run"
    );
    if run.finished() {
        // A hangup after the end is accepted and changes nothing.
        run.feed(Input::Hangup);
        assert_eq!(run.actions.len(), before, "{name}: actions after Finished");
        return;
    }
    // `Run` asserts on every poll that no channel action follows the hangup.
    run.feed(Input::Hangup);
    for _ in 0..16 {
        if run.finished() {
            break;
        }
        let (id, op) = run
            .store()
            .first()
            .cloned()
            .unwrap_or_else(|| panic!("{name}: the call waits, but for no store op"));
        run.feed(Input::StoreReply {
            id,
            reply: auto_reply(&op),
        });
    }
    assert!(run.finished(), "{name}: the call did not finish");
    let Some(Action::Finished { vmstatus, exit }) = run.actions.last() else {
        panic!("{name}: Finished is not last");
    };
    assert_eq!(*exit, None, "{name}: an exit after the hangup");

    let recorders = run
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
    let mut cases = 0;
    for script in support::all().into_iter().filter(|s| s.kind == Kind::Leave) {
        let full = full_run(&script);
        for k in 0..=script.feeds().count() {
            hang_up_after(&script, k, &full);
            cases += 1;
        }
    }
    assert!(cases > 500, "only {cases} cases");
}
