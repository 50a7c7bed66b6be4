//! `--metrics ADDR` of `watch` and `agi` (or `metrics =` in `[imapvm]`): Prometheus
//! `/metrics` and `/healthz` on ADDR (`docs/operations.md`), served by `imapvm-watch`'s
//! [`Exporter`] from one [`Metrics`] that the watcher or the publisher, the outputs and (in
//! `agi`) the phone count into. The bound address is said on stderr (`imapvm watch: metrics
//! on 127.0.0.1:9464`), so that port 0 can be used.

use std::net::SocketAddr;

use clap::Args;
use imapvm::Store;
use imapvm_watch::{Exporter, Metrics};

use crate::cmd::CliError;

/// The metrics flag.
#[derive(Debug, Args)]
pub(crate) struct MetricsArgs {
    /// Serve Prometheus /metrics and /healthz on this address (IP:PORT; replaces
    /// `[imapvm] metrics`; port 0 picks a free one, said on stderr).
    #[arg(long = "metrics", value_name = "ADDR")]
    metrics: Option<SocketAddr>,
}

/// Serves `metrics` where the flag or voicemail.conf says (nothing when neither does), with
/// the store's outbox sampled at each scrape. Needs a runtime.
pub(crate) async fn serve(
    command: &str,
    store: &Store,
    args: &MetricsArgs,
    metrics: &Metrics,
) -> Result<Option<Exporter>, CliError> {
    let Some(addr) = args.metrics.or(store.config().imapvm.metrics) else {
        return Ok(None);
    };
    metrics.track_outbox(imapvm_outbox::Outbox::of(store));
    let exporter = Exporter::start(addr, metrics.clone())
        .await
        .map_err(|e| CliError(format!("--metrics {addr}: {e}")))?;
    eprintln!("imapvm {command}: metrics on {}", exporter.local_addr());
    Ok(Some(exporter))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use imapvm_phone::PhoneMetrics;
    use imapvm_watch::metrics::Format;

    use super::*;

    /// Every metric name in `text` (words starting `imapvm_`).
    fn names(text: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut rest = text;
        while let Some(i) = rest.find("imapvm_") {
            let word: String = rest[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            rest = &rest[i + word.len()..];
            out.insert(word);
        }
        out
    }

    /// Every metric the Grafana dashboard queries is served by `watch` or `agi` (whose
    /// registry holds the watch families and the phone's), under exactly that name.
    #[test]
    fn the_grafana_dashboard_queries_only_metrics_that_are_served() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../docs/grafana-dashboard.json");
        let dashboard: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let mut queried = BTreeSet::new();
        let mut stack = vec![&dashboard];
        while let Some(v) = stack.pop() {
            match v {
                serde_json::Value::Object(map) => {
                    for (k, v) in map {
                        match (k.as_str(), v) {
                            ("expr" | "query", serde_json::Value::String(q)) => {
                                queried.extend(names(q));
                            }
                            _ => stack.push(v),
                        }
                    }
                }
                serde_json::Value::Array(items) => stack.extend(items),
                _ => {}
            }
        }
        assert!(queried.len() >= 10, "{queried:?}");
        let metrics = Metrics::new();
        metrics.register(|r| PhoneMetrics::default().register(r));
        let scrape = metrics.encode(Format::Prometheus);
        let served: BTreeSet<String> = scrape
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split(['{', ' ']).next())
            .map(str::to_owned)
            .collect();
        let missing: Vec<_> = queried.difference(&served).collect();
        assert!(missing.is_empty(), "{missing:?} not in\n{scrape}");
    }
}
