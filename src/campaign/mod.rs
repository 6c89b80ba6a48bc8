//! Campaigns (docs/campaigns.md): a purpose, a privacy budget, independent segments and mutually
//! exclusive groups, each defined by a rule.
//!
//! [`Campaign::from_toml`] checks the file's structure; [`Campaign::compile`] parses, type-checks
//! and compiles every rule, resolves `segment("id")` references (refusing cycles) and fixes an
//! evaluation order; [`lint`] adds the governance review (purposes, sensitive data, ε cap).
//! [`CompiledCampaign::evaluate_into`] computes every segment and group in one pass without
//! allocating.
//!
//! ## `config_id`
//! Every report carries the campaign's content hash: the [`content_id`](crate::compact::content_id)
//! of its compiled form, [`Runnable::to_compact`] (docs/compiled.md). It covers everything a
//! device runs (the program, the evaluation order, the realised mechanism, the purpose, the data
//! map's `schema_id`, the sensitive data the review covers) and nothing it does not
//! (descriptions, the review's people and reasons, how the rules were formatted).

use crate::prelude::*;

mod analyze;
mod check;
mod compiled;
mod identity;
pub mod lint;
mod runnable;
#[cfg(feature = "std")]
mod wording;

use core::fmt;

use serde::{Deserialize, Serialize};

#[cfg(feature = "toml")]
use crate::diag::line_col;
use crate::limits::Limits;
use crate::privacy::mechanism::{Mechanism, MechanismError};
use crate::schema::Schema;
use crate::time::{parse_timestamp, Duration};

pub use check::Refusal;
pub use compiled::{CompiledCampaign, Membership};
pub use lint::{lint, review, Finding, LintConfig, Severity};
pub use runnable::{Head, Runnable};
#[cfg(feature = "std")]
pub use wording::wording;

/// A campaign as written, valid by construction: read with [`Campaign::from_toml`] or
/// [`Campaign::from_json_value`], changed only through [`Campaign::with_epsilon`], so that its
/// fields keep the invariants the rest of the crate relies on (an id, ε finite and positive, the
/// lifetime bound at least ε, a review that names who, when and why).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Campaign {
    /// Campaign id (`[A-Za-z0-9_-]`, starting with a letter or digit).
    id: String,
    /// The purpose reports are sent for; data used must allow it.
    purpose: String,
    /// At most one report per device per epoch.
    epoch: Duration,
    /// ε per report; invariant: finite and > 0.
    epsilon: f64,
    /// Bound for a device whose answers do not change; invariant: ≥ `epsilon`.
    epsilon_lifetime: f64,
    /// Independent yes/no segments.
    segments: Vec<SegmentDef>,
    /// Mutually exclusive groups.
    groups: Vec<GroupDef>,
    /// Approval for using sensitive data.
    review: Option<Review>,
    /// The campaign's name as the visitor reads it ("Spring gear picks").
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    /// Free text for the people who run it.
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
}

/// One independent segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentDef {
    /// Segment id.
    pub id: String,
    /// Rule text.
    pub rule: String,
    /// Free text for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// What the visitor reads: a noun phrase for the people it holds ("hikers with a budget
    /// for gear"), shown as "You are among …".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visitor: Option<String>,
}

/// One case of a group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseDef {
    /// Case id, unique in its group.
    pub id: String,
    /// Rule text.
    pub rule: String,
    /// What the visitor reads for this case ("a mid-range budget").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visitor: Option<String>,
}

/// A group: the first case whose rule holds, or none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupDef {
    /// Group id.
    pub id: String,
    /// Cases in order.
    pub cases: Vec<CaseDef>,
    /// Free text for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// What the visitor reads for the group ("your budget").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visitor: Option<String>,
}

impl GroupDef {
    /// True when some case always holds, so a device is never in "none": the last case's rule
    /// is `true` (in canonical form; `(true)` counts too).
    pub fn is_exhaustive(&self) -> bool {
        self.cases.last().is_some_and(|c| identity::canonical_rule(&c.rule) == "true")
    }
}

/// A recorded approval to use sensitive data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Review {
    /// Who approved (a person or role).
    pub by: String,
    /// When (`YYYY-MM-DD`).
    pub at: String,
    /// Why the use is justified.
    pub why: String,
    /// The sensitive attributes and events approved.
    pub covers: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCampaign {
    id: String,
    purpose: String,
    epoch: String,
    epsilon: f64,
    epsilon_lifetime: Option<f64>,
    #[serde(default)]
    segments: Vec<SegmentDef>,
    #[serde(default)]
    groups: Vec<GroupDef>,
    review: Option<Review>,
    title: Option<String>,
    description: Option<String>,
}

/// Why a campaign file was refused before its rules were looked at.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum CampaignError {
    /// Not TOML/JSON, or a field is missing or of the wrong type.
    Syntax(String),
    /// The file is larger than `campaign_bytes_max`.
    TooLarge {
        /// Size.
        bytes: usize,
        /// Limit.
        max: usize,
    },
    /// A field's value is not allowed.
    BadValue {
        /// The field.
        field: &'static str,
        /// What is wrong and how to fix it.
        reason: String,
    },
}

