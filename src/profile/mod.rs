//! The visitor's profile: declared attributes and a short event history (docs/data-map.md).
//!
//! A profile lives on the device only. It is validated against the [`Schema`] on every change:
//! unknown names, wrong types, words outside a closed vocabulary, bad timestamps and exceeded
//! limits are errors that name the JSON path, and a failed change leaves the profile as it was.
//!
//! Storage is laid out for the evaluator: attributes in a vector indexed by [`AttrId`], events
//! per type in time order with one column per property, so a window `[now - d, now]` is two
//! binary searches and a filter reads one column.

use crate::prelude::*;

use core::fmt;

use serde_json::{Map, Value as Json};

use crate::diag::{did_you_mean, suggestion_suffix};
use crate::limits::Limits;
use crate::schema::{AttrId, AttrType, EventDef, EventId, Schema};
use crate::text::{cat, int, uint};
use crate::time::{format_timestamp, parse_timestamp, TimeError, UnixSecs};

/// A value of an attribute or event property.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A finite number.
    Number(f64),
    /// A string.
    String(Box<str>),
    /// A boolean.
    Bool(bool),
    /// A set of strings; invariant: sorted and without duplicates.
    Set(Box<[Box<str>]>),
    /// An instant, Unix seconds.
    Time(UnixSecs),
}

impl Value {
    /// The value as JSON, in the profile's format.
    pub fn to_json(&self) -> Json {
        match self {
            Value::Number(n) => number_json(*n),
            Value::String(s) => Json::String(s.to_string()),
            Value::Bool(b) => Json::Bool(*b),
            Value::Set(s) => Json::Array(s.iter().map(|w| Json::String(w.to_string())).collect()),
            Value::Time(t) => Json::String(format_timestamp(*t)),
        }
    }
}

/// A number as JSON: whole numbers within ±2^53 as integers (`150`, not `150.0`).
pub fn number_json(n: f64) -> Json {
    const EXACT: f64 = 9_007_199_254_740_992.0;
    if crate::float::fract(n) == 0.0 && n.abs() < EXACT {
        // The cast is exact: n is whole and within the range where f64 holds every integer.
        #[allow(clippy::cast_possible_truncation, reason = "checked whole and in range above")]
        return Json::from(n as i64);
    }
    serde_json::Number::from_f64(n).map_or(Json::Null, Json::Number)
}

/// All events of one type, oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventLog {
    /// Times, ascending.
    times: Vec<UnixSecs>,
    /// One column per property of the type (indexed by `PropId`), each as long as `times`.
    props: Vec<Vec<Option<Value>>>,
}

impl EventLog {
    fn new(prop_count: usize) -> EventLog {
        EventLog { times: Vec::new(), props: vec![Vec::new(); prop_count] }
    }

    /// Event times, ascending.
    pub fn times(&self) -> &[UnixSecs] {
        &self.times
    }

    /// The column of property `prop` (indexed like [`EventLog::times`]).
    pub fn column(&self, prop: usize) -> &[Option<Value>] {
        self.props.get(prop).map_or(&[], Vec::as_slice)
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.times.len()
    }

    /// True when there are no events.
    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    fn insert(&mut self, at: UnixSecs, props: Vec<Option<Value>>) {
        let i = self.times.partition_point(|&t| t <= at);
        self.times.insert(i, at);
        for (col, v) in self.props.iter_mut().zip(props) {
            col.insert(i, v);
        }
    }

    /// Drops events before `cutoff`; returns how many.
    fn drop_before(&mut self, cutoff: UnixSecs) -> usize {
        let n = self.times.partition_point(|&t| t < cutoff);
        self.times.drain(..n);
        for col in &mut self.props {
            col.drain(..n);
        }
        n
    }
}

/// A profile validated against a schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// Indexed by [`AttrId`]; `None` when unset.
    attrs: Vec<Option<Value>>,
    /// Indexed by [`EventId`].
    events: Vec<EventLog>,
}

/// Why a profile or a change to it was refused.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileError {
    /// JSON path of the offending value, such as `$.events[3].props.amount`.
    pub path: String,
    /// What is wrong.
    pub kind: ProfileErrorKind,
}

