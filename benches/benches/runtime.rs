//! The imapvm contender: the runtime's public API (`Store`, `Mailbox`) on
//! the private Dovecot, warm (one store per folder, kept connected, plain
//! text like the other warm contenders) or cold (a new store per iteration:
//! connect, STARTTLS, implicit TLS or plain text as the contender says, login,
//! then the operation). Each contender connects through its own latency proxy;
//! the suite reads the round trips and bytes on the proxy, the same way for
//! every contender. A cold iteration is what a command of the CLI does:
//! the operation, then `Store::close` (LOGOUT), with a `cache_dir` (imapvm.conf) as an
//! operator sets one: each cold store starts from the voicemail UIDs the one before wrote
//! at its close (the warm-up writes the first file).

use std::collections::HashMap;

use imapvm::{Audio, MessageRef, NewVoicemail, Store, Urgency};
use imapvm_benches::measure::Contender;
use imapvm_benches::scenario::CONTEXT;
use imapvm_benches::suite::{GREETINGS, Network, Owner, Plan, Runtime, RuntimeOp};
use imapvm_benches::{BenchError, Result};

/// imapvm through its public library API.
pub struct ImapvmRuntime {
    rt: tokio::runtime::Runtime,
    /// Where each imapvm contender connects (its proxy).
    via: HashMap<Contender, (String, u16)>,
    cafile: String,
    plan: Plan,
    warm: HashMap<(bool, String), Store>,
    /// The cold stores' `cache_dir` (emptied when the runtime starts).
    cache_dir: std::path::PathBuf,
}

fn fail(what: &str, e: impl std::fmt::Display) -> BenchError {
    BenchError::Scenario(format!("imapvm {what}: {e}"))
}

impl ImapvmRuntime {
    /// A runtime for the private server, its contenders connecting through `net`.
    pub fn new(
        server: &xtask::server::ServerInfo,
        plan: &Plan,
        net: &dyn Network,
    ) -> Result<ImapvmRuntime> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| BenchError::io("starting a tokio runtime", e))?;
        let via = [
            Contender::Imapvm,
            Contender::ImapvmCold,
            Contender::ImapvmColdImaps,
            Contender::ImapvmColdPlain,
        ]
        .into_iter()
        .map(|c| (c, net.via(c)))
        .collect();
        let cache_dir = xtask::server::target_dir().join("tmp/bench-uid-cache");
        match std::fs::remove_dir_all(&cache_dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(BenchError::io("emptying the cold stores' cache_dir", e));
            }
            _ => {}
        }
        Ok(ImapvmRuntime {
            rt,
            via,
            cafile: server.cert.display().to_string(),
            plan: plan.clone(),
            warm: HashMap::new(),
            cache_dir,
        })
    }

    /// The voicemail.conf of one folder for `contender`: every mailbox the
    /// suite uses in it, the server being the contender's proxy.
    fn config(
        &self,
        contender: Contender,
        owner: Owner,
        folder: &str,
        mailboxes: &[&str],
    ) -> Result<String> {
        let account = self.plan.account(owner);
        let (host, port) = self
            .via
            .get(&contender)
            .ok_or_else(|| fail("contender", format!("{contender:?} has no proxy")))?;
        let flags = match contender {
            Contender::ImapvmCold => "tls",
            Contender::ImapvmColdImaps => "ssl",
            _ => "notls",
        };
        let mut text = format!(
            "[general]\nimapserver={host}\nimapport={port}\nimapflags={flags}\nimapcafile={}\n\
             imapfolder={folder}\nimapgreetings=no\ngreetingsfolder={GREETINGS}\n\
             expungeonhangup=yes\nmaxmsg=9999\nformat=wav49\n\
             imapopentimeout=30\nimapreadtimeout=60\nimapwritetimeout=60\n[{CONTEXT}]\n",
            self.cafile
        );
        for m in mailboxes {
            text.push_str(&format!(
                "{m} => {m},Bench {m},,,imapuser={}|imappassword={}\n",
                account.user, account.password
            ));
        }
        Ok(text)
    }

    fn store(
        &self,
        contender: Contender,
        owner: Owner,
        folder: &str,
        mailboxes: &[&str],
    ) -> Result<Store> {
        let text = self.config(contender, owner, folder, mailboxes)?;
        let parsed = imapvm_config::parse_bytes("bench-voicemail.conf", text.as_bytes());
        if let Some(d) = parsed
            .diagnostics
            .iter()
            .find(|d| d.severity == imapvm_config::Severity::Error)
        {
            return Err(fail("configuration", d));
        }
        let store = Store::new(parsed.config);
        if contender != Contender::Imapvm {
            store.set_cache_dir(Some(self.cache_dir.clone()));
        }
        Ok(store)
    }

    /// Logs out of every warm store.
    pub fn close(self) {
        let ImapvmRuntime { rt, warm, .. } = self;
        rt.block_on(async {
            for store in warm.values() {
                store.close().await;
            }
        });
    }
}

