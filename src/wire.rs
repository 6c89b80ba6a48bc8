//! Every JSON shape dpseg puts on the wire, one type each, used by the collector, the CLI and
//! the wasm shells alike: the campaign document and summary (`GET /v1/campaigns/{id}`,
//! `GET /v1/campaigns`), the plan (`dpseg plan`, the package's `plan()`), the estimates
//! (`GET /v1/campaigns/{id}/estimates`) and the lint report (`dpseg lint`). The report itself is
//! [`crate::report::Report`]. Golden files in `tests/spec/wire/` pin each shape; the Rust tests
//! and the JS tests read the same files (`tests/suite/wire.rs`, `crates/wasm/tests/node.test.js`).
//!
//! Per-item figures are laid out by [`PerValue`]: one entry per segment (for its members) and
//! one per case of every group, keyed by id.

use crate::prelude::*;

use alloc::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::campaign::{Campaign, CampaignError, CompiledCampaign, Finding, GroupDef, Review};
use crate::campaign::{SegmentDef, Severity};
use crate::estimate::{estimate, expected, Estimate, Tally};
use crate::limits::Limits;
use crate::privacy::mechanism::Mechanism;

/// A figure per segment and per case of every group, keyed by id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerValue<T> {
    /// Per segment: the figure for its members.
    pub segments: BTreeMap<String, T>,
    /// Per group, per case.
    pub groups: BTreeMap<String, BTreeMap<String, T>>,
}

impl<T> PerValue<T> {
    /// `f(item, value)` for every segment (its item index, value 1: a member) and every case of
    /// every group (the group's item index, the case's index): the values of the mechanism's
    /// item domains.
    pub fn of(campaign: &Campaign, mut f: impl FnMut(usize, usize) -> T) -> PerValue<T> {
        let n = campaign.segments().len();
        let segments =
            campaign.segments().iter().enumerate().map(|(i, s)| (s.id.clone(), f(i, 1))).collect();
        let groups = campaign
            .groups()
            .iter()
            .enumerate()
            .map(|(g, grp)| {
                let cases = grp
                    .cases
                    .iter()
                    .enumerate()
                    .map(|(k, c)| (c.id.clone(), f(n + g, k)))
                    .collect();
                (grp.id.clone(), cases)
            })
            .collect();
        PerValue { segments, groups }
    }
}

/// One entry of `GET /v1/campaigns`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignSummary {
    /// Campaign id.
    pub id: String,
    /// Content hash of the served version.
    pub config_id: String,
    /// The campaign's purpose.
    pub purpose: String,
    /// Epoch length, seconds.
    pub epoch_secs: i64,
    /// ε per report.
    pub epsilon: f64,
}

/// `GET /v1/campaigns`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignList {
    /// The served campaigns, in id order.
    pub campaigns: Vec<CampaignSummary>,
}

impl CampaignSummary {
    /// The summary of a compiled campaign.
    pub fn new(compiled: &CompiledCampaign) -> CampaignSummary {
        let c = compiled.campaign();
        CampaignSummary {
            id: c.id().to_owned(),
            config_id: compiled.config_id().to_owned(),
            purpose: c.purpose().to_owned(),
            epoch_secs: c.epoch().secs(),
            epsilon: c.epsilon(),
        }
    }
}

/// `GET /v1/campaigns/{id}`: the campaign as written, for people and auditors, and `compiled`,
/// what devices run (docs/compiled.md). A device hashes `compiled` to its `config_id`, checks
/// it against its data map and the site's caps, and runs it; the rest it only shows. Anyone
/// holding the TOML can compile it (`dpseg compile`) and compare.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignDocument {
    /// Campaign id.
    pub id: String,
    /// The content id of `compiled`; a device refuses a document whose `compiled` hashes
    /// otherwise.
    pub config_id: String,
    /// The `schema_id` of the data map the campaign was compiled against (empty in a document
    /// written without its compiled form, which a device compiles with the verifier).
    #[serde(default)]
    pub schema_id: String,
    /// The compiled campaign, base64url without padding (empty as for `schema_id`).
    #[serde(default)]
    pub compiled: String,
    /// The campaign's purpose.
    pub purpose: String,
    /// Epoch length as written (`1d`).
    pub epoch: String,
    /// Epoch length, seconds.
    pub epoch_secs: i64,
    /// ε per report.
    pub epsilon: f64,
    /// The lifetime bound.
    pub epsilon_lifetime: f64,
    /// Segments as written.
    pub segments: Vec<SegmentDef>,
    /// Groups as written.
    pub groups: Vec<GroupDef>,
    /// The review of its sensitive data, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<Review>,
    /// The campaign's name for the visitor, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Free text for the people who run it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The planned mechanism, for people and dashboards (a device plans its own).
    pub mechanism: serde_json::Value,
}

