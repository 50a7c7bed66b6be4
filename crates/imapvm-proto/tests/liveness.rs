//! IDLE liveness (`Config::idle_silence`): silence ends and re-issues the IDLE, any input resets the timer, a dead peer times out.

use crate::support::{Pair, config, script};
use imapvm_proto::*;
use std::time::Duration;

const SILENCE: Duration = Duration::from_secs(300);
const MS: Duration = Duration::from_millis(1);

fn idle_starts(p: &Pair) -> usize {
    p.events
        .iter()
        .filter(|e| matches!(e, Event::IdleStarted { .. }))
        .count()
}

/// Preauthenticated, with `silence` configured, IDLE accepted (`+` at `p.now`).
fn idling(silence: Option<Duration>) -> (Pair, CommandId) {
    let mut cfg = config();
    cfg.idle_silence = silence;
    let mut p = Pair::new(cfg, script("S: * PREAUTH [CAPABILITY IMAP4rev1 IDLE] hi"));
    p.run();
    let id = p.conn.idle().unwrap();
    p.push(script("C: a1 IDLE\nS: + idling"));
    assert!(p.run());
    assert_eq!(idle_starts(&p), 1);
    (p, id)
}

#[test]
fn silence_sends_done_exactly_at_accepted_plus_silence_and_idle_resumes() {
    let (mut p, id) = idling(Some(SILENCE));
    let accepted = p.now;
    assert_eq!(p.conn.poll_timeout(), Some(accepted + SILENCE));
    p.advance(SILENCE - MS);
    assert!(p.written.is_empty(), "nothing before the silence is over");
    p.advance(MS);
    assert_eq!(p.written, b"DONE\r\n");
    // DONE went out at accepted + silence: the IDLE now waits for its tagged OK.
    assert_eq!(
        p.conn.poll_timeout(),
        Some(accepted + SILENCE + Duration::from_secs(60))
    );
    p.push(script(
        "C: DONE
         S: a1 OK Idle completed
         C: a2 IDLE
         S: + idling",
    ));
    assert!(p.run());
    assert!(p.result(id).is_none(), "the caller's IDLE goes on");
    assert_eq!(idle_starts(&p), 1, "no second IdleStarted");
    assert!(p.conn.error().is_none());
    // The new IDLE gets its own silence window from its `+`.
    assert_eq!(p.conn.poll_timeout(), Some(p.now + SILENCE));
    p.conn.idle_done(p.now).unwrap();
    p.push(script("C: DONE\nS: a2 OK Idle completed"));
    assert!(p.run());
    assert_eq!(p.ok(id), &Outcome::Done);
}

#[test]
fn any_input_resets_the_silence_timer() {
    let (mut p, _) = idling(Some(SILENCE));
    p.advance(Duration::from_secs(200));
    let heard = p.now;
    p.push(script("S: * OK Still here"));
    assert!(p.run());
    assert_eq!(p.conn.poll_timeout(), Some(heard + SILENCE));
    p.advance(SILENCE - MS);
    assert!(p.written.is_empty());
    // Even a partial line counts as life.
    p.conn.handle_input(b"* 3 EXI", p.now);
    let heard = p.now;
    assert_eq!(p.conn.poll_timeout(), Some(heard + SILENCE));
    p.advance(SILENCE - MS);
    assert!(p.written.is_empty());
    p.advance(MS);
    assert_eq!(p.written, b"DONE\r\n");
}

#[test]
fn against_a_server_with_keepalives_nothing_extra_is_sent() {
    // Dovecot: `* OK Still here` every 2 minutes. Over 27 minutes nothing is written.
    let (mut p, _) = idling(Some(SILENCE));
    for _ in 0..13 {
        p.advance(Duration::from_secs(120));
        p.push(script("S: * OK Still here"));
        assert!(p.run());
    }
    p.advance(Duration::from_secs(60));
    assert!(p.written.is_empty());
    assert!(
        !p.events
            .iter()
            .any(|e| matches!(e, Event::Failed(_) | Event::Completed { .. }))
    );
    // The periodic refresh still comes at 28 minutes, from the `+`.
    p.advance(Duration::from_secs(60) - MS);
    assert!(p.written.is_empty());
    p.advance(MS);
    assert_eq!(p.written, b"DONE\r\n");
}

#[test]
fn a_dead_peer_makes_the_idle_time_out_after_done() {
    let (mut p, id) = idling(Some(SILENCE));
    p.advance(SILENCE);
    assert_eq!(p.written, b"DONE\r\n");
    p.advance(Duration::from_secs(60) - MS);
    assert!(p.conn.error().is_none());
    p.advance(MS);
    let timeout = Error::Timeout {
        waiting_for: "IDLE".into(),
    };
    assert_eq!(p.conn.error(), Some(&timeout));
    assert!(p.events.contains(&Event::Failed(timeout.clone())));
    assert_eq!(p.err(id), &timeout);
    assert!(p.err(id).is_fatal());
    assert_eq!(p.conn.state(), State::Failed);
}

#[test]
fn a_server_silent_before_its_plus_is_the_ordinary_command_timeout() {
    let mut cfg = config();
    cfg.idle_silence = Some(SILENCE);
    let mut p = Pair::new(cfg, script("S: * PREAUTH [CAPABILITY IMAP4rev1 IDLE] hi"));
    p.run();
    let id = p.conn.idle().unwrap();
    p.push(script("C: a1 IDLE"));
    assert!(p.run());
    assert_eq!(p.conn.poll_timeout(), Some(p.now + Duration::from_secs(60)));
    p.advance(Duration::from_secs(60));
    assert!(matches!(p.err(id), Error::Timeout { .. }));
}

