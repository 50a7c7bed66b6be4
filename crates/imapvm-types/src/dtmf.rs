//! Telephone keys: [`Dtmf`], one key, and [`DtmfSet`], a set of them (the escape digits of
//! a prompt, the keys that end a recording). The AGI wire (`imapvm-agi`) and the call flows
//! (`imapvm-ivr`) both speak of keys in these types.

use std::fmt;
use std::str::FromStr;

/// One DTMF key, as Asterisk reports it: `0`-`9`, `*`, `#`, and the rare `A`-`D`.
///
/// AGI reports a key as its ASCII code (`#` = 35, `*` = 42, `0`-`9` = 48-57, `A`-`D` =
/// 65-68); [`Dtmf::from_ascii`] reads that form. `Display` writes the key's character.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dtmf {
    /// `0`
    Zero,
    /// `1`
    One,
    /// `2`
    Two,
    /// `3`
    Three,
    /// `4`
    Four,
    /// `5`
    Five,
    /// `6`
    Six,
    /// `7`
    Seven,
    /// `8`
    Eight,
    /// `9`
    Nine,
    /// `*` (star)
    Star,
    /// `#` (pound)
    Pound,
    /// `A`
    A,
    /// `B`
    B,
    /// `C`
    C,
    /// `D`
    D,
}

impl Dtmf {
    /// All sixteen keys, in the order `0`-`9`, `*`, `#`, `A`-`D`.
    pub const ALL: [Dtmf; 16] = [
        Dtmf::Zero,
        Dtmf::One,
        Dtmf::Two,
        Dtmf::Three,
        Dtmf::Four,
        Dtmf::Five,
        Dtmf::Six,
        Dtmf::Seven,
        Dtmf::Eight,
        Dtmf::Nine,
        Dtmf::Star,
        Dtmf::Pound,
        Dtmf::A,
        Dtmf::B,
        Dtmf::C,
        Dtmf::D,
    ];

    /// The key a character names (`'#'` → [`Dtmf::Pound`]): `0`-`9`, `*`, `#`, `A`-`D`.
    /// Asterisk writes the letters in upper case only; `'a'` is not a key.
    pub const fn from_char(c: char) -> Option<Dtmf> {
        Some(match c {
            '0'..='9' => Dtmf::ALL[(c as u8 - b'0') as usize],
            '*' => Dtmf::Star,
            '#' => Dtmf::Pound,
            'A' => Dtmf::A,
            'B' => Dtmf::B,
            'C' => Dtmf::C,
            'D' => Dtmf::D,
            _ => return None,
        })
    }

    /// The key an ASCII code names, as AGI results carry it (`35` → [`Dtmf::Pound`]).
    pub const fn from_ascii(code: u8) -> Option<Dtmf> {
        Dtmf::from_char(code as char)
    }

    /// The key's character (`'#'`).
    pub const fn as_char(self) -> char {
        match self {
            Dtmf::Star => '*',
            Dtmf::Pound => '#',
            Dtmf::A => 'A',
            Dtmf::B => 'B',
            Dtmf::C => 'C',
            Dtmf::D => 'D',
            digit => (b'0' + digit as u8) as char,
        }
    }

    /// The key's ASCII code, as AGI results carry it (`b'#'` = 35).
    pub const fn as_ascii(self) -> u8 {
        self.as_char() as u8
    }

    /// The decimal value of `0`-`9`; `None` for the other keys.
    pub const fn digit(self) -> Option<u8> {
        let i = self as u8;
        if i < 10 { Some(i) } else { None }
    }

    const fn bit(self) -> u16 {
        1 << self as u16
    }
}

impl fmt::Display for Dtmf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_char())
    }
}

/// A set of keys: which keys may interrupt a prompt, or end a recording.
///
/// Asterisk calls this an *escape digits* string (`"#0*"`); it tests a key with `strchr`,
/// so the order carries no meaning and this is a set. `Display` writes the keys in the
/// order of [`Dtmf::ALL`] (`0*#`); [`DtmfSet::parse`] reads any order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DtmfSet(u16);

