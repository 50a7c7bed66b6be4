//! Every decision the runtime must make, as pure functions: folder names, mailbox filters, counting, message numbers, expunge plans, admission, MWI change detection, watch strategy, watcher shards, login safety.
//!
//! The rules follow Asterisk's `app_voicemail` IMAP storage (the reference
//! `docs/reference/asterisk-imap-behaviour.md`, cited per item) where Asterisk
//! is right, and fix it where it is not: exact header filters instead of
//! substring matches, UIDs instead of sequence numbers, expunges that never
//! touch mail we did not flag, every quota resource checked, no MWI
//! re-publishing of an unchanged state.
//!
//! What this crate does **not** do: any I/O (sockets, files, clocks,
//! processes), IMAP grammar (it hands out plain data such as [`SearchKey`]s
//! and plan [`Step`]s for `imapvm-proto` to encode), message parsing, or
//! configuration parsing. It depends on nothing but `std`, `thiserror` and the
//! vocabulary crate `imapvm-types`, whose [`Uid`], [`UidSet`], [`MailboxId`],
//! [`Capabilities`] and [`SearchKey`] it shares with `imapvm-proto` (re-exported here),
//! so the runtime hands values from one to the other as they are.
//!
//! | module | decides |
//! |---|---|
//! | [`folder`] | Asterisk folder index ⇄ IMAP mailbox name; which mailboxes must exist |
//! | [`mutf7`] | modified UTF-7 mailbox names (RFC 3501 §5.1.3) |
//! | [`identity`] | `box@context`, SEARCH keys, the exact header post-filter |
//! | [`count`] | new/urgent/old, listings, RFC 3842 message summaries |
//! | [`numbers`] | Asterisk message numbers ⇄ (UIDVALIDITY, UID) |
//! | [`expunge`] | delete / move / save plans by capability and sharing mode |
//! | [`admission`] | deposit verdicts from quota, `maxmsg` and durations; whether a server's refusal means "mailbox full" |
//! | [`mwi`] | publish or not; externnotify arguments |
//! | [`watch`] | NOTIFY, IDLE or polling |
//! | [`shard`] | which of N watcher processes follows a box (FNV-1a of `box@context`) |
//! | [`login`] | whether a password may be sent; server quirks told by the greeting |
//! | [`voicemail_uids`] | which UIDs of a folder are a box's voicemail, so searches skip the rest |
//! | [`uid_file`] | the file form of that knowledge, so that the next process starts from it |
//! | [`known_flags`] | the flags of a box's known voicemail at a mod-sequence, so warm counts and listings ask only what changed |
//! | [`listed_rows`] | what a listing shows of each message besides its flags, remembered per UID (bounded) |
//!
//! # Example
//!
//! Count a box in a folder shared by boxes `12` and `123`, then plan the
//! deletion of box 12's old message on a server without UIDPLUS:
//!
//! ```
//! use imapvm_policy::{
//!     plan_delete, Capabilities, ExpungeContext, FolderLayout, Folder, ForeignDeleted,
//!     Hierarchy, MailboxId, MessageFacts, MessageFlags, MessageSummary, MwiCounts, Sharing,
//!     Step, Uid, UidSet, UidValidity, VoicemailIdentity,
//! };
//!
//! let id = MailboxId::parse("12@default")?;
//! let me = VoicemailIdentity::new(&id, None)?;
//! let uid = |n| Uid::new(n).expect("non-zero");
//! let seen = MessageFlags { seen: true, ..MessageFlags::default() };
//! let messages = [
//!     MessageFacts { uid: uid(1), flags: MessageFlags::default(), extension: Some("12"), context: Some("default") },
//!     MessageFacts { uid: uid(2), flags: seen, extension: Some("12"), context: Some("default") },
//!     // A server-side `HEADER X-Asterisk-VM-Extension 12` search also finds these:
//!     MessageFacts { uid: uid(3), flags: MessageFlags::default(), extension: Some("123"), context: Some("default") },
//!     MessageFacts { uid: uid(4), flags: MessageFlags::default(), extension: Some("12"), context: Some("default2") },
//! ];
//! let counts = MwiCounts::tally(&me, &messages);
//! assert_eq!((counts.new, counts.urgent, counts.old), (1, 0, 1));
//! let summary = MessageSummary::new(counts, Some("sip:12@pbx.example"))?;
//! assert_eq!(
//!     summary.to_string(),
//!     "Messages-Waiting: yes\r\nMessage-Account: sip:12@pbx.example\r\nVoice-Message: 1/1 (0/0)\r\n"
//! );
//!
//! // Courier: `INBOX.` namespace, `.` delimiter, UIDPLUS but no MOVE.
//! let layout = FolderLayout::new("INBOX", None, None, "INBOX", Hierarchy::new("INBOX.", Some('.'))?)?;
//! assert_eq!(layout.mailbox_name(Folder::Work).as_wire(), "INBOX.Work");
//!
//! let ctx = ExpungeContext {
//!     mailbox: layout.mailbox_name(Folder::Inbox),
//!     uidvalidity: UidValidity::new(1_700_000_000).expect("non-zero"),
//!     capabilities: Capabilities::new(),
//!     sharing: Sharing::SharedWithMail,
//!     expunge_on_hangup: true,
//! };
//! let ours: UidSet = [uid(2)].into_iter().collect();
//! let plan = plan_delete(&ctx, &ours, &ForeignDeleted::Unknown)?;
//! // No UIDPLUS in a folder shared with mail: flag it, never a plain EXPUNGE.
//! assert!(matches!(plan.steps.last(), Some(Step::Defer { .. })));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

