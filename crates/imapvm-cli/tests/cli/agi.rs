//! `imapvm agi` as an operator runs it: a scripted Asterisk (res_agi) calls the binary,
//! which stores on the private Dovecot; MWI reaches AMI and a webhook although no `watch`
//! runs; a recording whose `imapvm` was SIGKILLed is deposited, once, by the next start.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use imapvm_testkit::asterisk::{self, Call, RecordEnd, Step};
use xtask::pbx::{AmiPeer, AmiPeerConfig, WebhookReceiver, WebhookReceiverConfig};

use crate::{Running, scratch};

/// A running `imapvm agi`: its address and its `--json` report lines (`run.lines`).
struct Agi {
    run: Running,
    addr: SocketAddr,
}

/// `imapvm agi`, listening and spooling where imapvm.conf (beside `conf`) says.
fn start_agi(conf: &Path, vm_spool: &Path) -> Agi {
    let vm_spool = vm_spool.display().to_string();
    let run = Running::start(conf, &["agi", "--vm-spool", &vm_spool]);
    let addr = run.address("imapvm agi: FastAGI on ");
    Agi { run, addr }
}

fn call(addr: SocketAddr, call: Call) -> asterisk::Outcome {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(asterisk::place(addr, call))
}

fn in_mailbox(s: &xtask::server::ServerInfo, folder: &str) -> Vec<String> {
    xtask::mail_client::run(
        s,
        &format!(
            r#"
m = connect("vm1234")
typ, data = m.select('"{folder}"')
n = int(data[0]) if typ == "OK" else 0
typ, data = m.uid("SEARCH", None, "ALL") if n else ("OK", [b""])
for u in data[0].split():
    typ, d = m.uid("FETCH", u, "(BODY.PEEK[HEADER.FIELDS (X-Asterisk-VM-Message-ID X-Asterisk-VM-Caller-ID-Num)])")
    print(" ".join(l.split(":", 1)[1].strip() for l in d[0][1].decode().splitlines() if ":" in l))
"#
        ),
    )
    .unwrap()
    .lines()
    .map(str::to_owned)
    .collect()
}

