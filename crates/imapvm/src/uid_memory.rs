//! Which UIDs are voicemail, kept between processes: the file of each account under
//! imapvm.conf's `cache_dir` ([`imapvm_policy::uid_file`] says its form and why reading any
//! complete one is safe). A slot recalls it before its first operation and writes it back
//! when the store closes, if it learnt something. Neither ever fails an operation: a file
//! that cannot be read or written costs one whole-folder search, and says why in the log.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use imapvm_policy::uid_file::{self, MAX_FILE_BYTES};
use imapvm_policy::{CacheBounds, MailboxName};

use crate::account::AccountKey;
use crate::pool::Slot;

/// The file of `account` in `dir` (`None`: a name too long for one file name).
fn path(dir: &Path, account: &AccountKey) -> Option<PathBuf> {
    let mut name = String::new();
    for b in account.to_string().bytes() {
        if b.is_ascii_alphanumeric() || b"._@-".contains(&b) {
            name.push(char::from(b));
        } else {
            name.push_str(&format!("%{b:02X}"));
        }
    }
    (name.len() <= 240).then(|| dir.join(format!("{name}.uids")))
}

/// Reads `account`'s file into `slot` (once per slot: later calls do nothing).
pub(crate) fn recall(dir: &Path, account: &AccountKey, slot: &mut Slot) {
    if std::mem::replace(&mut slot.recalled, true) {
        return;
    }
    let Some(path) = path(dir, account) else {
        return;
    };
    let mut text = String::new();
    let read = std::fs::File::open(&path)
        .and_then(|f| f.take(MAX_FILE_BYTES as u64 + 1).read_to_string(&mut text));
    match read {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
        Err(e) => {
            tracing::warn!(account = %account, path = %path.display(), "voicemail-UID file not read: {e}");
            return;
        }
    }
    let entries = match uid_file::decode(&account.to_string(), &text, CacheBounds::DEFAULT) {
        Ok(entries) => entries,
        Err(e) => {
            tracing::warn!(account = %account, path = %path.display(), "voicemail-UID file not read: {e}");
            return;
        }
    };
    // A folder's entries belong to one UIDVALIDITY: the most recently used entry's.
    let mut kept = Vec::with_capacity(entries.len());
    for r in entries {
        let Ok(name) = MailboxName::from_wire(&r.key.0) else {
            continue;
        };
        let memory = slot.folders.get(&name);
        if *memory.uid_validity.get_or_insert(r.uid_validity) == r.uid_validity {
            kept.push(r);
        }
    }
    tracing::debug!(account = %account, entries = kept.len(), "voicemail UIDs recalled");
    slot.written = Some(text);
    slot.folders.voicemail.recall(kept);
}

/// Writes what `slot` knows to `account`'s file in `dir`, unless it is what the file holds:
/// to a new file in the same directory, then renamed over the old one (a reader sees one or
/// the other, and two processes closing at once leave one of theirs, whole).
pub(crate) fn keep(dir: &Path, account: &AccountKey, slot: &mut Slot) {
    if !slot.recalled {
        return;
    }
    let text = uid_file::encode(&account.to_string(), &slot.folders.voicemail.remembered());
    if slot.written.as_deref() == Some(text.as_str()) {
        return;
    }
    let Some(path) = path(dir, account) else {
        return;
    };
    match write_atomically(dir, &path, &text) {
        Ok(()) => slot.written = Some(text),
        Err(e) => {
            tracing::warn!(account = %account, path = %path.display(), "voicemail-UID file not written: {e}");
        }
    }
}

fn write_atomically(dir: &Path, path: &Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    // Unique to this write: the process, and a count of this process's writes.
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".uids.{}.{n}.tmp", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(user: &str) -> AccountKey {
        AccountKey {
            server: "mail.example.com".into(),
            port: 143,
            user: user.into(),
        }
    }

    #[test]
    fn file_names_are_one_plain_name_per_account() {
        let dir = Path::new("/var/cache/imapvm");
        let p = path(dir, &account("vm shared/../x")).expect("short");
        assert_eq!(
            p,
            dir.join("vm%20shared%2F..%2Fx@mail.example.com%3A143.uids")
        );
        assert_eq!(path(dir, &account(&"u".repeat(300))), None);
    }

    #[test]
    fn a_slot_recalls_what_another_kept_and_a_bad_file_is_ignored() {
        let dir = std::env::temp_dir().join(format!("imapvm-uid-memory-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cache = dir.join("cache");
        let acct = account("vm");
        let name = MailboxName::from_wire("INBOX").expect("name");
        let v = imapvm_policy::UidValidity::new(9).expect("non-zero");
        let key = ("INBOX".to_owned(), "2001".to_owned(), "default".to_owned());
        let mut first = Slot::default();
        recall(&cache, &acct, &mut first);
        first.folders.check_validity(&name, v);
        let hits = [imapvm_policy::Uid::new(4).expect("non-zero")];
        first.folders.voicemail.learn(
            key.clone(),
            imapvm_policy::Scan {
                uid_validity: v,
                searched: None,
                hits: &hits,
                existing: imapvm_policy::Uid::new(10),
            },
        );
        keep(&cache, &acct, &mut first);
        let file = path(&cache, &acct).expect("short");
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&file).expect("written").permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);

        let mut second = Slot::default();
        recall(&cache, &acct, &mut second);
        assert_eq!(second.folders.get(&name).uid_validity, Some(v));
        assert_eq!(
            second
                .folders
                .voicemail
                .candidates(&key, v)
                .map(|s| s.to_string()),
            Some("4,11:4294967295".to_owned())
        );
        // Nothing learnt since: nothing written (the file is left as it is).
        std::fs::write(&file, "changed by hand").expect("write");
        keep(&cache, &acct, &mut second);
        assert_eq!(
            std::fs::read_to_string(&file).expect("read"),
            "changed by hand"
        );

        // A file that is not one: the slot starts empty, and its next write replaces it.
        let mut third = Slot::default();
        recall(&cache, &acct, &mut third);
        assert!(third.folders.voicemail.is_empty());
        assert_eq!(third.folders.get(&name).uid_validity, None);
        keep(&cache, &acct, &mut third);
        assert!(
            std::fs::read_to_string(&file)
                .expect("read")
                .starts_with(uid_file::MAGIC)
        );
        let leftovers: Vec<_> = std::fs::read_dir(&cache)
            .expect("dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "{leftovers:?}");
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
