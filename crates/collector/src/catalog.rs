//! The campaigns a collector serves: read from a directory, linted against the data map and
//! the caps, compiled once at start-up, with the document `GET /v1/campaigns/{id}` serves.

use std::collections::HashMap;
use std::path::Path;

use dpseg::campaign::{review, Campaign, CompiledCampaign, Finding, LintConfig, Severity};
use dpseg::limits::Limits;
use dpseg::privacy::mechanism::Mechanism;
use dpseg::schema::Schema;
use dpseg::wire::CampaignDocument;

/// A campaign as served.
#[derive(Debug, Clone)]
pub struct Served {
    /// Compiled campaign.
    pub compiled: CompiledCampaign,
    /// Its mechanism.
    pub mechanism: Mechanism,
    /// `GET /v1/campaigns/{id}`'s body.
    pub document: CampaignDocument,
}

/// The campaigns a collector serves.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// In id order; a report's campaign is an index into it.
    pub(crate) campaigns: Vec<Served>,
    pub(crate) by_id: HashMap<String, usize>,
}

/// A campaign file and what the lint found in it.
#[derive(Debug)]
pub struct Checked {
    /// The file.
    pub path: std::path::PathBuf,
    /// The campaign, when the file parsed.
    pub campaign: Result<Campaign, String>,
    /// Lint findings.
    pub findings: Vec<Finding>,
    /// The campaign compiled by the lint (none when a rule did not compile).
    pub compiled: Option<CompiledCampaign>,
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
        let (compiled, findings) =
            campaign.as_ref().map(|c| review(c, schema, config, limits)).unwrap_or_default();
        out.push(Checked { path, campaign, findings, compiled });
    }
    Ok(out)
}

impl Catalog {
    /// Builds the catalog from checked campaigns.
    ///
    /// # Errors
    /// A message naming every campaign that failed to parse, lint or compile.
    pub fn new(checked: Vec<Checked>) -> Result<Catalog, String> {
        let mut problems = Vec::new();
        let mut catalog = Catalog::default();
        for c in checked {
            let shown = c.path.display().to_string();
            let ok = c.is_ok();
            let campaign = match c.campaign {
                Ok(campaign) if ok => campaign,
                Ok(_) => {
                    let errors: Vec<String> = c
                        .findings
                        .iter()
                        .filter(|f| f.severity == Severity::Error)
                        .map(|f| format!("{shown}: {f}"))
                        .collect();
                    problems.push(errors.join("\n"));
                    continue;
                }
                Err(e) => {
                    problems.push(format!("{shown}: {e}"));
                    continue;
                }
            };
            // Compiled once, by the lint.
            let Some(compiled) = c.compiled else {
                problems.push(format!("{shown}: campaign does not compile"));
                continue;
            };
            let Some(mechanism) = compiled.mechanism().cloned() else {
                problems.push(format!("{shown}: campaign has no segments or groups to report"));
                continue;
            };
            if catalog.by_id.contains_key(campaign.id()) {
                problems.push(format!("{shown}: campaign id '{}' is served twice", campaign.id()));
                continue;
            }
            let document = CampaignDocument::new(&compiled);
            catalog.by_id.insert(campaign.id().to_owned(), catalog.campaigns.len());
            catalog.campaigns.push(Served { compiled, mechanism, document });
        }
        if problems.is_empty() {
            Ok(catalog)
        } else {
            Err(problems.join("\n"))
        }
    }

    /// The campaign called `id`.
    pub fn get(&self, id: &str) -> Option<&Served> {
        self.by_id.get(id).and_then(|&i| self.campaigns.get(i))
    }

    /// Every campaign.
    pub fn all(&self) -> &[Served] {
        &self.campaigns
    }
}
