//! Round trips of the rule syntax tree: text and JSON are lossless spellings of one tree.
//!
//! For random trees (any shape the JSON form accepts, well-typed or not), printing and parsing
//! back gives the same tree, and so does JSON serialisation.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails by panicking"
)]

use dpseg::limits::Limits;
use dpseg::rules::ast::{AggFn, CmpOp, Expr, ExprKind, Literal, Name, TextOp, Timestamp};
use dpseg::rules::lex::is_reserved;
use dpseg::rules::parse;
use dpseg::time::{Duration, DurationUnit};
use proptest::prelude::*;

fn ident() -> impl Strategy<Value = String> {
    "[a-z_][a-z0-9_]{0,7}".prop_filter("reserved", |s| !is_reserved(s))
}

fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        (-1000i32..1000).prop_map(f64::from),
        (-1e6f64..1e6),
        Just(0.1),
        Just(-0.0),
        Just(1e21),
        Just(123_456_789.123_456_79),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 ]{0,8}",
        any::<String>().prop_map(|s| s.chars().take(12).collect()),
        Just("quote \" backslash \\ newline \n tab \t cr \r".to_owned()),
        Just("\u{1}\u{7f}é✓".to_owned()),
    ]
}

fn time() -> impl Strategy<Value = Timestamp> {
    prop_oneof![
        (0i64..3_000_000_000).prop_map(Timestamp),
        (0i64..30_000).prop_map(|d| Timestamp(d * 86_400))
    ]
}

fn duration() -> impl Strategy<Value = Duration> {
    (
        1u32..=1_000_000,
        prop_oneof![
            Just(DurationUnit::Minutes),
            Just(DurationUnit::Hours),
            Just(DurationUnit::Days),
            Just(DurationUnit::Weeks)
        ],
    )
        .prop_filter_map("range", |(n, u)| Duration::new(n, u).ok())
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        number().prop_map(Literal::Number),
        text().prop_map(Literal::String),
        any::<bool>().prop_map(Literal::Bool),
        time().prop_map(Literal::Time),
    ]
}

fn list() -> impl Strategy<Value = Vec<Literal>> {
    prop::collection::vec(literal(), 0..4)
}

fn e(kind: ExprKind) -> Expr {
    Expr::new(kind)
}

fn b(x: Expr) -> Box<Expr> {
    Box::new(x)
}

fn leaf() -> impl Strategy<Value = Expr> {
    prop_oneof![
        number().prop_map(|n| e(ExprKind::Number(n))),
        text().prop_map(|s| e(ExprKind::String(s))),
        any::<bool>().prop_map(|v| e(ExprKind::Bool(v))),
        time().prop_map(|t| e(ExprKind::Time(t))),
        duration().prop_map(|d| e(ExprKind::Duration(d))),
        list().prop_map(|l| e(ExprKind::List(l))),
        prop::collection::vec(ident(), 1..3).prop_map(|p| e(ExprKind::Path(p))),
        text().prop_map(|s| e(ExprKind::Segment(Name::new(s)))),
        (ident(), duration()).prop_map(|(ev, window)| e(ExprKind::Count {
            event: Name::new(ev),
            filter: None,
            window
        })),
        ident().prop_map(|ev| e(ExprKind::Last { event: Name::new(ev), filter: None })),
    ]
}

