//! Random VoiceMailMain calls: random settings, arguments and mailbox contents, a store
//! that sometimes fails, a random caller (keys, silences, recordings, hangups). Every
//! input a correct binding could give is accepted, the call ends, and the store ops only
//! ever name messages the store listed: an `Expunge` names UIDs of its own folder's
//! listings, once per folder; a fetch, a move, a forward or a `\Seen` names a listed UID.

use crate::support::{Kind, Run, Script, WALL, default_message};
use imapvm_ivr::*;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

#[derive(Debug, Clone)]
struct Setup {
    settings: Settings,
    args: Vec<String>,
    named: Option<BoxLookup>,
    /// UIDs of the urgent, new and old lists (`imapfolder`, UIDVALIDITY 7).
    urgent: Vec<u32>,
    new: Vec<u32>,
    old: Vec<u32>,
    /// How many messages each other folder holds (UIDs `index * 100 + n`).
    others: u8,
    /// One byte per store answer: below 20 the op fails.
    store: Vec<u8>,
}

fn setup() -> impl Strategy<Value = Setup> {
    let flags = proptest::collection::vec(any::<bool>(), 14);
    let args = proptest::sample::select(vec![
        vec!["1234@default".to_owned()],
        vec!["1234@default".to_owned(), "s".to_owned()],
        vec![],
        vec!["12@default".to_owned(), "p".to_owned()],
        vec!["1234@default".to_owned(), "r".to_owned()],
        vec!["1234@default".to_owned(), "a(2)".to_owned()],
        vec!["1234@default".to_owned(), "a(0)s".to_owned()],
    ]);
    let named = proptest::option::of(proptest::sample::select(vec![
        BoxLookup::Pin,
        BoxLookup::NoPin,
        BoxLookup::Unknown,
    ]));
    (
        flags,
        args,
        named,
        (0usize..4, 0usize..5, 0usize..4, 0u8..3),
        proptest::collection::vec(any::<u8>(), 64),
        (0u32..5, 1u32..4),
    )
        .prop_map(
            |(f, args, named, (u, n, o, others), store, (minpassword, maxlogins))| {
                let settings = Settings {
                    messagewrap: f[0],
                    nextaftercmd: f[1],
                    saycid: f[2],
                    cidinternalcontexts: if f[3] { vec!["default".into()] } else { vec![] },
                    callback: f[4].then(|| "cb".to_owned()),
                    dialout: f[5].then(|| "out".to_owned()),
                    sendvoicemail: f[6],
                    operator: f[7],
                    review: f[8],
                    forcename: f[9],
                    tempgreetwarn: f[10],
                    password_locked: f[11],
                    forward_urgent_auto: f[12],
                    leaveurgent: f[13],
                    minpassword,
                    maxlogins,
                    maxsecs: 60,
                    dialplan: Dialplan {
                        extension_a: true,
                        extension_o: true,
                        extension_a_current: true,
                        exitcontext: None,
                    },
                    ..Settings::default()
                };
                Setup {
                    settings,
                    args,
                    named,
                    urgent: (21..).take(u).collect(),
                    new: (31..).take(n).collect(),
                    old: (61..).take(o).collect(),
                    others,
                    store,
                }
            },
        )
}

fn uv() -> UidValidity {
    UidValidity::new(7).unwrap()
}

fn rows(uids: &[u32], urgent: bool, seen: bool) -> Vec<MessageInfo> {
    uids.iter()
        .map(|u| MessageInfo {
            urgent,
            seen,
            caller_id_num: if u.is_multiple_of(2) {
                "2000".into()
            } else {
                String::new()
            },
            duration_secs: u * 7,
            origtime: Some(WALL - 600),
            ..default_message(*u)
        })
        .collect()
}

fn folder_uids(setup: &Setup, folder: Folder) -> Vec<u32> {
    match folder {
        Folder::Urgent => setup.urgent.clone(),
        Folder::Inbox => setup.new.clone(),
        Folder::Old => setup.old.clone(),
        other => {
            let base = u32::try_from(other.index()).unwrap() * 100;
            (1..=u32::from(setup.others)).map(|n| base + n).collect()
        }
    }
}

