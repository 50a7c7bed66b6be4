//! Message names: [`Uid`], [`UidValidity`] and [`UidSet`] [INV-2].

use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;

/// An IMAP unique identifier (RFC 3501 §2.3.1.1). Never 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Uid(NonZeroU32);

impl Uid {
    /// The smallest UID.
    pub const MIN: Uid = Uid(NonZeroU32::MIN);
    /// The largest UID.
    pub const MAX: Uid = Uid(NonZeroU32::MAX);

    /// A UID from the server's number; `None` for 0, which no message can have.
    pub const fn new(value: u32) -> Option<Uid> {
        match NonZeroU32::new(value) {
            Some(v) => Some(Uid(v)),
            None => None,
        }
    }

    /// The number as sent on the wire.
    pub const fn get(self) -> u32 {
        self.0.get()
    }

    /// The next UID, if any.
    pub fn next(self) -> Option<Uid> {
        self.0.checked_add(1).map(Uid)
    }
}

impl From<NonZeroU32> for Uid {
    fn from(v: NonZeroU32) -> Uid {
        Uid(v)
    }
}

impl fmt::Display for Uid {
    /// The number, honouring width and alignment (`{:>6}` lines up a table).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Uid {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u32(self.get())
    }
}

/// A mailbox's UIDVALIDITY (RFC 3501 §2.3.1.1): UIDs are only meaningful together with
/// it. Never 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UidValidity(NonZeroU32);

impl UidValidity {
    /// A UIDVALIDITY from the server's number; `None` for 0.
    pub const fn new(value: u32) -> Option<UidValidity> {
        match NonZeroU32::new(value) {
            Some(v) => Some(UidValidity(v)),
            None => None,
        }
    }

    /// The number as sent on the wire.
    pub const fn get(self) -> u32 {
        self.0.get()
    }
}

impl From<NonZeroU32> for UidValidity {
    fn from(v: NonZeroU32) -> UidValidity {
        UidValidity(v)
    }
}

impl fmt::Display for UidValidity {
    /// The number, honouring width and alignment (`{:>6}` lines up a table).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for UidValidity {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u32(self.get())
    }
}

/// An ordered, duplicate-free set of UIDs, kept as maximal inclusive ranges, so that
/// `1:4294967295` costs one entry.
///
/// `Display` renders the compact IMAP sequence set (`1:3,7,9:10`) that a `UID STORE`,
/// `UID EXPUNGE` or `UID MOVE` carries; the empty set renders as the empty string.
/// `FromStr` reads that form back (no `*`: a set of UIDs names concrete messages).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct UidSet(Vec<(Uid, Uid)>);

impl UidSet {
    /// The empty set.
    pub const fn new() -> UidSet {
        UidSet(Vec::new())
    }

    /// `{uid}`.
    pub fn single(uid: Uid) -> UidSet {
        UidSet(vec![(uid, uid)])
    }

    /// Every UID from `a` to `b` inclusive (in either order).
    pub fn range(a: Uid, b: Uid) -> UidSet {
        UidSet(vec![(a.min(b), a.max(b))])
    }

    /// Adds a UID; returns whether it was new.
    pub fn insert(&mut self, uid: Uid) -> bool {
        self.insert_range(uid, uid)
    }

    /// Adds every UID from `a` to `b` inclusive; returns whether any was new.
    pub fn insert_range(&mut self, a: Uid, b: Uid) -> bool {
        let (lo, hi) = (a.min(b), a.max(b));
        let before = self.len();
        // First range that could touch or follow `lo` (its end + 1 >= lo).
        let start = self
            .0
            .partition_point(|&(_, e)| e.get().saturating_add(1) < lo.get());
        let mut new_lo = lo;
        let mut new_hi = hi;
        let mut end = start;
        while end < self.0.len() && self.0[end].0.get() <= hi.get().saturating_add(1) {
            new_lo = new_lo.min(self.0[end].0);
            new_hi = new_hi.max(self.0[end].1);
            end += 1;
        }
        self.0.splice(start..end, [(new_lo, new_hi)]);
        self.len() != before
    }

    /// Whether the UID is in the set.
    pub fn contains(&self, uid: Uid) -> bool {
        let i = self.0.partition_point(|&(_, e)| e < uid);
        self.0.get(i).is_some_and(|&(s, _)| s <= uid)
    }

