//! Building a voicemail email: Asterisk's skeleton (`make_email_file` + `add_email_attachment`),
//! byte for byte in [`Mode::AsteriskExact`], quirks fixed in [`Mode::Default`].
//!
//! Deterministic [INV-8]: Date, Message-ID, boundary, msg id and host name are inputs (the
//! [`crate::Envelope`] and the [`crate::Voicemail`]), so the same inputs give the same bytes.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mail_builder::headers::Header as _;
use mail_builder::headers::address::Address;
use mail_builder::headers::text::Text;

use crate::datetime::RFC_DATE_FORMAT;
use crate::error::BuildError;
use crate::model::{AudioPart, MessageType, Voicemail, mime_type_for};
use crate::rfc2047::{asterisk_encode, asterisk_needs_encoding};
use crate::settings::{Envelope, Mode, Settings};
use crate::template::{TemplateVars, substitute};

const ENDL: &str = "\r\n";
/// Asterisk refuses attachments above 128 MiB when reading; we refuse to write them.
pub const MAX_AUDIO_BYTES: usize = 128 * 1024 * 1024;
/// RFC 5322 line limit (without CRLF).
const MAX_LINE: usize = 998;
/// Asterisk's base64 line length (`BASELINELEN`).
const BASE64_LINE: usize = 72;

impl AudioPart {
    /// The recording of message `msgnum` (N, 1-based): `msg{N-1:04}.{fmt}`, Asterisk's MIME type.
    /// `format` is a `format=` entry; `wav49` is stored as `WAV`.
    pub fn recording(msgnum: u32, format: &str, bytes: Vec<u8>) -> AudioPart {
        let format = crate::model::stored_format(format).to_owned();
        AudioPart {
            filename: format!("msg{:04}.{format}", msgnum.saturating_sub(1)),
            content_type: mime_type_for(&format),
            format,
            bytes,
        }
    }

    /// A greeting recording: `{name}.{fmt}`.
    pub fn greeting(name: &str, format: &str, bytes: Vec<u8>) -> AudioPart {
        let format = crate::model::stored_format(format).to_owned();
        AudioPart {
            filename: format!("{name}.{format}"),
            content_type: mime_type_for(&format),
            format,
            bytes,
        }
    }

    /// A forward intro (MIME part 3): `msgintro{N-1:04}.{fmt}`.
    pub fn intro(msgnum: u32, format: &str, bytes: Vec<u8>) -> AudioPart {
        let format = crate::model::stored_format(format).to_owned();
        AudioPart {
            filename: format!("msgintro{:04}.{format}", msgnum.saturating_sub(1)),
            content_type: mime_type_for(&format),
            format,
            bytes,
        }
    }
}

