//! Asterisk's config syntax: comments, escapes, `=>`, `+=`, templates, includes.

use std::path::Path;

use imapvm_config::{MailboxId, MemoryFiles, parse, parse_bytes};

use crate::errors;

fn id(s: &str) -> MailboxId {
    s.parse().expect("a mailbox id")
}

#[test]
fn comments_escaped_semicolons_and_white_space() {
    let text = "  [general]   ; comment after a header\n\
                \tfromstring = Voice; Mail  \n\
                serveremail=vm\\;x@example.com\n\
                imapserver = mail.example.com;-- block --; \n\
                ;-- a block comment\n\
                imapport = 1\n\
                spanning lines --;\n\
                imapfolder=Voice ;-- inline --;mail\n";
    let parsed = parse_bytes("v.conf", text.as_bytes());
    assert!(parsed.diagnostics.is_empty(), "{:#?}", parsed.diagnostics);
    let g = &parsed.config.general;
    assert_eq!(g.fromstring, "Voice");
    assert_eq!(g.serveremail, "vm;x@example.com");
    assert_eq!(g.imapserver, "mail.example.com");
    assert_eq!(
        g.imapport, 143,
        "the line inside the block comment is not read"
    );
    assert_eq!(
        g.imapfolder, "Voice mail",
        "text on both sides of an inline block comment is kept"
    );
}

#[test]
fn crlf_line_ends_are_white_space() {
    let parsed = parse_bytes(
        "v.conf",
        b"[general]\r\nimapserver=a.example\r\n[default]\r\n1 => 1,A,,,imapuser=u\r\n",
    );
    assert!(parsed.diagnostics.is_empty(), "{:#?}", parsed.diagnostics);
    assert_eq!(parsed.config.general.imapserver, "a.example");
    assert_eq!(
        parsed
            .config
            .mailbox(&id("1@default"))
            .unwrap()
            .options
            .imapuser
            .as_deref(),
        Some("u")
    );
}

#[test]
fn plus_equals_appends_to_the_last_value_without_separator() {
    let parsed = parse_bytes(
        "v.conf",
        b"[general]\nformat=wav49\nformat += |gsm\nemailsubject+=New\n",
    );
    assert!(parsed.diagnostics.is_empty(), "{:#?}", parsed.diagnostics);
    // Asterisk appends the raw text after `+=` (here " |gsm"), so the space stays.
    assert_eq!(parsed.config.general.format, ["wav49 ", "gsm"]);
    assert_eq!(
        parsed.config.general.emailsubject.as_deref(),
        Some("New"),
        "+= without a previous value sets it"
    );
}

#[test]
fn first_value_wins_in_general() {
    let parsed = parse_bytes(
        "v.conf",
        b"[general]\nimapserver=first.example\nimapserver=second.example\n",
    );
    assert_eq!(parsed.config.general.imapserver, "first.example");
    assert_eq!(parsed.diagnostics.len(), 1);
    assert_eq!(parsed.diagnostics[0].line, 3);
    assert!(
        parsed.diagnostics[0]
            .message
            .contains("first value (line 2")
    );
}

#[test]
fn templates_and_inheritance() {
    let text = "[general]\n\
                [boxes](!)\n\
                100 => 1,Template Box,,,imapuser=t100\n\
                [sales](boxes)\n\
                200 => 2,Own Box,,,imapuser=t200\n\
                [general](+)\n\
                imapserver=added.example\n";
    let parsed = parse_bytes("v.conf", text.as_bytes());
    assert!(parsed.diagnostics.is_empty(), "{:#?}", parsed.diagnostics);
    let config = &parsed.config;
    assert!(
        config.mailbox(&id("100@boxes")).is_none(),
        "a template is not a context"
    );
    assert_eq!(
        config.mailbox(&id("100@sales")).unwrap().fullname,
        "Template Box"
    );
    assert_eq!(
        config.mailbox(&id("200@sales")).unwrap().fullname,
        "Own Box"
    );
    assert_eq!(config.general.imapserver, "added.example");
}

#[test]
fn includes_are_relative_to_the_configuration_directory() {
    let files = MemoryFiles::new()
        .with(
            "/etc/asterisk/voicemail.conf",
            "[general]\n#include \"vm/imap.conf\"\n[default]\n#include <vm/boxes.conf>\n",
        )
        .with(
            "/etc/asterisk/vm/imap.conf",
            "imapserver=included.example\n",
        )
        .with(
            "/etc/asterisk/vm/boxes.conf",
            "1234 => 1,Included Box,,,imapuser=u\n",
        );
    let parsed = parse(&files, Path::new("/etc/asterisk/voicemail.conf")).unwrap();
    assert!(parsed.diagnostics.is_empty(), "{:#?}", parsed.diagnostics);
    assert_eq!(parsed.config.general.imapserver, "included.example");
    let at = parsed.config.mailbox_location(&id("1234@default")).unwrap();
    assert_eq!(at.file, "/etc/asterisk/vm/boxes.conf");
    assert_eq!(at.line, 1);
}

