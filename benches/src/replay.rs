//! The Asterisk replayer: sends an operation's recorded command sequence
//! ([`crate::sequence`]) over a raw connection, one command at a time, waiting
//! for each tagged reply exactly as c-client does (it never pipelines).

use crate::error::{BenchError, Result};
use crate::sequence::{Sequence, Vars, substitute};
use crate::wire::{Collect, Status, Wire};

/// What one replay did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Replayed {
    /// Commands sent.
    pub commands: usize,
    /// The hits of the last SEARCH.
    pub last_hits: Vec<u32>,
    /// `(uidvalidity, uid)` from the APPEND's `APPENDUID`, if one was sent.
    pub appended: Option<(u32, u32)>,
}

/// Replays `sequence` on `wire` with `vars`; `literal` is the message of an
/// APPEND (`{literal}`). The wire must be logged in. `vars.exists` is updated
/// from every SELECT, as c-client learns it.
///
/// A BAD reply is an error (the replay would no longer be Asterisk's); a NO
/// is an error too except for `GETQUOTAROOT`, which Asterisk tolerates.
pub fn replay(
    wire: &mut Wire,
    sequence: &Sequence,
    vars: &mut Vars,
    literal: Option<&[u8]>,
) -> Result<Replayed> {
    let mut done = Replayed::default();
    let mut hits: Vec<u32> = Vec::new();
    for template in &sequence.commands {
        if let Some(head) = template.strip_suffix(" {literal}") {
            let body = literal.ok_or_else(|| {
                BenchError::Scenario(format!("{}: APPEND without a message", sequence.operation))
            })?;
            let head = substitute(head, vars, &hits).unwrap_or_default();
            let reply = wire.append_sync(&head, body)?.ok(&head)?;
            done.appended = reply.append_uid();
            done.commands += 1;
            continue;
        }
        let Some(command) = substitute(template, vars, &hits) else {
            continue;
        };
        let is_search = command.starts_with("SEARCH ");
        let is_select = command.starts_with("SELECT ");
        let collect = if is_search || is_select {
            Collect::Untagged
        } else {
            Collect::Nothing
        };
        let reply = wire.command(&command, collect)?;
        done.commands += 1;
        if !(reply.status == Status::No && command.starts_with("GETQUOTAROOT")) {
            reply.clone().ok(&command)?;
        }
        if is_search {
            hits = reply.search_hits();
        }
        if is_select && let Some(n) = reply.exists() {
            vars.exists = n;
        }
    }
    done.last_hits = hits;
    Ok(done)
}
