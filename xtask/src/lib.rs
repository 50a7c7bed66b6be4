//! Project automation shared by `cargo xtask` and the integration tests.
//!
//! The library half holds the private test servers ([`dovecot`], [`cyrus`],
//! [`courier`]: each an [`harness::ImapServer`] with one shared life cycle in
//! [`harness`], built from the pieces in [`server`]), so that an integration
//! test finds or starts the very server `cargo xtask dovecot start` (or
//! `cyrus`, `courier`) runs:
//!
//! ```no_run
//! let server = xtask::dovecot::ensure_running()?;
//! println!("IMAP on {}:{} as vm1234", server.host, server.port);
//! # Ok::<(), xtask::server::HarnessError>(())
//! ```
//!
//! It does **not** hold product logic: nothing here ships in `imapvm`, and
//! tests must not use it to act as the "user's mail client" (that is Python's
//! `imaplib`, see [`mail_client`]).
#![forbid(unsafe_code)]

pub mod courier;
pub mod cyrus;
pub mod dovecot;
pub mod harness;
pub mod mail_client;
pub mod pbx;
pub mod scrape;
pub mod server;

#[cfg(test)]
mod tidy;