/// What is wrong with a profile value.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ProfileErrorKind {
    /// Not JSON, or not of the profile's shape.
    Syntax(String),
    /// The document is larger than `profile_bytes_max`.
    TooLarge {
        /// Size.
        bytes: usize,
        /// Limit.
        max: usize,
    },
    /// The name is not an attribute of the schema.
    UnknownAttribute {
        /// The name.
        name: String,
        /// "; did you mean …" or "".
        suggestion: String,
    },
    /// The name is not an event type of the schema.
    UnknownEvent {
        /// The name.
        name: String,
        /// "; did you mean …" or "".
        suggestion: String,
    },
    /// The name is not a property of the event type.
    UnknownProp {
        /// The event type.
        event: String,
        /// The name.
        name: String,
        /// "; did you mean …" or "".
        suggestion: String,
    },
    /// The key is not part of the profile format.
    UnknownField(String),
    /// The value has the wrong JSON type.
    WrongType {
        /// The schema's type.
        expected: AttrType,
        /// A description of what was found.
        found: String,
    },
    /// A word outside the attribute's closed vocabulary.
    NotInVocabulary {
        /// The word.
        word: String,
    },
    /// A timestamp did not parse.
    BadTime(TimeError),
    /// More items than a limit allows.
    TooMany {
        /// What is counted.
        what: &'static str,
        /// Limit.
        max: usize,
    },
    /// A string longer than `string_bytes_max`.
    StringTooLong {
        /// Limit.
        max: usize,
    },
}

impl ProfileError {
    fn new(path: impl Into<String>, kind: ProfileErrorKind) -> ProfileError {
        ProfileError { path: path.into(), kind }
    }

    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self.kind {
            ProfileErrorKind::Syntax(_) => "profile-syntax",
            ProfileErrorKind::TooLarge { .. } => "profile-too-large",
            ProfileErrorKind::UnknownAttribute { .. } => "unknown-attribute",
            ProfileErrorKind::UnknownEvent { .. } => "unknown-event",
            ProfileErrorKind::UnknownProp { .. } => "unknown-prop",
            ProfileErrorKind::UnknownField(_) => "unknown-field",
            ProfileErrorKind::WrongType { .. } => "wrong-type",
            ProfileErrorKind::NotInVocabulary { .. } => "not-in-vocabulary",
            ProfileErrorKind::BadTime(_) => "bad-time",
            ProfileErrorKind::TooMany { .. } => "too-many",
            ProfileErrorKind::StringTooLong { .. } => "string-too-long",
        }
    }
}

impl ProfileError {
    /// The message, as `Display` writes it; built without `core::fmt` (see [`crate::text`]).
    pub fn message(&self) -> String {
        let detail = match &self.kind {
            ProfileErrorKind::Syntax(m) => m.clone(),
            ProfileErrorKind::TooLarge { bytes, max } => {
                cat(&["document is ", &uint(*bytes), " bytes; the limit is ", &uint(*max)])
            }
            ProfileErrorKind::UnknownAttribute { name, suggestion } => {
                cat(&["unknown attribute '", name, "'", suggestion])
            }
            ProfileErrorKind::UnknownEvent { name, suggestion } => {
                cat(&["unknown event '", name, "'", suggestion])
            }
            ProfileErrorKind::UnknownProp { event, name, suggestion } => {
                cat(&["event '", event, "' has no property '", name, "'", suggestion])
            }
            ProfileErrorKind::UnknownField(k) => cat(&["unknown field '", k, "'"]),
            ProfileErrorKind::WrongType { expected, found } => {
                let hint = match expected {
                    AttrType::Number => "a number",
                    AttrType::String => "a string",
                    AttrType::Bool => "true or false",
                    AttrType::Set => "an array of strings",
                    AttrType::Time => "a timestamp string such as \"2026-11-20T10:00:00Z\"",
                };
                cat(&["expected ", hint, " (", expected.name(), "), found ", found])
            }
            ProfileErrorKind::NotInVocabulary { word } => {
                cat(&["'", word, "' is not one of the attribute's allowed values"])
            }
            ProfileErrorKind::BadTime(e) => e.message(),
            ProfileErrorKind::TooMany { what, max } => cat(&["more than ", &uint(*max), " ", what]),
            ProfileErrorKind::StringTooLong { max } => {
                cat(&["string longer than ", &uint(*max), " bytes"])
            }
        };
        cat(&["profile: ", &self.path, ": ", &detail])
    }
}

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl core::error::Error for ProfileError {}

