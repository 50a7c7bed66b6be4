//! Untagged FETCH: to the `UID FETCH` (or non-silent `UID STORE`) in flight that addressed
//! the message's UID and asked for an item the response carries and has not had yet, else an
//! [`Unsolicited::Fetch`] (a flag change reported by the server).
//!
//! API to the receive flow: `on_fetch`.

use crate::connection::{Acc, Connection, Event, InFlight, Kind, Unsolicited};
use crate::fetch_items::FetchItem;
use crate::types::{FetchAttr, FetchedMessage, Flag, Section};

impl Connection {
    /// One `* seq FETCH` response's items ([`FetchItem`]: from the fast path or imap-codec).
    pub(in crate::connection) fn on_fetch(
        &mut self,
        seq: u32,
        items: Vec<FetchItem<'_>>,
        bytes: &[u8],
    ) {
        let explicit_uid = items.iter().find_map(|i| match i {
            FetchItem::Uid(u) => Some(*u),
            _ => None,
        });
        let uid = explicit_uid.or_else(|| self.mailbox.uid(seq));
        if let Some(u) = uid {
            self.mailbox.learn(seq, u);
        }
        let kinds: Vec<Item<'_>> = items.iter().filter_map(Item::of).collect();
        let has_flags = kinds.contains(&Item::Flags);
        let flags_of = |items: &[FetchItem<'_>]| -> Option<Vec<Flag>> {
            items.iter().find_map(|i| match i {
                FetchItem::Flags(f) => Some(f.clone()),
                _ => None,
            })
        };
        let modseq = items.iter().find_map(|i| match i {
            FetchItem::ModSeq(m) => Some(*m),
            _ => None,
        });
        let Some(uid) = uid else {
            // Unattributable. If a UID FETCH waits for items like these, its answer is lost.
            let lost = self.in_flight.iter().any(|f| {
                f.kind == Kind::Fetch && kinds.iter().any(|k| k.wanted_by(&f.route.items))
            });
            if lost {
                self.diagnostic("FETCH item without UID for an unknown message", bytes);
            } else {
                self.events
                    .push_back(Event::Unsolicited(Unsolicited::Fetch {
                        uid: None,
                        flags: flags_of(&items),
                        modseq,
                    }));
            }
            return;
        };
        // The UID FETCH / non-silent UID STORE that addressed this UID and asked for an item
        // it carries and has not had for this UID yet (the oldest such). If every claimant has
        // had them all, this is a later change (another client, or the server's own report).
        // RFC 3501 6.4.8: every FETCH a UID command causes carries UID, so a flags-only FETCH
        // without it is a change report even when its sequence number maps into the set.
        // Message data (body, size, date, structure) is never pushed unasked: it is an answer.
        let data_items = kinds.iter().any(|k| *k != Item::Flags);
        let claims = |f: &InFlight| {
            (explicit_uid.is_some() || data_items)
                && f.addresses(uid)
                && match f.kind {
                    Kind::Fetch => {
                        kinds.iter().any(|k| k.wanted_by(&f.route.items))
                            || (f.route.items.is_empty() && explicit_uid.is_some())
                    }
                    Kind::Store => !f.route.silent && has_flags,
                    _ => false,
                }
        };
        let fresh = |f: &InFlight| match &f.acc {
            Acc::Fetch { messages: map, .. } => map.get(&uid).is_none_or(|e| {
                kinds
                    .iter()
                    .any(|k| k.wanted_by(&f.route.items) && !k.present_in(e))
            }),
            Acc::Store(map) => !map.contains_key(&uid),
            _ => false,
        };
        let target = (0..self.in_flight.len())
            .find(|i| claims(&self.in_flight[*i]) && fresh(&self.in_flight[*i]));
        let Some(i) = target else {
            self.events
                .push_back(Event::Unsolicited(Unsolicited::Fetch {
                    uid: Some(uid),
                    flags: flags_of(&items),
                    modseq,
                }));
            return;
        };
        let max = self.config.limits.max_untagged_per_command;
        let f = &mut self.in_flight[i];
        f.untagged = f.untagged.saturating_add(1);
        if f.untagged > max {
            f.overflow = true;
            f.acc = Acc::None;
            return;
        }
        let wants_flags = f.kind == Kind::Store || f.route.items.contains(&FetchAttr::Flags);
        // Flags nobody asked for riding along (the server reporting a change): an event.
        let unasked_flags = if wants_flags { None } else { flags_of(&items) };
        match &mut f.acc {
            Acc::Fetch { messages: map, .. } => {
                let entry = map.entry(uid).or_insert_with(|| FetchedMessage::new(uid));
                for item in items {
                    match item {
                        FetchItem::Flags(_) if !wants_flags => {}
                        FetchItem::Flags(f) => entry.flags = Some(f),
                        FetchItem::Size(n) => entry.size = Some(n),
                        FetchItem::Date(d) => entry.internal_date = Some(d),
                        FetchItem::Structure(Some(b)) => entry.body_structure = Some(*b),
                        FetchItem::ModSeq(m) => entry.modseq = Some(m),
                        FetchItem::Section(section, data) => entry
                            .sections
                            .push((section, data.map(std::borrow::Cow::into_owned))),
                        FetchItem::Uid(_) | FetchItem::Structure(None) => {}
                    }
                }
            }
            Acc::Store(map) => {
                if let Some(fl) = flags_of(&items) {
                    map.insert(uid, fl);
                }
            }
            _ => {}
        }
        if unasked_flags.is_some() {
            self.events
                .push_back(Event::Unsolicited(Unsolicited::Fetch {
                    uid: Some(uid),
                    flags: unasked_flags,
                    modseq,
                }));
        }
    }
}

