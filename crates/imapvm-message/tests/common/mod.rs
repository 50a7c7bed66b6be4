//! Helpers shared by the integration tests: fixtures, line-end variants, golden JSON.

use std::path::PathBuf;

use imapvm_message::ParsedVoicemail;
use serde_json::{Value, json};

pub fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests")
}

pub fn read_fixture(relative: &str) -> Vec<u8> {
    let path = fixture_dir().join(relative);
    std::fs::read(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// CRLF → LF (what a maildir copy of the same message holds).
pub fn to_lf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// LF → CRLF (bare LFs only).
pub fn to_crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 40);
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' && (i == 0 || bytes[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

/// The JSON the golden files hold (same fields as `imapvm message inspect --json`).
pub fn parsed_json(parsed: &ParsedVoicemail) -> Value {
    let vm = &parsed.voicemail;
    json!({
        "mailbox": vm.mailbox,
        "context": vm.context,
        "extension": vm.extension,
        "msgnum": vm.msgnum,
        "flag": vm.flag.as_str(),
        "urgent": vm.is_urgent(),
        "priority": vm.priority,
        "caller_id_num": vm.caller_id_num,
        "caller_id_name": vm.caller_id_name,
        "duration_secs": vm.duration_secs,
        "category": vm.category,
        "message_type": vm.message_type.as_str(),
        "orig_date": vm.orig_date,
        "orig_time": vm.orig_time,
        "msg_id": vm.msg_id,
        "caller_channel": vm.caller_channel,
        "server_name": vm.server_name,
        "subject": parsed.subject,
        "audio": vm.audio.iter().map(|part| json!({
            "filename": part.filename,
            "format": part.format,
            "content_type": part.content_type,
            "size": part.bytes.len(),
            "sha256": part.sha256_hex(),
        })).collect::<Vec<_>>(),
        "diagnostics": parsed.diagnostics.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })
}

/// Compares with `tests/golden/{name}.json`; on a mismatch writes `{name}.json.new` beside it for review.
pub fn check_golden(name: &str, actual: &Value) {
    let path = fixture_dir().join("golden").join(format!("{name}.json"));
    let rendered = serde_json::to_string_pretty(actual).unwrap() + "\n";
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    if expected != rendered {
        let new_path = path.with_extension("json.new");
        std::fs::write(&new_path, &rendered).unwrap();
        panic!(
            "golden mismatch for {name}: review {} and rename it to {}",
            new_path.display(),
            path.display()
        );
    }
}
