//! Family C, the command surface: one `pub fn` per IMAP command, from
//! [`capability`](Connection::capability) to [`idle_done`](Connection::idle_done).
//!
//! Each command is checked (`check`) against the *projected* state, the state once the
//! commands already queued have completed, so pipelined commands are judged as the server
//! will see them; then it is encoded and queued as a `Pending` for the send flow. A command
//! only queues: nothing is written until `poll_transmit`.
//!
//! Also here: [`CommandId`] and tag allocation, `Kind` with its pipelining tables
//! (`quiet_before`, `barrier_after`), and the commands the core issues by itself (keepalive
//! NOOP, IDLE re-issue).
//!
//! API to the rest of the connection: `Kind`, `alloc_tag`, `enqueue_internal_noop`,
//! `reissue_idle`.

use super::{Acc, Connection, IdleState, Pending, Piece, Route, State, insert_after_verb};
use crate::convert;
use crate::error::{Error, Misuse};
use crate::sasl::OAuthMechanism;
use crate::types::{
    FetchAttr, Flag, MailboxName, MailboxStatus, Namespaces, QuotaRoots, SelectedMailbox,
    StatusAttr, StoreMode, UidRange,
};
use imap_codec::CommandCodec;
use imap_codec::encode::{Encoder, Fragment};
use imap_codec::imap_types as t;
use imapvm_types::{Capability, SearchKey, Secret};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};
use t::command::{Command, CommandBody};
use t::core::{LiteralMode, Vec1};

/// Handle of one command; every command ends in exactly one [`Event::Completed`] with it.
///
/// [`Event::Completed`]: crate::Event::Completed
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CommandId(u64);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Capability,
    Noop,
    Logout,
    Login,
    Authenticate,
    StartTls,
    Select,
    Examine,
    Unselect,
    Close,
    List,
    Namespace,
    Status,
    Create,
    Append,
    Search,
    Fetch,
    Store,
    Copy,
    Move,
    UidExpunge,
    Expunge,
    GetQuotaRoot,
    Idle,
    Enable,
    Notify,
}

impl Kind {
    pub(super) fn name(self) -> &'static str {
        match self {
            Self::Capability => "CAPABILITY",
            Self::Noop => "NOOP",
            Self::Logout => "LOGOUT",
            Self::Login => "LOGIN",
            Self::Authenticate => "AUTHENTICATE",
            Self::StartTls => "STARTTLS",
            Self::Select => "SELECT",
            Self::Examine => "EXAMINE",
            Self::Unselect => "UNSELECT",
            Self::Close => "CLOSE",
            Self::List => "LIST",
            Self::Namespace => "NAMESPACE",
            Self::Status => "STATUS",
            Self::Create => "CREATE",
            Self::Append => "APPEND",
            Self::Search => "UID SEARCH",
            Self::Fetch => "UID FETCH",
            Self::Store => "UID STORE",
            Self::Copy => "UID COPY",
            Self::Move => "UID MOVE",
            Self::UidExpunge => "UID EXPUNGE",
            Self::Expunge => "EXPUNGE",
            Self::GetQuotaRoot => "GETQUOTAROOT",
            Self::Idle => "IDLE",
            Self::Enable => "ENABLE",
            Self::Notify => "NOTIFY",
        }
    }

    /// Nothing else may be in flight when this is sent.
    pub(super) fn quiet_before(self) -> bool {
        matches!(
            self,
            Self::Login
                | Self::Authenticate
                | Self::StartTls
                | Self::Logout
                | Self::Idle
                | Self::Enable
                | Self::Notify
                | Self::Select
                | Self::Examine
                | Self::Unselect
                | Self::Close
        )
    }

    /// Nothing else may be sent until this completes: its result changes how later commands
    /// are read (capabilities, TLS, state) or the server reads nothing else meanwhile (IDLE).
    /// A password login is the exception the send flow makes (`send.rs`, `may_follow`).
    pub(super) fn barrier_after(self) -> bool {
        matches!(
            self,
            Self::Login
                | Self::Authenticate
                | Self::StartTls
                | Self::Logout
                | Self::Idle
                | Self::Enable
                | Self::Notify
        )
    }
}

fn to_static_err(m: Misuse) -> Error {
    Error::Misuse(m)
}

impl Connection {
    pub(super) fn enqueue_internal_noop(&mut self) {
        let id = self.alloc_id();
        let tag = self.alloc_tag();
        let line = format!("{tag} NOOP\r\n").into_bytes();
        self.pending.push_back(Pending {
            id,
            tag,
            kind: Kind::Noop,
            pieces: VecDeque::from([Piece::Bytes(line)]),
            label: None,
            internal: true,
            acc: Acc::None,
            mailbox: None,
            route: Route::default(),
        });
    }

    pub(super) fn reissue_idle(&mut self, id: CommandId) {
        let tag = self.alloc_tag();
        let line = format!("{tag} IDLE\r\n").into_bytes();
        if let Some(idle) = &mut self.idle {
            idle.tag = tag.clone();
            idle.accepted_at = None;
            idle.done_sent = false;
            idle.refreshing = true;
        }
        self.pending.push_front(Pending {
            id,
            tag,
            kind: Kind::Idle,
            pieces: VecDeque::from([Piece::Bytes(line)]),
            label: None,
            internal: false,
            acc: Acc::None,
            mailbox: None,
            route: Route::default(),
        });
    }

    fn alloc_id(&mut self) -> CommandId {
        self.next_id += 1;
        CommandId(self.next_id)
    }

