//! One item's mechanism built from its realised coins, checked as an honest channel, and run:
//! the permanent (memoised) answer, the instantaneous noise, and the helpers of the oracles.

use crate::prelude::*;

use super::*;

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
