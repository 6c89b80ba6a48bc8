//! `dpseg lint`: the governance review of a campaign against a data map and the site's caps,
//! and the words its visitors will read; exit 1 on errors.

use std::process::ExitCode;

use dpseg::campaign::{review, wording, LintConfig};
use dpseg::limits::Limits;
use dpseg::wire::LintReport;

use crate::common::{print, Failure, Inputs};

/// Review a campaign before launch; exits 1 when there are errors.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    inputs: Inputs,
    /// The site's cap on ε per report.
    #[arg(long, default_value_t = LintConfig::default().epsilon_max)]
    epsilon_max: f64,
    /// Devices expected per epoch, for the planner's warning.
    #[arg(long, default_value_t = LintConfig::default().devices)]
    devices: u64,
}

/// Runs the command.
pub fn run(args: Args) -> Result<ExitCode, Failure> {
    let limits = Limits::default();
    let Args { inputs, epsilon_max, devices } = args;

    let (schema, campaign) = inputs.load(&limits)?;
    let campaign_path = &inputs.campaign.campaign;
    let (compiled, mut findings) = review(
        &campaign,
        &schema,
        &LintConfig { epsilon_max, devices, ..LintConfig::default() },
        &limits,
    );
    // What the visitor will read: warnings beside the review, once the rules compile.
    if let Some(c) = &compiled {
        findings.extend(wording(c, &schema));
    }
    let config_id = compiled.map(|c| c.config_id().to_owned());
    let report = LintReport::new(&campaign, config_id, findings);
    print(serde_json::to_value(&report)?)?;
    for f in &report.findings {
        eprintln!("{}: {f}", campaign_path.display());
    }
    Ok(if report.errors > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