    fn alloc_tag(&mut self) -> String {
        let t = format!("{}{}", self.config.tag_prefix, self.next_tag);
        self.next_tag += 1;
        t
    }

    fn check(&self, command: &'static str, allowed: &[fn(State) -> bool]) -> Result<(), Error> {
        self.sticky()?;
        if self.idle.is_some() {
            return Err(Misuse::Idling.into());
        }
        let st = self.projected;
        if allowed.iter().any(|f| f(st)) {
            Ok(())
        } else {
            Err(Misuse::WrongState {
                command,
                state: st.name(),
            }
            .into())
        }
    }

    fn push_codec(
        &mut self,
        kind: Kind,
        body: CommandBody<'_>,
        acc: Acc,
        mailbox: Option<MailboxName>,
        label: bool,
    ) -> Result<CommandId, Error> {
        let tag = self.alloc_tag();
        let cmd = Command::new(tag.as_str(), body).map_err(|e| {
            to_static_err(Misuse::InvalidArgument {
                command: kind.name(),
                reason: format!("tag: {e}"),
            })
        })?;
        let mut pieces = VecDeque::new();
        for frag in CommandCodec::default().encode(&cmd) {
            match frag {
                Fragment::Line { data } => pieces.push_back(Piece::Bytes(data)),
                Fragment::Literal { data, mode } => {
                    if mode == LiteralMode::Sync {
                        pieces.push_back(Piece::Wait);
                    }
                    pieces.push_back(Piece::Bytes(data));
                }
            }
        }
        let label = label.then(|| format!("{tag} {} ***", kind.name()));
        Ok(self.push_pieces(kind, tag, pieces, acc, mailbox, label))
    }

    /// Queues a command's pieces; `label` is the log rendering of every line that carries
    /// credentials (`None`: the bytes are traced as they are).
    fn push_pieces(
        &mut self,
        kind: Kind,
        tag: String,
        pieces: VecDeque<Piece>,
        acc: Acc,
        mailbox: Option<MailboxName>,
        label: Option<String>,
    ) -> CommandId {
        let id = self.alloc_id();
        if self.pending.capacity() == 0 {
            // After `shrink_buffers`: a waiting connection's one IDLE holds room for one
            // command, not the four a first push allocates (thousands wait at once).
            self.pending.reserve_exact(1);
        }
        self.pending.push_back(Pending {
            id,
            tag,
            kind,
            pieces,
            label,
            internal: false,
            acc,
            mailbox,
            route: Route::default(),
        });
        id
    }

    /// Attach routing information to the command just queued.
    fn set_route(&mut self, route: Route) {
        if let Some(p) = self.pending.back_mut() {
            p.route = route;
        }
    }

    /// `CAPABILITY`.
    pub fn capability(&mut self) -> Result<CommandId, Error> {
        self.check("CAPABILITY", &[Self::live])?;
        self.push_codec(
            Kind::Capability,
            CommandBody::Capability,
            Acc::None,
            None,
            false,
        )
    }

    /// `NOOP`: also collects unsolicited updates.
    pub fn noop(&mut self) -> Result<CommandId, Error> {
        self.check("NOOP", &[Self::live])?;
        self.push_codec(Kind::Noop, CommandBody::Noop, Acc::None, None, false)
    }

    /// `LOGOUT`. Completes on the tagged OK or when the stream ends after `* BYE`.
    pub fn logout(&mut self) -> Result<CommandId, Error> {
        self.check("LOGOUT", &[Self::live])?;
        self.projected = State::Logout;
        self.push_codec(Kind::Logout, CommandBody::Logout, Acc::None, None, false)
    }

    /// `LOGIN user password`. Refused locally if the server advertised `LOGINDISABLED`.
    /// The password never appears in traces, errors or `Debug` output.
    pub fn login(&mut self, user: &str, password: &Secret) -> Result<CommandId, Error> {
        self.check("LOGIN", &[Self::not_auth])?;
        if self.offers(Capability::LoginDisabled) {
            return Err(Misuse::LoginDisabled.into());
        }
        let body = CommandBody::login(user, password.expose()).map_err(|_| {
            to_static_err(Misuse::InvalidArgument {
                command: "LOGIN",
                reason: "user or password cannot be encoded".into(),
            })
        })?;
        let id = self.push_codec(Kind::Login, body, Acc::None, None, true)?;
        self.projected = State::Authenticated;
        Ok(id)
    }

    /// `AUTHENTICATE PLAIN` with optional authorization identity (proxy/master user:
    /// `authzid` = the mailbox user, `authcid` = the master). Uses SASL-IR when advertised.
    pub fn authenticate_plain(
        &mut self,
        authzid: Option<&str>,
        authcid: &str,
        password: &Secret,
    ) -> Result<CommandId, Error> {
        self.check("AUTHENTICATE", &[Self::not_auth])?;
        if self.lacks(Capability::AuthPlain) {
            return Err(Misuse::MissingCapability {
                command: "AUTHENTICATE",
                capability: "AUTH=PLAIN",
            }
            .into());
        }
        let mut raw = Vec::new();
        raw.extend_from_slice(authzid.unwrap_or("").as_bytes());
        raw.push(0);
        raw.extend_from_slice(authcid.as_bytes());
        raw.push(0);
        raw.extend_from_slice(password.expose().as_bytes());
        if raw.iter().filter(|b| **b == 0).count() != 2 {
            return Err(Misuse::InvalidArgument {
                command: "AUTHENTICATE",
                reason: "NUL inside an identity or password".into(),
            }
            .into());
        }
        Ok(self.push_authenticate("PLAIN", &raw, None))
    }

