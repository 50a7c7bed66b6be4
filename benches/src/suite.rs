//! The end-to-end suite: which operations run in which folder, and the
//! runners of each contender (Asterisk's replayed sequence, the floor, and —
//! when the caller supplies one — the imapvm runtime through [`Runtime`]).
//!
//! The runtime contender is a trait so that this library stays free of tokio:
//! the suite binary (`benches/benches/suite.rs`) implements it over imapvm's
//! public API.

use std::cell::RefCell;
use std::rc::Rc;

use crate::error::{BenchError, Result};
use crate::fixture::{self, VoicemailSpec};
use crate::floor;
use crate::measure::{Contender, Measured, OperationResult, Runner, run_interleaved};
use crate::replay::replay;
use crate::scenario::{
    self, Account, CONTEXT, Content, FIRST_COUNT_MAILBOX, FolderSpec, PERSONAL_MAILBOX,
    SHARED_MAILBOX,
};
use crate::sequence::{self, Vars};
use crate::wire::{Collect, Wire, WireStats};

/// The default round-trip times, milliseconds.
pub const DEFAULT_RTTS: &[u32] = &[0, 5, 20, 50];

/// Timed iterations at `rtt_ms` when `at_zero` run at 0 ms: `at_zero × 5 /
/// (5 + rtt)`, at least 3 (50 → 25 at 5 ms, 10 at 20 ms, 4 at 50 ms). An
/// iteration round at a distance costs about its round trips × the RTT
/// (Asterisk's deposit alone is 84 round trips), so the iterations shrink as
/// the distance grows and each RTT takes about the same time.
pub fn iterations_at(at_zero: usize, rtt_ms: u32) -> usize {
    (at_zero * 5 / (5 + rtt_ms as usize)).max(3).min(at_zero)
}

/// Untimed warm-up iterations at `rtt_ms`: all of them at 0 ms, one at a distance.
pub fn warmup_at(at_zero: usize, rtt_ms: u32) -> usize {
    if rtt_ms == 0 { at_zero } else { at_zero.min(1) }
}

/// Seconds of audio of the deposited voicemail.
pub const DEPOSIT_SECS: u32 = 30;
/// Seconds of audio of the played voicemail.
pub const PLAY_SECS: u32 = 60;
/// Mailboxes of the count-all scenario.
pub const COUNT_BOXES: u32 = 100;
/// Ordinary e-mails in the big shared folder.
pub const SHARED_EMAILS: u32 = 10_000;
/// Ordinary e-mails in the folder-size scenario's big folder.
pub const BIG_EMAILS: u32 = 100_000;
/// The folder-size scenario's big folder: kept on the server between runs
/// (filling it takes a while), whatever `--keep` says.
pub const BIG_FOLDER: &str = "bench-shared-100k";
/// The round-trip times of the folder-size scenarios (and of the 10,000
/// e-mail listing), milliseconds.
pub const FOLDER_SIZE_RTTS: &[u32] = &[0, 20];
/// Voicemails in each shared folder.
pub const SHARED_VOICEMAILS: u32 = 100;
/// Voicemails kept in the deposit and delete folders.
pub const BASE_VOICEMAILS: u32 = 10;
/// The greetings folder Asterisk's deposit looks into.
pub const GREETINGS: &str = "bench-greetings";

/// One operation as the imapvm runtime is asked to perform it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuntimeOp<'a> {
    /// Deposit a voicemail with `audio` (wav49) of `secs` seconds.
    Deposit {
        /// imapfolder.
        folder: &'a str,
        /// Mailbox number (context [`CONTEXT`]).
        mailbox: &'a str,
        /// wav49 bytes.
        audio: &'a [u8],
        /// Duration.
        secs: u32,
    },
    /// new/old/urgent of one mailbox.
    Count {
        /// imapfolder.
        folder: &'a str,
        /// Mailbox number.
        mailbox: &'a str,
    },
    /// new/old/urgent of each mailbox (all in the shared account).
    CountAll {
        /// imapfolder.
        folder: &'a str,
        /// Mailbox numbers.
        mailboxes: &'a [String],
    },
    /// The listing of one mailbox.
    List {
        /// imapfolder.
        folder: &'a str,
        /// Mailbox number.
        mailbox: &'a str,
    },
    /// The audio of one message.
    Play {
        /// imapfolder.
        folder: &'a str,
        /// Mailbox number.
        mailbox: &'a str,
        /// Its UID.
        uid: u32,
    },
    /// Delete and expunge one message.
    Delete {
        /// imapfolder.
        folder: &'a str,
        /// Mailbox number.
        mailbox: &'a str,
        /// Its UID.
        uid: u32,
    },
}

