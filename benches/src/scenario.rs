//! Scenario set-up on the server: dedicated `bench-*` folders in the test
//! users' accounts, filled fast with pipelined LITERAL+ APPENDs, and removed
//! afterwards.
//!
//! | folder | account | content |
//! |---|---|---|
//! | `bench-greetings` | personal | empty (Asterisk's greeting lookup) |
//! | `bench-deposit` | personal | 10 voicemails; deposits are removed after each iteration |
//! | `bench-list-N` | personal | N voicemails (N = 10, 100, 1,000) |
//! | `bench-play` | personal | the 60 s voicemail, then two short ones |
//! | `bench-delete` | personal | 10 voicemails; one is added before each iteration |
//! | `bench-count-100` | shared | 3 voicemails (new, old, urgent) for each of 100 mailboxes |
//! | `bench-shared` | shared | 10,000 ordinary e-mails and 100 voicemails among them |
//! | `bench-shared-empty` | shared | the same 100 voicemails alone |

use crate::error::{BenchError, Result};
use crate::fixture::{VoicemailSpec, ordinary_email, voicemail};
use crate::wire::{Collect, Wire, literal_plus};

/// The voicemail context of every generated message.
pub const CONTEXT: &str = "bench";
/// The mailbox whose personal folders the benches use.
pub const PERSONAL_MAILBOX: &str = "4321";
/// The mailbox listed in the shared folders.
pub const SHARED_MAILBOX: &str = "2001";
/// The first of the 100 mailboxes of the count-all scenario.
pub const FIRST_COUNT_MAILBOX: u32 = 3000;
/// APPENDs per pipelined flight while filling.
pub const FILL_BATCH: usize = 200;
/// Messages per MULTIAPPEND command while filling a folder.
pub const MULTIAPPEND_BATCH: usize = 2000;

/// An IMAP account on the benchmark server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Host (loopback).
    pub host: String,
    /// Plain IMAP port.
    pub port: u16,
    /// Login name.
    pub user: String,
    /// Password (only ever sent to the loopback server).
    pub password: String,
}

impl Account {
    /// A logged-in raw connection.
    pub fn connect(&self) -> Result<Wire> {
        let mut wire = Wire::connect(&self.host, self.port)?;
        wire.login(&self.user, &self.password)?;
        Ok(wire)
    }
}

/// What a folder holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// Nothing.
    Empty,
    /// `count` voicemails of `secs` seconds for `mailbox`: every 10th urgent,
    /// every 3rd (otherwise) seen, the rest new.
    Voicemails {
        /// Mailbox number.
        mailbox: String,
        /// How many.
        count: u32,
        /// Seconds of audio each.
        secs: u32,
    },
    /// The play folder: one voicemail of `secs` seconds, then two of 1 s.
    Play {
        /// Seconds of the first message.
        secs: u32,
    },
    /// One new, one old and one urgent voicemail for each of `boxes` mailboxes.
    CountBoxes {
        /// Number of mailboxes.
        boxes: u32,
    },
    /// `emails` ordinary e-mails with `voicemails` voicemails of `mailbox`
    /// spread evenly among them.
    Shared {
        /// Ordinary e-mails.
        emails: u32,
        /// Voicemails.
        voicemails: u32,
        /// Mailbox number of the voicemails.
        mailbox: String,
    },
}

/// One message to APPEND: its flag list (may be empty) and bytes.
pub type Planned = (&'static str, Vec<u8>);

fn state_flags(i: u32) -> &'static str {
    if i.is_multiple_of(10) {
        "(\\Flagged)"
    } else if i.is_multiple_of(3) {
        "(\\Seen)"
    } else {
        ""
    }
}

impl Content {
    /// Messages the folder holds once filled.
    pub fn len(&self) -> u32 {
        match self {
            Content::Empty => 0,
            Content::Voicemails { count, .. } => *count,
            Content::Play { .. } => 3,
            Content::CountBoxes { boxes } => boxes * 3,
            Content::Shared {
                emails, voicemails, ..
            } => emails + voicemails,
        }
    }

    /// True for [`Content::Empty`] (or zero messages).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The messages, in APPEND order.
    pub fn messages(&self) -> Result<Vec<Planned>> {
        let vm = |mailbox: &str, msgnum: u32, secs: u32, urgent: bool| {
            voicemail(&VoicemailSpec {
                mailbox: mailbox.to_owned(),
                context: CONTEXT.to_owned(),
                msgnum,
                secs,
                urgent,
            })
        };
        let mut out = Vec::new();
        match self {
            Content::Empty => {}
            Content::Voicemails {
                mailbox,
                count,
                secs,
            } => {
                for i in 1..=*count {
                    let flags = state_flags(i);
                    out.push((flags, vm(mailbox, i, *secs, flags == "(\\Flagged)")?));
                }
            }
            Content::Play { secs } => {
                out.push(("", vm(PERSONAL_MAILBOX, 1, *secs, false)?));
                out.push(("", vm(PERSONAL_MAILBOX, 2, 1, false)?));
                out.push(("(\\Seen)", vm(PERSONAL_MAILBOX, 3, 1, false)?));
            }
            Content::CountBoxes { boxes } => {
                for b in 0..*boxes {
                    let mailbox = (FIRST_COUNT_MAILBOX + b).to_string();
                    out.push(("", vm(&mailbox, 1, 1, false)?));
                    out.push(("(\\Seen)", vm(&mailbox, 2, 1, false)?));
                    out.push(("(\\Flagged)", vm(&mailbox, 3, 1, true)?));
                }
            }
            Content::Shared {
                emails,
                voicemails,
                mailbox,
            } => {
                let total = emails + voicemails;
                let every = if *voicemails == 0 {
                    u32::MAX
                } else {
                    total / voicemails
                };
                let (mut e, mut v) = (0, 0);
                for i in 0..total {
                    if v < *voicemails && (i % every == every - 1 || e == *emails) {
                        v += 1;
                        let flags = state_flags(v);
                        out.push((flags, vm(mailbox, v, 1, flags == "(\\Flagged)")?));
                    } else {
                        e += 1;
                        out.push((
                            if e.is_multiple_of(2) { "(\\Seen)" } else { "" },
                            ordinary_email(e),
                        ));
                    }
                }
            }
        }
        Ok(out)
    }
}

