//! [`Env`]: the `agi_*: value` lines Asterisk sends first on a FastAGI connection, up to a
//! blank line (`res_agi.c` `setup_env()`).
//!
//! * Lines end with LF only. A CR is data, as Asterisk would treat it: Asterisk never sends
//!   one, so a value keeps a trailing CR, a numeric value with one is unreadable, and a
//!   `\r` line is not the blank line that ends the block.
//! * The value is everything after `agi_key: ` (a line `agi_key:` with nothing after it is an
//!   empty value, as `agi_accountcode: ` is when the account code is empty).
//! * Every key `setup_env()` always sends is required: a missing one means the peer is not
//!   Asterisk's `res_agi` ([`MisbehaviourReason::MissingKey`]). `agi_network_script` is
//!   optional (Asterisk omits it when the URL has no script).
//! * `agi_arg_N` are numbered from 1 in order; a gap or a duplicate is an error. Empty
//!   values are kept.
//! * Other `agi_*` keys (a newer Asterisk may add some) are kept in [`Env::extra`], in
//!   order. A key appearing twice is an error.
//! * Values that are not UTF-8 (a caller name from some trunks) are decoded lossily and their
//!   keys listed in [`Env::lossy`], so nothing is replaced silently.

use std::collections::HashSet;
use std::fmt;

use crate::{Error, LimitKind, Limits, MisbehaviourReason};

/// The script part of the AGI URL: `agi://host/PATH?QUERY` gives `agi_network_script:
/// PATH?QUERY`, neither decoded nor checked by Asterisk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Script {
    /// Everything before the first `?`, e.g. `voicemail` or `voicemailmain`.
    pub path: String,
    /// Everything after the first `?`, as sent (not percent-decoded).
    pub query: Option<String>,
}

impl Script {
    /// Splits `agi_network_script`'s value at its first `?`.
    pub fn parse(script: &str) -> Script {
        match script.split_once('?') {
            Some((path, query)) => Script {
                path: path.to_owned(),
                query: Some(query.to_owned()),
            },
            None => Script {
                path: script.to_owned(),
                query: None,
            },
        }
    }

    /// The query's `key=value` pairs, split at `&` and the first `=` (a bare `key` has no
    /// value; empty pieces are skipped). Nothing is percent-decoded.
    pub fn params(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.query
            .as_deref()
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (p, None),
            })
    }

    /// The value of the first `key=value` pair named `key`.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params().find(|(k, _)| *k == key).and_then(|(_, v)| v)
    }
}

impl fmt::Display for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path)?;
        if let Some(q) = &self.query {
            write!(f, "?{q}")?;
        }
        Ok(())
    }
}

/// The AGI environment of one call. Where Asterisk writes `unknown` for "none", the field
/// is an `Option`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Env {
    /// `agi_network_script`, parsed; `None` when the URL named no script.
    pub script: Option<Script>,
    /// `agi_request`: the AGI URL exactly as the dialplan wrote it.
    pub request: String,
    /// `agi_channel`, e.g. `PJSIP/100-00000001` or `Local/1234@vm-0000001a;2`.
    pub channel: String,
    /// `agi_language`, e.g. `en`.
    pub language: String,
    /// `agi_type`: the channel technology, e.g. `PJSIP`, `Local`.
    pub channel_type: String,
    /// `agi_uniqueid`.
    pub uniqueid: String,
    /// `agi_version`: Asterisk's version, e.g. `22.10.1`.
    pub version: String,
    /// `agi_callerid`: the caller's number (`None` for `unknown`).
    pub callerid: Option<String>,
    /// `agi_calleridname`: the caller's name (`None` for `unknown`).
    pub calleridname: Option<String>,
    /// `agi_callingpres`: the caller ID presentation.
    pub callingpres: i32,
    /// `agi_callingani2`.
    pub callingani2: i32,
    /// `agi_callington`: the number plan.
    pub callington: i32,
    /// `agi_callingtns`: the transit network selector.
    pub callingtns: i32,
    /// `agi_dnid`: the dialled number (`None` for `unknown`).
    pub dnid: Option<String>,
    /// `agi_rdnis`: the number the call was redirected from (`None` for `unknown`).
    pub rdnis: Option<String>,
    /// `agi_context`.
    pub context: String,
    /// `agi_extension`.
    pub extension: String,
    /// `agi_priority`.
    pub priority: i32,
    /// `agi_enhanced`: `1.0` for EAGI (audio on fd 3), `0.0` otherwise.
    pub enhanced: bool,
    /// `agi_accountcode`, possibly empty.
    pub accountcode: String,
    /// `agi_threadid`: the Asterisk thread running the AGI.
    pub threadid: i64,
    /// `agi_arg_1`, `agi_arg_2`, ...: the `AGI()` arguments after the URL, in order.
    pub args: Vec<String>,
    /// Other `agi_*` keys, in the order they came.
    pub extra: Vec<(String, String)>,
    /// Keys whose values were not UTF-8 and were decoded lossily.
    pub lossy: Vec<String>,
}

