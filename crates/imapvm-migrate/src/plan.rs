//! The pure decisions of a migration (no I/O): which spool folder goes to which IMAP folder
//! with which flags, how a message is recognised on the other side (so re-runs skip it), and
//! which numbers a new spool message gets.

use std::collections::HashMap;

use imapvm_message::spool_info::{MessageInfo, split_callerid};
use imapvm_message::{Flag as VmFlag, HeaderFields};
use imapvm_policy::{Folder, MessageFlags, MessageState};

/// How a message is recognised on both sides: by its `msg_id`, else by
/// origtime + caller id + duration (messages of Asterisk before 11 have no id).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MatchKey {
    /// `msg_id` / `X-Asterisk-VM-Message-ID`.
    MsgId(String),
    /// No id: the fields that tell messages apart.
    Fields {
        /// `origtime`.
        origtime: i64,
        /// Caller number (control characters dropped, trimmed).
        caller_num: String,
        /// Caller name (control characters dropped, trimmed).
        caller_name: String,
        /// Duration in seconds.
        duration: u32,
    },
}

fn clean(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .to_owned()
}

impl MatchKey {
    fn build(
        msg_id: Option<&str>,
        origtime: i64,
        name: &str,
        num: &str,
        duration: u32,
    ) -> MatchKey {
        match msg_id
            .map(str::trim)
            .filter(|i| !i.is_empty() && *i != "(null)")
        {
            Some(id) => MatchKey::MsgId(id.to_owned()),
            None => MatchKey::Fields {
                origtime,
                caller_num: clean(num),
                caller_name: clean(name),
                duration,
            },
        }
    }

    /// The key of a spool message.
    pub fn of_info(info: &MessageInfo) -> MatchKey {
        let (name, num) = info.caller_id();
        MatchKey::build(
            info.msg_id(),
            info.origtime().unwrap_or(0),
            &name,
            &num,
            info.duration().unwrap_or(0),
        )
    }

    /// The key of an IMAP message, from its header fields.
    pub fn of_headers(h: &HeaderFields) -> MatchKey {
        MatchKey::build(
            h.msg_id.as_deref(),
            h.orig_time.unwrap_or(0),
            h.caller_id_name
                .as_deref()
                .or(h.caller_id_name_alt.as_deref())
                .unwrap_or_default(),
            h.caller_id_num
                .as_deref()
                .or(h.caller_id.as_deref())
                .unwrap_or_default(),
            h.duration_secs.unwrap_or(0),
        )
    }
}

/// For each wanted message (in order), whether it must be copied: a message is skipped when
/// the other side already holds one with the same key (as a multiset: two identical spool
/// messages need two copies).
pub fn plan_copies(wanted: &[MatchKey], existing: impl IntoIterator<Item = MatchKey>) -> Vec<bool> {
    let mut have: HashMap<MatchKey, usize> = HashMap::new();
    for k in existing {
        *have.entry(k).or_default() += 1;
    }
    wanted
        .iter()
        .map(|k| match have.get_mut(k) {
            Some(n) if *n > 0 => {
                *n -= 1;
                false
            }
            _ => true,
        })
        .collect()
}

/// The spool folders that hold voicemail, with the directory name Asterisk uses.
pub const SPOOL_FOLDERS: [Folder; 11] = [
    Folder::Inbox,
    Folder::Old,
    Folder::Urgent,
    Folder::Work,
    Folder::Family,
    Folder::Friends,
    Folder::Cust1,
    Folder::Cust2,
    Folder::Cust3,
    Folder::Cust4,
    Folder::Cust5,
];

/// The spool folder a directory name means (`INBOX`, `Old`, ... as Asterisk spells them;
/// case-insensitive). `tmp`, `Deleted` and anything else are not migrated.
pub fn spool_folder(dir_name: &str) -> Option<Folder> {
    SPOOL_FOLDERS
        .into_iter()
        .find(|f| f.asterisk_name().eq_ignore_ascii_case(dir_name))
}

/// The flags a spool message is stored with: INBOX none; Urgent `\Flagged`; Old and the saved
/// folders (Work, Family, ... which a user reaches only after listening) `\Seen`, plus
/// `\Flagged` when the `.txt` says `flag=Urgent`.
pub fn import_flags(folder: Folder, info_flag: &str) -> MessageFlags {
    let urgent = VmFlag::from_header(info_flag) == VmFlag::Urgent;
    match folder {
        Folder::Inbox => MessageFlags::default(),
        Folder::Urgent => MessageFlags {
            flagged: true,
            ..MessageFlags::default()
        },
        _ => MessageFlags {
            seen: true,
            flagged: urgent,
            ..MessageFlags::default()
        },
    }
}

/// The spool folder an IMAP message goes to on export: in `imapfolder` by its state (new →
/// INBOX, unseen flagged → Urgent, seen → Old); in another folder, that folder. `None` for
/// `\Deleted` messages (not exported).
pub fn export_folder(imap_folder: Folder, flags: MessageFlags) -> Option<Folder> {
    let state = MessageState::of(flags)?;
    Some(match imap_folder {
        Folder::Inbox | Folder::Old | Folder::Urgent => state.folder(),
        other => other,
    })
}

