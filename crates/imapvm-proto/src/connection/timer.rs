//! The deadlines: when the running IDLE must be renewed, when a keepalive NOOP is due, and
//! a command's deadline.

use super::{Connection, State};
use std::time::Instant;

impl Connection {
    /// When the running IDLE (accepted, DONE not sent) must be ended and re-issued: at the
    /// refresh, or earlier after [`Config::idle_silence`] without input.
    pub(super) fn idle_reissue_due(&self) -> Option<Instant> {
        let idle = self.idle.as_ref()?;
        let at = idle.accepted_at.filter(|_| !idle.done_sent)?;
        let refresh = at + self.config.idle_refresh;
        Some(match self.config.idle_silence {
            Some(silence) => refresh.min(self.last_input.max(at) + silence),
            None => refresh,
        })
    }

    pub(super) fn keepalive_due(&self) -> Option<Instant> {
        let k = self.config.keepalive?;
        let ok_state = matches!(self.state, State::Authenticated | State::Selected { .. });
        (ok_state && self.is_idle() && self.idle.is_none()).then_some(self.last_io + k)
    }

    pub(super) fn set_deadline(&mut self, tag: &str, now: Instant) {
        let d = now + self.config.command_timeout;
        if let Some(f) = self.in_flight.iter_mut().find(|f| f.tag == tag) {
            f.deadline = Some(d);
        }
    }
}
