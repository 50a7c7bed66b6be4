//! VoiceMailMain's store operations on the runtime: login against voicemail.conf (with the
//! cross-call lockout), the mailbox's listing, playback through the spool, marks, moves,
//! forwards, greetings and the password change. Each is one runtime operation.

use std::path::{Path, PathBuf};
use std::time::Instant;

use imapvm::{Audio, FlagOp, Folder, ListedMessage, Mailbox, MessageRef, MessageState};
use imapvm_config::{PasswordChange as Change, PasswordLocation};
use imapvm_deliver::Forward;
use imapvm_ivr::{
    AuthReply, BoxLookup, Fetched, Granted, GreetingKind, Listing, MessageInfo, Moved,
    PasswordChange, Secret, SpoolName, StoreUnavailable, Summary, TargetCheck,
};
use imapvm_types::MailboxId;

use crate::error::{Error, Result};
use crate::flow;
use crate::spool::{spool_extension, with_extension};
use crate::store::{CallContext, PhoneStore};

impl PhoneStore {
    /// The box's effective PIN: an earlier change in this process, else secret.conf (with
    /// `passwordlocation=spooldir`), else voicemail.conf.
    fn pin_of(&self, mailbox: &Mailbox) -> Secret {
        let id = &MailboxId::new(
            mailbox.mailbox_id().mailbox(),
            mailbox.mailbox_id().context(),
        )
        .unwrap_or_else(|_| MailboxId::parse("invalid@invalid").expect("a valid literal"));
        if let Some(pin) = self.changed_pin(id) {
            return pin;
        }
        let settings = mailbox.settings();
        let secret_conf =
            imapvm_config::secret_conf_path(self.vm_spool().parent().unwrap_or(Path::new("/")), id)
                .and_then(|p| std::fs::read(&p).ok().map(|b| (p, b)))
                .and_then(|(p, b)| imapvm_config::read_secret_conf(&p.display().to_string(), &b));
        Secret::new(settings.effective_password(secret_conf).value.expose())
    }

    /// Whether a box exists and asks for a PIN (`Lookup`).
    pub(crate) fn lookup(&self, id: &MailboxId) -> BoxLookup {
        match self.store().mailbox_of(id) {
            Err(_) => BoxLookup::Unknown,
            Ok(mailbox) => {
                let pin = self.pin_of(&mailbox);
                if pin.is_empty() || pin.expose() == "-" {
                    BoxLookup::NoPin
                } else {
                    BoxLookup::Pin
                }
            }
        }
    }

    /// The general settings, before anybody logged in (maxlogins, the login prompts).
    pub(crate) fn general_settings(&self) -> Result<imapvm_ivr::Settings> {
        let first = self.store().mailbox_ids().into_iter().next();
        match first.map(|id| self.store().mailbox_of(&id)) {
            Some(Ok(mailbox)) => {
                let mut s = flow::settings(mailbox.settings())?;
                // Nothing box-specific before the login.
                s.password_locked = false;
                Ok(s)
            }
            _ => Ok(imapvm_ivr::Settings::default()),
        }
    }

