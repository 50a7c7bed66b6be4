//! The outbox on disk: one item = `ID.eml` (the message bytes, written once) + `ID.meta`
//! (a few `key: value` lines, rewritten atomically). Every write goes to a temporary name,
//! is fsync'd, renamed into place, and the directory is fsync'd. The `.eml` is locked
//! (`flock`, exclusive) by whoever is delivering it, so a deposit in flight and a flusher (in
//! this process or another) never both APPEND the same item.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use imapvm::{Error, OutboxError, Result};

/// First line of every `.meta` file.
const MAGIC: &str = "imapvm-outbox 1";
/// Largest `.meta` file read.
const MAX_META_BYTES: u64 = 16 * 1024;
/// Largest `.eml` accepted: two audio parts at the message crate's limit, base64 (4/3), and
/// room for headers and text.
pub const MAX_ITEM_BYTES: u64 = imapvm::MAX_AUDIO_FILE_BYTES * 3 + 1024 * 1024;
/// Longest `last-error` kept.
const MAX_ERROR_CHARS: usize = 500;

/// Whether an item waits for delivery or was refused by the server (or the admission policy)
/// and waits for the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemState {
    /// Delivered by the next flush.
    Pending,
    /// Not retried: over quota, `maxmsg`, or another refusal. `release` makes it pending again.
    Refused,
}

impl ItemState {
    /// `pending` / `refused`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Refused => "refused",
        }
    }
}

/// One queued deposit (its metadata; the bytes stay on disk).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    /// The item's name in the spool (`QUEUEDAT-MSGID`).
    pub id: String,
    /// `box@context`.
    pub mailbox: String,
    /// `X-Asterisk-VM-Message-ID` of the message: how a retry finds an earlier APPEND.
    pub msg_id: String,
    /// Its `Message-ID` header.
    pub message_id: String,
    /// APPENDed `\Flagged`.
    pub urgent: bool,
    /// When it was queued (Unix seconds).
    pub queued_at: i64,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// Pending or refused.
    pub state: ItemState,
    /// The last failure (or the refusal), one line.
    pub last_error: Option<String>,
    /// Size of the message in bytes.
    pub size: u64,
}

/// A spool file that is not a readable item (kept for the operator, never delivered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolProblem {
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub reason: String,
}

/// What [`Outbox::list`](crate::Outbox::list) found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OutboxListing {
    /// The items, oldest first.
    pub items: Vec<OutboxItem>,
    /// Unreadable or inconsistent files.
    pub problems: Vec<SpoolProblem>,
}

pub(crate) fn spool_error(path: &Path, source: OutboxError) -> Error {
    Error::Outbox {
        path: path.to_owned(),
        source,
    }
}

/// A file name made only of `[0-9A-Za-z._-]`.
pub(crate) fn item_id(queued_at: i64, msg_id: &str) -> String {
    let clean: String = msg_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    format!("{queued_at}-{clean}")
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 100
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_ERROR_CHARS)
        .collect()
}

impl OutboxItem {
    fn render(&self) -> String {
        let mut out = format!(
            "{MAGIC}\nmailbox: {}\nmsg-id: {}\nmessage-id: {}\nurgent: {}\nqueued-at: {}\n\
             attempts: {}\nstate: {}\nsize: {}\n",
            one_line(&self.mailbox),
            one_line(&self.msg_id),
            one_line(&self.message_id),
            if self.urgent { "yes" } else { "no" },
            self.queued_at,
            self.attempts,
            self.state.as_str(),
            self.size,
        );
        if let Some(e) = &self.last_error {
            out.push_str(&format!("last-error: {}\n", one_line(e)));
        }
        out
    }

    fn parse(id: &str, text: &str) -> std::result::Result<OutboxItem, String> {
        let mut lines = text.lines();
        if lines.next() != Some(MAGIC) {
            return Err(format!("not an outbox item (first line is not `{MAGIC}`)"));
        }
        let mut item = OutboxItem {
            id: id.to_owned(),
            mailbox: String::new(),
            msg_id: String::new(),
            message_id: String::new(),
            urgent: false,
            queued_at: 0,
            attempts: 0,
            state: ItemState::Pending,
            last_error: None,
            size: 0,
        };
        let mut seen_size = false;
        for (n, line) in lines.enumerate() {
            let Some((key, value)) = line.split_once(": ") else {
                return Err(format!("line {}: not `key: value`", n + 2));
            };
            let number = |v: &str| {
                v.parse::<i64>()
                    .map_err(|_| format!("line {}: {key} is not a number", n + 2))
            };
            match key {
                "mailbox" => item.mailbox = value.to_owned(),
                "msg-id" => item.msg_id = value.to_owned(),
                "message-id" => item.message_id = value.to_owned(),
                "urgent" => item.urgent = value == "yes",
                "queued-at" => item.queued_at = number(value)?,
                "attempts" => item.attempts = u32::try_from(number(value)?).unwrap_or(u32::MAX),
                "size" => {
                    item.size = u64::try_from(number(value)?)
                        .map_err(|_| format!("line {}: negative size", n + 2))?;
                    seen_size = true;
                }
                "state" => {
                    item.state = match value {
                        "pending" => ItemState::Pending,
                        "refused" => ItemState::Refused,
                        other => return Err(format!("line {}: unknown state {other:?}", n + 2)),
                    }
                }
                "last-error" => item.last_error = Some(value.to_owned()),
                // Written by a newer version: ignored.
                _ => {}
            }
        }
        if item.mailbox.is_empty() || item.msg_id.is_empty() || !seen_size {
            return Err("incomplete (mailbox, msg-id or size missing)".into());
        }
        Ok(item)
    }
}

