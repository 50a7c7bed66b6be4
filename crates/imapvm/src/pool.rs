//! One connection per (server, port, user), shared by every mailbox on that account, with
//! what the runtime remembers per IMAP folder (UIDVALIDITY, identity headers and listing rows
//! by UID, open listings). A failed login is retried only after a growing back-off.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use imapvm_policy::{
    Backoff, ListedRows, MailboxName, MessageNumbers, Uid, UidSet, UidValidity, VoicemailUids,
};

use crate::account::{Account, AccountKey};
use crate::clock::SharedClock;
use crate::error::{Error, Result};
use crate::session::{Gone, Session};

/// The login back-off of every account: 0.5 s after a failed attempt, doubled per further
/// failure, at most 60 s (checked when the crate is built).
const LOGIN_BACKOFF: Backoff =
    match Backoff::new(Duration::from_millis(500), Duration::from_secs(60)) {
        Ok(b) => b,
        Err(_) => panic!("bad login back-off bounds"),
    };

/// The identity headers of one message (immutable for a UID within a UIDVALIDITY).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityHeaders {
    /// `X-Asterisk-VM-Extension`.
    pub extension: Option<String>,
    /// `X-Asterisk-VM-Context`.
    pub context: Option<String>,
    /// `X-Asterisk-VM-Message-Type` (greetings are not messages).
    pub message_type: Option<String>,
}

/// What a listing shows of one message besides its flags (immutable for a UID within a
/// UIDVALIDITY: headers and `RFC822.SIZE` never change).
#[derive(Debug, Clone)]
pub(crate) struct RowFacts {
    /// `RFC822.SIZE`.
    pub size: u32,
    /// The listing's header fields, parsed.
    pub fields: imapvm_message::HeaderFields,
}

/// Which messages a listing numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub(crate) enum Listed {
    /// The messages a caller hears: `\Deleted` ones are not numbered.
    #[default]
    Present,
    /// `\Deleted` messages too (for `undelete`).
    WithDeleted,
}

/// Which listing: a voicemail identity (extension, context) and a folder scope.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ListingKey {
    pub extension: String,
    pub context: String,
    /// Asterisk folder index of the scope (`None`: every state in `imapfolder`).
    pub scope: Option<i32>,
    /// Whether `\Deleted` messages are numbered too.
    pub listed: Listed,
}

/// What is remembered about one IMAP folder of the account.
#[derive(Debug, Default)]
pub(crate) struct FolderMemory {
    /// The UIDVALIDITY the cached data belongs to (`None` before the first SELECT).
    pub uid_validity: Option<UidValidity>,
    /// Identity headers by UID.
    pub headers: HashMap<Uid, IdentityHeaders>,
    /// Listing rows by UID, of this folder's voicemail (`imapvm_policy::listed_rows`: at
    /// most 4,096 rows and 1 MiB per folder, the lowest UIDs forgotten first).
    pub rows: ListedRows<RowFacts>,
    /// Open listings.
    pub listings: HashMap<ListingKey, MessageNumbers>,
}

impl FolderMemory {
    /// Drops everything when UIDVALIDITY changed; listings stay so that a stale number is
    /// reported as stale rather than silently re-bound.
    pub(crate) fn check_validity(&mut self, uid_validity: UidValidity) {
        if self.uid_validity != Some(uid_validity) {
            self.headers.clear();
            self.rows.clear();
            self.uid_validity = Some(uid_validity);
        }
    }

    /// Records that `uids` are gone.
    pub(crate) fn vanish(&mut self, uids: &UidSet) {
        for uid in uids.iter() {
            self.headers.remove(&uid);
        }
        self.rows.vanish(uids);
        for listing in self.listings.values_mut() {
            listing.vanish(uids.iter());
        }
    }
}

/// The connection of one account, with its back-off state.
#[derive(Debug, Default)]
pub(crate) struct Conn {
    session: Option<Session>,
    /// The back-off since the last successful login (`None`: no failure since).
    backoff: Option<Backoff>,
    retry_at: Option<Instant>,
    /// The failure that started the back-off.
    last_error: Option<Error>,
}

impl Conn {
    /// Whether a live session is held (an error on it may be retried on a new one).
    pub(crate) fn has_live_session(&self) -> bool {
        self.session.as_ref().is_some_and(Session::is_usable)
    }

    /// The live session, opening one (after the back-off) when needed.
    pub(crate) async fn session(
        &mut self,
        account: &Account,
        clock: &SharedClock,
    ) -> Result<&mut Session> {
        if !self.has_live_session() {
            if let Some(old) = self.session.take() {
                tracing::debug!(account = %old.label(), "dropping a failed connection");
            }
            let now = clock.now();
            if let Some(at) = self.retry_at
                && at > now
                && let Some(last) = &self.last_error
            {
                return Err(Error::Backoff {
                    account: account.key(),
                    retry_in: at - now,
                    last: Box::new(last.clone()),
                });
            }
            // The login goes out with the operation's first commands: its refusal comes as
            // the operation's error, noted by `failed`.
            match Session::open_pipelined(account, clock).await {
                Ok(s) => self.session = Some(s),
                Err(e) => {
                    self.failed(&e, account, clock);
                    return Err(e);
                }
            }
        }
        self.session.as_mut().ok_or(Error::Unexpected {
            account: account.key(),
            command: "connect",
        })
    }

