//! Every file under `tests/transcripts/` runs as written: each `<` line is the next action,
//! each `>` line is accepted, and the call ends with `Finished`.

use crate::support::{self, Run, Script, Step};
use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};

fn check(script: &Script) {
    let path = script.path.display();
    let mut run = Run::new(script);
    let mut pending: VecDeque<String> = run.actions.iter().map(|a| a.to_string()).collect();
    for step in &script.steps {
        match step {
            Step::Expect { line, text } => match pending.pop_front() {
                Some(got) => assert_eq!(&got, text, "{path}:{line}"),
                None => panic!("{path}:{line}: expected `{text}`, but the call issued nothing"),
            },
            Step::Feed { line, feed } => {
                if let Some(extra) = pending.front() {
                    panic!(
                        "{path}:{line}: the call issued `{extra}`, which the transcript does not list"
                    );
                }
                let input = run
                    .input(feed)
                    .unwrap_or_else(|e| panic!("{path}:{line}: {e}"));
                pending = run.feed(input).iter().map(|a| a.to_string()).collect();
            }
        }
    }
    if let Some(extra) = pending.front() {
        panic!("{path}: at the end the call issued `{extra}`, which the transcript does not list");
    }
    assert!(run.finished(), "{path}: the call did not finish");
}

#[test]
fn every_transcript_runs_as_written() {
    let scripts = support::all();
    assert!(scripts.len() >= 70, "only {} transcripts", scripts.len());
    let failed: Vec<String> = scripts
        .iter()
        .filter(|s| catch_unwind(AssertUnwindSafe(|| check(s))).is_err())
        .map(|s| s.path.display().to_string())
        .collect();
    assert!(
        failed.is_empty(),
        "failing transcripts:\n{}",
        failed.join("\n")
    );
}

#[test]
fn a_transcript_that_lists_a_wrong_action_fails() {
    // The harness itself: a changed prompt, a missing action and an extra action are caught.
    let good = support::all()
        .into_iter()
        .find(|s| s.path.ends_with("greeting-none.txt"))
        .unwrap();
    let mut wrong_prompt = good.clone();
    for step in &mut wrong_prompt.steps {
        if let Step::Expect { text, .. } = step
            && text == "play beep"
        {
            *text = "play vm-beep".into();
        }
    }
    let mut missing = good.clone();
    let last_expect = missing
        .steps
        .iter()
        .rposition(|s| matches!(s, Step::Expect { .. }))
        .unwrap();
    missing.steps.remove(last_expect);
    let mut extra = good.clone();
    extra.steps.push(Step::Expect {
        line: 0,
        text: "hangup".into(),
    });
    for bad in [wrong_prompt, missing, extra] {
        assert!(catch_unwind(AssertUnwindSafe(|| check(&bad))).is_err());
    }
    check(&good);
}
