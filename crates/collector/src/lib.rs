//! The dpseg collector (DESIGN §9): receives reports, keeps only aggregate counters, answers the
//! marketer with estimates.
//!
//! * [`Catalog`] — the campaigns served, linted and compiled at start-up.
//! * [`store`] — SQLite and PostgreSQL behind one interface.
//! * [`app`] — the HTTP router, built from an [`AppState`] so tests drive it in-process.
//! * A single writer task commits accepted reports in batches (group commit); a request is
//!   answered only after the transaction holding its reports has committed.
//!
//! API boundary: every error a client sees is `{"error": {"code", "message"}}` with a stable code;
//! storage details go to the operator's log only. Nothing about a request (address, user agent,
//! report) is stored or logged.

pub mod health;
pub mod metrics;
pub mod parse;
pub mod ratelimit;
pub mod serve;
pub mod statics;
pub mod store;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use dpseg::campaign::{lint, Campaign, CompiledCampaign, Finding, LintConfig, Severity};
use dpseg::estimate::{estimates, Tally};
use dpseg::limits::Limits;
use dpseg::privacy::mechanism::{Mechanism, Slot};
use dpseg::report::Report;
use dpseg::schema::Schema;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};
use tower_http::cors::{Any, CorsLayer};

use crate::metrics::Metrics;
use crate::store::{CounterDelta, NonceRow, Store, StoreError};

/// Server limits and policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Bytes of a request body. Default 1 MiB.
    pub body_bytes_max: usize,
    /// Reports in one `POST /v1/reports`. Default 1000.
    pub reports_max: usize,
    /// Past epochs still accepted (the current and next epoch always are). Default 2.
    pub epochs_back: u64,
    /// SHA-256 digests of the bearer tokens that may read estimates.
    pub token_digests: Vec<[u8; 32]>,
    /// Requests per address, reports per address and per prefix ([`ratelimit::RateConfig`]).
    pub rates: ratelimit::RateConfig,
    /// The data map in its JSON form, served at `GET /v1/schema` for the browser SDK (which
    /// reads no TOML); `Null` serves 404.
    pub schema_document: Value,
    /// True when `/metrics` and `/readyz` are served on their own listener ([`admin_app`]);
    /// otherwise the public router serves them, `/metrics` behind the bearer token.
    pub admin_listener: bool,
    /// Static directories served under URL prefixes (`/` for the site, `/dpseg` for the
    /// package), for the demo and the browser tests; empty in production setups that serve the
    /// site elsewhere.
    pub statics: Vec<(String, std::path::PathBuf)>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            body_bytes_max: 1 << 20,
            reports_max: 1000,
            epochs_back: 2,
            token_digests: Vec::new(),
            rates: ratelimit::RateConfig::default(),
            schema_document: Value::Null,
            admin_listener: false,
            statics: Vec::new(),
        }
    }
}

/// The SHA-256 digest under which a bearer token is kept.
pub fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A campaign as served.
#[derive(Debug, Clone)]
pub struct Served {
    /// Compiled campaign.
    pub compiled: CompiledCampaign,
    /// Its mechanism.
    pub mechanism: Mechanism,
    /// `GET /v1/campaigns/{id}`'s body.
    pub document: Value,
}

/// The campaigns a collector serves.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    campaigns: Vec<Served>,
    by_id: HashMap<String, usize>,
}

/// A campaign file and what the lint found in it.
#[derive(Debug)]
pub struct Checked {
    /// The file.
    pub path: std::path::PathBuf,
    /// The campaign, when the file parsed.
    pub campaign: Result<Campaign, String>,
    /// Lint findings.
    pub findings: Vec<Finding>,
}

impl Checked {
    /// True when the campaign parsed and has no error findings.
    pub fn is_ok(&self) -> bool {
        self.campaign.is_ok() && self.findings.iter().all(|f| f.severity != Severity::Error)
    }
}

/// Reads every `*.toml` in `dir` (sorted by name) and lints it against `schema`.
///
/// # Errors
/// When the directory cannot be read.
pub fn check_campaign_dir(
    dir: &Path,
    schema: &Schema,
    config: &LintConfig,
    limits: &Limits,
) -> std::io::Result<Vec<Checked>> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path)?;
        let campaign = Campaign::from_toml(&text, limits).map_err(|e| e.to_string());
        let findings =
            campaign.as_ref().map(|c| lint(c, schema, config, limits)).unwrap_or_default();
        out.push(Checked { path, campaign, findings });
    }
    Ok(out)
}

