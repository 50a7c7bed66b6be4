//! [`CommandLine`]: a program and its arguments as an option names them (`imapoauthcmd`),
//! to be run **without a shell**.
//!
//! The rule: the value is split into words as a POSIX shell splits a simple command (the
//! `shlex` crate): at blanks, with `'single'` and `"double"` quotes and backslash escapes,
//! and a word that starts with `#` starts a comment. Nothing else of a shell applies: no
//! variables, no `~`, no globs, no pipes, no redirections, no `;` or `&&`. The first word is
//! the program (a path, or a name looked up in `PATH`), the others its arguments.

use std::fmt;

use serde::{Serialize, Serializer};

/// Longest command line accepted, in bytes.
pub const MAX_COMMAND_LINE: usize = 4096;

/// A command line split into its program and arguments (see the module docs for the rule).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CommandLine {
    text: String,
    argv: Vec<String>,
}

/// Why a value cannot be a [`CommandLine`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandLineError {
    /// No program: empty, blanks or a comment only.
    #[error("it names no program")]
    Empty,
    /// Too long, or a control character (a line break, NUL).
    #[error("it is over {max} bytes or holds a control character")]
    Unusable {
        /// The length limit.
        max: usize,
    },
    /// A quote is not closed, or the value ends with a lone backslash.
    #[error("a quote is not closed or it ends with a lone backslash")]
    Unbalanced,
}

impl CommandLine {
    /// Splits `text` into program and arguments.
    pub fn parse(text: &str) -> Result<CommandLine, CommandLineError> {
        if text.len() > MAX_COMMAND_LINE || text.chars().any(|c| c.is_control() && c != '\t') {
            return Err(CommandLineError::Unusable {
                max: MAX_COMMAND_LINE,
            });
        }
        let argv = shlex::split(text).ok_or(CommandLineError::Unbalanced)?;
        if argv.first().is_none_or(String::is_empty) {
            return Err(CommandLineError::Empty);
        }
        Ok(CommandLine {
            text: text.to_owned(),
            argv,
        })
    }

    /// The value as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The program (the first word).
    pub fn program(&self) -> &str {
        self.argv.first().map_or("", String::as_str)
    }

    /// The arguments after the program.
    pub fn args(&self) -> &[String] {
        self.argv.get(1..).unwrap_or_default()
    }

    /// Program and arguments.
    pub fn argv(&self) -> &[String] {
        &self.argv
    }
}

/// The value as written.
impl fmt::Display for CommandLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for CommandLine {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(text: &str) -> Vec<String> {
        CommandLine::parse(text).unwrap().argv().to_vec()
    }

    #[test]
    fn words_are_split_as_a_shell_splits_a_simple_command() {
        assert_eq!(
            argv("python3 /etc/imapvm/token.py --user vm1234"),
            ["python3", "/etc/imapvm/token.py", "--user", "vm1234"]
        );
        assert_eq!(
            argv(r#"oama access "alice smith@example.com" 'a b' c\ d"#),
            ["oama", "access", "alice smith@example.com", "a b", "c d"]
        );
        // No shell: `$HOME`, `~`, `*`, `;` and `|` are plain text.
        assert_eq!(
            argv("prog $HOME ~ * a|b x;y"),
            ["prog", "$HOME", "~", "*", "a|b", "x;y"]
        );
        let c = CommandLine::parse("  gcloud auth print-access-token\t").unwrap();
        assert_eq!(c.program(), "gcloud");
        assert_eq!(c.args(), ["auth", "print-access-token"]);
        assert_eq!(c.to_string(), "  gcloud auth print-access-token\t");
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            "\"  gcloud auth print-access-token\\t\""
        );
    }

    #[test]
    fn values_that_name_no_runnable_program_are_refused() {
        assert_eq!(CommandLine::parse(""), Err(CommandLineError::Empty));
        assert_eq!(CommandLine::parse("   "), Err(CommandLineError::Empty));
        assert_eq!(
            CommandLine::parse("# nothing"),
            Err(CommandLineError::Empty)
        );
        assert_eq!(CommandLine::parse("''"), Err(CommandLineError::Empty));
        assert_eq!(
            CommandLine::parse("prog 'open"),
            Err(CommandLineError::Unbalanced)
        );
        assert_eq!(
            CommandLine::parse("prog \\"),
            Err(CommandLineError::Unbalanced)
        );
        for bad in [
            "prog\nrm -rf /",
            "prog\0",
            &"x".repeat(MAX_COMMAND_LINE + 1),
        ] {
            assert_eq!(
                CommandLine::parse(bad),
                Err(CommandLineError::Unusable {
                    max: MAX_COMMAND_LINE
                })
            );
        }
    }
}
