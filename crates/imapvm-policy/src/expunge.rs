//! Delete, expunge and save-to-folder plans that never expunge a message we did not flag.
//!
//! This module keeps [INV-3] (never expunge foreign mail): every plan spares
//! the `\Deleted` mail of others, or defers.
//!
//! Reference: `docs/reference/asterisk-imap-behaviour.md` §4.6 (Asterisk's
//! plain `EXPUNGE` removes every `\Deleted` message of the folder, even with
//! UIDPLUS), §4.7 (save-to-folder copies and leaves the original behind),
//! §3.3 (shared accounts).
//!
//! A plan is a list of [`Step`]s the runtime executes in order. Each step
//! documents the runtime's obligation. Obligations common to every plan:
//!
//! 1. Run the steps on a connection that has [`ExpungePlan::mailbox`]
//!    selected read-write (`SELECT`, not `EXAMINE`), and first check that
//!    the selected UIDVALIDITY equals [`ExpungePlan::uidvalidity`]; if it
//!    does not, run nothing (the UIDs would name other messages).
//! 2. Stop at the first step that fails (tagged `NO`/`BAD`, connection
//!    lost); report the remaining steps as not done. Never skip a step.
//! 3. Never add commands that expunge (`EXPUNGE`, `CLOSE`, `UID EXPUNGE`
//!    with other UIDs) outside what a step allows.

use thiserror::Error;

use crate::folder::{Folder, FolderLayout, FolderStorage, MailboxName};
use imapvm_types::{Capabilities, Capability};
use imapvm_types::{UidSet, UidValidity};

/// Whether the voicemail folder is shared with ordinary mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sharing {
    /// The folder holds voicemail only; other writers are voicemail agents
    /// (Asterisk, other imapvm instances) that expunge right after flagging.
    Dedicated,
    /// The folder also holds the user's mail (e.g. `imapfolder=INBOX` of a
    /// personal account); a mail client may leave `\Deleted` mail there.
    SharedWithMail,
}

impl Sharing {
    /// How the runtime treats `mailbox`: `INBOX` may hold the user's own mail (then a plain
    /// `EXPUNGE` is never used); any other voicemail folder is taken as dedicated.
    pub fn of(mailbox: &MailboxName) -> Sharing {
        if mailbox.is_inbox() {
            Sharing::SharedWithMail
        } else {
            Sharing::Dedicated
        }
    }
}

/// What is known of `\Deleted` messages in the folder that we did not flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForeignDeleted {
    /// Not looked at.
    Unknown,
    /// These UIDs (from a `UID SEARCH DELETED` minus our own).
    Known(UidSet),
}

/// Where a plan runs and what the server offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpungeContext {
    /// The mailbox holding the messages (selected by the runtime).
    pub mailbox: MailboxName,
    /// Its UIDVALIDITY when the UIDs were learned.
    pub uidvalidity: UidValidity,
    /// The server's capabilities (UIDPLUS and MOVE matter here).
    pub capabilities: Capabilities,
    /// Dedicated voicemail folder or shared with mail.
    pub sharing: Sharing,
    /// `expungeonhangup` (default yes). When no, deleted messages keep
    /// `\Deleted` (already invisible to counts) and are not expunged; an
    /// explicit operator expunge (`imapvm expunge`) passes `true`.
    pub expunge_on_hangup: bool,
}

/// Flags a [`Step::StoreFlags`] adds or removes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct FlagChange {
    /// `\Seen`
    pub seen: bool,
    /// `\Flagged`
    pub flagged: bool,
    /// `\Deleted`
    pub deleted: bool,
}

impl FlagChange {
    /// Only `\Deleted`.
    pub const DELETED: FlagChange = FlagChange {
        seen: false,
        flagged: false,
        deleted: true,
    };

    /// Whether no flag is named.
    pub const fn is_empty(self) -> bool {
        !self.seen && !self.flagged && !self.deleted
    }

    /// The IMAP flag list, e.g. `(\Seen \Deleted)`.
    pub fn to_imap_list(self) -> String {
        let mut names: Vec<&str> = Vec::new();
        if self.seen {
            names.push("\\Seen");
        }
        if self.flagged {
            names.push("\\Flagged");
        }
        if self.deleted {
            names.push("\\Deleted");
        }
        format!("({})", names.join(" "))
    }
}

