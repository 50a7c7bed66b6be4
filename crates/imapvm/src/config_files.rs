//! voicemail.conf from the file system: a `std::fs` [`ConfigFiles`] reader and [`load`].

use std::io::{self, Read};
use std::path::Path;

use imapvm_config::{ConfigError, ConfigFiles, MAX_FILE_BYTES, Parsed};

/// Reads configuration files from the local file system, refusing files larger than
/// [`MAX_FILE_BYTES`] and anything that is not a regular file.
#[derive(Debug, Clone, Copy, Default)]
pub struct FsConfigFiles;

impl ConfigFiles for FsConfigFiles {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let file = std::fs::File::open(path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file",
            ));
        }
        let limit = u64::try_from(MAX_FILE_BYTES).unwrap_or(u64::MAX);
        let mut bytes = Vec::new();
        file.take(limit + 1).read_to_end(&mut bytes)?;
        if bytes.len() > MAX_FILE_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("larger than {MAX_FILE_BYTES} bytes"),
            ));
        }
        Ok(bytes)
    }
}

/// Reads and parses the voicemail.conf at `path` (and its `#include`s): the configuration
/// plus its diagnostics. Only an unreadable top-level file is an error.
pub fn load(path: &Path) -> Result<Parsed, ConfigError> {
    imapvm_config::parse(&FsConfigFiles, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_file_and_its_include_from_disk() {
        let dir = std::env::temp_dir().join(format!("imapvm-config-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("voicemail.conf"),
            "[general]\n#include \"imap.conf\"\n[default]\n1 => 1,A,,,imapuser=a\n",
        )
        .unwrap();
        std::fs::write(dir.join("imap.conf"), "imapserver=mail.example.com\n").unwrap();
        let parsed = load(&dir.join("voicemail.conf")).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
        assert_eq!(parsed.config.general.imapserver, "mail.example.com");
        assert_eq!(parsed.config.mailboxes.len(), 1);
    }

    #[test]
    fn a_missing_top_level_file_is_an_error() {
        let err = load(Path::new("/nonexistent/imapvm/voicemail.conf")).unwrap_err();
        assert!(matches!(err, ConfigError::Read { .. }));
    }
}