/// Builds the RFC 5322 bytes of a voicemail (CRLF line ends), ready for IMAP `APPEND`.
///
/// Deterministic: the same inputs give the same bytes. Caller ids are sanitised
/// (control characters dropped; in [`Mode::AsteriskExact`] also every byte >= 0x80,
/// as Asterisk on x86 does); other fields with control characters are refused.
pub fn build(
    vm: &Voicemail,
    settings: &Settings,
    envelope: &Envelope,
    mode: Mode,
) -> Result<Vec<u8>, BuildError> {
    validate(vm, envelope)?;
    let exact = mode == Mode::AsteriskExact;
    let mut out: Vec<u8> = Vec::with_capacity(
        4096 + vm
            .audio
            .iter()
            .map(|a| a.bytes.len() * 4 / 3 + a.bytes.len() / 36)
            .sum::<usize>(),
    );

    // Raw caller ids feed Subject/body; sanitised ones feed the X- headers and From.
    let raw_num = strip_control(&vm.caller_id_num, false);
    let raw_name = strip_control(&vm.caller_id_name, false);
    let (enc_num, enc_name) = if exact {
        (
            strip_control(&vm.caller_id_num, true),
            strip_control(&vm.caller_id_name, true),
        )
    } else {
        (raw_num.clone(), raw_name.clone())
    };
    let greeting = match &vm.message_type {
        MessageType::Greeting(name) => Some(name.as_str()),
        MessageType::Message => None,
    };
    let date = settings.zone.strftime(RFC_DATE_FORMAT, envelope.date)?;
    let vars_for = |num: &str, name: &str| {
        TemplateVars::new(
            &settings.full_name,
            vm.duration_secs,
            vm.msgnum,
            &vm.context,
            &vm.mailbox,
            name,
            num,
            &vm.orig_date,
            &vm.category,
            vm.flag.as_str(),
        )
    };

    push_line(&mut out, "Date", &date)?;

    // From.
    let who = if settings.server_email.contains('@') {
        settings.server_email.clone()
    } else {
        let local = if settings.server_email.is_empty() {
            "asterisk"
        } else {
            settings.server_email.as_str()
        };
        format!("{local}@{}", envelope.hostname)
    };
    let from_name = if settings.from_string.is_empty() {
        None
    } else {
        Some(substitute(
            &settings.from_string,
            &vars_for(&enc_num, &enc_name),
        ))
    };
    if exact {
        match &from_name {
            None => push_raw(&mut out, &format!("From: Asterisk PBX <{who}>{ENDL}")),
            Some(name) if asterisk_needs_encoding(name.as_bytes()) => {
                let encoded = asterisk_encode(
                    &settings.charset,
                    name.as_bytes(),
                    "From: ".len(),
                    who.len() + 3,
                );
                push_encoded_lines(&mut out, "From:", &encoded, &format!(" <{who}>"));
            }
            Some(name) => push_raw(&mut out, &format!("From: {} <{who}>{ENDL}", quote(name))),
        }
    } else {
        let name = from_name.unwrap_or_else(|| "Asterisk PBX".to_owned());
        out.extend_from_slice(b"From: ");
        Address::new_address(Some(name), who.clone()).write_header(&mut out, "From: ".len());
    }

    // To: one address per `email` entry, imapuser when there is none.
    let addresses: Vec<String> = if settings.emails.is_empty() {
        vec![settings.imap_user.clone()]
    } else {
        settings.emails.clone()
    };
    if exact {
        push_raw(&mut out, "To:");
        let count = addresses.len();
        for (index, email) in addresses.iter().enumerate() {
            let next = index + 1 < count;
            let comma = if next { "," } else { "" };
            if asterisk_needs_encoding(settings.full_name.as_bytes()) {
                let preamble = if index == 0 { "To: ".len() } else { 0 };
                let encoded = asterisk_encode(
                    &settings.charset,
                    settings.full_name.as_bytes(),
                    preamble,
                    email.len() + 3 + usize::from(next),
                );
                let mut sections = encoded.split(' ');
                let mut current = sections.next().unwrap_or_default();
                for section in sections {
                    push_raw(&mut out, &format!(" {current}{ENDL}"));
                    current = section;
                }
                push_raw(&mut out, &format!(" {current} <{email}>{comma}{ENDL}"));
            } else {
                push_raw(
                    &mut out,
                    &format!(" {} <{email}>{comma}{ENDL}", quote(&settings.full_name)),
                );
            }
        }
    } else if addresses.iter().all(|address| address.is_empty()) {
        push_raw(
            &mut out,
            &format!("To: {} <>{ENDL}", quote(&settings.full_name)),
        );
    } else {
        let list = addresses
            .iter()
            .map(|email| Address::new_address(Some(settings.full_name.clone()), email.clone()))
            .collect::<Vec<_>>();
        out.extend_from_slice(b"To: ");
        Address::new_list(list).write_header(&mut out, "To: ".len());
    }

    // Subject.
    let custom_subject = settings.email_subject.as_deref().filter(|s| !s.is_empty());
    let (subject, may_encode) = match (greeting, custom_subject) {
        (Some(name), _) => (format!("New greeting '{name}' on {}.", vm.orig_date), false),
        (None, Some(template)) => (substitute(template, &vars_for(&raw_num, &raw_name)), true),
        (None, None) => {
            let prefix = if settings.pbx_skip { "" } else { "[PBX]: " };
            let flag = vm.flag.as_str();
            let text = if flag.is_empty() {
                format!(
                    "{prefix}New message {} in mailbox {}",
                    vm.msgnum, vm.mailbox
                )
            } else {
                format!(
                    "{prefix}New {flag} message {} in mailbox {}",
                    vm.msgnum, vm.mailbox
                )
            };
            (text, false)
        }
    };
    if exact {
        if may_encode && asterisk_needs_encoding(subject.as_bytes()) {
            let encoded =
                asterisk_encode(&settings.charset, subject.as_bytes(), "Subject: ".len(), 0);
            push_encoded_lines(&mut out, "Subject:", &encoded, "");
        } else {
            push_raw(&mut out, &format!("Subject: {subject}{ENDL}"));
        }
    } else {
        out.extend_from_slice(b"Subject: ");
        Text::new(subject).write_header(&mut out, "Subject: ".len());
    }

    push_line(&mut out, "Message-ID", &envelope.message_id)?;
    push_line(
        &mut out,
        "X-Asterisk-VM-Message-Num",
        &vm.msgnum.to_string(),
    )?;
    push_line(&mut out, "X-Asterisk-VM-Server-Name", &vm.server_name)?;
    push_line(&mut out, "X-Asterisk-VM-Context", &vm.context)?;
    push_line(&mut out, "X-Asterisk-VM-Extension", &vm.extension)?;
    push_line(&mut out, "X-Asterisk-VM-Flag", vm.flag.as_str())?;
    push_line(&mut out, "X-Asterisk-VM-Priority", &vm.priority.to_string())?;
    push_line(&mut out, "X-Asterisk-VM-Caller-ID-Num", &enc_num)?;
    push_line(&mut out, "X-Asterisk-VM-Caller-ID-Name", &enc_name)?;
    push_line(
        &mut out,
        "X-Asterisk-VM-Duration",
        &vm.duration_secs.to_string(),
    )?;
    push_line(&mut out, "X-Asterisk-VM-Category", &vm.category)?;
    push_line(
        &mut out,
        "X-Asterisk-VM-Message-Type",
        vm.message_type.as_str(),
    )?;
    push_line(&mut out, "X-Asterisk-VM-Orig-date", &vm.orig_date)?;
    push_line(
        &mut out,
        "X-Asterisk-VM-Orig-time",
        &vm.orig_time.to_string(),
    )?;
    push_line(
        &mut out,
        "X-Asterisk-VM-Message-ID",
        vm.msg_id.as_deref().unwrap_or("(null)"),
    )?;
    if !raw_num.is_empty() {
        push_line(&mut out, "X-Asterisk-CallerID", &enc_num)?;
    }
    if !raw_name.is_empty() {
        push_line(&mut out, "X-Asterisk-CallerIDName", &enc_name)?;
    }
    if !exact {
        // RFC 3458: lets mail clients show the message as a voicemail.
        push_line(&mut out, "Message-Context", "voice-message")?;
    }
    push_raw(&mut out, &format!("MIME-Version: 1.0{ENDL}"));
    let boundary = &envelope.boundary;
    push_raw(
        &mut out,
        &format!("Content-Type: multipart/mixed; boundary=\"{boundary}\"{ENDL}"),
    );
    push_raw(
        &mut out,
        &format!("{ENDL}{ENDL}This is a multi-part message in MIME format.{ENDL}{ENDL}"),
    );
    push_raw(&mut out, &format!("--{boundary}{ENDL}"));

    // Text part.
    let body = match (greeting, &settings.email_body) {
        (Some(name), _) => format!(
            "This message is to let you know that your greeting '{name}' was changed on {}.{ENDL}\
             Please do not delete this message, lest your greeting vanish with it.{ENDL}{ENDL}",
            vm.orig_date
        ),
        (None, Some(template)) => {
            let text = substitute(template, &vars_for(&raw_num, &raw_name));
            body_lines(&text, exact)
        }
        (None, None) => {
            let from = if !raw_name.is_empty() {
                raw_name.as_str()
            } else if !raw_num.is_empty() {
                raw_num.as_str()
            } else {
                "an unknown caller"
            };
            format!(
                "Dear {}:{ENDL}{ENDL}\tJust wanted to let you know you were just left a {} long message (number {}){ENDL}\
                 in mailbox {} from {from}, on {} so you might{ENDL}\
                 want to check it when you get a chance.  Thanks!{ENDL}{ENDL}\t\t\t\t--Asterisk{ENDL}{ENDL}",
                settings.full_name,
                vm.duration_text(),
                vm.msgnum,
                vm.mailbox,
                vm.orig_date
            )
        }
    };
    let charset = if exact || body.is_ascii() || is_utf8_label(&settings.charset) {
        settings.charset.as_str()
    } else {
        "UTF-8"
    };
    push_raw(
        &mut out,
        &format!(
            "Content-Type: text/plain; charset={charset}{ENDL}Content-Transfer-Encoding: 8bit{ENDL}{ENDL}"
        ),
    );
    push_raw(&mut out, &body);

    // Audio parts: the recording, then the optional intro; the last closes the multipart.
    let count = vm.audio.len();
    for (index, part) in vm.audio.iter().enumerate() {
        let filename = if part.filename.is_empty() {
            default_filename(vm, part, index)
        } else {
            part.filename.clone()
        };
        let content_type = if part.content_type.is_empty() {
            mime_type_for(&part.format)
        } else {
            part.content_type.clone()
        };
        push_raw(&mut out, &format!("--{boundary}{ENDL}"));
        push_raw(
            &mut out,
            &format!("Content-Type: {content_type}; name=\"{filename}\"{ENDL}"),
        );
        push_raw(
            &mut out,
            &format!("Content-Transfer-Encoding: base64{ENDL}"),
        );
        push_raw(
            &mut out,
            &format!("Content-Description: Voicemail sound attachment.{ENDL}"),
        );
        if !exact && index == 0 {
            // RFC 3803.
            push_raw(
                &mut out,
                &format!("Content-Duration: {}{ENDL}", vm.duration_secs),
            );
        }
        push_raw(
            &mut out,
            &format!("Content-Disposition: attachment; filename=\"{filename}\"{ENDL}{ENDL}"),
        );
        push_base64(&mut out, &part.bytes);
        if index + 1 == count {
            push_raw(&mut out, &format!("{ENDL}{ENDL}--{boundary}--{ENDL}"));
            if exact {
                push_raw(&mut out, &format!(".{ENDL}"));
            }
        }
    }
    Ok(out)
}

