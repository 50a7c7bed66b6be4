//! Playing: a message with its audio, marked `\Seen` unless peeked.

use imapvm_message::{DecodedPart, ParseError, ParsedVoicemail, parse, parse_decoded};
use imapvm_policy::{Folder, Uid, UidSet};
use imapvm_proto::{FetchAttr, FetchedMessage, Flag, Section, StoreMode, UidRange};

use super::{Ownership, fetch_result};
use crate::error::{Error, Result};
use crate::pool::Folders;
use crate::pool::Listed;
use crate::session::{Session, ViewSync};
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
    pub(crate) fn parse_own_voicemail(&self, uid: Uid, bytes: &[u8]) -> Result<ParsedVoicemail> {
        self.own_voicemail(uid, parse(bytes))
    }

    /// A parsed message (`uid`) that must be one of this box's voicemails with audio (see
    /// [`Mailbox::parse_own_voicemail`]).
    fn own_voicemail(
        &self,
        uid: Uid,
        parsed: std::result::Result<ParsedVoicemail, ParseError>,
    ) -> Result<ParsedVoicemail> {
        let no_audio = |source| Error::NoAudio {
            mailbox: self.id.clone(),
            uid,
            source,
        };
        let parsed = parsed.map_err(no_audio)?;
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
    /// (heard). One round trip on a warm connection, and one more for the STORE when it was
    /// not heard yet.
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
        // The fetched message is checked to be this box's below (`parse_own_voicemail`), so a
        // UID needs no resolving (`resolve` would select with a NOOP in front).
        let uid = match target {
            MessageRef::Uid(uid) => uid,
            MessageRef::Number(_) => {
                self.resolve(
                    s,
                    f,
                    target,
                    scope,
                    Listed::Present,
                    Ownership::CheckedByCaller,
                )
                .await?
            }
        };
        let name = self.scope_mailbox(s, scope)?;
        // No NOOP in front: the fetch names the message by UID, and asks again behind a NOOP
        // when it finds nothing (a message newer than this session's view).
        let uid_validity = self.select_as(s, f, &name, ViewSync::AsIs).await?;
        let vanished = || Error::Vanished {
            mailbox: self.id.clone(),
            uid,
        };
        let range = UidRange::from(uid);
        // With BINARY the server decodes the audio (fewer bytes, no base64 decoding here);
        // whatever that cannot show for sure is read from the whole message, as without it.
        let mut decoded = None;
        if s.capabilities().has("BINARY") {
            match fetch_one(s, &range, uid, &decoded_attrs()).await {
                Ok(Some(mut m)) => {
                    if let Some(parsed) = decoded_pieces(&mut m)
                        .and_then(|(header, parts)| parse_decoded(&header, parts))
                    {
                        decoded = Some((m, parsed));
                    }
                }
                Ok(None) => {
                    f.get(&name).vanish(&UidSet::single(uid));
                    return Err(vanished());
                }
                // E.g. NO [UNKNOWN-CTE]: the server cannot decode a part; read it whole.
                Err(e) => tracing::debug!(mailbox = %self.id(), error = %e, "BINARY play refused"),
            }
        }
        let (m, parsed) = match decoded {
            Some(found) => found,
            None => {
                let Some(m) =
                    fetch_one(s, &range, uid, &[FetchAttr::Flags, FetchAttr::Full]).await?
                else {
                    f.get(&name).vanish(&UidSet::single(uid));
                    return Err(vanished());
                };
                let parsed = parse(m.full().unwrap_or_default());
                (m, parsed)
            }
        };
        let parsed = self.own_voicemail(uid, parsed)?;
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

/// The fetch items of a play from a server with `BINARY` (RFC 3516): the header, and parts 2
/// and 3 (the recording, a forward's intro) decoded, with their MIME headers.
fn decoded_attrs() -> [FetchAttr; 6] {
    [
        FetchAttr::Flags,
        FetchAttr::Header,
        FetchAttr::Mime(vec![2]),
        FetchAttr::Binary(vec![2]),
        FetchAttr::Mime(vec![3]),
        FetchAttr::Binary(vec![3]),
    ]
}

/// The header and parts 2 and 3 a [`decoded_attrs`] fetch returned, moved out of `m`; `None`
/// when the server left one out. NIL is an empty section: Cyrus answers NIL for the part 3
/// a message without an intro does not have, where Dovecot sends an empty string
/// (`parse_decoded` tells an absent part from a broken one).
fn decoded_pieces(m: &mut FetchedMessage) -> Option<(Vec<u8>, [DecodedPart; 2])> {
    let mut take = |wanted: Section| {
        m.sections
            .iter_mut()
            .find(|(section, _)| *section == wanted)
            .map(|(_, data)| data.take().unwrap_or_default())
    };
    let header = take(Section::Header(Vec::new()))?;
    let mut part = |n: u32| {
        Some(DecodedPart {
            mime: take(Section::Mime(vec![n]))?,
            content: take(Section::Binary(vec![n]))?,
        })
    };
    Some((header, [part(2)?, part(3)?]))
}

/// `UID FETCH` of one message; asked again once, behind a NOOP, when the first answer is
/// empty or the view changed while it ran: the play sent no NOOP in front, so the message may
/// be newer than the session's view, or expunged by another session (Dovecot then answers
/// the fetch with NIL sections, then `* n EXPUNGE`). `None`: the message is gone.
async fn fetch_one(
    s: &mut Session,
    range: &UidRange,
    uid: Uid,
    attrs: &[FetchAttr],
) -> Result<Option<FetchedMessage>> {
    let changes = s.view_changes();
    let id = s.queue("UID FETCH (play)", |c| c.uid_fetch(range, attrs))?;
    s.wait(&[id]).await?;
    let mut fetched = fetch_result(s, "UID FETCH (play)", id)?;
    if fetched.is_empty() || s.view_changes() != changes {
        let noop = s.queue("NOOP", |c| c.noop())?;
        let id = s.queue("UID FETCH (play)", |c| c.uid_fetch(range, attrs))?;
        s.wait(&[noop, id]).await?;
        s.take("NOOP", noop)?;
        fetched = fetch_result(s, "UID FETCH (play)", id)?;
    }
    Ok(fetched.into_iter().find(|m| m.uid == uid))
}
