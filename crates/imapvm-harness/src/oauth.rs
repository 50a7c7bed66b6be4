//! The OAuth 2 side of the private Dovecot: the token introspection endpoint its oauth2
//! passdb asks whether a token is valid (`xtask::dovecot::introspection_addr`), and the
//! tokens tests issue, revoke and count.
//!
//! The endpoint is a tiny HTTP/1.1 server on a thread of its own, started on first use and
//! alive for the whole test process (each `#[tokio::test]` has a runtime of its own, which
//! ends with the test). Dovecot `POST`s `token=...` (form-encoded); the answer is
//! `{"active":true,"username":USER}` for a token [`Tokens::issue`]d for USER and not
//! [`Tokens::revoke`]d, `{"active":false}` for anything else. It counts the questions per
//! token ([`Tokens::calls`]), so a test sees how often the server checked its token.
//! [`TokenScript`] is the token command a test names in `imapoauthcmd`.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use xtask::dovecot::OAUTH_USER;

/// Largest request read (headers and body).
const MAX_REQUEST: usize = 64 * 1024;

#[derive(Debug, Default)]
struct Token {
    user: String,
    active: bool,
    calls: u64,
}

/// The tokens the endpoint knows (a handle to the process-wide endpoint).
#[derive(Debug, Clone)]
pub struct Tokens(Arc<Mutex<HashMap<String, Token>>>);

/// The endpoint of the running private Dovecot, started on first use.
pub fn tokens() -> &'static Tokens {
    static TOKENS: OnceLock<Tokens> = OnceLock::new();
    TOKENS.get_or_init(|| {
        let info = crate::server();
        let addr = xtask::dovecot::introspection_addr(info).expect("the oauth2 passdb's port");
        let listener = TcpListener::bind(addr).unwrap_or_else(|e| {
            panic!("cannot serve the token introspection endpoint on {addr}: {e}")
        });
        let tokens = Tokens(Arc::default());
        let shared = tokens.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let tokens = shared.clone();
                std::thread::spawn(move || tokens.answer(stream));
            }
        });
        tokens
    })
}

impl Tokens {
    /// A fresh token, valid for `user` until revoked.
    pub fn issue(&self, user: &str) -> String {
        let token = crate::unique("tok").replace('-', "_");
        self.0.lock().unwrap().insert(
            token.clone(),
            Token {
                user: user.to_owned(),
                active: true,
                calls: 0,
            },
        );
        token
    }

    /// `token` is no longer valid (revoked, or expired at the identity provider).
    pub fn revoke(&self, token: &str) {
        if let Some(t) = self.0.lock().unwrap().get_mut(token) {
            t.active = false;
        }
    }

    /// How many times the server asked about `token`.
    pub fn calls(&self, token: &str) -> u64 {
        self.0.lock().unwrap().get(token).map_or(0, |t| t.calls)
    }