    /// `AUTHENTICATE OAUTHBEARER` or `AUTHENTICATE XOAUTH2` with an OAuth 2 bearer `token`
    /// for `user` ([`OAuthMechanism::choose`] picks the mechanism from the capabilities;
    /// `server`, host and port, goes into OAUTHBEARER's fields). Uses SASL-IR when
    /// advertised. A refused token comes as an error challenge, which the core answers by
    /// itself before the tagged NO (see [`crate::sasl`]); the
    /// [`Refusal`](crate::Refusal) then carries the server's error. The token never appears
    /// in traces, errors or `Debug` output.
    pub fn authenticate_oauth(
        &mut self,
        mechanism: OAuthMechanism,
        user: &str,
        server: Option<(&str, u16)>,
        token: &Secret,
    ) -> Result<CommandId, Error> {
        self.check("AUTHENTICATE", &[Self::not_auth])?;
        if self.lacks(mechanism.capability()) {
            return Err(Misuse::MissingCapability {
                command: "AUTHENTICATE",
                capability: mechanism.capability().as_str(),
            }
            .into());
        }
        let raw = mechanism
            .initial_response(user, server, token)
            .map_err(|reason| Misuse::InvalidArgument {
                command: "AUTHENTICATE",
                reason: reason.into(),
            })?;
        Ok(self.push_authenticate(mechanism.name(), &raw, Some(mechanism.abort_line())))
    }

    /// Queues `AUTHENTICATE mechanism` with the initial response `raw` (inline with SASL-IR,
    /// else after the server's `+`), traced as `tag AUTHENTICATE mechanism ***`. `abort`: the
    /// line that answers an error challenge (OAuth mechanisms; `None`: the server sends none).
    fn push_authenticate(
        &mut self,
        mechanism: &str,
        raw: &[u8],
        abort: Option<&'static [u8]>,
    ) -> CommandId {
        let b64 = base64_encode(raw);
        let tag = self.alloc_tag();
        // After STARTTLS the capabilities are unknown until the login's tagged OK carries
        // them (RFC 3501 §6.2.1: the pre-TLS list is discarded). SASL-IR is then taken from
        // the discarded list: it says how the server parses AUTHENTICATE, nothing about
        // security, and the credentials go over the TLS channel either way. A forged SASL-IR
        // only gets the login refused (BAD), which whoever could forge it could also cause
        // by cutting the connection.
        let ir =
            self.offers(Capability::SaslIr) || (self.caps.is_none() && self.sasl_ir_before_tls);
        let pieces = if self.config.use_sasl_ir && ir {
            VecDeque::from([Piece::Bytes(
                format!("{tag} AUTHENTICATE {mechanism} {b64}\r\n").into_bytes(),
            )])
        } else {
            VecDeque::from([
                Piece::Bytes(format!("{tag} AUTHENTICATE {mechanism}\r\n").into_bytes()),
                Piece::Wait,
                Piece::Bytes(format!("{b64}\r\n").into_bytes()),
            ])
        };
        let label = Some(format!("{tag} AUTHENTICATE {mechanism} ***"));
        let id = self.push_pieces(
            Kind::Authenticate,
            tag,
            pieces,
            Acc::Sasl(None),
            None,
            label,
        );
        self.set_route(Route {
            sasl_abort: abort,
            ..Route::default()
        });
        self.projected = State::Authenticated;
        id
    }

    /// `STARTTLS`. On success the outcome is [`Outcome::UpgradeNow`]: do the TLS handshake on
    /// the same socket, then call [`tls_established`](Self::tls_established).
    ///
    /// [`Outcome::UpgradeNow`]: crate::Outcome::UpgradeNow
    pub fn starttls(&mut self) -> Result<CommandId, Error> {
        self.check("STARTTLS", &[Self::not_auth])?;
        self.push_codec(
            Kind::StartTls,
            CommandBody::StartTLS,
            Acc::None,
            None,
            false,
        )
    }

    /// `SELECT mailbox` (read-write).
    pub fn select(&mut self, mailbox: &MailboxName) -> Result<CommandId, Error> {
        self.select_or_examine(mailbox, false, Vec::new())
    }

    /// `SELECT mailbox (CONDSTORE)` (RFC 7162 §3.1.8): read-write, and a CONDSTORE enabling
    /// command, so the answer reports `[HIGHESTMODSEQ n]` (or `[NOMODSEQ]`) and later FETCH
    /// answers carry MODSEQ. Misuse (nothing is sent): CONDSTORE known to be missing once
    /// logged in ([`Misuse::MissingCapability`]); while the login is unanswered the caller
    /// may guess, and a server without it answers BAD.
    pub fn select_condstore(&mut self, mailbox: &MailboxName) -> Result<CommandId, Error> {
        if self.lacks(Capability::CondStore) && self.state != State::NotAuthenticated {
            return Err(Misuse::MissingCapability {
                command: "SELECT (CONDSTORE)",
                capability: "CONDSTORE",
            }
            .into());
        }
        self.select_or_examine(mailbox, false, vec![t::command::SelectParameter::CondStore])
    }

    /// `EXAMINE mailbox` (read-only).
    pub fn examine(&mut self, mailbox: &MailboxName) -> Result<CommandId, Error> {
        self.select_or_examine(mailbox, true, Vec::new())
    }

