//! [`Command`]: the AGI commands the voicemail flows need, typed, and their encoding by
//! `res_agi`'s `parse_args()` rules.
//!
//! A command is one line ended by LF (never CR: `res_agi` would keep it as part of the last
//! word). Words are separated by a space; every value that is not a validated bare word is
//! sent in double quotes with `"` and `\` escaped by a backslash, so `parse_args` gives back
//! exactly the value, and no value can end the line or add a word.

use std::time::Duration;

use imapvm_types::{Dtmf, DtmfSet};

use super::values::{
    AppName, Digits, Format, Gender, SoundName, SpokenDigits, Text, VarName, Word,
};
use crate::limits::{MAX_COMMAND_LINE, MAX_COMMAND_WORDS};
use crate::{Error, LimitKind, Misuse};

/// The format (and optionally the time zone) of `SAY DATETIME`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DateFormat {
    /// The format, e.g. `'vm-received' q 'digits/at' IMp` (Asterisk's `say.c` letters, with
    /// sound files in single quotes).
    pub format: Text,
    /// The zone, e.g. `Europe/Berlin`; `None` is the system zone of Asterisk.
    pub zone: Option<Word>,
}

/// An AGI command, with values that are valid by construction.
///
/// Results (see [`crate::Outcome`]) and the notes are `res_agi`'s (Asterisk 22).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `ANSWER`: answers the channel (AGI does not answer by itself).
    Answer,
    /// `STREAM FILE file "escape" [offset]`: plays a file; a key in `escape` stops it, other
    /// keys are discarded. A missing file gives `result=-1 endpos=0` without a hangup.
    StreamFile {
        /// The file, without extension.
        file: SoundName,
        /// The keys that stop playback.
        escape: Digits,
        /// Where to start, in samples.
        offset: Option<u32>,
    },
    /// `CONTROL STREAM FILE file "stop" skipms ff rew [pause [offsetms]]`: plays with
    /// fast-forward, rewind and pause keys; `endpos` is in milliseconds.
    ControlStreamFile {
        /// The file, without extension.
        file: SoundName,
        /// The keys that stop playback. Must not contain the ff, rew or pause key: Asterisk
        /// checks those first, so such a stop key would never stop.
        stop: Digits,
        /// How far ff and rew jump (Asterisk's default is 3 s).
        skip: Duration,
        /// The fast-forward key (Asterisk's default is `#`).
        forward: Dtmf,
        /// The rewind key (Asterisk's default is `*`).
        rewind: Dtmf,
        /// The pause key: pressing it again resumes.
        pause: Option<Dtmf>,
        /// Where to start.
        offset: Option<Duration>,
    },
    /// `GET DATA file [timeout_ms [max]]`: plays a prompt and collects digits until `#`,
    /// `max` digits or the timeout (used for the first digit and between digits; Asterisk's
    /// default is 6 s / 2 s). `#` is not returned.
    GetData {
        /// The prompt (one file).
        file: SoundName,
        /// The digit timeout; `None` (or zero) is Asterisk's default.
        timeout: Option<Duration>,
        /// The most digits (Asterisk's default is 1024).
        max_digits: Option<u16>,
    },
    /// `GET OPTION file "escape" [timeout_ms]`: like `STREAM FILE`, then waits for a key.
    GetOption {
        /// The file, without extension.
        file: SoundName,
        /// The keys that count.
        escape: Digits,
        /// How long to wait after playing; `None` is the channel's digit timeout (5 s).
        timeout: Option<Duration>,
    },
    /// `WAIT FOR DIGIT timeout_ms`: waits for any DTMF key.
    WaitForDigit {
        /// How long to wait; `None` waits for ever (`-1`).
        timeout: Option<Duration>,
    },
    /// `RECORD FILE file format "escape" timeout_ms [offset] [BEEP] [s=N]`: records until a
    /// key in `escape`, the timeout, `silence` seconds of silence, or hangup. The file is
    /// written by Asterisk (overwritten from `offset`).
    RecordFile {
        /// The file to write, without extension.
        file: SoundName,
        /// Its format, e.g. `wav`.
        format: Format,
        /// The keys that stop recording (the last 200 ms are cut).
        escape: Digits,
        /// The longest recording; `None` is no limit (`-1`).
        timeout: Option<Duration>,
        /// Where to start writing, in samples.
        offset: Option<u32>,
        /// Play a beep first (`BEEP`).
        beep: bool,
        /// Stop after this many seconds of silence (`s=N`).
        silence: Option<u32>,
    },
    /// `SAY NUMBER n "escape" [gender]`.
    SayNumber {
        /// The number.
        number: i32,
        /// The keys that interrupt.
        escape: Digits,
        /// The gender, for languages that have one.
        gender: Option<Gender>,
    },
    /// `SAY DIGITS digits "escape"`: speaks each digit.
    SayDigits {
        /// The digits.
        digits: SpokenDigits,
        /// The keys that interrupt.
        escape: Digits,
    },
    /// `SAY DATETIME epoch "escape" [format [zone]]`.
    SayDateTime {
        /// Seconds since the Unix epoch.
        time: i64,
        /// The keys that interrupt.
        escape: Digits,
        /// The format and zone; `None` is Asterisk's default for the channel's language.
        format: Option<DateFormat>,
    },
    /// `SET VARIABLE name "value"`.
    SetVariable {
        /// The variable.
        name: VarName,
        /// Its new value.
        value: Text,
    },
    /// `GET VARIABLE name`: a name ending in `)` is read as a function.
    GetVariable {
        /// The variable or function.
        name: VarName,
    },
    /// `GET FULL VARIABLE "expression" [channel]`, e.g. `${VMSTATUS}`.
    GetFullVariable {
        /// The expression to expand.
        expression: Text,
        /// Another channel to evaluate it on.
        channel: Option<Word>,
    },
    /// `EXEC application "args"`: runs a dialplan application. Allowed on dead channels.
    Exec {
        /// The application.
        application: AppName,
        /// Its arguments, as one string (variable-substituted by Asterisk with
        /// `AGIEXECFULL=yes`).
        args: Text,
    },
    /// `VERBOSE "message" [level]`: a line in Asterisk's log.
    Verbose {
        /// The message.
        message: Text,
        /// The verbosity level (1-4).
        level: Option<u8>,
    },
    /// `HANGUP [channel]`: hangs up this channel (a `HANGUP` line follows) or another one.
    Hangup {
        /// Another channel; `None` is this one.
        channel: Option<Word>,
    },
    /// `CHANNEL STATUS [channel]`.
    ChannelStatus {
        /// Another channel; `None` is this one.
        channel: Option<Word>,
    },
    /// `SET CONTEXT context`: where the dialplan goes on after the AGI.
    SetContext {
        /// The context.
        context: Word,
    },
    /// `SET EXTENSION extension`.
    SetExtension {
        /// The extension.
        extension: Word,
    },
    /// `SET PRIORITY priority` (a number or a label).
    SetPriority {
        /// The priority.
        priority: Word,
    },
    /// `NOOP`.
    Noop,
}

