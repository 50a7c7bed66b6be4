//! A scripted Asterisk 22 `res_agi` for FastAGI tests: it plays the Asterisk side of one call
//! the way `res/res_agi.c` does (`docs/reference/asterisk-voicemail-ivr.md` §4 and the
//! exchanges recorded from Asterisk 22.10.1 in `docs/reference/asterisk-peer.md`), with a
//! scripted phone on the other end.
//!
//! * It connects to the FastAGI server and sends the `agi_*` environment, LF only.
//! * It answers each command as Asterisk does (`200 result=… endpos=…`, `510`, the multi-line
//!   `520`, `511` on a dead channel, `HANGUP` lines after a hangup), one command at a time; a
//!   second line before the answer is a protocol fault and is reported.
//! * `STREAM FILE` and friends must name a file that exists: a sound name in the installed
//!   sound pack (`/usr/share/asterisk/sounds/en`), or an absolute path with an audio extension.
//!   A missing one answers `result=-1 endpos=0`, as Asterisk does, and is reported as a problem.
//! * `RECORD FILE` writes a real 8 kHz 16-bit WAV (a tone; each call's tone carries its own
//!   marker so recordings cannot be confused), with Asterisk's 200 ms rewind on DTMF.
//! * The phone presses keys only while the server waits for input: during a prompt whose escape
//!   digits take the key, a `WAIT FOR DIGIT`, or a recording. A key pressed during a prompt that
//!   does not take it is lost, as in Asterisk.
//! * It hangs up when its script says so, or after its last step (as `drive.py`'s phone does).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Where Debian's `asterisk-core-sounds-en-wav` installs the prompts.
pub const SOUNDS: &str = "/usr/share/asterisk/sounds/en";

/// One step of the phone's script.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Press `key` while a prompt whose name contains `prompt` plays. If the command playing it
    /// does not take the key, the key is lost (Asterisk discards it) and the prompt plays out.
    During {
        /// Part of the prompt's name (`vm-intro`, or a path fragment).
        prompt: String,
        /// The key.
        key: char,
    },
    /// Press `key` at the next `WAIT FOR DIGIT` (or `GET DATA`).
    Key(char),
    /// Let the next `WAIT FOR DIGIT` time out.
    Silence,
    /// Speak for `secs` seconds into the next `RECORD FILE`, then end it as `end` says.
    Speak {
        /// Seconds of voice.
        secs: f64,
        /// How the recording ends.
        end: RecordEnd,
    },
    /// Hang up during the next command.
    Hangup,
}

/// How the phone ends a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordEnd {
    /// A key (Asterisk answers `(dtmf)` if the command takes it; else it is lost and the
    /// recording runs to its timeout).
    Key(char),
    /// The caller goes quiet: the silence detector ends it (`s=N`), or else the timeout.
    Silence,
    /// The caller talks until the timeout.
    MaxLength,
    /// The caller hangs up.
    Hangup,
    /// The recording is written, and then Asterisk never answers (the server under test is
    /// to be killed meanwhile): the peer waits for the connection to close.
    Stall,
}

/// One call to set up.
#[derive(Debug, Clone)]
pub struct Call {
    /// `agi_network_script` (`voicemail`, `voicemailmain`, with its `?query` if any).
    pub script: String,
    /// `agi_arg_1`…
    pub args: Vec<String>,
    /// Caller id number (`None`: Asterisk sends `unknown`).
    pub caller_num: Option<String>,
    /// Caller id name.
    pub caller_name: Option<String>,
    /// The dialplan context the AGI runs in.
    pub context: String,
    /// Extensions that exist (`(context, exten)`), for `DIALPLAN_EXISTS`.
    pub dialplan: Vec<(String, String)>,
    /// The phone's script.
    pub phone: Vec<Step>,
    /// The sound pack directory.
    pub sounds: PathBuf,
    /// `AGISIGHUP`: send `HANGUP` lines (Asterisk's default: yes).
    pub sighup: bool,
    /// How long the server may stay silent before the peer gives up (a hang is a failure).
    pub patience: Duration,
    /// A marker mixed into every recording of this call.
    pub marker: u16,
}

