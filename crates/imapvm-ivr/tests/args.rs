//! `VoiceMail`'s arguments as FastAGI passes them: mailboxes, options, typed errors.

use imapvm_ivr::*;
use proptest::prelude::*;

fn ids(args: &LeaveArgs) -> Vec<String> {
    args.recipients().iter().map(|m| m.to_string()).collect()
}

#[test]
fn mailboxes_split_at_ampersands_with_default_as_the_context() {
    let args = LeaveArgs::parse(&["1234@default& 5678@sales &42"]).unwrap();
    assert_eq!(ids(&args), ["1234@default", "5678@sales", "42@default"]);
    assert_eq!(args.primary().mailbox(), "1234");
    assert_eq!(args.options(), &LeaveOptions::default());
}

#[test]
fn options_are_read_as_asterisk_reads_them() {
    let o = LeaveOptions::parse("ubsSUP").unwrap();
    assert_eq!(o.greeting, GreetingOption::Busy);
    assert!(o.silent && o.silent_if_greeting);
    assert_eq!(o.urgency, Urgency::Urgent);
    assert_eq!(o.ignored, "");

    let o = LeaveOptions::parse("uP").unwrap();
    assert_eq!(o.greeting, GreetingOption::Unavail);
    assert_eq!(o.urgency, Urgency::Priority);
    assert!(!o.silent);

    let o = LeaveOptions::parse("d(from-vm)g(-3)ept(custom/beep2)a(1)rx").unwrap();
    assert_eq!(o.ignored, "dgeparx");
    assert_eq!(o.beep, Beep::File(SpoolName::new("custom/beep2").unwrap()));
    assert_eq!(LeaveOptions::parse("t").unwrap().beep, Beep::Silent);
    assert_eq!(LeaveOptions::parse("t()s").unwrap().beep, Beep::Silent);
    // Nested parentheses and a backslash inside an argument.
    let o = LeaveOptions::parse(r"d(a(b)c\)d)u").unwrap();
    assert_eq!(o.greeting, GreetingOption::Unavail);
    assert_eq!(o.ignored, "d");
}

#[test]
fn options_after_the_first_comma_are_joined_as_asterisk_leaves_them() {
    // VoiceMail(1234,u,b): Asterisk's two-field split leaves "u,b" as the options; the
    // comma is an unknown option letter.
    let args = LeaveArgs::parse(&["1234", "u", "b"]).unwrap();
    assert_eq!(args.options().greeting, GreetingOption::Busy);
    assert_eq!(args.options().ignored, ",");
    let args = LeaveArgs::parse(&["1234", ""]).unwrap();
    assert_eq!(args.options(), &LeaveOptions::default());
}

