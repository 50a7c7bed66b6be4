//! `imapvm_migrate`: a generated Asterisk file spool (several mailboxes, every folder,
//! greetings, `.txt` files written the way `leave_voicemail` writes them, audio from sox)
//! into the private Dovecot and back, an interrupted import resumed, and bad files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use imapvm::Store;
use imapvm_migrate::{self as migrate, ExportOptions, ImportOptions, Progress, Silent};
use imapvm_policy::Folder;

use crate::{pw, py, q, store_with, unique, wav};

/// One message of the generated spool.
struct Gen {
    folder: &'static str,
    callerid: &'static str,
    origtime: i64,
    msg_id: Option<&'static str>,
    flag: &'static str,
    duration: u32,
}

/// A recording in `format` (sox when installed, else a generated PCM WAV for `wav`; for the
/// other formats without sox: arbitrary bytes, enough for a byte-exact round trip).
fn recording(dir: &Path, ext: &str, seconds: u32, freq: u32) -> Vec<u8> {
    let path = dir.join(format!("gen-{freq}-{seconds}.{ext}"));
    let mut cmd = std::process::Command::new("sox");
    cmd.args(["-n", "-r", "8000", "-c", "1"]);
    if ext == "WAV" {
        cmd.args(["-e", "gsm-full-rate"]);
    }
    cmd.arg(&path)
        .args(["synth", &seconds.to_string(), "sine", &freq.to_string()]);
    match cmd.output() {
        Ok(out) if out.status.success() => std::fs::read(&path).unwrap(),
        _ => {
            let mut bytes = wav(seconds * 1000, f64::from(freq));
            if ext != "wav" {
                bytes.splice(0..4, ext.bytes());
            }
            bytes
        }
    }
}

/// The `.txt` exactly as Asterisk 20's `leave_voicemail` writes it (written here by hand,
/// independently of the code under test).
fn asterisk_txt(mailbox: &str, g: &Gen, number: u32) -> String {
    let origdate = date_u(g.origtime);
    let mut t = format!(
        ";\n; Message Information file\n;\n[message]\norigmailbox={mailbox}\ncontext=from-internal\n\
         macrocontext=\nexten={mailbox}\nrdnis=unknown\npriority=2\n\
         callerchan=PJSIP/trunk-{number:08x}\ncallerid={}\norigdate={origdate}\norigtime={}\n\
         category=\n",
        g.callerid, g.origtime
    );
    if let Some(id) = g.msg_id {
        t.push_str(&format!("msg_id={id}\n"));
    }
    t.push_str(&format!("flag={}\nduration={}\n", g.flag, g.duration));
    t
}

