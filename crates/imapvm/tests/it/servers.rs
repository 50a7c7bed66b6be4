//! The runtime on the servers people run: Dovecot, Cyrus (`INBOX/` with `/`) and Courier
//! (`INBOX.` with `.`), each also with its "old server" personality (no UIDPLUS, MOVE,
//! NOTIFY, CONDSTORE). Every core operation runs on each of the six; where a server lacks
//! something the scenario asserts the fallback the policy picked, never a skip.
//!
//! The six scenarios run concurrently in one test, and the test then writes its part of
//! `docs/compatibility.md` from what the servers advertised and what the runtime did: it
//! fails when the committed file differs (writing the new text beside it as
//! `compatibility.md.new`), so the table cannot drift from the code. The personalities and
//! the document's checking are `imapvm_harness::servers`'s (the MWI watcher's part of the
//! document is written by `imapvm-watch`'s tests).
//!
//! Isolation on shared servers and users: every scenario uses its own voicemail context
//! (`box@<unique context>`) and its own `imapfolder`, so counts never see another test's mail.

mod quota_proxy;

use std::fmt::Write as _;
use std::path::PathBuf;

use imapvm::{
    Audio, DepositRefusal, Error, FlagOp, Folder, MessageRef, MessageState, MwiCounts,
    NewVoicemail, Probe, Store, Urgency,
};
use imapvm_harness::scripted::{Command, Imap, Log, plain};
use imapvm_harness::servers::{
    Column, DocPart, Kind, Target, check_compatibility, on_every_personality, table, target,
};
use imapvm_policy::{
    Capabilities, ExpungeContext, ExpungePlan, ForeignDeleted, MailboxName, Sharing, Step, Uid,
    UidSet, UidValidity, plan_delete, plan_move,
};
use imapvm_testkit::{Peer, Reply};

use crate::{unique, wav};
use quota_proxy::QuotaProxy;

fn recording(millis: u32) -> NewVoicemail {
    NewVoicemail {
        recording: Some(Audio {
            format: "wav".into(),
            bytes: wav(millis, 440.0),
        }),
        caller_id_num: "5551001".into(),
        caller_id_name: "Caller".into(),
        duration_secs: millis.div_ceil(1000),
        ..NewVoicemail::default()
    }
}

fn counts(new: u32, urgent: u32, old: u32) -> (u32, u32, u32) {
    (new, urgent, old)
}

fn triple(c: MwiCounts) -> (u32, u32, u32) {
    (c.new, c.urgent, c.old)
}

fn has(probe: &Probe, cap: &str) -> bool {
    probe
        .capabilities
        .iter()
        .any(|c| c.eq_ignore_ascii_case(cap))
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

/// The plan's steps in a few words (what the table shows).
fn plan_words(plan: &ExpungePlan) -> String {
    let words: Vec<&str> = plan
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::EnsureMailbox { .. } => None,
            Step::StoreFlags { .. } => Some("STORE +\\Deleted"),
            Step::UidCopy { .. } => Some("UID COPY"),
            Step::UidMove { .. } => Some("UID MOVE"),
            Step::UidExpunge { .. } => Some("UID EXPUNGE"),
            Step::VerifyDeletedThenExpunge { .. } => Some("SEARCH DELETED, EXPUNGE if only ours"),
            Step::Defer { .. } => Some("defer (left \\Deleted)"),
            _ => Some("?"),
        })
        .collect();
    words.join(" → ")
}

fn context(
    probe: &Probe,
    folder: &str,
    uid_validity: UidValidity,
    sharing: Sharing,
) -> ExpungeContext {
    ExpungeContext {
        mailbox: MailboxName::from_wire(folder).unwrap(),
        uidvalidity: uid_validity,
        capabilities: Capabilities::from_atoms(&probe.capabilities),
        sharing,
        expunge_on_hangup: true,
    }
}

fn one(uid: Uid) -> UidSet {
    UidSet::single(uid)
}

fn ends_in_uid_expunge(plan: &ExpungePlan) -> bool {
    matches!(plan.steps.last(), Some(Step::UidExpunge { .. }))
}

/// What one personality advertised and what the runtime did there (the table's column).
/// The rows of the table, in order, with what each says.
const ROWS: &[&str] = &[
    "TLS",
    "Login",
    "Proxy login (`authuser`)",
    "IDLE",
    "NOTIFY",
    "UIDPLUS",
    "MOVE",
    "QUOTA",
    "ESEARCH",
    "LITERAL+",
    "Namespace, delimiter",
    "`Work` folder",
    "`Family` with `imapparentfolder=VM-Parent`",
    "Count (warm: 1 round trip)",
    "Deposit UID from",
    "Delete, dedicated folder",
    "Delete, folder shared with mail (INBOX)",
    "Move to `Work`",
    "Over quota: server's answer to APPEND",
    "Over quota: imapvm's result",
];

