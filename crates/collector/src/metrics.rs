//! The collector's Prometheus metrics, through `prometheus-client` (OpenMetrics text at
//! `GET /metrics`): report outcomes, refused requests, reports per campaign, request latency per
//! matched route and storage commit latency. No label ever holds anything from a request but
//! its route and outcome code, and campaigns come from the served catalog, so every family is
//! bounded.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Upper bounds (seconds) of the latency buckets.
const BUCKETS: [f64; 12] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

fn latency() -> Histogram {
    Histogram::new(BUCKETS)
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct Reason {
    reason: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct Code {
    code: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct CampaignLabel {
    campaign: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct Route {
    route: String,
}

/// The collector's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    accepted: Counter,
    duplicate: Counter,
    rejected: Family<Reason, Counter>,
    refused: Family<Code, Counter>,
    by_campaign: Family<CampaignLabel, Counter>,
    requests: Family<Route, Histogram, fn() -> Histogram>,
    /// Latency of storage commits.
    pub storage: Histogram,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let m = Metrics {
            registry: Registry::default(),
            accepted: Counter::default(),
            duplicate: Counter::default(),
            rejected: Family::default(),
            refused: Family::default(),
            by_campaign: Family::default(),
            requests: Family::new_with_constructor(latency),
            storage: latency(),
        };
        let mut registry = Registry::default();
        registry.register("dpseg_reports_accepted", "Reports counted", m.accepted.clone());
        registry.register(
            "dpseg_reports_duplicate",
            "Reports whose nonce was already counted",
            m.duplicate.clone(),
        );
        registry.register(
            "dpseg_campaign_reports",
            "Reports counted, by campaign (devices report once per epoch, so a jump is a sign of fabricated reports)",
            m.by_campaign.clone(),
        );
        registry.register(
            "dpseg_reports_rejected",
            "Reports refused, by reason",
            m.rejected.clone(),
        );
        registry.register(
            "dpseg_requests_refused",
            "Requests refused as a whole, by code",
            m.refused.clone(),
        );
        registry.register(
            "dpseg_http_request_duration_seconds",
            "Request latency by matched route",
            m.requests.clone(),
        );
        registry.register(
            "dpseg_storage_commit_duration_seconds",
            "Latency of storage commits",
            m.storage.clone(),
        );
        Metrics { registry, ..m }
    }
}

impl Metrics {
    /// Counts accepted and duplicate reports.
    pub fn accepted(&self, accepted: u64, duplicate: u64) {
        self.accepted.inc_by(accepted);
        self.duplicate.inc_by(duplicate);
    }

    /// Counts `n` reports counted for `campaign`.
    pub fn counted_for(&self, campaign: &str, n: u64) {
        self.by_campaign.get_or_create(&CampaignLabel { campaign: campaign.to_owned() }).inc_by(n);
    }

    /// Counts one rejected report by reason.
    pub fn rejected(&self, code: &'static str) {
        self.rejected.get_or_create(&Reason { reason: code }).inc();
    }

    /// Counts one request refused as a whole (bad JSON, 413, 415, 401, 429, ...) by its code.
    pub fn refused(&self, code: &'static str) {
        self.refused.get_or_create(&Code { code }).inc();
    }

    /// Records a request's latency for `route` (the matched route's pattern).
    pub fn request(&self, route: &str, secs: f64) {
        self.requests.get_or_create(&Route { route: route.to_owned() }).observe(secs);
    }

    /// Reports accepted so far.
    pub fn accepted_total(&self) -> u64 {
        self.accepted.get()
    }

    /// The metrics in the OpenMetrics text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// The content type of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
