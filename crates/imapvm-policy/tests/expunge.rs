//! Delete / move / save plans (§4.6, §4.7; [INV-3]), with a
//! simulated IMAP folder and an adversarial mail client for the proptests.

use std::collections::BTreeMap;

use imapvm_policy::expunge::state_flags;
use imapvm_policy::{
    Capabilities, Capability, DeferReason, ExpungeContext, FlagChange, Folder, FolderLayout,
    ForeignDeleted, Hierarchy, MailboxName, PlanError, Sharing, Step, UidSet, UidValidity,
    Verified, plan_delete, plan_move, plan_save, verify_deleted,
};
use proptest::prelude::*;

use crate::{uid, uids, uv};

const V: UidValidity = uv(42);

fn mailbox(name: &str) -> MailboxName {
    MailboxName::from_wire(name).unwrap()
}

fn ctx(caps: &[Capability], sharing: Sharing, expunge_on_hangup: bool) -> ExpungeContext {
    ExpungeContext {
        mailbox: mailbox("INBOX"),
        uidvalidity: V,
        capabilities: Capabilities::of(caps),
        sharing,
        expunge_on_hangup,
    }
}

fn flag_deleted(u: &[u32]) -> Step {
    Step::StoreFlags {
        uids: uids(u),
        add: FlagChange::DELETED,
        remove: FlagChange::default(),
    }
}

const DOVECOT: &[Capability] = &[Capability::UidPlus, Capability::Move, Capability::Idle];
const COURIER: &[Capability] = &[Capability::UidPlus, Capability::Idle];
const OLD: &[Capability] = &[Capability::Idle];

#[test]
fn aib_4_6_delete_uses_uid_expunge_with_uidplus() {
    for sharing in [Sharing::Dedicated, Sharing::SharedWithMail] {
        let plan = plan_delete(
            &ctx(COURIER, sharing, true),
            &uids(&[3, 4, 5, 9]),
            &ForeignDeleted::Unknown,
        )
        .unwrap();
        assert_eq!(plan.uidvalidity, V);
        assert_eq!(
            plan.steps,
            [
                flag_deleted(&[3, 4, 5, 9]),
                Step::UidExpunge {
                    uids: uids(&[3, 4, 5, 9])
                }
            ]
        );
        assert_eq!(plan.deferred(), None);
    }
    let Step::UidExpunge { uids: set } = &plan_delete(
        &ctx(DOVECOT, Sharing::SharedWithMail, true),
        &uids(&[3, 4, 5, 9]),
        &ForeignDeleted::Unknown,
    )
    .unwrap()
    .steps[1] else {
        panic!("UID EXPUNGE expected")
    };
    assert_eq!(set.to_string(), "3:5,9");
}

#[test]
fn aib_4_6_without_uidplus_plain_expunge_only_after_verification_in_a_dedicated_folder() {
    let ours = uids(&[7]);
    let plan = plan_delete(
        &ctx(OLD, Sharing::Dedicated, true),
        &ours,
        &ForeignDeleted::Unknown,
    )
    .unwrap();
    assert_eq!(
        plan.steps,
        [
            flag_deleted(&[7]),
            Step::VerifyDeletedThenExpunge {
                expected: ours.clone()
            }
        ]
    );
    let plan = plan_delete(
        &ctx(OLD, Sharing::Dedicated, true),
        &ours,
        &ForeignDeleted::Known(UidSet::new()),
    )
    .unwrap();
    assert_eq!(
        plan.steps[1],
        Step::VerifyDeletedThenExpunge {
            expected: ours.clone()
        }
    );
    // Known foreign \Deleted mail: defer at once.
    let plan = plan_delete(
        &ctx(OLD, Sharing::Dedicated, true),
        &ours,
        &ForeignDeleted::Known(uids(&[2, 3])),
    )
    .unwrap();
    assert_eq!(
        plan.steps[1],
        Step::Defer {
            uids: ours.clone(),
            reason: DeferReason::ForeignDeleted { count: 2 }
        }
    );
    // Shared with ordinary mail: never a plain EXPUNGE (§3.3 official guidance, §6 #3).
    let plan = plan_delete(
        &ctx(OLD, Sharing::SharedWithMail, true),
        &ours,
        &ForeignDeleted::Known(UidSet::new()),
    )
    .unwrap();
    assert_eq!(plan.deferred(), Some(&DeferReason::NoUidPlusInSharedFolder));
}

