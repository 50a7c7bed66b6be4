//! Sharding for large sites, the watcher's side: `imapvm watch --shard K/N` follows only the
//! boxes of shard K of N. The partition itself (FNV-1a of `box@context`, stable across
//! versions) is a pure rule of `imapvm_policy::shard`; this module applies it to a store's
//! boxes.

use imapvm::{MailboxId, Store};
pub use imapvm_policy::shard::{MAX_SHARDS, Shard, ShardError};

/// The boxes a watcher follows: `chosen`, or every box of the store's voicemail.conf when
/// `chosen` is empty; then, with a `shard`, only those it owns.
pub fn watched_boxes(store: &Store, chosen: &[MailboxId], shard: Option<Shard>) -> Vec<MailboxId> {
    let mut boxes: Vec<MailboxId> = if chosen.is_empty() {
        store.mailbox_ids()
    } else {
        chosen.to_vec()
    };
    if let Some(shard) = shard {
        boxes.retain(|id| shard.owns(id.mailbox(), id.context()));
    }
    boxes
}
