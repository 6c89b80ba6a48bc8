//! Campaign identity (`config_id`), evaluation order and explanations.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails by panicking"
)]

use crate::common;

use dpseg::campaign::{Campaign, Runnable};
use dpseg::limits::Limits;
use dpseg::profile::Profile;
use dpseg::rules::Rule;
use dpseg::schema::Schema;
use serde_json::json;
use sha2::{Digest, Sha256};

fn schema() -> Schema {
    Schema::from_toml(&common::read("examples/outdoor/schema.toml"), &Limits::default()).unwrap()
}

fn config_id(toml: &str) -> String {
    let limits = Limits::default();
    Campaign::from_toml(toml, &limits)
        .unwrap()
        .compile(&schema(), &limits)
        .unwrap()
        .config_id()
        .to_owned()
}

const BASE: &str = r#"
id = "c"
purpose = "measurement"
epoch = "1d"
epsilon = 1.0
[[segments]]
id = "hikers"
rule = 'interests has "hiking" and budget >= 100'
[[groups]]
id = "tier"
cases = [{ id = "low", rule = "budget < 50" }, { id = "high", rule = "true" }]
"#;

#[test]
fn config_id_is_the_content_id_of_the_compiled_form() {
    // The documented recipe (docs/compiled.md), computed here with sha2: the first 16 bytes of
    // SHA-256 of the compiled bytes, in lowercase hex. Golden bytes: tests/suite/compiled.rs.
    let limits = Limits::default();
    let compiled = Campaign::from_toml(BASE, &limits).unwrap().compile(&schema(), &limits).unwrap();
    let digest = Sha256::digest(compiled.runnable().to_compact());
    let want: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(config_id(BASE), want);
}

#[test]
fn config_id_ignores_formatting_and_paperwork_but_not_meaning() {
    let base = config_id(BASE);
    let reformatted = BASE.replace(
        "interests has \"hiking\" and budget >= 100",
        "(interests   has \"hiking\")\t and budget>=100",
    );
    assert_eq!(config_id(&reformatted), base);
    let described =
        BASE.replace("id = \"hikers\"", "id = \"hikers\"\ndescription = \"people who hike\"");
    assert_eq!(config_id(&described), base);
    // The epoch is hashed as seconds: 24h is the same campaign as 1d.
    assert_eq!(config_id(&BASE.replace("epoch = \"1d\"", "epoch = \"24h\"")), base);
    // The review's people and reasons are paperwork; what it covers is what a device checks.
    let reviewed =
        format!("{BASE}\n[review]\nby = \"a\"\nat = \"2026-01-01\"\nwhy = \"b\"\ncovers = []\n");
    assert_eq!(config_id(&reviewed), base);
    assert_eq!(config_id(&reviewed.replace("by = \"a\"", "by = \"someone else\"")), base);
    for changed in [
        reviewed.replace("covers = []", "covers = [\"budget\"]"),
        BASE.replace("purpose = \"measurement\"", "purpose = \"personalization\""),
        BASE.replace("epsilon = 1.0", "epsilon = 0.5"),
        BASE.replace("epoch = \"1d\"", "epoch = \"2d\""),
        BASE.replace(">= 100", ">= 101"),
        BASE.replace("id = \"hikers\"", "id = \"walkers\""),
        BASE.replace(
            "purpose = \"measurement\"",
            "purpose = \"measurement\"\nepsilon_lifetime = 3.0",
        ),
    ] {
        assert_ne!(config_id(&changed), base, "{changed}");
    }
}

#[test]
fn segments_may_reference_later_segments() {
    let limits = Limits::default();
    let toml = r#"
id = "c"
purpose = "measurement"
epoch = "1d"
epsilon = 1.0
[[segments]]
id = "rich_hikers"
rule = 'segment("hikers") and segment("rich")'
[[segments]]
id = "hikers"
rule = 'interests has "hiking"'
[[segments]]
id = "rich"
rule = 'budget > 500'
"#;
    let compiled = Campaign::from_toml(toml, &limits).unwrap().compile(&schema(), &limits).unwrap();
    let schema = schema();
    let p = Profile::from_json(
        &schema,
        r#"{"attributes": {"interests": ["hiking"], "budget": 600}}"#,
        common::NOW,
        &limits,
    )
    .unwrap();
    assert_eq!(compiled.evaluate(&p, common::NOW).segments, [true, true, true]);
    let mut scratch = compiled.new_membership();
    assert_eq!(compiled.runnable().evaluate_segment(&p, common::NOW, 0, &mut scratch), Some(true));
    let p = Profile::from_json(
        &schema,
        r#"{"attributes": {"interests": ["hiking"], "budget": 60}}"#,
        common::NOW,
        &limits,
    )
    .unwrap();
    assert_eq!(compiled.evaluate(&p, common::NOW).segments, [false, true, false]);
    assert_eq!(compiled.runnable().evaluate_segment(&p, common::NOW, 0, &mut scratch), Some(false));
}

