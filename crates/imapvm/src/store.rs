//! [`Store`] (a voicemail.conf plus the connection pool) and [`Mailbox`] (one `box@context`),
//! with the value types the operations take and return.

use std::collections::HashMap;
use std::future::Future;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, PoisonError};

use imapvm_config::{Config, MailboxSettings};
use imapvm_message::{AudioPart, MailboxZone, Settings, Voicemail};
use imapvm_policy::{
    Folder, FolderLayout, MailboxId, MessageNumber, MessageState, MwiCounts, Uid, UidValidity,
    VoicemailIdentity,
};
use imapvm_proto::Stats;

use crate::account::TokenCaches;
use crate::account::{Account, AccountKey};
use crate::clock::{SharedClock, SystemClock};
use crate::error::{ConfigFileError, ConfigProblem, Error, Result};
use crate::feed::{ChangeFeed, Feed};
use crate::limits::MAX_AUDIO_FILE_BYTES;
use crate::pool::{Folders, Pool, Slot};
use crate::session::Session;

/// A message of a mailbox: by Asterisk's 1-based number in the listing, or by UID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageRef {
    /// The number shown by the listing (of the same scope).
    Number(MessageNumber),
    /// The IMAP UID (in the current UIDVALIDITY).
    Uid(Uid),
}

/// One recording to store: its format (a `format=` name or file extension) and bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Audio {
    /// `wav`, `WAV` (wav49), `gsm`, ...
    pub format: String,
    /// The file's bytes.
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for Audio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Audio({}, {} bytes)", self.format, self.bytes.len())
    }
}

impl Audio {
    /// Reads an audio file; the format is its extension (`wav` when it has none).
    pub fn read(path: &Path) -> std::io::Result<Audio> {
        use std::io::Read;
        let file = std::fs::File::open(path)?;
        let mut bytes = Vec::new();
        file.take(MAX_AUDIO_FILE_BYTES + 1)
            .read_to_end(&mut bytes)?;
        if bytes.len() as u64 > MAX_AUDIO_FILE_BYTES {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "{} is larger than {MAX_AUDIO_FILE_BYTES} bytes",
                    path.display()
                ),
            ));
        }
        let format = path
            .extension()
            .and_then(|e| e.to_str())
            .filter(|e| !e.is_empty())
            .unwrap_or("wav")
            .to_owned();
        Ok(Audio { format, bytes })
    }
}

/// Asterisk's `X-Asterisk-VM-Flag`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Urgency {
    /// Nothing.
    #[default]
    Normal,
    /// `Urgent`: stored `\Flagged`.
    Urgent,
    /// `PRIORITY`.
    Priority,
}

/// A voicemail to deposit.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewVoicemail {
    /// The recording (MIME part 2).
    pub recording: Option<Audio>,
    /// A forward intro (MIME part 3), if any.
    pub intro: Option<Audio>,
    /// Caller id number.
    pub caller_id_num: String,
    /// Caller id name.
    pub caller_id_name: String,
    /// Length in whole seconds.
    pub duration_secs: u32,
    /// Urgent / priority.
    pub urgency: Urgency,
    /// `X-Asterisk-VM-Message-ID` to store it under (`None`: a fresh one).
    pub msg_id: Option<String>,
    /// The deposit may already have reached the server under [`NewVoicemail::msg_id`] (a
    /// recording recovered after a crash): [`Mailbox::deposit`] and
    /// the outbox's durable deposit look the msg id up in the box first (one more round trip)
    /// and do not store it twice.
    pub resent: bool,
    /// When the message was left (Unix seconds; `None`: now): `X-Asterisk-VM-Orig-time`.
    pub orig_time: Option<i64>,
    /// The caller was admitted before recording ([`Mailbox::admission`], as Asterisk checks
    /// before the beep): the deposit then checks quota only, so a message already spoken is
    /// never refused for `maxmsg` or its length (policy's `Limits::after_admission`).
    pub admitted: bool,
}

/// Where a deposit went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deposited {
    /// The new message's UID.
    pub uid: Uid,
    /// The folder's UIDVALIDITY.
    pub uid_validity: UidValidity,
    /// Its number in the mailbox's listing (all states of `imapfolder`), when known.
    pub number: Option<MessageNumber>,
    /// The MWI counts after the deposit.
    pub counts: MwiCounts,
    /// `X-Asterisk-VM-Message-ID`.
    pub msg_id: String,
    /// Whether the UID came from APPENDUID (else from a search by message id).
    pub from_appenduid: bool,
}

