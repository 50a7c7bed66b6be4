//! Deposit admission (§4.3 step 3, §4.10, §5.4, §6 #32).

use imapvm_policy::{
    AdmissionVerdict, Deposit, DepositKind, Limits, MwiCounts, QuotaResource, QuotaResourceName,
    Refusal, ResponseCode, admit, admit_caller, count::MwiState, server_says_over_quota,
};
use proptest::prelude::*;

fn voicemail(size_bytes: u64, duration_secs: u32) -> Deposit {
    Deposit {
        kind: DepositKind::Voicemail,
        size_bytes,
        duration_secs,
    }
}

fn greeting(size_bytes: u64, duration_secs: u32) -> Deposit {
    Deposit {
        kind: DepositKind::Greeting,
        size_bytes,
        duration_secs,
    }
}

fn holding(total: u32) -> MwiState {
    MwiState::Known(MwiCounts {
        new: total / 2,
        urgent: 0,
        old: total - total / 2,
        old_urgent: 0,
    })
}

fn res(name: &str, usage: u64, limit: u64) -> QuotaResource {
    QuotaResource {
        name: QuotaResourceName::from_atom(name),
        usage,
        limit,
    }
}

fn reasons(v: AdmissionVerdict) -> Vec<Refusal> {
    match v {
        AdmissionVerdict::Admit => Vec::new(),
        AdmissionVerdict::Refuse(r) => r,
    }
}

#[test]
fn aib_4_3_maxmsg_counts_deposits_in_progress() {
    let limits = Limits::default();
    assert_eq!(
        admit(voicemail(40_000, 5), limits, holding(99), 0, &[]),
        AdmissionVerdict::Admit
    );
    let full = admit(voicemail(40_000, 5), limits, holding(100), 0, &[]);
    assert_eq!(
        reasons(full.clone()),
        [Refusal::MailboxFull {
            count: 100,
            in_progress: 0,
            maxmsg: 100
        }]
    );
    assert_eq!(
        full.primary().unwrap().to_string(),
        "mailbox full (100 of 100 messages)"
    );
    assert_eq!(full.primary().unwrap().prompt(), Some("vm-mailboxfull"));
    assert!(!admit(voicemail(40_000, 5), limits, holding(99), 1, &[]).is_admitted());
}

#[test]
fn aib_5_4_maxmsg_zero_means_greetings_only() {
    let limits = Limits {
        maxmsg: 0,
        ..Limits::default()
    };
    let v = admit(voicemail(1, 5), limits, holding(0), 0, &[]);
    assert_eq!(
        v.primary().unwrap().to_string(),
        "mailbox full (maxmsg=0: greetings only)"
    );
    assert!(admit(greeting(1, 5), limits, holding(0), 0, &[]).is_admitted());
}

#[test]
fn aib_6_32_greetings_are_not_blocked_by_a_full_message_box() {
    let limits = Limits::default();
    assert!(admit(greeting(30_000, 4), limits, holding(100), 3, &[]).is_admitted());
    assert!(admit(greeting(30_000, 4), limits, MwiState::Unknown, 0, &[]).is_admitted());
    // maxgreet limits greetings; minsecs does not apply to them.
    let l = Limits {
        maxgreet: 3,
        minsecs: 10,
        ..limits
    };
    assert_eq!(
        reasons(admit(greeting(1, 4), l, holding(0), 0, &[])),
        [Refusal::TooLong { secs: 4, max: 3 }]
    );
    assert!(admit(greeting(1, 2), l, holding(0), 0, &[]).is_admitted());
}

#[test]
fn aib_5_4_minsecs_and_maxsecs() {
    let l = Limits {
        minsecs: 3,
        maxsecs: 60,
        ..Limits::default()
    };
    let short = admit(voicemail(1, 2), l, holding(0), 0, &[]);
    assert_eq!(
        short.primary().unwrap().to_string(),
        "too short (2 s, minsecs is 3 s)"
    );
    assert_eq!(short.primary().unwrap().prompt(), None);
    assert!(admit(voicemail(1, 3), l, holding(0), 0, &[]).is_admitted());
    assert!(admit(voicemail(1, 60), l, holding(0), 0, &[]).is_admitted());
    assert_eq!(
        reasons(admit(voicemail(1, 61), l, holding(0), 0, &[])),
        [Refusal::TooLong { secs: 61, max: 60 }]
    );
    // 0 = no limit.
    assert!(admit(voicemail(1, 0), Limits::default(), holding(0), 0, &[]).is_admitted());
}

