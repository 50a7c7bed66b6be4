//! Depositing one voicemail: admission, build, APPEND, UID, recount. The deposit declares
//! the [`Journal`] it reports to; the durable outbox (`imapvm-outbox`) implements it.

use std::sync::Arc;

use imapvm_message::{AudioPart, Voicemail};
use imapvm_policy::{
    AdmissionVerdict, Capability, Deposit, DepositKind, Limits, MessageFlags, MessageNumber,
    QuotaResourceName, SearchKey, admit, recount_before_admission,
};
use imapvm_proto::{CommandId, Flag, Outcome};

use super::{FlagMemory, MSG_ID_HEADER, learn_new_identities, queue_new_identities, random_u32};
use crate::error::{DepositRefusal, Error, Misuse, Result};
use crate::pool::{Folders, IdentityHeaders};
use crate::session::Session;
use crate::store::{Deposited, Mailbox, NewVoicemail, Retry, Urgency};
use imapvm_policy::{QuotaResource, Uid, UidSet, UidValidity};

/// A built message, ready to APPEND.
#[derive(Debug, Clone)]
pub struct Composed {
    /// The RFC 5322 bytes.
    pub bytes: Arc<[u8]>,
    /// `X-Asterisk-VM-Message-ID` (shared by the copies of one deposit).
    pub msg_id: String,
    /// `Message-ID` (unique per copy): how a copy is found without APPENDUID.
    pub message_id: String,
    /// APPENDed `\Flagged`.
    pub urgent: bool,
}

/// What the deposit tells its journal, so that a message can be kept durable from just
/// before its APPEND (`imapvm-outbox` implements it; a plain deposit keeps nothing). Called
/// while the deposit runs ([`Mailbox::deposit_in`]), never across an await; an error stops
/// the deposit before its APPEND.
pub trait Journal: Sync {
    /// The APPEND of `c` is about to be sent.
    fn appending(&self, mailbox: &Mailbox, c: &Composed) -> Result<()>;
    /// `c` was refused (by admission or by the server).
    fn refused(&self, mailbox: &Mailbox, c: &Composed, reasons: &[DepositRefusal]) -> Result<()>;
}

/// The journal of a plain [`Mailbox::deposit`]: nothing is kept.
pub(crate) struct NoJournal;

impl Journal for NoJournal {
    fn appending(&self, _: &Mailbox, _: &Composed) -> Result<()> {
        Ok(())
    }

    fn refused(&self, _: &Mailbox, _: &Composed, _: &[DepositRefusal]) -> Result<()> {
        Ok(())
    }
}

