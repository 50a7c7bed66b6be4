//! Hand-made fixtures: older Asterisk header sets and messages a mail client touched, plus
//! Asterisk-exact quirks the corpus does not cover (templates, non-ASCII names, CR CR LF bodies).
//!
//! The files in `fixtures/clients/` were derived from corpus 01 by editing headers the way the
//! reference (`docs/reference/asterisk-imap-behaviour.md` §2.3, §2.8) says older Asterisk
//! versions and Exchange wrote them.

use imapvm_message::template::substitute_escapes;
use imapvm_message::{
    AudioPart, DiagnosticKind, Envelope, Flag, Mode, Settings, Voicemail, build, parse,
};

use crate::common::{check_golden, parsed_json, read_fixture, to_crlf, to_lf};

#[test]
fn asterisk_1_4_without_flag_type_and_msg_id_with_caller_channel() {
    let file = read_fixture("fixtures/clients/asterisk-1.4-lf.eml");
    let parsed = parse(&file).unwrap();
    let vm = &parsed.voicemail;
    assert_eq!(vm.flag, Flag::None);
    assert_eq!(vm.msg_id, None);
    assert_eq!(vm.caller_channel.as_deref(), Some("SIP/5551001-0a1b2c3d"));
    assert_eq!(vm.duration_secs, 2);
    assert_eq!(vm.audio.len(), 1);
    assert_eq!(parse(&to_crlf(&file)).unwrap(), parsed);
    check_golden("asterisk-1.4-lf", &parsed_json(&parsed));
}

#[test]
fn asterisk_1_8_without_msg_id() {
    let parsed = parse(&read_fixture("fixtures/clients/asterisk-1.8.eml")).unwrap();
    assert_eq!(parsed.voicemail.msg_id, None);
    assert_eq!(
        parsed.voicemail.caller_channel.as_deref(),
        Some("SIP/5551001-0a1b2c3d")
    );
    check_golden("asterisk-1.8", &parsed_json(&parsed));
}

#[test]
fn exchange_lower_cased_and_re_encoded() {
    let file = read_fixture("fixtures/clients/exchange-lowercased-lf.eml");
    let parsed = parse(&file).unwrap();
    let vm = &parsed.voicemail;
    assert_eq!(vm.context, "default");
    assert_eq!(vm.extension, "1234");
    assert_eq!(vm.caller_id_name, "Alice Exämple");
    assert_eq!(vm.msg_id, None, "an empty id means none");
    assert_eq!(
        parsed.subject.as_deref(),
        Some("[PBX]: New message 1 in mailbox 1234")
    );
    assert_eq!(parse(&to_crlf(&file)).unwrap(), parsed);
    check_golden("exchange-lowercased-lf", &parsed_json(&parsed));
}

fn sample() -> (Voicemail, Settings, Envelope) {
    let settings = Settings {
        full_name: "Björn Quota-Test".into(),
        imap_user: "vm5678".into(),
        ..Settings::default()
    };
    let vm = Voicemail {
        mailbox: "5678".into(),
        context: "default".into(),
        extension: "5678".into(),
        msgnum: 2,
        priority: 2,
        caller_id_num: "5551002".into(),
        caller_id_name: "Zoë Ærø".into(),
        duration_secs: 75,
        orig_date: "Thursday, November 26, 2026 at 06:21:59 AM".into(),
        orig_time: 1_795_674_119,
        msg_id: Some("1795674116-00000001".into()),
        audio: vec![AudioPart::recording(2, "gsm", vec![1, 2, 3, 4, 5])],
        ..Voicemail::default()
    };
    let envelope = Envelope {
        date: 1_795_674_119,
        message_id: "<Asterisk-2-1-5678-27960@vm>".into(),
        boundary: "----voicemail_25678279601".into(),
        hostname: "vm".into(),
    };
    (vm, settings, envelope)
}

