//! The legacy `[imapvm]` section of voicemail.conf: imapvm's outputs, the mailboxes Asterisk
//! sees there, diagnostics (imapvm.conf itself: `imapvm_conf.rs`).

use std::time::Duration;

use imapvm_config::{AmiMode, ImapvmSection, MailboxId, WebhookUrl, parse_bytes};
use proptest::prelude::*;

use crate::imapvm_conf::renders_back;
use crate::{errors, mailbox_ids, warnings};

const CONF: &str = "[general]\nimapserver=imap.example\n\n\
[imapvm]\n\
ami = 127.0.0.1:5038,imapvm,s3cr3t,mwi\n\
webhook = http://127.0.0.1:8080/mwi\n\
webhook_timeout = 2\n\
4324 => 7764,Ellis Redding,red@buxton.us,,imapuser=eredding|imappassword=g3tbusy\n\
amii = 1,2,3\n\
\n[default]\n1234 => 4242,Alice\n";

#[test]
fn options_are_read_and_mailboxes_stay_mailboxes() {
    let parsed = parse_bytes("voicemail.conf", CONF.as_bytes());
    let s = &parsed.config.imapvm;
    assert_eq!(s.ami.len(), 1);
    let ami = &s.ami[0];
    assert_eq!(
        (ami.host.as_str(), ami.port, ami.username.as_str(), ami.mode),
        ("127.0.0.1", 5038, "imapvm", AmiMode::Mwi)
    );
    assert_eq!(ami.secret.expose(), "s3cr3t");
    assert_eq!(
        s.webhooks,
        vec!["http://127.0.0.1:8080/mwi".parse::<WebhookUrl>().unwrap()]
    );
    assert_eq!(s.webhook_timeout, Duration::from_secs(2));
    assert_eq!(s.webhook_retries, 4);
    // As in Asterisk's sample: `4324 =>` in [imapvm] is a mailbox; the typo is one too.
    assert_eq!(
        mailbox_ids(&parsed),
        ["4324@imapvm", "amii@imapvm", "1234@default"]
    );
    let id: MailboxId = "4324@imapvm".parse().unwrap();
    assert!(parsed.config.settings(&id).is_some());
    // No secret in any diagnostic, nor in Debug output of the config.
    assert!(!format!("{:?}", parsed.config).contains("s3cr3t"));
    assert!(
        parsed
            .diagnostics
            .iter()
            .all(|d| !d.message.contains("s3cr3t"))
    );
}

#[test]
fn diagnostics_say_what_asterisk_sees() {
    let parsed = parse_bytes("voicemail.conf", CONF.as_bytes());
    assert!(errors(&parsed).is_empty(), "{:?}", parsed.diagnostics);
    let w = warnings(&parsed);
    let phantom = w
        .iter()
        .find(|d| d.message.contains("voicemail context"))
        .expect("the phantom-mailbox warning");
    assert_eq!(phantom.line, 4, "points at the [imapvm] header");
    for b in ["ami@imapvm", "webhook@imapvm", "webhook_timeout@imapvm"] {
        assert!(phantom.message.contains(b), "{}", phantom.message);
    }
    let typo = w
        .iter()
        .find(|d| d.message.contains("did you mean `ami`"))
        .expect("the typo warning");
    assert_eq!(typo.line, 9);
}

#[test]
fn bad_values_are_errors_at_the_value_and_keep_defaults() {
    let text = "[imapvm]\nami = pbx:0,u,s\nwebhook = ftp://x/\nwebhook_inflight = 0\nwebhook_retries = many\n\
                ami = tls://pbx/loose,u,s3cr3t\nwebhook_secret =\nami_cafile =\n";
    let parsed = parse_bytes("voicemail.conf", text.as_bytes());
    let e = errors(&parsed);
    let lines: Vec<u32> = e.iter().map(|d| d.line).collect();
    assert_eq!(lines, [2, 3, 4, 5, 6, 7, 8], "{e:?}");
    assert!(e[0].message.contains("not a TCP port"), "{}", e[0].message);
    assert!(
        e[1].message.contains("not an http:// or https:// URL"),
        "{}",
        e[1].message
    );
    assert!(
        e[4].message.contains("unknown flag `loose`"),
        "{}",
        e[4].message
    );
    assert!(e.iter().all(|d| !d.message.contains("s3cr3t")), "{e:?}");
    assert_eq!(parsed.config.imapvm, ImapvmSection::default());
    // The refused lines are not mailboxes either.
    assert!(parsed.config.mailboxes.is_empty());
}

