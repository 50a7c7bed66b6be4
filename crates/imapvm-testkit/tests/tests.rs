//! imapvm-testkit's tests: the script format, both drivers against real TCP
//! clients, the forwarding proxy in front of a peer, and the latency proxy (paused time) (every test binds its
//! own loopback ports).

mod blocking;
#[cfg(feature = "tokio")]
mod latency;
#[cfg(feature = "tokio")]
mod peer;
#[cfg(feature = "tokio")]
mod proxy;
mod script;