#[test]
fn a_call_is_stored_mwi_is_published_and_a_killed_recording_is_deposited_once() {
    let s = xtask::dovecot::ensure_running().expect("private Dovecot");
    let ami = AmiPeer::start(AmiPeerConfig::default()).unwrap();
    let hook = WebhookReceiver::start(WebhookReceiverConfig::default()).unwrap();
    let dir = scratch("agi");
    let folder = format!("cli-agi-{}", std::process::id());
    let text = format!(
        "[general]\nimapserver={}\nimapport={}\nimapflags=tls\nimapcafile={}\nimapfolder={folder}\n\
         format=wav\nimapvm_outbox={}\n[default]\n1234 => 4242,Alice,,,imapuser=vm1234|imappassword={}\n",
        s.host,
        s.port,
        s.cert.display(),
        dir.join("outbox").display(),
        s.users["vm1234"],
    );
    let conf = dir.join("voicemail.conf");
    std::fs::write(&conf, text).unwrap();
    let spool = dir.join("spool");
    // The outputs and the FastAGI server's place in imapvm.conf (port 0: any free one).
    std::fs::write(
        dir.join("imapvm.conf"),
        format!(
            "[general]\nami = {},imapvm,s3cret,mwi\nwebhook = {}\nagi_listen = 127.0.0.1:0\nagi_spool = {}\n",
            ami.addr(),
            hook.url("/mwi"),
            spool.display()
        ),
    )
    .unwrap();
    let vm_spool = dir.join("voicemail");
    std::fs::create_dir_all(&vm_spool).unwrap();

    let mut agi = start_agi(&conf, &vm_spool);

    // 1. A normal call: stored, reported, and MWI published with no `watch` running.
    let out = call(
        agi.addr,
        Call::voicemail(&["1234@default", "s"]).phone([Step::Speak {
            secs: 1.5,
            end: RecordEnd::Key('#'),
        }]),
    );
    assert!(out.problems.is_empty(), "{:?}", out.problems);
    assert_eq!(
        out.variables.get("VMSTATUS").map(String::as_str),
        Some("SUCCESS")
    );
    let report = agi
        .run
        .lines
        .recv_timeout(Duration::from_secs(10))
        .expect("a report line");
    assert_eq!(report["app"], "voicemail", "{report}");
    assert_eq!(report["mailbox"], "1234@default", "{report}");
    assert_eq!(report["status"], "SUCCESS", "{report}");
    assert!(report["uid"].as_u64().is_some(), "{report}");
    let (ok, actions) = ami.wait_for(Duration::from_secs(10), |a| {
        a.iter()
            .any(|x| x.name() == "MWIUpdate" && x.get("NewMessages") == Some("1"))
    });
    assert!(ok, "MWIUpdate for the new message: {actions:?}");
    let (ok, requests) = hook.wait_for(Duration::from_secs(10), |r| !r.is_empty());
    assert!(ok, "{requests:?}");

    // 1b. VoiceMailMain: the user listens to it on the phone; the change it makes (new → old)
    // is published too.
    let out = call(
        agi.addr,
        Call::voicemail_main(&["1234@default", ""]).phone([
            Step::During {
                prompt: "vm-password".into(),
                key: '4',
            },
            Step::Key('2'),
            Step::Key('4'),
            Step::Key('2'),
            Step::Key('#'),
            Step::During {
                prompt: "vm-onefor".into(),
                key: '1',
            },
            Step::Key('#'),
        ]),
    );
    assert!(out.problems.is_empty(), "{:?}", out.problems);
    assert!(
        out.prompts.iter().any(|p| p.contains("-msg")),
        "{:?}",
        out.prompts
    );
    let (ok, actions) = ami.wait_for(Duration::from_secs(10), |a| {
        a.iter().any(|x| {
            x.name() == "MWIUpdate"
                && x.get("NewMessages") == Some("0")
                && x.get("OldMessages") == Some("1")
        })
    });
    assert!(ok, "MWIUpdate after listening: {actions:?}");
    let report = agi
        .run
        .lines
        .recv_timeout(Duration::from_secs(10))
        .expect("a report line");
    assert_eq!(report["app"], "voicemailmain", "{report}");

    // 2. imapvm is killed while Asterisk records: the recording and its journal stay.
    let addr = agi.addr;
    let caller = std::thread::spawn(move || {
        call(
            addr,
            Call::voicemail(&["1234@default", "s"]).phone([Step::Speak {
                secs: 2.0,
                end: RecordEnd::Stall,
            }]),
        )
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let recorded = || {
        std::fs::read_dir(&spool)
            .map(|d| {
                d.flatten()
                    .any(|e| e.file_name().to_string_lossy().ends_with("-rec.wav"))
            })
            .unwrap_or(false)
    };
    while !recorded() {
        assert!(Instant::now() < deadline, "Asterisk never recorded");
        std::thread::sleep(Duration::from_millis(20));
    }
    agi.run.child.kill().unwrap(); // SIGKILL
    agi.run.child.wait().unwrap();
    let stalled = caller.join().unwrap();
    assert!(stalled.stalled, "{:?}", stalled.transcript);
    let left: Vec<String> = std::fs::read_dir(&spool)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.iter().any(|f| f.ends_with("-rec.journal")), "{left:?}");
    assert_eq!(in_mailbox(&s, &folder).len(), 1, "not deposited yet");

    // 3. The next start deposits it (once the file has settled), exactly once.
    std::thread::sleep(imapvm_phone::journal::SETTLE + Duration::from_millis(500));
    let mut again = start_agi(&conf, &vm_spool);
    let deadline = Instant::now() + Duration::from_secs(20);
    while in_mailbox(&s, &folder).len() < 2 {
        assert!(Instant::now() < deadline, "the recording was not recovered");
        std::thread::sleep(Duration::from_millis(200));
    }
    let left: Vec<String> = std::fs::read_dir(&spool)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.is_empty(), "nothing stays in the spool: {left:?}");
    again.run.child.kill().unwrap();
    again.run.child.wait().unwrap();
    let mut third = start_agi(&conf, &vm_spool);
    std::thread::sleep(Duration::from_secs(1));
    let stored = in_mailbox(&s, &folder);
    assert_eq!(stored.len(), 2, "exactly once: {stored:?}");
    third.run.child.kill().unwrap();
    third.run.child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
