//! Each diagnostic class: what it says and where it points.

use imapvm_config::{ImapFlags, MailboxId, Secret, Severity, parse_bytes};

use crate::{errors, warnings};

#[test]
fn malformed_lines_are_errors_with_position() {
    let parsed = parse_bytes(
        "v.conf",
        b"orphan=1\n[general\n[general]\nno equals sign here\n  = value\n",
    );
    let errs = errors(&parsed);
    let at: Vec<(u32, u32)> = errs.iter().map(|d| (d.line, d.column)).collect();
    assert_eq!(at, [(1, 1), (2, 1), (4, 1), (5, 3)], "{errs:#?}");
    assert!(errs[0].message.contains("before any [section]"));
    assert!(errs[1].message.contains("no closing ']'"));
    assert!(errs[2].message.contains("no '='"));
}

#[test]
fn bad_numbers_and_booleans_are_errors_with_asterisk_fallbacks() {
    let parsed = parse_bytes(
        "v.conf",
        b"[general]\nimapport=imap\nmaxmsg=lots\npollfreq=-5\nimapgreetings=maybe\nexpungeonhangup=perhaps\n",
    );
    let errs = errors(&parsed);
    assert_eq!(errs.len(), 5, "{errs:#?}");
    assert_eq!((errs[0].line, errs[0].column), (2, 10));
    let g = &parsed.config.general;
    assert_eq!(g.imapport, 143);
    assert_eq!(g.maxmsg, 100);
    assert_eq!(g.pollfreq.as_secs(), 30);
    assert!(!g.imapgreetings, "Asterisk reads an unknown word as no");
    assert!(
        g.expungeonhangup,
        "for expungeonhangup anything but a false word is yes"
    );
}

#[test]
fn maxmsg_is_capped_at_asterisks_limit() {
    let parsed = parse_bytes("v.conf", b"[general]\nmaxmsg=20000\n");
    assert_eq!(parsed.config.general.maxmsg, 9999);
    assert_eq!(warnings(&parsed).len(), 1);
}

#[test]
fn unknown_imapflags_is_an_error() {
    let parsed = parse_bytes("v.conf", b"[general]\nimapflags=ssl/novalidate-certs\n");
    let errs = errors(&parsed);
    assert_eq!(errs.len(), 1);
    assert!(errs[0].message.contains("novalidate-certs"));
    assert!(ImapFlags::parse("tls/notls").is_err());
    let flags = ImapFlags::parse("SSL/novalidate-cert").unwrap();
    assert!(flags.ssl && !flags.verifies_certificate());
    assert_eq!(flags.to_string(), "ssl/novalidate-cert");
}

#[test]
fn duplicate_mailbox_is_an_error_and_the_first_wins() {
    let parsed = parse_bytes(
        "v.conf",
        b"[default]\n1 => 1,First,,,imapuser=a\n1 => 2,Second,,,imapuser=b\n",
    );
    let errs = errors(&parsed);
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].line, 3);
    assert!(errs[0].message.contains("v.conf:2:1"));
    assert_eq!(parsed.config.mailboxes.len(), 1);
    assert_eq!(parsed.config.mailboxes[0].fullname, "First");
}

#[test]
fn unknown_options_get_did_you_mean() {
    let parsed = parse_bytes("v.conf", b"[general]\nimapsever=x\nfrobnicate=1\n[default]\n1 => 1,A,,,imapuser=a|imapfoldr=V| tz=eastern\n");
    let w = warnings(&parsed);
    assert!(
        w.iter()
            .any(|d| d.line == 2 && d.message.contains("did you mean `imapserver`")),
        "{w:#?}"
    );
    assert!(w.iter().any(|d| d.line == 3
        && d.message.contains("frobnicate")
        && !d.message.contains("did you mean")));
    assert!(
        w.iter()
            .any(|d| d.line == 5 && d.message.contains("did you mean `imapfolder`"))
    );
    assert!(
        w.iter()
            .any(|d| d.line == 5 && d.message.contains("does not trim spaces"))
    );
    let unknown = &parsed.config.mailboxes[0].options.unknown;
    assert_eq!(unknown.get("imapfoldr").map(String::as_str), Some("V"));
}

