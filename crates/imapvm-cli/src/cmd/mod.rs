//! One module per subcommand. Each exposes its clap `Args` type and a
//! `run(&Global, args) -> Result<ExitCode, CliError>`.

pub(crate) mod config;
pub(crate) mod message;
pub(crate) mod version;
// The voicemail operations (issue 7).
pub(crate) mod count;
pub(crate) mod delete;
pub(crate) mod deposit;
pub(crate) mod flags;
// Forwarding (issue 13).
pub(crate) mod forward;
pub(crate) mod greeting;
pub(crate) mod list;
pub(crate) mod move_;
pub(crate) mod play;
pub(crate) mod probe;
pub(crate) mod voicemail;
// The MWI watcher (issue 8) and the outputs and metrics (issue 21) it shares with `agi`.
pub(crate) mod metrics;
pub(crate) mod outputs;
pub(crate) mod watch;
// systemd's notify protocol for `watch` and `agi`, and what packagers ship (issue 21).
pub(crate) mod generate;
pub(crate) mod service;
// The phone side over FastAGI (issue 19).
pub(crate) mod agi;
// File spool <-> IMAP (issue 12).
pub(crate) mod migrate;
// The durable outbox (issue 9).
pub(crate) mod outbox;

/// `--uid U` (and a UID where a subcommand takes one): a UID is never 0, so 0 is a usage
/// error (exit 2), not a message that "vanished".
pub(crate) fn parse_uid(text: &str) -> Result<imapvm::Uid, String> {
    let n: u32 = text
        .parse()
        .map_err(|e| format!("`{text}` is not a UID: {e}"))?;
    imapvm::Uid::new(n).ok_or_else(|| "UID 0 names no message: UIDs start at 1".to_owned())
}

/// A message number `N` as `list` shows it: 1-based, so 0 is a usage error (exit 2).
pub(crate) fn parse_number(text: &str) -> Result<imapvm::MessageNumber, String> {
    let n: u32 = text
        .parse()
        .map_err(|e| format!("`{text}` is not a message number: {e}"))?;
    imapvm::MessageNumber::new(n)
        .ok_or_else(|| "message number 0 names no message: numbers start at 1".to_owned())
}

/// UIDs as the JSON output prints them (numbers).
pub(crate) fn uid_numbers(uids: &[imapvm::Uid]) -> Vec<u32> {
    uids.iter().map(|u| u.get()).collect()
}

/// A failed operation: printed as one line on stderr, exit code 1.
#[derive(Debug)]
pub(crate) struct CliError(pub String);

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<E: std::error::Error> From<E> for CliError {
    fn from(err: E) -> Self {
        // Keep the whole cause chain on the one line an operator sees.
        let mut text = err.to_string();
        let mut source = err.source();
        while let Some(cause) = source {
            // Errors that already print their cause (`spool X: No such file…`) name it once.
            let cause_text = cause.to_string();
            if !text.ends_with(&cause_text) {
                text.push_str(": ");
                text.push_str(&cause_text);
            }
            source = cause.source();
        }
        CliError(text)
    }
}
