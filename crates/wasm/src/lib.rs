//! WebAssembly binding of the dpseg core (DESIGN §2).
//!
//! This crate will hold the thin wasm-bindgen layer and the JS glue of the browser SDK. For now
//! it exposes only the engine's version and a stateless lint, which proves that the core builds
//! for `wasm32-unknown-unknown` without IO, clock or panics across the boundary.

use wasm_bindgen::prelude::*;

/// The engine's version.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

/// Lints a campaign (TOML) against a data map (TOML); returns the findings as a JSON array, or a
/// JSON object `{"code", "message"}` when a file does not parse. Never throws.
#[wasm_bindgen]
pub fn lint(schema_toml: &str, campaign_toml: &str) -> String {
    let limits = dpseg::limits::Limits::default();
    let error = |code: &str, message: String| serde_json_like(code, &message);
    let schema = match dpseg::schema::Schema::from_toml(schema_toml, &limits) {
        Ok(s) => s,
        Err(e) => return error(e.code(), e.to_string()),
    };
    let campaign = match dpseg::campaign::Campaign::from_toml(campaign_toml, &limits) {
        Ok(c) => c,
        Err(e) => return error(e.code(), e.to_string()),
    };
    let findings = dpseg::campaign::lint(&campaign, &schema, &Default::default(), &limits);
    let items: Vec<String> =
        findings.iter().map(|f| serde_json_like(f.code, &f.to_string())).collect();
    format!("[{}]", items.join(","))
}

fn serde_json_like(code: &str, message: &str) -> String {
    let escape = |s: &str| s.chars().flat_map(char::escape_default).collect::<String>();
    format!("{{\"code\":\"{}\",\"message\":\"{}\"}}", escape(code), escape(message))
}
