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
    for c in
        ["campaigns/spring-2027.toml", "campaigns/family-gear.toml", "campaigns/benchmark.toml"]
    {
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