/// A JSON value as the profile reads it: `serde_json::Value` here, and in the browser's runtime
/// module its own small tree of JS values, so that the runtime validates with this very code
/// without carrying `serde_json`'s map.
pub trait JsonLike: Sized {
    /// True for `null`.
    fn is_null(&self) -> bool;
    /// A boolean.
    fn as_bool(&self) -> Option<bool>;
    /// A number (finite or not; the profile refuses the others).
    fn as_f64(&self) -> Option<f64>;
    /// A string.
    fn as_str(&self) -> Option<&str>;
    /// An array.
    fn as_array(&self) -> Option<&[Self]>;
    /// An object's entries, keys ascending (as `serde_json`'s map iterates), so that the first
    /// error found is the same whatever the value's origin.
    fn as_object(&self) -> Option<Vec<(&str, &Self)>>;
}

/// What a value is, for messages: `the number 5`, `the string "x"`, `an array`.
pub fn describe(v: &impl JsonLike) -> String {
    if v.is_null() {
        "null".into()
    } else if let Some(b) = v.as_bool() {
        if b { "true" } else { "false" }.into()
    } else if let Some(n) = v.as_f64() {
        // Integers only: printing an arbitrary float would pull the float formatter into the
        // browser's runtime module for one error message.
        const EXACT: f64 = 9_007_199_254_740_992.0;
        if crate::float::fract(n) == 0.0 && n.abs() < EXACT {
            #[allow(clippy::cast_possible_truncation, reason = "whole and within ±2^53")]
            let i = n as i64;
            cat(&["the number ", &int(i)])
        } else {
            "a number".into()
        }
    } else if let Some(s) = v.as_str() {
        cat(&["the string \"", &s.chars().take(32).collect::<String>(), "\""])
    } else if v.as_array().is_some() {
        "an array".into()
    } else {
        "an object".into()
    }
}

impl JsonLike for Json {
    fn is_null(&self) -> bool {
        self.is_null()
    }
    fn as_bool(&self) -> Option<bool> {
        self.as_bool()
    }
    fn as_f64(&self) -> Option<f64> {
        self.as_f64()
    }
    fn as_str(&self) -> Option<&str> {
        self.as_str()
    }
    fn as_array(&self) -> Option<&[Json]> {
        self.as_array().map(Vec::as_slice)
    }
    fn as_object(&self) -> Option<Vec<(&str, &Json)>> {
        self.as_object().map(|m| m.iter().map(|(k, v)| (k.as_str(), v)).collect())
    }
}

/// The value of `key` among `entries`.
fn field<'a, J>(entries: &[(&str, &'a J)], key: &str) -> Option<&'a J> {
    entries.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

fn wrong(path: &str, expected: AttrType, found: &impl JsonLike) -> ProfileError {
    ProfileError::new(path, ProfileErrorKind::WrongType { expected, found: describe(found) })
}

