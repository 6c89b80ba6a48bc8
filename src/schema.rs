//! The data map: which attributes and events a brand keeps on the device, of what type, from
//! which source, for which purposes, and how sensitive they are (docs/data-map.md).
//!
//! The schema is the basis of purpose limitation: a campaign may only use data whose `purposes`
//! include the campaign's purpose, and data tagged `sensitive` needs a recorded review.
//!
//! Attributes and events are kept sorted by name; their position is their integer id, which the
//! rule compiler uses instead of names.

use crate::prelude::*;

use alloc::collections::BTreeMap;
use core::fmt;

use serde::Deserialize;

use crate::diag::{did_you_mean, is_ident, suggestion_suffix};
use crate::limits::Limits;
use crate::rules::lex::is_reserved;
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
            SchemaError::Syntax(m) => write!(f, "schema: {m}"),
            SchemaError::TooLarge { bytes, max } => {
                write!(f, "schema: document is {bytes} bytes; the limit is {max}")
            }
            SchemaError::BadName { path, reason } => write!(f, "schema: {path}: {reason}"),
            SchemaError::BadValue { path, value, expected } => {
                write!(f, "schema: {path}: '{value}' is not allowed; expected {expected}")
            }
            SchemaError::TooMany { path, count, max } => {
                write!(f, "schema: {path} has {count} entries; the limit is {max}")
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchema {
    #[serde(default)]
    attributes: BTreeMap<String, RawAttribute>,
    #[serde(default)]
    events: BTreeMap<String, RawEvent>,
    #[serde(default)]
    purposes: BTreeMap<String, RawPurpose>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPurpose {
    before_consent: Option<String>,
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAttribute {
    #[serde(rename = "type")]
    ty: String,
    source: Option<String>,
    #[serde(default)]
    purposes: Vec<String>,
    sensitive: Option<String>,
    values: Option<Vec<String>>,
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvent {
    #[serde(default)]
    props: BTreeMap<String, String>,
    #[serde(default)]
    purposes: Vec<String>,
    retention: Option<String>,
    sensitive: Option<String>,
    description: Option<String>,
}

/// Reading the JSON form by hand rather than through serde's derive: the browser's runtime
/// module reads the data map on every page, and serde's value deserializer would be most of
/// its size.
mod json_form {

    use crate::prelude::*;
    use alloc::collections::BTreeMap;

    use serde_json::{Map, Value};

    use super::{RawAttribute, RawEvent, RawPurpose, RawSchema, SchemaError};

    fn found(v: &Value) -> &'static str {
        match v {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        }
    }

    fn syntax(path: &str, expected: &str, v: &Value) -> SchemaError {
        SchemaError::Syntax(format!("{path}: expected {expected}, found {}", found(v)))
    }

    fn object<'a>(
        path: &str,
        v: &'a Value,
        fields: &[&str],
    ) -> Result<&'a Map<String, Value>, SchemaError> {
        let Value::Object(m) = v else { return Err(syntax(path, "a table", v)) };
        if let Some(k) = m.keys().find(|k| !fields.contains(&k.as_str())) {
            let at = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
            return Err(SchemaError::Syntax(format!(
                "{at}: unknown field; expected one of {}",
                fields.join(", ")
            )));
        }
        Ok(m)
    }

    fn join(path: &str, key: &str) -> String {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    }

    fn string(
        path: &str,
        m: &Map<String, Value>,
        key: &str,
    ) -> Result<Option<String>, SchemaError> {
        match m.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(syntax(&join(path, key), "a string", v)),
        }
    }

    fn strings(
        path: &str,
        m: &Map<String, Value>,
        key: &str,
    ) -> Result<Option<Vec<String>>, SchemaError> {
        let Some(v) = m.get(key) else { return Ok(None) };
        let p = join(path, key);
        let Value::Array(items) = v else { return Err(syntax(&p, "an array of strings", v)) };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match item {
                Value::String(s) => out.push(s.clone()),
                other => return Err(syntax(&format!("{p}[{i}]"), "a string", other)),
            }
        }
        Ok(Some(out))
    }

    fn table<'a>(
        path: &str,
        m: &'a Map<String, Value>,
        key: &str,
    ) -> Result<Option<&'a Map<String, Value>>, SchemaError> {
        match m.get(key) {
            None => Ok(None),
            Some(Value::Object(t)) => Ok(Some(t)),
            Some(v) => Err(syntax(&join(path, key), "a table", v)),
        }
    }

    impl RawSchema {
        pub(super) fn from_json(v: &Value) -> Result<RawSchema, SchemaError> {
            let top = object("", v, &["attributes", "events", "purposes"])?;
            let mut attributes = BTreeMap::new();
            for (name, a) in table("", top, "attributes")?.into_iter().flatten() {
                let path = format!("attributes.{name}");
                let fields = ["type", "source", "purposes", "sensitive", "values", "description"];
                let m = object(&path, a, &fields)?;
                let Some(ty) = string(&path, m, "type")? else {
                    return Err(SchemaError::Syntax(format!("{path}: missing field 'type'")));
                };
                let raw = RawAttribute {
                    ty,
                    source: string(&path, m, "source")?,
                    purposes: strings(&path, m, "purposes")?.unwrap_or_default(),
                    sensitive: string(&path, m, "sensitive")?,
                    values: strings(&path, m, "values")?,
                    description: string(&path, m, "description")?,
                };
                attributes.insert(name.clone(), raw);
            }
            let mut events = BTreeMap::new();
            for (name, e) in table("", top, "events")?.into_iter().flatten() {
                let path = format!("events.{name}");
                let fields = ["props", "purposes", "retention", "sensitive", "description"];
                let m = object(&path, e, &fields)?;
                let mut props = BTreeMap::new();
                let ppath = format!("{path}.props");
                for (pname, ty) in table(&path, m, "props")?.into_iter().flatten() {
                    let Value::String(ty) = ty else {
                        return Err(syntax(&format!("{ppath}.{pname}"), "a type name", ty));
                    };
                    props.insert(pname.clone(), ty.clone());
                }
                let raw = RawEvent {
                    props,
                    purposes: strings(&path, m, "purposes")?.unwrap_or_default(),
                    retention: string(&path, m, "retention")?,
                    sensitive: string(&path, m, "sensitive")?,
                    description: string(&path, m, "description")?,
                };
                events.insert(name.clone(), raw);
            }
            let mut purposes = BTreeMap::new();
            for (name, p) in table("", top, "purposes")?.into_iter().flatten() {
                let path = format!("purposes.{name}");
                let m = object(&path, p, &["before_consent", "description"])?;
                let raw = RawPurpose {
                    before_consent: string(&path, m, "before_consent")?,
                    description: string(&path, m, "description")?,
                };
                purposes.insert(name.clone(), raw);
            }
            Ok(RawSchema { attributes, events, purposes })
        }
    }
}