    /// Number of UIDs.
    pub fn len(&self) -> u64 {
        self.0
            .iter()
            .map(|&(s, e)| u64::from(e.get() - s.get()) + 1)
            .sum()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The smallest UID.
    pub fn first(&self) -> Option<Uid> {
        self.0.first().map(|r| r.0)
    }

    /// The largest UID.
    pub fn last(&self) -> Option<Uid> {
        self.0.last().map(|r| r.1)
    }

    /// The UIDs in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = Uid> + '_ {
        self.0
            .iter()
            .flat_map(|&(s, e)| (s.get()..=e.get()).filter_map(Uid::new))
    }

    /// The set as inclusive ranges `(first, last)`, ascending, disjoint and maximal.
    pub fn ranges(&self) -> &[(Uid, Uid)] {
        &self.0
    }

    /// Whether every UID of `self` is in `other`.
    pub fn is_subset(&self, other: &UidSet) -> bool {
        self.difference(other).is_empty()
    }

    /// UIDs in both sets.
    pub fn intersection(&self, other: &UidSet) -> UidSet {
        let mut out = Vec::new();
        let (mut i, mut j) = (0, 0);
        while i < self.0.len() && j < other.0.len() {
            let (a0, a1) = self.0[i];
            let (b0, b1) = other.0[j];
            let lo = a0.max(b0);
            let hi = a1.min(b1);
            if lo <= hi {
                out.push((lo, hi));
            }
            if a1 < b1 { i += 1 } else { j += 1 }
        }
        UidSet(out)
    }

    /// UIDs of `self` that are not in `other`.
    pub fn difference(&self, other: &UidSet) -> UidSet {
        let mut out = Vec::new();
        let mut j = 0;
        for &(s, e) in &self.0 {
            let mut lo = s.get();
            let hi = e.get();
            while j < other.0.len() && other.0[j].1.get() < lo {
                j += 1;
            }
            let mut k = j;
            let mut done = false;
            while k < other.0.len() && other.0[k].0.get() <= hi {
                let (b0, b1) = (other.0[k].0.get(), other.0[k].1.get());
                if b0 > lo {
                    out.push((Uid::new(lo), Uid::new(b0 - 1)));
                }
                if b1 >= hi {
                    done = true;
                    break;
                }
                lo = b1 + 1;
                k += 1;
            }
            if !done {
                out.push((Uid::new(lo), Uid::new(hi)));
            }
        }
        UidSet(
            out.into_iter()
                .filter_map(|(a, b)| Some((a?, b?)))
                .collect(),
        )
    }
}

impl FromIterator<Uid> for UidSet {
    fn from_iter<I: IntoIterator<Item = Uid>>(iter: I) -> UidSet {
        let mut v: Vec<Uid> = iter.into_iter().collect();
        v.sort_unstable();
        v.dedup();
        let mut out: Vec<(Uid, Uid)> = Vec::new();
        for uid in v {
            match out.last_mut() {
                Some((_, last)) if last.next() == Some(uid) => *last = uid,
                _ => out.push((uid, uid)),
            }
        }
        UidSet(out)
    }
}

impl Extend<Uid> for UidSet {
    fn extend<I: IntoIterator<Item = Uid>>(&mut self, iter: I) {
        for uid in iter {
            self.insert(uid);
        }
    }
}

impl From<Uid> for UidSet {
    fn from(uid: Uid) -> UidSet {
        UidSet::single(uid)
    }
}

