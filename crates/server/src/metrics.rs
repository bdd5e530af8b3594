//! Prometheus metrics: requests, latency and errors per scenario and route,
//! rows predicted and micro-batch sizes. Served at `GET /metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::time::Duration;

/// Labels of one answered request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    scenario: String,
    route: String,
    status: u16,
}

/// Labels of a latency observation.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    scenario: String,
    route: String,
}

/// Labels of per-scenario counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ScenarioLabels {
    scenario: String,
}

type HistogramMaker = fn() -> Histogram;

/// The server's metrics registry.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    errors: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, HistogramMaker>,
    rows: Family<ScenarioLabels, Counter>,
    batch_rows: Family<ScenarioLabels, Histogram, HistogramMaker>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("indus");
        let requests = Family::<RequestLabels, Counter>::default();
        let errors = Family::<RequestLabels, Counter>::default();
        // 25 µs to ~50 s in doublings: single-row predicts land in the first
        // few buckets, training requests in the last.
        let latency: Family<RouteLabels, Histogram, HistogramMaker> =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(25e-6, 2.0, 22)));
        let rows = Family::<ScenarioLabels, Counter>::default();
        let batch_rows: Family<ScenarioLabels, Histogram, HistogramMaker> =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(1.0, 2.0, 14)));
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        registry.register(
            "http_errors",
            "HTTP requests answered with a 4xx or 5xx status",
            errors.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from request to response headers",
            latency.clone(),
        );
        registry.register("rows_predicted", "Rows answered by predict", rows.clone());
        registry.register(
            "model_batch_rows",
            "Rows per model call after micro-batching",
            batch_rows.clone(),
        );
        Metrics {
            registry,
            requests,
            errors,
            latency,
            rows,
            batch_rows,
        }
    }
}

impl Metrics {
    /// Records one answered request.
    pub fn request(&self, scenario: &str, route: &str, status: u16, took: Duration) {
        let labels = RequestLabels {
            scenario: scenario.to_string(),
            route: route.to_string(),
            status,
        };
        self.requests.get_or_create(&labels).inc();
        if status >= 400 {
            self.errors.get_or_create(&labels).inc();
        }
        self.latency
            .get_or_create(&RouteLabels {
                scenario: labels.scenario,
                route: labels.route,
            })
            .observe(took.as_secs_f64());
    }

    /// Records rows answered by predict.
    pub fn rows(&self, scenario: &str, rows: usize) {
        self.rows
            .get_or_create(&ScenarioLabels {
                scenario: scenario.to_string(),
            })
            .inc_by(rows as u64);
    }

    /// Records the size of one model call.
    pub fn batch(&self, scenario: &str, rows: usize) {
        self.batch_rows
            .get_or_create(&ScenarioLabels {
                scenario: scenario.to_string(),
            })
            .observe(rows as f64);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_errors_and_latency_are_exposed_per_scenario() {
        let m = Metrics::default();
        m.request(
            "mnist",
            "/v1/scenarios/{name}/predict",
            200,
            Duration::from_micros(90),
        );
        m.request(
            "mnist",
            "/v1/scenarios/{name}/predict",
            422,
            Duration::from_micros(40),
        );
        m.rows("mnist", 3);
        let text = m.render();
        assert!(
            text.contains(r#"indus_http_requests_total{scenario="mnist",route="/v1/scenarios/{name}/predict",status="200"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"indus_http_errors_total{scenario="mnist",route="/v1/scenarios/{name}/predict",status="422"} 1"#),
            "{text}"
        );
        assert!(text.contains("indus_http_request_duration_seconds_count{scenario=\"mnist\",route=\"/v1/scenarios/{name}/predict\"} 2"), "{text}");
        assert!(
            text.contains(r#"indus_rows_predicted_total{scenario="mnist"} 3"#),
            "{text}"
        );
    }
}
