//! WebAssembly binding of the dpseg core (DESIGN §2): a thin shell that converts types and
//! errors. The JS glue in `js/` adds storage, consent, scheduling and transport.
//!
//! API boundary: [`Engine`] holds the data map, the profile, the compiled campaigns and the
//! device state inside wasm memory, and changes them in place. Evaluation returns a typed array,
//! not JSON. Every failure is thrown as one shape, a JS `Error` whose `name` is `DpsegError`,
//! with a stable `code` and a `details` object; nothing panics (the crate denies `unwrap`,
//! `expect` and `panic`, and the wasm profile aborts rather than unwinds).
//!
//! The stateless functions at the bottom ([`check_rule`], [`print_rule`], [`evaluate_campaign`],
//! [`check_profile`], [`lint`]) are for tools: the spec suite in Node and Chromium, and rule
//! editors.

use dpseg::campaign::{Campaign, CompiledCampaign, LintConfig, Membership, Severity};
use dpseg::limits::Limits;
use dpseg::privacy::ledger::{DeviceState, SitePolicy};
use dpseg::privacy::mechanism::Mechanism;
use dpseg::profile::{Profile, ProfileError};
use dpseg::rules::ast::Expr;
use dpseg::rules::{parse, Rule, RuleError};
use dpseg::schema::Schema;
use dpseg::time::{parse_timestamp, UnixSecs};
use rand_core::{CryptoRng, RngCore};
use serde_json::{json, Value};
use wasm_bindgen::prelude::*;

/// The error every call throws: `Error{name: "DpsegError", code, message, details}`.
fn error(code: &str, message: &str, details: Value) -> JsValue {
    let e = js_sys::Error::new(message);
    e.set_name("DpsegError");
    let set = |k: &str, v: JsValue| js_sys::Reflect::set(&e, &JsValue::from_str(k), &v);
    // Setting a property on a fresh object cannot fail; if it somehow did, the message remains.
    let _ = set("code", JsValue::from_str(code));
    let _ = set("details", json_to_js(&details));
    e.into()
}

fn json_to_js(v: &Value) -> JsValue {
    js_sys::JSON::parse(&v.to_string()).unwrap_or(JsValue::NULL)
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

fn unknown_campaign(handle: u32) -> JsValue {
    error("unknown-campaign", &format!("no campaign handle {handle}"), Value::Null)
}

/// An RFC 3339 time (the stateless tools take `now` as text).
fn timestamp(text: &str) -> Result<UnixSecs, JsValue> {
    parse_timestamp(text).map_err(|e| error("bad-time", &e.to_string(), Value::Null))
}

/// The browser's CSPRNG (`crypto.getRandomValues` through getrandom), natively the OS's.
/// Bytes are drawn 256 at a time: each draw crosses into JS, and a report needs many coins.
struct SystemRng {
    buf: [u8; 256],
    /// Bytes of `buf` already handed out; invariant: `pos <= buf.len()`.
    pos: usize,
}

impl SystemRng {
    /// A generator whose first draw succeeded; refuses to go on without a CSPRNG.
    fn new() -> Result<SystemRng, JsValue> {
        let mut buf = [0u8; 256];
        getrandom::fill(&mut buf).map_err(|e| {
            error("no-randomness", &format!("no secure random source: {e}"), Value::Null)
        })?;
        Ok(SystemRng { buf, pos: 0 })
    }
}

impl RngCore for SystemRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }

    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        if self.try_fill_bytes(dest).is_err() {
            // The source worked when this generator was made (`SystemRng::new`); a source that
            // stops working cannot be papered over with predictable bytes, so the noise would
            // be lost. Abort instead (the wasm traps and the JS glue reports `internal`).
            std::process::abort();
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        for byte in dest.iter_mut() {
            if self.pos == self.buf.len() {
                getrandom::fill(&mut self.buf).map_err(|e| {
                    rand_core::Error::from(
                        std::num::NonZeroU32::new(e.raw_os_error().map_or(1, i32::unsigned_abs))
                            .unwrap_or(std::num::NonZeroU32::MIN),
                    )
                })?;
                self.pos = 0;
            }
            *byte = self.buf[self.pos];
            // Each byte is used once: overwrite it so a copy of the state cannot replay it.
            self.buf[self.pos] = 0;
            self.pos += 1;
        }
        Ok(())
    }
}

impl CryptoRng for SystemRng {}

