//! The Asterisk 22 corpus: parse every file (CRLF and LF), golden JSON, and rebuild each
//! byte for byte in Asterisk-exact mode from the inputs Asterisk used.

use base64::Engine as _;
use imapvm_message::{
    AudioPart, Envelope, Flag, MailboxZone, MessageType, Mode, Settings, Voicemail, build, parse,
};
use serde_json::Value;

use crate::common::{check_golden, parsed_json, read_fixture, to_lf};

const FILES: [&str; 5] = [
    "01-basic.eml",
    "04-urgent.eml",
    "09-custom-folder-tz-europe.eml",
    "10-shared-account-2001.eml",
    "20-greeting-unavail.eml",
];

/// The audio bytes of a corpus file, decoded without our parser: the base64 after the
/// attachment's empty line, up to the blank lines before the closing boundary.
fn audio_of(bytes: &[u8]) -> Vec<u8> {
    let text = std::str::from_utf8(bytes).unwrap();
    let start = text.find("Content-Disposition: attachment").unwrap();
    let body_start = start + text[start..].find("\r\n\r\n").unwrap() + 4;
    let body_end = body_start + text[body_start..].find("\r\n\r\n").unwrap();
    let b64: String = text[body_start..body_end].split("\r\n").collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap()
}

fn inputs() -> Value {
    serde_json::from_slice(&read_fixture("fixtures/corpus-inputs.json")).unwrap()
}

fn str_of(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_owned()
}

/// Model, settings and envelope for one corpus file, from its recorded inputs.
fn rebuild_inputs(name: &str, file: &[u8]) -> (Voicemail, Settings, Envelope) {
    let all = inputs();
    let i = &all[name];
    let mailbox = str_of(i, "mailbox");
    let msgnum = u32::try_from(i["msgnum"].as_u64().unwrap()).unwrap();
    let time = i["time"].as_i64().unwrap();
    let zone = match i["tz"].as_str() {
        Some(zone) => MailboxZone::named(zone).unwrap(),
        None => MailboxZone::utc(),
    };
    let settings = Settings {
        full_name: str_of(i, "fullname"),
        imap_user: str_of(i, "imapuser"),
        server_email: "asterisk-peer@vm.example.test".to_owned(),
        zone,
        ..Settings::default()
    };
    let greeting = i["greeting"].as_str();
    let audio = match greeting {
        Some(name) => AudioPart::greeting(name, "wav49", audio_of(file)),
        None => AudioPart::recording(msgnum, "wav49", audio_of(file)),
    };
    let vm = Voicemail {
        mailbox: mailbox.clone(),
        context: str_of(i, "context"),
        extension: mailbox.clone(),
        msgnum,
        server_name: String::new(),
        flag: Flag::from_header(i["flag"].as_str().unwrap()),
        priority: i32::try_from(i["priority"].as_i64().unwrap()).unwrap(),
        caller_id_num: str_of(i, "cid_num"),
        caller_id_name: str_of(i, "cid_name"),
        duration_secs: u32::try_from(i["duration"].as_u64().unwrap()).unwrap(),
        category: String::new(),
        message_type: greeting.map_or(MessageType::Message, |g| {
            MessageType::Greeting(g.to_owned())
        }),
        orig_date: settings.email_date(time).unwrap(),
        orig_time: time,
        msg_id: i["msg_id"].as_str().map(str::to_owned),
        caller_channel: None,
        audio: vec![audio],
    };
    let rand_id = u32::try_from(i["message_id_rand"].as_u64().unwrap()).unwrap();
    let rand_b = u32::try_from(i["boundary_rand"].as_u64().unwrap()).unwrap();
    let envelope = Envelope {
        date: time,
        message_id: Envelope::asterisk_message_id(msgnum, rand_id, &mailbox, 27960, "vm"),
        boundary: Envelope::asterisk_boundary(msgnum, &mailbox, 27960, rand_b),
        hostname: "vm".to_owned(),
    };
    (vm, settings, envelope)
}

#[test]
fn rebuild_asterisk_exact_byte_for_byte() {
    for name in FILES {
        let file = read_fixture(&format!("fixtures/corpus/{name}"));
        let (vm, settings, envelope) = rebuild_inputs(name, &file);
        let built = build(&vm, &settings, &envelope, Mode::AsteriskExact).unwrap();
        if built != file {
            let first = built
                .iter()
                .zip(&file)
                .position(|(a, b)| a != b)
                .unwrap_or(built.len().min(file.len()));
            panic!(
                "{name}: differs at byte {first}:\n built: {:?}\n  file: {:?}",
                String::from_utf8_lossy(
                    &built[first.saturating_sub(40)..(first + 40).min(built.len())]
                ),
                String::from_utf8_lossy(
                    &file[first.saturating_sub(40)..(first + 40).min(file.len())]
                ),
            );
        }
    }
}

#[test]
fn parse_every_file_with_crlf_and_lf_against_golden_json() {
    for name in FILES {
        let file = read_fixture(&format!("fixtures/corpus/{name}"));
        let crlf = parse(&file).unwrap();
        let lf = parse(&to_lf(&file)).unwrap();
        assert_eq!(crlf, lf, "{name}: LF and CRLF parse differently");
        let (expected, _, _) = rebuild_inputs(name, &file);
        assert_eq!(
            crlf.voicemail, expected,
            "{name}: parsed model differs from the recorded inputs"
        );
        assert!(
            crlf.diagnostics.is_empty(),
            "{name}: {:?}",
            crlf.diagnostics
        );
        check_golden(name.trim_end_matches(".eml"), &parsed_json(&crlf));
    }
}

#[test]
fn default_mode_rebuild_parses_to_the_same_model() {
    for name in FILES {
        let file = read_fixture(&format!("fixtures/corpus/{name}"));
        let (vm, settings, envelope) = rebuild_inputs(name, &file);
        let built = build(&vm, &settings, &envelope, Mode::Default).unwrap();
        let text = String::from_utf8_lossy(&built);
        assert!(
            text.contains("\r\nMessage-Context: voice-message\r\n"),
            "{name}"
        );
        assert!(
            text.contains(&format!("\r\nContent-Duration: {}\r\n", vm.duration_secs)),
            "{name}"
        );
        assert!(
            !text.ends_with("\r\n.\r\n"),
            "{name}: default mode has no dot epilogue"
        );
        assert_eq!(parse(&built).unwrap().voicemail, vm, "{name}");
    }
}
