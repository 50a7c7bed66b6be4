//! The deadlines, by name: [`Timer`] and the timer table (quinn-proto's `TimerTable`).
//!
//! The table is not stored: `timers` derives every armed deadline from the state it depends
//! on (the greeting wait, each in-flight command's deadline, the running IDLE's acceptance
//! and the last input, the last byte in or out), so no deadline can be left stale by a state
//! change that forgot to re-arm it. `poll_timeout` is the earliest entry; `handle_timeout`
//! acts on the expired entries in table order.
//!
//! API to the rest of the connection: `timers`, `set_deadline` (a command's deadline
//! restarts whenever one of its bytes goes out or its `+` comes).

use super::{CommandId, Connection, State};
use std::time::Instant;

/// One of the connection's deadlines ([`Connection::deadline`] says when it fires).
///
/// [`Connection::poll_timeout`] is the earliest armed one; [`Connection::handle_timeout`]
/// acts on every one that passed, in the order of the variants here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Timer {
    /// The greeting is due: [`Config::greeting_timeout`] after [`Connection::new`].
    /// Passing it fails the connection ([`Error::Timeout`]).
    ///
    /// [`Config::greeting_timeout`]: crate::Config::greeting_timeout
    /// [`Error::Timeout`]: crate::Error::Timeout
    Greeting,
    /// A command in flight waits for the server: [`Config::command_timeout`] after its last
    /// byte went out, its `+` came, or (IDLE) its `DONE` went out; an accepted IDLE has
    /// none. Passing it fails the connection ([`Error::Timeout`]).
    ///
    /// [`Config::command_timeout`]: crate::Config::command_timeout
    /// [`Error::Timeout`]: crate::Error::Timeout
    Command(CommandId),
    /// The running IDLE is renewed (`DONE`, then IDLE again): [`Config::idle_refresh`]
    /// after the server's `+`.
    ///
    /// [`Config::idle_refresh`]: crate::Config::idle_refresh
    IdleRefresh,
    /// The running IDLE is renewed early, as a liveness probe: [`Config::idle_silence`]
    /// after the last input (or the `+`, if later).
    ///
    /// [`Config::idle_silence`]: crate::Config::idle_silence
    IdleSilence,
    /// A NOOP is sent: [`Config::keepalive`] after the last byte in or out, while
    /// authenticated with nothing queued, in flight or idling.
    ///
    /// [`Config::keepalive`]: crate::Config::keepalive
    Keepalive,
}

impl Connection {
    /// The timer table: every armed timer with its deadline, in the order `handle_timeout`
    /// acts on them. Empty once the connection failed or logged out.
    pub(super) fn timers(&self) -> impl Iterator<Item = (Timer, Instant)> + '_ {
        let live = !matches!(self.state, State::Failed | State::Logout);
        let greeting = self.greeting_deadline.map(|at| (Timer::Greeting, at));
        let commands = self
            .in_flight
            .iter()
            .filter_map(|f| Some((Timer::Command(f.id), f.deadline?)));
        greeting
            .into_iter()
            .chain(commands)
            .chain(self.idle_timers().into_iter().flatten())
            .chain(self.keepalive_due().map(|at| (Timer::Keepalive, at)))
            .filter(move |_| live)
    }

    /// [`Timer::IdleRefresh`] and [`Timer::IdleSilence`], armed while an IDLE runs (the
    /// server's `+` received, `DONE` not yet sent).
    fn idle_timers(&self) -> [Option<(Timer, Instant)>; 2] {
        let Some(idle) = &self.idle else {
            return [None, None];
        };
        let Some(at) = idle.accepted_at.filter(|_| !idle.done_sent) else {
            return [None, None];
        };
        // Zero means off, as `None` does.
        let silence = self
            .config
            .idle_silence
            .filter(|silence| !silence.is_zero())
            .map(|silence| (Timer::IdleSilence, self.last_input.max(at) + silence));
        [
            Some((Timer::IdleRefresh, at + self.config.idle_refresh)),
            silence,
        ]
    }

    /// [`Timer::Keepalive`], when it is armed.
    fn keepalive_due(&self) -> Option<Instant> {
        let k = self.config.keepalive?;
        let ok_state = matches!(self.state, State::Authenticated | State::Selected { .. });
        (ok_state && self.is_idle() && self.idle.is_none()).then_some(self.last_io + k)
    }

    /// Restarts the [`Timer::Command`] of the command tagged `tag`: `command_timeout` from
    /// `now`.
    pub(super) fn set_deadline(&mut self, tag: &str, now: Instant) {
        let d = now + self.config.command_timeout;
        if let Some(f) = self.in_flight.iter_mut().find(|f| f.tag == tag) {
            f.deadline = Some(d);
        }
    }
}
