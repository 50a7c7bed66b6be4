//! A plain-text TCP proxy that hides the server's `QUOTA` capability from the runtime (so
//! admission cannot refuse first and the server's own over-quota answer is what the runtime
//! meets) and records the server's lines, to show that answer in the compatibility table.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// Most server lines kept (each cut at [`MAX_LINE`] bytes).
const MAX_LINES: usize = 10_000;
/// Longest recorded line.
const MAX_LINE: usize = 400;

/// The proxy (it runs until the test's runtime ends).
#[derive(Clone)]
pub struct QuotaProxy {
    /// Its port on 127.0.0.1.
    pub port: u16,
    lines: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl QuotaProxy {
    /// A proxy to `host:port`.
    pub async fn start(host: &str, port: u16) -> QuotaProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let local = listener.local_addr().unwrap().port();
        let lines: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
        let target = format!("{host}:{port}");
        let log = Arc::clone(&lines);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(&target).await else {
                    continue;
                };
                let log = Arc::clone(&log);
                tokio::spawn(async move {
                    let (mut client_r, mut client_w) = client.into_split();
                    let (server_r, mut server_w) = server.into_split();
                    let up = tokio::spawn(async move {
                        let _ = tokio::io::copy(&mut client_r, &mut server_w).await;
                        let _ = server_w.shutdown().await;
                    });
                    let mut server_r = BufReader::new(server_r);
                    let mut line = Vec::new();
                    loop {
                        line.clear();
                        match server_r.read_until(b'\n', &mut line).await {
                            Ok(0) | Err(_) => break,
                            Ok(_) => {}
                        }
                        let out = hide_quota(&line);
                        {
                            let mut l = log.lock().unwrap();
                            if l.len() < MAX_LINES {
                                l.push(out[..out.len().min(MAX_LINE)].to_vec());
                            }
                        }
                        if client_w.write_all(&out).await.is_err() {
                            break;
                        }
                    }
                    let _ = client_w.shutdown().await;
                    up.abort();
                });
            }
        });
        QuotaProxy { port: local, lines }
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