impl Call {
    /// `VoiceMail(args)` over FastAGI with Asterisk's defaults.
    pub fn voicemail(args: &[&str]) -> Call {
        Call::new("voicemail", args)
    }

    /// `VoiceMailMain(args)` over FastAGI.
    pub fn voicemail_main(args: &[&str]) -> Call {
        Call::new("voicemailmain", args)
    }

    fn new(script: &str, args: &[&str]) -> Call {
        Call {
            script: script.into(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            caller_num: Some("5551001".into()),
            caller_name: Some("Alice Example".into()),
            context: "vm-uut".into(),
            dialplan: Vec::new(),
            phone: Vec::new(),
            sounds: PathBuf::from(SOUNDS),
            sighup: true,
            patience: Duration::from_secs(20),
            marker: 1,
        }
    }

    /// The phone's script.
    pub fn phone(mut self, steps: impl IntoIterator<Item = Step>) -> Call {
        self.phone = steps.into_iter().collect();
        self
    }

    /// Extension `exten` exists in `context`.
    pub fn with_extension(mut self, context: &str, exten: &str) -> Call {
        self.dialplan.push((context.into(), exten.into()));
        self
    }
}

/// What happened on the Asterisk side.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Every file played, in order (sound names as given; `SAY` commands as `say:…`).
    pub prompts: Vec<String>,
    /// Channel variables set (`VMSTATUS`, …).
    pub variables: BTreeMap<String, String>,
    /// Where the dialplan continues (`SET CONTEXT`/`EXTENSION`/`PRIORITY`).
    pub goto: (Option<String>, Option<String>, Option<String>),
    /// Recordings written: path and seconds.
    pub recordings: Vec<(PathBuf, f64)>,
    /// Every line, `>` sent by Asterisk, `<` from the server.
    pub transcript: Vec<String>,
    /// When each line of [`Outcome::transcript`] was read or written (for benchmarks: the
    /// time from an answer to the server's next command).
    pub times: Vec<std::time::Instant>,
    /// What the server did that Asterisk would not accept or that the script did not expect.
    pub problems: Vec<String>,
    /// Whether the channel was hung up.
    pub hung_up: bool,
    /// Whether the peer stalled on purpose ([`RecordEnd::Stall`]) until the server closed.
    pub stalled: bool,
}

/// Places the call on the FastAGI server at `addr` and plays it to the end.
pub async fn place(addr: std::net::SocketAddr, call: Call) -> Outcome {
    let mut out = Outcome::default();
    let stream = match TcpStream::connect(addr).await {
        Ok(s) => s,
        Err(e) => {
            out.problems.push(format!("connect: {e}"));
            return out;
        }
    };
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let env = environment(&call);
    if let Err(e) = write.write_all(env.as_bytes()).await {
        out.problems.push(format!("sending the environment: {e}"));
        return out;
    }
    let mut peer = Peer {
        call,
        out,
        alive: true,
        step: 0,
    };
    loop {
        let mut line = Vec::new();
        let read =
            tokio::time::timeout(peer.call.patience, lines.read_until(b'\n', &mut line)).await;
        match read {
            Err(_) => {
                peer.out.problems.push(format!(
                    "the server sent nothing for {:?} (after {:?})",
                    peer.call.patience,
                    peer.out.transcript.last()
                ));
                break;
            }
            Ok(Err(e)) => {
                peer.out.problems.push(format!("reading: {e}"));
                break;
            }
            Ok(Ok(0)) => break,
            Ok(Ok(_)) => {}
        }
        if line.last() != Some(&b'\n') {
            peer.out.problems.push("the last command has no LF".into());
            break;
        }
        line.pop();
        let text = String::from_utf8_lossy(&line).into_owned();
        peer.out.transcript.push(format!("< {text}"));
        peer.out.times.push(std::time::Instant::now());
        let replies = peer.answer(&text);
        if peer.out.stalled {
            // Say nothing more; wait until the server goes away.
            let mut rest = Vec::new();
            let _ =
                tokio::time::timeout(peer.call.patience * 6, lines.read_until(b'\n', &mut rest))
                    .await;
            break;
        }
        for r in replies {
            peer.out.transcript.push(format!("> {r}"));
            peer.out.times.push(std::time::Instant::now());
            if write.write_all(format!("{r}\n").as_bytes()).await.is_err() {
                break;
            }
        }
    }
    // The server closed (or we gave up): Asterisk sends HANGUP once more and closes.
    if peer.call.sighup {
        let _ = write.write_all(b"HANGUP\n").await;
    }
    let _ = write.shutdown().await;
    peer.out
}

