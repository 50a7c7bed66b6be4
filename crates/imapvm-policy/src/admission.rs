//! Whether a deposit may be stored: quota resources, `maxmsg`, `minsecs`/`maxsecs`/`maxgreet`.
//!
//! Reference: `docs/reference/asterisk-imap-behaviour.md` §4.3 step 3
//! (`imap_check_limits`), §4.10 (quota: Asterisk lets the **last** resource
//! win; here every resource is checked), §5.4 (`maxmsg`, `minsecs`,
//! `maxsecs`), §6 #32 (Asterisk refuses greetings when the message box is
//! full; here it does not).

use std::collections::HashMap;
use std::fmt;

use imapvm_types::ResponseCode;

use crate::count::MwiState;

/// A quota resource (RFC 9208 §5).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum QuotaResourceName {
    /// `STORAGE`, in units of 1024 octets.
    Storage,
    /// `MESSAGE`, a number of messages.
    Message,
    /// Any other resource; reported, not checked.
    Other(String),
}

impl QuotaResourceName {
    /// The resource for an atom from a `QUOTA` response (ASCII case-insensitive).
    pub fn from_atom(atom: &str) -> QuotaResourceName {
        if atom.eq_ignore_ascii_case("STORAGE") {
            QuotaResourceName::Storage
        } else if atom.eq_ignore_ascii_case("MESSAGE") {
            QuotaResourceName::Message
        } else {
            QuotaResourceName::Other(atom.chars().take(64).collect())
        }
    }
}

/// One `(resource usage limit)` triple of a `QUOTA` response.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QuotaResource {
    /// Which resource.
    pub name: QuotaResourceName,
    /// Current usage.
    pub usage: u64,
    /// Limit. 0 means "no limit checked", as in Asterisk (§4.10).
    pub limit: u64,
}

/// What a deposit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DepositKind {
    /// A voicemail message into `imapfolder`.
    Voicemail,
    /// A greeting into the greetings folder.
    Greeting,
}

/// The configured limits (`voicemail.conf`; 0 = none, except `maxmsg`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limits {
    /// `maxmsg`: most messages in `imapfolder` (default 100; 0 = greetings only).
    pub maxmsg: u32,
    /// `minsecs`: shortest voicemail kept.
    pub minsecs: u32,
    /// `maxsecs`: longest voicemail.
    pub maxsecs: u32,
    /// `maxgreet`: longest greeting.
    pub maxgreet: u32,
}

impl Default for Limits {
    /// Asterisk's defaults: `maxmsg=100`, no duration limits.
    fn default() -> Limits {
        Limits {
            maxmsg: 100,
            minsecs: 0,
            maxsecs: 0,
            maxgreet: 0,
        }
    }
}

impl Limits {
    /// The limits a recording is stored under once its caller was admitted before the beep
    /// ([`admit_caller`]): quota only. The message the caller has spoken is not refused
    /// for `maxmsg` (another caller may have taken the last slot meanwhile: the box then
    /// holds one message over `maxmsg`, where Asterisk's IMAP storage loses the message),
    /// nor for its length (the recorder enforced `maxsecs`, the call flow `minsecs`).
    pub fn after_admission(self) -> Limits {
        Limits {
            maxmsg: u32::MAX,
            minsecs: 0,
            maxsecs: 0,
            ..self
        }
    }

    /// The limits a forward destination is checked against: quota and `maxmsg` only, no
    /// duration limits, as Asterisk's `forward_message` checks (§4.8).
    pub fn for_forward(self) -> Limits {
        Limits {
            minsecs: 0,
            maxsecs: 0,
            ..self
        }
    }
}

/// Quota promised to copies admitted but not stored yet. A multi-recipient deposit admits
/// every copy before the first APPEND, so each admission adds what was promised to the
/// copies before it on the same quota root: two copies cannot both squeeze into the last
/// kilobytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuotaLedger {
    /// Per quota root: KiB and messages promised.
    promised: HashMap<String, (u64, u64)>,
}

