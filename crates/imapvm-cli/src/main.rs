//! The `imapvm` command line: voicemail on IMAP for operators.
//!
//! Each subcommand lives in its own module under `cmd/` and is a thin layer over
//! the library crates: it parses arguments, calls a library, and prints human
//! text or one JSON document (`--json`). It holds no logic an integrator would
//! also need. The contract (names, JSON fields, exit codes) is `docs/cli.md`:
//! exit 0 on success, 1 when the operation failed (one line on stderr), 2 on a
//! usage error.
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// Voicemail on IMAP, compatible with Asterisk's app_voicemail IMAP storage.
#[derive(Debug, Parser)]
#[command(
    name = "imapvm",
    version,
    about,
    long_about = None,
    after_long_help = "Files: /etc/asterisk/voicemail.conf (Asterisk's, read as app_voicemail reads it) and \
        /etc/asterisk/imapvm.conf (imapvm's own options, in the directory of --config). \
        `imapvm config check` validates both. Exit codes: 0 success, 1 the operation failed \
        (one line on stderr), 2 usage error."
)]
struct Cli {
    /// The voicemail.conf to read.
    #[arg(
        short,
        long,
        global = true,
        value_name = "FILE",
        default_value = "/etc/asterisk/voicemail.conf"
    )]
    config: PathBuf,

    /// imapvm's own options (outputs, metrics, FastAGI). Default: imapvm.conf in the
    /// directory of --config, if it exists (Asterisk keeps every module's file there).
    #[arg(long, global = true, value_name = "FILE")]
    imapvm_conf: Option<PathBuf>,

    /// More tracing on stderr (-v: debug, -vv: trace). RUST_LOG is honoured.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    /// Print one JSON document on stdout instead of human text.
    #[arg(long, global = true)]
    json: bool,

    /// Keep which UIDs are voicemail in DIR between commands, so that the next one searches
    /// only those and the mail that arrived since (imapvm.conf's cache_dir; this wins).
    #[arg(long, global = true, value_name = "DIR")]
    cache_dir: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

/// The subcommands. Each variant's arguments live in its `cmd` module.
#[derive(Debug, Subcommand)]
enum Command {
    /// Show the version and the crates this build contains.
    Version,
    /// Validate voicemail.conf and imapvm.conf, or show one mailbox's effective settings.
    Config(cmd::config::ConfigArgs),
    /// Inspect a voicemail email file, or compose one from voicemail.conf.
    Message(cmd::message::MessageArgs),
    /// Store a voicemail (admission, build, APPEND, MWI recount).
    Deposit(cmd::deposit::DepositArgs),
    /// List a mailbox's messages.
    List(cmd::list::ListArgs),
    /// Write a message's audio to a file and mark it heard.
    Play(cmd::play::PlayArgs),
    /// Mark a message heard (\Seen).
    MarkRead(cmd::flags::FlagArgs),
    /// Mark a message new (not \Seen).
    MarkUnread(cmd::flags::FlagArgs),
    /// Mark a message urgent (\Flagged).
    Urgent(cmd::flags::FlagArgs),
    /// Mark a message not urgent.
    NotUrgent(cmd::flags::FlagArgs),
    /// Save a message into another folder (Old, Work, Family, Friends, Cust1-5).
    Move(cmd::move_::MoveArgs),
    /// Forward a message to other mailboxes (original caller id, time and audio kept),
    /// optionally with a recorded comment played first.
    Forward(cmd::forward::ForwardArgs),
    /// Delete messages (expunged only as the expunge plan allows).
    Delete(cmd::delete::DeleteArgs),
    /// Remove \Deleted from a message.
    Undelete(cmd::delete::UndeleteArgs),
    /// Expunge the mailbox's deleted messages; report what was deferred.
    Expunge(cmd::delete::ExpungeArgs),
    /// MWI counts (new, urgent, old), or the RFC 3842 body.
    Count(cmd::count::CountArgs),
    /// Greetings on IMAP: get, set, delete.
    Greeting(cmd::greeting::GreetingArgs),
    /// Server capabilities, namespace, quota and voicemail folders.
    Probe(cmd::probe::ProbeArgs),
    /// MWI events until stopped: one line per change (NOTIFY, IDLE or polling).
    Watch(cmd::watch::WatchArgs),
    /// FastAGI server: Asterisk's VoiceMail() and VoiceMailMain() on IMAP (docs/phone.md).
    Agi(cmd::agi::AgiArgs),
    /// Move an Asterisk file-storage spool into IMAP (import) and back (export).
    Migrate(cmd::migrate::MigrateArgs),
    /// Deposits queued while the IMAP server was unreachable: list, flush, release, discard.
    Outbox(cmd::outbox::OutboxArgs),
    /// Write the man pages or the shell completions into a directory (for packagers).
    #[command(hide = true)]
    Generate(cmd::generate::GenerateArgs),
}

