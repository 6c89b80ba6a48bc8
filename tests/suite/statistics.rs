//! Statistical tests of the estimators, with fixed seeds and tolerances derived from the
//! variance (docs/privacy.md, "Honest error bars"):
//!
//! * estimates are unbiased within 3 standard errors of the mean;
//! * the empirical variance is within ±5% of the closed form;
//! * nominal 95% intervals cover the true count 94–96% of the time across a grid of
//!   d ∈ {2, 8, 32, 128}, ε ∈ {0.5, 1, 2, 4} and rates from 0.5% to 50%, and for groups;
//! * per cell of (devices N ∈ {50, 100, 1,000, 10,000}, ε, rate ∈ {0.5%, 5%, 50%}): at least
//!   94% everywhere, at most 96% where N·rate ≥ 5 (docs/privacy.md, "Intervals").
//!
//! Each replication re-runs the mechanism on a fixed population, so what is measured is the
//! error of the estimate against the population's true count.

#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "statistics over simulated counts, all far below 2^53"
)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails by panicking"
)]

use dpseg::estimate::{estimates, Estimate};
use dpseg::privacy::mechanism::{ItemMechanism, Mechanism};
use dpseg::simulate::{Population, Truth};

/// Rates from 0.5% to 50%, geometrically spaced, one per segment.
fn rates(d: usize) -> Vec<f64> {
    (0..d)
        .map(|j| if d == 1 { 0.05 } else { 0.005 * 100f64.powf(j as f64 / (d - 1) as f64) })
        .collect()
}

/// Runs `reps` replications; calls `check(item, value, estimate, true_count)` for every
/// segment (value 1) and group case.
fn replicate(
    mech: &Mechanism,
    truth: &Truth,
    devices: u64,
    reps: u64,
    seed: u64,
    mut check: impl FnMut(usize, usize, &Estimate, u64),
) {
    let pop = Population::new(mech, truth, devices, seed);
    let counts = pop.true_counts(mech);
    let segs = usize::from(mech.segments());
    for r in 0..reps {
        let run = pop.run(mech, 1, seed ^ (r + 1).wrapping_mul(0x9e37_79b9));
        for (i, ests) in estimates(mech, &run[0].tally).iter().enumerate() {
            for (k, e) in ests.iter().enumerate() {
                let v = if i < segs { 1 } else { k };
                if i >= segs && v + 1 == ests.len() {
                    continue; // "none" of a group
                }
                check(i, v, e, counts[i][v]);
            }
        }
    }
}

fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    let v = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0);
    (m, v.sqrt())
}

/// Closed-form variance of the count estimate's error for one value: see `src/estimate.rs`.
fn closed_form_variance(item: &ItemMechanism, mech: &Mechanism, devices: u64, rate: f64) -> f64 {
    let n_total = devices as f64;
    let pi = f64::from(mech.per_report()) / mech.items().len() as f64;
    let n = n_total * pi;
    let (p, q) = (item.p(), item.q());
    let noise = rate * p * (1.0 - p) + (1.0 - rate) * q * (1.0 - q);
    let fpc = (n_total - n) / (n_total - 1.0);
    let var_lambda = (noise + fpc * (p - q) * (p - q) * rate * (1.0 - rate)) / n;
    // E[1/n] for n ~ Binomial(N, π), to second order.
    let inv_n = (1.0 + (1.0 - pi) / n) / n;
    n_total * n_total * var_lambda / (p - q).powi(2) * (inv_n * n)
}

/// Hand-built mechanisms, one per oracle, so every oracle is tested whatever the planner picks.
fn one_oracle_mechanisms() -> Vec<(&'static str, Mechanism, Truth)> {
    let group = |item: ItemMechanism| Mechanism::from_items(vec![item], 0, 1);
    let cases = vec![0.3, 0.1, 0.05, 0.02, 0.01];
    let truth = Truth { segments: vec![], groups: vec![cases] };
    vec![
        ("grr", group(ItemMechanism::grr(6, 1.0, 4.0)), truth.clone()),
        ("oue", group(ItemMechanism::oue(6, 1.0, 4.0)), truth.clone()),
        ("ss", group(ItemMechanism::ss(6, 2, 1.0, 4.0)), truth.clone()),
        ("olh", group(ItemMechanism::olh(6, 1.0, 4.0)), truth),
        (
            "segments",
            Mechanism::for_domains(&[2; 8], 8, 1.0, 4.0).unwrap(),
            Truth { segments: rates(8), groups: vec![] },
        ),
    ]
}

