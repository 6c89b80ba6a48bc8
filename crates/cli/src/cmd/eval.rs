//! `dpseg eval`: every segment and group of a campaign for one profile, optionally with each rule's tree and the data it read.

use std::path::PathBuf;
use std::process::ExitCode;

use dpseg::limits::Limits;
use dpseg::profile::Profile;
use serde_json::Value;

use crate::common::{compile, now, print, read, Failure, Inputs};

/// Evaluate a campaign's segments and groups for one profile.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    inputs: Inputs,
    /// Profile (JSON).
    #[arg(long)]
    profile: PathBuf,
    /// Evaluation time (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ); default: the clock.
    #[arg(long)]
    now: Option<String>,
    /// Add each rule's tree with every node's value and the data it read.
    #[arg(long)]
    explain: bool,
}

/// Runs the command.
pub fn run(args: Args) -> Result<ExitCode, Failure> {
    let limits = Limits::default();
    let Args { inputs, profile, now: at, explain } = args;

    let now = now(at.as_deref())?;
    let (schema, campaign) = inputs.load(&limits)?;
    let compiled = compile(&campaign, &inputs.campaign.campaign, &schema, &limits)?;
    let text = read(&profile)?;
    let profile = Profile::from_json(&schema, &text, now, &limits)
        .map_err(|e| Failure(format!("{}: {e}", profile.display()), 2))?;
    let membership = compiled.evaluate(&profile, now);
    let mut out = compiled.membership_json(&membership);
    if explain {
        if let Value::Object(m) = &mut out {
            m.insert("explain".into(), compiled.explain_json(&schema, &profile, now));
        }
    }
    print(out)?;
    Ok(ExitCode::SUCCESS)
}