/// The answer to `op`; `c` below 20 makes it fail.
fn store_reply(setup: &Setup, op: &StoreOp, c: u8) -> StoreReply {
    let fail = c < 20;
    match op {
        StoreOp::Lookup { .. } => StoreReply::Lookup(if fail {
            BoxLookup::Unknown
        } else if c.is_multiple_of(2) {
            BoxLookup::Pin
        } else {
            BoxLookup::NoPin
        }),
        StoreOp::Authenticate { .. } => StoreReply::Authenticate(match c {
            0..=9 => AuthReply::Locked {
                retry_in: Duration::from_secs(600),
            },
            10..=19 => AuthReply::Unavailable,
            20..=79 => AuthReply::Wrong,
            _ => AuthReply::Granted(Box::new(Granted {
                settings: setup.settings.clone(),
                new_user: c.is_multiple_of(5),
            })),
        }),
        StoreOp::Summary { .. } if fail => StoreReply::Summary(Err(StoreUnavailable)),
        StoreOp::Summary { .. } => StoreReply::Summary(Ok(Box::new(Summary {
            uid_validity: uv(),
            urgent: rows(&setup.urgent, true, false),
            new: rows(&setup.new, false, false),
            old: rows(&setup.old, false, true),
            quota_full: c.is_multiple_of(7),
            temp_greeting: c.is_multiple_of(3),
        }))),
        StoreOp::List { .. } if fail => StoreReply::List(Err(StoreUnavailable)),
        StoreOp::List { folder, .. } => StoreReply::List(Ok(Listing {
            uid_validity: uv(),
            messages: rows(&folder_uids(setup, *folder), false, *folder == Folder::Old),
        })),
        StoreOp::Fetch { message, .. } => StoreReply::Fetch(match c {
            0..=9 => Fetched::Unavailable,
            10..=19 => Fetched::Gone,
            _ => Fetched::Audio {
                audio: SpoolName::new(&format!("a{}", message.uid)).unwrap(),
                intro: (c.is_multiple_of(4)).then(|| SpoolName::new("intro").unwrap()),
            },
        }),
        StoreOp::MarkSeen { .. } => {
            StoreReply::MarkSeen(if fail { Err(StoreUnavailable) } else { Ok(()) })
        }
        StoreOp::Expunge { .. } => {
            StoreReply::Expunge(if fail { Err(StoreUnavailable) } else { Ok(()) })
        }
        StoreOp::Move { .. } => StoreReply::Move(match c {
            0..=9 => Moved::Unavailable,
            10..=14 => Moved::Full,
            15..=19 => Moved::Gone,
            _ => Moved::Done,
        }),
        StoreOp::Forward { .. } => {
            StoreReply::Forward(if fail { Err(StoreUnavailable) } else { Ok(()) })
        }
        StoreOp::CheckTarget { .. } => StoreReply::Target(match c {
            0..=9 => TargetCheck::Unavailable,
            10..=19 => TargetCheck::Full,
            20..=59 => TargetCheck::Unknown,
            _ => TargetCheck::Valid {
                name: (c.is_multiple_of(2)).then(|| SpoolName::new("greet").unwrap()),
            },
        }),
        StoreOp::GreetingSet { .. } => {
            StoreReply::GreetingSet(if fail { Err(StoreUnavailable) } else { Ok(()) })
        }
        StoreOp::GreetingDelete { .. } => {
            StoreReply::GreetingDelete(if fail { Err(StoreUnavailable) } else { Ok(()) })
        }
        StoreOp::ChangePassword { .. } => StoreReply::ChangePassword(match c {
            0..=9 => PasswordChange::Unavailable,
            10..=19 => PasswordChange::Refused,
            _ => PasswordChange::Changed,
        }),
        StoreOp::Admit { .. } => StoreReply::Admit(if fail {
            Admission::UnknownMailbox
        } else {
            Admission::Admitted
        }),
        StoreOp::Greeting { .. } => {
            StoreReply::Greeting((c.is_multiple_of(3)).then(|| SpoolName::new("greeting").unwrap()))
        }
        StoreOp::Deposit(_) => StoreReply::Deposit(if fail {
            DepositOutcome::Failed
        } else {
            DepositOutcome::Queued
        }),
        StoreOp::Discard { .. } => StoreReply::Discarded,
    }
}

