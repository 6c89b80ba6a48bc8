//! Evaluation of compiled rules against a profile at a given `now`.
//!
//! Semantics (docs/limits.md): a predicate on a missing value is false and `not` is plain negation;
//! windows hold the events with `now - d <= at <= now`; `count` of nothing is 0 while
//! `sum`/`avg`/`min`/`max` of nothing are missing; `last`/`first` consider events up to `now`;
//! `days_since` is fractional days; `lower` maps each character to its Unicode lowercase
//! (`char::to_lowercase`'s mapping, no context rules; see [`crate::rules::lower`]). Events after
//! `now` are invisible.
//!
//! Evaluation allocates nothing: values borrow from the profile and the program.

use crate::prelude::*;

use core::cmp::Ordering;
use core::ops::Range;

use crate::profile::{EventLog, Profile, Value};
use crate::rules::ast::{AggFn, CmpOp, TextOp};
use crate::rules::ir::{ConstSet, Node, NodeId, Program};
use crate::rules::lower::lower;
use crate::schema::EventId;
use crate::time::UnixSecs;

/// A value during evaluation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Val<'a> {
    /// No value (unset attribute, empty aggregate, no such event).
    Missing,
    /// A number.
    Number(f64),
    /// A string.
    Str(&'a str),
    /// A string seen through `lower(...)`.
    Lower(&'a str),
    /// A condition's result or a boolean value.
    Bool(bool),
    /// An instant.
    Time(UnixSecs),
    /// A sorted set of strings.
    Set(&'a [Box<str>]),
}

impl Val<'_> {
    /// True only for `Bool(true)`: a missing value is false.
    pub fn truth(self) -> bool {
        matches!(self, Val::Bool(true))
    }
}

/// What a rule is evaluated against.
#[derive(Debug, Clone, Copy)]
pub struct Env<'a> {
    /// The profile.
    pub profile: &'a Profile,
    /// The instant of evaluation, Unix seconds.
    pub now: UnixSecs,
    /// Results of the campaign's segments evaluated so far (indexed by segment).
    pub segments: &'a [bool],
}

/// The indexes of `log`'s events with `now - secs <= at <= now`.
pub fn window(log: &EventLog, now: UnixSecs, secs: i64) -> Range<usize> {
    let times = log.times();
    let lo = times.partition_point(|&t| t < now.saturating_sub(secs));
    let hi = times.partition_point(|&t| t <= now);
    lo..hi.max(lo)
}

fn attr_val(v: Option<&Value>) -> Val<'_> {
    match v {
        None => Val::Missing,
        Some(Value::Number(n)) => Val::Number(*n),
        Some(Value::String(s)) => Val::Str(s),
        Some(Value::Bool(b)) => Val::Bool(*b),
        Some(Value::Set(s)) => Val::Set(s),
        Some(Value::Time(t)) => Val::Time(*t),
    }
}

fn lower_chars(s: &str) -> impl DoubleEndedIterator<Item = char> + '_ {
    s.chars().flat_map(lower)
}

/// Compares two strings, each possibly seen through `lower`.
fn text_cmp(a: Val<'_>, b: Val<'_>) -> Option<Ordering> {
    Some(match (a, b) {
        (Val::Str(x), Val::Str(y)) => x.cmp(y),
        (Val::Lower(x), Val::Str(y)) => lower_chars(x).cmp(y.chars()),
        (Val::Str(x), Val::Lower(y)) => x.chars().cmp(lower_chars(y)),
        (Val::Lower(x), Val::Lower(y)) => lower_chars(x).cmp(lower_chars(y)),
        _ => return None,
    })
}

fn compare(a: Val<'_>, b: Val<'_>) -> Option<Ordering> {
    match (a, b) {
        (Val::Number(x), Val::Number(y)) => x.partial_cmp(&y),
        (Val::Time(x), Val::Time(y)) => Some(x.cmp(&y)),
        (Val::Bool(x), Val::Bool(y)) => Some(x.cmp(&y)),
        _ => text_cmp(a, b),
    }
}

fn starts_with<I: Iterator<Item = char>>(mut text: I, pattern: &str) -> bool {
    pattern.chars().all(|c| text.next() == Some(c))
}

