//! The spool directory Asterisk and imapvm share: Asterisk records into it (`RECORD FILE`)
//! and plays from it (`STREAM FILE`, `CONTROL STREAM FILE`), so it is the same path on the
//! Asterisk host.
//!
//! Every file of a call is named `{token}-{what}` where the token is 128 random bits from
//! the operating system, so nobody can guess a name and calls never collide. Files imapvm
//! writes (greetings and messages to play) are mode 0640. When the call ends,
//! [`CallSpool::clean`] removes every file of the call; a recording waiting for its
//! deposit is kept with its [`Journal`](crate::journal) until the deposit is safe.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Largest file imapvm writes into the spool for playback (a greeting or a message).
pub const MAX_SPOOL_FILE: usize = 64 * 1024 * 1024;

/// The shared spool directory.
#[derive(Debug, Clone)]
pub struct Spool {
    dir: PathBuf,
}

impl Spool {
    /// Opens (creating it, mode 0750, when missing) the spool directory and checks that
    /// imapvm can write into it.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Spool> {
        let dir = dir.into();
        if !dir.is_dir() {
            std::fs::create_dir_all(&dir).map_err(|e| Error::spool(&dir, "creating", e))?;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o750))
                .map_err(|e| Error::spool(&dir, "setting the mode of", e))?;
        }
        let probe = dir.join(format!(".probe-{}", token()?));
        std::fs::write(&probe, b"").map_err(|e| Error::spool(&dir, "writing into", e))?;
        let _ = std::fs::remove_file(&probe);
        Ok(Spool { dir })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A new call's corner of the spool.
    pub fn call(&self) -> Result<CallSpool> {
        Ok(CallSpool {
            dir: self.dir.clone(),
            token: token()?,
            written: 0,
        })
    }
}

/// 32 hex digits from the operating system's random source.
pub(crate) fn token() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| Error::Random(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The files of one call.
#[derive(Debug)]
pub struct CallSpool {
    dir: PathBuf,
    token: String,
    written: u32,
}

impl CallSpool {
    /// The call's token (the prefix of its files).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Where Asterisk records the message (without extension: `RECORD FILE` adds the
    /// format's).
    pub fn recording(&self) -> PathBuf {
        self.dir.join(format!("{}-rec", self.token))
    }

    /// Writes audio for playback, mode 0640; returns its name without extension (what
    /// `STREAM FILE` takes).
    pub fn write_audio(&mut self, what: &str, format: &str, bytes: &[u8]) -> Result<PathBuf> {
        if bytes.len() > MAX_SPOOL_FILE {
            return Err(Error::TooLarge {
                what: what.to_owned(),
                bytes: bytes.len(),
            });
        }
        let ext = spool_extension(format);
        self.written += 1;
        let base = self
            .dir
            .join(format!("{}-{}{}", self.token, what, self.written));
        let path = with_extension(&base, ext);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o640)
            .open(&path)
            .map_err(|e| Error::spool(&path, "creating", e))?;
        file.write_all(bytes)
            .map_err(|e| Error::spool(&path, "writing", e))?;
        Ok(base)
    }

    /// Removes every file of the call except those in `keep`.
    pub fn clean(&self, keep: &[PathBuf]) {
        let prefix = format!("{}-", self.token);
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if !name.starts_with(&prefix) {
                continue;
            }
            let path = entry.path();
            if keep
                .iter()
                .any(|k| path.starts_with(k) || same_base(&path, k))
            {
                continue;
            }
            if let Err(e) = std::fs::remove_file(&path) {
                tracing::warn!(file = %path.display(), error = %e, "could not remove a spool file");
            }
        }
    }
}

/// Whether `path` is `base` with an extension.
fn same_base(path: &Path, base: &Path) -> bool {
    path.with_extension("") == base
}

/// `base.ext`, keeping dots already in `base`.
pub(crate) fn with_extension(base: &Path, ext: &str) -> PathBuf {
    let mut s = base.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

/// The file extension Asterisk's file formats use for a stored audio format: a message's
/// `WAV` part (wav49, GSM in a WAV container) is read by `format_wav_gsm` from `.WAV`.
pub(crate) fn spool_extension(format: &str) -> &str {
    match format {
        "wav49" => "WAV",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_private_unguessable_and_cleaned() {
        let dir = std::env::temp_dir().join(format!("imapvm-spool-test-{}", token().unwrap()));
        let spool = Spool::open(&dir).unwrap();
        let mut a = spool.call().unwrap();
        let b = spool.call().unwrap();
        assert_ne!(a.token(), b.token());
        assert_eq!(a.token().len(), 32);
        let base = a.write_audio("greeting", "wav", b"RIFF").unwrap();
        let file = with_extension(&base, "wav");
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        std::fs::write(with_extension(&a.recording(), "wav"), b"rec").unwrap();
        std::fs::write(with_extension(&b.recording(), "wav"), b"other call").unwrap();
        a.clean(&[a.recording()]);
        assert!(!file.exists(), "played files go");
        assert!(
            with_extension(&a.recording(), "wav").exists(),
            "a kept recording stays"
        );
        a.clean(&[]);
        assert!(!with_extension(&a.recording(), "wav").exists());
        assert!(
            with_extension(&b.recording(), "wav").exists(),
            "another call's files stay"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn too_large_audio_is_refused() {
        let dir = std::env::temp_dir().join(format!("imapvm-spool-test-{}", token().unwrap()));
        let spool = Spool::open(&dir).unwrap();
        let mut call = spool.call().unwrap();
        let err = call
            .write_audio("big", "wav", &vec![0; MAX_SPOOL_FILE + 1])
            .unwrap_err();
        assert!(matches!(err, Error::TooLarge { .. }), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
