//! `dpseg simulate`: a population reporting over epochs, estimated, against the true counts.

use std::path::PathBuf;
use std::process::ExitCode;

use dpseg::estimate::Estimate;
use dpseg::limits::Limits;
use dpseg::simulate::Population;
use dpseg::wire::{estimate_of, PerValue};
use serde_json::Value;

use crate::common::{print, read_truth, CampaignArg, Failure};

/// Simulate a population reporting over epochs, and estimate every segment and case.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    campaign: CampaignArg,
    /// Number of devices.
    #[arg(long)]
    devices: u64,
    /// Membership rates (JSON): `{"segments": {id: rate}, "groups": {id: {case: rate}}}`.
    #[arg(long)]
    truth: PathBuf,
    /// Epochs to simulate.
    #[arg(long, default_value_t = 1)]
    epochs: u32,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// A value's true count beside its estimate.
#[derive(serde::Serialize)]
struct Stats {
    true_count: u64,
    #[serde(flatten)]
    estimate: Estimate,
}

/// Runs the command.
pub fn run(args: Args) -> Result<ExitCode, Failure> {
    let limits = Limits::default();
    let Args { campaign, devices, truth, epochs, seed } = args;

    let campaign = campaign.load(&limits)?;
    let mechanism = campaign.plan_mechanism().map_err(|e| Failure(e.to_string(), 1))?;
    let truth = read_truth(&truth, &campaign)?;
    let population = Population::new(&mechanism, &truth, devices, seed);
    let counts = population.true_counts(&mechanism);
    // Timed: privatising, aggregating and estimating (not drawing the population).
    let started = std::time::Instant::now();
    let runs = population.run(&mechanism, epochs, seed);
    let epochs: Vec<Value> = runs
        .iter()
        .map(|r| {
            let values = PerValue::of(&campaign, |i, v| Stats {
                true_count: counts[i][v],
                estimate: estimate_of(&mechanism, &r.tally, i, v),
            });
            serde_json::json!({"epoch": r.epoch, "segments": values.segments, "groups": values.groups})
        })
        .collect();
    let elapsed_secs = started.elapsed().as_secs_f64();
    print(serde_json::json!({
        "devices": devices,
        "elapsed_secs": elapsed_secs,
        "epsilon_report": mechanism.eps_report(),
        "per_report": mechanism.per_report(),
        "epochs": epochs,
    }))?;
    Ok(ExitCode::SUCCESS)
}