/// Why a plan stops short of expunging.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DeferReason {
    /// `expungeonhangup=no`: messages stay flagged `\Deleted`.
    #[error("expungeonhangup=no: messages stay flagged \\Deleted until an explicit expunge")]
    ExpungeOnHangupOff,
    /// No UIDPLUS and the folder is shared with mail: a plain `EXPUNGE`
    /// could remove the user's own `\Deleted` mail.
    #[error(
        "server lacks UIDPLUS and the folder is shared with ordinary mail: plain EXPUNGE could remove the user's own deleted mail"
    )]
    NoUidPlusInSharedFolder,
    /// Other `\Deleted` messages are in the folder right now.
    #[error("{count} message(s) flagged \\Deleted by someone else are in the folder")]
    ForeignDeleted {
        /// How many.
        count: u64,
    },
}

/// One step of a plan, with the runtime's obligation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Step {
    /// Make sure `mailbox` exists: `LIST`/`STATUS` it and `CREATE` it when
    /// missing (a `NO [ALREADYEXISTS]` counts as success). Asterisk's §3.5
    /// behaviour, with the same name that the next step uses (§4.7 bug fixed).
    EnsureMailbox {
        /// The mailbox.
        mailbox: MailboxName,
    },
    /// `UID STORE <uids> +FLAGS.SILENT <add>` then, if `remove` is not
    /// empty, `UID STORE <uids> -FLAGS.SILENT <remove>`. Only our UIDs.
    StoreFlags {
        /// Messages to change (all ours).
        uids: UidSet,
        /// Flags to add (may be empty: then no `+FLAGS` command).
        add: FlagChange,
        /// Flags to remove (may be empty: then no `-FLAGS` command).
        remove: FlagChange,
    },
    /// `UID COPY <uids> <to>`. Must complete with a tagged `OK` before the
    /// next step: if it fails, the originals must not be flagged.
    UidCopy {
        /// Messages to copy (all ours).
        uids: UidSet,
        /// Destination.
        to: MailboxName,
    },
    /// `UID MOVE <uids> <to>` (RFC 6851): copies and expunges exactly these
    /// messages, atomically. Only planned when the server offers MOVE.
    UidMove {
        /// Messages to move (all ours).
        uids: UidSet,
        /// Destination.
        to: MailboxName,
    },
    /// `UID EXPUNGE <uids>` (RFC 4315): expunges only these messages. Only
    /// planned when the server offers UIDPLUS.
    UidExpunge {
        /// Messages to expunge (all ours, flagged `\Deleted` by an earlier step).
        uids: UidSet,
    },
    /// The only step that may send a plain `EXPUNGE`. Send `UID SEARCH
    /// DELETED`, wait for its result `R`, and call [`verify_deleted`]`(expected, R)`.
    /// On [`Verified::Expunge`] send `EXPUNGE` as the very next command on
    /// that connection (nothing pipelined before the SEARCH result, nothing
    /// in between). On [`Verified::Defer`] send nothing and report the
    /// `expected` UIDs as deferred.
    ///
    /// Residual window: a `\Deleted` flag that another client sets after the
    /// server answered the SEARCH and before it runs the `EXPUNGE` (one
    /// round trip) would be expunged too. IMAP without UIDPLUS offers no
    /// way to close it, which is why this step is only planned for
    /// [`Sharing::Dedicated`] folders.
    VerifyDeletedThenExpunge {
        /// Our UIDs, flagged `\Deleted` by an earlier step.
        expected: UidSet,
    },
    /// Stop here: send nothing more. `uids` keep their `\Deleted` flag
    /// (invisible to counts and listings); report them and the reason. A
    /// later plan, e.g. an explicit expunge, may finish them.
    Defer {
        /// Our UIDs left flagged.
        uids: UidSet,
        /// Why.
        reason: DeferReason,
    },
}

/// What [`Step::VerifyDeletedThenExpunge`] decides from `UID SEARCH DELETED`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// Every `\Deleted` message is ours: send `EXPUNGE` now.
    Expunge,
    /// Some `\Deleted` messages are not ours: do not expunge.
    Defer {
        /// The foreign `\Deleted` UIDs seen.
        foreign: UidSet,
    },
}

/// The check of [`Step::VerifyDeletedThenExpunge`]: expunge only if every
/// UID in `search_deleted` (the result of `UID SEARCH DELETED`) is in `expected`.
pub fn verify_deleted(expected: &UidSet, search_deleted: &UidSet) -> Verified {
    let foreign = search_deleted.difference(expected);
    if foreign.is_empty() {
        Verified::Expunge
    } else {
        Verified::Defer { foreign }
    }
}

