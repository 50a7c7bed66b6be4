//! Every voicemail operation of [`Mailbox`], one file per operation (as stalwart's
//! `imap/src/op/`): each asks policy what to search, store or expunge, asks the message
//! crate for bytes, and pipelines the IMAP commands into few round trips. This file holds
//! what several operations share: the proto ⇄ policy type glue, the identity headers and
//! what the runtime learns about a folder.

use std::collections::{BTreeSet, HashMap};

use imapvm_message::{HeaderBlock, MessageType};
use imapvm_policy::{Folder, MailboxName, MessageFlags};
use imapvm_proto::{
    CommandId, FetchAttr, Flag, Outcome, SearchKey as WireKey, Uid as WireUid, UidRange,
    UidSet as WireUidSet,
};

use crate::clock::SharedClock;
use crate::error::{Error, Result};
use crate::pool::{FolderMemory, Folders, IdentityHeaders};
use crate::session::Session;
use crate::store::Mailbox;

mod count;
mod delete;
mod deposit;
mod flags;
mod greeting;
mod list;
mod move_;
mod play;
mod probe;

pub use count::ChangedSince;
pub(crate) use deposit::{Composed, Journal, quota_roots};

/// The identity headers, fetched to filter exactly (and to tell greetings from messages).
const IDENTITY_FIELDS: &[&str] = &[
    "X-Asterisk-VM-Extension",
    "X-Asterisk-VM-Context",
    "X-Asterisk-VM-Message-Type",
];

pub(crate) const MSG_ID_HEADER: &str = "X-Asterisk-VM-Message-ID";

fn wire_keys(keys: &[imapvm_policy::SearchKey]) -> Vec<WireKey> {
    use imapvm_policy::SearchKey as P;
    keys.iter()
        .map(|k| match k {
            P::Undeleted => WireKey::Undeleted,
            P::Deleted => WireKey::Deleted,
            P::Seen => WireKey::Seen,
            P::Unseen => WireKey::Unseen,
            P::Flagged => WireKey::Flagged,
            P::Unflagged => WireKey::Unflagged,
            P::Header { name, value } => WireKey::Header((*name).to_owned(), value.clone()),
        })
        .collect()
}

pub(crate) fn wire_set(uids: impl IntoIterator<Item = u32>) -> Option<UidRange> {
    WireUidSet::from_uids(uids.into_iter().filter_map(WireUid::new)).map(UidRange::Set)
}

fn policy_set(uids: impl IntoIterator<Item = u32>) -> imapvm_policy::UidSet {
    uids.into_iter()
        .filter_map(imapvm_policy::Uid::new)
        .collect()
}

fn flags_of(flags: &[Flag]) -> MessageFlags {
    MessageFlags {
        seen: flags.contains(&Flag::Seen),
        flagged: flags.contains(&Flag::Flagged),
        deleted: flags.contains(&Flag::Deleted),
    }
}

pub(crate) fn search_result(s: &mut Session, context: &str, id: CommandId) -> Result<Vec<u32>> {
    match s.take(context, id)? {
        Outcome::Search(uids) => Ok(uids.into_iter().map(WireUid::get).collect()),
        _ => Err(Error::Unexpected {
            account: s.label().to_owned(),
            command: "UID SEARCH",
        }),
    }
}

pub(crate) fn fetch_result(
    s: &mut Session,
    context: &str,
    id: CommandId,
) -> Result<Vec<imapvm_proto::FetchedMessage>> {
    match s.take(context, id)? {
        Outcome::Fetch(m) => Ok(m),
        _ => Err(Error::Unexpected {
            account: s.label().to_owned(),
            command: "UID FETCH",
        }),
    }
}

fn is_greeting(message_type: Option<&str>) -> bool {
    message_type.is_some_and(|t| MessageType::from_header(t).is_greeting())
}

/// A unique-enough number for Message-ID, boundary and msg id (no clock in the lower crates;
/// here the store's wall clock and a per-process hash seed are fine).
pub(crate) fn random_u32(clock: &SharedClock) -> u32 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        clock
            .wall()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    (h.finish() & 0xffff_ffff) as u32
}

/// The fetch item of the identity headers.
pub(crate) fn identity_attr() -> FetchAttr {
    FetchAttr::HeaderFields(IDENTITY_FIELDS.iter().map(|s| (*s).to_owned()).collect())
}

/// The identity headers of a message fetched with [`identity_attr`].
pub(crate) fn identity_of(m: &imapvm_proto::FetchedMessage) -> IdentityHeaders {
    let block = HeaderBlock::parse(m.header_fields().unwrap_or_default());
    IdentityHeaders {
        extension: block.fields.extension,
        context: block.fields.context,
        message_type: block.fields.message_type,
    }
}

/// How many UIDs above the highest one whose identity is known a warm listing or deposit
/// fetches along with its searches (mail that arrived since the folder was last looked at).
/// A bound: ordinary mail in a shared folder costs at most this many rows, once; a hit above
/// the window is fetched afterwards.
const NEW_UID_WINDOW: u32 = 500;

/// The [`NEW_UID_WINDOW`] UIDs above the highest UID whose identity is known; `None` when
/// nothing is known yet (a cold connection: the hits are fetched instead).
fn new_uid_window(mem: &FolderMemory) -> Option<UidRange> {
    let highest = *mem.headers.keys().max()?;
    let low = WireUid::new(highest.checked_add(1)?)?;
    let high = WireUid::new(highest.saturating_add(NEW_UID_WINDOW))?;
    Some(UidRange::Set(WireUidSet::range(low, high)))
}

