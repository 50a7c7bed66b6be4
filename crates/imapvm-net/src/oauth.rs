//! `imapoauthcmd`: the operator's command that prints an OAuth 2 access token for an
//! account, run **without a shell**, and the token it printed, cached per account until it
//! expires or the server refuses it.
//!
//! **Running it.** The command line is split as `imapvm_config::CommandLine` says (shell-like
//! words and quotes, no shell). It runs with standard input from `/dev/null`, standard error
//! discarded, the runtime's environment plus `IMAPVM_IMAPUSER` (the box's `imapuser`) and
//! `IMAPVM_IMAPSERVER` (its `imapserver`), so one script can serve every box of `[general]`.
//! It must exit 0 within `imapopentimeout` (else it is killed) and print at most
//! [`MAX_OUTPUT`] bytes. A failure is a [`TokenCommandError`]; the runtime's error names the
//! command, never what it printed.
//!
//! **What it prints** on standard output, surrounding white space ignored:
//!
//! * the token alone, as `gcloud auth print-access-token`, `oama access`, `pizauth show` and
//!   `mutt_oauth2.py` print it: kept until the server refuses it; or
//! * a JSON object with `access_token` and, optionally, `expires_in` (seconds), the token
//!   endpoint's own answer (RFC 6749 §5.1), as `oauth2l fetch --output_format=json` prints
//!   it: kept until [`EXPIRY_MARGIN`] before it expires, counted from the start of the run.
//!
//! A token is visible ASCII (RFC 6750's `b64token`, every JWT). Tokens are
//! [`Secret`]s: never in logs, `Debug`, errors or traces [INV-6].
//!
//! **The cache.** [`TokenCommand`] is shared by every clone of an account, and a
//! store (the runtime's `imapvm::Store`) gives all its mailboxes on one account with one
//! command the same one (its `TokenCaches`): the pool's session and the watcher's log in with one run of the
//! command. A caller that needs a token while the command runs waits for that run. When the
//! server refuses a cached token, the session drops it, runs the command once more and
//! retries the login once (the runtime's `session.rs`); a freshly printed token that is refused is an
//! error.

use std::fmt;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use imapvm_config::CommandLine;
use imapvm_types::Secret;
use tokio::io::AsyncReadExt;

use crate::clock::SharedClock;

/// Most bytes the command may print.
pub const MAX_OUTPUT: u64 = 64 * 1024;

/// A token with an `expires_in` is not used this close to its expiry (a login must not race
/// it); one that expires sooner is used once and not kept.
pub const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

/// Why the command gave no token. Its output is never shown: it may hold the token.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum TokenCommandError {
    /// The program could not be started (not found, not executable).
    #[error("cannot be started: {0}")]
    Spawn(#[source] Arc<std::io::Error>),
    /// Its output could not be read.
    #[error("reading its output: {0}")]
    Read(#[source] Arc<std::io::Error>),
    /// It ran longer than `imapopentimeout` and was killed.
    #[error("did not finish within imapopentimeout ({0:?}) and was killed")]
    Timeout(Duration),
    /// It did not exit 0.
    #[error("{}", match .code { Some(code) => format!("exited with status {code}"), None => "was killed by a signal".to_owned() })]
    Exit {
        /// The exit status (`None`: killed by a signal).
        code: Option<i32>,
    },
    /// It printed more than [`MAX_OUTPUT`] bytes.
    #[error("printed more than {max} bytes")]
    TooMuchOutput {
        /// The limit.
        max: u64,
    },
    /// What it printed is not a token (the reason says which rule; the output is not shown).
    #[error("printed no usable token: {reason}")]
    BadOutput {
        /// Which rule the output broke.
        reason: &'static str,
    },
}

/// A token and when it stops being used.
#[derive(Clone)]
struct Cached {
    token: Secret,
    /// `None`: until the server refuses it.
    use_until: Option<Instant>,
}

impl Cached {
    fn usable_at(&self, now: Instant) -> bool {
        self.use_until.is_none_or(|until| now < until)
    }
}

/// Where a token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Kept from an earlier run.
    Cache,
    /// Printed by a run just now.
    Command,
}

