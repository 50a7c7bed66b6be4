//! Asterisk's folder indexes ⇄ IMAP mailbox names, per mailbox and per server hierarchy.
//!
//! Reference: `docs/reference/asterisk-imap-behaviour.md` §3.1 (indexes), §3.2
//! (name construction), §3.4 (greetings), §3.5 (auto-creation), §4.7
//! (Asterisk's COPY-with-bare-name bug, which this module does not reproduce).

use std::fmt;

use imapvm_types::MailboxNameError;
pub use imapvm_types::{MAX_MAILBOX_NAME_BYTES, MailboxName};
use thiserror::Error;

use crate::mutf7::{self, Utf7Error};

/// One of Asterisk's voicemail folders, by its `enum vm_box` index.
///
/// `Inbox` (0) is the mailbox's `imapfolder`. `Old` (1) and `Urgent` (11)
/// are **flag states inside `imapfolder`**, not IMAP folders. `Greetings`
/// (−1) is the global `greetingfolder`. The others are real IMAP folders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Folder {
    /// Index 0: new messages (unseen, unflagged) in `imapfolder`.
    Inbox,
    /// Index 1: heard messages (`\Seen`) in `imapfolder`.
    Old,
    /// Index 2.
    Work,
    /// Index 3.
    Family,
    /// Index 4.
    Friends,
    /// Index 5.
    Cust1,
    /// Index 6.
    Cust2,
    /// Index 7.
    Cust3,
    /// Index 8.
    Cust4,
    /// Index 9.
    Cust5,
    /// Index 10: file-mode `backupdeleted`; a plain folder with IMAP.
    Deleted,
    /// Index 11: unseen `\Flagged` messages in `imapfolder`.
    Urgent,
    /// Index −1: greetings (`imapgreetings=yes`).
    Greetings,
}

/// How a [`Folder`] exists on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FolderStorage {
    /// A flag state of messages in `imapfolder` (indexes 0, 1, 11).
    FlagStateInImapFolder,
    /// Its own IMAP mailbox (indexes 2–10).
    Mailbox,
    /// The greetings folder (−1), `imapfolder` unless configured otherwise.
    GreetingFolder,
}

impl Folder {
    /// Every folder, in index order (greetings last).
    pub const ALL: [Folder; 13] = [
        Folder::Inbox,
        Folder::Old,
        Folder::Work,
        Folder::Family,
        Folder::Friends,
        Folder::Cust1,
        Folder::Cust2,
        Folder::Cust3,
        Folder::Cust4,
        Folder::Cust5,
        Folder::Deleted,
        Folder::Urgent,
        Folder::Greetings,
    ];

    /// Asterisk's index (`enum vm_box`; −1 for greetings).
    pub const fn index(self) -> i32 {
        match self {
            Folder::Inbox => 0,
            Folder::Old => 1,
            Folder::Work => 2,
            Folder::Family => 3,
            Folder::Friends => 4,
            Folder::Cust1 => 5,
            Folder::Cust2 => 6,
            Folder::Cust3 => 7,
            Folder::Cust4 => 8,
            Folder::Cust5 => 9,
            Folder::Deleted => 10,
            Folder::Urgent => 11,
            Folder::Greetings => -1,
        }
    }

    /// The folder for an Asterisk index.
    pub fn from_index(index: i32) -> Result<Folder, FolderError> {
        Folder::ALL
            .into_iter()
            .find(|f| f.index() == index)
            .ok_or(FolderError::UnknownIndex { index })
    }

