//! The governance review of a campaign before launch (docs/campaigns.md).
//!
//! Errors: every compile error (syntax, types, unknown names, limits, cycles); data used whose
//! `purposes` lack the campaign's purpose (`purpose-mismatch`); sensitive data without a
//! `[review]` that covers it (`sensitive-without-review`); ε above the site's cap
//! (`epsilon-over-cap`). Warnings: group cases after an always-true case (`unreachable-case`);
//! review entries that approve nothing used (`unused-review`).

use crate::prelude::*;

use alloc::collections::BTreeSet;
use core::fmt;

use serde::Serialize;

use crate::campaign::{Campaign, CompiledCampaign};
use crate::diag::{caret_snippet, line_col};
use crate::limits::Limits;
use crate::rules::compile::DataRef;
use crate::schema::{Schema, Sensitivity};

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The campaign cannot launch.
    Error,
    /// Worth a look; the campaign can launch.
    Warning,
}

/// One lint finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Stable code, such as `purpose-mismatch`.
    pub code: &'static str,
    /// Error or warning.
    pub severity: Severity,
    /// The segment (`hikers`) or group case (`price_tier/mid`) concerned, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
    /// Line in the rule text, from 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// Column in the rule text, from 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    /// What is wrong and how to fix it.
    pub message: String,
    /// The rule line with a caret under the problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snippet: Option<String>,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{sev}[{}]", self.code)?;
        if let Some(s) = &self.segment {
            write!(f, " rule '{s}'")?;
        }
        if let (Some(l), Some(c)) = (self.line, self.column) {
            write!(f, " {l}:{c}")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(snippet) = &self.snippet {
            for line in snippet.lines() {
                write!(f, "\n    {line}")?;
            }
        }
        Ok(())
    }
}

/// Site-level policy the lint enforces.
#[derive(Debug, Clone, PartialEq)]
pub struct LintConfig {
    /// Highest ε per report a campaign may ask for. Default 2.0.
    pub epsilon_max: f64,
    /// Devices expected to report each epoch, for the planner's warning. Default 100,000.
    pub devices: u64,
    /// The segment size (as a fraction of devices) the planner's warning is about. Default 5%.
    pub reference_rate: f64,
}

impl Default for LintConfig {
    fn default() -> Self {
        LintConfig { epsilon_max: 2.0, devices: 100_000, reference_rate: 0.05 }
    }
}

/// Reviews `campaign` against `schema` and `config`; findings are sorted errors first, then by
/// rule order.
pub fn lint(
    campaign: &Campaign,
    schema: &Schema,
    config: &LintConfig,
    limits: &Limits,
) -> Vec<Finding> {
    review(campaign, schema, config, limits).1
}