pub mod admission;
pub mod backoff;
pub mod count;
pub mod expunge;
pub mod flags;
pub mod flight;
pub mod folder;
pub mod identity;
pub mod known_flags;
pub mod listed_rows;
pub mod login;
pub mod mutf7;
pub mod mwi;
pub mod numbers;
pub mod shard;
pub mod uid_file;
pub mod voicemail_uids;
pub mod watch;

pub use admission::{
    AdmissionVerdict, Deposit, DepositKind, Limits, QuotaLedger, QuotaResource, QuotaResourceName,
    Refusal, admit, admit_caller, recount_before_admission, server_says_over_quota,
};
pub use backoff::{Backoff, BackoffError};
pub use count::{
    MessageFacts, MessageState, MessageSummary, MwiCounts, MwiState, SummaryError, count_hits,
    count_search, count_unseen, listing_search,
};
pub use expunge::{
    DeferReason, ExpungeContext, ExpungePlan, FlagChange, ForeignDeleted, PlanError, Sharing, Step,
    Verified, plan_delete, plan_move, plan_save, verify_deleted,
};
pub use flags::MessageFlags;
pub use flight::{
    CountAnswers, CountCommands, CountFlight, CountPlan, CountSearches, FlightOutcome,
    ListCommands, ListSearches, MAX_FLIGHT_ATTEMPTS, NEW_UID_WINDOW, SavedSearch, fill_flags,
    flags_range, groups, list_prefetch, listing_keys, listing_shows, merge_hits, new_uid_window,
    saved_split, tally_uids, to_learn,
};
pub use folder::{Folder, FolderError, FolderLayout, FolderStorage, Hierarchy, MailboxName};
pub use identity::{IdentityError, VoicemailIdentity};
/// The vocabulary this crate's API names, from `imapvm-types` (so callers need not depend on
/// it themselves).
pub use imapvm_types::{
    Capabilities, Capability, MailboxId, MailboxIdError, MailboxNameError, MessageNumber,
    ResponseCode, SearchKey, Uid, UidSet, UidValidity,
};
pub use known_flags::{
    Fetched, KnownFetch, KnownFlags, MAX_REMEMBERED_FLAGS, SelectedView, ViewMark,
};
pub use listed_rows::{ListedRows, MAX_LISTED_ROW_BYTES, MAX_LISTED_ROWS};
pub use login::{PasswordPath, may_send_password};
pub use mutf7::Utf7Error;
pub use mwi::{MwiDecision, MwiTracker, Recount};
pub use numbers::{MessageNumbers, NumbersError, Resolution};
pub use shard::{Shard, ShardError};
pub use uid_file::{FolderBox, UidFileError};
pub use voicemail_uids::{CacheBounds, Remembered, Scan, VoicemailUids, fetchable, restrict};
pub use watch::{FolderMark, ResyncPlan, WatchConfig, WatchStrategy};

/// Any error of this crate, for callers that want one type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// A folder name or index problem.
    #[error(transparent)]
    Folder(#[from] FolderError),
    /// A mailbox identity problem.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// A name that is not `box@context`.
    #[error(transparent)]
    MailboxId(#[from] MailboxIdError),
    /// A message summary problem.
    #[error(transparent)]
    Summary(#[from] SummaryError),
    /// A listing problem.
    #[error(transparent)]
    Numbers(#[from] NumbersError),
    /// A plan that cannot be made.
    #[error(transparent)]
    Plan(#[from] PlanError),
}