    /// Asterisk's name from `mailbox_folders[]` (`INBOX` for index 0,
    /// `Greetings` for −1). For index 2–10 this is also the last hierarchy
    /// level of the IMAP mailbox name.
    pub const fn asterisk_name(self) -> &'static str {
        match self {
            Folder::Inbox => "INBOX",
            Folder::Old => "Old",
            Folder::Work => "Work",
            Folder::Family => "Family",
            Folder::Friends => "Friends",
            Folder::Cust1 => "Cust1",
            Folder::Cust2 => "Cust2",
            Folder::Cust3 => "Cust3",
            Folder::Cust4 => "Cust4",
            Folder::Cust5 => "Cust5",
            Folder::Deleted => "Deleted",
            Folder::Urgent => "Urgent",
            Folder::Greetings => "Greetings",
        }
    }

    /// The folder an operator names (ASCII case-insensitive, as Asterisk's
    /// `get_folder_by_name`), also accepting the index as digits.
    pub fn from_name(name: &str) -> Result<Folder, FolderError> {
        let trimmed = name.trim();
        if let Ok(index) = trimmed.parse::<i32>() {
            return Folder::from_index(index);
        }
        Folder::ALL
            .into_iter()
            .find(|f| f.asterisk_name().eq_ignore_ascii_case(trimmed))
            .ok_or_else(|| FolderError::UnknownName {
                name: trimmed.chars().take(80).collect(),
            })
    }

    /// Whether the folder is a flag state, its own mailbox, or the greetings folder.
    pub const fn storage(self) -> FolderStorage {
        match self {
            Folder::Inbox | Folder::Old | Folder::Urgent => FolderStorage::FlagStateInImapFolder,
            Folder::Greetings => FolderStorage::GreetingFolder,
            _ => FolderStorage::Mailbox,
        }
    }
}

impl fmt::Display for Folder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.asterisk_name())
    }
}

/// A folder decision that cannot be made from the given names.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum FolderError {
    /// No Asterisk folder has this index.
    #[error("no voicemail folder has index {index} (valid: -1 to 11)")]
    UnknownIndex {
        /// The index asked for.
        index: i32,
    },
    /// No Asterisk folder has this name.
    #[error("no voicemail folder is named {name:?}")]
    UnknownName {
        /// The name asked for (at most 80 characters of it).
        name: String,
    },
    /// A configured folder name is empty or has an empty hierarchy level.
    #[error("{option} has an empty folder name or hierarchy level: {value:?}")]
    EmptyLevel {
        /// The option that held it (`imapfolder`, `imapparentfolder`, `greetingfolder`).
        option: &'static str,
        /// The configured value.
        value: String,
    },
    /// A configured folder name holds a control character (CR, LF, NUL...).
    #[error("{option} holds a control character: {value:?}")]
    ControlCharacter {
        /// The option that held it.
        option: &'static str,
        /// The configured value.
        value: String,
    },
    /// The server has a flat namespace (no delimiter) but the name has levels.
    #[error(
        "{option} {value:?} has hierarchy levels but the server reports no hierarchy delimiter"
    )]
    NoHierarchy {
        /// The option that held it.
        option: &'static str,
        /// The configured value.
        value: String,
    },
    /// The built name exceeds [`MAX_MAILBOX_NAME_BYTES`].
    #[error("mailbox name for {option} is {len} bytes, over the {max} byte limit")]
    TooLong {
        /// The option the name was built from.
        option: &'static str,
        /// Its length in wire bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A built name holds a character no command can carry (a line break from an option).
    #[error("mailbox name for {option}: {source}")]
    BadName {
        /// The option the name was built from.
        option: &'static str,
        /// What is wrong with it.
        source: MailboxNameError,
    },
    /// A mailbox name from the server is not valid modified UTF-7.
    #[error("mailbox name {wire:?} from the server: {source}")]
    BadEncoding {
        /// The name as received (at most 200 characters of it).
        wire: String,
        /// What is wrong with it.
        source: Utf7Error,
    },
    /// The server's delimiter is not a printable ASCII character.
    #[error("hierarchy delimiter {delimiter:?} is not printable ASCII")]
    BadDelimiter {
        /// The delimiter reported.
        delimiter: char,
    },
}

/// The human form of a wire mailbox name: the whole name decoded from modified UTF-7.
pub fn decoded(name: &MailboxName) -> Result<String, FolderError> {
    mutf7::decode(name.as_wire()).map_err(|source| FolderError::BadEncoding {
        wire: name.as_wire().chars().take(200).collect(),
        source,
    })
}

