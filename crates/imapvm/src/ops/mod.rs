//! Every voicemail operation of [`Mailbox`], one file per operation (as stalwart's
//! `imap/src/op/`): each asks policy what to search, store or expunge, asks the message
//! crate for bytes, and pipelines the IMAP commands into few round trips. Policy and the
//! protocol core share one vocabulary (`imapvm-types`: `Uid`, `UidSet`, `SearchKey`,
//! `Capabilities`), so what one decides goes to the other as it is. This file holds what
//! several operations share: the identity headers and what the runtime learns about a
//! folder.

use std::collections::{BTreeSet, HashMap};

use imapvm_message::{HeaderBlock, IDENTITY_FIELDS, MessageType};
use imapvm_policy::{
    Folder, KnownFetch, KnownFlags, MailboxName, MessageFlags, Scan, Uid, UidSet, UidValidity,
    new_uid_window, restrict, saved_split, to_learn,
};
use imapvm_proto::{CommandId, FetchAttr, Outcome, UidRange};

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

pub use crate::clock::random_u32;
pub use count::ChangedSince;
pub use deposit::{Composed, Journal, quota_roots};
pub(crate) use list::Ownership;

/// The header that names a deposit (shared by its copies): how a retry finds an earlier APPEND.
pub const MSG_ID_HEADER: &str = "X-Asterisk-VM-Message-ID";

/// The UIDs of the `UID SEARCH` `id` (queued as `context`).
pub fn search_result(s: &mut Session, context: &str, id: CommandId) -> Result<Vec<Uid>> {
    match s.take(context, id)? {
        Outcome::Search(uids) => Ok(uids),
        _ => Err(Error::Unexpected {
            account: s.key().clone(),
            command: "UID SEARCH",
        }),
    }
}

/// The messages of the `UID FETCH` `id` (queued as `context`).
pub fn fetch_result(
    s: &mut Session,
    context: &str,
    id: CommandId,
) -> Result<Vec<imapvm_proto::FetchedMessage>> {
    match s.take(context, id)? {
        Outcome::Fetch(m) => Ok(m),
        _ => Err(Error::Unexpected {
            account: s.key().clone(),
            command: "UID FETCH",
        }),
    }
}

fn is_greeting(message_type: Option<&str>) -> bool {
    message_type.is_some_and(|t| MessageType::from_header(t).is_greeting())
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

/// Queues the fetch of the identity headers in policy's [`new_uid_window`] (sent with the
/// next flight): messages another client added since are then known without a round trip
/// of their own.
fn queue_new_identities(s: &mut Session, mem: &FolderMemory) -> Result<Option<CommandId>> {
    let Some(range) = new_uid_window(mem.headers.keys().max().copied()) else {
        return Ok(None);
    };
    let range = UidRange::Set(range);
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
                mem.headers.insert(m.uid, identity_of(&m));
            }
        }
        Err(e) => tracing::debug!(account = %s.label(), error = %e, "new identities not fetched"),
    }
}

/// A saved search as queued (policy's [`imapvm_policy::SavedSearch`]).
type SavedSearch = imapvm_policy::SavedSearch<CommandId>;

/// The messages a [`SavedSearch`] found (each once, known ones first). A refused saving
/// search leaves `$` empty: it is the failure.
fn take_saved(s: &mut Session, q: &SavedSearch) -> Result<Vec<imapvm_proto::FetchedMessage>> {
    let known = match q.known {
        Some(id) => fetch_result(s, "UID FETCH (known voicemail)", id),
        None => Ok(Vec::new()),
    };
    let found = search_result(s, "UID SEARCH RETURN (SAVE)", q.search)
        .and_then(|_| fetch_result(s, "UID FETCH $", q.fetch));
    let (mut known, found) = (known?, found?);
    let seen: BTreeSet<Uid> = known.iter().map(|m| m.uid).collect();
    known.extend(found.into_iter().filter(|m| !seen.contains(&m.uid)));
    Ok(known)
}