/// One message of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedMessage {
    /// Asterisk's 1-based number.
    pub number: MessageNumber,
    /// The UID.
    pub uid: Uid,
    /// new / urgent / old; `None` when `\Deleted`.
    pub state: Option<MessageState>,
    /// `\Flagged`.
    pub flagged: bool,
    /// `\Deleted`.
    pub deleted: bool,
    /// Caller id number.
    pub caller_id_num: String,
    /// Caller id name.
    pub caller_id_name: String,
    /// Duration in seconds.
    pub duration_secs: u32,
    /// `X-Asterisk-VM-Orig-time`.
    pub orig_time: i64,
    /// `X-Asterisk-VM-Orig-date`.
    pub orig_date: String,
    /// RFC822.SIZE.
    pub size: u32,
    /// `X-Asterisk-VM-Message-ID`.
    pub msg_id: Option<String>,
}

/// A listing of one mailbox in one folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    /// The IMAP folder (wire name).
    pub folder: String,
    /// The scope: `None` = every state of `imapfolder`.
    pub scope: Option<Folder>,
    /// The folder's UIDVALIDITY.
    pub uid_validity: UidValidity,
    /// The messages, by number.
    pub messages: Vec<ListedMessage>,
}

/// A played (or peeked) message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Played {
    /// The UID.
    pub uid: Uid,
    /// The folder's UIDVALIDITY.
    pub uid_validity: UidValidity,
    /// The parsed voicemail, audio included (recording first, then the intro).
    pub voicemail: Voicemail,
    /// Whether `\Seen` was set.
    pub marked_seen: bool,
}

/// A flag change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagOp {
    /// `+\Seen`.
    MarkRead,
    /// `-\Seen`.
    MarkUnread,
    /// `+\Flagged`.
    Urgent,
    /// `-\Flagged`.
    NotUrgent,
}

/// A message left for later, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deferred {
    /// The UID.
    pub uid: Uid,
    /// Why (from the expunge plan).
    pub reason: String,
}

/// What a state change did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Report {
    /// UIDs whose change is complete.
    pub done: Vec<Uid>,
    /// UIDs left flagged `\Deleted` (not expunged), with the reason.
    pub deferred: Vec<Deferred>,
    /// UIDs expunged (or moved away) by this operation.
    pub expunged: Vec<Uid>,
    /// UIDs that were already gone.
    pub vanished: Vec<Uid>,
    /// Where messages went (move), wire name.
    pub destination: Option<String>,
}

/// A greeting found on IMAP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Greeting {
    /// The greeting message's UID in the greetings folder.
    pub uid: Uid,
    /// `unavail`, `busy`, `greet`, `temp`.
    pub name: String,
    /// Its audio.
    pub audio: AudioPart,
    /// Duration in seconds.
    pub duration_secs: u32,
}

/// One quota resource, as the server reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaInfo {
    /// Quota root.
    pub root: String,
    /// `STORAGE` (KiB), `MESSAGE`, ...
    pub resource: String,
    /// Usage.
    pub usage: u64,
    /// Limit.
    pub limit: u64,
}

/// One voicemail folder and whether it exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderCheck {
    /// Asterisk's folder name (`INBOX`, `Work`, `Greetings`...).
    pub folder: String,
    /// The IMAP name (wire).
    pub mailbox: String,
    /// Whether it exists (after `--create-folders`, if asked).
    pub exists: bool,
    /// Whether this probe created it.
    pub created: bool,
}

/// What `probe` learnt about the server and the mailbox's folders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// `user@server:port`.
    pub account: AccountKey,
    /// Capabilities, upper-cased.
    pub capabilities: Vec<String>,
    /// Personal namespace prefix.
    pub namespace: String,
    /// Hierarchy delimiter.
    pub delimiter: Option<char>,
    /// Quota of `imapfolder`.
    pub quota: Vec<QuotaInfo>,
    /// Voicemail folders.
    pub folders: Vec<FolderCheck>,
    /// Every mailbox the server lists.
    pub mailboxes: Vec<String>,
}

