//! Bearer tokens: the dashboard's estimates and the public `/metrics` need one whose SHA-256
//! digest is configured.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::{token_digest, AppState};

pub(crate) fn authorized(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token)
    else {
        return false;
    };
    // Digests, not tokens, are compared: how long a comparison of SHA-256 outputs takes tells
    // nothing useful about the token, so a plain comparison is enough.
    state.config.token_digests.contains(&token_digest(token.trim()))
}

pub(crate) fn unauthorized() -> Response {
    let mut r =
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "a valid bearer token is required")
            .into_response();
    r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    r
}
