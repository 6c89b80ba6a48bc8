//! Simulation of a device population (`dpseg simulate`) and the planner (`dpseg plan`).
//!
//! Devices are drawn independently: device `i` is in segment `j` when a hash of (seed, i, j)
//! falls below the segment's rate, and in a group's case by the same hash against the cases'
//! cumulative distribution. Memberships are therefore fixed across epochs and computed only when
//! needed. Every device reports once per epoch through the same [`Mechanism::privatize_with`]
//! code a real device runs, with [`SimRandomness`] (seeded, fast, not for devices) standing in
//! for the CSPRNG and the device PRF; each device keeps its memoised answers across epochs.

use crate::prelude::*;

use crate::estimate::Tally;
use crate::privacy::coin::{mix64, Coin, SimRandomness};
use crate::privacy::mechanism::{Mechanism, Slot};

/// Membership rates: per segment the fraction of members, per group the fraction of each case
/// (the rest is "none").
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Truth {
    /// Per segment.
    pub segments: Vec<f64>,
    /// Per group, per case.
    pub groups: Vec<Vec<f64>>,
}

/// One simulated epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochResult {
    /// Epoch number, from 0.
    pub epoch: u32,
    /// The reports' counters.
    pub tally: Tally,
}

/// A simulated population.
#[derive(Debug, Clone)]
pub struct Population {
    /// Per item, cumulative thresholds (as coins) of values `0..domain-1`; a device's hash below
    /// `thresholds[k]` and not below `thresholds[k-1]` has value `k`; above all, the last value.
    thresholds: Vec<Vec<u64>>,
    /// Per device, every item's value, when the population was given as devices
    /// ([`Population::from_values`]) rather than rates.
    values: Option<Vec<Vec<u16>>>,
    seed: u64,
    devices: u64,
}

impl Population {
    /// `devices` devices with memberships drawn from `truth` under `seed`.
    pub fn new(mechanism: &Mechanism, truth: &Truth, devices: u64, seed: u64) -> Population {
        let segs = usize::from(mechanism.segments());
        let thresholds = mechanism
            .items()
            .iter()
            .enumerate()
            .map(|(i, _)| {
                if i < segs {
                    // Value 1 (member) below the rate: thresholds for value 0 are "never".
                    vec![Coin::at_most(truth.segments.get(i).copied().unwrap_or(0.0)).numerator()]
                } else {
                    let mut cum = 0.0;
                    truth.groups.get(i - segs).map_or(Vec::new(), |cases| {
                        cases
                            .iter()
                            .map(|r| {
                                cum += r;
                                Coin::at_most(cum).numerator()
                            })
                            .collect()
                    })
                }
            })
            .collect();
        Population { thresholds, values: None, seed: mix64(seed ^ 0x7275_7468), devices }
    }

    /// The devices whose item values (per device, one per item: what
    /// [`Membership::item_values`](crate::campaign::Membership::item_values) gives for the
    /// device's profile) are `values`: a population of real profiles, whose segments nest as
    /// their rules say.
    pub fn from_values(values: Vec<Vec<u16>>) -> Population {
        let devices = u64::try_from(values.len()).unwrap_or(u64::MAX);
        Population { thresholds: Vec::new(), values: Some(values), seed: 0, devices }
    }

    /// Number of devices.
    pub fn devices(&self) -> u64 {
        self.devices
    }

    /// The true value of item `item` for device `device`.
    #[inline]
    pub fn value(&self, device: u64, item: u16, segments: u16) -> u16 {
        if let Some(values) = &self.values {
            let d = usize::try_from(device).unwrap_or(usize::MAX);
            return values.get(d).and_then(|v| v.get(usize::from(item))).copied().unwrap_or(0);
        }
        let u = mix64(self.seed ^ mix64(device.wrapping_mul(0x1_0000) ^ u64::from(item)));
        let t = &self.thresholds[usize::from(item)];
        if item < segments {
            return u16::from(t.first().is_some_and(|&r| u < r));
        }
        let k = t.iter().position(|&r| u < r).unwrap_or(t.len());
        #[allow(clippy::cast_possible_truncation, reason = "k <= cases < u16::MAX")]
        let k = k as u16;
        k
    }

    /// Exact counts of every value of every item (`[item][value]`).
    pub fn true_counts(&self, mechanism: &Mechanism) -> Vec<Vec<u64>> {
        let segs = mechanism.segments();
        let mut counts: Vec<Vec<u64>> =
            mechanism.items().iter().map(|i| vec![0; usize::from(i.domain())]).collect();
        for d in 0..self.devices {
            for (i, c) in counts.iter_mut().enumerate() {
                #[allow(clippy::cast_possible_truncation, reason = "items < u16::MAX")]
                let v = self.value(d, i as u16, segs);
                if let Some(slot) = c.get_mut(usize::from(v)) {
                    *slot += 1;
                }
            }
        }
        counts
    }

    /// Every device reports once in each of `epochs` epochs; returns each epoch's tally.
    pub fn run(&self, mechanism: &Mechanism, epochs: u32, seed: u64) -> Vec<EpochResult> {
        let segs = mechanism.segments();
        let mut rng = SimRandomness::new(seed, 0);
        // Device secrets differ between runs and stay the same across the epochs of a run.
        let secrets = mix64(seed ^ 0x005e_c2e7);
        let mut slots = vec![Slot { item: 0, out: 0 }; usize::from(mechanism.per_report())];
        (0..epochs)
            .map(|epoch| {
                let mut tally = Tally::new(mechanism);
                for d in 0..self.devices {
                    rng.set_device(secrets ^ d);
                    mechanism.privatize_with(
                        |item| self.value(d, item, segs),
                        &mut rng,
                        &mut slots,
                    );
                    tally.add(mechanism, &slots);
                }
                EpochResult { epoch, tally }
            })
            .collect()
    }
}