pub(crate) struct StoreInner {
    pub config: Config,
    pub pool: Pool,
    pub hostname: String,
    /// Tells subscribers (the MWI watcher) that an operation touched a mailbox.
    pub feed: Feed,
    /// Every `now` of the store, its sessions and the services built on it.
    pub clock: SharedClock,
    /// Where which UIDs are voicemail is kept between processes ([`Store::cache_dir`]).
    pub cache_dir: std::sync::RwLock<Option<PathBuf>>,
    /// The `imapoauthcmd` of each account, shared by its mailboxes (one token cache).
    pub tokens: TokenCaches,
    /// What [`Store::mailbox_of`] found for each box asked so far, at most
    /// [`REMEMBERED_BOXES`]: a box asked again (each call of `imapvm agi`, each operation of
    /// a program holding the store) costs a lookup, not its effective settings (a scan of
    /// voicemail.conf's boxes and every option layered).
    boxes: std::sync::Mutex<HashMap<MailboxId, BoxParts>>,
}

/// How many boxes a [`Store`] remembers what [`Store::mailbox_of`] found for (a few hundred
/// bytes each); boxes asked beyond them are found again each time.
pub const REMEMBERED_BOXES: usize = 4096;

/// What a [`Mailbox`] holds besides its store and its settings: the same for every
/// `Mailbox` of one box of one store (the configuration does not change under a store).
#[derive(Clone)]
struct BoxParts {
    id: MailboxId,
    identity: VoicemailIdentity,
    account: Account,
    imapfolder: String,
}

