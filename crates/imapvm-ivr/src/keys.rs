//! [`Dtmf`], one telephone key, and [`Keys`], a set of them (the escape digits of a
//! prompt, the accept and cancel keys of a recording).

use std::fmt;

/// One DTMF key, as Asterisk reports it (`0`-`9`, `*`, `#`, and the rare `A`-`D`).
///
/// AGI reports a key as its ASCII code (`#` = 35); [`Dtmf::from_ascii`] reads that form.
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

    /// The key a character names (`'#'` → [`Dtmf::Pound`]); `a`-`d` are accepted in
    /// either case.
    pub fn from_char(c: char) -> Option<Dtmf> {
        Some(match c {
            '0'..='9' => Dtmf::ALL[(c as u8 - b'0') as usize],
            '*' => Dtmf::Star,
            '#' => Dtmf::Pound,
            'A' | 'a' => Dtmf::A,
            'B' | 'b' => Dtmf::B,
            'C' | 'c' => Dtmf::C,
            'D' | 'd' => Dtmf::D,
            _ => return None,
        })
    }

    /// The key an AGI result code names (`35` → [`Dtmf::Pound`]).
    pub fn from_ascii(code: u8) -> Option<Dtmf> {
        Dtmf::from_char(char::from(code))
    }

    /// The key's character (`'#'`).
    pub fn as_char(self) -> char {
        match self {
            Dtmf::Star => '*',
            Dtmf::Pound => '#',
            Dtmf::A => 'A',
            Dtmf::B => 'B',
            Dtmf::C => 'C',
            Dtmf::D => 'D',
            digit => char::from(b'0' + digit.index() as u8),
        }
    }

    /// The decimal value of `0`-`9`; `None` for the other keys.
    pub fn digit(self) -> Option<u8> {
        let i = self.index();
        (i < 10).then_some(i as u8)
    }

    const fn index(self) -> usize {
        self as usize
    }

    const fn bit(self) -> u16 {
        1 << self.index()
    }
}

impl fmt::Display for Dtmf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_char())
    }
}

/// A set of keys: which keys may interrupt a prompt, or end a recording.
///
/// Asterisk calls this an *escape digits* string (`"#0*"`); the order of the keys in it
/// carries no meaning, so this is a set. `Display` writes the keys in the order of
/// [`Dtmf::ALL`] (`0*#`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Keys(u16);

impl Keys {
    /// No key: the prompt plays to its end, and keys pressed meanwhile are lost
    /// (Asterisk's `ast_stream_and_wait(chan, f, "")`).
    pub const NONE: Keys = Keys(0);
    /// Every key (Asterisk's `AST_DIGIT_ANY`, as `ast_play_and_wait` uses it).
    pub const ANY: Keys = Keys(u16::MAX);

    /// The set holding exactly these keys.
    pub const fn of(keys: &[Dtmf]) -> Keys {
        let mut bits = 0u16;
        let mut i = 0;
        while i < keys.len() {
            bits |= keys[i].bit();
            i += 1;
        }
        Keys(bits)
    }

    /// Reads an escape-digits string such as `"#0*"`; `None` if a character is not a key.
    pub fn parse(text: &str) -> Option<Keys> {
        text.chars()
            .try_fold(Keys::NONE, |keys, c| Some(keys.with(Dtmf::from_char(c)?)))
    }

    /// This set plus `key`.
    #[must_use]
    pub const fn with(self, key: Dtmf) -> Keys {
        Keys(self.0 | key.bit())
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

impl fmt::Display for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.iter().try_for_each(|k| write!(f, "{k}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_round_trips_through_its_character_and_ascii_code() {
        for key in Dtmf::ALL {
            assert_eq!(Dtmf::from_char(key.as_char()), Some(key));
            assert_eq!(Dtmf::from_ascii(key.as_char() as u8), Some(key));
        }
        assert_eq!(Dtmf::from_ascii(35), Some(Dtmf::Pound));
        assert_eq!(Dtmf::from_ascii(42), Some(Dtmf::Star));
        assert_eq!(Dtmf::from_ascii(48), Some(Dtmf::Zero));
        assert_eq!(Dtmf::from_char('x'), None);
        assert_eq!(Dtmf::from_ascii(0), None);
        assert_eq!(Dtmf::Seven.digit(), Some(7));
        assert_eq!(Dtmf::Pound.digit(), None);
    }

    #[test]
    fn a_key_set_prints_in_canonical_order_and_parses_back() {
        let ecodes = Keys::of(&[Dtmf::Pound, Dtmf::Zero, Dtmf::Star]);
        assert_eq!(ecodes.to_string(), "0*#");
        assert_eq!(Keys::parse("#0*"), Some(ecodes));
        assert!(ecodes.contains(Dtmf::Zero) && !ecodes.contains(Dtmf::One));
        assert_eq!(Keys::ANY.to_string(), "0123456789*#ABCD");
        assert_eq!(Keys::NONE.to_string(), "");
        assert!(Keys::NONE.is_empty());
        assert_eq!(Keys::parse("#x"), None);
    }
}