    fn select_or_examine(
        &mut self,
        mailbox: &MailboxName,
        examine: bool,
        parameters: Vec<t::command::SelectParameter>,
    ) -> Result<CommandId, Error> {
        let (kind, name) = if examine {
            (Kind::Examine, "EXAMINE")
        } else {
            (Kind::Select, "SELECT")
        };
        self.check(name, &[Self::authed])?;
        let mb = convert::mailbox_to_wire(mailbox, name)?;
        let body = if examine {
            CommandBody::Examine {
                mailbox: mb,
                parameters,
            }
        } else {
            CommandBody::Select {
                mailbox: mb,
                parameters,
            }
        };
        let id = self.push_codec(
            kind,
            body,
            Acc::Select(SelectedMailbox::default()),
            Some(mailbox.clone()),
            false,
        )?;
        self.projected = State::Selected { read_only: examine };
        Ok(id)
    }

    /// `UNSELECT` (RFC 3691): leave the mailbox without expunging.
    pub fn unselect(&mut self) -> Result<CommandId, Error> {
        self.check("UNSELECT", &[Self::selected])?;
        let id = self.push_codec(
            Kind::Unselect,
            CommandBody::Unselect,
            Acc::None,
            None,
            false,
        )?;
        self.projected = State::Authenticated;
        Ok(id)
    }

    /// `CLOSE`: leave the mailbox, expunging `\Deleted` messages (all of them: prefer
    /// UID EXPUNGE + UNSELECT when other clients' deletions must be spared).
    pub fn close(&mut self) -> Result<CommandId, Error> {
        self.check("CLOSE", &[Self::selected])?;
        let acc = Acc::Expunge {
            uids: Vec::new(),
            unmapped: 0,
            copy_uid: None,
        };
        let id = self.push_codec(Kind::Close, CommandBody::Close, acc, None, false)?;
        self.projected = State::Authenticated;
        Ok(id)
    }

    /// `LIST reference pattern`.
    pub fn list(&mut self, reference: &str, pattern: &str) -> Result<CommandId, Error> {
        self.check("LIST", &[Self::authed])?;
        let body = CommandBody::list(reference, pattern).map_err(|_| {
            to_static_err(Misuse::InvalidArgument {
                command: "LIST",
                reason: format!("reference {reference:?} or pattern {pattern:?}"),
            })
        })?;
        let id = self.push_codec(Kind::List, body, Acc::List(Vec::new()), None, false)?;
        self.set_route(Route {
            list: Some((reference.to_owned(), pattern.to_owned())),
            ..Route::default()
        });
        Ok(id)
    }

    /// `NAMESPACE` (RFC 2342).
    pub fn namespace(&mut self) -> Result<CommandId, Error> {
        self.check("NAMESPACE", &[Self::authed])?;
        self.push_codec(
            Kind::Namespace,
            CommandBody::Namespace,
            Acc::Namespace(Namespaces::default()),
            None,
            false,
        )
    }

    /// `STATUS mailbox (items)`. Several may be pipelined in one round trip.
    pub fn status(
        &mut self,
        mailbox: &MailboxName,
        items: &[StatusAttr],
    ) -> Result<CommandId, Error> {
        self.check("STATUS", &[Self::authed])?;
        if items.is_empty() {
            return Err(Misuse::InvalidArgument {
                command: "STATUS",
                reason: "no items".into(),
            }
            .into());
        }
        let mb = convert::mailbox_to_wire(mailbox, "STATUS")?;
        let names: Vec<_> = items.iter().map(|a| convert::status_attr(*a)).collect();
        let body = CommandBody::Status {
            mailbox: mb,
            item_names: names.into(),
        };
        let acc = Acc::Status(MailboxStatus {
            mailbox: Some(mailbox.clone()),
            ..MailboxStatus::default()
        });
        self.push_codec(Kind::Status, body, acc, Some(mailbox.clone()), false)
    }

    /// `CREATE mailbox`.
    pub fn create(&mut self, mailbox: &MailboxName) -> Result<CommandId, Error> {
        self.check("CREATE", &[Self::authed])?;
        let mb = convert::mailbox_to_wire(mailbox, "CREATE")?;
        self.push_codec(
            Kind::Create,
            CommandBody::Create { mailbox: mb },
            Acc::None,
            None,
            false,
        )
    }

    /// `APPEND mailbox (flags) {n}`: the message is shared, not copied, and streamed out in
    /// chunks of `transmit_chunk`. Uses LITERAL+ (or LITERAL- up to 4096 bytes) when offered,
    /// else a synchronising literal; a NO/BAD instead of `+` completes the command.
    /// The server sets the internal date; see [`append_dated`](Self::append_dated).
    pub fn append(
        &mut self,
        mailbox: &MailboxName,
        flags: &[Flag],
        message: Arc<[u8]>,
    ) -> Result<CommandId, Error> {
        self.append_dated(mailbox, flags, None, message)
    }

