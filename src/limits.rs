//! Limits on everything that comes from outside.
//!
//! Every input the core accepts has a bound, named `*_max`, with the default documented here and
//! in `docs/limits.md` (a test compares the two). A [`Limits`] is valid by construction: start
//! from [`Limits::default`] and change a bound with its `with_*` method
//! (`Limits::default().with_rule_nodes_max(512)?`), or read bounds by name from JSON
//! (`{"rule_nodes_max": 512}`, the others default; an unknown name is refused). Both check what
//! the rest of the crate relies on: every bound at least 1, and every rule, item and group value
//! of a campaign within limits numbered with 16 bits (the compiled form's rule, item and value
//! indexes).

use crate::prelude::*;

/// Why a set of limits was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitsError(String);

impl core::fmt::Display for LimitsError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

impl core::error::Error for LimitsError {}

/// The most rules, items or values of one item a compiled campaign numbers (16-bit indexes).
const INDEXED_MAX: usize = u16::MAX as usize;

macro_rules! limits {
    ($($(#[doc = $doc:literal])* $name:ident = $default:expr, $with:ident;)*) => {
        /// Bounds on schemas, profiles, rules and campaigns.
        #[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "LimitsDoc")]
        pub struct Limits {
            $($(#[doc = $doc])* pub(crate) $name: usize,)*
        }

        /// The JSON form: any subset of the bounds by name, the others at their defaults.
        #[derive(serde::Deserialize)]
        #[serde(default, deny_unknown_fields)]
        struct LimitsDoc {
            $($name: usize,)*
        }

        impl Default for LimitsDoc {
            fn default() -> Self {
                LimitsDoc { $($name: $default,)* }
            }
        }

        impl TryFrom<LimitsDoc> for Limits {
            type Error = LimitsError;
            fn try_from(d: LimitsDoc) -> Result<Limits, LimitsError> {
                Limits { $($name: d.$name,)* }.checked()
            }
        }

        impl Default for Limits {
            fn default() -> Self {
                Limits { $($name: $default,)* }
            }
        }

        impl Limits {
            fn checked(self) -> Result<Limits, LimitsError> {
                $(if self.$name == 0 {
                    return Err(LimitsError(format!(
                        "{} is 0; every limit must be at least 1", stringify!($name)
                    )));
                })*
                // Every rule of a campaign (segments, then each group's cases), every item and
                // every group value (its cases and "none") has a 16-bit index.
                let rules = self.groups_max.saturating_mul(self.group_cases_max)
                    .saturating_add(self.segments_max);
                if rules > INDEXED_MAX || self.group_cases_max >= INDEXED_MAX {
                    return Err(LimitsError(format!(
                        "segments_max + groups_max × group_cases_max is {rules}; a campaign \
                         numbers at most {INDEXED_MAX} rules"
                    )));
                }
                Ok(self)
            }

            $(
                $(#[doc = $doc])*
                pub fn $name(&self) -> usize {
                    self.$name
                }

                #[doc = concat!("These limits with `", stringify!($name), "` set to `value`.")]
                ///
                /// # Errors
                /// A bound of 0, or campaigns whose rules would no longer fit 16-bit indexes.
                pub fn $with(self, value: usize) -> Result<Limits, LimitsError> {
                    Limits { $name: value, ..self }.checked()
                }
            )*
        }
    };
}

limits! {
    /// Bytes of one rule's text. Default 4096 (docs/limits.md).
    rule_bytes_max = 4096, with_rule_bytes_max;
    /// Nodes of one rule's syntax tree. Default 256 (docs/limits.md).
    rule_nodes_max = 256, with_rule_nodes_max;
    /// Nesting depth of one rule's syntax tree. Default 32 (docs/limits.md).
    rule_depth_max = 32, with_rule_depth_max;
    /// Items in one `[...]` list literal. Default 64.
    list_items_max = 64, with_list_items_max;
    /// Segments in one campaign. Default 256 (docs/limits.md).
    segments_max = 256, with_segments_max;
    /// Groups in one campaign. Default 64.
    groups_max = 64, with_groups_max;
    /// Cases in one group. Default 64 (docs/limits.md).
    group_cases_max = 64, with_group_cases_max;
    /// Bytes of a campaign file. Default 1 MiB.
    campaign_bytes_max = 1 << 20, with_campaign_bytes_max;
    /// Attributes in a schema. Default 512.
    schema_attributes_max = 512, with_schema_attributes_max;
    /// Event types in a schema. Default 128.
    schema_events_max = 128, with_schema_events_max;
    /// Properties of one event type. Default 32.
    event_props_max = 32, with_event_props_max;
    /// Words in one closed vocabulary (`values = [...]`). Default 1024.
    vocabulary_max = 1024, with_vocabulary_max;
    /// Bytes of a schema file. Default 1 MiB.
    schema_bytes_max = 1 << 20, with_schema_bytes_max;
    /// Events one profile holds. Default 10000.
    profile_events_max = 10_000, with_profile_events_max;
    /// Strings in one `set` attribute value. Default 256.
    set_values_max = 256, with_set_values_max;
    /// Bytes of one string value in a profile. Default 1024.
    string_bytes_max = 1024, with_string_bytes_max;
    /// Bytes of a profile document. Default 4 MiB.
    profile_bytes_max = 4 << 20, with_profile_bytes_max;
    /// Bytes of an identifier (attribute, event, property, segment, group, case, campaign id).
    /// Default 64.
    ident_bytes_max = 64, with_ident_bytes_max;
}
