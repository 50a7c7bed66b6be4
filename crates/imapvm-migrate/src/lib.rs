//! Migration, a service above the imapvm runtime (`imapvm migrate`): an Asterisk
//! file-storage spool into IMAP ([`import`]) and back ([`export`]), resumable and
//! idempotent.
//!
//! Import reads `{spool}/voicemail/{context}/{mailbox}/{INBOX,Old,Urgent,Work,...}/msgNNNN.*`:
//! each `.txt` ([`MessageInfo`]) and the recording in the mailbox's first `format=` (else
//! another format that is there), builds the voicemail with `imapvm-message` (the `.txt`
//! itself rides along in the `X-Imapvm-Spool-Info` header so an export can write it back
//! unchanged) and APPENDs it, pipelined, to the right folder with the right flags:
//! INBOX unseen, Old `\Seen`, Urgent unseen `\Flagged`, Work/Family/Friends/Cust1-5 their own
//! folders (`\Seen`: a user saves a message after hearing it). Greetings go to the greetings
//! folder when `imapgreetings=yes` (else they stay on disk, where Asterisk reads them).
//!
//! Both directions first look at what the other side holds and copy only what is missing,
//! matched by `msg_id` or, for messages without one, by origtime + caller id + duration
//! ([`plan::MatchKey`]): a re-run after an interruption (even `kill -9`) finishes the job
//! without duplicates. Bad files (no `.txt`, unreadable `.txt`, no or unknown recording) are
//! reported in [`MigrationReport::failed`] and skipped; nothing ever deletes a spool file.
//!
//! Each APPEND carries the message's `origtime` as its INTERNALDATE. Not done: extra formats
//! of a message are not carried as extra MIME parts (Asterisk reads MIME part 3 as a
//! forward intro).
//!
//! What this crate does **not** do: connect, log in or speak IMAP itself (it runs on the
//! runtime's pooled connection through [`Mailbox::with_account_once`] and
//! [`imapvm::Session`]), build or parse messages (`imapvm-message`), or name folders
//! (`imapvm-policy`). It never deletes a spool file and never expunges, and the runtime
//! never depends on it.
//!
//! ```no_run
//! use imapvm::Store;
//! use imapvm_migrate::{ImportOptions, Silent, import};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let store = Store::open(std::path::Path::new("/etc/asterisk/voicemail.conf"))?;
//! let report = import(&store, &ImportOptions::new("/var/spool/asterisk"), &Silent).await?;
//! println!("{} copied, {} already there, {} failed", report.copied, report.skipped, report.failed.len());
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

pub mod plan;
pub mod spool;

mod append;
mod error;

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use imapvm_message::spool_info::{InfoFields, MessageInfo};
use imapvm_message::{
    AudioPart, Envelope, Flag as VmFlag, HeaderBlock, MessageType, Mode, Voicemail,
    is_known_format, stored_format,
};
use imapvm_policy::{Folder, MailboxId, MailboxName, MessageFlags, SearchKey, Uid, UidSet};
use imapvm_proto::{FetchAttr, Outcome, UidRange};

use imapvm::{Attempt, AttemptFuture, Folders, MAX_AUDIO_FILE_BYTES, Mailbox, Session, Store};

pub use error::{Error, Result};

use append::MigrateAppend;
use plan::{MatchKey, SPOOL_FOLDERS, export_folder, free_numbers, import_flags, plan_copies};
use spool::{SpoolMailbox, SpoolMessage};

/// The header fields read to recognise messages already on the server.
const MATCH_FIELDS: &[&str] = &[
    "X-Asterisk-VM-Extension",
    "X-Asterisk-VM-Context",
    "X-Asterisk-VM-Message-Type",
    "X-Asterisk-VM-Message-ID",
    "X-Asterisk-VM-Orig-time",
    "X-Asterisk-VM-Caller-ID-Num",
    "X-Asterisk-VM-Caller-ID-Name",
    "X-Asterisk-VM-Duration",
    "X-Asterisk-CallerID",
    "X-Asterisk-CallerIDName",
];

/// UIDs fetched whole per command on export.
const EXPORT_FETCH_BATCH: usize = 32;

/// What to import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOptions {
    /// Asterisk's spool directory (`astspooldir`, e.g. `/var/spool/asterisk`); messages are
    /// under its `voicemail/` directory.
    pub spool: PathBuf,
    /// Only these mailboxes (`box@context`; context `default` when omitted); all when empty.
    pub mailboxes: Vec<String>,
    /// Plan only: nothing is written anywhere.
    pub dry_run: bool,
    /// Most APPENDs in flight at once (at least 1).
    pub batch_messages: usize,
    /// Most message bytes in flight at once (at least 1; a message larger than this goes
    /// alone).
    pub batch_bytes: usize,
}