    /// `APPEND mailbox (flags) "dd-Mon-yyyy hh:mm:ss +0000" {n}` (RFC 3501 §6.3.11): like
    /// [`append`](Self::append), with `date` (Unix seconds, sent as UTC) as the message's
    /// internal date; `None` sends no date-time (the server uses its clock). A date before
    /// 1970 or after 9999 is [`Misuse::InvalidArgument`] and nothing is sent.
    pub fn append_dated(
        &mut self,
        mailbox: &MailboxName,
        flags: &[Flag],
        date: Option<i64>,
        message: Arc<[u8]>,
    ) -> Result<CommandId, Error> {
        self.check("APPEND", &[Self::authed])?;
        let date_time = match date {
            None => None,
            Some(secs) => Some(append_date_time(secs).ok_or_else(|| {
                to_static_err(Misuse::InvalidArgument {
                    command: "APPEND",
                    reason: format!(
                        "internal date {secs} outside 1970-01-01..9999-12-31 (Unix seconds)"
                    ),
                })
            })?),
        };
        if message.contains(&0) {
            return Err(Misuse::InvalidArgument {
                command: "APPEND",
                reason: "message contains NUL (needs BINARY, unsupported)".into(),
            }
            .into());
        }
        let len = u32::try_from(message.len()).map_err(|_| {
            to_static_err(Misuse::InvalidArgument {
                command: "APPEND",
                reason: "message larger than 4 GiB".into(),
            })
        })?;
        let non_sync = self.config.use_non_sync_literals
            && (self.offers(Capability::LiteralPlus)
                || (self.offers(Capability::LiteralMinus) && len <= 4096));
        let mb = convert::mailbox_to_wire(mailbox, "APPEND")?;
        let fl: Result<Vec<_>, Misuse> = flags
            .iter()
            .map(|f| convert::flag_to_wire(f, "APPEND"))
            .collect();
        let mut placeholder = t::core::Literal::try_from(&b"x"[..]).map_err(|_| {
            to_static_err(Misuse::InvalidArgument {
                command: "APPEND",
                reason: "literal".into(),
            })
        })?;
        if non_sync {
            placeholder = placeholder.into_non_sync();
        }
        let body = CommandBody::Append {
            mailbox: mb,
            flags: fl?,
            date: None,
            message: t::extensions::binary::LiteralOrLiteral8::Literal(placeholder),
        };
        let tag = self.alloc_tag();
        let cmd = Command::new(tag.as_str(), body).map_err(|e| {
            to_static_err(Misuse::InvalidArgument {
                command: "APPEND",
                reason: format!("tag: {e}"),
            })
        })?;
        let frags: Vec<Fragment> = CommandCodec::default().encode(&cmd).collect();
        let last_lit = frags
            .iter()
            .rposition(|f| matches!(f, Fragment::Literal { .. }))
            .unwrap_or(usize::MAX);
        let mut pieces = VecDeque::new();
        for (i, frag) in frags.into_iter().enumerate() {
            match frag {
                Fragment::Line { mut data } => {
                    if i + 1 == last_lit
                        && let Some(open) = data.iter().rposition(|b| *b == b'{')
                    {
                        data.truncate(open);
                        if let Some(dt) = &date_time {
                            data.extend_from_slice(dt.as_bytes());
                            data.push(b' ');
                        }
                        let plus = if non_sync { "+" } else { "" };
                        data.extend_from_slice(format!("{{{len}{plus}}}\r\n").as_bytes());
                    }
                    pieces.push_back(Piece::Bytes(data));
                }
                Fragment::Literal { data, mode } => {
                    if mode == LiteralMode::Sync {
                        pieces.push_back(Piece::Wait);
                    }
                    if i == last_lit {
                        if !message.is_empty() {
                            pieces.push_back(Piece::Shared(Arc::clone(&message), 0));
                        }
                    } else {
                        pieces.push_back(Piece::Bytes(data));
                    }
                }
            }
        }
        Ok(self.push_pieces(Kind::Append, tag, pieces, Acc::None, None, None))
    }

    /// `UID SEARCH keys` (keys AND together). Pipeline it with `uid_fetch` for one round trip.
    pub fn uid_search(&mut self, keys: &[SearchKey]) -> Result<CommandId, Error> {
        self.check("UID SEARCH", &[Self::selected])?;
        let keys: Result<Vec<_>, Misuse> = keys
            .iter()
            .map(|k| convert::search_key(k, "UID SEARCH"))
            .collect();
        let keys = Vec1::try_from(keys?).map_err(|_| {
            to_static_err(Misuse::InvalidArgument {
                command: "UID SEARCH",
                reason: "no search keys".into(),
            })
        })?;
        let body = CommandBody::search(None, keys, true);
        let id = self.push_codec(Kind::Search, body, Acc::Search(Vec::new()), None, false)?;
        self.set_route(Route {
            esearch_wanted: true,
            ..Route::default()
        });
        Ok(id)
    }

    /// `UID SEARCH RETURN (SAVE) keys` (RFC 5182, SEARCHRES): the server keeps the result
    /// as `$` for the commands behind it ([`uid_fetch_saved`](Self::uid_fetch_saved)), and
    /// answers nothing untagged: the outcome is an empty [`Outcome::Search`]. Pipelined with
    /// the fetch of `$`, one round trip fetches what a search finds, whatever it finds. A
    /// failed search sets `$` to the empty set (nothing is fetched).
    ///
    /// Misuse (nothing is sent): `SEARCHRES` known to be missing
    /// ([`Misuse::MissingCapability`]); while the capabilities are unknown, or only the
    /// greeting's are known (behind a pipelined login), it is tried.
    ///
    /// [`Outcome::Search`]: crate::Outcome::Search
    pub fn uid_search_save(&mut self, keys: &[SearchKey]) -> Result<CommandId, Error> {
        const COMMAND: &str = "UID SEARCH RETURN (SAVE)";
        self.check(COMMAND, &[Self::selected])?;
        self.require_searchres(COMMAND)?;
        let id = self.uid_search(keys)?;
        if let Some(p) = self.pending.back_mut() {
            insert_after_verb(&mut p.pieces, &p.tag, "UID SEARCH ", "RETURN (SAVE) ");
        }
        self.set_route(Route {
            saved: true,
            ..Route::default()
        });
        Ok(id)
    }

