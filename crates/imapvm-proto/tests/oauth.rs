//! AUTHENTICATE OAUTHBEARER and XOAUTH2 against scripted servers: the wire forms (golden
//! bytes, with and without SASL-IR), the error challenge answered before the tagged NO, a
//! second attempt on the same connection, and the token kept out of traces and `Debug`.

use crate::support::{Pair, config, script};
use imapvm_proto::*;

const TOKEN: &str = "ya29.A0ARrdaM-oauth_Token~1/2+3=";
/// base64 of `n,a=vmoauth,^Ahost=127.0.0.1^Aport=143^Aauth=Bearer TOKEN^A^A` (RFC 7628).
const OAUTHBEARER_IR: &str = "bixhPXZtb2F1dGgsAWhvc3Q9MTI3LjAuMC4xAXBvcnQ9MTQzAWF1dGg9QmVhcmVyIHlhMjkuQTBBUnJkYU0tb2F1dGhfVG9rZW5+MS8yKzM9AQE=";
/// base64 of `user=vmoauth^Aauth=Bearer TOKEN^A^A` (Google's XOAUTH2).
const XOAUTH2_IR: &str =
    "dXNlcj12bW9hdXRoAWF1dGg9QmVhcmVyIHlhMjkuQTBBUnJkYU0tb2F1dGhfVG9rZW5+MS8yKzM9AQE=";
/// base64 of Dovecot's OAUTHBEARER error, `{"status":"invalid_token"}`.
const INVALID_TOKEN: &str = "eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=";
/// base64 of Dovecot's (and Google's) XOAUTH2 error,
/// `{"status":"401","schemes":"bearer","scope":"mail"}`.
const STATUS_401: &str = "eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIiwic2NvcGUiOiJtYWlsIn0=";

fn greeted(caps: &str) -> Pair {
    let mut p = Pair::new(
        config(),
        script(&format!("S: * OK [CAPABILITY {caps}] ready")),
    );
    p.run();
    p
}

fn token() -> Secret {
    Secret::new(TOKEN)
}

fn oauth(p: &mut Pair, mechanism: OAuthMechanism) -> CommandId {
    p.conn
        .authenticate_oauth(mechanism, "vmoauth", Some(("127.0.0.1", 143)), &token())
        .unwrap()
}

#[test]
fn oauthbearer_goes_inline_with_sasl_ir() {
    let mut p = greeted("IMAP4rev1 SASL-IR AUTH=PLAIN AUTH=OAUTHBEARER AUTH=XOAUTH2");
    let caps = p.conn.capabilities().unwrap().clone();
    assert_eq!(
        OAuthMechanism::choose(&caps),
        Ok(OAuthMechanism::OAuthBearer)
    );
    let id = oauth(&mut p, OAuthMechanism::OAuthBearer);
    p.push(script(&format!(
        "C: a1 AUTHENTICATE OAUTHBEARER {OAUTHBEARER_IR}
         S: a1 OK [CAPABILITY IMAP4rev1 IDLE] Logged in"
    )));
    assert!(p.run());
    let known = matches!(
        p.ok(id),
        Outcome::Authenticated {
            capabilities_known: true
        }
    );
    assert!(known, "the OK's CAPABILITY code is kept");
    assert_eq!(
        (p.conn.state(), p.conn.stats().round_trips),
        (State::Authenticated, 1)
    );
}

#[test]
fn xoauth2_without_sasl_ir_waits_for_the_servers_empty_challenge() {
    let mut p = greeted("IMAP4rev1 AUTH=XOAUTH2");
    let caps = p.conn.capabilities().unwrap().clone();
    assert_eq!(OAuthMechanism::choose(&caps), Ok(OAuthMechanism::XOAuth2));
    let id = oauth(&mut p, OAuthMechanism::XOAuth2);
    p.push(script(&format!(
        "C: a1 AUTHENTICATE XOAUTH2
         S: +
         C: {XOAUTH2_IR}
         S: a1 OK Logged in"
    )));
    assert!(p.run());
    assert!(matches!(p.ok(id), Outcome::Authenticated { .. }));
    assert_eq!(p.conn.stats().round_trips, 2);
}