impl Schema {
    /// The data map in its JSON form, which [`Schema::from_json_value`] reads back to an equal
    /// schema. The browser package reads this form (it has no TOML parser).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::{json, Map, Value};
        let opt = |m: &mut Map<String, Value>, k: &str, v: Option<Value>| {
            if let Some(v) = v {
                m.insert(k.to_owned(), v);
            }
        };
        let attributes: Map<String, Value> = self
            .attributes
            .iter()
            .map(|a| {
                let mut m = Map::new();
                m.insert("type".into(), json!(a.ty.name()));
                let source = match a.source {
                    Source::Declared => "declared",
                    Source::Observed => "observed",
                };
                m.insert("source".into(), json!(source));
                m.insert("purposes".into(), json!(a.purposes));
                opt(&mut m, "sensitive", a.sensitive.map(|s| json!(s.name())));
                opt(&mut m, "values", a.values.as_ref().map(|v| json!(v)));
                opt(&mut m, "description", a.description.as_ref().map(|d| json!(d)));
                (a.name.clone(), Value::Object(m))
            })
            .collect();
        let events: Map<String, Value> = self
            .events
            .iter()
            .map(|e| {
                let mut m = Map::new();
                let props: Map<String, Value> =
                    e.props.iter().map(|p| (p.name.clone(), json!(p.ty.name()))).collect();
                m.insert("props".into(), Value::Object(props));
                m.insert("purposes".into(), json!(e.purposes));
                opt(&mut m, "retention", e.retention.map(|r| json!(r.to_string())));
                opt(&mut m, "sensitive", e.sensitive.map(|s| json!(s.name())));
                opt(&mut m, "description", e.description.as_ref().map(|d| json!(d)));
                (e.name.clone(), Value::Object(m))
            })
            .collect();
        let mut doc = json!({"attributes": attributes, "events": events});
        if !self.purposes.is_empty() {
            let purposes: Map<String, Value> = self
                .purposes
                .iter()
                .map(|p| {
                    let mut m = Map::new();
                    m.insert("before_consent".into(), json!(p.before_consent.name()));
                    opt(&mut m, "description", p.description.as_ref().map(|d| json!(d)));
                    (p.name.clone(), Value::Object(m))
                })
                .collect();
            doc["purposes"] = Value::Object(purposes);
        }
        doc
    }

    /// Parses and validates a schema written in TOML.
    ///
    /// # Errors
    /// When the text is not valid TOML of the schema's shape or breaks a rule or limit.
    #[cfg(feature = "toml")]
    pub fn from_toml(text: &str, limits: &Limits) -> Result<Schema, SchemaError> {
        check_size(text, limits)?;
        let raw: RawSchema =
            toml::from_str(text).map_err(|e| SchemaError::Syntax(e.message().to_owned()))?;
        Schema::validate(raw, limits)
    }

    /// Parses and validates a schema written as JSON (the same shape as the TOML form).
    ///
    /// # Errors
    /// As [`Schema::from_toml`].
    pub fn from_json(text: &str, limits: &Limits) -> Result<Schema, SchemaError> {
        check_size(text, limits)?;
        // Through a JSON value: one deserializer for both entry points keeps the wasm smaller.
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| SchemaError::Syntax(e.to_string()))?;
        Schema::from_json_value(&value, limits)
    }

    /// Validates a schema given as a JSON value.
    ///
    /// # Errors
    /// As [`Schema::from_toml`].
    pub fn from_json_value(
        value: &serde_json::Value,
        limits: &Limits,
    ) -> Result<Schema, SchemaError> {
        Schema::validate(RawSchema::from_json(value)?, limits)
    }

    fn validate(raw: RawSchema, limits: &Limits) -> Result<Schema, SchemaError> {
        if raw.attributes.len() > limits.schema_attributes_max {
            return Err(SchemaError::TooMany {
                path: "attributes".into(),
                count: raw.attributes.len(),
                max: limits.schema_attributes_max,
            });
        }
        if raw.events.len() > limits.schema_events_max {
            return Err(SchemaError::TooMany {
                path: "events".into(),
                count: raw.events.len(),
                max: limits.schema_events_max,
            });
        }
        let mut attributes = Vec::with_capacity(raw.attributes.len());
        for (name, a) in raw.attributes {
            let path = format!("attributes.{name}");
            check_name(&path, &name, limits)?;
            let ty = AttrType::parse(&a.ty).ok_or_else(|| SchemaError::BadValue {
                path: format!("{path}.type"),
                value: a.ty.clone(),
                expected: "one of number, string, bool, set, time".into(),
            })?;
            let source = match a.source.as_deref() {
                None | Some("declared") => Source::Declared,
                Some("observed") => Source::Observed,
                Some(other) => {
                    return Err(SchemaError::BadValue {
                        path: format!("{path}.source"),
                        value: other.into(),
                        expected: "declared or observed".into(),
                    })
                }
            };
            let values = match a.values {
                None => None,
                Some(_) if !matches!(ty, AttrType::String | AttrType::Set) => {
                    return Err(SchemaError::BadValue {
                        path: format!("{path}.values"),
                        value: ty.name().into(),
                        expected: "a closed vocabulary only on string or set attributes".into(),
                    })
                }
                Some(mut v) => {
                    if v.len() > limits.vocabulary_max {
                        return Err(SchemaError::TooMany {
                            path: format!("{path}.values"),
                            count: v.len(),
                            max: limits.vocabulary_max,
                        });
                    }
                    if let Some(long) = v.iter().find(|w| w.len() > limits.string_bytes_max) {
                        return Err(SchemaError::BadName {
                            path: format!("{path}.values"),
                            reason: format!(
                                "word '{}…' is longer than {} bytes",
                                long.chars().take(16).collect::<String>(),
                                limits.string_bytes_max
                            ),
                        });
                    }
                    v.sort();
                    v.dedup();
                    Some(v)
                }
            };
            attributes.push(AttributeDef {
                purposes: check_purposes(&path, a.purposes, limits)?,
                sensitive: parse_sensitivity(&path, a.sensitive)?,
                name,
                ty,
                source,
                values,
                description: a.description,
            });
        }
        let mut events = Vec::with_capacity(raw.events.len());
        for (name, e) in raw.events {
            let path = format!("events.{name}");
            check_name(&path, &name, limits)?;
            if e.props.len() > limits.event_props_max {
                return Err(SchemaError::TooMany {
                    path: format!("{path}.props"),
                    count: e.props.len(),
                    max: limits.event_props_max,
                });
            }
            let mut props = Vec::with_capacity(e.props.len());
            for (pname, pty) in e.props {
                let ppath = format!("{path}.props.{pname}");
                check_name(&ppath, &pname, limits)?;
                let ty =
                    AttrType::parse(&pty).filter(|t| *t != AttrType::Set).ok_or_else(|| {
                        SchemaError::BadValue {
                            path: ppath,
                            value: pty.clone(),
                            expected: "one of number, string, bool, time".into(),
                        }
                    })?;
                props.push(PropDef { name: pname, ty });
            }
            let retention = match e.retention {
                None => None,
                Some(r) => Some(Duration::parse(&r).map_err(|err| SchemaError::BadValue {
                    path: format!("{path}.retention"),
                    value: r.clone(),
                    expected: format!("a duration such as 180d ({err})"),
                })?),
            };
            events.push(EventDef {
                purposes: check_purposes(&path, e.purposes, limits)?,
                sensitive: parse_sensitivity(&path, e.sensitive)?,
                name,
                props,
                retention,
                description: e.description,
            });
        }
        let purposes = validate_purposes(raw.purposes, &attributes, &events)?;
        Ok(Schema { attributes, events, purposes })
    }

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

