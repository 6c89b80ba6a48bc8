//! Empirical privacy audit: from many reports of two neighbouring memberships, a Clopper–Pearson
//! lower bound on ε (Jagielski et al., "Auditing Differentially Private Machine Learning", 2020)
//! never exceeds the claimed ε. The audit also must come close to the claim, or it would not be
//! able to catch a mechanism that leaks more.

#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "event counts of the audit, far below 2^53"
)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails by panicking"
)]

use std::collections::HashMap;

use dpseg::privacy::coin::SimRandomness;
use dpseg::privacy::mechanism::{ItemMechanism, Mechanism, Slot};

/// ln Γ by the Lanczos approximation (g = 7, n = 9).
fn ln_gamma(x: f64) -> f64 {
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    let x = x - 1.0;
    let t = x + 7.5;
    let s = C[1..].iter().enumerate().fold(C[0], |acc, (i, c)| acc + c / (x + i as f64 + 1.0));
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + s.ln()
}

/// The regularised incomplete beta function I_x(a, b) (continued fraction, Numerical Recipes).
fn beta_inc(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front =
        (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    let cf = |a: f64, b: f64, x: f64| {
        let (mut c, mut d) = (1.0f64, 1.0 - (a + b) * x / (a + 1.0));
        d = 1.0 / if d.abs() < 1e-300 { 1e-300 } else { d };
        let mut h = d;
        for m in 1..10_000 {
            let m = f64::from(m);
            for num in [
                m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m)),
                -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0)),
            ] {
                d = 1.0 + num * d;
                d = 1.0 / if d.abs() < 1e-300 { 1e-300 } else { d };
                c = 1.0 + num / c;
                c = if c.abs() < 1e-300 { 1e-300 } else { c };
                h *= d * c;
            }
            if (d * c - 1.0).abs() < 1e-15 {
                break;
            }
        }
        h
    };
    if x < (a + 1.0) / (a + b + 2.0) {
        front * cf(a, b, x) / a
    } else {
        1.0 - front * cf(b, a, 1.0 - x) / b
    }
}