fn environment(call: &Call) -> String {
    let unknown = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".into());
    let mut env: Vec<(String, String)> = [
        ("network", "yes".to_owned()),
        ("network_script", call.script.clone()),
        ("request", format!("agi://127.0.0.1/{}", call.script)),
        ("channel", "Local/1234@vm-uut-00000001;2".into()),
        ("language", "en".into()),
        ("type", "Local".into()),
        ("uniqueid", "1796587381.8252".into()),
        ("version", "22.10.1".into()),
        ("callerid", unknown(&call.caller_num)),
        ("calleridname", unknown(&call.caller_name)),
        ("callingpres", "0".into()),
        ("callingani2", "0".into()),
        ("callington", "0".into()),
        ("callingtns", "0".into()),
        ("dnid", "unknown".into()),
        ("rdnis", "unknown".into()),
        ("context", call.context.clone()),
        ("extension", "1234".into()),
        ("priority", "2".into()),
        ("enhanced", "0.0".into()),
        ("accountcode", String::new()),
        ("threadid", "140085402068672".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for (i, a) in call.args.iter().enumerate() {
        env.push((format!("arg_{}", i + 1), a.clone()));
    }
    let mut s = String::new();
    for (k, v) in env {
        s.push_str(&format!("agi_{k}: {v}\n"));
    }
    s.push('\n');
    s
}

struct Peer {
    call: Call,
    out: Outcome,
    alive: bool,
    step: usize,
}

/// res_agi's `parse_args`: space/tab separated, `"` groups, backslash escapes.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut quoted, mut escaped, mut any) = (false, false, false);
    for c in line.chars() {
        if escaped {
            cur.push(c);
            escaped = false;
            any = true;
        } else if c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
            any = true;
        } else if (c == ' ' || c == '\t') && !quoted {
            if any {
                out.push(std::mem::take(&mut cur));
                any = false;
            }
        } else {
            cur.push(c);
            any = true;
        }
    }
    if any {
        out.push(cur);
    }
    out
}

fn ascii(key: char) -> u32 {
    key as u32
}

impl Peer {
    fn current(&self) -> Option<&Step> {
        self.call.phone.get(self.step)
    }

    fn next(&mut self) {
        self.step += 1;
    }

    fn problem(&mut self, p: String) {
        self.out.problems.push(p);
    }

    fn hang_up(&mut self) {
        self.alive = false;
        self.out.hung_up = true;
    }

