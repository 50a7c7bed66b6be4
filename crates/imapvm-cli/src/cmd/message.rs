//! `imapvm message inspect|compose`: read a voicemail email file, or build one from voicemail.conf.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use imapvm::clock::{Clock, SystemClock};
use imapvm_config::{MailboxId, MailboxSettings};
use imapvm_message::{
    AudioPart, Envelope, Flag, MAX_AUDIO_BYTES, MAX_MESSAGE_BYTES, MessageType, Mode,
    ParsedVoicemail, Settings, Voicemail,
};
use serde_json::{Value, json};

use crate::Global;
use crate::cmd::CliError;

/// `imapvm message ...`.
#[derive(Debug, Args)]
pub(crate) struct MessageArgs {
    #[command(subcommand)]
    command: MessageCommand,
}

#[derive(Debug, Subcommand)]
enum MessageCommand {
    /// Parse a voicemail email file and show its fields, audio parts and diagnostics.
    Inspect {
        /// The message file (.eml, CRLF or LF line ends).
        file: PathBuf,
    },
    /// Build a voicemail email from voicemail.conf (-c) and a recording.
    Compose(Box<ComposeArgs>),
}

/// `X-Asterisk-VM-Flag` choices.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum FlagArg {
    /// `Urgent` (VoiceMail option U).
    Urgent,
    /// `PRIORITY` (VoiceMail option P).
    Priority,
}

/// `imapvm message compose` arguments.
#[derive(Debug, Args)]
pub(crate) struct ComposeArgs {
    /// The mailbox, as BOX@CONTEXT (an alias from aliasescontext works too).
    #[arg(long)]
    mailbox: String,
    /// The recording to attach.
    #[arg(long)]
    audio: PathBuf,
    /// Audio format (a `format=` entry: wav49, gsm, wav, ...); default: the first `format`.
    #[arg(long)]
    format: Option<String>,
    /// Caller id: `"Name" <number>`, `Name`, or a number.
    #[arg(long)]
    caller: Option<String>,
    /// Recording length in seconds.
    #[arg(long, default_value_t = 0)]
    duration: u32,
    /// Dialplan priority of the VoiceMail() call (X-Asterisk-VM-Priority).
    #[arg(long, default_value_t = 1)]
    priority: i32,
    /// Message flag.
    #[arg(long, value_enum)]
    flag: Option<FlagArg>,
    /// Composition time (Unix seconds); default: now.
    #[arg(long)]
    time: Option<i64>,
    /// X-Asterisk-VM-Message-ID; default: `{time}-00000000`. `(null)` means none.
    #[arg(long)]
    msg_id: Option<String>,
    /// The Message-ID header, with angle brackets; default: Asterisk's form.
    #[arg(long)]
    message_id: Option<String>,
    /// The MIME boundary; default: Asterisk's form (which starts with `----`).
    #[arg(long, allow_hyphen_values = true)]
    boundary: Option<String>,
    /// Message number N (1-based; greetings use 0).
    #[arg(long, default_value_t = 1)]
    msgnum: u32,
    /// Host name for Message-ID and for a serveremail without `@`; default: this host's name.
    #[arg(long)]
    hostname: Option<String>,
    /// Build a greeting (unavail, busy, greet, temp) instead of a message.
    #[arg(long)]
    greeting: Option<String>,
    /// A forward intro recording, stored as MIME part 3.
    #[arg(long)]
    intro: Option<PathBuf>,
    /// Reproduce Asterisk 22's bytes exactly, quirks included.
    #[arg(long)]
    asterisk_exact: bool,
    /// Where to write the message.
    #[arg(short = 'o', long = "output")]
    output: PathBuf,
}

pub(crate) fn run(global: &Global, args: &MessageArgs) -> Result<ExitCode, CliError> {
    match &args.command {
        MessageCommand::Inspect { file } => inspect(global, file),
        MessageCommand::Compose(compose_args) => compose(global, compose_args),
    }
}

/// Reads at most `limit` bytes; a larger file is an error, not a silent cut.
fn read_bounded(path: &Path, limit: usize) -> Result<Vec<u8>, CliError> {
    let file =
        std::fs::File::open(path).map_err(|e| CliError(format!("{}: {e}", path.display())))?;
    let mut bytes = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    file.take(cap)
        .read_to_end(&mut bytes)
        .map_err(|e| CliError(format!("{}: {e}", path.display())))?;
    if bytes.len() > limit {
        return Err(CliError(format!(
            "{}: larger than {limit} bytes",
            path.display()
        )));
    }
    Ok(bytes)
}

