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

/// A segment's explanation in words.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Words {
    /// One sentence: "You are in “hikers” because:".
    pub summary: String,
    /// Whether the visitor is in the segment.
    pub holds: bool,
    /// Why; nested for `and`, `or` and `not`.
    pub reasons: Vec<Reason>,
}

/// One reason: a sentence, whether the condition held, and the reasons under it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reason {
    /// The sentence.
    pub text: String,
    /// Whether the condition held.
    pub holds: bool,
    /// Sub-reasons.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub because: Vec<Reason>,
}

/// Explains segment `id` (with an optional description) from its explanation tree.
pub fn in_words(id: &str, description: Option<&str>, ex: &Explanation) -> Words {
    let holds = ex.value == Json::Bool(true);
    let name = match description {
        Some(d) if !d.is_empty() => format!("“{id}” ({d})"),
        _ => format!("“{id}”"),
    };
    let summary = if holds {
        format!("You are in {name} because:")
    } else {
        format!("You are not in {name} because:")
    };
    let top = reason(ex);
    // A top-level `and`/`or` reads better as the list itself.
    let reasons = if matches!(ex.shape, Shape::All | Shape::Any) {
        vec![Reason { text: top.text, holds: top.holds, because: top.because }]
    } else {
        vec![top]
    };
    Words { summary, holds, reasons }
}

fn reason(ex: &Explanation) -> Reason {
    let holds = ex.value == Json::Bool(true);
    match ex.shape {
        Shape::All => Reason {
            text: if holds { "all of these are true:" } else { "not all of these are true:" }
                .to_owned(),
            holds,
            because: ex.children.iter().map(reason).collect(),
        },
        Shape::Any => Reason {
            text: if holds { "at least one of these is true:" } else { "none of these is true:" }
                .to_owned(),
            holds,
            because: ex.children.iter().map(reason).collect(),
        },
        Shape::Not => Reason {
            text: if holds {
                "this must not be the case, and it is not:"
            } else {
                "this must not be the case, but it is:"
            }
            .to_owned(),
            holds,
            because: ex.children.iter().map(reason).collect(),
        },
        Shape::Leaf => {
            let mut facts = Vec::new();
            collect_facts(ex, &mut facts);
            let verdict = if holds { "holds" } else { "does not hold" };
            let text = if facts.is_empty() {
                format!("“{}” {verdict}", ex.text)
            } else {
                format!("{}, so “{}” {verdict}", capitalised(&facts.join("; ")), ex.text)
            };
            Reason { text, holds, because: Vec::new() }
        }
    }
}

fn collect_facts(ex: &Explanation, out: &mut Vec<String>) {
    for input in &ex.inputs {
        let fact = fact(input);
        if !out.contains(&fact) {
            out.push(fact);
        }
    }
    for c in &ex.children {
        collect_facts(c, out);
    }
}

fn fact(input: &Input) -> String {
    match input {
        Input::Attribute { name, value: Json::Null } => {
            format!("we have no {} for you", human(name))
        }
        Input::Attribute { name, value: Json::Array(items) } => {
            let items: Vec<String> = items
                .iter()
                .map(|i| i.as_str().map_or_else(|| value_words(i), str::to_owned))
                .collect();
            if items.is_empty() {
                format!("your {} are empty", human(name))
            } else {
                format!("your {} are {}", human(name), items.join(", "))
            }
        }
        Input::Attribute { name, value } => {
            format!("your {} is {}", human(name), value_words(value))
        }
        Input::Events { event, window_secs, considered, matched } => {
            let when = window_secs.map_or_else(
                || "so far".to_owned(),
                |s| format!("in the last {}", duration_words(s)),
            );
            let plural = if *considered == 1 { "" } else { "s" };
            if considered == matched {
                format!("you have {considered} “{}” event{plural} {when}", human(event))
            } else {
                format!(
                    "{matched} of your {considered} “{}” event{plural} {when} match",
                    human(event)
                )
            }
        }
        Input::Segment { id, value: true } => format!("you are in “{id}”"),
        Input::Segment { id, value: false } => format!("you are not in “{id}”"),
    }
}

fn human(name: &str) -> String {
    name.replace('_', " ")
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

fn duration_words(secs: i64) -> String {
    let (n, unit) = if secs % 604_800 == 0 {
        (secs / 604_800, "week")
    } else if secs % 86_400 == 0 {
        (secs / 86_400, "day")
    } else if secs % 3_600 == 0 {
        (secs / 3_600, "hour")
    } else {
        (secs.div_euclid(60).max(1), "minute")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::Limits;
    use crate::profile::Profile;
    use crate::rules::Rule;
    use crate::schema::Schema;

    const SCHEMA: &str = r#"{"attributes": {"budget": {"type": "number", "purposes": ["m"]},
        "interests": {"type": "set", "purposes": ["m"]}},
        "events": {"purchase": {"props": {"category": "string"}, "purposes": ["m"]}}}"#;

    fn words(rule: &str, profile: &str) -> Words {
        let limits = Limits::default();
        let schema = Schema::from_json(SCHEMA, &limits).unwrap();
        let now = crate::time::parse_timestamp("2026-11-24T00:00:00Z").unwrap();
        let profile = Profile::from_json(&schema, profile, now, &limits).unwrap();
        let rule = Rule::from_text(rule, &schema, &limits).unwrap();
        in_words("hikers", Some("Hikers"), &rule.explain(&schema, &profile, now))
    }

    #[test]
    fn names_the_visitors_own_data_and_the_verdict() {
        let w = words(
            r#"interests has "hiking" and budget >= 100"#,
            r#"{"attributes": {"budget": 150, "interests": ["hiking", "camping"]}}"#,
        );
        assert!(w.holds);
        assert_eq!(w.summary, "You are in “hikers” (Hikers) because:");
        let r = &w.reasons[0];
        assert_eq!(r.text, "all of these are true:");
        assert_eq!(
            r.because[0].text,
            "Your interests are camping, hiking, so “interests has \"hiking\"” holds"
        );
        assert_eq!(r.because[1].text, "Your budget is 150, so “budget >= 100” holds");
    }

    #[test]
    fn says_which_part_failed_and_what_is_missing() {
        let w = words(
            r#"budget >= 100 or not any(purchase where category == "tents", 90d)"#,
            r#"{"events": [
            {"name": "purchase", "at": "2026-11-20T00:00:00Z", "props": {"category": "tents"}},
            {"name": "purchase", "at": "2026-11-21T00:00:00Z", "props": {"category": "boots"}}]}"#,
        );
        assert!(!w.holds);
        assert_eq!(w.summary, "You are not in “hikers” (Hikers) because:");
        let r = &w.reasons[0];
        assert_eq!(r.text, "none of these is true:");
        assert_eq!(
            r.because[0].text,
            "We have no budget for you, so “budget >= 100” does not hold"
        );
        assert_eq!(r.because[1].text, "this must not be the case, but it is:");
        assert_eq!(
            r.because[1].because[0].text,
            "1 of your 2 “purchase” events in the last 90 days match, so “any(purchase where category == \"tents\", 90d)” holds"
        );
    }
}