/// Converts a JSON value to a [`Value`] of type `ty`; `vocab` is the closed vocabulary, if any.
fn convert(
    path: &str,
    ty: AttrType,
    vocab: Option<&crate::schema::AttributeDef>,
    v: &impl JsonLike,
    limits: &Limits,
) -> Result<Value, ProfileError> {
    let string = |s: &str, path: &str| -> Result<Box<str>, ProfileError> {
        if s.len() > limits.string_bytes_max {
            return Err(ProfileError::new(
                path,
                ProfileErrorKind::StringTooLong { max: limits.string_bytes_max },
            ));
        }
        if vocab.is_some_and(|a| !a.allows(s)) {
            return Err(ProfileError::new(
                path,
                ProfileErrorKind::NotInVocabulary { word: s.into() },
            ));
        }
        Ok(s.into())
    };
    match ty {
        AttrType::Number => v
            .as_f64()
            .filter(|f| f.is_finite())
            .map(Value::Number)
            .ok_or_else(|| wrong(path, ty, v)),
        AttrType::String => match v.as_str() {
            Some(s) => Ok(Value::String(string(s, path)?)),
            None => Err(wrong(path, ty, v)),
        },
        AttrType::Bool => v.as_bool().map(Value::Bool).ok_or_else(|| wrong(path, ty, v)),
        AttrType::Time => match v.as_str() {
            Some(s) => parse_timestamp(s)
                .map(Value::Time)
                .map_err(|e| ProfileError::new(path, ProfileErrorKind::BadTime(e))),
            None => Err(wrong(path, ty, v)),
        },
        AttrType::Set => {
            let Some(items) = v.as_array() else { return Err(wrong(path, ty, v)) };
            if items.len() > limits.set_values_max {
                return Err(ProfileError::new(
                    path,
                    ProfileErrorKind::TooMany { what: "set values", max: limits.set_values_max },
                ));
            }
            let mut words = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let ipath = cat(&[path, "[", &uint(i), "]"]);
                match item.as_str() {
                    Some(s) => words.push(string(s, &ipath)?),
                    None => return Err(wrong(&ipath, AttrType::String, item)),
                }
            }
            crate::sort::heapsort_by(&mut words, |a, b| a < b);
            words.dedup();
            Ok(Value::Set(words.into_boxed_slice()))
        }
    }
}

fn attr_path(name: &str) -> String {
    cat(&["$.attributes.", name])
}

impl Profile {
    /// An empty profile for `schema`.
    pub fn new(schema: &Schema) -> Profile {
        Profile {
            attrs: vec![None; schema.attributes().len()],
            events: schema.events().iter().map(|e| EventLog::new(e.props.len())).collect(),
        }
    }

    /// Parses a profile document, validates it against `schema` and applies event retention
    /// as of `now`.
    ///
    /// # Errors
    /// When the document is not JSON of the profile's shape or any value breaks the schema or a
    /// limit; the error names the JSON path.
    pub fn from_json(
        schema: &Schema,
        text: &str,
        now: UnixSecs,
        limits: &Limits,
    ) -> Result<Profile, ProfileError> {
        if text.len() > limits.profile_bytes_max {
            return Err(ProfileError::new(
                "$",
                ProfileErrorKind::TooLarge { bytes: text.len(), max: limits.profile_bytes_max },
            ));
        }
        let doc: Json = serde_json::from_str(text)
            .map_err(|e| ProfileError::new("$", ProfileErrorKind::Syntax(e.to_string())))?;
        Profile::from_json_value(schema, &doc, now, limits)
    }

    /// As [`Profile::from_json`], from a parsed JSON value.
    ///
    /// # Errors
    /// As [`Profile::from_json`].
    pub fn from_json_value(
        schema: &Schema,
        doc: &impl JsonLike,
        now: UnixSecs,
        limits: &Limits,
    ) -> Result<Profile, ProfileError> {
        let obj = doc.as_object().ok_or_else(|| {
            ProfileError::new(
                "$",
                ProfileErrorKind::Syntax(cat(&[
                    "expected an object with \"attributes\" and \"events\", found ",
                    &describe(doc),
                ])),
            )
        })?;
        let mut profile = Profile::new(schema);
        for (key, value) in obj {
            match key {
                "attributes" => {
                    let attrs = value.as_object().ok_or_else(|| {
                        ProfileError::new(
                            "$.attributes",
                            ProfileErrorKind::Syntax(cat(&[
                                "expected an object, found ",
                                &describe(value),
                            ])),
                        )
                    })?;
                    for (name, v) in attrs {
                        profile.set(schema, name, v, limits)?;
                    }
                }
                "events" => {
                    let events = value.as_array().ok_or_else(|| {
                        ProfileError::new(
                            "$.events",
                            ProfileErrorKind::Syntax(cat(&[
                                "expected an array, found ",
                                &describe(value),
                            ])),
                        )
                    })?;
                    if events.len() > limits.profile_events_max {
                        return Err(ProfileError::new(
                            "$.events",
                            ProfileErrorKind::TooMany {
                                what: "events",
                                max: limits.profile_events_max,
                            },
                        ));
                    }
                    for (i, e) in events.iter().enumerate() {
                        let (id, at, props) =
                            parse_event(schema, &cat(&["$.events[", &uint(i), "]"]), e, limits)?;
                        profile.events[usize::from(id)].insert(at, props);
                    }
                }
                other => {
                    return Err(ProfileError::new(
                        cat(&["$.", other]),
                        ProfileErrorKind::UnknownField(other.into()),
                    ))
                }
            }
        }
        profile.apply_retention(schema, now);
        Ok(profile)
    }

