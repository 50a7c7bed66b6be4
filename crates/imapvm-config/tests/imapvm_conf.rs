//! imapvm.conf: its `[general]` typed with file:line diagnostics, where it is looked for,
//! and how it combines with the legacy `[imapvm]` section of voicemail.conf.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use imapvm_config::{
    AmiMode, ConfigError, DEFAULT_AGI_LISTEN, IMAPVM_KEYS, ImapvmConfPath, ImapvmSection,
    MemoryFiles, Parsed, Severity, parse, parse_bytes, parse_imapvm_conf, parse_imapvm_conf_bytes,
    parse_with_imapvm_conf,
};
use proptest::prelude::*;

use crate::{errors, mailbox_ids, warnings};

const FULL: &str = "; imapvm's own options\n\
[general]\n\
ami = 127.0.0.1:5038,imapvm,s3cr3t,mwi\n\
webhook = http://127.0.0.1:8080/mwi\n\
webhook = http://[::1]:8081/mwi\n\
webhook_timeout = 2\n\
webhook_retries = 0\n\
webhook_inflight = 16\n\
webhook_secret = hook-s3cr3t\n\
webhook_cafile = /etc/ssl/hooks-ca.pem\n\
ami_cafile = /etc/asterisk/keys/ca.pem\n\
metrics = 127.0.0.1:9090\n\
agi_listen = [::1]:4573\n\
agi_spool = /srv/imapvm/agi\n\
agi_allow = 192.0.2.0/24\n\
agi_allow = 2001:db8::/32\n\
cache_dir = /var/cache/imapvm\n";

#[test]
fn every_key_is_typed() {
    let conf = parse_imapvm_conf_bytes("imapvm.conf", FULL.as_bytes());
    assert!(conf.diagnostics.is_empty(), "{:#?}", conf.diagnostics);
    let g = &conf.general;
    assert_eq!(g.ami.len(), 1);
    assert_eq!((g.ami[0].port, g.ami[0].mode), (5038, AmiMode::Mwi));
    assert_eq!(g.webhooks.len(), 2);
    assert_eq!(g.webhook_timeout, Duration::from_secs(2));
    assert_eq!((g.webhook_retries, g.webhook_inflight), (0, 16));
    assert_eq!(
        g.webhook_secret.as_ref().map(|s| s.expose()),
        Some("hook-s3cr3t")
    );
    assert_eq!(
        g.webhook_cafile.as_deref(),
        Some(Path::new("/etc/ssl/hooks-ca.pem"))
    );
    assert_eq!(
        g.ami_cafile.as_deref(),
        Some(Path::new("/etc/asterisk/keys/ca.pem"))
    );
    assert_eq!(g.metrics, Some("127.0.0.1:9090".parse().unwrap()));
    assert_eq!(g.agi_listen, "[::1]:4573".parse::<SocketAddr>().unwrap());
    assert_eq!(g.agi_spool, PathBuf::from("/srv/imapvm/agi"));
    let allow: Vec<String> = g.agi_allow.iter().map(ToString::to_string).collect();
    assert_eq!(allow, ["192.0.2.0/24", "2001:db8::/32"]);
    assert_eq!(g.cache_dir.as_deref(), Some(Path::new("/var/cache/imapvm")));
    // Secrets never show in Debug output.
    let debug = format!("{g:?}");
    assert!(!debug.contains("s3cr3t"), "{debug}");
}

#[test]
fn an_empty_file_is_the_defaults() {
    let conf = parse_imapvm_conf_bytes("imapvm.conf", b"[general]\n");
    assert!(conf.diagnostics.is_empty());
    assert!(conf.general.is_default());
    assert_eq!(conf.general.agi_listen, DEFAULT_AGI_LISTEN);
    assert_eq!(
        conf.general.agi_spool,
        PathBuf::from("/var/spool/asterisk/imapvm")
    );
    assert_eq!(conf.general.metrics, None);
    assert_eq!(conf.general.cache_dir, None);
}