/// The keys `setup_env()` always sends, in its order (after `agi_network` and the optional
/// `agi_network_script`).
const REQUIRED: [&str; 21] = [
    "agi_request",
    "agi_channel",
    "agi_language",
    "agi_type",
    "agi_uniqueid",
    "agi_version",
    "agi_callerid",
    "agi_calleridname",
    "agi_callingpres",
    "agi_callingani2",
    "agi_callington",
    "agi_callingtns",
    "agi_dnid",
    "agi_rdnis",
    "agi_context",
    "agi_extension",
    "agi_priority",
    "agi_enhanced",
    "agi_accountcode",
    "agi_threadid",
    "agi_network",
];

const SCRIPT: &str = "agi_network_script";
const ARG: &str = "agi_arg_";

impl Env {
    /// Parses a whole environment block: the lines and the blank line that ends it, and
    /// nothing after.
    pub fn parse(input: &[u8], limits: &Limits) -> Result<Env, Error> {
        let mut reader = EnvReader::new();
        let mut rest = input;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            let line = &rest[..end];
            rest = &rest[end + 1..];
            if let Some(env) = reader.push_line(line, limits)? {
                if !rest.is_empty() {
                    return Err(Error::misbehaviour(
                        MisbehaviourReason::NotAnEnvironmentLine,
                        rest,
                    ));
                }
                return Ok(env);
            }
        }
        Err(Error::misbehaviour(MisbehaviourReason::Incomplete, rest))
    }

    /// The block as `setup_env()` writes it, blank line included. Fails when a value holds a
    /// line feed, or an [`Env::extra`] key is not an `agi_*` key of its own.
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        let unknown = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".to_owned());
        let mut lines: Vec<(String, String)> = vec![("agi_network".into(), "yes".into())];
        if let Some(script) = &self.script {
            lines.push((SCRIPT.into(), script.to_string()));
        }
        let fixed = [
            self.request.clone(),
            self.channel.clone(),
            self.language.clone(),
            self.channel_type.clone(),
            self.uniqueid.clone(),
            self.version.clone(),
            unknown(&self.callerid),
            unknown(&self.calleridname),
            self.callingpres.to_string(),
            self.callingani2.to_string(),
            self.callington.to_string(),
            self.callingtns.to_string(),
            unknown(&self.dnid),
            unknown(&self.rdnis),
            self.context.clone(),
            self.extension.clone(),
            self.priority.to_string(),
            if self.enhanced { "1.0" } else { "0.0" }.to_owned(),
            self.accountcode.clone(),
            self.threadid.to_string(),
        ];
        lines.extend(REQUIRED.iter().map(|k| (*k).to_owned()).zip(fixed));
        for (key, value) in &self.extra {
            if !valid_key(key.as_bytes())
                || key == SCRIPT
                || REQUIRED.contains(&key.as_str())
                || key.starts_with(ARG)
            {
                return Err(Error::invalid("environment key", "not an extra agi_* key"));
            }
            lines.push((key.clone(), value.clone()));
        }
        for (n, arg) in self.args.iter().enumerate() {
            lines.push((format!("{ARG}{}", n + 1), arg.clone()));
        }
        let mut out = Vec::new();
        for (key, value) in lines {
            if value.contains('\n') {
                return Err(Error::invalid("environment value", "contains a line feed"));
            }
            out.extend_from_slice(format!("{key}: {value}\n").as_bytes());
        }
        out.push(b'\n');
        Ok(out)
    }
}