/// Asterisk on x86 strips every byte >= 0x80 from caller ids in the X- headers and Q-encodes
/// UTF-8 bytes under the configured ISO-8859-1 label (reference §2.6).
#[test]
fn asterisk_exact_strips_non_ascii_caller_ids_and_mislabels_utf8() {
    let (vm, settings, envelope) = sample();
    let bytes = build(&vm, &settings, &envelope, Mode::AsteriskExact).unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(
        text.contains("\r\nX-Asterisk-VM-Caller-ID-Name: Zo r\r\n"),
        "{text}"
    );
    assert!(text.contains("\r\nX-Asterisk-CallerIDName: Zo r\r\n"));
    assert!(
        text.contains("\r\nTo: =?ISO-8859-1?Q?Bj=C3=B6rn_Quota-Test?= <vm5678>\r\n"),
        "{text}"
    );
    assert!(text.contains("Content-Type: text/plain; charset=ISO-8859-1\r\n"));
    assert!(
        text.contains("in mailbox 5678 from Zoë Ærø, on"),
        "body keeps the raw name"
    );
    assert!(text.contains("\r\nContent-Type: audio/x-gsm; name=\"msg0001.gsm\"\r\n"));
    assert!(text.ends_with("\r\n.\r\n"));
    let parsed = parse(&bytes).unwrap();
    assert_eq!(parsed.voicemail.caller_id_name, "Zo r");
    // The reader notices the mislabelled To and still decodes it as UTF-8.
    assert_eq!(
        parsed.headers.to.as_deref(),
        Some("Björn Quota-Test <vm5678>")
    );
    let kinds: Vec<_> = parsed
        .diagnostics
        .iter()
        .map(|d| (d.field.as_str(), &d.kind))
        .collect();
    assert_eq!(
        kinds,
        [(
            "To",
            &DiagnosticKind::BadEncoding {
                detail: "UTF-8 bytes labelled as another charset".into()
            }
        )]
    );
}

#[test]
fn default_mode_keeps_utf8_and_labels_it() {
    let (vm, settings, envelope) = sample();
    let bytes = build(&vm, &settings, &envelope, Mode::Default).unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.contains("\r\nX-Asterisk-VM-Caller-ID-Name: Zoë Ærø\r\n"));
    assert!(text.contains("Content-Type: text/plain; charset=UTF-8\r\n"));
    assert!(text.contains("1:15 long message"));
    let parsed = parse(&bytes).unwrap();
    assert_eq!(parsed.voicemail, vm);
    assert!(
        parsed
            .headers
            .to
            .as_deref()
            .unwrap()
            .contains("Björn Quota-Test")
    );
}

/// Custom templates: `\n` in an IMAP build becomes CR LF, and the body loop adds another
/// CR LF, so Asterisk writes CR CR LF (reference §2.5). Parsing tolerates it; default mode
/// does not copy it.
#[test]
fn custom_templates_and_cr_cr_lf_bodies() {
    let (mut vm, mut settings, envelope) = sample();
    vm.caller_id_name = "Bob".into();
    vm.flag = Flag::Urgent;
    settings.full_name = "Alice".into();
    settings.email_subject = Some(substitute_escapes(
        r"Voicemail ${VM_MSGNUM} from ${VM_CALLERID}",
        true,
    ));
    settings.email_body = Some(substitute_escapes(
        r"Hi ${VM_NAME},\n\n${VM_DUR} from ${VM_CIDNUM} (${VM_FLAG}).\n",
        true,
    ));
    settings.from_string = "PBX ${VM_MAILBOX}".into();
    let exact =
        String::from_utf8(build(&vm, &settings, &envelope, Mode::AsteriskExact).unwrap()).unwrap();
    assert!(
        exact.contains("\r\nFrom: \"PBX 5678\" <asterisk@vm>\r\n"),
        "{exact}"
    );
    // `"`, `<`, `>` trigger check_mime, so the subject is Q-encoded.
    assert!(
        exact
            .contains("\r\nSubject: =?ISO-8859-1?Q?Voicemail_2_from_=22Bob=22_=3C5551002=3E?=\r\n"),
        "{exact}"
    );
    assert!(
        exact.contains("\r\n\r\nHi Alice,\r\r\n\r\r\n1:15 from 5551002 (Urgent).\r\r\n--"),
        "{exact:?}"
    );
    let parsed = parse(exact.as_bytes()).unwrap();
    assert_eq!(
        parsed.subject.as_deref(),
        Some("Voicemail 2 from \"Bob\" <5551002>")
    );
    assert_eq!(parsed.voicemail.flag, Flag::Urgent);

    let default =
        String::from_utf8(build(&vm, &settings, &envelope, Mode::Default).unwrap()).unwrap();
    assert!(
        default.contains("\r\n\r\nHi Alice,\r\n\r\n1:15 from 5551002 (Urgent).\r\n--"),
        "{default:?}"
    );
    assert_eq!(parse(&to_lf(default.as_bytes())).unwrap().voicemail, vm);
}

