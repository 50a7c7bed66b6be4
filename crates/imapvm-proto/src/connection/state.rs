//! The protocol state ([`State`], RFC 3501 §3, plus the STARTTLS hand-off and failure), the
//! server's [`Capabilities`] as the core reads them, the IDLE sub-state (`IdleState`) and the
//! state predicates (`live`, `not_auth`, `authed`, `selected`) that the commands pass to
//! `check`.
//!
//! API to the rest of the connection: `State::name`, `capabilities_from_codec`, `offers` and
//! `lacks`, the plain record `IdleState`, and the four predicates.

use super::{CommandId, Connection};
use imap_codec::imap_types as t;
use imapvm_types::{Capabilities, Capability};
use std::time::Instant;

/// Protocol state (RFC 3501 §3, plus the STARTTLS hand-off and failure).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Waiting for the server greeting.
    Greeting,
    /// Connected, not logged in.
    NotAuthenticated,
    /// Logged in, no mailbox selected.
    Authenticated,
    /// A mailbox is selected.
    Selected {
        /// EXAMINE, or the server said `[READ-ONLY]`.
        read_only: bool,
    },
    /// STARTTLS succeeded: swap the stream for TLS, then call [`Connection::tls_established`].
    UpgradePending,
    /// LOGOUT completed or the server said BYE.
    Logout,
    /// A fatal error happened (see [`Connection::error`]).
    Failed,
}

impl State {
    pub(super) fn name(self) -> &'static str {
        match self {
            Self::Greeting => "greeting",
            Self::NotAuthenticated => "not-authenticated",
            Self::Authenticated => "authenticated",
            Self::Selected { .. } => "selected",
            Self::UpgradePending => "upgrade-pending",
            Self::Logout => "logout",
            Self::Failed => "failed",
        }
    }
}

/// The capabilities of a CAPABILITY response or code.
pub(super) fn capabilities_from_codec<'x>(
    caps: impl IntoIterator<Item = &'x t::response::Capability<'x>>,
) -> Capabilities {
    Capabilities::from_atoms(caps.into_iter().map(|c| c.to_string()))
}

#[derive(Debug)]
pub(super) struct IdleState {
    pub(super) id: CommandId,
    pub(super) tag: String,
    pub(super) accepted_at: Option<Instant>,
    pub(super) done_sent: bool,
    /// The caller asked to stop.
    pub(super) stop: bool,
    /// DONE was sent by the refresh timer; re-issue after the tagged OK.
    pub(super) refreshing: bool,
}

impl Connection {
    /// Whether the server is known to offer `cap`.
    pub(super) fn offers(&self, cap: Capability) -> bool {
        self.caps.as_ref().is_some_and(|c| c.contains(cap))
    }

    /// Whether the server is known to lack `cap` (while the capabilities are unknown, a
    /// command is tried rather than refused).
    pub(super) fn lacks(&self, cap: Capability) -> bool {
        self.caps.as_ref().is_some_and(|c| !c.contains(cap))
    }

    pub(super) fn live(s: State) -> bool {
        matches!(
            s,
            State::NotAuthenticated | State::Authenticated | State::Selected { .. }
        )
    }

    pub(super) fn not_auth(s: State) -> bool {
        s == State::NotAuthenticated
    }

    pub(super) fn authed(s: State) -> bool {
        matches!(s, State::Authenticated | State::Selected { .. })
    }

    pub(super) fn selected(s: State) -> bool {
        matches!(s, State::Selected { .. })
    }
}
