//! The transcript harness: a call against a scripted binding.
//!
//! A transcript is a text file. Header lines set the call up; then `<` lines are the
//! actions the call must issue (exactly, in order; rendered with `Display`, ids left out)
//! and `>` lines are the inputs fed to it (ids implied: a channel answer answers the one
//! outstanding channel action, a store reply the outstanding op of its kind).
//!
//! ```text
//! # a comment
//! settings review=yes operator=yes minsecs=2 maxsecs=180
//! dialplan a o exitcontext=vm-exit
//! call 1234@default&5678@default,ub      (the AGI arguments, split at `,`)
//! recording msg                          (optional; the default is `msg`)
//! < store admit 1234@default
//! > store admit admitted                 (admitted | full-maxmsg | full-quota | unknown | unavailable)
//! > store greeting temp none             (temp | busy | unavail | greet, then none | FILE)
//! > done                                 (a prompt ended; `> done #` when a key cut it short)
//! > digit 1 / > timeout                  (a wait's answer)
//! > recorded 7s #                        (# | 0 | maxlength | silence | hangup | failed)
//! > store deposit stored uid=42          (stored [uid=N] | queued | failed)
//! > store discard
//! > hangup
//! ```
//!
//! A VoiceMailMain transcript (files under `tests/transcripts/main/`) starts with `main`
//! instead of `call`, and may declare the messages its store replies name:
//!
//! ```text
//! main 1234@default                      (the AGI arguments; `main` alone: none)
//! named pin                              (the binding's lookup of the named box: pin | nopin | unknown)
//! caller 5551234                         (the caller-ID number)
//! session saycid=yes                     (settings of the granted session; default: `settings`)
//! msg 21 urgent from=5551234 name=Alice dur=125 at=1796500000 seen cat=custom/cat
//! > store lookup pin                     (pin | nopin | unknown)
//! > store auth granted [new-user]        (granted [new-user] | wrong | locked 600s | unavailable)
//! > store summary urgent=21 new=31,32 old=41 [quota-full] [temp]   (or: unavailable)
//! > store list 51,52                     (or: - for none, unavailable)
//! > store fetch audio=/spool/a21 [intro=/spool/i21]   (or: gone, unavailable)
//! > store seen | expunge | forward | greeting-set | greeting-delete   [unavailable]
//! > store move done                      (done | full | gone | unavailable)
//! > store target valid [name=FILE]       (valid | unknown | full | unavailable)
//! > store password changed               (changed | refused | unavailable)
//! > timer                                (the deadline of `< timer 2s` has passed)
//! ```

use imapvm_ivr::{
    Action, ActionId, Admission, AuthReply, BoxLookup, Call, ChannelAction, DepositOutcome,
    Dialplan, Dtmf, Fetched, Flow, FullBy, Granted, GreetingKind, Input, Leave, LeaveArgs, Listing,
    Main, MainArgs, MessageInfo, Moved, PasswordChange, RecordEnd, RecordFormat, Recordings,
    Settings, SpoolName, StoreOp, StoreReply, StoreUnavailable, Summary, TargetCheck, Tick, Uid,
    UidValidity, ZoneMessages,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The wall clock of every transcript (2026-12-06 20:02:13 UTC).
pub const WALL: u64 = 1_796_587_333;
/// The UIDVALIDITY of every folder in the transcripts.
pub const UV: u32 = 7;

/// What a store reply answers: the op's name ([`StoreOp::name`]), and for a greeting
/// which one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreTarget {
    pub name: &'static str,
    pub greeting: Option<GreetingKind>,
}

impl StoreTarget {
    pub fn op(name: &'static str) -> StoreTarget {
        StoreTarget {
            name,
            greeting: None,
        }
    }

    pub fn matches(self, op: &StoreOp) -> bool {
        op.name() == self.name
            && match (self.greeting, op) {
                (Some(kind), StoreOp::Greeting { which, .. }) => kind == *which,
                _ => true,
            }
    }
}

/// A store reply as written, before the script's messages and settings are known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Complete as written.
    Plain(StoreReply),
    /// `summary`: UIDs of the declared messages.
    Summary {
        urgent: Vec<u32>,
        new: Vec<u32>,
        old: Vec<u32>,
        quota_full: bool,
        temp: bool,
    },
    /// `list`: UIDs of the declared messages.
    List(Vec<u32>),
    /// `auth granted`: the session settings.
    Granted { new_user: bool },
}

