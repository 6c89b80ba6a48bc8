//! What the collector's in-process tests share: the served campaigns, fresh databases (SQLite,
//! and PostgreSQL when `DPSEG_TEST_POSTGRES_URL` is set), reports of fresh devices, requests.

#![allow(dead_code, reason = "each test binary uses part of these")]
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use dpseg::campaign::LintConfig;
use dpseg::limits::Limits;
use dpseg::privacy::coin::DeviceRandomness;
use dpseg::privacy::ledger::Secret;
use dpseg::privacy::mechanism::Slot;
use dpseg::report::{encode, Report};
use dpseg::schema::Schema;
use dpseg_collector::store::Store;
use dpseg_collector::{app, check_campaign_dir, token_digest, AppState, Catalog, Config};
use http_body_util::BodyExt;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use serde_json::Value;
use tower::ServiceExt;

/// 2026-11-24T12:00:00Z: epoch 20781 of the daily campaigns.
pub const NOW: i64 = 1_795_521_600;
pub const EPOCH: u64 = 20_781;
pub const TOKEN: &str = "test-token-1";

pub fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/outdoor")
}

/// A wire golden file (`tests/spec/wire/NAME.json`).
pub fn golden(name: &str) -> serde_json::Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../../tests/spec/wire/{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The served campaigns (built once: tests run in parallel).
pub fn catalog() -> Catalog {
    static CATALOG: std::sync::OnceLock<Catalog> = std::sync::OnceLock::new();
    CATALOG.get_or_init(build_catalog).clone()
}

pub fn build_catalog() -> Catalog {
    let limits = Limits::default();
    let schema = Schema::from_toml(
        &std::fs::read_to_string(examples().join("schema.toml")).unwrap(),
        &limits,
    )
    .unwrap();
    let dir = std::env::temp_dir().join(format!("dpseg-api-campaigns-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for c in ["spring-2027.toml", "family-gear.toml"] {
        std::fs::copy(examples().join("campaigns").join(c), dir.join(c)).unwrap();
    }
    let checked = check_campaign_dir(&dir, &schema, &LintConfig::default(), &limits).unwrap();
    Catalog::new(checked).unwrap()
}

static DB: AtomicU64 = AtomicU64::new(0);

/// Fresh databases to test: a new SQLite file, and a new PostgreSQL database when
/// `DPSEG_TEST_POSTGRES_URL` names a server (tests run in parallel, so each gets its own).
pub async fn urls() -> Vec<String> {
    let n = DB.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("dpseg-api-{}-{n}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let mut urls = vec![format!("sqlite:{}", path.display())];
    if let Ok(server) = std::env::var("DPSEG_TEST_POSTGRES_URL") {
        let name = format!("dpseg_api_{}_{n}", std::process::id());
        let admin = sqlx::PgPool::connect(&server).await.unwrap();
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name}")).execute(&admin).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await.unwrap();
        admin.close().await;
        let base = server.rsplit_once('/').map_or(server.as_str(), |(b, _)| b);
        urls.push(format!("{base}/{name}"));
    }
    urls
}

pub async fn fresh_store(url: &str) -> Store {
    Store::open(url).await.unwrap()
}

pub async fn router(store: Store, config: Config) -> (Router, Arc<AppState>) {
    let state = AppState::with_clock(catalog(), store, config, Box::new(|| NOW));
    (app(state.clone()), state)
}

pub fn config() -> Config {
    Config { token_digests: vec![token_digest(TOKEN)], ..Config::default() }
}

/// `n` reports of fresh devices for `campaign` with every segment true and first cases.
pub fn reports(campaign: &str, n: usize, seed: u64) -> Vec<Report> {
    reports_in(campaign, n, seed, EPOCH)
}

/// As [`reports`], in epoch `epoch`.
pub fn reports_in(campaign: &str, n: usize, seed: u64, epoch: u64) -> Vec<Report> {
    let catalog = catalog();
    let served = catalog.get(campaign).unwrap();
    let mech = &served.mechanism;
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let truth: Vec<u16> = (0..mech.items().len()).map(|i| u16::from(i % 2 == 0)).collect();
    let mut slots = vec![Slot { item: 0, out: 0 }; usize::from(mech.per_report())];
    (0..n)
        .map(|_| {
            let prf = Secret::generate(&mut rng).prf(served.compiled.config_id());
            let mut r = DeviceRandomness::one_version(&mut rng, &prf);
            mech.privatize(&truth, &mut r, &mut slots);
            encode(campaign, served.compiled.config_id(), epoch, mech, &slots, &mut r)
        })
        .collect()
}

pub async fn call(router: &Router, req: Request<Body>) -> (StatusCode, Value) {
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, body)
}

pub fn post(body: impl Into<Body>) -> Request<Body> {
    Request::post("/v1/reports")
        .header("content-type", "application/json")
        .body(body.into())
        .unwrap()
}

pub fn get(path: &str, token: Option<&str>) -> Request<Body> {
    let mut b = Request::get(path);
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    b.body(Body::empty()).unwrap()
}

pub async fn snapshot(store: &Store) -> Vec<dpseg_collector::store::CounterRow> {
    let mut rows = store.counters("spring-2027", None).await.unwrap();
    rows.extend(store.counters("family-gear", None).await.unwrap());
    rows.sort_by(|a, b| (&a.config_id, a.epoch, &a.key).cmp(&(&b.config_id, b.epoch, &b.key)));
    rows
}
