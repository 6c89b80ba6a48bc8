//! The report module (ARCHITECTURE "Browser modules"): makes a campaign's private report. The
//! SDK imports it only when a report is due, at most once per campaign per epoch, so the
//! hashing, the mechanisms and the report encoding stay out of what every page loads.
//!
//! It holds the campaigns' heads and mechanisms (read from the compact form the runtime runs)
//! and the site's caps, and no visitor data: the device state (secret and ledger) lives in the
//! page's storage in its compact form, which this module makes (`newDevice`), reads (`budget`)
//! and updates (`report`, which also takes the runtime's answers). The ledger check, the
//! memoised noise and the encoding are the core's `DeviceState::report_with`, as everywhere
//! else.
//!
//! Every failure is thrown as the one `DpsegError` shape; nothing panics (the workspace denies
//! `unwrap`, `expect` and `panic`, and the wasm profile aborts rather than unwinds).

use dpseg::campaign::{Head, Runnable};
use dpseg::privacy::ledger::{DeviceState, LedgerError, SitePolicy};
use dpseg::privacy::mechanism::Mechanism;
use dpseg_wasm_common::{
    campaign_empty, error, object, replace_or_push, secs, site_policy, unknown_campaign, SystemRng,
};
use wasm_bindgen::prelude::*;

/// As in the runtime (see its lib.rs).
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOC: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

/// The ledger's refusal with its figures in `details`; the message leaves them out, so that
/// this module needs no float formatting.
fn ledger_error(e: &LedgerError) -> JsValue {
    let (message, details) = match e {
        LedgerError::AlreadyReported { campaign, epoch } => {
            #[allow(clippy::cast_precision_loss, reason = "epoch numbers are far below 2^53")]
            let epoch = *epoch as f64;
            let details =
                object(&[("campaign", JsValue::from_str(campaign)), ("epoch", epoch.into())]);
            ("the campaign already reported in this epoch", details)
        }
        LedgerError::OverReportCap { epsilon, max } => (
            "a report of this campaign costs more ε than the site's cap per report",
            object(&[("epsilon", (*epsilon).into()), ("max", (*max).into())]),
        ),
        LedgerError::OverWindowCap { spent, epsilon, max } => (
            "another report would pass the site's ε cap over the rolling window",
            object(&[
                ("spent", (*spent).into()),
                ("epsilon", (*epsilon).into()),
                ("max", (*max).into()),
            ]),
        ),
        LedgerError::OverLifetimeCap { charged, epsilon, max } => (
            "the permanent answers this report needs would pass the site's lifetime ε cap",
            object(&[
                ("charged", (*charged).into()),
                ("epsilon", (*epsilon).into()),
                ("max", (*max).into()),
            ]),
        ),
        LedgerError::Dishonest { what } => {
            ("the campaign's mechanism is refused", object(&[("reason", JsValue::from_str(what))]))
        }
        _ => ("the ledger refused the report", JsValue::NULL),
    };
    error(e.code(), message, details)
}

/// The content id of compact bytes (docs/compiled.md): a campaign's `config_id`, a data map's
/// `schema_id`. The SDK hashes with WebCrypto where the page has it (a secure context) and with
/// this otherwise.
#[wasm_bindgen(js_name = contentId)]
pub fn content_id(bytes: &[u8]) -> String {
    dpseg::compact::content_id(bytes)
}

/// A new device state in its compact form: a fresh secret from the system's CSPRNG and an
/// empty ledger. The page stores it (on the device only) and passes it to every report.
///
/// # Errors
/// `no-randomness`.
#[wasm_bindgen(js_name = newDevice)]
pub fn new_device() -> Result<Vec<u8>, JsValue> {
    Ok(DeviceState::new(&mut SystemRng::new()?).to_compact())
}

fn device_state(bytes: &[u8]) -> Result<DeviceState, JsValue> {
    DeviceState::from_compact(bytes)
        .map_err(|e| error("device-syntax", &e.message(), JsValue::NULL))
}

/// The campaigns this page may report, with the site's caps. Holds no visitor data: the device
/// state comes in and goes out with every report.
#[wasm_bindgen]
pub struct Reporter {
    policy: SitePolicy,
    campaigns: Vec<(Head, Mechanism)>,
}

