//! The demo's visitors: random profiles drawn from the data map, evaluated by the real engine,
//! so every simulated report comes from a profile and every nesting holds (a device in
//! `family_campers` is in `families`, a group's cases exclude each other).
//!
//! Each declared attribute is answered by 60% of visitors (observed ones are known for 90%):
//! numbers skewed towards the low end of the data map's range (most budgets are modest), a word
//! of the closed vocabulary uniformly, a quarter of a set's words, yes for 35%, times over the
//! last three years. Each event type happens 0 to 12 times, within its retention.

use dpseg::campaign::CompiledCampaign;
use dpseg::limits::Limits;
use dpseg::profile::Profile;
use dpseg::schema::{AttrType, Schema, Source};
use dpseg::time::format_timestamp;
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use serde_json::{json, Map, Value};

const DAY: i64 = 86_400;
const COUNTRIES: [&str; 8] = ["DE", "AT", "CH", "FR", "GB", "US", "NL", "IT"];
const CATEGORIES: [&str; 6] = ["tents", "boots", "jackets", "packs", "stoves", "bags"];

/// A uniform draw in [0, 1).
#[allow(clippy::cast_precision_loss, reason = "53 random bits")]
fn unit(rng: &mut ChaCha8Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss,
    reason = "small counts"
)]
fn pick<'a>(rng: &mut ChaCha8Rng, xs: &[&'a str]) -> &'a str {
    xs[(unit(rng) * xs.len() as f64) as usize % xs.len()]
}

#[allow(clippy::cast_possible_truncation, reason = "whole days within years")]
fn days_ago(rng: &mut ChaCha8Rng, now: i64, max_days: i64) -> String {
    #[allow(clippy::cast_precision_loss, reason = "small counts")]
    let d = (unit(rng) * max_days as f64) as i64;
    let second = i64::try_from(rng.next_u64() % 86_400).unwrap_or(0);
    format_timestamp(now - d * DAY - second)
}

/// One visitor's profile document.
fn profile(schema: &Schema, rng: &mut ChaCha8Rng, now: i64) -> Value {
    let mut attrs = Map::new();
    for a in schema.attributes() {
        let share = if a.source == Source::Observed { 0.9 } else { 0.6 };
        if unit(rng) >= share {
            continue;
        }
        let v = match (a.ty, &a.values) {
            (AttrType::Number, _) => {
                let (lo, hi) = (a.range.min.unwrap_or(0.0), a.range.max.unwrap_or(100.0));
                json!((lo + (hi - lo) * unit(rng).powi(4)).round())
            }
            (AttrType::String, Some(words)) => {
                let words: Vec<&str> = words.iter().map(String::as_str).collect();
                json!(pick(rng, &words))
            }
            (AttrType::String, None) => json!(pick(rng, &COUNTRIES)),
            (AttrType::Bool, _) => json!(unit(rng) < 0.35),
            (AttrType::Set, Some(words)) => {
                json!(words.iter().filter(|_| unit(rng) < 0.25).collect::<Vec<_>>())
            }
            (AttrType::Set, None) => json!(["Alpenglow"]),
            (AttrType::Time, _) => json!(days_ago(rng, now, 3 * 365)),
        };
        attrs.insert(a.name.clone(), v);
    }
    let mut events = Vec::new();
    for e in schema.events() {
        let horizon = e.retention.map_or(365, |r| (r.secs() / DAY).max(1));
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "0 to 12")]
        let count = (unit(rng).powi(2) * 13.0) as usize;
        for _ in 0..count {
            let mut props = Map::new();
            for p in &e.props {
                let v = match p.ty {
                    AttrType::Number => json!((5.0 + 400.0 * unit(rng).powi(2)).round()),
                    AttrType::Bool => json!(unit(rng) < 0.5),
                    AttrType::Time => json!(days_ago(rng, now, 30)),
                    _ => json!(pick(rng, &CATEGORIES)),
                };
                props.insert(p.name.clone(), v);
            }
            events.push(json!({"name": e.name, "at": days_ago(rng, now, horizon), "props": props}));
        }
    }
    json!({"attributes": attrs, "events": events})
}

/// `devices` visitors' profiles (reproducible from `seed`), as the engine reads them.
pub fn profiles(schema: &Schema, devices: u64, seed: u64, now: i64) -> Vec<Profile> {
    let limits = Limits::default();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..devices)
        .filter_map(|_| {
            Profile::from_json_value(schema, &profile(schema, &mut rng, now), now, &limits).ok()
        })
        .collect()
}

/// Every visitor's true item values for `compiled` under its planned mechanism.
pub fn item_values(
    compiled: &CompiledCampaign,
    mechanism: &dpseg::privacy::mechanism::Mechanism,
    visitors: &[Profile],
    now: i64,
) -> Vec<Vec<u16>> {
    visitors.iter().map(|p| compiled.evaluate(p, now).item_values(mechanism)).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails by panicking")]

    use super::*;
    use dpseg::campaign::Campaign;

    fn example(path: &str) -> String {
        std::fs::read_to_string(format!(
            "{}/../../examples/outdoor/{path}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    /// The demo's visitors make every demo segment neither empty nor universal, and their true
    /// counts nest as the rules do: what the old independent per-segment rates broke
    /// (`family_campers` large while `families` was zero).
    #[test]
    fn the_demo_population_nests_as_its_rules_do() {
        let limits = Limits::default();
        let schema = Schema::from_toml(&example("schema.toml"), &limits).unwrap();
        let now = 1_795_478_400;
        let visitors = profiles(&schema, 2_000, 7, now);
        assert_eq!(visitors.len(), 2_000, "every generated profile is valid");
        let mut count = std::collections::BTreeMap::new();
        for name in ["spring-2027", "family-gear", "picks"] {
            let c =
                Campaign::from_toml(&example(&format!("campaigns/{name}.toml")), &limits).unwrap();
            let compiled = c.compile(&schema, &limits).unwrap();
            for p in &visitors {
                let m = compiled.evaluate(p, now);
                for (s, &inside) in c.segments().iter().zip(&m.segments) {
                    *count.entry(s.id.clone()).or_insert(0usize) += usize::from(inside);
                }
            }
        }
        for (id, &n) in &count {
            assert!(n > 0 && n < visitors.len(), "{id}: {n} of {}", visitors.len());
        }
        assert!(count["family_campers"] <= count["families"]);
        assert!(count["dach_hikers"] <= count["hikers"].min(count["dach"]));
    }
}
