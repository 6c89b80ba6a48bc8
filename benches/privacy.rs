//! Benchmarks of the privacy core (`cargo bench --bench privacy`):
//!
//! * `privatize/256-segments`: one device's report for a 256-segment campaign — sampling,
//!   memoised answers (HMAC-SHA256), fresh noise from ChaCha20, and encoding (target ≤ 20 µs);
//! * `aggregate/100-segments`: adding one decoded report to a tally (target ≥ 20 million per
//!   second per core, i.e. ≤ 50 ns);
//! * `decode+aggregate/100-segments`: strict decoding of the report, then adding it.
//!
//! `cargo bench --bench simulate` times `dpseg simulate`'s core at 10 million devices.

#![allow(missing_docs, clippy::unwrap_used, reason = "benchmark harness")]

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use dpseg::estimate::Tally;
use dpseg::privacy::coin::{DeviceRandomness, SimRandomness};
use dpseg::privacy::ledger::Secret;
use dpseg::privacy::mechanism::{Mechanism, Slot};
use dpseg::report::encode;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

fn benches(c: &mut Criterion) {
    let mech256 = Mechanism::for_domains(&[2; 256], 256, 1.0, 4.0).unwrap();
    let truth: Vec<u16> = (0..256).map(|i| (i % 3 == 0) as u16).collect();
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let prf = Secret::generate(&mut rng).prf("config");
    let mut slots = vec![Slot { item: 0, out: 0 }; usize::from(mech256.per_report())];
    c.bench_function("privatize/256-segments", |b| {
        b.iter(|| {
            let mut r = DeviceRandomness::one_version(&mut rng, &prf);
            mech256.privatize(black_box(&truth), &mut r, &mut slots);
            encode("campaign", "config", 20_481, &mech256, &slots, &mut r)
        })
    });

    let mech100 = Mechanism::for_domains(&[2; 100], 100, 1.0, 4.0).unwrap();
    let mut sim = SimRandomness::new(7, 7);
    let reports: Vec<Vec<Slot>> = (0..4096)
        .map(|d| {
            sim.set_device(d);
            let mut s = vec![Slot { item: 0, out: 0 }; usize::from(mech100.per_report())];
            mech100.privatize(&[1; 100], &mut sim, &mut s);
            s
        })
        .collect();
    let encoded: Vec<_> =
        reports.iter().map(|s| encode("c", "cfg", 1, &mech100, s, &mut sim)).collect();
    let mut group = c.benchmark_group("aggregate");
    group.throughput(Throughput::Elements(reports.len() as u64));
    group.bench_function("100-segments", |b| {
        let mut tally = Tally::new(&mech100);
        b.iter(|| {
            for s in &reports {
                tally.add(&mech100, black_box(s));
            }
        })
    });
    group.bench_function("decode+aggregate/100-segments", |b| {
        let mut tally = Tally::new(&mech100);
        b.iter(|| {
            for r in &encoded {
                let d = r.decode("c", "cfg", &mech100).unwrap();
                tally.add(&mech100, &d.slots);
            }
        })
    });
    group.finish();
}

criterion_group! {
    name = group;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = benches
}
criterion_main!(group);
