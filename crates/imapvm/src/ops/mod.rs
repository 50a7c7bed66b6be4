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
    Fetched, Folder, KnownFetch, KnownFlags, MailboxName, MessageFlags, Scan, Uid, UidSet,
    UidValidity, ViewMark, new_uid_window, restrict, saved_split, to_learn,
};
use imapvm_proto::{CommandId, FetchAttr, Outcome, UidRange};

use crate::error::{Error, Result};
use crate::pool::{FolderMemory, Folders, IdentityHeaders};
use crate::session::{Session, ViewSync};
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
/// (`imapvm_policy::known_flags`), and what else it needs remembered of a UID to do so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FlagMemory {
    /// A count: ask only what changed since, where the memory holds and the identity
    /// headers are known.
    Use,
    /// A listing: the same where the listing's row is remembered too
    /// (`FolderMemory::rows`).
    UseWithRows,
    /// Fetch every known UID.
    Ignore,
}

/// How a saved search fetched its known UIDs' flags, and the view it was planned under.
pub(super) struct KnownPlan {
    fetch: KnownFetch,
    before: Option<ViewMark>,
}

impl KnownPlan {
    /// Whether the known UIDs were asked only what changed (CHANGEDSINCE): when that fails
    /// (refused, or the view changed under it), the operation runs again, plainly.
    fn asked_changes(&self) -> bool {
        matches!(self.fetch, KnownFetch::Changed { .. })
    }
}

/// A saved search's answers read with the remembered flags ([`take_saved_known`]).
struct KnownAnswers {
    /// The known UIDs asked with CHANGEDSINCE that still exist, with their flags (the
    /// remembered ones unless answered).
    remembered: Vec<(Uid, MessageFlags)>,
    /// Every message fetched (the known UIDs asked plainly, then `$`).
    found: Vec<imapvm_proto::FetchedMessage>,
    /// The memory to keep (`None`: none was planned; `Some(None)`: forget it).
    memory: Option<Option<KnownFlags>>,
}

/// Reads the answers of a [`SavedSearch`] planned as `plan` (`None`: without the remembered
/// flags) for the box `key` in `name`, with its remembered flags. `gone`: the UIDs of `name`
/// the session saw expunged up to the answers ([`forget_gone`]), which the memory to keep
/// leaves out. A failed answer, or a view that changed under a CHANGEDSINCE fetch, forgets
/// the memory and fails (the flight then runs again, plainly).
fn take_saved_known(
    s: &mut Session,
    f: &mut Folders,
    name: &MailboxName,
    key: &(String, String, String),
    saved: &SavedSearch,
    plan: Option<&KnownPlan>,
    gone: &UidSet,
) -> Result<KnownAnswers> {
    let fetched = |m: &imapvm_proto::FetchedMessage| Fetched {
        uid: m.uid,
        flags: m.flags.as_ref().map(MessageFlags::from_flags),
        modseq: m.modseq,
    };
    let changed = saved.changed.map(|id| changed_result(s, id));
    let found = take_saved(s, saved);
    let uid_validity = f.get(name).uid_validity;
    let remembered = uid_validity
        .and_then(|v| f.voicemail.known_flags(key, v))
        .cloned();
    let forget = |f: &mut Folders| {
        if let Some(v) = uid_validity {
            f.voicemail.remember_flags(key, v, None);
        }
    };
    let (changed, found) = match (changed, found) {
        (Some(Err(e)), _) | (_, Err(e)) => {
            forget(f);
            return Err(e);
        }
        (changed, Ok(found)) => (changed.transpose()?.unwrap_or_default(), found),
    };
    let Some(plan) = plan else {
        return Ok(KnownAnswers {
            remembered: Vec::new(),
            found,
            memory: None,
        });
    };
    let changed: Vec<Fetched> = changed.iter().map(fetched).collect();
    let later: Vec<Fetched> = found.iter().map(fetched).collect();
    let view = s.selected_view(name);
    let (flags, mut kept) = KnownFlags::merge(
        remembered,
        &plan.fetch,
        plan.before,
        view.as_ref(),
        &changed,
        plan.fetch.plain(),
        &later,
    );
    // A UID an answer brought and an expunge later in the flight took away.
    if let Some(k) = kept.as_mut() {
        k.vanish(gone);
    }
    let Some(remembered) = flags else {
        forget(f);
        return Err(Error::Unexpected {
            account: s.key().clone(),
            command: "UID FETCH (CHANGEDSINCE): the folder's view changed",
        });
    };
    Ok(KnownAnswers {
        remembered,
        found,
        memory: Some(kept),
    })
}

