//! The verifier module (ARCHITECTURE "Two wasm modules"): the whole core, which a page loads
//! only when it meets a campaign version it has not verified, when the visitor asks why they
//! are in a segment, or for tools.
//!
//! [`verify_campaign`] recompiles a campaign the collector serves, recomputes its `config_id`,
//! lints it against the data map under the site's caps, and hands the runtime module the
//! campaign in its compact form. [`explain_segment`] explains a segment in words. The other
//! functions ([`check_rule`], [`print_rule`], [`evaluate_campaign`], [`check_profile`],
//! [`lint`], [`plan_campaign`]) are for tools: the spec suite in Node and Chromium, the
//! dashboard's planner, rule editors.
//!
//! Every failure is thrown as one shape, a JS `Error` whose `name` is `DpsegError`, with a
//! stable `code` and a `details` object; nothing panics (the crate denies `unwrap`, `expect`
//! and `panic`, and the wasm profile aborts rather than unwinds).

use dpseg::campaign::{Campaign, CompiledCampaign, LintConfig, Severity};
use dpseg::limits::Limits;
use dpseg::privacy::ledger::SitePolicy;
use dpseg::privacy::mechanism::Mechanism;
use dpseg::profile::{Profile, ProfileError};
use dpseg::rules::ast::Expr;
use dpseg::rules::{parse, Rule, RuleError};
use dpseg::schema::Schema;
use dpseg::time::{parse_timestamp, UnixSecs};
use dpseg_wasm_common::{object, secs, to_js};
use serde_json::{json, Value};
use wasm_bindgen::prelude::*;

/// The one error shape (see `dpseg_wasm_common::error`), with JSON details.
fn error(code: &str, message: &str, details: Value) -> JsValue {
    dpseg_wasm_common::error(code, message, to_js(&details))
}

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

fn parse_json(text: &str, what: &str) -> Result<Value, JsValue> {
    serde_json::from_str(text)
        .map_err(|e| error("json-syntax", &format!("{what} is not JSON: {e}"), Value::Null))
}

fn schema_from(text: &str, limits: &Limits) -> Result<Schema, JsValue> {
    Schema::from_json(text, limits).map_err(|e| error(e.code(), &e.to_string(), Value::Null))
}

fn limits_from(text: Option<String>) -> Result<Limits, JsValue> {
    let mut limits = Limits::default();
    let Some(text) = text else { return Ok(limits) };
    let Value::Object(map) = parse_json(&text, "limits")? else {
        return Err(error("bad-limits", "limits must be an object", Value::Null));
    };
    for (k, v) in map {
        let n = v.as_u64().and_then(|n| usize::try_from(n).ok());
        if !n.is_some_and(|n| limits.set(&k, n)) {
            return Err(error(
                "bad-limits",
                &format!("unknown limit or bad count: {k}"),
                Value::Null,
            ));
        }
    }
    Ok(limits)
}

/// The campaign inside a collector document (`GET /v1/campaigns/{id}`), which carries the
/// campaign's own fields plus what the collector derived (`config_id`, `mechanism`,
/// `epoch_secs`). A campaign in its plain JSON form passes through unchanged.
fn campaign_of_document(doc: &Value, limits: &Limits) -> Result<Campaign, JsValue> {
    let mut raw = doc.clone();
    if let Some(obj) = raw.as_object_mut() {
        for derived in ["config_id", "mechanism", "epoch_secs"] {
            obj.remove(derived);
        }
        obj.retain(|_, v| !v.is_null());
    }
    Campaign::from_json_value(&raw, limits)
        .map_err(|e| error(e.code(), &e.to_string(), Value::Null))
}

/// What the verifier hands the runtime for one campaign: the campaign compiled, its
/// `config_id` recomputed and compared with the one the collector claims, and linted against
/// the data map under the site's caps. Any lint error refuses the campaign: data without the
/// campaign's purpose, sensitive data without review, ε over the cap.
fn verify(
    schema: &Schema,
    doc: &Value,
    policy: &SitePolicy,
    limits: &Limits,
) -> Result<CompiledCampaign, JsValue> {
    let campaign = campaign_of_document(doc, limits)?;
    let config = LintConfig { epsilon_max: policy.epsilon_report_max, ..LintConfig::default() };
    let findings = dpseg::campaign::lint(&campaign, schema, &config, limits);
    let errors: Vec<_> = findings.iter().filter(|f| f.severity == Severity::Error).collect();
    if let Some(first) = errors.first() {
        return Err(error(
            "lint-refused",
            &format!("campaign '{}' refused by lint: {first}", campaign.id),
            json!({"campaign": campaign.id, "findings": errors}),
        ));
    }
    let compiled = campaign.compile(schema, limits).map_err(|f| {
        error(
            "lint-refused",
            &format!("campaign '{}' does not compile", campaign.id),
            json!({"findings": f}),
        )
    })?;
    let claimed = doc.get("config_id").and_then(Value::as_str).unwrap_or_default();
    if claimed != compiled.config_id() {
        return Err(error(
            "config-id-mismatch",
            &format!(
                "campaign '{}' claims config_id {claimed:?} but its content hashes to {}",
                campaign.id,
                compiled.config_id()
            ),
            json!({"claimed": claimed, "computed": compiled.config_id()}),
        ));
    }
    let Some(mechanism) = compiled.mechanism() else {
        return Err(error("campaign-empty", "campaign has no segments or groups", Value::Null));
    };
    if mechanism.eps_report() > policy.epsilon_window_max {
        return Err(error(
            "over-window-cap",
            &format!(
                "one report of campaign '{}' costs ε = {} but the site allows {} per window",
                campaign.id,
                mechanism.eps_report(),
                policy.epsilon_window_max
            ),
            Value::Null,
        ));
    }
    Ok(compiled)
}

