//! Exact coins and the sources of randomness (docs/privacy.md, "Exact coins").
//!
//! Every probability a mechanism uses is a dyadic rational `a / 2^64` ([`Coin`]), rounded in the
//! direction that can only lower ε, and a Bernoulli draw is `u64 < a` — no floating-point
//! comparison decides an output. Uniform choices use rejection sampling, so they are exactly
//! uniform. Mechanisms draw through the [`Randomness`] trait, which has three implementations:
//! [`DeviceRandomness`] (CSPRNG for fresh noise, HMAC-SHA256 of the device secret for memoised
//! answers), [`SimRandomness`] (a fast seeded generator for simulations and statistical tests
//! only) and, in `tests/suite/privacy_exact.rs`, an enumerator that walks every outcome with its exact
//! probability to prove the privacy bound of the real code.

use hmac::{Hmac, Mac};
use rand_core::{CryptoRng, RngCore};
use sha2::Sha256;

/// A probability `a / 2^64`; invariant: below 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Coin(u64);

/// 2^64 as a float.
const TWO64: f64 = 18_446_744_073_709_551_616.0;

/// Relative safety margin against the rounding error of `exp` and friends: a target probability
/// is first moved this far in the safe direction, then rounded to a dyadic in that direction.
/// It leaves room (≥ 1e-9 in ε) for reported ε to be rounded up without passing the target.
const MARGIN: f64 = 1e-9;

impl Coin {
    /// The coin that never lands.
    pub const NEVER: Coin = Coin(0);
    /// A fair coin.
    pub const HALF: Coin = Coin(1 << 63);

    /// The largest dyadic `a / 2^64` at or below `p` (less a relative margin); `p` is clamped to
    /// `[0, 1)`.
    pub fn at_most(p: f64) -> Coin {
        let p = if p.is_nan() { 0.0 } else { p * (1.0 - MARGIN) };
        let x = crate::float::floor(p.clamp(0.0, 1.0) * TWO64);
        // x < 2^64 after the margin, and `as` saturates; the cast is exact for integers in range.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "clamped above")]
        Coin(x as u64)
    }

    /// The smallest dyadic `a / 2^64` at or above `p` (plus a relative margin); `p` is clamped to
    /// `[0, 1)`.
    pub fn at_least(p: f64) -> Coin {
        let p = if p.is_nan() { 0.0 } else { p * (1.0 + MARGIN) };
        let x = crate::float::ceil(p.clamp(0.0, 1.0) * TWO64);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "clamped above")]
        Coin(x as u64)
    }

    /// A coin from its numerator `a`.
    pub const fn from_numerator(a: u64) -> Coin {
        Coin(a)
    }

    /// The numerator `a` of `a / 2^64`.
    pub const fn numerator(self) -> u64 {
        self.0
    }

    /// The probability as a float (for estimators and reports, never for drawing).
    #[allow(
        clippy::cast_precision_loss,
        reason = "a probability for estimators: the nearest double is what they use"
    )]
    pub fn prob(self) -> f64 {
        self.0 as f64 / TWO64
    }
}

/// Names one memoised draw: the campaign item, the true value it answers for, and which draw of
/// that answer (an answer can take several coins).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MemoKey {
    /// Item index in the campaign (segments, then groups); `u16::MAX` for the sampled set.
    pub item: u16,
    /// The true value the memoised answer is for.
    pub value: u16,
    /// Which draw of that answer.
    pub draw: u16,
}

/// Where mechanisms get their randomness.
///
/// "Fresh" draws are new on every call. "Memo" draws are a fixed function of the key for a given
/// device and campaign: the same key always gives the same answer (docs/privacy.md, section 2).
pub trait Randomness {
    /// True with probability `c`.
    fn coin(&mut self, c: Coin) -> bool;
    /// A uniform integer in `0..n` (`n >= 1`).
    fn below(&mut self, n: u64) -> u64;
    /// Memoised: true with probability `c`, the same for the same key.
    fn memo_coin(&mut self, key: MemoKey, c: Coin) -> bool;
    /// Memoised: a uniform integer in `0..n`, the same for the same key and `n`.
    fn memo_below(&mut self, key: MemoKey, n: u64) -> u64;
    /// Fresh random bytes (report nonces).
    fn fill(&mut self, out: &mut [u8]);
}

/// An exactly uniform integer in `0..n` from uniform `u64`s: Lemire's multiply-shift with
/// rejection ("Fast Random Integer Generation in an Interval", ACM TOMACS 2019). It divides only
/// when a draw lands in the small biased zone, and rejects exactly the draws that would bias.
fn uniform_below(n: u64, mut next: impl FnMut(u32) -> u64) -> u64 {
    if n <= 1 {
        return 0;
    }
    let mut attempt = 0u32;
    let mut m = u128::from(next(attempt)) * u128::from(n);
    #[allow(clippy::cast_possible_truncation, reason = "the low 64 bits, by design")]
    let mut low = m as u64;
    if low < n {
        let threshold = n.wrapping_neg() % n; // 2^64 mod n
        while low < threshold {
            attempt += 1;
            m = u128::from(next(attempt)) * u128::from(n);
            #[allow(clippy::cast_possible_truncation, reason = "the low 64 bits, by design")]
            let l = m as u64;
            low = l;
        }
    }
    #[allow(clippy::cast_possible_truncation, reason = "m < n * 2^64, so m >> 64 < n")]
    let v = (m >> 64) as u64;
    v
}