#[test]
fn long_fromstring_splits_like_asterisk() {
    let (vm, mut settings, envelope) = sample();
    settings.from_string =
        "Voicemail system of the Example Corporation, building 7; extension ${VM_MAILBOX}".into();
    let exact =
        String::from_utf8(build(&vm, &settings, &envelope, Mode::AsteriskExact).unwrap()).unwrap();
    let from: Vec<&str> = exact
        .lines()
        .skip_while(|l| !l.starts_with("From:"))
        .take_while(|l| !l.starts_with("To:"))
        .collect();
    assert!(from.len() >= 2, "{from:?}");
    assert!(from[0].starts_with("From: =?ISO-8859-1?Q?"));
    assert!(from.iter().skip(1).all(|line| line.starts_with(' ')));
    assert!(from.last().unwrap().ends_with(" <asterisk@vm>"));
    let parsed = parse(exact.as_bytes()).unwrap();
    assert!(
        parsed
            .headers
            .from
            .unwrap()
            .starts_with("Voicemail system of the Example Corporation, building 7; extension 5678")
    );
}

#[test]
fn greeting_and_intro_parts() {
    let (mut vm, settings, envelope) = sample();
    vm.audio.push(AudioPart::intro(2, "gsm", vec![9, 9]));
    let parsed = parse(&build(&vm, &settings, &envelope, Mode::AsteriskExact).unwrap()).unwrap();
    let names: Vec<_> = parsed
        .voicemail
        .audio
        .iter()
        .map(|a| a.filename.as_str())
        .collect();
    assert_eq!(names, ["msg0001.gsm", "msgintro0001.gsm"]);
    assert_eq!(parsed.voicemail.audio[1].bytes, [9, 9]);
}

#[test]
fn unknown_format_is_a_diagnostic_not_an_error() {
    let (mut vm, settings, envelope) = sample();
    vm.audio = vec![AudioPart::recording(2, "xyz", vec![1])];
    let parsed = parse(&build(&vm, &settings, &envelope, Mode::Default).unwrap()).unwrap();
    assert!(
        parsed
            .diagnostics
            .iter()
            .any(|d| matches!(d.kind, DiagnosticKind::UnknownFormat { .. }))
    );
}

#[test]
fn build_refuses_bad_inputs_with_typed_errors() {
    use imapvm_message::BuildError;
    let (mut vm, settings, mut envelope) = sample();
    vm.context = "de\r\nfault".into();
    assert!(matches!(
        build(&vm, &settings, &envelope, Mode::Default),
        Err(BuildError::ControlCharacter {
            field: "context",
            ..
        })
    ));
    vm.context = "default".into();
    envelope.boundary = String::new();
    assert!(matches!(
        build(&vm, &settings, &envelope, Mode::Default),
        Err(BuildError::InvalidBoundary { .. })
    ));
    envelope.boundary = "b".into();
    vm.audio.clear();
    assert_eq!(
        build(&vm, &settings, &envelope, Mode::Default),
        Err(BuildError::NoAudio)
    );
}

#[test]
fn several_addresses_pbxskip_and_priority_subject() {
    let (mut vm, mut settings, envelope) = sample();
    settings.full_name = "Alice".into();
    settings.emails = vec!["a@example.test".into(), "b@example.test".into()];
    settings.pbx_skip = true;
    vm.flag = Flag::Priority;
    let exact =
        String::from_utf8(build(&vm, &settings, &envelope, Mode::AsteriskExact).unwrap()).unwrap();
    assert!(
        exact.contains("\r\nTo: \"Alice\" <a@example.test>,\r\n \"Alice\" <b@example.test>\r\n"),
        "{exact}"
    );
    assert!(
        exact.contains("\r\nSubject: New PRIORITY message 2 in mailbox 5678\r\n"),
        "{exact}"
    );
    let parsed = parse(exact.as_bytes()).unwrap();
    assert_eq!(parsed.voicemail.flag, Flag::Priority);
    assert!(!parsed.voicemail.is_urgent());
}

/// Every prefix of a real message parses to a voicemail or a typed error, never a panic
/// (Asterisk itself crashes on some truncated structures, reference §6 #11, #31).
#[test]
fn every_prefix_of_a_corpus_file_is_handled() {
    let file = read_fixture("fixtures/corpus/04-urgent.eml");
    for len in (0..file.len()).step_by(3) {
        let _ = parse(&file[..len]);
        let block = imapvm_message::HeaderBlock::parse(&file[..len]);
        assert!(block.consumed <= len);
    }
}
