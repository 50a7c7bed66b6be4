//! Real configurations: Asterisk's sample, the observed reference peer (its voicemail.conf is
//! `docs/reference/asterisk-observed.md` §1.1), the test-server shape.
//! Expectations were written by reading the files, not by copying parser output.

use std::time::Duration;

use imapvm_config::{MailboxId, Origin, Severity, TlsMode, parse_bytes};

use crate::{errors, warnings};

const SAMPLE: &[u8] = include_bytes!("fixtures/voicemail.conf.sample");
const OBSERVED: &[u8] = include_bytes!("fixtures/asterisk-observed.conf");

fn id(s: &str) -> MailboxId {
    s.parse().expect("a mailbox id")
}

#[test]
fn asterisk_sample_parses_without_errors() {
    let parsed = parse_bytes("voicemail.conf.sample", SAMPLE);
    assert!(errors(&parsed).is_empty(), "{:#?}", errors(&parsed));
}

#[test]
fn asterisk_sample_general_is_read_as_asterisk_reads_it() {
    let g = parse_bytes("voicemail.conf.sample", SAMPLE).config.general;
    // Uncommented lines 28, 44, 47, 62, 256 of the sample.
    assert_eq!(g.format, ["wav49", "gsm", "wav"]);
    assert_eq!(g.serveremail, "asterisk");
    assert!(g.attach);
    assert_eq!(g.maxsilence, 10);
    assert_eq!(g.emaildateformat, "%A, %B %d, %Y at %r");
    // Everything IMAP is commented out: Asterisk's defaults.
    assert_eq!(g.imapserver, "localhost");
    assert_eq!(g.imapport, 143);
    assert!(g.imapflags.is_empty());
    assert_eq!(g.imapfolder, "INBOX");
    assert_eq!(g.greetingfolder(), "INBOX");
    assert!(!g.imapgreetings);
    assert!(g.expungeonhangup);
    assert_eq!(g.imapopentimeout, Duration::from_secs(60));
    assert_eq!(g.pollfreq, Duration::from_secs(30));
    assert!(!g.pollmailboxes);
    assert_eq!(g.maxmsg, 100);
    assert_eq!(g.charset, "ISO-8859-1");
    assert!(
        g.aliasescontext.is_none(),
        "aliasescontext is commented out in the sample"
    );
}

#[test]
fn asterisk_sample_zones() {
    let config = parse_bytes("voicemail.conf.sample", SAMPLE).config;
    let names: Vec<&str> = config.zones.iter().map(|z| z.name.as_str()).collect();
    assert_eq!(
        names,
        ["eastern", "central", "central24", "military", "european"]
    );
    let european = config.zone("european").unwrap();
    assert_eq!(european.timezone, "Europe/Copenhagen");
    assert_eq!(european.format, "'vm-received' a d b 'digits/at' HM");
    assert_eq!(config.zone("military").unwrap().timezone, "Zulu");
}

#[test]
fn asterisk_sample_mailboxes() {
    let parsed = parse_bytes("voicemail.conf.sample", SAMPLE);
    let config = &parsed.config;
    // Line 531: `1234 => 4242,Example Mailbox,root@localhost` (only three fields).
    let default = config.mailbox(&id("1234@default")).unwrap();
    assert_eq!(default.password.expose(), "4242");
    assert_eq!(default.fullname, "Example Mailbox");
    assert_eq!(default.email, ["root@localhost"]);
    assert_eq!(default.pager, "");
    assert_eq!(default.options, Default::default());
    // Line 556 in [other].
    let other = config.mailbox(&id("1234@other")).unwrap();
    assert_eq!(other.password.expose(), "5678");
    assert_eq!(other.fullname, "Company2 User");
    // aliasescontext is commented out, so Asterisk reads [myaliases] as one more context whose
    // only mailbox is named `1234@devices` with the "password" `1234@default`. That name cannot
    // be addressed as box@context: imapvm skips it, with a warning at its line.
    assert!(MailboxId::new("1234@devices", "myaliases").is_err());
    assert_eq!(config.mailboxes.len(), 2);
    assert!(config.aliases.is_empty());
    // The sample's boxes have no imapuser: a warning each, plus the '@' in a mailbox name.
    let w = warnings(&parsed);
    assert_eq!(
        w.iter()
            .filter(|d| d.message.contains("has no imapuser"))
            .count(),
        2
    );
    assert!(w.iter().any(|d| d.line == 545
        && d.message.contains("aliasescontext=myaliases")
        && d.message.contains("imapvm skips it")));
    assert!(
        parsed
            .diagnostics
            .iter()
            .all(|d| d.severity != Severity::Error)
    );
}

