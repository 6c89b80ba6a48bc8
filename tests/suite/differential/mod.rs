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

mod gen;
mod reference;

use gen::{Gen, Ty};
use reference::{ref_profile, reference, truth, RefProfile};

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

#[test]
fn compiled_evaluator_agrees_with_the_reference_interpreter() {
    let limits = Limits::default()
        .with_rule_nodes_max(10_000)
        .and_then(|l| l.with_rule_depth_max(64))
        .unwrap();
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
    let mut gen = Gen::new(0xd1ff);
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
