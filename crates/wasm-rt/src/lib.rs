//! The runtime module: what every page of a site loads (ARCHITECTURE "Browser modules").
//!
//! It keeps the profile and the campaigns a page runs inside wasm memory; validates every
//! change against the data map; evaluates segments; and gives the report module
//! (`crates/wasm-report`, loaded only when a report is due), which holds the device secret and
//! ledger, the true answers to privatise. It reads campaigns in their compiled form and the data
//! map in its compact form, as untrusted input: campaigns the check module (`crates/wasm-check`,
//! loaded when a campaign version or data map is new to the device) checked, and it refuses one
//! compiled against another data map. It carries no rule parser, compiler, linter or JSON text
//! handling.
//!
//! Every failure is thrown as the one `DpsegError` shape; nothing panics (the workspace denies
//! `unwrap`, `expect` and `panic`, and the wasm profile aborts rather than unwinds).

#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use dpseg::campaign::{Membership, Runnable};
use dpseg::limits::Limits;
use dpseg::profile::{Profile, ProfileError};
use dpseg::schema::Schema;
use dpseg_wasm_common::{error, object, replace_or_push, secs, unknown_campaign};
use wasm_bindgen::prelude::*;

mod lite;

/// Without std (the module is `no_std` on wasm32, so that it carries none of std's panic and
/// formatting machinery) a panic, which the workspace's lints leave to bugs alone, traps: the
/// JS glue turns the trap into an exception, which the SDK reports as `internal`.
#[cfg(target_arch = "wasm32")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}

/// lol_alloc's free-list allocator instead of the standard dlmalloc (or talc, 0.45 KB more
/// gzipped): the least wasm on every page. Its allocation walks the free list, which is fine
/// here: allocation is not on the evaluation path, which allocates nothing, only on profile
/// changes and campaign loads.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
#[allow(unsafe_code, reason = "the module is single-threaded: wasm32 without the atomics feature")]
static ALLOC: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };

use lite::{profile_to_js, Lite};

fn profile_error(e: &ProfileError) -> JsValue {
    error(e.code(), &e.message(), object(&[("path", JsValue::from_str(&e.path))]))
}

/// A campaign the runtime runs.
struct Loaded {
    run: Runnable,
    /// Reused so evaluation does not allocate.
    membership: Membership,
}

/// The on-device runtime: data map, profile and campaigns.
#[wasm_bindgen]
pub struct Runtime {
    schema: Schema,
    /// The data map's `schema_id`, as the SDK computed it from the bytes (SHA-256 in the
    /// platform's WebCrypto, so no hash function ships in this module).
    schema_id: String,
    limits: Limits,
    profile: Profile,
    campaigns: Vec<Loaded>,
}

#[wasm_bindgen]
impl Runtime {
    /// Opens a runtime for a data map in its compact form (`GET /v1/schema/compact`, or the
    /// verifier's `compactSchema`), whose `schema_id` the caller computed from these bytes.
    ///
    /// # Errors
    /// `schema-compact` for bytes that are not a data map.
    #[wasm_bindgen(constructor)]
    pub fn new(schema: &[u8], schema_id: String) -> Result<Runtime, JsValue> {
        let limits = Limits::default();
        let schema = Schema::from_compact(schema, &limits)
            .map_err(|e| error("schema-compact", &e.message(), JsValue::NULL))?;
        let profile = Profile::new(&schema);
        Ok(Runtime { schema, schema_id, limits, profile, campaigns: Vec::new() })
    }

    /// Sets attribute `name` (`null` or `undefined` unsets it).
    ///
    /// # Errors
    /// `unknown-attribute`, `wrong-type`, `not-in-vocabulary`… with `details.path`; the
    /// profile is unchanged.
    pub fn set(&mut self, name: &str, value: JsValue) -> Result<(), JsValue> {
        let value = Lite::from_js(&value);
        self.profile.set(&self.schema, name, &value, &self.limits).map_err(|e| profile_error(&e))
    }

    /// Records an event `{name, at, props}` (`at` an RFC 3339 time) and applies retention as of
    /// `now_ms`.
    ///
    /// # Errors
    /// As [`Runtime::set`].
    pub fn track(&mut self, event: JsValue, now_ms: f64) -> Result<(), JsValue> {
        let now = secs(now_ms)?;
        let event = Lite::from_js(&event);
        self.profile.track(&self.schema, &event, now, &self.limits).map_err(|e| profile_error(&e))
    }