#[test]
fn ignored_options_say_why() {
    let parsed = parse_bytes("v.conf", b"[general]\nodbcstorage=asterisk\nopentimeout=5\nimapcafile=/etc/ssl/ca.pem\nskipms=3000\n");
    let w = warnings(&parsed);
    assert_eq!(
        w.len(),
        2,
        "imapcafile and skipms are accepted silently: {w:#?}"
    );
    assert!(w[0].message.contains("ODBC"));
    assert!(w[1].message.contains("imapopentimeout"));
    assert_eq!(
        parsed.config.general.imapopentimeout.as_secs(),
        60,
        "Asterisk ignores the old name"
    );
}

#[test]
fn mailbox_without_imapuser_warns() {
    let parsed = parse_bytes("v.conf", b"[default]\n1234 => 1,Alice\n");
    let w = warnings(&parsed);
    assert_eq!(w.len(), 1);
    assert!(w[0].message.contains("1234@default has no imapuser"));
    assert_eq!((w[0].line, w[0].column), (2, 1));
}

#[test]
fn notls_with_a_password_to_a_remote_host_warns() {
    let remote = parse_bytes("v.conf", b"[general]\nimapserver=mail.example.com\nimapflags=notls\n[default]\n1 => 1,A,,,imapuser=a|imappassword=p\n");
    let w = warnings(&remote);
    assert_eq!(w.len(), 1, "{w:#?}");
    assert!(w[0].message.contains("clear text"));
    assert_eq!(w[0].line, 3, "it points at the imapflags that set notls");
    let local = parse_bytes("v.conf", b"[general]\nimapserver=127.0.0.1\nimapflags=notls\n[default]\n1 => 1,A,,,imapuser=a|imappassword=p\n");
    assert!(local.diagnostics.is_empty());
}

#[test]
fn unknown_zone_and_truncated_values_warn() {
    let long_server = "s".repeat(60);
    let text = format!(
        "[general]\nimapserver={long_server}\n[default]\n1 => 1,A,,,imapuser=a|tz=nowhere\n"
    );
    let w = warnings(&parse_bytes("v.conf", text.as_bytes()))
        .into_iter()
        .cloned()
        .collect::<Vec<_>>();
    assert_eq!(w.len(), 2, "{w:#?}");
    assert!(w[0].message.contains("keeps only the first 47"));
    assert!(w[1].message.contains("no [zonemessages] entry `nowhere`"));
}

#[test]
fn option_in_a_context_is_read_as_a_mailbox() {
    let parsed = parse_bytes("v.conf", b"[other]\ndirectoryintro=dir-company2\n");
    let w = warnings(&parsed);
    assert!(w.iter().any(|d| {
        d.message
            .contains("read by Asterisk as a mailbox named `directoryintro`")
    }));
    assert!(
        parsed
            .config
            .mailbox(&MailboxId::new("directoryintro", "other").unwrap())
            .is_some()
    );
}

#[test]
fn secrets_never_print() {
    let parsed = parse_bytes(
        "v.conf",
        b"[general]\nauthuser=master\nauthpassword=TopSecret1\n[default]\n1 => PinSecret2,A,,,imapuser=a|imappassword=ImapSecret3\n",
    );
    let dump = format!(
        "{:?} {:?}",
        parsed,
        parsed.config.settings(&"1@default".parse().unwrap())
    );
    let json = serde_json::to_string(&parsed.config.general).unwrap()
        + &serde_json::to_string(&parsed.config.mailboxes).unwrap()
        + &serde_json::to_string(
            &parsed
                .config
                .settings(&"1@default".parse().unwrap())
                .unwrap()
                .rows(),
        )
        .unwrap();
    for secret in ["TopSecret1", "PinSecret2", "ImapSecret3"] {
        assert!(!dump.contains(secret), "{secret} in Debug output");
        assert!(!json.contains(secret), "{secret} in JSON output");
    }
    assert!(json.contains("***"));
    assert_eq!(Secret::new("x").to_string(), "***");
    let d = &parsed.diagnostics;
    assert!(d.iter().all(|d| d.severity == Severity::Warning));
}

