//! Conversions between imap-codec's types and this crate's owned domain types.

use crate::error::{Misuse, ResponseCode};
use crate::types::{
    Flag, InternalDate, MailboxName, MailboxStatus, NamespaceEntry, Section, StatusAttr,
};
use imap_codec::imap_types as t;
use imapvm_types::{SearchKey, Uid, UidSet, UidValidity};
use std::num::NonZeroU32;
use t::core::{AString, Atom, Vec1};
use t::extensions::namespace::Namespace;
use t::fetch::{MessageDataItemName, Part};
use t::flag::{FlagFetch, FlagPerm};
use t::response::Code;
use t::sequence::{SeqOrUid, Sequence, SequenceSet};
use t::status::{StatusDataItem, StatusDataItemName};

/// A mailbox name the server sent; `None` for one no command could carry (over the length
/// limit, or a NUL, CR or LF from a literal): the caller reports it as a diagnostic.
pub(crate) fn mailbox_from_wire(m: &t::mailbox::Mailbox<'_>) -> Option<MailboxName> {
    match m {
        t::mailbox::Mailbox::Inbox => Some(MailboxName::inbox()),
        t::mailbox::Mailbox::Other(o) => {
            MailboxName::from_wire(String::from_utf8_lossy(o.inner().as_ref())).ok()
        }
    }
}

pub(crate) fn mailbox_to_wire<'a>(
    m: &'a MailboxName,
    command: &'static str,
) -> Result<t::mailbox::Mailbox<'a>, Misuse> {
    t::mailbox::Mailbox::try_from(m.as_wire()).map_err(|e| Misuse::InvalidArgument {
        command,
        reason: format!("mailbox {:?}: {e}", m.as_wire()),
    })
}

pub(crate) fn astring<'a>(s: &'a str, command: &'static str) -> Result<AString<'a>, Misuse> {
    AString::try_from(s).map_err(|e| Misuse::InvalidArgument {
        command,
        reason: format!("{s:?}: {e}"),
    })
}

pub(crate) fn flag_to_wire<'a>(
    f: &'a Flag,
    command: &'static str,
) -> Result<t::flag::Flag<'a>, Misuse> {
    match f {
        Flag::Recent => Err(Misuse::InvalidArgument {
            command,
            reason: "\\Recent cannot be set by a client".into(),
        }),
        other => t::flag::Flag::try_from(other.as_wire()).map_err(|e| Misuse::InvalidArgument {
            command,
            reason: format!("flag {:?}: {e}", other.as_wire()),
        }),
    }
}

pub(crate) fn flag_from_fetch(f: &FlagFetch<'_>) -> Flag {
    match f {
        FlagFetch::Flag(f) => Flag::from_wire(&f.to_string()),
        FlagFetch::Recent => Flag::Recent,
    }
}

pub(crate) fn flag_from_perm(f: &FlagPerm<'_>) -> Flag {
    match f {
        FlagPerm::Flag(f) => Flag::from_wire(&f.to_string()),
        FlagPerm::Asterisk => Flag::Other("\\*".to_owned()),
    }
}

pub(crate) fn code_from_wire(c: &Code<'_>) -> ResponseCode {
    match c {
        Code::Alert => ResponseCode::Alert,
        Code::OverQuota => ResponseCode::OverQuota,
        Code::TryCreate => ResponseCode::TryCreate,
        Code::TooBig => ResponseCode::TooBig,
        Code::ReadOnly => ResponseCode::ReadOnly,
        Code::ReadWrite => ResponseCode::ReadWrite,
        Code::Other(o) => {
            let text = String::from_utf8_lossy(o.inner()).into_owned();
            let word = text
                .split(' ')
                .next()
                .unwrap_or_default()
                .to_ascii_uppercase();
            match word.as_str() {
                "AUTHENTICATIONFAILED" => ResponseCode::AuthenticationFailed,
                "AUTHORIZATIONFAILED" => ResponseCode::AuthorizationFailed,
                "UNAVAILABLE" => ResponseCode::Unavailable,
                "NONEXISTENT" => ResponseCode::NonExistent,
                "LIMIT" => ResponseCode::LimitCode,
                "OVERQUOTA" => ResponseCode::OverQuota,
                _ => ResponseCode::Other(text),
            }
        }
        other => ResponseCode::Other(code_name(other).to_owned()),
    }
}

