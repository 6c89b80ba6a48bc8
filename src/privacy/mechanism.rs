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

/// One item's realised mechanism.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ItemMechanism {
    /// The oracle.
    pub oracle: Oracle,
    /// Number of values (2 for a segment; cases + 1 for a group, the last meaning "none").
    pub domain: u16,
    /// Permanent layer: GRR keep probability (GRR, SS, OLH), or the probability a non-true bit is
    /// set (OUE; the true bit is set with 1/2).
    pub memo: Coin,
    /// Instantaneous layer: GRR keep probability (GRR, and OLH over `g`), bit flip probability
    /// (OUE), or the probability that the subset includes the memoised value (SS).
    pub inst: Coin,
    /// SS subset size (0 for other oracles).
    pub omega: u16,
    /// OLH hash range (0 for other oracles).
    pub g: u16,
    /// Composite probability that a report supports the true value.
    pub p: f64,
    /// Composite probability that a report supports a given other value.
    pub q: f64,
    /// Realised ε of one report for this item, rounded up.
    pub eps_report: f64,
    /// Realised ε of the permanent answer (the bound over unlimited reports), rounded up.
    pub eps_memo: f64,
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

impl ItemMechanism {
    /// The item with these realised coins, every other figure derived from them: the composite
    /// support probabilities `p` and `q`, and the realised ε of one report and of the permanent
    /// answer, each the worst likelihood ratio over outputs read in either direction. Nothing is
    /// checked here; see [`ItemMechanism::check`].
    pub fn from_coins(
        oracle: Oracle,
        domain: u16,
        memo: Coin,
        inst: Coin,
        omega: u16,
        g: u16,
    ) -> ItemMechanism {
        // The decoder calls this on untrusted parameters: keep every count in range here and let
        // `check` refuse the shape.
        let dom = domain.max(2);
        let omega_in = omega.min(dom - 1);
        let (m, p1, p2) = (f64::from(dom), memo.prob(), inst.prob());
        let k = m - 1.0;
        let (p, q, report_ratio, memo_ratio) = match oracle {
            Oracle::Grr => {
                let q1 = (1.0 - p1) / k;
                // The memo is kept with p2, else replaced by one of the k other values.
                let p = p1 * p2 + (1.0 - p1) * (1.0 - p2) / k;
                let q = (1.0 - p) / k;
                (p, q, p / q, p1 / q1)
            }
            Oracle::Oue => {
                // The true bit is set with 1/2 in the memo, every other with p1; each bit is
                // flipped with p2. The worst pair of inputs differs in two bits.
                let q = p1 * (1.0 - p2) + (1.0 - p1) * p2;
                (0.5, q, (1.0 - q) / q, (1.0 - p1) / p1)
            }
            Oracle::Ss => {
                let q1 = (1.0 - p1) / k;
                let w = f64::from(omega_in);
                let (c1, c0) = (
                    binomial(u64::from(dom - 1), u64::from(omega_in.max(1) - 1)),
                    binomial(u64::from(dom - 1), u64::from(omega_in)),
                );
                // t = A/B, the weight of a subset holding the memo over one that does not.
                let t = p2 * c0 / ((1.0 - p2) * c1);
                let (a, b, c, d) = (p1 + q1 * (w - 1.0), q1 * (m - w), q1 * w, p1 + q1 * (k - w));
                let r0 = p2 * (w - 1.0) / k + (1.0 - p2) * w / k;
                let p = p1 * p2 + (1.0 - p1) * r0;
                let q = q1 * p2 + (1.0 - q1) * r0;
                (p, q, (a * t + b) / (c * t + d), p1 / q1)
            }
            Oracle::Olh => {
                let q1 = (1.0 - p1) / k;
                let gf = f64::from(g.max(2));
                let p = p1 * p2 + (1.0 - p1) / gf;
                let q = q1 * p2 + (1.0 - q1) / gf;
                // OLH on the memo at its own ratio; the memo only adds noise (post-processing).
                (p, q, p2 * (gf - 1.0) / (1.0 - p2), p1 / q1)
            }
        };
        ItemMechanism {
            oracle,
            domain,
            memo,
            inst,
            omega,
            g,
            p,
            q,
            eps_report: round_up_eps(loss(report_ratio)),
            eps_memo: round_up_eps(loss(memo_ratio)),
        }
    }

