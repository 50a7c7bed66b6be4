//! The receive flow: which in-flight command each decoded server response belongs to.
//!
//! Untagged data goes to the command that asked for it (ESEARCH by tag, STATUS by mailbox,
//! LIST by pattern, QUOTAROOT by mailbox and QUOTA by root, FETCH/STORE/EXPUNGE/MOVE by UID
//! set; the crate doc's "Routing untagged data among pipelined commands" has the rules), or
//! else becomes an [`Unsolicited`] event or a [`Diagnostic`]. Each in-flight command
//! accumulates its answers in an `Acc` shaped like the [`Outcome`] its tagged OK turns it
//! into (`ok_outcome`); a tagged NO/BAD becomes a [`Refusal`]. Every command's answers are
//! bounded by [`crate::Limits::max_untagged_per_command`].
//!
//! imap-next hands untagged data to its caller; this engine is imapvm's own.
//!
//! API to the rest of the connection: `on_response`, `diagnostic`, and the records
//! `InFlight`, `Route` and `Acc` that the commands fill in. `route/fetch.rs` attributes
//! untagged FETCH responses.

use super::state::capabilities_from_codec;
use super::{
    CommandId, Connection, Diagnostic, Event, Kind, MailboxView, Outcome, Piece, State, Unsolicited,
};
use crate::convert;
use crate::error::{Error, LimitExceeded, LimitKind, Misbehaviour, Refusal, RefusalKind};
use crate::esearch;
use crate::types::{
    AppendUid, CopyUid, FetchAttr, FetchedMessage, Flag, ListEntry, MailboxName, MailboxStatus,
    Namespaces, Quota, QuotaResource, QuotaRoots, RawBytes, SelectedMailbox, Uid, UidRange, UidSet,
    UidValidity,
};
use imap_codec::imap_types as t;
use std::collections::BTreeMap;
use std::time::Instant;
use t::response::{Code, Data, Response, Status, StatusKind};

mod fetch;

#[derive(Debug, Default)]
pub(super) enum Acc {
    #[default]
    None,
    Select(SelectedMailbox),
    List(Vec<ListEntry>),
    Namespace(Namespaces),
    Status(MailboxStatus),
    Search(Vec<Uid>),
    Fetch {
        messages: BTreeMap<Uid, FetchedMessage>,
        /// `* VANISHED (EARLIER)` UIDs (CHANGEDSINCE ... VANISHED only).
        vanished: Vec<Uid>,
    },
    Store(BTreeMap<Uid, Vec<Flag>>),
    Expunge {
        uids: Vec<Uid>,
        unmapped: u32,
        copy_uid: Option<CopyUid>,
    },
    Quota(QuotaRoots),
    Enabled(Vec<String>),
    Copy(Option<CopyUid>),
    /// AUTHENTICATE: the decoded error challenge of an OAuth mechanism, once it came.
    Sasl(Option<RawBytes>),
}

/// What a command asked for, to tell its untagged answers from other commands' and from
/// unsolicited data.
#[derive(Debug, Default)]
pub(super) struct Route {
    /// UID FETCH / UID STORE: the UIDs addressed.
    pub(super) uids: Option<UidRange>,
    /// UID FETCH: the items asked for (besides UID).
    pub(super) items: Vec<FetchAttr>,
    /// UID STORE: `.SILENT` (no FETCH answers expected).
    pub(super) silent: bool,
    /// LIST: reference and pattern.
    pub(super) list: Option<(String, String)>,
    /// UID SEARCH: send `RETURN (ALL)` if the server has ESEARCH when the command goes out.
    pub(super) esearch_wanted: bool,
    /// UID SEARCH RETURN (SAVE): no untagged answer belongs to it (its result is `$`).
    pub(super) saved: bool,
    /// UID FETCH with CHANGEDSINCE: the outcome is [`Outcome::FetchChanged`].
    pub(super) changed_since: bool,
    /// UID FETCH with the VANISHED modifier: `* VANISHED (EARLIER)` answers belong to it.
    pub(super) vanished: bool,
    /// AUTHENTICATE with an OAuth mechanism: the line that answers the server's one error
    /// challenge (`crate::sasl`).
    pub(super) sasl_abort: Option<&'static [u8]>,
}

#[derive(Debug)]
pub(super) struct InFlight {
    pub(super) id: CommandId,
    pub(super) tag: String,
    pub(super) kind: Kind,
    pub(super) internal: bool,
    pub(super) acc: Acc,
    pub(super) mailbox: Option<MailboxName>,
    pub(super) deadline: Option<Instant>,
    pub(super) untagged: u32,
    pub(super) overflow: bool,
    /// Set while the `+` for a synchronising literal is awaited.
    pub(super) awaiting_plus: bool,
    pub(super) route: Route,
    /// Single-answer commands (SEARCH, STATUS, NAMESPACE, GETQUOTAROOT's QUOTAROOT): the answer
    /// arrived, so the next one of its kind belongs to a later command.
    pub(super) answered: bool,
}

