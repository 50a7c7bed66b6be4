//! Changing a mailbox's PIN as `VoiceMailMain` does (`vm_change_password`), without I/O: the
//! edited bytes of the file that holds the mailbox line, the spool's `secret.conf`, and the
//! checks a new PIN must pass.
//!
//! Asterisk rewrites the whole voicemail.conf (and every file it includes) when a PIN
//! changes, normalising white space. imapvm changes only the bytes of the password field:
//! comments, spacing, line ends (CRLF stays CRLF), `=` or `=>`, other lines and other files
//! stay as they were. The caller writes the returned bytes to [`PasswordEdit::file`]
//! atomically.

use std::io;
use std::path::{Component, Path, PathBuf};

use crate::diagnostic::Location;
use crate::files::{ConfigFiles, MemoryFiles};
use crate::model::{Origin, Setting};
use crate::settings::MailboxSettings;
use crate::{Config, ConfigError, PasswordLocation, semantics, syntax};
use imapvm_types::MailboxId;
use imapvm_types::Secret;

/// Asterisk keeps at most this many characters of a PIN (`char password[80]`).
pub const MAX_PIN_CHARS: usize = 79;

/// The file name of a mailbox's spool PIN file (`passwordlocation=spooldir`).
pub const SECRET_CONF: &str = "secret.conf";

/// A new PIN that cannot be written into voicemail.conf or secret.conf. The PIN itself is
/// never part of the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PinError {
    /// Longer than [`MAX_PIN_CHARS`].
    #[error("the new PIN is {len} characters long; Asterisk keeps at most {MAX_PIN_CHARS}")]
    TooLong {
        /// Its length in characters.
        len: usize,
    },
    /// A character the file syntax gives a meaning (or that is not printable ASCII).
    #[error("the new PIN holds {what}, which a voicemail.conf password cannot carry")]
    Forbidden {
        /// What it is: `a comma`, `a semicolon`, `a backslash`, `white space or a control
        /// character`, `a non-ASCII character`.
        what: &'static str,
    },
}

/// A new PIN that Asterisk's `check_password` refuses (`vm-invalid-password`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PinPolicyError {
    /// Shorter than `minpassword`.
    #[error("the new PIN has {len} characters; minpassword asks for at least {min}")]
    TooShort {
        /// Its length.
        len: usize,
        /// `minpassword`.
        min: u32,
    },
    /// A PIN starting with `*` marks a mailbox as invalid.
    #[error("a PIN cannot start with `*`")]
    StartsWithStar,
}

/// Why the PIN of a mailbox cannot be changed in voicemail.conf.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordError {
    /// The top-level file could not be read.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The new PIN cannot be written.
    #[error(transparent)]
    Pin(#[from] PinError),
    /// No such mailbox (with [`change_password_bytes`], also when it is in an `#include`d file).
    #[error("there is no mailbox {id} in {file}")]
    NoMailbox {
        /// The mailbox asked for.
        id: MailboxId,
        /// The top-level file.
        file: String,
    },
    /// The PIN starts with `-`: its user may not change it (Asterisk plays `vm-no`).
    #[error("{at}: the PIN of mailbox {id} starts with `-`, so its user may not change it")]
    Locked {
        /// The mailbox.
        id: MailboxId,
        /// Its line.
        at: Location,
    },
    /// The mailbox line is copied from a template: editing it would change every context
    /// that inherits the template.
    #[error(
        "{at}: mailbox {id} is defined in a template that its context inherits; change its PIN by hand (or define the mailbox in the context itself)"
    )]
    Inherited {
        /// The mailbox.
        id: MailboxId,
        /// The template's line.
        at: Location,
    },
    /// The file holding the line could not be read again.
    #[error("cannot read {file}, which holds the mailbox line of {id}")]
    Read {
        /// The mailbox.
        id: MailboxId,
        /// The file.
        file: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The password field is written in a way imapvm does not edit (a comment or escape
    /// inside it, a `+=` continuation, a file name or line that is not UTF-8), or the edited
    /// file would not read back with only the PIN changed.
    #[error(
        "{at}: imapvm cannot safely edit the PIN of mailbox {id} here ({reason}); change it by hand"
    )]
    Unsafe {
        /// The mailbox.
        id: MailboxId,
        /// Its line.
        at: Location,
        /// What is in the way.
        reason: &'static str,
    },
}