/// Dovecot's OAUTHBEARER failure: `+ base64(json)` first; the client answers `AQ==`; the NO
/// follows and carries the decoded error. The connection stays not authenticated, and a
/// second attempt (a fresh token) on it succeeds. Input split at every byte.
#[test]
fn a_refused_oauthbearer_token_is_answered_with_kvsep_then_a_retry_succeeds() {
    let mut p = greeted("IMAP4rev1 SASL-IR AUTH=OAUTHBEARER").with_splits(vec![1]);
    let id = oauth(&mut p, OAuthMechanism::OAuthBearer);
    p.push(script(&format!(
        "C: a1 AUTHENTICATE OAUTHBEARER {OAUTHBEARER_IR}
         S: + {INVALID_TOKEN}
         C: AQ==
         S: a1 NO [AUTHENTICATIONFAILED] Authentication failed."
    )));
    assert!(p.run());
    let Error::Refused(refusal) = p.err(id) else {
        panic!("{:?}", p.err(id))
    };
    assert_eq!(refusal.command, "AUTHENTICATE");
    assert_eq!(refusal.kind, RefusalKind::No);
    assert_eq!(refusal.code, Some(ResponseCode::AuthenticationFailed));
    assert_eq!(
        refusal.sasl_error,
        Some(RawBytes(br#"{"status":"invalid_token"}"#.to_vec()))
    );
    assert_eq!(
        refusal.to_string(),
        r#"AUTHENTICATE refused: No [AUTHENTICATIONFAILED] Authentication failed. (SASL error: {"status":"invalid_token"})"#
    );
    assert!(!p.err(id).is_fatal());
    assert_eq!(p.conn.state(), State::NotAuthenticated);

    let again = oauth(&mut p, OAuthMechanism::OAuthBearer);
    p.push(script(&format!(
        "C: a2 AUTHENTICATE OAUTHBEARER {OAUTHBEARER_IR}
         S: a2 OK Logged in"
    )));
    assert!(p.run());
    assert!(matches!(p.ok(again), Outcome::Authenticated { .. }));
    assert_eq!(p.conn.state(), State::Authenticated);
}

#[test]
fn a_refused_xoauth2_token_is_answered_with_an_empty_line() {
    let mut p = greeted("IMAP4rev1 AUTH=XOAUTH2");
    let id = oauth(&mut p, OAuthMechanism::XOAuth2);
    p.push(script(&format!(
        "C: a1 AUTHENTICATE XOAUTH2
         S: +
         C: {XOAUTH2_IR}
         S: + {STATUS_401}
         C: 
         S: a1 NO [AUTHENTICATIONFAILED] Authentication failed."
    )));
    assert!(p.run());
    let refusal = match p.err(id) {
        Error::Refused(r) => r,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        refusal.sasl_error.as_ref().map(|e| e.0.clone()),
        Some(br#"{"status":"401","schemes":"bearer","scope":"mail"}"#.to_vec())
    );
    // The abort line is the bare CRLF the script expected after the challenge.
    assert!(p.all_written.ends_with(b"AQE=\r\n\r\n"));
}

#[test]
fn a_second_error_challenge_is_a_misbehaviour() {
    let mut p = greeted("IMAP4rev1 SASL-IR AUTH=OAUTHBEARER");
    let id = oauth(&mut p, OAuthMechanism::OAuthBearer);
    p.push(script(&format!(
        "C: a1 AUTHENTICATE OAUTHBEARER {OAUTHBEARER_IR}
         S: + {INVALID_TOKEN}
         C: AQ==
         S: + {INVALID_TOKEN}"
    )));
    assert!(p.run());
    let err = p.err(id);
    assert!(err.is_fatal(), "{err}");
    assert!(matches!(err, Error::Misbehaviour(m) if m.reason.contains("second SASL error")));
}

/// A PLAIN login has no error challenge: a `+` after its response is still a misbehaviour.
#[test]
fn plain_gets_no_error_challenge() {
    let mut p = greeted("IMAP4rev1 SASL-IR AUTH=PLAIN");
    let id = p
        .conn
        .authenticate_plain(None, "alice", &Secret::new("pw"))
        .unwrap();
    p.push(script(
        "C: a1 AUTHENTICATE PLAIN AGFsaWNlAHB3
         S: + eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=",
    ));
    assert!(p.run());
    assert!(p.err(id).is_fatal());
}

#[test]
fn an_unoffered_mechanism_or_an_unusable_token_is_refused_before_sending() {
    let mut p = greeted("IMAP4rev1 SASL-IR AUTH=PLAIN AUTH=XOAUTH2");
    assert_eq!(
        p.conn
            .authenticate_oauth(OAuthMechanism::OAuthBearer, "u", None, &token()),
        Err(Error::Misuse(Misuse::MissingCapability {
            command: "AUTHENTICATE",
            capability: "AUTH=OAUTHBEARER"
        }))
    );
    let bad = Secret::new("token with spaces");
    let err = p
        .conn
        .authenticate_oauth(OAuthMechanism::XOAuth2, "u", None, &bad)
        .unwrap_err();
    assert!(matches!(err, Error::Misuse(Misuse::InvalidArgument { .. })));
    assert!(!err.to_string().contains("spaces"), "{err}");
    assert!(p.conn.poll_transmit(p.now).is_none(), "nothing was queued");
}

/// The trace of every line that carries the token is `tag AUTHENTICATE MECHANISM ***`, with
/// and without SASL-IR; `Debug` of the connection and of each transmit never shows it.
#[test]
fn the_token_never_shows_in_traces_or_debug() {
    for (caps, lines) in [
        ("IMAP4rev1 SASL-IR AUTH=OAUTHBEARER", 1),
        ("IMAP4rev1 AUTH=OAUTHBEARER", 2),
    ] {
        let mut p = greeted(caps);
        oauth(&mut p, OAuthMechanism::OAuthBearer);
        assert!(!format!("{:?}", p.conn).contains("oauth_Token"));
        let mut traces = Vec::new();
        let mut wire = Vec::new();
        for line in 0..lines {
            if line > 0 {
                // The server's empty challenge lets the response line go.
                p.conn.handle_input(b"+ \r\n", p.now);
            }
            while let Some(t) = p.conn.poll_transmit(p.now) {
                traces.push(t.trace().into_owned());
                assert!(!format!("{t:?}").contains("oauth_Token"));
                wire.extend_from_slice(t.as_bytes());
            }
        }
        assert_eq!(
            traces,
            vec!["a1 AUTHENTICATE OAUTHBEARER ***".to_owned(); lines],
            "{caps}"
        );
        let wire = String::from_utf8(wire).unwrap();
        assert!(wire.contains(OAUTHBEARER_IR), "{wire}");
        assert!(!format!("{:?}", p.conn).contains("oauth_Token"));
    }
}
