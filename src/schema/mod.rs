//! The data map: which attributes and events a brand keeps on the device, of what type, from
//! which source, for which purposes, and how sensitive they are (docs/data-map.md).
//!
//! The schema is the basis of purpose limitation: a campaign may only use data whose `purposes`
//! include the campaign's purpose, and data tagged `sensitive` needs a recorded review.
//!
//! Attributes and events are kept sorted by name; their position is their integer id, which the
//! rule compiler uses instead of names.

use crate::prelude::*;

use core::fmt;

use crate::diag::{did_you_mean, suggestion_suffix};
use crate::time::Duration;

/// Index of an attribute in [`Schema::attributes`].
pub type AttrId = u16;
/// Index of an event type in [`Schema::events`].
pub type EventId = u16;
/// Index of a property in [`EventDef::props`].
pub type PropId = u16;

/// The type of an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttrType {
    /// A finite number.
    Number,
    /// A string.
    String,
    /// `true` or `false`.
    Bool,
    /// A set of strings.
    Set,
    /// An instant (Unix seconds).
    Time,
}

impl AttrType {
    #[cfg(feature = "std")]
    fn parse(s: &str) -> Option<AttrType> {
        Some(match s {
            "number" => AttrType::Number,
            "string" => AttrType::String,
            "bool" => AttrType::Bool,
            "set" => AttrType::Set,
            "time" => AttrType::Time,
            _ => return None,
        })
    }

    /// The type's name in the schema.
    pub fn name(self) -> &'static str {
        match self {
            AttrType::Number => "number",
            AttrType::String => "string",
            AttrType::Bool => "bool",
            AttrType::Set => "set",
            AttrType::Time => "time",
        }
    }
}

impl fmt::Display for AttrType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where an attribute's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Zero-party data: the visitor told the brand.
    Declared,
    /// Derived on the device from the visitor's behaviour.
    Observed,
}

/// Special categories of data (GDPR art. 9 and their usual neighbours).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs, reason = "the variant names are the categories")]
pub enum Sensitivity {
    Health,
    Finance,
    Religion,
    Ethnicity,
    Sexuality,
    Politics,
    Children,
    Location,
    Biometric,
}

impl Sensitivity {
    const ALL: [(&'static str, Sensitivity); 9] = [
        ("health", Sensitivity::Health),
        ("finance", Sensitivity::Finance),
        ("religion", Sensitivity::Religion),
        ("ethnicity", Sensitivity::Ethnicity),
        ("sexuality", Sensitivity::Sexuality),
        ("politics", Sensitivity::Politics),
        ("children", Sensitivity::Children),
        ("location", Sensitivity::Location),
        ("biometric", Sensitivity::Biometric),
    ];

    #[cfg(feature = "std")]
    fn parse(s: &str) -> Option<Sensitivity> {
        Self::ALL.iter().find(|(n, _)| *n == s).map(|&(_, v)| v)
    }

    /// The category's name in the schema.
    pub fn name(self) -> &'static str {
        Self::ALL.iter().find(|(_, v)| *v == self).map_or("", |(n, _)| n)
    }
}

/// One attribute of the data map.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeDef {
    /// Name, an identifier.
    pub name: String,
    /// Type of its values.
    pub ty: AttrType,
    /// Where its values come from.
    pub source: Source,
    /// Purposes it may be used for.
    pub purposes: Vec<String>,
    /// Special category, if any.
    pub sensitive: Option<Sensitivity>,
    /// Closed vocabulary for `string` and `set` attributes, sorted; `None` when open.
    pub values: Option<Vec<String>>,
    /// Free text for people.
    pub description: Option<String>,
    /// What the visitor reads about it (labels; never in the compact form, so not in the
    /// browser's runtime, which builds without std and reads only that form).
    #[cfg(feature = "std")]
    pub wording: Wording,
    /// For a number attribute, the values a profile may hold (not in the runtime either: the SDK
    /// checks them there).
    #[cfg(feature = "std")]
    pub range: Range,
}

impl AttributeDef {
    /// True when `word` is allowed by the closed vocabulary (or there is none).
    pub fn allows(&self, word: &str) -> bool {
        self.values.as_ref().is_none_or(|v| v.binary_search_by(|w| w.as_str().cmp(word)).is_ok())
    }
}

/// The type of an event property.
pub type PropType = AttrType;

