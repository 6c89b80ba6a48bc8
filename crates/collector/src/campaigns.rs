//! The campaigns' endpoints: the list, one campaign's document, the data map, and the
//! authenticated estimates with their report-rate anomaly flag.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::collections::BTreeMap;

use dpseg::estimate::Tally;
use dpseg::wire::{
    estimates_per_value, Anomaly, CampaignList, CampaignSummary, EpochEstimates, Estimates,
    MechanismSummary,
};

use crate::auth::{authorized, unauthorized};
use crate::catalog::Served;
use crate::error::ApiError;
use crate::{store, AppState};

pub(crate) async fn get_campaign(
    State(state): State<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
) -> Response {
    match state.catalog.get(&id) {
        Some(s) => {
            let mut r = Json(&s.document).into_response();
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
            r
        }
        None => ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown-campaign",
            format!("campaign '{id}' is not served here"),
        )
        .into_response(),
    }
}

pub(crate) async fn get_estimates(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    estimates_response(&state, &headers, &id, &query)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn estimates_response(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
    query: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    if !authorized(state, headers) {
        state.metrics.refused("unauthorized");
        return Ok(unauthorized());
    }
    let served = state.catalog.get(id).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown-campaign",
            format!("campaign '{id}' is not served here"),
        )
    })?;
    let epoch = match query.get("epoch") {
        // Epochs are stored as signed 64-bit integers: a larger number names no epoch.
        Some(e) => {
            Some(e.parse::<u64>().ok().filter(|&n| i64::try_from(n).is_ok()).ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad-epoch",
                    format!("epoch '{e}' is not a number from 0 to {}", i64::MAX),
                )
            })?)
        }
        None => None,
    };
    let rows = state.store.counters(id, epoch).await.map_err(|e| {
        eprintln!("dpseg-collector: reading counters failed: {e}");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage-unavailable",
            "estimates could not be read; retry later",
        )
    })?;
    Ok(Json(estimates_json(served, &rows)).into_response())
}

/// Estimates per epoch of the served configuration, from stored counters.
pub fn estimates_json(served: &Served, rows: &[store::CounterRow]) -> Estimates {
    let config_id = served.compiled.config_id();
    let mut tallies: BTreeMap<u64, Tally> = BTreeMap::new();
    let mut stale: BTreeMap<u64, u64> = BTreeMap::new();
    for r in rows {
        if r.config_id == config_id {
            tallies
                .entry(r.epoch)
                .or_insert_with(|| Tally::new(&served.mechanism))
                .set_counter(&r.key, r.value);
        } else if r.key == "reports" {
            *stale.entry(r.epoch).or_default() += r.value;
        }
    }
    let c = served.compiled.campaign();
    let counts: Vec<(u64, u64)> = tallies.iter().map(|(e, t)| (*e, t.reports())).collect();
    let epochs = tallies
        .iter()
        .map(|(&epoch, tally)| EpochEstimates {
            epoch,
            reports: tally.reports(),
            values: estimates_per_value(c, &served.mechanism, tally),
            report_rate_anomaly: report_rate_anomaly(&counts, epoch),
        })
        .collect();
    Estimates {
        campaign: c.id().to_owned(),
        config_id: config_id.to_owned(),
        mechanism: MechanismSummary::new(&served.mechanism),
        epochs,
        stale_config_reports: stale,
    }
}

/// An epoch's reports are an anomaly when they pass this multiple of the median of the epochs
/// before it.
pub const ANOMALY_FACTOR: f64 = 3.0;

/// The anomaly when epoch `epoch` received more than [`ANOMALY_FACTOR`] times the median reports
/// of the (up to 7) epochs before it that have reports, given at least 3 of them. Devices report
/// once per epoch, so a population does not triple overnight: many more reports than usual are a
/// sign of fabricated ones (docs/collector.md, "Threat model").
pub fn report_rate_anomaly(counts: &[(u64, u64)], epoch: u64) -> Option<Anomaly> {
    let &(_, n) = counts.iter().find(|(e, _)| *e == epoch)?;
    let mut before: Vec<u64> =
        counts.iter().filter(|(e, _)| *e < epoch && *e + 8 > epoch).map(|(_, n)| *n).collect();
    if before.len() < 3 {
        return None;
    }
    before.sort_unstable();
    let median = before[before.len() / 2].max(1);
    #[allow(clippy::cast_precision_loss, reason = "report counts are far below 2^53")]
    let factor = n as f64 / median as f64;
    (factor > ANOMALY_FACTOR).then_some(Anomaly { reports: n, median_before: median, factor })
}

pub(crate) async fn list_campaigns(State(state): State<Arc<AppState>>) -> Response {
    let campaigns = state.catalog.all().iter().map(|s| CampaignSummary::new(&s.compiled)).collect();
    Json(CampaignList { campaigns }).into_response()
}

fn no_schema() -> Response {
    ApiError::new(StatusCode::NOT_FOUND, "not-found", "this collector serves no data map")
        .into_response()
}

/// `GET /v1/schema`: the data map's JSON form (labels, purposes and what is kept before
/// consent, for the SDK and the preference center).
pub(crate) async fn get_schema(State(state): State<Arc<AppState>>) -> Response {
    let Some(schema) = &state.config.schema else { return no_schema() };
    let mut r = Json(schema.to_json()).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    r
}

/// `GET /v1/schema/compact`: the data map's compact form, which the runtime reads and whose
/// `schema_id` the served campaigns were compiled against.
pub(crate) async fn get_schema_compact(State(state): State<Arc<AppState>>) -> Response {
    let Some(schema) = &state.config.schema else { return no_schema() };
    let mut r = schema.to_compact().into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    r
}
