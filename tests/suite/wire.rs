//! The wire golden files (`tests/spec/wire/`, see its README): each reads into its type and
//! writes back unchanged, so a field renamed, added or dropped in a type fails here; and what
//! the code makes for the golden campaign has the golden's shape, so a shape built elsewhere
//! cannot drift. The collector's responses are checked the same way in
//! `crates/collector/tests/api.rs`, the package's in `crates/wasm/tests/node.test.js`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails by panicking"
)]

use crate::common;

use dpseg::campaign::{lint, Campaign, LintConfig};
use dpseg::estimate::Tally;
use dpseg::limits::Limits;
use dpseg::schema::Schema;
use dpseg::wire::{
    estimates_per_value, fits_shape, CampaignDocument, CampaignList, CampaignSummary, Estimates,
    LintReport, Plan,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

fn golden(name: &str) -> Value {
    serde_json::from_str(&common::read(&format!("tests/spec/wire/{name}.json")))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The golden file read into `T` and written back: the same JSON.
fn round_trip<T: DeserializeOwned + Serialize>(name: &str) -> T {
    let g = golden(name);
    let typed: T = serde_json::from_value(g.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(serde_json::to_value(&typed).unwrap(), g, "{name} does not survive its type");
    typed
}

fn campaign() -> (Schema, Campaign) {
    let limits = Limits::default();
    let schema = Schema::from_toml(&common::read("examples/outdoor/schema.toml"), &limits).unwrap();
    let campaign =
        Campaign::from_toml(&common::read("tests/spec/wire/campaign.toml"), &limits).unwrap();
    (schema, campaign)
}

#[test]
fn every_golden_file_survives_its_type() {
    round_trip::<CampaignList>("campaign-list");
    round_trip::<CampaignDocument>("campaign-document");
    round_trip::<Plan>("plan");
    round_trip::<Estimates>("estimates");
    // A field the type does not know is refused, not dropped.
    let mut doc = golden("campaign-document");
    doc["epsilon_per_report"] = Value::from(1.0);
    assert!(serde_json::from_value::<CampaignDocument>(doc).is_err());
}

#[test]
fn the_golden_document_is_the_golden_campaign_and_hashes_to_its_config_id() {
    let (schema, campaign) = campaign();
    let limits = Limits::default();
    let doc: CampaignDocument = round_trip("campaign-document");
    let read = doc.campaign(&limits).unwrap();
    assert_eq!(read.segments(), campaign.segments());
    assert_eq!(read.groups(), campaign.groups());
    let compiled = read.compile(&schema, &limits).unwrap();
    assert_eq!(compiled.config_id(), doc.config_id);
}

#[test]
fn what_the_code_makes_has_the_golden_shapes() {
    let (schema, campaign) = campaign();
    let limits = Limits::default();
    let compiled = campaign.compile(&schema, &limits).unwrap();
    let mechanism = compiled.mechanism().unwrap();
    let check = |name: &str, real: Value| {
        fits_shape(&golden(name), &real).unwrap_or_else(|e| panic!("{name}: {e}\n{real:#}"));
    };
    check("campaign-document", serde_json::to_value(CampaignDocument::new(&compiled)).unwrap());
    let list = CampaignList { campaigns: vec![CampaignSummary::new(&compiled)] };
    check("campaign-list", serde_json::to_value(list).unwrap());
    check(
        "plan",
        serde_json::to_value(Plan::new(&campaign, mechanism, 10_000, |_, _| 0.05)).unwrap(),
    );
    let config = LintConfig { epsilon_max: 0.5, devices: 1000, ..LintConfig::default() };
    let findings = lint(&campaign, &schema, &config, &limits);
    assert!(!findings.is_empty(), "the check needs findings to check");
    let report = LintReport::new(&campaign, Some(compiled.config_id().to_owned()), findings);
    check("lint-report", serde_json::to_value(report).unwrap());
    let values = estimates_per_value(&campaign, mechanism, &Tally::new(mechanism));
    let mut estimates: Value = golden("estimates");
    estimates["epochs"][0]["segments"] = serde_json::to_value(&values.segments).unwrap();
    estimates["epochs"][0]["groups"] = serde_json::to_value(&values.groups).unwrap();
    check("estimates", estimates);
    // The checker itself: a renamed field, a wrong type and an unknown case shape are caught.
    let mut plan = golden("plan");
    plan["segments"]["hikers"]["half_width"] = plan["segments"]["hikers"]["half_width_95"].take();
    assert!(fits_shape(&golden("plan"), &plan).unwrap_err().contains("half_width"));
    let mut plan = golden("plan");
    plan["per_report"] = Value::from("one");
    assert!(fits_shape(&golden("plan"), &plan).is_err());
    let mut est = golden("estimates");
    est["epochs"][0]["groups"]["price_tier"]["mid"] = Value::from(3);
    assert!(fits_shape(&golden("estimates"), &est).is_err());
}
