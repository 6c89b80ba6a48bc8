//! The `dpseg` binary end to end: JSON on stdout with sorted keys, errors on stderr, exit codes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails by panicking"
)]

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::{json, Value};

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/outdoor")
}

fn dpseg(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dpseg"))
        .args(args)
        .current_dir(examples())
        .output()
        .expect("run dpseg")
}

fn stdout_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

const NOW: &str = "2026-11-24T00:00:00Z";

/// `dpseg eval` of campaign spring-2027 for `profile` at [`NOW`], plus `extra` arguments.
fn eval(profile: &str, extra: &[&str]) -> Output {
    eval_at(profile, NOW, extra)
}

/// As [`eval`], at `now`.
fn eval_at(profile: &str, now: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "eval",
        "--schema",
        "schema.toml",
        "--campaign",
        "campaigns/spring-2027.toml",
        "--profile",
        profile,
        "--now",
        now,
    ];
    args.extend_from_slice(extra);
    dpseg(&args)
}

#[test]
fn eval_prints_memberships() {
    let out = eval("profiles/alice.json", &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Worked out by hand from alice.json: she hikes with a budget of 150, lives in DE, viewed
    // tents worth 618 EUR in the last 14 days and clicked a newsletter 6 days ago.
    let want = json!({
        "segments": {"hikers": true, "campers": true, "lapsed_tent_buyers": false, "newsletter_engaged": true,
                     "dach": true, "high_intent": true, "new_visitors": false, "dach_hikers": true},
        "groups": {"price_tier": "mid", "experience": "intermediate"}
    });
    assert_eq!(stdout_json(&out), want);
    // Keys are sorted, so output is byte-for-byte deterministic.
    let text = String::from_utf8_lossy(&out.stdout);
    let pos = |k: &str| text.find(k).unwrap_or(usize::MAX);
    assert!(pos("\"groups\"") < pos("\"segments\"") && pos("\"campers\"") < pos("\"dach\""));
}

#[test]
fn eval_of_an_empty_profile_is_all_false() {
    let out = eval("profiles/carla.json", &[]);
    let v = stdout_json(&out);
    assert!(v["segments"].as_object().unwrap().values().all(|b| *b == json!(false)));
    assert_eq!(v["groups"], json!({"price_tier": null, "experience": null}));
}

#[test]
fn eval_explain_shows_values_and_inputs() {
    let out = eval("profiles/alice.json", &["--explain"]);
    let v = stdout_json(&out);
    let hikers = &v["explain"]["segments"]["hikers"];
    assert_eq!(hikers["text"], json!("interests has \"hiking\" and budget >= 100"));
    assert_eq!(hikers["value"], json!(true));
    let budget = &hikers["children"][1]["children"][0];
    assert_eq!(budget["inputs"][0], json!({"kind": "attribute", "name": "budget", "value": 150}));
    let lapsed = &v["explain"]["segments"]["lapsed_tent_buyers"]["children"][0]["children"][0];
    assert_eq!(lapsed["inputs"][0]["event"], json!("purchase"));
    assert_eq!(lapsed["inputs"][0]["matched"], json!(0));
    assert_eq!(v["explain"]["groups"]["price_tier"]["mid"]["value"], json!(true));
}

#[test]
fn lint_passes_the_example_campaigns() {
    for c in [
        "campaigns/spring-2027.toml",
        "campaigns/family-gear.toml",
        "campaigns/picks.toml",
        "benchmark/benchmark.toml",
    ] {
        let out = dpseg(&["lint", "--schema", "schema.toml", "--campaign", c]);
        assert!(out.status.success(), "{c}: {}", String::from_utf8_lossy(&out.stderr));
        let v = stdout_json(&out);
        assert_eq!(v["errors"], json!(0), "{c}");
        assert_eq!(v["config_id"].as_str().map(str::len), Some(32));
    }
}

#[test]
fn lint_refuses_the_bad_example_with_exit_1() {
    let out =
        dpseg(&["lint", "--schema", "schema.toml", "--campaign", "lint/health-targeting.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let v = stdout_json(&out);
    let mut codes: Vec<&str> =
        v["findings"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap()).collect();
    codes.sort_unstable();
    assert_eq!(
        codes,
        [
            "epsilon-over-cap",
            // What its visitors would read: no title, no `visitor` words for three segments.
            "no-title",
            "no-visitor-words",
            "no-visitor-words",
            "no-visitor-words",
            "purpose-mismatch",
            "purpose-mismatch",
            "sensitive-without-review",
            "sensitive-without-review",
            "unreachable-case"
        ]
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("rule 'weight_loss' 1:1") && stderr.contains("^^^^^^^^^^^"),
        "{stderr}"
    );
    // A higher cap removes only the ε finding.
    let out = dpseg(&[
        "lint",
        "--schema",
        "schema.toml",
        "--campaign",
        "lint/health-targeting.toml",
        "--epsilon-max",
        "4",
    ]);
    assert_eq!(stdout_json(&out)["errors"], json!(4));
}

#[test]
fn bad_input_exits_2_with_the_place_on_stderr() {
    let dir = std::env::temp_dir().join(format!("dpseg-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let profile = dir.join("bad.json");
    std::fs::write(&profile, r#"{"attributes": {"budjet": 10}}"#).unwrap();
    let out = eval(profile.to_str().unwrap(), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("$.attributes.budjet: unknown attribute 'budjet'; did you mean 'budget'?"),
        "{stderr}"
    );

    let out = eval_at("profiles/alice.json", "yesterday", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--now: 'yesterday' is not a timestamp"));

    let campaign = dir.join("broken.toml");
    std::fs::write(&campaign, "id = \"x\"\npurpose = \"measurement\"\nepoch = \"1d\"\nepsilon = 1.0\n[[segments]]\nid = \"a\"\nrule = 'budjet > 1'\n").unwrap();
    let out = dpseg(&[
        "eval",
        "--schema",
        "schema.toml",
        "--campaign",
        campaign.to_str().unwrap(),
        "--profile",
        "profiles/alice.json",
        "--now",
        NOW,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("rule 'a' 1:1: unknown attribute 'budjet'; did you mean 'budget'?"));

    std::fs::write(&campaign, "id = \"x\"\nepoch = 1\n").unwrap();
    let out = dpseg(&["lint", "--schema", "schema.toml", "--campaign", campaign.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("broken.toml"));

    let out = dpseg(&[
        "eval",
        "--schema",
        "missing.toml",
        "--campaign",
        "campaigns/spring-2027.toml",
        "--profile",
        "profiles/alice.json",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.toml"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn simulate_estimates_every_segment_and_case() {
    let args = [
        "simulate",
        "--campaign",
        "campaigns/spring-2027.toml",
        "--devices",
        "200000",
        "--truth",
        "truth/spring-2027.json",
        "--seed",
        "7",
    ];
    let out = dpseg(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v = stdout_json(&out);
    assert_eq!(v["devices"], json!(200_000));
    let hikers = &v["epochs"][0]["segments"]["hikers"];
    for key in ["true_count", "estimate", "clamped", "std", "ci_low", "ci_high", "reports"] {
        assert!(hikers[key].is_number(), "{key} missing: {hikers}");
    }
    // 22% of 200,000 devices, drawn independently: within 5 binomial standard deviations.
    let t = hikers["true_count"].as_f64().unwrap();
    assert!((t - 44_000.0).abs() < 5.0 * (200_000.0f64 * 0.22 * 0.78).sqrt(), "{t}");
    let mid = &v["epochs"][0]["groups"]["price_tier"]["mid"];
    assert!(mid["ci_low"].as_f64().unwrap() <= mid["ci_high"].as_f64().unwrap());
    // The same seed gives the same estimates.
    let mut again = stdout_json(&dpseg(&args));
    let mut first = v.clone();
    first["elapsed_secs"] = json!(0);
    again["elapsed_secs"] = json!(0);
    assert_eq!(first, again);
}

#[test]
fn plan_shrinks_error_bars_with_more_devices() {
    let half = |devices: &str| {
        let out =
            dpseg(&["plan", "--campaign", "campaigns/spring-2027.toml", "--devices", devices]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let v = stdout_json(&out);
        assert_eq!(v["segments"]["hikers"]["oracle"], json!("grr"));
        assert!(v["groups"]["price_tier"]["low"]["oracle"].is_string());
        v["segments"]["hikers"]["half_width_95"].as_f64().unwrap() / devices.parse::<f64>().unwrap()
    };
    // As a fraction of devices, the half-width falls like 1/sqrt(N).
    let (small, large) = (half("10000"), half("1000000"));
    assert!((small / large - 10.0).abs() < 0.5, "{small} {large}");
}

#[test]
fn privatize_writes_reports_the_campaign_decodes() {
    let out = dpseg(&[
        "privatize",
        "--schema",
        "schema.toml",
        "--campaign",
        "campaigns/spring-2027.toml",
        "--membership",
        "membership-alice.json",
        "--reports",
        "50",
        "--epoch",
        "20481",
        "--seed",
        "3",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lint = stdout_json(&dpseg(&[
        "lint",
        "--schema",
        "schema.toml",
        "--campaign",
        "campaigns/spring-2027.toml",
    ]));
    let limits = dpseg::limits::Limits::default();
    let schema = dpseg::schema::Schema::from_toml(
        &std::fs::read_to_string(examples().join("schema.toml")).unwrap(),
        &limits,
    )
    .unwrap();
    let campaign = dpseg::campaign::Campaign::from_toml(
        &std::fs::read_to_string(examples().join("campaigns/spring-2027.toml")).unwrap(),
        &limits,
    )
    .unwrap();
    let compiled = campaign.compile(&schema, &limits).unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 50);
    let lengths: std::collections::BTreeSet<usize> = lines.iter().map(|l| l.len()).collect();
    assert_eq!(lengths.len(), 1, "every report has the same length");
    for line in lines {
        let r = dpseg::report::Report::from_json(line).unwrap();
        assert_eq!(r.config_id, lint["config_id"].as_str().unwrap());
        assert_eq!(r.epoch, 20481);
        r.decode("spring-2027", compiled.config_id(), compiled.mechanism().unwrap()).unwrap();
        // Nothing from the profile or the membership is in the report text.
        for word in ["hikers", "price_tier", "intermediate"] {
            assert!(!line.contains(word), "{word} in {line}");
        }
    }
}

#[test]
fn bad_rates_and_memberships_exit_2_with_the_path() {
    let dir = std::env::temp_dir().join(format!("dpseg-cli-rates-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases = [
        (r#"{"segments": {"hikerz": 0.1}}"#, "$.segments.hikerz: unknown segment"),
        (r#"{"segments": {"hikers": 1.5}}"#, "$.segments.hikers: expected a rate between 0 and 1"),
        (
            r#"{"groups": {"price_tier": {"low": 0.6, "mid": 0.6}}}"#,
            "$.groups.price_tier: case rates add up to more than 1",
        ),
        (r#"{"groups": {"tier": {}}}"#, "$.groups.tier: unknown group"),
        (r#"{"segment": {}}"#, "$.segment: unknown field"),
    ];
    for (doc, want) in cases {
        let path = dir.join("truth.json");
        std::fs::write(&path, doc).unwrap();
        let out = dpseg(&[
            "simulate",
            "--campaign",
            "campaigns/spring-2027.toml",
            "--devices",
            "10",
            "--truth",
            path.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(2), "{doc}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(want), "{doc}: {stderr}");
    }
    let path = dir.join("m.json");
    std::fs::write(&path, r#"{"groups": {"price_tier": "medium"}}"#).unwrap();
    let out = dpseg(&[
        "privatize",
        "--schema",
        "schema.toml",
        "--campaign",
        "campaigns/spring-2027.toml",
        "--membership",
        path.to_str().unwrap(),
        "--reports",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("$.groups.price_tier: unknown case 'medium'")
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn demo_names_what_is_missing_and_starts_nothing() {
    let dir = std::env::temp_dir().join(format!("dpseg-demo-missing-{}", std::process::id()));
    let ex = examples();
    let out = dpseg(&[
        "demo",
        "--data-dir",
        dir.to_str().unwrap(),
        "--example",
        ex.to_str().unwrap(),
        "--www",
        ex.join("..").join("..").join("www").to_str().unwrap(),
        "--package",
        "/nonexistent/pkg",
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/pkg is missing; run ./scripts/demo.sh"), "{err}");
    assert!(out.stdout.is_empty());
    assert!(!dir.exists(), "the data directory was created before the check");
}

/// `dpseg plan` and `dpseg lint` write the shapes the wire golden files pin
/// (`tests/spec/wire/`), the same the package's `plan()` and the collector use.
#[test]
fn plan_and_lint_write_the_golden_shapes() {
    let wire = examples().join("../../tests/spec/wire");
    let golden = |name: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(wire.join(format!("{name}.json"))).unwrap())
            .unwrap()
    };
    let campaign = wire.join("campaign.toml");
    let campaign = campaign.to_str().unwrap();
    let plan = stdout_json(&dpseg(&["plan", "--campaign", campaign, "--devices", "10000"]));
    dpseg::wire::fits_shape(&golden("plan"), &plan).unwrap_or_else(|e| panic!("{e}"));
    let out = dpseg(&[
        "lint",
        "--schema",
        "schema.toml",
        "--campaign",
        campaign,
        "--epsilon-max",
        "0.5",
        "--devices",
        "1000",
    ]);
    assert_eq!(out.status.code(), Some(1), "the cap makes an error");
    let lint = stdout_json(&out);
    assert!(lint["findings"].as_array().is_some_and(|f| f.len() > 1));
    dpseg::wire::fits_shape(&golden("lint-report"), &lint).unwrap_or_else(|e| panic!("{e}"));
}

/// `dpseg compile` writes the document the collector serves, and its compiled bytes are the
/// golden vectors' (tests/spec/compiled/vectors.json), hashing to the golden `config_id`.
#[test]
fn compile_writes_the_served_document_with_the_golden_bytes() {
    let vectors: Value = serde_json::from_str(
        &std::fs::read_to_string(examples().join("../../tests/spec/compiled/vectors.json"))
            .unwrap(),
    )
    .unwrap();
    let golden_doc: Value = serde_json::from_str(
        &std::fs::read_to_string(examples().join("../../tests/spec/wire/campaign-document.json"))
            .unwrap(),
    )
    .unwrap();
    for name in ["family-gear", "picks", "spring-2027"] {
        let file = format!("campaigns/{name}.toml");
        let out = dpseg(&["compile", "--schema", "schema.toml", "--campaign", &file]);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        let doc = stdout_json(&out);
        dpseg::wire::fits_shape(&golden_doc, &doc).unwrap_or_else(|e| panic!("{name}: {e}"));
        let want = &vectors["campaigns"][name];
        assert_eq!(doc["config_id"], want["config_id"], "{name}");
        assert_eq!(doc["schema_id"], vectors["schema"]["schema_id"], "{name}");
        let bytes = base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            doc["compiled"].as_str().unwrap(),
        )
        .unwrap();
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, want["compiled"].as_str().unwrap(), "{name}");
    }
    // A campaign that does not compile: exit 1, the rule's place on stderr, nothing on stdout.
    let dir = std::env::temp_dir().join(format!("dpseg-cli-compile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    let text = std::fs::read_to_string(examples().join("campaigns/picks.toml")).unwrap();
    let (head, _) = text.split_once("[[segments]]").unwrap();
    std::fs::write(&bad, format!("{head}[[segments]]\nid = \"x\"\nrule = 'budgett > 1'\n"))
        .unwrap();
    let out = dpseg(&["compile", "--schema", "schema.toml", "--campaign", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("budgett"));
    std::fs::remove_dir_all(&dir).unwrap();
}