/// Which account an operation's folder is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The personal account (`vm4321`).
    Personal,
    /// The shared account (`vmshared`).
    Shared,
}

/// The imapvm runtime as a contender.
pub trait Runtime {
    /// Performs `op` as `contender` ([`Contender::Imapvm`]: on the warm store
    /// kept for `(owner, folder)`; the cold ones: on a fresh store, connect,
    /// TLS as named, and login included).
    fn run(&mut self, contender: Contender, owner: Owner, op: &RuntimeOp<'_>) -> Result<()>;
}

/// The network between every contender and the server: each contender has
/// its own latency proxy (the same distance for all), which counts what
/// crossed it on the socket.
pub trait Network {
    /// The round-trip time the proxies add now, milliseconds.
    fn rtt_ms(&self) -> u32;
    /// Where `contender` connects: its proxy's host and port (to the server's
    /// implicit-TLS port for [`Contender::ImapvmColdImaps`], to its main port
    /// otherwise).
    fn via(&self, contender: Contender) -> (String, u16);
    /// What crossed `contender`'s proxy so far.
    fn stats(&self, contender: Contender) -> WireStats;
    /// Waits (untimed) until `contender`'s connections of the last iteration
    /// have ended, so that its late bytes are counted in that iteration.
    fn settle(&self, contender: Contender);
}

/// The two accounts the suite uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Personal folders.
    pub personal: Account,
    /// Shared folders.
    pub shared: Account,
}

impl Plan {
    /// The account of `owner`.
    pub fn account(&self, owner: Owner) -> &Account {
        match owner {
            Owner::Personal => &self.personal,
            Owner::Shared => &self.shared,
        }
    }
}

/// Iterations and switches of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Timed iterations per contender and operation.
    pub iterations: usize,
    /// Untimed warm-up iterations.
    pub warmup: usize,
}

fn vm_folder(name: &str, count: u32) -> FolderSpec {
    FolderSpec {
        name: name.into(),
        content: Content::Voicemails {
            mailbox: PERSONAL_MAILBOX.into(),
            count,
            secs: 1,
        },
    }
}

/// The folders of each account.
pub fn folders() -> (Vec<FolderSpec>, Vec<FolderSpec>) {
    let personal = vec![
        FolderSpec {
            name: GREETINGS.into(),
            content: Content::Empty,
        },
        vm_folder("bench-deposit", BASE_VOICEMAILS),
        vm_folder("bench-delete", BASE_VOICEMAILS),
        vm_folder("bench-list-10", 10),
        vm_folder("bench-list-100", 100),
        vm_folder("bench-list-1000", 1000),
        FolderSpec {
            name: "bench-play".into(),
            content: Content::Play { secs: PLAY_SECS },
        },
    ];
    let shared = vec![
        FolderSpec {
            name: "bench-count-100".into(),
            content: Content::CountBoxes { boxes: COUNT_BOXES },
        },
        FolderSpec {
            name: "bench-shared-empty".into(),
            content: Content::Shared {
                emails: 0,
                voicemails: SHARED_VOICEMAILS,
                mailbox: SHARED_MAILBOX.into(),
            },
        },
        FolderSpec {
            name: "bench-shared".into(),
            content: Content::Shared {
                emails: SHARED_EMAILS,
                voicemails: SHARED_VOICEMAILS,
                mailbox: SHARED_MAILBOX.into(),
            },
        },
        FolderSpec {
            name: BIG_FOLDER.into(),
            content: Content::Shared {
                emails: BIG_EMAILS,
                voicemails: SHARED_VOICEMAILS,
                mailbox: SHARED_MAILBOX.into(),
            },
        },
    ];
    (personal, shared)
}

/// How a folder was made ready.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Filled {
    /// The folder.
    pub folder: String,
    /// Messages it holds.
    pub messages: u32,
    /// Messages appended now (0: reused as it was).
    pub appended: u32,
    /// Seconds it took (checking, and filling if needed).
    pub secs: f64,
}

