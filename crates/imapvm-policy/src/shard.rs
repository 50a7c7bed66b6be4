//! Sharding for large sites: `imapvm watch --shard K/N` watches only the boxes whose
//! `box@context` hashes to K of N, so N processes (on one or several machines) split the
//! boxes between them with no shared state and no coordination.
//!
//! The hash is part of the operator contract and **must never change between versions**
//! (two processes of different versions must still agree): 64-bit FNV-1a (offset basis
//! `0xcbf29ce484222325`, prime `0x100000001b3`) over the ASCII-lowercased bytes of
//! `box@context` (Asterisk compares boxes and contexts case-insensitively), then
//! `shard = hash mod N + 1`. Shards are numbered 1 to N. The golden values in the tests
//! pin it (checked against an independent Python implementation).
//!
//! Pure: no I/O, no clock.

use std::fmt;
use std::str::FromStr;

/// Most shards accepted (far more processes than any site needs).
pub const MAX_SHARDS: u32 = 4096;

/// 64-bit FNV-1a of `bytes`.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The shard hash of `box@context` (ASCII-lowercased first).
pub fn mailbox_hash(mailbox: &str, context: &str) -> u64 {
    let key = format!("{mailbox}@{context}").to_ascii_lowercase();
    fnv1a64(key.as_bytes())
}

/// One shard of N: `K/N`, 1 ≤ K ≤ N.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shard {
    index: u32,
    count: u32,
}

/// A `--shard` value that is not `K/N` with 1 ≤ K ≤ N ≤ [`MAX_SHARDS`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--shard {value}: {reason}; write K/N with 1 <= K <= N (for example 2/4)")]
pub struct ShardError {
    value: String,
    reason: String,
}

impl Shard {
    /// Shard `index` of `count` (1-based).
    pub fn new(index: u32, count: u32) -> Result<Shard, ShardError> {
        let err = |reason: &str| ShardError {
            value: format!("{index}/{count}"),
            reason: reason.to_owned(),
        };
        if count == 0 || count > MAX_SHARDS {
            return Err(err(&format!("N must be 1 to {MAX_SHARDS}")));
        }
        if index == 0 || index > count {
            return Err(err("K must be 1 to N"));
        }
        Ok(Shard { index, count })
    }

    /// K (1-based).
    pub fn index(&self) -> u32 {
        self.index
    }

    /// N.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The shard (1 to `count`) that owns `box@context`.
    pub fn of(mailbox: &str, context: &str, count: u32) -> u32 {
        let count = count.clamp(1, MAX_SHARDS);
        (mailbox_hash(mailbox, context) % u64::from(count)) as u32 + 1
    }

    /// Whether this shard owns `box@context`.
    pub fn owns(&self, mailbox: &str, context: &str) -> bool {
        Shard::of(mailbox, context, self.count) == self.index
    }

    /// Whether this shard owns `id` written `box@context` (a string without `@` is a box
    /// in the `default` context, as Asterisk reads it).
    pub fn owns_id(&self, id: &str) -> bool {
        let (mailbox, context) = id.split_once('@').unwrap_or((id, "default"));
        self.owns(mailbox, context)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(value: &str) -> Result<Shard, ShardError> {
        let err = |reason: &str| ShardError {
            value: value.to_owned(),
            reason: reason.to_owned(),
        };
        // `K-N` too: systemd instance names (`imapvm-watch@1-4`) cannot hold a `/`.
        let (k, n) = value
            .split_once(['/', '-'])
            .ok_or_else(|| err("no `/` (write K/N, or K-N)"))?;
        let k = k
            .trim()
            .parse::<u32>()
            .map_err(|_| err("K is not a number"))?;
        let n = n
            .trim()
            .parse::<u32>()
            .map_err(|_| err("N is not a number"))?;
        Shard::new(k, n).map_err(|e| ShardError {
            value: value.to_owned(),
            reason: e.reason,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fnv1a_reference_vectors() {
        // The published FNV-1a 64 test vectors, and pinned site keys (Python, independently).
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x85944171f73967e8);
        assert_eq!(mailbox_hash("1234", "default"), 0xa21ea8c651928770);
        assert_eq!(mailbox_hash("4321", "DEFAULT"), 0x79bdebdd02d8fdb8);
        assert_eq!(mailbox_hash("1000", "sales"), 0x1f9b7f7b714ce53c);
    }

    #[test]
    fn assignments_are_pinned() {
        // These must never change: processes of different versions have to agree.
        let of = |m: &str, c: &str| (1..=5).map(|n| Shard::of(m, c, n)).collect::<Vec<_>>();
        assert_eq!(of("1234", "default"), [1, 1, 1, 1, 3]);
        assert_eq!(of("4321", "default"), [1, 1, 3, 1, 2]);
        assert_eq!(of("1000", "sales"), [1, 1, 3, 1, 5]);
        assert!(Shard::new(3, 5).unwrap().owns_id("1234@Default"));
        assert!(Shard::new(3, 5).unwrap().owns_id("1234"));
    }

    #[test]
    fn parsing() {
        assert_eq!("2/4".parse::<Shard>().unwrap(), Shard::new(2, 4).unwrap());
        assert_eq!(" 1 / 1 ".parse::<Shard>().unwrap().to_string(), "1/1");
        // A systemd instance name: `imapvm-watch@3-4` runs `--shard %i`.
        assert_eq!("3-4".parse::<Shard>().unwrap(), Shard::new(3, 4).unwrap());
        for bad in [
            "", "1", "0/3", "4/3", "1/0", "a/2", "1/b", "1/4097", "-1/2", "1-2/3", "0-3", "1--2",
        ] {
            let e = bad.parse::<Shard>().unwrap_err().to_string();
            assert!(e.starts_with("--shard "), "{bad}: {e}");
        }
    }

    proptest! {
        /// Every box belongs to exactly one shard, for every N from 1 to 5 (and beyond).
        #[test]
        fn every_box_in_exactly_one_shard(
            boxes in prop::collection::vec(("[0-9]{1,6}", "[a-zA-Z0-9_-]{1,10}"), 1..60),
            n in 1u32..=64,
        ) {
            for count in (1..=5).chain([n]) {
                for (m, c) in &boxes {
                    let owners = (1..=count)
                        .filter(|k| Shard::new(*k, count).unwrap().owns(m, c))
                        .count();
                    prop_assert_eq!(owners, 1, "{}@{} with N={}", m, c, count);
                }
            }
        }

        /// Case does not matter, as in Asterisk.
        #[test]
        fn case_insensitive(m in "[0-9a-zA-Z]{1,8}", c in "[a-zA-Z]{1,8}", n in 1u32..=16) {
            prop_assert_eq!(
                Shard::of(&m, &c, n),
                Shard::of(&m.to_ascii_uppercase(), &c.to_ascii_lowercase(), n)
            );
        }
    }
}