fn tree() -> impl Strategy<Value = Expr> {
    leaf().prop_recursive(5, 48, 4, |inner| {
        let op = prop_oneof![
            Just(CmpOp::Eq),
            Just(CmpOp::Ne),
            Just(CmpOp::Lt),
            Just(CmpOp::Le),
            Just(CmpOp::Gt),
            Just(CmpOp::Ge)
        ];
        let agg =
            prop_oneof![Just(AggFn::Sum), Just(AggFn::Avg), Just(AggFn::Min), Just(AggFn::Max)];
        let top =
            prop_oneof![Just(TextOp::Contains), Just(TextOp::StartsWith), Just(TextOp::EndsWith)];
        let filter = prop::option::of(inner.clone().prop_map(b));
        prop_oneof![
            (op, inner.clone(), inner.clone()).prop_map(|(op, l, r)| e(ExprKind::Compare {
                op,
                left: b(l),
                right: b(r)
            })),
            (inner.clone(), list()).prop_map(|(v, list)| e(ExprKind::In { value: b(v), list })),
            (inner.clone(), list()).prop_map(|(v, list)| e(ExprKind::NotIn { value: b(v), list })),
            (inner.clone(), inner.clone())
                .prop_map(|(v, i)| e(ExprKind::Has { value: b(v), item: b(i) })),
            (inner.clone(), list()).prop_map(|(v, list)| e(ExprKind::HasAny { value: b(v), list })),
            (inner.clone(), list()).prop_map(|(v, list)| e(ExprKind::HasAll { value: b(v), list })),
            (top, inner.clone(), text()).prop_map(|(op, v, pattern)| e(ExprKind::Text {
                op,
                value: b(v),
                pattern
            })),
            inner.clone().prop_map(|v| e(ExprKind::Exists(b(v)))),
            (inner.clone(), duration())
                .prop_map(|(v, duration)| e(ExprKind::Within { value: b(v), duration })),
            (inner.clone(), time()).prop_map(|(v, time)| e(ExprKind::Before { value: b(v), time })),
            (inner.clone(), time()).prop_map(|(v, time)| e(ExprKind::After { value: b(v), time })),
            inner.clone().prop_map(|v| e(ExprKind::Not(b(v)))),
            prop::collection::vec(inner.clone(), 2..4).prop_map(|v| e(ExprKind::And(v))),
            prop::collection::vec(inner.clone(), 2..4).prop_map(|v| e(ExprKind::Or(v))),
            inner.clone().prop_map(|v| e(ExprKind::Lower(b(v)))),
            inner.clone().prop_map(|v| e(ExprKind::DaysSince(b(v)))),
            (ident(), filter.clone(), duration()).prop_map(|(ev, filter, window)| e(
                ExprKind::Count { event: Name::new(ev), filter, window }
            )),
            (ident(), filter.clone(), duration()).prop_map(|(ev, filter, window)| e(
                ExprKind::Any { event: Name::new(ev), filter, window }
            )),
            (agg, ident(), ident(), filter.clone(), duration()).prop_map(
                |(func, ev, p, filter, window)| e(ExprKind::Aggregate {
                    func,
                    event: Name::new(ev),
                    prop: Name::new(p),
                    filter,
                    window
                })
            ),
            (ident(), filter.clone())
                .prop_map(|(ev, filter)| e(ExprKind::First { event: Name::new(ev), filter })),
            (ident(), filter)
                .prop_map(|(ev, filter)| e(ExprKind::Last { event: Name::new(ev), filter })),
        ]
    })
}

fn generous() -> Limits {
    Limits::default()
        .with_rule_bytes_max(usize::MAX)
        .and_then(|l| l.with_rule_nodes_max(100_000))
        .and_then(|l| l.with_rule_depth_max(200))
        .and_then(|l| l.with_list_items_max(100))
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn text_round_trips(tree in tree()) {
        let text = tree.to_string();
        let parsed = parse(&text, &generous());
        prop_assert_eq!(parsed.as_ref().ok(), Some(&tree), "text: {:?}, parse: {:?}", text, parsed.as_ref().err());
        // Printing is canonical: the parsed tree prints to the same text.
        prop_assert_eq!(parsed.map(|p| p.to_string()).ok(), Some(text));
    }

    #[test]
    fn json_round_trips(tree in tree()) {
        let json = serde_json::to_string(&tree).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let back: Expr = serde_json::from_str(&json).map_err(|e| TestCaseError::fail(format!("{e}: {json}")))?;
        prop_assert_eq!(back, tree);
    }
}

#[test]
fn the_documented_json_form_reads_as_the_text_form() {
    let json = r#"{"and": [{"has": {"value": {"path": ["interests"]}, "item": {"string": "hiking"}}},
                          {"compare": {"op": ">=", "left": {"path": ["budget"]}, "right": {"number": 100}}}]}"#;
    let tree: Result<Expr, _> = serde_json::from_str(json);
    let text = parse(r#"interests has "hiking" and budget >= 100"#, &Limits::default());
    assert_eq!(tree.ok(), text.ok());
}