    /// The profile as its document `{attributes, events}` (a JS object).
    pub fn profile(&self) -> JsValue {
        profile_to_js(&self.profile, &self.schema)
    }

    /// Replaces the profile with a stored document (a JS object).
    ///
    /// # Errors
    /// As [`Runtime::set`]; the profile is then unchanged.
    #[wasm_bindgen(js_name = importProfile)]
    pub fn import_profile(&mut self, doc: JsValue, now_ms: f64) -> Result<(), JsValue> {
        let now = secs(now_ms)?;
        self.profile =
            Profile::from_json_value(&self.schema, &Lite::from_js(&doc), now, &self.limits)
                .map_err(|e| profile_error(&e))?;
        Ok(())
    }

    /// Loads a compiled campaign (the bytes of its document's `compiled`) that the check module
    /// accepted for this data map; loading a campaign with the same id replaces it. Returns its
    /// handle.
    ///
    /// # Errors
    /// `runnable-syntax` for bytes that are not a compiled campaign, `schema-mismatch` for one
    /// compiled against another data map (its ids would name other data).
    #[wasm_bindgen(js_name = loadRunnable)]
    pub fn load_runnable(&mut self, bytes: &[u8]) -> Result<u32, JsValue> {
        let run = Runnable::from_compact_for_evaluation(bytes, &self.limits)
            .map_err(|e| error("runnable-syntax", &e.message(), JsValue::NULL))?;
        if run.head().schema_id() != self.schema_id {
            return Err(error(
                "schema-mismatch",
                "compiled against another data map",
                JsValue::NULL,
            ));
        }
        let membership = run.new_membership();
        Ok(replace_or_push(&mut self.campaigns, Loaded { run, membership }, |c| c.run.id()))
    }

    /// Evaluates every segment and group of campaign `handle` at `now_ms`: one entry per
    /// segment (1 in, 0 out) followed by one per group (the case's index, the number of cases
    /// for none), as `itemTruth` encodes them (`Runnable::item_values`).
    ///
    /// # Errors
    /// `unknown-campaign`, `bad-time`.
    pub fn evaluate(&mut self, handle: u32, now_ms: f64) -> Result<Vec<u16>, JsValue> {
        let now = secs(now_ms)?;
        let profile = &self.profile;
        let l = self.campaigns.get_mut(handle as usize).ok_or_else(|| unknown_campaign(handle))?;
        l.run.evaluate_into(profile, now, &mut l.membership);
        Ok(l.run.item_values(&l.membership).collect())
    }

    /// Whether the visitor is in segment `index` of campaign `handle` at `now_ms`.
    ///
    /// # Errors
    /// `unknown-campaign`, `unknown-segment`, `bad-time`.
    #[wasm_bindgen(js_name = inSegment)]
    pub fn in_segment(&mut self, handle: u32, index: u32, now_ms: f64) -> Result<bool, JsValue> {
        let now = secs(now_ms)?;
        let profile = &self.profile;
        let l = self.campaigns.get_mut(handle as usize).ok_or_else(|| unknown_campaign(handle))?;
        l.run.evaluate_segment(profile, now, index as usize, &mut l.membership).ok_or_else(|| {
            error(
                "unknown-segment",
                "no segment with this index",
                object(&[("index", index.into())]),
            )
        })
    }

    /// The true value of report item `item` of campaign `handle` at `now_ms`, as the report
    /// module asks for it: 0 or 1 for a segment (items first), then for a group the index of
    /// the first case that holds (the number of cases for none). Evaluates that item and what
    /// it references only.
    ///
    /// # Errors
    /// `unknown-campaign`, `unknown-item`, `bad-time`.
    #[wasm_bindgen(js_name = itemTruth)]
    pub fn item_truth(&mut self, handle: u32, item: u32, now_ms: f64) -> Result<u16, JsValue> {
        let now = secs(now_ms)?;
        let profile = &self.profile;
        let l = self.campaigns.get_mut(handle as usize).ok_or_else(|| unknown_campaign(handle))?;
        l.run.item_truth(profile, now, item as usize, &mut l.membership).ok_or_else(|| {
            error(
                "unknown-item",
                "no report item with this index",
                object(&[("item", item.into())]),
            )
        })
    }
}