#[test]
fn estimates_are_unbiased_and_their_variance_is_the_closed_form() {
    let devices = 4_000;
    let reps = 8_000;
    for (name, mech, truth) in one_oracle_mechanisms() {
        let mut errors: Vec<Vec<f64>> = Vec::new();
        let mut keys = Vec::new();
        replicate(&mech, &truth, devices, reps, 14, |i, v, e, t| {
            let key = (i, v);
            let idx = keys.iter().position(|k| *k == key).unwrap_or_else(|| {
                keys.push(key);
                errors.push(Vec::new());
                keys.len() - 1
            });
            errors[idx].push(e.estimate - t as f64);
        });
        let segs = usize::from(mech.segments());
        // About 25 values are checked at 3 SE each, so a given seed fails by chance with
        // probability about 7%; the seed is fixed, and other seeds were tried to rule out a bias.
        for ((i, v), errs) in keys.iter().zip(&errors) {
            let (mean, sd) = mean_sd(errs);
            let se = sd / (errs.len() as f64).sqrt();
            assert!(
                mean.abs() <= 3.0 * se,
                "{name} item {i} value {v}: mean error {mean:.2} > 3 SE {se:.2}"
            );
            let rate = if *i < segs { truth.segments[*i] } else { truth.groups[i - segs][*v] };
            let want = closed_form_variance(&mech.items()[*i], &mech, devices, rate);
            let got = sd * sd;
            assert!(
                (got / want - 1.0).abs() <= 0.05,
                "{name} item {i} value {v}: variance {got:.1} vs closed form {want:.1}"
            );
        }
    }
}

#[test]
fn intervals_cover_94_to_96_percent_across_the_grid() {
    let mut failures = Vec::new();
    for d in [2usize, 8, 32, 128] {
        for eps in [0.5, 1.0, 2.0, 4.0] {
            let mech =
                Mechanism::for_domains(&vec![2; d], u16::try_from(d).unwrap(), eps, 4.0 * eps)
                    .unwrap();
            let truth = Truth { segments: rates(d), groups: vec![] };
            let devices = (1_000 * d as u64).max(10_000);
            let reps = 4_000u64.div_ceil(d as u64);
            let (mut hit, mut total) = (0u64, 0u64);
            replicate(
                &mech,
                &truth,
                devices,
                reps,
                (d as u64) << 8 | (eps * 10.0) as u64,
                |_, _, e, t| {
                    total += 1;
                    hit += u64::from(e.ci_low <= t as f64 && t as f64 <= e.ci_high);
                },
            );
            let coverage = hit as f64 / total as f64;
            println!(
                "d={d:3} eps={eps:3} s={} intervals={total} coverage={coverage:.4}",
                mech.per_report()
            );
            if !(0.94..=0.96).contains(&coverage) {
                failures.push(format!("d={d} eps={eps}: {coverage:.4}"));
            }
        }
    }
    assert!(failures.is_empty(), "coverage outside 94–96%: {failures:?}");
}

#[test]
fn group_intervals_cover_94_to_96_percent() {
    for (name, mech, truth) in one_oracle_mechanisms() {
        let (mut hit, mut total) = (0u64, 0u64);
        replicate(&mech, &truth, 20_000, 800, 5, |_, _, e, t| {
            total += 1;
            hit += u64::from(e.ci_low <= t as f64 && t as f64 <= e.ci_high);
        });
        let coverage = hit as f64 / total as f64;
        println!("{name}: intervals={total} coverage={coverage:.4}");
        assert!((0.94..=0.96).contains(&coverage), "{name}: coverage {coverage:.4}");
    }
}

/// Coverage per cell of (devices, ε, rate): three segments at rates 0.5%, 5% and 50%, so each
/// replication gives one interval per rate.
fn coverage_cells(devices: &[u64], epsilons: &[f64], reps: u64) -> Vec<(u64, f64, f64, f64)> {
    let rates = [0.005, 0.05, 0.5];
    let mut out = Vec::new();
    for &n in devices {
        for &eps in epsilons {
            let mech = Mechanism::for_domains(&[2; 3], 3, eps, 4.0 * eps).unwrap();
            let truth = Truth { segments: rates.to_vec(), groups: vec![] };
            let mut hit = [0u64; 3];
            let mut total = [0u64; 3];
            replicate(&mech, &truth, n, reps, n ^ (eps * 100.0) as u64, |i, _, e, t| {
                total[i] += 1;
                hit[i] += u64::from(e.ci_low <= t as f64 && t as f64 <= e.ci_high);
            });
            for i in 0..3 {
                out.push((n, eps, rates[i], hit[i] as f64 / total[i] as f64));
            }
        }
    }
    out
}

#[test]
fn coverage_per_rate_cell_including_small_populations() {
    let cells = coverage_cells(&[50, 100, 1_000, 10_000], &[0.5, 1.0, 2.0, 4.0], 4_000);
    // docs/privacy.md, "Intervals": at least 94% in every cell; at most 96% wherever the
    // population holds at least 5 members in expectation. Below that the interval, clamped at
    // zero, covers more often (up to 97%): conservative, never overconfident.
    let mut failures = Vec::new();
    for &(n, eps, rate, c) in &cells {
        println!("N={n:6} eps={eps:3} rate={rate:5} coverage={c:.4}");
        let members = n as f64 * rate;
        if c < 0.94 || (members >= 5.0 && c > 0.96) || c > 0.975 {
            failures.push(format!("N={n} eps={eps} rate={rate}: {c:.4}"));
        }
    }
    assert!(failures.is_empty(), "coverage outside the stated range: {failures:?}");
}