/// The lowest message numbers not in `taken`, `count` of them (Asterisk fills gaps the same
/// way when it records).
pub fn free_numbers(taken: &[u32], count: usize) -> Vec<u32> {
    let mut sorted = taken.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = Vec::with_capacity(count);
    let mut next = 0u32;
    let mut it = sorted.into_iter().peekable();
    while out.len() < count {
        while it.peek().is_some_and(|t| *t < next) {
            it.next();
        }
        if it.peek() == Some(&next) {
            it.next();
        } else {
            out.push(next);
        }
        match next.checked_add(1) {
            Some(n) => next = n,
            None => break,
        }
    }
    out
}

/// The caller (name, number) of a `.txt`.
pub fn caller_of(info: &MessageInfo) -> (String, String) {
    split_callerid(info.callerid())
}

/// A stable 64-bit FNV-1a hash (Message-ID and boundary of a migrated message are derived
/// from its origin, so a re-run builds the same bytes).
pub fn stable_hash(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(n: u8) -> MatchKey {
        if n.is_multiple_of(2) {
            MatchKey::MsgId(format!("id{}", n / 4))
        } else {
            MatchKey::Fields {
                origtime: i64::from(n / 4),
                caller_num: "1".into(),
                caller_name: String::new(),
                duration: 3,
            }
        }
    }

    proptest! {
        /// After copying what the plan says, a second plan copies nothing; and the plan never
        /// copies a message the other side already has.
        #[test]
        fn a_rerun_copies_nothing(wanted in proptest::collection::vec(0u8..16, 0..30),
                                  existing in proptest::collection::vec(0u8..16, 0..30)) {
            let wanted: Vec<MatchKey> = wanted.into_iter().map(key).collect();
            let existing: Vec<MatchKey> = existing.into_iter().map(key).collect();
            let plan = plan_copies(&wanted, existing.clone());
            let mut after = existing.clone();
            after.extend(wanted.iter().zip(&plan).filter(|(_, c)| **c).map(|(k, _)| k.clone()));
            prop_assert!(plan_copies(&wanted, after.clone()).iter().all(|c| !c));
            // Per key: copies = max(0, wanted - existing).
            for k in &wanted {
                let w = wanted.iter().filter(|x| *x == k).count();
                let e = existing.iter().filter(|x| *x == k).count();
                let c = wanted.iter().zip(&plan).filter(|(x, c)| *x == k && **c).count();
                prop_assert_eq!(c, w.saturating_sub(e));
            }
        }

        #[test]
        fn free_numbers_are_free_ascending_and_enough(taken in proptest::collection::vec(0u32..40, 0..30),
                                                       count in 0usize..20) {
            let free = free_numbers(&taken, count);
            prop_assert_eq!(free.len(), count);
            prop_assert!(free.windows(2).all(|w| w[0] < w[1]));
            prop_assert!(free.iter().all(|f| !taken.contains(f)));
        }
    }

    #[test]
    fn keys_use_the_msg_id_else_the_fields() {
        let info = MessageInfo::parse(
            b"[message]\ncallerid=\"Al\" <1>\norigtime=5\nduration=2\nmsg_id=(null)\n",
        )
        .unwrap()
        .info;
        let h = HeaderFields {
            caller_id_num: Some("1".into()),
            caller_id_name: Some("Al".into()),
            orig_time: Some(5),
            duration_secs: Some(2),
            ..HeaderFields::default()
        };
        assert_eq!(MatchKey::of_info(&info), MatchKey::of_headers(&h));
        let mut with_id = info.clone();
        with_id.set("msg_id", "5-0000000a");
        assert_eq!(
            MatchKey::of_info(&with_id),
            MatchKey::MsgId("5-0000000a".into())
        );
    }

    #[test]
    fn folders_and_flags_round_trip() {
        for folder in SPOOL_FOLDERS {
            assert_eq!(spool_folder(folder.asterisk_name()), Some(folder));
            let flags = import_flags(folder, "");
            let imap = match folder {
                Folder::Inbox | Folder::Old | Folder::Urgent => Folder::Inbox,
                f => f,
            };
            assert_eq!(export_folder(imap, flags), Some(folder), "{folder}");
        }
        // A heard urgent message stays Old, and keeps \Flagged.
        let old_urgent = import_flags(Folder::Old, "Urgent");
        assert!(old_urgent.flagged && old_urgent.seen);
        assert_eq!(export_folder(Folder::Inbox, old_urgent), Some(Folder::Old));
        assert_eq!(spool_folder("tmp"), None);
        assert_eq!(spool_folder("Deleted"), None);
        let deleted = MessageFlags {
            deleted: true,
            ..MessageFlags::default()
        };
        assert_eq!(export_folder(Folder::Work, deleted), None);
    }

    #[test]
    fn free_numbers_fill_gaps_first() {
        assert_eq!(free_numbers(&[0, 1, 3], 3), vec![2, 4, 5]);
        assert_eq!(free_numbers(&[], 2), vec![0, 1]);
    }

    #[test]
    fn the_hash_is_stable() {
        assert_eq!(stable_hash(&["a", "b"]), stable_hash(&["a", "b"]));
        assert_ne!(stable_hash(&["ab", ""]), stable_hash(&["a", "b"]));
    }
}