/// The quota resources of a `GETQUOTAROOT` outcome, with their root (none for any other
/// outcome).
pub fn quota_roots(outcome: Outcome) -> Vec<(String, QuotaResource)> {
    match outcome {
        Outcome::QuotaRoots(roots) => roots
            .quotas
            .iter()
            .flat_map(|q| {
                q.resources.iter().map(|r| {
                    (
                        q.root.clone(),
                        QuotaResource {
                            name: QuotaResourceName::from_atom(&r.name),
                            usage: r.usage,
                            limit: r.limit,
                        },
                    )
                })
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The quota resources of `outcome`, whatever their root.
pub(super) fn quota_of(outcome: Outcome) -> Vec<QuotaResource> {
    quota_roots(outcome).into_iter().map(|(_, r)| r).collect()
}

impl Mailbox {
    // ------------------------------------------------------------------ deposit

    /// Stores a voicemail: admission (quota and `maxmsg`, by policy), build (message crate,
    /// default mode), APPEND (`\Flagged` when urgent), UID from APPENDUID (else a search by
    /// message id), and the MWI recount. Two round trips on a warm connection; on a cold
    /// one the first goes in the login's flight. When refused,
    /// nothing is stored and nothing is deleted: the caller still has the recording.
    pub async fn deposit(&self, vm: &NewVoicemail) -> Result<Deposited> {
        // Never retried automatically: an APPEND that reached the server must not be doubled.
        // Either way a running MWI watcher publishes the new counts now (the change feed).
        // Runs again only when its first flight went behind a cold login under a wrong
        // hierarchy guess: SELECT, GETQUOTAROOT and the count's searches and fetches, which
        // change nothing (`Mailbox::on_account`); the APPEND waits for that flight's answers.
        self.with_account(Retry::Never, |a| {
            Box::pin(self.deposit_in(a.session, a.folders, vm, &NoJournal))
        })
        .await
    }

    /// Whether a caller may leave a message now, asked before anything is recorded (as
    /// Asterisk asks before the beep): `maxmsg` against new + urgent + old, and the quota
    /// (`usage ≥ limit`). One round trip on a warm connection (the count and
    /// `GETQUOTAROOT` pipelined). A deposit that follows sets [`NewVoicemail::admitted`].
    pub async fn admission(&self) -> Result<AdmissionVerdict> {
        self.with_account(Retry::Never, |a| {
            Box::pin(async move {
                let name = self.scope_mailbox(a.session, None)?;
                let (_, counts, quota) = self.count_with_quota(a.session, a.folders, &name).await?;
                let quota: Vec<QuotaResource> = quota.into_iter().map(|(_, r)| r).collect();
                Ok(imapvm_policy::admit_caller(
                    self.limits(),
                    imapvm_policy::MwiState::Known(counts),
                    &quota,
                ))
            })
        })
        .await
    }

    /// Round trip 1 of a deposit: the SELECT of `name` (none when it is selected already),
    /// the counts (for maxmsg and the message number) and the quota, pipelined (on a cold
    /// connection behind the login, in its flight), with the identity headers of mail added
    /// since the folder was last looked at (else a hit the count finds there costs a round
    /// trip of its own); counted again when the server reported changes meanwhile that
    /// could decide `maxmsg`, or when what was queued behind the SELECT ran on no folder or
    /// on a stale memory of it (`Mailbox::selected_as_queued`).
    async fn count_with_quota(
        &self,
        s: &mut Session,
        f: &mut Folders,
        name: &imapvm_policy::MailboxName,
    ) -> Result<(
        UidValidity,
        imapvm_policy::MwiCounts,
        Vec<(String, QuotaResource)>,
    )> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let selecting = self.queue_select(s, f, name).await?;
            // Behind a cold login the capabilities are not known yet: asked anyway, a
            // refusal only means no quota information.
            let quota_id = if s.may_offer(Capability::Quota) {
                Some(s.queue("GETQUOTAROOT", |c| c.get_quota_root(name))?)
            } else {
                None
            };
            let changes = s.view_changes();
            // With SEARCHRES (offered, or guessed behind a cold login) every hit comes with
            // its identity headers: none is left to fetch in a round trip of its own.
            let saved = s.may_use_searchres();
            let ids = self.queue_count_as(s, f, name, saved, FlagMemory::Ignore)?;
            let news = match saved {
                true => None,
                false => queue_new_identities(s, f.get(name))?,
            };
            let mut wait: Vec<CommandId> = ids.ids();
            wait.extend(quota_id);
            wait.extend(news);
            wait.extend(selecting.id);
            s.wait(&wait).await?;
            let as_queued = self.selected_as_queued(s, f, name, selecting).await?;
            let searchres_refused = saved && !s.may_use_searchres();
            let Some(uid_validity) = as_queued.filter(|_| !searchres_refused) else {
                // Ran on no folder, or on another UIDVALIDITY, or SEARCHRES was guessed and
                // is not there: again, on the folder now selected.
                ids.discard(s);
                for id in quota_id.into_iter().chain(news) {
                    let _ = s.take("stale", id);
                }
                if attempt >= 4 {
                    return Err(super::folder_kept_changing(s));
                }
                continue;
            };
            learn_new_identities(s, f.get(name), news);
            // Used only where the login's answer lists QUOTA, as when it was asked after it.
            let quota = match quota_id {
                Some(id) => match s.take("GETQUOTAROOT", id) {
                    Ok(o) if s.capabilities().contains(Capability::Quota) => quota_roots(o),
                    Ok(_) => Vec::new(),
                    Err(e) => {
                        tracing::debug!(mailbox = %self.id(), error = %e, "no quota information");
                        Vec::new()
                    }
                },
                None => Vec::new(),
            };
            let (mut counts, _) = self.finish_counts(s, f, name, ids, None).await?;
            // The server may sync our view (the pipelined NOOP) after the count ran: if it
            // reported changes meanwhile and that could decide maxmsg, count once more on
            // the synced view (policy: `recount_before_admission`).
            let delta = s.view_changes().saturating_sub(changes);
            if recount_before_admission(counts.total(), delta, self.limits()) {
                let again = self.queue_count(s, f, name)?;
                s.wait(&again.ids()).await?;
                counts = self.finish_counts(s, f, name, again, None).await?.0;
            }
            return Ok((uid_validity, counts, quota));
        }
    }

    /// The UID of this box's message stored under `msg_id` in the selected folder, if any
    /// (`HEADER` search is a substring match: the values are checked exactly, the identity
    /// too, since copies for other boxes of a shared folder carry the same msg id).
    async fn find_own_msg_id(&self, s: &mut Session, msg_id: &str) -> Result<Option<Uid>> {
        let keys = [SearchKey::header(MSG_ID_HEADER, msg_id)];
        let set: UidSet = match s
            .exec("UID SEARCH (msg id)", |c| c.uid_search(&keys))
            .await?
        {
            Outcome::Search(u) => u.into_iter().collect(),
            _ => UidSet::new(),
        };
        if set.is_empty() {
            return Ok(None);
        }
        let attrs = [imapvm_proto::FetchAttr::HeaderFields(vec![
            MSG_ID_HEADER.to_owned(),
            imapvm_policy::identity::EXTENSION_HEADER.to_owned(),
            imapvm_policy::identity::CONTEXT_HEADER.to_owned(),
        ])];
        let fetched = match s
            .exec("UID FETCH (msg id)", |c| {
                c.uid_fetch(&imapvm_proto::UidRange::Set(set), &attrs)
            })
            .await?
        {
            Outcome::Fetch(m) => m,
            _ => Vec::new(),
        };
        Ok(fetched
            .iter()
            .filter(|m| {
                let block =
                    imapvm_message::HeaderBlock::parse(m.header_fields().unwrap_or_default());
                block.fields.msg_id.as_deref().map(str::trim) == Some(msg_id)
                    && self.identity.matches(
                        block.fields.extension.as_deref(),
                        block.fields.context.as_deref(),
                    )
            })
            .map(|m| m.uid)
            .min())
    }

    /// voicemail.conf's admission limits of this box (`maxmsg`, `minsecs`, `maxsecs`,
    /// `maxgreet`).
    pub fn limits(&self) -> Limits {
        Limits {
            maxmsg: self.settings().maxmsg.value,
            minsecs: self.settings().minsecs.value,
            maxsecs: self.settings().maxsecs.value,
            maxgreet: self.settings().maxgreet.value,
        }
    }

    /// The `Message-ID` of a message this box builds at `now` with `rand`.
    pub fn message_id(&self, now: i64, rand: u32) -> String {
        format!(
            "<imapvm-{now}-{rand:08x}-{}@{}>",
            self.id.mailbox(),
            self.store.hostname()
        )
    }

    /// The bytes of `vm`: `now` and `rand` (from the store's clock) make Date, Message-ID and
    /// boundary, so the message crate builds deterministically [INV-8].
    pub fn build_message(&self, vm: Voicemail, now: i64, rand: u32) -> Result<Vec<u8>> {
        let envelope = imapvm_message::Envelope {
            date: now,
            message_id: self.message_id(now, rand),
            boundary: format!("----voicemail_imapvm{now}{rand:08x}"),
            hostname: self.store.hostname().to_owned(),
        };
        imapvm_message::build(
            &vm,
            &self.message_settings()?,
            &envelope,
            imapvm_message::Mode::Default,
        )
        .map_err(|source| Error::Build {
            mailbox: self.id.clone(),
            source,
        })
    }

    /// The message bytes of a deposit, with message number `msgnum`, at `now` (Unix
    /// seconds), `rand` making Message-ID, boundary and msg id unique.
    pub fn compose(
        &self,
        new: &NewVoicemail,
        msgnum: u32,
        now: i64,
        rand: u32,
    ) -> Result<Composed> {
        let now = new.orig_time.unwrap_or(now);
        let msg_id = new
            .msg_id
            .clone()
            .unwrap_or_else(|| format!("{now}-{rand:08x}"));
        let vm = self.new_voicemail(new, msgnum, now, msg_id.clone())?;
        let bytes = self.build_message(vm, now, rand)?;
        Ok(Composed {
            bytes: Arc::from(bytes),
            msg_id,
            message_id: self.message_id(now, rand),
            urgent: new.urgency == Urgency::Urgent,
        })
    }

    /// The voicemail of a deposit as this box stores it: message `msgnum`, at `now` (Unix
    /// seconds), with `msg_id`; the recording, then the intro.
    pub fn new_voicemail(
        &self,
        new: &NewVoicemail,
        msgnum: u32,
        now: i64,
        msg_id: String,
    ) -> Result<Voicemail> {
        let Some(recording) = &new.recording else {
            return Err(self.misuse(Misuse::NoRecording));
        };
        let mut audio = vec![AudioPart::recording(
            msgnum,
            &recording.format,
            recording.bytes.clone(),
        )];
        if let Some(intro) = &new.intro {
            audio.push(AudioPart::intro(msgnum, &intro.format, intro.bytes.clone()));
        }
        Ok(Voicemail {
            flag: match new.urgency {
                Urgency::Normal => imapvm_message::Flag::None,
                Urgency::Urgent => imapvm_message::Flag::Urgent,
                Urgency::Priority => imapvm_message::Flag::Priority,
            },
            caller_id_num: new.caller_id_num.clone(),
            caller_id_name: new.caller_id_name.clone(),
            duration_secs: new.duration_secs,
            orig_date: self.email_date(now)?,
            orig_time: now,
            msg_id: Some(msg_id),
            audio,
            ..self.voicemail_of(msgnum)
        })
    }

    /// A message of this box, number `msgnum` (0 for a greeting): its identity, its
    /// `fromstring`, priority 1; the caller, time and audio are the caller's to fill in.
    pub fn voicemail_of(&self, msgnum: u32) -> Voicemail {
        Voicemail {
            mailbox: self.id.mailbox().to_owned(),
            context: self.id.context().to_owned(),
            extension: self.identity.extension().to_owned(),
            msgnum,
            server_name: self.settings().fromstring.value.clone(),
            priority: 1,
            ..Voicemail::default()
        }
    }

    /// `X-Asterisk-VM-Orig-date` of `now` in this box's time zone.
    pub(crate) fn email_date(&self, now: i64) -> Result<String> {
        self.message_settings()?
            .email_date(now)
            .map_err(|source| Error::Build {
                mailbox: self.id.clone(),
                source,
            })
    }

    /// The deposit itself; `journal` keeps the bytes durable from just before the APPEND
    /// (the outbox) or does nothing (plain [`Mailbox::deposit`]). Runs on a session the
    /// caller holds (inside [`Mailbox::with_account`]).
    pub async fn deposit_in(
        &self,
        s: &mut Session,
        f: &mut Folders,
        new: &NewVoicemail,
        journal: &dyn Journal,
    ) -> Result<Deposited> {
        if new.recording.is_none() {
            return Err(self.misuse(Misuse::NoRecording));
        }
        let name = self.scope_mailbox(s, None)?;
        if new.resent
            && let Some(msg_id) = &new.msg_id
        {
            // A resend (the outbox after a crash) looks for an earlier APPEND first.
            let selected = self.select(s, f, &name).await?;
            if let Some(uid) = self.find_own_msg_id(s, msg_id).await? {
                // Stored by an earlier attempt: not twice.
                tracing::info!(mailbox = %self.id(), %msg_id, %uid, "already stored; not stored again");
                let counts = self.count_in(s, f).await?;
                return Ok(Deposited {
                    uid,
                    uid_validity: selected,
                    number: None,
                    counts,
                    msg_id: msg_id.clone(),
                    from_appenduid: false,
                });
            }
        }
        // Round trip 1 (on a cold connection the login's): SELECT, quota and the counts.
        let (selected, counts, quota) = self.count_with_quota(s, f, &name).await?;
        let quota: Vec<QuotaResource> = quota.into_iter().map(|(_, r)| r).collect();

        let now = self.store.clock().unix_secs();
        let rand = random_u32(self.store.clock());
        let msgnum = counts.total().saturating_add(1);
        let composed = self.compose(new, msgnum, now, rand)?;
        let msg_id = composed.msg_id.clone();
        let verdict = admit(
            Deposit {
                kind: DepositKind::Voicemail,
                size_bytes: composed.bytes.len() as u64,
                duration_secs: new.duration_secs,
            },
            if new.admitted {
                self.limits().after_admission()
            } else {
                self.limits()
            },
            imapvm_policy::MwiState::Known(counts),
            0,
            &quota,
        );
        if let AdmissionVerdict::Refuse(reasons) = verdict {
            let reasons: Vec<DepositRefusal> =
                reasons.into_iter().map(DepositRefusal::Policy).collect();
            journal.refused(self, &composed, &reasons)?;
            return Err(Error::DepositRefused {
                mailbox: self.id.clone(),
                reasons,
            });
        }

        // Round trip 2: APPEND (LITERAL+) and the recount pipelined behind it. Dovecot runs
        // the recount in parallel with the APPEND, so the new message (whose flags we know)
        // is added when the recount's view predates it.
        let urgent = new.urgency == Urgency::Urgent;
        let flags = if urgent {
            vec![Flag::Flagged]
        } else {
            Vec::new()
        };
        let message: Arc<[u8]> = Arc::clone(&composed.bytes);
        journal.appending(self, &composed)?;
        let append_id = s.queue("APPEND", |c| c.append(&name, &flags, Arc::clone(&message)))?;
        // Courier reports the EXISTS of our own APPEND only at the next command that syncs:
        // a NOOP here (pipelined, no extra round trip) takes it in now, so that the next
        // count does not see a "change" and count twice.
        let sync_id = s.queue("NOOP", |c| c.noop())?;
        let ids = self.queue_count(s, f, &name)?;
        // Mail another client added meanwhile (its identity is needed for the recount).
        let news = queue_new_identities(s, f.get(&name))?;
        let mut wait = ids.ids();
        wait.extend([append_id, sync_id]);
        wait.extend(news);
        s.wait(&wait).await?;
        learn_new_identities(s, f.get(&name), news);
        let _ = s.take("NOOP", sync_id);
        let appended = match s.take("APPEND", append_id) {
            Ok(o) => o,
            Err(Error::Protocol { source, .. }) if !source.is_fatal() => {
                ids.discard(s);
                let reasons = vec![DepositRefusal::of_append(*source)];
                journal.refused(self, &composed, &reasons)?;
                return Err(Error::DepositRefused {
                    mailbox: self.id.clone(),
                    reasons,
                });
            }
            Err(e) => return Err(e),
        };
        let (uid, uid_validity, from_appenduid) = match appended {
            Outcome::Appended(Some(a)) => (a.uid, a.uid_validity, true),
            _ => {
                // No UIDPLUS: find it by its msg id, after the APPEND completed.
                let keys = [SearchKey::header(MSG_ID_HEADER, msg_id.as_str())];
                let found = match s
                    .exec("UID SEARCH (msg id)", |c| c.uid_search(&keys))
                    .await?
                {
                    Outcome::Search(u) => u,
                    _ => Vec::new(),
                };
                let uid = found.into_iter().max().ok_or(Error::Unexpected {
                    account: s.key().clone(),
                    command: "APPEND (the new message was not found by its msg id)",
                })?;
                // The folder's, as its SELECT gave it (it stayed selected since).
                let uid_validity = selected;
                (uid, uid_validity, false)
            }
        };
        let mem = f.get(&name);
        if Some(uid_validity) == mem.uid_validity {
            mem.headers.insert(
                uid,
                IdentityHeaders {
                    extension: Some(self.identity.extension().to_owned()),
                    context: Some(self.identity.context().to_owned()),
                    message_type: Some("Message".to_owned()),
                },
            );
        }
        let new_flags = MessageFlags {
            flagged: urgent,
            ..MessageFlags::default()
        };
        let (counts, all) = self
            .finish_counts(s, f, &name, ids, Some((uid, new_flags)))
            .await?;
        let number = all
            .iter()
            .position(|u| *u == uid)
            .and_then(|i| u32::try_from(i + 1).ok())
            .and_then(MessageNumber::new);
        Ok(Deposited {
            uid,
            uid_validity,
            number,
            counts,
            msg_id,
            from_appenduid,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::test_support::store_on;

    /// A server that never sends APPENDUID (Dovecot always does, so this path needs a
    /// scripted peer): the UID comes from a search by msg id, after the APPEND completed.
    #[tokio::test]
    async fn without_appenduid_the_uid_is_found_by_msg_id() {
        use imapvm_harness::scripted::{Command, Imap, Log, usual};
        use imapvm_testkit::{Peer, Reply};

        const CAPS: &str = "IMAP4rev1 AUTH=PLAIN SASL-IR LITERAL+ NAMESPACE";
        let log = Log::default();
        let l = log.clone();
        let peer = Peer::builder()
            .respond(move || {
                let mut appended = false;
                Imap::new(CAPS, &l, move |c: &Command| {
                    let tag = &c.tag;
                    Some(if c.is("APPEND") {
                        appended = true;
                        Reply::send(format!("* 1 EXISTS\r\n{tag} OK Append completed\r\n"))
                    } else if c.is("UID SEARCH") {
                        let hit = if appended { " 5" } else { "" };
                        Reply::send(format!("* SEARCH{hit}\r\n{tag} OK done\r\n"))
                    } else if c.is("UID FETCH") && appended {
                        Reply::send(format!("* 1 FETCH (UID 5 FLAGS ())\r\n{tag} OK done\r\n"))
                    } else {
                        usual(CAPS, c)
                    })
                })
            })
            .await
            .unwrap();
        let port = peer.port();
        let conf = format!(
            "[general]\nimapserver=127.0.0.1\nimapport={port}\nimapflags=notls\nformat=wav\n\
             [default]\n1234 => 1234,A,,,imapuser=vm|imappassword=pw\n"
        );
        let parsed = imapvm_config::parse_bytes("voicemail.conf", conf.as_bytes());
        let store = crate::Store::new(parsed.config);
        let mb = store.mailbox("1234@default").unwrap();
        let d = mb
            .deposit(&NewVoicemail {
                recording: Some(crate::Audio {
                    format: "wav".into(),
                    bytes: b"RIFF....WAVE".to_vec(),
                }),
                duration_secs: 1,
                ..NewVoicemail::default()
            })
            .await
            .unwrap();
        assert_eq!(
            (d.uid.get(), d.uid_validity.get(), d.from_appenduid),
            (5, 7, false)
        );
        assert_eq!(d.counts.new, 1);
        let lines = log.lines();
        let append = lines.iter().position(|l| l.contains("APPEND")).unwrap();
        let by_id = lines
            .iter()
            .position(|l| {
                l.contains(&format!("X-Asterisk-VM-Message-ID \"{}\"", d.msg_id))
                    || l.contains(&format!("X-Asterisk-VM-Message-ID {}", d.msg_id))
            })
            .unwrap_or_else(|| panic!("no search by msg id in {lines:#?}"));
        assert!(by_id > append, "{lines:#?}");
        store.close().await;
    }

    /// A Dovecot-like scripted server for a cold deposit: a greeting without QUOTA (as
    /// Dovecot's before the login), `after` the capabilities its login's answer lists,
    /// `login` its answer to AUTHENTICATE, every command logged.
    async fn cold_server(
        after: &'static str,
        refuse_login: bool,
    ) -> (imapvm_testkit::Peer, imapvm_harness::scripted::Log) {
        use imapvm_harness::scripted::{Command, Imap, Log, usual};
        use imapvm_testkit::{Peer, Reply};

        const BEFORE: &str = "IMAP4rev1 SASL-IR LITERAL+ AUTH=PLAIN";
        let log = Log::default();
        let l = log.clone();
        let peer = Peer::builder()
            .respond(move || {
                Imap::new(BEFORE, &l, move |c: &Command| {
                    let tag = &c.tag;
                    Some(if c.is("AUTHENTICATE") && refuse_login {
                        Reply::send(format!("{tag} NO [AUTHENTICATIONFAILED] failed\r\n"))
                    } else if refuse_login && !c.is("LOGOUT") {
                        Reply::send(format!("{tag} BAD Not logged in\r\n"))
                    } else if c.is("AUTHENTICATE") {
                        Reply::send(format!("{tag} OK [CAPABILITY {after}] in\r\n"))
                    } else if c.is("GETQUOTAROOT") && !after.contains("QUOTA") {
                        Reply::send(format!("{tag} BAD Unknown command\r\n"))
                    } else if c.is("APPEND") {
                        Reply::send(format!(
                            "* 1 EXISTS\r\n{tag} OK [APPENDUID 7 5] Append completed\r\n"
                        ))
                    } else {
                        usual(after, c)
                    })
                })
                .greeting_text("Dovecot ready.")
            })
            .await
            .unwrap();
        (peer, log)
    }

    fn recording() -> NewVoicemail {
        NewVoicemail {
            recording: Some(crate::Audio {
                format: "wav".into(),
                bytes: b"RIFF....WAVE".to_vec(),
            }),
            duration_secs: 1,
            ..NewVoicemail::default()
        }
    }

    /// Issue 22: a cold deposit sends SELECT, GETQUOTAROOT (the greeting did not list QUOTA;
    /// the login's answer does) and the admission count behind its login, in one flight, and
    /// the APPEND with the recount in the next: the greeting, two flights.
    #[tokio::test]
    async fn a_cold_deposit_admits_in_the_logins_flight_and_appends_in_the_next() {
        // As Dovecot's (SEARCHRES for the count's `UID FETCH $` where the runtime uses it).
        const AFTER: &str = "IMAP4rev1 LITERAL+ NAMESPACE QUOTA UIDPLUS SEARCHRES";
        let (peer, log) = cold_server(AFTER, false).await;
        let store = store_on(peer.port());
        let mb = store.mailbox("1234@default").unwrap();
        let d = mb.deposit(&recording()).await.unwrap();
        assert_eq!((d.uid.get(), d.from_appenduid, d.counts.new), (5, true, 1));
        // The session's own count (the greeting not included): two flights.
        let trips = mb
            .with_account(Retry::Never, |a| {
                Box::pin(async move { Ok(a.session.stats().round_trips) })
            })
            .await
            .unwrap();
        assert_eq!(trips, 2, "{:#?}", log.lines());
        let verbs: Vec<String> = log
            .lines()
            .iter()
            .map(|l| l.split(' ').take(3).collect::<Vec<_>>().join(" "))
            .collect();
        let at = |verb: &str| verbs.iter().position(|v| v.contains(verb)).unwrap();
        assert!(at("AUTHENTICATE") < at("SELECT"), "{verbs:#?}");
        assert!(at("SELECT") < at("GETQUOTAROOT"), "{verbs:#?}");
        assert!(at("GETQUOTAROOT") < at("APPEND"), "{verbs:#?}");
        store.close().await;
    }

    /// Behind a cold login to a server without QUOTA, the GETQUOTAROOT is refused: no quota
    /// information, and the deposit goes on as it would have without asking.
    #[tokio::test]
    async fn a_getquotaroot_refused_behind_a_cold_login_only_means_no_quota() {
        let (peer, log) = cold_server("IMAP4rev1 LITERAL+ NAMESPACE UIDPLUS", false).await;
        let store = store_on(peer.port());
        let mb = store.mailbox("1234@default").unwrap();
        let d = mb.deposit(&recording()).await.unwrap();
        assert_eq!(d.uid.get(), 5);
        assert!(log.any("GETQUOTAROOT"), "{:#?}", log.lines());
        store.close().await;
    }

    /// The journal of a deposit, for what it was told.
    #[derive(Default)]
    struct Told(std::sync::Mutex<Vec<&'static str>>);

    impl Journal for Told {
        fn appending(&self, _: &Mailbox, _: &Composed) -> Result<()> {
            self.0.lock().unwrap().push("appending");
            Ok(())
        }
        fn refused(&self, _: &Mailbox, _: &Composed, _: &[DepositRefusal]) -> Result<()> {
            self.0.lock().unwrap().push("refused");
            Ok(())
        }
    }

    /// A cold deposit whose login is refused: the commands behind the login fail with its
    /// typed error, the journal hears nothing (nothing is about to be stored, nothing was
    /// refused by policy), no APPEND goes out, and the login is not tried again.
    #[tokio::test]
    async fn a_refused_cold_login_fails_the_deposit_before_any_append() {
        let (peer, log) = cold_server("", true).await;
        let store = store_on(peer.port());
        let mb = store.mailbox("1234@default").unwrap();
        let told = Told::default();
        let vm = recording();
        let err = mb
            .with_account(Retry::Never, |a| {
                Box::pin(mb.deposit_in(a.session, a.folders, &vm, &told))
            })
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Auth { .. }), "{err:?}");
        assert!(told.0.lock().unwrap().is_empty());
        let lines = log.lines();
        assert!(!lines.iter().any(|l| l.contains("APPEND")), "{lines:#?}");
        assert!(
            lines.iter().any(|l| l.contains("GETQUOTAROOT")),
            "{lines:#?}"
        );
        let logins = lines.iter().filter(|l| l.contains("AUTHENTICATE")).count();
        assert_eq!(logins, 1, "{lines:#?}");
        store.close().await;
    }
}