fn default_filename(vm: &Voicemail, part: &AudioPart, index: usize) -> String {
    match (&vm.message_type, index) {
        (MessageType::Greeting(name), 0) => format!("{name}.{}", part.format),
        (_, 0) => format!("msg{:04}.{}", vm.msgnum.saturating_sub(1), part.format),
        _ => format!("msgintro{:04}.{}", vm.msgnum.saturating_sub(1), part.format),
    }
}

fn is_utf8_label(charset: &str) -> bool {
    charset.eq_ignore_ascii_case("utf-8") || charset.eq_ignore_ascii_case("utf8")
}

/// Asterisk's IMAP body loop: split on LF, each line + CRLF, stop when the rest is empty.
/// Default mode also drops the CR of Asterisk's `\n` → CR LF escape (no CR CR LF).
fn body_lines(text: &str, exact: bool) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    loop {
        let (line, next) = match rest.find('\n') {
            Some(pos) => (&rest[..pos], Some(&rest[pos + 1..])),
            None => (rest, None),
        };
        let line = if exact {
            line
        } else {
            line.trim_end_matches('\r')
        };
        out.push_str(line);
        out.push_str(ENDL);
        match next {
            Some(next) if !next.is_empty() => rest = next,
            _ => break,
        }
    }
    out
}