#[test]
fn verify_deleted_expunges_only_when_every_deleted_message_is_ours() {
    assert_eq!(
        verify_deleted(&uids(&[4, 5]), &uids(&[4, 5])),
        Verified::Expunge
    );
    assert_eq!(
        verify_deleted(&uids(&[4, 5]), &uids(&[5])),
        Verified::Expunge,
        "someone undeleted 4: still only ours"
    );
    assert_eq!(
        verify_deleted(&uids(&[4, 5]), &UidSet::new()),
        Verified::Expunge
    );
    assert_eq!(
        verify_deleted(&uids(&[4, 5]), &uids(&[1, 4, 5])),
        Verified::Defer {
            foreign: uids(&[1])
        }
    );
}

#[test]
fn aib_5_3_expungeonhangup_no_leaves_messages_flagged() {
    let plan = plan_delete(
        &ctx(DOVECOT, Sharing::Dedicated, false),
        &uids(&[1]),
        &ForeignDeleted::Unknown,
    )
    .unwrap();
    assert_eq!(
        plan.steps,
        [
            flag_deleted(&[1]),
            Step::Defer {
                uids: uids(&[1]),
                reason: DeferReason::ExpungeOnHangupOff
            }
        ]
    );
}

#[test]
fn empty_and_conflicting_inputs() {
    assert!(
        plan_delete(
            &ctx(DOVECOT, Sharing::Dedicated, true),
            &UidSet::new(),
            &ForeignDeleted::Unknown
        )
        .unwrap()
        .is_empty()
    );
    assert!(matches!(
        plan_delete(&ctx(OLD, Sharing::Dedicated, true), &uids(&[1, 2]), &ForeignDeleted::Known(uids(&[2, 3]))),
        Err(PlanError::OwnershipConflict { uids, .. }) if uids == crate::uids(&[2])
    ));
    assert!(matches!(
        plan_move(
            &ctx(DOVECOT, Sharing::Dedicated, true),
            &uids(&[1]),
            &ForeignDeleted::Unknown,
            &mailbox("inbox")
        ),
        Err(PlanError::SameMailbox { .. })
    ));
}

#[test]
fn aib_4_7_move_with_move_else_copy_flag_uid_expunge() {
    let work = mailbox("INBOX.Work");
    let plan = plan_move(
        &ctx(DOVECOT, Sharing::SharedWithMail, true),
        &uids(&[2]),
        &ForeignDeleted::Unknown,
        &work,
    )
    .unwrap();
    assert_eq!(
        plan.steps,
        [
            Step::EnsureMailbox {
                mailbox: work.clone()
            },
            Step::UidMove {
                uids: uids(&[2]),
                to: work.clone()
            }
        ]
    );
    let plan = plan_move(
        &ctx(COURIER, Sharing::SharedWithMail, true),
        &uids(&[2]),
        &ForeignDeleted::Unknown,
        &work,
    )
    .unwrap();
    assert_eq!(
        plan.steps,
        [
            Step::EnsureMailbox {
                mailbox: work.clone()
            },
            Step::UidCopy {
                uids: uids(&[2]),
                to: work.clone()
            },
            flag_deleted(&[2]),
            Step::UidExpunge { uids: uids(&[2]) },
        ]
    );
}

fn courier_layout() -> FolderLayout {
    FolderLayout::new(
        "INBOX",
        Some("Voicemail"),
        None,
        "INBOX",
        Hierarchy::new("INBOX.", Some('.')).unwrap(),
    )
    .unwrap()
}

#[test]
fn aib_4_7_save_within_imapfolder_is_flags_only() {
    let l = courier_layout();
    let c = ctx(COURIER, Sharing::SharedWithMail, true);
    let to_old = plan_save(
        &c,
        &l,
        &uids(&[5]),
        &ForeignDeleted::Unknown,
        Folder::Inbox,
        Folder::Old,
    )
    .unwrap();
    assert_eq!(
        to_old.steps,
        [Step::StoreFlags {
            uids: uids(&[5]),
            add: FlagChange {
                seen: true,
                ..FlagChange::default()
            },
            remove: FlagChange::default()
        }]
    );
    let to_new = plan_save(
        &c,
        &l,
        &uids(&[5]),
        &ForeignDeleted::Unknown,
        Folder::Old,
        Folder::Inbox,
    )
    .unwrap();
    let (add, remove) = state_flags(Folder::Inbox).unwrap();
    assert_eq!(
        to_new.steps,
        [Step::StoreFlags {
            uids: uids(&[5]),
            add,
            remove
        }]
    );
    assert_eq!(remove.to_imap_list(), "(\\Seen \\Flagged)");
    assert!(
        plan_save(
            &c,
            &l,
            &uids(&[5]),
            &ForeignDeleted::Unknown,
            Folder::Old,
            Folder::Old
        )
        .unwrap()
        .is_empty()
    );
}

