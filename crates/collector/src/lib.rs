//! The dpseg collector (DESIGN §9).
//!
//! The HTTP server, storage backends and estimates arrive with the collector issue. Today this
//! crate only loads and checks a campaign directory, which `dpseg serve` will build on.

use std::path::Path;

use dpseg::campaign::{lint, Campaign, Finding, LintConfig, Severity};
use dpseg::limits::Limits;
use dpseg::schema::Schema;

/// A campaign file and what the lint found in it.
#[derive(Debug)]
pub struct Checked {
    /// The file.
    pub path: std::path::PathBuf,
    /// The campaign, when the file parsed.
    pub campaign: Result<Campaign, String>,
    /// Lint findings.
    pub findings: Vec<Finding>,
}

impl Checked {
    /// True when the campaign parsed and has no error findings.
    pub fn is_ok(&self) -> bool {
        self.campaign.is_ok() && self.findings.iter().all(|f| f.severity != Severity::Error)
    }
}

/// Reads every `*.toml` in `dir` (sorted by name) and lints it against `schema`.
///
/// # Errors
/// When the directory cannot be read.
pub fn check_campaign_dir(
    dir: &Path,
    schema: &Schema,
    config: &LintConfig,
    limits: &Limits,
) -> std::io::Result<Vec<Checked>> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path)?;
        let campaign = Campaign::from_toml(&text, limits).map_err(|e| e.to_string());
        let findings =
            campaign.as_ref().map(|c| lint(c, schema, config, limits)).unwrap_or_default();
        out.push(Checked { path, campaign, findings });
    }
    Ok(out)
}