/// An account's `imapoauthcmd` and the token it printed last, shared by clones.
#[derive(Clone)]
pub struct TokenCommand {
    command: CommandLine,
    cache: Arc<tokio::sync::Mutex<Option<Cached>>>,
}

impl fmt::Debug for TokenCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TokenCommand")
            .field(&self.command.as_str())
            .finish()
    }
}

/// Two token commands are equal when they run the same command (whatever they cached).
impl PartialEq for TokenCommand {
    fn eq(&self, other: &Self) -> bool {
        self.command == other.command
    }
}

impl Eq for TokenCommand {}

/// What the command learns about the login it serves (its environment).
#[derive(Debug, Clone, Copy)]
pub struct Login<'a> {
    /// `imapuser`.
    pub user: &'a str,
    /// `imapserver`.
    pub server: &'a str,
    /// `imapopentimeout`: the most the run may take.
    pub timeout: Duration,
}

impl TokenCommand {
    /// A command with nothing cached yet.
    pub fn new(command: CommandLine) -> TokenCommand {
        TokenCommand {
            command,
            cache: Arc::new(tokio::sync::Mutex::new(None)),
        }
    }

    /// The command line.
    pub fn command(&self) -> &CommandLine {
        &self.command
    }

    /// A token for `login`: the cached one while it is usable, else one printed by a run
    /// of the command now (then cached). Concurrent callers share one run.
    pub async fn token(
        &self,
        login: Login<'_>,
        clock: &SharedClock,
    ) -> Result<(Secret, Origin), TokenCommandError> {
        let mut cache = self.cache.lock().await;
        if let Some(cached) = cache.as_ref().filter(|c| c.usable_at(clock.now())) {
            return Ok((cached.token.clone(), Origin::Cache));
        }
        *cache = None;
        let started = clock.now();
        let output = run(&self.command, login).await?;
        let (token, expires_in) = parse_output(&output)?;
        let use_until = expires_in.map(|secs| {
            started
                .checked_add(secs.saturating_sub(EXPIRY_MARGIN))
                .unwrap_or(started)
        });
        tracing::debug!(command = %self.command, user = login.user, ?expires_in, "imapoauthcmd printed a token");
        *cache = Some(Cached {
            token: token.clone(),
            use_until,
        });
        Ok((token, Origin::Command))
    }

    /// The server refused `token`: it is not used again (unless the cache already holds a
    /// newer one, which stays).
    pub async fn refused(&self, token: &Secret) {
        let mut cache = self.cache.lock().await;
        if cache.as_ref().is_some_and(|c| c.token == *token) {
            *cache = None;
        }
    }
}

/// Runs `command` once for `login`; its standard output, bounded.
async fn run(command: &CommandLine, login: Login<'_>) -> Result<Vec<u8>, TokenCommandError> {
    let mut child = tokio::process::Command::new(command.program())
        .args(command.args())
        .env("IMAPVM_IMAPUSER", login.user)
        .env("IMAPVM_IMAPSERVER", login.server)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| TokenCommandError::Spawn(Arc::new(e)))?;
    let stdout = child.stdout.take();
    let finished = async {
        let mut output = Vec::new();
        if let Some(stdout) = stdout {
            stdout
                .take(MAX_OUTPUT + 1)
                .read_to_end(&mut output)
                .await
                .map_err(|e| TokenCommandError::Read(Arc::new(e)))?;
        }
        if output.len() as u64 > MAX_OUTPUT {
            return Err(TokenCommandError::TooMuchOutput { max: MAX_OUTPUT });
        }
        let status = child
            .wait()
            .await
            .map_err(|e| TokenCommandError::Read(Arc::new(e)))?;
        if status.success() {
            Ok(output)
        } else {
            Err(TokenCommandError::Exit {
                code: status.code(),
            })
        }
    };
    // Dropping the child on an error or the timeout kills it (`kill_on_drop`).
    tokio::time::timeout(login.timeout, finished)
        .await
        .unwrap_or(Err(TokenCommandError::Timeout(login.timeout)))
}

