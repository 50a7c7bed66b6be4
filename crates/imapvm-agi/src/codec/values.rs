//! Validated values of AGI commands and results: invalid ones cannot be built, so an encoded
//! command always has the words it was built from (no injected words, no second line).

use std::fmt;

use imapvm_types::{Dtmf, DtmfSet};

use crate::Error;

/// The key an AGI result code names: its ASCII code (`35` is `#`); `None` for any other
/// number, negative or too large ones included.
pub(crate) fn key_of_code(code: i64) -> Option<Dtmf> {
    u8::try_from(code).ok().and_then(Dtmf::from_ascii)
}

/// The escape (or stop) digits of `STREAM FILE`, `RECORD FILE`, `SAY *`: a [`DtmfSet`] as a
/// command argument. Order does not matter to Asterisk (it tests membership with `strchr`);
/// the set renders in the order `0123456789*#ABCD` and is always sent quoted, so the empty
/// set is `""`. Any [`DtmfSet`] converts; [`Digits::new`] reads the text form.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Digits(DtmfSet);

impl Digits {
    /// No key interrupts.
    pub const NONE: Digits = Digits(DtmfSet::NONE);
    /// Any of `0123456789*#` interrupts (Asterisk's `AST_DIGIT_ANY` before 1.6; since then
    /// it holds `A`-`D` too, as [`DtmfSet::ANY`] does).
    pub const ANY: Digits = Digits(DtmfSet::of(Dtmf::ALL.split_at(12).0));

    /// The keys of `keys`, e.g. `"#0"`. Refuses any character that is not a DTMF key.
    pub fn new(keys: &str) -> Result<Digits, Error> {
        DtmfSet::parse(keys)
            .map(Digits)
            .map_err(|_| Error::invalid("digits", "only 0-9, *, # and A-D are DTMF keys"))
    }

    /// The keys, as a set.
    pub fn set(self) -> DtmfSet {
        self.0
    }
}

impl fmt::Display for Digits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for Digits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digits(\"{self}\")")
    }
}

impl From<DtmfSet> for Digits {
    fn from(keys: DtmfSet) -> Digits {
        Digits(keys)
    }
}

impl From<Digits> for DtmfSet {
    fn from(digits: Digits) -> DtmfSet {
        digits.0
    }
}

impl From<Dtmf> for Digits {
    fn from(key: Dtmf) -> Digits {
        Digits(DtmfSet::from(key))
    }
}

/// Whether `c` can stand in a bare (unquoted) word: `parse_args` splits at space and tab and
/// treats `"` and `\` specially; control characters (LF above all) would end or corrupt the
/// line.
fn bare_char(c: char) -> bool {
    !(c.is_whitespace() || c.is_control() || c == '"' || c == '\\')
}

fn word(what: &'static str, s: &str) -> Result<String, Error> {
    if s.is_empty() {
        return Err(Error::invalid(what, "empty"));
    }
    if !s.chars().all(bare_char) {
        return Err(Error::invalid(
            what,
            "contains a space, tab, quote, backslash or control character",
        ));
    }
    Ok(s.to_owned())
}

fn ascii_name(what: &'static str, s: &str) -> Result<String, Error> {
    if s.is_empty() {
        return Err(Error::invalid(what, "empty"));
    }
    if !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(Error::invalid(what, "only ASCII letters, digits and _"));
    }
    Ok(s.to_owned())
}

macro_rules! string_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            /// The text as it goes on the wire.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                Self::new(s)
            }
        }
    };
}

string_type!(
    /// A sound file for `STREAM FILE`, `GET DATA`, `RECORD FILE`...: a name such as
    /// `vm-intro` or a path such as `/var/spool/asterisk/voicemail/default/1234/INBOX/msg0000`,
    /// without the format extension. Sent as one bare word: no spaces, tabs, quotes,
    /// backslashes or control characters.
    SoundName
);

impl SoundName {
    /// A validated sound name.
    pub fn new(name: &str) -> Result<SoundName, Error> {
        word("sound name", name).map(SoundName)
    }
}

string_type!(
    /// A bare word for dialplan places and names: a context, an extension, a priority (number
    /// or label), a channel name such as `Local/1234@vm-0000001a;2`, a time zone such as
    /// `Europe/Berlin`. No spaces, tabs, quotes, backslashes or control characters.
    Word
);

