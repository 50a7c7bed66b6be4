//! Parsing a whole voicemail email (mail-parser for MIME, our header-block parser for the fields).

use std::sync::LazyLock;

use mail_parser::{HeaderName, Message, MessageParser, MessagePart, MimeHeaders as _};

use crate::error::ParseError;
use crate::header_block::{Diagnostic, DiagnosticKind, HeaderBlock, HeaderFields};
use crate::model::{AudioPart, Flag, MessageType, Voicemail, is_known_format};
use crate::skeleton::Skeleton;

/// Largest message accepted: Asterisk refuses audio above 128 MiB; base64 adds a third.
pub const MAX_MESSAGE_BYTES: usize = 192 * 1024 * 1024;

/// A parsed voicemail: the model, the raw header fields, and what was odd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedVoicemail {
    /// The voicemail.
    pub voicemail: Voicemail,
    /// The `Subject` (decoded).
    pub subject: Option<String>,
    /// Every header field read.
    pub headers: HeaderFields,
    /// Oddities (header-level and message-level).
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses a voicemail email as Asterisk (any version since 1.4) or a mail client left it.
///
/// Accepts CRLF or LF line ends, lower-cased names, folded and RFC 2047 values, missing
/// `Flag`/`Message-Type`/`Message-ID`, `Caller-channel`, `(null)` ids, the `.` epilogue.
/// Errors only when the bytes are not a usable voicemail; never panics.
pub fn parse(bytes: &[u8]) -> Result<ParsedVoicemail, ParseError> {
    parse_with(bytes, true)
}

/// [`parse`], taking large base64 bodies out before mail-parser runs ([`Skeleton`]) or not:
/// the result is the same, only the time differs.
fn parse_with(bytes: &[u8], use_skeleton: bool) -> Result<ParsedVoicemail, ParseError> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(ParseError::TooLarge {
            len: bytes.len(),
            limit: MAX_MESSAGE_BYTES,
        });
    }
    let block = HeaderBlock::parse(bytes);
    let fields = block.fields;
    let mut diagnostics = block.diagnostics;
    if fields.context.is_none() && fields.extension.is_none() {
        return Err(ParseError::NotAVoicemail);
    }
    let skeleton = if use_skeleton {
        Skeleton::of(bytes)
    } else {
        None
    };
    let audio = match skeleton {
        Some(mut skeleton) => {
            let source = std::mem::take(&mut skeleton.bytes);
            match MessageParser::default().parse(&source[..]) {
                Some(message) if skeleton.confirms(&message) => {
                    audio_parts(&source, &message, Some(&mut skeleton), &mut diagnostics)?
                }
                _ => full_parse_audio(bytes, &mut diagnostics)?,
            }
        }
        None => full_parse_audio(bytes, &mut diagnostics)?,
    };

    Ok(voicemail_of(fields, diagnostics, audio))
}

/// A body part the server decoded (IMAP `BINARY[n]`, RFC 3516): its MIME header as the server
/// sent it (`BODY[n.MIME]`, with the empty line that ends it) and its content. A part the
/// message does not have comes with both empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecodedPart {
    /// The part's MIME header block.
    pub mime: Vec<u8>,
    /// The part's content, its transfer encoding undone.
    pub content: Vec<u8>,
}