    fn answer(&mut self, line: &str) -> Vec<String> {
        if line.contains('\r') {
            self.problem(format!(
                "a CR in the command line {line:?}: Asterisk keeps it as data"
            ));
        }
        let w = words(line);
        let upper: Vec<String> = w.iter().take(3).map(|s| s.to_ascii_uppercase()).collect();
        let cmd = |n: usize| upper.get(..n).map(|s| s.join(" "));
        let dead_ok = matches!(
            upper.first().map(String::as_str),
            Some("SET" | "GET" | "NOOP" | "VERBOSE" | "EXEC")
        ) && !matches!(
            cmd(2).as_deref(),
            Some("SET CONTEXT" | "SET EXTENSION" | "SET PRIORITY")
        );
        if !self.alive && !dead_ok {
            return vec!["511 Command Not Permitted on a dead channel or intercept routine".into()];
        }
        let usage = |text: &str| {
            vec![
                "520-Invalid command syntax.  Proper usage follows:".to_owned(),
                text.to_owned(),
                "520 End of proper usage.".to_owned(),
            ]
        };
        match (cmd(2).as_deref(), cmd(3).as_deref(), cmd(1).as_deref()) {
            (Some("STREAM FILE"), ..) => {
                if w.len() < 4 || w.len() > 5 {
                    return usage(
                        " Usage: STREAM FILE <filename> <escape_digits> [<sample offset>]",
                    );
                }
                self.play(&w[2], &w[3], false)
            }
            (_, Some("CONTROL STREAM FILE"), _) => {
                if w.len() < 5 {
                    return usage(" Usage: CONTROL STREAM FILE <filename> <escape_digits> [...]");
                }
                let stop = w[4].clone();
                self.play(&w[3], &stop, true)
            }
            (_, Some("WAIT FOR DIGIT"), _) => {
                if w.len() != 4 {
                    return usage(" Usage: WAIT FOR DIGIT <timeout>");
                }
                self.wait_digit()
            }
            (Some("RECORD FILE"), ..) => {
                if w.len() < 6 {
                    return usage(
                        " Usage: RECORD FILE <filename> <format> <escape_digits> <timeout> [...]",
                    );
                }
                self.record(&w)
            }
            (Some("SAY NUMBER" | "SAY DIGITS" | "SAY DATETIME"), ..) => {
                if w.len() < 4 {
                    return usage(" Usage: SAY ...");
                }
                let what = format!("say:{}:{}", upper[1].to_ascii_lowercase(), w[2]);
                self.say(&what, &w[3])
            }
            (Some("SET VARIABLE"), ..) => {
                if w.len() != 4 {
                    return usage(" Usage: SET VARIABLE <variablename> <value>");
                }
                self.out.variables.insert(w[2].clone(), w[3].clone());
                vec!["200 result=1".into()]
            }
            (Some("SET CONTEXT"), ..) => {
                self.out.goto.0 = w.get(2).cloned();
                vec!["200 result=0".into()]
            }
            (Some("SET EXTENSION"), ..) => {
                self.out.goto.1 = w.get(2).cloned();
                vec!["200 result=0".into()]
            }
            (Some("SET PRIORITY"), ..) => {
                self.out.goto.2 = w.get(2).cloned();
                vec!["200 result=0".into()]
            }
            (Some("GET VARIABLE"), ..) => {
                match self.out.variables.get(w.get(2).map_or("", String::as_str)) {
                    Some(v) => vec![format!("200 result=1 ({v})")],
                    None => vec!["200 result=0".into()],
                }
            }
            (_, Some("GET FULL VARIABLE"), _) => {
                let expr = w.get(3).cloned().unwrap_or_default();
                vec![format!("200 result=1 ({})", self.expand(&expr))]
            }
            (_, _, Some("ANSWER")) => vec!["200 result=0".into()],
            (_, _, Some("NOOP")) => vec!["200 result=0".into()],
            (_, _, Some("VERBOSE")) => vec!["200 result=1".into()],
            (_, _, Some("HANGUP")) => {
                self.hang_up();
                vec!["200 result=1".into(), "HANGUP".into()]
            }
            (Some("CHANNEL STATUS"), ..) => vec!["200 result=6".into()],
            _ => vec!["510 Invalid or unknown command".into()],
        }
    }

    /// `${DIALPLAN_EXISTS(ctx,exten,1)}` and plain variables.
    fn expand(&self, expr: &str) -> String {
        let inner = expr.trim_start_matches("${").trim_end_matches('}');
        if let Some(args) = inner
            .strip_prefix("DIALPLAN_EXISTS(")
            .and_then(|a| a.strip_suffix(')'))
        {
            let parts: Vec<&str> = args.split(',').collect();
            let found = parts.len() >= 2
                && self
                    .call
                    .dialplan
                    .iter()
                    .any(|(c, e)| c == parts[0] && e == parts[1]);
            return if found { "1" } else { "0" }.into();
        }
        self.out.variables.get(inner).cloned().unwrap_or_default()
    }

