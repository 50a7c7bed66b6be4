//! SASL for OAuth 2 bearer tokens, I/O-free: OAUTHBEARER (RFC 7628) and XOAUTH2 (Google's
//! format, which Microsoft 365 speaks too). Which one a server gets
//! ([`OAuthMechanism::choose`]), the client's initial response, and its answer to the
//! server's error challenge; [`Connection::authenticate_oauth`](crate::Connection::authenticate_oauth)
//! sends them.
//!
//! The initial responses (`^A` is the byte 0x01), sent base64-encoded (inline with SASL-IR):
//!
//! * OAUTHBEARER: `n,a=USER,^Ahost=HOST^Aport=PORT^Aauth=Bearer TOKEN^A^A` (RFC 7628 §3.1:
//!   the GS2 header of RFC 5801 with `,` and `=` in USER written `=2C` and `=3D`; `host` and
//!   `port` are sent when known).
//! * XOAUTH2: `user=USER^Aauth=Bearer TOKEN^A^A`.
//!
//! A refused token is not answered with NO at once: the server first sends an error challenge,
//! `+ ` and a base64 JSON object (`{"status":"invalid_token",...}`, RFC 7628 §3.2.2; Google
//! sends `{"status":"401",...}`). The client must answer it, OAUTHBEARER with `AQ==` (the one
//! byte 0x01, RFC 7628 §3.2.3), XOAUTH2 with an empty line; then the tagged NO follows. The
//! core does this by itself and keeps the decoded JSON in the
//! [`Refusal::sasl_error`](crate::Refusal::sasl_error).

use std::fmt;

use imapvm_types::{Capabilities, Capability, Secret};

/// The SASL mechanisms that carry an OAuth 2 bearer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OAuthMechanism {
    /// `OAUTHBEARER` (RFC 7628), the standard one.
    OAuthBearer,
    /// `XOAUTH2`, Google's older format (also Microsoft 365's).
    XOAuth2,
}

/// The server offers neither OAuth mechanism ([`OAuthMechanism::choose`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the server offers neither AUTH=OAUTHBEARER nor AUTH=XOAUTH2")]
pub struct NoOAuthMechanism;

/// Largest decoded error challenge kept (a JSON object of a few fields).
pub(crate) const MAX_SASL_ERROR: usize = 1024;

impl OAuthMechanism {
    /// The mechanism's name in `AUTHENTICATE`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::OAuthBearer => "OAUTHBEARER",
            Self::XOAuth2 => "XOAUTH2",
        }
    }

    /// The capability that advertises it (`AUTH=OAUTHBEARER`, `AUTH=XOAUTH2`).
    pub const fn capability(self) -> Capability {
        match self {
            Self::OAuthBearer => Capability::AuthOAuthBearer,
            Self::XOAuth2 => Capability::AuthXOAuth2,
        }
    }

    /// The mechanism for a server that advertised `caps`: OAUTHBEARER (the standard) when
    /// offered, else XOAUTH2; neither is [`NoOAuthMechanism`].
    pub fn choose(caps: &Capabilities) -> Result<OAuthMechanism, NoOAuthMechanism> {
        [Self::OAuthBearer, Self::XOAuth2]
            .into_iter()
            .find(|m| caps.contains(m.capability()))
            .ok_or(NoOAuthMechanism)
    }

    /// The initial client response, before base64. `server` (host, port) goes into
    /// OAUTHBEARER's `host` and `port` fields. `Err` says which input cannot be encoded (never
    /// showing it): a token must be visible ASCII (RFC 6750's `b64token` and every JWT are),
    /// a user name must hold no control character.
    pub(crate) fn initial_response(
        self,
        user: &str,
        server: Option<(&str, u16)>,
        token: &Secret,
    ) -> Result<Vec<u8>, &'static str> {
        if user.is_empty() || user.chars().any(char::is_control) {
            return Err("the user name is empty or holds a control character");
        }
        let token = token.expose();
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("the token is empty or not visible ASCII");
        }
        let mut out = Vec::with_capacity(64 + user.len() + token.len());
        match self {
            Self::OAuthBearer => {
                out.extend_from_slice(b"n,a=");
                for c in user.chars() {
                    match c {
                        ',' => out.extend_from_slice(b"=2C"),
                        '=' => out.extend_from_slice(b"=3D"),
                        c => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
                    }
                }
                out.extend_from_slice(b",\x01");
                if let Some((host, port)) = server {
                    if host.is_empty() || host.chars().any(char::is_control) {
                        return Err("the host name is empty or holds a control character");
                    }
                    out.extend_from_slice(format!("host={host}\x01port={port}\x01").as_bytes());
                }
            }
            Self::XOAuth2 => {
                out.extend_from_slice(b"user=");
                out.extend_from_slice(user.as_bytes());
                out.push(1);
            }
        }
        out.extend_from_slice(b"auth=Bearer ");
        out.extend_from_slice(token.as_bytes());
        out.extend_from_slice(b"\x01\x01");
        Ok(out)
    }

    /// The line that answers the server's error challenge (RFC 7628 §3.2.3): `AQ==` (0x01)
    /// for OAUTHBEARER, empty for XOAUTH2.
    pub(crate) const fn abort_line(self) -> &'static [u8] {
        match self {
            Self::OAuthBearer => b"AQ==\r\n",
            Self::XOAuth2 => b"\r\n",
        }
    }
}

