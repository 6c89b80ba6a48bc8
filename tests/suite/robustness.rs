//! Nothing panics on any input: arbitrary strings, token soup and arbitrary JSON go through the
//! rule parser, the schema, profile and campaign loaders, the compiler and the lint. Each must
//! return a value or an error.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails by panicking"
)]

use dpseg::campaign::{lint, Campaign, LintConfig};
use dpseg::limits::Limits;
use dpseg::profile::Profile;
use dpseg::rules::ast::Expr;
use dpseg::rules::{parse, Rule};
use dpseg::schema::Schema;
use proptest::prelude::*;
use serde_json::Value;

const SCHEMA: &str = r#"
[attributes.n]
type = "number"
purposes = ["measurement"]
[attributes.s]
type = "string"
values = ["a", "b"]
purposes = ["measurement"]
[attributes.tags]
type = "set"
purposes = ["measurement"]
[attributes.t]
type = "time"
purposes = ["measurement"]
[attributes.flag]
type = "bool"
sensitive = "health"
purposes = ["measurement"]
[events.buy]
props = { amount = "number", cat = "string" }
purposes = ["measurement"]
retention = "30d"
"#;

fn schema() -> Schema {
    Schema::from_toml(SCHEMA, &Limits::default()).expect("test schema")
}

/// Sequences of real tokens reach deeper into the parser than random characters.
fn token_soup() -> impl Strategy<Value = String> {
    const TOKENS: &[&str] = &[
        "n",
        "s",
        "tags",
        "t",
        "flag",
        "buy",
        "amount",
        "cat",
        "x",
        "and",
        "or",
        "not",
        "in",
        "has",
        "any",
        "all",
        "contains",
        "starts_with",
        "ends_with",
        "exists",
        "within",
        "before",
        "after",
        "where",
        "true",
        "false",
        "count",
        "sum",
        "avg",
        "min",
        "max",
        "last",
        "first",
        "lower",
        "days_since",
        "segment",
        "(",
        ")",
        "[",
        "]",
        ",",
        ".",
        "==",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
        "1",
        "-2.5",
        "\"a\"",
        "\"\\u{41}\"",
        "30d",
        "2w",
        "0d",
        "@2026-01-01",
        "@2026-13-01",
        "'",
        "=",
        "!",
        "\"",
        "1e5",
        "\\",
    ];
    prop::collection::vec(prop::sample::select(TOKENS), 0..40).prop_map(|t| t.join(" "))
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        "[a-z_ 0-9:T@.-]{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "n",
            "s",
            "tags",
            "buy",
            "2026-11-01",
            "2026-11-01T00:00:00Z",
            "a",
            "30d",
            "measurement"
        ])
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(4, 64, 6, |inner| {
        let keys = prop::sample::select(vec![
            "attributes",
            "events",
            "name",
            "at",
            "props",
            "n",
            "s",
            "tags",
            "t",
            "flag",
            "amount",
            "cat",
            "id",
            "purpose",
            "epoch",
            "epsilon",
            "segments",
            "groups",
            "cases",
            "rule",
            "review",
            "by",
            "why",
            "covers",
            "type",
            "values",
            "x",
        ]);
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(keys, inner, 0..6).prop_map(|m| Value::Object(
                m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
            )),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3_000, ..ProptestConfig::default() })]

    #[test]
    fn rule_text_never_panics(text in any::<String>()) {
        let schema = schema();
        let _ = parse(&text, &Limits::default());
        let _ = Rule::from_text(&text, &schema, &Limits::default());
    }

    #[test]
    fn token_soup_never_panics(text in token_soup()) {
        let schema = schema();
        if let Ok(rule) = Rule::from_text(&text, &schema, &Limits::default()) {
            let profile = Profile::new(&schema);
            let _ = rule.evaluate(&profile, 0);
            let _ = rule.explain(&schema, &profile, 0);
        }
        if let Err(e) = parse(&text, &Limits::default()) {
            // Every error renders with a caret inside the text.
            let _ = e.render("r", &text);
        }
    }

    #[test]
    fn profile_json_never_panics(doc in json_value()) {
        let schema = schema();
        if let Ok(p) = Profile::from_json_value(&schema, &doc, 1_795_000_000, &Limits::default()) {
            let again = Profile::from_json_value(&schema, &p.to_json(&schema), 1_795_000_000, &Limits::default());
            prop_assert_eq!(again.ok(), Some(p));
        }
    }

    #[test]
    fn campaign_json_never_panics(doc in json_value()) {
        let schema = schema();
        if let Ok(c) = Campaign::from_json_value(&doc, &Limits::default()) {
            let _ = lint(&c, &schema, &LintConfig::default(), &Limits::default());
            let _ = c.compile(&schema, &Limits::default());
        }
        let _ = Schema::from_json_value(&doc, &Limits::default());
        let _ = serde_json::from_value::<Expr>(doc);
    }

    #[test]
    fn toml_text_never_panics(text in any::<String>()) {
        let _ = Schema::from_toml(&text, &Limits::default());
        let _ = Campaign::from_toml(&text, &Limits::default());
    }

    #[test]
    fn campaigns_of_random_rules_never_panic(rules in prop::collection::vec(token_soup(), 1..4)) {
        let schema = schema();
        let mut doc = String::from("id = \"c\"\npurpose = \"measurement\"\nepoch = \"1d\"\nepsilon = 1.0\n");
        for (i, r) in rules.iter().enumerate() {
            doc.push_str(&format!("[[segments]]\nid = \"s{i}\"\nrule = {}\n", toml_string(r)));
        }
        let c = Campaign::from_toml(&doc, &Limits::default());
        prop_assert!(c.is_ok(), "{:?}", c.err());
        if let Ok(c) = c {
            let _ = lint(&c, &schema, &LintConfig::default(), &Limits::default());
            if let Ok(compiled) = c.compile(&schema, &Limits::default()) {
                let p = Profile::new(&schema);
                let _ = compiled.evaluate(&p, 0);
                let _ = compiled.explain_json(&schema, &p, 0);
            }
        }
    }
}

fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let schema = schema();
    for text in ["(".repeat(100_000), "not ".repeat(100_000) + "flag", "lower(".repeat(50_000)] {
        let limits = Limits::default().with_rule_bytes_max(usize::MAX).unwrap();
        let err = Rule::from_text(&text, &schema, &limits).err().map(|e| e.kind.code());
        assert_eq!(err, Some("too-deep"));
    }
    // JSON trees deeper than serde_json's recursion limit are refused by serde_json.
    let deep = "{\"not\":".repeat(10_000) + "{\"bool\":true}" + &"}".repeat(10_000);
    assert!(serde_json::from_str::<Expr>(&deep).is_err());
}
