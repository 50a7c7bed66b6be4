//! The phone service end to end: a scripted Asterisk 22 `res_agi` peer
//! (`imapvm_testkit::asterisk`) calls `imapvm agi`'s server, which stores on the private
//! Dovecot; Python's imaplib checks the mailbox as the user's mail client would.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failed set-up step should stop the test loudly"
)]

mod docs;
mod leave;
mod main_flow;
mod safety;

use std::path::PathBuf;

pub(crate) use imapvm_harness::{pw, py, q, scratch_dir, store_with, unique};
use imapvm_phone::{Phone, PhoneOptions, PhoneStore, Spool};
use imapvm_testkit::asterisk::{self, Call, Outcome};

/// A running phone service on a fresh folder of vm1234 (box 1234@default) and vm5678
/// (5678@default), with its own spool.
#[allow(dead_code, reason = "each test module uses the parts it needs")]
pub(crate) struct Rig {
    pub phone: Phone,
    pub folder: String,
    pub spool: PathBuf,
    pub vm_spool: PathBuf,
    pub conf: PathBuf,
    pub store: imapvm::Store,
}

impl Rig {
    /// `general` lines go first in `[general]` (they win), `boxes` replace the default boxes.
    pub(crate) async fn start(name: &str, general: &str) -> Rig {
        Rig::with_boxes(name, general, None).await
    }

    pub(crate) async fn with_boxes(name: &str, general: &str, boxes: Option<&str>) -> Rig {
        Rig::build(name, general, boxes, PhoneOptions::default()).await
    }

    pub(crate) async fn build(
        name: &str,
        general: &str,
        boxes: Option<&str>,
        options: PhoneOptions,
    ) -> Rig {
        Rig::build_at(name, general, boxes, options, None).await
    }

    /// With `port`, the store's IMAP server is `127.0.0.1:port` instead of the private
    /// Dovecot (an outage: nothing listens there).
    pub(crate) async fn build_at(
        name: &str,
        general: &str,
        boxes: Option<&str>,
        options: PhoneOptions,
        port: Option<u16>,
    ) -> Rig {
        let folder = unique(name);
        let default_boxes = format!(
            "[default]\n1234 => 4242,Alice Mailbox,,,imapuser=vm1234|imappassword={}\n\
             5678 => 8765,Bob Mailbox,,,imapuser=vm4321|imappassword={}\n",
            pw("vm1234"),
            pw("vm4321")
        );
        let dir = scratch_dir("imapvm-phone", name);
        let general = format!(
            "imapfolder={folder}\ngreetingsfolder={folder}-greetings\nimapvm_outbox={}\n{general}",
            dir.join("outbox").display()
        );
        let store = match port {
            None => store_with(name, &general, boxes.unwrap_or(&default_boxes)),
            Some(port) => imapvm_harness::store_for(
                name,
                "127.0.0.1",
                port,
                &general,
                boxes.unwrap_or(&default_boxes),
            ),
        };
        let spool = dir.join("spool");
        let vm_spool = dir.join("voicemail");
        std::fs::create_dir_all(&vm_spool).unwrap();
        let conf = conf_path(&store);
        let phone_store = PhoneStore::new(store.clone(), Spool::open(&spool).unwrap(), &vm_spool)
            .with_config(&conf, imapvm_ivr::LockoutPolicy::default());
        let phone = Phone::start("127.0.0.1:0".parse().unwrap(), phone_store, options)
            .await
            .unwrap();
        Rig {
            phone,
            folder,
            spool,
            vm_spool,
            conf,
            store,
        }
    }

    /// Places `call` and waits for the server's report of it.
    pub(crate) async fn call(&mut self, call: Call) -> (Outcome, imapvm_phone::CallReport) {
        let outcome = asterisk::place(self.phone.local_addr(), call).await;
        let report =
            tokio::time::timeout(std::time::Duration::from_secs(30), self.phone.next_report())
                .await
                .expect("a report within 30 s")
                .expect("the server is running");
        (outcome, report)
    }

    /// Files left in the spool.
    pub(crate) fn spool_files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.spool)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }
}

/// The voicemail.conf the store was opened from (the harness writes it into a scratch dir).
fn conf_path(store: &imapvm::Store) -> PathBuf {
    let id = imapvm_types::MailboxId::new("1234", "default").unwrap();
    store
        .config()
        .mailbox_location(&id)
        .map(|l| PathBuf::from(&l.file))
        .expect("the store knows where 1234@default is defined")
}

/// The problems the Asterisk peer saw, as one string for assertions.
pub(crate) fn problems(o: &Outcome) -> String {
    o.problems.join("; ")
}

/// Asserts the scripted Asterisk saw no problem in the call (a sound file that does not
/// exist, a command res_agi would refuse, a key pressed while nothing waited).
pub(crate) fn assert_clean(o: &Outcome) {
    assert!(
        o.problems.is_empty(),
        "{}\n{:#?}",
        problems(o),
        o.transcript
    );
}

/// Asserts `prompt` was played in the call.
pub(crate) fn assert_said(o: &Outcome, prompt: &str) {
    assert!(
        o.prompts.iter().any(|p| p == prompt),
        "{prompt} was not played: {:?}",
        o.prompts
    );
}