impl Catalog {
    /// Builds the catalog from checked campaigns.
    ///
    /// # Errors
    /// A message naming every campaign that failed to parse, lint or compile.
    pub fn new(checked: Vec<Checked>, schema: &Schema, limits: &Limits) -> Result<Catalog, String> {
        let mut problems = Vec::new();
        let mut catalog = Catalog::default();
        for c in checked {
            let shown = c.path.display().to_string();
            let ok = c.is_ok();
            let campaign = match c.campaign {
                Ok(campaign) if ok => campaign,
                Ok(_) => {
                    let errors: Vec<String> = c
                        .findings
                        .iter()
                        .filter(|f| f.severity == Severity::Error)
                        .map(|f| format!("{shown}: {f}"))
                        .collect();
                    problems.push(errors.join("\n"));
                    continue;
                }
                Err(e) => {
                    problems.push(format!("{shown}: {e}"));
                    continue;
                }
            };
            let compiled = match campaign.compile(schema, limits) {
                Ok(c) => c,
                Err(f) => {
                    problems.push(
                        f.iter().map(|f| format!("{shown}: {f}")).collect::<Vec<_>>().join("\n"),
                    );
                    continue;
                }
            };
            let Some(mechanism) = compiled.mechanism().cloned() else {
                problems.push(format!("{shown}: campaign has no segments or groups to report"));
                continue;
            };
            if catalog.by_id.contains_key(&campaign.id) {
                problems.push(format!("{shown}: campaign id '{}' is served twice", campaign.id));
                continue;
            }
            let document = json!({
                "id": campaign.id,
                "config_id": compiled.config_id(),
                "purpose": campaign.purpose,
                "epoch": campaign.epoch,
                "epoch_secs": campaign.epoch.secs(),
                "epsilon": campaign.epsilon,
                "epsilon_lifetime": campaign.epsilon_lifetime,
                "segments": campaign.segments,
                "groups": campaign.groups,
                "review": campaign.review,
                "mechanism": mechanism,
            });
            catalog.by_id.insert(campaign.id.clone(), catalog.campaigns.len());
            catalog.campaigns.push(Served { compiled, mechanism, document });
        }
        if problems.is_empty() {
            Ok(catalog)
        } else {
            Err(problems.join("\n"))
        }
    }

    /// The campaign called `id`.
    pub fn get(&self, id: &str) -> Option<&Served> {
        self.by_id.get(id).and_then(|&i| self.campaigns.get(i))
    }

    /// Every campaign.
    pub fn all(&self) -> &[Served] {
        &self.campaigns
    }
}

/// A report that passed validation, waiting to be committed.
#[derive(Debug, Clone)]
struct Accepted {
    campaign: usize,
    epoch: u64,
    nonce: [u8; 16],
    slots: Vec<Slot>,
}

struct Job {
    reports: Vec<Accepted>,
    reply: oneshot::Sender<Result<Vec<bool>, ()>>,
}

/// Everything the handlers share.
pub struct AppState {
    catalog: Catalog,
    store: Store,
    config: Config,
    metrics: Metrics,
    writer: mpsc::Sender<Job>,
    write_health: health::WriteHealth,
    limits: ratelimit::RateLimits,
    /// The clock, injectable for tests: Unix seconds.
    clock: Box<dyn Fn() -> i64 + Send + Sync>,
}

impl AppState {
    /// State over `store`, serving `catalog`; starts the writer task (needs a Tokio runtime).
    pub fn new(catalog: Catalog, store: Store, config: Config) -> Arc<AppState> {
        AppState::with_clock(catalog, store, config, Box::new(wall_clock))
    }