/// A voicemail.conf and the connections to its IMAP accounts. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pub(crate) inner: Arc<StoreInner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("mailboxes", &self.inner.config.mailboxes.len())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// A store over a parsed configuration, on the system clock.
    pub fn new(config: Config) -> Store {
        Store::with_clock(config, SystemClock::shared())
    }

    /// A store whose sessions, back-offs, message dates and services take every `now`
    /// from `clock` (tests simulate time with it).
    pub fn with_clock(config: Config, clock: SharedClock) -> Store {
        let cache_dir = std::sync::RwLock::new(config.imapvm.cache_dir.clone());
        Store {
            inner: Arc::new(StoreInner {
                config,
                pool: Pool::default(),
                hostname: local_hostname(),
                feed: Feed::default(),
                clock,
                tokens: TokenCaches::default(),
                cache_dir,
                boxes: std::sync::Mutex::default(),
            }),
        }
    }

    /// Loads a voicemail.conf from disk, and the imapvm.conf beside it if there is one.
    /// Diagnostics of severity error (in either file) make this fail.
    pub fn open(path: &Path) -> Result<Store> {
        Store::open_with(path, &imapvm_config::ImapvmConfPath::Beside)
    }

    /// [`Store::open`] with the imapvm.conf `imapvm_conf` names (a missing
    /// [`File`](imapvm_config::ImapvmConfPath::File) fails).
    pub fn open_with(path: &Path, imapvm_conf: &imapvm_config::ImapvmConfPath) -> Result<Store> {
        let parsed =
            crate::config_files::load_with(path, imapvm_conf).map_err(|e| Error::ConfigFile {
                path: path.to_owned(),
                source: ConfigFileError::Unreadable(Arc::new(e)),
            })?;
        if let Some(d) = parsed
            .diagnostics
            .iter()
            .find(|d| d.severity == imapvm_config::Severity::Error)
        {
            return Err(Error::ConfigFile {
                path: path.to_owned(),
                source: ConfigFileError::Invalid(Box::new(d.clone())),
            });
        }
        for d in &parsed.diagnostics {
            tracing::debug!("{d}");
        }
        Ok(Store::new(parsed.config))
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Every box of voicemail.conf, in file order.
    pub fn mailbox_ids(&self) -> Vec<MailboxId> {
        let boxes = self.inner.config.mailboxes.iter();
        boxes.map(|m| m.id.clone()).collect()
    }

    /// The clock every `now` of this store comes from.
    pub fn clock(&self) -> &SharedClock {
        &self.inner.clock
    }

    /// This host's name, as Message-IDs and MIME boundaries carry it.
    pub fn hostname(&self) -> &str {
        &self.inner.hostname
    }

    /// Every later change made through this store, to any mailbox (see [`crate::feed`]).
    pub fn changes(&self) -> ChangeFeed {
        self.inner.feed.subscribe(None)
    }

    /// Every later change made through this store to a mailbox of `account`.
    pub fn changes_of(&self, account: &AccountKey) -> ChangeFeed {
        self.inner.feed.subscribe(Some(account.clone()))
    }

    /// The mailbox `box@context` (context `default` when omitted).
    pub fn mailbox(&self, id: &str) -> Result<Mailbox> {
        let id: MailboxId = id.parse().map_err(|source| Error::MailboxName { source })?;
        self.mailbox_of(&id)
    }

    /// The mailbox `id`. The first call for a box computes it from the configuration; later
    /// ones (up to [`REMEMBERED_BOXES`] boxes) take what that found.
    pub fn mailbox_of(&self, id: &MailboxId) -> Result<Mailbox> {
        let boxes = || {
            self.inner
                .boxes
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
        };
        if let Some(parts) = boxes().get(id) {
            return Ok(self.mailbox_with(parts.clone()));
        }
        let settings = self.inner.config.settings(id);
        let parts = self.parts_of(id, settings)?;
        let mut remembered = boxes();
        if remembered.len() < REMEMBERED_BOXES {
            remembered.insert(id.clone(), parts.clone());
        }
        drop(remembered);
        Ok(self.mailbox_with(parts))
    }

    /// The mailboxes `ids`, in that order: [`Store::mailbox_of`] of each, with the
    /// configuration indexed once (a watcher of 10,000 boxes does not scan every box of
    /// voicemail.conf for each). The first box that fails is the error.
    pub fn mailboxes_of(&self, ids: &[MailboxId]) -> Result<Vec<Mailbox>> {
        let settings = self.inner.config.settings_of_each(ids);
        let boxes = ids.iter().zip(settings);
        boxes
            .map(|(id, s)| Ok(self.mailbox_with(self.parts_of(id, s)?)))
            .collect()
    }

    fn mailbox_with(&self, parts: BoxParts) -> Mailbox {
        Mailbox {
            store: self.clone(),
            id: parts.id,
            identity: parts.identity,
            account: parts.account,
            imapfolder: parts.imapfolder,
            settings: OnceLock::new(),
        }
    }

    fn parts_of(&self, id: &MailboxId, settings: Option<MailboxSettings>) -> Result<BoxParts> {
        let settings = settings.ok_or_else(|| Error::NoSuchMailbox {
            mailbox: id.clone(),
        })?;
        let identity =
            VoicemailIdentity::new(&settings.id, settings.imapvmshareid.value.as_deref()).map_err(
                |e| Error::Config {
                    mailbox: settings.id.clone(),
                    problem: Box::new(ConfigProblem::ShareId(e)),
                },
            )?;
        let mut account = Account::from_settings(&settings)?;
        account.share_token(&self.inner.tokens);
        Ok(BoxParts {
            id: settings.id.clone(),
            identity,
            account,
            imapfolder: settings.imapfolder.value,
        })
    }

    /// Where this store keeps which UIDs are voicemail between processes (imapvm.conf's
    /// `cache_dir` unless [`Store::set_cache_dir`] said otherwise; `None`: not kept).
    pub fn cache_dir(&self) -> Option<PathBuf> {
        match self.inner.cache_dir.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Keeps which UIDs are voicemail in `dir` between processes (`None`: not kept),
    /// instead of imapvm.conf's `cache_dir`: read by each account before its first
    /// operation, written by [`Store::close`] (see `imapvm_policy::uid_file`).
    pub fn set_cache_dir(&self, dir: Option<PathBuf>) {
        match self.inner.cache_dir.write() {
            Ok(mut g) => *g = dir,
            Err(poisoned) => *poisoned.into_inner() = dir,
        }
    }

    /// Reads `account`'s voicemail-UID file into its `slot` before the slot's first
    /// operation (see `crate::uid_memory`).
    pub(crate) fn recall_uids(&self, account: &AccountKey, slot: &mut Slot) {
        if let Some(dir) = self.cache_dir().filter(|_| !slot.recalled) {
            crate::uid_memory::recall(&dir, account, slot);
        }
    }

    /// Logs out of every account (bounded by `imapclosetimeout`), and writes what each
    /// learnt of its folders' voicemail UIDs to the [`cache_dir`](Store::cache_dir).
    pub async fn close(&self) {
        let dir = self.cache_dir();
        for (account, slot) in self.inner.pool.all() {
            let session = slot.lock().await.conn.take_session();
            if let Some(s) = session {
                s.logout().await;
            }
            // After the LOGOUT went out: the file costs the server nothing.
            if let Some(dir) = &dir {
                crate::uid_memory::keep(dir, &account, &mut *slot.lock().await);
            }
        }
    }
}

/// One voicemail box (`box@context`) of a [`Store`]: every operation.
///
/// It holds what every operation needs (its id, identity headers, account and
/// `imapfolder`); the rest of its effective settings ([`Mailbox::settings`], about 5 KiB) is
/// computed from the store's configuration when first asked for, and kept. A watcher's
/// boxes only count, never ask, and so hold no copy of them (issue 22: 10,000 boxes in
/// 160 MiB).
#[derive(Clone)]
pub struct Mailbox {
    pub(crate) store: Store,
    pub(crate) id: MailboxId,
    pub(crate) identity: VoicemailIdentity,
    pub(crate) account: Account,
    /// `imapfolder` (the only per-box input of [`Mailbox::layout`]).
    imapfolder: String,
    /// The effective settings, once asked for.
    settings: OnceLock<Box<MailboxSettings>>,
}

impl std::fmt::Debug for Mailbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailbox")
            .field("id", &self.id.to_string())
            .field("account", &self.account.key().to_string())
            .finish_non_exhaustive()
    }
}