    /// The JSON answer for `token`, counting the question.
    fn verdict(&self, token: &str) -> String {
        let mut tokens = self.0.lock().unwrap();
        match tokens.get_mut(token) {
            Some(t) => {
                t.calls += 1;
                if t.active {
                    format!(r#"{{"active":true,"username":"{}"}}"#, t.user)
                } else {
                    r#"{"active":false}"#.to_owned()
                }
            }
            None => r#"{"active":false}"#.to_owned(),
        }
    }

    /// Reads one request from `stream` and answers it; closes the connection.
    fn answer(&self, mut stream: TcpStream) {
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let (status, body) = match read_request(&mut stream) {
            Some((path, body)) if path == xtask::dovecot::INTROSPECTION_PATH => {
                let token = form_field(&body, "token").unwrap_or_default();
                ("200 OK", self.verdict(&token))
            }
            Some(_) => ("404 Not Found", "{}".to_owned()),
            None => ("400 Bad Request", "{}".to_owned()),
        };
        let _ = write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    }
}

/// How a [`TokenScript`] prints a token.
#[derive(Debug, Clone, Copy)]
pub enum Prints {
    /// `{"access_token": ..., "token_type": "Bearer", "expires_in": N}`.
    Json {
        /// Seconds.
        expires_in: u64,
    },
    /// The token alone on a line.
    Plain,
    /// The token, then exit status 3.
    TokenThenFails,
}

/// A token command for `imapoauthcmd`: a Python script in a scratch directory that prints
/// the next of `tokens` at each run (in order; exit status 4 once they are used up), notes
/// every run, and checks that it serves [`OAUTH_USER`] (`IMAPVM_IMAPUSER`).
#[derive(Debug)]
pub struct TokenScript {
    dir: PathBuf,
    tokens: Vec<String>,
}

impl TokenScript {
    /// The script in a fresh `target/tmp/{area}/{name}-…` directory.
    pub fn new(area: &str, name: &str, tokens: Vec<String>, prints: Prints) -> TokenScript {
        let dir = crate::scratch_dir(area, name);
        std::fs::write(dir.join("tokens"), tokens.join("\n")).unwrap();
        let (print, exit) = match prints {
            Prints::Json { expires_in } => (
                format!(
                    r#"print(json.dumps({{"access_token": token, "token_type": "Bearer", "expires_in": {expires_in}}}))"#
                ),
                0,
            ),
            Prints::Plain => ("print(token)".to_owned(), 0),
            Prints::TokenThenFails => ("print(token)".to_owned(), 3),
        };
        let script = format!(
            r#"import json, os, pathlib, sys
here = pathlib.Path(__file__).parent
assert os.environ["IMAPVM_IMAPUSER"] == "{OAUTH_USER}", os.environ["IMAPVM_IMAPUSER"]
with open(here / "runs", "a") as f:
    f.write("run\n")
n = len((here / "runs").read_text().splitlines())
tokens = (here / "tokens").read_text().split()
if n > len(tokens):
    sys.exit(4)
token = tokens[n - 1]
{print}
sys.exit({exit})
"#
        );
        std::fs::write(dir.join("token.py"), script).unwrap();
        TokenScript { dir, tokens }
    }

    /// `imapoauthcmd`'s value.
    pub fn command(&self) -> String {
        format!("python3 {}", self.dir.join("token.py").display())
    }

    /// The tokens, in the order the script prints them.
    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }

    /// How many times the command ran.
    pub fn runs(&self) -> usize {
        std::fs::read_to_string(self.dir.join("runs"))
            .map(|t| t.lines().count())
            .unwrap_or(0)
    }

    /// Fails the test when `text` holds one of the tokens in any form it could leak in: the
    /// token, its base64, or the base64 of either SASL initial response (for the private
    /// Dovecot's host and ports).
    pub fn assert_absent(&self, text: &str) {
        let s = crate::server();
        for t in &self.tokens {
            let mut forms = vec![
                t.clone(),
                crate::base64(t.as_bytes()),
                crate::base64(format!("user={OAUTH_USER}\x01auth=Bearer {t}\x01\x01").as_bytes()),
            ];
            for port in [s.port, s.imaps_port] {
                forms.push(crate::base64(
                    format!(
                        "n,a={OAUTH_USER},\x01host={}\x01port={port}\x01auth=Bearer {t}\x01\x01",
                        s.host
                    )
                    .as_bytes(),
                ));
            }
            for form in forms {
                assert!(
                    !text.contains(&form),
                    "a token form ({} chars) appears in the text checked",
                    form.len()
                );
            }
        }
    }
}

/// The path and body of a `POST` (`None` for anything malformed or too large).
fn read_request(stream: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 || buf.len() > MAX_REQUEST {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut request_line = head.lines().next()?.split_whitespace();
    let (method, path) = (request_line.next()?, request_line.next()?);
    if method != "POST" {
        return None;
    }
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    if length > MAX_REQUEST {
        return None;
    }
    let mut body = buf[end..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    Some((path.to_owned(), body))
}

/// The value of `name` in a form-encoded body (`a=1&b=2`, `%XX` and `+` decoded).
fn form_field(body: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let value = text.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then_some(v)
    })?;
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 3 <= bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_fields_are_decoded() {
        assert_eq!(form_field(b"token=abc", "token").as_deref(), Some("abc"));
        assert_eq!(
            form_field(b"x=1&token=a%2Fb%3D+c", "token").as_deref(),
            Some("a/b= c")
        );
        assert_eq!(form_field(b"x=1", "token"), None);
    }
}