/// The error of an operation whose folder was re-created (a new UIDVALIDITY) or created
/// under every one of its attempts.
fn folder_kept_changing(s: &Session) -> Error {
    Error::Unexpected {
        account: s.key().clone(),
        command: "SELECT (the folder changed under every attempt)",
    }
}

/// Whether a saved search may use the remembered flags of the known UIDs
/// (`imapvm_policy::known_flags`): a count may, a listing fetches what it shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FlagMemory {
    /// Ask only what changed since, where the memory holds.
    Use,
    /// Fetch every known UID.
    Ignore,
}

/// A SELECT queued in front of an operation's commands ([`Mailbox::queue_select`]).
#[derive(Debug, Clone, Copy)]
struct QueuedSelect {
    /// The SELECT (`None`: the folder was selected already).
    id: Option<CommandId>,
    /// The UIDVALIDITY remembered when the commands were queued.
    known: Option<UidValidity>,
}

impl Mailbox {
    /// Whether a fetched message is this box's: policy's exact filter on the identity
    /// headers, never the server's substring `SEARCH HEADER` alone [INV-4].
    fn ours(&self, h: &IdentityHeaders) -> bool {
        self.identity
            .matches(h.extension.as_deref(), h.context.as_deref())
            && !is_greeting(h.message_type.as_deref())
    }

    /// The UIDs of `name` a search for this box must look at: those known to be its
    /// voicemail and those not classified yet (`imapvm_policy::voicemail_uids`); `None` when
    /// nothing is known (search the whole folder). Exactly what a full search finds.
    fn candidates(&self, f: &mut Folders, name: &MailboxName) -> Option<UidSet> {
        let uid_validity = f.get(name).uid_validity?;
        f.voicemail
            .candidates(&self.voicemail_key(name), uid_validity)
    }

    /// Learns from a header-keys-only search of this box in the selected folder `name`,
    /// restricted to `searched`: its `hits`, and as a UID that existed before it ran
    /// `UIDNEXT − 1` of the folder's SELECT (the highest of that and `existing`).
    fn learn_voicemail(
        &self,
        s: &Session,
        f: &mut Folders,
        name: &MailboxName,
        searched: Option<&UidSet>,
        hits: &[Uid],
        existing: Option<Uid>,
    ) {
        let Some(uid_validity) = f.get(name).uid_validity else {
            return;
        };
        let selected = s
            .selected()
            .filter(|sel| sel.name.same_mailbox(name) && sel.uid_validity == Some(uid_validity))
            .and_then(|sel| Uid::new(sel.uid_next?.get().saturating_sub(1)));
        f.voicemail.learn(
            self.voicemail_key(name),
            Scan {
                uid_validity,
                searched,
                hits,
                existing: selected.max(existing),
            },
        );
    }

    fn voicemail_key(&self, name: &MailboxName) -> (String, String, String) {
        (
            name.as_wire().to_owned(),
            self.identity.extension().to_owned(),
            self.identity.context().to_owned(),
        )
    }

    /// The IMAP folder of a scope on this connection (`None`: `imapfolder`).
    pub fn scope_mailbox(&self, s: &Session, scope: Option<Folder>) -> Result<MailboxName> {
        let layout = self.layout(s)?;
        Ok(layout.mailbox_name(scope.unwrap_or(Folder::Inbox)))
    }

    /// Selects `name` on `s` and notes its UIDVALIDITY in `f` (what was remembered about the
    /// folder is dropped when it changed); returns it. Every UID an operation names is
    /// relative to it [INV-2], so a server that gives none (RFC 3501 requires it) is an
    /// [`Error::Unexpected`].
    pub async fn select(
        &self,
        s: &mut Session,
        f: &mut Folders,
        name: &MailboxName,
    ) -> Result<UidValidity> {
        let sel = s.select(name).await?;
        let uid_validity = sel.uid_validity.ok_or_else(|| Error::Unexpected {
            account: s.key().clone(),
            command: "SELECT (no UIDVALIDITY)",
        })?;
        f.get(name).check_validity(uid_validity);
        Ok(uid_validity)
    }

