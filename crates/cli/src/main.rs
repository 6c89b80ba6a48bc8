//! `dpseg`, the command line (DESIGN §8).
//!
//! Every command prints JSON on stdout with sorted keys; errors go to stderr with a non-zero
//! exit code (1: the input was understood and found wanting, such as lint errors; 2: the input
//! could not be read or parsed).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use dpseg::campaign::{lint, Campaign, LintConfig, Severity};
use dpseg::limits::Limits;
use dpseg::profile::Profile;
use dpseg::schema::Schema;
use dpseg::time::{parse_timestamp, UnixSecs};
use serde_json::Value;

#[derive(Parser)]
#[command(name = "dpseg", version, about = "Privacy-preserving on-device segmentation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Evaluate a campaign's segments and groups for one profile.
    Eval {
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
    },
    /// Review a campaign before launch; exits 1 when there are errors.
    Lint {
        /// Data map (TOML, or JSON by extension).
        #[arg(long)]
        schema: PathBuf,
        /// Campaign (TOML, or JSON by extension).
        #[arg(long)]
        campaign: PathBuf,
        /// The site's cap on ε per report.
        #[arg(long, default_value_t = LintConfig::default().epsilon_max)]
        epsilon_max: f64,
    },
}

/// A failure to report: message for stderr and exit code.
struct Failure(String, u8);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string(), 2)
    }
}

fn read(path: &Path) -> Result<String, Failure> {
    std::fs::read_to_string(path)
        .map_err(|e| Failure(format!("cannot read {}: {e}", path.display()), 2))
}

fn is_json(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "json")
}

fn load_schema(path: &Path, limits: &Limits) -> Result<Schema, Failure> {
    let text = read(path)?;
    let schema = if is_json(path) {
        Schema::from_json(&text, limits)
    } else {
        Schema::from_toml(&text, limits)
    };
    schema.map_err(|e| Failure(format!("{}: {e}", path.display()), 2))
}

fn load_campaign(path: &Path, limits: &Limits) -> Result<Campaign, Failure> {
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

fn now(arg: Option<&str>) -> Result<UnixSecs, Failure> {
    match arg {
        Some(t) => parse_timestamp(t).map_err(|e| Failure(format!("--now: {e}"), 2)),
        None => {
            let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
            Ok(i64::try_from(d.as_secs())?)
        }
    }
}

/// Rebuilds every object with sorted keys, so output order never depends on serde_json features.
fn sorted(v: Value) -> Value {
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

fn print(v: Value) -> Result<(), Failure> {
    println!("{}", serde_json::to_string_pretty(&sorted(v))?);
    Ok(())
}

fn run(cli: Cli) -> Result<ExitCode, Failure> {
    let limits = Limits::default();
    match cli.command {
        Command::Eval { schema, campaign, profile, now: at, explain } => {
            let now = now(at.as_deref())?;
            let schema = load_schema(&schema, &limits)?;
            let campaign_path = campaign;
            let campaign = load_campaign(&campaign_path, &limits)?;
            let compiled = campaign.compile(&schema, &limits).map_err(|findings| {
                let text: Vec<String> = findings.iter().map(ToString::to_string).collect();
                Failure(
                    format!(
                        "{}: campaign does not compile:\n{}",
                        campaign_path.display(),
                        text.join("\n")
                    ),
                    1,
                )
            })?;
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
        Command::Lint { schema, campaign, epsilon_max } => {
            let schema = load_schema(&schema, &limits)?;
            let campaign_path = campaign;
            let campaign = load_campaign(&campaign_path, &limits)?;
            let findings = lint(&campaign, &schema, &LintConfig { epsilon_max }, &limits);
            let errors = findings.iter().filter(|f| f.severity == Severity::Error).count();
            let warnings = findings.len() - errors;
            let config_id =
                campaign.compile(&schema, &limits).ok().map(|c| c.config_id().to_owned());
            print(serde_json::json!({
                "campaign": campaign.id,
                "config_id": config_id,
                "errors": errors,
                "warnings": warnings,
                "findings": findings,
            }))?;
            for f in &findings {
                eprintln!("{}: {f}", campaign_path.display());
            }
            Ok(if errors > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(Failure(message, code)) => {
            eprintln!("error: {message}");
            ExitCode::from(code)
        }
    }
}
