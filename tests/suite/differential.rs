//! Differential test: the compiled evaluator against a deliberately simple interpreter.
//!
//! Random well-typed rules and random profiles are evaluated twice: by `dpseg` (AST → IR →
//! evaluator, over the columnar `Profile`) and by `reference` below, which walks the syntax tree
//! over the raw profile JSON and implements docs/rules.md as literally as possible (it allocates,
//! lowercases whole strings, scans every event). Any disagreement is a bug in one of them.

#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "profile counts and times of the reference interpreter, far below 2^53"
)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails by panicking"
)]

use dpseg::limits::Limits;
use dpseg::profile::Profile;
use dpseg::rules::ast::{AggFn, CmpOp, Expr, ExprKind, Literal, Name, TextOp, Timestamp};
use dpseg::rules::Rule;
use dpseg::schema::Schema;
use dpseg::time::{parse_timestamp, Duration, DurationUnit};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value as Json};

const SCHEMA: &str = r#"
[attributes.n1]
type = "number"
[attributes.n2]
type = "number"
[attributes.s1]
type = "string"
[attributes.s2]
type = "string"
values = ["x", "y", "z"]
[attributes.b1]
type = "bool"
[attributes.set1]
type = "set"
values = ["a", "b", "c", "d"]
[attributes.set2]
type = "set"
[attributes.t1]
type = "time"
[attributes.t2]
type = "time"
[events.e1]
props = { v = "number", k = "string", f = "bool", w = "time" }
[events.e2]
props = { v = "number" }
"#;

const NOW: i64 = 1_795_000_000;
const DAY: i64 = 86_400;
const NUMBERS: &[f64] = &[-2.0, -1.0, 0.0, 0.5, 1.0, 2.0, 3.0, 10.0];
const STRINGS: &[&str] = &["a", "B", "ab", "Ab", "x", "", "Äb", "İx", "ΣΑΣ", "σας", "i̇x"];
const VOCAB_S2: &[&str] = &["x", "y", "z"];
const VOCAB_SET1: &[&str] = &["a", "b", "c", "d"];
const FREE_WORDS: &[&str] = &["a", "A", "b", "Äb", "äb", "q"];

// ---------------------------------------------------------------------------------------------
// The reference interpreter.

#[derive(Debug, Clone, PartialEq)]
enum V {
    Missing,
    Num(f64),
    Str(String),
    Bool(bool),
    Set(Vec<String>),
    Time(i64),
}

fn truth(v: &V) -> bool {
    *v == V::Bool(true)
}

struct Event {
    name: String,
    at: i64,
    props: serde_json::Map<String, Json>,
}

struct RefProfile {
    attrs: serde_json::Map<String, Json>,
    /// Sorted by time, ties in input order.
    events: Vec<Event>,
    types: std::collections::HashMap<String, String>,
}

