//! Benchmarks of the core engine (`cargo bench --bench eval`):
//!
//! * `evaluate/campaign`: every segment and group of `examples/outdoor/benchmark/benchmark.toml`
//!   (133 segments, one 9-case group) on a profile with 50 attributes and 500 events;
//! * `evaluate/one-segment`: one event-window segment of it, as a single [`Rule`];
//! * `compile/campaign`: parsing, type checking and compiling that campaign;
//! * `load/profile`: validating the 500-event profile from JSON.
//!
//! Target (issue 3): a whole-campaign evaluation in at most 20 µs, without allocating (the
//! allocation count is asserted by `tests/no_alloc.rs`).

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::panic,
    reason = "benchmark harness: a broken fixture stops the run"
)]

#[path = "../tests/common/mod.rs"]
mod common;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use dpseg::campaign::Campaign;
use dpseg::limits::Limits;
use dpseg::profile::Profile;
use dpseg::rules::Rule;
use dpseg::schema::Schema;

fn benches(c: &mut Criterion) {
    let limits = Limits::default();
    let schema = Schema::from_toml(&common::read("examples/outdoor/schema.toml"), &limits).unwrap();
    let text = common::read("examples/outdoor/benchmark/benchmark.toml");
    let campaign = Campaign::from_toml(&text, &limits).unwrap();
    let compiled = campaign.compile(&schema, &limits).unwrap();
    let doc = common::heavy_profile(&schema, 500, 7);
    let profile = Profile::from_json_value(&schema, &doc, common::NOW, &limits).unwrap();
    let doc_text = doc.to_string();
    println!(
        "campaign: {} segments, {} groups; profile: {} attributes, {} events",
        campaign.segments().len(),
        campaign.groups().len(),
        schema.attributes().len(),
        profile.event_count()
    );

    let mut out = compiled.new_membership();
    c.bench_function("evaluate/campaign", |b| {
        b.iter(|| compiled.evaluate_into(black_box(&profile), black_box(common::NOW), &mut out))
    });
    let one =
        Rule::from_text(r#"count(purchase where category == "tents", 30d) >= 1"#, &schema, &limits)
            .unwrap();
    c.bench_function("evaluate/one-segment", |b| {
        b.iter(|| one.evaluate(black_box(&profile), black_box(common::NOW)))
    });
    c.bench_function("compile/campaign", |b| {
        b.iter(|| {
            Campaign::from_toml(black_box(&text), &limits)
                .unwrap()
                .compile(&schema, &limits)
                .unwrap()
        })
    });
    c.bench_function("load/profile", |b| {
        b.iter(|| Profile::from_json(&schema, black_box(&doc_text), common::NOW, &limits).unwrap())
    });
}

criterion_group! {
    name = group;
    config = Criterion::default().sample_size(50).measurement_time(std::time::Duration::from_secs(3));
    targets = benches
}
criterion_main!(group);
