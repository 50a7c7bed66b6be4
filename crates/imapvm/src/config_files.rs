//! voicemail.conf and imapvm.conf from the file system: a `std::fs` [`ConfigFiles`] reader,
//! [`load`] and [`load_with`].

use std::io::{self, Read};
use std::path::Path;

use imapvm_config::{ConfigError, ConfigFiles, ImapvmConfPath, MAX_FILE_BYTES, Parsed};

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

/// Reads and parses the voicemail.conf at `path` (and its `#include`s) and the imapvm.conf
/// beside it, if there is one: the configuration plus the diagnostics of both. Only an
/// unreadable voicemail.conf is an error.
pub fn load(path: &Path) -> Result<Parsed, ConfigError> {
    load_with(path, &ImapvmConfPath::Beside)
}

/// [`load`] with the imapvm.conf `imapvm_conf` names; a missing
/// [`ImapvmConfPath::File`] is an error too.
pub fn load_with(path: &Path, imapvm_conf: &ImapvmConfPath) -> Result<Parsed, ConfigError> {
    imapvm_config::parse_with_imapvm_conf(&FsConfigFiles, path, imapvm_conf)
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
    fn imapvm_conf_is_read_from_beside_voicemail_conf_or_as_named() {
        let dir = std::env::temp_dir().join(format!("imapvm-conf-beside-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let vm = dir.join("voicemail.conf");
        std::fs::write(&vm, "[default]\n1 => 1,A,,,imapuser=a\n").unwrap();
        let no_imapvm_conf = load(&vm).unwrap();
        std::fs::write(
            dir.join("imapvm.conf"),
            "[general]\nagi_listen = 127.0.0.1:4599\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("other.conf"),
            "[general]\nagi_listen = 127.0.0.1:4598\n",
        )
        .unwrap();
        let beside = load(&vm).unwrap();
        let named = load_with(&vm, &ImapvmConfPath::File(dir.join("other.conf"))).unwrap();
        let missing = load_with(&vm, &ImapvmConfPath::File(dir.join("gone.conf")));
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(no_imapvm_conf.imapvm_conf, None);
        assert_eq!(beside.config.imapvm.agi_listen.port(), 4599);
        assert_eq!(named.config.imapvm.agi_listen.port(), 4598);
        assert!(matches!(missing, Err(ConfigError::Read { .. })));
    }

    #[test]
    fn a_missing_top_level_file_is_an_error() {
        let err = load(Path::new("/nonexistent/imapvm/voicemail.conf")).unwrap_err();
        assert!(matches!(err, ConfigError::Read { .. }));
    }
}