fn code_name(c: &Code<'_>) -> &'static str {
    match c {
        Code::BadCharset { .. } => "BADCHARSET",
        Code::Capability(_) => "CAPABILITY",
        Code::Parse => "PARSE",
        Code::PermanentFlags(_) => "PERMANENTFLAGS",
        Code::UidNext(_) => "UIDNEXT",
        Code::UidValidity(_) => "UIDVALIDITY",
        Code::Unseen(_) => "UNSEEN",
        Code::CompressionActive => "COMPRESSIONACTIVE",
        Code::UnknownCte => "UNKNOWN-CTE",
        Code::AppendUid { .. } => "APPENDUID",
        Code::CopyUid { .. } => "COPYUID",
        Code::UidNotSticky => "UIDNOTSTICKY",
        Code::HighestModSeq(_) => "HIGHESTMODSEQ",
        Code::Modified(_) => "MODIFIED",
        Code::NoModSeq => "NOMODSEQ",
        Code::Closed => "CLOSED",
        _ => "OTHER",
    }
}

/// A UIDPLUS set (`APPENDUID`, `COPYUID`) as ranges in the order the server wrote them
/// (each range ascending); `None` when empty.
pub(crate) fn uid_ranges_from_codec(
    set: &t::extensions::uidplus::UidSet,
) -> Option<Vec<(Uid, Uid)>> {
    use t::extensions::uidplus::UidElement;
    let ranges: Vec<(Uid, Uid)> = set
        .0
        .as_ref()
        .iter()
        .map(|e| match e {
            UidElement::Single(a) => (Uid::from(*a), Uid::from(*a)),
            UidElement::Range(a, b) => {
                let (a, b) = (Uid::from(*a), Uid::from(*b));
                (a.min(b), a.max(b))
            }
        })
        .collect();
    (!ranges.is_empty()).then_some(ranges)
}

/// A server sequence-set of UIDs (VANISHED). `*` cannot be resolved and is skipped; `None`
/// when nothing is left.
pub(crate) fn uidset_from_sequence_set(set: &SequenceSet) -> Option<UidSet> {
    let mut out = UidSet::new();
    for s in set.0.as_ref() {
        match s {
            Sequence::Single(SeqOrUid::Value(a)) => {
                out.insert(Uid::from(*a));
            }
            Sequence::Range(SeqOrUid::Value(a), SeqOrUid::Value(b)) => {
                out.insert_range(Uid::from(*a), Uid::from(*b));
            }
            _ => {}
        }
    }
    (!out.is_empty()).then_some(out)
}

pub(crate) fn internal_date(dt: &t::datetime::DateTime) -> InternalDate {
    let inner = dt.as_ref();
    InternalDate {
        unix_seconds: inner.timestamp(),
        offset_seconds: inner.offset().local_minus_utc(),
    }
}

fn part_vec(p: &Option<Part>) -> Vec<u32> {
    p.as_ref()
        .map(|p| p.0.as_ref().iter().map(|n| n.get()).collect())
        .unwrap_or_default()
}

fn astrings(v: &Vec1<AString<'_>>) -> std::sync::Arc<[String]> {
    v.as_ref()
        .iter()
        .map(|a| String::from_utf8_lossy(a.as_ref()).into_owned())
        .collect()
}

pub(crate) fn section_from_wire(s: &Option<t::fetch::Section<'_>>) -> Section {
    use t::fetch::Section as S;
    match s {
        None => Section::Full,
        Some(S::Part(p)) => Section::Part(p.0.as_ref().iter().map(|n| n.get()).collect()),
        Some(S::Header(p)) => Section::Header(part_vec(p)),
        Some(S::HeaderFields(p, f)) => Section::HeaderFields(part_vec(p), astrings(f)),
        Some(S::HeaderFieldsNot(p, f)) => Section::HeaderFieldsNot(part_vec(p), astrings(f)),
        Some(S::Text(p)) => Section::Text(part_vec(p)),
        Some(S::Mime(p)) => Section::Mime(p.0.as_ref().iter().map(|n| n.get()).collect()),
    }
}

/// A `BINARY[...]` section path as this crate's [`Section::Binary`].
pub(crate) fn binary_section(path: &[NonZeroU32]) -> Section {
    Section::Binary(path.iter().map(|n| n.get()).collect())
}

pub(crate) fn status_items(mailbox: MailboxName, items: &[StatusDataItem]) -> MailboxStatus {
    let mut st = MailboxStatus {
        mailbox: Some(mailbox),
        ..MailboxStatus::default()
    };
    for item in items {
        match item {
            StatusDataItem::Messages(n) => st.messages = Some(*n),
            StatusDataItem::Recent(n) => st.recent = Some(*n),
            StatusDataItem::UidNext(n) => st.uid_next = Some(Uid::from(*n)),
            StatusDataItem::UidValidity(n) => st.uid_validity = Some(UidValidity::from(*n)),
            StatusDataItem::Unseen(n) => st.unseen = Some(*n),
            StatusDataItem::Deleted(n) => st.deleted = Some(*n),
            StatusDataItem::HighestModSeq(n) => st.highest_modseq = Some(*n),
            _ => {}
        }
    }
    st
}

pub(crate) fn status_attr(a: StatusAttr) -> StatusDataItemName {
    match a {
        StatusAttr::Messages => StatusDataItemName::Messages,
        StatusAttr::Recent => StatusDataItemName::Recent,
        StatusAttr::UidNext => StatusDataItemName::UidNext,
        StatusAttr::UidValidity => StatusDataItemName::UidValidity,
        StatusAttr::Unseen => StatusDataItemName::Unseen,
        StatusAttr::Deleted => StatusDataItemName::Deleted,
        StatusAttr::HighestModSeq => StatusDataItemName::HighestModSeq,
    }
}

pub(crate) fn namespaces(ns: &[Namespace<'_>]) -> Vec<NamespaceEntry> {
    ns.iter()
        .map(|n| NamespaceEntry {
            prefix: String::from_utf8_lossy(n.prefix.as_ref()).into_owned(),
            delimiter: n.delimiter.as_ref().map(|d| d.inner()),
        })
        .collect()
}

fn seq_set(set: &UidSet, command: &'static str) -> Result<SequenceSet, Misuse> {
    if set.is_empty() {
        return Err(Misuse::InvalidArgument {
            command,
            reason: "the UID set is empty".into(),
        });
    }
    SequenceSet::try_from(set.to_string().as_str()).map_err(|e| Misuse::InvalidArgument {
        command,
        reason: format!("uid set: {e}"),
    })
}

pub(crate) fn search_key<'a>(
    k: &'a SearchKey,
    command: &'static str,
) -> Result<t::search::SearchKey<'a>, Misuse> {
    use t::search::SearchKey as K;
    let atom = |s: &'a str| {
        Atom::try_from(s).map_err(|e| Misuse::InvalidArgument {
            command,
            reason: format!("keyword {s:?}: {e}"),
        })
    };
    Ok(match k {
        SearchKey::All => K::All,
        SearchKey::Seen => K::Seen,
        SearchKey::Unseen => K::Unseen,
        SearchKey::Flagged => K::Flagged,
        SearchKey::Unflagged => K::Unflagged,
        SearchKey::Deleted => K::Deleted,
        SearchKey::Undeleted => K::Undeleted,
        SearchKey::Answered => K::Answered,
        SearchKey::Unanswered => K::Unanswered,
        SearchKey::Keyword(s) => K::Keyword(atom(s)?),
        SearchKey::Unkeyword(s) => K::Unkeyword(atom(s)?),
        SearchKey::Header(n, v) => K::Header(astring(n, command)?, astring(v, command)?),
        SearchKey::Uid(set) => K::Uid(seq_set(set, command)?),
        SearchKey::Not(inner) => K::Not(Box::new(search_key(inner, command)?)),
        SearchKey::Or(a, b) => K::Or(
            Box::new(search_key(a, command)?),
            Box::new(search_key(b, command)?),
        ),
    })
}

