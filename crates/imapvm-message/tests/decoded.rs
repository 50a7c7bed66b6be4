//! [`parse_decoded`]: the pieces an IMAP server with `BINARY` sends (header, the parts' MIME
//! headers, their decoded contents) give what [`parse`] gives for the whole message, or
//! `None` when they cannot (the caller then parses the whole message).

use imapvm_message::{DecodedPart, DiagnosticKind, ParseError, parse, parse_decoded};
use mail_parser::MessageParser;

use crate::common::{read_fixture, to_lf};

const FILES: [&str; 8] = [
    "corpus/01-basic.eml",
    "corpus/04-urgent.eml",
    "corpus/09-custom-folder-tz-europe.eml",
    "corpus/10-shared-account-2001.eml",
    "corpus/20-greeting-unavail.eml",
    "clients/asterisk-1.4-lf.eml",
    "clients/asterisk-1.8.eml",
    "clients/exchange-lowercased-lf.eml",
];

/// What a server sends for `BODY[HEADER]`, `BODY[n.MIME]` and `BINARY[n]` (n = 2, 3), cut
/// out of `bytes` with mail-parser's offsets (a missing part: both empty, as Dovecot sends).
fn server_pieces(bytes: &[u8]) -> (Vec<u8>, [DecodedPart; 2]) {
    let message = MessageParser::default().parse(bytes).unwrap();
    let root = message.root_part();
    let header = bytes[..root.offset_body as usize].to_vec();
    let children = root.sub_parts().map(<[u32]>::to_vec).unwrap_or_default();
    let part = |n: usize| {
        children
            .get(n - 1)
            .and_then(|&id| message.part(id))
            .map(|p| DecodedPart {
                mime: bytes[p.offset_header as usize..p.offset_body as usize].to_vec(),
                content: p.contents().to_vec(),
            })
            .unwrap_or_default()
    };
    (header, [part(2), part(3)])
}

#[test]
fn every_fixture_parses_as_the_whole_message_does() {
    for name in FILES {
        let crlf = read_fixture(&format!("fixtures/{name}"));
        for bytes in [crlf.clone(), to_lf(&crlf)] {
            let whole = parse(&bytes).unwrap();
            let (header, parts) = server_pieces(&bytes);
            let decoded = parse_decoded(&header, parts)
                .unwrap_or_else(|| panic!("{name}: the pieces were refused"))
                .unwrap();
            assert_eq!(decoded, whole, "{name}");
            assert!(!decoded.voicemail.audio.is_empty(), "{name}");
        }
    }
}

/// The message of `build` with a recording and an intro, and one with a fourth part.
#[test]
fn an_intro_is_read_and_extra_parts_are_only_not_diagnosed() {
    let mut file = read_fixture("fixtures/corpus/01-basic.eml");
    let text = String::from_utf8(file.clone()).unwrap();
    let boundary = text
        .split("boundary=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_owned();
    let end = format!("--{boundary}--");
    let at = text.find(&end).unwrap();
    let extra = format!(
        "--{boundary}\r\nContent-Type: audio/x-WAV; name=\"msg0001.WAV\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\nUklGRg==\r\n\r\n\
--{boundary}\r\nContent-Type: text/plain\r\n\r\nfourth\r\n\r\n"
    );
    file.splice(at..at, extra.into_bytes());
    let whole = parse(&file).unwrap();
    assert_eq!(whole.voicemail.audio.len(), 2);
    assert_eq!(whole.voicemail.audio[1].bytes, b"RIFF");
    let (header, parts) = server_pieces(&file);
    let decoded = parse_decoded(&header, parts).unwrap().unwrap();
    let mut expected = whole;
    expected
        .diagnostics
        .retain(|d| !matches!(d.kind, DiagnosticKind::ExtraPart { .. }));
    assert_eq!(decoded, expected);
}

fn part(mime: &str, content: &[u8]) -> DecodedPart {
    DecodedPart {
        mime: mime.as_bytes().to_vec(),
        content: content.to_vec(),
    }
}

const HEADER: &str = "X-Asterisk-VM-Context: default\r\nX-Asterisk-VM-Extension: 1234\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n";
const AUDIO: &str = "Content-Type: audio/x-WAV; name=\"msg0000.WAV\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\n";

#[test]
fn pieces_that_cannot_show_the_result_are_refused() {
    let none = DecodedPart::default;
    let cases: Vec<(&str, String, [DecodedPart; 2])> = vec![
        (
            "not multipart",
            HEADER.replace("multipart/mixed; boundary=\"b\"", "audio/wav"),
            [part(AUDIO, b"x"), none()],
        ),
        (
            "no boundary",
            HEADER.replace("; boundary=\"b\"", ""),
            [part(AUDIO, b"x"), none()],
        ),
        ("no recording", HEADER.to_owned(), [none(), none()]),
        (
            "an intro without a recording",
            HEADER.to_owned(),
            [none(), part(AUDIO, b"x")],
        ),
        (
            "content without a MIME header",
            HEADER.to_owned(),
            [part("", b"x"), none()],
        ),
        (
            "a text part",
            HEADER.to_owned(),
            [
                part(
                    "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n",
                    b"x",
                ),
                none(),
            ],
        ),
        (
            "no Content-Type (text/plain)",
            HEADER.to_owned(),
            [
                part("Content-Transfer-Encoding: base64\r\n\r\n", b"x"),
                none(),
            ],
        ),
        (
            "quoted-printable",
            HEADER.to_owned(),
            [
                part(&AUDIO.replace("base64", "quoted-printable"), b"x"),
                none(),
            ],
        ),
        (
            "an encapsulated message",
            HEADER.to_owned(),
            [
                part(&AUDIO.replace("audio/x-WAV", "message/rfc822"), b"x"),
                none(),
            ],
        ),
        (
            "a nested multipart intro",
            HEADER.to_owned(),
            [
                part(AUDIO, b"x"),
                part(
                    "Content-Type: multipart/mixed; boundary=\"c\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\n",
                    b"",
                ),
            ],
        ),
    ];
    for (what, header, parts) in cases {
        assert_eq!(parse_decoded(header.as_bytes(), parts), None, "{what}");
    }
}

#[test]
fn a_recording_and_an_intro_are_taken_as_sent() {
    let intro = AUDIO.replace("msg0000", "msg0001");
    let parsed = parse_decoded(
        HEADER.as_bytes(),
        [part(AUDIO, b"RIFF\0one"), part(&intro, b"RIFF\0two")],
    )
    .unwrap()
    .unwrap();
    let audio = &parsed.voicemail.audio;
    assert_eq!(audio.len(), 2);
    assert_eq!(audio[0].bytes, b"RIFF\0one");
    assert_eq!(audio[0].content_type, "audio/x-WAV");
    assert_eq!(audio[0].filename, "msg0000.WAV");
    assert_eq!(audio[0].format, "WAV");
    assert_eq!(audio[1].bytes, b"RIFF\0two");
    assert_eq!(parsed.voicemail.extension, "1234");
}

#[test]
fn errors_of_the_whole_message_are_kept() {
    assert_eq!(
        parse_decoded(
            b"Subject: hi\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n",
            [part(AUDIO, b"x"), DecodedPart::default()]
        ),
        Some(Err(ParseError::NotAVoicemail))
    );
    assert_eq!(
        parse_decoded(b"", [DecodedPart::default(), DecodedPart::default()]),
        Some(Err(ParseError::NotAVoicemail))
    );
}
