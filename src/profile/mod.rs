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

use serde_json::{Map, Value as Json};

use crate::limits::Limits;
use crate::schema::{AttrId, EventId, Schema};
use crate::text::{cat, uint};
use crate::time::{format_timestamp, UnixSecs};

mod error;
mod read;

pub use error::{ProfileError, ProfileErrorKind};
use read::{attr_path, convert, parse_event};
pub use read::{describe, JsonLike};

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

#[cfg(test)]
mod tests;
