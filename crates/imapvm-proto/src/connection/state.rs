//! The protocol state ([`State`], RFC 3501 §3, plus the STARTTLS hand-off and failure), the
//! server's [`Capabilities`], the IDLE sub-state (`IdleState`) and the state predicates
//! (`live`, `not_auth`, `authed`, `selected`) that the commands pass to `check`.
//!
//! API to the rest of the connection: `State::name`, `Capabilities::from_codec`, the plain
//! record `IdleState`, and the four predicates.

use super::{CommandId, Connection};
use imap_codec::imap_types as t;
use std::collections::BTreeSet;
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

/// The server's capabilities, upper-cased. Dropped (unknown) after STARTTLS and after
/// authentication unless the server sent them along.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Capabilities {
    known: bool,
    set: BTreeSet<String>,
}

impl Capabilities {
    pub(super) fn from_codec<'x>(
        caps: impl IntoIterator<Item = &'x t::response::Capability<'x>>,
    ) -> Self {
        Self {
            known: true,
            set: caps
                .into_iter()
                .map(|c| c.to_string().to_ascii_uppercase())
                .collect(),
        }
    }

    /// Whether the server told us its capabilities since the last reset.
    pub fn known(&self) -> bool {
        self.known
    }

    /// Whether `name` (e.g. `"IDLE"`, `"AUTH=PLAIN"`) is advertised (case-insensitive).
    pub fn has(&self, name: &str) -> bool {
        self.set.contains(&name.to_ascii_uppercase())
    }

    /// All capabilities, upper-cased, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.set.iter().map(String::as_str)
    }

    /// `LITERAL+`
    pub fn literal_plus(&self) -> bool {
        self.has("LITERAL+")
    }
    /// `LITERAL-`
    pub fn literal_minus(&self) -> bool {
        self.has("LITERAL-")
    }
    /// `SASL-IR`
    pub fn sasl_ir(&self) -> bool {
        self.has("SASL-IR")
    }
    /// `IDLE`
    pub fn idle(&self) -> bool {
        self.has("IDLE")
    }
    /// `UIDPLUS`
    pub fn uidplus(&self) -> bool {
        self.has("UIDPLUS")
    }
    /// `MOVE`
    pub fn move_(&self) -> bool {
        self.has("MOVE")
    }
    /// `NOTIFY`
    pub fn notify(&self) -> bool {
        self.has("NOTIFY")
    }
    /// `LOGINDISABLED`
    pub fn login_disabled(&self) -> bool {
        self.has("LOGINDISABLED")
    }
    /// `STARTTLS`
    pub fn starttls(&self) -> bool {
        self.has("STARTTLS")
    }
    /// `QUOTA`
    pub fn quota(&self) -> bool {
        self.has("QUOTA")
    }
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
