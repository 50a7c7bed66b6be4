//! Asterisk's 1-based message numbers ⇄ (UIDVALIDITY, UID), stable while a listing is open.
//!
//! Reference: `docs/reference/asterisk-imap-behaviour.md` §4.4: a listing is in
//! the server's SEARCH order (ascending sequence numbers, hence ascending UIDs),
//! message `i` is spoken as `i+1`, and Asterisk keeps **sequence numbers**,
//! so a concurrent expunge makes it act on the wrong message (§6 #17). Here a
//! number is bound to a UID when the listing is made and never re-bound: a
//! message that vanishes leaves a gap, it does not shift the others [INV-2].

use thiserror::Error;

use crate::count::MwiCounts;
use crate::folder::Folder;
pub use imapvm_types::MessageNumber;
use imapvm_types::{Uid, UidValidity};

/// Most messages one listing holds (Asterisk's `maxmsg` is at most 9999).
pub const MAX_LISTING: usize = 100_000;

/// A listing that cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum NumbersError {
    /// More UIDs than [`MAX_LISTING`].
    #[error("listing of {count} messages exceeds the {max} message limit")]
    TooMany {
        /// UIDs offered.
        count: usize,
        /// The limit.
        max: usize,
    },
}

/// What a message number refers to now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// The message is (as far as we know) still there.
    Message {
        /// The listing's UIDVALIDITY.
        uidvalidity: UidValidity,
        /// The message's UID.
        uid: Uid,
    },
    /// The number was given out, but its message has since been expunged or
    /// moved away (by us or by a mail client). Nothing else takes its place.
    Vanished {
        /// The UID the number was bound to.
        uid: Uid,
    },
    /// The listing never had this number.
    NoSuchNumber,
    /// The mailbox's UIDVALIDITY changed: every UID of this listing is
    /// meaningless and the listing must be rebuilt.
    StaleListing {
        /// UIDVALIDITY when the listing was made.
        listed: UidValidity,
        /// UIDVALIDITY now.
        current: UidValidity,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    uid: Uid,
    present: bool,
}

/// One open listing: message numbers bound to UIDs in Asterisk's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageNumbers {
    uidvalidity: UidValidity,
    entries: Vec<Entry>,
}

impl MessageNumbers {
    /// Numbers the UIDs a listing SEARCH returned (any order, duplicates
    /// ignored) as Asterisk does: ascending, starting at 1.
    pub fn new(
        uidvalidity: UidValidity,
        uids: impl IntoIterator<Item = Uid>,
    ) -> Result<MessageNumbers, NumbersError> {
        let mut list: Vec<Uid> = Vec::new();
        for uid in uids {
            if list.len() > MAX_LISTING {
                return Err(NumbersError::TooMany {
                    count: list.len(),
                    max: MAX_LISTING,
                });
            }
            list.push(uid);
        }
        list.sort_unstable();
        list.dedup();
        if list.len() > MAX_LISTING {
            return Err(NumbersError::TooMany {
                count: list.len(),
                max: MAX_LISTING,
            });
        }
        Ok(MessageNumbers {
            uidvalidity,
            entries: list
                .into_iter()
                .map(|uid| Entry { uid, present: true })
                .collect(),
        })
    }

    /// The UIDVALIDITY the listing was made under.
    pub fn uidvalidity(&self) -> UidValidity {
        self.uidvalidity
    }

    /// How many numbers were given out (vanished ones included).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the listing gave out no number.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// What `number` refers to, given the mailbox's UIDVALIDITY now.
    pub fn resolve(&self, number: MessageNumber, current: UidValidity) -> Resolution {
        if current != self.uidvalidity {
            return Resolution::StaleListing {
                listed: self.uidvalidity,
                current,
            };
        }
        let Ok(index) = usize::try_from(number.asterisk_index()) else {
            return Resolution::NoSuchNumber;
        };
        match self.entries.get(index) {
            Some(Entry { uid, present: true }) => Resolution::Message {
                uidvalidity: self.uidvalidity,
                uid: *uid,
            },
            Some(Entry {
                uid,
                present: false,
            }) => Resolution::Vanished { uid: *uid },
            None => Resolution::NoSuchNumber,
        }
    }

    /// The number bound to `uid` in this listing, if it has one (vanished or not).
    pub fn number_of(&self, uid: Uid) -> Option<MessageNumber> {
        let index = self.entries.binary_search_by_key(&uid, |e| e.uid).ok()?;
        u32::try_from(index + 1).ok().and_then(MessageNumber::new)
    }

    /// Records that these UIDs are gone (`VANISHED`, an `EXPUNGE` mapped to
    /// its UID by the runtime, or our own move/expunge). Numbers do not
    /// shift. Returns how many present messages were marked gone.
    pub fn vanish(&mut self, uids: impl IntoIterator<Item = Uid>) -> usize {
        let mut gone = 0;
        for uid in uids {
            if let Ok(index) = self.entries.binary_search_by_key(&uid, |e| e.uid)
                && let Some(entry) = self.entries.get_mut(index)
                && entry.present
            {
                entry.present = false;
                gone += 1;
            }
        }
        gone
    }

    /// The messages still present, with their numbers, in order.
    pub fn present(&self) -> impl Iterator<Item = (MessageNumber, Uid)> + '_ {
        self.entries.iter().enumerate().filter_map(|(i, e)| {
            let n = u32::try_from(i + 1).ok().and_then(MessageNumber::new)?;
            e.present.then_some((n, e.uid))
        })
    }

    /// A fresh listing of the present messages (what the next open of the
    /// folder shows): numbers close up again.
    pub fn renumbered(&self) -> MessageNumbers {
        MessageNumbers {
            uidvalidity: self.uidvalidity,
            entries: self.entries.iter().filter(|e| e.present).copied().collect(),
        }
    }
}

/// The folder VoiceMailMain opens first (§4.4): Urgent if any, else New
/// (Inbox) if any, else Old.
pub const fn opening_folder(counts: MwiCounts) -> Folder {
    if counts.urgent > 0 {
        Folder::Urgent
    } else if counts.new > 0 {
        Folder::Inbox
    } else {
        Folder::Old
    }
}
