//! What a login may do: whether a password may go over a connection, and the server
//! quirks, told apart by the greeting, that capabilities do not announce.
//!
//! Courier-IMAP accepts `AUTHENTICATE PLAIN` with an authorization identity and then
//! silently ignores it (the session is the authenticating user's own mailbox), so a proxy
//! login (`authuser`) would store voicemail in the wrong mailbox. Dovecot reads the
//! commands pipelined behind a login (`pipelines_after_login`) and offers SEARCHRES once
//! logged in (`may_use_searchres`), which lets a cold count or listing go in one flight.

use imapvm_types::{Capabilities, Capability};

/// How many bytes of the greeting the runtime keeps to recognise the server.
pub const GREETING_BYTES: usize = 512;

/// What a password would travel over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPath {
    /// The connection is encrypted (TLS from the start, or after STARTTLS).
    pub encrypted: bool,
    /// The operator accepted clear-text passwords (`imapflags=notls`).
    pub clear_text_accepted: bool,
    /// The server is on this host (a clear-text password never leaves the machine).
    pub loopback: bool,
}

/// Whether a password may go over `path`: encrypted, or the server is on this host, or the
/// operator wrote `notls` (and so accepted clear text).
pub fn may_send_password(path: PasswordPath) -> bool {
    path.encrypted || path.clear_text_accepted || path.loopback
}

/// Servers known to answer OK to a SASL PLAIN authorization identity they do not honour.
const IGNORES_AUTHZID: &[(&[u8], &str)] = &[(b"Courier-IMAP", "Courier-IMAP")];

/// The name of the server whose `greeting` (first line, as received) says it ignores a SASL
/// authorization identity; `None` for every other server.
pub fn ignores_authzid(greeting: &[u8]) -> Option<&'static str> {
    IGNORES_AUTHZID
        .iter()
        .find(|(marker, _)| greets_as(greeting, marker))
        .map(|(_, name)| *name)
}

/// Servers known to read commands a client sent behind its login before the login's
/// answer. Others need not: Cyrus IMAP discards what it buffered during AUTHENTICATE, and
/// Courier's `imaplogin` hands the connection to `imapd` without what it had read (the
/// commands time out).
const KEEPS_PIPELINED_AFTER_LOGIN: &[&[u8]] = &[b"Dovecot"];

/// Whether commands may follow the login in the same flight (issue 22's cold commands) on
/// the server whose `greeting` this is: only on servers known to read them. A forged
/// greeting (before STARTTLS) can only cost a round trip or time the commands out, as
/// cutting the connection could.
pub fn pipelines_after_login(greeting: &[u8]) -> bool {
    KEEPS_PIPELINED_AFTER_LOGIN
        .iter()
        .any(|marker| greets_as(greeting, marker))
}

/// Servers known to offer SEARCHRES (RFC 5182) once logged in, though their greeting does
/// not say so (Dovecot announces its full list only in the login's answer).
const OFFERS_SEARCHRES: &[&[u8]] = &[b"Dovecot"];

/// Whether a command may use SEARCHRES (`UID SEARCH RETURN (SAVE)`, then `$`): the
/// `capabilities` known once logged in decide; while they are unknown (a cold command's
/// flight goes out behind the login, before its answer tells them; the list a greeting
/// carries is the smaller one of a server not logged in yet) the `greeting` does. A wrong guess costs the
/// commands a `BAD` and one more round trip with the fallback, never a wrong answer (a
/// refused saving search leaves `$` empty, and its refusal is seen).
pub fn may_use_searchres(capabilities: Option<&Capabilities>, greeting: &[u8]) -> bool {
    match capabilities {
        Some(caps) => caps.contains(Capability::SearchRes),
        None => OFFERS_SEARCHRES
            .iter()
            .any(|marker| greets_as(greeting, marker)),
    }
}

/// Servers known to offer CONDSTORE (RFC 7162) once logged in, though their greeting does
/// not say so.
const OFFERS_CONDSTORE: &[&[u8]] = &[b"Dovecot"];