/// [`parse`] of a voicemail the server took apart: its header block (`BODY[HEADER]`) and
/// its parts 2 and 3 (the recording and a forward's intro) as the server decoded them, so
/// that no base64 is decoded here (the contents are moved into the result, not copied).
///
/// Gives what [`parse`] gives for the whole message, except the [`DiagnosticKind::ExtraPart`]
/// diagnostics of parts after the third (they are not fetched). `None` when the pieces
/// cannot show that result for sure, and the caller parses the whole message instead: the
/// message is not a `multipart` with a boundary; a part is missing (both empty) while the
/// recording is not there, or has content but no MIME header; or a part is not one base64
/// body of a type mail-parser reads as binary (multipart, text, `message/rfc822` and
/// `message/global` parts are decoded differently, and so are other transfer encodings).
/// Never panics.
pub fn parse_decoded(
    header: &[u8],
    parts: [DecodedPart; 2],
) -> Option<Result<ParsedVoicemail, ParseError>> {
    let total = parts
        .iter()
        .map(|p| p.mime.len() + p.content.len())
        .fold(header.len(), usize::saturating_add);
    if total > MAX_MESSAGE_BYTES {
        return Some(Err(ParseError::TooLarge {
            len: total,
            limit: MAX_MESSAGE_BYTES,
        }));
    }
    let block = HeaderBlock::parse(header);
    let fields = block.fields;
    let mut diagnostics = block.diagnostics;
    if fields.context.is_none() && fields.extension.is_none() {
        return Some(Err(ParseError::NotAVoicemail));
    }
    let root = MIME_FIELDS.parse_headers(header)?;
    let multipart = root.root_part().content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart") && ct.attribute("boundary").is_some()
    });
    if !multipart {
        return None;
    }
    let [recording, intro] = parts;
    let present = |p: &DecodedPart| !(p.mime.is_empty() && p.content.is_empty());
    if !present(&recording) {
        // No second part (parse() says which error) or an odd server: read the whole message.
        return None;
    }
    let mut audio = Vec::with_capacity(2);
    for part in [recording, intro] {
        if !present(&part) {
            continue;
        }
        let headers = MIME_FIELDS.parse_headers(&part.mime[..])?;
        let mime = headers.root_part();
        if !is_base64_binary(mime) {
            return None;
        }
        audio.push(audio_part(
            Some(&part.mime),
            mime,
            part.content,
            &mut diagnostics,
        ));
    }
    Some(Ok(voicemail_of(fields, diagnostics, audio)))
}

/// mail-parser reading only the fields [`parse_decoded`] asks it for (`Content-Type`,
/// `Content-Disposition`, `Content-Transfer-Encoding`) as its default parser reads them, and
/// skipping every other field to its end: a play's message header has some twenty fields
/// (addresses, dates, ids) whose parsing was most of `parse_decoded`'s time.
static MIME_FIELDS: LazyLock<MessageParser> = LazyLock::new(|| {
    MessageParser::new()
        .header_content_type(HeaderName::ContentType)
        .header_content_type(HeaderName::ContentDisposition)
        .header_text(HeaderName::ContentTransferEncoding)
        .default_header_ignore()
});

/// Whether mail-parser reads `part` as a base64 body of binary content (its `contents()` is
/// the decoded bytes, as the server's `BINARY` gives them): a `Content-Type` that is not
/// multipart, text or an encapsulated message, and `Content-Transfer-Encoding: base64`.
fn is_base64_binary(part: &MessagePart<'_>) -> bool {
    let binary = part.content_type().is_some_and(|ct| {
        let ctype = ct.ctype();
        let message = ctype.eq_ignore_ascii_case("message")
            && ct.subtype().is_some_and(|s| {
                s.eq_ignore_ascii_case("rfc822") || s.eq_ignore_ascii_case("global")
            });
        !(ctype.eq_ignore_ascii_case("multipart") || ctype.eq_ignore_ascii_case("text") || message)
    });
    binary
        && part
            .content_transfer_encoding()
            .is_some_and(|e| e.eq_ignore_ascii_case("base64"))
}

