//! The script format: imapvm-proto's `C:`/`S:` lines, plus raw bytes, line
//! prefixes, close, stall and sleep; malformed lines are errors with their
//! line number.

use std::time::Duration;

use imapvm_testkit::{LineEnding, Script, Step};

#[test]
fn lines_of_one_side_merge_and_get_the_line_ending() {
    let script = Script::parse(
        "
        S: * OK [CAPABILITY IMAP4rev1] hi
        C: a1 LOGIN u p
        C: a2 SELECT INBOX
        # the answers come together
        S: a1 OK
        S: a2 OK
        EOF",
    )
    .expect("script");
    let steps: Vec<&Step> = script.steps().iter().map(|(_, s)| s).collect();
    assert_eq!(
        steps,
        [
            &Step::Send(b"* OK [CAPABILITY IMAP4rev1] hi\r\n".to_vec()),
            &Step::Expect(b"a1 LOGIN u p\r\na2 SELECT INBOX\r\n".to_vec()),
            &Step::Send(b"a1 OK\r\na2 OK\r\n".to_vec()),
            &Step::Close,
        ]
    );
    let lines: Vec<usize> = script.steps().iter().map(|(line, _)| *line).collect();
    assert_eq!(lines, [2, 3, 6, 8]);
}

#[test]
fn raw_bytes_prefixes_stall_and_sleep() {
    let script = Script::parse_with(
        "S| 200 result=0\\n* 3 EXI\nC| \\x00\\xff\\\\\\r\\t\nC~ a1 APPEND\nS:\nsleep 250\nstall\nclose",
        LineEnding::Lf,
    )
    .expect("script");
    let steps: Vec<Step> = script.steps().iter().map(|(_, s)| s.clone()).collect();
    assert_eq!(
        steps,
        [
            Step::Send(b"200 result=0\n* 3 EXI".to_vec()),
            Step::Expect(vec![0, 0xff, b'\\', b'\r', b'\t']),
            Step::ExpectLineStarting(b"a1 APPEND".to_vec()),
            Step::Send(b"\n".to_vec()),
            Step::Sleep(Duration::from_millis(250)),
            Step::Stall,
            Step::Close,
        ]
    );
}

#[test]
fn coalescing_merges_sends_across_other_steps_only_when_adjacent() {
    let script = Script::parse("S: a\nS| b\nC: x\nS: c").expect("script");
    assert_eq!(script.steps().len(), 3, "S: and S| lines merge already");
    let coalesced = Script::parse("S: a\nsleep 1\nS: b")
        .expect("script")
        .coalesced();
    assert_eq!(coalesced.steps().len(), 3, "a sleep keeps them apart");
}

#[test]
fn a_malformed_line_is_an_error_naming_it() {
    for (text, line, reason) in [
        ("S: ok\nX: what", 2, "expected `S:`"),
        ("S:no space", 1, "expected `S:`"),
        ("sleep soon", 1, "whole milliseconds"),
        ("\n\nS| \\q", 3, "unknown escape"),
        ("C| \\x4", 1, "two hex digits"),
    ] {
        let err = Script::parse(text).expect_err(text);
        assert_eq!(err.line, line, "{text}");
        assert!(err.to_string().contains(reason), "{text}: {err}");
    }
}
