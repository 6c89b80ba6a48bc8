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
//! Every report carries the campaign's content hash. It is the lowercase hex of the first 16
//! bytes of SHA-256 over `dpseg-campaign-v1\n` followed by the compact JSON object
//! `{"epoch_secs","epsilon","epsilon_lifetime","groups":[{"cases":[{"id","rule"}],"id"}],
//! "id","mechanism","purpose","segments":[{"id","rule"}]}` (keys in that order, rules in
//! canonical printed form, segments and groups in file order, `mechanism` the planned
//! [`Mechanism`] as JSON, or `null` for a campaign with nothing to report). Descriptions and the
//! `[review]` block do not change what devices compute, so they are not hashed; reformatting a
//! rule does not change the id, while any change of the realised mechanism does.

use crate::prelude::*;

pub mod lint;
mod runnable;

use core::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::diag::caret_snippet;
#[cfg(feature = "toml")]
use crate::diag::line_col;
use crate::limits::Limits;
use crate::privacy::mechanism::{Mechanism, MechanismError};
use crate::profile::Profile;
use crate::rules::compile::{compile, CompiledRule};
use crate::rules::eval::Env;
use crate::rules::explain::{explain, Explanation};
use crate::rules::ir::{Node, NodeId, Program};
use crate::rules::{parse, RuleError};
use crate::schema::Schema;
use crate::time::{parse_timestamp, Duration, UnixSecs};

pub use lint::{lint, Finding, LintConfig, Severity};
pub use runnable::{Head, Runnable};

/// A campaign as written.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Campaign {
    /// Campaign id (`[A-Za-z0-9_-]`, starting with a letter or digit).
    pub id: String,
    /// The purpose reports are sent for; data used must allow it.
    pub purpose: String,
    /// At most one report per device per epoch.
    pub epoch: Duration,
    /// ε per report; invariant: finite and > 0.
    pub epsilon: f64,
    /// Bound for a device whose answers do not change; invariant: ≥ `epsilon`.
    pub epsilon_lifetime: f64,
    /// Independent yes/no segments.
    pub segments: Vec<SegmentDef>,
    /// Mutually exclusive groups.
    pub groups: Vec<GroupDef>,
    /// Approval for using sensitive data.
    pub review: Option<Review>,
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
}

/// One case of a group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseDef {
    /// Case id, unique in its group.
    pub id: String,
    /// Rule text.
    pub rule: String,
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
}

impl GroupDef {
    /// True when some case always holds, so a device is never in "none": the last case's rule
    /// is `true` (in canonical form; `(true)` counts too).
    pub fn is_exhaustive(&self) -> bool {
        self.cases.last().is_some_and(|c| canonical_rule(&c.rule) == "true")
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
        let _ = raw.description;
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
        if !(raw.epsilon.is_finite() && raw.epsilon > 0.0) {
            return Err(CampaignError::BadValue {
                field: "epsilon",
                reason: format!(
                    "{} is not allowed; ε must be a positive number such as 1.0",
                    raw.epsilon
                ),
            });
        }
        let epsilon_lifetime = raw.epsilon_lifetime.unwrap_or(4.0 * raw.epsilon);
        if !(epsilon_lifetime.is_finite() && epsilon_lifetime >= raw.epsilon) {
            return Err(CampaignError::BadValue {
                field: "epsilon_lifetime",
                reason: format!(
                    "{epsilon_lifetime} is not allowed; it must be at least epsilon ({})",
                    raw.epsilon
                ),
            });
        }
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
        let (compiled, findings) = analyze(self, schema, limits);
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

impl Campaign {
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

/// A campaign whose rules compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledCampaign {
    campaign: Campaign,
    /// Rule texts, indexed like `Campaign::rules()`.
    sources: Vec<String>,
    /// Per rule, the data it reads and the segments it references.
    rule_info: Vec<CompiledRule>,
    /// What devices run: program, order, mechanism, `config_id`.
    run: Runnable,
}

/// Which segments and group cases a profile is in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Membership {
    /// One flag per segment, in campaign order.
    pub segments: Vec<bool>,
    /// Per group, the index of the first case that holds, if any.
    pub groups: Vec<Option<u16>>,
}

impl Membership {
    /// Each item's true value under `mechanism`: 0 or 1 for a segment, the case's index for a
    /// group, and for a group that is in none of its cases the item's last value ("none").
    pub fn item_values(&self, mechanism: &Mechanism) -> Vec<u16> {
        let segments = usize::from(mechanism.segments());
        let mut t: Vec<u16> = self.segments.iter().map(|&b| u16::from(b)).collect();
        for (g, item) in self.groups.iter().zip(&mechanism.items()[segments..]) {
            t.push(g.unwrap_or(item.domain - 1));
        }
        t
    }
}

impl CompiledCampaign {
    /// The campaign as written.
    pub fn campaign(&self) -> &Campaign {
        &self.campaign
    }