impl Mailbox {
    /// `box@context`.
    pub fn id(&self) -> String {
        self.id.to_string()
    }

    /// `box@context`, typed.
    pub fn mailbox_id(&self) -> &MailboxId {
        &self.id
    }

    /// The header values this box is stored under.
    pub fn identity(&self) -> &VoicemailIdentity {
        &self.identity
    }

    /// The IMAP account this box lives on.
    pub fn account(&self) -> &Account {
        &self.account
    }

    /// The store this box belongs to.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The effective settings (computed at the first call, then kept).
    pub fn settings(&self) -> &MailboxSettings {
        self.settings.get_or_init(|| {
            // The store's configuration never changes, and `Store::mailbox_of` found this
            // box in it.
            #[allow(clippy::expect_used)]
            let settings = self
                .store
                .inner
                .config
                .settings(&self.id)
                .expect("a mailbox of a store is in the store's immutable configuration");
            Box::new(settings)
        })
    }

    /// The account (`user@server:port`).
    pub fn account_label(&self) -> String {
        self.account.key().to_string()
    }

    /// The proto core's counters of this account's connection (round trips, bytes), if one
    /// is open.
    pub async fn connection_stats(&self) -> Option<Stats> {
        let slot = self.store.inner.pool.slot(&self.account.key());
        let guard = slot.lock().await;
        guard.conn.current().map(Session::stats)
    }

    /// This box's folders (`imapfolder`, parent folder, greetings folder) in the
    /// hierarchy `session`'s server announced.
    pub fn layout(&self, session: &Session) -> Result<FolderLayout> {
        // `imapparentfolder` and `greetingfolder` are `[general]` only.
        let general = &self.store.inner.config.general;
        FolderLayout::new(
            &self.imapfolder,
            general.imapparentfolder.as_deref(),
            Some(general.greetingfolder()),
            &general.imapfolder,
            session.hierarchy().clone(),
        )
        .map_err(|e| self.policy_error(e.into()))
    }

    pub(crate) fn misuse(&self, misuse: crate::error::Misuse) -> Error {
        Error::Misuse {
            mailbox: self.id.clone(),
            misuse,
        }
    }

    pub(crate) fn policy_error(&self, source: imapvm_policy::PolicyError) -> Error {
        Error::Policy {
            mailbox: self.id.clone(),
            source,
        }
    }

    /// The message crate's settings for this mailbox (see [`message_settings`]).
    pub(crate) fn message_settings(&self) -> Result<Settings> {
        message_settings(self.settings())
    }
}

/// voicemail.conf's effective options of one mailbox as `imapvm-message`'s build settings.
///
/// A `tz=` whose `[zonemessages]` entry is missing, or names a zone the bundled tz
/// database does not know, is an error: a silent fallback to UTC would stamp every
/// message with the wrong date.
pub fn message_settings(s: &MailboxSettings) -> Result<Settings> {
    let zone = match (&s.zone, &s.tz.value) {
        (Some(zone), _) => {
            MailboxZone::named(&zone.value.timezone).map_err(|source| Error::Config {
                mailbox: s.id.clone(),
                problem: Box::new(ConfigProblem::UnknownTimeZone {
                    tz: s.tz.value.clone().unwrap_or_default(),
                    zone: zone.value.timezone.clone(),
                    source,
                }),
            })?
        }
        (None, Some(name)) => {
            return Err(Error::Config {
                mailbox: s.id.clone(),
                problem: Box::new(ConfigProblem::NoSuchZone { tz: name.clone() }),
            });
        }
        (None, None) => MailboxZone::utc(),
    };
    Ok(Settings {
        full_name: s.fullname.value.clone(),
        emails: s.email.value.clone(),
        imap_user: s.imapuser.value.clone().unwrap_or_default(),
        server_email: s.serveremail.value.clone(),
        from_string: s.fromstring.value.clone(),
        email_subject: s.emailsubject.value.clone(),
        email_body: s.emailbody.value.clone(),
        pbx_skip: s.pbxskip.value,
        charset: s.charset.value.clone(),
        email_date_format: s.emaildateformat.value.clone(),
        zone,
    })
}

