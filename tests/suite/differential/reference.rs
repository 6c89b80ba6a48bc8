//! The reference interpreter: docs/rules.md as literally as possible, over the raw profile
//! JSON (it allocates, lowercases whole strings, scans every event).

use super::*;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum V {
    Missing,
    Num(f64),
    Str(String),
    Bool(bool),
    Set(Vec<String>),
    Time(i64),
}

pub(super) fn truth(v: &V) -> bool {
    *v == V::Bool(true)
}

pub(super) struct Event {
    name: String,
    at: i64,
    props: serde_json::Map<String, Json>,
}

pub(super) struct RefProfile {
    attrs: serde_json::Map<String, Json>,
    /// Sorted by time, ties in input order.
    events: Vec<Event>,
    types: std::collections::HashMap<String, String>,
}

pub(super) fn to_v(ty: &str, j: Option<&Json>) -> V {
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

pub(super) fn lower(s: &str) -> String {
    s.chars().flat_map(char::to_lowercase).collect()
}

pub(super) fn lit(l: &Literal) -> V {
    match l {
        Literal::Number(n) => V::Num(*n),
        Literal::String(s) => V::Str(s.clone()),
        Literal::Bool(b) => V::Bool(*b),
        Literal::Time(t) => V::Time(t.0),
    }
}

pub(super) fn cmp(a: &V, b: &V) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (V::Num(x), V::Num(y)) => x.partial_cmp(y),
        (V::Str(x), V::Str(y)) => Some(x.cmp(y)),
        (V::Bool(x), V::Bool(y)) => Some(x.cmp(y)),
        (V::Time(x), V::Time(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

pub(super) fn reference(e: &Expr, p: &RefProfile, now: i64, event: Option<&Event>) -> V {
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

pub(super) fn ref_profile(doc: &Json) -> RefProfile {
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