/// What the server reports about its folder hierarchy: the personal
/// namespace prefix and the delimiter (NAMESPACE / `LIST "" ""`).
///
/// Per server, not one global value (Asterisk learns one delimiter per
/// process, `docs/reference/asterisk-imap-behaviour.md` §3.2 and §6 #25).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    prefix: String,
    delimiter: Option<char>,
}

impl Hierarchy {
    /// Dovecot's default: no prefix, `/` (`(("" "/")) NIL NIL`).
    pub fn dovecot() -> Hierarchy {
        Hierarchy {
            prefix: String::new(),
            delimiter: Some('/'),
        }
    }

    /// A hierarchy from the personal namespace's prefix (wire form, e.g.
    /// `INBOX.` on Courier, `INBOX/` on Cyrus, empty on Dovecot) and delimiter
    /// (`None` for a flat server).
    pub fn new(prefix: &str, delimiter: Option<char>) -> Result<Hierarchy, FolderError> {
        if let Some(d) = delimiter
            && !d.is_ascii_graphic()
        {
            return Err(FolderError::BadDelimiter { delimiter: d });
        }
        if prefix.len() > MAX_MAILBOX_NAME_BYTES {
            return Err(FolderError::TooLong {
                option: "namespace prefix",
                len: prefix.len(),
                max: MAX_MAILBOX_NAME_BYTES,
            });
        }
        Ok(Hierarchy {
            prefix: prefix.to_owned(),
            delimiter,
        })
    }

    /// The personal namespace prefix (wire form).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The hierarchy delimiter, if the server has one.
    pub fn delimiter(&self) -> Option<char> {
        self.delimiter
    }

    /// Splits a configured folder value into levels: `/` (Asterisk's
    /// convention, §3.2) and the server's delimiter both separate levels.
    fn levels<'a>(
        &self,
        option: &'static str,
        value: &'a str,
    ) -> Result<Vec<&'a str>, FolderError> {
        if value.chars().any(char::is_control) {
            return Err(FolderError::ControlCharacter {
                option,
                value: value.chars().take(200).collect(),
            });
        }
        let delimiter = self.delimiter;
        let levels: Vec<&str> = value
            .split(|c: char| c == '/' || Some(c) == delimiter)
            .collect();
        if levels.iter().any(|l| l.is_empty()) {
            return Err(FolderError::EmptyLevel {
                option,
                value: value.chars().take(200).collect(),
            });
        }
        if levels.len() > 1 && delimiter.is_none() {
            return Err(FolderError::NoHierarchy {
                option,
                value: value.chars().take(200).collect(),
            });
        }
        Ok(levels)
    }

    /// Joins decoded levels into a wire mailbox name inside the personal
    /// namespace. A path whose first level is `INBOX` (any case), or whose
    /// wire form already starts with the prefix, is not prefixed again (so
    /// `imapparentfolder=INBOX` on Courier gives `INBOX.Work`, not
    /// `INBOX.INBOX.Work`). The single-level name `inbox` (any case) is
    /// sent as `INBOX`; deeper names keep their spelling.
    pub fn join<S: AsRef<str>>(
        &self,
        option: &'static str,
        levels: &[S],
    ) -> Result<MailboxName, FolderError> {
        let mut checked: Vec<&str> = Vec::with_capacity(levels.len());
        for level in levels {
            let level = level.as_ref();
            // Each level is checked alone so that a delimiter inside it is refused.
            let split = self.levels(option, level)?;
            if split.len() != 1 {
                return Err(FolderError::EmptyLevel {
                    option,
                    value: level.chars().take(200).collect(),
                });
            }
            checked.push(level);
        }
        if checked.is_empty() {
            return Err(FolderError::EmptyLevel {
                option,
                value: String::new(),
            });
        }
        if checked.len() > 1 && self.delimiter.is_none() {
            return Err(FolderError::NoHierarchy {
                option,
                value: checked.join("/"),
            });
        }
        let mut path = String::new();
        for (i, level) in checked.iter().enumerate() {
            if i > 0
                && let Some(d) = self.delimiter
            {
                path.push(d);
            }
            path.push_str(&mutf7::encode(level));
        }
        let first_is_inbox = checked[0].eq_ignore_ascii_case("INBOX");
        let wire = if checked.len() == 1 && first_is_inbox {
            // The name INBOX is case-insensitive (RFC 3501 §5.1): canonical spelling.
            "INBOX".to_owned()
        } else if first_is_inbox || self.prefix.is_empty() || path.starts_with(&self.prefix) {
            path
        } else {
            format!("{}{}", self.prefix, path)
        };
        if wire.len() > MAX_MAILBOX_NAME_BYTES {
            return Err(FolderError::TooLong {
                option,
                len: wire.len(),
                max: MAX_MAILBOX_NAME_BYTES,
            });
        }
        MailboxName::from_wire(wire).map_err(|source| FolderError::BadName { option, source })
    }

    /// The decoded levels of a wire name, relative to the personal
    /// namespace (the prefix is removed when present). Inverse of [`join`](Self::join).
    pub fn split(&self, name: &MailboxName) -> Result<Vec<String>, FolderError> {
        let wire = name.as_wire();
        // Strip the prefix only where `join` would put it back: not when the
        // rest starts with INBOX or with the prefix again (`INBOX/INBOX/x`
        // on Cyrus is not the top-level `INBOX/x`).
        let rest = match wire.strip_prefix(self.prefix.as_str()) {
            Some(rest) if !self.prefix.is_empty() && !rest.is_empty() => {
                let first = match self.delimiter {
                    Some(d) => rest.split(d).next().unwrap_or(rest),
                    None => rest,
                };
                if first.eq_ignore_ascii_case("INBOX") || rest.starts_with(self.prefix.as_str()) {
                    wire
                } else {
                    rest
                }
            }
            _ => wire,
        };
        let parts: Vec<&str> = match self.delimiter {
            Some(d) => rest.split(d).collect(),
            None => vec![rest],
        };
        parts
            .into_iter()
            .map(|p| {
                mutf7::decode(p).map_err(|source| FolderError::BadEncoding {
                    wire: wire.chars().take(200).collect(),
                    source,
                })
            })
            .collect()
    }
}