/// One property of an event type.
#[derive(Debug, Clone, PartialEq)]
pub struct PropDef {
    /// Name, an identifier.
    pub name: String,
    /// Type: number, string, bool or time.
    pub ty: PropType,
}

/// One event type of the data map.
#[derive(Debug, Clone, PartialEq)]
pub struct EventDef {
    /// Name, an identifier.
    pub name: String,
    /// Properties, sorted by name.
    pub props: Vec<PropDef>,
    /// Purposes it may be used for.
    pub purposes: Vec<String>,
    /// Events older than this are deleted on the device; `None` keeps them (up to the profile's
    /// event limit).
    pub retention: Option<Duration>,
    /// Special category, if any.
    pub sensitive: Option<Sensitivity>,
    /// Free text for people.
    pub description: Option<String>,
    /// What the visitor reads about it: its `label` (never in the compact form; see
    /// [`AttributeDef::wording`]).
    #[cfg(feature = "std")]
    pub wording: Wording,
}

impl EventDef {
    /// The property called `name`.
    pub fn prop(&self, name: &str) -> Option<(PropId, &PropDef)> {
        let i = self.props.binary_search_by(|p| p.name.as_str().cmp(name)).ok()?;
        Some((PropId::try_from(i).ok()?, &self.props[i]))
    }
}

/// What the device may keep for a purpose before the visitor has made a consent choice for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BeforeConsent {
    /// Nothing is written to storage for this purpose until the visitor allows it (the default).
    #[default]
    Nothing,
    /// Zero-party data the visitor gives on purpose (an attribute whose source is `declared`)
    /// is kept; observed data and events still wait for consent.
    Declared,
}

impl BeforeConsent {
    /// The value's name in the data map.
    pub fn name(self) -> &'static str {
        match self {
            BeforeConsent::Nothing => "nothing",
            BeforeConsent::Declared => "declared",
        }
    }
}

/// One purpose the data map declares (`[purposes.NAME]`). A purpose that attributes name but
/// the table does not declare behaves as declared with the defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct PurposeDef {
    /// Name, as attributes and campaigns spell it.
    pub name: String,
    /// What may be stored for it before a consent choice.
    pub before_consent: BeforeConsent,
    /// Free text for people.
    pub description: Option<String>,
}

/// A validated data map.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    /// Sorted by name; the index is the [`AttrId`].
    attributes: Vec<AttributeDef>,
    /// Sorted by name; the index is the [`EventId`].
    events: Vec<EventDef>,
    /// Declared purposes, sorted by name (the device's compact form leaves them out: the
    /// runtime does not store anything).
    purposes: Vec<PurposeDef>,
}

/// Why a schema was refused. Every message names the offending entry by its path
/// (`attributes.budget.type`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SchemaError {
    /// The document is not valid TOML/JSON, or an entry has the wrong shape.
    Syntax(String),
    /// The document is larger than `schema_bytes_max`.
    TooLarge {
        /// Size of the document.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// A name is not an identifier, is too long, or is a reserved word of the rule language.
    BadName {
        /// Path of the entry.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A field has a value outside its allowed set.
    BadValue {
        /// Path of the field.
        path: String,
        /// The value found.
        value: String,
        /// What is allowed.
        expected: String,
    },
    /// More entries than a limit allows.
    TooMany {
        /// Path of the collection.
        path: String,
        /// How many there are.
        count: usize,
        /// The limit.
        max: usize,
    },
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchemaError::Syntax(m) => write!(f, "data map: {m}"),
            SchemaError::TooLarge { bytes, max } => {
                write!(f, "data map: document is {bytes} bytes; the limit is {max}")
            }
            SchemaError::BadName { path, reason } => write!(f, "data map: {path}: {reason}"),
            SchemaError::BadValue { path, value, expected } => {
                write!(f, "data map: {path}: '{value}' is not allowed; expected {expected}")
            }
            SchemaError::TooMany { path, count, max } => {
                write!(f, "data map: {path} has {count} entries; the limit is {max}")
            }
        }
    }
}

impl core::error::Error for SchemaError {}

impl SchemaError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            SchemaError::Syntax(_) => "schema-syntax",
            SchemaError::TooLarge { .. } => "schema-too-large",
            SchemaError::BadName { .. } => "schema-bad-name",
            SchemaError::BadValue { .. } => "schema-bad-value",
            SchemaError::TooMany { .. } => "schema-too-many",
        }
    }
}