/// The kind of one FETCH data item, to match it against the items a UID FETCH asked for.
#[derive(Debug, PartialEq)]
enum Item<'s> {
    Flags,
    Size,
    Date,
    Structure,
    /// `BODY[]`
    Full,
    /// `BODY[HEADER]` of the message (not of a part)
    Header,
    /// `BODY[HEADER.FIELDS (..)]` of the message
    HeaderFields,
    /// `BODY[n.m]`
    Part(&'s [u32]),
    /// `BODY[n.m.MIME]`
    Mime(&'s [u32]),
    /// `BINARY[n.m]`
    Binary(&'s [u32]),
    /// Any other section: never asked for by this client.
    OtherSection,
}

impl<'s> Item<'s> {
    /// UID and MODSEQ accompany anything: not items of their own here.
    fn of(i: &'s FetchItem<'_>) -> Option<Self> {
        Some(match i {
            FetchItem::Flags(_) => Self::Flags,
            FetchItem::Size(_) => Self::Size,
            FetchItem::Date(_) => Self::Date,
            FetchItem::Structure(_) => Self::Structure,
            FetchItem::Section(section, _) => match section {
                Section::Full => Self::Full,
                Section::Header(p) if p.is_empty() => Self::Header,
                Section::HeaderFields(p, _) if p.is_empty() => Self::HeaderFields,
                Section::Part(p) => Self::Part(p),
                Section::Mime(p) => Self::Mime(p),
                Section::Binary(p) => Self::Binary(p),
                _ => Self::OtherSection,
            },
            FetchItem::Uid(_) | FetchItem::ModSeq(_) => return None,
        })
    }

    fn wanted_by(&self, attrs: &[FetchAttr]) -> bool {
        attrs.iter().any(|a| match (self, a) {
            (Self::Flags, FetchAttr::Flags)
            | (Self::Size, FetchAttr::Rfc822Size)
            | (Self::Date, FetchAttr::InternalDate)
            | (Self::Structure, FetchAttr::BodyStructure)
            | (Self::Full, FetchAttr::Full)
            | (Self::Header, FetchAttr::Header)
            | (Self::HeaderFields, FetchAttr::HeaderFields(_)) => true,
            (Self::Part(p), FetchAttr::Part(q))
            | (Self::Mime(p), FetchAttr::Mime(q))
            | (Self::Binary(p), FetchAttr::Binary(q)) => *p == q.as_slice(),
            _ => false,
        })
    }

    fn present_in(&self, m: &FetchedMessage) -> bool {
        match self {
            Self::Flags => m.flags.is_some(),
            Self::Size => m.size.is_some(),
            Self::Date => m.internal_date.is_some(),
            Self::Structure => m.body_structure.is_some(),
            Self::Full => m.sections.iter().any(|(x, _)| *x == Section::Full),
            Self::Header => m
                .sections
                .iter()
                .any(|(x, _)| matches!(x, Section::Header(p) if p.is_empty())),
            Self::HeaderFields => m
                .sections
                .iter()
                .any(|(x, _)| matches!(x, Section::HeaderFields(p, _) if p.is_empty())),
            Self::Part(q) => m
                .sections
                .iter()
                .any(|(x, _)| matches!(x, Section::Part(p) if p.as_slice() == *q)),
            Self::Mime(q) => m
                .sections
                .iter()
                .any(|(x, _)| matches!(x, Section::Mime(p) if p.as_slice() == *q)),
            Self::Binary(q) => m
                .sections
                .iter()
                .any(|(x, _)| matches!(x, Section::Binary(p) if p.as_slice() == *q)),
            Self::OtherSection => false,
        }
    }
}
