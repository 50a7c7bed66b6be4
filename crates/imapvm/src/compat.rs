//! What the runtime knows about particular IMAP server implementations, told apart by their
//! greeting: the quirks that capabilities do not announce.
//!
//! Today one quirk matters: Courier-IMAP accepts `AUTHENTICATE PLAIN` with an authorization
//! identity and then silently ignores it (the session is the authenticating user's own
//! mailbox), so a proxy login (`authuser`) would store voicemail in the wrong mailbox.

/// How many bytes of the greeting are kept to recognise the server.
pub(crate) const GREETING_BYTES: usize = 512;

/// Servers known to answer OK to a SASL PLAIN authorization identity they do not honour.
const IGNORES_AUTHZID: &[(&[u8], &str)] = &[(b"Courier-IMAP", "Courier-IMAP")];

/// The name of the server whose `greeting` (first line, as received) says it ignores a SASL
/// authorization identity; `None` for every other server.
pub(crate) fn ignores_authzid(greeting: &[u8]) -> Option<&'static str> {
    let line = greeting.split(|b| *b == b'\n').next().unwrap_or_default();
    IGNORES_AUTHZID
        .iter()
        .find(|(marker, _)| line.windows(marker.len()).any(|w| w == *marker))
        .map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn courier_is_recognised_by_its_greeting_and_nothing_else_is() {
        let courier = b"* OK [CAPABILITY IMAP4rev1 UIDPLUS CHILDREN NAMESPACE QUOTA IDLE ACL ACL2=UNION STARTTLS] Courier-IMAP ready. Copyright 1998-2018 Double Precision, Inc.  See COPYING for distribution information.\r\n";
        assert_eq!(ignores_authzid(courier), Some("Courier-IMAP"));
        for other in [
            &b"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] Dovecot (Debian) ready.\r\n"[..],
            b"* OK [CAPABILITY IMAP4rev1 LITERAL+ ID ENABLE STARTTLS AUTH=PLAIN SASL-IR] localhost Cyrus IMAP 3.6.1-Debian server ready\r\n",
            b"",
            b"* OK hi\r\n* OK Courier-IMAP in a later line is not the greeting\r\n",
        ] {
            assert_eq!(ignores_authzid(other), None, "{}", other.escape_ascii());
        }
    }
}