impl QuotaLedger {
    /// `quota` (resources with their root, as `GETQUOTAROOT` reports them), each with what
    /// is promised on its root added to its usage.
    pub fn adjusted(&self, quota: &[(String, QuotaResource)]) -> Vec<QuotaResource> {
        quota
            .iter()
            .map(|(root, r)| {
                let (kb, msgs) = self.promised.get(root).copied().unwrap_or((0, 0));
                let extra = match r.name {
                    QuotaResourceName::Storage => kb,
                    QuotaResourceName::Message => msgs,
                    QuotaResourceName::Other(_) => 0,
                };
                QuotaResource {
                    name: r.name.clone(),
                    usage: r.usage.saturating_add(extra),
                    limit: r.limit,
                }
            })
            .collect()
    }

    /// Records one message of `size` octets as promised on every root of `quota`.
    pub fn promise(&mut self, quota: &[(String, QuotaResource)], size: u64) {
        let mut roots: Vec<&String> = quota.iter().map(|(r, _)| r).collect();
        roots.dedup();
        for root in roots {
            let e = self.promised.entry(root.clone()).or_default();
            e.0 = e.0.saturating_add(size.div_ceil(1024));
            e.1 = e.1.saturating_add(1);
        }
    }
}

/// The deposit to judge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Deposit {
    /// Voicemail or greeting.
    pub kind: DepositKind,
    /// Size of the message to APPEND, in octets.
    pub size_bytes: u64,
    /// Recording length in whole seconds.
    pub duration_secs: u32,
}

/// Why a deposit is refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Refusal {
    /// The recording is shorter than `minsecs`.
    TooShort {
        /// Its duration.
        secs: u32,
        /// `minsecs`.
        minsecs: u32,
    },
    /// The recording is longer than `maxsecs` (voicemail) or `maxgreet` (greeting).
    TooLong {
        /// Its duration.
        secs: u32,
        /// The limit.
        max: u32,
    },
    /// `maxmsg` reached (counting deposits in progress).
    MailboxFull {
        /// Messages in `imapfolder`.
        count: u32,
        /// Deposits in progress.
        in_progress: u32,
        /// `maxmsg`.
        maxmsg: u32,
    },
    /// The STORAGE quota would be exceeded.
    OverQuotaStorage {
        /// By how many KiB the deposit would exceed the limit.
        over_by_kb: u64,
        /// The limit in KiB.
        limit_kb: u64,
    },
    /// The MESSAGE quota is reached.
    OverQuotaMessages {
        /// Messages counted by the server.
        usage: u64,
        /// The limit.
        limit: u64,
    },
    /// The mailbox could not be counted, so `maxmsg` cannot be checked.
    CountUnknown,
}

impl Refusal {
    /// The Asterisk prompt a caller hears, where Asterisk has one.
    pub const fn prompt(&self) -> Option<&'static str> {
        match self {
            Refusal::MailboxFull { .. }
            | Refusal::OverQuotaStorage { .. }
            | Refusal::OverQuotaMessages { .. } => Some("vm-mailboxfull"),
            _ => None,
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::TooShort { secs, minsecs } => {
                write!(f, "too short ({secs} s, minsecs is {minsecs} s)")
            }
            Refusal::TooLong { secs, max } => write!(f, "too long ({secs} s, limit is {max} s)"),
            Refusal::MailboxFull {
                count,
                in_progress,
                maxmsg,
            } => {
                if *maxmsg == 0 {
                    write!(f, "mailbox full (maxmsg=0: greetings only)")
                } else if *in_progress > 0 {
                    write!(
                        f,
                        "mailbox full ({count} messages + {in_progress} being left, maxmsg {maxmsg})"
                    )
                } else {
                    write!(f, "mailbox full ({count} of {maxmsg} messages)")
                }
            }
            Refusal::OverQuotaStorage {
                over_by_kb,
                limit_kb,
            } => write!(f, "over quota by {over_by_kb} KB (limit {limit_kb} KB)"),
            Refusal::OverQuotaMessages { usage, limit } => {
                write!(f, "over quota: {usage} of {limit} messages")
            }
            Refusal::CountUnknown => write!(f, "unable to count messages"),
        }
    }
}

