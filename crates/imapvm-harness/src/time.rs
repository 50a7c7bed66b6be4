//! Time in tests: a clock whose wall time stands still ([`FixedWall`]), a peer that hangs up
//! at once so that a client's reconnects can be timed ([`HangUp`]), and the check that they
//! back off doubling ([`assert_doubling`]). Run under `#[tokio::test(start_paused = true)]`,
//! the back-off passes in simulated time.

use std::time::{Duration, Instant, SystemTime};

use imapvm::clock::{Clock, SystemClock};
use imapvm_testkit::{Peer, Reply, Responder};
use tokio::sync::mpsc;

/// Monotonic time from tokio (simulated when paused), wall time standing still.
#[derive(Debug, Clone, Copy)]
pub struct FixedWall(pub SystemTime);

impl FixedWall {
    /// Standing still `secs` after the Unix epoch.
    pub fn at(secs: u64) -> FixedWall {
        FixedWall(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
    }
}

impl Clock for FixedWall {
    fn now(&self) -> Instant {
        SystemClock.now()
    }

    fn wall(&self) -> SystemTime {
        self.0
    }
}

/// A loopback peer that accepts every connection and closes it at once, noting when
/// (tokio's clock). Dropping it stops it.
pub struct HangUp {
    /// The port it listens on.
    pub port: u16,
    attempts: mpsc::UnboundedReceiver<Instant>,
    _peer: Peer,
}

impl std::fmt::Debug for HangUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HangUp").field("port", &self.port).finish()
    }
}

impl HangUp {
    /// Starts listening on `127.0.0.1`.
    pub async fn start() -> HangUp {
        let (tx, attempts) = mpsc::unbounded_channel();
        let peer = Peer::builder()
            .respond(move || Note(tx.clone()))
            .await
            .unwrap();
        HangUp {
            port: peer.port(),
            attempts,
            _peer: peer,
        }
    }

    /// When each of the next `n` connections came.
    pub async fn attempts(&mut self, n: usize) -> Vec<Instant> {
        let mut at = Vec::with_capacity(n);
        while at.len() < n {
            at.push(self.attempts.recv().await.unwrap());
        }
        at
    }
}

/// One connection of a [`HangUp`]: noted as it starts, closed at once.
struct Note(mpsc::UnboundedSender<Instant>);

impl Responder for Note {
    fn greeting(&mut self) -> Reply {
        let _ = self.0.send(SystemClock.now());
        Reply::nothing().then_close()
    }

    fn line(&mut self, _: &[u8]) -> Reply {
        Reply::nothing().then_close()
    }
}

/// Asserts that the attempts at `at` came `first`, 2·`first`, 4·`first` ... apart (each
/// gap at most 50 ms longer, for the attempt itself).
pub fn assert_doubling(at: &[Instant], first: Duration) {
    let gaps: Vec<Duration> = at.windows(2).map(|w| w[1] - w[0]).collect();
    for (i, gap) in gaps.iter().enumerate() {
        let want = first * (1 << i);
        assert!(
            *gap >= want && *gap < want + Duration::from_millis(50),
            "gap {i} should be {want:?}: {gaps:?}"
        );
    }
}
