//! The call flow's store operations ([`imapvm_ivr::StoreOp`]) on the runtime: each op is
//! one runtime operation, so there is one way to store a voicemail (the runtime's durable
//! deposit: policy, UIDs, outbox, several recipients).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use imapvm::{Audio, NewVoicemail, Store, Urgency};
use imapvm_deliver::{Deliver, RecipientOutcome};
use imapvm_ivr::{
    Admission, Deposit, DepositOutcome, FullBy, GreetingKind, LockoutPolicy, LoginGuard, Secret,
    SpoolName, StoreOp, StoreReply,
};
use imapvm_policy::Refusal;
use imapvm_types::MailboxId;

use crate::error::{Error, Result};
use crate::journal::Journal;
use crate::spool::{Spool, spool_extension, with_extension};

/// The store side of every call: the runtime's [`Store`], the shared spool, and where
/// Asterisk keeps greetings when they are not on IMAP.
#[derive(Debug, Clone)]
pub struct PhoneStore {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    spool: Spool,
    /// Asterisk's voicemail spool (`{astspooldir}/voicemail`): greetings when
    /// `imapgreetings=no`, and `secret.conf` with `passwordlocation=spooldir`.
    vm_spool: PathBuf,
    /// The voicemail.conf a changed password is written to.
    config_path: Option<PathBuf>,
    /// Wrong PINs per mailbox, across calls.
    guard: Mutex<LoginGuard>,
    /// PINs changed by callers since the start (voicemail.conf was rewritten too; the
    /// store keeps the configuration it was opened with).
    pins: Mutex<HashMap<MailboxId, Secret>>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PhoneStore")
            .field("spool", &self.spool.dir())
            .field("vm_spool", &self.vm_spool)
            .finish_non_exhaustive()
    }
}

/// Extensions of the audio formats Asterisk plays.
pub(crate) const AUDIO_EXTENSIONS: [&str; 8] =
    ["wav", "WAV", "gsm", "wav49", "ulaw", "alaw", "sln", "g722"];

/// What the call knows of its caller (for the stored message).
#[derive(Debug, Clone, Default)]
pub(crate) struct Caller {
    pub num: String,
    pub name: String,
}

