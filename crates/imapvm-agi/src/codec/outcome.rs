//! [`Outcome`]: what a `200 result=...` means for the command it answers.

use super::command::Command;
use super::response::Success;
use super::values::{Endpos, Sensitive, key_of_code};
use crate::{Error, MisbehaviourReason};
use imapvm_types::Dtmf;

/// How a `RECORD FILE` ended, from the word in parentheses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordEnd {
    /// `(dtmf)`: an escape key; the last 200 ms were cut. The file is kept.
    Dtmf(Dtmf),
    /// `(timeout)`: the timeout elapsed, or silence stopped it (trimmed to 1 s of silence).
    /// The file is kept.
    TimeoutOrSilence,
    /// `(hangup)`: the caller hung up. The file is **kept**.
    Hangup,
    /// `(randomerror)`: the beep failed, or a key or hangup came during the beep. No file.
    RandomError {
        /// The key pressed during the beep, if any.
        digit: Option<Dtmf>,
    },
    /// `(writefile)`: Asterisk could not create the file.
    WriteFile,
    /// `(waitfor)`: waiting for media failed. The file is kept.
    WaitFor,
}

/// The state `CHANNEL STATUS` reports (Asterisk's `ast_channel_state`; its XML
/// documentation swaps 4 and 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelState {
    /// 0: down and available.
    Down,
    /// 1: down but reserved.
    Reserved,
    /// 2: off hook.
    OffHook,
    /// 3: digits dialled.
    Dialing,
    /// 4: the line is ringing (outgoing).
    Ring,
    /// 5: the remote end is ringing.
    Ringing,
    /// 6: up (answered).
    Up,
    /// 7: busy.
    Busy,
    /// 8: dialling while off hook.
    DialingOffhook,
    /// 9: ringing before answer.
    PreRing,
    /// A number this crate does not know.
    Unknown(i64),
}

/// A command's result, read from its `200` response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The command ran: `ANSWER` (0), `SET VARIABLE` / `VERBOSE` / `HANGUP` (1), `NOOP` /
    /// `SET CONTEXT` / `SET EXTENSION` / `SET PRIORITY` (0).
    Done,
    /// `result=-1`: the channel hung up during the command, or the command failed (a missing
    /// sound file gives `-1 endpos=0` and the call goes on; `HANGUP` of an unknown channel;
    /// `CHANNEL STATUS` of an unknown channel). A following `HANGUP` line or `511` tells
    /// which.
    Failed {
        /// Where playback stopped, if the response said.
        endpos: Option<Endpos>,
    },
    /// `STREAM FILE`, `CONTROL STREAM FILE`, `GET OPTION`, `WAIT FOR DIGIT`, `SAY *`: the key
    /// that ended it, or `None` (played to the end, or no key before the timeout).
    Digit {
        /// The key.
        digit: Sensitive<Option<Dtmf>>,
        /// Where playback stopped (samples; milliseconds for `CONTROL STREAM FILE`).
        endpos: Option<Endpos>,
    },
    /// `GET DATA`: the digits entered (without the ending `#`; empty for a bare `#`).
    Entered {
        /// The digits.
        digits: Sensitive<String>,
        /// Whether the entry ended by the timeout rather than by `#` or `max`.
        timed_out: bool,
    },
    /// `RECORD FILE`.
    Recorded {
        /// How the recording ended.
        ended_by: RecordEnd,
        /// The file's length in samples (8000 a second at 8 kHz), when reported.
        endpos: Option<Endpos>,
    },
    /// `GET VARIABLE`, `GET FULL VARIABLE`: the value, or `None` when not set.
    Variable(Sensitive<Option<String>>),
    /// `CHANNEL STATUS`.
    ChannelStatus(ChannelState),
    /// `EXEC`: the application's return value (0 normally, -1 on hangup, a key's code for
    /// some applications).
    Executed {
        /// The value.
        result: i64,
    },
    /// `EXEC` of an application Asterisk does not have (`result=-2`).
    NoSuchApplication,
}

/// How to read a command's `200` response; kept while the command is in flight.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Shape {
    /// `result=ok` → Done, `-1` → Failed.
    Status {
        ok: i64,
    },
    /// 0 / a key's code / -1, with an optional endpos in the given unit.
    Digit {
        endpos: Option<fn(u64) -> Endpos>,
    },
    Entered,
    Recorded,
    Variable,
    ChannelStatus,
    Exec,
}

