//! Fuzz target `config`: arbitrary bytes as a voicemail.conf (and as the file it includes).
//! Parsing must never panic or loop, and every diagnostic must point inside the input.
//! Changing a mailbox's PIN must never panic, and when it succeeds the new bytes are the old
//! ones with one range replaced by the PIN (and a blank before it where the line had no
//! value at all).
#![no_main]

use std::path::Path;

use imapvm_config::{MemoryFiles, Secret, change_password_bytes, parse, parse_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parsed = parse_bytes("voicemail.conf", data);
    let lines = data.split(|b| *b == b'\n').count();
    for d in &parsed.diagnostics {
        assert!(
            d.line as usize <= lines,
            "diagnostic outside the input: {d}"
        );
    }
    // The same bytes as a file tree that includes itself: cycles and depth must be caught.
    let files = MemoryFiles::new()
        .with("/etc/asterisk/voicemail.conf", data.to_vec())
        .with("/etc/asterisk/a.conf", data.to_vec());
    let _ = parse(&files, Path::new("/etc/asterisk/voicemail.conf"));
    const PIN: &str = "2468";
    for m in parsed.config.mailboxes.iter().take(8) {
        let _ = parsed.config.settings(&m.id);
        if let Ok(new) = change_password_bytes("voicemail.conf", data, &m.id, &Secret::new(PIN)) {
            let old_pin = m.password.expose().len();
            // `box =>` with no value at all becomes `box => PIN`, as Asterisk writes it: the
            // PIN and one blank.
            let blank = usize::from(old_pin == 0 && new.len() == data.len() + PIN.len() + 1);
            assert_eq!(new.len() + old_pin, data.len() + PIN.len() + blank);
            let prefix = data.iter().zip(&new).take_while(|(a, b)| a == b).count();
            let suffix = data
                .iter()
                .rev()
                .zip(new.iter().rev())
                .take_while(|(a, b)| a == b)
                .count();
            assert!(
                prefix + suffix >= data.len() - old_pin,
                "more than the PIN changed"
            );
        }
    }
    let _ = parsed.config.render();
});
