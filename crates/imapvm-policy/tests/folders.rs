//! Folder indexes ⇄ IMAP mailbox names (§3.1, §3.2, §3.4, §3.5).

use imapvm_policy::{Folder, FolderError, FolderLayout, FolderStorage, Hierarchy, MailboxName};
use proptest::prelude::*;

fn dovecot() -> Hierarchy {
    Hierarchy::dovecot()
}
fn cyrus() -> Hierarchy {
    Hierarchy::new("INBOX/", Some('/')).unwrap()
}
fn courier() -> Hierarchy {
    Hierarchy::new("INBOX.", Some('.')).unwrap()
}

fn layout(imapfolder: &str, parent: Option<&str>, h: Hierarchy) -> FolderLayout {
    FolderLayout::new(imapfolder, parent, None, "INBOX", h).unwrap()
}

fn wire(l: &FolderLayout, f: Folder) -> String {
    l.mailbox_name(f).as_wire().to_owned()
}

#[test]
fn aib_3_1_index_table() {
    let table = [
        (0, "INBOX", FolderStorage::FlagStateInImapFolder),
        (1, "Old", FolderStorage::FlagStateInImapFolder),
        (2, "Work", FolderStorage::Mailbox),
        (3, "Family", FolderStorage::Mailbox),
        (4, "Friends", FolderStorage::Mailbox),
        (5, "Cust1", FolderStorage::Mailbox),
        (6, "Cust2", FolderStorage::Mailbox),
        (7, "Cust3", FolderStorage::Mailbox),
        (8, "Cust4", FolderStorage::Mailbox),
        (9, "Cust5", FolderStorage::Mailbox),
        (10, "Deleted", FolderStorage::Mailbox),
        (11, "Urgent", FolderStorage::FlagStateInImapFolder),
        (-1, "Greetings", FolderStorage::GreetingFolder),
    ];
    for (index, name, storage) in table {
        let f = Folder::from_index(index).unwrap();
        assert_eq!(f.index(), index);
        assert_eq!(f.asterisk_name(), name);
        assert_eq!(f.storage(), storage, "{name}");
        assert_eq!(
            Folder::from_name(&name.to_lowercase()).unwrap(),
            f,
            "case-insensitive {name}"
        );
        assert_eq!(Folder::from_name(&index.to_string()).unwrap(), f);
    }
    assert_eq!(
        Folder::from_index(12),
        Err(FolderError::UnknownIndex { index: 12 })
    );
    assert_eq!(
        Folder::from_index(-2),
        Err(FolderError::UnknownIndex { index: -2 })
    );
    assert!(matches!(
        Folder::from_name("Spam"),
        Err(FolderError::UnknownName { .. })
    ));
}

#[test]
fn aib_3_2_dovecot_names() {
    let l = layout("INBOX", None, dovecot());
    assert_eq!(wire(&l, Folder::Inbox), "INBOX");
    assert_eq!(
        wire(&l, Folder::Old),
        "INBOX",
        "Old is a flag state, not a folder"
    );
    assert_eq!(
        wire(&l, Folder::Urgent),
        "INBOX",
        "Urgent is a flag state, not a folder"
    );
    assert_eq!(wire(&l, Folder::Work), "Work");
    assert_eq!(wire(&l, Folder::Cust5), "Cust5");
    assert_eq!(
        wire(&l, Folder::Greetings),
        "INBOX",
        "§3.4: greetingfolder defaults to imapfolder"
    );
    let p = layout("Voicemail", Some("Voicemail"), dovecot());
    assert_eq!(wire(&p, Folder::Inbox), "Voicemail");
    assert_eq!(wire(&p, Folder::Family), "Voicemail/Family");
}

#[test]
fn aib_3_2_cyrus_names_use_the_inbox_namespace() {
    let l = layout("INBOX", None, cyrus());
    assert_eq!(wire(&l, Folder::Inbox), "INBOX");
    assert_eq!(wire(&l, Folder::Work), "INBOX/Work");
    let v = layout("Voicemail", Some("Voicemail"), cyrus());
    assert_eq!(wire(&v, Folder::Inbox), "INBOX/Voicemail");
    assert_eq!(wire(&v, Folder::Friends), "INBOX/Voicemail/Friends");
}

