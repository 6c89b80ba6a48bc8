//! The device's privacy state: its secret and its ledgers (docs/privacy.md, "The device's
//! ledgers").
//!
//! [`DeviceState`] is one serialisable value that the SDK persists. It holds the 256-bit device
//! secret (from which every sampled set is derived per campaign `config_id`, and every permanent
//! answer per item identity, with HMAC-SHA256) and two ledgers:
//!
//! - **spends**: ε of each report, per campaign and epoch, kept for the rolling window and until
//!   its epoch has ended;
//! - **charges**: one entry per permanent answer the device ever created (an item identity and
//!   a true value), with that answer's ε. Every report is a randomisation of permanent answers,
//!   so the charges bound what all reports of every campaign version together reveal.
//!
//! A report is made only when the campaign has not reported in this epoch, its mechanism is an
//! honest channel, its ε is within the site's cap per report, the rolling window's spends plus
//! this report stay within the window cap, and the charges plus the permanent answers this
//! report would create stay within the site's lifetime cap; otherwise nothing is produced, so
//! nothing can be sent.

use crate::prelude::*;

use core::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};

use crate::campaign::{Head, Membership, Runnable};
use crate::compact::{CompactError, Reader, Writer};
use crate::privacy::coin::{DeviceRandomness, Prf};
use crate::privacy::mechanism::{Mechanism, Slot};
use crate::report::{encode, Report};
use crate::time::UnixSecs;

/// Leading bytes of a compact device state, this format.
const DEVICE_TAG: &[u8; 4] = b"dpd2";

/// Leading bytes of the first format (no epoch ends, no charges), still read.
const DEVICE_TAG_V1: &[u8; 4] = b"dpd1";

/// How long a spend read from a `dpd1` state is kept for its campaign's epoch: that format did
/// not record the epoch's end, so the longest epoch a campaign can have is assumed.
pub const V1_SPEND_KEPT_SECS: i64 = 1_000_000 * 604_800;

/// Most permanent answers a device records; a report that would create more is refused as over
/// the lifetime cap.
pub const CHARGES_MAX: usize = 4096;

/// The device secret. Its `Debug` hides it; equality is constant-time.
#[derive(Clone)]
pub struct Secret([u8; 32]);

impl Secret {
    /// A fresh secret from a CSPRNG.
    pub fn generate(rng: &mut (impl RngCore + CryptoRng)) -> Secret {
        let mut b = [0u8; 32];
        rng.fill_bytes(&mut b);
        Secret(b)
    }

    /// The PRF of this secret for campaign `config_id`.
    pub fn prf(&self, config_id: &str) -> Prf {
        Prf::new(&self.0, config_id)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<hidden>)")
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        // Constant time: every byte is compared whatever the earlier ones were.
        self.0.iter().zip(&other.0).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

impl Eq for Secret {}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&URL_SAFE_NO_PAD.encode(self.0))
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let bytes = URL_SAFE_NO_PAD.decode(text.as_bytes()).map_err(serde::de::Error::custom)?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| serde::de::Error::custom("device secret must be 32 bytes"))?;
        Ok(Secret(arr))
    }
}

/// One report's spending.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spend {
    /// Campaign id.
    pub campaign: String,
    /// Epoch number.
    pub epoch: u64,
    /// ε of the report.
    pub epsilon: f64,
    /// When the report was made.
    pub at: UnixSecs,
    /// When its epoch ends: the spend is kept until then, whatever the window, so the campaign
    /// cannot report twice in the epoch.
    pub until: UnixSecs,
}

/// One permanent answer the device created: a keyed digest of its item identity and true value
/// (not the value itself), and its ε.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Charge {
    /// The device's PRF of the identity and value.
    pub key: u64,
    /// ε of the permanent answer.
    pub epsilon: f64,
}

/// The site's caps, set by the brand when it opens the engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SitePolicy {
    /// Highest ε of one report.
    pub epsilon_report_max: f64,
    /// Highest total ε over the rolling window.
    pub epsilon_window_max: f64,
    /// The rolling window, seconds.
    pub window_secs: i64,
    /// Highest total ε of the permanent answers a device creates, for as long as its state is
    /// kept: the bound on everything all its reports reveal (docs/privacy.md).
    #[serde(default = "default_lifetime_max")]
    pub epsilon_lifetime_max: f64,
}

