//! A message's flags as booleans (the server capabilities that change a decision are
//! `imapvm-types`' [`Capabilities`](imapvm_types::Capabilities), re-exported by the crate).

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
    /// Flags from the server's FLAGS list (ASCII case-insensitive; keywords ignored): wire
    /// spellings, or anything that shows as one (`imapvm_proto::Flag`).
    pub fn from_flags<S: AsRef<str>>(flags: impl IntoIterator<Item = S>) -> MessageFlags {
        let mut out = MessageFlags::default();
        for flag in flags {
            let flag = flag.as_ref();
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