impl DtmfSet {
    /// No key: the prompt plays to its end, and keys pressed meanwhile are lost
    /// (Asterisk's `AST_DIGIT_NONE`, `""`).
    pub const NONE: DtmfSet = DtmfSet(0);
    /// Every key (Asterisk's `AST_DIGIT_ANY`, `"0123456789#*ABCD"`, as
    /// `ast_play_and_wait` uses it).
    pub const ANY: DtmfSet = DtmfSet(u16::MAX);

    /// The set holding exactly these keys.
    pub const fn of(keys: &[Dtmf]) -> DtmfSet {
        let mut bits = 0u16;
        let mut i = 0;
        while i < keys.len() {
            bits |= keys[i].bit();
            i += 1;
        }
        DtmfSet(bits)
    }

    /// Reads an escape-digits string such as `"#0*"` (any order, repeats allowed); every
    /// character must be a key ([`Dtmf::from_char`]).
    pub fn parse(text: &str) -> Result<DtmfSet, DtmfError> {
        text.chars()
            .enumerate()
            .try_fold(DtmfSet::NONE, |set, (at, ch)| match Dtmf::from_char(ch) {
                Some(key) => Ok(set.with(key)),
                None => Err(DtmfError::NotAKey { ch, at }),
            })
    }

    /// This set plus `key`.
    #[must_use]
    pub const fn with(self, key: Dtmf) -> DtmfSet {
        DtmfSet(self.0 | key.bit())
    }

    /// Whether `key` is in the set.
    pub const fn contains(self, key: Dtmf) -> bool {
        self.0 & key.bit() != 0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The keys, in the order of [`Dtmf::ALL`].
    pub fn iter(self) -> impl Iterator<Item = Dtmf> {
        Dtmf::ALL.into_iter().filter(move |k| self.contains(*k))
    }
}

impl From<Dtmf> for DtmfSet {
    fn from(key: Dtmf) -> DtmfSet {
        DtmfSet::NONE.with(key)
    }
}

impl FromIterator<Dtmf> for DtmfSet {
    fn from_iter<I: IntoIterator<Item = Dtmf>>(keys: I) -> DtmfSet {
        keys.into_iter().fold(DtmfSet::NONE, DtmfSet::with)
    }
}

impl fmt::Display for DtmfSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.iter().try_for_each(|k| write!(f, "{k}"))
    }
}

impl fmt::Debug for DtmfSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DtmfSet(\"{self}\")")
    }
}

impl FromStr for DtmfSet {
    type Err = DtmfError;

    fn from_str(s: &str) -> Result<DtmfSet, DtmfError> {
        DtmfSet::parse(s)
    }
}

/// Why a text is not a set of keys.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DtmfError {
    /// A character that is not a key.
    NotAKey {
        /// The character.
        ch: char,
        /// Its position, in characters from 0.
        at: usize,
    },
}

impl fmt::Display for DtmfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DtmfError::NotAKey { ch, at } => write!(
                f,
                "{ch:?} at position {at} is not a DTMF key (only 0-9, *, # and A-D are)"
            ),
        }
    }
}