/// This host's name (`/proc/sys/kernel/hostname`), `localhost` when it cannot be read or
/// is not a plain DNS name.
pub fn local_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        })
        .unwrap_or_else(|| "localhost".to_owned())
}

/// When [`Mailbox::with_account`] runs its body a second time: only after a lost connection
/// that had been open before the body started (a pooled connection the server dropped
/// meanwhile), on a fresh one. The body must then be safe to run twice.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Retry<'r> {
    /// Never: the body runs once.
    Never,
    /// Once, on a fresh connection.
    IfWarm,
    /// Once, on a fresh connection, unless `committed` is set: the body sets it as soon as
    /// a second run could double what the first one did (an APPEND written ahead).
    IfWarmUnless(&'r AtomicBool),
}

/// One run of a [`Mailbox::with_account`] body: the account's logged-in connection and what
/// is remembered about its folders (UIDVALIDITY, identity headers, listings).
#[derive(Debug)]
#[non_exhaustive]
pub struct Attempt<'a, 'r> {
    /// The connection.
    pub session: &'a mut Session,
    /// The account's folder memory.
    pub folders: &'a mut Folders,
    /// Ties the run to the caller's borrows (`'r` outlives `'a`), so a body may borrow
    /// from its caller.
    scope: PhantomData<&'a &'r ()>,
}

/// The future a [`Mailbox::with_account`] body returns.
pub type AttemptFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

impl Mailbox {
    /// Runs `body` on this box's account connection from the store's pool (opened, after
    /// the pool's back-off, when needed), holding it for the whole run, then:
    ///
    /// * applies the expunges the server reported to the folder memory;
    /// * drops the connection when the run lost it, and runs `body` once more on a fresh
    ///   one when `retry` allows it;
    /// * announces on the change feed ([`Store::changes`]) that this box was touched, so
    ///   a running MWI watcher recounts it at once, whether the run succeeded or not.
    ///
    /// Every operation of this crate runs through here (counting runs through the same
    /// seam without the announcement: a count changes nothing, and a publisher that
    /// recounts on each announcement would otherwise hear its own counts for ever);
    /// services above the runtime (migration) use it the same way.
    ///
    /// ```no_run
    /// # async fn demo(mailbox: &imapvm::Mailbox) -> imapvm::Result<()> {
    /// use imapvm::{Folder, Retry};
    /// let wire = mailbox
    ///     .with_account(Retry::IfWarm, |a| {
    ///         Box::pin(async move {
    ///             let folder = mailbox.layout(a.session)?.mailbox_name(Folder::Inbox);
    ///             Ok(a.session.select(&folder).await?.name.as_wire().to_owned())
    ///         })
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn with_account<'r, T>(
        &'r self,
        retry: Retry<'r>,
        body: impl for<'a> FnMut(Attempt<'a, 'r>) -> AttemptFuture<'a, T>,
    ) -> Result<T> {
        let outcome = self.on_account(retry, body).await;
        self.store.inner.feed.touched(&self.account.key(), &self.id);
        outcome
    }

    /// [`Mailbox::with_account`] without the announcement, for what changes no box (a
    /// count).
    pub(crate) async fn on_account<'r, T>(
        &'r self,
        retry: Retry<'r>,
        body: impl for<'a> FnMut(Attempt<'a, 'r>) -> AttemptFuture<'a, T>,
    ) -> Result<T> {
        self.run_on_account(retry, true, body).await
    }

    /// [`Mailbox::on_account`]. `rerunnable`: `body` may run again when a name it computed
    /// from the guessed hierarchy of a pipelined login was wrong (only its SELECT went out);
    /// a body that cannot waits for the login's answer instead (one round trip more).
    async fn run_on_account<'r, T>(
        &'r self,
        retry: Retry<'r>,
        rerunnable: bool,
        mut body: impl for<'a> FnMut(Attempt<'a, 'r>) -> AttemptFuture<'a, T>,
    ) -> Result<T> {
        let slot_arc = self.store.inner.pool.slot(&self.account.key());
        let mut guard = slot_arc.lock().await;
        self.store.recall_uids(&self.account.key(), &mut guard);
        let mut retried = false;
        let outcome = loop {
            let warm = guard.conn.has_live_session();
            let slot = &mut *guard;
            let clock = &self.store.inner.clock;
            let result = match slot.conn.session(&self.account, clock).await {
                Ok(session) => match if rerunnable {
                    Ok(())
                } else {
                    session.finish_login().await
                } {
                    Ok(()) => {
                        let folders = &mut slot.folders;
                        body(Attempt {
                            session,
                            folders,
                            scope: PhantomData,
                        })
                        .await
                    }
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            };
            slot.conn.absorb_gone(&mut slot.folders);
            if slot.conn.take_guess_wrong() && !retried {
                retried = true;
                continue;
            }
            let result = match slot.conn.take_login_refusal() {
                Some(refused) => {
                    slot.conn.failed(&refused, &self.account, clock);
                    Err(refused)
                }
                None => {
                    if slot.conn.logged_in() {
                        slot.conn.succeeded();
                    }
                    result
                }
            };
            match result {
                Err(e) if e.is_connection_lost() => {
                    slot.conn.drop_session();
                    let again = match retry {
                        Retry::Never => false,
                        Retry::IfWarm => true,
                        Retry::IfWarmUnless(committed) => !committed.load(Ordering::SeqCst),
                    };
                    if again && warm && !retried {
                        tracing::debug!(account = %self.account.key(), error = %e, "connection lost; retrying once");
                        retried = true;
                        continue;
                    }
                    break Err(e);
                }
                other => break other,
            }
        };
        drop(guard);
        outcome
    }

    /// [`Mailbox::with_account`] for a body that must run at most once (what it sent may
    /// have reached the server: an APPEND or a COPY must not be doubled, and a migration's
    /// retry is its re-run). It may borrow its caller's state mutably.
    pub async fn with_account_once<'r, T>(
        &'r self,
        body: impl for<'a> FnOnce(Attempt<'a, 'r>) -> AttemptFuture<'a, T>,
    ) -> Result<T> {
        let mut body = Some(body);
        let run = self.run_on_account(Retry::Never, false, move |a| match body.take() {
            Some(body) => body(a),
            None => Box::pin(async {
                Err(Error::Unexpected {
                    account: a.session.key().clone(),
                    command: "a second run of a body that runs once",
                })
            }),
        });
        let outcome = run.await;
        self.store.inner.feed.touched(&self.account.key(), &self.id);
        outcome
    }
}

