//! Reading and writing the data map's TOML and JSON forms, and the validation both go through:
//! serde reads either into the same raw tables (unknown fields refused), and every error names
//! where it is — the path of the field (`attributes.budget.type`) and, for text, its line and
//! column.

use crate::prelude::*;

use alloc::collections::BTreeMap;

use serde::Deserialize;

use super::visitor::{check_range, check_words, value_labels};
use super::{
    AttrType, AttributeDef, BeforeConsent, EventDef, PropDef, PurposeDef, Schema, SchemaError,
    Sensitivity, Source, Wording,
};
use crate::diag::{did_you_mean, is_ident, suggestion_suffix};
use crate::limits::Limits;
use crate::rules::lex::is_reserved;
use crate::time::Duration;

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
    label: Option<String>,
    question: Option<String>,
    value_labels: Option<BTreeMap<String, String>>,
    min: Option<f64>,
    max: Option<f64>,
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
    label: Option<String>,
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
                opt(&mut m, "min", a.range.min.map(crate::profile::number_json));
                opt(&mut m, "max", a.range.max.map(crate::profile::number_json));
                opt(&mut m, "label", a.wording.label.as_ref().map(|d| json!(d)));
                opt(&mut m, "question", a.wording.question.as_ref().map(|d| json!(d)));
                if !a.wording.values.is_empty() {
                    let labels: Map<String, Value> =
                        a.wording.values.iter().map(|(w, l)| (w.clone(), json!(l))).collect();
                    m.insert("value_labels".into(), Value::Object(labels));
                }
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
                opt(&mut m, "label", e.wording.label.as_ref().map(|d| json!(d)));
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
    /// When the text is not valid TOML of the schema's shape or breaks a rule or limit; a
    /// shape error names the field's path and its line and column.
    #[cfg(feature = "toml")]
    pub fn from_toml(text: &str, limits: &Limits) -> Result<Schema, SchemaError> {
        check_size(text, limits)?;
        let raw: RawSchema = serde_path_to_error::deserialize(toml::Deserializer::new(text))
            .map_err(|e| {
                let at = e.inner().span().map(|s| {
                    let p = crate::diag::line_col(text, u32::try_from(s.start).unwrap_or(u32::MAX));
                    (p.line as usize, p.column as usize)
                });
                syntax(&e.path().to_string(), at, e.inner().message())
            })?;
        Schema::validate(raw, limits)
    }

    /// Parses and validates a schema written as JSON (the same shape as the TOML form).
    ///
    /// # Errors
    /// As [`Schema::from_toml`].
    #[cfg(feature = "std")]
    pub fn from_json(text: &str, limits: &Limits) -> Result<Schema, SchemaError> {
        check_size(text, limits)?;
        let mut de = serde_json::Deserializer::from_str(text);
        let raw: RawSchema = serde_path_to_error::deserialize(&mut de)
            .map_err(|e| json_syntax(&e.path().to_string(), e.inner()))?;
        de.end().map_err(|e| json_syntax(".", &e))?;
        Schema::validate(raw, limits)
    }

    /// Validates a schema given as a JSON value (errors name the field's path; a value has no
    /// lines).
    ///
    /// # Errors
    /// As [`Schema::from_toml`].
    #[cfg(feature = "std")]
    pub fn from_json_value(
        value: &serde_json::Value,
        limits: &Limits,
    ) -> Result<Schema, SchemaError> {
        let raw: RawSchema = serde_path_to_error::deserialize(value)
            .map_err(|e| json_syntax(&e.path().to_string(), e.inner()))?;
        Schema::validate(raw, limits)
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
            let wording = Wording {
                label: check_words(&format!("{path}.label"), a.label, limits)?,
                question: check_words(&format!("{path}.question"), a.question, limits)?,
                values: value_labels(&path, a.value_labels, values.as_deref(), limits)?,
            };
            let range = check_range(&path, ty, a.min, a.max)?;
            attributes.push(AttributeDef {
                wording,
                range,
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
            let label = check_words(&format!("{path}.label"), e.label, limits)?;
            events.push(EventDef {
                wording: Wording { label, ..Wording::default() },
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
}

/// A shape error: `path: line L, column C: message` (the path and position when known; the
/// same for TOML and JSON).
fn syntax(path: &str, at: Option<(usize, usize)>, message: &str) -> SchemaError {
    let mut out = String::new();
    if !path.is_empty() && path != "." {
        out.push_str(path);
        out.push_str(": ");
    }
    if let Some((line, column)) = at {
        out.push_str(&format!("line {line}, column {column}: "));
    }
    out.push_str(message);
    SchemaError::Syntax(out)
}

/// As [`syntax`] for serde_json's errors, whose message ends with its own position.
#[cfg(feature = "std")]
fn json_syntax(path: &str, e: &serde_json::Error) -> SchemaError {
    let text = e.to_string();
    let message = text.rsplit_once(" at line ").map_or(text.as_str(), |(m, _)| m);
    let at = (e.line() > 0).then(|| (e.line(), e.column()));
    syntax(path, at, message)
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