impl CampaignDocument {
    /// The document of a compiled campaign.
    pub fn new(compiled: &CompiledCampaign) -> CampaignDocument {
        let c = compiled.campaign();
        CampaignDocument {
            id: c.id().to_owned(),
            config_id: compiled.config_id().to_owned(),
            purpose: c.purpose().to_owned(),
            epoch: c.epoch().to_string(),
            epoch_secs: c.epoch().secs(),
            epsilon: c.epsilon(),
            epsilon_lifetime: c.epsilon_lifetime(),
            segments: c.segments().to_vec(),
            groups: c.groups().to_vec(),
            review: c.review().cloned(),
            title: c.title().map(str::to_owned),
            description: c.description().map(str::to_owned),
            mechanism: serde_json::to_value(compiled.mechanism()).unwrap_or_default(),
            schema_id: compiled.runnable().head().schema_id().to_owned(),
            compiled: crate::report::base64url(&compiled.runnable().to_compact()),
        }
    }

    /// Reads a document strictly (unknown fields refused).
    ///
    /// # Errors
    /// When `value` is not a document of this shape.
    pub fn deserialize_from(
        value: &serde_json::Value,
    ) -> Result<CampaignDocument, serde_json::Error> {
        CampaignDocument::deserialize(value)
    }

    /// The campaign as written, validated as a campaign file is: what a device compiles.
    ///
    /// # Errors
    /// As [`Campaign::from_json_value`].
    pub fn campaign(&self, limits: &Limits) -> Result<Campaign, CampaignError> {
        let source = serde_json::json!({
            "id": self.id,
            "purpose": self.purpose,
            "epoch": self.epoch,
            "epsilon": self.epsilon,
            "epsilon_lifetime": self.epsilon_lifetime,
            "segments": self.segments,
            "groups": self.groups,
        });
        let mut source = source;
        if let Some(obj) = source.as_object_mut() {
            if let Some(review) = &self.review {
                obj.insert("review".into(), serde_json::to_value(review).unwrap_or_default());
            }
            for (k, v) in [("title", &self.title), ("description", &self.description)] {
                if let Some(v) = v {
                    obj.insert(k.into(), serde_json::Value::String(v.clone()));
                }
            }
        }
        Campaign::from_json_value(&source, limits)
    }
}

/// What the planner expects of one segment or case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanItem {
    /// The item's frequency oracle (`grr`, `oue`, `ss`, `olh`).
    pub oracle: String,
    /// ε of the item's answer.
    pub epsilon: f64,
    /// The share of devices the figure assumes hold the value.
    pub rate: f64,
    /// Reports an epoch expected to answer the item.
    pub expected_reports: f64,
    /// Expected standard error of the count.
    pub std: f64,
    /// Expected half-width of the 95% interval of the count.
    pub half_width_95: f64,
}

/// `dpseg plan` and the package's `plan()`: the mechanism and, per segment and case, the
/// expected error at `devices` devices an epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Campaign id.
    pub campaign: String,
    /// Devices reporting per epoch.
    pub devices: u64,
    /// ε of one report.
    pub epsilon_report: f64,
    /// The lifetime bound of a device whose answers do not change.
    pub epsilon_lifetime: f64,
    /// Items each report answers.
    pub per_report: u16,
    /// Items of the campaign.
    pub items: usize,
    /// Per segment and case.
    #[serde(flatten)]
    pub values: PerValue<PlanItem>,
}

impl Plan {
    /// The plan of `campaign` under `mechanism` with `devices` devices an epoch, each value held
    /// by `rate(item, value)` of them.
    pub fn new(
        campaign: &Campaign,
        mechanism: &Mechanism,
        devices: u64,
        mut rate: impl FnMut(usize, usize) -> f64,
    ) -> Plan {
        let items = mechanism.items();
        #[allow(clippy::cast_precision_loss, reason = "device and item counts are far below 2^53")]
        let expected_reports =
            devices as f64 * f64::from(mechanism.per_report()) / items.len().max(1) as f64;
        let values = PerValue::of(campaign, |i, v| {
            let item = &items[i];
            let r = rate(i, v);
            let (std, half_width_95) = expected(item, mechanism, devices, r);
            PlanItem {
                oracle: item.oracle().name().to_owned(),
                epsilon: item.eps_report(),
                rate: r,
                expected_reports,
                std,
                half_width_95,
            }
        });
        Plan {
            campaign: campaign.id().to_owned(),
            devices,
            epsilon_report: mechanism.eps_report(),
            epsilon_lifetime: mechanism.eps_lifetime(),
            per_report: mechanism.per_report(),
            items: items.len(),
            values,
        }
    }
}

/// The mechanism's figures an estimate is read with.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MechanismSummary {
    /// Items each report answers.
    pub per_report: u16,
    /// ε of one report.
    pub epsilon_report: f64,
    /// The lifetime bound.
    pub epsilon_lifetime: f64,
}

/// An epoch with many more reports than the epochs before it (a sign of fabricated reports).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Anomaly {
    /// Reports of the epoch.
    pub reports: u64,
    /// Median reports of the epochs before it.
    pub median_before: u64,
    /// `reports / median_before`.
    pub factor: f64,
}

/// One epoch's estimates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochEstimates {
    /// The epoch.
    pub epoch: u64,
    /// Reports counted.
    pub reports: u64,
    /// Per segment and case.
    #[serde(flatten)]
    pub values: PerValue<Estimate>,
    /// Set when the epoch has far more reports than usual; `null` otherwise.
    pub report_rate_anomaly: Option<Anomaly>,
}