impl InFlight {
    /// Whether this command's UID set (if it has one) names `uid`.
    fn addresses(&self, uid: Uid) -> bool {
        match &self.route.uids {
            None | Some(UidRange::All) => true,
            Some(UidRange::Set(s)) => s.contains(uid),
        }
    }
}

impl Connection {
    pub(super) fn on_response(&mut self, resp: Response<'_>, bytes: &[u8], now: Instant) {
        match resp {
            Response::CommandContinuationRequest(_) => self.on_continuation(bytes, now),
            Response::Status(Status::Tagged(tagged)) => self.on_tagged(tagged, bytes),
            Response::Status(Status::Untagged(body)) => self.on_untagged_status(body),
            Response::Status(Status::Bye(bye)) => {
                let code = bye.code.as_ref().map(convert::code_from_wire);
                let text = bye.text.to_string();
                self.bye = Some((code.clone(), text.clone()));
                self.events
                    .push_back(Event::Unsolicited(Unsolicited::Bye { code, text }));
            }
            Response::Data(d) => self.on_data(d, bytes),
        }
    }

    fn route(&mut self, pred: impl Fn(&InFlight) -> bool) -> Option<usize> {
        let max = self.config.limits.max_untagged_per_command;
        let idx = self.in_flight.iter().position(pred)?;
        let f = &mut self.in_flight[idx];
        // Saturating: an ESEARCH may already have counted up to u32::MAX (found by fuzzing).
        f.untagged = f.untagged.saturating_add(1);
        if f.untagged > max {
            f.overflow = true;
            f.acc = Acc::None;
            return None;
        }
        Some(idx)
    }

    fn route_or_drop(&mut self, pred: impl Fn(&InFlight) -> bool) -> (bool, Option<usize>) {
        let claimed = self.in_flight.iter().any(&pred);
        (claimed, self.route(pred))
    }

    fn on_untagged_status(&mut self, body: t::response::StatusBody<'_>) {
        let text = body.text.to_string();
        let mut handled = false;
        if let Some(code) = &body.code {
            handled = true;
            match code {
                Code::Capability(c) => {
                    self.caps = Some(capabilities_from_codec(c.as_ref()));
                    self.events
                        .push_back(Event::Unsolicited(Unsolicited::CapabilitiesChanged));
                }
                Code::Alert => self
                    .events
                    .push_back(Event::Unsolicited(Unsolicited::Alert(text.clone()))),
                Code::UidValidity(v) => {
                    if let Some(sel) = self.select_acc() {
                        sel.uid_validity = Some(UidValidity::from(*v));
                    }
                }
                Code::UidNext(v) => {
                    if let Some(sel) = self.select_acc() {
                        sel.uid_next = Some(Uid::from(*v));
                    }
                }
                Code::PermanentFlags(flags) => {
                    if let Some(sel) = self.select_acc() {
                        sel.permanent_flags = flags.iter().map(convert::flag_from_perm).collect();
                    }
                }
                Code::HighestModSeq(v) => {
                    if let Some(sel) = self.select_acc() {
                        sel.highest_modseq = Some(v.get());
                    }
                }
                Code::CopyUid {
                    uid_validity,
                    source,
                    destination,
                } => {
                    let cu = match (
                        convert::uid_ranges_from_codec(source),
                        convert::uid_ranges_from_codec(destination),
                    ) {
                        (Some(source), Some(destination)) => Some(CopyUid::new(
                            UidValidity::from(*uid_validity),
                            source,
                            destination,
                        )),
                        _ => None,
                    };
                    if let Some(f) = self
                        .in_flight
                        .iter_mut()
                        .find(|f| matches!(f.kind, Kind::Move | Kind::Copy))
                    {
                        match &mut f.acc {
                            Acc::Expunge { copy_uid, .. } => *copy_uid = cu,
                            Acc::Copy(c) => *c = cu,
                            _ => {}
                        }
                    }
                }
                // Informational codes (UNSEEN carries a sequence number: never exposed).
                Code::Unseen(_) | Code::Closed | Code::ReadOnly | Code::ReadWrite => {}
                _ => handled = false,
            }
        }
        if body.kind != StatusKind::Ok || !handled && !matches!(body.code, Some(Code::Alert)) {
            let refusal = match body.kind {
                StatusKind::Ok => None,
                StatusKind::No => Some(RefusalKind::No),
                StatusKind::Bad => Some(RefusalKind::Bad),
            };
            if refusal.is_some() || !handled {
                self.events
                    .push_back(Event::Unsolicited(Unsolicited::Notice {
                        refusal,
                        code: body.code.as_ref().map(convert::code_from_wire),
                        text,
                    }));
            }
        }
    }

