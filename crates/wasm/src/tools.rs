//! The tools (feature `tools`, in the full module `dpseg_core`): explanations in words, lint,
//! the planner, and the stateless rule and campaign functions the dashboard, rule editors and
//! the spec suite use. The verify-only module (`dpseg_verify`) leaves them out: a page that
//! verifies a new campaign version needs none of them.

use dpseg::campaign::{Campaign, LintConfig};
use dpseg::limits::Limits;
use dpseg::profile::{Profile, ProfileError};
use dpseg::rules::ast::Expr;
use dpseg::rules::{parse, Rule, RuleError};
use dpseg::time::{parse_timestamp, UnixSecs};
use dpseg::wire::Plan;
use dpseg_wasm_common::secs;
use serde_json::{json, Value};
use wasm_bindgen::prelude::*;

use crate::{campaign_of_document, error, parse_json, schema_from};

fn rule_error(e: &RuleError, source: &str) -> JsValue {
    let at = e.position(source);
    error(
        e.kind.code(),
        &e.render("rule", source),
        json!({"at": format!("{}:{}", at.line, at.column)}),
    )
}

fn profile_error(e: &ProfileError) -> JsValue {
    error(e.code(), &e.to_string(), json!({"path": e.path}))
}

/// An RFC 3339 time (the stateless tools take `now` as text).
fn timestamp(text: &str) -> Result<UnixSecs, JsValue> {
    parse_timestamp(text).map_err(|e| error("bad-time", &e.to_string(), Value::Null))
}

fn limits_from(text: Option<String>) -> Result<Limits, JsValue> {
    let Some(text) = text else { return Ok(Limits::default()) };
    serde_json::from_str(&text)
        .map_err(|e| error("bad-limits", &format!("limits: {e}"), Value::Null))
}

/// Explains segment `index` of a campaign (collector document or JSON form) for a profile
/// document at `now_ms`, in words a visitor understands: `{summary, holds, reasons: [{text,
/// holds, because?}]}` as JSON.
///
/// # Errors
/// `schema-*`, `campaign-*` codes, profile codes with `details.path`, `unknown-segment`.
#[wasm_bindgen(js_name = explainSegment)]
pub fn explain_segment(
    schema_json: &str,
    document_json: &str,
    profile_json: &str,
    index: u32,
    now_ms: f64,
) -> Result<String, JsValue> {
    let limits = Limits::default();
    let schema = schema_from(schema_json, &limits)?;
    let now = secs(now_ms)?;
    let campaign = campaign_of_document(&parse_json(document_json, "campaign")?, &limits)?;
    let compiled = campaign.compile(&schema, &limits).map_err(|f| {
        error(
            "lint-refused",
            &format!("campaign '{}' does not compile", campaign.id()),
            json!({"findings": f}),
        )
    })?;
    let profile =
        Profile::from_json(&schema, profile_json, now, &limits).map_err(|e| profile_error(&e))?;
    let words = compiled
        .segment_words(&schema, &profile, now, index as usize)
        .ok_or_else(|| error("unknown-segment", &format!("no segment {index}"), Value::Null))?;
    serde_json::to_string(&words).map_err(|e| error("internal", &e.to_string(), Value::Null))
}

/// Lints a campaign (JSON form, or a collector document) against a data map (JSON form). Returns the findings as JSON
/// (`[{code, severity, segment?, line?, column?, message, snippet?}]`).
///
/// # Errors
/// `schema-*`/`campaign-*` codes when a file does not load.
#[wasm_bindgen]
pub fn lint(
    schema_json: &str,
    campaign_json: &str,
    epsilon_max: Option<f64>,
    devices: Option<f64>,
    limits_json: Option<String>,
) -> Result<String, JsValue> {
    let limits = limits_from(limits_json)?;
    let schema = schema_from(schema_json, &limits)?;
    let campaign = campaign_of_document(&parse_json(campaign_json, "campaign")?, &limits)?;
    let mut config = LintConfig::default();
    if let Some(e) = epsilon_max {
        config.epsilon_max = e;
    }
    if let Some(d) = devices.filter(|d| d.is_finite() && *d >= 0.0) {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "checked")]
        let d = d as u64;
        config.devices = d;
    }
    let findings = dpseg::campaign::lint(&campaign, &schema, &config, &limits);
    serde_json::to_string(&findings).map_err(|e| error("internal", &e.to_string(), Value::Null))
}

