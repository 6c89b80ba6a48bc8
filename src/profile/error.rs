//! Why a profile or a change to it was refused: the JSON path and what is wrong there.

use crate::prelude::*;

use core::fmt;

use crate::schema::AttrType;
use crate::text::{cat, uint};
use crate::time::TimeError;

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
    /// A number outside the data map's `min`/`max` (checked where the core has std; in the
    /// browser the SDK checks it).
    #[cfg(feature = "std")]
    OutOfRange {
        /// The value.
        value: f64,
        /// The data map's `min`.
        min: Option<f64>,
        /// The data map's `max`.
        max: Option<f64>,
    },
}

impl ProfileError {
    pub(super) fn new(path: impl Into<String>, kind: ProfileErrorKind) -> ProfileError {
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
            #[cfg(feature = "std")]
            ProfileErrorKind::OutOfRange { .. } => "out-of-range",
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
            #[cfg(feature = "std")]
            ProfileErrorKind::OutOfRange { value, min, max } => {
                // The SDK says the same for the browser (crates/wasm/js/sdk/engine.js, `set`).
                let bound = |b: &Option<f64>| {
                    b.map_or_else(
                        || "none".to_owned(),
                        |x| crate::profile::number_json(x).to_string(),
                    )
                };
                let value = crate::profile::number_json(*value);
                format!(
                    "{value} is outside the data map's range (min {}, max {})",
                    bound(min),
                    bound(max)
                )
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