impl fmt::Display for UidSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (first, last)) in self.0.iter().enumerate() {
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

/// A sequence set that is not a set of UIDs (`0`, `*`, garbage).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UidSetError(pub String);

impl fmt::Display for UidSetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` is not a set of UIDs (write e.g. 1:3,7)", self.0)
    }
}

impl std::error::Error for UidSetError {}

impl FromStr for UidSet {
    type Err = UidSetError;

    fn from_str(s: &str) -> Result<UidSet, UidSetError> {
        let err = || UidSetError(s.chars().take(200).collect());
        let mut set = UidSet::new();
        if s.is_empty() {
            return Ok(set);
        }
        for part in s.split(',') {
            let (a, b) = part.split_once(':').unwrap_or((part, part));
            let parse = |t: &str| {
                if t.is_empty() || !t.bytes().all(|c| c.is_ascii_digit()) {
                    return None;
                }
                t.parse::<u32>().ok().and_then(Uid::new)
            };
            let (a, b) = (parse(a).ok_or_else(err)?, parse(b).ok_or_else(err)?);
            set.insert_range(a, b);
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_line_up_in_tables() {
        let uid = Uid::new(7).unwrap();
        assert_eq!(
            format!("[{uid:>6}] [{uid:<3}] [{uid}]"),
            "[     7] [7  ] [7]"
        );
        let validity = UidValidity::new(42).unwrap();
        assert_eq!(format!("{validity:>4}"), "  42");
        let number = crate::MessageNumber::new(3).unwrap();
        assert_eq!(format!("{number:>4}"), "   3");
    }
    use std::collections::BTreeSet;

    fn set(values: &[u32]) -> UidSet {
        values.iter().filter_map(|v| Uid::new(*v)).collect()
    }

    #[test]
    fn zero_is_not_a_uid() {
        assert_eq!(Uid::new(0), None);
        assert_eq!(UidValidity::new(0), None);
        assert_eq!(Uid::new(7).map(Uid::get), Some(7));
        assert_eq!(Uid::MAX.next(), None);
    }

    #[test]
    fn sequence_set_is_compact_and_ordered() {
        assert_eq!(set(&[9, 1, 2, 3, 7, 10]).to_string(), "1:3,7,9:10");
        assert_eq!(set(&[]).to_string(), "");
        assert_eq!(
            set(&[u32::MAX, u32::MAX - 1]).to_string(),
            "4294967294:4294967295"
        );
        assert_eq!(UidSet::range(Uid::MIN, Uid::MAX).len(), u64::from(u32::MAX));
    }

    #[test]
    fn parse_refuses_zero_star_and_garbage() {
        assert_eq!("1:3,7".parse::<UidSet>().unwrap(), set(&[1, 2, 3, 7]));
        assert_eq!("3:1".parse::<UidSet>().unwrap(), set(&[1, 2, 3]));
        for bad in ["0", "1:*", "a", "1,,2", "1:", "-1", "+1"] {
            assert!(bad.parse::<UidSet>().is_err(), "{bad}");
        }
    }

    fn model(s: &UidSet) -> BTreeSet<u32> {
        s.iter().map(Uid::get).collect()
    }

    proptest::proptest! {
        /// The set names exactly the inserted UIDs, in maximal ranges, and parses back.
        #[test]
        fn ranges_are_maximal_and_round_trip(values in proptest::collection::btree_set(1u32..200, 0..60)) {
            let mut inserted = UidSet::new();
            for v in values.iter().rev() {
                inserted.insert(Uid::new(*v).unwrap());
            }
            let collected = set(&values.iter().copied().collect::<Vec<_>>());
            proptest::prop_assert_eq!(&inserted, &collected);
            proptest::prop_assert_eq!(model(&inserted), values.clone());
            proptest::prop_assert_eq!(inserted.len(), values.len() as u64);
            for pair in inserted.ranges().windows(2) {
                proptest::prop_assert!(pair[0].1.get() + 1 < pair[1].0.get(), "ranges not maximal");
            }
            let back: UidSet = inserted.to_string().parse().unwrap();
            proptest::prop_assert_eq!(back, inserted);
        }

        /// Set operations agree with a BTreeSet model.
        #[test]
        fn set_operations_match_the_model(
            a in proptest::collection::btree_set(1u32..120, 0..50),
            b in proptest::collection::btree_set(1u32..120, 0..50),
        ) {
            let (sa, sb) = (set(&a.iter().copied().collect::<Vec<_>>()), set(&b.iter().copied().collect::<Vec<_>>()));
            proptest::prop_assert_eq!(model(&sa.intersection(&sb)), a.intersection(&b).copied().collect::<BTreeSet<_>>());
            proptest::prop_assert_eq!(model(&sa.difference(&sb)), a.difference(&b).copied().collect::<BTreeSet<_>>());
            proptest::prop_assert_eq!(sa.is_subset(&sb), a.is_subset(&b));
            for v in 1u32..120 {
                proptest::prop_assert_eq!(sa.contains(Uid::new(v).unwrap()), a.contains(&v));
            }
        }
    }
}
