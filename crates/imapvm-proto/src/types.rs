//! Domain types the core hands to its caller: mailbox names, flags, fetch items and results.
//! UIDs, UID sets, search keys and secrets are `imapvm-types`' (re-exported by the crate).

use std::sync::Arc;

use std::fmt;

pub(crate) use imapvm_types::{MailboxName, Uid, UidSet, UidValidity};

/// A message flag.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Flag {
    /// `\Seen`
    Seen,
    /// `\Answered`
    Answered,
    /// `\Flagged` (Asterisk's "urgent")
    Flagged,
    /// `\Deleted`
    Deleted,
    /// `\Draft`
    Draft,
    /// `\Recent` (only ever reported by the server)
    Recent,
    /// Any other flag or keyword, as the server spelled it (e.g. `$Forwarded`, `\Custom`).
    Other(String),
}

impl Flag {
    /// Parse a flag as it appears on the wire.
    pub fn from_wire(text: &str) -> Self {
        match text.to_ascii_lowercase().as_str() {
            "\\seen" => Self::Seen,
            "\\answered" => Self::Answered,
            "\\flagged" => Self::Flagged,
            "\\deleted" => Self::Deleted,
            "\\draft" => Self::Draft,
            "\\recent" => Self::Recent,
            _ => Self::Other(text.to_owned()),
        }
    }

    /// The wire spelling.
    pub fn as_wire(&self) -> &str {
        match self {
            Self::Seen => "\\Seen",
            Self::Answered => "\\Answered",
            Self::Flagged => "\\Flagged",
            Self::Deleted => "\\Deleted",
            Self::Draft => "\\Draft",
            Self::Recent => "\\Recent",
            Self::Other(s) => s,
        }
    }
}

impl AsRef<str> for Flag {
    /// The wire spelling, as [`Flag::as_wire`].
    fn as_ref(&self) -> &str {
        self.as_wire()
    }
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_wire())
    }
}

/// Which messages a UID command addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UidRange {
    /// Exactly these UIDs.
    Set(UidSet),
    /// `1:*`: every message in the mailbox.
    All,
}

impl From<UidSet> for UidRange {
    fn from(value: UidSet) -> Self {
        Self::Set(value)
    }
}

impl From<Uid> for UidRange {
    fn from(value: Uid) -> Self {
        Self::Set(UidSet::single(value))
    }
}

/// A data item to `UID FETCH`. `UID` is always requested.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FetchAttr {
    /// `FLAGS`
    Flags,
    /// `RFC822.SIZE`
    Rfc822Size,
    /// `INTERNALDATE`
    InternalDate,
    /// `BODYSTRUCTURE`
    BodyStructure,
    /// `BODY.PEEK[HEADER]`
    Header,
    /// `BODY.PEEK[HEADER.FIELDS (names)]`
    HeaderFields(Vec<String>),
    /// `BODY.PEEK[part]`, e.g. `[2]` for the audio attachment, `[1.2]` nested.
    Part(Vec<u32>),
    /// `BODY.PEEK[]`: the whole message.
    Full,
    /// `BODY.PEEK[part.MIME]`: the MIME header of a body part.
    Mime(Vec<u32>),
    /// `BINARY.PEEK[part]` (RFC 3516): the part's content with its Content-Transfer-Encoding
    /// undone by the server. Only for a server that advertises `BINARY`; one that cannot
    /// decode the part answers NO `[UNKNOWN-CTE]`.
    Binary(Vec<u32>),
}

/// A body section as reported in a FETCH response.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Section {
    /// `BODY[]`
    Full,
    /// `BODY[HEADER]` (optionally of a part)
    Header(Vec<u32>),
    /// `BODY[HEADER.FIELDS (..)]`; names as the server echoed them (shared by the messages
    /// of one answer that echo the same names).
    HeaderFields(Vec<u32>, Arc<[String]>),
    /// `BODY[HEADER.FIELDS.NOT (..)]`
    HeaderFieldsNot(Vec<u32>, Arc<[String]>),
    /// `BODY[TEXT]`
    Text(Vec<u32>),
    /// `BODY[n.m]`
    Part(Vec<u32>),
    /// `BODY[n.MIME]`
    Mime(Vec<u32>),
    /// `BINARY[n.m]` (RFC 3516): the decoded content of a part.
    Binary(Vec<u32>),
}

/// A message's INTERNALDATE: seconds since the Unix epoch and the server's UTC offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InternalDate {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub unix_seconds: i64,
    /// The zone the server gave, in seconds east of UTC.
    pub offset_seconds: i32,
}

/// The BODYSTRUCTURE as imap-codec models it (owned).
pub type BodyStructure = imap_codec::imap_types::body::BodyStructure<'static>;

