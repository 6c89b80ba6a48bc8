//! The device's privacy state: its secret and its ledger of ε spent (DESIGN §6 "Longitudinal").
//!
//! [`DeviceState`] is one serialisable value that the SDK persists. It holds the 256-bit device
//! secret (from which every memoised answer and sampled set is derived, per campaign
//! `config_id`, with HMAC-SHA256) and the ledger: ε spent per campaign and epoch. A report is
//! made only when the campaign has not reported in this epoch, its ε is within the site's cap per
//! report, and the ε spent in the rolling window plus this report stays within the window cap;
//! otherwise nothing is produced, so nothing can be sent.

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

/// Leading bytes of a compact device state.
const DEVICE_TAG: &[u8; 4] = b"dpd1";

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
}

impl Default for SitePolicy {
    /// 2.0 per report, 8.0 per 30 days.
    fn default() -> Self {
        SitePolicy { epsilon_report_max: 2.0, epsilon_window_max: 8.0, window_secs: 30 * 86_400 }
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
}

impl LedgerError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            LedgerError::AlreadyReported { .. } => "already-reported",
            LedgerError::OverReportCap { .. } => "over-report-cap",
            LedgerError::OverWindowCap { .. } => "over-window-cap",
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
        }
    }
}

impl core::error::Error for LedgerError {}

/// Everything the device keeps for private reporting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceState {
    secret: Secret,
    /// Spending within the window (older entries are pruned).
    spent: Vec<Spend>,
}

impl DeviceState {
    /// A new device with a fresh secret and an empty ledger.
    pub fn new(rng: &mut (impl RngCore + CryptoRng)) -> DeviceState {
        DeviceState { secret: Secret::generate(rng), spent: Vec::new() }
    }

    /// The ledger.
    pub fn spent(&self) -> &[Spend] {
        &self.spent
    }

    /// ε spent in the window ending at `now`.
    pub fn spent_in_window(&self, now: UnixSecs, policy: &SitePolicy) -> f64 {
        self.spent
            .iter()
            .filter(|s| s.at > now - policy.window_secs && s.at <= now)
            .map(|s| s.epsilon)
            .sum()
    }

    /// Checks whether a report of `epsilon` for `campaign` in `epoch` may be made at `now`.
    ///
    /// # Errors
    /// When the campaign already reported this epoch or a cap would be exceeded.
    pub fn check(
        &self,
        campaign: &str,
        epoch: u64,
        epsilon: f64,
        now: UnixSecs,
        policy: &SitePolicy,
    ) -> Result<(), LedgerError> {
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
    /// As [`DeviceState::check`]; the ledger is then unchanged and no report exists.
    pub fn report(
        &mut self,
        campaign: &Runnable,
        mechanism: &Mechanism,
        membership: &Membership,
        now: UnixSecs,
        policy: &SitePolicy,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<Report, LedgerError> {
        let truth = mechanism.truth(membership);
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
    /// As [`DeviceState::check`]; the ledger is then unchanged and no report exists.
    pub fn report_with(
        &mut self,
        campaign: &Head,
        mechanism: &Mechanism,
        truth: impl FnMut(u16) -> u16,
        now: UnixSecs,
        policy: &SitePolicy,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<Report, LedgerError> {
        let epoch_secs = campaign.epoch_secs();
        let epoch = u64::try_from(now.div_euclid(epoch_secs)).unwrap_or(0);
        let epsilon = mechanism.eps_report();
        self.check(campaign.id(), epoch, epsilon, now, policy)?;
        let prf = self.secret.prf(campaign.config_id());
        let mut randomness = DeviceRandomness::new(rng, &prf);
        let mut slots = vec![Slot { item: 0, out: 0 }; usize::from(mechanism.per_report())];
        mechanism.privatize_with(truth, &mut randomness, &mut slots);
        let id = campaign.id();
        let report = encode(id, campaign.config_id(), epoch, mechanism, &slots, &mut randomness);
        self.spent.retain(|s| s.at > now - policy.window_secs.max(epoch_secs));
        self.spent.push(Spend { campaign: id.to_owned(), epoch, epsilon, at: now });
        Ok(report)
    }

    /// The compact form (see [`crate::compact`]): the secret, then the ledger.
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
        }
        w.bytes
    }

    /// Reads the compact form.
    ///
    /// # Errors
    /// On malformed bytes or an ε that is not a finite non-negative number.
    pub fn from_compact(bytes: &[u8]) -> Result<DeviceState, CompactError> {
        let mut r = Reader::new(bytes);
        r.tag(DEVICE_TAG, "device state (\"dpd1\")");
        let mut secret = [0u8; 32];
        let b = r.raw(32);
        if b.len() == 32 {
            secret.copy_from_slice(b);
        }
        let spent = r.list(|r| {
            let spend =
                Spend { campaign: r.str(), epoch: r.uint(), epsilon: r.float(), at: r.int() };
            if !(spend.epsilon.is_finite() && spend.epsilon >= 0.0) {
                r.fail("a finite ε of at least 0");
            }
            spend
        });
        r.finish()?;
        Ok(DeviceState { secret: Secret(secret), spent })
    }

    /// Forgets everything: a new secret and an empty ledger. Memoised answers are not stored, so
    /// they are gone with the old secret.
    pub fn reset(&mut self, rng: &mut (impl RngCore + CryptoRng)) {
        *self = DeviceState::new(rng);
    }
}