/// `%a %b %e %r UTC %Y` by `date -u` (an independent clock formatter).
fn date_u(epoch: i64) -> String {
    let out = std::process::Command::new("date")
        .args(["-u", "-d", &format!("@{epoch}"), "+%a %b %e %r UTC %Y"])
        .env("LC_ALL", "C")
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Writes a spool: `{spool}/voicemail/{context}/{mailbox}/{folder}/msgNNNN.{txt,WAV,gsm,wav}`
/// and greetings. Returns the spool dir.
fn write_spool(
    root: &Path,
    boxes: &[(&str, &str, Vec<Gen>, &[&str])],
    formats: &[&str],
) -> PathBuf {
    let spool = root.join("spool");
    let audio_dir = root.join("audio");
    std::fs::create_dir_all(&audio_dir).unwrap();
    for (context, mailbox, messages, greetings) in boxes {
        let box_dir = spool.join("voicemail").join(context).join(mailbox);
        let mut numbers: BTreeMap<&str, u32> = BTreeMap::new();
        for (i, g) in messages.iter().enumerate() {
            let dir = box_dir.join(g.folder);
            std::fs::create_dir_all(&dir).unwrap();
            let n = numbers.entry(g.folder).or_default();
            std::fs::write(
                dir.join(format!("msg{n:04}.txt")),
                asterisk_txt(mailbox, g, *n),
            )
            .unwrap();
            for fmt in formats {
                let bytes = recording(&audio_dir, fmt, g.duration.clamp(1, 3), 300 + i as u32 * 10);
                std::fs::write(dir.join(format!("msg{n:04}.{fmt}")), bytes).unwrap();
            }
            *n += 1;
        }
        // Asterisk creates tmp/ (and Old/ etc.) even when empty.
        std::fs::create_dir_all(box_dir.join("tmp")).unwrap();
        for (i, name) in greetings.iter().enumerate() {
            for fmt in formats {
                let bytes = recording(&audio_dir, fmt, 1, 700 + i as u32 * 50);
                std::fs::write(box_dir.join(format!("{name}.{fmt}")), bytes).unwrap();
            }
        }
    }
    spool
}

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("imapvm-it")
        .join(unique(name));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A store with 1234@default and 1235@other on vm1234 (one account, one folder: the exact
/// filter keeps them apart) and 4321@default on vm4321, all in fresh folders.
fn migrate_store(name: &str, greetings: bool) -> (Store, String) {
    let folder = unique(name);
    let store = store_with(
        name,
        &format!(
            "imapfolder={folder}\nimapparentfolder={folder}\ngreetingsfolder={folder}-greetings\n\
             format=wav49|gsm|wav\nimapgreetings={}",
            if greetings { "yes" } else { "no" }
        ),
        &format!(
            "[default]\n1234 => 1234,Alice Mailbox,,,imapuser=vm1234|imappassword={p1}\n\
             4321 => 4321,Bob Mailbox,,,imapuser=vm4321|imappassword={p2}\n\
             [other]\n1235 => 1235,Carol Mailbox,,,imapuser=vm1234|imappassword={p1}\n",
            p1 = pw("vm1234"),
            p2 = pw("vm4321")
        ),
    );
    (store, folder)
}

/// Deletes the test's folders on both accounts.
fn cleanup(folder: &str) {
    py(&format!(
        r#"
for user in ("vm1234", "vm4321"):
    m = connect(user)
    typ, data = m.list('""', '"{f}*"')
    names = []
    for d in data or []:
        if d:
            names.append(d.decode().rsplit(' ', 1)[1])
    for n in sorted(names, key=len, reverse=True):
        m.delete(n)
    m.logout()
"#,
        f = folder
    ));
}

fn vm_msg(
    folder: &'static str,
    callerid: &'static str,
    origtime: i64,
    msg_id: Option<&'static str>,
    flag: &'static str,
    duration: u32,
) -> Gen {
    Gen {
        folder,
        callerid,
        origtime,
        msg_id,
        flag,
        duration,
    }
}

fn realistic_boxes() -> Vec<(
    &'static str,
    &'static str,
    Vec<Gen>,
    &'static [&'static str],
)> {
    vec![
        (
            "default",
            "1234",
            vec![
                vm_msg(
                    "INBOX",
                    "\"Alice Example\" <5551001>",
                    1_795_600_001,
                    Some("1795600001-00000000"),
                    "",
                    3,
                ),
                // Asterisk before 11: no msg_id line at all.
                vm_msg("INBOX", "5551002", 1_795_600_002, None, "", 2),
                vm_msg(
                    "INBOX",
                    "Unknown",
                    1_795_600_003,
                    Some("1795600003-00000002"),
                    "",
                    1,
                ),
                vm_msg(
                    "Old",
                    "\"Zoë Müller\" <+49301234>",
                    1_795_500_000,
                    Some("1795500000-00000003"),
                    "Urgent",
                    2,
                ),
                vm_msg(
                    "Old",
                    "\"Dan\" <5551004>",
                    1_795_500_100,
                    Some("1795500100-00000004"),
                    "",
                    3,
                ),
                vm_msg(
                    "Urgent",
                    "\"Eve\" <5551005>",
                    1_795_600_005,
                    Some("1795600005-00000005"),
                    "Urgent",
                    2,
                ),
                vm_msg(
                    "Work",
                    "\"Frank\" <5551006>",
                    1_795_400_000,
                    Some("1795400000-00000006"),
                    "",
                    1,
                ),
                vm_msg(
                    "Family",
                    "\"Mum\" <5551007>",
                    1_795_400_100,
                    Some("1795400100-00000007"),
                    "",
                    2,
                ),
                vm_msg(
                    "Friends",
                    "\"Gil\" <5551008>",
                    1_795_400_200,
                    None,
                    "PRIORITY",
                    1,
                ),
                vm_msg(
                    "Cust1",
                    "\"Customer\" <5551009>",
                    1_795_400_300,
                    Some("1795400300-00000009"),
                    "",
                    2,
                ),
            ],
            &["unavail", "busy", "greet", "temp"],
        ),
        (
            "other",
            "1235",
            vec![
                vm_msg(
                    "INBOX",
                    "\"Hal\" <5552001>",
                    1_795_600_101,
                    Some("1795600101-0000000a"),
                    "",
                    1,
                ),
                vm_msg(
                    "Old",
                    "\"Ivy\" <5552002>",
                    1_795_600_102,
                    Some("1795600102-0000000b"),
                    "",
                    2,
                ),
            ],
            &["unavail"],
        ),
        (
            "default",
            "4321",
            vec![
                vm_msg(
                    "INBOX",
                    "\"Jo\" <5553001>",
                    1_795_600_201,
                    Some("1795600201-0000000c"),
                    "",
                    1,
                ),
                vm_msg(
                    "Work",
                    "\"Kim\" <5553002>",
                    1_795_600_202,
                    Some("1795600202-0000000d"),
                    "",
                    2,
                ),
            ],
            &[],
        ),
    ]
}

/// Every file of a mailbox directory under `voicemail/`, relative path → bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[tokio::test]
async fn a_spool_goes_to_imap_with_flags_and_folders_and_comes_back_byte_for_byte() {
    let root = scratch("migrate-roundtrip");
    let boxes = realistic_boxes();
    let spool = write_spool(&root, &boxes, &["WAV", "gsm", "wav"]);
    let before = files(&spool);
    let (store, folder) = migrate_store("migrate-rt", true);

    let report = migrate::import(&store, &ImportOptions::new(&spool), &Silent)
        .await
        .unwrap();
    let messages = 14;
    let greetings = 5;
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(
        (report.found, report.copied, report.skipped),
        (messages + greetings, messages + greetings, 0)
    );
    // The spool is untouched.
    assert_eq!(files(&spool), before);

    // Asterisk's view of 1234@default: INBOX/Old/Urgent as states of imapfolder.
    let alice = store.mailbox("1234@default").unwrap();
    let counts = alice.count().await.unwrap();
    assert_eq!((counts.new, counts.urgent, counts.old), (3, 1, 2));
    let work = alice.list(Some(Folder::Work)).await.unwrap();
    assert_eq!(work.messages.len(), 1);
    assert_eq!(work.messages[0].caller_id_num, "5551006");
    assert_eq!(work.messages[0].orig_time, 1_795_400_000);
    let listing = alice.list(None).await.unwrap();
    let zoe = listing
        .messages
        .iter()
        .find(|m| m.caller_id_num == "+49301234")
        .unwrap();
    assert_eq!(zoe.caller_id_name, "Zoë Müller");
    assert!(zoe.flagged, "a heard urgent message keeps \\Flagged");
    let carol = store.mailbox("1235@other").unwrap();
    let c = carol.count().await.unwrap();
    assert_eq!((c.new, c.urgent, c.old), (1, 0, 1));
    let greeting = alice.greeting_get("busy").await.unwrap().unwrap();
    assert_eq!(
        greeting.audio.bytes, before["voicemail/default/1234/busy.WAV"],
        "greetings are stored in the first format"
    );

    // The independent mail client sees the flags Asterisk expects.
    let out = py(&format!(
        r#"
m = connect("vm1234")
sel(m, {f})
print(len(uids(m, 'UNSEEN', 'UNFLAGGED', 'HEADER', 'X-Asterisk-VM-Extension', '1234')),
      len(uids(m, 'UNSEEN', 'FLAGGED', 'HEADER', 'X-Asterisk-VM-Extension', '1234')),
      len(uids(m, 'SEEN', 'HEADER', 'X-Asterisk-VM-Extension', '1234')))
"#,
        f = q(&folder)
    ));
    assert_eq!(out.trim(), "3 1 2", "{out}");
    // The APPEND carried each message's origtime as its INTERNALDATE.
    let out = py(&format!(
        r#"
import time
m = connect("vm1234")
sel(m, {f})
got = []
for u in uids(m, 'HEADER', 'X-Asterisk-VM-Extension', '1234'):
    data = check(m.uid('FETCH', str(u), '(INTERNALDATE)'), 'internaldate')
    got.append(int(time.mktime(imaplib.Internaldate2tuple(data[0]))))
print(" ".join(str(t) for t in sorted(got)))
"#,
        f = q(&folder)
    ));
    let mut want: Vec<i64> = boxes[0]
        .2
        .iter()
        .filter(|g| matches!(g.folder, "INBOX" | "Old" | "Urgent"))
        .map(|g| g.origtime)
        .collect();
    want.sort_unstable();
    let want: Vec<String> = want.iter().map(i64::to_string).collect();
    assert_eq!(out.trim(), want.join(" "), "{out}");

    // Again: everything is there already.
    let again = migrate::import(&store, &ImportOptions::new(&spool), &Silent)
        .await
        .unwrap();
    assert_eq!((again.copied, again.skipped), (0, messages + greetings));
    assert_eq!(alice.list(None).await.unwrap().messages.len(), 6);

    // Back to a new spool: the .txt files and the first format's audio, byte for byte.
    let back = root.join("back");
    let exported = migrate::export(&store, &ExportOptions::new(&back), &Silent)
        .await
        .unwrap();
    assert!(exported.failed.is_empty(), "{:?}", exported.failed);
    assert_eq!(exported.copied, messages + greetings);
    let after = files(&back);
    let expected: BTreeMap<String, Vec<u8>> = before
        .iter()
        .filter(|(path, _)| !path.ends_with(".gsm") && !path.ends_with(".wav"))
        .map(|(p, b)| (p.clone(), b.clone()))
        .collect();
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (path, bytes) in &expected {
        assert!(after[path] == *bytes, "{path} differs");
    }
    // Exporting again writes nothing new.
    let again = migrate::export(&store, &ExportOptions::new(&back), &Silent)
        .await
        .unwrap();
    assert_eq!((again.copied, again.skipped), (0, messages + greetings));
    assert_eq!(files(&back), after);

    store.close().await;
    cleanup(&folder);
}

/// Stops the run (drops the import future, connections and all, like `kill -9`) once `limit`
/// messages were handled.
struct StopAfter {
    handled: AtomicU64,
    limit: u64,
    stop: tokio::sync::Notify,
}

impl Progress for StopAfter {
    fn advanced(&self, messages: u64, _bytes: u64) {
        if self.handled.fetch_add(messages, Ordering::SeqCst) + messages >= self.limit {
            self.stop.notify_one();
        }
    }
}

#[tokio::test]
async fn an_interrupted_import_resumes_without_duplicates() {
    let root = scratch("migrate-resume");
    let mut messages = Vec::new();
    for i in 0..40 {
        let id: &'static str = Box::leak(format!("1795700{i:03}-{i:08x}").into_boxed_str());
        // Every fifth has no msg id (matched by origtime + caller id + duration).
        let msg_id = (i % 5 != 0).then_some(id);
        let folder = ["INBOX", "Old", "Work"][i % 3];
        messages.push(vm_msg(
            folder,
            "\"Resume\" <5559000>",
            1_795_700_000 + i as i64,
            msg_id,
            "",
            1,
        ));
    }
    let boxes = vec![("default", "1234", messages, &[][..])];
    let spool = write_spool(&root, &boxes, &["wav"]);
    let (store, folder) = migrate_store("migrate-resume", false);

    let stopper = Arc::new(StopAfter {
        handled: AtomicU64::new(0),
        limit: 15,
        stop: tokio::sync::Notify::new(),
    });
    let mut options = ImportOptions::new(&spool);
    options.batch_messages = 4;
    {
        let progress = Arc::clone(&stopper);
        let run = migrate::import(&store, &options, progress.as_ref());
        tokio::select! {
            r = run => panic!("the import finished before the interruption: {r:?}"),
            () = stopper.stop.notified() => {}
        }
    }
    // The interrupted run's connection is gone with it; a new process starts from scratch.
    drop(store);
    // An APPEND whose bytes all arrived before the interruption may still be being stored.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let (store, _) = {
        let s = store_with(
            "migrate-resume-2",
            &format!(
                "imapfolder={folder}\nimapparentfolder={folder}\nformat=wav49|gsm|wav\nimapgreetings=no"
            ),
            &format!(
                "[default]\n1234 => 1234,Alice Mailbox,,,imapuser=vm1234|imappassword={}\n",
                pw("vm1234")
            ),
        );
        (s, ())
    };
    let mb = store.mailbox("1234@default").unwrap();
    let present_before = mb.list(None).await.unwrap().messages.len()
        + mb.list(Some(Folder::Work)).await.unwrap().messages.len();
    assert!((12..40).contains(&present_before), "{present_before}");

    let report = migrate::import(&store, &ImportOptions::new(&spool), &Silent)
        .await
        .unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(report.found, 40);
    assert_eq!(report.skipped as usize, present_before);
    assert_eq!(report.copied as usize, 40 - present_before);
    let inbox = mb.list(None).await.unwrap().messages;
    let work = mb.list(Some(Folder::Work)).await.unwrap().messages;
    assert_eq!(inbox.len() + work.len(), 40);
    let mut times: Vec<i64> = inbox.iter().chain(&work).map(|m| m.orig_time).collect();
    times.sort_unstable();
    times.dedup();
    assert_eq!(times.len(), 40, "no duplicates");
    store.close().await;
    cleanup(&folder);
}

