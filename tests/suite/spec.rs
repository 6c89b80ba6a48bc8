//! Runs the spec suite in `tests/spec/*.json` (format: `tests/spec/README.md`).
//!
//! Every case is checked and every failure is reported together, with its file and name.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails by panicking"
)]

use std::path::Path;

use dpseg::campaign::{lint, Campaign, LintConfig};
use dpseg::limits::Limits;
use dpseg::profile::Profile;
use dpseg::rules::ast::Expr;
use dpseg::rules::{parse, Rule, RuleError};
use dpseg::schema::Schema;
use dpseg::time::parse_timestamp;
use serde::Deserialize;
use serde_json::{json, Value};

struct Ctx<'a> {
    doc: &'a Value,
    case: &'a Value,
}

impl Ctx<'_> {
    fn str(&self, key: &str) -> Option<&str> {
        self.case.get(key).and_then(Value::as_str)
    }

    fn limits(&self) -> Result<Limits, String> {
        match self.case.get("limits") {
            None => Ok(Limits::default()),
            Some(v) => Limits::deserialize(v).map_err(|e| format!("limits: {e}")),
        }
    }

    fn now(&self) -> Result<i64, String> {
        let text = self.str("now").or_else(|| self.doc["now"].as_str()).ok_or("no now")?;
        parse_timestamp(text).map_err(|e| e.to_string())
    }

    fn profile(
        &self,
        schema: &Schema,
        limits: &Limits,
    ) -> Result<Result<Profile, (String, String)>, String> {
        let doc = match (self.case.get("profile_doc"), self.str("profile")) {
            (Some(doc), _) => doc.clone(),
            (None, Some(name)) => {
                self.doc["profiles"].get(name).cloned().ok_or(format!("no profile {name}"))?
            }
            (None, None) => json!({}),
        };
        Ok(Profile::from_json_value(schema, &doc, self.now()?, limits)
            .map_err(|e| (e.code().to_owned(), e.path.clone())))
    }
}

fn rule_error(e: &RuleError, source: &str) -> Value {
    let at = e.position(source);
    json!({"error": e.kind.code(), "at": format!("{}:{}", at.line, at.column), "message": e.render("rule", source)})
}