#[test]
fn aib_3_2_courier_names_and_parent_inbox_not_doubled() {
    let l = layout("INBOX", None, courier());
    assert_eq!(wire(&l, Folder::Work), "INBOX.Work");
    // The usual Asterisk-on-Courier configuration: imapparentfolder=INBOX.
    let p = layout("INBOX", Some("INBOX"), courier());
    assert_eq!(wire(&p, Folder::Work), "INBOX.Work");
    // `/` in imapfolder becomes the server's delimiter (§3.2), for every box.
    let s = layout("Voicemail/Archive", None, courier());
    assert_eq!(wire(&s, Folder::Inbox), "INBOX.Voicemail.Archive");
    // A value already written with the server's prefix is not prefixed again.
    let q = layout("INBOX.Voicemail", None, courier());
    assert_eq!(wire(&q, Folder::Inbox), "INBOX.Voicemail");
    // inbox in any case is INBOX.
    let c = layout("inbox", None, courier());
    assert_eq!(wire(&c, Folder::Inbox), "INBOX");
}

#[test]
fn non_ascii_folder_names_are_modified_utf7() {
    let l = FolderLayout::new(
        "Sprachnachrichten",
        Some("Pers\u{f6}nlich"),
        Some("Begr\u{fc}\u{df}ungen"),
        "INBOX",
        dovecot(),
    )
    .unwrap();
    assert_eq!(wire(&l, Folder::Work), "Pers&APY-nlich/Work");
    assert_eq!(wire(&l, Folder::Greetings), "Begr&APwA3w-ungen");
    assert_eq!(
        imapvm_policy::folder::decoded(&l.mailbox_name(Folder::Greetings)).unwrap(),
        "Begr\u{fc}\u{df}ungen"
    );
}

#[test]
fn aib_3_4_greeting_folder_and_folders_in() {
    let l = layout("INBOX", None, dovecot());
    let inbox = MailboxName::from_wire("inbox").unwrap();
    assert_eq!(
        l.folders_in(&inbox),
        vec![
            Folder::Inbox,
            Folder::Old,
            Folder::Urgent,
            Folder::Greetings
        ]
    );
    let g = FolderLayout::new("INBOX", None, Some("Greetings"), "INBOX", dovecot()).unwrap();
    assert_eq!(wire(&g, Folder::Greetings), "Greetings");
    assert_eq!(
        g.folders_in(&MailboxName::from_wire("Greetings").unwrap()),
        vec![Folder::Greetings]
    );
    assert_eq!(
        g.folders_in(&MailboxName::from_wire("Spam").unwrap()),
        Vec::<Folder>::new()
    );
}

#[test]
fn aib_3_5_required_mailboxes() {
    let l = FolderLayout::new(
        "Voicemail",
        Some("Voicemail"),
        Some("Greetings"),
        "INBOX",
        dovecot(),
    )
    .unwrap();
    let names: Vec<String> = l
        .required_mailboxes(&[
            Folder::Inbox,
            Folder::Old,
            Folder::Work,
            Folder::Urgent,
            Folder::Work,
        ])
        .into_iter()
        .map(|n| n.as_wire().to_owned())
        .collect();
    assert_eq!(names, ["Voicemail", "Voicemail/Work"]);
    let start: Vec<String> = l
        .startup_mailboxes(true)
        .into_iter()
        .map(|n| n.as_wire().to_owned())
        .collect();
    assert_eq!(start, ["Voicemail", "Greetings"]);
    // INBOX always exists; it is never CREATEd.
    assert!(
        layout("INBOX", None, dovecot())
            .startup_mailboxes(false)
            .is_empty()
    );
}