/// A folder of one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderSpec {
    /// Folder name (an atom: `bench-...`).
    pub name: String,
    /// What it holds.
    pub content: Content,
}

/// `STATUS folder (MESSAGES)`, or `None` when the folder does not exist.
pub fn message_count(wire: &mut Wire, folder: &str) -> Result<Option<u32>> {
    let reply = wire.command(&format!("STATUS {folder} (MESSAGES)"), Collect::Untagged)?;
    if reply.status != crate::wire::Status::Ok {
        return Ok(None);
    }
    Ok(reply.untagged.iter().find_map(|l| {
        let rest = l.strip_prefix("STATUS ")?;
        let inner = rest.split_once("(MESSAGES ")?.1;
        inner.trim_end_matches(')').trim().parse().ok()
    }))
}

/// Creates `spec` and fills it, unless it already holds exactly its number of
/// messages (then it is reused as is). Returns the messages appended.
pub fn ensure(wire: &mut Wire, spec: &FolderSpec) -> Result<u32> {
    if message_count(wire, &spec.name)? == Some(spec.content.len()) {
        return Ok(0);
    }
    // Start clean: a folder with the wrong content is recreated.
    let _ = wire.command("UNSELECT", Collect::Nothing)?;
    let _ = wire.command(&format!("DELETE {}", spec.name), Collect::Nothing)?;
    wire.command(&format!("CREATE {}", spec.name), Collect::Nothing)?
        .ok(&format!("CREATE {}", spec.name))?;
    let messages = spec.content.messages()?;
    multiappend(wire, &spec.name, &messages)?;
    let got = message_count(wire, &spec.name)?;
    if got != Some(spec.content.len()) {
        return Err(BenchError::Scenario(format!(
            "{} holds {got:?} messages after filling, expected {}",
            spec.name,
            spec.content.len()
        )));
    }
    Ok(messages.len() as u32)
}

/// APPENDs `messages` to `folder` in pipelined LITERAL+ flights.
pub fn append_all(wire: &mut Wire, folder: &str, messages: &[Planned]) -> Result<Vec<u32>> {
    let mut uids = Vec::with_capacity(messages.len());
    for batch in messages.chunks(FILL_BATCH) {
        let flight: Vec<Vec<u8>> = batch
            .iter()
            .map(|(flags, bytes)| {
                let head = if flags.is_empty() {
                    format!("APPEND {folder}")
                } else {
                    format!("APPEND {folder} {flags}")
                };
                literal_plus(&head, bytes)
            })
            .collect();
        for reply in wire.pipeline(&flight, Collect::Nothing)? {
            let reply = reply.ok(&format!("APPEND {folder}"))?;
            if let Some((_, uid)) = reply.append_uid() {
                uids.push(uid);
            }
        }
    }
    Ok(uids)
}

/// APPENDs `messages` to `folder` as MULTIAPPEND commands (RFC 3502) of
/// [`MULTIAPPEND_BATCH`] LITERAL+ messages each: one server transaction per
/// command, which fills a 100,000-message folder far faster than one APPEND
/// per message.
pub fn multiappend(wire: &mut Wire, folder: &str, messages: &[Planned]) -> Result<()> {
    for batch in messages.chunks(MULTIAPPEND_BATCH) {
        let mut command = format!("APPEND {folder}").into_bytes();
        for (flags, bytes) in batch {
            if !flags.is_empty() {
                command.push(b' ');
                command.extend_from_slice(flags.as_bytes());
            }
            command.extend_from_slice(format!(" {{{}+}}\r\n", bytes.len()).as_bytes());
            command.extend_from_slice(bytes);
        }
        for reply in wire.pipeline(&[command], Collect::Nothing)? {
            reply.ok(&format!("APPEND {folder} (MULTIAPPEND of {})", batch.len()))?;
        }
    }
    Ok(())
}

/// Deletes the folders (errors ignored: best effort at the end of a run).
pub fn remove(wire: &mut Wire, folders: &[FolderSpec]) {
    let _ = wire.command("UNSELECT", Collect::Nothing);
    for f in folders {
        let _ = wire.command(&format!("DELETE {}", f.name), Collect::Nothing);
    }
}