#[test]
fn aib_4_7_save_to_work_moves_to_the_same_name_it_creates() {
    // Asterisk CREATEs INBOX.Voicemail.Work but COPYs to bare `Work`, and keeps the original.
    let l = courier_layout();
    let c = ctx(COURIER, Sharing::SharedWithMail, true);
    let plan = plan_save(
        &c,
        &l,
        &uids(&[5]),
        &ForeignDeleted::Unknown,
        Folder::Inbox,
        Folder::Work,
    )
    .unwrap();
    let work = mailbox("INBOX.Voicemail.Work");
    assert_eq!(
        plan.steps,
        [
            Step::EnsureMailbox {
                mailbox: work.clone()
            },
            Step::UidCopy {
                uids: uids(&[5]),
                to: work
            },
            flag_deleted(&[5]),
            Step::UidExpunge { uids: uids(&[5]) },
        ]
    );
}

#[test]
fn aib_4_7_save_from_work_to_old_goes_to_imapfolder_not_a_literal_old_folder() {
    let l = courier_layout();
    let c = ExpungeContext {
        mailbox: l.mailbox_name(Folder::Work),
        ..ctx(DOVECOT, Sharing::Dedicated, true)
    };
    let plan = plan_save(
        &c,
        &l,
        &uids(&[8]),
        &ForeignDeleted::Unknown,
        Folder::Work,
        Folder::Old,
    )
    .unwrap();
    assert_eq!(
        plan.steps,
        [
            Step::StoreFlags {
                uids: uids(&[8]),
                add: FlagChange {
                    seen: true,
                    ..FlagChange::default()
                },
                remove: FlagChange::default()
            },
            Step::UidMove {
                uids: uids(&[8]),
                to: mailbox("INBOX")
            },
        ]
    );
    assert!(matches!(
        plan_save(
            &c,
            &l,
            &uids(&[8]),
            &ForeignDeleted::Unknown,
            Folder::Inbox,
            Folder::Work
        ),
        Err(PlanError::WrongMailbox {
            folder: Folder::Inbox,
            ..
        })
    ));
    assert!(matches!(
        plan_save(
            &c,
            &l,
            &uids(&[8]),
            &ForeignDeleted::Unknown,
            Folder::Work,
            Folder::Greetings
        ),
        Err(PlanError::Greetings)
    ));
}

// ---------------------------------------------------------------------------
// Simulation: a folder, our steps, and another client acting between steps.

#[derive(Debug, Clone, Copy)]
struct Msg {
    ours: bool,
    deleted: bool,
}

#[derive(Debug, Clone)]
enum Action {
    /// The other client sets \Deleted on its i-th message.
    FlagForeign(usize),
    /// The other client clears \Deleted on its i-th message.
    UnflagForeign(usize),
    /// The other client clears \Deleted on one of ours (undelete).
    UndeleteOurs(usize),
    /// New mail arrives, maybe already \Deleted.
    Append { deleted: bool },
}

fn arb_action() -> impl Strategy<Value = Action> {
    prop_oneof![
        (0usize..64).prop_map(Action::FlagForeign),
        (0usize..64).prop_map(Action::UnflagForeign),
        (0usize..64).prop_map(Action::UndeleteOurs),
        any::<bool>().prop_map(|deleted| Action::Append { deleted }),
    ]
}

struct Sim {
    folder: BTreeMap<u32, Msg>,
    next_uid: u32,
    copied: Vec<u32>,
}

impl Sim {
    fn pick(&self, ours: bool, i: usize) -> Option<u32> {
        let candidates: Vec<u32> = self
            .folder
            .iter()
            .filter(|(_, m)| m.ours == ours)
            .map(|(u, _)| *u)
            .collect();
        (!candidates.is_empty()).then(|| candidates[i % candidates.len()])
    }

    fn act(&mut self, action: &Action) {
        match action {
            Action::FlagForeign(i) | Action::UnflagForeign(i) => {
                if let Some(u) = self.pick(false, *i) {
                    self.folder.get_mut(&u).unwrap().deleted =
                        matches!(action, Action::FlagForeign(_));
                }
            }
            Action::UndeleteOurs(i) => {
                if let Some(u) = self.pick(true, *i) {
                    self.folder.get_mut(&u).unwrap().deleted = false;
                }
            }
            Action::Append { deleted } => {
                self.folder.insert(
                    self.next_uid,
                    Msg {
                        ours: false,
                        deleted: *deleted,
                    },
                );
                self.next_uid += 1;
            }
        }
    }

