//! Limits on everything that comes from outside.
//!
//! Every input the core accepts has a bound, named `*_max`, with the default documented here and
//! in `docs/limits.md`. Limits are plain data: callers that need other bounds build a [`Limits`]
//! with struct-update syntax (`Limits { rule_nodes_max: 512, ..Limits::default() }`).

/// Bounds on schemas, profiles, rules and campaigns.
#[derive(Debug, Clone, PartialEq, Eq)]
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

impl Limits {
    /// Sets the limit called `name` (a field name, such as `rule_nodes_max`); returns false when
    /// there is no such limit. Spec files and the SDK use this to override limits by name.
    pub fn set(&mut self, name: &str, value: usize) -> bool {
        let slot = match name {
            "rule_bytes_max" => &mut self.rule_bytes_max,
            "rule_nodes_max" => &mut self.rule_nodes_max,
            "rule_depth_max" => &mut self.rule_depth_max,
            "list_items_max" => &mut self.list_items_max,
            "segments_max" => &mut self.segments_max,
            "groups_max" => &mut self.groups_max,
            "group_cases_max" => &mut self.group_cases_max,
            "campaign_bytes_max" => &mut self.campaign_bytes_max,
            "schema_attributes_max" => &mut self.schema_attributes_max,
            "schema_events_max" => &mut self.schema_events_max,
            "event_props_max" => &mut self.event_props_max,
            "vocabulary_max" => &mut self.vocabulary_max,
            "schema_bytes_max" => &mut self.schema_bytes_max,
            "profile_events_max" => &mut self.profile_events_max,
            "set_values_max" => &mut self.set_values_max,
            "string_bytes_max" => &mut self.string_bytes_max,
            "profile_bytes_max" => &mut self.profile_bytes_max,
            "ident_bytes_max" => &mut self.ident_bytes_max,
            _ => return false,
        };
        *slot = value;
        true
    }
}