#[tokio::test]
async fn bad_files_are_reported_and_skipped_and_nothing_is_deleted() {
    let root = scratch("migrate-bad");
    let boxes = vec![(
        "default",
        "1234",
        vec![
            vm_msg(
                "INBOX",
                "\"Good\" <5554001>",
                1_795_800_001,
                Some("1795800001-00000001"),
                "",
                1,
            ),
            vm_msg(
                "INBOX",
                "\"NoTxt\" <5554002>",
                1_795_800_002,
                Some("1795800002-00000002"),
                "",
                1,
            ),
            vm_msg(
                "INBOX",
                "\"Garbage\" <5554003>",
                1_795_800_003,
                Some("1795800003-00000003"),
                "",
                1,
            ),
            vm_msg(
                "INBOX",
                "\"NoAudio\" <5554004>",
                1_795_800_004,
                Some("1795800004-00000004"),
                "",
                1,
            ),
            vm_msg(
                "INBOX",
                "\"Odd\" <5554005>",
                1_795_800_005,
                Some("1795800005-00000005"),
                "",
                1,
            ),
            vm_msg(
                "INBOX",
                "\"NoTime\" <5554006>",
                1_795_800_006,
                Some("1795800006-00000006"),
                "",
                1,
            ),
        ],
        &[][..],
    )];
    let spool = write_spool(&root, &boxes, &["wav"]);
    let inbox = spool.join("voicemail/default/1234/INBOX");
    std::fs::remove_file(inbox.join("msg0001.txt")).unwrap();
    std::fs::write(inbox.join("msg0002.txt"), b"\x00\xff garbage, no section\n").unwrap();
    std::fs::remove_file(inbox.join("msg0003.wav")).unwrap();
    std::fs::rename(inbox.join("msg0004.wav"), inbox.join("msg0004.xyz")).unwrap();
    let txt = std::fs::read_to_string(inbox.join("msg0005.txt")).unwrap();
    std::fs::write(
        inbox.join("msg0005.txt"),
        txt.replace("origtime=1795800006", "origtime=yesterday"),
    )
    .unwrap();
    // A box that is not in voicemail.conf.
    let stray = spool.join("voicemail/default/9999/INBOX");
    std::fs::create_dir_all(&stray).unwrap();
    std::fs::write(
        stray.join("msg0000.txt"),
        asterisk_txt("9999", &boxes[0].2[0], 0),
    )
    .unwrap();
    std::fs::write(stray.join("msg0000.wav"), wav(100, 400.0)).unwrap();
    let before = files(&spool);
    let (store, folder) = migrate_store("migrate-bad", false);

    let report = migrate::import(&store, &ImportOptions::new(&spool), &Silent)
        .await
        .unwrap();
    assert_eq!((report.found, report.copied), (7, 1));
    let reasons: BTreeMap<String, String> = report
        .failed
        .iter()
        .map(|f| {
            (
                Path::new(&f.path)
                    .strip_prefix(spool.join("voicemail"))
                    .map_or(f.path.clone(), |p| p.display().to_string()),
                f.reason.clone(),
            )
        })
        .collect();
    let expect = |path: &str, words: &str| {
        let reason = reasons
            .get(path)
            .unwrap_or_else(|| panic!("{path} not reported: {reasons:#?}"));
        assert!(reason.contains(words), "{path}: {reason}");
    };
    expect(
        "default/1234/INBOX/msg0001.wav",
        "no message information file",
    );
    expect("default/1234/INBOX/msg0002.txt", "unreadable .txt");
    expect("default/1234/INBOX/msg0003.txt", "no recording");
    expect(
        "default/1234/INBOX/msg0004.txt",
        "unknown audio format (xyz)",
    );
    expect("default/1234/INBOX/msg0005.txt", "origtime");
    expect("default/9999/INBOX/msg0000", "not usable");
    assert_eq!(reasons.len(), 6);
    assert_eq!(files(&spool), before, "import never changes the spool");
    let mb = store.mailbox("1234@default").unwrap();
    let listed = mb.list(None).await.unwrap().messages;
    assert_eq!(
        listed
            .iter()
            .map(|m| m.caller_id_num.as_str())
            .collect::<Vec<_>>(),
        ["5554001"]
    );
    store.close().await;
    cleanup(&folder);
}