/// The command line's clap definition: what `--help`, the man pages and the completions
/// describe.
pub(crate) fn command() -> clap::Command {
    Cli::command()
}

/// What every subcommand gets besides its own arguments.
#[derive(Debug)]
pub(crate) struct Global {
    /// `-c, --config`.
    pub config: PathBuf,
    /// `--imapvm-conf`, or imapvm.conf beside `--config`.
    pub imapvm_conf: imapvm_config::ImapvmConfPath,
    /// `--json`.
    pub json: bool,
    /// `--cache-dir`.
    pub cache_dir: Option<PathBuf>,
}

impl Global {
    /// voicemail.conf and imapvm.conf, parsed, with the diagnostics of both.
    pub(crate) fn load(&self) -> Result<imapvm_config::Parsed, imapvm_config::ConfigError> {
        imapvm::config_files::load_with(&self.config, &self.imapvm_conf)
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.kind() == clap::error::ErrorKind::ValueValidation => {
            // A value clap's parsers refuse (`--uid 0`, a number that is not one): a usage
            // error, exit 2, said on one line like every other failure (docs/cli.md).
            let text = e.to_string();
            let line = text.lines().next().unwrap_or_default();
            eprintln!("imapvm: {}", line.trim_start_matches("error: "));
            return ExitCode::from(2);
        }
        Err(e) => e.exit(),
    };
    init_tracing(cli.verbose);
    let global = Global {
        config: cli.config,
        imapvm_conf: match cli.imapvm_conf {
            Some(file) => imapvm_config::ImapvmConfPath::File(file),
            None => imapvm_config::ImapvmConfPath::Beside,
        },
        json: cli.json,
        cache_dir: cli.cache_dir,
    };
    let result = match cli.command {
        Command::Version => cmd::version::run(&global),
        Command::Config(args) => cmd::config::run(&global, &args),
        Command::Message(args) => cmd::message::run(&global, &args),
        Command::Deposit(args) => cmd::deposit::run(&global, &args),
        Command::List(args) => cmd::list::run(&global, &args),
        Command::Play(args) => cmd::play::run(&global, &args),
        Command::MarkRead(args) => cmd::flags::run(&global, &args, imapvm::FlagOp::MarkRead),
        Command::MarkUnread(args) => cmd::flags::run(&global, &args, imapvm::FlagOp::MarkUnread),
        Command::Urgent(args) => cmd::flags::run(&global, &args, imapvm::FlagOp::Urgent),
        Command::NotUrgent(args) => cmd::flags::run(&global, &args, imapvm::FlagOp::NotUrgent),
        Command::Move(args) => cmd::move_::run(&global, &args),
        Command::Forward(args) => cmd::forward::run(&global, &args),
        Command::Delete(args) => cmd::delete::delete(&global, &args),
        Command::Undelete(args) => cmd::delete::undelete(&global, &args),
        Command::Expunge(args) => cmd::delete::expunge(&global, &args),
        Command::Count(args) => cmd::count::run(&global, &args),
        Command::Greeting(args) => cmd::greeting::run(&global, &args),
        Command::Probe(args) => cmd::probe::run(&global, &args),
        Command::Watch(args) => cmd::watch::run(&global, &args),
        Command::Agi(args) => cmd::agi::run(&global, &args),
        Command::Migrate(args) => cmd::migrate::run(&global, &args),
        Command::Outbox(args) => cmd::outbox::run(&global, &args),
        Command::Generate(args) => cmd::generate::run(&global, &args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("imapvm: {err}");
            ExitCode::from(1)
        }
    }
}

fn init_tracing(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, never into journald or a log file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}
