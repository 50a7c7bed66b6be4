//! Diagnostics: what is wrong in a voicemail.conf, where, and what to do about it.

use std::fmt;

use serde::Serialize;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Severity {
    /// The file is wrong: Asterisk would refuse it, misread it, or silently lose something.
    Error,
    /// The file is accepted, but something is probably not what the operator meant.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// A place in a configuration file: file name as written in the include chain, 1-based line and column.
///
/// Line 0 means "the file as a whole" (for example a file that could not be read).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Default)]
pub struct Location {
    /// The file, as the parser was given it or as resolved from an `#include`.
    pub file: String,
    /// 1-based line number (0: the whole file).
    pub line: u32,
    /// 1-based column, counted in characters (0: the whole line).
    pub column: u32,
}

impl Location {
    /// A location in `file` at `line`:`column`.
    pub fn new(file: impl Into<String>, line: u32, column: u32) -> Self {
        Location {
            file: file.into(),
            line,
            column,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// One finding about the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// File name.
    pub file: String,
    /// 1-based line (0: the whole file).
    pub line: u32,
    /// 1-based column (0: the whole line).
    pub column: u32,
    /// What is wrong and what to do about it.
    pub message: String,
}

impl Diagnostic {
    /// An error at `at`.
    pub fn error(at: &Location, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, at, message)
    }

    /// A warning at `at`.
    pub fn warning(at: &Location, message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, at, message)
    }

    fn new(severity: Severity, at: &Location, message: impl Into<String>) -> Self {
        Diagnostic {
            severity,
            file: at.file.clone(),
            line: at.line,
            column: at.column,
            message: message.into(),
        }
    }

    /// Where the diagnostic points.
    pub fn location(&self) -> Location {
        Location::new(self.file.clone(), self.line, self.column)
    }
}

/// Compiler style: `file:line:col: warning: message`.
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file, self.line, self.column, self.severity, self.message
        )
    }
}