#[test]
fn diagnostics_have_file_line_and_column() {
    let text = "[general]\n\
agi_listen = localhost\n\
agi_spool = spool\n\
webhook_secret = ok-secret\n\
amii = 1\n\
imapserver = mail.example\n\
agi_allow = 192.0.2.7\n\
metrics = 127.0.0.1:9090\n\
metrics = 127.0.0.1:9091\n\
webhook_cafile = \n\
[outputs]\n\
ami = 127.0.0.1:5038,u,p\n";
    let conf = parse_imapvm_conf_bytes("/etc/asterisk/imapvm.conf", text.as_bytes());
    let at = |d: &imapvm_config::Diagnostic| (d.severity, d.line, d.column);
    let found: Vec<_> = conf.diagnostics.iter().map(at).collect();
    assert_eq!(
        found,
        [
            (Severity::Error, 2, 14),
            (Severity::Error, 3, 13),
            (Severity::Warning, 5, 1),
            (Severity::Warning, 6, 1),
            (Severity::Error, 7, 13),
            (Severity::Warning, 9, 1),
            (Severity::Error, 10, 15),
            (Severity::Warning, 11, 1),
        ],
        "{:#?}",
        conf.diagnostics
    );
    let text_of = |line: u32| {
        conf.diagnostics
            .iter()
            .find(|d| d.line == line)
            .map(ToString::to_string)
            .unwrap()
    };
    assert!(
        text_of(2).starts_with("/etc/asterisk/imapvm.conf:2:14: error: agi_listen:"),
        "{}",
        text_of(2)
    );
    assert!(text_of(3).contains("relative path"), "{}", text_of(3));
    assert!(text_of(5).contains("did you mean `ami`?"), "{}", text_of(5));
    assert!(
        text_of(6).contains("voicemail.conf option"),
        "{}",
        text_of(6)
    );
    assert!(text_of(7).contains("CIDR"), "{}", text_of(7));
    assert!(
        text_of(9).contains("first at /etc/asterisk/imapvm.conf:8"),
        "{}",
        text_of(9)
    );
    assert!(text_of(11).contains("[outputs]"), "{}", text_of(11));
    // The later `metrics` wins; the bad lines keep the defaults; [outputs] is not read.
    assert_eq!(
        conf.general.metrics,
        Some("127.0.0.1:9091".parse().unwrap())
    );
    assert_eq!(conf.general.agi_listen, DEFAULT_AGI_LISTEN);
    assert!(conf.general.ami.is_empty());
    assert!(conf.general.agi_allow.is_empty());
    for d in &conf.diagnostics {
        assert!(!d.message.contains("ok-secret"), "{d}");
    }
}

/// `/etc/asterisk/voicemail.conf` and, if given, the imapvm.conf beside it, parsed together.
fn in_etc_asterisk(voicemail_conf: &str, imapvm_conf: Option<&str>) -> Parsed {
    let mut files = MemoryFiles::new().with("/etc/asterisk/voicemail.conf", voicemail_conf);
    if let Some(text) = imapvm_conf {
        files.insert("/etc/asterisk/imapvm.conf", text);
    }
    parse_with_imapvm_conf(
        &files,
        Path::new("/etc/asterisk/voicemail.conf"),
        &ImapvmConfPath::Beside,
    )
    .expect("voicemail.conf is there")
}

/// `section` rendered as an imapvm.conf parses back to itself, without diagnostics.
pub(crate) fn renders_back(section: &ImapvmSection) -> Result<(), TestCaseError> {
    let rendered = section.render();
    let again = parse_imapvm_conf_bytes("rendered.conf", rendered.as_bytes());
    prop_assert!(
        again.diagnostics.is_empty(),
        "{rendered}\n{:?}",
        again.diagnostics
    );
    prop_assert_eq!(&again.general, section, "{}", rendered);
    Ok(())
}

/// A voicemail.conf with the legacy section (lines 5 to 8) and a mailbox in it.
const LEGACY: &str = "[general]\nimapserver = imap.example\n\n[imapvm]\n\
ami = 127.0.0.1:5038,imapvm,s3cr3t,refresh\n\
webhook = http://127.0.0.1:8080/old\n\
webhook_timeout = 9\n\
4324 => 7764,Ellis Redding,,,imapuser=red\n\
\n[default]\n1234 => 4242,Alice,,,imapuser=alice\n";