impl CampaignError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            CampaignError::Syntax(_) => "campaign-syntax",
            CampaignError::TooLarge { .. } => "campaign-too-large",
            CampaignError::BadValue { .. } => "campaign-bad-value",
        }
    }
}

impl fmt::Display for CampaignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CampaignError::Syntax(m) => write!(f, "campaign: {m}"),
            CampaignError::TooLarge { bytes, max } => {
                write!(f, "campaign: file is {bytes} bytes; the limit is {max}")
            }
            CampaignError::BadValue { field, reason } => write!(f, "campaign: {field}: {reason}"),
        }
    }
}

impl core::error::Error for CampaignError {}

/// True when `id` is a valid campaign, segment, group or case id.
pub fn is_valid_id(id: &str, limits: &Limits) -> bool {
    !id.is_empty()
        && id.len() <= limits.ident_bytes_max
        && id.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl Campaign {
    /// Parses a campaign written in TOML and checks its fields (not yet its rules).
    ///
    /// # Errors
    /// When the text is not TOML of the campaign's shape or a field's value is not allowed.
    #[cfg(feature = "toml")]
    pub fn from_toml(text: &str, limits: &Limits) -> Result<Campaign, CampaignError> {
        if text.len() > limits.campaign_bytes_max {
            return Err(CampaignError::TooLarge {
                bytes: text.len(),
                max: limits.campaign_bytes_max,
            });
        }
        let raw: RawCampaign =
            toml::from_str(text).map_err(|e| CampaignError::Syntax(toml_message(&e, text)))?;
        Campaign::validate(raw, limits)
    }

    /// Parses a campaign written as JSON (the same shape as the TOML form).
    ///
    /// # Errors
    /// As [`Campaign::from_toml`].
    pub fn from_json_value(
        value: &serde_json::Value,
        limits: &Limits,
    ) -> Result<Campaign, CampaignError> {
        let raw =
            RawCampaign::deserialize(value).map_err(|e| CampaignError::Syntax(e.to_string()))?;
        Campaign::validate(raw, limits)
    }

    fn validate(raw: RawCampaign, limits: &Limits) -> Result<Campaign, CampaignError> {
        if !is_valid_id(&raw.id, limits) {
            return Err(CampaignError::BadValue {
                field: "id",
                reason: format!(
                    "'{}' is not an id; use up to {} letters, digits, '_' or '-'",
                    raw.id, limits.ident_bytes_max
                ),
            });
        }
        if raw.purpose.is_empty() || raw.purpose.len() > limits.ident_bytes_max {
            return Err(CampaignError::BadValue {
                field: "purpose",
                reason: "must name a purpose of the data map".into(),
            });
        }
        let epoch = Duration::parse(&raw.epoch)
            .map_err(|e| CampaignError::BadValue { field: "epoch", reason: e.to_string() })?;
        let epsilon_lifetime = raw.epsilon_lifetime.unwrap_or(4.0 * raw.epsilon);
        check_epsilon(raw.epsilon, epsilon_lifetime)?;
        if let Some(r) = &raw.review {
            let missing = [("by", r.by.trim()), ("why", r.why.trim())]
                .into_iter()
                .find(|(_, v)| v.is_empty());
            if let Some((field, _)) = missing {
                return Err(CampaignError::BadValue {
                    field: "review",
                    reason: format!(
                        "'{field}' is empty; a review records who approved, when and why"
                    ),
                });
            }
            parse_timestamp(&r.at).map_err(|e| CampaignError::BadValue {
                field: "review.at",
                reason: e.to_string(),
            })?;
        }
        Ok(Campaign {
            id: raw.id,
            purpose: raw.purpose,
            epoch,
            epsilon: raw.epsilon,
            epsilon_lifetime,
            segments: raw.segments,
            groups: raw.groups,
            review: raw.review,
            title: raw.title,
            description: raw.description,
        })
    }

    /// Parses, type-checks and compiles every rule.
    ///
    /// # Errors
    /// Every rule error, duplicate id, exceeded limit and `segment()` cycle, as findings of
    /// severity error.
    pub fn compile(
        &self,
        schema: &Schema,
        limits: &Limits,
    ) -> Result<CompiledCampaign, Vec<Finding>> {
        let (compiled, findings) = analyze::analyze(self, schema, limits);
        match compiled {
            Some(c) if findings.iter().all(|f| f.severity != Severity::Error) => Ok(c),
            _ => Err(findings.into_iter().filter(|f| f.severity == Severity::Error).collect()),
        }
    }
}

#[cfg(feature = "toml")]
fn toml_message(e: &toml::de::Error, text: &str) -> String {
    match e.span() {
        Some(span) => {
            let lc = line_col(text, u32::try_from(span.start).unwrap_or(u32::MAX));
            format!("{lc}: {}", e.message().trim_end())
        }
        None => e.message().trim_end().to_owned(),
    }
}

/// Where a rule sits in its campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleSlot {
    /// Segment `i`.
    Segment(usize),
    /// Case `case` of group `group`.
    Case {
        /// Group index.
        group: usize,
        /// Case index.
        case: usize,
    },
}