#[test]
fn imapvm_outbox_is_accepted_silently_and_shown_with_its_origin() {
    let parsed = parse_bytes(
        "v.conf",
        b"[general]\nimapvm_outbox=/var/spool/imapvm/q\n[default]\n1 => 1,A,,,imapuser=u\n",
    );
    assert!(warnings(&parsed).is_empty(), "{:#?}", warnings(&parsed));
    assert_eq!(
        parsed.config.general.imapvm_outbox.as_deref(),
        Some("/var/spool/imapvm/q")
    );
    let id: imapvm_config::MailboxId = "1@default".parse().unwrap();
    let s = parsed.config.settings(&id).unwrap();
    assert_eq!(
        s.imapvm_outbox.value.as_deref(),
        Some("/var/spool/imapvm/q")
    );
    let rendered = parsed.config.render();
    assert!(
        rendered.contains("imapvm_outbox=/var/spool/imapvm/q"),
        "{rendered}"
    );
}

/// Each mailbox line keeps where its options were written (a sorted slice per line, not a
/// map: 10,000 lines held by the watcher), found by canonical name.
#[test]
fn the_origins_of_a_lines_options_are_found_by_name() {
    let parsed = parse_bytes(
        "v.conf",
        b"[general]\nimapserver=h\n[default]\n1 => 1,A,,,tz=eastern|imapuser=u|imappassword=p|maxmsg=5\n2 => 2,B\n",
    );
    let opts = &parsed.config.origins.mailbox_options;
    assert_eq!(opts.len(), 2);
    let at = |name: &str| opts[0].get(name).map(|l| (l.line, l.column));
    assert_eq!(at("imapuser"), Some((4, 32)));
    assert_eq!(at("maxmsg"), Some((4, 56)));
    assert_eq!(at("tz"), Some((4, 15)));
    assert_eq!(at("imapsecret"), None);
    let names: Vec<&str> = opts[0].iter().map(|(name, _)| name).collect();
    assert_eq!(names, ["imappassword", "imapuser", "maxmsg", "tz"]);
    assert_eq!(opts[1].iter().count(), 0);
    // The settings still name the option's own place as the origin.
    let id: imapvm_config::MailboxId = "1@default".parse().unwrap();
    let s = parsed.config.settings(&id).unwrap();
    assert_eq!(
        s.maxmsg.origin,
        imapvm_config::Origin::Mailbox(imapvm_config::Location::new("v.conf", 4, 56))
    );
}

/// A mailbox name that cannot be `box@context` (a quote, too long) is an error at its
/// file:line and the line is skipped; the other boxes are still read. Never a panic.
#[test]
fn a_mailbox_name_that_cannot_be_a_box_is_an_error_at_its_line() {
    let long = "9".repeat(80);
    let text = format!(
        "[default]\n12\"3 => 1,A,,,imapuser=a\n{long} => 1,B,,,imapuser=b\n1234 => 1,C,,,imapuser=c\n"
    );
    let parsed = parse_bytes("v.conf", text.as_bytes());
    let errs = errors(&parsed);
    let at: Vec<(u32, u32)> = errs.iter().map(|d| (d.line, d.column)).collect();
    assert_eq!(at, [(2, 1), (3, 1)], "{errs:#?}");
    assert!(
        errs[0].message.contains("forbidden character '\"'"),
        "{}",
        errs[0].message
    );
    assert!(
        errs[1].message.contains("over the 79 byte limit"),
        "{}",
        errs[1].message
    );
    assert!(
        errs.iter()
            .all(|d| d.message.contains("imapvm skips this line"))
    );
    let ids: Vec<String> = parsed
        .config
        .mailboxes
        .iter()
        .map(|m| m.id.to_string())
        .collect();
    assert_eq!(ids, ["1234@default"]);
}

/// A zero timeout or poll interval is refused at its line, not repaired: imapvm would wait
/// forever or spin. The value is kept as written (0), so nothing downstream guesses one.
#[test]
fn zero_timeouts_and_pollfreq_are_errors_at_their_line() {
    let parsed = parse_bytes(
        "v.conf",
        b"[general]\nimapopentimeout=0\nimapreadtimeout=0\nimapwritetimeout=0\nimapclosetimeout=0\npollfreq=0\nimapwritetimeout=5\n",
    );
    let errs = errors(&parsed);
    let lines: Vec<u32> = errs.iter().map(|d| d.line).collect();
    assert_eq!(lines, [2, 3, 4, 5, 6], "{errs:#?}");
    for (d, name) in errs.iter().zip([
        "imapopentimeout",
        "imapreadtimeout",
        "imapwritetimeout",
        "imapclosetimeout",
        "pollfreq",
    ]) {
        assert!(
            d.message.starts_with(&format!("{name}=0: ")),
            "{}",
            d.message
        );
    }
    let g = &parsed.config.general;
    assert!(g.imapopentimeout.is_zero() && g.pollfreq.is_zero());
}

