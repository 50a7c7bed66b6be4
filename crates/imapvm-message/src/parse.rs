//! Parsing a whole voicemail email (mail-parser for MIME, our header-block parser for the fields).

use mail_parser::{MessageParser, MimeHeaders as _};

use crate::error::ParseError;
use crate::header_block::{Diagnostic, DiagnosticKind, HeaderBlock, HeaderFields};
use crate::model::{AudioPart, Flag, MessageType, Voicemail, is_known_format};

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
    let message = MessageParser::default()
        .parse(bytes)
        .ok_or(ParseError::NotAMessage)?;
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
        // mail-parser lower-cases types; Asterisk's `audio/x-WAV` keeps its case, so read the raw field.
        let start = usize::try_from(part.offset_header).unwrap_or(usize::MAX);
        let end = usize::try_from(part.offset_body).unwrap_or(0);
        let raw_type = bytes
            .get(start..end)
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
        audio.push(AudioPart {
            format,
            filename,
            content_type,
            bytes: part.contents().to_vec(),
        });
    }

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
    Ok(ParsedVoicemail {
        voicemail,
        subject: fields.subject.clone(),
        headers: fields,
        diagnostics,
    })
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
}