fn policy_from(epsilon_report_max: f64, epsilon_window_max: f64) -> Result<SitePolicy, JsValue> {
    let ok = |e: f64| e.is_finite() && e > 0.0;
    if !ok(epsilon_report_max) || !ok(epsilon_window_max) {
        return Err(error(
            "bad-policy",
            "epsilonReportMax and epsilonWindowMax must be positive numbers",
            json!({"epsilonReportMax": epsilon_report_max, "epsilonWindowMax": epsilon_window_max}),
        ));
    }
    Ok(SitePolicy { epsilon_report_max, epsilon_window_max, ..SitePolicy::default() })
}

/// Verifies a campaign as `GET /v1/campaigns/{id}` serves it (see [`verify`]) for a data map
/// (JSON form) and the site's caps. Returns `{runnable, info}`: the campaign in the compact
/// form the runtime module loads (a `Uint8Array`), and what a page needs to name results —
/// `{id, config_id, purpose, epoch_secs, epsilon, epsilon_lifetime, segments: [{id,
/// description?}], groups: [{id, cases: [id]}], mechanism, report_bytes_payload}`.
///
/// # Errors
/// `schema-*`, `campaign-*` codes, `config-id-mismatch`, `lint-refused` (with
/// `details.findings`), `campaign-empty`, `over-window-cap`, `bad-policy`.
#[wasm_bindgen(js_name = verifyCampaign)]
pub fn verify_campaign(
    schema_json: &str,
    document_json: &str,
    epsilon_report_max: f64,
    epsilon_window_max: f64,
) -> Result<JsValue, JsValue> {
    let limits = Limits::default();
    let policy = policy_from(epsilon_report_max, epsilon_window_max)?;
    let schema = schema_from(schema_json, &limits)?;
    if document_json.len() > limits.campaign_bytes_max * 2 {
        return Err(error("campaign-too-large", "campaign document is too large", Value::Null));
    }
    let doc = parse_json(document_json, "campaign document")?;
    let compiled = verify(&schema, &doc, &policy, &limits)?;
    let c = compiled.campaign();
    let mechanism = compiled.mechanism();
    let info = json!({
        "id": c.id,
        "config_id": compiled.config_id(),
        "purpose": c.purpose,
        "epoch_secs": c.epoch.secs(),
        "epsilon": c.epsilon,
        "epsilon_lifetime": c.epsilon_lifetime,
        "segments": c.segments.iter().map(|s| json!({"id": s.id, "description": s.description})).collect::<Vec<_>>(),
        "groups": c.groups.iter().map(|g| json!({"id": g.id, "cases": g.cases.iter().map(|k| &k.id).collect::<Vec<_>>()})).collect::<Vec<_>>(),
        "mechanism": mechanism,
        "report_bytes_payload": mechanism.map(Mechanism::payload_bytes),
    });
    let runnable = js_sys::Uint8Array::from(compiled.runnable().to_compact().as_slice());
    Ok(object(&[("runnable", runnable.into()), ("info", to_js(&info))]))
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
            &format!("campaign '{}' does not compile", campaign.id),
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

/// The engine's version.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
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
/// of the count of a segment or case held by a fraction `rate` of them. Returns JSON
/// `{per_report, epsilon_report, epsilon_lifetime, items: [{id, oracle, std, half_width}]}`.
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
        campaign.epsilon_lifetime *= e / campaign.epsilon;
        campaign.epsilon = e;
    }
    let mechanism =
        Mechanism::plan(&campaign).map_err(|e| error("bad-plan", &e.to_string(), Value::Null))?;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "checked positive")]
    let devices = devices as u64;
    let ids = campaign
        .segments
        .iter()
        .map(|s| s.id.clone())
        .chain(campaign.groups.iter().map(|g| g.id.clone()));
    let items: Vec<Value> = mechanism
        .items()
        .iter()
        .zip(ids)
        .map(|(item, id)| {
            let (std, half) = dpseg::estimate::expected(item, &mechanism, devices, rate);
            json!({"id": id, "oracle": item.oracle, "std": std, "half_width": half})
        })
        .collect();
    Ok(json!({
        "per_report": mechanism.per_report(),
        "epsilon_report": mechanism.eps_report(),
        "epsilon_lifetime": mechanism.eps_lifetime(),
        "items": items,
    })
    .to_string())
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
