//! The collector's router, driven in-process against a real database: SQLite always, and
//! PostgreSQL when `DPSEG_TEST_POSTGRES_URL` is set (the test script starts a throwaway cluster).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails by panicking"
)]

#[path = "../common/mod.rs"]
mod common;

mod bad_requests;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use dpseg::estimate::{estimates, Tally};
use dpseg::limits::Limits;
use dpseg::schema::Schema;
use dpseg::wire::fits_shape;
use dpseg_collector::store::Store;
use dpseg_collector::{app, AppState, Config};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

#[tokio::test]
async fn reports_are_counted_once_and_estimated() {
    for url in urls().await {
        let store = fresh_store(&url).await;
        let (router, state) = router(store.clone(), config()).await;
        let batch = reports("spring-2027", 300, 1);
        let (status, body) = call(&router, post(serde_json::to_vec(&batch).unwrap())).await;
        assert_eq!(status, StatusCode::OK, "{url}: {body}");
        assert_eq!(body["accepted"].as_array().unwrap().len(), 300, "{url}");
        // A retry of part of the batch, mixed with new reports, counts only the new ones.
        let mut retry = batch[..100].to_vec();
        retry.extend(reports("spring-2027", 50, 2));
        let (_, body) = call(&router, post(serde_json::to_vec(&retry).unwrap())).await;
        assert_eq!(body["duplicate"].as_array().unwrap().len(), 100, "{url}");
        assert_eq!(body["accepted"], json!((100..150).collect::<Vec<_>>()), "{url}");
        // The estimates equal the core's over the same reports, decoded here.
        let catalog = catalog();
        let served = catalog.get("spring-2027").unwrap();
        let mut tally = Tally::new(&served.mechanism);
        for r in batch.iter().chain(&retry[100..]) {
            tally.add(
                &served.mechanism,
                &r.decode("spring-2027", served.compiled.config_id(), &served.mechanism)
                    .unwrap()
                    .slots,
            );
        }
        let (status, body) =
            call(&router, get("/v1/campaigns/spring-2027/estimates", Some(TOKEN))).await;
        assert_eq!(status, StatusCode::OK, "{url}");
        fits_shape(&golden("estimates"), &body).unwrap_or_else(|e| panic!("{e}"));
        let epoch = &body["epochs"][0];
        assert_eq!(epoch["epoch"], json!(EPOCH));
        assert_eq!(epoch["reports"], json!(350));
        let want = estimates(&served.mechanism, &tally);
        assert_eq!(epoch["segments"]["hikers"], serde_json::to_value(want[0][0]).unwrap(), "{url}");
        assert_eq!(
            epoch["groups"]["price_tier"]["mid"],
            serde_json::to_value(want[8][1]).unwrap(),
            "{url}"
        );
        let (_, one) = call(
            &router,
            get(&format!("/v1/campaigns/spring-2027/estimates?epoch={EPOCH}"), Some(TOKEN)),
        )
        .await;
        assert_eq!(one["epochs"], body["epochs"]);
        let (_, none) =
            call(&router, get("/v1/campaigns/spring-2027/estimates?epoch=1", Some(TOKEN))).await;
        assert_eq!(none["epochs"], json!([]));
        // Acknowledged means durable: a new connection to the same database sees the counts.
        drop(router);
        let reopened = Store::open(&url).await.unwrap();
        let reports_row = reopened
            .counters("spring-2027", Some(EPOCH))
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.key == "reports");
        assert_eq!(reports_row.map(|r| r.value), Some(350), "{url}");
        assert_eq!(state.metrics().accepted_total(), 350);
        reopened.close().await;
    }
}

