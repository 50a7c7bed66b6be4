//! [`Limits`]: how much the peer may make this side hold, and Asterisk's own bounds on a
//! command line [INV-7].

/// The longest command line `res_agi` reads, LF included: `run_agi()` reads into an
/// 8192-byte buffer with `fgets`, which keeps one byte for the NUL. A longer line would be
/// split and its tail run as a second command, so [`crate::Command::encode`] refuses it.
pub const MAX_COMMAND_LINE: usize = 8191;

/// The most words `res_agi`'s `parse_args()` keeps (`MAX_ARGS` 128, less the terminating
/// NULL); it silently drops further words, so [`crate::Command::encode`] refuses them.
pub const MAX_COMMAND_WORDS: usize = 127;

/// Bounds on what the peer may make the channel buffer. Exceeding any is a typed
/// [`crate::Error::Limit`], never unbounded buffering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest line accepted from the peer, in bytes without its LF. Asterisk's own buffer
    /// is 8192 bytes; a `GET VARIABLE` answer carries the variable's value in one line.
    pub max_line: usize,
    /// Most lines of the environment block, the blank line included (22 standard keys plus
    /// one per `AGI()` argument).
    pub max_env_lines: usize,
    /// Most bytes of the environment block, LFs included.
    pub max_env_bytes: usize,
    /// Most usage lines of one multi-line `520-` answer.
    pub max_usage_lines: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line: 8192,
            max_env_lines: 256,
            max_env_bytes: 64 * 1024,
            max_usage_lines: 64,
        }
    }
}