    /// Checks that the item is an honest channel: parameters a plan produces, `p > q`, a finite
    /// positive ε of one report, no more than the permanent answer's, and both below the
    /// supported maximum.
    ///
    /// # Errors
    /// [`MechanismError::Infeasible`] naming what is wrong (`item` is left at 0 for the caller to
    /// set).
    pub fn check(&self) -> Result<(), MechanismError> {
        let fail = |what| Err(MechanismError::Infeasible { item: 0, what });
        let shape = match self.oracle {
            Oracle::Grr | Oracle::Oue => self.omega == 0 && self.g == 0,
            Oracle::Ss => self.omega >= 1 && self.omega < self.domain && self.g == 0,
            Oracle::Olh => self.omega == 0 && self.g >= 2,
        };
        if !(shape && self.domain >= 2 && self.domain <= 128) {
            return fail("parameters no plan produces");
        }
        if !(self.p.is_finite() && self.q.is_finite() && self.p > self.q && self.q > 0.0) {
            return fail("the true value is not more likely to be supported than another (p <= q)");
        }
        for e in [self.eps_report, self.eps_memo] {
            if !(e.is_finite() && e > 0.0 && e <= EPSILON_SUPPORTED_MAX) {
                return fail("a realised epsilon that is not positive and finite");
            }
        }
        // OLH's report bound is its own layer's; every other composite is the memo's
        // post-processing and the formulas give a report ε at most the memo's.
        if self.oracle != Oracle::Olh && self.eps_report > self.eps_memo + 1e-9 {
            return fail("a report epsilon above the permanent answer's");
        }
        if !(self.variance().is_finite() && self.variance() > 0.0) {
            return fail("a variance that is not positive and finite");
        }
        Ok(())
    }

    /// GRR over `m` values with the composite at `eps` per report.
    pub fn grr(m: u16, eps: f64, eps_lifetime: f64) -> ItemMechanism {
        let (eps, eps_lifetime) = (shade(eps), shade(eps_lifetime));
        let (memo, p1, q1) = grr_memo(m, eps_lifetime);
        let k = f64::from(m - 1);
        let e = crate::float::exp(eps);
        let target = e / (e + k);
        // Composite keep = p1·p2 + q1·(1 - p2); it grows with p2, so rounding p2 down is safe.
        let inst = Coin::at_most((target - q1) / (p1 - q1));
        ItemMechanism::from_coins(Oracle::Grr, m, memo, inst, 0, 0)
    }

    /// OUE over `m` values with the composite at `eps` per report.
    pub fn oue(m: u16, eps: f64, eps_lifetime: f64) -> ItemMechanism {
        let (eps, eps_lifetime) = (shade(eps), shade(eps_lifetime));
        // A higher chance of setting a non-true bit lowers ε, so both layers round up.
        let memo = Coin::at_least(1.0 / (crate::float::exp(eps_lifetime) + 1.0));
        let q1 = memo.prob();
        let target = 1.0 / (crate::float::exp(eps) + 1.0);
        let inst = Coin::at_least(((target - q1) / (1.0 - 2.0 * q1)).max(0.0));
        ItemMechanism::from_coins(Oracle::Oue, m, memo, inst, 0, 0)
    }

    /// Subset selection of size `omega` over `m` values with the composite at most `eps`.
    ///
    /// The composite's worst ratio `R(t) = (a t + b) / (c t + d)` grows with `t`, the weight of
    /// a subset holding the memo over one without it, from below 1 (`t = 0`) to `a / c`. When
    /// `a / c` is below `e^eps` no inclusion probability reaches `eps`; the subset then always
    /// holds the memo and the item spends less than its share.
    pub fn ss(m: u16, omega: u16, eps: f64, eps_lifetime: f64) -> ItemMechanism {
        let (eps, eps_lifetime) = (shade(eps), shade(eps_lifetime));
        let (memo, p1, q1) = grr_memo(m, eps_lifetime);
        let (mf, w) = (f64::from(m), f64::from(omega));
        let (c1, c0) = (
            binomial(u64::from(m - 1), u64::from(omega - 1)),
            binomial(u64::from(m - 1), u64::from(omega)),
        );
        let (a, b, c, d) = (p1 + q1 * (w - 1.0), q1 * (mf - w), q1 * w, p1 + q1 * (mf - 1.0 - w));
        let e = crate::float::exp(eps);
        let inst = if a - e * c <= 0.0 {
            Coin::at_most(1.0)
        } else {
            let t = (e * d - b) / (a - e * c);
            Coin::at_most(t * c1 / (c0 + t * c1))
        };
        ItemMechanism::from_coins(Oracle::Ss, m, memo, inst, omega, 0)
    }

