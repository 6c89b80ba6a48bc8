//! JS values as the profile reads them ([`dpseg::profile::JsonLike`]), and the profile back as
//! JS values: the runtime's own small tree instead of `serde_json::Value`, whose map would be a
//! good part of this module's size.

use alloc::string::String;
use alloc::vec::Vec;
use dpseg::profile::{JsonLike, Profile, Value};
use dpseg::schema::Schema;
use dpseg::time::format_timestamp;
use wasm_bindgen::JsValue;

/// A JS value, copied out of JS.
#[derive(Debug)]
pub enum Lite {
    /// `null`, `undefined`, functions and symbols.
    Null,
    /// A boolean.
    Bool(bool),
    /// A number (NaN and the infinities included; the profile refuses them).
    Number(f64),
    /// A string.
    Str(String),
    /// An array.
    Array(Vec<Lite>),
    /// An object's own enumerable string-keyed entries, keys ascending.
    Object(Vec<(String, Lite)>),
}

impl Lite {
    /// Copies `v` out of JS.
    pub fn from_js(v: &JsValue) -> Lite {
        if let Some(b) = v.as_bool() {
            Lite::Bool(b)
        } else if let Some(n) = v.as_f64() {
            Lite::Number(n)
        } else if let Some(s) = v.as_string() {
            Lite::Str(s)
        } else if js_sys::Array::is_array(v) {
            Lite::Array(js_sys::Array::from(v).iter().map(|x| Lite::from_js(&x)).collect())
        } else if v.is_object() && !v.is_function() {
            let mut entries: Vec<(String, Lite)> =
                js_sys::Object::entries(&js_sys::Object::from(v.clone()))
                    .iter()
                    .filter_map(|e| {
                        let e = js_sys::Array::from(&e);
                        Some((e.get(0).as_string()?, Lite::from_js(&e.get(1))))
                    })
                    .collect();
            dpseg::sort::heapsort_by(&mut entries, |a, b| a.0 < b.0);
            Lite::Object(entries)
        } else {
            Lite::Null
        }
    }
}

impl JsonLike for Lite {
    fn is_null(&self) -> bool {
        matches!(self, Lite::Null)
    }
    fn as_bool(&self) -> Option<bool> {
        match self {
            Lite::Bool(b) => Some(*b),
            _ => None,
        }
    }
    fn as_f64(&self) -> Option<f64> {
        match self {
            Lite::Number(n) => Some(*n),
            _ => None,
        }
    }
    fn as_str(&self) -> Option<&str> {
        match self {
            Lite::Str(s) => Some(s),
            _ => None,
        }
    }
    fn as_array(&self) -> Option<&[Lite]> {
        match self {
            Lite::Array(a) => Some(a),
            _ => None,
        }
    }
    fn as_object(&self) -> Option<Vec<(&str, &Lite)>> {
        match self {
            Lite::Object(m) => Some(m.iter().map(|(k, v)| (k.as_str(), v)).collect()),
            _ => None,
        }
    }
}

fn set(o: &js_sys::Object, k: &str, v: &JsValue) {
    // Setting a property on a fresh plain object cannot fail.
    let _ = js_sys::Reflect::set(o, &JsValue::from_str(k), v);
}

fn value(v: &Value) -> JsValue {
    match v {
        Value::Number(n) => JsValue::from_f64(*n),
        Value::String(s) => JsValue::from_str(s),
        Value::Bool(b) => JsValue::from_bool(*b),
        Value::Set(words) => {
            words.iter().map(|w| JsValue::from_str(w)).collect::<js_sys::Array>().into()
        }
        Value::Time(t) => JsValue::from_str(&format_timestamp(*t)),
    }
}

/// The profile as its document `{attributes, events}`, the shape of `Profile::to_json`: events
/// grouped by type in data map order, oldest first, properties without a value left out.
pub fn profile_to_js(profile: &Profile, schema: &Schema) -> JsValue {
    let attributes = js_sys::Object::new();
    for (id, def) in schema.attributes().iter().enumerate() {
        if let Some(v) = u16::try_from(id).ok().and_then(|id| profile.attr(id)) {
            set(&attributes, &def.name, &value(v));
        }
    }
    let events = js_sys::Array::new();
    for (id, def) in schema.events().iter().enumerate() {
        let Ok(id) = u16::try_from(id) else { continue };
        let log = profile.events(id);
        for (i, &at) in log.times().iter().enumerate() {
            let props = js_sys::Object::new();
            for (p, pdef) in def.props.iter().enumerate() {
                if let Some(Some(v)) = log.column(p).get(i) {
                    set(&props, &pdef.name, &value(v));
                }
            }
            let e = js_sys::Object::new();
            set(&e, "name", &JsValue::from_str(&def.name));
            set(&e, "at", &JsValue::from_str(&format_timestamp(at)));
            set(&e, "props", &props);
            events.push(&e);
        }
    }
    let doc = js_sys::Object::new();
    set(&doc, "attributes", &attributes);
    set(&doc, "events", &events);
    doc.into()
}