    /// `UID FETCH $ (UID items)` (RFC 5182): the messages the last
    /// [`uid_search_save`](Self::uid_search_save) found, as [`uid_fetch`](Self::uid_fetch)
    /// answers them. Misuse as for `uid_search_save`.
    pub fn uid_fetch_saved(&mut self, items: &[FetchAttr]) -> Result<CommandId, Error> {
        const COMMAND: &str = "UID FETCH $";
        self.check(COMMAND, &[Self::selected])?;
        self.require_searchres(COMMAND)?;
        // Encoded with a placeholder set, then `$` put in its place (imap-codec has no `$`).
        let placeholder = UidRange::Set(imapvm_types::UidSet::single(imapvm_types::Uid::MIN));
        let id = self.push_uid_fetch(&placeholder, items, None, false)?;
        if let Some(p) = self.pending.back_mut() {
            let prefix = format!("{} UID FETCH 1 ", p.tag);
            if let Some(Piece::Bytes(b)) = p.pieces.front_mut()
                && b.starts_with(prefix.as_bytes())
            {
                let at = prefix.len() - 2;
                b[at] = b'$';
            }
            p.route.uids = Some(UidRange::All);
        }
        Ok(id)
    }

    /// Refuses SEARCHRES where the server is known to lack it. Behind a login not answered
    /// yet the list known is the greeting's, which need not name what a logged-in session
    /// offers: then the command is tried.
    fn require_searchres(&self, command: &'static str) -> Result<(), Error> {
        if self.lacks(Capability::SearchRes) && self.state != State::NotAuthenticated {
            return Err(Misuse::MissingCapability {
                command,
                capability: "SEARCHRES",
            }
            .into());
        }
        Ok(())
    }

    /// `UID FETCH set (UID items)`: typed per-UID results with raw section bytes.
    pub fn uid_fetch(&mut self, uids: &UidRange, items: &[FetchAttr]) -> Result<CommandId, Error> {
        self.check("UID FETCH", &[Self::selected])?;
        self.push_uid_fetch(uids, items, None, false)
    }

    /// `UID FETCH set (UID items) (CHANGEDSINCE n [VANISHED])` (RFC 7162 §3.1.4.1, §3.2.6):
    /// only the messages of `uids` whose MODSEQ is above `changed_since`, and with `vanished`
    /// also the UIDs of `uids` expunged since then. A reconnect resync costs O(changes).
    ///
    /// The outcome is [`Outcome::FetchChanged`]: the messages (with MODSEQ) and the
    /// `* VANISHED (EARLIER)` UIDs, which reach the caller only there (not as
    /// [`Unsolicited::Vanished`]). A plain `* VANISHED` (a message expunged meanwhile) stays an
    /// unsolicited event, as always.
    ///
    /// Misuse (nothing is sent): `changed_since` 0 ([`Misuse::InvalidArgument`]; mod-sequences
    /// start at 1), `CONDSTORE` known to be missing ([`Misuse::MissingCapability`]), `vanished`
    /// before `ENABLE QRESYNC` succeeded ([`Misuse::NotEnabled`], see
    /// [`qresync_enabled`](Self::qresync_enabled)).
    ///
    /// [`Outcome::FetchChanged`]: crate::Outcome::FetchChanged
    /// [`Unsolicited::Vanished`]: crate::Unsolicited::Vanished
    pub fn uid_fetch_changed_since(
        &mut self,
        uids: &UidRange,
        items: &[FetchAttr],
        changed_since: u64,
        vanished: bool,
    ) -> Result<CommandId, Error> {
        const COMMAND: &str = "UID FETCH";
        self.check(COMMAND, &[Self::selected])?;
        let since = std::num::NonZeroU64::new(changed_since).ok_or_else(|| {
            to_static_err(Misuse::InvalidArgument {
                command: COMMAND,
                reason: "CHANGEDSINCE 0: mod-sequences start at 1".into(),
            })
        })?;
        if self.lacks(Capability::CondStore) {
            return Err(Misuse::MissingCapability {
                command: COMMAND,
                capability: "CONDSTORE",
            }
            .into());
        }
        if vanished && !self.qresync_enabled() {
            return Err(Misuse::NotEnabled {
                command: "UID FETCH (VANISHED)",
                capability: "QRESYNC",
            }
            .into());
        }
        self.push_uid_fetch(uids, items, Some(since), vanished)
    }

    fn push_uid_fetch(
        &mut self,
        uids: &UidRange,
        items: &[FetchAttr],
        changed_since: Option<std::num::NonZeroU64>,
        vanished: bool,
    ) -> Result<CommandId, Error> {
        let seq = convert::uid_sequence(uids, "UID FETCH")?;
        let mut names = vec![t::fetch::MessageDataItemName::Uid];
        for a in items {
            names.push(convert::fetch_attr(a, "UID FETCH")?);
        }
        let mut modifiers = Vec::new();
        if let Some(since) = changed_since {
            modifiers.push(t::command::FetchModifier::ChangedSince(since));
            if vanished {
                modifiers.push(t::command::FetchModifier::Vanished);
            }
        }
        let body = CommandBody::Fetch {
            sequence_set: seq,
            macro_or_item_names: t::fetch::MacroOrMessageDataItemNames::MessageDataItemNames(names),
            uid: true,
            modifiers,
        };
        let acc = Acc::Fetch {
            messages: BTreeMap::new(),
            vanished: Vec::new(),
        };
        let id = self.push_codec(Kind::Fetch, body, acc, None, false)?;
        self.set_route(Route {
            uids: Some(uids.clone()),
            items: items.to_vec(),
            changed_since: changed_since.is_some(),
            vanished: changed_since.is_some() && vanished,
            ..Route::default()
        });
        Ok(id)
    }