/// Creates and fills every folder (reusing folders that are already
/// complete); `progress` hears about each. Returns how each was made ready.
pub fn prepare(plan: &Plan, progress: &mut dyn FnMut(&str)) -> Result<Vec<Filled>> {
    let (personal, shared) = folders();
    let mut filled = Vec::new();
    for (account, specs) in [(&plan.personal, personal), (&plan.shared, shared)] {
        let mut wire = account.connect()?;
        for spec in &specs {
            let started = std::time::Instant::now();
            let added = scenario::ensure(&mut wire, spec)?;
            let secs = started.elapsed().as_secs_f64();
            progress(&format!(
                "{}/{}: {} messages ({}, {secs:.1} s)",
                account.user,
                spec.name,
                spec.content.len(),
                if added > 0 { "filled" } else { "reused" }
            ));
            filled.push(Filled {
                folder: spec.name.clone(),
                messages: spec.content.len(),
                appended: added,
                secs,
            });
        }
        wire.logout();
    }
    Ok(filled)
}

/// Deletes every `bench-*` folder the suite made, except [`BIG_FOLDER`]
/// (kept for the next run).
pub fn cleanup(plan: &Plan) -> Result<()> {
    let (personal, shared) = folders();
    for (account, specs) in [(&plan.personal, personal), (&plan.shared, shared)] {
        let specs: Vec<FolderSpec> = specs.into_iter().filter(|f| f.name != BIG_FOLDER).collect();
        let mut wire = account.connect()?;
        scenario::remove(&mut wire, &specs);
        wire.logout();
    }
    Ok(())
}

/// What an operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Deposit,
    Count,
    CountAll,
    List,
    Play,
    Delete,
}

/// One row of the report.
#[derive(Debug, Clone)]
struct OpDef {
    id: &'static str,
    title: &'static str,
    sequence: &'static str,
    owner: Owner,
    folder: &'static str,
    mailbox: &'static str,
    kind: Kind,
    /// The round-trip times it runs at (`None`: every one of the run).
    rtts: Option<&'static [u32]>,
    /// Also cold over plain text (no TLS).
    plain: bool,
}