#[test]
fn aib_4_10_every_quota_resource_is_checked() {
    let l = Limits::default();
    // Dovecot's reply for the test user: (STORAGE 1 200 MESSAGE 1 20).
    assert!(
        admit(
            voicemail(50 * 1024, 5),
            l,
            holding(1),
            0,
            &[res("STORAGE", 1, 200), res("MESSAGE", 1, 20)]
        )
        .is_admitted()
    );
    // Storage nearly full: 190 KiB used + 20 KiB message.
    let over = admit(
        voicemail(20 * 1024, 5),
        l,
        holding(1),
        0,
        &[res("STORAGE", 190, 200), res("MESSAGE", 1, 20)],
    );
    assert_eq!(
        over.primary().unwrap().to_string(),
        "over quota by 10 KB (limit 200 KB)"
    );
    // Asterisk lets the LAST resource win: STORAGE full, MESSAGE fine → Asterisk admits. We refuse.
    let storage_full = admit(
        voicemail(1, 5),
        l,
        holding(1),
        0,
        &[res("STORAGE", 200, 200), res("MESSAGE", 1, 20)],
    );
    assert_eq!(
        reasons(storage_full),
        [Refusal::OverQuotaStorage {
            over_by_kb: 1,
            limit_kb: 200
        }]
    );
    let messages_full = admit(
        voicemail(1, 5),
        l,
        holding(1),
        0,
        &[res("STORAGE", 1, 200), res("message", 20, 20)],
    );
    assert_eq!(
        reasons(messages_full.clone()),
        [Refusal::OverQuotaMessages {
            usage: 20,
            limit: 20
        }]
    );
    assert_eq!(
        messages_full.primary().unwrap().to_string(),
        "over quota: 20 of 20 messages"
    );
    // Sizes round up to whole KiB.
    assert!(
        admit(
            voicemail(1024, 5),
            l,
            holding(1),
            0,
            &[res("STORAGE", 199, 200)]
        )
        .is_admitted()
    );
    assert!(
        !admit(
            voicemail(1025, 5),
            l,
            holding(1),
            0,
            &[res("STORAGE", 199, 200)]
        )
        .is_admitted()
    );
    // Limit 0 and unknown resources are not checked; no QUOTA capability = no resources.
    assert!(
        admit(
            voicemail(1 << 30, 5),
            l,
            holding(1),
            0,
            &[res("STORAGE", 5, 0), res("X-NUM-FOLDERS", 9, 1)]
        )
        .is_admitted()
    );
    // Greetings still have to fit.
    assert!(
        !admit(
            greeting(20 * 1024, 5),
            l,
            holding(100),
            0,
            &[res("STORAGE", 190, 200)]
        )
        .is_admitted()
    );
}

#[test]
fn aib_4_3_unknown_count_refuses_voicemail_and_lists_every_reason() {
    let l = Limits {
        minsecs: 5,
        ..Limits::default()
    };
    let v = admit(
        voicemail(20 * 1024, 1),
        l,
        MwiState::Unknown,
        0,
        &[res("STORAGE", 200, 200), res("MESSAGE", 20, 20)],
    );
    assert_eq!(
        reasons(v),
        [
            Refusal::TooShort {
                secs: 1,
                minsecs: 5
            },
            Refusal::CountUnknown,
            Refusal::OverQuotaStorage {
                over_by_kb: 20,
                limit_kb: 200
            },
            Refusal::OverQuotaMessages {
                usage: 20,
                limit: 20
            },
        ]
    );
    assert_eq!(
        Refusal::CountUnknown.to_string(),
        "unable to count messages"
    );
}

