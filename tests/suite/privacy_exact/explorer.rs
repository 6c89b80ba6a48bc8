//! The explorer: every outcome of a randomised computation with its exact probability, and
//! the report payloads and inputs it enumerates.

use super::*;

pub(super) fn two64() -> BigInt {
    BigInt::one() << 64
}

pub(super) fn dyadic(c: Coin) -> BigRational {
    BigRational::new(BigInt::from(c.numerator()), two64())
}

/// Walks every outcome of a randomised computation with its exact probability.
#[derive(Default)]
pub(super) struct Explorer {
    script: Vec<usize>,
    branches: Vec<usize>,
    pos: usize,
    prob: Option<BigRational>,
    memo_bool: HashMap<MemoKey, bool>,
    memo_int: HashMap<(MemoKey, u64), u64>,
}

impl Explorer {
    fn choose(&mut self, n: usize) -> usize {
        if self.pos == self.script.len() {
            self.script.push(0);
        }
        self.branches.truncate(self.pos);
        self.branches.push(n);
        let k = self.script[self.pos];
        self.pos += 1;
        k
    }

    fn scale(&mut self, f: BigRational) {
        // Unreduced products: one reduction per path (in `enumerate`) instead of one per draw.
        let p = self.prob.take().unwrap_or_else(BigRational::one);
        self.prob = Some(BigRational::new_raw(p.numer() * f.numer(), p.denom() * f.denom()));
    }

    /// Runs `f` once per outcome path; returns the distribution of its results.
    pub(super) fn enumerate<T: std::hash::Hash + Eq>(
        mut f: impl FnMut(&mut Explorer) -> T,
    ) -> HashMap<T, BigRational> {
        let mut e = Explorer::default();
        let mut dist: HashMap<T, BigRational> = HashMap::new();
        loop {
            e.pos = 0;
            e.prob = Some(BigRational::one());
            e.memo_bool.clear();
            e.memo_int.clear();
            let out = f(&mut e);
            e.script.truncate(e.pos);
            let p = e.prob.take().map(|p| p.reduced()).unwrap_or_else(BigRational::zero);
            if !p.is_zero() {
                *dist.entry(out).or_insert_with(BigRational::zero) += p;
            }
            // Next path: advance the deepest choice that has options left.
            let Some(i) = (0..e.script.len()).rev().find(|&i| e.script[i] + 1 < e.branches[i])
            else {
                break;
            };
            e.script[i] += 1;
            e.script.truncate(i + 1);
        }
        let total: BigRational = dist.values().cloned().sum();
        assert_eq!(total, BigRational::one(), "the explorer lost probability");
        dist
    }
}

impl Randomness for Explorer {
    fn coin(&mut self, c: Coin) -> bool {
        let land = self.choose(2) == 0;
        let p = dyadic(c);
        self.scale(if land { p } else { BigRational::one() - p });
        land
    }

    fn below(&mut self, n: u64) -> u64 {
        if n <= 1 {
            return 0;
        }
        if n > 4096 {
            let k = self.choose(OLH_SEEDS.len());
            self.scale(BigRational::new(BigInt::one(), BigInt::from(OLH_SEEDS.len())));
            return OLH_SEEDS[k] % n;
        }
        let k = self.choose(usize::try_from(n).unwrap());
        self.scale(BigRational::new(BigInt::one(), BigInt::from(n)));
        k as u64
    }

    fn memo_coin(&mut self, key: MemoKey, c: Coin) -> bool {
        if let Some(&v) = self.memo_bool.get(&key) {
            return v;
        }
        let v = self.coin(c);
        self.memo_bool.insert(key, v);
        v
    }

    fn memo_below(&mut self, key: MemoKey, n: u64) -> u64 {
        if let Some(&v) = self.memo_int.get(&(key, n)) {
            return v;
        }
        let v = self.below(n);
        self.memo_int.insert((key, n), v);
        v
    }

    fn fill(&mut self, out: &mut [u8]) {
        out.fill(0); // nonces do not depend on the input
    }
}

/// The payloads of `reports` consecutive reports of one device with true values `truth`.
pub(super) fn reports(
    mech: &Mechanism,
    truth: &[u16],
    count: usize,
    e: &mut Explorer,
) -> Vec<String> {
    let mut slots = vec![Slot { item: 0, out: 0 }; usize::from(mech.per_report())];
    (0..count)
        .map(|_| {
            mech.privatize(truth, e, &mut slots);
            encode("c", "cfg", 0, mech, &slots, e).payload
        })
        .collect()
}

/// Every input: all combinations of item values.
pub(super) fn inputs(mech: &Mechanism) -> Vec<Vec<u16>> {
    let mut all = vec![vec![]];
    for item in mech.items() {
        all = all
            .into_iter()
            .flat_map(|prefix| (0..item.domain()).map(move |v| [prefix.clone(), vec![v]].concat()))
            .collect();
    }
    all
}