const OPS: &[OpDef] = &[
    OpDef {
        id: "deposit",
        title: "Deposit 30 s wav49 + MWI recount",
        sequence: "deposit",
        owner: Owner::Personal,
        folder: "bench-deposit",
        mailbox: PERSONAL_MAILBOX,
        kind: Kind::Deposit,
        rtts: None,
        plain: false,
    },
    OpDef {
        id: "count",
        title: "MWI count, one mailbox (10 messages)",
        sequence: "count",
        owner: Owner::Personal,
        folder: "bench-list-10",
        mailbox: PERSONAL_MAILBOX,
        kind: Kind::Count,
        rtts: None,
        plain: true,
    },
    OpDef {
        id: "count-100",
        title: "MWI count, all 100 mailboxes of a config",
        sequence: "count",
        owner: Owner::Shared,
        folder: "bench-count-100",
        mailbox: "",
        kind: Kind::CountAll,
        // Asterisk's 1,500 round trips take 75 s per iteration at 50 ms.
        rtts: Some(&[0]),
        plain: false,
    },
    OpDef {
        id: "list-10",
        title: "List a folder of 10 voicemails",
        sequence: "list",
        owner: Owner::Personal,
        folder: "bench-list-10",
        mailbox: PERSONAL_MAILBOX,
        kind: Kind::List,
        rtts: None,
        plain: false,
    },
    OpDef {
        id: "list-100",
        title: "List a folder of 100 voicemails",
        sequence: "list",
        owner: Owner::Personal,
        folder: "bench-list-100",
        mailbox: PERSONAL_MAILBOX,
        kind: Kind::List,
        rtts: None,
        plain: false,
    },
    OpDef {
        id: "list-1000",
        title: "List a folder of 1,000 voicemails",
        sequence: "list",
        owner: Owner::Personal,
        folder: "bench-list-1000",
        mailbox: PERSONAL_MAILBOX,
        kind: Kind::List,
        rtts: None,
        plain: false,
    },
    OpDef {
        id: "list-shared-empty",
        title: "List 100 voicemails in a shared folder, no other mail",
        sequence: "list",
        owner: Owner::Shared,
        folder: "bench-shared-empty",
        mailbox: SHARED_MAILBOX,
        kind: Kind::List,
        rtts: Some(FOLDER_SIZE_RTTS),
        plain: false,
    },
    OpDef {
        id: "list-shared-10000",
        title: "List 100 voicemails in a shared folder with 10,000 e-mails",
        sequence: "list",
        owner: Owner::Shared,
        folder: "bench-shared",
        mailbox: SHARED_MAILBOX,
        kind: Kind::List,
        rtts: Some(FOLDER_SIZE_RTTS),
        plain: false,
    },
    OpDef {
        id: "list-shared-100000",
        title: "List 100 voicemails in a shared folder with 100,000 e-mails",
        sequence: "list",
        owner: Owner::Shared,
        folder: BIG_FOLDER,
        mailbox: SHARED_MAILBOX,
        kind: Kind::List,
        rtts: Some(FOLDER_SIZE_RTTS),
        plain: false,
    },
    OpDef {
        id: "count-shared-empty",
        title: "MWI count of 100 voicemails in a shared folder, no other mail",
        sequence: "count",
        owner: Owner::Shared,
        folder: "bench-shared-empty",
        mailbox: SHARED_MAILBOX,
        kind: Kind::Count,
        rtts: Some(FOLDER_SIZE_RTTS),
        plain: false,
    },
    OpDef {
        id: "count-shared-100000",
        title: "MWI count of 100 voicemails in a shared folder with 100,000 e-mails",
        sequence: "count",
        owner: Owner::Shared,
        folder: BIG_FOLDER,
        mailbox: SHARED_MAILBOX,
        kind: Kind::Count,
        rtts: Some(FOLDER_SIZE_RTTS),
        plain: false,
    },
    OpDef {
        id: "play",
        title: "Play a 60 s message",
        sequence: "play",
        owner: Owner::Personal,
        folder: "bench-play",
        mailbox: PERSONAL_MAILBOX,
        kind: Kind::Play,
        rtts: None,
        plain: false,
    },
    OpDef {
        id: "delete",
        title: "Delete + expunge one message",
        sequence: "delete",
        owner: Owner::Personal,
        folder: "bench-delete",
        mailbox: PERSONAL_MAILBOX,
        kind: Kind::Delete,
        rtts: None,
        plain: false,
    },
];

/// The operation ids, in report order.
pub fn operation_ids() -> Vec<&'static str> {
    OPS.iter().map(|o| o.id).collect()
}

fn selected(account: &Account, folder: &str) -> Result<Wire> {
    let mut wire = account.connect()?;
    wire.command(&format!("SELECT {folder}"), Collect::Nothing)?
        .ok(&format!("SELECT {folder}"))?;
    Ok(wire)
}

/// The first message's UID in the selected folder of `wire`.
fn first_uid(wire: &mut Wire) -> Result<u32> {
    wire.command("UID SEARCH 1", Collect::Untagged)?
        .ok("UID SEARCH 1")?
        .search_hits()
        .first()
        .copied()
        .ok_or_else(|| BenchError::Scenario("the play folder is empty".into()))
}

/// State shared by the runners of one operation.
struct Shared {
    janitor: Wire,
    /// The UID the next delete acts on.
    uid: u32,
    /// UIDNEXT of the deposit folder before any deposit.
    base_uid: u32,
}

fn count_mailboxes() -> Vec<String> {
    (0..COUNT_BOXES)
        .map(|b| (FIRST_COUNT_MAILBOX + b).to_string())
        .collect()
}

fn uidnext(wire: &mut Wire, folder: &str) -> Result<u32> {
    let reply = wire
        .command(&format!("STATUS {folder} (UIDNEXT)"), Collect::Untagged)?
        .ok("STATUS")?;
    reply
        .untagged
        .iter()
        .find_map(|l| {
            l.split_once("(UIDNEXT ")?
                .1
                .trim_end_matches(')')
                .trim()
                .parse()
                .ok()
        })
        .ok_or_else(|| BenchError::Scenario(format!("no UIDNEXT for {folder}")))
}