/// Every core operation on one personality; returns its column.
async fn scenario(t: Target) -> Column {
    let mut col = Column::default();
    let label = t.label();
    let (section, id) = t.own_box("vm1234");
    let folder = unique("srv");
    let store = t.store(
        "srv",
        &format!("imapfolder={folder}\ngreetingsfolder={folder}-greetings"),
        &section,
    );
    let mb = store.mailbox(&id).unwrap();

    // --- probe: what the server says about itself.
    let probe = mb.probe().await.unwrap();
    let (prefix, delimiter) = t.expected_namespace();
    assert_eq!(
        (probe.namespace.as_str(), probe.delimiter),
        (prefix, Some(delimiter)),
        "{label}: namespace"
    );
    col.set(
        "Namespace, delimiter",
        format!(
            "`\"{}\"`, `{}`",
            probe.namespace,
            probe.delimiter.map(String::from).unwrap_or_default()
        ),
    );
    for cap in [
        "IDLE", "NOTIFY", "UIDPLUS", "MOVE", "QUOTA", "ESEARCH", "LITERAL+",
    ] {
        col.set(
            match cap {
                "IDLE" => "IDLE",
                "NOTIFY" => "NOTIFY",
                "UIDPLUS" => "UIDPLUS",
                "MOVE" => "MOVE",
                "QUOTA" => "QUOTA",
                "ESEARCH" => "ESEARCH",
                _ => "LITERAL+",
            },
            yes_no(has(&probe, cap)),
        );
    }
    if t.old {
        for cap in ["UIDPLUS", "MOVE", "NOTIFY", "CONDSTORE"] {
            assert!(!has(&probe, cap), "{label} advertises {cap}");
        }
    }
    let uidplus = has(&probe, "UIDPLUS");
    let esearch = has(&probe, "ESEARCH");
    let searchres = has(&probe, "SEARCHRES");

    // --- deposit: two new, one urgent.
    let a = mb.deposit(&recording(400)).await.unwrap();
    let b = mb.deposit(&recording(300)).await.unwrap();
    let mut urgent = recording(300);
    urgent.urgency = Urgency::Urgent;
    let c = mb.deposit(&urgent).await.unwrap();
    assert_eq!(
        triple(c.counts),
        counts(2, 1, 0),
        "{label}: counts after deposits"
    );
    assert_eq!(
        (a.number.map(|n| n.get()), c.number.map(|n| n.get())),
        (Some(1), Some(3)),
        "{label}: numbers"
    );
    // With UIDPLUS the UID comes from APPENDUID; without it, from APPENDUID if the server
    // sends one anyway, else from a search by msg id (the "old" personalities only hide the
    // capability, and their servers still answer APPENDUID).
    if uidplus {
        assert!(
            a.from_appenduid && b.from_appenduid && c.from_appenduid,
            "{label}"
        );
    }
    col.set(
        "Deposit UID from",
        match (uidplus, c.from_appenduid) {
            (true, _) => "APPENDUID",
            (false, true) => "APPENDUID (sent without UIDPLUS advertised)",
            (false, false) => "SEARCH by msg id (no APPENDUID)",
        },
    );

    // --- count: one round trip on the warm connection, whichever way it counts.
    let before = mb.connection_stats().await.unwrap().round_trips;
    assert_eq!(
        triple(mb.count().await.unwrap()),
        counts(2, 1, 0),
        "{label}"
    );
    let trips = mb.connection_stats().await.unwrap().round_trips - before;
    assert!(trips <= 1, "{label}: count took {trips} round trips");
    col.set(
        "Count (warm: 1 round trip)",
        if searchres {
            "the known UIDs' `UID FETCH (FLAGS)` + `UID SEARCH RETURN (SAVE)` of the rest + `UID FETCH $` (SEARCHRES)"
        } else if esearch {
            "Asterisk's 3 searches + old-urgent, pipelined, `ESEARCH` by tag"
        } else {
            "1 `UID SEARCH` + `UID FETCH (FLAGS)` (no ESEARCH)"
        },
    );

    // --- list and play.
    let listing = mb.list(None).await.unwrap();
    let rows: Vec<(u32, Uid, Option<MessageState>)> = listing
        .messages
        .iter()
        .map(|m| (m.number.get(), m.uid, m.state))
        .collect();
    assert_eq!(
        rows,
        vec![
            (1, a.uid, Some(MessageState::New)),
            (2, b.uid, Some(MessageState::New)),
            (3, c.uid, Some(MessageState::Urgent)),
        ],
        "{label}: listing"
    );
    assert_eq!(listing.folder, t.wire(&[&folder]), "{label}: imapfolder");
    let played = mb.play(crate::support::number(1), None).await.unwrap();
    assert_eq!(played.uid, a.uid);
    assert_eq!(
        played.voicemail.audio[0].bytes,
        wav(400, 440.0),
        "{label}: audio"
    );
    assert_eq!(
        triple(mb.count().await.unwrap()),
        counts(1, 1, 1),
        "{label}"
    );

    // --- flags: read/unread/urgent, each seen by Asterisk's own count searches.
    let flag = |target: Uid, op: FlagOp| {
        let mb = mb.clone();
        async move {
            mb.set_flag(MessageRef::Uid(target), None, op)
                .await
                .unwrap()
        }
    };
    assert_eq!(flag(b.uid, FlagOp::Urgent).await.done, vec![b.uid]);
    assert_eq!(
        triple(mb.count().await.unwrap()),
        counts(0, 2, 1),
        "{label}"
    );
    flag(b.uid, FlagOp::NotUrgent).await;
    flag(a.uid, FlagOp::MarkUnread).await;
    flag(c.uid, FlagOp::MarkRead).await;
    let out = t.py(&format!(
        r#"
m = C("vm1234")
sel(m, {f:?})
who = ['HEADER', 'X-Asterisk-VM-Extension', '1234', 'HEADER', 'X-Asterisk-VM-Context', {ctx:?}]
print(uids(m, 'UNDELETED', 'UNFLAGGED', 'UNSEEN', *who), uids(m, 'UNDELETED', 'FLAGGED', 'UNSEEN', *who), uids(m, 'UNDELETED', 'SEEN', *who))
"#,
        f = listing.folder,
        ctx = id.split('@').nth(1).unwrap(),
    ));
    assert_eq!(
        out.trim(),
        format!("[{}, {}] [] [{}]", a.uid, b.uid, c.uid),
        "{label}: flags as the mail client sees them"
    );
    assert_eq!(
        triple(mb.count().await.unwrap()),
        counts(2, 0, 1),
        "{label}"
    );

    // --- move to Work: the folder name comes from the server's namespace.
    let work = t.wire(&["Work"]);
    let uv = listing.uid_validity;
    let move_plan = plan_move(
        &context(&probe, &listing.folder, uv, Sharing::Dedicated),
        &one(b.uid),
        &ForeignDeleted::Unknown,
        &MailboxName::from_wire(&work).unwrap(),
    )
    .unwrap();
    let moved = mb
        .move_to(MessageRef::Uid(b.uid), None, Folder::Work)
        .await
        .unwrap();
    assert_eq!(moved.destination.as_deref(), Some(work.as_str()), "{label}");
    let in_work = mb.list(Some(Folder::Work)).await.unwrap();
    assert_eq!(in_work.folder, work);
    assert!(
        in_work
            .messages
            .iter()
            .any(|m| m.msg_id.as_deref() == Some(b.msg_id.as_str())),
        "{label}: moved message not in {work}"
    );
    // Never a visible original left behind (Asterisk leaves one,
    // docs/reference/asterisk-imap-behaviour.md §4.7).
    assert_eq!(
        triple(mb.count().await.unwrap()),
        counts(1, 0, 1),
        "{label}"
    );
    if !has(&probe, "MOVE") {
        assert!(
            !move_plan
                .steps
                .iter()
                .any(|s| matches!(s, Step::UidMove { .. })),
            "{label}"
        );
    }
    col.set("`Work` folder", format!("`{work}`"));
    col.set("Move to `Work`", plan_words(&move_plan));

    // --- imapparentfolder: Family under VM-Parent, in the server's hierarchy.
    let parented = t.store(
        "srv-parent",
        &format!(
            "imapfolder={folder}\ngreetingsfolder={folder}-greetings\nimapparentfolder=VM-Parent"
        ),
        &section,
    );
    let pmb = parented.mailbox(&id).unwrap();
    let report = pmb
        .move_to(MessageRef::Uid(a.uid), None, Folder::Family)
        .await
        .unwrap();
    let family = t.wire(&["VM-Parent", "Family"]);
    assert_eq!(
        report.destination.as_deref(),
        Some(family.as_str()),
        "{label}"
    );
    let found = t.py(&format!(
        "m = C('vm1234')\nprint(len(by_msg_id(m, {family:?}, {id:?})))",
        id = a.msg_id
    ));
    assert_eq!(found.trim(), "1", "{label}: {family}");
    col.set(
        "`Family` with `imapparentfolder=VM-Parent`",
        format!("`{family}`"),
    );
    parented.close().await;

    // --- delete in the dedicated folder, with the user's own \Deleted mail present.
    let foreign = unique("foreign");
    t.py(&format!(
        "m = C('vm1234')\nordinary(m, {f:?}, {foreign:?}, '(\\\\Deleted)')",
        f = listing.folder
    ));
    let d = mb.deposit(&recording(300)).await.unwrap();
    let dedicated = plan_delete(
        &context(&probe, &listing.folder, uv, Sharing::Dedicated),
        &one(d.uid),
        &ForeignDeleted::Unknown,
    )
    .unwrap();
    let report = mb.delete(&[MessageRef::Uid(d.uid)], None).await.unwrap();
    if uidplus {
        assert!(ends_in_uid_expunge(&dedicated), "{label}");
        assert_eq!(report.expunged, vec![d.uid], "{label}: {report:?}");
    } else {
        // A verified EXPUNGE: the user's \Deleted mail is there, so it waits.
        assert!(
            matches!(
                dedicated.steps.last(),
                Some(Step::VerifyDeletedThenExpunge { .. })
            ),
            "{label}"
        );
        assert_eq!(
            report.deferred.iter().map(|x| x.uid).collect::<Vec<_>>(),
            vec![d.uid],
            "{label}: {report:?}"
        );
    }
    col.set("Delete, dedicated folder", plan_words(&dedicated));
    let survived = t.py(&format!(
        "m = C('vm1234')\nsel(m, {f:?})\nprint(len(uids(m, 'SUBJECT', {foreign:?})))",
        f = listing.folder
    ));
    assert_eq!(survived.trim(), "1", "{label}: the user's \\Deleted mail");
    assert_eq!(
        triple(mb.count().await.unwrap()),
        counts(0, 0, 1),
        "{label}"
    );

    // --- delete in INBOX, a folder shared with the user's mail.
    let shared = t.store(
        "srv-inbox",
        "imapfolder=INBOX\ngreetingsfolder=INBOX",
        &section,
    );
    let smb = shared.mailbox(&id).unwrap();
    let foreign = unique("foreign-inbox");
    t.py(&format!(
        "m = C('vm1234')\nordinary(m, 'INBOX', {foreign:?}, '(\\\\Deleted)')"
    ));
    let e = smb.deposit(&recording(300)).await.unwrap();
    let inbox_plan = plan_delete(
        &context(&probe, "INBOX", e.uid_validity, Sharing::SharedWithMail),
        &one(e.uid),
        &ForeignDeleted::Unknown,
    )
    .unwrap();
    let report = smb.delete(&[MessageRef::Uid(e.uid)], None).await.unwrap();
    if uidplus {
        assert_eq!(report.expunged, vec![e.uid], "{label}: {report:?}");
    } else {
        assert!(report.expunged.is_empty(), "{label}: {report:?}");
        assert_eq!(report.deferred.len(), 1, "{label}: {report:?}");
    }
    assert_eq!(smb.count().await.unwrap(), MwiCounts::default(), "{label}");
    let out = t.py(&format!(
        r#"
m = C('vm1234')
sel(m, 'INBOX')
mine = uids(m, 'SUBJECT', {foreign:?})
print(len(mine), flags(m, mine[0]).count('Deleted'))
# Tidy up on the main personality (it has UIDPLUS): the user's mail and a deferred voicemail.
m = connect('vm1234')
sel(m, 'INBOX')
gone = uids(m, 'SUBJECT', {foreign:?}) + uids(m, 'DELETED', 'HEADER', 'X-Asterisk-VM-Message-ID', {msg:?})
check(m.uid('EXPUNGE', ','.join(str(u) for u in gone)), 'tidy')
"#,
        msg = e.msg_id
    ));
    assert_eq!(
        out.trim(),
        "1 1",
        "{label}: the user's \\Deleted mail in INBOX"
    );
    col.set(
        "Delete, folder shared with mail (INBOX)",
        plan_words(&inbox_plan),
    );
    shared.close().await;

    // --- greetings.
    let audio = Audio {
        format: "wav".into(),
        bytes: wav(300, 660.0),
    };
    mb.greeting_set("unavail", &audio, 1).await.unwrap();
    let g = mb.greeting_get("unavail").await.unwrap().expect("greeting");
    assert_eq!(g.audio.bytes, audio.bytes, "{label}: greeting audio");
    mb.greeting_delete("unavail").await.unwrap();
    assert!(
        mb.greeting_get("unavail").await.unwrap().is_none(),
        "{label}"
    );

    // --- TLS and login.
    let prelogin = t.py(
        r#"
host, port = (INFO["old_host"], INFO["old_port"]) if C is connect_old else (INFO["host"], INFO["port"])
m = imaplib.IMAP4(host, port)
m.starttls(ssl_context=CTX)
print(" ".join(m.capabilities))
"#,
    );
    let sasl_plain = prelogin.split_whitespace().any(|c| c == "AUTH=PLAIN");
    col.set(
        "Login",
        if sasl_plain {
            "SASL PLAIN"
        } else {
            "LOGIN (no SASL PLAIN)"
        },
    );
    if t.old {
        col.set(
            "TLS",
            "STARTTLS (verified); no implicit-TLS listener of its own",
        );
    } else {
        let imaps = t.store(
            "srv-imaps",
            &format!(
                "imapport={}\nimapflags=ssl\nimapfolder={folder}\ngreetingsfolder={folder}-greetings",
                t.info.imaps_port
            ),
            &section,
        );
        let counted = imaps.mailbox(&id).unwrap().count().await.unwrap();
        assert_eq!(triple(counted), counts(0, 0, 1), "{label}: implicit TLS");
        imaps.close().await;
        col.set("TLS", "STARTTLS (verified), implicit TLS (verified)");
    }

    // --- proxy login.
    col.set("Proxy login (`authuser`)", proxy_login(&t).await);

    store.close().await;

    // --- quota.
    let (esearch_answers, answer, result) = over_quota(&t).await;
    // The count seen on the wire: with SEARCHRES none (the known UIDs' flags are fetched and
    // the rest is searched with `RETURN (SAVE)`, whose answer is the `FETCH $` that follows);
    // else five tagged ESEARCH answers where offered (Asterisk's three counts, old-and-flagged,
    // and the header-keys search the voicemail-UID cache learns from); else none.
    assert_eq!(
        esearch_answers,
        if esearch && !searchres { 5 } else { 0 },
        "{label}: ESEARCH answers to one count"
    );
    col.set("Over quota: server's answer to APPEND", answer);
    col.set("Over quota: imapvm's result", result);
    col
}