/// An input line, before its id is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feed {
    Done(Option<Dtmf>),
    Digit(Dtmf),
    Timeout,
    Recorded(Duration, RecordEnd),
    Hangup,
    Store(StoreTarget, Reply),
    /// The deadline passed (`handle_timeout`).
    Timer,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `<`: the next action, rendered.
    Expect { line: usize, text: String },
    /// `>`: an input.
    Feed { line: usize, feed: Feed },
}

/// Which flow a script runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Leave,
    Main,
}

#[derive(Debug, Clone)]
pub struct Script {
    pub path: PathBuf,
    pub kind: Kind,
    pub settings: Settings,
    /// The settings a granted login hands over (VoiceMailMain).
    pub session: Settings,
    pub args: Vec<String>,
    pub recording: SpoolName,
    pub named: Option<BoxLookup>,
    pub caller: Option<String>,
    pub messages: BTreeMap<u32, MessageInfo>,
    pub steps: Vec<Step>,
}

impl Script {
    pub fn feeds(&self) -> impl Iterator<Item = &Feed> {
        self.steps.iter().filter_map(|s| match s {
            Step::Feed { feed, .. } => Some(feed),
            Step::Expect { .. } => None,
        })
    }

    pub fn call(&self, tick: Tick) -> Call {
        let flow = match self.kind {
            Kind::Leave => Flow::Leave(Leave {
                args: LeaveArgs::parse(&self.args).expect("the call line parses"),
                recording: self.recording.clone(),
            }),
            Kind::Main => Flow::Main(Main {
                args: MainArgs::parse(&self.args).expect("the main line parses"),
                named: self.named,
                caller_id: self.caller.clone(),
                recordings: recordings(),
            }),
        };
        Call::new(flow, self.settings.clone(), tick)
    }

    /// A declared message (or the defaults for an undeclared UID).
    pub fn message(&self, uid: u32) -> MessageInfo {
        self.messages
            .get(&uid)
            .cloned()
            .unwrap_or_else(|| default_message(uid))
    }

    /// The reply a feed stands for.
    pub fn reply(&self, reply: &Reply) -> StoreReply {
        let uv = UidValidity::new(UV).expect("non-zero");
        let rows = |uids: &[u32]| uids.iter().map(|u| self.message(*u)).collect::<Vec<_>>();
        match reply {
            Reply::Plain(reply) => reply.clone(),
            Reply::Summary {
                urgent,
                new,
                old,
                quota_full,
                temp,
            } => StoreReply::Summary(Ok(Box::new(Summary {
                uid_validity: uv,
                urgent: rows(urgent),
                new: rows(new),
                old: rows(old),
                quota_full: *quota_full,
                temp_greeting: *temp,
            }))),
            Reply::List(uids) => StoreReply::List(Ok(Listing {
                uid_validity: uv,
                messages: rows(uids),
            })),
            Reply::Granted { new_user } => {
                StoreReply::Authenticate(AuthReply::Granted(Box::new(Granted {
                    settings: self.session.clone(),
                    new_user: *new_user,
                })))
            }
        }
    }
}

impl Script {
    /// A script without steps (for calls a property test drives).
    pub fn synthetic(kind: Kind, settings: Settings, args: Vec<String>) -> Script {
        Script {
            path: PathBuf::from("synthetic"),
            kind,
            session: settings.clone(),
            settings,
            args,
            recording: SpoolName::new("msg").expect("valid"),
            named: None,
            caller: None,
            messages: BTreeMap::new(),
            steps: Vec::new(),
        }
    }
}

/// Every action of a transcript run through.
pub fn full_run(script: &Script) -> Vec<Action> {
    let mut run = Run::new(script);
    for feed in script.feeds() {
        run.step(feed).expect("the transcript runs");
    }
    run.actions
}

/// For every transcript of `kind` and every k from 0 to its number of inputs: runs the
/// first k inputs, checks that they give the full run's actions, checks that a hangup
/// after the end changes nothing, and otherwise hands the run over:
/// `check(script, k, run, name)`. Returns how many cases ran.
pub fn every_hangup(kind: Kind, check: impl Fn(&Script, usize, Run, &str)) -> usize {
    let mut cases = 0;
    for script in all().into_iter().filter(|s| s.kind == kind) {
        let full = full_run(&script);
        for k in 0..=script.feeds().count() {
            cases += 1;
            let name = format!("{} with a hangup after input {k}", script.path.display());
            let mut run = Run::new(&script);
            for feed in script.feeds().take(k) {
                run.step(feed).expect("the transcript runs");
            }
            let before = run.actions.len();
            assert_eq!(
                run.actions,
                full[..before],
                "{name}: the prefix differs from the full run"
            );
            if run.finished() {
                // A hangup after the end is accepted and changes nothing.
                run.feed(Input::Hangup);
                assert_eq!(run.actions.len(), before, "{name}: actions after Finished");
                continue;
            }
            check(&script, k, run, &name);
        }
    }
    cases
}