    fn select_acc(&mut self) -> Option<&mut SelectedMailbox> {
        self.in_flight.iter_mut().find_map(|f| match &mut f.acc {
            Acc::Select(s) => Some(s),
            _ => None,
        })
    }

    fn on_data(&mut self, d: Data<'_>, bytes: &[u8]) {
        match d {
            Data::Capability(c) => {
                self.caps = Some(capabilities_from_codec(c.as_ref()));
                self.events
                    .push_back(Event::Unsolicited(Unsolicited::CapabilitiesChanged));
            }
            Data::List {
                items,
                delimiter,
                mailbox,
            } => {
                let Some(name) = convert::mailbox_from_wire(&mailbox) else {
                    self.diagnostic("LIST of a mailbox name no command can carry", bytes);
                    return;
                };
                let entry = ListEntry {
                    mailbox: name,
                    delimiter: delimiter.map(|d| d.inner()),
                    attributes: items.iter().map(|a| a.to_string()).collect(),
                };
                let target = self.list_target(&entry);
                match self.route_or_drop(|f| f.tag == target) {
                    (_, Some(i)) => {
                        if let Acc::List(v) = &mut self.in_flight[i].acc {
                            v.push(entry);
                        }
                    }
                    (true, None) => {}
                    (false, _) => self.diagnostic("LIST nobody asked for", bytes),
                }
            }
            Data::Status { mailbox, items } => {
                let Some(mb) = convert::mailbox_from_wire(&mailbox) else {
                    self.diagnostic("STATUS of a mailbox name no command can carry", bytes);
                    return;
                };
                let st = convert::status_items(mb.clone(), &items);
                let same = |a: &Option<MailboxName>| {
                    a.as_ref()
                        .is_some_and(|a| a == &mb || (a.is_inbox() && mb.is_inbox()))
                };
                let unanswered = self
                    .in_flight
                    .iter()
                    .any(|f| f.kind == Kind::Status && same(&f.mailbox) && !f.answered);
                let pred = |f: &InFlight| {
                    f.kind == Kind::Status && same(&f.mailbox) && (!f.answered || !unanswered)
                };
                match self.route_or_drop(pred) {
                    (_, Some(i)) => {
                        self.in_flight[i].answered = true;
                        self.in_flight[i].acc = Acc::Status(st);
                    }
                    (true, None) => {}
                    (false, _) => self
                        .events
                        .push_back(Event::Unsolicited(Unsolicited::Status(st))),
                }
            }
            Data::Search(uids, ..) => {
                // One `* SEARCH` per command (RFC 3501 7.2.5): the oldest SEARCH still without
                // one gets it. A lone SEARCH in flight also takes a split answer.
                // A saving search (SEARCHRES) answers nothing untagged.
                let answers = |f: &InFlight| f.kind == Kind::Search && !f.route.saved;
                let lone = self.in_flight.iter().filter(|f| answers(f)).count() == 1;
                let pred = |f: &InFlight| answers(f) && (!f.answered || lone);
                let max = u64::from(self.config.limits.max_untagged_per_command);
                match self.route_or_drop(pred) {
                    (_, Some(i)) => {
                        // Every UID counts, across all the command's responses (split answers
                        // to a lone SEARCH included), as with ESEARCH and VANISHED; `route`
                        // counted this response as one, which an empty answer keeps, so a flood
                        // of empty answers stays bounded too.
                        let f = &mut self.in_flight[i];
                        f.answered = true;
                        let n = u64::try_from(uids.len()).unwrap_or(u64::MAX).max(1);
                        let total = u64::from(f.untagged).saturating_sub(1).saturating_add(n);
                        f.untagged = u32::try_from(total).unwrap_or(u32::MAX);
                        if total > max {
                            f.overflow = true;
                            f.acc = Acc::None;
                        } else if let Acc::Search(v) = &mut f.acc {
                            v.extend(uids.into_iter().map(Uid::from));
                        }
                    }
                    (true, None) => {}
                    (false, _) => {
                        let reason = if self.in_flight.iter().any(|f| f.kind == Kind::Search) {
                            "surplus SEARCH response (every SEARCH in flight has its answer)"
                        } else {
                            "SEARCH nobody asked for"
                        };
                        self.diagnostic(reason, bytes);
                    }
                }
            }
            Data::Flags(flags) => {
                let flags: Vec<Flag> = flags
                    .iter()
                    .map(|f| Flag::from_wire(&f.to_string()))
                    .collect();
                match self.select_acc() {
                    Some(sel) => sel.flags = flags,
                    None => self
                        .events
                        .push_back(Event::Unsolicited(Unsolicited::Flags(flags))),
                }
            }
            Data::Exists(n) => {
                self.mailbox.on_exists(n);
                match self.select_acc() {
                    Some(sel) => sel.exists = n,
                    None => self
                        .events
                        .push_back(Event::Unsolicited(Unsolicited::Exists(n))),
                }
            }
            Data::Recent(n) => match self.select_acc() {
                Some(sel) => sel.recent = n,
                None => self
                    .events
                    .push_back(Event::Unsolicited(Unsolicited::Recent(n))),
            },
            Data::Expunge(seq) => {
                let uid = self.mailbox.expunge(seq.get());
                // EXPUNGE/CLOSE remove any \Deleted message; UID EXPUNGE and UID MOVE only
                // their own UIDs: another client's expunge meanwhile is unsolicited.
                let expunging = |f: &InFlight| match f.kind {
                    Kind::Expunge | Kind::Close => true,
                    Kind::UidExpunge | Kind::Move => uid.is_none_or(|u| f.addresses(u)),
                    _ => false,
                };
                match self.route_or_drop(expunging) {
                    (_, Some(i)) => {
                        if let Acc::Expunge { uids, unmapped, .. } = &mut self.in_flight[i].acc {
                            match uid {
                                Some(u) => uids.push(u),
                                None => *unmapped += 1,
                            }
                        }
                    }
                    (true, None) => {}
                    (false, _) => self
                        .events
                        .push_back(Event::Unsolicited(Unsolicited::Expunged { uid })),
                }
            }
            Data::Vanished {
                earlier,
                known_uids,
            } => {
                let Some(set) = convert::uidset_from_sequence_set(&known_uids) else {
                    self.diagnostic("VANISHED without usable UIDs", bytes);
                    return;
                };
                let first = set.iter().next();
                if earlier {
                    // History (RFC 7162 §3.2.10): the messages were gone before; sequence
                    // numbers do not change. The answer of a UID FETCH (VANISHED) whose set
                    // names them.
                    let pos = self.in_flight.iter().position(|f| {
                        f.kind == Kind::Fetch
                            && f.route.vanished
                            && first.is_none_or(|u| f.addresses(u))
                    });
                    if let Some(i) = pos {
                        self.vanished_earlier(i, &set);
                        return;
                    }
                } else {
                    let all_existed = self.qresync_enabled();
                    self.mailbox.vanish(&set, all_existed);
                }
                let max = u64::from(self.config.limits.max_untagged_per_command);
                let pred = |f: &InFlight| {
                    // With QRESYNC, EXPUNGE answers come as VANISHED: routed like EXPUNGE.
                    !earlier
                        && match f.kind {
                            Kind::Expunge | Kind::Close => true,
                            Kind::UidExpunge | Kind::Move => first.is_none_or(|u| f.addresses(u)),
                            _ => false,
                        }
                };
                match self.route_or_drop(pred) {
                    (_, Some(i)) => {
                        // Every UID counts, across all the command's responses, as one
                        // `* n EXPUNGE` each would (`route` counted this response as one).
                        let f = &mut self.in_flight[i];
                        let total = u64::from(f.untagged).saturating_sub(1) + set.len();
                        f.untagged = u32::try_from(total).unwrap_or(u32::MAX);
                        if total > max {
                            f.overflow = true;
                            f.acc = Acc::None;
                        } else if let Acc::Expunge { uids, .. } = &mut f.acc {
                            uids.extend(set.iter());
                        }
                    }
                    (true, None) => {}
                    (false, _) => {
                        self.events
                            .push_back(Event::Unsolicited(Unsolicited::Vanished {
                                uids: set,
                                earlier,
                            }))
                    }
                }
            }
            Data::Fetch { seq, items } => self.on_fetch(seq.get(), items, bytes),
            Data::Enabled { capabilities } => {
                let (claimed, target) = self.route_or_drop(|f| f.kind == Kind::Enable);
                if !claimed {
                    self.diagnostic("ENABLED without an ENABLE in flight", bytes);
                    return;
                }
                // In effect from here on (RFC 5161), whatever the tagged answer says.
                self.enabled.extend(
                    capabilities
                        .iter()
                        .map(|c| c.to_string().to_ascii_uppercase()),
                );
                if let Some(i) = target
                    && let Acc::Enabled(v) = &mut self.in_flight[i].acc
                {
                    v.extend(capabilities.iter().map(|c| c.to_string()));
                }
            }
            Data::Quota { root, quotas } => {
                let q = Quota {
                    root: String::from_utf8_lossy(root.as_ref()).into_owned(),
                    resources: quotas
                        .as_ref()
                        .iter()
                        .map(|q| QuotaResource {
                            name: q.resource.to_string().to_ascii_uppercase(),
                            usage: q.usage,
                            limit: q.limit,
                        })
                        .collect(),
                };
                let target = self.quota_target(&q.root);
                match self.route_or_drop(|f| f.tag == target) {
                    (_, Some(i)) => {
                        if let Acc::Quota(v) = &mut self.in_flight[i].acc {
                            v.quotas.push(q);
                        }
                    }
                    (true, None) => {}
                    (false, _) => self.diagnostic("QUOTA nobody asked for", bytes),
                }
            }
            Data::QuotaRoot { mailbox, roots } => {
                let Some(mb) = convert::mailbox_from_wire(&mailbox) else {
                    self.diagnostic("QUOTAROOT of a mailbox name no command can carry", bytes);
                    return;
                };
                let same = |f: &InFlight| {
                    f.mailbox
                        .as_ref()
                        .is_some_and(|a| a == &mb || (a.is_inbox() && mb.is_inbox()))
                };
                let quota_roots = self
                    .in_flight
                    .iter()
                    .filter(|f| f.kind == Kind::GetQuotaRoot);
                let unanswered: Vec<(bool, &str)> = quota_roots
                    .filter(|f| !f.answered)
                    .map(|f| (same(f), f.tag.as_str()))
                    .collect();
                // Same mailbox first, else the oldest without its QUOTAROOT, else the oldest.
                let target = unanswered
                    .iter()
                    .find(|(s, _)| *s)
                    .or(unanswered.first())
                    .map(|(_, t)| (*t).to_owned());
                let pred = |f: &InFlight| {
                    f.kind == Kind::GetQuotaRoot && target.as_ref().is_none_or(|t| &f.tag == t)
                };
                match self.route_or_drop(pred) {
                    (_, Some(i)) => {
                        self.in_flight[i].answered = true;
                        if let Acc::Quota(v) = &mut self.in_flight[i].acc {
                            v.roots.extend(
                                roots
                                    .iter()
                                    .map(|r| String::from_utf8_lossy(r.as_ref()).into_owned()),
                            );
                        }
                    }
                    (true, None) => {}
                    (false, _) => self.diagnostic("QUOTAROOT nobody asked for", bytes),
                }
            }
            Data::Namespace {
                personal,
                other,
                shared,
            } => {
                if let (_, Some(i)) = self.route_or_drop(|f| f.kind == Kind::Namespace) {
                    self.in_flight[i].acc = Acc::Namespace(Namespaces {
                        personal: convert::namespaces(&personal),
                        other: convert::namespaces(&other),
                        shared: convert::namespaces(&shared),
                    });
                }
            }
            _ => self.diagnostic("untagged data this client does not use", bytes),
        }
    }