    /// Queues a [`SavedSearch`] of this box in `name` (selected, or its SELECT queued in
    /// front), fetching `attrs` of every match; the known UIDs get `known_attrs` (and, when
    /// those ask for no header fields, the identity headers if some are not remembered).
    /// With [`FlagMemory::Use`] (a count), the known UIDs whose flags are remembered are
    /// asked only what changed since (`imapvm_policy::known_flags`): the plan is returned.
    fn queue_saved_search(
        &self,
        s: &mut Session,
        f: &mut Folders,
        name: &MailboxName,
        attrs: &[FetchAttr],
        known_attrs: &[FetchAttr],
        memory: FlagMemory,
    ) -> Result<(SavedSearch, KnownFetch)> {
        let key = self.voicemail_key(name);
        let uid_validity = f.get(name).uid_validity;
        let split = uid_validity.and_then(|v| f.voicemail.known_and_tail(&key, v));
        let searched = self.candidates(f, name);
        let (known, tail) = saved_split(split);
        let remembered = match (memory, uid_validity) {
            (FlagMemory::Use, Some(v)) => f.voicemail.known_flags(&key, v).cloned(),
            _ => None,
        };
        let view = s.selected_view(name);
        let mem = f.get(name);
        let plan = KnownFlags::plan(remembered.as_ref(), view.as_ref(), &known, |u| {
            mem.headers.contains_key(&u)
        });
        let changed = match &plan {
            KnownFetch::Changed { since, changed, .. } => {
                let range = UidRange::Set(changed.clone());
                Some(s.queue("UID FETCH (known voicemail, CHANGEDSINCE)", |c| {
                    c.uid_fetch_changed_since(&range, &[FetchAttr::Flags], since.get(), false)
                })?)
            }
            KnownFetch::Plain(_) => None,
        };
        let plain = plan.plain();
        let known = if plain.is_empty() {
            None
        } else {
            let mut attrs = known_attrs.to_vec();
            let headers = attrs
                .iter()
                .any(|a| matches!(a, FetchAttr::HeaderFields(_)));
            if !headers && plain.iter().any(|u| !mem.headers.contains_key(&u)) {
                attrs.push(identity_attr());
            }
            let range = UidRange::Set(plain.clone());
            Some(s.queue("UID FETCH (known voicemail)", |c| {
                c.uid_fetch(&range, &attrs)
            })?)
        };
        let keys = restrict(tail.as_ref(), &self.identity.header_keys());
        let search = s.queue("UID SEARCH RETURN (SAVE)", |c| c.uid_search_save(&keys))?;
        let fetch = s.queue("UID FETCH $", |c| c.uid_fetch_saved(attrs))?;
        Ok((
            SavedSearch {
                changed,
                known,
                search,
                fetch,
                searched,
            },
            plan,
        ))
    }

    /// Queues the SELECT of `name` for the next flight, so that the commands queued behind
    /// it go in the same one (on a cold connection, behind the login too); when it is
    /// selected already, [`Session::select`] only queues its NOOP. What those commands took
    /// from what is remembered of the folder is checked by [`Mailbox::selected_as_queued`].
    async fn queue_select(
        &self,
        s: &mut Session,
        f: &mut Folders,
        name: &MailboxName,
    ) -> Result<QueuedSelect> {
        let known = f.get(name).uid_validity;
        if s.selected().is_some_and(|sel| sel.name.same_mailbox(name)) {
            self.select(s, f, name).await?;
            return Ok(QueuedSelect { id: None, known });
        }
        let id = s.queue_select(name)?;
        Ok(QueuedSelect {
            id: Some(id),
            known,
        })
    }