/// The planner: for a campaign (JSON form or collector document) reported by `devices` devices
/// an epoch, optionally at another ε per report, the expected standard error and 95% half-width
/// of the count of a segment or case held by a fraction `rate` of them. Returns the JSON of
/// [`Plan`], the same shape as `dpseg plan`'s.
///
/// # Errors
/// `campaign-*` codes; `bad-plan` for a non-positive count, rate or ε.
#[wasm_bindgen(js_name = planCampaign)]
pub fn plan_campaign(
    campaign_json: &str,
    devices: f64,
    rate: f64,
    epsilon: Option<f64>,
) -> Result<String, JsValue> {
    let limits = Limits::default();
    let mut campaign = campaign_of_document(&parse_json(campaign_json, "campaign")?, &limits)?;
    let positive = |x: f64| x.is_finite() && x > 0.0;
    let valid = positive(devices) && positive(rate) && rate < 1.0;
    if !valid || epsilon.is_some_and(|e| !positive(e)) {
        return Err(error(
            "bad-plan",
            "devices must be positive, rate in (0, 1) and epsilon positive",
            Value::Null,
        ));
    }
    if let Some(e) = epsilon {
        // The lifetime bound keeps its ratio to the per-report ε.
        campaign =
            campaign.with_epsilon(e).map_err(|e| error("bad-plan", &e.to_string(), Value::Null))?;
    }
    let mechanism =
        campaign.plan_mechanism().map_err(|e| error("bad-plan", &e.to_string(), Value::Null))?;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "checked positive")]
    let devices = devices as u64;
    let plan = Plan::new(&campaign, &mechanism, devices, |_, _| rate);
    serde_json::to_string(&plan).map_err(|e| error("internal", &e.to_string(), Value::Null))
}

/// Compiles a rule (text, or its JSON tree when `ast_json` is given) against a data map and
/// evaluates it for a profile at `now` (RFC 3339). Returns whether it holds.
///
/// # Errors
/// The rule's error code with `details.at` (`line:col`); `ast-syntax` for a tree serde
/// refuses; profile codes with `details.path`.
#[wasm_bindgen(js_name = checkRule)]
pub fn check_rule(
    schema_json: &str,
    rule: Option<String>,
    ast_json: Option<String>,
    profile_json: &str,
    now: &str,
    limits_json: Option<String>,
) -> Result<bool, JsValue> {
    let limits = limits_from(limits_json)?;
    let schema = schema_from(schema_json, &limits)?;
    let now = timestamp(now)?;
    let (compiled, source) = match (ast_json, rule) {
        (Some(ast), _) => {
            let ast: Expr = serde_json::from_str(&ast)
                .map_err(|e| error("ast-syntax", &e.to_string(), Value::Null))?;
            let text = ast.to_string();
            (Rule::from_ast(&ast, &schema, &limits), text)
        }
        (None, Some(text)) => (Rule::from_text(&text, &schema, &limits), text),
        (None, None) => return Err(error("bad-call", "give a rule or a tree", Value::Null)),
    };
    let rule = compiled.map_err(|e| rule_error(&e, &source))?;
    let profile =
        Profile::from_json(&schema, profile_json, now, &limits).map_err(|e| profile_error(&e))?;
    Ok(rule.evaluate(&profile, now))
}

/// Prints a rule (text, or its JSON tree) in canonical form.
///
/// # Errors
/// The parse error's code with `details.at`, or `ast-syntax`.
#[wasm_bindgen(js_name = printRule)]
pub fn print_rule(
    rule: Option<String>,
    ast_json: Option<String>,
    limits_json: Option<String>,
) -> Result<String, JsValue> {
    let limits = limits_from(limits_json)?;
    match (ast_json, rule) {
        (Some(ast), _) => serde_json::from_str::<Expr>(&ast)
            .map(|a| a.to_string())
            .map_err(|e| error("ast-syntax", &e.to_string(), Value::Null)),
        (None, Some(text)) => {
            parse(&text, &limits).map(|a| a.to_string()).map_err(|e| rule_error(&e, &text))
        }
        (None, None) => Err(error("bad-call", "give a rule or a tree", Value::Null)),
    }
}

