//! The file I/O of a migration: reading Asterisk's file-storage layout
//! (`{spool}/voicemail/{context}/{mailbox}/{folder}/msgNNNN.{txt,wav,WAV,gsm,...}` and the
//! greetings `unavail|busy|greet|temp.{fmt}` beside the folders) and writing it back.
//! Nothing here deletes a file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use imapvm_policy::Folder;

use crate::error::{Error, Result};
use crate::plan::spool_folder;

/// The greeting names Asterisk keeps in a mailbox directory.
pub const GREETING_NAMES: [&str; 4] = ["unavail", "busy", "greet", "temp"];

/// Most entries read from one directory (a bound on what a hostile spool can make us hold).
const MAX_DIR_ENTRIES: usize = 200_000;

/// One message of a spool folder: its number and files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolMessage {
    /// `NNNN` of `msgNNNN`.
    pub number: u32,
    /// The `.txt`, if there is one.
    pub txt: Option<PathBuf>,
    /// The recordings: (extension as on disk, path), sorted by extension.
    pub audio: Vec<(String, PathBuf)>,
}

/// One folder of a mailbox directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolFolder {
    /// Which folder.
    pub folder: Folder,
    /// Its directory.
    pub path: PathBuf,
    /// Its messages, by number.
    pub messages: Vec<SpoolMessage>,
}

/// A greeting file set (one name, its formats).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolGreeting {
    /// `unavail`, `busy`, `greet`, `temp`.
    pub name: String,
    /// (extension, path), sorted by extension.
    pub files: Vec<(String, PathBuf)>,
}

/// One mailbox directory `{context}/{mailbox}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolMailbox {
    /// The voicemail context (directory name).
    pub context: String,
    /// The mailbox (directory name).
    pub mailbox: String,
    /// Its directory.
    pub path: PathBuf,
    /// Folders that exist, in [`crate::plan::SPOOL_FOLDERS`] order.
    pub folders: Vec<SpoolFolder>,
    /// Greetings found.
    pub greetings: Vec<SpoolGreeting>,
}

impl SpoolMailbox {
    /// `mailbox@context`.
    pub fn id(&self) -> String {
        format!("{}@{}", self.mailbox, self.context)
    }
}

fn spool_error(path: &Path, source: std::io::Error) -> Error {
    Error::Spool {
        path: path.to_owned(),
        source,
    }
}

/// The `voicemail` directory that `--spool` names: Asterisk's spool directory
/// (`/var/spool/asterisk` → `/var/spool/asterisk/voicemail`) or the voicemail directory
/// itself (`/var/spool/asterisk/voicemail`, or any directory whose `CONTEXT/BOX/` hold
/// Asterisk's folders). For an export into a directory that does not exist yet: its
/// `voicemail/` unless it is itself called `voicemail`.
pub fn voicemail_dir(spool: &Path) -> PathBuf {
    let nested = spool.join("voicemail");
    if nested.is_dir() || (!spool.is_dir() && spool.file_name() != Some("voicemail".as_ref())) {
        return nested;
    }
    if spool.file_name() == Some("voicemail".as_ref()) || holds_mailboxes(spool) {
        spool.to_owned()
    } else {
        nested
    }
}

/// True when some `dir/CONTEXT/BOX/` has one of Asterisk's folders or greetings.
fn holds_mailboxes(dir: &Path) -> bool {
    let subdirs = |d: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(d)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .take(MAX_DIR_ENTRIES)
            .collect()
    };
    subdirs(dir).iter().flat_map(|c| subdirs(c)).any(|mailbox| {
        ["INBOX", "Old", "Urgent", "tmp"]
            .iter()
            .any(|f| mailbox.join(f).is_dir())
            || ["greet", "unavail", "busy", "temp"]
                .iter()
                .any(|g| mailbox.join(format!("{g}.wav")).is_file())
    })
}

fn read_dir_sorted(path: &Path) -> Result<Vec<(String, PathBuf, bool)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(path).map_err(|e| spool_error(path, e))? {
        let entry = entry.map_err(|e| spool_error(path, e))?;
        let Ok(name) = entry.file_name().into_string() else {
            tracing::warn!(dir = %path.display(), "skipping a file name that is not UTF-8");
            continue;
        };
        let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
        out.push((name, entry.path(), is_dir));
        if out.len() > MAX_DIR_ENTRIES {
            return Err(spool_error(
                path,
                std::io::Error::other(format!("more than {MAX_DIR_ENTRIES} entries")),
            ));
        }
    }
    out.sort();
    Ok(out)
}

/// `msgNNNN.ext` → (NNNN, ext).
fn message_file(name: &str) -> Option<(u32, &str)> {
    let rest = name.strip_prefix("msg")?;
    let (num, ext) = rest.split_once('.')?;
    if num.len() < 4 || !num.bytes().all(|b| b.is_ascii_digit()) || ext.is_empty() {
        return None;
    }
    Some((num.parse().ok()?, ext))
}

