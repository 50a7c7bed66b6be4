//! Sharding for large sites, the watcher's side: `imapvm watch --shard K/N` follows only the
//! boxes of shard K of N. The partition itself (FNV-1a of `box@context`, stable across
//! versions) is a pure rule of `imapvm_policy::shard`; this module applies it to a store's
//! boxes.

use imapvm::Store;
pub use imapvm_policy::shard::{MAX_SHARDS, Shard, ShardError};

/// The boxes a watcher follows (`box@context`): `chosen`, or every box of the store's
/// voicemail.conf when `chosen` is empty; then, with a `shard`, only those it owns.
pub fn watched_boxes(store: &Store, chosen: &[String], shard: Option<Shard>) -> Vec<String> {
    let mut boxes: Vec<String> = if chosen.is_empty() {
        store.mailbox_ids()
    } else {
        chosen.to_vec()
    };
    if let Some(shard) = shard {
        boxes.retain(|id| shard.owns_id(id));
    }
    boxes
}