    pub(crate) fn authenticate(
        &self,
        id: &MailboxId,
        pin: Option<&Secret>,
        call: &CallContext,
        now: Instant,
    ) -> AuthReply {
        let mut guard = match self.guard() {
            Ok(g) => g,
            Err(e) => {
                tracing::error!(error = %e, "login guard unavailable");
                return AuthReply::Unavailable;
            }
        };
        if let Err(locked) = guard.check(id, now) {
            tracing::warn!(mailbox = %id, "login refused: the mailbox is locked after repeated wrong PINs");
            return AuthReply::Locked {
                retry_in: locked.retry_in,
            };
        }
        let Ok(mailbox) = self.store().mailbox_of(id) else {
            // An unknown box is answered as a wrong PIN: nothing tells which boxes exist.
            guard.failed(id, now);
            return AuthReply::Wrong;
        };
        let stored = self.pin_of(&mailbox);
        let wanted = stored.expose().trim_start_matches('-');
        let granted = match pin {
            Some(pin) => !wanted.is_empty() && pin.expose() == wanted,
            None => wanted.is_empty() || call.skip_password,
        };
        if !granted {
            if let Some(l) = guard.failed(id, now) {
                tracing::warn!(mailbox = %id, retry_in = ?l.retry_in, "mailbox locked after repeated wrong PINs");
            }
            return AuthReply::Wrong;
        }
        guard.succeeded(id);
        match flow::settings(mailbox.settings()) {
            Ok(mut settings) => {
                settings.password_locked = stored.expose().starts_with('-');
                AuthReply::Granted(Box::new(Granted {
                    settings,
                    new_user: wanted == id.mailbox(),
                }))
            }
            Err(e) => {
                tracing::error!(mailbox = %id, error = %e, "the mailbox's settings are not usable");
                AuthReply::Unavailable
            }
        }
    }

    pub(crate) async fn summary(
        &self,
        id: &MailboxId,
        temp_greeting: bool,
        call: &CallContext,
    ) -> Result<Box<Summary>, StoreUnavailable> {
        let mailbox = self.mailbox_or_unavailable(id)?;
        let listing = mailbox
            .list(None)
            .await
            .map_err(unavailable(id, "listing"))?;
        let full = match mailbox.admission().await {
            Ok(v) => !v.is_admitted(),
            Err(e) => {
                tracing::debug!(mailbox = %id, error = %e, "no quota information");
                false
            }
        };
        let temp = if temp_greeting {
            matches!(
                self.greeting(id, GreetingKind::Temp, call).await,
                Ok(Some(_))
            )
        } else {
            false
        };
        let uid_validity = Some(listing.uid_validity).ok_or_else(|| {
            unavailable(id, "listing")(imapvm::Error::Unexpected {
                account: mailbox.account().key(),
                command: "a listing without UIDVALIDITY",
            })
        })?;
        let mut summary = Summary {
            uid_validity,
            urgent: Vec::new(),
            new: Vec::new(),
            old: Vec::new(),
            quota_full: full,
            temp_greeting: temp,
        };
        for m in &listing.messages {
            let Some(info) = info(m) else { continue };
            match m.state {
                Some(MessageState::Urgent) => summary.urgent.push(info),
                Some(MessageState::New) => summary.new.push(info),
                Some(MessageState::Old) => summary.old.push(info),
                None => {}
            }
        }
        Ok(Box::new(summary))
    }

    pub(crate) async fn list(
        &self,
        id: &MailboxId,
        folder: Folder,
    ) -> Result<Listing, StoreUnavailable> {
        let mailbox = self.mailbox_or_unavailable(id)?;
        let listing = mailbox
            .list(Some(folder))
            .await
            .map_err(unavailable(id, "listing"))?;
        let uid_validity = Some(listing.uid_validity).ok_or(StoreUnavailable)?;
        Ok(Listing {
            uid_validity,
            messages: listing.messages.iter().filter_map(info).collect(),
        })
    }

    pub(crate) async fn fetch(
        &self,
        id: &MailboxId,
        message: imapvm_ivr::MessageRef,
        call: &CallContext,
    ) -> Fetched {
        let Ok(mailbox) = self.mailbox_or_unavailable(id) else {
            return Fetched::Unavailable;
        };
        let played = match mailbox
            .peek(MessageRef::Uid(message.uid), Some(message.storage()))
            .await
        {
            Ok(p) => p,
            Err(e) if gone(&e) => return Fetched::Gone,
            Err(e) => {
                tracing::warn!(mailbox = %id, uid = %message.uid, error = %e, "fetching a message failed");
                return Fetched::Unavailable;
            }
        };
        if played.uid_validity != message.uid_validity {
            return Fetched::Gone;
        }
        let mut parts = played.voicemail.audio.iter();
        let Some(audio) = parts.next() else {
            return Fetched::Gone;
        };
        let write = |what: &str, part: &imapvm_message::AudioPart| -> Option<SpoolName> {
            let base = call.spool_write(what, &part.format, &part.bytes).ok()?;
            SpoolName::new(&base.to_string_lossy()).ok()
        };
        let Some(audio) = write("msg", audio) else {
            return Fetched::Unavailable;
        };
        let intro = parts.next().and_then(|p| write("intro", p));
        Fetched::Audio { audio, intro }
    }

