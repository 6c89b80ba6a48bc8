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
pub enum Refusal {
    /// Compiled against another data map: its attribute and event ids would mean other data.
    SchemaMismatch,
    /// The program reads an attribute or event id the data map does not have.
    UnknownData,
    /// The program reads data (`name`) whose purposes do not include the campaign's.
    Purpose {
        /// The attribute or event.
        name: String,
    },
    /// The program reads sensitive data (`name`) that the campaign's review does not cover.
    Sensitive {
        /// The attribute or event.
        name: String,
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

impl Refusal {
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

    /// What is wrong, without the data's name (built without `core::fmt`, for the runtime;
    /// the name is in [`Refusal::data`]).
    pub fn what(&self) -> &'static str {
        match self {
            Refusal::SchemaMismatch => {
                "the campaign was compiled against another data map than this device's"
            }
            Refusal::UnknownData => "the campaign reads data the data map does not have",
            Refusal::Purpose { .. } => {
                "the campaign reads data whose purposes do not include the campaign's"
            }
            Refusal::Sensitive { .. } => {
                "the campaign reads sensitive data its review does not cover"
            }
            Refusal::Empty => "campaign has no segments or groups",
            Refusal::OverCap { .. } => {
                "one report of this campaign costs more ε than the site allows"
            }
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

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Purpose { name } | Refusal::Sensitive { name } => {
                write!(f, "{}: '{name}'", self.what())
            }
            Refusal::OverCap { epsilon, max, window } => write!(
                f,
                "one report of this campaign costs ε = {epsilon}, above the site's {} of {max}",
                if *window { "window cap" } else { "cap per report" }
            ),
            _ => f.write_str(self.what()),
        }
    }
}

impl core::error::Error for Refusal {}

/// One attribute or event a program reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Read {
    Attr(u16),
    Event(u16),
}

impl Runnable {
    /// The attributes and events the program reads, each once, attributes first.
    fn reads(&self) -> Vec<Read> {
        let mut out: Vec<Read> = self
            .program
            .nodes
            .iter()
            .filter_map(|n| match n {
                Node::Attr(a) => Some(Read::Attr(*a)),
                Node::Count { ev, .. }
                | Node::Aggregate { ev, .. }
                | Node::Occurrence { ev, .. } => Some(Read::Event(*ev)),
                _ => None,
            })
            .collect();
        crate::sort::heapsort_by(&mut out, |a, b| a < b);
        out.dedup();
        out
    }

    /// Name, purposes and sensitivity of what `read` names in `schema`.
    fn describe(schema: &Schema, read: Read) -> Option<(&str, &[String], Option<Sensitivity>)> {
        match read {
            Read::Attr(a) => schema
                .attribute_by_id(a)
                .map(|d| (d.name.as_str(), d.purposes.as_slice(), d.sensitive)),
            Read::Event(e) => {
                schema.event_by_id(e).map(|d| (d.name.as_str(), d.purposes.as_slice(), d.sensitive))
            }
        }
    }

    /// The sensitive attributes and events the program reads, with their category, in data
    /// map order (attributes, then events, each by name): what a visitor is asked to allow for
    /// this campaign alone. Data the data map does not have is left out ([`Runnable::check`]
    /// refuses it).
    pub fn sensitive_reads<'s>(&self, schema: &'s Schema) -> Vec<(&'s str, Sensitivity)> {
        self.reads()
            .into_iter()
            .filter_map(|r| Runnable::describe(schema, r))
            .filter_map(|(name, _, s)| Some((name, s?)))
            .collect()
    }

    /// What a device checks before it runs this campaign with the data map `schema`, whose
    /// `schema_id` the device computed itself, under the site's caps. The mechanism's ε is the
    /// one the bytes state, read for evaluation; the report module, the only code that spends
    /// ε, reads the mechanism from its coins and refuses figures that differ
    /// ([`Runnable::from_compact`]), and its ledger applies the caps again.
    ///
    /// # Errors
    /// The first problem found, in the order of [`Refusal`]'s variants.
    pub fn check(
        &self,
        schema: &Schema,
        schema_id: &str,
        policy: &SitePolicy,
    ) -> Result<(), Refusal> {
        if self.head.schema_id != schema_id {
            return Err(Refusal::SchemaMismatch);
        }
        for read in self.reads() {
            let Some((name, purposes, sensitive)) = Runnable::describe(schema, read) else {
                return Err(Refusal::UnknownData);
            };
            if !purposes.contains(&self.head.purpose) {
                return Err(Refusal::Purpose { name: name.to_owned() });
            }
            if sensitive.is_some() && !self.head.covers.iter().any(|c| c == name) {
                return Err(Refusal::Sensitive { name: name.to_owned() });
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
        Ok(())
    }
}
