//! `dpseg eval`: every segment and group of a campaign for one profile, optionally with each rule's tree and the data it read.

use std::path::PathBuf;
use std::process::ExitCode;

use dpseg::limits::Limits;
use dpseg::profile::Profile;
use serde_json::Value;

use crate::common::{compile, load_campaign, load_schema, now, print, read, Failure};

/// Evaluate a campaign's segments and groups for one profile.
#[derive(clap::Args)]
pub struct Args {
    /// Data map (TOML, or JSON by extension).
    #[arg(long)]
    schema: PathBuf,
    /// Campaign (TOML, or JSON by extension).
    #[arg(long)]
    campaign: PathBuf,
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
    let Args { schema, campaign, profile, now: at, explain } = args;

    let now = now(at.as_deref())?;
    let schema = load_schema(&schema, &limits)?;
    let campaign_path = campaign;
    let campaign = load_campaign(&campaign_path, &limits)?;
    let compiled = compile(&campaign, &campaign_path, &schema, &limits)?;
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