/// A proxy login (`authuser` on behalf of vm1234): honoured where the server has a master or
/// proxy user; refused by imapvm, before any credential, where the server ignores authzid.
async fn proxy_login(t: &Target) -> String {
    let label = t.label();
    let (section, id) = t.own_box("vm1234");
    let folder = unique("srv-proxy");
    let (auth_user, auth_password, how) = match &t.info.master {
        Some(master) => (
            master.user.clone(),
            master.password.clone(),
            match t.kind {
                Kind::Cyrus => "`proxyservers` user",
                _ => "master user",
            },
        ),
        None => ("vm4321".to_owned(), t.pw("vm4321"), ""),
    };
    let store = t.store(
        "srv-proxy",
        &format!("imapfolder={folder}\nauthuser={auth_user}\nauthpassword={auth_password}"),
        &section,
    );
    let mb = store.mailbox(&id).unwrap();
    let outcome = mb.deposit(&recording(300)).await;
    store.close().await;
    let wire = t.wire(&[&folder]);
    let check = |user: &str| {
        t.py(&format!(
            "m = C({user:?})\ndata = check(m.list('\"\"', '\"%s\"' % {wire:?}), 'list')\nprint(sum(1 for d in data if d))"
        ))
    };
    if t.info.master.is_some() {
        let d = outcome.unwrap_or_else(|e| panic!("{label}: proxy deposit: {e}"));
        let found = t.py(&format!(
            "m = C('vm1234')\nprint(len(by_msg_id(m, {wire:?}, {:?})))",
            d.msg_id
        ));
        assert_eq!(
            found.trim(),
            "1",
            "{label}: proxy deposit in vm1234's mailbox"
        );
        format!("SASL PLAIN with authzid ({how}): honoured")
    } else {
        let err = outcome.expect_err("a proxy login on a server that ignores authzid");
        assert!(matches!(err, Error::Insecure { .. }), "{label}: {err}");
        assert!(
            err.to_string()
                .contains("ignores the SASL authorization identity"),
            "{label}: {err}"
        );
        // Nothing was created in either mailbox.
        for user in ["vm1234", "vm4321"] {
            assert_eq!(check(user).trim(), "0", "{label}: {wire} of {user}");
        }
        "refused by imapvm before login: the server ignores authzid".to_owned()
    }
}

