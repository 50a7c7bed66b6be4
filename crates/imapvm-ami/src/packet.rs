//! AMI packets: `Key: Value` lines closed by an empty line, and the actions
//! imapvm sends.

use crate::{Error, Misuse};

/// One AMI packet as received: its header lines in order. Keys compare
/// case-insensitively, as Asterisk's do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Packet {
    headers: Vec<(String, String)>,
}

impl Packet {
    /// A packet from its lines (used by the decoder and tests).
    pub fn from_headers(headers: Vec<(String, String)>) -> Self {
        Packet { headers }
    }

    /// The value of the first header named `key` (case-insensitive).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// All header lines in order. A line without a colon (command output)
    /// has an empty key.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// `Event:` value, when this is an event.
    pub fn event(&self) -> Option<&str> {
        self.get("Event")
    }

    /// `Response:` value, when this is a response.
    pub fn response(&self) -> Option<&str> {
        self.get("Response")
    }

    /// Parse one line into a header pair. `Key: Value` splits at the first
    /// colon and drops the white space after it.
    pub(crate) fn parse_line(line: &str) -> (String, String) {
        match line.split_once(':') {
            Some((k, v)) if !k.is_empty() && k.bytes().all(is_key_byte) => {
                (k.to_string(), v.trim_start_matches([' ', '\t']).to_string())
            }
            _ => (String::new(), line.to_string()),
        }
    }
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// An action to send. The `ActionID` is added by the [`crate::Client`].
#[derive(Clone, PartialEq, Eq)]
pub struct Action {
    name: String,
    headers: Vec<(String, String)>,
}

/// Header keys whose values are secrets and never appear in traces.
const SECRET_KEYS: &[&str] = &["Secret", "Key"];

impl Action {
    /// An action named `name` (`Action: name`) with no other header.
    pub fn new(name: &str) -> Result<Self, Error> {
        check_key(name)?;
        Ok(Action {
            name: name.to_string(),
            headers: Vec::new(),
        })
    }

    /// Add a header. Keys are tokens; values must not contain CR or LF
    /// (that would inject lines into the action).
    pub fn header(mut self, key: &str, value: impl Into<String>) -> Result<Self, Error> {
        check_key(key)?;
        if key.eq_ignore_ascii_case("ActionID") || key.eq_ignore_ascii_case("Action") {
            return Err(Misuse::ReservedHeader {
                key: key.to_string(),
            }
            .into());
        }
        let value = value.into();
        if value.contains(['\r', '\n']) {
            return Err(Misuse::LineBreak {
                key: key.to_string(),
            }
            .into());
        }
        self.headers.push((key.to_string(), value));
        Ok(self)
    }

    /// `VoicemailRefresh`: app_voicemail recounts one mailbox now and
    /// publishes MWI (Asterisk 12+).
    pub fn voicemail_refresh(context: &str, mailbox: &str) -> Result<Self, Error> {
        Action::new("VoicemailRefresh")?
            .header("Context", context)?
            .header("Mailbox", mailbox)
    }

    /// `MWIUpdate` (res_mwi_external_ami): set the MWI state of
    /// `mailbox@context` directly.
    pub fn mwi_update(mailbox: &str, context: &str, new: u32, old: u32) -> Result<Self, Error> {
        Action::new("MWIUpdate")?
            .header("Mailbox", format!("{mailbox}@{context}"))?
            .header("NewMessages", new.to_string())?
            .header("OldMessages", old.to_string())
    }

    /// `Ping`: the keepalive; Asterisk answers `Response: Success` / `Ping: Pong`.
    pub fn ping() -> Self {
        Action {
            name: "Ping".into(),
            headers: Vec::new(),
        }
    }

    /// `Logoff`: end the session politely.
    pub fn logoff() -> Self {
        Action {
            name: "Logoff".into(),
            headers: Vec::new(),
        }
    }

    /// The action's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The action's headers, without `Action` and `ActionID`.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// Wire bytes with the given ActionID.
    pub(crate) fn encode(&self, action_id: &str) -> Vec<u8> {
        let mut out = format!("Action: {}\r\nActionID: {action_id}\r\n", self.name);
        for (k, v) in &self.headers {
            out.push_str(k);
            out.push_str(": ");
            out.push_str(v);
            out.push_str("\r\n");
        }
        out.push_str("\r\n");
        out.into_bytes()
    }

    /// The same text with secret values replaced by `***` [INV-6].
    pub(crate) fn redacted(&self, action_id: &str) -> String {
        let mut out = format!("Action: {}\r\nActionID: {action_id}\r\n", self.name);
        for (k, v) in &self.headers {
            let shown = if SECRET_KEYS.iter().any(|s| s.eq_ignore_ascii_case(k)) {
                "***"
            } else {
                v
            };
            out.push_str(&format!("{k}: {shown}\r\n"));
        }
        out.push_str("\r\n");
        out
    }
}

impl std::fmt::Debug for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut list = f.debug_struct("Action");
        list.field("name", &self.name);
        for (k, v) in &self.headers {
            if SECRET_KEYS.iter().any(|s| s.eq_ignore_ascii_case(k)) {
                list.field(k, &"***");
            } else {
                list.field(k, v);
            }
        }
        list.finish()
    }
}

fn check_key(key: &str) -> Result<(), Error> {
    if key.is_empty() || !key.bytes().all(is_key_byte) {
        return Err(Misuse::InvalidHeaderName {
            key: key.to_string(),
        }
        .into());
    }
    Ok(())
}