pub(crate) fn fetch_attr<'a>(
    a: &'a crate::types::FetchAttr,
    command: &'static str,
) -> Result<MessageDataItemName<'a>, Misuse> {
    use crate::types::FetchAttr as F;
    let part = |p: &[u32]| -> Result<Part, Misuse> {
        let nz: Option<Vec<NonZeroU32>> = p.iter().map(|n| NonZeroU32::new(*n)).collect();
        let nz = nz.ok_or_else(|| Misuse::InvalidArgument {
            command,
            reason: "part numbers start at 1".into(),
        })?;
        Vec1::try_from(nz)
            .map(Part)
            .map_err(|_| Misuse::InvalidArgument {
                command,
                reason: "empty part path".into(),
            })
    };
    let body = |section| MessageDataItemName::BodyExt {
        section,
        partial: None,
        peek: true,
    };
    Ok(match a {
        F::Flags => MessageDataItemName::Flags,
        F::Rfc822Size => MessageDataItemName::Rfc822Size,
        F::InternalDate => MessageDataItemName::InternalDate,
        F::BodyStructure => MessageDataItemName::BodyStructure,
        F::Header => body(Some(t::fetch::Section::Header(None))),
        F::Full => body(None),
        F::Part(p) => body(Some(t::fetch::Section::Part(part(p)?))),
        F::Mime(p) => body(Some(t::fetch::Section::Mime(part(p)?))),
        F::Binary(p) => MessageDataItemName::Binary {
            section: part(p)?.0.into_inner(),
            partial: None,
            peek: true,
        },
        F::HeaderFields(names) => {
            let names: Result<Vec<AString<'a>>, Misuse> =
                names.iter().map(|n| astring(n, command)).collect();
            let names = Vec1::try_from(names?).map_err(|_| Misuse::InvalidArgument {
                command,
                reason: "HEADER.FIELDS needs at least one name".into(),
            })?;
            body(Some(t::fetch::Section::HeaderFields(None, names)))
        }
    })
}

pub(crate) fn uid_sequence(
    r: &crate::types::UidRange,
    command: &'static str,
) -> Result<SequenceSet, Misuse> {
    match r {
        crate::types::UidRange::Set(set) => seq_set(set, command),
        crate::types::UidRange::All => {
            SequenceSet::try_from("1:*").map_err(|e| Misuse::InvalidArgument {
                command,
                reason: format!("uid set: {e}"),
            })
        }
    }
}