#[test]
fn asterisk_sample_with_aliasescontext_enabled_reads_aliases() {
    let text = String::from_utf8(SAMPLE.to_vec())
        .unwrap()
        .replace(";aliasescontext=myaliases", "aliasescontext=myaliases");
    let parsed = parse_bytes("voicemail.conf", text.as_bytes());
    assert!(errors(&parsed).is_empty());
    let config = &parsed.config;
    assert_eq!(config.mailboxes.len(), 2);
    assert_eq!(config.aliases.len(), 1);
    assert_eq!(
        config.resolve_alias("1234@devices"),
        Some(&id("1234@default"))
    );
}

#[test]
fn observed_reference_peer_config() {
    let parsed = parse_bytes("voicemail.conf", OBSERVED);
    assert!(parsed.diagnostics.is_empty(), "{:#?}", parsed.diagnostics);
    let config = &parsed.config;
    let g = &config.general;
    assert_eq!(g.format, ["wav49", "gsm", "wav"]);
    assert_eq!(g.serveremail, "asterisk-peer@vm.example.test");
    assert_eq!(
        (g.maxmsg, g.maxsecs, g.minsecs, g.maxsilence),
        (100, 60, 0, 10)
    );
    assert_eq!(g.imapserver, "127.0.0.1");
    assert_eq!(
        g.imapport, 31143,
        "the trailing `; tracing proxy` comment is not part of the value"
    );
    assert!(g.imapflags.notls);
    assert_eq!(g.imapflags.tls_mode(), TlsMode::Plain);
    assert_eq!(g.imapfolder, "INBOX");
    assert!(g.imapgreetings);
    assert_eq!(
        g.greetingfolder(),
        "Greetings",
        "greetingsfolder is the accepted alias"
    );
    assert!(g.expungeonhangup);
    for t in [
        g.imapopentimeout,
        g.imapreadtimeout,
        g.imapwritetimeout,
        g.imapclosetimeout,
    ] {
        assert_eq!(t, Duration::from_secs(10));
    }
    assert!(
        g.authuser.is_none() && g.authpassword.is_none(),
        "both are commented out"
    );
    assert!(g.pollmailboxes);
    assert_eq!(g.pollfreq, Duration::from_secs(10));
    let european = config.zone("european").unwrap();
    assert_eq!(european.timezone, "Europe/Berlin");

    let ids: Vec<String> = config.mailboxes.iter().map(|m| m.id.to_string()).collect();
    assert_eq!(
        ids,
        [
            "1234@default",
            "5678@default",
            "4321@other",
            "2001@sales",
            "2002@sales"
        ]
    );

    let alice = config.settings(&id("1234@default")).unwrap();
    assert_eq!(alice.fullname.value, "Alice Mailbox");
    assert_eq!(alice.imapuser.value.as_deref(), Some("vm1234"));
    assert_eq!(
        alice.imappassword.value.as_ref().unwrap().expose(),
        "REDACTED"
    );
    assert_eq!(alice.imapfolder.value, "INBOX");
    assert_eq!(alice.extension(), "1234");
    assert!(alice.email.value.is_empty());

    let bjorn = config.mailbox(&id("5678@default")).unwrap();
    assert_eq!(bjorn.fullname, "Björn Quota-Test");

    let carol = config.settings(&id("4321@other")).unwrap();
    assert_eq!(carol.imapfolder.value, "Voicemail");
    assert!(matches!(carol.imapfolder.origin, Origin::Mailbox(ref at) if at.line == 48));
    assert_eq!(carol.tz.value.as_deref(), Some("european"));
    assert_eq!(carol.zone.as_ref().unwrap().value.timezone, "Europe/Berlin");
    assert_eq!(carol.imapserver.value, "127.0.0.1");
    assert!(matches!(carol.imapserver.origin, Origin::General(ref at) if at.line == 22));

    let sales = config.settings(&id("2001@sales")).unwrap();
    let support = config.settings(&id("2002@sales")).unwrap();
    assert_eq!(sales.imapuser.value.as_deref(), Some("vmshared"));
    assert_eq!(support.imapuser.value.as_deref(), Some("vmshared"));
    assert_eq!(sales.extension(), "2001");
    assert_eq!(support.extension(), "support");
    assert_eq!(support.imapvmshareid.value.as_deref(), Some("support"));
}

