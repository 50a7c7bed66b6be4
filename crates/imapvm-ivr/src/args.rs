//! The arguments of `VoiceMail(BOX@CONTEXT[&BOX2@CONTEXT2…][,OPTIONS])` and
//! `VoiceMailMain([BOX][@CONTEXT][,OPTIONS])`, as a FastAGI request carries them
//! (`agi://HOST:4573/voicemail,BOX@CONTEXT&…,OPTIONS` → `agi_arg_1`, `agi_arg_2`):
//! [`LeaveArgs`] and [`LeaveOptions`], [`MainArgs`] and [`MainOptions`]. Both read their
//! option letters with one tokenizer, Asterisk's `ast_app_parse_options`.

use crate::io::Urgency;
use crate::names::{NameError, SpoolName};
use imapvm_policy::Folder;
use imapvm_types::{DEFAULT_CONTEXT, MailboxId, MailboxIdError};

/// The most mailboxes one `VoiceMail` call may name.
pub const MAX_RECIPIENTS: usize = 64;
/// The longest options string accepted, in bytes.
pub const MAX_OPTIONS: usize = 256;

/// Arguments that cannot start a `VoiceMail` or `VoiceMailMain` call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArgsError {
    /// No mailbox was given. (Asterisk would ask for one with `vm-whichbox`; imapvm does
    /// not.)
    #[error("VoiceMail needs a mailbox: write BOX@CONTEXT as the first argument")]
    NoMailbox,
    /// A `&`-separated entry (or VoiceMailMain's `BOX@CONTEXT`) is not a mailbox.
    #[error("mailbox {position} of the argument, `{entry}`: {source}")]
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
    #[error("the options are {len} bytes, over the limit of {MAX_OPTIONS}")]
    OptionsTooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// An option's `(` has no `)` (Asterisk refuses to run the application).
    #[error("option `{option}` has no closing parenthesis")]
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
        let mut options = LeaveOptions::default();
        let (mut busy, mut unavail, mut urgent, mut priority) = (false, false, false, false);
        for (letter, argument) in option_letters(text)? {
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

/// Splits an options string as Asterisk's `ast_app_parse_options` does: one letter per
/// option, an argument in parentheses after any letter (nested parentheses count, `\`
/// escapes the next character). At most [`MAX_OPTIONS`] bytes.
fn option_letters(text: &str) -> Result<Vec<(char, Option<String>)>, ArgsError> {
    if text.len() > MAX_OPTIONS {
        return Err(ArgsError::OptionsTooLong { len: text.len() });
    }
    let mut letters = Vec::new();
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
        letters.push((letter, argument));
    }
    Ok(letters)
}

