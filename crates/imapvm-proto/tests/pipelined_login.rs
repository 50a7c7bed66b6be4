//! A cold command's first flight (issue 22): the login with NAMESPACE and SELECT behind it,
//! sent before the login is answered; what a refused login does to the commands behind it;
//! APPEND and OAuth, which never go behind an unconfirmed login; SASL-IR after STARTTLS.

use crate::support::{Pair, config, script};
use imapvm_proto::*;
use std::sync::Arc;

const GREETING: &str =
    "S: * OK [CAPABILITY IMAP4rev1 SASL-IR LITERAL+ AUTH=PLAIN AUTH=OAUTHBEARER] ready";

fn greeted(greeting: &str) -> Pair {
    let mut p = Pair::new(config(), script(greeting));
    p.run();
    p
}

/// Queues a cold command's first flight: AUTHENTICATE PLAIN as alice with `password`,
/// NAMESPACE and SELECT INBOX; their ids.
fn first_flight(p: &mut Pair, password: &str) -> (CommandId, CommandId, CommandId) {
    let login = p
        .conn
        .authenticate_plain(None, "alice", &Secret::new(password))
        .unwrap();
    let ns = p.conn.namespace().unwrap();
    let select = p.conn.select(&MailboxName::inbox()).unwrap();
    (login, ns, select)
}

/// What [`first_flight`] writes (with the password `pw`).
const LOGIN_FLIGHT: &str = "C: a1 AUTHENTICATE PLAIN AGFsaWNlAHB3
     C: a2 NAMESPACE
     C: a3 SELECT INBOX";

/// [`LOGIN_FLIGHT`] with the password `wrong`.
fn wrong_password(flight: &str) -> String {
    flight.replace("AGFsaWNlAHB3", "AGFsaWNlAHdyb25n")
}