/// The result of [`change_password`]: the new content of the file holding the mailbox line.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordEdit {
    /// The file to replace: the top-level voicemail.conf, or the `#include`d file that holds
    /// the mailbox line.
    pub file: PathBuf,
    /// The mailbox line.
    pub line: Location,
    /// The file's new bytes: only the password field differs.
    pub bytes: Vec<u8>,
}

/// The bytes hold the new PIN: Debug shows their length only.
impl std::fmt::Debug for PasswordEdit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordEdit")
            .field("file", &self.file)
            .field("line", &self.line)
            .field("bytes", &format_args!("<{} bytes>", self.bytes.len()))
            .finish()
    }
}

/// Checks that `pin` can be written as a voicemail.conf password or a secret.conf value.
fn check_pin_syntax(pin: &Secret) -> Result<(), PinError> {
    let text = pin.expose();
    let len = text.chars().count();
    if len > MAX_PIN_CHARS {
        return Err(PinError::TooLong { len });
    }
    for c in text.chars() {
        let what = match c {
            ',' => "a comma",
            ';' => "a semicolon",
            '\\' => "a backslash",
            c if !c.is_ascii() => "a non-ASCII character",
            c if !c.is_ascii_graphic() => "white space or a control character",
            _ => continue,
        };
        return Err(PinError::Forbidden { what });
    }
    Ok(())
}

/// Asterisk's `check_password` without `externpasscheck` (the binding runs that): at least
/// `minpassword` characters, and not starting with `*`.
pub fn check_new_pin(pin: &Secret, minpassword: u32) -> Result<(), PinPolicyError> {
    let len = pin.expose().len();
    if u32::try_from(len).is_ok_and(|l| l < minpassword) {
        return Err(PinPolicyError::TooShort {
            len,
            min: minpassword,
        });
    }
    if pin.expose().starts_with('*') {
        return Err(PinPolicyError::StartsWithStar);
    }
    Ok(())
}

/// True when a PIN starts with `-`: its user may not change it (`VoiceMailMain` plays
/// `vm-no`). Check the PIN in force ([`MailboxSettings::effective_password`]).
pub fn is_locked(pin: &Secret) -> bool {
    pin.expose().starts_with('-')
}

/// `files` with one file's bytes replaced: the edited tree, to read it back.
struct Overlay<'a> {
    files: &'a dyn ConfigFiles,
    path: &'a Path,
    bytes: &'a [u8],
}

impl ConfigFiles for Overlay<'_> {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        if path == self.path {
            Ok(self.bytes.to_vec())
        } else {
            self.files.read(path)
        }
    }
}

fn load(files: &dyn ConfigFiles, path: &Path) -> Result<(syntax::RawConfig, Config), ConfigError> {
    let mut diagnostics = Vec::new();
    let raw = syntax::load(files, path, &mut diagnostics)?;
    let config = semantics::build(&raw, &mut diagnostics);
    Ok((raw, config))
}