fn check_size(text: &str, limits: &Limits) -> Result<(), SchemaError> {
    if text.len() > limits.schema_bytes_max {
        return Err(SchemaError::TooLarge { bytes: text.len(), max: limits.schema_bytes_max });
    }
    Ok(())
}

fn check_name(path: &str, name: &str, limits: &Limits) -> Result<(), SchemaError> {
    let reason = if !is_ident(name) {
        format!("'{name}' is not a name; use letters, digits and '_', starting with a letter")
    } else if name.len() > limits.ident_bytes_max {
        format!("name is longer than {} bytes", limits.ident_bytes_max)
    } else if is_reserved(name) {
        format!("'{name}' is a reserved word of the rule language; choose another name")
    } else {
        return Ok(());
    };
    Err(SchemaError::BadName { path: path.to_owned(), reason })
}

/// The `[purposes]` table: each name one that some attribute or event uses (a declared purpose
/// nothing uses is a typo), each `before_consent` one of the allowed values.
fn validate_purposes(
    raw: BTreeMap<String, RawPurpose>,
    attributes: &[AttributeDef],
    events: &[EventDef],
) -> Result<Vec<PurposeDef>, SchemaError> {
    let used: Vec<&str> = attributes
        .iter()
        .flat_map(|a| &a.purposes)
        .chain(events.iter().flat_map(|e| &e.purposes))
        .map(String::as_str)
        .collect();
    let mut out = Vec::with_capacity(raw.len());
    for (name, p) in raw {
        let path = format!("purposes.{name}");
        if !used.contains(&name.as_str()) {
            return Err(SchemaError::BadName {
                path,
                reason: format!(
                    "no attribute or event has the purpose '{name}'{}",
                    suggestion_suffix(did_you_mean(&name, used.iter().copied()))
                ),
            });
        }
        let before_consent = match p.before_consent.as_deref() {
            None | Some("nothing") => BeforeConsent::Nothing,
            Some("declared") => BeforeConsent::Declared,
            Some(other) => {
                return Err(SchemaError::BadValue {
                    path: format!("{path}.before_consent"),
                    value: other.into(),
                    expected: "nothing or declared".into(),
                })
            }
        };
        out.push(PurposeDef { name, before_consent, description: p.description });
    }
    Ok(out)
}

