//! The arguments of `VoiceMail(BOX@CONTEXT[&BOX2@CONTEXT2…][,OPTIONS])`, as a FastAGI
//! request carries them (`agi://HOST:4573/voicemail,BOX@CONTEXT&…,OPTIONS` → `agi_arg_1`,
//! `agi_arg_2`): [`LeaveArgs`] and [`LeaveOptions`].

use crate::io::Urgency;
use crate::names::{NameError, SpoolName};
use imapvm_types::{MailboxId, MailboxIdError};

/// The most mailboxes one `VoiceMail` call may name.
pub const MAX_RECIPIENTS: usize = 64;
/// The longest options string accepted, in bytes.
pub const MAX_OPTIONS: usize = 256;

/// Arguments that cannot start a `VoiceMail` call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArgsError {
    /// No mailbox was given. (Asterisk would ask for one with `vm-whichbox`; imapvm does
    /// not.)
    #[error("VoiceMail needs a mailbox: write BOX@CONTEXT as the first argument")]
    NoMailbox,
    /// A `&`-separated entry is not a mailbox.
    #[error("mailbox {position} of the VoiceMail argument, `{entry}`: {source}")]
    BadMailbox {
        /// Its position, from 1.
        position: usize,
        /// The entry as written (at most 200 characters).
        entry: String,
        /// Why it is not a mailbox.
        source: MailboxIdError,
    },
    /// More than [`MAX_RECIPIENTS`] mailboxes.
    #[error("VoiceMail names {count} mailboxes, over the limit of {MAX_RECIPIENTS}")]
    TooManyRecipients {
        /// How many were given.
        count: usize,
    },
    /// The options string is longer than [`MAX_OPTIONS`].
    #[error("the VoiceMail options are {len} bytes, over the limit of {MAX_OPTIONS}")]
    OptionsTooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// An option's `(` has no `)` (Asterisk refuses to run the application).
    #[error("VoiceMail option `{option}` has no closing parenthesis")]
    UnclosedParenthesis {
        /// The option letter.
        option: char,
    },
    /// `t(file)` names a file that cannot be played.
    #[error("VoiceMail option t: {0}")]
    BadBeep(#[source] NameError),
}

/// Which greeting the caller asked for (options `b` and `u`; `b` wins when both are given).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GreetingOption {
    /// Neither: only a temporary greeting is played, if one exists.
    #[default]
    None,
    /// `b`: the busy greeting; the invented one ends with `vm-isonphone`.
    Busy,
    /// `u`: the unavailable greeting; the invented one ends with `vm-isunavail`.
    Unavail,
}

/// What plays just before the recording (option `t`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Beep {
    /// `beep` (no `t`).
    #[default]
    Default,
    /// Nothing (a bare `t` or `t()`).
    Silent,
    /// `t(file)`: this file instead.
    File(SpoolName),
}

/// The options of `VoiceMail`.
///
/// Acted on: `b`, `u`, `s`, `S`, `U`, `P`, `t(file)`. Accepted and ignored (listed in
/// [`LeaveOptions::ignored`] so a binding can log them):
/// * `d(context)`: the keys that would jump into that context cannot be known over AGI;
/// * `g(gain)`: receive gain exists for DAHDI channels only;
/// * `e`: early media; the AGI leg is answered before the IVR runs;
/// * `p`, `a(…)`, `r`: VoiceMailMain's letters, which Asterisk accepts and ignores here;
/// * any other character: Asterisk logs "Unrecognized option" and goes on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LeaveOptions {
    /// `b` / `u`.
    pub greeting: GreetingOption,
    /// `s`: no `vm-intro`.
    pub silent: bool,
    /// `S`: no `vm-intro` if a recorded greeting file was played.
    pub silent_if_greeting: bool,
    /// `U` (wins) / `P`.
    pub urgency: Urgency,
    /// `t`.
    pub beep: Beep,
    /// The letters accepted and ignored, in the order given.
    pub ignored: String,
}