#[tokio::test]
async fn a_dry_run_plans_and_copies_nothing() {
    let root = scratch("migrate-dry");
    let boxes = vec![(
        "default",
        "4321",
        vec![
            vm_msg(
                "INBOX",
                "\"Dry\" <5555001>",
                1_795_900_001,
                Some("1795900001-00000001"),
                "",
                1,
            ),
            vm_msg("Family", "\"Dry\" <5555002>", 1_795_900_002, None, "", 1),
        ],
        &["unavail"][..],
    )];
    let spool = write_spool(&root, &boxes, &["wav"]);
    let (store, folder) = migrate_store("migrate-dry", true);
    let mut options = ImportOptions::new(&spool);
    options.dry_run = true;
    options.mailboxes = vec!["4321@default".into()];
    let plan = migrate::import(&store, &options, &Silent).await.unwrap();
    assert_eq!((plan.found, plan.copied, plan.skipped), (3, 0, 0));
    assert_eq!(plan.plan.iter().filter(|p| p.copy).count(), 3);
    assert!(
        plan.plan.iter().any(|p| p.to.contains("Family")),
        "{:?}",
        plan.plan
    );
    let out = py(&format!(
        r#"
m = connect("vm4321")
typ, data = m.list('""', '"{folder}*"')
print([d for d in data if d])
"#
    ));
    assert_eq!(out.trim(), "[]", "a dry run creates no folder: {out}");
    // Filtering by mailbox: 1234's spool (none here) is not looked at; export dry run too.
    let mut export = ExportOptions::new(root.join("back"));
    export.dry_run = true;
    export.mailboxes = vec!["4321".into()];
    let plan = migrate::export(&store, &export, &Silent).await.unwrap();
    assert_eq!(plan.found, 0);
    assert!(!root.join("back").exists());
    store.close().await;
    cleanup(&folder);
}

