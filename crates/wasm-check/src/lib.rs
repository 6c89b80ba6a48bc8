//! The check module (ARCHITECTURE "Browser modules"): what a device checks of a compiled
//! campaign before it runs it (docs/compiled.md, "What a device checks"). The SDK imports it
//! only when a campaign version or a data map is new to the device, so that every other page
//! loads the runtime alone.
//!
//! [`check`] decodes the data map and the campaign as untrusted input and runs
//! `Runnable::check`: compiled against this data map, every attribute and event the program
//! reads allowing the campaign's purpose, every sensitive one covered by its review, one report
//! within the site's caps. What it returns is what the page needs to name results and ask for
//! consent, stored by the SDK with the bytes. The SDK hashes the bytes (WebCrypto, or the report
//! module where the page has none): SHA-256 here would be most of this module.
//!
//! Every failure is thrown as the one `DpsegError` shape; nothing panics (the workspace denies
//! `unwrap`, `expect` and `panic`, and the wasm profile aborts rather than unwinds).

#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

use alloc::string::String;
use dpseg::campaign::{Refusal, Runnable};
use dpseg::limits::Limits;
use dpseg::privacy::mechanism::Mechanism;
use dpseg::schema::{Schema, Sensitivity};
use dpseg_wasm_common::{error, object, site_policy};
use wasm_bindgen::prelude::*;

/// As in the runtime: a panic (bugs alone) traps, and the glue reports `internal`.
#[cfg(target_arch = "wasm32")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}

/// As in the runtime (see its lib.rs).
#[cfg(target_arch = "wasm32")]
#[global_allocator]
#[allow(unsafe_code, reason = "the module is single-threaded: wasm32 without the atomics feature")]
static ALLOC: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };

/// Checks a compiled campaign (`campaign`, the bytes of its document's `compiled`) against a
/// data map in its compact form (`schema`, whose `schema_id` the caller computed from these
/// bytes) under the site's caps: the highest ε of one report and the highest total over the
/// rolling window. Returns `[id, purpose, epoch_secs, epsilon, epsilon_lifetime, per_report,
/// answer_bytes, [segment id], [[group id, [case id]]], [[data, category]]]` (the last: the
/// sensitive data its program reads).
///
/// # Errors
/// `schema-compact`, `runnable-syntax` for bytes that are not what they should be;
/// `schema-mismatch`, `unknown-data`, `purpose-mismatch`, `sensitive-without-review` (with
/// `details.data`), `campaign-empty`, `over-report-cap`, `over-window-cap` (with
/// `details.epsilon` and `details.max`), `bad-policy`.
#[wasm_bindgen]
pub fn check(
    schema: &[u8],
    schema_id: &str,
    campaign: &[u8],
    epsilon_report_max: f64,
    epsilon_window_max: f64,
) -> Result<JsValue, JsValue> {
    let limits = Limits::default();
    let policy = site_policy(epsilon_report_max, epsilon_window_max)?;
    let map = Schema::from_compact(schema, &limits)
        .map_err(|e| error("schema-compact", &e.message(), JsValue::NULL))?;
    let run = Runnable::from_compact_for_evaluation(campaign, &limits)
        .map_err(|e| error("runnable-syntax", &e.message(), JsValue::NULL))?;
    let sensitive = run.check(&map, schema_id, &policy).map_err(|r| refusal(&r))?;
    Ok(info(&run, &sensitive))
}

fn refusal(r: &Refusal<'_>) -> JsValue {
    let details = match r {
        Refusal::OverCap { epsilon, max, .. } => {
            object(&[("epsilon", (*epsilon).into()), ("max", (*max).into())])
        }
        _ => object(&[("data", r.data().map_or(JsValue::NULL, JsValue::from_str))]),
    };
    error(r.code(), r.what(), details)
}

fn strings<'a>(items: impl Iterator<Item = &'a str>) -> js_sys::Array {
    items.map(JsValue::from_str).collect()
}

/// What [`check`] returns (an array: fewer calls into JS than an object).
fn info(run: &Runnable, sensitive: &[(&str, Sensitivity)]) -> JsValue {
    let m = run.mechanism();
    #[allow(clippy::cast_precision_loss, reason = "an epoch is far below 2^53 seconds")]
    let epoch_secs = run.epoch_secs() as f64;
    let out = js_sys::Array::new();
    for v in [
        JsValue::from_str(run.id()),
        JsValue::from_str(run.purpose()),
        epoch_secs.into(),
        m.map_or(0.0, Mechanism::eps_report).into(),
        m.map_or(0.0, Mechanism::eps_lifetime).into(),
        m.map_or(0, Mechanism::per_report).into(),
        m.map_or(0, Mechanism::answer_bytes).into(),
        strings(run.segment_ids().iter().map(String::as_str)).into(),
        run.groups()
            .map(|(id, cases)| js_sys::Array::of2(&JsValue::from_str(id), &strings(cases)))
            .collect::<js_sys::Array>()
            .into(),
        sensitive
            .iter()
            .map(|&(data, s)| strings([data, s.name()].into_iter()))
            .collect::<js_sys::Array>()
            .into(),
    ] {
        out.push(&v);
    }
    out.into()
}