/// One word of a command line: bare (validated to need no quoting) or quoted.
enum Arg<'a> {
    Bare(&'a str),
    Owned(String),
    Quoted(&'a str),
}

impl Command {
    /// The command's name as sent, e.g. `STREAM FILE`.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Answer => "ANSWER",
            Command::StreamFile { .. } => "STREAM FILE",
            Command::ControlStreamFile { .. } => "CONTROL STREAM FILE",
            Command::GetData { .. } => "GET DATA",
            Command::GetOption { .. } => "GET OPTION",
            Command::WaitForDigit { .. } => "WAIT FOR DIGIT",
            Command::RecordFile { .. } => "RECORD FILE",
            Command::SayNumber { .. } => "SAY NUMBER",
            Command::SayDigits { .. } => "SAY DIGITS",
            Command::SayDateTime { .. } => "SAY DATETIME",
            Command::SetVariable { .. } => "SET VARIABLE",
            Command::GetVariable { .. } => "GET VARIABLE",
            Command::GetFullVariable { .. } => "GET FULL VARIABLE",
            Command::Exec { .. } => "EXEC",
            Command::Verbose { .. } => "VERBOSE",
            Command::Hangup { .. } => "HANGUP",
            Command::ChannelStatus { .. } => "CHANNEL STATUS",
            Command::SetContext { .. } => "SET CONTEXT",
            Command::SetExtension { .. } => "SET EXTENSION",
            Command::SetPriority { .. } => "SET PRIORITY",
            Command::Noop => "NOOP",
        }
    }

    /// The command line, LF included.
    ///
    /// Fails with [`Misuse::InvalidArgument`] for values Asterisk cannot read (a timeout
    /// beyond its `int` milliseconds, CONTROL STREAM FILE keys that overlap) and with
    /// [`Error::Limit`] for a line beyond [`MAX_COMMAND_LINE`] bytes or
    /// [`MAX_COMMAND_WORDS`] words.
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        let args = self.args()?;
        let words = self.name().split(' ').count() + args.len();
        if words > MAX_COMMAND_WORDS {
            return Err(Error::limit(
                LimitKind::CommandWords,
                words,
                MAX_COMMAND_WORDS,
            ));
        }
        let mut line = self.name().as_bytes().to_vec();
        for arg in &args {
            line.push(b' ');
            match arg {
                Arg::Bare(s) => line.extend_from_slice(s.as_bytes()),
                Arg::Owned(s) => line.extend_from_slice(s.as_bytes()),
                Arg::Quoted(s) => quote_into(s, &mut line),
            }
        }
        line.push(b'\n');
        if line.len() > MAX_COMMAND_LINE {
            return Err(Error::limit(
                LimitKind::CommandLine,
                line.len(),
                MAX_COMMAND_LINE,
            ));
        }
        Ok(line)
    }

    fn args(&self) -> Result<Vec<Arg<'_>>, Error> {
        use Arg::{Bare, Owned};
        let keys = |d: &Digits| Owned(format!("\"{d}\""));
        let mut args = Vec::new();
        match self {
            Command::Answer | Command::Noop => {}
            Command::StreamFile {
                file,
                escape,
                offset,
            } => {
                args.extend([Bare(file.as_str()), keys(escape)]);
                args.extend(offset.map(|o| Owned(o.to_string())));
            }
            Command::ControlStreamFile {
                file,
                stop,
                skip,
                forward,
                rewind,
                pause,
                offset,
            } => {
                let mut used = DtmfSet::NONE;
                for key in [Some(*forward), Some(*rewind), *pause]
                    .into_iter()
                    .flatten()
                {
                    if used.contains(key) || stop.set().contains(key) {
                        return Err(Error::invalid(
                            "CONTROL STREAM FILE keys",
                            "stop, forward, rewind and pause keys must differ",
                        ));
                    }
                    used = used.with(key);
                }
                args.extend([
                    Bare(file.as_str()),
                    keys(stop),
                    Owned(millis("CONTROL STREAM FILE skip", *skip)?.to_string()),
                    keys(&Digits::from(*forward)),
                    keys(&Digits::from(*rewind)),
                ]);
                if pause.is_some() || offset.is_some() {
                    args.push(keys(&pause.map(Digits::from).unwrap_or_default()));
                }
                if let Some(offset) = offset {
                    let ms = millis("CONTROL STREAM FILE offset", *offset)?;
                    args.push(Owned(ms.to_string()));
                }
            }
            Command::GetData {
                file,
                timeout,
                max_digits,
            } => {
                args.push(Bare(file.as_str()));
                if timeout.is_some() || max_digits.is_some() {
                    let ms = timeout.map_or(Ok(0), |t| millis("GET DATA timeout", t))?;
                    args.push(Owned(ms.to_string()));
                }
                args.extend(max_digits.map(|m| Owned(m.to_string())));
            }
            Command::GetOption {
                file,
                escape,
                timeout,
            } => {
                args.extend([Bare(file.as_str()), keys(escape)]);
                if let Some(t) = timeout {
                    args.push(Owned(millis("GET OPTION timeout", *t)?.to_string()));
                }
            }
            Command::WaitForDigit { timeout } => {
                args.push(Owned(forever_or_millis(
                    "WAIT FOR DIGIT timeout",
                    *timeout,
                )?));
            }
            Command::RecordFile {
                file,
                format,
                escape,
                timeout,
                offset,
                beep,
                silence,
            } => {
                args.extend([
                    Bare(file.as_str()),
                    Bare(format.as_str()),
                    keys(escape),
                    Owned(forever_or_millis("RECORD FILE timeout", *timeout)?),
                ]);
                // res_agi reads argument 6 as the offset when it is a number; BEEP and s=N
                // may follow in 6, 7 or 8. An explicit offset keeps BEEP from being taken
                // for it.
                if offset.is_some() || *beep || silence.is_some() {
                    args.push(Owned(offset.unwrap_or(0).to_string()));
                }
                if *beep {
                    args.push(Bare("BEEP"));
                }
                args.extend(silence.map(|s| Owned(format!("s={s}"))));
            }
            Command::SayNumber {
                number,
                escape,
                gender,
            } => {
                args.extend([Owned(number.to_string()), keys(escape)]);
                args.extend(gender.map(|g| Bare(g.as_str())));
            }
            Command::SayDigits { digits, escape } => {
                args.extend([Bare(digits.as_str()), keys(escape)]);
            }
            Command::SayDateTime {
                time,
                escape,
                format,
            } => {
                args.extend([Owned(time.to_string()), keys(escape)]);
                if let Some(DateFormat { format, zone }) = format {
                    args.push(Arg::Quoted(format.as_str()));
                    args.extend(zone.as_ref().map(|z| Bare(z.as_str())));
                }
            }
            Command::SetVariable { name, value } => {
                args.extend([Bare(name.as_str()), Arg::Quoted(value.as_str())]);
            }
            Command::GetVariable { name } => args.push(Bare(name.as_str())),
            Command::GetFullVariable {
                expression,
                channel,
            } => {
                args.push(Arg::Quoted(expression.as_str()));
                args.extend(channel.as_ref().map(|c| Bare(c.as_str())));
            }
            Command::Exec {
                application,
                args: a,
            } => {
                args.extend([Bare(application.as_str()), Arg::Quoted(a.as_str())]);
            }
            Command::Verbose { message, level } => {
                args.push(Arg::Quoted(message.as_str()));
                args.extend(level.map(|l| Owned(l.to_string())));
            }
            Command::Hangup { channel } | Command::ChannelStatus { channel } => {
                args.extend(channel.as_ref().map(|c| Bare(c.as_str())));
            }
            Command::SetContext { context: w }
            | Command::SetExtension { extension: w }
            | Command::SetPriority { priority: w } => args.push(Bare(w.as_str())),
        }
        Ok(args)
    }
}