/// The default lifetime cap.
pub const EPSILON_LIFETIME_MAX_DEFAULT: f64 = 32.0;

fn default_lifetime_max() -> f64 {
    EPSILON_LIFETIME_MAX_DEFAULT
}

impl SitePolicy {
    /// The default policy with a site's caps per report and per window, or `None` when either
    /// is not a positive finite number: the one check of the caps a site sets (the browser
    /// modules' `bad-policy`).
    pub fn with_caps(epsilon_report_max: f64, epsilon_window_max: f64) -> Option<SitePolicy> {
        let ok = |e: f64| e.is_finite() && e > 0.0;
        (ok(epsilon_report_max) && ok(epsilon_window_max)).then(|| SitePolicy {
            epsilon_report_max,
            epsilon_window_max,
            ..SitePolicy::default()
        })
    }
}

impl Default for SitePolicy {
    /// 2.0 per report, 8.0 per 30 days, 32 over the device's lifetime.
    fn default() -> Self {
        SitePolicy {
            epsilon_report_max: 2.0,
            epsilon_window_max: 8.0,
            window_secs: 30 * 86_400,
            epsilon_lifetime_max: EPSILON_LIFETIME_MAX_DEFAULT,
        }
    }
}

/// Why no report was made.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum LedgerError {
    /// The campaign already reported in this epoch.
    AlreadyReported {
        /// Campaign id.
        campaign: String,
        /// Epoch number.
        epoch: u64,
    },
    /// The report's ε is above the site's cap per report.
    OverReportCap {
        /// The report's ε.
        epsilon: f64,
        /// The cap.
        max: f64,
    },
    /// The window's cap would be exceeded.
    OverWindowCap {
        /// ε already spent in the window.
        spent: f64,
        /// The report's ε.
        epsilon: f64,
        /// The cap.
        max: f64,
    },
    /// The permanent answers this report would create would pass the lifetime cap.
    OverLifetimeCap {
        /// ε of the permanent answers created so far.
        charged: f64,
        /// ε of the new ones this report needs.
        epsilon: f64,
        /// The cap.
        max: f64,
    },
    /// The mechanism is not an honest channel, or its ε is not a positive finite number: it is
    /// refused whatever it claims.
    Dishonest {
        /// What is wrong.
        what: &'static str,
    },
}

impl LedgerError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            LedgerError::AlreadyReported { .. } => "already-reported",
            LedgerError::OverReportCap { .. } => "over-report-cap",
            LedgerError::OverWindowCap { .. } => "over-window-cap",
            LedgerError::OverLifetimeCap { .. } => "over-lifetime-cap",
            LedgerError::Dishonest { .. } => "dishonest-mechanism",
        }
    }
}

impl fmt::Display for LedgerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LedgerError::AlreadyReported { campaign, epoch } => {
                write!(f, "campaign '{campaign}' already reported in epoch {epoch}")
            }
            LedgerError::OverReportCap { epsilon, max } => {
                write!(f, "a report costs epsilon {epsilon}, above the site's cap of {max} per report")
            }
            LedgerError::OverWindowCap { spent, epsilon, max } => write!(
                f,
                "epsilon {spent} already spent in the window; another {epsilon} would pass the cap of {max}"
            ),
            LedgerError::OverLifetimeCap { charged, epsilon, max } => write!(
                f,
                "permanent answers of epsilon {charged} already created; another {epsilon} would pass the lifetime cap of {max}"
            ),
            LedgerError::Dishonest { what } => write!(f, "refused mechanism: {what}"),
        }
    }
}

impl core::error::Error for LedgerError {}

/// Everything the device keeps for private reporting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceState {
    secret: Secret,
    /// Spending within the window or an epoch not yet ended (older entries are pruned).
    spent: Vec<Spend>,
    /// Every permanent answer created, never pruned.
    #[serde(default)]
    charged: Vec<Charge>,
}

fn honest_epsilon(e: f64) -> bool {
    e.is_finite() && e > 0.0
}

impl DeviceState {
    /// A new device with a fresh secret and empty ledgers.
    pub fn new(rng: &mut (impl RngCore + CryptoRng)) -> DeviceState {
        DeviceState { secret: Secret::generate(rng), spent: Vec::new(), charged: Vec::new() }
    }

