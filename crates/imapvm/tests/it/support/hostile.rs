//! A small hostile IMAP server (plain TCP on 127.0.0.1, or TLS with a given certificate):
//! it behaves well enough to log in and select, then does one nasty thing.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

/// The nasty thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nasty {
    /// Nothing: a well-behaved server (for TLS tests).
    None,
    /// An untagged line of 8 MiB (no CRLF for a long time) in answer to UID SEARCH.
    HugeLine,
    /// A FETCH literal announced as 4 GiB.
    HugeLiteral,
    /// A BODYSTRUCTURE nested 100,000 deep.
    DeepBodystructure,
    /// Tagged answers with a tag that was never sent.
    WrongTags,
    /// `* 99999 EXPUNGE` and `* 0 EXPUNGE` for messages that do not exist.
    PhantomExpunge,
    /// `* OK [UIDVALIDITY n]` with a new value in the middle of the session.
    UidValidityChange,
    /// Bytes that are not UTF-8 in untagged responses and header values.
    InvalidUtf8,
    /// NUL bytes in responses and header values.
    NulBytes,
    /// `* BYE` and a closed socket when the APPEND arrives.
    ByeDuringAppend,
    /// Accepts TCP and never greets.
    NeverGreets,
    /// Stops in the middle of the SELECT answer (socket stays open).
    StopsMidResponse,
    /// No LITERAL+; never sends `+` to the APPEND's synchronizing literal.
    NeverContinues,
    /// `LOGINDISABLED`, no SASL PLAIN.
    LoginDisabled,
    /// No LITERAL+; the APPEND gets `NO [OVERQUOTA]` instead of `+` (Dovecot's way).
    OverQuotaBeforeContinuation,
    /// The APPEND gets Cyrus's plain `NO Over quota`.
    CyrusOverQuota,
    /// The APPEND gets Courier's `NO [ALERT] ...`.
    CourierOverQuota,
}

/// Everything the hostile server received (lines, literal contents elided).
pub type Seen = Arc<Mutex<Vec<String>>>;

/// A hostile server on 127.0.0.1; returns its port and what it received.
pub async fn start(nasty: Nasty) -> (u16, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Seen = Arc::default();
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            tokio::spawn(session(sock, nasty, Arc::clone(&log)));
        }
    });
    (port, seen)
}

/// Like [`start`], with implicit TLS using `config` (certificate tests).
pub async fn start_tls(config: Arc<rustls::ServerConfig>) -> (u16, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Seen = Arc::default();
    let log = Arc::clone(&seen);
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let (acceptor, log) = (acceptor.clone(), Arc::clone(&log));
            tokio::spawn(async move {
                match acceptor.accept(sock).await {
                    Ok(tls) => session(tls, Nasty::None, log).await,
                    Err(e) => log.lock().unwrap().push(format!("TLS refused: {e}")),
                }
            });
        }
    });
    (port, seen)
}

const CAPS: &str = "IMAP4rev1 AUTH=PLAIN SASL-IR NAMESPACE UIDPLUS LITERAL+";

/// A header block of box 1234@default (the identity the runtime filters on).
fn header_block(uid: u32, extra: &[u8]) -> Vec<u8> {
    let mut h = format!(
        "X-Asterisk-VM-Extension: 1234\r\nX-Asterisk-VM-Context: default\r\n\
         X-Asterisk-VM-Message-Type: Message\r\nX-Asterisk-VM-Message-ID: hostile-{uid}\r\n"
    )
    .into_bytes();
    h.extend_from_slice(extra);
    h.extend_from_slice(b"\r\n");
    h
}

