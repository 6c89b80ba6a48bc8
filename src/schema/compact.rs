//! The data map in the compact form (see [`crate::compact`]), which the browser's runtime
//! module reads instead of JSON: the collector serves these bytes (`GET /v1/schema/compact`)
//! and the runtime reads them as untrusted input. Descriptions, labels and the purposes' table
//! are left out (the runtime shows none; the SDK reads them from the JSON form).

use super::{AttrType, AttributeDef, EventDef, PropDef, Schema, Sensitivity, Source};
#[cfg(feature = "std")]
use super::{Range, Wording};
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
fn after(r: &mut Reader<'_>, previous: Option<&str>, max: usize, expected: &'static str) -> String {
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
    /// The `schema_id`: the [`content_id`](crate::compact::content_id) of the compact form.
    /// A compiled campaign names the data map its ids index (docs/compiled.md).
    pub fn id(&self) -> String {
        crate::compact::content_id(&self.to_compact())
    }

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
                #[cfg(feature = "std")]
                wording: Wording::default(),
                #[cfg(feature = "std")]
                range: Range::default(),
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
                let pname = after(&mut r, previous, ident, "property names in increasing order");
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
                #[cfg(feature = "std")]
                wording: Wording::default(),
            });
        }
        r.finish()?;
        Ok(Schema { attributes, events, purposes: Vec::new() })
    }
}