#[test]
fn login_namespace_and_select_go_in_one_flight() {
    let mut p = greeted(GREETING);
    let (login, ns, select) = first_flight(&mut p, "pw");
    p.push(script(&format!(
        "{LOGIN_FLIGHT}
         S: a1 OK [CAPABILITY IMAP4rev1 NAMESPACE ESEARCH] Logged in
         S: * NAMESPACE ((\"\" \"/\")) NIL NIL
         S: a2 OK done
         S: * 2 EXISTS
         S: * OK [UIDVALIDITY 7] ok
         S: a3 OK [READ-WRITE] selected"
    )));
    assert!(p.run());
    assert_eq!(
        p.ok(login),
        &Outcome::Authenticated {
            capabilities_known: true
        }
    );
    assert!(matches!(p.ok(ns), Outcome::Namespaces(_)));
    assert!(matches!(p.ok(select), Outcome::Selected(s) if s.exists == 2));
    assert!(p.conn.capabilities().is_some_and(|c| c.has("ESEARCH")));
    assert_eq!(p.conn.stats().round_trips, 1);
}

/// Runs what was pushed and the server's refusal of login `a1` (NAMESPACE `a2` and SELECT
/// `a3` behind it answered BAD): the login's refusal is the error of every command `behind`.
fn refuse_login(p: &mut Pair, login: CommandId, behind: &[CommandId]) {
    p.push(script(
        "S: a1 NO [AUTHENTICATIONFAILED] Authentication failed.
         S: a2 BAD Error in IMAP command NAMESPACE: Not logged in
         S: a3 BAD Error in IMAP command SELECT: Not logged in",
    ));
    assert!(p.run());
    let Error::Refused(r) = p.err(login) else {
        panic!("{:?}", p.err(login))
    };
    assert_eq!(r.command, "AUTHENTICATE");
    assert_eq!(r.kind, RefusalKind::No);
    for id in behind {
        assert_eq!(
            p.err(*id),
            p.err(login),
            "{id:?} fails with the login's error"
        );
    }
}

#[test]
fn a_refused_pipelined_login_fails_every_command_behind_it_with_its_error() {
    let mut p = greeted(GREETING);
    let (login, ns, select) = first_flight(&mut p, "wrong");
    p.push(script(&wrong_password(LOGIN_FLIGHT)));
    refuse_login(&mut p, login, &[ns, select]);
    assert_eq!(p.conn.state(), State::Failed);
    assert!(matches!(p.conn.namespace(), Err(Error::Refused(_))));
}

#[test]
fn a_refused_login_with_nothing_behind_it_leaves_room_for_another() {
    let mut p = greeted(GREETING);
    let login = p
        .conn
        .authenticate_plain(None, "alice", &Secret::new("wrong"))
        .unwrap();
    p.push(script(
        "C: a1 AUTHENTICATE PLAIN AGFsaWNlAHdyb25n
         S: a1 NO [AUTHENTICATIONFAILED] Authentication failed.",
    ));
    assert!(p.run());
    assert!(matches!(p.err(login), Error::Refused(_)));
    assert_eq!(p.conn.state(), State::NotAuthenticated);
}

/// Queues `APPEND INBOX` of a 16-byte message (a LITERAL+ literal where offered).
fn queue_append(p: &mut Pair) -> CommandId {
    let message: Arc<[u8]> = Arc::from(&b"Subject: x\r\nhi\r\n"[..]);
    p.conn.append(&MailboxName::inbox(), &[], message).unwrap()
}

/// Runs what was pushed; then nothing more may be written: the APPEND waits for the
/// login's answer.
fn assert_append_held_back(p: &mut Pair) {
    assert!(p.run());
    p.run();
    assert!(
        p.written.is_empty(),
        "nothing behind the unconfirmed login: {:?}",
        String::from_utf8_lossy(&p.written)
    );
}

#[test]
fn append_waits_for_the_login_to_be_confirmed() {
    let mut p = greeted(GREETING);
    p.conn
        .authenticate_plain(None, "alice", &Secret::new("pw"))
        .unwrap();
    let append = queue_append(&mut p);
    p.push(script("C: a1 AUTHENTICATE PLAIN AGFsaWNlAHB3"));
    assert_append_held_back(&mut p);
    p.push(script(
        "S: a1 OK [CAPABILITY IMAP4rev1 LITERAL+] Logged in
         C: a2 APPEND INBOX {16+}
         C: Subject: x
         C: hi
         S: a2 OK [APPENDUID 7 1] stored",
    ));
    assert!(p.run());
    assert!(matches!(p.ok(append), Outcome::Appended(_)));
}

#[test]
fn an_oauth_login_is_answered_before_anything_follows() {
    let mut p = greeted(GREETING);
    p.conn
        .authenticate_oauth(
            OAuthMechanism::OAuthBearer,
            "alice",
            Some(("imap.example.test", 993)),
            &Secret::new("token"),
        )
        .unwrap();
    p.conn.namespace().unwrap();
    p.strict = false;
    p.push(script("C: a1 AUTHENTICATE OAUTHBEARER x"));
    p.run();
    let written = String::from_utf8_lossy(&p.all_written).into_owned();
    assert!(
        written.starts_with("a1 AUTHENTICATE OAUTHBEARER "),
        "{written}"
    );
    assert!(!written.contains("NAMESPACE"), "{written}");
}

#[test]
fn after_starttls_sasl_ir_comes_from_the_discarded_capabilities_until_the_login_tells() {
    let mut p = greeted("S: * OK [CAPABILITY IMAP4rev1 SASL-IR STARTTLS LOGINDISABLED] ready");
    let tls = p.conn.starttls().unwrap();
    p.push(script(
        "C: a1 STARTTLS\nS: a1 OK Begin TLS negotiation now.",
    ));
    assert!(p.run());
    assert_eq!(p.ok(tls), &Outcome::UpgradeNow);
    p.conn.tls_established().unwrap();
    assert!(p.conn.capabilities().is_none(), "the pre-TLS list is gone");
    let login = p
        .conn
        .authenticate_plain(None, "alice", &Secret::new("pw"))
        .unwrap();
    let select = p.conn.select(&MailboxName::inbox()).unwrap();
    p.push(script(
        "C: a2 AUTHENTICATE PLAIN AGFsaWNlAHB3
         C: a3 SELECT INBOX
         S: a2 OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] Logged in
         S: * OK [UIDVALIDITY 7] ok
         S: a3 OK [READ-WRITE] selected",
    ));
    assert!(p.run());
    assert!(matches!(p.ok(login), Outcome::Authenticated { .. }));
    assert!(matches!(p.ok(select), Outcome::Selected(_)));
}

#[test]
fn after_starttls_without_sasl_ir_before_it_the_login_waits_for_the_continuation() {
    let mut p = greeted("S: * OK [CAPABILITY IMAP4rev1 STARTTLS] ready");
    p.conn.starttls().unwrap();
    p.push(script("C: a1 STARTTLS\nS: a1 OK go"));
    assert!(p.run());
    p.conn.tls_established().unwrap();
    let login = p
        .conn
        .authenticate_plain(None, "alice", &Secret::new("pw"))
        .unwrap();
    p.push(script(
        "C: a2 AUTHENTICATE PLAIN
         S: +
         C: AGFsaWNlAHB3
         S: a2 OK Logged in",
    ));
    assert!(p.run());
    assert!(matches!(p.ok(login), Outcome::Authenticated { .. }));
}

/// Dovecot's greeting before the login: no QUOTA, no ESEARCH (it lists those only in the
/// login's answer).
const PRE_LOGIN: &str = "S: * OK [CAPABILITY IMAP4rev1 SASL-IR LITERAL+ AUTH=PLAIN] Dovecot ready.";

/// A cold deposit's first flight (the runtime's `count_with_quota`): the login, NAMESPACE,
/// SELECT, GETQUOTAROOT and the admission count's search and fetch, queued behind the login
/// and the SELECT, are written before any answer. GETQUOTAROOT goes out though the greeting
/// did not list QUOTA: the login's answer lists the authenticated session's capabilities.
fn queue_first_flight(p: &mut Pair, password: &str) -> [CommandId; 6] {
    let (login, ns, select) = first_flight(p, password);
    let quota = p.conn.get_quota_root(&MailboxName::inbox()).unwrap();
    let search = p
        .conn
        .uid_search(&[SearchKey::header("X-Asterisk-VM-Extension", "1234")])
        .unwrap();
    let fetch = p
        .conn
        .uid_fetch(&UidRange::All, &[FetchAttr::Flags])
        .unwrap();
    [login, ns, select, quota, search, fetch]
}

/// What [`queue_first_flight`] writes after [`LOGIN_FLIGHT`].
const BEHIND_SELECT: &str = "C: a4 GETQUOTAROOT INBOX
     C: a5 UID SEARCH HEADER X-Asterisk-VM-Extension 1234
     C: a6 UID FETCH 1:* (UID FLAGS)";

#[test]
fn quota_and_the_count_go_behind_the_login_and_select_in_one_flight() {
    let mut p = greeted(PRE_LOGIN);
    let [login, ns, select, quota, search, fetch] = queue_first_flight(&mut p, "pw");
    p.push(script(&format!(
        "{LOGIN_FLIGHT}
         {BEHIND_SELECT}
         S: a1 OK [CAPABILITY IMAP4rev1 NAMESPACE QUOTA UIDPLUS] Logged in
         S: * NAMESPACE ((\"\" \"/\")) NIL NIL
         S: a2 OK done
         S: * 2 EXISTS
         S: * OK [UIDVALIDITY 7] ok
         S: a3 OK [READ-WRITE] selected
         S: * QUOTAROOT INBOX \"User quota\"
         S: * QUOTA \"User quota\" (STORAGE 10 100)
         S: a4 OK done
         S: * SEARCH 2
         S: a5 OK done
         S: * 1 FETCH (UID 1 FLAGS (\\Seen))
         S: * 2 FETCH (UID 2 FLAGS ())
         S: a6 OK done"
    )));
    assert!(p.run());
    assert_eq!(p.conn.stats().round_trips, 1);
    assert!(matches!(p.ok(login), Outcome::Authenticated { .. }));
    assert!(matches!(p.ok(ns), Outcome::Namespaces(_)));
    assert!(matches!(p.ok(select), Outcome::Selected(s) if s.exists == 2));
    assert!(matches!(p.ok(quota), Outcome::QuotaRoots(q) if q.quotas.len() == 1));
    assert!(matches!(p.ok(search), Outcome::Search(u) if u.len() == 1));
    assert!(matches!(p.ok(fetch), Outcome::Fetch(m) if m.len() == 2));
}

/// A server without QUOTA refuses the GETQUOTAROOT sent behind its login: that command
/// alone fails (the runtime then has no quota information), the rest of the flight stands.
#[test]
fn a_getquotaroot_refused_behind_the_login_fails_alone() {
    let mut p = greeted(PRE_LOGIN);
    let [login, _, select, quota, search, _] = queue_first_flight(&mut p, "pw");
    p.push(script(&format!(
        "{LOGIN_FLIGHT}
         {BEHIND_SELECT}
         S: a1 OK [CAPABILITY IMAP4rev1 NAMESPACE] Logged in
         S: a2 OK done
         S: * OK [UIDVALIDITY 7] ok
         S: a3 OK [READ-WRITE] selected
         S: a4 BAD Unknown command GETQUOTAROOT
         S: * SEARCH
         S: a5 OK done
         S: a6 OK done"
    )));
    assert!(p.run());
    assert!(matches!(p.ok(login), Outcome::Authenticated { .. }));
    assert!(matches!(p.ok(select), Outcome::Selected(_)));
    let Error::Refused(r) = p.err(quota) else {
        panic!("{:?}", p.err(quota))
    };
    assert_eq!(r.kind, RefusalKind::Bad);
    assert!(!p.err(quota).is_fatal());
    assert!(matches!(p.ok(search), Outcome::Search(u) if u.is_empty()));
    assert!(matches!(p.conn.state(), State::Selected { .. }));
}

/// The login of a cold deposit refused: everything behind it fails with the login's error,
/// and so does the APPEND queued after the flight (it waits for the login's answer), whose
/// literal, with LITERAL+ offered, is never written: nothing is stored, nothing retried.
#[test]
fn a_refused_login_fails_the_first_flight_and_the_append_queued_behind_it() {
    let mut p = greeted(PRE_LOGIN);
    let ids = queue_first_flight(&mut p, "wrong");
    let login = ids[0];
    let append = queue_append(&mut p);
    p.push(script(&wrong_password(&format!(
        "{LOGIN_FLIGHT}\n{BEHIND_SELECT}"
    ))));
    assert_append_held_back(&mut p);
    let behind: Vec<CommandId> = ids[1..].iter().copied().chain([append]).collect();
    refuse_login(&mut p, login, &behind);
    let written = String::from_utf8_lossy(&p.all_written).into_owned();
    assert!(!written.contains("APPEND"), "{written}");
    assert!(!written.contains("Subject: x"), "{written}");
    assert_eq!(p.conn.state(), State::Failed);
}
