//! Fuzz the decoding of server-sent mailbox names (modified UTF-7, hierarchy split, folder lookup): never panic, and decode is canonical (decode then encode gives the input back).
#![no_main]

use imapvm_policy::{FolderLayout, Hierarchy, MailboxName, mutf7};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(wire) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(text) = mutf7::decode(wire) {
        assert_eq!(mutf7::encode(&text), wire, "non-canonical name accepted");
    }
    let Ok(name) = MailboxName::from_wire(wire) else {
        return;
    };
    let _ = imapvm_policy::folder::decoded(&name);
    for (prefix, delimiter) in [("", Some('/')), ("INBOX.", Some('.')), ("INBOX/", Some('/')), ("", None)] {
        let Ok(h) = Hierarchy::new(prefix, delimiter) else {
            continue;
        };
        if let Ok(levels) = h.split(&name)
            && let Ok(again) = h.join("imapfolder", &levels)
        {
            // join ∘ split is idempotent on every name it accepts.
            let relevels = h.split(&again).expect("a joined name splits");
            assert_eq!(h.join("imapfolder", &relevels).ok(), Some(again));
        }
        if let Ok(layout) = FolderLayout::new("INBOX", Some("Voicemail"), None, "INBOX", h) {
            let _ = layout.folders_in(&name);
        }
    }
});
