//! Static files under URL prefixes (`--static PREFIX=DIR`): for the demo's site and the browser
//! package on the collector's origin. `tower-http`'s `ServeDir` serves them, compressed with gzip
//! or brotli when the browser accepts it, with `Cache-Control: no-cache` (revalidated with
//! `If-Modified-Since`, since the names carry no content hash); around it, dotfiles (`.env`, `.git/…`) are never
//! served, and a directory's redirect to its trailing slash keeps the URL prefix and can never
//! become a `//host` (protocol-relative, so another site's) `Location`.

use axum::body::Body;
use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower::ServiceExt;
use tower_http::services::ServeDir;

use crate::ApiError;

/// Adds the static directories to `router`: `/` as the fallback, others nested at their prefix.
pub fn mount<S: Clone + Send + Sync + 'static>(
    mut router: Router<S>,
    statics: &[(String, std::path::PathBuf)],
) -> Router<S> {
    let mut root = None;
    for (prefix, dir) in statics {
        let prefix = prefix.trim_end_matches('/').to_owned();
        if prefix.is_empty() {
            root = Some(dir.clone());
        } else {
            router = router.nest_service(&prefix, files(dir.clone(), prefix.clone()));
        }
    }
    match root {
        Some(dir) => router.fallback_service(files(dir, String::new())),
        None => router.fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "not-found", "no such endpoint")
        }),
    }
}

/// `dir` served for requests under `prefix` (already stripped from their path by the router).
fn files(
    dir: std::path::PathBuf,
    prefix: String,
) -> impl tower::Service<
    Request<Body>,
    Response = Response,
    Error = std::convert::Infallible,
    Future = impl Send + 'static,
> + Clone
       + Send
       + Sync
       + 'static {
    let serve = ServeDir::new(dir);
    tower::service_fn(move |req: Request<Body>| {
        let (serve, prefix) = (serve.clone(), prefix.clone());
        async move {
            if req.uri().path().split('/').any(hidden) {
                return Ok(ApiError::new(StatusCode::NOT_FOUND, "not-found", "no such file")
                    .into_response());
            }
            let mut resp = serve.oneshot(req).await.map(IntoResponse::into_response)?;
            // The files keep their names across versions (the package is not content-hashed):
            // a browser revalidates each use (a 304 when unchanged) instead of guessing a
            // freshness from Last-Modified and mixing an old module with a new one.
            resp.headers_mut()
                .entry(header::CACHE_CONTROL)
                .or_insert(HeaderValue::from_static("no-cache"));
            // A redirect (not a 304, which has no Location) gets its Location made safe.
            if let Some(location) = resp.headers().get(header::LOCATION) {
                let safe = location
                    .to_str()
                    .ok()
                    .and_then(|l| HeaderValue::from_str(&safe_location(&prefix, l)).ok());
                match safe {
                    Some(l) => {
                        resp.headers_mut().insert(header::LOCATION, l);
                    }
                    None => {
                        resp = ApiError::new(StatusCode::NOT_FOUND, "not-found", "no such file")
                            .into_response();
                    }
                }
            }
            Ok(resp)
        }
    })
}

/// A path segment naming a dotfile, also percent-encoded (`%2e`), as `ServeDir` decodes it.
fn hidden(segment: &str) -> bool {
    segment.starts_with('.') || segment.get(..3).is_some_and(|s| s.eq_ignore_ascii_case("%2e"))
}

/// The `Location` of a redirect to `location` (a path under `prefix`): the prefix put back and
/// every run of leading slashes made one, so it stays on this origin.
pub fn safe_location(prefix: &str, location: &str) -> String {
    format!("{prefix}/{}", location.trim_start_matches(['/', '\\']))
}

#[cfg(test)]
mod tests {
    use super::safe_location;

    #[test]
    fn locations_keep_the_prefix_and_stay_on_this_origin() {
        assert_eq!(safe_location("/dpseg", "/sub/"), "/dpseg/sub/");
        assert_eq!(safe_location("", "/sub/"), "/sub/");
        assert_eq!(safe_location("", "//evil.example/"), "/evil.example/");
        assert_eq!(safe_location("", "/\\evil.example/"), "/evil.example/");
        assert_eq!(safe_location("/pkg", "//evil.example/x/"), "/pkg/evil.example/x/");
    }
}