/// `GET /v1/campaigns/{id}/estimates`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Estimates {
    /// Campaign id.
    pub campaign: String,
    /// The served version.
    pub config_id: String,
    /// Its mechanism.
    pub mechanism: MechanismSummary,
    /// Per epoch with reports, oldest first.
    pub epochs: Vec<EpochEstimates>,
    /// Per epoch, reports counted for other versions of the campaign (not estimated here).
    pub stale_config_reports: BTreeMap<u64, u64>,
}

impl MechanismSummary {
    /// The summary of `mechanism`.
    pub fn new(mechanism: &Mechanism) -> MechanismSummary {
        MechanismSummary {
            per_report: mechanism.per_report(),
            epsilon_report: mechanism.eps_report(),
            epsilon_lifetime: mechanism.eps_lifetime(),
        }
    }
}

/// The estimates of every segment and case of `campaign` from one epoch's tally.
pub fn estimates_per_value(
    campaign: &Campaign,
    mechanism: &Mechanism,
    tally: &Tally,
) -> PerValue<Estimate> {
    PerValue::of(campaign, |i, v| estimate_of(mechanism, tally, i, v))
}

/// The estimate of value `v` of item `i` (as [`PerValue::of`] names them) from a tally.
pub fn estimate_of(mechanism: &Mechanism, tally: &Tally, i: usize, v: usize) -> Estimate {
    let item = &mechanism.items()[i];
    estimate(item.p(), item.q(), tally.support(i, v), tally.sampled(i), tally.reports())
}

/// `dpseg lint`'s output. Serialised only: finding codes are the crate's own static strings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LintReport {
    /// Campaign id.
    pub campaign: String,
    /// Its content hash, when it compiles.
    pub config_id: Option<String>,
    /// Findings of severity error.
    pub errors: usize,
    /// Findings of severity warning.
    pub warnings: usize,
    /// Every finding.
    pub findings: Vec<Finding>,
}

impl LintReport {
    /// The report of `findings` for `campaign`.
    pub fn new(campaign: &Campaign, config_id: Option<String>, findings: Vec<Finding>) -> Self {
        let errors = findings.iter().filter(|f| f.severity == Severity::Error).count();
        LintReport {
            campaign: campaign.id().to_owned(),
            config_id,
            errors,
            warnings: findings.len() - errors,
            findings,
        }
    }
}

/// Whether a JSON value has a golden file's shape (`tests/spec/wire/README.md`): every key of
/// `real` is a key of `golden` with a value of the same JSON type (`null` in `real` fits any
/// optional value), recursively; arrays' elements and the entries of id-keyed maps (`segments`
/// and `groups` objects, a group's cases, `stale_config_reports`) each fit the golden's first.
/// For the golden tests of the collector, the CLI and the wasm shells.
///
/// # Errors
/// The path of the first value that does not fit, and why.
pub fn fits_shape(golden: &serde_json::Value, real: &serde_json::Value) -> Result<(), String> {
    fits(golden, real, "$", Kind::Struct)
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Struct,
    Map,
    MapOfMaps,
}

fn fits(
    golden: &serde_json::Value,
    real: &serde_json::Value,
    path: &str,
    kind: Kind,
) -> Result<(), String> {
    use serde_json::Value as V;
    match (golden, real) {
        (_, V::Null) | (V::Bool(_), V::Bool(_)) | (V::Number(_), V::Number(_)) => Ok(()),
        (V::String(_), V::String(_)) => Ok(()),
        (V::Array(g), V::Array(r)) => r.iter().enumerate().try_for_each(|(i, v)| {
            // An element fits when it fits one of the golden's examples.
            let at = format!("{path}[{i}]");
            let mut first_error = None;
            for example in g {
                match fits(example, v, &at, Kind::Struct) {
                    Ok(()) => return Ok(()),
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                }
            }
            Err(first_error.unwrap_or_else(|| {
                format!("{at}: the golden array is empty; give it an example element")
            }))
        }),
        (V::Object(g), V::Object(r)) if kind != Kind::Struct => {
            let Some(first) = g.values().next() else {
                return if r.is_empty() {
                    Ok(())
                } else {
                    Err(format!("{path}: the golden map is empty; give it an example entry"))
                };
            };
            let inner = if kind == Kind::MapOfMaps { Kind::Map } else { Kind::Struct };
            r.iter().try_for_each(|(k, v)| fits(first, v, &format!("{path}.{k}"), inner))
        }
        (V::Object(g), V::Object(r)) => r.iter().try_for_each(|(k, v)| {
            let Some(gv) = g.get(k) else {
                return Err(format!("{path}.{k}: a field the golden file does not have"));
            };
            let kind = match (k.as_str(), v) {
                ("groups", V::Object(_)) => Kind::MapOfMaps,
                ("segments" | "stale_config_reports", V::Object(_)) => Kind::Map,
                _ => Kind::Struct,
            };
            fits(gv, v, &format!("{path}.{k}"), kind)
        }),
        _ => Err(format!("{path}: {real} is not of the golden's type ({golden})")),
    }
}