    /// Seconds of a sound file (WAV header), 1 s when unknown.
    fn length_of(path: &Path) -> f64 {
        std::fs::metadata(path).map_or(1.0, |m| (m.len().saturating_sub(44)) as f64 / 16000.0)
    }

    fn resolve(&self, name: &str) -> Option<PathBuf> {
        let exts = ["wav", "WAV", "gsm", "wav49", "ulaw", "alaw", "sln"];
        let base = if name.starts_with('/') {
            PathBuf::from(name)
        } else {
            self.call.sounds.join(name)
        };
        exts.iter()
            .map(|e| {
                base.with_file_name(format!(
                    "{}.{e}",
                    base.file_name()
                        .map(|f| f.to_string_lossy().into_owned())
                        .unwrap_or_default()
                ))
            })
            .find(|p| p.is_file())
    }

    fn play(&mut self, name: &str, escape: &str, control: bool) -> Vec<String> {
        self.out.prompts.push(name.to_owned());
        let Some(path) = self.resolve(name) else {
            self.problem(format!("played a file that does not exist: {name}"));
            return vec!["200 result=-1 endpos=0".into()];
        };
        let secs = Self::length_of(&path);
        let full = if control {
            (secs * 1000.0) as u64
        } else {
            (secs * 8000.0) as u64
        };
        match self.current().cloned() {
            Some(Step::During { prompt, key }) if name.contains(&prompt) => {
                self.next();
                if escape.contains(key) {
                    vec![format!("200 result={} endpos={}", ascii(key), full / 3)]
                } else {
                    // Asterisk discards a key the prompt does not take.
                    vec![format!("200 result=0 endpos={full}")]
                }
            }
            Some(Step::Hangup) => {
                self.next();
                self.hang_up();
                vec![
                    format!("200 result=-1 endpos={}", full / 2),
                    "HANGUP".into(),
                ]
            }
            // Played to its end: CONTROL STREAM FILE says endpos=-1 (Asterisk's
            // control_streamfile marks the end with an offset of -8 samples).
            _ if control => vec!["200 result=0 endpos=-1".to_owned()],
            _ => vec![format!("200 result=0 endpos={full}")],
        }
    }

    fn say(&mut self, what: &str, escape: &str) -> Vec<String> {
        self.out.prompts.push(what.to_owned());
        match self.current().cloned() {
            Some(Step::During { prompt, key }) if what.contains(&prompt) => {
                self.next();
                let r = if escape.contains(key) { ascii(key) } else { 0 };
                vec![format!("200 result={r}")]
            }
            Some(Step::Hangup) => {
                self.next();
                self.hang_up();
                vec!["200 result=-1".into(), "HANGUP".into()]
            }
            _ => vec!["200 result=0".into()],
        }
    }

    fn wait_digit(&mut self) -> Vec<String> {
        match self.current().cloned() {
            Some(Step::Key(k)) => {
                self.next();
                vec![format!("200 result={}", ascii(k))]
            }
            Some(Step::Silence) => {
                self.next();
                vec!["200 result=0".into()]
            }
            Some(Step::Hangup) | None => {
                if self.current().is_some() {
                    self.next();
                }
                self.hang_up();
                vec!["200 result=-1".into(), "HANGUP".into()]
            }
            Some(other) => {
                self.problem(format!(
                    "the server waits for a digit, but the phone's next step is {other:?} (after {:?})",
                    self.out.prompts.last()
                ));
                self.hang_up();
                vec!["200 result=-1".into(), "HANGUP".into()]
            }
        }
    }

