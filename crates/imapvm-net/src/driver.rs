//! The one driver of the sans-IO protocol cores: IMAP (`imapvm_proto::Connection`), AMI
//! (`imapvm_ami::Client`) and AGI (`imapvm_agi::Channel`) all implement
//! [`imapvm_types::sansio::Core`], and [`Driver`] runs any of them over any tokio byte
//! stream (TCP, rustls).
//!
//! The loop is quinn's `ConnectionDriver` and imap-next's `Stream::next`: write what the
//! core wants sent **while** reading (a peer that answers before it has read a large
//! command cannot deadlock us), feed what was read to the core with `now` from the
//! injected [`Clock`](crate::clock::Clock), fire the core's timer. The driver knows no
//! protocol: events stay in the core, and the caller takes them with
//! `driver.core_mut().poll_event()` between turns and matches them exhaustively.
//!
//! Two clocks bound a turn: the write timeout (no byte could be written for that long,
//! however much the peer talks) and the caller's deadline, either an instant
//! ([`Driver::turn`]) or a read timeout that starts once everything is written
//! ([`Driver::turn_within`]: the IMAP session's `imapreadtimeout`). Users: the runtime's
//! IMAP `Session` (STARTTLS swaps the stream between turns), the AMI output of
//! `imapvm-watch` and each FastAGI call of `imapvm-phone`.
//!
//! ```no_run
//! # async fn demo(conn: imapvm_proto::Connection, tcp: tokio::net::TcpStream) -> Result<(), imapvm_net::driver::DriveError> {
//! use imapvm_net::clock::SystemClock;
//! use imapvm_net::driver::{Driver, Progress};
//!
//! let mut driver = Driver::new(conn, tcp, SystemClock::shared()).with_label("vm1234@imap:143");
//! loop {
//!     match driver.turn(None).await? {
//!         Progress::Read(_) | Progress::Timer => {}
//!         Progress::Eof | Progress::Deadline => break,
//!     }
//!     while let Some(event) = driver.core_mut().poll_event() {
//!         // match every variant: events are exhaustive
//!         # let _ = event;
//!     }
//! }
//! # Ok(()) }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use imapvm_types::sansio::{Core, Transmit};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::clock::SharedClock;

/// Bytes read from the peer per read, at most.
const READ_CHUNK: usize = 64 * 1024;
/// The read buffer's first size. A read that fills it doubles it (up to [`READ_CHUNK`]): a
/// quiet connection holds 4 KiB, not 64.
const READ_FIRST: usize = 4 * 1024;
/// The read buffer's size after [`Driver::shrink_buffers`]: a connection about to wait long
/// (the MWI watcher keeps thousands in IDLE) hears a line or two (`+ idling`, a NOTIFY
/// `* STATUS`) and holds 256 bytes for it, not 4 KiB; the first read that fills it goes
/// back to [`READ_FIRST`].
const READ_IDLE: usize = 256;

/// What one [`Driver::turn`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Progress {
    /// This many bytes were read and fed to the core.
    Read(usize),
    /// The peer closed its side; the core was told (`handle_eof`).
    Eof,
    /// The core's timer fired; the core was told (`handle_timeout`).
    Timer,
    /// The caller's deadline passed with nothing else to report.
    Deadline,
}

/// An I/O failure of the stream under the core (exhaustive: callers map every case).
#[derive(Debug, thiserror::Error)]
pub enum DriveError {
    /// Reading failed.
    #[error("reading: {0}")]
    Read(#[source] std::io::Error),
    /// Writing failed.
    #[error("writing: {0}")]
    Write(#[source] std::io::Error),
    /// Written bytes did not drain within the write timeout.
    #[error("writing: nothing could be written for {0:?}")]
    WriteTimeout(Duration),
}

impl DriveError {
    /// The I/O error, for callers that report it as one.
    pub fn into_io(self) -> std::io::Error {
        match self {
            DriveError::Read(e) | DriveError::Write(e) => e,
            DriveError::WriteTimeout(d) => std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("nothing could be written for {d:?}"),
            ),
        }
    }
}

/// A sans-IO core joined to a byte stream, a clock and a timer.
///
/// [`Driver::turn`], [`Driver::turn_within`] and [`Driver::flush`] are cancel-safe: dropped
/// at an `.await` (the other branch of a `select!` won), they lose nothing; what was read
/// is fed to the core before they return, and what is half written stays queued.
pub struct Driver<C, S> {
    core: C,
    stream: S,
    clock: SharedClock,
    label: String,
    trace_input: bool,
    write_timeout: Option<Duration>,
    read_buf: Vec<u8>,
    /// Bytes of the last read (at the start of `read_buf`).
    last_read: usize,
    out: Vec<u8>,
    out_pos: usize,
    needs_flush: bool,
    /// Since when nothing could be written (pending bytes made no progress).
    stalled_since: Instant,
}

impl<C, S> std::fmt::Debug for Driver<C, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("label", &self.label)
            .field("unwritten", &(self.out.len() - self.out_pos))
            .finish_non_exhaustive()
    }
}