/// Whether a server's refusal of an APPEND (`code` and `text` of its tagged `NO`) means
/// "mailbox full", for which Asterisk plays `vm-mailboxfull`.
///
/// The servers say it three ways (`docs/compatibility.md`):
/// * Dovecot: `NO [OVERQUOTA] Quota exceeded (mailbox full)` (RFC 9208's code);
/// * Cyrus: `NO Over quota`, with no code at all;
/// * Courier: `NO [ALERT] You exceeded your mail quota`.
///
/// So: `OVERQUOTA` and RFC 5530's `LIMIT` (the only limit an APPEND can run into that is
/// not `TOOBIG`'s size is the mailbox's) always mean full; no code, `ALERT` or a code this
/// crate does not know mean full when the text speaks of a quota (ASCII case-insensitive);
/// any other known code (`TRYCREATE`, `TOOBIG`, `READ-ONLY`...) says what else went wrong.
pub fn server_says_over_quota(code: Option<&ResponseCode>, text: &str) -> bool {
    let mentions_quota = || text.to_ascii_lowercase().contains("quota");
    match code {
        Some(ResponseCode::OverQuota | ResponseCode::LimitCode) => true,
        None | Some(ResponseCode::Alert | ResponseCode::Other(_)) => mentions_quota(),
        Some(_) => false,
    }
}

/// The admission decision.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AdmissionVerdict {
    /// Store it.
    Admit,
    /// Do not store it. Every failed check is listed, most specific to the
    /// caller first (duration, then `maxmsg`, then quota).
    Refuse(Vec<Refusal>),
}

impl AdmissionVerdict {
    /// Whether the deposit may be stored.
    pub fn is_admitted(&self) -> bool {
        matches!(self, AdmissionVerdict::Admit)
    }

    /// The first reason, for a one-line message or a prompt.
    pub fn primary(&self) -> Option<&Refusal> {
        match self {
            AdmissionVerdict::Admit => None,
            AdmissionVerdict::Refuse(reasons) => reasons.first(),
        }
    }
}

/// Judges a caller before anything is recorded, as Asterisk's `leave_voicemail` does
/// before the beep (and `imap_check_limits`): refused when `new + urgent + old ≥ maxmsg`
/// (so `maxmsg=0` takes no message), or when a quota resource is used up
/// (`usage ≥ limit`; a limit of 0 is not checked). An unknown count refuses with
/// [`Refusal::CountUnknown`]: the caller of this function decides whether to take the
/// message anyway (the phone service does, into its outbox).
pub fn admit_caller(limits: Limits, count: MwiState, quota: &[QuotaResource]) -> AdmissionVerdict {
    let mut reasons = Vec::new();
    match count {
        MwiState::Unknown => reasons.push(Refusal::CountUnknown),
        MwiState::Known(c) if c.total() >= limits.maxmsg => reasons.push(Refusal::MailboxFull {
            count: c.total(),
            in_progress: 0,
            maxmsg: limits.maxmsg,
        }),
        MwiState::Known(_) => {}
    }
    for r in quota {
        if r.limit == 0 || r.usage < r.limit {
            continue;
        }
        match r.name {
            QuotaResourceName::Storage => reasons.push(Refusal::OverQuotaStorage {
                over_by_kb: r.usage - r.limit,
                limit_kb: r.limit,
            }),
            QuotaResourceName::Message => reasons.push(Refusal::OverQuotaMessages {
                usage: r.usage,
                limit: r.limit,
            }),
            QuotaResourceName::Other(_) => {}
        }
    }
    if reasons.is_empty() {
        AdmissionVerdict::Admit
    } else {
        AdmissionVerdict::Refuse(reasons)
    }
}

