//! A scraper for the tests of `--metrics`: Python's `urllib`, an HTTP client independent of
//! the server under test (hyper), asks `http://ADDR/PATH` as Prometheus would.
//!
//! [`get`] returns the status, the `Content-Type` and the body of any answer (a 503 is an
//! answer, not an error); only a failure to get an answer at all is an error.

use std::net::SocketAddr;
use std::process::Command;

use crate::server::{HarnessError, Result};

/// One HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The `Content-Type` header (empty when absent).
    pub content_type: String,
    /// The body, as text.
    pub body: String,
}

impl Answer {
    /// The value of the sample `series` (a metric name with its labels as served, e.g.
    /// `imapvm_mwi_events_total{output="ami",result="ok"}`) in a Prometheus text body.
    pub fn sample(&self, series: &str) -> Option<f64> {
        self.body.lines().find_map(|line| {
            let value = line.strip_prefix(series)?.strip_prefix(' ')?;
            value.trim().parse().ok()
        })
    }
}

const SCRIPT: &str = r#"
import json, sys, urllib.request, urllib.error
req = urllib.request.Request(sys.argv[1])
if sys.argv[2]:
    req.add_header("Accept", sys.argv[2])
try:
    r = urllib.request.urlopen(req, timeout=10)
    status, headers, body = r.status, r.headers, r.read()
except urllib.error.HTTPError as e:
    status, headers, body = e.code, e.headers, e.read()
print(json.dumps({"status": status, "type": headers.get("Content-Type", ""), "body": body.decode("utf-8")}))
"#;

/// `GET http://addr/path` (with `Accept: accept` when given).
pub fn get(addr: SocketAddr, path: &str, accept: Option<&str>) -> Result<Answer> {
    let url = format!("http://{addr}{path}");
    let out = Command::new("python3")
        .args(["-c", SCRIPT, &url, accept.unwrap_or("")])
        .output()
        .map_err(|e| HarnessError(format!("python3: {e}")))?;
    if !out.status.success() {
        return Err(HarnessError(format!(
            "GET {url}: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| HarnessError(format!("GET {url}: {e}")))?;
    Ok(Answer {
        status: v["status"]
            .as_u64()
            .and_then(|s| u16::try_from(s).ok())
            .unwrap_or(0),
        content_type: v["type"].as_str().unwrap_or_default().to_owned(),
        body: v["body"].as_str().unwrap_or_default().to_owned(),
    })
}
