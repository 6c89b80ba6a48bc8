//! Shared fixtures: the example data map and campaigns, and a heavy deterministic profile.

#![allow(dead_code, reason = "each test binary uses a different part")]
#![allow(clippy::panic, reason = "a fixture that cannot load fails the test")]

use dpseg::schema::{AttrType, Schema};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Map, Value};

/// The repository root.
pub fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Reads a file under the repository root.
pub fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// 2026-11-24T00:00:00Z, the examples' "now".
pub const NOW: i64 = 1_795_478_400;

/// A profile with every attribute of `schema` set and `events` events spread over the event
/// types, each inside its type's retention, reproducible from `seed`.
pub fn heavy_profile(schema: &Schema, events: usize, seed: u64) -> Value {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let day = 86_400i64;
    let mut attrs = Map::new();
    for a in schema.attributes() {
        let v = match (a.ty, &a.values) {
            // Within the data map's range, if it has one.
            #[allow(clippy::cast_possible_truncation, reason = "demo ranges are small integers")]
            (AttrType::Number, _) => {
                let lo = a.range.min.unwrap_or(0.0) as i64;
                let hi = a.range.max.map_or(800, |m| m as i64).max(lo + 1);
                json!(rng.gen_range(lo..hi))
            }
            (AttrType::String, Some(words)) => json!(words[rng.gen_range(0..words.len())]),
            (AttrType::String, None) => json!(["DE", "at", "Ch", "fr", "US"][rng.gen_range(0..5)]),
            (AttrType::Bool, _) => json!(rng.gen_bool(0.5)),
            (AttrType::Set, Some(words)) => {
                json!(words.iter().filter(|_| rng.gen_bool(0.4)).collect::<Vec<_>>())
            }
            (AttrType::Set, None) => json!(["Alpenglow", "Summit"]),
            (AttrType::Time, _) => {
                json!(dpseg::time::format_timestamp(NOW - rng.gen_range(0..900) * day))
            }
        };
        attrs.insert(a.name.clone(), v);
    }
    let cats = ["tents", "boots", "jackets", "packs", "stoves", "bags", "poles", "lamps"];
    let mut list = Vec::with_capacity(events);
    for i in 0..events {
        let def = &schema.events()[i % schema.events().len()];
        let keep_days = def.retention.map_or(365, |r| r.secs() / day).min(365);
        let at = NOW - rng.gen_range(0..keep_days * day);
        let mut props = Map::new();
        for p in &def.props {
            let v = match (p.ty, p.name.as_str()) {
                (AttrType::Number, _) => json!(rng.gen_range(1..400)),
                (AttrType::String, "category") => json!(cats[rng.gen_range(0..cats.len())]),
                (AttrType::String, "brand") => {
                    json!(["Alpenglow", "Summit", "Alpine Co"][rng.gen_range(0..3)])
                }
                (AttrType::String, "topic") => json!(format!("t{}", rng.gen_range(0..8))),
                (AttrType::String, _) => json!(format!("v{}", rng.gen_range(0..20))),
                (AttrType::Bool, _) => json!(rng.gen_bool(0.5)),
                (AttrType::Time, _) | (AttrType::Set, _) => {
                    json!(dpseg::time::format_timestamp(at))
                }
            };
            props.insert(p.name.clone(), v);
        }
        list.push(
            json!({"name": def.name, "at": dpseg::time::format_timestamp(at), "props": props}),
        );
    }
    json!({"attributes": attrs, "events": list})
}
