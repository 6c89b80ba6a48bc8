//! Bad requests: a corpus of malformed, oversized and lying requests, each with the status and
//! error code it must get back, and the check that none of them changes a counter.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use dpseg::report::Report;
use serde_json::{json, Value};

use crate::common::*;

/// One bad request: what it is, what must come back, and whether counters may change.
struct Bad {
    name: &'static str,
    request: Request<Body>,
    status: StatusCode,
    /// The top-level error code, or the code of the first rejected report.
    code: &'static str,
}

fn with(good: &Report, edit: impl FnOnce(&mut Value)) -> Body {
    let mut v = serde_json::to_value(good).unwrap();
    edit(&mut v);
    Body::from(serde_json::to_vec(&json!([v])).unwrap())
}

fn corpus() -> Vec<Bad> {
    let good = reports("spring-2027", 1, 9).remove(0);
    let payload_len = good.payload.len();
    let bad = |name, request, status, code| Bad { name, request, status, code };
    let rej =
        |name, body: Body, code| Bad { name, request: post(body), status: StatusCode::OK, code };
    let set = |k: &'static str, v: Value| move |r: &mut Value| r[k] = v;
    vec![
        bad("not json", post("hello"), StatusCode::BAD_REQUEST, "bad-json"),
        bad("empty body", post(""), StatusCode::BAD_REQUEST, "bad-json"),
        bad("truncated array", post("[{\"v\": 1"), StatusCode::BAD_REQUEST, "bad-json"),
        bad("trailing garbage", post("[] x"), StatusCode::BAD_REQUEST, "bad-json"),
        bad("object body", post("{}"), StatusCode::BAD_REQUEST, "not-an-array"),
        bad("string body", post("\"[]\""), StatusCode::BAD_REQUEST, "not-an-array"),
        bad("number body", post("7"), StatusCode::BAD_REQUEST, "not-an-array"),
        bad("null body", post("null"), StatusCode::BAD_REQUEST, "not-an-array"),
        bad(
            "html content type",
            Request::post("/v1/reports")
                .header("content-type", "text/html")
                .body(Body::from("[]"))
                .unwrap(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "bad-content-type",
        ),
        bad(
            "no content type",
            Request::post("/v1/reports").body(Body::from("[]")).unwrap(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "bad-content-type",
        ),
        bad(
            "body over 1 MiB",
            post(vec![b' '; (1 << 20) + 1]),
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
        ),
        bad(
            "1001 reports",
            post(format!("[{}]", vec!["1"; 1001].join(","))),
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-many-reports",
        ),
        bad(
            "GET reports",
            get("/v1/reports", None),
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
        ),
        bad(
            "DELETE campaign",
            Request::delete("/v1/campaigns/spring-2027").body(Body::empty()).unwrap(),
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
        ),
        bad("unknown path", get("/v2/reports", None), StatusCode::NOT_FOUND, "not-found"),
        bad(
            "unknown campaign document",
            get("/v1/campaigns/winter", None),
            StatusCode::NOT_FOUND,
            "unknown-campaign",
        ),
        bad(
            "estimates without token",
            get("/v1/campaigns/spring-2027/estimates", None),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        bad(
            "estimates with a wrong token",
            get("/v1/campaigns/spring-2027/estimates", Some("guess")),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        bad(
            "estimates with a token prefix",
            get("/v1/campaigns/spring-2027/estimates", Some("test-token")),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        bad(
            "estimates with basic auth",
            Request::get("/v1/campaigns/spring-2027/estimates")
                .header("authorization", "Basic dGVzdA==")
                .body(Body::empty())
                .unwrap(),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        bad(
            "estimates of an unknown campaign",
            get("/v1/campaigns/winter/estimates", Some(TOKEN)),
            StatusCode::NOT_FOUND,
            "unknown-campaign",
        ),
        bad(
            "estimates of a bad epoch",
            get("/v1/campaigns/spring-2027/estimates?epoch=yesterday", Some(TOKEN)),
            StatusCode::BAD_REQUEST,
            "bad-epoch",
        ),
        bad(
            "1001 reports, the last one cut off",
            post(format!("[{},{{\"campaign", vec!["1"; 1000].join(","))),
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-many-reports",
        ),
        bad("trailing data after the array", post("[] []"), StatusCode::BAD_REQUEST, "bad-json"),
        bad(
            "POST estimates",
            Request::post("/v1/campaigns/spring-2027/estimates").body(Body::empty()).unwrap(),
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
        ),
        bad(
            "POST healthz",
            Request::post("/healthz").body(Body::empty()).unwrap(),
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
        ),
        bad(
            "PUT metrics",
            Request::put("/metrics").body(Body::empty()).unwrap(),
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
        ),
        bad(
            "estimates of an epoch past the signed 64-bit range",
            get("/v1/campaigns/spring-2027/estimates?epoch=9223372036854775808", Some(TOKEN)),
            StatusCode::BAD_REQUEST,
            "bad-epoch",
        ),
        bad(
            "estimates of a negative epoch",
            get("/v1/campaigns/spring-2027/estimates?epoch=-1", Some(TOKEN)),
            StatusCode::BAD_REQUEST,
            "bad-epoch",
        ),
        rej(
            "report with a duplicate key",
            Body::from({
                let text = serde_json::to_string(&good).unwrap();
                let dup = text.replacen(
                    '{',
                    &format!("{{\"payload\":\"{}\",", "A".repeat(payload_len)),
                    1,
                );
                format!("[{dup}]")
            }),
            "duplicate-key",
        ),
        rej(
            "report with a duplicate key in another spelling",
            Body::from({
                let text = serde_json::to_string(&good).unwrap();
                format!("[{}]", text.replacen('{', "{\"\\u0065poch\":0,", 1))
            }),
            "duplicate-key",
        ),
        rej("report is a number", Body::from("[1]"), "report-syntax"),
        rej("report is a string", Body::from("[\"report\"]"), "report-syntax"),
        rej("report is null", Body::from("[null]"), "report-syntax"),
        rej(
            "payload missing",
            with(&good, |r| drop(r.as_object_mut().unwrap().remove("payload"))),
            "report-syntax",
        ),
        rej("extra field", with(&good, set("ip", json!("10.0.0.1"))), "report-syntax"),
        rej("version as string", with(&good, set("v", json!("1"))), "report-syntax"),
        rej("version 2", with(&good, set("v", json!(2))), "unsupported-version"),
        rej("version 0", with(&good, set("v", json!(0))), "unsupported-version"),
        rej("version 256", with(&good, set("v", json!(256))), "report-syntax"),
        rej("negative epoch", with(&good, set("epoch", json!(-1))), "report-syntax"),
        rej("epoch as string", with(&good, set("epoch", json!("20781"))), "report-syntax"),
        rej("fractional epoch", with(&good, set("epoch", json!(1.5))), "report-syntax"),
        rej("campaign as number", with(&good, set("campaign", json!(7))), "report-syntax"),
        rej("payload null", with(&good, set("payload", Value::Null)), "report-syntax"),
        rej("unknown campaign", with(&good, set("campaign", json!("winter"))), "unknown-campaign"),
        rej("empty campaign", with(&good, set("campaign", json!(""))), "unknown-campaign"),
        rej(
            "stale config_id",
            with(&good, set("config_id", json!("0123456789abcdef0123456789abcdef"))),
            "stale-config",
        ),
        rej("empty config_id", with(&good, set("config_id", json!(""))), "stale-config"),
        rej("other mechanism", with(&good, set("mechanism", json!("rappor"))), "wrong-mechanism"),
        rej("short nonce", with(&good, set("nonce", json!("AAAA"))), "bad-nonce"),
        rej("long nonce", with(&good, set("nonce", json!("A".repeat(23)))), "bad-nonce"),
        rej(
            "nonce with bad characters",
            with(&good, set("nonce", json!("!".repeat(22)))),
            "bad-nonce",
        ),
        rej(
            "padded nonce",
            with(&good, set("nonce", json!("AAAAAAAAAAAAAAAAAAAAAA=="))),
            "bad-nonce",
        ),
        rej(
            "payload not base64",
            with(&good, set("payload", json!("*".repeat(payload_len)))),
            "bad-base64",
        ),
        rej("payload too short", with(&good, set("payload", json!("AA"))), "wrong-length"),
        rej(
            "payload too long",
            with(&good, set("payload", json!("A".repeat(payload_len + 8)))),
            "wrong-length",
        ),
        rej(
            "payload huge",
            with(&good, set("payload", json!("A".repeat(100_000)))),
            "wrong-length",
        ),
        rej("item out of range", with(&good, set("payload", json!("AGQA"))), "item-out-of-range"),
        rej("impossible answer", with(&good, set("payload", json!("AAAH"))), "bad-answer"),
        rej("epoch too old", with(&good, set("epoch", json!(EPOCH - 3))), "epoch-out-of-window"),
        rej(
            "epoch in the future",
            with(&good, set("epoch", json!(EPOCH + 2))),
            "epoch-out-of-window",
        ),
        rej("epoch zero", with(&good, set("epoch", json!(0))), "epoch-out-of-window"),
        rej(
            "epoch far in the future",
            with(&good, set("epoch", json!(u64::MAX))),
            "epoch-out-of-window",
        ),
    ]
}

#[tokio::test]
async fn bad_requests_get_the_right_status_and_code_and_change_nothing() {
    for url in urls().await {
        let store = fresh_store(&url).await;
        let (router, _) = router(store.clone(), config()).await;
        // Some data first, so "unchanged" is not trivially empty.
        let (status, _) =
            call(&router, post(serde_json::to_vec(&reports("spring-2027", 20, 5)).unwrap())).await;
        assert_eq!(status, StatusCode::OK);
        let before = snapshot(&store).await;
        let cases = corpus();
        assert!(cases.len() >= 64, "the corpus shrank to {}", cases.len());
        for case in cases {
            let (status, body) = call(&router, case.request).await;
            let code = body["error"]["code"]
                .as_str()
                .or_else(|| body["rejected"][0]["code"].as_str())
                .unwrap_or("");
            assert_eq!((status, code), (case.status, case.code), "{url}: {}: {body}", case.name);
            if status == StatusCode::OK {
                assert_eq!(body["accepted"], json!([]), "{url}: {}", case.name);
            }
            assert_eq!(snapshot(&store).await, before, "{url}: {} changed the counters", case.name);
        }
    }
}
