//! Prometheus metrics in the text exposition format, without a metrics library: a few atomic
//! counters and fixed-bucket histograms.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Upper bounds (seconds) of the latency buckets.
const BUCKETS: [f64; 12] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

/// A latency histogram.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; 12],
    count: AtomicU64,
    /// Sum of observations, in microseconds.
    sum_micros: AtomicU64,
}

impl Histogram {
    /// Records one observation of `secs` seconds.
    pub fn observe(&self, secs: f64) {
        for (b, &le) in self.buckets.iter().zip(&BUCKETS) {
            if secs <= le {
                b.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "latencies are small and positive"
        )]
        self.sum_micros.fetch_add((secs * 1e6) as u64, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (b, le) in self.buckets.iter().zip(BUCKETS) {
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {}",
                b.load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
        let braces = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
        let _ = writeln!(
            out,
            "{name}_sum{braces} {}",
            self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count{braces} {count}");
    }
}

/// The collector's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    accepted: AtomicU64,
    duplicate: AtomicU64,
    rejected: Mutex<BTreeMap<&'static str, u64>>,
    refused: Mutex<BTreeMap<&'static str, u64>>,
    by_campaign: Mutex<BTreeMap<String, u64>>,
    requests: Mutex<BTreeMap<&'static str, std::sync::Arc<Histogram>>>,
    /// Latency of storage commits.
    pub storage: Histogram,
}

impl Metrics {
    /// Counts accepted and duplicate reports.
    pub fn accepted(&self, accepted: u64, duplicate: u64) {
        self.accepted.fetch_add(accepted, Ordering::Relaxed);
        self.duplicate.fetch_add(duplicate, Ordering::Relaxed);
    }

    /// Counts `n` reports counted for `campaign` (a rate to alert on: devices report once per
    /// epoch, so a jump is a sign of fabricated reports).
    pub fn counted_for(&self, campaign: &str, n: u64) {
        if let Ok(mut m) = self.by_campaign.lock() {
            *m.entry(campaign.to_owned()).or_default() += n;
        }
    }

    /// Counts one rejected report by reason.
    pub fn rejected(&self, code: &'static str) {
        if let Ok(mut m) = self.rejected.lock() {
            *m.entry(code).or_default() += 1;
        }
    }

    /// Counts one request refused as a whole (bad JSON, 413, 415, 401, 429, ...) by its code.
    pub fn refused(&self, code: &'static str) {
        if let Ok(mut m) = self.refused.lock() {
            *m.entry(code).or_default() += 1;
        }
    }

    /// Records a request's latency for `route`.
    pub fn request(&self, route: &'static str, secs: f64) {
        let h = self.requests.lock().map(|mut m| m.entry(route).or_default().clone());
        if let Ok(h) = h {
            h.observe(secs);
        }
    }

    /// Reports accepted so far.
    pub fn accepted_total(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    /// The metrics in Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP dpseg_reports_accepted_total Reports counted.\n# TYPE dpseg_reports_accepted_total counter\n");
        let _ =
            writeln!(out, "dpseg_reports_accepted_total {}", self.accepted.load(Ordering::Relaxed));
        out.push_str("# HELP dpseg_reports_duplicate_total Reports whose nonce was already counted.\n# TYPE dpseg_reports_duplicate_total counter\n");
        let _ = writeln!(
            out,
            "dpseg_reports_duplicate_total {}",
            self.duplicate.load(Ordering::Relaxed)
        );
        out.push_str("# HELP dpseg_campaign_reports_total Reports counted, by campaign.\n# TYPE dpseg_campaign_reports_total counter\n");
        if let Ok(m) = self.by_campaign.lock() {
            for (campaign, n) in m.iter() {
                let _ =
                    writeln!(out, "dpseg_campaign_reports_total{{campaign=\"{campaign}\"}} {n}");
            }
        }
        out.push_str("# HELP dpseg_reports_rejected_total Reports refused, by reason.\n# TYPE dpseg_reports_rejected_total counter\n");
        if let Ok(m) = self.rejected.lock() {
            for (code, n) in m.iter() {
                let _ = writeln!(out, "dpseg_reports_rejected_total{{reason=\"{code}\"}} {n}");
            }
        }
        out.push_str("# HELP dpseg_requests_refused_total Requests refused as a whole, by code.\n# TYPE dpseg_requests_refused_total counter\n");
        if let Ok(m) = self.refused.lock() {
            for (code, n) in m.iter() {
                let _ = writeln!(out, "dpseg_requests_refused_total{{code=\"{code}\"}} {n}");
            }
        }
        out.push_str("# HELP dpseg_http_request_duration_seconds Request latency by route.\n# TYPE dpseg_http_request_duration_seconds histogram\n");
        if let Ok(m) = self.requests.lock() {
            for (route, h) in m.iter() {
                h.render(
                    &mut out,
                    "dpseg_http_request_duration_seconds",
                    &format!("route=\"{route}\""),
                );
            }
        }
        out.push_str("# HELP dpseg_storage_commit_duration_seconds Latency of storage commits.\n# TYPE dpseg_storage_commit_duration_seconds histogram\n");
        self.storage.render(&mut out, "dpseg_storage_commit_duration_seconds", "");
        out
    }
}
