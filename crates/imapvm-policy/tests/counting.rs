//! Counting, listing keys and RFC 3842 summaries (§4.2, §4.4; observed §5).

use imapvm_policy::count::{all_search, counts_in, listed_in};
use imapvm_policy::{
    Folder, MailboxId, MessageFacts, MessageFlags, MessageState, MessageSummary, MwiCounts,
    SummaryError, VoicemailIdentity, count_search, count_unseen, listing_search,
};
use proptest::prelude::*;

use crate::uid;

const fn flags(seen: bool, flagged: bool, deleted: bool) -> MessageFlags {
    MessageFlags {
        seen,
        flagged,
        deleted,
    }
}

fn me() -> VoicemailIdentity {
    VoicemailIdentity::new(&MailboxId::parse("1234@default").unwrap(), None).unwrap()
}

fn keys(k: Vec<imapvm_policy::SearchKey>) -> String {
    k.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn aib_4_2_state_of_every_flag_combination() {
    // (seen, flagged, deleted) → state; counted in (Inbox=new, Urgent, Old, Work=other folders)
    let table = [
        (
            flags(false, false, false),
            Some(MessageState::New),
            [true, false, false, true],
        ),
        (
            flags(false, true, false),
            Some(MessageState::Urgent),
            [false, true, false, true],
        ),
        (
            flags(true, false, false),
            Some(MessageState::Old),
            [false, false, true, false],
        ),
        // A heard urgent message is old (observed §5.1: "A read urgent message counts as Old").
        (
            flags(true, true, false),
            Some(MessageState::Old),
            [false, false, true, false],
        ),
        (flags(false, false, true), None, [false; 4]),
        (flags(false, true, true), None, [false; 4]),
        (flags(true, false, true), None, [false; 4]),
        (flags(true, true, true), None, [false; 4]),
    ];
    for (f, state, counted) in table {
        assert_eq!(MessageState::of(f), state, "{f:?}");
        let got = [Folder::Inbox, Folder::Urgent, Folder::Old, Folder::Work]
            .map(|folder| counts_in(folder, f));
        assert_eq!(got, counted, "{f:?}");
    }
}

#[test]
fn aib_4_2_count_searches_match_asterisk_keys() {
    let id = me();
    let h = "HEADER X-Asterisk-VM-Extension \"1234\" HEADER X-Asterisk-VM-Context \"default\"";
    assert_eq!(
        keys(count_search(Folder::Inbox, &id)),
        format!("UNDELETED UNFLAGGED UNSEEN {h}")
    );
    assert_eq!(
        keys(count_search(Folder::Urgent, &id)),
        format!("UNDELETED FLAGGED UNSEEN {h}")
    );
    assert_eq!(
        keys(count_search(Folder::Old, &id)),
        format!("UNDELETED SEEN {h}")
    );
    assert_eq!(
        keys(count_search(Folder::Work, &id)),
        format!("UNDELETED UNSEEN {h}")
    );
    // §4.4: listing folders 2–9 shows all undeleted messages, seen or not.
    assert_eq!(
        keys(listing_search(Folder::Work, &id)),
        format!("UNDELETED {h}")
    );
    assert_eq!(
        keys(listing_search(Folder::Old, &id)),
        format!("UNDELETED SEEN {h}")
    );
    assert_eq!(keys(all_search(&id)), format!("UNDELETED {h}"));
    assert!(listed_in(Folder::Work, flags(true, false, false)));
    assert!(!listed_in(Folder::Work, flags(true, false, true)));
}

/// One message in the observed §5.2 experiment folder.
#[derive(Clone, Copy)]
struct M {
    uid: u32,
    f: MessageFlags,
    ext: Option<&'static str>,
}

fn tally(folder: &[M]) -> MwiCounts {
    let facts: Vec<MessageFacts<'_>> = folder
        .iter()
        .map(|m| MessageFacts {
            uid: uid(m.uid),
            flags: m.f,
            extension: m.ext,
            context: m.ext.map(|_| "default"),
        })
        .collect();
    MwiCounts::tally(&me(), &facts)
}

fn amis(c: MwiCounts) -> (u32, u32, u32) {
    // AMI MailboxCount: (UrgMessages, NewMessages, OldMessages)
    c.inboxcount2()
}

#[test]
fn ao_5_2_experiment_on_1234_at_default() {
    let unseen = flags(false, false, false);
    let seen = flags(true, false, false);
    let mut folder: Vec<M> = (1..=4)
        .map(|u| M {
            uid: u,
            f: unseen,
            ext: Some("1234"),
        })
        .chain((5..=7).map(|u| M {
            uid: u,
            f: seen,
            ext: Some("1234"),
        }))
        .collect();
    let c = tally(&folder);
    assert_eq!(
        (c.unseen(), c.old, c.urgent),
        (4, 3, 0),
        "baseline: VM_INFO new 4, old 3, urgent 0"
    );
    assert_eq!(amis(c), (0, 4, 3));

    folder[0].f.seen = true; // +FLAGS \Seen on an unseen message
    assert_eq!(amis(tally(&folder)), (0, 3, 4));

    folder[1].f.flagged = true; // +FLAGS \Flagged on an unseen message
    let c = tally(&folder);
    assert_eq!(
        (c.unseen(), c.urgent),
        (3, 1),
        "VM_INFO new 3 (urgent included), urgent 1"
    );
    assert_eq!(amis(c), (1, 2, 4), "AMI u1/n2/o4");

    folder[2].f.deleted = true; // +FLAGS \Deleted, no expunge: UNDELETED excludes it at once
    assert_eq!(tally(&folder).unseen(), 2);

    folder.remove(2); // EXPUNGE of that message: no change
    assert_eq!(tally(&folder).unseen(), 2);

    folder[4].f.seen = false; // -FLAGS \Seen on an old message (uid 6): new +1, old -1
    assert_eq!(amis(tally(&folder)), (1, 2, 3));

    folder.push(M {
        uid: 8,
        f: unseen,
        ext: None,
    }); // APPEND of a non-Asterisk mail
    assert_eq!(amis(tally(&folder)), (1, 2, 3));

    folder.push(M {
        uid: 9,
        f: unseen,
        ext: Some("1234"),
    }); // byte copy of an Asterisk message
    assert_eq!(amis(tally(&folder)), (1, 3, 3));

    folder.retain(|m| m.uid != 5); // \Deleted + EXPUNGE of a seen message
    assert_eq!(amis(tally(&folder)), (1, 3, 2));

    folder[1].f.flagged = false; // -FLAGS \Flagged on the last unseen urgent (uid 2)
    let c = tally(&folder);
    assert_eq!(amis(c), (0, 4, 2), "AMI moves it from urgent to new");
    assert_eq!(
        c.asterisk_published(),
        (4, 2),
        "what Asterisk publishes: unchanged"
    );
}

#[test]
fn aib_4_2_aggregations() {
    let c = MwiCounts {
        new: 2,
        urgent: 1,
        old: 5,
        old_urgent: 2,
    };
    assert_eq!(c.unseen(), 3);
    assert_eq!(
        c.total(),
        8,
        "maxmsg counts new + urgent + old (§4.3 step 3)"
    );
    assert_eq!(
        c.asterisk_published(),
        (3, 5),
        "MWI: new + urgent, old (queue_mwi_event)"
    );
    assert_eq!(c.inboxcount2(), (1, 2, 5));
}

#[test]
fn aib_4_2_other_folders_count_unseen_only() {
    let facts = [
        MessageFacts {
            uid: uid(1),
            flags: flags(false, false, false),
            extension: Some("1234"),
            context: Some("default"),
        },
        MessageFacts {
            uid: uid(2),
            flags: flags(true, false, false),
            extension: Some("1234"),
            context: Some("default"),
        },
        MessageFacts {
            uid: uid(3),
            flags: flags(false, true, false),
            extension: Some("1234"),
            context: Some("default"),
        },
        MessageFacts {
            uid: uid(4),
            flags: flags(false, false, true),
            extension: Some("1234"),
            context: Some("default"),
        },
        MessageFacts {
            uid: uid(5),
            flags: flags(false, false, false),
            extension: Some("12345"),
            context: Some("default"),
        },
    ];
    assert_eq!(count_unseen(&me(), &facts), 2);
}

#[test]
fn rfc_3842_message_summary_bodies() {
    let c = MwiCounts {
        new: 2,
        urgent: 1,
        old: 5,
        old_urgent: 2,
    };
    assert_eq!(
        MessageSummary::new(c, Some("sip:1234@pbx.example"))
            .unwrap()
            .to_string(),
        "Messages-Waiting: yes\r\nMessage-Account: sip:1234@pbx.example\r\nVoice-Message: 3/5 (1/2)\r\n"
    );
    let heard = MwiCounts {
        new: 0,
        urgent: 0,
        old: 4,
        old_urgent: 0,
    };
    let s = MessageSummary::new(heard, None).unwrap();
    assert!(!s.messages_waiting());
    assert_eq!(
        s.to_string(),
        "Messages-Waiting: no\r\nVoice-Message: 0/4 (0/0)\r\n"
    );
    // Urgent alone is waiting (Asterisk's has_voicemail misses this, §6 #22).
    let urgent_only = MwiCounts {
        new: 0,
        urgent: 1,
        old: 0,
        old_urgent: 0,
    };
    assert!(
        MessageSummary::new(urgent_only, None)
            .unwrap()
            .messages_waiting()
    );
    for bad in ["", "  ", "sip:a\r\nInjected: yes"] {
        assert!(
            matches!(
                MessageSummary::new(c, Some(bad)),
                Err(SummaryError::BadAccount { .. })
            ),
            "{bad:?}"
        );
    }
}

fn arb_message() -> impl Strategy<Value = (MessageFlags, Option<&'static str>, Option<&'static str>)>
{
    let ext = prop::sample::select(vec![
        Some("12"),
        Some("123"),
        Some("1"),
        Some(" 12"),
        Some("12 "),
        Some(""),
        None,
    ]);
    let ctx = prop::sample::select(vec![
        Some("default"),
        Some("default2"),
        Some("DEFAULT"),
        Some("def"),
        None,
    ]);
    ((any::<bool>(), any::<bool>(), any::<bool>()), ext, ctx)
        .prop_map(|((s, f, d), e, c)| (flags(s, f, d), e, c))
}

/// The exact filter, written independently of the crate.
fn is_mine(ext: Option<&str>, ctx: Option<&str>) -> bool {
    ext.map(|e| e.trim().to_ascii_lowercase()) == Some("12".into())
        && ctx.map(|c| c.trim().to_ascii_lowercase()) == Some("default".into())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Counts equal a brute-force recount: one filter per Asterisk SEARCH of §4.2.
    #[test]
    fn counts_equal_a_brute_force_recount(msgs in prop::collection::vec(arb_message(), 0..60)) {
        let id = VoicemailIdentity::new(&MailboxId::parse("12@default").unwrap(), None).unwrap();
        let facts: Vec<MessageFacts<'_>> = msgs
            .iter()
            .enumerate()
            .map(|(i, (f, e, c))| MessageFacts { uid: uid(u32::try_from(i).unwrap() + 1), flags: *f, extension: *e, context: *c })
            .collect();
        let c = MwiCounts::tally(&id, &facts);
        let count = |pred: &dyn Fn(&MessageFlags) -> bool| -> u32 {
            u32::try_from(msgs.iter().filter(|(f, e, x)| is_mine(*e, *x) && pred(f)).count()).unwrap()
        };
        prop_assert_eq!(c.new, count(&|f| !f.deleted && !f.seen && !f.flagged));
        prop_assert_eq!(c.urgent, count(&|f| !f.deleted && !f.seen && f.flagged));
        prop_assert_eq!(c.old, count(&|f| !f.deleted && f.seen));
        prop_assert_eq!(c.old_urgent, count(&|f| !f.deleted && f.seen && f.flagged));
        prop_assert_eq!(c.total(), count(&|f| !f.deleted));
        prop_assert_eq!(count_unseen(&id, &facts), count(&|f| !f.deleted && !f.seen));
        // The Folder predicates agree with the states.
        for (f, e, x) in &msgs {
            if is_mine(*e, *x) {
                let in_some = [Folder::Inbox, Folder::Urgent, Folder::Old].iter().filter(|fo| counts_in(**fo, *f)).count();
                prop_assert_eq!(in_some, usize::from(!f.deleted), "exactly one imapfolder state unless deleted");
            }
        }
    }
}

/// Moved from the runtime's count (`ops/count.rs`): the four ESEARCH answers become hits and
/// flags. UID 7 changed between the searches (found as new and as old): it counts once, as
/// the first answer says; UID 5 is old and flagged (old urgent).
#[test]
fn esearch_answers_count_each_message_once_with_the_first_answers_flags() {
    use imapvm_policy::{MessageFlags, count_hits};
    let (hits, flags) = count_hits(&[7u32, 3], &[4], &[5, 7, 6], &[5]);
    assert_eq!(hits, [7, 3, 4, 5, 6]);
    let f = |seen, flagged| MessageFlags {
        seen,
        flagged,
        deleted: false,
    };
    assert_eq!(flags[&7], f(false, false));
    assert_eq!(flags[&3], f(false, false));
    assert_eq!(flags[&4], f(false, true));
    assert_eq!(flags[&5], f(true, true));
    assert_eq!(flags[&6], f(true, false));
    assert_eq!(flags.len(), 5);
}
