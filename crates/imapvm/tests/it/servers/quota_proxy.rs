//! A plain-text TCP proxy that hides the server's `QUOTA` capability from the runtime (so
//! admission cannot refuse first and the server's own over-quota answer is what the runtime
//! meets) and records the server's lines, to show that answer in the compatibility table:
//! the testkit's proxy with a tap that works on whole lines from the server.

use std::sync::{Arc, Mutex};

use imapvm_testkit::proxy::{Dir, Pass, Proxy, Tap};

/// Most server lines kept (each cut at [`MAX_LINE`] bytes).
const MAX_LINES: usize = 10_000;
/// Longest recorded line.
const MAX_LINE: usize = 400;

/// The proxy (it stops when the last clone is dropped).
#[derive(Clone)]
pub struct QuotaProxy {
    /// Its port on 127.0.0.1.
    pub port: u16,
    _proxy: Proxy,
    lines: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl QuotaProxy {
    /// A proxy to `host:port`.
    pub async fn start(host: &str, port: u16) -> QuotaProxy {
        let lines: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
        let log = Arc::clone(&lines);
        let proxy = Proxy::to(host, port)
            .tap(move || HideQuota {
                partial: Vec::new(),
                log: Arc::clone(&log),
            })
            .await
            .unwrap();
        QuotaProxy {
            port: proxy.port(),
            _proxy: proxy,
            lines,
        }
    }

    /// Forgets what was recorded so far.
    pub fn mark(&self) {
        self.lines.lock().unwrap().clear();
    }

    /// The server's lines since the last [`QuotaProxy::mark`] (as forwarded).
    pub fn lines(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .map(|l| String::from_utf8_lossy(l).trim_end().to_owned())
            .collect()
    }
}

/// One connection's tap: the client's bytes as they come; the server's in whole lines, each
/// through [`hide_quota`] and recorded.
struct HideQuota {
    /// The server's partial last line.
    partial: Vec<u8>,
    log: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl HideQuota {
    fn forward(&mut self, line: &[u8], out: &mut Vec<u8>) {
        let line = hide_quota(line);
        let mut l = self.log.lock().unwrap();
        if l.len() < MAX_LINES {
            l.push(line[..line.len().min(MAX_LINE)].to_vec());
        }
        out.extend_from_slice(&line);
    }
}

impl Tap for HideQuota {
    fn chunk(&mut self, dir: Dir, bytes: &[u8]) -> Pass {
        if dir == Dir::Up {
            return Pass::forward(bytes);
        }
        self.partial.extend_from_slice(bytes);
        let mut out = Vec::with_capacity(self.partial.len());
        while let Some(end) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=end).collect();
            self.forward(&line, &mut out);
        }
        Pass::forward(out)
    }

    fn end(&mut self, dir: Dir) -> Vec<u8> {
        let mut out = Vec::new();
        if dir == Dir::Down && !self.partial.is_empty() {
            let last = std::mem::take(&mut self.partial);
            self.forward(&last, &mut out);
        }
        out
    }
}

/// A capability line with every `QUOTA…` atom renamed `X-HIDDEN-QUOTA…`; other lines as
/// they are.
fn hide_quota(line: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(line);
    if !line.is_ascii() || !(text.starts_with("* CAPABILITY") || text.contains("[CAPABILITY ")) {
        return line.to_vec();
    }
    let mut out = String::with_capacity(text.len() + 32);
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let bare = word.trim_start_matches('[');
        if bare.len() >= 5 && bare[..5].eq_ignore_ascii_case("QUOTA") {
            out.push_str(&word[..word.len() - bare.len()]);
            out.push_str("X-HIDDEN-");
            out.push_str(bare);
        } else {
            out.push_str(word);
        }
    }
    out.into_bytes()
}

#[test]
fn only_quota_atoms_of_capability_lines_are_renamed() {
    assert_eq!(
        hide_quota(b"* CAPABILITY IMAP4rev1 QUOTA QUOTA=RES-STORAGE IDLE\r\n"),
        b"* CAPABILITY IMAP4rev1 X-HIDDEN-QUOTA X-HIDDEN-QUOTA=RES-STORAGE IDLE\r\n"
    );
    assert_eq!(
        hide_quota(b"a1 OK [CAPABILITY IMAP4rev1 SORT QUOTA] Logged in\r\n"),
        b"a1 OK [CAPABILITY IMAP4rev1 SORT X-HIDDEN-QUOTA] Logged in\r\n"
    );
    assert_eq!(
        hide_quota(b"* NO [OVERQUOTA] QUOTA exceeded\r\n"),
        b"* NO [OVERQUOTA] QUOTA exceeded\r\n"
    );
}