    /// Adds a `* VANISHED (EARLIER)` to the UID FETCH (VANISHED) at `i`. Every UID counts
    /// against `max_untagged_per_command`, so a server's `1:4294967295` fails the command
    /// instead of filling memory.
    fn vanished_earlier(&mut self, i: usize, set: &UidSet) {
        let max = u64::from(self.config.limits.max_untagged_per_command);
        let f = &mut self.in_flight[i];
        if f.overflow {
            return;
        }
        let total = u64::from(f.untagged) + set.len();
        f.untagged = u32::try_from(total).unwrap_or(u32::MAX);
        if total > max {
            f.overflow = true;
            f.acc = Acc::None;
            return;
        }
        if let Acc::Fetch { vanished, .. } = &mut f.acc {
            vanished.extend(set.iter());
        }
    }

    fn diagnostic(&mut self, reason: &str, bytes: &[u8]) {
        self.events.push_back(Event::Diagnostic(Diagnostic {
            reason: reason.to_owned(),
            bytes: RawBytes(bytes.to_vec()),
        }));
    }

    /// The tag of the LIST an entry belongs to: the oldest whose pattern matches the name and
    /// that has not listed it yet, else the oldest whose pattern matches, else the oldest.
    fn list_target(&self, entry: &ListEntry) -> String {
        let delimiter = entry.delimiter.and_then(|d| u8::try_from(d).ok());
        let (mut fresh, mut matching, mut any) = (None, None, None);
        for f in self.in_flight.iter().filter(|f| f.kind == Kind::List) {
            any = any.or(Some(&f.tag));
            let matches = f.route.list.as_ref().is_none_or(|(reference, pattern)| {
                list_match(&format!("{reference}{pattern}"), &entry.mailbox, delimiter)
            });
            if !matches {
                continue;
            }
            matching = matching.or(Some(&f.tag));
            let listed =
                matches!(&f.acc, Acc::List(v) if v.iter().any(|e| e.mailbox == entry.mailbox));
            if !listed {
                fresh = fresh.or(Some(&f.tag));
            }
        }
        fresh.or(matching).or(any).cloned().unwrap_or_default()
    }

