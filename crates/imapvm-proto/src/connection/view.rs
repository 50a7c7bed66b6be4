//! `MailboxView`: the selected mailbox's message count and the sequence number → UID pairs
//! the core has learnt.
//!
//! **This is the only place that knows sequence numbers** [INV-2]. The rest of the core, its
//! API and everything above it name messages by UID; a sequence number read from the wire
//! (`* n EXPUNGE`, `* n FETCH`) is turned into a UID here, and EXPUNGE and VANISHED shift the
//! known pairs here. Audit INV-2 in this file.
//!
//! API: `exists`, `on_exists`, `uid`, `learn`, `expunge`, `vanish`.

use crate::types::{Uid, UidSet};
use std::collections::BTreeMap;

#[derive(Debug, Default)]
pub(super) struct MailboxView {
    /// The message count (`* n EXISTS` minus expunges).
    pub(super) exists: u32,
    /// Known sequence number -> UID pairs (only seqs <= exists).
    uids: BTreeMap<u32, Uid>,
}

impl MailboxView {
    /// `* seq EXPUNGE`: message `seq` is gone (its UID, if known, is returned) and the
    /// messages after it move down by one.
    pub(super) fn expunge(&mut self, seq: u32) -> Option<Uid> {
        let mut tail = self.uids.split_off(&seq);
        let uid = tail.remove(&seq);
        for (k, v) in tail {
            self.uids.insert(k - 1, v);
        }
        self.exists = self.exists.saturating_sub(1);
        uid
    }

    /// Removes the messages of a `* VANISHED uids` (not EARLIER). With `all_existed` (QRESYNC
    /// enabled: VANISHED replaces EXPUNGE and names only messages that existed, RFC 7162
    /// §3.2.10) every UID counts, known or not: the count drops by the set's size and each
    /// known sequence number drops by the number of vanished UIDs below its UID (sequence
    /// numbers ascend with UIDs). Without it only the UIDs the view knows count, as with
    /// EXPUNGE. O((view + ranges) · log ranges).
    pub(super) fn vanish(&mut self, set: &UidSet, all_existed: bool) {
        let mut ranges: Vec<(u32, u32)> = set
            .ranges()
            .iter()
            .map(|(a, b)| (a.get(), b.get()))
            .collect();
        ranges.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(ranges.len());
        for (a, b) in ranges {
            match merged.last_mut() {
                Some((_, hi)) if a <= hi.saturating_add(1) => *hi = (*hi).max(b),
                _ => merged.push((a, b)),
            }
        }
        // below[i]: how many UIDs the ranges before i hold.
        let mut below = Vec::with_capacity(merged.len() + 1);
        below.push(0u64);
        for (a, b) in &merged {
            let last = below.last().copied().unwrap_or(0);
            below.push(last + u64::from(b - a) + 1);
        }
        let old = std::mem::take(&mut self.uids);
        let mut known = 0u64;
        for (seq, uid) in old {
            let u = uid.get();
            let n = merged.partition_point(|(a, _)| *a <= u);
            let member = n
                .checked_sub(1)
                .and_then(|i| merged.get(i))
                .is_some_and(|(_, b)| *b >= u);
            if member {
                known += 1;
                continue;
            }
            let shift = if all_existed {
                below.get(n).copied().unwrap_or(0)
            } else {
                known
            };
            if let Some(s) = u64::from(seq).checked_sub(shift).filter(|s| *s >= 1)
                && let Ok(s) = u32::try_from(s)
            {
                self.uids.insert(s, uid);
            }
        }
        let gone = if all_existed {
            below.last().copied().unwrap_or(0)
        } else {
            known
        };
        self.exists = self
            .exists
            .saturating_sub(u32::try_from(gone).unwrap_or(u32::MAX));
    }

    /// `* n EXISTS`: the count is `n`; pairs beyond it are forgotten.
    pub(super) fn on_exists(&mut self, n: u32) {
        self.exists = n;
        self.uids.retain(|k, _| *k <= n);
    }

    /// The UID of message `seq`, if the core learnt it.
    pub(super) fn uid(&self, seq: u32) -> Option<Uid> {
        self.uids.get(&seq).copied()
    }

    /// Message `seq` has UID `uid` (from a FETCH); ignored beyond the count.
    pub(super) fn learn(&mut self, seq: u32, uid: Uid) {
        if seq <= self.exists {
            self.uids.insert(seq, uid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expunge_shifts_known_sequence_numbers() {
        let mut v = MailboxView {
            exists: 4,
            ..MailboxView::default()
        };
        for (s, u) in [(1, 10), (2, 20), (3, 30), (4, 40)] {
            v.learn(s, Uid::new(u).unwrap());
        }
        assert_eq!(v.expunge(2), Uid::new(20));
        assert_eq!(v.exists, 3);
        assert_eq!(v.uids.get(&2).copied(), Uid::new(30));
        assert_eq!(v.uids.get(&3).copied(), Uid::new(40));
        assert_eq!(v.uids.get(&4), None);
    }
}
