//! proptest: for arbitrary models (Unicode names, odd numbers, long values), building in
//! default mode and parsing gives the model back; the header-block parser agrees.

use imapvm_message::{
    AudioPart, Envelope, Flag, HeaderBlock, MessageType, Mode, Settings, Voicemail, build, parse,
};
use proptest::prelude::*;

/// Single-line text without control characters, `=?` or surrounding blanks.
fn text(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(prop_oneof![
        3 => proptest::char::range('a', 'z'),
        1 => proptest::char::range('0', '9'),
        1 => Just(' '),
        1 => prop_oneof![Just('é'), Just('ß'), Just('Ø'), Just('中'), Just('𝄞'), Just('"'), Just('\\'), Just('<'), Just(':'), Just('.')],
    ], 0..max)
    .prop_map(|chars| chars.into_iter().collect::<String>().trim().to_owned())
}

fn model() -> impl Strategy<Value = Voicemail> {
    let ids = (
        "[0-9]{1,6}",
        text(30),
        text(30),
        any::<u32>(),
        text(20),
        0u8..3,
        any::<i32>(),
    );
    let caller = (
        text(80),
        text(200),
        any::<u32>(),
        text(20),
        proptest::option::of("[a-z]{1,8}"),
    );
    let times = (
        text(60),
        any::<i64>(),
        proptest::option::of("[0-9]{1,10}-[0-9a-f]{8}"),
    );
    let audio = (
        prop_oneof![
            Just("wav49"),
            Just("gsm"),
            Just("wav"),
            Just("ogg"),
            Just("g722")
        ],
        proptest::collection::vec(any::<u8>(), 0..3000),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..500)),
    );
    (ids, caller, times, audio).prop_map(
        |(
            (mailbox, context, extension, msgnum, server_name, flag, priority),
            (num, name, duration, category, greeting),
            (orig_date, orig_time, msg_id),
            (format, bytes, intro),
        )| {
            let message_type = greeting
                .filter(|g| g != "message")
                .map_or(MessageType::Message, MessageType::Greeting);
            let mut audio = vec![match &message_type {
                MessageType::Greeting(g) => AudioPart::greeting(g, format, bytes),
                MessageType::Message => AudioPart::recording(msgnum, format, bytes),
            }];
            if let Some(intro) = intro {
                audio.push(AudioPart::intro(msgnum, format, intro));
            }
            Voicemail {
                extension: if extension.is_empty() {
                    mailbox.clone()
                } else {
                    extension
                },
                mailbox,
                context,
                msgnum,
                server_name,
                flag: [Flag::None, Flag::Urgent, Flag::Priority][usize::from(flag)].clone(),
                priority,
                caller_id_num: num,
                caller_id_name: name,
                duration_secs: duration,
                category,
                message_type,
                orig_date,
                orig_time,
                msg_id,
                caller_channel: None,
                audio,
            }
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn build_then_parse_gives_the_model_back(vm in model(), full_name in text(60), date in 0i64..4_000_000_000) {
        let settings = Settings { full_name, imap_user: "vm".into(), ..Settings::default() };
        let envelope = Envelope {
            date,
            message_id: Envelope::asterisk_message_id(vm.msgnum, 7, &vm.mailbox, 42, "vm"),
            boundary: Envelope::asterisk_boundary(vm.msgnum, &vm.mailbox, 42, 7),
            hostname: "vm".into(),
        };
        let bytes = build(&vm, &settings, &envelope, Mode::Default).unwrap();
        let parsed = parse(&bytes).unwrap();
        prop_assert_eq!(&parsed.voicemail, &vm);
        prop_assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
        let block = HeaderBlock::parse(&bytes);
        prop_assert_eq!(block.fields.caller_id_name.as_deref(), Some(vm.caller_id_name.as_str()));
        prop_assert_eq!(block.fields.orig_time, Some(vm.orig_time));
    }

    #[test]
    fn header_block_parse_never_panics_and_renders_back(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let first = HeaderBlock::parse(&bytes);
        let second = HeaderBlock::parse(&first.fields.render());
        prop_assert_eq!(first.fields, second.fields);
    }
}