#[test]
fn explanations_quote_the_rule_and_show_what_was_read() {
    let limits = Limits::default();
    let schema = schema();
    let rule = Rule::from_text(
        r#"count(purchase where category == "tents", 104w) >= 1 and not any(purchase, 180d)"#,
        &schema,
        &limits,
    )
    .unwrap();
    let p = Profile::from_json(
        &schema,
        &common::read("examples/outdoor/profiles/bob.json"),
        common::NOW,
        &limits,
    )
    .unwrap();
    let ex = serde_json::to_value(rule.explain(&schema, &p, common::NOW)).unwrap();
    assert_eq!(ex["value"], json!(true));
    let count = &ex["children"][0]["children"][0];
    assert_eq!(count["text"], json!(r#"count(purchase where category == "tents", 104w)"#));
    assert_eq!(count["value"], json!(1));
    // bob.json has three purchases in the last 104 weeks, one of them of tents.
    assert_eq!(
        count["inputs"][0],
        json!({"kind": "events", "event": "purchase", "window_secs": 104 * 7 * 86_400, "considered": 3, "matched": 1})
    );
    let any = &ex["children"][1];
    assert_eq!(any["text"], json!("not any(purchase, 180d)"));
    assert_eq!(any["children"][0]["value"], json!(false));
    assert_eq!(any["children"][0]["inputs"][0]["considered"], json!(0));
}

#[test]
fn explanations_show_missing_values_as_null() {
    let limits = Limits::default();
    let schema = schema();
    let rule = Rule::from_text("budget >= 100 or not (budget exists)", &schema, &limits).unwrap();
    let p = Profile::new(&schema);
    let ex = serde_json::to_value(rule.explain(&schema, &p, common::NOW)).unwrap();
    assert_eq!(ex["value"], json!(true));
    assert_eq!(ex["children"][0]["value"], json!(false));
    assert_eq!(ex["children"][0]["children"][0]["value"], json!(null));
    assert_eq!(
        ex["children"][0]["children"][0]["inputs"][0],
        json!({"kind": "attribute", "name": "budget", "value": null})
    );
}

#[test]
fn one_segment_alone_agrees_with_the_whole_pass() {
    let limits = Limits::default();
    let schema = schema();
    let mut compiled = Vec::new();
    for file in ["benchmark/benchmark", "campaigns/spring-2027", "campaigns/family-gear"] {
        let text = common::read(&format!("examples/outdoor/{file}.toml"));
        compiled
            .push(Campaign::from_toml(&text, &limits).unwrap().compile(&schema, &limits).unwrap());
    }
    let mut checked = 0;
    for name in ["alice", "bob", "carla", "dieter"] {
        let text = common::read(&format!("examples/outdoor/profiles/{name}.json"));
        let p = Profile::from_json(&schema, &text, common::NOW, &limits).unwrap();
        for c in &compiled {
            let whole = c.evaluate(&p, common::NOW);
            let mut scratch = c.new_membership();
            for (i, &want) in whole.segments.iter().enumerate() {
                assert_eq!(
                    c.runnable().evaluate_segment(&p, common::NOW, i, &mut scratch),
                    Some(want)
                );
                checked += usize::from(want);
            }
            let past_end = whole.segments.len();
            assert_eq!(
                c.runnable().evaluate_segment(&p, common::NOW, past_end, &mut scratch),
                None
            );
        }
    }
    assert!(checked > 20, "too few memberships to compare: {checked}");
}

#[test]
fn a_group_whose_last_case_always_holds_has_no_none_value() {
    let limits = Limits::default();
    let schema = Schema::from_toml(&common::read("examples/outdoor/schema.toml"), &limits).unwrap();
    let text = |last: &str| {
        format!(
            "id = \"g\"\npurpose = \"measurement\"\nepoch = \"1d\"\nepsilon = 1.0\n\n[[groups]]\nid = \"tier\"\ncases = [{{ id = \"a\", rule = \"budget < 50\" }}, {{ id = \"b\", rule = \"budget < 100\" }}, {{ id = \"c\", rule = \"budget < 200\" }}, {{ id = \"d\", rule = \"{last}\" }}]\n"
        )
    };
    let exhaustive =
        Campaign::from_toml(&text("true"), &limits).unwrap().compile(&schema, &limits).unwrap();
    let open = Campaign::from_toml(&text("budget exists"), &limits)
        .unwrap()
        .compile(&schema, &limits)
        .unwrap();
    let (e, o) = (exhaustive.mechanism().unwrap(), open.mechanism().unwrap());
    assert_eq!(e.items()[0].domain(), 4);
    assert_eq!(o.items()[0].domain(), 5);
    assert!(e.items()[0].variance() < o.items()[0].variance());
    // Both round-trip through the compact form; a 4-value item on the open group does not.
    for c in [&exhaustive, &open] {
        let bytes = c.runnable().to_compact();
        let back = Runnable::from_compact(&bytes, &limits).unwrap();
        assert_eq!(back.to_compact(), bytes);
        assert_eq!(back.mechanism(), c.runnable().mechanism());
    }
    let bytes = exhaustive.runnable().to_compact();
    let mut swapped = open.runnable().to_compact();
    let head = Runnable::read_head(&bytes).unwrap().1.unwrap();
    let mut w = dpseg::compact::Writer::default();
    head.write_compact(&mut w);
    let mut theirs = dpseg::compact::Writer::default();
    open.mechanism().unwrap().write_compact(&mut theirs);
    let at =
        swapped.windows(theirs.bytes.len()).position(|x| x == theirs.bytes.as_slice()).unwrap();
    swapped.splice(at..at + theirs.bytes.len(), w.bytes.iter().copied());
    assert!(
        Runnable::from_compact(&swapped, &limits).is_err(),
        "an open group with no 'none' value is refused"
    );
}

/// A campaign changes ε only through `with_epsilon`, which keeps the invariants the campaign was
/// read with: ε finite and positive, the lifetime bound at least ε (its ratio to ε kept).
#[test]
fn with_epsilon_keeps_the_lifetime_ratio_and_refuses_what_from_toml_refuses() {
    let text = "id = \"c\"\npurpose = \"analytics\"\nepoch = \"1d\"\nepsilon = 1.0\n\
                epsilon_lifetime = 3.0\n[[segments]]\nid = \"s\"\nrule = \"true\"\n";
    let c = Campaign::from_toml(text, &Limits::default()).unwrap();
    let doubled = c.clone().with_epsilon(2.0).unwrap();
    assert_eq!((doubled.epsilon(), doubled.epsilon_lifetime()), (2.0, 6.0));
    assert_eq!((doubled.id(), doubled.segments()), (c.id(), c.segments()));
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let refused = c.clone().with_epsilon(bad);
        // What the TOML reader says of the same ε, so both paths refuse alike.
        let from_text = Campaign::from_toml(
            &text.replace("epsilon = 1.0", &format!("epsilon = {bad:?}")).replace("NaN", "nan"),
            &Limits::default(),
        );
        assert!(refused.is_err(), "ε = {bad} accepted");
        assert!(from_text.is_err(), "the TOML reader accepts ε = {bad}");
    }
}

/// Every demo segment explained to every demo visitor reads as sentences in the data map's
/// words: no rule syntax, no identifiers, every condition phrased (none left to the generic
/// "we checked …" sentence), the segment named by its `visitor` words, and the rule text one
/// click away. A few sentences are pinned by hand.
#[test]
fn every_demo_segment_is_explained_in_plain_words() {
    let limits = Limits::default();
    let schema = schema();
    let now = dpseg::time::parse_timestamp("2026-11-24T12:00:00Z").unwrap();
    let mut seen = std::collections::BTreeMap::new();
    for campaign in ["spring-2027", "picks", "family-gear"] {
        let text = common::read(&format!("examples/outdoor/campaigns/{campaign}.toml"));
        let c = Campaign::from_toml(&text, &limits).unwrap();
        assert!(c.title().is_some(), "{campaign} has no title for the visitor");
        let compiled = c.compile(&schema, &limits).unwrap();
        for visitor in ["alice", "bob", "carla", "dieter"] {
            let doc = common::read(&format!("examples/outdoor/profiles/{visitor}.json"));
            let profile = Profile::from_json(&schema, &doc, now, &limits).unwrap();
            for (i, s) in c.segments().iter().enumerate() {
                let v = s
                    .visitor
                    .as_deref()
                    .unwrap_or_else(|| panic!("{campaign}/{}: no visitor words", s.id));
                let w = compiled.segment_words(&schema, &profile, now, i).unwrap();
                assert!(w.summary.contains(v), "{}: {}", s.id, w.summary);
                let mut stack: Vec<&dpseg::rules::words::Reason> = w.reasons.iter().collect();
                while let Some(r) = stack.pop() {
                    let t = &r.text;
                    let context =
                        format!("{campaign}/{} for {visitor}: {t:?} (rule {:?})", s.id, r.rule);
                    for syntax in
                        ["==", ">=", "<=", "segment(", "[", "_", "We checked", "so “", "where "]
                    {
                        assert!(!t.contains(syntax), "{context}: has {syntax:?}");
                    }
                    assert!(!r.rule.is_empty(), "{context}: no rule text");
                    assert!(t.starts_with(char::is_uppercase), "{context}: not a sentence");
                    seen.insert((campaign, s.id.clone(), visitor, r.rule.clone()), t.clone());
                    stack.extend(r.because.iter());
                }
            }
        }
    }
    let said = |c: &str, s: &str, v: &str, rule: &str| {
        seen.get(&(c, s.to_owned(), v, rule.to_owned())).cloned().unwrap_or_default()
    };
    assert_eq!(
        said("spring-2027", "hikers", "alice", "budget >= 100"),
        "Your budget per trip for gear (EUR) is 150; we look for at least 100"
    );
    assert_eq!(
        said("spring-2027", "hikers", "alice", r#"interests has "hiking""#),
        "Your activities include hiking"
    );
    assert_eq!(
        said("spring-2027", "dach_hikers", "alice", r#"segment("dach")"#),
        "You are among visitors from Germany, Austria or Switzerland"
    );
    assert_eq!(
        said("family-gear", "families", "alice", "has_kids"),
        "You have not answered “Do you shop for children?”"
    );
}

/// `wording` names what a visitor would read as an identifier: no title, a segment without
/// `visitor` words, data without a label; the demo campaigns have none of these.
#[test]
fn wording_warns_about_what_the_visitor_would_read_as_an_identifier() {
    let limits = Limits::default();
    let schema = Schema::from_toml(
        r#"
[attributes.budget]
type = "number"
purposes = ["m"]
label = "budget"
[attributes.loyalty_tier]
type = "string"
purposes = ["m"]
[attributes.has_kids]
type = "bool"
purposes = ["m"]
question = "Do you shop for children?"
[events.purchase]
purposes = ["m"]
"#,
        &limits,
    )
    .unwrap();
    let text = "id = \"c\"\npurpose = \"m\"\nepoch = \"1d\"\nepsilon = 1.0\n\
                [[segments]]\nid = \"big\"\nrule = 'budget > 1 and has_kids'\nvisitor = \"big spenders\"\n\
                [[segments]]\nid = \"gold\"\nrule = 'loyalty_tier == \"gold\" or any(purchase, 1d)'\n";
    let compiled = Campaign::from_toml(text, &limits).unwrap().compile(&schema, &limits).unwrap();
    let found: Vec<(&str, Option<String>, bool)> = dpseg::campaign::wording(&compiled, &schema)
        .iter()
        .map(|f| {
            (
                f.code,
                f.segment.clone(),
                f.message.contains("loyalty_tier") || f.message.contains("purchase"),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("no-title", None, false),
            ("no-visitor-words", Some("gold".to_owned()), false),
            ("no-label", None, true),
            ("no-label", None, true),
        ]
    );
    for campaign in ["spring-2027", "picks", "family-gear"] {
        let text = common::read(&format!("examples/outdoor/campaigns/{campaign}.toml"));
        let schema = self::schema();
        let compiled =
            Campaign::from_toml(&text, &limits).unwrap().compile(&schema, &limits).unwrap();
        assert_eq!(dpseg::campaign::wording(&compiled, &schema), [], "{campaign}");
    }
}