/// One of `table`'s values by its word.
fn word<T: Copy>(w: &str, what: &str, table: &[(&str, T)]) -> Result<T, String> {
    table
        .iter()
        .find(|(name, _)| *name == w)
        .map(|(_, value)| *value)
        .ok_or_else(|| format!("`{w}` is not {what}"))
}

/// The recordings of every VoiceMailMain transcript.
pub fn recordings() -> Recordings {
    Recordings {
        message: SpoolName::new("rec-msg").expect("valid"),
        comment: SpoolName::new("rec-comment").expect("valid"),
        greeting: SpoolName::new("rec-greeting").expect("valid"),
    }
}

/// An undeclared message: new, not urgent, no caller, 30 s, left two hours before `WALL`.
pub fn default_message(uid: u32) -> MessageInfo {
    MessageInfo {
        uid: Uid::new(uid).expect("non-zero uid"),
        seen: false,
        urgent: false,
        origtime: Some(WALL - 7200),
        caller_id_num: String::new(),
        caller_id_name: String::new(),
        duration_secs: 30,
        category: None,
    }
}

fn uids(list: &str) -> Result<Vec<u32>, String> {
    if list == "-" || list.is_empty() {
        return Ok(Vec::new());
    }
    list.split(',')
        .map(|u| u.parse().map_err(|_| format!("bad uid `{u}`")))
        .collect()
}

fn file(word: &str) -> Result<SpoolName, String> {
    SpoolName::new(word).map_err(|e| e.to_string())
}

fn ok_or_down(words: &[&str]) -> Result<Result<(), StoreUnavailable>, String> {
    match words {
        [] | ["done"] => Ok(Ok(())),
        ["unavailable"] => Ok(Err(StoreUnavailable)),
        other => Err(format!("bad outcome {other:?}")),
    }
}

fn parse_message(words: &[&str]) -> Result<MessageInfo, String> {
    let [uid, rest @ ..] = words else {
        return Err("msg needs a uid".into());
    };
    let mut m = default_message(uid.parse().map_err(|_| format!("bad uid `{uid}`"))?);
    for word in rest {
        match word.split_once('=') {
            None if *word == "urgent" => m.urgent = true,
            None if *word == "seen" => m.seen = true,
            Some(("from", v)) => m.caller_id_num = (*v).to_owned(),
            Some(("name", v)) => m.caller_id_name = (*v).to_owned(),
            Some(("dur", v)) => m.duration_secs = number(v)?,
            Some(("at", "none")) => m.origtime = None,
            Some(("at", v)) => m.origtime = Some(v.parse().map_err(|_| format!("bad time `{v}`"))?),
            Some(("cat", v)) => m.category = Some((*v).to_owned()),
            _ => return Err(format!("unknown message fact `{word}`")),
        }
    }
    Ok(m)
}

fn set(settings: &mut Settings, k: &str, v: &str) -> Result<(), String> {
    let opt = |v: &str| (v != "-").then(|| v.to_owned());
    match k {
        "maxsecs" => settings.maxsecs = number(v)?,
        "minsecs" => settings.minsecs = number(v)?,
        "maxsilence" => settings.maxsilence = number(v)?,
        "silencethreshold" => settings.silencethreshold = number(v)?,
        "maxmsg" => settings.maxmsg = number(v)?,
        "review" => settings.review = yes(v)?,
        "operator" => settings.operator = yes(v)?,
        "leaveurgent" => settings.leaveurgent = yes(v)?,
        "format" => settings.format = RecordFormat::new(v).map_err(|e| e.to_string())?,
        "maxlogins" => settings.maxlogins = number(v)?,
        "minpassword" => settings.minpassword = number(v)?,
        "password-locked" => settings.password_locked = yes(v)?,
        "envelope" => settings.envelope = yes(v)?,
        "saycid" => settings.saycid = yes(v)?,
        "sayduration" => settings.sayduration = yes(v)?,
        "saydurationm" => settings.saydurationm = number(v)?,
        "skipms" => settings.skipms = number(v)?,
        "messagewrap" => settings.messagewrap = yes(v)?,
        "nextaftercmd" => settings.nextaftercmd = yes(v)?,
        "forcename" => settings.forcename = yes(v)?,
        "forcegreetings" => settings.forcegreetings = yes(v)?,
        "tempgreetwarn" => settings.tempgreetwarn = yes(v)?,
        "callback" => settings.callback = opt(v),
        "dialout" => settings.dialout = opt(v),
        "sendvoicemail" => settings.sendvoicemail = yes(v)?,
        "cidinternalcontexts" => {
            settings.cidinternalcontexts = v.split('|').map(str::to_owned).collect();
        }
        "forward_urgent_auto" => settings.forward_urgent_auto = yes(v)?,
        "maxgreet" => settings.maxgreet = number(v)?,
        "zone" => {
            let (timezone, format) = v
                .split_once('|')
                .ok_or_else(|| format!("zone `{v}` is not tz|format"))?;
            settings.zone = Some(ZoneMessages {
                timezone: timezone.to_owned(),
                format: format.replace('_', " "),
            });
        }
        "vm-login" => settings.login_prompt = Some(file(v)?),
        "vm-password" => settings.password_prompt = Some(file(v)?),
        "a-here" => settings.dialplan.extension_a_current = yes(v)?,
        other => return Err(format!("unknown setting `{other}`")),
    }
    Ok(())
}

