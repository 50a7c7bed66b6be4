//! What the caller said is never lost: before Asterisk starts recording a message, the call
//! writes a journal next to the recording (`{token}-rec.journal`, fsync'd) saying who it is
//! for, from whom, when, and under which msg id. The call holds an exclusive lock on it.
//!
//! If imapvm dies after the recording (SIGKILL, a crash, a reboot), the journal and the
//! recording stay in the spool with nobody holding the lock. [`crate::recover`] (run at
//! start and then periodically) finds them, waits until the file has stopped growing (Asterisk may
//! still be recording when imapvm died), and deposits the recording through the runtime's
//! durable deposit under the journal's msg id: the runtime looks that msg id up before it
//! APPENDs, so a recording that was already stored (imapvm died after the deposit but
//! before removing the journal) is not stored twice.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use imapvm_ivr::{Deposit, Urgency};
use imapvm_types::MailboxId;

use crate::error::{Error, Result};
use crate::spool::with_extension;

/// The journal file's suffix, after the recording's base name.
pub(crate) const SUFFIX: &str = ".journal";
/// The first line of a journal.
const MAGIC: &str = "imapvm-recording 1";
/// A recording that changed less than this long ago may still be being written.
pub const SETTLE: Duration = Duration::from_secs(5);
/// Largest journal read back.
pub(crate) const MAX_JOURNAL: u64 = 64 * 1024;

/// What a journal records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub recipients: Vec<MailboxId>,
    pub caller: (String, String),
    pub format: String,
    pub origtime: u64,
    pub msg_id: String,
    pub urgency: Urgency,
    pub duration_secs: Option<u32>,
}

/// The journal of one recording, locked while the call lives.
#[derive(Debug)]
pub(crate) struct Journal {
    path: PathBuf,
    recording: PathBuf,
    file: std::sync::Mutex<Option<File>>,
    entry: std::sync::Mutex<Entry>,
}

fn clean(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(200).collect()
}

fn render(e: &Entry) -> String {
    let urgency = match e.urgency {
        Urgency::Normal => "normal",
        Urgency::Urgent => "urgent",
        Urgency::Priority => "priority",
    };
    let recipients: Vec<String> = e.recipients.iter().map(ToString::to_string).collect();
    format!(
        "{MAGIC}\nrecipients={}\ncaller_num={}\ncaller_name={}\nformat={}\norigtime={}\nmsg_id={}\nurgency={urgency}\nduration={}\n",
        recipients.join("&"),
        clean(&e.caller.0),
        clean(&e.caller.1),
        clean(&e.format),
        e.origtime,
        clean(&e.msg_id),
        e.duration_secs.map(|d| d.to_string()).unwrap_or_default(),
    )
}

pub(crate) fn parse(text: &str) -> Option<Entry> {
    let mut lines = text.lines();
    if lines.next()? != MAGIC {
        return None;
    }
    let mut e = Entry {
        recipients: Vec::new(),
        caller: (String::new(), String::new()),
        format: String::new(),
        origtime: 0,
        msg_id: String::new(),
        urgency: Urgency::Normal,
        duration_secs: None,
    };
    for line in lines {
        let (k, v) = line.split_once('=')?;
        match k {
            "recipients" => {
                e.recipients = v
                    .split('&')
                    .map(MailboxId::parse)
                    .collect::<Result<_, _>>()
                    .ok()?;
            }
            "caller_num" => e.caller.0 = v.to_owned(),
            "caller_name" => e.caller.1 = v.to_owned(),
            "format" => e.format = v.to_owned(),
            "origtime" => e.origtime = v.parse().ok()?,
            "msg_id" => e.msg_id = v.to_owned(),
            "urgency" => {
                e.urgency = match v {
                    "urgent" => Urgency::Urgent,
                    "priority" => Urgency::Priority,
                    _ => Urgency::Normal,
                }
            }
            "duration" => e.duration_secs = v.parse().ok(),
            _ => {}
        }
    }
    (!e.recipients.is_empty() && !e.format.is_empty() && !e.msg_id.is_empty()).then_some(e)
}

fn write_synced(path: &Path, text: &str) -> std::io::Result<File> {
    let tmp = with_extension(path, "tmp");
    let mut file = File::create(&tmp)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    let file = File::open(path)?;
    file.try_lock()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(file)
}

impl Journal {
    /// Writes (fsync'd) and locks the journal of `recording` before it is recorded.
    pub(crate) fn start(recording: &Path, entry: Entry) -> Result<Journal> {
        let path = with_extension(recording, SUFFIX.trim_start_matches('.'));
        let file = write_synced(&path, &render(&entry))
            .map_err(|e| Error::spool(&path, "writing the journal", e))?;
        Ok(Journal {
            path,
            recording: recording.to_owned(),
            file: std::sync::Mutex::new(Some(file)),
            entry: std::sync::Mutex::new(entry),
        })
    }

    /// The caller's final choice (urgency, length), before the deposit starts.
    pub(crate) fn decided(&self, deposit: &Deposit, duration_secs: u32) -> Result<()> {
        let mut entry = self
            .entry
            .lock()
            .map_err(|_| Error::Flow("journal lock poisoned".into()))?;
        entry.urgency = deposit.urgency;
        entry.duration_secs = Some(duration_secs);
        let file = write_synced(&self.path, &render(&entry))
            .map_err(|e| Error::spool(&self.path, "writing the journal", e))?;
        if let Ok(mut held) = self.file.lock() {
            *held = Some(file);
        }
        Ok(())
    }

    /// The msg id the recording is deposited under.
    pub(crate) fn msg_id(&self) -> String {
        self.entry
            .lock()
            .map(|e| e.msg_id.clone())
            .unwrap_or_default()
    }

    /// The recording is safe (stored or queued in the outbox) or discarded: the journal goes.
    pub(crate) fn remove(&self) {
        if let Err(e) = std::fs::remove_file(&self.path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(file = %self.path.display(), error = %e, "could not remove a journal");
        }
        if let Ok(mut held) = self.file.lock() {
            held.take();
        }
    }

    /// The recording's base name.
    pub(crate) fn recording(&self) -> &Path {
        &self.recording
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_refuse_garbage() {
        let e = Entry {
            recipients: vec![
                MailboxId::parse("1234@default").unwrap(),
                MailboxId::parse("5678").unwrap(),
            ],
            caller: ("5551001".into(), "Alice\nExample".into()),
            format: "wav".into(),
            origtime: 1_796_587_333,
            msg_id: "1796587333-0000abcd".into(),
            urgency: Urgency::Urgent,
            duration_secs: Some(7),
        };
        let back = parse(&render(&e)).unwrap();
        assert_eq!(back.caller.1, "AliceExample", "no line break survives");
        assert_eq!(back.recipients, e.recipients);
        assert_eq!(
            (back.urgency, back.duration_secs, back.origtime),
            (Urgency::Urgent, Some(7), e.origtime)
        );
        assert!(parse("garbage").is_none());
        assert!(parse(&format!("{MAGIC}\nrecipients=\nformat=wav\nmsg_id=x\n")).is_none());
    }
}
