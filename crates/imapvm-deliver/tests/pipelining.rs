//! The pipelining itself needs a peer that can tell: a scripted IMAP server that holds its
//! APPEND answers.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use imapvm_harness::scripted::{Command, Imap, Log, Script, usual};
use imapvm_testkit::{Peer, Reply};

use imapvm::{NewVoicemail, Store};
use imapvm_deliver::{Deliver, RecipientResult};

const CAPS: &str = "IMAP4rev1 AUTH=PLAIN SASL-IR LITERAL+ UIDPLUS NAMESPACE";

/// One connection of the scripted server: it holds its APPEND answers as long as more
/// APPENDs keep coming (500 ms of quiet ends that), so that it sees how many were in
/// flight together.
struct HeldAppends {
    appenduid: bool,
    /// (tag, Message-ID) of each APPEND not answered yet.
    held: Vec<(String, String)>,
    /// The UID given to each Message-ID.
    by_message_id: Vec<(String, u32)>,
    exists: u32,
    most_in_flight: Arc<AtomicUsize>,
}

impl Script for HeldAppends {
    fn answer(&mut self, c: &Command) -> Option<Reply> {
        let reply = if c.is("APPEND") {
            let body = String::from_utf8_lossy(c.literals.first().map_or(&[][..], |l| l));
            let message_id = body
                .lines()
                .find_map(|l| l.strip_prefix("Message-ID: "))
                .unwrap_or_default()
                .trim()
                .to_owned();
            self.held.push((c.tag.clone(), message_id));
            self.most_in_flight
                .fetch_max(self.held.len(), Ordering::SeqCst);
            Reply::nothing()
        } else if c.is("SELECT") {
            Reply::send(format!(
                "* {} EXISTS\r\n* OK [UIDVALIDITY 7] v\r\n{} OK [READ-WRITE] selected\r\n",
                self.exists, c.tag
            ))
        } else if c.is("UID SEARCH") {
            let hit = self
                .by_message_id
                .iter()
                .find(|(id, _)| !id.is_empty() && c.text.contains(id.as_str()))
                .map(|(_, uid)| format!(" {uid}"))
                .unwrap_or_default();
            Reply::send(format!("* SEARCH{hit}\r\n{} OK done\r\n", c.tag))
        } else {
            usual(CAPS, c)
        };
        Some(if self.held.is_empty() {
            reply
        } else {
            reply.quiet_after(Duration::from_millis(500))
        })
    }

    /// No more APPENDs coming: answer the held ones.
    fn quiet(&mut self) -> Reply {
        let mut out = String::new();
        for (tag, message_id) in self.held.drain(..) {
            self.exists += 1;
            self.by_message_id.push((message_id, self.exists));
            let code = if self.appenduid {
                format!("[APPENDUID 7 {}] ", self.exists)
            } else {
                String::new()
            };
            out.push_str(&format!(
                "* {} EXISTS\r\n{tag} OK {code}done\r\n",
                self.exists
            ));
        }
        Reply::send(out)
    }
}

/// What the scripted server saw: its connections, the most APPENDs in flight at once,
/// and every command.
struct Seen {
    connections: usize,
    most_in_flight: usize,
    log: Log,
}

/// Deposits one voicemail to 1234@default and 5678@default (one account) on a scripted
/// server holding its APPEND answers; with `appenduid` false it never sends APPENDUID
/// and answers a `UID SEARCH HEADER Message-ID` with the UID it gave that message.
async fn scripted_deposit(appenduid: bool) -> (Vec<RecipientResult>, Seen) {
    let (log, most_in_flight) = (Log::default(), Arc::new(AtomicUsize::new(0)));
    let (l, most) = (log.clone(), Arc::clone(&most_in_flight));
    let peer = Peer::builder()
        .respond(move || {
            let script = HeldAppends {
                appenduid,
                held: Vec::new(),
                by_message_id: Vec::new(),
                exists: 0,
                most_in_flight: Arc::clone(&most),
            };
            Imap::new(CAPS, &l, script)
        })
        .await
        .unwrap();
    let conf = format!(
        "[general]\nimapserver=127.0.0.1\nimapport={}\nimapflags=notls\nformat=wav\n\
         [default]\n1234 => 1234,A,,,imapuser=vm|imappassword=pw\n\
         5678 => 5678,B,,,imapuser=vm|imappassword=pw\n",
        peer.port()
    );
    let parsed = imapvm_config::parse_bytes("voicemail.conf", conf.as_bytes());
    let store = Store::new(parsed.config);
    let vm = NewVoicemail {
        recording: Some(imapvm::Audio {
            format: "wav".into(),
            bytes: b"RIFF....WAVE".to_vec(),
        }),
        duration_secs: 1,
        ..NewVoicemail::default()
    };
    let results = store
        .deposit_to(&["1234@default", "5678@default"], &vm)
        .await;
    store.close().await;
    let seen = Seen {
        connections: peer.connections(),
        most_in_flight: most_in_flight.load(Ordering::SeqCst),
        log,
    };
    (results, seen)
}

/// Two boxes of one account: both APPENDs are on the wire before the server answers
/// either.
#[tokio::test]
async fn recipients_of_one_account_share_a_connection_and_pipeline_their_appends() {
    let (results, seen) = scripted_deposit(true).await;
    assert!(
        results
            .iter()
            .all(|r| r.stored().is_some_and(|d| d.from_appenduid))
    );
    let uids: Vec<u32> = results
        .iter()
        .map(|r| r.stored().unwrap_or_else(|| panic!("{r:?}")).uid.get())
        .collect();
    assert_eq!(uids, vec![1, 2]);
    let appends: Vec<String> = seen
        .log
        .lines()
        .into_iter()
        .filter(|l| l.contains(" APPEND "))
        .collect();
    assert_eq!(seen.connections, 1, "one account, one connection");
    assert_eq!(appends.len(), 2, "{appends:?}");
    assert_eq!(
        seen.most_in_flight, 2,
        "the second APPEND waited for the first"
    );
}

/// Without APPENDUID each copy is found by its own Message-ID (unique per copy, even in
/// one folder where both copies share the msg id).
#[tokio::test]
async fn without_appenduid_each_copy_is_found_by_its_own_message_id() {
    let (results, seen) = scripted_deposit(false).await;
    let found: Vec<(u32, bool)> = results
        .iter()
        .map(|r| {
            let d = r.stored().unwrap_or_else(|| panic!("{r:?}"));
            (d.uid.get(), d.from_appenduid)
        })
        .collect();
    assert_eq!(found, vec![(1, false), (2, false)]);
    assert_eq!(seen.most_in_flight, 2);
}