/// ε finite and positive, and the lifetime bound finite and at least ε.
fn check_epsilon(epsilon: f64, epsilon_lifetime: f64) -> Result<(), CampaignError> {
    if !(epsilon.is_finite() && epsilon > 0.0) {
        return Err(CampaignError::BadValue {
            field: "epsilon",
            reason: format!("{epsilon} is not allowed; ε must be a positive number such as 1.0"),
        });
    }
    if !(epsilon_lifetime.is_finite() && epsilon_lifetime >= epsilon) {
        return Err(CampaignError::BadValue {
            field: "epsilon_lifetime",
            reason: format!(
                "{epsilon_lifetime} is not allowed; it must be at least epsilon ({epsilon})"
            ),
        });
    }
    Ok(())
}

impl Campaign {
    /// Campaign id (`[A-Za-z0-9_-]`, starting with a letter or digit).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The purpose reports are sent for; data used must allow it.
    pub fn purpose(&self) -> &str {
        &self.purpose
    }

    /// At most one report per device per epoch.
    pub fn epoch(&self) -> Duration {
        self.epoch
    }

    /// ε per report: finite and positive.
    pub fn epsilon(&self) -> f64 {
        self.epsilon
    }

    /// The bound for a device whose answers do not change: at least [`Campaign::epsilon`].
    pub fn epsilon_lifetime(&self) -> f64 {
        self.epsilon_lifetime
    }

    /// Independent yes/no segments.
    pub fn segments(&self) -> &[SegmentDef] {
        &self.segments
    }

    /// Mutually exclusive groups.
    pub fn groups(&self) -> &[GroupDef] {
        &self.groups
    }

    /// Approval for using sensitive data.
    pub fn review(&self) -> Option<&Review> {
        self.review.as_ref()
    }

    /// The campaign's name as the visitor reads it.
    pub fn title(&self) -> Option<&str> {
        self.title.as_deref()
    }

    /// Free text for the people who run it.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The same campaign at per-report ε `epsilon`, its lifetime bound scaled with it (the ratio
    /// of the two kept): what the planner's "what if" asks.
    ///
    /// # Errors
    /// `epsilon` not finite and positive (the campaign is not changed: it is consumed only on
    /// success).
    pub fn with_epsilon(self, epsilon: f64) -> Result<Campaign, CampaignError> {
        let epsilon_lifetime = self.epsilon_lifetime * (epsilon / self.epsilon);
        check_epsilon(epsilon, epsilon_lifetime)?;
        Ok(Campaign { epsilon, epsilon_lifetime, ..self })
    }

    /// The index of segment `id`.
    pub fn segment_index(&self, id: &str) -> Option<usize> {
        self.segments.iter().position(|s| s.id == id)
    }

    /// The index of group `id`.
    pub fn group_index(&self, id: &str) -> Option<usize> {
        self.groups.iter().position(|g| g.id == id)
    }

    /// The number of values each item reports over, segments first: 2 for a segment; for a
    /// group one per case and one for "none", unless the group is exhaustive
    /// ([`GroupDef::is_exhaustive`]), when "none" cannot happen and is not a value.
    pub fn item_domains(&self) -> Vec<u16> {
        let segments = core::iter::repeat_n(2u16, self.segments.len());
        let groups = self.groups.iter().map(|g| {
            let none = usize::from(!g.is_exhaustive());
            u16::try_from(g.cases.len() + none).unwrap_or(u16::MAX)
        });
        segments.chain(groups).collect()
    }

    /// Plans the campaign's mechanism: chooses `s` and each item's oracle for its item domains,
    /// ε and lifetime bound ([`Mechanism::for_domains`]).
    ///
    /// # Errors
    /// When the campaign has no items, its ε is outside the supported range, or no honest
    /// mechanism fits its budget.
    pub fn plan_mechanism(&self) -> Result<Mechanism, MechanismError> {
        let segments = u16::try_from(self.segments.len()).unwrap_or(u16::MAX);
        Mechanism::for_domains(&self.item_domains(), segments, self.epsilon, self.epsilon_lifetime)
    }

    /// Every rule with its slot and display id (`hikers`, `price_tier/mid`), segments first.
    pub fn rules(&self) -> Vec<(RuleSlot, String, &str)> {
        let mut out: Vec<_> = self
            .segments
            .iter()
            .enumerate()
            .map(|(i, s)| (RuleSlot::Segment(i), s.id.clone(), s.rule.as_str()))
            .collect();
        for (g, group) in self.groups.iter().enumerate() {
            for (c, case) in group.cases.iter().enumerate() {
                out.push((
                    RuleSlot::Case { group: g, case: c },
                    format!("{}/{}", group.id, case.id),
                    case.rule.as_str(),
                ));
            }
        }
        out
    }
}
