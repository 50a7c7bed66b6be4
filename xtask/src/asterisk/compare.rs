//! What one side of a scenario gave ([`Outcome`]: the prompts played, `VMSTATUS`, the
//! dialplan exit, the box afterwards), read from drive.py's `--json`; and the comparison of
//! the two sides ([`compare`]), with a short diff of the prompt lists ([`diff`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

/// What one side of a scenario gave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The files the voicemail leg played, absolute paths (messages, recordings) as
    /// `<file>` (as drive.py's `--prompts` prints them).
    pub prompts: Vec<String>,
    /// `VMSTATUS` as the `h` extension saw it ("" when unset).
    pub vmstatus: String,
    /// `AGISTATUS` ("" on Asterisk's side).
    pub agistatus: String,
    /// The extension the call left to (`a`, `o`), if any.
    pub exit: Option<String>,
    /// What drive.py flagged (an `@` step that never matched, a timeout).
    pub problems: Vec<String>,
    /// The box afterwards: messages per folder name (only folders with messages).
    pub state: BTreeMap<String, usize>,
}

impl Outcome {
    /// Reads drive.py's `--json` object. `Err` when the call did not run (no JSON, no
    /// `KIT-RESULT` line, an Originate failure): that side could not be compared.
    pub fn from_drive_json(json: &str) -> Result<Outcome, String> {
        let v: Value = serde_json::from_str(json.trim())
            .map_err(|e| format!("drive.py printed no JSON object ({e})"))?;
        let problems: Vec<String> = v["problems"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| p.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(p) = problems.iter().find(|p| p.starts_with("OriginateResponse")) {
            return Err(p.clone());
        }
        let result = v["result"]
            .as_object()
            .filter(|r| !r.is_empty())
            .ok_or_else(|| {
                format!(
                    "the call logged no KIT-RESULT line ({})",
                    problems.join("; ")
                )
            })?;
        let text = |k: &str| {
            result
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let prompts = v["prompts"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).map(normalise).collect())
            .unwrap_or_default();
        let exit = v["events"].as_array().and_then(|events| {
            events
                .iter()
                .filter(|e| e["kind"] == "kit-exit")
                .find_map(|e| e["exten"].as_str().map(str::to_owned))
        });
        Ok(Outcome {
            prompts,
            vmstatus: text("VMSTATUS"),
            agistatus: text("AGISTATUS"),
            exit,
            problems,
            state: BTreeMap::new(),
        })
    }
}

/// A played file as drive.py's `--prompts` prints it: an absolute path is `<file>`.
pub fn normalise(prompt: &str) -> String {
    if prompt.starts_with('/') {
        "<file>".to_owned()
    } else {
        prompt.to_owned()
    }
}

/// One line of a diff of two prompt lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// In both.
    Same(String),
    /// Asterisk's only.
    Asterisk(String),
    /// imapvm's only.
    Imapvm(String),
}

/// The shortest edit from `asterisk` to `imapvm` (longest common subsequence; the lists
/// are tens of prompts, so the quadratic table is fine).
pub fn diff(asterisk: &[String], imapvm: &[String]) -> Vec<Line> {
    let (n, m) = (asterisk.len(), imapvm.len());
    // lcs[i][j]: the LCS length of asterisk[i..] and imapvm[j..].
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if asterisk[i] == imapvm[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(n.max(m));
    while i < n || j < m {
        if i < n && j < m && asterisk[i] == imapvm[j] {
            out.push(Line::Same(asterisk[i].clone()));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push(Line::Asterisk(asterisk[i].clone()));
            i += 1;
        } else {
            out.push(Line::Imapvm(imapvm[j].clone()));
            j += 1;
        }
    }
    out
}

/// The diff as text: changed lines with up to `context` unchanged ones around them, `…`
/// for what is left out; `-` is Asterisk's only, `+` imapvm's only.
pub fn render_diff(lines: &[Line], context: usize, indent: &str) -> String {
    let changed: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| !matches!(l, Line::Same(_)))
        .map(|(i, _)| i)
        .collect();
    let shown = |i: usize| changed.iter().any(|&c| c.abs_diff(i) <= context);
    let mut out = String::new();
    let mut skipped = false;
    for (i, line) in lines.iter().enumerate() {
        if !shown(i) {
            skipped = true;
            continue;
        }
        if skipped {
            let _ = writeln!(out, "{indent}  …");
            skipped = false;
        }
        let _ = match line {
            Line::Same(p) => writeln!(out, "{indent}  {p}"),
            Line::Asterisk(p) => writeln!(out, "{indent}- {p}"),
            Line::Imapvm(p) => writeln!(out, "{indent}+ {p}"),
        };
    }
    if skipped {
        let _ = writeln!(out, "{indent}  …");
    }
    out
}

/// What differs between the two sides: the names of the aspects (`prompts`, `VMSTATUS`,
/// `exit`, `box`); empty when they agree.
pub fn compare(asterisk: &Outcome, imapvm: &Outcome) -> Vec<&'static str> {
    let mut differ = Vec::new();
    if asterisk.prompts != imapvm.prompts {
        differ.push("prompts");
    }
    if asterisk.vmstatus != imapvm.vmstatus {
        differ.push("VMSTATUS");
    }
    if asterisk.exit != imapvm.exit {
        differ.push("exit");
    }
    if asterisk.state != imapvm.state {
        differ.push("box");
    }
    differ
}