    /// The content hash every report carries (see the module docs for what is hashed).
    pub fn config_id(&self) -> &str {
        &self.run.head.config_id
    }

    /// What a device runs of this campaign.
    pub fn runnable(&self) -> &Runnable {
        &self.run
    }

    /// The report mechanism every device of the campaign uses (`None` when the campaign has
    /// nothing to report).
    pub fn mechanism(&self) -> Option<&Mechanism> {
        self.run.mechanism.as_ref()
    }

    /// The compiled rules.
    pub fn program(&self) -> &Program {
        &self.run.program
    }

    /// Per rule (indexed like [`Campaign::rules`]), what compiling it found.
    pub fn rule_info(&self) -> &[CompiledRule] {
        &self.rule_info
    }

    /// The sensitive attributes and events the campaign's rules read, by name, with their
    /// category, in name order: what a visitor is asked to allow for this campaign alone.
    pub fn sensitive_data<'s>(
        &self,
        schema: &'s Schema,
    ) -> Vec<(&'s str, crate::schema::Sensitivity)> {
        use crate::rules::compile::DataRef;
        let mut out: Vec<(&str, crate::schema::Sensitivity)> = self
            .rule_info
            .iter()
            .flat_map(|info| info.uses.iter().map(|&(data, _)| data))
            .filter_map(|data| match data {
                DataRef::Attr(a) => {
                    schema.attribute_by_id(a).map(|d| (d.name.as_str(), d.sensitive))
                }
                DataRef::Event(e) => schema.event_by_id(e).map(|d| (d.name.as_str(), d.sensitive)),
            })
            .filter_map(|(name, s)| Some((name, s?)))
            .collect();
        out.sort_unstable_by_key(|&(name, _)| name);
        out.dedup();
        out
    }

    /// An empty membership of the right shape; see [`Runnable::new_membership`].
    pub fn new_membership(&self) -> Membership {
        self.run.new_membership()
    }

    /// Evaluates every segment and group for `profile` at `now`.
    pub fn evaluate(&self, profile: &Profile, now: UnixSecs) -> Membership {
        self.run.evaluate(profile, now)
    }

    /// As [`CompiledCampaign::evaluate`], into `out`; see [`Runnable::evaluate_into`].
    pub fn evaluate_into(&self, profile: &Profile, now: UnixSecs, out: &mut Membership) {
        self.run.evaluate_into(profile, now, out);
    }

    /// The membership as `{"segments": {id: bool}, "groups": {id: case id or null}}`.
    pub fn membership_json(&self, m: &Membership) -> serde_json::Value {
        let segments: serde_json::Map<_, _> = self
            .run
            .segment_ids
            .iter()
            .zip(&m.segments)
            .map(|(id, &b)| (id.clone(), b.into()))
            .collect();
        let groups: serde_json::Map<_, _> = self
            .campaign
            .groups
            .iter()
            .zip(&m.groups)
            .map(|(g, c)| {
                let case = c.and_then(|c| g.cases.get(usize::from(c))).map(|c| c.id.clone());
                (g.id.clone(), case.map_or(serde_json::Value::Null, serde_json::Value::String))
            })
            .collect();
        serde_json::json!({ "segments": segments, "groups": groups })
    }

    /// Explains every segment and every group case for `profile` at `now`:
    /// `{"segments": {id: tree}, "groups": {id: {case: tree}}}`.
    pub fn explain_json(
        &self,
        schema: &Schema,
        profile: &Profile,
        now: UnixSecs,
    ) -> serde_json::Value {
        let m = self.evaluate(profile, now);
        let env = Env { profile, now, segments: &m.segments };
        let run = &self.run;
        let ex = |root| explain(&run.program, &self.sources, &run.segment_ids, schema, &env, root);
        let segments: serde_json::Map<_, _> = run
            .segment_ids
            .iter()
            .zip(&self.rule_info)
            .map(|(id, info)| (id.clone(), serde_json::to_value(ex(info.root)).unwrap_or_default()))
            .collect();
        let groups: serde_json::Map<_, _> = self
            .campaign
            .groups
            .iter()
            .zip(&run.groups)
            .map(|(g, (_, roots))| {
                let cases: serde_json::Map<_, _> = g
                    .cases
                    .iter()
                    .zip(roots)
                    .map(|(c, &(_, root))| {
                        (c.id.clone(), serde_json::to_value(ex(root)).unwrap_or_default())
                    })
                    .collect();
                (g.id.clone(), serde_json::Value::Object(cases))
            })
            .collect();
        serde_json::json!({ "segments": segments, "groups": groups })
    }