/// The device's pseudo-random function: HMAC-SHA256 keyed with a key derived from the device
/// secret and the campaign's `config_id`.
#[derive(Clone)]
pub struct Prf {
    mac: Hmac<Sha256>,
}

impl core::fmt::Debug for Prf {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Prf(<secret>)")
    }
}

impl Prf {
    /// The PRF of `secret` for campaign `config_id`.
    pub fn new(secret: &[u8; 32], config_id: &str) -> Prf {
        // HMAC accepts keys of any length, so this cannot fail; the fallback is unreachable.
        let derive = |key: &[u8], msg: &[u8]| -> [u8; 32] {
            let mut mac =
                <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable_mac());
            mac.update(msg);
            mac.finalize().into_bytes().into()
        };
        let mut msg = b"dpseg-memo-v1\0".to_vec();
        msg.extend_from_slice(config_id.as_bytes());
        let key = derive(secret, &msg);
        Prf {
            mac: <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap_or_else(|_| unreachable_mac()),
        }
    }

    /// The PRF of `secret` for permanent answers, keyed per item identity rather than per
    /// campaign version (see [`Prf::answer_u64`]).
    pub fn answers(secret: &[u8; 32]) -> Prf {
        Prf::new(secret, "\0answers")
    }

    /// A pseudo-random `u64` for the permanent answer of identity `id` (the item's
    /// [`Head::memo_ids`](crate::campaign::Head::memo_ids) entry) to true value `value`, draw
    /// `draw`, attempt `attempt`: the same on a device for every campaign version whose item has
    /// that identity.
    pub fn answer_u64(&self, id: &[u8; 16], value: u16, draw: u16, attempt: u32) -> u64 {
        let mut mac = self.mac.clone();
        mac.update(id);
        mac.update(&value.to_be_bytes());
        mac.update(&draw.to_be_bytes());
        mac.update(&attempt.to_be_bytes());
        let out = mac.finalize().into_bytes();
        let mut b = [0u8; 8];
        b.copy_from_slice(&out[..8]);
        u64::from_be_bytes(b)
    }

    /// A pseudo-random `u64` for `key` and `attempt`.
    pub fn u64(&self, key: MemoKey, attempt: u32) -> u64 {
        let mut mac = self.mac.clone();
        mac.update(&key.item.to_be_bytes());
        mac.update(&key.value.to_be_bytes());
        mac.update(&key.draw.to_be_bytes());
        mac.update(&attempt.to_be_bytes());
        let out = mac.finalize().into_bytes();
        let mut b = [0u8; 8];
        b.copy_from_slice(&out[..8]);
        u64::from_be_bytes(b)
    }
}

#[cold]
fn unreachable_mac() -> Hmac<Sha256> {
    // HMAC-SHA256 takes keys of every length; `new_from_slice` cannot fail.
    <Hmac<Sha256> as Mac>::new(&Default::default())
}

/// Randomness on a device: fresh draws from a CSPRNG (the OS natively, `crypto.getRandomValues`
/// in the browser), memoised draws from the device's [`Prf`]s: the sampled set from the
/// campaign version's, permanent answers from the answers PRF under each item's identity.
pub struct DeviceRandomness<'a, R: RngCore + CryptoRng> {
    rng: &'a mut R,
    prf: &'a Prf,
    answers: &'a Prf,
    ids: &'a [[u8; 16]],
}

impl<'a, R: RngCore + CryptoRng> DeviceRandomness<'a, R> {
    /// Draws fresh noise from `rng`, the sampled set from `prf` (the campaign version's) and
    /// permanent answers from `answers` ([`Prf::answers`]) under `ids`, one identity per item.
    pub fn new(rng: &'a mut R, prf: &'a Prf, answers: &'a Prf, ids: &'a [[u8; 16]]) -> Self {
        DeviceRandomness { rng, prf, answers, ids }
    }

    /// Every memoised draw from the version's `prf`: for one-off devices (simulations, the
    /// CLI's `privatize`), whose answers are never reused across versions.
    pub fn one_version(rng: &'a mut R, prf: &'a Prf) -> Self {
        DeviceRandomness { rng, prf, answers: prf, ids: &[] }
    }

    fn memo_u64(&self, key: MemoKey, attempt: u32) -> u64 {
        // The sampled set (item u16::MAX) belongs to the version; an item without an identity
        // (a mechanism built by hand) falls back to the version's PRF too.
        match self.ids.get(usize::from(key.item)) {
            Some(id) if key.item != u16::MAX => {
                self.answers.answer_u64(id, key.value, key.draw, attempt)
            }
            _ => self.prf.u64(key, attempt),
        }
    }
}