fn inspect_json(parsed: &ParsedVoicemail) -> Value {
    let vm = &parsed.voicemail;
    json!({
        "mailbox": vm.mailbox,
        "context": vm.context,
        "extension": vm.extension,
        "msgnum": vm.msgnum,
        "flag": vm.flag.as_str(),
        "urgent": vm.is_urgent(),
        "priority": vm.priority,
        "caller_id_num": vm.caller_id_num,
        "caller_id_name": vm.caller_id_name,
        "duration_secs": vm.duration_secs,
        "category": vm.category,
        "message_type": vm.message_type.as_str(),
        "orig_date": vm.orig_date,
        "orig_time": vm.orig_time,
        "msg_id": vm.msg_id,
        "caller_channel": vm.caller_channel,
        "server_name": vm.server_name,
        "subject": parsed.subject,
        "audio": vm.audio.iter().map(|part| json!({
            "filename": part.filename,
            "format": part.format,
            "content_type": part.content_type,
            "size": part.bytes.len(),
            "sha256": part.sha256_hex(),
        })).collect::<Vec<_>>(),
        "diagnostics": parsed.diagnostics.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })
}

fn inspect(global: &Global, file: &Path) -> Result<ExitCode, CliError> {
    let bytes = read_bounded(file, MAX_MESSAGE_BYTES)?;
    let parsed =
        imapvm_message::parse(&bytes).map_err(|e| CliError(format!("{}: {e}", file.display())))?;
    if global.json {
        println!("{}", inspect_json(&parsed));
        return Ok(ExitCode::SUCCESS);
    }
    let vm = &parsed.voicemail;
    println!(
        "mailbox:        {}@{} (extension {})",
        vm.mailbox, vm.context, vm.extension
    );
    println!("message:        {} #{}", vm.message_type, vm.msgnum);
    println!(
        "subject:        {}",
        parsed.subject.as_deref().unwrap_or("")
    );
    println!(
        "flag:           {}",
        if vm.flag == Flag::None {
            "-"
        } else {
            vm.flag.as_str()
        }
    );
    if vm.caller_id_name.is_empty() && vm.caller_id_num.is_empty() {
        println!("caller:         (unknown)");
    } else {
        println!(
            "caller:         \"{}\" <{}>",
            vm.caller_id_name, vm.caller_id_num
        );
    }
    println!("duration:       {} s", vm.duration_secs);
    println!("orig time:      {} ({})", vm.orig_time, vm.orig_date);
    println!(
        "msg id:         {}",
        vm.msg_id.as_deref().unwrap_or("(none)")
    );
    println!("priority:       {}", vm.priority);
    for part in &vm.audio {
        println!(
            "audio:          {} {} ({}, {} bytes, sha256 {})",
            part.filename,
            part.format,
            part.content_type,
            part.bytes.len(),
            part.sha256_hex()
        );
    }
    for diagnostic in &parsed.diagnostics {
        println!("diagnostic:     {diagnostic}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Splits a caller id like Asterisk's `ast_callerid_parse`: `"Name" <num>`, `Name <num>`, `<num>`,
/// a bare number, or a bare name.
fn split_caller(caller: &str) -> (String, String) {
    let caller = caller.trim();
    if let (Some(open), Some(close)) = (caller.rfind('<'), caller.rfind('>'))
        && open < close
    {
        let num = caller[open + 1..close].trim().to_owned();
        let name = caller[..open].trim().trim_matches('"').trim().to_owned();
        return (name, num);
    }
    if !caller.is_empty()
        && caller
            .chars()
            .all(|c| c.is_ascii_digit() || "+*#-() ".contains(c))
    {
        return (String::new(), caller.to_owned());
    }
    (caller.trim_matches('"').to_owned(), String::new())
}

/// voicemail.conf's effective options of one mailbox, as the message crate's settings
/// (the runtime's mapping, shared with deposits).
fn message_settings(s: &MailboxSettings) -> Result<Settings, CliError> {
    Ok(imapvm::message_settings(s)?)
}

fn compose(global: &Global, args: &ComposeArgs) -> Result<ExitCode, CliError> {
    let parsed = global.load()?;
    // A file the runtime would refuse is refused here too (issue 9: one clear line).
    if let Some(d) = parsed
        .diagnostics
        .iter()
        .find(|d| d.severity == imapvm_config::Severity::Error)
    {
        return Err(CliError(format!(
            "{d} (run `imapvm config check` to list every problem)"
        )));
    }
    let config = &parsed.config;
    let id = match config.resolve_alias(&args.mailbox) {
        Some(target) => target.clone(),
        None => args.mailbox.parse::<MailboxId>()?,
    };
    let mailbox_settings = config.settings(&id).ok_or_else(|| {
        CliError(format!(
            "no mailbox {id} in {} (run `imapvm config check` to list problems)",
            global.config.display()
        ))
    })?;
    let settings = message_settings(&mailbox_settings)?;

    let now = SystemClock
        .wall()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let time = args
        .time
        .unwrap_or_else(|| i64::try_from(now.as_secs()).unwrap_or(i64::MAX));
    let format = match &args.format {
        Some(format) => format.clone(),
        None => mailbox_settings.stored_format().to_owned(),
    };
    let (msgnum, message_type) = match &args.greeting {
        Some(name) => (0, MessageType::Greeting(name.clone())),
        None => (args.msgnum, MessageType::Message),
    };
    let audio_bytes = read_bounded(&args.audio, MAX_AUDIO_BYTES)?;
    let mut audio = vec![match &message_type {
        MessageType::Greeting(name) => AudioPart::greeting(name, &format, audio_bytes),
        MessageType::Message => AudioPart::recording(msgnum, &format, audio_bytes),
    }];
    if let Some(intro) = &args.intro {
        audio.push(AudioPart::intro(
            msgnum,
            &format,
            read_bounded(intro, MAX_AUDIO_BYTES)?,
        ));
    }
    let (caller_id_name, caller_id_num) =
        args.caller.as_deref().map(split_caller).unwrap_or_default();
    let msg_id = match args.msg_id.as_deref() {
        Some("(null)") => None,
        Some(id) => Some(id.to_owned()),
        None if message_type.is_greeting() => None,
        None => Some(format!("{time}-00000000")),
    };
    let voicemail = Voicemail {
        mailbox: id.mailbox().to_owned(),
        context: id.context().to_owned(),
        extension: mailbox_settings.extension().to_owned(),
        msgnum,
        server_name: config.general.fromstring.clone(),
        flag: match args.flag {
            None => Flag::None,
            Some(FlagArg::Urgent) => Flag::Urgent,
            Some(FlagArg::Priority) => Flag::Priority,
        },
        priority: args.priority,
        caller_id_num,
        caller_id_name,
        duration_secs: args.duration,
        category: String::new(),
        message_type,
        orig_date: settings.email_date(time)?,
        orig_time: time,
        msg_id,
        caller_channel: None,
        audio,
    };

    // Asterisk's random numbers and pid; only used when not given.
    let pid = std::process::id();
    let random = now.subsec_nanos() ^ u32::try_from(now.as_secs() & 0xffff_ffff).unwrap_or(0);
    let hostname = args.hostname.clone().unwrap_or_else(imapvm::local_hostname);
    let envelope = Envelope {
        date: time,
        message_id: args.message_id.clone().unwrap_or_else(|| {
            Envelope::asterisk_message_id(msgnum, random, id.mailbox(), pid, &hostname)
        }),
        boundary: args.boundary.clone().unwrap_or_else(|| {
            Envelope::asterisk_boundary(msgnum, id.mailbox(), pid, random.rotate_left(13))
        }),
        hostname,
    };
    let mode = if args.asterisk_exact {
        Mode::AsteriskExact
    } else {
        Mode::Default
    };
    let bytes = imapvm_message::build(&voicemail, &settings, &envelope, mode)?;
    std::fs::write(&args.output, &bytes)
        .map_err(|e| CliError(format!("{}: {e}", args.output.display())))?;
    if global.json {
        println!(
            "{}",
            json!({
                "file": args.output.display().to_string(),
                "bytes": bytes.len(),
                "message_id": envelope.message_id,
                "boundary": envelope.boundary,
                "mode": if args.asterisk_exact { "asterisk-exact" } else { "default" },
            })
        );
    } else {
        println!("wrote {} bytes to {}", bytes.len(), args.output.display());
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::split_caller;

    #[test]
    fn caller_ids_split_like_asterisk() {
        assert_eq!(
            split_caller("\"Alice Example\" <5551001>"),
            ("Alice Example".into(), "5551001".into())
        );
        assert_eq!(
            split_caller("Bob <+4930123>"),
            ("Bob".into(), "+4930123".into())
        );
        assert_eq!(split_caller("5551001"), (String::new(), "5551001".into()));
        assert_eq!(split_caller("Carol"), ("Carol".into(), String::new()));
        assert_eq!(split_caller("<123>"), (String::new(), "123".into()));
    }
}
