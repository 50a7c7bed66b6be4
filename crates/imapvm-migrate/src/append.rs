//! Many APPENDs on one connection, pipelined: with LITERAL+ every command and its literal go
//! out in one write and the server answers them in a stream, so the run is bound by the
//! server's store rate rather than by round trips.

use std::sync::Arc;

use imapvm_policy::{MailboxName, MessageFlags, Uid};
use imapvm_proto::{CommandId, Flag, Outcome};

use imapvm::{Error, Result, Session};

/// One message to append.
#[derive(Clone)]
pub(crate) struct MigrateAppend {
    /// The RFC 5322 bytes.
    pub message: Arc<[u8]>,
    /// Its flags.
    pub flags: MessageFlags,
    /// The wanted INTERNALDATE (Unix seconds), sent as the APPEND date-time.
    pub internal_date: Option<i64>,
}

impl std::fmt::Debug for MigrateAppend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MigrateAppend")
            .field("bytes", &self.message.len())
            .field("flags", &self.flags)
            .finish_non_exhaustive()
    }
}

fn wire_flags(flags: MessageFlags) -> Vec<Flag> {
    let mut v = Vec::new();
    if flags.seen {
        v.push(Flag::Seen);
    }
    if flags.flagged {
        v.push(Flag::Flagged);
    }
    if flags.deleted {
        v.push(Flag::Deleted);
    }
    v
}

/// Appends `batch` to `mailbox`, all commands pipelined, and waits for every answer. Per
/// message: `Ok(uid)` (`None` without UIDPLUS) or `Err(the server's refusal)`. A lost
/// connection fails the whole call (what reached the server is found again by a re-run).
pub(crate) async fn append_pipelined(
    s: &mut Session,
    mailbox: &MailboxName,
    batch: &[MigrateAppend],
) -> Result<Vec<std::result::Result<Option<Uid>, String>>> {
    let mut ids: Vec<std::result::Result<CommandId, String>> = Vec::with_capacity(batch.len());
    for item in batch {
        let flags = wire_flags(item.flags);
        let message = Arc::clone(&item.message);
        ids.push(
            s.queue("APPEND (migrate)", |c| {
                c.append_dated(mailbox, &flags, item.internal_date, message)
            })
            .map_err(|e| e.to_string()),
        );
    }
    let waiting: Vec<CommandId> = ids
        .iter()
        .filter_map(|r| r.as_ref().ok().copied())
        .collect();
    s.wait(&waiting).await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.push(match id {
            Err(reason) => Err(reason),
            Ok(id) => match s.take("APPEND (migrate)", id) {
                Ok(Outcome::Appended(a)) => Ok(a.map(|a| a.uid)),
                Ok(_) => Ok(None),
                Err(Error::Protocol { source, .. }) if !source.is_fatal() => {
                    Err(format!("server refused the APPEND: {source}"))
                }
                Err(e) => return Err(e),
            },
        });
    }
    Ok(out)
}
