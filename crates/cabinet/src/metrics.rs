//! The server's Prometheus metrics: one [`Metrics`] per running server, served at `GET /metrics` in the
//! Prometheus text format (0.0.4).
//!
//! Each server owns its registry (no process-wide recorder): several servers in one process (the tests,
//! two nodes in one test binary) never mix their series, and a scrape only ever shows this server's.
//! Labels are bounded: routes are the router's templates (`/api/v1/projects/{project}/files/list`),
//! never a raw path, so a client cannot mint series by calling made-up URLs.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// The route label of a request that matched no route (404s of unknown paths).
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// `route`, `method` and `status` of a finished request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The matched route template, or [`UNMATCHED_ROUTE`].
    pub route: String,
    /// The HTTP method.
    pub method: String,
    /// The response status code.
    pub status: u16,
}

/// `route` and `method` of a request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// The matched route template, or [`UNMATCHED_ROUTE`].
    pub route: String,
    /// The HTTP method.
    pub method: String,
}

/// `operation` of a store call.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    /// The store method (`create_file`, `list`, `put`, `get`, …).
    pub operation: &'static str,
    /// `ok` or `error`.
    pub outcome: &'static str,
}

/// `direction` of a content transfer.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DirectionLabels {
    /// `upload` or `download`.
    pub direction: &'static str,
}

/// `outcome` of a background run.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// `ok` or `error`.
    pub outcome: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 1 ms to about 65 s: metadata calls sit at the low end, whole transfers at the high end.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

fn store_histogram() -> Histogram {
    // 0.1 ms to about 3 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 15))
}

/// Jobs per SQLite group commit: 1 to 1024 (the writer's largest batch).
pub fn batch_size_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 11))
}

