//! Mailbox identity and exact filters (§3.3, §4.2; [INV-4]).

use imapvm_policy::{IdentityError, MailboxId, MailboxIdError, VoicemailIdentity};

fn me(text: &str, share: Option<&str>) -> VoicemailIdentity {
    VoicemailIdentity::new(&MailboxId::parse(text).unwrap(), share).unwrap()
}

#[test]
fn aib_3_3_box_12_never_sees_123_and_default_never_sees_default2() {
    let twelve = me("12@default", None);
    let table: [(Option<&str>, Option<&str>, bool); 12] = [
        (Some("12"), Some("default"), true),
        (Some("123"), Some("default"), false),
        (Some("512"), Some("default"), false),
        (Some("1"), Some("default"), false),
        (Some("12"), Some("default2"), false),
        (Some("12"), Some("xdefault"), false),
        // Exchange lower-cases headers and values travel as written (§2.8): case-insensitive.
        (Some("12"), Some("DEFAULT"), true),
        // Folding/whitespace around the value is not part of it.
        (Some(" 12 "), Some("default\t"), true),
        (Some("1 2"), Some("default"), false),
        (None, Some("default"), false),
        (Some("12"), None, false),
        (Some(""), Some("default"), false),
    ];
    for (ext, ctx, want) in table {
        assert_eq!(twelve.matches(ext, ctx), want, "{ext:?} {ctx:?}");
    }
}

#[test]
fn aib_3_3_imapvmshareid_replaces_the_box_in_writes_and_searches() {
    let a = me("2001@sales", Some("vmshared"));
    let b = me("2002@sales", Some("vmshared"));
    assert_eq!(a.extension(), "vmshared");
    assert!(a.matches(Some("vmshared"), Some("sales")));
    assert!(b.matches(Some("vmshared"), Some("sales")));
    assert!(
        !a.matches(Some("2001"), Some("sales")),
        "the box number is not searched when a share id is set"
    );
    // Empty share id = not set.
    assert_eq!(me("2001@sales", Some("")).extension(), "2001");
}

#[test]
fn aib_4_2_header_keys_are_what_asterisk_sends() {
    let keys: Vec<String> = me("1234", None)
        .header_keys()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        keys,
        [
            "HEADER X-Asterisk-VM-Extension \"1234\"",
            "HEADER X-Asterisk-VM-Context \"default\""
        ]
    );
}

#[test]
fn mailbox_ids_parse_like_asterisk() {
    let id = MailboxId::parse("1234").unwrap();
    assert_eq!((id.mailbox(), id.context()), ("1234", "default"));
    assert_eq!(
        MailboxId::parse("4321@other").unwrap().to_string(),
        "4321@other"
    );
    assert!(matches!(
        MailboxId::parse(""),
        Err(MailboxIdError::Empty {
            part: "mailbox",
            ..
        })
    ));
    assert!(matches!(
        MailboxId::parse("@x"),
        Err(MailboxIdError::Empty {
            part: "mailbox",
            ..
        })
    ));
    assert!(matches!(
        MailboxId::parse("12@"),
        Err(MailboxIdError::Empty {
            part: "context",
            ..
        })
    ));
    assert!(matches!(
        MailboxId::parse("12@a@b"),
        Err(MailboxIdError::BadCharacter {
            part: "context",
            ch: '@',
            ..
        })
    ));
    assert!(matches!(
        MailboxId::parse("1 2@x"),
        Err(MailboxIdError::BadCharacter {
            part: "mailbox",
            ch: ' ',
            ..
        })
    ));
    assert!(matches!(
        MailboxId::parse("12@x\"y"),
        Err(MailboxIdError::BadCharacter { ch: '"', .. })
    ));
    assert!(matches!(
        MailboxId::parse(&"9".repeat(80)),
        Err(MailboxIdError::TooLong { len: 80, .. })
    ));
    assert!(matches!(
        VoicemailIdentity::new(&MailboxId::parse("1").unwrap(), Some("a\r\nb")),
        Err(IdentityError::BadCharacter {
            part: "imapvmshareid",
            ..
        })
    ));
}

/// First value of `name` in the header block of a real Asterisk message
/// (a plain line scan: enough for these unfolded `X-` headers).
fn header<'a>(eml: &'a str, name: &str) -> Option<&'a str> {
    eml.split("\r\n")
        .take_while(|l| !l.is_empty())
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then_some(v)
        })
}

#[test]
fn ao_2_real_asterisk_messages_match_their_box_only() {
    // (fixture, the box@context it was left for, imapvmshareid)
    let corpus = [
        ("01-basic.eml", "1234@default", None),
        ("04-urgent.eml", "1234@default", None),
        ("09-custom-folder-tz-europe.eml", "4321@other", None),
        ("10-shared-account-2001.eml", "2001@sales", None),
        ("20-greeting-unavail.eml", "1234@default", None),
    ];
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/asterisk/");
    for (file, owner, share) in corpus {
        let eml = std::fs::read_to_string(format!("{dir}{file}")).unwrap();
        let ext = header(&eml, "X-Asterisk-VM-Extension");
        let ctx = header(&eml, "X-Asterisk-VM-Context");
        assert!(
            me(owner, share).matches(ext, ctx),
            "{file} belongs to {owner}"
        );
        for other in [
            "123@default",
            "12345@default",
            "1234@default2",
            "4321@default",
            "2001@default",
            "200@sales",
        ] {
            if other != owner {
                assert!(
                    !me(other, None).matches(ext, ctx),
                    "{file} must be invisible to {other}"
                );
            }
        }
    }
}