/// Where one voicemail mailbox's folders live: its `imapfolder`, the global
/// `imapparentfolder` and `greetingfolder`, and the server's [`Hierarchy`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderLayout {
    imapfolder: MailboxName,
    parent: Vec<String>,
    greeting_folder: MailboxName,
    hierarchy: Hierarchy,
}

impl FolderLayout {
    /// Builds the layout. `imapfolder` is the mailbox's (Asterisk default
    /// `INBOX`); `parent` is `imapparentfolder` (`None` or empty: none);
    /// `greeting_folder` is `greetingfolder` (`None`: the global `imapfolder`,
    /// which the caller passes as `global_imapfolder`).
    ///
    /// Folder values are decoded text (UTF-8); `/` separates levels as in
    /// Asterisk (§3.2), and so does the server's delimiter.
    pub fn new(
        imapfolder: &str,
        parent: Option<&str>,
        greeting_folder: Option<&str>,
        global_imapfolder: &str,
        hierarchy: Hierarchy,
    ) -> Result<FolderLayout, FolderError> {
        let imap_levels = hierarchy.levels("imapfolder", imapfolder)?;
        let imapfolder_name = hierarchy.join("imapfolder", &imap_levels)?;
        let parent: Vec<String> = match parent {
            Some(p) if !p.is_empty() => hierarchy
                .levels("imapparentfolder", p)?
                .into_iter()
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        };
        let (option, greeting_value) = match greeting_folder {
            Some(g) if !g.is_empty() => ("greetingfolder", g),
            _ => ("imapfolder", global_imapfolder),
        };
        let greeting_levels = hierarchy.levels(option, greeting_value)?;
        let greeting_folder = hierarchy.join(option, &greeting_levels)?;
        // Check the longest derived name once, so mailbox_name cannot fail later.
        let mut longest: Vec<&str> = parent.iter().map(String::as_str).collect();
        longest.push("Friends");
        hierarchy.join("imapparentfolder", &longest)?;
        Ok(FolderLayout {
            imapfolder: imapfolder_name,
            parent,
            greeting_folder,
            hierarchy,
        })
    }