/// Runs one operation for every contender; `runtime` adds imapvm.
fn run_op(
    plan: &Plan,
    net: &dyn Network,
    def: &OpDef,
    opts: Options,
    runtime: Option<&RefCell<&mut dyn Runtime>>,
) -> Result<Vec<(Contender, crate::measure::Summary)>> {
    let account = plan.account(def.owner);
    // Each contender through its own proxy.
    let via = |c: Contender| {
        let (host, port) = net.via(c);
        Account {
            host,
            port,
            ..account.clone()
        }
    };
    // The proxy's counters around each iteration: read after the untimed
    // preparation, and again once the contender's connections settled.
    let counted = |c: Contender| {
        let before = Rc::new(std::cell::Cell::new(WireStats::default()));
        let mark = Rc::clone(&before);
        let settle: crate::measure::Settle<'_> = Box::new(move |_| {
            net.settle(c);
            Ok(net.stats(c) - before.get())
        });
        (move || mark.set(net.stats(c)), settle)
    };
    let seq = sequence::builtin(def.sequence)?;
    let mailboxes = count_mailboxes();
    let deposit_msg = fixture::voicemail(&VoicemailSpec {
        mailbox: PERSONAL_MAILBOX.into(),
        context: CONTEXT.into(),
        msgnum: BASE_VOICEMAILS + 1,
        secs: DEPOSIT_SECS,
        urgent: true,
    })?;
    let deposit_audio = fixture::wav49(DEPOSIT_SECS, 30);
    let delete_msg = fixture::voicemail(&VoicemailSpec {
        mailbox: PERSONAL_MAILBOX.into(),
        context: CONTEXT.into(),
        msgnum: BASE_VOICEMAILS + 1,
        secs: 1,
        urgent: false,
    })?;

    let mut janitor = selected(account, def.folder)?;
    let base_uid = uidnext(&mut janitor, def.folder)?;
    let play_uid = if def.kind == Kind::Play {
        first_uid(&mut janitor)?
    } else {
        0
    };
    let shared = Rc::new(RefCell::new(Shared {
        janitor,
        uid: 0,
        base_uid,
    }));

    // Untimed preparation, the same for every contender.
    let prepare = |shared: Rc<RefCell<Shared>>, kind: Kind, folder: &'static str| {
        let delete_msg = delete_msg.clone();
        move |_round: usize| -> Result<()> {
            let mut s = shared.borrow_mut();
            let s = &mut *s;
            match kind {
                Kind::Deposit => {
                    // Remove what the previous deposit stored.
                    let base = s.base_uid;
                    // NOOP first (its own round trip): see what the contender stored.
                    s.janitor.pipeline(&[b"NOOP".to_vec()], Collect::Nothing)?;
                    s.janitor.pipeline(
                        &[
                            // An explicit upper bound: `base:*` names the highest message
                            // (one of the folder's own) when nothing at or above `base`
                            // exists.
                            format!("UID STORE {base}:4294967295 +FLAGS.SILENT (\\Deleted)")
                                .into_bytes(),
                            format!("UID EXPUNGE {base}:4294967295").into_bytes(),
                        ],
                        Collect::Nothing,
                    )?;
                }
                Kind::Delete => {
                    let uids =
                        scenario::append_all(&mut s.janitor, folder, &[("", delete_msg.clone())])?;
                    s.uid = *uids
                        .first()
                        .ok_or_else(|| BenchError::Scenario("APPEND gave no APPENDUID".into()))?;
                }
                _ => {}
            }
            Ok(())
        }
    };

    let mut runners: Vec<Runner<'_>> = Vec::new();

    // Asterisk's replayed sequence.
    {
        let mut vars = Vars {
            folder: def.folder.into(),
            greetings: GREETINGS.into(),
            ext: def.mailbox.into(),
            ctx: CONTEXT.into(),
            seq: 1,
            exists: 0,
        };
        let kind = def.kind;
        let seq = seq.clone();
        let literal = deposit_msg.clone();
        let mailboxes = mailboxes.clone();
        let folder = def.folder;
        let before_delete = prepare(Rc::clone(&shared), kind, folder);
        let prep_wire: Rc<RefCell<Option<u32>>> = Rc::new(RefCell::new(None));
        let prep_seen = Rc::clone(&prep_wire);
        let wire = Rc::new(RefCell::new(via(Contender::Asterisk).connect()?));
        let prep_conn = Rc::clone(&wire);
        let (mark, settle) = counted(Contender::Asterisk);
        runners.push(Runner {
            contender: Contender::Asterisk,
            settle: Some(settle),
            prepare: Box::new(move |round| {
                before_delete(round)?;
                if kind == Kind::Delete {
                    // Asterisk has the folder open and knows its messages.
                    let reply = prep_conn
                        .borrow_mut()
                        .command(&format!("SELECT {folder}"), Collect::Untagged)?
                        .ok("SELECT")?;
                    *prep_seen.borrow_mut() = reply.exists();
                }
                mark();
                Ok(())
            }),
            operate: Box::new(move |_| {
                let mut w = wire.borrow_mut();
                match kind {
                    Kind::CountAll => {
                        for m in &mailboxes {
                            vars.ext.clone_from(m);
                            replay(&mut w, &seq, &mut vars, None)?;
                        }
                    }
                    Kind::Deposit => {
                        replay(&mut w, &seq, &mut vars, Some(&literal))?;
                    }
                    Kind::Delete => {
                        vars.seq = prep_wire.borrow().unwrap_or(1);
                        replay(&mut w, &seq, &mut vars, None)?;
                    }
                    _ => {
                        replay(&mut w, &seq, &mut vars, None)?;
                    }
                }
                Ok(WireStats::default())
            }),
        });
    }

    // The floor.
    {
        let wire = Rc::new(RefCell::new(selected(&via(Contender::Floor), def.folder)?));
        let prep_conn = Rc::clone(&wire);
        let (mark, settle) = counted(Contender::Floor);
        let kind = def.kind;
        let (folder, mailbox) = (def.folder, def.mailbox);
        let message = deposit_msg.clone();
        let mailboxes = mailboxes.clone();
        let before = prepare(Rc::clone(&shared), kind, folder);
        let state = Rc::clone(&shared);
        runners.push(Runner {
            contender: Contender::Floor,
            settle: Some(settle),
            prepare: Box::new(move |round| {
                before(round)?;
                if kind == Kind::Delete {
                    // Let the session learn the new message (untimed).
                    prep_conn.borrow_mut().command("NOOP", Collect::Nothing)?;
                }
                mark();
                Ok(())
            }),
            operate: Box::new(move |_| {
                let mut w = wire.borrow_mut();
                let flight = match kind {
                    Kind::Deposit => floor::deposit(folder, &message, mailbox, CONTEXT),
                    Kind::Count => floor::count(mailbox, CONTEXT),
                    Kind::CountAll => mailboxes
                        .iter()
                        .flat_map(|m| floor::count(m, CONTEXT))
                        .collect(),
                    Kind::List => floor::list(mailbox, CONTEXT),
                    Kind::Play => floor::play(play_uid),
                    Kind::Delete => floor::delete(state.borrow().uid),
                };
                for reply in w.pipeline(&flight, Collect::Nothing)? {
                    reply.ok(def.id)?;
                }
                Ok(WireStats::default())
            }),
        });
    }

    // imapvm, warm then cold (STARTTLS, implicit TLS, and plain for counts).
    if let Some(rt) = runtime {
        let mut imapvm = vec![
            Contender::Imapvm,
            Contender::ImapvmCold,
            Contender::ImapvmColdImaps,
        ];
        if def.plain {
            imapvm.push(Contender::ImapvmColdPlain);
        }
        for contender in imapvm {
            let kind = def.kind;
            let (folder, mailbox, owner) = (def.folder, def.mailbox, def.owner);
            let audio = deposit_audio.clone();
            let mailboxes = mailboxes.clone();
            let state = Rc::clone(&shared);
            let before = prepare(Rc::clone(&shared), kind, folder);
            let (mark, settle) = counted(contender);
            runners.push(Runner {
                contender,
                settle: Some(settle),
                prepare: Box::new(move |round| {
                    before(round)?;
                    mark();
                    Ok(())
                }),
                operate: Box::new(move |_| {
                    let uid = state.borrow().uid;
                    let op = match kind {
                        Kind::Deposit => RuntimeOp::Deposit {
                            folder,
                            mailbox,
                            audio: &audio,
                            secs: DEPOSIT_SECS,
                        },
                        Kind::Count => RuntimeOp::Count { folder, mailbox },
                        Kind::CountAll => RuntimeOp::CountAll {
                            folder,
                            mailboxes: &mailboxes,
                        },
                        Kind::List => RuntimeOp::List { folder, mailbox },
                        Kind::Play => RuntimeOp::Play {
                            folder,
                            mailbox,
                            uid: play_uid,
                        },
                        Kind::Delete => RuntimeOp::Delete {
                            folder,
                            mailbox,
                            uid,
                        },
                    };
                    rt.borrow_mut().run(contender, owner, &op)?;
                    Ok(WireStats::default())
                }),
            });
        }
    }

    let out = run_interleaved(&mut runners, opts.warmup, opts.iterations);
    drop(runners);
    // Leave the deposit folder as it was.
    if def.kind == Kind::Deposit
        && let Ok(mut s) = shared.try_borrow_mut()
    {
        let base = s.base_uid;
        let _ = s.janitor.pipeline(&[b"NOOP".to_vec()], Collect::Nothing);
        let _ = s.janitor.pipeline(
            &[
                format!("UID STORE {base}:4294967295 +FLAGS.SILENT (\\Deleted)").into_bytes(),
                format!("UID EXPUNGE {base}:4294967295").into_bytes(),
            ],
            Collect::Nothing,
        );
    }
    out
}