/// A deposit too big for vm5678's quota, twice: with the quota visible (admission refuses
/// before any APPEND) and with the QUOTA capability hidden by a proxy (the server refuses
/// the APPEND). Both must be the same typed "mailbox full" result. Returns how many
/// `* ESEARCH` answers a count got through the proxy, and the table cells.
async fn over_quota(t: &Target) -> (usize, String, String) {
    let label = t.label();
    let (section, id) = t.own_box("vm5678");
    let section = section.replace("1234 => 1234,Alice Mailbox", "1234 => 1234,Bjorn Quota");
    let folder = unique("srv-quota");
    let big = recording(20_000); // 320 KB of audio; the quota is 200 KiB.

    let store = t.store("srv-quota", &format!("imapfolder={folder}"), &section);
    let mb = store.mailbox(&id).unwrap();
    let err = mb.deposit(&big).await.unwrap_err();
    assert!(err.is_mailbox_full(), "{label}: {err}");
    assert!(
        matches!(&err, Error::DepositRefused { reasons, .. }
            if reasons.iter().all(|r| matches!(r, DepositRefusal::Policy(_)))),
        "{label}: {err}"
    );
    store.close().await;

    let proxy = QuotaProxy::start(t.host(), t.port()).await;
    let store = t.store(
        "srv-quota-proxy",
        &format!(
            "imapserver=127.0.0.1\nimapport={}\nimapflags=notls\nimapfolder={folder}",
            proxy.port
        ),
        &section,
    );
    let mb = store.mailbox(&id).unwrap();
    assert_eq!(mb.count().await.unwrap(), MwiCounts::default(), "{label}");
    proxy.mark();
    let err = mb.deposit(&big).await.unwrap_err();
    let lines = proxy.lines();
    assert!(err.is_mailbox_full(), "{label}: {err}\n{lines:#?}");
    let Error::DepositRefused { reasons, .. } = &err else {
        panic!("{label}: {err}");
    };
    assert!(
        matches!(reasons.as_slice(), [DepositRefusal::ServerOverQuota(_)]),
        "{label}: {err}"
    );
    // Nothing stored, and the connection still works. How that count went, on the wire.
    proxy.mark();
    assert_eq!(mb.count().await.unwrap(), MwiCounts::default(), "{label}");
    let counted = proxy.lines();
    let esearch_answers = counted
        .iter()
        .filter(|l| l.starts_with("* ESEARCH (TAG "))
        .count();
    store.close().await;
    (
        esearch_answers,
        describe_refusal(&lines),
        "`DepositRefused`, mailbox full (`is_mailbox_full`): admission when QUOTA is visible, \
         else the server's NO"
            .to_owned(),
    )
}