impl std::error::Error for DtmfError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_round_trips_through_its_character_and_ascii_code() {
        for key in Dtmf::ALL {
            assert_eq!(Dtmf::from_char(key.as_char()), Some(key));
            assert_eq!(Dtmf::from_ascii(key.as_ascii()), Some(key));
            assert_eq!(key.to_string(), key.as_char().to_string());
        }
        assert_eq!(Dtmf::from_ascii(35), Some(Dtmf::Pound));
        assert_eq!(Dtmf::from_ascii(42), Some(Dtmf::Star));
        assert_eq!(Dtmf::from_ascii(48), Some(Dtmf::Zero));
        assert_eq!(Dtmf::from_ascii(57), Some(Dtmf::Nine));
        assert_eq!(Dtmf::from_ascii(65), Some(Dtmf::A));
        assert_eq!(Dtmf::from_ascii(68), Some(Dtmf::D));
        assert_eq!(Dtmf::Pound.as_ascii(), b'#');
        assert_eq!(Dtmf::Seven.digit(), Some(7));
        assert_eq!(Dtmf::Zero.digit(), Some(0));
        assert_eq!(Dtmf::Pound.digit(), None);
        assert_eq!(Dtmf::A.digit(), None);
    }

    #[test]
    fn only_the_sixteen_characters_are_keys() {
        let keys: String = Dtmf::ALL.iter().map(|k| k.as_char()).collect();
        assert_eq!(keys, "0123456789*#ABCD");
        for code in 0..=u8::MAX {
            let named = Dtmf::from_ascii(code);
            assert_eq!(named.is_some(), keys.contains(char::from(code)), "{code}");
        }
        assert_eq!(Dtmf::from_char('a'), None);
        assert_eq!(Dtmf::from_char('E'), None);
        assert_eq!(Dtmf::from_char('٣'), None);
    }

    #[test]
    fn a_set_prints_in_canonical_order_and_parses_back() {
        let ecodes = DtmfSet::of(&[Dtmf::Pound, Dtmf::Zero, Dtmf::Star]);
        assert_eq!(ecodes.to_string(), "0*#");
        assert_eq!(format!("{ecodes:?}"), "DtmfSet(\"0*#\")");
        assert_eq!(DtmfSet::parse("#0*"), Ok(ecodes));
        assert_eq!(DtmfSet::parse("#00**#"), Ok(ecodes));
        assert_eq!("0*#".parse::<DtmfSet>(), Ok(ecodes));
        assert_eq!(DtmfSet::ANY.to_string(), "0123456789*#ABCD");
        assert_eq!(DtmfSet::parse("0123456789#*ABCD"), Ok(DtmfSet::ANY));
        assert_eq!(DtmfSet::NONE.to_string(), "");
        assert_eq!(DtmfSet::parse(""), Ok(DtmfSet::NONE));
        assert_eq!(DtmfSet::default(), DtmfSet::NONE);
    }

    #[test]
    fn a_character_that_is_not_a_key_is_named_with_its_position() {
        assert_eq!(
            DtmfSet::parse("#x"),
            Err(DtmfError::NotAKey { ch: 'x', at: 1 })
        );
        assert_eq!(
            DtmfSet::parse("1 2"),
            Err(DtmfError::NotAKey { ch: ' ', at: 1 })
        );
        let shown = DtmfSet::parse("12a").unwrap_err().to_string();
        assert_eq!(
            shown,
            "'a' at position 2 is not a DTMF key (only 0-9, *, # and A-D are)"
        );
    }

    #[test]
    fn set_operations() {
        let set = DtmfSet::NONE.with(Dtmf::One).with(Dtmf::D).with(Dtmf::One);
        assert!(set.contains(Dtmf::One) && set.contains(Dtmf::D));
        assert!(!set.contains(Dtmf::Zero) && !set.contains(Dtmf::C));
        assert!(!set.is_empty());
        assert!(DtmfSet::NONE.is_empty());
        assert_eq!(set.iter().collect::<Vec<_>>(), [Dtmf::One, Dtmf::D]);
        assert_eq!(DtmfSet::from(Dtmf::Star), DtmfSet::of(&[Dtmf::Star]));
        assert_eq!([Dtmf::D, Dtmf::One].into_iter().collect::<DtmfSet>(), set);
        assert_eq!(DtmfSet::ANY.iter().collect::<Vec<_>>(), Dtmf::ALL);
        assert!(Dtmf::ALL.into_iter().all(|k| DtmfSet::ANY.contains(k)));
        assert!(Dtmf::ALL.into_iter().all(|k| !DtmfSet::NONE.contains(k)));
        for key in Dtmf::ALL {
            assert_eq!(DtmfSet::from(key).iter().collect::<Vec<_>>(), [key]);
        }
    }
}