/// A plan for one mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpungePlan {
    /// The mailbox the steps run in (selected read-write).
    pub mailbox: MailboxName,
    /// The UIDVALIDITY the UIDs belong to; check before the first step.
    pub uidvalidity: UidValidity,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

impl ExpungePlan {
    fn empty(ctx: &ExpungeContext) -> ExpungePlan {
        ExpungePlan {
            mailbox: ctx.mailbox.clone(),
            uidvalidity: ctx.uidvalidity,
            steps: Vec::new(),
        }
    }

    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The deferral at the end of the plan, if it stops short.
    pub fn deferred(&self) -> Option<&DeferReason> {
        self.steps.iter().find_map(|s| match s {
            Step::Defer { reason, .. } => Some(reason),
            _ => None,
        })
    }
}

/// A plan that cannot be made from the inputs.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PlanError {
    /// Some UIDs are both ours and known as someone else's `\Deleted` mail.
    #[error("UIDs {uids} in {mailbox} are claimed as ours and as foreign \\Deleted mail")]
    OwnershipConflict {
        /// The mailbox.
        mailbox: MailboxName,
        /// The UIDs in both sets.
        uids: UidSet,
    },
    /// Source and destination are the same mailbox.
    #[error("cannot move messages from {mailbox} into itself")]
    SameMailbox {
        /// The mailbox.
        mailbox: MailboxName,
    },
    /// The source folder does not live in the plan's mailbox.
    #[error("folder {folder} lives in {expected}, but the plan runs in {mailbox}")]
    WrongMailbox {
        /// The folder named as source.
        folder: Folder,
        /// Where that folder lives.
        expected: MailboxName,
        /// The plan's mailbox.
        mailbox: MailboxName,
    },
    /// Greetings are not saved between folders.
    #[error("greetings cannot be saved to or from a voicemail folder")]
    Greetings,
}

fn check_ownership(
    ctx: &ExpungeContext,
    ours: &UidSet,
    foreign: &ForeignDeleted,
) -> Result<(), PlanError> {
    if let ForeignDeleted::Known(f) = foreign {
        let both = ours.intersection(f);
        if !both.is_empty() {
            return Err(PlanError::OwnershipConflict {
                mailbox: ctx.mailbox.clone(),
                uids: both,
            });
        }
    }
    Ok(())
}

/// Flags `ours` `\Deleted` and plans how (and whether) to expunge them.
fn flag_and_expunge(
    ctx: &ExpungeContext,
    ours: &UidSet,
    foreign: &ForeignDeleted,
    steps: &mut Vec<Step>,
) {
    steps.push(Step::StoreFlags {
        uids: ours.clone(),
        add: FlagChange::DELETED,
        remove: FlagChange::default(),
    });
    let tail = if !ctx.expunge_on_hangup {
        Step::Defer {
            uids: ours.clone(),
            reason: DeferReason::ExpungeOnHangupOff,
        }
    } else if ctx.capabilities.contains(Capability::UidPlus) {
        Step::UidExpunge { uids: ours.clone() }
    } else {
        match (ctx.sharing, foreign) {
            (Sharing::SharedWithMail, _) => Step::Defer {
                uids: ours.clone(),
                reason: DeferReason::NoUidPlusInSharedFolder,
            },
            (Sharing::Dedicated, ForeignDeleted::Known(f)) if !f.is_empty() => Step::Defer {
                uids: ours.clone(),
                reason: DeferReason::ForeignDeleted { count: f.len() },
            },
            (Sharing::Dedicated, _) => Step::VerifyDeletedThenExpunge {
                expected: ours.clone(),
            },
        }
    };
    steps.push(tail);
}

/// Plans deleting `ours` (UIDs we flag ourselves) from `ctx.mailbox`:
/// `UID STORE +FLAGS (\Deleted)`, then `UID EXPUNGE` with UIDPLUS; without
/// it, a verified plain `EXPUNGE` in a dedicated folder, else a deferral.
pub fn plan_delete(
    ctx: &ExpungeContext,
    ours: &UidSet,
    foreign: &ForeignDeleted,
) -> Result<ExpungePlan, PlanError> {
    check_ownership(ctx, ours, foreign)?;
    let mut plan = ExpungePlan::empty(ctx);
    if !ours.is_empty() {
        flag_and_expunge(ctx, ours, foreign, &mut plan.steps);
    }
    Ok(plan)
}