impl LeaveOptions {
    /// Parses an options string as Asterisk's `ast_app_parse_options` does: one letter
    /// per option, an argument in parentheses after any letter (nested parentheses
    /// count, `\` escapes the next character).
    pub fn parse(text: &str) -> Result<LeaveOptions, ArgsError> {
        if text.len() > MAX_OPTIONS {
            return Err(ArgsError::OptionsTooLong { len: text.len() });
        }
        let mut options = LeaveOptions::default();
        let (mut busy, mut unavail, mut urgent, mut priority) = (false, false, false, false);
        let mut chars = text.chars().peekable();
        while let Some(letter) = chars.next() {
            let argument = if chars.peek() == Some(&'(') {
                chars.next();
                let mut arg = String::new();
                let mut depth = 1;
                loop {
                    match chars.next() {
                        None => return Err(ArgsError::UnclosedParenthesis { option: letter }),
                        Some('\\') => arg.extend(chars.next()),
                        Some('(') => {
                            depth += 1;
                            arg.push('(');
                        }
                        Some(')') => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                            arg.push(')');
                        }
                        Some(c) => arg.push(c),
                    }
                }
                Some(arg)
            } else {
                None
            };
            match letter {
                'b' => busy = true,
                'u' => unavail = true,
                's' => options.silent = true,
                'S' => options.silent_if_greeting = true,
                'U' => urgent = true,
                'P' => priority = true,
                't' => {
                    options.beep = match argument.as_deref() {
                        None | Some("") => Beep::Silent,
                        Some(file) => Beep::File(SpoolName::new(file).map_err(ArgsError::BadBeep)?),
                    }
                }
                other => options.ignored.push(other),
            }
        }
        options.greeting = match (busy, unavail) {
            (true, _) => GreetingOption::Busy,
            (false, true) => GreetingOption::Unavail,
            (false, false) => GreetingOption::None,
        };
        options.urgency = match (urgent, priority) {
            (true, _) => Urgency::Urgent,
            (false, true) => Urgency::Priority,
            (false, false) => Urgency::Normal,
        };
        Ok(options)
    }
}

/// What `VoiceMail` was asked to do: the mailboxes (at least one, the first one's greeting
/// plays) and the options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaveArgs {
    recipients: Vec<MailboxId>,
    options: LeaveOptions,
}

impl LeaveArgs {
    /// Mailboxes and options given directly (1 to [`MAX_RECIPIENTS`] mailboxes).
    pub fn new(recipients: Vec<MailboxId>, options: LeaveOptions) -> Result<LeaveArgs, ArgsError> {
        match recipients.len() {
            0 => Err(ArgsError::NoMailbox),
            n if n > MAX_RECIPIENTS => Err(ArgsError::TooManyRecipients { count: n }),
            _ => Ok(LeaveArgs {
                recipients,
                options,
            }),
        }
    }

    /// Parses the AGI arguments (`agi_arg_1`, `agi_arg_2`, …): the first is
    /// `BOX[@CONTEXT][&BOX2[@CONTEXT2]…]` (context `default` when omitted; spaces around
    /// an entry are dropped); the rest, joined with `,` as Asterisk's argument splitter
    /// leaves them, are the options.
    pub fn parse<S: AsRef<str>>(args: &[S]) -> Result<LeaveArgs, ArgsError> {
        let Some(first) = args.first().map(AsRef::as_ref) else {
            return Err(ArgsError::NoMailbox);
        };
        if first.trim().is_empty() {
            return Err(ArgsError::NoMailbox);
        }
        let count = first.split('&').count();
        if count > MAX_RECIPIENTS {
            return Err(ArgsError::TooManyRecipients { count });
        }
        let recipients = first
            .split('&')
            .enumerate()
            .map(|(i, entry)| {
                let entry = entry.trim();
                MailboxId::parse(entry).map_err(|source| ArgsError::BadMailbox {
                    position: i + 1,
                    entry: entry.chars().take(200).collect(),
                    source,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let options = match args.get(1..) {
            Some(rest) if !rest.is_empty() => {
                let joined: Vec<&str> = rest.iter().map(AsRef::as_ref).collect();
                LeaveOptions::parse(&joined.join(","))?
            }
            _ => LeaveOptions::default(),
        };
        LeaveArgs::new(recipients, options)
    }

    /// The first mailbox: its greeting plays, its capacity is checked.
    pub fn primary(&self) -> &MailboxId {
        &self.recipients[0]
    }

    /// Every mailbox, the primary first.
    pub fn recipients(&self) -> &[MailboxId] {
        &self.recipients
    }

    /// The options.
    pub fn options(&self) -> &LeaveOptions {
        &self.options
    }
}