    /// Removes a message because of one of our steps; it must be ours.
    fn remove_by_us(&mut self, u: u32, step: &Step) -> Result<(), TestCaseError> {
        if let Some(m) = self.folder.remove(&u) {
            prop_assert!(m.ours, "step {step:?} expunged foreign UID {u}");
        }
        Ok(())
    }

    /// Runs one step as an IMAP server would; returns false when the plan stops.
    fn run(&mut self, step: &Step, caps: &Capabilities) -> Result<bool, TestCaseError> {
        match step {
            Step::EnsureMailbox { .. } => {}
            Step::StoreFlags { uids, add, remove } => {
                for u in uids.iter() {
                    if let Some(m) = self.folder.get_mut(&u.get()) {
                        prop_assert!(m.ours, "STORE on foreign UID {u}");
                        if add.deleted {
                            m.deleted = true;
                        }
                        if remove.deleted {
                            m.deleted = false;
                        }
                    }
                }
            }
            Step::UidCopy { uids, .. } => {
                self.copied.extend(
                    uids.iter()
                        .filter(|u| self.folder.contains_key(&u.get()))
                        .map(|u| u.get()),
                );
            }
            Step::UidMove { uids, .. } => {
                prop_assert!(caps.contains(Capability::Move), "UID MOVE without MOVE");
                for u in uids.iter() {
                    if self.folder.contains_key(&u.get()) {
                        self.copied.push(u.get());
                    }
                    self.remove_by_us(u.get(), step)?;
                }
            }
            Step::UidExpunge { uids } => {
                prop_assert!(
                    caps.contains(Capability::UidPlus),
                    "UID EXPUNGE without UIDPLUS"
                );
                for u in uids.iter() {
                    if self.folder.get(&u.get()).is_some_and(|m| m.deleted) {
                        self.remove_by_us(u.get(), step)?;
                    }
                }
            }
            Step::VerifyDeletedThenExpunge { expected } => {
                // UID SEARCH DELETED, then (as the next command) EXPUNGE. The
                // model runs both back to back: the residual one-round-trip
                // window is documented on the step and only planned for
                // dedicated folders (checked by the caller).
                let deleted: UidSet = self
                    .folder
                    .iter()
                    .filter(|(_, m)| m.deleted)
                    .map(|(u, _)| crate::uid(*u))
                    .collect();
                match verify_deleted(expected, &deleted) {
                    Verified::Expunge => {
                        for u in deleted.iter() {
                            self.remove_by_us(u.get(), step)?;
                        }
                    }
                    Verified::Defer { .. } => return Ok(false),
                }
            }
            Step::Defer { .. } => return Ok(false),
            other => prop_assert!(false, "unknown step {other:?}"),
        }
        Ok(true)
    }
}

