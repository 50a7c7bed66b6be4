//! proptest: a random configuration, rendered and parsed, gives the same configuration.

use std::time::Duration;

use imapvm_config::{
    CommandLine, Config, General, ImapFlags, Mailbox, MailboxId, MailboxOptions, Origins, Secret,
    Zone, parse_bytes,
};
use proptest::prelude::*;

/// Text Asterisk's syntax can carry in a value: no line breaks, no edge white space, no `|`
/// or `,` (those split fields), no backslash (an escape), but `;` (written `\;`) and Unicode.
fn word() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9äöüßé@._/:;'() -]{0,12}".prop_map(|s| s.trim().to_string())
}

fn nonempty() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9äé@._-]{1,10}"
}

/// Template text: escapes are allowed and come back as CR LF, TAB, backslash.
fn template() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            word(),
            Just("\r\n".to_string()),
            Just("\t".to_string()),
            Just("\\".to_string())
        ],
        0..6,
    )
    .prop_map(|parts| parts.concat())
    .prop_filter("no edge white space", |s| {
        s.trim() == s && !s.ends_with('\\')
    })
}

/// A command line (`imapoauthcmd`): a program and arguments, some quoted with blanks inside.
fn command() -> impl Strategy<Value = CommandLine> {
    (
        "[a-z0-9/._-]{1,10}",
        prop::collection::vec(
            prop_oneof![
                "[a-zA-Z0-9/._=@-]{1,8}",
                "'[a-z ]{1,8}'",
                "\"[a-z :]{1,8}\""
            ],
            0..4,
        ),
    )
        .prop_map(|(program, args)| {
            let text = std::iter::once(program)
                .chain(args)
                .collect::<Vec<_>>()
                .join(" ");
            CommandLine::parse(&text).expect("a valid command line")
        })
}

fn flags() -> impl Strategy<Value = ImapFlags> {
    (any::<bool>(), 0u8..3, any::<bool>(), any::<bool>()).prop_map(
        |(ssl, mode, novalidate, readonly)| ImapFlags {
            ssl,
            tls: mode == 1,
            notls: mode == 2,
            novalidate_cert: novalidate,
            readonly,
            ..ImapFlags::default()
        },
    )
}

fn opt<S: Strategy>(s: S) -> impl Strategy<Value = Option<S::Value>> {
    prop::option::of(s)
}

fn general() -> impl Strategy<Value = General> {
    (
        (
            nonempty(),
            1u16..,
            flags(),
            nonempty(),
            opt(nonempty()),
            any::<bool>(),
            opt(nonempty()),
            opt(nonempty()),
        ),
        (
            opt(nonempty()),
            any::<bool>(),
            // Zero timeouts and a zero pollfreq are refused (errors), not round-tripped.
            1u64..100_000,
            1u64..1000,
            any::<bool>(),
            opt(nonempty()),
        ),
        (
            prop::collection::vec("[a-z0-9]{1,6}", 1..4),
            nonempty(),
            word(),
            opt(template()),
            opt(template()),
        ),
        (
            any::<bool>(),
            nonempty(),
            word(),
            0u32..=9999,
            0u32..10_000,
            0u32..10_000,
            any::<bool>(),
        ),
        opt(command()),
    )
        .prop_map(|(imap, more, msg, flow, imapoauthcmd)| {
            let (
                imapserver,
                imapport,
                imapflags,
                imapfolder,
                imapparentfolder,
                imapgreetings,
                greetingfolder,
                authuser,
            ) = imap;
            let (authpassword, expungeonhangup, timeout, pollfreq, pollmailboxes, imapcafile) =
                more;
            let (format, serveremail, fromstring, emailsubject, emailbody) = msg;
            let (pbxskip, charset, emaildateformat, maxmsg, maxsecs, minsecs, attach) = flow;
            General {
                imapserver,
                imapport,
                imapflags,
                imapfolder,
                imapparentfolder,
                imapgreetings,
                greetingfolder,
                authuser,
                authpassword: authpassword.map(Secret::new),
                imapoauthcmd,
                expungeonhangup,
                imapopentimeout: Duration::from_secs(timeout),
                imapreadtimeout: Duration::from_secs(timeout + 1),
                imapwritetimeout: Duration::from_secs(timeout + 2),
                imapclosetimeout: Duration::from_secs(timeout + 3),
                pollmailboxes,
                pollfreq: Duration::from_secs(pollfreq),
                imapcafile,
                format,
                serveremail,
                fromstring,
                emailsubject,
                emailbody,
                pbxskip,
                charset,
                emaildateformat,
                maxmsg,
                maxsecs,
                minsecs,
                attach,
                ..General::default()
            }
        })
}