    /// Explains segment `index` for `profile` at `now`.
    pub fn explain_segment(
        &self,
        schema: &Schema,
        profile: &Profile,
        now: UnixSecs,
        index: usize,
    ) -> Option<Explanation> {
        let run = &self.run;
        let root = *run.roots.get(index)?;
        let m = self.evaluate(profile, now);
        let env = Env { profile, now, segments: &m.segments };
        Some(explain(&run.program, &self.sources, &run.segment_ids, schema, &env, root))
    }

    /// Explains segment `index` for `profile` at `now` in words a visitor understands.
    pub fn segment_words(
        &self,
        schema: &Schema,
        profile: &Profile,
        now: UnixSecs,
        index: usize,
    ) -> Option<crate::rules::words::Words> {
        let ex = self.explain_segment(schema, profile, now, index)?;
        let def = self.campaign.segments.get(index)?;
        Some(crate::rules::words::in_words(&def.id, def.description.as_deref(), &ex))
    }

    /// True when rule `rule` (indexed like [`Campaign::rules`]) is the constant `true`.
    pub(crate) fn rule_is_true(&self, rule: usize) -> bool {
        self.rule_info.get(rule).and_then(|r| self.run.program.node(r.root))
            == Some(&Node::Bool(true))
    }
}

fn finding_at(code: &'static str, rule_id: &str, source: &str, err: &RuleError) -> Finding {
    let lc = err.position(source);
    Finding {
        code,
        severity: Severity::Error,
        segment: Some(rule_id.to_owned()),
        line: Some(lc.line),
        column: Some(lc.column),
        message: err.kind.to_string(),
        snippet: Some(caret_snippet(source, err.span)),
    }
}

fn plain(code: &'static str, segment: Option<String>, message: String) -> Finding {
    Finding {
        code,
        severity: Severity::Error,
        segment,
        line: None,
        column: None,
        message,
        snippet: None,
    }
}

