//! What the browser modules share (ARCHITECTURE "Two wasm modules"): the one error shape and
//! times in milliseconds.

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