/// The model of a voicemail from its header fields and audio parts, with the diagnostics of
/// missing fields and an unknown flag added.
fn voicemail_of(
    fields: HeaderFields,
    mut diagnostics: Vec<Diagnostic>,
    audio: Vec<AudioPart>,
) -> ParsedVoicemail {
    for (present, name) in [
        (fields.context.is_some(), "X-Asterisk-VM-Context"),
        (fields.extension.is_some(), "X-Asterisk-VM-Extension"),
        (fields.duration_secs.is_some(), "X-Asterisk-VM-Duration"),
        (fields.orig_time.is_some(), "X-Asterisk-VM-Orig-time"),
    ] {
        if !present {
            diagnostics.push(Diagnostic {
                line: 0,
                field: name.to_owned(),
                kind: DiagnosticKind::MissingField,
            });
        }
    }
    let flag = Flag::from_header(fields.flag.as_deref().unwrap_or_default());
    if matches!(flag, Flag::Other(_)) {
        diagnostics.push(Diagnostic {
            line: 0,
            field: "X-Asterisk-VM-Flag".to_owned(),
            kind: DiagnosticKind::UnknownFlag,
        });
    }
    let extension = fields.extension.clone().unwrap_or_default();
    let mailbox = fields
        .message_id
        .as_deref()
        .and_then(mailbox_from_message_id)
        .unwrap_or_else(|| extension.clone());
    let voicemail = Voicemail {
        mailbox,
        context: fields.context.clone().unwrap_or_default(),
        extension,
        msgnum: fields.msgnum.unwrap_or(0),
        server_name: fields.server_name.clone().unwrap_or_default(),
        flag,
        priority: fields.priority.unwrap_or(0),
        caller_id_num: fields
            .caller_id_num
            .clone()
            .or_else(|| fields.caller_id.clone())
            .unwrap_or_default(),
        caller_id_name: fields
            .caller_id_name
            .clone()
            .or_else(|| fields.caller_id_name_alt.clone())
            .unwrap_or_default(),
        duration_secs: fields.duration_secs.unwrap_or(0),
        category: fields.category.clone().unwrap_or_default(),
        message_type: fields
            .message_type
            .as_deref()
            .map_or(MessageType::Message, MessageType::from_header),
        orig_date: fields.orig_date.clone().unwrap_or_default(),
        orig_time: fields.orig_time.unwrap_or(0),
        msg_id: fields.msg_id.clone(),
        caller_channel: fields.caller_channel.clone(),
        audio,
    };
    ParsedVoicemail {
        voicemail,
        subject: fields.subject.clone(),
        headers: fields,
        diagnostics,
    }
}

/// mail-parser's reading of the whole message, then its audio parts.
fn full_parse_audio(
    bytes: &[u8],
    diagnostics: &mut Vec<Diagnostic>,
) -> Result<Vec<AudioPart>, ParseError> {
    let message = MessageParser::default()
        .parse(bytes)
        .ok_or(ParseError::NotAMessage)?;
    audio_parts(bytes, &message, None, diagnostics)
}

/// Parts 2 and 3 of `message` (parsed from `source`) as audio; the bodies `skeleton` took out
/// of `source` come from it.
fn audio_parts(
    source: &[u8],
    message: &Message<'_>,
    mut skeleton: Option<&mut Skeleton>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Result<Vec<AudioPart>, ParseError> {
    let root = message.root_part();
    let Some(children) = root.sub_parts() else {
        let content_type = root
            .content_type()
            .map(|ct| format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or_default()))
            .unwrap_or_else(|| "text/plain".to_owned());
        return Err(ParseError::NotMultipart { content_type });
    };
    if children.len() < 2 {
        return Err(ParseError::NoAudio);
    }

    let mut audio = Vec::new();
    for (index, &id) in children.iter().enumerate().skip(1) {
        let part_number = index + 1;
        if part_number > 3 {
            diagnostics.push(Diagnostic {
                line: 0,
                field: String::new(),
                kind: DiagnosticKind::ExtraPart { part: part_number },
            });
            continue;
        }
        let Some(part) = message.part(id) else {
            continue;
        };
        if part.sub_parts().is_some() {
            diagnostics.push(Diagnostic {
                line: 0,
                field: String::new(),
                kind: DiagnosticKind::ExtraPart { part: part_number },
            });
            continue;
        }
        let start = usize::try_from(part.offset_header).unwrap_or(usize::MAX);
        let end = usize::try_from(part.offset_body).unwrap_or(0);
        let bytes = match skeleton
            .as_deref_mut()
            .and_then(|s| s.take_body(part.offset_body))
        {
            Some(decoded) => decoded,
            None => part.contents().to_vec(),
        };
        audio.push(audio_part(source.get(start..end), part, bytes, diagnostics));
    }
    Ok(audio)
}

