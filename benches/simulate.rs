//! `cargo bench --bench simulate`: the core of `dpseg simulate` — 10,000,000 devices × 100
//! segments at ε = 1, one epoch: draw memberships and count the truth, privatise every device's
//! report, aggregate, estimate — on one core. Target: at most 10 s. Prints the figures.

#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "benchmark figures"
)]
#![allow(missing_docs, clippy::unwrap_used, reason = "benchmark harness")]

use std::time::Instant;

use dpseg::estimate::estimates;
use dpseg::privacy::mechanism::Mechanism;
use dpseg::simulate::{Population, Truth};

fn main() {
    // `cargo bench` passes `--bench`; any other argument filters nothing here.
    let devices = 10_000_000u64;
    let d = 100;
    let mech = Mechanism::for_domains(&vec![2; d], 100, 1.0, 4.0).unwrap();
    let truth = Truth {
        segments: (0..d).map(|j| 0.005 * 100f64.powf(j as f64 / (d - 1) as f64)).collect(),
        groups: vec![],
    };
    let start = Instant::now();
    let population = Population::new(&mech, &truth, devices, 1);
    let counts = population.true_counts(&mech);
    let truth_secs = start.elapsed().as_secs_f64();
    let runs = population.run(&mech, 1, 1);
    let report_secs = start.elapsed().as_secs_f64() - truth_secs;
    let est = estimates(&mech, &runs[0].tally);
    let total = start.elapsed().as_secs_f64();
    let covered = est
        .iter()
        .zip(&counts)
        .filter(|(e, c)| e[0].ci_low <= c[1] as f64 && c[1] as f64 <= e[0].ci_high)
        .count();
    println!("simulate: {devices} devices x {d} segments, eps = 1, s = {}", mech.per_report());
    println!("  truth (1e9 memberships): {truth_secs:.2} s");
    println!(
        "  privatise + aggregate:   {report_secs:.2} s ({:.0} ns per device)",
        report_secs * 1e9 / devices as f64
    );
    println!("  total with estimates:    {total:.2} s (target <= 10 s)");
    println!("  intervals covering the truth: {covered} of {d}");
}