impl ImportOptions {
    /// Defaults for `spool`: everything, 64 messages / 32 MiB in flight.
    pub fn new(spool: impl Into<PathBuf>) -> ImportOptions {
        ImportOptions {
            spool: spool.into(),
            mailboxes: Vec::new(),
            dry_run: false,
            batch_messages: 64,
            batch_bytes: 32 * 1024 * 1024,
        }
    }
}

/// What to export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportOptions {
    /// The spool directory to write (`{spool}/voicemail/...` is created as needed).
    pub spool: PathBuf,
    /// Only these mailboxes; every mailbox of voicemail.conf when empty.
    pub mailboxes: Vec<String>,
    /// Plan only.
    pub dry_run: bool,
}

impl ExportOptions {
    /// Defaults for `spool`: every mailbox.
    pub fn new(spool: impl Into<PathBuf>) -> ExportOptions {
        ExportOptions {
            spool: spool.into(),
            mailboxes: Vec::new(),
            dry_run: false,
        }
    }
}

/// A message (or greeting) that was not migrated, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The spool file (import) or `box@context folder UID n` (export).
    pub path: String,
    /// Why.
    pub reason: String,
}

/// One planned step (reported by `dry_run`, and kept for real runs too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedCopy {
    /// Where from (spool file, or `folder UID n`).
    pub from: String,
    /// Where to (IMAP folder, or spool file).
    pub to: String,
    /// Copy it, or skip it (already there).
    pub copy: bool,
}

/// The outcome of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationReport {
    /// Messages and greetings found at the source.
    pub found: u64,
    /// Copied to the destination by this run.
    pub copied: u64,
    /// Already at the destination (earlier run, or there all along).
    pub skipped: u64,
    /// Not copied, with the reason.
    pub failed: Vec<Failure>,
    /// Greetings left on disk because `imapgreetings` is off (import).
    pub greetings_left_on_disk: u64,
    /// Message bytes written.
    pub bytes: u64,
    /// Every step, in order.
    pub plan: Vec<PlannedCopy>,
}

/// Progress of a long run (the CLI draws a bar from it). Calls come from the running task.
pub trait Progress: Send + Sync {
    /// `n` more messages found at the source (called as mailboxes are read).
    fn found(&self, n: u64) {
        let _ = n;
    }
    /// `messages` more handled (copied, skipped or failed), `bytes` more written.
    fn advanced(&self, messages: u64, bytes: u64) {
        let _ = (messages, bytes);
    }
}

/// A [`Progress`] that shows nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Progress for Silent {}

/// Whether the spool box `id` is one the operator asked for (all when `filter` is empty).
/// Boxes compare as Asterisk compares them ([`MailboxId`]: without ASCII case, `1234` is
/// `1234@default`); a name that is no box matches nothing.
fn wanted(filter: &[String], id: &str) -> bool {
    let Ok(id) = id.parse::<MailboxId>() else {
        return false;
    };
    filter.is_empty()
        || filter
            .iter()
            .any(|f| f.parse::<MailboxId>().is_ok_and(|f| f == id))
}

/// A message on the server: UID, flags, header fields, raw header block.
struct ServerMessage {
    uid: Uid,
    flags: MessageFlags,
    fields: imapvm_message::HeaderFields,
}

/// This box's messages in `name` (all of them, `\Deleted` included), by header search and
/// an exact identity filter. Two round trips.
async fn server_messages(
    mb: &Mailbox,
    s: &mut Session,
    f: &mut Folders,
    name: &MailboxName,
) -> Result<Vec<ServerMessage>> {
    mb.select(s, f, name).await?;
    let keys: Vec<SearchKey> = mb.identity().header_keys().to_vec();
    let uids: UidSet = match s
        .exec("UID SEARCH (migrate)", |c| c.uid_search(&keys))
        .await?
    {
        Outcome::Search(u) => u.into_iter().collect(),
        _ => UidSet::new(),
    };
    if uids.is_empty() {
        return Ok(Vec::new());
    }
    let range = UidRange::Set(uids);
    let attrs = [
        FetchAttr::Flags,
        FetchAttr::HeaderFields(MATCH_FIELDS.iter().map(|s| (*s).to_owned()).collect()),
    ];
    let fetched = match s
        .exec("UID FETCH (migrate headers)", |c| {
            c.uid_fetch(&range, &attrs)
        })
        .await?
    {
        Outcome::Fetch(m) => m,
        _ => Vec::new(),
    };
    Ok(fetched
        .into_iter()
        .filter_map(|m| {
            let fields = HeaderBlock::parse(m.header_fields().unwrap_or_default()).fields;
            mb.identity()
                .matches(fields.extension.as_deref(), fields.context.as_deref())
                .then(|| ServerMessage {
                    uid: m.uid,
                    flags: MessageFlags::from_flags(m.flags.iter().flatten()),
                    fields,
                })
        })
        .collect())
}

fn is_greeting(fields: &imapvm_message::HeaderFields) -> bool {
    fields
        .message_type
        .as_deref()
        .is_some_and(|t| MessageType::from_header(t).is_greeting())
}