impl PhoneStore {
    /// The store, the shared spool directory, and Asterisk's voicemail spool
    /// (`/var/spool/asterisk/voicemail`: greetings when `imapgreetings=no`).
    pub fn new(store: Store, spool: Spool, vm_spool: impl Into<PathBuf>) -> PhoneStore {
        PhoneStore {
            inner: Arc::new(Inner {
                store,
                spool,
                vm_spool: vm_spool.into(),
                config_path: None,
                guard: Mutex::new(LoginGuard::new(LockoutPolicy::default())),
                pins: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The voicemail.conf a password change is written to (`passwordlocation=voicemail.conf`),
    /// and the lockout after wrong PINs.
    pub fn with_config(mut self, path: impl Into<PathBuf>, lockout: LockoutPolicy) -> PhoneStore {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.config_path = Some(path.into());
            inner.guard = Mutex::new(LoginGuard::new(lockout));
        }
        self
    }

    pub(crate) fn vm_spool(&self) -> &Path {
        &self.inner.vm_spool
    }

    pub(crate) fn config_path(&self) -> Option<&Path> {
        self.inner.config_path.as_deref()
    }

    pub(crate) fn guard(&self) -> Result<std::sync::MutexGuard<'_, LoginGuard>> {
        self.inner
            .guard
            .lock()
            .map_err(|_| Error::Flow("the login guard's lock is poisoned".into()))
    }

    pub(crate) fn changed_pin(&self, id: &MailboxId) -> Option<Secret> {
        self.inner.pins.lock().ok()?.get(id).cloned()
    }

    pub(crate) fn remember_pin(&self, id: &MailboxId, pin: Secret) {
        if let Ok(mut pins) = self.inner.pins.lock() {
            pins.insert(id.clone(), pin);
        }
    }

    /// The runtime store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The shared spool.
    pub fn spool(&self) -> &Spool {
        &self.inner.spool
    }

    /// Runs one store operation of a call; failures become the reply the flow expects for
    /// them (the flow decides what the caller hears), and are logged.
    pub(crate) async fn run(&self, op: StoreOp, call: &CallContext, now: Instant) -> StoreReply {
        match op {
            StoreOp::Lookup { mailbox } => StoreReply::Lookup(self.lookup(&mailbox)),
            StoreOp::Authenticate { mailbox, pin } => {
                StoreReply::Authenticate(self.authenticate(&mailbox, pin.as_ref(), call, now))
            }
            StoreOp::Summary {
                mailbox,
                temp_greeting,
            } => StoreReply::Summary(self.summary(&mailbox, temp_greeting, call).await),
            StoreOp::List { mailbox, folder } => {
                StoreReply::List(self.list(&mailbox, folder).await)
            }
            StoreOp::Fetch { mailbox, message } => {
                StoreReply::Fetch(self.fetch(&mailbox, message, call).await)
            }
            StoreOp::MarkSeen { mailbox, message } => {
                StoreReply::MarkSeen(self.mark_seen(&mailbox, message).await)
            }
            StoreOp::Expunge {
                mailbox,
                folder,
                uid_validity: _,
                uids,
            } => StoreReply::Expunge(self.expunge(&mailbox, folder, &uids).await),
            StoreOp::Move {
                mailbox,
                message,
                to,
            } => StoreReply::Move(self.move_message(&mailbox, message, to).await),
            StoreOp::Forward {
                mailbox,
                message,
                to,
                comment,
                urgent: _,
            } => StoreReply::Forward(
                self.forward(&mailbox, message, &to, comment.as_ref(), call)
                    .await,
            ),
            StoreOp::CheckTarget { mailbox } => {
                StoreReply::Target(self.check_target(&mailbox, call).await)
            }
            StoreOp::GreetingSet {
                mailbox,
                which,
                recording,
                duration_secs,
            } => StoreReply::GreetingSet(
                self.greeting_set(&mailbox, which, &recording, duration_secs, call)
                    .await,
            ),
            StoreOp::GreetingDelete { mailbox, which } => {
                StoreReply::GreetingDelete(self.greeting_delete(&mailbox, which).await)
            }
            StoreOp::ChangePassword { mailbox, new } => {
                StoreReply::ChangePassword(self.change_password(&mailbox, &new).await)
            }
            StoreOp::Admit { mailbox } => StoreReply::Admit(self.admit(&mailbox).await),
            StoreOp::Greeting { mailbox, which } => {
                StoreReply::Greeting(match self.greeting(&mailbox, which, call).await {
                    Ok(found) => found,
                    Err(e) => {
                        tracing::warn!(%mailbox, greeting = which.file_name(), error = %e, "greeting not available");
                        None
                    }
                })
            }
            StoreOp::Deposit(deposit) => StoreReply::Deposit(self.deposit(&deposit, call).await),
            StoreOp::Discard { recording } => {
                remove_audio(Path::new(recording.as_str()), &call.format);
                if let Some(journal) = call.journal.lock().ok().and_then(|mut j| j.take()) {
                    journal.remove();
                }
                StoreReply::Discarded
            }
        }
    }

    async fn admit(&self, id: &MailboxId) -> Admission {
        let mailbox = match self.inner.store.mailbox_of(id) {
            Ok(m) => m,
            Err(e) => {
                tracing::info!(mailbox = %id, error = %e, "no such mailbox");
                return Admission::UnknownMailbox;
            }
        };
        match mailbox.admission().await {
            Ok(verdict) => match verdict.primary() {
                None => Admission::Admitted,
                Some(Refusal::MailboxFull { .. }) => Admission::Full(FullBy::MaxMsg),
                Some(Refusal::OverQuotaStorage { .. } | Refusal::OverQuotaMessages { .. }) => {
                    Admission::Full(FullBy::Quota)
                }
                Some(other) => {
                    tracing::warn!(mailbox = %id, reason = %other, "cannot judge the mailbox: taking the message for the outbox");
                    Admission::Unavailable
                }
            },
            Err(e) => {
                tracing::warn!(mailbox = %id, error = %e, "cannot count the mailbox: taking the message for the outbox");
                Admission::Unavailable
            }
        }
    }

    pub(crate) async fn greeting(
        &self,
        id: &MailboxId,
        which: GreetingKind,
        call: &CallContext,
    ) -> Result<Option<SpoolName>> {
        let mailbox = self.inner.store.mailbox_of(id)?;
        if mailbox.settings().imapgreetings.value {
            let Some(greeting) = mailbox.greeting_get(which.file_name()).await? else {
                return Ok(None);
            };
            let base = call.spool_write(
                which.file_name(),
                &greeting.audio.format,
                &greeting.audio.bytes,
            )?;
            return Ok(Some(spool_name(&base)?));
        }
        // Asterisk's own layout: {spool}/voicemail/{context}/{box}/{name}.{format}
        let base = self
            .inner
            .vm_spool
            .join(id.context())
            .join(id.mailbox())
            .join(which.file_name());
        let exists = AUDIO_EXTENSIONS
            .iter()
            .any(|ext| with_extension(&base, ext).is_file());
        Ok(if exists {
            Some(spool_name(&base)?)
        } else {
            None
        })
    }

    async fn deposit(&self, deposit: &Deposit, call: &CallContext) -> DepositOutcome {
        let path = with_extension(
            Path::new(deposit.recording.as_str()),
            spool_extension(&call.format),
        );
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(file = %path.display(), error = %e, "the recording cannot be read");
                return DepositOutcome::Failed;
            }
        };
        let duration_secs = deposit
            .duration_secs
            .unwrap_or_else(|| audio_seconds(&bytes, &call.format));
        let recipients: Vec<String> = deposit.recipients.iter().map(ToString::to_string).collect();
        let vm = NewVoicemail {
            recording: Some(Audio {
                format: call.format.clone(),
                bytes,
            }),
            intro: None,
            caller_id_num: call.caller.num.clone(),
            caller_id_name: call.caller.name.clone(),
            duration_secs,
            urgency: urgency(deposit.urgency),
            // The flow judged the caller before the beep (StoreOp::Admit): the spoken
            // message is stored, never refused for maxmsg.
            admitted: true,
            ..NewVoicemail::default()
        };
        let journal = call.journal();
        if let Some(journal) = &journal
            && let Err(e) = journal.decided(deposit, duration_secs)
        {
            tracing::warn!(error = %e, "could not note the deposit in the call's journal");
        }
        let vm = NewVoicemail {
            msg_id: journal.as_ref().map(|j| j.msg_id()),
            orig_time: i64::try_from(deposit.origtime).ok(),
            ..vm
        };
        let outcome = self.deposit_new(&recipients, &vm).await;
        if outcome != DepositOutcome::Failed {
            // Safe in the mailbox or in the outbox: the spool's copy can go.
            remove_audio(Path::new(deposit.recording.as_str()), &call.format);
            if let Some(journal) = call.journal.lock().ok().and_then(|mut j| j.take()) {
                journal.remove();
            }
        }
        outcome
    }