    /// The tag of the GETQUOTAROOT a `* QUOTA root` belongs to: the oldest that named this
    /// root in its QUOTAROOT and lacks its QUOTA, else the oldest without QUOTAROOT yet, else
    /// the oldest lacking this root's QUOTA, else the oldest.
    fn quota_target(&self, root: &str) -> String {
        let mut ranks: [Option<&String>; 4] = [None; 4];
        for f in self
            .in_flight
            .iter()
            .filter(|f| f.kind == Kind::GetQuotaRoot)
        {
            let Acc::Quota(q) = &f.acc else { continue };
            let named = q.roots.iter().any(|r| r == root);
            let has_quota = q.quotas.iter().any(|x| x.root == root);
            let rank = if named && !has_quota {
                0
            } else if q.roots.is_empty() && !has_quota {
                1
            } else if !has_quota {
                2
            } else {
                3
            };
            ranks[rank] = ranks[rank].or(Some(&f.tag));
        }
        ranks
            .iter()
            .flatten()
            .next()
            .map(|t| (*t).clone())
            .unwrap_or_default()
    }

    /// `* ESEARCH`: routed by its tag (RFC 4731), or without a tag to the oldest unanswered
    /// SEARCH. A malformed one while a SEARCH waits would silently change a result: fatal.
    pub(super) fn on_esearch(&mut self, bytes: &[u8]) {
        let searching = self.in_flight.iter().any(|f| f.kind == Kind::Search);
        let e = match esearch::parse(bytes) {
            Ok(e) => e,
            Err(reason) if searching => {
                self.fail(Error::Misbehaviour(Misbehaviour::new(
                    format!("malformed ESEARCH ({reason})"),
                    bytes,
                )));
                return;
            }
            Err(reason) => {
                self.diagnostic(
                    &format!("malformed ESEARCH nobody asked for ({reason})"),
                    bytes,
                );
                return;
            }
        };
        let pos = match &e.tag {
            Some(tag) => self
                .in_flight
                .iter()
                .position(|f| f.kind == Kind::Search && f.tag == *tag),
            None => self
                .in_flight
                .iter()
                .position(|f| f.kind == Kind::Search && !f.answered && !f.route.saved),
        };
        let Some(i) = pos else {
            self.diagnostic("ESEARCH for a tag with no SEARCH in flight", bytes);
            return;
        };
        if !e.uid {
            self.fail(Error::Misbehaviour(Misbehaviour::new(
                "ESEARCH without UID answering a UID SEARCH (sequence numbers)",
                bytes,
            )));
            return;
        }
        let max = u64::from(self.config.limits.max_untagged_per_command);
        let f = &mut self.in_flight[i];
        f.answered = true;
        if f.overflow {
            return;
        }
        let total = u64::from(f.untagged) + e.all_len();
        f.untagged = u32::try_from(total).unwrap_or(u32::MAX);
        if total > max {
            f.overflow = true;
            f.acc = Acc::None;
            return;
        }
        if let Acc::Search(v) = &mut f.acc {
            for (a, b) in e.all {
                v.extend((a..=b).filter_map(Uid::new));
            }
        }
    }

