//! The evaluator's fast paths against an oracle computed here from the profile document: a
//! `where` filter that tests a string property for (in)equality with a constant is decided on
//! the property's column, and `count(…)` compared with a constant stops once the comparison is
//! decided. Every event type and string property of the outdoor data map, each constant on
//! either side, every operator, counts against constants below, at and above the real count.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails by panicking"
)]

use crate::common;

use dpseg::limits::Limits;
use dpseg::profile::Profile;
use dpseg::rules::Rule;
use dpseg::schema::{AttrType, Schema};

const WINDOWS: [(i64, &str); 3] = [(7, "7d"), (90, "90d"), (365, "365d")];

/// A comparison operator's meaning on numbers.
type Cmp = fn(f64, f64) -> bool;

#[test]
fn string_filters_and_stopped_counts_give_the_trees_answers() {
    let limits = Limits::default();
    let schema = Schema::from_toml(&common::read("examples/outdoor/schema.toml"), &limits).unwrap();
    let ops: [(&str, Cmp); 6] = [
        ("==", |a, b| a == b),
        ("!=", |a, b| a != b),
        ("<", |a, b| a < b),
        ("<=", |a, b| a <= b),
        (">", |a, b| a > b),
        (">=", |a, b| a >= b),
    ];
    let mut checked = 0usize;
    let mut held = 0usize;
    for seed in 0..6 {
        let doc = common::heavy_profile(&schema, 400, seed);
        let profile = Profile::from_json_value(&schema, &doc, common::NOW, &limits).unwrap();
        for def in schema.events() {
            for prop in def.props.iter().filter(|p| p.ty == AttrType::String) {
                // Constants: the values this profile has, and one it has not.
                let mut values: Vec<String> = doc["events"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|e| e["name"] == def.name.as_str())
                    .filter_map(|e| e["props"][prop.name.as_str()].as_str().map(str::to_owned))
                    .collect();
                values.sort();
                values.dedup();
                values.truncate(3);
                values.push("no such value".into());
                for v in &values {
                    for (days, w) in WINDOWS {
                        for (eq, sym) in [(true, "=="), (false, "!=")] {
                            let real = {
                                let p = prop.name.as_str();
                                doc["events"]
                                    .as_array()
                                    .unwrap()
                                    .iter()
                                    .filter(|e| e["name"] == def.name.as_str())
                                    .filter(|e| {
                                        let at =
                                            dpseg::time::parse_timestamp(e["at"].as_str().unwrap())
                                                .unwrap();
                                        (common::NOW - days * 86_400..=common::NOW).contains(&at)
                                    })
                                    .filter(|e| {
                                        e["props"][p].as_str().is_some_and(|x| (x == v) == eq)
                                    })
                                    .count()
                            };
                            #[allow(clippy::cast_precision_loss, reason = "small counts")]
                            let realf = real as f64;
                            for k in [
                                -1.0,
                                0.0,
                                0.5,
                                realf - 1.0,
                                realf,
                                realf + 0.5,
                                realf + 1.0,
                                1_000_000.0,
                            ] {
                                for (op, f) in ops {
                                    for filter in [
                                        format!("{} {sym} \"{v}\"", prop.name),
                                        format!("\"{v}\" {sym} {}", prop.name),
                                    ] {
                                        for text in [
                                            format!(
                                                "count({} where {filter}, {w}) {op} {k}",
                                                def.name
                                            ),
                                            format!(
                                                "{k} {op} count({} where {filter}, {w})",
                                                def.name
                                            ),
                                        ] {
                                            let rule = Rule::from_text(&text, &schema, &limits)
                                                .unwrap_or_else(|e| panic!("{text}: {e}"));
                                            let want = if text.starts_with("count") {
                                                f(realf, k)
                                            } else {
                                                f(k, realf)
                                            };
                                            let got = rule.evaluate(&profile, common::NOW);
                                            assert_eq!(got, want, "{text} (real count {real})");
                                            checked += 1;
                                            held += usize::from(got);
                                        }
                                    }
                                }
                            }
                            let any =
                                format!("any({} where {} {sym} \"{v}\", {w})", def.name, prop.name);
                            let rule = Rule::from_text(&any, &schema, &limits).unwrap();
                            assert_eq!(rule.evaluate(&profile, common::NOW), real > 0, "{any}");
                        }
                    }
                }
            }
        }
    }
    assert!(
        checked > 10_000 && held * 10 > checked && held * 10 < checked * 9,
        "{held} of {checked}"
    );
}

#[test]
fn an_and_filter_led_by_a_string_test_gives_the_trees_answer() {
    let limits = Limits::default();
    let schema = Schema::from_toml(&common::read("examples/outdoor/schema.toml"), &limits).unwrap();
    let mut checked = 0usize;
    for seed in 0..6 {
        let doc = common::heavy_profile(&schema, 400, seed);
        let profile = Profile::from_json_value(&schema, &doc, common::NOW, &limits).unwrap();
        for def in schema.events() {
            let strings = def.props.iter().filter(|p| p.ty == AttrType::String);
            let Some(num) = def.props.iter().find(|p| p.ty == AttrType::Number) else { continue };
            for s in strings {
                for v in ["tents", "Summit", "t3", "no such value"] {
                    for (limit, sym) in [(100, ">"), (250, "<=")] {
                        let real = doc["events"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .filter(|e| e["name"] == def.name.as_str())
                            .filter(|e| {
                                let at = dpseg::time::parse_timestamp(e["at"].as_str().unwrap())
                                    .unwrap();
                                (common::NOW - 180 * 86_400..=common::NOW).contains(&at)
                            })
                            .filter(|e| e["props"][s.name.as_str()].as_str() == Some(v))
                            .filter(|e| {
                                let x = e["props"][num.name.as_str()].as_f64().unwrap();
                                if sym == ">" {
                                    x > f64::from(limit)
                                } else {
                                    x <= f64::from(limit)
                                }
                            })
                            .count();
                        for k in [0, 1, 2, real, real + 1] {
                            let text = format!(
                                "count({} where {} == \"{v}\" and {} {sym} {limit}, 180d) >= {k}",
                                def.name, s.name, num.name
                            );
                            let rule = Rule::from_text(&text, &schema, &limits)
                                .unwrap_or_else(|e| panic!("{text}: {e}"));
                            assert_eq!(rule.evaluate(&profile, common::NOW), real >= k, "{text}");
                            checked += 1;
                        }
                    }
                }
            }
        }
    }
    assert!(checked > 500, "{checked}");
}