/// Queues the fetch of the identity headers in the [`new_uid_window`] (sent with the next
/// flight): messages another client added since are then known without a round trip of
/// their own.
fn queue_new_identities(s: &mut Session, mem: &FolderMemory) -> Result<Option<CommandId>> {
    let Some(range) = new_uid_window(mem) else {
        return Ok(None);
    };
    let attrs = [identity_attr()];
    Ok(Some(s.queue("UID FETCH (new identities)", |c| {
        c.uid_fetch(&range, &attrs)
    })?))
}

/// Learns the answer of [`queue_new_identities`]. A refusal only costs the fetch of the
/// hits' headers later.
fn learn_new_identities(s: &mut Session, mem: &mut FolderMemory, id: Option<CommandId>) {
    let Some(id) = id else {
        return;
    };
    match fetch_result(s, "UID FETCH (new identities)", id) {
        Ok(fetched) => {
            for m in fetched {
                mem.headers.insert(m.uid.get(), identity_of(&m));
            }
        }
        Err(e) => tracing::debug!(account = %s.label(), error = %e, "new identities not fetched"),
    }
}

impl Mailbox {
    fn ours(&self, h: &IdentityHeaders) -> bool {
        self.identity
            .matches(h.extension.as_deref(), h.context.as_deref())
            && !is_greeting(h.message_type.as_deref())
    }

    /// The IMAP folder of a scope.
    pub(crate) fn scope_mailbox(&self, s: &Session, scope: Option<Folder>) -> Result<MailboxName> {
        let layout = self.layout(s)?;
        Ok(layout.mailbox_name(scope.unwrap_or(Folder::Inbox)))
    }

    pub(crate) async fn select(
        &self,
        s: &mut Session,
        f: &mut Folders,
        name: &MailboxName,
    ) -> Result<u32> {
        let sel = s.select(name).await?;
        f.get(name).check_validity(sel.uid_validity);
        Ok(sel.uid_validity)
    }

    /// Fetches the identity headers of the UIDs not cached yet (one round trip, none when
    /// everything is cached). With `flags`, also fetches the flags of `uids` that are not in
    /// `known_flags`, and adds them there.
    async fn learn_identities(
        &self,
        s: &mut Session,
        mem: &mut FolderMemory,
        uids: impl IntoIterator<Item = u32>,
    ) -> Result<()> {
        let mut none = HashMap::new();
        self.learn(s, mem, uids, &mut none, false).await
    }

    async fn learn(
        &self,
        s: &mut Session,
        mem: &mut FolderMemory,
        uids: impl IntoIterator<Item = u32>,
        known_flags: &mut HashMap<u32, MessageFlags>,
        flags: bool,
    ) -> Result<()> {
        let missing: BTreeSet<u32> = uids
            .into_iter()
            .filter(|u| !mem.headers.contains_key(u) || (flags && !known_flags.contains_key(u)))
            .collect();
        let Some(range) = wire_set(missing.iter().copied()) else {
            return Ok(());
        };
        let mut attrs = vec![identity_attr()];
        // Flags only where some are unknown (an ESEARCH count knows them all).
        if flags && missing.iter().any(|u| !known_flags.contains_key(u)) {
            attrs.push(FetchAttr::Flags);
        }
        let fetched = {
            let id = s.queue("UID FETCH (identity)", |c| c.uid_fetch(&range, &attrs))?;
            s.wait(&[id]).await?;
            fetch_result(s, "UID FETCH (identity)", id)?
        };
        for m in fetched {
            mem.headers.insert(m.uid.get(), identity_of(&m));
            if let Some(fl) = &m.flags {
                known_flags.insert(m.uid.get(), flags_of(fl));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_keys_become_wire_keys_in_order() {
        let id = imapvm_policy::MailboxId::parse("12@default").unwrap();
        let me = imapvm_policy::VoicemailIdentity::new(&id, None).unwrap();
        let keys = wire_keys(&imapvm_policy::count_search(Folder::Inbox, &me));
        assert_eq!(
            keys,
            vec![
                WireKey::Undeleted,
                WireKey::Unflagged,
                WireKey::Unseen,
                WireKey::Header("X-Asterisk-VM-Extension".into(), "12".into()),
                WireKey::Header("X-Asterisk-VM-Context".into(), "default".into()),
            ]
        );
    }

    #[test]
    fn greetings_are_told_apart_from_messages() {
        assert!(!is_greeting(None));
        assert!(!is_greeting(Some("Message")));
        assert!(is_greeting(Some("unavail")));
    }

    #[test]
    fn uid_sets_skip_zero() {
        assert_eq!(wire_set([0]), None);
        assert_eq!(
            wire_set([3, 1, 2]).map(|r| match r {
                UidRange::Set(s) => s.to_wire(),
                UidRange::All => String::new(),
            }),
            Some("1:3".to_owned())
        );
    }

    #[test]
    fn random_values_differ() {
        let clock = crate::clock::SystemClock::shared();
        let a: HashMap<u32, ()> = (0..100).map(|_| (random_u32(&clock), ())).collect();
        assert!(a.len() > 95);
    }

    /// A wall clock that stands still.
    #[derive(Debug)]
    struct Frozen;

    impl crate::clock::Clock for Frozen {
        fn now(&self) -> std::time::Instant {
            crate::clock::SystemClock.now()
        }
        fn wall(&self) -> std::time::SystemTime {
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_795_674_094)
        }
    }

    #[test]
    fn random_values_differ_on_a_clock_that_stands_still() {
        let clock: SharedClock = std::sync::Arc::new(Frozen);
        let a: HashMap<u32, ()> = (0..100).map(|_| (random_u32(&clock), ())).collect();
        assert!(a.len() > 95);
    }
}