/// As [`lint`], with the campaign compiled when its rules compiled (even with other errors), so
/// that nothing compiles a campaign twice: the verifier, `dpseg lint` and the collector take
/// the compiled campaign from here.
pub fn review(
    campaign: &Campaign,
    schema: &Schema,
    config: &LintConfig,
    limits: &Limits,
) -> (Option<CompiledCampaign>, Vec<Finding>) {
    let (compiled, mut findings) = super::analyze::analyze(campaign, schema, limits);
    if campaign.epsilon > config.epsilon_max {
        findings.push(Finding {
            code: "epsilon-over-cap",
            severity: Severity::Error,
            segment: None,
            line: None,
            column: None,
            message: format!(
                "epsilon {} is above the site's cap of {}; lower it or raise the cap deliberately",
                campaign.epsilon, config.epsilon_max
            ),
            snippet: None,
        });
    }
    let Some(compiled) = compiled else { return (None, findings) };
    let rules = campaign.rules();
    let covers: BTreeSet<&str> =
        campaign.review.iter().flat_map(|r| r.covers.iter().map(String::as_str)).collect();
    let mut sensitive_used = BTreeSet::new();
    for ((_, rule_id, text), info) in rules.iter().zip(compiled.rule_info()) {
        let mut reported = BTreeSet::new();
        for &(data, span) in &info.uses {
            let (kind, name, purposes, sensitive): (&str, &str, &[String], Option<Sensitivity>) =
                match data {
                    DataRef::Attr(a) => match schema.attribute_by_id(a) {
                        Some(d) => ("attribute", &d.name, &d.purposes, d.sensitive),
                        None => continue,
                    },
                    DataRef::Event(e) => match schema.event_by_id(e) {
                        Some(d) => ("event", &d.name, &d.purposes, d.sensitive),
                        None => continue,
                    },
                };
            let at = |code: &'static str, message: String| {
                let lc = line_col(text, span.start);
                Finding {
                    code,
                    severity: Severity::Error,
                    segment: Some(rule_id.clone()),
                    line: Some(lc.line),
                    column: Some(lc.column),
                    message,
                    snippet: Some(caret_snippet(text, span)),
                }
            };
            if !purposes.contains(&campaign.purpose) && reported.insert(("purpose", data)) {
                let allowed =
                    if purposes.is_empty() { "no purpose".to_owned() } else { purposes.join(", ") };
                findings.push(at(
                    "purpose-mismatch",
                    format!(
                        "{kind} '{name}' may be used for {allowed}, not for {}; add '{}' to its purposes in the data map or leave it out of the rule",
                        campaign.purpose, campaign.purpose
                    ),
                ));
            }
            if let Some(category) = sensitive {
                sensitive_used.insert(name);
                if !covers.contains(name) && reported.insert(("sensitive", data)) {
                    findings.push(at(
                        "sensitive-without-review",
                        format!(
                            "{kind} '{name}' is sensitive ({}); add a [review] with by, at, why and covers = [\"{name}\"] after a privacy review",
                            category.name()
                        ),
                    ));
                }
            }
        }
    }
    for c in &covers {
        if !sensitive_used.contains(c) {
            findings.push(Finding {
                code: "unused-review",
                severity: Severity::Warning,
                segment: None,
                line: None,
                column: None,
                message: format!("the review covers '{c}', which no rule uses as sensitive data; remove it from covers"),
                snippet: None,
            });
        }
    }
    let mut rule = campaign.segments.len();
    for g in &campaign.groups {
        if let Some(first_true) = (0..g.cases.len()).find(|&k| compiled.rule_is_true(rule + k)) {
            for case in &g.cases[first_true + 1..] {
                findings.push(Finding {
                    code: "unreachable-case",
                    severity: Severity::Warning,
                    segment: Some(format!("{}/{}", g.id, case.id)),
                    line: None,
                    column: None,
                    message: format!(
                        "case '{}' can never be chosen: case '{}' before it always holds",
                        case.id, g.cases[first_true].id
                    ),
                    snippet: None,
                });
            }
        }
        rule += g.cases.len();
    }
    if let Some(mech) = compiled.mechanism() {
        let rate = config.reference_rate;
        #[allow(clippy::cast_precision_loss, reason = "device counts are far below 2^53")]
        let size = rate * config.devices as f64;
        let segs = usize::from(mech.segments());
        let names = rules.iter().map(|(_, id, _)| id.clone());
        // Rules are segments then cases in group order, like the mechanism's values.
        let mut owners = Vec::new();
        for (i, item) in mech.items().iter().enumerate() {
            let values = if i < segs { 1 } else { usize::from(item.domain()) - 1 };
            owners.extend(core::iter::repeat_n(i, values));
        }
        for (name, i) in names.zip(owners) {
            let (_, half) = crate::estimate::expected(&mech.items()[i], mech, config.devices, rate);
            if 2.0 * half > size {
                findings.push(Finding {
                    code: "interval-wider-than-segment",
                    severity: Severity::Warning,
                    segment: Some(name),
                    line: None,
                    column: None,
                    message: format!(
                        "with {} devices an epoch, a {}% segment ({size:.0}) would be estimated ±{half:.0} (95%): the interval is wider than the segment; raise epsilon, measure fewer segments, or wait for more devices",
                        config.devices,
                        rate * 100.0
                    ),
                    snippet: None,
                });
            }
        }
    }
    findings.sort_by_key(|f| f.severity);
    (Some(compiled), findings)
}