/// Runs `body` on `mb`'s account connection through the runtime's seam, never retried (a
/// re-run is the retry, and it skips what arrived). A runtime error goes through the seam
/// (which drops a lost connection); a spool error comes back beside it.
async fn on_account<'r, T: Send + 'r>(
    mb: &'r Mailbox,
    body: impl for<'a> FnOnce(
        Attempt<'a, 'r>,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>,
) -> Result<T> {
    mb.with_account_once(|a| -> AttemptFuture<'_, Result<T>> {
        let run = body(a);
        Box::pin(async move {
            match run.await {
                Err(Error::Runtime(e)) => Err(e),
                other => Ok(other),
            }
        })
    })
    .await?
}

// ------------------------------------------------------------------------------ import

/// A spool message ready to be planned.
struct Prepared<'a> {
    folder: Folder,
    message: &'a SpoolMessage,
    txt: PathBuf,
    info: MessageInfo,
    origtime: i64,
    audio: (String, PathBuf),
}

/// The recording to store: the first `format=` entry that is on disk (as Asterisk names the
/// file: `wav49` is `WAV`), else the first known format on disk.
fn pick_audio(
    formats: &[String],
    files: &[(String, PathBuf)],
) -> std::result::Result<(String, PathBuf), String> {
    for f in formats {
        let ext = stored_format(f);
        if let Some(hit) = files.iter().find(|(e, _)| e == ext) {
            return Ok(hit.clone());
        }
    }
    if let Some(hit) = files.iter().find(|(e, _)| is_known_format(e)) {
        return Ok(hit.clone());
    }
    if files.is_empty() {
        Err("no recording".into())
    } else {
        let exts: Vec<&str> = files.iter().map(|(e, _)| e.as_str()).collect();
        Err(format!("unknown audio format ({})", exts.join(", ")))
    }
}

fn prepare<'a>(
    folder: Folder,
    message: &'a SpoolMessage,
    formats: &[String],
    dir: &Path,
) -> std::result::Result<Prepared<'a>, Failure> {
    let fail = |path: &Path, reason: String| Failure {
        path: path.display().to_string(),
        reason,
    };
    let Some(txt) = &message.txt else {
        let path = message
            .audio
            .first()
            .map_or_else(|| dir.to_owned(), |(_, p)| p.clone());
        return Err(fail(&path, "no message information file (.txt)".into()));
    };
    let bytes = spool::read_bounded(txt, imapvm_message::spool_info::MAX_INFO_BYTES as u64)
        .map_err(|e| fail(txt, format!("unreadable .txt: {e}")))?;
    let parsed =
        MessageInfo::parse(&bytes).map_err(|e| fail(txt, format!("unreadable .txt: {e}")))?;
    for d in &parsed.diagnostics {
        tracing::debug!(file = %txt.display(), "{d}");
    }
    let origtime = parsed.info.origtime().ok_or_else(|| {
        fail(
            txt,
            "unreadable .txt: origtime missing or not a number".into(),
        )
    })?;
    let audio = pick_audio(formats, &message.audio).map_err(|r| fail(txt, r))?;
    Ok(Prepared {
        folder,
        message,
        txt: txt.clone(),
        info: parsed.info,
        origtime,
        audio,
    })
}

fn build_import(mb: &Mailbox, p: &Prepared<'_>) -> std::result::Result<Vec<u8>, String> {
    let bytes = spool::read_bounded(&p.audio.1, MAX_AUDIO_FILE_BYTES)
        .map_err(|e| format!("unreadable recording {}: {e}", p.audio.1.display()))?;
    let out = message_bytes(mb, p.folder, p.message.number, &p.info, &p.audio.0, bytes)?;
    if MessageInfo::from_header_block(&out).is_none() {
        tracing::debug!(file = %p.txt.display(), "the .txt does not fit a header; export will rebuild it");
    }
    Ok(out)
}