/// The `q` quantile of Beta(a, b), by bisection.
fn beta_quantile(q: f64, a: f64, b: f64) -> f64 {
    let (mut lo, mut hi) = (0.0, 1.0);
    for _ in 0..200 {
        let mid = (lo + hi) / 2.0;
        if beta_inc(a, b, mid) < q {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo + hi) / 2.0
}

/// Clopper–Pearson bounds of a binomial proportion at confidence `1 - alpha` (two-sided).
fn clopper_pearson(k: u64, n: u64, alpha: f64) -> (f64, f64) {
    let (k, n) = (k as f64, n as f64);
    let lo = if k == 0.0 { 0.0 } else { beta_quantile(alpha / 2.0, k, n - k + 1.0) };
    let hi = if k == n { 1.0 } else { beta_quantile(1.0 - alpha / 2.0, k + 1.0, n - k) };
    (lo, hi)
}

/// Output frequencies of `n` reports of fresh devices with values `truth`.
fn outputs(mech: &Mechanism, truth: &[u16], n: u64, seed: u64) -> HashMap<Vec<Slot>, u64> {
    let mut rng = SimRandomness::new(seed, 0);
    let mut slots = vec![Slot { item: 0, out: 0 }; usize::from(mech.per_report())];
    let mut counts = HashMap::new();
    for device in 0..n {
        rng.set_device(seed.wrapping_mul(1_000_003) ^ device);
        mech.privatize(truth, &mut rng, &mut slots);
        *counts.entry(slots.clone()).or_insert(0) += 1;
    }
    counts
}

/// The largest ε lower bound over single-output events, both directions.
fn audit(mech: &Mechanism, x: &[u16], x2: &[u16], n: u64) -> f64 {
    let (a, b) = (outputs(mech, x, n, 1), outputs(mech, x2, n, 2));
    let count = |o: &HashMap<Vec<Slot>, u64>, y| o.get(y).copied().unwrap_or(0);
    lower_bound(a.keys().chain(b.keys()).map(|y| (count(&a, y), count(&b, y))), n)
}

/// The largest ε lower bound over events seen `k` times under one input and `k2` under the
/// other, in `n` trials each, both directions: ln of a Clopper–Pearson lower bound over an upper.
fn lower_bound(events: impl Iterator<Item = (u64, u64)>, n: u64) -> f64 {
    let mut best = 0.0f64;
    for (k, k2) in events {
        for (k, k2) in [(k, k2), (k2, k)] {
            let (lo, _) = clopper_pearson(k, n, 1e-3);
            let (_, hi) = clopper_pearson(k2, n, 1e-3);
            if lo > 0.0 {
                best = best.max((lo / hi).ln());
            }
        }
    }
    best
}

#[test]
fn clopper_pearson_matches_known_values() {
    // R: binom.test(5, 20)$conf.int = 0.08657147 0.49104587
    let (lo, hi) = clopper_pearson(5, 20, 0.05);
    assert!((lo - 0.086_571_47).abs() < 1e-6 && (hi - 0.491_045_87).abs() < 1e-6, "{lo} {hi}");
}

#[test]
fn audited_epsilon_never_exceeds_the_claim() {
    let cases: Vec<(&str, Mechanism, Vec<u16>, Vec<u16>)> = vec![
        ("segment", Mechanism::for_domains(&[2], 1, 1.0, 4.0).unwrap(), vec![0], vec![1]),
        (
            "2 segments s=2",
            Mechanism::from_items(vec![ItemMechanism::grr(2, 1.0, 4.0); 2], 2, 2),
            vec![0, 0],
            vec![1, 1],
        ),
        (
            "grr group",
            Mechanism::from_items(vec![ItemMechanism::grr(4, 2.0, 8.0)], 0, 1),
            vec![0],
            vec![3],
        ),
        (
            "oue group",
            Mechanism::from_items(vec![ItemMechanism::oue(3, 1.0, 4.0)], 0, 1),
            vec![0],
            vec![2],
        ),
        (
            "ss group",
            Mechanism::from_items(vec![ItemMechanism::ss(4, 2, 1.0, 4.0)], 0, 1),
            vec![0],
            vec![3],
        ),
    ];
    for (name, mech, x, x2) in cases {
        let claimed = mech.eps_report();
        let lower = audit(&mech, &x, &x2, 200_000);
        println!("{name}: audited ε ≥ {lower:.3}, claimed {claimed}");
        assert!(lower <= claimed, "{name}: the audit found ε ≥ {lower} > claimed {claimed}");
        assert!(
            lower >= 0.8 * claimed,
            "{name}: the audit is too weak to be meaningful ({lower} vs {claimed})"
        );
    }
}

#[test]
fn the_audit_catches_a_mechanism_that_leaks() {
    // A mechanism that runs at ε = 2, audited against a claim of ε = 1. (A mechanism cannot
    // claim less than its coins realise: its ε is derived from them.)
    let claimed = ItemMechanism::grr(2, 1.0, 4.0).eps_report();
    let runs = Mechanism::from_items(vec![ItemMechanism::grr(2, 2.0, 8.0)], 1, 1);
    let lower = audit(&runs, &[0], &[1], 200_000);
    assert!(lower > claimed, "audit missed a leak: {lower} against the claimed {claimed}");
}

/// The largest ε lower bound over the events "the report supports x, x2, both or neither" (for
/// answers over many values, where single outputs are too rare to audit), both directions.
fn audit_support(mech: &Mechanism, x: u16, x2: u16, n: u64) -> f64 {
    let item = &mech.items()[0];
    let count = |truth: u16, seed: u64| {
        let mut rng = SimRandomness::new(seed, 0);
        let mut slots = vec![Slot { item: 0, out: 0 }; 1];
        let mut k = [0u64; 4];
        for device in 0..n {
            rng.set_device(seed.wrapping_mul(1_000_003) ^ device);
            mech.privatize(&[truth], &mut rng, &mut slots);
            let (a, b) = (item.supports(slots[0].out, x), item.supports(slots[0].out, x2));
            k[usize::from(a) * 2 + usize::from(b)] += 1;
        }
        k
    };
    let (a, b) = (count(x, 1), count(x2, 2));
    lower_bound(a.into_iter().zip(b), n)
}

#[test]
fn the_32_case_group_the_planner_picks_passes_the_audit_and_the_old_one_would_not() {
    // The campaign that planned ε = −4: 32 cases and none, ε = 1, lifetime 4.
    let mech = Mechanism::for_domains(&[33], 0, 1.0, 4.0).unwrap();
    let claimed = mech.eps_report();
    let lower = audit_support(&mech, 0, 1, 100_000);
    println!(
        "planned {}: audited ε ≥ {lower:.3}, claimed {claimed}",
        mech.items()[0].oracle().name()
    );
    assert!(lower <= claimed, "the audit found ε ≥ {lower} > claimed {claimed}");
    assert!(lower >= 0.8 * claimed, "the audit is too weak to be meaningful: {lower}");
    // The old solver's coins: the subset never holds the permanent answer, claimed ε = 1.
    let item = &mech.items()[0];
    let omega = if item.omega() > 0 { item.omega() } else { 8 };
    let old = dpseg::privacy::mechanism::ItemMechanism::from_coins(
        dpseg::privacy::mechanism::Oracle::Ss,
        33,
        item.memo(),
        dpseg::privacy::coin::Coin::NEVER,
        omega,
        0,
    );
    let leaky = Mechanism::from_items(vec![old], 0, 1);
    let found = audit_support(&leaky, 0, 1, 100_000);
    println!("old coins: audited ε ≥ {found:.3}, claimed 1");
    assert!(found > 1.0, "the audit would have caught the old mechanism: {found}");
}
