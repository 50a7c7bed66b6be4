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

use imapvm_ivr::{
    Action, ActionId, Admission, Call, ChannelAction, DepositOutcome, Dialplan, Dtmf, Flow, FullBy,
    GreetingKind, Input, Leave, LeaveArgs, RecordEnd, RecordFormat, Settings, SpoolName, StoreOp,
    StoreReply, Tick, Uid,
};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The wall clock of every transcript (2026-12-06 20:02:13 UTC).
pub const WALL: u64 = 1_796_587_333;

/// What a store reply answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreTarget {
    Admit,
    Greeting(GreetingKind),
    Deposit,
    Discard,
}

impl StoreTarget {
    pub fn matches(self, op: &StoreOp) -> bool {
        match (self, op) {
            (StoreTarget::Admit, StoreOp::Admit { .. }) => true,
            (StoreTarget::Greeting(k), StoreOp::Greeting { which, .. }) => k == *which,
            (StoreTarget::Deposit, StoreOp::Deposit(_)) => true,
            (StoreTarget::Discard, StoreOp::Discard { .. }) => true,
            _ => false,
        }
    }
}

/// An input line, before its id is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feed {
    Done(Option<Dtmf>),
    Digit(Dtmf),
    Timeout,
    Recorded(Duration, RecordEnd),
    Hangup,
    Store(StoreTarget, StoreReply),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `<`: the next action, rendered.
    Expect { line: usize, text: String },
    /// `>`: an input.
    Feed { line: usize, feed: Feed },
}

#[derive(Debug, Clone)]
pub struct Script {
    pub path: PathBuf,
    pub settings: Settings,
    pub args: Vec<String>,
    pub recording: SpoolName,
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
        let leave = Leave {
            args: LeaveArgs::parse(&self.args).expect("the call line parses"),
            recording: self.recording.clone(),
        };
        Call::new(Flow::Leave(leave), self.settings.clone(), tick)
    }
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
        ["store", "admit", verdict] => Feed::Store(
            StoreTarget::Admit,
            StoreReply::Admit(match *verdict {
                "admitted" => Admission::Admitted,
                "full-maxmsg" => Admission::Full(FullBy::MaxMsg),
                "full-quota" => Admission::Full(FullBy::Quota),
                "unknown" => Admission::UnknownMailbox,
                "unavailable" => Admission::Unavailable,
                other => return Err(format!("`{other}` is not an admission")),
            }),
        ),
        ["store", "greeting", kind, file] => Feed::Store(
            StoreTarget::Greeting(greeting_kind(kind)?),
            StoreReply::Greeting(match *file {
                "none" => None,
                f => Some(SpoolName::new(f).map_err(|e| e.to_string())?),
            }),
        ),
        ["store", "deposit", outcome @ ..] => Feed::Store(
            StoreTarget::Deposit,
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
        ["store", "discard"] => Feed::Store(StoreTarget::Discard, StoreReply::Discarded),
        other => return Err(format!("unknown input {other:?}")),
    })
}

/// Parses a transcript.
pub fn parse(path: &Path, text: &str) -> Result<Script, String> {
    let mut settings = Settings::default();
    let mut args = None;
    let mut recording = SpoolName::new("msg").map_err(|e| e.to_string())?;
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
                    match k {
                        "maxsecs" => settings.maxsecs = number(v).map_err(at)?,
                        "minsecs" => settings.minsecs = number(v).map_err(at)?,
                        "maxsilence" => settings.maxsilence = number(v).map_err(at)?,
                        "silencethreshold" => settings.silencethreshold = number(v).map_err(at)?,
                        "maxmsg" => settings.maxmsg = number(v).map_err(at)?,
                        "review" => settings.review = yes(v).map_err(at)?,
                        "operator" => settings.operator = yes(v).map_err(at)?,
                        "leaveurgent" => settings.leaveurgent = yes(v).map_err(at)?,
                        "format" => {
                            settings.format = RecordFormat::new(v).map_err(|e| at(e.to_string()))?
                        }
                        other => return Err(at(format!("unknown setting `{other}`"))),
                    }
                }
            }
            ["dialplan", facts @ ..] => {
                let mut dialplan = Dialplan::default();
                for fact in facts {
                    match fact.split_once('=') {
                        Some(("exitcontext", ctx)) => dialplan.exitcontext = Some(ctx.to_owned()),
                        None if *fact == "a" => dialplan.extension_a = true,
                        None if *fact == "o" => dialplan.extension_o = true,
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
        settings,
        args: args.ok_or_else(|| format!("{}: no `call` line", path.display()))?,
        recording,
        steps,
    })
}

/// Every transcript file, sorted by name.
pub fn all() -> Vec<Script> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/transcripts exists")
        .map(|e| e.expect("a readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
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
            Feed::Store(target, reply) => {
                let id = self
                    .store
                    .iter()
                    .find(|(_, op)| target.matches(op))
                    .map(|(id, _)| *id)
                    .ok_or_else(|| format!("{feed:?}: no such store op is outstanding"))?;
                Input::StoreReply {
                    id,
                    reply: reply.clone(),
                }
            }
        })
    }

    /// Feeds an input (which must be accepted) and returns the actions it caused.
    pub fn feed(&mut self, input: Input) -> Vec<Action> {
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
            panic!("{input:?} was refused: {e}");
        }
        self.drain()
    }
}