fn key(word: &str) -> Result<Dtmf, String> {
    let mut chars = word.chars();
    match (chars.next().and_then(Dtmf::from_char), chars.next()) {
        (Some(k), None) => Ok(k),
        _ => Err(format!("`{word}` is not a key")),
    }
}

fn yes(value: &str) -> Result<bool, String> {
    match value {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err(format!("`{value}` is not yes/no")),
    }
}

fn number(value: &str) -> Result<u32, String> {
    value
        .parse()
        .map_err(|_| format!("`{value}` is not a number"))
}

fn duration(word: &str) -> Result<Duration, String> {
    if let Some(ms) = word.strip_suffix("ms") {
        return ms
            .parse()
            .map(Duration::from_millis)
            .map_err(|_| format!("bad duration `{word}`"));
    }
    word.strip_suffix('s')
        .and_then(|s| s.parse().ok())
        .map(Duration::from_secs)
        .ok_or_else(|| format!("bad duration `{word}`"))
}

fn greeting_kind(word: &str) -> Result<GreetingKind, String> {
    Ok(match word {
        "temp" => GreetingKind::Temp,
        "busy" => GreetingKind::Busy,
        "unavail" => GreetingKind::Unavail,
        "greet" => GreetingKind::Name,
        _ => return Err(format!("`{word}` is not a greeting")),
    })
}