    /// Sets attribute `name` from a JSON value; `null` unsets it.
    ///
    /// # Errors
    /// When the attribute is unknown or the value breaks its type, vocabulary or a limit; the
    /// profile is then unchanged.
    pub fn set(
        &mut self,
        schema: &Schema,
        name: &str,
        value: &impl JsonLike,
        limits: &Limits,
    ) -> Result<(), ProfileError> {
        let path = attr_path(name);
        let (id, def) = schema.attribute(name).ok_or_else(|| {
            ProfileError::new(
                &path,
                ProfileErrorKind::UnknownAttribute {
                    name: name.into(),
                    suggestion: schema.suggest_attribute(name),
                },
            )
        })?;
        let v = if value.is_null() {
            None
        } else {
            Some(convert(&path, def.ty, Some(def), value, limits)?)
        };
        self.attrs[usize::from(id)] = v;
        Ok(())
    }

    /// Records one event given as `{"name", "at", "props"}` JSON, then applies retention as of
    /// `now`.
    ///
    /// # Errors
    /// When the event breaks the schema or the profile already holds `profile_events_max`
    /// events; the profile is then unchanged.
    pub fn track(
        &mut self,
        schema: &Schema,
        event: &impl JsonLike,
        now: UnixSecs,
        limits: &Limits,
    ) -> Result<(), ProfileError> {
        let (id, at, props) = parse_event(schema, "$", event, limits)?;
        if self.event_count() >= limits.profile_events_max {
            self.apply_retention(schema, now);
            if self.event_count() >= limits.profile_events_max {
                return Err(ProfileError::new(
                    "$",
                    ProfileErrorKind::TooMany { what: "events", max: limits.profile_events_max },
                ));
            }
        }
        self.events[usize::from(id)].insert(at, props);
        self.apply_retention(schema, now);
        Ok(())
    }

    /// Deletes events older than their type's `retention` as of `now`; returns how many.
    pub fn apply_retention(&mut self, schema: &Schema, now: UnixSecs) -> usize {
        schema
            .events()
            .iter()
            .zip(&mut self.events)
            .filter_map(|(def, log)| {
                def.retention.map(|r| log.drop_before(now.saturating_sub(r.secs())))
            })
            .sum()
    }

    /// The value of attribute `id`, if set.
    pub fn attr(&self, id: AttrId) -> Option<&Value> {
        self.attrs.get(usize::from(id)).and_then(Option::as_ref)
    }

    /// The events of type `id`.
    pub fn events(&self, id: EventId) -> &EventLog {
        static EMPTY: EventLog = EventLog { times: Vec::new(), props: Vec::new() };
        self.events.get(usize::from(id)).unwrap_or(&EMPTY)
    }

    /// Number of events of all types.
    pub fn event_count(&self) -> usize {
        self.events.iter().map(EventLog::len).sum()
    }

