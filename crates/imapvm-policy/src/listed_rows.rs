//! What a listing shows of each message besides its flags, remembered per UID so that a warm
//! listing fetches the known rows' flags only (`UID FETCH <known> (FLAGS) (CHANGEDSINCE m)`,
//! [`crate::known_flags`]) and full rows only for the UIDs not remembered.
//!
//! Why it is exact: within one UIDVALIDITY a UID is never reused and a message's headers and
//! `RFC822.SIZE` never change, so a row fetched once stays true for as long as the message
//! exists; only its flags change, and those come from the CHANGEDSINCE answer or the
//! remembered flags. The runtime forgets every row when the folder's UIDVALIDITY changes, and
//! a row whose message was seen expunged ([`ListedRows::vanish`]). A row left behind by an
//! expunge whose UID was never told is never shown: the listing asks only the UIDs its search
//! and its flag memory say exist.
//!
//! Bounded: at most [`MAX_LISTED_ROWS`] rows and [`MAX_LISTED_ROW_BYTES`] bytes (as the
//! runtime sizes them) per folder; when a new row does not fit, the lowest UIDs go first (the
//! oldest messages, the likeliest to have been expunged unseen), and a row larger than the
//! whole budget is not remembered. A row not remembered is fetched in full by the next
//! listing: slower, never wrong.
//!
//! This module never talks to a server.

use std::collections::BTreeMap;

use imapvm_types::{Uid, UidSet};

/// Most rows one folder remembers: 40 boxes of 100 voicemails sharing a folder, or one box of
/// 4,096 (Asterisk's `maxmsg` defaults to 100 a folder).
pub const MAX_LISTED_ROWS: usize = 4096;

/// Most bytes of rows one folder remembers (1 MiB, as the runtime sizes a row: its header
/// block as fetched plus the row's fixed part, about 700 bytes for a usual voicemail), so a
/// folder of 100 voicemails keeps about 70 KiB.
pub const MAX_LISTED_ROW_BYTES: usize = 1024 * 1024;

/// The remembered rows of one folder, by UID (see the module docs). `R` is the runtime's row.
#[derive(Debug, Clone)]
pub struct ListedRows<R> {
    rows: BTreeMap<Uid, (R, usize)>,
    bytes: usize,
    max_rows: usize,
    max_bytes: usize,
}

impl<R> Default for ListedRows<R> {
    fn default() -> Self {
        Self::new(MAX_LISTED_ROWS, MAX_LISTED_ROW_BYTES)
    }
}

impl<R> ListedRows<R> {
    /// An empty memory of at most `max_rows` rows and `max_bytes` bytes.
    pub fn new(max_rows: usize, max_bytes: usize) -> Self {
        ListedRows {
            rows: BTreeMap::new(),
            bytes: 0,
            max_rows,
            max_bytes,
        }
    }

    /// The row of `uid`, if remembered.
    pub fn get(&self, uid: Uid) -> Option<&R> {
        self.rows.get(&uid).map(|(r, _)| r)
    }

    /// Whether the row of `uid` is remembered.
    pub fn contains(&self, uid: Uid) -> bool {
        self.rows.contains_key(&uid)
    }

    /// How many rows are remembered.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The bytes the remembered rows take (as sized by [`ListedRows::remember`]'s callers).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Remembers `row` of `uid`, `bytes` large, making room by forgetting the lowest UIDs
    /// (never `uid` itself); a row larger than the whole budget is not remembered (returns
    /// whether it was).
    pub fn remember(&mut self, uid: Uid, row: R, bytes: usize) -> bool {
        self.forget(uid);
        if bytes > self.max_bytes || self.max_rows == 0 {
            return false;
        }
        while self.rows.len() >= self.max_rows || self.bytes + bytes > self.max_bytes {
            let Some((_, (_, b))) = self.rows.pop_first() else {
                break;
            };
            self.bytes -= b;
        }
        self.rows.insert(uid, (row, bytes));
        self.bytes += bytes;
        true
    }

    /// Forgets the rows of `uids` (seen expunged).
    pub fn vanish(&mut self, uids: &UidSet) {
        for uid in uids.iter() {
            self.forget(uid);
        }
    }