/// An audio part: its type and file name read from its header (`raw_header`, the bytes
/// mail-parser read `part`'s header from) as Asterisk reads them, and its decoded `bytes`. An
/// unknown format is noted in `diagnostics`.
fn audio_part(
    raw_header: Option<&[u8]>,
    part: &MessagePart<'_>,
    bytes: Vec<u8>,
    diagnostics: &mut Vec<Diagnostic>,
) -> AudioPart {
    // mail-parser lower-cases types; Asterisk's `audio/x-WAV` keeps its case, so read the raw field.
    let raw_type = raw_header
        .and_then(|header| HeaderBlock::parse(header).fields.content_type)
        .map(|value| {
            value
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned()
        })
        .filter(|value| !value.is_empty());
    let content_type = raw_type.unwrap_or_else(|| {
        part.content_type()
            .map(|ct| match ct.subtype() {
                Some(sub) => format!("{}/{sub}", ct.ctype()),
                None => ct.ctype().to_owned(),
            })
            .unwrap_or_default()
    });
    // Asterisk takes the first Content-Type parameter; fall back to the disposition's filename.
    let filename = part
        .content_type()
        .and_then(|ct| {
            ct.attributes()
                .and_then(|attrs| attrs.first())
                .map(|attr| attr.value.to_string())
        })
        .or_else(|| part.attachment_name().map(str::to_owned))
        .unwrap_or_default();
    let format = filename
        .split_once('.')
        .map(|(_, ext)| ext.to_owned())
        .unwrap_or_default();
    if !is_known_format(&format) {
        diagnostics.push(Diagnostic {
            line: 0,
            field: String::new(),
            kind: DiagnosticKind::UnknownFormat {
                filename: filename.clone(),
            },
        });
    }
    AudioPart {
        format,
        filename,
        content_type,
        bytes,
    }
}

