//! Explanations in words, for the visitor's preference center (the product promise: "which segments they
//! are in and *why*").
//!
//! [`in_words`] turns an [`Explanation`] tree into short sentences that name the visitor's own
//! data ("your budget is 150"), say what the rule asked, and whether it held. `and`/`or`/`not`
//! become nested reasons, so a page can render them as a list with a tick or a cross on each.

use crate::prelude::*;

use serde::Serialize;
use serde_json::Value as Json;

use crate::rules::explain::{Explanation, Input, Shape};
use crate::rules::phrase::{duration_words, human, Phrasing};

/// A segment's explanation in words.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Words {
    /// One sentence: "You are among hikers with a budget for gear, because:".
    pub summary: String,
    /// Whether the visitor is in the segment.
    pub holds: bool,
    /// Why; nested for `and`, `or` and `not`.
    pub reasons: Vec<Reason>,
}

/// One reason: a sentence, whether the condition held, the rule text it stands for, and the
/// reasons under it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reason {
    /// The sentence.
    pub text: String,
    /// Whether the condition held.
    pub holds: bool,
    /// The condition as the rule writes it, for the curious.
    pub rule: String,
    /// Sub-reasons.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub because: Vec<Reason>,
}

/// Explains a segment, called `name` for the visitor (its `visitor` words), from its
/// explanation tree; `phrasing` gives each condition its sentence in the data map's words.
pub fn in_words(name: &str, ex: &Explanation, phrasing: &Phrasing<'_>) -> Words {
    let holds = ex.value == Json::Bool(true);
    let summary = if holds {
        format!("You are among {name}, because:")
    } else {
        format!("You are not among {name}, because:")
    };
    let top = reason(ex, phrasing);
    Words { summary, holds, reasons: vec![top] }
}

/// The name a visitor reads for a segment: its `visitor` words, else its description, else its
/// id in words ("those in “dach hikers”").
pub fn segment_name(id: &str, visitor: Option<&str>, description: Option<&str>) -> String {
    match (visitor, description) {
        (Some(v), _) if !v.trim().is_empty() => v.to_owned(),
        (_, Some(d)) if !d.trim().is_empty() => format!("those in “{d}”"),
        _ => format!("those in “{}”", id.replace('_', " ")),
    }
}

fn reason(ex: &Explanation, phrasing: &Phrasing<'_>) -> Reason {
    let holds = ex.value == Json::Bool(true);
    let rule = ex.text.clone();
    let because = |ex: &Explanation| ex.children.iter().map(|c| reason(c, phrasing)).collect();
    match ex.shape {
        Shape::All => Reason {
            text: if holds {
                "All of these apply to you:"
            } else {
                "Not all of these apply to you:"
            }
            .to_owned(),
            holds,
            rule,
            because: because(ex),
        },
        Shape::Any => Reason {
            text: if holds {
                "At least one of these applies to you:"
            } else {
                "None of these applies to you:"
            }
            .to_owned(),
            holds,
            rule,
            because: because(ex),
        },
        Shape::Not => Reason {
            text: if holds {
                "This should not apply to you, and it does not:"
            } else {
                "This should not apply to you, but it does:"
            }
            .to_owned(),
            holds,
            rule,
            // What "this" is: the condition's own sentence, whose tick says whether it applies.
            because: because(ex),
        },
        Shape::Leaf => {
            let text = phrasing.sentence(ex).unwrap_or_else(|| {
                let mut facts = Vec::new();
                collect_facts(ex, &mut facts, phrasing);
                let verdict = if holds { "it applies to you" } else { "it does not apply to you" };
                if facts.is_empty() {
                    format!("We checked “{}”: {verdict}", ex.text)
                } else {
                    format!("{}: so “{}” {verdict}", capitalised(&facts.join("; ")), ex.text)
                }
            });
            Reason { text, holds, rule, because: Vec::new() }
        }
    }
}

fn collect_facts(ex: &Explanation, out: &mut Vec<String>, phrasing: &Phrasing<'_>) {
    for input in &ex.inputs {
        let fact = fact(input, phrasing);
        if !out.contains(&fact) {
            out.push(fact);
        }
    }
    for c in &ex.children {
        collect_facts(c, out, phrasing);
    }
}

fn fact(input: &Input, phrasing: &Phrasing<'_>) -> String {
    let attr = |name: &str| {
        phrasing
            .schema
            .attribute(name)
            .and_then(|(_, d)| d.wording.label.clone())
            .unwrap_or_else(|| human(name))
    };
    let event_label = |name: &str| {
        phrasing
            .schema
            .event(name)
            .and_then(|(_, d)| d.wording.label.clone())
            .unwrap_or_else(|| human(name))
    };
    match input {
        Input::Attribute { name, value: Json::Null } => {
            format!("you have not told us your {}", attr(name))
        }
        Input::Attribute { name, value: Json::Array(items) } => {
            let items: Vec<String> = items
                .iter()
                .map(|i| i.as_str().map_or_else(|| value_words(i), str::to_owned))
                .collect();
            if items.is_empty() {
                format!("your {} are empty", attr(name))
            } else {
                format!("your {} are {}", attr(name), items.join(", "))
            }
        }
        Input::Attribute { name, value } => {
            format!("your {} is {}", attr(name), value_words(value))
        }
        Input::Events { event, window_secs, considered, matched } => {
            let when = window_secs.map_or_else(
                || "so far".to_owned(),
                |s| format!("in the last {}", duration_words(s)),
            );
            let plural = if *considered == 1 { "" } else { "s" };
            if considered == matched {
                format!("you have {considered} “{}” event{plural} {when}", event_label(event))
            } else {
                format!(
                    "{matched} of your {considered} “{}” event{plural} {when} match",
                    event_label(event)
                )
            }
        }
        Input::Segment { id, value: true } => format!("you are in “{id}”"),
        Input::Segment { id, value: false } => format!("you are not in “{id}”"),
    }
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
}

fn value_words(v: &Json) -> String {
    match v {
        Json::Bool(true) => "yes".to_owned(),
        Json::Bool(false) => "no".to_owned(),
        Json::String(s) => match s.split_once('T') {
            // Times print as dates: the visitor does not need the second.
            Some((date, _)) if crate::time::parse_timestamp(s).is_ok() => date.to_owned(),
            _ => format!("“{s}”"),
        },
        Json::Array(items) if items.is_empty() => "nothing".to_owned(),
        Json::Array(items) => items.iter().map(value_words).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests;
