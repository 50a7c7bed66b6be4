//! The floor: a raw-socket IDLE client on the watched folder. It parses nothing beyond the
//! kind of each untagged response and stamps each line on arrival, so its latency is the
//! server's own notification delay.

use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub use imapvm_benches::mwi::{Note, classify};

/// The longest line the floor client accepts (its lines are short untagged responses).
const MAX_LINE: u64 = 64 * 1024;

/// One line read in IDLE: (arrival, kind, bytes).
type Stamped = (Instant, Note, u64);

/// A connection in IDLE on INBOX; its lines come through [`FloorIdle::wait`].
pub struct FloorIdle {
    rx: mpsc::UnboundedReceiver<Stamped>,
    /// Kept open: dropping the write half would end the session.
    _w: OwnedWriteHalf,
    reader: JoinHandle<()>,
}

impl Drop for FloorIdle {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

async fn line_of(r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> Result<String, String> {
    let mut line = String::new();
    let n = tokio::time::timeout(
        Duration::from_secs(20),
        (&mut *r).take(MAX_LINE).read_line(&mut line),
    )
    .await
    .map_err(|_| "floor: no answer within 20 s".to_owned())?
    .map_err(|e| format!("floor read: {e}"))?;
    if n == 0 {
        return Err("floor: server closed".into());
    }
    Ok(line)
}

impl FloorIdle {
    /// Logs in, selects INBOX and enters IDLE.
    pub async fn start(host: &str, port: u16, user: &str, password: &str) -> Result<Self, String> {
        let tcp = TcpStream::connect((host, port))
            .await
            .map_err(|e| format!("floor connect: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let (r, mut w) = tcp.into_split();
        let mut r = BufReader::new(r);
        line_of(&mut r).await?;
        for (tag, cmd) in [
            ("f1", format!("LOGIN {user} {password}")),
            ("f2", "SELECT INBOX".to_owned()),
            ("f3", "IDLE".to_owned()),
        ] {
            w.write_all(format!("{tag} {cmd}\r\n").as_bytes())
                .await
                .map_err(|e| format!("floor write: {e}"))?;
            loop {
                let line = line_of(&mut r).await?;
                if tag == "f3" && line.starts_with('+') {
                    break;
                }
                if let Some(rest) = line.strip_prefix(tag).and_then(|l| l.strip_prefix(' ')) {
                    if rest.starts_with("OK") {
                        break;
                    }
                    return Err(format!("floor {cmd}: {}", rest.trim_end()));
                }
            }
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let reader = tokio::spawn(async move {
            while let Ok(line) = line_of_forever(&mut r).await {
                let at = Instant::now();
                if tx.send((at, classify(&line), line.len() as u64)).is_err() {
                    return;
                }
            }
        });
        Ok(FloorIdle { rx, _w: w, reader })
    }

    /// Discards what arrived so far; returns its bytes.
    pub fn drain(&mut self) -> u64 {
        let mut bytes = 0;
        while let Ok((_, _, n)) = self.rx.try_recv() {
            bytes += n;
        }
        bytes
    }

    /// The arrival of the first `want` line, within `within`, and the bytes of every line
    /// read up to it; `None` when none came.
    pub async fn wait(&mut self, want: Note, within: Duration) -> (Option<Instant>, u64) {
        let deadline = tokio::time::Instant::now() + within;
        let mut bytes = 0;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some((at, note, n))) => {
                    bytes += n;
                    if note == want {
                        return (Some(at), bytes);
                    }
                }
                Ok(None) | Err(_) => return (None, bytes),
            }
        }
    }
}

/// Reads lines without a deadline (IDLE waits as long as the server is quiet).
async fn line_of_forever(
    r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
) -> Result<String, String> {
    let mut line = String::new();
    let n = (&mut *r)
        .take(MAX_LINE)
        .read_line(&mut line)
        .await
        .map_err(|e| format!("floor read: {e}"))?;
    if n == 0 {
        return Err("floor: server closed".into());
    }
    Ok(line)
}
