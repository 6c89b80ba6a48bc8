//! Liveness and readiness (docs/collector.md, "Health").
//!
//! `/healthz` answers whether the process and its database connection are alive (a read).
//! `/readyz` answers whether reports sent now would be stored: it commits a write to the probe
//! row ([`Store::probe_write`]) and fails while the last batch's commit failed recently, so a
//! load balancer stops sending reports to a collector whose writes fail (disk full, read-only
//! file, a lock held too long, a database that went away) and sends them again once a write
//! commits.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::{ApiError, AppState};

/// How long a failed commit keeps the collector not ready when no commit has succeeded since,
/// even if the probe's small write passes (a full disk can take one row and not a batch).
pub const FAILED_COMMIT_NOT_READY: Duration = Duration::from_secs(10);

/// The outcome of the writer's last commits.
#[derive(Debug, Default)]
pub struct WriteHealth {
    inner: Mutex<Outcomes>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Outcomes {
    last_success: Option<Instant>,
    last_failure: Option<Instant>,
}

impl WriteHealth {
    /// Records a committed batch.
    pub fn committed(&self) {
        if let Ok(mut o) = self.inner.lock() {
            o.last_success = Some(Instant::now());
        }
    }

    /// Records a batch whose commit failed.
    pub fn failed(&self) {
        if let Ok(mut o) = self.inner.lock() {
            o.last_failure = Some(Instant::now());
        }
    }

    /// True when the last commit failed less than [`FAILED_COMMIT_NOT_READY`] ago.
    pub fn failing(&self) -> bool {
        let Ok(o) = self.inner.lock() else { return true };
        match (o.last_failure, o.last_success) {
            (Some(f), s) if s.is_none_or(|s| s < f) => f.elapsed() < FAILED_COMMIT_NOT_READY,
            _ => false,
        }
    }
}

/// `GET /healthz`: the process answers and the database answers a read.
pub async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    match state.store().ping().await {
        Ok(()) => {
            Json(json!({"status": "ok", "campaigns": state.campaign_count()})).into_response()
        }
        Err(e) => {
            eprintln!("dpseg-collector: health check failed: {e}");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage-unavailable",
                "the database does not answer",
            )
            .into_response()
        }
    }
}

/// `GET /readyz`: a write commits now and the last batch did not just fail.
pub async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    if let Err(e) = state.store().probe_write().await {
        eprintln!("dpseg-collector: readiness probe failed: {e}");
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not-ready",
            "a write to the database does not commit",
        )
        .into_response();
    }
    if state.write_health().failing() {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not-ready",
            "the last batch of reports could not be committed",
        )
        .into_response();
    }
    Json(json!({"status": "ready"})).into_response()
}