fn parse_feed(words: &[&str]) -> Result<Feed, String> {
    Ok(match words {
        ["done"] => Feed::Done(None),
        ["done", k] => Feed::Done(Some(key(k)?)),
        ["digit", k] => Feed::Digit(key(k)?),
        ["timeout"] => Feed::Timeout,
        ["hangup"] => Feed::Hangup,
        ["recorded", d, how] => {
            let end = match *how {
                "maxlength" => RecordEnd::MaxLength,
                "silence" => RecordEnd::Silence,
                "hangup" => RecordEnd::Hangup,
                "failed" => RecordEnd::Failed,
                k => RecordEnd::Dtmf(key(k)?),
            };
            Feed::Recorded(duration(d)?, end)
        }
        ["timer"] => Feed::Timer,
        ["store", "admit", verdict] => plain(
            StoreTarget::op("admit"),
            StoreReply::Admit(match *verdict {
                "admitted" => Admission::Admitted,
                "full-maxmsg" => Admission::Full(FullBy::MaxMsg),
                "full-quota" => Admission::Full(FullBy::Quota),
                "unknown" => Admission::UnknownMailbox,
                "unavailable" => Admission::Unavailable,
                other => return Err(format!("`{other}` is not an admission")),
            }),
        ),
        ["store", "greeting", kind, file] => plain(
            StoreTarget {
                name: "greeting",
                greeting: Some(greeting_kind(kind)?),
            },
            StoreReply::Greeting(match *file {
                "none" => None,
                f => Some(SpoolName::new(f).map_err(|e| e.to_string())?),
            }),
        ),
        ["store", "deposit", outcome @ ..] => plain(
            StoreTarget::op("deposit"),
            StoreReply::Deposit(match outcome {
                ["stored"] => DepositOutcome::Stored { uid: None },
                ["stored", uid] => {
                    let n = uid
                        .strip_prefix("uid=")
                        .and_then(|n| n.parse().ok())
                        .and_then(Uid::new)
                        .ok_or_else(|| format!("bad uid `{uid}`"))?;
                    DepositOutcome::Stored { uid: Some(n) }
                }
                ["queued"] => DepositOutcome::Queued,
                ["failed"] => DepositOutcome::Failed,
                other => return Err(format!("bad deposit outcome {other:?}")),
            }),
        ),
        ["store", "discard"] => plain(StoreTarget::op("discard"), StoreReply::Discarded),
        ["store", "lookup", what] => {
            plain(StoreTarget::op("lookup"), StoreReply::Lookup(lookup(what)?))
        }
        ["store", "auth", "granted", rest @ ..] => Feed::Store(
            StoreTarget::op("authenticate"),
            Reply::Granted {
                new_user: rest == ["new-user"],
            },
        ),
        ["store", "auth", "wrong"] => plain(
            StoreTarget::op("authenticate"),
            StoreReply::Authenticate(AuthReply::Wrong),
        ),
        ["store", "auth", "locked", d] => plain(
            StoreTarget::op("authenticate"),
            StoreReply::Authenticate(AuthReply::Locked {
                retry_in: duration(d)?,
            }),
        ),
        ["store", "auth", "unavailable"] => plain(
            StoreTarget::op("authenticate"),
            StoreReply::Authenticate(AuthReply::Unavailable),
        ),
        ["store", "summary", "unavailable"] => plain(
            StoreTarget::op("summary"),
            StoreReply::Summary(Err(StoreUnavailable)),
        ),
        ["store", "summary", rest @ ..] => {
            let (mut urgent, mut new, mut old) = (Vec::new(), Vec::new(), Vec::new());
            let (mut quota_full, mut temp) = (false, false);
            for word in rest {
                match word.split_once('=') {
                    Some(("urgent", v)) => urgent = uids(v)?,
                    Some(("new", v)) => new = uids(v)?,
                    Some(("old", v)) => old = uids(v)?,
                    None if *word == "quota-full" => quota_full = true,
                    None if *word == "temp" => temp = true,
                    _ => return Err(format!("bad summary word `{word}`")),
                }
            }
            Feed::Store(
                StoreTarget::op("summary"),
                Reply::Summary {
                    urgent,
                    new,
                    old,
                    quota_full,
                    temp,
                },
            )
        }
        ["store", "list", "unavailable"] => plain(
            StoreTarget::op("list"),
            StoreReply::List(Err(StoreUnavailable)),
        ),
        ["store", "list", list] => Feed::Store(StoreTarget::op("list"), Reply::List(uids(list)?)),
        ["store", "fetch", "gone"] => {
            plain(StoreTarget::op("fetch"), StoreReply::Fetch(Fetched::Gone))
        }
        ["store", "fetch", "unavailable"] => plain(
            StoreTarget::op("fetch"),
            StoreReply::Fetch(Fetched::Unavailable),
        ),
        ["store", "fetch", rest @ ..] => {
            let (mut audio, mut intro) = (None, None);
            for word in rest {
                match word.split_once('=') {
                    Some(("audio", f)) => audio = Some(file(f)?),
                    Some(("intro", f)) => intro = Some(file(f)?),
                    _ => return Err(format!("bad fetch word `{word}`")),
                }
            }
            plain(
                StoreTarget::op("fetch"),
                StoreReply::Fetch(Fetched::Audio {
                    audio: audio.ok_or("fetch needs audio=FILE")?,
                    intro,
                }),
            )
        }
        [
            "store",
            name @ ("seen" | "expunge" | "forward" | "greeting-set" | "greeting-delete"),
            rest @ ..,
        ] => {
            let result = ok_or_down(rest)?;
            let (op, reply) = match *name {
                "seen" => ("seen", StoreReply::MarkSeen(result)),
                "expunge" => ("expunge", StoreReply::Expunge(result)),
                "forward" => ("forward", StoreReply::Forward(result)),
                "greeting-set" => ("greeting-set", StoreReply::GreetingSet(result)),
                _ => ("greeting-delete", StoreReply::GreetingDelete(result)),
            };
            plain(StoreTarget::op(op), reply)
        }
        ["store", "move", what] => plain(
            StoreTarget::op("move"),
            StoreReply::Move(word(
                what,
                "a move outcome",
                &[
                    ("done", Moved::Done),
                    ("full", Moved::Full),
                    ("gone", Moved::Gone),
                    ("unavailable", Moved::Unavailable),
                ],
            )?),
        ),
        ["store", "target", rest @ ..] => plain(
            StoreTarget::op("target"),
            StoreReply::Target(match rest {
                ["valid"] => TargetCheck::Valid { name: None },
                ["valid", name] => TargetCheck::Valid {
                    name: Some(file(name.strip_prefix("name=").ok_or("valid name=FILE")?)?),
                },
                ["unknown"] => TargetCheck::Unknown,
                ["full"] => TargetCheck::Full,
                ["unavailable"] => TargetCheck::Unavailable,
                other => return Err(format!("bad target outcome {other:?}")),
            }),
        ),
        ["store", "password", what] => plain(
            StoreTarget::op("change-password"),
            StoreReply::ChangePassword(word(
                what,
                "a password outcome",
                &[
                    ("changed", PasswordChange::Changed),
                    ("refused", PasswordChange::Refused),
                    ("unavailable", PasswordChange::Unavailable),
                ],
            )?),
        ),
        other => return Err(format!("unknown input {other:?}")),
    })
}