/// The arguments after the first, joined with `,` as Asterisk's two-field argument
/// splitter leaves them; `None` when there are none.
fn joined_options<S: AsRef<str>>(args: &[S]) -> Option<String> {
    match args.get(1..) {
        Some(rest) if !rest.is_empty() => {
            Some(rest.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(","))
        }
        _ => None,
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
        let options = match joined_options(args) {
            Some(text) => LeaveOptions::parse(&text)?,
            None => LeaveOptions::default(),
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

/// The options of `VoiceMailMain`.
///
/// Acted on: `s`, `p`, `a(folder)`, `r`. Accepted and ignored (listed in
/// [`MainOptions::ignored`]): `g(gain)` (receive gain exists for DAHDI channels only),
/// VoiceMail's letters and any other character, as Asterisk accepts them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MainOptions {
    /// `s`: no password is asked, if the argument names an existing mailbox.
    pub skip_password: bool,
    /// `p`: the mailbox argument is a prefix put in front of what the caller types.
    pub prefix: bool,
    /// `a(folder)`: skip the intro and play at once, urgent messages first, else this
    /// folder (0-9 or a folder name; anything else means 0, `INBOX`).
    pub autoplay: Option<Folder>,
    /// `r`: read-only; key 7 does nothing and delete is not offered.
    pub read_only: bool,
    /// The letters accepted and ignored, in the order given.
    pub ignored: String,
}

impl MainOptions {
    /// Parses an options string as Asterisk's `ast_app_parse_options` does (the same
    /// tokenizer as [`LeaveOptions::parse`]).
    pub fn parse(text: &str) -> Result<MainOptions, ArgsError> {
        let mut options = MainOptions::default();
        for (letter, argument) in option_letters(text)? {
            match letter {
                's' => options.skip_password = true,
                'p' => options.prefix = true,
                'r' => options.read_only = true,
                'a' => options.autoplay = Some(autoplay_folder(argument.as_deref())),
                other => options.ignored.push(other),
            }
        }
        Ok(options)
    }
}

/// The folder of `a(…)` as `vm_execmain` reads it: leading digits are the index, else a
/// folder name (ASCII case-insensitive); an index above 9, an unknown name, `Urgent`,
/// `Deleted` or nothing at all mean 0 (`INBOX`).
fn autoplay_folder(argument: Option<&str>) -> Folder {
    let Some(text) = argument.map(str::trim).filter(|t| !t.is_empty()) else {
        return Folder::Inbox;
    };
    let index = if text.starts_with(|c: char| c.is_ascii_digit()) {
        let digits: String = text
            .chars()
            .take_while(char::is_ascii_digit)
            .take(9)
            .collect();
        digits.parse::<i32>().unwrap_or(i32::MAX)
    } else {
        Folder::from_name(text).map_or(-1, Folder::index)
    };
    if (0..=9).contains(&index) {
        Folder::from_index(index).unwrap_or(Folder::Inbox)
    } else {
        Folder::Inbox
    }
}

/// What `VoiceMailMain` was asked to do: perhaps a mailbox (or, with `p`, a prefix),
/// perhaps a context, and the options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MainArgs {
    named: Option<MailboxId>,
    prefix: String,
    context: Option<String>,
    options: MainOptions,
}

impl MainArgs {
    /// Parses the AGI arguments (`agi_arg_1`, `agi_arg_2`, …). The first is
    /// `[BOX][@CONTEXT]` (spaces around it dropped); the rest, joined with `,`, are the
    /// options. With a single argument, leading `s` and `p` characters of it are the
    /// options (Asterisk's old syntax: `s1234` is a silent login to 1234). No argument at
    /// all asks the caller for everything.
    pub fn parse<S: AsRef<str>>(args: &[S]) -> Result<MainArgs, ArgsError> {
        let first = args.first().map_or("", |a| a.as_ref().trim());
        let (options, field) = match joined_options(args) {
            Some(text) => (MainOptions::parse(&text)?, first),
            None => {
                let mut options = MainOptions::default();
                let mut rest = first;
                loop {
                    if let Some(tail) = rest.strip_prefix('s') {
                        options.skip_password = true;
                        rest = tail;
                    } else if let Some(tail) = rest.strip_prefix('p') {
                        options.prefix = true;
                        rest = tail;
                    } else {
                        break;
                    }
                }
                (options, rest)
            }
        };
        let bad = |source| ArgsError::BadMailbox {
            position: 1,
            entry: field.chars().take(200).collect(),
            source,
        };
        let (text, context) = match field.split_once('@') {
            Some((text, context)) => (text, Some(context)),
            None => (field, None),
        };
        if let Some(context) = context {
            // A context alone (`@sales`) is valid: the caller types the box.
            MailboxId::new("0", context).map_err(bad)?;
        }
        let in_context = context.unwrap_or(DEFAULT_CONTEXT);
        let (named, prefix) = match (text.is_empty(), options.prefix) {
            (true, _) => (None, String::new()),
            (false, true) => {
                MailboxId::new(text, in_context).map_err(bad)?;
                (None, text.to_owned())
            }
            (false, false) => (
                Some(MailboxId::new(text, in_context).map_err(bad)?),
                String::new(),
            ),
        };
        Ok(MainArgs {
            named,
            prefix,
            context: context.map(str::to_owned),
            options,
        })
    }

    /// The mailbox the argument names (`BOX@CONTEXT`, context `default` when omitted);
    /// `None` with `p` or without a box.
    pub fn mailbox(&self) -> Option<&MailboxId> {
        self.named.as_ref()
    }

    /// With `p`: what is put in front of the digits the caller types (empty otherwise).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The context the argument gives, if any.
    pub fn context_given(&self) -> Option<&str> {
        self.context.as_deref()
    }

    /// The context of typed mailboxes and of forward and send targets: the argument's,
    /// else `default`.
    pub fn context(&self) -> &str {
        self.context.as_deref().unwrap_or(DEFAULT_CONTEXT)
    }

    /// The options.
    pub fn options(&self) -> &MainOptions {
        &self.options
    }
}