    /// The ledger of spends.
    pub fn spent(&self) -> &[Spend] {
        &self.spent
    }

    /// The ledger of permanent answers.
    pub fn charged(&self) -> &[Charge] {
        &self.charged
    }

    /// ε of every permanent answer created.
    pub fn charged_total(&self) -> f64 {
        self.charged.iter().map(|c| c.epsilon).sum()
    }

    /// ε spent in the window ending at `now`. A spend dated after `now` (the clock was set
    /// back) counts until it leaves the window.
    pub fn spent_in_window(&self, now: UnixSecs, policy: &SitePolicy) -> f64 {
        self.spent.iter().filter(|s| s.at > now - policy.window_secs).map(|s| s.epsilon).sum()
    }

    /// Checks whether a report of `epsilon` for `campaign` in `epoch` may be made at `now`
    /// (everything but the lifetime cap, which depends on the answers).
    ///
    /// # Errors
    /// When ε is not a positive finite number, the campaign already reported this epoch or a cap
    /// would be exceeded.
    pub fn check(
        &self,
        campaign: &str,
        epoch: u64,
        epsilon: f64,
        now: UnixSecs,
        policy: &SitePolicy,
    ) -> Result<(), LedgerError> {
        if !honest_epsilon(epsilon) {
            return Err(LedgerError::Dishonest {
                what: "an epsilon that is not positive and finite",
            });
        }
        if self.spent.iter().any(|s| s.campaign == campaign && s.epoch == epoch) {
            return Err(LedgerError::AlreadyReported { campaign: campaign.to_owned(), epoch });
        }
        if epsilon > policy.epsilon_report_max {
            return Err(LedgerError::OverReportCap { epsilon, max: policy.epsilon_report_max });
        }
        let spent = self.spent_in_window(now, policy);
        if spent + epsilon > policy.epsilon_window_max + 1e-12 {
            return Err(LedgerError::OverWindowCap {
                spent,
                epsilon,
                max: policy.epsilon_window_max,
            });
        }
        Ok(())
    }

