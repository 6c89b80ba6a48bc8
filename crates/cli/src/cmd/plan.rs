//! `dpseg plan`: the planner's expected error of every segment and case for a number of devices.

use std::path::PathBuf;
use std::process::ExitCode;

use dpseg::campaign::Campaign;
use dpseg::estimate::expected;
use dpseg::limits::Limits;
use dpseg::privacy::mechanism::Mechanism;
use dpseg::simulate::Truth;
use serde_json::Value;

use crate::common::{load_campaign, print, read_truth, Failure};

/// Expected error of every segment and case for a number of devices.
#[derive(clap::Args)]
pub struct Args {
    /// Campaign (TOML, or JSON by extension).
    #[arg(long)]
    campaign: PathBuf,
    /// Devices reporting per epoch.
    #[arg(long)]
    devices: u64,
    /// Membership rates (JSON, as for `simulate`); default 5% for every segment and case.
    #[arg(long)]
    truth: Option<PathBuf>,
}

/// Runs the command.
pub fn run(args: Args) -> Result<ExitCode, Failure> {
    let limits = Limits::default();
    let Args { campaign, devices, truth } = args;

    let campaign = load_campaign(&campaign, &limits)?;
    let mechanism = Mechanism::plan(&campaign).map_err(|e| Failure(e.to_string(), 1))?;
    let truth = match truth {
        Some(path) => read_truth(&path, &campaign)?,
        None => Truth {
            segments: vec![0.05; campaign.segments.len()],
            groups: campaign.groups.iter().map(|g| vec![0.05; g.cases.len()]).collect(),
        },
    };
    print(plan_json(&campaign, &mechanism, &truth, devices))?;
    Ok(ExitCode::SUCCESS)
}

fn plan_json(campaign: &Campaign, mechanism: &Mechanism, truth: &Truth, devices: u64) -> Value {
    let describe = |i: usize, rate: f64| {
        let item = &mechanism.items()[i];
        let (std, half) = expected(item, mechanism, devices, rate);
        serde_json::json!({
            "mechanism": item.oracle.name(),
            "epsilon": item.eps_report,
            "rate": rate,
            "expected_reports": devices as f64 * f64::from(mechanism.per_report()) / mechanism.items().len() as f64,
            "std": std,
            "half_width_95": half,
        })
    };
    let segs = campaign.segments.len();
    let (segments, groups) = campaign.per_value_json(|i, v| {
        describe(i, if i < segs { truth.segments[i] } else { truth.groups[i - segs][v] })
    });
    serde_json::json!({
        "campaign": campaign.id,
        "devices": devices,
        "epsilon_report": mechanism.eps_report(),
        "epsilon_lifetime": mechanism.eps_lifetime(),
        "per_report": mechanism.per_report(),
        "items": mechanism.items().len(),
        "segments": segments,
        "groups": groups,
    })
}
