//! Reading JSON into a profile's values: one validating reader over any JSON tree
//! ([`JsonLike`]), so that the browser's runtime checks a profile with this very code.

use crate::prelude::*;

use serde_json::Value as Json;

use super::{ProfileError, ProfileErrorKind, Value};
use crate::diag::{did_you_mean, suggestion_suffix};
use crate::limits::Limits;
use crate::schema::{AttrType, EventDef, EventId, Schema};
use crate::text::{cat, int, uint};
use crate::time::{parse_timestamp, UnixSecs};

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
pub(super) fn field<'a, J>(entries: &[(&str, &'a J)], key: &str) -> Option<&'a J> {
    entries.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

fn wrong(path: &str, expected: AttrType, found: &impl JsonLike) -> ProfileError {
    ProfileError::new(path, ProfileErrorKind::WrongType { expected, found: describe(found) })
}

/// Converts a JSON value to a [`Value`] of type `ty`; `vocab` is the closed vocabulary, if any.
pub(super) fn convert(
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
        AttrType::Number => {
            let x = v.as_f64().filter(|f| f.is_finite()).ok_or_else(|| wrong(path, ty, v))?;
            // The data map's range. Not in the browser's runtime, whose compact data map has no
            // ranges: there the SDK checks the value against the JSON form before the runtime
            // sees it (crates/wasm/js/sdk/engine.js, `set`).
            #[cfg(feature = "std")]
            if let Some(def) = vocab.filter(|d| !d.range.holds(x)) {
                return Err(ProfileError::new(
                    path,
                    ProfileErrorKind::OutOfRange {
                        value: x,
                        min: def.range.min,
                        max: def.range.max,
                    },
                ));
            }
            Ok(Value::Number(x))
        }
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

pub(super) fn attr_path(name: &str) -> String {
    cat(&["$.attributes.", name])
}

pub(super) type ParsedEvent = (EventId, UnixSecs, Vec<Option<Value>>);

pub(super) fn parse_event<J: JsonLike>(
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
