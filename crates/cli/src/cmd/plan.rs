//! `dpseg plan`: the planner's expected error of every segment and case for a number of devices.

use std::path::PathBuf;
use std::process::ExitCode;

use dpseg::limits::Limits;
use dpseg::simulate::Truth;
use dpseg::wire::Plan;

use crate::common::{print, read_truth, CampaignArg, Failure};

/// Expected error of every segment and case for a number of devices.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    campaign: CampaignArg,
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

    let campaign = campaign.load(&limits)?;
    let mechanism = campaign.plan_mechanism().map_err(|e| Failure(e.to_string(), 1))?;
    let truth = match truth {
        Some(path) => read_truth(&path, &campaign)?,
        None => Truth {
            segments: vec![0.05; campaign.segments().len()],
            groups: campaign.groups().iter().map(|g| vec![0.05; g.cases.len()]).collect(),
        },
    };
    let segs = campaign.segments().len();
    let plan = Plan::new(&campaign, &mechanism, devices, |i, v| {
        if i < segs {
            truth.segments[i]
        } else {
            truth.groups[i - segs][v]
        }
    });
    print(serde_json::to_value(plan)?)?;
    Ok(ExitCode::SUCCESS)
}
