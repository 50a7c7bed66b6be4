//! Properties: the same events however the peer's bytes are split; commands encode to the
//! words they were built from (checked with res_agi's own `parse_args` rules); responses and
//! environments survive encode → parse.

use crate::support::{ENV, Harness, parse_args, words};
use crate::transcripts::{fake_agi_dialogue, hangup_during_stream_file};
use imapvm_agi::*;
use proptest::prelude::*;
use std::time::Duration;

fn dialogue(splits: Vec<usize>) -> (Vec<Event>, Vec<String>) {
    let mut h = Harness::new(Config::default()).with_splits(splits.clone());
    let mut all = Vec::new();
    // The transcripts assert their events step by step; collect what they saw as well.
    fake_agi_dialogue(&mut h);
    all.append(&mut h.events);
    let mut g = Harness::new(Config::default()).with_splits(splits);
    hangup_during_stream_file(&mut g);
    all.append(&mut g.events);
    let mut sent = h.sent;
    sent.extend(g.sent);
    (all, sent)
}

#[test]
fn one_byte_at_a_time_gives_the_same_exchange() {
    assert_eq!(dialogue(vec![1]), dialogue(vec![]));
}

/// Every byte boundary of the environment: the same single event.
#[test]
fn the_environment_split_at_every_byte() {
    let whole = Env::parse(ENV.as_bytes(), &Limits::default()).unwrap();
    for cut in 0..=ENV.len() {
        let mut h = Harness::new(Config::default());
        h.peer(&ENV.as_bytes()[..cut]);
        h.peer(&ENV.as_bytes()[cut..]);
        assert_eq!(
            h.take(),
            [Event::Environment(Box::new(whole.clone()))],
            "cut {cut}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_splits_give_the_same_exchange(splits in proptest::collection::vec(1usize..40, 1..20)) {
        prop_assert_eq!(dialogue(splits), dialogue(vec![]));
    }
}

// ------------------------------------------------------------------ encode → parse_args

fn text() -> impl Strategy<Value = String> {
    // Printable ASCII and a few multi-byte characters, with the ones parse_args treats
    // specially (space, tab, quote, backslash) often.
    proptest::collection::vec(
        prop_oneof![
            Just(' '),
            Just('\t'),
            Just('"'),
            Just('\\'),
            Just('\''),
            Just('ü'),
            proptest::char::range('!', '~'),
        ],
        0..40,
    )
    .prop_map(|v| v.into_iter().collect())
}

fn word() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_/@;.,()=+:%-]{1,30}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn quoted_text_comes_back_as_one_word(value in text(), name in "[A-Z_][A-Z0-9_]{0,10}") {
        let c = Command::SetVariable {
            name: VarName::new(&name).unwrap(),
            value: Text::new(&value).unwrap(),
        };
        prop_assert_eq!(words(&c.encode().unwrap()), vec!["SET".to_owned(), "VARIABLE".into(), name, value]);
    }

    #[test]
    fn free_texts_of_every_command_come_back(
        message in text(), args in text(), format in text(), expr in text(),
        zone in word(), level in proptest::option::of(1u8..5),
    ) {
        let verbose = Command::Verbose { message: Text::new(&message).unwrap(), level };
        let mut expected = vec!["VERBOSE".to_owned(), message];
        expected.extend(level.map(|l| l.to_string()));
        prop_assert_eq!(words(&verbose.encode().unwrap()), expected);

        let exec = Command::Exec { application: AppName::new("Goto").unwrap(), args: Text::new(&args).unwrap() };
        prop_assert_eq!(words(&exec.encode().unwrap()), vec!["EXEC".to_owned(), "Goto".into(), args]);

        let say = Command::SayDateTime {
            time: 1_796_587_333,
            escape: Digits::ANY,
            format: Some(DateFormat { format: Text::new(&format).unwrap(), zone: Some(Word::new(&zone).unwrap()) }),
        };
        prop_assert_eq!(
            words(&say.encode().unwrap()),
            vec!["SAY".to_owned(), "DATETIME".into(), "1796587333".into(), "0123456789*#".into(), format, zone]
        );

        let full = Command::GetFullVariable { expression: Text::new(&expr).unwrap(), channel: None };
        prop_assert_eq!(words(&full.encode().unwrap()), vec!["GET".to_owned(), "FULL".into(), "VARIABLE".into(), expr]);
    }

    /// Whatever string a caller has: either it is refused, or it is exactly one word.
    #[test]
    fn no_string_can_inject_a_word_or_a_line(s in any::<String>()) {
        if let Ok(text) = Text::new(&s) {
            let c = Command::Verbose { message: text, level: None };
            if let Ok(line) = c.encode() {
                prop_assert_eq!(words(&line), vec!["VERBOSE".to_owned(), s.clone()]);
            }
        }
        if let Ok(file) = SoundName::new(&s) {
            let c = Command::StreamFile { file, escape: Digits::NONE, offset: None };
            if let Ok(line) = c.encode() {
                prop_assert_eq!(words(&line), vec!["STREAM".to_owned(), "FILE".into(), s.clone(), String::new()]);
            }
        }
        if let Ok(w) = Word::new(&s) {
            let c = Command::SetContext { context: w };
            if let Ok(line) = c.encode() {
                prop_assert_eq!(words(&line), vec!["SET".to_owned(), "CONTEXT".into(), s.clone()]);
            }
        }
    }

    #[test]
    fn media_commands_keep_their_positions(
        file in word(), escape in "[0-9*#]{0,12}", offset in proptest::option::of(any::<u32>()),
        timeout in proptest::option::of(0u64..100_000_000), beep in any::<bool>(),
        silence in proptest::option::of(0u32..100), max in proptest::option::of(any::<u16>()),
    ) {
        let file_name = SoundName::new(&file).unwrap();
        let keys = Digits::new(&escape).unwrap();
        let ms = |t: Option<u64>| t.map_or("-1".to_owned(), |t| t.to_string());

        let c = Command::StreamFile { file: file_name.clone(), escape: keys, offset };
        let mut expected = vec!["STREAM".to_owned(), "FILE".into(), file.clone(), keys.to_string()];
        expected.extend(offset.map(|o| o.to_string()));
        prop_assert_eq!(words(&c.encode().unwrap()), expected);

        let c = Command::RecordFile {
            file: file_name.clone(),
            format: Format::new("wav").unwrap(),
            escape: keys,
            timeout: timeout.map(Duration::from_millis),
            offset, beep, silence,
        };
        let mut expected = vec!["RECORD".to_owned(), "FILE".into(), file.clone(), "wav".into(), keys.to_string(), ms(timeout)];
        if offset.is_some() || beep || silence.is_some() {
            expected.push(offset.unwrap_or(0).to_string());
        }
        if beep {
            expected.push("BEEP".into());
        }
        expected.extend(silence.map(|s| format!("s={s}")));
        prop_assert_eq!(words(&c.encode().unwrap()), expected);

        let c = Command::WaitForDigit { timeout: timeout.map(Duration::from_millis) };
        prop_assert_eq!(words(&c.encode().unwrap()), vec!["WAIT".to_owned(), "FOR".into(), "DIGIT".into(), ms(timeout)]);

        let c = Command::GetData { file: file_name, timeout: timeout.map(Duration::from_millis), max_digits: max };
        let mut expected = vec!["GET".to_owned(), "DATA".into(), file];
        if timeout.is_some() || max.is_some() {
            expected.push(timeout.unwrap_or(0).to_string());
        }
        expected.extend(max.map(|m| m.to_string()));
        prop_assert_eq!(words(&c.encode().unwrap()), expected);
    }

    // -------------------------------------------------------------- responses and env

    #[test]
    fn responses_survive_encode_then_parse(
        result in "[-0-9A-Za-z()]{0,8}", data in proptest::option::of(text()),
        endpos in proptest::option::of(any::<i64>()),
        code in (0u16..1000).prop_filter("not 200", |c| *c != 200),
        failure_text in text(), lines in proptest::collection::vec(text(), 0..5),
        multi in any::<bool>(),
    ) {
        let limits = Limits::default();
        let success = Response::Success(Success { result, data, endpos });
        prop_assert_eq!(Response::parse(&success.encode().unwrap(), &limits).unwrap(), success);

        let usage = multi.then(|| Usage { lines, end: "End of proper usage.".into() });
        let failure = Response::Failure(Failure { code, text: failure_text, usage });
        match failure.encode() {
            Ok(bytes) => prop_assert_eq!(Response::parse(&bytes, &limits).unwrap(), failure),
            // Only a usage line that would end its block early is refused.
            Err(_) => {
                let end = format!("{code:03} ");
                let ends_early = matches!(&failure, Response::Failure(Failure { usage: Some(u), .. })
                    if u.lines.iter().any(|l| l.starts_with(&end)));
                prop_assert!(ends_early);
            }
        }
    }

    #[test]
    fn arbitrary_response_bytes_parse_then_encode_then_parse_equal(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
        let limits = Limits::default();
        if let Ok(r) = Response::parse(&bytes, &limits) {
            let again = r.encode().unwrap();
            prop_assert_eq!(Response::parse(&again, &limits).unwrap(), r);
        }
    }

    #[test]
    fn environments_survive_encode_then_parse(
        callerid in proptest::option::of("[0-9]{1,12}"), name in proptest::option::of(text()),
        args in proptest::collection::vec(text(), 0..6), query in proptest::option::of("[a-z=&%0-9]{0,20}"),
        priority in any::<i32>(), threadid in any::<i64>(), enhanced in any::<bool>(),
    ) {
        let mut env = Env::parse(ENV.as_bytes(), &Limits::default()).unwrap();
        env.callerid = callerid;
        env.calleridname = name.filter(|n| n != "unknown");
        env.args = args;
        env.script = Some(Script { path: "voicemailmain".into(), query });
        env.priority = priority;
        env.threadid = threadid;
        env.enhanced = enhanced;
        env.extra = vec![("agi_future_key".into(), "x".into())];
        let bytes = env.encode().unwrap();
        prop_assert_eq!(Env::parse(&bytes, &Limits::default()).unwrap(), env);
    }
}

#[test]
fn the_oracle_follows_parse_args_quirks() {
    let w = |s: &str| -> Vec<String> {
        parse_args(s.as_bytes())
            .into_iter()
            .map(|w| String::from_utf8(w).unwrap())
            .collect()
    };
    assert_eq!(w("STREAM FILE beep \"\""), ["STREAM", "FILE", "beep", ""]);
    assert_eq!(w("a\t b"), ["a", "b"]);
    assert_eq!(w("ab\"c d\"e"), ["abc de"]);
    assert_eq!(w("a\\ b \\\"c\\\\"), ["a b", "\"c\\"]);
    assert_eq!(w("ANSWER\r"), ["ANSWER\r"]);
    let many = vec!["x"; 200].join(" ");
    assert_eq!(w(&many).len(), MAX_COMMAND_WORDS);
}