    /// Once the flight is answered: the folder's UIDVALIDITY when the commands behind the
    /// SELECT of `q` ran in the folder as remembered (selected, with the UIDVALIDITY their
    /// UIDs were taken under); `None` when they must run again: the folder did not exist (it
    /// is created and selected now, as [`Mailbox::select`] does) or its UIDVALIDITY changed.
    async fn selected_as_queued(
        &self,
        s: &mut Session,
        f: &mut Folders,
        name: &MailboxName,
        q: QueuedSelect,
    ) -> Result<Option<UidValidity>> {
        match q.id.map(|id| s.take("SELECT", id)) {
            Some(Ok(_)) => {}
            Some(Err(Error::Protocol { source, .. })) if !source.is_fatal() => {
                // Created, then selected (a second SELECT first would fail the same way).
                tracing::debug!(account = %s.label(), mailbox = %name, "SELECT failed ({source}); creating it");
                s.create(name).await?;
                self.select(s, f, name).await?;
                return Ok(None);
            }
            Some(Err(e)) => return Err(e),
            // Selected before the flight, and no longer (the folder was deleted, the
            // connection lost): run again, which tells which.
            None if !s.selected().is_some_and(|sel| sel.name.same_mailbox(name)) => {
                return Ok(None);
            }
            None => {}
        }
        let uid_validity = s
            .selected()
            .filter(|sel| sel.name.same_mailbox(name))
            .and_then(|sel| sel.uid_validity)
            .ok_or_else(|| Error::Unexpected {
                account: s.key().clone(),
                command: "SELECT (no UIDVALIDITY)",
            })?;
        f.get(name).check_validity(uid_validity);
        Ok(q.known
            .is_none_or(|k| k == uid_validity)
            .then_some(uid_validity))
    }

    /// Fetches the identity headers of the UIDs not cached yet (one round trip, none when
    /// everything is cached); with `known_flags`, also the flags of `uids` that are not in it
    /// (added there) in the same fetch.
    async fn learn_identities(
        &self,
        s: &mut Session,
        mem: &mut FolderMemory,
        uids: impl IntoIterator<Item = Uid>,
        mut known_flags: Option<&mut HashMap<Uid, MessageFlags>>,
    ) -> Result<()> {
        let known = |u: &Uid| mem.headers.contains_key(u);
        let (missing, flags) = to_learn(uids, known, known_flags.as_deref());
        if missing.is_empty() {
            return Ok(());
        }
        let range = UidRange::Set(missing);
        let mut attrs = vec![identity_attr()];
        attrs.extend(flags.then_some(FetchAttr::Flags));
        let id = s.queue("UID FETCH (identity)", |c| c.uid_fetch(&range, &attrs))?;
        s.wait(&[id]).await?;
        for m in fetch_result(s, "UID FETCH (identity)", id)? {
            mem.headers.insert(m.uid, identity_of(&m));
            if let (Some(fl), Some(known)) = (&m.flags, known_flags.as_deref_mut()) {
                known.insert(m.uid, MessageFlags::from_flags(fl));
            }
        }
        Ok(())
    }
}

/// What the scripted-server tests of several operations share.
#[cfg(test)]
pub(crate) mod test_support {
    /// A store for box 1234@default on `port` of a scripted server (clear text on
    /// loopback, `format=wav`).
    pub(crate) fn store_on(port: u16) -> crate::Store {
        let conf = format!(
            "[general]\nimapserver=127.0.0.1\nimapport={port}\nimapflags=notls\nformat=wav\n\
             [default]\n1234 => 1234,A,,,imapuser=vm|imappassword=pw\n"
        );
        crate::Store::new(imapvm_config::parse_bytes("voicemail.conf", conf.as_bytes()).config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greetings_are_told_apart_from_messages() {
        assert!(!is_greeting(None));
        assert!(!is_greeting(Some("Message")));
        assert!(is_greeting(Some("unavail")));
    }
}
