//! Fuzz the full voicemail parser: any bytes give a voicemail or a typed error, never a panic,
//! and rebuilding a parsed voicemail (default mode) gives bytes or a typed error, never a panic.
#![no_main]

use imapvm_message::{Envelope, Mode, Settings, build, parse};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(parsed) = parse(data) else { return };
    let vm = parsed.voicemail;
    let envelope = Envelope {
        date: 0,
        message_id: "<fuzz@example.invalid>".to_owned(),
        boundary: "fuzz-boundary".to_owned(),
        hostname: "example.invalid".to_owned(),
    };
    // Values a mail client wrote may be refused by the builder (control characters); that is a
    // typed error, not a panic.
    let _ = build(&vm, &Settings::default(), &envelope, Mode::Default);
});