impl<R: RngCore + CryptoRng> Randomness for DeviceRandomness<'_, R> {
    fn coin(&mut self, c: Coin) -> bool {
        self.rng.next_u64() < c.0
    }
    fn below(&mut self, n: u64) -> u64 {
        uniform_below(n, |_| self.rng.next_u64())
    }
    fn memo_coin(&mut self, key: MemoKey, c: Coin) -> bool {
        self.memo_u64(key, 0) < c.0
    }
    fn memo_below(&mut self, key: MemoKey, n: u64) -> u64 {
        uniform_below(n, |attempt| self.memo_u64(key, attempt.wrapping_add(1)))
    }
    fn fill(&mut self, out: &mut [u8]) {
        self.rng.fill_bytes(out);
    }
}

/// splitmix64's finaliser: a fast, well-mixed (not cryptographic) 64-bit permutation.
#[inline]
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Fast seeded randomness for simulations and statistical tests. **Not for devices**: it is
/// predictable from its seed. Fresh draws come from a splitmix64 stream; memoised draws hash
/// the device seed with the key.
#[derive(Debug, Clone)]
pub struct SimRandomness {
    state: u64,
    device: u64,
}

impl SimRandomness {
    /// A generator with stream `seed`, memoising for device seed `device`.
    pub fn new(seed: u64, device: u64) -> Self {
        SimRandomness { state: mix64(seed ^ 0x6a09_e667_f3bc_c908), device: mix64(device) }
    }

    /// Switches to another simulated device, keeping the fresh stream.
    pub fn set_device(&mut self, device: u64) {
        self.device = mix64(device);
    }

    /// The next fresh `u64`.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix64(self.state)
    }

    #[inline]
    fn memo_u64(&self, key: MemoKey, attempt: u32) -> u64 {
        let k = (u64::from(key.item) << 48)
            | (u64::from(key.value) << 32)
            | (u64::from(key.draw) << 16);
        mix64(self.device ^ mix64(k ^ u64::from(attempt)))
    }
}

impl Randomness for SimRandomness {
    #[inline]
    fn coin(&mut self, c: Coin) -> bool {
        self.next_u64() < c.0
    }
    fn below(&mut self, n: u64) -> u64 {
        uniform_below(n, |_| self.next_u64())
    }
    #[inline]
    fn memo_coin(&mut self, key: MemoKey, c: Coin) -> bool {
        self.memo_u64(key, 0) < c.0
    }
    fn memo_below(&mut self, key: MemoKey, n: u64) -> u64 {
        uniform_below(n, |attempt| self.memo_u64(key, attempt.wrapping_add(1)))
    }
    fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let x = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&x[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prelude::*;

    #[test]
    fn coins_round_in_the_safe_direction() {
        for p in [0.1, 0.5, 0.731_058_578_630_004_9, 0.999] {
            let lo = Coin::at_most(p).prob();
            let hi = Coin::at_least(p).prob();
            assert!(lo <= p && p <= hi && hi - lo < 3e-9 * p, "{p}: {lo} {hi}");
        }
        assert_eq!(Coin::at_most(0.0), Coin::NEVER);
        assert!(Coin::at_most(1.0).prob() < 1.0);
        assert_eq!(Coin::HALF.prob(), 0.5);
    }

    #[test]
    fn uniform_below_is_exactly_uniform_on_a_small_word() {
        // The same algorithm on 8-bit words: every residue must get the same number of the 256
        // inputs that are accepted, and exactly 256 mod n inputs must be rejected.
        for n in 1u16..=256 {
            let mut counts = vec![0u32; usize::from(n)];
            let mut rejected = 0;
            for x in 0u16..256 {
                let m = x * n;
                if (m & 0xff) < (256 - n) % n {
                    rejected += 1;
                } else {
                    counts[usize::from(m >> 8)] += 1;
                }
            }
            assert_eq!(rejected, 256 % n, "n = {n}");
            assert!(counts.iter().all(|&c| c == counts[0]), "n = {n}: {counts:?}");
        }
        // On 64 bits: the value is the high word of x·n; the draw with low word below
        // 2^64 mod n is rejected.
        assert_eq!(uniform_below(3, |_| u64::MAX), 2);
        let mut draws = vec![0u64, 1 << 62].into_iter();
        assert_eq!(uniform_below(3, |_| draws.next().unwrap_or(0)), 0);
        assert_eq!(uniform_below(1, |_| 99), 0);
    }

    #[test]
    fn prf_is_a_function_of_secret_campaign_and_key() {
        let k = MemoKey { item: 1, value: 0, draw: 0 };
        let a = Prf::new(&[1; 32], "cfg");
        assert_eq!(a.u64(k, 0), Prf::new(&[1; 32], "cfg").u64(k, 0));
        assert_ne!(a.u64(k, 0), Prf::new(&[2; 32], "cfg").u64(k, 0));
        assert_ne!(a.u64(k, 0), Prf::new(&[1; 32], "cfg2").u64(k, 0));
        assert_ne!(a.u64(k, 0), a.u64(MemoKey { value: 1, ..k }, 0));
        assert_ne!(a.u64(k, 0), a.u64(k, 1));
        assert_eq!(format!("{a:?}"), "Prf(<secret>)");
    }
}
