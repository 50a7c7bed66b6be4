//! The hangup property for VoiceMailMain: every `main/` transcript is run again with
//! `Hangup` injected after every step k. The store ops after the hangup must be the
//! decisions made up to k and nothing else: the delete marks pending at k as one
//! `Expunge` per folder, exactly those UIDs (none if the exit already issued them), and,
//! when a reply or send was being recorded, that recording's fate (the leave-message
//! rule); never a move, a forward, a greeting, a password or a fetch. No channel action
//! follows the hangup; `Finished` comes once, last, without `VMSTATUS` or an exit.

use crate::support::{self, Kind, Run, Script, auto_reply};
use imapvm_ivr::{Action, ChannelAction, Input, Marked, StoreOp};
use std::collections::BTreeSet;

fn full_run(script: &Script) -> Vec<Action> {
    let mut run = Run::new(script);
    for feed in script.feeds() {
        run.step(feed).unwrap();
    }
    run.actions
}

fn expunges(actions: &[Action]) -> Vec<Marked> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Store {
                op:
                    StoreOp::Expunge {
                        folder,
                        uid_validity,
                        uids,
                        ..
                    },
                ..
            } => Some(Marked {
                folder: *folder,
                uid_validity: *uid_validity,
                uids: uids.clone(),
            }),
            _ => None,
        })
        .collect()
}

/// Whether a recording of the reply/send flow (`rec-msg`) started and was not yet
/// deposited or discarded.
fn open_message_recording(actions: &[Action]) -> bool {
    let recorded = actions.iter().rposition(|a| {
        matches!(a, Action::Channel { action: ChannelAction::Record(spec), .. } if spec.file.as_str() == "rec-msg")
    });
    let Some(at) = recorded else {
        return false;
    };
    !actions[at..].iter().any(|a| {
        matches!(
            a,
            Action::Store {
                op: StoreOp::Deposit(_) | StoreOp::Discard { .. },
                ..
            }
        )
    })
}

fn hang_up_after(script: &Script, k: usize, full: &[Action]) {
    let name = format!("{} with a hangup after input {k}", script.path.display());
    let mut run = Run::new(script);
    for feed in script.feeds().take(k) {
        run.step(feed).unwrap();
    }
    let before = run.actions.len();
    assert_eq!(
        run.actions,
        full[..before],
        "{name}: the prefix differs from the full run"
    );
    if run.finished() {
        run.feed(Input::Hangup);
        assert_eq!(run.actions.len(), before, "{name}: actions after Finished");
        return;
    }
    let pending = run.call.pending_deletes();
    let already = expunges(&run.actions);
    assert!(
        already.is_empty() || pending.is_empty(),
        "{name}: marks pending after the expunges were issued"
    );
    let recording_open = open_message_recording(&run.actions);
    // `Run` asserts on every poll that no channel action follows the hangup.
    run.feed(Input::Hangup);
    for _ in 0..32 {
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
    assert_eq!(*vmstatus, None, "{name}: VoiceMailMain set VMSTATUS");
    assert_eq!(*exit, None, "{name}: an exit after the hangup");

    let after = &run.actions[before..];
    assert_eq!(
        expunges(after),
        pending,
        "{name}: the expunges after the hangup are not the pending marks"
    );
    let folders: Vec<_> = expunges(&run.actions)
        .into_iter()
        .map(|m| (m.folder, m.uid_validity))
        .collect();
    let distinct: BTreeSet<_> = folders.iter().copied().collect();
    assert_eq!(
        folders.len(),
        distinct.len(),
        "{name}: a folder expunged twice"
    );
    let mut kept = 0;
    for action in after {
        match action {
            Action::Store {
                op: StoreOp::Expunge { .. },
                ..
            }
            | Action::Finished { .. } => {}
            Action::Store {
                op: StoreOp::Deposit(_) | StoreOp::Discard { .. },
                ..
            } => kept += 1,
            other => panic!("{name}: `{other}` after the hangup"),
        }
    }
    assert_eq!(
        kept,
        usize::from(recording_open),
        "{name}: the open reply recording ({recording_open}) was not decided exactly once"
    );
}

#[test]
fn a_hangup_after_any_step_applies_the_marks_and_changes_nothing_else() {
    let mut cases = 0;
    for script in support::all().into_iter().filter(|s| s.kind == Kind::Main) {
        let full = full_run(&script);
        for k in 0..=script.feeds().count() {
            hang_up_after(&script, k, &full);
            cases += 1;
        }
    }
    assert!(cases > 3000, "only {cases} cases");
}

#[test]
fn the_expunges_of_a_finished_session_are_the_marks_pending_before_its_end() {
    // Independent of the hangup: in every transcript that ends, the expunges issued are
    // exactly what `pending_deletes` said just before they were issued.
    let mut checked = 0;
    for script in support::all().into_iter().filter(|s| s.kind == Kind::Main) {
        let mut run = Run::new(&script);
        let mut pending = run.call.pending_deletes();
        for feed in script.feeds() {
            let new = run.step(feed).unwrap();
            let issued = expunges(&new);
            if !issued.is_empty() {
                assert_eq!(issued, pending, "{}", script.path.display());
                checked += 1;
            }
            pending = run.call.pending_deletes();
        }
    }
    assert!(checked >= 15, "only {checked} sessions applied marks");
}
