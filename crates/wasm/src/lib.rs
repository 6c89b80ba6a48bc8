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

/// Lints a campaign (TOML) against a data map (TOML). Returns JSON: an array of findings
/// (`{code, severity, segment?, line?, column?, message, snippet?}`), or `{"code", "message"}`
/// when a file does not parse. Never throws.
#[wasm_bindgen]
pub fn lint(schema_toml: &str, campaign_toml: &str) -> String {
    let limits = dpseg::limits::Limits::default();
    let error = |code: &str, message: String| {
        serde_json::json!({ "code": code, "message": message }).to_string()
    };
    let schema = match dpseg::schema::Schema::from_toml(schema_toml, &limits) {
        Ok(s) => s,
        Err(e) => return error(e.code(), e.to_string()),
    };
    let campaign = match dpseg::campaign::Campaign::from_toml(campaign_toml, &limits) {
        Ok(c) => c,
        Err(e) => return error(e.code(), e.to_string()),
    };
    let findings = dpseg::campaign::lint(&campaign, &schema, &Default::default(), &limits);
    serde_json::to_string(&findings).unwrap_or_else(|e| error("internal", e.to_string()))
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    const SCHEMA: &str = "[attributes.budget]\ntype = 'number'\npurposes = ['measurement']\n";

    #[test]
    fn lint_returns_findings_as_json() {
        let campaign = "id = 'c'\npurpose = 'measurement'\nepoch = '1d'\nepsilon = 1.0\n[[segments]]\nid = 'é'\nrule = 'budjet > 1'\n";
        let v: Value = serde_json::from_str(&super::lint(SCHEMA, campaign)).unwrap();
        assert_eq!(v[0]["code"], "bad-id");
        assert_eq!(v[0]["segment"], "é");
    }

    #[test]
    fn lint_reports_unparsable_files_without_throwing() {
        let v: Value = serde_json::from_str(&super::lint(SCHEMA, "id = ")).unwrap();
        assert_eq!(v["code"], "campaign-syntax");
    }
}