/// An item whose `.eml` this process holds locked (delivery in progress): written ahead
/// of its APPEND by [`Outbox::hold_new`](crate::Outbox::hold_new), then
/// [`settled`](crate::Outbox::settle) or [`marked`](crate::Outbox::mark).
#[derive(Debug)]
pub struct Held {
    /// The item.
    pub item: OutboxItem,
    /// The open, locked `.eml` (the lock ends when it is dropped).
    eml: File,
}

impl Held {
    /// The message bytes (checked against the recorded size).
    pub(crate) fn read_bytes(&mut self, spool: &Spool) -> Result<Vec<u8>> {
        use std::io::Seek;
        let path = spool.eml_path(&self.item.id);
        self.eml
            .seek(std::io::SeekFrom::Start(0))
            .map_err(|e| spool_error(&path, OutboxError::io("", e)))?;
        let mut bytes = Vec::new();
        (&self.eml)
            .take(MAX_ITEM_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| spool_error(&path, OutboxError::io("", e)))?;
        if bytes.len() as u64 != self.item.size {
            return Err(spool_error(
                &path,
                OutboxError::Changed {
                    size: bytes.len() as u64,
                    recorded: self.item.size,
                },
            ));
        }
        Ok(bytes)
    }
}

/// The spool directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Spool {
    pub dir: PathBuf,
}

impl Spool {
    /// Whether an item named `id` exists (either of its files).
    pub(crate) fn taken(&self, id: &str) -> bool {
        self.eml_path(id).exists() || self.meta_path(id).exists()
    }