proptest! {
    /// A smaller deposit into a less full box is never refused when a larger one is admitted.
    #[test]
    fn admission_is_monotonic(
        size in 0u64..10_000_000, smaller in 0u64..10_000_000,
        count in 0u32..200, fewer in 0u32..200,
        usage in 0u64..10_000, limit in 0u64..10_000,
        musage in 0u64..50, mlimit in 0u64..50,
    ) {
        let l = Limits::default();
        let quota = [res("STORAGE", usage, limit), res("MESSAGE", musage, mlimit)];
        let big = admit(voicemail(size, 5), l, holding(count), 0, &quota);
        let small = admit(voicemail(size.min(smaller), 5), l, holding(count.min(fewer)), 0, &quota);
        if big.is_admitted() {
            prop_assert!(small.is_admitted());
        }
    }
}

#[test]
fn a_deposit_counts_again_only_when_changes_could_decide_maxmsg() {
    use imapvm_policy::{Limits, recount_before_admission};
    let limits = Limits {
        maxmsg: 10,
        ..Limits::default()
    };
    // Nothing changed during the count: never.
    assert!(!recount_before_admission(9, 0, limits));
    // Far from the limit: the count can only shift the message number.
    assert!(!recount_before_admission(5, 2, limits));
    // 7 counted, 2 changes: the truth may be 9 (room for one) or 5; 7 + 2 + 1 = 10.
    assert!(recount_before_admission(7, 2, limits));
    // At the limit with a change (an expunge may have made room).
    assert!(recount_before_admission(10, 1, limits));
    // maxmsg 0 (greetings only): any change.
    let none = Limits {
        maxmsg: 0,
        ..Limits::default()
    };
    assert!(recount_before_admission(0, 1, none));
}

/// Moved from the runtime's multi-recipient deposit (`deliver.rs`), where it was a unit test.
#[test]
fn promised_quota_counts_against_later_copies_on_the_same_root() {
    use imapvm_policy::QuotaLedger;
    let quota = vec![
        (
            "User quota".to_owned(),
            QuotaResource {
                name: QuotaResourceName::Storage,
                usage: 100,
                limit: 200,
            },
        ),
        (
            "User quota".to_owned(),
            QuotaResource {
                name: QuotaResourceName::Message,
                usage: 1,
                limit: 20,
            },
        ),
        (
            "Other root".to_owned(),
            QuotaResource {
                name: QuotaResourceName::Storage,
                usage: 7,
                limit: 200,
            },
        ),
    ];
    let mut ledger = QuotaLedger::default();
    assert_eq!(
        ledger.adjusted(&quota[..2]),
        [quota[0].1.clone(), quota[1].1.clone()]
    );
    ledger.promise(&quota[..2], 60 * 1024);
    ledger.promise(&quota[..2], 1);
    let adjusted = ledger.adjusted(&quota);
    // 60 KiB + 1 byte (rounded up to 1 KiB), two messages, on "User quota" only.
    assert_eq!(
        adjusted.iter().map(|r| r.usage).collect::<Vec<_>>(),
        [161, 3, 7]
    );
    // A copy of 39 KiB still fits (161 + 39 = 200); the promise makes the next one not.
    let l = Limits::default();
    assert!(
        admit(
            voicemail(39 * 1024, 5),
            l,
            MwiState::Known(MwiCounts::default()),
            0,
            &adjusted
        )
        .is_admitted()
    );
    assert!(
        !admit(
            voicemail(40 * 1024, 5),
            l,
            MwiState::Known(MwiCounts::default()),
            0,
            &adjusted
        )
        .is_admitted()
    );
}

#[test]
fn a_forward_destination_is_checked_for_quota_and_maxmsg_only() {
    let l = Limits {
        maxmsg: 10,
        minsecs: 3,
        maxsecs: 60,
        maxgreet: 30,
    };
    assert_eq!(
        l.for_forward(),
        Limits {
            maxmsg: 10,
            minsecs: 0,
            maxsecs: 0,
            maxgreet: 30,
        }
    );
    // A 1-second message is too short for a deposit, not for a forward.
    let counts = MwiState::Known(MwiCounts::default());
    assert!(!admit(voicemail(1000, 1), l, counts, 0, &[]).is_admitted());
    assert!(admit(voicemail(1000, 1), l.for_forward(), counts, 0, &[]).is_admitted());
}