impl Shape {
    pub(crate) fn of(command: &Command) -> Shape {
        match command {
            Command::Answer
            | Command::Noop
            | Command::SetContext { .. }
            | Command::SetExtension { .. }
            | Command::SetPriority { .. } => Shape::Status { ok: 0 },
            Command::SetVariable { .. } | Command::Verbose { .. } | Command::Hangup { .. } => {
                Shape::Status { ok: 1 }
            }
            Command::StreamFile { .. } | Command::GetOption { .. } => Shape::Digit {
                endpos: Some(Endpos::Samples),
            },
            Command::ControlStreamFile { .. } => Shape::Digit {
                endpos: Some(Endpos::Millis),
            },
            Command::WaitForDigit { .. }
            | Command::SayNumber { .. }
            | Command::SayDigits { .. }
            | Command::SayDateTime { .. } => Shape::Digit { endpos: None },
            Command::GetData { .. } => Shape::Entered,
            Command::RecordFile { .. } => Shape::Recorded,
            Command::GetVariable { .. } | Command::GetFullVariable { .. } => Shape::Variable,
            Command::ChannelStatus { .. } => Shape::ChannelStatus,
            Command::Exec { .. } => Shape::Exec,
        }
    }

    pub(crate) fn read(self, s: &Success, sensitive: bool) -> Option<Outcome> {
        /// A negative position is the end of the file (Asterisk's `-1`).
        fn endpos_of(e: i64, unit: fn(u64) -> Endpos) -> Endpos {
            u64::try_from(e).map_or(Endpos::End, unit)
        }
        let code = s.code();
        let plain = s.data.is_none() && s.endpos.is_none();
        match self {
            Shape::Status { ok } => match code? {
                c if c == ok && plain => Some(Outcome::Done),
                -1 if plain => Some(Outcome::Failed { endpos: None }),
                _ => None,
            },
            Shape::Digit { endpos: unit } => {
                if s.data.is_some() || (unit.is_none() && s.endpos.is_some()) {
                    return None;
                }
                let endpos = unit.and_then(|u| s.endpos.map(|e| endpos_of(e, u)));
                match code? {
                    -1 => Some(Outcome::Failed { endpos }),
                    0 => Some(Outcome::Digit {
                        digit: Sensitive::new(None, sensitive),
                        endpos,
                    }),
                    c => Some(Outcome::Digit {
                        digit: Sensitive::new(Some(key_of_code(c)?), sensitive),
                        endpos,
                    }),
                }
            }
            Shape::Entered => {
                if s.endpos.is_some() {
                    return None;
                }
                if s.result == "-1" && s.data.is_none() {
                    return Some(Outcome::Failed { endpos: None });
                }
                if !s.result.chars().all(|c| Dtmf::from_char(c).is_some()) {
                    return None;
                }
                let timed_out = match s.data.as_deref() {
                    None => false,
                    Some("timeout") => true,
                    Some(_) => return None,
                };
                Some(Outcome::Entered {
                    digits: Sensitive::new(s.result.clone(), sensitive),
                    timed_out,
                })
            }
            Shape::Recorded => {
                let code = code?;
                let endpos = s.endpos.map(|e| endpos_of(e, Endpos::Samples));
                let ended_by = match s.data.as_deref() {
                    None if code == -1 && endpos.is_none() => {
                        return Some(Outcome::Failed { endpos: None });
                    }
                    Some("dtmf") => RecordEnd::Dtmf(key_of_code(code)?),
                    Some("timeout") => RecordEnd::TimeoutOrSilence,
                    Some("hangup") => RecordEnd::Hangup,
                    Some("randomerror") => RecordEnd::RandomError {
                        digit: key_of_code(code),
                    },
                    Some("writefile") => RecordEnd::WriteFile,
                    Some("waitfor") => RecordEnd::WaitFor,
                    _ => return None,
                };
                Some(Outcome::Recorded { ended_by, endpos })
            }
            Shape::Variable => match (code?, &s.data, s.endpos) {
                (1, Some(value), None) => Some(Outcome::Variable(Sensitive::new(
                    Some(value.clone()),
                    sensitive,
                ))),
                (0, None, None) => Some(Outcome::Variable(Sensitive::new(None, sensitive))),
                _ => None,
            },
            Shape::ChannelStatus => {
                if !plain {
                    return None;
                }
                Some(match code? {
                    -1 => Outcome::Failed { endpos: None },
                    0 => Outcome::ChannelStatus(ChannelState::Down),
                    1 => Outcome::ChannelStatus(ChannelState::Reserved),
                    2 => Outcome::ChannelStatus(ChannelState::OffHook),
                    3 => Outcome::ChannelStatus(ChannelState::Dialing),
                    4 => Outcome::ChannelStatus(ChannelState::Ring),
                    5 => Outcome::ChannelStatus(ChannelState::Ringing),
                    6 => Outcome::ChannelStatus(ChannelState::Up),
                    7 => Outcome::ChannelStatus(ChannelState::Busy),
                    8 => Outcome::ChannelStatus(ChannelState::DialingOffhook),
                    9 => Outcome::ChannelStatus(ChannelState::PreRing),
                    n => Outcome::ChannelStatus(ChannelState::Unknown(n)),
                })
            }
            Shape::Exec => {
                if !plain {
                    return None;
                }
                Some(match code? {
                    -2 => Outcome::NoSuchApplication,
                    result => Outcome::Executed { result },
                })
            }
        }
    }
}

