//! The report mechanism of a campaign (docs/privacy.md).
//!
//! A campaign has `D` items: its `d` segments (yes/no) and its groups (one of `m` cases, or
//! none: `m + 1` values). Each report covers `s` items sampled uniformly without replacement
//! (the set is memoised per device) and spends `ε/s` on each. An item's answer goes through two
//! layers:
//!
//! 1. a **permanent** randomised answer per (item, true value), memoised, at `ε_lifetime/s`;
//! 2. fresh **instantaneous** noise on that answer, set so that one report costs exactly `ε/s`
//!    for the item (RAPPOR's construction, Erlingsson et al., CCS 2014).
//!
//! Items use one frequency oracle each (Wang et al., "Locally Differentially Private Protocols
//! for Frequency Estimation", USENIX Security 2017; Ye & Barg / Wang et al. 2016 for Subset
//! Selection). For segments it is binary randomized response (GRR with 2 values); for groups the
//! planner picks, by closed-form variance at `f → 0`, among:
//!
//! | oracle | permanent layer | instantaneous layer | composite (one report) |
//! |---|---|---|---|
//! | GRR | GRR on the value at ε_L | GRR on the memo | exactly GRR at ε |
//! | OUE | OUE bits at ε_L | each bit flipped with φ | exactly OUE at ε |
//! | SS  | GRR on the value at ε_L | SS of size ω on the memo | exactly SS at ε |
//! | OLH | GRR on the value at ε_L | OLH at ε (fresh hash per report) | ε by post-processing; memo noise costs utility |
//!
//! The estimator always uses the composite channel's support probabilities `p` (the value is
//! the true one) and `q` (it is not), computed from the realised coins.

use core::fmt;

use crate::prelude::*;

mod compact;
mod item;

pub use item::{olh_hash, olh_parts};

use crate::privacy::coin::{Coin, MemoKey, Randomness};

/// The frequency oracle an item uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Oracle {
    /// Generalized randomized response (binary randomized response for 2 values).
    Grr,
    /// Optimized unary encoding.
    Oue,
    /// Optimized local hashing.
    Olh,
    /// Subset selection.
    Ss,
}

impl Oracle {
    /// The oracle's short name.
    pub fn name(self) -> &'static str {
        match self {
            Oracle::Grr => "grr",
            Oracle::Oue => "oue",
            Oracle::Olh => "olh",
            Oracle::Ss => "ss",
        }
    }
}

/// The prime of OLH's hash family `h(v) = ((a·v + b) mod P) mod g`.
pub const OLH_PRIME: u64 = (1 << 31) - 1;

/// One item's realised mechanism. Made only from its coins ([`ItemMechanism::from_coins`], which
/// the planner's constructors and the compact decoder go through), so its `p`, `q` and ε are
/// always the ones its coins realise; the fields are read through the methods below.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ItemMechanism {
    /// The oracle.
    oracle: Oracle,
    /// Number of values (2 for a segment; cases + 1 for a group, the last meaning "none").
    domain: u16,
    /// Permanent layer: GRR keep probability (GRR, SS, OLH), or the probability a non-true bit is
    /// set (OUE; the true bit is set with 1/2).
    memo: Coin,
    /// Instantaneous layer: GRR keep probability (GRR, and OLH over `g`), bit flip probability
    /// (OUE), or the probability that the subset includes the memoised value (SS).
    inst: Coin,
    /// SS subset size (0 for other oracles).
    omega: u16,
    /// OLH hash range (0 for other oracles).
    g: u16,
    /// Composite probability that a report supports the true value.
    p: f64,
    /// Composite probability that a report supports a given other value.
    q: f64,
    /// Realised ε of one report for this item, rounded up.
    eps_report: f64,
    /// Realised ε of the permanent answer (the bound over unlimited reports), rounded up.
    eps_memo: f64,
}

impl ItemMechanism {
    /// The oracle.
    pub fn oracle(&self) -> Oracle {
        self.oracle
    }

    /// Number of values (2 for a segment; cases + 1 for a group, the last meaning "none").
    pub fn domain(&self) -> u16 {
        self.domain
    }

    /// Permanent layer: GRR keep probability (GRR, SS, OLH), or the probability a non-true bit is
    /// set (OUE; the true bit is set with 1/2).
    pub fn memo(&self) -> Coin {
        self.memo
    }

    /// Instantaneous layer: GRR keep probability (GRR, and OLH over `g`), bit flip probability
    /// (OUE), or the probability that the subset includes the memoised value (SS).
    pub fn inst(&self) -> Coin {
        self.inst
    }

    /// SS subset size (0 for other oracles).
    pub fn omega(&self) -> u16 {
        self.omega
    }