#[wasm_bindgen]
impl Reporter {
    /// A reporter under the site's caps, as the runtime was opened with, and the lifetime cap
    /// (the core's default when absent).
    ///
    /// # Errors
    /// `bad-policy`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        epsilon_report_max: f64,
        epsilon_window_max: f64,
        epsilon_lifetime_max: Option<f64>,
    ) -> Result<Reporter, JsValue> {
        let mut policy = site_policy(epsilon_report_max, epsilon_window_max)?;
        if let Some(max) = epsilon_lifetime_max {
            if !(max.is_finite() && max > 0.0) {
                return Err(error(
                    "bad-policy",
                    "epsilonLifetimeMax must be a positive number",
                    object(&[("epsilonLifetimeMax", max.into())]),
                ));
            }
            policy.epsilon_lifetime_max = max;
        }
        Ok(Reporter { policy, campaigns: Vec::new() })
    }

    /// Reads a campaign in the compact form the verifier produced (the runtime's
    /// `loadRunnable` input); only its head and mechanism. Returns its handle; loading a
    /// campaign with the same id replaces it.
    ///
    /// # Errors
    /// `runnable-syntax`, `campaign-empty`.
    pub fn load(&mut self, runnable: &[u8]) -> Result<u32, JsValue> {
        let (head, mechanism) = Runnable::read_head(runnable)
            .map_err(|e| error("runnable-syntax", &e.message(), JsValue::NULL))?;
        let mechanism = mechanism.ok_or_else(campaign_empty)?;
        Ok(replace_or_push(&mut self.campaigns, (head, mechanism), |(h, _)| h.id()))
    }

    /// What the device state's ledgers say at `now_ms`: `{spent, ledger, charged, lifetimeMax}`,
    /// the ε spent over the rolling window, every entry `{campaign, epoch, epsilon, at}` (`at` in
    /// Unix seconds), the ε of every permanent answer created, and the lifetime cap.
    ///
    /// # Errors
    /// `device-syntax`, `bad-time`.
    pub fn budget(&self, device: &[u8], now_ms: f64) -> Result<JsValue, JsValue> {
        let now = secs(now_ms)?;
        let device = device_state(device)?;
        let ledger: js_sys::Array = device
            .spent()
            .iter()
            .map(|s| {
                #[allow(clippy::cast_precision_loss, reason = "epochs and times are below 2^53")]
                let (epoch, at) = (s.epoch as f64, s.at as f64);
                object(&[
                    ("campaign", JsValue::from_str(&s.campaign)),
                    ("epoch", epoch.into()),
                    ("epsilon", s.epsilon.into()),
                    ("at", at.into()),
                ])
            })
            .collect();
        let spent = device.spent_in_window(now, &self.policy);
        Ok(object(&[
            ("spent", spent.into()),
            ("ledger", ledger.into()),
            ("charged", device.charged_total().into()),
            ("lifetimeMax", self.policy.epsilon_lifetime_max.into()),
        ]))
    }

    /// Makes this epoch's report of campaign `handle` and records its cost in the ledger.
    ///
    /// - `device`: the device state in its compact form (`newDevice`'s, or a previous report's);
    /// - `truth`: a function from a report item's index to its true value (the runtime's
    ///   `itemTruth`), asked only for the items this device samples, so a report of a large
    ///   campaign evaluates a few of its segments.
    ///
    /// Returns `{body, device}`: the report as the exact JSON text to send, and the device
    /// state with the spend recorded, which the caller stores before sending (losing a report
    /// is safe, spending twice is not).
    ///
    /// # Errors
    /// `unknown-campaign`, `device-syntax`, `bad-time`, `bad-truth` (`truth` threw or gave a
    /// value that is not one of the item's); `already-reported`, `over-report-cap`,
    /// `over-window-cap`, `over-lifetime-cap`, `dishonest-mechanism` from the ledger. Nothing is
    /// made or spent then.
    pub fn report(
        &self,
        handle: u32,
        device: &[u8],
        truth: &js_sys::Function,
        now_ms: f64,
    ) -> Result<JsValue, JsValue> {
        let now = secs(now_ms)?;
        let (head, mechanism) =
            self.campaigns.get(handle as usize).ok_or_else(|| unknown_campaign(handle))?;
        let mut device = device_state(device)?;
        let items = mechanism.items();
        let mut bad = None;
        let answer = |i: u16| {
            let domain = items.get(usize::from(i)).map_or(0, |it| it.domain());
            let v = truth.call1(&JsValue::NULL, &i.into()).ok().and_then(|v| v.as_f64());
            match v {
                #[allow(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    reason = "a whole number in the item's domain, checked"
                )]
                Some(v) if v.fract() == 0.0 && v >= 0.0 && v < f64::from(domain) => v as u16,
                _ => {
                    bad.get_or_insert(i);
                    0
                }
            }
        };
        let mut rng = SystemRng::new()?;
        let report = device
            .report_with(head, mechanism, answer, now, &self.policy, &mut rng)
            .map_err(|e| ledger_error(&e))?;
        // The report and the spend are dropped: nothing was sent or stored.
        if let Some(item) = bad {
            return Err(error(
                "bad-truth",
                "truth gave no value of the item's domain",
                object(&[("item", item.into())]),
            ));
        }
        let bytes = js_sys::Uint8Array::from(device.to_compact().as_slice());
        Ok(object(&[("body", JsValue::from_str(&report.to_json_text())), ("device", bytes.into())]))
    }
}
