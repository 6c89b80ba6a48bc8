//! Limits on everything that comes from outside.
//!
//! Every input the core accepts has a bound, named `*_max`, with the default documented here and
//! in `docs/limits.md` (a test compares the two). Limits are plain data: callers that need other
//! bounds build a [`Limits`] with struct-update syntax
//! (`Limits { rule_nodes_max: 512, ..Limits::default() }`) or read them by name from JSON
//! (`{"rule_nodes_max": 512}`, the others default; an unknown name is refused).

/// Bounds on schemas, profiles, rules and campaigns.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Bytes of one rule's text. Default 4096 (docs/limits.md).
    pub rule_bytes_max: usize,
    /// Nodes of one rule's syntax tree. Default 256 (docs/limits.md).
    pub rule_nodes_max: usize,
    /// Nesting depth of one rule's syntax tree. Default 32 (docs/limits.md).
    pub rule_depth_max: usize,
    /// Items in one `[...]` list literal. Default 64.
    pub list_items_max: usize,
    /// Segments in one campaign. Default 256 (docs/limits.md).
    pub segments_max: usize,
    /// Groups in one campaign. Default 64.
    pub groups_max: usize,
    /// Cases in one group. Default 64 (docs/limits.md).
    pub group_cases_max: usize,
    /// Bytes of a campaign file. Default 1 MiB.
    pub campaign_bytes_max: usize,
    /// Attributes in a schema. Default 512.
    pub schema_attributes_max: usize,
    /// Event types in a schema. Default 128.
    pub schema_events_max: usize,
    /// Properties of one event type. Default 32.
    pub event_props_max: usize,
    /// Words in one closed vocabulary (`values = [...]`). Default 1024.
    pub vocabulary_max: usize,
    /// Bytes of a schema file. Default 1 MiB.
    pub schema_bytes_max: usize,
    /// Events one profile holds. Default 10000.
    pub profile_events_max: usize,
    /// Strings in one `set` attribute value. Default 256.
    pub set_values_max: usize,
    /// Bytes of one string value in a profile. Default 1024.
    pub string_bytes_max: usize,
    /// Bytes of a profile document. Default 4 MiB.
    pub profile_bytes_max: usize,
    /// Bytes of an identifier (attribute, event, property, segment, group, case, campaign id).
    /// Default 64.
    pub ident_bytes_max: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            rule_bytes_max: 4096,
            rule_nodes_max: 256,
            rule_depth_max: 32,
            list_items_max: 64,
            segments_max: 256,
            groups_max: 64,
            group_cases_max: 64,
            campaign_bytes_max: 1 << 20,
            schema_attributes_max: 512,
            schema_events_max: 128,
            event_props_max: 32,
            vocabulary_max: 1024,
            schema_bytes_max: 1 << 20,
            profile_events_max: 10_000,
            set_values_max: 256,
            string_bytes_max: 1024,
            profile_bytes_max: 4 << 20,
            ident_bytes_max: 64,
        }
    }
}