#[test]
fn bad_arguments_are_typed_errors() {
    assert_eq!(LeaveArgs::parse::<&str>(&[]), Err(ArgsError::NoMailbox));
    assert_eq!(LeaveArgs::parse(&["  "]), Err(ArgsError::NoMailbox));
    match LeaveArgs::parse(&["1234&&5678"]) {
        Err(e @ ArgsError::BadMailbox { position: 2, .. }) => {
            assert!(e.to_string().contains("mailbox 2"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        LeaveArgs::parse(&["1234@"]),
        Err(ArgsError::BadMailbox { position: 1, .. })
    ));
    let many = vec!["1"; MAX_RECIPIENTS + 1].join("&");
    assert_eq!(
        LeaveArgs::parse(&[many.as_str()]),
        Err(ArgsError::TooManyRecipients {
            count: MAX_RECIPIENTS + 1
        })
    );
    let exactly = vec!["1"; MAX_RECIPIENTS].join("&");
    assert!(LeaveArgs::parse(&[exactly.as_str()]).is_ok());
    assert_eq!(
        LeaveArgs::parse(&["1234", "ud(ivr"]),
        Err(ArgsError::UnclosedParenthesis { option: 'd' })
    );
    let long = "s".repeat(MAX_OPTIONS + 1);
    assert_eq!(
        LeaveOptions::parse(&long),
        Err(ArgsError::OptionsTooLong {
            len: MAX_OPTIONS + 1
        })
    );
    assert!(matches!(
        LeaveOptions::parse("t(two words)"),
        Err(ArgsError::BadBeep(NameError::BadCharacter { ch: ' ', .. }))
    ));
    assert_eq!(
        LeaveArgs::new(Vec::new(), LeaveOptions::default()),
        Err(ArgsError::NoMailbox)
    );
}

proptest! {
    #[test]
    fn any_argument_text_parses_or_fails_without_panicking(
        boxes in "[0-9a-z@&, ()\\\\-]{0,80}",
        options in proptest::option::of("[a-zA-Z(),\\\\ ]{0,40}"),
    ) {
        let mut args = vec![boxes.clone()];
        args.extend(options);
        if let Ok(parsed) = LeaveArgs::parse(&args) {
            prop_assert!(!parsed.recipients().is_empty());
            prop_assert!(parsed.recipients().len() <= MAX_RECIPIENTS);
            prop_assert_eq!(parsed.recipients().len(), boxes.split('&').count());
        }
    }

    #[test]
    fn well_formed_lists_round_trip(
        boxes in proptest::collection::vec(("[0-9]{1,6}", proptest::option::of("[a-z]{1,8}")), 1..8),
        letters in proptest::collection::vec(proptest::sample::select(vec!['u','b','s','S','U','P']), 0..6),
    ) {
        let text: Vec<String> = boxes
            .iter()
            .map(|(b, c)| c.as_ref().map_or(b.clone(), |c| format!("{b}@{c}")))
            .collect();
        let options: String = letters.iter().collect();
        let parsed = LeaveArgs::parse(&[text.join("&"), options.clone()]).unwrap();
        let expect: Vec<String> = boxes
            .iter()
            .map(|(b, c)| format!("{b}@{}", c.as_deref().unwrap_or("default")))
            .collect();
        prop_assert_eq!(ids(&parsed), expect);
        let o = parsed.options();
        prop_assert_eq!(o.silent, options.contains('s'));
        prop_assert_eq!(o.silent_if_greeting, options.contains('S'));
        prop_assert_eq!(
            o.greeting,
            if options.contains('b') { GreetingOption::Busy }
            else if options.contains('u') { GreetingOption::Unavail }
            else { GreetingOption::None }
        );
        prop_assert_eq!(
            o.urgency,
            if options.contains('U') { Urgency::Urgent }
            else if options.contains('P') { Urgency::Priority }
            else { Urgency::Normal }
        );
        prop_assert_eq!(o.ignored.as_str(), "");
    }
}

#[test]
fn voicemailmain_arguments_are_read_as_asterisk_reads_them() {
    let args = MainArgs::parse(&["1234@sales", "sra(Work)g(3)"]).unwrap();
    assert_eq!(
        args.mailbox().map(|m| m.to_string()).as_deref(),
        Some("1234@sales")
    );
    assert_eq!(args.context(), "sales");
    let o = args.options();
    assert!(o.skip_password && o.read_only && !o.prefix);
    assert_eq!(o.autoplay, Some(Folder::Work));
    assert_eq!(o.ignored, "g");

    // No argument: everything is asked; the context is `default`.
    let args = MainArgs::parse::<&str>(&[]).unwrap();
    assert_eq!(args.mailbox(), None);
    assert_eq!(args.context(), "default");
    assert_eq!(args.context_given(), None);
    assert_eq!(args.options(), &MainOptions::default());

    // A context alone.
    let args = MainArgs::parse(&["@sales"]).unwrap();
    assert_eq!(args.mailbox(), None);
    assert_eq!(args.context_given(), Some("sales"));

    // The old syntax: leading s and p of a single argument are options.
    let args = MainArgs::parse(&["s1234"]).unwrap();
    assert!(args.options().skip_password);
    assert_eq!(
        args.mailbox().map(|m| m.to_string()).as_deref(),
        Some("1234@default")
    );
    let args = MainArgs::parse(&["ps12@sales"]).unwrap();
    assert!(args.options().prefix && args.options().skip_password);
    assert_eq!(args.prefix(), "12");
    assert_eq!(args.mailbox(), None);
    // With two fields the first is never read for options.
    let args = MainArgs::parse(&["s1234", ""]).unwrap();
    assert!(!args.options().skip_password);
    assert_eq!(
        args.mailbox().map(|m| m.mailbox().to_owned()).as_deref(),
        Some("s1234")
    );
}

#[test]
fn the_autoplay_folder_falls_back_to_inbox() {
    let folder = |text: &str| MainArgs::parse(&["1234", text]).unwrap().options().autoplay;
    assert_eq!(folder("a(1)"), Some(Folder::Old));
    assert_eq!(folder("a(9)"), Some(Folder::Cust5));
    assert_eq!(folder("a(2x)"), Some(Folder::Work));
    assert_eq!(folder("a(old)"), Some(Folder::Old));
    assert_eq!(folder("a(FRIENDS)"), Some(Folder::Friends));
    for bad in [
        "a(12)",
        "a(Urgent)",
        "a(Deleted)",
        "a(nowhere)",
        "a()",
        "a",
        "a(-1)",
    ] {
        assert_eq!(folder(bad), Some(Folder::Inbox), "{bad}");
    }
    assert_eq!(folder("s"), None);
}

#[test]
fn bad_voicemailmain_arguments_are_typed_errors() {
    assert!(matches!(
        MainArgs::parse(&["1234@"]),
        Err(ArgsError::BadMailbox { position: 1, .. })
    ));
    assert!(matches!(
        MainArgs::parse(&["12 34"]),
        Err(ArgsError::BadMailbox { .. })
    ));
    assert_eq!(
        MainArgs::parse(&["1234", "a(2"]),
        Err(ArgsError::UnclosedParenthesis { option: 'a' })
    );
    let long = "1".repeat(80);
    assert!(matches!(
        MainArgs::parse(&[long.as_str()]),
        Err(ArgsError::BadMailbox { .. })
    ));
    assert!(MainArgs::parse(&["1".repeat(79).as_str()]).is_ok());
}

proptest! {
    #[test]
    fn any_voicemailmain_argument_parses_or_fails_without_panicking(
        first in "[0-9a-z@ ()sp]{0,40}",
        options in proptest::option::of("[a-z(),0-9 ]{0,30}"),
    ) {
        let mut args = vec![first];
        args.extend(options);
        if let Ok(parsed) = MainArgs::parse(&args)
            && let Some(mailbox) = parsed.mailbox()
        {
            prop_assert!(!mailbox.mailbox().is_empty());
            prop_assert!(parsed.prefix().is_empty());
        }
    }
}