#[test]
fn bad_configured_names_are_typed_errors() {
    assert!(matches!(
        FolderLayout::new("Voice//mail", None, None, "INBOX", dovecot()),
        Err(FolderError::EmptyLevel {
            option: "imapfolder",
            ..
        })
    ));
    assert!(matches!(
        FolderLayout::new("", None, None, "INBOX", dovecot()),
        Err(FolderError::EmptyLevel {
            option: "imapfolder",
            ..
        })
    ));
    assert!(matches!(
        FolderLayout::new("INBOX", Some("a\r\nb"), None, "INBOX", dovecot()),
        Err(FolderError::ControlCharacter {
            option: "imapparentfolder",
            ..
        })
    ));
    // A flat server (no delimiter) cannot hold `Voicemail/Work`.
    let flat = Hierarchy::new("", None).unwrap();
    assert!(matches!(
        FolderLayout::new("INBOX", Some("Voicemail"), None, "INBOX", flat.clone()),
        Err(FolderError::NoHierarchy {
            option: "imapparentfolder",
            ..
        })
    ));
    assert!(matches!(
        FolderLayout::new("Voice/mail", None, None, "INBOX", flat.clone()),
        Err(FolderError::NoHierarchy {
            option: "imapfolder",
            ..
        })
    ));
    let plain = FolderLayout::new("Voicemail", None, None, "INBOX", flat).unwrap();
    assert_eq!(plain.mailbox_name(Folder::Work).as_wire(), "Work");
    assert!(matches!(
        Hierarchy::new("", Some('\n')),
        Err(FolderError::BadDelimiter { .. })
    ));
    let long = "x".repeat(2000);
    assert!(matches!(
        FolderLayout::new(&long, None, None, "INBOX", dovecot()),
        Err(FolderError::TooLong { .. })
    ));
    assert!(matches!(
        MailboxName::from_wire(long.as_str()),
        Err(imapvm_policy::MailboxNameError::TooLong { .. })
    ));
}

#[test]
fn fuzz_regression_inbox_inside_the_inbox_namespace() {
    // Found by `policy_mailbox_name`: on Cyrus (`INBOX/`), `INBOX/INBOX/x` is a
    // folder named INBOX inside the personal namespace, not the top-level INBOX.
    let h = cyrus();
    for wire in [
        "iNBOX/INBOX/T1oOX/TXo-2~roM--o",
        "INBOX/INBOX/x",
        "INBOX/INBOX",
    ] {
        let name = MailboxName::from_wire(wire).unwrap();
        let levels = h.split(&name).unwrap();
        assert_eq!(h.join("imapfolder", &levels).unwrap(), name, "{wire}");
    }
    let prefixed = Hierarchy::new("#mail/", Some('/')).unwrap();
    let name = MailboxName::from_wire("#mail/#mail/x").unwrap();
    assert_eq!(
        prefixed
            .join("imapfolder", &prefixed.split(&name).unwrap())
            .unwrap(),
        name
    );
    // Only the one-level name is canonicalised to INBOX.
    assert_eq!(h.join("imapfolder", &["inbox"]).unwrap().as_wire(), "INBOX");
    assert_eq!(
        h.join("imapfolder", &["inbox", "x"]).unwrap().as_wire(),
        "inbox/x"
    );
}

fn hierarchies() -> Vec<Hierarchy> {
    vec![
        dovecot(),
        Hierarchy::new("", Some('.')).unwrap(),
        cyrus(),
        courier(),
        Hierarchy::new("INBOX.", Some('/')).unwrap(),
        Hierarchy::new("#mail/", Some('/')).unwrap(),
    ]
}

