//! The servers people run, as test targets: Dovecot, Cyrus (`INBOX/` with `/`) and Courier
//! (`INBOX.` with `.`), each also with its "old server" personality (no UIDPLUS, MOVE,
//! NOTIFY, CONDSTORE). A scenario runs on all six concurrently ([`on_every_personality`]);
//! its cells become a table of `docs/compatibility.md`, which the tests keep in step with
//! the code ([`check_compatibility`]).
//!
//! The runtime's test binary owns the first part of that document (every core operation);
//! `imapvm-watch`'s owns the part from [`WATCHER_HEADING`] on (the MWI watcher).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::future::Future;
use std::path::PathBuf;

use imapvm::Store;
use xtask::server::ServerInfo;

use crate::{scratch_dir, unique};

/// Which implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The private Dovecot.
    Dovecot,
    /// The private Cyrus.
    Cyrus,
    /// The private Courier-IMAP.
    Courier,
}

/// One server personality.
#[derive(Debug, Clone)]
pub struct Target {
    /// Which server.
    pub kind: Kind,
    /// Its "old server" personality.
    pub old: bool,
    /// Where it runs and who its users are.
    pub info: ServerInfo,
}

fn running(kind: Kind) -> ServerInfo {
    let got = match kind {
        Kind::Dovecot => return crate::server().clone(),
        Kind::Cyrus => xtask::cyrus::ensure_running(),
        Kind::Courier => xtask::courier::ensure_running(),
    };
    got.unwrap_or_else(|e| panic!("private {kind:?}: {e}"))
}

/// The personality `old` of `kind` (its server started on first use).
pub fn target(kind: Kind, old: bool) -> Target {
    Target {
        kind,
        old,
        info: running(kind),
    }
}

/// Python helpers on top of xtask's prelude and the crate's (`C` connects to this
/// personality).
const PY: &str = r#"
def by_msg_id(m, folder, msg_id):
    sel(m, folder)
    return uids(m, 'HEADER', 'X-Asterisk-VM-Message-ID', msg_id)

def ordinary(m, folder, subject, fl):
    raw = ("From: someone@example.test\r\nSubject: %s\r\n\r\nordinary mail\r\n" % subject).encode()
    check(m.append('"%s"' % folder, fl, None, raw), "append ordinary")
"#;

impl Target {
    /// `Dovecot`, `Cyrus (old)`...
    pub fn label(&self) -> String {
        let name = format!("{:?}", self.kind);
        if self.old {
            format!("{name} (old)")
        } else {
            name
        }
    }

    /// Its host.
    pub fn host(&self) -> &str {
        if self.old {
            &self.info.old_host
        } else {
            &self.info.host
        }
    }

    /// Its port (STARTTLS).
    pub fn port(&self) -> u16 {
        if self.old {
            self.info.old_port
        } else {
            self.info.port
        }
    }

    /// The password of a test user.
    pub fn pw(&self, user: &str) -> String {
        self.info.users.get(user).cloned().expect("known user")
    }

    /// The server's own generated voicemail.conf for this personality, with `general` lines
    /// put first in `[general]` (Asterisk keeps the first value of a repeated option) and
    /// `sections` appended.
    pub fn store(&self, name: &str, general: &str, sections: &str) -> Store {
        let conf = if self.old {
            &self.info.voicemail_conf_old
        } else {
            &self.info.voicemail_conf
        };
        let text = std::fs::read_to_string(conf).unwrap();
        let text = text.replacen("[general]\n", &format!("[general]\n{general}\n"), 1);
        let path = scratch_dir("imapvm-it-servers", name).join("voicemail.conf");
        std::fs::write(&path, format!("{text}\n{sections}\n")).unwrap();
        Store::open(&path).unwrap()
    }

    /// A context of its own with box 1234 on `user`: `(section text, "1234@ctx")`.
    pub fn own_box(&self, user: &str) -> (String, String) {
        let context = unique("ctx");
        (
            format!(
                "[{context}]\n1234 => 1234,Alice Mailbox,,,imapuser={user}|imappassword={}\n",
                self.pw(user)
            ),
            format!("1234@{context}"),
        )
    }