    fn on_tagged(&mut self, tagged: t::response::Tagged<'_>, bytes: &[u8]) {
        let tag = tagged.tag.inner();
        let Some(pos) = self.in_flight.iter().position(|f| f.tag == tag) else {
            self.fail(Error::Misbehaviour(Misbehaviour::new(
                "tagged response with a tag not in flight",
                bytes,
            )));
            return;
        };
        let mut f = self.in_flight.remove(pos);
        // A NO/BAD instead of `+`: the rest of the command is never sent.
        let mut before_literal = false;
        if let Some(s) = &self.sending
            && s.tag == f.tag
        {
            if matches!(s.pieces.front(), Some(Piece::Wait)) {
                before_literal = true;
                self.sending = None;
            } else if tagged.body.kind != StatusKind::Ok {
                // Keep streaming: the server still reads the announced non-sync literal.
            }
        }
        let code = tagged.body.code.as_ref();
        if let Some(Code::Capability(c)) = code {
            self.caps = Some(capabilities_from_codec(c.as_ref()));
        }
        let result = if tagged.body.kind == StatusKind::Ok {
            if f.overflow {
                Err(Error::Limit(LimitExceeded {
                    kind: LimitKind::UntaggedPerCommand,
                    actual: u64::from(f.untagged),
                    max: u64::from(self.config.limits.max_untagged_per_command),
                }))
            } else {
                Ok(self.ok_outcome(&mut f, code))
            }
        } else {
            self.refused_effects(&f);
            let sasl_error = match &mut f.acc {
                Acc::Sasl(challenge) => challenge.take(),
                _ => None,
            };
            Err(Error::Refused(Refusal {
                command: f.kind.name(),
                kind: if tagged.body.kind == StatusKind::No {
                    RefusalKind::No
                } else {
                    RefusalKind::Bad
                },
                code: code.map(convert::code_from_wire),
                text: tagged.body.text.to_string(),
                before_literal,
                sasl_error,
            }))
        };
        if f.kind == Kind::Idle {
            let refresh = self
                .idle
                .as_ref()
                .is_some_and(|i| i.refreshing && !i.stop && i.tag == f.tag);
            if refresh && result.is_ok() {
                self.reissue_idle(f.id);
                return;
            }
            self.idle = None;
        }
        if f.kind == Kind::Logout {
            self.state = State::Logout;
        }
        // A refused login with commands sent or queued behind it (pipelined): they were
        // meant for an authenticated session, so the connection fails with the login's
        // error, which each of them gets; none is answered on its own, none is retried.
        let refused_pipelined_login = match &result {
            Err(e) if matches!(f.kind, Kind::Login | Kind::Authenticate) => {
                (!self.in_flight.is_empty() || !self.pending.is_empty()).then(|| e.clone())
            }
            _ => None,
        };
        if !f.internal {
            self.events.push_back(Event::Completed { id: f.id, result });
        }
        if let Some(e) = refused_pipelined_login {
            self.fail(e);
        }
    }