impl Outcome {
    /// Reads `success` as the answer to `command`. `sensitive` hides digits and values in
    /// `Debug` (see [`Sensitive`]).
    ///
    /// Fails with [`MisbehaviourReason::UnexpectedResult`] when the response is not one
    /// `res_agi` gives for that command (e.g. `result=7` for `WAIT FOR DIGIT`).
    pub fn read(command: &Command, success: &Success, sensitive: bool) -> Result<Outcome, Error> {
        Shape::of(command)
            .read(success, sensitive)
            .ok_or_else(|| unexpected(success, sensitive))
    }
}

/// The error for a result that does not fit; its bytes are `***` for a sensitive command.
pub(crate) fn unexpected(success: &Success, sensitive: bool) -> Error {
    let error = match super::response::Response::Success(success.clone()).encode() {
        Ok(bytes) => Error::misbehaviour(MisbehaviourReason::UnexpectedResult, &bytes),
        Err(_) => Error::misbehaviour(MisbehaviourReason::UnexpectedResult, b""),
    };
    if sensitive { error.redacted() } else { error }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::command::tests::record_sample as record;
    use crate::codec::values::SoundName;

    fn ok(result: &str, data: Option<&str>, endpos: Option<i64>) -> Success {
        Success {
            result: result.into(),
            data: data.map(Into::into),
            endpos,
        }
    }

    #[test]
    fn record_file_endings() {
        let read = |s| Outcome::read(&record(), &s, false).unwrap();
        assert_eq!(
            read(ok("35", Some("dtmf"), Some(11112))),
            Outcome::Recorded {
                ended_by: RecordEnd::Dtmf(Dtmf::Pound),
                endpos: Some(Endpos::Samples(11112))
            }
        );
        assert_eq!(
            read(ok("0", Some("timeout"), Some(0))),
            Outcome::Recorded {
                ended_by: RecordEnd::TimeoutOrSilence,
                endpos: Some(Endpos::Samples(0))
            }
        );
        assert_eq!(
            read(ok("-1", Some("hangup"), Some(800))),
            Outcome::Recorded {
                ended_by: RecordEnd::Hangup,
                endpos: Some(Endpos::Samples(800))
            }
        );
        assert_eq!(
            read(ok("-1", Some("writefile"), None)),
            Outcome::Recorded {
                ended_by: RecordEnd::WriteFile,
                endpos: None
            }
        );
        assert_eq!(
            read(ok("-1", Some("randomerror"), Some(0))),
            Outcome::Recorded {
                ended_by: RecordEnd::RandomError { digit: None },
                endpos: Some(Endpos::Samples(0))
            }
        );
        assert_eq!(read(ok("-1", None, None)), Outcome::Failed { endpos: None });
        assert!(Outcome::read(&record(), &ok("1", Some("dtmf"), None), false).is_err());
        assert!(Outcome::read(&record(), &ok("0", Some("other"), None), false).is_err());
    }

    #[test]
    fn get_data_digits_and_timeout() {
        let get = Command::GetData {
            file: SoundName::new("vm-password").unwrap(),
            timeout: None,
            max_digits: None,
        };
        let read = |s| Outcome::read(&get, &s, true).unwrap();
        let Outcome::Entered { digits, timed_out } = read(ok("1234", Some("timeout"), None)) else {
            panic!("not entered");
        };
        assert_eq!((digits.value().as_str(), timed_out), ("1234", true));
        assert_eq!(format!("{digits:?}"), "***");
        let Outcome::Entered { digits, timed_out } = read(ok("", None, None)) else {
            panic!("not entered");
        };
        assert_eq!((digits.value().as_str(), timed_out), ("", false));
        assert_eq!(read(ok("-1", None, None)), Outcome::Failed { endpos: None });
        assert!(Outcome::read(&get, &ok("12x", None, None), true).is_err());
    }

    #[test]
    fn unexpected_results_of_sensitive_commands_hide_their_bytes() {
        let wait = Command::WaitForDigit { timeout: None };
        let Err(Error::Misbehaviour(m)) = Outcome::read(&wait, &ok("7", None, None), true) else {
            panic!("accepted");
        };
        assert_eq!(m.bytes.as_bytes(), b"***");
        let Err(Error::Misbehaviour(m)) = Outcome::read(&wait, &ok("7", None, None), false) else {
            panic!("accepted");
        };
        assert_eq!(m.bytes.as_bytes(), b"200 result=7\n");
    }
}
