//! What the data map says for the visitor and about the values a visitor may give: labels
//! ([`Wording`]) and number ranges ([`Range`]), with the checks that read them. Neither is in
//! the compact form, so neither is in the browser's runtime (built without std).

use crate::prelude::*;

use alloc::collections::BTreeMap;

use super::{AttrType, SchemaError};
use crate::limits::Limits;

/// The values a number attribute may hold, both bounds inclusive (`min = 0`, `max = 10000`).
/// Not in the compact form: the browser package checks a value against the JSON form before the
/// runtime sees it, and the core checks it everywhere else (`out-of-range`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Range {
    /// The smallest value allowed.
    pub min: Option<f64>,
    /// The largest value allowed.
    pub max: Option<f64>,
}

impl Range {
    /// True when `x` is within the range.
    pub fn holds(&self, x: f64) -> bool {
        self.min.is_none_or(|m| x >= m) && self.max.is_none_or(|m| x <= m)
    }
}

/// What a visitor reads about an attribute or event, in explanations and the preference center
/// (docs/data-map.md, "Words for the visitor"). Every part is optional; lint warns when a
/// campaign reads data without a label.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Wording {
    /// A short noun phrase: "budget for gear", "purchase" (an event's label is singular).
    pub label: Option<String>,
    /// The question the attribute answers, as the site asks it: "Do you shop for children?".
    pub question: Option<String>,
    /// Words of a closed vocabulary as the visitor reads them, sorted by word:
    /// `("dach", "Germany, Austria or Switzerland")`.
    pub values: Vec<(String, String)>,
}

impl Wording {
    /// The label of vocabulary word `word`, or the word itself.
    pub fn value<'a>(&'a self, word: &'a str) -> &'a str {
        self.values
            .binary_search_by(|(w, _)| w.as_str().cmp(word))
            .map_or(word, |i| self.values[i].1.as_str())
    }
}

/// `min` and `max`: only on number attributes, finite, `min` at most `max`.
pub(super) fn check_range(
    path: &str,
    ty: AttrType,
    min: Option<f64>,
    max: Option<f64>,
) -> Result<Range, SchemaError> {
    for (field, v) in [("min", min), ("max", max)] {
        if let Some(v) = v {
            let expected = if ty == AttrType::Number {
                "a finite number"
            } else {
                "`min` and `max` only on number attributes"
            };
            if ty != AttrType::Number || !v.is_finite() {
                return Err(SchemaError::BadValue {
                    path: format!("{path}.{field}"),
                    value: v.to_string(),
                    expected: expected.into(),
                });
            }
        }
    }
    if let (Some(lo), Some(hi)) = (min, max) {
        if lo > hi {
            return Err(SchemaError::BadValue {
                path: format!("{path}.max"),
                value: hi.to_string(),
                expected: format!("at least `min` ({lo})"),
            });
        }
    }
    Ok(Range { min, max })
}

/// Words for people: not empty, and within `string_bytes_max`.
pub(super) fn check_words(
    path: &str,
    words: Option<String>,
    limits: &Limits,
) -> Result<Option<String>, SchemaError> {
    match words {
        Some(w) if w.trim().is_empty() || w.len() > limits.string_bytes_max => {
            Err(SchemaError::BadValue {
                path: path.to_owned(),
                value: w.chars().take(16).collect(),
                expected: format!("words for the visitor, 1 to {} bytes", limits.string_bytes_max),
            })
        }
        w => Ok(w),
    }
}

/// `value_labels`: each key a word of the attribute's closed vocabulary, each label words.
pub(super) fn value_labels(
    path: &str,
    labels: Option<BTreeMap<String, String>>,
    vocabulary: Option<&[String]>,
    limits: &Limits,
) -> Result<Vec<(String, String)>, SchemaError> {
    let Some(labels) = labels else { return Ok(Vec::new()) };
    let Some(vocabulary) = vocabulary else {
        return Err(SchemaError::BadValue {
            path: format!("{path}.value_labels"),
            value: "value_labels".into(),
            expected: "labels only for an attribute with a closed vocabulary (`values`)".into(),
        });
    };
    let mut out = Vec::with_capacity(labels.len());
    for (word, label) in labels {
        let lpath = format!("{path}.value_labels.{word}");
        if vocabulary.binary_search(&word).is_err() {
            return Err(SchemaError::BadValue {
                path: lpath,
                value: word,
                expected: "a word of the attribute's `values`".into(),
            });
        }
        let label = check_words(&lpath, Some(label), limits)?.unwrap_or_default();
        out.push((word, label));
    }
    Ok(out)
}