    /// The server hierarchy this layout was built for.
    pub fn hierarchy(&self) -> &Hierarchy {
        &self.hierarchy
    }

    /// The IMAP mailbox holding a folder's messages: `imapfolder` for 0, 1
    /// and 11; `greetingfolder` for −1; `[prefix][parent delim]Name` for
    /// 2–10 (§3.2). Unlike Asterisk, COPY/MOVE and CREATE use the same name.
    pub fn mailbox_name(&self, folder: Folder) -> MailboxName {
        match folder.storage() {
            FolderStorage::FlagStateInImapFolder => self.imapfolder.clone(),
            FolderStorage::GreetingFolder => self.greeting_folder.clone(),
            FolderStorage::Mailbox => {
                let mut levels: Vec<&str> = self.parent.iter().map(String::as_str).collect();
                levels.push(folder.asterisk_name());
                match self.hierarchy.join("imapparentfolder", &levels) {
                    Ok(name) => name,
                    // Unreachable: `new` checked the longest such name. Fall
                    // back to the bare name rather than panic.
                    Err(_) => MailboxName::from_wire(folder.asterisk_name())
                        .unwrap_or_else(|_| MailboxName::inbox()),
                }
            }
        }
    }

    /// The folders whose messages live in the mailbox `name`. Usually one;
    /// `imapfolder` holds Inbox, Old and Urgent (and Greetings when the
    /// greetings folder is `imapfolder`, Asterisk's default).
    pub fn folders_in(&self, name: &MailboxName) -> Vec<Folder> {
        Folder::ALL
            .into_iter()
            .filter(|f| self.mailbox_name(*f).same_mailbox(name))
            .collect()
    }

    /// The mailboxes that must exist for these folders, without duplicates,
    /// in the order given. The runtime checks each (`STATUS`/`LIST`) and
    /// `CREATE`s the missing ones (§3.5); `INBOX` always exists and is left out.
    pub fn required_mailboxes(&self, folders: &[Folder]) -> Vec<MailboxName> {
        let mut out: Vec<MailboxName> = Vec::new();
        for folder in folders {
            let name = self.mailbox_name(*folder);
            if !name.is_inbox() && !out.iter().any(|n| n.same_mailbox(&name)) {
                out.push(name);
            }
        }
        out
    }

    /// The folders a probe checks (`imapfolder`, Work, Family, Friends, Cust1–5, and the
    /// greetings folder when `imapgreetings=yes`), each mailbox once, with the first folder
    /// that lives in it.
    pub fn voicemail_mailboxes(&self, imapgreetings: bool) -> Vec<(Folder, MailboxName)> {
        let folders = Folder::ALL.into_iter().filter(|f| match f {
            Folder::Old | Folder::Urgent | Folder::Deleted => false,
            Folder::Greetings => imapgreetings,
            _ => true,
        });
        let mut out: Vec<(Folder, MailboxName)> = Vec::new();
        for folder in folders {
            let name = self.mailbox_name(folder);
            if !out.iter().any(|(_, n)| n.same_mailbox(&name)) {
                out.push((folder, name));
            }
        }
        out
    }

    /// The folders a voicemail box needs before first use: `imapfolder`,
    /// plus the greetings folder when `imapgreetings=yes`. Work…Cust5 are
    /// created on first save into them, as Asterisk does (§3.5).
    pub fn startup_mailboxes(&self, imapgreetings: bool) -> Vec<MailboxName> {
        if imapgreetings {
            self.required_mailboxes(&[Folder::Inbox, Folder::Greetings])
        } else {
            self.required_mailboxes(&[Folder::Inbox])
        }
    }
}