/// The server's lines around a refused APPEND, in a few words: continuation, untagged NO,
/// tagged NO with its response code and text (timings and numbers dropped).
fn describe_refusal(lines: &[String]) -> String {
    let mut parts: Vec<String> = Vec::new();
    for line in lines {
        let (tag, rest) = line.split_once(' ').unwrap_or((line, ""));
        if tag == "+" {
            parts.push("`+`".into());
        } else if let Some(text) = rest.strip_prefix("NO ") {
            let star = if tag == "*" { "* " } else { "" };
            parts.push(format!("`{star}NO {}`", tidy(text)));
        }
    }
    parts.dedup();
    if parts.is_empty() {
        return "(no NO seen)".into();
    }
    parts.join(" then ")
}

/// A server text without timings, parenthesised numbers and trailing dots.
fn tidy(text: &str) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    let mut inner = String::new();
    for ch in text.chars() {
        match ch {
            '(' => {
                depth += 1;
                inner.clear();
            }
            ')' if depth > 0 => {
                depth -= 1;
                // "(0.001 + 0.000 secs)" and the like go; words in parentheses stay.
                if !inner.chars().any(|c| c.is_ascii_digit()) {
                    let _ = write!(out, "({inner})");
                }
            }
            _ if depth > 0 => inner.push(ch),
            _ => out.push(ch),
        }
    }
    out.trim().trim_end_matches('.').trim().to_owned()
}