    /// OLH hash range (0 for other oracles).
    pub fn g(&self) -> u16 {
        self.g
    }

    /// Composite probability that a report supports the true value.
    pub fn p(&self) -> f64 {
        self.p
    }

    /// Composite probability that a report supports a given other value.
    pub fn q(&self) -> f64 {
        self.q
    }

    /// Realised ε of one report for this item, rounded up.
    pub fn eps_report(&self) -> f64 {
        self.eps_report
    }

    /// Realised ε of the permanent answer (the bound over unlimited reports), rounded up.
    pub fn eps_memo(&self) -> f64 {
        self.eps_memo
    }
}

/// One sampled item's randomised answer in a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Slot {
    /// Item index (segments first, then groups).
    pub item: u16,
    /// The answer: GRR value; OUE/SS bit mask (bit v = value v); OLH `a | b << 31 | y << 62`.
    pub out: u128,
}

/// A campaign's realised mechanism: what every device of the campaign uses.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Mechanism {
    /// Per item, segments first, then groups.
    items: Vec<ItemMechanism>,
    /// Number of segments.
    segments: u16,
    /// Items per report, `1..=items.len()`.
    per_report: u16,
    /// Realised ε of one report (the `per_report` costliest items), rounded up.
    eps_report: f64,
    /// Realised bound over unlimited reports of unchanged answers, rounded up.
    eps_lifetime: f64,
    /// Bytes of one slot's answer in the payload.
    answer_bytes: u16,
}

/// Why no mechanism could be planned.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum MechanismError {
    /// The campaign has no segments or groups.
    Empty,
    /// ε (per report or lifetime) outside what the mechanisms support.
    Epsilon(f64),
    /// Realised coins that do not make an honest channel: the support probabilities do not
    /// satisfy `p > q`, a realised ε is not a positive finite number, or a claimed figure is not
    /// the one the coins give. Names the item and what is wrong.
    Infeasible {
        /// Item index (segments first), or `u16::MAX` for the mechanism as a whole.
        item: u16,
        /// What is wrong.
        what: &'static str,
    },
}

impl fmt::Display for MechanismError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MechanismError::Empty => f.write_str("campaign has no segments or groups to report"),
            MechanismError::Epsilon(e) => write!(
                f,
                "epsilon {e} is outside the supported range [{EPSILON_SUPPORTED_MIN}, {EPSILON_SUPPORTED_MAX}]"
            ),
            MechanismError::Infeasible { item: u16::MAX, what } => {
                write!(f, "the mechanism is not honest: {what}")
            }
            MechanismError::Infeasible { item, what } => {
                write!(f, "item {item}'s mechanism is not honest: {what}")
            }
        }
    }
}

impl core::error::Error for MechanismError {}

/// The largest ε (per report or lifetime) the mechanisms accept.
pub const EPSILON_SUPPORTED_MAX: f64 = 20.0;

/// The smallest ε (per report) the mechanisms accept. Below it a report carries almost nothing
/// (the 95% interval of a count is wider than a million devices at any population a site has)
/// and the coins of a 65-value item at ε/64 would sit within rounding of uniform.
pub const EPSILON_SUPPORTED_MIN: f64 = 0.001;

/// The rate at which the planner compares choices of `s` (the planner's variance formula).
pub const PLAN_REFERENCE_RATE: f64 = 0.1;

/// Every item's coins aim at its share of ε less this relative margin and less
/// [`EPS_SLACK`], so its realised ε rounded up, summed over a report's items and rounded up
/// again, never passes the campaign's ε: the coins are rounded, never the claim.
pub const EPS_MARGIN: f64 = 1e-7;

/// The absolute part of the aim below an item's share of ε: four rounding steps of 1e-9.
pub const EPS_SLACK: f64 = 4e-9;

fn shade(eps: f64) -> f64 {
    eps * (1.0 - EPS_MARGIN) - EPS_SLACK
}

/// Rounds a realised ε up to 1e-9, after a margin for the floating-point error of its
/// computation.
pub fn round_up_eps(e: f64) -> f64 {
    crate::float::ceil((e + 1e-13) * 1e9) / 1e9
}

/// ln of a likelihood ratio `r` read in either direction: `|ln r|`, the privacy loss of a
/// channel whose worst pair of outputs has ratio `r` or `1/r`.
fn loss(r: f64) -> f64 {
    let l = crate::float::ln(r);
    if l < 0.0 {
        -l
    } else {
        l
    }
}