    pub(crate) async fn mark_seen(
        &self,
        id: &MailboxId,
        message: imapvm_ivr::MessageRef,
    ) -> Result<(), StoreUnavailable> {
        let mailbox = self.mailbox_or_unavailable(id)?;
        match mailbox
            .set_flag(
                MessageRef::Uid(message.uid),
                Some(message.storage()),
                FlagOp::MarkRead,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if gone(&e) => Ok(()),
            Err(e) => Err(unavailable(id, "marking heard")(e)),
        }
    }

    pub(crate) async fn expunge(
        &self,
        id: &MailboxId,
        folder: Folder,
        uids: &imapvm_types::UidSet,
    ) -> Result<(), StoreUnavailable> {
        let mailbox = self.mailbox_or_unavailable(id)?;
        let targets: Vec<MessageRef> = uids.iter().map(MessageRef::Uid).collect();
        let report = mailbox
            .delete(&targets, Some(storage(folder)))
            .await
            .map_err(unavailable(id, "deleting"))?;
        if !report.deferred.is_empty() {
            tracing::info!(mailbox = %id, deferred = report.deferred.len(), "deleted messages left flagged for a later expunge");
        }
        Ok(())
    }

    pub(crate) async fn move_message(
        &self,
        id: &MailboxId,
        message: imapvm_ivr::MessageRef,
        to: Folder,
    ) -> Moved {
        let Ok(mailbox) = self.mailbox_or_unavailable(id) else {
            return Moved::Unavailable;
        };
        match mailbox
            .move_to(MessageRef::Uid(message.uid), Some(message.storage()), to)
            .await
        {
            Ok(report) if report.vanished.is_empty() => Moved::Done,
            Ok(_) => Moved::Gone,
            Err(e) if gone(&e) => Moved::Gone,
            Err(e) if e.is_mailbox_full() => Moved::Full,
            Err(e) => {
                tracing::warn!(mailbox = %id, error = %e, "moving a message failed");
                Moved::Unavailable
            }
        }
    }

    pub(crate) async fn forward(
        &self,
        id: &MailboxId,
        message: imapvm_ivr::MessageRef,
        to: &[MailboxId],
        comment: Option<&SpoolName>,
        call: &CallContext,
    ) -> Result<(), StoreUnavailable> {
        let mailbox = self.mailbox_or_unavailable(id)?;
        let comment = match comment {
            Some(name) => Some(self.read_recording(name, &call.format).map_err(|e| {
                tracing::warn!(error = %e, "the forward comment cannot be read");
                StoreUnavailable
            })?),
            None => None,
        };
        let to: Vec<String> = to.iter().map(ToString::to_string).collect();
        let forwarded = mailbox
            .forward(
                MessageRef::Uid(message.uid),
                Some(message.storage()),
                &to,
                comment.as_ref(),
            )
            .await
            .map_err(unavailable(id, "forwarding"))?;
        if forwarded.all_ok() {
            Ok(())
        } else {
            for r in &forwarded.results {
                if !r.is_ok() {
                    tracing::warn!(from = %id, to = %r.mailbox, status = r.status(), "a forward copy was not stored");
                }
            }
            Err(StoreUnavailable)
        }
    }