#[tokio::test]
async fn the_campaign_document_serves_the_sdk() {
    let store = fresh_store(&urls().await[0]).await;
    let (router, _) = router(store, config()).await;
    let resp = router.clone().oneshot(get("/v1/campaigns/spring-2027", None)).await.unwrap();
    assert_eq!(resp.headers()["cache-control"], "public, max-age=300");
    let (status, doc) = call(&router, get("/v1/campaigns/spring-2027", None)).await;
    assert_eq!(status, StatusCode::OK);
    fits_shape(&golden("campaign-document"), &doc).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(doc["config_id"], json!(catalog().get("spring-2027").unwrap().compiled.config_id()));
    assert_eq!(doc["epoch_secs"], json!(86_400));
    assert!(doc["mechanism"]["items"].is_array() && doc["segments"][0]["rule"].is_string());
    let (status, health) = call(&router, get("/healthz", None)).await;
    assert_eq!((status, health["status"].clone()), (StatusCode::OK, json!("ok")));
    // CORS is open for what browsers call.
    let resp = router
        .clone()
        .oneshot(
            Request::get("/v1/campaigns/spring-2027")
                .header("origin", "https://shop.example")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn a_batch_mixes_accepted_duplicate_and_rejected() {
    let store = fresh_store(&urls().await[0]).await;
    let (router, state) = router(store, config()).await;
    let good = reports("spring-2027", 2, 11);
    let body = json!([good[0], good[0], {"v": 9}, good[1]]);
    let (status, r) = call(&router, post(serde_json::to_vec(&body).unwrap())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(r["accepted"], json!([0, 3]));
    assert_eq!(r["duplicate"], json!([1]), "a nonce repeated within one batch counts once");
    assert_eq!(r["rejected"][0]["index"], json!(2));
    let metrics = state.metrics().render();
    assert!(metrics.contains("dpseg_reports_accepted_total 2"), "{metrics}");
    assert!(metrics.contains("dpseg_reports_duplicate_total 1"));
    assert!(metrics.contains("dpseg_reports_rejected_total{reason=\"report-syntax\"} 1"));
    assert!(metrics.contains("dpseg_storage_commit_duration_seconds_count 1"));
}

#[tokio::test]
async fn rate_limits_key_on_the_address_and_count_reports() {
    use axum::extract::connect_info::MockConnectInfo;
    use dpseg_collector::ratelimit::RateConfig;
    let store = fresh_store(&urls().await[0]).await;
    let rates = RateConfig {
        requests_per_sec: 1,
        reports_per_address: 30,
        reports_per_prefix: 50,
        window_secs: 3_600,
    };
    let state =
        AppState::with_clock(catalog(), store, Config { rates, ..config() }, Box::new(|| NOW));
    let from = |ip: [u8; 4], port| {
        app(state.clone()).layer(MockConnectInfo(std::net::SocketAddr::from((ip, port))))
    };
    // Requests: a burst of twice the rate per address, whatever the connection (port).
    let (one, same_address) = (from([10, 0, 0, 1], 40_000), from([10, 0, 0, 1], 40_001));
    assert_eq!(call(&one, get("/v1/campaigns", None)).await.0, StatusCode::OK);
    assert_eq!(call(&same_address, get("/v1/campaigns", None)).await.0, StatusCode::OK);
    let resp = same_address.clone().oneshot(get("/v1/campaigns", None)).await.unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS, "a new connection got a new budget");
    assert!(resp.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    // The operator's checks and static files are not the API's: not limited.
    assert_eq!(call(&one, get("/healthz", None)).await.0, StatusCode::OK);

    // Reports: 30 per address per hour, 50 per /24, whatever the number of requests.
    let rates_only = Config { rates: RateConfig { requests_per_sec: 0, ..rates }, ..config() };
    let state = AppState::with_clock(
        catalog(),
        fresh_store(&urls().await[0]).await,
        rates_only,
        Box::new(|| NOW),
    );
    let from = |ip: [u8; 4], port| {
        app(state.clone()).layer(MockConnectInfo(std::net::SocketAddr::from((ip, port))))
    };
    let batch = |n, seed| post(serde_json::to_vec(&reports("spring-2027", n, seed)).unwrap());
    let (a1, a2) = (from([192, 0, 2, 7], 1), from([192, 0, 2, 7], 2));
    assert_eq!(call(&a1, batch(20, 1)).await.0, StatusCode::OK);
    let (status, body) = call(&a2, batch(20, 2)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("rate-limited"))
    );
    let resp = a2.clone().oneshot(batch(20, 3)).await.unwrap();
    // 20 more need 10 beyond the 10 left: 10 × 120 s at 30 per hour.
    assert_eq!(resp.headers()["retry-after"], "1200");
    assert_eq!(call(&a2, batch(10, 4)).await.0, StatusCode::OK, "what is left can still be sent");
    // Another address of the same /24 has its own budget, but the /24's is 50 in all.
    let b = from([192, 0, 2, 8], 1);
    assert_eq!(call(&b, batch(20, 5)).await.0, StatusCode::OK);
    assert_eq!(call(&b, batch(1, 6)).await.0, StatusCode::TOO_MANY_REQUESTS, "the prefix is spent");
    // Another network is not affected.
    assert_eq!(call(&from([198, 51, 100, 1], 1), batch(20, 7)).await.0, StatusCode::OK);
    // Refused requests are request outcomes, not rejected reports.
    let text = state.metrics().render();
    assert!(text.contains("dpseg_requests_refused_total{code=\"rate-limited\"} 3"), "{text}");
    assert!(!text.contains("reason=\"rate-limited\""), "{text}");
}

#[tokio::test]
async fn the_data_map_campaign_list_and_static_files_are_served() {
    let url = urls().await.remove(0);
    let limits = Limits::default();
    let schema = Schema::from_toml(
        &std::fs::read_to_string(examples().join("schema.toml")).unwrap(),
        &limits,
    )
    .unwrap();
    let site = std::env::temp_dir().join(format!("dpseg-api-site-{}", std::process::id()));
    std::fs::create_dir_all(site.join("sub")).unwrap();
    std::fs::write(site.join("index.html"), "<p>hello</p>").unwrap();
    std::fs::write(site.join("sub/a.js"), "export const a = 1;").unwrap();
    let with_site = Config {
        schema: Some(schema.clone()),
        statics: vec![("/".into(), site.clone()), ("/pkg".into(), site.join("sub"))],
        ..config()
    };
    let (app, state) = router(fresh_store(&url).await, with_site).await;

    // The data map, in the JSON form that reads back to the same schema.
    let (status, body) = call(&app, get("/v1/schema", None)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(Schema::from_json_value(&body, &limits).unwrap(), schema);

    let (status, body) = call(&app, get("/v1/campaigns", None)).await;
    assert_eq!(status, StatusCode::OK);
    fits_shape(&golden("campaign-list"), &body).unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<&str> =
        body["campaigns"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["family-gear", "spring-2027"]);
    let catalog = catalog();
    assert_eq!(
        body["campaigns"][1]["config_id"],
        json!(catalog.get("spring-2027").unwrap().compiled.config_id())
    );

    // The campaign document carries the rules for people and the compiled form for devices:
    // read as the runtime reads it, against the served compact data map (whose id the device
    // computes), it passes the device's check, and it hashes to the document's config_id.
    let (_, doc) = call(&app, get("/v1/campaigns/spring-2027", None)).await;
    assert_eq!(doc["epoch"], json!("1d"));
    assert_eq!(doc["segments"][0]["rule"], json!("interests has \"hiking\" and budget >= 100"));
    let resp = app.clone().oneshot(get("/v1/schema/compact", None)).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/octet-stream");
    let compact = resp.into_body().collect().await.unwrap().to_bytes();
    let device_schema = Schema::from_compact(&compact, &limits).unwrap();
    let schema_id = dpseg::compact::content_id(&compact);
    assert_eq!(doc["schema_id"], json!(schema_id));
    let bytes = base64::Engine::decode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        doc["compiled"].as_str().unwrap(),
    )
    .unwrap();
    assert_eq!(doc["config_id"], json!(dpseg::compact::content_id(&bytes)));
    let run = dpseg::campaign::Runnable::from_compact_for_evaluation(&bytes, &limits).unwrap();
    let policy = dpseg::privacy::ledger::SitePolicy::default();
    assert!(run.check(&device_schema, &schema_id, &policy).is_ok());

    let (status, body) = call(&app, get("/", None)).await;
    assert_eq!((status, body), (StatusCode::OK, json!("<p>hello</p>")));
    let (status, body) = call(&app, get("/pkg/a.js", None)).await;
    assert_eq!((status, body), (StatusCode::OK, json!("export const a = 1;")));
    let (status, _) = call(&app, get("/nothing-here.html", None)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // No dotfiles, at any depth or prefix.
    std::fs::write(site.join(".env"), "SECRET=1").unwrap();
    std::fs::create_dir_all(site.join("sub/.git")).unwrap();
    std::fs::write(site.join("sub/.git/config"), "[core]").unwrap();
    for path in ["/.env", "/pkg/.git/config", "/sub/.git/config", "/%2eenv"] {
        let (status, body) = call(&app, get(path, None)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
    // A directory's redirect keeps the prefix and never names another host.
    std::fs::create_dir_all(site.join("sub/inner")).unwrap();
    std::fs::write(site.join("sub/inner/index.html"), "inner").unwrap();
    for (path, want) in [("/pkg/inner", "/pkg/inner/"), ("/sub", "/sub/"), ("//sub", "/sub/")] {
        let resp = app.clone().oneshot(get(path, None)).await.unwrap();
        assert!(resp.status().is_redirection(), "{path}: {}", resp.status());
        assert_eq!(resp.headers()["location"], want, "{path}");
    }
    // A conditional request (a reload) answers 304 Not Modified, untouched.
    let first = app.clone().oneshot(get("/pkg/a.js", None)).await.unwrap();
    // Names without a content hash: every use is revalidated, never guessed fresh.
    assert_eq!(first.headers()["cache-control"], "no-cache");
    let modified = first.headers()["last-modified"].clone();
    let again = Request::get("/pkg/a.js")
        .header("if-modified-since", modified)
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.clone().oneshot(again).await.unwrap().status(), StatusCode::NOT_MODIFIED);
    // Compressed for browsers that accept it.
    std::fs::write(site.join("sub/big.js"), "export const x = 1;\n".repeat(200)).unwrap();
    for encoding in ["gzip", "br"] {
        let req = Request::get("/pkg/big.js")
            .header("accept-encoding", encoding)
            .body(Body::empty())
            .unwrap();
        let resp = app.clone().oneshot(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["content-encoding"], encoding);
    }
    // The API keeps its own answers beside the files.
    let (status, body) = call(&app, get("/v1/campaigns/nope", None)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], json!("unknown-campaign"));

    // Every API route is timed under its matched route, never the path (which names campaigns):
    // one label per route, whatever the id asked for.
    let text = state.metrics().render();
    for route in ["/v1/schema", "/v1/schema/compact", "/v1/campaigns", "/v1/campaigns/{id}"] {
        let count = format!("dpseg_http_request_duration_seconds_count{{route=\"{route}\"}}");
        assert!(text.contains(&count), "{route} is not timed:\n{text}");
    }
    assert!(!text.contains("route=\"/v1/campaigns/nope\""), "{text}");
    assert!(!text.contains("route=\"/pkg"), "static files are not API routes:\n{text}");

    // Without a data map, `/v1/schema` says so.
    let (bare, _) = router(fresh_store(&urls().await.remove(0)).await, config()).await;
    for path in ["/v1/schema", "/v1/schema/compact"] {
        let (status, body) = call(&bare, get(path, None)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body["error"]["code"], json!("not-found"), "{path}");
    }
    std::fs::remove_dir_all(site).unwrap();
}

#[tokio::test]
async fn media_types_and_the_bearer_scheme_are_matched_case_insensitively() {
    let store = fresh_store(&urls().await[0]).await;
    let (router, _) = router(store, config()).await;
    for ct in ["Application/JSON", "application/json; charset=UTF-8", "TEXT/PLAIN;charset=utf-8"] {
        let req = Request::post("/v1/reports")
            .header("content-type", ct)
            .body(Body::from(serde_json::to_vec(&reports("spring-2027", 2, 77)).unwrap()))
            .unwrap();
        let (status, body) = call(&router, req).await;
        assert_eq!(status, StatusCode::OK, "{ct}: {body}");
    }
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let req = Request::get("/v1/campaigns/spring-2027/estimates")
            .header("authorization", format!("{scheme} {TOKEN}"))
            .body(Body::empty())
            .unwrap();
        let (status, body) = call(&router, req).await;
        assert_eq!(status, StatusCode::OK, "{scheme}: {body}");
    }
}

#[tokio::test]
async fn an_epoch_with_far_more_reports_than_usual_is_flagged() {
    // Three ordinary epochs of 40 reports, then one with 40 + 200 fabricated.
    let (router, state) = router(fresh_store(&urls().await[0]).await, config()).await;
    for (k, epoch) in [EPOCH - 2, EPOCH - 1, EPOCH].into_iter().enumerate() {
        let batch = reports_in("spring-2027", 40, 300 + k as u64, epoch);
        assert_eq!(
            call(&router, post(serde_json::to_vec(&batch).unwrap())).await.0,
            StatusCode::OK
        );
    }
    let spike = reports_in("spring-2027", 240, 400, EPOCH + 1);
    assert_eq!(call(&router, post(serde_json::to_vec(&spike).unwrap())).await.0, StatusCode::OK);
    let (status, body) =
        call(&router, get("/v1/campaigns/spring-2027/estimates", Some(TOKEN))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let epochs = body["epochs"].as_array().unwrap();
    let flag = |e: u64| {
        epochs.iter().find(|x| x["epoch"] == json!(e)).unwrap()["report_rate_anomaly"].clone()
    };
    for e in [EPOCH - 2, EPOCH - 1, EPOCH] {
        assert_eq!(flag(e), Value::Null, "epoch {e}");
    }
    let spiked = flag(EPOCH + 1);
    assert_eq!(spiked["reports"], json!(240), "{spiked}");
    assert_eq!(spiked["median_before"], json!(40));
    assert!(state
        .metrics()
        .render()
        .contains("dpseg_campaign_reports_total{campaign=\"spring-2027\"} 360"));
}

/// A database the earlier hand-written migration runner made (its `dpseg_migrations` table, the
/// first two migrations applied by hand) opens under `sqlx::migrate!` with its counters intact,
/// on both backends; opening it again changes nothing.
#[tokio::test]
async fn a_database_of_the_earlier_migration_runner_opens_with_its_counters() {
    for url in urls().await {
        let pg = url.starts_with("postgres");
        let dir = if pg { "postgres" } else { "sqlite" };
        let old = [
            std::fs::read_to_string(format!("migrations/{dir}/0001_init.sql")).unwrap(),
            std::fs::read_to_string(format!("migrations/{dir}/0002_probe.sql")).unwrap(),
        ];
        // As the earlier runner left it: plain CREATE TABLEs (the files' IF NOT EXISTS removed,
        // as they were then), its own record of versions, and a counter of real data.
        let create = |sql: &str| sql.replace("CREATE TABLE IF NOT EXISTS", "CREATE TABLE");
        let counter = "INSERT INTO counters (campaign, config_id, epoch, key, value) VALUES ('spring-2027', 'c1', 7, 'reports', 42)";
        if pg {
            let pool = sqlx::PgPool::connect(&url).await.unwrap();
            for sql in &old {
                sqlx::raw_sql(&create(sql)).execute(&pool).await.unwrap();
            }
            sqlx::raw_sql("CREATE TABLE dpseg_migrations (version BIGINT PRIMARY KEY); INSERT INTO dpseg_migrations VALUES (1), (2)").execute(&pool).await.unwrap();
            sqlx::query(counter).execute(&pool).await.unwrap();
            pool.close().await;
        } else {
            let options =
                url.parse::<sqlx::sqlite::SqliteConnectOptions>().unwrap().create_if_missing(true);
            let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
            for sql in &old {
                sqlx::raw_sql(&create(sql)).execute(&pool).await.unwrap();
            }
            sqlx::raw_sql("CREATE TABLE dpseg_migrations (version BIGINT PRIMARY KEY); INSERT INTO dpseg_migrations VALUES (1), (2)").execute(&pool).await.unwrap();
            sqlx::query(counter).execute(&pool).await.unwrap();
            pool.close().await;
        }
        for _ in 0..2 {
            let store = Store::open(&url).await.unwrap_or_else(|e| panic!("{url}: {e}"));
            let rows = store.counters("spring-2027", Some(7)).await.unwrap();
            assert_eq!(rows.len(), 1, "{url}");
            assert_eq!(rows[0].value, 42, "{url}");
            store.close().await;
        }
        // An applied migration that no longer matches its file (its checksum) is refused.
        let tamper = "UPDATE _sqlx_migrations SET checksum = X'00' WHERE version = 1";
        let tamper_pg = "UPDATE _sqlx_migrations SET checksum = '\\x00' WHERE version = 1";
        if pg {
            let pool = sqlx::PgPool::connect(&url).await.unwrap();
            sqlx::query(tamper_pg).execute(&pool).await.unwrap();
            pool.close().await;
        } else {
            let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
            sqlx::query(tamper).execute(&pool).await.unwrap();
            pool.close().await;
        }
        let e = Store::open(&url).await.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("migrat") && e.contains("1"), "{url}: {e}");
    }
}