/// Runs one case; `Err` describes a mismatch.
fn run_case(ctx: &Ctx<'_>) -> Result<(), String> {
    let case = ctx.case;
    let limits = ctx.limits()?;
    let schema =
        Schema::from_json_value(&ctx.doc["schema"], &limits).map_err(|e| format!("schema: {e}"))?;
    let expect_error = ctx.str("error");

    // A profile that must be refused.
    if case.get("profile_doc").is_some() && expect_error.is_some() && case.get("rule").is_none() {
        return match ctx.profile(&schema, &limits)? {
            Ok(_) => Err("profile was accepted".into()),
            Err((code, path)) => {
                let want_path = ctx.str("path").unwrap_or(&path);
                if Some(code.as_str()) == expect_error && path == want_path {
                    Ok(())
                } else {
                    Err(format!("got {code} at {path}"))
                }
            }
        };
    }

    if let Some(campaign) = case.get("campaign") {
        let campaign = match Campaign::from_json_value(campaign, &limits) {
            Ok(c) => c,
            Err(e) if Some(e.code()) == expect_error => return Ok(()),
            Err(e) => return Err(format!("campaign refused: {} ({e})", e.code())),
        };
        if let Some(want) = case.get("lint").and_then(Value::as_array) {
            let mut config = LintConfig::default();
            if let Some(cap) = case.pointer("/lint_config/epsilon_max").and_then(Value::as_f64) {
                config.epsilon_max = cap;
            }
            if let Some(devices) = case.pointer("/lint_config/devices").and_then(Value::as_u64) {
                config.devices = devices;
            }
            let findings = lint(&campaign, &schema, &config, &limits);
            let got: Vec<Value> = findings
                .iter()
                .map(|f| {
                    let mut v = json!({"code": f.code, "severity": serde_json::to_value(f.severity).unwrap_or_default()});
                    if let Some(s) = &f.segment {
                        v["segment"] = json!(s);
                    }
                    if let (Some(l), Some(c)) = (f.line, f.column) {
                        v["at"] = json!(format!("{l}:{c}"));
                    }
                    v
                })
                .collect();
            // Expected entries may leave out `segment` and `at`; compare on the keys they give.
            let matches = |w: &Value, g: &Value| {
                w.as_object().is_some_and(|o| o.iter().all(|(k, v)| g.get(k) == Some(v)))
            };
            let mut unmatched: Vec<&Value> = got.iter().collect();
            for w in want {
                match unmatched.iter().position(|g| matches(w, g)) {
                    Some(i) => {
                        unmatched.remove(i);
                    }
                    None => return Err(format!("missing finding {w}; got {got:?}")),
                }
            }
            if !unmatched.is_empty() {
                return Err(format!("unexpected findings {unmatched:?}"));
            }
            return device_agrees_with_lint(&campaign, &schema, &config, &findings, &limits);
        }
        let compiled = match campaign.compile(&schema, &limits) {
            Ok(c) => c,
            Err(findings) => {
                let first = &findings[0];
                let at = first.line.zip(first.column).map(|(l, c)| format!("{l}:{c}"));
                let ok = Some(first.code) == expect_error
                    && ctx.str("at").is_none_or(|a| Some(a) == at.as_deref())
                    && ctx.str("segment").is_none_or(|s| Some(s) == first.segment.as_deref());
                return if ok { Ok(()) } else { Err(format!("got {first}")) };
            }
        };
        if expect_error.is_some() {
            return Err("campaign compiled".into());
        }
        let profile =
            ctx.profile(&schema, &limits)?.map_err(|e| format!("profile refused: {e:?}"))?;
        let got = compiled.membership_json(&compiled.evaluate(&profile, ctx.now()?));
        return if Some(&got) == case.get("expect") { Ok(()) } else { Err(format!("got {got}")) };
    }

    // A single rule, as text or as the JSON tree.
    let (rule, source) = if let Some(ast) = case.get("ast") {
        let ast: Expr = match serde_json::from_value(ast.clone()) {
            Ok(a) => a,
            Err(e) if expect_error == Some("ast-syntax") => return Ok(()).map(|()| drop(e)),
            Err(e) => return Err(format!("ast refused: {e}")),
        };
        let text = ast.to_string();
        if let Some(want) = ctx.str("canonical") {
            if text != want {
                return Err(format!("prints as {text:?}"));
            }
        }
        (Rule::from_ast(&ast, &schema, &limits), text)
    } else {
        let text = ctx.str("rule").ok_or("case has no rule, ast, campaign or profile_doc")?;
        if let Ok(ast) = parse(text, &limits) {
            let printed = ast.to_string();
            if let Some(want) = ctx.str("canonical") {
                if printed != want {
                    return Err(format!("prints as {printed:?}"));
                }
            }
            let again = parse(&printed, &limits.clone().with_rule_bytes_max(usize::MAX).unwrap());
            if again.as_ref().ok() != Some(&ast) {
                return Err(format!(
                    "canonical text {printed:?} does not parse back to the same tree"
                ));
            }
        }
        (Rule::from_text(text, &schema, &limits), text.to_owned())
    };
    match (rule, expect_error) {
        (Err(e), Some(code)) => {
            let got = rule_error(&e, &source);
            let ok = got["error"] == code && ctx.str("at").is_none_or(|a| got["at"] == a);
            if ok {
                Ok(())
            } else {
                Err(format!("got {got}"))
            }
        }
        (Err(e), None) => Err(format!("rule refused: {}", rule_error(&e, &source))),
        (Ok(_), Some(code)) if case.get("profile_doc").is_none() => {
            Err(format!("rule compiled; expected {code}"))
        }
        (Ok(rule), _) => {
            let profile = match (ctx.profile(&schema, &limits)?, expect_error) {
                (Ok(p), None) => p,
                (Err((code, _)), Some(want)) if code == want => return Ok(()),
                (Ok(_), Some(want)) => return Err(format!("profile accepted; expected {want}")),
                (Err(e), _) => return Err(format!("profile refused: {e:?}")),
            };
            let got = rule.evaluate(&profile, ctx.now()?);
            if Some(&json!(got)) == case.get("expect") {
                Ok(())
            } else {
                Err(format!("evaluated to {got}"))
            }
        }
    }
}