    pub(crate) async fn check_target(&self, id: &MailboxId, call: &CallContext) -> TargetCheck {
        let Ok(mailbox) = self.store().mailbox_of(id) else {
            return TargetCheck::Unknown;
        };
        match mailbox.admission().await {
            Ok(v) if !v.is_admitted() => return TargetCheck::Full,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(mailbox = %id, error = %e, "cannot check a forward target");
                return TargetCheck::Unavailable;
            }
        }
        let name = self
            .greeting(id, GreetingKind::Name, call)
            .await
            .ok()
            .flatten();
        TargetCheck::Valid { name }
    }

    pub(crate) async fn greeting_set(
        &self,
        id: &MailboxId,
        which: GreetingKind,
        recording: &SpoolName,
        duration_secs: u32,
        call: &CallContext,
    ) -> Result<(), StoreUnavailable> {
        let mailbox = self.mailbox_or_unavailable(id)?;
        let audio = self.read_recording(recording, &call.format).map_err(|e| {
            tracing::warn!(error = %e, "the greeting recording cannot be read");
            StoreUnavailable
        })?;
        if mailbox.settings().imapgreetings.value {
            mailbox
                .greeting_set(which.file_name(), &audio, duration_secs)
                .await
                .map_err(unavailable(id, "storing the greeting"))?;
        } else {
            let base = self.local_greeting(id, which);
            let write = || -> std::io::Result<()> {
                if let Some(dir) = base.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                let path = with_extension(&base, spool_extension(&audio.format));
                let tmp = with_extension(&path, "tmp");
                std::fs::write(&tmp, &audio.bytes)?;
                std::fs::rename(&tmp, &path)
            };
            write().map_err(|e| {
                tracing::warn!(file = %base.display(), error = %e, "the greeting cannot be written");
                StoreUnavailable
            })?;
        }
        Ok(())
    }

    pub(crate) async fn greeting_delete(
        &self,
        id: &MailboxId,
        which: GreetingKind,
    ) -> Result<(), StoreUnavailable> {
        let mailbox = self.mailbox_or_unavailable(id)?;
        if mailbox.settings().imapgreetings.value {
            mailbox
                .greeting_delete(which.file_name())
                .await
                .map_err(unavailable(id, "removing the greeting"))?;
        } else {
            let base = self.local_greeting(id, which);
            for ext in crate::store::AUDIO_EXTENSIONS {
                let _ = std::fs::remove_file(with_extension(&base, ext));
            }
        }
        Ok(())
    }

    pub(crate) async fn change_password(&self, id: &MailboxId, new: &Secret) -> PasswordChange {
        let Ok(mailbox) = self.store().mailbox_of(id) else {
            return PasswordChange::Refused;
        };
        let settings = mailbox.settings();
        if imapvm_config::check_new_pin(new, settings.phone.minpassword.value).is_err()
            || imapvm_config::is_locked(&self.pin_of(&mailbox))
        {
            return PasswordChange::Refused;
        }
        let change = settings.phone.password_change();
        if let Change::External(_) | Change::InternalAndExternal(_) = &change {
            // Running externpass would put the PIN on a command line (Asterisk's
            // interface); imapvm does not do that. The change is refused and logged.
            tracing::warn!(mailbox = %id, "externpass/externpassnotify are not run by imapvm: the password was not changed");
            return PasswordChange::Refused;
        }
        let written = match settings.phone.passwordlocation.value {
            PasswordLocation::Spooldir => self.write_secret_conf(id, new).or_else(|e| {
                tracing::warn!(mailbox = %id, error = %e, "secret.conf cannot be written; writing voicemail.conf");
                self.write_voicemail_conf(id, new)
            }),
            _ => self.write_voicemail_conf(id, new),
        };
        match written {
            Ok(()) => {
                self.remember_pin(id, new.clone());
                tracing::info!(mailbox = %id, "password changed");
                PasswordChange::Changed
            }
            Err(e) => {
                tracing::warn!(mailbox = %id, error = %e, "the password could not be written");
                PasswordChange::Unavailable
            }
        }
    }

    fn write_secret_conf(&self, id: &MailboxId, new: &Secret) -> Result<()> {
        let path =
            imapvm_config::secret_conf_path(self.vm_spool().parent().unwrap_or(Path::new("/")), id)
                .ok_or_else(|| Error::Args(format!("{id}: no secret.conf path")))?;
        let bytes =
            imapvm_config::render_secret_conf(new).map_err(|e| Error::Args(e.to_string()))?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::spool(dir, "creating", e))?;
        }
        replace_file(&path, &bytes)
    }

    fn write_voicemail_conf(&self, id: &MailboxId, new: &Secret) -> Result<()> {
        let path = self
            .config_path()
            .ok_or_else(|| Error::Args("voicemail.conf's path is unknown".into()))?;
        let edit =
            imapvm_config::change_password(&imapvm::config_files::FsConfigFiles, path, id, new)
                .map_err(|e| Error::Args(e.to_string()))?;
        replace_file(&edit.file, &edit.bytes)
    }

    fn mailbox_or_unavailable(&self, id: &MailboxId) -> Result<Mailbox, StoreUnavailable> {
        self.store().mailbox_of(id).map_err(|e| {
            tracing::warn!(mailbox = %id, error = %e, "no such mailbox");
            StoreUnavailable
        })
    }

    fn read_recording(&self, name: &SpoolName, format: &str) -> Result<Audio> {
        let path = with_extension(Path::new(name.as_str()), spool_extension(format));
        let bytes = std::fs::read(&path).map_err(|e| Error::spool(&path, "reading", e))?;
        Ok(Audio {
            format: format.to_owned(),
            bytes,
        })
    }

    /// Where Asterisk keeps a greeting when it is not on IMAP.
    pub(crate) fn local_greeting(&self, id: &MailboxId, which: GreetingKind) -> PathBuf {
        self.vm_spool()
            .join(id.context())
            .join(id.mailbox())
            .join(which.file_name())
    }
}