/// `imapoauthcmd` (imapvm only) in `[general]` and on a mailbox line: accepted silently,
/// the box's own wins, origins and `config show` rows name it, it renders back, and it is
/// split into program and arguments as a shell would split it (no shell runs it).
#[test]
fn imapoauthcmd_is_read_in_general_and_per_mailbox_and_the_mailbox_wins() {
    let text = "[general]\nimapoauthcmd=oama access \"shared box@example.com\"\n\
                [default]\n1 => 1,A,,,imapuser=a@example.com\n\
                2 => 2,B,,,imapuser=b@example.com|imapoauthcmd=python3 /etc/imapvm/token.py b\n";
    let parsed = parse_bytes("v.conf", text.as_bytes());
    assert!(parsed.diagnostics.is_empty(), "{:#?}", parsed.diagnostics);
    let general = parsed.config.general.imapoauthcmd.as_ref().unwrap();
    assert_eq!(general.argv(), ["oama", "access", "shared box@example.com"]);

    let one: MailboxId = "1@default".parse().unwrap();
    let s = parsed.config.settings(&one).unwrap();
    assert_eq!(s.imapoauthcmd.value.as_ref(), Some(general));
    assert_eq!(s.imapoauthcmd.origin.to_string(), "[general] v.conf:2:14");

    let two: MailboxId = "2@default".parse().unwrap();
    let s = parsed.config.settings(&two).unwrap();
    let own = s.imapoauthcmd.value.as_ref().unwrap();
    assert_eq!(own.program(), "python3");
    assert_eq!(own.args(), ["/etc/imapvm/token.py", "b"]);
    assert!(
        s.imapoauthcmd
            .origin
            .to_string()
            .starts_with("mailbox v.conf:5:")
    );
    let row = s
        .rows()
        .into_iter()
        .find(|r| r.option == "imapoauthcmd")
        .unwrap();
    assert_eq!(row.value.as_deref(), Some("python3 /etc/imapvm/token.py b"));

    let rendered = parsed.config.render();
    assert!(
        rendered.contains("imapoauthcmd=oama access \"shared box@example.com\"\n"),
        "{rendered}"
    );
    assert!(
        rendered.contains("|imapoauthcmd=python3 /etc/imapvm/token.py b"),
        "{rendered}"
    );
    let json = serde_json::to_string(&parsed.config.mailboxes[1].options).unwrap();
    assert!(
        json.contains(r#""imapoauthcmd":"python3 /etc/imapvm/token.py b""#),
        "{json}"
    );
}

/// A value that cannot be split into a program and its arguments is an error at its
/// file:line:column (the runtime then refuses the file); the box is still read.
#[test]
fn an_imapoauthcmd_that_names_no_program_is_an_error_at_its_place() {
    let parsed = parse_bytes(
        "v.conf",
        b"[general]\nimapoauthcmd=oama 'unclosed\n[default]\n1 => 1,A,,,imapuser=a|imapoauthcmd=\n",
    );
    let errors = errors(&parsed);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(
        errors[0]
            .to_string()
            .starts_with("v.conf:2:14: error: imapoauthcmd: a quote is not closed"),
        "{}",
        errors[0]
    );
    assert!(
        errors[0].to_string().contains("run without a shell"),
        "{}",
        errors[0]
    );
    assert!(
        errors[1]
            .to_string()
            .contains("imapoauthcmd: it names no program"),
        "{}",
        errors[1]
    );
    assert_eq!(errors[1].line, 4);
    assert_eq!(parsed.config.general.imapoauthcmd, None);
    assert_eq!(parsed.config.mailboxes.len(), 1);
    assert_eq!(parsed.config.mailboxes[0].options.imapoauthcmd, None);
}

/// `notls` to a remote server: a token would go in clear as a password would.
#[test]
fn notls_warns_that_the_token_goes_in_clear() {
    let parsed = parse_bytes(
        "v.conf",
        b"[general]\nimapserver=imap.example.com\nimapflags=notls\nimapoauthcmd=gcloud auth print-access-token\n[default]\n1 => 1,A,,,imapuser=a\n",
    );
    let w = warnings(&parsed);
    assert!(
        w.iter().any(|d| d
            .message
            .contains("notls, so the OAuth token goes to imap.example.com in clear text")),
        "{w:#?}"
    );
}
