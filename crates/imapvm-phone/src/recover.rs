//! [`recover`]: the recordings an earlier run left in the spool (imapvm died after Asterisk
//! recorded them), found by their unlocked journals ([`crate::journal`]) and deposited once.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use imapvm_ivr::Deposit;

use crate::error::{Error, Result};
use crate::journal::{MAX_JOURNAL, SUFFIX, parse};
use crate::spool::{spool_extension, with_extension};
use crate::store::{Caller, PhoneStore};

/// What one [`recover`] pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// Recordings deposited (or queued in the outbox).
    pub deposited: usize,
    /// Recordings still being written or held by a live call.
    pub waiting: usize,
    /// Journals without a recording (the call ended before recording), removed.
    pub removed: usize,
    /// Journals that could not be handled, with why (they stay for the next pass).
    pub failed: Vec<(PathBuf, String)>,
}

/// Deposits every recording whose call died after recording it (see the module docs).
pub async fn recover(store: &PhoneStore, settle: Duration) -> Recovered {
    let mut done = Recovered::default();
    let dir = store.spool().dir().to_owned();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return done;
    };
    let mut journals: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(SUFFIX))
        .collect();
    journals.sort();
    for path in journals {
        match recover_one(store, &path, settle).await {
            Ok(Some(true)) => done.deposited += 1,
            Ok(Some(false)) => done.removed += 1,
            Ok(None) => done.waiting += 1,
            Err(e) => done.failed.push((path, e.to_string())),
        }
    }
    done
}

/// `Some(true)`: deposited; `Some(false)`: nothing to deposit; `None`: not yet.
async fn recover_one(store: &PhoneStore, path: &Path, settle: Duration) -> Result<Option<bool>> {
    let file = File::open(path).map_err(|e| Error::spool(path, "opening the journal", e))?;
    if file.try_lock().is_err() {
        return Ok(None); // a live call holds it
    }
    let meta = file
        .metadata()
        .map_err(|e| Error::spool(path, "reading the journal", e))?;
    if meta.len() > MAX_JOURNAL {
        return Err(Error::TooLarge {
            what: path.display().to_string(),
            bytes: usize::try_from(meta.len()).unwrap_or(usize::MAX),
        });
    }
    let text =
        std::fs::read_to_string(path).map_err(|e| Error::spool(path, "reading the journal", e))?;
    let Some(entry) = parse(&text) else {
        return Err(Error::Flow(format!(
            "{} is not a journal imapvm can read",
            path.display()
        )));
    };
    let recording = PathBuf::from(path.to_string_lossy().trim_end_matches(SUFFIX));
    let audio = with_extension(&recording, spool_extension(&entry.format));
    let Ok(audio_meta) = std::fs::metadata(&audio) else {
        let _ = std::fs::remove_file(path);
        return Ok(Some(false));
    };
    let still_growing = audio_meta
        .modified()
        .ok()
        .and_then(|m| m.elapsed().ok())
        .is_none_or(|age| age < settle);
    if still_growing {
        return Ok(None);
    }
    let deposit = Deposit {
        recipients: entry.recipients.clone(),
        recording: imapvm_ivr::SpoolName::new(&recording.to_string_lossy())
            .map_err(|e| Error::Flow(e.to_string()))?,
        duration_secs: entry.duration_secs,
        urgency: entry.urgency,
        origtime: entry.origtime,
    };
    let caller = Caller {
        num: entry.caller.0.clone(),
        name: entry.caller.1.clone(),
    };
    let outcome = store
        .deposit_recovered(&deposit, &caller, &entry.format, &entry.msg_id)
        .await;
    match outcome {
        imapvm_ivr::DepositOutcome::Failed => Err(Error::Flow(
            "the deposit failed; kept for the next pass".into(),
        )),
        _ => {
            let _ = std::fs::remove_file(&audio);
            let _ = std::fs::remove_file(path);
            tracing::info!(recording = %audio.display(), msg_id = %entry.msg_id, "a recording left by an earlier run was deposited");
            Ok(Some(true))
        }
    }
}