    fn record(&mut self, w: &[String]) -> Vec<String> {
        let (name, format, escape) = (&w[2], &w[3], &w[4]);
        let timeout_ms: i64 = w[5].parse().unwrap_or(-1);
        let silence: Option<f64> = w[6..]
            .iter()
            .find_map(|a| a.strip_prefix("s=").and_then(|s| s.parse().ok()));
        if w[6..].iter().any(|a| a.eq_ignore_ascii_case("BEEP")) {
            self.out.prompts.push("beep".into());
        }
        if format != "wav" {
            self.problem(format!(
                "RECORD FILE in format {format}: this peer writes wav only"
            ));
        }
        let path = PathBuf::from(format!("{name}.{format}"));
        let step = self.current().cloned();
        let (secs, reply, hang) = match step {
            Some(Step::Speak { secs, end }) => {
                self.next();
                let limit = if timeout_ms > 0 {
                    timeout_ms as f64 / 1000.0
                } else {
                    f64::MAX
                };
                match end {
                    RecordEnd::Key(k) if escape.contains(k) => {
                        let kept = (secs - 0.2).clamp(0.0, limit);
                        (
                            kept,
                            format!(
                                "200 result={} (dtmf) endpos={}",
                                ascii(k),
                                (kept * 8000.0) as u64
                            ),
                            false,
                        )
                    }
                    RecordEnd::Hangup => {
                        let kept = secs.min(limit);
                        (
                            kept,
                            format!("200 result=-1 (hangup) endpos={}", (kept * 8000.0) as u64),
                            true,
                        )
                    }
                    RecordEnd::Stall => {
                        self.out.stalled = true;
                        (secs.min(limit), String::new(), false)
                    }
                    RecordEnd::Silence if silence.is_some() => {
                        // Asterisk trims the trailing silence to 1 s.
                        let kept = (secs + 1.0).min(limit);
                        (
                            kept,
                            format!("200 result=0 (timeout) endpos={}", (kept * 8000.0) as u64),
                            false,
                        )
                    }
                    _ => {
                        let kept = if limit == f64::MAX { secs } else { limit };
                        if limit == f64::MAX {
                            self.problem("a recording with no time limit and no way to end".into());
                        }
                        (
                            kept,
                            format!("200 result=0 (timeout) endpos={}", (kept * 8000.0) as u64),
                            false,
                        )
                    }
                }
            }
            Some(Step::Hangup) => {
                self.next();
                (0.0, "200 result=-1 (hangup) endpos=0".to_owned(), true)
            }
            other => {
                self.problem(format!(
                    "the server records, but the phone's next step is {other:?}"
                ));
                (0.0, "200 result=-1 (hangup) endpos=0".to_owned(), true)
            }
        };
        if let Err(e) = write_wav(&path, secs, self.call.marker) {
            self.problem(format!("cannot write {}: {e}", path.display()));
            return vec!["200 result=-1 (writefile)".into()];
        }
        self.out.recordings.push((path, secs));
        let mut replies = vec![reply];
        if hang {
            self.hang_up();
            replies.push("HANGUP".into());
        }
        replies
    }
}

/// An 8 kHz mono 16-bit WAV of `secs` seconds: a 440 Hz tone whose every 800th sample is
/// `marker`, so each call's audio is its own.
pub fn write_wav(path: &Path, secs: f64, marker: u16) -> std::io::Result<()> {
    let samples = (secs * 8000.0).round() as u32;
    let mut data = Vec::with_capacity(44 + samples as usize * 2);
    data.extend_from_slice(b"RIFF");
    data.extend_from_slice(&(36 + samples * 2).to_le_bytes());
    data.extend_from_slice(b"WAVEfmt ");
    data.extend_from_slice(&16u32.to_le_bytes());
    data.extend_from_slice(&1u16.to_le_bytes());
    data.extend_from_slice(&1u16.to_le_bytes());
    data.extend_from_slice(&8000u32.to_le_bytes());
    data.extend_from_slice(&16000u32.to_le_bytes());
    data.extend_from_slice(&2u16.to_le_bytes());
    data.extend_from_slice(&16u16.to_le_bytes());
    data.extend_from_slice(b"data");
    data.extend_from_slice(&(samples * 2).to_le_bytes());
    for i in 0..samples {
        let v = if i % 800 == 0 {
            marker as i16
        } else {
            ((i as f64 * 440.0 * 2.0 * std::f64::consts::PI / 8000.0).sin() * 8000.0) as i16
        };
        data.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(path, data)
}