/// Runs every operation (ids in `only`, or all when empty) that runs at
/// `net`'s round-trip time, every contender through its own proxy. When the
/// runtime fails on an operation, that operation is measured again without
/// it and the failure is noted in its row (never hidden, never faked).
pub fn run(
    plan: &Plan,
    net: &dyn Network,
    opts: Options,
    only: &[String],
    runtime: Option<&mut dyn Runtime>,
    runtime_note: &str,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<OperationResult>> {
    let runtime = runtime.map(RefCell::new);
    let rtt = net.rtt_ms();
    let mut results = Vec::new();
    for def in OPS {
        if !only.is_empty() && !only.iter().any(|o| o == def.id) {
            continue;
        }
        if def.rtts.is_some_and(|r| !r.contains(&rtt)) {
            continue;
        }
        progress(&format!("measuring {} at {rtt} ms RTT ...", def.id));
        let seq = sequence::builtin(def.sequence)?;
        let source = if def.kind == Kind::CountAll {
            format!("{} (once per mailbox)", seq.source())
        } else {
            seq.source()
        };
        let mut notes: Vec<(Contender, String)> = Vec::new();
        let measured = match run_op(plan, net, def, opts, runtime.as_ref()) {
            Ok(m) => m,
            Err(e) if runtime.is_some() => {
                progress(&format!(
                    "  imapvm failed on {}: {e}; measuring without it",
                    def.id
                ));
                for c in [
                    Contender::Imapvm,
                    Contender::ImapvmCold,
                    Contender::ImapvmColdImaps,
                    Contender::ImapvmColdPlain,
                ] {
                    notes.push((c, format!("failed: {e}")));
                }
                run_op(plan, net, def, opts, None)?
            }
            Err(e) => return Err(e),
        };
        let mut row = Vec::new();
        for c in Contender::ALL {
            let summary = measured
                .iter()
                .find(|(m, _)| *m == c)
                .map(|(_, s)| s.clone());
            let note = notes
                .iter()
                .find(|(m, _)| *m == c)
                .map(|(_, n)| n.clone())
                .unwrap_or_else(|| match (c, &summary) {
                    (Contender::ImapvmColdPlain, None) if !def.plain => {
                        "not run for this operation".to_owned()
                    }
                    (
                        Contender::Imapvm
                        | Contender::ImapvmCold
                        | Contender::ImapvmColdImaps
                        | Contender::ImapvmColdPlain,
                        None,
                    ) => runtime_note.to_owned(),
                    (Contender::Asterisk, _) if def.kind == Kind::CountAll => {
                        format!("{COUNT_BOXES} × the count sequence")
                    }
                    _ => String::new(),
                });
            row.push(Measured {
                contender: c,
                summary,
                note,
            });
        }
        for (c, s) in &measured {
            progress(&format!(
                "  {:<20} median {:>9.3} ms  p99 {:>9.3} ms  {:>4} round trips  {:>9} B out  {:>9} B in",
                c.label(),
                s.median_us / 1000.0,
                s.p99_us / 1000.0,
                s.round_trips,
                s.bytes_out,
                s.bytes_in
            ));
        }
        results.push(OperationResult {
            id: def.id.into(),
            title: def.title.into(),
            asterisk_source: source,
            results: row,
            rtt_ms: rtt,
        });
    }
    Ok(results)
}
