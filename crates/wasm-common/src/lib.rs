//! What both browser modules share (ARCHITECTURE "Two wasm modules"): the one error shape,
//! the CSPRNG, times in milliseconds, and JSON values crossing the boundary as JS values.
//!
//! Values cross as JS objects rather than JSON text so that neither module needs serde_json's
//! parser or printer: the runtime module's size budget has no room for them.

use rand_core::{CryptoRng, RngCore};
use serde_json::{Map, Number, Value};
use wasm_bindgen::prelude::*;

/// The error every call throws: a JS `Error` whose `name` is `DpsegError`, with a stable
/// `code`, the message, and a `details` value.
pub fn error(code: &str, message: &str, details: JsValue) -> JsValue {
    let e = js_sys::Error::new(message);
    e.set_name("DpsegError");
    let set = |k: &str, v: &JsValue| js_sys::Reflect::set(&e, &JsValue::from_str(k), v);
    // Setting a property on a fresh object cannot fail; if it somehow did, the message remains.
    let _ = set("code", &JsValue::from_str(code));
    let _ = set("details", &details);
    e.into()
}

/// A JS object `{key: value, ...}` for error details and results.
pub fn object(entries: &[(&str, JsValue)]) -> JsValue {
    let o = js_sys::Object::new();
    for (k, v) in entries {
        let _ = js_sys::Reflect::set(&o, &JsValue::from_str(k), v);
    }
    o.into()
}

/// A time in milliseconds since the epoch (what `Date.now()` gives) as Unix seconds.
///
/// # Errors
/// `bad-time` for a value that is not a finite time within ±100 million days.
pub fn secs(now_ms: f64) -> Result<i64, JsValue> {
    if now_ms.is_finite() && now_ms.abs() < 8.64e15 {
        #[allow(clippy::cast_possible_truncation, reason = "range checked above")]
        Ok((now_ms / 1000.0).floor() as i64)
    } else {
        Err(error("bad-time", "the time is not a finite number of milliseconds", JsValue::NULL))
    }
}

/// A JS value as JSON. `undefined` and functions become `null`, as `JSON.stringify` does in
/// arrays; non-finite numbers, which JSON cannot hold, become `null` too, so the validator
/// refuses them by type.
pub fn to_json(v: &JsValue) -> Value {
    if let Some(b) = v.as_bool() {
        Value::Bool(b)
    } else if let Some(n) = v.as_f64() {
        Number::from_f64(n).map_or(Value::Null, Value::Number)
    } else if let Some(s) = v.as_string() {
        Value::String(s)
    } else if js_sys::Array::is_array(v) {
        Value::Array(js_sys::Array::from(v).iter().map(|x| to_json(&x)).collect())
    } else if v.is_object() && !v.is_function() {
        let mut m = Map::new();
        for entry in js_sys::Object::entries(&js_sys::Object::from(v.clone())).iter() {
            let entry = js_sys::Array::from(&entry);
            if let Some(k) = entry.get(0).as_string() {
                m.insert(k, to_json(&entry.get(1)));
            }
        }
        Value::Object(m)
    } else {
        Value::Null
    }
}

/// A JSON value as a JS value.
pub fn to_js(v: &Value) -> JsValue {
    match v {
        Value::Null => JsValue::NULL,
        Value::Bool(b) => JsValue::from_bool(*b),
        Value::Number(n) => n.as_f64().map_or(JsValue::NULL, JsValue::from_f64),
        Value::String(s) => JsValue::from_str(s),
        Value::Array(a) => a.iter().map(to_js).collect::<js_sys::Array>().into(),
        Value::Object(m) => {
            let o = js_sys::Object::new();
            for (k, v) in m {
                let _ = js_sys::Reflect::set(&o, &JsValue::from_str(k), &to_js(v));
            }
            o.into()
        }
    }
}

/// The browser's CSPRNG (`crypto.getRandomValues` through getrandom), natively the OS's.
/// Bytes are drawn 256 at a time: each draw crosses into JS, and a report needs many coins.
pub struct SystemRng {
    buf: [u8; 256],
    /// Bytes of `buf` already handed out; invariant: `pos <= buf.len()`.
    pos: usize,
}

impl SystemRng {
    /// A generator whose first draw succeeded; refuses to go on without a CSPRNG.
    ///
    /// # Errors
    /// `no-randomness` when the platform has no secure random source.
    pub fn new() -> Result<SystemRng, JsValue> {
        let mut buf = [0u8; 256];
        getrandom::fill(&mut buf).map_err(|_| {
            error(
                "no-randomness",
                "no secure random source (crypto.getRandomValues)",
                JsValue::NULL,
            )
        })?;
        Ok(SystemRng { buf, pos: 0 })
    }
}

impl RngCore for SystemRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }

    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        if self.try_fill_bytes(dest).is_err() {
            // The source worked when this generator was made (`SystemRng::new`); a source that
            // stops working cannot be papered over with predictable bytes, so the noise would
            // be lost. Abort instead (the wasm traps and the JS glue reports `internal`).
            std::process::abort();
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        for byte in dest.iter_mut() {
            if self.pos == self.buf.len() {
                getrandom::fill(&mut self.buf).map_err(|e| {
                    rand_core::Error::from(
                        std::num::NonZeroU32::new(e.raw_os_error().map_or(1, i32::unsigned_abs))
                            .unwrap_or(std::num::NonZeroU32::MIN),
                    )
                })?;
                self.pos = 0;
            }
            *byte = self.buf[self.pos];
            // Each byte is used once: overwrite it so a copy of the state cannot replay it.
            self.buf[self.pos] = 0;
            self.pos += 1;
        }
        Ok(())
    }
}

impl CryptoRng for SystemRng {}