    /// `UID STORE set ±FLAGS[.SILENT] (flags)`.
    pub fn uid_store(
        &mut self,
        uids: &UidRange,
        mode: StoreMode,
        flags: &[Flag],
        silent: bool,
    ) -> Result<CommandId, Error> {
        self.check("UID STORE", &[Self::selected])?;
        let seq = convert::uid_sequence(uids, "UID STORE")?;
        let fl: Result<Vec<_>, Misuse> = flags
            .iter()
            .map(|f| convert::flag_to_wire(f, "UID STORE"))
            .collect();
        let kind = match mode {
            StoreMode::Add => t::flag::StoreType::Add,
            StoreMode::Remove => t::flag::StoreType::Remove,
            StoreMode::Replace => t::flag::StoreType::Replace,
        };
        let resp = if silent {
            t::flag::StoreResponse::Silent
        } else {
            t::flag::StoreResponse::Answer
        };
        let body = CommandBody::Store {
            sequence_set: seq,
            kind,
            response: resp,
            flags: fl?,
            uid: true,
            modifiers: Vec::new(),
        };
        let id = self.push_codec(Kind::Store, body, Acc::Store(BTreeMap::new()), None, false)?;
        self.set_route(Route {
            uids: Some(uids.clone()),
            silent,
            ..Route::default()
        });
        Ok(id)
    }

    /// `UID COPY set mailbox`; COPYUID when UIDPLUS.
    pub fn uid_copy(&mut self, uids: &UidRange, to: &MailboxName) -> Result<CommandId, Error> {
        self.check("UID COPY", &[Self::selected])?;
        let seq = convert::uid_sequence(uids, "UID COPY")?;
        let mb = convert::mailbox_to_wire(to, "UID COPY")?;
        let body = CommandBody::Copy {
            sequence_set: seq,
            mailbox: mb,
            uid: true,
        };
        self.push_codec(Kind::Copy, body, Acc::Copy(None), None, false)
    }

    /// `UID MOVE set mailbox` (RFC 6851). Refused locally if MOVE is known to be missing.
    pub fn uid_move(&mut self, uids: &UidRange, to: &MailboxName) -> Result<CommandId, Error> {
        self.check("UID MOVE", &[Self::selected])?;
        if self.lacks(Capability::Move) {
            return Err(Misuse::MissingCapability {
                command: "UID MOVE",
                capability: "MOVE",
            }
            .into());
        }
        let seq = convert::uid_sequence(uids, "UID MOVE")?;
        let mb = convert::mailbox_to_wire(to, "UID MOVE")?;
        let body = CommandBody::Move {
            sequence_set: seq,
            mailbox: mb,
            uid: true,
        };
        let acc = Acc::Expunge {
            uids: Vec::new(),
            unmapped: 0,
            copy_uid: None,
        };
        let id = self.push_codec(Kind::Move, body, acc, None, false)?;
        self.set_route(Route {
            uids: Some(uids.clone()),
            ..Route::default()
        });
        Ok(id)
    }

    /// `UID EXPUNGE set` (UIDPLUS): expunges only these UIDs.
    pub fn uid_expunge(&mut self, uids: &UidRange) -> Result<CommandId, Error> {
        self.check("UID EXPUNGE", &[Self::selected])?;
        if self.lacks(Capability::UidPlus) {
            return Err(Misuse::MissingCapability {
                command: "UID EXPUNGE",
                capability: "UIDPLUS",
            }
            .into());
        }
        let seq = convert::uid_sequence(uids, "UID EXPUNGE")?;
        let acc = Acc::Expunge {
            uids: Vec::new(),
            unmapped: 0,
            copy_uid: None,
        };
        let id = self.push_codec(
            Kind::UidExpunge,
            CommandBody::ExpungeUid { sequence_set: seq },
            acc,
            None,
            false,
        )?;
        self.set_route(Route {
            uids: Some(uids.clone()),
            ..Route::default()
        });
        Ok(id)
    }

    /// `EXPUNGE`: removes *every* `\Deleted` message, other clients' too.
    pub fn expunge(&mut self) -> Result<CommandId, Error> {
        self.check("EXPUNGE", &[Self::selected])?;
        let acc = Acc::Expunge {
            uids: Vec::new(),
            unmapped: 0,
            copy_uid: None,
        };
        self.push_codec(Kind::Expunge, CommandBody::Expunge, acc, None, false)
    }

    /// `GETQUOTAROOT mailbox` (RFC 9208): every root and every resource.
    pub fn get_quota_root(&mut self, mailbox: &MailboxName) -> Result<CommandId, Error> {
        self.check("GETQUOTAROOT", &[Self::authed])?;
        let mb = convert::mailbox_to_wire(mailbox, "GETQUOTAROOT")?;
        self.push_codec(
            Kind::GetQuotaRoot,
            CommandBody::GetQuotaRoot { mailbox: mb },
            Acc::Quota(QuotaRoots::default()),
            Some(mailbox.clone()),
            false,
        )
    }