#[test]
fn no_section_no_outputs_and_no_warning() {
    let parsed = parse_bytes(
        "voicemail.conf",
        b"[default]\n1234 => 4242,A,,,imapuser=vm1234\n",
    );
    assert!(parsed.config.imapvm.is_default());
    assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
    assert!(!parsed.config.render().contains("[imapvm]"));
}

fn section() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(
            (
                "[a-z][a-z0-9.-]{0,10}",
                1u16..,
                "[a-zA-Z0-9_]{1,8}",
                "[a-zA-Z0-9!#$%&*+,;-]{1,12}",
                prop::bool::ANY,
                0u8..3,
            ),
            0..3,
        ),
        prop::collection::vec(
            (
                prop::bool::ANY,
                "[a-z][a-z0-9.-]{0,10}",
                1u16..,
                "(/[a-z0-9?=&;]{0,8}){0,3}",
            ),
            0..3,
        ),
        1u64..=3600,
        0u64..=100,
        1u64..=1024,
        prop::option::of("[a-zA-Z0-9!#$%&*+,;= -]{1,40}[a-z]"),
        prop::option::of("/[a-z0-9/._-]{1,30}"),
        prop::option::of("/[a-z0-9/._-]{1,30}"),
    )
        .prop_map(
            |(ami, hooks, timeout, retries, inflight, secret, hook_ca, ami_ca)| {
                let mut out = String::from("[imapvm]\n");
                for (host, port, user, secret, mwi, transport) in ami {
                    let mode = if mwi { "mwi" } else { "refresh" };
                    // `;` starts a comment in voicemail.conf: an operator writes `\;`.
                    let secret = secret.replace(';', "\\;");
                    let (scheme, flag) = match transport {
                        0 => ("", ""),
                        1 => ("tls://", ""),
                        _ => ("tls://", "/novalidate-cert"),
                    };
                    out.push_str(&format!(
                        "ami = {scheme}{host}:{port}{flag},{user},{secret},{mode}\n"
                    ));
                }
                for (https, host, port, path) in hooks {
                    let path = path.replace(';', "\\;");
                    let scheme = if https { "https" } else { "http" };
                    out.push_str(&format!("webhook = {scheme}://{host}:{port}{path}\n"));
                }
                out.push_str(&format!(
                    "webhook_timeout = {timeout}\nwebhook_retries = {retries}\nwebhook_inflight = {inflight}\n"
                ));
                if let Some(secret) = secret {
                    out.push_str(&format!("webhook_secret = {}\n", secret.replace(';', "\\;")));
                }
                if let Some(path) = hook_ca {
                    out.push_str(&format!("webhook_cafile = {path}\n"));
                }
                if let Some(path) = ami_ca {
                    out.push_str(&format!("ami_cafile = {path}\n"));
                }
                out
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Any valid legacy section parses without errors, renders as an imapvm.conf (never
    /// into voicemail.conf), and that parses back to the same values.
    #[test]
    fn section_round_trips(text in section()) {
        let parsed = parse_bytes("a.conf", text.as_bytes());
        prop_assert!(errors(&parsed).is_empty(), "{text}\n{:?}", parsed.diagnostics);
        prop_assert!(parsed.config.mailboxes.is_empty());
        prop_assert!(!parsed.config.render().contains("[imapvm]"));
        renders_back(&parsed.config.imapvm)?;
    }
}