impl Word {
    /// A validated word.
    pub fn new(word_text: &str) -> Result<Word, Error> {
        word("word", word_text).map(Word)
    }
}

string_type!(
    /// A channel variable or function name for `SET VARIABLE` / `GET VARIABLE`, e.g.
    /// `VMSTATUS`, `__INHERITED` or `CALLERID(num)`: a bare word starting with a letter or `_`.
    VarName
);

impl VarName {
    /// A validated variable name.
    pub fn new(name: &str) -> Result<VarName, Error> {
        let name = word("variable name", name)?;
        if !name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
            return Err(Error::invalid(
                "variable name",
                "must start with a letter or _",
            ));
        }
        Ok(VarName(name))
    }
}

string_type!(
    /// A dialplan application for `EXEC`, e.g. `Goto` or `VoiceMail`: ASCII letters, digits, `_`.
    AppName
);

impl AppName {
    /// A validated application name.
    pub fn new(name: &str) -> Result<AppName, Error> {
        ascii_name("application name", name).map(AppName)
    }
}

string_type!(
    /// A recording format for `RECORD FILE`, e.g. `wav`, `WAV`, `wav49`, `gsm`: ASCII letters,
    /// digits, `_`.
    Format
);

impl Format {
    /// A validated format name.
    pub fn new(name: &str) -> Result<Format, Error> {
        ascii_name("format", name).map(Format)
    }
}

string_type!(
    /// Free text that travels as one quoted word: a variable's value, a `VERBOSE` message,
    /// `EXEC` arguments, a `SAY DATETIME` format, a `GET FULL VARIABLE` expression. Quotes and
    /// backslashes are escaped on the wire; tabs are kept; other control characters (a line
    /// feed would end the command and start another) are refused. May be empty.
    Text
);

impl Text {
    /// Validated text.
    pub fn new(text: &str) -> Result<Text, Error> {
        if text.chars().any(|c| c.is_control() && c != '\t') {
            return Err(Error::invalid(
                "text",
                "contains a line break or another control character",
            ));
        }
        Ok(Text(text.to_owned()))
    }
}

string_type!(
    /// The digits `SAY DIGITS` speaks: `0`-`9`, `*`, `#`, `-`. `res_agi` first reads the word as
    /// an integer and answers `520` if it does not start with one, so the first character must
    /// be a digit (or `-` and a digit).
    SpokenDigits
);

impl SpokenDigits {
    /// Validated digits to speak.
    pub fn new(digits: &str) -> Result<SpokenDigits, Error> {
        if !digits
            .chars()
            .all(|c| c.is_ascii_digit() || "*#-".contains(c))
        {
            return Err(Error::invalid(
                "spoken digits",
                "only 0-9, *, # and - can be spoken",
            ));
        }
        let unsigned = digits.strip_prefix('-').unwrap_or(digits);
        if !unsigned.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(Error::invalid(
                "spoken digits",
                "res_agi needs a leading integer",
            ));
        }
        Ok(SpokenDigits(digits.to_owned()))
    }
}

/// The grammatical gender `SAY NUMBER` uses in languages that have one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Gender {
    /// `f`
    Feminine,
    /// `m`
    Masculine,
    /// `n`
    Neuter,
    /// `c` (common gender, e.g. Danish and Swedish)
    Common,
}

impl Gender {
    /// The option word Asterisk's `say.c` reads.
    pub fn as_str(self) -> &'static str {
        match self {
            Gender::Feminine => "f",
            Gender::Masculine => "m",
            Gender::Neuter => "n",
            Gender::Common => "c",
        }
    }
}

/// Where playing or recording stopped, as a response's `endpos=` says. The unit depends on
/// the command: samples (8000 a second for 8 kHz files) for `STREAM FILE`, `GET OPTION` and
/// `RECORD FILE`, milliseconds for `CONTROL STREAM FILE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpos {
    /// A position in samples.
    Samples(u64),
    /// A position in milliseconds.
    Millis(u64),
    /// The file played to its end (`endpos=-1`, `CONTROL STREAM FILE`'s answer then).
    End,
}

/// A value from a response that may be a PIN. `Debug` prints `***` when the command was sent
/// as sensitive ([`crate::Request::sensitive`]) [INV-6]; otherwise it prints the value.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Sensitive<T> {
    value: T,
    redacted: bool,
}