    fn eml_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.eml"))
    }

    fn meta_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.meta"))
    }

    fn ensure_dir(&self) -> Result<()> {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(&self.dir)
            .map_err(|e| spool_error(&self.dir, OutboxError::io("cannot create", e)))
    }

    fn sync_dir(&self) -> Result<()> {
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| spool_error(&self.dir, OutboxError::io("fsync", e)))
    }

    fn create_tmp(&self, name: &str) -> Result<(PathBuf, File)> {
        let path = self.dir.join(format!(".{name}.tmp"));
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options
            .open(&path)
            .map_err(|e| spool_error(&path, OutboxError::io("", e)))?;
        Ok((path, file))
    }

    fn write_meta(&self, item: &OutboxItem) -> Result<()> {
        let name = format!("{}.meta", item.id);
        let (tmp, mut file) = self.create_tmp(&name)?;
        file.write_all(item.render().as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| spool_error(&tmp, OutboxError::io("", e)))?;
        let path = self.meta_path(&item.id);
        std::fs::rename(&tmp, &path).map_err(|e| spool_error(&path, OutboxError::io("", e)))?;
        self.sync_dir()
    }

    /// Writes a new item (bytes, then metadata), durably, and returns it held (locked).
    pub(crate) fn put(&self, item: OutboxItem, bytes: &[u8]) -> Result<Held> {
        if !valid_id(&item.id) {
            return Err(spool_error(
                &self.dir,
                OutboxError::BadName {
                    id: item.id.clone(),
                },
            ));
        }
        self.ensure_dir()?;
        let (tmp, mut eml) = self.create_tmp(&format!("{}.eml", item.id))?;
        eml.write_all(bytes)
            .and_then(|()| eml.sync_all())
            .map_err(|e| spool_error(&tmp, OutboxError::io("", e)))?;
        // Locked before it becomes visible: a flusher never sees it unlocked while in flight.
        eml.lock()
            .map_err(|e| spool_error(&tmp, OutboxError::io("lock", e)))?;
        let path = self.eml_path(&item.id);
        std::fs::rename(&tmp, &path).map_err(|e| spool_error(&path, OutboxError::io("", e)))?;
        self.write_meta(&item)?;
        Ok(Held { item, eml })
    }

    /// Rewrites the metadata of a held item.
    pub(crate) fn update(&self, held: &Held) -> Result<()> {
        self.write_meta(&held.item)
    }

    /// Removes a delivered item (metadata first: the item disappears atomically).
    pub(crate) fn remove(&self, held: Held) -> Result<()> {
        let meta = self.meta_path(&held.item.id);
        std::fs::remove_file(&meta).map_err(|e| spool_error(&meta, OutboxError::io("", e)))?;
        let eml = self.eml_path(&held.item.id);
        if let Err(e) = std::fs::remove_file(&eml)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            return Err(spool_error(&eml, OutboxError::io("", e)));
        }
        drop(held);
        self.sync_dir()
    }

    fn read_meta(&self, id: &str) -> std::result::Result<OutboxItem, String> {
        let path = self.meta_path(id);
        let file = File::open(&path).map_err(|e| e.to_string())?;
        let mut text = String::new();
        file.take(MAX_META_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(|e| e.to_string())?;
        if text.len() as u64 > MAX_META_BYTES {
            return Err(format!("larger than {MAX_META_BYTES} bytes"));
        }
        OutboxItem::parse(id, &text)
    }

    /// Every item and every problem. A missing directory is an empty outbox.
    pub(crate) fn list(&self) -> Result<OutboxListing> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(OutboxListing::default());
            }
            Err(e) => return Err(spool_error(&self.dir, OutboxError::io("cannot read", e))),
        };
        let mut listing = OutboxListing::default();
        let mut emls = std::collections::BTreeSet::new();
        let mut metas = Vec::new();
        for entry in entries {
            let entry =
                entry.map_err(|e| spool_error(&self.dir, OutboxError::io("cannot read", e)))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(id) = name.strip_suffix(".meta").filter(|id| valid_id(id)) {
                metas.push(id.to_owned());
            } else if let Some(id) = name.strip_suffix(".eml").filter(|id| valid_id(id)) {
                emls.insert(id.to_owned());
            }
            // Temporary files of an interrupted write are left alone.
        }
        for id in metas {
            emls.remove(&id);
            match self.read_meta(&id) {
                Ok(item) => {
                    let eml = self.eml_path(&id);
                    match std::fs::metadata(&eml) {
                        Ok(m) if m.len() == item.size => listing.items.push(item),
                        Ok(m) => listing.problems.push(SpoolProblem {
                            path: eml,
                            reason: format!(
                                "truncated or changed: {} bytes, the item says {}",
                                m.len(),
                                item.size
                            ),
                        }),
                        Err(e) => listing.problems.push(SpoolProblem {
                            path: eml,
                            reason: format!("message file unreadable: {e}"),
                        }),
                    }
                }
                Err(reason) => listing.problems.push(SpoolProblem {
                    path: self.meta_path(&id),
                    reason,
                }),
            }
        }
        for id in emls {
            // A message without metadata: the queueing was interrupted before it completed.
            listing.problems.push(SpoolProblem {
                path: self.eml_path(&id),
                reason: "no metadata (queueing was interrupted); not delivered".into(),
            });
        }
        listing
            .items
            .sort_by(|a, b| (a.queued_at, &a.id).cmp(&(b.queued_at, &b.id)));
        Ok(listing)
    }

    /// Locks the item's `.eml` for delivery; `Ok(None)` when someone else holds it.
    pub(crate) fn hold(&self, id: &str) -> Result<Option<Held>> {
        if !valid_id(id) {
            return Err(spool_error(
                &self.dir,
                OutboxError::BadName { id: id.to_owned() },
            ));
        }
        let path = self.eml_path(id);
        let eml = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| spool_error(&path, OutboxError::io("", e)))?;
        match eml.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(spool_error(&path, OutboxError::io("lock", e)));
            }
        }
        // Re-read under the lock: the holder before us may have finished it.
        let item = match self.read_meta(id) {
            Ok(item) => item,
            Err(_) if !self.meta_path(id).exists() => return Ok(None),
            Err(reason) => {
                return Err(spool_error(
                    &self.meta_path(id),
                    OutboxError::Unreadable(reason),
                ));
            }
        };
        Ok(Some(Held { item, eml }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spool(name: &str) -> Spool {
        let dir = std::env::temp_dir().join(format!(
            "imapvm-spool-{name}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        ));
        Spool { dir }
    }

    fn item(id: &str, size: u64) -> OutboxItem {
        OutboxItem {
            id: id.into(),
            mailbox: "1234@default".into(),
            msg_id: "1700000000-0badcafe".into(),
            message_id: "<imapvm-1@h>".into(),
            urgent: true,
            queued_at: 1_700_000_000,
            attempts: 2,
            state: ItemState::Refused,
            last_error: Some("server: over quota:\nNO [OVERQUOTA]".into()),
            size,
        }
    }

    #[test]
    fn metadata_round_trips_and_errors_stay_on_one_line() {
        let it = item("1-a", 5);
        let text = it.render();
        assert_eq!(
            text.lines().filter(|l| l.starts_with("last-error")).count(),
            1
        );
        let back = OutboxItem::parse("1-a", &text).unwrap();
        assert_eq!(
            back.last_error.as_deref(),
            Some("server: over quota: NO [OVERQUOTA]")
        );
        assert_eq!(back.state, ItemState::Refused);
        assert_eq!((back.attempts, back.size, back.urgent), (2, 5, true));
    }

    #[test]
    fn garbage_metadata_is_a_problem_not_a_panic() {
        for text in [
            "",
            "imapvm-outbox 1\n",
            "imapvm-outbox 1\nmailbox 1\n",
            "imapvm-outbox 1\nmailbox: a\nmsg-id: b\nsize: -3\n",
            "imapvm-outbox 1\nmailbox: a\nmsg-id: b\nsize: 1\nstate: lost\n",
            "\u{0}\u{ff}",
        ] {
            assert!(OutboxItem::parse("x", text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn put_list_hold_remove() {
        let sp = spool("cycle");
        let mut held = sp.put(item("17-abc", 3), b"abc").unwrap();
        // The writer can read its own bytes back (the immediate retry does).
        assert_eq!(held.read_bytes(&sp).unwrap(), b"abc");
        // Held by us: a second holder (another open file description) is refused.
        assert!(sp.hold("17-abc").unwrap().is_none());
        drop(held);
        let listing = sp.list().unwrap();
        assert_eq!(listing.items.len(), 1, "{listing:?}");
        let mut h = sp.hold("17-abc").unwrap().unwrap();
        assert_eq!(h.read_bytes(&sp).unwrap(), b"abc");
        sp.remove(h).unwrap();
        assert!(sp.list().unwrap().items.is_empty());
        let _ = std::fs::remove_dir_all(&sp.dir);
    }

    #[test]
    fn a_truncated_message_is_listed_as_a_problem_and_never_read_as_whole() {
        let sp = spool("trunc");
        drop(sp.put(item("18-abc", 6), b"abcdef").unwrap());
        std::fs::write(sp.dir.join("18-abc.eml"), b"abc").unwrap();
        let listing = sp.list().unwrap();
        assert!(listing.items.is_empty());
        assert!(
            listing.problems[0].reason.contains("truncated"),
            "{listing:?}"
        );
        let mut h = sp.hold("18-abc").unwrap().unwrap();
        let err = h.read_bytes(&sp).unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
        let _ = std::fs::remove_dir_all(&sp.dir);
    }

    #[test]
    fn ids_are_file_name_safe() {
        assert_eq!(item_id(5, "1-ab/../c d"), "5-1-ab____c_d");
        assert!(valid_id(&item_id(5, "x")));
        assert!(!valid_id("../x"));
        assert!(!valid_id(".hidden"));
    }
}

#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;

    fn any_item() -> impl Strategy<Value = OutboxItem> {
        (
            "[0-9]{1,10}-[0-9a-f]{8}",
            "[0-9a-z]{1,6}@[a-z]{1,8}",
            "[ -~]{1,40}",
            any::<bool>(),
            any::<i64>(),
            any::<u32>(),
            any::<bool>(),
            proptest::option::of("[ -~]{0,80}"),
            0u64..=i64::MAX as u64,
        )
            .prop_map(
                |(msg_id, mailbox, message_id, urgent, queued_at, attempts, refused, err, size)| {
                    OutboxItem {
                        id: item_id(queued_at, &msg_id),
                        mailbox,
                        msg_id,
                        message_id: message_id.trim().to_owned(),
                        urgent,
                        queued_at,
                        attempts: attempts.min(i64::MAX as u32),
                        state: if refused {
                            ItemState::Refused
                        } else {
                            ItemState::Pending
                        },
                        last_error: err,
                        size,
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn metadata_round_trips(item in any_item()) {
            let back = OutboxItem::parse(&item.id, &item.render()).unwrap();
            prop_assert_eq!(back, item);
        }

        #[test]
        fn parsing_anything_never_panics(text in "\\PC{0,300}", lines in proptest::collection::vec("[a-z-]{0,12}: [ -~]{0,20}", 0..12)) {
            let _ = OutboxItem::parse("x", &text);
            let joined = format!("{MAGIC}\n{}", lines.join("\n"));
            let _ = OutboxItem::parse("x", &joined);
        }
    }
}
