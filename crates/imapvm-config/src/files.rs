//! The injected file reader: the crate never touches the file system itself.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

/// Reads configuration files for the parser (`voicemail.conf` and its `#include`s).
///
/// The runtime crate implements it over `std::fs`; tests and the fuzzer use [`MemoryFiles`].
/// Implementations should bound what they read; the parser also refuses files larger than
/// [`crate::MAX_FILE_BYTES`].
pub trait ConfigFiles {
    /// The whole content of the file at `path`. A missing file is `io::ErrorKind::NotFound`.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
}

impl<T: ConfigFiles + ?Sized> ConfigFiles for &T {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        (**self).read(path)
    }
}

/// In-memory files, keyed by path: for tests, fuzzing and embedding.
#[derive(Debug, Clone, Default)]
pub struct MemoryFiles {
    files: BTreeMap<PathBuf, Vec<u8>>,
}

impl MemoryFiles {
    /// No files.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a file; returns `self` for chaining.
    pub fn with(mut self, path: impl Into<PathBuf>, content: impl Into<Vec<u8>>) -> Self {
        self.insert(path, content);
        self
    }

    /// Adds (or replaces) a file.
    pub fn insert(&mut self, path: impl Into<PathBuf>, content: impl Into<Vec<u8>>) {
        self.files.insert(path.into(), content.into());
    }
}

impl ConfigFiles for MemoryFiles {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.files
            .get(path)
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file"))
    }
}