fn render(targets: &[Target], columns: &[Column]) -> String {
    let mut s = String::new();
    s.push_str(
        "# Compatibility: imapvm on Dovecot, Cyrus and Courier\n\n\
         <!-- Generated by `cargo test -p imapvm --test it servers::` (crates/imapvm/tests/it/servers.rs).\n     \
         Do not edit by hand: the test fails when this file differs from what the servers\n     \
         advertised and what the runtime did, and writes the new text to compatibility.md.new. -->\n\n\
         Every CI run (`cargo xtask ci`) starts the three private servers once and runs every core\n\
         operation of the runtime on each of six personalities: deposit, list, play, flags, move\n\
         (with and without `imapparentfolder`), delete in a dedicated folder and in INBOX shared\n\
         with the user's mail, greetings, quota and proxy login; the MWI watcher's table is at\n\
         the end. The \"old\" personalities are the same servers with UIDPLUS, MOVE, NOTIFY and\n\
         CONDSTORE taken out of CAPABILITY (`xtask/src/{dovecot,cyrus,courier}.rs`). Where a\n\
         server lacks something the row shows the fallback the runtime took; the scenario asserts\n\
         its effect (the user's own `\\Deleted` mail always survives; a deferred voicemail stays\n\
         `\\Deleted`, invisible to counts).\n\n",
    );
    s.push_str(&table(targets, ROWS, columns));
    s.push_str(
        "\nNotes:\n\n\
         * Folder names come from the server's NAMESPACE (prefix and delimiter), never from a\n  \
           guess: `imapfolder`, `greetingsfolder` and `imapparentfolder` levels are joined with the\n  \
           server's delimiter under its personal prefix.\n\
         * \"Delete\" plans come from `imapvm_policy::plan_delete`: `UID EXPUNGE` needs UIDPLUS;\n  \
           without it a plain `EXPUNGE` is only sent in a dedicated folder after `UID SEARCH\n  \
           DELETED` shows nothing but ours, and never in a folder shared with mail (deferred).\n\
         * Over quota: the admission policy refuses before any APPEND when GETQUOTAROOT shows the\n  \
           deposit would not fit; the \"server's answer\" row is what each server says when the\n  \
           runtime does not know the quota (QUOTA hidden by a test proxy): all of them become the\n  \
           same typed refusal, and nothing is stored.\n\
         * Courier-IMAP answers OK to SASL PLAIN with an authorization identity and ignores it\n  \
           (the session is the authenticating user's own mailbox), so imapvm refuses `authuser`\n  \
           there before sending any credential, with an error that says so.\n\n",
    );
    s
}

