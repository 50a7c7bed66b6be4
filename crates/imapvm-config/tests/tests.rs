//! Integration tests for imapvm-config, in one binary (so CI links once).

mod asterisk_configs;
mod diagnostics;
mod imapvm_conf;
mod imapvm_section;
mod password;
mod phone;
mod roundtrip;
mod syntax;

use imapvm_config::{Diagnostic, Parsed, Severity};

/// The error diagnostics.
fn errors(parsed: &Parsed) -> Vec<&Diagnostic> {
    parsed
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect()
}

/// The mailboxes' `box@context`, in file order.
fn mailbox_ids(parsed: &Parsed) -> Vec<String> {
    parsed
        .config
        .mailboxes
        .iter()
        .map(|m| m.id.to_string())
        .collect()
}

/// The warning diagnostics.
fn warnings(parsed: &Parsed) -> Vec<&Diagnostic> {
    parsed
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .collect()
}
