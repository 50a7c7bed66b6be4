//! One channel action of the call flow ([`imapvm_ivr::ChannelAction`]) as AGI commands
//! ([`imapvm_agi::Command`]), and their answers folded back into one input of the flow.
//!
//! | flow action | AGI | answer to the flow |
//! |---|---|---|
//! | `Play { prompts, escape }` | one `STREAM FILE p "escape"` per prompt, in order | `PromptDone`, with the key that stopped it |
//! | `SayNumber`/`SayDigits`/`SayDateTime` | `SAY NUMBER`/`SAY DIGITS`/`SAY DATETIME` | `PromptDone` |
//! | `Record(spec)` | `RECORD FILE file fmt "escape" max 0 [s=N]` (no `BEEP`: the flow plays its own) | `Recorded { duration: endpos / 8000, ended_by }` |
//! | `WaitDigit(t)` | `WAIT FOR DIGIT t` | `Digit` or `Timeout` |
//! | `Hangup` | `HANGUP` | — (the `HANGUP` line follows) |
//!
//! A `-1` result is what Asterisk answers when the caller hung up during the command, and
//! also when a prompt file is missing (with no hangup). A prompt that answers `-1` is
//! treated as played, and the next command finds out: on a dead channel it gets `511`,
//! which becomes the flow's `Hangup`.

use std::collections::VecDeque;
use std::time::Duration;

use imapvm_agi::{
    Command, DateFormat, Digits, Endpos, Format, Outcome, Request, SoundName, SpokenDigits, Text,
    Word,
};
use imapvm_ivr::{ActionId, ChannelAction, DtmfSet, Input, Prompt, RecordEnd, RecordSpec};

use crate::error::{Error, Result};

/// Samples per second of the telephone formats Asterisk records (`endpos` is in samples).
const SAMPLE_RATE: u64 = 8000;
/// How long a system prompt may take before its command times out.
const PROMPT_BOUND: Duration = Duration::from_secs(10 * 60);
/// How long a recording without `maxsecs` may take.
const UNBOUNDED_RECORDING: Duration = Duration::from_secs(60 * 60);

/// The channel action in progress.
#[derive(Debug)]
pub(crate) struct InFlight {
    /// The flow's id of the action.
    pub id: ActionId,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    /// The prompts still to play after the one in flight.
    Play {
        rest: VecDeque<Prompt>,
        escape: DtmfSet,
    },
    Say,
    Record {
        max: Option<Duration>,
    },
    Wait,
    Hangup,
}

/// What an answer means.
#[derive(Debug)]
pub(crate) enum Next {
    /// Send this command for the same action.
    Send(Request),
    /// The action is over: this is the flow's input.
    Done(Input),
    /// The channel is dead (a `511`, a closed connection).
    HungUp,
}

/// Starts `action`: its first AGI command.
pub(crate) fn start(id: ActionId, action: ChannelAction) -> Result<(InFlight, Request)> {
    let (kind, request) = match action {
        ChannelAction::Play { prompts, escape } => {
            let mut rest: VecDeque<Prompt> = prompts.into();
            let Some(first) = rest.pop_front() else {
                return Err(Error::Flow("a Play action without prompts".into()));
            };
            let request = stream(&first, escape)?;
            (Kind::Play { rest, escape }, request)
        }
        ChannelAction::SayNumber { number, escape } => {
            let number = i32::try_from(number).map_err(|_| {
                Error::Flow(format!("number {number} is out of SAY NUMBER's range"))
            })?;
            (
                Kind::Say,
                Request::new(Command::SayNumber {
                    number,
                    escape: digits(escape)?,
                    gender: None,
                })
                .timeout(PROMPT_BOUND),
            )
        }
        ChannelAction::SayDigits { digits: d, escape } => (
            Kind::Say,
            Request::new(Command::SayDigits {
                digits: SpokenDigits::new(&d)?,
                escape: digits(escape)?,
            })
            .timeout(PROMPT_BOUND),
        ),
        ChannelAction::SayDateTime {
            epoch,
            format,
            zone,
            escape,
        } => {
            let time = i64::try_from(epoch)
                .map_err(|_| Error::Flow(format!("time {epoch} is out of range")))?;
            let zone = zone.as_deref().map(Word::new).transpose()?;
            (
                Kind::Say,
                Request::new(Command::SayDateTime {
                    time,
                    escape: digits(escape)?,
                    format: Some(DateFormat {
                        format: Text::new(&format)?,
                        zone,
                    }),
                })
                .timeout(PROMPT_BOUND),
            )
        }
        ChannelAction::Record(spec) => {
            let request = record(&spec)?;
            (Kind::Record { max: spec.max }, request)
        }
        ChannelAction::ControlStream {
            file,
            stop,
            skip,
            forward,
            rewind,
            pause,
        } => (
            Kind::Say,
            Request::new(Command::ControlStreamFile {
                file: SoundName::new(file.as_str())?,
                stop: digits(stop)?,
                skip,
                forward,
                rewind,
                pause: Some(pause),
                offset: None,
            })
            .timeout(PROMPT_BOUND),
        ),
        ChannelAction::WaitDigit(timeout) => (
            Kind::Wait,
            Request::new(Command::WaitForDigit {
                timeout: Some(timeout),
            }),
        ),
        ChannelAction::Hangup => (
            Kind::Hangup,
            Request::new(Command::Hangup { channel: None }),
        ),
    };
    Ok((InFlight { id, kind }, request))
}