fn text_op(op: TextOp, v: Val<'_>, pattern: &str) -> bool {
    match (op, v) {
        // On bytes: a match of valid UTF-8 in valid UTF-8 starts and ends on character
        // boundaries, so this is `str::contains` without the string searcher and its slicing
        // panic paths, which the browser's runtime module would otherwise carry.
        (TextOp::Contains, Val::Str(s)) => {
            pattern.is_empty()
                || s.as_bytes().windows(pattern.len()).any(|w| w == pattern.as_bytes())
        }
        (TextOp::StartsWith, Val::Str(s)) => s.as_bytes().starts_with(pattern.as_bytes()),
        (TextOp::EndsWith, Val::Str(s)) => s.as_bytes().ends_with(pattern.as_bytes()),
        (TextOp::StartsWith, Val::Lower(s)) => starts_with(lower_chars(s), pattern),
        (TextOp::EndsWith, Val::Lower(s)) => {
            let mut rev = s.chars().rev().flat_map(|c| lower(c).rev());
            pattern.chars().rev().all(|c| rev.next() == Some(c))
        }
        (TextOp::Contains, Val::Lower(s)) => {
            let n = lower_chars(s).count();
            (0..=n).any(|k| starts_with(lower_chars(s).skip(k), pattern))
        }
        _ => false,
    }
}

fn in_set(set: &ConstSet, v: Val<'_>) -> Option<bool> {
    Some(match (set, v) {
        (ConstSet::Number(xs), Val::Number(n)) => xs.contains(&n),
        (ConstSet::Bool(xs), Val::Bool(b)) => xs.contains(&b),
        (ConstSet::Time(xs), Val::Time(t)) => xs.binary_search(&t).is_ok(),
        (ConstSet::String(xs), Val::Str(s)) => xs.binary_search_by(|x| (**x).cmp(s)).is_ok(),
        (ConstSet::String(xs), Val::Lower(_)) => {
            xs.binary_search_by(|x| text_cmp(Val::Str(x), v).unwrap_or(Ordering::Less)).is_ok()
        }
        _ => return None,
    })
}

fn set_has(set: &[Box<str>], word: &str) -> bool {
    set.binary_search_by(|x| (**x).cmp(word)).is_ok()
}

/// A `where` filter of the commonest shape, a string property tested for (in)equality with a
/// constant (`category == "tents"`, either side), decided on the property's column without
/// walking the filter's tree per event; or an `and` whose first condition has that shape, whose
/// tree is walked only for the events that pass it. Exactly the tree's semantics: a missing value
/// fails.
struct Fast<'a> {
    column: &'a [Option<Value>],
    constant: &'a str,
    /// `!=` rather than `==`.
    ne: bool,
    /// The whole `and`, for the events that pass its first condition.
    rest: Option<NodeId>,
}

impl Fast<'_> {
    /// The filter's shape for `filter`, over the events of `log`.
    fn of<'a>(prog: &'a Program, log: &'a EventLog, filter: NodeId) -> Option<Fast<'a>> {
        let node = |n: NodeId| prog.nodes.get(n as usize);
        let (test, rest) = match node(filter) {
            Some(Node::And(ns)) => (*ns.first()?, Some(filter)),
            _ => (filter, None),
        };
        let Some(Node::Compare { op: op @ (CmpOp::Eq | CmpOp::Ne), l, r }) = node(test) else {
            return None;
        };
        let (prop, constant) = match (node(*l), node(*r)) {
            (Some(Node::Prop(p)), Some(Node::String(s)))
            | (Some(Node::String(s)), Some(Node::Prop(p))) => (*p, s),
            _ => return None,
        };
        Some(Fast { column: log.column(usize::from(prop)), constant, ne: *op == CmpOp::Ne, rest })
    }

    fn holds(&self, i: usize) -> bool {
        // Equality compares lengths first: most events differ there.
        matches!(self.column.get(i), Some(Some(Value::String(x))) if (**x == *self.constant) != self.ne)
    }
}

