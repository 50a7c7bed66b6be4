//! The migration's error: a spool that cannot be read or written as a whole, or the
//! runtime's error (connection, login, a command, the configuration). A single message that
//! cannot be migrated is not an error but a [`Failure`](crate::Failure) in the report.

/// Everything [`import`](crate::import) and [`export`](crate::export) can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file-storage spool could not be read or written as a whole.
    #[error("spool {}: {source}", path.display())]
    Spool {
        /// The file or directory.
        path: std::path::PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// `--spool` names neither a spool directory nor a voicemail directory.
    #[error(
        "spool {}: no voicemail here; give Asterisk's spool directory (astspooldir, e.g. \
         /var/spool/asterisk) or its voicemail directory",
        path.display()
    )]
    NoSpool {
        /// The path given.
        path: std::path::PathBuf,
    },
    /// An option of [`ImportOptions`](crate::ImportOptions) is out of bounds (a batch of
    /// nothing), refused rather than repaired.
    #[error("migrate: {0}")]
    Option(#[from] imapvm::ConfigError),
    /// The runtime failed (it names the account or mailbox).
    #[error(transparent)]
    Runtime(#[from] imapvm::Error),
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