/// Sets the PIN of mailbox `id` to `pin` in the voicemail.conf at `path` (read with its
/// `#include`s through `files`), as `VoiceMailMain`'s "change password" does with
/// `passwordlocation=voicemail.conf`.
///
/// Only the first field of the mailbox line (`box => PIN,name,...`) changes; the result names
/// the file that holds the line. Refused: an unknown mailbox, a PIN starting with `-`
/// ([`PasswordError::Locked`]), a line inherited from a template, a `pin` voicemail.conf
/// cannot carry, a line imapvm cannot edit safely. The edit is checked by reading the edited
/// files back: everything but this PIN must read the same.
pub fn change_password(
    files: &dyn ConfigFiles,
    path: &Path,
    id: &MailboxId,
    pin: &Secret,
) -> Result<PasswordEdit, PasswordError> {
    check_pin_syntax(pin)?;
    let (raw, config) = load(files, path)?;
    let no_mailbox = || PasswordError::NoMailbox {
        id: id.clone(),
        file: path.display().to_string(),
    };
    let mailbox = config.mailbox(id).ok_or_else(no_mailbox)?;
    let at = config.mailbox_location(id).ok_or_else(no_mailbox)?.clone();
    let id = mailbox.id.clone();
    let unsafe_edit = |reason| PasswordError::Unsafe {
        id: id.clone(),
        at: at.clone(),
        reason,
    };
    let entry = raw
        .sections
        .iter()
        .filter(|s| !s.template)
        .flat_map(|s| s.entries.iter())
        .find(|e| e.key_at == at)
        .ok_or_else(|| unsafe_edit("its line was not found again"))?;
    if entry.inherited {
        return Err(PasswordError::Inherited { id, at });
    }
    if is_locked(&mailbox.password) {
        return Err(PasswordError::Locked { id, at });
    }
    let file = if at.file == path.display().to_string() {
        path.to_path_buf()
    } else if at.file.contains('\u{FFFD}') {
        return Err(unsafe_edit("the file name is not UTF-8"));
    } else {
        PathBuf::from(&at.file)
    };
    let before = files.read(&file).map_err(|source| PasswordError::Read {
        id: id.clone(),
        file: at.file.clone(),
        source,
    })?;
    let (start, end) =
        password_span(&before, entry, mailbox.password.expose()).map_err(&unsafe_edit)?;
    let mut bytes = Vec::with_capacity(before.len() + pin.expose().len());
    bytes.extend_from_slice(&before[..start]);
    if start == end && entry.value.is_empty() {
        // `box =>` with no value: Asterisk writes `box => PIN`.
        bytes.push(b' ');
    }
    bytes.extend_from_slice(pin.expose().as_bytes());
    bytes.extend_from_slice(&before[end..]);

    // Read the edited tree back: only this PIN may differ.
    let overlay = Overlay {
        files,
        path: &file,
        bytes: &bytes,
    };
    let (_, mut after) = load(&overlay, path)?;
    let mut expected = config.clone();
    if let Some(m) = expected.mailboxes.iter_mut().find(|m| m.id == id) {
        m.password = pin.clone();
    }
    expected.origins = Default::default();
    after.origins = Default::default();
    if after != expected {
        return Err(unsafe_edit(
            "the edited file would not read back with only the PIN changed",
        ));
    }
    Ok(PasswordEdit {
        file,
        line: at,
        bytes,
    })
}

/// [`change_password`] for one file's bytes (named `name`): the edited bytes. `#include`s
/// cannot be followed, so a mailbox defined in an included file is
/// [`PasswordError::NoMailbox`]; use [`change_password`] with a file reader to edit it there.
pub fn change_password_bytes(
    name: &str,
    bytes: &[u8],
    id: &MailboxId,
    pin: &Secret,
) -> Result<Vec<u8>, PasswordError> {
    let files = MemoryFiles::new().with(name, bytes.to_vec());
    change_password(&files, Path::new(name), id, pin).map(|edit| edit.bytes)
}

/// The byte range of the password field of `entry`'s line in `file`, which must read as
/// `password`.
fn password_span(
    file: &[u8],
    entry: &syntax::RawEntry,
    password: &str,
) -> Result<(usize, usize), &'static str> {
    let index = usize::try_from(entry.key_at.line)
        .ok()
        .and_then(|l| l.checked_sub(1))
        .ok_or("the line number is out of range")?;
    let line_start: usize = file
        .split(|b| *b == b'\n')
        .take(index)
        .map(|l| l.len() + 1)
        .sum();
    let line = file
        .get(line_start..)
        .and_then(|rest| rest.split(|b| *b == b'\n').next())
        .ok_or("the line is not in the file")?;
    let line = std::str::from_utf8(line).map_err(|_| "the line is not UTF-8")?;
    if entry.value.is_empty() {
        // No value: the PIN goes right after `=` or `=>`.
        let eq = line.find('=').ok_or("the line has no `=`")?;
        let after = eq + 1 + usize::from(line[eq + 1..].starts_with('>'));
        return Ok((line_start + after, line_start + after));
    }
    let column = usize::try_from(entry.value_at.column)
        .ok()
        .and_then(|c| c.checked_sub(1))
        .ok_or("the column is out of range")?;
    let start = line
        .char_indices()
        .nth(column)
        .map(|(i, _)| i)
        .ok_or("the value is not where it was read")?;
    if !line[start..].starts_with(entry.value.chars().next().unwrap_or(',')) {
        return Err("the value does not start where it was read");
    }
    let rest = &line[start..];
    let field_end = rest.find([',', ';', '\\']).unwrap_or(rest.len());
    let field = &rest[..field_end];
    // Up to a comma the field is the password as it is (blanks included); at the end of the
    // value the parser removed trailing blanks (and a CR).
    let field = if rest[field_end..].starts_with(',') {
        field
    } else {
        field.trim_end_matches(|c: char| (c as u32) < 33)
    };
    if field != password {
        return Err("the password field holds a comment, an escape or a continuation");
    }
    Ok((line_start + start, line_start + start + field.len()))
}