/// Structural checks and compilation; returns the compiled campaign when every rule compiled.
pub(crate) fn analyze(
    c: &Campaign,
    schema: &Schema,
    limits: &Limits,
) -> (Option<CompiledCampaign>, Vec<Finding>) {
    let mut findings = Vec::new();
    if c.segments.len() > limits.segments_max {
        findings.push(plain(
            "too-many-segments",
            None,
            format!(
                "campaign has {} segments; the limit is {}",
                c.segments.len(),
                limits.segments_max
            ),
        ));
    }
    if c.groups.len() > limits.groups_max {
        findings.push(plain(
            "too-many-groups",
            None,
            format!("campaign has {} groups; the limit is {}", c.groups.len(), limits.groups_max),
        ));
    }
    let mut seen = alloc::collections::BTreeSet::new();
    let items =
        c.segments.iter().map(|s| s.id.as_str()).chain(c.groups.iter().map(|g| g.id.as_str()));
    for id in items {
        if !is_valid_id(id, limits) {
            findings.push(plain(
                "bad-id",
                Some(id.to_owned()),
                format!(
                    "'{id}' is not an id; use up to {} letters, digits, '_' or '-'",
                    limits.ident_bytes_max
                ),
            ));
        } else if !seen.insert(id) {
            findings.push(plain(
                "duplicate-id",
                Some(id.to_owned()),
                format!("'{id}' is defined more than once; segment and group ids must be unique"),
            ));
        }
    }
    for g in &c.groups {
        if g.cases.is_empty() {
            findings.push(plain(
                "empty-group",
                Some(g.id.clone()),
                "group has no cases; add at least one".into(),
            ));
        }
        if g.cases.len() > limits.group_cases_max {
            findings.push(plain(
                "too-many-cases",
                Some(g.id.clone()),
                format!(
                    "group has {} cases; the limit is {}",
                    g.cases.len(),
                    limits.group_cases_max
                ),
            ));
        }
        let mut seen = alloc::collections::BTreeSet::new();
        for case in &g.cases {
            let full = format!("{}/{}", g.id, case.id);
            if !is_valid_id(&case.id, limits) {
                findings.push(plain(
                    "bad-id",
                    Some(full),
                    format!("'{}' is not a case id", case.id),
                ));
            } else if !seen.insert(case.id.as_str()) {
                findings.push(plain(
                    "duplicate-id",
                    Some(full),
                    format!("case '{}' appears twice in group '{}'", case.id, g.id),
                ));
            }
        }
    }
    if !findings.is_empty() {
        return (None, findings);
    }

    let segment_ids: Vec<String> = c.segments.iter().map(|s| s.id.clone()).collect();
    let mut program = Program::default();
    let mut infos = Vec::new();
    let mut sources = Vec::new();
    let rules = c.rules();
    for (index, (_, rule_id, text)) in rules.iter().enumerate() {
        sources.push((*text).to_owned());
        let rule = u16::try_from(index).unwrap_or(u16::MAX);
        let result = parse(text, limits)
            .and_then(|ast| compile(&ast, rule, schema, &segment_ids, &mut program, limits));
        match result {
            Ok(info) => infos.push(info),
            Err(e) => findings.push(finding_at(e.kind.code(), rule_id, text, &e)),
        }
    }
    if !findings.is_empty() {
        return (None, findings);
    }

    // Order segments so each comes after those it references; refuse cycles.
    let n = segment_ids.len();
    let mut state = vec![0u8; n]; // 0 new, 1 on stack, 2 done
    let mut order = Vec::with_capacity(n);
    for start in 0..n {
        if state[start] != 0 {
            continue;
        }
        // Iterative DFS: (node, next edge index).
        let mut stack = vec![(start, 0usize)];
        state[start] = 1;
        while let Some(&mut (node, ref mut edge)) = stack.last_mut() {
            let refs = &infos[node].segment_refs;
            if let Some(&(next, span)) = refs.get(*edge) {
                *edge += 1;
                let next = usize::from(next);
                match state[next] {
                    0 => {
                        state[next] = 1;
                        stack.push((next, 0));
                    }
                    1 => {
                        let from = stack.iter().position(|&(s, _)| s == next).unwrap_or(0);
                        let mut path: Vec<&str> =
                            stack[from..].iter().map(|&(s, _)| segment_ids[s].as_str()).collect();
                        path.push(&segment_ids[next]);
                        let err = RuleError::new(
                            crate::rules::RuleErrorKind::SegmentCycle { path: path.join(" -> ") },
                            span,
                        );
                        findings.push(finding_at(
                            "segment-cycle",
                            &segment_ids[node],
                            &sources[node],
                            &err,
                        ));
                    }
                    _ => {}
                }
            } else {
                state[node] = 2;
                order.push(u16::try_from(node).unwrap_or(u16::MAX));
                stack.pop();
            }
        }
    }
    if !findings.is_empty() {
        return (None, findings);
    }

    let mut groups: Vec<Vec<NodeId>> = Vec::with_capacity(c.groups.len());
    let mut next = n;
    for g in &c.groups {
        groups.push(infos[next..next + g.cases.len()].iter().map(|i| i.root).collect());
        next += g.cases.len();
    }
    let mechanism = match c.plan_mechanism() {
        Ok(m) => Some(m),
        Err(MechanismError::Empty) => None,
        Err(e) => {
            findings.push(plain("epsilon-unsupported", None, e.to_string()));
            return (None, findings);
        }
    };
    let config_id = config_id(c, mechanism.as_ref());
    let memo_ids = mechanism.as_ref().map_or_else(Vec::new, |m| memo_ids(c, &infos, m));
    let refs = |info: &CompiledRule| !info.segment_refs.is_empty();
    let (segment_infos, case_infos) = infos.split_at(segment_ids.len());
    let mut case_infos = case_infos.iter();
    let groups: Vec<_> = c
        .groups
        .iter()
        .zip(groups)
        .map(|(g, roots)| {
            let infos: Vec<_> = case_infos.by_ref().take(roots.len()).collect();
            let cases = g.cases.iter().map(|c| c.id.clone()).zip(roots).collect();
            ((g.id.clone(), cases), infos.into_iter().any(refs))
        })
        .collect();
    let (groups, group_refs) = groups.into_iter().unzip();
    let run = Runnable {
        head: Head { id: c.id.clone(), config_id, epoch_secs: c.epoch.secs(), memo_ids },
        program,
        roots: segment_infos.iter().map(|i| i.root).collect(),
        segment_refs: segment_infos.iter().map(refs).collect(),
        segment_ids,
        order,
        groups,
        group_refs,
        mechanism,
    };
    let compiled = CompiledCampaign { campaign: c.clone(), sources, rule_info: infos, run };
    (Some(compiled), findings)
}

