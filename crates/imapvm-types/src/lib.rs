//! imapvm's vocabulary: the domain types every other imapvm crate names, defined once.
//!
//! imap-codec keeps its types in `imap-types`; quinn re-exports `VarInt` and `StreamId`
//! from quinn-proto. In the same way, this crate is the floor of the workspace:
//! `imapvm-config`, `imapvm-proto`, `imapvm-policy`, `imapvm-ami`, `imapvm-agi` and
//! `imapvm-ivr` use these types and re-export them, so a UID, a mailbox name or a secret
//! means the same thing in every layer and no layer converts between look-alikes.
//!
//! * [`Uid`], [`UidValidity`]: never 0 (RFC 3501 §2.3.1.1); a message is named by
//!   (mailbox, UIDVALIDITY, UID) [INV-2].
//! * [`UidSet`]: an ordered set of UIDs that renders as an IMAP sequence set (`1:3,7`).
//! * [`MailboxId`]: a voicemail box `box@context`, validated, compared ASCII
//!   case-insensitively as Asterisk's `find_user` compares them.
//! * [`MailboxName`]: an IMAP mailbox name as it travels on the wire, validated; policy
//!   builds it, the protocol core sends and reports it.
//! * [`Secret`]: a password or PIN whose `Debug` and `Display` print `***` [INV-6].
//! * [`Capabilities`] and [`Capability`]: what a server advertised.
//! * [`Dtmf`] and [`DtmfSet`]: a telephone key and a set of them (escape digits), as AGI
//!   and the call flows speak of them.
//! * [`SearchKey`]: a `UID SEARCH` key, decided by policy and sent by the protocol core.
//! * [`ResponseCode`]: the bracketed code of a server's answer (`NO [OVERQUOTA]`).
//! * [`MessageNumber`]: Asterisk's 1-based number of a message within one listing.
//! * [`sansio::Core`]: the one interface of the sans-IO protocol cores (IMAP, AMI, AGI),
//!   so that one driver runs all of them.
//!
//! What it does **not** do: no I/O, no clocks, no protocol grammar, no policy. Every
//! constructor validates; invalid values cannot be built.
//!
//! ```
//! use imapvm_types::{MailboxId, Secret, Uid, UidSet};
//!
//! let id: MailboxId = "1234@Default".parse().unwrap();
//! assert_eq!(id, "1234@default".parse().unwrap());
//! assert_eq!(id.to_string(), "1234@Default");
//!
//! let set: UidSet = [1, 2, 3, 7].into_iter().filter_map(Uid::new).collect();
//! assert_eq!(set.to_string(), "1:3,7");
//! assert!(Uid::new(0).is_none());
//!
//! assert_eq!(format!("{:?}", Secret::new("1234")), "***");
//! ```
#![forbid(unsafe_code)]

mod capability;
mod dtmf;
mod mailbox_id;
mod mailbox_name;
mod number;
mod response_code;
pub mod sansio;
mod search;
mod secret;
mod uid;

pub use capability::{Capabilities, Capability};
pub use dtmf::{Dtmf, DtmfError, DtmfSet};
pub use mailbox_id::{DEFAULT_CONTEXT, MAX_ID_BYTES, MailboxId, MailboxIdError};
pub use mailbox_name::{MAX_MAILBOX_NAME_BYTES, MailboxName, MailboxNameError};
pub use number::MessageNumber;
pub use response_code::ResponseCode;
pub use search::SearchKey;
pub use secret::Secret;
pub use uid::{Uid, UidSet, UidSetError, UidValidity};
