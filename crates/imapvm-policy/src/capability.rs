//! The few server capabilities that change a decision, and a message's flags as booleans.

use std::fmt;

/// A server capability that some policy decision depends on.
///
/// The runtime maps the server's CAPABILITY list into these; every other
/// capability is irrelevant to policy and simply not represented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Capability {
    /// RFC 4315: `UID EXPUNGE`, `APPENDUID`, `COPYUID`.
    UidPlus,
    /// RFC 6851: `MOVE` / `UID MOVE`.
    Move,
    /// RFC 5465: `NOTIFY` (push for mailboxes that are not selected).
    Notify,
    /// RFC 2177: `IDLE`.
    Idle,
    /// RFC 7162: `CONDSTORE`.
    CondStore,
    /// RFC 7162: `QRESYNC`.
    QResync,
    /// RFC 9208 / RFC 2087: `QUOTA` (`GETQUOTAROOT`).
    Quota,
    /// RFC 7888: `LITERAL+` (non-synchronising literals).
    LiteralPlus,
}

impl Capability {
    const ALL: [Capability; 8] = [
        Capability::UidPlus,
        Capability::Move,
        Capability::Notify,
        Capability::Idle,
        Capability::CondStore,
        Capability::QResync,
        Capability::Quota,
        Capability::LiteralPlus,
    ];

    const fn bit(self) -> u8 {
        match self {
            Capability::UidPlus => 1,
            Capability::Move => 1 << 1,
            Capability::Notify => 1 << 2,
            Capability::Idle => 1 << 3,
            Capability::CondStore => 1 << 4,
            Capability::QResync => 1 << 5,
            Capability::Quota => 1 << 6,
            Capability::LiteralPlus => 1 << 7,
        }
    }

    /// The capability's name as a server advertises it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Capability::UidPlus => "UIDPLUS",
            Capability::Move => "MOVE",
            Capability::Notify => "NOTIFY",
            Capability::Idle => "IDLE",
            Capability::CondStore => "CONDSTORE",
            Capability::QResync => "QRESYNC",
            Capability::Quota => "QUOTA",
            Capability::LiteralPlus => "LITERAL+",
        }
    }

    /// The capability for an advertised atom (ASCII case-insensitive), if it
    /// is one policy cares about.
    pub fn from_atom(atom: &str) -> Option<Capability> {
        Capability::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(atom))
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of [`Capability`] values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Capabilities(u8);

impl Capabilities {
    /// No capability at all (an IMAP4rev1 server with no extensions).
    pub const fn none() -> Capabilities {
        Capabilities(0)
    }

    /// The set with exactly these capabilities.
    pub fn of(caps: &[Capability]) -> Capabilities {
        caps.iter().copied().collect()
    }

    /// Parses the atoms of a CAPABILITY response, keeping the ones policy uses.
    pub fn from_atoms<'a>(atoms: impl IntoIterator<Item = &'a str>) -> Capabilities {
        atoms
            .into_iter()
            .filter_map(Capability::from_atom)
            .collect()
    }

    /// Whether the server offers `cap`.
    pub const fn has(self, cap: Capability) -> bool {
        self.0 & cap.bit() != 0
    }

    /// This set plus `cap`.
    #[must_use]
    pub const fn with(self, cap: Capability) -> Capabilities {
        Capabilities(self.0 | cap.bit())
    }

    /// This set without `cap`.
    #[must_use]
    pub const fn without(self, cap: Capability) -> Capabilities {
        Capabilities(self.0 & !cap.bit())
    }

    /// The capabilities in the set.
    pub fn iter(self) -> impl Iterator<Item = Capability> {
        Capability::ALL.into_iter().filter(move |c| self.has(*c))
    }
}

impl FromIterator<Capability> for Capabilities {
    fn from_iter<I: IntoIterator<Item = Capability>>(iter: I) -> Capabilities {
        iter.into_iter()
            .fold(Capabilities::none(), |set, cap| set.with(cap))
    }
}

/// The system flags of one message that policy reads, as booleans.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct MessageFlags {
    /// `\Seen`: heard (Asterisk: "Old").
    pub seen: bool,
    /// `\Flagged`: urgent.
    pub flagged: bool,
    /// `\Deleted`: waiting for an expunge; invisible to counts and listings.
    pub deleted: bool,
}

impl MessageFlags {
    /// Flags from the server's FLAGS list (ASCII case-insensitive; keywords ignored).
    pub fn from_flags<'a>(flags: impl IntoIterator<Item = &'a str>) -> MessageFlags {
        let mut out = MessageFlags::default();
        for flag in flags {
            if flag.eq_ignore_ascii_case("\\Seen") {
                out.seen = true;
            } else if flag.eq_ignore_ascii_case("\\Flagged") {
                out.flagged = true;
            } else if flag.eq_ignore_ascii_case("\\Deleted") {
                out.deleted = true;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dovecot_capability_line_keeps_what_policy_uses() {
        // ecosystem.md, "Dovecot after login" (abridged to the relevant atoms and some noise).
        let caps = Capabilities::from_atoms(
            "IMAP4rev1 SASL-IR IDLE UIDPLUS CONDSTORE QRESYNC MOVE LITERAL+ NOTIFY QUOTA"
                .split(' '),
        );
        assert_eq!(caps.iter().count(), 8);
        // Courier after login: no MOVE, no LITERAL+, no NOTIFY.
        let courier = Capabilities::from_atoms(
            "IMAP4rev1 UIDPLUS CHILDREN NAMESPACE SORT QUOTA IDLE ACL".split(' '),
        );
        assert!(courier.has(Capability::UidPlus));
        assert!(!courier.has(Capability::Move));
        assert!(!courier.has(Capability::Notify));
        assert!(courier.has(Capability::Idle));
    }

    #[test]
    fn flags_are_case_insensitive() {
        let f = MessageFlags::from_flags(["\\SEEN", "\\flagged", "$Label1"]);
        assert_eq!(
            f,
            MessageFlags {
                seen: true,
                flagged: true,
                deleted: false
            }
        );
    }
}