#[allow(clippy::cast_precision_loss, reason = "n is a domain size (at most 2^16): exact in f64")]
fn binomial(n: u64, k: u64) -> f64 {
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

/// Per-user variance of the oracle's frequency estimate at `f → 0`: `q(1-q) / (p-q)^2`.
pub fn noise_variance(p: f64, q: f64) -> f64 {
    q * (1.0 - q) / ((p - q) * (p - q))
}

/// A GRR value memo at `eps_lifetime` over `m` values: (coin, realised keep p1, other q1).
fn grr_memo(m: u16, eps_lifetime: f64) -> (Coin, f64, f64) {
    let k = f64::from(m - 1);
    let e = crate::float::exp(eps_lifetime);
    let coin = Coin::at_most(e / (e + k));
    let p1 = coin.prob();
    (coin, p1, (1.0 - p1) / k)
}

impl Mechanism {
    /// Plans a mechanism for items with `domains` values each (the first `segments` are
    /// segments) at `eps` per report and `eps_lifetime` over unlimited reports.
    ///
    /// Every candidate is built from rounded coins and checked as an honest channel within its
    /// share of the budget ([`ItemMechanism::check`]); a choice of `s` whose items cannot all
    /// be served so, or whose realised totals would pass `eps` or `eps_lifetime`, is no
    /// candidate. The realised totals are the figures the plan states.
    ///
    /// # Errors
    /// When there are no items, `eps` or `eps_lifetime` is outside the supported range, or no
    /// honest mechanism fits the budget.
    pub fn for_domains(
        domains: &[u16],
        segments: u16,
        eps: f64,
        eps_lifetime: f64,
    ) -> Result<Mechanism, MechanismError> {
        if domains.is_empty() {
            return Err(MechanismError::Empty);
        }
        if !(EPSILON_SUPPORTED_MIN..=EPSILON_SUPPORTED_MAX).contains(&eps) {
            return Err(MechanismError::Epsilon(eps));
        }
        if !(EPSILON_SUPPORTED_MIN..=EPSILON_SUPPORTED_MAX).contains(&eps_lifetime) {
            return Err(MechanismError::Epsilon(eps_lifetime));
        }
        let eps_lifetime = eps_lifetime.max(eps);
        let d = domains.len();
        let mut best: Option<(f64, Mechanism)> = None;
        #[allow(clippy::cast_precision_loss, reason = "item counts are at most 2^16: exact in f64")]
        let df = d as f64;
        for s in 1..=d.min(64) {
            #[allow(clippy::cast_precision_loss, reason = "at most 64")]
            let sf = s as f64;
            // Items with the same number of values get the same oracle: plan each size once.
            let mut by_domain = alloc::collections::BTreeMap::new();
            let items: Option<Vec<ItemMechanism>> = domains
                .iter()
                .map(|&m| {
                    by_domain
                        .entry(m)
                        .or_insert_with(|| ItemMechanism::best(m, eps / sf, eps_lifetime / sf))
                        .clone()
                })
                .collect();
            let Some(items) = items else { continue };
            let mech = Mechanism::assemble(items, segments, u16::try_from(s).unwrap_or(1));
            if mech.eps_report > eps || mech.eps_lifetime > eps_lifetime {
                continue;
            }
            // The planner's variance: per-user (d/s)·(V(ε/s) + f) − f², averaged over items.
            let f = PLAN_REFERENCE_RATE;
            let score =
                mech.items.iter().map(|i| (df / sf) * (i.variance() + f) - f * f).sum::<f64>() / df;
            if best.as_ref().is_none_or(|(b, _)| score < *b) {
                best = Some((score, mech));
            }
        }
        best.map(|(_, m)| m).ok_or(MechanismError::Infeasible {
            item: u16::MAX,
            what: "no honest mechanism fits this epsilon for these items",
        })
    }

    fn assemble(items: Vec<ItemMechanism>, segments: u16, per_report: u16) -> Mechanism {
        let costliest = |f: fn(&ItemMechanism) -> f64| {
            let mut v: Vec<f64> = items.iter().map(f).collect();
            crate::sort::heapsort_by(&mut v, |a, b| a > b);
            round_up_eps(v.iter().take(usize::from(per_report)).sum())
        };
        let eps_report = costliest(|i| i.eps_report);
        let eps_lifetime = costliest(|i| i.eps_memo);
        let answer_bytes = items.iter().map(ItemMechanism::answer_bytes).max().unwrap_or(1);
        Mechanism { items, segments, per_report, eps_report, eps_lifetime, answer_bytes }
    }

    /// Checks every item ([`ItemMechanism::check`]) and the shape: what a device requires of a
    /// mechanism before it spends ε on it, whatever the document that carried it claims.
    ///
    /// # Errors
    /// [`MechanismError::Infeasible`] naming the first item, or the whole, that is wrong.
    pub fn check(&self) -> Result<(), MechanismError> {
        for (i, item) in self.items.iter().enumerate() {
            item.check().map_err(|e| match e {
                MechanismError::Infeasible { what, .. } => MechanismError::Infeasible {
                    item: u16::try_from(i).unwrap_or(u16::MAX - 1),
                    what,
                },
                other => other,
            })?;
        }
        let whole = |what| Err(MechanismError::Infeasible { item: u16::MAX, what });
        if self.items.is_empty()
            || self.per_report == 0
            || usize::from(self.per_report) > self.items.len()
            || usize::from(self.segments) > self.items.len()
        {
            return whole("a shape no plan produces");
        }
        let positive = |e: f64| e > 0.0 && e <= EPSILON_SUPPORTED_MAX;
        if !(positive(self.eps_report) && positive(self.eps_lifetime)) {
            return whole("a total epsilon that is not positive and finite");
        }
        Ok(())
    }

    /// Builds a mechanism from explicit parts (for tests of broken or hand-made mechanisms).
    pub fn from_items(items: Vec<ItemMechanism>, segments: u16, per_report: u16) -> Mechanism {
        let max = u16::try_from(items.len()).unwrap_or(1).max(1);
        Mechanism::assemble(items, segments, per_report.clamp(1, max))
    }

    /// Per item, segments first.
    pub fn items(&self) -> &[ItemMechanism] {
        &self.items
    }

    /// Number of segments (the first items).
    pub fn segments(&self) -> u16 {
        self.segments
    }

    /// Items per report.
    pub fn per_report(&self) -> u16 {
        self.per_report
    }

    /// Realised ε of one report, rounded up.
    pub fn eps_report(&self) -> f64 {
        self.eps_report
    }

    /// Realised bound over unlimited reports of unchanged answers, rounded up.
    pub fn eps_lifetime(&self) -> f64 {
        self.eps_lifetime
    }

    /// Bytes of one slot's answer.
    pub fn answer_bytes(&self) -> u16 {
        self.answer_bytes
    }

    /// The payload's length in bytes: per slot a 2-byte item index and the answer.
    pub fn payload_bytes(&self) -> usize {
        usize::from(self.per_report) * (2 + usize::from(self.answer_bytes))
    }

    /// The items this device reports on: `s` of them, uniform without replacement, memoised.
    /// Written into `out` (sorted); allocation-free.
    pub fn sampled_items(&self, rng: &mut impl Randomness, out: &mut [u16]) {
        let d = self.items.len() as u64;
        let s = u64::from(self.per_report);
        // Floyd's algorithm with memoised draws: the same device always samples the same set.
        let mut n = 0;
        for j in d - s..d {
            #[allow(clippy::cast_possible_truncation, reason = "j < d <= u16::MAX")]
            let key = MemoKey { item: u16::MAX, value: 0, draw: j as u16 };
            #[allow(clippy::cast_possible_truncation, reason = "below d")]
            let t = rng.memo_below(key, j + 1) as u16;
            #[allow(clippy::cast_possible_truncation, reason = "j < d")]
            let pick = if out[..n].contains(&t) { j as u16 } else { t };
            out[n] = pick;
            n += 1;
        }
        crate::sort::heapsort_by(&mut out[..n], |a, b| a < b);
    }

    /// Randomises `truth` (one value per item) into `out` (`per_report` slots).
    pub fn privatize(&self, truth: &[u16], rng: &mut impl Randomness, out: &mut [Slot]) {
        self.privatize_with(|i| truth.get(usize::from(i)).copied().unwrap_or(0), rng, out);
    }

    /// As [`Mechanism::privatize`], asking `truth` for the value of each sampled item only.
    pub fn privatize_with(
        &self,
        truth: impl FnMut(u16) -> u16,
        rng: &mut impl Randomness,
        out: &mut [Slot],
    ) {
        let mut picked = [0u16; 64];
        let s = usize::from(self.per_report);
        self.sampled_items(rng, &mut picked[..s]);
        self.answer_items(&picked[..s], truth, rng, out);
    }

    /// Randomises the items `picked` (from [`Mechanism::sampled_items`]) into `out`, asking
    /// `truth` for each one's true value.
    pub fn answer_items(
        &self,
        picked: &[u16],
        mut truth: impl FnMut(u16) -> u16,
        rng: &mut impl Randomness,
        out: &mut [Slot],
    ) {
        for (slot, &item) in out.iter_mut().zip(picked) {
            if let Some(it) = self.items.get(usize::from(item)) {
                *slot = Slot { item, out: it.answer(item, truth(item), rng) };
            }
        }
    }
}