#[tokio::test]
async fn an_account_that_fails_does_not_stop_the_others() {
    let root = scratch("migrate-login");
    let boxes = vec![
        (
            "default",
            "1234",
            vec![vm_msg(
                "INBOX",
                "\"Ok\" <5556001>",
                1_795_950_001,
                Some("1795950001-00000001"),
                "",
                1,
            )],
            &[][..],
        ),
        (
            "default",
            "4321",
            vec![vm_msg(
                "INBOX",
                "\"Locked\" <5556002>",
                1_795_950_002,
                Some("1795950002-00000002"),
                "",
                1,
            )],
            &[][..],
        ),
    ];
    let spool = write_spool(&root, &boxes, &["wav"]);
    let folder = unique("migrate-login");
    let store = store_with(
        "migrate-login",
        &format!("imapfolder={folder}\nimapparentfolder={folder}\nimapgreetings=no"),
        &format!(
            "[default]\n1234 => 1234,Alice,,,imapuser=vm1234|imappassword={}\n\
             4321 => 4321,Bob,,,imapuser=vm4321|imappassword=wrong-password\n",
            pw("vm1234")
        ),
    );
    let report = migrate::import(&store, &ImportOptions::new(&spool), &Silent)
        .await
        .unwrap();
    assert_eq!(report.copied, 1, "{report:?}");
    assert_eq!(report.failed.len(), 1, "{:?}", report.failed);
    assert!(
        report.failed[0].path.ends_with("default/4321"),
        "{:?}",
        report.failed
    );
    assert!(
        report.failed[0].reason.contains("login failed"),
        "{:?}",
        report.failed
    );
    assert!(
        !report.failed[0].reason.contains("wrong-password"),
        "no secret in a report"
    );
    let export = migrate::export(&store, &ExportOptions::new(root.join("back")), &Silent)
        .await
        .unwrap();
    assert_eq!(export.copied, 1);
    assert_eq!(export.failed.len(), 1, "{:?}", export.failed);
    assert_eq!(export.failed[0].path, "4321@default");
    store.close().await;
    cleanup(&folder);
}

/// A batch of nothing was once raised to one message without a word; it is refused, naming
/// the option, before the spool is read.
#[tokio::test]
async fn an_empty_batch_is_refused_naming_the_option() {
    let dir = scratch("batch");
    let conf = dir.join("voicemail.conf");
    std::fs::write(
        &conf,
        "[general]\nimapserver=127.0.0.1\n[default]\n1234 => 1,A,,,imapuser=u|imappassword=p\n",
    )
    .unwrap();
    let store = Store::open(&conf).unwrap();
    for (options, named) in [
        (
            ImportOptions {
                batch_messages: 0,
                ..ImportOptions::new("/nonexistent/spool")
            },
            "batch_messages",
        ),
        (
            ImportOptions {
                batch_bytes: 0,
                ..ImportOptions::new("/nonexistent/spool")
            },
            "batch_bytes",
        ),
    ] {
        match migrate::import(&store, &options, &Silent).await {
            Err(migrate::Error::Option(imapvm::ConfigError::OutOfBounds { field, .. })) => {
                assert_eq!(field, named);
            }
            other => panic!("{named}: {other:?}"),
        }
    }
}