/// Whether event `i` of `log` passes `filter` (none: every event does).
fn passes<'a>(
    prog: &'a Program,
    env: &Env<'a>,
    fast: Option<&Fast<'a>>,
    filter: Option<NodeId>,
    i: usize,
) -> bool {
    match (fast, filter) {
        (Some(f), _) => f.holds(i) && f.rest.is_none_or(|n| eval(prog, env, n, Some(i)).truth()),
        (None, Some(f)) => eval(prog, env, f, Some(i)).truth(),
        (None, None) => true,
    }
}

/// The number of events of type `et` in the window that pass `filter`, counting no further than
/// `limit`: a comparison with a constant is decided once the count passes it.
fn count<'a>(
    prog: &'a Program,
    env: &Env<'a>,
    et: EventId,
    filter: Option<NodeId>,
    secs: i64,
    limit: usize,
) -> usize {
    let log = env.profile.events(et);
    let range = window(log, env.now, secs);
    let Some(f) = filter else { return range.len().min(limit) };
    let fast = Fast::of(prog, log, f);
    let mut n = 0;
    for i in range {
        if n >= limit {
            break;
        }
        n += usize::from(passes(prog, env, fast.as_ref(), filter, i));
    }
    n
}

/// `count(…) op k` (or `k op count(…)`) with a constant `k`: the count stops at the first value
/// above `k`, where every comparison with `k` is decided (a count above `k` compares with `k` as
/// any larger one does). `None` for any other comparison.
fn compare_count<'a>(
    prog: &'a Program,
    env: &Env<'a>,
    op: CmpOp,
    l: NodeId,
    r: NodeId,
) -> Option<bool> {
    let node = |n: NodeId| prog.nodes.get(n as usize);
    let (ev, filter, secs, k, flipped) = match (node(l), node(r)) {
        (Some(Node::Count { ev, filter, secs, any: false }), Some(Node::Number(k))) => {
            (*ev, *filter, *secs, *k, false)
        }
        (Some(Node::Number(k)), Some(Node::Count { ev, filter, secs, any: false })) => {
            (*ev, *filter, *secs, *k, true)
        }
        _ => return None,
    };
    // The first count above `k` (`as` truncates towards zero: the floor, for k ≥ 0); a NaN `k`
    // counts everything, and then compares as the tree would.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "k is in [0, 2^32) there; event counts are far below that"
    )]
    let limit = if k < 0.0 {
        0
    } else if k < 4_294_967_296.0 {
        k as usize + 1
    } else {
        usize::MAX
    };
    #[allow(clippy::cast_precision_loss, reason = "event counts are far below 2^53")]
    let n = count(prog, env, ev, filter, secs, limit) as f64;
    let ord = n.partial_cmp(&k)?;
    Some(op.holds(if flipped { ord.reverse() } else { ord }))
}