fn lookup(what: &str) -> Result<BoxLookup, String> {
    word(
        what,
        "a lookup",
        &[
            ("pin", BoxLookup::Pin),
            ("nopin", BoxLookup::NoPin),
            ("unknown", BoxLookup::Unknown),
        ],
    )
}

fn plain(target: StoreTarget, reply: StoreReply) -> Feed {
    Feed::Store(target, Reply::Plain(reply))
}

/// Parses a transcript.
pub fn parse(path: &Path, text: &str) -> Result<Script, String> {
    let mut settings = Settings::default();
    let mut session: Option<Settings> = None;
    let mut args = None;
    let mut kind = Kind::Leave;
    let mut recording = SpoolName::new("msg").map_err(|e| e.to_string())?;
    let mut named = None;
    let mut caller = None;
    let mut messages = BTreeMap::new();
    let mut steps = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let at = |e: String| format!("{}:{line}: {e}", path.display());
        let text = raw.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        if let Some(expect) = text.strip_prefix("< ") {
            steps.push(Step::Expect {
                line,
                text: expect.trim().to_owned(),
            });
            continue;
        }
        let words: Vec<&str> = text.split_whitespace().collect();
        match words.as_slice() {
            [">", rest @ ..] => steps.push(Step::Feed {
                line,
                feed: parse_feed(rest).map_err(at)?,
            }),
            ["settings", pairs @ ..] => {
                for pair in pairs {
                    let (k, v) = pair
                        .split_once('=')
                        .ok_or_else(|| at(format!("`{pair}` is not key=value")))?;
                    set(&mut settings, k, v).map_err(at)?;
                }
            }
            ["session", pairs @ ..] => {
                let target = session.get_or_insert_with(|| settings.clone());
                for pair in pairs {
                    let (k, v) = pair
                        .split_once('=')
                        .ok_or_else(|| at(format!("`{pair}` is not key=value")))?;
                    set(target, k, v).map_err(at)?;
                }
            }
            ["main"] => {
                kind = Kind::Main;
                args = Some(Vec::new());
            }
            ["main", rest] => {
                kind = Kind::Main;
                args = Some(rest.split(',').map(str::to_owned).collect());
            }
            ["named", what] => named = Some(lookup(what).map_err(at)?),
            ["caller", number] => caller = Some((*number).to_owned()),
            ["msg", rest @ ..] => {
                let m = parse_message(rest).map_err(at)?;
                messages.insert(m.uid.get(), m);
            }
            ["dialplan", facts @ ..] => {
                let mut dialplan = Dialplan::default();
                for fact in facts {
                    match fact.split_once('=') {
                        Some(("exitcontext", ctx)) => dialplan.exitcontext = Some(ctx.to_owned()),
                        None if *fact == "a" => dialplan.extension_a = true,
                        None if *fact == "o" => dialplan.extension_o = true,
                        None if *fact == "a-here" => dialplan.extension_a_current = true,
                        _ => return Err(at(format!("unknown dialplan fact `{fact}`"))),
                    }
                }
                settings.dialplan = dialplan;
            }
            ["call", rest] => args = Some(rest.split(',').map(str::to_owned).collect()),
            ["recording", name] => {
                recording = SpoolName::new(name).map_err(|e| at(e.to_string()))?;
            }
            _ => return Err(at(format!("cannot read `{text}`"))),
        }
    }
    Ok(Script {
        path: path.to_owned(),
        kind,
        session: session.unwrap_or_else(|| settings.clone()),
        settings,
        args: args.ok_or_else(|| format!("{}: no `call` or `main` line", path.display()))?,
        recording,
        named,
        caller,
        messages,
        steps,
    })
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a readable transcript directory") {
        let path = entry.expect("a readable entry").path();
        if path.is_dir() {
            walk(&path, out);
        } else if path.extension().is_some_and(|e| e == "txt") {
            out.push(path);
        }
    }
}