    /// A recording an earlier run left behind (see [`crate::journal`]), under its msg id.
    pub(crate) async fn deposit_recovered(
        &self,
        deposit: &Deposit,
        caller: &Caller,
        format: &str,
        msg_id: &str,
    ) -> DepositOutcome {
        let path = with_extension(
            Path::new(deposit.recording.as_str()),
            spool_extension(format),
        );
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(file = %path.display(), error = %e, "the recording cannot be read");
                return DepositOutcome::Failed;
            }
        };
        let duration_secs = deposit
            .duration_secs
            .unwrap_or_else(|| audio_seconds(&bytes, format));
        let recipients: Vec<String> = deposit.recipients.iter().map(ToString::to_string).collect();
        let vm = NewVoicemail {
            recording: Some(Audio {
                format: format.to_owned(),
                bytes,
            }),
            caller_id_num: caller.num.clone(),
            caller_id_name: caller.name.clone(),
            duration_secs,
            urgency: urgency(deposit.urgency),
            msg_id: Some(msg_id.to_owned()),
            orig_time: i64::try_from(deposit.origtime).ok(),
            admitted: true,
            // The call may have stored it before imapvm died: look it up first.
            resent: true,
            ..NewVoicemail::default()
        };
        // One recipient at a time: a single-recipient deposit looks the msg id up in that
        // box (a multi-recipient delivery does not).
        let mut outcome = DepositOutcome::Failed;
        for r in &recipients {
            match self.deposit_new(std::slice::from_ref(r), &vm).await {
                DepositOutcome::Failed => {}
                stored @ DepositOutcome::Stored { .. } if outcome == DepositOutcome::Failed => {
                    outcome = stored
                }
                DepositOutcome::Queued if outcome == DepositOutcome::Failed => {
                    outcome = DepositOutcome::Queued
                }
                _ => {}
            }
        }
        outcome
    }

    /// The runtime's durable deposit for every recipient; the first recipient's UID.
    async fn deposit_new(&self, recipients: &[String], vm: &NewVoicemail) -> DepositOutcome {
        let results = self.inner.store.deposit_to_durable(recipients, vm).await;
        let mut outcome = DepositOutcome::Failed;
        for (i, r) in results.iter().enumerate() {
            match &r.outcome {
                RecipientOutcome::Stored { deposited, .. } => {
                    if i == 0 || outcome == DepositOutcome::Failed {
                        outcome = DepositOutcome::Stored {
                            uid: Some(deposited.uid),
                        };
                    }
                }
                RecipientOutcome::Queued(_) => {
                    if outcome == DepositOutcome::Failed {
                        outcome = DepositOutcome::Queued;
                    }
                }
                other => {
                    tracing::warn!(mailbox = %r.mailbox, outcome = ?other, "a recipient did not get the message");
                }
            }
        }
        outcome
    }
}

