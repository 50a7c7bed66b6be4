//! The floor: the least a perfect client exchanges per operation on a warm
//! connection with the folder selected, each as one pipelined flight (one
//! round trip), parsed no further than finding the tagged replies.
//!
//! * deposit: `APPEND {n+}` (LITERAL+) and the three count searches;
//! * count: the three searches as `UID SEARCH RETURN (COUNT)` (ESEARCH);
//! * list: `UID SEARCH RETURN (SAVE)` and `UID FETCH $` (SEARCHRES) of the
//!   header fields a listing shows (the fields imapvm's listing fetches);
//! * play: `UID FETCH uid BODY.PEEK[2]`;
//! * delete: `UID STORE uid +FLAGS.SILENT (\Deleted)` and `UID EXPUNGE uid`.

use crate::wire::literal_plus;

/// The headers a listing shows (the same set imapvm's listing fetches).
pub const LIST_FIELDS: &str = "Date From Subject Message-ID X-Asterisk-VM-Message-Num \
     X-Asterisk-VM-Context X-Asterisk-VM-Extension X-Asterisk-VM-Flag X-Asterisk-VM-Priority \
     X-Asterisk-VM-Caller-ID-Num X-Asterisk-VM-Caller-ID-Name X-Asterisk-VM-Duration \
     X-Asterisk-VM-Message-Type X-Asterisk-VM-Orig-date X-Asterisk-VM-Orig-time \
     X-Asterisk-VM-Message-ID X-Asterisk-CallerID X-Asterisk-CallerIDName";

/// The `HEADER` search keys of one mailbox.
pub fn header_keys(ext: &str, ctx: &str) -> String {
    format!("HEADER X-Asterisk-VM-Extension {ext} HEADER X-Asterisk-VM-Context {ctx}")
}

/// new, old, urgent as ESEARCH counts.
pub fn count(ext: &str, ctx: &str) -> Vec<Vec<u8>> {
    let keys = header_keys(ext, ctx);
    [
        "UNDELETED UNFLAGGED UNSEEN",
        "UNDELETED SEEN",
        "UNDELETED FLAGGED UNSEEN",
    ]
    .iter()
    .map(|flags| format!("UID SEARCH RETURN (COUNT) {flags} {keys}").into_bytes())
    .collect()
}

/// The APPEND (urgent, as the Asterisk trace) followed by the counts.
pub fn deposit(folder: &str, message: &[u8], ext: &str, ctx: &str) -> Vec<Vec<u8>> {
    let mut flight = vec![literal_plus(
        &format!("APPEND {folder} (\\Flagged)"),
        message,
    )];
    flight.extend(count(ext, ctx));
    flight
}

/// The listing: search saved as `$`, then the header fields of `$`.
pub fn list(ext: &str, ctx: &str) -> Vec<Vec<u8>> {
    vec![
        format!(
            "UID SEARCH RETURN (SAVE) UNDELETED {}",
            header_keys(ext, ctx)
        )
        .into_bytes(),
        format!("UID FETCH $ (FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS ({LIST_FIELDS})])")
            .into_bytes(),
    ]
}

/// The audio part of one message.
pub fn play(uid: u32) -> Vec<Vec<u8>> {
    vec![format!("UID FETCH {uid} BODY.PEEK[2]").into_bytes()]
}

/// Flag and expunge exactly one message.
pub fn delete(uid: u32) -> Vec<Vec<u8>> {
    vec![
        format!("UID STORE {uid} +FLAGS.SILENT (\\Deleted)").into_bytes(),
        format!("UID EXPUNGE {uid}").into_bytes(),
    ]
}
