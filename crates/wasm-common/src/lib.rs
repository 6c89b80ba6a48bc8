//! What the browser modules share (ARCHITECTURE "Browser modules"): the one error shape, times
//! in milliseconds and the system's random source.

#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

use dpseg::privacy::ledger::SitePolicy;
use rand_core::{CryptoRng, RngCore};
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
        Ok(dpseg::float::floor(now_ms / 1000.0) as i64)
    } else {
        Err(error("bad-time", "the time is not a finite number of milliseconds", JsValue::NULL))
    }
}

/// `campaign-empty`: a campaign with nothing to evaluate or report.
pub fn campaign_empty() -> JsValue {
    error("campaign-empty", "campaign has no segments or groups", JsValue::NULL)
}

/// `unknown-campaign`: no campaign was loaded under `handle`.
pub fn unknown_campaign(handle: u32) -> JsValue {
    error("unknown-campaign", "no campaign with this handle", object(&[("handle", handle.into())]))
}

/// Puts `item` in `list` in place of the entry with the same `id`, or at the end; returns its
/// index, the handle JS holds.
pub fn replace_or_push<T>(list: &mut alloc::vec::Vec<T>, item: T, id: impl Fn(&T) -> &str) -> u32 {
    let slot = match list.iter().position(|x| id(x) == id(&item)) {
        Some(i) => {
            list[i] = item;
            i
        }
        None => {
            list.push(item);
            list.len() - 1
        }
    };
    u32::try_from(slot).unwrap_or(u32::MAX)
}

/// The site's caps: the highest ε of one report and the highest total over the rolling window.
///
/// # Errors
/// `bad-policy` for caps that are not positive numbers.
pub fn site_policy(
    epsilon_report_max: f64,
    epsilon_window_max: f64,
) -> Result<SitePolicy, JsValue> {
    SitePolicy::with_caps(epsilon_report_max, epsilon_window_max).ok_or_else(|| {
        error(
            "bad-policy",
            "epsilonReportMax and epsilonWindowMax must be positive numbers",
            object(&[
                ("epsilonReportMax", epsilon_report_max.into()),
                ("epsilonWindowMax", epsilon_window_max.into()),
            ]),
        )
    })
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
            #[cfg(target_arch = "wasm32")]
            core::arch::wasm32::unreachable();
            #[cfg(not(target_arch = "wasm32"))]
            std::process::abort();
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        for byte in dest.iter_mut() {
            if self.pos == self.buf.len() {
                getrandom::fill(&mut self.buf).map_err(|e| {
                    rand_core::Error::from(
                        core::num::NonZeroU32::new(e.raw_os_error().map_or(1, i32::unsigned_abs))
                            .unwrap_or(core::num::NonZeroU32::MIN),
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