/// The bytes [`import`] APPENDs for one spool message of `mb`: message `number` (`NNNN` of
/// `msgNNNN`) of spool folder `folder`, its `.txt` and its recording (`ext` as the file is
/// named on disk, e.g. `WAV` for wav49). Deterministic: the Message-ID and boundary derive
/// from the message's origin, the `Date` is its `origtime`. Errors name what is unusable.
pub fn message_bytes(
    mb: &Mailbox,
    folder: Folder,
    number: u32,
    info: &MessageInfo,
    ext: &str,
    audio: Vec<u8>,
) -> std::result::Result<Vec<u8>, String> {
    let origtime = info
        .origtime()
        .ok_or_else(|| "origtime missing or not a number".to_owned())?;
    let settings = imapvm::message_settings(mb.settings()).map_err(|e| e.to_string())?;
    let msgnum = number.saturating_add(1);
    let (name, num) = info.caller_id();
    let vm = Voicemail {
        mailbox: mb.mailbox_id().mailbox().to_owned(),
        context: mb.mailbox_id().context().to_owned(),
        extension: mb.identity().extension().to_owned(),
        msgnum,
        server_name: mb.settings().fromstring.value.clone(),
        flag: VmFlag::from_header(info.flag()),
        priority: info.priority().unwrap_or(1),
        caller_id_num: num,
        caller_id_name: name,
        duration_secs: info.duration().unwrap_or(0),
        category: info.category().to_owned(),
        message_type: MessageType::Message,
        orig_date: settings
            .email_date(origtime)
            .map_err(|e| format!("origtime: {e}"))?,
        orig_time: origtime,
        msg_id: info.msg_id().map(str::to_owned),
        caller_channel: None,
        audio: vec![AudioPart::recording(msgnum, ext, audio)],
    };
    let hash = plan::stable_hash(&[
        mb.mailbox_id().context(),
        mb.mailbox_id().mailbox(),
        folder.asterisk_name(),
        &number.to_string(),
        &origtime.to_string(),
    ]);
    let host = mb.store().hostname();
    let envelope = Envelope {
        date: origtime,
        message_id: format!(
            "<imapvm-migrate-{origtime}-{hash:016x}-{}@{host}>",
            mb.mailbox_id().mailbox()
        ),
        boundary: format!("----voicemail_imapvm{origtime}{hash:016x}"),
        hostname: host.to_owned(),
    };
    let mut out = imapvm_message::build(&vm, &settings, &envelope, Mode::Default)
        .map_err(|e| format!("cannot build the message: {e}"))?;
    // Without it (an entry too long for a header) export rebuilds the .txt from the headers.
    info.insert_into(&mut out);
    Ok(out)
}

/// Imports a spool into IMAP (see the module docs).
pub async fn import(
    store: &Store,
    options: &ImportOptions,
    progress: &dyn Progress,
) -> Result<MigrationReport> {
    imapvm::ConfigError::require_positive("batch_messages", options.batch_messages)?;
    imapvm::ConfigError::require_positive("batch_bytes", options.batch_bytes)?;
    let boxes = spool::read_spool(&options.spool)?;
    let boxes: Vec<SpoolMailbox> = boxes
        .into_iter()
        .filter(|b| wanted(&options.mailboxes, &b.id()))
        .collect();
    let mut report = MigrationReport::default();
    for sb in &boxes {
        let n = sb.folders.iter().map(|f| f.messages.len()).sum::<usize>() + sb.greetings.len();
        progress.found(n as u64);
    }
    for sb in &boxes {
        match store.mailbox(&sb.id()) {
            Ok(mb) => {
                // One account failing (login, outage) does not stop the others; a re-run
                // resumes where this one stopped.
                if let Err(e) = import_mailbox(&mb, sb, options, progress, &mut report).await {
                    report.failed.push(Failure {
                        path: sb.path.display().to_string(),
                        reason: format!("stopped: {e} (a re-run resumes)"),
                    });
                }
            }
            Err(e) => {
                let reason = format!("mailbox not usable: {e}");
                for folder in &sb.folders {
                    for m in &folder.messages {
                        report.found += 1;
                        report.failed.push(Failure {
                            path: folder
                                .path
                                .join(format!("msg{:04}", m.number))
                                .display()
                                .to_string(),
                            reason: reason.clone(),
                        });
                        progress.advanced(1, 0);
                    }
                }
                for g in &sb.greetings {
                    report.found += 1;
                    report.failed.push(Failure {
                        path: sb.path.join(&g.name).display().to_string(),
                        reason: reason.clone(),
                    });
                    progress.advanced(1, 0);
                }
            }
        }
    }
    Ok(report)
}

async fn import_mailbox(
    mb: &Mailbox,
    sb: &SpoolMailbox,
    options: &ImportOptions,
    progress: &dyn Progress,
    report: &mut MigrationReport,
) -> Result<()> {
    let formats = mb.settings().format.value.clone();
    // Spool folders grouped by the IMAP folder they go to (INBOX, Old, Urgent share one).
    let mut groups: BTreeMap<Folder, Vec<Prepared<'_>>> = BTreeMap::new();
    for folder in &sb.folders {
        let imap = match folder.folder {
            Folder::Inbox | Folder::Old | Folder::Urgent => Folder::Inbox,
            other => other,
        };
        for m in &folder.messages {
            report.found += 1;
            match prepare(folder.folder, m, &formats, &folder.path) {
                Ok(p) => groups.entry(imap).or_default().push(p),
                Err(failure) => {
                    tracing::debug!(path = %failure.path, reason = %failure.reason, "skipping");
                    report.failed.push(failure);
                    progress.advanced(1, 0);
                }
            }
        }
    }
    for (imap_folder, prepared) in groups {
        let (prepared, report) = (&prepared, &mut *report);
        on_account(mb, move |a| {
            Box::pin(import_folder(
                mb,
                a.session,
                a.folders,
                imap_folder,
                prepared,
                options,
                progress,
                report,
            ))
        })
        .await?;
    }
    if !sb.greetings.is_empty() {
        if mb.settings().imapgreetings.value {
            let (formats, report) = (&formats, &mut *report);
            on_account(mb, move |a| {
                Box::pin(import_greetings(
                    mb, a.session, a.folders, sb, formats, options, progress, report,
                ))
            })
            .await?;
        } else {
            report.found += sb.greetings.len() as u64;
            report.greetings_left_on_disk += sb.greetings.len() as u64;
            progress.advanced(sb.greetings.len() as u64, 0);
        }
    }
    Ok(())
}