/// Every transcript file (in `tests/transcripts` and below), sorted by path.
pub fn all() -> Vec<Script> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts");
    let mut paths = Vec::new();
    walk(&dir, &mut paths);
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).expect("a readable transcript");
            parse(p, &text).unwrap_or_else(|e| panic!("{e}"))
        })
        .collect()
}

/// A call and the binding's view of it: which actions are outstanding, everything polled.
/// Every poll is checked against the invariants of `Call`.
pub struct Run {
    pub call: Call,
    pub tick: Tick,
    /// Every action polled, in order.
    pub actions: Vec<Action>,
    /// `actions.len()` when the hangup was fed.
    pub hangup_at: Option<usize>,
    channel: Option<(ActionId, ChannelAction)>,
    store: Vec<(ActionId, StoreOp)>,
    finished: bool,
    /// The script, for the replies that name its messages.
    script: Script,
    /// The last deadline reported.
    timer: Option<Instant>,
}

impl Run {
    pub fn new(script: &Script) -> Run {
        // The only clock read: a base instant; later ticks are offsets from it.
        let tick = Tick {
            mono: Instant::now(),
            wall: WALL,
        };
        let mut run = Run {
            call: script.call(tick),
            tick,
            actions: Vec::new(),
            hangup_at: None,
            channel: None,
            store: Vec::new(),
            finished: false,
            script: script.clone(),
            timer: None,
        };
        run.drain();
        run
    }

    /// Polls every action, checking the invariants; returns the new ones.
    pub fn drain(&mut self) -> Vec<Action> {
        let mut new = Vec::new();
        while let Some(action) = self.call.poll_action() {
            assert!(!self.finished, "{action} polled after Finished");
            match &action {
                Action::Channel { id, action: a } => {
                    assert!(
                        self.hangup_at.is_none(),
                        "channel action `{a}` after the hangup"
                    );
                    assert!(
                        self.channel.is_none(),
                        "channel action `{a}` while `{}` is outstanding",
                        self.channel
                            .as_ref()
                            .map(|c| c.1.to_string())
                            .unwrap_or_default()
                    );
                    assert_eq!(self.call.outstanding_channel(), Some(*id));
                    self.channel = Some((*id, a.clone()));
                }
                Action::Store { id, op } => self.store.push((*id, op.clone())),
                Action::Finished { .. } => {
                    assert!(self.store.is_empty(), "Finished with store ops outstanding");
                    assert!(self.channel.is_none() || self.hangup_at.is_some());
                    self.finished = true;
                }
            }
            new.push(action.clone());
            self.actions.push(action);
        }
        new
    }

    pub fn finished(&self) -> bool {
        self.finished
    }

    /// The outstanding channel action.
    pub fn channel(&self) -> Option<&(ActionId, ChannelAction)> {
        self.channel.as_ref()
    }

    /// The outstanding store ops.
    pub fn store(&self) -> &[(ActionId, StoreOp)] {
        &self.store
    }

    /// A deadline the call armed since the last look, rendered as `timer 2s` (relative to
    /// now).
    pub fn new_timer(&mut self) -> Option<String> {
        let deadline = self.call.poll_timeout();
        if deadline == self.timer {
            return None;
        }
        self.timer = deadline;
        let d = deadline?.saturating_duration_since(self.tick.mono);
        Some(if d.subsec_millis() == 0 {
            format!("timer {}s", d.as_secs())
        } else {
            format!("timer {}ms", d.as_millis())
        })
    }

    /// The deadline passed: the clock moves to it and the call is told.
    pub fn fire_timer(&mut self) -> Vec<Action> {
        let deadline = self.call.poll_timeout().expect("a deadline is armed");
        self.tick.mono = self.tick.mono.max(deadline);
        self.call.handle_timeout(self.tick);
        self.drain()
    }

    /// Feeds a scripted input (a timer, or an input with its id) and returns the actions
    /// it caused.
    pub fn step(&mut self, feed: &Feed) -> Result<Vec<Action>, String> {
        if *feed == Feed::Timer {
            if self.call.poll_timeout().is_none() {
                return Err("no deadline is armed".into());
            }
            return Ok(self.fire_timer());
        }
        let input = self.input(feed)?;
        self.try_feed(input)
    }