/// Folder index of a scope, for listing keys.
pub(crate) fn scope_index(scope: Option<Folder>) -> Option<i32> {
    scope.map(Folder::index)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings_of(conf: &str) -> MailboxSettings {
        let parsed = imapvm_config::parse_bytes("voicemail.conf", conf.as_bytes());
        let id: imapvm_config::MailboxId = "1234@default".parse().unwrap();
        parsed.config.settings(&id).unwrap()
    }

    fn store_of(conf: &[u8]) -> Store {
        Store::new(imapvm_config::parse_bytes("voicemail.conf", conf).config)
    }

    #[test]
    fn a_mailbox_computes_its_settings_when_first_asked() {
        let store = store_of(b"[general]\nimapserver=h\nmaxmsg=9\n[default]\n1234 => 1,A,,,imapuser=a|imappassword=p|imapfolder=VM|maxmsg=7\n5 => 5,B,,,imapuser=b|imappassword=p\n");
        let one = store.mailbox("1234@default").unwrap();
        let five = store.mailbox("5@default").unwrap();
        // What a watcher's box needs is there without the settings (about 5 KiB each).
        assert!(one.settings.get().is_none() && five.settings.get().is_none());
        assert_eq!(one.imapfolder, "VM");
        assert_eq!(five.imapfolder, "INBOX");
        let copy = one.clone();
        // Asked for: the box's own effective settings, overrides and [general] alike.
        assert_eq!(one.settings().maxmsg.value, 7);
        assert_eq!(five.settings().maxmsg.value, 9);
        let id: MailboxId = "1234@default".parse().unwrap();
        assert_eq!(*one.settings(), store.config().settings(&id).unwrap());
        assert!(one.settings.get().is_some());
        // A clone taken before holds none until asked.
        assert!(copy.settings.get().is_none());
        assert_eq!(copy.settings().imapfolder.value, "VM");
    }

    #[test]
    fn a_box_asked_again_is_taken_from_what_the_first_call_found() {
        let conf = b"[general]\nimapserver=h\n[default]\n1 => 1,A,,,imapuser=a|imappassword=p|imapvmshareid=shared|imapfolder=VM\n2 => 2,B,,,imapuser=b|imappassword=p\n";
        let store = store_of(conf);
        let seen = |b: &Mailbox| {
            (
                b.id(),
                b.identity.clone(),
                b.account.key(),
                b.imapfolder.clone(),
            )
        };
        let first = store.mailbox("1@default").unwrap();
        assert_eq!(store.inner.boxes.lock().unwrap().len(), 1);
        let again = store.mailbox("1@default").unwrap();
        assert_eq!(seen(&again), seen(&first));
        // The same as a store that never asked before: nothing of another box leaks in.
        let fresh = store_of(conf).mailbox("1@default").unwrap();
        assert_eq!(seen(&again), seen(&fresh));
        assert_eq!(again.identity.extension(), "shared");
        assert_ne!(seen(&store.mailbox("2@default").unwrap()), seen(&again));
        // A box voicemail.conf does not have is an error each time, and is not kept.
        for _ in 0..2 {
            assert!(matches!(
                store.mailbox("9@default"),
                Err(Error::NoSuchMailbox { .. })
            ));
        }
        assert_eq!(store.inner.boxes.lock().unwrap().len(), 2);
    }

    #[test]
    fn at_most_remembered_boxes_are_kept_and_the_rest_are_still_found() {
        let mut conf = String::from("[general]\nimapserver=h\n[default]\n");
        for n in 0..REMEMBERED_BOXES + 3 {
            conf.push_str(&format!("{n} => {n},N,,,imapuser=u{n}|imappassword=p\n"));
        }
        let store = store_of(conf.as_bytes());
        for n in 0..REMEMBERED_BOXES + 3 {
            let b = store.mailbox(&format!("{n}@default")).unwrap();
            assert_eq!(b.account.credentials.user(), format!("u{n}"));
        }
        assert_eq!(store.inner.boxes.lock().unwrap().len(), REMEMBERED_BOXES);
        let last = store.mailbox(&format!("{}@default", REMEMBERED_BOXES + 2));
        assert_eq!(
            last.unwrap().account.credentials.user(),
            format!("u{}", REMEMBERED_BOXES + 2)
        );
    }

    #[test]
    fn mailboxes_of_finds_each_box_in_order_as_mailbox_of_does() {
        let store = store_of(b"[general]\nimapserver=h\n[default]\n1 => 1,A,,,imapuser=a|imappassword=p\n2 => 2,B,,,imapuser=b|imappassword=p|imapfolder=VM\n[other]\n1 => 1,C,,,imapuser=c|imappassword=p\n");
        let ids: Vec<MailboxId> = ["2@default", "1@Other", "1@default"]
            .iter()
            .map(|id| id.parse().unwrap())
            .collect();
        let seen = |b: &Mailbox| (b.id(), b.account_label(), b.imapfolder.clone());
        let got: Vec<_> = store.mailboxes_of(&ids).unwrap().iter().map(seen).collect();
        let one_by_one: Vec<_> = ids
            .iter()
            .map(|id| seen(&store.mailbox_of(id).unwrap()))
            .collect();
        assert_eq!(got, one_by_one);
        assert_eq!(got[0].2, "VM");
        assert!(got[1].1.starts_with("c@"), "{got:?}");
        let missing: Vec<MailboxId> =
            vec!["1@default".parse().unwrap(), "9@default".parse().unwrap()];
        let err = store.mailboxes_of(&missing).unwrap_err();
        assert!(
            matches!(err, Error::NoSuchMailbox { ref mailbox } if mailbox.to_string() == "9@default"),
            "{err}"
        );
    }

    #[test]
    fn message_settings_use_the_mailbox_zone() {
        let s = settings_of(
            "[zonemessages]\neuro = Europe/Berlin|'vm-received' q\n[default]\n1234 => 1,A,,,imapuser=a|tz=euro\n",
        );
        let settings = message_settings(&s).unwrap();
        // 2026-11-26 06:00 UTC is 07:00 in Berlin (CET, +0100).
        let date = settings.email_date(1_795_672_800).unwrap();
        assert!(date.contains("07:00:00 AM"), "{date}");
    }

    #[test]
    fn an_unknown_zone_is_an_error_not_utc() {
        let s = settings_of(
            "[zonemessages]\nmars = Mars/Olympus_Mons|'vm-received' q\n[default]\n1234 => 1,A,,,imapuser=a|tz=mars\n",
        );
        let err = message_settings(&s).unwrap_err().to_string();
        assert!(
            err.contains("1234@default") && err.contains("Mars/Olympus_Mons"),
            "{err}"
        );
    }
}
