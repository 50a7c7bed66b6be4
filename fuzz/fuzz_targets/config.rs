//! Fuzz target `config`: arbitrary bytes as a voicemail.conf (and as the file it includes).
//! Parsing must never panic or loop, and every diagnostic must point inside the input.
#![no_main]

use std::path::Path;

use imapvm_config::{MemoryFiles, parse, parse_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parsed = parse_bytes("voicemail.conf", data);
    let lines = data.split(|b| *b == b'\n').count();
    for d in &parsed.diagnostics {
        assert!(d.line as usize <= lines, "diagnostic outside the input: {d}");
    }
    // The same bytes as a file tree that includes itself: cycles and depth must be caught.
    let files = MemoryFiles::new()
        .with("/etc/asterisk/voicemail.conf", data.to_vec())
        .with("/etc/asterisk/a.conf", data.to_vec());
    let _ = parse(&files, Path::new("/etc/asterisk/voicemail.conf"));
    for m in &parsed.config.mailboxes {
        let _ = parsed.config.settings(&m.id);
    }
    let _ = parsed.config.render();
});