    /// OLH over `m` values: a GRR memo at `eps_lifetime`, then OLH at `eps` on the memo.
    pub fn olh(m: u16, eps: f64, eps_lifetime: f64) -> ItemMechanism {
        let (eps, eps_lifetime) = (shade(eps), shade(eps_lifetime));
        let (memo, _, _) = grr_memo(m, eps_lifetime);
        let e = crate::float::exp(eps);
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "callers keep e^eps below 254"
        )]
        let g = (crate::float::round(e) as u16 + 1).clamp(2, 255);
        let inst = Coin::at_most(e / (e + f64::from(g) - 1.0));
        ItemMechanism::from_coins(Oracle::Olh, m, memo, inst, 0, g)
    }

    /// Whether this item is an honest channel within `eps` per report and `eps_lifetime` for
    /// its permanent answer: what makes it a candidate of the planner.
    fn fits(&self, eps: f64, eps_lifetime: f64) -> bool {
        self.check().is_ok() && self.eps_report <= eps && self.eps_memo <= eps_lifetime
    }

    /// The oracle with the lowest variance for `m` values at `eps` among the honest ones that
    /// fit the budget (ties: GRR, OUE, SS, OLH); `None` when none does.
    pub fn best(m: u16, eps: f64, eps_lifetime: f64) -> Option<ItemMechanism> {
        let mut candidates = vec![ItemMechanism::grr(m, eps, eps_lifetime)];
        if m > 2 {
            candidates.push(ItemMechanism::oue(m, eps, eps_lifetime));
            candidates.extend((1..m).map(|omega| ItemMechanism::ss(m, omega, eps, eps_lifetime)));
            if crate::float::exp(eps) < 250.0 {
                candidates.push(ItemMechanism::olh(m, eps, eps_lifetime));
            }
        }
        let mut best: Option<ItemMechanism> = None;
        for c in candidates.into_iter().filter(|c| c.fits(eps, eps_lifetime)) {
            if best.as_ref().is_none_or(|b| c.variance() < b.variance() * (1.0 - 1e-9)) {
                best = Some(c);
            }
        }
        best
    }

    /// Per-user variance of this item's frequency estimate at `f → 0`.
    pub fn variance(&self) -> f64 {
        noise_variance(self.p, self.q)
    }

    /// Bytes of this item's answer.
    pub fn answer_bytes(&self) -> u16 {
        match self.oracle {
            Oracle::Grr => 1,
            Oracle::Oue | Oracle::Ss => self.domain.div_ceil(8),
            Oracle::Olh => 9,
        }
    }

    /// True when answer `out` supports value `v`.
    #[inline]
    pub fn supports(&self, out: u128, v: u16) -> bool {
        match self.oracle {
            Oracle::Grr => out == u128::from(v),
            Oracle::Oue | Oracle::Ss => out >> v & 1 == 1,
            Oracle::Olh => {
                let (a, b, y) = olh_parts(out);
                olh_hash(a, b, v, self.g) == y
            }
        }
    }

    /// True when `out` is an answer this item can give.
    pub fn is_valid(&self, out: u128) -> bool {
        let m = u32::from(self.domain);
        match self.oracle {
            Oracle::Grr => out < u128::from(self.domain),
            Oracle::Oue => out >> m == 0,
            Oracle::Ss => out >> m == 0 && out.count_ones() == u32::from(self.omega),
            Oracle::Olh => {
                let (a, b, y) = olh_parts(out);
                out >> 70 == 0 && a < OLH_PRIME && b < OLH_PRIME && y < self.g
            }
        }
    }

    /// Randomises the true value `x` of item `item`.
    pub fn answer(&self, item: u16, x: u16, rng: &mut impl Randomness) -> u128 {
        let key = |draw| MemoKey { item, value: x, draw };
        let m = self.domain;
        match self.oracle {
            Oracle::Grr => {
                let memo = grr_memo_value(self.memo, m, x, key(0), key(1), rng);
                let y = if rng.coin(self.inst) {
                    memo
                } else {
                    other(memo, rng.below(u64::from(m - 1)))
                };
                u128::from(y)
            }
            Oracle::Oue => {
                let mut out = 0u128;
                for k in 0..m {
                    let set = rng.memo_coin(key(k), if k == x { Coin::HALF } else { self.memo });
                    if set != rng.coin(self.inst) {
                        out |= 1 << k;
                    }
                }
                out
            }
            Oracle::Ss => {
                let memo = grr_memo_value(self.memo, m, x, key(0), key(1), rng);
                let include = rng.coin(self.inst);
                let mut out = if include { 1u128 << memo } else { 0 };
                let want = if include { self.omega - 1 } else { self.omega };
                // Floyd's algorithm: a uniform `want`-subset of the m-1 values other than memo.
                let n = u64::from(m - 1);
                let mut chosen = 0u128;
                for j in n - u64::from(want)..n {
                    let t = rng.below(j + 1);
                    #[allow(clippy::cast_possible_truncation, reason = "j < m <= 65")]
                    let pick = if chosen >> t & 1 == 1 { j as u32 } else { t as u32 };
                    chosen |= 1 << pick;
                }
                for idx in 0..m - 1 {
                    if chosen >> idx & 1 == 1 {
                        out |= 1 << other(memo, u64::from(idx));
                    }
                }
                out
            }
            Oracle::Olh => {
                let memo = grr_memo_value(self.memo, m, x, key(0), key(1), rng);
                let (a, b) = (rng.below(OLH_PRIME), rng.below(OLH_PRIME));
                let h = olh_hash(a, b, memo, self.g);
                let y = if rng.coin(self.inst) {
                    h
                } else {
                    other(h, rng.below(u64::from(self.g - 1)))
                };
                u128::from(a) | u128::from(b) << 31 | u128::from(y) << 62
            }
        }
    }
}