#[test]
fn the_legacy_section_is_read_and_says_which_lines_to_move_where() {
    let parsed = in_etc_asterisk(LEGACY, None);
    assert_eq!(parsed.imapvm_conf, None, "no imapvm.conf beside it");
    assert!(errors(&parsed).is_empty(), "{:#?}", parsed.diagnostics);
    let s = &parsed.config.imapvm;
    assert_eq!(s.ami.len(), 1);
    assert_eq!(s.webhook_timeout, Duration::from_secs(9));
    let w = warnings(&parsed);
    assert_eq!(w.len(), 1, "{w:#?}");
    assert_eq!(
        (w[0].file.as_str(), w[0].line),
        ("/etc/asterisk/voicemail.conf", 4)
    );
    let m = &w[0].message;
    assert!(
        m.contains(
            "move line 5 `ami`, line 6 `webhook`, line 7 `webhook_timeout` to the [general] section of /etc/asterisk/imapvm.conf"
        ),
        "{m}"
    );
    assert!(
        m.contains("ami@imapvm, webhook@imapvm, webhook_timeout@imapvm"),
        "{m}"
    );
    assert!(!m.contains("s3cr3t"), "{m}");
    assert_eq!(
        mailbox_ids(&parsed),
        ["4324@imapvm", "1234@default"],
        "mailboxes stay mailboxes"
    );

    // `parse` (voicemail.conf alone) reads it the same way and names the same target.
    let files = MemoryFiles::new().with("/etc/asterisk/voicemail.conf", LEGACY);
    let alone = parse(&files, Path::new("/etc/asterisk/voicemail.conf")).unwrap();
    assert_eq!(alone.config.imapvm, parsed.config.imapvm);
    assert_eq!(alone.diagnostics, parsed.diagnostics);
}

#[test]
fn imapvm_conf_wins_key_by_key_over_the_legacy_section() {
    let parsed = in_etc_asterisk(
        LEGACY,
        Some("[general]\nwebhook = http://127.0.0.1:8080/new\nmetrics = 127.0.0.1:9090\n"),
    );
    assert_eq!(
        parsed.imapvm_conf.as_deref(),
        Some("/etc/asterisk/imapvm.conf")
    );
    let s = &parsed.config.imapvm;
    // `ami` and `webhook_timeout` from [imapvm]; `webhook` and `metrics` from imapvm.conf.
    assert_eq!(s.ami.len(), 1);
    assert_eq!(s.webhook_timeout, Duration::from_secs(9));
    let hooks: Vec<String> = s.webhooks.iter().map(ToString::to_string).collect();
    assert_eq!(hooks, ["http://127.0.0.1:8080/new"]);
    assert!(s.metrics.is_some());
    let w = warnings(&parsed);
    let lines: Vec<(&str, u32)> = w.iter().map(|d| (d.file.as_str(), d.line)).collect();
    assert_eq!(
        lines,
        [
            ("/etc/asterisk/voicemail.conf", 4),
            ("/etc/asterisk/voicemail.conf", 6)
        ],
        "{w:#?}"
    );
    assert!(
        w[0].message.contains("move line 5 `ami`, line 7 `webhook_timeout` to the [general] section of /etc/asterisk/imapvm.conf; delete line 6 `webhook` (/etc/asterisk/imapvm.conf sets them)"),
        "{}",
        w[0].message
    );
    assert!(
        w[1].message
            .contains("/etc/asterisk/imapvm.conf:2 sets `webhook`"),
        "{}",
        w[1].message
    );
}

#[test]
fn errors_of_both_files_come_in_file_order() {
    let parsed = in_etc_asterisk(
        "[general]\nmaxmsg = lots\n[default]\n1234 => 4242,Alice,,,imapuser=alice\n",
        Some("[general]\nagi_allow = everyone\n"),
    );
    let e: Vec<String> = errors(&parsed)
        .iter()
        .map(|d| format!("{}:{}", d.file, d.line))
        .collect();
    assert_eq!(
        e,
        [
            "/etc/asterisk/voicemail.conf:2",
            "/etc/asterisk/imapvm.conf:2"
        ]
    );
}

