//! [`MessageNumber`]: a message as Asterisk speaks it, 1-based within one listing.

use std::fmt;

/// A message number as Asterisk speaks it: 1-based within one listing. Never 0.
///
/// It names a message only together with the listing that gave it out; across the API the
/// message itself is named by UID [INV-2].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageNumber(std::num::NonZeroU32);

impl MessageNumber {
    /// A number; `None` for 0.
    pub const fn new(n: u32) -> Option<MessageNumber> {
        match std::num::NonZeroU32::new(n) {
            Some(n) => Some(MessageNumber(n)),
            None => None,
        }
    }

    /// The 1-based value.
    pub const fn get(self) -> u32 {
        self.0.get()
    }

    /// Asterisk's 0-based index (`msgArray[i]`).
    pub const fn asterisk_index(self) -> u32 {
        self.0.get() - 1
    }
}

impl fmt::Display for MessageNumber {
    /// The number, honouring width and alignment (`{:>6}` lines up a table).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for MessageNumber {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u32(self.get())
    }
}

#[cfg(test)]
mod tests {
    use super::MessageNumber;

    #[test]
    fn numbers_start_at_one() {
        assert_eq!(MessageNumber::new(0), None);
        let n = MessageNumber::new(3).unwrap();
        assert_eq!(
            (n.get(), n.asterisk_index(), n.to_string()),
            (3, 2, "3".to_owned())
        );
    }
}
