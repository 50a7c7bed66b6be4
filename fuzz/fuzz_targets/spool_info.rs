//! Fuzz the `msgNNNN.txt` reader (Asterisk's file-storage message information file): it must
//! never panic, stay within its bounds, and render → parse must give the same entries; the
//! `X-Imapvm-Spool-Info` header must carry them unchanged, and reading that header from any
//! bytes must not panic.
#![no_main]

use imapvm_message::spool_info::{MAX_ENTRIES, MAX_INFO_BYTES, MAX_VALUE_BYTES, MessageInfo};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = MessageInfo::from_header_block(data);
    let Ok(first) = MessageInfo::parse(data) else {
        return;
    };
    assert!(first.info.entries().len() <= MAX_ENTRIES);
    for (k, v) in first.info.entries() {
        assert!(k.len() <= MAX_VALUE_BYTES && v.len() <= MAX_VALUE_BYTES);
    }
    let rendered = first.info.render();
    if rendered.len() <= MAX_INFO_BYTES {
        let second = MessageInfo::parse(&rendered).expect("a rendered file parses");
        assert_eq!(first.info, second.info, "render/parse changed the entries");
        assert!(second.diagnostics.is_empty(), "{:?}", second.diagnostics);
    }
    let mut message = b"Subject: x\r\n\r\nbody".to_vec();
    if first.info.insert_into(&mut message) {
        assert_eq!(MessageInfo::from_header_block(&message).as_ref(), Some(&first.info));
    }
});