fn secs(now_ms: f64) -> Result<UnixSecs, JsValue> {
    if now_ms.is_finite() && now_ms.abs() < 8.64e15 {
        #[allow(clippy::cast_possible_truncation, reason = "range checked above")]
        Ok((now_ms / 1000.0).floor() as i64)
    } else {
        Err(error("bad-time", &format!("{now_ms} is not a time in milliseconds"), Value::Null))
    }
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

/// A campaign the engine loaded from its collector document.
struct Loaded {
    compiled: CompiledCampaign,
    mechanism: Mechanism,
    /// Reused by [`Engine::evaluate`] so evaluation does not allocate.
    membership: Membership,
}

/// The on-device engine: data map, profile, campaigns and device state.
#[wasm_bindgen]
pub struct Engine {
    schema: Schema,
    limits: Limits,
    policy: SitePolicy,
    profile: Profile,
    device: DeviceState,
    campaigns: Vec<Loaded>,
}

#[wasm_bindgen]
impl Engine {
    /// Opens an engine for a data map (its JSON form) with the site's caps: the highest ε of
    /// one report and the highest total over the rolling 30-day window.
    ///
    /// # Errors
    /// `schema-*` codes for a bad data map, `bad-policy` for caps that are not positive.
    #[wasm_bindgen(constructor)]
    pub fn new(
        schema_json: &str,
        epsilon_report_max: f64,
        epsilon_window_max: f64,
    ) -> Result<Engine, JsValue> {
        let limits = Limits::default();
        let schema = schema_from(schema_json, &limits)?;
        let ok = |e: f64| e.is_finite() && e > 0.0;
        if !ok(epsilon_report_max) || !ok(epsilon_window_max) {
            return Err(error(
                "bad-policy",
                "epsilonReportMax and epsilonWindowMax must be positive numbers",
                json!({"epsilonReportMax": epsilon_report_max, "epsilonWindowMax": epsilon_window_max}),
            ));
        }
        let policy = SitePolicy { epsilon_report_max, epsilon_window_max, ..SitePolicy::default() };
        let profile = Profile::new(&schema);
        let device = DeviceState::new(&mut SystemRng::new()?);
        Ok(Engine { schema, limits, policy, profile, device, campaigns: Vec::new() })
    }

    /// Sets attribute `name` (`null` unsets it).
    ///
    /// # Errors
    /// `unknown-attribute`, `type`, `vocabulary`… with `details.path`; the profile is unchanged.
    pub fn set(&mut self, name: &str, value: JsValue) -> Result<(), JsValue> {
        let value: Value = if value.is_undefined() {
            Value::Null
        } else {
            serde_wasm_bindgen::from_value(value).map_err(|e| {
                error("profile-syntax", &format!("attribute '{name}': {e}"), Value::Null)
            })?
        };
        self.profile.set(&self.schema, name, &value, &self.limits).map_err(|e| profile_error(&e))
    }

    /// Records an event `{name, at, props}` (`at` an RFC 3339 time) and applies retention as of
    /// `now_ms`.
    ///
    /// # Errors
    /// As [`Engine::set`].
    pub fn track(&mut self, event: JsValue, now_ms: f64) -> Result<(), JsValue> {
        let now = secs(now_ms)?;
        let event: Value = serde_wasm_bindgen::from_value(event)
            .map_err(|e| error("profile-syntax", &format!("event: {e}"), Value::Null))?;
        self.profile.track(&self.schema, &event, now, &self.limits).map_err(|e| profile_error(&e))
    }

    /// Deletes events past their retention; returns how many.
    #[wasm_bindgen(js_name = applyRetention)]
    pub fn apply_retention(&mut self, now_ms: f64) -> Result<usize, JsValue> {
        Ok(self.profile.apply_retention(&self.schema, secs(now_ms)?))
    }

    /// The profile as its JSON document.
    #[wasm_bindgen(js_name = profileJson)]
    pub fn profile_json(&self) -> String {
        self.profile.to_json(&self.schema).to_string()
    }

    /// Replaces the profile with a stored document.
    ///
    /// # Errors
    /// As [`Engine::set`]; the profile is then unchanged.
    #[wasm_bindgen(js_name = importProfile)]
    pub fn import_profile(&mut self, json: &str, now_ms: f64) -> Result<(), JsValue> {
        self.profile = Profile::from_json(&self.schema, json, secs(now_ms)?, &self.limits)
            .map_err(|e| profile_error(&e))?;
        Ok(())
    }

    /// The device state (secret and ledger) as JSON, for storage on the device only.
    #[wasm_bindgen(js_name = deviceJson)]
    pub fn device_json(&self) -> String {
        serde_json::to_string(&self.device).unwrap_or_default()
    }

    /// Restores the device state from [`Engine::device_json`]'s output.
    ///
    /// # Errors
    /// `device-syntax` when the text is not a device state; nothing changes then.
    #[wasm_bindgen(js_name = importDevice)]
    pub fn import_device(&mut self, json: &str) -> Result<(), JsValue> {
        self.device = serde_json::from_str(json).map_err(|e| {
            error("device-syntax", &format!("stored device state: {e}"), Value::Null)
        })?;
        Ok(())
    }

    /// The ledger: `[{campaign, epoch, epsilon, at}]`.
    pub fn ledger(&self) -> String {
        serde_json::to_string(self.device.spent()).unwrap_or_default()
    }

    /// ε spent over the rolling window ending at `now_ms`.
    #[wasm_bindgen(js_name = spentInWindow)]
    pub fn spent_in_window(&self, now_ms: f64) -> Result<f64, JsValue> {
        Ok(self.device.spent_in_window(secs(now_ms)?, &self.policy))
    }

    /// Loads a campaign as `GET /v1/campaigns/{id}` serves it. The campaign is recompiled here,
    /// its `config_id` recomputed and compared, and it is linted against this data map with the
    /// site's ε cap: a campaign with any lint error (data without the campaign's purpose,
    /// sensitive data without review, ε over the cap) is refused. Returns the campaign's
    /// handle; loading a campaign with the same id replaces it.
    ///
    /// # Errors
    /// `campaign-*` codes, `config-id-mismatch`, `lint-refused` (with `details.findings`),
    /// `over-window-cap` when one report would exceed the rolling cap.
    #[wasm_bindgen(js_name = loadCampaign)]
    pub fn load_campaign(&mut self, document_json: &str) -> Result<u32, JsValue> {
        if document_json.len() > self.limits.campaign_bytes_max * 2 {
            return Err(error("campaign-too-large", "campaign document is too large", Value::Null));
        }
        let doc = parse_json(document_json, "campaign document")?;
        let campaign = campaign_of_document(&doc, &self.limits)?;
        let config =
            LintConfig { epsilon_max: self.policy.epsilon_report_max, ..LintConfig::default() };
        let findings = dpseg::campaign::lint(&campaign, &self.schema, &config, &self.limits);
        if findings.iter().any(|f| f.severity == Severity::Error) {
            let errors: Vec<_> =
                findings.iter().filter(|f| f.severity == Severity::Error).collect();
            let first = errors.first().map(|f| f.to_string()).unwrap_or_default();
            return Err(error(
                "lint-refused",
                &format!("campaign '{}' refused by lint: {first}", campaign.id),
                json!({"campaign": campaign.id, "findings": errors}),
            ));
        }
        let compiled = campaign.compile(&self.schema, &self.limits).map_err(|f| {
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
        let Some(mechanism) = compiled.mechanism().cloned() else {
            return Err(error("campaign-empty", "campaign has no segments or groups", Value::Null));
        };
        if mechanism.eps_report() > self.policy.epsilon_window_max {
            return Err(error(
                "over-window-cap",
                &format!(
                    "one report of campaign '{}' costs ε = {} but the site allows {} per window",
                    campaign.id,
                    mechanism.eps_report(),
                    self.policy.epsilon_window_max
                ),
                Value::Null,
            ));
        }
        let membership = compiled.new_membership();
        let loaded = Loaded { compiled, mechanism, membership };
        let id = &loaded.compiled.campaign().id;
        let slot = match self.campaigns.iter().position(|c| &c.compiled.campaign().id == id) {
            Some(i) => {
                self.campaigns[i] = loaded;
                i
            }
            None => {
                self.campaigns.push(loaded);
                self.campaigns.len() - 1
            }
        };
        Ok(u32::try_from(slot).unwrap_or(u32::MAX))
    }

    fn loaded(&self, handle: u32) -> Result<&Loaded, JsValue> {
        self.campaigns.get(handle as usize).ok_or_else(|| unknown_campaign(handle))
    }

    /// What a page needs to name results: `{id, config_id, purpose, epoch_secs, epsilon,
    /// epsilon_lifetime, segments: [{id, description?}], groups: [{id, cases: [id]}],
    /// mechanism}`.
    #[wasm_bindgen(js_name = campaignInfo)]
    pub fn campaign_info(&self, handle: u32) -> Result<String, JsValue> {
        let l = self.loaded(handle)?;
        let c = l.compiled.campaign();
        Ok(json!({
            "id": c.id,
            "config_id": l.compiled.config_id(),
            "purpose": c.purpose,
            "epoch_secs": c.epoch.secs(),
            "epsilon": c.epsilon,
            "epsilon_lifetime": c.epsilon_lifetime,
            "segments": c.segments.iter().map(|s| json!({"id": s.id, "description": s.description})).collect::<Vec<_>>(),
            "groups": c.groups.iter().map(|g| json!({"id": g.id, "cases": g.cases.iter().map(|k| &k.id).collect::<Vec<_>>()})).collect::<Vec<_>>(),
            "mechanism": l.mechanism,
            "report_bytes_payload": l.mechanism.payload_bytes(),
        })
        .to_string())
    }

    /// Evaluates every segment and group of campaign `handle` at `now_ms`: one entry per
    /// segment (1 in, 0 out) followed by one per group (case index + 1, 0 for none).
    pub fn evaluate(&mut self, handle: u32, now_ms: f64) -> Result<Vec<u16>, JsValue> {
        let now = secs(now_ms)?;
        let l = self.campaigns.get_mut(handle as usize).ok_or_else(|| unknown_campaign(handle))?;
        l.compiled.evaluate_into(&self.profile, now, &mut l.membership);
        let m = &l.membership;
        Ok(m.segments
            .iter()
            .map(|&b| u16::from(b))
            .chain(m.groups.iter().map(|g| g.map_or(0, |c| c.saturating_add(1))))
            .collect())
    }

    /// Whether the visitor is in segment `index` of campaign `handle` at `now_ms`.
    #[wasm_bindgen(js_name = inSegment)]
    pub fn in_segment(&mut self, handle: u32, index: u32, now_ms: f64) -> Result<bool, JsValue> {
        let now = secs(now_ms)?;
        let l = self.campaigns.get_mut(handle as usize).ok_or_else(|| unknown_campaign(handle))?;
        l.compiled
            .evaluate_segment(&self.profile, now, index as usize, &mut l.membership)
            .ok_or_else(|| error("unknown-segment", &format!("no segment {index}"), Value::Null))
    }

    /// Explains segment `index` of campaign `handle` in words: `{summary, holds, reasons:
    /// [{text, holds, because?}]}` as JSON.
    pub fn explain(&self, handle: u32, index: u32, now_ms: f64) -> Result<String, JsValue> {
        let l = self.loaded(handle)?;
        let words = l
            .compiled
            .segment_words(&self.schema, &self.profile, secs(now_ms)?, index as usize)
            .ok_or_else(|| error("unknown-segment", &format!("no segment {index}"), Value::Null))?;
        serde_json::to_string(&words).map_err(|e| error("internal", &e.to_string(), Value::Null))
    }

    /// The epoch number of campaign `handle` at `now_ms`.
    pub fn epoch(&self, handle: u32, now_ms: f64) -> Result<f64, JsValue> {
        let l = self.loaded(handle)?;
        #[allow(clippy::cast_precision_loss, reason = "epoch numbers are far below 2^53")]
        Ok(secs(now_ms)?.div_euclid(l.compiled.campaign().epoch.secs()) as f64)
    }

    /// Makes this epoch's report for campaign `handle` and records its cost in the ledger.
    /// Returns the report as the exact JSON text to send.
    ///
    /// # Errors
    /// `already-reported`, `over-report-cap`, `over-window-cap`: nothing is made or spent.
    pub fn report(&mut self, handle: u32, now_ms: f64) -> Result<String, JsValue> {
        let now = secs(now_ms)?;
        let mut rng = SystemRng::new()?;
        let l = self.campaigns.get_mut(handle as usize).ok_or_else(|| unknown_campaign(handle))?;
        // Only the sampled items are evaluated: a few of a large campaign's segments.
        let (compiled, profile, scratch) = (&l.compiled, &self.profile, &mut l.membership);
        let truth =
            |i: u16| compiled.item_truth(profile, now, usize::from(i), scratch).unwrap_or(0);
        let report = self
            .device
            .report_with(l.compiled.runnable(), &l.mechanism, truth, now, &self.policy, &mut rng)
            .map_err(|e| error(e.code(), &e.to_string(), Value::Null))?;
        serde_json::to_string(&report).map_err(|e| error("internal", &e.to_string(), Value::Null))
    }

    /// Forgets everything: empty profile, new device secret, empty ledger. Loaded campaigns
    /// stay (they hold nothing about the visitor).
    pub fn forget(&mut self) -> Result<(), JsValue> {
        self.profile = Profile::new(&self.schema);
        self.device.reset(&mut SystemRng::new()?);
        Ok(())
    }

    /// The data map: `{attributes: {name: {type, source, purposes, sensitive?}}, events: {...}}`
    /// as JSON, for the preference center.
    #[wasm_bindgen(js_name = dataMap)]
    pub fn data_map(&self) -> String {
        let attributes: serde_json::Map<_, _> = self
            .schema
            .attributes()
            .iter()
            .map(|a| {
                (a.name.clone(), json!({"type": a.ty.name(), "purposes": a.purposes, "sensitive": a.sensitive.map(|s| s.name())}))
            })
            .collect();
        let events: serde_json::Map<_, _> = self
            .schema
            .events()
            .iter()
            .map(|e| (e.name.clone(), json!({"purposes": e.purposes, "retention_secs": e.retention.map(|r| r.secs())})))
            .collect();
        json!({"attributes": attributes, "events": events}).to_string()
    }
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