fn options() -> impl Strategy<Value = MailboxOptions> {
    (
        (
            opt(nonempty()),
            opt(nonempty()),
            opt(nonempty()),
            opt(nonempty()),
            opt(nonempty()),
            opt(1u16..),
            opt(flags()),
        ),
        (
            opt(Just("eastern".to_string())),
            opt(any::<bool>()),
            opt(template()),
            opt(template()),
            opt(0u32..=9999),
            opt(1u32..999),
        ),
        opt(command()),
    )
        .prop_map(|(imap, other, imapoauthcmd)| {
            let (
                imapuser,
                imappassword,
                imapvmshareid,
                imapfolder,
                imapserver,
                imapport,
                imapflags,
            ) = imap;
            let (tz, attach, emailsubject, emailbody, maxmsg, maxsecs) = other;
            MailboxOptions {
                imapuser,
                imappassword: imappassword.map(Secret::new),
                imapoauthcmd,
                imapvmshareid,
                imapfolder,
                imapserver,
                imapport,
                imapflags,
                tz,
                attach,
                emailsubject,
                emailbody,
                maxmsg,
                maxsecs,
                ..MailboxOptions::default()
            }
        })
}

fn mailbox() -> impl Strategy<Value = Mailbox> {
    (
        "[0-9]{1,5}",
        prop_oneof![Just("default"), Just("sales"), Just("other")],
        "[0-9]{0,6}",
        word(),
        prop::collection::vec("[a-z]{1,5}@[a-z]{1,5}\\.example", 0..3),
        word(),
        options(),
    )
        .prop_map(
            |(mailbox, context, pin, fullname, email, pager, options)| Mailbox {
                id: MailboxId::new(&mailbox, context).expect("a valid box"),
                password: Secret::new(pin),
                fullname,
                email,
                pager,
                options,
            },
        )
}

fn config() -> impl Strategy<Value = Config> {
    (general(), prop::collection::vec(mailbox(), 0..8)).prop_map(|(general, mut mailboxes)| {
        // Asterisk keeps the first of duplicate mailboxes; the model keeps them unique.
        let mut seen = Vec::new();
        mailboxes.retain(|m| {
            let fresh = !seen.contains(&m.id);
            seen.push(m.id.clone());
            fresh
        });
        // Rendering groups mailboxes by context (first appearance order).
        let mut contexts: Vec<String> = Vec::new();
        for m in &mailboxes {
            if !contexts.iter().any(|c| c == m.id.context()) {
                contexts.push(m.id.context().to_owned());
            }
        }
        mailboxes.sort_by_key(|m| contexts.iter().position(|c| c == m.id.context()));
        let zones = vec![Zone {
            name: "eastern".into(),
            timezone: "America/New_York".into(),
            format: "'vm-received' Q 'digits/at' IMp".into(),
        }];
        Config {
            general,
            zones,
            mailboxes,
            aliases: Vec::new(),
            imapvm: Default::default(),
            origins: Origins::default(),
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn render_then_parse_gives_the_same_config(config in config()) {
        let text = config.render();
        let parsed = parse_bytes("rendered.conf", text.as_bytes());
        let errors: Vec<_> = parsed.diagnostics.iter().filter(|d| d.severity == imapvm_config::Severity::Error).collect();
        prop_assert!(errors.is_empty(), "{errors:#?}\n{text}");
        let mut back = parsed.config;
        back.origins = Origins::default();
        prop_assert_eq!(back, config, "{}", text);
    }
}
