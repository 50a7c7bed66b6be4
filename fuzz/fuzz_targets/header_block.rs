//! Fuzz the voicemail header-block parser: it must never panic, stay within its bounds, and a
//! re-rendered header block must parse to the same fields.
#![no_main]

use imapvm_message::HeaderBlock;
use imapvm_message::header_block::{MAX_DIAGNOSTICS, MAX_VALUE};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let first = HeaderBlock::parse(data);
    assert!(first.consumed <= data.len());
    assert!(first.diagnostics.len() <= MAX_DIAGNOSTICS + 1);
    for value in [&first.fields.subject, &first.fields.caller_id_name, &first.fields.context].into_iter().flatten() {
        assert!(value.len() <= MAX_VALUE);
    }
    let rendered = first.fields.render();
    let second = HeaderBlock::parse(&rendered);
    assert_eq!(first.fields, second.fields, "render/parse round trip changed the fields");
    assert!(second.diagnostics.is_empty(), "a rendered block parsed with diagnostics: {:?}", second.diagnostics);
});
