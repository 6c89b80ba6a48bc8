//! The routers: the public one (API, health, statics) and the operator's (`--admin-listen`),
//! with their middleware — the per-address request limit, request timing keyed on the matched
//! route, compression, the body limit and CORS for the browser's endpoints.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tower_http::cors::{Any, CorsLayer};

use crate::auth::{authorized, unauthorized};
use crate::campaigns::{
    get_campaign, get_estimates, get_schema, get_schema_compact, list_campaigns,
};
use crate::error::ApiError;
use crate::reports::post_reports;
use crate::{health, metrics, statics, AppState, Peer};

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
        .route("/v1/schema/compact", get(get_schema_compact))
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
    // After every route: the fallback and the timing cover the routes added before them.
    let router = router
        .method_not_allowed_fallback(method_not_allowed)
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), timed));
    let router = statics::mount(router, &state.config.statics);
    router
        // gzip or brotli when the client accepts it: the browser package, the site, JSON.
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(DefaultBodyLimit::max(state.config.body_bytes_max))
        .layer(axum::middleware::from_fn_with_state(state.clone(), rate_limit))
        .with_state(state)
}

/// Records a routed request's latency under its matched route (`/v1/campaigns/{id}`, never the
/// path itself, so the label stays bounded).
async fn timed(
    State(state): State<Arc<AppState>>,
    route: MatchedPath,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let started = Instant::now();
    let response = next.run(request).await;
    state.metrics.request(route.as_str(), started.elapsed().as_secs_f64());
    response
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

/// The operator's router, for `--admin-listen`: `/metrics`, `/readyz` and `/healthz`, without a
/// token (the listener is the operator's, not the public's).
pub fn admin_app(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/metrics", get(metrics_text))
        .route("/readyz", get(health::readyz))
        .route("/healthz", get(health::healthz))
        .method_not_allowed_fallback(method_not_allowed)
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), timed))
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

async fn metrics_text(State(state): State<Arc<AppState>>) -> Response {
    let mut r = state.metrics.render().into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(metrics::CONTENT_TYPE));
    r
}
