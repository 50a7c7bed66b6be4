//! Every file under `tests/transcripts/` runs as written: each `<` line is the next action
//! (or `timer Nms`, a deadline the call armed), each `>` line is accepted, and the call
//! ends with `Finished`.
//!
//! In the files' `#` comments, "reference N.N" is a section of
//! `docs/reference/asterisk-voicemail-ivr.md` and "asterisk-peer" the measurements in
//! `docs/reference/asterisk-peer.md`.

use crate::support::{self, Run, Script, Step};
use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};

fn check(script: &Script) {
    let path = script.path.display();
    let mut run = Run::new(script);
    let mut pending: VecDeque<String> = run.actions.iter().map(|a| a.to_string()).collect();
    pending.extend(run.new_timer());
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
                pending = run
                    .step(feed)
                    .unwrap_or_else(|e| panic!("{path}:{line}: {e}"))
                    .iter()
                    .map(|a| a.to_string())
                    .collect();
                pending.extend(run.new_timer());
            }
        }
    }
    if let Some(extra) = pending.front() {
        panic!("{path}: at the end the call issued `{extra}`, which the transcript does not list");
    }
    assert!(run.finished(), "{path}: the call did not finish");
}

/// `IVR_BLESS=1 cargo test -p imapvm-ivr every_transcript`: rewrites every transcript's
/// `<` lines from what the call does now, keeping the other lines, for review with `git
/// diff` (a transcript is written input first, then blessed and read line by line).
fn bless(script: &Script) -> Result<(), String> {
    let text = std::fs::read_to_string(&script.path).map_err(|e| e.to_string())?;
    let mut run = Run::new(script);
    let mut pending: Vec<String> = run.actions.iter().map(|a| a.to_string()).collect();
    pending.extend(run.new_timer());
    let mut feeds = script.feeds();
    let mut out = Vec::new();
    let mut failed = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("< ") || trimmed.starts_with("# BLESS:") {
            continue;
        }
        if trimmed.starts_with("> ") {
            out.extend(pending.drain(..).map(|a| format!("< {a}")));
            out.push(line.to_owned());
            let feed = feeds.next().ok_or("more feeds than parsed")?;
            match run.step(feed) {
                Ok(actions) => {
                    pending = actions.iter().map(|a| a.to_string()).collect();
                    pending.extend(run.new_timer());
                }
                Err(e) => {
                    // Written as far as it goes, so that the author sees where it stops.
                    out.push(format!("# BLESS: refused: {e}"));
                    failed = Some(format!("{}: `{trimmed}`: {e}", script.path.display()));
                    pending.clear();
                }
            }
        } else {
            out.push(line.to_owned());
        }
    }
    out.extend(pending.drain(..).map(|a| format!("< {a}")));
    let mut new = out.join("\n");
    new.push('\n');
    if new != text {
        std::fs::write(&script.path, new).map_err(|e| e.to_string())?;
    }
    failed.map_or(Ok(()), Err)
}

#[test]
fn every_transcript_runs_as_written() {
    let scripts = support::all();
    if std::env::var_os("IVR_BLESS").is_some() {
        let errors: Vec<String> = scripts.iter().filter_map(|s| bless(s).err()).collect();
        assert!(errors.is_empty(), "{}", errors.join("\n"));
    }
    assert!(scripts.len() >= 70, "only {} transcripts", scripts.len());
    let main = scripts
        .iter()
        .filter(|s| s.kind == support::Kind::Main)
        .count();
    assert!(main >= 100, "only {main} VoiceMailMain transcripts");
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