fn urgency(u: imapvm_ivr::Urgency) -> Urgency {
    match u {
        imapvm_ivr::Urgency::Normal => Urgency::Normal,
        imapvm_ivr::Urgency::Urgent => Urgency::Urgent,
        imapvm_ivr::Urgency::Priority => Urgency::Priority,
    }
}

/// What a store operation needs of its call.
#[derive(Debug)]
pub(crate) struct CallContext {
    pub caller: Caller,
    /// The recording format (voicemail.conf's first `format=`).
    pub format: String,
    /// The call's files in the spool.
    pub files: std::sync::Mutex<crate::spool::CallSpool>,
    /// The journal of the message being recorded, once recording started.
    pub journal: std::sync::Mutex<Option<Arc<Journal>>>,
    /// VoiceMailMain's `s` option: the box named in the arguments logs in without a PIN.
    pub skip_password: bool,
}

impl CallContext {
    pub(crate) fn spool_write(&self, what: &str, format: &str, bytes: &[u8]) -> Result<PathBuf> {
        let mut files = self
            .files
            .lock()
            .map_err(|_| Error::Flow("the call's spool lock is poisoned".into()))?;
        files.write_audio(what, format, bytes)
    }

    fn journal(&self) -> Option<Arc<Journal>> {
        self.journal.lock().ok().and_then(|j| j.clone())
    }

    /// Writes the journal of the message about to be recorded into `spec.file` (once per
    /// call: a re-recording overwrites the same file). Without it the recording would not
    /// survive imapvm dying; a spool that cannot take the journal cannot take the
    /// recording either, so the failure is logged and the call goes on.
    pub(crate) fn start_journal(
        &self,
        spec: &imapvm_ivr::RecordSpec,
        recipients: &[MailboxId],
        clock: &imapvm::clock::SharedClock,
    ) {
        let Ok(mut slot) = self.journal.lock() else {
            return;
        };
        if slot.is_some() {
            return;
        }
        let origtime = u64::try_from(clock.unix_secs()).unwrap_or(0);
        let msg_id = match crate::spool::token() {
            Ok(t) => format!("{origtime}-{}", &t[..8]),
            Err(e) => {
                tracing::error!(error = %e, "no msg id for the recording");
                return;
            }
        };
        let entry = crate::journal::Entry {
            recipients: recipients.to_vec(),
            caller: (self.caller.num.clone(), self.caller.name.clone()),
            format: self.format.clone(),
            origtime,
            msg_id,
            urgency: imapvm_ivr::Urgency::Normal,
            duration_secs: None,
        };
        match Journal::start(Path::new(spec.file.as_str()), entry) {
            Ok(j) => *slot = Some(Arc::new(j)),
            Err(e) => tracing::error!(error = %e, "the recording's journal could not be written"),
        }
    }

    /// The recording whose deposit has not finished (its journal is still on disk).
    pub(crate) fn pending_recording(&self) -> Option<PathBuf> {
        self.journal().map(|j| j.recording().to_owned())
    }

    /// Lets go of the journal's lock, so that recovery can take a pending recording.
    pub(crate) fn release_journal(&self) {
        if let Ok(mut slot) = self.journal.lock() {
            slot.take();
        }
    }
}

fn spool_name(base: &Path) -> Result<SpoolName> {
    SpoolName::new(&base.to_string_lossy()).map_err(|e| Error::Flow(e.to_string()))
}

fn remove_audio(base: &Path, format: &str) {
    let path = with_extension(base, spool_extension(format));
    if let Err(e) = std::fs::remove_file(&path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(file = %path.display(), error = %e, "could not remove a recording");
    }
}

/// Whole seconds of a recording whose recorder could not say: 8 kHz 16-bit PCM for WAV,
/// 33 bytes per 20 ms for GSM, 65 bytes per 40 ms for wav49.
pub(crate) fn audio_seconds(bytes: &[u8], format: &str) -> u32 {
    let per_second: usize = match format {
        "gsm" => 1650,
        "wav49" | "WAV" => 1625,
        _ => 16000,
    };
    let payload = if format == "wav" {
        bytes.len().saturating_sub(44)
    } else {
        bytes.len()
    };
    u32::try_from(payload / per_second).unwrap_or(u32::MAX)
}
