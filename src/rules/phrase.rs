//! One condition of a rule as a sentence about the visitor, built from the compiled node, the
//! values the explanation found, and the data map's words for the visitor ([`Wording`]):
//! `budget >= 100` reads "Your budget for gear is 150; we look for at least 100", and
//! `interests has any ["camping", "kayaking"]` reads "Your activities include camping".
//!
//! [`words`](super::words) asks here first for every leaf of an explanation; a node with no
//! sentence here (a shape the rules allow but a segment rarely uses) keeps the generic sentence
//! there, which names the data read and quotes the condition.

use crate::prelude::*;

use serde_json::Value as Json;

use crate::rules::ast::{AggFn, CmpOp, TextOp};
use crate::rules::explain::{Explanation, Input};
use crate::rules::ir::{ConstSet, Node, Program};
use crate::schema::{AttrId, EventDef, Schema};

/// What a sentence may name: the program, the data map, and the campaign's segments as the
/// visitor reads them (their `visitor` words, or a fallback), by index.
pub struct Phrasing<'a> {
    /// The compiled rules.
    pub program: &'a Program,
    /// The data map, with its labels.
    pub schema: &'a Schema,
    /// Each segment's name for the visitor.
    pub segments: &'a [String],
}

impl Phrasing<'_> {
    /// The sentence for leaf `ex`, or `None` when this module has none for its shape.
    pub fn sentence(&self, ex: &Explanation) -> Option<String> {
        let holds = ex.value == Json::Bool(true);
        let s = match self.program.node(ex.node)? {
            Node::Attr(a) => self.flag(*a, &ex.value),
            Node::Compare { op, l, r } => {
                let subject = self.subject(ex.children.first()?, *l)?;
                let want = self.constant(*r, ex.children.get(1)?, *l)?;
                format!("{subject}; we look for {} {want}", op_words(*op))
            }
            Node::In { v, set, negated } => {
                let subject = self.subject(ex.children.first()?, *v)?;
                let words = self.const_set(set, *v);
                let which = if *negated { "anything but" } else { "one of" };
                format!("{subject}; we look for {which} {}", list(&words, "or"))
            }
            Node::Has { set, .. } => {
                let (label, value) = self.attr_of(*set, ex.children.first()?)?;
                let item = ex.children.get(1)?.value.as_str()?.to_owned();
                let item = self.value_label(*set, &item);
                match value {
                    Json::Null => format!("You have not told us your {label}"),
                    _ if holds => format!("Your {label} include {item}"),
                    _ => format!("Your {label} do not include {item}"),
                }
            }
            Node::HasList { set, words, all } => {
                let (label, value) = self.attr_of(*set, ex.children.first()?)?;
                let have: Vec<&str> = value
                    .as_array()
                    .map_or_else(Vec::new, |a| a.iter().filter_map(Json::as_str).collect());
                let named = |ws: Vec<&str>| {
                    ws.iter().map(|w| self.value_label(*set, w)).collect::<Vec<_>>()
                };
                let matched =
                    named(words.iter().map(|w| &**w).filter(|w| have.contains(w)).collect());
                let missing =
                    named(words.iter().map(|w| &**w).filter(|w| !have.contains(w)).collect());
                match (value, *all) {
                    (Json::Null, _) => format!("You have not told us your {label}"),
                    (_, false) if holds => {
                        format!("Your {label} include {}", list(&matched, "and"))
                    }
                    (_, false) => format!("Your {label} include none of {}", list(&missing, "or")),
                    (_, true) if holds => {
                        format!("Your {label} include all of {}", list(&matched, "and"))
                    }
                    (_, true) => format!("Your {label} do not include {}", list(&missing, "or")),
                }
            }
            Node::Exists(v) => {
                let (label, _) = self.attr_of(*v, ex.children.first()?)?;
                if holds {
                    format!("You told us your {label}")
                } else {
                    format!("You have not told us your {label}")
                }
            }
            Node::Within { v, secs } => {
                let subject = self.subject(ex.children.first()?, *v)?;
                let period = duration_words(*secs);
                if ex.children.first()?.value.is_null() {
                    subject
                } else if holds {
                    format!("{subject}, within the last {period}")
                } else {
                    format!("{subject}, more than {period} ago")
                }
            }
            Node::TimeCmp { v, t, after } => {
                let subject = self.subject(ex.children.first()?, *v)?;
                let date = date_of(&crate::time::format_timestamp(*t));
                format!("{subject}; we look for {} {date}", if *after { "after" } else { "before" })
            }
            Node::Text { op, v, pattern } => {
                let subject = self.subject(ex.children.first()?, *v)?;
                let how = match op {
                    TextOp::Contains => "containing",
                    TextOp::StartsWith => "starting with",
                    TextOp::EndsWith => "ending with",
                };
                format!("{subject}; we look for one {how} “{pattern}”")
            }
            Node::Count { ev, filter, secs, any: true } => {
                let def = self.schema.event_by_id(*ev)?;
                let filter = self.filter(def, *filter);
                let period = duration_words(*secs);
                let n = matched(ex);
                if holds {
                    format!("You have {n} {} in the last {period}", count_of(def, n, &filter))
                } else {
                    format!("You have no {}{filter} in the last {period}", plural(def))
                }
            }
            Node::Segment(i) => {
                let name = self.segments.get(usize::from(*i))?;
                if holds {
                    format!("You are among {name}")
                } else {
                    format!("You are not among {name}")
                }
            }
            _ => return None,
        };
        Some(s)
    }

    /// A bool attribute used as a condition: the question it answers and the answer.
    fn flag(&self, a: AttrId, value: &Json) -> String {
        let Some(def) = self.schema.attribute_by_id(a) else { return String::new() };
        let answer = match value {
            Json::Bool(true) => "yes",
            Json::Bool(false) => "no",
            _ => "",
        };
        match (&def.wording.question, answer) {
            (Some(q), "") => format!("You have not answered “{q}”"),
            (Some(q), a) => format!("You answered {a} to “{q}”"),
            (None, "") => format!(
                "You have not told us about your {}",
                label_of(&def.wording.label, &def.name)
            ),
            (None, a) => {
                format!("Your answer for {}: {a}", label_of(&def.wording.label, &def.name))
            }
        }
    }

    /// What a value node measures, with the visitor's value: "Your budget for gear is 150".
    fn subject(&self, ex: &Explanation, id: u32) -> Option<String> {
        let v = &ex.value;
        Some(match self.program.node(id)? {
            Node::Attr(a) => {
                let def = self.schema.attribute_by_id(*a)?;
                let label = label_of(&def.wording.label, &def.name);
                match v {
                    Json::Null => format!("You have not told us your {label}"),
                    Json::Bool(b) => {
                        format!("Your answer for {label} is {}", if *b { "yes" } else { "no" })
                    }
                    Json::String(s) if crate::time::parse_timestamp(s).is_ok() => {
                        format!("Your {label} was on {}", date_of(s))
                    }
                    Json::String(s) => format!("Your {label} is {}", def.wording.value(s)),
                    other => format!("Your {label} is {}", number_words(other)),
                }
            }
            Node::Lower(inner) => self.subject(ex.children.first()?, *inner)?,
            Node::DaysSince(inner) => {
                let child = ex.children.first()?;
                match (self.program.node(*inner)?, v) {
                    (Node::Attr(a), Json::Number(n)) => {
                        let def = self.schema.attribute_by_id(*a)?;
                        let days = crate::profile::number_json(crate::float::floor(n.as_f64()?));
                        let label = label_of(&def.wording.label, &def.name);
                        format!(
                            "Your {label} was {days} day{} ago",
                            if days == 1 { "" } else { "s" }
                        )
                    }
                    _ => self.subject(child, *inner)?,
                }
            }
            Node::Count { ev, filter, secs, .. } => {
                let def = self.schema.event_by_id(*ev)?;
                let n = v.as_f64().unwrap_or(0.0);
                let filter = self.filter(def, *filter);
                #[allow(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    reason = "a count of events"
                )]
                let n = n as usize;
                let period = duration_words(*secs);
                if n == 0 {
                    format!("You have no {}{filter} in the last {period}", plural(def))
                } else {
                    format!("You have {n} {} in the last {period}", count_of(def, n, &filter))
                }
            }
            Node::Aggregate { func, ev, prop, filter, secs } => {
                let def = self.schema.event_by_id(*ev)?;
                let prop = def.props.get(usize::from(*prop))?;
                let what = match func {
                    AggFn::Sum => "total",
                    AggFn::Avg => "average",
                    AggFn::Min => "smallest",
                    AggFn::Max => "largest",
                };
                let of = format!("{}{}", plural(def), self.filter(def, *filter));
                let period = duration_words(*secs);
                let prop = human(&prop.name);
                match v {
                    Json::Null => format!("You have no {of} in the last {period}"),
                    n => format!(
                        "The {what} {prop} of your {of} in the last {period} is {}",
                        number_words(n)
                    ),
                }
            }
            Node::Occurrence { ev, filter, last } => {
                let def = self.schema.event_by_id(*ev)?;
                let which = if *last { "last" } else { "first" };
                let filter = self.filter(def, *filter);
                match v {
                    Json::String(s) => {
                        format!("Your {which} {}{filter} was on {}", singular(def), date_of(s))
                    }
                    _ => format!("You have no {}{filter} yet", plural(def)),
                }
            }
            _ => return None,
        })
    }

    /// An attribute read directly: its label and value.
    fn attr_of(&self, id: u32, ex: &Explanation) -> Option<(String, Json)> {
        match self.program.node(id)? {
            Node::Attr(a) => {
                let def = self.schema.attribute_by_id(*a)?;
                Some((label_of(&def.wording.label, &def.name), ex.value.clone()))
            }
            _ => None,
        }
    }

    /// A constant operand as the visitor reads it.
    fn constant(&self, id: u32, ex: &Explanation, subject: u32) -> Option<String> {
        Some(match self.program.node(id)? {
            Node::Number(_) => number_words(&ex.value),
            Node::String(s) => self.value_label(subject, s),
            Node::Bool(b) => (if *b { "yes" } else { "no" }).to_owned(),
            Node::Time(t) => date_of(&crate::time::format_timestamp(*t)),
            _ => return None,
        })
    }

    fn const_set(&self, set: &ConstSet, subject: u32) -> Vec<String> {
        match set {
            ConstSet::Number(ns) => {
                ns.iter().map(|n| crate::profile::number_json(*n).to_string()).collect()
            }
            ConstSet::String(ss) => ss.iter().map(|s| self.value_label(subject, s)).collect(),
            ConstSet::Bool(bs) => {
                bs.iter().map(|b| (if *b { "yes" } else { "no" }).to_owned()).collect()
            }
            ConstSet::Time(ts) => {
                ts.iter().map(|t| date_of(&crate::time::format_timestamp(*t))).collect()
            }
        }
    }

    /// Word `w` of the attribute node `subject` reads (through `lower`): its value label, or
    /// the word in quotes.
    fn value_label(&self, subject: u32, w: &str) -> String {
        let attr = match self.program.node(subject) {
            Some(Node::Attr(a)) => Some(*a),
            Some(Node::Lower(v)) => match self.program.node(*v) {
                Some(Node::Attr(a)) => Some(*a),
                _ => None,
            },
            _ => None,
        };
        match attr.and_then(|a| self.schema.attribute_by_id(a)) {
            Some(def) if def.wording.value(w) != w => def.wording.value(w).to_owned(),
            _ => w.replace('_', " "),
        }
    }

    /// A `where` filter as words: " in category “tents”" for `prop == "x"`, else " that match".
    fn filter(&self, def: &EventDef, filter: Option<u32>) -> String {
        let Some(f) = filter else { return String::new() };
        if let Some(Node::Compare { op: CmpOp::Eq, l, r }) = self.program.node(f) {
            if let (Some(Node::Prop(p)), Some(Node::String(s))) =
                (self.program.node(*l), self.program.node(*r))
            {
                if let Some(prop) = def.props.get(usize::from(*p)) {
                    return format!(" with {} “{s}”", human(&prop.name));
                }
            }
        }
        " that match".to_owned()
    }
}