/// When a turn gives up waiting.
#[derive(Clone, Copy)]
enum Deadline {
    /// At this instant (never when `None`).
    At(Option<Instant>),
    /// This long after everything was written: a read timeout.
    AfterWriting(Duration),
}

impl<C, S> Driver<C, S>
where
    C: Core,
    S: AsyncRead + AsyncWrite + Unpin,
{
    /// Joins `core` to `stream`, with `clock` for every `now`.
    pub fn new(core: C, stream: S, clock: SharedClock) -> Driver<C, S> {
        let stalled_since = clock.now();
        Driver {
            core,
            stream,
            clock,
            label: String::new(),
            trace_input: true,
            write_timeout: None,
            read_buf: vec![0; READ_FIRST],
            last_read: 0,
            out: Vec::new(),
            out_pos: 0,
            needs_flush: false,
            stalled_since,
        }
    }

    /// The name traces carry (`user@server:port`, `ami host:port`, `agi peer`).
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// Fails a turn when pending bytes cannot be written for this long.
    pub fn with_write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = Some(timeout);
        self
    }

    /// Whether raw input is traced (`tracing` level trace). Off for peers whose input can
    /// carry secrets (AGI PIN digits): then only the core's own redacted traces appear.
    pub fn with_input_trace(mut self, on: bool) -> Self {
        self.trace_input = on;
        self
    }

    /// The core.
    pub fn core(&self) -> &C {
        &self.core
    }

    /// The core, to give it commands and take its events.
    pub fn core_mut(&mut self) -> &mut C {
        &mut self.core
    }

    /// The stream (e.g. to upgrade it to TLS between turns, when nothing is unwritten).
    pub fn stream_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// The clock.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// `now` from the clock.
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// Whether bytes the core produced are still waiting to be written.
    pub fn has_unwritten(&self) -> bool {
        self.out_pos < self.out.len() || self.needs_flush
    }

    /// The bytes of the last read, as they were fed to the core (e.g. to keep a server's
    /// greeting verbatim).
    pub fn last_read(&self) -> &[u8] {
        &self.read_buf[..self.last_read]
    }

    /// Shrinks the read buffer to 256 bytes (4 KiB again at the first read that fills them)
    /// and gives back the write buffer (nothing unwritten is lost): for a connection about
    /// to wait long, when thousands wait at once.
    pub fn shrink_buffers(&mut self) {
        if self.read_buf.len() > READ_IDLE {
            self.read_buf.truncate(READ_IDLE);
            self.read_buf.shrink_to_fit();
            self.last_read = self.last_read.min(READ_IDLE);
        }
        if !self.has_unwritten() {
            self.out = Vec::new();
            self.out_pos = 0;
        }
    }

    /// Takes the core and the stream apart.
    pub fn into_parts(self) -> (C, S) {
        (self.core, self.stream)
    }

    /// Moves everything the core wants sent into the write buffer.
    fn collect_transmits(&mut self) {
        let now = self.clock.now();
        if self.out_pos == self.out.len() {
            self.out.clear();
            self.out_pos = 0;
        }
        let idle = !self.has_unwritten();
        while let Some(t) = self.core.poll_transmit(now) {
            tracing::trace!(peer = %self.label, out = %t.trace(), "C:");
            self.out.extend_from_slice(t.as_bytes());
            self.needs_flush = true;
        }
        if idle && self.has_unwritten() {
            // The write timeout counts from when bytes are waiting.
            self.stalled_since = now;
        }
    }

    /// Writes everything the core has to send, reading meanwhile (what is read is fed to
    /// the core), and returns once it is all written and flushed.
    pub async fn flush(&mut self) -> Result<(), DriveError> {
        self.collect_transmits();
        while self.has_unwritten() {
            match self.step(None, true).await? {
                Step::Flushed => break,
                Step::Read(n) => self.feed(n),
                Step::Eof => {
                    self.core.handle_eof();
                    return Ok(());
                }
                Step::Wake => {
                    let now = self.clock.now();
                    if self.core.poll_timeout().is_some_and(|t| t <= now) {
                        self.core.handle_timeout(now);
                    }
                }
            }
            self.collect_transmits();
        }
        Ok(())
    }

    /// One turn: writes what the core has to send and runs until input arrived (fed to
    /// the core), the peer closed, the core's timer fired, or `deadline` passed.
    pub async fn turn(&mut self, deadline: Option<Instant>) -> Result<Progress, DriveError> {
        self.run(Deadline::At(deadline)).await
    }

    /// [`Driver::turn`] with a read timeout: the turn ends with [`Progress::Deadline`] when
    /// `quiet` passed after everything was written with nothing read. While bytes are
    /// written only the write timeout applies, so a large command on a slow link is not
    /// mistaken for a silent peer.
    pub async fn turn_within(&mut self, quiet: Duration) -> Result<Progress, DriveError> {
        self.run(Deadline::AfterWriting(quiet)).await
    }

    async fn run(&mut self, deadline: Deadline) -> Result<Progress, DriveError> {
        self.collect_transmits();
        let mut written_at = None;
        loop {
            let (at, until_flushed) = match deadline {
                Deadline::At(at) => (at, false),
                Deadline::AfterWriting(_) if self.has_unwritten() => {
                    written_at = None;
                    (None, true)
                }
                Deadline::AfterWriting(quiet) => {
                    let since = *written_at.get_or_insert_with(|| self.clock.now());
                    (Some(since + quiet), false)
                }
            };
            match self.step(at, until_flushed).await? {
                Step::Read(n) => {
                    self.feed(n);
                    return Ok(Progress::Read(n));
                }
                Step::Eof => {
                    tracing::debug!(peer = %self.label, "peer closed the connection");
                    self.core.handle_eof();
                    return Ok(Progress::Eof);
                }
                Step::Wake => {
                    let now = self.clock.now();
                    if self.core.poll_timeout().is_some_and(|t| t <= now) {
                        self.core.handle_timeout(now);
                        return Ok(Progress::Timer);
                    }
                    if at.is_some_and(|d| d <= now) {
                        return Ok(Progress::Deadline);
                    }
                    // Woken early (timer granularity): go on waiting.
                }
                Step::Flushed => {}
            }
            self.collect_transmits();
        }
    }

    fn feed(&mut self, n: usize) {
        self.last_read = n;
        if self.trace_input {
            tracing::trace!(peer = %self.label, bytes = n, "S: {}", self.read_buf[..n.min(300)].escape_ascii());
        }
        let now = self.clock.now();
        self.core.handle_input(&self.read_buf[..n], now);
        if n == self.read_buf.len() && n < READ_CHUNK {
            // More may be waiting: read twice as much at once from now on (at least as much
            // as at first, after a shrink).
            self.read_buf.resize((n * 2).max(READ_FIRST), 0);
        }
    }

    /// Polls writing, reading and the timers together until one of them has news.
    async fn step(
        &mut self,
        deadline: Option<Instant>,
        stop_when_flushed: bool,
    ) -> Result<Step, DriveError> {
        let now = self.clock.now();
        let wake = match (self.core.poll_timeout(), deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        // Timers run on tokio's clock, armed with durations measured on ours.
        let mut sleep =
            wake.map(|w| Box::pin(tokio::time::sleep(w.saturating_duration_since(now))));
        let mut write_limit = match self.write_timeout {
            Some(limit) if self.has_unwritten() => {
                let left = (self.stalled_since + limit).saturating_duration_since(now);
                Some((limit, Box::pin(tokio::time::sleep(left))))
            }
            _ => None,
        };
        let Driver {
            stream,
            clock,
            out,
            out_pos,
            needs_flush,
            read_buf,
            stalled_since,
            ..
        } = self;
        std::future::poll_fn(|cx| {
            let mut wrote = false;
            while *out_pos < out.len() {
                match Pin::new(&mut *stream).poll_write(cx, &out[*out_pos..]) {
                    Poll::Ready(Ok(0)) => {
                        return Poll::Ready(Err(DriveError::Write(
                            std::io::ErrorKind::WriteZero.into(),
                        )));
                    }
                    Poll::Ready(Ok(n)) => {
                        *out_pos += n;
                        wrote = true;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(DriveError::Write(e))),
                    Poll::Pending => break,
                }
            }
            if *out_pos == out.len() && *needs_flush {
                match Pin::new(&mut *stream).poll_flush(cx) {
                    Poll::Ready(Ok(())) => {
                        *needs_flush = false;
                        if stop_when_flushed {
                            return Poll::Ready(Ok(Step::Flushed));
                        }
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(DriveError::Write(e))),
                    Poll::Pending => {}
                }
            }
            if wrote {
                // Progress restarts the write timer.
                *stalled_since = clock.now();
                if let Some((limit, timer)) = write_limit.as_mut() {
                    timer.set(tokio::time::sleep(*limit));
                }
            }
            let mut buf = ReadBuf::new(&mut read_buf[..]);
            match Pin::new(&mut *stream).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) => {
                    let n = buf.filled().len();
                    return Poll::Ready(Ok(if n == 0 { Step::Eof } else { Step::Read(n) }));
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(DriveError::Read(e))),
                Poll::Pending => {}
            }
            if let Some((limit, timer)) = write_limit.as_mut()
                && (*out_pos < out.len() || *needs_flush)
                && timer.as_mut().poll(cx).is_ready()
            {
                return Poll::Ready(Err(DriveError::WriteTimeout(*limit)));
            }
            if let Some(timer) = sleep.as_mut()
                && timer.as_mut().poll(cx).is_ready()
            {
                return Poll::Ready(Ok(Step::Wake));
            }
            Poll::Pending
        })
        .await
    }
}