/// Before the beep, Asterisk refuses at `total >= maxmsg` and at `usage >= limit`; the
/// message recorded into the last free slot is then stored whatever the count says.
#[test]
fn a_caller_is_judged_before_recording_and_the_last_slot_is_kept() {
    let l = Limits {
        maxmsg: 3,
        ..Limits::default()
    };
    assert!(
        admit_caller(l, holding(2), &[]).is_admitted(),
        "the last free slot"
    );
    assert!(matches!(
        admit_caller(l, holding(3), &[]).primary(),
        Some(Refusal::MailboxFull { count: 3, .. })
    ));
    let zero = Limits { maxmsg: 0, ..l };
    assert!(
        !admit_caller(zero, holding(0), &[]).is_admitted(),
        "greetings only"
    );
    assert_eq!(
        admit_caller(l, MwiState::Unknown, &[]).primary(),
        Some(&Refusal::CountUnknown)
    );
    assert!(admit_caller(l, holding(0), &[res("STORAGE", 99, 100)]).is_admitted());
    assert!(matches!(
        admit_caller(l, holding(0), &[res("STORAGE", 100, 100)]).primary(),
        Some(Refusal::OverQuotaStorage { .. })
    ));
    assert!(matches!(
        admit_caller(l, holding(0), &[res("MESSAGE", 20, 20)]).primary(),
        Some(Refusal::OverQuotaMessages { .. })
    ));
    assert!(
        admit_caller(l, holding(0), &[res("STORAGE", 500, 0)]).is_admitted(),
        "no limit"
    );
    // Once admitted, the recording is stored although the box filled up meanwhile.
    let after = l.after_admission();
    assert!(admit(voicemail(1000, 1), after, holding(3), 0, &[]).is_admitted());
    assert!(
        !admit(
            voicemail(200 * 1024, 1),
            after,
            holding(3),
            0,
            &[res("STORAGE", 50, 100)]
        )
        .is_admitted(),
        "quota still counts"
    );
}

/// Dovecot refuses an APPEND over quota with RFC 9208's code (docs/compatibility.md), also
/// when it comes in place of the `+` of a synchronising literal.
#[test]
fn dovecot_overquota_code_means_mailbox_full() {
    assert!(server_says_over_quota(
        Some(&ResponseCode::OverQuota),
        "Quota exceeded (mailbox full)"
    ));
    // The code decides, whatever the (localised) text says.
    assert!(server_says_over_quota(
        Some(&ResponseCode::OverQuota),
        "Kontingent überschritten"
    ));
}

/// Cyrus says `NO Over quota` with no response code: only the text tells.
#[test]
fn cyrus_plain_no_over_quota_means_mailbox_full() {
    assert!(server_says_over_quota(None, "Over quota"));
    assert!(!server_says_over_quota(None, "Mailbox does not exist"));
}

/// Courier says `NO [ALERT] You exceeded your mail quota`: ALERT is only "show this to the
/// user", so the text tells.
#[test]
fn courier_alert_about_the_quota_means_mailbox_full() {
    assert!(server_says_over_quota(
        Some(&ResponseCode::Alert),
        "You exceeded your mail quota"
    ));
    assert!(!server_says_over_quota(
        Some(&ResponseCode::Alert),
        "Server shutting down for maintenance"
    ));
}

/// RFC 5530's LIMIT means full; codes that say what else went wrong never do, whatever the
/// text mentions.
#[test]
fn other_codes_decide_by_their_meaning() {
    assert!(server_says_over_quota(
        Some(&ResponseCode::LimitCode),
        "Too many messages"
    ));
    assert!(server_says_over_quota(
        Some(&ResponseCode::Other("X-QUOTA-HIT".into())),
        "quota reached"
    ));
    for code in [
        ResponseCode::TryCreate,
        ResponseCode::TooBig,
        ResponseCode::ReadOnly,
        ResponseCode::AuthorizationFailed,
    ] {
        assert!(!server_says_over_quota(Some(&code), "quota"), "{code}");
    }
}
