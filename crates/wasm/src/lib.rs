//! The verifier module (ARCHITECTURE "Browser modules"): the whole core, which a page imports
//! only when it needs it. Built twice: without features as `dpseg_verify`, which a page imports
//! for a data map given as JSON text or a campaign document without its compiled form; with the
//! default `tools` feature as `dpseg_core`, for explanations in words and the tools.
//!
//! [`verify_campaign`] compiles such a document, checks its `config_id`, lints it against the
//! data map under the site's caps, and returns the compiled bytes. The `tools` module adds `explainSegment` and the stateless
//! functions of the dashboard, rule editors and the spec suite.
//!
//! Every failure is thrown as one shape, a JS `Error` whose `name` is `DpsegError`, with a
//! stable `code` and a `details` object; nothing panics (the crate denies `unwrap`, `expect`
//! and `panic`, and the wasm profile aborts rather than unwinds).

use dpseg::campaign::{Campaign, CompiledCampaign, LintConfig, Severity};
use dpseg::limits::Limits;
use dpseg::privacy::ledger::SitePolicy;
use dpseg::schema::Schema;
use dpseg::wire::CampaignDocument;
use serde_json::{json, Value};
use wasm_bindgen::prelude::*;

/// A JSON value as a JS value.
fn to_js(v: &Value) -> JsValue {
    match v {
        Value::Null => JsValue::NULL,
        Value::Bool(b) => JsValue::from_bool(*b),
        Value::Number(n) => n.as_f64().map_or(JsValue::NULL, JsValue::from_f64),
        Value::String(s) => JsValue::from_str(s),
        Value::Array(a) => a.iter().map(to_js).collect::<js_sys::Array>().into(),
        Value::Object(m) => {
            let o = js_sys::Object::new();
            for (k, v) in m {
                let _ = js_sys::Reflect::set(&o, &JsValue::from_str(k), &to_js(v));
            }
            o.into()
        }
    }
}

/// The one error shape (see `dpseg_wasm_common::error`), with JSON details.
fn error(code: &str, message: &str, details: Value) -> JsValue {
    dpseg_wasm_common::error(code, message, to_js(&details))
}

fn parse_json(text: &str, what: &str) -> Result<Value, JsValue> {
    serde_json::from_str(text)
        .map_err(|e| error("json-syntax", &format!("{what} is not JSON: {e}"), Value::Null))
}

fn schema_from(text: &str, limits: &Limits) -> Result<Schema, JsValue> {
    Schema::from_json(text, limits).map_err(|e| error(e.code(), &e.to_string(), Value::Null))
}

/// A collector document (`GET /v1/campaigns/{id}`, [`CampaignDocument`]), read strictly.
fn document_of(doc: &Value) -> Result<CampaignDocument, JsValue> {
    CampaignDocument::deserialize_from(doc)
        .map_err(|e| error("campaign-syntax", &format!("campaign document: {e}"), Value::Null))
}

/// The campaign of a collector document, or of a campaign in its plain JSON form (the tools
/// take either; a document is what has a `config_id`).
fn campaign_of_document(doc: &Value, limits: &Limits) -> Result<Campaign, JsValue> {
    let campaign = if doc.get("config_id").is_some() {
        document_of(doc)?.campaign(limits)
    } else {
        Campaign::from_json_value(doc, limits)
    };
    campaign.map_err(|e| error(e.code(), &e.to_string(), Value::Null))
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
    let document = document_of(doc)?;
    let campaign =
        document.campaign(limits).map_err(|e| error(e.code(), &e.to_string(), Value::Null))?;
    let config = LintConfig { epsilon_max: policy.epsilon_report_max, ..LintConfig::default() };
    // One compilation: the review's (its errors refuse the campaign).
    let (compiled, findings) = dpseg::campaign::review(&campaign, schema, &config, limits);
    let errors: Vec<_> = findings.iter().filter(|f| f.severity == Severity::Error).collect();
    if let Some(first) = errors.first() {
        return Err(error(
            "lint-refused",
            &format!("campaign '{}' refused by lint: {first}", campaign.id()),
            json!({"campaign": campaign.id(), "findings": errors}),
        ));
    }
    let Some(compiled) = compiled else {
        return Err(error(
            "lint-refused",
            &format!("campaign '{}' does not compile", campaign.id()),
            Value::Null,
        ));
    };
    let claimed = document.config_id.as_str();
    if claimed != compiled.config_id() {
        return Err(error(
            "config-id-mismatch",
            &format!(
                "campaign '{}' claims config_id {claimed:?} but its content hashes to {}",
                campaign.id(),
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
                campaign.id(),
                mechanism.eps_report(),
                policy.epsilon_window_max
            ),
            Value::Null,
        ));
    }
    Ok(compiled)
}

/// Compiles a campaign document that comes without its compiled form (see [`verify`]) for a
/// data map (JSON form) and the site's caps, and returns the compiled campaign's bytes, which
/// the SDK then checks and runs as it does the collector's (`dpseg_checking.js`).
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
) -> Result<Vec<u8>, JsValue> {
    let limits = Limits::default();
    let policy = dpseg_wasm_common::site_policy(epsilon_report_max, epsilon_window_max)?;
    let schema = schema_from(schema_json, &limits)?;
    if document_json.len() > limits.campaign_bytes_max() * 2 {
        return Err(error("campaign-too-large", "campaign document is too large", Value::Null));
    }
    let doc = parse_json(document_json, "campaign document")?;
    Ok(verify(&schema, &doc, &policy, &limits)?.runnable().to_compact())
}

/// Validates a data map (JSON form) and returns it in the compact form the runtime module reads
/// (a `Uint8Array`).
///
/// # Errors
/// `schema-*` codes, naming the entry at fault.
#[wasm_bindgen(js_name = compactSchema)]
pub fn compact_schema(schema_json: &str) -> Result<Vec<u8>, JsValue> {
    Ok(schema_from(schema_json, &Limits::default())?.to_compact())
}

/// The content id of compact bytes (docs/compiled.md): a data map's `schema_id`, a campaign's
/// `config_id`.
#[wasm_bindgen(js_name = contentId)]
pub fn content_id(bytes: &[u8]) -> String {
    dpseg::compact::content_id(bytes)
}

/// The engine's version.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

#[cfg(feature = "tools")]
mod tools;