#[test]
fn where_imapvm_conf_is_looked_for() {
    // Beside voicemail.conf, as Asterisk keeps every module's file in one directory.
    assert_eq!(
        ImapvmConfPath::Beside.resolve(Path::new("/opt/pbx/etc/voicemail.conf")),
        PathBuf::from("/opt/pbx/etc/imapvm.conf")
    );
    assert_eq!(
        ImapvmConfPath::Beside.resolve(Path::new("voicemail.conf")),
        PathBuf::from("imapvm.conf")
    );
    assert_eq!(
        ImapvmConfPath::File("/srv/x.conf".into())
            .resolve(Path::new("/etc/asterisk/voicemail.conf")),
        PathBuf::from("/srv/x.conf")
    );
    let files = MemoryFiles::new()
        .with(
            "/opt/pbx/voicemail.conf",
            "[default]\n1234 => 1,A,,,imapuser=a\n",
        )
        .with(
            "/opt/pbx/imapvm.conf",
            "[general]\nagi_listen = 127.0.0.1:4574\n",
        )
        .with(
            "/srv/other.conf",
            "[general]\nagi_listen = 127.0.0.1:4575\n#include \"more.conf\"\n",
        )
        .with("/srv/more.conf", "agi_spool = /srv/spool\n");
    let vm = Path::new("/opt/pbx/voicemail.conf");
    let beside = parse_with_imapvm_conf(&files, vm, &ImapvmConfPath::Beside).unwrap();
    assert_eq!(beside.config.imapvm.agi_listen.port(), 4574);
    // An explicit file; its includes resolve against its own directory.
    let other = ImapvmConfPath::File("/srv/other.conf".into());
    let explicit = parse_with_imapvm_conf(&files, vm, &other).unwrap();
    assert!(
        explicit.diagnostics.is_empty(),
        "{:#?}",
        explicit.diagnostics
    );
    assert_eq!(explicit.config.imapvm.agi_listen.port(), 4575);
    assert_eq!(
        explicit.config.imapvm.agi_spool,
        PathBuf::from("/srv/spool")
    );
    assert_eq!(explicit.imapvm_conf.as_deref(), Some("/srv/other.conf"));
    // A missing default file is no error; a missing explicit file is.
    let lone = MemoryFiles::new().with(
        "/etc/asterisk/voicemail.conf",
        "[default]\n1 => 1,A,,,imapuser=a\n",
    );
    let vm = Path::new("/etc/asterisk/voicemail.conf");
    let ok = parse_with_imapvm_conf(&lone, vm, &ImapvmConfPath::Beside).unwrap();
    assert!(ok.config.imapvm.is_default());
    let missing = ImapvmConfPath::File("/etc/asterisk/imapvm-typo.conf".into());
    match parse_with_imapvm_conf(&lone, vm, &missing) {
        Err(ConfigError::Read { path, .. }) => assert_eq!(path, "/etc/asterisk/imapvm-typo.conf"),
        other => panic!("expected a read error, got {other:?}"),
    }
    // A voicemail.conf that is itself called imapvm.conf is not read a second time.
    let odd = MemoryFiles::new().with("/run/x/imapvm.conf", "[default]\n1 => 1,A,,,imapuser=a\n");
    let parsed = parse_with_imapvm_conf(
        &odd,
        Path::new("/run/x/imapvm.conf"),
        &ImapvmConfPath::Beside,
    )
    .unwrap();
    assert!(parsed.diagnostics.is_empty(), "{:#?}", parsed.diagnostics);
    assert_eq!(parsed.imapvm_conf, None);
}

#[test]
fn parse_imapvm_conf_reads_through_the_injected_files() {
    let files = MemoryFiles::new().with("/etc/asterisk/imapvm.conf", FULL);
    let conf = parse_imapvm_conf(&files, Path::new("/etc/asterisk/imapvm.conf")).unwrap();
    assert_eq!(
        conf.general,
        parse_imapvm_conf_bytes("x", FULL.as_bytes()).general
    );
    assert!(parse_imapvm_conf(&files, Path::new("/nowhere/imapvm.conf")).is_err());
}