    /// The profile as a JSON document of the input format (events oldest first, grouped by
    /// type in schema order).
    pub fn to_json(&self, schema: &Schema) -> Json {
        let mut attrs = Map::new();
        for (def, v) in schema.attributes().iter().zip(&self.attrs) {
            if let Some(v) = v {
                attrs.insert(def.name.clone(), v.to_json());
            }
        }
        let mut events = Vec::new();
        for (def, log) in schema.events().iter().zip(&self.events) {
            for (i, &at) in log.times.iter().enumerate() {
                let mut props = Map::new();
                for (p, col) in def.props.iter().zip(&log.props) {
                    if let Some(v) = &col[i] {
                        props.insert(p.name.clone(), v.to_json());
                    }
                }
                let mut e = Map::new();
                e.insert("name".into(), Json::String(def.name.clone()));
                e.insert("at".into(), Json::String(format_timestamp(at)));
                e.insert("props".into(), Json::Object(props));
                events.push(Json::Object(e));
            }
        }
        let mut doc = Map::new();
        doc.insert("attributes".into(), Json::Object(attrs));
        doc.insert("events".into(), Json::Array(events));
        Json::Object(doc)
    }
}

type ParsedEvent = (EventId, UnixSecs, Vec<Option<Value>>);

fn parse_event<J: JsonLike>(
    schema: &Schema,
    path: &str,
    e: &J,
    limits: &Limits,
) -> Result<ParsedEvent, ProfileError> {
    let obj = e.as_object().ok_or_else(|| {
        ProfileError::new(
            path,
            ProfileErrorKind::Syntax(cat(&[
                "expected an event object {\"name\", \"at\", \"props\"}, found ",
                &describe(e),
            ])),
        )
    })?;
    if let Some((k, _)) = obj.iter().find(|(k, _)| !matches!(*k, "name" | "at" | "props")) {
        return Err(ProfileError::new(
            cat(&[path, ".", k]),
            ProfileErrorKind::UnknownField((*k).to_owned()),
        ));
    }
    let name = match field(&obj, "name").map(|v| (v, v.as_str())) {
        Some((_, Some(s))) => s,
        other => {
            return Err(ProfileError::new(
                cat(&[path, ".name"]),
                ProfileErrorKind::Syntax(cat(&[
                    "expected the event's name as a string, found ",
                    &other.map_or("nothing".into(), |(v, _)| describe(v)),
                ])),
            ))
        }
    };
    let (id, def) = schema.event(name).ok_or_else(|| {
        ProfileError::new(
            cat(&[path, ".name"]),
            ProfileErrorKind::UnknownEvent {
                name: name.into(),
                suggestion: schema.suggest_event(name),
            },
        )
    })?;
    let at_path = cat(&[path, ".at"]);
    let at = match field(&obj, "at").map(|v| (v, v.as_str())) {
        Some((_, Some(s))) => parse_timestamp(s)
            .map_err(|e| ProfileError::new(&at_path, ProfileErrorKind::BadTime(e)))?,
        other => {
            return Err(ProfileError::new(
                at_path,
                ProfileErrorKind::WrongType {
                    expected: AttrType::Time,
                    found: other.map_or("nothing".into(), |(v, _)| describe(v)),
                },
            ))
        }
    };
    let props = parse_props(def, path, field(&obj, "props"), limits)?;
    Ok((id, at, props))
}

fn parse_props<J: JsonLike>(
    def: &EventDef,
    path: &str,
    props: Option<&J>,
    limits: &Limits,
) -> Result<Vec<Option<Value>>, ProfileError> {
    let mut out = vec![None; def.props.len()];
    let Some(props) = props else { return Ok(out) };
    let obj = props.as_object().ok_or_else(|| {
        ProfileError::new(
            cat(&[path, ".props"]),
            ProfileErrorKind::Syntax(cat(&["expected an object, found ", &describe(props)])),
        )
    })?;
    for (k, v) in obj {
        let ppath = cat(&[path, ".props.", k]);
        let (pid, pdef) = def.prop(k).ok_or_else(|| {
            ProfileError::new(
                &ppath,
                ProfileErrorKind::UnknownProp {
                    event: def.name.clone(),
                    name: k.to_owned(),
                    suggestion: suggestion_suffix(did_you_mean(
                        k,
                        def.props.iter().map(|p| p.name.as_str()),
                    )),
                },
            )
        })?;
        if !v.is_null() {
            out[usize::from(pid)] = Some(convert(&ppath, pdef.ty, None, v, limits)?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