/// Judges a deposit.
///
/// * Voicemail: `minsecs` ≤ duration ≤ `maxsecs` (0 = no limit); `count +
///   in_progress < maxmsg` (count = new + urgent + old of `imapfolder`, §4.3).
/// * Greeting: duration ≤ `maxgreet`; `maxmsg` and `minsecs` do not apply
///   (a full message box does not block greetings, unlike Asterisk §6 #32),
///   and `count` may be unknown.
/// * Both: every quota resource is checked (`quota` is the resources of all
///   quota roots of the target mailbox; empty when the server has no
///   QUOTA): STORAGE refuses when `usage + size` (KiB, rounded up) exceeds
///   the limit, MESSAGE when `usage + 1` exceeds it. A limit of 0 is not
///   checked (Asterisk §4.10).
pub fn admit(
    deposit: Deposit,
    limits: Limits,
    count: MwiState,
    in_progress: u32,
    quota: &[QuotaResource],
) -> AdmissionVerdict {
    let mut reasons: Vec<Refusal> = Vec::new();
    match deposit.kind {
        DepositKind::Voicemail => {
            if limits.minsecs > 0 && deposit.duration_secs < limits.minsecs {
                reasons.push(Refusal::TooShort {
                    secs: deposit.duration_secs,
                    minsecs: limits.minsecs,
                });
            }
            if limits.maxsecs > 0 && deposit.duration_secs > limits.maxsecs {
                reasons.push(Refusal::TooLong {
                    secs: deposit.duration_secs,
                    max: limits.maxsecs,
                });
            }
            match count {
                MwiState::Unknown => reasons.push(Refusal::CountUnknown),
                MwiState::Known(c) => {
                    let total = c.total();
                    if u64::from(total) + u64::from(in_progress) >= u64::from(limits.maxmsg) {
                        reasons.push(Refusal::MailboxFull {
                            count: total,
                            in_progress,
                            maxmsg: limits.maxmsg,
                        });
                    }
                }
            }
        }
        DepositKind::Greeting => {
            if limits.maxgreet > 0 && deposit.duration_secs > limits.maxgreet {
                reasons.push(Refusal::TooLong {
                    secs: deposit.duration_secs,
                    max: limits.maxgreet,
                });
            }
        }
    }
    let size_kb = deposit.size_bytes.div_ceil(1024);
    for resource in quota {
        if resource.limit == 0 {
            continue;
        }
        match resource.name {
            QuotaResourceName::Storage => {
                let after = resource.usage.saturating_add(size_kb);
                if after > resource.limit {
                    reasons.push(Refusal::OverQuotaStorage {
                        over_by_kb: after - resource.limit,
                        limit_kb: resource.limit,
                    });
                }
            }
            QuotaResourceName::Message => {
                if resource.usage.saturating_add(1) > resource.limit {
                    reasons.push(Refusal::OverQuotaMessages {
                        usage: resource.usage,
                        limit: resource.limit,
                    });
                }
            }
            QuotaResourceName::Other(_) => {}
        }
    }
    if reasons.is_empty() {
        AdmissionVerdict::Admit
    } else {
        AdmissionVerdict::Refuse(reasons)
    }
}

/// Whether a voicemail deposit must count again before [`admit`]: the server reported
/// `changes` (EXISTS, EXPUNGE, ...) while the admission count ran, so the count (`counted`
/// messages) may be off by up to that many, and that could decide `maxmsg`. Far from the
/// limit the stale count can only shift the informational message number, as Asterisk's own
/// can; the recount after the APPEND is exact either way.
pub fn recount_before_admission(counted: u32, changes: u64, limits: Limits) -> bool {
    changes > 0 && u64::from(counted) + changes + 1 >= u64::from(limits.maxmsg)
}
