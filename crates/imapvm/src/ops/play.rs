//! Playing: a message with its audio, marked `\Seen` unless peeked.

use imapvm_message::parse;
use imapvm_policy::Folder;
use imapvm_proto::{FetchAttr, Flag, StoreMode};

use super::{fetch_result, wire_set};
use crate::error::{Error, Result};
use crate::pool::Folders;
use crate::session::Session;
use crate::store::Retry;
use crate::store::{Mailbox, MessageRef, Played};

impl Mailbox {
    /// Parses a fetched message (`uid`) that must be one of this box's voicemails with
    /// audio: another box's message is reported as gone (it is not this box's to show), one
    /// without audio as [`Error::NoAudio`] (`purpose` is added to its reason, e.g. " to
    /// forward").
    pub(crate) fn parse_own_voicemail(
        &self,
        uid: u32,
        bytes: &[u8],
        purpose: &str,
    ) -> Result<imapvm_message::ParsedVoicemail> {
        let parsed = parse(bytes).map_err(|e| Error::NoAudio {
            mailbox: self.id(),
            uid,
            reason: e.to_string(),
        })?;
        if !self.identity.matches(
            parsed.headers.extension.as_deref(),
            parsed.headers.context.as_deref(),
        ) {
            return Err(Error::Vanished {
                mailbox: self.id(),
                uid,
            });
        }
        if parsed.voicemail.audio.is_empty() {
            return Err(Error::NoAudio {
                mailbox: self.id(),
                uid,
                reason: format!("no audio attachment{purpose}"),
            });
        }
        Ok(parsed)
    }

    // ------------------------------------------------------------------ play

    /// The message with its audio (recording, then the forward intro); marks it `\Seen`
    /// unless `peek`. Two round trips on a warm connection.
    pub async fn play(
        &self,
        target: MessageRef,
        scope: Option<Folder>,
        peek: bool,
    ) -> Result<Played> {
        self.with_account(Retry::IfWarm, |a| {
            Box::pin(self.play_in(a.session, a.folders, target, scope, peek))
        })
        .await
    }

    async fn play_in(
        &self,
        s: &mut Session,
        f: &mut Folders,
        target: MessageRef,
        scope: Option<Folder>,
        peek: bool,
    ) -> Result<Played> {
        let uid = self.resolve(s, f, target, scope, false, false).await?;
        let name = self.scope_mailbox(s, scope)?;
        let uid_validity = self.select(s, f, &name).await?;
        let vanished = || Error::Vanished {
            mailbox: self.id(),
            uid,
        };
        let range = wire_set([uid]).ok_or_else(vanished)?;
        let attrs = [FetchAttr::Flags, FetchAttr::Full];
        let changes = s.view_changes();
        let id = s.queue("UID FETCH (play)", |c| c.uid_fetch(&range, &attrs))?;
        s.wait(&[id]).await?;
        let mut fetched = fetch_result(s, "UID FETCH (play)", id)?;
        if fetched.is_empty() && s.view_changes() != changes {
            // A message newer than our view: fetch again from the synced view.
            let id = s.queue("UID FETCH (play)", |c| c.uid_fetch(&range, &attrs))?;
            s.wait(&[id]).await?;
            fetched = fetch_result(s, "UID FETCH (play)", id)?;
        }
        let Some(m) = fetched.into_iter().find(|m| m.uid.get() == uid) else {
            f.get(&name).vanish(&[uid].into_iter().collect());
            return Err(vanished());
        };
        let parsed = self.parse_own_voicemail(uid, m.full().unwrap_or_default(), "")?;
        let already_seen = m
            .flags
            .as_deref()
            .is_some_and(|fl| fl.contains(&Flag::Seen));
        if !peek && !already_seen {
            s.exec("UID STORE (seen)", |c| {
                c.uid_store(&range, StoreMode::Add, &[Flag::Seen], true)
            })
            .await?;
        }
        Ok(Played {
            uid,
            uid_validity,
            voicemail: parsed.voicemail,
            marked_seen: !peek,
        })
    }
}
