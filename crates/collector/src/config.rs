//! The collector's configuration: server limits and policy, and the token digests.

use sha2::{Digest, Sha256};

use crate::ratelimit;

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
    /// The data map, served at `GET /v1/schema` in its JSON form (the SDK reads no TOML) and at
    /// `GET /v1/schema/compact` in the compact form the runtime checks and reads
    /// (docs/compiled.md); `None` serves 404 for both.
    pub schema: Option<dpseg::schema::Schema>,
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
            schema: None,
            admin_listener: false,
            statics: Vec::new(),
        }
    }
}

/// The SHA-256 digest under which a bearer token is kept.
pub fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}