fn arb_caps() -> impl Strategy<Value = Capabilities> {
    any::<[bool; 8]>().prop_map(|bits| {
        let all = [
            Capability::UidPlus,
            Capability::Move,
            Capability::Notify,
            Capability::Idle,
            Capability::CondStore,
            Capability::QResync,
            Capability::Quota,
            Capability::LiteralPlus,
        ];
        all.into_iter()
            .zip(bits)
            .filter(|(_, b)| *b)
            .map(|(c, _)| c)
            .collect()
    })
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Delete,
    Move,
    SaveToWork,
    SaveToOld,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// [INV-3]: for any capability set, sharing mode, our UIDs,
    /// and any interleaving of another client's \Deleted flags and new mail
    /// between steps, no step expunges (or flags) a message we did not flag.
    #[test]
    fn no_plan_expunges_a_foreign_uid(
        caps in arb_caps(),
        dedicated in any::<bool>(),
        expunge_on_hangup in any::<bool>(),
        // Each of 40 initial messages: 0 = ours, 1 = foreign, 2 = foreign \Deleted.
        owners in prop::collection::vec(0u8..3, 1..40),
        know_foreign in any::<bool>(),
        kind in prop::sample::select(vec![Kind::Delete, Kind::Move, Kind::SaveToWork, Kind::SaveToOld]),
        actions in prop::collection::vec((0usize..8, arb_action()), 0..30),
    ) {
        let sharing = if dedicated { Sharing::Dedicated } else { Sharing::SharedWithMail };
        let mut folder = BTreeMap::new();
        for (i, o) in owners.iter().enumerate() {
            folder.insert(u32::try_from(i).unwrap() + 1, Msg { ours: *o == 0, deleted: *o == 2 });
        }
        let ours: UidSet = folder.iter().filter(|(_, m)| m.ours).map(|(u, _)| uid(*u)).collect();
        let foreign = if know_foreign {
            ForeignDeleted::Known(folder.iter().filter(|(_, m)| !m.ours && m.deleted).map(|(u, _)| uid(*u)).collect())
        } else {
            ForeignDeleted::Unknown
        };
        let layout = FolderLayout::new("INBOX", None, None, "INBOX", Hierarchy::dovecot()).unwrap();
        let inbox_ctx = ExpungeContext {
            mailbox: layout.mailbox_name(Folder::Inbox),
            uidvalidity: V,
            capabilities: caps.clone(),
            sharing,
            expunge_on_hangup,
        };
        let work_ctx = ExpungeContext { mailbox: layout.mailbox_name(Folder::Work), ..inbox_ctx.clone() };
        let (plan, run_ctx) = match kind {
            Kind::Delete => (plan_delete(&inbox_ctx, &ours, &foreign).unwrap(), &inbox_ctx),
            Kind::Move => (plan_move(&inbox_ctx, &ours, &foreign, &mailbox("Archive")).unwrap(), &inbox_ctx),
            Kind::SaveToWork => (plan_save(&inbox_ctx, &layout, &ours, &foreign, Folder::Inbox, Folder::Work).unwrap(), &inbox_ctx),
            Kind::SaveToOld => (plan_save(&work_ctx, &layout, &ours, &foreign, Folder::Work, Folder::Old).unwrap(), &work_ctx),
        };
        prop_assert_eq!(plan.uidvalidity, run_ctx.uidvalidity);
        // Static checks: every UID a step names is ours; a plain EXPUNGE never in a shared folder.
        for step in &plan.steps {
            let named = match step {
                Step::StoreFlags { uids, .. } | Step::UidCopy { uids, .. } | Step::UidMove { uids, .. }
                | Step::UidExpunge { uids } | Step::Defer { uids, .. } => Some(uids),
                Step::VerifyDeletedThenExpunge { expected } => {
                    prop_assert_eq!(sharing, Sharing::Dedicated, "plain EXPUNGE planned in a shared folder");
                    prop_assert!(!caps.contains(Capability::UidPlus), "plain EXPUNGE planned despite UIDPLUS");
                    Some(expected)
                }
                _ => None,
            };
            if let Some(set) = named {
                prop_assert!(!set.is_empty(), "empty UID set in {:?}", step);
                prop_assert!(set.is_subset(&ours), "{:?} names UIDs that are not ours", step);
            }
        }
        // Dynamic check: run the plan with the other client acting between steps.
        let mut sim = Sim { folder, next_uid: 1000, copied: Vec::new() };
        let slots = plan.steps.len() + 1;
        for (i, step) in plan.steps.iter().enumerate() {
            for (slot, action) in &actions {
                if slot % slots == i {
                    sim.act(action);
                }
            }
            if !sim.run(step, &caps)? {
                break;
            }
        }
        // Liveness where it is promised: UIDPLUS + expungeonhangup deletes all of ours
        // that stayed \Deleted; MOVE moves all of ours.
        if matches!(kind, Kind::Delete) && caps.contains(Capability::UidPlus) && expunge_on_hangup && actions.is_empty() {
            prop_assert!(sim.folder.values().all(|m| !m.ours), "ours left behind: {:?}", plan.steps);
        }
        if !matches!(kind, Kind::Delete) && caps.contains(Capability::Move) && !ours.is_empty() {
            prop_assert_eq!(sim.copied.len() as u64, ours.len());
            prop_assert!(sim.folder.values().all(|m| !m.ours));
        }
    }
}

/// INBOX may hold the user's own mail; every other voicemail folder is dedicated. Was the
/// runtime's `Mailbox::sharing`.
#[test]
fn only_inbox_is_taken_as_shared_with_mail() {
    let name = |wire: &str| MailboxName::from_wire(wire).unwrap();
    assert_eq!(Sharing::of(&name("INBOX")), Sharing::SharedWithMail);
    assert_eq!(Sharing::of(&name("inbox")), Sharing::SharedWithMail);
    assert_eq!(Sharing::of(&name("Voicemail")), Sharing::Dedicated);
    assert_eq!(Sharing::of(&name("INBOX.Voicemail")), Sharing::Dedicated);
}