#[allow(
    clippy::too_many_arguments,
    reason = "one call site; the pieces of one run"
)]
async fn import_folder(
    mb: &Mailbox,
    s: &mut Session,
    f: &mut Folders,
    imap_folder: Folder,
    prepared: &[Prepared<'_>],
    options: &ImportOptions,
    progress: &dyn Progress,
    report: &mut MigrationReport,
) -> Result<()> {
    let name = mb.layout(s)?.mailbox_name(imap_folder);
    let existing = if options.dry_run && !name.is_inbox() && !s.exists(&name).await? {
        Vec::new()
    } else {
        server_messages(mb, s, f, &name).await?
    };
    let keys: Vec<MatchKey> = prepared
        .iter()
        .map(|p| MatchKey::of_info(&p.info))
        .collect();
    let copies = plan_copies(
        &keys,
        existing
            .iter()
            .filter(|m| !is_greeting(&m.fields))
            .map(|m| MatchKey::of_headers(&m.fields)),
    );
    let mut todo = Vec::new();
    for (p, copy) in prepared.iter().zip(copies) {
        report.plan.push(PlannedCopy {
            from: p.txt.display().to_string(),
            to: format!("{} ({})", name.as_wire(), p.folder),
            copy,
        });
        if copy {
            todo.push(p);
        } else {
            report.skipped += 1;
            progress.advanced(1, 0);
        }
    }
    if options.dry_run || todo.is_empty() {
        return Ok(());
    }
    let mut batch: Vec<(&Prepared<'_>, MigrateAppend)> = Vec::new();
    let mut batch_bytes = 0usize;
    let mut pending = todo.into_iter().peekable();
    while pending.peek().is_some() || !batch.is_empty() {
        let full = batch.len() >= options.batch_messages || batch_bytes >= options.batch_bytes;
        if let (false, Some(p)) = (full, pending.peek()) {
            let p = *p;
            pending.next();
            match build_import(mb, p) {
                Ok(bytes) => {
                    batch_bytes += bytes.len();
                    batch.push((
                        p,
                        MigrateAppend {
                            message: Arc::from(bytes),
                            flags: import_flags(p.folder, p.info.flag()),
                            internal_date: Some(p.origtime),
                        },
                    ));
                }
                Err(reason) => {
                    report.failed.push(Failure {
                        path: p.txt.display().to_string(),
                        reason,
                    });
                    progress.advanced(1, 0);
                }
            }
            continue;
        }
        let items: Vec<MigrateAppend> = batch.iter().map(|(_, a)| a.clone()).collect();
        let results = append::append_pipelined(s, &name, &items).await?;
        for ((p, a), r) in batch.drain(..).zip(results) {
            match r {
                Ok(_) => {
                    report.copied += 1;
                    report.bytes += a.message.len() as u64;
                    progress.advanced(1, a.message.len() as u64);
                }
                Err(reason) => {
                    report.failed.push(Failure {
                        path: p.txt.display().to_string(),
                        reason,
                    });
                    progress.advanced(1, 0);
                }
            }
        }
        batch_bytes = 0;
    }
    Ok(())
}

fn mtime_secs(path: &Path) -> i64 {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

#[allow(
    clippy::too_many_arguments,
    reason = "one call site; the pieces of one run"
)]
async fn import_greetings(
    mb: &Mailbox,
    s: &mut Session,
    f: &mut Folders,
    sb: &SpoolMailbox,
    formats: &[String],
    options: &ImportOptions,
    progress: &dyn Progress,
    report: &mut MigrationReport,
) -> Result<()> {
    let name = mb.layout(s)?.mailbox_name(Folder::Greetings);
    let existing = if options.dry_run && !name.is_inbox() && !s.exists(&name).await? {
        Vec::new()
    } else {
        server_messages(mb, s, f, &name).await?
    };
    let have: Vec<String> = existing
        .iter()
        .filter(|m| !m.flags.deleted)
        .filter_map(|m| m.fields.message_type.clone())
        .map(|t| t.trim().to_ascii_lowercase())
        .collect();
    let mut batch = Vec::new();
    let mut paths = Vec::new();
    for g in &sb.greetings {
        report.found += 1;
        let path = sb.path.join(&g.name);
        let copy = !have.contains(&g.name.to_ascii_lowercase());
        report.plan.push(PlannedCopy {
            from: path.display().to_string(),
            to: format!("{} (greeting {})", name.as_wire(), g.name),
            copy,
        });
        if !copy {
            report.skipped += 1;
            progress.advanced(1, 0);
            continue;
        }
        if options.dry_run {
            continue;
        }
        let built = pick_audio(formats, &g.files).and_then(|(ext, file)| {
            let bytes = spool::read_bounded(&file, MAX_AUDIO_FILE_BYTES)
                .map_err(|e| format!("unreadable recording {}: {e}", file.display()))?;
            build_greeting(mb, &g.name, &ext, bytes, mtime_secs(&file))
        });
        match built {
            Ok(bytes) => {
                paths.push(path);
                batch.push(MigrateAppend {
                    message: Arc::from(bytes),
                    flags: MessageFlags::default(),
                    internal_date: None,
                });
            }
            Err(reason) => {
                report.failed.push(Failure {
                    path: path.display().to_string(),
                    reason,
                });
                progress.advanced(1, 0);
            }
        }
    }
    if batch.is_empty() {
        return Ok(());
    }
    let results = append::append_pipelined(s, &name, &batch).await?;
    for ((path, a), r) in paths.into_iter().zip(&batch).zip(results) {
        match r {
            Ok(_) => {
                report.copied += 1;
                report.bytes += a.message.len() as u64;
                progress.advanced(1, a.message.len() as u64);
            }
            Err(reason) => {
                report.failed.push(Failure {
                    path: path.display().to_string(),
                    reason,
                });
                progress.advanced(1, 0);
            }
        }
    }
    Ok(())
}

fn build_greeting(
    mb: &Mailbox,
    name: &str,
    ext: &str,
    bytes: Vec<u8>,
    time: i64,
) -> std::result::Result<Vec<u8>, String> {
    let settings = imapvm::message_settings(mb.settings()).map_err(|e| e.to_string())?;
    let vm = Voicemail {
        mailbox: mb.mailbox_id().mailbox().to_owned(),
        context: mb.mailbox_id().context().to_owned(),
        extension: mb.identity().extension().to_owned(),
        msgnum: 0,
        server_name: mb.settings().fromstring.value.clone(),
        priority: 1,
        message_type: MessageType::Greeting(name.to_owned()),
        orig_date: settings.email_date(time).map_err(|e| e.to_string())?,
        orig_time: time,
        msg_id: None,
        audio: vec![AudioPart::greeting(name, ext, bytes)],
        ..Voicemail::default()
    };
    let hash = plan::stable_hash(&[
        mb.mailbox_id().context(),
        mb.mailbox_id().mailbox(),
        name,
        &time.to_string(),
    ]);
    let host = mb.store().hostname();
    let envelope = Envelope {
        date: time,
        message_id: format!(
            "<imapvm-migrate-{name}-{hash:016x}-{}@{host}>",
            mb.mailbox_id().mailbox()
        ),
        boundary: format!("----voicemail_imapvm{time}{hash:016x}"),
        hostname: host.to_owned(),
    };
    imapvm_message::build(&vm, &settings, &envelope, Mode::Default)
        .map_err(|e| format!("cannot build the greeting: {e}"))
}

// ------------------------------------------------------------------------------ export

/// Exports IMAP voicemail into a spool (see the module docs).
pub async fn export(
    store: &Store,
    options: &ExportOptions,
    progress: &dyn Progress,
) -> Result<MigrationReport> {
    let ids: Vec<String> = if options.mailboxes.is_empty() {
        store
            .mailbox_ids()
            .iter()
            .map(ToString::to_string)
            .collect()
    } else {
        options
            .mailboxes
            .iter()
            .map(|m| {
                if m.contains('@') {
                    m.clone()
                } else {
                    format!("{m}@default")
                }
            })
            .collect()
    };
    let mut report = MigrationReport::default();
    for id in ids {
        let mb = match store.mailbox(&id) {
            Ok(mb) => mb,
            Err(e) => {
                report.failed.push(Failure {
                    path: id,
                    reason: format!("mailbox not usable: {e}"),
                });
                continue;
            }
        };
        let report_ref = &mut report;
        let done = on_account(&mb, |a| {
            Box::pin(export_mailbox(
                &mb, a.session, a.folders, options, progress, report_ref,
            ))
        })
        .await;
        if let Err(e) = done {
            report.failed.push(Failure {
                path: id,
                reason: format!("stopped: {e} (a re-run resumes)"),
            });
        }
    }
    Ok(report)
}

/// The key and number of every message already in a spool folder (those with a `.txt`).
fn spool_keys(dir: &Path, folder: Folder) -> Result<(Vec<MatchKey>, Vec<u32>)> {
    let existing = spool::read_folder(folder, dir)?;
    let mut keys = Vec::new();
    let mut taken = Vec::new();
    for m in existing.messages {
        let Some(txt) = &m.txt else { continue };
        taken.push(m.number);
        if let Ok(bytes) =
            spool::read_bounded(txt, imapvm_message::spool_info::MAX_INFO_BYTES as u64)
            && let Ok(parsed) = MessageInfo::parse(&bytes)
        {
            keys.push(MatchKey::of_info(&parsed.info));
        }
    }
    Ok((keys, taken))
}

/// The `.txt` of an exported message: the one it was imported with, else one made from its
/// headers the way Asterisk would have written it.
fn info_for(mb: &Mailbox, raw: &[u8], vm: &Voicemail) -> MessageInfo {
    if let Some(info) = MessageInfo::from_header_block(raw) {
        return info;
    }
    let fields = InfoFields {
        origmailbox: mb.mailbox_id().mailbox().to_owned(),
        context: vm.context.clone(),
        macrocontext: None,
        exten: mb.mailbox_id().mailbox().to_owned(),
        rdnis: "unknown".into(),
        priority: vm.priority,
        callerchan: vm.caller_channel.clone().unwrap_or_default(),
        callerid: MessageInfo::callerid_merge(&vm.caller_id_name, &vm.caller_id_num),
        origdate: None,
        origtime: vm.orig_time,
        category: vm.category.clone(),
        msg_id: vm.msg_id.clone(),
        flag: vm.flag.as_str().to_owned(),
        duration: vm.duration_secs,
    };
    MessageInfo::asterisk(&fields).unwrap_or_else(|_| {
        let mut info = MessageInfo::new();
        info.push("origtime", &vm.orig_time.to_string());
        info.push("duration", &vm.duration_secs.to_string());
        info
    })
}

async fn fetch_full(s: &mut Session, uids: &[Uid]) -> Result<Vec<(Uid, Vec<u8>)>> {
    if uids.is_empty() {
        return Ok(Vec::new());
    }
    let range = UidRange::Set(uids.iter().copied().collect());
    let attrs = [FetchAttr::Full];
    match s
        .exec("UID FETCH (migrate export)", |c| {
            c.uid_fetch(&range, &attrs)
        })
        .await?
    {
        Outcome::Fetch(m) => Ok(m
            .into_iter()
            .map(|m| (m.uid, m.full().unwrap_or_default().to_vec()))
            .collect()),
        _ => Ok(Vec::new()),
    }
}

async fn export_mailbox(
    mb: &Mailbox,
    s: &mut Session,
    f: &mut Folders,
    options: &ExportOptions,
    progress: &dyn Progress,
    report: &mut MigrationReport,
) -> Result<()> {
    let layout = mb.layout(s)?;
    let box_dir = spool::voicemail_dir(&options.spool)
        .join(mb.mailbox_id().context())
        .join(mb.mailbox_id().mailbox());
    let mut imap_folders: Vec<(Folder, MailboxName)> = Vec::new();
    for folder in SPOOL_FOLDERS {
        if matches!(folder, Folder::Old | Folder::Urgent) {
            continue;
        }
        let name = layout.mailbox_name(folder);
        if imap_folders.iter().any(|(_, n)| n.same_mailbox(&name)) {
            continue;
        }
        if name.is_inbox() || s.exists(&name).await? {
            imap_folders.push((folder, name));
        }
    }
    let mut greetings: BTreeMap<String, (MailboxName, Uid)> = BTreeMap::new();
    let greetings_name = layout.mailbox_name(Folder::Greetings);
    let mut scanned_greetings = false;
    for (folder, name) in &imap_folders {
        let messages = server_messages(mb, s, f, name).await?;
        scanned_greetings |= name.same_mailbox(&greetings_name);
        // Spool folder → (uid, key) of the live messages that belong there.
        let mut by_target: BTreeMap<Folder, Vec<(Uid, MatchKey)>> = BTreeMap::new();
        for m in &messages {
            if is_greeting(&m.fields) {
                if !m.flags.deleted
                    && let Some(t) = &m.fields.message_type
                {
                    greetings.insert(t.trim().to_owned(), (name.clone(), m.uid));
                }
                continue;
            }
            if let Some(target) = export_folder(*folder, m.flags) {
                by_target
                    .entry(target)
                    .or_default()
                    .push((m.uid, MatchKey::of_headers(&m.fields)));
            }
        }
        for (target, list) in by_target {
            report.found += list.len() as u64;
            progress.found(list.len() as u64);
            let dir = box_dir.join(target.asterisk_name());
            let (have, taken) = spool_keys(&dir, target)?;
            let keys: Vec<MatchKey> = list.iter().map(|(_, k)| k.clone()).collect();
            let copies = plan_copies(&keys, have);
            let to_copy: Vec<Uid> = list
                .iter()
                .zip(&copies)
                .filter(|(_, c)| **c)
                .map(|((u, _), _)| *u)
                .collect();
            let numbers = free_numbers(&taken, to_copy.len());
            let number_of: BTreeMap<Uid, u32> = to_copy.iter().copied().zip(numbers).collect();
            for ((uid, _), copy) in list.iter().zip(&copies) {
                let to = number_of.get(uid).map_or_else(
                    || dir.display().to_string(),
                    |n| dir.join(format!("msg{n:04}.txt")).display().to_string(),
                );
                report.plan.push(PlannedCopy {
                    from: format!("{} UID {uid}", name.as_wire()),
                    to,
                    copy: *copy,
                });
                if !copy {
                    report.skipped += 1;
                    progress.advanced(1, 0);
                }
            }
            if options.dry_run || to_copy.is_empty() {
                continue;
            }
            spool::create_dir(&dir)?;
            for chunk in to_copy.chunks(EXPORT_FETCH_BATCH) {
                let fetched = fetch_full(s, chunk).await?;
                for uid in chunk {
                    let failure = |reason: String| Failure {
                        path: format!("{} {} UID {uid}", mb.id(), name.as_wire()),
                        reason,
                    };
                    let Some((_, raw)) = fetched.iter().find(|(u, _)| u == uid) else {
                        report.failed.push(failure("the message vanished".into()));
                        progress.advanced(1, 0);
                        continue;
                    };
                    let Some(number) = number_of.get(uid) else {
                        continue;
                    };
                    match write_message(mb, &dir, *number, raw) {
                        Ok(bytes) => {
                            report.copied += 1;
                            report.bytes += bytes;
                            progress.advanced(1, bytes);
                        }
                        Err(reason) => {
                            report.failed.push(failure(reason));
                            progress.advanced(1, 0);
                        }
                    }
                }
            }
        }
    }
    if mb.settings().imapgreetings.value && !scanned_greetings && s.exists(&greetings_name).await? {
        for m in server_messages(mb, s, f, &greetings_name).await? {
            if is_greeting(&m.fields)
                && !m.flags.deleted
                && let Some(t) = &m.fields.message_type
            {
                greetings.insert(t.trim().to_owned(), (greetings_name.clone(), m.uid));
            }
        }
    }
    for (gname, (folder, uid)) in greetings {
        report.found += 1;
        progress.found(1);
        let present = std::fs::read_dir(&box_dir).ok().is_some_and(|rd| {
            rd.filter_map(|e| e.ok()).any(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|n| n.split_once('.'))
                    .is_some_and(|(stem, ext)| stem == gname && ext != "txt")
            })
        });
        report.plan.push(PlannedCopy {
            from: format!("{} UID {uid}", folder.as_wire()),
            to: box_dir.join(&gname).display().to_string(),
            copy: !present,
        });
        if present {
            report.skipped += 1;
            progress.advanced(1, 0);
            continue;
        }
        if options.dry_run {
            continue;
        }
        mb.select(s, f, &folder).await?;
        let fetched = fetch_full(s, &[uid]).await?;
        let written = fetched
            .first()
            .ok_or_else(|| "the greeting vanished".to_owned())
            .and_then(|(_, raw)| {
                let parsed = imapvm_message::parse(raw).map_err(|e| e.to_string())?;
                let audio = parsed
                    .voicemail
                    .audio
                    .first()
                    .ok_or_else(|| "no audio".to_owned())?;
                spool::create_dir(&box_dir).map_err(|e| e.to_string())?;
                let path = box_dir.join(format!("{gname}.{}", audio.format));
                spool::write_atomically(&path, &audio.bytes).map_err(|e| e.to_string())?;
                Ok(audio.bytes.len() as u64)
            });
        match written {
            Ok(bytes) => {
                report.copied += 1;
                report.bytes += bytes;
                progress.advanced(1, bytes);
            }
            Err(reason) => {
                report.failed.push(Failure {
                    path: format!("{} {} UID {uid}", mb.id(), folder.as_wire()),
                    reason,
                });
                progress.advanced(1, 0);
            }
        }
    }
    Ok(())
}

/// Writes one exported message as `msgNNNN.{fmt}` then `msgNNNN.txt` (the `.txt` last: a
/// number counts as taken once its `.txt` exists, so an interrupted write is redone).
fn write_message(
    mb: &Mailbox,
    dir: &Path,
    number: u32,
    raw: &[u8],
) -> std::result::Result<u64, String> {
    let parsed = imapvm_message::parse(raw).map_err(|e| format!("unreadable message: {e}"))?;
    let audio = parsed
        .voicemail
        .audio
        .first()
        .ok_or_else(|| "no audio".to_owned())?;
    if audio.format.is_empty() || audio.format.contains(['/', '\\', '.']) {
        return Err(format!("unusable audio format {:?}", audio.format));
    }
    let info = info_for(mb, raw, &parsed.voicemail);
    let audio_path = dir.join(format!("msg{number:04}.{}", audio.format));
    spool::write_atomically(&audio_path, &audio.bytes).map_err(|e| e.to_string())?;
    let txt = info.render();
    spool::write_atomically(&dir.join(format!("msg{number:04}.txt")), &txt)
        .map_err(|e| e.to_string())?;
    Ok((audio.bytes.len() + txt.len()) as u64)
}