/// How many events matched, from the explanation's inputs.
fn matched(ex: &Explanation) -> usize {
    ex.inputs
        .iter()
        .find_map(|i| match i {
            Input::Events { matched, .. } => Some(*matched),
            _ => None,
        })
        .unwrap_or(0)
}

fn label_of(label: &Option<String>, name: &str) -> String {
    label.clone().unwrap_or_else(|| human(name))
}

/// A name as words: `trail_running` → "trail running".
pub(crate) fn human(name: &str) -> String {
    name.replace('_', " ")
}

fn singular(def: &EventDef) -> String {
    label_of(&def.wording.label, &def.name)
}

fn plural(def: &EventDef) -> String {
    let one = singular(def);
    if one.ends_with('s') {
        one
    } else {
        format!("{one}s")
    }
}

/// "1 purchase with category “tents”", "3 purchases".
fn count_of(def: &EventDef, n: usize, filter: &str) -> String {
    let noun = if n == 1 { singular(def) } else { plural(def) };
    format!("{noun}{filter}")
}

fn op_words(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "exactly",
        CmpOp::Ne => "anything but",
        CmpOp::Lt => "less than",
        CmpOp::Le => "at most",
        CmpOp::Gt => "more than",
        CmpOp::Ge => "at least",
    }
}