    fn refused_effects(&mut self, f: &InFlight) {
        // RFC 3501 6.3.1: a failed SELECT/EXAMINE leaves no mailbox selected.
        if matches!(f.kind, Kind::Select | Kind::Examine) {
            self.state = State::Authenticated;
            self.projected = State::Authenticated;
            self.mailbox = MailboxView::default();
        }
        // A refused login leaves the connection not authenticated: another attempt may
        // follow (with a fresh token, say) unless commands were queued behind it.
        if matches!(f.kind, Kind::Login | Kind::Authenticate)
            && self.state == State::NotAuthenticated
            && self.pending.is_empty()
        {
            self.projected = State::NotAuthenticated;
        }
    }

    fn ok_outcome(&mut self, f: &mut InFlight, code: Option<&Code<'_>>) -> Outcome {
        match f.kind {
            Kind::Capability => Outcome::Capabilities(self.caps.clone().unwrap_or_default()),
            Kind::Login | Kind::Authenticate => {
                self.state = State::Authenticated;
                if !matches!(code, Some(Code::Capability(_))) {
                    self.caps = None;
                }
                Outcome::Authenticated {
                    capabilities_known: self.caps.is_some(),
                }
            }
            Kind::StartTls => {
                self.state = State::UpgradePending;
                self.sasl_ir_before_tls = self.offers(imapvm_types::Capability::SaslIr);
                self.caps = None;
                Outcome::UpgradeNow
            }
            Kind::Select | Kind::Examine => {
                let mut sel = match std::mem::take(&mut f.acc) {
                    Acc::Select(s) => s,
                    _ => SelectedMailbox::default(),
                };
                sel.read_only = f.kind == Kind::Examine || matches!(code, Some(Code::ReadOnly));
                sel.mailbox = f.mailbox.clone();
                self.mailbox.exists = sel.exists;
                self.state = State::Selected {
                    read_only: sel.read_only,
                };
                Outcome::Selected(sel)
            }
            Kind::Unselect | Kind::Close => {
                self.state = State::Authenticated;
                self.mailbox = MailboxView::default();
                Outcome::Done
            }
            Kind::List => match std::mem::take(&mut f.acc) {
                Acc::List(v) => Outcome::List(v),
                _ => Outcome::List(Vec::new()),
            },
            Kind::Namespace => match std::mem::take(&mut f.acc) {
                Acc::Namespace(n) => Outcome::Namespaces(n),
                _ => Outcome::Namespaces(Namespaces::default()),
            },
            Kind::Status => match std::mem::take(&mut f.acc) {
                Acc::Status(s) => Outcome::Status(s),
                _ => Outcome::Status(MailboxStatus {
                    mailbox: f.mailbox.clone(),
                    ..MailboxStatus::default()
                }),
            },
            Kind::Append => Outcome::Appended(match code {
                Some(Code::AppendUid { uid_validity, uid }) => Some(AppendUid {
                    uid_validity: UidValidity::from(*uid_validity),
                    uid: Uid::from(*uid),
                }),
                _ => None,
            }),
            Kind::Search => match std::mem::take(&mut f.acc) {
                Acc::Search(mut v) => {
                    v.sort();
                    v.dedup();
                    Outcome::Search(v)
                }
                _ => Outcome::Search(Vec::new()),
            },
            Kind::Fetch => {
                let (messages, mut vanished) = match std::mem::take(&mut f.acc) {
                    Acc::Fetch { messages, vanished } => (messages, vanished),
                    _ => (BTreeMap::new(), Vec::new()),
                };
                let messages = messages.into_values().collect();
                if f.route.changed_since {
                    vanished.sort_unstable();
                    vanished.dedup();
                    Outcome::FetchChanged {
                        messages,
                        vanished_earlier: vanished,
                    }
                } else {
                    Outcome::Fetch(messages)
                }
            }
            Kind::Store => match std::mem::take(&mut f.acc) {
                Acc::Store(m) => Outcome::Store(m.into_iter().collect()),
                _ => Outcome::Store(Vec::new()),
            },
            Kind::Copy => {
                let from_code = copy_uid_from_code(code);
                let from_acc = match std::mem::take(&mut f.acc) {
                    Acc::Copy(c) => c,
                    _ => None,
                };
                Outcome::Copied(from_code.or(from_acc))
            }
            Kind::Move => match std::mem::take(&mut f.acc) {
                Acc::Expunge { uids, copy_uid, .. } => Outcome::Moved {
                    copy_uid: copy_uid_from_code(code).or(copy_uid),
                    expunged: uids,
                },
                _ => Outcome::Moved {
                    copy_uid: copy_uid_from_code(code),
                    expunged: Vec::new(),
                },
            },
            Kind::UidExpunge | Kind::Expunge => match std::mem::take(&mut f.acc) {
                Acc::Expunge { uids, unmapped, .. } => Outcome::Expunged { uids, unmapped },
                _ => Outcome::Expunged {
                    uids: Vec::new(),
                    unmapped: 0,
                },
            },
            Kind::GetQuotaRoot => match std::mem::take(&mut f.acc) {
                Acc::Quota(q) => Outcome::QuotaRoots(q),
                _ => Outcome::QuotaRoots(QuotaRoots::default()),
            },
            Kind::Enable => match std::mem::take(&mut f.acc) {
                Acc::Enabled(v) => Outcome::Enabled(v),
                _ => Outcome::Enabled(Vec::new()),
            },
            Kind::Noop | Kind::Logout | Kind::Create | Kind::Idle | Kind::Notify => Outcome::Done,
        }
    }
}