#[test]
fn none_keeps_only_the_refresh() {
    let (mut p, _) = idling(None);
    let accepted = p.now;
    let refresh = Duration::from_secs(28 * 60);
    assert_eq!(p.conn.poll_timeout(), Some(accepted + refresh));
    p.advance(refresh - MS);
    assert!(p.written.is_empty());
    p.advance(MS);
    assert_eq!(p.written, b"DONE\r\n");
}

#[test]
fn zero_silence_is_off() {
    let (p, _) = idling(Some(Duration::ZERO));
    assert_eq!(
        p.conn.poll_timeout(),
        Some(p.now + Duration::from_secs(28 * 60))
    );
}

#[test]
fn the_refresh_wins_when_it_comes_first() {
    let mut cfg = config();
    cfg.idle_refresh = Duration::from_secs(100);
    cfg.idle_silence = Some(SILENCE);
    let mut p = Pair::new(cfg, script("S: * PREAUTH [CAPABILITY IMAP4rev1 IDLE] hi"));
    p.run();
    p.conn.idle().unwrap();
    p.push(script("C: a1 IDLE\nS: + idling"));
    assert!(p.run());
    assert_eq!(
        p.conn.poll_timeout(),
        Some(p.now + Duration::from_secs(100))
    );
}

#[test]
fn set_idle_silence_applies_to_an_open_connection_and_a_running_idle() {
    let (mut p, _) = idling(None);
    let accepted = p.now;
    p.advance(Duration::from_secs(100));
    // Turned on mid-IDLE: counted from the last input (the `+`).
    p.conn.set_idle_silence(Some(SILENCE));
    assert_eq!(p.conn.poll_timeout(), Some(accepted + SILENCE));
    // Turned off again: back to the refresh alone.
    p.conn.set_idle_silence(None);
    assert_eq!(
        p.conn.poll_timeout(),
        Some(accepted + Duration::from_secs(28 * 60))
    );
    p.conn.set_idle_silence(Some(SILENCE));
    p.advance(SILENCE - Duration::from_secs(100));
    assert_eq!(p.written, b"DONE\r\n");
}

#[test]
fn silence_outside_idle_sends_nothing() {
    // Authenticated, no IDLE, no keepalive: idle_silence alone never writes.
    let mut cfg = config();
    cfg.idle_silence = Some(SILENCE);
    let mut p = Pair::new(cfg, script("S: * PREAUTH [CAPABILITY IMAP4rev1 IDLE] hi"));
    p.run();
    assert_eq!(p.conn.poll_timeout(), None);
    p.advance(SILENCE * 10);
    assert!(p.all_written.is_empty());
}

#[test]
fn caller_done_during_a_silence_reissue_completes_the_idle() {
    let (mut p, id) = idling(Some(SILENCE));
    p.advance(SILENCE);
    assert_eq!(p.written, b"DONE\r\n");
    // The caller stops while the probe's DONE is out: the OK completes the IDLE, no re-issue.
    p.conn.idle_done(p.now).unwrap();
    p.push(script("C: DONE\nS: a1 OK Idle completed"));
    assert!(p.run());
    assert_eq!(p.ok(id), &Outcome::Done);
    p.advance(SILENCE);
    assert!(p.written.is_empty());
}

#[test]
fn each_deadline_has_a_name_and_poll_timeout_is_the_earliest() {
    let mut cfg = config();
    cfg.idle_silence = Some(SILENCE);
    cfg.keepalive = Some(Duration::from_secs(600));
    let mut p = Pair::new(cfg, script("S: * PREAUTH [CAPABILITY IMAP4rev1 IDLE] hi"));
    let t0 = p.now;
    assert_eq!(
        p.conn.deadline(Timer::Greeting),
        Some(t0 + Duration::from_secs(30))
    );
    p.run();
    assert_eq!(p.conn.deadline(Timer::Greeting), None, "the greeting came");
    // Authenticated with nothing to do: only the keepalive is armed.
    assert_eq!(
        p.conn.deadline(Timer::Keepalive),
        Some(p.now + Duration::from_secs(600))
    );
    assert_eq!(p.conn.poll_timeout(), p.conn.deadline(Timer::Keepalive));
    let id = p.conn.idle().unwrap();
    p.push(script("C: a1 IDLE"));
    assert!(p.run());
    // IDLE sent, `+` not yet here: the command's deadline runs; no keepalive meanwhile.
    assert_eq!(
        p.conn.deadline(Timer::Command(id)),
        Some(p.now + Duration::from_secs(60))
    );
    assert_eq!(p.conn.deadline(Timer::Keepalive), None);
    p.advance(Duration::from_secs(10));
    p.push(script("S: + idling"));
    assert!(p.run());
    // Accepted: no command deadline; the refresh and the silence probe are armed.
    let accepted = p.now;
    assert_eq!(p.conn.deadline(Timer::Command(id)), None);
    assert_eq!(
        p.conn.deadline(Timer::IdleRefresh),
        Some(accepted + Duration::from_secs(28 * 60))
    );
    assert_eq!(
        p.conn.deadline(Timer::IdleSilence),
        Some(accepted + SILENCE)
    );
    assert_eq!(p.conn.poll_timeout(), Some(accepted + SILENCE));
    // The probe fires: DONE goes out once, both IDLE timers are disarmed, the command's runs.
    p.advance(SILENCE);
    assert_eq!(p.written, b"DONE\r\n");
    assert_eq!(p.conn.deadline(Timer::IdleRefresh), None);
    assert_eq!(p.conn.deadline(Timer::IdleSilence), None);
    assert_eq!(
        p.conn.deadline(Timer::Command(id)),
        Some(accepted + SILENCE + Duration::from_secs(60))
    );
}