/// Everything one `UID FETCH` returned for one UID (several FETCH responses are merged).
#[derive(Clone, Debug, PartialEq)]
pub struct FetchedMessage {
    /// The UID (always known: the core maps sequence numbers and drops items it cannot map).
    pub uid: Uid,
    /// `FLAGS`
    pub flags: Option<Vec<Flag>>,
    /// `RFC822.SIZE`
    pub size: Option<u32>,
    /// `INTERNALDATE`
    pub internal_date: Option<InternalDate>,
    /// `BODYSTRUCTURE`
    pub body_structure: Option<BodyStructure>,
    /// `MODSEQ` (CONDSTORE)
    pub modseq: Option<u64>,
    /// Body sections with their raw bytes (`None` = NIL).
    pub sections: Vec<(Section, Option<Vec<u8>>)>,
}

impl FetchedMessage {
    /// An entry with only the UID set.
    pub fn new(uid: Uid) -> Self {
        Self {
            uid,
            flags: None,
            size: None,
            internal_date: None,
            body_structure: None,
            modseq: None,
            sections: Vec::new(),
        }
    }

    /// The bytes of the first section `wanted` accepts (`None` also for NIL).
    fn section_where(&self, wanted: impl Fn(&Section) -> bool) -> Option<&[u8]> {
        self.sections
            .iter()
            .find_map(|(s, d)| if wanted(s) { d.as_deref() } else { None })
    }

    /// The raw bytes of the `HEADER.FIELDS` section (the first one, if several were asked).
    pub fn header_fields(&self) -> Option<&[u8]> {
        self.section_where(|s| matches!(s, Section::HeaderFields(p, _) if p.is_empty()))
    }

    /// The raw bytes of body part `part` (e.g. `&[2]`).
    pub fn part(&self, part: &[u32]) -> Option<&[u8]> {
        self.section_where(|s| matches!(s, Section::Part(p) if p == part))
    }

    /// The decoded bytes of body part `part` (`BINARY[part]`).
    pub fn binary(&self, part: &[u32]) -> Option<&[u8]> {
        self.section_where(|s| matches!(s, Section::Binary(p) if p == part))
    }

    /// The raw bytes of the message's header (`BODY[HEADER]`).
    pub fn header(&self) -> Option<&[u8]> {
        self.section_where(|s| matches!(s, Section::Header(p) if p.is_empty()))
    }

    /// The raw bytes of the `MIME` header of body part `part` (`BODY[part.MIME]`).
    pub fn mime(&self, part: &[u32]) -> Option<&[u8]> {
        self.section_where(|s| matches!(s, Section::Mime(p) if p == part))
    }

    /// The raw bytes of the whole message (`BODY[]`).
    pub fn full(&self) -> Option<&[u8]> {
        self.section_where(|s| *s == Section::Full)
    }
}

/// How `UID STORE` changes flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreMode {
    /// `+FLAGS`
    Add,
    /// `-FLAGS`
    Remove,
    /// `FLAGS`
    Replace,
}

/// One entry of a LIST response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListEntry {
    /// The mailbox name.
    pub mailbox: MailboxName,
    /// The hierarchy delimiter (`None` = flat namespace).
    pub delimiter: Option<char>,
    /// Attributes as the server spelled them, e.g. `\HasNoChildren`, `\Noselect`.
    pub attributes: Vec<String>,
}

/// One namespace of a NAMESPACE response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamespaceEntry {
    /// The prefix, e.g. `""`, `"INBOX."`, `"user/"`.
    pub prefix: String,
    /// The hierarchy delimiter.
    pub delimiter: Option<char>,
}

/// A NAMESPACE response.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Namespaces {
    /// Personal namespaces.
    pub personal: Vec<NamespaceEntry>,
    /// Other users' namespaces.
    pub other: Vec<NamespaceEntry>,
    /// Shared namespaces.
    pub shared: Vec<NamespaceEntry>,
}

/// STATUS items (requested or reported).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct MailboxStatus {
    /// The mailbox.
    pub mailbox: Option<MailboxName>,
    /// `MESSAGES`
    pub messages: Option<u32>,
    /// `RECENT`
    pub recent: Option<u32>,
    /// `UIDNEXT`
    pub uid_next: Option<Uid>,
    /// `UIDVALIDITY`
    pub uid_validity: Option<UidValidity>,
    /// `UNSEEN`
    pub unseen: Option<u32>,
    /// `DELETED`
    pub deleted: Option<u32>,
    /// `HIGHESTMODSEQ`
    pub highest_modseq: Option<u64>,
}