/// Per item, the identity of its permanent answers (see `docs/privacy.md`, "The lifetime
/// bound"): SHA-256 over `dpseg-memo-v1\0`, the campaign id, the item's meaning (its rules in
/// canonical form, or its group's cases in order, with every segment they reference, directly
/// or not, by id and rule) and its permanent layer (kind, number of values, memo coin), first 16
/// bytes. A new version of a campaign whose item means the same and draws the same permanent
/// answer keeps the identity, so devices keep their answers and are not charged again; renaming
/// the item itself does not change it.
fn memo_ids(c: &Campaign, infos: &[CompiledRule], mechanism: &Mechanism) -> Vec<[u8; 16]> {
    let n = c.segments.len();
    let referenced = |start: &[usize]| -> Vec<usize> {
        let mut seen = vec![false; n];
        let mut stack: Vec<usize> = start.to_vec();
        while let Some(i) = stack.pop() {
            for &(r, _) in &infos[i].segment_refs {
                let r = usize::from(r);
                if r < n && !core::mem::replace(&mut seen[r], true) {
                    stack.push(r);
                }
            }
        }
        (0..n).filter(|&i| seen[i]).collect()
    };
    let mut next = n;
    let mut items: Vec<(Vec<String>, Vec<usize>)> =
        (0..n).map(|i| (vec![canonical_rule(&c.segments[i].rule)], referenced(&[i]))).collect();
    for g in &c.groups {
        let rules = g.cases.iter().map(|k| canonical_rule(&k.rule)).collect();
        let own: Vec<usize> = (next..next + g.cases.len()).collect();
        next += g.cases.len();
        items.push((rules, referenced(&own)));
    }
    items
        .iter()
        .zip(mechanism.items())
        .map(|((rules, refs), item)| {
            let mut h = Sha256::new();
            let mut field = |b: &[u8]| {
                h.update((b.len() as u64).to_be_bytes());
                h.update(b);
            };
            field(b"dpseg-memo-v1\0");
            field(c.id.as_bytes());
            for r in rules {
                field(r.as_bytes());
            }
            for &i in refs {
                field(c.segments[i].id.as_bytes());
                field(canonical_rule(&c.segments[i].rule).as_bytes());
            }
            let kind: &[u8] = if item.oracle == crate::privacy::mechanism::Oracle::Oue {
                b"bits"
            } else {
                b"value"
            };
            field(kind);
            field(&item.domain.to_be_bytes());
            field(&item.memo.numerator().to_be_bytes());
            let d = h.finalize();
            let mut id = [0u8; 16];
            id.copy_from_slice(&d[..16]);
            id
        })
        .collect()
}

#[derive(Serialize)]
struct CanonicalRule<'a> {
    id: &'a str,
    rule: String,
}

#[derive(Serialize)]
struct CanonicalGroup<'a> {
    cases: Vec<CanonicalRule<'a>>,
    id: &'a str,
}

/// Field order is alphabetical and fixed by declaration, whatever serde_json's features.
#[derive(Serialize)]
struct Canonical<'a> {
    epoch_secs: i64,
    epsilon: f64,
    epsilon_lifetime: f64,
    groups: Vec<CanonicalGroup<'a>>,
    id: &'a str,
    mechanism: Option<&'a Mechanism>,
    purpose: &'a str,
    segments: Vec<CanonicalRule<'a>>,
}

fn canonical_rule(text: &str) -> String {
    // Rules reaching here parsed already; limits only matter for failures.
    parse(text, &Limits { rule_bytes_max: usize::MAX, ..Limits::default() })
        .map_or_else(|_| text.to_owned(), |e| e.to_string())
}

fn config_id(c: &Campaign, mechanism: Option<&Mechanism>) -> String {
    let canonical = Canonical {
        epoch_secs: c.epoch.secs(),
        epsilon: c.epsilon,
        epsilon_lifetime: c.epsilon_lifetime,
        groups: c
            .groups
            .iter()
            .map(|g| CanonicalGroup {
                cases: g
                    .cases
                    .iter()
                    .map(|k| CanonicalRule { id: &k.id, rule: canonical_rule(&k.rule) })
                    .collect(),
                id: &g.id,
            })
            .collect(),
        id: &c.id,
        mechanism,
        purpose: &c.purpose,
        segments: c
            .segments
            .iter()
            .map(|s| CanonicalRule { id: &s.id, rule: canonical_rule(&s.rule) })
            .collect(),
    };
    let mut hasher = Sha256::new();
    hasher.update(b"dpseg-campaign-v1\n");
    hasher.update(serde_json::to_vec(&canonical).unwrap_or_default());
    let digest = hasher.finalize();
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}
