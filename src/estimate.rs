//! Aggregation of reports and estimation of counts with intervals (docs/privacy.md, "Honest error bars").
//!
//! A [`Tally`] holds, per (campaign, config_id, epoch), the number of reports, how many sampled
//! each item, and how many supported each value. Tallies merge by addition, so shards and
//! collectors combine exactly.
//!
//! For a value with composite support probabilities `p` (true value) and `q` (other value), `n`
//! reports that sampled the item and `y` that supported the value, out of `N` reports:
//!
//! * rate `f̂ = (y/n − q)/(p − q)`, count `N·f̂` (unbiased), clamped to `[0, N]`;
//! * the observed rate `λ̂ = y/n` has variance `V(λ)/n` with
//!   `V(λ) = λ(1−λ) − π(λ−q)(p−λ)`, `π = n/N`: the binomial variance less the finite-population
//!   correction of the sampled devices (with `π = 0` this is plain Wilson);
//! * the 95% interval solves `(λ̂ − λ)² ≤ z²V(λ)/n` for `λ` (the Wilson score interval of this
//!   variance), maps it through the affine estimator and clamps it to `[0, N]`.

use crate::prelude::*;

use crate::privacy::mechanism::{ItemMechanism, Mechanism, Slot};

/// The 97.5% quantile of the standard normal distribution.
pub const Z95: f64 = 1.959_963_984_540_054;

/// Counters for one (campaign, config_id, epoch).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tally {
    /// Reports counted.
    reports: u64,
    /// Per item, reports that sampled it.
    sampled: Vec<u64>,
    /// Per item and value (flattened, see `offsets`), reports that supported it.
    support: Vec<u64>,
    /// Start of each item's values in `support`.
    offsets: Vec<usize>,
}

/// Why two tallies cannot be merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeMismatch;

impl core::fmt::Display for ShapeMismatch {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("tallies of different campaigns or configurations cannot be merged")
    }
}

impl core::error::Error for ShapeMismatch {}

impl Tally {
    /// An empty tally for `mechanism`.
    pub fn new(mechanism: &Mechanism) -> Tally {
        let mut offsets = Vec::with_capacity(mechanism.items().len());
        let mut total = 0;
        for item in mechanism.items() {
            offsets.push(total);
            total += usize::from(item.domain());
        }
        Tally { reports: 0, sampled: vec![0; offsets.len()], support: vec![0; total], offsets }
    }