/// `"text"` with `"` and `\` escaped: `parse_args` gives back `text` as one word.
fn quote_into(text: &str, line: &mut Vec<u8>) {
    line.push(b'"');
    for b in text.bytes() {
        if b == b'"' || b == b'\\' {
            line.push(b'\\');
        }
        line.push(b);
    }
    line.push(b'"');
}

/// Milliseconds as Asterisk's `int` reads them.
fn millis(what: &'static str, d: Duration) -> Result<i32, Error> {
    i32::try_from(d.as_millis()).map_err(|_| {
        Error::Misuse(Misuse::InvalidArgument {
            what,
            reason: "longer than 2^31 ms",
        })
    })
}

fn forever_or_millis(what: &'static str, d: Option<Duration>) -> Result<String, Error> {
    Ok(match d {
        None => "-1".to_owned(),
        Some(d) => millis(what, d)?.to_string(),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn line(c: &Command) -> String {
        String::from_utf8(c.encode().unwrap()).unwrap()
    }

    /// fake_agi.py's recording: `RECORD FILE /tmp/rec1 wav "#" 10000 BEEP s=3`.
    pub(crate) fn record_sample() -> Command {
        Command::RecordFile {
            file: SoundName::new("/tmp/rec1").unwrap(),
            format: Format::new("wav").unwrap(),
            escape: Digits::new("#").unwrap(),
            timeout: Some(Duration::from_secs(10)),
            offset: None,
            beep: true,
            silence: Some(3),
        }
    }

    #[test]
    fn lines_match_the_reference_transcripts() {
        let sound = |s| SoundName::new(s).unwrap();
        assert_eq!(
            line(&Command::StreamFile {
                file: sound("vm-intro"),
                escape: Digits::NONE,
                offset: None
            }),
            "STREAM FILE vm-intro \"\"\n"
        );
        assert_eq!(
            line(&record_sample()),
            "RECORD FILE /tmp/rec1 wav \"#\" 10000 0 BEEP s=3\n"
        );
        assert_eq!(
            line(&Command::SetVariable {
                name: VarName::new("VMSTATUS").unwrap(),
                value: Text::new("SUCCESS").unwrap()
            }),
            "SET VARIABLE VMSTATUS \"SUCCESS\"\n"
        );
        assert_eq!(
            line(&Command::WaitForDigit { timeout: None }),
            "WAIT FOR DIGIT -1\n"
        );
        assert_eq!(
            line(&Command::ControlStreamFile {
                file: sound("msg0000"),
                stop: Digits::new("13456789").unwrap(),
                skip: Duration::from_secs(3),
                forward: Dtmf::Pound,
                rewind: Dtmf::Star,
                pause: Some(Dtmf::Zero),
                offset: None,
            }),
            "CONTROL STREAM FILE msg0000 \"13456789\" 3000 \"#\" \"*\" \"0\"\n"
        );
        assert_eq!(
            line(&Command::Verbose {
                message: Text::new("say \"hi\" \\ bye").unwrap(),
                level: Some(1)
            }),
            "VERBOSE \"say \\\"hi\\\" \\\\ bye\" 1\n"
        );
    }

    #[test]
    fn overlapping_control_keys_are_refused() {
        let c = Command::ControlStreamFile {
            file: SoundName::new("m").unwrap(),
            stop: Digits::new("#1").unwrap(),
            skip: Duration::from_secs(3),
            forward: Dtmf::Pound,
            rewind: Dtmf::Star,
            pause: None,
            offset: None,
        };
        assert!(matches!(c.encode(), Err(Error::Misuse(_))));
    }

    #[test]
    fn too_long_lines_and_timeouts_are_refused() {
        let c = Command::Verbose {
            message: Text::new(&"x".repeat(MAX_COMMAND_LINE)).unwrap(),
            level: None,
        };
        assert!(matches!(
            c.encode(),
            Err(Error::Limit(crate::LimitExceeded {
                kind: LimitKind::CommandLine,
                ..
            }))
        ));
        let fits = Command::Verbose {
            message: Text::new(&"x".repeat(MAX_COMMAND_LINE - "VERBOSE \"\"\n".len())).unwrap(),
            level: None,
        };
        assert_eq!(fits.encode().unwrap().len(), MAX_COMMAND_LINE);
        let c = Command::WaitForDigit {
            timeout: Some(Duration::from_secs(3_000_000)),
        };
        assert!(matches!(c.encode(), Err(Error::Misuse(_))));
    }
}