#[test]
fn settings_of_each_is_settings_of_one_in_the_order_asked() {
    let config = parse_bytes("voicemail.conf", OBSERVED).config;
    let ids: Vec<MailboxId> = ["2002@sales", "9999@default", "4321@OTHER", "1234@default"]
        .iter()
        .map(|s| id(s))
        .collect();
    let each = config.settings_of_each(&ids);
    let one_by_one: Vec<_> = ids.iter().map(|i| config.settings(i)).collect();
    assert_eq!(each, one_by_one);
    assert!(each[1].is_none(), "9999@default is no mailbox");
    assert_eq!(each[2].as_ref().unwrap().imapfolder.value, "Voicemail");
    assert!(each[0].is_some() && each[3].is_some());
}

#[test]
fn observed_config_in_the_master_user_phase() {
    let text = String::from_utf8(OBSERVED.to_vec())
        .unwrap()
        .replace("; authuser = vmmaster", "authuser = vmmaster")
        .replace("; authpassword = REDACTED", "authpassword = REDACTED");
    let parsed = parse_bytes("voicemail.conf", text.as_bytes());
    assert!(errors(&parsed).is_empty());
    let alice = parsed.config.settings(&id("1234@default")).unwrap();
    assert_eq!(alice.authuser.value.as_deref(), Some("vmmaster"));
    assert_eq!(alice.login_password().unwrap().expose(), "REDACTED");
    assert!(matches!(alice.authpassword.origin, Origin::General(_)));
    // authpassword together with imappassword: one warning per box that has one.
    let w = warnings(&parsed);
    assert_eq!(
        w.iter()
            .filter(|d| d.message.contains("authpassword is set"))
            .count(),
        5
    );
}

/// The shape of the voicemail.conf the lead's test-server harness writes.
fn harness_conf(flags: &str) -> String {
    format!(
        "[general]\nimapserver=127.0.0.1\nimapport=10143\nimapflags={flags}\nimapfolder=INBOX\nimapgreetings=yes\n\
         greetingsfolder=Greetings\nimapcafile=/tmp/imapvm-test/ca.pem\n\n\
         [default]\n1234 => 1234,Alice Mailbox,,,imapuser=vm1234|imappassword=pw1234\n\n\
         [other]\n4321 => 4321,Carol Folder,,,imapuser=vm4321|imappassword=pw4321|imapfolder=Voicemail\n\n\
         [sales]\n2001 => 2001,Sales Desk,,,imapuser=vmshared|imappassword=pwshared\n\
         2002 => 2002,Support Desk,,,imapuser=vmshared|imappassword=pwshared|imapvmshareid=support\n"
    )
}

#[test]
fn test_server_config_parses_cleanly() {
    for flags in ["tls", "notls"] {
        let parsed = parse_bytes("voicemail.conf", harness_conf(flags).as_bytes());
        assert!(
            parsed.diagnostics.is_empty(),
            "{flags}: {:#?}",
            parsed.diagnostics
        );
        let config = &parsed.config;
        assert_eq!(
            config.general.imapcafile.as_deref(),
            Some("/tmp/imapvm-test/ca.pem")
        );
        assert_eq!(config.mailboxes.len(), 4);
        let carol = config.settings(&id("4321@other")).unwrap();
        assert_eq!(carol.imapport.value, 10143);
        assert_eq!(carol.imapfolder.value, "Voicemail");
        assert_eq!(carol.greetingfolder.value, "Greetings");
        assert_eq!(
            carol.imapcafile.value.as_deref(),
            Some("/tmp/imapvm-test/ca.pem")
        );
        let expected = if flags == "tls" {
            TlsMode::StartTlsRequired
        } else {
            TlsMode::Plain
        };
        assert_eq!(carol.imapflags.value.tls_mode(), expected);
    }
}