fn mailboxes_of<'a>(op: &'a RuntimeOp<'a>) -> (&'a str, Vec<&'a str>) {
    match op {
        RuntimeOp::Deposit {
            folder, mailbox, ..
        }
        | RuntimeOp::Count { folder, mailbox }
        | RuntimeOp::List { folder, mailbox }
        | RuntimeOp::Play {
            folder, mailbox, ..
        }
        | RuntimeOp::Delete {
            folder, mailbox, ..
        } => (folder, vec![mailbox]),
        RuntimeOp::CountAll { folder, mailboxes } => {
            (folder, mailboxes.iter().map(String::as_str).collect())
        }
    }
}

async fn perform(store: &Store, op: &RuntimeOp<'_>) -> Result<()> {
    let mailbox = |m: &str| {
        store
            .mailbox(&format!("{m}@{CONTEXT}"))
            .map_err(|e| fail("mailbox", e))
    };
    match op {
        RuntimeOp::Deposit {
            mailbox: m,
            audio,
            secs,
            ..
        } => {
            let vm = NewVoicemail {
                recording: Some(Audio {
                    format: "WAV".into(),
                    bytes: audio.to_vec(),
                }),
                caller_id_num: "5551001".into(),
                caller_id_name: "Bench Caller".into(),
                duration_secs: *secs,
                urgency: Urgency::Urgent,
                ..NewVoicemail::default()
            };
            mailbox(m)?
                .deposit(&vm)
                .await
                .map_err(|e| fail("deposit", e))?;
        }
        RuntimeOp::Count { mailbox: m, .. } => {
            mailbox(m)?.count().await.map_err(|e| fail("count", e))?;
        }
        RuntimeOp::CountAll { mailboxes, .. } => {
            // One pipelined flight for all the boxes of the shared account.
            let boxes = mailboxes
                .iter()
                .map(|m| mailbox(m))
                .collect::<Result<Vec<_>>>()?;
            let counted = store
                .count_many(&boxes)
                .await
                .map_err(|e| fail("count_many", e))?;
            if counted.len() != boxes.len() {
                return Err(fail(
                    "count_many",
                    format!("{} counts for {} boxes", counted.len(), boxes.len()),
                ));
            }
            for c in counted {
                c.map_err(|e| fail("count_many", e))?;
            }
        }
        RuntimeOp::List { mailbox: m, .. } => {
            let listing = mailbox(m)?.list(None).await.map_err(|e| fail("list", e))?;
            if listing.messages.is_empty() {
                return Err(fail("list", "the listing is empty"));
            }
        }
        RuntimeOp::Play {
            mailbox: m, uid, ..
        } => {
            let uid = imapvm::Uid::new(*uid).ok_or_else(|| fail("play", "UID 0"))?;
            mailbox(m)?
                .play(MessageRef::Uid(uid), None)
                .await
                .map_err(|e| fail("play", e))?;
        }
        RuntimeOp::Delete {
            mailbox: m, uid, ..
        } => {
            let uid = imapvm::Uid::new(*uid).ok_or_else(|| fail("delete", "UID 0"))?;
            mailbox(m)?
                .delete(&[MessageRef::Uid(uid)], None)
                .await
                .map_err(|e| fail("delete", e))?;
        }
    }
    Ok(())
}

impl Runtime for ImapvmRuntime {
    fn run(&mut self, contender: Contender, owner: Owner, op: &RuntimeOp<'_>) -> Result<()> {
        let (folder, mailboxes) = mailboxes_of(op);
        if contender != Contender::Imapvm {
            let store = self.store(contender, owner, folder, &mailboxes)?;
            // As a command of the CLI does: the operation, then `close` (LOGOUT),
            // timed; the store is dropped after, its connection with it.
            return self.rt.block_on(async {
                perform(&store, op).await?;
                store.close().await;
                Ok(())
            });
        }
        let key = (owner == Owner::Shared, folder.to_owned());
        if !self.warm.contains_key(&key) {
            let store = self.store(contender, owner, folder, &mailboxes)?;
            self.warm.insert(key.clone(), store);
        }
        let store = self
            .warm
            .get(&key)
            .ok_or_else(|| BenchError::Scenario("warm store vanished".into()))?;
        self.rt.block_on(perform(store, op))
    }
}
