//! The benchmark suite's typed errors: each names what was being done.

use std::io;

/// Why a benchmark step failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// A socket or file operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: io::Error,
    },
    /// The server closed the connection.
    #[error("{context}: the server closed the connection")]
    Closed {
        /// What was being done.
        context: String,
    },
    /// The server sent something this client does not understand.
    #[error("{context}: unexpected server line {line:?}")]
    Protocol {
        /// What was being done.
        context: String,
        /// The offending line (truncated).
        line: String,
    },
    /// A size from outside exceeded its bound.
    #[error("{what} of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its size.
        size: usize,
        /// The bound.
        limit: usize,
    },
    /// The server refused a command the benchmark needs.
    #[error("{command}: server said {reply:?}")]
    Refused {
        /// The command (without its literal).
        command: String,
        /// The tagged reply line.
        reply: String,
    },
    /// A sequence file or trace is malformed.
    #[error("{file}:{line}: {message}")]
    Sequence {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A scenario cannot be set up or measured.
    #[error("{0}")]
    Scenario(String),
    /// The imapvm contender failed (the suite then measures the operation
    /// without it and says so in the report).
    #[error("imapvm: {0}")]
    Runtime(String),
}

impl BenchError {
    /// A lost connection or socket error: worth one more attempt (another
    /// process may have restarted the server's workers).
    pub fn is_transient(&self) -> bool {
        matches!(self, BenchError::Io { .. } | BenchError::Closed { .. })
    }

    /// An I/O error with context.
    pub fn io(context: impl Into<String>, source: io::Error) -> BenchError {
        BenchError::Io {
            context: context.into(),
            source,
        }
    }
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, BenchError>;

/// At most `max` characters of `text`, for error messages.
pub(crate) fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut s: String = text.chars().take(max).collect();
        s.push('…');
        s
    }
}