/// Whether a SELECT may carry the CONDSTORE parameter (`SELECT name (CONDSTORE)`, so that
/// its answer reports HIGHESTMODSEQ, which `crate::known_flags` needs): as for
/// [`may_use_searchres`], the `capabilities` once logged in decide, the `greeting` while
/// they are unknown. A wrong guess costs the SELECT a `BAD` and the plain SELECT after it
/// (the runtime takes a refused SELECT as a folder to create or select again), never a
/// wrong answer.
pub fn may_select_condstore(capabilities: Option<&Capabilities>, greeting: &[u8]) -> bool {
    match capabilities {
        Some(caps) => caps.contains(Capability::CondStore),
        None => OFFERS_CONDSTORE
            .iter()
            .any(|marker| greets_as(greeting, marker)),
    }
}

/// Whether the first line of `greeting` contains `marker`.
fn greets_as(greeting: &[u8], marker: &[u8]) -> bool {
    let line = greeting.split(|b| *b == b'\n').next().unwrap_or_default();
    line.windows(marker.len()).any(|w| w == marker)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_select_carries_condstore_where_it_is_offered_or_dovecot_greets() {
        let dovecot = b"* OK [CAPABILITY IMAP4rev1 SASL-IR] Dovecot (Debian) ready.\r\n";
        let cyrus = b"* OK [CAPABILITY IMAP4rev1] localhost Cyrus IMAP 3.6.1 server ready\r\n";
        assert!(may_select_condstore(None, dovecot));
        assert!(!may_select_condstore(None, cyrus));
        let mut caps = Capabilities::new();
        assert!(!may_select_condstore(Some(&caps), dovecot), "known: none");
        caps.insert("CONDSTORE");
        assert!(may_select_condstore(Some(&caps), cyrus));
    }

    #[test]
    fn only_dovecot_gets_commands_behind_its_login() {
        let dovecot = b"* OK [CAPABILITY IMAP4rev1 SASL-IR] Dovecot (Debian) ready.\r\n";
        assert!(pipelines_after_login(dovecot));
        let cyrus = b"* OK [CAPABILITY IMAP4rev1] localhost Cyrus IMAP 3.6.1 server ready\r\n";
        assert!(!pipelines_after_login(cyrus));
        let courier = b"* OK [CAPABILITY IMAP4rev1 UIDPLUS] Courier-IMAP ready.\r\n";
        assert!(!pipelines_after_login(courier));
        assert!(!pipelines_after_login(b"* OK ready\r\n"));
        // Only the greeting line counts.
        assert!(!pipelines_after_login(b"* OK ready\r\n* OK Dovecot\r\n"));
    }

    #[test]
    fn searchres_is_used_where_offered_or_guessed_from_a_dovecot_greeting() {
        let dovecot = b"* OK [CAPABILITY IMAP4rev1 SASL-IR] Dovecot (Debian) ready.\r\n";
        let cyrus = b"* OK [CAPABILITY IMAP4rev1] localhost Cyrus IMAP 3.6.1 server ready\r\n";
        // Unknown capabilities: the greeting guesses.
        assert!(may_use_searchres(None, dovecot));
        assert!(!may_use_searchres(None, cyrus));
        assert!(!may_use_searchres(None, b""));
        // Known ones decide, whoever greeted.
        let with = Capabilities::of(&[Capability::Esearch, Capability::SearchRes]);
        let without = Capabilities::of(&[Capability::Esearch]);
        assert!(may_use_searchres(Some(&with), cyrus));
        assert!(!may_use_searchres(Some(&without), dovecot));
    }

    #[test]
    fn a_clear_text_password_needs_tls_loopback_or_notls() {
        // (encrypted, notls, loopback) -> allowed
        let table = [
            (true, false, false, true),
            (true, false, true, true),
            (true, true, false, true),
            (false, false, false, false),
            (false, false, true, true),
            (false, true, false, true),
        ];
        for (encrypted, clear_text_accepted, loopback, allowed) in table {
            let path = PasswordPath {
                encrypted,
                clear_text_accepted,
                loopback,
            };
            assert_eq!(may_send_password(path), allowed, "{path:?}");
        }
    }

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