fn to_v(ty: &str, j: Option<&Json>) -> V {
    match (ty, j) {
        (_, None | Some(Json::Null)) => V::Missing,
        ("number", Some(j)) => j.as_f64().map_or(V::Missing, V::Num),
        ("string", Some(Json::String(s))) => V::Str(s.clone()),
        ("bool", Some(Json::Bool(b))) => V::Bool(*b),
        ("time", Some(Json::String(s))) => parse_timestamp(s).map_or(V::Missing, V::Time),
        ("set", Some(Json::Array(a))) => {
            V::Set(a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
        }
        _ => V::Missing,
    }
}

fn lower(s: &str) -> String {
    s.chars().flat_map(char::to_lowercase).collect()
}

fn lit(l: &Literal) -> V {
    match l {
        Literal::Number(n) => V::Num(*n),
        Literal::String(s) => V::Str(s.clone()),
        Literal::Bool(b) => V::Bool(*b),
        Literal::Time(t) => V::Time(t.0),
    }
}

fn cmp(a: &V, b: &V) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (V::Num(x), V::Num(y)) => x.partial_cmp(y),
        (V::Str(x), V::Str(y)) => Some(x.cmp(y)),
        (V::Bool(x), V::Bool(y)) => Some(x.cmp(y)),
        (V::Time(x), V::Time(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn reference(e: &Expr, p: &RefProfile, now: i64, event: Option<&Event>) -> V {
    let ev = |x: &Expr| reference(x, p, now, event);
    let matching = |name: &Name,
                    filter: &Option<Box<Expr>>,
                    window: Option<&Duration>|
     -> Vec<&Event> {
        p.events
            .iter()
            .filter(|x| {
                x.name == name.text && x.at <= now && window.is_none_or(|d| x.at >= now - d.secs())
            })
            .filter(|x| filter.as_ref().is_none_or(|f| truth(&reference(f, p, now, Some(x)))))
            .collect()
    };
    match &e.kind {
        ExprKind::Number(n) => V::Num(*n),
        ExprKind::String(s) => V::Str(s.clone()),
        ExprKind::Bool(b) => V::Bool(*b),
        ExprKind::Time(t) => V::Time(t.0),
        ExprKind::Duration(_) | ExprKind::List(_) | ExprKind::Segment(_) => V::Missing,
        ExprKind::Path(parts) => {
            if let Some(x) = event {
                let prop = parts.last().map(String::as_str).unwrap_or("");
                let key = format!("{}.{prop}", x.name);
                if let Some(ty) = p.types.get(&key) {
                    return to_v(ty, x.props.get(prop));
                }
            }
            let name = &parts[0];
            p.types.get(name).map_or(V::Missing, |ty| to_v(ty, p.attrs.get(name)))
        }
        ExprKind::Count { event: n, filter, window } => {
            V::Num(matching(n, filter, Some(window)).len() as f64)
        }
        ExprKind::Any { event: n, filter, window } => {
            V::Bool(!matching(n, filter, Some(window)).is_empty())
        }
        ExprKind::Aggregate { func, event: n, prop, filter, window } => {
            let xs: Vec<f64> = matching(n, filter, Some(window))
                .iter()
                .filter_map(|x| x.props.get(&prop.text).and_then(Json::as_f64))
                .collect();
            if xs.is_empty() {
                return V::Missing;
            }
            V::Num(match func {
                AggFn::Sum => xs.iter().sum(),
                AggFn::Avg => xs.iter().sum::<f64>() / xs.len() as f64,
                AggFn::Min => xs.iter().copied().fold(f64::INFINITY, f64::min),
                AggFn::Max => xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            })
        }
        ExprKind::Last { event: n, filter } => {
            matching(n, filter, None).last().map_or(V::Missing, |x| V::Time(x.at))
        }
        ExprKind::First { event: n, filter } => {
            matching(n, filter, None).first().map_or(V::Missing, |x| V::Time(x.at))
        }
        ExprKind::Lower(x) => match ev(x) {
            V::Str(s) => V::Str(lower(&s)),
            _ => V::Missing,
        },
        ExprKind::DaysSince(x) => match ev(x) {
            V::Time(t) => V::Num((now - t) as f64 / 86_400.0),
            _ => V::Missing,
        },
        ExprKind::Compare { op, left, right } => {
            V::Bool(cmp(&ev(left), &ev(right)).is_some_and(|o| op.holds(o)))
        }
        ExprKind::In { value, list } => {
            let v = ev(value);
            V::Bool(
                v != V::Missing
                    && list.iter().any(|l| cmp(&v, &lit(l)) == Some(std::cmp::Ordering::Equal)),
            )
        }
        ExprKind::NotIn { value, list } => {
            let v = ev(value);
            V::Bool(
                v != V::Missing
                    && !list.iter().any(|l| cmp(&v, &lit(l)) == Some(std::cmp::Ordering::Equal)),
            )
        }
        ExprKind::Has { value, item } => match (ev(value), ev(item)) {
            (V::Set(s), V::Str(w)) => V::Bool(s.contains(&w)),
            _ => V::Bool(false),
        },
        ExprKind::HasAny { value, list } | ExprKind::HasAll { value, list } => match ev(value) {
            V::Set(s) => {
                let has = |l: &Literal| matches!(l, Literal::String(w) if s.contains(w));
                V::Bool(if matches!(e.kind, ExprKind::HasAll { .. }) {
                    list.iter().all(has)
                } else {
                    list.iter().any(has)
                })
            }
            _ => V::Bool(false),
        },
        ExprKind::Text { op, value, pattern } => match ev(value) {
            V::Str(s) => V::Bool(match op {
                TextOp::Contains => s.contains(pattern.as_str()),
                TextOp::StartsWith => s.starts_with(pattern.as_str()),
                TextOp::EndsWith => s.ends_with(pattern.as_str()),
            }),
            _ => V::Bool(false),
        },
        ExprKind::Exists(x) => V::Bool(ev(x) != V::Missing),
        ExprKind::Within { value, duration } => match ev(value) {
            V::Time(t) => V::Bool(now - duration.secs() <= t && t <= now),
            _ => V::Bool(false),
        },
        ExprKind::Before { value, time } => V::Bool(matches!(ev(value), V::Time(t) if t < time.0)),
        ExprKind::After { value, time } => V::Bool(matches!(ev(value), V::Time(t) if t > time.0)),
        ExprKind::Not(x) => V::Bool(!truth(&ev(x))),
        ExprKind::And(xs) => V::Bool(xs.iter().all(|x| truth(&ev(x)))),
        ExprKind::Or(xs) => V::Bool(xs.iter().any(|x| truth(&ev(x)))),
    }
}

// ---------------------------------------------------------------------------------------------
// Random well-typed rules.

#[derive(Clone, Copy, PartialEq)]
enum Ty {
    Num,
    Str,
    Bool,
    Set,
    Time,
}

struct Gen {
    rng: ChaCha8Rng,
    /// Inside a `where` of e1 or e2.
    event: Option<&'static str>,
}

fn e(kind: ExprKind) -> Expr {
    Expr::new(kind)
}
fn bx(x: Expr) -> Box<Expr> {
    Box::new(x)
}
fn path(p: &str) -> Expr {
    e(ExprKind::Path(vec![p.to_owned()]))
}

impl Gen {
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        *xs.choose(&mut self.rng).unwrap_or(&xs[0])
    }

    fn duration(&mut self) -> Duration {
        let unit = self.pick(&[
            DurationUnit::Minutes,
            DurationUnit::Hours,
            DurationUnit::Days,
            DurationUnit::Weeks,
        ]);
        let max = match unit {
            DurationUnit::Minutes => 90_000,
            DurationUnit::Hours => 1_500,
            DurationUnit::Days => 70,
            DurationUnit::Weeks => 10,
        };
        let n = self.rng.gen_range(1..=max);
        Duration::new(n, unit)
            .unwrap_or(Duration::new(1, DurationUnit::Days).unwrap_or_else(|_| unreachable!()))
    }

    fn time_const(&mut self) -> i64 {
        NOW + self.rng.gen_range(-40..3) * DAY + self.pick(&[0, 3_600, 43_200])
    }

    fn filter(&mut self, ev: &'static str, depth: u32) -> Option<Box<Expr>> {
        if self.event.is_some() || !self.rng.gen_bool(0.5) {
            return None;
        }
        self.event = Some(ev);
        let f = self.expr(Ty::Bool, depth);
        self.event = None;
        Some(bx(f))
    }

    fn event(&mut self) -> &'static str {
        self.pick(&["e1", "e2"])
    }

    fn expr(&mut self, ty: Ty, depth: u32) -> Expr {
        let leaf = depth == 0 || self.rng.gen_bool(0.3);
        match ty {
            Ty::Num => {
                let choice = if leaf { self.rng.gen_range(0..3) } else { self.rng.gen_range(0..6) };
                match choice {
                    0 => e(ExprKind::Number(self.pick(NUMBERS))),
                    1 if self.event.is_some() => e(ExprKind::Path(vec!["v".into()])),
                    1 | 2 => path(self.pick(&["n1", "n2"])),
                    3 if self.event.is_none() => {
                        let ev = self.event();
                        let window = self.duration();
                        e(ExprKind::Count {
                            event: Name::new(ev),
                            filter: self.filter(ev, depth - 1),
                            window,
                        })
                    }
                    4 if self.event.is_none() => {
                        let ev = self.event();
                        let func = self.pick(&[AggFn::Sum, AggFn::Avg, AggFn::Min, AggFn::Max]);
                        let window = self.duration();
                        let filter = self.filter(ev, depth - 1);
                        e(ExprKind::Aggregate {
                            func,
                            event: Name::new(ev),
                            prop: Name::new("v"),
                            filter,
                            window,
                        })
                    }
                    _ => e(ExprKind::DaysSince(bx(self.expr(Ty::Time, depth - 1)))),
                }
            }
            Ty::Str => match if leaf { self.rng.gen_range(0..3) } else { self.rng.gen_range(0..4) }
            {
                0 => e(ExprKind::String(self.pick(STRINGS).to_owned())),
                1 if self.event == Some("e1") => path("k"),
                1 | 2 => path("s1"),
                _ => e(ExprKind::Lower(bx(self.expr(Ty::Str, depth - 1)))),
            },
            Ty::Time => {
                match if leaf { self.rng.gen_range(0..2) } else { self.rng.gen_range(0..3) } {
                    0 => e(ExprKind::Time(Timestamp(self.time_const()))),
                    1 if self.event == Some("e1") && self.rng.gen_bool(0.5) => path("w"),
                    1 => path(self.pick(&["t1", "t2"])),
                    _ if self.event.is_none() => {
                        let ev = self.event();
                        let filter = self.filter(ev, depth - 1);
                        if self.rng.gen_bool(0.5) {
                            e(ExprKind::Last { event: Name::new(ev), filter })
                        } else {
                            e(ExprKind::First { event: Name::new(ev), filter })
                        }
                    }
                    _ => path("t1"),
                }
            }
            Ty::Set => path(self.pick(&["set1", "set2"])),
            Ty::Bool => self.condition(depth, leaf),
        }
    }

    fn condition(&mut self, depth: u32, leaf: bool) -> Expr {
        if leaf {
            return match self.rng.gen_range(0..3) {
                0 => e(ExprKind::Bool(self.rng.gen_bool(0.5))),
                1 if self.event == Some("e1") => path("f"),
                _ => path("b1"),
            };
        }
        let d = depth - 1;
        match self.rng.gen_range(0..17) {
            0 => {
                let ty = self.pick(&[Ty::Num, Ty::Num, Ty::Time, Ty::Str, Ty::Bool]);
                let ops: &[CmpOp] = if matches!(ty, Ty::Num | Ty::Time) {
                    &[CmpOp::Eq, CmpOp::Ne, CmpOp::Lt, CmpOp::Le, CmpOp::Gt, CmpOp::Ge]
                } else {
                    &[CmpOp::Eq, CmpOp::Ne]
                };
                let op = self.pick(ops);
                let (l, r) = (self.expr(ty, d), self.expr(ty, d));
                e(ExprKind::Compare { op, left: bx(l), right: bx(r) })
            }
            1 => {
                let v = if self.rng.gen_bool(0.5) { path("s2") } else { self.expr(Ty::Str, d) };
                let words: &[&str] = if v == path("s2") { VOCAB_S2 } else { STRINGS };
                let list = (0..self.rng.gen_range(0..4))
                    .map(|_| Literal::String(self.pick(words).to_owned()))
                    .collect();
                if self.rng.gen_bool(0.5) {
                    e(ExprKind::In { value: bx(v), list })
                } else {
                    e(ExprKind::NotIn { value: bx(v), list })
                }
            }
            2 => {
                let v = self.expr(Ty::Num, d);
                let list = (0..self.rng.gen_range(0..4))
                    .map(|_| Literal::Number(self.pick(NUMBERS)))
                    .collect();
                e(ExprKind::In { value: bx(v), list })
            }
            3 => {
                let set = self.pick(&["set1", "set2"]);
                let words = if set == "set1" { VOCAB_SET1 } else { FREE_WORDS };
                let item = if set == "set2" && self.rng.gen_bool(0.3) {
                    e(ExprKind::Lower(bx(e(ExprKind::String(self.pick(FREE_WORDS).to_owned())))))
                } else {
                    e(ExprKind::String(self.pick(words).to_owned()))
                };
                e(ExprKind::Has { value: bx(path(set)), item: bx(item) })
            }
            4 => {
                let set = self.pick(&["set1", "set2"]);
                let words = if set == "set1" { VOCAB_SET1 } else { FREE_WORDS };
                let list = (0..self.rng.gen_range(0..4))
                    .map(|_| Literal::String(self.pick(words).to_owned()))
                    .collect();
                if self.rng.gen_bool(0.5) {
                    e(ExprKind::HasAny { value: bx(path(set)), list })
                } else {
                    e(ExprKind::HasAll { value: bx(path(set)), list })
                }
            }
            5 => {
                let op = self.pick(&[TextOp::Contains, TextOp::StartsWith, TextOp::EndsWith]);
                let pattern =
                    self.pick(&["", "a", "b", "ab", "x", "i̇", "ς", "σ", "äb", "Ä"]).to_owned();
                e(ExprKind::Text { op, value: bx(self.expr(Ty::Str, d)), pattern })
            }
            6 => {
                let ty = self.pick(&[Ty::Num, Ty::Str, Ty::Time, Ty::Set]);
                e(ExprKind::Exists(bx(self.expr(ty, d))))
            }
            7 => {
                e(ExprKind::Within { value: bx(self.expr(Ty::Time, d)), duration: self.duration() })
            }
            8 => e(ExprKind::Before {
                value: bx(self.expr(Ty::Time, d)),
                time: Timestamp(self.time_const()),
            }),
            9 => e(ExprKind::After {
                value: bx(self.expr(Ty::Time, d)),
                time: Timestamp(self.time_const()),
            }),
            10 => e(ExprKind::Not(bx(self.expr(Ty::Bool, d)))),
            11 | 12 => {
                let n = self.rng.gen_range(2..4);
                let xs = (0..n).map(|_| self.expr(Ty::Bool, d)).collect();
                if self.rng.gen_bool(0.5) {
                    e(ExprKind::And(xs))
                } else {
                    e(ExprKind::Or(xs))
                }
            }
            13 if self.event.is_none() => {
                let ev = self.event();
                let window = self.duration();
                e(ExprKind::Any { event: Name::new(ev), filter: self.filter(ev, d), window })
            }
            14 => {
                let v = self.expr(Ty::Time, d);
                let list = (0..self.rng.gen_range(0..3))
                    .map(|_| Literal::Time(Timestamp(self.time_const())))
                    .collect();
                e(ExprKind::In { value: bx(v), list })
            }
            _ => self.condition(0, true),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Random profiles.

fn random_profile(rng: &mut ChaCha8Rng) -> Json {
    let mut attrs = serde_json::Map::new();
    let time = |rng: &mut ChaCha8Rng| {
        dpseg::time::format_timestamp(NOW + rng.gen_range(-45 * DAY..2 * DAY) / 3_600 * 3_600)
    };
    let mut maybe = |rng: &mut ChaCha8Rng, k: &str, v: Json| {
        if rng.gen_bool(0.75) {
            attrs.insert(k.into(), v);
        }
    };
    let n = json!(NUMBERS[rng.gen_range(0..NUMBERS.len())]);
    maybe(rng, "n1", n);
    let n = json!(NUMBERS[rng.gen_range(0..NUMBERS.len())]);
    maybe(rng, "n2", n);
    let s = json!(STRINGS[rng.gen_range(0..STRINGS.len())]);
    maybe(rng, "s1", s);
    let s = json!(VOCAB_S2[rng.gen_range(0..3)]);
    maybe(rng, "s2", s);
    let b = json!(rng.gen_bool(0.5));
    maybe(rng, "b1", b);
    let set: Vec<&str> = VOCAB_SET1.iter().copied().filter(|_| rng.gen_bool(0.5)).collect();
    maybe(rng, "set1", json!(set));
    let set: Vec<&str> = FREE_WORDS.iter().copied().filter(|_| rng.gen_bool(0.4)).collect();
    maybe(rng, "set2", json!(set));
    let t = time(rng);
    maybe(rng, "t1", json!(t));
    let t = json!(time(rng));
    maybe(rng, "t2", t);
    let mut events = Vec::new();
    for _ in 0..rng.gen_range(0..40) {
        let at = time(rng);
        if rng.gen_bool(0.6) {
            let mut props = serde_json::Map::new();
            if rng.gen_bool(0.8) {
                props.insert("v".into(), json!(NUMBERS[rng.gen_range(0..NUMBERS.len())]));
            }
            if rng.gen_bool(0.8) {
                props.insert("k".into(), json!(STRINGS[rng.gen_range(0..STRINGS.len())]));
            }
            if rng.gen_bool(0.7) {
                props.insert("f".into(), json!(rng.gen_bool(0.5)));
            }
            if rng.gen_bool(0.5) {
                props.insert("w".into(), json!(time(rng)));
            }
            events.push(json!({"name": "e1", "at": at, "props": props}));
        } else {
            let props = if rng.gen_bool(0.8) {
                json!({"v": NUMBERS[rng.gen_range(0..NUMBERS.len())]})
            } else {
                json!({})
            };
            events.push(json!({"name": "e2", "at": at, "props": props}));
        }
    }
    json!({"attributes": attrs, "events": events})
}

fn ref_profile(doc: &Json) -> RefProfile {
    let types: std::collections::HashMap<String, String> = [
        ("n1", "number"),
        ("n2", "number"),
        ("s1", "string"),
        ("s2", "string"),
        ("b1", "bool"),
        ("set1", "set"),
        ("set2", "set"),
        ("t1", "time"),
        ("t2", "time"),
        ("e1.v", "number"),
        ("e1.k", "string"),
        ("e1.f", "bool"),
        ("e1.w", "time"),
        ("e2.v", "number"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let mut events: Vec<Event> = doc["events"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| Event {
                    name: x["name"].as_str().unwrap_or("").to_owned(),
                    at: x["at"].as_str().and_then(|s| parse_timestamp(s).ok()).unwrap_or(0),
                    props: x["props"].as_object().cloned().unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();
    events.sort_by_key(|x| x.at);
    RefProfile { attrs: doc["attributes"].as_object().cloned().unwrap_or_default(), events, types }
}

#[test]
fn compiled_evaluator_agrees_with_the_reference_interpreter() {
    let limits = Limits { rule_nodes_max: 10_000, rule_depth_max: 64, ..Limits::default() };
    let schema = Schema::from_toml(SCHEMA, &limits).unwrap_or_else(|e| panic!("{e}"));
    let mut rng = ChaCha8Rng::seed_from_u64(0x5eed);
    let profiles: Vec<(Profile, RefProfile, Json)> = (0..40)
        .map(|_| {
            let doc = random_profile(&mut rng);
            let p = Profile::from_json_value(&schema, &doc, NOW, &limits)
                .unwrap_or_else(|e| panic!("{e}: {doc}"));
            (p, ref_profile(&doc), doc)
        })
        .collect();
    let mut gen = Gen { rng: ChaCha8Rng::seed_from_u64(0xd1ff), event: None };
    let (mut checked, mut held) = (0usize, 0usize);
    for _ in 0..4_000 {
        let depth = gen.rng.gen_range(1..5);
        let ast = gen.expr(Ty::Bool, depth);
        let rule = Rule::from_ast(&ast, &schema, &limits)
            .unwrap_or_else(|e| panic!("generated rule refused: {e}: {ast}"));
        for (profile, reference_profile, doc) in profiles.iter().take(12) {
            let now = NOW + gen.rng.gen_range(-2..2) * 43_200;
            let got = rule.evaluate(profile, now);
            let want = truth(&reference(&ast, reference_profile, now, None));
            assert_eq!(got, want, "rule {ast}\nprofile {doc}\nnow {now}");
            checked += 1;
            held += usize::from(got);
        }
    }
    eprintln!("differential: {checked} evaluations, {held} held");
    // Guard against a generator that only produces trivially false (or true) rules.
    assert!(held * 10 > checked && held * 10 < checked * 9, "{held} of {checked} held");
}