/// STATUS data items to ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusAttr {
    /// `MESSAGES`
    Messages,
    /// `RECENT`
    Recent,
    /// `UIDNEXT`
    UidNext,
    /// `UIDVALIDITY`
    UidValidity,
    /// `UNSEEN`
    Unseen,
    /// `DELETED`
    Deleted,
    /// `HIGHESTMODSEQ` (CONDSTORE)
    HighestModSeq,
}

/// What SELECT/EXAMINE reported.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SelectedMailbox {
    /// The mailbox.
    pub mailbox: Option<MailboxName>,
    /// `* n EXISTS`
    pub exists: u32,
    /// `* n RECENT`
    pub recent: u32,
    /// `[UIDVALIDITY n]`
    pub uid_validity: Option<UidValidity>,
    /// `[UIDNEXT n]`
    pub uid_next: Option<Uid>,
    /// `* FLAGS (...)`
    pub flags: Vec<Flag>,
    /// `[PERMANENTFLAGS (...)]` (`\*` as `Flag::Other("\\*")`)
    pub permanent_flags: Vec<Flag>,
    /// `[HIGHESTMODSEQ n]`
    pub highest_modseq: Option<u64>,
    /// `[READ-ONLY]` in the tagged OK (or EXAMINE).
    pub read_only: bool,
}

/// One resource of a quota root, e.g. `STORAGE 16 24` (KiB) or `MESSAGE 1 20`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuotaResource {
    /// The resource name as the server spelled it, upper-cased (`STORAGE`, `MESSAGE`, ...).
    pub name: String,
    /// Current usage.
    pub usage: u64,
    /// Limit.
    pub limit: u64,
}

/// One quota root and *all* its resources.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quota {
    /// The root name, e.g. `"User quota"`, `INBOX`, `ROOT`.
    pub root: String,
    /// Every resource the server listed.
    pub resources: Vec<QuotaResource>,
}

/// A GETQUOTAROOT answer.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct QuotaRoots {
    /// The roots the mailbox belongs to (possibly none: "No quota").
    pub roots: Vec<String>,
    /// The QUOTA responses that came with it.
    pub quotas: Vec<Quota>,
}

/// `[APPENDUID validity uid]`
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppendUid {
    /// UIDVALIDITY of the destination.
    pub uid_validity: UidValidity,
    /// The new message's UID.
    pub uid: Uid,
}

/// `[COPYUID validity source destination]`: which destination UID each copied message got.
///
/// The server pairs the two sets element by element in the order it wrote them (RFC 4315
/// §3), which need not be ascending; that order is kept here, as ranges (a
/// `1:4294967295` costs one entry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyUid {
    /// UIDVALIDITY of the destination.
    pub uid_validity: UidValidity,
    source: Vec<(Uid, Uid)>,
    destination: Vec<(Uid, Uid)>,
}

impl CopyUid {
    /// The code's sets as the server wrote them (inclusive ranges, each ascending).
    pub(crate) fn new(
        uid_validity: UidValidity,
        source: Vec<(Uid, Uid)>,
        destination: Vec<(Uid, Uid)>,
    ) -> Self {
        Self {
            uid_validity,
            source,
            destination,
        }
    }

    fn walk(ranges: &[(Uid, Uid)]) -> impl Iterator<Item = Uid> + '_ {
        ranges
            .iter()
            .flat_map(|(a, b)| (a.get()..=b.get()).filter_map(Uid::new))
    }

    /// The source UIDs.
    pub fn source(&self) -> UidSet {
        Self::walk_ranges(&self.source)
    }

    /// The destination UIDs.
    pub fn destination(&self) -> UidSet {
        Self::walk_ranges(&self.destination)
    }

    fn walk_ranges(ranges: &[(Uid, Uid)]) -> UidSet {
        let mut set = UidSet::new();
        for &(a, b) in ranges {
            set.insert_range(a, b);
        }
        set
    }

    /// (source, destination) pairs, in the server's order; lazy.
    pub fn pairs(&self) -> impl Iterator<Item = (Uid, Uid)> + '_ {
        Self::walk(&self.source).zip(Self::walk(&self.destination))
    }
}

/// Bytes from the server, kept for diagnostics. `Debug` shows them escaped.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct RawBytes(pub Vec<u8>);

impl fmt::Debug for RawBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b\"{}\"", self.0.escape_ascii())
    }
}

impl fmt::Display for RawBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOW: usize = 200;
        let n = self.0.len().min(SHOW);
        write!(f, "{}", self.0[..n].escape_ascii())?;
        if self.0.len() > SHOW {
            write!(f, "... ({} bytes)", self.0.len())?;
        }
        Ok(())
    }
}