fn copy_uid_from_code(code: Option<&Code<'_>>) -> Option<CopyUid> {
    match code {
        Some(Code::CopyUid {
            uid_validity,
            source,
            destination,
        }) => Some(CopyUid::new(
            UidValidity::from(*uid_validity),
            convert::uid_ranges_from_codec(source)?,
            convert::uid_ranges_from_codec(destination)?,
        )),
        _ => None,
    }
}

/// Whether a LIST `pattern` (reference included) matches `mailbox`: `*` matches anything,
/// `%` anything but the hierarchy delimiter (RFC 3501 6.3.8); `INBOX` in any case. O(n*m).
fn list_match(pattern: &str, mailbox: &MailboxName, delimiter: Option<u8>) -> bool {
    let upper;
    let (pattern, name) = if mailbox.is_inbox() {
        upper = pattern.to_ascii_uppercase();
        (upper.as_bytes(), &b"INBOX"[..])
    } else {
        (pattern.as_bytes(), mailbox.as_wire().as_bytes())
    };
    let m = pattern.len();
    // cur[j]: pattern[..j] matches the name read so far.
    let mut cur = vec![false; m + 1];
    let mut next = vec![false; m + 1];
    cur[0] = true;
    for j in 1..=m {
        cur[j] = cur[j - 1] && matches!(pattern[j - 1], b'*' | b'%');
    }
    for &c in name {
        next[0] = false;
        for j in 1..=m {
            next[j] = match pattern[j - 1] {
                b'*' => next[j - 1] || cur[j],
                b'%' => next[j - 1] || (cur[j] && Some(c) != delimiter),
                p => cur[j - 1] && p == c,
            };
        }
        std::mem::swap(&mut cur, &mut next);
    }
    cur[m]
}