/// "a, b or c".
fn list(words: &[String], last: &str) -> String {
    match words {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., end] => format!("{} {last} {end}", init.join(", ")),
    }
}

/// The date of an RFC 3339 time (the visitor does not need the second).
fn date_of(t: &str) -> String {
    t.split_once('T').map_or(t, |(d, _)| d).to_owned()
}

/// A window length in words: "90 days", "2 weeks", and "week" for one ("in the last week").
pub fn duration_words(secs: i64) -> String {
    let (n, unit) = if secs % 604_800 == 0 {
        (secs / 604_800, "week")
    } else if secs % 86_400 == 0 {
        (secs / 86_400, "day")
    } else if secs % 3_600 == 0 {
        (secs / 3_600, "hour")
    } else {
        (secs.div_euclid(60).max(1), "minute")
    };
    if n == 1 {
        unit.to_owned()
    } else {
        format!("{n} {unit}s")
    }
}

/// A number as a visitor reads it: whole numbers as they are, others to two decimals.
fn number_words(v: &Json) -> String {
    match v.as_f64() {
        Some(n) if crate::float::fract(n) != 0.0 => {
            let t = format!("{n:.2}");
            t.trim_end_matches('0').trim_end_matches('.').to_owned()
        }
        _ => v.to_string(),
    }
}