/// One hierarchy level: any non-control text without `/` or `.` (the
/// delimiters under test) and not empty.
fn level() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[^/.\\p{Cc}]{1,12}",
        1 => prop::sample::select(vec!["INBOX", "inbox", "#mail", "Work"]).prop_map(String::from),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn names_round_trip_through_every_delimiter_and_prefix(levels in prop::collection::vec(level(), 1..5)) {
        for h in hierarchies() {
            let name = h.join("imapfolder", &levels).unwrap();
            let back = h.split(&name).unwrap();
            // join ∘ split ∘ join = join always.
            prop_assert_eq!(h.join("imapfolder", &back).unwrap(), name.clone(), "{:?}", h);
            // A name the server lists inside the personal namespace splits
            // into levels that join back to exactly that name.
            let delim = h.delimiter().unwrap_or('/').to_string();
            let path: Vec<String> = levels.iter().map(|l| imapvm_policy::mutf7::encode(l)).collect();
            let path = path.join(&delim);
            for wire in [path.clone(), format!("{}{}", h.prefix(), path)] {
                let server = MailboxName::from_wire(&wire).unwrap();
                let first = wire.split(h.delimiter().unwrap_or('/')).next().unwrap_or("");
                let personal = h.prefix().is_empty()
                    || wire.starts_with(h.prefix())
                    || first.eq_ignore_ascii_case("INBOX");
                if personal && !server.is_inbox() {
                    let server_levels = h.split(&server).unwrap();
                    prop_assert_eq!(h.join("imapfolder", &server_levels).unwrap(), server, "{:?}", h);
                }
            }
            // And the levels come back exactly unless the path itself is INBOX-rooted
            // or already starts with the prefix (then the prefix is the first levels).
            let inbox_rooted = levels[0].eq_ignore_ascii_case("INBOX");
            let pre_prefixed = !h.prefix().is_empty()
                && imapvm_policy::mutf7::encode(&levels.join(&h.delimiter().unwrap_or('/').to_string()))
                    .starts_with(h.prefix());
            if !inbox_rooted && !pre_prefixed {
                prop_assert_eq!(back, levels.clone(), "{:?}", h);
            }
        }
    }

    #[test]
    fn every_folder_maps_back_to_itself(
        imapfolder in prop::collection::vec(level(), 1..3),
        parent in prop::option::of(prop::collection::vec(level(), 1..3)),
        greeting in prop::option::of(level()),
    ) {
        for h in hierarchies() {
            let imapfolder = imapfolder.join("/");
            let parent = parent.as_ref().map(|p| p.join("/"));
            let l = FolderLayout::new(&imapfolder, parent.as_deref(), greeting.as_deref(), "INBOX", h.clone()).unwrap();
            for f in Folder::ALL {
                let name = l.mailbox_name(f);
                prop_assert!(l.folders_in(&name).contains(&f), "{:?} {} {:?}", h, name, f);
                // The wire name always decodes, and a real folder's last level is its Asterisk name.
                let decoded = h.split(&name).unwrap();
                if f.storage() == FolderStorage::Mailbox {
                    prop_assert_eq!(decoded.last().map(String::as_str), Some(f.asterisk_name()));
                }
            }
        }
    }
}

/// What a probe checks: each voicemail mailbox once, `imapfolder` first, the greetings folder only with `imapgreetings=yes`. Was the runtime's
/// own list (`ops/probe.rs`).
#[test]
fn a_probe_checks_every_voicemail_mailbox_once() {
    let layout =
        FolderLayout::new("Voicemail", None, Some("Greetings"), "INBOX", dovecot()).unwrap();
    let names = |greetings| {
        layout
            .voicemail_mailboxes(greetings)
            .into_iter()
            .map(|(f, n)| (f, n.as_wire().to_owned()))
            .collect::<Vec<_>>()
    };
    let without = names(false);
    assert_eq!(without.len(), 9, "{without:?}");
    assert_eq!(without[0], (Folder::Inbox, "Voicemail".to_owned()));
    assert_eq!(without[1], (Folder::Work, "Work".to_owned()));
    assert_eq!(without[8], (Folder::Cust5, "Cust5".to_owned()));
    let with = names(true);
    assert_eq!(with.len(), 10);
    assert_eq!(with[9], (Folder::Greetings, "Greetings".to_owned()));
    // Greetings kept in imapfolder: the same mailbox, listed once (as imapfolder).
    let shared =
        FolderLayout::new("Voicemail", None, Some("Voicemail"), "INBOX", dovecot()).unwrap();
    assert_eq!(shared.voicemail_mailboxes(true).len(), 9);
}
