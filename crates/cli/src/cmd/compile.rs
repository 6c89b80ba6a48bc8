//! `dpseg compile`: a campaign compiled against a data map, as the collector serves it to
//! devices (`GET /v1/campaigns/{id}`): the document with its `config_id`, `schema_id` and the
//! compiled bytes (docs/compiled.md). Anyone holding the TOML can compare it with what a
//! collector serves.

use std::process::ExitCode;

use dpseg::limits::Limits;
use dpseg::wire::CampaignDocument;

use crate::common::{compile, print, Failure, Inputs};

/// Compile a campaign to what devices run, with its config_id.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    inputs: Inputs,
}

/// Runs the command.
pub fn run(args: Args) -> Result<ExitCode, Failure> {
    let limits = Limits::default();
    let (schema, campaign) = args.inputs.load(&limits)?;
    let compiled = compile(&campaign, &args.inputs.campaign.campaign, &schema, &limits)?;
    print(serde_json::to_value(CampaignDocument::new(&compiled))?)?;
    Ok(ExitCode::SUCCESS)
}
