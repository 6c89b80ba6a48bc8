//! What the commands share: reading inputs (with the path in every error), the clock, printing
//! JSON with sorted keys, and the failure type with its exit code.

use std::path::{Path, PathBuf};

use dpseg::campaign::{Campaign, CompiledCampaign};
use dpseg::limits::Limits;
use dpseg::schema::Schema;
use dpseg::simulate::Truth;
use dpseg::time::{parse_timestamp, UnixSecs};
use serde_json::Value;

/// A failure to report: message for stderr and exit code.
pub struct Failure(pub String, pub u8);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string(), 2)
    }
}

pub fn read(path: &Path) -> Result<String, Failure> {
    std::fs::read_to_string(path)
        .map_err(|e| Failure(format!("cannot read {}: {e}", path.display()), 2))
}

pub fn is_json(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "json")
}

/// `--campaign`, the flag every command that reads a campaign shares.
#[derive(clap::Args)]
pub struct CampaignArg {
    /// Campaign (TOML, or JSON by extension).
    #[arg(long)]
    pub campaign: PathBuf,
}

impl CampaignArg {
    /// The campaign file, read and checked.
    pub fn load(&self, limits: &Limits) -> Result<Campaign, Failure> {
        load_campaign(&self.campaign, limits)
    }
}

/// `--schema` and `--campaign`, for the commands that read both.
#[derive(clap::Args)]
pub struct Inputs {
    /// Data map (TOML, or JSON by extension).
    #[arg(long, value_name = "DATA_MAP")]
    pub schema: PathBuf,
    #[command(flatten)]
    pub campaign: CampaignArg,
}

impl Inputs {
    /// The data map and the campaign, read and checked (every error names its file).
    pub fn load(&self, limits: &Limits) -> Result<(Schema, Campaign), Failure> {
        Ok((load_schema(&self.schema, limits)?, self.campaign.load(limits)?))
    }
}

pub fn load_schema(path: &Path, limits: &Limits) -> Result<Schema, Failure> {
    let text = read(path)?;
    let schema = if is_json(path) {
        Schema::from_json(&text, limits)
    } else {
        Schema::from_toml(&text, limits)
    };
    schema.map_err(|e| Failure(format!("{}: {e}", path.display()), 2))
}

pub fn load_campaign(path: &Path, limits: &Limits) -> Result<Campaign, Failure> {
    let text = read(path)?;
    let campaign = if is_json(path) {
        serde_json::from_str::<Value>(&text)
            .map_err(|e| Failure(format!("{}: campaign: {e}", path.display()), 2))
            .and_then(|v| {
                Campaign::from_json_value(&v, limits).map_err(|e| Failure(e.to_string(), 2))
            })
    } else {
        Campaign::from_toml(&text, limits).map_err(|e| Failure(e.to_string(), 2))
    };
    campaign.map_err(|Failure(m, c)| Failure(format!("{}: {m}", path.display()), c))
}

pub fn now(arg: Option<&str>) -> Result<UnixSecs, Failure> {
    match arg {
        Some(t) => parse_timestamp(t).map_err(|e| Failure(format!("--now: {e}"), 2)),
        None => {
            let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
            Ok(i64::try_from(d.as_secs())?)
        }
    }
}

/// Rebuilds every object with sorted keys, so output order never depends on serde_json features.
pub fn sorted(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<_> = m.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sorted).collect()),
        v => v,
    }
}

pub fn print(v: Value) -> Result<(), Failure> {
    println!("{}", serde_json::to_string_pretty(&sorted(v))?);
    Ok(())
}

pub fn compile(
    campaign: &Campaign,
    path: &Path,
    schema: &Schema,
    limits: &Limits,
) -> Result<CompiledCampaign, Failure> {
    campaign.compile(schema, limits).map_err(|findings| {
        let text: Vec<String> = findings.iter().map(ToString::to_string).collect();
        Failure(format!("{}: campaign does not compile:\n{}", path.display(), text.join("\n")), 1)
    })
}

pub fn read_json(path: &Path) -> Result<Value, Failure> {
    serde_json::from_str(&read(path)?).map_err(|e| Failure(format!("{}: {e}", path.display()), 2))
}

/// Reads membership rates, refusing unknown ids and rates outside [0, 1].
pub fn read_truth(path: &Path, campaign: &Campaign) -> Result<Truth, Failure> {
    let doc = read_json(path)?;
    let bad = |m: String| Failure(format!("{}: {m}", path.display()), 2);
    let rate = |v: &Value, at: &str| -> Result<f64, Failure> {
        v.as_f64()
            .filter(|r| (0.0..=1.0).contains(r))
            .ok_or_else(|| bad(format!("{at}: expected a rate between 0 and 1, found {v}")))
    };
    check_keys(&doc, &["segments", "groups"], "$").map_err(bad)?;
    let mut truth = Truth { segments: vec![0.0; campaign.segments().len()], groups: Vec::new() };
    if let Some(obj) = doc.get("segments").and_then(Value::as_object) {
        for (id, v) in obj {
            let i = campaign
                .segment_index(id)
                .ok_or_else(|| bad(format!("$.segments.{id}: unknown segment")))?;
            truth.segments[i] = rate(v, &format!("$.segments.{id}"))?;
        }
    }
    for g in campaign.groups() {
        let mut cases = vec![0.0; g.cases.len()];
        if let Some(obj) = doc.pointer(&format!("/groups/{}", g.id)).and_then(Value::as_object) {
            for (id, v) in obj {
                let k = g
                    .cases
                    .iter()
                    .position(|c| c.id == *id)
                    .ok_or_else(|| bad(format!("$.groups.{}.{id}: unknown case", g.id)))?;
                cases[k] = rate(v, &format!("$.groups.{}.{id}", g.id))?;
            }
        }
        if cases.iter().sum::<f64>() > 1.0 + 1e-9 {
            return Err(bad(format!("$.groups.{}: case rates add up to more than 1", g.id)));
        }
        truth.groups.push(cases);
    }
    if let Some(obj) = doc.get("groups").and_then(Value::as_object) {
        if let Some(id) = obj.keys().find(|id| campaign.group_index(id).is_none()) {
            return Err(bad(format!("$.groups.{id}: unknown group")));
        }
    }
    Ok(truth)
}

pub fn check_keys(doc: &Value, allowed: &[&str], at: &str) -> Result<(), String> {
    match doc.as_object() {
        Some(obj) => match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(format!("{at}.{k}: unknown field; expected {}", allowed.join(" or "))),
            None => Ok(()),
        },
        None => Err(format!("{at}: expected an object")),
    }
}