/// The caller's (or the channel's) answer to `action`, chosen by `c`: keys favour the
/// main menu's digits.
fn channel_answer(id: ActionId, action: &ChannelAction, c: u8) -> Input {
    // 0-9, * and #.
    let key = Dtmf::ALL[usize::from(c / 2) % 12];
    if let Some(escape) = action.prompt_keys() {
        return Input::PromptDone {
            id,
            interrupted_by: (c.is_multiple_of(3) && escape.contains(key)).then_some(key),
        };
    }
    match action {
        ChannelAction::WaitDigit(_) => match c % 4 {
            0 => Input::Timeout { id },
            _ => Input::Digit { id, key },
        },
        ChannelAction::Record(spec) => Input::Recorded {
            id,
            duration: Duration::from_secs(u64::from(c % 20)),
            ended_by: match c % 5 {
                0 => RecordEnd::MaxLength,
                1 => RecordEnd::Silence,
                2 if c > 200 => RecordEnd::Hangup,
                3 if c > 200 => RecordEnd::Failed,
                _ => spec
                    .escape
                    .iter()
                    .next()
                    .map_or(RecordEnd::MaxLength, RecordEnd::Dtmf),
            },
        },
        _ => Input::Hangup,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn random_sessions_end_and_touch_only_listed_messages(
        setup in setup(),
        choices in proptest::collection::vec(any::<u8>(), 8..400),
    ) {
        let mut script = Script::synthetic(Kind::Main, setup.settings.clone(), setup.args.clone());
        script.named = setup.named;
        script.caller = Some("1234".into());
        let mut run = Run::new(&script);
        let mut choices = choices.into_iter();
        let mut answers = setup.store.iter().copied().cycle();
        for _ in 0..2000 {
            if run.finished() {
                break;
            }
            if run.call.poll_timeout().is_some() && run.channel().is_none() && run.store().is_empty() {
                run.fire_timer();
                continue;
            }
            let reply = |(id, op): &(ActionId, StoreOp), c: u8| Input::StoreReply {
                id: *id,
                reply: store_reply(&setup, op, c),
            };
            let input = match choices.next() {
                None => match run.store().first() {
                    Some(pending) if run.call.is_hung_up() => reply(pending, 200),
                    _ => Input::Hangup,
                },
                Some(c) => match (run.store().first(), run.channel()) {
                    (Some(pending), None) => reply(pending, answers.next().unwrap_or(200)),
                    (Some(pending), Some(_)) if c.is_multiple_of(4) => {
                        reply(pending, answers.next().unwrap_or(200))
                    }
                    (_, Some(_)) if c == 255 => Input::Hangup,
                    (_, Some((id, action))) => channel_answer(*id, action, c),
                    (None, None) => panic!("the call waits for nothing: {:?}", run.actions.last()),
                },
            };
            run.feed(input);
        }
        prop_assert!(run.finished(), "no end after 2000 steps: {:?}", run.actions.last());
        let Some(Action::Finished { vmstatus, .. }) = run.actions.last() else {
            panic!("Finished is not last");
        };
        prop_assert_eq!(*vmstatus, None);

        // What the store listed, per IMAP folder.
        let mut listed: BTreeMap<Folder, BTreeSet<u32>> = BTreeMap::new();
        for folder in Folder::ALL.into_iter().filter(|f| (0..=11).contains(&f.index())) {
            let storage = match folder {
                Folder::Urgent | Folder::Inbox | Folder::Old => Folder::Inbox,
                other => other,
            };
            listed.entry(storage).or_default().extend(folder_uids(&setup, folder));
        }
        let mut expunged = BTreeSet::new();
        for action in &run.actions {
            let Action::Store { op, .. } = action else { continue };
            match op {
                StoreOp::Expunge { folder, uids, .. } => {
                    prop_assert!(expunged.insert(*folder), "{} expunged twice", folder);
                    for uid in uids.iter() {
                        prop_assert!(
                            listed[folder].contains(&uid.get()),
                            "expunge of {} in {}, never listed there", uid, folder
                        );
                    }
                }
                StoreOp::Fetch { message, .. }
                | StoreOp::MarkSeen { message, .. }
                | StoreOp::Move { message, .. }
                | StoreOp::Forward { message, .. } => {
                    prop_assert!(
                        listed[&message.storage()].contains(&message.uid.get()),
                        "{} names an unlisted message", op
                    );
                }
                _ => {}
            }
        }
    }
}