    /// Notes a failed connection attempt or login: the session is dropped and the next
    /// attempt waits for the back-off.
    pub(crate) fn failed(&mut self, e: &Error, account: &Account, clock: &SharedClock) {
        self.session = None;
        let wait = self.backoff.get_or_insert(LOGIN_BACKOFF).failed();
        self.retry_at = Some(clock.now() + wait);
        self.last_error = Some(e.clone());
        tracing::debug!(account = %account.key(), error = %e, ?wait, "connection attempt failed");
    }

    /// Whether the session's login was answered, and it is usable.
    pub(crate) fn logged_in(&self) -> bool {
        self.session.as_ref().is_some_and(Session::is_logged_in)
    }

    /// Notes a session that logged in: the back-off is over.
    pub(crate) fn succeeded(&mut self) {
        self.backoff = None;
        self.retry_at = None;
        self.last_error = None;
    }

    /// The error of a refused pipelined login (see `Session::take_login_refusal`).
    pub(crate) fn take_login_refusal(&mut self) -> Option<Error> {
        self.session.as_mut().and_then(Session::take_login_refusal)
    }

    /// Whether the operation must run again (see `Session::take_guess_wrong`).
    pub(crate) fn take_guess_wrong(&mut self) -> bool {
        self.session.as_mut().is_some_and(Session::take_guess_wrong)
    }

    /// Drops the session after an error that lost the connection.
    pub(crate) fn drop_session(&mut self) {
        self.session = None;
    }

    /// The session if one is held (for statistics).
    pub(crate) fn current(&self) -> Option<&Session> {
        self.session.as_ref()
    }

    /// Takes the session out (for LOGOUT).
    pub(crate) fn take_session(&mut self) -> Option<Session> {
        self.session.take()
    }

    /// Applies the expunges the session saw to the folder memories.
    pub(crate) fn absorb_gone(&mut self, folders: &mut Folders) {
        if let Some(session) = self.session.as_mut() {
            folders.absorb_gone(session.take_gone());
        }
    }
}

/// What is remembered per IMAP folder of one account: its UIDVALIDITY, the identity
/// headers of its messages by UID, the listings handed out, and which UIDs are which box's
/// voicemail (bounded: `imapvm_policy::CacheBounds::DEFAULT`). The pool keeps one per
/// account across reconnects; a service with a connection of its own (the MWI watcher)
/// keeps its own.
#[derive(Debug, Default)]
pub struct Folders {
    memories: HashMap<String, FolderMemory>,
    /// Per (folder, extension, context): the voicemail UIDs searches are restricted to.
    pub(crate) voicemail: VoicemailUids<(String, String, String)>,
}

impl Folders {
    /// The folder memory for `name`.
    pub(crate) fn get(&mut self, name: &MailboxName) -> &mut FolderMemory {
        self.memories.entry(name.as_wire().to_owned()).or_default()
    }

    /// Applies expunges a session saw (with their UIDs) to what is remembered: identity
    /// headers, listings, and the remembered flags of known voicemail UIDs.
    pub(crate) fn absorb_gone(&mut self, gone: Vec<Gone>) {
        let mut by_folder: HashMap<String, UidSet> = HashMap::new();
        for g in gone {
            by_folder
                .entry(g.mailbox.as_wire().to_owned())
                .or_default()
                .insert(g.uid);
        }
        for (folder, uids) in by_folder {
            if let Some(mem) = self.memories.get_mut(&folder) {
                mem.vanish(&uids);
            }
            self.voicemail.vanish(|k| k.0 == folder, &uids);
        }
    }

    /// Notes `name`'s UIDVALIDITY (from a SELECT): when it changed, what was remembered
    /// about the folder's messages is dropped.
    pub fn check_validity(&mut self, name: &MailboxName, uid_validity: UidValidity) {
        self.get(name).check_validity(uid_validity);
    }
}

/// The state of one account: its connection and what is remembered.
#[derive(Debug, Default)]
pub(crate) struct Slot {
    /// The connection.
    pub conn: Conn,
    /// Folder memories.
    pub folders: Folders,
    /// Whether the voicemail-UID file was read into `folders` (`crate::uid_memory`).
    pub recalled: bool,
    /// The file's text as last read or written (nothing to write when unchanged).
    pub written: Option<String>,
}

/// The connection pool: one [`Slot`] per account.
#[derive(Debug, Default)]
pub(crate) struct Pool {
    slots: Mutex<HashMap<AccountKey, Arc<tokio::sync::Mutex<Slot>>>>,
}

impl Pool {
    /// The slot of `key` (created empty on first use).
    pub(crate) fn slot(&self, key: &AccountKey) -> Arc<tokio::sync::Mutex<Slot>> {
        let mut slots = match self.slots.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        Arc::clone(slots.entry(key.clone()).or_default())
    }

    /// Every slot with its account (for closing).
    pub(crate) fn all(&self) -> Vec<(AccountKey, Arc<tokio::sync::Mutex<Slot>>)> {
        let slots = match self.slots.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        slots
            .iter()
            .map(|(k, s)| (k.clone(), Arc::clone(s)))
            .collect()
    }
}
