//! The words a visitor will read about a campaign, checked before launch: a campaign title,
//! every segment's `visitor` words, and a label (or, for a yes/no answer, a question) in the data
//! map for every attribute and event its rules read. Without them explanations fall back to
//! identifiers ("those in “dach”", "your loyalty tier"). Warnings only, reported by `dpseg lint`
//! beside the governance review.

use crate::prelude::*;

use super::{CompiledCampaign, Finding, Severity};
use crate::rules::ir::Node;
use crate::schema::{AttrType, Schema};

/// The wording warnings of `compiled` against `schema`, in a stable order: the campaign, its
/// segments, then the data it reads in the data map's order.
pub fn wording(compiled: &CompiledCampaign, schema: &Schema) -> Vec<Finding> {
    let c = compiled.campaign();
    let warn = |code, segment: Option<String>, message: String| Finding {
        code,
        severity: Severity::Warning,
        segment,
        line: None,
        column: None,
        message,
        snippet: None,
    };
    let mut out = Vec::new();
    if c.title().is_none_or(|t| t.trim().is_empty()) {
        out.push(warn(
            "no-title",
            None,
            format!("campaign '{}' has no `title`: the preference center shows its id", c.id()),
        ));
    }
    for s in c.segments() {
        if s.visitor.as_deref().is_none_or(|v| v.trim().is_empty()) {
            out.push(warn(
                "no-visitor-words",
                Some(s.id.clone()),
                format!(
                    "segment '{}' has no `visitor` words: a visitor reads \"You are among those in “{}”\"; \
                     add a phrase such as visitor = \"hikers with a budget for gear\"",
                    s.id,
                    s.id.replace('_', " ")
                ),
            ));
        }
    }
    let (mut attrs, mut events) = (Vec::new(), Vec::new());
    for n in &compiled.program().nodes {
        match n {
            Node::Attr(a) => attrs.push(*a),
            Node::Count { ev, .. } | Node::Aggregate { ev, .. } | Node::Occurrence { ev, .. } => {
                events.push(*ev);
            }
            _ => {}
        }
    }
    attrs.sort_unstable();
    attrs.dedup();
    events.sort_unstable();
    events.dedup();
    for def in attrs.into_iter().filter_map(|a| schema.attribute_by_id(a)) {
        let w = &def.wording;
        let unnamed = w.label.is_none() && !(def.ty == AttrType::Bool && w.question.is_some());
        if unnamed {
            out.push(warn(
                "no-label",
                None,
                format!(
                    "attribute '{}' has no `label` in the data map{}: explanations call it \"{}\"",
                    def.name,
                    if def.ty == AttrType::Bool { " (or `question`)" } else { "" },
                    def.name.replace('_', " ")
                ),
            ));
        }
    }
    for def in events.into_iter().filter_map(|e| schema.event_by_id(e)) {
        if def.wording.label.is_none() {
            out.push(warn(
                "no-label",
                None,
                format!(
                    "event '{}' has no `label` in the data map: explanations call it \"{}\"",
                    def.name,
                    def.name.replace('_', " ")
                ),
            ));
        }
    }
    out
}
