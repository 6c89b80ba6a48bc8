//! `POST /v1/reports`: a bounded, strict body parse, validation of every report against the
//! served campaign and the epoch window, the per-address report limit, and the answer after the
//! writer committed.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use dpseg::report::Report;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::error::ApiError;
use crate::writer::{Accepted, Job};
use crate::{parse, AppState, Peer};

pub(crate) async fn post_reports(
    State(state): State<Arc<AppState>>,
    peer: Option<axum::Extension<Peer>>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let peer = peer.map(|axum::Extension(Peer(ip))| ip);
    ingest(&state, peer, &headers, body).await.unwrap_or_else(|e| {
        state.metrics.refused(e.code);
        e.into_response()
    })
}

async fn ingest(
    state: &AppState,
    peer: Option<std::net::IpAddr>,
    headers: &HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body-too-large",
                format!("request body is over {} bytes", state.config.body_bytes_max),
            )
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, "bad-body", e.body_text())
        }
    })?;
    // The media type's essence, case-insensitively (RFC 9110 §8.3.1); `text/plain` is what a
    // browser sends without a CORS preflight.
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .is_some_and(|t| t == "application/json" || t == "text/plain");
    if !json_type {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "bad-content-type",
            "send reports as application/json",
        ));
    }
    let items = parse::split_reports(&body, state.config.reports_max).map_err(|e| match e {
        parse::BodyError::NotArray => ApiError::new(
            StatusCode::BAD_REQUEST,
            "not-an-array",
            "the body must be a JSON array of reports",
        ),
        parse::BodyError::TooMany => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-many-reports",
            format!("more than {} reports in one request", state.config.reports_max),
        ),
        parse::BodyError::Syntax(e) => {
            ApiError::new(StatusCode::BAD_REQUEST, "bad-json", format!("the body is not JSON: {e}"))
        }
    })?;
    // Reports, not requests, are what a fabricating client multiplies: they are what is limited.
    if let Some(ip) = peer {
        state.limits.reports(ip, items.len(), &state.config.rates).map_err(|wait| {
            ApiError::rate_limited(
                format!("too many reports from this address or its network; retry in {wait} s"),
                wait,
            )
        })?;
    }
    let now = (state.clock)();
    let mut accepted = Vec::new();
    let mut positions = Vec::new();
    let mut rejected = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        match validate(state, item, now) {
            Ok(a) => {
                positions.push(i);
                accepted.push(a);
            }
            Err((code, message)) => {
                state.metrics.rejected(code);
                rejected.push(json!({"index": i, "code": code, "message": message}));
            }
        }
    }
    let fresh = if accepted.is_empty() {
        Vec::new()
    } else {
        let (reply, wait) = oneshot::channel();
        let unavailable = || {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage-unavailable",
                "reports could not be stored; retry later",
            )
        };
        let campaigns: Vec<usize> = accepted.iter().map(|a| a.campaign).collect();
        state.writer.send(Job { reports: accepted, reply }).await.map_err(|_| unavailable())?;
        let fresh = wait.await.map_err(|_| unavailable())?.map_err(|()| unavailable())?;
        for (&c, _) in campaigns.iter().zip(&fresh).filter(|(_, &f)| f) {
            state.metrics.counted_for(state.catalog.campaigns[c].compiled.campaign().id(), 1);
        }
        fresh
    };
    Ok(respond(state, positions, fresh, rejected))
}

/// The answer to a batch: which reports were counted, which were duplicates, which rejected.
fn respond(
    state: &AppState,
    positions: Vec<usize>,
    fresh: Vec<bool>,
    rejected: Vec<Value>,
) -> Response {
    let (mut ok, mut dup) = (Vec::new(), Vec::new());
    for (i, f) in positions.into_iter().zip(fresh) {
        if f {
            ok.push(i)
        } else {
            dup.push(i)
        }
    }
    state.metrics.accepted(ok.len() as u64, dup.len() as u64);
    Json(json!({"accepted": ok, "duplicate": dup, "rejected": rejected})).into_response()
}

fn validate(
    state: &AppState,
    item: &serde_json::value::RawValue,
    now: i64,
) -> Result<Accepted, (&'static str, String)> {
    parse::no_duplicate_keys(item)
        .map_err(|e| ("duplicate-key", format!("report is not I-JSON: {e}")))?;
    let report: Report = serde_json::from_str(item.get())
        .map_err(|e| ("report-syntax", format!("report is not valid: {e}")))?;
    let Some(&index) = state.catalog.by_id.get(&report.campaign) else {
        return Err((
            "unknown-campaign",
            format!("campaign '{}' is not served here", report.campaign),
        ));
    };
    let served = &state.catalog.campaigns[index];
    let c = served.compiled.campaign();
    let decoded = report
        .decode(c.id(), served.compiled.config_id(), &served.mechanism)
        .map_err(|e| (e.code(), e.to_string()))?;
    let current = u64::try_from(now.div_euclid(c.epoch().secs())).unwrap_or(0);
    let lowest = current.saturating_sub(state.config.epochs_back);
    if decoded.epoch < lowest || decoded.epoch > current + 1 {
        return Err((
            "epoch-out-of-window",
            format!(
                "epoch {} is outside the accepted window {lowest}..={}",
                decoded.epoch,
                current + 1
            ),
        ));
    }
    Ok(Accepted {
        campaign: index,
        epoch: decoded.epoch,
        nonce: decoded.nonce,
        slots: decoded.slots,
    })
}
