//! The hangup property for VoiceMailMain: every `main/` transcript is run again with
//! `Hangup` injected after every step k. The store ops after the hangup must be the
//! decisions made up to k and nothing else: the delete marks pending at k as one
//! `Expunge` per folder, exactly those UIDs (none if the exit already issued them), and,
//! when a reply or send was being recorded, that recording's fate (the leave-message
//! rule); never a move, a forward, a greeting, a password or a fetch. No channel action
//! follows the hangup; `Finished` comes once, last, without `VMSTATUS` or an exit.

use crate::support::{self, Kind, Run, Script};
use imapvm_ivr::{Action, ChannelAction, Marked, StoreOp};
use std::collections::BTreeSet;

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

fn hang_up_after(_script: &Script, _k: usize, mut run: Run, name: &str) {
    let before = run.actions.len();
    let pending = run.call.pending_deletes();
    let already = expunges(&run.actions);
    assert!(
        already.is_empty() || pending.is_empty(),
        "{name}: marks pending after the expunges were issued"
    );
    let recording_open = open_message_recording(&run.actions);
    run.hang_up_and_settle(name);
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
    let cases = support::every_hangup(Kind::Main, hang_up_after);
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