/// A device checks the compiled campaign, not the rules (docs/compiled.md): read as the
/// runtime reads it, it must refuse exactly the campaigns whose lint has an error about data or
/// ε (`purpose-mismatch`, `sensitive-without-review`, `epsilon-over-cap`), with that code.
fn device_agrees_with_lint(
    campaign: &Campaign,
    schema: &Schema,
    config: &LintConfig,
    findings: &[dpseg::campaign::Finding],
    limits: &Limits,
) -> Result<(), String> {
    use dpseg::campaign::Runnable;
    use dpseg::privacy::ledger::SitePolicy;
    let Ok(compiled) = campaign.compile(schema, limits) else { return Ok(()) };
    let bytes = compiled.runnable().to_compact();
    let run = Runnable::from_compact_for_evaluation(&bytes, limits)
        .map_err(|e| format!("the runtime cannot read the compiled campaign: {e}"))?;
    let policy = SitePolicy {
        epsilon_report_max: config.epsilon_max,
        epsilon_window_max: config.epsilon_max,
        ..SitePolicy::default()
    };
    let device = run.check(schema, &schema.id(), &policy).map(|_| ());
    let lint_codes: Vec<&str> = findings
        .iter()
        .filter(|f| f.severity == dpseg::campaign::Severity::Error)
        .map(|f| f.code)
        .filter(|c| {
            ["purpose-mismatch", "sensitive-without-review", "epsilon-over-cap"].contains(c)
        })
        .collect();
    // The planner rounds ε up to a realisable coin: a campaign at the cap may plan a hair over.
    let code = |r: &dpseg::campaign::Refusal| match r.code() {
        "over-report-cap" | "over-window-cap" => "epsilon-over-cap",
        c => c,
    };
    match (&device, lint_codes.first()) {
        (Ok(()), None) => Ok(()),
        (Err(r), Some(_)) if lint_codes.contains(&code(r)) => Ok(()),
        (Err(dpseg::campaign::Refusal::Empty), None) => Ok(()),
        (got, _) => Err(format!("the device's check gives {got:?}, lint's errors {lint_codes:?}")),
    }
}

#[test]
fn spec_suite() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/spec");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    assert!(files.len() >= 10, "spec files missing from {}", dir.display());
    let mut failures = Vec::new();
    let (mut total, mut negative) = (0, 0);
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let doc: Value = match serde_json::from_str(&text) {
            Ok(d) => d,
            Err(e) => {
                failures.push(format!("{}: not JSON: {e}", file.display()));
                continue;
            }
        };
        for case in doc["cases"].as_array().map(Vec::as_slice).unwrap_or_default() {
            total += 1;
            let is_negative = case.get("error").is_some()
                || case["lint"]
                    .as_array()
                    .is_some_and(|l| l.iter().any(|f| f["severity"] == "error"));
            negative += usize::from(is_negative);
            if let Err(why) = run_case(&Ctx { doc: &doc, case }) {
                let name =
                    file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                failures.push(format!("{name}: {}: {why}", case["name"].as_str().unwrap_or("?")));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {total} spec cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(total >= 300 && negative >= 80, "the suite shrank: {total} cases, {negative} negative");
}
