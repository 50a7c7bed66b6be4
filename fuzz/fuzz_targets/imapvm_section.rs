//! Fuzz target `imapvm_section`: arbitrary text as the value of `ami =` and `webhook =` in
//! the legacy `[imapvm]` section of voicemail.conf, as the value of every imapvm.conf key,
//! and as a bare AMI target / webhook URL. Parsing never panics; what parses renders as an
//! imapvm.conf that parses to the same values, and a parsed URL prints as a URL that parses
//! to itself.
#![no_main]

use imapvm_config::{
    AmiTarget, Diagnostic, IMAPVM_KEYS, ImapvmSection, Severity, WebhookUrl, parse_bytes,
    parse_imapvm_conf_bytes,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(url) = text.parse::<WebhookUrl>() {
        let again: WebhookUrl = url.to_string().parse().expect("a printed URL parses");
        assert_eq!(again, url);
    }
    let _ = text.parse::<AmiTarget>();
    // One line, as voicemail.conf values are.
    let line = text.lines().next().unwrap_or_default();
    for key in ["ami", "webhook"] {
        let conf = format!("[imapvm]\n{key} = {line}\n");
        let parsed = parse_bytes("voicemail.conf", conf.as_bytes());
        renders_back(&conf, &parsed.diagnostics, &parsed.config.imapvm);
    }
    for key in IMAPVM_KEYS {
        let conf = format!("[general]\n{key} = {line}\n");
        let parsed = parse_imapvm_conf_bytes("imapvm.conf", conf.as_bytes());
        renders_back(&conf, &parsed.diagnostics, &parsed.general);
    }
});

/// What parsed without errors renders as an imapvm.conf that parses to the same values.
fn renders_back(conf: &str, diagnostics: &[Diagnostic], section: &ImapvmSection) {
    if diagnostics.iter().any(|d| d.severity == Severity::Error) {
        return;
    }
    let rendered = section.render();
    let back = parse_imapvm_conf_bytes("rendered.conf", rendered.as_bytes());
    assert_eq!(&back.general, section, "{conf:?} -> {rendered:?}");
}