/// The PIN in a spool `secret.conf` (`[general]` then `password=`), read as Asterisk's
/// `read_password_from_file` does: the first `[general]` section, its first `password`
/// (any case), at most [`MAX_PIN_CHARS`] bytes. `None`: the file has none (Asterisk then keeps
/// the mailbox line's PIN).
pub fn read_secret_conf(name: &str, bytes: &[u8]) -> Option<Setting<Secret>> {
    let mut diagnostics = Vec::new();
    let raw = syntax::load_text(name, bytes, &mut diagnostics);
    let general = raw
        .sections
        .iter()
        .find(|s| !s.template && s.name.eq_ignore_ascii_case("general"))?;
    let entry = general
        .entries
        .iter()
        .find(|e| e.key.eq_ignore_ascii_case("password"))?;
    let mut end = entry.value.len().min(MAX_PIN_CHARS);
    while !entry.value.is_char_boundary(end) {
        end -= 1;
    }
    Some(Setting {
        value: Secret::new(&entry.value[..end]),
        origin: Origin::SecretConf(entry.value_at.clone()),
    })
}

/// A spool `secret.conf` holding `pin`, in the form Asterisk's `write_password_to_file` writes
/// (its header without the creation date).
pub fn render_secret_conf(pin: &Secret) -> Result<Vec<u8>, PinError> {
    check_pin_syntax(pin)?;
    let text = format!(
        ";!\n;! Automatically generated configuration file\n;! Filename: {SECRET_CONF}\n;! Generator: imapvm\n;!\n[general]\npassword = {}\n",
        pin.expose()
    );
    Ok(text.into_bytes())
}

/// `{spool_dir}/voicemail/{context}/{mailbox}/secret.conf` for `id` (`spool_dir` is
/// Asterisk's `astspooldir`, e.g. `/var/spool/asterisk`). Pass the id as voicemail.conf writes
/// it ([`MailboxSettings::id`]). `None` when the context or the mailbox could not be one path
/// component (empty, `.`, `..`, or holding `/` or NUL).
pub fn secret_conf_path(spool_dir: &Path, id: &MailboxId) -> Option<PathBuf> {
    let component = |name: &str| {
        let mut parts = Path::new(name).components();
        matches!(
            (parts.next(), parts.next()),
            (Some(Component::Normal(_)), None)
        ) && !name.contains(['/', '\0'])
    };
    if !component(id.context()) || !component(id.mailbox()) {
        return None;
    }
    Some(
        spool_dir
            .join("voicemail")
            .join(id.context())
            .join(id.mailbox())
            .join(SECRET_CONF),
    )
}

impl MailboxSettings {
    /// The PIN in force: with `passwordlocation=spooldir`, the spool `secret.conf`'s when it
    /// has one (`secret_conf`, from [`read_secret_conf`]), else the mailbox line's.
    pub fn effective_password(&self, secret_conf: Option<Setting<Secret>>) -> Setting<Secret> {
        match (self.phone.passwordlocation.value, secret_conf) {
            (PasswordLocation::Spooldir, Some(spool)) => spool,
            _ => self.password.clone(),
        }
    }
}
