//! Against the private Dovecot: the raw client, the replayer and the floor
//! on a scratch folder of their own (`bench-test-*`, removed afterwards).

use imapvm_benches::replay::replay;
use imapvm_benches::scenario::{
    Account, CONTEXT, Content, FolderSpec, PERSONAL_MAILBOX, ensure, message_count, remove,
};
use imapvm_benches::sequence::{self, Vars};
use imapvm_benches::wire::Collect;
use imapvm_benches::{fixture, floor};

fn account() -> Account {
    let server = xtask::dovecot::ensure_running().unwrap();
    Account {
        host: server.host.clone(),
        port: server.port,
        user: "vm4321".into(),
        password: server.users["vm4321"].clone(),
    }
}

#[test]
fn replayed_count_and_floor_count_agree_with_the_folder() {
    let account = account();
    let mut setup = account.connect().unwrap();
    let spec = FolderSpec {
        name: "bench-test-count".into(),
        content: Content::Voicemails {
            mailbox: PERSONAL_MAILBOX.into(),
            count: 12,
            secs: 1,
        },
    };
    remove(&mut setup, std::slice::from_ref(&spec));
    assert_eq!(ensure(&mut setup, &spec).unwrap(), 12);
    assert_eq!(
        ensure(&mut setup, &spec).unwrap(),
        0,
        "a filled folder is reused"
    );
    assert_eq!(message_count(&mut setup, &spec.name).unwrap(), Some(12));

    // 12 messages: 10 urgent(unseen), 3,6,9,12 seen, the rest (7) new.
    let mut asterisk = account.connect().unwrap();
    let mut vars = Vars {
        folder: spec.name.clone(),
        greetings: "bench-test-greetings".into(),
        ext: PERSONAL_MAILBOX.into(),
        ctx: CONTEXT.into(),
        seq: 1,
        exists: 0,
    };
    let count = sequence::builtin("count").unwrap();
    let before = asterisk.stats();
    let done = replay(&mut asterisk, &count, &mut vars, None).unwrap();
    let used = asterisk.stats() - before;
    assert_eq!(vars.exists, 12);
    assert_eq!(done.last_hits, vec![10], "the urgent search comes last");
    // 3 × (NOOP SELECT STATUS SEARCH) + 3 prefetches (each search has hits).
    assert_eq!(done.commands, 15);
    assert_eq!(used.round_trips, 15, "c-client never pipelines");

    let mut perfect = account.connect().unwrap();
    perfect
        .command(&format!("SELECT {}", spec.name), Collect::Nothing)
        .unwrap();
    let before = perfect.stats();
    let replies = perfect
        .pipeline(&floor::count(PERSONAL_MAILBOX, CONTEXT), Collect::Untagged)
        .unwrap();
    let used = perfect.stats() - before;
    let counts: Vec<Option<u32>> = replies.iter().map(|r| r.esearch_count()).collect();
    assert_eq!(counts, [Some(7), Some(4), Some(1)]);
    assert_eq!(used.round_trips, 1);

    // Deposit as Asterisk does: APPEND with a synchronising literal.
    let deposit = sequence::builtin("deposit").unwrap();
    let message = fixture::voicemail(&fixture::VoicemailSpec {
        mailbox: PERSONAL_MAILBOX.into(),
        context: CONTEXT.into(),
        msgnum: 13,
        secs: 2,
        urgent: true,
    })
    .unwrap();
    setup
        .command("CREATE bench-test-greetings", Collect::Nothing)
        .unwrap();
    let done = replay(&mut asterisk, &deposit, &mut vars, Some(&message)).unwrap();
    assert!(done.appended.is_some(), "APPENDUID from Dovecot");
    assert_eq!(message_count(&mut setup, &spec.name).unwrap(), Some(13));

    remove(
        &mut setup,
        &[
            spec,
            FolderSpec {
                name: "bench-test-greetings".into(),
                content: Content::Empty,
            },
        ],
    );
    assert_eq!(message_count(&mut setup, "bench-test-count").unwrap(), None);
    asterisk.logout();
    perfect.logout();
    setup.logout();
}