/// Every series the server exports. Cheap to clone handles live inside; share it as `Arc<Metrics>`.
pub struct Metrics {
    registry: Registry,
    /// `cabinet_http_requests_total{route,method,status}`.
    pub requests: Family<RequestLabels, Counter>,
    /// `cabinet_http_request_duration_seconds{route,method}`: from the request's arrival to the end of
    /// its response body.
    pub request_duration: HistogramFamily<RouteLabels>,
    /// `cabinet_http_request_bytes_total`: request body bytes read, as sent (before gzip inflation).
    pub bytes_in: Counter,
    /// `cabinet_http_response_bytes_total`: response body bytes sent.
    pub bytes_out: Counter,
    /// `cabinet_transfers_in_flight{direction}`: content uploads and downloads holding a transfer slot.
    pub transfers_in_flight: Family<DirectionLabels, Gauge>,
    /// `cabinet_metadata_store_duration_seconds{operation,outcome}`.
    pub metadata_store: HistogramFamily<OperationLabels>,
    /// `cabinet_blob_store_duration_seconds{operation,outcome}`: the time to the call's answer (for a
    /// `get`, until the stream is handed back, not until it is drained).
    pub blob_store: HistogramFamily<OperationLabels>,
    /// `cabinet_janitor_runs_total{outcome}`: expiry sweeps.
    pub janitor_runs: Family<OutcomeLabels, Counter>,
    /// `cabinet_collector_runs_total{outcome}`: orphan collector runs.
    pub collector_runs: Family<OutcomeLabels, Counter>,
    /// `cabinet_disk_free_bytes`: free bytes of the data directory's filesystem, read at each scrape.
    pub disk_free: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every series registered.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "cabinet_http_requests",
            "HTTP requests answered, by route template, method and status",
            requests.clone(),
        );
        let request_duration: HistogramFamily<RouteLabels> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "cabinet_http_request_duration_seconds",
            "Time from a request's arrival to the end of its response body, by route template",
            request_duration.clone(),
        );
        let bytes_in = Counter::default();
        registry.register(
            "cabinet_http_request_bytes",
            "Request body bytes read",
            bytes_in.clone(),
        );
        let bytes_out = Counter::default();
        registry.register(
            "cabinet_http_response_bytes",
            "Response body bytes sent",
            bytes_out.clone(),
        );
        let transfers_in_flight = Family::<DirectionLabels, Gauge>::default();
        registry.register(
            "cabinet_transfers_in_flight",
            "Content uploads and downloads in progress",
            transfers_in_flight.clone(),
        );
        let metadata_store: HistogramFamily<OperationLabels> =
            Family::new_with_constructor(store_histogram);
        registry.register(
            "cabinet_metadata_store_duration_seconds",
            "Latency of metadata store calls, by operation and outcome",
            metadata_store.clone(),
        );
        let blob_store: HistogramFamily<OperationLabels> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "cabinet_blob_store_duration_seconds",
            "Latency of content store calls, by operation and outcome",
            blob_store.clone(),
        );
        let janitor_runs = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "cabinet_janitor_runs",
            "Janitor expiry sweeps, by outcome",
            janitor_runs.clone(),
        );
        let collector_runs = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "cabinet_collector_runs",
            "Orphan collector runs, by outcome",
            collector_runs.clone(),
        );
        let disk_free = Gauge::default();
        registry.register(
            "cabinet_disk_free_bytes",
            "Free bytes of the data directory's filesystem",
            disk_free.clone(),
        );
        Self {
            registry,
            requests,
            request_duration,
            bytes_in,
            bytes_out,
            transfers_in_flight,
            metadata_store,
            blob_store,
            janitor_runs,
            collector_runs,
            disk_free,
        }
    }

    /// Adds the group-commit batch sizes of the embedded store's writer, as
    /// `cabinet_sqlite_commit_batch_size`.
    pub fn register_batch_sizes(&mut self, batches: Histogram) {
        self.registry.register(
            "cabinet_sqlite_commit_batch_size",
            "Write jobs per SQLite group commit (transaction)",
            batches,
        );
    }

    /// Records one finished request.
    pub fn request_done(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_string(),
                method: method.to_string(),
                status,
            })
            .inc();
        self.request_duration
            .get_or_create(&RouteLabels {
                route: route.to_string(),
                method: method.to_string(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Records one metadata store call.
    pub fn metadata_call(&self, operation: &'static str, ok: bool, elapsed: Duration) {
        self.metadata_store
            .get_or_create(&OperationLabels {
                operation,
                outcome: outcome(ok),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Records one blob store call.
    pub fn blob_call(&self, operation: &'static str, ok: bool, elapsed: Duration) {
        self.blob_store
            .get_or_create(&OperationLabels {
                operation,
                outcome: outcome(ok),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Sets the transfers in flight (read from the transfer slots at each scrape).
    pub fn set_transfers(&self, uploads: usize, downloads: usize) {
        for (direction, n) in [("upload", uploads), ("download", downloads)] {
            self.transfers_in_flight
                .get_or_create(&DirectionLabels { direction })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }

    /// The text a scrape gets.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// `ok` or `error`.
pub fn outcome(ok: bool) -> &'static str {
    if ok {
        "ok"
    } else {
        "error"
    }
}

/// A shared handle, as the server's parts hold it.
pub type SharedMetrics = Arc<Metrics>;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn series_are_encoded_with_their_labels() {
        let metrics = Metrics::new();
        metrics.request_done(
            "/api/v1/projects/{project}/files",
            "POST",
            201,
            Duration::ZERO,
        );
        metrics.metadata_call("create_file", true, Duration::from_millis(2));
        metrics.set_transfers(1, 0);
        let text = metrics.encode().unwrap();
        assert!(text.contains(
            "cabinet_http_requests_total{route=\"/api/v1/projects/{project}/files\",method=\"POST\",status=\"201\"} 1"
        ), "{text}");
        assert!(text.contains("cabinet_metadata_store_duration_seconds_count{operation=\"create_file\",outcome=\"ok\"} 1"), "{text}");
        assert!(
            text.contains("cabinet_transfers_in_flight{direction=\"upload\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE cabinet_disk_free_bytes gauge"),
            "{text}"
        );
    }
}