    /// Runs a mail-client script; `C(user)` connects to this personality.
    pub fn py(&self, script: &str) -> String {
        let connect = if self.old { "connect_old" } else { "connect" };
        let helpers = crate::PY_HELPERS;
        xtask::mail_client::run(
            &self.info,
            &format!("{helpers}\n{PY}\nC = {connect}\n{script}"),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", self.label()))
    }

    /// The personal namespace this server must report: (prefix, delimiter).
    pub fn expected_namespace(&self) -> (&'static str, char) {
        match self.kind {
            Kind::Dovecot => ("", '/'),
            Kind::Cyrus => ("INBOX/", '/'),
            Kind::Courier => ("INBOX.", '.'),
        }
    }

    /// The wire name of the folder `levels` under the personal namespace.
    pub fn wire(&self, levels: &[&str]) -> String {
        let (prefix, delimiter) = self.expected_namespace();
        format!("{prefix}{}", levels.join(&delimiter.to_string()))
    }
}

/// One personality's cells of a table, by row.
#[derive(Debug, Clone, Default)]
pub struct Column {
    cells: BTreeMap<&'static str, String>,
}

impl Column {
    /// Sets the cell of `row`.
    pub fn set(&mut self, row: &'static str, value: impl Into<String>) {
        self.cells.insert(row, value.into());
    }
}

/// Runs `scenario` on each of the six personalities concurrently and returns them with
/// their columns, in order; a panic in any of them fails the caller with every failure.
/// `IMAPVM_IT_SERVERS=courier` runs only the personalities whose label contains the word
/// (case-insensitive); the third value then says the run was partial (a table from it is
/// not checked).
pub async fn on_every_personality<F, Fut>(scenario: F) -> (Vec<Target>, Vec<Column>, bool)
where
    F: Fn(Target) -> Fut,
    Fut: Future<Output = Column> + Send + 'static,
{
    let only = std::env::var("IMAPVM_IT_SERVERS").ok();
    let targets: Vec<Target> = [Kind::Dovecot, Kind::Cyrus, Kind::Courier]
        .into_iter()
        .flat_map(|k| {
            let main = target(k, false);
            let old = Target {
                old: true,
                ..main.clone()
            };
            [main, old]
        })
        .filter(|t| {
            only.as_deref().is_none_or(|w| {
                t.label()
                    .to_ascii_lowercase()
                    .contains(&w.to_ascii_lowercase())
            })
        })
        .collect();
    let tasks: Vec<_> = targets
        .iter()
        .map(|t| (t.label(), tokio::spawn(scenario(t.clone()))))
        .collect();
    let mut columns = Vec::new();
    let mut failures = Vec::new();
    for (label, task) in tasks {
        match task.await {
            Ok(col) => columns.push(col),
            Err(e) => {
                let why = match e.try_into_panic() {
                    Ok(p) => p
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                        .unwrap_or_default(),
                    Err(e) => e.to_string(),
                };
                failures.push(format!("{label}: {why}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    (targets, columns, only.is_some())
}

/// The Markdown table of `rows` (in order) with one column per personality.
pub fn table(targets: &[Target], rows: &[&str], columns: &[Column]) -> String {
    let mut s = String::from("| |");
    for t in targets {
        let _ = write!(s, " {} |", t.label());
    }
    s.push_str("\n|---|");
    for _ in targets {
        s.push_str("---|");
    }
    s.push('\n');
    for row in rows {
        let _ = write!(s, "| {row} |");
        for c in columns {
            let cell = c.cells.get(row).map_or("?", String::as_str);
            let _ = write!(s, " {} |", cell.replace('|', "\\|"));
        }
        s.push('\n');
    }
    s
}

/// Where the MWI watcher's part of `docs/compatibility.md` starts.
pub const WATCHER_HEADING: &str = "## The MWI watcher";

/// Which part of `docs/compatibility.md` a test writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocPart {
    /// Everything before [`WATCHER_HEADING`] (the runtime's test binary).
    Runtime,
    /// From [`WATCHER_HEADING`] on (`imapvm-watch`'s test binary).
    Watcher,
}

/// The committed table.
fn doc_path() -> PathBuf {
    xtask::server::workspace_root().join("docs/compatibility.md")
}

/// Fails when `part` of the committed `docs/compatibility.md` differs from `rendered`,
/// after writing the file with that part replaced beside it as `compatibility.md.new`, so
/// the table cannot drift from the code.
pub fn check_compatibility(part: DocPart, rendered: &str) {
    let path = doc_path();
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let split = committed
        .find(&format!("\n{WATCHER_HEADING}"))
        .map_or(committed.len(), |i| i + 1);
    let (runtime, watcher) = committed.split_at(split);
    let text = match part {
        DocPart::Runtime => format!("{rendered}{watcher}"),
        DocPart::Watcher => format!("{runtime}{rendered}"),
    };
    if committed != text {
        let new = path.with_extension("md.new");
        std::fs::write(&new, &text).unwrap();
        panic!(
            "docs/compatibility.md is out of date: the new text is in {}\n{rendered}",
            new.display()
        );
    }
}