impl<T> Sensitive<T> {
    /// Wraps `value`; `redacted` hides it from `Debug`.
    pub fn new(value: T, redacted: bool) -> Self {
        Sensitive { value, redacted }
    }

    /// A value that is not secret.
    pub fn plain(value: T) -> Self {
        Sensitive::new(value, false)
    }

    /// The value. Do not log it when [`Sensitive::is_redacted`].
    pub fn value(&self) -> &T {
        &self.value
    }

    /// The value, unwrapped.
    pub fn into_value(self) -> T {
        self.value
    }

    /// Whether `Debug` hides the value.
    pub fn is_redacted(&self) -> bool {
        self.redacted
    }
}

impl Sensitive<String> {
    /// The digits as a [`Secret`](imapvm_types::Secret), e.g. a PIN entered with `GET DATA`,
    /// to compare with the mailbox's password without ever printing it.
    pub fn into_secret(self) -> imapvm_types::Secret {
        imapvm_types::Secret::new(self.value)
    }
}

impl<T: fmt::Debug> fmt::Debug for Sensitive<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.redacted {
            f.write_str("***")
        } else {
            self.value.fmt(f)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtmf_codes_are_ascii() {
        assert_eq!(key_of_code(35), Some(Dtmf::Pound));
        assert_eq!(key_of_code(42), Some(Dtmf::Star));
        assert_eq!(key_of_code(48), Some(Dtmf::Zero));
        assert_eq!(key_of_code(57), Some(Dtmf::Nine));
        assert_eq!(key_of_code(65), Some(Dtmf::A));
        assert_eq!(key_of_code(0), None);
        assert_eq!(key_of_code(-1), None);
        assert_eq!(key_of_code(300), None);
        for k in Dtmf::ALL {
            assert_eq!(key_of_code(i64::from(k.as_ascii())), Some(k));
        }
    }

    #[test]
    fn digits_render_in_canonical_order() {
        assert_eq!(Digits::new("#0").unwrap().to_string(), "0#");
        assert_eq!(Digits::ANY.to_string(), "0123456789*#");
        assert_eq!(Digits::NONE.to_string(), "");
        assert!(Digits::new("12x").is_err());
        assert!(Digits::new("1 2").is_err());
        assert!(Digits::new("#").unwrap().set().contains(Dtmf::Pound));
    }

    #[test]
    fn words_refuse_what_parse_args_would_split_or_escape() {
        for bad in ["", "a b", "a\tb", "a\"b", "a\\b", "a\nb", "a\rb", "a\0b"] {
            assert!(SoundName::new(bad).is_err(), "{bad:?}");
            assert!(Word::new(bad).is_err(), "{bad:?}");
        }
        assert!(SoundName::new("/var/spool/asterisk/vm/1234/INBOX/msg0000").is_ok());
        assert!(Word::new("Local/1234@vm-0000001a;2").is_ok());
        assert!(VarName::new("CALLERID(num)").is_ok());
        assert!(VarName::new("9X").is_err());
        assert!(AppName::new("Go to").is_err());
        assert!(Format::new("wav49").is_ok());
        assert!(Format::new("wav.gsm").is_err());
    }

    #[test]
    fn text_refuses_line_breaks_only_among_printables() {
        assert!(Text::new("").is_ok());
        assert!(Text::new("a \"quoted\" \\ value\twith tab").is_ok());
        assert!(Text::new("two\nlines").is_err());
        assert!(Text::new("cr\r").is_err());
        assert!(Text::new("nul\0").is_err());
    }

    #[test]
    fn spoken_digits_need_a_leading_integer() {
        assert!(SpokenDigits::new("1234").is_ok());
        assert!(SpokenDigits::new("12*#").is_ok());
        assert!(SpokenDigits::new("-5").is_ok());
        assert!(SpokenDigits::new("*12").is_err());
        assert!(SpokenDigits::new("").is_err());
        assert!(SpokenDigits::new("-").is_err());
        assert!(SpokenDigits::new("12a").is_err());
    }

    #[test]
    fn sensitive_values_hide_in_debug() {
        assert_eq!(
            format!("{:?}", Sensitive::new(Some(Dtmf::Four), true)),
            "***"
        );
        assert_eq!(
            format!("{:?}", Sensitive::plain(Some(Dtmf::Four))),
            "Some(Four)"
        );
    }
}