#[test]
fn render_writes_a_whole_imapvm_conf() {
    let conf = parse_imapvm_conf_bytes("imapvm.conf", FULL.as_bytes());
    let text = conf.general.render();
    assert!(text.starts_with("[general]\n"), "{text}");
    renders_back(&conf.general).unwrap();
    assert_eq!(ImapvmSection::default().render(), "[general]\n");
    // voicemail.conf's legacy section is rendered into imapvm.conf, never back into
    // voicemail.conf.
    let legacy = parse_bytes("voicemail.conf", LEGACY.as_bytes());
    assert!(!legacy.config.render().contains("ami"));
}

/// The commented imapvm.conf the .deb installs as /etc/asterisk/imapvm.conf.
#[test]
fn the_packaged_sample_documents_every_key_and_its_examples_are_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging/imapvm.conf");
    let text = std::fs::read_to_string(&path).unwrap();
    let as_shipped = parse_imapvm_conf_bytes("imapvm.conf", text.as_bytes());
    assert!(
        as_shipped.diagnostics.is_empty(),
        "{:#?}",
        as_shipped.diagnostics
    );
    assert!(
        as_shipped.general.is_default(),
        "every option is commented out"
    );
    let example = |line: &str| -> Option<String> {
        let rest = line.strip_prefix(';')?;
        IMAPVM_KEYS
            .iter()
            .any(|k| rest.starts_with(&format!("{k} = ")))
            .then(|| rest.to_owned())
    };
    let mut uncommented = String::new();
    for line in text.lines() {
        uncommented.push_str(&example(line).unwrap_or_else(|| line.to_owned()));
        uncommented.push('\n');
    }
    for key in IMAPVM_KEYS {
        assert!(
            uncommented
                .lines()
                .any(|l| l.starts_with(&format!("{key} = "))),
            "the sample shows `{key}`"
        );
    }
    let examples = parse_imapvm_conf_bytes("imapvm.conf", uncommented.as_bytes());
    assert!(
        examples.diagnostics.is_empty(),
        "{:#?}",
        examples.diagnostics
    );
    assert_eq!(examples.general.ami.len(), 1);
}

fn general() -> impl Strategy<Value = String> {
    (
        prop::option::of("[!-:<-~]{1,40}"),
        prop::option::of("(/[a-z0-9._;-]{1,12}){1,4}"),
        prop::option::of((any::<[u8; 4]>(), 1u16..)),
        prop::option::of((any::<[u16; 8]>(), 1u16..)),
        prop::option::of("(/[a-z0-9._-]{1,12}){1,4}"),
        prop::collection::vec((any::<[u8; 4]>(), 0u8..=32), 0..3),
    )
        .prop_map(|(secret, cafile, metrics, listen, spool, allow)| {
            let mut out = String::from("[general]\n");
            if let Some(s) = secret {
                out.push_str(&format!("webhook_secret = {}\n", s.replace(';', "\\;")));
            }
            if let Some(p) = cafile {
                let p = p.replace(';', "\\;");
                out.push_str(&format!("webhook_cafile = {p}\nami_cafile = {p}\n"));
            }
            if let Some((ip, port)) = metrics {
                out.push_str(&format!(
                    "metrics = {}:{port}\n",
                    std::net::Ipv4Addr::from(ip)
                ));
            }
            if let Some((ip, port)) = listen {
                out.push_str(&format!(
                    "agi_listen = [{}]:{port}\n",
                    std::net::Ipv6Addr::from(ip)
                ));
            }
            if let Some(p) = spool {
                out.push_str(&format!("agi_spool = {p}\ncache_dir = {p}/cache\n"));
            }
            for (ip, prefix) in allow {
                out.push_str(&format!(
                    "agi_allow = {}/{prefix}\n",
                    std::net::Ipv4Addr::from(ip)
                ));
            }
            out
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Any valid imapvm.conf parses without diagnostics, renders, and parses back to the
    /// same values.
    #[test]
    fn imapvm_conf_round_trips(text in general()) {
        let conf = parse_imapvm_conf_bytes("a.conf", text.as_bytes());
        prop_assert!(conf.diagnostics.is_empty(), "{text}\n{:?}", conf.diagnostics);
        renders_back(&conf.general)?;
    }
}