    /// As [`AppState::new`] with a clock of Unix seconds.
    pub fn with_clock(
        catalog: Catalog,
        store: Store,
        config: Config,
        clock: Box<dyn Fn() -> i64 + Send + Sync>,
    ) -> Arc<AppState> {
        let (tx, rx) = mpsc::channel(1024);
        let state = Arc::new(AppState {
            catalog,
            store,
            config,
            metrics: Metrics::default(),
            writer: tx,
            write_health: health::WriteHealth::default(),
            limits: ratelimit::RateLimits::default(),
            clock,
        });
        tokio::spawn(writer(Arc::downgrade(&state), rx));
        state
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The outcome of the writer's last commits.
    pub fn write_health(&self) -> &health::WriteHealth {
        &self.write_health
    }

    /// How many campaigns are served.
    pub fn campaign_count(&self) -> usize {
        self.catalog.all().len()
    }

    /// Deletes nonces older than the acceptance window of every campaign.
    ///
    /// # Errors
    /// On a storage failure.
    pub async fn prune(&self) -> Result<u64, StoreError> {
        let now = (self.clock)();
        let mut total = 0;
        for s in self.catalog.all() {
            let c = s.compiled.campaign();
            let current = u64::try_from(now.div_euclid(c.epoch.secs())).unwrap_or(0);
            total += self
                .store
                .prune_nonces(&c.id, current.saturating_sub(self.config.epochs_back))
                .await?;
        }
        Ok(total)
    }
}

fn wall_clock() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Reports per transaction at most, when batching waiting requests together.
const COMMIT_REPORTS_MAX: usize = 20_000;

/// The single writer: takes every waiting job, commits them in one transaction, then answers.
async fn writer(state: std::sync::Weak<AppState>, mut rx: mpsc::Receiver<Job>) {
    while let Some(first) = rx.recv().await {
        let Some(state) = state.upgrade() else { return };
        let mut jobs = vec![first];
        let mut total = jobs[0].reports.len();
        while total < COMMIT_REPORTS_MAX {
            match rx.try_recv() {
                Ok(job) => {
                    total += job.reports.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        let reports: Vec<&Accepted> = jobs.iter().flat_map(|j| j.reports.iter()).collect();
        let nonces: Vec<NonceRow<'_>> = reports
            .iter()
            .map(|r| NonceRow {
                campaign: &state.catalog.campaigns[r.campaign].compiled.campaign().id,
                nonce: r.nonce,
                epoch: r.epoch,
            })
            .collect();
        let started = Instant::now();
        let result =
            state.store.ingest(&nonces, |fresh| deltas(&state.catalog, &reports, fresh)).await;
        state.metrics.storage.observe(started.elapsed().as_secs_f64());
        match result {
            Ok(fresh) => {
                state.write_health.committed();
                let mut offset = 0;
                for job in jobs {
                    let n = job.reports.len();
                    let _ = job.reply.send(Ok(fresh[offset..offset + n].to_vec()));
                    offset += n;
                }
            }
            Err(e) => {
                state.write_health.failed();
                eprintln!("dpseg-collector: commit failed: {e}");
                for job in jobs {
                    let _ = job.reply.send(Err(()));
                }
            }
        }
    }
}

/// The counter increments of the new reports, tallied per (campaign, config, epoch).
fn deltas(catalog: &Catalog, reports: &[&Accepted], fresh: &[bool]) -> Vec<CounterDelta> {
    let mut tallies: HashMap<(usize, u64), Tally> = HashMap::new();
    for (r, _) in reports.iter().zip(fresh).filter(|(_, &f)| f) {
        let served = &catalog.campaigns[r.campaign];
        tallies
            .entry((r.campaign, r.epoch))
            .or_insert_with(|| Tally::new(&served.mechanism))
            .add(&served.mechanism, &r.slots);
    }
    let mut out = Vec::new();
    for ((c, epoch), tally) in tallies {
        let served = &catalog.campaigns[c];
        for (key, delta) in tally.counters().into_iter().filter(|(_, v)| *v > 0) {
            out.push(CounterDelta {
                campaign: served.compiled.campaign().id.clone(),
                config_id: served.compiled.config_id().to_owned(),
                epoch,
                key,
                delta,
            });
        }
    }
    out
}

/// The client's address, as the rate limiter saw it (in the request's extensions).
#[derive(Debug, Clone, Copy)]
struct Peer(std::net::IpAddr);

/// A client-facing error.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: Option<u64>,
}

impl ApiError {
    pub(crate) fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError { status, code, message: message.into(), retry_after: None }
    }

    /// `429 rate-limited` with `Retry-After: wait`.
    fn rate_limited(message: impl Into<String>, wait: u64) -> ApiError {
        ApiError {
            retry_after: Some(wait),
            ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate-limited", message)
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r =
            (self.status, Json(json!({"error": {"code": self.code, "message": self.message}})))
                .into_response();
        if let Some(wait) = self.retry_after {
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait));
        }
        r
    }
}

/// The router. Browsers may call `POST /v1/reports` and `GET /v1/campaigns/{id}` from any
/// origin (CORS); estimates are for the dashboard and need a bearer token.
pub fn app(state: Arc<AppState>) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::CONTENT_TYPE])
        // The SDK reads the collector's clock to refuse to spend ε with a wrong device clock.
        .expose_headers([header::DATE]);
    let public = Router::new()
        .route("/v1/reports", post(post_reports))
        .route("/v1/campaigns", get(list_campaigns))
        .route("/v1/campaigns/{id}", get(get_campaign))
        .route("/v1/schema", get(get_schema))
        .method_not_allowed_fallback(method_not_allowed)
        .layer(cors);
    let mut router = Router::new()
        .merge(public)
        .route("/v1/campaigns/{id}/estimates", get(get_estimates))
        .route("/healthz", get(health::healthz));
    if !state.config.admin_listener {
        router = router
            .route("/readyz", get(health::readyz))
            .route("/metrics", get(metrics_behind_token));
    }
    // After every route: the fallback covers the routes added before it.
    let router = router.method_not_allowed_fallback(method_not_allowed);
    let router = statics::mount(router, &state.config.statics);
    router
        // gzip or brotli when the client accepts it: the browser package, the site, JSON.
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(DefaultBodyLimit::max(state.config.body_bytes_max))
        .layer(axum::middleware::from_fn_with_state(state.clone(), rate_limit))
        .with_state(state)
}