/// A box's state as `INBOX=1 Old=2`, `(empty)` when it holds nothing.
pub fn show_state(state: &BTreeMap<String, usize>) -> String {
    if state.is_empty() {
        return "(empty)".to_owned();
    }
    let order = [
        "INBOX", "Old", "Urgent", "Work", "Family", "Friends", "Cust1", "Cust2", "Cust3", "Cust4",
        "Cust5", "Deleted",
    ];
    let rank = |k: &str| order.iter().position(|o| *o == k).unwrap_or(order.len());
    let mut items: Vec<(&String, &usize)> = state.iter().collect();
    items.sort_by_key(|(k, _)| (rank(k), (*k).clone()));
    items
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn absolute_paths_become_file_and_prompt_names_stay() {
        assert_eq!(
            normalise("/tmp/r/var/spool/voicemail/default/1234/INBOX/msg0000"),
            "<file>"
        );
        assert_eq!(normalise("digits/1"), "digits/1");
        assert_eq!(normalise("vm-intro"), "vm-intro");
    }

    #[test]
    fn drive_json_gives_prompts_status_exit_and_problems() {
        let json = r#"{"context": "agi-leave", "prompts": ["vm-theperson", "/tmp/x/rec"],
            "events": [{"t": 0.1, "leg": "vm", "kind": "play", "file": "vm-theperson"},
                       {"t": 0.7, "leg": "vm", "kind": "kit-exit", "uid": "u", "exten": "a"}],
            "result": {"uid": "u", "ctx": "agi-leave", "VMSTATUS": "USEREXIT", "AGISTATUS": "SUCCESS", "HANGUPCAUSE": "16"},
            "spool": {}, "problems": ["@vm-advopts (step @3) never matched"]}"#;
        let o = Outcome::from_drive_json(json).unwrap();
        assert_eq!(o.prompts, list("vm-theperson <file>"));
        assert_eq!(o.vmstatus, "USEREXIT");
        assert_eq!(o.agistatus, "SUCCESS");
        assert_eq!(o.exit.as_deref(), Some("a"));
        assert_eq!(o.problems, ["@vm-advopts (step @3) never matched"]);
    }

    #[test]
    fn a_call_that_did_not_run_is_an_error() {
        assert!(Outcome::from_drive_json("Originate refused: {}").is_err());
        let no_result = r#"{"prompts": [], "events": [], "result": {}, "problems": ["timeout after 90 s: hung up by drive.py"]}"#;
        assert!(
            Outcome::from_drive_json(no_result)
                .unwrap_err()
                .contains("timeout")
        );
        let failed = r#"{"prompts": [], "events": [], "result": {"VMSTATUS": ""}, "problems": ["OriginateResponse Failure: reason 0"]}"#;
        assert!(Outcome::from_drive_json(failed).is_err());
    }

    #[test]
    fn the_diff_keeps_the_common_prompts_and_marks_each_sides_own() {
        let a = list("vm-password vm-youhave digits/1 vm-INBOX <file> vm-advopts vm-goodbye");
        let b = list("vm-password vm-youhave digits/1 vm-INBOX <file>");
        assert_eq!(
            diff(&a, &b)
                .iter()
                .filter(|l| !matches!(l, Line::Same(_)))
                .cloned()
                .collect::<Vec<_>>(),
            [
                Line::Asterisk("vm-advopts".into()),
                Line::Asterisk("vm-goodbye".into())
            ]
        );
        let c = list("beep vm-review vm-msgsaved");
        let d = list("beep auth-thankyou vm-review vm-msgsaved");
        assert_eq!(
            diff(&c, &d),
            [
                Line::Same("beep".into()),
                Line::Imapvm("auth-thankyou".into()),
                Line::Same("vm-review".into()),
                Line::Same("vm-msgsaved".into()),
            ]
        );
        assert!(diff(&a, &a).iter().all(|l| matches!(l, Line::Same(_))));
        assert_eq!(diff(&[], &list("x")), [Line::Imapvm("x".into())]);
    }

    #[test]
    fn the_rendered_diff_shows_changes_with_context_and_elides_the_rest() {
        let a = list("a b c d e f g h");
        let b = list("a b c d X f g h");
        let text = render_diff(&diff(&a, &b), 1, "  ");
        assert_eq!(text, "    …\n    d\n  - e\n  + X\n    f\n    …\n");
        let text = render_diff(&diff(&list("a"), &list("a b")), 2, "");
        assert_eq!(text, "  a\n+ b\n");
    }

    #[test]
    fn sides_agree_only_on_prompts_status_exit_and_box() {
        let mut a = Outcome {
            prompts: list("beep auth-thankyou"),
            vmstatus: "SUCCESS".into(),
            agistatus: String::new(),
            exit: None,
            problems: Vec::new(),
            state: BTreeMap::from([("INBOX".to_owned(), 1)]),
        };
        let mut b = a.clone();
        b.agistatus = "SUCCESS".into();
        b.problems.push("noise".into());
        assert!(
            compare(&a, &b).is_empty(),
            "AGISTATUS and problems are not compared"
        );
        b.state.insert("Old".into(), 1);
        b.exit = Some("a".into());
        assert_eq!(compare(&a, &b), ["exit", "box"]);
        a.vmstatus = "FAILED".into();
        a.prompts.pop();
        assert_eq!(compare(&a, &b), ["prompts", "VMSTATUS", "exit", "box"]);
    }

    #[test]
    fn box_states_print_in_folder_order() {
        let s = BTreeMap::from([
            ("Work".to_owned(), 1),
            ("Old".to_owned(), 2),
            ("INBOX".to_owned(), 3),
        ]);
        assert_eq!(show_state(&s), "INBOX=3 Old=2 Work=1");
        assert_eq!(show_state(&BTreeMap::new()), "(empty)");
    }
}
