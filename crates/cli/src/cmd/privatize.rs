//! `dpseg privatize`: reports (JSON lines) of fresh devices with one membership.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use dpseg::campaign::{Campaign, Membership};
use dpseg::limits::Limits;
use dpseg::privacy::coin::DeviceRandomness;
use dpseg::privacy::ledger::Secret;
use dpseg::privacy::mechanism::Slot;
use dpseg::report::encode;
use rand_chacha::ChaCha20Rng;
use rand_core::{OsRng, SeedableRng};
use serde_json::Value;

use crate::common::{check_keys, compile, now, read_json, Failure, Inputs};

/// Reports (JSON lines) of fresh devices with one membership.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    inputs: Inputs,
    /// Membership (JSON): `{"segments": {id: bool}, "groups": {id: case or null}}`.
    #[arg(long)]
    membership: PathBuf,
    /// Number of reports (each from a new device).
    #[arg(long)]
    reports: u64,
    /// Epoch number; default: the current one.
    #[arg(long)]
    epoch: Option<u64>,
    /// Seed for reproducible output; default: the OS's randomness.
    #[arg(long)]
    seed: Option<u64>,
}

/// Runs the command.
pub fn run(args: Args) -> Result<ExitCode, Failure> {
    let limits = Limits::default();
    let Args { inputs, membership, reports, epoch, seed } = args;

    let (schema, campaign) = inputs.load(&limits)?;
    let compiled = compile(&campaign, &inputs.campaign.campaign, &schema, &limits)?;
    let mechanism =
        compiled.mechanism().ok_or_else(|| Failure("campaign has nothing to report".into(), 1))?;
    let membership = read_membership(&membership, &campaign)?;
    let epoch = match epoch {
        Some(e) => e,
        None => u64::try_from(now(None)?.div_euclid(campaign.epoch().secs()))?,
    };
    let mut rng = match seed {
        Some(s) => ChaCha20Rng::seed_from_u64(s),
        None => ChaCha20Rng::from_rng(OsRng)
            .map_err(|e| Failure(format!("no OS randomness: {e}"), 2))?,
    };
    let truth = membership.item_values(mechanism);
    let mut slots = vec![Slot { item: 0, out: 0 }; usize::from(mechanism.per_report())];
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for _ in 0..reports {
        // A fresh device: a new secret, so new memoised answers and a new sampled set.
        let prf = Secret::generate(&mut rng).prf(compiled.config_id());
        let mut randomness = DeviceRandomness::one_version(&mut rng, &prf);
        mechanism.privatize(&truth, &mut randomness, &mut slots);
        let report =
            encode(campaign.id(), compiled.config_id(), epoch, mechanism, &slots, &mut randomness);
        writeln!(out, "{}", serde_json::to_string(&report)?)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Reads a membership, refusing unknown segments, groups and cases.
fn read_membership(path: &Path, campaign: &Campaign) -> Result<Membership, Failure> {
    let doc = read_json(path)?;
    let bad = |m: String| Failure(format!("{}: {m}", path.display()), 2);
    check_keys(&doc, &["segments", "groups"], "$").map_err(bad)?;
    let mut m = Membership {
        segments: vec![false; campaign.segments().len()],
        groups: vec![None; campaign.groups().len()],
    };
    if let Some(obj) = doc.get("segments").and_then(Value::as_object) {
        for (id, v) in obj {
            let i = campaign
                .segment_index(id)
                .ok_or_else(|| bad(format!("$.segments.{id}: unknown segment")))?;
            m.segments[i] = v
                .as_bool()
                .ok_or_else(|| bad(format!("$.segments.{id}: expected true or false")))?;
        }
    }
    if let Some(obj) = doc.get("groups").and_then(Value::as_object) {
        for (id, v) in obj {
            let g = campaign
                .group_index(id)
                .ok_or_else(|| bad(format!("$.groups.{id}: unknown group")))?;
            m.groups[g] = match v {
                Value::Null => None,
                Value::String(case) => Some(
                    campaign.groups()[g]
                        .cases
                        .iter()
                        .position(|c| c.id == *case)
                        .and_then(|k| u16::try_from(k).ok())
                        .ok_or_else(|| bad(format!("$.groups.{id}: unknown case '{case}'")))?,
                ),
                _ => return Err(bad(format!("$.groups.{id}: expected a case id or null"))),
            };
        }
    }
    Ok(m)
}