fn stream(prompt: &Prompt, escape: DtmfSet) -> Result<Request> {
    Ok(Request::new(Command::StreamFile {
        file: SoundName::new(prompt.as_str())?,
        escape: digits(escape)?,
        offset: None,
    })
    .timeout(PROMPT_BOUND))
}

fn record(spec: &RecordSpec) -> Result<Request> {
    let bound = spec.max.unwrap_or(UNBOUNDED_RECORDING);
    let silence = spec
        .silence
        .map(|s| u32::try_from(s.as_secs().max(1)).unwrap_or(u32::MAX));
    Ok(Request::new(Command::RecordFile {
        file: SoundName::new(spec.file.as_str())?,
        format: Format::new(spec.format.as_str())?,
        escape: digits(spec.escape)?,
        timeout: spec.max,
        offset: None,
        beep: false,
        silence,
    })
    .timeout(bound + Duration::from_secs(30)))
}

/// The flow's keys as AGI escape digits.
pub(crate) fn digits(keys: DtmfSet) -> Result<Digits> {
    Ok(Digits::from(keys))
}

fn seconds(endpos: Option<Endpos>) -> Duration {
    match endpos {
        Some(Endpos::Samples(n)) => Duration::from_millis(n.saturating_mul(1000) / SAMPLE_RATE),
        Some(Endpos::Millis(ms)) => Duration::from_millis(ms),
        Some(Endpos::End) | None => Duration::ZERO,
    }
}

impl InFlight {
    /// Folds the answer to the command in flight into the next step.
    pub(crate) fn answer(
        &mut self,
        answer: std::result::Result<Outcome, imapvm_agi::Error>,
    ) -> Result<Next> {
        let outcome = match answer {
            Ok(o) => o,
            Err(e) if e.is_hangup() => return Ok(Next::HungUp),
            Err(e) => return Err(Error::Agi(e)),
        };
        let id = self.id;
        match (&mut self.kind, outcome) {
            (Kind::Play { rest, escape }, Outcome::Digit { digit, .. }) => match *digit.value() {
                Some(k) => Ok(Next::Done(Input::PromptDone {
                    id,
                    interrupted_by: Some(k),
                })),
                None => match rest.pop_front() {
                    Some(p) => Ok(Next::Send(stream(&p, *escape)?)),
                    None => Ok(Next::Done(Input::PromptDone {
                        id,
                        interrupted_by: None,
                    })),
                },
            },
            (Kind::Play { rest, escape }, Outcome::Failed { .. }) => {
                // A missing file, or the caller hung up: go on; a dead channel answers the
                // next command with 511.
                match rest.pop_front() {
                    Some(p) => Ok(Next::Send(stream(&p, *escape)?)),
                    None => Ok(Next::Done(Input::PromptDone {
                        id,
                        interrupted_by: None,
                    })),
                }
            }
            (Kind::Say, Outcome::Digit { digit, .. }) => Ok(Next::Done(Input::PromptDone {
                id,
                interrupted_by: *digit.value(),
            })),
            (Kind::Say, Outcome::Failed { .. } | Outcome::Done) => {
                Ok(Next::Done(Input::PromptDone {
                    id,
                    interrupted_by: None,
                }))
            }
            (Kind::Wait, Outcome::Digit { digit, .. }) => Ok(Next::Done(match *digit.value() {
                Some(k) => Input::Digit { id, key: k },
                None => Input::Timeout { id },
            })),
            (Kind::Wait, Outcome::Failed { .. }) => Ok(Next::HungUp),
            (Kind::Record { max }, Outcome::Recorded { ended_by, endpos }) => {
                let duration = seconds(endpos);
                let ended_by = match ended_by {
                    imapvm_agi::RecordEnd::Dtmf(k) => RecordEnd::Dtmf(k),
                    imapvm_agi::RecordEnd::TimeoutOrSilence => {
                        // RECORD FILE does not say which: at (or within a second of) the
                        // maximum it was the length.
                        match max {
                            Some(m) if duration + Duration::from_secs(1) >= *m => {
                                RecordEnd::MaxLength
                            }
                            _ => RecordEnd::Silence,
                        }
                    }
                    imapvm_agi::RecordEnd::Hangup => RecordEnd::Hangup,
                    imapvm_agi::RecordEnd::RandomError { .. }
                    | imapvm_agi::RecordEnd::WriteFile
                    | imapvm_agi::RecordEnd::WaitFor => RecordEnd::Failed,
                };
                Ok(Next::Done(Input::Recorded {
                    id,
                    duration,
                    ended_by,
                }))
            }
            (Kind::Hangup, _) => Ok(Next::HungUp),
            (_, other) => Err(Error::Flow(format!(
                "an answer that does not fit the command: {other:?}"
            ))),
        }
    }
}
