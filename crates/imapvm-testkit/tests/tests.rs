//! imapvm-testkit's tests: the script format, and both drivers against real
//! TCP clients (every test binds its own loopback port).

mod blocking;
#[cfg(feature = "tokio")]
mod peer;
mod script;