/// Reads one folder directory.
pub fn read_folder(folder: Folder, path: &Path) -> Result<SpoolFolder> {
    let mut by_number: BTreeMap<u32, SpoolMessage> = BTreeMap::new();
    if path.is_dir() {
        for (name, file, is_dir) in read_dir_sorted(path)? {
            if is_dir {
                continue;
            }
            let Some((number, ext)) = message_file(&name) else {
                continue;
            };
            let m = by_number.entry(number).or_insert_with(|| SpoolMessage {
                number,
                txt: None,
                audio: Vec::new(),
            });
            if ext == "txt" {
                m.txt = Some(file);
            } else {
                m.audio.push((ext.to_owned(), file));
            }
        }
    }
    Ok(SpoolFolder {
        folder,
        path: path.to_owned(),
        messages: by_number.into_values().collect(),
    })
}

/// Reads one mailbox directory.
pub fn read_mailbox(context: &str, mailbox: &str, path: &Path) -> Result<SpoolMailbox> {
    let mut folders = Vec::new();
    let mut greetings: BTreeMap<String, Vec<(String, PathBuf)>> = BTreeMap::new();
    let entries = read_dir_sorted(path)?;
    for folder in crate::plan::SPOOL_FOLDERS {
        if let Some((_, dir, _)) = entries
            .iter()
            .find(|(name, _, is_dir)| *is_dir && spool_folder(name) == Some(folder))
        {
            folders.push(read_folder(folder, dir)?);
        }
    }
    for (name, file, is_dir) in entries {
        if is_dir {
            continue;
        }
        if let Some((stem, ext)) = name.split_once('.')
            && GREETING_NAMES.contains(&stem)
            && !ext.is_empty()
            && ext != "txt"
        {
            greetings
                .entry(stem.to_owned())
                .or_default()
                .push((ext.to_owned(), file));
        }
    }
    Ok(SpoolMailbox {
        context: context.to_owned(),
        mailbox: mailbox.to_owned(),
        path: path.to_owned(),
        folders,
        greetings: greetings
            .into_iter()
            .map(|(name, files)| SpoolGreeting { name, files })
            .collect(),
    })
}

/// Every mailbox directory of a spool (`{spool}/voicemail/{context}/{mailbox}`).
pub fn read_spool(spool: &Path) -> Result<Vec<SpoolMailbox>> {
    let root = voicemail_dir(spool);
    if !root.is_dir() {
        return Err(Error::NoSpool {
            path: spool.to_owned(),
        });
    }
    let mut out = Vec::new();
    for (context, ctx_path, is_dir) in read_dir_sorted(&root)? {
        if !is_dir {
            continue;
        }
        for (mailbox, mb_path, is_dir) in read_dir_sorted(&ctx_path)? {
            if is_dir {
                out.push(read_mailbox(&context, &mailbox, &mb_path)?);
            }
        }
    }
    Ok(out)
}

/// Reads a file of at most `limit` bytes.
pub fn read_bounded(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {limit} bytes"),
        ));
    }
    Ok(bytes)
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a reader (or a crash)
/// never sees half a file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".imapvm-tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(|e| spool_error(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| spool_error(path, e))
}

/// Creates a directory and its parents.
pub fn create_dir(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).map_err(|e| spool_error(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spool_or_voicemail_directory() {
        let root = std::env::temp_dir().join(format!("imapvm-spool-dirs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        // astspooldir with voicemail/ inside.
        let ast = root.join("asterisk");
        std::fs::create_dir_all(ast.join("voicemail/default/1234/INBOX")).unwrap();
        assert_eq!(voicemail_dir(&ast), ast.join("voicemail"));
        // The voicemail directory itself, by name.
        assert_eq!(voicemail_dir(&ast.join("voicemail")), ast.join("voicemail"));
        // A copy under another name, recognised by CONTEXT/BOX/INBOX.
        let copy = root.join("copy");
        std::fs::create_dir_all(copy.join("default/1234/INBOX")).unwrap();
        assert_eq!(voicemail_dir(&copy), copy);
        // Greetings alone are enough.
        let greet = root.join("greet");
        std::fs::create_dir_all(greet.join("default/1234")).unwrap();
        std::fs::write(greet.join("default/1234/unavail.wav"), b"").unwrap();
        assert_eq!(voicemail_dir(&greet), greet);
        // An export target that does not exist yet.
        assert_eq!(voicemail_dir(&root.join("new")), root.join("new/voicemail"));
        assert_eq!(
            voicemail_dir(&root.join("voicemail")),
            root.join("voicemail")
        );
        // A directory with no voicemail: read_spool refuses it.
        let empty = root.join("empty");
        std::fs::create_dir_all(&empty).unwrap();
        assert!(matches!(read_spool(&empty), Err(Error::NoSpool { .. })));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn message_file_names() {
        assert_eq!(message_file("msg0000.txt"), Some((0, "txt")));
        assert_eq!(message_file("msg0012.WAV"), Some((12, "WAV")));
        assert_eq!(message_file("msg12345.gsm"), Some((12345, "gsm")));
        assert_eq!(message_file("msg012.wav"), None);
        assert_eq!(message_file("msgintro0000.wav"), None);
        assert_eq!(message_file("unavail.wav"), None);
        assert_eq!(message_file("msg0000."), None);
    }
}