async fn read_line<S: AsyncRead + Unpin>(s: &mut S, max: usize) -> Option<Vec<u8>> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match s.read(&mut byte).await {
            Ok(1) => {
                line.push(byte[0]);
                if line.ends_with(b"\r\n") {
                    return Some(line);
                }
                if line.len() > max {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

/// `{N}` / `{N+}` at the end of a line: (N, synchronizing).
fn literal_at_end(line: &[u8]) -> Option<(usize, bool)> {
    let text = std::str::from_utf8(line).ok()?.trim_end();
    let open = text.rfind('{')?;
    let inner = text[open + 1..].strip_suffix('}')?;
    let (digits, sync) = match inner.strip_suffix('+') {
        Some(d) => (d, false),
        None => (inner, true),
    };
    Some((digits.parse().ok()?, sync))
}

async fn session<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, nasty: Nasty, seen: Seen) {
    if nasty == Nasty::NeverGreets {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        return;
    }
    let caps = match nasty {
        Nasty::NeverContinues | Nasty::OverQuotaBeforeContinuation => {
            "IMAP4rev1 AUTH=PLAIN SASL-IR NAMESPACE UIDPLUS"
        }
        Nasty::LoginDisabled => "IMAP4rev1 LOGINDISABLED NAMESPACE",
        _ => CAPS,
    };
    let greeting = format!("* OK [CAPABILITY {caps}] hostile server ready\r\n");
    if s.write_all(greeting.as_bytes()).await.is_err() {
        return;
    }
    let mut uid_validity = 7u32;
    let mut selects = 0u32;
    loop {
        let Some(mut line) = read_line(&mut s, 1 << 20).await else {
            return;
        };
        // Read literals that continue the command.
        while let Some((n, sync)) = literal_at_end(&line) {
            if sync && nasty == Nasty::OverQuotaBeforeContinuation {
                let text = String::from_utf8_lossy(&line).into_owned();
                seen.lock().unwrap().push(text.trim_end().to_owned());
                let tag = text.split(' ').next().unwrap_or("*").to_owned();
                let no =
                    format!("{tag} NO [OVERQUOTA] Quota exceeded (mailbox for user is full)\r\n");
                if s.write_all(no.as_bytes()).await.is_err() {
                    return;
                }
                break;
            }
            if sync {
                if nasty == Nasty::NeverContinues {
                    seen.lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&line).into_owned());
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    return;
                }
                if s.write_all(b"+ go ahead\r\n").await.is_err() {
                    return;
                }
            }
            let mut lit = vec![0u8; n.min(64 << 20)];
            if s.read_exact(&mut lit).await.is_err() {
                return;
            }
            line.truncate(line.len().saturating_sub(2));
            line.extend_from_slice(format!(" <{n} bytes>").as_bytes());
            let Some(rest) = read_line(&mut s, 1 << 20).await else {
                return;
            };
            line.extend_from_slice(&rest);
        }
        let text = String::from_utf8_lossy(&line).trim_end().to_owned();
        seen.lock().unwrap().push(text.clone());
        let (tag, rest) = text.split_once(' ').unwrap_or((&text, ""));
        let upper = rest.to_ascii_uppercase();
        let tag = if nasty == Nasty::WrongTags && selects > 0 {
            "ZZZ999"
        } else {
            tag
        };
        let mut out: Vec<u8> = Vec::new();
        if upper.starts_with("CAPABILITY") {
            out.extend_from_slice(format!("* CAPABILITY {caps}\r\n{tag} OK done\r\n").as_bytes());
        } else if upper.starts_with("AUTHENTICATE PLAIN") {
            if !rest.trim_end().contains(' ') || rest.split(' ').count() < 3 {
                // No initial response: ask for it.
                if s.write_all(b"+ \r\n").await.is_err() {
                    return;
                }
                let _ = read_line(&mut s, 4096).await;
            }
            out.extend_from_slice(format!("{tag} OK [CAPABILITY {caps}] logged in\r\n").as_bytes());
        } else if upper.starts_with("LOGIN") {
            out.extend_from_slice(format!("{tag} OK [CAPABILITY {caps}] logged in\r\n").as_bytes());
        } else if upper.starts_with("NAMESPACE") {
            out.extend_from_slice(
                format!("* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n{tag} OK done\r\n").as_bytes(),
            );
        } else if upper.starts_with("SELECT") || upper.starts_with("EXAMINE") {
            selects += 1;
            if nasty == Nasty::StopsMidResponse {
                let _ = s.write_all(b"* 3 EXI").await;
                tokio::time::sleep(Duration::from_secs(3600)).await;
                return;
            }
            out.extend_from_slice(
                format!(
                    "* 3 EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY {uid_validity}] v\r\n\
                     * OK [UIDNEXT 4] n\r\n* FLAGS (\\Seen \\Deleted \\Flagged)\r\n\
                     {tag} OK [READ-WRITE] selected\r\n"
                )
                .as_bytes(),
            );
        } else if upper.starts_with("UID SEARCH") {
            match nasty {
                Nasty::HugeLine => {
                    // 8 MiB before the line ends.
                    let _ = s.write_all(b"* SEARCH").await;
                    let chunk = b" 1".repeat(64 * 1024);
                    for _ in 0..64 {
                        if s.write_all(&chunk).await.is_err() {
                            return;
                        }
                    }
                    out.extend_from_slice(b"\r\n");
                }
                Nasty::PhantomExpunge => out.extend_from_slice(
                    b"* 99999 EXPUNGE\r\n* 0 EXPUNGE\r\n* 4294967295 EXPUNGE\r\n",
                ),
                Nasty::UidValidityChange => {
                    uid_validity += 1;
                    out.extend_from_slice(
                        format!("* OK [UIDVALIDITY {uid_validity}] changed\r\n").as_bytes(),
                    );
                }
                Nasty::InvalidUtf8 => out
                    .extend_from_slice(b"* OK [ALERT] \xff\xfe\xc0\xaf bad\r\n* BAD \xc3\x28\r\n"),
                Nasty::NulBytes => out.extend_from_slice(b"* OK hello\0\0world\r\n"),
                _ => {}
            }
            out.extend_from_slice(format!("* SEARCH 1 2 3\r\n{tag} OK done\r\n").as_bytes());
        } else if upper.starts_with("UID FETCH") {
            for uid in 1..=3u32 {
                let extra: &[u8] = match nasty {
                    Nasty::InvalidUtf8 => b"X-Asterisk-VM-Caller-ID-Name: \xff\xfe\xc0\r\n",
                    Nasty::NulBytes => b"X-Asterisk-VM-Caller-ID-Name: a\0b\r\n",
                    _ => b"",
                };
                let h = header_block(uid, extra);
                if nasty == Nasty::HugeLiteral && uid == 1 {
                    out.extend_from_slice(
                        b"* 1 FETCH (UID 1 FLAGS () BODY[HEADER.FIELDS (X-Asterisk-VM-Extension)] {4294967296}\r\n",
                    );
                    out.extend_from_slice(&[b'x'; 4096]);
                    break;
                }
                if nasty == Nasty::DeepBodystructure && uid == 1 {
                    out.extend_from_slice(b"* 1 FETCH (UID 1 BODYSTRUCTURE ");
                    out.extend(std::iter::repeat_n(b'(', 100_000));
                    out.extend_from_slice(b"\"text\" \"plain\" NIL NIL NIL \"7bit\" 1");
                    out.extend(std::iter::repeat_n(b')', 100_000));
                    out.extend_from_slice(b")\r\n");
                }
                out.extend_from_slice(
                    format!(
                        "* {uid} FETCH (UID {uid} FLAGS () RFC822.SIZE 100 BODY[HEADER.FIELDS (X)] {{{}}}\r\n",
                        h.len()
                    )
                    .as_bytes(),
                );
                out.extend_from_slice(&h);
                out.extend_from_slice(b")\r\n");
            }
            out.extend_from_slice(format!("{tag} OK done\r\n").as_bytes());
        } else if upper.starts_with("APPEND") && nasty == Nasty::OverQuotaBeforeContinuation {
            // Refused before the literal (above): nothing more to answer.
            continue;
        } else if upper.starts_with("APPEND") && nasty == Nasty::CyrusOverQuota {
            out.extend_from_slice(format!("{tag} NO Over quota\r\n").as_bytes());
        } else if upper.starts_with("APPEND") && nasty == Nasty::CourierOverQuota {
            out.extend_from_slice(format!("{tag} NO [ALERT] Mail quota exceeded.\r\n").as_bytes());
        } else if upper.starts_with("APPEND") {
            if nasty == Nasty::ByeDuringAppend {
                let _ = s.write_all(b"* BYE going away now\r\n").await;
                let _ = s.shutdown().await;
                return;
            }
            out.extend_from_slice(
                format!("{tag} OK [APPENDUID {uid_validity} 4] done\r\n").as_bytes(),
            );
        } else if upper.starts_with("LOGOUT") {
            let _ = s
                .write_all(format!("* BYE bye\r\n{tag} OK done\r\n").as_bytes())
                .await;
            return;
        } else if upper.starts_with("GETQUOTAROOT") {
            out.extend_from_slice(
                format!("* QUOTAROOT INBOX \"\"\r\n{tag} OK done\r\n").as_bytes(),
            );
        } else {
            out.extend_from_slice(format!("{tag} OK done\r\n").as_bytes());
        }
        if s.write_all(&out).await.is_err() {
            return;
        }
    }
}
