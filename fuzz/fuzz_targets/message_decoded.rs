//! Fuzz the voicemail parser of server-decoded pieces (`parse_decoded`, IMAP BINARY): any
//! header, MIME headers and contents give a voicemail, a typed error or a refusal (`None`),
//! never a panic; a voicemail's audio is exactly the contents it was given, in order.
#![no_main]

use imapvm_message::{DecodedPart, parse_decoded};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // Five pieces separated by NUL: header, part 2's MIME header and content, part 3's.
    let mut pieces = data.split(|&b| b == 0).map(<[u8]>::to_vec);
    let mut next = || pieces.next().unwrap_or_default();
    let header = next();
    let parts = [
        DecodedPart {
            mime: next(),
            content: next(),
        },
        DecodedPart {
            mime: next(),
            content: next(),
        },
    ];
    let given: Vec<Vec<u8>> = parts
        .iter()
        .filter(|p| !(p.mime.is_empty() && p.content.is_empty()))
        .map(|p| p.content.clone())
        .collect();
    if let Some(Ok(parsed)) = parse_decoded(&header, parts) {
        let audio: Vec<Vec<u8>> = parsed.voicemail.audio.into_iter().map(|a| a.bytes).collect();
        assert_eq!(audio, given);
    }
});