/// `<Asterisk-{N}-{rand}-{mailbox}-{pid}@{host}>` → mailbox. The mailbox may contain `-`.
fn mailbox_from_message_id(id: &str) -> Option<String> {
    let inner = id.trim().strip_prefix('<')?.strip_suffix('>')?;
    let (left, _host) = inner.rsplit_once('@')?;
    let rest = left.strip_prefix("Asterisk-")?;
    let (_n, rest) = rest.split_once('-')?;
    let (_rand, rest) = rest.split_once('-')?;
    let (mailbox, pid) = rest.rsplit_once('-')?;
    if mailbox.is_empty() || pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(mailbox.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Envelope, Mode, Settings, build};
    use proptest::prelude::*;

    const BOUNDARY: &str = "----voicemail_b0und4ry";

    fn noise(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i.wrapping_mul(31) as u8) ^ seed.wrapping_mul(7))
            .collect()
    }

    /// A voicemail with `audio_len` bytes of audio and maybe a forward intro, as built.
    fn built(audio_len: usize, intro_len: Option<usize>, exact: bool) -> Vec<u8> {
        let settings = Settings::default();
        let mut audio = vec![AudioPart::recording(1, "wav49", noise(audio_len, 1))];
        if let Some(len) = intro_len {
            audio.push(AudioPart::intro(1, "wav49", noise(len, 2)));
        }
        let vm = Voicemail {
            mailbox: "1234".into(),
            context: "default".into(),
            extension: "1234".into(),
            msgnum: 1,
            duration_secs: 3,
            orig_time: 1_795_674_119,
            audio,
            ..Voicemail::default()
        };
        let envelope = Envelope {
            date: 1_795_674_119,
            message_id: "<Asterisk-1-2-1234-3@vm>".into(),
            boundary: BOUNDARY.into(),
            hostname: "vm".into(),
        };
        let mode = if exact {
            Mode::AsteriskExact
        } else {
            Mode::Default
        };
        build(&vm, &settings, &envelope, mode).expect("a plain model builds")
    }

    fn to_lf(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(bytes.len());
        for (i, &b) in bytes.iter().enumerate() {
            if !(b == b'\r' && bytes.get(i + 1) == Some(&b'\n')) {
                out.push(b);
            }
        }
        out
    }

    #[test]
    fn large_audio_is_decoded_from_the_skeleton() {
        for exact in [true, false] {
            for lf in [false, true] {
                let crlf = built(5000, Some(3000), exact);
                let bytes = if lf { to_lf(&crlf) } else { crlf };
                let skeleton = Skeleton::of(&bytes).expect("two bodies above MIN_BODY");
                assert_eq!(skeleton.decoded.len(), 2, "exact {exact} lf {lf}");
                assert!(skeleton.bytes.len() < 3000);
                let message = MessageParser::default()
                    .parse(&skeleton.bytes[..])
                    .expect("the skeleton is a message");
                assert!(skeleton.confirms(&message), "exact {exact} lf {lf}");
                let parsed = parse(&bytes).expect("a voicemail");
                assert_eq!(parsed.voicemail.audio[0].bytes, noise(5000, 1));
                assert_eq!(parsed.voicemail.audio[1].bytes, noise(3000, 2));
                assert_eq!(Ok(parsed), parse_with(&bytes, false));
            }
        }
    }

    fn edit() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            Just(b"-".to_vec()),
            Just(b"--".to_vec()),
            Just(b" ".to_vec()),
            Just(b"\r".to_vec()),
            Just(b"\n".to_vec()),
            Just(b"=".to_vec()),
            Just(b"==".to_vec()),
            Just(b"AAAA".to_vec()),
            Just(b"\r\n\r\n".to_vec()),
            Just(b"\n\n".to_vec()),
            Just(b"\n--".to_vec()),
            Just(format!("--{BOUNDARY}").into_bytes()),
            Just(format!("\r\n--{BOUNDARY}\r\n").into_bytes()),
            Just(format!("\r\n--{BOUNDARY}--\r\n").into_bytes()),
            Just(format!("\r\n--{BOUNDARY}x\r\n").into_bytes()),
            Just(b"Content-Transfer-Encoding: base64\r\n".to_vec()),
            Just(b"Content-Transfer-Encoding: 7bit\r\n".to_vec()),
            Just(b"Content-Type: text/plain\r\n".to_vec()),
            Just(b"Content-Type: message/rfc822\r\n".to_vec()),
            Just(b"Content-Type: multipart/mixed; boundary=x\r\n".to_vec()),
            Just(b" \r\n".to_vec()),
            any::<u8>().prop_map(|b| vec![b]),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

        /// Taking bodies out changes no result, whatever a mail client or a bad byte did to
        /// the message (edits inside a body make it fall back to mail-parser's full parse).
        #[test]
        fn the_skeleton_changes_no_result(
            audio_len in prop_oneof![1 => 0usize..200, 3 => 1500usize..6000],
            intro_len in proptest::option::of(prop_oneof![1 => 0usize..200, 3 => 1500usize..4000]),
            exact in any::<bool>(),
            lf in any::<bool>(),
            inserts in proptest::collection::vec((any::<usize>(), edit()), 0..4),
            cuts in proptest::collection::vec((any::<usize>(), 1usize..12), 0..2),
        ) {
            let crlf = built(audio_len, intro_len, exact);
            let mut bytes = if lf { to_lf(&crlf) } else { crlf };
            for (at, insert) in inserts {
                let at = at % (bytes.len() + 1);
                bytes.splice(at..at, insert);
            }
            for (at, len) in cuts {
                let at = at % (bytes.len() + 1);
                let end = (at + len).min(bytes.len());
                bytes.drain(at..end);
            }
            prop_assert_eq!(parse_with(&bytes, true), parse_with(&bytes, false));
        }
    }

    #[test]
    fn mailbox_from_ids() {
        assert_eq!(
            mailbox_from_message_id("<Asterisk-1-719206884-1234-27960@vm>").as_deref(),
            Some("1234")
        );
        assert_eq!(
            mailbox_from_message_id("<Asterisk-1-7-a-b-1@vm>").as_deref(),
            Some("a-b")
        );
        assert_eq!(mailbox_from_message_id("<x@y>"), None);
    }

    #[test]
    fn not_a_voicemail() {
        assert_eq!(
            parse(b"Subject: hi\r\n\r\nbody"),
            Err(ParseError::NotAVoicemail)
        );
    }

    #[test]
    fn non_multipart_and_missing_audio_are_errors() {
        let plain =
            b"X-Asterisk-VM-Context: default\r\nX-Asterisk-VM-Extension: 1\r\n\r\nhello\r\n";
        assert!(matches!(parse(plain), Err(ParseError::NotMultipart { .. })));
        let one_part = b"X-Asterisk-VM-Context: default\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b--\r\n";
        assert_eq!(parse(one_part), Err(ParseError::NoAudio));
    }

    proptest! {
        /// The parser of MIME fields reads `Content-Type`, `Content-Disposition` and
        /// `Content-Transfer-Encoding` as mail-parser's default parser does, whatever the
        /// other fields hold (unterminated quotes, comments and angle brackets, folds, 8-bit).
        #[test]
        fn mime_fields_read_as_the_default_parser_reads_them(
            fields in proptest::collection::vec(
                (
                    prop_oneof![
                        Just("From"), Just("To"), Just("Date"), Just("Message-ID"),
                        Just("Subject"), Just("Received"), Just("References"), Just("X-A"),
                        Just("Content-Type"), Just("Content-Disposition"),
                        Just("Content-Transfer-Encoding"), Just("content-type"), Just(""),
                    ],
                    proptest::collection::vec(
                        prop_oneof![
                            Just("a"), Just(" "), Just("\""), Just("("), Just(")"),
                            Just("<"), Just(">"), Just(";"), Just("="), Just("/"),
                            Just("\r\n "), Just("\n\t"), Just("\n"), Just("\\"),
                            Just("=?utf-8?q?x?="), Just("é"), Just(":"), Just(","),
                            Just("multipart/mixed; boundary=\"b\""), Just("base64"),
                            Just("attachment; filename=\"m.wav\""), Just("name*0=x"),
                        ],
                        0..8,
                    ),
                ),
                0..8,
            ),
            lf in any::<bool>(),
        ) {
            let eol: &[u8] = if lf { b"\n" } else { b"\r\n" };
            let mut block = Vec::new();
            for (name, value) in &fields {
                block.extend_from_slice(name.as_bytes());
                block.extend_from_slice(b": ");
                for piece in value {
                    block.extend_from_slice(piece.as_bytes());
                }
                block.extend_from_slice(eol);
            }
            block.extend_from_slice(eol);
            let all = MessageParser::default().parse_headers(&block[..]);
            let mime = MIME_FIELDS.parse_headers(&block[..]);
            prop_assert_eq!(all.is_some(), mime.is_some());
            if let (Some(all), Some(mime)) = (all, mime) {
                let (a, m) = (all.root_part(), mime.root_part());
                prop_assert_eq!(a.content_type(), m.content_type());
                prop_assert_eq!(a.content_disposition(), m.content_disposition());
                prop_assert_eq!(a.content_transfer_encoding(), m.content_transfer_encoding());
                prop_assert_eq!(a.offset_body, m.offset_body);
            }
        }
    }
}
