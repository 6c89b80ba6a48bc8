//! Explanations: why a rule holds or not for a profile.
//!
//! [`explain`] walks the compiled rule and returns a tree whose nodes quote the rule text, carry
//! the node's value, and list the data it read (attribute values, how many events matched a
//! window, referenced segments). It is meant for people — the visitor's preference center and
//! `dpseg eval --explain` — so it favours clarity over speed and may allocate freely.

use crate::prelude::*;

use serde::Serialize;
use serde_json::Value as Json;

use crate::rules::eval::{eval, window, Env, Val};
use crate::rules::ir::{Node, NodeId, Program};
use crate::schema::Schema;
use crate::time::format_timestamp;

/// One node of an explanation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    /// The rule text of this node.
    pub text: String,
    /// Its value: `true`/`false` for conditions, the number, string, set or time for values,
    /// `null` when missing.
    pub value: Json,
    /// What the node read from the profile.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<Input>,
    /// The node's operands.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<Explanation>,
    /// What kind of node this is, for rendering in words.
    #[serde(skip)]
    pub shape: Shape,
    /// The program node it explains (for the sentence in words, [`crate::rules::phrase`]).
    #[serde(skip)]
    pub node: NodeId,
}

/// The logical shape of an explanation node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Shape {
    /// `a and b and ...`
    All,
    /// `a or b or ...`
    Any,
    /// `not a`
    Not,
    /// Any other condition or value.
    #[default]
    Leaf,
}

/// A piece of the profile an explanation node read.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Input {
    /// An attribute and its value (`null` when unset).
    Attribute {
        /// Attribute name.
        name: String,
        /// Its value.
        value: Json,
    },
    /// Events of one type.
    Events {
        /// Event type.
        event: String,
        /// The window, when the node has one (`90d`).
        #[serde(skip_serializing_if = "Option::is_none")]
        window_secs: Option<i64>,
        /// Events of the type in the window (or up to `now`).
        considered: usize,
        /// Of those, how many passed the `where` filter.
        matched: usize,
    },
    /// Another segment of the campaign.
    Segment {
        /// Segment id.
        id: String,
        /// Its result.
        value: bool,
    },
}

/// Converts an evaluation value to JSON.
pub fn val_to_json(v: Val<'_>) -> Json {
    match v {
        Val::Missing => Json::Null,
        Val::Number(n) => crate::profile::number_json(n),
        Val::Str(s) => Json::String(s.to_owned()),
        Val::Lower(s) => Json::String(s.chars().flat_map(crate::rules::lower::lower).collect()),
        Val::Bool(b) => Json::Bool(b),
        Val::Time(t) => Json::String(format_timestamp(t)),
        Val::Set(s) => Json::Array(s.iter().map(|w| Json::String(w.to_string())).collect()),
    }
}

/// Explains node `root` of `prog` (whose rule texts are `sources`) for `env`;
/// `segment_ids` names the campaign's segments by index.
pub fn explain(
    prog: &Program,
    sources: &[String],
    segment_ids: &[String],
    schema: &Schema,
    env: &Env<'_>,
    root: NodeId,
) -> Explanation {
    let text = prog
        .origin(root)
        .and_then(|o| sources.get(usize::from(o.rule)).map(|s| o.span.text(s).to_owned()))
        .unwrap_or_default();
    let value = val_to_json(eval(prog, env, root, None));
    let mut inputs = Vec::new();
    let mut children = Vec::new();
    let mut child =
        |id: NodeId| children.push(explain(prog, sources, segment_ids, schema, env, id));
    match prog.node(root) {
        None
        | Some(Node::Number(_) | Node::String(_) | Node::Bool(_) | Node::Time(_) | Node::Prop(_)) =>
            {}
        Some(Node::Attr(a)) => {
            if let Some(def) = schema.attribute_by_id(*a) {
                inputs.push(Input::Attribute {
                    name: def.name.clone(),
                    value: env.profile.attr(*a).map_or(Json::Null, crate::profile::Value::to_json),
                });
            }
        }
        Some(Node::Compare { l, r, .. }) => {
            child(*l);
            child(*r);
        }
        Some(Node::Has { set, item }) => {
            child(*set);
            child(*item);
        }
        Some(
            Node::In { v, .. }
            | Node::HasList { set: v, .. }
            | Node::Text { v, .. }
            | Node::Exists(v)
            | Node::Within { v, .. }
            | Node::TimeCmp { v, .. }
            | Node::Not(v)
            | Node::Lower(v)
            | Node::DaysSince(v),
        ) => child(*v),
        Some(Node::And(ns) | Node::Or(ns)) => ns.iter().for_each(|&n| child(n)),
        Some(
            Node::Count { ev, filter, secs: _, .. }
            | Node::Aggregate { ev, filter, secs: _, .. }
            | Node::Occurrence { ev, filter, .. },
        ) => {
            let log = env.profile.events(*ev);
            let window_secs = match prog.node(root) {
                Some(Node::Count { secs, .. } | Node::Aggregate { secs, .. }) => Some(*secs),
                _ => None,
            };
            let range = match window_secs {
                Some(secs) => window(log, env.now, secs),
                None => 0..log.times().partition_point(|&t| t <= env.now),
            };
            let considered = range.len();
            let matched = range
                .filter(|&i| filter.is_none_or(|f| eval(prog, env, f, Some(i)).truth()))
                .count();
            if let Some(def) = schema.event_by_id(*ev) {
                inputs.push(Input::Events {
                    event: def.name.clone(),
                    window_secs,
                    considered,
                    matched,
                });
            }
        }
        Some(Node::Segment(i)) => {
            inputs.push(Input::Segment {
                id: segment_ids.get(usize::from(*i)).cloned().unwrap_or_default(),
                value: env.segments.get(usize::from(*i)).copied().unwrap_or(false),
            });
        }
    }
    let shape = match prog.node(root) {
        Some(Node::And(_)) => Shape::All,
        Some(Node::Or(_)) => Shape::Any,
        Some(Node::Not(_)) => Shape::Not,
        _ => Shape::Leaf,
    };
    Explanation { text, value, inputs, children, shape, node: root }
}
