//! Prints the diagnostics for a voicemail.conf given on the command line (development aid).
#![allow(clippy::print_stdout)]
fn main() {
    let path = std::env::args().nth(1).unwrap_or_default();
    let bytes = std::fs::read(&path).unwrap_or_default();
    let parsed = imapvm_config::parse_bytes(&path, &bytes);
    for d in &parsed.diagnostics {
        println!("{d}");
    }
    for m in &parsed.config.mailboxes {
        println!("{:?}", m);
    }
}
