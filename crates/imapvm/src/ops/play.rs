//! Playing: a message with its audio, marked `\Seen` unless peeked.

use imapvm_message::{ParseError, parse};
use imapvm_policy::{Folder, Uid, UidSet};
use imapvm_proto::{FetchAttr, Flag, StoreMode, UidRange};

use super::{Ownership, fetch_result};
use crate::error::{Error, Result};
use crate::pool::Folders;
use crate::pool::Listed;
use crate::session::Session;
use crate::store::{Mailbox, MessageRef, Played, Retry};

/// Whether playing a message marks it heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hearing {
    /// Play: `\Seen` is set.
    MarkSeen,
    /// Peek: the flags stay as they are.
    Peek,
}

impl Mailbox {
    /// Parses a fetched message (`uid`) that must be one of this box's voicemails with
    /// audio: another box's message is reported as gone (it is not this box's to show), one
    /// without audio as [`Error::NoAudio`].
    pub(crate) fn parse_own_voicemail(
        &self,
        uid: Uid,
        bytes: &[u8],
    ) -> Result<imapvm_message::ParsedVoicemail> {
        let no_audio = |source| Error::NoAudio {
            mailbox: self.id.clone(),
            uid,
            source,
        };
        let parsed = parse(bytes).map_err(no_audio)?;
        if !self.identity.matches(
            parsed.headers.extension.as_deref(),
            parsed.headers.context.as_deref(),
        ) {
            return Err(Error::Vanished {
                mailbox: self.id.clone(),
                uid,
            });
        }
        if parsed.voicemail.audio.is_empty() {
            return Err(no_audio(ParseError::NoAudio));
        }
        Ok(parsed)
    }

    // ------------------------------------------------------------------ play

    /// The message with its audio (recording, then the forward intro), marked `\Seen`
    /// (heard). Two round trips on a warm connection.
    pub async fn play(&self, target: MessageRef, scope: Option<Folder>) -> Result<Played> {
        self.play_as(target, scope, Hearing::MarkSeen).await
    }

    /// [`Mailbox::play`] without marking the message heard.
    pub async fn peek(&self, target: MessageRef, scope: Option<Folder>) -> Result<Played> {
        self.play_as(target, scope, Hearing::Peek).await
    }

    async fn play_as(
        &self,
        target: MessageRef,
        scope: Option<Folder>,
        hearing: Hearing,
    ) -> Result<Played> {
        self.with_account(Retry::IfWarm, |a| {
            Box::pin(self.play_in(a.session, a.folders, target, scope, hearing))
        })
        .await
    }

    async fn play_in(
        &self,
        s: &mut Session,
        f: &mut Folders,
        target: MessageRef,
        scope: Option<Folder>,
        hearing: Hearing,
    ) -> Result<Played> {
        // The fetched message is checked to be this box's below (`parse_own_voicemail`).
        let uid = self
            .resolve(
                s,
                f,
                target,
                scope,
                Listed::Present,
                Ownership::CheckedByCaller,
            )
            .await?;
        let name = self.scope_mailbox(s, scope)?;
        let uid_validity = self.select(s, f, &name).await?;
        let vanished = || Error::Vanished {
            mailbox: self.id.clone(),
            uid,
        };
        let range = UidRange::from(uid);
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
        let Some(m) = fetched.into_iter().find(|m| m.uid == uid) else {
            f.get(&name).vanish(&UidSet::single(uid));
            return Err(vanished());
        };
        let parsed = self.parse_own_voicemail(uid, m.full().unwrap_or_default())?;
        let already_seen = m
            .flags
            .as_deref()
            .is_some_and(|fl| fl.contains(&Flag::Seen));
        let mark = hearing == Hearing::MarkSeen;
        if mark && !already_seen {
            s.exec("UID STORE (seen)", |c| {
                c.uid_store(&range, StoreMode::Add, &[Flag::Seen], true)
            })
            .await?;
        }
        Ok(Played {
            uid,
            uid_validity,
            voicemail: parsed.voicemail,
            marked_seen: mark,
        })
    }
}