#[test]
fn missing_include_is_an_error_with_the_chain_and_tryinclude_is_not() {
    let files = MemoryFiles::new()
        .with(
            "/etc/asterisk/voicemail.conf",
            "[general]\n#include a.conf\n#tryinclude nothere.conf\n",
        )
        .with("/etc/asterisk/a.conf", "#include missing.conf\n");
    let parsed = parse(&files, Path::new("/etc/asterisk/voicemail.conf")).unwrap();
    let errs = errors(&parsed);
    assert_eq!(errs.len(), 1, "{:#?}", parsed.diagnostics);
    assert_eq!(errs[0].file, "/etc/asterisk/a.conf");
    assert_eq!(errs[0].line, 1);
    assert!(errs[0].message.contains("/etc/asterisk/missing.conf"));
    assert!(
        errs[0]
            .message
            .contains("/etc/asterisk/a.conf (included from /etc/asterisk/voicemail.conf:2:10)")
    );
}

#[test]
fn include_cycle_is_an_error() {
    let files = MemoryFiles::new()
        .with("/c/voicemail.conf", "[general]\n#include a.conf\n")
        .with("/c/a.conf", "#include ./b.conf\n")
        .with("/c/b.conf", "#include a.conf\n");
    let parsed = parse(&files, Path::new("/c/voicemail.conf")).unwrap();
    let errs = errors(&parsed);
    assert_eq!(errs.len(), 1, "{:#?}", parsed.diagnostics);
    assert!(errs[0].message.contains("cycle"));
    assert_eq!((errs[0].file.as_str(), errs[0].line), ("/c/b.conf", 1));
}

#[test]
fn exec_is_refused() {
    let parsed = parse_bytes("v.conf", b"[general]\n#exec /usr/bin/make-boxes\n");
    let errs = errors(&parsed);
    assert_eq!(errs.len(), 1);
    assert!(errs[0].message.contains("#exec is refused"));
    assert_eq!((errs[0].line, errs[0].column), (2, 1));
}

#[test]
fn missing_top_level_file_is_an_err() {
    assert!(parse(&MemoryFiles::new(), Path::new("/none/voicemail.conf")).is_err());
}

#[test]
fn mailbox_line_is_split_like_asterisk() {
    let text = "[default]\n\
                1 => 1234,Full Name,a@example.com|b@example.com,pager@example.com,imapuser=u|attach=yes,tz=central|tz=eastern\n\
                2 => -4321\n\
                3 => 1,Name,,,|tz=eastern|attach=no|bogus\n";
    let parsed = parse_bytes("v.conf", text.as_bytes());
    let config = &parsed.config;
    let one = config.mailbox(&id("1@default")).unwrap();
    assert_eq!(one.password.expose(), "1234");
    assert_eq!(one.email, ["a@example.com", "b@example.com"]);
    assert_eq!(one.pager, "pager@example.com");
    // `attach=yes,tz=central` is one option whose value is `yes,tz=central`: not a yes word.
    assert_eq!(one.options.attach, Some(false));
    assert_eq!(one.options.tz.as_deref(), Some("eastern"));
    let two = config.mailbox(&id("2@default")).unwrap();
    assert_eq!(two.password.expose(), "-4321");
    assert_eq!(two.fullname, "");
    let three = config.mailbox(&id("3@default")).unwrap();
    assert_eq!(three.options.attach, Some(false));
    assert!(
        parsed
            .diagnostics
            .iter()
            .any(|d| d.line == 4 && d.message.contains("`bogus` has no '='"))
    );
    assert!(
        parsed
            .diagnostics
            .iter()
            .any(|d| d.line == 2 && d.message.contains("not a yes/no value"))
    );
}

#[test]
fn emailbody_escapes_as_an_imap_build_applies_them() {
    let parsed = parse_bytes(
        "v.conf",
        b"[general]\nemailbody=Dear ${VM_NAME}:\\n\\n\\tcall me\\r\\n\\\\done\nemailsubject=[PBX]\\; new ${VM_MSGNUM}\n",
    );
    assert!(parsed.diagnostics.is_empty(), "{:#?}", parsed.diagnostics);
    let g = &parsed.config.general;
    assert_eq!(
        g.emailbody.as_deref(),
        Some("Dear ${VM_NAME}:\r\n\r\n\tcall me\r\n\\done")
    );
    assert_eq!(g.emailsubject.as_deref(), Some("[PBX]; new ${VM_MSGNUM}"));
}

#[test]
fn overlong_lines_are_skipped_like_asterisk() {
    let long = format!(
        "[general]\nfromstring={}\nimapserver=after.example\n",
        "x".repeat(9000)
    );
    let parsed = parse_bytes("v.conf", long.as_bytes());
    assert_eq!(parsed.config.general.fromstring, "");
    assert_eq!(parsed.config.general.imapserver, "after.example");
    assert_eq!(errors(&parsed).len(), 1);
    assert_eq!(errors(&parsed)[0].line, 2);
}