/// Evaluates node `id`; `event` is the index of the event being filtered, inside a `where`.
pub fn eval<'a>(prog: &'a Program, env: &Env<'a>, id: NodeId, event: Option<usize>) -> Val<'a> {
    let Some(node) = prog.nodes.get(id as usize) else { return Val::Missing };
    let ev = |n: NodeId| eval(prog, env, n, event);
    match node {
        Node::Number(n) => Val::Number(*n),
        Node::String(s) => Val::Str(s),
        Node::Bool(b) => Val::Bool(*b),
        Node::Time(t) => Val::Time(*t),
        Node::Attr(a) => attr_val(env.profile.attr(*a)),
        Node::Prop(p) => {
            let (Some(i), Some(Some(et))) = (event, prog.event_ctx.get(id as usize)) else {
                return Val::Missing;
            };
            attr_val(
                env.profile.events(*et).column(usize::from(*p)).get(i).and_then(Option::as_ref),
            )
        }
        Node::Compare { op, l, r } => {
            if let Some(b) = compare_count(prog, env, *op, *l, *r) {
                return Val::Bool(b);
            }
            let (a, b) = (ev(*l), ev(*r));
            Val::Bool(compare(a, b).is_some_and(|o| op.holds(o)))
        }
        Node::In { v, set, negated } => {
            Val::Bool(in_set(set, ev(*v)).is_some_and(|hit| hit != *negated))
        }
        Node::Has { set, item } => Val::Bool(match (ev(*set), ev(*item)) {
            (Val::Set(s), Val::Str(w)) => set_has(s, w),
            (Val::Set(s), w @ Val::Lower(_)) => {
                s.iter().any(|x| text_cmp(Val::Str(x), w) == Some(Ordering::Equal))
            }
            _ => false,
        }),
        Node::HasList { set, words, all } => Val::Bool(match ev(*set) {
            Val::Set(s) if *all => words.iter().all(|w| set_has(s, w)),
            Val::Set(s) => words.iter().any(|w| set_has(s, w)),
            _ => false,
        }),
        Node::Text { op, v, pattern } => Val::Bool(text_op(*op, ev(*v), pattern)),
        Node::Exists(v) => Val::Bool(ev(*v) != Val::Missing),
        Node::Within { v, secs } => Val::Bool(match ev(*v) {
            Val::Time(t) => env.now.saturating_sub(*secs) <= t && t <= env.now,
            _ => false,
        }),
        Node::TimeCmp { v, t, after } => Val::Bool(match ev(*v) {
            Val::Time(x) if *after => x > *t,
            Val::Time(x) => x < *t,
            _ => false,
        }),
        Node::Not(n) => Val::Bool(!ev(*n).truth()),
        Node::And(ns) => Val::Bool(ns.iter().all(|&n| ev(n).truth())),
        Node::Or(ns) => Val::Bool(ns.iter().any(|&n| ev(n).truth())),
        Node::Count { ev: et, filter, secs, any } => {
            if *any {
                Val::Bool(count(prog, env, *et, *filter, *secs, 1) > 0)
            } else {
                let n = count(prog, env, *et, *filter, *secs, usize::MAX);
                #[allow(
                    clippy::cast_precision_loss,
                    reason = "event counts are bounded by profile_events_max, far below 2^53"
                )]
                let n = n as f64;
                Val::Number(n)
            }
        }
        Node::Aggregate { func, ev: et, prop, filter, secs } => {
            let log = env.profile.events(*et);
            let column = log.column(usize::from(*prop));
            let fast = filter.and_then(|f| Fast::of(prog, log, f));
            let mut n = 0u32;
            let mut acc = 0.0f64;
            for i in window(log, env.now, *secs) {
                let Some(Some(Value::Number(x))) = column.get(i) else { continue };
                if !passes(prog, env, fast.as_ref(), *filter, i) {
                    continue;
                }
                acc = match (func, n) {
                    (_, 0) => *x,
                    (AggFn::Sum | AggFn::Avg, _) => acc + x,
                    (AggFn::Min, _) => acc.min(*x),
                    (AggFn::Max, _) => acc.max(*x),
                };
                n += 1;
            }
            match (n, func) {
                (0, _) => Val::Missing,
                (_, AggFn::Avg) => Val::Number(acc / f64::from(n)),
                _ => Val::Number(acc),
            }
        }
        Node::Occurrence { ev: et, filter, last } => {
            let log = env.profile.events(*et);
            let upto = log.times().partition_point(|&t| t <= env.now);
            let fast = filter.and_then(|f| Fast::of(prog, log, f));
            let keep = |i: &usize| passes(prog, env, fast.as_ref(), *filter, *i);
            let hit = if *last { (0..upto).rev().find(keep) } else { (0..upto).find(keep) };
            hit.and_then(|i| log.times().get(i)).map_or(Val::Missing, |&t| Val::Time(t))
        }
        Node::Lower(v) => match ev(*v) {
            Val::Str(s) | Val::Lower(s) => Val::Lower(s),
            _ => Val::Missing,
        },
        Node::DaysSince(v) => match ev(*v) {
            Val::Time(t) => {
                #[allow(
                    clippy::cast_precision_loss,
                    reason = "seconds between years 1 and 9999 are far below 2^53"
                )]
                let secs = (env.now - t) as f64;
                Val::Number(secs / 86_400.0)
            }
            _ => Val::Missing,
        },
        Node::Segment(i) => Val::Bool(env.segments.get(usize::from(*i)).copied().unwrap_or(false)),
    }
}