/// Every personality, concurrently; then the table, checked against the committed file.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_server_runs_every_core_operation_and_the_table_matches() {
    // `IMAPVM_IT_SERVERS=courier` runs only the personalities whose label contains the word
    // (case-insensitive); the table is then not checked.
    let (targets, columns, partial) = on_every_personality(scenario).await;
    if !partial {
        check_compatibility(DocPart::Runtime, &render(&targets, &columns));
    }
}

/// Courier ignores a SASL authorization identity: a proxy login must fail clearly rather
/// than write into the authenticating user's mailbox.
#[tokio::test]
async fn a_proxy_login_on_courier_fails_clearly_and_writes_nowhere() {
    let t = target(Kind::Courier, false);
    // The quirk is real: Courier says OK to authzid vm1234 and opens vm4321's mailbox.
    let out = t.py(r#"
m = imaplib.IMAP4(INFO["host"], INFO["port"])
m.starttls(ssl_context=CTX)
blob = ("vm1234\0vm4321\0%s" % INFO["users"]["vm4321"]).encode()
typ, _ = m.authenticate("PLAIN", lambda _challenge: blob)
print(typ)
"#);
    assert_eq!(
        out.trim(),
        "OK",
        "Courier no longer accepts an authzid: {out}"
    );
    let cell = proxy_login(&t).await;
    assert!(cell.starts_with("refused by imapvm"), "{cell}");
}

/// The ESEARCH count as a transcript, against a scripted server that answers the five
/// searches (Asterisk's three, old-and-flagged, and the header keys alone that tell which
/// UIDs are the box's) in reverse order (matched by tag) and reports UID 7 as both new and
/// old (its flags changed between two searches): counted once, no `FETCH (FLAGS)`, the exact
/// header filter still applied to the hits (UID 9 is box 12345's).
#[tokio::test]
async fn with_esearch_the_count_is_five_tagged_searches_and_no_flags_fetch() {
    let (peer, log) = esearch_server("scripted", false).await;
    assert_eq!(
        scripted_count(peer.port(), "esearch-script").await,
        esearch_counts()
    );
    let lines = log.lines();
    let searches: Vec<&String> = lines.iter().filter(|l| l.contains("UID SEARCH")).collect();
    assert_eq!(searches.len(), 5, "{lines:#?}");
    assert_eq!(
        searches
            .iter()
            .filter(|l| l.contains("UID SEARCH RETURN (ALL) UNDELETED "))
            .count(),
        4,
        "{lines:#?}"
    );
    assert_eq!(
        searches
            .iter()
            .filter(|l| l.contains("UID SEARCH RETURN (ALL) HEADER X-Asterisk-VM-Extension "))
            .count(),
        1,
        "{lines:#?}"
    );
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("FETCH") && l.contains("FLAGS")),
        "{lines:#?}"
    );
}

/// The ESEARCH script's answer to `c`: five searches held and answered in reverse order,
/// the header blocks of [`five_header_blocks`]; `None`: the usual one.
fn esearch_answer(c: &Command, held: &mut Vec<String>) -> Option<Reply> {
    let (tag, cmd) = (&c.tag, &c.text);
    Some(if c.is("SELECT") {
        Reply::send(format!(
            "* 5 EXISTS\r\n* OK [UIDVALIDITY 9] v\r\n{tag} OK [READ-WRITE] sel\r\n"
        ))
    } else if c.is("UID SEARCH") {
        let all = if cmd.contains(" UNFLAGGED UNSEEN ") {
            " ALL 5,7,9"
        } else if cmd.contains(" FLAGGED UNSEEN ") {
            " ALL 6"
        } else if cmd.contains(" FLAGGED SEEN ") {
            " ALL 8"
        } else if cmd.contains(" UNDELETED SEEN ") {
            " ALL 7:8"
        } else if cmd.contains("RETURN (ALL) HEADER ") {
            " ALL 5:9"
        } else {
            ""
        };
        held.push(format!(
            "* ESEARCH (TAG \"{tag}\") UID{all}\r\n{tag} OK done\r\n"
        ));
        if held.len() < 5 {
            return Some(Reply::nothing());
        }
        Reply::send(held.drain(..).rev().collect::<String>())
    } else if c.is("UID FETCH") {
        Reply::send(five_header_blocks(tag, cmd))
    } else {
        return None;
    })
}

/// A server offering ESEARCH (not SEARCHRES) answering as [`esearch_answer`], greeting
/// with `greeting`; with `refuse_saved`, SEARCHRES commands get a `BAD`.
async fn esearch_server(greeting: &'static str, refuse_saved: bool) -> (Peer, Log) {
    const CAPS: &str = "IMAP4rev1 AUTH=PLAIN SASL-IR LITERAL+ NAMESPACE ESEARCH UIDPLUS";
    let log = Log::default();
    let l = log.clone();
    let peer = Peer::builder()
        .respond(move || {
            let mut held: Vec<String> = Vec::new();
            Imap::new(CAPS, &l, move |c: &Command| {
                if refuse_saved && (c.text.contains("RETURN (SAVE)") || c.is("UID FETCH $")) {
                    return Some(Reply::send(format!("{} BAD no SEARCHRES\r\n", c.tag)));
                }
                esearch_answer(c, &mut held)
            })
            .greeting_text(greeting)
        })
        .await
        .unwrap();
    (peer, log)
}