impl Schema {
    /// The purposes the data map declares, sorted by name.
    pub fn purposes(&self) -> &[PurposeDef] {
        &self.purposes
    }

    /// What may be stored for `purpose` before a consent choice (the default for a purpose the
    /// data map does not declare).
    pub fn before_consent(&self, purpose: &str) -> BeforeConsent {
        self.purposes
            .binary_search_by(|p| p.name.as_str().cmp(purpose))
            .map_or(BeforeConsent::Nothing, |i| self.purposes[i].before_consent)
    }

    /// All attributes, sorted by name; the index is the [`AttrId`].
    pub fn attributes(&self) -> &[AttributeDef] {
        &self.attributes
    }

    /// All event types, sorted by name; the index is the [`EventId`].
    pub fn events(&self) -> &[EventDef] {
        &self.events
    }

    /// The attribute called `name`.
    pub fn attribute(&self, name: &str) -> Option<(AttrId, &AttributeDef)> {
        let i = self.attributes.binary_search_by(|a| a.name.as_str().cmp(name)).ok()?;
        Some((AttrId::try_from(i).ok()?, &self.attributes[i]))
    }

    /// The event type called `name`.
    pub fn event(&self, name: &str) -> Option<(EventId, &EventDef)> {
        let i = self.events.binary_search_by(|e| e.name.as_str().cmp(name)).ok()?;
        Some((EventId::try_from(i).ok()?, &self.events[i]))
    }

    /// The attribute with id `id`.
    pub fn attribute_by_id(&self, id: AttrId) -> Option<&AttributeDef> {
        self.attributes.get(usize::from(id))
    }

    /// The event type with id `id`.
    pub fn event_by_id(&self, id: EventId) -> Option<&EventDef> {
        self.events.get(usize::from(id))
    }

    /// "; did you mean 'x'?" for a mistyped attribute name, or "".
    pub fn suggest_attribute(&self, name: &str) -> String {
        suggestion_suffix(did_you_mean(name, self.attributes.iter().map(|a| a.name.as_str())))
    }

    /// "; did you mean 'x'?" for a mistyped event name, or "".
    pub fn suggest_event(&self, name: &str) -> String {
        suggestion_suffix(did_you_mean(name, self.events.iter().map(|e| e.name.as_str())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::Limits;

    #[test]
    fn json_form_reads_back_to_the_same_schema() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/outdoor/schema.toml"
        ))
        .unwrap();
        let limits = Limits::default();
        let schema = Schema::from_toml(&text, &limits).unwrap();
        let again = Schema::from_json_value(&schema.to_json(), &limits).unwrap();
        assert_eq!(again, schema);
        assert!(schema.attributes.iter().any(|a| a.sensitive.is_some()));
        assert!(schema.attributes.iter().any(|a| a.values.is_some()));
        assert!(schema.events.iter().any(|e| e.retention.is_some()));
        assert!(!schema.purposes.is_empty(), "the example declares its purposes");
    }

    #[test]
    fn toml_and_json_errors_name_the_same_path_with_a_position() {
        let limits = Limits::default();
        let toml = Schema::from_toml("[attributes.budget]\ntype = 5\n", &limits);
        let json = Schema::from_json("{\"attributes\": {\"budget\": {\"type\": 5}}}", &limits);
        let (toml, json) = (toml.err().unwrap().to_string(), json.err().unwrap().to_string());
        for (form, m) in [("toml", &toml), ("json", &json)] {
            assert!(m.starts_with("data map: attributes.budget.type: line "), "{form}: {m}");
        }
        assert!(toml.contains("line 2, column 8: "), "{toml}");
        assert!(json.contains("line 1, column "), "{json}");
        // The same message after the position, whichever the form.
        assert_eq!(
            toml.rsplit_once(": ").map(|x| x.1),
            json.rsplit_once(": ").map(|x| x.1),
            "{toml} | {json}"
        );
        // An unknown field, in either form, at its path.
        let e = Schema::from_json(
            "{\"attributes\": {\"b\": {\"type\": \"bool\", \"purpose\": []}}}",
            &limits,
        );
        let e = e.err().unwrap().to_string();
        assert!(e.contains("attributes.b") && e.contains("unknown field `purpose`"), "{e}");
        // Trailing text after the document is refused.
        assert!(Schema::from_json("{} {}", &limits).is_err());
    }