/// Parses a rule and returns its JSON tree (the form `checkRule` and `printRule` accept).
///
/// # Errors
/// The parse error's code with `details.at`.
#[wasm_bindgen(js_name = parseRule)]
pub fn parse_rule(rule: &str, limits_json: Option<String>) -> Result<String, JsValue> {
    let limits = limits_from(limits_json)?;
    let ast = parse(rule, &limits).map_err(|e| rule_error(&e, rule))?;
    serde_json::to_string(&ast).map_err(|e| error("internal", &e.to_string(), Value::Null))
}

/// Compiles a campaign (JSON form) and evaluates it for a profile at `now`. Returns
/// `{"segments": {id: bool}, "groups": {id: case or null}}` as JSON.
///
/// # Errors
/// `campaign-*` codes; the first compile error's code with `details.at` and
/// `details.segment`; profile codes with `details.path`.
#[wasm_bindgen(js_name = evaluateCampaign)]
pub fn evaluate_campaign(
    schema_json: &str,
    campaign_json: &str,
    profile_json: &str,
    now: &str,
    limits_json: Option<String>,
) -> Result<String, JsValue> {
    let limits = limits_from(limits_json)?;
    let schema = schema_from(schema_json, &limits)?;
    let now = timestamp(now)?;
    let campaign = Campaign::from_json_value(&parse_json(campaign_json, "campaign")?, &limits)
        .map_err(|e| error(e.code(), &e.to_string(), Value::Null))?;
    let compiled = campaign.compile(&schema, &limits).map_err(|findings| {
        let first = findings.first();
        let at = first.and_then(|f| f.line.zip(f.column)).map(|(l, c)| format!("{l}:{c}"));
        error(
            first.map_or("compile", |f| f.code),
            &first.map(ToString::to_string).unwrap_or_default(),
            json!({"at": at, "segment": first.and_then(|f| f.segment.clone())}),
        )
    })?;
    let profile =
        Profile::from_json(&schema, profile_json, now, &limits).map_err(|e| profile_error(&e))?;
    Ok(compiled.membership_json(&compiled.evaluate(&profile, now)).to_string())
}

/// Compiles a campaign (JSON form) into the compact form the runtime module runs, without the
/// `config_id` and lint checks a device makes before running a collector's campaign: for tools
/// that evaluate exactly as a device does (the spec suite runs every campaign case through the
/// runtime this way).
///
/// # Errors
/// As [`evaluate_campaign`].
#[wasm_bindgen(js_name = compileRunnable)]
pub fn compile_runnable(
    schema_json: &str,
    campaign_json: &str,
    limits_json: Option<String>,
) -> Result<Vec<u8>, JsValue> {
    let limits = limits_from(limits_json)?;
    let schema = schema_from(schema_json, &limits)?;
    let campaign = Campaign::from_json_value(&parse_json(campaign_json, "campaign")?, &limits)
        .map_err(|e| error(e.code(), &e.to_string(), Value::Null))?;
    let compiled = campaign.compile(&schema, &limits).map_err(|findings| {
        let first = findings.first();
        error(
            first.map_or("compile", |f| f.code),
            &first.map(ToString::to_string).unwrap_or_default(),
            Value::Null,
        )
    })?;
    Ok(compiled.runnable().to_compact())
}

/// Checks a profile document against a data map at `now`.
///
/// # Errors
/// The profile's error code with `details.path`.
#[wasm_bindgen(js_name = checkProfile)]
pub fn check_profile(
    schema_json: &str,
    profile_json: &str,
    now: &str,
    limits_json: Option<String>,
) -> Result<(), JsValue> {
    let limits = limits_from(limits_json)?;
    let schema = schema_from(schema_json, &limits)?;
    let now = timestamp(now)?;
    Profile::from_json(&schema, profile_json, now, &limits).map(drop).map_err(|e| profile_error(&e))
}
