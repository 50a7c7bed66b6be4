//! The phone service's errors: one enum, with the context an operator needs.

use std::path::{Path, PathBuf};

/// Everything that can go wrong serving a call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The AGI conversation failed (the peer misbehaved, timed out, closed).
    #[error("AGI: {0}")]
    Agi(#[from] imapvm_agi::Error),
    /// The call flow refused an input (a bug in the binding: the flow and the AGI answers
    /// disagree).
    #[error("call flow: {0}")]
    Flow(String),
    /// Asterisk closed the connection before the call was over.
    #[error("Asterisk closed the FastAGI connection")]
    PeerClosed,
    /// The AGI arguments do not name a call (`voicemail,BOX@CONTEXT,OPTIONS`).
    #[error("AGI arguments: {0}")]
    Args(String),
    /// A spool file or directory could not be used.
    #[error("spool: {what} {}: {source}", path.display())]
    Spool {
        /// The file or directory.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// Audio larger than the spool takes.
    #[error("{what}: {bytes} bytes is more than the spool takes")]
    TooLarge {
        /// Which audio.
        what: String,
        /// Its size.
        bytes: usize,
    },
    /// The operating system's random source failed.
    #[error("no random bytes from the operating system: {0}")]
    Random(String),
    /// The socket under the AGI conversation failed.
    #[error("AGI connection: {0}")]
    Io(#[from] imapvm_net::driver::DriveError),
    /// The listener could not be set up.
    #[error("listening on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The runtime (IMAP, voicemail.conf) failed.
    #[error(transparent)]
    Store(#[from] imapvm::Error),
}

impl Error {
    pub(crate) fn spool(path: &Path, what: &'static str, source: std::io::Error) -> Error {
        Error::Spool {
            path: path.to_owned(),
            what,
            source,
        }
    }
}

impl From<imapvm_ivr::Misuse> for Error {
    fn from(m: imapvm_ivr::Misuse) -> Error {
        Error::Flow(m.to_string())
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
