//! [`PhoneMetrics`]: what the FastAGI server counts, for Prometheus (`imapvm agi
//! --metrics`). The families, registered under the caller's prefix (`imapvm_`):
//!
//! | name | type | what |
//! |---|---|---|
//! | `imapvm_phone_calls_in_progress` | gauge | calls being served |
//! | `imapvm_phone_calls_total{script,result}` | counter | finished calls: `script` is `voicemail`, `voicemailmain` or `other` (the AGI script asked for); `result` is `VMSTATUS` as the call set it (`success`, `userexit`, `failed`), `other`, or `none` when it set none (VoiceMailMain never does) |
//! | `imapvm_phone_call_duration_seconds` | histogram | from the connection to its end |
//!
//! Label values come from a fixed set whatever Asterisk sends, so the series stay bounded.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::call::CallReport;

/// The buckets of `imapvm_phone_call_duration_seconds`: from a refused call to a long
/// VoiceMailMain session.
pub const DURATION_BUCKETS: [f64; 10] = [
    1.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
];

/// The `script` label values.
pub const SCRIPTS: [&str; 3] = ["voicemail", "voicemailmain", "other"];
/// The `result` label values.
pub const RESULTS: [&str; 5] = ["success", "userexit", "failed", "other", "none"];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    script: &'static str,
    result: &'static str,
}

/// The phone's metrics; clones count into the same families. Register them with
/// [`PhoneMetrics::register`], then hand them to [`crate::PhoneOptions::metrics`].
#[derive(Debug, Clone)]
pub struct PhoneMetrics {
    in_progress: Gauge,
    calls: Family<CallLabels, Counter>,
    duration: Histogram,
}

impl Default for PhoneMetrics {
    fn default() -> PhoneMetrics {
        let calls = Family::<CallLabels, Counter>::default();
        for script in SCRIPTS {
            for result in RESULTS {
                let _ = calls.get_or_create_owned(&CallLabels { script, result });
            }
        }
        PhoneMetrics {
            in_progress: Gauge::default(),
            calls,
            duration: Histogram::new(DURATION_BUCKETS),
        }
    }
}

impl PhoneMetrics {
    /// Adds the families to `registry` (as `phone_…` under its prefix).
    pub fn register(&self, registry: &mut Registry) {
        let phone = registry.sub_registry_with_prefix("phone");
        phone.register(
            "calls_in_progress",
            "FastAGI calls being served",
            self.in_progress.clone(),
        );
        phone.register(
            "calls",
            "Finished FastAGI calls by script and VMSTATUS",
            self.calls.clone(),
        );
        phone.register(
            "call_duration_seconds",
            "FastAGI calls from the connection to their end",
            self.duration.clone(),
        );
    }

    /// A call was accepted.
    pub(crate) fn started(&self) {
        self.in_progress.inc();
    }

    /// A call ended.
    pub(crate) fn finished(&self, report: &CallReport) {
        self.in_progress.dec();
        let script = match report.app.as_str() {
            "voicemail" => "voicemail",
            "voicemailmain" => "voicemailmain",
            _ => "other",
        };
        let result = match report.status.as_deref() {
            Some("SUCCESS") => "success",
            Some("USEREXIT") => "userexit",
            Some("FAILED") => "failed",
            Some(_) => "other",
            None => "none",
        };
        self.calls
            .get_or_create_owned(&CallLabels { script, result })
            .inc();
        if report.secs.is_finite() && report.secs >= 0.0 {
            self.duration.observe(report.secs);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(app: &str, status: Option<&str>, secs: f64) -> CallReport {
        CallReport {
            app: app.into(),
            mailbox: None,
            status: status.map(str::to_owned),
            uid: None,
            secs,
            peer: "127.0.0.1:1".parse().unwrap(),
            error: None,
        }
    }

    #[test]
    fn calls_are_counted_with_bounded_labels() {
        let m = PhoneMetrics::default();
        let mut registry = Registry::with_prefix("imapvm");
        m.register(&mut registry);
        m.started();
        m.started();
        m.finished(&report("voicemail", Some("SUCCESS"), 7.5));
        m.finished(&report("../../etc/passwd", Some("\"}\n"), f64::NAN));
        m.started();
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &registry).unwrap();
        for line in [
            "imapvm_phone_calls_in_progress 1\n",
            "imapvm_phone_calls_total{script=\"voicemail\",result=\"success\"} 1\n",
            "imapvm_phone_calls_total{script=\"other\",result=\"other\"} 1\n",
            "imapvm_phone_calls_total{script=\"voicemailmain\",result=\"none\"} 0\n",
            "imapvm_phone_call_duration_seconds_count 1\n",
            "imapvm_phone_call_duration_seconds_bucket{le=\"10\"} 1\n",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
        assert!(!text.contains("passwd"), "{text}");
        let series = text
            .lines()
            .filter(|l| l.starts_with("imapvm_phone_calls_total{"))
            .count();
        assert_eq!(series, SCRIPTS.len() * RESULTS.len());
    }
}
