//! What a device checks of a compiled campaign before it runs it (docs/compiled.md, "What a
//! device checks"): the campaign was compiled against the data map the device holds, every
//! attribute and event its program reads allows the campaign's purpose, every sensitive one is
//! covered by the campaign's review, and one report costs no more ε than the site allows.
//!
//! These are the lint's errors about data and ε, decided from what the device will run rather
//! than from the rule text: the program's nodes are exactly the data it reads.

use crate::prelude::*;

use core::fmt;

use super::Runnable;
use crate::privacy::ledger::SitePolicy;
use crate::rules::ir::Node;
use crate::schema::{Schema, Sensitivity};

/// Why a device refuses to run a compiled campaign.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal<'s> {
    /// Compiled against another data map: its attribute and event ids would mean other data.
    SchemaMismatch,
    /// The program reads an attribute or event id the data map does not have.
    UnknownData,
    /// The program reads data (`name`) whose purposes do not include the campaign's.
    Purpose {
        /// The attribute or event.
        name: &'s str,
    },
    /// The program reads sensitive data (`name`) that the campaign's review does not cover.
    Sensitive {
        /// The attribute or event.
        name: &'s str,
    },
    /// Nothing to evaluate or report.
    Empty,
    /// One report costs `epsilon`, above the site's `max` per report (`window` false) or per
    /// rolling window (`window` true).
    OverCap {
        /// ε of one report.
        epsilon: f64,
        /// The cap.
        max: f64,
        /// Whether the window's cap (rather than the per-report cap) is exceeded.
        window: bool,
    },
}

impl Refusal<'_> {
    /// A stable code for APIs.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::SchemaMismatch => "schema-mismatch",
            Refusal::UnknownData => "unknown-data",
            Refusal::Purpose { .. } => "purpose-mismatch",
            Refusal::Sensitive { .. } => "sensitive-without-review",
            Refusal::Empty => "campaign-empty",
            Refusal::OverCap { window: false, .. } => "over-report-cap",
            Refusal::OverCap { window: true, .. } => "over-window-cap",
        }
    }

    /// What is wrong with the campaign, briefly and without the data's name (no `core::fmt`
    /// in the runtime; the name is in [`Refusal::data`]).
    pub fn what(&self) -> &'static str {
        match self {
            Refusal::SchemaMismatch => "compiled against another data map",
            Refusal::UnknownData => "reads data the data map does not have",
            Refusal::Purpose { .. } => "reads data not allowed for its purpose",
            Refusal::Sensitive { .. } => "reads sensitive data its review does not cover",
            Refusal::Empty => "campaign has no segments or groups",
            Refusal::OverCap { .. } => "one report costs more ε than the site allows",
        }
    }

    /// The attribute or event at fault, if any.
    pub fn data(&self) -> Option<&str> {
        match self {
            Refusal::Purpose { name } | Refusal::Sensitive { name } => Some(name),
            _ => None,
        }
    }
}

impl fmt::Display for Refusal<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Purpose { name } | Refusal::Sensitive { name } => {
                write!(f, "the campaign {}: '{name}'", self.what())
            }
            Refusal::OverCap { epsilon, max, window } => write!(
                f,
                "one report of this campaign costs ε = {epsilon}, above the site's {} of {max}",
                if *window { "window cap" } else { "cap per report" }
            ),
            _ => write!(f, "the campaign {}", self.what()),
        }
    }
}

impl core::error::Error for Refusal<'_> {}

/// An attribute's or event's name, purposes and sensitivity.
type Datum<'s> = (&'s str, &'s [String], Option<Sensitivity>);

impl Runnable {
    /// Name, purposes and sensitivity of the attribute or event node `n` reads, if it reads
    /// one: `Some(None)` when the data map has no such id.
    fn reads<'s>(schema: &'s Schema, n: &Node) -> Option<Option<Datum<'s>>> {
        let def = |d: Option<Datum<'s>>| Some(d);
        match n {
            Node::Attr(a) => def(schema
                .attribute_by_id(*a)
                .map(|d| (d.name.as_str(), d.purposes.as_slice(), d.sensitive))),
            Node::Count { ev, .. } | Node::Aggregate { ev, .. } | Node::Occurrence { ev, .. } => {
                def(schema
                    .event_by_id(*ev)
                    .map(|d| (d.name.as_str(), d.purposes.as_slice(), d.sensitive)))
            }
            _ => None,
        }
    }

    /// What a device checks before it runs this campaign with the data map `schema`, whose
    /// `schema_id` the device computed itself, under the site's caps. Returns the sensitive
    /// attributes and events the program reads, with their category, in the order it first
    /// reads them: what a visitor is asked to allow for this campaign alone.
    ///
    /// The mechanism's ε is the one the bytes state, read for evaluation; the report module,
    /// the only code that spends ε, reads the mechanism from its coins and refuses figures that
    /// differ ([`Runnable::from_compact`]), and its ledger applies the caps again.
    ///
    /// # Errors
    /// The first problem found: the data map, then each datum in program order (purpose before
    /// review), then ε.
    pub fn check<'s>(
        &self,
        schema: &'s Schema,
        schema_id: &str,
        policy: &SitePolicy,
    ) -> Result<Vec<(&'s str, Sensitivity)>, Refusal<'s>> {
        if self.head.schema_id != schema_id {
            return Err(Refusal::SchemaMismatch);
        }
        let mut sensitive: Vec<(&'s str, Sensitivity)> = Vec::new();
        for n in &self.program.nodes {
            let Some(read) = Runnable::reads(schema, n) else { continue };
            let Some((name, purposes, category)) = read else {
                return Err(Refusal::UnknownData);
            };
            if !purposes.contains(&self.head.purpose) {
                return Err(Refusal::Purpose { name });
            }
            if let Some(category) = category {
                if !self.head.covers.iter().any(|c| c == name) {
                    return Err(Refusal::Sensitive { name });
                }
                if !sensitive.iter().any(|&(n, _)| n == name) {
                    sensitive.push((name, category));
                }
            }
        }
        let Some(epsilon) = self.mechanism.as_ref().map(|m| m.eps_report()) else {
            return Err(Refusal::Empty);
        };
        for (max, window) in [(policy.epsilon_report_max, false), (policy.epsilon_window_max, true)]
        {
            // A NaN ε is refused too.
            if epsilon.is_nan() || epsilon > max {
                return Err(Refusal::OverCap { epsilon, max, window });
            }
        }
        Ok(sensitive)
    }
}