/// Applies what the session saw expunged (this flight included) to the remembered flags of
/// `name`'s boxes before a count's or listing's answers are read; returns those UIDs. The
/// rest of what is remembered (identity headers, rows, listings) learns them when the
/// operation ends, as before.
fn forget_gone(s: &Session, f: &mut Folders, name: &MailboxName) -> UidSet {
    let gone = s.gone_in(name);
    f.voicemail.vanish(|k| k.0 == name.as_wire(), &gone);
    gone
}

/// The messages a CHANGEDSINCE fetch answered (with their MODSEQ).
fn changed_result(s: &mut Session, id: CommandId) -> Result<Vec<imapvm_proto::FetchedMessage>> {
    let context = "UID FETCH (known voicemail, CHANGEDSINCE)";
    match s.take(context, id)? {
        Outcome::FetchChanged { messages, .. } | Outcome::Fetch(messages) => Ok(messages),
        _ => Err(Error::Unexpected {
            account: s.key().clone(),
            command: context,
        }),
    }
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
        self.select_as(s, f, name, ViewSync::Noop).await
    }

    /// [`Mailbox::select`] with [`Session::select_as`]'s `sync`.
    pub async fn select_as(
        &self,
        s: &mut Session,
        f: &mut Folders,
        name: &MailboxName,
        sync: ViewSync,
    ) -> Result<UidValidity> {
        let sel = s.select_as(name, sync).await?;
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
    /// With [`FlagMemory::Use`] (a count) or [`FlagMemory::UseWithRows`] (a listing), the
    /// known UIDs whose flags are remembered are asked only what changed since
    /// (`imapvm_policy::known_flags`): the plan is returned.
    fn queue_saved_search(
        &self,
        s: &mut Session,
        f: &mut Folders,
        name: &MailboxName,
        attrs: &[FetchAttr],
        known_attrs: &[FetchAttr],
        memory: FlagMemory,
    ) -> Result<(SavedSearch, KnownPlan)> {
        let key = self.voicemail_key(name);
        let uid_validity = f.get(name).uid_validity;
        let split = uid_validity.and_then(|v| f.voicemail.known_and_tail(&key, v));
        let searched = self.candidates(f, name);
        let (known, tail) = saved_split(split);
        let remembered = match (memory, uid_validity) {
            (FlagMemory::Use | FlagMemory::UseWithRows, Some(v)) => {
                f.voicemail.known_flags(&key, v).cloned()
            }
            _ => None,
        };
        let view = s.selected_view(name);
        let before = s.view_mark_of(name);
        let mem = f.get(name);
        let plan = KnownFlags::plan(remembered.as_ref(), view.as_ref(), &known, |u| {
            mem.headers.contains_key(&u)
                && (memory != FlagMemory::UseWithRows || mem.rows.contains(u))
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
            KnownPlan {
                fetch: plan,
                before,
            },
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
    use std::sync::{Arc, Mutex};

    use imapvm_harness::scripted::{Command, Imap, Log, usual};
    use imapvm_testkit::{Peer, Reply};

    use crate::store::Retry;

    /// As Dovecot's after the login: SEARCHRES (the saved search) and CONDSTORE.
    const CAPS: &str = "IMAP4rev1 LITERAL+ NAMESPACE UIDPLUS ESEARCH SEARCHRES CONDSTORE";

    /// A folder of a scripted server: per sequence number, (UID, flags, MODSEQ, voicemail?).
    /// A voicemail of UID u is box 1234@default's, from caller 555u, `RFC822.SIZE` 1000 + u.
    #[derive(Debug, Default)]
    pub(crate) struct Folder {
        pub messages: Vec<(u32, &'static str, u64, bool)>,
        pub highest: u64,
        /// Expunge the message of this sequence number at the next NOOP.
        pub expunge_at_noop: Option<usize>,
        /// What `$` holds.
        saved: Vec<u32>,
    }

    impl Folder {
        fn fetch_line(&self, seq: usize, items: &str, modseq: bool) -> String {
            let (uid, flags, m, vm) = self.messages[seq - 1];
            let mut line = format!("* {seq} FETCH (UID {uid} FLAGS ({flags})");
            if modseq {
                line.push_str(&format!(" MODSEQ ({m})"));
            }
            if items.contains("RFC822.SIZE") {
                line.push_str(&format!(" RFC822.SIZE {}", 1000 + uid));
            }
            if items.contains("HEADER.FIELDS") {
                let h = if vm {
                    format!(
                        "X-Asterisk-VM-Extension: 1234\r\nX-Asterisk-VM-Context: default\r\n\
                         X-Asterisk-VM-Caller-ID-Num: 555{uid}\r\n\r\n"
                    )
                } else {
                    "\r\n".to_owned()
                };
                line.push_str(&format!(
                    " BODY[HEADER.FIELDS (X-ASTERISK-VM-EXTENSION X-ASTERISK-VM-CONTEXT X-ASTERISK-VM-MESSAGE-TYPE)] {{{}}}\r\n{h}",
                    h.len()
                ));
            }
            line.push_str(")\r\n");
            line
        }

        fn answer(&mut self, c: &Command) -> Option<Reply> {
            let tag = &c.tag;
            let text = c.text.to_ascii_uppercase();
            let out = if c.is("SELECT") {
                format!(
                    "* {} EXISTS\r\n* OK [UIDVALIDITY 7] v\r\n* OK [UIDNEXT 10] n\r\n\
                     * OK [HIGHESTMODSEQ {}] h\r\n{tag} OK [READ-WRITE] selected\r\n",
                    self.messages.len(),
                    self.highest
                )
            } else if c.is("NOOP") {
                let mut out = String::new();
                if let Some(seq) = self.expunge_at_noop.take() {
                    self.messages.remove(seq - 1);
                    out.push_str(&format!("* {seq} EXPUNGE\r\n"));
                }
                out + &format!("{tag} OK done\r\n")
            } else if c.is("UID SEARCH") {
                // A search restricted to UIDs (the tail) finds nothing new; the whole
                // folder's finds the voicemail.
                self.saved = match text.contains(" UID ") {
                    true => Vec::new(),
                    false => self.messages.iter().filter(|m| m.3).map(|m| m.0).collect(),
                };
                format!("{tag} OK done\r\n")
            } else if c.is("UID FETCH") {
                let set = text.split(' ').nth(2).unwrap_or_default().to_owned();
                let uids: Vec<u32> = match set.as_str() {
                    "$" => self.saved.clone(),
                    s => s.split(',').filter_map(|u| u.parse().ok()).collect(),
                };
                let since = text
                    .split("CHANGEDSINCE ")
                    .nth(1)
                    .and_then(|r| r.trim_end_matches(')').parse::<u64>().ok());
                let mut out = String::new();
                for (i, m) in self.messages.iter().enumerate() {
                    if uids.contains(&m.0) && since.is_none_or(|s| m.2 > s) {
                        out.push_str(&self.fetch_line(i + 1, &text, since.is_some()));
                    }
                }
                out + &format!("{tag} OK done\r\n")
            } else {
                return None;
            };
            Some(Reply::send(out))
        }
    }

    /// A scripted server of `folder` (as Dovecot's INBOX), with the log of what it was sent.
    pub(crate) async fn server(folder: Arc<Mutex<Folder>>) -> (Peer, Log) {
        let log = Log::default();
        let l = log.clone();
        let peer = Peer::builder()
            .respond(move || {
                let folder = Arc::clone(&folder);
                Imap::new(CAPS, &l, move |c: &Command| {
                    Some(
                        folder
                            .lock()
                            .unwrap()
                            .answer(c)
                            .unwrap_or_else(|| usual(CAPS, c)),
                    )
                })
                .greeting_text("Dovecot ready.")
            })
            .await
            .unwrap();
        (peer, log)
    }

    /// Two voicemails (UIDs 3 and 5) around an e-mail (UID 4), HIGHESTMODSEQ 10.
    pub(crate) fn folder() -> Arc<Mutex<Folder>> {
        Arc::new(Mutex::new(Folder {
            messages: vec![(3, "", 8, true), (4, "", 9, false), (5, "", 10, true)],
            highest: 10,
            ..Folder::default()
        }))
    }

    /// The session's round trips so far.
    pub(crate) async fn trips(mb: &crate::Mailbox) -> u64 {
        mb.with_account(Retry::Never, |a| {
            Box::pin(async move { Ok(a.session.stats().round_trips) })
        })
        .await
        .unwrap()
    }

    /// The commands logged since `from` that fetch the known voicemail (UIDs 3 and 5).
    pub(crate) fn known_fetches(log: &Log, from: usize) -> Vec<String> {
        log.lines()[from..]
            .iter()
            .filter(|l| l.contains("UID FETCH 3,5") || l.contains("UID FETCH 3:5"))
            .map(|l| {
                l.split_once(' ')
                    .map(|(_, t)| t.to_owned())
                    .unwrap_or_default()
            })
            .collect()
    }

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