    /// Counts one report's answers (already validated by decoding).
    #[inline]
    pub fn add(&mut self, mechanism: &Mechanism, slots: &[Slot]) {
        self.reports += 1;
        for slot in slots {
            let i = usize::from(slot.item);
            let (Some(item), Some(&off)) = (mechanism.items().get(i), self.offsets.get(i)) else {
                continue;
            };
            self.sampled[i] += 1;
            let values = &mut self.support[off..off + usize::from(item.domain())];
            match item.oracle() {
                crate::privacy::mechanism::Oracle::Grr => {
                    if let Some(c) = usize::try_from(slot.out).ok().and_then(|v| values.get_mut(v))
                    {
                        *c += 1;
                    }
                }
                crate::privacy::mechanism::Oracle::Oue | crate::privacy::mechanism::Oracle::Ss => {
                    let mut bits = slot.out;
                    while bits != 0 {
                        let v = bits.trailing_zeros() as usize;
                        if let Some(c) = values.get_mut(v) {
                            *c += 1;
                        }
                        bits &= bits - 1;
                    }
                }
                crate::privacy::mechanism::Oracle::Olh => {
                    for (v, c) in values.iter_mut().enumerate() {
                        #[allow(
                            clippy::cast_possible_truncation,
                            reason = "v < domain <= u16::MAX"
                        )]
                        if item.supports(slot.out, v as u16) {
                            *c += 1;
                        }
                    }
                }
            }
        }
    }

    /// Adds `other` into `self`.
    ///
    /// # Errors
    /// When the tallies have different shapes.
    pub fn merge(&mut self, other: &Tally) -> Result<(), ShapeMismatch> {
        if self.offsets != other.offsets {
            return Err(ShapeMismatch);
        }
        self.reports += other.reports;
        self.sampled.iter_mut().zip(&other.sampled).for_each(|(a, b)| *a += b);
        self.support.iter_mut().zip(&other.support).for_each(|(a, b)| *a += b);
        Ok(())
    }

    /// Reports counted.
    pub fn reports(&self) -> u64 {
        self.reports
    }

    /// Reports that sampled item `i`.
    pub fn sampled(&self, i: usize) -> u64 {
        self.sampled.get(i).copied().unwrap_or(0)
    }

    /// Reports that supported value `v` of item `i`.
    pub fn support(&self, i: usize, v: usize) -> u64 {
        self.offsets.get(i).and_then(|o| self.support.get(o + v)).copied().unwrap_or(0)
    }

    /// Every counter as `(key, value)`: `reports`, `n:<item>`, `y:<item>:<value>`. This is what a
    /// collector stores; [`Tally::set_counter`] reads it back.
    pub fn counters(&self) -> Vec<(String, u64)> {
        let mut out = vec![("reports".to_owned(), self.reports)];
        for (i, &n) in self.sampled.iter().enumerate() {
            out.push((format!("n:{i}"), n));
        }
        for (i, &off) in self.offsets.iter().enumerate() {
            let end = self.offsets.get(i + 1).copied().unwrap_or(self.support.len());
            for (v, &y) in self.support[off..end].iter().enumerate() {
                out.push((format!("y:{i}:{v}"), y));
            }
        }
        out
    }

    /// Sets one counter by its key; returns false when the key does not fit this tally.
    pub fn set_counter(&mut self, key: &str, value: u64) -> bool {
        let mut parts = key.split(':');
        let slot = match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some("reports"), None, None, None) => Some(&mut self.reports),
            (Some("n"), Some(i), None, None) => {
                i.parse::<usize>().ok().and_then(|i| self.sampled.get_mut(i))
            }
            (Some("y"), Some(i), Some(v), None) => {
                let (Ok(i), Ok(v)) = (i.parse::<usize>(), v.parse::<usize>()) else { return false };
                let end = self.offsets.get(i + 1).copied().unwrap_or(self.support.len());
                match self.offsets.get(i) {
                    Some(&off) if off + v < end => self.support.get_mut(off + v),
                    _ => None,
                }
            }
            _ => None,
        };
        match slot {
            Some(s) => {
                *s = value;
                true
            }
            None => false,
        }
    }
}

/// A count estimate with its uncertainty.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Estimate {
    /// Unbiased count estimate (may fall outside `[0, N]`).
    pub estimate: f64,
    /// The estimate clamped to `[0, N]`.
    pub clamped: f64,
    /// Standard error of the count.
    pub std: f64,
    /// Lower end of the 95% interval.
    pub ci_low: f64,
    /// Upper end of the 95% interval.
    pub ci_high: f64,
    /// Reports that sampled the item.
    pub reports: u64,
}

/// `V(λ)` of the module docs.
fn rate_variance(lambda: f64, p: f64, q: f64, pi: f64) -> f64 {
    (lambda * (1.0 - lambda) - pi * (lambda - q) * (p - lambda)).max(0.0)
}