/// The memoised GRR answer for true value `x`: `x` with the memo coin, else a memoised other.
fn grr_memo_value(
    memo: Coin,
    m: u16,
    x: u16,
    keep_key: MemoKey,
    other_key: MemoKey,
    rng: &mut impl Randomness,
) -> u16 {
    if rng.memo_coin(keep_key, memo) {
        x
    } else {
        other(x, rng.memo_below(other_key, u64::from(m - 1)))
    }
}

/// The `k`-th value other than `x` (k < m - 1).
#[inline]
fn other(x: u16, k: u64) -> u16 {
    #[allow(clippy::cast_possible_truncation, reason = "k < m - 1 < 2^16")]
    let k = k as u16;
    if k < x {
        k
    } else {
        k + 1
    }
}

/// OLH's hash of value `v` into `0..g`.
#[inline]
pub fn olh_hash(a: u64, b: u64, v: u16, g: u16) -> u16 {
    let h = (a * u64::from(v) + b) % OLH_PRIME % u64::from(g);
    #[allow(clippy::cast_possible_truncation, reason = "h < g")]
    let h = h as u16;
    h
}

/// `(a, b, y)` of an OLH answer.
#[inline]
pub fn olh_parts(out: u128) -> (u64, u64, u16) {
    #[allow(clippy::cast_possible_truncation, reason = "masked")]
    let parts =
        ((out & 0x7fff_ffff) as u64, (out >> 31 & 0x7fff_ffff) as u64, (out >> 62 & 0xff) as u16);
    parts
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

mod compact {
    //! [`Mechanism`] in the compact form (see [`crate::compact`]): every realised parameter,
    //! bit for bit, so a device runs exactly what the verifier planned.

    use super::{ItemMechanism, Mechanism, Oracle};
    use crate::compact::{Reader, Writer};
    use crate::prelude::*;
    use crate::privacy::coin::Coin;

    const ORACLES: [Oracle; 4] = [Oracle::Grr, Oracle::Oue, Oracle::Olh, Oracle::Ss];

    impl Mechanism {
        /// Appends the compact form.
        pub fn write_compact(&self, w: &mut Writer) {
            w.len(self.items.len());
            for it in &self.items {
                w.len(ORACLES.iter().position(|&o| o == it.oracle).unwrap_or(0));
                w.uint(u64::from(it.domain));
                w.uint(it.memo.numerator());
                w.uint(it.inst.numerator());
                w.uint(u64::from(it.omega));
                w.uint(u64::from(it.g));
                for x in [it.p, it.q, it.eps_report, it.eps_memo] {
                    w.float(x);
                }
            }
            w.uint(u64::from(self.segments));
            w.uint(u64::from(self.per_report));
            w.float(self.eps_report);
            w.float(self.eps_lifetime);
            w.uint(u64::from(self.answer_bytes));
        }

        /// Reads the compact form with its figures as stored, checking only its shape (see
        /// [`Runnable::from_compact_for_evaluation`](crate::campaign::Runnable::from_compact_for_evaluation)):
        /// never for spending ε.
        pub fn read_compact_as_stored(r: &mut Reader<'_>) -> Mechanism {
            let items = r.list(|r| {
                let oracle = ORACLES[r.len(ORACLES.len() - 1)];
                let domain: u16 = r.small();
                let memo = Coin::from_numerator(r.uint());
                let inst = Coin::from_numerator(r.uint());
                let omega: u16 = r.small();
                let g: u16 = r.small();
                let [p, q, eps_report, eps_memo] = [r.float(), r.float(), r.float(), r.float()];
                if !(2..=128).contains(&domain) {
                    r.fail("mechanism parameters a plan produces");
                }
                ItemMechanism { oracle, domain, memo, inst, omega, g, p, q, eps_report, eps_memo }
            });
            let segments: u16 = r.small();
            let per_report: u16 = r.small();
            let eps_report = r.float();
            let eps_lifetime = r.float();
            let answer_bytes: u16 = r.small();
            if usize::from(segments) > items.len()
                || per_report == 0
                || usize::from(per_report) > items.len()
                || answer_bytes == 0
                || answer_bytes > 16
            {
                r.fail("a mechanism a plan produces");
            }
            Mechanism { items, segments, per_report, eps_report, eps_lifetime, answer_bytes }
        }

        /// Reads the compact form, checking the invariants the report path relies on. The
        /// figures are recomputed from the coins ([`ItemMechanism::from_coins`]), never taken
        /// from the bytes: stored figures that differ from the coins' are a failure, and so is
        /// a mechanism that is not an honest channel ([`Mechanism::check`]). Failures are
        /// recorded in `r` (see [`Reader`]); the mechanism is meaningless unless `r` finishes
        /// without one.
        pub fn read_compact(r: &mut Reader<'_>) -> Mechanism {
            // Figures written by this build from the same coins; a difference beyond the
            // rounding of `ln` between std and libm means the bytes were not made by a plan.
            let same = |stored: f64, derived: f64| (stored - derived).abs() <= 2e-9;
            let stored = Mechanism::read_compact_as_stored(r);
            let mut items = Vec::with_capacity(stored.items.len());
            for s in &stored.items {
                let it =
                    ItemMechanism::from_coins(s.oracle, s.domain, s.memo, s.inst, s.omega, s.g);
                let pairs = [
                    (s.p, it.p),
                    (s.q, it.q),
                    (s.eps_report, it.eps_report),
                    (s.eps_memo, it.eps_memo),
                ];
                if it.check().is_err() || !pairs.iter().all(|&(a, b)| same(a, b)) {
                    r.fail("an honest item mechanism whose figures are its coins'");
                }
                items.push(it);
            }
            let max = u16::try_from(items.len()).unwrap_or(u16::MAX).max(1);
            let mech = Mechanism::assemble(items, stored.segments, stored.per_report.clamp(1, max));
            if stored.answer_bytes != mech.answer_bytes
                || !same(stored.eps_report, mech.eps_report)
                || !same(stored.eps_lifetime, mech.eps_lifetime)
                || mech.check().is_err()
            {
                r.fail("a mechanism a plan produces, its totals its items'");
            }
            mech
        }
    }
}