/// Writes `bytes` over `path` atomically: a temporary file beside it (same mode), fsync,
/// rename, fsync of the directory. Comments and everything else in the file are the
/// caller's to keep.
fn replace_file(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let tmp = with_extension(path, "imapvm-tmp");
    let mode = std::fs::metadata(path)
        .map(|m| m.permissions().mode())
        .unwrap_or(0o640);
    let mut file = std::fs::File::create(&tmp).map_err(|e| Error::spool(&tmp, "creating", e))?;
    file.write_all(bytes)
        .map_err(|e| Error::spool(&tmp, "writing", e))?;
    file.set_permissions(std::fs::Permissions::from_mode(mode & 0o7777))
        .map_err(|e| Error::spool(&tmp, "setting the mode of", e))?;
    file.sync_all()
        .map_err(|e| Error::spool(&tmp, "syncing", e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::spool(path, "replacing", e))?;
    if let Some(dir) = path.parent()
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The message is not there any more (expunged, moved, UIDVALIDITY changed).
fn gone(e: &imapvm::Error) -> bool {
    matches!(
        e,
        imapvm::Error::Vanished { .. }
            | imapvm::Error::NoSuchMessage { .. }
            | imapvm::Error::StaleListing { .. }
    )
}

/// The IMAP folder a flow folder lives in (urgent, new and old are states of `imapfolder`).
fn storage(folder: Folder) -> Folder {
    match folder {
        Folder::Urgent | Folder::Old => Folder::Inbox,
        other => other,
    }
}

fn unavailable<'a>(
    id: &'a MailboxId,
    what: &'static str,
) -> impl Fn(imapvm::Error) -> StoreUnavailable + 'a {
    move |e| {
        tracing::warn!(mailbox = %id, error = %e, "{what} failed");
        StoreUnavailable
    }
}

fn info(m: &ListedMessage) -> Option<MessageInfo> {
    Some(MessageInfo {
        uid: m.uid,
        seen: m.state == Some(MessageState::Old),
        urgent: m.flagged,
        origtime: u64::try_from(m.orig_time).ok().filter(|t| *t > 0),
        caller_id_num: m.caller_id_num.clone(),
        caller_id_name: m.caller_id_name.clone(),
        duration_secs: m.duration_secs,
        category: None,
    })
}
