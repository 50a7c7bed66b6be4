//! [`Capabilities`]: what an IMAP server advertised, and the [`Capability`]s imapvm's
//! decisions depend on.

use std::collections::BTreeSet;
use std::fmt;

/// A server capability that some imapvm decision depends on (plan, pipelining, push).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
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
    /// RFC 7888: `LITERAL+` (non-synchronising literals of any size).
    LiteralPlus,
    /// RFC 7888: `LITERAL-` (non-synchronising literals up to 4096 bytes).
    LiteralMinus,
    /// RFC 4731: `ESEARCH` (`UID SEARCH RETURN (...)`).
    Esearch,
    /// RFC 5182: `SEARCHRES` (`UID SEARCH RETURN (SAVE)`, then `$` names its result).
    SearchRes,
    /// RFC 5161: `ENABLE`.
    Enable,
    /// RFC 4959: `SASL-IR` (an initial response in `AUTHENTICATE`).
    SaslIr,
    /// RFC 3501: `STARTTLS`.
    StartTls,
    /// RFC 3501: `LOGINDISABLED`.
    LoginDisabled,
    /// `AUTH=PLAIN`.
    AuthPlain,
    /// RFC 9051: `IMAP4rev2`.
    Imap4Rev2,
    /// RFC 7628: `AUTH=OAUTHBEARER` (an OAuth 2 bearer token).
    AuthOAuthBearer,
    /// Google's and Microsoft's `AUTH=XOAUTH2` (an OAuth 2 bearer token, the older format).
    AuthXOAuth2,
}

impl Capability {
    /// Every capability this enum names.
    pub const ALL: [Capability; 19] = [
        Capability::UidPlus,
        Capability::Move,
        Capability::Notify,
        Capability::Idle,
        Capability::CondStore,
        Capability::QResync,
        Capability::Quota,
        Capability::LiteralPlus,
        Capability::LiteralMinus,
        Capability::Esearch,
        Capability::SearchRes,
        Capability::Enable,
        Capability::SaslIr,
        Capability::StartTls,
        Capability::LoginDisabled,
        Capability::AuthPlain,
        Capability::Imap4Rev2,
        Capability::AuthOAuthBearer,
        Capability::AuthXOAuth2,
    ];

    /// The atom a server advertises (upper case).
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
            Capability::LiteralMinus => "LITERAL-",
            Capability::Esearch => "ESEARCH",
            Capability::SearchRes => "SEARCHRES",
            Capability::Enable => "ENABLE",
            Capability::SaslIr => "SASL-IR",
            Capability::StartTls => "STARTTLS",
            Capability::LoginDisabled => "LOGINDISABLED",
            Capability::AuthPlain => "AUTH=PLAIN",
            Capability::Imap4Rev2 => "IMAP4REV2",
            Capability::AuthOAuthBearer => "AUTH=OAUTHBEARER",
            Capability::AuthXOAuth2 => "AUTH=XOAUTH2",
        }
    }

    /// The capability for an advertised atom (ASCII case-insensitive), if it is one that
    /// this enum names.
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

/// The capabilities a server advertised: every atom, upper-cased, plus typed queries for
/// the ones decisions depend on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    atoms: BTreeSet<String>,
}

impl Capabilities {
    /// No capabilities.
    pub const fn new() -> Capabilities {
        Capabilities {
            atoms: BTreeSet::new(),
        }
    }

    /// The set of advertised atoms (any case; stored upper-cased).
    pub fn from_atoms<I, S>(atoms: I) -> Capabilities
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Capabilities {
            atoms: atoms
                .into_iter()
                .map(|a| a.as_ref().to_ascii_uppercase())
                .collect(),
        }
    }

    /// The set holding exactly these typed capabilities (tests and policy tables).
    pub fn of(caps: &[Capability]) -> Capabilities {
        Capabilities::from_atoms(caps.iter().map(|c| c.as_str()))
    }

    /// Whether the typed capability is advertised.
    pub fn contains(&self, cap: Capability) -> bool {
        self.atoms.contains(cap.as_str())
    }

    /// This set plus `cap` (policy tables and fallbacks).
    #[must_use]
    pub fn with(mut self, cap: Capability) -> Capabilities {
        self.atoms.insert(cap.as_str().to_owned());
        self
    }

    /// This set without `cap` (a fallback after the server refused what it advertised).
    #[must_use]
    pub fn without(mut self, cap: Capability) -> Capabilities {
        self.atoms.remove(cap.as_str());
        self
    }

    /// Whether `atom` (e.g. `"IDLE"`, `"AUTH=PLAIN"`) is advertised (case-insensitive).
    pub fn has(&self, atom: &str) -> bool {
        self.atoms.contains(&atom.to_ascii_uppercase())
    }

    /// Adds an atom.
    pub fn insert(&mut self, atom: &str) {
        self.atoms.insert(atom.to_ascii_uppercase());
    }

    /// Removes an atom (a server personality without it).
    pub fn remove(&mut self, atom: &str) {
        self.atoms.remove(&atom.to_ascii_uppercase());
    }

    /// Every advertised atom, upper-cased, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.atoms.iter().map(String::as_str)
    }

    /// Whether nothing is advertised.
    pub fn is_empty(&self) -> bool {
        self.atoms.is_empty()
    }
}

impl FromIterator<Capability> for Capabilities {
    fn from_iter<I: IntoIterator<Item = Capability>>(iter: I) -> Capabilities {
        Capabilities {
            atoms: iter.into_iter().map(|c| c.as_str().to_owned()).collect(),
        }
    }
}

impl fmt::Display for Capabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.atoms.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(a)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atoms_are_case_insensitive_and_typed() {
        let caps = Capabilities::from_atoms(["imap4rev1", "Uidplus", "LITERAL+", "auth=plain"]);
        assert!(caps.contains(Capability::UidPlus));
        assert!(caps.contains(Capability::LiteralPlus));
        assert!(caps.contains(Capability::AuthPlain));
        assert!(!caps.contains(Capability::Move));
        assert!(caps.has("IMAP4REV1"));
        assert_eq!(caps.to_string(), "AUTH=PLAIN IMAP4REV1 LITERAL+ UIDPLUS");
        for c in Capability::ALL {
            assert_eq!(Capability::from_atom(&c.as_str().to_lowercase()), Some(c));
            assert!(Capabilities::of(&[c]).contains(c));
        }
        let fallback = caps
            .clone()
            .without(Capability::UidPlus)
            .with(Capability::Move);
        assert!(!fallback.contains(Capability::UidPlus) && fallback.contains(Capability::Move));
        assert!(fallback.has("IMAP4REV1"), "other atoms stay");
    }
}
