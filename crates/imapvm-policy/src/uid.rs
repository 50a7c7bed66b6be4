//! Message names: `Uid`, `UidValidity` and sets of UIDs rendered as IMAP sequence sets.

use std::collections::BTreeSet;
use std::fmt;

/// An IMAP unique identifier (RFC 3501 §2.3.1.1). Never 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Uid(u32);

impl Uid {
    /// A UID from the server's number; `None` for 0, which no message can have.
    pub const fn new(value: u32) -> Option<Uid> {
        if value == 0 { None } else { Some(Uid(value)) }
    }

    /// The number as sent on the wire.
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A mailbox's UIDVALIDITY (RFC 3501 §2.3.1.1): UIDs are only meaningful
/// together with it. A message is named by (mailbox, UIDVALIDITY, UID).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UidValidity(pub u32);

impl fmt::Display for UidValidity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An ordered, duplicate-free set of UIDs.
///
/// `Display` renders the compact IMAP sequence set (`1:3,7,9:10`) that a
/// `UID STORE`/`UID EXPUNGE`/`UID MOVE` command carries. An empty set renders
/// as the empty string; plans never contain a step with an empty set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct UidSet(BTreeSet<Uid>);

impl UidSet {
    /// The empty set.
    pub fn new() -> UidSet {
        UidSet(BTreeSet::new())
    }

    /// Adds a UID; returns whether it was new.
    pub fn insert(&mut self, uid: Uid) -> bool {
        self.0.insert(uid)
    }

    /// Whether the UID is in the set.
    pub fn contains(&self, uid: Uid) -> bool {
        self.0.contains(&uid)
    }

    /// Number of UIDs.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The UIDs in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = Uid> + '_ {
        self.0.iter().copied()
    }

    /// Whether every UID of `self` is in `other`.
    pub fn is_subset(&self, other: &UidSet) -> bool {
        self.0.is_subset(&other.0)
    }

    /// UIDs in both sets.
    pub fn intersection(&self, other: &UidSet) -> UidSet {
        UidSet(self.0.intersection(&other.0).copied().collect())
    }

    /// UIDs of `self` that are not in `other`.
    pub fn difference(&self, other: &UidSet) -> UidSet {
        UidSet(self.0.difference(&other.0).copied().collect())
    }

    /// The set as inclusive ranges `(first, last)`, ascending and maximal.
    pub fn ranges(&self) -> Vec<(Uid, Uid)> {
        let mut out: Vec<(Uid, Uid)> = Vec::new();
        for uid in self.iter() {
            match out.last_mut() {
                Some((_, last)) if last.0.checked_add(1) == Some(uid.0) => *last = uid,
                _ => out.push((uid, uid)),
            }
        }
        out
    }
}

impl FromIterator<Uid> for UidSet {
    fn from_iter<I: IntoIterator<Item = Uid>>(iter: I) -> UidSet {
        UidSet(iter.into_iter().collect())
    }
}

impl Extend<Uid> for UidSet {
    fn extend<I: IntoIterator<Item = Uid>>(&mut self, iter: I) {
        self.0.extend(iter);
    }
}

impl fmt::Display for UidSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (first, last)) in self.ranges().into_iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if first == last {
                write!(f, "{first}")?;
            } else {
                write!(f, "{first}:{last}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(values: &[u32]) -> UidSet {
        values.iter().filter_map(|v| Uid::new(*v)).collect()
    }

    #[test]
    fn zero_is_not_a_uid() {
        assert_eq!(Uid::new(0), None);
        assert_eq!(Uid::new(7).map(Uid::get), Some(7));
    }

    #[test]
    fn sequence_set_is_compact_and_ordered() {
        assert_eq!(set(&[9, 1, 2, 3, 7, 10]).to_string(), "1:3,7,9:10");
        assert_eq!(set(&[]).to_string(), "");
        assert_eq!(
            set(&[u32::MAX, u32::MAX - 1]).to_string(),
            "4294967294:4294967295"
        );
    }

    proptest::proptest! {
        /// The sequence set names exactly the UIDs of the set, in maximal ranges.
        #[test]
        fn sequence_set_round_trips(values in proptest::collection::btree_set(1u32..=u32::MAX, 0..50)) {
            let s: UidSet = values.iter().filter_map(|v| Uid::new(*v)).collect();
            let text = s.to_string();
            let mut back = std::collections::BTreeSet::new();
            for part in text.split(',').filter(|p| !p.is_empty()) {
                let (a, b) = part.split_once(':').unwrap_or((part, part));
                let (a, b): (u32, u32) = (a.parse().unwrap(), b.parse().unwrap());
                proptest::prop_assert!(a <= b);
                back.extend(a..=b);
            }
            proptest::prop_assert_eq!(back, values);
            for pair in s.ranges().windows(2) {
                proptest::prop_assert!(pair[0].1.get() + 1 < pair[1].0.get(), "ranges not maximal");
            }
        }
    }
}