/// Estimates the count of the value with composite probabilities `p`, `q` from `y` supporting
/// reports of the `n` that sampled its item, out of `total` reports.
#[allow(clippy::cast_precision_loss, reason = "report counts are far below 2^53")]
pub fn estimate(p: f64, q: f64, y: u64, n: u64, total: u64) -> Estimate {
    let big_n = total as f64;
    if n == 0 || p <= q {
        return Estimate {
            estimate: 0.0,
            clamped: 0.0,
            std: big_n,
            ci_low: 0.0,
            ci_high: big_n,
            reports: n,
        };
    }
    let nf = n as f64;
    let lam = y as f64 / nf;
    let pi = (nf / big_n).min(1.0);
    let to_count = |l: f64| big_n * (l - q) / (p - q);
    let est = to_count(lam);
    let std = big_n * crate::float::sqrt(rate_variance(lam, p, q, pi) / nf) / (p - q);
    // Wilson score interval for V(λ) = −(1−π)λ² + (1 − π(p+q))λ + πpq.
    let k = Z95 * Z95 / nf;
    let a = 1.0 + k * (1.0 - pi);
    let b = -(2.0 * lam + k * (1.0 - pi * (p + q)));
    let c = lam * lam - k * pi * p * q;
    let disc = crate::float::sqrt((b * b - 4.0 * a * c).max(0.0));
    let (lo, hi) = ((-b - disc) / (2.0 * a), (-b + disc) / (2.0 * a));
    Estimate {
        estimate: est,
        clamped: est.clamp(0.0, big_n),
        std,
        ci_low: to_count(lo).clamp(0.0, big_n),
        ci_high: to_count(hi).clamp(0.0, big_n),
        reports: n,
    }
}

/// Estimates of every item: for a segment, the count of members (value 1); for a group, the
/// count of each case and then of "none".
pub fn estimates(mechanism: &Mechanism, tally: &Tally) -> Vec<Vec<Estimate>> {
    let segs = usize::from(mechanism.segments());
    mechanism
        .items()
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let n = tally.sampled(i);
            let values = if i < segs { 1..2 } else { 0..usize::from(item.domain()) };
            values
                .map(|v| estimate(item.p(), item.q(), tally.support(i, v), n, tally.reports()))
                .collect()
        })
        .collect()
}

/// Expected standard error and 95% half-width of the count of a value held by a fraction `rate`
/// of `devices` reporting devices.
pub fn expected(
    item: &ItemMechanism,
    mechanism: &Mechanism,
    devices: u64,
    rate: f64,
) -> (f64, f64) {
    #[allow(clippy::cast_precision_loss, reason = "device and item counts are far below 2^53")]
    let (big_n, items) = (devices as f64, mechanism.items().len() as f64);
    let pi = f64::from(mechanism.per_report()) / items;
    let n = big_n * pi;
    let lam = item.q() + rate * (item.p() - item.q());
    let std = big_n * crate::float::sqrt(rate_variance(lam, item.p(), item.q(), pi) / n)
        / (item.p() - item.q());
    (std, Z95 * std)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_without_sampling_matches_the_textbook_interval() {
        // p = 1, q = 0 makes the estimator the identity: the interval is plain Wilson on y/n.
        let e = estimate(1.0, 0.0, 20, 100, 1_000_000_000);
        let (lam, n, z) = (0.2f64, 100f64, Z95);
        let centre = (lam + z * z / (2.0 * n)) / (1.0 + z * z / n);
        let half = z / (1.0 + z * z / n)
            * crate::float::sqrt(lam * (1.0 - lam) / n + z * z / (4.0 * n * n));
        let scale = 1e9;
        assert!((e.ci_low / scale - (centre - half)).abs() < 1e-6, "{e:?}");
        assert!((e.ci_high / scale - (centre + half)).abs() < 1e-6, "{e:?}");
        assert!((e.estimate / scale - 0.2).abs() < 1e-12);
    }

    #[test]
    fn a_census_without_noise_is_exact() {
        // Every device reports (π = 1) with no noise: the interval collapses to the count.
        let e = estimate(1.0, 0.0, 37, 100, 100);
        assert!((e.ci_low - 37.0).abs() < 1e-9 && (e.ci_high - 37.0).abs() < 1e-9, "{e:?}");
        assert_eq!(e.std, 0.0);
    }

    #[test]
    fn estimates_are_clamped_but_raw_values_are_kept() {
        let e = estimate(0.75, 0.25, 10, 100, 1000);
        assert!(e.estimate < 0.0 && e.clamped == 0.0 && e.ci_low == 0.0);
    }
}
