//! Strict, bounded parsing of `POST /v1/reports` bodies (docs/collector.md, "Input").
//!
//! The body is split into its elements as borrowed slices of the request bytes while they are
//! counted, so parsing stops at the first element past the limit and no element is built into a
//! tree before it is needed: a 1 MiB body costs the collector about its own size, not a JSON
//! tree ten times larger. Each element is then checked for duplicate object keys (I-JSON,
//! RFC 7493: a report with two `payload`s is refused rather than read by its last) and parsed
//! into a report.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

/// Why a body was refused as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// Valid JSON that is not an array.
    NotArray,
    /// More than the limit of elements (parsing stopped at the first one past it).
    TooMany,
    /// Not JSON, with serde_json's message (line and column).
    Syntax(String),
}

/// The elements of the JSON array `body`, at most `max` of them, as slices of `body`.
///
/// # Errors
/// [`BodyError`] when `body` is not JSON, not an array, or has more than `max` elements.
pub fn split_reports(body: &[u8], max: usize) -> Result<Vec<&RawValue>, BodyError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'[') {
        return match serde_json::from_slice::<IgnoredAny>(body) {
            Ok(_) => Err(BodyError::NotArray),
            Err(e) => Err(BodyError::Syntax(e.to_string())),
        };
    }
    let too_many = Cell::new(false);
    let mut de = serde_json::Deserializer::from_slice(body);
    let items = de
        .deserialize_seq(Elements { max, too_many: &too_many })
        .and_then(|items| de.end().map(|()| items));
    items.map_err(|e| {
        if too_many.get() {
            BodyError::TooMany
        } else {
            BodyError::Syntax(e.to_string())
        }
    })
}

struct Elements<'c> {
    max: usize,
    too_many: &'c Cell<bool>,
}

impl<'de> Visitor<'de> for Elements<'_> {
    type Value = Vec<&'de RawValue>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of reports")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while out.len() < self.max {
            match seq.next_element::<&'de RawValue>()? {
                Some(item) => out.push(item),
                None => return Ok(out),
            }
        }
        // At the limit: one more element is refused before a byte of it is read.
        seq.next_element_seed(Refuse(self.too_many))?;
        Ok(out)
    }
}

/// Refuses the element it is asked for, without reading it.
struct Refuse<'c>(&'c Cell<bool>);

impl<'de> DeserializeSeed<'de> for Refuse<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, _: D) -> Result<(), D::Error> {
        self.0.set(true);
        Err(de::Error::custom("too many reports"))
    }
}

/// Checks that no object in `raw`, at any depth, has the same key twice; names the first one.
///
/// # Errors
/// The duplicated key.
pub fn no_duplicate_keys(raw: &RawValue) -> Result<(), String> {
    let mut de = serde_json::Deserializer::from_str(raw.get());
    Walk.deserialize(&mut de).map_err(|e| e.to_string())
}

/// Walks a JSON value, refusing duplicate keys.
#[derive(Clone, Copy)]
struct Walk;

impl<'de> DeserializeSeed<'de> for Walk {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Walk)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut keys: Vec<String> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if keys.contains(&key) {
                return Err(de::Error::custom(format_args!("duplicate key '{key}'")));
            }
            map.next_value_seed(Walk)?;
            keys.push(key);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitting_counts_and_stops_past_the_limit() {
        let body = br#" [ {"a": 1}, [2, 3], "x" ] "#;
        let items = split_reports(body, 3).unwrap_or_default();
        assert_eq!(
            items.iter().map(|r| r.get()).collect::<Vec<_>>(),
            [r#"{"a": 1}"#, "[2, 3]", r#""x""#]
        );
        let err = |b: &[u8], max| split_reports(b, max).err();
        assert_eq!(err(body, 2), Some(BodyError::TooMany));
        // The element past the limit need not even be complete: parsing stopped before it.
        assert_eq!(err(b"[1, 2, {\"unclosed", 2), Some(BodyError::TooMany));
        assert_eq!(err(b"{\"a\": 1}", 9), Some(BodyError::NotArray));
        assert!(matches!(split_reports(b"[1,", 9), Err(BodyError::Syntax(_))));
        assert!(matches!(split_reports(b"[1] x", 9), Err(BodyError::Syntax(_))));
        assert!(matches!(split_reports(b"nope", 9), Err(BodyError::Syntax(_))));
        assert_eq!(split_reports(b"[]", 0).map(|v| v.len()).ok(), Some(0));
    }

    #[test]
    fn duplicate_keys_are_found_at_any_depth() {
        let raw = |s: &str| {
            serde_json::from_str::<Box<RawValue>>(s).unwrap_or_else(|_| RawValue::NULL.to_owned())
        };
        assert!(no_duplicate_keys(&raw(r#"{"a": 1, "b": {"c": [1, {"d": 2}]}}"#)).is_ok());
        let top = no_duplicate_keys(&raw(r#"{"payload": "x", "payload": "y"}"#));
        assert!(top.is_err_and(|e| e.contains("duplicate key 'payload'")));
        assert!(no_duplicate_keys(&raw(r#"[{"a": 1}, {"b": {"c": 1, "c": 2}}]"#)).is_err());
        // Escapes name the same key.
        assert!(no_duplicate_keys(&raw(r#"{"a": 1, "\u0061": 2}"#)).is_err());
    }
}