/// `ast_str_quote`: wrap in double quotes, escaping `"` and `\`.
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Writes Asterisk's split encoded-word lines: the first after `name`, the others indented by
/// one space, `tail` after the last section.
fn push_encoded_lines(out: &mut Vec<u8>, name: &str, encoded: &str, tail: &str) {
    let mut first = true;
    let mut sections = encoded.split(' ');
    let mut current = sections.next().unwrap_or_default();
    for section in sections {
        let prefix = if first { name } else { "" };
        push_raw(out, &format!("{prefix} {current}{ENDL}"));
        first = false;
        current = section;
    }
    let prefix = if first { name } else { "" };
    push_raw(out, &format!("{prefix} {current}{tail}{ENDL}"));
}

fn push_raw(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(text.as_bytes());
}

fn push_line(out: &mut Vec<u8>, name: &str, value: &str) -> Result<(), BuildError> {
    let len = name.len() + 2 + value.len();
    if len > MAX_LINE {
        return Err(BuildError::LineTooLong {
            field: name.to_owned(),
            len,
        });
    }
    push_raw(out, name);
    push_raw(out, ": ");
    push_raw(out, value);
    push_raw(out, ENDL);
    Ok(())
}

/// Base64 in 72-character lines, CRLF after every line including the last.
fn push_base64(out: &mut Vec<u8>, bytes: &[u8]) {
    let encoded = STANDARD.encode(bytes);
    for chunk in encoded.as_bytes().chunks(BASE64_LINE) {
        out.extend_from_slice(chunk);
        out.extend_from_slice(ENDL.as_bytes());
    }
    if encoded.is_empty() {
        out.extend_from_slice(ENDL.as_bytes());
    }
}