/// What the ESEARCH script's box 1234 holds.
fn esearch_counts() -> MwiCounts {
    MwiCounts {
        new: 2,
        urgent: 1,
        old: 1,
        old_urgent: 1,
    }
}

/// Box 1234@default's count, from a new store on the scripted server at `port`.
async fn scripted_count(port: u16, name: &str) -> MwiCounts {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(unique(name));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("voicemail.conf");
    std::fs::write(
        &conf,
        format!(
            "[general]\nimapserver=127.0.0.1\nimapport={port}\nimapflags=notls\n\
             imapreadtimeout=5\n\n[default]\n1234 => 1234,A,,,imapuser=u|imappassword=p\n"
        ),
    )
    .unwrap();
    let store = Store::open(&conf).unwrap();
    let counts = store.mailbox("1234@default").unwrap().count().await;
    store.close().await;
    counts.unwrap()
}

/// A server that greets as Dovecot (which offers SEARCHRES once logged in: the cold count
/// sends `UID SEARCH RETURN (SAVE)` and `UID FETCH $` behind the login before the login's
/// answer tells) but turns out not to offer it: the refused commands cost one more flight,
/// with the ESEARCH count, never a wrong count.
#[tokio::test]
async fn a_searchres_guess_the_server_refuses_falls_back_to_the_esearch_count() {
    let (peer, log) = esearch_server("Dovecot (Debian) ready.", true).await;
    assert_eq!(
        scripted_count(peer.port(), "searchres-guess").await,
        esearch_counts()
    );
    let lines = log.lines();
    let saved = lines.iter().position(|l| l.contains("RETURN (SAVE)"));
    let esearch = lines
        .iter()
        .position(|l| l.contains("RETURN (ALL) HEADER "));
    assert!(
        matches!((saved, esearch), (Some(a), Some(b)) if a < b),
        "{lines:#?}"
    );
}

/// The answer to `UID FETCH … BODY.PEEK[section]` of the ESEARCH script: UIDs 5 to 8 of box
/// 1234, UID 9 of box 12345.
fn five_header_blocks(tag: &str, cmd: &str) -> String {
    let section = cmd
        .split_once("BODY.PEEK[")
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(s, _)| s.to_owned())
        .unwrap_or_default();
    let mut out = String::new();
    for (seq, uid, ext) in [
        (1, 5, "1234"),
        (2, 6, "1234"),
        (3, 7, "1234"),
        (4, 8, "1234"),
        (5, 9, "12345"),
    ] {
        let h = format!(
            "X-Asterisk-VM-Extension: {ext}\r\nX-Asterisk-VM-Context: default\r\n\
             X-Asterisk-VM-Message-Type: Message\r\n\r\n"
        );
        out.push_str(&format!(
            "* {seq} FETCH (UID {uid} BODY[{section}] {{{}}}\r\n{h})\r\n",
            h.len()
        ));
    }
    format!("{out}{tag} OK fetched\r\n")
}

/// The refusal comes before any credential: a scripted server greeting as Courier-IMAP sees
/// no AUTHENTICATE and no LOGIN from a mailbox configured with `authuser`.
#[tokio::test]
async fn the_courier_refusal_sends_no_credential() {
    let log = Log::default();
    let l = log.clone();
    let peer = Peer::builder()
        .respond(move || {
            Imap::new(
                "IMAP4rev1 UIDPLUS CHILDREN NAMESPACE QUOTA IDLE AUTH=PLAIN",
                &l,
                plain,
            )
            .greeting_text(
                "Courier-IMAP ready. Copyright 1998-2018 Double Precision, Inc.  \
                 See COPYING for distribution information.",
            )
        })
        .await
        .unwrap();
    let port = peer.port();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(unique("courier-script"));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("voicemail.conf");
    std::fs::write(
        &conf,
        format!(
            "[general]\nimapserver=127.0.0.1\nimapport={port}\nimapflags=notls\n\
             authuser=master\nauthpassword=master-secret\nimapreadtimeout=5\n\n\
             [default]\n1234 => 1234,A,,,imapuser=vm1234|imappassword=p\n"
        ),
    )
    .unwrap();
    let store = Store::open(&conf).unwrap();
    let err = store
        .mailbox("1234@default")
        .unwrap()
        .deposit(&recording(300))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Insecure { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("Courier-IMAP ignores the SASL authorization identity")
            && text.contains("master's own mailbox, not vm1234's"),
        "{text}"
    );
    assert!(!text.contains("master-secret"), "{text}");
    let lines = log.lines();
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("AUTHENTICATE") || l.contains("LOGIN")),
        "{lines:?}"
    );
}
