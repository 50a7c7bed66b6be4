//! A log capture for the secrecy tests: every `tracing` event at trace level, as text, into
//! a buffer the test reads back (a password, a PIN or a webhook secret must appear in no
//! line of it).

use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing_subscriber::util::SubscriberInitExt;

/// The guard of [`Capture::trace`]: capturing ends when it drops.
pub type Guard = tracing::subscriber::DefaultGuard;

/// A `MakeWriter` into a shared buffer.
#[derive(Clone, Default)]
pub struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    /// Captures every event of the current thread at trace level, until the guard drops.
    /// Tasks that run on other threads are not seen: use a current-thread runtime
    /// (`#[tokio::test]`).
    pub fn trace() -> (Capture, Guard) {
        let capture = Capture::default();
        let guard = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(capture.clone())
            .finish()
            .set_default();
        (capture, guard)
    }

    /// What was captured so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;

    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}