/// The token and its lifetime (`expires_in`) in what the command printed (see the module
/// docs). Errors name the rule, never the output.
pub fn parse_output(output: &[u8]) -> Result<(Secret, Option<Duration>), TokenCommandError> {
    let bad = |reason| TokenCommandError::BadOutput { reason };
    let text = output.trim_ascii();
    if text.is_empty() {
        return Err(bad("nothing on standard output"));
    }
    let (token, expires_in) = if text.starts_with(b"{") {
        let json: serde_json::Value = serde_json::from_slice(text)
            .map_err(|_| bad("it starts with `{` but is not a JSON object"))?;
        let token = json
            .get("access_token")
            .and_then(serde_json::Value::as_str)
            .ok_or(bad("the JSON object has no access_token string"))?;
        let expires_in = match json.get("expires_in") {
            None | Some(serde_json::Value::Null) => None,
            Some(value) => Some(
                value
                    .as_f64()
                    .filter(|secs| secs.is_finite() && *secs >= 0.0)
                    .map(|secs| Duration::from_secs_f64(secs.min(1e9)))
                    .ok_or(bad("expires_in is not a number of seconds"))?,
            ),
        };
        (token.to_owned(), expires_in)
    } else {
        let token = std::str::from_utf8(text).map_err(|_| bad("it is not text"))?;
        (token.to_owned(), None)
    };
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad(
            "the token is not one word of visible ASCII (print the token alone, or a JSON object with access_token)",
        ));
    }
    Ok((Secret::new(token), expires_in))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;

    fn login(timeout: Duration) -> Login<'static> {
        Login {
            user: "vm1234",
            server: "imap.example.com",
            timeout,
        }
    }

    fn command(line: &str) -> TokenCommand {
        TokenCommand::new(CommandLine::parse(line).unwrap())
    }

    #[test]
    fn a_plain_token_or_a_token_endpoint_answer_is_read() {
        let (token, expires) = parse_output(b"  ya29.a0AfB_byC-x~y/z+1=\n").unwrap();
        assert_eq!(token.expose(), "ya29.a0AfB_byC-x~y/z+1=");
        assert_eq!(expires, None);
        let (token, expires) = parse_output(
            br#"{"access_token":"eyJ0eXAi.eyJhdWQi.sig","token_type":"Bearer","expires_in":3599}"#,
        )
        .unwrap();
        assert_eq!(token.expose(), "eyJ0eXAi.eyJhdWQi.sig");
        assert_eq!(expires, Some(Duration::from_secs(3599)));
        let (_, expires) = parse_output(br#"{"access_token":"t","expires_in":null}"#).unwrap();
        assert_eq!(expires, None);
    }

    /// Every refusal names the rule broken and never the output (which may be a token).
    #[test]
    fn unusable_output_is_refused_without_being_shown() {
        for output in [
            &b""[..],
            b" \n ",
            b"two words-secretish",
            b"line-secretish\nline2",
            b"{not json secretish",
            br#"{"token":"secretish"}"#,
            br#"{"access_token":42}"#,
            br#"{"access_token":"secretish","expires_in":"soon"}"#,
            br#"{"access_token":"secretish","expires_in":-5}"#,
            br#"{"access_token":"secret ish"}"#,
            b"\xff\xfe-secretish",
        ] {
            let err = parse_output(output).unwrap_err();
            assert!(
                matches!(err, TokenCommandError::BadOutput { .. }),
                "{err:?}"
            );
            assert!(!err.to_string().contains("secret"), "{err}");
        }
    }

    #[tokio::test]
    async fn the_command_runs_without_a_shell_with_the_login_in_its_environment() {
        let clock = SystemClock::shared();
        // `$IMAPVM_IMAPUSER` is not expanded (no shell): the program sees it literally, and
        // reads the environment itself.
        let c = command(
            r#"python3 -c "import os,sys; print(sys.argv[1] + '-' + os.environ['IMAPVM_IMAPUSER'] + '@' + os.environ['IMAPVM_IMAPSERVER'])" $IMAPVM_IMAPUSER"#,
        );
        let (token, origin) = c
            .token(login(Duration::from_secs(20)), &clock)
            .await
            .unwrap();
        assert_eq!(token.expose(), "$IMAPVM_IMAPUSER-vm1234@imap.example.com");
        assert_eq!(origin, Origin::Command);
    }

    #[tokio::test]
    async fn failures_are_typed_and_never_carry_the_output() {
        let clock = SystemClock::shared();
        let l = login(Duration::from_secs(20));
        let err = command("python3 -c \"print('secretish'); raise SystemExit(3)\"")
            .token(l, &clock)
            .await
            .unwrap_err();
        assert!(
            matches!(err, TokenCommandError::Exit { code: Some(3) }),
            "{err:?}"
        );
        assert_eq!(err.to_string(), "exited with status 3");
        let err = command("/nonexistent/imapvm-token-tool")
            .token(l, &clock)
            .await
            .unwrap_err();
        assert!(matches!(err, TokenCommandError::Spawn(_)), "{err:?}");
        let err = command("python3 -c \"print('x' * 200000)\"")
            .token(l, &clock)
            .await
            .unwrap_err();
        assert!(
            matches!(err, TokenCommandError::TooMuchOutput { max: MAX_OUTPUT }),
            "{err:?}"
        );
        let started = std::time::Instant::now();
        let err = command("sleep 30")
            .token(login(Duration::from_millis(300)), &clock)
            .await
            .unwrap_err();
        assert!(matches!(err, TokenCommandError::Timeout(_)), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    /// A printed token is kept: the second caller gets it without a run; a refused one is
    /// dropped and the next caller runs the command again.
    #[tokio::test]
    async fn tokens_are_cached_until_refused() {
        let clock = SystemClock::shared();
        let dir = std::env::temp_dir().join(format!("imapvm-oauth-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let runs = dir.join("runs");
        let _ = std::fs::remove_file(&runs);
        let c = command(&format!(
            "python3 -c \"import sys; f=open(sys.argv[1],'a'); f.write('x'); f.close(); print('tok' + str(len(open(sys.argv[1]).read())))\" {}",
            runs.display()
        ));
        let l = login(Duration::from_secs(20));
        let (first, origin) = c.token(l, &clock).await.unwrap();
        assert_eq!((first.expose(), origin), ("tok1", Origin::Command));
        let shared = c.clone();
        let (again, origin) = shared.token(l, &clock).await.unwrap();
        assert_eq!((again.expose(), origin), ("tok1", Origin::Cache));
        c.refused(&Secret::new("some-other-token")).await;
        assert_eq!(c.token(l, &clock).await.unwrap().1, Origin::Cache);
        shared.refused(&first).await;
        let (fresh, origin) = c.token(l, &clock).await.unwrap();
        assert_eq!((fresh.expose(), origin), ("tok2", Origin::Command));
        assert_eq!(std::fs::read_to_string(&runs).unwrap(), "xx");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// `expires_in` counts from the start of the run, less the margin; paused time moves
    /// past it and the command runs again.
    #[tokio::test]
    async fn a_token_with_expires_in_is_used_until_the_margin_before_it_expires() {
        let clock = SystemClock::shared();
        let c = command(r#"echo '{"access_token":"tok","expires_in":3600}'"#);
        let l = login(Duration::from_secs(20));
        assert_eq!(c.token(l, &clock).await.unwrap().1, Origin::Command);
        tokio::time::pause();
        tokio::time::advance(Duration::from_secs(3600) - EXPIRY_MARGIN - Duration::from_secs(5))
            .await;
        assert_eq!(c.token(l, &clock).await.unwrap().1, Origin::Cache);
        tokio::time::advance(Duration::from_secs(10)).await;
        tokio::time::resume();
        assert_eq!(c.token(l, &clock).await.unwrap().1, Origin::Command);
        // One that expires within the margin is used once and not kept.
        let short = command(r#"echo '{"access_token":"tok","expires_in":30}'"#);
        assert_eq!(short.token(l, &clock).await.unwrap().1, Origin::Command);
        assert_eq!(short.token(l, &clock).await.unwrap().1, Origin::Command);
    }

    #[test]
    fn debug_shows_the_command_and_never_a_token() {
        let c = command("gcloud auth print-access-token");
        assert_eq!(
            format!("{c:?}"),
            "TokenCommand(\"gcloud auth print-access-token\")"
        );
    }
}