fn valid_key(key: &[u8]) -> bool {
    key.len() > 4
        && key.starts_with(b"agi_")
        && key[4..]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

/// Reads the environment line by line (lines without their LF), within [`Limits`].
#[derive(Clone, Debug, Default)]
pub struct EnvReader {
    lines: Vec<(String, String)>,
    seen: HashSet<String>,
    args: Vec<String>,
    lossy: Vec<String>,
    bytes: usize,
}

impl EnvReader {
    /// A reader before the first line.
    pub fn new() -> Self {
        Self::default()
    }

    /// One line (without its LF). `Some` when it is the blank line that ends the block.
    pub fn push_line(&mut self, line: &[u8], limits: &Limits) -> Result<Option<Env>, Error> {
        self.bytes += line.len() + 1;
        if self.bytes > limits.max_env_bytes {
            return Err(Error::limit(
                LimitKind::EnvironmentBytes,
                self.bytes,
                limits.max_env_bytes,
            ));
        }
        let count = self.seen.len() + 1;
        if count > limits.max_env_lines {
            return Err(Error::limit(
                LimitKind::EnvironmentLines,
                count,
                limits.max_env_lines,
            ));
        }
        if line.is_empty() {
            return self.finish().map(Some);
        }
        let bad = || Error::misbehaviour(MisbehaviourReason::NotAnEnvironmentLine, line);
        let colon = line.iter().position(|&b| b == b':').ok_or_else(bad)?;
        let (key, value) = (&line[..colon], &line[colon + 1..]);
        let value = match value {
            [] => &[][..],
            [b' ', value @ ..] => value,
            _ => return Err(bad()),
        };
        if !valid_key(key) {
            return Err(bad());
        }
        let key = String::from_utf8_lossy(key).into_owned();
        let value = match std::str::from_utf8(value) {
            Ok(v) => v.to_owned(),
            Err(_) => {
                self.lossy.push(key.clone());
                String::from_utf8_lossy(value).into_owned()
            }
        };
        if !self.seen.insert(key.clone()) {
            return Err(Error::misbehaviour(
                MisbehaviourReason::DuplicateKey(key),
                line,
            ));
        }
        if let Some(n) = key.strip_prefix(ARG) {
            let expected = (self.args.len() + 1).to_string();
            if n != expected {
                return Err(Error::misbehaviour(
                    MisbehaviourReason::ArgumentOutOfOrder,
                    line,
                ));
            }
            self.args.push(value);
        } else {
            self.lines.push((key, value));
        }
        Ok(None)
    }

    fn finish(&mut self) -> Result<Env, Error> {
        let lines = &mut self.lines;
        let network = take(lines, "agi_network")?;
        if network != "yes" {
            return Err(bad_value("agi_network", &network));
        }
        let script = lines
            .iter()
            .position(|(k, _)| k == SCRIPT)
            .map(|at| Script::parse(&lines.remove(at).1));
        let known = |v: String| (v != "unknown").then_some(v);
        let env = Env {
            script,
            request: take(lines, "agi_request")?,
            channel: take(lines, "agi_channel")?,
            language: take(lines, "agi_language")?,
            channel_type: take(lines, "agi_type")?,
            uniqueid: take(lines, "agi_uniqueid")?,
            version: take(lines, "agi_version")?,
            callerid: known(take(lines, "agi_callerid")?),
            calleridname: known(take(lines, "agi_calleridname")?),
            callingpres: number(lines, "agi_callingpres")?,
            callingani2: number(lines, "agi_callingani2")?,
            callington: number(lines, "agi_callington")?,
            callingtns: number(lines, "agi_callingtns")?,
            dnid: known(take(lines, "agi_dnid")?),
            rdnis: known(take(lines, "agi_rdnis")?),
            context: take(lines, "agi_context")?,
            extension: take(lines, "agi_extension")?,
            priority: number(lines, "agi_priority")?,
            enhanced: match take(lines, "agi_enhanced")?.as_str() {
                "0.0" => false,
                "1.0" => true,
                other => return Err(bad_value("agi_enhanced", other)),
            },
            accountcode: take(lines, "agi_accountcode")?,
            threadid: number(lines, "agi_threadid")?,
            args: std::mem::take(&mut self.args),
            extra: std::mem::take(lines),
            lossy: std::mem::take(&mut self.lossy),
        };
        Ok(env)
    }
}

/// Removes `key`'s line and returns its value.
fn take(lines: &mut Vec<(String, String)>, key: &'static str) -> Result<String, Error> {
    let at = lines
        .iter()
        .position(|(k, _)| k == key)
        .ok_or(Error::misbehaviour(
            MisbehaviourReason::MissingKey(key),
            b"",
        ))?;
    Ok(lines.remove(at).1)
}

fn number<N: std::str::FromStr>(
    lines: &mut Vec<(String, String)>,
    key: &'static str,
) -> Result<N, Error> {
    let value = take(lines, key)?;
    value.parse().map_err(|_| bad_value(key, &value))
}

fn bad_value(key: &'static str, value: &str) -> Error {
    Error::misbehaviour(MisbehaviourReason::BadValue(key), value.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_query_is_split_not_decoded() {
        let s = Script::parse("voicemailmain?box=1234&ctx=de%20fault&flag&=x");
        assert_eq!(s.path, "voicemailmain");
        assert_eq!(s.param("box"), Some("1234"));
        assert_eq!(s.param("ctx"), Some("de%20fault"));
        assert_eq!(s.param("flag"), None);
        assert_eq!(s.params().count(), 4);
        assert_eq!(
            s.to_string(),
            "voicemailmain?box=1234&ctx=de%20fault&flag&=x"
        );
        assert_eq!(Script::parse("voicemail").query, None);
    }

    #[test]
    fn lines_that_are_not_key_value_are_refused() {
        let mut r = EnvReader::new();
        let limits = Limits::default();
        for bad in [
            &b"agi_x:y"[..],
            b"agi_: y",
            b"foo: bar",
            b"agi x: y",
            b"HANGUP",
            b"\r",
        ] {
            assert!(r.push_line(bad, &limits).is_err(), "{bad:?}");
        }
    }
}
