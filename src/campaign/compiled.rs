//! A compiled campaign: what evaluating, explaining and reporting a campaign read, and the
//! membership a profile has in it.

use crate::prelude::*;

use super::{Campaign, Runnable};
use crate::privacy::mechanism::Mechanism;
use crate::profile::Profile;
use crate::rules::compile::CompiledRule;
use crate::rules::eval::Env;
use crate::rules::explain::{explain, Explanation};
use crate::rules::ir::Node;
use crate::rules::ir::Program;
use crate::schema::Schema;
use crate::time::UnixSecs;

/// A campaign whose rules compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledCampaign {
    pub(super) campaign: Campaign,
    /// Rule texts, indexed like `Campaign::rules()`.
    pub(super) sources: Vec<String>,
    /// Per rule, the data it reads and the segments it references.
    pub(super) rule_info: Vec<CompiledRule>,
    /// What devices run: program, order, mechanism, `config_id`.
    pub(super) run: Runnable,
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
            t.push(g.unwrap_or(item.domain() - 1));
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
    #[cfg(feature = "std")]
    pub fn segment_words(
        &self,
        schema: &Schema,
        profile: &Profile,
        now: UnixSecs,
        index: usize,
    ) -> Option<crate::rules::words::Words> {
        use crate::rules::words::{in_words, segment_name};
        let ex = self.explain_segment(schema, profile, now, index)?;
        let names: Vec<String> = self
            .campaign
            .segments
            .iter()
            .map(|s| segment_name(&s.id, s.visitor.as_deref(), s.description.as_deref()))
            .collect();
        let phrasing =
            crate::rules::phrase::Phrasing { program: &self.run.program, schema, segments: &names };
        Some(in_words(names.get(index)?, &ex, &phrasing))
    }

    /// True when rule `rule` (indexed like [`Campaign::rules`]) is the constant `true`.
    pub(crate) fn rule_is_true(&self, rule: usize) -> bool {
        self.rule_info.get(rule).and_then(|r| self.run.program.node(r.root))
            == Some(&Node::Bool(true))
    }
}