/// Asterisk's `strip_control_and_high`: drop bytes < 32 (and, for `high`, every byte >= 0x80,
/// as signed-char x86 builds do); at most 255 bytes.
fn strip_control(value: &str, high: bool) -> String {
    const MAX: usize = 255;
    let mut out = String::with_capacity(value.len().min(MAX));
    for c in value.chars() {
        let drop = (c as u32) < 32 || (high && !c.is_ascii()) || (!high && c == '\u{7f}');
        if drop {
            continue;
        }
        if out.len() + c.len_utf8() > MAX {
            break;
        }
        out.push(c);
    }
    out
}

fn validate(vm: &Voicemail, envelope: &Envelope) -> Result<(), BuildError> {
    if vm.audio.is_empty() {
        return Err(BuildError::NoAudio);
    }
    if vm.audio.len() > 2 {
        return Err(BuildError::TooManyAudioParts {
            count: vm.audio.len(),
        });
    }
    for part in &vm.audio {
        if part.bytes.len() > MAX_AUDIO_BYTES {
            return Err(BuildError::AudioTooLarge {
                filename: part.filename.clone(),
                len: part.bytes.len(),
                limit: MAX_AUDIO_BYTES,
            });
        }
        check_single_line("audio format", &part.format)?;
        check_single_line("audio file name", &part.filename)?;
        check_single_line("audio content type", &part.content_type)?;
        if part.filename.contains(['"', '\\']) {
            return Err(BuildError::ControlCharacter {
                field: "audio file name",
                byte: b'"',
            });
        }
    }
    check_single_line("mailbox", &vm.mailbox)?;
    check_single_line("context", &vm.context)?;
    check_single_line("extension", &vm.extension)?;
    check_single_line("server name", &vm.server_name)?;
    check_single_line("flag", vm.flag.as_str())?;
    check_single_line("category", &vm.category)?;
    check_single_line("message type", vm.message_type.as_str())?;
    check_single_line("orig date", &vm.orig_date)?;
    if let Some(id) = &vm.msg_id {
        check_single_line("msg id", id)?;
    }
    let boundary_ok = !envelope.boundary.is_empty()
        && envelope.boundary.len() <= 70
        && !envelope.boundary.ends_with(' ')
        && envelope
            .boundary
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"'()+_,-./:=? ".contains(&b));
    if !boundary_ok {
        return Err(BuildError::InvalidBoundary {
            boundary: envelope.boundary.clone(),
        });
    }
    let id = &envelope.message_id;
    let id_ok = id.starts_with('<')
        && id.ends_with('>')
        && id.contains('@')
        && id.bytes().all(|b| b.is_ascii_graphic())
        && id.len() <= 900;
    if !id_ok {
        return Err(BuildError::InvalidMessageId {
            message_id: id.clone(),
        });
    }
    check_single_line("host name", &envelope.hostname)?;
    Ok(())
}

fn check_single_line(field: &'static str, value: &str) -> Result<(), BuildError> {
    match value.bytes().find(|&b| b < 32 || b == 0x7f) {
        Some(byte) => Err(BuildError::ControlCharacter { field, byte }),
        None => Ok(()),
    }
}
