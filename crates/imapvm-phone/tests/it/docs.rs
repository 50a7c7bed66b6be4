//! `docs/phone.md`'s prompt table is the call flows' own list (`imapvm_ivr::Prompt::ALL`):
//! a prompt added, renamed or removed in the flows fails this test until the table follows
//! (`IMAPVM_BLESS=1` rewrites it).

use imapvm_ivr::Prompt;

const BEGIN: &str = "<!-- prompts:begin -->";
const END: &str = "<!-- prompts:end -->";

fn table() -> String {
    let mut out = String::from("\n\n| prompt | played |\n|---|---|\n");
    for p in Prompt::ALL {
        let when = p.when_played().replace('\n', " ").replace('|', "\\|");
        out.push_str(&format!("| `{}` | {} |\n", p.as_str(), when));
    }
    out.push('\n');
    out
}

#[test]
fn the_prompt_table_is_the_flows_list() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/phone.md");
    let doc = std::fs::read_to_string(path).unwrap();
    let start = doc.find(BEGIN).expect("the begin marker") + BEGIN.len();
    let end = doc.find(END).expect("the end marker");
    let want = table();
    if doc[start..end] != want {
        if std::env::var_os("IMAPVM_BLESS").is_some() {
            std::fs::write(path, format!("{}{want}{}", &doc[..start], &doc[end..])).unwrap();
        } else {
            panic!(
                "docs/phone.md's prompt table is not the flows' list; run IMAPVM_BLESS=1 cargo test -p imapvm-phone --test it docs\n{want}"
            );
        }
    }
    for p in Prompt::ALL {
        assert!(!p.as_str().is_empty());
    }
}