/// Plans moving `ours` from `ctx.mailbox` to `to`: `UID MOVE` when offered;
/// otherwise `UID COPY`, then flag and expunge the originals as
/// [`plan_delete`] does — never leaving a visible original behind
/// (Asterisk does, §4.7).
pub fn plan_move(
    ctx: &ExpungeContext,
    ours: &UidSet,
    foreign: &ForeignDeleted,
    to: &MailboxName,
) -> Result<ExpungePlan, PlanError> {
    check_ownership(ctx, ours, foreign)?;
    if to.same_mailbox(&ctx.mailbox) {
        return Err(PlanError::SameMailbox {
            mailbox: ctx.mailbox.clone(),
        });
    }
    let mut plan = ExpungePlan::empty(ctx);
    if ours.is_empty() {
        return Ok(plan);
    }
    plan.steps.push(Step::EnsureMailbox {
        mailbox: to.clone(),
    });
    push_transfer(ctx, ours, foreign, to, &mut plan.steps);
    Ok(plan)
}

fn push_transfer(
    ctx: &ExpungeContext,
    ours: &UidSet,
    foreign: &ForeignDeleted,
    to: &MailboxName,
    steps: &mut Vec<Step>,
) {
    if ctx.capabilities.contains(Capability::Move) {
        steps.push(Step::UidMove {
            uids: ours.clone(),
            to: to.clone(),
        });
    } else {
        steps.push(Step::UidCopy {
            uids: ours.clone(),
            to: to.clone(),
        });
        flag_and_expunge(ctx, ours, foreign, steps);
    }
}

/// The flag changes that give a message the state of an `imapfolder`
/// folder: Old = `+\Seen`; Inbox (new) = `-\Seen -\Flagged`; Urgent =
/// `-\Seen +\Flagged`. `None` for real folders (no flag change, §4.7).
pub const fn state_flags(folder: Folder) -> Option<(FlagChange, FlagChange)> {
    let none = FlagChange {
        seen: false,
        flagged: false,
        deleted: false,
    };
    match folder {
        Folder::Old => Some((FlagChange { seen: true, ..none }, none)),
        Folder::Inbox => Some((
            none,
            FlagChange {
                seen: true,
                flagged: true,
                ..none
            },
        )),
        Folder::Urgent => Some((
            FlagChange {
                flagged: true,
                ..none
            },
            FlagChange { seen: true, ..none },
        )),
        _ => None,
    }
}

/// Plans Asterisk's "save to folder" (key 9, §4.7) for `ours` from `from`
/// to `to`, with `ctx.mailbox` being `from`'s mailbox.
///
/// * Within `imapfolder` (Inbox/Old/Urgent ⇄ each other): flag changes only
///   ([`state_flags`]).
/// * Into a real folder: move (see [`plan_move`]); the message keeps its flags.
/// * From a real folder into Inbox/Old/Urgent: set the state's flags on the
///   source, then move into `imapfolder` (Asterisk copies into a literal
///   `Old` folder that it never reads).
pub fn plan_save(
    ctx: &ExpungeContext,
    layout: &FolderLayout,
    ours: &UidSet,
    foreign: &ForeignDeleted,
    from: Folder,
    to: Folder,
) -> Result<ExpungePlan, PlanError> {
    if from == Folder::Greetings || to == Folder::Greetings {
        return Err(PlanError::Greetings);
    }
    let source = layout.mailbox_name(from);
    if !source.same_mailbox(&ctx.mailbox) {
        return Err(PlanError::WrongMailbox {
            folder: from,
            expected: source,
            mailbox: ctx.mailbox.clone(),
        });
    }
    check_ownership(ctx, ours, foreign)?;
    let mut plan = ExpungePlan::empty(ctx);
    if ours.is_empty() || from == to {
        return Ok(plan);
    }
    let target = layout.mailbox_name(to);
    if let Some((add, remove)) = state_flags(to) {
        plan.steps.push(Step::StoreFlags {
            uids: ours.clone(),
            add,
            remove,
        });
    }
    if target.same_mailbox(&ctx.mailbox) {
        // Flag states of the same mailbox: done (or a real folder saved
        // onto itself, which is nothing to do).
        return Ok(plan);
    }
    if to.storage() == FolderStorage::Mailbox {
        plan.steps.push(Step::EnsureMailbox {
            mailbox: target.clone(),
        });
    }
    push_transfer(ctx, ours, foreign, &target, &mut plan.steps);
    Ok(plan)
}