    /// Makes this epoch's report for `campaign` from `membership`, and records its cost.
    ///
    /// # Errors
    /// As [`DeviceState::report_with`].
    pub fn report(
        &mut self,
        campaign: &Runnable,
        mechanism: &Mechanism,
        membership: &Membership,
        now: UnixSecs,
        policy: &SitePolicy,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<Report, LedgerError> {
        let truth = membership.item_values(mechanism);
        self.report_with(
            campaign.head(),
            mechanism,
            |i| truth.get(usize::from(i)).copied().unwrap_or(0),
            now,
            policy,
            rng,
        )
    }

    /// As [`DeviceState::report`], asking `truth` for the true value of each sampled item only
    /// (see [`Runnable::item_truth`]): a report of a large campaign then evaluates only
    /// the few items it carries.
    ///
    /// # Errors
    /// As [`DeviceState::check`], [`LedgerError::Dishonest`] for a mechanism that fails
    /// [`Mechanism::check`] or a head without one identity per item, and
    /// [`LedgerError::OverLifetimeCap`]; the ledgers are then unchanged and no report exists.
    pub fn report_with(
        &mut self,
        campaign: &Head,
        mechanism: &Mechanism,
        mut truth: impl FnMut(u16) -> u16,
        now: UnixSecs,
        policy: &SitePolicy,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<Report, LedgerError> {
        if mechanism.check().is_err() {
            return Err(LedgerError::Dishonest { what: "the mechanism is not an honest channel" });
        }
        let ids = campaign.memo_ids();
        if ids.len() != mechanism.items().len() {
            return Err(LedgerError::Dishonest { what: "not one answer identity per item" });
        }
        let epoch_secs = campaign.epoch_secs();
        let epoch = u64::try_from(now.div_euclid(epoch_secs)).unwrap_or(0);
        let epsilon = mechanism.eps_report();
        self.check(campaign.id(), epoch, epsilon, now, policy)?;
        let prf = self.secret.prf(campaign.config_id());
        let answers = Prf::answers(&self.secret.0);
        let mut randomness = DeviceRandomness::new(rng, &prf, &answers, ids);
        let s = usize::from(mechanism.per_report());
        let mut picked = [0u16; 64];
        mechanism.sampled_items(&mut randomness, &mut picked[..s]);
        let mut values = [0u16; 64];
        for (v, &i) in values.iter_mut().zip(&picked[..s]) {
            *v = truth(i);
        }
        // The permanent answers this report reads that the device has not created before.
        let mut new: Vec<Charge> = Vec::new();
        for (&i, &v) in picked[..s].iter().zip(&values) {
            let (id, item) = (&ids[usize::from(i)], &mechanism.items()[usize::from(i)]);
            let key = answers.answer_u64(id, v, u16::MAX, u32::MAX);
            if !self.charged.iter().chain(&new).any(|c| c.key == key) {
                new.push(Charge { key, epsilon: item.eps_memo() });
            }
        }
        let charged = self.charged_total();
        let adding: f64 = new.iter().map(|c| c.epsilon).sum();
        if charged + adding > policy.epsilon_lifetime_max + 1e-12
            || self.charged.len() + new.len() > CHARGES_MAX
        {
            return Err(LedgerError::OverLifetimeCap {
                charged,
                epsilon: adding,
                max: policy.epsilon_lifetime_max,
            });
        }
        let mut slots = vec![Slot { item: 0, out: 0 }; s];
        let value_of = |i: u16| picked[..s].iter().position(|&p| p == i).map_or(0, |k| values[k]);
        mechanism.answer_items(&picked[..s], value_of, &mut randomness, &mut slots);
        let id = campaign.id();
        let report = encode(id, campaign.config_id(), epoch, mechanism, &slots, &mut randomness);
        self.spent.retain(|s| s.at > now - policy.window_secs || s.until > now);
        let until =
            i64::try_from(epoch).unwrap_or(i64::MAX).saturating_add(1).saturating_mul(epoch_secs);
        self.spent.push(Spend { campaign: id.to_owned(), epoch, epsilon, at: now, until });
        self.charged.extend(new);
        Ok(report)
    }

    /// The compact form (see [`crate::compact`]): the secret, the spends, the charges.
    pub fn to_compact(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.raw(DEVICE_TAG);
        w.raw(&self.secret.0);
        w.len(self.spent.len());
        for s in &self.spent {
            w.str(&s.campaign);
            w.uint(s.epoch);
            w.float(s.epsilon);
            w.int(s.at);
            w.int(s.until);
        }
        w.len(self.charged.len());
        for c in &self.charged {
            w.uint(c.key);
            w.float(c.epsilon);
        }
        w.bytes
    }

    /// Reads the compact form, this format's (`dpd2`) or the first (`dpd1`, migrated: each
    /// spend kept for [`V1_SPEND_KEPT_SECS`], no charges yet).
    ///
    /// # Errors
    /// On malformed bytes or an ε that is not a positive finite number.
    pub fn from_compact(bytes: &[u8]) -> Result<DeviceState, CompactError> {
        let v1 = bytes.starts_with(DEVICE_TAG_V1);
        let mut r = Reader::new(bytes);
        if v1 {
            r.tag(DEVICE_TAG_V1, "device state (\"dpd1\")");
        } else {
            r.tag(DEVICE_TAG, "device state (\"dpd2\" or \"dpd1\")");
        }
        let mut secret = [0u8; 32];
        let b = r.raw(32);
        if b.len() == 32 {
            secret.copy_from_slice(b);
        }
        let spent = r.list(|r| {
            let (campaign, epoch, epsilon, at) = (r.str(), r.uint(), r.float(), r.int());
            let until = if v1 { at.saturating_add(V1_SPEND_KEPT_SECS) } else { r.int() };
            if !honest_epsilon(epsilon) {
                r.fail("a positive finite ε");
            }
            Spend { campaign, epoch, epsilon, at, until }
        });
        let charged = if v1 {
            Vec::new()
        } else {
            r.list(|r| {
                let (key, epsilon) = (r.uint(), r.float());
                if !honest_epsilon(epsilon) {
                    r.fail("a positive finite ε");
                }
                Charge { key, epsilon }
            })
        };
        r.finish()?;
        Ok(DeviceState { secret: Secret(secret), spent, charged })
    }

    /// Forgets everything: a new secret and empty ledgers. Memoised answers are not stored, so
    /// they are gone with the old secret.
    pub fn reset(&mut self, rng: &mut (impl RngCore + CryptoRng)) {
        *self = DeviceState::new(rng);
    }
}