    #[test]
    fn purposes_say_what_is_kept_before_consent() -> Result<(), SchemaError> {
        let base = "[attributes.a]\ntype='bool'\npurposes=['personalization','measurement']\n";
        let s = schema(&format!("{base}[purposes.personalization]\nbefore_consent='declared'\n"))?;
        assert_eq!(s.before_consent("personalization"), BeforeConsent::Declared);
        // Not declared in the table, or declared without the field: nothing before consent.
        assert_eq!(s.before_consent("measurement"), BeforeConsent::Nothing);
        let s = schema(&format!("{base}[purposes.measurement]\ndescription='counts'\n"))?;
        assert_eq!(s.before_consent("measurement"), BeforeConsent::Nothing);
        // A purpose nothing uses is a typo, named with its path and the likely meant name.
        let e = schema(&format!("{base}[purposes.personalisation]\nbefore_consent='declared'\n"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("purposes.personalisation") && e.contains("'personalization'"), "{e}");
        let e = schema(&format!("{base}[purposes.measurement]\nbefore_consent='always'\n"));
        let e = e.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("purposes.measurement.before_consent") && e.contains("always"), "{e}");
        let e = schema(&format!("{base}[purposes.measurement]\nstore=true\n"));
        assert_eq!(e.map_err(|e| e.code()), Err("schema-syntax"));
        // The JSON reader agrees.
        let json = r#"{"attributes": {"a": {"type": "bool", "purposes": ["measurement"]}},
            "purposes": {"measurement": {"before_consent": 3}}}"#;
        let e = Schema::from_json(json, &Limits::default()).err().map(|e| e.to_string());
        assert!(e.is_some_and(|m| m.contains("purposes.measurement.before_consent")));
        Ok(())
    }

    fn schema(toml: &str) -> Result<Schema, SchemaError> {
        Schema::from_toml(toml, &Limits::default())
    }

    #[test]
    fn ids_follow_sorted_names() -> Result<(), SchemaError> {
        let s = schema(
            "[attributes.zeta]\ntype='number'\n[attributes.alpha]\ntype='set'\nvalues=['b','a','a']\n",
        )?;
        assert_eq!(s.attribute("alpha").map(|(id, _)| id), Some(0));
        assert_eq!(s.attribute("zeta").map(|(id, _)| id), Some(1));
        assert_eq!(s.attributes()[0].values, Some(vec!["a".into(), "b".into()]));
        Ok(())
    }

    #[test]
    fn errors_name_the_entry() {
        let e = schema("[attributes.budget]\ntype = 'numbr'\n");
        assert_eq!(e.as_ref().map_err(|e| e.code()), Err("schema-bad-value"));
        let msg = e.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("attributes.budget.type") && msg.contains("numbr"), "{msg}");
        let e = schema("[attributes.and]\ntype = 'number'\n").err().map(|e| e.to_string());
        assert!(e.is_some_and(|m| m.contains("reserved")));
        let e = schema("[events.buy]\nretention = '3 days'\n").err().map(|e| e.to_string());
        assert!(e.is_some_and(|m| m.contains("events.buy.retention")));
        let e = schema("[attributes.x]\ntype = 'number'\nvalues = ['a']\n");
        assert_eq!(e.map_err(|e| e.code()), Err("schema-bad-value"));
        let e = schema("[attributes.x]\ntype = 'number'\nsensitive = 'medical'\n");
        assert_eq!(e.map_err(|e| e.code()), Err("schema-bad-value"));
        let e = schema("[attributes.x]\ntyp = 'number'\n");
        assert_eq!(e.map_err(|e| e.code()), Err("schema-syntax"));
    }

    #[test]
    fn limits_are_enforced_on_both_sides() {
        let limits = Limits { schema_attributes_max: 2, ..Limits::default() };
        let two = "[attributes.a]\ntype='bool'\n[attributes.b]\ntype='bool'\n";
        assert!(Schema::from_toml(two, &limits).is_ok());
        let three = format!("{two}[attributes.c]\ntype='bool'\n");
        assert_eq!(
            Schema::from_toml(&three, &limits).map_err(|e| e.code()),
            Err("schema-too-many")
        );
    }
}

#[cfg(feature = "std")]
mod read;
#[cfg(feature = "std")]
mod visitor;
#[cfg(feature = "std")]
pub use visitor::{Range, Wording};

mod compact;