impl fmt::Display for OAuthMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The decoded text of an error challenge line (`+ BASE64\r\n`), at most
/// [`MAX_SASL_ERROR`] bytes; the raw text when it is not base64.
pub(crate) fn decode_challenge(line: &[u8]) -> Vec<u8> {
    use base64::Engine as _;
    let text = line.strip_prefix(b"+").unwrap_or(line);
    let text = text.trim_ascii();
    let mut decoded = base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap_or_else(|_| text.to_vec());
    decoded.truncate(MAX_SASL_ERROR);
    decoded
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(raw: &[u8]) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(raw)
    }

    /// RFC 7628 §4.1's example, byte for byte.
    #[test]
    fn oauthbearer_matches_rfc7628_example() {
        let raw = OAuthMechanism::OAuthBearer
            .initial_response(
                "user@example.com",
                Some(("server.example.com", 143)),
                &Secret::new("vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg=="),
            )
            .unwrap();
        assert_eq!(
            raw,
            b"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg==\x01\x01"
        );
        assert_eq!(
            b64(&raw),
            "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9QmVhcmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2c9PQEB"
        );
    }

    /// Google's XOAUTH2 example (developers.google.com "OAuth 2.0 Mechanism"), byte for byte.
    #[test]
    fn xoauth2_matches_googles_example() {
        let raw = OAuthMechanism::XOAuth2
            .initial_response(
                "someuser@example.com",
                Some(("imap.gmail.com", 993)),
                &Secret::new("ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"),
            )
            .unwrap();
        assert_eq!(
            b64(&raw),
            "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ=="
        );
    }

    #[test]
    fn the_gs2_authzid_escapes_comma_and_equals_and_host_is_optional() {
        let raw = OAuthMechanism::OAuthBearer
            .initial_response("a,b=c", None, &Secret::new("t0k"))
            .unwrap();
        assert_eq!(raw, b"n,a=a=2Cb=3Dc,\x01auth=Bearer t0k\x01\x01");
    }

    #[test]
    fn unusable_inputs_are_refused_without_showing_them() {
        let m = OAuthMechanism::XOAuth2;
        for (user, token) in [
            ("u", "tok en"),
            ("u", "tok\x01en"),
            ("u", ""),
            ("u", "t\u{e9}"),
            ("u\x01x", "token"),
            ("", "token"),
        ] {
            let err = m
                .initial_response(user, None, &Secret::new(token))
                .unwrap_err();
            assert!(token.is_empty() || !err.contains(token), "{err}");
        }
        let err = OAuthMechanism::OAuthBearer
            .initial_response("u", Some(("h\r\n", 1)), &Secret::new("t"))
            .unwrap_err();
        assert!(err.contains("host"), "{err}");
    }

    #[test]
    fn oauthbearer_is_preferred_and_xoauth2_is_the_fallback() {
        let both = Capabilities::from_atoms(["IMAP4rev1", "AUTH=XOAUTH2", "AUTH=OAUTHBEARER"]);
        assert_eq!(
            OAuthMechanism::choose(&both),
            Ok(OAuthMechanism::OAuthBearer)
        );
        let microsoft = Capabilities::from_atoms(["IMAP4rev1", "AUTH=PLAIN", "AUTH=XOAUTH2"]);
        assert_eq!(
            OAuthMechanism::choose(&microsoft),
            Ok(OAuthMechanism::XOAuth2)
        );
        let neither = Capabilities::from_atoms(["IMAP4rev1", "AUTH=PLAIN"]);
        assert_eq!(OAuthMechanism::choose(&neither), Err(NoOAuthMechanism));
        assert_eq!(
            NoOAuthMechanism.to_string(),
            "the server offers neither AUTH=OAUTHBEARER nor AUTH=XOAUTH2"
        );
    }

    #[test]
    fn error_challenges_are_decoded_and_bounded() {
        assert_eq!(
            decode_challenge(b"+ eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=\r\n"),
            br#"{"status":"invalid_token"}"#
        );
        assert_eq!(decode_challenge(b"+ not base64!\r\n"), b"not base64!");
        let long = format!("+ {}\r\n", b64(&[b'x'; 5000]));
        assert_eq!(decode_challenge(long.as_bytes()).len(), MAX_SASL_ERROR);
        assert_eq!(OAuthMechanism::OAuthBearer.abort_line(), b"AQ==\r\n");
        assert_eq!(OAuthMechanism::XOAuth2.abort_line(), b"\r\n");
    }
}