    /// Forgets every row (a new UIDVALIDITY).
    pub fn clear(&mut self) {
        self.rows.clear();
        self.bytes = 0;
    }

    fn forget(&mut self, uid: Uid) {
        if let Some((_, b)) = self.rows.remove(&uid) {
            self.bytes -= b;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn uid(n: u32) -> Uid {
        Uid::new(n).expect("non-zero")
    }

    #[test]
    fn a_remembered_row_is_found_until_it_vanishes_or_is_cleared() {
        let mut rows = ListedRows::default();
        assert!(rows.remember(uid(3), "three", 10));
        assert!(rows.remember(uid(5), "five", 20));
        assert_eq!(rows.get(uid(3)), Some(&"three"));
        assert!(!rows.contains(uid(4)));
        assert_eq!(rows.bytes(), 30);
        rows.vanish(&[uid(3), uid(9)].into_iter().collect());
        assert_eq!(rows.get(uid(3)), None);
        assert_eq!((rows.len(), rows.bytes()), (1, 20));
        rows.clear();
        assert!(rows.is_empty());
        assert_eq!(rows.bytes(), 0);
    }

    #[test]
    fn remembering_a_uid_again_replaces_its_row() {
        let mut rows = ListedRows::default();
        rows.remember(uid(3), "old", 10);
        rows.remember(uid(3), "new", 15);
        assert_eq!(rows.get(uid(3)), Some(&"new"));
        assert_eq!((rows.len(), rows.bytes()), (1, 15));
    }

    #[test]
    fn when_full_the_lowest_uids_go_first() {
        let mut rows = ListedRows::new(2, 100);
        rows.remember(uid(7), 7, 10);
        rows.remember(uid(3), 3, 10);
        rows.remember(uid(9), 9, 10);
        assert_eq!((rows.get(uid(3)), rows.get(uid(7))), (None, Some(&7)));
        assert!(rows.contains(uid(9)));
        // Bytes too: 9 and 7 (20) + 90 > 100, so 7 goes (the lowest), then 9 fits beside it.
        rows.remember(uid(12), 12, 85);
        assert!(!rows.contains(uid(7)) && rows.contains(uid(9)) && rows.contains(uid(12)));
        assert_eq!(rows.bytes(), 95);
    }

    #[test]
    fn a_row_larger_than_the_budget_is_not_remembered() {
        let mut rows = ListedRows::new(4, 100);
        rows.remember(uid(1), 1, 50);
        assert!(!rows.remember(uid(2), 2, 101));
        assert!(rows.contains(uid(1)), "nothing made room for it");
        assert!(!rows.contains(uid(2)));
        assert!(!ListedRows::new(0, 100).remember(uid(1), 1, 1));
    }

    #[test]
    fn the_default_budget_keeps_a_box_of_100_voicemails() {
        let mut rows = ListedRows::default();
        for n in 1..=100 {
            rows.remember(uid(n), n, 700);
        }
        assert_eq!(rows.len(), 100);
        const { assert!(MAX_LISTED_ROWS * 256 <= MAX_LISTED_ROW_BYTES) };
    }

    proptest! {
        /// Whatever is remembered and forgotten, the bounds hold, the byte count is the sum
        /// of the remembered rows' sizes, and the last row remembered (when it fits) is there
        /// with its value.
        #[test]
        fn the_bounds_always_hold(
            ops in proptest::collection::vec((1u32..40, 0usize..60, any::<bool>()), 0..200),
        ) {
            let mut rows = ListedRows::new(8, 150);
            let mut sizes = BTreeMap::new();
            for (n, bytes, vanish) in ops {
                if vanish {
                    rows.vanish(&[uid(n)].into_iter().collect());
                    sizes.remove(&n);
                    prop_assert!(!rows.contains(uid(n)));
                } else {
                    prop_assert!(rows.remember(uid(n), (n, bytes), bytes));
                    sizes.insert(n, bytes);
                    prop_assert_eq!(rows.get(uid(n)), Some(&(n, bytes)));
                }
                sizes.retain(|u, _| rows.contains(uid(*u)));
                prop_assert!(rows.len() <= 8 && rows.bytes() <= 150);
                prop_assert_eq!(rows.bytes(), sizes.values().sum::<usize>());
                prop_assert_eq!(rows.len(), sizes.len());
            }
        }
    }
}