/// What one poll round saw.
enum Step {
    Read(usize),
    Eof,
    Wake,
    Flushed,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;
    use std::borrow::Cow;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A line echo core: sends `big` once, then every line it reads comes back as an event;
    /// a timer fires `tick` after the start.
    struct Echo {
        big: Option<Vec<u8>>,
        input: Vec<u8>,
        lines: Vec<Vec<u8>>,
        eof: bool,
        timer: Option<Instant>,
        fired: u32,
    }

    struct Bytes(Vec<u8>);

    impl Transmit for Bytes {
        fn as_bytes(&self) -> &[u8] {
            &self.0
        }
        fn trace(&self) -> Cow<'_, str> {
            Cow::Owned(format!("{} bytes", self.0.len()))
        }
    }

    impl Core for Echo {
        type Transmit = Bytes;
        type Event = Vec<u8>;

        fn handle_input(&mut self, bytes: &[u8], _now: Instant) {
            self.input.extend_from_slice(bytes);
            while let Some(i) = self.input.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.input.drain(..=i).collect();
                self.lines.push(line);
            }
        }
        fn handle_eof(&mut self) {
            self.eof = true;
        }
        fn handle_timeout(&mut self, now: Instant) {
            if self.timer.is_some_and(|t| t <= now) {
                self.timer = None;
                self.fired += 1;
            }
        }
        fn poll_transmit(&mut self, _now: Instant) -> Option<Bytes> {
            self.big.take().map(Bytes)
        }
        fn poll_event(&mut self) -> Option<Vec<u8>> {
            if self.lines.is_empty() {
                None
            } else {
                Some(self.lines.remove(0))
            }
        }
        fn poll_timeout(&self) -> Option<Instant> {
            self.timer
        }
    }

    fn echo(big: Vec<u8>, timer: Option<Instant>) -> Echo {
        Echo {
            big: Some(big),
            input: Vec::new(),
            lines: Vec::new(),
            eof: false,
            timer,
            fired: 0,
        }
    }

    /// The peer answers before it reads our 8 MiB: a write-then-read driver would deadlock
    /// once both socket buffers are full; this one reads while it writes.
    #[tokio::test]
    async fn reads_while_writing_a_large_command() {
        let (ours, mut theirs) = tokio::io::duplex(64 * 1024);
        let size = 8 * 1024 * 1024;
        let peer = tokio::spawn(async move {
            // Answer at once, many lines, before reading anything.
            for i in 0..20_000u32 {
                theirs
                    .write_all(format!("line {i}\n").as_bytes())
                    .await
                    .unwrap();
            }
            let mut got = vec![0; size];
            theirs.read_exact(&mut got).await.unwrap();
            got.iter().all(|b| *b == b'x')
        });
        let mut driver = Driver::new(echo(vec![b'x'; size], None), ours, SystemClock::shared())
            .with_write_timeout(Duration::from_secs(30));
        let mut lines = 0;
        while lines < 20_000 {
            let p = driver.turn(None).await.unwrap();
            assert!(matches!(p, Progress::Read(_)), "{p:?}");
            while driver.core_mut().poll_event().is_some() {
                lines += 1;
            }
        }
        driver.flush().await.unwrap();
        assert!(peer.await.unwrap(), "the peer got the whole command");
    }

    #[tokio::test(start_paused = true)]
    async fn the_core_timer_and_the_callers_deadline_wake_a_turn() {
        let (ours, _theirs) = tokio::io::duplex(1024);
        let clock = SystemClock::shared();
        let start = clock.now();
        let mut driver = Driver::new(
            echo(Vec::new(), Some(start + Duration::from_secs(5))),
            ours,
            clock.clone(),
        );
        assert_eq!(
            driver
                .turn(Some(start + Duration::from_secs(60)))
                .await
                .unwrap(),
            Progress::Timer
        );
        assert_eq!(driver.core().fired, 1);
        assert!(clock.now() - start >= Duration::from_secs(5));
        assert_eq!(
            driver
                .turn(Some(start + Duration::from_secs(60)))
                .await
                .unwrap(),
            Progress::Deadline
        );
        assert!(clock.now() - start >= Duration::from_secs(60));
    }

    #[tokio::test]
    async fn end_of_file_reaches_the_core() {
        let (ours, theirs) = tokio::io::duplex(1024);
        drop(theirs);
        let mut driver = Driver::new(echo(Vec::new(), None), ours, SystemClock::shared());
        assert_eq!(driver.turn(None).await.unwrap(), Progress::Eof);
        assert!(driver.core().eof);
    }

    /// A read timeout counts from the end of writing: a large command that drains slowly
    /// (but keeps draining) is not a silent peer.
    #[tokio::test(start_paused = true)]
    async fn turn_within_starts_its_read_timeout_once_everything_is_written() {
        let (ours, mut theirs) = tokio::io::duplex(1024);
        let clock = SystemClock::shared();
        let start = clock.now();
        let peer = tokio::spawn(async move {
            // 64 KiB at 4 KiB per second: 16 s of writing, progress every second.
            let mut got = vec![0; 64 * 1024];
            for chunk in got.chunks_mut(4096) {
                tokio::time::sleep(Duration::from_secs(1)).await;
                theirs.read_exact(chunk).await.unwrap();
            }
            theirs
        });
        let mut driver = Driver::new(echo(vec![b'x'; 64 * 1024], None), ours, clock.clone())
            .with_write_timeout(Duration::from_secs(5));
        let p = driver.turn_within(Duration::from_secs(3)).await.unwrap();
        assert_eq!(p, Progress::Deadline);
        let waited = clock.now() - start;
        assert!(
            waited >= Duration::from_secs(19) && waited < Duration::from_secs(20),
            "16 s of writing, then 3 s of silence: {waited:?}"
        );
        let _theirs = peer.await.unwrap();
    }

    /// Input does not keep a stalled write alive: the write timeout counts from the last
    /// byte written, however often the peer talks.
    #[tokio::test(start_paused = true)]
    async fn a_talking_peer_that_never_reads_still_hits_the_write_timeout() {
        let (ours, mut theirs) = tokio::io::duplex(1024);
        let clock = SystemClock::shared();
        let start = clock.now();
        let talker = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                if theirs.write_all(b"still here\n").await.is_err() {
                    break;
                }
            }
        });
        let mut driver = Driver::new(echo(vec![0; 1 << 20], None), ours, clock.clone())
            .with_write_timeout(Duration::from_secs(5));
        let mut reads = 0;
        let err = loop {
            match driver.turn(None).await {
                Ok(Progress::Read(_)) => reads += 1,
                Ok(other) => panic!("{other:?}"),
                Err(e) => break e,
            }
        };
        assert!(matches!(err, DriveError::WriteTimeout(_)), "{err}");
        assert!(reads >= 4, "the peer talked meanwhile: {reads} reads");
        let waited = clock.now() - start;
        assert!(waited < Duration::from_secs(6), "{waited:?}");
        talker.abort();
    }

    /// The sizes of the reads of `total` bytes, one turn each.
    async fn read_sizes<C: Core, S: AsyncRead + AsyncWrite + Unpin>(
        driver: &mut Driver<C, S>,
        total: usize,
    ) -> Vec<usize> {
        let mut sizes = Vec::new();
        let mut read = 0;
        while read < total {
            let Progress::Read(n) = driver.turn(None).await.unwrap() else {
                panic!("a read")
            };
            read += n;
            sizes.push(n);
        }
        sizes
    }

    /// The read buffer starts at 4 KiB and doubles while reads fill it, up to 64 KiB; shrunk
    /// for a wait, it holds 256 bytes until a read fills them.
    #[tokio::test]
    async fn the_read_buffer_grows_only_when_reads_fill_it() {
        let (ours, mut theirs) = tokio::io::duplex(1 << 20);
        let mut driver = Driver::new(echo(Vec::new(), None), ours, SystemClock::shared());
        theirs.write_all(b"* OK hello\n").await.unwrap();
        assert_eq!(driver.turn(None).await.unwrap(), Progress::Read(11));
        assert_eq!(driver.read_buf.len(), READ_FIRST);
        theirs.write_all(&vec![b'x'; 512 * 1024]).await.unwrap();
        let sizes = read_sizes(&mut driver, 512 * 1024).await;
        assert_eq!(sizes[..5], [4096, 8192, 16384, 32768, 65536], "{sizes:?}");
        assert_eq!(driver.read_buf.len(), READ_CHUNK);
        driver.shrink_buffers();
        assert_eq!(driver.read_buf.capacity(), READ_IDLE);
        assert!(driver.last_read().len() <= READ_IDLE);
        // Waiting: a short line fits; the first read that fills the idle buffer goes back
        // to the first size at once, then doubles as before.
        theirs.write_all(b"+ idling\n").await.unwrap();
        assert_eq!(driver.turn(None).await.unwrap(), Progress::Read(9));
        assert_eq!(driver.read_buf.len(), READ_IDLE);
        theirs.write_all(&vec![b'y'; 64 * 1024]).await.unwrap();
        let sizes = read_sizes(&mut driver, 64 * 1024).await;
        assert_eq!(sizes[..3], [READ_IDLE, 4096, 8192], "{sizes:?}");
    }

    #[tokio::test]
    async fn last_read_holds_the_bytes_fed_to_the_core() {
        let (ours, mut theirs) = tokio::io::duplex(1024);
        theirs.write_all(b"* OK hello\n").await.unwrap();
        let mut driver = Driver::new(echo(Vec::new(), None), ours, SystemClock::shared());
        assert_eq!(driver.turn(None).await.unwrap(), Progress::Read(11));
        assert_eq!(driver.last_read(), b"* OK hello\n");
        assert_eq!(
            driver.core_mut().poll_event().as_deref(),
            Some(&b"* OK hello\n"[..])
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_peer_that_never_reads_hits_the_write_timeout() {
        let (ours, _theirs) = tokio::io::duplex(1024);
        let mut driver = Driver::new(echo(vec![0; 1 << 20], None), ours, SystemClock::shared())
            .with_write_timeout(Duration::from_secs(10));
        let err = driver.turn(None).await.unwrap_err();
        assert!(
            matches!(err, DriveError::WriteTimeout(d) if d == Duration::from_secs(10)),
            "{err}"
        );
    }
}