    /// `ENABLE caps` (RFC 5161), e.g. `["CONDSTORE"]`.
    pub fn enable(&mut self, capabilities: &[&str]) -> Result<CommandId, Error> {
        self.check("ENABLE", &[Self::authed])?;
        let caps: Result<Vec<_>, _> = capabilities
            .iter()
            .map(|c| t::extensions::enable::CapabilityEnable::try_from(*c))
            .collect();
        let caps = caps
            .ok()
            .and_then(|c| Vec1::try_from(c).ok())
            .ok_or_else(|| {
                to_static_err(Misuse::InvalidArgument {
                    command: "ENABLE",
                    reason: format!("{capabilities:?}"),
                })
            })?;
        self.push_codec(
            Kind::Enable,
            CommandBody::Enable { capabilities: caps },
            Acc::Enabled(Vec::new()),
            None,
            false,
        )
    }

    /// `NOTIFY <spec>` (RFC 5465); `spec` is the rest of the line, e.g.
    /// `SET STATUS (personal (MessageNew MessageExpunge FlagChange))` or `NONE`.
    /// The untagged STATUS/FETCH/EXPUNGE it causes arrive as [`Event::Unsolicited`].
    ///
    /// [`Event::Unsolicited`]: crate::Event::Unsolicited
    pub fn notify(&mut self, spec: &str) -> Result<CommandId, Error> {
        self.check("NOTIFY", &[Self::authed])?;
        if self.lacks(Capability::Notify) {
            return Err(Misuse::MissingCapability {
                command: "NOTIFY",
                capability: "NOTIFY",
            }
            .into());
        }
        if spec.is_empty()
            || spec.len() > 4096
            || !spec.bytes().all(|b| (0x20..0x7f).contains(&b))
            || spec.contains('{')
        {
            return Err(Misuse::InvalidArgument {
                command: "NOTIFY",
                reason: "spec must be printable ASCII without literals, 1..4096 bytes".into(),
            }
            .into());
        }
        let tag = self.alloc_tag();
        let line = format!("{tag} NOTIFY {spec}\r\n").into_bytes();
        Ok(self.push_pieces(
            Kind::Notify,
            tag,
            VecDeque::from([Piece::Bytes(line)]),
            Acc::None,
            None,
            None,
        ))
    }

    /// `IDLE` (RFC 2177). [`Event::IdleStarted`] follows the server's `+`; unsolicited data
    /// then flows. The core re-issues IDLE every `idle_refresh` by itself, and after
    /// [`Config::idle_silence`] without input (a liveness probe). End with
    /// [`idle_done`](Self::idle_done); the command then completes.
    ///
    /// [`Event::IdleStarted`]: crate::Event::IdleStarted
    /// [`Config::idle_silence`]: crate::Config::idle_silence
    pub fn idle(&mut self) -> Result<CommandId, Error> {
        self.check("IDLE", &[Self::authed])?;
        if self.lacks(Capability::Idle) {
            return Err(Misuse::MissingCapability {
                command: "IDLE",
                capability: "IDLE",
            }
            .into());
        }
        let id = self.push_codec(Kind::Idle, CommandBody::Idle, Acc::None, None, false)?;
        let tag = self
            .pending
            .back()
            .map(|p| p.tag.clone())
            .unwrap_or_default();
        self.idle = Some(IdleState {
            id,
            tag,
            accepted_at: None,
            done_sent: false,
            stop: false,
            refreshing: false,
        });
        Ok(id)
    }

    /// Set (or turn off with `None` or zero) [`Config::idle_silence`] on a live connection,
    /// e.g. once the runtime decides to IDLE on a connection opened for other work. Applies
    /// at once, to a running IDLE too: its silence is counted from the last input.
    ///
    /// [`Config::idle_silence`]: crate::Config::idle_silence
    pub fn set_idle_silence(&mut self, silence: Option<Duration>) {
        self.config.idle_silence = silence;
    }

    /// End IDLE (`DONE`). If the `+` has not arrived yet, DONE follows it.
    pub fn idle_done(&mut self, now: Instant) -> Result<(), Error> {
        self.sticky()?;
        let Some(idle) = &mut self.idle else {
            return Err(Misuse::NotIdling.into());
        };
        if idle.stop {
            return Ok(());
        }
        idle.stop = true;
        if idle.accepted_at.is_some() && !idle.done_sent {
            idle.done_sent = true;
            let tag = idle.tag.clone();
            self.urgent.push_back(b"DONE\r\n".to_vec());
            self.set_deadline(&tag, now);
        }
        Ok(())
    }
}

/// Latest instant APPEND can carry: 9999-12-31 23:59:59 UTC (four-digit years).
const LAST_APPEND_DATE: i64 = 253_402_300_799;

/// `"dd-Mon-yyyy hh:mm:ss +0000"` (RFC 3501 date-time, UTC, day as 2DIGIT) for Unix seconds
/// in `0..=LAST_APPEND_DATE`; `None` outside.
fn append_date_time(unix_seconds: i64) -> Option<String> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    if !(0..=LAST_APPEND_DATE).contains(&unix_seconds) {
        return None;
    }
    let days = unix_seconds / 86_400;
    let secs = unix_seconds % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's days_from_civil inverse).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let name = MONTHS.get(usize::try_from(month - 1).ok()?)?;
    Some(format!(
        "\"{day:02}-{name}-{year:04} {:02}:{:02}:{:02} +0000\"",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    ))
}

fn base64_encode(raw: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        assert_eq!(base64_encode(b""), "");
        assert_eq!(base64_encode(b"f"), "Zg==");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert_eq!(base64_encode(b"foo"), "Zm9v");
        assert_eq!(base64_encode(b"foob"), "Zm9vYg==");
        assert_eq!(
            base64_encode(b"alice\0vmmaster\0masterpw"),
            "YWxpY2UAdm1tYXN0ZXIAbWFzdGVycHc="
        );
    }
}