fn check_purposes(
    path: &str,
    purposes: Vec<String>,
    limits: &Limits,
) -> Result<Vec<String>, SchemaError> {
    for p in &purposes {
        if p.is_empty()
            || p.len() > limits.ident_bytes_max
            || !p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(SchemaError::BadValue {
                path: format!("{path}.purposes"),
                value: p.clone(),
                expected: "purpose names of letters, digits, '_' and '-'".into(),
            });
        }
    }
    Ok(purposes)
}

fn parse_sensitivity(path: &str, s: Option<String>) -> Result<Option<Sensitivity>, SchemaError> {
    s.map(|s| {
        Sensitivity::parse(&s).ok_or_else(|| SchemaError::BadValue {
            path: format!("{path}.sensitive"),
            value: s.clone(),
            expected:
                "one of health, finance, religion, ethnicity, sexuality, politics, children, \
                       location, biometric"
                    .into(),
        })
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

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

mod compact {
    //! The data map in the compact form (see [`crate::compact`]), which the browser's runtime
    //! module reads instead of JSON: the verifier validates the JSON once and hands the runtime
    //! these bytes. Descriptions are left out (the runtime shows none).

    use super::{AttrType, AttributeDef, EventDef, PropDef, Schema, Sensitivity, Source};
    use crate::compact::{CompactError, Reader, Writer};
    use crate::limits::Limits;
    use crate::prelude::*;
    use crate::time::{Duration, DurationUnit};

    const TAG: &[u8; 4] = b"dps1";
    const TYPES: [AttrType; 5] =
        [AttrType::Number, AttrType::String, AttrType::Bool, AttrType::Set, AttrType::Time];
    const UNITS: [DurationUnit; 4] =
        [DurationUnit::Minutes, DurationUnit::Hours, DurationUnit::Days, DurationUnit::Weeks];

    fn index<T: PartialEq>(all: &[T], v: &T) -> usize {
        all.iter().position(|x| x == v).unwrap_or(0)
    }

    fn write_words(w: &mut Writer, words: &[String]) {
        w.len(words.len());
        words.iter().for_each(|s| w.str(s));
    }

    fn write_sensitive(w: &mut Writer, s: Option<Sensitivity>) {
        w.len(s.map_or(0, |s| index(&Sensitivity::ALL.map(|(_, s)| s), &s) + 1));
    }

    /// A string of at most `max` bytes that sorts after `previous`: names and vocabularies are
    /// looked up by binary search, so they must come strictly increasing.
    fn after(
        r: &mut Reader<'_>,
        previous: Option<&str>,
        max: usize,
        expected: &'static str,
    ) -> String {
        let s = r.str();
        if s.len() > max || previous.is_some_and(|p| p >= s.as_str()) {
            r.fail(expected);
        }
        s
    }

    /// At most `count` strings of at most `max` bytes each, strictly increasing.
    fn sorted(r: &mut Reader<'_>, count: usize, max: usize) -> Vec<String> {
        let n = r.len(count);
        let mut out: Vec<String> = Vec::with_capacity(n);
        for _ in 0..n {
            let s = after(r, out.last().map(String::as_str), max, "words in increasing order");
            out.push(s);
        }
        out
    }

    fn read_sensitive(r: &mut Reader<'_>) -> Option<Sensitivity> {
        match r.len(Sensitivity::ALL.len()) {
            0 => None,
            i => Sensitivity::ALL.get(i - 1).map(|(_, s)| *s),
        }
    }

    impl Schema {
        /// The compact form.
        pub fn to_compact(&self) -> Vec<u8> {
            let mut w = Writer::default();
            w.raw(TAG);
            w.len(self.attributes.len());
            for a in &self.attributes {
                w.str(&a.name);
                w.len(index(&TYPES, &a.ty));
                w.uint(u64::from(a.source == Source::Observed));
                write_words(&mut w, &a.purposes);
                write_sensitive(&mut w, a.sensitive);
                match &a.values {
                    None => w.uint(0),
                    Some(v) => {
                        w.uint(1);
                        write_words(&mut w, v);
                    }
                }
            }
            w.len(self.events.len());
            for e in &self.events {
                w.str(&e.name);
                w.len(e.props.len());
                for p in &e.props {
                    w.str(&p.name);
                    w.len(index(&TYPES, &p.ty));
                }
                write_words(&mut w, &e.purposes);
                write_sensitive(&mut w, e.sensitive);
                match e.retention {
                    None => w.uint(0),
                    Some(d) => {
                        w.uint(u64::from(d.amount()));
                        w.len(index(&UNITS, &d.unit()));
                    }
                }
            }
            w.bytes
        }

        /// Reads the compact form, checking what lookups rely on (names and vocabularies
        /// sorted and unique) and the schema limits.
        ///
        /// # Errors
        /// On malformed bytes, with the offset.
        pub fn from_compact(bytes: &[u8], limits: &Limits) -> Result<Schema, CompactError> {
            let mut r = Reader::new(bytes);
            r.tag(TAG, "a data map (\"dps1\")");
            let ident = limits.ident_bytes_max;
            let words = |r: &mut Reader<'_>| r.list(Reader::str);
            let n = r.len(limits.schema_attributes_max);
            let mut attributes: Vec<AttributeDef> = Vec::with_capacity(n);
            for _ in 0..n {
                let previous = attributes.last().map(|a| a.name.as_str());
                let name = after(&mut r, previous, ident, "attribute names in increasing order");
                let ty = r.one_of(&TYPES);
                let source = if r.len(1) == 1 { Source::Observed } else { Source::Declared };
                let purposes = words(&mut r);
                let sensitive = read_sensitive(&mut r);
                let values = match r.len(1) {
                    0 => None,
                    _ => Some(sorted(&mut r, limits.vocabulary_max, limits.string_bytes_max)),
                };
                attributes.push(AttributeDef {
                    name,
                    ty,
                    source,
                    purposes,
                    sensitive,
                    values,
                    description: None,
                });
            }
            let n = r.len(limits.schema_events_max);
            let mut events: Vec<EventDef> = Vec::with_capacity(n);
            for _ in 0..n {
                let previous = events.last().map(|e| e.name.as_str());
                let name = after(&mut r, previous, ident, "event names in increasing order");
                let count = r.len(limits.event_props_max);
                let mut props: Vec<PropDef> = Vec::with_capacity(count);
                for _ in 0..count {
                    let previous = props.last().map(|p| p.name.as_str());
                    let pname =
                        after(&mut r, previous, ident, "property names in increasing order");
                    let ty = r.one_of(&TYPES);
                    if ty == AttrType::Set {
                        r.fail("a property type");
                    }
                    props.push(PropDef { name: pname, ty });
                }
                let purposes = words(&mut r);
                let sensitive = read_sensitive(&mut r);
                let retention = match r.uint() {
                    0 => None,
                    amount => {
                        let amount = r.small_of(amount);
                        let unit = r.one_of(&UNITS);
                        Duration::new(amount, unit).map_err(|_| r.fail("a duration")).ok()
                    }
                };
                events.push(EventDef {
                    name,
                    props,
                    purposes,
                    retention,
                    sensitive,
                    description: None,
                });
            }
            r.finish()?;
            Ok(Schema { attributes, events, purposes: Vec::new() })
        }
    }
}
