//! Project automation shared by `cargo xtask` and the integration tests.
//!
//! The library half holds the private test servers (`dovecot`), so that an
//! integration test can find or start the same server `cargo xtask dovecot
//! start` runs. It does **not** hold product logic: nothing here ships in
//! `imapvm`.
#![forbid(unsafe_code)]