async fn rate_limit(
    State(state): State<Arc<AppState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    // The peer as `axum::serve` records it (or as a test's MockConnectInfo sets it).
    let ext = request.extensions();
    let peer =
        ext.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0).or_else(|| {
            ext.get::<axum::extract::connect_info::MockConnectInfo<std::net::SocketAddr>>()
                .map(|m| m.0)
        });
    let mut request = request;
    // The API's requests are limited; the static files a page loads alongside (the demo's site
    // and package, many per page view) are not.
    let api = request.uri().path().starts_with("/v1/");
    if let Some(ip) = peer.map(|p| p.ip()) {
        if api {
            if let Err(wait) = state.limits.request(ip, &state.config.rates) {
                state.metrics.refused("rate-limited");
                return ApiError::rate_limited(
                    "too many requests from this address; slow down",
                    wait,
                )
                .into_response();
            }
        }
        request.extensions_mut().insert(Peer(ip));
    }
    next.run(request).await
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "this endpoint does not take that method",
    )
}

async fn post_reports(
    State(state): State<Arc<AppState>>,
    peer: Option<axum::Extension<Peer>>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let started = Instant::now();
    let peer = peer.map(|axum::Extension(Peer(ip))| ip);
    let response = ingest(&state, peer, &headers, body).await.unwrap_or_else(|e| {
        state.metrics.refused(e.code);
        e.into_response()
    });
    state.metrics.request("reports", started.elapsed().as_secs_f64());
    response
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
            state.metrics.counted_for(&state.catalog.campaigns[c].compiled.campaign().id, 1);
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
        .decode(&c.id, served.compiled.config_id(), &served.mechanism)
        .map_err(|e| (e.code(), e.to_string()))?;
    let current = u64::try_from(now.div_euclid(c.epoch.secs())).unwrap_or(0);
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

async fn get_campaign(
    State(state): State<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
) -> Response {
    let started = Instant::now();
    let response = match state.catalog.get(&id) {
        Some(s) => {
            let mut r = Json(s.document.clone()).into_response();
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
    };
    state.metrics.request("campaign", started.elapsed().as_secs_f64());
    response
}

fn authorized(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token)
    else {
        return false;
    };
    let digest = token_digest(token.trim());
    // Constant time: every configured digest is compared in full.
    state.config.token_digests.iter().fold(false, |hit, d| {
        hit | (d.iter().zip(&digest).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0)
    })
}

async fn get_estimates(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let started = Instant::now();
    let response = estimates_response(&state, &headers, &id, &query)
        .await
        .unwrap_or_else(IntoResponse::into_response);
    state.metrics.request("estimates", started.elapsed().as_secs_f64());
    response
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
pub fn estimates_json(served: &Served, rows: &[store::CounterRow]) -> Value {
    let config_id = served.compiled.config_id();
    let mut tallies: std::collections::BTreeMap<u64, Tally> = std::collections::BTreeMap::new();
    let mut stale: std::collections::BTreeMap<u64, u64> = std::collections::BTreeMap::new();
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
    let epochs: Vec<Value> = tallies
        .iter()
        .map(|(epoch, tally)| {
            let est = estimates(&served.mechanism, tally);
            let segs = c.segments.len();
            let (segments, groups) = c.per_value_json(|i, v| json!(est[i][if i < segs { 0 } else { v }]));
            let anomaly = report_rate_anomaly(&counts, *epoch);
            json!({"epoch": epoch, "reports": tally.reports(), "segments": segments, "groups": groups,
                   "report_rate_anomaly": anomaly})
        })
        .collect();
    json!({
        "campaign": c.id,
        "config_id": config_id,
        "mechanism": {"per_report": served.mechanism.per_report(), "epsilon_report": served.mechanism.eps_report(), "epsilon_lifetime": served.mechanism.eps_lifetime()},
        "epochs": epochs,
        "stale_config_reports": stale,
    })
}

/// An epoch's reports are an anomaly when they pass this multiple of the median of the epochs
/// before it.
pub const ANOMALY_FACTOR: f64 = 3.0;

/// `{reports, median_before, factor}` when epoch `epoch` received more than [`ANOMALY_FACTOR`]
/// times the median reports of the (up to 7) epochs before it that have reports, given at least
/// 3 of them; `null` otherwise. Devices report once per epoch, so a population does not triple
/// overnight: many more reports than usual are a sign of fabricated ones (docs/collector.md,
/// "Threat model").
pub fn report_rate_anomaly(counts: &[(u64, u64)], epoch: u64) -> Value {
    let Some(&(_, n)) = counts.iter().find(|(e, _)| *e == epoch) else { return Value::Null };
    let mut before: Vec<u64> =
        counts.iter().filter(|(e, _)| *e < epoch && *e + 8 > epoch).map(|(_, n)| *n).collect();
    if before.len() < 3 {
        return Value::Null;
    }
    before.sort_unstable();
    let median = before[before.len() / 2].max(1);
    #[allow(clippy::cast_precision_loss, reason = "report counts are far below 2^53")]
    let factor = n as f64 / median as f64;
    if factor > ANOMALY_FACTOR {
        json!({"reports": n, "median_before": median, "factor": factor})
    } else {
        Value::Null
    }
}

async fn list_campaigns(State(state): State<Arc<AppState>>) -> Response {
    let list: Vec<Value> = state
        .catalog
        .all()
        .iter()
        .map(|s| {
            let c = s.compiled.campaign();
            json!({"id": c.id, "config_id": s.compiled.config_id(), "purpose": c.purpose,
                   "epoch_secs": c.epoch.secs(), "epsilon": c.epsilon})
        })
        .collect();
    Json(json!({"campaigns": list})).into_response()
}

async fn get_schema(State(state): State<Arc<AppState>>) -> Response {
    if state.config.schema_document.is_null() {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "this collector serves no data map",
        )
        .into_response();
    }
    let mut r = Json(state.config.schema_document.clone()).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    r
}

/// The operator's router, for `--admin-listen`: `/metrics`, `/readyz` and `/healthz`, without a
/// token (the listener is the operator's, not the public's).
pub fn admin_app(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/metrics", get(metrics_text))
        .route("/readyz", get(health::readyz))
        .route("/healthz", get(health::healthz))
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "not-found", "no such endpoint")
        })
        .with_state(state)
}

/// `/metrics` on the public listener: for holders of a dashboard token only.
async fn metrics_behind_token(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if !authorized(&state, &headers) {
        state.metrics.refused("unauthorized");
        return unauthorized();
    }
    metrics_text(State(state)).await
}

fn unauthorized() -> Response {
    let mut r =
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "a valid bearer token is required")
            .into_response();
    r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    r
}

async fn metrics_text(State(state): State<Arc<AppState>>) -> Response {
    let mut r = state.metrics.render().into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
    r
}