    /// Turns a feed into an input with its id; `Err` if nothing it could answer is
    /// outstanding.
    pub fn input(&self, feed: &Feed) -> Result<Input, String> {
        let channel = || {
            self.channel
                .as_ref()
                .map(|c| c.0)
                .ok_or_else(|| format!("{feed:?}: no channel action is outstanding"))
        };
        Ok(match feed {
            Feed::Done(key) => Input::PromptDone {
                id: channel()?,
                interrupted_by: *key,
            },
            Feed::Digit(key) => Input::Digit {
                id: channel()?,
                key: *key,
            },
            Feed::Timeout => Input::Timeout { id: channel()? },
            Feed::Recorded(duration, ended_by) => Input::Recorded {
                id: channel()?,
                duration: *duration,
                ended_by: *ended_by,
            },
            Feed::Hangup => Input::Hangup,
            Feed::Timer => return Err("a timer is not an input".into()),
            Feed::Store(target, reply) => {
                let id = self
                    .store
                    .iter()
                    .find(|(_, op)| target.matches(op))
                    .map(|(id, _)| *id)
                    .ok_or_else(|| format!("{feed:?}: no such store op is outstanding"))?;
                Input::StoreReply {
                    id,
                    reply: self.script.reply(reply),
                }
            }
        })
    }

    /// Hangs up, then answers every store op as a well-behaved store does
    /// ([`auto_reply`]) until the call finishes; checks that it does, with `Finished` last.
    pub fn hang_up_and_settle(&mut self, name: &str) {
        // `drain` asserts on every poll that no channel action follows the hangup.
        self.feed(Input::Hangup);
        for _ in 0..64 {
            if self.finished() {
                break;
            }
            let (id, op) = self
                .store()
                .first()
                .cloned()
                .unwrap_or_else(|| panic!("{name}: the call waits, but for no store op"));
            self.feed(Input::StoreReply {
                id,
                reply: auto_reply(&op),
            });
        }
        assert!(self.finished(), "{name}: the call did not finish");
        assert!(
            matches!(self.actions.last(), Some(Action::Finished { .. })),
            "{name}: Finished is not last"
        );
    }

    /// Feeds an input (which must be accepted) and returns the actions it caused.
    pub fn feed(&mut self, input: Input) -> Vec<Action> {
        self.try_feed(input).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Feeds an input; `Err` if the call refuses it.
    pub fn try_feed(&mut self, input: Input) -> Result<Vec<Action>, String> {
        self.tick.mono += Duration::from_millis(100);
        match &input {
            Input::Hangup => {
                self.hangup_at.get_or_insert(self.actions.len());
                self.channel = None;
            }
            Input::Recorded {
                ended_by: RecordEnd::Hangup,
                ..
            } => {
                self.hangup_at.get_or_insert(self.actions.len());
                self.channel = None;
            }
            Input::StoreReply { id, .. } => self.store.retain(|(i, _)| i != id),
            _ => self.channel = None,
        }
        if let Err(e) = self.call.handle(input.clone(), self.tick) {
            return Err(format!("{input:?} was refused: {e}"));
        }
        Ok(self.drain())
    }
}

/// The answer a well-behaved store gives to any op when the test does not care: success,
/// nothing found.
pub fn auto_reply(op: &StoreOp) -> StoreReply {
    match op {
        StoreOp::Admit { .. } => StoreReply::Admit(Admission::Admitted),
        StoreOp::Greeting { .. } => StoreReply::Greeting(None),
        StoreOp::Deposit(_) => StoreReply::Deposit(DepositOutcome::Stored { uid: None }),
        StoreOp::Discard { .. } => StoreReply::Discarded,
        StoreOp::Lookup { .. } => StoreReply::Lookup(BoxLookup::Pin),
        StoreOp::Authenticate { .. } => StoreReply::Authenticate(AuthReply::Wrong),
        StoreOp::Summary { .. } => StoreReply::Summary(Err(StoreUnavailable)),
        StoreOp::List { .. } => StoreReply::List(Err(StoreUnavailable)),
        StoreOp::Fetch { .. } => StoreReply::Fetch(Fetched::Gone),
        StoreOp::MarkSeen { .. } => StoreReply::MarkSeen(Ok(())),
        StoreOp::Expunge { .. } => StoreReply::Expunge(Ok(())),
        StoreOp::Move { .. } => StoreReply::Move(Moved::Done),
        StoreOp::Forward { .. } => StoreReply::Forward(Ok(())),
        StoreOp::CheckTarget { .. } => StoreReply::Target(TargetCheck::Unknown),
        StoreOp::GreetingSet { .. } => StoreReply::GreetingSet(Ok(())),
        StoreOp::GreetingDelete { .. } => StoreReply::GreetingDelete(Ok(())),
        StoreOp::ChangePassword { .. } => StoreReply::ChangePassword(PasswordChange::Changed),
    }
}
