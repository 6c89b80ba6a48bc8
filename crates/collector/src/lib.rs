//! The dpseg collector (docs/collector.md): receives reports, keeps only aggregate counters, answers the
//! marketer with estimates.
//!
//! * [`Catalog`] (`catalog.rs`) — the campaigns served, linted and compiled at start-up;
//!   [`Config`] (`config.rs`) — limits and policy.
//! * [`store`] — SQLite and PostgreSQL behind one interface, with `sqlx`'s migrations.
//! * [`app`] and [`admin_app`] (`router.rs`) — the HTTP routers and their middleware, built from
//!   an [`AppState`] so tests drive them in-process; the handlers are in `reports.rs` and
//!   `campaigns.rs`, bearer tokens in `auth.rs`, the error shape in `error.rs`.
//! * `writer.rs` — the single writer task commits accepted reports in batches (group commit); a
//!   request is answered only after the transaction holding its reports has committed.
//!
//! API boundary: every error a client sees is `{"error": {"code", "message"}}` with a stable code;
//! storage details go to the operator's log only. Nothing about a request (address, user agent,
//! report) is stored or logged.

mod auth;
mod campaigns;
mod catalog;
mod config;
mod error;
pub mod health;
pub mod metrics;
pub mod parse;
pub mod ratelimit;
mod reports;
mod router;
pub mod serve;
pub mod statics;
pub mod store;
mod writer;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;

pub use crate::campaigns::{estimates_json, report_rate_anomaly, ANOMALY_FACTOR};
pub use crate::catalog::{check_campaign_dir, Catalog, Checked, Served};
pub use crate::config::{token_digest, Config};
pub use crate::error::ApiError;
pub use crate::router::{admin_app, app};

use crate::metrics::Metrics;
use crate::store::{Store, StoreError};
use crate::writer::{writer, Job};

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
            let current = u64::try_from(now.div_euclid(c.epoch().secs())).unwrap_or(0);
            total += self
                .store
                .prune_nonces(c.id(), current.saturating_sub(self.config.epochs_back))
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

/// The client's address, as the rate limiter saw it (in the request's extensions).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer(std::net::IpAddr);
