//! End-to-end benchmarks of imapvm against a real IMAP server, side by side
//! with Asterisk 22's recorded protocol cost and the wire floor.
//!
//! * [`wire`]: a tiny blocking IMAP client (plain loopback TCP, `LOGIN`,
//!   tagged replies, literals skipped) that counts round trips and bytes.
//! * [`sequence`] and [`replay`]: Asterisk's per-operation command sequences,
//!   taken from the recorded traces (`fixtures/asterisk-sequences.txt` names
//!   the trace and lines of each), replayed one command at a time as c-client
//!   sends them.
//! * [`floor`]: the least a perfect client exchanges per operation.
//! * [`scenario`] and [`fixture`]: the `bench-*` folders and their messages
//!   (wav49 audio, Asterisk-exact voicemails, ordinary e-mails).
//! * [`measure`], [`suite`] and [`report`]: interleaved timing, median/p99,
//!   wire counters, `docs/performance.md` and its SVG chart.
//! * [`mwi`]: the MWI latency results (`benches/benches/mwi_latency.rs`
//!   measures them; the report quotes them when they are from the same run).
//!
//! `cargo xtask bench` runs it all against the private Dovecot. This crate
//! does **not** hold the codec micro-benchmarks of the other crates (they live
//! in `crates/*/benches`; the suite only reads their criterion results), and
//! it holds no tokio code: the imapvm contender and the MWI watcher bench
//! live in the bench binaries.
//!
//! ```
//! use imapvm_benches::sequence::{Vars, builtin, substitute};
//!
//! let count = builtin("count")?;
//! let vars = Vars {
//!     folder: "bench-list-10".into(),
//!     greetings: "bench-greetings".into(),
//!     ext: "4321".into(),
//!     ctx: "bench".into(),
//!     seq: 1,
//!     exists: 10,
//! };
//! let first_search = count.commands.iter().find(|c| c.starts_with("SEARCH")).unwrap();
//! assert_eq!(
//!     substitute(first_search, &vars, &[]).unwrap(),
//!     "SEARCH UNDELETED UNFLAGGED UNSEEN HEADER X-Asterisk-VM-Extension 4321 \
//!      HEADER X-Asterisk-VM-Context bench"
//! );
//! // c-client's envelope prefetch is sent only after a SEARCH with hits.
//! assert_eq!(substitute(&count.commands[4], &vars, &[]), None);
//! # Ok::<(), imapvm_benches::BenchError>(())
//! ```
#![forbid(unsafe_code)]

mod error;
pub mod fixture;
pub mod floor;
pub mod measure;
pub mod mwi;
pub mod replay;
pub mod report;
pub mod scenario;
pub mod sequence;
pub mod suite;
pub mod wire;

pub use error::{BenchError, Result};
